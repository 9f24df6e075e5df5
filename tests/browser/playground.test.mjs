// The playground (www/) in a real browser: headless Debian Chromium driven by
// playwright-core, against a stack started by etc/run-stack.sh with the mock
// upstreams (no ANTHROPIC_API_KEY). Run through tests/browser/run.sh.
//
// Environment: AXON_BIN (default build/axon), CHROMIUM (default
// /usr/bin/chromium); AXON_SERVER and AXON_BASE_PATH go to run-stack.sh (e.g.
// AXON_SERVER=nginx, or AXON_BASE_PATH=/axon to serve the page at /axon/).
// Screenshots go to build/artifacts/browser/ (desktop.png, responses.png, phone.png, and
// fail-*.png for a failed test), with the stack's output in stack.log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  REPO_ROOT, AXON_BIN, startStack, stopStack, freePort, cleanEnv, scratchDir,
} from '../integration/lib.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.join(REPO_ROOT, 'build', 'artifacts', 'browser');
const T = 60_000;              // per test: the CI VM is slow and noisy
const WAIT = 30_000;           // per browser wait

let stack, origin, pageUrl, apiBase, key, claudeMock, vllmMock;
let browser, context, page;
const pageErrors = [];         // uncaught exceptions in any page
const requestUrls = [];        // every URL any page asked for
const chatBodies = [];         // bodies the page POSTed to chat/completions
const respBodies = [];         // bodies the page POSTed to responses

// ---- helpers -----------------------------------------------------------------

async function http(url, { method = 'GET', auth = key, body } = {}) {
  const headers = {};
  if (auth) headers.authorization = `Bearer ${auth}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, text, json };
}
const api = (p, opts) => http(`${apiBase}/${p}`, opts);

// The requests a mock recorded under a directive id.
async function recorded(mockUrl, id) {
  const r = await http(`${mockUrl}/_mock/requests?id=${encodeURIComponent(id)}`, { auth: '' });
  assert.equal(r.status, 200, `mock requests: ${r.text}`);
  return r.json;
}

// A test whose failure leaves a screenshot behind.
function browserTest(name, fn) {
  test(name, { timeout: T }, async () => {
    try {
      await fn();
    } catch (err) {
      const base = `fail-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}`;
      const pages = browser ? browser.contexts().flatMap((c) => c.pages()) : [];
      for (const [i, p] of pages.entries()) {
        const file = path.join(ARTIFACTS, `${base}${pages.length > 1 ? `-${i + 1}` : ''}.png`);
        await p.screenshot({ path: file, fullPage: true }).catch(() => {});
      }
      throw err;
    }
  });
}

function watch(p) {
  p.setDefaultTimeout(WAIT);
  p.on('pageerror', (err) => pageErrors.push(`${p.url()}: ${err.message}`));
  p.on('request', (req) => {
    requestUrls.push(req.url());
    if (req.method() === 'POST' && /\/v1\/chat\/completions$/.test(new URL(req.url()).pathname)) {
      try { chatBodies.push(JSON.parse(req.postData() || 'null')); } catch { chatBodies.push(null); }
    }
    if (req.method() === 'POST' && /\/v1\/responses$/.test(new URL(req.url()).pathname)) {
      try { respBodies.push(JSON.parse(req.postData() || 'null')); } catch { respBodies.push(null); }
    }
  });
  return p;
}

const lastAssistant = (p = page) => p.locator('#log .msg.assistant').last();

async function waitAnswers(n, p = page) {
  // n assistant messages, none still streaming
  await p.waitForFunction((want) => {
    const all = document.querySelectorAll('#log .msg.assistant');
    return all.length === want && [...all].every((m) => m.dataset.state !== 'streaming');
  }, n);
}

async function sendMessage(text, p = page) {
  await p.fill('#prompt', text);
  await p.click('#send');
}

async function enterKey(k, p = page) {
  await p.fill('#api-key', k);
  await p.click('#key-save');
}

async function waitModels(p = page) {
  await p.waitForFunction(() => Number(document.querySelector('#model').dataset.loaded || 0) > 0
    && !document.querySelector('#model').disabled);
}

async function newChat(p = page) {
  await p.click('#new-chat');
  await p.waitForFunction(() => document.querySelectorAll('#log .msg').length === 0
    && document.querySelector('#conv-id').textContent === 'new');
}

const words = (n, prefix) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

// ---- the stack and the browser ------------------------------------------------------

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const f of fs.readdirSync(ARTIFACTS)) if (/^fail-.*\.png$/.test(f)) fs.rmSync(path.join(ARTIFACTS, f));
  assert.ok(fs.existsSync(AXON_BIN), `${AXON_BIN} is missing: run make first`);
  const dir = scratchDir('pg');
  // Apache runs its workers (and axon) as www-data, which must enter the stack's directory.
  if (/^apache/.test(process.env.AXON_SERVER || '')) for (const d of [path.dirname(dir), dir]) fs.chmodSync(d, 0o711);
  const env = cleanEnv({
    AXON_BIN, AXON_PORT: String(await freePort()), STACK_DIR: dir,
  });
  for (const k of ['AXON_SERVER', 'AXON_BASE_PATH']) if (process.env[k]) env[k] = process.env[k];
  for (const k of ['ANTHROPIC_API_KEY', 'ANTHROPIC_API_KEY_FILE', 'ANTHROPIC_BASE_URL']) delete env[k];
  const readyFile = path.join(dir, 'ready');
  stack = await startStack({ env, readyFile: () => fs.existsSync(readyFile) && readyFile, timeoutMs: 60_000 });
  apiBase = stack.ready.AXON_URL;                      // http://127.0.0.1:PORT[/BASE]/v1
  origin = new URL(apiBase).origin;
  pageUrl = new URL('./', apiBase.replace(/\/v1$/, '/')).href;   // the page: http://127.0.0.1:PORT[/BASE]/
  key = stack.ready.AXON_KEY;
  claudeMock = stack.ready.ANTHROPIC_BASE_URL;
  vllmMock = stack.ready.AXON_VLLM_BASE_URL;
  assert.ok(key && claudeMock && vllmMock, `ready file lacks a key or a mock: ${JSON.stringify(stack.ready)}`);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 60_000 });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = watch(await context.newPage());
}, { timeout: 120_000 });

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (stack) {
    await stopStack(stack);
    fs.writeFileSync(path.join(ARTIFACTS, 'stack.log'), stack.out());
  }
}, { timeout: 60_000 });

// ---- the tests ---------------------------------------------------------------

browserTest('the page loads from www/ and keeps the key in sessionStorage only', async () => {
  const res = await page.goto(pageUrl);
  assert.equal(res.status(), 200);
  assert.equal(await page.title(), 'Axon playground');
  assert.equal(await page.getAttribute('#api-key', 'type'), 'password');
  await page.waitForFunction(() => /axon ok/.test(document.querySelector('#health').textContent));

  await enterKey(key);
  await waitModels();
  const stored = await page.evaluate(() => ({
    session: { ...sessionStorage }, local: localStorage.length, cookie: document.cookie,
  }));
  assert.ok(Object.values(stored.session).includes(key), 'the key is in sessionStorage');
  assert.equal(stored.local, 0, 'nothing in localStorage');
  assert.equal(stored.cookie, '', 'no cookie');
  assert.deepEqual(await context.cookies(), [], 'no cookie in the browser');
});

browserTest('the model picker is filled from /v1/models', async () => {
  const models = await api('models');
  assert.equal(models.status, 200);
  const ids = models.json.data.map((m) => m.id);
  assert.ok(ids.includes('qwen3-coder') && ids.includes('claude-sonnet-4-6'), ids.join(','));
  const options = await page.$$eval('#model option', (os) => os.map((o) => o.value));
  assert.deepEqual([...options].sort(), [...ids].sort());
});

let firstConv, replyText;
browserTest('an answer streams in token by token and shows its usage', async () => {
  await page.selectOption('#model', 'qwen3-coder');
  // Record the answer's length at every DOM change, with the time.
  await page.evaluate(() => {
    window.__samples = [];
    const log = document.getElementById('log');
    new MutationObserver(() => {
      const c = [...log.querySelectorAll('.msg.assistant .content')].pop();
      if (c) window.__samples.push({ t: performance.now(), len: c.textContent.length });
    }).observe(log, { childList: true, subtree: true, characterData: true });
  });
  const w = words(16, 'token');
  replyText = w.join(' ');
  // The mock vLLM sends one chunk per word, 80 ms apart.
  await sendMessage(`Count for me. [[mock id=pg-stream reply=${w.join('_')} ms=80]]`);
  await waitAnswers(1);
  const msg = lastAssistant();
  assert.equal(await msg.getAttribute('data-state'), 'done');
  assert.equal(await msg.locator('.content').textContent(), replyText);

  const samples = await page.evaluate(() => window.__samples);
  const lengths = [];
  for (const s of samples) if (s.len > 0 && s.len !== lengths.at(-1)?.len) lengths.push(s);
  const partial = lengths.filter((s) => s.len < replyText.length);
  assert.ok(partial.length >= 5, `only ${partial.length} partial lengths before the end: ${JSON.stringify(lengths)}`);
  for (let i = 1; i < lengths.length; i++) {
    assert.ok(lengths[i].len > lengths[i - 1].len, `the answer only grows: ${JSON.stringify(lengths)}`);
  }
  const spread = lengths.at(-1).t - lengths[0].t;
  assert.ok(spread >= 500, `16 tokens 80 ms apart arrived within ${spread.toFixed(0)} ms: not streamed`);

  // Usage from the usage chunk: completion = the 16 words the mock counted.
  const usage = {};
  for (const k of ['prompt', 'completion', 'total']) {
    usage[k] = Number(await msg.locator(`.usage .usage-${k}`).getAttribute('data-value'));
  }
  assert.equal(usage.completion, 16);
  assert.ok(usage.prompt > 0);
  assert.equal(usage.total, usage.prompt + usage.completion);
  assert.match(await msg.locator('.usage').textContent(), /prompt \d+ · completion 16 · total \d+/);

  firstConv = (await page.textContent('#conv-id')).trim();
  assert.match(firstConv, /^conv-[0-9a-f]{32}$/);
  const body = chatBodies.at(-1);
  assert.equal(body.stream, true);
  assert.deepEqual(body.stream_options, { include_usage: true });
  assert.equal(body.conversation_id, 'new');
  await page.screenshot({ path: path.join(ARTIFACTS, 'desktop.png'), fullPage: true });
});

browserTest('the conversation continues with its conversation_id', async () => {
  await sendMessage('And once more. [[mock id=pg-turn2]]');
  await waitAnswers(2);
  assert.equal((await page.textContent('#conv-id')).trim(), firstConv);
  assert.equal(chatBodies.at(-1).conversation_id, firstConv, 'the page sent the id back');
  assert.equal(chatBodies.at(-1).messages.length, 1, 'only the new message; axon replays the history');

  const conv = await api(`conversations/${firstConv}`);
  assert.equal(conv.status, 200, conv.text);
  assert.equal(conv.json.message_count, 4);
  assert.deepEqual(conv.json.messages.map((m) => m.role), ['user', 'assistant', 'user', 'assistant']);
  assert.equal(conv.json.messages[1].content, replyText);
  // The upstream received the stored history before the new message.
  const [req] = await recorded(vllmMock, 'pg-turn2');
  assert.ok(req, 'the mock saw the second turn');
  assert.deepEqual(req.body.messages.map((m) => m.role), ['user', 'assistant', 'user']);
  assert.equal(req.body.messages[1].content, replyText);
});

browserTest('thinking shows the reasoning in a collapsible block', async () => {
  await newChat();
  await page.selectOption('#model', 'claude-sonnet-4-6');
  assert.equal(await page.isVisible('#effort'), false, 'no effort while thinking is off');
  await page.check('#thinking');
  assert.ok(await page.isVisible('#effort'), 'Claude models offer an effort');
  await sendMessage('Think first. [[mock id=pg-think]]');
  await waitAnswers(1);
  const msg = lastAssistant();
  const block = msg.locator('details.reasoning');
  assert.ok(await block.isVisible(), 'the reasoning block is shown');
  assert.equal(await block.locator('summary').textContent(), 'Reasoning');
  assert.equal(await block.locator('.reasoning-text').textContent(), 'Let me think about this.');
  assert.equal(await msg.locator('.content').textContent(), 'Hello from the mock.');
  // Collapsible: the summary folds it away and opens it again.
  await block.locator('summary').click();
  await page.waitForFunction(() => ![...document.querySelectorAll('#log details.reasoning')].pop().open);
  assert.equal(await block.locator('.reasoning-text').isVisible(), false);
  await block.locator('summary').click();
  await page.waitForFunction(() => [...document.querySelectorAll('#log details.reasoning')].pop().open);

  assert.equal(chatBodies.at(-1).thinking, true);
  const [req] = await recorded(claudeMock, 'pg-think');
  assert.deepEqual(req.body.thinking, { type: 'enabled', budget_tokens: 4096 });

  // An effort goes out as reasoning_effort, Claude's budget for it.
  await page.selectOption('#effort', 'low');
  await sendMessage('Think a little. [[mock id=pg-effort]]');
  await waitAnswers(2);
  assert.equal(chatBodies.at(-1).reasoning_effort, 'low');
  assert.equal(chatBodies.at(-1).thinking, undefined);
  const [req2] = await recorded(claudeMock, 'pg-effort');
  assert.deepEqual(req2.body.thinking, { type: 'enabled', budget_tokens: 2048 });
  assert.equal(await lastAssistant().locator('.reasoning-text').textContent(), 'Let me think about this.');

  // The OpenAI-compatible route: thinking: true becomes enable_thinking.
  await newChat();
  await page.selectOption('#model', 'qwen3-coder');
  assert.equal(await page.isVisible('#effort'), false, 'no effort for a vLLM model');
  await sendMessage('Think, vLLM. [[mock id=pg-think-vllm]]');
  await waitAnswers(1);
  assert.equal(await lastAssistant().locator('.reasoning-text').textContent(), 'Let me think about this.');
  const [req3] = await recorded(vllmMock, 'pg-think-vllm');
  assert.equal(req3.body.chat_template_kwargs.enable_thinking, true);
  await page.uncheck('#thinking');
});

browserTest('a streamed tool call shows its name and arguments; the example tool answers it', async () => {
  await newChat();
  await page.selectOption('#model', 'qwen3-coder');
  await page.check('#tools');
  await sendMessage('What is the weather? [[mock id=pg-tool ms=20]]');
  await waitAnswers(1);
  const msg = lastAssistant();
  assert.equal(await msg.locator('.tool-call .tool-name').textContent(), 'get_weather');
  assert.deepEqual(JSON.parse(await msg.locator('.tool-call .tool-args').textContent()),
    { city: 'Paris', unit: 'celsius' });
  assert.match(await msg.locator('.tool-call .tool-id').textContent(), /^chatcmpl-tool-[0-9a-f]{32}$/);
  assert.equal(await msg.locator('.finish').textContent(), 'finish_reason: tool_calls');
  const [req] = await recorded(vllmMock, 'pg-tool');
  assert.equal(req.body.tools[0].function.name, 'get_weather');

  await msg.locator('button.run-tool').click();
  await waitAnswers(2);
  const toolMsg = page.locator('#log .msg.tool').last();
  const result = JSON.parse(await toolMsg.locator('.content').textContent());
  assert.equal(result.city, 'Paris');
  const answer = await lastAssistant().locator('.content').textContent();
  assert.ok(answer.startsWith('The tool said: ') && answer.includes('"city":"Paris"'), answer);
  const sent = chatBodies.at(-1);
  assert.equal(sent.messages[0].role, 'tool');
  assert.match(sent.messages[0].tool_call_id, /^chatcmpl-tool-/);
  await page.uncheck('#tools');
});

browserTest('API errors are shown as the API phrased them', async () => {
  // An error chunk inside a stream, after some text.
  await newChat();
  await page.selectOption('#model', 'qwen3-coder');
  await sendMessage('Fail midway. [[mock fault=error-midstream]]');
  await waitAnswers(1);
  let msg = lastAssistant();
  assert.equal(await msg.getAttribute('data-state'), 'error');
  assert.equal(await msg.locator('.content').textContent(), 'Hello from the');
  assert.equal(await msg.locator('.error .error-message').textContent(),
    'The upstream failed: mock: upstream failed mid-stream');
  assert.match(await msg.locator('.error .error-meta').textContent(), /type: server_error/);

  // A non-2xx answer: axon's own 401 for a wrong key, word for word.
  const bad = 'sk-axon-not-a-real-key';
  const expectModels = await http(`${apiBase}/models`, { auth: bad });
  const expectChat = await http(`${apiBase}/chat/completions`, {
    method: 'POST', auth: bad, body: { model: 'qwen3-coder', stream: true, messages: [{ role: 'user', content: 'x' }] },
  });
  assert.equal(expectModels.status, 401);
  assert.equal(expectChat.status, 401);
  await enterKey(bad);
  await page.waitForSelector('#notice:not([hidden]) .error-message');
  assert.equal(await page.textContent('#notice .error-message'), expectModels.json.error.message);
  const meta = await page.textContent('#notice .error-meta');
  assert.match(meta, new RegExp(`type: ${expectModels.json.error.type}`));
  assert.match(meta, new RegExp(`code: ${expectModels.json.error.code}`));
  assert.match(meta, /HTTP 401/);
  await sendMessage('With a bad key.');
  await waitAnswers(1);
  msg = lastAssistant();
  assert.equal(await msg.locator('.error .error-message').textContent(), expectChat.json.error.message);
  assert.match(await msg.locator('.error .error-meta').textContent(), /HTTP 401/);

  // Back to the good key: the notice goes, the list comes back.
  await enterKey(key);
  await page.waitForFunction(() => document.querySelector('#notice').hidden);
  await waitModels();
});

browserTest('conversations are listed, opened and deleted', async () => {
  await page.click('#convs-refresh');
  const list = await api('conversations?limit=20');
  assert.equal(list.status, 200);
  const want = list.json.data.map((c) => c.id);
  assert.ok(want.includes(firstConv), 'the first conversation is stored');
  await page.waitForFunction((ids) => JSON.stringify([...document.querySelectorAll('#convs li')]
    .map((li) => li.dataset.id)) === JSON.stringify(ids), want);

  // Open: its four messages come back.
  await page.click(`#convs li[data-id="${firstConv}"] .conv-open`);
  await page.waitForFunction((id) => document.querySelector('#conv-id').textContent === id
    && document.querySelectorAll('#log .msg').length === 4, firstConv);
  const roles = await page.$$eval('#log .msg', (ms) => ms.map((m) => m.dataset.role));
  assert.deepEqual(roles, ['user', 'assistant', 'user', 'assistant']);
  assert.match(await page.locator('#log .msg.user .content').first().textContent(), /^Count for me\./);
  assert.equal(await page.locator('#log .msg.assistant .content').first().textContent(), replyText);
  assert.equal(await page.getAttribute(`#convs li[data-id="${firstConv}"]`, 'class'), 'current');

  // Delete (the button asks once more): gone from the list and from the API.
  const del = page.locator(`#convs li[data-id="${firstConv}"] .conv-delete`);
  await del.click();
  assert.equal(await del.textContent(), 'Sure?');
  await del.click();
  await page.waitForFunction((id) => !document.querySelector(`#convs li[data-id="${id}"]`)
    && document.querySelector('#conv-id').textContent === 'new', firstConv);
  const gone = await api(`conversations/${firstConv}`);
  assert.equal(gone.status, 404);
  assert.equal(gone.json.error.code, 'conversation_not_found');
  const after = await api('conversations?limit=100');
  assert.ok(!after.json.data.some((c) => c.id === firstConv));
  await page.waitForFunction(() => document.querySelector('#convs li') !== null);
  assert.equal(await page.locator(`#convs li[data-id="${firstConv}"]`).count(), 0);
});

// ---- the Responses API ----------------------------------------------------------

// The items panel's entries: [type, role or name, text] per item, oldest first.
const panelItems = (p = page) => p.$$eval('#conv-items li', (ls) => ls.map((li) => ({
  id: li.dataset.id, type: li.dataset.type, text: li.querySelector('.item-text')?.textContent ?? '',
})));

let respConv, firstResp, respReply;
browserTest('Responses: the switch sends POST /v1/responses and the answer streams', async () => {
  await newChat();
  await page.selectOption('#model', 'qwen3-coder');
  await page.selectOption('#api-mode', 'responses');
  await page.evaluate(() => {
    window.__samples = [];
    const log = document.getElementById('log');
    new MutationObserver(() => {
      const c = [...log.querySelectorAll('.msg.assistant .content')].pop();
      if (c) window.__samples.push({ t: performance.now(), len: c.textContent.length });
    }).observe(log, { childList: true, subtree: true, characterData: true });
  });
  const w = words(12, 'resp');
  respReply = w.join(' ');
  const nChat = chatBodies.length;
  // Enter sends, as in chat mode.
  await page.fill('#prompt', `Responses, please. [[mock id=pg-resp1 reply=${w.join('_')} ms=80]]`);
  await page.press('#prompt', 'Enter');
  await waitAnswers(1);
  const msg = lastAssistant();
  assert.equal(await msg.getAttribute('data-state'), 'done');
  assert.equal(await msg.locator('.content').textContent(), respReply);
  assert.equal(chatBodies.length, nChat, 'nothing went to chat/completions');
  const body = respBodies.at(-1);
  assert.equal(body.stream, true);
  assert.equal(body.model, 'qwen3-coder');
  assert.equal(body.previous_response_id, undefined, 'a first turn continues nothing');
  assert.equal(body.conversation, undefined);
  assert.deepEqual(body.input, [{ role: 'user', content: `Responses, please. [[mock id=pg-resp1 reply=${w.join('_')} ms=80]]` }]);

  // Streamed: many partial lengths, over time.
  const samples = await page.evaluate(() => window.__samples);
  const lengths = [];
  for (const s of samples) if (s.len > 0 && s.len !== lengths.at(-1)?.len) lengths.push(s);
  const partial = lengths.filter((s) => s.len < respReply.length);
  assert.ok(partial.length >= 5, `only ${partial.length} partial lengths: ${JSON.stringify(lengths)}`);
  assert.ok(lengths.at(-1).t - lengths[0].t >= 400, 'not streamed');

  // Usage in the Responses words, the response id beside it.
  const usage = {};
  for (const k of ['input', 'output', 'total']) {
    usage[k] = Number(await msg.locator(`.usage .usage-${k}`).getAttribute('data-value'));
  }
  assert.equal(usage.output, 12);
  assert.equal(usage.total, usage.input + usage.output);
  firstResp = await msg.getAttribute('data-response-id');
  assert.match(firstResp, /^resp_[0-9a-f]{40}$/);
  respConv = (await page.textContent('#conv-id')).trim();
  assert.equal(respConv, `conv-${firstResp.slice(5, 37)}`, 'the response\'s conversation');

  // The items panel: the turn's two items, as the Conversations API lists them.
  await page.waitForFunction((id) => document.querySelector('#conv-items').dataset.conversation === id
    && document.querySelectorAll('#conv-items li').length === 2, respConv);
  const items = await panelItems();
  const api2 = await api(`conversations/${respConv}/items?order=asc`);
  assert.equal(api2.status, 200, api2.text);
  assert.deepEqual(items.map((i) => i.id), api2.json.data.map((i) => i.id));
  assert.deepEqual(items.map((i) => i.type), ['message', 'message']);
  assert.match(items[0].text, /^user: Responses, please\./);
  assert.equal(items[1].text, `assistant: ${respReply}`);
  // The stored response: GET /v1/responses/{id} and its input items.
  await page.waitForFunction((id) => document.querySelector('#resp-stored').dataset.id === id, firstResp);
  assert.equal(await page.textContent('#resp-stored .resp-status'), 'completed');
  const inItems = await page.$$eval('#resp-input-items li', (ls) => ls.map((li) => li.dataset.id));
  const apiIn = await api(`responses/${firstResp}/input_items?order=asc`);
  assert.equal(apiIn.status, 200, apiIn.text);
  assert.deepEqual(inItems, apiIn.json.data.map((i) => i.id));
  assert.equal(inItems.length, 1);
});

let secondResp;
browserTest('Responses: the next turn continues with previous_response_id', async () => {
  await sendMessage('And again. [[mock id=pg-resp2]]');
  await waitAnswers(2);
  assert.equal(await lastAssistant().locator('.content').textContent(), 'Hello from the mock.');
  const body = respBodies.at(-1);
  assert.equal(body.previous_response_id, firstResp);
  assert.equal(body.input.length, 1, 'only the new message: axon replays the history');
  // The upstream received the stored history before the new message.
  const [req] = await recorded(vllmMock, 'pg-resp2');
  assert.ok(req, 'the mock saw the second turn');
  assert.deepEqual(req.body.messages.map((m) => m.role), ['user', 'assistant', 'user']);
  assert.equal(req.body.messages[1].content, respReply);

  secondResp = await lastAssistant().getAttribute('data-response-id');
  assert.match(secondResp, /^resp_[0-9a-f]{40}$/);
  assert.notEqual(secondResp, firstResp);
  assert.equal((await page.textContent('#conv-id')).trim(), respConv, 'the same conversation, at its tip');
  await page.waitForFunction(() => document.querySelectorAll('#conv-items li').length === 4);
  const items = await panelItems();
  assert.match(items[2].text, /^user: And again\./);
  assert.equal(items[3].text, 'assistant: Hello from the mock.');
  await page.waitForFunction((id) => document.querySelector('#resp-stored').dataset.id === id, secondResp);
  const inItems = await page.$$eval('#resp-input-items li .item-text', (ls) => ls.map((li) => li.textContent));
  assert.equal(inItems.length, 1);
  assert.match(inItems[0], /^user: And again\./);
  await page.screenshot({ path: path.join(ARTIFACTS, 'responses.png'), fullPage: true });
});

browserTest('Responses: a function call is shown and the example tool answers it', async () => {
  await page.check('#tools');
  await sendMessage('Weather, via Responses. [[mock id=pg-resp-tool ms=20]]');
  await waitAnswers(3);
  const msg = page.locator('#log .msg.assistant').nth(2);   // stays this message after the next answer
  assert.equal(await msg.locator('.tool-call .tool-name').textContent(), 'get_weather');
  assert.deepEqual(JSON.parse(await msg.locator('.tool-call .tool-args').textContent()), { city: 'Paris', unit: 'celsius' });
  const callId = await msg.locator('.tool-call .tool-id').textContent();
  assert.ok(callId, 'the call id is shown');
  assert.deepEqual(respBodies.at(-1).tools.map((t) => [t.type, t.name]), [['function', 'get_weather']]);
  const callResp = await msg.getAttribute('data-response-id');
  assert.match(callResp, /^resp_/);

  await msg.locator('button.run-tool').click();
  await waitAnswers(4);
  const sent = respBodies.at(-1);
  assert.equal(sent.input[0].type, 'function_call_output');
  assert.equal(sent.input[0].call_id, callId);
  assert.equal(sent.previous_response_id, callResp, 'the result continues the response that called');
  const answer = await lastAssistant().locator('.content').textContent();
  assert.ok(answer.startsWith('The tool said: ') && answer.includes('"city":"Paris"'), answer);
  await page.waitForFunction(() => [...document.querySelectorAll('#conv-items li')]
    .some((li) => li.dataset.type === 'function_call_output'));
  const types = (await panelItems()).map((i) => i.type);
  assert.ok(types.includes('function_call'), types.join(','));
  await page.uncheck('#tools');
});

browserTest('Responses: a failed stream shows the error as the API worded it', async () => {
  await newChat();
  await sendMessage('Fail midway. [[mock fault=error-midstream]]');
  await waitAnswers(1);
  const msg = lastAssistant();
  assert.equal(await msg.getAttribute('data-state'), 'error');
  assert.equal(await msg.locator('.content').textContent(), 'Hello from the');
  assert.equal(await msg.locator('.error .error-message').textContent(),
    'The upstream failed: mock: upstream failed mid-stream');
  // The error event and response.failed say it once between them.
  assert.equal(await msg.locator('.error').count(), 1);
  // A failed turn stores nothing: the next one starts the conversation afresh
  // (naming the failed response's conversation would be a 404).
  assert.equal((await page.textContent('#conv-id')).trim(), 'new');
  await sendMessage('After the failure. [[mock id=pg-after-fail]]');
  await waitAnswers(2);
  assert.equal(await lastAssistant().getAttribute('data-state'), 'done');
  assert.equal(await lastAssistant().locator('.content').textContent(), 'Hello from the mock.');
  assert.equal(respBodies.at(-1).previous_response_id, undefined);
  assert.equal(respBodies.at(-1).conversation, undefined);
});

browserTest('Responses: thinking streams the reasoning summary into the reasoning block', async () => {
  await newChat();
  await page.selectOption('#model', 'claude-sonnet-4-6');
  await page.check('#thinking');
  await page.selectOption('#effort', '');      // the default: medium, what thinking: true gives
  await sendMessage('Think, Responses. [[mock id=pg-resp-think]]');
  await waitAnswers(1);
  const msg = lastAssistant();
  assert.equal(await msg.getAttribute('data-state'), 'done');
  assert.ok(await msg.locator('details.reasoning').isVisible(), 'the reasoning block is shown');
  assert.equal(await msg.locator('.reasoning-text').textContent(), 'Let me think about this.');
  assert.equal(await msg.locator('.content').textContent(), 'Hello from the mock.');
  assert.deepEqual(respBodies.at(-1).reasoning, { effort: 'medium', summary: 'auto' });
  const [req] = await recorded(claudeMock, 'pg-resp-think');
  assert.deepEqual(req.body.thinking, { type: 'enabled', budget_tokens: 4096 });
  // The items panel shows the reasoning item before the answer's message.
  await page.waitForFunction(() => document.querySelectorAll('#conv-items li').length === 3);
  assert.deepEqual((await panelItems()).map((i) => i.type), ['message', 'reasoning', 'message']);
  await page.uncheck('#thinking');
});

browserTest('switching back to chat completions continues the same conversation', async () => {
  // Open the Responses conversation from the list, then send in chat mode.
  await page.click('#convs-refresh');
  await page.waitForSelector(`#convs li[data-id="${respConv}"]`);
  await page.click(`#convs li[data-id="${respConv}"] .conv-open`);
  await page.waitForFunction((id) => document.querySelector('#conv-id').textContent === id, respConv);
  // Opened from the list, no response id is known: a Responses turn names the conversation.
  const opened = await page.locator('#log .msg.assistant').count();
  await sendMessage('Reopened. [[mock id=pg-reopen]]');
  await waitAnswers(opened + 1);
  assert.equal(respBodies.at(-1).conversation, respConv);
  assert.equal(respBodies.at(-1).previous_response_id, undefined);
  const [reqR] = await recorded(vllmMock, 'pg-reopen');
  assert.equal(reqR.body.messages[1].content, respReply, 'the history came along');

  await page.selectOption('#api-mode', 'chat');
  const nResp = respBodies.length;
  await sendMessage('Chat again. [[mock id=pg-back-chat]]');
  await page.waitForFunction(() => {
    const all = [...document.querySelectorAll('#log .msg.assistant')];
    return all.length > 0 && all.at(-1).dataset.state === 'done' && /Hello from the mock/.test(all.at(-1).textContent);
  });
  assert.equal(respBodies.length, nResp, 'nothing went to responses');
  assert.equal(chatBodies.at(-1).conversation_id, respConv);
  const [req] = await recorded(vllmMock, 'pg-back-chat');
  assert.ok(req.body.messages.length >= 5, `the history came along: ${req.body.messages.length}`);
  assert.equal(req.body.messages[1].content, respReply);
  // The items panel follows chat turns too.
  await page.waitForFunction(() => [...document.querySelectorAll('#conv-items li .item-text')]
    .some((li) => /^user: Chat again\./.test(li.textContent)));
  // A chat turn has no stored response: the panel says so.
  assert.equal(await page.getAttribute('#resp-stored', 'data-id'), '');

  // And back to Responses: the chat turn moved the tip, so the page names the
  // conversation (a previous_response_id from before it would branch off).
  await page.selectOption('#api-mode', 'responses');
  const nAnswers = await page.locator('#log .msg.assistant').count();
  await sendMessage('Responses after chat. [[mock id=pg-back-resp]]');
  await waitAnswers(nAnswers + 1);
  const body = respBodies.at(-1);
  assert.equal(body.conversation, respConv);
  assert.equal(body.previous_response_id, undefined);
  const [req2] = await recorded(vllmMock, 'pg-back-resp');
  assert.match(req2.body.messages.at(-3).content, /^Chat again\./, 'the chat turn is in the history');
  assert.equal((await page.textContent('#conv-id')).trim(), respConv);
  await page.selectOption('#api-mode', 'chat');
});

browserTest('the stats panel follows /stats: counters and the pool chart', async () => {
  await newChat();
  const read = () => page.evaluate(() => {
    const stat = (k) => Number(document.querySelector(`dd[data-stat="${k}"]`)?.dataset.value ?? NaN);
    return {
      pid: stat('requests.pid'),
      total: stat('requests.total'), inFlight: stat('requests.in_flight'),
      streams: stat('requests.streams'), gone: stat('requests.client_gone'),
      samples: Number(document.querySelector('#pool-chart').dataset.samples || 0),
      points: document.querySelector('#line-busy').getAttribute('points').trim().split(/\s+/).filter(Boolean).length,
    };
  });
  await page.waitForFunction(() => document.querySelector('dd[data-stat="requests.client_gone"]'));
  const before = await read();
  assert.ok(Number.isFinite(before.total) && before.total > 0, JSON.stringify(before));
  assert.ok(Number.isFinite(before.streams) && Number.isFinite(before.gone), JSON.stringify(before));
  assert.equal(before.points, before.samples);

  // A slow stream (20 words 500 ms apart) holds a pool session: the chart's
  // busy line and the in-flight count show it.
  await page.selectOption('#model', 'qwen3-coder');
  const sentAt = (await read()).samples;
  await sendMessage(`Slowly. [[mock id=pg-slow reply=${words(20, 'slow').join('_')} ms=500]]`);
  // A sample taken after the send (the last one may be 2 s old) with a busy session.
  await page.waitForFunction((n) => {
    const chart = document.querySelector('#pool-chart');
    return Number(chart.dataset.samples) > n && Number(chart.dataset.busy) >= 1;
  }, sentAt, { timeout: 20_000 });
  const during = await read();
  // requests.* are per axon process: comparable when one process answers
  // (lighttpd and nginx run one; apache-fcgid may run several).
  if (during.pid === before.pid) {
    assert.ok(during.total > before.total, `requests ${before.total} -> ${during.total}`);
    assert.ok(during.inFlight >= 2, `in flight while streaming (the stream and /stats): ${during.inFlight}`);
  }
  assert.ok(during.samples > before.samples, `chart samples ${before.samples} -> ${during.samples}`);
  assert.equal(during.points, during.samples);
  // The busy line's last point is above its lowest (SVG y grows downwards).
  const ys = await page.evaluate(() => document.querySelector('#line-busy').getAttribute('points')
    .trim().split(/\s+/).map((p) => Number(p.split(',')[1])));
  assert.ok(ys.at(-1) < Math.max(...ys), `busy line: ${ys.join(' ')}`);

  // Stop ends the stream: axon counts a finished stream whose client left,
  // and the session goes back to the pool.
  await page.click('#stop');
  await waitAnswers(1);
  assert.equal(await lastAssistant().getAttribute('data-state'), 'stopped');
  await page.waitForFunction((b) => {
    const stat = (k) => Number(document.querySelector(`dd[data-stat="${k}"]`)?.dataset.value ?? NaN);
    const counted = stat('requests.pid') !== b.pid
      || (stat('requests.streams') > b.streams && stat('requests.client_gone') > b.gone);
    return counted && document.querySelector('#pool-chart').dataset.busy === '0';
  }, before, { timeout: 20_000 });
});

browserTest('phone width (360x740): no horizontal scroll, usable controls', async () => {
  const phone = await browser.newContext({
    viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  try {
    const p = watch(await phone.newPage());
    await p.goto(pageUrl);
    await enterKey(key, p);
    await waitModels(p);
    await p.selectOption('#model', 'qwen3-coder');
    await sendMessage(`On a phone. [[mock reply=${words(30, 'word').join('_')} ms=10]]`, p);
    await waitAnswers(1, p);
    assert.equal(await lastAssistant(p).getAttribute('data-state'), 'done');
    const sizes = await p.evaluate(() => ({
      doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, inner: window.innerWidth,
    }));
    assert.equal(sizes.inner, 360);
    assert.ok(sizes.doc <= 360 && sizes.body <= 360, `horizontal overflow: ${JSON.stringify(sizes)}`);
    const send = p.locator('#send');
    await send.scrollIntoViewIfNeeded();
    assert.ok(await send.isVisible(), 'the send button is visible');
    assert.ok(await send.isEnabled(), 'the send button is enabled');
    const box = await send.boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 360, `send button inside the screen: ${JSON.stringify(box)}`);
    assert.ok(box.height >= 32 && box.width >= 64, `send button big enough to tap: ${JSON.stringify(box)}`);
    for (const sel of ['#api-key', '#model', '#prompt']) {
      const b = await p.locator(sel).boundingBox();
      assert.ok(b && b.x >= 0 && b.x + b.width <= 360, `${sel} inside the screen: ${JSON.stringify(b)}`);
    }
    await p.evaluate(() => window.scrollTo(0, 0));
    await p.screenshot({ path: path.join(ARTIFACTS, 'phone.png'), fullPage: true });
  } finally {
    await phone.close();
  }
});

browserTest('under a path prefix every request stays under it', async () => {
  // The browser sees the page one directory deeper, at /pfx/ + its path; each
  // request under that is passed on without /pfx, anything else is a 404. A
  // page that built "/v1/..." or "/stats" would miss the prefix.
  const pagePath = new URL(pageUrl).pathname;                   // "/" or "/axon/"
  const prefix = '/pfx';
  const prefixed = await browser.newContext({ viewport: { width: 1024, height: 800 } });
  try {
    await prefixed.route(`${origin}/**`, async (route) => {
      const u = new URL(route.request().url());
      if (!u.pathname.startsWith(prefix + pagePath)) {
        await route.fulfill({ status: 404, contentType: 'text/plain', body: `not under ${prefix}${pagePath}` });
        return;
      }
      u.pathname = u.pathname.slice(prefix.length);
      const response = await route.fetch({ url: u.href });
      await route.fulfill({ response });
    });
    const p = watch(await prefixed.newPage());
    const seen = [];
    const events = [];    // for the failure message
    p.on('request', (r) => seen.push(r.url()));
    p.on('response', (r) => events.push(`${r.status()} ${r.request().method()} ${r.url()}`));
    p.on('requestfailed', (r) => events.push(`failed ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
    await p.goto(`${origin}${prefix}${pagePath}`);
    await enterKey(key, p);
    await waitModels(p);
    await p.waitForFunction(() => document.querySelector('dd[data-stat="requests.total"]'));
    await p.selectOption('#model', 'qwen3-coder');
    await sendMessage('Under a prefix.', p);
    await waitAnswers(1, p);
    assert.equal(await lastAssistant(p).locator('.content').textContent(), 'Hello from the mock.');
    await p.waitForFunction(() => document.querySelector('#convs li') !== null).catch(async (err) => {
      err.message += `\nlist status: ${await p.textContent('#convs-status')}\n${events.join('\n')}`;
      throw err;
    });
    const under = `${prefix}${pagePath}`;
    const http = seen.filter((u) => !u.startsWith('data:'));
    assert.ok(http.some((u) => u.endsWith(`${under}v1/chat/completions`)), http.join('\n'));
    assert.ok(http.some((u) => u.endsWith(`${under}v1/models`)), http.join('\n'));
    assert.ok(http.some((u) => u.endsWith(`${under}stats`)), http.join('\n'));
    for (const u of http) assert.ok(new URL(u).pathname.startsWith(under), `outside ${under}: ${u}`);
  } finally {
    // The page may still be refreshing: drop the routes in flight first.
    await prefixed.unrouteAll({ behavior: 'ignoreErrors' });
    await prefixed.close();
  }
});

test('no script errors and no resource from elsewhere', () => {
  assert.deepEqual(pageErrors, []);
  const foreign = requestUrls.filter((u) => !u.startsWith('data:') && new URL(u).origin !== origin);
  assert.deepEqual(foreign, []);
  assert.ok(requestUrls.length > 10);
});
