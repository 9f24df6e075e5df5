// Issue 21 item 1: the pool's bound holds for a fleet whose processes keep
// their sessions between requests (AXON_POOL_KEEP_MS, docs/pool.md). Per
// web server, two stacks (two "hosts": each its own web server and axon
// process or processes) share one redis-server of their own and one
// upstream of this file's that counts the calls open at once:
// - under concurrent load on both, the upstream never sees more calls open
//   than the pool size, and the registry never leases more (sampled);
// - while stack A keeps every session idle (a long AXON_POOL_KEEP_MS), a
//   request on stack B is served within the documented time (A's tick hands
//   its sessions back when it sees B's waiter: a tick plus B's next poll);
// - once A's axon processes are SIGKILLed while they keep every session,
//   B's request is served when the sessions' leases run out (3 s here).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  SERVER_NAMES, KEY, AXON_BIN, call, cleanEnv, scratchDir, freePort,
  startStack, stopStack, sleep, waitFor, originOf, isAlive, TEST_VALKEY_TIMEOUT_MS,
} from './lib.mjs';
import { redis, startRedis, stopRedis } from './redis.mjs';

const SIZE = 3;
const LEASE_S = 3;
const POOL = {
  AXON_POOL_SIZE: String(SIZE), AXON_MAX_TURNS: '1000', AXON_POOL_WAIT_MS: '10000',
  AXON_POOL_LEASE_S: String(LEASE_S), AXON_POOL_KEEP_MS: '60000',
  AXON_VALKEY_TIMEOUT_MS: String(TEST_VALKEY_TIMEOUT_MS),
};
// docs/pool.md: a waiter elsewhere waits at most a tick (50 ms) plus its
// own next poll (25 ms) and their round trips; this 2-core machine runs
// other suites meanwhile, hence the margin.
const SERVED_WITHIN_MS = 1000;

// A Messages API upstream that answers after `delay` ms and counts the
// calls open at once (the mock of tests/mock has no such count).
function countingUpstream() {
  const u = { open: 0, most: 0, calls: 0, delay: 0 };
  u.server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      if (req.method === 'GET' && req.url.startsWith('/v1/models')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ data: [{ type: 'model', id: 'claude-sonnet-4-5', display_name: 'Claude', created_at: '2025-09-29T00:00:00Z' }], has_more: false, first_id: 'claude-sonnet-4-5', last_id: 'claude-sonnet-4-5' }));
        return;
      }
      u.open++;
      u.calls++;
      u.most = Math.max(u.most, u.open);
      let model = 'claude-sonnet-4-5';
      try { model = JSON.parse(body).model ?? model; } catch { /* answered anyway */ }
      setTimeout(() => {
        u.open--;
        res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_fleet${u.calls}` });
        res.end(JSON.stringify({
          id: `msg_fleet${u.calls}`, type: 'message', role: 'assistant', model,
          content: [{ type: 'text', text: 'ok' }], stop_reason: 'end_turn', stop_sequence: null,
          usage: { input_tokens: 3, output_tokens: 1 },
        }));
      }, u.delay);
    });
  });
  return new Promise((resolve) => u.server.listen(0, '127.0.0.1', () => {
    u.url = `http://127.0.0.1:${u.server.address().port}`;
    resolve(u);
  }));
}

async function startFleetStack(server, name, valkeyUrl, upstreamUrl) {
  const dir = scratchDir(`fleet-${name}-${server}`);
  return startStack({
    env: cleanEnv({
      AXON_BIN, AXON_SERVER: server, AXON_PORT: String(await freePort()), AXON_API_KEYS: KEY,
      STACK_DIR: dir, AXON_VALKEY_URL: valkeyUrl, ANTHROPIC_BASE_URL: upstreamUrl,
      ANTHROPIC_API_KEY: 'sk-ant-test-key', ...POOL,
    }),
    readyFile: () => fs.existsSync(path.join(dir, 'ready')) && path.join(dir, 'ready'),
  });
}

const chat = (stack, text) => call(originOf(stack.ready.AXON_URL), '/v1/chat/completions', {
  method: 'POST', key: KEY, headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model: 'gpt-4o', store: false, messages: [{ role: 'user', content: text }] }),
});

async function pool(stack) {
  const r = await call(originOf(stack.ready.AXON_URL), '/stats');
  assert.equal(r.status, 200, r.text);
  return r.json.pool;
}

for (const server of SERVER_NAMES) {
  describe(`a fleet of two stacks on one Valkey behind ${server} (pool of ${SIZE}, sessions kept)`, () => {
    let redisProc; let valkeyUrl; let up; let a; let b;
    const leases = async () => Number(await redis(valkeyUrl, 'ZCARD', 'axon:{p:' + (await poolName()) + '}:leases'));
    let name;
    const poolName = async () => {
      if (!name) {
        const keys = await redis(valkeyUrl, 'KEYS', 'axon:{p:*}:leases');
        assert.equal(keys.length, 1, `one pool: ${keys}`);
        name = keys[0].slice('axon:{p:'.length, -'}:leases'.length);
      }
      return name;
    };
    before(async () => {
      const port = await freePort();
      valkeyUrl = `redis://127.0.0.1:${port}`;
      redisProc = await startRedis(port);
      up = await countingUpstream();
      [a, b] = await Promise.all([startFleetStack(server, 'a', valkeyUrl, up.url),
        startFleetStack(server, 'b', valkeyUrl, up.url)]);
    });
    after(async () => {
      await Promise.all([a && stopStack(a), b && stopStack(b)]);
      if (up) up.server.close();
      if (redisProc) await stopRedis(redisProc);
    });

    it('under load on both stacks, the upstream never sees more than the pool size, nor does the registry lease more', { timeout: 60000 }, async () => {
      up.delay = 20;
      up.most = 0;
      let sampling = true; let zmax = 0; let samples = 0;
      assert.equal((await chat(a, 'first')).status, 200); // the pool exists: its name is known
      const sampler = (async () => {
        while (sampling) {
          zmax = Math.max(zmax, await leases());
          samples++;
          await sleep(2);
        }
      })();
      const statuses = [];
      const worker = async (stack, i) => {
        for (let k = 0; k < 12; k++) statuses.push((await chat(stack, `load ${i}.${k}`)).status);
      };
      const t0 = performance.now();
      await Promise.all([...Array.from({ length: 6 }, (_, i) => worker(a, i)),
        ...Array.from({ length: 6 }, (_, i) => worker(b, 100 + i))]);
      sampling = false;
      await sampler;
      const [pa, pb] = [await pool(a), await pool(b)];
      console.log(`# ${server}: ${statuses.length} requests in ${Math.round(performance.now() - t0)} ms; ` +
        `upstream at most ${up.most} open; registry leases at most ${zmax} (${samples} samples); ` +
        `kept now: a ${pa.kept}, b ${pb.kept}`);
      assert.ok(statuses.every((s) => s === 200), `every request answered: ${statuses.filter((s) => s !== 200)}`);
      assert.ok(up.most <= SIZE, `the upstream saw ${up.most} calls open at once`);
      assert.ok(up.most >= 2, `the load did overlap: ${up.most}`);
      assert.ok(zmax <= SIZE, `the registry leased ${zmax}`);
      assert.ok(samples > 10, `sampled ${samples} times`);
      assert.ok(pa.size <= SIZE && pa.busy <= SIZE);
    });

    it('while stack A keeps every session idle, a request on stack B is served within a tick and a poll', { timeout: 30000 }, async () => {
      up.delay = 300;
      // A takes every session (B hands back what it kept: A waits) and keeps them.
      const r = await Promise.all(Array.from({ length: SIZE }, (_, i) => chat(a, `take ${i}`)));
      assert.ok(r.every((x) => x.status === 200));
      up.delay = 0;
      await waitFor(async () => (await pool(a)).kept === SIZE, 5000, `A keeps all ${SIZE}`);
      await sleep(300); // A idle: its ticks see nobody waiting and keep them
      const pa = await pool(a);
      assert.equal(pa.kept, SIZE);
      assert.equal(pa.idle, 0);
      assert.equal(pa.busy, SIZE);
      const t0 = performance.now();
      const got = await chat(b, 'elsewhere');
      const ms = performance.now() - t0;
      console.log(`# ${server}: B served in ${Math.round(ms)} ms while A kept every session`);
      assert.equal(got.status, 200, got.text);
      assert.ok(ms < SERVED_WITHIN_MS, `B waited ${Math.round(ms)} ms`);
      await waitFor(async () => (await pool(a)).kept === 0, 2000, 'A handed back what it kept');
    });

    it('SIGKILLed while it keeps every session, stack A\'s leases come back: B is served when they run out', { timeout: 60000 }, async () => {
      up.delay = 300;
      const r = await Promise.all(Array.from({ length: SIZE }, (_, i) => chat(a, `again ${i}`)));
      assert.ok(r.every((x) => x.status === 200));
      up.delay = 0;
      await waitFor(async () => (await pool(a)).kept === SIZE, 5000, `A keeps all ${SIZE}`);
      // Idle a while, so that A's tick has renewed what it keeps (every
      // sixth of the lease): the deadlines that must run out are its.
      await sleep(1200);
      assert.equal((await pool(a)).kept, SIZE);
      const pids = a.ready.AXON_PIDS.split(/\s+/).filter(Boolean).map(Number);
      const killedAt = performance.now();
      for (const pid of pids) process.kill(pid, 'SIGKILL');
      await waitFor(() => pids.every((p) => !isAlive(p)), 5000, 'A\'s axon processes gone');
      assert.equal(await leases(), SIZE, 'the dead process\'s leases are still in the registry');
      const got = await chat(b, 'after the kill');
      const ms = performance.now() - killedAt;
      console.log(`# ${server}: B served ${Math.round(ms)} ms after A's SIGKILL (leases of ${LEASE_S} s)`);
      assert.equal(got.status, 200, got.text);
      // A renewed them at most LEASE_S/6 before the kill: they run out
      // between 5/6 of a lease and a lease after it.
      assert.ok(ms >= (LEASE_S * 1000 * 5) / 6 - 200, `not before the leases ran out: ${Math.round(ms)} ms`);
      assert.ok(ms < LEASE_S * 1000 + SERVED_WITHIN_MS, `within a lease and a poll: ${Math.round(ms)} ms`);
      const pb = await pool(b);
      assert.ok(pb.reclaims >= 1, `reclaimed: ${pb.reclaims}`);
    });
  });
}
