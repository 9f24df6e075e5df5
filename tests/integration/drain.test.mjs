// SIGTERM: in-flight streams finish, then axon exits 0; an idle axon exits at once.
// A stream that outlasts AXON_DRAIN_S ends with an error chunk and [DONE] at
// the deadline; during the drain /health and /ready say 503 "draining" and a
// new request gets 503 server_shutting_down (never a 502 from a closed socket).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  SERVER_NAMES, AXON_BIN, KEY, cleanEnv, scratchDir, freePort, startStack, stopStack,
  spawnCaptured, exitWithin, waitFor, isAlive, readSse, dataOf, sleep, TEST_VALKEY_TIMEOUT_MS,
  call, assertEnvelope, originOf,
} from './lib.mjs';

const valkey = process.env.AXON_VALKEY_URL
  ? { AXON_VALKEY_URL: process.env.AXON_VALKEY_URL, AXON_VALKEY_TIMEOUT_MS: String(TEST_VALKEY_TIMEOUT_MS) }
  : {};

// True once the process blocks or catches SIGTERM, i.e. a SIGTERM now would be
// handled by axon rather than kill it outright.
function handlesSigterm(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const mask = (name) => BigInt(`0x${status.match(new RegExp(`^${name}:\\s*([0-9a-f]+)`, 'm'))[1]}`);
    return ((mask('SigBlk') | mask('SigCgt')) & (1n << 14n)) !== 0n;
  } catch {
    return false;
  }
}

for (const server of SERVER_NAMES) {
  describe(`drain behind ${server}`, () => {
    it('SIGTERM, twice, during a stream: all 10 events and [DONE] arrive, then axon exits 0', { timeout: 90000 }, async () => {
      assert.ok(KEY, 'AXON_TEST_KEY is not set: run tests/integration/run.sh');
      const stackDir = scratchDir(`drain-${server}`);
      const port = await freePort();
      const stack = await startStack({
        env: cleanEnv({
          AXON_BIN, AXON_SERVER: server, AXON_PORT: String(port), AXON_API_KEYS: KEY,
          AXON_TEST_ROUTES: '1', STACK_DIR: stackDir, ...valkey,
        }),
        readyFile: () => fs.existsSync(path.join(stackDir, 'ready')) && path.join(stackDir, 'ready'),
      });
      try {
        const axonPid = Number(stack.ready.AXON_PID);
        assert.ok(axonPid > 0 && isAlive(axonPid), `AXON_PID in the ready file: ${stack.ready.AXON_PID}`);

        const t0 = performance.now();
        const res = await fetch(`${stack.ready.AXON_URL}/_test/sse?n=10&ms=200`, {
          headers: { authorization: `Bearer ${KEY}` }, signal: AbortSignal.timeout(20000),
        });
        assert.equal(res.status, 200);
        // Two SIGTERMs 200 ms apart, as an operator gets them when systemd signals
        // the whole cgroup and lighttpd signals its child too: the second one
        // must not cut the drain short.
        let termAt = null;
        const timers = [500, 700].map((ms) => setTimeout(() => {
          termAt ??= performance.now() - t0;
          try { process.kill(axonPid, 'SIGTERM'); } catch { /* already gone */ }
        }, ms));
        let blocks;
        try {
          ({ blocks } = await readSse(res, t0));
        } finally {
          timers.forEach(clearTimeout);
        }
        const data = dataOf(blocks);
        assert.deepEqual(data.map((d) => d.data),
          [...Array.from({ length: 10 }, (_, i) => `{"i":${i}}`), '[DONE]'],
          'the stream in flight at SIGTERM is delivered completely');
        assert.ok(termAt !== null && termAt < data[data.length - 1].ms,
          'SIGTERM was sent while the stream was still running');

        await waitFor(() => !isAlive(axonPid), 5000, `axon (pid ${axonPid}) to exit after the stream`);
        if (server === 'nginx') {
          // run-stack.sh started axon itself and reports how it exited.
          await exitWithin(stack, 15000);
          assert.match(stack.out(), new RegExp(`axon \\(pid ${axonPid}\\) exited with status 0\\b`),
            `run-stack.sh output:\n${stack.out()}`);
        } else {
          // lighttpd spawned axon and logs "child exited: STATUS SOCKET".
          await waitFor(() => /child exited: \d+/.test(stack.out()), 5000, 'lighttpd to report the exit')
            .catch(() => {});
          assert.match(stack.out(), /child exited: 0\b/, `lighttpd output:\n${stack.out()}`);
        }
      } finally {
        await stopStack(stack);
      }
    });

    it('a stream longer than AXON_DRAIN_S: 503 "draining" and server_shutting_down during the drain, then an error chunk and [DONE] at the deadline, then exit 0', { timeout: 90000 }, async () => {
      assert.ok(KEY, 'AXON_TEST_KEY is not set: run tests/integration/run.sh');
      const stackDir = scratchDir(`drain-cut-${server}`);
      const port = await freePort();
      const stack = await startStack({
        env: cleanEnv({
          AXON_BIN, AXON_SERVER: server, AXON_PORT: String(port), AXON_API_KEYS: KEY,
          AXON_TEST_ROUTES: '1', AXON_DRAIN_S: '2', STACK_DIR: stackDir, ...valkey,
        }),
        readyFile: () => fs.existsSync(path.join(stackDir, 'ready')) && path.join(stackDir, 'ready'),
      });
      try {
        const axonPid = Number(stack.ready.AXON_PID);
        const origin = originOf(stack.ready.AXON_URL);
        const t0 = performance.now();
        // 50 events 200 ms apart: 10 s, far past the 2 s drain.
        const res = await fetch(`${stack.ready.AXON_URL}/_test/sse?n=50&ms=200`, {
          headers: { authorization: `Bearer ${KEY}` }, signal: AbortSignal.timeout(20000),
        });
        assert.equal(res.status, 200);
        let termAt = null;
        const during = [];
        const timer = setTimeout(() => {
          termAt = performance.now() - t0;
          process.kill(axonPid, 'SIGTERM');
          // Half a second into the drain: the readiness probes and a new
          // request are answered by axon itself.
          during.push(sleep(500).then(() => Promise.all([
            call(origin, '/health'), call(origin, '/ready'),
            call(origin, '/v1/models', { key: KEY }),
          ])));
        }, 500);
        let blocks;
        let rest;
        try {
          ({ blocks, rest } = await readSse(res, t0));
        } finally {
          clearTimeout(timer);
        }
        const [health, ready, models] = await during[0];
        assert.equal(health.status, 503, `/health during the drain: ${health.text}`);
        assert.deepEqual(health.json, { status: 'draining' });
        assert.equal(ready.status, 503, `/ready during the drain: ${ready.text}`);
        assert.equal(ready.json.status, 'draining');
        assertEnvelope(models, 503, { type: 'server_error', code: 'server_shutting_down' });
        assert.equal(models.headers.get('retry-after'), '1', 'a new request is told when to retry');

        const data = dataOf(blocks);
        const last = data.at(-1);
        assert.equal(rest, '', 'nothing after the last event');
        assert.equal(last.data, '[DONE]', `the cut stream ends with [DONE]: ${JSON.stringify(data.slice(-3))}`);
        const err = JSON.parse(data.at(-2).data).error;
        assert.equal(err?.type, 'server_error', `an error object before [DONE]: ${data.at(-2).data}`);
        assert.equal(err.code, 'server_shutting_down');
        assert.ok(data.length < 52, `the stream was cut, not run to its end: ${data.length} events`);
        const cutMs = last.ms - termAt;
        console.log(`# ${server}: the stream was cut ${Math.round(cutMs)} ms after SIGTERM, after ${data.length - 2} events`);
        assert.ok(cutMs >= 1500 && cutMs < 4500, `cut at the 2 s drain deadline: ${Math.round(cutMs)} ms`);

        await waitFor(() => !isAlive(axonPid), 5000, `axon (pid ${axonPid}) to exit after the drain`);
        if (server === 'nginx') {
          await exitWithin(stack, 15000);
          assert.match(stack.out(), new RegExp(`axon \\(pid ${axonPid}\\) exited with status 0\\b`),
            `run-stack.sh output:\n${stack.out()}`);
        } else {
          await waitFor(() => /child exited: \d+/.test(stack.out()), 5000, 'lighttpd to report the exit')
            .catch(() => {});
          assert.match(stack.out(), /child exited: 0\b/, `lighttpd output:\n${stack.out()}`);
        }
      } finally {
        await stopStack(stack);
      }
    });
  });
}

// How each server runs axon: nginx needs `axon --listen SOCKET`; lighttpd (like
// spawn-fcgi) hands axon its listening socket on fd 0.
const idleModes = [
  ['--listen (nginx mode)', (sock) => [AXON_BIN, ['--listen', sock]]],
  ['socket on fd 0 (lighttpd / spawn-fcgi mode)', (sock) => ['spawn-fcgi', ['-n', '-s', sock, '--', AXON_BIN]]],
];

describe('idle shutdown', () => {
  for (const [mode, command] of idleModes) {
    it(`an idle axon with ${mode} exits 0 within about 1 s of SIGTERM`, { timeout: 30000 }, async () => {
      const dir = scratchDir('idle');
      const sock = path.join(dir, 'axon.sock');
      const [cmd, args] = command(sock);
      const proc = spawnCaptured(cmd, args, { env: cleanEnv({ AXON_API_KEYS: KEY || 'sk-idle', ...valkey }), cwd: dir });
      try {
        await waitFor(() => {
          if (proc.child.exitCode !== null) throw new Error(`axon exited early:\n${proc.out()}`);
          return fs.existsSync(sock) && handlesSigterm(proc.child.pid);
        }, 10000, 'axon to listen and take over SIGTERM');
        await sleep(200); // let the worker threads reach accept()
        const t0 = performance.now();
        proc.child.kill('SIGTERM');
        const done = await exitWithin(proc, 5000);
        assert.ok(done, `axon still running 5 s after SIGTERM:\n${proc.out()}`);
        assert.equal(done.signal, null, `killed by ${done.signal}:\n${proc.out()}`);
        assert.equal(done.code, 0, proc.out());
        const ms = Math.round(done.at - t0);
        assert.ok(ms <= 1500, `exited ${ms} ms after SIGTERM (want about 1 s at most)`);
      } finally {
        if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
        await proc.exited;
      }
    });
  }
});
