// The clients that speak the Responses API by default (issue 20), through
// lighttpd and nginx against the mock Claude and the mock vLLM:
//  - the Vercel AI SDK's default provider, createOpenAI({ baseURL })(model):
//    generateText, streamText, and a tool loop whose second turn sends an
//    item_reference to the first turn's message;
//  - the OpenAI Agents SDK's default model, an agent with a tool;
//  - the official `openai` SDK: responses.create / stream / retrieve / delete /
//    inputItems.list, conversations.* and conversations.items.*;
//  - a Codex-shaped sequence (stateless, encrypted reasoning resent, whole
//    history each turn, a large instructions, tools, four requests).
// The AI SDK and the Agents SDK run under Node 22 (tests/clients/node22.mjs).
//
// The first suite needs no Axon and always runs: the clients against a small
// recording server of this file, which pins down what each client sends on
// its later turns (the contract the endpoint must serve).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { SERVER_NAMES, KEY, stackUrl, readSse } from './lib.mjs';
import { recorded, sdk } from './mock.mjs';
import { runClient, clientsMissing } from '../clients/node22.mjs';


const CLAUDE = 'claude-sonnet-4-6';
const VLLM = 'qwen3-coder';
// A Claude model that thinks unasked (etc/models.conf thinks_unasked=yes), for the Codex sequence.
const THINKER = 'claude-sonnet-5';

let counter = 0;
const newId = (server, tag) => `clients-resp-${server}-${tag}-${++counter}-${process.pid}`;

async function vrecorded(id) {
  const base = process.env.AXON_TEST_VLLM_MOCK_URL;
  assert.ok(base, 'AXON_TEST_VLLM_MOCK_URL is not set: run tests/integration/run.sh');
  const res = await fetch(`${base}/_mock/requests?id=${encodeURIComponent(id)}`, { signal: AbortSignal.timeout(10000) });
  assert.equal(res.status, 200);
  return res.json();
}
const upstreamOf = (model) => (model === VLLM ? vrecorded : recorded);

// Run a Node 22 client case; it must have succeeded, every request on
// /v1/responses and answered 200.
async function client(caseName, baseURL, model, prompt) {
  const missing = clientsMissing();
  assert.equal(missing, null, missing ?? '');
  const r = await runClient(caseName, { baseURL, apiKey: KEY || 'sk-recorder', model, prompt });
  const shown = JSON.stringify(r.requests.map((q) => ({ ...q, body: JSON.stringify(q.body).slice(0, 600) })));
  assert.ok(r.ok, `${caseName} failed: ${JSON.stringify(r.error)}\nrequests: ${shown}`);
  for (const q of r.requests) {
    assert.equal(q.path, '/v1/responses', `${caseName} spoke the Responses API`);
    assert.equal(q.status, 200, `${caseName}: ${q.method} ${q.path} answered 200`);
  }
  return r;
}

// ---- a recording Responses server (no Axon) ---------------------------------------
// Just enough of POST /v1/responses (non-stream) for the clients' tool loop:
// a function_call output item (after a text message, as Claude's "Let me
// check." before a tool use) when tools are given, and "The tool said: X" when
// the input ends with a function_call_output. Its ids (msg_N, fc_N) are what
// the clients send back.
function startRecorder() {
  const seen = [];
  let n = 0;
  const message = (text) => ({
    type: 'message', id: `msg_rec${++n}`, status: 'completed', role: 'assistant',
    content: [{ type: 'output_text', text, annotations: [] }],
  });
  const srv = http.createServer(async (req, res) => {
    let raw = '';
    for await (const c of req) raw += c;
    const body = raw ? JSON.parse(raw) : null;
    seen.push({ method: req.method, path: req.url, body });
    if (req.method !== 'POST' || req.url !== '/v1/responses' || body?.stream) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'recorder: not served', type: 'invalid_request_error', param: null, code: null } }));
      return;
    }
    const input = typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : body.input;
    const last = input.at(-1);
    let output;
    if (last?.type === 'function_call_output') output = [message(`The tool said: ${last.output}`)];
    else if (body.tools?.length) {
      output = [message('Let me check.'), {
        type: 'function_call', id: `fc_rec${++n}`, call_id: `call_rec${n}`, name: body.tools[0].name,
        arguments: '{"city":"Paris"}', status: 'completed',
      }];
    } else output = [message('Hello from the recorder.')];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({
      id: `resp_rec${++n}`, object: 'response', created_at: Math.floor(Date.now() / 1000), status: 'completed',
      error: null, incomplete_details: null, instructions: body.instructions ?? null, max_output_tokens: null,
      model: body.model, output, parallel_tool_calls: true, previous_response_id: body.previous_response_id ?? null,
      reasoning: { effort: null, summary: null }, store: body.store ?? true, temperature: 1,
      text: { format: { type: 'text' } }, tool_choice: 'auto', tools: body.tools ?? [], top_p: 1, truncation: 'disabled',
      usage: {
        input_tokens: 10, input_tokens_details: { cached_tokens: 0 }, output_tokens: 5,
        output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 15,
      },
      user: null, metadata: {},
    }));
  });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => resolve({ srv, seen, url: `http://127.0.0.1:${srv.address().port}/v1` }));
  });
}

const itemTypes = (input) => input.map((i) => i.type ?? `(${i.role})`);

describe('what the clients send on the Responses API (a recording server, no Axon)', () => {
  let rec;
  before(async () => { rec = await startRecorder(); });
  after(() => rec.srv.close());

  it('AI SDK default provider, tool loop: turn 2 resends the history, the earlier message as an item_reference', async () => {
    const r = await client('aisdk-responses-tools', rec.url, CLAUDE, 'What is the weather in Paris?');
    assert.deepEqual(r.toolRuns, ['Paris']);
    assert.equal(r.text, 'The tool said: sunny-in-Paris');
    assert.equal(r.requests.length, 2);
    const [t1, t2] = r.requests.map((q) => q.body);
    console.log(`# AI SDK turn 1: ${JSON.stringify(t1)}`);
    console.log(`# AI SDK turn 2: ${JSON.stringify(t2)}`);
    // Turn 1: no store, no previous_response_id, no stream; the tool flat, strict: false.
    for (const k of ['store', 'previous_response_id', 'stream', 'instructions']) assert.ok(!(k in t1), `turn 1 has no ${k}`);
    assert.deepEqual(t1.input, [{ role: 'user', content: [{ type: 'input_text', text: 'What is the weather in Paris?' }] }]);
    assert.equal(t1.tool_choice, 'auto');
    assert.equal(t1.tools[0].type, 'function');
    assert.equal(t1.tools[0].strict, false);
    // Turn 2: the whole history again, with no previous_response_id: the
    // assistant's text of turn 1 only as a reference to the stored item
    // (store defaults to true), the call inline (no id), then its output.
    assert.ok(!('previous_response_id' in t2) && !('store' in t2));
    assert.deepEqual(itemTypes(t2.input), ['(user)', 'item_reference', 'function_call', 'function_call_output']);
    const msgId = t2.input[1].id;
    assert.match(msgId, /^msg_rec/, 'the reference names the message id turn 1 answered');
    assert.deepEqual(Object.keys(t2.input[2]).sort(), ['arguments', 'call_id', 'name', 'type']);
    assert.deepEqual(t2.input[3], { type: 'function_call_output', call_id: t2.input[2].call_id, output: 'sunny-in-Paris' });
  });

  it('Agents SDK default model, tool: turn 2 resends every item whole, with its id and status', async () => {
    const r = await client('agents-responses', rec.url, CLAUDE, 'What is the weather in Paris?');
    assert.deepEqual(r.toolRuns, ['Paris']);
    assert.equal(r.text, 'The tool said: sunny-in-Paris');
    assert.equal(r.requests.length, 2);
    const [t1, t2] = r.requests.map((q) => q.body);
    console.log(`# Agents SDK turn 1: ${JSON.stringify(t1)}`);
    console.log(`# Agents SDK turn 2: ${JSON.stringify(t2)}`);
    assert.equal(t1.stream, false);
    assert.deepEqual(t1.include, []);
    assert.equal(typeof t1.instructions, 'string', 'instructions on every turn');
    assert.equal(t1.tools[0].strict, true, 'a zod tool is strict');
    assert.ok(!('previous_response_id' in t2) && !('store' in t2));
    assert.equal(t2.instructions, t1.instructions);
    assert.deepEqual(itemTypes(t2.input), ['(user)', 'message', 'function_call', 'function_call_output']);
    assert.match(t2.input[1].id, /^msg_rec/);
    assert.equal(t2.input[1].status, 'completed');
    assert.match(t2.input[2].id, /^fc_rec/);
    assert.equal(t2.input[3].status, 'completed', 'function_call_output carries a status');
  });
});

// ---- through Axon ------------------------------------------------------------------

// POST /v1/responses by raw fetch; a stream is read into its events.
async function postResponses(server, body, headers = {}) {
  const res = await fetch(`${stackUrl(server)}/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30000),
  });
  if (res.status !== 200 || !body.stream) return { status: res.status, json: await res.json().catch(() => null) };
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream\b/);
  const { blocks } = await readSse(res, performance.now());
  const events = [];
  for (const { block } of blocks) {
    if (block.startsWith(':')) continue;
    const ev = {};
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) ev.event = line.slice(7);
      else if (line.startsWith('data: ')) ev.data = JSON.parse(line.slice(6));
    }
    events.push(ev);
  }
  return { status: 200, events };
}

// Stream invariants every client relies on: typed events whose event: line
// matches data.type, a rising sequence_number, no [DONE], one closing event.
function assertResponsesStream(events) {
  assert.ok(events.length >= 3, `too few events: ${events.length}`);
  let seq = -1;
  for (const e of events) {
    assert.equal(e.event, e.data.type, 'the event: line names data.type');
    assert.ok(e.data.sequence_number > seq, `sequence_number rises: ${e.data.sequence_number} after ${seq}`);
    seq = e.data.sequence_number;
  }
  assert.equal(events[0].event, 'response.created');
  const closing = events.filter((e) => /^response\.(completed|incomplete|failed)$/.test(e.event));
  assert.equal(closing.length, 1, 'one closing event');
  assert.equal(events.at(-1), closing[0], 'the closing event comes last');
  return closing[0].data.response;
}

for (const server of SERVER_NAMES) {
  describe(`AI SDK and Agents SDK in their default mode (Responses) through ${server}`, () => {
    for (const model of [CLAUDE, VLLM]) {
      it(`AI SDK createOpenAI()('${model}'): generateText`, async () => {
        const id = newId(server, 'gen');
        const r = await client('aisdk-responses-generate', stackUrl(server), model,
          `Say hello. [[mock id=${id} reply=Hello_from_the_responses_test.]]`);
        assert.equal(r.text, 'Hello from the responses test.');
        assert.equal(r.finishReason, 'stop');
        assert.equal((await upstreamOf(model)(id)).length, 1);
      });

      it(`AI SDK createOpenAI()('${model}'): streamText`, async () => {
        const id = newId(server, 'stream');
        const r = await client('aisdk-responses-stream', stackUrl(server), model,
          `Say hello. [[mock id=${id} reply=Hello_from_the_responses_stream_test.]]`);
        assert.equal(r.text, 'Hello from the responses stream test.');
        assert.ok(r.deltas.length >= 2, `several deltas: ${JSON.stringify(r.deltas)}`);
        assert.equal(r.requests[0].body.stream, true);
        const ups = await upstreamOf(model)(id);
        assert.equal(ups.length, 1);
        assert.equal(ups[0].body.stream, true);
      });

      for (const [caseName, how] of [['aisdk-responses-tools', 'generateText'], ['aisdk-responses-tools-stream', 'streamText']]) {
        it(`AI SDK createOpenAI()('${model}'): ${how} tool loop; turn 2's item_reference resolves`, async () => {
          const id = newId(server, 'tools');
          // reply=: a text before the tool call, which turn 2 sends back as an item_reference.
          const r = await client(caseName, stackUrl(server), model,
            `What is the weather in Paris? [[mock id=${id} reply=Let_me_check.]]`);
          assert.deepEqual(r.toolRuns, ['Paris']);
          assert.equal(r.steps.length, 2, JSON.stringify(r.steps));
          assert.match(r.text, /^The tool said: .*sunny-in-Paris/);
          const t2 = r.requests[1].body;
          console.log(`# ${server} ${model} ${how} turn 2 input: ${JSON.stringify(t2.input)}`);
          assert.ok(t2.input.some((i) => i.type === 'item_reference'), 'turn 2 sent an item_reference');
          const ups = await upstreamOf(model)(id);
          assert.equal(ups.length, 2);
          // The reference was resolved: the upstream saw the assistant's text of turn 1.
          assert.match(JSON.stringify(ups[1].body.messages), /Let me check\./,
            'the referenced message reached the upstream');
          assert.match(JSON.stringify(ups[1].body.messages.at(-1)), /sunny-in-Paris/);
        });
      }

      it(`Agents SDK default model ('${model}'): an agent runs its tool and answers`, async () => {
        const id = newId(server, 'agent');
        const r = await client('agents-responses', stackUrl(server), model, `What is the weather in Paris? [[mock id=${id}]]`);
        assert.deepEqual(r.toolRuns, ['Paris']);
        assert.match(r.text, /^The tool said: .*sunny-in-Paris/);
        assert.equal(r.requests.length, 2);
        assert.equal((await upstreamOf(model)(id)).length, 2);
      });
    }
  });

  describe(`official openai SDK on the Responses and Conversations APIs through ${server}`, () => {
    it('responses.create, retrieve, inputItems.list, a continuation, delete', async () => {
      const client = sdk(server);
      const id = newId(server, 'sdk');
      const r = await client.responses.create({ model: CLAUDE, input: `Say hello. [[mock id=${id} reply=Hello_there.]]` });
      assert.match(r.id, /^resp_/);
      assert.equal(r.object, 'response');
      assert.equal(r.status, 'completed');
      assert.equal(r.output_text, 'Hello there.');
      assert.match(r.output[0].id, /^msg_/);
      assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
      assert.ok(Number.isInteger(r.usage.input_tokens_details.cached_tokens));
      assert.ok(Number.isInteger(r.usage.output_tokens_details.reasoning_tokens));

      const got = await client.responses.retrieve(r.id);
      assert.equal(got.id, r.id);
      assert.equal(got.output_text, 'Hello there.');

      const items = await client.responses.inputItems.list(r.id);
      assert.equal(items.data.length, 1);
      assert.equal(items.data[0].type, 'message');
      assert.equal(items.data[0].role, 'user');
      assert.match(JSON.stringify(items.data[0].content), /Say hello\./);

      const next = await client.responses.create({
        model: CLAUDE, previous_response_id: r.id, input: `And again. [[mock id=${id} reply=Again.]]`,
      });
      assert.equal(next.output_text, 'Again.');
      assert.equal(next.previous_response_id, r.id);
      const ups = await recorded(id);
      assert.equal(ups.length, 2);
      assert.deepEqual(ups[1].body.messages.map((m) => m.role), ['user', 'assistant', 'user'],
        'the continuation carried the earlier turn');

      await client.responses.delete(r.id);
      await assert.rejects(client.responses.retrieve(r.id), (e) => e.status === 404);
    });

    it('responses.stream: text deltas, the events in order, finalResponse()', async () => {
      const id = newId(server, 'sdkstream');
      const stream = sdk(server).responses.stream({ model: CLAUDE, input: `Say hello. [[mock id=${id} reply=Hello_over_the_stream.]]` });
      const types = [];
      let text = '';
      let seq = -1;
      for await (const e of stream) {
        types.push(e.type);
        assert.ok(e.sequence_number > seq, 'sequence_number rises');
        seq = e.sequence_number;
        if (e.type === 'response.output_text.delta') text += e.delta;
      }
      const final = await stream.finalResponse();
      assert.equal(text, 'Hello over the stream.');
      assert.equal(final.output_text, 'Hello over the stream.');
      for (const t of ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added',
        'response.output_text.delta', 'response.output_text.done', 'response.content_part.done',
        'response.output_item.done', 'response.completed']) {
        assert.ok(types.includes(t), `the stream carried ${t}: ${types.join(' ')}`);
      }
      assert.ok(types.indexOf('response.content_part.added') < types.indexOf('response.output_text.delta'));
      assert.equal(types.at(-1), 'response.completed');
    });

    it('conversations.* and conversations.items.*, then a response in the conversation', async () => {
      const client = sdk(server);
      const conv = await client.conversations.create({
        metadata: { topic: 'clients' },
        items: [{ type: 'message', role: 'user', content: 'Remember the word teapot.' }],
      });
      // Axon's conversation ids are chat's (conv- + 32 hex), one store for
      // chat, Responses and Conversations (docs/conversations.md); the SDK
      // takes any string.
      assert.match(conv.id, /^conv-[0-9a-f]{32}$/);
      assert.equal(conv.object, 'conversation');
      assert.deepEqual(conv.metadata, { topic: 'clients' });
      const got = await client.conversations.retrieve(conv.id);
      assert.equal(got.id, conv.id);
      const upd = await client.conversations.update(conv.id, { metadata: { topic: 'clients2' } });
      assert.deepEqual(upd.metadata, { topic: 'clients2' });

      const added = await client.conversations.items.create(conv.id, {
        items: [{ type: 'message', role: 'user', content: 'And the word kettle.' }],
      });
      assert.equal(added.object, 'list');
      assert.equal(added.data.length, 1);
      const list = await client.conversations.items.list(conv.id);
      assert.equal(list.data.length, 2);
      const itemId = added.data[0].id;
      const item = await client.conversations.items.retrieve(itemId, { conversation_id: conv.id });
      assert.equal(item.id, itemId);
      await client.conversations.items.delete(itemId, { conversation_id: conv.id });
      assert.equal((await client.conversations.items.list(conv.id)).data.length, 1);

      const id = newId(server, 'conv');
      const r = await client.responses.create({
        model: CLAUDE, conversation: conv.id, input: `Which word? [[mock id=${id} reply=Teapot.]]`,
      });
      assert.equal(r.output_text, 'Teapot.');
      const ups = await recorded(id);
      assert.match(JSON.stringify(ups[0].body.messages), /teapot/, 'the conversation\'s items reached the upstream');
      assert.doesNotMatch(JSON.stringify(ups[0].body.messages), /kettle/, 'the deleted item did not');

      const del = await client.conversations.delete(conv.id);
      assert.equal(del.deleted, true);
      await assert.rejects(client.conversations.retrieve(conv.id), (e) => e.status === 404);
    });
  });

  // The Codex CLI's request, as openai/codex builds it (codex-rs at commit
  // 001cb8e233f2): codex-api/src/common.rs ResponsesApiRequest { model,
  // instructions, input, tools, tool_choice: "auto", parallel_tool_calls,
  // reasoning: { effort, summary }, store, stream: true, include,
  // prompt_cache_key }; codex-api/src/requests/responses.rs: store is false
  // except for Azure; core/src/client.rs: include is
  // ["reasoning.encrypted_content"] whenever reasoning is sent, and
  // prompt_cache_key is the conversation id; core/src/client.rs
  // build_api_prompt: the whole history is the input of every turn (no
  // previous_response_id). protocol/src/models.rs ResponseItem: every item's
  // id is skip_serializing, so items go back without ids: a reasoning item as
  // { type, summary, encrypted_content }, a function_call as { type, name,
  // arguments, call_id }, a function_call_output's output as a plain string.
  describe(`a Codex-shaped sequence through ${server}`, () => {
    // Codex's base instructions are some 20 KB of prose (codex-rs/core/prompt.md).
    const INSTRUCTIONS = Array.from({ length: 300 }, (_, i) =>
      `Rule ${i + 1}: you are a coding agent in a terminal; keep answers short and run tools when needed.`).join('\n');
    const SHELL_TOOL = {
      type: 'function', name: 'shell', description: 'Runs a shell command and returns its output.', strict: false,
      parameters: {
        type: 'object',
        properties: {
          command: { type: 'array', items: { type: 'string' }, description: 'The command to execute' },
          workdir: { type: 'string', description: 'The working directory to execute the command in' },
          timeout_ms: { type: 'number', description: 'The timeout for the command in milliseconds' },
        },
        required: ['command'],
        additionalProperties: false,
      },
    };
    // An output item as Codex sends it back: without its id.
    function asCodexResends(item) {
      if (item.type === 'reasoning') return { type: 'reasoning', summary: item.summary, encrypted_content: item.encrypted_content };
      if (item.type === 'function_call') return { type: 'function_call', name: item.name, arguments: item.arguments, call_id: item.call_id };
      if (item.type === 'message') {
        return { type: 'message', role: item.role, content: item.content.map((c) => ({ type: c.type, text: c.text })) };
      }
      throw new Error(`unexpected output item ${item.type}`);
    }

    it('four stateless requests, thinking and tools, encrypted reasoning resent: no Claude 400', async () => {
      const id = newId(server, 'codex');
      const session = crypto.randomUUID();
      const history = [];
      const turn = async (what) => {
        const body = {
          model: THINKER, instructions: INSTRUCTIONS, input: history, tools: [SHELL_TOOL], tool_choice: 'auto',
          parallel_tool_calls: false, reasoning: { effort: 'medium', summary: 'auto' }, store: false, stream: true,
          include: ['reasoning.encrypted_content'], prompt_cache_key: session,
        };
        const r = await postResponses(server, body, {
          accept: 'text/event-stream', conversation_id: session, session_id: session, originator: 'codex_cli_rs',
        });
        assert.equal(r.status, 200, `${what}: ${JSON.stringify(r.json)}`);
        const resp = assertResponsesStream(r.events);
        assert.equal(resp.status, 'completed', `${what}: ${JSON.stringify(resp).slice(0, 1500)}`);
        assert.match(resp.id, /^resp_/, 'response.completed carries the id (Codex needs it)');
        const reasoning = resp.output.filter((o) => o.type === 'reasoning');
        assert.ok(reasoning.length >= 1, `${what}: a reasoning item`);
        for (const o of reasoning) {
          assert.equal(typeof o.encrypted_content, 'string', 'include reasoning.encrypted_content: the sealed thinking');
          assert.ok(o.encrypted_content.length > 0);
        }
        for (const o of resp.output) history.push(asCodexResends(o));
        return resp;
      };
      const calls = (resp) => resp.output.filter((o) => o.type === 'function_call');

      history.push({ type: 'message', role: 'user', content: [{ type: 'input_text', text: `List the files. [[mock id=${id}]]` }] });
      const r1 = await turn('turn 1');
      assert.equal(calls(r1).length, 1, 'turn 1 calls the shell');
      history.push({ type: 'function_call_output', call_id: calls(r1)[0].call_id, output: 'README.md\nsrc' });
      const r2 = await turn('turn 2');
      assert.match(r2.output.find((o) => o.type === 'message').content[0].text, /^The tool said: README\.md/);

      history.push({ type: 'message', role: 'user', content: [{ type: 'input_text', text: `Now count them. [[mock id=${id}]]` }] });
      const r3 = await turn('turn 3');
      assert.equal(calls(r3).length, 1, 'turn 3 calls the shell again');
      history.push({ type: 'function_call_output', call_id: calls(r3)[0].call_id, output: '2' });
      const r4 = await turn('turn 4');
      assert.match(r4.output.find((o) => o.type === 'message').content[0].text, /^The tool said: 2/);

      const ups = await recorded(id);
      assert.equal(ups.length, 4, 'four upstream requests, none refused');
      // Turns 2 and 4 end in a tool result with thinking on: Claude wants the
      // assistant turn before it to start with its signed thinking, which only
      // the encrypted_content the client sent back can give.
      for (const k of [1, 3]) {
        const msgs = ups[k].body.messages;
        const asst = msgs.at(-2);
        assert.equal(asst.role, 'assistant');
        assert.equal(asst.content[0].type, 'thinking', `request ${k + 1}: the thinking block was replayed first`);
        assert.equal(typeof asst.content[0].signature, 'string');
      }
      assert.ok(ups.every((u) => u.body.system !== undefined), 'the instructions reached Claude as system');
    });
  });
}
