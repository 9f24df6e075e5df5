// The Responses API's read side through each web server, with the official
// SDK: responses.retrieve, responses.delete and responses.inputItems.list on
// responses stored in the conversation store (docs/responses.md, "Stored
// responses and items"). The conversation's messages are stored by chat
// completions (the same store), and the response records are put into redis
// as the write side writes them (design: axon:{c:ID}:r:<tip as 8 hex>), so
// these tests hold whichever endpoint made them.
// Every answer is validated against the spec's schemas (Response,
// ResponseItemList, ErrorResponse).
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import OpenAI from 'openai';
import { SERVER_NAMES, KEY, KEY2, stackUrl, originOf, call, assertEnvelope } from './lib.mjs';
import { assertValid } from './schema.mjs';
import { redis } from './redis.mjs';

const VALKEY = process.env.AXON_VALKEY_URL;
const client = (server, key = KEY) =>
  new OpenAI({ baseURL: stackUrl(server), apiKey: key, maxRetries: 0, timeout: 30000 });

const hex8 = (n) => n.toString(16).padStart(8, '0');
const respId = (cid, pos) => `resp_${cid.slice(5)}${hex8(pos)}`;
const itemId = (prefix, cid, pos, part) => `${prefix}_${cid.slice(5)}${hex8(pos)}${part.toString(16).padStart(2, '0')}`;

// A Response object as the non-stream answer gives it (the spec's own
// example for GET /responses/{id}, with our ids, and made valid against the
// spec's schema: the example lacks cache_write_tokens and has a null user).
function responseObject(id, cid, pos, text) {
  return {
    id, object: 'response', created_at: 1741386163, status: 'completed', completed_at: 1741386164,
    error: null, incomplete_details: null, instructions: 'Answer briefly.', max_output_tokens: null,
    model: 'gpt-4o',
    output: [{
      type: 'message', id: itemId('msg', cid, pos, 1), status: 'completed', role: 'assistant',
      content: [{ type: 'output_text', text, annotations: [], logprobs: [] }],
    }],
    parallel_tool_calls: true, previous_response_id: null, reasoning: { effort: null, summary: null },
    store: true, temperature: 1.0, text: { format: { type: 'text' } }, tool_choice: 'auto', tools: [],
    top_p: 1.0, truncation: 'disabled',
    usage: {
      input_tokens: 32, input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 }, output_tokens: 18,
      output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 50,
    },
    metadata: {},
  };
}

// Two turns stored by chat completions: [user a, user b] -> assistant, then
// [user c] -> assistant; and the two responses' records, as the write side
// leaves them. Returns the conversation id and both response ids.
async function seed(server, key = KEY) {
  const ai = client(server, key);
  const t1 = await ai.chat.completions.create({
    model: 'gpt-4o',
    messages: [{ role: 'user', content: 'What is the capital of France?' }, { role: 'user', content: 'One word.' }],
  });
  const cid = t1.conversation_id;
  assert.match(cid, /^conv-[0-9a-f]{32}$/);
  await ai.chat.completions.create({
    model: 'gpt-4o', conversation_id: cid, messages: [{ role: 'user', content: 'And of Italy?' }],
  });
  const ids = [respId(cid, 3), respId(cid, 5)];
  const recs = [
    { response: responseObject(ids[0], cid, 2, 'Paris'), in_start: 0, in_end: 2, instructions: 'Answer briefly.' },
    { response: responseObject(ids[1], cid, 4, 'Rome'), in_start: 3, in_end: 4, instructions: null },
  ];
  for (const [i, pos] of [[0, 3], [1, 5]]) {
    await redis(VALKEY, 'SET', `axon:{c:${cid}}:r:${hex8(pos)}`, JSON.stringify(recs[i]));
    await redis(VALKEY, 'EXPIRE', `axon:{c:${cid}}:r:${hex8(pos)}`, '3600');
  }
  return { cid, ids, recs };
}

// Compiling the spec's Responses schemas takes seconds of one thread: done
// first, so that no kept-alive connection idles out behind it mid-test. The
// record these tests store must itself be a valid Response.
before(() => {
  const cid = `conv-${'0'.repeat(32)}`;
  assertValid('responseObject', responseObject(respId(cid, 1), cid, 0, 'x'), 'the seeded Response');
  assertValid('responseItemList', { object: 'list', data: [], first_id: 'a', last_id: 'a', has_more: false });
  assertValid('itemResource', { id: 'msg_1', type: 'message', role: 'user', content: [] });
  assertValid('conversationItem', { id: 'msg_1', type: 'message', role: 'user', status: 'completed', content: [] });
});

for (const server of SERVER_NAMES) {
  describe(`stored responses behind ${server}`, () => {
    it('responses.retrieve gives the stored Response object', async () => {
      const { ids, recs } = await seed(server);
      const ai = client(server);
      for (let i = 0; i < 2; i++) {
        const got = await ai.responses.retrieve(ids[i]);
        assert.equal(got.output_text, i ? 'Rome' : 'Paris', 'the SDK reads its output');
        delete got.output_text; // the SDK's own addition
        assertValid('responseObject', got, `retrieve ${ids[i]}`);
        assert.deepEqual(JSON.parse(JSON.stringify(got)), recs[i].response);
      }
    });

    it('inputItems.list: the request\'s input items, newest first, paged with after', async () => {
      const { cid, ids } = await seed(server);
      const ai = client(server);
      const page = await ai.responses.inputItems.list(ids[0]);
      for (const it of page.data) assertValid('itemResource', it, 'an input item');
      assert.deepEqual(page.data.map((it) => it.id), [itemId('msg', cid, 1, 0), itemId('msg', cid, 0, 0)]);
      assert.deepEqual(page.data[1], {
        id: itemId('msg', cid, 0, 0), type: 'message', status: 'completed', role: 'user',
        content: [{ type: 'input_text', text: 'What is the capital of France?' }],
      });
      // One at a time, oldest first: the SDK follows has_more with after.
      const seen = [];
      for await (const it of ai.responses.inputItems.list(ids[0], { limit: 1, order: 'asc' })) seen.push(it.content[0].text);
      assert.deepEqual(seen, ['What is the capital of France?', 'One word.']);
      // The second response's input: its own message only.
      const second = await ai.responses.inputItems.list(ids[1]);
      assert.deepEqual(second.data.map((it) => it.content[0].text), ['And of Italy?']);
      // The raw answer, as the spec has it.
      const raw = await call(originOf(stackUrl(server)), `/v1/responses/${ids[0]}/input_items?limit=1`, { key: KEY });
      assert.equal(raw.status, 200);
      assertValid('responseItemList', raw.json, 'input_items, raw');
      assert.equal(raw.json.has_more, true);
      assert.equal(raw.json.first_id, itemId('msg', cid, 1, 0));
      assert.equal(raw.json.last_id, raw.json.first_id);
    });

    it('another key\'s response, an unknown one and a malformed one: OpenAI\'s 404 and 400', async () => {
      const { cid, ids } = await seed(server);
      const origin = originOf(stackUrl(server));
      for (const path of [`/v1/responses/${ids[0]}`, `/v1/responses/${ids[0]}/input_items`]) {
        const res = await call(origin, path, { key: KEY2 });
        assertEnvelope(res, 404, { type: 'invalid_request_error', message: `Response with id '${ids[0]}' not found.` });
        assertValid('error', res.json, path);
      }
      const del = await call(origin, `/v1/responses/${ids[0]}`, { method: 'DELETE', key: KEY2 });
      assertEnvelope(del, 404, { message: `Response with id '${ids[0]}' not found.` });
      // A position no response ended at (a chat turn's tip), a random id.
      for (const id of [respId(cid, 2), `resp_${'ab'.repeat(20)}`, 'resp_abc']) {
        const res = await call(origin, `/v1/responses/${id}`, { key: KEY });
        assertEnvelope(res, 404, { message: `Response with id '${id}' not found.` });
      }
      const bad = await call(origin, '/v1/responses/msg_123', { key: KEY });
      assertEnvelope(bad, 400, {
        code: 'invalid_id_prefix', message: "Invalid 'response_id': 'msg_123'. Expected an ID that begins with 'resp'.",
      });
      // The SDK's error classes.
      await assert.rejects(client(server, KEY2).responses.retrieve(ids[0]), OpenAI.NotFoundError);
      // Bad query values, in OpenAI's words.
      const lim = await call(origin, `/v1/responses/${ids[0]}/input_items?limit=101`, { key: KEY });
      assertEnvelope(lim, 400, { code: 'integer_above_max_value' });
      const ord = await call(origin, `/v1/responses/${ids[0]}/input_items?order=up`, { key: KEY });
      assertEnvelope(ord, 400, { message: "Invalid value: 'up'. Supported values are: 'asc' and 'desc'." });
    });

    it('every kind of stored message gives items valid as ItemResource and ConversationItem', async () => {
      // A conversation written as the store writes one (operations.md,
      // "Valkey"; the owner is the key's tenant, auth.c), with a record
      // whose input range covers all of it: the view of every kind.
      const cid = `conv-${crypto.randomBytes(16).toString('hex')}`;
      const tenant = crypto.createHash('sha256').update(KEY).digest('hex').slice(0, 16);
      const msgs = [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'Look:' }, { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'low' } },
          { type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } }] },
        { role: 'assistant', content: 'Checking.', reasoning_content: 'The user wants the weather.',
          thinking_blocks: [{ type: 'thinking', thinking: 'The user wants the weather.', signature: 'SECRET-SIGNATURE' }],
          tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
            { id: 'toolu_2', type: 'function', function: { name: 'time', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
        { role: 'tool', tool_call_id: 'toolu_2', content: [{ type: 'text', text: 'noon' }] },
        { role: 'assistant', content: null, refusal: 'I cannot say.' },
        { deleted: true },
      ];
      const bytes = msgs.reduce((n, m) => n + JSON.stringify(m).length, 0);
      await redis(VALKEY, 'HSET', `axon:{c:${cid}}:meta`, 'owner', tenant, 'model', 'gpt-4o', 'created', '1', 'updated', '1',
        'message_count', String(msgs.length), 'bytes', String(bytes));
      await redis(VALKEY, 'RPUSH', `axon:{c:${cid}}:msgs`, ...msgs.map((m) => JSON.stringify(m)));
      const rid = respId(cid, msgs.length);
      await redis(VALKEY, 'SET', `axon:{c:${cid}}:r:${hex8(msgs.length)}`,
        JSON.stringify({ response: responseObject(rid, cid, 5, 'x'), in_start: 0, in_end: msgs.length, instructions: null }));
      for (const k of ['meta', 'msgs', `r:${hex8(msgs.length)}`]) await redis(VALKEY, 'EXPIRE', `axon:{c:${cid}}:${k}`, '3600');
      const res = await call(originOf(stackUrl(server)), `/v1/responses/${rid}/input_items?order=asc`, { key: KEY });
      assert.equal(res.status, 200, res.text);
      assertValid('responseItemList', res.json, 'every kind');
      assert.ok(!res.text.includes('SECRET-SIGNATURE'), 'signed thinking never shown');
      for (const it of res.json.data) assertValid('conversationItem', it, `${it.type} as a ConversationItem`);
      assert.deepEqual(res.json.data.map((it) => [it.type, it.id.slice(-10)]), [
        ['message', '0000000000'], ['message', '0000000100'], ['reasoning', '0000000200'], ['message', '0000000201'],
        ['function_call', '0000000202'], ['function_call', '0000000203'], ['function_call_output', '0000000300'],
        ['function_call_output', '0000000400'], ['message', '0000000501'],
      ]);
      const d = res.json.data;
      assert.deepEqual(d[1].content.map((p) => p.type), ['input_text', 'input_image', 'input_file']);
      assert.deepEqual(d[2].summary, [{ type: 'summary_text', text: 'The user wants the weather.' }]);
      assert.deepEqual([d[4].call_id, d[4].name, d[4].arguments], ['toolu_1', 'weather', '{"city":"Paris"}']);
      assert.deepEqual([d[6].call_id, d[6].output], ['toolu_1', 'sunny']);
      assert.deepEqual(d[7].output, [{ type: 'input_text', text: 'noon' }]);
      assert.deepEqual(d[8].content, [{ type: 'refusal', refusal: 'I cannot say.' }]);
    });

    it('responses.delete removes the response, not the conversation', async () => {
      const { cid, ids } = await seed(server);
      const ai = client(server);
      const origin = originOf(stackUrl(server));
      const raw = await call(origin, `/v1/responses/${ids[0]}`, { method: 'DELETE', key: KEY });
      assert.equal(raw.status, 200);
      assert.deepEqual(raw.json, { id: ids[0], object: 'response', deleted: true });
      await assert.rejects(ai.responses.retrieve(ids[0]), OpenAI.NotFoundError);
      await assert.rejects(ai.responses.inputItems.list(ids[0]), OpenAI.NotFoundError);
      await assert.rejects(ai.responses.delete(ids[0]), OpenAI.NotFoundError);
      // The SDK's own delete, on the other one.
      await ai.responses.delete(ids[1]);
      await assert.rejects(ai.responses.retrieve(ids[1]), OpenAI.NotFoundError);
      const conv = await call(origin, `/v1/conversations/${cid}`, { key: KEY });
      assert.equal(conv.status, 200);
      assert.equal(conv.json.messages.length, 5, 'the conversation keeps its messages');
    });
  });
}
