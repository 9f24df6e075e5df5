// POST /v1/responses (issue 20) through lighttpd and nginx, against the mock
// Claude and the mock vLLM, with the official `openai` SDK and by raw fetch
// where the wire matters. Every Response object and stream event is checked
// against the spec's schemas (Response, ResponseStreamEvent).
//   - create, non-stream and stream: text, a tool call, reasoning with its
//     summary on a thinking model, text.format json_schema;
//   - the stream: event order, sequence_number from 0 rising by one, no [DONE];
//   - store: false writes nothing to Valkey;
//   - previous_response_id: continuation at the tip, two branches from one
//     parent each seeing only its own line (the mock's recorded request);
//     instructions not carried over; the round trips of a continuation;
//   - conversation: a chat conversation_id continued by Responses and back;
//   - a Codex-shaped stateless sequence (store: false, encrypted reasoning
//     resent, thinking and tools, three turns) and a tampered blob's 400;
//   - an upstream error before the first byte (an HTTP error) and mid-stream
//     (an error event, then response.failed); a client that leaves mid-stream;
//   - Valkey down (a stack of its own): stateless requests are answered,
//     stateful ones get 503.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  SERVER_NAMES, KEY, AXON_BIN, stackUrl, originOf, call, readSse, waitFor,
  cleanEnv, scratchDir, freePort, startStack, stopStack,
} from './lib.mjs';
import { assertValid, assertValidEvent } from './schema.mjs';
import { recorded, sdk, aborts, mockUrl } from './mock.mjs';
import { redis } from './redis.mjs';

const VALKEY = process.env.AXON_VALKEY_URL;
const CLAUDE = 'gpt-4o';          // served by the mock Claude (etc/models.conf)
const VLLM = 'qwen3-coder';       // served by the mock vLLM
const THINK_TEXT = 'Let me think about this.'; // the mock's thinking (tests/mock/anthropic.mjs)

let counter = 0;
const newId = (server, tag) => `resp-${server}-${tag}-${++counter}-${process.pid}`;

const WEATHER = {
  type: 'function', name: 'get_weather', description: 'The weather in a city.',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
};

async function vrecorded(id) {
  const base = process.env.AXON_TEST_VLLM_MOCK_URL;
  assert.ok(base, 'AXON_TEST_VLLM_MOCK_URL is not set: run tests/integration/run.sh');
  const res = await fetch(`${base}/_mock/requests?id=${encodeURIComponent(id)}`, { signal: AbortSignal.timeout(10000) });
  assert.equal(res.status, 200);
  return res.json();
}

async function onlyRecorded(id, model = CLAUDE) {
  const recs = await (model === VLLM ? vrecorded(id) : recorded(id));
  assert.equal(recs.length, 1, `the mock got exactly one request for ${id}: ${JSON.stringify(recs).slice(0, 400)}`);
  return recs[0].body;
}

// POST /v1/responses by fetch: the status, headers and JSON (or the stream).
const post = (server, body) => call(originOf(stackUrl(server)), '/v1/responses', {
  method: 'POST', key: KEY, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
});

// A streamed create by fetch: the events as [{event, data}] in order.
async function postStream(server, body, onEvent = () => {}) {
  const res = await fetch(`${stackUrl(server)}/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ ...body, stream: true }),
    signal: AbortSignal.timeout(30000),
  });
  if (res.status !== 200) return { status: res.status, json: await res.json(), events: [] };
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events = [];
  const { blocks, rest } = await readSse(res, performance.now(), (block) => {
    if (block.startsWith(':')) return; // a heartbeat
    const lines = block.split('\n');
    assert.equal(lines.length, 2, `one event line and one data line: ${block.slice(0, 200)}`);
    assert.ok(lines[0].startsWith('event: ') && lines[1].startsWith('data: '), block.slice(0, 200));
    const ev = { event: lines[0].slice(7), data: JSON.parse(lines[1].slice(6)) };
    events.push(ev);
    onEvent(ev);
  });
  assert.equal(rest, '', 'the stream ends on an event boundary');
  assert.ok(!blocks.some((b) => b.block.includes('[DONE]')), 'no [DONE] in the Responses API');
  return { status: 200, headers: res.headers, events };
}

// Every event valid, named by its type, numbered 0, 1, 2...; exactly one
// closing event, the last.
function checkEvents(events, what) {
  const closing = ['response.completed', 'response.incomplete', 'response.failed'];
  events.forEach((ev, i) => {
    assert.equal(ev.event, ev.data.type, `${what}: event name = type`);
    assert.equal(ev.data.sequence_number, i, `${what}: sequence_number of event ${i}`);
    assertValidEvent(ev.data, `${what}: ${ev.event}`);
  });
  assert.equal(events[0].event, 'response.created');
  assert.equal(events[1].event, 'response.in_progress');
  assert.equal(events.filter((e) => closing.includes(e.event)).length, 1, `${what}: one closing event`);
  assert.ok(closing.includes(events.at(-1).event), `${what}: the closing event is last`);
  const final = events.at(-1).data.response;
  assertValid('responseObject', final, `${what}: the final Response`);
  assert.equal(final.id, events[0].data.response.id, 'one id from created to the end');
  return final;
}

const types = (events) => events.map((e) => e.event);
const textOf = (r) => r.output.filter((o) => o.type === 'message')
  .flatMap((o) => o.content).filter((c) => c.type === 'output_text').map((c) => c.text).join('');

// The conversation a stored response's id names (resp_ + 32 hex + 8 hex).
const convOf = (respId) => {
  const m = /^resp_([0-9a-f]{32})([0-9a-f]{8})$/.exec(respId);
  assert.ok(m, `a stored response's id: ${respId}`);
  return { conv: `conv-${m[1]}`, pos: parseInt(m[2], 16) };
};

// Claude's body as the mock got it: the messages' text, in order.
const claudeTexts = (body) => body.messages.map((m) => (typeof m.content === 'string' ? m.content
  : m.content.map((b) => b.text ?? b.type).join('|')));

// The spec's schemas compile in seconds: before any request, so that no
// kept-alive connection idles out behind the compile (the web server then
// closes it, and the next fetch on it fails).
before(() => {
  assert.throws(() => assertValid('responseObject', {}));
  for (const type of ['response.created', 'response.output_text.delta']) {
    assert.throws(() => assertValidEvent({ type }));
  }
});

for (const server of SERVER_NAMES) {
  describe(`POST /v1/responses through ${server}`, () => {
    for (const model of [CLAUDE, VLLM]) {
      it(`${model}: non-stream text is one Response with every required key`, async () => {
        const id = newId(server, 'text');
        const r = await sdk(server).responses.create({ model, input: `Hello [[mock id=${id} reply=Hi_there]]` });
        assertValid('responseObject', r, 'non-stream text');
        assert.equal(r.object, 'response');
        assert.equal(r.status, 'completed');
        assert.equal(r.error, null);
        assert.equal(r.incomplete_details, null);
        assert.equal(r.output_text, 'Hi there');
        const msg = r.output.find((o) => o.type === 'message');
        assert.equal(msg.role, 'assistant');
        assert.equal(msg.status, 'completed');
        assert.deepEqual(msg.content[0].annotations, []);
        assert.match(msg.id, /^msg_[0-9a-f]{42}$/);
        assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
        assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
        assert.equal(typeof r.usage.input_tokens_details.cached_tokens, 'number');
        assert.equal(typeof r.usage.output_tokens_details.reasoning_tokens, 'number');
        // Stored by default: the id names the conversation at its tip
        // (the user message, then the answer).
        const { conv, pos } = convOf(r.id);
        assert.equal(pos, 2);
        assert.equal(msg.id, `msg_${conv.slice(5)}0000000101`, 'the message item sits at position 1, part 1');
        const stored = await redis(VALKEY, 'LRANGE', `axon:{c:${conv}}:msgs`, '0', '-1');
        assert.equal(stored.length, 2);
        const rec = JSON.parse(await redis(VALKEY, 'GET', `axon:{c:${conv}}:r:00000002`));
        assert.equal(rec.response.id, r.id);
        assert.equal(rec.in_start, 0);
        assert.equal(rec.in_end, 1);
        await onlyRecorded(id, model);
      });

      it(`${model}: a streamed text answer, event by event, in order`, async () => {
        const id = newId(server, 'stream');
        const s = await postStream(server, { model, input: `Hello [[mock id=${id} reply=Hi_there]]` });
        assert.equal(s.status, 200, JSON.stringify(s.json));
        const final = checkEvents(s.events, 'stream text');
        assert.deepEqual(types(s.events).filter((t) => !t.endsWith('.delta')), [
          'response.created', 'response.in_progress', 'response.output_item.added',
          'response.content_part.added', 'response.output_text.done', 'response.content_part.done',
          'response.output_item.done', 'response.completed']);
        const deltas = s.events.filter((e) => e.event === 'response.output_text.delta');
        assert.ok(deltas.length >= 1);
        assert.equal(deltas.map((e) => e.data.delta).join(''), 'Hi there');
        const itemId = s.events[2].data.item.id;
        for (const e of deltas) {
          assert.equal(e.data.item_id, itemId);
          assert.equal(e.data.output_index, 0);
          assert.equal(e.data.content_index, 0);
        }
        assert.equal(final.status, 'completed');
        assert.equal(textOf(final), 'Hi there');
        assert.equal(final.output[0].id, itemId);
        assert.ok(final.usage.output_tokens > 0);
      });

      it(`${model}: the SDK's stream helper gives the final response`, async () => {
        const id = newId(server, 'sdkstream');
        const stream = sdk(server).responses.stream({ model, input: `Hello [[mock id=${id} reply=Streamed_words]]` });
        let text = '';
        stream.on('response.output_text.delta', (e) => { text += e.delta; });
        const final = await stream.finalResponse();
        assert.equal(text, 'Streamed words');
        assert.equal(final.output_text, 'Streamed words');
        assert.equal(final.status, 'completed');
      });

      it(`${model}: a tool call is a function_call item, streamed with its arguments`, async () => {
        const id = newId(server, 'tool');
        const r = await sdk(server).responses.create({ model, tools: [WEATHER], input: `Weather in Paris? [[mock id=${id}]]` });
        assertValid('responseObject', r, 'tool call');
        const fc = r.output.find((o) => o.type === 'function_call');
        assert.ok(fc, JSON.stringify(r.output));
        assert.equal(fc.name, 'get_weather');
        assert.equal(fc.status, 'completed');
        assert.match(fc.id, /^fc_[0-9a-f]{42}$/);
        assert.ok(fc.call_id);
        assert.equal(typeof JSON.parse(fc.arguments), 'object');

        const id2 = newId(server, 'toolstream');
        const s = await postStream(server, { model, tools: [WEATHER], input: `Weather in Paris? [[mock id=${id2}]]` });
        const final = checkEvents(s.events, 'stream tool');
        const added = s.events.find((e) => e.event === 'response.output_item.added' && e.data.item.type === 'function_call');
        assert.ok(added);
        assert.equal(added.data.item.arguments, '');
        const args = s.events.filter((e) => e.event === 'response.function_call_arguments.delta').map((e) => e.data.delta).join('');
        const done = s.events.find((e) => e.event === 'response.function_call_arguments.done');
        assert.equal(done.data.arguments, args || '{}');
        const itemDone = s.events.find((e) => e.event === 'response.output_item.done' && e.data.item.type === 'function_call');
        assert.equal(itemDone.data.item.status, 'completed');
        assert.equal(itemDone.data.item.arguments, done.data.arguments);
        assert.deepEqual(final.output.find((o) => o.type === 'function_call'), itemDone.data.item);
      });
    }

    it('reasoning with a summary on a thinking Claude model: the reasoning item, streamed and not', async () => {
      const id = newId(server, 'reason');
      const r = await sdk(server).responses.create({
        model: CLAUDE, reasoning: { effort: 'low', summary: 'auto' }, input: `Think [[mock id=${id}]]`,
      });
      assertValid('responseObject', r, 'reasoning');
      assert.equal(r.output[0].type, 'reasoning');
      assert.match(r.output[0].id, /^rs_[0-9a-f]{42}$/);
      assert.deepEqual(r.output[0].summary, [{ type: 'summary_text', text: THINK_TEXT }]);
      assert.equal(r.output[0].encrypted_content, null, 'not asked for, and kept by the store');
      assert.equal(r.output[1].type, 'message');

      const id2 = newId(server, 'reasonstream');
      const s = await postStream(server, {
        model: CLAUDE, reasoning: { effort: 'low', summary: 'auto' }, include: ['reasoning.encrypted_content'],
        input: `Think [[mock id=${id2}]]`,
      });
      const final = checkEvents(s.events, 'stream reasoning');
      const t = types(s.events).filter((x) => !x.endsWith('.delta'));
      assert.deepEqual(t.slice(0, 7), ['response.created', 'response.in_progress', 'response.output_item.added',
        'response.reasoning_summary_part.added', 'response.reasoning_summary_text.done',
        'response.reasoning_summary_part.done', 'response.output_item.done']);
      const sum = s.events.filter((e) => e.event === 'response.reasoning_summary_text.delta').map((e) => e.data.delta).join('');
      assert.equal(sum, THINK_TEXT);
      assert.equal(final.output[0].type, 'reasoning');
      assert.match(final.output[0].encrypted_content, /^axr1\./, 'sealed when include asks');
      assert.ok(final.usage.output_tokens_details.reasoning_tokens >= 0);

      // store: false without include: the thinking cannot be kept by Axon,
      // so it goes sealed to the client, which alone can send it back.
      const r3 = await sdk(server).responses.create({
        model: CLAUDE, store: false, reasoning: { effort: 'low' }, input: `Think [[mock id=${newId(server, 'reasonnostore')}]]`,
      });
      assert.match(r3.output[0].encrypted_content, /^axr1\./);
      assert.deepEqual(r3.output[0].summary, [], 'no summary unless asked');
    });

    it('an answer cut by max_output_tokens is incomplete, and its stream ends with response.incomplete', async () => {
      const r = await post(server, { model: CLAUDE, max_output_tokens: 16, input: `Long [[mock id=${newId(server, 'cut')} stop_reason=max_tokens]]` });
      assert.equal(r.status, 200, r.text);
      assertValid('responseObject', r.json, 'incomplete');
      assert.equal(r.json.status, 'incomplete');
      assert.deepEqual(r.json.incomplete_details, { reason: 'max_output_tokens' });
      assert.equal(r.json.max_output_tokens, 16);
      const s = await postStream(server, { model: CLAUDE, max_output_tokens: 16, input: `Long [[mock id=${newId(server, 'cuts')} stop_reason=max_tokens]]` });
      const final = checkEvents(s.events, 'incomplete stream');
      assert.equal(s.events.at(-1).event, 'response.incomplete');
      assert.equal(final.status, 'incomplete');
      assert.deepEqual(final.incomplete_details, { reason: 'max_output_tokens' });
    });

    it('text.format json_schema reaches Claude as its output format, and the answer is the JSON', async () => {
      const id = newId(server, 'schema');
      const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
      const r = await sdk(server).responses.create({
        model: CLAUDE, input: `A city [[mock id=${id} reply={"city":"Paris"}]]`,
        text: { format: { type: 'json_schema', name: 'city', schema, strict: true } },
      });
      assertValid('responseObject', r, 'json_schema');
      assert.deepEqual(JSON.parse(r.output_text), { city: 'Paris' });
      assert.equal(r.text.format.type, 'json_schema');
      const body = await onlyRecorded(id);
      assert.equal(body.output_config?.format?.type ?? body.output_format?.type, 'json_schema');
    });

    it('store: false writes nothing to Valkey and gets a random id', async () => {
      const marker = `nostore-${newId(server, 'x')}`;
      const r = await post(server, { model: CLAUDE, store: false, input: `Remember nothing ${marker} [[mock id=${marker}]]` });
      assert.equal(r.status, 200, r.text);
      assertValid('responseObject', r.json, 'store false');
      assert.equal(r.json.store, false);
      assert.match(r.json.id, /^resp_[0-9a-f]{40}$/);
      const conv = `conv-${r.json.id.slice(5, 37)}`;
      assert.equal(await redis(VALKEY, 'EXISTS', `axon:{c:${conv}}:msgs`), 0);
      // No conversation anywhere holds the marker.
      const keys = await redis(VALKEY, 'KEYS', 'axon:{c:*}:msgs');
      for (const k of keys) {
        const msgs = await redis(VALKEY, 'LRANGE', k, '0', '-1');
        assert.ok(!msgs.some((m) => m.includes(marker)), `${k} holds the unstored turn`);
      }
    });

    it('previous_response_id continues at the tip; two branches from one parent see only their own line', async () => {
      const c = sdk(server);
      const ida = newId(server, 'a');
      const r1 = await c.responses.create({ model: CLAUDE, instructions: 'Be terse.', input: `First [[mock id=${ida} reply=One]]` });
      const a = await onlyRecorded(ida);
      assert.match(JSON.stringify(a.system), /Be terse\./);

      // Continued at the tip: the stored turn is replayed; the instructions are not.
      const idb = newId(server, 'b');
      const r2 = await post(server, { model: CLAUDE, previous_response_id: r1.id, input: `Second [[mock id=${idb} reply=Two]]` });
      assert.equal(r2.status, 200, r2.text);
      assertValid('responseObject', r2.json, 'continued');
      assert.equal(r2.json.previous_response_id, r1.id);
      assert.equal(convOf(r2.json.id).conv, convOf(r1.id).conv, 'the same conversation, grown');
      assert.equal(convOf(r2.json.id).pos, 4);
      const b = await onlyRecorded(idb);
      assert.ok(!JSON.stringify(b.system ?? '').includes('Be terse'), 'instructions are not carried over');
      assert.deepEqual(claudeTexts(b).map((t) => t.replace(/ \[\[.*\]\]/, '')), ['First', 'One', 'Second']);
      // 2 round trips, as a continued chat turn: the load under the lock,
      // the settle; the session is the one the process keeps (the least of
      // a few: a thread's first request connects and loads the scripts).
      const trips = [Number(r2.headers.get('x-axon-valkey-round-trips'))];
      let prev = r2.json.id;
      for (let i = 0; i < 5; i++) {
        const more = await post(server, { model: CLAUDE, previous_response_id: prev, input: `More ${i}` });
        assert.equal(more.status, 200, more.text);
        trips.push(Number(more.headers.get('x-axon-valkey-round-trips')));
        prev = more.json.id;
      }
      assert.equal(Math.min(...trips), 2, `round trips of a continuation: ${trips}`);

      // Two branches from r1 (no longer the tip): each a new conversation.
      const idc = newId(server, 'c'), idd = newId(server, 'd');
      const r3 = await c.responses.create({ model: CLAUDE, previous_response_id: r1.id, input: `Left [[mock id=${idc} reply=L]]` });
      const r4 = await c.responses.create({ model: CLAUDE, previous_response_id: r1.id, input: `Right [[mock id=${idd} reply=R]]` });
      assert.notEqual(convOf(r3.id).conv, convOf(r1.id).conv);
      assert.notEqual(convOf(r3.id).conv, convOf(r4.id).conv);
      assert.equal(convOf(r3.id).pos, 4);
      assert.deepEqual(claudeTexts(await onlyRecorded(idc)).map((t) => t.replace(/ \[\[.*\]\]/, '')), ['First', 'One', 'Left']);
      assert.deepEqual(claudeTexts(await onlyRecorded(idd)).map((t) => t.replace(/ \[\[.*\]\]/, '')), ['First', 'One', 'Right']);
      // The left branch goes on with its own line only.
      const ide = newId(server, 'e');
      await c.responses.create({ model: CLAUDE, previous_response_id: r3.id, input: `Further [[mock id=${ide}]]` });
      assert.deepEqual(claudeTexts(await onlyRecorded(ide)).map((t) => t.replace(/ \[\[.*\]\]/, '')),
        ['First', 'One', 'Left', 'L', 'Further']);
      // The parent conversation is as r2 and its followers left it.
      assert.equal(Number(await redis(VALKEY, 'LLEN', `axon:{c:${convOf(r1.id).conv}}:msgs`)), 14);
    });

    it('a deleted item (its tombstone) keeps its position and is never replayed; a branch after it too', async () => {
      const c = sdk(server);
      const r1 = await c.responses.create({ model: CLAUDE, input: `Alpha [[mock id=${newId(server, 't1')} reply=A]]` });
      const r2 = await c.responses.create({ model: CLAUDE, previous_response_id: r1.id, input: `Beta [[mock id=${newId(server, 't2')} reply=B]]` });
      const { conv } = convOf(r2.id);
      // The Conversations API's item delete leaves a tombstone at position 1.
      const del = await call(originOf(stackUrl(server)), `/v1/conversations/${conv}/items/msg_${conv.slice(5)}0000000101`,
        { method: 'DELETE', key: KEY });
      assert.equal(del.status, 200, del.text);
      assert.equal(await redis(VALKEY, 'LINDEX', `axon:{c:${conv}}:msgs`, '1'), '{"deleted":true}');
      const id = newId(server, 't3');
      const r3 = await c.responses.create({ model: CLAUDE, previous_response_id: r2.id, input: `Gamma [[mock id=${id}]]` });
      assert.equal(convOf(r3.id).pos, 6, 'positions count the tombstone');
      const texts = claudeTexts(await onlyRecorded(id)).join(' / ');
      assert.ok(!/(^| \/ )A( \/ |$)/.test(texts.replace(/ \[\[[^\]]*\]\]/g, '')), `the deleted answer is not replayed: ${texts}`);
      assert.match(texts, /Alpha.*Beta.*Gamma/s);
      // A branch from r2 (no longer the tip) copies the history as read:
      // its answer sits after the copied messages and the new input.
      const idb = newId(server, 't4');
      const r4 = await c.responses.create({ model: CLAUDE, previous_response_id: r2.id, input: `Delta [[mock id=${idb}]]` });
      const b = convOf(r4.id);
      assert.notEqual(b.conv, conv);
      const stored = await redis(VALKEY, 'LRANGE', `axon:{c:${b.conv}}:msgs`, '0', '-1');
      assert.equal(b.pos, stored.length, 'the branch\'s id names its tip');
      assert.equal(stored.length, 5, 'Alpha, Beta, B, Delta and its answer');
      const rec = JSON.parse(await redis(VALKEY, 'GET', `axon:{c:${b.conv}}:r:${b.pos.toString(16).padStart(8, '0')}`));
      assert.deepEqual([rec.in_start, rec.in_end], [3, 4]);
    });

    it('round trips: a new stored response 1 (the settle), store false none (the session is kept in memory)', async () => {
      const least = async (body) => {
        const trips = [];
        for (let i = 0; i < 5; i++) {
          const r = await post(server, { model: CLAUDE, input: `Count ${i}`, ...body });
          assert.equal(r.status, 200, r.text);
          trips.push(Number(r.headers.get('x-axon-valkey-round-trips')));
        }
        return Math.min(...trips);
      };
      assert.equal(await least({}), 1);
      assert.equal(await least({ store: false }), 0);
    });

    it('an unknown or unstored previous_response_id is 404 previous_response_not_found', async () => {
      for (const prev of ['resp_' + '0'.repeat(40), 'resp_nope']) {
        const r = await post(server, { model: CLAUDE, previous_response_id: prev, input: 'Hi' });
        assert.equal(r.status, 404, r.text);
        assert.equal(r.json.error.code, 'previous_response_not_found');
        assert.equal(r.json.error.param, 'previous_response_id');
        assert.equal(r.json.error.message, `Previous response with id '${prev}' not found.`);
      }
    });

    it('conversation: a chat conversation_id continued by Responses, and back by chat', async () => {
      const c = sdk(server);
      const id1 = newId(server, 'chat1');
      const chat1 = await c.chat.completions.create({
        model: CLAUDE, conversation_id: 'new', messages: [{ role: 'user', content: `Chat first [[mock id=${id1} reply=C1]]` }],
      });
      const cid = chat1.conversation_id;
      const id2 = newId(server, 'resp2');
      const r = await c.responses.create({ model: CLAUDE, conversation: cid, input: `Responses second [[mock id=${id2} reply=R2]]` });
      assertValid('responseObject', r, 'conversation');
      assert.deepEqual(r.conversation, { id: cid });
      assert.equal(convOf(r.id).conv, cid);
      assert.deepEqual(claudeTexts(await onlyRecorded(id2)).map((t) => t.replace(/ \[\[.*\]\]/, '')),
        ['Chat first', 'C1', 'Responses second']);
      const id3 = newId(server, 'chat3');
      await c.chat.completions.create({
        model: CLAUDE, conversation_id: cid, messages: [{ role: 'user', content: `Chat third [[mock id=${id3}]]` }],
      });
      assert.deepEqual(claudeTexts(await onlyRecorded(id3)).map((t) => t.replace(/ \[\[.*\]\]/, '')),
        ['Chat first', 'C1', 'Responses second', 'R2', 'Chat third']);
    });

    it('a Codex-shaped stateless sequence: store false, encrypted reasoning resent, thinking and tools, 3 turns', async () => {
      const c = sdk(server);
      const base = {
        model: CLAUDE, store: false, include: ['reasoning.encrypted_content'], tools: [WEATHER],
        reasoning: { effort: 'low', summary: 'auto' }, instructions: 'You are a coding agent.', parallel_tool_calls: false,
      };
      const input = [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Weather in Paris and Rome?' }] }];
      let blob;
      for (let turn = 1; turn <= 3; turn++) {
        const id = newId(server, `codex${turn}`);
        const last = input.at(-1);
        if (last.type === 'function_call_output') last.output = `Sunny. [[mock id=${id}]]`;
        else last.content[0].text += ` [[mock id=${id}]]`;
        const r = await c.responses.create({ ...base, input });
        assertValid('responseObject', r, `codex turn ${turn}`);
        const rs = r.output.find((o) => o.type === 'reasoning');
        assert.ok(rs, `turn ${turn} thinks`);
        assert.match(rs.encrypted_content, /^axr1\./);
        if (turn > 1) {
          const body = await onlyRecorded(id);
          // Claude got the signed thinking back, first in the assistant tool turn.
          const asst = body.messages.filter((m) => m.role === 'assistant');
          assert.equal(asst.at(-1).content[0].type, 'thinking');
          assert.ok(JSON.stringify(body.thinking ?? {}).includes('enabled') || JSON.stringify(body.thinking ?? {}).includes('adaptive'));
        }
        blob = rs.encrypted_content;
        // Codex keeps every output item (reasoning without id) and answers the call.
        for (const o of r.output) {
          if (o.type === 'reasoning') input.push({ type: 'reasoning', summary: o.summary, encrypted_content: o.encrypted_content });
          else if (o.type === 'function_call') input.push({ type: 'function_call', call_id: o.call_id, name: o.name, arguments: o.arguments });
          else input.push({ type: 'message', role: 'assistant', content: o.content.map((p) => ({ type: 'output_text', text: p.text })) });
        }
        const fc = r.output.find((o) => o.type === 'function_call');
        if (fc) input.push({ type: 'function_call_output', call_id: fc.call_id, output: 'Sunny.' });
        else input.push({ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'And tomorrow?' }] });
      }
      // A tampered blob: Axon's 400, never Claude's.
      const bad = blob.slice(0, -4) + (blob.endsWith('AAAA') ? 'BBBB' : 'AAAA');
      const id = newId(server, 'tampered');
      const r = await post(server, { ...base, input: [
        { type: 'message', role: 'user', content: `Hi [[mock id=${id}]]` },
        { type: 'reasoning', summary: [], encrypted_content: bad },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hello.' }] },
        { type: 'message', role: 'user', content: 'Again' },
      ] });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error.code, 'invalid_encrypted_content');
      assert.equal(r.json.error.param, 'input[1].encrypted_content');
      assert.deepEqual(await recorded(id), [], 'nothing reached Claude');
    });

    it('an upstream error before the first byte is an HTTP error in OpenAI\'s envelope, streamed or not', async () => {
      for (const stream of [false, true]) {
        const id = newId(server, 'err');
        const r = await post(server, { model: CLAUDE, stream, input: `Hi [[mock id=${id} fault=529]]` });
        assert.ok(r.status >= 500, `${r.status} ${r.text}`);
        assertValid('error', r.json, 'error before the first byte');
      }
    });

    it('an upstream error mid-stream: an error event, then response.failed', async () => {
      const id = newId(server, 'midstream');
      const s = await postStream(server, { model: CLAUDE, input: `Hi [[mock id=${id} fault=error-midstream]]` });
      assert.equal(s.status, 200);
      const final = checkEvents(s.events, 'mid-stream error');
      const t = types(s.events);
      assert.equal(t.at(-2), 'error');
      assert.equal(t.at(-1), 'response.failed');
      assert.equal(final.status, 'failed');
      assert.equal(typeof final.error.message, 'string');
      assert.ok(t.includes('response.output_text.delta'), 'the text before the error went out');
    });

    it('a client that leaves mid-stream cuts the upstream call', async () => {
      const id = newId(server, 'gone');
      const ctl = new AbortController();
      const res = await fetch(`${stackUrl(server)}/responses`, {
        method: 'POST', signal: ctl.signal,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ model: CLAUDE, stream: true, input: `Hi [[mock id=${id} fault=stall-midstream]]` }),
      });
      assert.equal(res.status, 200);
      await assert.rejects(readSse(res, performance.now(), (block) => {
        if (block.includes('response.output_text.delta')) ctl.abort();
      }));
      await waitFor(async () => (await aborts(id)).aborted > 0, 15000, 'the mock to see its transfer cut');
    });
  });
}

// A stack whose Valkey is a port nobody listens on.
for (const server of SERVER_NAMES) {
  describe(`POST /v1/responses with Valkey down, behind ${server}`, () => {
    let stack, origin;
    before(async () => {
      const dir = scratchDir(`resp-down-${server}`);
      stack = await startStack({
        env: cleanEnv({
          AXON_BIN, AXON_SERVER: server, AXON_PORT: String(await freePort()), AXON_API_KEYS: KEY,
          STACK_DIR: dir, AXON_VALKEY_URL: `redis://127.0.0.1:${await freePort()}`,
          AXON_VALKEY_TIMEOUT_MS: '200',
          ANTHROPIC_BASE_URL: mockUrl(), ANTHROPIC_API_KEY: 'sk-ant-test-key',
        }),
        readyFile: () => fs.existsSync(path.join(dir, 'ready')) && path.join(dir, 'ready'),
      });
      origin = originOf(stack.ready.AXON_URL);
    });
    after(async () => { if (stack) await stopStack(stack); });

    const create = (body) => call(origin, '/v1/responses', {
      method: 'POST', key: KEY, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });

    it('store: false and a stored-by-default request are answered; the latter says it was not stored', async () => {
      const a = await create({ model: CLAUDE, store: false, input: `Hi [[mock id=${newId(server, 'down1')}]]` });
      assert.equal(a.status, 200, a.text);
      assertValid('responseObject', a.json, 'stateless, Valkey down');
      const b = await create({ model: CLAUDE, input: `Hi [[mock id=${newId(server, 'down2')}]]` });
      assert.equal(b.status, 200, b.text);
      assert.match(b.json.id, /^resp_[0-9a-f]{40}$/);
      assert.equal(b.headers.get('x-axon-conversation-stored'), 'false');
    });

    it('previous_response_id and conversation need the store: 503', async () => {
      const prev = await create({ model: CLAUDE, previous_response_id: `resp_${'a'.repeat(32)}00000002`, input: 'Hi' });
      assert.equal(prev.status, 503, prev.text);
      assertValid('error', prev.json, 'previous, Valkey down');
      const conv = await create({ model: CLAUDE, conversation: `conv-${'b'.repeat(32)}`, input: 'Hi' });
      assert.equal(conv.status, 503, conv.text);
      assert.ok(conv.headers.get('retry-after'));
    });
  });
}
