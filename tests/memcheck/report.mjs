// Summarise the valgrind memcheck logs of a run (tests/memcheck/run.sh).
//
//   node tests/memcheck/report.mjs --dir DIR [--out FILE.md] [--title T] [--note TEXT]
//
// Reads every DIR/vg.PID.log and prints one row per process: how axon was run
// (fd 0, --listen, or a command-line run), whether valgrind got to write its
// final report (a process killed with SIGKILL writes none), the leak summary
// in bytes (definite, indirect, possible; still reachable for information),
// and memory errors by kind. Then the stacks of every definite leak and every
// error, so the log need not be opened. Node 20 built-ins only.
//
// Exit status: 1 if any process lost memory definitely or had a memory error
// (invalid read/write/free, an uninitialised value used, overlapping copies,
// a fatal signal); 2 if there was no log at all; else 0.
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const dir = opt('--dir');
const outFile = opt('--out');
const title = opt('--title', 'valgrind memcheck');
const note = opt('--note', '');
if (!dir) {
  console.error('usage: report.mjs --dir DIR [--out FILE.md] [--title T] [--note TEXT]');
  process.exit(2);
}

const num = (s) => Number(String(s).replaceAll(',', ''));

// Error kinds memcheck reports, as the first line of an error says them.
const ERROR_KINDS = [
  [/^Invalid read of size/, 'invalid read'],
  [/^Invalid write of size/, 'invalid write'],
  [/^Invalid free\(\)/, 'invalid free'],
  [/^Mismatched free\(\)/, 'mismatched free'],
  [/^Conditional jump or move depends on uninitialised/, 'uninitialised value'],
  [/^Use of uninitialised value/, 'uninitialised value'],
  [/^Syscall param .* uninitialised/, 'uninitialised syscall arg'],
  [/^Syscall param .* unaddressable/, 'unaddressable syscall arg'],
  [/^Source and destination overlap/, 'overlapping copy'],
  [/^Argument '.*' of function .* has a fishy/, 'fishy argument'],
  [/^Invalid alignment value/, 'invalid alignment'],
  [/^Jump to the invalid address/, 'invalid jump'],
];
// A process ended by a signal: a crash (SIGSEGV, SIGBUS, SIGABRT, SIGILL,
// SIGFPE) is an error; SIGTERM, SIGINT, SIGHUP or SIGPIPE before axon took
// them over (during start-up under valgrind) is not.
const CRASH_SIGNALS = new Set([4, 6, 7, 8, 11, 31]);

function parseLog(file) {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const pid = Number(path.basename(file).match(/(\d+)/)?.[1] ?? 0);
  const p = {
    pid, file, command: '', parent: null, complete: false,
    definite: 0, indirect: 0, possible: 0, reachable: 0, suppressedBytes: 0,
    definiteBlocks: 0, errors: {}, errorCount: 0, errorSummary: null, killedBy: null,
    allocs: null, details: [], fatal: [],
  };
  // Strip the "==PID== " prefix; keep blank separators as ''.
  const body = lines.map((l) => {
    const m = l.match(/^==\d+== ?(.*)$/);
    return m ? m[1] : (l.startsWith('--') ? null : l);
  });
  for (let i = 0; i < body.length; i++) {
    const l = body[i];
    if (l === null) continue;
    let m;
    if ((m = l.match(/^Command: (.*)$/))) p.command = m[1];
    else if ((m = l.match(/^Parent PID: (\d+)/))) p.parent = Number(m[1]);
    else if ((m = l.match(/^\s*definitely lost: ([\d,]+) bytes in ([\d,]+) blocks/))) {
      p.definite = num(m[1]); p.definiteBlocks = num(m[2]);
    } else if ((m = l.match(/^\s*indirectly lost: ([\d,]+) bytes/))) p.indirect = num(m[1]);
    else if ((m = l.match(/^\s*possibly lost: ([\d,]+) bytes/))) p.possible = num(m[1]);
    else if ((m = l.match(/^\s*still reachable: ([\d,]+) bytes/))) p.reachable = num(m[1]);
    else if ((m = l.match(/^\s*suppressed: ([\d,]+) bytes/))) p.suppressedBytes = num(m[1]);
    else if ((m = l.match(/^\s*total heap usage: ([\d,]+) allocs/))) p.allocs = num(m[1]);
    else if ((m = l.match(/^ERROR SUMMARY: ([\d,]+) errors from ([\d,]+) contexts \(suppressed: ([\d,]+) from/))) {
      p.complete = true;
      p.errorSummary = { errors: num(m[1]), contexts: num(m[2]), suppressed: num(m[3]) };
    } else if ((m = l.match(/^Process terminating with default action of signal (\d+) \((\w+)\)/))) {
      if (CRASH_SIGNALS.has(Number(m[1]))) {
        p.errors[`crash (${m[2]})`] = (p.errors[`crash (${m[2]})`] ?? 0) + 1;
        p.errorCount++;
        p.details.push(block(body, i, 'crash'));
      } else {
        p.killedBy = m[2];
      }
    } else if (/definitely lost in loss record/.test(l)) {
      p.details.push(block(body, i, 'definite leak'));
    } else {
      const kind = ERROR_KINDS.find(([re]) => re.test(l))?.[1];
      if (kind) {
        p.errors[kind] = (p.errors[kind] ?? 0) + 1;
        p.errorCount++;
        p.details.push(block(body, i, kind));
      }
    }
  }
  // Valgrind's own fatal messages (out of memory, unhandled syscall ...).
  for (const l of lines) if (/^valgrind: |^--\d+-- VALGRIND INTERNAL ERROR/.test(l)) p.fatal.push(l);
  return p;
}

// The error or leak record that starts at line i: up to the blank line after it.
function block(body, i, kind) {
  const out = [];
  for (let j = i; j < body.length && out.length < 45; j++) {
    if (body[j] === null) continue;
    if (j > i && body[j] === '') break;
    out.push(body[j]);
  }
  return { kind, text: out.join('\n') };
}

// How the process was run, from its command line.
function mode(command) {
  const argv = command.split(/\s+/).filter(Boolean);
  const rest = argv.slice(1);
  if (rest.length === 0) return 'fd 0 (lighttpd, spawn-fcgi, Apache)';
  if (rest[0] === '--listen') return '--listen (nginx)';
  return `cli ${rest.join(' ')}`.slice(0, 60);
}

if (!fs.existsSync(dir)) {
  console.error(`report.mjs: no directory ${dir}`);
  process.exit(2);
}
const files = fs.readdirSync(dir).filter((f) => /^vg\.\d+\.log$/.test(f)).sort(
  (a, b) => num(a.match(/\d+/)[0]) - num(b.match(/\d+/)[0]));
const procs = files.map((f) => parseLog(path.join(dir, f)));

const kib = (b) => b.toLocaleString('en-US');
const out = [];
out.push(`# ${title}`, '');
if (note) out.push(note, '');
const complete = procs.filter((p) => p.complete);
const killed = procs.filter((p) => !p.complete);
const tot = (k) => procs.reduce((s, p) => s + p[k], 0);
const bad = procs.filter((p) => p.definite > 0 || p.errorCount > 0 || p.fatal.length > 0);
const byMode = {};
for (const p of procs) {
  const m = mode(p.command).startsWith('cli') ? 'command-line runs' : mode(p.command);
  byMode[m] = (byMode[m] ?? 0) + 1;
}
out.push(`${procs.length} axon processes ran under valgrind (${Object.entries(byMode).map(([k, v]) => `${v} ${k}`).join(', ')}); `
  + `${complete.length} wrote their leak report (${complete.filter((p) => p.killedBy).length} of them ended by a signal before axon `
  + `took signals over), ${killed.length} did not (killed with SIGKILL, as the pool test does on purpose, or while valgrind `
  + 'was starting).', '');
out.push('| | bytes |', '|---|---:|');
out.push(`| definitely lost | ${kib(tot('definite'))} |`);
out.push(`| indirectly lost | ${kib(tot('indirect'))} |`);
out.push(`| possibly lost | ${kib(tot('possible'))} |`);
out.push(`| still reachable (not a leak: freed by nobody at exit) | ${kib(tot('reachable'))} |`);
out.push(`| suppressed (tests/memcheck/axon.supp) | ${kib(tot('suppressedBytes'))} |`);
const kinds = {};
for (const p of procs) for (const [k, v] of Object.entries(p.errors)) kinds[k] = (kinds[k] ?? 0) + v;
out.push('', `Memory errors: ${Object.keys(kinds).length ? Object.entries(kinds).map(([k, v]) => `${v} ${k}`).join(', ') : 'none'}.`, '');

out.push('| pid | run as | report | allocs | definite | indirect | possible | reachable | errors |',
  '|---:|---|---|---:|---:|---:|---:|---:|---|');
for (const p of procs) {
  const errs = Object.entries(p.errors).map(([k, v]) => `${v} ${k}`).join(', ') || (p.complete ? '0' : '—');
  const report = p.killedBy ? `yes (ended by ${p.killedBy} during start-up)` : p.complete ? 'yes' : 'none (SIGKILL, or killed while valgrind started)';
  out.push(`| ${p.pid} | ${mode(p.command)} | ${report} | `
    + `${p.allocs === null ? '—' : kib(p.allocs)} | ${p.complete ? kib(p.definite) : '—'} | `
    + `${p.complete ? kib(p.indirect) : '—'} | ${p.complete ? kib(p.possible) : '—'} | `
    + `${p.complete ? kib(p.reachable) : '—'} | ${errs}${p.fatal.length ? ' + valgrind fatal' : ''} |`);
}
if (bad.length) {
  out.push('', '## Details', '');
  for (const p of bad) {
    out.push(`### pid ${p.pid}: ${p.command} (${path.basename(p.file)})`, '');
    for (const f of p.fatal) out.push(`    ${f}`);
    for (const d of p.details.slice(0, 20)) out.push('```', d.text, '```', '');
    if (p.details.length > 20) out.push(`(${p.details.length - 20} more in the log)`, '');
  }
}
out.push('', bad.length
  ? `FAIL: ${bad.length} process(es) with a definite leak or a memory error.`
  : (procs.length ? 'OK: no definite leak and no memory error in any process.' : 'FAIL: no valgrind log found.'));
const md = out.join('\n') + '\n';
process.stdout.write(md);
if (outFile) fs.writeFileSync(outFile, md);
process.exit(procs.length === 0 ? 2 : bad.length ? 1 : 0);
