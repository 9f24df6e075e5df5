// The OpenAI-compatible provider ("vLLM") through each web server, against
// the mock vLLM (tests/mock/openai.mjs, started by run.sh with
// --api-key sk-vllm-test-key and the models qwen3-coder and Qwen/Qwen3-8B):
// the model list, answers and streams as an OpenAI client sees them, the
// bodies the upstream recorded (GET /_mock/requests?id=X), the thinking
// toggle and reasoning output, conversations, error normalisation, the
// background model-list/health reads, /stats and client disconnects.
// Every completion, chunk, model and error is checked against the OpenAI spec.
//
// The tests that change the mock's live state (/_mock/config: models,
// health) run once, after the per-server ones, and use both servers in turn;
// they never remove qwen3-coder or Qwen/Qwen3-8B (other files run in parallel)
// and always put the state back.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import {
  SERVER_NAMES, KEY, REPO_ROOT, stackUrl, originOf, call, assertEnvelope, readSse, dataOf, waitFor, sleep,
} from './lib.mjs';
import { assertValid } from './schema.mjs';
import { sdk, leaveMidStream } from './mock.mjs';

const CHAT = '/v1/chat/completions';
const JSON_HEADERS = { 'content-type': 'application/json' };
const FIXTURES = process.env.MOCK_FIXTURES || path.resolve(REPO_ROOT, 'tests', 'data', 'fixtures');
const ID_RE = /^chatcmpl-[A-Za-z0-9]{29}$/;
const FP_RE = /^fp_[0-9a-f]{10}$/;
const CONV_RE = /^conv-[0-9a-f]{32}$/;
const MODEL = 'qwen3-coder';
const MODEL2 = 'Qwen/Qwen3-8B';
const REASONING = 'Let me think about this.';
const UPSTREAM_ONLY = ['stop_reason', 'prompt_logprobs', 'kv_transfer_params', 'reasoning'];
const VLLM_KEY = 'sk-vllm-test-key';

// ---- the mock vLLM's control side ---------------------------------------------

function vmockUrl() {
  const url = process.env.AXON_TEST_VLLM_MOCK_URL;
  assert.ok(url, 'AXON_TEST_VLLM_MOCK_URL is not set: run tests/integration/run.sh');
  return url;
}

async function vmock(pathAndQuery, { method = 'GET', body } = {}) {
  const res = await fetch(`${vmockUrl()}${pathAndQuery}`, {
    method,
    headers: body === undefined ? {} : JSON_HEADERS,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10000),
  });
  const json = await res.json();
  assert.equal(res.status, 200, `${method} ${pathAndQuery}: ${JSON.stringify(json)}`);
  return json;
}

const vrecorded = (id) => vmock(`/_mock/requests?id=${encodeURIComponent(id)}`);
const vaborts = (id) => vmock(`/_mock/aborts?id=${encodeURIComponent(id)}`);
const vcount = async (id) => (await vmock(`/_mock/counts?id=${encodeURIComponent(id)}`)).count;
const vhits = () => vmock('/_mock/hits');
const vconfig = (body) => (body === undefined ? vmock('/_mock/config') : vmock('/_mock/config', { method: 'POST', body }));

// The mock's models as a /_mock/config body (to put them back exactly).
const modelsBody = (cfg) => cfg.models.map((m) => ({ id: m.id, max_model_len: m.max_model_len }));

// ---- helpers ----------------------------------------------------------------------

let counter = 0;
const newId = (server, tag) => `vllm-${server}-${tag}-${++counter}-${process.pid}`;
const marker = (id, extra = '') => `[[mock id=${id}${extra ? ` ${extra}` : ''}]]`;
const user = (content) => ({ role: 'user', content });

async function onlyRecorded(id) {
  const recs = await vrecorded(id);
  assert.equal(recs.length, 1, `the mock vLLM got exactly one request for ${id}: ${JSON.stringify(recs).slice(0, 500)}`);
  return recs[0];
}

// The mock's prompt_tokens: ceil(request body bytes / 4).
const mockInputTokens = (rec) => Math.ceil(Number(rec.headers['content-length']) / 4);

// Every key anywhere in a JSON value.
function keysDeep(v, out = new Set()) {
  if (Array.isArray(v)) for (const x of v) keysDeep(x, out);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      out.add(k);
      keysDeep(x, out);
    }
  }
  return out;
}

function assertNoUpstreamKeys(obj, what) {
  const keys = keysDeep(obj);
  for (const k of UPSTREAM_ONLY) assert.ok(!keys.has(k), `${what}: no upstream-only key "${k}": ${JSON.stringify(obj).slice(0, 600)}`);
}

// An error envelope with a string or null code (never vLLM's integer).
function assertError(res, status, fields = {}) {
  assertValid('error', res.json, `error ${status}`);
  const e = assertEnvelope(res, status, fields);
  assert.ok(e.code === null || typeof e.code === 'string', `code is a string or null: ${JSON.stringify(e.code)}`);
  return e;
}

// A raw non-stream POST (x-request-id checked by call()); validated.
async function post(server, body) {
  const res = await call(originOf(stackUrl(server)), CHAT, {
    method: 'POST', key: KEY, headers: JSON_HEADERS, body: JSON.stringify(body),
  });
  if (res.status === 200) assertValid('response', res.json, `answer to ${JSON.stringify(body).slice(0, 200)}`);
  else assertValid('error', res.json, `error answer to ${JSON.stringify(body).slice(0, 200)}`);
  return res;
}

// A raw streamed POST, read block by block; every data: object is validated.
async function rawStream(server, body, { headers = {} } = {}) {
  const t0 = performance.now();
  const res = await fetch(`${stackUrl(server)}/chat/completions`, {
    method: 'POST',
    headers: { ...JSON_HEADERS, authorization: `Bearer ${KEY}`, ...headers },
    body: JSON.stringify({ ...body, stream: true }),
    signal: AbortSignal.timeout(30000),
  });
  assert.match(res.headers.get('x-request-id') ?? '', /^req_[0-9a-f]{32}$/);
  if (res.status !== 200) return { res, status: res.status, text: await res.text() };
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream\b/);
  const { blocks, rest } = await readSse(res, t0);
  const data = dataOf(blocks).map((d) => d.data);
  const done = data.at(-1) === '[DONE]';
  assert.equal(data.filter((d) => d === '[DONE]').length, done ? 1 : 0, 'at most one [DONE], and last');
  const objs = (done ? data.slice(0, -1) : data).map((d) => JSON.parse(d));
  for (const [k, o] of objs.entries()) {
    if (o.error) assertValid('error', o, `error chunk ${k} through ${server}`);
    else assertValid('chunk', o, `chunk ${k} through ${server}`);
    assertNoUpstreamKeys(o, `chunk ${k} through ${server}`);
  }
  return { res, status: 200, blocks, rest, data, done, objs, chunks: objs.filter((o) => !o.error), errors: objs.filter((o) => o.error) };
}

// What a stream adds up to for choice i.
function accumulate(chunks, i = 0) {
  const out = { content: '', reasoning: '', reasoningDeltas: [], finish: [], role: undefined };
  for (const c of chunks) {
    for (const ch of c.choices) {
      if (ch.index !== i) continue;
      const d = ch.delta;
      if (d.role && out.role === undefined) out.role = d.role;
      if (typeof d.content === 'string') out.content += d.content;
      if (typeof d.reasoning_content === 'string') {
        out.reasoning += d.reasoning_content;
        out.reasoningDeltas.push(d.reasoning_content);
      }
      if (ch.finish_reason !== null) out.finish.push(ch.finish_reason);
    }
  }
  return out;
}

function assertUsage(u) {
  for (const k of ['prompt_tokens', 'completion_tokens', 'total_tokens']) {
    assert.ok(Number.isInteger(u[k]) && u[k] >= 0, `usage.${k} is a non-negative integer: ${u[k]}`);
  }
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
}

// Stream invariants: Axon's id on every chunk, role first, exactly one
// finish per choice, a usage chunk (choices: []) last iff asked.
function assertStreamShape(chunks, { n = 1, includeUsage = false, model = MODEL } = {}) {
  assert.ok(chunks.length >= 2, `too few chunks: ${chunks.length}`);
  const { id, created } = chunks[0];
  assert.match(id, ID_RE, 'Axon\'s chatcmpl- id, not the upstream\'s 32-hex one');
  for (const c of chunks) {
    assert.equal(c.object, 'chat.completion.chunk');
    assert.equal(c.id, id, 'the same id on every chunk');
    assert.equal(c.created, created, 'the same created on every chunk');
    assert.equal(c.model, model, 'the model on every chunk');
    assert.match(c.system_fingerprint, FP_RE);
    assert.ok(c.choices.length <= 1, 'one choice per chunk');
  }
  for (let i = 0; i < n; i++) {
    const first = chunks.find((c) => c.choices.some((ch) => ch.index === i));
    assert.ok(first, `choice ${i} is in the stream`);
    assert.equal(first.choices.find((ch) => ch.index === i).delta.role, 'assistant', `the first chunk of choice ${i} carries the role`);
    const finishes = chunks.filter((c) => c.choices.some((ch) => ch.index === i && ch.finish_reason !== null));
    assert.equal(finishes.length, 1, `exactly one finish chunk for choice ${i}`);
  }
  assert.ok(chunks.every((c) => c.choices.every((ch) => ch.index < n)), `no choice index ≥ ${n}`);
  const usageChunks = chunks.filter((c) => c.usage);
  if (includeUsage) {
    assert.equal(usageChunks.length, 1, 'exactly one usage chunk');
    assert.equal(chunks.at(-1), usageChunks[0], 'the usage chunk comes last');
    assert.deepEqual(usageChunks[0].choices, [], 'the usage chunk has choices: []');
    assertUsage(usageChunks[0].usage);
  } else {
    assert.equal(usageChunks.length, 0, 'no usage chunk without stream_options.include_usage');
    assert.ok(chunks.every((c) => c.choices.length === 1), 'no choices: [] chunk without include_usage');
  }
}

// The data: objects of an .sse fixture, in order.
function sseEvents(name) {
  const text = fs.readFileSync(path.join(FIXTURES, name), 'utf8');
  return text.split(/\n\n/).flatMap((block) => {
    const line = block.split('\n').find((l) => l.startsWith('data:'));
    if (!line || line.slice(5).trim() === '[DONE]') return [];
    return [JSON.parse(line.slice(5))];
  });
}

// GET /v1/models through a server, validated; the ids.
async function listedIds(server) {
  const res = await call(originOf(stackUrl(server)), '/v1/models', { key: KEY });
  assert.equal(res.status, 200, res.text);
  assertValid('modelList', res.json, `GET /v1/models through ${server}`);
  return res.json.data.map((m) => m.id);
}

const getStats = async (server) => {
  const res = await call(originOf(stackUrl(server)), '/stats');
  assert.equal(res.status, 200, res.text);
  return res;
};

// ---- per server -------------------------------------------------------------------

for (const server of SERVER_NAMES) {
  describe(`vLLM provider through ${server}`, () => {
    // ---- models ----

    it('GET /v1/models lists the Claude models and the upstream\'s qwen3-coder and Qwen/Qwen3-8B (owned_by vllm)', async () => {
      const res = await call(originOf(stackUrl(server)), '/v1/models', { key: KEY });
      assert.equal(res.status, 200, res.text);
      assertValid('modelList', res.json, 'GET /v1/models');
      const byId = Object.fromEntries(res.json.data.map((m) => [m.id, m]));
      for (const m of res.json.data) assertValid('model', m, m.id);
      for (const id of ['claude-opus-4-6', 'claude-sonnet-4-6', 'claude-haiku-4-5', 'gpt-4o']) {
        assert.ok(byId[id], `${id} is listed: ${Object.keys(byId).join(', ')}`);
        assert.equal(byId[id].owned_by, 'anthropic');
      }
      for (const id of [MODEL, MODEL2]) {
        assert.ok(byId[id], `${id} is listed: ${Object.keys(byId).join(', ')}`);
        assert.equal(byId[id].object, 'model');
        assert.equal(byId[id].owned_by, 'vllm', 'owned_by as the upstream says');
        assert.ok(Number.isInteger(byId[id].created));
      }
      assert.equal(res.json.data.filter((m) => m.id === MODEL).length, 1, 'listed once');
      // The SDK sees them too.
      const seen = [];
      for await (const m of await sdk(server).models.list()) seen.push(m.id);
      assert.ok(seen.includes(MODEL) && seen.includes(MODEL2), seen.join(', '));
    });

    it('GET /v1/models/Qwen/Qwen3-8B (an id with a slash) is that model', async () => {
      const res = await call(originOf(stackUrl(server)), `/v1/models/${MODEL2}`, { key: KEY });
      assert.equal(res.status, 200, res.text);
      assertValid('model', res.json, MODEL2);
      assert.equal(res.json.id, MODEL2);
      assert.equal(res.json.object, 'model');
      assert.equal(res.json.owned_by, 'vllm');
      const m = await sdk(server).models.retrieve(MODEL);
      assertValid('model', m, MODEL);
      assert.equal(m.id, MODEL);
      assert.equal(m.owned_by, 'vllm');
    });

    // ---- the plain answer ----

    it('a non-stream answer on qwen3-coder: Axon\'s id, the model, fp_, the mock\'s usage, no upstream-only keys', async () => {
      const id = newId(server, 'plain');
      const before = Math.floor(Date.now() / 1000);
      const res = await post(server, { model: MODEL, messages: [user(`Say hello ${marker(id)}`)] });
      assert.equal(res.status, 200, res.text);
      const c = res.json;
      const rec = await onlyRecorded(id);
      assert.match(c.id, ID_RE, `Axon's id, not the upstream's chatcmpl-<32 hex>: ${c.id}`);
      assert.equal(c.object, 'chat.completion');
      assert.ok(Math.abs(c.created - before) <= 30, `created ${c.created} is about now`);
      assert.equal(c.model, MODEL);
      assert.match(c.system_fingerprint, FP_RE);
      assert.match(c.conversation_id, CONV_RE);
      assert.equal(c.choices.length, 1);
      const ch = c.choices[0];
      assert.equal(ch.index, 0);
      assert.equal(ch.message.role, 'assistant');
      assert.equal(ch.message.content, 'Hello from the mock.');
      assert.equal(ch.finish_reason, 'stop');
      assert.ok(!('reasoning_content' in ch.message), 'no reasoning_content with thinking off');
      assertNoUpstreamKeys(c, 'the answer');
      assertUsage(c.usage);
      assert.equal(c.usage.prompt_tokens, mockInputTokens(rec), 'prompt_tokens as the upstream counted them');
      assert.equal(c.usage.completion_tokens, 4, 'four words');
      // What went upstream: the upstream's key, the model, no Axon fields.
      assert.equal(rec.headers.authorization, `Bearer ${VLLM_KEY}`);
      assert.equal(rec.body.model, MODEL);
      assert.ok(!('stream_options' in rec.body), 'no stream_options on a non-stream request');
      assert.equal(rec.status, 200);
    });

    it('Qwen/Qwen3-8B answers too, and reaches the upstream under its own name', async () => {
      const id = newId(server, 'slash');
      const res = await post(server, { model: MODEL2, messages: [user(`hi ${marker(id)}`)] });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.model, MODEL2);
      assert.equal((await onlyRecorded(id)).body.model, MODEL2);
    });

    // ---- streams ----

    it('a stream: valid chunks, one finish chunk, [DONE]; usage chunk only with include_usage, always asked upstream', async () => {
      for (const so of [undefined, { include_usage: false }, { include_usage: true }]) {
        const id = newId(server, 'stream');
        const includeUsage = so?.include_usage === true;
        const s = await rawStream(server, {
          model: MODEL, ...(so ? { stream_options: so } : {}), messages: [user(`hi ${marker(id)}`)],
        });
        assert.equal(s.status, 200, s.text);
        assert.ok(s.done, 'ends with data: [DONE]');
        assert.equal(s.errors.length, 0);
        assertStreamShape(s.chunks, { includeUsage });
        const acc = accumulate(s.chunks);
        assert.equal(acc.content, 'Hello from the mock.');
        assert.deepEqual(acc.finish, ['stop']);
        assert.equal(acc.reasoning, '', 'no reasoning with thinking off');
        assert.match(s.chunks[0].conversation_id, CONV_RE, 'conversation_id on the first chunk');
        const rec = await onlyRecorded(id);
        assert.equal(rec.body.stream, true);
        assert.equal(rec.body.stream_options?.include_usage, true,
          `Axon always asks the upstream for usage (client sent ${JSON.stringify(so)}): ${JSON.stringify(rec.body.stream_options)}`);
        if (includeUsage) {
          const u = s.chunks.at(-1).usage;
          assert.equal(u.prompt_tokens, mockInputTokens(rec));
          assert.equal(u.completion_tokens, 4);
        }
      }
    });

    it('n=2 streamed: one upstream call, two choices each with one finish chunk, one summed usage chunk', async () => {
      const id = newId(server, 'n2');
      const s = await rawStream(server, {
        model: MODEL, n: 2, stream_options: { include_usage: true }, messages: [user(`hi ${marker(id)}`)],
      });
      assert.equal(s.status, 200, s.text);
      assert.ok(s.done);
      assertStreamShape(s.chunks, { n: 2, includeUsage: true });
      const finishes = s.chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0].index).sort();
      assert.deepEqual(finishes, [0, 1], 'finish chunks for index 0 and 1');
      for (const i of [0, 1]) assert.equal(accumulate(s.chunks, i).content, 'Hello from the mock.');
      const rec = await onlyRecorded(id);
      assert.equal(rec.body.n, 2, 'n passes through: the server answers both choices in one call');
      assert.equal(s.chunks.at(-1).usage.completion_tokens, 8);
      assert.equal(s.chunks.at(-1).usage.prompt_tokens, mockInputTokens(rec));
    });

    // ---- the thinking toggle ----

    it('thinking → chat_template_kwargs.enable_thinking as the upstream receives it; thinking and conversation_id never reach it', async () => {
      const cases = [
        [{ thinking: true }, true],
        [{ thinking: { type: 'enabled', budget_tokens: 2048 } }, true],
        [{ thinking: false }, false],
        [{}, false],
        [{ thinking: { type: 'disabled' } }, false],
      ];
      for (const [extra, want] of cases) {
        const id = newId(server, 'think');
        const res = await post(server, { model: MODEL, ...extra, messages: [user(`hi ${marker(id)}`)] });
        assert.equal(res.status, 200, `${JSON.stringify(extra)}: ${res.text}`);
        const { body } = await onlyRecorded(id);
        assert.equal(body.chat_template_kwargs?.enable_thinking, want, `${JSON.stringify(extra)} → ${JSON.stringify(body.chat_template_kwargs)}`);
        assert.ok(!('thinking' in body), `thinking is not sent upstream: ${JSON.stringify(body)}`);
        assert.ok(!('conversation_id' in body), 'conversation_id is not sent upstream');
        const msg = res.json.choices[0].message;
        if (want) assert.equal(msg.reasoning_content, REASONING);
        else assert.ok(!('reasoning_content' in msg), `no reasoning_content with ${JSON.stringify(extra)}`);
      }
      // A continued conversation: conversation_id still stays home.
      const first = await post(server, { model: MODEL, messages: [user(`one ${marker(newId(server, 'cid'))}`)] });
      const id = newId(server, 'cid2');
      const next = await post(server, { model: MODEL, conversation_id: first.json.conversation_id, thinking: true, messages: [user(`two ${marker(id)}`)] });
      assert.equal(next.status, 200, next.text);
      const { body } = await onlyRecorded(id);
      assert.ok(!('conversation_id' in body) && !('thinking' in body), JSON.stringify(body));
    });

    it('client chat_template_kwargs are merged with enable_thinking; extension fields pass through unchanged', async () => {
      const merged = newId(server, 'kwargs');
      let res = await post(server, {
        model: MODEL, thinking: true, chat_template_kwargs: { foo: 1 }, messages: [user(`hi ${marker(merged)}`)],
      });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual((await onlyRecorded(merged)).body.chat_template_kwargs, { foo: 1, enable_thinking: true });

      const own = newId(server, 'ownthink');
      res = await post(server, {
        model: MODEL, chat_template_kwargs: { enable_thinking: true }, messages: [user(`hi ${marker(own)}`)],
      });
      assert.equal(res.status, 200, res.text);
      assert.equal((await onlyRecorded(own)).body.chat_template_kwargs.enable_thinking, true,
        'with thinking absent the client\'s own enable_thinking stays');
      assert.equal(res.json.choices[0].message.reasoning_content, REASONING);

      const ext = newId(server, 'ext');
      res = await post(server, {
        model: MODEL, top_k: 20, min_p: 0.05, repetition_penalty: 1.1, messages: [user(`hi ${marker(ext)}`)],
      });
      assert.equal(res.status, 200, `extension fields are accepted on a vLLM model: ${res.text}`);
      const { body } = await onlyRecorded(ext);
      assert.equal(body.top_k, 20);
      assert.equal(body.min_p, 0.05);
      assert.equal(body.repetition_penalty, 1.1);

      // The same unknown field on a Claude model is OpenAI's 400.
      const claude = await post(server, { model: 'gpt-4o', min_p: 0.05, messages: [user('hi')] });
      const e = assertError(claude, 400, { type: 'invalid_request_error' });
      assert.equal(e.message, 'Unrecognized request argument supplied: min_p');
    });

    // ---- reasoning output ----

    for (const field of ['reasoning', 'reasoning_content', 'both']) {
      it(`upstream reasoning under "${field}" becomes reasoning_content (once), non-stream and stream`, async () => {
        const id = newId(server, `rf-${field}`);
        const res = await post(server, {
          model: MODEL, thinking: true, messages: [user(`think ${marker(id, `reasoning_field=${field}`)}`)],
        });
        assert.equal(res.status, 200, res.text);
        const msg = res.json.choices[0].message;
        assert.equal(msg.reasoning_content, REASONING, 'not doubled, not lost');
        assert.equal(msg.content, 'Hello from the mock.');
        assertNoUpstreamKeys(res.json, 'the answer');

        const sid = newId(server, `rfs-${field}`);
        const s = await rawStream(server, {
          model: MODEL, thinking: true, stream_options: { include_usage: true },
          messages: [user(`think ${marker(sid, `reasoning_field=${field}`)}`)],
        });
        assert.equal(s.status, 200, s.text);
        assert.ok(s.done);
        assertStreamShape(s.chunks, { includeUsage: true });
        const acc = accumulate(s.chunks);
        assert.deepEqual(acc.reasoningDeltas, ['Let me think', ' about this.'], 'the reasoning deltas in order, once each');
        assert.equal(acc.content, 'Hello from the mock.');
        const deltas = s.chunks.map((c) => c.choices[0]?.delta ?? {});
        assert.ok(deltas.findLastIndex((d) => d.reasoning_content) < deltas.findIndex((d) => d.content),
          'the reasoning comes before the content');
      });
    }

    it('thinking off: no reasoning_content anywhere, non-stream or stream', async () => {
      const res = await post(server, { model: MODEL, thinking: false, messages: [user(`hi ${marker(newId(server, 'off'), 'reasoning_field=both')}`)] });
      assert.equal(res.status, 200, res.text);
      assert.ok(!keysDeep(res.json).has('reasoning_content'), res.text);
      const s = await rawStream(server, { model: MODEL, messages: [user(`hi ${marker(newId(server, 'offs'))}`)] });
      assert.equal(s.status, 200, s.text);
      assert.ok(!keysDeep(s.objs).has('reasoning_content'), JSON.stringify(s.objs).slice(0, 500));
    });

    it('the recorded fixture vllm-stream-reasoning.sse: reasoning_content and content as recorded, one finish, [DONE]', async () => {
      const events = sseEvents('vllm-stream-reasoning.sse');
      const want = { reasoning: '', content: '' };
      for (const ev of events) {
        const d = ev.choices[0].delta;
        if (typeof d.reasoning_content === 'string') want.reasoning += d.reasoning_content;
        if (typeof d.content === 'string') want.content += d.content;
      }
      assert.ok(want.reasoning.length > 10 && want.content.length > 10, 'the fixture has both');
      const s = await rawStream(server, { model: MODEL, messages: [user('[[mock fixture=vllm-stream-reasoning]]')] });
      assert.equal(s.status, 200, s.text);
      assert.ok(s.done, 'ends with [DONE]');
      assert.equal(s.errors.length, 0, JSON.stringify(s.errors));
      assertStreamShape(s.chunks);
      const acc = accumulate(s.chunks);
      assert.equal(acc.reasoning, want.reasoning);
      assert.equal(acc.content, want.content);
      assert.deepEqual(acc.finish, ['stop']);
      assert.notEqual(s.chunks[0].id, events[0].id, 'Axon\'s id, not the recorded one');
    });

    // ---- conversations ----

    it('a conversation on qwen3-coder continues with the full history; reasoning is stored, never sent back', async () => {
      const id1 = newId(server, 'conv1');
      const first = await post(server, { model: MODEL, thinking: true, messages: [user(`Hello ${marker(id1)}`)] });
      assert.equal(first.status, 200, first.text);
      const cid = first.json.conversation_id;
      assert.match(cid, CONV_RE);
      assert.equal(first.json.choices[0].message.reasoning_content, REASONING);

      const id2 = newId(server, 'conv2');
      const second = await post(server, { model: MODEL, thinking: true, conversation_id: cid, messages: [user(`Again ${marker(id2)}`)] });
      assert.equal(second.status, 200, second.text);
      assert.equal(second.json.conversation_id, cid, 'the same conversation');
      const { body } = await onlyRecorded(id2);
      assert.deepEqual(body.messages.map((m) => m.role), ['user', 'assistant', 'user'], JSON.stringify(body.messages));
      assert.equal(body.messages[0].content, `Hello ${marker(id1)}`);
      assert.equal(body.messages[1].content, 'Hello from the mock.');
      assert.ok(!('reasoning_content' in body.messages[1]), `the stored reasoning is not sent back: ${JSON.stringify(body.messages[1])}`);
      assert.ok(!('thinking_blocks' in body.messages[1]));
      assert.equal(body.messages[2].content, `Again ${marker(id2)}`);

      const got = await call(originOf(stackUrl(server)), `/v1/conversations/${cid}`, { key: KEY });
      assert.equal(got.status, 200, got.text);
      assert.equal(got.json.message_count, 4);
      assert.equal(got.json.model, MODEL);
      assert.equal(got.json.messages[1].role, 'assistant');
      assert.equal(got.json.messages[1].content, 'Hello from the mock.');
      assert.equal(got.json.messages[1].reasoning_content, REASONING, 'the reasoning is stored with the message');
    });

    // ---- errors ----

    it('upstream errors are normalised: 400 nested and flat, 404, 401 → 502, 429 with retry-after, malformed → 502', async () => {
      const ask = (extra) => post(server, { model: MODEL, messages: [user(`hi ${marker(newId(server, 'err'), extra)}`)] });

      let e = assertError(await ask('fault=400'), 400, { type: 'invalid_request_error' });
      assert.equal(e.message, 'mock: injected 400 Bad Request', 'the upstream\'s message');
      e = assertError(await ask('fault=400 errors=flat'), 400, { type: 'invalid_request_error' });
      assert.equal(e.message, 'mock: injected 400 Bad Request', 'the flat shape\'s message');

      assertError(await ask('fault=404'), 404, { type: 'invalid_request_error', code: 'model_not_found' });

      const auth = await ask('fault=401');
      assertError(auth, 502, { code: 'upstream_auth_failed' });
      assert.equal(auth.headers.get('x-should-retry'), 'false');
      assert.ok(!auth.text.includes(VLLM_KEY), 'the upstream key is not in the error');

      const limited = await ask('fault=429 retry_after=60');
      assertError(limited, 429, { code: 'rate_limit_exceeded' });
      assert.equal(limited.headers.get('retry-after'), '60');

      assertError(await ask('fault=malformed'), 502, { code: 'upstream_protocol_error' });
    });

    it('an upstream 503 once is retried: the client gets 200, the upstream saw 2 requests', async () => {
      const id = newId(server, 'retry');
      const res = await post(server, { model: MODEL, messages: [user(`hi ${marker(id, 'fault=503 times=1')}`)] });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.choices[0].message.content, 'Hello from the mock.');
      assert.equal(await vcount(id), 2, 'one 503, one retry');
      const recs = await vrecorded(id);
      assert.deepEqual(recs.map((r) => r.status), [503, 200]);
    });

    it('errors inside a stream: error-midstream and a truncated stream end in an error chunk and [DONE], no finish', async () => {
      for (const extra of ['fault=error-midstream', 'truncate=1']) {
        const s = await rawStream(server, { model: MODEL, messages: [user(`hi ${marker(newId(server, 'midstream'), extra)}`)] });
        assert.equal(s.status, 200, s.text);
        assert.ok(s.done, `${extra}: ends with data: [DONE]`);
        assert.equal(s.errors.length, 1, `${extra}: one error chunk`);
        assert.equal(s.objs.at(-1), s.errors[0], `${extra}: the error chunk is the last before [DONE]`);
        const err = s.errors[0].error;
        assert.ok(err.code === null || typeof err.code === 'string', `${extra}: code a string or null: ${JSON.stringify(err)}`);
        assert.equal(typeof err.message, 'string');
        assert.ok(s.chunks.every((c) => c.choices.every((ch) => ch.finish_reason === null)), `${extra}: no (fake) finish chunk`);
        assert.ok(s.chunks.length >= 2 && accumulate(s.chunks).content.startsWith('Hello'), `${extra}: the text before the failure came through`);
      }
    });

    it('an unknown model is 404 model_not_found and the upstream gets nothing (no fallback to the default)', async () => {
      const id = newId(server, 'nomodel');
      const res = await post(server, { model: 'no-such-model', messages: [user(`hi ${marker(id)}`)] });
      const e = assertError(res, 404, { type: 'invalid_request_error', code: 'model_not_found' });
      assert.match(e.message, /no-such-model/);
      assert.equal((await vrecorded(id)).length, 0, 'no chat request reached the mock vLLM');
    });

    // ---- the SDK ----

    it('the official SDK, non-stream and stream, with thinking as an extra body field', async () => {
      const ai = sdk(server);
      const id = newId(server, 'sdk');
      const c = await ai.chat.completions.create({ model: MODEL, thinking: true, messages: [user(`hi ${marker(id)}`)] });
      assertValid('response', c);
      assert.equal(c.model, MODEL);
      assert.equal(c.choices[0].message.content, 'Hello from the mock.');
      assert.equal(c.choices[0].message.reasoning_content, REASONING);
      assert.equal((await onlyRecorded(id)).body.chat_template_kwargs.enable_thinking, true);

      const sid = newId(server, 'sdks');
      const stream = await ai.chat.completions.create({
        model: MODEL, thinking: true, stream: true, stream_options: { include_usage: true },
        messages: [user(`hi ${marker(sid)}`)],
      });
      const chunks = [];
      for await (const chunk of stream) {
        assertValid('chunk', chunk);
        chunks.push(chunk);
      }
      assertStreamShape(chunks, { includeUsage: true });
      const acc = accumulate(chunks);
      assert.deepEqual(acc.reasoningDeltas, ['Let me think', ' about this.']);
      assert.equal(acc.content, 'Hello from the mock.');
      assert.equal((await onlyRecorded(sid)).body.chat_template_kwargs.enable_thinking, true);

      await assert.rejects(ai.chat.completions.create({ model: 'no-such-model', messages: [user('hi')] }), (err) => {
        assert.ok(err instanceof OpenAI.NotFoundError, String(err));
        assert.equal(err.code, 'model_not_found');
        return true;
      });
    });

    // ---- a client that goes away ----

    it('a client that goes away mid-stream makes Axon abort the upstream transfer', async () => {
      const id = newId(server, 'gone');
      const words = Array.from({ length: 60 }, (_, i) => `w${i}`).join('_');
      const { aborted, event, latency } = await leaveMidStream(
        server, { model: MODEL, messages: [user(`hi ${marker(id, `ms=200 reply=${words}`)}`)] }, id, vaborts);
      assert.ok(latency < 3000, `upstream aborted within ~2 s of the client leaving: ${latency} ms`);
      assert.equal(aborted, 1);
      assert.ok(event.ms_since_request < 10000, 'well before the 12 s reply would have ended');
      // The next request is fine.
      const ok = await post(server, { model: MODEL, messages: [user(`hi ${marker(newId(server, 'after'))}`)] });
      assert.equal(ok.status, 200, ok.text);
    });
  });
}

// ---- once, over both servers: the mock's live state changes ---------------------

describe('vLLM upstream state (both servers, once)', () => {
  let original;
  const restore = async () => {
    if (original) await vconfig({ models: modelsBody(original), health: original.health });
  };
  after(restore);

  it('a model the upstream starts to serve is listed within ~3 s and answers; one it drops goes away', async () => {
    original = await vconfig();
    const names = original.models.map((m) => m.id);
    assert.ok(names.includes(MODEL) && names.includes(MODEL2), JSON.stringify(original));
    const fresh = `fresh-model-${process.pid}-${Date.now()}`;
    try {
      await vconfig({ models: [...modelsBody(original), fresh] });
      for (const server of SERVER_NAMES) {
        await waitFor(async () => (await listedIds(server)).includes(fresh), 3500, `${fresh} to be listed through ${server}`);
        const m = await call(originOf(stackUrl(server)), `/v1/models/${fresh}`, { key: KEY });
        assert.equal(m.status, 200, m.text);
        assertValid('model', m.json, fresh);
        assert.equal(m.json.owned_by, 'vllm');
        const id = newId(server, 'fresh');
        const res = await post(server, { model: fresh, messages: [user(`hi ${marker(id)}`)] });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json.model, fresh);
        assert.equal((await onlyRecorded(id)).body.model, fresh);
      }
    } finally {
      await restore();
    }
    for (const server of SERVER_NAMES) {
      await waitFor(async () => !(await listedIds(server)).includes(fresh), 3500, `${fresh} to leave the list through ${server}`);
      const id = newId(server, 'gone-model');
      const res = await post(server, { model: fresh, messages: [user(`hi ${marker(id)}`)] });
      assertError(res, 404, { code: 'model_not_found' });
      assert.equal((await vrecorded(id)).length, 0);
    }
  });

  it('the model list is read in the background, not per request: 10 chats in ~1 s add far fewer than 10 list reads', async () => {
    const server = SERVER_NAMES[0];
    const id = newId(server, 'hits');
    const before = await vhits();
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) {
      const res = await post(SERVER_NAMES[i % 2], { model: MODEL, messages: [user(`hi ${marker(id)}`)] });
      assert.equal(res.status, 200, res.text);
      await sleep(100); // ~1 s in all: at least one background read per process
    }
    const after = await vhits();
    const seconds = (performance.now() - t0) / 1000;
    const models = after.models - before.models;
    assert.equal(await vcount(id), 10, 'the mock got the 10 chats');
    assert.ok(after.chat - before.chat >= 10, `hits.chat grew by ${after.chat - before.chat}`);
    console.log(`# 10 chats in ${seconds.toFixed(2)} s: GET /v1/models +${models}, /health +${after.health - before.health}, chat +${after.chat - before.chat}`);
    // Two axon processes (one per stack) each read the list once a second.
    const bound = Math.ceil(2 * (seconds + 1)) + 2;
    assert.ok(models < 10 && models <= bound,
      `GET /v1/models was called ${models} times during 10 chats in ${seconds.toFixed(2)} s (want < 10 and <= ${bound})`);
  });

  it('/stats shows upstreams.vllm (ok → unhealthy → ok with /health); no URL or key; chat answers meanwhile', async () => {
    original ??= await vconfig();
    const stateOf = async (server) => (await getStats(server)).json.upstreams?.vllm?.state;
    for (const server of SERVER_NAMES) {
      const res = await getStats(server);
      const v = res.json.upstreams?.vllm;
      assert.ok(v, `/stats has upstreams.vllm: ${res.text.slice(0, 800)}`);
      assert.equal(v.state, 'ok');
      assert.equal(v.provider, 'openai');
      assert.ok(Number.isInteger(v.models) && v.models >= 2, `models: ${v.models}`);
      const mock = new URL(vmockUrl());
      for (const secret of [VLLM_KEY, KEY, mock.host, '127.0.0.1', 'http://', 'https://']) {
        assert.ok(!res.text.includes(secret), `/stats does not contain "${secret}"`);
      }
      await waitFor(async () => (await getStats(server)).json.upstreams.vllm.sessions?.busy === 0, 3000,
        `upstreams.vllm.sessions.busy to be 0 through ${server}`);
    }
    try {
      await vconfig({ health: 503 });
      for (const server of SERVER_NAMES) {
        await waitFor(async () => (await stateOf(server)) === 'unhealthy', 3500, `upstreams.vllm.state unhealthy through ${server}`);
        const v = (await getStats(server)).json.upstreams.vllm;
        assert.ok(v.models >= 2, 'the last list is kept while unhealthy');
        const health = await call(originOf(stackUrl(server)), '/health');
        assert.equal(health.status, 200, `Axon's /health stays 200: ${health.text}`);
        const res = await post(server, { model: MODEL, messages: [user(`hi ${marker(newId(server, 'sick'))}`)] });
        assert.equal(res.status, 200, `chat on ${MODEL} still answers: ${res.text}`);
      }
    } finally {
      await vconfig({ health: original.health ?? 200 });
    }
    for (const server of SERVER_NAMES) {
      await waitFor(async () => (await stateOf(server)) === 'ok', 3500, `upstreams.vllm.state back to ok through ${server}`);
      await waitFor(async () => (await getStats(server)).json.upstreams.vllm.sessions?.busy === 0, 3000,
        `upstreams.vllm.sessions.busy to be 0 through ${server}`);
    }
  });

  it('a history over a small model\'s context drops the oldest turns (X-Axon-Turns-Dropped), as for Claude', async () => {
    original ??= await vconfig();
    const tiny = `tiny-${process.pid}-${Date.now()}`;
    try {
      await vconfig({ models: [...modelsBody(original), `${tiny}:400`] });
      for (const server of SERVER_NAMES) {
        await waitFor(async () => (await listedIds(server)).includes(tiny), 3500, `${tiny} to be listed through ${server}`);
        // Budget: (400 - max_tokens 50) × 4 = 1400 bytes; each user message is ~1000.
        const long = (tag, id) => `${tag} ${'abcdefghi '.repeat(100)}${marker(id)}`;
        const ids = [newId(server, 'tiny1'), newId(server, 'tiny2'), newId(server, 'tiny3')];
        const first = await post(server, { model: tiny, max_tokens: 50, messages: [user(long('one', ids[0]))] });
        assert.equal(first.status, 200, first.text);
        const cid = first.json.conversation_id;
        for (const [k, tag] of [[1, 'two'], [2, 'three']]) {
          const res = await post(server, { model: tiny, max_tokens: 50, conversation_id: cid, messages: [user(long(tag, ids[k]))] });
          assert.equal(res.status, 200, `turn ${tag}: ${res.text}`);
          assert.equal(res.json.conversation_id, cid);
          const dropped = Number(res.headers.get('x-axon-turns-dropped'));
          assert.ok(dropped >= 1, `turn ${tag}: X-Axon-Turns-Dropped ≥ 1, got ${res.headers.get('x-axon-turns-dropped')}`);
          const { body } = await onlyRecorded(ids[k]);
          const stored = 2 * k; // messages stored before this turn
          assert.ok(body.messages.length < stored + 1, `turn ${tag}: the upstream got ${body.messages.length} messages, fewer than ${stored + 1}`);
          assert.equal(body.messages.at(-1).content, long(tag, ids[k]), 'the new message is always sent');
          assert.equal(body.messages[0].role, 'user', 'the replay starts at a user turn');
        }
        const got = await call(originOf(stackUrl(server)), `/v1/conversations/${cid}`, { key: KEY });
        assert.equal(got.json.message_count, 6, 'the stored history keeps every turn');
      }
    } finally {
      await restore();
    }
  });
});
