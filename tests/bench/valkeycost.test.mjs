// tests/bench/valkeycost.mjs against a real redis-server and a stand-in for
// axon: each request runs one EVAL whose script calls SET five times (the
// shape of axon's scripts), plus one GET sent on its own. What the bench's
// Valkey rows rely on: the script's commands are counted once (inside its
// EVAL), the commands sent are told from the ones scripts ran, the bench's
// own CONFIG/SLOWLOG/INFO are left out, the warm-up is not counted, the
// round trips come from the header, and the slowlog settings are put back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../integration/lib.mjs';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'valkeycost.mjs');
let dir, redis, port, server, url, valkey;
const seen = [];

// One RESP command on a connection of our own; resolves with the raw reply.
const send = (...args) => new Promise((resolve) => {
  const parts = [`*${args.length}\r\n`, ...args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`)];
  valkey.once('data', (d) => resolve(d.toString()));
  valkey.write(parts.join(''));
});

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'axon-valkeycost-'));
  port = await freePort();
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--logfile', path.join(dir, 'redis.log')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try { execFileSync('redis-cli', ['-p', String(port), 'ping'], { stdio: 'ignore' }); break; } catch { await new Promise((r) => setTimeout(r, 50)); }
  }
  valkey = net.createConnection(port, '127.0.0.1');
  await new Promise((r) => valkey.on('connect', r));
  let n = 0, chain = Promise.resolve();
  server = http.createServer((req, res) => {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', async () => {
      seen.push({ path: req.url, body: JSON.parse(Buffer.concat(parts).toString()) });
      // One request's commands at a time on the one connection.
      chain = chain.then(async () => {
        await send('EVAL', "for i = 1, 5 do redis.call('SET', KEYS[1], i) end return 1", '1', `k${n}`);
        await send('GET', `k${n}`);
        n += 1;
      });
      await chain;
      res.writeHead(200, { 'content-type': 'application/json', 'x-axon-valkey-round-trips': '2' });
      res.end(JSON.stringify({ conversation_id: `conv-${String(n).padStart(32, '0')}` }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${server.address().port}`;
});

after(() => {
  server?.close();
  valkey?.destroy();
  redis?.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
});

const run = async (...args) => {
  const { stdout } = await promisify(execFile)('node', [script, '--url', url, '--key', 'k', '--redis-port', String(port), ...args]);
  return JSON.parse(stdout);
};

test('new: each request\'s EVAL and GET are what it sent, the five SETs are the script\'s, counted once', async () => {
  seen.length = 0;
  const r = await run('--kind', 'new', '--n', '10', '--warm', '3', '--label', 'lighttpd');
  assert.equal(seen.length, 13);
  assert.deepEqual({ kind: r.kind, path: r.path, what: r.what, n: r.n, ok: r.ok, conc: r.conc, rt: r.rt, rt_max: r.rt_max },
    { kind: 'valkey_cost', path: 'lighttpd', what: 'new', n: 10, ok: 10, conc: 1, rt: 2, rt_max: 2 });
  assert.equal(r.calls, 2);
  assert.equal(r.nested, 5);
  // INFO commandstats counts the SETs twice (in EVAL's usec and their own).
  assert.deepEqual(r.commands, { eval: 10, get: 10, set: 50 });
  assert.ok(r.usec > 0 && r.usec < r.usec_all, `usec ${r.usec} must leave out the SETs of usec_all ${r.usec_all}`);
  assert.ok(r.cpu_us > 0);
  // The slowlog is as it was.
  assert.match(execFileSync('redis-cli', ['-p', String(port), 'config', 'get', 'slowlog-log-slower-than'], { encoding: 'utf8' }), /^10000$/m);
});

test('continued: conversations made first, then each continued once with its id', async () => {
  seen.length = 0;
  const r = await run('--kind', 'continued', '--n', '4', '--warm', '1');
  assert.equal(r.ok, 4);
  assert.equal(r.calls, 2);
  assert.equal(seen.length, 10);
  const continued = seen.slice(5);
  assert.ok(continued.every((s) => s.path === '/v1/chat/completions' && /^conv-\d{32}$/.test(s.body.conversation_id)));
  assert.equal(new Set(continued.map((s) => s.body.conversation_id)).size, 5);
  assert.ok(seen.slice(0, 5).every((s) => s.body.conversation_id === undefined));
});

test('resp-unstored: POST /v1/responses with "store": false', async () => {
  seen.length = 0;
  const r = await run('--kind', 'resp-unstored', '--n', '2', '--warm', '0', '--conc', '2');
  assert.equal(r.ok, 2);
  assert.deepEqual(seen.map((s) => [s.path, s.body.store]), [['/v1/responses', false], ['/v1/responses', false]]);
});
