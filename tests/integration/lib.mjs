// Shared helpers for the integration tests (node built-ins only).
// tests/integration/run.sh starts the stacks and passes them in through:
//   AXON_TEST_LIGHTTPD_URL, AXON_TEST_NGINX_URL  base URLs (http://127.0.0.1:P/v1)
//   AXON_TEST_KEY, AXON_TEST_KEY2                 keys both stacks accept
//   AXON_TEST_TMP                                 scratch directory (removed by run.sh)
//   AXON_BIN, AXON_VALKEY_URL                     binary under test, shared Valkey
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RUN_STACK = path.join(REPO_ROOT, 'etc', 'run-stack.sh');
export const AXON_BIN = path.resolve(REPO_ROOT, process.env.AXON_BIN || 'build/axon');
export const KEY = process.env.AXON_TEST_KEY || '';
export const KEY2 = process.env.AXON_TEST_KEY2 || '';
export const SERVER_NAMES = ['lighttpd', 'nginx'];
// AXON_VALKEY_TIMEOUT_MS of the test stacks (axon's default is 50). This VM
// loses its CPUs to the hypervisor at times (vmstat "st" 15-27% while
// nearly idle): a Valkey reply was seen to take over 250 ms, three times in a
// row, which fails releases and stores for reasons that are not axon's. The
// tests that stall Valkey on purpose scale their bounds by this.
export const TEST_VALKEY_TIMEOUT_MS = 1000;

// The stack under test for one server; fails the test (not the file) if missing.
export function stackUrl(server) {
  const url = process.env[`AXON_TEST_${server.toUpperCase()}_URL`];
  assert.ok(url, `AXON_TEST_${server.toUpperCase()}_URL is not set: run tests/integration/run.sh`);
  assert.ok(KEY, 'AXON_TEST_KEY is not set: run tests/integration/run.sh');
  return url;
}

export const originOf = (baseUrl) => new URL(baseUrl).origin;

// The output of a shared stack (the web server's stderr, where axon writes its
// one JSON line per request): run.sh sends etc/run-stack.sh's output there.
export function stackLogFile(server) {
  assert.ok(process.env.AXON_TEST_TMP, 'AXON_TEST_TMP is not set: run tests/integration/run.sh');
  return path.join(process.env.AXON_TEST_TMP, `${server}.log`);
}

// A fresh directory under AXON_TEST_TMP (run.sh removes that), or, when a test
// file runs on its own, under a per-process directory removed at exit.
let ownRoot;
export function scratchDir(prefix) {
  let root = process.env.AXON_TEST_TMP;
  if (!root) {
    if (!ownRoot) {
      ownRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'axon-it-'));
      process.on('exit', () => fs.rmSync(ownRoot, { recursive: true, force: true }));
    }
    root = ownRoot;
  }
  return fs.mkdtempSync(path.join(root, `${prefix}-`));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll fn() until it returns a truthy value; bounded.
export async function waitFor(fn, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

// Running = exists and is not a zombie.
export function isAlive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

// A loopback port nothing listens on. Port 0 would hand out one from the
// kernel's ephemeral range (32768-60999), where outgoing connections (curl's,
// nginx's, redis clients') may take it before our server binds it; so try
// random ports below that range, as etc/run-stack.sh does. The two take
// from separate halves (run-stack.sh 20000-26383, here 26384-32767): a port
// handed out here is bound only later, by the stack a test starts with it,
// and a concurrent run-stack.sh picking its own Valkey or mock port in the
// meantime must not take it (nginx once failed to bind its AXON_PORT so).
const usedPorts = new Set();
function tryListen(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
export async function freePort() {
  for (let tries = 0; tries < 200; tries++) {
    const port = 26384 + Math.floor(Math.random() * 6384);
    if (!usedPorts.has(port) && await tryListen(port)) {
      usedPorts.add(port);
      return port;
    }
  }
  throw new Error('found no free loopback port in 26384-32767');
}

// The environment minus every AXON_* variable, plus extra.
export function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AXON_')) env[k] = v;
  return { ...env, ...extra };
}

// Spawn a long-running child, capturing its output; returns
// { child, out(), exited } where exited resolves to { code, signal, at }.
export function spawnCaptured(cmd, args, { logFile, ...opts } = {}) {
  const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  // logFile: the output is also kept there, for run.sh to save when a test fails.
  const log = logFile ? fs.createWriteStream(logFile, { flags: 'a' }).on('error', () => {}) : null;
  const keep = (d) => { output += d; log?.write(d); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, at: performance.now() }));
  });
  return { child, out: () => output, exited };
}

// Resolve to the exit record, or null if the process is still running after ms.
export function exitWithin(proc, ms) {
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(resolve, ms, null); });
  return Promise.race([proc.exited, timeout]).finally(() => clearTimeout(timer));
}

export function parseReady(file) {
  const ready = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) ready[line.slice(0, i)] = line.slice(i + 1);
  }
  return ready;
}

// Every PID a ready file lists (RUN_STACK_PID, SERVER_PID, AXON_PIDS, ...).
export function readyPids(ready) {
  return Object.entries(ready)
    .filter(([k]) => /_PIDS?$/.test(k))
    .flatMap(([, v]) => v.split(/\s+/))
    .filter(Boolean)
    .map(Number);
}

// Start etc/run-stack.sh and wait for its ready file. readyFile(dir) says where
// to look (it differs when run-stack.sh makes its own STACK_DIR).
export async function startStack({ env, readyFile, timeoutMs = 40000 }) {
  const proc = spawnCaptured('bash', [RUN_STACK], {
    env, cwd: REPO_ROOT, logFile: env.STACK_DIR && path.join(env.STACK_DIR, 'stack.log'),
  });
  let file;
  try {
    file = await waitFor(async () => {
      if (proc.child.exitCode !== null) throw new Error(`run-stack.sh exited early:\n${proc.out()}`);
      return readyFile();
    }, timeoutMs, 'the stack to become ready');
  } catch (err) {
    await stopStack(proc);
    throw err;
  }
  return { ...proc, ready: parseReady(file) };
}

// Stop a run-stack.sh: SIGTERM, then SIGKILL it and its processes if it hangs.
export async function stopStack(stack, signal = 'SIGTERM') {
  if (stack.child.exitCode !== null || stack.child.signalCode !== null) return stack.exited;
  stack.child.kill(signal);
  const done = await exitWithin(stack, 20000);
  if (done) return done;
  for (const pid of [stack.child.pid, ...(stack.ready ? readyPids(stack.ready) : [])]) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  return stack.exited;
}

// ---- HTTP ------------------------------------------------------------------

const seenIds = new Set();

// fetch with a timeout; checks x-request-id on every answer from axon.
export async function call(origin, pathAndQuery, { method = 'GET', key, auth, body, headers = {} } = {}) {
  const h = { ...headers };
  if (auth !== undefined) h.authorization = auth;
  else if (key) h.authorization = `Bearer ${key}`;
  const res = await fetch(origin + pathAndQuery, {
    method, headers: h, body, signal: AbortSignal.timeout(30000),
  });
  const text = await res.text();
  const id = res.headers.get('x-request-id');
  assert.match(id ?? '', /^req_[0-9a-f]{32}$/, `x-request-id of ${method} ${pathAndQuery}`);
  assert.ok(!seenIds.has(id), `x-request-id ${id} was already used by an earlier response`);
  seenIds.add(id);
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json, id };
}

// An OpenAI error envelope: JSON content type, all four keys, expected values.
// Fields left undefined are not checked beyond their presence.
export function assertEnvelope(res, status, { type, code, message, messagePrefix } = {}) {
  assert.equal(res.status, status, `status (body: ${res.text.slice(0, 300)})`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/, 'content-type of an error');
  assert.ok(res.json && typeof res.json.error === 'object' && res.json.error !== null,
    `body is an error envelope: ${res.text.slice(0, 300)}`);
  const e = res.json.error;
  assert.deepEqual(Object.keys(e).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(typeof e.message, 'string');
  assert.equal(typeof e.type, 'string');
  if (type !== undefined) assert.equal(e.type, type);
  if (code !== undefined) assert.equal(e.code, code);
  if (message !== undefined) assert.equal(e.message, message);
  if (messagePrefix !== undefined) {
    assert.ok(e.message.startsWith(messagePrefix), `message starts with "${messagePrefix}": ${e.message}`);
  }
  return e;
}

// Read a text/event-stream body block by block, with arrival times (ms since t0).
// onBlock(block, ms) is called for each block as it arrives.
export async function readSse(res, t0, onBlock = () => {}) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const blocks = [];
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const ms = performance.now() - t0;
    buf += decoder.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      blocks.push({ block, ms });
      onBlock(block, ms);
    }
  }
  return { blocks, rest: buf };
}

// The data: payloads of a stream, in order.
export const dataOf = (blocks) => blocks.filter((b) => b.block.startsWith('data: '))
  .map((b) => ({ data: b.block.slice(6), ms: b.ms }));
