// The bench table's baseline columns and callgrind rows, from a made-up
// results.jsonl (no stack needed): make bench-smoke runs it with node --test.
// What a reader of the table relies on: the baseline's columns appear only
// when it ran, axon/baseline is this build over the baseline, and the
// instructions per request are the dumped count over the requests sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const report = path.join(path.dirname(fileURLToPath(import.meta.url)), 'report.mjs');

const load = (p, conc, rps, p50, p99) => ({
  kind: 'load', path: p, mode: 'plain', conc, rep: 0,
  r: { ok: 10, errors: 0, rps, total_us: { p50, p99 }, cpu_pct: 1 },
});
// A Responses measurement (run.sh --responses): the same line with "api".
const resp = (line) => ({ ...line, api: 'responses' });
const stream = (p, t50, t99) => ({
  kind: 'load', path: p, mode: 'stream', conc: 1, rep: 0,
  r: { ok: 10, errors: 0, rps: 50, total_us: { p50: 1, p99: 1 }, ttft_us: { p50: t50, p99: t99 }, gap_us: { p50: 5000, p99: 5100 }, cpu_pct: 1 },
});
const cg = (build, mode, round, perRequest) => ({ kind: 'callgrind', build, mode, n: 200, round, ir: perRequest * 200 });

// Renders LINES and returns the table's rows as arrays of cells, by metric.
const render = (lines, ...args) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'axon-bench-report-'));
  try {
    const file = path.join(dir, 'results.jsonl');
    fs.writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const text = execFileSync('node', [report, file, '--provenance', 'P', '--smoke', '1', ...args], { encoding: 'utf8' });
    const rows = new Map();
    for (const line of text.split('\n').filter((l) => l.startsWith('| '))) {
      const cells = line.slice(2, -2).split(' | ');
      rows.set(cells[0], cells);
    }
    rows.text = text;
    return rows;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
};

const current = [load('direct', 1, 10000, 10, 20), load('proxy', 1, 5000, 30, 60),
  load('lighttpd', 1, 1000, 300, 2000), load('nginx', 1, 800, 400, 3000)];
const baseline = [load('base-lighttpd', 1, 500, 600, 1000), load('base-nginx', 1, 1600, 200, 6000)];

test('with a baseline: its two columns and axon/baseline, this build over it', () => {
  const rows = render([...current, ...baseline], '--baseline', 'abc1234', '--baseline-ref', 'abc1234');
  const head = rows.get('metric');
  assert.deepEqual(head.slice(5, 7), ['baseline abc1234 · lighttpd', 'baseline abc1234 · nginx']);
  assert.equal(head.at(-1), 'axon/baseline');
  const rps = rows.get('non-stream c=1: requests/s');
  assert.equal(rps.length, head.length);
  assert.deepEqual(rps.slice(5, 7), ['500', '1,600']);
  assert.equal(rps.at(-1), '2.00 / 0.50');
  assert.equal(rows.get('non-stream c=1: latency p50, µs').at(-1), '0.50 / 2.00');
  assert.equal(rows.get('non-stream c=1: latency p99, µs').at(-1), '2.00 / 0.50');
});

test('without a baseline: the table keeps its columns', () => {
  const rows = render(current);
  const head = rows.get('metric');
  assert.equal(head.length, 9);
  assert.ok(!head.includes('axon/baseline'));
  assert.ok(!head.some((h) => h.startsWith('baseline')));
});

test('callgrind: instructions per request, how far the rounds differ, this/baseline', () => {
  const rows = render([...current, ...baseline,
    cg('current', 'plain', 1, 400000), cg('current', 'plain', 2, 404000),
    cg('baseline', 'plain', 1, 320000), cg('baseline', 'plain', 2, 322000),
    cg('current', 'stream', 1, 1000000), cg('current', 'stream', 2, 1000000),
    cg('baseline', 'stream', 1, 1000000), cg('baseline', 'stream', 2, 1000000)],
  '--baseline', 'abc1234', '--baseline-ref', 'abc1234');
  assert.deepEqual(rows.get('non-stream chat completion').slice(1),
    ['402,000 (rounds 1.00% apart)', '321,000 (rounds 0.62% apart)', '1.252']);
  assert.deepEqual(rows.get('stream chat completion, 20 tokens').slice(1),
    ['1,000,000 (rounds 0.00% apart)', '1,000,000 (rounds 0.00% apart)', '1.000']);
});

test('callgrind skipped: the note says why, and no row pretends', () => {
  const rows = render(current, '--cg-note', 'callgrind not run (--callgrind 0)');
  assert.ok(!rows.has('non-stream chat completion'));
  assert.match(rows.text, /^Note: callgrind not run \(--callgrind 0\)\.$/m);
});

// Chat's figures, then the same paths through POST /v1/responses.
const withResponses = [...current, load('direct', 32, 40000, 700, 900), load('proxy', 32, 20000, 1500, 2500),
  load('lighttpd', 32, 4000, 8000, 9000), load('nginx', 32, 3000, 10000, 12000),
  resp(load('lighttpd', 1, 900, 330, 2500)), resp(load('nginx', 1, 700, 480, 3300)),
  resp(load('lighttpd', 32, 3600, 8800, 9900)), resp(load('nginx', 32, 2500, 12000, 15000)),
  stream('direct', 100, 150), stream('proxy', 200, 300), stream('lighttpd', 500, 900), stream('nginx', 600, 1000),
  resp(stream('lighttpd', 650, 1200)), resp(stream('nginx', 720, 1300)),
  { kind: 'valkey_rt', path: 'lighttpd', new_conversation: 2, new_response: 3 },
  { kind: 'valkey_rt', path: 'nginx', new_conversation: 2, new_response: 3 }];

test('Responses rows: beside chat\'s, the axon paths through /v1/responses, the upstream\'s figures the same', () => {
  const rows = render(withResponses);
  // Chat's rows keep chat's figures: the Responses lines are not mixed in.
  assert.deepEqual(rows.get('non-stream c=1: latency p50, µs').slice(1, 5), ['10', '30', '300', '400']);
  assert.deepEqual(rows.get('stream: time to first token p50, µs').slice(1, 5), ['100', '200', '500', '600']);
  const head = rows.get('metric');
  const r1 = rows.get('Responses non-stream c=1: latency p50, µs');
  assert.equal(r1.length, head.length);
  // direct and nginx proxy_pass: the same Messages call axon makes for it.
  assert.deepEqual(r1.slice(1, 6), ['10', '30', '330', '480', '—']);
  assert.equal(r1[6], '33.00 / 48.00');
  assert.deepEqual(rows.get('Responses non-stream c=1: latency p99, µs').slice(3, 5), ['2,500', '3,300']);
  assert.deepEqual(rows.get('Responses non-stream c=1: requests/s').slice(3, 5), ['900', '700']);
  assert.deepEqual(rows.get('Responses non-stream c=32: requests/s').slice(1, 5), ['40,000', '20,000', '3,600', '2,500']);
  assert.ok(!rows.has('Responses non-stream c=8: requests/s'));
  assert.deepEqual(rows.get('Responses stream: time to first token p50, µs').slice(1, 5), ['100', '200', '650', '720']);
  assert.deepEqual(rows.get('Responses stream: time to first token p99, µs').slice(3, 5), ['1,200', '1,300']);
  assert.deepEqual(rows.get('Responses stream: added time to first token p50, µs').slice(3, 5), ['550', '620']);
  // Responses over chat, on the same path.
  assert.deepEqual(rows.get('Responses/chat: non-stream c=1 latency p50').slice(3, 5), ['1.10', '1.20']);
  assert.deepEqual(rows.get('Responses/chat: stream time to first token p50').slice(3, 5), ['1.30', '1.20']);
  assert.deepEqual(rows.get('Valkey round trips per request (new stored response)').slice(3, 5), ['3', '3']);
  assert.match(rows.text, /POST \/v1\/responses/);
});

test('Responses rows: a baseline that does not serve /v1/responses has none, and the note says so', () => {
  const rows = render([...withResponses, ...baseline], '--baseline', 'abc1234', '--baseline-ref', 'abc1234',
    '--resp-note', 'the baseline abc1234 does not serve POST /v1/responses (404): no Responses figures for it');
  const r1 = rows.get('Responses non-stream c=1: latency p50, µs');
  assert.deepEqual(r1.slice(5, 7), ['—', '—']);
  assert.equal(r1.at(-1), '—');
  assert.deepEqual(rows.get('non-stream c=1: latency p50, µs').slice(5, 7), ['600', '200']);
  assert.match(rows.text, /^Note: the baseline abc1234 does not serve POST \/v1\/responses \(404\): no Responses figures for it\.$/m);
});

test('without Responses lines (an older results file): no Responses rows', () => {
  const rows = render(current);
  assert.ok(![...rows.keys()].some((k) => k.startsWith('Responses')));
});

test('callgrind: the Responses rows, when measured', () => {
  const rows = render([...current, ...baseline,
    cg('current', 'plain', 1, 400000), cg('current', 'plain', 2, 400000),
    cg('current', 'resp-plain', 1, 500000), cg('current', 'resp-plain', 2, 510000),
    cg('current', 'resp-stream', 1, 900000), cg('current', 'resp-stream', 2, 900000),
    cg('baseline', 'plain', 1, 300000), cg('baseline', 'plain', 2, 300000)],
  '--baseline', 'abc1234', '--baseline-ref', 'abc1234');
  assert.deepEqual(rows.get('non-stream Responses').slice(1), ['505,000 (rounds 1.98% apart)', '—', '—']);
  assert.deepEqual(rows.get('stream Responses, 20 tokens').slice(1), ['900,000 (rounds 0.00% apart)', '—', '—']);
  const plainOnly = render([...current, cg('current', 'plain', 1, 400000)]);
  assert.ok(!plainOnly.has('non-stream Responses'));
});
