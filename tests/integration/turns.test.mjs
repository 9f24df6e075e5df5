// Issue 18, items 7 and 8, through each web server:
//   - AXON_UPSTREAM_RETRIES means what it says: with the suite's default of 2,
//     an upstream that resets every connection before answering receives
//     exactly 3 POSTs, also when the first goes out on a reused keep-alive
//     connection (libcurl by itself resends a request at once on a new
//     connection when a reused one dies before the first answer byte; Axon
//     stops that resend and counts it as one of its own retries);
//   - two turns at once on one conversation do not fork it: while one turn
//     runs, the other is refused with 409 `conversation_busy` (OpenAI's
//     envelope, Retry-After: 1), so the official SDK's own retries serialise
//     them (it retries a 409, honouring Retry-After); the turn lock is given
//     back on every path (an upstream error, a client that left).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  SERVER_NAMES, KEY, stackUrl, originOf, call, assertEnvelope, sleep,
} from './lib.mjs';
import { assertValid } from './schema.mjs';
import { recorded, aborts, leaveMidStream } from './mock.mjs';
import { redis } from './redis.mjs';

const VALKEY = process.env.AXON_VALKEY_URL;
const CHAT = '/v1/chat/completions';
const JSON_HEADERS = { 'content-type': 'application/json' };
const RETRIES = 2; // AXON_UPSTREAM_RETRIES of the suite's stacks (the default)
const TRIES = 8;

let counter = 0;
const newId = (server, tag) => `turns-${server}-${tag}-${++counter}-${process.pid}`;
const marker = (id, extra = '') => `[[mock id=${id}${extra ? ` ${extra}` : ''}]]`;
const sdk = (server, maxRetries = 0) =>
  new OpenAI({ baseURL: stackUrl(server), apiKey: KEY, maxRetries, timeout: 30000 });

async function post(server, body) {
  const res = await call(originOf(stackUrl(server)), CHAT, {
    method: 'POST', key: KEY, headers: JSON_HEADERS, body: JSON.stringify(body),
  });
  assertValid(res.status === 200 ? 'response' : 'error', res.json, `answer (${res.status}): ${res.text.slice(0, 300)}`);
  return res;
}

const storedMessages = async (server, cid) => {
  const got = await call(originOf(stackUrl(server)), `/v1/conversations/${cid}`, { key: KEY });
  assert.equal(got.status, 200, got.text);
  return got.json.messages;
};

const lockKey = (cid) => `axon:{c:${cid}}:turn`;

async function newConversation(server, tag) {
  const first = await sdk(server).chat.completions.create({
    model: 'gpt-4o', messages: [{ role: 'user', content: `Base ${marker(newId(server, tag))}` }],
  });
  assert.match(first.conversation_id, /^conv-[0-9a-f]{32}$/);
  return first.conversation_id;
}

const followUp = (cid, id, extra = '') => ({
  model: 'gpt-4o', conversation_id: cid,
  messages: [{ role: 'user', content: `Turn ${marker(id, extra)}` }],
});

for (const server of SERVER_NAMES) {
  describe(`retries and concurrent turns behind ${server}`, () => {
    it(`AXON_UPSTREAM_RETRIES=${RETRIES}: exactly ${RETRIES + 1} POSTs reach an upstream that resets, on warm connections too (${TRIES} tries)`, async () => {
      const counts = [];
      for (let i = 0; i < TRIES; i++) {
        // A good answer first, so the worker threads hold live keep-alive
        // connections to the mock and the failing request goes out on one.
        const ok = await post(server, { model: 'gpt-4o', messages: [{ role: 'user', content: `warm ${marker(newId(server, 'warm'))}` }] });
        assert.equal(ok.status, 200);
        const id = newId(server, 'reset');
        const res = await post(server, { model: 'gpt-4o', messages: [{ role: 'user', content: `hi ${marker(id, 'fault=reset-before')}` }] });
        assertEnvelope(res, 502, { type: 'server_error', code: 'upstream_unreachable' });
        const recs = await recorded(id);
        counts.push(recs.length);
        if (recs.length > 1) {
          // Every retry waits its backoff (200 ms, 400 ms): none is a silent resend.
          const gaps = recs.slice(1).map((r, k) => r.time - recs[k].time);
          assert.ok(gaps.every((g) => g >= 150), `try ${i}: retries spaced by the backoff: ${gaps.join(', ')} ms`);
        }
      }
      console.log(`# ${server}: POSTs per request: ${counts.join(' ')}`);
      assert.deepEqual(counts, Array(TRIES).fill(RETRIES + 1), `1 + ${RETRIES} retries every time`);
    });

    it('two parallel follow-ups (official SDK, no retries): one 200, the other 409 conversation_busy; no fork', async () => {
      const cid = await newConversation(server, 'par');
      const ai = sdk(server);
      const ids = [newId(server, 'parA'), newId(server, 'parB')];
      const settled = await Promise.allSettled(ids.map((id) =>
        ai.chat.completions.create(followUp(cid, id, 'delay=600')).withResponse()));
      const ok = settled.filter((s) => s.status === 'fulfilled');
      const refused = settled.filter((s) => s.status === 'rejected');
      assert.equal(ok.length, 1, `one 200: ${settled.map((s) => s.status).join(', ')}`);
      assert.equal(refused.length, 1, 'one refused');
      const err = refused[0].reason;
      assert.ok(err instanceof OpenAI.ConflictError, `a 409 (ConflictError): ${err}`);
      assert.equal(err.status, 409);
      assert.equal(err.code, 'conversation_busy');
      assert.equal(err.type, 'invalid_request_error');
      assert.equal(err.param, 'conversation_id');
      assert.equal(err.error.message,
        `Conversation ${cid} is answering another turn. Send this turn again once that one has finished.`);
      assert.equal(err.headers.get('retry-after'), '1');
      // The refused turn never reached the upstream; the other is stored whole.
      const refusedId = ids[settled.indexOf(refused[0])];
      assert.equal((await recorded(refusedId)).length, 0, 'the refused turn reached no upstream');
      const msgs = await storedMessages(server, cid);
      assert.equal(msgs.length, 4, 'base turn plus the one answered turn');
      assert.equal(msgs[3].content, ok[0].value.data.choices[0].message.content);
      assert.equal(await redis(VALKEY, 'EXISTS', lockKey(cid)), 0, 'the turn lock was given back');
    });

    it('four parallel follow-ups with the SDK\'s own retries: all 200, each turn saw every turn stored before it', async () => {
      const cid = await newConversation(server, 'ser');
      const ai = sdk(server, 8);
      const tags = ['A', 'B', 'C', 'D'];
      const ids = tags.map((t) => newId(server, `ser${t}`));
      const answers = await Promise.all(ids.map((id, k) => ai.chat.completions.create({
        model: 'gpt-4o', conversation_id: cid,
        messages: [{ role: 'user', content: `${tags[k]}1 ${marker(id, 'delay=200')}` }, { role: 'user', content: `${tags[k]}2` }],
      })));
      for (const a of answers) assert.equal(a.conversation_id, cid);
      const msgs = await storedMessages(server, cid);
      assert.equal(msgs.length, 2 + 4 * 3);
      for (let i = 2; i < msgs.length; i += 3) {
        const tag = msgs[i].content[0];
        assert.equal(msgs[i + 1].content, `${tag}2`, `turn at ${i}: its two user messages together`);
        assert.equal(msgs[i + 2].role, 'assistant', `turn at ${i}: then its answer`);
        // What the upstream got for this turn: the whole history stored before it.
        const recs = await recorded(ids[tags.indexOf(tag)]);
        const body = recs.at(-1).body;
        const text = (m) => (typeof m.content === 'string' ? m.content : m.content.map((b) => b.text).join('\n'));
        const sent = body.messages.map(text);
        // Claude's view: the base turn (2), each earlier turn as its two user
        // messages merged into one plus the answer (2), then this turn's one.
        assert.equal(body.messages.length, 2 + ((i - 2) / 3) * 2 + 1, `turn ${tag}: every stored turn before it, then its own`);
        assert.ok(sent.at(-1).startsWith(`${tag}1`), `turn ${tag}: its own messages last`);
        for (let j = 2; j < i; j += 3) {
          assert.ok(sent.some((s) => s.startsWith(msgs[j].content)), `turn ${tag} saw the earlier turn ${msgs[j].content.slice(0, 2)}`);
        }
      }
      assert.equal(await redis(VALKEY, 'EXISTS', lockKey(cid)), 0, 'the turn lock was given back');
    });

    it('the turn lock is given back after an upstream error and after a client that left', async () => {
      const cid = await newConversation(server, 'rel');
      const failed = await post(server, followUp(cid, newId(server, 'rel400'), 'fault=400'));
      assert.equal(failed.status, 400);
      assert.equal(await redis(VALKEY, 'EXISTS', lockKey(cid)), 0, 'no lock after a refused turn');
      const next = await post(server, followUp(cid, newId(server, 'relnext')));
      assert.equal(next.status, 200, `right after the error: ${next.text.slice(0, 200)}`);

      const id = newId(server, 'relgone');
      const words = Array.from({ length: 40 }, (_, k) => `w${k}`).join('_');
      await leaveMidStream(server, followUp(cid, id, `ms=300 reply=${words}`), id, aborts);
      // The worker notices the client at its next write (lighttpd) or at
      // once (nginx), then settles: the lock goes with the session.
      let left = 1;
      for (let k = 0; k < 60 && left; k++) {
        left = await redis(VALKEY, 'EXISTS', lockKey(cid));
        if (left) await sleep(50);
      }
      assert.equal(left, 0, 'no lock after the client left');
      const after = await post(server, followUp(cid, newId(server, 'relafter')));
      assert.equal(after.status, 200, `after the client left: ${after.text.slice(0, 200)}`);
      const msgs = await storedMessages(server, cid);
      assert.equal(msgs.length, 6, 'base, the turn after the error, the turn after the client left');
    });
  });
}
