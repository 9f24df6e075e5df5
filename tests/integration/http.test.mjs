// The HTTP surface through each web server: routing, auth, errors, bodies.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  SERVER_NAMES, KEY, KEY2, stackUrl, originOf, call, assertEnvelope,
} from './lib.mjs';

const CHAT = '/v1/chat/completions';
const PARSE_ERROR = 'We could not parse the JSON body of your request.';
const json = { 'content-type': 'application/json' };
const validBody = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

// A chat body whose total JSON nesting depth is exactly `depth` (the outer
// object counts as 1; "x" holds depth-1 nested objects).
function nestedBody(depth) {
  const inner = '{"x":'.repeat(depth - 2) + '{}' + '}'.repeat(depth - 2);
  return `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"x":${inner}}`;
}

for (const server of SERVER_NAMES) {
  describe(`HTTP through ${server}`, () => {
    const origin = () => originOf(stackUrl(server));

    it('GET /health answers 200 {"status":"ok"} as JSON without a key', async () => {
      const res = await call(origin(), '/health');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/);
      assert.deepEqual(res.json, { status: 'ok' });
    });

    it('the web server serves / from www/ and sends /stats to axon', async () => {
      const page = await fetch(`${origin()}/`, { signal: AbortSignal.timeout(10000) });
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html\b/);
      assert.match(await page.text(), /Axon/);
      // Whatever /stats answers today, it must come from axon (request id).
      await call(origin(), '/stats', { key: KEY });
    });

    it('GET /v1/models without a key is 401 with OpenAI\'s missing-key message', async () => {
      const res = await call(origin(), '/v1/models');
      assertEnvelope(res, 401, {
        type: 'invalid_request_error', code: null, messagePrefix: "You didn't provide an API key.",
      });
    });

    it('GET /v1/models with a wrong key is 401 invalid_api_key', async () => {
      const res = await call(origin(), '/v1/models', { key: 'sk-axon-wrong-key' });
      assertEnvelope(res, 401, { type: 'invalid_request_error', code: 'invalid_api_key' });
      assert.ok(!res.text.includes('sk-axon-wrong-key'), 'the full wrong key must not be echoed back');
    });

    it('GET /v1/models with a valid key is 200 with a model list', async () => {
      const res = await call(origin(), '/v1/models', { key: KEY });
      assert.equal(res.status, 200, res.text);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/);
      assert.equal(res.json.object, 'list');
      assert.ok(Array.isArray(res.json.data), 'data is an array');
    });

    it('the second key of AXON_API_KEYS and a lowercase "bearer" scheme are accepted', async () => {
      assert.ok(KEY2, 'AXON_TEST_KEY2 is not set: run tests/integration/run.sh');
      const second = await call(origin(), '/v1/models', { key: KEY2 });
      assert.equal(second.status, 200, second.text);
      const lower = await call(origin(), '/v1/models', { auth: `bearer ${KEY}` });
      assert.equal(lower.status, 200, lower.text);
    });

    it('unknown paths under /v1/ are 404 "Invalid URL (METHOD /path)", checked before auth', async () => {
      const get = await call(origin(), '/v1/nope');
      assertEnvelope(get, 404, {
        type: 'invalid_request_error', code: null, message: 'Invalid URL (GET /v1/nope)',
      });
      const post = await call(origin(), '/v1/nope', { method: 'POST', key: KEY, headers: json, body: '{}' });
      assertEnvelope(post, 404, { code: null, message: 'Invalid URL (POST /v1/nope)' });
    });

    it('a known path with the wrong method is 405', async () => {
      const get = await call(origin(), CHAT, { key: KEY });
      assertEnvelope(get, 405, { type: 'invalid_request_error' });
      const post = await call(origin(), '/v1/models', { method: 'POST', key: KEY, headers: json, body: '{}' });
      assertEnvelope(post, 405, { type: 'invalid_request_error' });
    });

    it('malformed JSON is 400 with OpenAI\'s parse-error message', async () => {
      for (const body of ['{"model":', 'not json', '']) {
        const res = await call(origin(), CHAT, { method: 'POST', key: KEY, headers: json, body });
        assertEnvelope(res, 400, { type: 'invalid_request_error', messagePrefix: PARSE_ERROR });
      }
    });

    it('trailing garbage after the JSON value is 400', async () => {
      for (const body of ['{} x', '{}{}', `${validBody} 1`]) {
        const res = await call(origin(), CHAT, { method: 'POST', key: KEY, headers: json, body });
        assertEnvelope(res, 400, { type: 'invalid_request_error', messagePrefix: PARSE_ERROR });
      }
    });

    it('JSON nested 65 deep is 400, 64 deep is parsed', async () => {
      const deep = await call(origin(), CHAT, { method: 'POST', key: KEY, headers: json, body: nestedBody(65) });
      assertEnvelope(deep, 400, { type: 'invalid_request_error', messagePrefix: PARSE_ERROR });
      // Parsed: the complaint is now about the field, not the JSON.
      const ok = await call(origin(), CHAT, { method: 'POST', key: KEY, headers: json, body: nestedBody(64) });
      assertEnvelope(ok, 400, { message: 'Unrecognized request argument supplied: x' });
    });

    it('a 20 MiB body is 413 with a JSON envelope from axon', async () => {
      const body = `{"model":"gpt-4o-mini","x":"${'a'.repeat(20 * 1024 * 1024)}"}`;
      const res = await call(origin(), CHAT, { method: 'POST', key: KEY, headers: json, body });
      assertEnvelope(res, 413, { type: 'invalid_request_error' });
    });

    it('a valid chat body is answered by the upstream', async () => {
      const res = await call(origin(), CHAT, { method: 'POST', key: KEY, headers: json, body: validBody });
      assert.equal(res.status, 200, res.text);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/);
      assert.equal(res.json.object, 'chat.completion');
      assert.equal(res.json.choices[0].message.content, 'Hello from the mock.');
    });

    it('every answer has its own x-request-id', async () => {
      // call() checks the format and that no id repeats within this file.
      const ids = new Set();
      for (let i = 0; i < 5; i++) ids.add((await call(origin(), '/health')).id);
      for (let i = 0; i < 3; i++) ids.add((await call(origin(), '/v1/models')).id);
      assert.equal(ids.size, 8);
    });
  });
}
