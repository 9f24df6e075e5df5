// OpenAI's deprecated function calling (`functions`, `function_call`,
// `role: "function"` messages) through each web server, with the official
// SDK, against the mock Claude (tests/mock/anthropic.mjs) and the mock
// OpenAI-compatible server (tests/mock/openai.mjs): the upstream gets tools,
// and the client gets OpenAI's legacy shape back (message.function_call,
// delta.function_call, finish_reason "function_call"), checked against the
// spec (CreateChatCompletionRequest.functions / function_call,
// ChatCompletionResponseMessage.function_call,
// ChatCompletionStreamResponseDelta.function_call).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  SERVER_NAMES, KEY, stackUrl, originOf, call, assertEnvelope, readSse, dataOf,
} from './lib.mjs';
import { assertValid } from './schema.mjs';
import { recorded, sdk } from './mock.mjs';

const CHAT = '/v1/chat/completions';
const JSON_HEADERS = { 'content-type': 'application/json' };
const CLAUDE = 'gpt-4o'; // an alias the test stacks route to the mock Claude
const VLLM = 'qwen3-coder'; // served by the mock OpenAI-compatible server

const WEATHER_FN = {
  name: 'get_weather',
  description: 'The weather in a city.',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
    required: ['city'],
  },
};
const TIME_FN = { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } } } };

let counter = 0;
const newId = (server, tag) => `legacy-${server}-${tag}-${++counter}-${process.pid}`;
const marker = (id, extra = '') => `[[mock id=${id}${extra ? ` ${extra}` : ''}]]`;
const user = (content) => ({ role: 'user', content });

// The requests an upstream mock recorded for a directive id.
async function vrecorded(id) {
  const url = process.env.AXON_TEST_VLLM_MOCK_URL;
  assert.ok(url, 'AXON_TEST_VLLM_MOCK_URL is not set: run tests/integration/run.sh');
  const res = await fetch(`${url}/_mock/requests?id=${encodeURIComponent(id)}`, { signal: AbortSignal.timeout(10000) });
  assert.equal(res.status, 200);
  return res.json();
}

const UPSTREAMS = {
  claude: { model: CLAUDE, recorded },
  vllm: { model: VLLM, recorded: vrecorded },
};

async function onlyBody(up, id) {
  const recs = await UPSTREAMS[up].recorded(id);
  assert.equal(recs.length, 1, `the ${up} mock got exactly one request for ${id}: ${JSON.stringify(recs).slice(0, 500)}`);
  return recs[0].body;
}

// A non-stream completion through the SDK; build(marker) makes the body.
async function viaSdk(server, up, tag, build, extra = '') {
  const id = newId(server, tag);
  const completion = await sdk(server).chat.completions.create({ model: UPSTREAMS[up].model, ...build(marker(id, extra)) });
  assertValid('response', completion, `${tag} through ${server}`);
  return { id, completion, body: await onlyBody(up, id) };
}

// A streamed completion through the SDK: every chunk checked against the
// spec, and what the deltas add up to.
async function streamSdk(server, up, tag, build) {
  const id = newId(server, tag);
  const stream = await sdk(server).chat.completions.create({ model: UPSTREAMS[up].model, stream: true, ...build(marker(id)) });
  const chunks = [];
  for await (const c of stream) {
    assertValid('chunk', c, `${tag} chunk ${chunks.length} through ${server}`);
    chunks.push(c);
  }
  const out = { content: '', fnDeltas: [], name: undefined, args: '', finish: [], toolCallDeltas: 0 };
  for (const c of chunks) {
    for (const ch of c.choices) {
      const d = ch.delta;
      if (typeof d.content === 'string') out.content += d.content;
      if (d.tool_calls) out.toolCallDeltas++;
      if (d.function_call) {
        out.fnDeltas.push(d.function_call);
        if (d.function_call.name) out.name = d.function_call.name;
        if (typeof d.function_call.arguments === 'string') out.args += d.function_call.arguments;
      }
      if (ch.finish_reason !== null) out.finish.push(ch.finish_reason);
    }
  }
  return { id, chunks, out, body: await onlyBody(up, id) };
}

// The legacy answer: a function_call with JSON arguments, no tool_calls.
function assertFunctionCall(completion, name) {
  const ch = completion.choices[0];
  assert.equal(ch.finish_reason, 'function_call');
  assert.equal(ch.message.tool_calls, undefined, 'no tool_calls in the legacy shape');
  assert.deepEqual(Object.keys(ch.message.function_call).sort(), ['arguments', 'name'], 'name and arguments only: no id');
  assert.equal(ch.message.function_call.name, name);
  const args = JSON.parse(ch.message.function_call.arguments);
  assert.equal(typeof args, 'object');
  return args;
}

function assertStreamedCall(out, name) {
  assert.equal(out.toolCallDeltas, 0, 'no tool_calls deltas in the legacy shape');
  assert.ok(out.fnDeltas.length >= 2, `a name delta, then argument deltas: ${JSON.stringify(out.fnDeltas)}`);
  assert.equal(out.fnDeltas[0].name, name, 'the first function_call delta names the function');
  assert.ok(out.fnDeltas.slice(1).every((d) => d.name === undefined), 'the name comes once');
  assert.deepEqual(out.finish, ['function_call']);
  return JSON.parse(out.args);
}

async function post(server, body) {
  const res = await call(originOf(stackUrl(server)), CHAT, {
    method: 'POST', key: KEY, headers: JSON_HEADERS, body: JSON.stringify(body),
  });
  assertValid(res.status === 200 ? 'response' : 'error', res.json, `answer to ${JSON.stringify(body).slice(0, 200)}`);
  return res;
}

for (const server of SERVER_NAMES) {
  describe(`legacy functions through ${server}`, () => {
    // ---- Claude ----

    it('Claude: functions become tools (one call at a time) and the answer is message.function_call', async () => {
      const { completion, body } = await viaSdk(server, 'claude', 'fn', (m) => ({
        messages: [user(`weather in Paris? ${m}`)], functions: [WEATHER_FN, TIME_FN],
      }), 'calls=2');
      assert.equal(body.functions, undefined);
      assert.equal(body.function_call, undefined);
      assert.deepEqual(body.tools.map((t) => t.name), ['get_weather', 'get_time']);
      assert.deepEqual(body.tools[0].input_schema, WEATHER_FN.parameters);
      assert.equal(body.tools[0].description, WEATHER_FN.description);
      // The legacy answer carries one call: parallel calls are turned off.
      assert.deepEqual(body.tool_choice, { type: 'auto', disable_parallel_tool_use: true });
      const args = assertFunctionCall(completion, 'get_weather');
      assert.equal(args.city, 'Paris');
    });

    it('Claude: function_call {name} and "none" become tool_choice', async () => {
      const named = await viaSdk(server, 'claude', 'fnnamed', (m) => ({
        messages: [user(`time? ${m}`)], functions: [WEATHER_FN, TIME_FN], function_call: { name: 'get_time' },
      }));
      assert.deepEqual(named.body.tool_choice, { type: 'tool', name: 'get_time', disable_parallel_tool_use: true });
      assertFunctionCall(named.completion, 'get_time');

      const none = await viaSdk(server, 'claude', 'fnnone', (m) => ({
        messages: [user(`just talk ${m}`)], functions: [WEATHER_FN], function_call: 'none',
      }));
      assert.deepEqual(none.body.tool_choice, { type: 'none' });
      assert.equal(none.completion.choices[0].finish_reason, 'stop');
      assert.equal(none.completion.choices[0].message.function_call, undefined);
      assert.equal(none.completion.choices[0].message.content, 'Hello from the mock.');
    });

    it('Claude: a stream gives delta.function_call (name first, then the arguments) and finish_reason function_call', async () => {
      const { out, body } = await streamSdk(server, 'claude', 'fnstream', (m) => ({
        messages: [user(`weather? ${m}`)], functions: [WEATHER_FN],
      }));
      assert.deepEqual(body.tools.map((t) => t.name), ['get_weather']);
      const args = assertStreamedCall(out, 'get_weather');
      assert.equal(args.city, 'Paris');
    });

    it('Claude: an assistant function_call and its function message reach Claude as a paired tool_use and tool_result', async () => {
      const id = newId(server, 'fnhist');
      const history = [
        user('weather in Paris?'),
        { role: 'assistant', content: null, function_call: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { role: 'function', name: 'get_weather', content: 'sunny, 21 C' },
        user(`thanks ${marker(id)}`),
      ];
      // The last user turn asks for no call, so the answer is text.
      const completion = await sdk(server).chat.completions.create({
        model: CLAUDE, messages: history.slice(0, 3), functions: [WEATHER_FN],
      }).catch((e) => { throw new Error(`the resent history was refused: ${e.message}`); });
      assertValid('response', completion, 'history answer');
      // The mock answers a tool_result turn with "The tool said: ...".
      assert.equal(completion.choices[0].message.content, 'The tool said: sunny, 21 C');
      assert.equal(completion.choices[0].finish_reason, 'stop');

      // The upstream body, by position-made ids (a resent history maps the same).
      const again = await sdk(server).chat.completions.create({ model: CLAUDE, messages: history, functions: [WEATHER_FN] });
      assertValid('response', again, 'history answer');
      const body = await onlyBody('claude', id);
      assert.deepEqual(body.messages.slice(0, 3), [
        { role: 'user', content: [{ type: 'text', text: 'weather in Paris?' }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_fn1', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_fn1', content: 'sunny, 21 C' }, { type: 'text', text: `thanks ${marker(id)}` }] },
      ]);
    });

    it('Claude: a stored conversation continues with a function message', async () => {
      const c1 = newId(server, 'fnconv1');
      const first = await sdk(server).chat.completions.create({
        model: CLAUDE, conversation_id: 'new', messages: [user(`weather? ${marker(c1)}`)], functions: [WEATHER_FN],
      });
      assertValid('response', first, 'first turn');
      assertFunctionCall(first, 'get_weather');
      const cid = first.conversation_id;
      assert.ok(cid, 'the answer names its conversation');

      const c2 = newId(server, 'fnconv2');
      const second = await sdk(server).chat.completions.create({
        model: CLAUDE, conversation_id: cid, functions: [WEATHER_FN],
        messages: [{ role: 'function', name: 'get_weather', content: `rain ${marker(c2)}` }],
      });
      assertValid('response', second, 'second turn');
      assert.equal(second.choices[0].message.content, `The tool said: rain ${marker(c2)}`);
      const body = await onlyBody('claude', c2);
      const [, asst, result] = body.messages;
      const use = asst.content.find((b) => b.type === 'tool_use');
      assert.ok(use, `the stored answer's call is replayed: ${JSON.stringify(asst)}`);
      assert.match(use.id, /^toolu_/, 'with the id Claude gave it');
      assert.deepEqual(result.content[0], { type: 'tool_result', tool_use_id: use.id, content: `rain ${marker(c2)}` });
    });

    it('functions with tools, tool_choice with functions, and function_call alone are refused as OpenAI does', async () => {
      const both = await post(server, {
        model: CLAUDE, messages: [user('x')], functions: [WEATHER_FN], tools: [{ type: 'function', function: TIME_FN }],
      });
      assertEnvelope(both, 400, {
        type: 'invalid_request_error', code: null,
        message: "Invalid value for 'functions': 'functions' and 'tools' cannot both be specified. "
          + "'functions' is deprecated: send every function as a tool, and use 'tool_choice' instead of 'function_call'.",
      });
      assert.equal(both.json.error.param, 'functions');
      const choice = await post(server, { model: CLAUDE, messages: [user('x')], functions: [WEATHER_FN], tool_choice: 'auto' });
      assertEnvelope(choice, 400, {
        code: null, message: "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
      });
      assert.equal(choice.json.error.param, 'tool_choice');
      const alone = await post(server, { model: VLLM, messages: [user('x')], function_call: 'auto' });
      assertEnvelope(alone, 400, {
        code: null, message: "Invalid value for 'function_call': 'function_call' is only allowed when 'functions' are specified.",
      });
      assert.equal(alone.json.error.param, 'function_call');
      // The SDK raises it as a BadRequestError.
      await assert.rejects(sdk(server).chat.completions.create({ model: CLAUDE, messages: [user('x')], function_call: 'auto' }),
        (e) => e.status === 400 && /only allowed when 'functions'/.test(e.message));
    });

    // ---- the OpenAI-compatible upstream ----

    it('vLLM: functions become tools with parallel_tool_calls false, and the answer is message.function_call', async () => {
      const { completion, body } = await viaSdk(server, 'vllm', 'vfn', (m) => ({
        messages: [user(`time? ${m}`)], functions: [WEATHER_FN, TIME_FN], function_call: { name: 'get_time' },
      }), 'calls=2');
      assert.equal(body.functions, undefined);
      assert.equal(body.function_call, undefined);
      assert.deepEqual(body.tools, [{ type: 'function', function: WEATHER_FN }, { type: 'function', function: TIME_FN }]);
      assert.deepEqual(body.tool_choice, { type: 'function', function: { name: 'get_time' } });
      assert.equal(body.parallel_tool_calls, false);
      assertFunctionCall(completion, 'get_time');
    });

    it('vLLM: a stream gives delta.function_call and finish_reason function_call', async () => {
      const { out } = await streamSdk(server, 'vllm', 'vfnstream', (m) => ({
        messages: [user(`weather? ${m}`)], functions: [WEATHER_FN],
      }));
      const args = assertStreamedCall(out, 'get_weather');
      assert.equal(typeof args.city, 'string');
    });

    it('vLLM: the history reaches the server as tool_calls and a tool message with the same id', async () => {
      const { completion, body } = await viaSdk(server, 'vllm', 'vfnhist', (m) => ({
        functions: [WEATHER_FN],
        messages: [
          user(`weather? ${m}`),
          { role: 'assistant', content: null, function_call: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
          { role: 'function', name: 'get_weather', content: 'snow' },
        ],
      }));
      assert.deepEqual(body.messages.slice(1), [
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_fn1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
        { role: 'tool', tool_call_id: 'call_fn1', content: 'snow' },
      ]);
      // The mock answers a final tool message with "The tool said: ...".
      assert.equal(completion.choices[0].message.content, 'The tool said: snow');
      assert.equal(completion.choices[0].finish_reason, 'stop');
    });
  });
}
