// Signed thinking for a client that resends the whole history (the Agents
// SDK, LangChain, the AI SDK), through each web server with the official
// openai SDK, streaming and not, without conversation_id:
//   turn 1 thinks and calls a tool; the client keeps only what OpenAI's
//   format holds (no thinking blocks); turn 2 resends [user, assistant
//   {tool_calls}, tool] and must not earn Claude's 400 ("Expected `thinking`
//   or `redacted_thinking`, but found `tool_use`", which the mock enforces,
//   tests/mock/anthropic.mjs, after Anthropic's extended-thinking docs):
//   Axon puts the original signed block back, byte for byte (the mock
//   verifies the signature over the text: a changed or foreign block is
//   "Invalid signature in thinking block"). Another key resending the same
//   ids gets no blocks: the request goes with thinking off.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { SERVER_NAMES, KEY, KEY2, stackUrl, originOf, call } from './lib.mjs';
import { assertValid } from './schema.mjs';
import { recorded } from './mock.mjs';

let counter = 0;
const newId = (server, tag) => `think-${server}-${tag}-${++counter}-${process.pid}`;
const client = (server, key) => new OpenAI({ baseURL: stackUrl(server), apiKey: key, maxRetries: 0, timeout: 30000 });

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city.',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
// The mock's thinking text (THINK_TEXT in tests/mock/anthropic.mjs).
const THINK_TEXT = 'Let me think about this.';

async function onlyRecorded(id) {
  const recs = await recorded(id);
  assert.equal(recs.length, 1, `the mock got exactly one request for ${id}: ${JSON.stringify(recs).slice(0, 500)}`);
  return recs[0].body;
}

// One completion through the SDK, streamed or not, as an assistant message
// the way a stateless client keeps it: role, content, tool_calls; nothing
// else (the SDKs drop reasoning_content and any unknown field).
async function complete(sdk, body, stream, what) {
  if (!stream) {
    const { data: c, response } = await sdk.chat.completions.create(body).withResponse();
    assertValid('response', c, what);
    const m = c.choices[0].message;
    return { finish: c.choices[0].finish_reason, content: m.content, reasoning: m.reasoning_content,
      ignored: response.headers.get('x-axon-ignored-params'),
      message: { role: 'assistant', content: m.content, tool_calls: m.tool_calls } };
  }
  const { data: s, response } = await sdk.chat.completions.create({ ...body, stream: true }).withResponse();
  let content = '', reasoning = '', finish = null;
  const calls = [];
  for await (const chunk of s) {
    assertValid('chunk', chunk, what);
    const ch = chunk.choices[0];
    if (!ch) continue;
    if (ch.delta.content) content += ch.delta.content;
    if (ch.delta.reasoning_content) reasoning += ch.delta.reasoning_content;
    for (const tc of ch.delta.tool_calls ?? []) {
      const t = (calls[tc.index] ??= { id: undefined, type: 'function', function: { name: undefined, arguments: '' } });
      if (tc.id) t.id = tc.id;
      if (tc.function?.name) t.function.name = tc.function.name;
      if (tc.function?.arguments) t.function.arguments += tc.function.arguments;
    }
    if (ch.finish_reason) finish = ch.finish_reason;
  }
  return { finish, content, reasoning, ignored: response.headers.get('x-axon-ignored-params'),
    message: { role: 'assistant', content: content || null, tool_calls: calls.length ? calls : undefined } };
}

for (const server of SERVER_NAMES) {
  describe(`signed thinking survives a stateless client through ${server}`, () => {
    for (const stream of [false, true]) {
      const mode = stream ? 'stream' : 'non-stream';

      it(`${mode}: turn 2 resent without thinking gets the original signed block back; another key gets thinking off`, async () => {
        assert.ok(KEY2, 'AXON_TEST_KEY2 is not set: run tests/integration/run.sh');
        const id1 = newId(server, 'turn1');
        const question = { role: 'user', content: `Weather in Paris? [[mock id=${id1}]]` };
        const base = { model: 'gpt-4o', tools: [WEATHER_TOOL], reasoning_effort: 'low' };

        // Turn 1: thinking, then a tool call.
        const t1 = await complete(client(server, KEY), { ...base, messages: [question] }, stream, `turn 1 (${mode})`);
        assert.equal(t1.finish, 'tool_calls');
        assert.equal(t1.reasoning, THINK_TEXT);
        const calls = t1.message.tool_calls;
        assert.equal(calls.length, 1);
        assert.match(calls[0].id, /^call_[A-Za-z0-9_-]+$/);
        assert.ok(!('thinking_blocks' in t1.message), 'the client keeps no thinking');

        // Turn 2: the history resent as the client kept it.
        const history = (id) => [
          question,
          t1.message,
          { role: 'tool', tool_call_id: calls[0].id, content: `Sunny. [[mock id=${id}]]` },
        ];
        const id2 = newId(server, 'turn2');
        const t2 = await complete(client(server, KEY), { ...base, messages: history(id2) }, stream, `turn 2 (${mode})`);
        assert.equal(t2.finish, 'stop');
        assert.equal(t2.ignored, null, 'nothing left out');
        assert.match(t2.content, /^The tool said: Sunny\./);
        const body2 = await onlyRecorded(id2);
        assert.ok(body2.thinking && body2.thinking.type !== 'disabled', 'turn 2 still thinks');
        const assistant = body2.messages[1];
        assert.equal(assistant.role, 'assistant');
        // Byte for byte what Claude gave in turn 1, first in the turn (key
        // order included: JSON.parse keeps the wire's order); the mock took
        // the signature as one it issued over this text, or turn 2 was a 400.
        const sig = assistant.content[0].signature;
        assert.match(sig ?? '', /^[A-Za-z0-9+/]{60,}={0,2}$/);
        assert.equal(JSON.stringify(assistant.content[0]),
          `{"type":"thinking","thinking":"${THINK_TEXT}","signature":"${sig}"}`);
        assert.equal(assistant.content[1].type, 'tool_use');
        assert.equal(assistant.content[1].id, calls[0].id.replace(/^call_/, 'toolu_'));

        // Another key resending the same ids: the blocks are not its own.
        const id3 = newId(server, 'otherkey');
        const t3 = await complete(client(server, KEY2), { ...base, messages: history(id3) }, stream, `other key (${mode})`);
        assert.equal(t3.finish, 'stop');
        assert.equal(t3.ignored, 'reasoning_effort', 'the client is told thinking was left out');
        const body3 = await onlyRecorded(id3);
        assert.ok(!body3.thinking || body3.thinking.type === 'disabled', `thinking off: ${JSON.stringify(body3.thinking)}`);
        assert.ok(!('reasoning_effort' in body3));
        assert.equal(body3.messages[1].content[0].type, 'tool_use', 'no thinking block of another key');
        assert.ok(!JSON.stringify(body3).includes(sig), 'the signature never reaches another key');
      });
    }

    it('with conversation_id: the stored turn replays its block, and a resent tool turn on top finds its own', async () => {
      const id1 = newId(server, 'conv1');
      const base = { model: 'gpt-4o', tools: [WEATHER_TOOL], reasoning_effort: 'low' };
      const sdk = client(server, KEY);
      const first = await sdk.chat.completions.create({
        ...base, conversation_id: 'new',
        messages: [{ role: 'user', content: `Weather in Nice? [[mock id=${id1}]]` }],
      });
      const cid = first.conversation_id;
      assert.match(cid, /^conv-[0-9a-f]{32}$/);
      const call1 = first.choices[0].message.tool_calls[0];
      // Continued by the stored history: only the tool result is new.
      const id2 = newId(server, 'conv2');
      const second = await sdk.chat.completions.create({
        ...base, conversation_id: cid,
        messages: [{ role: 'tool', tool_call_id: call1.id, content: `Mild. [[mock id=${id2}]]` }],
      });
      assert.equal(second.choices[0].finish_reason, 'stop');
      const body2 = await onlyRecorded(id2);
      const sig = body2.messages[1].content[0].signature;
      assert.equal(JSON.stringify(body2.messages[1].content[0]),
        `{"type":"thinking","thinking":"${THINK_TEXT}","signature":"${sig}"}`);

      // A new conversation whose first turn is a resent tool loop.
      const id3 = newId(server, 'conv3');
      const third = await sdk.chat.completions.create({
        ...base, conversation_id: 'new',
        messages: [
          { role: 'user', content: 'Weather in Nice?' },
          { role: 'assistant', content: null, tool_calls: [call1] },
          { role: 'tool', tool_call_id: call1.id, content: `Mild. [[mock id=${id3}]]` },
        ],
      });
      assert.equal(third.choices[0].finish_reason, 'stop');
      const body3 = await onlyRecorded(id3);
      assert.ok(body3.thinking);
      assert.equal(body3.messages[1].content[0].signature, sig);
    });

    it('ids that were never answered: thinking off instead of a 400, named as the client asked it', async () => {
      for (const [ask, named] of [[{ reasoning_effort: 'low' }, 'reasoning_effort'], [{ thinking: true }, 'thinking']]) {
        const id = newId(server, 'unknown');
        const callId = `call_never${counter}x${process.pid}`;
        const t = await complete(client(server, KEY), {
          model: 'gpt-4o', tools: [WEATHER_TOOL], ...ask,
          messages: [
            { role: 'user', content: 'Weather in Rome?' },
            { role: 'assistant', content: null, tool_calls: [{ id: callId, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }] },
            { role: 'tool', tool_call_id: callId, content: `Rainy. [[mock id=${id}]]` },
          ],
        }, false, `unknown ids, ${named}`);
        assert.equal(t.finish, 'stop');
        assert.equal(t.ignored, named);
        const body = await onlyRecorded(id);
        assert.ok(!body.thinking || body.thinking.type === 'disabled', named);
      }
    });

    it('legacy function calling resent with thinking: thinking off instead of a 400', async () => {
      // A legacy answer shows no call id, so the resent function_call gets one
      // made from its position (oai_legacy.h) that no answer was kept under.
      const id = newId(server, 'legacy');
      const t = await complete(client(server, KEY), {
        model: 'gpt-4o', reasoning_effort: 'low', functions: [WEATHER_TOOL.function],
        messages: [
          { role: 'user', content: 'Weather in Bern?' },
          { role: 'assistant', content: null, function_call: { name: 'get_weather', arguments: '{"city":"Bern"}' } },
          { role: 'function', name: 'get_weather', content: `Foggy. [[mock id=${id}]]` },
        ],
      }, false, 'legacy functions');
      assert.equal(t.finish, 'stop');
      assert.equal(t.ignored, 'reasoning_effort');
      const body = await onlyRecorded(id);
      assert.ok(!body.thinking || body.thinking.type === 'disabled');
    });

    it('a client that sends its thinking_blocks back is left alone', async () => {
      const id = newId(server, 'own');
      // A signature the mock accepts as it is: one found in its fixtures
      // (tests/data/fixtures/anthropic-sdkpy-thinking-then-refusal.sse).
      const own = { type: 'thinking', thinking: 'Mine.', signature: 'c3ludGhldGljLXNpZ25hdHVyZS1maXh0dXJlLWEtbm90LWEtcmVhbC1zaWduYXR1cmU=' };
      const t = await complete(client(server, KEY), {
        model: 'gpt-4o', tools: [WEATHER_TOOL], reasoning_effort: 'low',
        messages: [
          { role: 'user', content: 'Weather in Oslo?' },
          { role: 'assistant', content: null, thinking_blocks: [own], tool_calls: [{ id: 'call_own1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
          { role: 'tool', tool_call_id: 'call_own1', content: `Cold. [[mock id=${id}]]` },
        ],
      }, false, 'own blocks');
      assert.equal(t.finish, 'stop');
      const body = await onlyRecorded(id);
      assert.ok(body.thinking);
      assert.deepEqual(body.messages[1].content[0], own);
    });
    it('the lookup costs one Valkey round trip, and only when the request thinks', async () => {
      // x-axon-valkey-round-trips (see overhead.test.mjs): a request without
      // thinking costs what any new request costs; one that thinks and
      // resends a tool turn without its blocks costs one MGET more.
      const trips = async (extra) => {
        const seen = [];
        for (let i = 0; i < 3; i++) {
          const callId = `call_rt${i}x${++counter}x${process.pid}`;
          const res = await call(originOf(stackUrl(server)), '/v1/chat/completions', {
            method: 'POST', key: KEY, headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              model: 'gpt-4o', tools: [WEATHER_TOOL], ...extra,
              messages: [
                { role: 'user', content: 'Weather in Lima?' },
                { role: 'assistant', content: null, tool_calls: [{ id: callId, type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
                { role: 'tool', tool_call_id: callId, content: 'Warm.' },
              ],
            }),
          });
          assert.equal(res.status, 200, res.text);
          seen.push(Number(res.headers.get('x-axon-valkey-round-trips')));
        }
        return [...seen].sort((x, y) => x - y)[1];
      };
      const plain = await trips({});
      const thinking = await trips({ reasoning_effort: 'low' });
      assert.equal(thinking, plain + 1, `thinking ${thinking}, without ${plain}`);
      assert.ok(plain <= 2, `a new request without thinking: ${plain}`);
    });
  });
}
