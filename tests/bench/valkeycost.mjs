// What one kind of request costs Valkey: N requests through one axon path,
// counted on the redis-server that path alone uses. Prints one JSON line.
//
//   node tests/bench/valkeycost.mjs --url http://127.0.0.1:PORT --key KEY
//        --redis-port P --kind new|continued|unstored|resp-unstored
//        [--n N] [--conc C] [--warm W] [--label PATH]
//
// Kinds (the chat body is run.sh's: one user "hi", max_tokens 64):
//   new            chat completion without conversation_id: under the default
//                  AXON_STORE=always it starts a stored conversation
//   continued      chat completion continuing a conversation of one stored
//                  turn: N conversations are made first (not counted), then
//                  each is continued once, so every counted request replays
//                  the same history
//   unstored       the same body as new, sent to a stack with
//                  AXON_STORE=on_request: chat that stores nothing
//   resp-unstored  POST /v1/responses with "store": false
//
// First W requests of the same kind (default 20; not counted) warm the
// path: a process's first requests load the scripts and fill the pool.
// The counted window: CONFIG RESETSTAT, SLOWLOG RESET (slowlog-log-slower-than
// 0 for the run, put back after), INFO cpu; the N requests; INFO cpu, INFO
// commandstats, SLOWLOG GET -1. Figures, all per request (over N):
//   usec    the server time of the commands axon sent: the sum of usec in
//           INFO commandstats, less the commands its scripts ran. A script's
//           EVALSHA usec already includes the commands it calls, and
//           commandstats counts those again under their own names (Redis
//           7.0: EVAL of 1,000 SETs gave eval 638 usec and set 147 usec per
//           call), so the plain sum counts script work twice. The scripts'
//           commands are the SLOWLOG entries with no client address ("?:0":
//           the script client), whose durations are the same measurement.
//   usec_all  the plain commandstats sum, for comparison with older notes
//   calls   commands axon sent (commandstats calls, less the scripts' ones)
//   nested  commands its scripts ran
//   cpu_us  redis-server's own CPU time (INFO cpu, user + sys, main thread
//           and all) over the window: parsing, replies and the event loop
//           included, so it is what a Valkey core spends; at c=1 it also
//           holds the idle event loop's ticks between requests
//   rt      x-axon-valkey-round-trips (AXON_TEST_ROUTES=1): the median, and
//           the most, over the N answers
// Everything on that redis-server in the window counts: background work of
// the axon processes (lease renewals, batched records) included, which is
// part of what requests cost. The bench's own commands (CONFIG, SLOWLOG,
// INFO) are left out.
import http from 'node:http';
import { execFileSync } from 'node:child_process';

const opt = { n: '200', conc: '1', warm: '20', label: '' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) opt[argv[i].replace(/^--/, '')] = argv[i + 1];
for (const k of ['url', 'key', 'redis-port', 'kind']) {
  if (!opt[k]) {
    console.error(`valkeycost: --${k} is required`);
    process.exit(2);
  }
}
const KINDS = ['new', 'continued', 'unstored', 'resp-unstored'];
if (!KINDS.includes(opt.kind)) {
  console.error(`valkeycost: --kind is one of ${KINDS.join(', ')}`);
  process.exit(2);
}
const n = Number(opt.n), conc = Number(opt.conc), warm = Number(opt.warm);
const base = new URL(opt.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: conc });

const redis = (...args) => execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', opt['redis-port'], ...args],
  { encoding: 'utf8', maxBuffer: 1 << 28 });
const redisJson = (...args) => JSON.parse(redis('--json', ...args));

// One request; resolves with the status, the round-trips header and the body.
const post = (path, body) => new Promise((resolve, reject) => {
  const data = Buffer.from(JSON.stringify(body));
  const req = http.request({
    host: base.hostname, port: base.port, path, method: 'POST', agent,
    headers: { 'content-type': 'application/json', 'content-length': data.length, authorization: `Bearer ${opt.key}` },
  }, (res) => {
    const parts = [];
    res.on('data', (d) => parts.push(d));
    res.on('end', () => resolve({
      status: res.statusCode, rt: Number(res.headers['x-axon-valkey-round-trips']),
      body: Buffer.concat(parts).toString('utf8'),
    }));
  });
  req.on('error', reject);
  req.end(data);
});

const chat = { model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] };
const CHAT = '/v1/chat/completions';

// The request bodies, one per request: the first `warm` are not counted.
let bodies;
if (opt.kind === 'continued') {
  bodies = [];
  for (let i = 0; i < warm + n; i++) {
    const r = await post(CHAT, chat);
    const id = r.status === 200 ? JSON.parse(r.body).conversation_id : undefined;
    if (typeof id !== 'string' || id.startsWith('conv-unstored')) {
      console.error(`valkeycost: making a conversation to continue failed: ${r.status} ${r.body.slice(0, 300)}`);
      process.exit(1);
    }
    bodies.push({ path: CHAT, body: { ...chat, conversation_id: id } });
  }
} else if (opt.kind === 'resp-unstored') {
  bodies = Array(warm + n).fill({ path: '/v1/responses', body: { model: chat.model, max_output_tokens: 64, input: 'hi', store: false } });
} else {
  bodies = Array(warm + n).fill({ path: CHAT, body: chat });
}
for (const b of bodies.splice(0, warm)) {
  const r = await post(b.path, b.body);
  if (r.status !== 200) {
    console.error(`valkeycost: a warm-up ${opt.kind} request failed: ${r.status} ${r.body.slice(0, 300)}`);
    process.exit(1);
  }
}

const cpuSeconds = () => {
  const v = Object.fromEntries(redis('info', 'cpu').split(/\r?\n/).map((l) => l.split(':')));
  return Number(v.used_cpu_user) + Number(v.used_cpu_sys);
};
const saved = ['slowlog-log-slower-than', 'slowlog-max-len'].map((k) => [k, redisJson('config', 'get', k)[k]]);
redis('config', 'set', 'slowlog-log-slower-than', '0');
redis('config', 'set', 'slowlog-max-len', String(Math.min(1000000, Math.max(128, n * 200))));

const results = [];
let next = 0;
redis('config', 'resetstat');
redis('slowlog', 'reset');
const cpu0 = cpuSeconds();
const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: conc }, async () => {
  while (next < bodies.length) {
    const b = bodies[next++];
    results.push(await post(b.path, b.body));
  }
}));
const wall = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu1 = cpuSeconds();
const stats = redis('info', 'commandstats');
const slow = redisJson('slowlog', 'get', '-1');
for (const [k, v] of saved) redis('config', 'set', k, v);
agent.destroy();

// cmdstat_NAME:calls=C,usec=U,... ; the bench's own commands left out.
const OWN = /^(config|slowlog|info)(\||$)/;
let calls = 0, usecAll = 0;
const byName = {};
for (const m of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
  if (OWN.test(m[1])) continue;
  calls += Number(m[2]);
  usecAll += Number(m[3]);
  byName[m[1]] = Number(m[2]);
}
// SLOWLOG entries: [id, time, duration µs, args, client address, client name].
const scripted = slow.filter((e) => e[4] === '?:0');
const nestedUsec = scripted.reduce((a, e) => a + Number(e[2]), 0);
const ok = results.filter((r) => r.status === 200).length;
const rts = results.map((r) => r.rt).filter(Number.isFinite).sort((a, b) => a - b);
const per = (x, d = 2) => Number((x / n).toFixed(d));
console.log(JSON.stringify({
  kind: 'valkey_cost', path: opt.label, what: opt.kind, conc, n, ok, wall_s: Number(wall.toFixed(3)),
  usec: per(usecAll - nestedUsec), usec_all: per(usecAll),
  calls: per(calls - scripted.length), nested: per(scripted.length),
  cpu_us: per((cpu1 - cpu0) * 1e6, 1),
  rt: rts.length ? rts[(rts.length - 1) >> 1] : null, rt_max: rts.length ? rts.at(-1) : null,
  commands: byName,
}));
if (ok !== n) {
  const bad = results.find((r) => r.status !== 200);
  console.error(`valkeycost: ${n - ok} of ${n} ${opt.kind} requests failed: ${bad.status} ${bad.body.slice(0, 300)}`);
  process.exit(1);
}
