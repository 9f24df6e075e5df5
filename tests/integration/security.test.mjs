// The security pass: who can reach axon's FastCGI socket, what a crash could
// leave on disk, ids that cannot name another key, and the bounds a client
// can cross (header size, a conversation's message count) through the real
// web servers. Tenancy across keys is in conversations.test.mjs; secrets in
// logs, /stats and /metrics are scanned by run.sh after the whole suite.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  SERVER_NAMES, AXON_BIN, KEY, stackUrl, originOf, cleanEnv, scratchDir, freePort, startStack, stopStack,
  call, assertEnvelope, waitFor, sleep, TEST_VALKEY_TIMEOUT_MS,
} from './lib.mjs';
import { redis } from './redis.mjs';

const VALKEY = process.env.AXON_VALKEY_URL;
const upstreamEnv = () => ({
  AXON_VALKEY_URL: VALKEY, AXON_VALKEY_TIMEOUT_MS: String(TEST_VALKEY_TIMEOUT_MS),
  ANTHROPIC_API_KEY: process.env.ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL: process.env.ANTHROPIC_BASE_URL,
});

// A standalone axon (--listen) with a shell umask and extra environment.
function standalone(listen, env = {}, umask = '000') {
  const child = spawn('sh', ['-c', `umask ${umask}; exec "$0" --listen "$1"`, AXON_BIN, listen], {
    env: cleanEnv({ AXON_API_KEYS: KEY, AXON_THREADS: '2', AXON_LOG_LEVEL: 'info', ...upstreamEnv(), ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, exited };
}

async function stop(proc) {
  if (proc.child.exitCode !== null) return;
  proc.child.kill('SIGTERM');
  const t = setTimeout(() => proc.child.kill('SIGKILL'), 15000);
  await proc.exited;
  clearTimeout(t);
}

// GET /health over FastCGI with libfcgi's own client: the answer, or '' when
// the connection was refused or closed without one.
function fcgiHealth(connect) {
  const r = spawnSync('cgi-fcgi', ['-bind', '-connect', connect], {
    encoding: 'utf8', timeout: 5000,
    env: { REQUEST_METHOD: 'GET', REQUEST_URI: '/health', SERVER_PROTOCOL: 'HTTP/1.1' },
  });
  return r.stdout || '';
}

describe('the FastCGI socket is reachable by the web server only', { timeout: 60000 }, () => {
  it('--listen makes a unix socket 0660 even under umask 000', async () => {
    const sock = path.join(scratchDir('sec-sock'), 'axon.sock');
    const proc = standalone(sock);
    try {
      await waitFor(() => fs.existsSync(sock), 20000, 'the socket');
      assert.equal(fs.statSync(sock).mode & 0o777, 0o660, 'owner and group only: the web server\'s group');
      await waitFor(() => fcgiHealth(sock).includes('{"status":"ok"}'), 20000, 'axon to answer on the socket');
    } finally {
      await stop(proc);
    }
  });

  it('over TCP, FCGI_WEB_SERVER_ADDRS turns away every other peer, and its absence is warned about', async () => {
    const port = await freePort();
    const open = standalone(`127.0.0.1:${port}`);
    try {
      await waitFor(() => fcgiHealth(`127.0.0.1:${port}`).includes('{"status":"ok"}'), 20000, 'axon on TCP');
      assert.match(open.out(), /FCGI_WEB_SERVER_ADDRS/, 'a TCP socket open to every local process is warned about');
    } finally {
      await stop(open);
    }
    const port2 = await freePort();
    const closed = standalone(`127.0.0.1:${port2}`, { FCGI_WEB_SERVER_ADDRS: '127.0.0.2' });
    try {
      await waitFor(() => /ready/.test(closed.out()), 20000, 'axon to start');
      await sleep(200);
      assert.equal(fcgiHealth(`127.0.0.1:${port2}`), '', 'a peer not listed gets no answer');
      assert.doesNotMatch(closed.out(), /FCGI_WEB_SERVER_ADDRS/, 'no warning when the list is set');
    } finally {
      await stop(closed);
    }
  });

  it('axon runs with core files disabled (its memory holds the keys)', async () => {
    const sock = path.join(scratchDir('sec-core'), 'axon.sock');
    const proc = standalone(sock);
    try {
      await waitFor(() => fs.existsSync(sock), 20000, 'the socket');
      const limits = fs.readFileSync(`/proc/${proc.child.pid}/limits`, 'utf8');
      assert.match(limits, /^Max core file size\s+0\s+0\s/m, limits);
    } finally {
      await stop(proc);
    }
  });
});

for (const server of SERVER_NAMES) {
  describe(`bounds and ids through ${server}`, () => {
    const origin = () => originOf(stackUrl(server));

    it('a request header past the web server\'s limit is refused there, and axon carries on', async () => {
      const huge = `Bearer sk-${'x'.repeat(64 * 1024)}`;
      const res = await fetch(`${origin()}/v1/models`, { headers: { authorization: huge }, signal: AbortSignal.timeout(10000) });
      assert.ok([400, 413, 431].includes(res.status), `the server refuses a 64 KiB header: ${res.status}`);
      // A long key that does fit reaches axon: 401, and only its ends are shown.
      const long = `sk-${'y'.repeat(4000)}-tail`;
      const r = await call(origin(), '/v1/models', { auth: `Bearer ${long}` });
      assertEnvelope(r, 401, { code: 'invalid_api_key' });
      assert.ok(!r.text.includes('yyyyyyyy'), 'a wrong key is not echoed back');
      const ok = await call(origin(), '/v1/models', { key: KEY });
      assert.equal(ok.status, 200);
    });

    it('a conversation id is checked before it can name a key: no look-alike reaches Valkey', async () => {
      const before = await redis(VALKEY, 'DBSIZE');
      for (const bad of ['conv-../../x', 'conv-{c:evil}', `conv-${'A'.repeat(32)}`, 'conv-1', `conv-${'0'.repeat(33)}`, 'axon:{g}:active']) {
        const r = await call(origin(), '/v1/chat/completions', {
          method: 'POST', key: KEY, headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o', conversation_id: bad, messages: [{ role: 'user', content: 'hi' }] }),
        });
        assertEnvelope(r, 400, { type: 'invalid_request_error', code: 'invalid_conversation_id' });
        const g = await call(origin(), `/v1/conversations/${encodeURIComponent(bad)}`, { key: KEY });
        assert.ok([400, 404].includes(g.status), `GET ${bad}: ${g.status}`);
      }
      const evil = await redis(VALKEY, 'KEYS', '*evil*');
      assert.deepEqual(evil, [], 'no key named after a rejected id');
      const after = await redis(VALKEY, 'DBSIZE');
      assert.ok(after - before < 50, 'the rejected requests wrote nothing of their own');
    });

    it('conversation and request ids are 128 random bits, never repeated', async () => {
      const convs = new Set(), reqs = new Set();
      for (let i = 0; i < 20; i++) {
        const r = await call(origin(), '/v1/chat/completions', {
          method: 'POST', key: KEY, headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `id ${i}` }] }),
        });
        assert.equal(r.status, 200, r.text);
        assert.match(r.json.conversation_id, /^conv-[0-9a-f]{32}$/);
        assert.match(r.id, /^req_[0-9a-f]{32}$/);
        convs.add(r.json.conversation_id);
        reqs.add(r.id);
      }
      assert.equal(convs.size, 20);
      assert.equal(reqs.size, 20);
    });
  });
}

// AXON_CONV_MAX_MESSAGES: the turn that would pass it is refused whole.
describe('a conversation\'s message count is capped', { timeout: 60000 }, () => {
  let stack;
  after(async () => { if (stack) await stopStack(stack); });

  it('the turn past AXON_CONV_MAX_MESSAGES is 400 conversation_full and stores nothing', async () => {
    const dir = scratchDir('sec-full');
    stack = await startStack({
      env: cleanEnv({
        ...upstreamEnv(), AXON_BIN, AXON_SERVER: 'nginx', AXON_PORT: String(await freePort()),
        AXON_API_KEYS: KEY, AXON_CONV_MAX_MESSAGES: '4', STACK_DIR: dir,
      }),
      readyFile: () => fs.existsSync(path.join(dir, 'ready')) && path.join(dir, 'ready'),
    });
    const origin = originOf(stack.ready.AXON_URL);
    const turn = (cid, text) => call(origin, '/v1/chat/completions', {
      method: 'POST', key: KEY, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', ...(cid ? { conversation_id: cid } : {}), messages: [{ role: 'user', content: text }] }),
    });
    const first = await turn(null, 'one');
    assert.equal(first.status, 200, first.text);
    const cid = first.json.conversation_id;
    const second = await turn(cid, 'two');
    assert.equal(second.status, 200, second.text);
    const third = await turn(cid, 'three');
    assertEnvelope(third, 400, { code: 'conversation_full' });
    const stored = await call(origin, `/v1/conversations/${cid}`, { key: KEY });
    assert.equal(stored.json.messages.length, 4, 'the refused turn left nothing behind');
  });
});
