// OpenAI's Conversations API through each web server, with the official
// SDK's conversations.* and conversations.items.*, every answer validated
// against the spec's schemas (schema.mjs): create with items and metadata,
// retrieve (Axon's fields kept), metadata update, delete; items listed,
// paged, added, read and deleted (a tombstone: positions and ids stay);
// and the same conversations as chat completions' conversation_id, both
// ways (a chat-started conversation listed as items; items added by the
// API then continued by chat, as the mock's recorded request shows).
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { SERVER_NAMES, KEY, KEY2, stackUrl, originOf, call, assertEnvelope } from './lib.mjs';
import { assertValid, precompile } from './schema.mjs';
import { recorded } from './mock.mjs';
import { redis } from './redis.mjs';

const VALKEY = process.env.AXON_VALKEY_URL;

const CONV_RE = /^conv-[0-9a-f]{32}$/;
let counter = 0;
const tag = (server, t) => `capi-${server}-${t}-${++counter}-${process.pid}`;
const marker = (id) => `[[mock id=${id}]]`;
const client = (server, key = KEY) => new OpenAI({ baseURL: stackUrl(server), apiKey: key, maxRetries: 0, timeout: 30000 });
const hex = (cid) => cid.slice(5);

async function allItems(ai, cid, query = {}) {
  const out = [];
  for await (const it of ai.conversations.items.list(cid, query)) out.push(it);
  return out;
}

async function rawItems(server, cid, qs = '', key = KEY) {
  const r = await call(originOf(stackUrl(server)), `/v1/conversations/${cid}/items${qs}`, { key });
  if (r.status === 200) {
    assertValid('conversationItemList', r.json, `items of ${cid}${qs}`);
    for (const it of r.json.data) assertValid('conversationItem', it, `an item of ${cid}`);
  }
  return r;
}

// The Conversations schemas compile in seconds: before any request (schema.mjs).
before(() => precompile('conversation', 'conversationDeleted', 'conversationItem', 'conversationItemList', 'error'));

for (const server of SERVER_NAMES) {
  describe(`the Conversations API behind ${server}`, () => {
    it('create with items and metadata, retrieve, update, delete (SDK, spec shapes)', async () => {
      const ai = client(server);
      const conv = await ai.conversations.create({
        metadata: { topic: 'demo', owner: 'tests' },
        items: [
          { type: 'message', role: 'system', content: 'Be brief.' },
          { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hello there' }] },
        ],
      });
      assertValid('conversation', conv, 'conversations.create');
      assert.match(conv.id, CONV_RE);
      assert.equal(conv.object, 'conversation');
      assert.deepEqual(conv.metadata, { topic: 'demo', owner: 'tests' });
      const now = Math.floor(Date.now() / 1000);
      assert.ok(Math.abs(conv.created_at - now) < 30, `created_at ${conv.created_at}`);

      const got = await ai.conversations.retrieve(conv.id);
      assertValid('conversation', got, 'conversations.retrieve');
      assert.equal(got.created_at, conv.created_at);
      assert.deepEqual(got.metadata, conv.metadata);
      // Axon's own fields stay: the messages as stored, counted.
      assert.equal(got.message_count, 2);
      assert.deepEqual(got.messages, [
        { role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'Hello there' }] },
      ]);

      const upd = await ai.conversations.update(conv.id, { metadata: { topic: 'changed' } });
      assertValid('conversation', upd, 'conversations.update');
      assert.deepEqual(upd.metadata, { topic: 'changed' });
      assert.equal(upd.created_at, conv.created_at);
      assert.deepEqual((await ai.conversations.retrieve(conv.id)).metadata, { topic: 'changed' });

      const items = await allItems(ai, conv.id, { order: 'asc' });
      assert.deepEqual(items.map((i) => [i.type, i.role]), [['message', 'system'], ['message', 'user']]);
      assert.equal(items[1].id, `msg_${hex(conv.id)}0000000100`, 'the id derived from the position');
      assert.deepEqual(items[1].content, [{ type: 'input_text', text: 'Hello there' }]);

      // An empty one: no items, no metadata ({}).
      const empty = await ai.conversations.create({});
      assertValid('conversation', empty, 'an empty conversation');
      assert.deepEqual(empty.metadata, {});
      assert.deepEqual(await allItems(ai, empty.id), []);

      const del = await ai.conversations.delete(conv.id);
      assertValid('conversationDeleted', del, 'conversations.delete');
      assert.deepEqual(del, { id: conv.id, object: 'conversation.deleted', deleted: true });
      await assert.rejects(ai.conversations.retrieve(conv.id), (e) => e.status === 404);
      await assert.rejects(ai.conversations.items.list(conv.id), (e) => e.status === 404);
    });

    it('a conversation started in chat completions is listed as items, and read item by item', async () => {
      const ai = client(server);
      const id = tag(server, 'chat');
      const first = await ai.chat.completions.create({
        model: 'gpt-4o', messages: [{ role: 'user', content: `Hi ${marker(id)}` }],
      });
      const cid = first.conversation_id;
      assert.match(cid, CONV_RE);
      const raw = await rawItems(server, cid, '?order=asc');
      assert.equal(raw.status, 200, raw.text);
      const items = raw.json.data;
      assert.deepEqual(items.map((i) => [i.type, i.role]), [['message', 'user'], ['message', 'assistant']]);
      assert.equal(items[0].id, `msg_${hex(cid)}0000000000`);
      assert.equal(items[1].id, `msg_${hex(cid)}0000000101`, 'an assistant message is part 1 of its entry');
      assert.equal(items[1].content[0].type, 'output_text');
      assert.equal(items[1].content[0].text, first.choices[0].message.content);
      assert.equal(raw.json.first_id, items[0].id);
      assert.equal(raw.json.last_id, items[1].id);
      assert.equal(raw.json.has_more, false);
      // The default order is desc (newest first), as OpenAI's.
      const desc = await allItems(ai, cid);
      assert.deepEqual(desc.map((i) => i.id), [items[1].id, items[0].id]);

      const one = await ai.conversations.items.retrieve(items[1].id, { conversation_id: cid });
      assertValid('conversationItem', one, 'items.retrieve');
      assert.deepEqual(one, items[1]);
      // Another conversation's item id, a part the message does not have,
      // a made-up id: 404 in OpenAI's words.
      const other = await ai.conversations.create({});
      for (const bad of [`msg_${hex(other.id)}0000000000`, `rs_${hex(cid)}0000000100`]) {
        const r = await call(originOf(stackUrl(server)), `/v1/conversations/${cid}/items/${bad}`, { key: KEY });
        assertEnvelope(r, 404, { type: 'invalid_request_error', message: `Item with id '${bad}' not found.` });
      }
      // Not an id Axon gives: not echoed.
      const nope = await call(originOf(stackUrl(server)), `/v1/conversations/${cid}/items/msg_n%22ope`, { key: KEY });
      assertEnvelope(nope, 404, { type: 'invalid_request_error' });
      assert.ok(!nope.text.includes('n\\"ope') && !nope.text.includes('msg_n'), nope.text);
    });

    it('items added by the API are continued by chat completions; a deleted item is a tombstone', async () => {
      const ai = client(server);
      const ids = [tag(server, 'a1'), tag(server, 'a2'), tag(server, 'a3')];
      const first = await ai.chat.completions.create({
        model: 'gpt-4o', messages: [{ role: 'user', content: `Start ${marker(ids[0])}` }],
      });
      const cid = first.conversation_id;
      const added = await ai.conversations.items.create(cid, {
        items: [
          { type: 'message', role: 'user', content: 'Remember the code word: teal.' },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Noted: teal.' }] },
        ],
      });
      assertValid('conversationItemList', added, 'items.create');
      assert.deepEqual(added.data.map((i) => i.id), [`msg_${hex(cid)}0000000200`, `msg_${hex(cid)}0000000301`]);
      assert.equal(added.first_id, added.data[0].id);
      assert.equal(added.last_id, added.data[1].id);
      assert.equal(added.has_more, false);

      await ai.chat.completions.create({
        model: 'gpt-4o', conversation_id: cid, messages: [{ role: 'user', content: `Which word? ${marker(ids[1])}` }],
      });
      const seen = (await recorded(ids[1])).at(-1).body.messages;
      const text = (m) => (typeof m.content === 'string' ? m.content : m.content.map((b) => b.text ?? '').join(''));
      assert.deepEqual(seen.map((m) => m.role), ['user', 'assistant', 'user', 'assistant', 'user']);
      assert.equal(text(seen[2]), 'Remember the code word: teal.', 'the added items reach the upstream');
      assert.equal(text(seen[3]), 'Noted: teal.');

      // Delete the added user item: the conversation object comes back.
      const after = await ai.conversations.items.delete(added.data[0].id, { conversation_id: cid });
      assertValid('conversation', after, 'items.delete');
      assert.equal(after.id, cid);
      await assert.rejects(ai.conversations.items.retrieve(added.data[0].id, { conversation_id: cid }),
        (e) => e.status === 404);
      // Positions stay: the next item's id is unchanged, message_count counts the tombstone.
      const left = await allItems(ai, cid, { order: 'asc' });
      assert.equal(left.length, 5);
      assert.ok(!left.some((i) => i.id === added.data[0].id));
      assert.equal(left[2].id, added.data[1].id);
      const conv = await call(originOf(stackUrl(server)), `/v1/conversations/${cid}`, { key: KEY });
      assert.equal(conv.json.message_count, 6);
      assert.equal(conv.json.messages.length, 5, 'GET messages skips the deleted one');
      // The replay skips it too.
      await ai.chat.completions.create({
        model: 'gpt-4o', conversation_id: cid, messages: [{ role: 'user', content: `Again ${marker(ids[2])}` }],
      });
      const seen2 = (await recorded(ids[2])).at(-1).body.messages;
      assert.ok(!seen2.some((m) => text(m).includes('Remember the code word')), 'the deleted item is not replayed');
      assert.ok(seen2.some((m) => text(m).includes('Noted: teal.')), 'the item after it still is');
    });

    it('a conversation created by the API with items is continued by chat, which names its model', async () => {
      const ai = client(server);
      const id = tag(server, 'c1');
      const conv = await ai.conversations.create({
        items: [
          { type: 'message', role: 'developer', content: 'Answer in French.' },
          { type: 'message', role: 'user', content: 'My name is Ada.' },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Bonjour Ada.' }] },
        ],
      });
      assert.equal((await ai.conversations.retrieve(conv.id)).model, '', 'no model before a turn');
      const turn = await ai.chat.completions.create({
        model: 'gpt-4o', conversation_id: conv.id, messages: [{ role: 'user', content: `My name? ${marker(id)}` }],
      });
      assert.equal(turn.conversation_id, conv.id);
      const body = (await recorded(id)).at(-1).body;
      const text = (m) => (typeof m.content === 'string' ? m.content : m.content.map((b) => b.text ?? '').join(''));
      const sys = typeof body.system === 'string' ? body.system : (body.system ?? []).map((b) => b.text).join('');
      assert.match(sys, /Answer in French\./, 'the developer item is the system prompt');
      assert.deepEqual(body.messages.map((m) => [m.role, text(m)]), [
        ['user', 'My name is Ada.'], ['assistant', 'Bonjour Ada.'], ['user', `My name? ${marker(id)}`],
      ]);
      const got = await ai.conversations.retrieve(conv.id);
      assert.equal(got.model, 'gpt-4o', 'the first turn names the model');
      assert.equal(got.message_count, 5);
    });

    it('items: paging with limit and after, both orders; function calls and their outputs', async () => {
      const ai = client(server);
      const conv = await ai.conversations.create({
        items: [
          { type: 'message', role: 'user', content: 'What is the weather?' },
          { type: 'function_call', call_id: 'call_w1', name: 'weather', arguments: '{"city":"Oslo"}' },
          { type: 'function_call', call_id: 'call_w2', name: 'weather', arguments: '{"city":"Rome"}' },
          { type: 'function_call_output', call_id: 'call_w1', output: 'rain' },
          { type: 'function_call_output', call_id: 'call_w2', output: 'sun' },
        ],
      });
      const h = hex(conv.id);
      const all = await allItems(ai, conv.id, { order: 'asc' });
      // Two parallel calls are one stored assistant message (parts 2 and 3).
      assert.deepEqual(all.map((i) => i.id), [
        `msg_${h}0000000000`, `fc_${h}0000000102`, `fc_${h}0000000103`, `fco_${h}0000000200`, `fco_${h}0000000300`,
      ]);
      assert.deepEqual(all.map((i) => i.type), ['message', 'function_call', 'function_call', 'function_call_output', 'function_call_output']);
      assert.equal(all[1].call_id, 'call_w1');
      assert.equal(all[2].arguments, '{"city":"Rome"}');
      assert.equal(all[4].output, 'sun');
      const p1 = await rawItems(server, conv.id, '?order=asc&limit=2');
      assert.deepEqual(p1.json.data.map((i) => i.id), all.slice(0, 2).map((i) => i.id));
      assert.equal(p1.json.has_more, true);
      const p2 = await rawItems(server, conv.id, `?order=asc&limit=2&after=${p1.json.last_id}`);
      assert.deepEqual(p2.json.data.map((i) => i.id), all.slice(2, 4).map((i) => i.id));
      const p3 = await rawItems(server, conv.id, `?order=asc&limit=2&after=${p2.json.last_id}`);
      assert.deepEqual(p3.json.data.map((i) => i.id), [all[4].id]);
      assert.equal(p3.json.has_more, false);
      const d1 = await rawItems(server, conv.id, '?limit=3');
      assert.deepEqual(d1.json.data.map((i) => i.id), all.slice(2).reverse().map((i) => i.id));
      // The SDK pages by itself with limit 2.
      assert.deepEqual((await allItems(ai, conv.id, { limit: 2, order: 'asc' })).map((i) => i.id), all.map((i) => i.id));
    });

    it('refusals: another key, bad metadata, too many items, unknown fields and item types', async () => {
      const ai = client(server);
      const origin = originOf(stackUrl(server));
      const conv = await ai.conversations.create({ items: [{ type: 'message', role: 'user', content: 'x' }] });
      const item = `msg_${hex(conv.id)}0000000000`;
      for (const [method, path, body] of [
        ['GET', `/v1/conversations/${conv.id}`], ['GET', `/v1/conversations/${conv.id}/items`],
        ['GET', `/v1/conversations/${conv.id}/items/${item}`], ['DELETE', `/v1/conversations/${conv.id}/items/${item}`],
        ['POST', `/v1/conversations/${conv.id}`, { metadata: { a: 'b' } }],
        ['POST', `/v1/conversations/${conv.id}/items`, { items: [{ role: 'user', content: 'y' }] }],
      ]) {
        const r = await call(origin, path, {
          method, key: KEY2, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body),
        });
        assert.equal(r.status, 404, `${method} ${path} with another key: ${r.text}`);
      }
      assert.equal((await ai.conversations.retrieve(conv.id)).message_count, 1, 'nothing changed');
      const post = (path, body) => call(origin, path, {
        method: 'POST', key: KEY, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      const md17 = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
      assertEnvelope(await post('/v1/conversations', { metadata: md17 }), 400, {
        type: 'invalid_request_error', code: 'object_above_max_properties',
        message: "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with 17 properties instead.",
      });
      assertEnvelope(await post(`/v1/conversations/${conv.id}`, { metadata: { k: 'v'.repeat(513) } }), 400, {
        type: 'invalid_request_error', code: 'string_above_max_length',
      });
      const many = Array.from({ length: 21 }, () => ({ type: 'message', role: 'user', content: 'z' }));
      assertEnvelope(await post(`/v1/conversations/${conv.id}/items`, { items: many }), 400, {
        type: 'invalid_request_error', code: 'array_above_max_length',
        message: "Invalid 'items': array too long. Expected an array with maximum length 20, but got an array with length 21 instead.",
      });
      assertEnvelope(await post('/v1/conversations', { items: many }), 400, { code: 'array_above_max_length' });
      assertEnvelope(await post('/v1/conversations', { nope: 1 }), 400, {
        code: 'unknown_parameter', message: "Unknown parameter: 'nope'.",
      });
      // Items go through the Responses parser (resp_in.h) without lookups: a
      // reference names nothing a conversation can hold (404), a sealed
      // reasoning item cannot be opened here (400), in items[N]'s names.
      assertEnvelope(await post(`/v1/conversations/${conv.id}/items`, { items: [{ type: 'item_reference', id: 'x' }] }), 404, {
        type: 'invalid_request_error',
      });
      const sealed = await post(`/v1/conversations/${conv.id}/items`, { items: [{ role: 'user', content: 'a' }, { type: 'reasoning', summary: [], encrypted_content: 'axr1.x' }] });
      const se = assertEnvelope(sealed, 400, { type: 'invalid_request_error' });
      assert.match(se.param ?? '', /^items\[1\]/, 'the parser\'s input[N] told as items[N]');
      assertEnvelope(await post(`/v1/conversations/${conv.id}`, {}), 400, { code: 'missing_required_parameter' });
      assert.equal((await ai.conversations.retrieve(conv.id)).message_count, 1, 'nothing stored by a refusal');
      // While a turn holds the conversation's turn lock: 409, as chat's second turn.
      await redis(VALKEY, 'SET', `axon:{c:${conv.id}}:turn`, 'a-turn', 'PX', '10000');
      const busy = await post(`/v1/conversations/${conv.id}/items`, { items: [{ role: 'user', content: 'late' }] });
      assertEnvelope(busy, 409, { type: 'invalid_request_error', code: 'conversation_busy' });
      assert.equal(busy.headers.get('retry-after'), '1');
      await redis(VALKEY, 'DEL', `axon:{c:${conv.id}}:turn`);
      assert.equal((await post(`/v1/conversations/${conv.id}/items`, { items: [{ role: 'user', content: 'now' }] })).status, 200);
      assert.equal((await ai.conversations.retrieve(conv.id)).message_count, 2);

    });
  });
}
