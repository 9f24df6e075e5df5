// A Sentinel-managed Valkey (AXON_VALKEY_URL=redis+sentinel://s1,s2,s3/mymaster)
// behind each web server: a group of its own per server
// (tests/sentinel/sentinel.sh: a primary, a replica, three Sentinels with
// quorum 2, down-after 500 ms), and a stack of its own on it.
//   - conversations are stored and continued through the primary the
//     Sentinels name;
//   - the primary SIGKILLed once the replica has caught up: the Sentinels
//     promote the replica, requests in the meantime fail fast (503 for a
//     continued conversation, unstored answers otherwise) and never hang,
//     axon stores and reads on the new primary within a few seconds, and no
//     conversation acknowledged before the kill is lost;
//   - a planned SENTINEL FAILOVER: nothing fails on the old primary, which
//     keeps taking writes until the Sentinels demote it (about 10 s later:
//     their INFO period), so axon must find the switch itself
//     (SENTINEL_CHECK_MS, sentinel.h): new conversations land on the new
//     primary within a few seconds of the switch.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import OpenAI from 'openai';
import {
  SERVER_NAMES, KEY, AXON_BIN, REPO_ROOT, call, assertEnvelope, cleanEnv, scratchDir, freePort,
  startStack, stopStack, sleep, waitFor, originOf, TEST_VALKEY_TIMEOUT_MS,
} from './lib.mjs';
import { mockUrl } from './mock.mjs';
import { redis } from './redis.mjs';

const SCRIPT = path.join(REPO_ROOT, 'tests', 'sentinel', 'sentinel.sh');
let counter = 0;
const marker = (tag) => `[[mock id=sentinel-${tag}-${++counter}-${process.pid}]]`;

const listens = (port) => new Promise((resolve) => {
  const srv = net.createServer();
  srv.once('error', () => resolve(false));
  srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
});

// Five consecutive free ports: primary, replica, three Sentinels.
async function freeBase() {
  for (let tries = 0; tries < 50; tries++) {
    const base = await freePort();
    let ok = base + 4 < 65536;
    for (let i = 1; i < 5 && ok; i++) ok = await listens(base + i);
    if (ok) return base;
  }
  throw new Error('no five consecutive free ports');
}

// One group: start it (sentinel.sh waits until the Sentinels agree).
async function startGroup(name) {
  const dir = scratchDir(`sentinel-${name}`);
  const base = await freeBase();
  execFileSync(SCRIPT, ['start', dir, String(base)], { stdio: 'inherit', timeout: 30000 });
  const sentinels = [2, 3, 4].map((i) => base + i);
  return {
    dir, base, sentinels,
    url: `redis+sentinel://${sentinels.map((p) => `127.0.0.1:${p}`).join(',')}/mymaster`,
    pid: (node) => Number(fs.readFileSync(path.join(dir, `${node}.pid`), 'utf8')),
    stop: () => execFileSync(SCRIPT, ['stop', dir], { stdio: 'inherit' }),
  };
}

const at = (port) => `redis://127.0.0.1:${port}`;
const info = async (port, section) => Object.fromEntries((await redis(at(port), 'INFO', section))
  .split('\r\n').filter((l) => l.includes(':')).map((l) => l.split(/:(.*)/s).slice(0, 2)));

// The primary every Sentinel names, as a port ('' while they disagree).
async function named(g) {
  const ports = await Promise.all(g.sentinels.map((p) => redis(at(p), 'SENTINEL', 'get-master-addr-by-name', 'mymaster')
    .then((a) => a?.[1] ?? '').catch(() => '')));
  return ports.every((p) => p === ports[0]) ? Number(ports[0]) : 0;
}

// The replica at replicaPort has everything the primary at primaryPort acknowledged.
async function caughtUp(primaryPort, replicaPort) {
  await waitFor(async () => {
    const [p, r] = await Promise.all([info(primaryPort, 'replication'), info(replicaPort, 'replication')]);
    return r.master_link_status === 'up' && Number(r.slave_repl_offset) === Number(p.master_repl_offset);
  }, 10000, 'the replica to catch up');
}

for (const server of SERVER_NAMES) {
  describe(`Sentinel-managed Valkey behind ${server}`, () => {
    let g; let stack; let base; let origin; let ai;
    before(async () => {
      g = await startGroup(server);
      const dir = scratchDir(`sentinel-stack-${server}`);
      stack = await startStack({
        env: cleanEnv({
          AXON_BIN, AXON_SERVER: server, AXON_PORT: String(await freePort()), AXON_API_KEYS: KEY,
          STACK_DIR: dir, AXON_VALKEY_URL: g.url, ANTHROPIC_BASE_URL: mockUrl(),
          ANTHROPIC_API_KEY: 'sk-ant-test-key', AXON_VALKEY_TIMEOUT_MS: String(TEST_VALKEY_TIMEOUT_MS),
        }),
        readyFile: () => fs.existsSync(path.join(dir, 'ready')) && path.join(dir, 'ready'),
      });
      base = stack.ready.AXON_URL;
      origin = originOf(base);
      ai = new OpenAI({ baseURL: base, apiKey: KEY, maxRetries: 0, timeout: 30000 });
    });
    after(async () => {
      if (stack) await stopStack(stack);
      g?.stop();
    });

    const chat = (content, conversationId) => call(origin, '/v1/chat/completions', {
      method: 'POST', key: KEY, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }], ...(conversationId ? { conversation_id: conversationId } : {}) }),
    });
    const stored = (r) => r.status === 200 && r.headers.get('x-axon-conversation-stored') !== 'false' &&
      /^conv-[0-9a-f]{32}$/.test(r.json?.conversation_id ?? '');
    // Every turn of a conversation is there: its items name each marker.
    const history = async (cid, texts) => {
      const r = await call(origin, `/v1/conversations/${cid}/items?limit=100`, { key: KEY });
      assert.equal(r.status, 200, `${cid}: ${r.text}`);
      for (const t of texts) assert.ok(r.text.includes(t), `${cid} has "${t}"`);
    };
    // Keys of a conversation on the server at port.
    const onServer = async (port, cid) => (await redis(at(port), 'EXISTS', `axon:{c:${cid}}:meta`)) === 1;

    it('stores and continues conversations on the primary the Sentinels name', async () => {
      const first = await ai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `Hello ${marker('a')}` }] });
      assert.match(first.conversation_id, /^conv-[0-9a-f]{32}$/);
      const t2 = `Again ${marker('a2')}`;
      const next = await ai.chat.completions.create({ model: 'gpt-4o', conversation_id: first.conversation_id, messages: [{ role: 'user', content: t2 }] });
      assert.equal(next.conversation_id, first.conversation_id);
      await history(first.conversation_id, [t2]);
      assert.ok(await onServer(g.base, first.conversation_id), 'stored on the primary');
      assert.equal((await call(origin, '/stats')).json.valkey, 'ok');
    });

    it('the primary SIGKILLed: fast failures meanwhile, then the promoted replica serves everything acknowledged', { timeout: 60000 }, async () => {
      const before = [];
      for (let i = 0; i < 3; i++) {
        const text = `Keep ${marker('keep')}`;
        const r = await chat(text);
        assert.ok(stored(r), r.text);
        before.push({ cid: r.json.conversation_id, text });
      }
      await caughtUp(g.base, g.base + 1);
      process.kill(g.pid('primary'), 'SIGKILL');
      const t0 = performance.now();
      // Requests while the Sentinels fail over: each answers within the
      // Valkey timeout's bounds (a hung Valkey would cost 30 s here), as
      // 200 (stored or not) or, for a continued conversation, 503.
      let back = 0;
      let failedFast = 0;
      while (!back && performance.now() - t0 < 20000) {
        const s = performance.now();
        const [fresh, cont] = await Promise.all([chat(`During ${marker('during')}`), chat(`On ${marker('on')}`, before[0].cid)]);
        const ms = performance.now() - s;
        assert.ok(ms < 3 * TEST_VALKEY_TIMEOUT_MS + 1500, `a request during the failover took ${ms.toFixed(0)} ms`);
        assert.equal(fresh.status, 200, fresh.text);
        if (cont.status !== 200) {
          assertEnvelope(cont, 503, { type: 'server_error', code: 'valkey_unavailable' });
          failedFast++;
        }
        if (stored(fresh) && cont.status === 200) back = performance.now() - t0;
        else await sleep(100);
      }
      assert.ok(back, 'axon stores and reads again within 20 s of the kill');
      console.log(`# ${server}: stored and read on the new primary ${back.toFixed(0)} ms after the kill (${failedFast} continued requests refused meanwhile)`);
      assert.ok(back < 10000, `back after ${back.toFixed(0)} ms`);
      // axon may be back before all three Sentinels agree: it takes the
      // first Sentinel's answer that ROLE confirms (seen in make test under
      // ASan: back 1.1 s after the kill, the Sentinels not yet agreed).
      await waitFor(async () => (await named(g)) === g.base + 1, 10000,
        'the Sentinels to name the former replica');
      for (const b of before) {
        await history(b.cid, [b.text]);
        assert.ok(await onServer(g.base + 1, b.cid), `${b.cid} on the new primary`);
      }
      const r = await chat(`After ${marker('after')}`);
      assert.ok(stored(r) && await onServer(g.base + 1, r.json.conversation_id), 'new conversations go to the new primary');
    });

    it('a planned SENTINEL FAILOVER: axon follows the switch within seconds, and nothing stored before is lost', { timeout: 60000 }, async () => {
      // The killed primary comes back as a replica of the new one, and the
      // Sentinels see it up before they can fail over to it.
      const oldPort = g.base; const newPort = g.base + 1;
      execFileSync('redis-server', ['--port', String(oldPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--dir', g.dir, '--daemonize', 'yes', '--pidfile', path.join(g.dir, 'primary.pid'),
        '--logfile', path.join(g.dir, 'primary.log'), '--replicaof', '127.0.0.1', String(newPort)]);
      const text = `Before ${marker('planned')}`;
      const r0 = await chat(text);
      assert.ok(stored(r0), r0.text);
      await caughtUp(newPort, oldPort);
      await waitFor(async () => {
        const r = await redis(at(g.sentinels[0]), 'SENTINEL', 'FAILOVER', 'mymaster').catch((e) => e);
        return r === 'OK'; // NOGOODSLAVE until the Sentinels have seen the replica again
      }, 20000, 'SENTINEL FAILOVER accepted');
      await waitFor(async () => (await named(g)) === oldPort, 15000, 'the Sentinels to switch');
      const switched = performance.now();
      let cid = '';
      await waitFor(async () => {
        const r = await chat(`Moved ${marker('moved')}`);
        if (stored(r) && await onServer(oldPort, r.json.conversation_id)) cid = r.json.conversation_id;
        return cid;
      }, 10000, 'a conversation stored on the new primary');
      const ms = performance.now() - switched;
      console.log(`# ${server}: stored on the new primary ${ms.toFixed(0)} ms after the Sentinels switched`);
      assert.ok(ms < 5000, `moved ${ms.toFixed(0)} ms after the switch`);
      await history(r0.json.conversation_id, [text]);
      const t2 = `Next ${marker('next')}`;
      const next = await chat(t2, r0.json.conversation_id);
      assert.equal(next.status, 200, next.text);
      await history(r0.json.conversation_id, [text, t2]);
    });
  });
}
