// POST /v1/embeddings and POST /v1/completions through each web server,
// against the mock vLLM (tests/mock/openai.mjs): routed by model to the
// OpenAI-compatible upstream, with auth, the pool, the error envelope and
// the request's tokens in axon's log line. Clients: the official `openai`
// SDK (embeddings.create, completions.create, plain and streamed), and the
// wire shapes LangChain's OpenAIEmbeddings (token id arrays) and the AI
// SDK's embed (encoding_format float) send. Every answer is checked against
// the OpenAI spec (CreateEmbeddingResponse, CreateCompletionResponse,
// ErrorResponse).
//
// The mock serves embeddings only for the models its /_mock/config names
// in embed_models (a real vLLM serves one kind per process): this file adds
// two embedding models for its run and puts the mock's state back after,
// never removing the models the other files use.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import OpenAI from 'openai';
import {
  SERVER_NAMES, KEY, stackUrl, originOf, call, assertEnvelope, readSse, dataOf, waitFor, stackLogFile,
} from './lib.mjs';
import { assertValid } from './schema.mjs';

const JSON_HEADERS = { 'content-type': 'application/json' };
const EMBED = 'mock-embed-mrl';  // an embedding model with matryoshka dimensions
const EMBED_DIM = 16;
const FIXED = 'mock-embed-fixed'; // one without (like BAAI/bge-m3)
const FIXED_DIM = 8;
const CHAT_MODEL = 'qwen3-coder'; // the mock's generating model
const CLAUDE = 'claude-sonnet-4-6';
const NO_EMBED = 'You are not allowed to generate embeddings from this model';
const NO_COMPLETIONS = 'This is a chat model and not supported in the v1/completions endpoint. ' +
  'Did you mean to use v1/chat/completions?';

// ---- the mock vLLM's control side ---------------------------------------------

function vmockUrl() {
  const url = process.env.AXON_TEST_VLLM_MOCK_URL;
  assert.ok(url, 'AXON_TEST_VLLM_MOCK_URL is not set: run tests/integration/run.sh');
  return url;
}

async function vmock(pathAndQuery, { method = 'GET', body } = {}) {
  const res = await fetch(`${vmockUrl()}${pathAndQuery}`, {
    method, headers: body === undefined ? {} : JSON_HEADERS,
    body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10000),
  });
  const json = await res.json();
  assert.equal(res.status, 200, `${method} ${pathAndQuery}: ${JSON.stringify(json)}`);
  return json;
}
const vconfig = (body) => (body === undefined ? vmock('/_mock/config') : vmock('/_mock/config', { method: 'POST', body }));
const vrecorded = (id) => vmock(`/_mock/requests?id=${encodeURIComponent(id)}`);

async function onlyRecorded(id) {
  const recs = await vrecorded(id);
  assert.equal(recs.length, 1, `the mock vLLM got exactly one request for ${id}`);
  return recs[0];
}

// ---- helpers ----------------------------------------------------------------------

let counter = 0;
const newId = (server, tag) => `emb-${server}-${tag}-${++counter}-${process.pid}`;
const marker = (id, extra = '') => `[[mock id=${id}${extra ? ` ${extra}` : ''}]]`;
const sdk = (server) => new OpenAI({ baseURL: stackUrl(server), apiKey: KEY, maxRetries: 0, timeout: 30000 });

async function post(server, path, body, { key = KEY } = {}) {
  return call(originOf(stackUrl(server)), `/v1/${path}`, {
    method: 'POST', key, headers: JSON_HEADERS, body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

// An error envelope, valid against the spec, code a string or null.
function assertError(res, status, fields = {}) {
  assertValid('error', res.json, `error ${status}`);
  const e = assertEnvelope(res, status, fields);
  assert.ok(e.code === null || typeof e.code === 'string', `code is a string or null: ${JSON.stringify(e.code)}`);
  return e;
}

// The floats of a base64 embedding (little-endian float32, as OpenAI and vLLM send it).
function floatsOf(b64) {
  const buf = Buffer.from(b64, 'base64');
  return Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4));
}

// axon's log line for one request (the stack's stderr).
async function logLineOf(server, requestId) {
  const file = stackLogFile(server);
  const line = await waitFor(() => {
    const all = fs.readFileSync(file, 'utf8');
    const at = all.indexOf(`"request_id":"${requestId}"`);
    if (at < 0) return null;
    const end = all.indexOf('\n', at);
    return end < 0 ? null : all.slice(all.lastIndexOf('\n', at) + 1, end);
  }, 5000, `axon's log line for ${requestId}`);
  return JSON.parse(line);
}

// The spec gives a stream chunk the answer's shape, finish_reason a string;
// OpenAI's own streams (and the SDK's types for them) have it null until
// the last chunk of a choice. A chunk is checked with that null read as
// "stop": everything else must be as the spec says.
const streamed = (o) => ({
  ...o, choices: o.choices.map((c) => (c.finish_reason === null ? { ...c, finish_reason: 'stop' } : c)),
});

// A streamed /v1/completions by raw fetch: the data: payloads, parsed.
async function rawStream(server, body) {
  const res = await fetch(`${stackUrl(server)}/completions`, {
    method: 'POST', headers: { ...JSON_HEADERS, authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ ...body, stream: true }), signal: AbortSignal.timeout(30000),
  });
  const requestId = res.headers.get('x-request-id');
  assert.match(requestId ?? '', /^req_[0-9a-f]{32}$/);
  if (res.status !== 200) return { status: res.status, json: await res.json() };
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream\b/);
  const { blocks } = await readSse(res, performance.now());
  const data = dataOf(blocks).map((d) => d.data);
  assert.equal(data.at(-1), '[DONE]', 'the stream ends with [DONE]');
  assert.equal(data.filter((d) => d === '[DONE]').length, 1);
  const objs = data.slice(0, -1).map((d) => JSON.parse(d));
  for (const [k, o] of objs.entries()) {
    if (o.error) assertValid('error', o, `error event ${k}`);
    else assertValid('completion', streamed(o), `chunk ${k}`);
  }
  return { status: 200, objs, requestId, blocks };
}

// ---- the mock's embedding models, for this file's run ------------------------------

let original;

before(async () => {
  original = await vconfig();
  const models = original.models.map((m) => ({ id: m.id, max_model_len: m.max_model_len }));
  await vconfig({
    models: [...models, EMBED, FIXED],
    embed_models: [{ id: EMBED, dim: EMBED_DIM }, { id: FIXED, dim: FIXED_DIM, matryoshka: false }],
  });
  for (const server of SERVER_NAMES) {
    await waitFor(async () => {
      const res = await call(originOf(stackUrl(server)), `/v1/models/${EMBED}`, { key: KEY });
      return res.status === 200;
    }, 5000, `${EMBED} to be listed through ${server}`);
  }
});

// Only this file's two models leave: another file (vllm.test.mjs) may have
// added one of its own meanwhile.
after(async () => {
  if (!original) return;
  const now = await vconfig();
  await vconfig({
    models: now.models.filter((m) => m.id !== EMBED && m.id !== FIXED)
      .map((m) => ({ id: m.id, max_model_len: m.max_model_len })),
    embed_models: original.embed_models ?? [],
  });
});

for (const server of SERVER_NAMES) {
  describe(`/v1/embeddings through ${server}`, () => {
    it('the SDK\'s embeddings.create (base64 on the wire by default) gets floats, usage and the model', async () => {
      const id = newId(server, 'sdk');
      const input = `${marker(id)} The quick brown fox`;
      const r = await sdk(server).embeddings.create({ model: EMBED, input });
      assert.equal(r.object, 'list');
      assert.equal(r.model, EMBED);
      assert.equal(r.data.length, 1);
      assert.equal(r.data[0].object, 'embedding');
      assert.equal(r.data[0].index, 0);
      assert.equal(r.data[0].embedding.length, EMBED_DIM);
      assert.ok(r.data[0].embedding.every((x) => typeof x === 'number' && Number.isFinite(x)));
      assert.equal(r.usage.prompt_tokens, 6, 'the upstream\'s count (a word a token in the mock: the marker is two)');
      assert.equal(r.usage.total_tokens, 6);
      const rec = await onlyRecorded(id);
      assert.equal(rec.path, '/v1/embeddings');
      assert.equal(rec.body.encoding_format, 'base64', 'the SDK asks for base64; it reaches the upstream');
      assert.equal(rec.body.model, EMBED);
      assert.equal(rec.headers.authorization, 'Bearer sk-vllm-test-key', 'the upstream\'s key, never the client\'s');
    });

    it('an array of strings, float and base64: the same vectors, in order, valid against the spec', async () => {
      const id = newId(server, 'arr');
      const input = [`${marker(id)} one`, 'two words', 'three words here'];
      const f = await post(server, 'embeddings', { model: EMBED, input, encoding_format: 'float' });
      assert.equal(f.status, 200, f.text);
      assertValid('embedding', f.json, 'float answer');
      assert.deepEqual(f.json.data.map((d) => d.index), [0, 1, 2]);
      const b = await post(server, 'embeddings', { model: EMBED, input, encoding_format: 'base64' });
      assert.equal(b.status, 200, b.text);
      for (let i = 0; i < 3; i++) {
        assert.equal(typeof b.json.data[i].embedding, 'string', 'base64 stays a string');
        const floats = floatsOf(b.json.data[i].embedding);
        assert.equal(floats.length, EMBED_DIM);
        f.json.data[i].embedding.forEach((x, k) => assert.ok(Math.abs(x - floats[k]) < 1e-6, `vector ${i}[${k}]`));
      }
      assert.equal(f.json.usage.prompt_tokens, 3 + 2 + 3);
    });

    it('token arrays (LangChain\'s OpenAIEmbeddings sends token ids) and one token array', async () => {
      const r = await post(server, 'embeddings', { model: EMBED, input: [[1, 2, 3], [4, 5]], encoding_format: 'float' });
      assert.equal(r.status, 200, r.text);
      assertValid('embedding', r.json, 'token arrays');
      assert.equal(r.json.data.length, 2);
      assert.equal(r.json.usage.prompt_tokens, 5);
      const one = await post(server, 'embeddings', { model: EMBED, input: [7, 8, 9, 10] });
      assert.equal(one.status, 200, one.text);
      assert.equal(one.json.data.length, 1, 'one token array is one input');
      assert.equal(one.json.usage.prompt_tokens, 4);
    });

    it('dimensions shortens a matryoshka model\'s vectors; a model without gets vLLM\'s 400', async () => {
      // The AI SDK's embed sends {model, input: [text], encoding_format: 'float', dimensions}.
      const r = await post(server, 'embeddings', { model: EMBED, input: ['hi'], encoding_format: 'float', dimensions: 4 });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.data[0].embedding.length, 4);
      const no = await post(server, 'embeddings', { model: FIXED, input: 'hi', dimensions: 4 });
      assertError(no, 400, {
        type: 'invalid_request_error',
        message: `Model "${FIXED}" does not support matryoshka representation, changing output dimensions will lead to poor results.`,
      });
      const plain = await post(server, 'embeddings', { model: FIXED, input: 'hi', encoding_format: 'float' });
      assert.equal(plain.status, 200, plain.text);
      assert.equal(plain.json.data[0].embedding.length, FIXED_DIM);
    });

    it('the tokens reach axon\'s log line, with the model and the upstream', async () => {
      // The first makes sure the process keeps a session of this upstream.
      assert.equal((await post(server, 'embeddings', { model: EMBED, input: 'warm' })).status, 200);
      const r = await post(server, 'embeddings', { model: EMBED, input: ['a b c d e f g'], encoding_format: 'float' });
      assert.equal(r.status, 200, r.text);
      const line = await logLineOf(server, r.id);
      assert.equal(line.status, 200);
      assert.equal(line.model, EMBED);
      assert.equal(line.upstream, 'vllm');
      assert.equal(line.tokens_in, 7);
      assert.equal(line.tokens_out, 0);
      assert.equal(line.valkey_rt, 0, 'the pool session this process keeps: taken and given back in memory');
    });

    it('a Claude model gets OpenAI\'s 403 for a model without embeddings (SDK: PermissionDeniedError)', async () => {
      const r = await post(server, 'embeddings', { model: CLAUDE, input: 'hi' });
      const e = assertError(r, 403, { type: 'invalid_request_error', message: NO_EMBED, code: null });
      assert.equal(e.param, null);
      await assert.rejects(sdk(server).embeddings.create({ model: 'gpt-4o', input: 'hi' }),
        (err) => err instanceof OpenAI.PermissionDeniedError && err.message.includes(NO_EMBED));
    });

    it('a vLLM chat model: the upstream has no such route (404 Not Found), the client gets OpenAI\'s 403', async () => {
      const id = newId(server, 'chatmodel');
      const r = await post(server, 'embeddings', { model: CHAT_MODEL, input: `${marker(id)} hi` });
      assertError(r, 403, { message: NO_EMBED, code: null });
      assert.equal((await onlyRecorded(id)).path, '/v1/embeddings', 'asked of the upstream, which said no');
      for (const how of ['legacy', 'legacy200']) {
        const r2 = await post(server, 'embeddings', { model: CHAT_MODEL, input: `${marker(newId(server, how), `embed_error=${how}`)} hi` });
        assertError(r2, 403, { message: NO_EMBED });
      }
    });

    it('an unknown model is 404 model_not_found; no key is 401', async () => {
      const r = await post(server, 'embeddings', { model: 'no-such-embedder', input: 'hi' });
      assertError(r, 404, { code: 'model_not_found', message: 'The model `no-such-embedder` does not exist or you do not have access to it.' });
      const k = await post(server, 'embeddings', { model: EMBED, input: 'hi' }, { key: '' });
      assertError(k, 401, { type: 'invalid_request_error' });
    });

    it('a bad body is a 400 in OpenAI\'s words, before any upstream call', async () => {
      const cases = [
        [{ model: EMBED }, 'missing_required_parameter', "Missing required parameter: 'input'."],
        [{ input: 'hi' }, 'missing_required_parameter', "Missing required parameter: 'model'."],
        [{ model: EMBED, input: '' }, null, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."],
        [{ model: EMBED, input: ['a', 1] }, null, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."],
        [{ model: EMBED, input: [] }, 'empty_array', undefined],
        [{ model: EMBED, input: Array(2049).fill('x') }, 'array_above_max_length', undefined],
        [{ model: EMBED, input: 'hi', encoding_format: 'int8' }, 'invalid_value', "Invalid value: 'int8'. Supported values are: 'float' and 'base64'."],
        [{ model: EMBED, input: 'hi', dimensions: 0 }, 'integer_below_min_value', undefined],
        [{ model: CLAUDE, input: 'hi', truncate_prompt_tokens: 3 }, null, 'Unrecognized request argument supplied: truncate_prompt_tokens'],
      ];
      for (const [body, code, message] of cases) {
        const r = await post(server, 'embeddings', body);
        assertError(r, 400, { code, message, type: 'invalid_request_error' });
      }
      const json = await post(server, 'embeddings', '{"model":');
      assertError(json, 400);
    });

    it('vLLM\'s own fields pass to a vLLM model', async () => {
      const id = newId(server, 'ext');
      const r = await post(server, 'embeddings', { model: EMBED, input: `${marker(id)} hi`, truncate_prompt_tokens: 3, encoding_format: 'float' });
      assert.equal(r.status, 200, r.text);
      assert.equal((await onlyRecorded(id)).body.truncate_prompt_tokens, 3);
    });

    it('the upstream\'s errors are mapped as chat maps them', async () => {
      const r429 = await post(server, 'embeddings', { model: EMBED, input: `${marker(newId(server, 'e429'), 'fault=429 retry_after=100')} hi` });
      assertError(r429, 429, { code: 'rate_limit_exceeded' });
      assert.equal(r429.headers.get('retry-after'), '100', 'too long for Axon to wait: passed on');
      const r400 = await post(server, 'embeddings', { model: EMBED, input: `${marker(newId(server, 'e400'), 'fault=400')} hi` });
      assertError(r400, 400, { message: 'mock: injected 400 Bad Request', type: 'invalid_request_error' });
      const r401 = await post(server, 'embeddings', { model: EMBED, input: `${marker(newId(server, 'e401'), 'fault=401')} hi` });
      assertError(r401, 502, { code: 'upstream_auth_failed' });
      // A 500 once is retried before the client sees anything.
      const id = newId(server, 'e500');
      const ok = await post(server, 'embeddings', { model: EMBED, input: `${marker(id, 'fault=500 times=1')} hi`, encoding_format: 'float' });
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await vrecorded(id)).length, 2);
    });
  });

  describe(`/v1/completions through ${server}`, () => {
    it('the SDK\'s completions.create: a text_completion valid against the spec, tokens logged', async () => {
      const id = newId(server, 'cmpl');
      const c = await sdk(server).completions.create({ model: CHAT_MODEL, prompt: `${marker(id)} Say this is a test`, max_tokens: 3 });
      assert.equal(c.object, 'text_completion');
      assert.equal(c.model, CHAT_MODEL);
      assert.equal(c.choices[0].text, 'Hello from the');
      assert.equal(c.choices[0].finish_reason, 'length');
      assert.equal(c.usage.completion_tokens, 3);
      const r = await post(server, 'completions', { model: CHAT_MODEL, prompt: ['a b', 'c'], n: 2, echo: true, max_tokens: 50 });
      assert.equal(r.status, 200, r.text);
      assertValid('completion', r.json, 'raw answer');
      assert.equal(r.json.choices.length, 2);
      assert.equal(r.json.choices[1].text, 'a bcHello from the mock.');
      assert.equal(r.json.choices[1].finish_reason, 'stop');
      const line = await logLineOf(server, r.id);
      assert.equal(line.tokens_in, r.json.usage.prompt_tokens);
      assert.equal(line.tokens_out, r.json.usage.completion_tokens);
      assert.equal(line.model, CHAT_MODEL);
      const rec = await onlyRecorded(id);
      assert.equal(rec.path, '/v1/completions');
      assert.equal(rec.body.max_tokens, 3);
    });

    it('a stream passes through: usage asked of the upstream always, shown only when asked', async () => {
      const id = newId(server, 'stream');
      const s = await sdk(server).completions.create({ model: CHAT_MODEL, prompt: `${marker(id)} hi`, stream: true });
      let text = '';
      const chunks = [];
      for await (const ch of s) {
        chunks.push(ch);
        text += ch.choices[0]?.text ?? '';
      }
      assert.equal(text, 'Hello from the mock.');
      assert.ok(chunks.every((ch) => !('usage' in ch)), 'no usage unless asked');
      assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
      const rec = await onlyRecorded(id);
      assert.deepEqual(rec.body.stream_options, { include_usage: true }, 'Axon counts tokens');
      const raw = await rawStream(server, { model: CHAT_MODEL, prompt: 'hi', stream_options: { include_usage: true } });
      const last = raw.objs.at(-1);
      assert.deepEqual(last.choices, []);
      assert.equal(last.usage.completion_tokens, 4);
      assert.ok(raw.objs.every((o) => o.model === CHAT_MODEL));
      const line = await logLineOf(server, raw.requestId);
      assert.equal(line.tokens_out, 4);
    });

    it('a stream whose upstream is silent gets heartbeats (AXON_HEARTBEAT_S=1 in these stacks)', async () => {
      const raw = await rawStream(server, { model: CHAT_MODEL, prompt: `${marker(newId(server, 'slow'), 'ms=1600')} hi`, max_tokens: 2 });
      assert.equal(raw.objs.map((o) => o.choices[0]?.text ?? '').join(''), 'Hello from');
      assert.ok(raw.blocks.some((b) => b.block === ': ping'), `a ping between the slow events: ${JSON.stringify(raw.blocks.map((b) => b.block))}`);
    });

    it('a client that leaves mid-stream: the upstream transfer is cut', async () => {
      const id = newId(server, 'gone');
      const ctl = new AbortController();
      const res = await fetch(`${stackUrl(server)}/completions`, {
        method: 'POST', headers: { ...JSON_HEADERS, authorization: `Bearer ${KEY}` }, signal: ctl.signal,
        body: JSON.stringify({ model: CHAT_MODEL, prompt: `${marker(id, 'ms=400')} hi`, max_tokens: 16, stream: true }),
      });
      assert.equal(res.status, 200);
      const reader = res.body.getReader();
      let seen = '';
      while (!seen.includes('"text"')) {
        const { value, done } = await reader.read();
        assert.ok(!done, 'the stream ended before its first chunk');
        seen += new TextDecoder().decode(value);
      }
      ctl.abort();
      const ab = await waitFor(async () => {
        const a = await vmock(`/_mock/aborts?id=${encodeURIComponent(id)}`);
        return a.aborted >= 1 ? a : null;
      }, 5000, 'the mock to see its transfer cut');
      assert.equal(ab.aborted, 1);
    });

    it('an upstream error mid-stream is an error event, then [DONE]', async () => {
      const raw = await rawStream(server, { model: CHAT_MODEL, prompt: `${marker(newId(server, 'mid'), 'fault=error-midstream')} hi` });
      assert.equal(raw.status, 200);
      const errs = raw.objs.filter((o) => o.error);
      assert.equal(errs.length, 1);
      assert.ok(raw.objs.at(-1).error, 'the error is the last event');
    });

    it('a Claude model, and an embedding model, get OpenAI\'s 404 for a chat model at v1/completions', async () => {
      for (const model of [CLAUDE, EMBED]) {
        const r = await post(server, 'completions', { model, prompt: 'hi' });
        const e = assertError(r, 404, { type: 'invalid_request_error', message: NO_COMPLETIONS, code: null });
        assert.equal(e.param, 'model');
      }
      await assert.rejects(sdk(server).completions.create({ model: 'gpt-4o', prompt: 'hi' }),
        (err) => err instanceof OpenAI.NotFoundError && err.message.includes(NO_COMPLETIONS));
    });

    it('bad bodies, an unknown model and no key', async () => {
      const cases = [
        [{ model: CHAT_MODEL }, 'missing_required_parameter', "Missing required parameter: 'prompt'."],
        [{ model: CHAT_MODEL, prompt: 'hi', temperature: 3 }, 'decimal_above_max_value', undefined],
        [{ model: CHAT_MODEL, prompt: 'hi', logprobs: 6 }, 'integer_above_max_value', undefined],
        [{ model: CHAT_MODEL, prompt: 'hi', n: 3, best_of: 2 }, 'invalid_value', undefined],
        [{ model: CHAT_MODEL, prompt: 'hi', stream_options: { include_usage: true } }, 'invalid_value', undefined],
        [{ model: CHAT_MODEL, prompt: [[]] }, 'empty_array', undefined],
      ];
      for (const [body, code, message] of cases) {
        const r = await post(server, 'completions', body);
        assertError(r, 400, { code, message });
      }
      assertError(await post(server, 'completions', { model: 'nope', prompt: 'hi' }), 404, { code: 'model_not_found' });
      assertError(await post(server, 'completions', { model: CHAT_MODEL, prompt: 'hi' }, { key: '' }), 401);
    });

    it('GET on either route is 405 with Allow: POST', async () => {
      for (const p of ['embeddings', 'completions']) {
        const r = await call(originOf(stackUrl(server)), `/v1/${p}`, { key: KEY });
        assertError(r, 405);
        assert.equal(r.headers.get('allow'), 'POST');
      }
    });
  });
}
