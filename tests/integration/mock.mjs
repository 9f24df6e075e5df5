// The mock Claude's control side (tests/mock/README.md) and the SDK client
// the chat tests share.
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { KEY, stackUrl } from './lib.mjs';

export function mockUrl() {
  const url = process.env.AXON_TEST_MOCK_URL;
  assert.ok(url, 'AXON_TEST_MOCK_URL is not set: run tests/integration/run.sh');
  return url;
}

// GET on the mock's control routes, as JSON.
export async function mockGet(pathAndQuery) {
  const res = await fetch(`${mockUrl()}${pathAndQuery}`, { signal: AbortSignal.timeout(10000) });
  assert.equal(res.status, 200);
  return res.json();
}

// The Messages API requests the mock received for a directive id.
export const recorded = (id) => mockGet(`/_mock/requests?id=${encodeURIComponent(id)}`);
// How many upstream transfers for the id were cut by their client (axon).
export const aborts = (id) => mockGet(`/_mock/aborts?id=${encodeURIComponent(id)}`);

// The official SDK pointed at one stack; no retries, so tests see each answer.
export const sdk = (server) => new OpenAI({ baseURL: stackUrl(server), apiKey: KEY, maxRetries: 0, timeout: 30000 });

// POST body (with stream: true) to the stack's chat route by raw fetch, so
// the test sees the wire bytes; checks the x-request-id.
export async function postStream(server, body) {
  const res = await fetch(`${stackUrl(server)}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ ...body, stream: true }),
    signal: AbortSignal.timeout(30000),
  });
  assert.match(res.headers.get('x-request-id') ?? '', /^req_[0-9a-f]{32}$/);
  return res;
}
