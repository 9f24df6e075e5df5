// The soak test's load and sampler (tests/soak/run.sh starts the stack and
// runs this). Node 20 built-ins only.
//
//   node tests/soak/driver.mjs --ready STACK_DIR/ready --minutes M --out DIR
//        [--conc N] [--think-ms MS] [--sample-s S] [--prime-s S] [--settle-s S]
//        [--cycle-s S] [--burst-every-s S] [--burst-n N] [--seed N]
//
// Phases:
//   prime     24 slow n=2 Claude streams at once, then 24 vLLM ones, twice
//             (every core worker thread then holds the connections it keeps
//             at rest), then the full mix for --prime-s (default 20% of the
//             load, 15-180 s): warm-up, not measured;
//   settle    no load for --settle-s (an extra worker leaves after 5 s without
//             a turn to accept), one GET /health (it moves the accept lock
//             off a lingering extra worker), 6 s; then the baseline: fds (by
//             kind), threads, RSS and malloc heap of every axon;
//   load      --minutes of the mix in cycles of --cycle-s (60 s; 30 s for runs
//             under 5 min): --conc closed-loop clients (each waits 0..2x
//             --think-ms between requests), plus --burst-n slow streams at
//             once every --burst-every-s (first one 5 s into the cycle),
//             which start extra worker threads; after each cycle every open
//             request finishes, --settle-s at rest (the extra workers leave,
//             and the last one trims the heap), and the figures at rest.
// Every --sample-s it samples each axon's VmRSS (and where it is: malloc heap,
// thread stacks, other, from /proc/PID/smaps), open fds and threads, the web
// server's, Valkey's and the mock's RSS, /stats (pool busy/idle/waiting,
// requests) and the client's counts, into DIR/samples.csv.
//
// The mix (weights in MIX below): Claude and vLLM-route chat completions,
// streamed and not; new conversations and continued ones (conversation_id,
// up to 8 turns each); tools, n=2, structured output, json_object; upstream
// faults from the mock ([[mock fault=...]]: 500/502/503/529, 429, reset,
// reset-before, stall, stall-midstream, error-midstream, malformed) with
// axon's short timeouts; client errors (400, 401, 404); clients that
// disconnect mid-stream, before the first byte, and while waiting for a
// non-streamed answer; conversation list, get and delete; the model list.
// Every answer is classified: ok, an expected error (the one the scenario
// provokes, by status and error code, or the error chunk of a stream that
// had started), a disconnect we made, "Valkey unavailable" (the correct
// answer while Valkey timed out: a stall of this shared machine, counted
// apart), or unexpected (anything else, with what it was).
//
// Checks (the report gives each with its figures):
//   1. RSS: the least-squares slope over the second half of the load of
//      VmRSS under load (one point per cycle: the mean of its samples, since
//      within a cycle RSS follows the bursts, and samples seconds apart are
//      not independent: a sample-level fit called a flat run 3.5 SE steep),
//      of VmRSS at the rest points, and of the malloc heap at the rest
//      points; each fails if above 1% of the mean RSS per 10 minutes AND
//      more than 3 standard errors above zero. Runs under 5 min report it,
//      unjudged: glibc's arenas take about 10 minutes of this mix to stop
//      growing. The sample-level slope is reported too;
//   2. open fds at every rest: the connections the per-thread caches keep
//      (to Valkey and to each upstream) vary with which threads served
//      last, so they must only not grow: at each rest of the second half no
//      more than the most of the baseline and the first half's rests, + 2;
//      every other fd back to its baseline count exactly; and no FastCGI
//      connection left open;
//   3. threads at every rest <= the baseline (every extra worker has left);
//   4. no unexpected outcome, and "Valkey unavailable" for at most 0.5%;
//   5. /stats pool busy 0 and waiting 0 at the end;
//   6. the same axon processes at the end as at the start (none crashed and
//      was respawned).
// Writes DIR/report.md, DIR/samples.csv, DIR/summary.json; prints the report;
// exits 1 if a check failed, 2 on a usage or harness error.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

// ---- arguments ---------------------------------------------------------------
const argv = process.argv.slice(2);
function opt(name, def) {
  const i = argv.indexOf(name);
  if (i < 0) return def;
  if (i + 1 >= argv.length) die(`${name} needs a value`);
  return argv[i + 1];
}
function die(msg) {
  console.error(`soak: error: ${msg}`);
  process.exit(2);
}
const readyFile = opt('--ready');
if (!readyFile) die('--ready FILE is required');
const minutes = Number(opt('--minutes', '10'));
const outDir = opt('--out', 'build/soak');
const conc = Number(opt('--conc', '8'));
const thinkMs = Number(opt('--think-ms', '25'));
const sampleS = Number(opt('--sample-s', minutes >= 5 ? '5' : '2'));
const primeS = Number(opt('--prime-s', String(Math.round(Math.min(180, Math.max(15, minutes * 60 * 0.2))))));
const settleS = Number(opt('--settle-s', '6'));
const burstEveryS = Number(opt('--burst-every-s', minutes >= 5 ? '60' : '20'));
const burstN = Number(opt('--burst-n', '24'));
const cycleS = Number(opt('--cycle-s', minutes >= 5 ? '60' : '30'));
let seed = Number(opt('--seed', String(Date.now() % 2147483647)));
const seed0 = seed;   // for the report (the draws interleave with timing, so a run is similar, not identical)
for (const [k, v] of Object.entries({ minutes, conc, thinkMs, sampleS, primeS, settleS, burstEveryS, burstN, cycleS })) {
  if (!Number.isFinite(v) || v < 0) die(`bad value for ${k}: ${v}`);
}
if (minutes <= 0) die('--minutes must be above 0');

const FD_SLACK = 2;           // cached connections at rest: noise around their level
// The fds of the connection caches: every thread's hiredis context, and
// libcurl's kept connections to each upstream.
const CACHED_FD = /^tcp (valkey|claude mock|vllm mock)/;
const RSS_LIMIT_PCT = 1;      // per 10 minutes, of the mean RSS
const RSS_SIGMAS = 3;         // and significantly above zero
const VALKEY_MAX_PCT = 0.5;   // answers during a Valkey stall of the machine, at most
const RSS_MIN_MINUTES = 5;    // shorter runs report the slope but do not judge it
const REQ_TIMEOUT_MS = 30000; // any answer slower than this is unexpected
const SATURATE = 24;          // concurrent requests that occupy every core worker thread

// ---- the stack -----------------------------------------------------------------
const ready = {};
for (const line of fs.readFileSync(readyFile, 'utf8').split('\n')) {
  const i = line.indexOf('=');
  if (i > 0) ready[line.slice(0, i)] = line.slice(i + 1);
}
const base = new URL(ready.AXON_URL);          // .../v1
const origin = base.origin;
const prefix = base.pathname.replace(/\/v1\/?$/, '');
const KEY = ready.AXON_KEY;
const serverPid = Number(ready.SERVER_PID);
const axonPids = (ready.AXON_PIDS || ready.AXON_PID || '').split(/\s+/).filter(Boolean).map(Number);
if (!axonPids.length) die(`no axon PID in ${readyFile}`);

// ---- random ---------------------------------------------------------------------
function rnd() { // mulberry32: reproducible with --seed
  seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rnd() * a.length)];
const chance = (p) => rnd() < p;
const WORDS = 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon'.split(' ');
function text(minWords = 3, maxWords = 300) {
  const n = minWords + Math.floor(rnd() * rnd() * (maxWords - minWords));
  const w = [];
  for (let i = 0; i < n; i++) w.push(pick(WORDS));
  return w.join(' ');
}
const replyWords = (n) => Array.from({ length: n }, (_, i) => `w${i}`).join('_');

// ---- HTTP -------------------------------------------------------------------------
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

// One request. Returns what happened, as facts; classify() judges them.
// opts.abortAfterEvents: destroy the connection after that many data: events;
// opts.abortAfterMs: destroy it that long after sending.
function request({ method = 'POST', path: p, body, key = KEY, stream = false, abortAfterEvents, abortAfterMs }) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const r = {
      status: 0, json: undefined, text: '', events: 0, done: false, streamError: null,
      convId: null, finish: null, content: '', aborted: false, netError: null, ms: 0, pings: 0,
    };
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(abortTimer);
      r.ms = performance.now() - t0;
      resolve(r);
    };
    const headers = { 'content-type': 'application/json' };
    if (key) headers.authorization = `Bearer ${key}`;
    const payload = body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body));
    if (payload !== undefined) headers['content-length'] = Buffer.byteLength(payload);
    const req = http.request(origin + prefix + p, { method, headers, agent });
    const abortNow = () => {
      r.aborted = true;
      req.destroy();
      finish();
    };
    const timer = setTimeout(() => {
      r.netError = `no complete answer within ${REQ_TIMEOUT_MS} ms`;
      req.destroy();
      finish();
    }, REQ_TIMEOUT_MS);
    const abortTimer = abortAfterMs !== undefined ? setTimeout(abortNow, abortAfterMs) : undefined;
    req.on('error', (e) => {
      if (!r.aborted && !r.netError) r.netError = e.code || e.message;
      finish();
    });
    req.on('response', (res) => {
      r.status = res.statusCode;
      r.ctype = res.headers['content-type'] || '';
      res.setEncoding('utf8');
      let buf = '';
      const sse = r.status === 200 && r.ctype.startsWith('text/event-stream');
      res.on('data', (d) => {
        if (settled) return;
        if (!sse) { r.text += d; return; }
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) { r.pings++; continue; }
            if (!line.startsWith('data: ')) continue;
            const data = line.slice(6);
            if (data === '[DONE]') { r.done = true; continue; }
            r.events++;
            let c;
            try { c = JSON.parse(data); } catch { r.streamError = 'unparsable chunk'; continue; }
            if (c.error) r.streamError = c.error.code ?? c.error.type ?? 'error';
            if (c.conversation_id) r.convId = c.conversation_id;
            for (const ch of c.choices ?? []) {
              if (ch.delta?.content) r.content += ch.delta.content;
              if (ch.finish_reason) r.finish = ch.finish_reason;
            }
          }
          if (abortAfterEvents !== undefined && r.events >= abortAfterEvents) { abortNow(); return; }
        }
      });
      res.on('end', () => {
        if (!sse) {
          try { r.json = JSON.parse(r.text); } catch { /* not JSON */ }
          if (r.json?.conversation_id) r.convId = r.json.conversation_id;
          const ch = r.json?.choices?.[0];
          if (ch) { r.finish = ch.finish_reason; r.content = ch.message?.content ?? ''; }
        }
        finish();
      });
      res.on('error', (e) => {
        if (!r.aborted && !r.netError) r.netError = `response: ${e.code || e.message}`;
        finish();
      });
      res.on('aborted', () => {
        if (!r.aborted && !r.netError) r.netError = 'response aborted by the server';
      });
    });
    req.end(payload);
  });
}

// ---- expectations --------------------------------------------------------------------
// Each returns a label for an acceptable outcome, or null.
const errOf = (r) => r.json?.error;
const okJson = (r) => r.status === 200 && r.json?.object === 'chat.completion' && Array.isArray(r.json.choices)
  && r.json.choices.length > 0 && !r.aborted && !r.netError;
const okStream = (r) => r.status === 200 && r.done && !r.streamError && r.events > 0 && r.finish && !r.aborted && !r.netError;
const isErr = (status, code, type) => (r) => {
  if (r.status !== status || r.aborted || r.netError) return false;
  const e = errOf(r);
  return !!e && (code === undefined || e.code === code) && (type === undefined || e.type === type);
};
const isChunkErr = (code) => (r) => r.status === 200 && r.done && r.streamError === code && !r.aborted && !r.netError;
const weDisconnected = (r) => r.aborted && !r.netError && (r.status === 0 || r.status === 200);

function chatBody({ model = pick(['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-6', 'claude-haiku-4-5']), stream,
  content, extra = {}, directives = '' }) {
  const b = { model, messages: [{ role: 'user', content: `${content ?? text()}${directives ? ` [[mock ${directives}]]` : ''}` }] };
  if (stream) {
    b.stream = true;
    if (chance(0.5)) b.stream_options = { include_usage: true };
  }
  if (chance(0.3)) b.max_tokens = 256 + Math.floor(rnd() * 2000);
  return { ...b, ...extra };
}
const dripped = () => `reply=${replyWords(4 + Math.floor(rnd() * 16))} ms=${pick([0, 2, 5, 10])}`;

// Conversations being continued: id, turns, busy (one turn at a time), born.
const convs = [];
const CONV_POOL = 40, CONV_TURNS = 8, CONV_MAX_AGE_MS = 120000;
function takeConv() {
  const now = Date.now();
  for (let i = convs.length - 1; i >= 0; i--) if (now - convs[i].born > CONV_MAX_AGE_MS && !convs[i].busy) convs.splice(i, 1);
  const idle = convs.filter((c) => !c.busy);
  if (!idle.length) return null;
  const c = pick(idle);
  c.busy = true;
  return c;
}
function dropConv(c) {
  const i = convs.indexOf(c);
  if (i >= 0) convs.splice(i, 1);
}
function keepConv(id) {
  if (id && convs.length < CONV_POOL) convs.push({ id, turns: 1, busy: false, born: Date.now() });
}

// The mix: name, weight, run() -> { r, verdict }. verdict: [kind, label].
const MIX = [
  ['chat', 16, async () => {
    const stream = chance(0.5);
    const r = await request({ path: '/v1/chat/completions', stream,
      body: chatBody({ stream, directives: stream ? dripped() : '' }) });
    if (stream ? okStream(r) : okJson(r)) { if (chance(0.5)) keepConv(r.convId); return ['ok']; }
    return [null, r];
  }],
  ['continue', 14, async () => {
    const c = takeConv();
    const stream = chance(0.5);
    if (!c) {
      const r = await request({ path: '/v1/chat/completions', stream, body: chatBody({ stream }) });
      if (stream ? okStream(r) : okJson(r)) { keepConv(r.convId); return ['ok', 'a new one (none to continue)']; }
      return [null, r];
    }
    const r = await request({ path: '/v1/chat/completions', stream,
      body: { ...chatBody({ stream, model: 'gpt-4o' }), conversation_id: c.id } });
    c.busy = false;
    if ((stream ? okStream(r) : okJson(r)) && r.convId === c.id) {
      if (++c.turns >= CONV_TURNS) dropConv(c);
      return ['ok'];
    }
    dropConv(c);
    return [null, r];
  }],
  ['vllm', 8, async () => {
    const stream = chance(0.5);
    const extra = chance(0.4) ? { thinking: true } : {};
    const r = await request({ path: '/v1/chat/completions', stream,
      body: chatBody({ model: pick(['qwen3-coder', 'Qwen/Qwen3-8B']), stream, extra, directives: stream && chance(0.5) ? 'ms=2' : '' }) });
    return (stream ? okStream(r) : okJson(r)) ? ['ok'] : [null, r];
  }],
  ['tools', 4, async () => {
    const stream = chance(0.5);
    const extra = {
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather of a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }],
    };
    const r = await request({ path: '/v1/chat/completions', stream, body: chatBody({ stream, extra }) });
    return (stream ? okStream(r) : okJson(r)) && r.finish === 'tool_calls' ? ['ok'] : [null, r];
  }],
  ['n2_json', 3, async () => {
    // n=2 (two parallel upstream calls), Claude's structured output, or
    // json_object on the vLLM route (the Claude mock answers prose, which
    // json_object would rightly refuse).
    const stream = chance(0.5);
    const what = pick(['n', 'schema', 'json_object']);
    const extra = what === 'n' ? { n: 2 }
      : what === 'schema' ? { response_format: { type: 'json_schema', json_schema: { name: 'answer', strict: true,
        schema: { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false } } } }
        : { model: 'qwen3-coder', response_format: { type: 'json_object' } };
    const r = await request({ path: '/v1/chat/completions', stream, body: chatBody({ stream, extra }) });
    return (stream ? okStream(r) : okJson(r)) ? ['ok', what] : [null, r];
  }],
  ['fault_5xx', 5, async () => {
    const stream = chance(0.5);
    const code = pick([500, 502, 503, 529]);
    const r = await request({ path: '/v1/chat/completions', stream, body: chatBody({ stream, directives: `fault=${code}` }) });
    // On a stream, retries that outlast AXON_HEARTBEAT_S (a slow moment of
    // the machine) send a ": ping" first: then the same error is a chunk.
    if (code === 529) {
      if (isErr(503, 'server_is_overloaded', 'server_error')(r)) return ['expected', '529 -> 503 server_is_overloaded'];
      if (stream && isChunkErr('server_is_overloaded')(r)) return ['expected', '529 -> error chunk server_is_overloaded (after a ping)'];
      return [null, r];
    }
    if (isErr(502, null, 'server_error')(r)) return ['expected', `${code} -> 502 server_error (after retries)`];
    if (stream && isChunkErr('server_error')(r)) return ['expected', `${code} -> error chunk server_error (after a ping)`];
    return [null, r];
  }],
  ['fault_reset', 4, async () => {
    const stream = chance(0.5);
    const fault = pick(['reset', 'reset-before']);
    const r = await request({ path: '/v1/chat/completions', stream, body: chatBody({ stream, directives: `fault=${fault}` }) });
    // A reset after the answer began cuts it, as an early EOF would
    // (upstream_protocol_error); before any answer byte nothing was reached.
    const code = fault === 'reset' ? 'upstream_protocol_error' : 'upstream_unreachable';
    if (isErr(502, code)(r)) return ['expected', `${fault} -> 502 ${code}`];
    if (stream && fault === 'reset' && isChunkErr(code)(r)) return ['expected', `reset mid-stream -> error chunk ${code}`];
    if (stream && isChunkErr(code)(r)) return ['expected', `reset-before -> error chunk ${code} (after a ping)`];
    return [null, r];
  }],
  ['fault_midstream', 3, async () => {
    const stream = chance(0.7);
    const r = await request({ path: '/v1/chat/completions', stream, body: chatBody({ stream, directives: 'fault=error-midstream' }) });
    if (stream && isChunkErr('server_is_overloaded')(r)) return ['expected', 'error event mid-stream -> error chunk server_is_overloaded'];
    if (!stream && isErr(502, 'upstream_protocol_error')(r)) return ['expected', 'error-midstream (non-stream) -> 502 upstream_protocol_error'];
    return [null, r];
  }],
  ['fault_stall', 2, async () => {
    const stream = chance(0.5);
    const fault = pick(['stall', 'stall-midstream']);
    const r = await request({ path: '/v1/chat/completions', stream, body: chatBody({ stream, directives: `fault=${fault}` }) });
    if (!stream && isErr(504, 'upstream_timeout')(r)) return ['expected', `${fault} -> 504 upstream_timeout`];
    if (stream && isChunkErr('upstream_timeout')(r)) return ['expected', `${fault} (stream) -> error chunk upstream_timeout`];
    return [null, r];
  }],
  ['fault_malformed', 2, async () => {
    const stream = chance(0.5);
    const r = await request({ path: '/v1/chat/completions', stream, body: chatBody({ stream, directives: 'fault=malformed' }) });
    return isErr(502, 'upstream_protocol_error')(r) ? ['expected', 'malformed -> 502 upstream_protocol_error'] : [null, r];
  }],
  ['fault_429', 1, async () => {
    const stream = chance(0.5);
    const r = await request({ path: '/v1/chat/completions', stream, body: chatBody({ stream, directives: 'fault=429' }) });
    if (!stream && isErr(429, 'rate_limit_exceeded')(r)) return ['expected', '429 (after retries) -> 429 rate_limit_exceeded'];
    if (stream && isChunkErr('rate_limit_exceeded')(r)) return ['expected', '429 after a ping -> error chunk rate_limit_exceeded'];
    return [null, r];
  }],
  ['bad_request', 3, async () => {
    const kind = pick(['temperature', 'messages', 'json', 'type']);
    const body = kind === 'temperature' ? chatBody({ extra: { temperature: 5 } })
      : kind === 'messages' ? { model: 'gpt-4o' }
        : kind === 'json' ? '{"model":"gpt-4o","messages":[{"role":"user","content":"x"}'
          : chatBody({ extra: { max_tokens: 'many' } });
    const r = await request({ path: '/v1/chat/completions', body });
    return isErr(400, undefined, 'invalid_request_error')(r) ? ['expected', `400 invalid_request_error (${kind})`] : [null, r];
  }],
  ['bad_key', 2, async () => {
    const r = await request({ path: '/v1/chat/completions', key: 'sk-axon-not-a-key', body: chatBody({}) });
    return isErr(401, 'invalid_api_key')(r) ? ['expected', '401 invalid_api_key'] : [null, r];
  }],
  ['unknown_model', 1, async () => {
    const r = await request({ path: '/v1/chat/completions', body: chatBody({ model: 'no-such-model' }) });
    return isErr(404, 'model_not_found')(r) ? ['expected', '404 model_not_found'] : [null, r];
  }],
  ['disconnect_stream', 6, async () => {
    const r = await request({ path: '/v1/chat/completions', stream: true, abortAfterEvents: 1 + Math.floor(rnd() * 4),
      body: chatBody({ stream: true, directives: `reply=${replyWords(40)} ms=25` }) });
    return weDisconnected(r) && r.events > 0 ? ['disconnect', 'mid-stream'] : [null, r];
  }],
  ['disconnect_early', 2, async () => {
    const r = await request({ path: '/v1/chat/completions', stream: true, abortAfterMs: 100 + Math.floor(rnd() * 200),
      body: chatBody({ stream: true, directives: 'delay=600' }) });
    return weDisconnected(r) && r.events === 0 ? ['disconnect', 'before the first byte'] : [null, r];
  }],
  ['disconnect_nonstream', 1, async () => {
    const r = await request({ path: '/v1/chat/completions', abortAfterMs: 100 + Math.floor(rnd() * 100),
      body: chatBody({ directives: 'delay=400' }) });
    return weDisconnected(r) ? ['disconnect', 'waiting for a non-streamed answer'] : [null, r];
  }],
  ['conversations', 4, async () => {
    const what = pick(['list', 'list', 'get', 'delete']);
    if (what === 'list') {
      const r = await request({ method: 'GET', path: `/v1/conversations?limit=${1 + Math.floor(rnd() * 20)}` });
      return r.status === 200 && r.json?.object === 'list' ? ['ok', 'list'] : [null, r];
    }
    const c = takeConv();
    if (!c) return ['ok', `${what}: none idle`];
    if (what === 'get') {
      const r = await request({ method: 'GET', path: `/v1/conversations/${c.id}` });
      c.busy = false;
      return r.status === 200 && r.json?.id === c.id ? ['ok', 'get'] : [null, r];
    }
    dropConv(c);
    const r = await request({ method: 'DELETE', path: `/v1/conversations/${c.id}` });
    return r.status === 200 && r.json?.deleted === true ? ['ok', 'delete'] : [null, r];
  }],
  ['models', 2, async () => {
    const r = await request({ method: 'GET', path: '/v1/models' });
    return r.status === 200 && Array.isArray(r.json?.data) && r.json.data.length > 0 ? ['ok'] : [null, r];
  }],
];
const totalWeight = MIX.reduce((s, m) => s + m[1], 0);
function pickScenario() {
  let x = rnd() * totalWeight;
  for (const m of MIX) { if ((x -= m[1]) < 0) return m; }
  return MIX[0];
}

// A slow stream for the bursts: about 1 s, so the burst overlaps.
async function burstStream() {
  const r = await request({ path: '/v1/chat/completions', stream: true,
    body: chatBody({ stream: true, directives: `reply=${replyWords(25)} ms=40` }) });
  return okStream(r) ? ['ok'] : [null, r];
}

// ---- counting ------------------------------------------------------------------------
const counts = { total: 0, ok: 0, expected: 0, disconnect: 0, unexpected: 0, valkey: 0 };
const byScenario = {};   // name -> { total, ok, expected, disconnect, unexpected, ms: [] }
const byKind = {};       // "expected: label" -> n
const unexpected = [];   // first 50, with what happened
let inFlight = 0;
let phase = 'start';

function describe(r) {
  if (!r) return 'the scenario threw';
  const e = errOf(r);
  return [
    `status ${r.status}`, r.aborted ? 'aborted by us' : '', r.netError ? `network: ${r.netError}` : '',
    e ? `error ${e.type}/${e.code}: ${String(e.message).slice(0, 120)}` : '',
    r.streamError ? `stream error chunk ${r.streamError}` : '',
    r.ctype?.startsWith('text/event-stream') ? `${r.events} events, done=${r.done}, finish=${r.finish}` : '',
    !e && r.status !== 200 && r.text ? `body ${r.text.slice(0, 120)}` : '',
    `${Math.round(r.ms)} ms`,
  ].filter(Boolean).join('; ');
}

async function runOne(name, fn) {
  inFlight++;
  const t0 = performance.now();
  let v;
  try {
    v = await fn();
  } catch (e) {
    v = [null, null, e];
  }
  inFlight--;
  const ms = performance.now() - t0;
  const s = (byScenario[name] ??= { total: 0, ok: 0, expected: 0, disconnect: 0, unexpected: 0, valkey: 0, ms: [] });
  s.total++; counts.total++;
  if (s.ms.length < 20000) s.ms.push(ms);
  let kind = v?.[0] ?? 'unexpected';
  // Valkey unavailable: axon's answer while its breaker is open after Valkey
  // timed out (on this shared VM, a stall of the whole machine), and later the
  // 404 for a turn that was answered then but could not be stored. Correct
  // answers to an outage the soak did not cause: counted apart, bounded below.
  const vr = v?.[1];
  if (kind === 'unexpected' && vr && !vr.aborted && !vr.netError
      && ((vr.status === 503 && errOf(vr)?.code === 'valkey_unavailable')
        || (vr.status === 404 && errOf(vr)?.code === 'conversation_not_found' && /never stored/.test(errOf(vr)?.message ?? '')))) {
    kind = 'valkey';
    v[1] = `${vr.status} ${errOf(vr).code}`;
  }
  s[kind]++; counts[kind]++;
  let label = v?.[1];
  if (kind === 'unexpected') {
    label = v?.[2] ? `threw: ${v[2].message}` : describe(v?.[1]);
    if (unexpected.length < 50) unexpected.push({ t: elapsedS(), phase, scenario: name, what: label });
    label = label.replace(/\d+ ms$/, '').replace(/req_[0-9a-f]+|conv-[0-9a-f]+|chatcmpl-\w+/g, '…');
  }
  if (kind !== 'ok') {
    const k = `${kind}: ${name}: ${label ?? ''}`;
    byKind[k] = (byKind[k] ?? 0) + 1;
  }
}

// ---- sampling ------------------------------------------------------------------------
const T0 = performance.now();
const elapsedS = () => (performance.now() - T0) / 1000;
function procInfo(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(st.match(/^VmRSS:\s+(\d+)/m)?.[1] ?? NaN);
    const threads = Number(st.match(/^Threads:\s+(\d+)/m)?.[1] ?? NaN);
    const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return null;
    return { rss, threads, fds };
  } catch {
    return null;
  }
}
function childrenOf(pid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}
// What each open fd of a process is: TCP connections by peer (Valkey, the
// Claude mock, the vLLM mock), FastCGI connections (unix sockets on axon's
// listening path), socket pairs (libcurl's multi wake-up pairs), pipes,
// files. A leak shows as the category that grows.
const portOf = (u) => { try { return Number(new URL(u).port); } catch { return -1; } };
const PEERS = { [portOf(ready.AXON_VALKEY_URL)]: 'valkey', [portOf(ready.ANTHROPIC_BASE_URL)]: 'claude mock',
  [portOf(ready.AXON_VLLM_BASE_URL)]: 'vllm mock' };
const TCP_STATE = { '01': '', '08': ' CLOSE_WAIT', '06': ' TIME_WAIT', '04': ' FIN_WAIT1', '05': ' FIN_WAIT2', '07': ' CLOSE', '09': ' LAST_ACK', '02': ' SYN_SENT', '0A': ' LISTEN' };
function socketTable() {
  const t = new Map();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let txt = '';
    try { txt = fs.readFileSync(f, 'utf8'); } catch { continue; }
    for (const line of txt.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length < 10) continue;
      const rport = parseInt(c[2].split(':')[1], 16);
      t.set(c[9], `tcp ${PEERS[rport] ?? 'other'}${TCP_STATE[c[3]] ?? ` state ${c[3]}`}`);
    }
  }
  try {
    for (const line of fs.readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length < 7) continue;
      const listening = (parseInt(c[3], 16) & 0x10000) !== 0;
      t.set(c[6], c[7] ? (listening ? 'unix listening socket' : 'unix FastCGI connection') : 'unix socket pair');
    }
  } catch { /* no /proc/net/unix */ }
  return t;
}
function fdBreakdown(pid) {
  const table = socketTable();
  const out = {};
  let names = [];
  try { names = fs.readdirSync(`/proc/${pid}/fd`); } catch { return out; }
  for (const n of names) {
    let l;
    try { l = fs.readlinkSync(`/proc/${pid}/fd/${n}`); } catch { continue; }
    let m, k;
    if ((m = l.match(/^socket:\[(\d+)\]$/))) k = table.get(m[1]) ?? 'socket (other)';
    else if (l.startsWith('pipe:')) k = 'pipe';
    else if (l.startsWith('anon_inode:')) k = l.replace(/^anon_inode:\[?|\]$/g, '');
    else k = l === '/dev/null' ? '/dev/null' : 'file';
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

// Where a process's resident memory is, from /proc/PID/smaps: the malloc
// heap (the main arena's [heap] and the threads' arenas: read-write mappings
// that start on a 64 MiB boundary, glibc's HEAP_MAX_SIZE), thread stacks
// (read-write mappings right above a 4 KiB guard page), other anonymous
// memory (malloc's own mmaps of large blocks, libraries' data) and
// file-backed pages (code). KiB.
function memBreakdown(pid) {
  let txt;
  try { txt = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8'); } catch { return null; }
  const out = { heap: 0, stacks: 0, anon: 0, file: 0 };
  let prev = null, cur = null;
  const flush = () => {
    if (!cur) return;
    const anon = !cur.path || cur.path.startsWith('[');
    let k;
    if (cur.path === '[heap]') k = 'heap';
    else if (!anon) k = 'file';
    else if (cur.perms.startsWith('rw') && !cur.path && cur.start % 0x4000000n === 0n) k = 'heap';
    else if (cur.perms.startsWith('rw') && !cur.path && prev && prev.perms.startsWith('---')
      && prev.end === cur.start && prev.end - prev.start === 4096n) k = 'stacks';
    else k = 'anon';
    out[k] += cur.rss;
    prev = cur;
  };
  for (const line of txt.split('\n')) {
    const m = line.match(/^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/);
    if (m) {
      flush();
      cur = { start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), perms: m[3], path: m[4], rss: 0 };
    } else if (cur && line.startsWith('Rss:')) {
      cur.rss = Number(line.split(/\s+/)[1]);
    }
  }
  flush();
  return out;
}

// The web server's own processes (nginx master and workers; lighttpd), not axon.
function serverProcs() {
  const all = [serverPid];
  for (let i = 0; i < all.length; i++) all.push(...childrenOf(all[i]));
  return all.filter((p) => !axonPids.includes(p));
}
const sum = (a, k) => a.reduce((s, x) => s + (x?.[k] ?? 0), 0);

async function stats() {
  const r = await new Promise((resolve) => {
    const req = http.get(`${origin}${prefix}/stats`, { agent: false, timeout: 5000 }, (res) => {
      let t = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { t += d; });
      res.on('end', () => { try { resolve(JSON.parse(t)); } catch { resolve(null); } });
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
  return r;
}

fs.mkdirSync(outDir, { recursive: true });
const csvPath = path.join(outDir, 'samples.csv');
const csv = fs.openSync(csvPath, 'w');
fs.writeSync(csv, 't_s,phase,pid,rss_kib,fds,threads,server_rss_kib,server_fds,redis_rss_kib,mock_rss_kib,'
  + 'requests,ok,expected,disconnect,unexpected,client_in_flight,pool_busy,pool_idle,pool_waiting,'
  + 'axon_in_flight,axon_total,axon_2xx,axon_4xx,axon_5xx,axon_client_gone,conversations_active,'
  + 'heap_kib,stacks_kib,anon_other_kib,file_kib\n');
const samples = [];   // { t, phase, pid, rss, fds, threads }
const missing = new Set();
let lastStats = null;
async function sample() {
  const t = elapsedS();
  const st = await stats();
  if (st) lastStats = st;
  const srv = serverProcs().map(procInfo).filter(Boolean);
  const redis = procInfo(Number(ready.REDIS_PID));
  const mock = procInfo(Number(ready.MOCK_PID));
  for (const pid of axonPids) {
    const p = procInfo(pid);
    if (!p) { missing.add(pid); continue; }
    const mem = memBreakdown(pid) ?? {};
    samples.push({ t, phase, pid, ...p, mem });
    const q = st?.requests ?? {};
    fs.writeSync(csv, [t.toFixed(1), phase, pid, p.rss, p.fds, p.threads, sum(srv, 'rss'), sum(srv, 'fds'),
      redis?.rss ?? '', mock?.rss ?? '', counts.total, counts.ok, counts.expected, counts.disconnect,
      counts.unexpected, inFlight, st?.pool?.busy ?? '', st?.pool?.idle ?? '', st?.pool?.waiting ?? '',
      q.in_flight ?? '', q.total ?? '', q.status_2xx ?? '', q.status_4xx ?? '', q.status_5xx ?? '',
      q.client_gone ?? '', st?.conversations?.active ?? '', mem.heap ?? '', mem.stacks ?? '', mem.anon ?? '',
      mem.file ?? ''].join(',') + '\n');
  }
  return st;
}
let sampling = true;
async function sampler() {
  while (sampling) {
    const next = performance.now() + sampleS * 1000;
    await sample();
    await sleep(Math.max(0, next - performance.now()));
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- load ---------------------------------------------------------------------------
let loadUntil = 0;
async function client() {
  while (performance.now() < loadUntil) {
    const [name, , fn] = pickScenario();
    await runOne(name, fn);
    await sleep(rnd() * 2 * thinkMs);
  }
}
async function bursts() {
  // The first burst comes early, so the thread count reaches its plateau
  // (extra workers stay while requests keep coming) at the start of a phase.
  let next = performance.now() + Math.min(5000, burstEveryS * 1000 * 0.2);
  while (performance.now() < loadUntil) {
    const wait = Math.min(next, loadUntil) - performance.now();
    if (wait > 0) await sleep(wait);
    if (performance.now() >= loadUntil) break;
    const all = [];
    for (let i = 0; i < burstN; i++) all.push(runOne('burst_stream', burstStream));
    await Promise.all(all);
    next += burstEveryS * 1000;
  }
}
async function load(seconds) {
  loadUntil = performance.now() + seconds * 1000;
  const tasks = [];
  for (let i = 0; i < conc; i++) tasks.push(client());
  if (burstN > 0 && burstEveryS > 0) tasks.push(bursts());
  await Promise.all(tasks);
}
// Idle until every request we sent has finished (they all have a timeout).
async function drained() {
  const until = performance.now() + REQ_TIMEOUT_MS + 5000;
  while (inFlight > 0 && performance.now() < until) await sleep(100);
}
// Median of a few idle samples, per process: fds and threads at rest.
async function restFigures() {
  // The worker blocked in accept() holds the accept lock, so when it is an
  // extra one it cannot time out. One request moves the lock to another
  // worker; 6 s later (an extra leaves after 5 s without a turn) every extra
  // worker has gone, and the last one to leave has trimmed the heap.
  await new Promise((resolve) => {
    const req = http.get(`${origin}${prefix}/health`, { agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', resolve);
      res.on('error', resolve);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', resolve);
  });
  await sleep(6000);
  const figs = {};
  for (let i = 0; i < 3; i++) {
    for (const pid of axonPids) {
      const p = procInfo(pid);
      if (p) (figs[pid] ??= []).push({ ...p, heap: memBreakdown(pid)?.heap ?? NaN });
    }
    await sleep(1000);
  }
  const med = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const out = {};
  for (const [pid, a] of Object.entries(figs)) {
    out[pid] = { fds: med(a.map((x) => x.fds)), threads: med(a.map((x) => x.threads)), rss: med(a.map((x) => x.rss)),
      heap: med(a.map((x) => x.heap)), kinds: fdBreakdown(Number(pid)) };
  }
  return out;
}

// ---- statistics ----------------------------------------------------------------------
function leastSquares(pts) { // [[x, y]] -> slope, intercept, standard error of the slope
  const n = pts.length;
  if (n < 3) return null;
  const mx = pts.reduce((s, p) => s + p[0], 0) / n;
  const my = pts.reduce((s, p) => s + p[1], 0) / n;
  let sxx = 0, sxy = 0;
  for (const [x, y] of pts) { sxx += (x - mx) ** 2; sxy += (x - mx) * (y - my); }
  const slope = sxy / sxx;
  const icpt = my - slope * mx;
  let sse = 0;
  for (const [x, y] of pts) sse += (y - icpt - slope * x) ** 2;
  const se = Math.sqrt(sse / (n - 2) / sxx);
  return { slope, icpt, se, n, mean: my, min: Math.min(...pts.map((p) => p[1])), max: Math.max(...pts.map((p) => p[1])) };
}
const pct = (a, q) => {
  if (!a.length) return NaN;
  const s = a.slice().sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '—');

// ---- the run ------------------------------------------------------------------------
process.on('SIGINT', () => { loadUntil = 0; });
process.on('SIGTERM', () => { loadUntil = 0; });

const log = (m) => console.error(`soak: ${m}`);
const samplerDone = sampler();
const initial = await stats();
if (!initial) die(`/stats at ${origin}${prefix}/stats did not answer`);

phase = 'prime';
// First every core worker thread is made to hold the most connections it
// keeps at rest: one to Valkey, two to the Claude mock (an n=2 answer makes
// two parallel calls, and libcurl keeps both) and one to the vLLM mock. 24
// slow requests at once occupy all 16 core threads (and start a few extra
// ones, which leave again). Then the fd baseline is the full state, and a
// count above it after the load is a leak, not a cache that filled up.
log(`prime: ${SATURATE} slow n=2 streams, then ${SATURATE} vLLM streams, at once, twice; then the mix for ${primeS} s (${conc} clients)`);
for (let round = 0; round < 2; round++) {
  await Promise.all(Array.from({ length: SATURATE }, () => runOne('prime_n2', async () => {
    const r = await request({ path: '/v1/chat/completions', stream: true,
      body: chatBody({ stream: true, extra: { n: 2 }, directives: `reply=${replyWords(12)} ms=60` }) });
    return okStream(r) ? ['ok'] : [null, r];
  })));
  await Promise.all(Array.from({ length: SATURATE }, () => runOne('prime_vllm', async () => {
    const r = await request({ path: '/v1/chat/completions', stream: true,
      body: chatBody({ model: 'qwen3-coder', stream: true, directives: `reply=${replyWords(12)} ms=60` }) });
    return okStream(r) ? ['ok'] : [null, r];
  })));
}
await load(primeS);
await drained();
phase = 'settle';
log(`settle: ${settleS} s without load`);
await sleep(settleS * 1000);
const baseline = await restFigures();
const baseStats = await stats();
const primeCounts = { ...counts };
log(`baseline: ${Object.entries(baseline).map(([p, f]) => `axon ${p}: ${f.fds} fds, ${f.threads} threads, ${fmt(f.rss)} KiB`).join('; ')}`);

phase = 'load';
const loadStart = elapsedS();
const nCycles = Math.max(1, Math.round(minutes * 60 / cycleS));
const cycleLoadS = minutes * 60 / nCycles;
log(`load: ${minutes} min in ${nCycles} cycle(s) of ${fmt(cycleLoadS)} s, each followed by ${settleS} s at rest; `
  + `${conc} clients, a burst of ${burstN} streams every ${burstEveryS} s`);
let progress = setInterval(() => {
  const p = samples.filter((s) => s.phase === 'load').at(-1);
  log(`  ${Math.round(elapsedS() - loadStart)} s: ${counts.total - primeCounts.total} requests, `
    + `${counts.unexpected} unexpected${p ? `, axon RSS ${fmt(p.rss)} KiB, ${p.fds} fds, ${p.threads} threads` : ''}`);
}, 60000);
// Rest points: after each cycle the load stops, the extra workers leave (and
// axon trims its heap when the last one goes), and the figures at rest are
// taken. A leak shows as rest RSS or fds that climb from cycle to cycle;
// caches that fill up and heap fragmentation do not survive the trim.
const rests = [];
let loadEnd = loadStart;
for (let c = 0; c < nCycles; c++) {
  phase = 'load';
  await load(cycleLoadS);
  loadEnd = elapsedS();
  phase = 'rest';
  await drained();
  await sleep(settleS * 1000);
  const f = await restFigures();
  rests.push({ t: elapsedS(), cycle: c + 1, requests: counts.total, figs: f });
  log(`  rest after cycle ${c + 1}: ${Object.entries(f).map(([p, x]) => `axon ${p}: ${fmt(x.rss)} KiB, ${x.fds} fds, ${x.threads} threads`).join('; ')}`);
}
clearInterval(progress);
phase = 'end';
log(`load done (${counts.total - primeCounts.total} requests)`);
const end = rests.at(-1).figs;
let endStats = await stats();
// A session is released when its request ends; give a slow release a moment.
for (let i = 0; i < 20 && endStats && (endStats.pool?.busy ?? 0) + (endStats.pool?.waiting ?? 0) > 0; i++) {
  await sleep(500);
  endStats = await stats();
}
sampling = false;
await samplerDone;
await sample();
fs.closeSync(csv);

// ---- checks --------------------------------------------------------------------------
const checks = [];   // { name, pass, detail }
const check = (name, pass, detail) => checks.push({ name, pass, detail });

const half = loadStart + (loadEnd - loadStart) / 2;
const rssFits = {}, restFits = {};
for (const pid of axonPids) {
  // RSS under load, second half: the figure asked for. It includes the
  // heap's fragmentation and caches as well as any leak.
  const pts = samples.filter((s) => s.pid === pid && s.phase === 'load' && s.t >= half).map((s) => [(s.t - half) / 60, s.rss]);
  const fit = leastSquares(pts);
  // The same, one point per load cycle (its samples' mean, at its middle).
  const cyc = [];
  let from = loadStart;
  for (const r of rests) {
    const v = samples.filter((s) => s.pid === pid && s.phase === 'load' && s.t > from && s.t <= r.t);
    if (v.length) cyc.push([(v.reduce((a, s) => a + s.t, 0) / v.length - loadStart) / 60, v.reduce((a, s) => a + s.rss, 0) / v.length]);
    from = r.t;
  }
  const cf = leastSquares(cyc.slice(Math.floor(cyc.length / 2)));
  // VmRSS at the rest points, second half.
  const rr = rests.filter((r) => r.figs[pid]).map((r) => [(r.t - loadStart) / 60, r.figs[pid].rss]);
  const rrf = leastSquares(rr.slice(Math.floor(rr.length / 2)));
  rssFits[pid] = cf ?? fit; // the under-load slope judged below
  const part = (k) => leastSquares(samples.filter((s) => s.pid === pid && s.phase === 'load' && s.t >= half && s.mem?.[k] !== undefined)
    .map((s) => [(s.t - half) / 60, s.mem[k]]));
  const parts = { heap: part('heap'), stacks: part('stacks'), anon: part('anon') };
  if (fit) fit.parts = parts;
  // The malloc heap at the rest points (axon trims it when the last extra
  // worker leaves): caches and the allocator's retained free memory do not
  // survive the trim, a leak does. Second half of the rest points.
  const rp = rests.filter((r) => r.figs[pid]).map((r) => [(r.t - loadStart) / 60, r.figs[pid].heap]);
  const rf = leastSquares(rp.slice(Math.floor(rp.length / 2)));
  restFits[pid] = rf;
  if (!fit) { check(`RSS slope, axon ${pid}`, false, 'too few samples in the second half'); continue; }
  const limit = (fit.mean * RSS_LIMIT_PCT / 100) / 10;       // KiB per minute
  const grows = (f) => !!f && f.slope > limit && f.slope > RSS_SIGMAS * f.se;
  const judged = minutes >= RSS_MIN_MINUTES;
  // Too few cycles in the second half (a short run): the sample-level fit.
  const load = cf ?? fit;
  const pass = !judged || (!grows(load) && !grows(rrf) && !grows(rf));
  const slopeOf = (f) => (f ? `${fmt(f.slope, 1)} ± ${fmt(f.se, 1)} KiB/min` : '— (too few points)');
  check(`RSS slope, axon ${pid}`, pass,
    `${judged ? '' : `not judged (a run under ${RSS_MIN_MINUTES} min is all warm-up); `}`
    + `under load, second half, by cycle means: ${slopeOf(cf)} (1 SE; cycle means ${cyc.map((x) => fmt(x[1])).join(' → ')} KiB); `
    + `by samples: ${slopeOf(fit)} (${fit.n} samples, mean ${fmt(fit.mean)} KiB, range ${fmt(fit.min)}–${fmt(fit.max)}; `
    + `of it malloc heap ${fmt(parts.heap?.slope, 1)}, thread stacks ${fmt(parts.stacks?.slope, 1)}, other anonymous `
    + `${fmt(parts.anon?.slope, 1)} KiB/min). At each rest: RSS ${rr.map((x) => fmt(x[1])).join(' → ')} KiB, second half `
    + `${slopeOf(rrf)}; malloc heap ${rp.map((x) => fmt(x[1])).join(' → ')} KiB, second half ${slopeOf(rf)}. `
    + `Limit for each: ${fmt(limit, 1)} KiB/min (${RSS_LIMIT_PCT}% of the mean RSS per 10 min), `
    + `unless within ${RSS_SIGMAS} SE of zero${grows(load) ? `: RSS under load grows${judged ? '' : ' (as a warm-up does)'}` : ''}`
    + `${grows(rrf) ? ': RSS at rest grows' : ''}${grows(rf) ? ': the heap at rest grows' : ''}`);
}
for (const pid of axonPids) {
  const b = baseline[pid], e = end[pid];
  if (!b || !e) { check(`open fds back to baseline, axon ${pid}`, false, 'the process is gone'); continue; }
  const maxFds = Math.max(...samples.filter((s) => s.pid === pid).map((s) => s.fds));
  const kinds = [...new Set([...Object.keys(b.kinds), ...Object.keys(e.kinds)])].sort();
  const diff = kinds.map((k) => `${k} ${b.kinds[k] ?? 0}→${e.kinds[k] ?? 0}`).join(', ');
  const atRest = rests.map((r) => r.figs[pid]).filter(Boolean);
  const part = (f) => {
    let cached = 0, other = 0;
    for (const [k, v] of Object.entries(f.kinds)) if (CACHED_FD.test(k)) cached += v; else other += v;
    return { cached, other };
  };
  const base = part(b), parts = atRest.map(part);
  const mid = Math.floor(parts.length / 2); // (the outer `half` is a time)
  const level = Math.max(base.cached, ...parts.slice(0, mid).map((x) => x.cached));
  const cacheOk = parts.slice(mid).every((x) => x.cached <= level + FD_SLACK);
  const otherOk = parts.every((x) => x.other <= base.other);
  const fcgi = Math.max(...atRest.map((f) => f.kinds['unix FastCGI connection'] ?? 0));
  check(`open fds back to baseline, axon ${pid}`, cacheOk && otherOk && fcgi === 0,
    `baseline ${b.fds}; at each rest ${atRest.map((f) => f.fds).join(', ')}; the most under load ${maxFds}. `
    + `Cached connections (Valkey, upstreams): baseline ${base.cached}, at each rest ${parts.map((x) => x.cached).join(', ')} `
    + `(second half allowed: ${level} + ${FD_SLACK}); every other fd: baseline ${base.other}, at each rest `
    + `${parts.map((x) => x.other).join(', ')} (allowed: the baseline); FastCGI connections left open: ${fcgi}. `
    + `By kind, baseline→end: ${diff}`);
  const maxThr = Math.max(...samples.filter((s) => s.pid === pid).map((s) => s.threads));
  check(`threads back to baseline, axon ${pid}`, atRest.every((f) => f.threads <= b.threads),
    `baseline ${b.threads}; at each rest ${atRest.map((f) => f.threads).join(', ')}; the most under load ${maxThr}`);
}
const valkeyMax = Math.floor(counts.total * VALKEY_MAX_PCT / 100);
check('no unexpected outcome', counts.unexpected === 0 && counts.valkey <= valkeyMax,
  `${fmt(counts.total)} requests (prime and load): ${fmt(counts.ok)} ok, ${fmt(counts.expected)} expected errors, `
  + `${fmt(counts.disconnect)} disconnects we made, ${fmt(counts.unexpected)} unexpected; `
  + `${fmt(counts.valkey)} answered "Valkey unavailable" while Valkey timed out (allowed: ${VALKEY_MAX_PCT}% = ${fmt(valkeyMax)}; `
  + 'the stack log says when the breaker opened)');
const pool = endStats?.pool;
check('pool busy 0 at the end', !!pool && pool.busy === 0 && pool.waiting === 0,
  pool ? `busy ${pool.busy}, waiting ${pool.waiting}, idle ${pool.idle}, size ${pool.size}; acquires - releases `
    + `over the run: ${(pool.acquires - initial.pool.acquires) - (pool.releases - initial.pool.releases)}, `
    + `recycles ${pool.recycles - initial.pool.recycles}, reclaims ${pool.reclaims - initial.pool.reclaims}, `
    + `timeouts ${pool.timeouts - initial.pool.timeouts}` : '/stats did not answer');
check('the same axon processes throughout', missing.size === 0
  && (ready.AXON_SERVER !== 'lighttpd' || childrenOf(serverPid).every((p) => axonPids.includes(p))),
  missing.size ? `gone: ${[...missing].join(' ')}` : `pids ${axonPids.join(' ')}`);

// ---- report ---------------------------------------------------------------------------
const loadReqs = counts.total - primeCounts.total;
const loadS = loadEnd - loadStart;
const q = (s, k) => (endStats?.requests?.[k] ?? NaN) - (initial?.requests?.[k] ?? NaN);
const md = [];
md.push(`# Soak: ${fmt(minutes, minutes % 1 ? 1 : 0)} min behind ${ready.AXON_SERVER}`, '');
md.push(`${new Date().toISOString()}; ${conc} clients (think 0–${2 * thinkMs} ms) plus ${burstN} slow streams every `
  + `${burstEveryS} s; prime ${primeS} s; the load in ${nCycles} cycle(s) of ${fmt(cycleLoadS)} s, each followed by `
  + `${settleS} s at rest; a sample every ${sampleS} s; seed ${seed0}.`, '');
md.push('| check | result | figures |', '|---|---|---|');
for (const c of checks) md.push(`| ${c.name} | ${c.pass ? 'pass' : '**FAIL**'} | ${c.detail} |`);
md.push('');
md.push(`Load phase: ${fmt(loadReqs)} requests in ${fmt(loadS, 0)} s (${fmt(loadReqs / loadS, 1)}/s). `
  + `axon's /stats over the whole run: ${fmt(q(0, 'total'))} requests (client's count plus /stats itself), `
  + `${fmt(q(0, 'status_2xx'))} 2xx, ${fmt(q(0, 'status_4xx'))} 4xx, ${fmt(q(0, 'status_5xx'))} 5xx, `
  + `${fmt(q(0, 'client_gone'))} clients gone, ${fmt(q(0, 'streams'))} streams; `
  + `conversations active at the end: ${endStats?.conversations?.active ?? '?'}.`, '');
md.push('| axon pid | RSS baseline KiB | RSS after KiB | RSS max KiB | slope under load KiB/min (± SE) | fds baseline / max / after | threads baseline / max / after |',
  '|---:|---:|---:|---:|---:|---|---|');
for (const pid of axonPids) {
  const all = samples.filter((s) => s.pid === pid);
  const f = rssFits[pid];
  md.push(`| ${pid} | ${fmt(baseline[pid]?.rss)} | ${fmt(end[pid]?.rss)} | ${fmt(Math.max(...all.map((s) => s.rss)))} | `
    + `${f ? `${fmt(f.slope, 1)} (± ${fmt(f.se, 1)})` : '—'} | ${baseline[pid]?.fds} / ${Math.max(...all.map((s) => s.fds))} / ${end[pid]?.fds} | `
    + `${baseline[pid]?.threads} / ${Math.max(...all.map((s) => s.threads))} / ${end[pid]?.threads} |`);
}
md.push('', '| scenario | requests | ok | expected errors | our disconnects | Valkey unavailable | unexpected | p50 ms | p99 ms |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const [name, s] of Object.entries(byScenario).sort((a, b) => b[1].total - a[1].total)) {
  md.push(`| ${name} | ${fmt(s.total)} | ${fmt(s.ok)} | ${fmt(s.expected)} | ${fmt(s.disconnect)} | ${fmt(s.valkey)} | ${s.unexpected ? `**${fmt(s.unexpected)}**` : 0} | `
    + `${fmt(pct(s.ms, 0.5))} | ${fmt(pct(s.ms, 0.99))} |`);
}
md.push('', '| outcome other than ok | count |', '|---|---:|');
for (const [k, n] of Object.entries(byKind).sort((a, b) => b[1] - a[1])) md.push(`| ${k} | ${fmt(n)} |`);
if (unexpected.length) {
  md.push('', 'First unexpected outcomes:', '');
  for (const u of unexpected) md.push(`- ${fmt(u.t, 1)} s (${u.phase}) ${u.scenario}: ${u.what}`);
}
const failed = checks.filter((c) => !c.pass);
md.push('', failed.length ? `FAIL: ${failed.map((c) => c.name).join('; ')}.` : 'OK: every check passed.',
  '', `Samples: ${csvPath}.`);
const report = md.join('\n') + '\n';
fs.writeFileSync(path.join(outDir, 'report.md'), report);
fs.writeFileSync(path.join(outDir, 'summary.json'), JSON.stringify({
  server: ready.AXON_SERVER, minutes, conc, counts, loadRequests: loadReqs, loadSeconds: loadS,
  baseline, end, rests, rssFits, restFits, checks, byScenario: Object.fromEntries(Object.entries(byScenario).map(([k, s]) => [k, { ...s, ms: undefined }])),
  byKind, unexpected,
}, null, 2));
process.stdout.write(report);
agent.destroy();
process.exit(failed.length ? 1 : 0);
