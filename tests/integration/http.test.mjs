// The HTTP surface through each web server: routing, auth, errors, bodies.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import {
  SERVER_NAMES, KEY, KEY2, stackUrl, originOf, call, assertEnvelope, stackLogFile, waitFor,
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

const isUtf8 = (bytes) => {
  try { new TextDecoder('utf-8', { fatal: true }).decode(bytes); return true; } catch { return false; }
};

// GET with the request line written byte by byte: fetch and every HTTP
// library percent-encode a path, and the point here is the bytes themselves.
// HTTP/1.0, so that the answer is neither chunked nor kept alive.
function rawGet(origin, pathBytes, headers = {}) {
  const { hostname, port } = new URL(origin);
  const head = Object.entries({ host: `${hostname}:${port}`, ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), hostname);
    const chunks = [];
    sock.setTimeout(10000, () => sock.destroy(new Error('no answer within 10 s')));
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', reject);
    sock.on('end', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      const lines = all.subarray(0, split).toString('latin1').split('\r\n');
      const hdrs = new Map(lines.slice(1).map((l) => {
        const i = l.indexOf(':');
        return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
      }));
      const body = all.subarray(split + 4);
      let json;
      try { json = JSON.parse(body.toString('utf8')); } catch { json = undefined; }
      resolve({
        status: Number(lines[0].split(' ')[1]), headers: { get: (k) => hdrs.get(k.toLowerCase()) ?? null },
        body, text: body.toString('utf8'), json, id: hdrs.get('x-request-id'),
      });
    });
    // write, not end: nginx takes a half-closed connection for a client that
    // left (499, no answer). The server closes after its HTTP/1.0 answer.
    sock.write(Buffer.concat([Buffer.from('GET '), Buffer.from(pathBytes), Buffer.from(` HTTP/1.0\r\n${head}\r\n`)]));
  });
}

// axon's log line for one request, from the shared stack's output: its raw
// bytes must be UTF-8 and the line one JSON object.
async function logLineOf(server, requestId) {
  const file = stackLogFile(server);
  const bytes = await waitFor(() => {
    const all = fs.readFileSync(file);
    const at = all.indexOf(`"request_id":"${requestId}"`);
    if (at < 0) return null;
    const start = all.lastIndexOf(0x0a, at) + 1;
    const end = all.indexOf(0x0a, at);
    return end < 0 ? null : all.subarray(start, end);
  }, 5000, `axon's log line for ${requestId}`);
  assert.ok(isUtf8(bytes), `the log line is valid UTF-8: ${bytes.toString('latin1')}`);
  return JSON.parse(bytes.toString('utf8'));
}

// A body from the web server itself has no x-request-id (lighttpd's
// errorfile): checked as an envelope, not through call().
async function postRaw(origin, body) {
  const res = await fetch(`${origin}/v1/chat/completions`, {
    method: 'POST', body, signal: AbortSignal.timeout(60000),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
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

    it('a 33 MiB body is the web server\'s own 413, in OpenAI\'s envelope with code request_too_large', async () => {
      // Above the servers' 32 MiB cap (server.max-request-size in
      // etc/lighttpd-base.conf, client_max_body_size in etc/nginx.conf), so
      // axon never sees it: the answer is the web server's.
      const res = await postRaw(origin(), Buffer.alloc(33 * 1024 * 1024, 'a'));
      const e = assertEnvelope(res, 413, {
        type: 'invalid_request_error', code: 'request_too_large',
        messagePrefix: 'Request body too large',
      });
      assert.equal(e.param, null);
      assert.match(e.message, /32 MiB/, 'the message names the limit');
    });

    it('a URL path that is not UTF-8 is answered in valid UTF-8 JSON, the bad bytes as %XX, and logged as valid JSON', async () => {
      // 0xff 0xfe can never be UTF-8. lighttpd refuses such a URL itself
      // (its URL normalisation rejects the bytes 0xc0, 0xc1 and 0xf5-0xff,
      // before any config condition applies): a 400 in the envelope of its
      // errorfile (etc/lighttpd-base.conf). nginx passes it to axon.
      const ff = await rawGet(origin(), [...Buffer.from('/v1/'), 0xff, 0xfe]);
      assert.ok(isUtf8(ff.body), `the body is valid UTF-8: ${ff.body.toString('latin1')}`);
      if (server === 'lighttpd') {
        assertEnvelope(ff, 400, { type: 'invalid_request_error', code: null });
      } else {
        assertEnvelope(ff, 404, { type: 'invalid_request_error', code: null, message: 'Invalid URL (GET /v1/%FF%FE)' });
        const line = await logLineOf(server, ff.id);
        assert.equal(line.path, '/v1/%FF%FE');
        assert.equal(line.status, 404);
      }
      // Latin-1 "é" (0xe9) and a lone continuation byte (0x80) pass both
      // servers and reach axon.
      const latin = await rawGet(origin(), [...Buffer.from('/v1/caf'), 0xe9, 0x2f, 0x80]);
      assert.ok(isUtf8(latin.body), `the body is valid UTF-8: ${latin.body.toString('latin1')}`);
      assertEnvelope(latin, 404, { code: null, message: 'Invalid URL (GET /v1/caf%E9/%80)' });
      const line = await logLineOf(server, latin.id);
      assert.equal(line.path, '/v1/caf%E9/%80');
      // Well-formed UTF-8 is left as it is, and a model id is echoed the same way.
      const model = await rawGet(origin(), [...Buffer.from('/v1/models/caf\u00e9-'), 0xe9], {
        authorization: `Bearer ${KEY}`,
      });
      assert.ok(isUtf8(model.body), `the body is valid UTF-8: ${model.body.toString('latin1')}`);
      assertEnvelope(model, 404, {
        code: 'model_not_found',
        message: 'The model `caf\u00e9-%E9` does not exist or you do not have access to it.',
      });
      assert.equal((await logLineOf(server, model.id)).path, '/v1/models/caf\u00e9-%E9');
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
