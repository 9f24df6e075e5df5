// The fault matrix (issue 8): every fault through lighttpd and through nginx,
// each run as the continuation of a stored conversation, and each followed by
// the same checks (settled() below):
//   (a) what the client got: a status with the OpenAI error envelope, or, for
//       a stream that had started, an error chunk and then [DONE];
//   (b) /stats: no session left busy (but those the process keeps between
//       requests, docs/pool.md) or waiting, no worker left running, every
//       session acquired released (or kept), and no lease that had to be
//       reclaimed (unless the fault killed its holder, or Valkey was away
//       longer than a lease and a kept session lapsed);
//   (c) Valkey holds the conversation exactly as before (messages and meta,
//       read from redis itself): never a dangling user turn;
//   (d) the next turn of that conversation succeeds (the mock Claude refuses
//       two user messages in a row, so a stored half turn would fail here).
//
// Each server gets its own stack on its own redis-server (AOF on, so a
// SIGKILLed Valkey comes back with its data), so pool counters are exact and
// Valkey can be stopped, killed and restarted. Claude is reached through a
// TCP forwarder in this process, which can refuse connections and accept
// them again (resets are passed on as resets). Settings: AXON_HEARTBEAT_S=1,
// AXON_FIRST_BYTE_TIMEOUT_S=3, AXON_IDLE_TIMEOUT_S=3, AXON_POOL_LEASE_S=2,
// AXON_VALKEY_TIMEOUT_MS=TEST_VALKEY_TIMEOUT_MS (lib.mjs says why).
// Fault 12 behind nginx runs nginx and a standalone axon started here (so
// axon can be killed and restarted under a running nginx); fault 13 runs its
// own stack with one worker thread. Timing bounds separate "works" from
// "hangs"; the measured figures are printed as "# ..." lines.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  SERVER_NAMES, KEY, KEY2, AXON_BIN, REPO_ROOT, call, assertEnvelope, readSse, cleanEnv, scratchDir,
  freePort, startStack, stopStack, spawnCaptured, exitWithin, sleep, waitFor, originOf, isAlive, TEST_VALKEY_TIMEOUT_MS,
} from './lib.mjs';
import { mockUrl, recorded, aborts, leaveMidStream } from './mock.mjs';
import { assertValid, validateChunk, parseSseBlock } from './schema.mjs';
import { redis, startRedis, stopRedis } from './redis.mjs';

const JSON_HEADERS = { 'content-type': 'application/json' };
const CLAUDE = 'gpt-4o';
const VLLM = 'qwen3-coder';
const OK_TEXT = 'Hello from the mock.';

let counter = 0;
const newId = (server, tag) => `fm-${server}-${tag}-${++counter}-${process.pid}`;
const say = (line) => console.log(`# ${line}`);
const words = (n) => Array.from({ length: n }, (_, i) => `w${i}`).join('_');

function vllmMockUrl() {
  const url = process.env.AXON_TEST_VLLM_MOCK_URL;
  assert.ok(url, 'AXON_TEST_VLLM_MOCK_URL is not set: run tests/integration/run.sh');
  return url;
}
// ---- processes ---------------------------------------------------------------

// A TCP forwarder to the mock Claude. refuse(): stop listening and reset
// every open connection (the upstream host went away: connects are refused);
// accept(): listen on the same port again. A reset on one side is passed on
// as a reset, a close as a close. closed lists axon's connections as they
// close: when, and how many bytes went to axon over each.
async function startForwarder(target) {
  const to = new URL(target);
  const port = await freePort();
  const socks = new Set();
  const closed = [];
  let server = null;
  const link = (from, to2) => {
    from.on('error', () => { if (!to2.destroyed) to2.resetAndDestroy(); });
    from.on('close', () => {
      socks.delete(from);
      // A clean end is passed on by pipe(); anything else closes the peer.
      if (!from.readableEnded && !to2.destroyed) to2.destroy();
    });
  };
  const onConnection = (client) => {
    const up = net.connect(Number(to.port), to.hostname);
    socks.add(client);
    socks.add(up);
    client.on('close', () => closed.push({ at: Date.now(), toAxon: client.bytesWritten }));
    link(client, up);
    link(up, client);
    client.pipe(up);
    up.pipe(client);
  };
  const accept = () => new Promise((resolve, reject) => {
    server = net.createServer(onConnection);
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const refuse = () => new Promise((resolve) => {
    for (const s of socks) s.resetAndDestroy();
    socks.clear();
    server.close(() => resolve());
  });
  await accept();
  return { url: `http://127.0.0.1:${port}`, accept, refuse, close: refuse, closed };
}

// Children of pid that run the axon binary (lighttpd's bin-path child).
function axonChildrenOf(ppid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== ppid || fields[0] === 'Z') continue;
      // "BIN (deleted)" once a rebuild replaced the file.
      if (fs.readlinkSync(`/proc/${d}/exe`).startsWith(AXON_BIN)) out.push(Number(d));
    } catch { /* gone meanwhile */ }
  }
  return out;
}

const rssKb = (pid) => Number(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)/m)[1]);

// ---- HTTP ----------------------------------------------------------------------

async function stats(t) {
  const r = await call(t.origin, '/stats');
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// A non-stream POST through lib's call (x-request-id checked); the answer is
// checked against the spec.
async function post(t, body) {
  const t0 = performance.now();
  const res = await call(t.origin, '/v1/chat/completions', {
    method: 'POST', key: KEY, headers: JSON_HEADERS, body: JSON.stringify(body),
  });
  res.ms = performance.now() - t0;
  assertValid(res.status === 200 ? 'response' : 'error', res.json, `answer (${res.status}): ${res.text.slice(0, 300)}`);
  return res;
}

// A streamed POST read to its end, or until the connection breaks (kept in
// `broke`). A non-stream answer (an error before the first byte) is returned
// as text and JSON. onBlock(block, ms) sees each block as it arrives.
async function streamPost(base, body, { onBlock, signal } = {}) {
  const t0 = performance.now();
  const res = await fetch(`${base}/chat/completions`, {
    method: 'POST',
    headers: { ...JSON_HEADERS, authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ ...body, stream: true }),
    signal: signal ?? AbortSignal.timeout(30000),
  });
  const out = { status: res.status, headers: res.headers, t0 };
  if (!/^text\/event-stream\b/.test(res.headers.get('content-type') ?? '')) {
    out.text = await res.text();
    try { out.json = JSON.parse(out.text); } catch { out.json = undefined; }
    out.ms = performance.now() - t0;
    return out;
  }
  const blocks = [];
  try {
    const r = await readSse(res, t0, (block, ms) => { blocks.push({ block, ms }); onBlock?.(block, ms); });
    out.rest = r.rest;
  } catch (err) {
    out.broke = err;
  }
  out.ms = performance.now() - t0;
  out.events = blocks.map(parseSseBlock);
  out.content = out.events.map((e) => e.chunk?.choices[0]?.delta.content ?? '').join('');
  return out;
}

// An error before the first byte: a real status with the OpenAI envelope.
function assertErrorAnswer(res, status, code, what) {
  assert.equal(res.events, undefined, `${what}: an error status, not a stream`);
  assertValid('error', res.json, `${what}: ${res.text?.slice(0, 300)}`);
  return assertEnvelope(res, status, { type: status === 429 ? undefined : 'server_error', code });
}

// A stream that had started and then failed: content (maybe none), one error
// object, then [DONE], with no finish_reason anywhere and nothing after.
function assertErrorStream(s, code, what) {
  assert.equal(s.status, 200, `${what}: a stream, got ${s.status}: ${s.text?.slice(0, 300)}`);
  assert.equal(s.broke, undefined, `${what}: the stream ended cleanly`);
  assert.equal(s.rest, '', `${what}: nothing after the last event`);
  for (const e of s.events) if (e.chunk) assert.equal(e.chunk.choices[0]?.finish_reason ?? null, null, `${what}: no finish_reason`);
  const data = s.events.filter((e) => !e.ping);
  const errs = data.filter((e) => e.error);
  assert.equal(errs.length, 1, `${what}: one error object`);
  assert.ok(data.at(-2)?.error, `${what}: the error is the last data before [DONE]`);
  assert.ok(data.at(-1)?.done, `${what}: the stream ends with [DONE]`);
  assert.equal(errs[0].error.type, 'server_error');
  if (code !== undefined) assert.equal(errs[0].error.code, code, `${what}: error code`);
  return errs[0].error;
}

// ---- the conversation and the checks every row ends with -----------------------

const convKeys = (cid) => [`axon:{c:${cid}}:msgs`, `axon:{c:${cid}}:meta`];

async function convState(t, cid) {
  const [msgsKey, metaKey] = convKeys(cid);
  const msgs = await redis(t.valkey, 'LRANGE', msgsKey, '0', '-1');
  const flat = await redis(t.valkey, 'HGETALL', metaKey);
  const meta = {};
  for (let i = 0; i < flat.length; i += 2) meta[flat[i]] = flat[i + 1];
  return { msgs, meta };
}

const POOL_COUNTERS = ['acquires', 'releases', 'reclaims', 'stale_releases', 'timeouts'];

// /stats once its pool figures hold still for three of the process's ticks:
// a process keeps the sessions its requests release and writes the
// acquires and releases it made in memory with its next tick (50 ms,
// docs/pool.md), so a figure read right after an answer may lack them.
async function steady(t) {
  let a = await stats(t);
  for (let i = 0; i < 40; i++) {
    await sleep(150);
    const b = await stats(t);
    if ([...POOL_COUNTERS, 'busy', 'kept'].every((k) => a.pool[k] === b.pool[k])) return b;
    a = b;
  }
  return a;
}

// /stats once the stack is quiet: Valkey answering (the pool in Valkey, not
// the local fallback) and no session busy or waited for, but the ones this
// process keeps between its requests (busy in the registry: docs/pool.md).
const quiet = (t, what, ms = 12000) => waitFor(async () => {
  const st = await stats(t).catch(() => null);
  if (!(st && st.valkey === 'ok' && st.pool.scope === 'valkey' && st.pool.busy === st.pool.kept &&
    st.pool.waiting === 0 && st.requests.in_flight <= 1)) return null;
  const s2 = await steady(t);
  return s2.pool.busy === s2.pool.kept ? s2 : null;
}, ms, `${what}: /stats with valkey ok, pool busy only with what the process keeps, waiting 0, no request in flight`);

// A stored conversation of one turn (2 messages) to run a fault on; its
// state in Valkey and the pool counters before the fault. It starts from a
// quiet stack, so whatever an earlier test left behind is not counted here.
async function seed(t, tag, model = CLAUDE) {
  await quiet(t, `before ${tag}`);
  const id = newId(t.server, `${tag}-seed`);
  // Right after a Valkey outage the breaker may open once more (a command
  // sent before the outage ended fails late): then the answer is unstored,
  // and a moment later it is not.
  const r = await waitFor(async () => {
    const x = await post(t, { model, messages: [{ role: 'user', content: `Seed ${tag} [[mock id=${id}]]` }] });
    assert.equal(x.status, 200, `seeding the conversation: ${x.text.slice(0, 300)}`);
    if (/^conv-unstored-/.test(x.json.conversation_id)) say(`${t.server} ${tag}: the seed was answered unstored; again`);
    return /^conv-[0-9a-f]{32}$/.test(x.json.conversation_id) ? x : null;
  }, 10000, 'a stored conversation');
  const cid = r.json.conversation_id;
  const snap = await convState(t, cid);
  assert.equal(snap.msgs.length, 2);
  const pool = (await steady(t)).pool;
  return { cid, model, snap, pool: Object.fromEntries([...POOL_COUNTERS, 'busy'].map((k) => [k, pool[k]])) };
}

// The faulty turn: a continuation of conv with a [[mock ...]] marker.
const turn = (conv, directives, extra = {}) => ({
  model: conv.model, conversation_id: conv.cid,
  messages: [{ role: 'user', content: `Again [[mock ${directives}]]` }], ...extra,
});

// (b), (c) and (d). expectTurn: the fault's turn is expected stored after
// all, whole (its user message and the assistant's answer); leaseLost: the
// fault killed a lease's holder, so a reclaim is expected, not a leak;
// keptLapsed: Valkey was unreachable for longer than a lease, so a session
// the process kept idle meanwhile may have lapsed and been reclaimed (it
// could not renew it: docs/pool.md), but no more than it kept.
async function settled(t, conv, { expectTurn, leaseLost = false, keptLapsed = false, what = '' } = {}) {
  // (b) nothing left busy, waiting or running; Valkey back.
  const s = await quiet(t, what);
  const d = Object.fromEntries(POOL_COUNTERS.map((k) => [k, s.pool[k] - conv.pool[k]]));
  if (leaseLost) {
    say(`${t.server} ${what}: pool after the fault: ${JSON.stringify(d)}`);
  } else {
    // Every request's session was given back (acquires and releases count
    // the kept ones' too, docs/pool.md).
    assert.equal(d.acquires, d.releases, `${what}: every session acquired was released: ${JSON.stringify(d)}`);
    if (keptLapsed) {
      // A kept session that lapsed is reclaimed, and its hand-back, sent
      // when Valkey came back, may have found it so (a stale release).
      assert.ok(d.reclaims <= conv.pool.busy && d.stale_releases <= conv.pool.busy,
        `${what}: only kept sessions lapsed (${conv.pool.busy} kept before): ${JSON.stringify(d)}`);
    } else {
      assert.equal(d.reclaims, 0, `${what}: no lease had to be reclaimed (a leak the deadline hid): ${JSON.stringify(d)}`);
      assert.equal(d.stale_releases, 0, `${what}: ${JSON.stringify(d)}`);
    }
  }

  // (c) exactly as before, or (expectTurn) before plus the whole turn.
  const now = await convState(t, conv.cid);
  if (expectTurn) {
    assert.equal(now.msgs.length, conv.snap.msgs.length + 2, `${what}: the whole turn, two messages`);
    assert.deepEqual(now.msgs.slice(0, -2), conv.snap.msgs, `${what}: the history before it untouched`);
    const [u, a] = now.msgs.slice(-2).map((m) => JSON.parse(m));
    assert.deepEqual(u, expectTurn.user, `${what}: the turn's user message`);
    assert.equal(a.role, 'assistant');
    if (expectTurn.assistant !== undefined) assert.equal(a.content, expectTurn.assistant, `${what}: the turn's answer`);
    assert.equal(Number(now.meta.message_count), conv.snap.msgs.length + 2);
    conv.snap = now;
  } else {
    assert.deepEqual(now, conv.snap, `${what}: the conversation in Valkey is exactly as before the fault`);
  }

  // (d) the next turn works and is stored after the existing ones.
  const id = newId(t.server, 'next');
  const content = `Next [[mock id=${id}]]`;
  // A holder that died (leaseLost) held the turn lock too: the lock's lease
  // and the session's are renewed on their own clocks (the session's by the
  // process's tick), so the lock may outlive the session by a renewal.
  const r = await waitFor(async () => {
    const x = await post(t, { model: conv.model, conversation_id: conv.cid, messages: [{ role: 'user', content }] });
    return leaseLost && x.json?.error?.code === 'conversation_busy' ? null : x;
  }, 5000, `${what}: the dead holder's turn lock to lapse`);
  assert.equal(r.status, 200, `${what}: the next turn: ${r.text.slice(0, 300)}`);
  assert.equal(r.json.conversation_id, conv.cid);
  assert.equal(r.json.choices[0].message.content, OK_TEXT);
  const later = await convState(t, conv.cid);
  assert.deepEqual(later.msgs.slice(0, -2), conv.snap.msgs, `${what}: the next turn appended after the history`);
  assert.deepEqual(JSON.parse(later.msgs.at(-2)), { role: 'user', content });
  const s2 = await steady(t);
  assert.equal(s2.pool.busy, s2.pool.kept, `${what}: the next turn released its session (to the registry or the process's keep)`);
  // The conversation and the counters as the next fault on it starts.
  conv.snap = later;
  conv.pool = Object.fromEntries([...POOL_COUNTERS, 'busy'].map((k) => [k, s2.pool[k]]));
  return d;
}

// ---- stacks ----------------------------------------------------------------------

const BASE_ENV = {
  AXON_HEARTBEAT_S: '1', AXON_FIRST_BYTE_TIMEOUT_S: '3', AXON_IDLE_TIMEOUT_S: '3',
  AXON_UPSTREAM_CHECK_S: '1', AXON_POOL_LEASE_S: '2', AXON_VALKEY_TIMEOUT_MS: String(TEST_VALKEY_TIMEOUT_MS),
};

function stackEnv(server, port, dir, valkeyUrl, claudeUrl, extra = {}) {
  return cleanEnv({
    AXON_BIN, AXON_SERVER: server, AXON_PORT: String(port), AXON_API_KEYS: KEY, STACK_DIR: dir,
    AXON_VALKEY_URL: valkeyUrl, ANTHROPIC_BASE_URL: claudeUrl, ANTHROPIC_API_KEY: 'sk-ant-test-key',
    AXON_VLLM_BASE_URL: vllmMockUrl(), AXON_VLLM_API_KEY: process.env.AXON_VLLM_API_KEY ?? 'sk-vllm-test-key',
    ...BASE_ENV, ...extra,
  });
}

async function startOwnStack(server, valkeyUrl, claudeUrl, extra = {}) {
  const dir = scratchDir(`fm-${server}`);
  const stack = await startStack({
    env: stackEnv(server, await freePort(), dir, valkeyUrl, claudeUrl, extra),
    readyFile: () => fs.existsSync(path.join(dir, 'ready')) && path.join(dir, 'ready'),
  });
  return { stack, base: stack.ready.AXON_URL, origin: originOf(stack.ready.AXON_URL) };
}

// nginx and a standalone axon started here rather than by run-stack.sh,
// which stops the whole stack when its axon dies: here a SIGKILLed axon is
// started again a second later, as systemd does (etc/axon.service:
// Restart=on-failure, RestartSec=1s), while nginx keeps running. nginx runs
// etc/nginx.conf, rendered as run-stack.sh renders it.
async function startNginxByHand(valkeyUrl, claudeUrl) {
  const dir = scratchDir('fm-nginx-hand');
  const port = await freePort();
  const sock = path.join(dir, 'axon.sock');
  const env = stackEnv('nginx', port, dir, valkeyUrl, claudeUrl);
  const conf = fs.readFileSync(path.join(REPO_ROOT, 'etc', 'nginx.conf'), 'utf8')
    .replaceAll('${AXON_PORT}', String(port)).replaceAll('${AXON_SOCKET}', sock)
    .replaceAll('${WWW_ROOT}', path.join(REPO_ROOT, 'www')).replaceAll('${STACK_DIR}', dir)
    .replaceAll('${AXON_BASE_PATH}', '');
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const base = `http://127.0.0.1:${port}/v1`;
  const hand = { dir, base, origin: originOf(base), axon: null, nginx: null };
  hand.startAxon = async () => {
    hand.axon = spawnCaptured(AXON_BIN, ['--listen', sock], { env, cwd: dir, logFile: path.join(dir, 'axon.log') });
    await waitFor(() => {
      if (hand.axon.child.exitCode !== null) throw new Error(`axon exited:\n${hand.axon.out()}`);
      return fs.existsSync(sock);
    }, 30000, 'axon to open its socket');
  };
  hand.stop = async () => {
    for (const p of [hand.nginx, hand.axon]) {
      if (!p || p.child.exitCode !== null || p.child.signalCode !== null) continue;
      p.child.kill('SIGTERM');
      if (!await exitWithin(p, 10000)) { p.child.kill('SIGKILL'); await p.exited; }
    }
  };
  try {
    await hand.startAxon();
    const globals = `daemon off;${process.getuid() === 0 ? ' user root;' : ''}`;
    hand.nginx = spawnCaptured('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', 'stderr', '-g', globals], { env, cwd: dir, logFile: path.join(dir, 'nginx-stderr.log') });
    await waitFor(async () => {
      if (hand.nginx.child.exitCode !== null) throw new Error(`nginx exited:\n${hand.nginx.out()}`);
      const r = await fetch(`${hand.origin}/health`).catch(() => null);
      await r?.arrayBuffer();
      return r?.status === 200;
    }, 30000, 'nginx and axon to answer /health');
  } catch (err) {
    await hand.stop();
    throw err;
  }
  return hand;
}

// Loading the spec blocks this process for a second or two: do it now, not
// in the middle of a timed stream.
validateChunk({});

for (const server of SERVER_NAMES) {
  describe(`fault matrix behind ${server}`, { timeout: 300000 }, () => {
    const t = { server };
    let redisProc; let redisPort; let redisDir; let fwd; let stack;

    before(async () => {
      redisDir = scratchDir(`fm-redis-${server}`);
      redisPort = await freePort();
      t.valkey = `redis://127.0.0.1:${redisPort}`;
      redisProc = await startRedis(redisPort, redisDir);
      fwd = await startForwarder(mockUrl());
      const own = await startOwnStack(server, t.valkey, fwd.url);
      stack = own.stack;
      t.base = own.base;
      t.origin = own.origin;
      t.ready = stack.ready;
    });
    after(async () => {
      if (stack) await stopStack(stack);
      await fwd?.close().catch(() => {});
      await stopRedis(redisProc);
    });

    // The axon processes serving this stack now (lighttpd respawns its child).
    const axonPids = () => (server === 'lighttpd'
      ? axonChildrenOf(Number(t.ready.SERVER_PID))
      : [Number(t.ready.AXON_PID)]);

    it('fault 1: the upstream refuses connections: 502 upstream_unreachable, and it works again once the upstream is back', async () => {
      const conv = await seed(t, 'refuse');
      await fwd.refuse();
      try {
        const id = newId(server, 'refuse');
        const r = await post(t, turn(conv, `id=${id}`));
        assertErrorAnswer(r, 502, 'upstream_unreachable', 'non-stream');
        say(`${server} fault 1: refused: 502 after ${Math.round(r.ms)} ms (3 attempts)`);
        const s = await streamPost(t.base, turn(conv, `id=${id}`));
        if (s.events) assertErrorStream(s, 'upstream_unreachable', 'stream');
        else assertErrorAnswer(s, 502, 'upstream_unreachable', 'stream');
        say(`${server} fault 1: refused, stream: ${s.events ? 'error chunk' : s.status} after ${Math.round(s.ms)} ms`);
        assert.equal((await recorded(id)).length, 0, 'nothing reached the mock');
        await waitFor(async () => (await stats(t)).upstreams.anthropic.state === 'down', 8000,
          '/stats to show the Claude upstream down');
      } finally {
        await fwd.accept();
      }
      await settled(t, conv, { what: 'fault 1' });
    });

    it('fault 2: the upstream accepts and never answers: 504 upstream_timeout after 3 s; a stream gets pings, then the error chunk', async () => {
      const conv = await seed(t, 'stall');
      const id = newId(server, 'stall');
      const r = await post(t, turn(conv, `id=${id} fault=stall`));
      assertErrorAnswer(r, 504, 'upstream_timeout', 'non-stream');
      assert.ok(r.ms >= 2800 && r.ms < 10000, `504 after about 3 s: ${Math.round(r.ms)} ms`);
      await waitFor(async () => (await aborts(id)).aborted >= 1, 3000, 'the stalled upstream call closed');
      const ids = newId(server, 'stall-s');
      const s = await streamPost(t.base, turn(conv, `id=${ids} fault=stall`));
      // The first heartbeat (1 s) sent the headers; the timeout comes after.
      const err = assertErrorStream(s, 'upstream_timeout', 'stream');
      assert.equal(s.content, '', 'no content');
      assert.ok(s.events.some((e) => e.ping), 'pings while the upstream was silent');
      assert.ok(s.ms >= 2800 && s.ms < 10000, `the error after about 3 s: ${Math.round(s.ms)} ms`);
      assert.match(err.message, /sent nothing/);
      await waitFor(async () => (await aborts(ids)).aborted >= 1, 3000, 'the stalled upstream call closed');
      say(`${server} fault 2: stall: 504 after ${Math.round(r.ms)} ms; stream error chunk after ${Math.round(s.ms)} ms`);
      await settled(t, conv, { what: 'fault 2' });
    });

    it('fault 3: the upstream answers 429 with retry-after: passed on at once when long, waited out when short', async () => {
      const conv = await seed(t, '429');
      const id = newId(server, '429');
      const r = await post(t, turn(conv, `id=${id} fault=429 retry_after=100`));
      assertErrorAnswer(r, 429, 'rate_limit_exceeded', 'retry-after 100');
      assert.equal(r.headers.get('retry-after'), '100');
      assert.equal((await recorded(id)).length, 1, 'not retried');
      const id1 = newId(server, '429-1');
      const r1 = await post(t, turn(conv, `id=${id1} fault=429 retry_after=1`));
      assertErrorAnswer(r1, 429, 'rate_limit_exceeded', 'retry-after 1, every time');
      assert.equal(r1.headers.get('retry-after'), '1');
      const recs = await recorded(id1);
      assert.equal(recs.length, 3, 'waited out and retried twice');
      assert.ok(recs[2].time - recs[0].time >= 1800, `retry-after honoured: ${recs.map((x) => x.time - recs[0].time)} ms`);
      const s = await streamPost(t.base, turn(conv, `id=${newId(server, '429-s')} fault=429 retry_after=100`));
      assertErrorAnswer(s, 429, 'rate_limit_exceeded', 'stream, retry-after 100');
      assert.equal(s.headers.get('retry-after'), '100');
      say(`${server} fault 3: 429 retry-after 100: ${Math.round(r.ms)} ms; retry-after 1 x3: ${Math.round(r1.ms)} ms`);
      await settled(t, conv, { what: 'fault 3' });
    });

    it('fault 4: the upstream answers 500, 502 and 529: retried twice, then 502, 502 and 503 server_is_overloaded', async () => {
      const conv = await seed(t, '5xx');
      for (const [code, status, errCode] of [[500, 502, undefined], [502, 502, undefined], [529, 503, 'server_is_overloaded']]) {
        const id = newId(server, `f${code}`);
        const r = await post(t, turn(conv, `id=${id} fault=${code}`));
        assertErrorAnswer(r, status, errCode, `upstream ${code}`);
        assert.deepEqual((await recorded(id)).map((x) => x.status), [code, code, code], `upstream ${code}: 3 attempts`);
      }
      const s = await streamPost(t.base, turn(conv, `id=${newId(server, 'f529s')} fault=529`));
      if (s.events) assertErrorStream(s, 'server_is_overloaded', 'stream 529');
      else assertErrorAnswer(s, 503, 'server_is_overloaded', 'stream 529');
      say(`${server} fault 4: stream with 529 x3: ${s.events ? 'error chunk' : s.status} after ${Math.round(s.ms)} ms`);
      await settled(t, conv, { what: 'fault 4' });
    });

    it('fault 5: the upstream sends malformed JSON: 502 upstream_protocol_error, not retried', async () => {
      const conv = await seed(t, 'malformed');
      const id = newId(server, 'malformed');
      const r = await post(t, turn(conv, `id=${id} fault=malformed`));
      assertErrorAnswer(r, 502, 'upstream_protocol_error', 'non-stream');
      assert.equal((await recorded(id)).length, 1);
      await settled(t, conv, { what: 'fault 5' });
    });

    it('fault 6: the upstream sends an invalid SSE event: 502 before any content (Claude), an error chunk after some (vLLM)', async () => {
      const conv = await seed(t, 'badsse');
      const s = await streamPost(t.base, turn(conv, `id=${newId(server, 'badsse')} fault=malformed`));
      assertErrorAnswer(s, 502, 'upstream_protocol_error', 'Claude stream');
      await settled(t, conv, { what: 'fault 6 (Claude)' });

      const vconv = await seed(t, 'badsse-v', VLLM);
      const v = await streamPost(t.base, turn(vconv, `id=${newId(server, 'badsse-v')} fault=malformed`));
      assertErrorStream(v, 'upstream_protocol_error', 'vLLM stream');
      assert.equal(v.content, 'Hello', 'the content before the broken event');
      await settled(t, vconv, { what: 'fault 6 (vLLM)' });
    });

    it('fault 7: the upstream resets the connection mid-stream: the content so far, an error chunk, [DONE]', async () => {
      const conv = await seed(t, 'reset');
      const id = newId(server, 'reset');
      const s = await streamPost(t.base, turn(conv, `id=${id} fault=reset`));
      const err = assertErrorStream(s, undefined, 'Claude stream');
      assert.equal(err.code, 'upstream_protocol_error', 'an answer cut by a reset, as by an early EOF');
      // Not retried once content reached the client: a retry would be reset
      // after the same words, and the client would see them twice.
      assert.equal(s.content, 'Hello from the');
      // At most one attempt before it: a kept-alive connection that died as
      // the request went out is a counted retry (issue 18 item 7), seen once
      // in a make test run (2 recorded, content whole).
      const attempts = (await recorded(id)).length;
      assert.ok(attempts >= 1 && attempts <= 2, `${attempts} attempts reached the mock`);
      say(`${server} fault 7: reset mid-stream: error chunk code ${err.code}`);
      await settled(t, conv, { what: 'fault 7 (Claude)' });

      const vconv = await seed(t, 'reset-v', VLLM);
      const v = await streamPost(t.base, turn(vconv, `id=${newId(server, 'reset-v')} fault=reset`));
      assertErrorStream(v, undefined, 'vLLM stream');
      assert.equal(v.content, 'Hello from the');
      await settled(t, vconv, { what: 'fault 7 (vLLM)' });
    });

    it('fault 8: the upstream sends a 50 MB body: 502 upstream_too_large, and axon\'s memory does not balloon', async () => {
      const conv = await seed(t, 'big');
      const pids = axonPids();
      assert.ok(pids.length >= 1, 'the axon process');
      const before0 = pids.map(rssKb);
      const peak = before0.slice();
      const sampler = setInterval(() => {
        pids.forEach((p, i) => { try { peak[i] = Math.max(peak[i], rssKb(p)); } catch { /* gone */ } });
      }, 20);
      // Axon drops the upstream connection at the cap instead of reading on:
      // the forwarder sees that connection close. (The mock sees its answer
      // cut unless the socket buffers on the way, several MB each, took the
      // rest of it first.)
      const cut = async (t0, id) => {
        const c = await waitFor(() => fwd.closed.find((x) => x.at >= t0 && x.toAxon > 32 * 2 ** 20), 5000,
          'axon to close the upstream connection of the 50 MB answer');
        const a = await aborts(id);
        return `${(c.toAxon / 2 ** 20).toFixed(1)} MiB sent to axon, ` +
          `${a.aborted ? `the mock's answer cut after ${(a.events[0].bytes_written / 2 ** 20).toFixed(1)} MiB` : 'the mock had written it all'}`;
      };
      try {
        const id = newId(server, 'big');
        const t0 = Date.now();
        const r = await post(t, turn(conv, `id=${id} fault=big bytes=50000000`));
        assertErrorAnswer(r, 502, 'upstream_too_large', 'non-stream');
        const how = await cut(t0, id);
        const ids = newId(server, 'big-s');
        const t1 = Date.now();
        const s = await streamPost(t.base, turn(conv, `id=${ids} fault=big bytes=50000000`));
        assertErrorAnswer(s, 502, 'upstream_too_large', 'stream (one 50 MB event)');
        const hows = await cut(t1, ids);
        say(`${server} fault 8: 50 MB: 502 in ${Math.round(r.ms)} ms (${how}); stream: 502 in ${Math.round(s.ms)} ms (${hows})`);
      } finally {
        clearInterval(sampler);
      }
      await sleep(300);
      const after0 = pids.map(rssKb);
      say(`${server} fault 8: axon RSS before ${before0.map((k) => `${(k / 1024).toFixed(1)}`)} MiB, ` +
        `peak ${peak.map((k) => `${(k / 1024).toFixed(1)}`)} MiB, after ${after0.map((k) => `${(k / 1024).toFixed(1)}`)} MiB`);
      // AddressSanitizer keeps freed memory in quarantine (256 MiB) and
      // pads every block: its RSS says nothing about axon's own.
      if (pids.some((p) => fs.readFileSync(`/proc/${p}/maps`, 'utf8').includes('libasan'))) {
        say(`${server} fault 8: an ASan build: the RSS bounds are not checked`);
        await settled(t, conv, { what: 'fault 8' });
        return;
      }
      pids.forEach((p, i) => {
        assert.ok(after0[i] <= 2 * before0[i] + 8192, `RSS after (${after0[i]} kB) not above twice before (${before0[i]} kB)`);
        assert.ok(peak[i] - before0[i] < 100 * 1024, `the peak stayed within the 32 MiB cap plus copies: +${peak[i] - before0[i]} kB`);
      });
      await settled(t, conv, { what: 'fault 8' });
    });

    it('fault 9: the client disconnects before the headers and mid-stream: the upstream transfer is aborted, nothing stored', async () => {
      const conv = await seed(t, 'gone');
      // Before the headers: the mock waits 2.5 s (under the 3 s first-byte
      // timeout), the client leaves 200 ms after the request reached it.
      for (const streamed of [true, false]) {
        const id = newId(server, streamed ? 'early-s' : 'early');
        const ctl = new AbortController();
        const answer = fetch(`${t.base}/chat/completions`, {
          method: 'POST', signal: ctl.signal,
          headers: { ...JSON_HEADERS, authorization: `Bearer ${KEY}` },
          body: JSON.stringify(turn(conv, `id=${id} delay=2500 ms=200 reply=${words(40)}`, { stream: streamed })),
        }).then((res) => res.text());
        await waitFor(async () => (await recorded(id)).length >= 1, 5000, 'the request to reach the mock');
        await sleep(200);
        const leftAt = Date.now();
        ctl.abort();
        await assert.rejects(answer, { name: 'AbortError' });
        const a = await waitFor(async () => { const x = await aborts(id); return x.aborted >= 1 ? x : null; },
          4000, 'the mock to see the upstream call closed');
        const latency = a.events[0].time - leftAt;
        say(`${server} fault 9: client gone before the headers (${streamed ? 'stream' : 'non-stream'}): upstream aborted after ${latency} ms`);
        assert.ok(latency < 2000, `aborted ${latency} ms after the client left (the first byte was due ~2.3 s after)`);
      }
      // Behind lighttpd too, a JSON request is cut: axon asks the kernel
      // about lighttpd's connection to its client (peer.h).
      await settled(t, conv, { what: 'fault 9 (before headers)' });
      // Mid-stream: after the first content chunk of a 30 s drip.
      const id = newId(server, 'mid');
      const { latency, event } = await leaveMidStream(t.base, turn(conv, `id=${id} ms=500 reply=${words(60)}`), id, aborts);
      say(`${server} fault 9: client gone mid-stream: upstream aborted after ${latency} ms`);
      assert.ok(latency < 3000, `aborted within ~2 s of the client leaving: ${latency} ms`);
      assert.ok(event.ms_since_request < 15000);
      await settled(t, conv, { what: 'fault 9 (mid-stream)' });
    });

    it('fault 10: Valkey stalls (SIGSTOP): a continuation gets 503 valkey_unavailable; a stream in flight ends whole; no half turn', { timeout: 90000 }, async () => {
      const conv = await seed(t, 'vstall');
      process.kill(redisProc.pid, 'SIGSTOP');
      try {
        const r = await post(t, turn(conv, `id=${newId(server, 'vstall')}`));
        assertErrorAnswer(r, 503, 'valkey_unavailable', 'non-stream');
        assert.ok(r.ms < 2 * TEST_VALKEY_TIMEOUT_MS + 1000, `503 without waiting long: ${Math.round(r.ms)} ms`);
        const s = await streamPost(t.base, turn(conv, `id=${newId(server, 'vstall-s')}`));
        assertErrorAnswer(s, 503, 'valkey_unavailable', 'stream');
        say(`${server} fault 10: Valkey stalled: continuation 503 in ${Math.round(r.ms)} ms, stream 503 in ${Math.round(s.ms)} ms`);
      } finally {
        process.kill(redisProc.pid, 'SIGCONT');
      }
      await settled(t, conv, { what: 'fault 10 (stalled before)', keptLapsed: true });

      // Stalled while a continued stream is running: the answer still ends
      // with [DONE]; the turn's store times out, but the script sent before
      // the stall still runs when Valkey wakes up. Either way: the history as
      // before, or before plus the whole turn, never half of one.
      const conv2 = await seed(t, 'vstall-mid');
      const id = newId(server, 'vstall-mid');
      const body = turn(conv2, `id=${id} ms=300 reply=${words(8)}`);
      let stopped = false;
      let s;
      try {
        s = await streamPost(t.base, body, {
          onBlock: (block) => {
            if (!stopped && block.includes('"content":"w0')) { stopped = true; process.kill(redisProc.pid, 'SIGSTOP'); }
          },
        });
        await sleep(500);
      } finally {
        process.kill(redisProc.pid, 'SIGCONT');
      }
      assert.ok(stopped, 'Valkey was stopped mid-stream');
      assert.equal(s.status, 200);
      assert.equal(s.broke, undefined);
      assert.equal(s.content, words(8).replaceAll('_', ' '), 'the whole answer');
      assert.ok(s.events.at(-1)?.done, 'the stream ends with [DONE]');
      await waitFor(async () => (await stats(t)).valkey === 'ok', 20000, 'Valkey back');
      await sleep(500);
      const now = await convState(t, conv2.cid);
      const stored = now.msgs.length > conv2.snap.msgs.length;
      say(`${server} fault 10: Valkey stalled mid-stream: the stream ended with [DONE]; the turn ${stored ? 'was stored late, whole, when Valkey woke' : 'was not stored'}`);
      await settled(t, conv2, {
        what: 'fault 10 (stalled mid-stream)', leaseLost: true,
        expectTurn: stored ? { user: body.messages[0], assistant: s.content } : undefined,
      });
    });

    // The upstream answers 1.5 s after the request reached it; Valkey is
    // stopped 1.1 s in, so the turn's store (one pipeline, with the release)
    // times out while the JSON answer still goes out, saying so. What the
    // answer says must then be true once Valkey wakes up: a timed-out store
    // that is still executed late would leave a turn the client was told is
    // not there (it may send it again), or a conversation under the id the
    // answer renamed conv-unstored-. One request at a time, so at most one
    // lease renewal fails before the store and the breaker stays closed.
    // Axon gives the store script a deadline in Valkey's own clock (a Valkey
    // timeout after it sends), waits for its reply a timeout past that, and
    // the script refuses to write after it: a store that timed out is then a
    // store that did not happen.
    it('fault 10: Valkey stalls while a JSON answer\'s turn is stored: "not stored" stays true after Valkey wakes up', { timeout: 60000 }, async () => {
      const stallDuringStore = async (body, id) => {
        const answer = post(t, body);
        const rec = await waitFor(async () => (await recorded(id))[0], 5000, 'the request to reach the mock');
        await sleep(Math.max(0, rec.time + 1100 - Date.now()));
        process.kill(redisProc.pid, 'SIGSTOP');
        let r;
        try {
          r = await answer;
          await sleep(300);
        } finally {
          process.kill(redisProc.pid, 'SIGCONT');
        }
        assert.equal(r.status, 200, 'the answer still goes out');
        assert.equal(r.json.choices[0].message.content, OK_TEXT);
        await waitFor(async () => (await stats(t)).valkey === 'ok', 20000, 'Valkey back');
        await sleep(300);
        // The header says the store failed, unless this slow machine let it
        // finish before Valkey stopped (then there is nothing to check).
        const said = r.headers.get('x-axon-conversation-stored') === 'false';
        if (!said) say(`${server} fault 10: the store finished before Valkey stopped: nothing to check`);
        return { r, said };
      };

      const problems = [];
      // A new conversation answered as conv-unstored-HEX: conv-HEX must not exist.
      const checkUnstoredNew = async (r, what) => {
        const unstored = r.json.conversation_id;
        assert.match(unstored, /^conv-unstored-[0-9a-f]{32}$/);
        const twin = `conv-${unstored.slice('conv-unstored-'.length)}`;
        const n = await redis(t.valkey, 'EXISTS', ...convKeys(twin));
        const listed = await call(t.origin, '/v1/conversations?limit=100', { key: KEY });
        say(`${server} fault 10: ${what} answered as conv-unstored-…: ` +
          `${n ? `it EXISTS as conv-… (${n} keys${listed.json.data.some((c) => c.id === twin) ? ', listed' : ''})` : 'not stored'}`);
        if (n) problems.push(`${what} answered as ${unstored} was stored after all, as ${twin}`);
        if (listed.json.data.some((c) => c.id === twin)) problems.push(`${twin} is listed in GET /v1/conversations`);
      };
      const idB = newId(server, 'vstall-store-new');
      const b = await stallDuringStore({ model: CLAUDE, messages: [{ role: 'user', content: `New [[mock id=${idB} delay=1500]]` }] }, idB);
      if (b.said) await checkUnstoredNew(b.r, 'Valkey stalled during the store of a new conversation');

      // Valkey stalled for the whole request: the session is leased locally,
      // with no reading of Valkey's clock to date the deadline by, so the
      // store asks Valkey for its time first; that times out, and the turn
      // is never sent.
      const idL = newId(server, 'vstall-store-local');
      process.kill(redisProc.pid, 'SIGSTOP');
      let local;
      try {
        local = await post(t, { model: CLAUDE, messages: [{ role: 'user', content: `Local [[mock id=${idL} delay=300]]` }] });
        await sleep(300);
      } finally {
        process.kill(redisProc.pid, 'SIGCONT');
      }
      assert.equal(local.status, 200, `a stateless answer needs no Valkey: ${local.text.slice(0, 300)}`);
      assert.equal(local.headers.get('x-axon-conversation-stored'), 'false');
      await waitFor(async () => (await stats(t)).valkey === 'ok', 20000, 'Valkey back');
      await sleep(300);
      await checkUnstoredNew(local, 'a new conversation on a local lease, Valkey stalled throughout,');
      // The acquire that timed out carried a deadline in Valkey's clock: run
      // when Valkey woke, it leased nothing (fault 16), so nothing is busy.
      await waitFor(async () => { const p = (await stats(t)).pool; return p.busy === p.kept; }, 10000, 'the pool to be idle');

      // A continuation: X-Axon-Conversation-Stored: false, so not stored.
      const conv = await seed(t, 'vstall-store');
      const idA = newId(server, 'vstall-store');
      const a = await stallDuringStore(turn(conv, `id=${idA} delay=1500`), idA);
      assert.equal(a.r.json.conversation_id, conv.cid);
      const now = await convState(t, conv.cid);
      const late = now.msgs.length > conv.snap.msgs.length;
      say(`${server} fault 10: Valkey stalled during the store of a continuation answered "not stored": the turn is ${late ? 'IN Valkey after all' : 'not in Valkey'}`);
      if (a.said && late) problems.push('the continuation answered with X-Axon-Conversation-Stored: false was stored after all');
      // Whatever happened, never half a turn, and the conversation goes on.
      await settled(t, conv, {
        what: 'fault 10 (stalled during the store)', leaseLost: true,
        expectTurn: late ? { user: turn(conv, `id=${idA} delay=1500`).messages[0], assistant: OK_TEXT } : undefined,
      });
      assert.deepEqual(problems, [], 'what the answers said about storing is true');
    });

    it('fault 11: Valkey is killed and restarted: 503 while down, the stored conversation intact after, leases come back', { timeout: 90000 }, async () => {
      const conv = await seed(t, 'vkill');
      await stopRedis(redisProc);
      try {
        const r = await post(t, turn(conv, `id=${newId(server, 'vkill')}`));
        assertErrorAnswer(r, 503, 'valkey_unavailable', 'non-stream');
        const h = await call(t.origin, '/health');
        assert.equal(h.status, 200, '/health stays 200');
        say(`${server} fault 11: Valkey killed: continuation 503 in ${Math.round(r.ms)} ms`);
      } finally {
        redisProc = await startRedis(redisPort, redisDir);
      }
      await settled(t, conv, { what: 'fault 11 (killed before)', keptLapsed: true });

      // Killed while a continued stream runs: the answer ends with [DONE],
      // its turn is not stored (the store fails at once), and the lease the
      // stream held, in the append-only file, is reclaimed at its deadline.
      const conv2 = await seed(t, 'vkill-mid');
      let killed = false;
      let killing;
      const s = await streamPost(t.base, turn(conv2, `id=${newId(server, 'vkill-mid')} ms=300 reply=${words(8)}`), {
        onBlock: (block) => {
          if (!killed && block.includes('"content":"w0')) { killed = true; killing = stopRedis(redisProc); }
        },
      });
      await killing;
      assert.ok(killed, 'Valkey was killed mid-stream');
      assert.equal(s.status, 200);
      assert.equal(s.content, words(8).replaceAll('_', ' '), 'the whole answer');
      assert.ok(s.events.at(-1)?.done, 'the stream ends with [DONE]');
      const t0 = performance.now();
      redisProc = await startRedis(redisPort, redisDir);
      await waitFor(async () => (await stats(t)).valkey === 'ok', 20000, 'Valkey back');
      say(`${server} fault 11: Valkey restarted: /stats ok ${Math.round(performance.now() - t0)} ms after the restart began`);
      const d = await settled(t, conv2, { what: 'fault 11 (killed mid-stream)', leaseLost: true });
      // The stream's release went to the process's keep (no Valkey needed),
      // which hands the session back once Valkey answers; were it kept too
      // long unrenewed, its deadline reclaims it. Either way it comes back.
      assert.ok(d.reclaims <= 1, `the stream's lease, kept in the append-only file, came back: ${JSON.stringify(d)}`);
    });

    if (server === 'lighttpd') {
      it('fault 12: an axon process is SIGKILLed: the client is not left hanging, lighttpd respawns axon, the lease comes back', { timeout: 90000 }, async () => {
        const [victim] = axonPids();
        assert.ok(victim && isAlive(victim), 'the axon child of lighttpd');
        // Mid-stream.
        const conv = await seed(t, 'kill-mid');
        const id = newId(server, 'kill-mid');
        let killedAt = null;
        const s = await streamPost(t.base, turn(conv, `id=${id} ms=300 reply=${words(40)}`), {
          onBlock: (block) => {
            if (killedAt === null && block.includes('"content":"w0')) { killedAt = performance.now(); process.kill(victim, 'SIGKILL'); }
          },
        });
        assert.ok(killedAt !== null, 'killed mid-stream');
        const endMs = performance.now() - killedAt;
        const a = await waitFor(async () => { const x = await aborts(id); return x.aborted >= 1 ? x : null; }, 3000, 'the upstream transfer to end');
        say(`${server} fault 12: SIGKILL mid-stream: the client saw ${s.broke ? `the connection break (${s.broke.cause?.code ?? s.broke.message})` : 'a clean end'} ` +
          `${Math.round(endMs)} ms later, after ${s.events.length} events; no [DONE]`);
        assert.ok(endMs < 5000, `the client is not left hanging: ${Math.round(endMs)} ms`);
        // lighttpd drops the connection without the last chunk: the client
        // sees an error, not an answer that merely stopped.
        assert.ok(s.broke, 'lighttpd cut the connection');
        assert.ok(!s.events.some((e) => e.done), 'no [DONE]: the answer is not complete');
        assert.ok(!s.events.some((e) => e.chunk?.choices[0]?.finish_reason), 'no finish_reason');
        assert.ok(a.events[0].ms_since_request < 10000, 'the upstream transfer ended with the process');
        const respawn = performance.now();
        const next = await waitFor(() => axonPids().filter((p) => p !== victim)[0], 10000, 'lighttpd to start a new axon');
        say(`${server} fault 12: a new axon (pid ${next}) ${Math.round(performance.now() - respawn)} ms after the client's end`);
        const d = await settled(t, conv, { what: 'fault 12 (mid-stream)', leaseLost: true });
        assert.equal(d.reclaims, 1, `the dead holder's lease was reclaimed: ${JSON.stringify(d)}`);

        // Before the headers: the mock holds the first byte for 4 s.
        const conv2 = await seed(t, 'kill-early');
        const [victim2] = axonPids();
        const id2 = newId(server, 'kill-early');
        // Raw fetch: lighttpd's own error page carries no x-request-id.
        const answer = fetch(`${t.base}/chat/completions`, {
          method: 'POST', headers: { ...JSON_HEADERS, authorization: `Bearer ${KEY}` },
          body: JSON.stringify(turn(conv2, `id=${id2} delay=4000`)), signal: AbortSignal.timeout(20000),
        }).then(async (x) => ({ status: x.status, headers: x.headers, text: await x.text() }), (err) => err);
        await waitFor(async () => (await recorded(id2)).length >= 1, 5000, 'the request to reach the mock');
        const k0 = performance.now();
        process.kill(victim2, 'SIGKILL');
        const r = await answer;
        const ms = performance.now() - k0;
        say(`${server} fault 12: SIGKILL before the headers: the client got ${r instanceof Error ? r.message : `${r.status} ${r.headers.get('content-type')} ${r.text.slice(0, 120)}`} after ${Math.round(ms)} ms`);
        assert.ok(ms < 5000, 'not left hanging');
        // lighttpd's own 500, with the OpenAI-shaped body of
        // www/errors/axon-error-500.html (server.errorfile-prefix in
        // etc/lighttpd-base.conf).
        assert.ok(!(r instanceof Error), `an answer, not ${r}`);
        assert.equal(r.status, 500);
        assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
        const e = JSON.parse(r.text).error;
        assert.equal(e.type, 'server_error');
        assert.match(e.message, /could not get an answer from the Axon backend/);
        await waitFor(() => axonPids().filter((p) => p !== victim2)[0], 10000, 'lighttpd to start a new axon');
        const d2 = await settled(t, conv2, { what: 'fault 12 (before headers)', leaseLost: true });
        assert.equal(d2.reclaims, 1, `the dead holder's lease was reclaimed: ${JSON.stringify(d2)}`);
      });
    } else {
      it('fault 12: axon (standalone) is SIGKILLed: the client is not left hanging, nginx answers 502 JSON while it is down, the lease comes back', { timeout: 90000 }, async () => {
        const hand = await startNginxByHand(t.valkey, fwd.url);
        const h = { server, base: hand.base, origin: hand.origin, valkey: t.valkey };
        try {
          // Mid-stream.
          const conv = await seed(h, 'kill-mid');
          const id = newId(server, 'kill-mid');
          let killedAt = null;
          const victim = hand.axon;
          const s = await streamPost(h.base, turn(conv, `id=${id} ms=300 reply=${words(40)}`), {
            onBlock: (block) => {
              if (killedAt === null && block.includes('"content":"w0')) { killedAt = performance.now(); victim.child.kill('SIGKILL'); }
            },
          });
          assert.ok(killedAt !== null, 'killed mid-stream');
          const endMs = performance.now() - killedAt;
          await victim.exited;
          say(`${server} fault 12: SIGKILL mid-stream: the client saw ${s.broke ? `the connection break (${s.broke.cause?.code ?? s.broke.message})` : 'a clean end'} ` +
            `${Math.round(endMs)} ms later, after ${s.events.length} events; no [DONE]`);
          assert.ok(endMs < 5000, `the client is not left hanging: ${Math.round(endMs)} ms`);
          // nginx ends the chunked answer normally: the stream just stops,
          // without [DONE] (which is how a client can tell).
          assert.equal(s.broke, undefined, 'nginx ended the response cleanly');
          assert.equal(s.rest, '');
          assert.ok(!s.events.some((e) => e.done), 'no [DONE]');
          assert.ok(!s.events.some((e) => e.chunk?.choices[0]?.finish_reason), 'no finish_reason');
          await waitFor(async () => (await aborts(id)).aborted >= 1, 3000, 'the upstream transfer to end');
          // While axon is down nginx answers itself, in the OpenAI envelope.
          const down = await call(h.origin, '/v1/chat/completions', {
            method: 'POST', key: KEY, headers: JSON_HEADERS, body: JSON.stringify(turn(conv, 'x=1')),
          });
          assertEnvelope(down, 502, { type: 'server_error', code: null });
          await sleep(1000); // RestartSec=1s
          await hand.startAxon();
          const d = await settled(h, conv, { what: 'fault 12 (mid-stream)', leaseLost: true });
          assert.equal(d.reclaims, 1, `the dead holder's lease was reclaimed: ${JSON.stringify(d)}`);

          // Before the headers.
          const conv2 = await seed(h, 'kill-early');
          const id2 = newId(server, 'kill-early');
          const answer = call(h.origin, '/v1/chat/completions', {
            method: 'POST', key: KEY, headers: JSON_HEADERS, body: JSON.stringify(turn(conv2, `id=${id2} delay=4000`)),
          });
          await waitFor(async () => (await recorded(id2)).length >= 1, 5000, 'the request to reach the mock');
          const k0 = performance.now();
          hand.axon.child.kill('SIGKILL');
          const r = await answer;
          const ms = performance.now() - k0;
          say(`${server} fault 12: SIGKILL before the headers: ${r.status} ${r.text.trim().slice(0, 100)} after ${Math.round(ms)} ms`);
          assertEnvelope(r, 502, { type: 'server_error', code: null });
          assert.ok(ms < 5000, 'not left hanging');
          await hand.axon.exited;
          await sleep(1000);
          await hand.startAxon();
          const d2 = await settled(h, conv2, { what: 'fault 12 (before headers)', leaseLost: true });
          assert.equal(d2.reclaims, 1, `the dead holder's lease was reclaimed: ${JSON.stringify(d2)}`);
        } finally {
          await hand.stop();
        }
      });
    }

    it('fault 13: every worker busy (AXON_THREADS=1, AXON_MAX_THREADS=1): the next requests wait in the backlog and are served when the worker frees', { timeout: 90000 }, async () => {
      const q = await startOwnStack(server, t.valkey, fwd.url, { AXON_THREADS: '1', AXON_MAX_THREADS: '1' });
      const tq = { server, base: q.base, origin: q.origin, valkey: t.valkey };
      try {
        const conv = await seed(tq, 'busy');
        // A holds the only worker for about 2.5 s (a stream, so it pings).
        const idA = newId(server, 'busy-a');
        const a = streamPost(tq.base, { model: CLAUDE, messages: [{ role: 'user', content: `Hold [[mock id=${idA} delay=2500]]` }] })
          .then((x) => ({ ...x, end: Date.now() }));
        await waitFor(async () => (await recorded(idA)).length >= 1, 5000, 'A to reach the mock');
        const sent = Date.now();
        const idB = newId(server, 'busy-b');
        const bBody = turn(conv, `id=${idB}`);
        const b = post(tq, bBody).then((x) => ({ ...x, end: Date.now() }));
        const health = fetch(`${tq.origin}/health`, { signal: AbortSignal.timeout(20000) })
          .then(async (x) => ({ status: x.status, text: await x.text(), end: Date.now() }));
        const [ra, rb, rh] = await Promise.all([a, b, health]);
        assert.equal(ra.status, 200);
        assert.ok(ra.events.at(-1)?.done, 'A completed');
        assert.equal(rb.status, 200, `B was served: ${rb.text.slice(0, 200)}`);
        assert.equal(rh.status, 200, '/health was served');
        const recA = (await recorded(idA))[0];
        const recB = (await recorded(idB))[0];
        say(`${server} fault 13: queued behind the only worker: B done ${rb.end - sent} ms after it was sent ` +
          `(reached the upstream ${recB.time - ra.end} ms after A's client saw A end), /health ${rh.end - sent} ms`);
        // Served in parallel, B would reach the mock a few ms after A did.
        assert.ok(recB.time - recA.time >= 2300, `B was taken only once A was done: ${recB.time - recA.time} ms after A`);
        assert.ok(rb.end - ra.end < 5000, `B served promptly once the worker was free: ${rb.end - ra.end} ms`);
        assert.ok(rh.end - sent >= 1500, `/health waited in the backlog too: ${rh.end - sent} ms`);
        await waitFor(() => /all 1 workers are busy/.test(q.stack.out()), 3000, 'axon to log that every worker is busy');
        await settled(tq, conv, { what: 'fault 13 (served)', expectTurn: { user: bBody.messages[0], assistant: OK_TEXT } });

        // Clients that give up while queued: when the worker frees, their
        // requests never reach the upstream (checked once the session is
        // held, before the call), and nothing is stored.
        // Noticed behind both servers, streamed or not: nginx closes the
        // FastCGI connection when its client leaves; behind lighttpd axon
        // sees lighttpd's own connection to the client close (peer.h).
        const idA2 = newId(server, 'busy-a2');
        const a2 = streamPost(tq.base, { model: CLAUDE, messages: [{ role: 'user', content: `Hold [[mock id=${idA2} delay=2500]]` }] });
        await waitFor(async () => (await recorded(idA2)).length >= 1, 5000, 'A2 to reach the mock');
        const leaving = [true, false].map((streamed) => {
          const id = newId(server, streamed ? 'busy-gone-s' : 'busy-gone');
          const ctl = new AbortController();
          const done = fetch(`${tq.base}/chat/completions`, {
            method: 'POST', signal: ctl.signal, headers: { ...JSON_HEADERS, authorization: `Bearer ${KEY}` },
            body: JSON.stringify(turn(conv, `id=${id} delay=2500`, { stream: streamed })),
          }).then((x) => x.text());
          return { id, streamed, ctl, done };
        });
        await sleep(500);
        for (const l of leaving) l.ctl.abort();
        for (const l of leaving) await assert.rejects(l.done, { name: 'AbortError' });
        await a2;
        // By then each has been taken, and would have had its answer (2.5 s).
        await sleep(3500);
        for (const l of leaving) {
          const what = `${l.streamed ? 'stream' : 'non-stream'} request whose client left while queued`;
          const recs = await recorded(l.id);
          const ab = await aborts(l.id);
          say(`${server} fault 13: a ${what}: ${recs.length === 0 ? 'never reached the upstream'
            : `reached the upstream, ${ab.aborted ? `aborted ${ab.events[0].ms_since_request} ms later` : 'NOT aborted'}`}`);
          assert.equal(recs.length, 0, `the ${what} reached the upstream (aborted: ${ab.aborted})`);
        }
        await settled(tq, conv, { what: 'fault 13 (left while queued)' });
      } finally {
        await stopStack(q.stack);
      }
    });

    // A stack of its own (AXON_DRAIN_S=2, AXON_POOL_LEASE_S=30) on this
    // stack's Valkey and upstream, so it shares the pool and the stored
    // conversation: the main stack is "the other process" whose /stats must
    // see the session free at once, not when its 30 s lease runs out.
    it('fault 14: SIGTERM while a stream outlasts AXON_DRAIN_S: /health 503 during the drain, then the stream gets an error chunk and [DONE] and its session is released at once', { timeout: 90000 }, async () => {
      // AXON_FIRST_BYTE_TIMEOUT_S=10: the JSON request below waits for its
      // first byte through the whole drain.
      const q = await startOwnStack(server, t.valkey, fwd.url, { AXON_DRAIN_S: '2', AXON_POOL_LEASE_S: '30', AXON_FIRST_BYTE_TIMEOUT_S: '10' });
      try {
        const conv = await seed(t, 'drain');
        const victim = Number(q.stack.ready.AXON_PID);
        assert.ok(victim > 0 && isAlive(victim), `AXON_PID in the ready file: ${q.stack.ready.AXON_PID}`);
        // A JSON answer in flight too, its upstream silent past the deadline:
        // nothing sent yet, so it gets a real 503.
        const idJson = newId(server, 'drain-json');
        const json = call(q.origin, '/v1/chat/completions', {
          method: 'POST', key: KEY, headers: JSON_HEADERS,
          body: JSON.stringify({ model: CLAUDE, messages: [{ role: 'user', content: `Hold [[mock id=${idJson} delay=8000]]` }] }),
        });
        await waitFor(async () => (await recorded(idJson)).length >= 1, 5000, 'the JSON request to reach the mock');
        const id = newId(server, 'drain');
        let termAt = null;
        let health = null;
        // 40 words 300 ms apart: 12 s, far past the 2 s drain.
        const s = await streamPost(q.base, turn(conv, `id=${id} ms=300 reply=${words(40)}`), {
          onBlock: (block) => {
            if (termAt !== null || !block.includes('"content":"w0')) return;
            termAt = performance.now();
            process.kill(victim, 'SIGTERM');
            // Mid-drain: the web server still reaches axon, which says it is
            // going (a readiness signal), rather than a 502 from a dead socket.
            health = sleep(500).then(() => fetch(`${q.origin}/health`, { signal: AbortSignal.timeout(5000) }))
              .then(async (x) => ({ status: x.status, type: x.headers.get('content-type'), text: await x.text() }), (err) => err);
          },
        });
        const endMs = performance.now() - termAt;
        // Each answer gives its session back before its last bytes go out;
        // once both are in, right away, before anything could expire: the
        // other process's /stats.
        const j = await json;
        const after = (await stats(t)).pool;
        const busyAfter = after.busy - after.kept; // what the main process keeps is not the victim's
        assert.ok(termAt !== null, 'SIGTERM was sent mid-stream');
        const h = await health;
        say(`${server} fault 14: /health during the drain: ${h instanceof Error ? h.message : `${h.status} ${h.text.trim().slice(0, 80)}`}; ` +
          `the stream ended ${Math.round(endMs)} ms after SIGTERM, after ${s.events.length} events; the other process saw busy=${busyAfter}`);
        assert.ok(!(h instanceof Error), `/health answered during the drain: ${h}`);
        assert.equal(h.status, 503, `/health during the drain: ${h.text}`);
        assert.match(h.type ?? '', /^application\/json/);
        assert.equal(JSON.parse(h.text).status, 'draining');
        const err = assertErrorStream(s, 'server_shutting_down', 'fault 14 (drain deadline)');
        assert.match(err.message, /shutting down/);
        assert.ok(s.content.startsWith('w0') && s.content.length < words(40).length, `part of the answer came first: ${s.content}`);
        assert.ok(endMs >= 1500 && endMs < 4500, `cut at the drain deadline (2 s): ${Math.round(endMs)} ms`);
        assert.equal(busyAfter, 0, 'the sessions were released at the deadline, not left to their 30 s lease');
        assertEnvelope(j, 503, { type: 'server_error', code: 'server_shutting_down' });
        assertValid('error', j.json, 'the JSON answer cut by the drain');
        await waitFor(async () => (await aborts(id)).aborted >= 1, 3000, 'the upstream transfer to end');
        await waitFor(() => !isAlive(victim), 5000, `axon (pid ${victim}) to exit after the drain`);
        // (b) released, not reclaimed; (c) the cut turn is not stored; (d).
        await settled(t, conv, { what: 'fault 14 (drain deadline)' });
      } finally {
        await stopStack(q.stack);
      }
    });

    // Issue 18 item 2: one tenant's large reads must not switch storage off
    // for everyone. Key one has 24 conversations of 4 MiB each (copies of
    // one, seeded in Valkey in Axon's format: one per follow-up, so that
    // concurrent turns on one conversation are not what is tested) and
    // continues all of them at once, while key two sends 20 plain requests.
    // This row's stack runs AXON_VALKEY_TIMEOUT_MS=200, not the suite's
    // 1000 (lib.mjs), to reproduce it. Measured on the unchanged code (each
    // whole history read inside one timeout, the timeouts counted as Valkey
    // down): at 200 ms behind nginx 16 of key one's 24 got 503 and 2 of key
    // two's 20 were unstored (behind lighttpd, which passed fewer of them to
    // axon at once, only the breaker counter was missing); at 150 ms both
    // failed (7 and 12 503s; 1 and 6 unstored). Lower timeouts fail after
    // the fix too, for another reason: on this 2-core machine the 24
    // requests' own work (JSON of 4 MiB in axon, the mock and this process)
    // starves Valkey, and at 150 ms one or two of key two's small stores
    // now and then missed their store deadline (conv.h); at 50 ms, several.
    it('fault 15: one tenant continues 24 conversations of 4 MiB at once: the other tenant stays stored, the breaker stays closed', { timeout: 120000 }, async () => {
      const q = await startOwnStack(server, t.valkey, fwd.url, {
        AXON_VALKEY_TIMEOUT_MS: '200', AXON_API_KEYS: `${KEY},${KEY2}`, AXON_POOL_SIZE: '64', AXON_POOL_LEASE_S: '30',
      });
      const tq = { server, base: q.base, origin: q.origin, valkey: t.valkey };
      const metric = async (name) => {
        const r = await call(tq.origin, '/metrics', { key: KEY });
        assert.equal(r.status, 200, r.text);
        const line = r.text.split('\n').find((l) => l.startsWith(`${name} `));
        return line ? Number(line.slice(name.length + 1)) : NaN; // asserted last
      };
      try {
        const conv = await seed(tq, 'bigread');
        // The large history: one stored conversation of key one, grown in
        // Valkey by 160 user/assistant pairs of 12.5 KiB, then copied.
        const big = await seed(tq, 'bigread-big');
        const [msgsKey, metaKey] = convKeys(big.cid);
        const pad = 'x'.repeat(12800);
        const extra = [];
        for (let i = 0; i < 160; i++) {
          extra.push(JSON.stringify({ role: 'user', content: `q${i} ${pad}` }));
          extra.push(JSON.stringify({ role: 'assistant', content: `a${i} ${pad}` }));
        }
        await redis(tq.valkey, 'RPUSH', msgsKey, ...extra);
        const bytes = Number(big.snap.meta.bytes) + extra.reduce((n, m) => n + Buffer.byteLength(m), 0);
        await redis(tq.valkey, 'HSET', metaKey, 'message_count', String(2 + extra.length), 'bytes', String(bytes));
        const ids = [big.cid];
        for (let i = 1; i < 24; i++) {
          const cid = `conv-${Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('hex')}`;
          await redis(tq.valkey, 'COPY', metaKey, `axon:{c:${cid}}:meta`);
          await redis(tq.valkey, 'COPY', msgsKey, `axon:{c:${cid}}:msgs`);
          ids.push(cid);
        }
        say(`${server} fault 15: 24 conversations of ${(bytes / 1048576).toFixed(1)} MiB (${2 + extra.length} messages)`);
        const opens0 = await metric('axon_valkey_breaker_opens_total');

        const t0 = performance.now();
        // gpt-4o-mini (a 200k context): the replay sent upstream is cut to
        // the model's budget, so that what loads this 2-core machine is the
        // reads from Valkey rather than 24 uploads of 4 MiB to the mock.
        const ones = ids.map((cid, i) => post(tq, {
          model: 'gpt-4o-mini', conversation_id: cid, messages: [{ role: 'user', content: `More ${i} [[mock id=${newId(server, 'big1')}]]` }],
        }).catch((err) => ({ status: 0, text: String(err), headers: new Headers() })));
        const twos = Array.from({ length: 20 }, async (_, i) => {
          await sleep(i * 25);
          const res = await call(tq.origin, '/v1/chat/completions', {
            method: 'POST', key: KEY2, headers: JSON_HEADERS,
            body: JSON.stringify({ model: CLAUDE, messages: [{ role: 'user', content: `Plain ${i} [[mock id=${newId(server, 'big2')}]]` }] }),
          });
          return res;
        });
        const [r1, r2] = await Promise.all([Promise.all(ones), Promise.all(twos)]);
        const ms = Math.round(performance.now() - t0);
        const opens = (await metric('axon_valkey_breaker_opens_total')) - opens0;
        const unstored = r2.filter((r) => r.status === 200 &&
          (r.headers.get('x-axon-conversation-stored') === 'false' || !/^conv-[0-9a-f]{32}$/.test(r.json?.conversation_id ?? '')));
        const statuses = (rs) => JSON.stringify(rs.reduce((m, r) => ({ ...m, [r.status]: (m[r.status] ?? 0) + 1 }), {}));
        say(`${server} fault 15: ${ms} ms; key one ${statuses(r1)}, key two ${statuses(r2)}, ` +
          `key two unstored ${unstored.length}, breaker opened ${opens} times`);
        for (const r of r2) assert.equal(r.status, 200, `key two: ${r.text.slice(0, 300)}`);
        assert.equal(unstored.length, 0, 'every answer to key two was stored');
        for (const r of r1) assert.equal(r.status, 200, `key one's follow-up: ${r.text.slice(0, 300)}`);
        assert.equal(opens, 0, 'the circuit breaker never opened (axon_valkey_breaker_opens_total)');
        // Key one's own turns may be refused by their store deadline under
        // its own load; each answer says truly whether its turn was stored.
        for (const [i, cid] of ids.entries()) {
          const n = Number(await redis(tq.valkey, 'HGET', `axon:{c:${cid}}:meta`, 'message_count'));
          const stored = r1[i].headers.get('x-axon-conversation-stored') !== 'false';
          assert.equal(n, 2 + extra.length + (stored ? 2 : 0), `${cid}: stored ${stored}`);
        }
        for (const cid of ids) await redis(tq.valkey, 'DEL', `axon:{c:${cid}}:meta`, `axon:{c:${cid}}:msgs`);
        await settled(tq, conv, { what: 'fault 15' });
      } finally {
        await stopStack(q.stack);
      }
    });

    // Issue 18 item 1. A pool of 2 on a stack of its own (its own forwarders
    // to both mocks, so pools of its own in Valkey, which /stats adds up; the
    // default 60 s lease). One request creates
    // the sessions; then Valkey stops (SIGSTOP) for longer than its timeout
    // while 4 requests arrive, and goes on. Their acquire scripts sat in
    // Valkey's sockets: run late, each used to lease a session (or register
    // a waiter) for a holder that had stopped waiting, and the pool was gone
    // for the whole lease. Axon gives the script a deadline in Valkey's clock
    // (a timeout after it is sent) and waits a timeout past it: a script run
    // later does nothing and says so. So /stats shows nothing busy or waiting
    // as soon as Valkey answers, and the next request is served at once.
    // Twice: a stall of 1.5 timeouts (the late answers come while the
    // requests still wait, and they take the sessions from Valkey), and one
    // of 2.5 (the requests have gone to local leases, as in the issue).
    it('fault 16: Valkey stalls while a pool of 2 takes 4 requests: no ghost lease, the pool is whole as soon as Valkey answers', { timeout: 90000 }, async () => {
      const f2 = await startForwarder(mockUrl());
      const fv = await startForwarder(vllmMockUrl());
      let q;
      try {
        q = await startOwnStack(server, t.valkey, f2.url, { AXON_POOL_SIZE: '2', AXON_POOL_LEASE_S: '60', AXON_VLLM_BASE_URL: fv.url });
        const tq = { server, base: q.base, origin: q.origin, valkey: t.valkey };
        const conv = await seed(tq, 'ghost');
        const p0 = (await stats(tq)).pool;
        assert.equal(p0.idle + p0.kept, 2, 'the seed created the 2 sessions of its pool (one kept by the process)');
        for (const stallMs of [1.5 * TEST_VALKEY_TIMEOUT_MS, 2.5 * TEST_VALKEY_TIMEOUT_MS]) {
          process.kill(redisProc.pid, 'SIGSTOP');
          let answers;
          try {
            answers = Promise.all([0, 1, 2, 3].map((i) => post(tq, {
              model: CLAUDE, messages: [{ role: 'user', content: `Stalled ${i} [[mock id=${newId(server, `ghost-${i}`)}]]` }],
            })));
            await sleep(stallMs);
          } finally {
            process.kill(redisProc.pid, 'SIGCONT');
          }
          const woke = performance.now();
          const rs = await answers;
          for (const r of rs) assert.equal(r.status, 200, `a request that arrived during the stall: ${r.text.slice(0, 300)}`);
          // The registry's figures (not the local fallback's) once Valkey
          // answers: the breaker may have opened on the stall.
          const st = await waitFor(async () => {
            const x = await stats(tq).catch(() => null);
            return x && x.valkey === 'ok' && x.pool.scope === 'valkey' ? x : null;
          }, 10000, 'Valkey to answer /stats');
          const seen = performance.now() - woke;
          const n0 = performance.now();
          const next = await post(tq, { model: CLAUDE, messages: [{ role: 'user', content: `After [[mock id=${newId(server, 'ghost-next')}]]` }] });
          const nextMs = performance.now() - n0;
          const stored = rs.map((r) => (r.headers.get('x-axon-conversation-stored') === 'false' ? 'unstored' : 'stored'));
          say(`${server} fault 16: Valkey stalled ${stallMs} ms under 4 requests (all 200: ${stored.join(', ')}); ` +
            `${Math.round(seen)} ms after SIGCONT /stats says busy ${st.pool.busy}, waiting ${st.pool.waiting}; the next request: ${next.status} in ${Math.round(nextMs)} ms`);
          assert.equal(st.pool.busy, st.pool.kept, `stall of ${stallMs} ms: no session left leased to a request that stopped waiting (busy: only what the process keeps)`);
          assert.equal(st.pool.waiting, 0, `stall of ${stallMs} ms: no waiter left registered by a request that stopped waiting`);
          assert.equal(next.status, 200, `the next request: ${next.text.slice(0, 300)}`);
          assert.ok(nextMs < 3000, `served without waiting for a session: ${Math.round(nextMs)} ms`);
        }
        await settled(tq, conv, { what: 'fault 16' });
      } finally {
        if (q) await stopStack(q.stack);
        await f2.close().catch(() => {});
        await fv.close().catch(() => {});
      }
    });
  });
}

// Once every test has reported, leave at once. Node 20 was seen (in a
// make test run, and twice by hand) to finish this file's last test and then
// spin for good in its exit-time handle cleanup (gdb: FreeEnvironment ->
// CleanupHandles -> uv_run), until the runner's 900 s timeout failed the
// whole suite. 'exit' comes before that cleanup, after the test harness's
// own exit handler has written the results (stdout is a pipe: synchronous).
process.on('exit', (code) => process.reallyExit(process.exitCode ?? code));
