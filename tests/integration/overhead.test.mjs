// What a request costs inside Axon, through each web server: the
// x-axon-overhead-us header on every answer (JSON and streams), the
// axon_overhead_seconds histogram and the round-trip counter in /metrics,
// and the Valkey round trips of a chat completion: 1 for a new conversation
// (the store), 2 for a continued one (the load, the store), none for a
// Responses request that stores nothing: the pool's session is kept by the
// process between requests, docs/pool.md (x-axon-valkey-round-trips, which
// the stacks send because they run with AXON_TEST_ROUTES=1).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SERVER_NAMES, KEY, stackUrl, originOf, call, readSse } from './lib.mjs';

const chat = (server, body) => call(originOf(stackUrl(server)), '/v1/chat/completions', {
  method: 'POST', key: KEY, headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], ...body }),
});

const headerInt = (res, name) => {
  const v = res.headers.get(name);
  assert.match(v ?? '', /^\d+$/, `${name}: ${v}`);
  return Number(v);
};

// One metric's value (a sample line without labels, or with the labels given).
const metricValue = (text, line) => {
  const m = text.split('\n').find((l) => l.startsWith(`${line} `));
  assert.ok(m, `${line} in /metrics`);
  return Number(m.slice(line.length + 1));
};

for (const server of SERVER_NAMES) {
  describe(`overhead and Valkey round trips through ${server}`, () => {
    it('a new conversation costs 1 round trip, a continued one 2, a Responses store:false none', async () => {
      // The thread that answers may be new: its first request connects and
      // loads the scripts. Every thread settles after one request, so the
      // least of a few is what a warm request costs.
      const fresh = [], continued = [];
      let id;
      for (let i = 0; i < 6; i++) {
        const res = await chat(server, {});
        assert.equal(res.status, 200, res.text);
        fresh.push(headerInt(res, 'x-axon-valkey-round-trips'));
        id = res.json.conversation_id;
      }
      for (let i = 0; i < 6; i++) {
        const res = await chat(server, { conversation_id: id, messages: [{ role: 'user', content: `more ${i}` }] });
        assert.equal(res.status, 200, res.text);
        continued.push(headerInt(res, 'x-axon-valkey-round-trips'));
      }
      const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
      assert.ok(median(fresh) <= 1, `new conversation: ${fresh}`);
      assert.ok(median(continued) <= 2, `continued conversation: ${continued}`);
      assert.ok(Math.min(...fresh) >= 1, `the store: ${fresh}`);
      const none = [];
      for (let i = 0; i < 6; i++) {
        const res = await call(originOf(stackUrl(server)), '/v1/responses', {
          method: 'POST', key: KEY, headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o', input: 'hi', store: false }),
        });
        assert.equal(res.status, 200, res.text);
        none.push(headerInt(res, 'x-axon-valkey-round-trips'));
      }
      assert.equal(median(none), 0, `Responses store:false: ${none}`);
      // Every turn was stored by those round trips, in order.
      const conv = await call(originOf(stackUrl(server)), `/v1/conversations/${id}`, { key: KEY });
      assert.equal(conv.status, 200, conv.text);
      assert.equal(conv.json.message_count, 14);
      assert.equal(conv.json.messages[12].content, 'more 5');
    });

    it('a refused request, or one for an unknown model, costs no round trip', async () => {
      const bad = await chat(server, { temperature: 'hot' });
      assert.equal(bad.status, 400);
      assert.equal(headerInt(bad, 'x-axon-valkey-round-trips'), 0);
      const missing = await chat(server, { model: 'no-such-model' });
      assert.equal(missing.status, 404);
      assert.equal(headerInt(missing, 'x-axon-valkey-round-trips'), 0);
    });

    it('x-axon-overhead-us is on JSON answers and streams, and below the whole time', async () => {
      const t0 = performance.now();
      const res = await chat(server, {});
      const wall = (performance.now() - t0) * 1000;
      assert.equal(res.status, 200, res.text);
      const us = headerInt(res, 'x-axon-overhead-us');
      assert.ok(us > 0 && us < wall, `overhead ${us} us of ${Math.round(wall)} us`);

      // A stream's header is sent with its first chunk: the time to it.
      const s0 = performance.now();
      const stream = await fetch(`${stackUrl(server)}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      });
      const firstByte = (performance.now() - s0) * 1000;
      assert.equal(stream.status, 200);
      const sus = headerInt(stream, 'x-axon-overhead-us');
      assert.ok(sus > 0 && sus < firstByte, `stream overhead ${sus} us of ${Math.round(firstByte)} us`);
      const { blocks } = await readSse(stream, s0);
      assert.equal(blocks.at(-1).block, 'data: [DONE]');

      // Errors carry it too: the client can tell Axon's time from the upstream's.
      const bad = await chat(server, { temperature: 'hot' });
      assert.ok(headerInt(bad, 'x-axon-overhead-us') >= 0);
    });

    it('/metrics has the overhead histogram and counts round trips', async () => {
      const origin = originOf(stackUrl(server));
      const before = await call(origin, '/metrics', { key: KEY });
      assert.equal(before.status, 200);
      const n0 = metricValue(before.text, 'axon_overhead_seconds_count');
      const rt0 = metricValue(before.text, 'axon_valkey_round_trips_total');
      const inf0 = metricValue(before.text, 'axon_overhead_seconds_bucket{le="+Inf"}');
      for (let i = 0; i < 3; i++) assert.equal((await chat(server, {})).status, 200);
      // A request that never reached a model is not the gateway's overhead.
      assert.equal((await chat(server, { model: 'no-such-model' })).status, 404);
      const after = await call(origin, '/metrics', { key: KEY });
      assert.match(after.text, /# TYPE axon_overhead_seconds histogram/);
      // (At least: other test files may share the stack.)
      const counted = metricValue(after.text, 'axon_overhead_seconds_count') - n0;
      assert.ok(counted >= 3, `${counted} answers counted`);
      assert.equal(metricValue(after.text, 'axon_overhead_seconds_bucket{le="+Inf"}') - inf0, counted);
      assert.ok(metricValue(after.text, 'axon_overhead_seconds_sum') > 0);
      // The previous /metrics call reads the pool through Valkey as well.
      assert.ok(metricValue(after.text, 'axon_valkey_round_trips_total') - rt0 >= 6);
      // Buckets are cumulative.
      const buckets = after.text.split('\n').filter((l) => l.startsWith('axon_overhead_seconds_bucket'))
        .map((l) => Number(l.split(' ')[1]));
      assert.deepEqual(buckets, [...buckets].sort((a, b) => a - b));
    });
  });
}
