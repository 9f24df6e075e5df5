// etc/run-stack.sh must leave nothing behind: no process, no directory.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  SERVER_NAMES, AXON_BIN, REPO_ROOT, RUN_STACK, cleanEnv, scratchDir, freePort, startStack, stopStack, spawnCaptured,
  exitWithin, readyPids, isAlive, waitFor, call, TEST_VALKEY_TIMEOUT_MS,
} from './lib.mjs';

const valkey = process.env.AXON_VALKEY_URL
  ? { AXON_VALKEY_URL: process.env.AXON_VALKEY_URL, AXON_VALKEY_TIMEOUT_MS: String(TEST_VALKEY_TIMEOUT_MS) }
  : {};

// run-stack.sh makes its own STACK_DIR with mktemp -d; pointing TMPDIR at an
// empty directory lets us find it (the only entry) and check it is removed.
function onlyReadyFile(tmpdir) {
  const entries = fs.readdirSync(tmpdir);
  if (entries.length !== 1) return null;
  const file = path.join(tmpdir, entries[0], 'ready');
  return fs.existsSync(file) && file;
}

for (const server of SERVER_NAMES) {
  describe(`run-stack.sh with ${server}`, () => {
    it('Ctrl-C (SIGINT) stops every process it listed and removes its STACK_DIR', { timeout: 90000 }, async () => {
      const tmpdir = scratchDir(`cleanup-${server}`);
      const port = await freePort();
      // No AXON_API_KEYS and no AXON_VALKEY_URL: it generates a key and starts
      // its own redis-server, so those paths are covered too.
      const stack = await startStack({
        env: cleanEnv({ AXON_BIN, AXON_SERVER: server, AXON_PORT: String(port), TMPDIR: tmpdir }),
        readyFile: () => onlyReadyFile(tmpdir),
      });
      try {
        const { ready } = stack;
        assert.equal(ready.AXON_URL, `http://127.0.0.1:${port}/v1`);
        assert.match(ready.AXON_KEY, /^sk-axon-[0-9a-f]{32}$/);
        assert.ok(ready.REDIS_PID, 'run-stack.sh started its own redis-server');
        const models = await call(new URL(ready.AXON_URL).origin, '/v1/models', { key: ready.AXON_KEY });
        assert.equal(models.status, 200, 'the generated key works');

        const pids = readyPids(ready);
        assert.ok(pids.length >= 4, `ready file lists the stack's PIDs: ${pids.join(' ')}`);
        for (const pid of pids) assert.ok(isAlive(pid), `pid ${pid} is running before the stop`);

        stack.child.kill('SIGINT');
        const done = await exitWithin(stack, 20000);
        assert.ok(done, 'run-stack.sh exits within 20 s of SIGINT');
        assert.equal(done.code, 0, stack.out());
        for (const pid of pids) assert.ok(!isAlive(pid), `pid ${pid} is still running after the stop`);
        assert.ok(!fs.existsSync(ready.STACK_DIR), `${ready.STACK_DIR} still exists`);
        assert.doesNotMatch(stack.out(), /SIGKILL/, 'every process stopped on SIGTERM, none needed SIGKILL');
      } finally {
        await stopStack(stack);
      }
    });

    it('axon logs one JSON line per request with its request id, and never the key', { timeout: 60000 }, async () => {
      const stackDir = scratchDir(`log-${server}`);
      const key = 'sk-axon-log-test-secret';
      const stack = await startStack({
        env: cleanEnv({
          AXON_BIN, AXON_SERVER: server, AXON_PORT: String(await freePort()), AXON_API_KEYS: key,
          STACK_DIR: stackDir, ...valkey,
        }),
        readyFile: () => fs.existsSync(path.join(stackDir, 'ready')) && path.join(stackDir, 'ready'),
      });
      try {
        const origin = new URL(stack.ready.AXON_URL).origin;
        const ok = await call(origin, '/v1/models', { key });
        const bad = await call(origin, '/v1/models', { key: `${key}-wrong` });
        // axon's lines are the JSON ones (run-stack.sh and the server print text).
        const jsonLines = () => stack.out().split('\n').filter((line) => line.startsWith('{'));
        const logOf = (id) => jsonLines().map((line) => {
          try { return JSON.parse(line); } catch { return null; }
        }).find((rec) => rec && rec.request_id === id);
        for (const [res, status] of [[ok, 200], [bad, 401]]) {
          const rec = await waitFor(() => logOf(res.id), 5000, `a log line for ${res.id}`);
          for (const k of ['time', 'request_id', 'method', 'path', 'status', 'us', 'bytes_out']) {
            assert.ok(k in rec, `log line has "${k}": ${JSON.stringify(rec)}`);
          }
          assert.equal(rec.method, 'GET');
          assert.equal(rec.path, '/v1/models');
          assert.equal(rec.status, status);
        }
        assert.ok(!jsonLines().some((line) => line.includes(key)), 'the API key never appears in axon\'s log');
      } finally {
        await stopStack(stack);
      }
    });

    it('a taken port fails with a clear message and leaves nothing behind', { timeout: 30000 }, async () => {
      const tmpdir = scratchDir(`port-${server}`);
      const holder = net.createServer();
      await new Promise((resolve) => holder.listen(0, '127.0.0.1', resolve));
      try {
        const port = holder.address().port;
        const proc = spawnCaptured('bash', [RUN_STACK], {
          cwd: REPO_ROOT,
          env: cleanEnv({ AXON_BIN, AXON_SERVER: server, AXON_PORT: String(port), TMPDIR: tmpdir }),
        });
        const done = await exitWithin(proc, 20000);
        assert.ok(done, 'run-stack.sh gives up instead of waiting');
        assert.notEqual(done.code, 0);
        assert.match(proc.out(), new RegExp(`port ${port}.*already in use`));
        await waitFor(() => fs.readdirSync(tmpdir).length === 0, 2000, 'no leftover STACK_DIR');
      } finally {
        holder.close();
      }
    });
  });
}
