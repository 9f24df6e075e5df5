// Upstream faults through each web server: what the client sees when Claude
// (the mock, tests/mock/anthropic.mjs, `[[mock fault=...]]`) fails, and that
// the next request is fine. run.sh gives both stacks AXON_HEARTBEAT_S=1,
// AXON_FIRST_BYTE_TIMEOUT_S=3 and AXON_IDLE_TIMEOUT_S=3; the defaults
// AXON_UPSTREAM_RETRIES=2 and AXON_RETRY_MAX_WAIT_S=30 apply.
// Timing bounds are generous: the suite also runs on an ASan build.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  SERVER_NAMES, KEY, stackUrl, originOf, call, assertEnvelope, readSse, waitFor,
} from './lib.mjs';
import { assertValid, validateChunk, parseSseBlock } from './schema.mjs';
import { postStream, recorded, aborts, sdk, leaveMidStream } from './mock.mjs';

const CHAT = '/v1/chat/completions';
const JSON_HEADERS = { 'content-type': 'application/json' };


let counter = 0;
const newId = (server, tag) => `fault-${server}-${tag}-${++counter}-${process.pid}`;
const ask = (directives, extra = {}) => ({
  model: 'gpt-4o', messages: [{ role: 'user', content: `hi [[mock ${directives}]]` }], ...extra,
});


// A raw non-stream POST; the answer (or error) is checked against the spec.
async function post(server, body) {
  const t0 = performance.now();
  const res = await call(originOf(stackUrl(server)), CHAT, {
    method: 'POST', key: KEY, headers: JSON_HEADERS, body: JSON.stringify(body),
  });
  res.ms = performance.now() - t0;
  assertValid(res.status === 200 ? 'response' : 'error', res.json, `answer (${res.status}): ${res.text.slice(0, 300)}`);
  return res;
}

// A raw streamed POST read to the end; 200 answers are split into chunks,
// error objects and the [DONE] marker, all validated.
async function stream(server, body) {
  const t0 = performance.now();
  const res = await postStream(server, body);
  if (res.status !== 200) {
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    assertValid('error', json, `error answer (${res.status}): ${text.slice(0, 300)}`);
    return { status: res.status, headers: res.headers, text, json, ms: performance.now() - t0 };
  }
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream\b/);
  const { blocks, rest } = await readSse(res, t0);
  assert.equal(rest, '', 'nothing after the last event');
  const events = blocks.map(parseSseBlock);
  return { status: 200, headers: res.headers, events, ms: performance.now() - t0 };
}

// The stream broke off: some content, then one error object, then [DONE], and
// no finish_reason anywhere (a client must not take it for a whole answer).
function assertBrokenStream(s, code) {
  assert.equal(s.status, 200, `a 200 stream, got ${s.status}: ${s.text}`);
  const { events } = s;
  const chunks = events.filter((e) => e.chunk).map((e) => e.chunk);
  assert.equal(chunks[0]?.choices[0]?.delta.role, 'assistant');
  assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), 'Hello from the',
    'the content that came before the failure');
  for (const c of chunks) assert.equal(c.choices[0]?.finish_reason, null, 'no finish_reason in a broken stream');
  const errs = events.filter((e) => e.error);
  assert.equal(errs.length, 1, 'exactly one error object');
  const dataEvents = events.filter((e) => !e.ping);
  assert.ok(dataEvents.at(-2).error, 'the error object is the last data before [DONE]');
  assert.ok(dataEvents.at(-1).done, 'the stream ends with data: [DONE]');
  assert.equal(errs[0].error.type, 'server_error');
  if (code !== undefined) assert.equal(errs[0].error.code, code);
  return errs[0];
}

// After any fault the stack answers the next request normally.
async function assertNextOk(server) {
  const res = await post(server, { model: 'gpt-4o', messages: [{ role: 'user', content: 'are you there?' }] });
  assert.equal(res.status, 200, `the next request after the fault: ${res.text.slice(0, 300)}`);
  assert.equal(res.json.choices[0].message.content, 'Hello from the mock.');
}

// Most of the time here is spent waiting on the mock's and Axon's clocks, so
// all the tests run side by side, both stacks at once: each has its own
// directive id, and the timing bounds leave room for a busy event loop.
// Loading the spec blocks this process for a second or two: do it now, not
// in the middle of a timed stream.
validateChunk({});
describe('upstream faults', { concurrency: true }, () => {
  for (const server of SERVER_NAMES) {
    describe(`upstream faults through ${server}`, { concurrency: true }, () => {
      // ---- rate limits and retries ----

      it('429 with retry-after 100 (over AXON_RETRY_MAX_WAIT_S) is passed to the client at once, with retry-after', async () => {
        const id = newId(server, '429long');
        const res = await post(server, ask(`id=${id} fault=429 retry_after=100`));
        assertEnvelope(res, 429, { code: 'rate_limit_exceeded' });
        assert.equal(res.headers.get('retry-after'), '100');
        assert.ok(res.ms < 5000, `not waited out: ${Math.round(res.ms)} ms`);
        assert.equal((await recorded(id)).length, 1, 'not retried');
        // The SDK sees a RateLimitError with the header it would wait on.
        await assert.rejects(sdk(server).chat.completions.create(ask(`id=${newId(server, '429sdk')} fault=429 retry_after=100`)),
          (err) => {
            assert.ok(err instanceof OpenAI.RateLimitError, String(err));
            assertValid('error', { error: err.error });
            assert.equal(err.code, 'rate_limit_exceeded');
            assert.equal(err.headers.get('retry-after'), '100');
            return true;
          });
        await assertNextOk(server);
      });

      it('one 429 with retry-after 1 is waited out and retried: the client gets 200', async () => {
        const id = newId(server, '429once');
        const res = await post(server, ask(`id=${id} fault=429 times=1 retry_after=1`));
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json.choices[0].message.content, 'Hello from the mock.');
        const recs = await recorded(id);
        assert.deepEqual(recs.map((r) => r.status), [429, 200]);
        const gap = recs[1].time - recs[0].time;
        assert.ok(gap >= 900 && gap < 5000, `the retry waited about retry-after (1 s): ${gap} ms`);
        await assertNextOk(server);
      });

      it('two 529s are retried with backoff, then 200', async () => {
        const id = newId(server, '529twice');
        const res = await post(server, ask(`id=${id} fault=529 times=2`));
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json.choices[0].message.content, 'Hello from the mock.');
        assert.deepEqual((await recorded(id)).map((r) => r.status), [529, 529, 200]);
        await assertNextOk(server);
      });

      it('529 every time is 503 server_is_overloaded after 2 retries', async () => {
        const id = newId(server, '529always');
        const res = await post(server, ask(`id=${id} fault=529`));
        assertEnvelope(res, 503, { type: 'server_error', code: 'server_is_overloaded' });
        assert.deepEqual((await recorded(id)).map((r) => r.status), [529, 529, 529]);
        await assert.rejects(sdk(server).chat.completions.create(ask(`fault=529`)), (err) => {
          assert.ok(err instanceof OpenAI.InternalServerError, String(err));
          assert.equal(err.status, 503);
          assert.equal(err.code, 'server_is_overloaded');
          assertValid('error', { error: err.error });
          return true;
        });
        await assertNextOk(server);
      });

      it('500 every time is 502 after 2 retries', async () => {
        const id = newId(server, '500');
        const res = await post(server, ask(`id=${id} fault=500`));
        assertEnvelope(res, 502, { type: 'server_error' });
        assert.deepEqual((await recorded(id)).map((r) => r.status), [500, 500, 500]);
        await assertNextOk(server);
      });

      it('401 from Claude (Axon\'s key) is 502 with x-should-retry: false, not retried', async () => {
        const id = newId(server, '401');
        const res = await post(server, ask(`id=${id} fault=401`));
        assertEnvelope(res, 502, { type: 'server_error', code: 'upstream_auth_failed' });
        assert.equal(res.headers.get('x-should-retry'), 'false');
        assert.ok(!res.text.includes('sk-ant-test-key'), 'the upstream key is not shown');
        assert.equal((await recorded(id)).length, 1);
        await assertNextOk(server);
      });

      // ---- broken streams ----

      it('an error event mid-stream: the content so far, a data: {"error"} chunk, [DONE], no finish_reason', async () => {
        const s = await stream(server, ask(`id=${newId(server, 'midstream')} fault=error-midstream`));
        assertBrokenStream(s, 'server_is_overloaded');
        await assertNextOk(server);
      });

      it('an error event mid-stream makes the SDK\'s stream iteration throw APIError', async () => {
        const st = await sdk(server).chat.completions.create(ask('fault=error-midstream', { stream: true }));
        let text = '';
        await assert.rejects((async () => {
          for await (const chunk of st) {
            assertValid('chunk', chunk);
            text += chunk.choices[0]?.delta.content ?? '';
          }
        })(), (err) => {
          assert.ok(err instanceof OpenAI.APIError, String(err));
          assert.equal(err.status, undefined, 'an in-stream error has no status');
          assert.equal(err.code, 'server_is_overloaded');
          assert.match(err.message, /overloaded/i);
          return true;
        });
        assert.equal(text, 'Hello from the');
        await assertNextOk(server);
      });

      it('a connection reset mid-stream: error chunk, then [DONE]', async () => {
        const id = newId(server, 'reset');
        const s = await stream(server, ask(`id=${id} fault=reset`));
        assertBrokenStream(s);
        assert.equal((await recorded(id)).length, 1, 'a stream that reached the client is not retried');
        await assertNextOk(server);
      });

      it('a reset before the first byte is retried (AXON_UPSTREAM_RETRIES=2), then 502', async () => {
        const id = newId(server, 'resetbefore');
        const res = await post(server, ask(`id=${id} fault=reset-before`));
        assertEnvelope(res, 502, { type: 'server_error', code: 'upstream_unreachable' });
        const recs = await recorded(id);
        // Axon makes 3 attempts, 200 ms+ apart (backoff). libcurl's own
        // resend on a new connection, when a reused keep-alive connection
        // dies before any answer byte, is stopped and counted as one of them
        // (upstream.c, on_prereq; turns.test.mjs tries it many times).
        console.log(`# ${server}: reset-before: the mock got ${recs.length} requests ` +
          `(at ${recs.map((r) => r.time - recs[0].time).join(', ')} ms)`);
        assert.equal(recs.length, 3, `one attempt and two retries: ${recs.length} requests`);
        assert.ok(recs.at(-1).time - recs[0].time >= 500, 'the retries were spaced by the backoff');
        await assertNextOk(server);
      });

      it('a reset half-way through a non-stream body is retried, then 502', async () => {
        const id = newId(server, 'resetbody');
        const res = await post(server, ask(`id=${id} fault=reset`));
        assertEnvelope(res, 502, { type: 'server_error' });
        assert.ok((await recorded(id)).length >= 3, 'retried: nothing had reached the client');
        await assertNextOk(server);
      });

      it('an upstream that never answers is 504 after AXON_FIRST_BYTE_TIMEOUT_S (3 s)', async () => {
        const id = newId(server, 'stall');
        const res = await post(server, ask(`id=${id} fault=stall`));
        assertEnvelope(res, 504, { type: 'server_error', code: 'upstream_timeout' });
        assert.ok(res.ms >= 2800 && res.ms < 9000, `504 after about 3 s, got ${Math.round(res.ms)} ms`);
        assert.equal((await recorded(id)).length, 1, 'a timeout is not retried');
        // Axon closed its upstream connection: the mock saw the client go.
        await waitFor(async () => (await aborts(id)).aborted >= 1, 3000, 'the mock to see the stalled request closed');
        await assertNextOk(server);
      });

      it('an upstream silent mid-stream: pings about every second, then an error chunk after ~3 s', async () => {
        const s = await stream(server, ask(`id=${newId(server, 'stallmid')} fault=stall-midstream`));
        const err = assertBrokenStream(s, 'upstream_timeout');
        const lastData = s.events.filter((e) => e.chunk).at(-1).ms;
        const errAt = s.events.find((e) => e.error).ms;
        const pings = s.events.filter((e) => e.ping).map((e) => e.ms);
        const desc = `last content ${Math.round(lastData)} ms, pings ${pings.map(Math.round).join(', ')} ms, error ${Math.round(errAt)} ms`;
        // Axon times the silence from its last upstream byte, which reached the
        // client a little later.
        assert.ok(errAt - lastData >= 2000 && errAt - lastData < 9000, `error ~3 s after the last content (${desc})`);
        assert.ok(pings.length >= 2, `at least two pings during the silence (${desc})`);
        const gaps = [pings[0] - lastData, ...pings.slice(1).map((p, i) => p - pings[i])];
        // The property: the silence never lasts much past a heartbeat. A host
        // stall can deliver two pings together, so a short gap is allowed,
        // but not a burst.
        for (const g of gaps) assert.ok(g <= 2500, `a ping at least every ~1 s (${desc})`);
        assert.ok(gaps.filter((g) => g >= 500).length >= gaps.length / 2, `pings about 1 s apart (${desc})`);
        assert.ok(pings.every((p) => p > lastData && p < errAt), `pings between the content and the error (${desc})`);
        assert.match(err.error.message, /silent/);
        await assertNextOk(server);
      });

      it('a truncated JSON body is 502 upstream_protocol_error, not retried', async () => {
        const id = newId(server, 'malformed');
        const res = await post(server, ask(`id=${id} fault=malformed`));
        assertEnvelope(res, 502, { type: 'server_error', code: 'upstream_protocol_error' });
        assert.equal((await recorded(id)).length, 1);
        await assertNextOk(server);
      });

      it('an invalid SSE event before any content is a 502 JSON error (nothing streamed yet)', async () => {
        // The mock sends the broken event right after message_start, before
        // anything reached the client, so the error can still be an HTTP status.
        const s = await stream(server, ask(`id=${newId(server, 'malformeds')} fault=malformed`));
        assert.equal(s.status, 502, `status ${s.status}`);
        assert.match(s.headers.get('content-type') ?? '', /^application\/json\b/);
        assert.equal(s.json.error.code, 'upstream_protocol_error');
        await assertNextOk(server);
      });

      it('an answer over the 32 MiB cap is 502 upstream_too_large', async () => {
        const res = await post(server, ask(`id=${newId(server, 'big')} fault=big bytes=40000000`));
        assertEnvelope(res, 502, { type: 'server_error', code: 'upstream_too_large' });
        const s = await stream(server, ask(`id=${newId(server, 'bigs')} fault=big bytes=40000000`));
        assert.equal(s.status, 502, 'one 40 MB SSE event, before any content: a 502 too');
        assert.equal(s.json.error.code, 'upstream_too_large');
        await assertNextOk(server);
      });

      it('an answer just under the cap still gets through', async () => {
        const res = await post(server, ask(`id=${newId(server, 'bigok')} fault=big bytes=4000000`));
        assert.equal(res.status, 200, res.text.slice(0, 300));
        const text = res.json.choices[0].message.content;
        assert.ok(text.length > 3900000 && text.startsWith('abcdefg abcdefg'), `${text.length} chars`);
      });

    });
  }
});

// The timing tests run after the rest: beside the 40 MB answers above, the
// mock's and axon's clocks slip by seconds on a loaded 2-core machine (a
// drip's chunks were seen to arrive three at once, 2 s late, under ASan).
describe('upstream timing', { concurrency: true }, () => {
  for (const server of SERVER_NAMES) {
    describe(`upstream timing through ${server}`, { concurrency: true }, () => {

      it('a slow drip (ms=300) reaches the client as it comes, not buffered', async () => {
        const s = await stream(server, ask(`id=${newId(server, 'drip')} ms=300 reply=one_two_three_four_five_six_seven_eight`));
        const content = s.events.filter((e) => e.chunk?.choices[0]?.delta.content);
        assert.equal(content.map((e) => e.chunk.choices[0].delta.content).join(''), 'one two three four five six seven eight');
        assert.equal(content.length, 4, 'two words per delta');
        const at = content.map((e) => Math.round(e.ms));
        // About 300 ms apart; a host stall may deliver one pair together,
        // which buffering would do to all of them.
        const spaced = at.slice(1).filter((t, i) => t - at[i] >= 150).length;
        assert.ok(spaced >= at.length - 2, `content chunks arrive about 300 ms apart: ${at.join(', ')} ms`);
        assert.ok(at.at(-1) - at[0] >= 600, `the first content chunk well before the last: ${at.join(', ')} ms`);
        const finish = s.events.find((e) => e.chunk?.choices[0]?.finish_reason);
        assert.ok(finish.ms - at.at(-1) >= 300, 'the finish comes with message_stop, later');
      });

      it('a client that goes away mid-stream makes Axon abort the upstream transfer', async () => {
        const id = newId(server, 'gone');
        const words = Array.from({ length: 60 }, (_, i) => `w${i}`).join('_');
        const { aborted, event, latency } = await leaveMidStream(
          server, ask(`id=${id} ms=500 reply=${words}`), id, aborts);
        assert.ok(latency < 3000, `upstream aborted within ~2 s of the client leaving: ${latency} ms`);
        assert.equal(aborted, 1);
        assert.ok(event.ms_since_request < 15000, 'well before the 30 s reply would have ended');
        await assertNextOk(server);
      });

      // While Claude thinks before its first token (minutes, in real use),
      // nothing is written to the client, so a client that gives up can only
      // be noticed through the web server. The mock waits 2.5 s (under the
      // 3 s first-byte timeout) and then drips a long answer. nginx closes
      // the FastCGI connection at once; lighttpd tells its backend nothing
      // until the backend writes, so a stream starts with a ping after one
      // silent heartbeat (1 s here), and a non-stream answer, which has no
      // room for a heartbeat, cannot notice (a documented limit).
      for (const streamed of server === 'lighttpd' ? [true] : [true, false]) {
        it(`a client that goes away before the first byte makes Axon drop the upstream call (${streamed ? 'stream' : 'non-stream'})`, async () => {
          const id = newId(server, streamed ? 'earlygone-s' : 'earlygone');
          const words = Array.from({ length: 40 }, (_, i) => `w${i}`).join('_');
          const ctl = new AbortController();
          const answer = fetch(`${stackUrl(server)}/chat/completions`, {
            method: 'POST',
            headers: { ...JSON_HEADERS, authorization: `Bearer ${KEY}` },
            body: JSON.stringify(ask(`id=${id} delay=2500 ms=200 reply=${words}`, { stream: streamed })),
            signal: ctl.signal,
          }).then((r) => r.text());
          await waitFor(async () => (await recorded(id)).length >= 1, 5000, 'the request to reach the mock');
          await new Promise((r) => setTimeout(r, 200));
          const abortedAt = Date.now();
          ctl.abort();
          await assert.rejects(answer, { name: 'AbortError' });
          let a = null;
          try {
            a = await waitFor(async () => {
              const r = await aborts(id);
              return r.aborted >= 1 ? r : null;
            }, 3500, 'the mock to see the upstream call closed');
          } catch { /* reported below */ }
          const recs = await recorded(id);
          const latency = a ? a.events[0].time - abortedAt : null;
          console.log(`# ${server}: client gone before the first byte (${streamed ? 'stream' : 'non-stream'}): ` +
            (a ? `upstream aborted ${latency} ms later (mock had written ${a.events[0].bytes_written} bytes)`
              : `upstream NOT aborted; it ran to the end (mock status ${recs[0]?.status})`));
          assert.ok(a, 'the upstream call was never aborted: Claude would have generated the whole answer for nobody');
          assert.ok(latency < 2000, `the upstream call was aborted ${latency} ms after the client left (want < 2 s; the ` +
            'first byte was due 2.3 s after it left)');
          await assertNextOk(server);
        });
      }
    });
  }
});
