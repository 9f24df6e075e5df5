// The upstream session pool, /stats and /metrics, and Valkey failures,
// through each web server. Each server gets its own stack on its own
// redis-server (started here, so the test can stop, stall and restart it)
// with a pool of 2, 100 turns per session, a 1.5 s wait and 2 s leases, and
// the default AXON_POOL_KEEP_MS (2 s): /stats busy counts the sessions a
// process keeps between requests, and "kept" says how many are this one's.
// Figures are read as differences within this run, never as totals.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import {
  SERVER_NAMES, KEY, AXON_BIN, call, assertEnvelope, cleanEnv, scratchDir, freePort,
  startStack, stopStack, sleep, waitFor, originOf, TEST_VALKEY_TIMEOUT_MS,
} from './lib.mjs';
import { mockUrl, recorded } from './mock.mjs';
import { redis, startRedis, stopRedis } from './redis.mjs';

// Valkey gets TEST_VALKEY_TIMEOUT_MS (lib.mjs says why) and a waiter 1.5 s:
// a 2-core machine under load is slow to hand a released session on.
const POOL = {
  AXON_POOL_SIZE: '2', AXON_MAX_TURNS: '100', AXON_POOL_WAIT_MS: '1500', AXON_POOL_LEASE_S: '2',
  AXON_VALKEY_TIMEOUT_MS: String(TEST_VALKEY_TIMEOUT_MS),
};
let counter = 0;
const marker = (tag, extra = '') => `[[mock id=pool-${tag}-${++counter}-${process.pid}${extra ? ` ${extra}` : ''}]]`;

async function stats(origin) {
  const r = await call(origin, '/stats');
  assert.equal(r.status, 200, r.text);
  return r.json;
}

async function startPoolStack(server, valkeyUrl, extra = {}) {
  const dir = scratchDir(`pool-${server}`);
  return startStack({
    env: cleanEnv({
      AXON_BIN, AXON_SERVER: server, AXON_PORT: String(await freePort()), AXON_API_KEYS: KEY,
      STACK_DIR: dir, AXON_VALKEY_URL: valkeyUrl, ANTHROPIC_BASE_URL: mockUrl(),
      ANTHROPIC_API_KEY: 'sk-ant-test-key', AXON_HEARTBEAT_S: '1', ...POOL, ...extra,
    }),
    readyFile: () => fs.existsSync(path.join(dir, 'ready')) && path.join(dir, 'ready'),
  });
}

// A stream held open by the mock for ms before its first byte.
function holdStream(base, ms, tag) {
  const ctl = new AbortController();
  const done = fetch(`${base}/chat/completions`, {
    method: 'POST', signal: ctl.signal,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: `Hold ${marker(tag, `delay=${ms}`)}` }] }),
  }).then((res) => res.text()).catch((err) => err);
  return { done, abort: () => ctl.abort() };
}

for (const server of SERVER_NAMES) {
  describe(`session pool and Valkey behind ${server}`, () => {
    let redisProc; let redisPort; let valkeyUrl; let stack; let base; let origin; let ai;
    before(async () => {
      redisPort = await freePort();
      valkeyUrl = `redis://127.0.0.1:${redisPort}`;
      redisProc = await startRedis(redisPort);
      stack = await startPoolStack(server, valkeyUrl);
      base = stack.ready.AXON_URL;
      origin = originOf(base);
      ai = new OpenAI({ baseURL: base, apiKey: KEY, maxRetries: 0, timeout: 30000 });
    });
    after(async () => {
      if (stack) await stopStack(stack);
      if (redisProc) await stopRedis(redisProc);
    });

    it('/stats: counters only, no secrets; /metrics wants a key and speaks Prometheus', async () => {
      const s = await stats(origin);
      assert.deepEqual(Object.keys(s), ['pool', 'conversations', 'requests', 'valkey', 'upstreams']);
      assert.equal(s.valkey, 'ok');
      // This stack has Claude only: its state comes from the background check.
      assert.deepEqual(Object.keys(s.upstreams), ['anthropic']);
      assert.equal(s.upstreams.anthropic.provider, 'anthropic');
      await waitFor(async () => (await stats(origin)).upstreams.anthropic.state === 'ok', 5000,
        'the Claude upstream checked and ok');
      assert.equal(s.pool.scope, 'valkey');
      for (const k of ['size', 'idle', 'busy', 'waiting', 'acquires', 'releases', 'recycles', 'timeouts']) {
        assert.equal(typeof s.pool[k], 'number', `pool.${k}`);
      }
      assert.deepEqual(Object.keys(s.pool.acquire_wait_ms).filter((k) => k.startsWith('p')), ['p50', 'p99']);
      assert.equal(typeof s.conversations.active, 'number');
      const text = JSON.stringify(s);
      for (const secret of [KEY, 'sk-ant-test-key', mockUrl(), '127.0.0.1', 'conv-']) {
        assert.ok(!text.includes(secret), `/stats shows no ${secret}`);
      }
      const noKey = await call(origin, '/metrics');
      assertEnvelope(noKey, 401, { type: 'invalid_request_error' });
      const m = await call(origin, '/metrics', { key: KEY });
      assert.equal(m.status, 200);
      assert.match(m.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
      assert.match(m.text, /^# TYPE axon_pool_sessions gauge$/m);
      assert.match(m.text, /^axon_pool_sessions\{state="busy"\} 0$/m);
      assert.match(m.text, /^axon_pool_acquire_wait_seconds_bucket\{le="\+Inf"\} \d+$/m);
      assert.match(m.text, /^axon_valkey_up 1$/m);
      assert.match(m.text, /^axon_upstream_up\{upstream="anthropic"\} 1$/m);
      assert.ok(!m.text.includes(KEY) && !m.text.includes('sk-ant-test-key'));
    });

    it('250 requests through a pool of 2: recycles, busy 0 and acquires == releases after quiescence', { timeout: 120000 }, async () => {
      const s0 = await stats(origin);
      let next = 0;
      const worker = async () => {
        while (next < 250) {
          const i = next++;
          const c = await ai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `N${i} ${marker('load')}` }] });
          assert.equal(c.choices[0].finish_reason, 'stop');
        }
      };
      await Promise.all(Array.from({ length: 6 }, worker));
      // The process keeps its sessions between requests: it counts acquires
      // and releases in memory and writes them with its next tick, and its
      // kept sessions go back after AXON_POOL_KEEP_MS idle (docs/pool.md).
      let s1;
      const d = (k) => s1.pool[k] - s0.pool[k];
      await waitFor(async () => {
        s1 = await stats(origin);
        return d('acquires') === 250 && d('releases') === 250;
      }, 2000, 'every acquire and release counted within a few ticks');
      assert.ok(s1.pool.busy <= s1.pool.kept, `busy ${s1.pool.busy}: only the sessions this process keeps`);
      assert.ok(d('recycles') >= 1, `sessions recycled after 100 turns (recycles +${d('recycles')})`);
      assert.equal(d('timeouts'), 0);
      await waitFor(async () => (s1 = await stats(origin)).pool.busy === 0, 2000 + 2000,
        'the kept sessions back after AXON_POOL_KEEP_MS (2 s) idle');
      assert.equal(s1.pool.kept, 0);
      assert.equal(s1.pool.size, 2);
      assert.equal(s1.pool.idle, 2);
    });

    it('with every session busy, a request gets 429 rate_limit_exceeded within the wait bound', async () => {
      const held = [holdStream(base, 4500, 'hold'), holdStream(base, 4500, 'hold')];
      await waitFor(async () => (await stats(origin)).pool.busy === 2, 5000, 'both sessions busy');
      const t0 = performance.now();
      const r = await call(origin, '/v1/chat/completions', {
        method: 'POST', key: KEY, headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `Third ${marker('third')}` }] }),
      });
      const ms = performance.now() - t0;
      assertEnvelope(r, 429, { type: 'requests', code: 'rate_limit_exceeded' });
      assert.equal(r.headers.get('retry-after'), '1');
      assert.ok(ms >= 1490 && ms < 4000, `429 after the 1.5 s wait, took ${ms.toFixed(0)} ms`);
      await Promise.all(held.map((h) => h.done));
      const ok = await ai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `After ${marker('after')}` }] });
      assert.equal(ok.choices[0].finish_reason, 'stop');
      const s = await stats(origin);
      assert.equal(s.pool.busy, s.pool.kept, 'busy: only what this process keeps');
      await waitFor(async () => (await stats(origin)).pool.busy === 0, 4000, 'kept sessions back after 2 s idle');
    });

    it('a SIGKILLed axon\'s lease is reclaimed by the other processes', { timeout: 60000 }, async () => {
      const victim = await startPoolStack(server, valkeyUrl);
      let h;
      try {
        const s0 = await stats(origin);
        h = holdStream(victim.ready.AXON_URL, 20000, 'victim');
        await waitFor(async () => (await stats(origin)).pool.busy === 1, 5000, 'the victim holds a session');
        process.kill(Number(victim.ready.AXON_PID), 'SIGKILL');
        const end = await Promise.race([h.done, sleep(10000).then(() => 'hung')]);
        assert.notEqual(end, 'hung', 'the victim\'s client is not left hanging');
        assert.equal((await stats(origin)).pool.busy, 1, 'the dead holder\'s lease is still there');
        await sleep(2300); // past the 2 s lease
        const c = await ai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `Reclaim ${marker('reclaim')}` }] });
        assert.equal(c.choices[0].finish_reason, 'stop');
        const s1 = await stats(origin);
        assert.equal(s1.pool.reclaims - s0.pool.reclaims, 1, 'one lease reclaimed');
        assert.equal(s1.pool.busy, s1.pool.kept, 'busy: only the session this process keeps');
        assert.equal(s1.pool.idle + s1.pool.kept, 2, 'the session is back');
      } finally {
        h?.abort();
        // SIGTERM: run-stack.sh then stops the web server it started (a
        // SIGKILL would orphan it, and lighttpd would respawn axon).
        await stopStack(victim);
      }
    });

    it('Valkey stalled, then killed and restarted: stateless requests work, conversations 503 fast, everything recovers', { timeout: 90000 }, async () => {
      const first = await ai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `Remember ${marker('vk1')}` }] });
      const cid = first.conversation_id;
      const cont = (tag) => call(origin, '/v1/chat/completions', {
        method: 'POST', key: KEY, headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', conversation_id: cid, messages: [{ role: 'user', content: `Again ${marker(tag)}` }] }),
      });
      const downChecks = async (what) => {
        // Stateless: answered, with an id marked as not stored.
        const { data, response } = await ai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `Down ${marker('down')}` }] }).withResponse();
        assert.match(data.conversation_id, /^conv-unstored-[0-9a-f]{32}$/, `${what}: an unstored id`);
        assert.equal(response.headers.get('x-axon-conversation-stored'), 'false');
        // With a conversation: 503 at once.
        for (let i = 0; i < 3; i++) {
          const t0 = performance.now();
          const r = await cont('down-c');
          const ms = performance.now() - t0;
          assertEnvelope(r, 503, { type: 'server_error', code: 'valkey_unavailable' });
          // "At once": one timed-out call, or two with a reconnect, against
          // the 10 s a hung Valkey would cost.
          assert.ok(ms < 2 * TEST_VALKEY_TIMEOUT_MS + 1000, `${what}: 503 took ${ms.toFixed(0)} ms`);
        }
        const t0 = performance.now();
        const r = await cont('down-fast');
        assertEnvelope(r, 503, { code: 'valkey_unavailable' });
        assert.ok(performance.now() - t0 < 250, `${what}: with the breaker open, 503 within 250 ms`);
        const h = await call(origin, '/health');
        assert.equal(h.status, 200, `${what}: /health stays 200`);
        const s = await stats(origin);
        assert.equal(s.valkey, 'down', `${what}: /stats says down`);
        assert.equal(s.pool.scope, 'process', `${what}: the local pool answers`);
        assert.equal(s.pool.busy, 0); /* the local fallback's; kept registry sessions are not in it */
        const unstored = await call(origin, `/v1/conversations/${data.conversation_id}`, { key: KEY });
        assertEnvelope(unstored, 404, { code: 'conversation_not_found' });
      };
      const recovered = async (what) => {
        await waitFor(async () => (await stats(origin)).valkey === 'ok', 20000, `${what}: /stats back to ok`);
        const c = await ai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `Back ${marker('back')}` }] });
        assert.match(c.conversation_id, /^conv-[0-9a-f]{32}$/);
        const n = await ai.chat.completions.create({ model: 'gpt-4o', conversation_id: c.conversation_id, messages: [{ role: 'user', content: `On ${marker('back2')}` }] });
        assert.equal(n.conversation_id, c.conversation_id);
        // A command that timed out against the stalled server still runs when
        // it wakes up; an acquire's script then finds its deadline passed and
        // leases nothing (pool.h), so nothing is left busy.
        // A Valkey that restarted empty forgot the sessions this process
        // kept: its next tick (POOL_TICK_MS, 50 ms) finds them gone and
        // drops them, so kept matches the registry again within a few ticks.
        await waitFor(async () => {
          const after = await stats(origin);
          return after.pool.busy === after.pool.kept;
        }, 2000, `${what}: nothing left busy but the sessions this process keeps`);
      };

      process.kill(redisProc.pid, 'SIGSTOP');
      try {
        await downChecks('stalled');
      } finally {
        process.kill(redisProc.pid, 'SIGCONT');
      }
      await recovered('after SIGCONT');
      const again = await cont('cont-after');
      assert.equal(again.status, 200, 'the conversation from before the stall continues');

      await stopRedis(redisProc);
      await downChecks('killed');
      redisProc = await startRedis(redisPort);
      await recovered('after restart');
    });
  });
}

for (const server of SERVER_NAMES) {
  describe(`key rotation behind ${server}`, () => {
    it('a recycled session makes axon read ANTHROPIC_API_KEY_FILE again: the next requests send the new key', { timeout: 60000 }, async () => {
      const dir = scratchDir(`keyfile-${server}`);
      const keyFile = path.join(dir, 'claude-key');
      fs.writeFileSync(keyFile, 'sk-ant-first\n');
      const redisPort = await freePort();
      const redisProc = await startRedis(redisPort);
      let stack;
      try {
        stack = await startPoolStack(server, `redis://127.0.0.1:${redisPort}`, {
          AXON_POOL_SIZE: '1', AXON_MAX_TURNS: '2', ANTHROPIC_API_KEY_FILE: keyFile,
        });
        const ai = new OpenAI({ baseURL: stack.ready.AXON_URL, apiKey: KEY, maxRetries: 0 });
        const keyOf = async (tag) => {
          const id = `pool-key-${tag}-${++counter}-${process.pid}`;
          await ai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `Key [[mock id=${id}]]` }] });
          return (await recorded(id))[0].headers['x-api-key'];
        };
        assert.equal(await keyOf('a'), 'sk-ant-first');
        fs.writeFileSync(keyFile, 'sk-ant-second\n');
        assert.equal(await keyOf('b'), 'sk-ant-first', 'turn 2 still runs on the old session');
        for (let i = 0; i < 4; i++) assert.equal(await keyOf(`c${i}`), 'sk-ant-second', 'after the recycle, the rotated key');
        const s = await stats(originOf(stack.ready.AXON_URL));
        assert.ok(s.pool.recycles >= 1);
        assert.ok(!JSON.stringify(s).includes('sk-ant-'), 'no key in /stats');
      } finally {
        if (stack) await stopStack(stack);
        await stopRedis(redisProc);
      }
    });
  });
}
