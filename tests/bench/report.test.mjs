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

// Issue 21's targets (a full run's table: --smoke 0), from made-up figures.
// A Valkey cost line as tests/bench/valkeycost.mjs prints it.
const vc = (p, what, usec, rt, { conc = 1, n = 200, calls = 4, nested = 10, cpu = usec * 1.5 } = {}) => ({
  kind: 'valkey_cost', path: p, what, conc, n, ok: n, usec, usec_all: usec * 1.2, calls, nested, cpu_us: cpu, rt, rt_max: rt,
});
const plain = (p, conc, rps, p50, p99) => load(p, conc, rps, p50, p99);
// Every figure inside its target: added p50 120 / 140 µs, p99 900 / 950 µs
// (direct 100 / 1,000); storing nothing 60 / 90 µs added; c=32 2.5× / 3×
// the baseline and 25% / 30% of nginx-proxy; Valkey 30-50 µs, round trips
// 1 / 2 / 0; added TTFT p99 400 / 500 µs.
const met = [plain('direct', 1, 10000, 100, 1000), plain('proxy', 1, 8000, 130, 1100),
  plain('lighttpd', 1, 4000, 220, 1900), plain('nginx', 1, 3800, 240, 1950),
  plain('lighttpd-nostore', 1, 5000, 160, 1500), plain('nginx-nostore', 1, 4500, 190, 1600),
  plain('direct', 32, 80000, 300, 600), plain('proxy', 32, 40000, 700, 1500),
  plain('lighttpd', 32, 10000, 3000, 9000), plain('nginx', 32, 12000, 2500, 8000),
  plain('base-lighttpd', 32, 4000, 8000, 20000), plain('base-nginx', 32, 4000, 8000, 20000),
  stream('direct', 5000, 6000), stream('proxy', 5050, 6100), stream('lighttpd', 5100, 6400), stream('nginx', 5200, 6500),
  vc('lighttpd', 'new', 30, 1), vc('nginx', 'new', 32, 1), vc('lighttpd', 'continued', 45, 2), vc('nginx', 'continued', 50, 2),
  vc('lighttpd-nostore', 'unstored', 0, 0, { calls: 0, nested: 0 }), vc('nginx-nostore', 'unstored', 0, 0, { calls: 0, nested: 0 }),
  vc('lighttpd', 'new', 25, 1, { conc: 32, n: 4000, cpu: 40 }), vc('nginx', 'new', 26, 1, { conc: 32, n: 4000, cpu: 50 }),
  cg('current', 'plain', 1, 200000), cg('current', 'plain', 2, 200000),
  cg('baseline', 'plain', 1, 400000), cg('baseline', 'plain', 2, 400000)];
const full = ['--smoke', '0', '--baseline', 'df77f7d', '--baseline-ref', 'df77f7d'];
const T21 = {
  added: 'added latency, c=1, non-stream, default settings (a stored conversation per answer): p50 ≤ 150 µs, p99 ≤ 1 ms',
  nostore: 'added latency, c=1, a chat completion that stores nothing (AXON_STORE=on_request, no conversation_id): p50 ≤ 100 µs',
  rps: 'throughput c=32: ≥ 2× df77f7d (same run); ≥ 20% of nginx-proxy',
  vcpu: 'Valkey CPU per request (INFO commandstats, the commands axon sent; scripts counted once) ≤ 50 µs: new / continued / storing nothing',
  rt: 'Valkey round trips per request: new ≤ 1, continued ≤ 2, storing nothing 0',
  cmds: 'Valkey commands per request, sent + run by scripts (no target): new / continued / storing nothing',
  ttft: 'added time to first token p99 ≤ 500 µs',
  ir: 'instructions per request, non-stream chat completion (callgrind; no target: this build / the baseline)',
};
// Replaces the figures of the lines matching PATH/WHAT by F's.
const change = (lines, match, f) => lines.map((l) => (match(l) ? f(structuredClone(l)) : l));

test('issue 21 targets: every figure within its target is met, and the measured cells say what was measured', () => {
  const rows = render(met, ...full);
  assert.deepEqual(rows.get(T21.added).slice(1), ['120 / 140 µs; 900 / 950 µs (nginx proxy_pass adds 30 µs; 100 µs)', 'met']);
  assert.deepEqual(rows.get(T21.nostore).slice(1), ['60 / 90 µs', 'met']);
  assert.deepEqual(rows.get(T21.rps).slice(1), ['2.5 / 3.0× baseline df77f7d; 25 / 30 % of nginx-proxy', 'met']);
  assert.deepEqual(rows.get(T21.vcpu).slice(1), ['new 30 / 32 µs; continued 45 / 50 µs; storing nothing 0.0 / 0.0 µs', 'met']);
  assert.deepEqual(rows.get(T21.rt).slice(1), ['new 1 / 1; continued 2 / 2; storing nothing 0 / 0', 'met']);
  assert.deepEqual(rows.get(T21.cmds).slice(1), ['new 4.0 + 10.0 / 4.0 + 10.0; continued 4.0 + 10.0 / 4.0 + 10.0; storing nothing 0.0 + 0.0 / 0.0 + 0.0', '']);
  assert.deepEqual(rows.get(T21.ttft).slice(1), ['400 / 500 µs', 'met']);
  assert.deepEqual(rows.get(T21.ir).slice(1), ['200,000 / 400,000 (0.500×)', '']);
});

test('issue 21 targets: each figure past its target is missed', () => {
  const f = (cond, fn) => (lines) => change(lines, cond, fn);
  const steps = [
    f((l) => l.path === 'nginx' && l.mode === 'plain' && l.conc === 1, (l) => { l.r.total_us.p50 = 251; return l; }),
    f((l) => l.path === 'lighttpd-nostore' && l.mode === 'plain', (l) => { l.r.total_us.p50 = 201; return l; }),
    f((l) => l.path === 'base-nginx' && l.conc === 32, (l) => { l.r.rps = 6001; return l; }),
    f((l) => l.path === 'nginx' && l.what === 'continued', (l) => { l.usec = 50.5; return l; }),
    f((l) => l.path === 'lighttpd-nostore' && l.what === 'unstored', (l) => { l.rt = 1; return l; }),
    f((l) => l.path === 'lighttpd' && l.mode === 'stream', (l) => { l.r.ttft_us.p99 = 6501; return l; }),
  ];
  const rows = render(steps.reduce((lines, s) => s(lines), met), ...full);
  assert.deepEqual(rows.get(T21.added).slice(1), ['120 / 151 µs; 900 / 950 µs (nginx proxy_pass adds 30 µs; 100 µs)', '**missed**']);
  assert.deepEqual(rows.get(T21.nostore).slice(1), ['101 / 90 µs', '**missed**']);
  assert.deepEqual(rows.get(T21.rps).slice(1), ['2.5 / 2.0× baseline df77f7d; 25 / 30 % of nginx-proxy', '**missed**']);
  assert.deepEqual(rows.get(T21.vcpu).slice(1), ['new 30 / 32 µs; continued 45 / 51 µs; storing nothing 0.0 / 0.0 µs', '**missed**']);
  assert.deepEqual(rows.get(T21.rt).slice(1), ['new 1 / 1; continued 2 / 2; storing nothing 1 / 0', '**missed**']);
  assert.deepEqual(rows.get(T21.ttft).slice(1), ['501 / 500 µs', '**missed**']);
  // A p99 alone past 1 ms misses the first row too.
  const p99 = render(change(met, (l) => l.path === 'lighttpd' && l.mode === 'plain' && l.conc === 1,
    (l) => { l.r.total_us.p99 = 2001; return l; }), ...full);
  assert.equal(p99.get(T21.added).at(-1), '**missed**');
});

test('issue 21 targets: no baseline, no Valkey figures: "not measured", never met', () => {
  const rows = render(met.filter((l) => !l.path?.startsWith('base-') && l.kind !== 'valkey_cost' && l.build !== 'baseline'), '--smoke', '0');
  assert.deepEqual(rows.get(T21.rps).slice(1), ['no baseline run (--baseline df77f7d); 25 / 30 % of nginx-proxy', 'not measured']);
  assert.equal(rows.get(T21.vcpu).at(-1), 'not measured');
  assert.equal(rows.get(T21.rt).at(-1), 'not measured');
  assert.deepEqual(rows.get(T21.ir).slice(1), ['200,000 (no baseline)', '']);
  // The figures that did run keep their verdicts.
  assert.equal(rows.get(T21.added).at(-1), 'met');
  assert.equal(rows.get(T21.ttft).at(-1), 'met');
  assert.doesNotMatch(rows.text, /^Sizing:/m);
  const noNostore = render(met.filter((l) => !l.path?.endsWith('-nostore')), ...full);
  assert.deepEqual(noNostore.get(T21.nostore).slice(1), ['not run', 'not measured']);
});

test('Valkey per request: the table\'s rows, storing nothing from the AXON_STORE=on_request stacks, and the sizing', () => {
  const rows = render([...met, vc('lighttpd', 'resp-unstored', 12, 0), vc('nginx', 'resp-unstored', 13, 0)], ...full);
  const head = rows.get('metric');
  const col = (label) => Object.fromEntries(head.map((h, i) => [h, rows.get(label)[i]]));
  const u = col('Valkey per request, chat storing nothing (AXON_STORE=on_request): round trips');
  assert.equal(u['axon · lighttpd'], '0');
  assert.equal(u.direct, '—');
  assert.equal(col('Valkey per request, new conversation: server µs (INFO commandstats; 200 requests at c=1)')['axon · nginx'], '32.0');
  assert.equal(col('Valkey per request, continued conversation: commands sent + run by scripts')['axon · lighttpd'], '4.0 + 10.0');
  assert.equal(col('Valkey per request, Responses "store": false: server µs (INFO commandstats; 200 requests at c=1)')['axon · nginx'], '13.0');
  assert.equal(col('Valkey per request, new conversation at c=32: redis-server CPU µs (INFO cpu; 4,000 requests)')['axon · nginx'], '50.0');
  // The stored path's figures stay in their own rows.
  const ns = col('non-stream c=1, storing nothing (AXON_STORE=on_request): latency p50, µs');
  assert.deepEqual([ns.direct, ns['nginx proxy_pass'], ns['axon · lighttpd'], ns['axon · nginx']], ['100', '130', '160', '190']);
  assert.equal(col('non-stream c=1: latency p50, µs')['axon · lighttpd'], '220');
  // The sizing: the costlier path's CPU per request at c=32 (50 µs: 20,000/s).
  assert.ok(rows.text.includes('\nSizing: at concurrency 32, redis-server used 50.0 µs of CPU per new conversation ' +
    '(INFO cpu, user + system, over 4,000 requests through axon · nginx, the costlier path), so one Valkey core carries ' +
    'about 20,000 such requests/s; INFO commandstats gave 26.0 µs per request in the same window. One request at a time, ' +
    'a continued conversation cost 1.50 / 1.56 times a new one\'s commandstats time (axon · lighttpd / nginx).\n'), rows.text);
});
