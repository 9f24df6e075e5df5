// The mock Claude's control side (tests/mock/README.md) and the SDK client
// the chat tests share.
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { KEY, stackUrl, readSse, waitFor } from './lib.mjs';
import { assertValid } from './schema.mjs';

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

// server is a stack's name or a base URL (".../v1"). Streams body (which makes a mock drip "w0 w1 ..."), leaves after the first
// content chunk, and waits until abortsOf(id) shows the mock saw its upstream
// transfer cut. Returns the mock's abort event and the latency in ms from the
// client leaving to the upstream transfer's end.
export async function leaveMidStream(server, body, id, abortsOf) {
  const ctl = new AbortController();
  const t0 = performance.now();
  const base = server.startsWith('http') ? server : stackUrl(server);
  const res = await fetch(`${base}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ ...body, stream: true }),
    signal: ctl.signal,
  });
  assert.equal(res.status, 200);
  let abortedAt;
  await assert.rejects(readSse(res, t0, (block) => {
    if (block.startsWith('data: {')) assertValid('chunk', JSON.parse(block.slice(6)), 'chunk before the abort');
    if (abortedAt === undefined && block.includes('"content":"w0')) {
      abortedAt = Date.now();
      ctl.abort();
    }
  }), { name: 'AbortError' });
  assert.ok(abortedAt, 'a content chunk came before the abort');
  const a = await waitFor(async () => {
    const r = await abortsOf(id);
    return r.aborted >= 1 ? r : null;
  }, 6000, 'the mock to see the upstream transfer aborted');
  const event = a.events[0];
  console.log(`# ${server}: client gone -> upstream aborted in ${event.time - abortedAt} ms ` +
    `(mock wrote ${event.bytes_written} bytes, ${event.ms_since_request} ms after the request)`);
  return { aborted: a.aborted, event, latency: event.time - abortedAt };
}
