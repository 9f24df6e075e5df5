// The mock Claude's prompt cache: what a request's usage reports as
// cache_read_input_tokens and cache_creation_input_tokens, the way the
// Messages API counts them. Only the usage comes from here; validate() in
// anthropic.mjs checks cache_control's shape and the cap of four.
//
// Sources (Anthropic's prompt-caching docs, platform.claude.com/docs/en/
// build-with-claude/prompt-caching, as quoted in public copies):
// - the prefix is hashed in the order tools, system, messages, up to and
//   including the block that carries cache_control; a change anywhere before
//   a breakpoint misses it;
// - the top-level cache_control "automatically applies a cache_control
//   marker to the last cacheable block in the request" (SDK
//   MessageCreateParams.cache_control);
// - at a breakpoint the system looks back up to 20 blocks for an entry an
//   earlier request wrote ("The lookback window is 20 blocks");
// - an entry lives 5 minutes ("ttl": "1h": an hour), refreshed by each hit;
// - "Shorter prompts cannot be cached, even if marked with cache_control ...
//   processed without caching, and no error is returned": the minimum per
//   model is MIN_TOKENS below;
// - usage: input_tokens are the tokens after the last breakpoint,
//   cache_read_input_tokens were read, cache_creation_input_tokens written;
//   the three add up to the whole prompt.
// Tokens are the mock's usual estimate: bytes / 4. Caches are kept per
// model (the real ones are per workspace too; the mock has one key).
import crypto from 'node:crypto';

// Minimum cacheable prompt length, in tokens ("Cache limitations"):
// 4096 for Claude Mythos, Opus 4.7, 4.6 and 4.5 and Haiku 4.5; 2048 for
// Sonnet 4.6 (and Haiku 3.5); 1024 for Sonnet 4.5, Opus 4.1 and 4, Sonnet 4;
// Opus 4.8: 1024 and Opus 5 / Fable 5: 512 ("What's new in Claude Opus 5":
// "The minimum cacheable prompt length on Claude Opus 5 is 512 tokens, down
// from 1,024 tokens on Claude Opus 4.8"; the Fable 5 migration guide says
// the same of claude-fable-5). A model not listed (Sonnet 5: no figure
// found) gets 1024.
const MIN_TOKENS = [
  [/^claude-(opus-5|fable-5)/, 512],
  [/^claude-(mythos|opus-4-7|opus-4-6|opus-4-5|haiku-4-5)/, 4096],
  [/^claude-(sonnet-4-6|3-5-haiku)/, 2048],
];
export function minCacheTokens(model) {
  for (const [re, n] of MIN_TOKENS) if (re.test(model)) return n;
  return 1024;
}

const LOOKBACK = 20;
const TTL_MS = { '5m': 5 * 60 * 1000, '1h': 60 * 60 * 1000 };
const ENTRIES_MAX = 20000; // the mock runs for a whole test suite

// hash → { model, exp, ttl }
const entries = new Map();

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const tokens = (bytes) => Math.ceil(bytes / 4);

// A block as the prefix hash sees it: its content without the mark.
function canon(v) {
  if (Array.isArray(v)) return v.map(canon);
  if (!isObj(v)) return v;
  const o = {};
  for (const k of Object.keys(v)) if (k !== 'cache_control') o[k] = canon(v[k]);
  return o;
}

// The mark a block carries, itself or (a tool_result) inside its content.
function markOf(b) {
  if (!isObj(b)) return null;
  if (isObj(b.cache_control)) return b.cache_control;
  if (Array.isArray(b.content)) {
    for (let i = b.content.length - 1; i >= 0; i--) {
      const m = markOf(b.content[i]);
      if (m) return m;
    }
  }
  return null;
}

const asBlocks = (c) => (typeof c === 'string' ? [{ type: 'text', text: c }] : Array.isArray(c) ? c : []);

// The request as a chain of items (tools, system, then each message's
// blocks, with the role): each item's hash covers everything before it.
function chain(b) {
  const items = [];
  const add = (kind, block, cacheable) => items.push({ kind, block, mark: markOf(block), cacheable });
  for (const t of Array.isArray(b.tools) ? b.tools : []) add('tool', t, true);
  for (const s of asBlocks(b.system)) add('system', s, true);
  for (const m of Array.isArray(b.messages) ? b.messages : []) {
    for (const blk of asBlocks(m && m.content)) {
      const t = isObj(blk) ? blk.type : null;
      add(m.role, blk, t !== 'thinking' && t !== 'redacted_thinking');
    }
  }
  let h = '';
  let bytes = 0;
  for (const it of items) {
    const s = `${it.kind}\n${JSON.stringify(canon(it.block))}`;
    bytes += Buffer.byteLength(s);
    h = crypto.createHash('sha256').update(h).update(s).digest('hex');
    it.hash = h;
    it.tokens = tokens(bytes);
  }
  return items;
}

const ttlOf = (mark) => (mark && mark.ttl === '1h' ? '1h' : '5m');

// { read, write, write1h } for the request body b (write1h is the part of
// write kept for an hour). All zero when no cache_control was sent.
export function cacheUsage(b, total, now = Date.now()) {
  const zero = { read: 0, write: 0, write1h: 0 };
  if (!isObj(b)) return zero;
  const items = chain(b);
  const bps = [];
  items.forEach((it, i) => { if (it.mark) bps.push({ i, ttl: ttlOf(it.mark) }); });
  if (isObj(b.cache_control)) {
    let last = items.length - 1;
    while (last >= 0 && !items[last].cacheable) last--;
    if (last >= 0 && !bps.some((p) => p.i === last)) bps.push({ i: last, ttl: ttlOf(b.cache_control) });
  }
  if (!bps.length) return zero;
  bps.sort((x, y) => x.i - y.i);
  const model = String(b.model);
  const live = (it) => {
    const e = entries.get(it.hash);
    return e && e.model === model && e.exp > now ? e : null;
  };
  // Reads: the longest prefix an earlier request wrote, within the
  // lookback of some breakpoint. A hit refreshes the entry.
  let read = 0;
  for (const bp of bps) {
    for (let j = bp.i; j >= 0 && j > bp.i - LOOKBACK; j--) {
      const e = live(items[j]);
      if (!e) continue;
      e.exp = now + TTL_MS[e.ttl];
      read = Math.max(read, items[j].tokens);
      break;
    }
  }
  // Writes: every breakpoint's prefix long enough to cache; what is written
  // is the part past the read.
  const min = minCacheTokens(model);
  const lastBp = bps[bps.length - 1];
  let write = 0;
  let write1h = 0;
  for (const bp of bps) {
    const it = items[bp.i];
    if (it.tokens < min) continue;
    if (!live(it)) {
      if (entries.size >= ENTRIES_MAX) entries.delete(entries.keys().next().value);
      entries.set(it.hash, { model, exp: now + TTL_MS[bp.ttl], ttl: bp.ttl });
    }
  }
  const top = items[lastBp.i].tokens;
  if (top >= min && top > read) {
    write = top - read;
    // The hour's share: up to the last 1h breakpoint (they come first).
    const lastHour = [...bps].reverse().find((p) => p.ttl === '1h');
    if (lastHour) write1h = Math.max(0, Math.min(items[lastHour.i].tokens, top) - read);
  }
  // Never more than the prompt the mock counts (bytes / 4 of the body).
  if (read > total) read = total;
  if (read + write > total) write = total - read;
  if (write1h > write) write1h = write;
  return { read, write, write1h };
}
