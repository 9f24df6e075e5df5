// Shared parts of the two mock upstreams (anthropic.mjs and openai.mjs): the
// code that does not depend on the protocol. Node 20, ESM, built-ins only.
// The protocol (directives, control endpoints) is documented in
// tests/mock/README.md; keep both mocks behaving the same there.
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------- options --

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// Both mocks default to the same fixtures folder (overridable by env).
export function defaultFixturesDir() {
  return process.env.MOCK_FIXTURES || path.resolve(REPO_ROOT, 'tests', 'data', 'fixtures');
}

// Walks argv, calling handle(name, val, arg) per argument. `name` is "--x" for
// both "--x=v" and "--x v"; val() returns the value (reading the next argument
// when needed). onMissing(name), if given, is called when there is no value.
export function eachArg(argv, handle, onMissing) {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const val = () => {
      const v = a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined && onMissing) onMissing(name);
      return v;
    };
    handle(name, val, a);
  }
}

// ---------------------------------------------------------------- helpers --

export const q = JSON.stringify;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// Directive values are strings; a bad number falls back to the default.
export function toInt(v, dflt) {
  if (v === undefined) return dflt;
  const n = Number(v);
  return Number.isFinite(n) ? Math.trunc(n) : dflt;
}

// A "token" of the mocks is a whitespace-separated word.
const WORD_RE = /\S+/g;
export function countWords(s) {
  let n = 0;
  WORD_RE.lastIndex = 0;
  while (WORD_RE.exec(s) !== null) n++;
  return n;
}
// The text up to the end of its n-th word.
export function cutWords(s, n) {
  if (n <= 0) return '';
  let k = 0;
  WORD_RE.lastIndex = 0;
  while (WORD_RE.exec(s) !== null) {
    if (++k === n) return s.slice(0, WORD_RE.lastIndex);
  }
  return s;
}
// Tool-argument JSON streamed in 12-character pieces.
export function jsonPieces(s) {
  const out = [];
  for (let i = 0; i < s.length; i += 12) out.push(s.slice(i, i + 12));
  return out;
}

// ---------------------------------------------------------------- tool arguments --

// A value matching JSON schema `s`, good enough for tool arguments and
// structured output. Nested objects are filled only when `deep`.
export function genValue(s, deep) {
  if (!isObj(s)) return null;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  if ('const' in s) return s.const;
  let t = s.type;
  if (Array.isArray(t)) t = t.find((x) => x !== 'null') ?? 'null';
  if (t === undefined) {
    const alt = s.anyOf || s.oneOf || s.allOf;
    if (Array.isArray(alt) && alt.length) return genValue(alt[0], deep);
    if (isObj(s.properties)) t = 'object';
  }
  switch (t) {
    case 'string': return 'Paris';
    case 'integer': case 'number': return 1;
    case 'boolean': return true;
    // Claude's constrained decoding keeps minItems 0 and 1 (the only values
    // its structured outputs take: transform-json-schema.ts), so one item.
    case 'array': return s.minItems >= 1 ? [genValue(s.items, deep)] : [];
    case 'object': return deep ? genObject(s, true) : {};
    default: return null;
  }
}
// `s` must not be null/undefined (callers check what their protocol allows).
export function genObject(s, deep) {
  const o = {};
  if (isObj(s.properties)) for (const k of Object.keys(s.properties)) o[k] = genValue(s.properties[k], deep);
  return o;
}

// ---------------------------------------------------------------- fixtures --

// A fixture file's text as one Buffer per SSE event, each ending in "\n\n"
// (the last one completed), so replays write event by event.
export function splitEvents(text) {
  const out = [];
  let start = 0;
  for (;;) {
    const k = text.indexOf('\n\n', start);
    if (k < 0) break;
    out.push(text.slice(start, k + 2));
    start = k + 2;
  }
  let rest = text.slice(start);
  if (rest.length) {
    rest += rest.endsWith('\n') ? '\n' : '\n\n';
    out.push(rest);
  }
  return out.map((e) => Buffer.from(e, 'utf8'));
}

// `fixture=NAME` may omit the extension.
export function findFixture(fixtures, name) {
  return fixtures.get(name) || fixtures.get(name + '.sse') || fixtures.get(name + '.json') || null;
}

// ---------------------------------------------------------------- directives --

// The last "[[mock k=v k=v]]" in the raw body. Splits on whitespace and on the
// JSON escapes \n \r \t (the marker may sit in a JSON string).
const SPLIT_RE = /(?:\s|\\[nrt])+/;
export function parseDirectives(text) {
  const i = text.lastIndexOf('[[mock');
  if (i < 0) return null;
  const j = text.indexOf(']]', i + 6);
  if (j < 0) return null;
  const d = {};
  for (const tok of text.slice(i + 6, j).split(SPLIT_RE)) {
    if (!tok) continue;
    const e = tok.indexOf('=');
    if (e > 0) d[tok.slice(0, e)] = tok.slice(e + 1);
    else d[tok] = '1';
  }
  return d;
}
export const NO_DIRECTIVES = Object.freeze({});

// The text a reply=WORDS directive asks for: `_` is a space, and a JSON
// escape \uXXXX as it sits in the raw body (a NUL, say) is that character,
// so a test can have the answer hold what a marker cannot spell.
export function replyOf(d) {
  if (d.reply === undefined) return null;
  return d.reply.replace(/_/g, ' ').replace(/\\u([0-9a-fA-F]{4})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

// ---------------------------------------------------------------- recordings --

export function sendJson(res, status, obj) {
  const s = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
  res.end(s);
}

const REC_MAX = 2000;

// What the control endpoints report: the last REC_MAX requests, the requests
// seen per directive id (for `times`) and the requests the client abandoned.
export class Recorder {
  constructor(verbose) {
    this.verbose = verbose;
    this.records = new Array(REC_MAX);
    this.recNext = 0; // total ever recorded (ring index = recNext % REC_MAX)
    this.recFloor = 0; // records below this sequence number were cleared
    this.idCounts = new Map(); // directive id -> requests seen
    this.aborts = new Map(); // directive id -> [{...}]
    this.abortTotal = 0;
  }

  // Records one request; `body` is the parsed JSON or the raw text.
  record(req, body, id) {
    const r = {
      seq: 0, time: Date.now(), method: req.method, path: req.url, headers: req.headers,
      body, id, status: null,
    };
    r.seq = this.recNext;
    this.records[this.recNext % REC_MAX] = r;
    this.recNext++;
    return r;
  }

  list(id) {
    const out = [];
    const from = Math.max(this.recFloor, this.recNext - REC_MAX);
    for (let s = from; s < this.recNext; s++) {
      const r = this.records[s % REC_MAX];
      if (id === null || r.id === id) out.push(r);
    }
    return out;
  }

  // Counts a request under its directive id. A fault or delay applies to the
  // first `times` requests of an id only (all of them without `times`).
  count(id, d) {
    const key = id === null ? '' : id;
    const n = (this.idCounts.get(key) || 0) + 1;
    this.idCounts.set(key, n);
    const active = d.times === undefined || n <= toInt(d.times, 0);
    return { active, delay: active ? toInt(d.delay, 0) : 0 };
  }

  // The response's 'close' handler: logs (--verbose) and notes an abort when
  // the client left before the response was complete (not a mock reset).
  closed(ctx) {
    ctx.closed = true;
    if (ctx.timer) clearTimeout(ctx.timer);
    if (this.verbose) {
      process.stderr.write(`${new Date().toISOString()} ${ctx.req.method} ${ctx.req.url} ${ctx.rec.status ?? '-'} ` +
        `id=${ctx.id ?? '-'} ${Date.now() - ctx.t0}ms ${ctx.bytes}B${ctx.res.writableFinished ? '' : ' (closed early)'}\n`);
    }
    if (ctx.res.writableFinished || ctx.selfClosed) return;
    const now = Date.now();
    const a = {
      time: now,
      headers_sent: ctx.res.headersSent,
      bytes_written: ctx.bytes,
      ms_since_request: now - ctx.t0,
      ms_since_last_write: ctx.lastWrite ? now - ctx.lastWrite : null,
    };
    const key = ctx.id === null ? '' : ctx.id;
    let list = this.aborts.get(key);
    if (!list) this.aborts.set(key, (list = []));
    if (list.length < 1000) list.push(a);
    else list.count = (list.count || 1000) + 1;
    this.abortTotal++;
  }

  reset() {
    this.recFloor = this.recNext;
    this.aborts.clear();
    this.abortTotal = 0;
    this.idCounts.clear();
  }

  // The shared /_mock/* routes (health, requests, aborts, counts, reset).
  // Returns false when the route is not one of them. onReset: the mock's own
  // state to clear on /_mock/reset.
  control(req, res, p, id, onReset) {
    if (p === '/_mock/health' && req.method === 'GET') { sendJson(res, 200, { ok: true }); return true; }
    if (p === '/_mock/requests') {
      if (req.method === 'GET') { sendJson(res, 200, this.list(id)); return true; }
      if (req.method === 'DELETE') { this.recFloor = this.recNext; sendJson(res, 200, { ok: true }); return true; }
    }
    if (p === '/_mock/aborts') {
      if (req.method === 'GET') {
        if (id !== null) {
          const list = this.aborts.get(id) || [];
          sendJson(res, 200, { aborted: list.count || list.length, events: list });
          return true;
        }
        const by = {};
        for (const [k, v] of this.aborts) by[k] = v.count || v.length;
        sendJson(res, 200, { aborted: this.abortTotal, by_id: by });
        return true;
      }
      if (req.method === 'DELETE') { this.aborts.clear(); this.abortTotal = 0; sendJson(res, 200, { ok: true }); return true; }
    }
    if (p === '/_mock/counts' && req.method === 'GET') {
      if (id !== null) sendJson(res, 200, { id, count: this.idCounts.get(id) || 0 });
      else sendJson(res, 200, Object.fromEntries(this.idCounts));
      return true;
    }
    if (p === '/_mock/reset' && (req.method === 'POST' || req.method === 'DELETE')) {
      this.reset();
      if (onReset) onReset();
      sendJson(res, 200, { ok: true });
      return true;
    }
    return false;
  }
}

// ---------------------------------------------------------------- responses --

// ctx (built by each mock per request) carries req, res, rec, id, t0, bytes,
// lastWrite, closed, selfClosed, timer; these helpers keep its counters right
// for the abort reports.

// Node has no reason phrase for 529.
export const REASON = { 529: 'Overloaded' };

export function finish(ctx, status, headers, body) {
  if (ctx.closed) return;
  ctx.rec.status = status;
  ctx.res.writeHead(status, REASON[status], headers);
  ctx.bytes += body.length;
  ctx.lastWrite = Date.now();
  ctx.res.end(body);
}

export function head(ctx, status, headers) {
  ctx.rec.status = status;
  ctx.res.writeHead(status, REASON[status], headers);
  ctx.res.flushHeaders();
  ctx.lastWrite = Date.now();
}

export function write(ctx, chunk) {
  if (ctx.closed) return Promise.resolve(false);
  ctx.bytes += chunk.length;
  ctx.lastWrite = Date.now();
  // Resolves once the chunk is handed to the kernel (or the write failed).
  return new Promise((resolve) => { ctx.res.write(chunk, (err) => resolve(!err)); });
}

// Events one write each, waiting `ms` between them (or until flushed). With
// `tick`, ms <= 0 still yields one setImmediate between events (openai.mjs).
export async function writeEvents(ctx, events, ms, tick) {
  for (let i = 0; i < events.length; i++) {
    if (ctx.closed) return false;
    if (i > 0 && ms > 0) { await sleep(ms); if (ctx.closed) return false; }
    else if (i > 0 && tick) { await new Promise((r) => setImmediate(r)); if (ctx.closed) return false; }
    await write(ctx, events[i]);
  }
  return !ctx.closed;
}

export function endResponse(ctx) {
  if (ctx.closed) return;
  ctx.res.end();
}

// fault=reset / reset-before: a TCP RST, not an abort by the client.
export function resetSocket(ctx) {
  ctx.selfClosed = true;
  const s = ctx.req.socket;
  if (typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
  else s.destroy();
}

const PATTERN = Buffer.from('abcdefg '.repeat(8192)); // 64 KiB of 8-byte words

// n bytes of "abcdefg " for fault=big, honouring backpressure.
export async function writeFiller(ctx, n) {
  while (n > 0 && !ctx.closed) {
    const k = Math.min(n, PATTERN.length);
    const chunk = k === PATTERN.length ? PATTERN : PATTERN.subarray(0, k);
    n -= k;
    ctx.bytes += k;
    ctx.lastWrite = Date.now();
    if (!ctx.res.write(chunk)) await new Promise((r) => { ctx.res.once('drain', r); ctx.res.once('close', r); });
  }
}

// ---------------------------------------------------------------- server --

// Reads the whole request body, then calls fn(req, res, buf). A throw in fn
// is logged and answered by fail(res) when no headers were sent yet.
export function makeCollect(name, fail) {
  return function collect(req, res, fn) {
    const chunks = [];
    let len = 0;
    req.on('data', (c) => { chunks.push(c); len += c.length; });
    req.on('end', () => {
      const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, len);
      try {
        fn(req, res, buf);
      } catch (e) {
        process.stderr.write(`${name}: internal error: ${e && e.stack || e}\n`);
        if (!res.headersSent) fail(res);
      }
    });
  };
}

// Listens, prints the one "NAME listening on http://HOST:PORT" line, and
// exits on SIGTERM/SIGINT.
export function startServer(name, opt, onRequest) {
  const server = http.createServer({ keepAliveTimeout: opt.keepAliveTimeout, noDelay: true }, onRequest);
  server.keepAliveTimeout = opt.keepAliveTimeout;
  server.headersTimeout = opt.keepAliveTimeout + 5000;
  server.requestTimeout = 0;

  server.on('error', (e) => {
    process.stderr.write(`${name}: ${e.message}\n`);
    process.exit(1);
  });

  server.listen(opt.port, opt.host, () => {
    const a = server.address();
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    process.stdout.write(`${name} listening on http://${host}:${a.port}\n`);
  });

  function shutdown() {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  }
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  return server;
}
