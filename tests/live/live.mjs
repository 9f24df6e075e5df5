// The live check's cases: issue 17's rules ("Today's Claude"), through Axon,
// with the official openai SDK, for each model of LIVE_MODELS. Run by
// tests/live/run.sh, which starts the stack and passes the settings in:
//   LIVE_AXON_URL     Axon's base URL (…/v1)
//   LIVE_KEY          an Axon key (LIVE_KEY2: a second one)
//   LIVE_RESULTS      a file that gets a copy of every result line
//   LIVE_MODELS_FILE  the model table Axon reads (for a model's context window)
//   LIVE_MODELS, LIVE_EXPENSIVE, LIVE_ONLY, LIVE_TIMEOUT_S, LIVE_CACHE_TOKENS,
//   LIVE_BIG_MAX_TOKENS, LIVE_TOO_LONG_TOKENS, LIVE_DEFAULT_ONLY_MODELS   as for run.sh
// `node tests/live/live.mjs --list` prints the cases it would run, one a line,
// and needs neither a stack nor the SDK (run.sh counts them when it skips).
//
// It prints one line per case: "ok   MODEL ID description", "FAIL MODEL ID
// description: why", "skip MODEL ID description (why)". It exits 0 when it
// ran to the end, whatever the cases said (run.sh counts the lines).
//
// Every expectation below is the rule of issue 17 as a user sees it, with the
// source of the rule in ../../../shared/notes/claude-today.md (the repository's
// copy of that note is the issue itself). The cases are written for the real
// API: they ask real questions and check what any correct answer has, never
// the mock's exact words.
import fs from 'node:fs';

const env = process.env;
const LIST = process.argv.includes('--list');
const BASE = (env.LIVE_AXON_URL || 'http://127.0.0.1:8080/v1').replace(/\/+$/, '');
const KEY = env.LIVE_KEY || '';
const MODELS = (env.LIVE_MODELS || 'claude-opus-4-7 claude-sonnet-4-6').split(/\s+/).filter(Boolean);
const EXPENSIVE = env.LIVE_EXPENSIVE === '1';
const TIMEOUT_MS = Number(env.LIVE_TIMEOUT_S || 180) * 1000;
// A prompt this long (in tokens, estimated) is above every current model's
// smallest cacheable prefix: 4096 for Opus 4.5/4.6 and Haiku 4.5, 2048 for
// Opus 4.7, 1024 for Sonnet 4.6 (Anthropic's prompt-caching docs, "Minimum
// cacheable prompt length"; anthropics/anthropic-sdk-python#1194 quotes them).
const CACHE_TOKENS = Number(env.LIVE_CACHE_TOKENS || 6000);
// A non-stream max_tokens the SDK itself would refuse to send unstreamed
// (its _calculateNonstreamingTimeout passes 10 minutes), within the ceiling
// of every model of the default LIVE_MODELS (Sonnet 4.6: 64K).
const BIG_MAX_TOKENS = Number(env.LIVE_BIG_MAX_TOKENS || 64000);
let ONLY = null;
try {
  ONLY = env.LIVE_ONLY ? new RegExp(env.LIVE_ONLY) : null;
} catch (e) {
  process.stderr.write(`live.mjs: LIVE_ONLY is not a JavaScript regular expression: ${e.message}\n`);
  process.exit(2);
}
const RUN = Math.random().toString(16).slice(2, 10); // keeps each run's prompts (and caches) apart

// Models released after Claude Opus 4.6 take only the default sampling values
// (SDK doc comments on temperature, top_p, top_k: "Models released after
// Claude Opus 4.6 do not support setting temperature. A value of 1.0 will be
// accepted ..."; claude-today.md lists them). A dated id counts as its model.
const DEFAULT_ONLY = (env.LIVE_DEFAULT_ONLY_MODELS ||
  'claude-opus-4-7 claude-opus-4-8 claude-opus-5 claude-sonnet-5 claude-fable-5 claude-mythos-5')
  .split(/\s+/).filter(Boolean);
const defaultOnly = (m) => DEFAULT_ONLY.some((d) => m === d || m.startsWith(`${d}-`));

// ---- output ---------------------------------------------------------------------

function line(text) {
  process.stdout.write(`${text}\n`);
  if (env.LIVE_RESULTS) fs.appendFileSync(env.LIVE_RESULTS, `${text}\n`);
}

class Check extends Error {}
function check(cond, why) {
  if (!cond) throw new Check(why);
}
const short = (v, n = 200) => {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s === undefined ? String(v) : s.length > n ? `${s.slice(0, n)}…` : s;
};

// ---- the SDK -----------------------------------------------------------------------

let OpenAI = null;
let ai = null;

// A completion and its response headers. Errors propagate (the SDK's classes).
async function create(params) {
  const { data, response } = await ai.chat.completions.create(params).withResponse();
  return { data, headers: response.headers };
}

// A streamed completion, assembled: content, reasoning, tool calls, legacy
// function_call, finish_reason, the usage chunk, and the response headers.
async function stream(params) {
  const { data, response } = await ai.chat.completions.create({ ...params, stream: true }).withResponse();
  const r = {
    headers: response.headers, chunks: 0, content: '', reasoning: '', reasoningAfterContent: false,
    toolCalls: [], functionCall: null, finish: null, usage: null, conversationId: null,
  };
  for await (const c of data) {
    r.chunks++;
    if (c.conversation_id) r.conversationId = c.conversation_id;
    if (c.usage) r.usage = c.usage;
    const ch = c.choices?.[0];
    if (!ch) continue;
    const d = ch.delta || {};
    if (typeof d.reasoning_content === 'string' && d.reasoning_content) {
      if (r.content) r.reasoningAfterContent = true;
      r.reasoning += d.reasoning_content;
    }
    if (typeof d.content === 'string') r.content += d.content;
    for (const tc of d.tool_calls || []) {
      const t = (r.toolCalls[tc.index] ||= { id: '', type: 'function', function: { name: '', arguments: '' } });
      if (tc.id) t.id = tc.id;
      if (tc.function?.name) t.function.name += tc.function.name;
      if (tc.function?.arguments) t.function.arguments += tc.function.arguments;
    }
    if (d.function_call) {
      r.functionCall ||= { name: '', arguments: '' };
      if (d.function_call.name) r.functionCall.name += d.function_call.name;
      if (d.function_call.arguments) r.functionCall.arguments += d.function_call.arguments;
    }
    if (ch.finish_reason) r.finish = ch.finish_reason;
  }
  return r;
}

// The parameters Axon dropped, from x-axon-ignored-params ("temperature, top_p").
function ignored(headers) {
  const v = headers.get('x-axon-ignored-params');
  return v ? v.split(',').map((s) => s.trim()).filter(Boolean).sort() : [];
}

// The request must fail with this status and OpenAI error code.
async function expectError(promise, status, code) {
  let err = null;
  try {
    const v = await promise;
    throw new Check(`expected ${status} ${code}, got an answer: ${short(v.data ?? v)}`);
  } catch (e) {
    if (e instanceof Check) throw e;
    err = e;
  }
  check(err instanceof OpenAI.APIError, `expected an API error, got ${err?.constructor?.name}: ${err?.message}`);
  check(err.status === status, `expected status ${status}, got ${err.status}: ${err.message}`);
  check(err.code === code, `expected code ${code}, got ${short(err.code)}: ${err.message}`);
  return err;
}

// ---- prompts -------------------------------------------------------------------------

const OK = 'Reply with the single word OK.';
const SMALL = 16; // max_tokens where only a word is wanted

// Reference notes of about `tokens` tokens (at most ~4.5 characters a token
// for this text, so the estimate errs long), unique to this run and `tag`,
// so a cache entry of an earlier run is never read.
function notes(tag, tokens) {
  const words = ['amber', 'birch', 'cobalt', 'dune', 'ember', 'fjord', 'garnet', 'harbor', 'iris', 'juniper', 'kelp', 'lagoon'];
  const parts = [`Reference notes ${RUN}-${tag}. Read them; a short question follows.`];
  let chars = parts[0].length;
  for (let i = 1; chars < tokens * 4.5; i++) {
    const s = `Note ${i}: the ${words[i % words.length]} crate filed under ${tag} holds ${(i * 7919) % 10007} bolts.`;
    parts.push(s);
    chars += s.length + 1;
  }
  return parts.join('\n');
}

const WEATHER_PARAMS = {
  type: 'object',
  properties: { city: { type: 'string', description: 'City name' } },
  required: ['city'],
};
const WEATHER = {
  type: 'function',
  function: { name: 'get_weather', description: 'The current weather in a city.', parameters: WEATHER_PARAMS },
};
const ASK_WEATHER = 'What is the weather in Paris right now? Use the get_weather tool.';
const WEATHER_RESULT = '{"city":"Paris","temperature_c":18,"sky":"clear"}';

// Constraints Claude's structured outputs do not take as keywords (the SDK's
// transform-json-schema.ts moves them into descriptions): Axon must rewrite
// them, and the answer must still keep them.
const PERSON = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 20, description: 'A first name' },
    age: { type: 'integer', minimum: 1, maximum: 120 },
    hobbies: { type: 'array', items: { type: 'string', maxLength: 30 }, minItems: 1, maxItems: 3 },
  },
  required: ['name', 'age', 'hobbies'],
  additionalProperties: false,
};
// The answer must be JSON of the schema's shape (Axon's part); whether the
// model also kept the moved constraints is the model's part, so a broken one
// is reported on the ok line, not failed (Axon itself may say so in a header).
function checkPerson(text, headers) {
  let p;
  try {
    p = JSON.parse(text);
  } catch {
    throw new Check(`the answer is not JSON: ${short(text)}`);
  }
  check(p && typeof p === 'object' && !Array.isArray(p), `the answer is not an object: ${short(text)}`);
  check(typeof p.name === 'string', `name is not a string: ${short(p.name)}`);
  check(Number.isInteger(p.age), `age is not an integer: ${short(p.age)}`);
  check(Array.isArray(p.hobbies) && p.hobbies.every((h) => typeof h === 'string'), `hobbies is not an array of strings: ${short(p.hobbies)}`);
  check(Object.keys(p).every((k) => k in PERSON.properties), `a property the schema does not have: ${short(Object.keys(p))}`);
  const broken = [];
  if (p.name.length < 1 || p.name.length > 20) broken.push(`name length ${p.name.length} (1..20)`);
  if (p.age < 18 || p.age > 99) broken.push(`age ${p.age} (18..99)`);
  if (p.hobbies.length < 1 || p.hobbies.length > 3) broken.push(`${p.hobbies.length} hobbies (1..3)`);
  if (p.hobbies.some((h) => h.length > 30)) broken.push('a hobby over 30 characters');
  // Axon's own word on it, whatever the header is called (x-axon-schema-…).
  const said = headers ? [...headers].filter(([k]) => k.startsWith('x-axon-schema')).map(([k, v]) => `${k}: ${v}`).join('; ') : '';
  if (!broken.length) return 'the constraints were kept';
  return `the model broke ${broken.join(', ')}${said ? `; Axon said: ${said}` : ''}`;
}
const STRUCTURED = {
  response_format: { type: 'json_schema', json_schema: { name: 'person', strict: true, schema: PERSON } },
  messages: [{ role: 'user', content: 'Invent a person who likes the sea.' }],
  max_completion_tokens: 200,
};

// A question worth thinking about, and room for the thinking: Axon maps
// "medium" to a 4096-token budget on budget models, which max_tokens must exceed.
const THINK = {
  reasoning_effort: 'medium',
  max_completion_tokens: 6000,
};
const PUZZLE = 'A bat and a ball cost $1.10 in total. The bat costs $1.00 more than the ball. '
  + 'How much does the ball cost, and what is that many cents times 37? '
  + 'Think it through, then answer in one sentence.';

// The model's context window, from the model table Axon reads (context=N;
// an alias resolves to its model), else 200000: shown on X1's line, and
// X1's prompt is sized above it.
function contextWindow(model) {
  let text = '';
  try {
    text = fs.readFileSync(env.LIVE_MODELS_FILE || 'etc/models.conf', 'utf8');
  } catch {
    return 200000;
  }
  const lines = text.split('\n').map((l) => l.replace(/#.*/, '').trim().split(/\s+/));
  const alias = lines.find((w) => w[0] === 'alias' && w[1] === model);
  const id = alias ? alias[2] : model;
  const m = lines.find((w) => w[0] === 'model' && w[1] === id);
  const c = m?.map((w) => /^context=(\d+)$/.exec(w)).find(Boolean);
  return c ? Number(c[1]) : 200000;
}

// usage.prompt_tokens_details, as OpenAI's CompletionUsage spells it.
function details(usage, what) {
  check(usage, `${what}: no usage`);
  const d = usage.prompt_tokens_details;
  check(d && typeof d === 'object', `${what}: no usage.prompt_tokens_details (usage: ${short(usage)})`);
  return d;
}

// ---- the cases --------------------------------------------------------------------------
// Each: id, what (the line printed), run(model) → an optional note for the ok
// line; `expensive` cases run only with LIVE_EXPENSIVE=1.

const CASES = [
  // Sampling (issue 17 item 2). Every Claude model since 4.5 refuses the pair
  // ("`temperature` and `top_p` cannot both be specified for this model");
  // Axon keeps temperature and names what it dropped.
  {
    id: 'S1', what: 'temperature 0.5 + top_p 0.9: 200, x-axon-ignored-params names top_p',
    async run(m) {
      const { data, headers } = await create({ model: m, messages: [{ role: 'user', content: OK }], max_tokens: SMALL, temperature: 0.5, top_p: 0.9 });
      check(data.choices[0].message.content, 'an empty answer');
      const want = defaultOnly(m) ? ['temperature', 'top_p'] : ['top_p'];
      check(short(ignored(headers)) === short(want), `x-axon-ignored-params: ${short(headers.get('x-axon-ignored-params'))}, expected ${want.join(', ')}`);
    },
  },
  {
    id: 'S2', what: 'temperature 0.5 + top_p 0.9, streamed: 200, the header on the stream too',
    async run(m) {
      const r = await stream({ model: m, messages: [{ role: 'user', content: OK }], max_tokens: SMALL, temperature: 0.5, top_p: 0.9 });
      check(r.content, 'an empty answer');
      check(r.finish, 'the stream ended without a finish_reason');
      check(ignored(r.headers).includes('top_p'), `x-axon-ignored-params: ${short(r.headers.get('x-axon-ignored-params'))}`);
    },
  },
  // Default-only sampling: temperature other than 1.0 and top_p below 0.99
  // are refused by the models after Opus 4.6 (SDK doc comments); Axon drops
  // and names them there, and sends them unchanged to every other model.
  {
    id: 'S3', what: 'temperature 0.2 alone: dropped and named on a default-only model, kept (no header) otherwise',
    async run(m) {
      const { data, headers } = await create({ model: m, messages: [{ role: 'user', content: OK }], max_tokens: SMALL, temperature: 0.2 });
      check(data.choices[0].message.content, 'an empty answer');
      const want = defaultOnly(m) ? ['temperature'] : [];
      check(short(ignored(headers)) === short(want), `x-axon-ignored-params: ${short(headers.get('x-axon-ignored-params'))}, expected ${want.join(', ') || 'none'}`);
      return defaultOnly(m) ? 'default-only model' : 'takes temperature';
    },
  },
  {
    id: 'S4', what: 'top_p 0.5 alone: dropped and named on a default-only model, kept (no header) otherwise',
    async run(m) {
      const { data, headers } = await create({ model: m, messages: [{ role: 'user', content: OK }], max_tokens: SMALL, top_p: 0.5 });
      check(data.choices[0].message.content, 'an empty answer');
      const want = defaultOnly(m) ? ['top_p'] : [];
      check(short(ignored(headers)) === short(want), `x-axon-ignored-params: ${short(headers.get('x-axon-ignored-params'))}, expected ${want.join(', ') || 'none'}`);
    },
  },
  {
    id: 'S5', what: 'temperature 1 (the default, accepted everywhere): 200, nothing dropped',
    async run(m) {
      const { data, headers } = await create({ model: m, messages: [{ role: 'user', content: OK }], max_tokens: SMALL, temperature: 1 });
      check(data.choices[0].message.content, 'an empty answer');
      check(ignored(headers).length === 0, `x-axon-ignored-params: ${short(headers.get('x-axon-ignored-params'))}`);
    },
  },
  // No prefill (item 3): Opus/Sonnet 4.6 and newer answer 400 "This model
  // does not support assistant message prefill. The conversation must end
  // with a user message." A chat UI's "continue" sends exactly this.
  {
    id: 'P1', what: 'a history ending in an assistant message: 200, an answer',
    async run(m) {
      const { data } = await create({
        model: m, max_tokens: 64,
        messages: [{ role: 'user', content: 'Write a haiku about autumn.' }, { role: 'assistant', content: 'Autumn' }],
      });
      check(data.choices[0].message.content, 'an empty answer');
    },
  },
  {
    id: 'P2', what: 'a history ending in an assistant message, streamed: 200, an answer',
    async run(m) {
      const r = await stream({
        model: m, max_tokens: 64,
        messages: [{ role: 'user', content: 'Write a haiku about autumn.' }, { role: 'assistant', content: 'Autumn' }],
      });
      check(r.content && r.finish, `an empty or unfinished answer: ${short(r.content)} (${r.finish})`);
    },
  },
  // Thinking (item 4): reasoning_effort maps to budget or adaptive thinking
  // per model, display "summarized", so the reasoning comes back.
  {
    id: 'R1', what: 'reasoning_effort medium: 200, message.reasoning_content present',
    async run(m) {
      const { data } = await create({ model: m, ...THINK, messages: [{ role: 'user', content: PUZZLE }] });
      const msg = data.choices[0].message;
      check(typeof msg.reasoning_content === 'string' && msg.reasoning_content.trim(), `no reasoning_content (message: ${short(msg)})`);
      check(msg.content, 'an empty answer');
    },
  },
  {
    id: 'R2', what: 'reasoning_effort medium, streamed: reasoning deltas, then the answer',
    async run(m) {
      const r = await stream({ model: m, ...THINK, messages: [{ role: 'user', content: PUZZLE }] });
      check(r.reasoning.trim(), 'no reasoning_content deltas');
      check(!r.reasoningAfterContent, 'reasoning arrived after the answer had begun');
      check(r.content, 'an empty answer');
    },
  },
  // Signed thinking survives a stateless client (item 5): an agent loop
  // resends the whole history, without conversation_id and without the
  // thinking blocks; Claude would answer "Expected `thinking` or
  // `redacted_thinking`, but found `tool_use`" unless Axon puts them back.
  {
    id: 'T1', what: 'reasoning + tools, turn 2 resent without conversation_id: 200',
    async run(m) {
      const ask = { role: 'user', content: ASK_WEATHER };
      const one = await create({ model: m, ...THINK, tools: [WEATHER], messages: [ask] });
      const msg = one.data.choices[0].message;
      check(msg.tool_calls?.length, `turn 1 called no tool (finish_reason ${one.data.choices[0].finish_reason}, content ${short(msg.content)})`);
      const thought = Boolean(msg.reasoning_content);
      // Only what a stateless OpenAI client keeps: no thinking, no conversation_id.
      const assistant = {
        role: 'assistant', content: msg.content ?? null,
        tool_calls: msg.tool_calls.map((t) => ({ id: t.id, type: 'function', function: { name: t.function.name, arguments: t.function.arguments } })),
      };
      const results = msg.tool_calls.map((t) => ({ role: 'tool', tool_call_id: t.id, content: WEATHER_RESULT }));
      const two = await create({ model: m, ...THINK, tools: [WEATHER], messages: [ask, assistant, ...results] });
      check(two.data.choices[0].message.content || two.data.choices[0].message.tool_calls, 'turn 2: an empty answer');
      return thought ? 'turn 1 thought' : 'turn 1 did not think: the replay of signed thinking was not exercised';
    },
  },
  {
    id: 'T2', what: 'reasoning + tools, streamed, turn 2 resent without conversation_id: 200',
    async run(m) {
      const ask = { role: 'user', content: ASK_WEATHER };
      const one = await stream({ model: m, ...THINK, tools: [WEATHER], messages: [ask] });
      check(one.toolCalls.length, `turn 1 called no tool (finish_reason ${one.finish}, content ${short(one.content)})`);
      const assistant = { role: 'assistant', content: one.content || null, tool_calls: one.toolCalls };
      const results = one.toolCalls.map((t) => ({ role: 'tool', tool_call_id: t.id, content: WEATHER_RESULT }));
      const two = await stream({ model: m, ...THINK, tools: [WEATHER], messages: [ask, assistant, ...results] });
      check(two.finish, 'turn 2: the stream ended without a finish_reason');
      check(two.content || two.toolCalls.length, 'turn 2: an empty answer');
      return one.reasoning ? 'turn 1 thought' : 'turn 1 did not think: the replay of signed thinking was not exercised';
    },
  },
  // user / safety_identifier (item 7): Claude refuses an e-mail address in
  // metadata.user_id ("user_id appears to contain an email address").
  {
    id: 'U1', what: 'user "ann@example.com": 200',
    async run(m) {
      const { data } = await create({ model: m, messages: [{ role: 'user', content: OK }], max_tokens: SMALL, user: 'ann@example.com' });
      check(data.choices[0].message.content, 'an empty answer');
    },
  },
  {
    id: 'U2', what: 'safety_identifier "ann@example.com": 200',
    async run(m) {
      const { data } = await create({ model: m, messages: [{ role: 'user', content: OK }], max_tokens: SMALL, safety_identifier: 'ann@example.com' });
      check(data.choices[0].message.content, 'an empty answer');
    },
  },
  // Prompt caching (item 6): a client's cache_control reaches Claude, a
  // continued conversation is cached automatically, and usage reports both
  // writes (cache_write_tokens) and reads (cached_tokens).
  {
    id: 'C1', what: 'cache_control on a long part, sent twice: the repeat has cached_tokens > 0',
    async run(m) {
      const body = {
        model: m, max_tokens: SMALL,
        messages: [{ role: 'user', content: [
          { type: 'text', text: notes(`c1-${m}`, CACHE_TOKENS), cache_control: { type: 'ephemeral' } },
          { type: 'text', text: OK },
        ] }],
      };
      const first = await create(body);
      const d1 = details(first.data.usage, 'first');
      const second = await create(body);
      const d2 = details(second.data.usage, 'repeat');
      check(d2.cached_tokens > 0, `repeat: cached_tokens ${short(d2.cached_tokens)} (usage ${short(second.data.usage)})`);
      check(d1.cache_write_tokens > 0, `first: cache_write_tokens ${short(d1.cache_write_tokens)} (usage ${short(first.data.usage)})`);
      return `wrote ${d1.cache_write_tokens}, read ${d2.cached_tokens}`;
    },
  },
  {
    id: 'C2', what: 'cache_control on a long part, streamed twice: the repeat\'s usage chunk has cached_tokens > 0',
    async run(m) {
      const body = {
        model: m, max_tokens: SMALL, stream_options: { include_usage: true },
        messages: [{ role: 'user', content: [
          { type: 'text', text: notes(`c2-${m}`, CACHE_TOKENS), cache_control: { type: 'ephemeral' } },
          { type: 'text', text: OK },
        ] }],
      };
      const first = await stream(body);
      const d1 = details(first.usage, 'first');
      const second = await stream(body);
      const d2 = details(second.usage, 'repeat');
      check(d2.cached_tokens > 0, `repeat: cached_tokens ${short(d2.cached_tokens)} (usage ${short(second.usage)})`);
      check(d1.cache_write_tokens > 0, `first: cache_write_tokens ${short(d1.cache_write_tokens)} (usage ${short(first.usage)})`);
      return `wrote ${d1.cache_write_tokens}, read ${d2.cached_tokens}`;
    },
  },
  {
    id: 'C3', what: 'a long conversation continued by conversation_id: turn 2 has cached_tokens > 0 (automatic caching)',
    async run(m) {
      const one = await create({ model: m, max_tokens: SMALL, messages: [{ role: 'user', content: `${notes(`c3-${m}`, CACHE_TOKENS)}\n\n${OK}` }] });
      details(one.data.usage, 'turn 1');
      const conv = one.data.conversation_id;
      check(conv, 'turn 1 carries no conversation_id (AXON_STORE=on_request?)');
      const two = await create({ model: m, max_tokens: SMALL, conversation_id: conv, messages: [{ role: 'user', content: 'Reply with the single word OK again.' }] });
      const d2 = details(two.data.usage, 'turn 2');
      check(d2.cached_tokens > 0, `turn 2: cached_tokens ${short(d2.cached_tokens)} (usage ${short(two.data.usage)}; AXON_PROMPT_CACHE=${env.AXON_PROMPT_CACHE || 'default'})`);
      return `read ${d2.cached_tokens}`;
    },
  },
  {
    id: 'C4', what: 'a long conversation continued by conversation_id, streamed: turn 2\'s usage chunk has cached_tokens > 0',
    async run(m) {
      const opts = { model: m, max_tokens: SMALL, stream_options: { include_usage: true } };
      const one = await stream({ ...opts, messages: [{ role: 'user', content: `${notes(`c4-${m}`, CACHE_TOKENS)}\n\n${OK}` }] });
      details(one.usage, 'turn 1');
      check(one.conversationId, 'turn 1 carries no conversation_id (AXON_STORE=on_request?)');
      const two = await stream({ ...opts, conversation_id: one.conversationId, messages: [{ role: 'user', content: 'Reply with the single word OK again.' }] });
      const d2 = details(two.usage, 'turn 2');
      check(d2.cached_tokens > 0, `turn 2: cached_tokens ${short(d2.cached_tokens)} (usage ${short(two.usage)})`);
      return `read ${d2.cached_tokens}`;
    },
  },
  {
    id: 'C5', what: 'prompt_cache_retention "24h" on a long prompt, sent twice: 200, the repeat has cached_tokens > 0',
    async run(m) {
      const body = {
        model: m, max_tokens: SMALL, prompt_cache_retention: '24h',
        messages: [{ role: 'user', content: `${notes(`c5-${m}`, CACHE_TOKENS)}\n\n${OK}` }],
      };
      await create(body);
      const second = await create(body);
      const d2 = details(second.data.usage, 'repeat');
      check(d2.cached_tokens > 0, `repeat: cached_tokens ${short(d2.cached_tokens)} (usage ${short(second.data.usage)})`);
      return `read ${d2.cached_tokens}`;
    },
  },
  // Schemas (item 10): minimum/maxLength and friends are rewritten into what
  // Claude accepts, and the answer still keeps them.
  {
    id: 'J1', what: 'structured output with minimum/maxLength/maxItems: 200, JSON of the schema',
    async run(m) {
      const { data, headers } = await create({ model: m, ...STRUCTURED });
      return checkPerson(data.choices[0].message.content, headers);
    },
  },
  {
    id: 'J2', what: 'structured output with minimum/maxLength/maxItems, streamed: 200, JSON of the schema',
    async run(m) {
      const r = await stream({ model: m, ...STRUCTURED });
      check(r.finish, 'the stream ended without a finish_reason');
      return checkPerson(r.content, r.headers);
    },
  },
  // Legacy functions (item 9): the function is called, in the legacy shape.
  {
    id: 'F1', what: 'legacy functions: finish_reason function_call, message.function_call',
    async run(m) {
      const { data } = await create({
        model: m, max_tokens: 300, functions: [{ name: 'get_weather', description: 'The current weather in a city.', parameters: WEATHER_PARAMS }],
        function_call: 'auto', messages: [{ role: 'user', content: ASK_WEATHER.replace('tool', 'function') }],
      });
      const c = data.choices[0];
      check(c.finish_reason === 'function_call', `finish_reason ${short(c.finish_reason)} (message ${short(c.message)})`);
      check(c.message.function_call?.name === 'get_weather', `function_call ${short(c.message.function_call)}`);
      check(!c.message.tool_calls?.length, 'tool_calls in a legacy answer');
      const args = JSON.parse(c.message.function_call.arguments);
      check(typeof args.city === 'string', `arguments ${short(c.message.function_call.arguments)}`);
    },
  },
  {
    id: 'F2', what: 'legacy functions, streamed: delta.function_call, finish_reason function_call',
    async run(m) {
      const r = await stream({
        model: m, max_tokens: 300, functions: [{ name: 'get_weather', description: 'The current weather in a city.', parameters: WEATHER_PARAMS }],
        function_call: 'auto', messages: [{ role: 'user', content: ASK_WEATHER.replace('tool', 'function') }],
      });
      check(r.finish === 'function_call', `finish_reason ${short(r.finish)}`);
      check(r.functionCall?.name === 'get_weather', `function_call ${short(r.functionCall)}`);
      check(!r.toolCalls.length, 'tool_calls deltas in a legacy answer');
      const args = JSON.parse(r.functionCall.arguments);
      check(typeof args.city === 'string', `arguments ${short(r.functionCall.arguments)}`);
    },
  },
  // Long answers (item 11): the SDK would not send this unstreamed; Axon
  // streams it from Claude itself and answers one completion.
  {
    id: 'M1', what: `non-stream max_tokens ${BIG_MAX_TOKENS}: 200, one chat.completion`,
    async run(m) {
      const { data } = await create({ model: m, messages: [{ role: 'user', content: OK }], max_tokens: BIG_MAX_TOKENS });
      check(data.object === 'chat.completion', `object ${short(data.object)}`);
      check(data.choices[0].message.content, 'an empty answer');
      check(data.choices[0].finish_reason === 'stop', `finish_reason ${short(data.choices[0].finish_reason)}`);
    },
  },
  // Errors (item 8): "prompt is too long: N tokens > M maximum" becomes
  // OpenAI's context_length_exceeded, so clients that trim can trim.
  {
    id: 'X1', what: 'a prompt over the context window: 400 context_length_exceeded', expensive: true,
    async run(m) {
      // Over every window there is (1M is the largest), whatever the table
      // says: a refused prompt is not billed, an accepted one would be.
      const window = contextWindow(m);
      const tokens = Number(env.LIVE_TOO_LONG_TOKENS) || Math.ceil(Math.max(window, 1000000) * 1.3);
      const err = await expectError(
        create({ model: m, max_tokens: SMALL, messages: [{ role: 'user', content: `${notes(`x1-${m}`, tokens)}\n\n${OK}` }] }),
        400, 'context_length_exceeded');
      check(err.type === 'invalid_request_error', `type ${short(err.type)}`);
      return `about ${tokens} tokens sent, for a window of ${window}`;
    },
  },
];

// ---- run ------------------------------------------------------------------------------

const selected = [];
for (const m of MODELS) {
  for (const c of CASES) {
    const name = `${m} ${c.id} ${c.what}`;
    if (!ONLY || ONLY.test(name)) selected.push({ m, c, name });
  }
}

if (LIST) {
  for (const s of selected) process.stdout.write(`${s.name}\n`);
  process.exit(0);
}

({ default: OpenAI } = await import('openai'));
ai = new OpenAI({ baseURL: BASE, apiKey: KEY, timeout: TIMEOUT_MS, maxRetries: 2 });

// A key Claude refuses fails every case the same way: say it once, then skip.
let refused = '';
for (const { m, c, name } of selected) {
  if (refused) {
    line(`skip ${name} (${refused})`);
    continue;
  }
  if (c.expensive && !EXPENSIVE) {
    line(`skip ${name} (costly: LIVE_EXPENSIVE=1 runs it)`);
    continue;
  }
  const t0 = Date.now();
  try {
    const note = await c.run(m);
    line(`ok   ${name}${note ? ` [${note}]` : ''} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    const why = e instanceof Check ? e.message
      : e instanceof OpenAI.APIError ? `${[e.status ?? 'no answer', e.code ?? e.type].filter(Boolean).join(' ')}: ${e.message}`
        : `${e?.constructor?.name}: ${e?.message}`;
    line(`FAIL ${name}: ${why.replace(/\s+/g, ' ')}`);
    if (e?.code === 'upstream_auth_failed' || e?.status === 401) {
      refused = e.status === 401 ? 'Axon refused the test key' : 'Claude refused ANTHROPIC_API_KEY';
    }
  }
}
