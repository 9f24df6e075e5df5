// Streaming: events must reach the client as axon writes them, not at the end.
// This is the suite's only timing check, with generous bounds.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  SERVER_NAMES, KEY, stackUrl, originOf, call, assertEnvelope, readSse, dataOf,
} from './lib.mjs';

for (const server of SERVER_NAMES) {
  describe(`SSE through ${server}`, () => {
    const origin = () => originOf(stackUrl(server));

    it('five events 200 ms apart arrive about 200 ms apart (not buffered)', async () => {
      const t0 = performance.now();
      const res = await fetch(`${origin()}/v1/_test/sse?n=5&ms=200`, {
        headers: { authorization: `Bearer ${KEY}` }, signal: AbortSignal.timeout(15000),
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream\b/);
      assert.match(res.headers.get('x-request-id') ?? '', /^req_[0-9a-f]{32}$/);
      const { blocks, rest } = await readSse(res, t0);

      assert.equal(blocks[0]?.block, ': ok', 'the stream opens with the ": ok" comment');
      const data = dataOf(blocks);
      assert.deepEqual(data.map((d) => d.data),
        ['{"i":0}', '{"i":1}', '{"i":2}', '{"i":3}', '{"i":4}', '[DONE]']);
      assert.equal(rest, '', 'nothing after the last event');

      const events = data.slice(0, 5);
      const gaps = events.slice(1).map((e, k) => Math.round(e.ms - events[k].ms));
      for (const gap of gaps) {
        assert.ok(gap >= 100 && gap <= 600,
          `gaps between events should be ~200 ms, got ${gaps.join(', ')} ms (arrivals ${events.map((e) => Math.round(e.ms)).join(', ')})`);
      }
      assert.ok(events[4].ms - events[0].ms >= 500,
        `the first event must arrive well before the last (arrivals ${events.map((e) => Math.round(e.ms)).join(', ')} ms)`);
    });

    it('the test stream needs a key like every /v1/ route', async () => {
      const res = await call(origin(), '/v1/_test/sse?n=1&ms=0');
      assertEnvelope(res, 401, { code: null, messagePrefix: "You didn't provide an API key." });
    });
  });
}
