// Today's Claude rules (issue 17, ../shared/notes/claude-today.md) as a user
// of Axon meets them: the official `openai` SDK (and raw streams where the
// wire matters) through lighttpd and nginx, against the mock Claude, which
// refuses what the live Messages API refuses (tests/mock/README.md, "Models").
// Each test checks the answer the client sees and the Messages API body the
// mock recorded, so a translator that forwards a refused shape fails here
// twice: the mock's 400 reaches the client, and the recorded body says why.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { SERVER_NAMES, KEY, KEY2, stackUrl, readSse, dataOf } from './lib.mjs';
import { assertValid } from './schema.mjs';
import { mockUrl, postStream, recorded } from './mock.mjs';

// ---- helpers ------------------------------------------------------------------

let counter = 0;
const newId = (server, tag) => `rules-${server}-${tag}-${++counter}-${process.pid}`;
const marker = (id, extra = '') => `[[mock id=${id}${extra ? ` ${extra}` : ''}]]`;
const user = (content) => ({ role: 'user', content });
const IGNORED = 'x-axon-ignored-params';

// The SDK for one stack and key; no retries, so each answer is seen as sent.
const client = (server, key = KEY) => new OpenAI({ baseURL: stackUrl(server), apiKey: key, maxRetries: 0, timeout: 60000 });

async function onlyRecorded(id) {
  const recs = await recorded(id);
  assert.equal(recs.length, 1, `the mock got exactly one request for ${id}: ${JSON.stringify(recs).slice(0, 400)}`);
  return recs[0];
}

// A non-stream request through the SDK: build(marker) makes the body. Returns
// the completion, the HTTP response (headers) and the body Claude got.
async function viaSdk(server, tag, build, { extra = '', key = KEY } = {}) {
  const id = newId(server, tag);
  const { data, response } = await client(server, key).chat.completions.create(build(marker(id, extra))).withResponse();
  assertValid('response', data, `${tag} through ${server}`);
  const rec = await onlyRecorded(id);
  return { id, completion: data, response, body: rec.body };
}

// A streamed request by raw fetch, so the headers and the wire are seen;
// every chunk is checked against the spec. Returns the headers, the text and
// reasoning the chunks add up to, and the body Claude got.
async function viaStream(server, tag, build, extra = '') {
  const id = newId(server, tag);
  const t0 = performance.now();
  const res = await postStream(server, build(marker(id, extra)));
  if (res.status !== 200) assert.fail(`stream ${tag} through ${server}: ${res.status} ${await res.text()}`);
  const { blocks } = await readSse(res, t0);
  const data = dataOf(blocks).map((d) => d.data);
  assert.equal(data.at(-1), '[DONE]', 'the stream ends with [DONE]');
  let content = '';
  let reasoning = '';
  for (const raw of data.slice(0, -1)) {
    const o = JSON.parse(raw);
    assert.ok(!o.error, `no error chunk: ${raw}`);
    assertValid('chunk', o, `chunk of ${tag} through ${server}`);
    for (const ch of o.choices) {
      if (typeof ch.delta.content === 'string') content += ch.delta.content;
      if (typeof ch.delta.reasoning_content === 'string') reasoning += ch.delta.reasoning_content;
    }
  }
  const rec = await onlyRecorded(id);
  return { headers: res.headers, content, reasoning, body: rec.body };
}

// The request must fail in the SDK with the given class; returns the error.
async function sdkError(server, body, Klass, key = KEY) {
  let caught;
  await assert.rejects(client(server, key).chat.completions.create(body), (err) => {
    assert.ok(err instanceof Klass, `${Klass.name} expected: ${err}`);
    assertValid('error', { error: err.error }, 'the error envelope');
    caught = err;
    return true;
  });
  return caught;
}

// The text of a Messages API message (string content or its text blocks).
const textOf = (m) => (typeof m.content === 'string' ? m.content
  : m.content.filter((b) => b.type === 'text').map((b) => b.text).join(''));

// Is the model served by this stack (the lead's etc/models.conf decides)?
async function served(server, model) {
  try {
    await client(server).models.retrieve(model);
    return true;
  } catch (err) {
    if (err instanceof OpenAI.NotFoundError) return false;
    throw err;
  }
}

// ---- tests ------------------------------------------------------------------

for (const server of SERVER_NAMES) {
  describe(`today's Claude rules through ${server}`, () => {
    // ---- sampling: send only what the model takes, say what was dropped ----

    for (const model of ['gpt-4o', 'claude-sonnet-4-6']) {
      it(`${model} (one of temperature/top_p): temperature 0.5 + top_p 0.9 keeps temperature, drops top_p, says so`, async () => {
        const { response, body } = await viaSdk(server, 'pair',
          (m) => ({ model, messages: [user(`hi ${m}`)], temperature: 0.5, top_p: 0.9 }));
        assert.equal(body.temperature, 0.5, 'temperature reaches Claude');
        assert.ok(!('top_p' in body), `top_p is not sent: ${JSON.stringify(body).slice(0, 300)}`);
        assert.equal(response.headers.get(IGNORED), 'top_p');
      });
    }

    it('a stream carries x-axon-ignored-params too', async () => {
      const s = await viaStream(server, 'pair-stream',
        (m) => ({ model: 'gpt-4o', messages: [user(`hi ${m}`)], temperature: 0.5, top_p: 0.9 }));
      assert.equal(s.headers.get(IGNORED), 'top_p');
      assert.equal(s.body.temperature, 0.5);
      assert.ok(!('top_p' in s.body));
      assert.ok(s.content.length > 0, 'the answer streams');
    });

    it('no x-axon-ignored-params when nothing was dropped', async () => {
      const { response, body } = await viaSdk(server, 'keep',
        (m) => ({ model: 'gpt-4o', messages: [user(`hi ${m}`)], temperature: 0.5 }));
      assert.equal(body.temperature, 0.5);
      assert.equal(response.headers.get(IGNORED), null);
    });

    it('claude-opus-4-7 (default values only): temperature 0.5 and top_p 0.5 are dropped and named', async () => {
      const t = await viaSdk(server, 'o47-temp',
        (m) => ({ model: 'claude-opus-4-7', messages: [user(`hi ${m}`)], temperature: 0.5 }));
      assert.ok(!('temperature' in t.body), 'temperature 0.5 is not sent');
      assert.equal(t.response.headers.get(IGNORED), 'temperature');

      const p = await viaSdk(server, 'o47-topp',
        (m) => ({ model: 'claude-opus-4-7', messages: [user(`hi ${m}`)], top_p: 0.5 }));
      assert.ok(!('top_p' in p.body), 'top_p 0.5 is not sent');
      assert.equal(p.response.headers.get(IGNORED), 'top_p');

      const both = await viaSdk(server, 'o47-both',
        (m) => ({ model: 'claude-opus-4-7', messages: [user(`hi ${m}`)], temperature: 0.5, top_p: 0.5 }));
      assert.ok(!('temperature' in both.body) && !('top_p' in both.body), 'neither is sent');
      assert.equal(both.response.headers.get(IGNORED), 'temperature, top_p');
    });

    it('claude-opus-4-7: top_p 0.995 and temperature 1 are the defaults and are sent', async () => {
      const p = await viaSdk(server, 'o47-topp-ok',
        (m) => ({ model: 'claude-opus-4-7', messages: [user(`hi ${m}`)], top_p: 0.995 }));
      assert.equal(p.body.top_p, 0.995);
      assert.equal(p.response.headers.get(IGNORED), null);

      const t = await viaSdk(server, 'o47-temp-ok',
        (m) => ({ model: 'claude-opus-4-7', messages: [user(`hi ${m}`)], temperature: 1 }));
      assert.equal(t.body.temperature, 1);
      assert.equal(t.response.headers.get(IGNORED), null);
    });

    it('claude-opus-4-7: a stream names the dropped temperature', async () => {
      const s = await viaStream(server, 'o47-stream',
        (m) => ({ model: 'claude-opus-4-7', messages: [user(`hi ${m}`)], temperature: 0.2 }));
      assert.equal(s.headers.get(IGNORED), 'temperature');
      assert.ok(!('temperature' in s.body));
    });

    // ---- prefill ----

    it('claude-sonnet-4-6 (no prefill): a history ending with the assistant is continued by a user turn', async () => {
      const { completion, body } = await viaSdk(server, 'prefill-46', (m) => ({
        model: 'claude-sonnet-4-6',
        messages: [user(`Write a haiku ${m}`), { role: 'assistant', content: 'Autumn' }],
      }));
      assert.ok(completion.choices[0].message.content, 'an answer');
      const msgs = body.messages;
      assert.equal(msgs.at(-1).role, 'user', 'the conversation ends with a user message');
      assert.equal(msgs.at(-2).role, 'assistant');
      assert.equal(textOf(msgs.at(-2)), 'Autumn', 'the assistant text reaches Claude as history');
      assert.match(textOf(msgs.at(-1)), /Continue/, 'the final user turn asks to continue');
    });

    it('claude-sonnet-4-6 prefill, streamed', async () => {
      const s = await viaStream(server, 'prefill-46-stream', (m) => ({
        model: 'claude-sonnet-4-6',
        messages: [user(`Write a haiku ${m}`), { role: 'assistant', content: 'Autumn' }],
      }));
      assert.ok(s.content.length > 0);
      assert.equal(s.body.messages.at(-1).role, 'user');
      assert.equal(textOf(s.body.messages.at(-2)), 'Autumn');
    });

    it('claude-sonnet-4-5 (takes prefill): the body still ends with the assistant "Autumn"', async () => {
      const { body } = await viaSdk(server, 'prefill-45', (m) => ({
        model: 'claude-sonnet-4-5',
        messages: [user(`Write a haiku ${m}`), { role: 'assistant', content: 'Autumn' }],
      }));
      assert.equal(body.messages.at(-1).role, 'assistant');
      assert.equal(textOf(body.messages.at(-1)), 'Autumn');
    });

    // ---- thinking ----

    it('reasoning_effort "high" on claude-sonnet-4-5: thinking enabled with budget 8192, no effort', async () => {
      const { body } = await viaSdk(server, 'effort-45', (m) => ({
        model: 'claude-sonnet-4-5', messages: [user(`think ${m}`)], reasoning_effort: 'high', max_tokens: 16000,
      }));
      assert.deepEqual(body.thinking, { type: 'enabled', budget_tokens: 8192 });
      assert.equal(body.output_config?.effort, undefined, 'no output_config.effort on a model without effort');
    });

    for (const model of ['claude-opus-4-7', 'claude-opus-4-6']) {
      it(`reasoning_effort "high" on ${model}: adaptive, summarized, effort high, and the reasoning comes back`, async () => {
        const { completion, body } = await viaSdk(server, `effort-${model}`, (m) => ({
          model, messages: [user(`think ${m}`)], reasoning_effort: 'high',
        }));
        assert.deepEqual(body.thinking, { type: 'adaptive', display: 'summarized' });
        assert.equal(body.output_config?.effort, 'high');
        const r = completion.choices[0].message.reasoning_content;
        assert.ok(typeof r === 'string' && r.length > 0, `reasoning_content: ${JSON.stringify(r)}`);

        const s = await viaStream(server, `effort-${model}-stream`, (m) => ({
          model, messages: [user(`think ${m}`)], reasoning_effort: 'high',
        }));
        assert.deepEqual(s.body.thinking, { type: 'adaptive', display: 'summarized' });
        assert.ok(s.reasoning.length > 0, 'reasoning deltas in the stream');
      });
    }

    it('thinking {type: "adaptive", display: "omitted"} passes display on', async () => {
      const { body } = await viaSdk(server, 'omitted', (m) => ({
        model: 'claude-opus-4-7', messages: [user(`think ${m}`)], thinking: { type: 'adaptive', display: 'omitted' },
      }));
      assert.equal(body.thinking?.type, 'adaptive');
      assert.equal(body.thinking?.display, 'omitted');
    });

    it('thinking: false on a model that thinks unasked (claude-sonnet-5) sends thinking disabled', async (t) => {
      if (!(await served(server, 'claude-sonnet-5'))) {
        t.skip('claude-sonnet-5 is not in etc/models.conf: no model that thinks unasked to test');
        return;
      }
      const { completion, body } = await viaSdk(server, 'nothink', (m) => ({
        model: 'claude-sonnet-5', messages: [user(`quick ${m}`)], thinking: false,
      }));
      assert.deepEqual(body.thinking, { type: 'disabled' });
      assert.ok(!completion.choices[0].message.reasoning_content, 'no reasoning when thinking is off');
    });

    it('temperature 0.5 with reasoning on claude-sonnet-4-5: temperature dropped and named', async () => {
      const { response, body } = await viaSdk(server, 'think-temp', (m) => ({
        model: 'claude-sonnet-4-5', messages: [user(`think ${m}`)], reasoning_effort: 'high', temperature: 0.5, max_tokens: 16000,
      }));
      assert.equal(body.thinking?.type, 'enabled');
      assert.ok(!('temperature' in body), 'no temperature with thinking');
      assert.equal(response.headers.get(IGNORED), 'temperature');
    });

    // ---- user / safety_identifier ----

    for (const field of ['user', 'safety_identifier']) {
      it(`${field}: an e-mail becomes a stable per-key hash; an opaque id goes as it is`, async () => {
        const email = 'ann@example.com';
        const a = await viaSdk(server, `${field}-mail-a`, (m) => ({ model: 'gpt-4o', messages: [user(`hi ${m}`)], [field]: email }));
        const uid = a.body.metadata?.user_id;
        assert.equal(typeof uid, 'string', `metadata.user_id is sent: ${JSON.stringify(a.body.metadata)}`);
        assert.notEqual(uid, email);
        assert.ok(!uid.includes('@'), `no "@" in ${uid}`);
        const b = await viaSdk(server, `${field}-mail-b`, (m) => ({ model: 'gpt-4o', messages: [user(`again ${m}`)], [field]: email }));
        assert.equal(b.body.metadata?.user_id, uid, 'the same value for the same key');
        const other = await viaSdk(server, `${field}-mail-k2`,
          (m) => ({ model: 'gpt-4o', messages: [user(`hi ${m}`)], [field]: email }), { key: KEY2 });
        assert.ok(other.body.metadata?.user_id && other.body.metadata.user_id !== uid, 'another key gets another value');

        const opaque = await viaSdk(server, `${field}-opaque`, (m) => ({ model: 'gpt-4o', messages: [user(`hi ${m}`)], [field]: 'user_123' }));
        assert.equal(opaque.body.metadata?.user_id, 'user_123');
      });
    }

    // ---- output ceiling ----

    it('max_tokens 100000 on claude-opus-4-7 (128K ceiling) is sent as it is', async () => {
      const { body } = await viaSdk(server, 'maxtok', (m) => ({
        model: 'claude-opus-4-7', messages: [user(`hi ${m}`)], max_tokens: 100000,
      }));
      assert.equal(body.max_tokens, 100000);
    });

    // ---- errors ----

    it('a prompt over the context window is 400 context_length_exceeded (SDK BadRequestError)', async () => {
      // claude-haiku-4-5 has a 200K window; ~1.1 MB of text is ~275K tokens to
      // the mock (bytes / 4), well below Axon's 16 MiB body cap.
      const big = 'lorem '.repeat(185000);
      const err = await sdkError(server, { model: 'claude-haiku-4-5', max_tokens: 100, messages: [user(big)] }, OpenAI.BadRequestError);
      assert.equal(err.status, 400);
      assert.equal(err.code, 'context_length_exceeded');
      assert.equal(err.type, 'invalid_request_error');
    });

    it('Claude\'s "prompt is too long" answer is 400 context_length_exceeded', async () => {
      const id = newId(server, 'ptl');
      const err = await sdkError(server,
        { model: 'gpt-4o', messages: [user(`long ${marker(id, 'fault=prompt_too_long')}`)] }, OpenAI.BadRequestError);
      assert.equal(err.code, 'context_length_exceeded');
      assert.equal(err.type, 'invalid_request_error');
      assert.equal((await recorded(id)).length, 1, 'the request reached Claude once');
    });

    // Last: a billing error may cool the pool down for a while.
    for (const [fault, what] of [['402', '402 billing_error'], ['credit_balance', '400 "credit balance is too low"']]) {
      it(`${what} is 429 insufficient_quota with x-should-retry: false`, async () => {
        const id = newId(server, `bill-${fault}`);
        const err = await sdkError(server,
          { model: 'gpt-4o', messages: [user(`pay ${marker(id, `fault=${fault}`)}`)] }, OpenAI.RateLimitError);
        assert.equal(err.status, 429);
        assert.equal(err.code, 'insufficient_quota');
        assert.equal(err.type, 'insufficient_quota');
        assert.equal(err.headers.get('x-should-retry'), 'false');
        assert.equal((await recorded(id)).length, 1, 'not retried upstream');
      });
    }
  });
}

// ---- the witness: the mock Claude itself refuses what the live API refuses ----
// (directly, without Axon), so that the tests above can trust its 400s.

const HEADERS = { 'x-api-key': 'k', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' };
async function toMock(body) {
  const res = await fetch(`${mockUrl()}/v1/messages`, { method: 'POST', headers: HEADERS, body: JSON.stringify(body), signal: AbortSignal.timeout(30000) });
  return { status: res.status, json: await res.json() };
}
const HI = [{ role: 'user', content: 'hi' }];
const PREFILL = [{ role: 'user', content: 'Write a haiku' }, { role: 'assistant', content: 'Autumn' }];
const CC = { type: 'ephemeral' };

describe('the mock Claude refuses what the live Messages API refuses', () => {
  const cases = [
    ['temperature + top_p on claude-sonnet-4-6', { model: 'claude-sonnet-4-6', temperature: 0.5, top_p: 0.9 },
      400, '`temperature` and `top_p` cannot both be specified for this model. Please use only one.'],
    ['temperature 0.5 on claude-opus-4-7', { model: 'claude-opus-4-7', temperature: 0.5 }, 400, '`temperature` is deprecated for this model.'],
    ['top_p 0.5 on claude-opus-4-8', { model: 'claude-opus-4-8', top_p: 0.5 }, 400, '`top_p` is deprecated for this model.'],
    ['top_k on claude-sonnet-5', { model: 'claude-sonnet-5', top_k: 5 }, 400, '`top_k` is deprecated for this model.'],
    ['top_p 0.995 on claude-opus-4-7', { model: 'claude-opus-4-7', top_p: 0.995 }, 200],
    ['prefill on claude-sonnet-4-6', { model: 'claude-sonnet-4-6', messages: PREFILL }, 400,
      'This model does not support assistant message prefill. The conversation must end with a user message.'],
    ['prefill on claude-sonnet-4-5', { model: 'claude-sonnet-4-5', messages: PREFILL }, 200],
    ['thinking enabled on claude-opus-4-7', { model: 'claude-opus-4-7', max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 2048 } }, 400,
      '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'],
    ['thinking enabled on claude-opus-4-6 (deprecated, accepted)', { model: 'claude-opus-4-6', max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 2048 } }, 200],
    ['adaptive on claude-sonnet-4-5', { model: 'claude-sonnet-4-5', thinking: { type: 'adaptive' } }, 400, 'adaptive thinking is not supported on this model'],
    ['display "full"', { model: 'claude-opus-4-6', thinking: { type: 'adaptive', display: 'full' } }, 400,
      "thinking.adaptive.display: Input should be 'summarized' or 'omitted'"],
    ['effort "extreme"', { model: 'claude-opus-4-6', output_config: { effort: 'extreme' } }, 400,
      "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'"],
    ['effort on claude-sonnet-4-5', { model: 'claude-sonnet-4-5', output_config: { effort: 'high' } }, 400, 'output_config.effort: effort is not supported on this model'],
    ['effort xhigh on claude-opus-4-6', { model: 'claude-opus-4-6', output_config: { effort: 'xhigh' } }, 400, 'output_config.effort: "xhigh" is not supported on this model'],
    ['max_tokens 100000 on claude-sonnet-4-6', { model: 'claude-sonnet-4-6', max_tokens: 100000 }, 400,
      'max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens for claude-sonnet-4-6-20260101'],
    ['max_tokens 100000 on claude-opus-4-7', { model: 'claude-opus-4-7', max_tokens: 100000 }, 200],
    ['an e-mail in metadata.user_id', { model: 'claude-haiku-4-5', metadata: { user_id: 'ann@example.com' } }, 400,
      'metadata.user_id: user_id appears to contain an email address. Please send a uuid or hash value in this field instead.'],
    ['cache_control ttl "2h"', { model: 'claude-haiku-4-5', cache_control: { type: 'ephemeral', ttl: '2h' } }, 400,
      "cache_control.ephemeral.ttl: Input should be '5m' or '1h'"],
    ['five cache_control breakpoints', {
      model: 'claude-haiku-4-5', cache_control: CC,
      system: [{ type: 'text', text: 'a', cache_control: CC }, { type: 'text', text: 'b', cache_control: CC }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'x', cache_control: { type: 'ephemeral', ttl: '1h' } }, { type: 'text', text: 'y', cache_control: CC }] }],
    }, 400, 'A maximum of 4 blocks with cache_control may be provided. Found 5.'],
    ['a text/plain document', {
      model: 'claude-haiku-4-5',
      messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'abc' } }, { type: 'text', text: 'sum' }] }],
    }, 200],
    ['a text/markdown document source', {
      model: 'claude-haiku-4-5',
      messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/markdown', data: 'abc' } }] }],
    }, 400, "messages.0.content.0.document.source.text.media_type: Input should be 'text/plain'"],
    ['an unknown model', { model: 'claude-3-opus-20240229' }, 404, 'model: claude-3-opus-20240229'],
    ['a prompt over claude-haiku-4-5\'s 200K window', { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'lorem '.repeat(140000) }] },
      400, /^prompt is too long: \d+ tokens > 200000 maximum$/],
    ['the same prompt in claude-sonnet-4-6\'s 1M window', { model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'lorem '.repeat(140000) }] }, 200],
    ['fault=credit_balance', { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: '[[mock fault=credit_balance]]' }] }, 400,
      'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.'],
    ['fault=prompt_too_long', { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: '[[mock fault=prompt_too_long]]' }] }, 400,
      'prompt is too long: 215000 tokens > 200000 maximum'],
  ];
  for (const [what, body, status, message] of cases) {
    it(`${what}: ${status}`, async () => {
      const r = await toMock({ max_tokens: 100, messages: HI, ...body });
      assert.equal(r.status, status, JSON.stringify(r.json).slice(0, 300));
      if (message instanceof RegExp) assert.match(r.json.error.message, message);
      else if (message !== undefined) assert.equal(r.json.error.message, message);
    });
  }

  it('signed thinking: sent back unchanged it is accepted; a changed text or a foreign signature is refused', async () => {
    const tools = [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];
    for (const [model, thinking] of [['claude-opus-4-6', { type: 'adaptive' }], ['claude-opus-4-7', { type: 'adaptive' }], ['claude-haiku-4-5', { type: 'enabled', budget_tokens: 1024 }]]) {
      const base = { model, max_tokens: 4000, thinking, tools };
      const first = await toMock({ ...base, messages: [{ role: 'user', content: 'weather?' }] });
      assert.equal(first.status, 200, JSON.stringify(first.json));
      const content = first.json.content;
      assert.equal(content[0].type, 'thinking');
      if (model === 'claude-opus-4-7') assert.equal(content[0].thinking, '', 'Opus 4.7 omits the thinking text by default');
      else assert.ok(content[0].thinking.length > 0, `${model} summarizes by default`);
      const tu = content.find((b) => b.type === 'tool_use');
      const turn2 = (asst) => ({ ...base, messages: [{ role: 'user', content: 'weather?' }, { role: 'assistant', content: asst },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: tu.id, content: 'sunny' }] }] });
      assert.equal((await toMock(turn2(content))).status, 200, `${model}: the block back unchanged`);
      const changed = await toMock(turn2([{ ...content[0], thinking: `${content[0].thinking} (edited)` }, ...content.slice(1)]));
      assert.equal(changed.status, 400);
      assert.equal(changed.json.error.message, 'messages.1.content.0: Invalid signature in thinking block');
      const foreign = await toMock(turn2([{ ...content[0], signature: 'EqQBCkYIBxgCKkA' + 'x'.repeat(64) }, ...content.slice(1)]));
      assert.equal(foreign.status, 400);
      assert.equal(foreign.json.error.message, 'messages.1.content.0: Invalid signature in thinking block');
      const missing = await toMock(turn2(content.slice(1)));
      assert.equal(missing.status, 400);
      assert.match(missing.json.error.message, /^messages\.1\.content\.0\.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`/);
    }
  });

  it('claude-sonnet-5 thinks unasked (display omitted) and stops when told', async () => {
    const on = await toMock({ model: 'claude-sonnet-5', max_tokens: 100, messages: HI });
    assert.equal(on.status, 200);
    assert.equal(on.json.content[0].type, 'thinking');
    assert.equal(on.json.content[0].thinking, '');
    const off = await toMock({ model: 'claude-sonnet-5', max_tokens: 100, messages: HI, thinking: { type: 'disabled' } });
    assert.equal(off.status, 200);
    assert.ok(off.json.content.every((b) => b.type !== 'thinking'));
  });
});
