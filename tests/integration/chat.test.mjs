// POST /v1/chat/completions through each web server against the mock Claude
// (tests/mock/anthropic.mjs): the answers an OpenAI client sees, and the
// Messages API bodies the mock recorded (GET /_mock/requests?id=X).
// Every completion, chunk and error is checked against the OpenAI spec.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import {
  SERVER_NAMES, KEY, REPO_ROOT, stackUrl, originOf, call, assertEnvelope, readSse, dataOf,
} from './lib.mjs';
import { assertValid } from './schema.mjs';
import { postStream, recorded, sdk } from './mock.mjs';

const CHAT = '/v1/chat/completions';
const JSON_HEADERS = { 'content-type': 'application/json' };
const FIXTURES = process.env.MOCK_FIXTURES || path.resolve(REPO_ROOT, 'tests', 'data', 'fixtures');
const ID_RE = /^chatcmpl-[A-Za-z0-9]{29}$/;
const FP_RE = /^fp_[0-9a-f]{10}$/;

// ---- helpers ------------------------------------------------------------------

// A directive id no other test (or file, or server) uses.
let counter = 0;
const newId = (server, tag) => `chat-${server}-${tag}-${++counter}-${process.pid}`;
const marker = (id, extra = '') => `[[mock id=${id}${extra ? ` ${extra}` : ''}]]`;

async function onlyRecorded(id) {
  const recs = await recorded(id);
  assert.equal(recs.length, 1, `the mock got exactly one request for ${id}: ${JSON.stringify(recs).slice(0, 500)}`);
  return recs[0];
}

// Claude's input_tokens from the mock: ceil(request body bytes / 4).
const mockInputTokens = (rec) => Math.ceil(Number(rec.headers['content-length']) / 4);

// A non-stream request through the SDK; build(marker) makes the body.
async function viaSdk(server, tag, build, extra = '') {
  const id = newId(server, tag);
  const mark = marker(id, extra);
  const completion = await sdk(server).chat.completions.create(build(mark));
  assertValid('response', completion, `${tag} through ${server}`);
  const rec = await onlyRecorded(id);
  return { id, mark, completion, rec, body: rec.body };
}

// A raw non-stream POST (x-request-id checked by call()).
async function post(server, body) {
  const res = await call(originOf(stackUrl(server)), CHAT, {
    method: 'POST', key: KEY, headers: JSON_HEADERS, body: JSON.stringify(body),
  });
  if (res.status === 200) assertValid('response', res.json, `answer to ${JSON.stringify(body).slice(0, 200)}`);
  else assertValid('error', res.json, `error answer to ${JSON.stringify(body).slice(0, 200)}`);
  return res;
}

// A raw streamed POST, read block by block; every data: object is validated.
async function rawStream(server, body) {
  const t0 = performance.now();
  const res = await postStream(server, body);
  if (res.status !== 200) {
    const text = await res.text();
    return { res, status: res.status, text };
  }
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream\b/);
  const { blocks, rest } = await readSse(res, t0);
  const data = dataOf(blocks).map((d) => d.data);
  const done = data.at(-1) === '[DONE]';
  const objs = (done ? data.slice(0, -1) : data).map((d) => JSON.parse(d));
  for (const [k, o] of objs.entries()) {
    if (o.error) assertValid('error', o, `error chunk ${k} through ${server}`);
    else assertValid('chunk', o, `chunk ${k} through ${server}`);
  }
  return { res, status: 200, blocks, rest, data, done, objs, chunks: objs.filter((o) => !o.error) };
}

// The answer a stream of chunks adds up to, for choice i.
function accumulate(chunks, i = 0) {
  const out = { content: '', reasoning: '', tools: [], finish: [], role: undefined };
  for (const c of chunks) {
    for (const ch of c.choices) {
      if (ch.index !== i) continue;
      const d = ch.delta;
      if (d.role && out.role === undefined) out.role = d.role;
      if (typeof d.content === 'string') out.content += d.content;
      if (typeof d.reasoning_content === 'string') out.reasoning += d.reasoning_content;
      for (const tc of d.tool_calls ?? []) {
        const t = (out.tools[tc.index] ??= { id: undefined, name: undefined, args: '' });
        if (tc.id) t.id = tc.id;
        if (tc.function?.name) t.name = tc.function.name;
        if (tc.function?.arguments) t.args += tc.function.arguments;
      }
      if (ch.finish_reason !== null) out.finish.push(ch.finish_reason);
    }
  }
  return out;
}

// Stream invariants every stream must keep: role first, one id/created/model,
// exactly one finish per choice, a usage chunk (choices: []) last iff asked.
function assertStreamShape(chunks, { n = 1, includeUsage = false } = {}) {
  assert.ok(chunks.length >= 2, `too few chunks: ${chunks.length}`);
  const { id, created, model } = chunks[0];
  assert.match(id, ID_RE);
  for (const c of chunks) {
    assert.equal(c.object, 'chat.completion.chunk');
    assert.equal(c.id, id, 'the same id on every chunk');
    assert.equal(c.created, created, 'the same created on every chunk');
    assert.equal(c.model, model, 'the same model on every chunk');
  }
  for (let i = 0; i < n; i++) {
    const first = chunks.find((c) => c.choices.some((ch) => ch.index === i));
    assert.equal(first.choices.find((ch) => ch.index === i).delta.role, 'assistant',
      `the first chunk of choice ${i} carries the role`);
    const finishes = chunks.filter((c) => c.choices.some((ch) => ch.index === i && ch.finish_reason !== null));
    assert.equal(finishes.length, 1, `exactly one finish chunk for choice ${i}`);
  }
  for (const c of chunks) assert.ok(c.choices.length <= 1, 'one choice per chunk');
  const usageChunks = chunks.filter((c) => c.usage);
  if (includeUsage) {
    assert.equal(usageChunks.length, 1, 'exactly one usage chunk');
    assert.equal(chunks.at(-1), usageChunks[0], 'the usage chunk comes last');
    assert.deepEqual(usageChunks[0].choices, [], 'the usage chunk has choices: []');
    const lastFinish = chunks.findLastIndex((c) => c.choices.some((ch) => ch.finish_reason !== null));
    assert.equal(lastFinish, chunks.length - 2, 'the usage chunk follows the finish chunks');
    assertUsage(usageChunks[0].usage);
  } else {
    assert.equal(usageChunks.length, 0, 'no usage chunk without stream_options.include_usage');
    assert.ok(chunks.every((c) => c.choices.length === 1), 'no choices: [] chunk without include_usage');
  }
}

function assertUsage(u) {
  for (const k of ['prompt_tokens', 'completion_tokens', 'total_tokens']) {
    assert.ok(Number.isInteger(u[k]) && u[k] >= 0, `usage.${k} is a non-negative integer: ${u[k]}`);
  }
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.ok(Number.isInteger(u.prompt_tokens_details?.cached_tokens), 'prompt_tokens_details.cached_tokens');
  assert.ok(Number.isInteger(u.completion_tokens_details?.reasoning_tokens), 'completion_tokens_details.reasoning_tokens');
}

// ---- fixtures -----------------------------------------------------------------

// The data: objects of an .sse fixture, in order.
function sseEvents(name) {
  const text = fs.readFileSync(path.join(FIXTURES, name), 'utf8');
  return text.split(/\n\n/).flatMap((block) => {
    const line = block.split('\n').find((l) => l.startsWith('data:'));
    return line ? [JSON.parse(line.slice(5))] : [];
  });
}

// What the client should see from an Anthropic answer (fixture).
const FINISH = { end_turn: 'stop', stop_sequence: 'stop', pause_turn: 'length', max_tokens: 'length', tool_use: 'tool_calls', refusal: 'content_filter' };
const openaiId = (id) => (id.startsWith('toolu_') ? `call_${id.slice(6)}` : id);

function expectFromSse(name) {
  const out = { text: '', reasoning: '', tools: [], stop: null, model: null };
  const toolAt = new Map(); // block index -> tool
  for (const ev of sseEvents(name)) {
    if (ev.type === 'message_start') out.model = ev.message.model;
    if (ev.type === 'content_block_start' && ev.content_block.type === 'tool_use') {
      const t = { id: openaiId(ev.content_block.id), name: ev.content_block.name, args: '' };
      toolAt.set(ev.index, t);
      out.tools.push(t);
    }
    if (ev.type === 'content_block_delta') {
      const d = ev.delta;
      if (d.type === 'text_delta') out.text += d.text;
      if (d.type === 'thinking_delta') out.reasoning += d.thinking;
      if (d.type === 'input_json_delta') toolAt.get(ev.index).args += d.partial_json;
    }
    if (ev.type === 'message_delta' && ev.delta.stop_reason) out.stop = ev.delta.stop_reason;
  }
  for (const t of out.tools) if (t.args === '') t.args = '{}';
  return out;
}

function expectFromJson(name) {
  const msg = JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8'));
  const out = { text: '', reasoning: '', tools: [], stop: msg.stop_reason ?? 'end_turn', model: msg.model ?? null };
  for (const b of msg.content) {
    if (b.type === 'text') out.text += b.text;
    if (b.type === 'thinking') out.reasoning += b.thinking;
    if (b.type === 'tool_use') out.tools.push({ id: openaiId(b.id), name: b.name, input: b.input });
  }
  return out;
}

// ---- request pieces -------------------------------------------------------------

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city.',
    parameters: {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
      required: ['city'],
    },
  },
};
const TIME_TOOL = {
  type: 'function',
  function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } } } },
};
const user = (content) => ({ role: 'user', content });

// ---- tests --------------------------------------------------------------------

// A fixture replayed as a stream through the stack: the answer checked for
// shape and accumulated, next to what the fixture itself says.
async function replayStream(server, name, { includeUsage = false, directives = '' } = {}) {
  const want = expectFromSse(name);
  const s = await rawStream(server, {
    model: 'gpt-4o', ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
    messages: [user(`[[mock fixture=${name}${directives ? ` ${directives}` : ''}]]`)],
  });
  assert.equal(s.status, 200, s.text);
  assert.ok(s.done);
  assertStreamShape(s.chunks, { includeUsage });
  return { want, s, acc: accumulate(s.chunks) };
}

for (const server of SERVER_NAMES) {
  describe(`chat completions through ${server}`, () => {
    // ---- the plain answer ----

    it('a plain non-stream answer through the SDK has every field an OpenAI client reads', async () => {
      const before = Math.floor(Date.now() / 1000);
      const { completion: c, rec } = await viaSdk(server, 'plain',
        (m) => ({ model: 'gpt-4o', messages: [user(`Say hello ${m}`)] }));
      assert.match(c.id, ID_RE);
      assert.equal(c.object, 'chat.completion');
      assert.ok(Math.abs(c.created - before) <= 30, `created ${c.created} is about now (${before})`);
      assert.equal(c.model, 'claude-sonnet-4-6-20260101', 'the dated model Claude answered with');
      assert.match(c.system_fingerprint, FP_RE);
      assert.equal(c.service_tier, 'default');
      assert.equal(c.choices.length, 1);
      const ch = c.choices[0];
      assert.equal(ch.index, 0);
      assert.equal(ch.message.role, 'assistant');
      assert.equal(ch.message.content, 'Hello from the mock.');
      assert.equal(ch.message.refusal, null);
      assert.equal(ch.logprobs, null);
      assert.equal(ch.finish_reason, 'stop');
      assert.equal(ch.message.tool_calls, undefined, 'no tool_calls key without tool calls');
      assertUsage(c.usage);
      assert.equal(c.usage.prompt_tokens, mockInputTokens(rec));
      assert.equal(c.usage.completion_tokens, 4, 'four words');
      assert.equal(c.usage.prompt_tokens_details.cached_tokens, 0);
      assert.deepEqual(c.usage.completion_tokens_details, {
        reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0,
      });
    });

    it('cache reads and writes count as prompt tokens; cached_tokens is the cache read', async () => {
      const { completion: c, rec } = await viaSdk(server, 'cache',
        (m) => ({ model: 'gpt-4o', messages: [user(`hi ${m}`)] }), 'cache_read=700 cache_write=300');
      const input = mockInputTokens(rec);
      assert.equal(c.usage.prompt_tokens, input + 700 + 300);
      assert.equal(c.usage.prompt_tokens_details.cached_tokens, 700);
      assert.equal(c.usage.total_tokens, input + 1000 + c.usage.completion_tokens);
    });

    // ---- models and max_tokens ----

    it('aliases reach Claude as their model; no model means claude-sonnet-4-6', async () => {
      const cases = [
        ['gpt-4o', 'claude-sonnet-4-6'], ['gpt-4', 'claude-opus-4-6'], ['gpt-3.5-turbo', 'claude-haiku-4-5'],
        ['gpt-4o-mini', 'claude-haiku-4-5'], ['claude-opus-4-6', 'claude-opus-4-6'], [undefined, 'claude-sonnet-4-6'],
      ];
      for (const [asked, upstream] of cases) {
        const { completion, body } = await viaSdk(server, 'alias',
          (m) => ({ model: asked, messages: [user(`hi ${m}`)] }));
        assert.equal(body.model, upstream, `model ${asked} is sent upstream as ${upstream}`);
        assert.equal(completion.model, `${upstream}-20260101`, `model ${asked} answers as Claude's dated name`);
      }
    });

    it('max_tokens: the models.conf default when absent, max_completion_tokens wins over max_tokens', async () => {
      const dflt = await viaSdk(server, 'maxdef', (m) => ({ model: 'gpt-4o', messages: [user(`hi ${m}`)] }));
      assert.equal(dflt.body.max_tokens, 8192, 'max_tokens=8192 from etc/models.conf');
      const legacy = await viaSdk(server, 'maxold',
        (m) => ({ model: 'gpt-4o', max_tokens: 100, messages: [user(`hi ${m}`)] }));
      assert.equal(legacy.body.max_tokens, 100);
      const both = await viaSdk(server, 'maxboth',
        (m) => ({ model: 'gpt-4o', max_tokens: 100, max_completion_tokens: 200, messages: [user(`hi ${m}`)] }));
      assert.equal(both.body.max_tokens, 200, 'max_completion_tokens wins');
      // A budget the answer does not fit: cut after 2 words, finish_reason length.
      const cut = await viaSdk(server, 'maxcut',
        (m) => ({ model: 'gpt-4o', max_completion_tokens: 2, messages: [user(`hi ${m}`)] }));
      assert.equal(cut.completion.choices[0].message.content, 'Hello from');
      assert.equal(cut.completion.choices[0].finish_reason, 'length');
    });

    it('an unknown model is 404 model_not_found (SDK NotFoundError) and never reaches Claude', async () => {
      const id = newId(server, 'nomodel');
      await assert.rejects(
        sdk(server).chat.completions.create({ model: 'gpt-nope', messages: [user(`hi ${marker(id)}`)] }),
        (err) => {
          assert.ok(err instanceof OpenAI.NotFoundError, `NotFoundError, got ${err?.constructor?.name}: ${err}`);
          assert.equal(err.status, 404);
          assert.equal(err.code, 'model_not_found');
          assert.equal(err.param, null);
          assert.equal(err.type, 'invalid_request_error');
          assert.match(err.message, /gpt-nope/);
          assertValid('error', { error: err.error });
          return true;
        });
      assert.equal((await recorded(id)).length, 0, 'nothing was sent upstream');
    });

    // ---- request translation (checked on the body the mock recorded) ----

    it('system and developer messages are hoisted in order into system; consecutive user turns merge', async () => {
      const { body, completion, mark } = await viaSdk(server, 'system', (m) => ({
        model: 'gpt-4o',
        messages: [
          { role: 'system', content: 'You are terse.' },
          user('first question'),
          { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
          user(`second question ${m}`),
        ],
      }));
      assert.equal(completion.choices[0].message.content, 'Hello from the mock.');
      assert.deepEqual(body.system, [
        { type: 'text', text: 'You are terse.' },
        { type: 'text', text: 'Answer in French.' },
      ]);
      assert.equal(body.messages.length, 1, 'the two user messages became one turn');
      assert.equal(body.messages[0].role, 'user');
      assert.deepEqual(body.messages[0].content.map((b) => b.text), ['first question', `second question ${mark}`]);
      assert.ok(body.messages[0].content.every((b) => b.type === 'text'));
    });

    it('a message name is carried into the text as "name: text"', async () => {
      const { body, mark } = await viaSdk(server, 'name', (m) => ({
        model: 'gpt-4o',
        messages: [{ role: 'user', name: 'alice', content: `hi ${m}` }],
      }));
      assert.deepEqual(body.messages[0].content, [{ type: 'text', text: `alice: hi ${mark}` }]);
    });

    it('assistant tool_calls become tool_use blocks and tool messages tool_result blocks (call_X ⇄ toolu_X)', async () => {
      const { body, completion } = await viaSdk(server, 'toolturn', (m) => ({
        model: 'gpt-4o',
        tools: [WEATHER_TOOL],
        messages: [
          user(`Weather in Paris? ${m}`),
          {
            role: 'assistant',
            content: null,
            tool_calls: [{
              id: 'call_01AbCdEf', type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' },
            }],
          },
          { role: 'tool', tool_call_id: 'call_01AbCdEf', content: 'sunny, 21 C' },
        ],
      }));
      assert.equal(body.messages.length, 3);
      assert.deepEqual(body.messages[1], {
        role: 'assistant',
        content: [{ type: 'tool_use', id: 'toolu_01AbCdEf', name: 'get_weather', input: { city: 'Paris', unit: 'c' } }],
      });
      assert.equal(body.messages[2].role, 'user');
      assert.deepEqual(body.messages[2].content, [
        { type: 'tool_result', tool_use_id: 'toolu_01AbCdEf', content: 'sunny, 21 C' },
      ]);
      // The mock answers a tool_result with "The tool said: ...".
      assert.equal(completion.choices[0].message.content, 'The tool said: sunny, 21 C');
      assert.equal(completion.choices[0].finish_reason, 'stop');
    });

    it('images, PDFs and empty text parts: data URL → base64, https → url, file → document, "" dropped', async () => {
      const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
      const pdf = 'JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK';
      const { body } = await viaSdk(server, 'parts', (m) => ({
        model: 'gpt-4o',
        messages: [user([
          { type: 'text', text: `Describe these. ${m}` },
          { type: 'text', text: '' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${png}`, detail: 'low' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          { type: 'file', file: { filename: 'report.pdf', file_data: `data:application/pdf;base64,${pdf}` } },
        ])],
      }));
      const blocks = body.messages[0].content;
      assert.equal(blocks.length, 4, `the empty text part is dropped: ${JSON.stringify(blocks)}`);
      assert.equal(blocks[0].type, 'text');
      assert.deepEqual(blocks[1], { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } });
      assert.deepEqual(blocks[2], { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } });
      assert.equal(blocks[3].type, 'document');
      assert.deepEqual(blocks[3].source, { type: 'base64', media_type: 'application/pdf', data: pdf });
    });

    it('stop, user, temperature and top_p: stop_sequences (blank dropped), metadata.user_id, 1.7 → 1, top_p left out beside temperature', async () => {
      const { body } = await viaSdk(server, 'sampling', (m) => ({
        model: 'gpt-4o',
        messages: [user(`hi ${m}`)],
        stop: ['END', '  ', 'STOP'],
        user: 'user-42',
        temperature: 1.7,
        top_p: 0.9,
      }));
      assert.deepEqual(body.stop_sequences, ['END', 'STOP']);
      assert.deepEqual(body.metadata, { user_id: 'user-42' });
      assert.equal(body.temperature, 1, 'OpenAI temperature above 1 is capped at Claude\'s 1');
      // claude-sonnet-4-6 takes one of temperature and top_p (sampling=one).
      assert.ok(!('top_p' in body), 'top_p is left out beside temperature');
      for (const k of ['stop', 'user', 'n', 'stream_options']) assert.ok(!(k in body), `no OpenAI-only ${k} upstream`);
      // A string stop that is only white space sends no stop_sequences at all.
      const blank = await viaSdk(server, 'stopblank',
        (m) => ({ model: 'gpt-4o', messages: [user(`hi ${m}`)], stop: ' \n', temperature: 0.3 }));
      assert.ok(!('stop_sequences' in blank.body), JSON.stringify(blank.body));
      assert.equal(blank.body.temperature, 0.3);
      // A stop sequence Claude hits ends the text before it, as finish_reason stop.
      const hit = await viaSdk(server, 'stophit',
        (m) => ({ model: 'gpt-4o', messages: [user(`hi ${m}`)], stop: 'mock' }));
      assert.equal(hit.completion.choices[0].message.content, 'Hello from the ');
      assert.equal(hit.completion.choices[0].finish_reason, 'stop');
    });

    it('tools become input_schema (with $schema stripped); tool_choice and parallel_tool_calls are mapped', async () => {
      const auto = await viaSdk(server, 'tools', (m) => ({
        model: 'gpt-4o', messages: [user(`weather? ${m}`)], tools: [WEATHER_TOOL, TIME_TOOL],
      }));
      assert.deepEqual(auto.body.tools, [
        {
          name: 'get_weather', description: 'The weather in a city.',
          input_schema: {
            type: 'object',
            properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
            required: ['city'],
          },
        },
        { name: 'get_time', input_schema: { type: 'object', properties: { zone: { type: 'string' } } } },
      ]);
      assert.deepEqual(auto.body.tool_choice, { type: 'auto' });
      assert.equal(auto.completion.choices[0].finish_reason, 'tool_calls');

      const cases = [
        [{ tool_choice: 'required' }, { type: 'any' }, 'tool_calls'],
        [{ tool_choice: { type: 'function', function: { name: 'get_time' } } }, { type: 'tool', name: 'get_time' }, 'tool_calls'],
        [{ tool_choice: 'none' }, { type: 'none' }, 'stop'],
        [{ tool_choice: 'auto', parallel_tool_calls: false }, { type: 'auto', disable_parallel_tool_use: true }, 'tool_calls'],
      ];
      for (const [extra, expected, finish] of cases) {
        const { body, completion } = await viaSdk(server, 'toolchoice', (m) => ({
          model: 'gpt-4o', messages: [user(`weather? ${m}`)], tools: [WEATHER_TOOL, TIME_TOOL], ...extra,
        }));
        assert.deepEqual(body.tool_choice, expected, `tool_choice for ${JSON.stringify(extra)}`);
        assert.equal(completion.choices[0].finish_reason, finish, `finish_reason for ${JSON.stringify(extra)}`);
        if (expected.name) assert.equal(completion.choices[0].message.tool_calls[0].function.name, expected.name);
      }
    });

    it('response_format json_schema becomes output_config.format; the answer is the JSON', async () => {
      const schema = {
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'object',
        properties: { city: { type: 'string' }, n: { type: 'integer' } },
        required: ['city', 'n'],
        additionalProperties: false,
      };
      const { body, completion } = await viaSdk(server, 'rfschema', (m) => ({
        model: 'gpt-4o', messages: [user(`a city ${m}`)],
        response_format: { type: 'json_schema', json_schema: { name: 'city', strict: true, schema } },
      }));
      const { $schema, ...clean } = schema;
      assert.deepEqual(body.output_config, { format: { type: 'json_schema', schema: clean } });
      assert.ok(!('response_format' in body));
      assert.deepEqual(JSON.parse(completion.choices[0].message.content), { city: 'Paris', n: 1 });
    });

    it('reasoning_effort and thinking turn on Claude thinking with a budget below max_tokens and no temperature', async () => {
      const cases = [
        [{ reasoning_effort: 'low' }, 2048],
        [{ thinking: true }, 4096],
        [{ thinking: { type: 'enabled', budget_tokens: 2048 } }, 2048],
      ];
      for (const [extra, budget] of cases) {
        const { body, completion } = await viaSdk(server, 'thinking', (m) => ({
          model: 'gpt-4o', messages: [user(`think ${m}`)], temperature: 0.5, ...extra,
        }));
        const what = JSON.stringify(extra);
        assert.deepEqual(body.thinking, { type: 'enabled', budget_tokens: budget }, what);
        assert.ok(body.thinking.budget_tokens < body.max_tokens, `${what}: budget < max_tokens (${body.max_tokens})`);
        assert.ok(!('temperature' in body), `${what}: no temperature with thinking`);
        assert.ok(!('reasoning_effort' in body), `${what}: no OpenAI-only reasoning_effort upstream`);
        const msg = completion.choices[0].message;
        assert.equal(msg.content, 'Hello from the mock.');
        assert.equal(msg.reasoning_content, 'Let me think about this.', `${what}: the thinking text as reasoning_content`);
      }
    });

    // ---- streaming ----

    it('SDK stream with include_usage: role first, one id/created/model, one finish, then a usage chunk', async () => {
      const id = newId(server, 'stream');
      const stream = await sdk(server).chat.completions.create({
        model: 'gpt-4o', stream: true, stream_options: { include_usage: true },
        messages: [user(`hi ${marker(id)}`)],
      });
      const chunks = [];
      for await (const chunk of stream) {
        assertValid('chunk', chunk, `chunk ${chunks.length}`);
        chunks.push(chunk);
      }
      assertStreamShape(chunks, { includeUsage: true });
      const acc = accumulate(chunks);
      assert.equal(acc.content, 'Hello from the mock.');
      assert.deepEqual(acc.finish, ['stop']);
      assert.equal(chunks[0].model, 'claude-sonnet-4-6-20260101');
      assert.match(chunks[0].system_fingerprint, FP_RE);
      const rec = await onlyRecorded(id);
      assert.equal(rec.body.stream, true);
      assert.ok(!('stream_options' in rec.body));
      const usage = chunks.at(-1).usage;
      assert.equal(usage.prompt_tokens, mockInputTokens(rec));
      assert.equal(usage.completion_tokens, 4);
    });

    it('SDK stream without include_usage has no usage chunk', async () => {
      const stream = await sdk(server).chat.completions.create({
        model: 'gpt-4o-mini', stream: true, messages: [user('hi')],
      });
      const chunks = [];
      for await (const chunk of stream) {
        assertValid('chunk', chunk, `chunk ${chunks.length}`);
        chunks.push(chunk);
      }
      assertStreamShape(chunks, { includeUsage: false });
      assert.equal(accumulate(chunks).content, 'Hello from the mock.');
      assert.equal(chunks[0].model, 'claude-haiku-4-5-20260101');
    });

    it('the raw stream is only "data: " lines and ": ping" comments, ending in data: [DONE]', async () => {
      const res = await fetch(`${stackUrl(server)}/chat/completions`, {
        method: 'POST',
        headers: { ...JSON_HEADERS, authorization: `Bearer ${KEY}` },
        body: JSON.stringify({
          model: 'gpt-4o', stream: true, stream_options: { include_usage: true },
          messages: [user(`hi ${marker(newId(server, 'wire'), 'ms=20')}`)],
        }),
        signal: AbortSignal.timeout(30000),
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream\b/);
      assert.match(res.headers.get('x-request-id') ?? '', /^req_[0-9a-f]{32}$/);
      const text = await res.text();
      assert.ok(text.endsWith('data: [DONE]\n\n'), `ends with data: [DONE]: ${JSON.stringify(text.slice(-40))}`);
      const events = text.slice(0, -2).split('\n\n');
      for (const ev of events) {
        assert.ok(ev === ': ping' || (ev.startsWith('data: ') && !ev.includes('\n')),
          `an event that is neither one data: line nor a ping: ${JSON.stringify(ev)}`);
        assert.ok(!/^(event|id|retry):/m.test(ev));
      }
      const data = events.filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
      assert.equal(data.filter((d) => d === '[DONE]').length, 1);
      const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
      for (const c of chunks) assertValid('chunk', c);
      assertStreamShape(chunks, { includeUsage: true });
    });

    // ---- tool calls ----

    it('two parallel tool calls (non-stream): call_ ids, JSON arguments, finish_reason tool_calls', async () => {
      const { completion, body } = await viaSdk(server, 'calls2', (m) => ({
        model: 'gpt-4o', messages: [user(`weather and time ${m}`)], tools: [WEATHER_TOOL, TIME_TOOL],
      }), 'calls=2');
      assert.ok(!body.tool_choice.disable_parallel_tool_use);
      const ch = completion.choices[0];
      assert.equal(ch.finish_reason, 'tool_calls');
      assert.equal(ch.message.content, 'Let me check.');
      const calls = ch.message.tool_calls;
      assert.equal(calls.length, 2);
      assert.deepEqual(calls.map((t) => t.function.name), ['get_weather', 'get_time']);
      for (const t of calls) {
        assert.match(t.id, /^call_[A-Za-z0-9]{24}$/);
        assert.equal(t.type, 'function');
        assert.equal(typeof t.function.arguments, 'string');
      }
      assert.notEqual(calls[0].id, calls[1].id);
      assert.deepEqual(JSON.parse(calls[0].function.arguments), { city: 'Paris', unit: 'c' });
      assert.deepEqual(JSON.parse(calls[1].function.arguments), { zone: 'Paris' });
    });

    it('two parallel tool calls streamed: the SDK stream helper accumulates the same two calls', async () => {
      const stream = sdk(server).chat.completions.stream({
        model: 'gpt-4o', tools: [WEATHER_TOOL, TIME_TOOL],
        messages: [user(`weather and time ${marker(newId(server, 'calls2s'), 'calls=2')}`)],
      });
      const chunks = [];
      for await (const chunk of stream) {
        assertValid('chunk', chunk, `chunk ${chunks.length}`);
        chunks.push(chunk);
      }
      const final = await stream.finalChatCompletion();
      assertStreamShape(chunks);
      const ch = final.choices[0];
      assert.equal(ch.finish_reason, 'tool_calls');
      assert.equal(ch.message.content, 'Let me check.');
      assert.equal(ch.message.tool_calls.length, 2);
      assert.deepEqual(ch.message.tool_calls.map((t) => t.function.name), ['get_weather', 'get_time']);
      for (const t of ch.message.tool_calls) assert.match(t.id, /^call_[A-Za-z0-9]{24}$/);
      assert.deepEqual(JSON.parse(ch.message.tool_calls[0].function.arguments), { city: 'Paris', unit: 'c' });
      assert.deepEqual(JSON.parse(ch.message.tool_calls[1].function.arguments), { zone: 'Paris' });
    });

    it('raw tool-call deltas: the first per tool has index, id, type, name and "" arguments; later ones only index + arguments', async () => {
      const s = await rawStream(server, {
        model: 'gpt-4o', tools: [WEATHER_TOOL, TIME_TOOL],
        messages: [user(`weather and time ${marker(newId(server, 'calls2raw'), 'calls=2')}`)],
      });
      assert.equal(s.status, 200);
      assert.ok(s.done);
      assertStreamShape(s.chunks);
      const deltas = s.chunks.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
      assert.ok(s.chunks.every((c) => c.choices.every((ch) => (ch.delta.tool_calls ?? []).length <= 1)));
      const seen = new Set();
      let last = -1;
      for (const d of deltas) {
        assert.ok(d.index >= last, 'tools are streamed one after the other');
        last = d.index;
        if (!seen.has(d.index)) {
          seen.add(d.index);
          assert.deepEqual(Object.keys(d).sort(), ['function', 'id', 'index', 'type']);
          assert.match(d.id, /^call_/);
          assert.equal(d.type, 'function');
          assert.deepEqual(Object.keys(d.function).sort(), ['arguments', 'name']);
          assert.equal(d.function.arguments, '');
        } else {
          assert.deepEqual(Object.keys(d).sort(), ['function', 'index'], JSON.stringify(d));
          assert.deepEqual(Object.keys(d.function), ['arguments'], JSON.stringify(d));
          assert.ok(d.function.arguments.length > 0);
        }
      }
      assert.deepEqual([...seen], [0, 1]);
      const acc = accumulate(s.chunks);
      assert.deepEqual(acc.tools.map((t) => JSON.parse(t.args)), [{ city: 'Paris', unit: 'c' }, { zone: 'Paris' }]);
      assert.deepEqual(acc.finish, ['tool_calls']);
    });

    // ---- SDK helpers ----

    it('SDK parse() with a json_schema response_format gives message.parsed', async () => {
      const id = newId(server, 'parse');
      const completion = await sdk(server).chat.completions.parse({
        model: 'gpt-4o',
        messages: [user(`a city ${marker(id)}`)],
        response_format: {
          type: 'json_schema',
          json_schema: {
            name: 'place', strict: true,
            schema: {
              type: 'object', additionalProperties: false, required: ['name', 'population', 'tags'],
              properties: { name: { type: 'string' }, population: { type: 'integer' }, tags: { type: 'array', items: { type: 'string' } } },
            },
          },
        },
      });
      const { parsed, ...plain } = completion.choices[0].message;
      assertValid('response', { ...completion, choices: [{ ...completion.choices[0], message: plain }] });
      assert.deepEqual(parsed, { name: 'Paris', population: 1, tags: [] });
      assert.equal((await onlyRecorded(id)).body.output_config.format.type, 'json_schema');
    });

    it('SDK stream() with a strict tool: finalChatCompletion has the call with parsed_arguments', async () => {
      const strictTool = {
        type: 'function',
        function: {
          name: 'get_weather', strict: true,
          parameters: { type: 'object', additionalProperties: false, required: ['city'], properties: { city: { type: 'string' } } },
        },
      };
      const id = newId(server, 'streamtool');
      const stream = sdk(server).chat.completions.stream({
        model: 'gpt-4o', tools: [strictTool], stream_options: { include_usage: true },
        messages: [user(`weather ${marker(id)}`)],
      });
      const seen = [];
      stream.on('chunk', (c) => { assertValid('chunk', c); seen.push(c); });
      const final = await stream.finalChatCompletion();
      assertStreamShape(seen, { includeUsage: true });
      const call0 = final.choices[0].message.tool_calls[0];
      assert.equal(final.choices[0].finish_reason, 'tool_calls');
      assert.equal(call0.function.name, 'get_weather');
      assert.deepEqual(JSON.parse(call0.function.arguments), { city: 'Paris' });
      assert.deepEqual(call0.function.parsed_arguments, { city: 'Paris' });
      assert.equal((await onlyRecorded(id)).body.tools[0].strict, true);
    });

    it('SDK runTools(): the agent loop calls the function and gets the final answer (non-stream and stream)', async () => {
      for (const stream of [false, true]) {
        const id = newId(server, stream ? 'runtools-s' : 'runtools');
        const calls = [];
        const runner = sdk(server).chat.completions.runTools({
          model: 'gpt-4o',
          stream,
          messages: [user(`weather in Paris? ${marker(id)}`)],
          tools: [{
            type: 'function',
            function: {
              name: 'get_weather',
              parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
              parse: JSON.parse,
              function: (args) => { calls.push(args); return `sunny in ${args.city}`; },
            },
          }],
        });
        if (stream) runner.on('chunk', (c) => assertValid('chunk', c));
        else runner.on('chatCompletion', (c) => assertValid('response', c));
        assert.equal(await runner.finalContent(), 'The tool said: sunny in Paris', `stream: ${stream}`);
        assert.deepEqual(calls, [{ city: 'Paris' }]);
        const recs = await recorded(id);
        assert.equal(recs.length, 2, 'two turns');
        const [turn1, turn2] = [recs[0].body, recs[1].body];
        assert.equal(turn1.messages.length, 1);
        assert.deepEqual(turn2.messages.map((m) => m.role), ['user', 'assistant', 'user']);
        const toolUse = turn2.messages[1].content.find((b) => b.type === 'tool_use');
        const toolResult = turn2.messages[2].content[0];
        assert.equal(toolResult.type, 'tool_result');
        assert.equal(toolResult.tool_use_id, toolUse.id, 'the result answers the call Claude made');
        assert.match(toolUse.id, /^toolu_[A-Za-z0-9]{24}$/, 'call_X went back to Claude as its toolu_X');
        assert.equal(toolResult.content, 'sunny in Paris');
      }
    });

    it('a recorded two-turn tool round trip (anthropic-recorded-exchange-stream-tool-roundtrip.json) through the SDK', async () => {
      const name = 'anthropic-recorded-exchange-stream-tool-roundtrip.json';
      const exchange = JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8'));
      const recordedTool = exchange[0].request.body.tools[0];
      const tools = [{ type: 'function', function: { name: recordedTool.name, description: recordedTool.description, parameters: recordedTool.input_schema } }];
      const messages = [user(`What is the weather in SF? [[mock fixture=${name}]]`)];
      const turn = (msgs) => sdk(server).chat.completions.stream({ model: 'gpt-4o-mini', tools, messages: msgs })
        .on('chunk', (c) => assertValid('chunk', c)).finalChatCompletion();
      const first = await turn(messages);
      assert.equal(first.choices[0].finish_reason, 'tool_calls');
      const call0 = first.choices[0].message.tool_calls[0];
      assert.equal(call0.id, 'call_018acGYLtfR52q9yDbWaEdQZ', 'Claude\'s toolu_ id as call_');
      assert.equal(call0.function.name, 'get_weather');
      const args = JSON.parse(call0.function.arguments);
      assert.ok(typeof args.location === 'string' && /San Francisco/.test(args.location), call0.function.arguments);
      messages.push(first.choices[0].message, { role: 'tool', tool_call_id: call0.id, content: '{"temp_c": 20, "condition": "Sunny"}' });
      const second = await turn(messages);
      assert.equal(second.choices[0].finish_reason, 'stop');
      assert.equal(second.choices[0].message.content, expectFromSse('anthropic-recorded-stream-text-after-tool_result.sse').text);
      assert.equal(second.model, 'claude-haiku-4-5-20251001');
    });

    it('a generated thinking stream: reasoning_content deltas first, then the content', async () => {
      const s = await rawStream(server, {
        model: 'gpt-4o', reasoning_effort: 'medium', stream_options: { include_usage: true },
        messages: [user(`think ${marker(newId(server, 'thinks'))}`)],
      });
      assert.equal(s.status, 200, s.text);
      assertStreamShape(s.chunks, { includeUsage: true });
      const acc = accumulate(s.chunks);
      assert.equal(acc.reasoning, 'Let me think about this.');
      assert.equal(acc.content, 'Hello from the mock.');
      const deltas = s.chunks.map((c) => c.choices[0]?.delta ?? {});
      assert.ok(deltas.findLastIndex((d) => d.reasoning_content) < deltas.findIndex((d) => d.content));
      assert.ok(deltas.every((d) => !(d.reasoning_content && d.content)), 'never both in one delta');
    });

    it('a tool call cut by max_tokens: finish_reason length, streamed and not', async () => {
      // 6 tokens: "Let me check." (3) leaves 3, less than a tool call's 5.
      const body = (tag) => ({
        model: 'gpt-4o', max_tokens: 6, tools: [WEATHER_TOOL, TIME_TOOL],
        messages: [user(`weather ${marker(newId(server, tag), 'calls=2')}`)],
      });
      const s = await rawStream(server, body('cuts'));
      assert.equal(s.status, 200, s.text);
      assertStreamShape(s.chunks);
      const acc = accumulate(s.chunks);
      assert.deepEqual(acc.finish, ['length']);
      assert.equal(acc.content, 'Let me check.');
      assert.equal(acc.tools.length, 1, 'the cut call is there, no more follow');
      assert.throws(() => JSON.parse(acc.tools[0].args), 'its arguments are cut JSON');
      const res = await post(server, body('cutn'));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.choices[0].finish_reason, 'length');
      assert.equal(res.json.choices[0].message.tool_calls.length, 1);
    });

    // ---- recorded Claude answers replayed by the mock ----

    it('fixture anthropic-stream-thinking.sse: reasoning_content deltas, then the content', async () => {
      const name = 'anthropic-stream-thinking.sse';
      const { want, s, acc } = await replayStream(server, name);
      assert.equal(acc.reasoning, want.reasoning);
      assert.equal(acc.content, want.text);
      assert.deepEqual(acc.finish, ['stop']);
      assert.equal(s.chunks[0].model, want.model);
      const lastReasoning = s.chunks.findLastIndex((c) => c.choices[0]?.delta.reasoning_content);
      const firstContent = s.chunks.findIndex((c) => c.choices[0]?.delta.content);
      assert.ok(lastReasoning >= 0 && firstContent > lastReasoning, 'all reasoning comes before the content');
    });

    it('fixture anthropic-sdkpy-max_tokens-partial-tool.sse: finish_reason length, the partial arguments as sent', async () => {
      const name = 'anthropic-sdkpy-max_tokens-partial-tool.sse';
      const { want, acc } = await replayStream(server, name);
      assert.equal(acc.content, want.text);
      assert.deepEqual(acc.finish, ['length']);
      assert.equal(acc.tools.length, 1);
      assert.equal(acc.tools[0].id, want.tools[0].id);
      assert.equal(acc.tools[0].name, 'make_file');
      assert.equal(acc.tools[0].args, want.tools[0].args);
    });

    it('fixture anthropic-sdkpy-refusal_response.sse: finish_reason content_filter', async () => {
      const { want, acc } = await replayStream(server, 'anthropic-sdkpy-refusal_response.sse');
      assert.deepEqual(acc.finish, ['content_filter']);
      assert.equal(acc.content, want.text);
    });

    for (const name of ['anthropic-recorded-stream-tool.sse', 'anthropic-sdkpy-tool_use_response.sse',
      'anthropic-stream-tool.sse', 'anthropic-sdkpy-basic_response.sse', 'anthropic-stream-text.sse',
      'anthropic-recorded-stream-text-after-tool_result.sse']) {
      it(`fixture ${name}: the text and tool calls exactly as Claude streamed them`, async () => {
        const { want, s, acc } = await replayStream(server, name, { includeUsage: true, directives: 'ms=0' });
        assert.equal(acc.content, want.text);
        assert.deepEqual(acc.tools, want.tools);
        assert.deepEqual(acc.finish, [FINISH[want.stop]]);
        assert.equal(s.chunks[0].model, want.model);
        for (const t of acc.tools) JSON.parse(t.args);
      });
    }

    for (const name of ['anthropic-nonstream-text.json', 'anthropic-nonstream-tool_use.json',
      'anthropic-nonstream-text-plus-tool_use.json', 'anthropic-nonstream-structured-output.json',
      'anthropic-nonstream-thinking-docs-fragment.json']) {
      it(`fixture ${name} (non-stream): content, reasoning, tool calls and finish_reason`, async () => {
        const want = expectFromJson(name);
        const res = await post(server, { model: 'gpt-4o', messages: [user(`[[mock fixture=${name}]]`)] });
        assert.equal(res.status, 200, res.text);
        const c = res.json;
        const msg = c.choices[0].message;
        if (want.tools.length) {
          assert.equal(msg.content, want.text === '' ? null : want.text);
          assert.deepEqual(msg.tool_calls.map((t) => ({ id: t.id, name: t.function.name, input: JSON.parse(t.function.arguments) })), want.tools);
        } else {
          assert.equal(msg.content, want.text);
          assert.ok(!('tool_calls' in msg));
        }
        if (want.reasoning) assert.equal(msg.reasoning_content, want.reasoning);
        else assert.ok(!('reasoning_content' in msg));
        assert.equal(c.choices[0].finish_reason, FINISH[want.stop]);
        if (want.model) assert.equal(c.model, want.model);
        assertUsage(c.usage);
      });
    }

    // ---- n ----

    it('n=2 gives two choices from two upstream calls, with the usage summed', async () => {
      const { completion, id } = await (async () => {
        const id = newId(server, 'n2');
        const completion = await sdk(server).chat.completions.create({
          model: 'gpt-4o', n: 2, messages: [user(`hi ${marker(id)}`)],
        });
        assertValid('response', completion);
        return { completion, id };
      })();
      const recs = await recorded(id);
      assert.equal(recs.length, 2, 'one upstream call per choice');
      for (const r of recs) assert.ok(!('n' in r.body));
      assert.deepEqual(completion.choices.map((c) => c.index), [0, 1]);
      for (const c of completion.choices) {
        assert.equal(c.message.content, 'Hello from the mock.');
        assert.equal(c.finish_reason, 'stop');
      }
      assert.equal(completion.usage.prompt_tokens, mockInputTokens(recs[0]) + mockInputTokens(recs[1]));
      assert.equal(completion.usage.completion_tokens, 8);
    });

    it('n=2 streamed: each choice has its own role and finish chunk, one summed usage chunk', async () => {
      const s = await rawStream(server, {
        model: 'gpt-4o', n: 2, stream_options: { include_usage: true }, messages: [user('hi')],
      });
      assert.equal(s.status, 200, s.text);
      assertStreamShape(s.chunks, { n: 2, includeUsage: true });
      for (const i of [0, 1]) assert.equal(accumulate(s.chunks, i).content, 'Hello from the mock.');
      assert.equal(s.chunks.at(-1).usage.completion_tokens, 8);
    });

    it('n above AXON_MAX_N (8) is 400', async () => {
      const id = newId(server, 'n9');
      const res = await post(server, { model: 'gpt-4o', n: 9, messages: [user(`hi ${marker(id)}`)] });
      assertEnvelope(res, 400, { type: 'invalid_request_error', code: 'integer_above_max_value' });
      assert.equal(res.json.error.param, 'n');
      assert.equal((await recorded(id)).length, 0);
    });

    // ---- refused requests ----

    it('logprobs: true is 400 unsupported_parameter (param logprobs), through the SDK as BadRequestError', async () => {
      await assert.rejects(
        sdk(server).chat.completions.create({ model: 'gpt-4o', logprobs: true, messages: [user('hi')] }),
        (err) => {
          assert.ok(err instanceof OpenAI.BadRequestError, String(err));
          assert.equal(err.status, 400);
          assert.equal(err.code, 'unsupported_parameter');
          assert.equal(err.param, 'logprobs');
          assertValid('error', { error: err.error });
          return true;
        });
      const res = await post(server, { model: 'gpt-4o', logprobs: false, messages: [user('hi')] });
      assert.equal(res.status, 200, 'logprobs: false is fine');
    });

    it('validation errors are 400 with OpenAI codes and param paths', async () => {
      const cases = [
        [{ temperature: 3 }, 'decimal_above_max_value', 'temperature'],
        [{ messages: [{ role: 'robot', content: 'hi' }] }, 'invalid_value', 'messages[0].role'],
        [{ messages: [] }, undefined, 'messages'],
        [{ messages: [user('hi'), { role: 'tool', content: 'x' }] }, undefined, 'messages[1].tool_call_id'],
        [{ top_p: -1 }, 'decimal_below_min_value', 'top_p'],
        [{ n: 0 }, 'integer_below_min_value', 'n'],
      ];
      for (const [patch, code, param] of cases) {
        const res = await post(server, { model: 'gpt-4o', messages: [user('hi')], ...patch });
        const e = assertEnvelope(res, 400, { type: 'invalid_request_error' });
        if (code) assert.equal(e.code, code, `code for ${JSON.stringify(patch)}`);
        assert.equal(e.param, param, `param for ${JSON.stringify(patch)}: ${res.text}`);
      }
    });
  });
}
