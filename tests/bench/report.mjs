// The bench table: reads tests/bench/run.sh's results.jsonl and prints one
// markdown table (medians over the repetitions, with the ratios
// gateway/direct, gateway/nginx-proxy and Portkey/gateway), then the
// targets of issue 6 with what was measured against each, and the
// descriptors per open stream against the sizing in docs/deploying.md.
// The first line is PROVENANCE: the date, the command, the commit and the
// machine (tests/docs/results.sh provenance).
// With a baseline (run.sh --baseline REF, paths base-lighttpd and
// base-nginx) the table gains their columns and a this/baseline ratio;
// callgrind's instructions per request follow in a table of their own.
// The Responses rows (load lines with "api":"responses": the axon paths
// through POST /v1/responses) follow chat's rows of the same measurement.
//
//   node tests/bench/report.mjs results.jsonl --provenance TEXT
//        [--note TEXT] [--resp-note TEXT] [--cg-note TEXT]
//        [--baseline SHA --baseline-ref REF] [--smoke 0|1]
import fs from 'node:fs';

const [file, ...rest] = process.argv.slice(2);
const opt = {};
for (let i = 0; i < rest.length; i += 2) opt[rest[i].replace(/^--/, '')] = rest[i + 1];
const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

const have = new Set(lines.filter((l) => l.kind === 'load').map((l) => l.path));
// The baseline's columns sit beside this build's, only when it ran.
const based = have.has('base-lighttpd') || have.has('base-nginx');
const baseLabel = opt.baseline ? `baseline ${opt.baseline}` : 'baseline';
const PATHS = ['direct', 'proxy', 'lighttpd', 'nginx', ...(based ? ['base-lighttpd', 'base-nginx'] : []), 'portkey'];
const HEAD = ['direct', 'nginx proxy_pass', 'axon · lighttpd', 'axon · nginx',
  ...(based ? [`${baseLabel} · lighttpd`, `${baseLabel} · nginx`] : []), 'Portkey 1.15.2'];

const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  return v.length ? v[(v.length - 1) >> 1] : undefined;
};
// A load line without "api" is chat completions' (results from before the
// Responses rows read the same).
const apiOf = (l) => l.api ?? 'chat';
const runs = (path, mode, conc, api = 'chat') =>
  lines.filter((l) => l.kind === 'load' && l.path === path && l.mode === mode && l.conc === conc && apiOf(l) === api);
// The median over repetitions of one statistic of one measurement.
const stat = (path, mode, conc, get, api = 'chat') => median(runs(path, mode, conc, api).map((l) => {
  try { return get(l.r); } catch { return undefined; }
}));
// The Responses rows: the axon paths' figures through POST /v1/responses;
// direct and nginx proxy_pass keep chat's, the same Messages call to the
// mock that axon makes for either, so the ratios read as for chat.
const responded = (mode, conc) => lines.some((l) => l.kind === 'load' && apiOf(l) === 'responses' && l.mode === mode && l.conc === conc);
const viaResponses = (mode, conc, get) => (p) => (p === 'direct' || p === 'proxy'
  ? stat(p, mode, conc, get) : p === 'portkey' ? undefined : stat(p, mode, conc, get, 'responses'));
const AXON = ['lighttpd', 'nginx', 'base-lighttpd', 'base-nginx'];
// Responses over chat on one axon path, of one figure.
const overChat = (label, mode, conc, get) => row(label, (p) => (AXON.includes(p)
  ? ratio(stat(p, mode, conc, get, 'responses'), stat(p, mode, conc, get)) : undefined), { digits: 2, ratios: false });

const fmt = (v, digits = 0) => (v === undefined ? '—' : v.toLocaleString('en-US', {
  maximumFractionDigits: digits, minimumFractionDigits: digits,
}));
const ratio = (a, b) => (a === undefined || b === undefined || b === 0 ? undefined : a / b);
const pair = (a, b) => (a === undefined && b === undefined ? '—' : `${fmt(a, 2)} / ${fmt(b, 2)}`);

const rows = [];
// A row of one value per path, with ratio columns when `ratios` is set.
const row = (label, get, { digits = 0, ratios = true } = {}) => {
  const v = Object.fromEntries(PATHS.map((p) => [p, have.has(p) ? get(p) : undefined]));
  const r = ratios
    ? [pair(ratio(v.lighttpd, v.direct), ratio(v.nginx, v.direct)),
       pair(ratio(v.lighttpd, v.proxy), ratio(v.nginx, v.proxy)),
       pair(ratio(v.portkey, v.lighttpd), ratio(v.portkey, v.nginx)),
       ...(based ? [pair(ratio(v.lighttpd, v['base-lighttpd']), ratio(v.nginx, v['base-nginx']))] : [])]
    : ['', '', '', ...(based ? [''] : [])];
  rows.push([label, ...PATHS.map((p) => (typeof v[p] === 'string' ? v[p] : fmt(v[p], digits))), ...r]);
  return v;
};

const concs = [...new Set(lines.filter((l) => l.kind === 'load' && l.mode === 'plain' && apiOf(l) === 'chat').map((l) => l.conc))].sort((a, b) => a - b);
const targets = {};
for (const c of concs) {
  const rps = row(`non-stream c=${c}: requests/s`, (p) => stat(p, 'plain', c, (r) => r.rps));
  const p50 = row(`non-stream c=${c}: latency p50, µs`, (p) => stat(p, 'plain', c, (r) => r.total_us.p50));
  const p99 = row(`non-stream c=${c}: latency p99, µs`, (p) => stat(p, 'plain', c, (r) => r.total_us.p99));
  if (c === 1) {
    const added = (v, p) => (v[p] === undefined || v.direct === undefined ? undefined : v[p] - v.direct);
    row('non-stream c=1: added p50 over direct, µs', (p) => (p === 'direct' ? undefined : added(p50, p)), { ratios: false });
    row('non-stream c=1: added p99 over direct, µs', (p) => (p === 'direct' ? undefined : added(p99, p)), { ratios: false });
    targets.added = { p50: ['lighttpd', 'nginx'].map((p) => added(p50, p)), p99: ['lighttpd', 'nginx'].map((p) => added(p99, p)) };
    targets.proxyAdded = { p50: added(p50, 'proxy'), p99: added(p99, 'proxy') };
    // Chat that stores nothing: this build with AXON_STORE=on_request (the
    // -nostore stacks), in the axon columns; direct and nginx proxy_pass
    // keep their own figures of the same run.
    if (have.has('lighttpd-nostore') || have.has('nginx-nostore')) {
      const ns = (get) => (p) => (p === 'direct' || p === 'proxy' ? stat(p, 'plain', 1, get)
        : p === 'lighttpd' || p === 'nginx' ? stat(`${p}-nostore`, 'plain', 1, get) : undefined);
      const n50 = row('non-stream c=1, storing nothing (AXON_STORE=on_request): latency p50, µs', ns((r) => r.total_us.p50));
      const n99 = row('non-stream c=1, storing nothing (AXON_STORE=on_request): latency p99, µs', ns((r) => r.total_us.p99));
      row('non-stream c=1, storing nothing: added p50 over direct, µs', (p) => (p === 'lighttpd' || p === 'nginx' ? added(n50, p) : undefined), { ratios: false });
      row('non-stream c=1, storing nothing: added p99 over direct, µs', (p) => (p === 'lighttpd' || p === 'nginx' ? added(n99, p) : undefined), { ratios: false });
      targets.nostore50 = ['lighttpd', 'nginx'].map((p) => added(n50, p));
    }
  }
  if (c === 32) targets.rps32 = rps;
  row(`non-stream c=${c}: load generator CPU, %`, (p) => stat(p, 'plain', c, (r) => r.cpu_pct), { ratios: false });
  if (responded('plain', c)) {
    row(`Responses non-stream c=${c}: requests/s`, viaResponses('plain', c, (r) => r.rps));
    row(`Responses non-stream c=${c}: latency p50, µs`, viaResponses('plain', c, (r) => r.total_us.p50));
    row(`Responses non-stream c=${c}: latency p99, µs`, viaResponses('plain', c, (r) => r.total_us.p99));
    overChat(`Responses/chat: non-stream c=${c} latency p50`, 'plain', c, (r) => r.total_us.p50);
  }
}

const streamed = lines.some((l) => l.kind === 'load' && l.mode === 'stream');
if (streamed) {
  const get = (key, q) => (p) => stat(p, 'stream', 1, (r) => r[key][q]);
  const t50 = row('stream: time to first token p50, µs', get('ttft_us', 'p50'));
  const t99 = row('stream: time to first token p99, µs', get('ttft_us', 'p99'));
  const addT = (v) => (p) => (p === 'direct' || v[p] === undefined ? undefined : v[p] - v.direct);
  row('stream: added time to first token p50, µs', addT(t50), { ratios: false });
  row('stream: added time to first token p99, µs', addT(t99), { ratios: false });
  const g50 = row('stream: gap between tokens p50, µs (mock: 5,000)', get('gap_us', 'p50'));
  const g99 = row('stream: gap between tokens p99, µs', get('gap_us', 'p99'));
  row('stream: added gap p50, µs', addT(g50), { ratios: false });
  row('stream: added gap p99, µs', addT(g99), { ratios: false });
  targets.ttft99 = ['lighttpd', 'nginx'].map((p) => addT(t99)(p));
  if (responded('stream', 1)) {
    // The first token of a Responses stream: its first response.output_text.delta.
    const rt50 = row('Responses stream: time to first token p50, µs', viaResponses('stream', 1, (r) => r.ttft_us.p50));
    const rt99 = row('Responses stream: time to first token p99, µs', viaResponses('stream', 1, (r) => r.ttft_us.p99));
    row('Responses stream: added time to first token p50, µs', addT(rt50), { ratios: false });
    row('Responses stream: added time to first token p99, µs', addT(rt99), { ratios: false });
    overChat('Responses/chat: stream time to first token p50', 'stream', 1, (r) => r.ttft_us.p50);
  }
}

const holds = [...new Set(lines.filter((l) => l.kind === 'load' && l.mode === 'hold').map((l) => l.conc))].sort((a, b) => a - b);
targets.holds = {};
for (const n of holds) {
  row(`${fmt(n)} streams open at once: complete (peak open)`, (p) => {
    const l = runs(p, 'hold', n)[0];
    if (!l) return undefined;
    // The target: all N open at the same moment, and every one complete.
    const full = l.r.errors === 0 && l.r.ok === n && l.r.peak_open === n &&
      l.r.events_min === l.r.events_max;
    if (p === 'lighttpd' || p === 'nginx') (targets.holds[n] ??= []).push(full);
    return `${fmt(l.r.ok)}${l.r.errors ? ` (${l.r.errors} errors)` : ''} (${fmt(l.r.peak_open)})`;
  }, { ratios: false });
}

// Descriptors per open stream, for the sizing (docs/deploying.md): the most each role
// held during a hold run, less what it held idle, over the streams open.
const fdsOf = (phase, role, path, n) => lines.filter((l) => l.kind === 'fd' && l.phase === phase &&
  l.role === role && (path === undefined || (l.path === path && l.n === n))).map((l) => l.count);
const FD_ROLES = {
  lighttpd: ['lighttpd_server', 'lighttpd_axon'], nginx: ['nginx_server', 'nginx_axon'],
  'base-lighttpd': ['base_lighttpd_server', 'base_lighttpd_axon'], 'base-nginx': ['base_nginx_server', 'base_nginx_axon'],
};
targets.fds = {};
for (const n of holds) {
  row(`${fmt(n)} streams open at once: descriptors per stream, web server + axon`, (p) => {
    if (!FD_ROLES[p]) return undefined;
    const per = FD_ROLES[p].map((role) => {
      const peak = fdsOf('hold', role, p, n);
      const idle = fdsOf('idle', role);
      return peak.length && idle.length ? (Math.max(...peak) - idle[0]) / n : undefined;
    });
    if (per.includes(undefined)) return undefined;
    if (p === 'lighttpd' || p === 'nginx') (targets.fds[n] ??= {})[p] = per;
    return `${fmt(per[0], 2)} + ${fmt(per[1], 2)}`;
  }, { ratios: false });
}

// Memory: the gateway's own processes on each path (for axon, the web server's
// figure follows in brackets); the mock and Valkey are shared and listed after.
const rss = (phase, role) => {
  const v = lines.filter((l) => l.kind === 'rss' && l.phase === phase && l.role === role).map((l) => l.kb);
  return v.length ? Math.max(...v) / 1024 : undefined;
};
const ROLE = {
  direct: 'mock', proxy: 'proxy_nginx', lighttpd: 'lighttpd_axon', nginx: 'nginx_axon', portkey: 'portkey',
  'base-lighttpd': 'base_lighttpd_axon', 'base-nginx': 'base_nginx_axon',
};
const SERVER = {
  lighttpd: 'lighttpd_server', nginx: 'nginx_server',
  'base-lighttpd': 'base_lighttpd_server', 'base-nginx': 'base_nginx_server',
};
targets.rss = {};
for (const [phase, label] of [['idle', 'idle'], ['load', 'the most under load'], ['after', '10 s after the load']]) {
  row(`RSS ${label}, MiB (axon: axon processes [web server])`, (p) => {
    const v = rss(phase, ROLE[p]);
    if (v === undefined) return undefined;
    if (p === 'lighttpd' || p === 'nginx') (targets.rss[phase] ??= []).push(v);
    return SERVER[p] ? `${fmt(v, 1)} [${fmt(rss(phase, SERVER[p]), 1)}]` : fmt(v, 1);
  }, { ratios: false });
}
const su = lines.find((l) => l.kind === 'startup' && l.build !== 'baseline');
const suBase = lines.find((l) => l.kind === 'startup' && l.build === 'baseline');
row('start-up to the first 200 on /health, ms (p50 / max)', (p) => {
  const x = p === 'lighttpd' || p === 'nginx' ? su : p.startsWith('base-') ? suBase : undefined;
  return x ? `${fmt(x.r.p50_ms, 1)} / ${fmt(x.r.max_ms, 1)}` : undefined;
}, { ratios: false });
const rt = Object.fromEntries(lines.filter((l) => l.kind === 'valkey_rt').map((l) => [l.path, l.new_conversation]));
row('Valkey round trips per request (new conversation)', (p) => rt[p], { ratios: false });
const rtResp = Object.fromEntries(lines.filter((l) => l.kind === 'valkey_rt' && l.new_response != null).map((l) => [l.path, l.new_response]));
if (Object.keys(rtResp).length) row('Valkey round trips per request (new stored response)', (p) => rtResp[p], { ratios: false });

// What a request costs Valkey (tests/bench/valkeycost.mjs): per path and
// kind, one at a time; "unstored" is measured on the -nostore stacks and
// shown in the axon columns.
const vcost = (p, what, conc = 1) => {
  const path = what === 'unstored' ? (p === 'lighttpd' || p === 'nginx' ? `${p}-nostore` : undefined) : p;
  return lines.find((l) => l.kind === 'valkey_cost' && l.path === path && l.what === what && l.conc === conc);
};
const KIND_LABEL = [['new', 'new conversation'], ['continued', 'continued conversation'],
  ['unstored', 'chat storing nothing (AXON_STORE=on_request)'], ['resp-unstored', 'Responses "store": false']];
const vcN = lines.find((l) => l.kind === 'valkey_cost' && l.conc === 1)?.n;
for (const [what, label] of KIND_LABEL) {
  if (!AXON.some((p) => vcost(p, what))) continue;
  row(`Valkey per request, ${label}: server µs (INFO commandstats; ${fmt(vcN)} requests at c=1)`, (p) => vcost(p, what)?.usec, { digits: 1, ratios: false });
  row(`Valkey per request, ${label}: commands sent + run by scripts`, (p) => {
    const c = vcost(p, what);
    return c ? `${fmt(c.calls, 1)} + ${fmt(c.nested, 1)}` : undefined;
  }, { ratios: false });
  row(`Valkey per request, ${label}: round trips`, (p) => vcost(p, what)?.rt, { ratios: false });
}
const vc32 = lines.find((l) => l.kind === 'valkey_cost' && l.conc !== 1);
if (vc32) {
  row(`Valkey per request, new conversation at c=${vc32.conc}: redis-server CPU µs (INFO cpu; ${fmt(vc32.n)} requests)`,
    (p) => vcost(p, 'new', vc32.conc)?.cpu_us, { digits: 1, ratios: false });
  row(`Valkey per request, new conversation at c=${vc32.conc}: server µs (INFO commandstats)`,
    (p) => vcost(p, 'new', vc32.conc)?.usec, { digits: 1, ratios: false });
}

const out = [];
out.push(opt.provenance);
out.push('Every path runs on the same machine, against the same mock upstream, in turn within each repetition; figures are medians over the repetitions.');
out.push('Ratios are axon behind lighttpd / behind nginx; "Portkey/axon" compares Portkey with each.');
if (based) {
  out.push(`The baseline, commit ${opt.baseline}${opt['baseline-ref'] && !opt['baseline-ref'].startsWith(opt.baseline) ? ` (${opt['baseline-ref']})` : ''}, is built from its own tree and runs behind the same servers with its own Valkey, in turn with the other paths; ` +
    '"axon/baseline" is this build over it (below 1 is faster for a latency, above 1 is faster for requests/s).');
}
if (lines.some((l) => l.kind === 'load' && apiOf(l) === 'responses')) {
  out.push('The "Responses" rows are the same prompt through POST /v1/responses (stored, the default; a stream\'s first token is its first response.output_text.delta); ' +
    'their direct and nginx proxy_pass figures are the chat rows\', the same Messages call to the mock that axon makes for either. "Responses/chat" is the Responses figure over chat\'s on the same path.');
}
if (opt.note) out.push(`Note: ${opt.note}.`);
if (opt['resp-note']) out.push(`Note: ${opt['resp-note']}.`);
out.push('');
const RATIO_HEAD = ['axon/direct', 'axon/nginx-proxy', 'Portkey/axon', ...(based ? ['axon/baseline'] : [])];
out.push(`| metric | ${HEAD.join(' | ')} | ${RATIO_HEAD.join(' | ')} |`);
out.push(`|---|${[...HEAD, ...RATIO_HEAD].map(() => '---:').join('|')}|`);
for (const r of rows) out.push(`| ${r.join(' | ')} |`);

// Instructions per request (callgrind): the mean of the rounds, and how far
// they differ, which says how far the figure can be trusted.
const cg = lines.filter((l) => l.kind === 'callgrind');
if (cg.length || opt['cg-note']) out.push('');
if (cg.length) {
  const per = (build, mode) => cg.filter((l) => l.build === build && l.mode === mode).map((l) => l.ir / l.n);
  const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);
  const cell = (xs) => {
    const m = mean(xs);
    if (m === undefined) return '—';
    const spread = xs.length > 1 ? ` (rounds ${fmt((Math.max(...xs) - Math.min(...xs)) / m * 100, 2)}% apart)` : '';
    return `${fmt(m)}${spread}`;
  };
  const n = cg[0].n;
  const rounds = new Set(cg.map((l) => l.round)).size;
  const baseCg = cg.some((l) => l.build === 'baseline');
  out.push(`| instructions per request (callgrind: axon · nginx, one worker thread, ${fmt(n)} requests × ${rounds} rounds) | this build |` +
    `${baseCg ? ` ${baseLabel} | this/baseline |` : ''}`);
  out.push(`|---|---:|${baseCg ? '---:|---:|' : ''}`);
  for (const [mode, label] of [['plain', 'non-stream chat completion'], ['stream', 'stream chat completion, 20 tokens'],
    ['resp-plain', 'non-stream Responses'], ['resp-stream', 'stream Responses, 20 tokens']]) {
    const a = per('current', mode), b = per('baseline', mode);
    if (mode.startsWith('resp-') && !a.length && !b.length) continue;  /* not measured */
    out.push(`| ${label} | ${cell(a)} |${baseCg ? ` ${cell(b)} | ${fmt(ratio(mean(a), mean(b)), 3)} |` : ''}`);
  }
}
if (opt['cg-note']) out.push(`Note: ${opt['cg-note']}.`);

const mock32 = targets.rps32 && ratio(targets.rps32.direct, Math.max(targets.rps32.lighttpd ?? 0, targets.rps32.nginx ?? 0));
if (mock32 !== undefined) {
  out.push('');
  out.push(`Mock headroom: direct requests/s at c=32 is ${fmt(mock32, 1)}× the faster gateway's (it must be at least 3×${mock32 < 3 ? '; it is not, so the gateway figures are lower bounds' : ''}).`);
}

if (opt.smoke !== '1') {
  const both = (a) => (a ?? []).map((x) => fmt(x, x < 10 ? 1 : 0)).join(' / ');
  const ok = (c) => (c ? 'met' : '**missed**');
  const t = [];
  const a = targets.added ?? { p50: [], p99: [] };
  t.push(['added latency, non-stream, c=1: p50 ≤ 100 µs, p99 ≤ 1 ms', `${both(a.p50)} µs; ${both(a.p99)} µs`,
    ok(a.p50.every((x) => x <= 100) && a.p99.every((x) => x <= 1000))]);
  const r = targets.rps32 ?? {};
  const vsProxy = ['lighttpd', 'nginx'].map((p) => ratio(r[p], r.proxy));
  const vsPk = ['lighttpd', 'nginx'].map((p) => ratio(r[p], r.portkey));
  t.push(['throughput c=32: ≥ 25% of nginx-proxy; ≥ 5× Portkey',
    `${both(vsProxy.map((x) => x * 100))} %; ${r.portkey ? `${both(vsPk)}×` : 'Portkey not run'}`,
    ok(vsProxy.every((x) => x >= 0.25) && (!r.portkey || vsPk.every((x) => x >= 5)))]);
  t.push(['added time to first token p99 ≤ 0.5 ms', `${both(targets.ttft99)} µs`, ok((targets.ttft99 ?? []).every((x) => x <= 500))]);
  const top = holds.at(-1);
  t.push([`${fmt(top)} streams open at once, zero errors, every chunk`, (targets.holds[top] ?? []).map((x) => (x ? 'all, at once' : 'not all at once')).join(' / '),
    ok(top >= 2000 && (targets.holds[top] ?? []).every(Boolean))]);
  const m = targets.rss;
  t.push(['idle RSS ≤ 16 MiB per axon process; ≤ 128 MiB at 2,000 streams; back within 10% of idle',
    `${both(m.idle)}; ${both(m.load)}; ${both(m.after)} MiB`,
    ok((m.idle ?? []).every((x) => x <= 16) && (m.load ?? []).every((x) => x <= 128) &&
       (m.after ?? []).every((x, i) => x <= m.idle[i] * 1.1))]);
  // The sizing (docs/deploying.md, "Descriptors"): 2 per open stream in the
  // web server (the client's connection and the one to axon) and 5 in axon
  // (the web server's connection, the upstream's, its thread's Valkey
  // connection and its libcurl multi handle's wake-up socket pair).
  const fdTop = targets.fds[top] ?? {};
  const fdText = ['lighttpd', 'nginx'].map((p) => (fdTop[p] ? `${fmt(fdTop[p][0], 2)} + ${fmt(fdTop[p][1], 2)}` : '—')).join(' / ');
  t.push([`descriptors per open stream at ${fmt(top)}: ≤ 2 in the web server + ≤ 5 in axon (the sizing in docs/deploying.md)`, fdText,
    ok(['lighttpd', 'nginx'].every((p) => fdTop[p] && fdTop[p][0] <= 2.05 && fdTop[p][1] <= 5.05))]);
  t.push(['start-up to the first 200 on /health ≤ 50 ms', su ? `${fmt(su.r.p50_ms, 1)} ms (max ${fmt(su.r.max_ms, 1)})` : '—', ok(su && su.r.max_ms <= 50)]);
  t.push(['Valkey round trips ≤ 2 (new conversation)', `${rt.lighttpd} / ${rt.nginx}`, ok(rt.lighttpd <= 2 && rt.nginx <= 2)]);
  out.push('');
  out.push('| target (issue 6) | measured (axon · lighttpd / axon · nginx) | |');
  out.push('|---|---|---|');
  for (const x of t) out.push(`| ${x.join(' | ')} |`);
  out.push('');
  out.push(...issue21(both, ok));
  const sizing = sizingText();
  if (sizing) out.push('', sizing);
}
console.log(out.join('\n'));

// Issue 21's targets, each measured in this run: the verdict is "met",
// "**missed**", or "not measured" when a figure it needs is missing (no
// baseline, no Valkey figures), never a guess.
function issue21(both, ok) {
  const AX = ['lighttpd', 'nginx'];
  const t = [];
  const missing = (vals) => !vals.length || vals.some((x) => x === undefined || x === null || Number.isNaN(x));
  const verdict = (vals, good) => (missing(vals) ? 'not measured' : ok(vals.every(good)));
  const a = targets.added ?? { p50: [undefined, undefined], p99: [undefined, undefined] };
  const px = targets.proxyAdded ?? {};
  t.push(['added latency, c=1, non-stream, default settings (a stored conversation per answer): p50 ≤ 150 µs, p99 ≤ 1 ms',
    `${both(a.p50)} µs; ${both(a.p99)} µs (nginx proxy_pass adds ${fmt(px.p50)} µs; ${fmt(px.p99)} µs)`,
    missing([...a.p50, ...a.p99]) ? 'not measured' : ok(a.p50.every((x) => x <= 150) && a.p99.every((x) => x <= 1000))]);
  const ns = targets.nostore50 ?? [undefined, undefined];
  t.push(['added latency, c=1, a chat completion that stores nothing (AXON_STORE=on_request, no conversation_id): p50 ≤ 100 µs',
    ns.every((x) => x === undefined) ? 'not run' : `${both(ns)} µs`, verdict(ns, (x) => x <= 100)]);
  const r = targets.rps32 ?? {};
  const vsBase = AX.map((p) => ratio(r[p], r[`base-${p}`]));
  const vsProxy = AX.map((p) => ratio(r[p], r.proxy));
  const baseRef = opt.baseline ? `baseline ${opt.baseline}` : 'the baseline';
  t.push([`throughput c=32: ≥ 2× ${opt['baseline-ref'] || 'df77f7d'} (same run); ≥ 20% of nginx-proxy`,
    `${vsBase.every((x) => x === undefined) ? 'no baseline run (--baseline df77f7d)' : `${both(vsBase)}× ${baseRef}`}; ${both(vsProxy.map((x) => (x === undefined ? x : x * 100)))} % of nginx-proxy`,
    missing([...vsBase, ...vsProxy]) ? 'not measured' : ok(vsBase.every((x) => x >= 2) && vsProxy.every((x) => x >= 0.2))]);
  // Valkey: the commands' own server time per request, new / continued /
  // storing nothing, each "lighttpd / nginx".
  const KINDS = [['new', 'new'], ['continued', 'continued'], ['unstored', 'storing nothing']];
  const cost = (what, key) => AX.map((p) => vcost(p, what)?.[key]);
  const usec = KINDS.map(([w]) => cost(w, 'usec'));
  t.push(['Valkey CPU per request (INFO commandstats, the commands axon sent; scripts counted once) ≤ 50 µs: new / continued / storing nothing',
    KINDS.map(([, label], i) => `${label} ${both(usec[i])} µs`).join('; '), verdict(usec.flat(), (x) => x <= 50)]);
  const rts = KINDS.map(([w]) => cost(w, 'rt'));
  const LIMIT = [1, 2, 0];
  t.push(['Valkey round trips per request: new ≤ 1, continued ≤ 2, storing nothing 0',
    KINDS.map(([, label], i) => `${label} ${rts[i].map((x) => fmt(x ?? undefined)).join(' / ')}`).join('; '),
    missing(rts.flat()) ? 'not measured' : ok(rts.every((v, i) => v.every((x) => x <= LIMIT[i])))]);
  const calls = KINDS.map(([w]) => AX.map((p) => {
    const c = vcost(p, w);
    return c ? `${fmt(c.calls, 1)} + ${fmt(c.nested, 1)}` : '—';
  }).join(' / '));
  t.push(['Valkey commands per request, sent + run by scripts (no target): new / continued / storing nothing',
    KINDS.map(([, label], i) => `${label} ${calls[i]}`).join('; '), '']);
  const tt = targets.ttft99 ?? [undefined, undefined];
  t.push(['added time to first token p99 ≤ 500 µs', `${both(tt)} µs`, verdict(tt, (x) => x <= 500)]);
  const cgMean = (build) => {
    const xs = lines.filter((l) => l.kind === 'callgrind' && l.build === build && l.mode === 'plain').map((l) => l.ir / l.n);
    return xs.length ? xs.reduce((x, y) => x + y, 0) / xs.length : undefined;
  };
  const cgCur = cgMean('current'), cgBase = cgMean('baseline');
  t.push(['instructions per request, non-stream chat completion (callgrind; no target: this build / the baseline)',
    cgCur === undefined ? 'not run' : `${fmt(cgCur)}${cgBase === undefined ? ' (no baseline)' : ` / ${fmt(cgBase)} (${fmt(ratio(cgCur, cgBase), 3)}×)`}`, '']);
  return ['| target (issue 21) | measured (axon · lighttpd / axon · nginx) | |', '|---|---|---|',
    ...t.map((x) => `| ${x.join(' | ')} |`)];
}

// The sizing: how many requests/s one Valkey core carries for axon's
// per-request commands, from this run's figures (the README's Sizing
// section quotes it): redis-server's CPU time per new conversation at c=32
// (INFO cpu: process CPU, which a busy machine does not inflate), beside
// commandstats' time in the same window (read on the server's clock around
// each command, so it also holds any moment the core was taken away), and
// what a continued turn costs against a new one, one at a time.
function sizingText() {
  const AX = ['lighttpd', 'nginx'];
  const c32 = AX.map((p) => lines.find((l) => l.kind === 'valkey_cost' && l.path === p && l.what === 'new' && l.conc !== 1))
    .filter((l) => l && l.cpu_us > 0);
  if (!c32.length) return undefined;
  const worst = c32.reduce((x, y) => (y.cpu_us > x.cpu_us ? y : x));
  let s = `Sizing: at concurrency ${worst.conc}, redis-server used ${fmt(worst.cpu_us, 1)} µs of CPU per new conversation ` +
    `(INFO cpu, user + system, over ${fmt(worst.n)} requests through axon · ${worst.path}, the costlier path), so one Valkey core ` +
    `carries about ${fmt(Math.round(1e6 / worst.cpu_us / 100) * 100)} such requests/s; INFO commandstats gave ${fmt(worst.usec, 1)} µs ` +
    'per request in the same window.';
  const cont = AX.map((p) => ratio(vcost(p, 'continued')?.usec, vcost(p, 'new')?.usec)).filter((x) => x !== undefined);
  if (cont.length) {
    s += ` One request at a time, a continued conversation cost ${cont.map((x) => fmt(x, 2)).join(' / ')} times a new one's ` +
      `commandstats time (axon · ${AX.filter((p) => vcost(p, 'continued') && vcost(p, 'new')).join(' / ')}).`;
  }
  return s;
}
