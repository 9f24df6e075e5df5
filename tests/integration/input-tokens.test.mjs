// POST /v1/responses/input_tokens through each web server: a Responses body
// (the official SDK's responses.inputTokens.count, and raw fetch for what the
// SDK would not send) counted by Claude's POST /v1/messages/count_tokens
// (the mock, tests/mock/anthropic.mjs) for a Claude model, estimated for an
// OpenAI-compatible one (docs/responses.md, "Counting input tokens"). Every
// answer is checked against the spec (TokenCountsResource, ErrorResponse).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  SERVER_NAMES, KEY, stackUrl, originOf, call, assertEnvelope,
} from './lib.mjs';
import { recorded, sdk } from './mock.mjs';

// The mock vLLM's recorded requests (tests/mock/openai.mjs).
async function vrecorded(id) {
  const url = process.env.AXON_TEST_VLLM_MOCK_URL;
  assert.ok(url, 'AXON_TEST_VLLM_MOCK_URL is not set: run tests/integration/run.sh');
  const res = await fetch(`${url}/_mock/requests?id=${encodeURIComponent(id)}`, { signal: AbortSignal.timeout(10000) });
  assert.equal(res.status, 200);
  return res.json();
}
import { assertValid } from './schema.mjs';

const JSON_HEADERS = { 'content-type': 'application/json' };
const CLAUDE = 'claude-sonnet-4-6';
const VLLM = 'qwen3-coder'; // the mock vLLM's generating model
const COUNT_PATH = '/v1/messages/count_tokens';

let counter = 0;
const newId = (server, tag) => `itok-${server}-${tag}-${++counter}-${process.pid}`;
const marker = (id, extra = '') => `[[mock id=${id}${extra ? ` ${extra}` : ''}]]`;

// The mock's count (tests/mock/anthropic.mjs countOf): ceil(bytes of the
// body as JSON.stringify prints it / 4).
const mockCount = (b) => Math.ceil(Buffer.byteLength(JSON.stringify(b)) / 4);

async function post(server, body, { key = KEY } = {}) {
  return call(originOf(stackUrl(server)), '/v1/responses/input_tokens', {
    method: 'POST', key, headers: JSON_HEADERS, body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function assertError(res, status, fields = {}) {
  assertValid('error', res.json, `error ${status}`);
  return assertEnvelope(res, status, fields);
}

async function onlyRecorded(id) {
  const recs = await recorded(id);
  assert.equal(recs.length, 1, `the mock got exactly one request for ${id}: ${JSON.stringify(recs).slice(0, 500)}`);
  return recs[0];
}

const TOOL = {
  type: 'function', name: 'get_weather', description: 'The weather in a city.',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: false,
};

for (const server of SERVER_NAMES) {
  describe(`POST /v1/responses/input_tokens via ${server}`, () => {
    it('Claude: the SDK gets the count Claude made of the translated body', async () => {
      const id = newId(server, 'claude');
      const { data, response } = await sdk(server).responses.inputTokens.count({
        model: CLAUDE,
        instructions: 'Be brief.',
        input: [{ role: 'user', content: `Tell me a joke. ${marker(id)}` }],
        tools: [TOOL],
        tool_choice: 'auto',
      }).withResponse();
      assertValid('inputTokens', data, 'the count');
      assert.equal(data.object, 'response.input_tokens');
      assert.equal(response.headers.get('x-axon-token-count'), 'upstream');
      const rec = await onlyRecorded(id);
      assert.equal(rec.method, 'POST');
      assert.equal(rec.path, COUNT_PATH);
      assert.equal(rec.headers['anthropic-version'] !== undefined, true, 'Claude headers');
      const b = rec.body;
      assert.equal(data.input_tokens, mockCount(b), 'the number is the upstream\'s');
      // The Messages body, cut to what count_tokens takes.
      for (const k of ['max_tokens', 'stream', 'temperature', 'top_p', 'top_k', 'stop_sequences', 'metadata',
        'service_tier']) {
        assert.ok(!(k in b), `${k} is not sent to count_tokens`);
      }
      assert.equal(typeof b.model, 'string');
      assert.ok(JSON.stringify(b.system).includes('Be brief.'), `system: ${JSON.stringify(b.system)}`);
      assert.equal(b.messages.length, 1);
      assert.equal(b.messages[0].role, 'user');
      assert.ok(JSON.stringify(b.messages[0].content).includes('Tell me a joke.'));
      assert.equal(b.tools.length, 1);
      assert.equal(b.tools[0].name, 'get_weather');
      assert.deepEqual(b.tools[0].input_schema.required, ['city']);
      assert.deepEqual(b.tool_choice, { type: 'auto' });
    });

    it('Claude: a longer input counts more (the count follows the input)', async () => {
      const short = newId(server, 'short');
      const long = newId(server, 'long');
      const a = await post(server, { model: CLAUDE, input: `Hi ${marker(short)}` });
      const b = await post(server, { model: CLAUDE, input: `${'many words '.repeat(200)}${marker(long)}` });
      assert.equal(a.status, 200, a.text);
      assert.equal(b.status, 200, b.text);
      assert.ok(b.json.input_tokens > a.json.input_tokens + 400, `${a.json.input_tokens} < ${b.json.input_tokens}`);
      assert.equal(b.json.input_tokens, mockCount((await onlyRecorded(long)).body));
    });

    it('Claude: fields count_tokens does not take (max_output_tokens, temperature, store) are not sent on', async () => {
      const id = newId(server, 'extra');
      const res = await post(server, {
        model: CLAUDE, input: `Hello ${marker(id)}`, max_output_tokens: 100, temperature: 0.5, store: false,
        metadata: { a: 'b' },
      });
      assert.equal(res.status, 200, res.text);
      assertValid('inputTokens', res.json);
      const b = (await onlyRecorded(id)).body;
      assert.deepEqual(Object.keys(b).filter((k) => !['model', 'messages', 'system', 'tools', 'tool_choice',
        'thinking', 'output_config', 'cache_control'].includes(k)), []);
    });

    it('Claude: an upstream error is mapped into OpenAI\'s envelope', async () => {
      const id = newId(server, 'err');
      const res = await post(server, { model: CLAUDE, input: `Hello ${marker(id, 'fault=400')}` });
      assertError(res, 400, { type: 'invalid_request_error', message: 'mock: injected invalid_request_error' });
      // Claude refusing Axon's own key is the operator's problem, said as chat says it.
      const auth = newId(server, 'auth');
      const r1 = await post(server, { model: CLAUDE, input: `Hello ${marker(auth, 'fault=403')}` });
      assertError(r1, 502, { type: 'server_error', code: 'upstream_auth_failed' });
      const rl = newId(server, 'rl');
      const r2 = await post(server, { model: CLAUDE, input: `Hello ${marker(rl, 'fault=429')}` });
      assertError(r2, 429);
      assert.ok(r2.headers.get('retry-after'), 'retry-after passed on');
    });

    it('OpenAI-compatible (vLLM): counted by the upstream\'s /tokenize', async () => {
      const id = newId(server, 'vllm');
      const input = `Count me, please. ${marker(id)}`;
      const { data, response } = await sdk(server).responses.inputTokens.count({
        model: VLLM, instructions: 'Be brief.', input, tools: [TOOL],
      }).withResponse();
      assertValid('inputTokens', data, 'the count');
      assert.equal(response.headers.get('x-axon-token-count'), 'upstream');
      const recs = await vrecorded(id);
      assert.equal(recs.length, 1, 'one /tokenize call');
      const rec = recs[0];
      assert.equal(rec.path, '/tokenize');
      assert.deepEqual(Object.keys(rec.body).sort(), ['messages', 'model', 'tools']);
      assert.deepEqual(rec.body.messages.map((m) => m.role), ['system', 'user']);
      assert.equal(rec.body.tools[0].function.name, 'get_weather');
      // the mock's count (tests/mock/openai.mjs tokenizeCount)
      const b = rec.body;
      const expected = Math.ceil(Buffer.byteLength(JSON.stringify(b.messages)) / 3) +
        Math.ceil(Buffer.byteLength(JSON.stringify(b.tools)) / 3) + 1;
      assert.equal(data.input_tokens, expected);
    });

    it('OpenAI-compatible without /tokenize: an estimate, said in the header', async () => {
      const id = newId(server, 'est');
      const input = `Estimate me, please. ${marker(id, 'tokenize=off')}`;
      const res = await post(server, { model: VLLM, instructions: 'Be brief.', input });
      assert.equal(res.status, 200, res.text);
      assertValid('inputTokens', res.json);
      assert.equal(res.headers.get('x-axon-token-count'), 'estimate');
      assert.equal((await vrecorded(id)).length, 1, 'the upstream was asked first');
      // bytes of the messages the upstream would get, / 4, rounded up
      const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: input }];
      assert.equal(res.json.input_tokens, Math.ceil(Buffer.byteLength(JSON.stringify(messages)) / 4));
    });

    it('OpenAI-compatible: /tokenize failing on the upstream\'s side is an error, mapped', async () => {
      const id = newId(server, 'vfail');
      const res = await post(server, { model: VLLM, input: `Hi ${marker(id, 'fault=401')}` });
      assertError(res, 502, { code: 'upstream_auth_failed' });
    });

    it('a body that is not a Responses body: 400 in OpenAI\'s words', async () => {
      const res = await post(server, { model: CLAUDE, input: 5 });
      assertError(res, 400, { type: 'invalid_request_error' });
      assert.equal(res.json.error.param, 'input');
      const bad = await post(server, '{"model":');
      assertError(bad, 400, { type: 'invalid_request_error' });
    });

    it('previous_response_id and conversation are refused with a 400 naming them', async () => {
      const res = await post(server, { model: CLAUDE, input: 'Hi', previous_response_id: 'resp_123' });
      assertError(res, 400, { type: 'invalid_request_error' });
      assert.equal(res.json.error.param, 'previous_response_id');
      const c = await post(server, { model: CLAUDE, input: 'Hi', conversation: 'conv_123' });
      assertError(c, 400, { type: 'invalid_request_error' });
      assert.equal(c.json.error.param, 'conversation');
    });

    it('an item_reference is counted as the stored item it names (one store round trip)', async () => {
      const ai = sdk(server);
      const text = `Stored words to count ${newId(server, 'stored')}`;
      const conv = await ai.conversations.create({ items: [{ type: 'message', role: 'user', content: text }] });
      const items = [];
      for await (const it of ai.conversations.items.list(conv.id)) items.push(it);
      assert.equal(items.length, 1);
      const id = newId(server, 'ref');
      const res = await post(server, {
        model: CLAUDE,
        input: [{ type: 'item_reference', id: items[0].id }, { role: 'user', content: `And this. ${marker(id)}` }],
      });
      assert.equal(res.status, 200, res.text);
      assertValid('inputTokens', res.json);
      const b = (await onlyRecorded(id)).body;
      assert.ok(JSON.stringify(b.messages).includes(text), `the stored item was counted: ${JSON.stringify(b.messages)}`);
      assert.equal(res.json.input_tokens, mockCount(b));
      // one that is not stored (or is another key's): OpenAI's 404
      const gone = await post(server, { model: CLAUDE, input: [{ type: 'item_reference', id: 'msg_0123' }] });
      assertError(gone, 404, { type: 'invalid_request_error' });
    });

    it('no model: counted for the operator\'s default model (the spec makes model optional)', async () => {
      const res = await post(server, { input: 'Hi there' });
      assert.equal(res.status, 200, res.text);
      assertValid('inputTokens', res.json);
      assert.ok(res.json.input_tokens > 0);
      assert.match(res.headers.get('x-axon-token-count') ?? '', /^(upstream|estimate)$/);
    });

    it('an unknown model: 404 model_not_found', async () => {
      const res = await post(server, { model: 'no-such-model-xyz', input: 'Hi' });
      assertError(res, 404, { type: 'invalid_request_error', code: 'model_not_found' });
    });

    it('no key: 401', async () => {
      const res = await post(server, { model: CLAUDE, input: 'Hi' }, { key: '' });
      assertError(res, 401);
    });
  });
}
