// loadgen's Responses streams (--sse responses), against a small node
// server that writes a stream in the shape POST /v1/responses sends
// (docs/responses.md, "Stream events"): make bench-smoke runs it with
// node --test after building build/bench/loadgen.
// What the bench table relies on: the time to the first token is the first
// response.output_text.delta event, not the first byte (a Responses stream
// opens with response.created, which may well quote the marker), the gaps
// are between deltas only (output_text.done and response.completed repeat
// the whole text), and a stream is complete only with response.completed:
// response.failed, or a chat stream's [DONE], is an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const loadgen = path.join(root, 'build/bench/loadgen');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const delta = (text) => ev('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: text });
// The opening events quote the marker (as instructions might): a first-byte
// or first-marker clock would stop here, FIRST_MS before the first delta.
const FIRST_MS = 80, GAP_MS = 40;
const opening = ev('response.created', { response: { id: 'resp_1', status: 'in_progress', instructions: 'say ~t', output: [] } }) +
  ev('response.in_progress', { response: { id: 'resp_1', status: 'in_progress', instructions: 'say ~t', output: [] } }) +
  ev('response.output_item.added', { output_index: 0, item: { id: 'msg_1', type: 'message', content: [] } }) +
  ev('response.content_part.added', { item_id: 'msg_1', part: { type: 'output_text', text: '' } });
const closing = (end) => ev('response.output_text.done', { item_id: 'msg_1', text: '~t1 ~t2' }) +
  ev('response.content_part.done', { item_id: 'msg_1', part: { type: 'output_text', text: '~t1 ~t2' } }) +
  ev('response.output_item.done', { output_index: 0, item: { id: 'msg_1', type: 'message', content: [{ type: 'output_text', text: '~t1 ~t2' }] } }) +
  end;

// Serves every POST with STREAM(res), then runs loadgen ARGS against it.
const against = async (stream, args) => {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', async () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      await stream(res);
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'axon-loadgen-test-'));
  try {
    const body = path.join(dir, 'body.json');
    fs.writeFileSync(body, '{"model":"m","input":"hi","stream":true}');
    const out = await new Promise((resolve, reject) => {
      execFile(loadgen, ['--url', `http://127.0.0.1:${server.address().port}/v1/responses`, '--body', body,
        '--mode', 'stream', '--warmup', '0', '--requests', '3', '--timeout-s', '5', ...args],
      { encoding: 'utf8' }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
    });
    return JSON.parse(out);
  } finally {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
};

const responsesStream = (end) => async (res) => {
  res.write(opening);
  await sleep(FIRST_MS);
  res.write(delta('~t1'));
  await sleep(GAP_MS);
  res.write(delta(' ~t2'));
  res.write(closing(end));
};
const completed = ev('response.completed', { response: { id: 'resp_1', status: 'completed' } });

test('--sse responses: time to first token at the first output_text.delta, gaps between deltas, ends at response.completed', async () => {
  const r = await against(responsesStream(completed), ['--sse', 'responses']);
  assert.equal(r.errors, 0);
  assert.equal(r.ok, 3);
  assert.ok(r.ttfb_us.p50 < FIRST_MS * 1000 / 2, `ttfb ${r.ttfb_us.p50} µs: the opening events come at once`);
  assert.ok(r.ttft_us.p50 >= FIRST_MS * 1000, `ttft ${r.ttft_us.p50} µs: the first delta comes ${FIRST_MS} ms in`);
  // One gap per response: between the two deltas, and not the 0 µs to the
  // done events that repeat the text.
  assert.equal(r.gap_us.n, 3);
  assert.ok(r.gap_us.min >= GAP_MS * 1000 * 0.9, `gap ${r.gap_us.min} µs`);
  assert.equal(r.events_min, 10);
});

test('--sse responses: a stream that ends in response.failed is an error', async () => {
  const failed = ev('error', { code: 'server_error', message: 'upstream' }) +
    ev('response.failed', { response: { id: 'resp_1', status: 'failed' } });
  const r = await against(responsesStream(failed), ['--sse', 'responses']);
  assert.equal(r.ok, 0);
  assert.equal(r.errors, 3);
  assert.equal(r.error_kinds.incomplete, 3);
});

test('--sse responses: a chat stream\'s [DONE] does not end a Responses stream', async () => {
  const r = await against(responsesStream('data: [DONE]\n\n'), ['--sse', 'responses']);
  assert.equal(r.ok, 0);
  assert.equal(r.error_kinds.incomplete, 3);
});

test('without --sse: chat streams still end at [DONE], the token at the marker', async () => {
  const r = await against(async (res) => {
    res.write('data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n');
    await sleep(FIRST_MS);
    res.write('data: {"choices":[{"delta":{"content":"~t1"}}]}\n\ndata: [DONE]\n\n');
  }, []);
  assert.equal(r.errors, 0);
  assert.equal(r.ok, 3);
  assert.ok(r.ttft_us.p50 >= FIRST_MS * 1000);
});
