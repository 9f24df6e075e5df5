// The pipeline's order through each web server (docs/internals.md): every
// check that needs no Valkey, the provider's translation included, runs
// before the session pool is asked. With a pool of 1 whose one session is
// held, an invalid request still gets its 400 at once; before the pipeline
// it waited AXON_POOL_WAIT_MS and got a 429 (issue 19). Each server gets a
// stack of its own on its own redis-server, as pool.test.mjs does.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  SERVER_NAMES, KEY, AXON_BIN, call, assertEnvelope, cleanEnv, scratchDir, freePort,
  startStack, stopStack, waitFor, originOf, TEST_VALKEY_TIMEOUT_MS,
} from './lib.mjs';
import { mockUrl } from './mock.mjs';
import { startRedis, stopRedis } from './redis.mjs';

const WAIT_MS = 1500;
let counter = 0;
const marker = (tag, extra = '') => `[[mock id=pipe-${tag}-${++counter}-${process.pid}${extra ? ` ${extra}` : ''}]]`;

async function busy(origin) {
  const r = await call(origin, '/stats');
  assert.equal(r.status, 200, r.text);
  return r.json.pool.busy;
}

// A stream the mock holds open for ms before its first byte: the session
// stays leased meanwhile.
function holdStream(base, ms) {
  return fetch(`${base}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: `Hold ${marker('hold', `delay=${ms}`)}` }] }),
  }).then((res) => res.text()).catch((err) => err);
}

const post = (origin, body) => call(origin, '/v1/chat/completions', {
  method: 'POST', key: KEY, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
});
const user = (tag) => [{ role: 'user', content: `Hi ${marker(tag)}` }];

for (const server of SERVER_NAMES) {
  describe(`pipeline order behind ${server} (pool of 1)`, () => {
    let redisProc; let stack; let base; let origin;
    before(async () => {
      const redisPort = await freePort();
      redisProc = await startRedis(redisPort);
      const dir = scratchDir(`pipeline-${server}`);
      stack = await startStack({
        env: cleanEnv({
          AXON_BIN, AXON_SERVER: server, AXON_PORT: String(await freePort()), AXON_API_KEYS: KEY,
          STACK_DIR: dir, AXON_VALKEY_URL: `redis://127.0.0.1:${redisPort}`,
          ANTHROPIC_BASE_URL: mockUrl(), ANTHROPIC_API_KEY: 'sk-ant-test-key',
          AXON_POOL_SIZE: '1', AXON_POOL_WAIT_MS: String(WAIT_MS), AXON_MAX_N: '4',
          AXON_VALKEY_TIMEOUT_MS: String(TEST_VALKEY_TIMEOUT_MS),
        }),
        readyFile: () => fs.existsSync(path.join(dir, 'ready')) && path.join(dir, 'ready'),
      });
      base = stack.ready.AXON_URL;
      origin = originOf(base);
    });
    after(async () => {
      if (stack) await stopStack(stack);
      if (redisProc) await stopRedis(redisProc);
    });

    it('with the only session held, invalid requests get their 400 at once; a valid one waits for its 429', { timeout: 30000 }, async () => {
      const held = holdStream(base, 6000);
      await waitFor(async () => (await busy(origin)) === 1, 5000, 'the one session busy');
      const invalid = [
        // translate: Claude fills nothing it cannot honour
        [{ model: 'gpt-4o', logprobs: true, messages: user('logprobs') }, 400, 'unsupported_parameter'],
        // translate: above the model's output cap
        [{ model: 'gpt-4o', max_tokens: 999999, messages: user('max') }, 400, 'invalid_value'],
        // validate: AXON_MAX_N
        [{ model: 'gpt-4o', n: 5, messages: user('n') }, 400, 'integer_above_max_value'],
        // validate: a model Axon does not serve
        [{ model: 'no-such-model', messages: user('model') }, 404, 'model_not_found'],
      ];
      for (const [body, status, code] of invalid) {
        const t0 = performance.now();
        const r = await post(origin, body);
        const ms = performance.now() - t0;
        assertEnvelope(r, status, { code });
        assert.ok(ms < WAIT_MS / 2, `${code}: answered in ${ms.toFixed(0)} ms, not after the pool's wait`);
      }
      // The control: the pool really is full, so a valid request waits.
      const t0 = performance.now();
      const r = await post(origin, { model: 'gpt-4o', messages: user('valid') });
      const ms = performance.now() - t0;
      assertEnvelope(r, 429, { type: 'requests', code: 'rate_limit_exceeded' });
      assert.ok(ms >= WAIT_MS - 10, `429 after the wait, took ${ms.toFixed(0)} ms`);
      await held;
      await waitFor(async () => (await busy(origin)) === 0, 5000, 'the session back');
    });
  });
}
