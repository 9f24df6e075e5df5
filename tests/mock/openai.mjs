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
  // id -> { dim, matryoshka }: the listed models that are pooling (embedding)
  // models. Set with /_mock/config {embed_models}; none at start.
  embed: new Map(),
};
const STARTED = nowSec();
const HITS = { models: 0, health: 0, chat: 0, embeddings: 0, completions: 0 };

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
    embed_models: [...STATE.embed].map(([id, e]) => ({ id, dim: e.dim, matryoshka: e.matryoshka })),
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

// ---------------------------------------------------------------- POST /v1/embeddings, /v1/completions --
//
// As vLLM serves them. One vLLM process serves one model, and registers
// /v1/embeddings only when that model is a pooling model and /v1/completions
// only when it generates (vllm/entrypoints/openai/api_server.py, build_app:
// register_pooling_api_routers under `any(task in POOLING_TASKS ...)`, the
// generate routers under `"generate" in supported_tasks`): for the other
// kind the route does not exist and FastAPI answers 404 {"detail":"Not
// Found"}. This mock serves several models, so it answers that 404 when the
// model named is of the other kind. Older vLLM (0.7 to 0.10) kept the route
// and said "The model does not support Embeddings API" (400 BadRequestError,
// quoted in the wild with code 400; vllm-project/vllm#21704 shows it sent
// with status 200): the directive `embed_error=legacy` (or `legacy200`)
// answers that way instead.

const EMBED_DIM = 16;
const NOT_FOUND = '{"detail":"Not Found"}';
const newEmbedId = () => 'embd-' + randHex(32);
const newCmplId = () => 'cmpl-' + randHex(32);

function ctxFor(req, res, buf, d, body, parsed) {
  const id = d.id !== undefined ? d.id : null;
  const rec = REC.record(req, parsed ? body : buf.toString('utf8'), id);
  const ctx = {
    req, res, rec, id, bodyLen: buf.length, t0: rec.time,
    shape: ERROR_SHAPES.has(d.errors) ? d.errors : STATE.errors,
    bytes: 0, lastWrite: 0, closed: false, selfClosed: false, timer: null,
  };
  res.on('close', () => REC.closed(ctx));
  return ctx;
}

function sendNotFoundRoute(ctx) {
  finish(ctx, 404, JSON_HEADERS(NOT_FOUND.length), NOT_FOUND);
}

// A numeric fault directive (fault=500, fault=429 ...), as for chat.
function numericFault(ctx, d, active) {
  if (!active || d.fault === undefined || !/^\d{3}$/.test(d.fault)) return false;
  runFault(ctx, d.fault, null, d, null, false).catch((e) => internalError(ctx, e));
  return true;
}

// A deterministic vector for one input (the same text, the same vector),
// normalised as vLLM's embedding models normalise theirs.
function vectorOf(input, dim) {
  const v = new Float32Array(dim);
  let seed = crypto.createHash('sha256').update(JSON.stringify(input)).digest();
  let norm = 0;
  for (let i = 0; i < dim; i++) {
    if (i % 8 === 0 && i) seed = crypto.createHash('sha256').update(seed).digest();
    v[i] = (seed.readUInt32LE((i % 8) * 4) / 0xffffffff) * 2 - 1;
    norm += v[i] * v[i];
  }
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < dim; i++) v[i] /= norm;
  return v;
}

// Tokens of one input: its words, or its token ids.
const tokensOf = (x) => (Array.isArray(x) ? x.length : Math.max(1, countWords(x)));

// vLLM's EmbeddingCompletionRequest (pydantic): input is a string, strings,
// token ids or token id arrays; encoding_format "float" or "base64".
function validateEmbedding(b) {
  const bad = (m) => [400, 'BadRequestError', m];
  if (!isObj(b)) return bad('body: Input should be a valid dictionary or object to extract fields from');
  if (b.input === undefined) return bad('input: Field required');
  const x = b.input;
  const okList = Array.isArray(x) && (x.every((e) => typeof e === 'string') || x.every(isInt) ||
    x.every((e) => Array.isArray(e) && e.every(isInt)));
  if (typeof x !== 'string' && !okList) return bad('input: Input should be a valid string');
  if (b.encoding_format !== undefined && b.encoding_format !== 'float' && b.encoding_format !== 'base64') {
    return bad("encoding_format: Input should be 'float' or 'base64'");
  }
  if (b.dimensions !== undefined && b.dimensions !== null && !isInt(b.dimensions)) return bad('dimensions: Input should be a valid integer');
  return null;
}

function handleEmbeddings(req, res, buf) {
  HITS.embeddings++;
  const text = buf.toString('utf8');
  const d = parseDirectives(text) || NO_DIRECTIVES;
  let body;
  let parsed = true;
  try { body = JSON.parse(text); } catch { parsed = false; }
  const ctx = ctxFor(req, res, buf, d, body, parsed);
  const { active } = REC.count(ctx.id, d);
  if (!authorized(req)) return sendUnauthorized(res, ctx);
  if (!parsed) return sendError(ctx, 400, 'BadRequestError', 'body: JSON decode error');
  const model = isObj(body) && typeof body.model === 'string' ? findModel(body.model) : null;
  if (isObj(body) && typeof body.model === 'string' && !model) {
    return sendError(ctx, 404, 'NotFoundError', `The model \`${body.model}\` does not exist.`);
  }
  const emb = model ? STATE.embed.get(model.id) : null;
  if (model && !emb) {
    const legacy = 'The model does not support Embeddings API';
    if (d.embed_error === 'legacy') return sendError(ctx, 400, 'BadRequestError', legacy);
    if (d.embed_error === 'legacy200') return sendError(ctx, 200, 'BadRequestError', legacy);
    return sendNotFoundRoute(ctx);
  }
  const err = validateEmbedding(body);
  if (err) return sendError(ctx, err[0], err[1], err[2]);
  if (numericFault(ctx, d, active)) return undefined;
  let dim = emb ? emb.dim : EMBED_DIM;
  if (isInt(body.dimensions)) {
    // vLLM's docs (docs/models/pooling_models.md, "Matryoshka Embeddings"):
    // dimensions on a model without matryoshka representation is this 400.
    if (!emb.matryoshka) {
      return sendError(ctx, 400, 'BadRequestError', `Model "${body.model}" does not support matryoshka ` +
        'representation, changing output dimensions will lead to poor results.');
    }
    if (body.dimensions < 1) return sendError(ctx, 400, 'BadRequestError', 'Dimensions must be greater than 0');
    dim = Math.min(dim, body.dimensions);
  }
  const inputs = typeof body.input === 'string' ? [body.input]
    : body.input.length && isInt(body.input[0]) ? [body.input] : body.input;
  const b64 = body.encoding_format === 'base64';
  let tokens = 0;
  const data = inputs.map((x, i) => {
    tokens += tokensOf(x);
    const v = vectorOf(x, dim);
    const e = b64 ? q(Buffer.from(v.buffer).toString('base64')) : `[${Array.from(v).join(',')}]`;
    return `{"index":${i},"object":"embedding","embedding":${e}}`;
  });
  const s = `{"id":"${newEmbedId()}","object":"list","created":${nowSec()},"model":${q(body.model)},` +
    `"data":[${data.join(',')}],"usage":{"prompt_tokens":${tokens},"total_tokens":${tokens},` +
    '"completion_tokens":0,"prompt_tokens_details":null}}';
  finish(ctx, 200, JSON_HEADERS(Buffer.byteLength(s)), s);
  return undefined;
}

// POST /tokenize, vLLM's Tokenizer API (docs.vllm.ai, OpenAI-Compatible
// Server, "Tokenizer API": /tokenize wraps the tokenizer's encode; vllm
// entrypoints/openai/protocol.py TokenizeChatRequest {model, messages,
// add_generation_prompt, tools ...} and TokenizeResponse {count,
// max_model_len, tokens, token_strs}). Served at the server's root, not
// under /v1. The count is deterministic, for the tests: ceil(bytes of
// JSON.stringify(messages) / 3), plus ceil(bytes of JSON.stringify(tools) / 3)
// when tools are given, plus 1 for the generation prompt. Directives:
// tokenize=off answers as a server without the route (FastAPI's 404
// {"detail":"Not Found"}: an OpenAI-compatible server that is not vLLM);
// a numeric fault=CODE as for chat.
const tokenizeCount = (b) => Math.ceil(Buffer.byteLength(JSON.stringify(b.messages)) / 3) +
  (Array.isArray(b.tools) ? Math.ceil(Buffer.byteLength(JSON.stringify(b.tools)) / 3) : 0) + 1;

function handleTokenize(req, res, buf) {
  const text = buf.toString('utf8');
  const d = parseDirectives(text) || NO_DIRECTIVES;
  let body;
  let parsed = true;
  try { body = JSON.parse(text); } catch { parsed = false; }
  const ctx = ctxFor(req, res, buf, d, body, parsed);
  const { active } = REC.count(ctx.id, d);
  if (d.tokenize === 'off') return sendNotFoundRoute(ctx);
  if (!authorized(req)) return sendUnauthorized(res, ctx);
  if (!parsed) return sendError(ctx, 400, 'BadRequestError', 'body: JSON decode error');
  if (isObj(body) && typeof body.model === 'string' && !findModel(body.model)) {
    return sendError(ctx, 404, 'NotFoundError', `The model \`${body.model}\` does not exist.`);
  }
  // vLLM refuses a TokenizeChatRequest without messages (protocol.py: messages is
  // required; the refusal is a 400 BadRequestError, api_server.py's
  // validation_exception_handler). The words are validate()'s field-missing
  // shape, not confirmed from a transcript. Axon always sends messages.
  if (!isObj(body) || !Array.isArray(body.messages)) return sendError(ctx, 400, 'BadRequestError', 'messages: Field required');
  if (numericFault(ctx, d, active)) return undefined;
  const n = tokenizeCount(body);
  const model = findModel(body.model);
  const s = JSON.stringify({
    count: n, max_model_len: model ? model.len : 8192, tokens: Array.from({ length: n }, (_, i) => i % 1000),
    token_strs: null,
  });
  finish(ctx, 200, JSON_HEADERS(Buffer.byteLength(s)), s);
  return undefined;
}

// vLLM's CompletionRequest: prompt required here (vLLM also takes
// prompt_embeds instead), the stream_options rule it shares with chat.
function validateCompletion(b) {
  const bad = (m) => [400, 'BadRequestError', m];
  if (!isObj(b)) return bad('body: Input should be a valid dictionary or object to extract fields from');
  if (b.prompt === undefined || b.prompt === null) return bad('prompt: Field required');
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== 'boolean') return bad('stream: Input should be a valid boolean');
  if (b.n !== undefined && b.n !== null && (!isInt(b.n) || b.n < 1)) return bad('n: Input should be greater than or equal to 1');
  if (truthy(b.stream_options) && !truthy(b.stream)) {
    return bad('Value error, Stream options can only be defined when `stream=True`.');
  }
  return null;
}

// The prompt's text (strings joined), for echo and for counting.
const promptText = (p) => (typeof p === 'string' ? p : Array.isArray(p) && p.every((x) => typeof x === 'string') ? p.join('') : '');
const promptTokens = (p) => (typeof p === 'string' ? tokensOf(p)
  : Array.isArray(p) ? p.reduce((n, x) => n + (isInt(x) ? 1 : tokensOf(x)), 0) : 0);

function handleCompletions(req, res, buf) {
  HITS.completions++;
  const text = buf.toString('utf8');
  const d = parseDirectives(text) || NO_DIRECTIVES;
  let body;
  let parsed = true;
  try { body = JSON.parse(text); } catch { parsed = false; }
  const ctx = ctxFor(req, res, buf, d, body, parsed);
  const { active } = REC.count(ctx.id, d);
  if (!authorized(req)) return sendUnauthorized(res, ctx);
  if (!parsed) return sendError(ctx, 400, 'BadRequestError', 'body: JSON decode error');
  const model = isObj(body) && typeof body.model === 'string' ? findModel(body.model) : null;
  if (isObj(body) && typeof body.model === 'string' && !model) {
    return sendError(ctx, 404, 'NotFoundError', `The model \`${body.model}\` does not exist.`);
  }
  if (model && STATE.embed.has(model.id)) return sendNotFoundRoute(ctx);
  const err = validateCompletion(body);
  if (err) return sendError(ctx, err[0], err[1], err[2]);
  if (numericFault(ctx, d, active)) return undefined;
  // vLLM's default max_tokens for a completion is 16, as OpenAI's.
  const max = isInt(body.max_tokens) ? body.max_tokens : 16;
  const reply = replyOf(d) ?? 'Hello from the mock.';
  const words = reply.match(/\s*\S+/g) || [];
  const out = words.slice(0, max);
  const fin = words.length > max ? 'length' : 'stop';
  const echo = body.echo === true ? promptText(body.prompt) : '';
  const n = isInt(body.n) ? body.n : 1;
  const prompt = promptTokens(body.prompt);
  const usage = `{"prompt_tokens":${prompt},"total_tokens":${prompt + out.length * n},` +
    `"completion_tokens":${out.length * n},"prompt_tokens_details":null}`;
  const id = newCmplId();
  const head0 = `{"id":"${id}","object":"text_completion","created":${nowSec()},"model":${q(body.model)},`;
  if (body.stream !== true) {
    const choices = [];
    for (let i = 0; i < n; i++) {
      choices.push(`{"index":${i},"text":${q(echo + out.join(''))},"logprobs":null,"finish_reason":"${fin}",` +
        '"stop_reason":null,"prompt_logprobs":null}');
    }
    const s = `${head0}"choices":[${choices.join(',')}],"usage":${usage},"kv_transfer_params":null}`;
    finish(ctx, 200, JSON_HEADERS(Buffer.byteLength(s)), s);
    return undefined;
  }
  // vLLM writes every chunk with model_dump_json(exclude_unset=False): a
  // chunk's usage is null until the usage chunk (choices empty) at the end.
  const so = body.stream_options;
  const withUsage = isObj(so) && so.include_usage === true;
  const chunk = (i, t, f) => `data: ${head0}"choices":[{"index":${i},"text":${q(t)},"logprobs":null,` +
    `"finish_reason":${q(f)},"stop_reason":null}],"usage":null}\n\n`;
  const events = [];
  for (let i = 0; i < n; i++) {
    if (echo) events.push(chunk(i, echo, null));
    out.forEach((w, k) => events.push(chunk(i, w, k === out.length - 1 ? fin : null)));
    if (!out.length) events.push(chunk(i, '', fin));
  }
  if (active && d.fault === 'error-midstream') {
    events.splice(2, events.length, `data: ${errorBody(ctx.shape, 500, 'InternalServerError', 'mock: upstream failed mid-stream')}\n\n`);
  }
  if (withUsage) events.push(`data: ${head0}"choices":[],"usage":${usage}}\n\n`);
  events.push(DONE);
  head(ctx, 200, SSE_HEADERS);
  writeEvents(ctx, events, toInt(d.ms, 0)).then((ok) => { if (ok) endResponse(ctx); })
    .catch((e) => internalError(ctx, e));
  return undefined;
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
  if (c.embed_models !== undefined) {
    if (!Array.isArray(c.embed_models)) return 'embed_models must be an array of ids or {id, dim, matryoshka}';
    const m = new Map();
    for (const x of c.embed_models) {
      const e = typeof x === 'string' ? { id: x } : x;
      if (!isObj(e) || typeof e.id !== 'string') return `bad embed_models entry ${JSON.stringify(x)}`;
      const dim = e.dim === undefined ? EMBED_DIM : e.dim;
      if (!isInt(dim) || dim < 1 || dim > 4096) return 'embed_models dim must be an integer 1..4096';
      m.set(e.id, { dim, matryoshka: e.matryoshka !== false });
    }
    next.embed = m;
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
  if (REC.control(req, res, p, id, () => { for (const k of Object.keys(HITS)) HITS[k] = 0; })) return;
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
  if (p === '/v1/embeddings' && req.method === 'POST') return collect(req, res, handleEmbeddings);
  if (p === '/v1/completions' && req.method === 'POST') return collect(req, res, handleCompletions);
  if (p === '/tokenize' && req.method === 'POST') return collect(req, res, handleTokenize);
  if (p.startsWith('/_mock/')) return collect(req, res, (rq, rs, buf) => control(rq, rs, p, qi < 0 ? '' : url.slice(qi + 1), buf));
  return collect(req, res, (rq, rs) => otherRoute(rq, rs, p));
}

// ---------------------------------------------------------------- main --

startServer('mock-openai', OPT, onRequest);
