// The agent clients people point at Axon, in their chat-completions mode,
// through lighttpd and nginx against the mock Claude and the mock vLLM:
//  - the Vercel AI SDK's openai.chat(model) (`ai` + `@ai-sdk/openai`):
//    generateText, streamText, and a tool loop (stopWhen) that runs a tool;
//  - the OpenAI Agents SDK with OpenAIChatCompletionsModel, an agent with a tool.
// The clients need Node >= 22: they run under the Node 22 of
// tests/clients/node_modules (tests/clients/node22.mjs), one process per case,
// which also records every request they made. Versions: tests/clients/package.json.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SERVER_NAMES, KEY, stackUrl } from './lib.mjs';
import { recorded } from './mock.mjs';
import { runClient, clientsMissing } from '../clients/node22.mjs';

// The mock vLLM's recorded requests for a directive id.
async function vrecorded(id) {
  const base = process.env.AXON_TEST_VLLM_MOCK_URL;
  assert.ok(base, 'AXON_TEST_VLLM_MOCK_URL is not set: run tests/integration/run.sh');
  const res = await fetch(`${base}/_mock/requests?id=${encodeURIComponent(id)}`, { signal: AbortSignal.timeout(10000) });
  assert.equal(res.status, 200);
  return res.json();
}

// One Claude model of the table and the mock vLLM's model. `upstream` reads
// what the mock behind Axon received; `sawToolResult` says whether an upstream
// request carried the tool's result back (Claude: a tool_result block in the
// last user message; OpenAI-compatible: a last message of role tool).
const MODELS = [
  {
    model: 'claude-sonnet-4-6',
    upstream: recorded,
    sawToolResult: (body, output) => {
      const last = body.messages.at(-1);
      return last.role === 'user' && Array.isArray(last.content) && last.content.some((b) =>
        b.type === 'tool_result' && JSON.stringify(b.content).includes(output));
    },
  },
  {
    model: 'qwen3-coder',
    upstream: vrecorded,
    sawToolResult: (body, output) => {
      const last = body.messages.at(-1);
      return last.role === 'tool' && JSON.stringify(last.content).includes(output);
    },
  },
];

let counter = 0;
const newId = (server, tag) => `clients-chat-${server}-${tag}-${++counter}-${process.pid}`;

// Run a case; it must have succeeded, and every request it made must have
// been a 200 on /v1/chat/completions.
async function client(caseName, server, model, prompt) {
  const missing = clientsMissing();
  assert.equal(missing, null, missing ?? '');
  const r = await runClient(caseName, { baseURL: stackUrl(server), apiKey: KEY, model, prompt });
  assert.ok(r.ok, `${caseName} through ${server} failed: ${JSON.stringify(r.error)}\n` +
    `requests: ${JSON.stringify(r.requests).slice(0, 2000)}`);
  assert.ok(r.requests.length >= 1, 'the client made a request');
  for (const q of r.requests) {
    assert.equal(q.path, '/v1/chat/completions', `${caseName} spoke chat completions`);
    assert.equal(q.status, 200, `${caseName}: ${q.method} ${q.path} answered 200`);
  }
  return r;
}

for (const server of SERVER_NAMES) {
  describe(`agent clients on chat completions through ${server}`, () => {
    for (const m of MODELS) {
      it(`AI SDK openai.chat('${m.model}'): generateText gives the model's text`, async () => {
        const id = newId(server, 'gen');
        const r = await client('aisdk-chat-generate', server, m.model,
          `Say hello. [[mock id=${id} reply=Hello_from_the_client_test.]]`);
        assert.equal(r.text, 'Hello from the client test.');
        assert.equal(r.finishReason, 'stop');
        assert.ok(r.usage.inputTokens > 0 && r.usage.outputTokens > 0, `usage: ${JSON.stringify(r.usage)}`);
        const ups = await m.upstream(id);
        assert.equal(ups.length, 1, 'one upstream request');
        assert.notEqual(ups[0].body.stream, true, 'generateText asks for no stream upstream');
      });

      it(`AI SDK openai.chat('${m.model}'): streamText streams the model's text`, async () => {
        const id = newId(server, 'stream');
        const r = await client('aisdk-chat-stream', server, m.model,
          `Say hello. [[mock id=${id} reply=Hello_from_the_client_stream_test.]]`);
        assert.equal(r.text, 'Hello from the client stream test.');
        assert.equal(r.deltas.join(''), r.text);
        assert.ok(r.deltas.length >= 2, `the text came in several deltas: ${JSON.stringify(r.deltas)}`);
        assert.equal(r.finishReason, 'stop');
        assert.equal(r.requests[0].body.stream, true, 'streamText asked for a stream');
        const ups = await m.upstream(id);
        assert.equal(ups.length, 1, 'one upstream request');
        assert.equal(ups[0].body.stream, true, 'streamed upstream too');
      });

      for (const [caseName, how] of [['aisdk-chat-tools', 'generateText'], ['aisdk-chat-tools-stream', 'streamText']]) {
        it(`AI SDK openai.chat('${m.model}'): ${how} runs a tool loop (stopWhen) to the final answer`, async () => {
          const id = newId(server, 'tools');
          const r = await client(caseName, server, m.model, `What is the weather in Paris? [[mock id=${id}]]`);
          assert.deepEqual(r.toolRuns, ['Paris'], 'the tool ran once, with the model\'s arguments');
          assert.equal(r.steps.length, 2, `a tool step, then the answer: ${JSON.stringify(r.steps)}`);
          assert.equal(r.steps[0].finishReason, 'tool-calls');
          assert.deepEqual(r.steps[0].toolCalls, [{ name: 'get_weather', input: { city: 'Paris' } }]);
          assert.deepEqual(r.steps[0].toolResults, [{ name: 'get_weather', output: 'sunny-in-Paris' }]);
          assert.equal(r.steps[1].finishReason, 'stop');
          assert.match(r.text, /^The tool said: .*sunny-in-Paris/, 'the final answer is built on the tool\'s result');
          assert.equal(r.requests.length, 2, 'one request per step');
          const ups = await m.upstream(id);
          assert.equal(ups.length, 2, 'two upstream requests');
          assert.ok(m.sawToolResult(ups[1].body, 'sunny-in-Paris'),
            `the second upstream request carries the tool result: ${JSON.stringify(ups[1].body.messages).slice(0, 1500)}`);
        });
      }

      it(`Agents SDK OpenAIChatCompletionsModel('${m.model}'): an agent runs its tool and answers`, async () => {
        const id = newId(server, 'agent');
        const r = await client('agents-chat', server, m.model, `What is the weather in Paris? [[mock id=${id}]]`);
        assert.deepEqual(r.toolRuns, ['Paris']);
        assert.match(r.text, /^The tool said: .*sunny-in-Paris/);
        assert.ok(r.items.includes('tool_call_item') && r.items.includes('tool_call_output_item'),
          `the run's items: ${r.items}`);
        assert.equal(r.requests.length, 2, 'two model calls: the tool call, then the answer');
        const ups = await m.upstream(id);
        assert.equal(ups.length, 2);
        assert.ok(m.sawToolResult(ups[1].body, 'sunny-in-Paris'));
      });
    }
  });
}
