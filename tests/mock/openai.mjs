#!/usr/bin/env node
// Mock of an OpenAI-compatible upstream (vLLM's OpenAI server; it can also
// replay real api.openai.com streams) for Axon's tests and benchmarks.
// Node 20, ESM, built-ins only. The sibling of anthropic.mjs: same command
// line style, directives and control endpoints. The protocol is documented in
// tests/mock/README.md.
//
//   node tests/mock/openai.mjs --port N [--host 127.0.0.1] [--fixtures DIR]
//        [--recorded DIR] [--api-key KEY] [--models LIST]
//        [--reasoning-field reasoning|reasoning_content|both]
//        [--errors nested|flat] [--keepalive-timeout MS] [--verbose]
//
// Prints exactly one line on stdout once listening:
//   mock-openai listening on http://HOST:PORT
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import {
  REPO_ROOT, defaultFixturesDir, eachArg, q, sleep, isObj, toInt, countWords, cutWords, jsonPieces, genValue, genObject,
  splitEvents, findFixture as findIn, parseDirectives, NO_DIRECTIVES, replyOf, Recorder, sendJson, REASON,
  finish, head, write, writeEvents as writeEventsC, endResponse, resetSocket, writeFiller, makeCollect, startServer,
} from './common.mjs';

// ---------------------------------------------------------------- options --

const REASONING_FIELDS = new Set(['reasoning', 'reasoning_content', 'both']);
const ERROR_SHAPES = new Set(['nested', 'flat']);
const DEFAULT_MAX_MODEL_LEN = 32768;

function die(msg) {
  process.stderr.write(`mock-openai: ${msg}\n`);
  process.exit(2);
}

// "id" or "id:LEN" (LEN all digits; "llama3:8b" stays a plain id).
function parseModelSpec(s) {
  if (typeof s !== 'string') return null;
  s = s.trim();
  if (!s) return null;
  const m = /^(.+):(\d+)$/.exec(s);
  if (m) return { id: m[1], len: Number(m[2]) };
  return { id: s, len: DEFAULT_MAX_MODEL_LEN };
}

function parseArgs(argv) {
  const o = {
    port: 0,
    host: '127.0.0.1',
    fixtures: defaultFixturesDir(),
    recorded: path.resolve(REPO_ROOT, 'tests', 'data', 'spec', 'recorded'),
    apiKey: null,
    models: 'qwen3-coder,Qwen/Qwen3-8B',
    reasoningField: 'reasoning',
    errors: 'nested',
    keepAliveTimeout: 60000,
    verbose: false,
  };
  eachArg(argv, (name, val, a) => {
    switch (name) {
      case '--port': o.port = Number(val()); break;
      case '--host': o.host = val(); break;
      case '--fixtures': o.fixtures = path.resolve(val()); break;
      case '--recorded': o.recorded = path.resolve(val()); break;
      case '--api-key': o.apiKey = val(); break;
      case '--models': o.models = val(); break;
      case '--reasoning-field': o.reasoningField = val(); break;
      case '--errors': o.errors = val(); break;
      case '--keepalive-timeout': o.keepAliveTimeout = Number(val()); break;
      case '--verbose': case '-v': o.verbose = true; break;
      case '--help': case '-h':
        process.stdout.write('usage: node openai.mjs --port N [--host 127.0.0.1] [--fixtures DIR] [--recorded DIR] ' +
          '[--api-key KEY] [--models LIST] [--reasoning-field reasoning|reasoning_content|both] ' +
          '[--errors nested|flat] [--keepalive-timeout MS] [--verbose]\n');
        process.exit(0);
        break;
      default:
        die(`unknown argument ${a}`);
    }
  }, (name) => die(`${name} needs a value`));
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) die('--port must be an integer 0..65535');
  if (!REASONING_FIELDS.has(o.reasoningField)) die('--reasoning-field must be reasoning, reasoning_content or both');
  if (!ERROR_SHAPES.has(o.errors)) die('--errors must be nested or flat');
  if (!Number.isFinite(o.keepAliveTimeout) || o.keepAliveTimeout < 0) die('--keepalive-timeout must be a number of ms');
  const models = o.models.split(',').map(parseModelSpec).filter(Boolean);
  if (!models.length) die('--models needs at least one model id');
  o.modelList = models;
  return o;
}

const OPT = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------- helpers --

const randHex = (n) => crypto.randomBytes(n >> 1).toString('hex');
const newChatId = () => 'chatcmpl-' + randHex(32);
const newToolId = () => 'chatcmpl-tool-' + randHex(32);
const nowSec = () => Math.floor(Date.now() / 1000);

// One piece (= one token) per word; each piece keeps its leading whitespace,
// trailing whitespace goes with the last piece.
const PIECE_RE = /\s*\S+/g;
function wordPieces(s) {
  const out = [];
  let end = 0;
  let m;
  PIECE_RE.lastIndex = 0;
  while ((m = PIECE_RE.exec(s)) !== null) { out.push(m[0]); end = PIECE_RE.lastIndex; }
  const rest = s.slice(end);
  if (rest) {
    if (out.length) out[out.length - 1] += rest;
    else out.push(rest);
  }
  return out;
}
// ---------------------------------------------------------------- live state --

function modelEntry(spec) {
  return { id: spec.id, len: spec.len, perm: 'modelperm-' + randHex(32) };
}

const STATE = {
  models: OPT.modelList.map(modelEntry),
  health: 200,
  reasoningField: OPT.reasoningField,
  errors: OPT.errors,
};
const STARTED = nowSec();
const HITS = { models: 0, health: 0, chat: 0 };

function findModel(id) {
  for (const m of STATE.models) if (m.id === id) return m;
  return null;
}
function stateView() {
  return {
    models: STATE.models.map((m) => ({ id: m.id, max_model_len: m.len })),
    health: STATE.health,
    reasoning_field: STATE.reasoningField,
    errors: STATE.errors,
  };
}

// ---------------------------------------------------------------- fixtures --

// name -> { kind: 'sse', events } | { kind: 'json', body }; the first folder wins on a clash.
const FIXTURES = new Map();

function loadFixtures(dir) {
  let names;
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    process.stderr.write(`mock-openai: cannot read fixtures dir ${dir}: ${e.message}\n`);
    return;
  }
  for (const name of names.sort()) {
    if (FIXTURES.has(name)) continue;
    const file = path.join(dir, name);
    try {
      if (!fs.statSync(file).isFile()) continue;
      if (name.endsWith('.sse')) {
        FIXTURES.set(name, { kind: 'sse', events: splitEvents(fs.readFileSync(file, 'utf8')) });
      } else if (name.endsWith('.json')) {
        FIXTURES.set(name, { kind: 'json', body: fs.readFileSync(file) });
      }
    } catch (e) {
      process.stderr.write(`mock-openai: skipping fixture ${name}: ${e.message}\n`);
    }
  }
}
loadFixtures(OPT.fixtures);
loadFixtures(OPT.recorded);

const findFixture = (name) => findIn(FIXTURES, name);

// ---------------------------------------------------------------- recordings --

// Requests, `times` counts and aborts for the /_mock/* endpoints.
const REC = new Recorder(OPT.verbose);

// ---------------------------------------------------------------- errors --

// Exception-like type names (vLLM / openai-python style) for injected faults.
const ERROR_TYPE = {
  400: 'BadRequestError',
  401: 'AuthenticationError',
  402: 'PaymentRequiredError',
  403: 'PermissionDeniedError',
  404: 'NotFoundError',
  405: 'MethodNotAllowedError',
  408: 'RequestTimeoutError',
  409: 'ConflictError',
  413: 'RequestEntityTooLargeError',
  422: 'UnprocessableEntityError',
  429: 'RateLimitError',
  500: 'InternalServerError',
  501: 'NotImplementedError',
  502: 'BadGatewayError',
  503: 'ServiceUnavailableError',
  504: 'GatewayTimeoutError',
  529: 'OverloadedError',
};
const phrase = (code) => REASON[code] || http.STATUS_CODES[code] || 'Error';

function errorBody(shape, status, type, message) {
  return shape === 'flat'
    ? `{"object":"error","message":${q(message)},"type":${q(type)},"param":null,"code":${status}}`
    : `{"error":{"message":${q(message)},"type":${q(type)},"param":null,"code":${status}}}`;
}

function sendError(ctx, status, type, message, extra) {
  const body = errorBody(ctx.shape, status, type, message);
  const h = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  if (extra) Object.assign(h, extra);
  finish(ctx, status, h, body);
}

const UNAUTHORIZED = '{"error":"Unauthorized"}';
function sendUnauthorized(res, ctx) {
  const h = { 'content-type': 'application/json', 'content-length': UNAUTHORIZED.length };
  if (ctx) finish(ctx, 401, h, UNAUTHORIZED);
  else { res.writeHead(401, h); res.end(UNAUTHORIZED); }
}

function authorized(req) {
  if (OPT.apiKey === null) return true;
  const a = req.headers.authorization;
  return typeof a === 'string' && a === `Bearer ${OPT.apiKey}`;
}

// ---------------------------------------------------------------- validation --

const isInt = (v) => typeof v === 'number' && Number.isInteger(v);
// Python truthiness, for vLLM's `if data.get(x)` checks.
const truthy = (v) => !(v === undefined || v === null || v === false || v === 0 || v === '' ||
  (Array.isArray(v) && v.length === 0) || (isObj(v) && Object.keys(v).length === 0));

// Returns null when valid, else [status, type, message].
function validate(b, bodyLen) {
  const bad = (m) => [400, 'BadRequestError', m];
  if (!isObj(b)) return bad('body: Input should be a valid dictionary or object to extract fields from');
  for (const k of ['conversation_id', 'thinking']) {
    if (k in b) return bad(`mock: field ${k} must not reach the upstream`);
  }
  if (b.model === undefined) return bad('model: Field required');
  if (typeof b.model !== 'string') return bad('model: Input should be a valid string');
  const model = findModel(b.model);
  if (!model) return [404, 'NotFoundError', `The model \`${b.model}\` does not exist.`];
  if (b.messages === undefined) return bad('messages: Field required');
  if (!Array.isArray(b.messages)) return bad('messages: Input should be a valid list');
  if (b.messages.length === 0) return bad('messages: List should have at least 1 item after validation, not 0');
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== 'boolean') return bad('stream: Input should be a valid boolean');
  if (b.n !== undefined && b.n !== null) {
    if (!isInt(b.n)) return bad('n: Input should be a valid integer');
    if (b.n < 1) return bad('n: Input should be greater than or equal to 1');
    if (b.n > 16) return bad('n: Input should be less than or equal to 16');
  }
  // Two model validators of vLLM's ChatCompletionRequest.
  if (truthy(b.stream_options) && !truthy(b.stream)) {
    return bad('Value error, Stream options can only be defined when `stream=True`.');
  }
  if (b.top_logprobs !== undefined && b.top_logprobs !== null) {
    if (!isInt(b.top_logprobs) || b.top_logprobs < 0) return bad('Value error, `top_logprobs` must be a positive value.');
    if (b.top_logprobs > 0 && !truthy(b.logprobs)) return bad('Value error, when using `top_logprobs`, `logprobs` must be set to true.');
  }
  // The context window, only when a token budget is asked for (vLLM's wording, 0.10+).
  const prompt = Math.ceil(bodyLen / 4);
  const mt = isInt(b.max_completion_tokens) ? b.max_completion_tokens : isInt(b.max_tokens) ? b.max_tokens : null;
  if (mt !== null && mt > model.len - prompt) {
    return bad(`'max_tokens' or 'max_completion_tokens' is too large: ${mt}. This model's maximum context length is ` +
      `${model.len} tokens and your request has ${prompt} input tokens (${mt} > ${model.len} - ${prompt}).`);
  }
  return null;
}

// ---------------------------------------------------------------- generation --

function textOf(c) {
  if (typeof c === 'string') return c;
  let t = '';
  if (Array.isArray(c)) {
    for (const x of c) {
      if (typeof x === 'string') t += x;
      else if (isObj(x) && typeof x.text === 'string') t += x.text;
    }
  }
  return t;
}

const THINK_PIECES = ['Let me think', ' about this.'];
const THINK_TEXT = THINK_PIECES.join('');
const THINK_TOKENS = 5;
const TOOL_TOKENS = 5;

function functionTools(b) {
  if (!Array.isArray(b.tools)) return [];
  return b.tools.filter((t) => isObj(t) && (t.type === undefined || t.type === 'function') &&
    isObj(t.function) && typeof t.function.name === 'string');
}

// The answer of one choice (all choices get the same one) plus usage.
function buildPlan(b, d, bodyLen) {
  const mt = isInt(b.max_completion_tokens) ? b.max_completion_tokens : isInt(b.max_tokens) ? b.max_tokens : Infinity;
  let remaining = Math.max(0, mt);
  let out = 0;
  let finishReason = 'stop';
  let stopReason = null;
  let content = null;
  const calls = [];
  const stops = typeof b.stop === 'string' ? [b.stop]
    : Array.isArray(b.stop) ? b.stop.filter((s) => typeof s === 'string' && s !== '') : [];

  const kw = b.chat_template_kwargs;
  const reasoning = isObj(kw) && (kw.enable_thinking === true || kw.thinking === true);
  if (reasoning) { out += THINK_TOKENS; remaining = Math.max(0, remaining - THINK_TOKENS); }

  // false when generation stopped (stop string or max tokens)
  const addText = (text) => {
    let cut = text;
    let hit = null;
    if (stops.length) {
      let best = -1;
      for (const s of stops) {
        if (s === '') continue;
        const k = text.indexOf(s);
        if (k >= 0 && (best < 0 || k < best)) { best = k; hit = s; }
      }
      if (best >= 0) cut = text.slice(0, best);
    }
    const wc = countWords(cut);
    if (wc > remaining) {
      content = (content || '') + cutWords(cut, remaining);
      out += remaining;
      remaining = 0;
      finishReason = 'length';
      return false;
    }
    out += wc;
    remaining -= wc;
    content = (content || '') + cut;
    if (hit !== null) { finishReason = 'stop'; stopReason = hit; return false; }
    return true;
  };

  const reply = replyOf(d);
  const msgs = b.messages;
  const last = msgs[msgs.length - 1];
  const tools = functionTools(b);
  const tc = b.tool_choice;
  const rf = b.response_format;

  if (isObj(last) && last.role === 'tool') {
    addText('The tool said: ' + textOf(last.content));
  } else if (tools.length && tc !== 'none') {
    let n = Math.max(1, toInt(d.calls, 1));
    if (b.parallel_tool_calls === false) n = 1;
    let go = true;
    if (reply !== null) go = addText(reply);
    const named = isObj(tc) && isObj(tc.function) && typeof tc.function.name === 'string'
      ? tools.find((t) => t.function.name === tc.function.name) : null;
    for (let i = 0; go && i < n; i++) {
      const tool = named || tools[i % tools.length];
      const params = tool.function.parameters;
      const json = JSON.stringify(isObj(params) ? genObject(params, false) : {});
      if (remaining >= TOOL_TOKENS) {
        calls.push({ name: tool.function.name, args: json });
        out += TOOL_TOKENS;
        remaining -= TOOL_TOKENS;
      } else {
        if (remaining > 0) {
          // Cut by the token budget: the arguments stop halfway.
          calls.push({ name: tool.function.name, args: json.slice(0, json.length >> 1) });
          out += remaining;
          remaining = 0;
        }
        finishReason = 'length';
        go = false;
      }
    }
    if (go) finishReason = 'tool_calls';
    if (calls.length === 0 && content === null) content = '';
  } else if (isObj(rf) && rf.type === 'json_object') {
    addText('{"answer":"Hello from the mock."}');
  } else if (isObj(rf) && rf.type === 'json_schema') {
    addText(JSON.stringify(genValue(isObj(rf.json_schema) ? rf.json_schema.schema : null, true)));
  } else if (isObj(b.guided_json)) {
    addText(JSON.stringify(genValue(b.guided_json, true)));
  } else {
    addText(reply !== null ? reply : 'Hello from the mock.');
  }

  if (d.stop_reason !== undefined) stopReason = /^\d+$/.test(d.stop_reason) ? Number(d.stop_reason) : d.stop_reason;
  if (d.finish_reason !== undefined) finishReason = d.finish_reason;
  const n = isInt(b.n) ? b.n : 1;
  const so = b.stream_options;
  return {
    n,
    reasoning,
    content, // string, or null when the answer is tool calls only
    calls,
    finishReason,
    stopReason,
    prompt: Math.ceil(bodyLen / 4),
    completion: out, // per choice
    logprobs: b.logprobs === true,
    topLogprobs: isInt(b.top_logprobs) ? Math.min(20, Math.max(0, b.top_logprobs)) : 0,
    includeUsage: isObj(so) && so.include_usage === true,
    usageNull: d.usage_null === '1' || d.usage_null === 'true',
    field: REASONING_FIELDS.has(d.reasoning_field) ? d.reasoning_field : STATE.reasoningField,
  };
}

function reasoningJson(field, text) {
  const t = q(text);
  if (field === 'both') return `"reasoning":${t},"reasoning_content":${t}`;
  return `"${field}":${t}`;
}

function nullReasoning(field) {
  return field === 'both' ? '"reasoning":null,"reasoning_content":null' : `"${field}":null`;
}

function tokenBytes(t) {
  return '[' + Array.from(Buffer.from(t, 'utf8')).join(',') + ']';
}
function logprobEntry(tok, top) {
  const bytes = tokenBytes(tok);
  let alts = '';
  for (let i = 0; i < top; i++) {
    if (i) alts += ',';
    if (i === 0) alts += `{"token":${q(tok)},"logprob":-0.01,"bytes":${bytes}}`;
    else {
      const a = `alt${i}`;
      alts += `{"token":"${a}","logprob":${-(i + 1)},"bytes":${tokenBytes(a)}}`;
    }
  }
  return `{"token":${q(tok)},"logprob":-0.01,"bytes":${bytes},"top_logprobs":[${alts}]}`;
}

function usageJson(p, completion) {
  return `{"prompt_tokens":${p.prompt},"total_tokens":${p.prompt + completion},"completion_tokens":${completion}}`;
}

function renderMessage(p, model) {
  const choices = [];
  for (let i = 0; i < p.n; i++) {
    const tcs = p.calls.map((c) => `{"id":"${newToolId()}","type":"function","function":{"name":${q(c.name)},"arguments":${q(c.args)}}}`);
    const rs = p.reasoning ? reasoningJson(p.field, THINK_TEXT) : nullReasoning(p.field);
    const msg = `{"role":"assistant","content":${q(p.content)},"refusal":null,"annotations":null,"audio":null,` +
      `"function_call":null,"tool_calls":[${tcs.join(',')}],${rs}}`;
    let lp = 'null';
    if (p.logprobs) lp = `{"content":[${(p.content ? wordPieces(p.content) : []).map((t) => logprobEntry(t, p.topLogprobs)).join(',')}]}`;
    choices.push(`{"index":${i},"message":${msg},"logprobs":${lp},"finish_reason":${q(p.finishReason)},"stop_reason":${q(p.stopReason)}}`);
  }
  const c = p.completion * p.n;
  return `{"id":"${newChatId()}","object":"chat.completion","created":${nowSec()},"model":${q(model)},` +
    `"choices":[${choices.join(',')}],"usage":{"prompt_tokens":${p.prompt},"total_tokens":${p.prompt + c},` +
    `"completion_tokens":${c},"prompt_tokens_details":null},"prompt_logprobs":null,"kv_transfer_params":null,` +
    '"service_tier":null,"system_fingerprint":null}';
}

// Chunk writer: every chunk of one stream shares id, created and model.
function chunker(p, model) {
  const head = `data: {"id":"${newChatId()}","object":"chat.completion.chunk","created":${nowSec()},"model":${q(model)},"choices":[`;
  const tail = p.includeUsage && p.usageNull ? '],"usage":null}\n\n' : ']}\n\n';
  return {
    head,
    tail,
    choice: (i, delta, lp = 'null', fin = null, stop = null) =>
      `${head}{"index":${i},"delta":${delta},"logprobs":${lp},"finish_reason":${q(fin)},"stop_reason":${q(stop)}}${tail}`,
    usage: (completion) => `${head}],"usage":${usageJson(p, completion)}}\n\n`,
  };
}

const ROLE_DELTA = '{"role":"assistant","content":""}';
const DONE = 'data: [DONE]\n\n';

// Every event of the stream, as strings. opts.truncate: stop before the finish
// chunks; opts.noDone: no [DONE].
function renderStream(p, model, opts = {}) {
  const ck = chunker(p, model);
  const per = [];
  for (let i = 0; i < p.n; i++) {
    const ev = [ck.choice(i, ROLE_DELTA)];
    if (p.reasoning) for (const t of THINK_PIECES) ev.push(ck.choice(i, `{${reasoningJson(p.field, t)}}`));
    if (p.content) {
      for (const t of wordPieces(p.content)) {
        ev.push(ck.choice(i, `{"content":${q(t)}}`, p.logprobs ? `{"content":[${logprobEntry(t, p.topLogprobs)}]}` : 'null'));
      }
    }
    p.calls.forEach((c, k) => {
      ev.push(ck.choice(i, `{"tool_calls":[{"index":${k},"id":"${newToolId()}","type":"function","function":{"name":${q(c.name)},"arguments":""}}]}`));
      for (const a of jsonPieces(c.args)) ev.push(ck.choice(i, `{"tool_calls":[{"index":${k},"function":{"arguments":${q(a)}}}]}`));
    });
    per.push(ev);
  }
  // Interleave like the recorded n=3 stream: each choice's role chunk with its
  // first delta, then one delta per choice in turn.
  const out = [];
  const groups = per.map((ev) => [ev.slice(0, 2), ...ev.slice(2).map((e) => [e])]);
  const steps = Math.max(...groups.map((g) => g.length));
  for (let s = 0; s < steps; s++) for (const g of groups) if (s < g.length) out.push(...g[s]);
  if (opts.truncate) return out;
  const finDelta = p.calls.length ? '{}' : '{"content":""}';
  for (let i = 0; i < p.n; i++) out.push(ck.choice(i, finDelta, 'null', p.finishReason, p.stopReason));
  if (p.includeUsage) out.push(ck.usage(p.completion * p.n));
  if (!opts.noDone) out.push(DONE);
  return out;
}

// Role chunk and "Hello", " from the": the prefix of the broken streams.
function streamPrefix(p, model) {
  const ck = chunker(p, model);
  return [ck.choice(0, ROLE_DELTA), ck.choice(0, '{"content":"Hello"}'), ck.choice(0, '{"content":" from the"}')];
}

// ---------------------------------------------------------------- responses --

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8' };
const JSON_HEADERS = (len) => ({ 'content-type': 'application/json', 'content-length': len });

// Here ms <= 0 still yields to the event loop between events.
const writeEvents = (ctx, events, ms) => writeEventsC(ctx, events, ms, true);

async function replayFixture(ctx, fx, d) {
  if (fx.kind === 'sse') {
    head(ctx, 200, SSE_HEADERS);
    if (await writeEvents(ctx, fx.events, toInt(d.ms, 0))) endResponse(ctx);
    return;
  }
  finish(ctx, 200, JSON_HEADERS(fx.body.length), fx.body);
}

async function sendBig(ctx, p, model, stream, total) {
  // The text is "abcdefg abcdefg ..." sized so the body is exactly `total`
  // bytes (when `total` exceeds the fixed envelope). completion_tokens changes
  // the envelope size, so iterate to a fixed point.
  const words = (n) => Math.ceil(n / 8);
  const fit = (envelope) => {
    let n = 0;
    for (let k = 0; k < 5; k++) n = Math.max(0, total - envelope(n));
    return n;
  };
  if (!stream) {
    const id = newChatId();
    const created = nowSec();
    const pre = `{"id":"${id}","object":"chat.completion","created":${created},"model":${q(model)},` +
      '"choices":[{"index":0,"message":{"role":"assistant","content":"';
    const post = (n) => `","refusal":null,"annotations":null,"audio":null,"function_call":null,"tool_calls":[],` +
      `${nullReasoning(p.field)}},"logprobs":null,"finish_reason":"stop","stop_reason":null}],` +
      `"usage":{"prompt_tokens":${p.prompt},"total_tokens":${p.prompt + words(n)},"completion_tokens":${words(n)},` +
      '"prompt_tokens_details":null},"prompt_logprobs":null,"kv_transfer_params":null,"service_tier":null,"system_fingerprint":null}';
    const n = fit((k) => Buffer.byteLength(pre) + Buffer.byteLength(post(k)));
    const tail = post(n);
    head(ctx, 200, JSON_HEADERS(Buffer.byteLength(pre) + n + Buffer.byteLength(tail)));
    await write(ctx, pre);
    await writeFiller(ctx, n);
    if (!ctx.closed) { ctx.bytes += tail.length; ctx.res.end(tail); }
    return;
  }
  const pp = { ...p, n: 1, usageNull: false };
  const ck = chunker(pp, model);
  // start ends inside the content string: `...,"delta":{"content":"`
  const start = ck.choice(0, ROLE_DELTA) + ck.head + '{"index":0,"delta":{"content":"';
  const after = '"},"logprobs":null,"finish_reason":null,"stop_reason":null}' + ck.tail;
  const rest = (n) => after + ck.choice(0, '{"content":""}', 'null', 'stop', null) +
    (p.includeUsage ? ck.usage(words(n)) : '') + DONE;
  const n = fit((k) => Buffer.byteLength(start) + Buffer.byteLength(rest(k)));
  head(ctx, 200, SSE_HEADERS);
  await write(ctx, start);
  await writeFiller(ctx, n);
  if (!ctx.closed) {
    const t = rest(n);
    ctx.bytes += t.length;
    ctx.res.end(t);
  }
}

async function runFault(ctx, fault, body, d, model, stream) {
  const code = /^\d{3}$/.test(fault) ? Number(fault) : 0;
  if (code) {
    const type = d.error_type || ERROR_TYPE[code] || (code >= 500 ? 'InternalServerError' : 'BadRequestError');
    let extra = null;
    if (code === 429) extra = { 'retry-after': String(Math.max(0, toInt(d.retry_after, 1))) };
    else if (d.retry_after !== undefined) extra = { 'retry-after': String(toInt(d.retry_after, 1)) };
    if (d.retry_after_ms !== undefined) (extra ||= {})['retry-after-ms'] = String(toInt(d.retry_after_ms, 1000));
    sendError(ctx, code, type, `mock: injected ${code} ${phrase(code)}`, extra);
    return;
  }
  const ms = toInt(d.ms, 0);
  switch (fault) {
    case 'error-midstream': {
      const p = buildPlan(body, d, ctx.bodyLen);
      head(ctx, 200, SSE_HEADERS);
      const type = d.error_type || 'InternalServerError';
      const events = streamPrefix(p, model);
      events.push(`data: ${errorBody(ctx.shape, 500, type, 'mock: upstream failed mid-stream')}\n\n`, DONE);
      if (await writeEvents(ctx, events, ms)) endResponse(ctx);
      return;
    }
    case 'reset':
    case 'stall-midstream': {
      const p = buildPlan(body, d, ctx.bodyLen);
      if (stream) {
        head(ctx, 200, SSE_HEADERS);
        if (!(await writeEvents(ctx, streamPrefix(p, model), ms))) return;
      } else {
        const s = Buffer.from(renderMessage(p, model));
        head(ctx, 200, JSON_HEADERS(s.length));
        if (!(await write(ctx, s.subarray(0, s.length >> 1)))) return;
      }
      if (fault === 'reset') {
        await sleep(20); // let the client read what was sent
        if (!ctx.closed) resetSocket(ctx);
      }
      return; // stall-midstream: silence until the client leaves
    }
    case 'reset-before':
      resetSocket(ctx);
      return;
    case 'stall':
      return;
    case 'malformed': {
      if (!stream) {
        const s = `{"id":"${newChatId()}","object":"chat.completion","created":${nowSec()},"model":${q(model)},` +
          '"choices":[{"index":0,"message":{"role":"assistant","content":"Hel';
        finish(ctx, 200, JSON_HEADERS(Buffer.byteLength(s)), s);
        return;
      }
      const p = buildPlan(body, d, ctx.bodyLen);
      const events = renderStream(p, model);
      const bad = events[0].slice(0, events[0].indexOf('"choices"')) + '"choices":[{"index":0,"delta":{"content":"oops\n\n';
      events.splice(Math.min(2, events.length - 1), 0, bad);
      head(ctx, 200, SSE_HEADERS);
      if (await writeEvents(ctx, events, ms)) endResponse(ctx);
      return;
    }
    case 'big': {
      const p = buildPlan(body, d, ctx.bodyLen);
      await sendBig(ctx, p, model, stream, Math.max(0, toInt(d.bytes, 1 << 20)));
      return;
    }
    default:
      sendError(ctx, 400, 'BadRequestError', `mock: unknown fault ${fault}`);
  }
}

async function answer(ctx, body, d, fault) {
  const model = body.model;
  const stream = body.stream === true;
  if (fault) return runFault(ctx, fault, body, d, model, stream);
  if (d.fixture !== undefined) {
    const fx = findFixture(d.fixture);
    if (!fx) return sendError(ctx, 400, 'BadRequestError', `mock: unknown fixture ${d.fixture}`);
    return replayFixture(ctx, fx, d);
  }
  const p = buildPlan(body, d, ctx.bodyLen);
  if (!stream) {
    const s = renderMessage(p, model);
    finish(ctx, 200, JSON_HEADERS(Buffer.byteLength(s)), s);
    return;
  }
  const flag = (k) => d[k] === '1' || d[k] === 'true';
  const events = renderStream(p, model, { truncate: flag('truncate'), noDone: flag('no_done') });
  if (d.ms !== undefined) {
    head(ctx, 200, SSE_HEADERS);
    if (await writeEvents(ctx, events, toInt(d.ms, 0))) endResponse(ctx);
    return;
  }
  // Fast path: two writes (the first chunk, then the rest).
  if (ctx.closed) return;
  ctx.rec.status = 200;
  const res = ctx.res;
  res.writeHead(200, SSE_HEADERS);
  res.write(events[0]);
  const rest = events.slice(1).join('');
  ctx.bytes += events[0].length + rest.length;
  ctx.lastWrite = Date.now();
  res.end(rest);
}

// ---------------------------------------------------------------- POST /v1/chat/completions --

function handleChat(req, res, buf) {
  HITS.chat++;
  const text = buf.toString('utf8');
  const d = parseDirectives(text) || NO_DIRECTIVES;
  let body;
  let parsed = true;
  try { body = JSON.parse(text); } catch { parsed = false; }
  const id = d.id !== undefined ? d.id : null;
  const rec = REC.record(req, parsed ? body : text, id);
  const ctx = {
    req, res, rec, id, bodyLen: buf.length, t0: rec.time,
    shape: ERROR_SHAPES.has(d.errors) ? d.errors : STATE.errors,
    bytes: 0, lastWrite: 0, closed: false, selfClosed: false, timer: null,
  };
  res.on('close', () => REC.closed(ctx));
  const { active, delay } = REC.count(id, d);

  let run;
  if (!authorized(req)) {
    run = () => sendUnauthorized(res, ctx);
  } else if (!parsed) {
    run = () => sendError(ctx, 400, 'BadRequestError', 'body: JSON decode error');
  } else {
    const err = validate(body, buf.length);
    if (err) run = () => sendError(ctx, err[0], err[1], err[2]);
    else {
      const fault = active ? d.fault : undefined;
      run = () => { answer(ctx, body, d, fault).catch((e) => internalError(ctx, e)); };
    }
  }
  if (delay > 0) ctx.timer = setTimeout(run, delay);
  else run();
}

function internalError(ctx, e) {
  process.stderr.write(`mock-openai: internal error: ${e && e.stack || e}\n`);
  if (ctx.closed) return;
  if (!ctx.res.headersSent) sendError(ctx, 500, 'InternalServerError', 'mock: internal error');
  else ctx.res.destroy();
}

// ---------------------------------------------------------------- other routes --

function sendPlainError(res, status, type, message) {
  const s = errorBody(STATE.errors, status, type, message);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
  res.end(s);
}

function applyConfig(c) {
  if (!isObj(c)) return 'body must be a JSON object';
  const next = {};
  if (c.models !== undefined) {
    let list = c.models;
    if (typeof list === 'string') list = list.split(',');
    if (!Array.isArray(list)) return 'models must be an array of "id" or "id:len" strings';
    const specs = [];
    for (const x of list) {
      const s = isObj(x) && typeof x.id === 'string'
        ? { id: x.id, len: isInt(x.max_model_len) ? x.max_model_len : DEFAULT_MAX_MODEL_LEN }
        : parseModelSpec(x);
      if (!s) return `bad model entry ${JSON.stringify(x)}`;
      specs.push(s);
    }
    next.models = specs;
  }
  if (c.health !== undefined) {
    if (c.health !== 200 && c.health !== 503) return 'health must be 200 or 503';
    next.health = c.health;
  }
  if (c.reasoning_field !== undefined) {
    if (!REASONING_FIELDS.has(c.reasoning_field)) return 'reasoning_field must be reasoning, reasoning_content or both';
    next.reasoningField = c.reasoning_field;
  }
  if (c.errors !== undefined) {
    if (!ERROR_SHAPES.has(c.errors)) return 'errors must be nested or flat';
    next.errors = c.errors;
  }
  if (next.models) {
    // Keep the permission id of a model that stays.
    next.models = next.models.map((s) => {
      const old = findModel(s.id);
      return old ? { ...old, len: s.len } : modelEntry(s);
    });
  }
  Object.assign(STATE, next);
  return null;
}

function control(req, res, p, query, buf) {
  const sp = new URLSearchParams(query);
  const id = sp.has('id') ? sp.get('id') : null;
  if (REC.control(req, res, p, id, () => { HITS.models = 0; HITS.health = 0; HITS.chat = 0; })) return;
  if (p === '/_mock/hits' && req.method === 'GET') return sendJson(res, 200, HITS);
  if (p === '/_mock/config') {
    if (req.method === 'GET') return sendJson(res, 200, stateView());
    if (req.method === 'POST') {
      let c;
      try { c = JSON.parse(buf.toString('utf8') || '{}'); } catch { return sendJson(res, 400, { ok: false, error: 'body is not valid JSON' }); }
      const err = applyConfig(c);
      if (err) return sendJson(res, 400, { ok: false, error: err });
      return sendJson(res, 200, stateView());
    }
  }
  if (p === '/_mock/fixtures' && req.method === 'GET') {
    return sendJson(res, 200, { dir: OPT.fixtures, recorded: OPT.recorded, fixtures: [...FIXTURES.keys()] });
  }
  return sendJson(res, 404, { ok: false, error: `no such control endpoint: ${req.method} ${p}` });
}

function modelList() {
  return {
    object: 'list',
    data: STATE.models.map((m) => ({
      id: m.id,
      object: 'model',
      created: STARTED,
      owned_by: 'vllm',
      root: m.id,
      parent: null,
      max_model_len: m.len,
      permission: [{
        id: m.perm,
        object: 'model_permission',
        created: STARTED,
        allow_create_engine: false,
        allow_sampling: true,
        allow_logprobs: true,
        allow_search_indices: false,
        allow_view: true,
        allow_fine_tuning: false,
        organization: '*',
        group: null,
        is_blocking: false,
      }],
    })),
  };
}

const collect = makeCollect('mock-openai',
  (res) => sendPlainError(res, 500, 'InternalServerError', 'mock: internal error'));

function logLine(req, status, t0) {
  if (OPT.verbose) process.stderr.write(`${new Date().toISOString()} ${req.method} ${req.url} ${status} ${Date.now() - t0}ms\n`);
}

function otherRoute(req, res, p) {
  const t0 = Date.now();
  if (p === '/health' && req.method === 'GET') {
    HITS.health++;
    res.writeHead(STATE.health, { 'content-length': 0 });
    res.end();
    return logLine(req, STATE.health, t0);
  }
  if (p.startsWith('/v1') && !authorized(req)) {
    if (p === '/v1/models' && req.method === 'GET') HITS.models++;
    sendUnauthorized(res, null);
    return logLine(req, 401, t0);
  }
  if (p === '/v1/models' && req.method === 'GET') {
    HITS.models++;
    sendJson(res, 200, modelList());
    return logLine(req, 200, t0);
  }
  if (p === '/v1/chat/completions') {
    sendPlainError(res, 405, 'MethodNotAllowedError', 'Method Not Allowed');
    return logLine(req, 405, t0);
  }
  sendPlainError(res, 404, 'NotFoundError', 'Not Found');
  return logLine(req, 404, t0);
}

function onRequest(req, res) {
  const url = req.url;
  const qi = url.indexOf('?');
  const p = qi < 0 ? url : url.slice(0, qi);
  if (p === '/v1/chat/completions' && req.method === 'POST') return collect(req, res, handleChat);
  if (p.startsWith('/_mock/')) return collect(req, res, (rq, rs, buf) => control(rq, rs, p, qi < 0 ? '' : url.slice(qi + 1), buf));
  return collect(req, res, (rq, rs) => otherRoute(rq, rs, p));
}

// ---------------------------------------------------------------- main --

startServer('mock-openai', OPT, onRequest);
