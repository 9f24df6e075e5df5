// A \u0000 inside a string is text like any other (issue 18 item 5:
// "before\u0000after" reached Claude as "before", and a system prompt was cut
// the same way, while Valkey stored the whole text). Through each web server,
// with the official openai SDK: a user message, a system prompt, a tool
// call's arguments and a tool result holding a NUL reach the upstream whole
// (the mock's recorded request), an answer holding one reaches the client
// whole (non-stream and stream), and a stored conversation replays it whole.
// Both providers: the mock Claude (tests/mock/anthropic.mjs) and the mock
// vLLM (tests/mock/openai.mjs, model qwen3-coder).
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { SERVER_NAMES, readSse, dataOf } from './lib.mjs';
import { assertValid } from './schema.mjs';
import { postStream, recorded, sdk } from './mock.mjs';

const NUL = '\u0000';
let counter = 0;
const newId = (server, tag) => `nul-${server}-${tag}-${++counter}-${process.pid}`;
const marker = (id, extra = '') => `[[mock id=${id}${extra ? ` ${extra}` : ''}]]`;

async function vrecorded(id) {
  const url = process.env.AXON_TEST_VLLM_MOCK_URL;
  assert.ok(url, 'AXON_TEST_VLLM_MOCK_URL is not set: run tests/integration/run.sh');
  const res = await fetch(`${url}/_mock/requests?id=${encodeURIComponent(id)}`, { signal: AbortSignal.timeout(10000) });
  assert.equal(res.status, 200);
  return res.json();
}

async function only(recs, id) {
  assert.equal(recs.length, 1, `the mock got exactly one request for ${id}`);
  return recs[0].body;
}

// A tool round trip whose every string holds a NUL; the marker goes first,
// since a cut text would lose what follows the NUL.
function toolRoundTrip(model, mark) {
  return {
    model,
    messages: [
      { role: 'system', content: `sys${NUL}tem` },
      { role: 'user', content: `${mark} before${NUL}after` },
      {
        role: 'assistant', content: null,
        tool_calls: [{ id: 'call_nul1', type: 'function', function: { name: 'lookup', arguments: JSON.stringify({ q: `x${NUL}y` }) } }],
      },
      { role: 'tool', tool_call_id: 'call_nul1', content: `tool${NUL}result` },
    ],
    tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }],
  };
}

// The chunks' content added up (every chunk validated).
async function streamed(server, body) {
  const res = await postStream(server, body);
  assert.equal(res.status, 200);
  const { blocks } = await readSse(res, performance.now());
  const data = dataOf(blocks).map((d) => d.data);
  assert.equal(data.at(-1), '[DONE]');
  let content = '';
  for (const d of data.slice(0, -1)) {
    const o = JSON.parse(d);
    assertValid('chunk', o, `a chunk through ${server}`);
    content += o.choices?.[0]?.delta?.content ?? '';
  }
  return content;
}

// The spec's validators compile on first use, which takes seconds of CPU:
// long enough for lighttpd to drop an idle keep-alive connection that fetch
// then reuses ("other side closed"), as claude-misc.test.mjs says. Compile first.
before(() => assertValid('error', { error: { message: 'm', type: 't', param: null, code: null } }, 'warm-up'));

for (const server of SERVER_NAMES) {
  describe(`a \\u0000 in text behind ${server}`, () => {
    it('Claude: user text, system prompt, tool arguments and tool result reach it whole; its answer reaches the client whole', async () => {
      const id = newId(server, 'claude');
      const completion = await sdk(server).chat.completions.create(toolRoundTrip('gpt-4o', marker(id)));
      assertValid('response', completion, `the answer through ${server}`);
      const body = await only(await recorded(id), id);
      assert.deepEqual(body.system.map((b) => b.text), [`sys${NUL}tem`], 'the system prompt');
      assert.equal(body.messages[0].content[0].text, `${marker(id)} before${NUL}after`, 'the user text');
      const use = body.messages[1].content.find((b) => b.type === 'tool_use');
      assert.deepEqual(use.input, { q: `x${NUL}y` }, 'the tool call\'s arguments');
      const result = body.messages[2].content.find((b) => b.type === 'tool_result');
      assert.equal(result.content, `tool${NUL}result`, 'the tool result');
      // The mock answers a tool result with its text.
      assert.equal(completion.choices[0].message.content, `The tool said: tool${NUL}result`);
    });

    it('Claude: an answer holding a NUL, non-stream and stream, and replayed whole from the stored conversation', async () => {
      const id = newId(server, 'answer');
      const first = await sdk(server).chat.completions.create({
        model: 'gpt-4o', messages: [{ role: 'user', content: `${marker(id, `reply=a${NUL}b`)} one${NUL}two` }],
      });
      assert.equal(first.choices[0].message.content, `a${NUL}b`);
      const sid = newId(server, 'answer-stream');
      assert.equal(await streamed(server, {
        model: 'gpt-4o', messages: [{ role: 'user', content: `${marker(sid, `reply=c${NUL}d`)} hi` }],
      }), `c${NUL}d`);
      const nid = newId(server, 'next');
      await sdk(server).chat.completions.create({
        model: 'gpt-4o', conversation_id: first.conversation_id,
        messages: [{ role: 'user', content: `and then ${marker(nid)}` }],
      });
      const body = await only(await recorded(nid), nid);
      assert.equal(body.messages[0].content[0].text, `${marker(id, `reply=a${NUL}b`)} one${NUL}two`, 'turn 1 as stored');
      assert.equal(body.messages[1].content[0].text, `a${NUL}b`, 'the stored answer');
    });

    it('a model name, a conversation id or an object key holding a NUL is not taken for what comes before it', async () => {
      const ai = sdk(server);
      await assert.rejects(ai.chat.completions.create({ model: `gpt-4o${NUL}x`, messages: [{ role: 'user', content: 'hi' }] }),
        (err) => err.status === 404 && err.code === 'model_not_found');
      const first = await ai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `hi ${marker(newId(server, 'conv'))}` }] });
      assert.match(first.conversation_id, /^conv-/);
      await assert.rejects(ai.chat.completions.create({
        model: 'gpt-4o', conversation_id: `${first.conversation_id}${NUL}x`, messages: [{ role: 'user', content: 'more' }],
      }), (err) => err.status === 400);
      await assert.rejects(ai.chat.completions.create({
        model: 'gpt-4o', conversation_id: `new${NUL}`, messages: [{ role: 'user', content: 'more' }],
      }), (err) => err.status === 400);
      // A key holding a NUL would be cut by json-c ({"a\u0000b":1,"a":2} is
      // {"a":2}): refused as JSON Axon cannot carry, never changed.
      for (const model of ['gpt-4o', 'qwen3-coder']) {
        await assert.rejects(ai.chat.completions.create({
          model, messages: [{ role: 'user', content: 'hi' }],
          tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { [`a${NUL}b`]: { type: 'string' } } } } }],
        }), (err) => err.status === 400 && err.type === 'invalid_request_error');
      }
    });

    it('OpenAI-compatible: the same strings reach the server whole; its answer reaches the client whole', async () => {
      const id = newId(server, 'vllm');
      const completion = await sdk(server).chat.completions.create(toolRoundTrip('qwen3-coder', marker(id)));
      assertValid('response', completion, `the answer through ${server}`);
      const body = await only(await vrecorded(id), id);
      assert.equal(body.messages[0].content, `sys${NUL}tem`);
      assert.equal(body.messages[1].content, `${marker(id)} before${NUL}after`);
      assert.equal(body.messages[2].tool_calls[0].function.arguments, JSON.stringify({ q: `x${NUL}y` }));
      assert.equal(body.messages[3].content, `tool${NUL}result`);
      assert.equal(completion.choices[0].message.content, `The tool said: tool${NUL}result`);
      const sid = newId(server, 'vllm-stream');
      assert.equal(await streamed(server, {
        model: 'qwen3-coder', messages: [{ role: 'user', content: `${marker(sid, `reply=e${NUL}f`)} hi` }],
      }), `e${NUL}f`);
    });
  });
}
