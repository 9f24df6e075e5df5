// Every relative link in README.md and docs/ must lead somewhere: the file
// (or folder) must exist, and a #fragment must name a heading of the target
// Markdown file (GitHub's slugs) or an explicit id="..." in it. Links to
// other sites (http:, https:, mailto:) are not followed: this runs offline.
//
//   node tests/docs/links.mjs          exit 0, or 1 with one line per broken link
//
// make lint runs it (tests/lint/run.sh). PENDING lists the files other
// branches of issue 19 add (the settings reference and the internals note):
// a link to one of them passes while the file does not exist yet, with a
// note; once it exists it is checked like any other.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PENDING = new Set(['docs/configuration.md', 'docs/internals.md']);

const mdFiles = (dir) => fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
  const rel = path.posix.join(dir, e.name);
  if (e.isDirectory()) return mdFiles(rel);
  return e.name.endsWith('.md') ? [rel] : [];
});
const sources = ['README.md', ...(fs.existsSync(path.join(root, 'docs')) ? mdFiles('docs') : [])];

// The lines of a Markdown file outside fenced code blocks, with inline code
// blanked (a link inside backticks is not a link).
const prose = (text) => {
  let fence = null;
  return text.split('\n').map((line) => {
    const m = line.match(/^\s*(```+|~~~+)/);
    if (m) {
      if (!fence) fence = m[1][0];
      else if (m[1][0] === fence) fence = null;
      return '';
    }
    return fence ? '' : line.replace(/(`+)[^`]*?\1/g, (s) => ' '.repeat(s.length));
  });
};

// GitHub's heading ids: the text without Markdown marks, lower case, every
// character other than letters, digits, '-', '_' and spaces dropped, spaces as
// '-'; a repeated id gets -1, -2 ...
const anchorsCache = new Map();
const anchorsOf = (file) => {
  if (anchorsCache.has(file)) return anchorsCache.get(file);
  const set = new Set();
  const seen = new Map();
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  let fence = null;
  for (const line of text.split('\n')) {
    const f = line.match(/^\s*(```+|~~~+)/);
    if (f) {
      if (!fence) fence = f[1][0];
      else if (f[1][0] === fence) fence = null;
      continue;
    }
    if (fence) continue;
    for (const m of line.matchAll(/\b(?:id|name)="([^"]+)"/g)) set.add(m[1]);
    const h = line.match(/^#{1,6}\s+(.*?)\s*#*\s*$/);
    if (!h) continue;
    let slug = h[1]
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\- _]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    if (n) slug = `${slug}-${n}`;
    set.add(slug);
  }
  anchorsCache.set(file, set);
  return set;
};

const broken = [];
const notes = new Set();
for (const src of sources) {
  const lines = prose(fs.readFileSync(path.join(root, src), 'utf8'));
  lines.forEach((line, i) => {
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;   // another site, or mailto:
      const [file, frag] = target.split('#', 2);
      const where = `${src}:${i + 1}`;
      const dest = file === '' ? src : path.posix.normalize(path.posix.join(path.posix.dirname(src), file));
      if (dest.startsWith('..')) { broken.push(`${where}: ${target} leaves the tree`); continue; }
      if (!fs.existsSync(path.join(root, dest))) {
        if (PENDING.has(dest)) { notes.add(`${dest} does not exist yet (another branch adds it)`); continue; }
        broken.push(`${where}: ${target}: no such file ${dest}`);
        continue;
      }
      if (frag === undefined || frag === '') continue;
      if (!dest.endsWith('.md') || fs.statSync(path.join(root, dest)).isDirectory()) {
        broken.push(`${where}: ${target}: an anchor into a file that is not Markdown`);
        continue;
      }
      if (!anchorsOf(dest).has(decodeURIComponent(frag)))
        broken.push(`${where}: ${target}: ${dest} has no heading #${frag}`);
    }
  });
}
for (const n of notes) console.log(`docs links: note: ${n}`);
for (const b of broken) console.log(`docs links: ${b}`);
if (broken.length) {
  console.log(`docs links: ${broken.length} broken link(s) in README.md and docs/`);
  process.exit(1);
}
