// Issue 17, items 8, 11 and 12, through each web server against the mock
// Claude (tests/mock/anthropic.mjs), with the official openai SDK:
//  - Claude's "prompt is too long" is OpenAI's context_length_exceeded;
//  - a billing refusal is OpenAI's insufficient_quota, which the SDK does not
//    retry (x-should-retry: false), and cools the upstream session down;
//  - model_context_window_exceeded and pause_turn are not a finished answer;
//  - Claude's own tool blocks (server_tool_use ...) do not break a stream;
//  - interleaved thinking keeps its pieces apart in reasoning_content;
//  - a text file part reaches Claude as a text document;
//  - a non-stream request for a long answer is streamed from Claude and
//    answered as one chat.completion.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { SERVER_NAMES, KEY, stackUrl, originOf, call, assertEnvelope } from './lib.mjs';
import { assertValid } from './schema.mjs';
import { recorded, sdk } from './mock.mjs';

const CHAT = '/v1/chat/completions';
const JSON_HEADERS = { 'content-type': 'application/json' };
const MODEL = 'gpt-4o';

let counter = 0;
const newId = (server, tag) => `misc-${server}-${tag}-${++counter}-${process.pid}`;
const marker = (id, extra = '') => `[[mock id=${id}${extra ? ` ${extra}` : ''}]]`;
const userMsg = (text) => [{ role: 'user', content: text }];

// A raw POST (x-request-id checked by call()); answers checked against the spec.
async function post(server, body) {
  const res = await call(originOf(stackUrl(server)), CHAT, {
    method: 'POST', key: KEY, headers: JSON_HEADERS, body: JSON.stringify(body),
  });
  assertValid(res.status === 200 ? 'response' : 'error', res.json, `answer to ${JSON.stringify(body).slice(0, 200)}`);
  return res;
}

// A streamed answer through the SDK, added up.
async function viaStream(server, body) {
  const stream = await sdk(server).chat.completions.create({ ...body, stream: true });
  const out = { content: '', reasoning: '', tools: 0, finish: [], objects: new Set() };
  for await (const chunk of stream) {
    assertValid('chunk', chunk, `chunk through ${server}`);
    out.objects.add(chunk.object);
    for (const c of chunk.choices) {
      if (c.delta?.content) out.content += c.delta.content;
      if (c.delta?.reasoning_content) out.reasoning += c.delta.reasoning_content;
      if (c.delta?.tool_calls) out.tools += c.delta.tool_calls.length;
      if (c.finish_reason) out.finish.push(c.finish_reason);
    }
  }
  return out;
}

async function stats(server) {
  const r = await call(originOf(stackUrl(server)), '/stats');
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// The spec's validators compile on first use, which takes seconds of CPU on
// this machine: long enough for lighttpd to drop an idle keep-alive
// connection that fetch then reuses ("other side closed"). Compile first.
before(() => assertValid('error', { error: { message: 'm', type: 't', param: null, code: null } }, 'warm-up'));

for (const server of SERVER_NAMES) {
  describe(`Claude errors, long answers and smaller items through ${server}`, () => {
    // ---- item 8: errors ----------------------------------------------------

    it('a prompt over the context window is context_length_exceeded, in OpenAI\'s words', async () => {
      for (const stream of [false, true]) {
        const id = newId(server, 'too-long');
        const err = await sdk(server).chat.completions.create({
          model: MODEL, stream, messages: userMsg(`long ${marker(id, 'fault=too_long tokens=215000')}`),
        }).then(() => null, (e) => e);
        assert.ok(err instanceof OpenAI.BadRequestError, `a 400 (stream ${stream}): ${err}`);
        assert.equal(err.code, 'context_length_exceeded');
        assert.equal(err.param, 'messages');
        assert.equal(err.type, 'invalid_request_error');
        assert.equal(err.error.message, "This model's maximum context length is 200000 tokens. However, your " +
          'messages resulted in 215000 tokens. Please reduce the length of the messages.');
      }
    });

    for (const fault of ['402', 'billing']) {
      it(`a billing refusal (fault=${fault}) is insufficient_quota, not retried, and cools the session`, async () => {
        const id = newId(server, `billing-${fault}`);
        const res = await post(server, { model: MODEL, messages: userMsg(`hi ${marker(id, `fault=${fault}`)}`) });
        const e = assertEnvelope(res, 429, { type: 'insufficient_quota', code: 'insufficient_quota' });
        assert.ok(e.message.startsWith('You exceeded your current quota, please check your plan and billing details.'), e.message);
        assert.equal(res.headers.get('x-should-retry'), 'false');
        assert.equal(res.headers.get('retry-after'), null);
        const st = await stats(server);
        assert.ok(st.pool.cooling >= 1, `a session cools down after a billing error: ${JSON.stringify(st.pool)}`);
        // The official SDK, allowed retries, obeys x-should-retry: one request only.
        const id2 = newId(server, `billing-sdk-${fault}`);
        const client = new OpenAI({ baseURL: stackUrl(server), apiKey: KEY, maxRetries: 2, timeout: 30000 });
        const err = await client.chat.completions.create({
          model: MODEL, messages: userMsg(`hi ${marker(id2, `fault=${fault}`)}`),
        }).then(() => null, (x) => x);
        assert.ok(err instanceof OpenAI.RateLimitError, `a 429: ${err}`);
        assert.equal(err.code, 'insufficient_quota');
        assert.equal((await recorded(id2)).length, 1, 'the SDK did not retry');
      });
    }

    it('model_context_window_exceeded and pause_turn finish with "length", streamed or not', async () => {
      for (const reason of ['model_context_window_exceeded', 'pause_turn']) {
        const id = newId(server, reason);
        const body = { model: MODEL, messages: userMsg(`hi ${marker(id, `stop_reason=${reason}`)}`) };
        const c = await sdk(server).chat.completions.create(body);
        assertValid('response', c, reason);
        assert.equal(c.choices[0].finish_reason, 'length', reason);
        const s = await viaStream(server, body);
        assert.deepEqual(s.finish, ['length'], reason);
      }
    });

    // ---- item 12: smaller items ----------------------------------------------

    it('Claude\'s own tool blocks (server_tool_use, web_search_tool_result) are skipped, its text follows', async () => {
      const id = newId(server, 'server-tool');
      const body = { model: MODEL, messages: userMsg(`weather? ${marker(id, 'fault=server-tool')}`) };
      const s = await viaStream(server, body);
      assert.equal(s.content, 'Let me search. It is sunny in Paris.');
      assert.equal(s.tools, 0);
      assert.deepEqual(s.finish, ['stop']);
      const c = await sdk(server).chat.completions.create(body);
      assertValid('response', c, 'server tool, non-stream');
      assert.equal(c.choices[0].message.content, 'Let me search. It is sunny in Paris.');
      assert.equal(c.choices[0].message.tool_calls, undefined);
      assert.equal(c.choices[0].finish_reason, 'stop');
    });

    it('interleaved thinking keeps a blank line between its pieces, streamed or not', async () => {
      const id = newId(server, 'interleaved');
      const body = { model: MODEL, messages: userMsg(`think ${marker(id, 'fault=interleaved-thinking')}`) };
      const s = await viaStream(server, body);
      assert.equal(s.reasoning, 'First I look.\n\nNow I answer.');
      assert.equal(s.content, 'Looked. Done.');
      const c = await sdk(server).chat.completions.create(body);
      assertValid('response', c, 'interleaved thinking, non-stream');
      assert.equal(c.choices[0].message.reasoning_content, 'First I look.\n\nNow I answer.');
      assert.equal(c.choices[0].message.content, 'Looked. Done.');
    });

    it('a text file part reaches Claude as a text document (text/plain, text/markdown, plain base64 .csv)', async () => {
      const id = newId(server, 'text-file');
      const b64 = (t) => Buffer.from(t).toString('base64');
      const c = await sdk(server).chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: [
          { type: 'file', file: { filename: 'notes.txt', file_data: `data:text/plain;base64,${b64('héllo\n')}` } },
          { type: 'file', file: { file_data: `data:text/markdown;base64,${b64('# Title\n')}` } },
          { type: 'file', file: { filename: 'n.csv', file_data: b64('a,b\n1,2\n') } },
          { type: 'text', text: `Summarize. ${marker(id)}` },
        ] }],
      });
      assertValid('response', c, 'text file');
      const [rec] = await recorded(id);
      assert.deepEqual(rec.body.messages[0].content.slice(0, 3), [
        { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'héllo\n' }, title: 'notes.txt' },
        { type: 'document', source: { type: 'text', media_type: 'text/plain', data: '# Title\n' } },
        { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'a,b\n1,2\n' }, title: 'n.csv' },
      ]);
    });

    // ---- item 11: long answers -----------------------------------------------

    it('a non-stream request for a long answer is streamed from Claude and answered as one chat.completion', async () => {
      const id = newId(server, 'long');
      const res = await post(server, { model: MODEL, max_tokens: 30000, messages: userMsg(`write ${marker(id)}`) });
      assert.equal(res.status, 200, res.text);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/);
      assert.equal(res.json.object, 'chat.completion');
      assert.equal(res.json.choices[0].message.content, 'Hello from the mock.');
      assert.equal(res.json.choices[0].finish_reason, 'stop');
      assert.ok(res.json.usage.completion_tokens > 0);
      const [rec] = await recorded(id);
      assert.equal(rec.body.stream, true, 'Claude was asked for a stream');
      assert.equal(rec.body.max_tokens, 30000);
      // Through the SDK too; a short answer stays a plain request.
      const id2 = newId(server, 'short');
      const c = await sdk(server).chat.completions.create({ model: MODEL, max_tokens: 1000, messages: userMsg(`hi ${marker(id2)}`) });
      assert.equal(c.object, 'chat.completion');
      const [rec2] = await recorded(id2);
      assert.equal(rec2.body.stream, undefined, 'a short answer is not streamed');
    });
  });
}
