// Start-up time of axon: from spawning the process to the first 200 answer
// to GET /health, asked over FastCGI on axon's own socket (no web server in
// between, so the figure is axon's alone). Runs it `runs` times and prints
// one JSON line: {"runs":[ms...],"p50_ms":..,"max_ms":..}.
//
//   node tests/bench/startup.mjs AXON_BIN RUNS   (the environment reaches axon)
import { spawn } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [bin, runsArg = '5'] = process.argv.slice(2);
if (!bin) {
  console.error('usage: node startup.mjs AXON_BIN [RUNS]');
  process.exit(2);
}

// One FastCGI record: version 1, type, request id 1, content, no padding.
const record = (type, content) => {
  const h = Buffer.alloc(8);
  h.writeUInt8(1, 0);
  h.writeUInt8(type, 1);
  h.writeUInt16BE(1, 2);
  h.writeUInt16BE(content.length, 4);
  return Buffer.concat([h, content]);
};
const nameValue = (name, value) => {
  const n = Buffer.from(name), v = Buffer.from(value);
  return Buffer.concat([Buffer.from([n.length, v.length]), n, v]); // both < 128
};
const BEGIN = 1, PARAMS = 4, STDIN = 5;
const healthRequest = Buffer.concat([
  record(BEGIN, Buffer.from([0, 1, 0, 0, 0, 0, 0, 0])), // role responder, no keep-conn
  record(PARAMS, Buffer.concat([
    nameValue('REQUEST_METHOD', 'GET'), nameValue('REQUEST_URI', '/health'),
    nameValue('SERVER_PROTOCOL', 'HTTP/1.1'), nameValue('CONTENT_LENGTH', '0'),
  ])),
  record(PARAMS, Buffer.alloc(0)),
  record(STDIN, Buffer.alloc(0)),
]);

// Resolves with the FastCGI stdout text, or rejects when nobody listens yet.
const askHealth = (sock) => new Promise((resolve, reject) => {
  const c = net.createConnection(sock);
  const parts = [];
  c.on('connect', () => c.write(healthRequest));
  c.on('data', (d) => parts.push(d));
  c.on('error', reject);
  c.on('close', () => resolve(Buffer.concat(parts).toString('latin1')));
});

const once = async (dir) => {
  const sock = path.join(dir, 'axon.sock');
  const t0 = process.hrtime.bigint();
  const child = spawn(bin, ['--listen', sock], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    for (;;) {
      const text = await askHealth(sock).catch(() => '');
      if (text.includes('Status: 200')) return Number(process.hrtime.bigint() - t0) / 1e6;
      if (child.exitCode !== null) throw new Error(`axon exited with ${child.exitCode}`);
      if (Number(process.hrtime.bigint() - t0) > 10e9) throw new Error('no 200 within 10 s');
      await new Promise((r) => setTimeout(r, 0.2));
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
  }
};

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'axon-startup-'));
const runs = [];
try {
  for (let i = 0; i < Number(runsArg); i++) runs.push(await once(dir));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
const sorted = [...runs].sort((a, b) => a - b);
console.log(JSON.stringify({
  runs: runs.map((x) => Number(x.toFixed(2))),
  p50_ms: Number(sorted[sorted.length >> 1].toFixed(2)),
  max_ms: Number(sorted.at(-1).toFixed(2)),
}));
