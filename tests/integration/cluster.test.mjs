// Valkey Cluster (issue 21, item 4), through lighttpd and through nginx.
// Each server gets its own stack on its own real cluster
// (tests/cluster/cluster.sh: 3 primaries, 3 replicas on loopback,
// cluster-node-timeout 1 s) named by AXON_VALKEY_URL=redis+cluster://...
// with AXON_VALKEY_WAIT_REPLICAS=1. Checked:
//   - chat conversations (new and continued) and Responses chains land on
//     all three primaries, each conversation's keys on its slot's primary,
//     the pool's keys together on one;
//   - a conversation's slot migrated (SETSLOT IMPORTING/MIGRATING, MIGRATE,
//     SETSLOT NODE) while the client continues it: every turn answered, the
//     history whole on the new node;
//   - a primary SIGKILLed and failed over to its replica while traffic
//     runs: no request hangs (each answers 200 or 503 within seconds), every
//     turn whose answer did not say X-Axon-Conversation-Stored: false is in
//     the history afterwards, and the conversations go on after.
// What the cluster holds is read with redis-cli (-c follows redirections).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  SERVER_NAMES, KEY, AXON_BIN, REPO_ROOT, cleanEnv, scratchDir, freePort, startStack, stopStack,
  sleep, waitFor, TEST_VALKEY_TIMEOUT_MS,
} from './lib.mjs';
import { mockUrl } from './mock.mjs';

const run = promisify(execFile);
const CLUSTER_SH = path.join(REPO_ROOT, 'tests', 'cluster', 'cluster.sh');
const say = (line) => console.log(`# ${line}`);
let counter = 0;
const tag = (t) => `cl-${t}-${++counter}-${process.pid}`;

// Six consecutive free ports and their cluster-bus ports (+10000), below
// lib.mjs's freePort range (26384-32767) and its bus ports.
function listens(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
async function freeBase() {
  for (let tries = 0; tries < 100; tries++) {
    const base = 13000 + Math.floor(Math.random() * 3000);
    let ok = true;
    for (let i = 0; i < 6 && ok; i++) ok = (await listens(base + i)) && (await listens(base + 10000 + i));
    if (ok) return base;
  }
  throw new Error('found no six free ports for a cluster');
}

async function cli(port, ...args) {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { timeout: 10000 });
  return stdout.replace(/\n$/, '');
}

// CLUSTER NODES as seen from port: [{ id, port, primary, of, slots: [[lo, hi]...], failed }].
async function nodes(port) {
  const out = await cli(port, 'cluster', 'nodes');
  return out.split('\n').filter(Boolean).map((line) => {
    const f = line.split(' ');
    const slots = f.slice(8).filter((s) => /^\d/.test(s)).map((s) => {
      const [lo, hi] = s.split('-').map(Number);
      return [lo, hi ?? lo];
    });
    return {
      id: f[0], port: Number(f[1].split(':')[1].split('@')[0]), primary: f[2].includes('master'),
      of: f[3], slots, failed: f[2].includes('fail'),
    };
  });
}

async function ownerOf(c, key) {
  const slot = Number(await cli(c.alive(), 'cluster', 'keyslot', key));
  const ns = await nodes(c.alive());
  const n = ns.find((x) => x.primary && !x.failed && x.slots.some(([lo, hi]) => slot >= lo && slot <= hi));
  return { slot, port: n?.port, id: n?.id, ns };
}

async function startCluster() {
  const dir = scratchDir('cluster');
  const base = await freeBase();
  await run(CLUSTER_SH, ['start', dir, String(base)], { timeout: 60000 });
  const c = { dir, base, dead: new Set() };
  c.ports = [0, 1, 2, 3, 4, 5].map((i) => base + i);
  c.alive = () => c.ports.find((p) => !c.dead.has(p));
  c.pid = (port) => Number(fs.readFileSync(path.join(dir, String(port), 'pid'), 'utf8'));
  return c;
}

async function startClusterStack(server, c) {
  const dir = scratchDir(`cluster-${server}`);
  const seeds = c.ports.slice(0, 3).map((p) => `127.0.0.1:${p}`).join(',');
  return startStack({
    env: cleanEnv({
      AXON_BIN, AXON_SERVER: server, AXON_PORT: String(await freePort()), AXON_API_KEYS: KEY,
      STACK_DIR: dir, AXON_VALKEY_URL: `redis+cluster://${seeds}`, ANTHROPIC_BASE_URL: mockUrl(),
      ANTHROPIC_API_KEY: 'sk-ant-test-key', AXON_VALKEY_WAIT_REPLICAS: '1', AXON_POOL_LEASE_S: '2',
      AXON_VALKEY_TIMEOUT_MS: String(TEST_VALKEY_TIMEOUT_MS), AXON_LOG_LEVEL: 'info',
    }),
    readyFile: () => fs.existsSync(path.join(dir, 'ready')) && path.join(dir, 'ready'),
  });
}

// One POST: { status, json, stored (false only when the answer said so), ms }.
async function post(base, route, body) {
  const t0 = performance.now();
  const res = await fetch(`${base}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30000),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* an error page */ }
  return {
    status: res.status, json, text, ms: performance.now() - t0,
    stored: res.headers.get('x-axon-conversation-stored') !== 'false',
  };
}
const chat = (base, body) => post(base, '/chat/completions', { model: 'gpt-4o', ...body });
const userSays = (text) => ({ messages: [{ role: 'user', content: text }] });

// A conversation's stored messages, read through the cluster.
async function history(c, cid) {
  const out = await cli(c.alive(), '-c', 'lrange', `axon:{c:${cid}}:msgs`, '0', '-1');
  return out ? out.split('\n') : [];
}

for (const server of SERVER_NAMES) {
  describe(`Valkey Cluster behind ${server}`, () => {
    let c; let stack; let base;
    before(async () => {
      c = await startCluster();
      stack = await startClusterStack(server, c);
      base = stack.ready.AXON_URL;
    });
    after(async () => {
      if (stack) await stopStack(stack);
      if (c) await run(CLUSTER_SH, ['stop', c.dir, String(c.base)]);
    });

    it('conversations and Responses chains land on all three primaries; the pool keeps one slot', async () => {
      const owners = new Set();
      for (let i = 0; i < 12; i++) {
        const t = tag('spread');
        const first = await chat(base, userSays(`Hello ${t}`));
        assert.equal(first.status, 200, first.text);
        const cid = first.json.conversation_id;
        const second = await chat(base, { conversation_id: cid, ...userSays(`Again ${t}`) });
        assert.equal(second.status, 200, second.text);
        assert.ok(first.stored && second.stored, 'both turns stored and replicated');
        // On its slot's primary itself (no -c: a wrong node answers MOVED).
        const o = await ownerOf(c, `axon:{c:${cid}}:msgs`);
        assert.equal(await cli(o.port, 'llen', `axon:{c:${cid}}:msgs`), '4');
        assert.equal(await cli(o.port, 'exists', `axon:{c:${cid}}:meta`), '1');
        owners.add(o.port);
      }
      for (let i = 0; i < 6; i++) {
        const r1 = await post(base, '/responses', { model: 'gpt-4o', input: `First ${tag('resp')}` });
        assert.equal(r1.status, 200, r1.text);
        const r2 = await post(base, '/responses', { model: 'gpt-4o', previous_response_id: r1.json.id, input: 'Second' });
        assert.equal(r2.status, 200, r2.text);
        assert.equal(r2.json.previous_response_id, r1.json.id);
        const conv = `conv-${r2.json.id.slice(5, 37)}`;
        const o = await ownerOf(c, `axon:{c:${conv}}:msgs`);
        assert.equal(await cli(o.port, 'llen', `axon:{c:${conv}}:msgs`), '4', 'the chain grew in one conversation');
        owners.add(o.port);
      }
      assert.equal(owners.size, 3, `conversations on ${[...owners]}`);
      // The pool's keys: all on one primary, none elsewhere.
      const holders = [];
      for (const p of c.ports.slice(0, 3)) {
        const keys = await cli(p, '--scan', '--pattern', 'axon:{p:*');
        if (keys) holders.push({ p, keys: keys.split('\n') });
      }
      assert.equal(holders.length, 1, `pool keys on ${holders.map((h) => h.p)}`);
      assert.ok(holders[0].keys.length >= 2, holders[0].keys.join(' '));
    });

    it('a conversation continues while its slot migrates to another primary (ASK, then MOVED)', async () => {
      const t = tag('mig');
      const first = await chat(base, userSays(`Start ${t}`));
      assert.equal(first.status, 200, first.text);
      const cid = first.json.conversation_id;
      const from = await ownerOf(c, `axon:{c:${cid}}:msgs`);
      const to = from.ns.find((n) => n.primary && n.port !== from.port);
      const primaries = from.ns.filter((n) => n.primary).map((n) => n.port);
      let turns = 1; const failures = [];
      let moving = true;
      const migrate = (async () => {
        await sleep(150);
        await cli(to.port, 'cluster', 'setslot', String(from.slot), 'importing', from.id);
        await cli(from.port, 'cluster', 'setslot', String(from.slot), 'migrating', to.id);
        await sleep(50);
        const keys = (await cli(from.port, 'cluster', 'getkeysinslot', String(from.slot), '100')).split('\n').filter(Boolean);
        await cli(from.port, 'migrate', '127.0.0.1', String(to.port), '', '0', '5000', 'keys', ...keys);
        await sleep(300); // the keys are on `to`, the slot still `from`'s: ASK
        for (const p of [to.port, from.port, ...primaries.filter((p) => p !== to.port && p !== from.port)]) {
          await cli(p, 'cluster', 'setslot', String(from.slot), 'node', to.id);
        }
        await sleep(300); // the map moved: MOVED once, then the new owner
        moving = false;
      })();
      while (moving || turns < 8) {
        const r = await chat(base, { conversation_id: cid, ...userSays(`Turn ${turns} ${t}`) });
        if (r.status !== 200 || !r.stored) failures.push(`${r.status} stored=${r.stored} ${r.text.slice(0, 200)}`);
        turns++;
      }
      await migrate;
      assert.deepEqual(failures, [], 'every turn answered and stored');
      const now = await ownerOf(c, `axon:{c:${cid}}:msgs`);
      assert.equal(now.port, to.port, 'the slot moved');
      assert.equal(await cli(to.port, 'llen', `axon:{c:${cid}}:msgs`), String(2 * turns), `${turns} turns, whole`);
      const h = await history(c, cid);
      for (let i = 1; i < turns; i++) assert.ok(h.some((m) => m.includes(`Turn ${i} ${t}`)), `turn ${i} kept`);
      say(`${server}: ${turns} turns during the migration of slot ${from.slot} from ${from.port} to ${to.port}`);
    });

    it('a primary SIGKILLed and failed over: nothing hangs, every turn said stored is kept', async () => {
      // Conversations on every primary.
      const convs = [];
      for (let i = 0; convs.length < 9 && i < 40; i++) {
        const t = tag('fo');
        const r = await chat(base, userSays(`Open ${t}`));
        assert.equal(r.status, 200, r.text);
        assert.ok(r.stored);
        const cid = r.json.conversation_id;
        convs.push({ cid, t, kept: [`Open ${t}`], owner: (await ownerOf(c, `axon:{c:${cid}}:msgs`)).port });
      }
      const victim = convs[0].owner;
      const view = await nodes(c.alive());
      const victimId = view.find((x) => x.port === victim).id;
      const replica = view.find((n) => !n.primary && n.of === victimId).port;
      let round = 0; let slowest = 0; const statuses = {};
      const once = async () => {
        round++;
        await Promise.all(convs.map(async (cv) => {
          const text = `Round ${round} ${cv.t}`;
          const r = await chat(base, { conversation_id: cv.cid, ...userSays(text) });
          slowest = Math.max(slowest, r.ms);
          statuses[r.status] = (statuses[r.status] ?? 0) + 1;
          // 409 conversation_busy: a turn whose lock release was lost with
          // the primary; the lock's lease (2 s here) frees it.
          const busy = r.status === 409 && r.json?.error?.code === 'conversation_busy';
          assert.ok(r.status === 200 || r.status === 503 || busy, `${r.status} ${r.text.slice(0, 300)}`);
          if (r.status === 200 && r.stored) cv.kept.push(text);
        }));
      };
      await once();
      process.kill(c.pid(victim), 'SIGKILL');
      c.dead.add(victim);
      const killedAt = performance.now();
      // Traffic while the cluster notices (node timeout 1 s) and the
      // replica takes over.
      let promoted = 0;
      while (performance.now() - killedAt < 20000) {
        await once();
        const me = (await nodes(replica)).find((n) => n.port === replica);
        if (me.primary && !promoted) promoted = performance.now() - killedAt;
        if (promoted && performance.now() - killedAt > promoted + 1500) break;
        await sleep(100);
      }
      assert.ok(promoted > 0, 'the replica took over');
      // The killed node comes back as the new primary's replica: until it
      // is in sync, WAIT 1 on those slots cannot be met (stored: false).
      await run(CLUSTER_SH, ['restart', c.dir, String(c.base), String(victim)], { timeout: 30000 });
      c.dead.delete(victim);
      await waitFor(async () => /state=online/.test(await cli(replica, 'info', 'replication')), 15000,
        'the restarted node to replicate the new primary');
      // After it: every conversation goes on, stored, on its new primary
      // (a lock a lost release left frees itself within its lease).
      for (const cv of convs) {
        const text = `After ${cv.t}`;
        await waitFor(async () => {
          const r = await chat(base, { conversation_id: cv.cid, ...userSays(text) });
          if (r.status === 200 && r.stored) cv.kept.push(text);
          return r.status === 200 && r.stored;
        }, 15000, `${cv.cid} to go on after the failover`);
      }
      for (const cv of convs) {
        const h = await history(c, cv.cid);
        for (const k of cv.kept) assert.ok(h.some((m) => m.includes(k)), `${cv.cid}: "${k}" was said stored and is lost`);
      }
      say(`${server}: primary ${victim} killed, replica ${replica} promoted after ${Math.round(promoted)} ms; ` +
          `statuses ${JSON.stringify(statuses)}; slowest answer ${Math.round(slowest)} ms`);
      assert.ok(slowest < 5000, `a request took ${Math.round(slowest)} ms: it must fail fast, not hang`);
    });
  });
}
