// The official openai npm SDK against a running Axon: the S* cases of the
// end-to-end suite. Run by tests/e2e/run.sh, which passes the settings in:
//   AXON_E2E_BASE       server root (run.sh strips a trailing /v1)
//   AXON_E2E_MOCK       1 when the upstream is the mock of tests/mock
//   AXON_E2E_RUN        a random tag for this run's mock directive ids
//   AXON_E2E_VLLM_REASONS 1 when the vLLM model reasons on request
//   AXON_TEST_KEY, AXON_TEST_MODEL, AXON_TEST_TIMEOUT_S, AXON_TEST_ONLY,
//   AXON_TEST_VLLM_MODEL, AXON_TEST_EXPECT_MODELS   as for run.sh
// It prints one line per case in run.sh's format ("ok   ID description",
// "FAIL ID description: why", "skip ID description (why)") and exits 0 when it
// ran to the end, whatever the cases said (run.sh counts the lines).
// Every completion, chunk, model and error body is validated against the
// official OpenAI spec (tests/integration/schema.mjs, imported read-only).
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { assertValid } from '../integration/schema.mjs';

const env = process.env;
const ROOT = (env.AXON_E2E_BASE || env.AXON_TEST_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '').replace(/\/v1$/, '');
const BASE = `${ROOT}/v1`;
const KEY = env.AXON_TEST_KEY || '';
const MODEL = env.AXON_TEST_MODEL || 'claude-sonnet-4-6';
const TIMEOUT_MS = Number(env.AXON_TEST_TIMEOUT_S || 60) * 1000;
let ONLY = null;
try {
  ONLY = env.AXON_TEST_ONLY ? new RegExp(env.AXON_TEST_ONLY) : null;
} catch (e) {
  process.stderr.write(`sdk.mjs: AXON_TEST_ONLY is not a JavaScript regular expression: ${e.message}\n`);
  process.exit(2);
}
const MOCK = env.AXON_E2E_MOCK === '1';
const RUN = env.AXON_E2E_RUN || Math.random().toString(16).slice(2, 14);
const VLLM = env.AXON_TEST_VLLM_MODEL || '';
const VLLM_REASONS = env.AXON_E2E_VLLM_REASONS === '1';
const EXPECT_MODELS = (env.AXON_TEST_EXPECT_MODELS || 'claude-sonnet-4-6 claude-opus-4-6 claude-haiku-4-5').split(/\s+/).filter(Boolean);
const CONV_RE = /^conv-[0-9a-f]{32}$/;
const REQ_RE = /^req_[0-9a-f]{32}$/;
const UPSTREAM_ONLY = ['stop_reason', 'prompt_logprobs', 'kv_transfer_params', 'prompt_token_ids', 'token_ids'];

const client = (opts = {}) => new OpenAI({ baseURL: BASE, apiKey: KEY, maxRetries: 0, timeout: TIMEOUT_MS, ...opts });
const ai = client();
// A mock directive in mock mode, nothing against real upstreams.
const mk = (args) => (MOCK ? ` [[mock ${args}]]` : '');

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The current weather in a city.',
    parameters: { type: 'object', properties: { city: { type: 'string', description: 'City name' } }, required: ['city'] },
  },
};
const ASK_WEATHER = 'What is the weather in Paris? Use the get_weather tool.';

// ---- helpers -------------------------------------------------------------------

// Expect the promise to reject with an instance of cls, status and code.
async function expectError(promise, cls, status, code) {
  let err;
  try {
    const v = await promise;
    assert.fail(`expected ${cls.name} ${status}, got an answer: ${JSON.stringify(v).slice(0, 200)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    err = e;
  }
  assert.ok(err instanceof cls, `expected ${cls.name}, got ${err?.constructor?.name}: ${err?.message}`);
  assert.equal(err.status, status, 'status');
  if (code !== undefined) assert.equal(err.code, code, `code (message: ${err.message})`);
  assertValid('error', { error: err.error }, `${cls.name} body`);
  assert.match(err.requestID ?? '', REQ_RE, 'the error carries the x-request-id');
  return err;
}

// Collect a stream's chunks, validating each.
async function collect(stream) {
  const chunks = [];
  for await (const c of stream) {
    assertValid('chunk', c, `chunk ${chunks.length}`);
    chunks.push(c);
  }
  return chunks;
}

function assemble(chunks, i = 0) {
  const out = { text: '', reasoning: '', finishes: [], role: undefined };
  for (const c of chunks) {
    for (const ch of c.choices) {
      if (ch.index !== i) continue;
      if (ch.delta?.role && out.role === undefined) out.role = ch.delta.role;
      if (typeof ch.delta?.content === 'string') out.text += ch.delta.content;
      if (typeof ch.delta?.reasoning_content === 'string') out.reasoning += ch.delta.reasoning_content;
      if (ch.finish_reason) out.finishes.push(ch.finish_reason);
    }
  }
  return out;
}

function upstreamKeys(value) {
  const found = new Set();
  const walk = (v) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (UPSTREAM_ONLY.includes(k)) found.add(k);
        walk(x);
      }
    }
  };
  walk(value);
  return [...found];
}

const nonEmpty = (s, what) => assert.ok(typeof s === 'string' && s.length > 0, `${what} is empty: ${JSON.stringify(s)}`);

// ---- the cases ------------------------------------------------------------------
// [id, description, flags, fn]; flags: mock (mock only), vllm (needs a vLLM model)
const CASES = [
  ['S1', 'models.list() (async iteration) yields the Claude models, each a valid Model', {}, async () => {
    const ids = [];
    for await (const m of ai.models.list()) {
      assertValid('model', m, m.id);
      assert.equal(m.object, 'model');
      ids.push(m.id);
    }
    for (const want of new Set([...EXPECT_MODELS, MODEL])) assert.ok(ids.includes(want), `${want} missing from ${ids.join(', ')}`);
  }],

  ['S2', "models.retrieve('gpt-4o') is the alias, rooted in a Claude model", {}, async () => {
    const m = await ai.models.retrieve('gpt-4o');
    assertValid('model', m, 'gpt-4o');
    assert.equal(m.id, 'gpt-4o');
    assert.match(m.root ?? '', /^claude-/, 'root');
  }],

  ['S3', 'models.retrieve() of an unknown id throws NotFoundError (404)', {}, async () => {
    await expectError(ai.models.retrieve(`no-such-model-${RUN}`), OpenAI.NotFoundError, 404, 'model_not_found');
  }],

  ['S4', 'chat.completions.create(): a valid completion with content and conversation_id', {}, async () => {
    const c = await ai.chat.completions.create({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'Say hello.' }] });
    assertValid('response', c, 'completion');
    assert.match(c.id, /^chatcmpl-/);
    assert.equal(c.choices[0].message.role, 'assistant');
    nonEmpty(c.choices[0].message.content, 'content');
    assert.equal(c.choices[0].finish_reason, 'stop');
    assert.match(c.conversation_id ?? '', CONV_RE, 'conversation_id');
    assert.match(c._request_id ?? '', REQ_RE, '_request_id');
  }],

  ['S5', 'create({stream:true}): every chunk valid, the text assembles, one finish_reason', {}, async () => {
    const chunks = await collect(await ai.chat.completions.create({
      model: MODEL, max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'Say hello.' }],
    }));
    const a = assemble(chunks);
    assert.equal(a.role, 'assistant');
    nonEmpty(a.text, 'streamed text');
    assert.deepEqual(a.finishes, ['stop']);
    assert.ok(chunks.every((c) => !c.usage), 'no usage chunk without include_usage');
    assert.match(chunks[0].conversation_id ?? '', CONV_RE, 'conversation_id on the first chunk');
  }],

  ['S6', 'stream with include_usage: the last chunk has usage and choices: []', {}, async () => {
    const chunks = await collect(await ai.chat.completions.create({
      model: MODEL, max_tokens: 30, stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Say hi.' }],
    }));
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.ok(Number.isInteger(last.usage?.prompt_tokens) && last.usage.prompt_tokens > 0, 'usage.prompt_tokens');
    assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
    assert.equal(chunks.filter((c) => c.usage).length, 1, 'exactly one usage chunk');
  }],

  ['S7', 'a wrong key throws AuthenticationError (401 invalid_api_key, with a request id)', {}, async () => {
    const bad = client({ apiKey: `sk-e2e-wrong-${RUN}` });
    await expectError(bad.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }] }),
      OpenAI.AuthenticationError, 401, 'invalid_api_key');
  }],

  ['S8', 'an unknown model throws NotFoundError (404 model_not_found)', {}, async () => {
    await expectError(ai.chat.completions.create({ model: `no-such-model-${RUN}`, messages: [{ role: 'user', content: 'Hi' }] }),
      OpenAI.NotFoundError, 404, 'model_not_found');
  }],

  ['S9', 'empty messages throws BadRequestError (400, param messages)', {}, async () => {
    const e = await expectError(ai.chat.completions.create({ model: MODEL, messages: [] }), OpenAI.BadRequestError, 400, 'empty_array');
    assert.equal(e.param, 'messages');
  }],

  ['S10', '.withResponse(): the x-request-id header is the request_id the SDK reports', {}, async () => {
    const { data, response, request_id: rid } = await ai.chat.completions
      .create({ model: MODEL, max_tokens: 20, messages: [{ role: 'user', content: 'Say hi.' }] })
      .withResponse();
    assertValid('response', data, 'completion');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const hid = response.headers.get('x-request-id');
    assert.match(hid ?? '', REQ_RE, 'x-request-id');
    assert.equal(rid, hid, 'request_id');
    assert.equal(data._request_id, hid, 'data._request_id');
  }],

  ['S11', 'conversation_id in the body continues the conversation (history sent again)', {}, async () => {
    const a = await ai.chat.completions.create({
      model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: `My favourite number is 7.${mk('reply=Noted:_7.')}` }],
    });
    assert.match(a.conversation_id ?? '', CONV_RE);
    const b = await ai.chat.completions.create({
      model: MODEL, max_tokens: 50, conversation_id: a.conversation_id,
      messages: [{ role: 'user', content: 'What is my favourite number? Reply with the number only.' }],
    });
    assertValid('response', b, 'continued completion');
    assert.equal(b.conversation_id, a.conversation_id, 'the same conversation_id');
    assert.ok(b.choices[0].message.content.includes('7'), `the answer does not recall 7: ${b.choices[0].message.content}`);
    assert.ok(b.usage.prompt_tokens > a.usage.prompt_tokens, `prompt_tokens ${a.usage.prompt_tokens} then ${b.usage.prompt_tokens}`);
  }],

  ['S12', 'tools: a tool call, then the assistant message pushed back as is plus the tool result', {}, async () => {
    const messages = [{ role: 'user', content: ASK_WEATHER }];
    const c1 = await ai.chat.completions.create({ model: MODEL, max_tokens: 300, tools: [WEATHER], tool_choice: 'required', messages });
    assertValid('response', c1, 'tool call');
    assert.equal(c1.choices[0].finish_reason, 'tool_calls');
    const call = c1.choices[0].message.tool_calls?.[0];
    assert.ok(call, 'no tool call');
    assert.equal(call.function.name, 'get_weather');
    assert.equal(typeof JSON.parse(call.function.arguments), 'object');
    // The usual client pattern: push the answer's message object unchanged.
    messages.push(c1.choices[0].message, { role: 'tool', tool_call_id: call.id, content: 'Sunny, 21 C' });
    const c2 = await ai.chat.completions.create({ model: MODEL, max_tokens: 300, tools: [WEATHER], messages });
    assertValid('response', c2, 'answer after the tool');
    assert.equal(c2.choices[0].finish_reason, 'stop');
    assert.ok(c2.choices[0].message.content.includes('21'), `the answer ignores the tool result: ${c2.choices[0].message.content}`);
  }],

  ['S13', 'chat.completions.stream() helper: finalChatCompletion() has the tool call, arguments parse', {}, async () => {
    let n = 0;
    const runner = ai.chat.completions.stream({ model: MODEL, max_tokens: 300, tools: [WEATHER], tool_choice: 'required', messages: [{ role: 'user', content: ASK_WEATHER }] });
    runner.on('chunk', (c) => { assertValid('chunk', c, `chunk ${n}`); n++; });
    const final = await runner.finalChatCompletion();
    assert.equal(final.choices[0].finish_reason, 'tool_calls');
    const call = final.choices[0].message.tool_calls?.[0];
    assert.match(call?.id ?? '', /^call_/);
    assert.equal(call.function.name, 'get_weather');
    assert.equal(typeof JSON.parse(call.function.arguments), 'object');
    assert.ok(n >= 3, `only ${n} chunks`);
  }],

  ['S14', 'runTools(): the SDK calls the function and returns the final answer', {}, async () => {
    const calls = [];
    const runner = ai.chat.completions.runTools({
      model: MODEL, max_tokens: 300,
      messages: [{ role: 'user', content: ASK_WEATHER }],
      tools: [{
        type: 'function',
        function: {
          ...WEATHER.function,
          parse: JSON.parse,
          function: async (args) => { calls.push(args); return 'Sunny, 21 C'; },
        },
      }],
    });
    const content = await runner.finalContent();
    assert.ok(calls.length >= 1, 'the function was never called');
    assert.equal(typeof calls[0], 'object');
    assert.ok((content ?? '').includes('21'), `the final answer ignores the tool result: ${content}`);
  }],

  ['S15', 'n=2 through the stream helper: finalChatCompletion() has two answered choices', {}, async () => {
    const final = await ai.chat.completions.stream({ model: MODEL, max_tokens: 30, n: 2, messages: [{ role: 'user', content: 'Name a fruit.' }] })
      .finalChatCompletion();
    assert.equal(final.choices.length, 2);
    assert.deepEqual(final.choices.map((c) => c.index), [0, 1]);
    for (const c of final.choices) { nonEmpty(c.message.content, `choice ${c.index}`); assert.equal(c.finish_reason, 'stop'); }
  }],

  ['S16', 'thinking:true (an extra body field) gives message.reasoning_content', {}, async () => {
    const c = await ai.chat.completions.create({ model: MODEL, thinking: true, messages: [{ role: 'user', content: 'What is 27 * 453?' }] });
    assertValid('response', c, 'completion');
    nonEmpty(c.choices[0].message.reasoning_content, 'reasoning_content');
    nonEmpty(c.choices[0].message.content, 'content');
  }],

  ['S17', 'chat.completions.parse() with a json_schema response_format: message.parsed', {}, async () => {
    const c = await ai.chat.completions.parse({
      model: MODEL, max_tokens: 200,
      messages: [{ role: 'user', content: 'Invent a person: a name and an age.' }],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'person', strict: true,
          schema: { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } }, required: ['name', 'age'], additionalProperties: false },
        },
      },
    });
    const p = c.choices[0].message.parsed;
    assert.equal(typeof p?.name, 'string', `parsed: ${JSON.stringify(p)}`);
    assert.equal(typeof p.age, 'number');
  }],

  ['S18', "the SDK's get()/delete() on /conversations: list, read, delete, then 404", {}, async () => {
    const c = await ai.chat.completions.create({ model: MODEL, max_tokens: 30, messages: [{ role: 'user', content: 'Say hi.' }] });
    const id = c.conversation_id;
    assert.match(id ?? '', CONV_RE);
    const list = await ai.get('/conversations', { query: { limit: 5 } });
    assert.equal(list.object, 'list');
    assert.equal(list.data[0]?.id, id, 'the newest conversation is listed first');
    const conv = await ai.get(`/conversations/${id}`);
    assert.equal(conv.message_count, 2);
    assert.equal(conv.messages[1].content, c.choices[0].message.content);
    const del = await ai.delete(`/conversations/${id}`);
    assert.deepEqual(del, { id, object: 'conversation.deleted', deleted: true });
    await expectError(ai.get(`/conversations/${id}`), OpenAI.NotFoundError, 404, 'conversation_not_found');
  }],

  ['S19', 'an upstream error mid-stream: the iterator throws APIError after the first text', { mock: true }, async () => {
    const stream = await ai.chat.completions.create({
      model: MODEL, stream: true, messages: [{ role: 'user', content: 'Hi [[mock fault=error-midstream]]' }],
    });
    let text = '';
    let err;
    try {
      for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    } catch (e) { err = e; }
    assert.ok(err instanceof OpenAI.APIError, `expected APIError, got ${err ? err.constructor.name : 'no error'}`);
    assert.match(err.message, /overloaded/i);
    assert.equal(text, 'Hello from the');
  }],

  ['S20', 'upstream 429 with retry-after 60: RateLimitError carrying retry-after', { mock: true }, async () => {
    const e = await expectError(ai.chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: `Hi [[mock id=s20-${RUN} fault=429 retry_after=60 times=50]]` }],
    }), OpenAI.RateLimitError, 429, 'rate_limit_exceeded');
    assert.equal(e.headers.get('retry-after'), '60');
  }],

  ['S21', 'upstream 529: InternalServerError 503 server_is_overloaded', { mock: true }, async () => {
    await expectError(ai.chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: `Hi [[mock id=s21-${RUN} fault=529 times=50]]` }],
    }), OpenAI.InternalServerError, 503, 'server_is_overloaded');
  }],

  ['S22', 'the vLLM model through the SDK (non-stream): valid, normalised', { vllm: true }, async () => {
    const c = await ai.chat.completions.create({ model: VLLM, max_tokens: 200, messages: [{ role: 'user', content: 'Say hello in one short sentence.' }] });
    assertValid('response', c, 'vLLM completion');
    assert.match(c.id, /^chatcmpl-/);
    nonEmpty(c.choices[0].message.content, 'content');
    assert.deepEqual(upstreamKeys(c), [], 'upstream-only keys');
    assert.match(c.conversation_id ?? '', CONV_RE);
  }],

  ['S23', 'the vLLM model through the stream helper: valid chunks, finalChatCompletion()', { vllm: true }, async () => {
    const chunks = [];
    const runner = ai.chat.completions.stream({ model: VLLM, max_tokens: 200, messages: [{ role: 'user', content: 'Say hello in one short sentence.' }] });
    runner.on('chunk', (c) => { assertValid('chunk', c, `chunk ${chunks.length}`); chunks.push(c); });
    const final = await runner.finalChatCompletion();
    nonEmpty(final.choices[0].message.content, 'content');
    assert.equal(assemble(chunks).finishes.length, 1, 'one finish chunk');
    assert.deepEqual(upstreamKeys(chunks), [], 'upstream-only keys');
  }],

  ['S24', 'the vLLM model with thinking:true through the SDK: reasoning_content', { vllm: true, reasons: true }, async () => {
    const c = await ai.chat.completions.create({ model: VLLM, max_tokens: 1000, thinking: true, messages: [{ role: 'user', content: 'What is 27 * 453?' }] });
    assertValid('response', c, 'vLLM completion');
    nonEmpty(c.choices[0].message.reasoning_content, 'reasoning_content');
  }],
];

// ---- run ---------------------------------------------------------------------
const line = (s) => process.stdout.write(`${s}\n`);
const oneLine = (s) => String(s).replace(/\s+/g, ' ').trim().slice(0, 400);

for (const [id, desc, flags, fn] of CASES) {
  if (ONLY && !ONLY.test(`${id} ${desc}`)) continue;
  if (flags.mock && !MOCK) { line(`skip ${id} ${desc} (mock only)`); continue; }
  if (flags.vllm && !VLLM) { line(`skip ${id} ${desc} (no AXON_TEST_VLLM_MODEL)`); continue; }
  if (flags.reasons && !VLLM_REASONS) { line(`skip ${id} ${desc} (reasoning presence is checked against the mock only)`); continue; }
  try {
    await fn();
    line(`ok   ${id} ${desc}`);
  } catch (e) {
    const msg = e instanceof assert.AssertionError ? e.message : `${e?.constructor?.name ?? 'Error'}: ${e?.message ?? e}`;
    line(`FAIL ${id} ${desc}: ${oneLine(msg)}`);
  }
}
