// Claude's prompt cache through each web server, with the official openai
// SDK: the breakpoints the client marks (cache_control,
// prompt_cache_breakpoint) and Axon's automatic one reach the Messages API
// (the mock records the body), the usage reports the cache's reads and
// writes as OpenAI's CompletionUsage spells them (cached_tokens,
// cache_write_tokens, both inside prompt_tokens), streaming and not; and a
// stack with AXON_PROMPT_CACHE=off sends none. The mock's cache
// (tests/mock/prompt-cache.mjs) writes a prefix the first time a breakpoint
// ends it and reads it back later, for prompts past the model's minimum
// (gpt-4o is claude-sonnet-4-6: 2048 tokens, about 8 KB).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import {
  SERVER_NAMES, KEY, AXON_BIN, stackUrl, cleanEnv, scratchDir, freePort, startStack, stopStack,
  TEST_VALKEY_TIMEOUT_MS,
} from './lib.mjs';
import { assertValid } from './schema.mjs';
import { recorded, mockUrl } from './mock.mjs';

let counter = 0;
const newId = (server, tag) => `pcache-${server}-${tag}-${++counter}-${process.pid}`;
const marker = (id) => `[[mock id=${id}]]`;
const sdkAt = (baseURL) => new OpenAI({ baseURL, apiKey: KEY, maxRetries: 0, timeout: 30000 });
// A prompt past claude-sonnet-4-6's 2048-token minimum (the mock counts
// bytes / 4), made unique so no other test's cache entry matches it.
const longText = (tag) => `Context for ${tag}: ${'the quick brown fox jumps over the lazy dog. '.repeat(240)}`;

async function onlyRecorded(id) {
  const recs = await recorded(id);
  assert.equal(recs.length, 1, `the mock got exactly one request for ${id}: ${JSON.stringify(recs).slice(0, 300)}`);
  return recs[0];
}
const mockInputTokens = (rec) => Math.ceil(Number(rec.headers['content-length']) / 4);

// Every cache_control anywhere in a Messages body, with where it is.
function marks(v, at = '', out = []) {
  if (Array.isArray(v)) v.forEach((x, i) => marks(x, `${at}[${i}]`, out));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === 'cache_control') out.push({ at: at || '(top)', cc: x });
      else marks(x, at ? `${at}.${k}` : k, out);
    }
  }
  return out;
}

// One turn through the SDK, streamed or not: the text, usage and
// conversation id the client saw.
async function turn(ai, body, stream) {
  if (!stream) {
    const c = await ai.chat.completions.create(body);
    assertValid('response', c, 'a cached turn');
    return { usage: c.usage, cid: c.conversation_id, text: c.choices[0].message.content };
  }
  const s = await ai.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
  let usage; let cid; let text = '';
  for await (const ch of s) {
    assertValid('chunk', ch, 'a cached turn chunk');
    if (ch.conversation_id) cid = ch.conversation_id;
    if (ch.usage) usage = ch.usage;
    text += ch.choices?.[0]?.delta?.content ?? '';
  }
  return { usage, cid, text };
}

function assertUsageAddsUp(u, rec, what) {
  assert.ok(u, `${what}: a usage object`);
  const d = u.prompt_tokens_details;
  assert.ok(Number.isInteger(d.cached_tokens) && Number.isInteger(d.cache_write_tokens), `${what}: both details: ${JSON.stringify(u)}`);
  assert.equal(u.prompt_tokens, mockInputTokens(rec), `${what}: prompt_tokens counts all input (uncached + read + written)`);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
}

for (const server of SERVER_NAMES) {
  describe(`prompt caching behind ${server}`, () => {
    for (const stream of [false, true]) {
      const how = stream ? 'streamed' : 'not streamed';
      it(`${how}: a conversation writes the cache on turn one and reads it on turn two`, async () => {
        const ai = sdkAt(stackUrl(server));
        const id1 = newId(server, `t1-${stream}`);
        const t1 = await turn(ai, { model: 'gpt-4o', messages: [{ role: 'user', content: `${longText(id1)} ${marker(id1)}` }] }, stream);
        const rec1 = await onlyRecorded(id1);
        assert.deepEqual(rec1.body.cache_control, { type: 'ephemeral' }, 'a long prompt gets the automatic breakpoint');
        assertUsageAddsUp(t1.usage, rec1, 'turn one');
        assert.ok(t1.usage.prompt_tokens_details.cache_write_tokens > 2048, `turn one writes the prefix: ${JSON.stringify(t1.usage)}`);
        assert.equal(t1.usage.prompt_tokens_details.cached_tokens, 0, 'nothing to read yet');
        assert.ok(t1.cid, 'the answer names its conversation');

        const id2 = newId(server, `t2-${stream}`);
        const t2 = await turn(ai, { model: 'gpt-4o', conversation_id: t1.cid, messages: [{ role: 'user', content: `And now? ${marker(id2)}` }] }, stream);
        const rec2 = await onlyRecorded(id2);
        assert.deepEqual(rec2.body.cache_control, { type: 'ephemeral' }, 'a continued conversation gets the automatic breakpoint');
        assert.equal(rec2.body.messages.length, 3, 'the replay: turn one, its answer, the new message');
        assertUsageAddsUp(t2.usage, rec2, 'turn two');
        assert.equal(t2.usage.prompt_tokens_details.cached_tokens, t1.usage.prompt_tokens_details.cache_write_tokens,
          `turn two reads what turn one wrote: ${JSON.stringify(t2.usage)}`);
      });
    }

    it('the client\'s breakpoints reach the blocks; prompt_cache_retention 24h asks for the hour', async () => {
      const ai = sdkAt(stackUrl(server));
      const id = newId(server, 'explicit');
      const sys = longText(id);
      const body = {
        model: 'gpt-4o', prompt_cache_retention: '24h',
        messages: [
          { role: 'system', content: [{ type: 'text', text: sys, prompt_cache_breakpoint: { mode: 'explicit' } }] },
          { role: 'user', content: [{ type: 'text', text: `Short question ${marker(id)}`, cache_control: { type: 'ephemeral' } }] },
        ],
        tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } }, cache_control: { type: 'ephemeral' } }],
      };
      const c = await ai.chat.completions.create(body);
      assertValid('response', c, 'explicit breakpoints');
      const rec = await onlyRecorded(id);
      const byPlace = (a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0);
      assert.deepEqual(marks(rec.body).sort(byPlace), [
        { at: 'messages[0].content[0]', cc: { type: 'ephemeral', ttl: '1h' } },
        { at: 'system[0]', cc: { type: 'ephemeral', ttl: '1h' } },
        { at: 'tools[0]', cc: { type: 'ephemeral', ttl: '1h' } },
      ], 'the three marks, each with the hour; no automatic one on the block already marked');
      assert.ok(c.usage.prompt_tokens_details.cache_write_tokens > 0, `written: ${JSON.stringify(c.usage)}`);
      // The same system prompt again: read from the cache.
      const id2 = newId(server, 'explicit2');
      body.messages[1].content[0].text = `Another question ${marker(id2)}`;
      const c2 = await ai.chat.completions.create(body);
      await onlyRecorded(id2);
      assert.ok(c2.usage.prompt_tokens_details.cached_tokens > 2048, `the system prompt is read back: ${JSON.stringify(c2.usage)}`);
    });

    it('more than four breakpoints: the oldest are dropped, and the answer says how many', async () => {
      const id = newId(server, 'cap');
      const content = [];
      for (let i = 0; i < 6; i++) content.push({ type: 'text', text: `part ${i}`, prompt_cache_breakpoint: { mode: 'explicit' } });
      content.push({ type: 'text', text: marker(id) });
      const res = await fetch(`${stackUrl(server)}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }] }),
        signal: AbortSignal.timeout(30000),
      });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(res.headers.get('x-axon-cache-breakpoints-dropped'), '2');
      const rec = await onlyRecorded(id);
      assert.deepEqual(marks(rec.body).map((m) => m.at),
        ['messages[0].content[2]', 'messages[0].content[3]', 'messages[0].content[4]', 'messages[0].content[5]']);
    });

    it('a short stateless prompt with no breakpoint sends none, and the usage reports no cache', async () => {
      const ai = sdkAt(stackUrl(server));
      const id = newId(server, 'none');
      const c = await ai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `hi ${marker(id)}` }] });
      const rec = await onlyRecorded(id);
      assert.deepEqual(marks(rec.body), []);
      assert.equal(c.usage.prompt_tokens_details.cached_tokens, 0);
      assert.equal(c.usage.prompt_tokens_details.cache_write_tokens, 0);
      assert.equal(c.usage.prompt_tokens, mockInputTokens(rec));
    });
  });
}

describe('AXON_PROMPT_CACHE=off', () => {
  for (const server of SERVER_NAMES) {
    let stack;
    before(async () => {
      const dir = scratchDir(`pcache-off-${server}`);
      stack = await startStack({
        env: cleanEnv({
          AXON_BIN, AXON_SERVER: server, AXON_PORT: String(await freePort()), AXON_API_KEYS: KEY,
          STACK_DIR: dir, AXON_VALKEY_URL: process.env.AXON_VALKEY_URL,
          AXON_VALKEY_TIMEOUT_MS: String(TEST_VALKEY_TIMEOUT_MS), AXON_PROMPT_CACHE: 'off',
          ANTHROPIC_BASE_URL: mockUrl(), ANTHROPIC_API_KEY: 'sk-ant-test-key',
        }),
        readyFile: () => fs.existsSync(path.join(dir, 'ready')) && path.join(dir, 'ready'),
      });
    });
    after(async () => { if (stack) await stopStack(stack); });

    for (const stream of [false, true]) {
      it(`behind ${server}, ${stream ? 'streamed' : 'not streamed'}: no breakpoint reaches Claude, the client's neither, and nothing is cached`, async () => {
        const ai = sdkAt(stack.ready.AXON_URL);
        const id1 = newId(server, `off1-${stream}`);
        const t1 = await turn(ai, {
          model: 'gpt-4o',
          messages: [{ role: 'user', content: [{ type: 'text', text: `${longText(id1)} ${marker(id1)}`, prompt_cache_breakpoint: { mode: 'explicit' } }] }],
        }, stream);
        const rec1 = await onlyRecorded(id1);
        assert.deepEqual(marks(rec1.body), [], 'no cache_control anywhere');
        const id2 = newId(server, `off2-${stream}`);
        const t2 = await turn(ai, { model: 'gpt-4o', conversation_id: t1.cid, messages: [{ role: 'user', content: `Again ${marker(id2)}` }] }, stream);
        const rec2 = await onlyRecorded(id2);
        assert.deepEqual(marks(rec2.body), [], 'a continued conversation neither');
        for (const [u, rec] of [[t1.usage, rec1], [t2.usage, rec2]]) {
          assert.equal(u.prompt_tokens_details.cached_tokens, 0);
          assert.equal(u.prompt_tokens_details.cache_write_tokens, 0);
          assert.equal(u.prompt_tokens, mockInputTokens(rec));
        }
      });
    }
  }
});
