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
