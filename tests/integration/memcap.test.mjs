// The cap on request bytes in flight per process (issue 18 item 6), through
// each web server. Each server gets two stacks of its own on its own
// redis-server: one whose cap (AXON_MAX_INFLIGHT_BYTES = 48 MiB) admits three
// 15 MiB bodies at once, and one whose cap (4 MiB) is below the largest body.
// Checked: eight parallel 15 MiB requests held by the upstream get either the
// answer or a retryable 503 (never a crash, a hang or a 502), the cap is
// released on every path (the next requests are all answered), the memory
// of the axon process returns near its idle level afterwards, and a body
// larger than the cap alone gets 413. The figures are printed as "# ..." lines.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  SERVER_NAMES, KEY, AXON_BIN, assertEnvelope, cleanEnv, scratchDir, freePort,
  startStack, stopStack, sleep, originOf, TEST_VALKEY_TIMEOUT_MS,
} from './lib.mjs';
import { mockUrl } from './mock.mjs';
import { startRedis, stopRedis } from './redis.mjs';

const MiB = 2 ** 20;
const CAP = 48 * MiB;
const SMALL_CAP = 4 * MiB;
const VLLM = 'qwen3-coder'; // the vLLM mock checks no context for a prompt this long
const say = (line) => console.log(`# ${line}`);
let counter = 0;

function vllmMockUrl() {
  const url = process.env.AXON_TEST_VLLM_MOCK_URL;
  assert.ok(url, 'AXON_TEST_VLLM_MOCK_URL is not set: run tests/integration/run.sh');
  return url;
}

async function startCapStack(server, valkeyUrl, cap) {
  const dir = scratchDir(`memcap-${server}`);
  const stack = await startStack({
    env: cleanEnv({
      AXON_BIN, AXON_SERVER: server, AXON_PORT: String(await freePort()), AXON_API_KEYS: KEY,
      STACK_DIR: dir, AXON_VALKEY_URL: valkeyUrl, ANTHROPIC_BASE_URL: mockUrl(),
      ANTHROPIC_API_KEY: 'sk-ant-test-key', AXON_VLLM_BASE_URL: vllmMockUrl(),
      AXON_VLLM_API_KEY: process.env.AXON_VLLM_API_KEY ?? 'sk-vllm-test-key',
      AXON_VALKEY_TIMEOUT_MS: String(TEST_VALKEY_TIMEOUT_MS), AXON_MAX_INFLIGHT_BYTES: String(cap),
    }),
    readyFile: () => fs.existsSync(path.join(dir, 'ready')) && path.join(dir, 'ready'),
  });
  return { stack, base: stack.ready.AXON_URL, origin: originOf(stack.ready.AXON_URL) };
}

const rssKb = (pid) => Number(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)/m)[1]);
const isAsan = (pid) => fs.readFileSync(`/proc/${pid}/maps`, 'utf8').includes('libasan');

// A request whose body is about `bytes` long (one user message), with the
// mock directive id it carries.
function bigBody(bytes, extra = '') {
  const id = `memcap-${++counter}-${process.pid}`;
  const head = `Say hello [[mock id=${id}${extra ? ` ${extra}` : ''}]] `;
  return { id, body: JSON.stringify({ model: VLLM, messages: [{ role: 'user', content: head + 'x'.repeat(bytes - head.length - 80) }] }) };
}

// The requests the vLLM mock received under a directive id.
async function reachedUpstream(id) {
  const res = await fetch(`${vllmMockUrl()}/_mock/requests?id=${encodeURIComponent(id)}`, { signal: AbortSignal.timeout(10000) });
  assert.equal(res.status, 200);
  return (await res.json()).length;
}

async function post(base, { id, body }) {
  const t0 = performance.now();
  const res = await fetch(`${base}/chat/completions`, {
    method: 'POST', body, signal: AbortSignal.timeout(60000),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
  });
  const out = { status: res.status, headers: res.headers, text: await res.text() };
  try { out.json = JSON.parse(out.text); } catch { out.json = undefined; }
  out.ms = performance.now() - t0;
  out.id = id;
  return out;
}

for (const server of SERVER_NAMES) {
  describe(`request memory cap behind ${server}`, { timeout: 240000 }, () => {
    let redisProc; let capped; let small;
    before(async () => {
      const port = await freePort();
      redisProc = await startRedis(port);
      capped = await startCapStack(server, `redis://127.0.0.1:${port}`, CAP);
      small = await startCapStack(server, `redis://127.0.0.1:${port}`, SMALL_CAP);
    });
    after(async () => {
      if (capped) await stopStack(capped.stack);
      if (small) await stopStack(small.stack);
      if (redisProc) await stopRedis(redisProc);
    });

    it('eight parallel 15 MiB requests: those past the cap get a retryable 503, the others the answer; memory settles back', async () => {
      const pids = capped.stack.ready.AXON_PIDS.trim().split(/\s+/).map(Number);
      assert.ok(pids.length >= 1, 'the axon process');
      // Warm up: threads, connections and the first answer's allocations.
      for (let i = 0; i < 2; i++) assert.equal((await post(capped.base, bigBody(1024))).status, 200);
      await sleep(300);
      const before0 = pids.map(rssKb);
      const peak = before0.slice();
      const sampler = setInterval(() => {
        pids.forEach((p, i) => { try { peak[i] = Math.max(peak[i], rssKb(p)); } catch { /* gone */ } });
      }, 20);
      let res;
      try {
        // The upstream holds each answer 2 s, so all eight are in flight together.
        res = await Promise.all(Array.from({ length: 8 }, () => post(capped.base, bigBody(15 * MiB, 'delay=2000'))));
      } finally {
        clearInterval(sampler);
      }
      const ok = res.filter((r) => r.status === 200);
      const busy = res.filter((r) => r.status === 503);
      say(`${server}: 8 x 15 MiB under a 48 MiB cap: ${ok.length} answered, ${busy.length} got 503 ` +
        `(in ${busy.map((r) => Math.round(r.ms)).join(', ')} ms)`);
      assert.equal(ok.length + busy.length, 8, `only 200 or 503: ${res.map((r) => `${r.status} ${r.text.slice(0, 200)}`).join(' | ')}`);
      assert.ok(ok.length >= 1 && ok.length <= 3, `at most three 15 MiB bodies fit in 48 MiB: ${ok.length} answered`);
      for (const r of ok) {
        assert.ok(r.json.choices[0].message.content.length > 0);
        assert.equal(await reachedUpstream(r.id), 1, 'an answered request reached the upstream once');
      }
      for (const r of busy) {
        const e = assertEnvelope(r, 503, { type: 'server_error', code: 'server_is_overloaded' });
        assert.match(e.message, /AXON_MAX_INFLIGHT_BYTES/);
        assert.equal(r.headers.get('retry-after'), '1', 'a 503 says when to retry');
        assert.notEqual(r.headers.get('x-should-retry'), 'false', 'the SDKs may retry it');
        assert.equal(await reachedUpstream(r.id), 0, 'refused before the upstream is called');
      }
      // Every reservation was released: three more fit again, one after another and together.
      const again = await Promise.all(Array.from({ length: 3 }, () => post(capped.base, bigBody(15 * MiB))));
      assert.deepEqual(again.map((r) => r.status), [200, 200, 200], again.map((r) => r.text.slice(0, 200)).join(' | '));

      await sleep(1000);
      const after0 = pids.map(rssKb);
      say(`${server}: axon RSS before ${before0.map((k) => (k / 1024).toFixed(1))} MiB, peak ` +
        `${peak.map((k) => (k / 1024).toFixed(1))} MiB, after ${after0.map((k) => (k / 1024).toFixed(1))} MiB`);
      // AddressSanitizer keeps freed memory in quarantine and pads every
      // block: its RSS says nothing about axon's own.
      if (pids.some(isAsan)) {
        say(`${server}: an ASan build: the RSS bounds are not checked`);
        return;
      }
      pids.forEach((p, i) => {
        assert.ok(after0[i] - before0[i] < 8 * 1024, `memory returns near idle: before ${before0[i]} kB, after ${after0[i]} kB`);
        // Three 15 MiB bodies at once, each held about three times at its
        // peak (the body, json-c's copy while parsing, the string): measured
        // +102-137 MiB; +149-154 MiB before the cuts of issue 18. A loose
        // bound: it catches a copy added back, not a few MiB.
        assert.ok(peak[i] - before0[i] < 150 * 1024, `the peak stays near three times the 45 MiB of bodies in flight: +${peak[i] - before0[i]} kB`);
      });
    });

    it('a body larger than the cap alone gets 413 before it is read; one under it is answered', async () => {
      const big = await post(small.base, bigBody(5 * MiB));
      const e = assertEnvelope(big, 413, { type: 'invalid_request_error', code: 'request_too_large' });
      assert.match(e.message, /AXON_MAX_INFLIGHT_BYTES|4194304/);
      const fits = await post(small.base, bigBody(3 * MiB));
      assert.equal(fits.status, 200, fits.text.slice(0, 300));
    });
  });
}
