// Conversations through each web server, stored in the suite's redis-server:
// ids, continuing (the mock Claude sees the whole history), what is stored
// (tool calls and signed thinking, replayed exactly), ownership across keys,
// the GET/DELETE/list endpoints, failures that store nothing, concurrent
// turns, the TTL, the replay budget, and AXON_STORE=on_request.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import {
  SERVER_NAMES, KEY, KEY2, AXON_BIN, stackUrl, originOf, call, assertEnvelope, readSse, dataOf,
  cleanEnv, scratchDir, freePort, startStack, stopStack, TEST_VALKEY_TIMEOUT_MS,
} from './lib.mjs';
import { assertValid } from './schema.mjs';
import { recorded, mockUrl } from './mock.mjs';
import { redis } from './redis.mjs';

const VALKEY = process.env.AXON_VALKEY_URL;
const CONV_RE = /^conv-[0-9a-f]{32}$/;
const TTL = 604800;
let counter = 0;
const newId = (server, tag) => `conv-${server}-${tag}-${++counter}-${process.pid}`;
const marker = (id, extra = '') => `[[mock id=${id}${extra ? ` ${extra}` : ''}]]`;

const client = (server, key = KEY) => new OpenAI({ baseURL: stackUrl(server), apiKey: key, maxRetries: 0, timeout: 30000 });

async function getConv(server, id, key = KEY) {
  return call(originOf(stackUrl(server)), `/v1/conversations/${id}`, { key });
}

async function lastRecord(id) {
  const recs = await recorded(id);
  assert.ok(recs.length >= 1, `the mock got a request for ${id}`);
  return recs.at(-1).body;
}

// A raw streamed POST; returns the parsed chunks (validated) and the end.
async function stream(server, body, key = KEY) {
  const res = await fetch(`${stackUrl(server)}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ ...body, stream: true }),
    signal: AbortSignal.timeout(30000),
  });
  assert.equal(res.status, 200);
  const { blocks } = await readSse(res, performance.now());
  const data = dataOf(blocks).map((d) => d.data);
  const objs = data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
  for (const o of objs) assertValid(o.error ? 'error' : 'chunk', o, 'a conversation stream');
  return { res, objs, done: data.at(-1) === '[DONE]' };
}

for (const server of SERVER_NAMES) {
  describe(`conversations behind ${server}`, () => {
    it('three turns: the upstream sees the whole history, message_count is 6, the TTL is set and slides', async () => {
      const ai = client(server);
      const ids = [newId(server, 't1'), newId(server, 't2'), newId(server, 't3')];
      const first = await ai.chat.completions.create({
        model: 'gpt-4o', messages: [{ role: 'user', content: `Hello ${marker(ids[0])}` }],
      });
      assertValid('response', first, 'turn 1');
      const cid = first.conversation_id;
      assert.match(cid, CONV_RE, 'a new conversation id at the top level');
      const keyTtl = await redis(VALKEY, 'TTL', `axon:{c:${cid}}:msgs`);
      assert.ok(keyTtl > TTL - 30 && keyTtl <= TTL, `TTL of the messages after turn 1: ${keyTtl}`);
      // Shorten it by hand: the next turn must slide it back to the full TTL.
      await redis(VALKEY, 'EXPIRE', `axon:{c:${cid}}:msgs`, '100');
      await redis(VALKEY, 'EXPIRE', `axon:{c:${cid}}:meta`, '100');

      const second = await ai.chat.completions.create({
        model: 'gpt-4o', conversation_id: cid, messages: [{ role: 'user', content: `And two ${marker(ids[1])}` }],
      });
      assert.equal(second.conversation_id, cid, 'the same id on a continued conversation');
      for (const k of ['msgs', 'meta']) {
        const t = await redis(VALKEY, 'TTL', `axon:{c:${cid}}:${k}`);
        assert.ok(t > TTL - 30, `turn 2 slid the TTL of ${k} back: ${t}`);
      }
      const third = await ai.chat.completions.create({
        model: 'gpt-4o', conversation_id: cid, messages: [{ role: 'user', content: `And three ${marker(ids[2])}` }],
      });
      assert.equal(third.conversation_id, cid);

      const body = await lastRecord(ids[2]);
      assert.deepEqual(body.messages.map((m) => m.role), ['user', 'assistant', 'user', 'assistant', 'user']);
      const text = (m) => (typeof m.content === 'string' ? m.content : m.content.map((b) => b.text).join(''));
      assert.equal(text(body.messages[0]), `Hello ${marker(ids[0])}`);
      assert.equal(text(body.messages[1]), first.choices[0].message.content, 'answer 1 replayed as sent');
      assert.equal(text(body.messages[3]), second.choices[0].message.content, 'answer 2 replayed as sent');

      const got = await getConv(server, cid);
      assert.equal(got.status, 200, got.text);
      const c = got.json;
      assert.deepEqual(Object.keys(c), ['id', 'object', 'created', 'updated', 'model', 'message_count', 'created_at', 'metadata', 'messages']);
      assert.equal(c.id, cid);
      assert.equal(c.object, 'conversation');
      assert.equal(c.message_count, 6);
      assert.equal(c.model, 'gpt-4o', 'the model the client asked for');
      assert.ok(Number.isInteger(c.created) && c.updated >= c.created);
      assert.deepEqual(c.messages.map((m) => m.role), ['user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
      assert.deepEqual(c.messages[2], { role: 'user', content: `And two ${marker(ids[1])}` }, 'client messages stored as sent');
      assert.equal(c.messages[5].content, third.choices[0].message.content);
    });

    it('another API key can neither read, continue, delete nor list it; the owner still can', async () => {
      assert.ok(KEY2, 'AXON_TEST_KEY2 is not set');
      const id = newId(server, 'own');
      const first = await client(server).chat.completions.create({
        model: 'gpt-4o', messages: [{ role: 'user', content: `Mine ${marker(id)}` }],
      });
      const cid = first.conversation_id;
      const origin = originOf(stackUrl(server));
      const read = await getConv(server, cid, KEY2);
      assertEnvelope(read, 404, { type: 'invalid_request_error', code: 'conversation_not_found' });
      assert.equal(read.json.error.message, `Conversation ${cid} not found.`);
      const cont = await call(origin, '/v1/chat/completions', {
        method: 'POST', key: KEY2, headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', conversation_id: cid, messages: [{ role: 'user', content: `Yours? ${marker(newId(server, 'x'))}` }] }),
      });
      assertEnvelope(cont, 404, { code: 'conversation_not_found' });
      assert.equal(cont.json.error.message, read.json.error.message, 'foreign and missing look the same');
      const del = await call(origin, `/v1/conversations/${cid}`, { method: 'DELETE', key: KEY2 });
      assertEnvelope(del, 404, { code: 'conversation_not_found' });
      const list = await call(origin, '/v1/conversations?limit=100', { key: KEY2 });
      assert.equal(list.status, 200);
      assert.ok(!list.json.data.some((c) => c.id === cid), 'not in the other key\'s list');
      const mine = await getConv(server, cid);
      assert.equal(mine.status, 200);
      assert.equal(mine.json.message_count, 2, 'nothing changed');
    });

    it('a streamed turn names the conversation on its first chunk only and stores its answer', async () => {
      const id = newId(server, 'stream');
      const s1 = await stream(server, { model: 'gpt-4o', messages: [{ role: 'user', content: `Stream ${marker(id)}` }] });
      assert.ok(s1.done);
      const cid = s1.objs[0].conversation_id;
      assert.match(cid, CONV_RE, 'conversation_id on the first chunk');
      assert.ok(s1.objs.slice(1).every((o) => !('conversation_id' in o)), 'and on no other chunk');
      const text = s1.objs.map((o) => o.choices?.[0]?.delta?.content ?? '').join('');
      const id2 = newId(server, 'stream2');
      const s2 = await stream(server, { model: 'gpt-4o', conversation_id: cid, messages: [{ role: 'user', content: `More ${marker(id2)}` }] });
      assert.equal(s2.objs[0].conversation_id, cid);
      const got = (await getConv(server, cid)).json;
      assert.equal(got.message_count, 4);
      assert.equal(got.messages[1].content, text, 'the streamed answer, as the client saw it');
      const body = await lastRecord(id2);
      assert.equal(body.messages.length, 3, 'the second stream replayed the first turn');
    });

    it('tool calls and signed thinking are stored and replayed exactly (the mock checks the thinking block leads)', async () => {
      const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
      const id1 = newId(server, 'tool1');
      const ai = client(server);
      const t1 = await ai.chat.completions.create({
        model: 'gpt-4o', thinking: true, tools, max_tokens: 8000,
        messages: [{ role: 'user', content: `Weather in Paris? ${marker(id1)}` }],
      });
      const cid = t1.conversation_id;
      const call1 = t1.choices[0].message.tool_calls[0];
      assert.equal(t1.choices[0].finish_reason, 'tool_calls');
      const stored = (await getConv(server, cid)).json.messages[1];
      assert.deepEqual(stored.tool_calls, t1.choices[0].message.tool_calls, 'tool calls stored as answered');
      assert.ok(Array.isArray(stored.thinking_blocks) && stored.thinking_blocks.length >= 1, 'signed thinking stored');
      assert.equal(stored.thinking_blocks[0].type, 'thinking');
      assert.ok(stored.thinking_blocks[0].signature, 'with its signature');

      const id2 = newId(server, 'tool2');
      const t2 = await ai.chat.completions.create({
        model: 'gpt-4o', thinking: true, tools, max_tokens: 8000, conversation_id: cid,
        messages: [{ role: 'tool', tool_call_id: call1.id, content: `Sunny ${marker(id2)}` }],
      });
      assert.equal(t2.choices[0].finish_reason, 'stop');
      assert.match(t2.choices[0].message.content, /The tool said: Sunny/);
      const body = await lastRecord(id2);
      const asst = body.messages[1];
      assert.equal(asst.role, 'assistant');
      assert.deepEqual(asst.content[0], { type: 'thinking', thinking: stored.thinking_blocks[0].thinking, signature: stored.thinking_blocks[0].signature },
        'the thinking block goes back first, byte for byte');
      const use = asst.content.find((b) => b.type === 'tool_use');
      assert.equal(use.id, call1.id.replace(/^call_/, 'toolu_'));
      assert.deepEqual(use.input, JSON.parse(call1.function.arguments));
      assert.equal(body.messages[2].content[0].type, 'tool_result');
      assert.equal((await getConv(server, cid)).json.message_count, 4);
    });

    it('a failed upstream call stores nothing, streamed or not, new or continued', async () => {
      const ai = client(server);
      const id = newId(server, 'fail');
      const first = await ai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `Start ${marker(id)}` }] });
      const cid = first.conversation_id;
      await assert.rejects(ai.chat.completions.create({
        model: 'gpt-4o', conversation_id: cid, messages: [{ role: 'user', content: `Boom ${marker(newId(server, 'f500'), 'fault=500')}` }],
      }), (err) => err.status >= 500);
      const s = await stream(server, { model: 'gpt-4o', conversation_id: cid, messages: [{ role: 'user', content: `Cut ${marker(newId(server, 'fmid'), 'fault=error-midstream')}` }] });
      assert.ok(s.objs.at(-1).error, 'the stream ended with an error chunk');
      const got = (await getConv(server, cid)).json;
      assert.equal(got.message_count, 2, 'no dangling user turn');
      // A new conversation whose first call fails leaves no keys behind.
      const before = await redis(VALKEY, 'ZCARD', 'axon:{g}:active');
      await assert.rejects(ai.chat.completions.create({
        model: 'gpt-4o', messages: [{ role: 'user', content: `New ${marker(newId(server, 'fnew'), 'fault=529')}` }],
      }), (err) => err.status === 503);
      assert.equal(await redis(VALKEY, 'ZCARD', 'axon:{g}:active'), before, 'no conversation created');
      // And the next request succeeds.
      const ok = await ai.chat.completions.create({ model: 'gpt-4o', conversation_id: cid, messages: [{ role: 'user', content: `Again ${marker(newId(server, 'ok'))}` }] });
      assert.equal(ok.conversation_id, cid);
      assert.equal((await getConv(server, cid)).json.message_count, 4);
    });

    it('concurrent turns on one conversation never interleave (409 conversation_busy, retried by the SDK)', async () => {
      const ai = client(server);
      const first = await ai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `Base ${marker(newId(server, 'cc'))}` }] });
      const cid = first.conversation_id;
      // A turn running on the conversation refuses the others with 409
      // (turns.test.mjs); the SDK's own retries then run them one by one.
      const retrying = new OpenAI({ baseURL: stackUrl(server), apiKey: KEY, maxRetries: 8, timeout: 30000 });
      await Promise.all(['A', 'B', 'C', 'D'].map((tag) => retrying.chat.completions.create({
        model: 'gpt-4o', conversation_id: cid,
        messages: [{ role: 'user', content: `${tag}1 ${marker(newId(server, `cc${tag}`), 'delay=50')}` }, { role: 'user', content: `${tag}2` }],
      })));
      const msgs = (await getConv(server, cid)).json.messages;
      assert.equal(msgs.length, 2 + 4 * 3);
      for (let i = 2; i < msgs.length; i += 3) {
        const tag = msgs[i].content[0];
        assert.equal(msgs[i + 1].content, `${tag}2`, `turn at ${i}: its two user messages together`);
        assert.equal(msgs[i + 2].role, 'assistant', `turn at ${i}: then its answer`);
      }
    });

    it('GET, DELETE and list: shapes, newest first, limit/after, 400 for a malformed id, 404 after delete', async () => {
      const ai = client(server);
      const made = [];
      for (let i = 0; i < 3; i++) {
        const c = await ai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `List ${i} ${marker(newId(server, 'list'))}` }] });
        made.push(c.conversation_id);
        await new Promise((r) => setTimeout(r, 5));
      }
      const origin = originOf(stackUrl(server));
      const page1 = await call(origin, '/v1/conversations?limit=2', { key: KEY });
      assert.equal(page1.status, 200, page1.text);
      assert.deepEqual(Object.keys(page1.json), ['object', 'data', 'first_id', 'last_id', 'has_more']);
      assert.equal(page1.json.object, 'list');
      assert.deepEqual(page1.json.data.map((c) => c.id), [made[2], made[1]], 'newest first');
      assert.equal(page1.json.has_more, true);
      assert.equal(page1.json.first_id, made[2]);
      assert.equal(page1.json.last_id, made[1]);
      const row = page1.json.data[0];
      assert.deepEqual(Object.keys(row).sort(), ['created', 'id', 'message_count', 'model', 'object', 'updated']);
      assert.equal(row.model, 'gpt-4o-mini');
      const page2 = await call(origin, `/v1/conversations?limit=1&after=${made[1]}`, { key: KEY });
      assert.deepEqual(page2.json.data.map((c) => c.id), [made[0]]);

      for (const bad of ['conv-xyz', 'conv-' + 'A'.repeat(32), 'x'.repeat(40), 'conv-' + '0'.repeat(31) + '}']) {
        const r = await call(origin, `/v1/conversations/${encodeURIComponent(bad)}`, { key: KEY });
        assertEnvelope(r, 400, { type: 'invalid_request_error' });
      }
      const missing = await getConv(server, 'conv-' + '0'.repeat(32));
      assertEnvelope(missing, 404, { code: 'conversation_not_found' });
      const del = await call(origin, `/v1/conversations/${made[0]}`, { method: 'DELETE', key: KEY });
      assert.equal(del.status, 200, del.text);
      assert.deepEqual(del.json, { id: made[0], object: 'conversation.deleted', deleted: true });
      assertEnvelope(await getConv(server, made[0]), 404, { code: 'conversation_not_found' });
      assert.equal(await redis(VALKEY, 'EXISTS', `axon:{c:${made[0]}}:meta`, `axon:{c:${made[0]}}:msgs`), 0);
      const badBody = await call(origin, '/v1/chat/completions', {
        method: 'POST', key: KEY, headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', conversation_id: 'conv-../../etc', messages: [{ role: 'user', content: 'x' }] }),
      });
      assertEnvelope(badBody, 400, { code: 'invalid_conversation_id' });
      assert.equal(badBody.json.error.param, 'conversation_id');
    });

    it('a replay larger than the model\'s context drops the oldest whole turns and says how many', async () => {
      const ai = client(server);
      const big = (tag) => `${tag} ${'lorem ipsum '.repeat(30000)}`; // about 360 kB each
      const first = await ai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: big('one') + marker(newId(server, 'big1')) }] });
      const cid = first.conversation_id;
      await ai.chat.completions.create({ model: 'gpt-4o-mini', conversation_id: cid, messages: [{ role: 'user', content: big('two') + marker(newId(server, 'big2')) }] });
      const id3 = newId(server, 'big3');
      const { data, response } = await ai.chat.completions.create({
        model: 'gpt-4o-mini', conversation_id: cid, max_tokens: 1000,
        messages: [{ role: 'user', content: big('three') + marker(id3) }],
      }).withResponse();
      assert.equal(response.headers.get('x-axon-turns-dropped'), '1');
      assert.equal(data.conversation_id, cid);
      const body = await lastRecord(id3);
      assert.equal(body.messages.length, 3, 'turn one left out of the replay');
      const first3 = typeof body.messages[0].content === 'string' ? body.messages[0].content : body.messages[0].content[0].text;
      assert.ok(first3.startsWith('two '), 'the replay starts at turn two');
      assert.equal((await getConv(server, cid)).json.message_count, 6, 'the stored history keeps every turn');
    });
  });
}

describe('AXON_STORE=on_request (and AXON_METRICS_PUBLIC=1)', () => {
  for (const server of SERVER_NAMES) {
    let stack;
    before(async () => {
      const dir = scratchDir(`store-${server}`);
      stack = await startStack({
        env: cleanEnv({
          AXON_BIN, AXON_SERVER: server, AXON_PORT: String(await freePort()), AXON_API_KEYS: KEY,
          STACK_DIR: dir, AXON_VALKEY_URL: VALKEY, AXON_VALKEY_TIMEOUT_MS: String(TEST_VALKEY_TIMEOUT_MS),
          AXON_STORE: 'on_request', AXON_METRICS_PUBLIC: '1',
          ANTHROPIC_BASE_URL: mockUrl(), ANTHROPIC_API_KEY: 'sk-ant-test-key',
        }),
        readyFile: () => fs.existsSync(path.join(dir, 'ready')) && path.join(dir, 'ready'),
      });
    });
    after(async () => { if (stack) await stopStack(stack); });

    it(`behind ${server}: no conversation unless asked with "new"; then it continues`, async () => {
      const ai = new OpenAI({ baseURL: stack.ready.AXON_URL, apiKey: KEY, maxRetries: 0 });
      const before = await redis(VALKEY, 'ZCARD', 'axon:{g}:active');
      const plain = await ai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `Stateless ${marker(newId(server, 'st'))}` }] });
      assert.ok(!('conversation_id' in plain), 'no conversation_id when none was asked for');
      assert.equal(await redis(VALKEY, 'ZCARD', 'axon:{g}:active'), before, 'nothing stored');
      const asked = await ai.chat.completions.create({ model: 'gpt-4o', conversation_id: 'new', messages: [{ role: 'user', content: `Keep ${marker(newId(server, 'st2'))}` }] });
      assert.match(asked.conversation_id, CONV_RE);
      const next = await ai.chat.completions.create({ model: 'gpt-4o', conversation_id: asked.conversation_id, messages: [{ role: 'user', content: `On ${marker(newId(server, 'st3'))}` }] });
      assert.equal(next.conversation_id, asked.conversation_id);
      const got = await call(originOf(stack.ready.AXON_URL), `/v1/conversations/${asked.conversation_id}`, { key: KEY });
      assert.equal(got.json.message_count, 4);
    });

    it(`behind ${server}: AXON_METRICS_PUBLIC=1 serves /metrics without a key`, async () => {
      const m = await call(originOf(stack.ready.AXON_URL), '/metrics');
      assert.equal(m.status, 200, m.text);
      assert.match(m.text, /^axon_valkey_up 1$/m);
    });
  }
});
