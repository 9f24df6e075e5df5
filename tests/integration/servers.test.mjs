// The deployments in etc/ beyond the two shared stacks: Apache with
// mod_proxy_fcgi (axon under spawn-fcgi), Apache with mod_fcgid (axon.fcgi in
// the document root, as on shared hosting), lighttpd talking to a spawn-fcgi
// socket, and every server behind a path prefix. Each stack is the real web
// server started by etc/run-stack.sh from the config an operator copies; the
// checks are what a client would notice: auth passes, events stream one by
// one, conversations continue, a client leaving stops the upstream, and
// nothing leaks. Then the systemd unit's own command lines are run.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import {
  AXON_BIN, KEY, REPO_ROOT, cleanEnv, scratchDir, freePort, startStack, stopStack, call,
  assertEnvelope, readSse, dataOf, waitFor, sleep, spawnCaptured, exitWithin, TEST_VALKEY_TIMEOUT_MS,
} from './lib.mjs';
import { aborts, leaveMidStream } from './mock.mjs';

// Shared Valkey and mock Claude from run.sh (cleanEnv drops every AXON_*).
const shared = () => ({
  AXON_VALKEY_URL: process.env.AXON_VALKEY_URL,
  AXON_VALKEY_TIMEOUT_MS: String(TEST_VALKEY_TIMEOUT_MS),
  AXON_API_KEYS: KEY,
  AXON_TEST_ROUTES: '1',
  AXON_LOG_LEVEL: 'warn',
  AXON_HEARTBEAT_S: '1',
});

const STACKS = [
  { kind: 'apache', prefix: '/llm/axon' },
  { kind: 'apache-fcgid', prefix: '/axon' },
  { kind: 'lighttpd-spawn-fcgi', prefix: '' },
  { kind: 'lighttpd', prefix: '/axon' },
  { kind: 'nginx', prefix: '/axon' },
];

// axon processes of one stack: the binary, with that stack's port in its
// environment (under mod_fcgid they are Apache's grandchildren, started on
// demand, as www-data, and maybe from the copy run-stack.sh staged for
// www-data, deleted with its directory once the stack stops).
function axonPidsOf(port) {
  const pids = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const exe = fs.readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '');
      if (path.basename(exe) !== path.basename(AXON_BIN)) continue;
      const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (env.includes(`AXON_PORT=${port}`)) pids.push(Number(pid));
    } catch { /* gone meanwhile, or not ours */ }
  }
  return pids;
}

let counter = 0;
const ask = (directives, extra = {}) => ({
  model: 'gpt-4o', messages: [{ role: 'user', content: `hi [[mock ${directives}]]` }], ...extra,
});

for (const { kind, prefix } of STACKS) {
  describe(`${kind}${prefix ? ` under ${prefix}` : ''}`, { timeout: 120000 }, () => {
    let stack, origin, base, port;
    const id = (tag) => `servers-${kind}-${tag}-${++counter}-${process.pid}`;

    before(async () => {
      const dir = scratchDir(`servers-${kind}`);
      fs.chmodSync(dir, 0o755); // Apache's children run as www-data when we are root
      port = await freePort();
      stack = await startStack({
        env: cleanEnv({
          ...shared(), AXON_BIN, AXON_SERVER: kind, AXON_PORT: String(port), AXON_BASE_PATH: prefix,
          STACK_DIR: path.join(dir, 'stack'),
        }),
        readyFile: () => {
          const f = path.join(dir, 'stack', 'ready');
          return fs.existsSync(f) && f;
        },
      });
      base = stack.ready.AXON_URL;
      origin = new URL(base).origin;
    });

    after(async () => {
      if (!stack) return;
      await stopStack(stack);
      assert.deepEqual(axonPidsOf(port), [], 'no axon process outlives its stack');
    });

    it('answers /health, /ready and the page under its prefix, and nothing outside it', async () => {
      assert.equal(base, `http://127.0.0.1:${port}${prefix}/v1`);
      const health = await call(origin, `${prefix}/health`);
      assert.equal(health.status, 200);
      assert.deepEqual(health.json, { status: 'ok' });
      const ready = await call(origin, `${prefix}/ready`);
      assert.equal(ready.status, 200, ready.text);
      assert.equal(ready.json.status, 'ready');
      const page = await fetch(`${origin}${prefix}/`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type'), /^text\/html/);
      assert.match(await page.text(), /<title>/);
      if (prefix) {
        const outside = await fetch(`${origin}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } });
        assert.equal(outside.status, 404, 'the API is served only under the prefix');
      }
    });

    it('passes the Authorization header through to axon', async () => {
      const none = await call(origin, `${prefix}/v1/models`);
      assertEnvelope(none, 401, { type: 'invalid_request_error' });
      const wrong = await call(origin, `${prefix}/v1/models`, { key: `${KEY}-wrong` });
      assertEnvelope(wrong, 401, { code: 'invalid_api_key' });
      const ok = await call(origin, `${prefix}/v1/models`, { key: KEY });
      assert.equal(ok.status, 200, ok.text);
      assert.ok(ok.json.data.some((m) => m.id === 'gpt-4o'), 'the model list came from axon');
    });

    it('routes on the path without the prefix: an unknown one is an OpenAI-style 404', async () => {
      const res = await call(origin, `${prefix}/v1/nope`, { key: KEY });
      assertEnvelope(res, 404, { message: 'Invalid URL (GET /v1/nope)' });
    });

    it('streams server-sent events one by one, not all at the end', async () => {
      const t0 = performance.now();
      const res = await fetch(`${base}/_test/sse?n=5&ms=250`, { headers: { authorization: `Bearer ${KEY}` } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /^text\/event-stream/);
      const { blocks } = await readSse(res, t0);
      const events = dataOf(blocks);
      assert.deepEqual(events.map((e) => e.data), ['{"i":0}', '{"i":1}', '{"i":2}', '{"i":3}', '{"i":4}', '[DONE]']);
      const at = events.slice(0, 5).map((e) => Math.round(e.ms));
      for (let i = 1; i < at.length; i++) {
        assert.ok(at[i] - at[i - 1] >= 120, `events arrive about 250 ms apart: ${at.join(', ')} ms`);
      }
    });

    it('serves the SDK a token stream with usage, then continues the conversation', async () => {
      const client = new OpenAI({ baseURL: base, apiKey: KEY, maxRetries: 0, timeout: 30000 });
      const t0 = performance.now();
      const stream = await client.chat.completions.create(
        ask(`id=${id('sdk')} ms=200 reply=one_two_three_four_five`, { stream: true, stream_options: { include_usage: true } }));
      let text = '', usage, conv;
      const seen = [];
      for await (const chunk of stream) {
        conv ??= chunk.conversation_id;
        if (chunk.usage) usage = chunk.usage;
        const piece = chunk.choices[0]?.delta?.content;
        if (piece) { text += piece; seen.push(performance.now() - t0); }
      }
      assert.equal(text.trim(), 'one two three four five');
      assert.ok(seen.length >= 3 && seen.at(-1) - seen[0] >= 300, `content arrived over time, not at once: ${seen.map(Math.round).join(', ')} ms`);
      assert.ok(usage && usage.completion_tokens > 0 && usage.total_tokens > usage.completion_tokens, 'a usage chunk');
      assert.match(conv ?? '', /^conv-[0-9a-f]{32}$/);

      const second = await client.chat.completions.create({
        model: 'gpt-4o', conversation_id: conv, messages: [{ role: 'user', content: 'and again' }],
      });
      assert.equal(second.conversation_id, conv);
      const stored = await call(origin, `${prefix}/v1/conversations/${conv}`, { key: KEY });
      assert.equal(stored.status, 200, stored.text);
      assert.equal(stored.json.messages.length, 4, 'two turns: user, assistant, user, assistant');
    });

    it('aborts the upstream transfer when the client leaves mid-stream', async () => {
      const tag = id('gone');
      const words = Array.from({ length: 60 }, (_, i) => `w${i}`).join('_');
      const { aborted, latency } = await leaveMidStream(base, ask(`id=${tag} ms=400 reply=${words}`), tag, aborts);
      assert.equal(aborted, 1);
      assert.ok(latency < 3000, `upstream aborted within ~2 s of the client leaving: ${latency} ms`);
    });

    it('leaves no session busy once the answers are done', async () => {
      const st = await waitFor(async () => {
        const s = await call(origin, `${prefix}/stats`);
        return s.json.pool.busy === 0 ? s : null;
      }, 10000, 'the pool to show no busy session');
      assert.equal(st.json.pool.scope, 'valkey');
    });
  });
}

// The unit's ExecStartPre and ExecStart, with its paths pointed at this
// checkout; then the FastCGI socket it makes answers, with the mode the web
// server's group needs, and SIGTERM (systemd's KillSignal) stops it cleanly.
describe('etc/axon.service', { timeout: 60000 }, () => {
  const unit = fs.readFileSync(path.join(REPO_ROOT, 'etc', 'axon.service'), 'utf8');
  const line = (key) => {
    const m = unit.match(new RegExp(`^${key}=(.*)$`, 'm'));
    assert.ok(m, `the unit has ${key}=`);
    return m[1];
  };

  it('passes systemd-analyze verify', () => {
    const dir = scratchDir('unit');
    const file = path.join(dir, 'axon.service');
    fs.writeFileSync(file, unit.replaceAll('/usr/local/bin/axon', AXON_BIN));
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', `no warnings: ${r.stderr}`);
  });

  it('runs axon under spawn-fcgi on a 0660 socket that answers FastCGI', async () => {
    const dir = scratchDir('unit-run');
    const conf = path.join(dir, 'axon.conf');
    fs.writeFileSync(conf, [
      `AXON_API_KEYS=${KEY}`, `AXON_VALKEY_URL=${process.env.AXON_VALKEY_URL}`,
      `ANTHROPIC_API_KEY=${process.env.ANTHROPIC_API_KEY}`, `ANTHROPIC_BASE_URL=${process.env.ANTHROPIC_BASE_URL}`,
      'AXON_THREADS=2', 'AXON_LOG_LEVEL=warn', '',
    ].join('\n'));
    const mapPaths = (cmd) => cmd.replaceAll('/usr/local/bin/axon', AXON_BIN)
      .replaceAll('/etc/axon/axon.conf', conf).replaceAll('/run/axon', dir);
    const [checkCmd, ...checkArgs] = mapPaths(line('ExecStartPre')).split(/\s+/);
    execFileSync(checkCmd, checkArgs, { env: cleanEnv() });

    const [cmd, ...args] = mapPaths(line('ExecStart')).split(/\s+/);
    assert.equal(cmd, '/usr/bin/spawn-fcgi');
    const proc = spawnCaptured(cmd, args, { env: cleanEnv() });
    try {
      const sock = path.join(dir, 'axon.sock');
      await waitFor(() => fs.existsSync(sock), 20000, 'the socket');
      assert.equal(fs.statSync(sock).mode & 0o777, 0o660, 'only the owner and the web server group may connect');
      const answer = await waitFor(() => {
        const r = spawnSync('cgi-fcgi', ['-bind', '-connect', sock], {
          encoding: 'utf8', env: { REQUEST_METHOD: 'GET', REQUEST_URI: '/health' }, timeout: 5000,
        });
        return r.stdout.includes('{"status":"ok"}') ? r.stdout : null;
      }, 20000, 'axon to answer /health over the socket');
      assert.match(answer, /^Status: 200/m);
      proc.child.kill('SIGTERM');
      const done = await exitWithin(proc, 15000);
      assert.ok(done, 'axon exits on SIGTERM');
      assert.equal(done.code, 0, proc.out());
    } finally {
      proc.child.kill('SIGKILL');
      await sleep(10);
    }
  });
});
