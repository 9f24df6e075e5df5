// A minimal RESP client, for tests that look at what axon wrote into Valkey
// (redis-server here): one connection per command, replies parsed into
// strings, numbers, arrays and null; error replies throw.
import net from 'node:net';
import { spawn } from 'node:child_process';
import { waitFor } from './lib.mjs';

function parse(buf, i = 0) {
  const eol = buf.indexOf('\r\n', i);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[i]);
  const line = buf.toString('utf8', i + 1, eol);
  const next = eol + 2;
  if (type === '+') return { value: line, end: next };
  if (type === '-') return { value: new Error(line), end: next };
  if (type === ':') return { value: Number(line), end: next };
  if (type === '$') {
    const n = Number(line);
    if (n < 0) return { value: null, end: next };
    if (buf.length < next + n + 2) return null;
    return { value: buf.toString('utf8', next, next + n), end: next + n + 2 };
  }
  if (type === '*') {
    const n = Number(line);
    if (n < 0) return { value: null, end: next };
    const out = [];
    let at = next;
    for (let k = 0; k < n; k++) {
      const r = parse(buf, at);
      if (!r) return null;
      out.push(r.value);
      at = r.end;
    }
    return { value: out, end: at };
  }
  throw new Error(`RESP: unexpected type byte ${type}`);
}

// redis://host:port[/db] from the URL the stacks use.
export function redisAddr(url) {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379), db: Number(u.pathname.slice(1) || 0) };
}

export function redis(url, ...args) {
  const { host, port, db } = redisAddr(url);
  const cmds = db ? [['SELECT', String(db)], args] : [args];
  const wire = cmds.map((c) => `*${c.length}\r\n${c.map((a) => {
    const s = String(a);
    return `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  }).join('')}`).join('');
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, host);
    let buf = Buffer.alloc(0);
    sock.setTimeout(5000, () => { sock.destroy(); reject(new Error('redis: timeout')); });
    sock.on('error', reject);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      let at = 0;
      const replies = [];
      for (let k = 0; k < cmds.length; k++) {
        const r = parse(buf, at);
        if (!r) return;
        replies.push(r.value);
        at = r.end;
      }
      sock.end();
      const last = replies.at(-1);
      if (last instanceof Error) reject(last); else resolve(last);
    });
    sock.write(wire);
  });
}

// A redis-server of a test's own on 127.0.0.1:port, answering PING when this
// resolves. aofDir: an append-only file there, so a SIGKILLed server comes
// back with everything it acknowledged (it writes the file before it
// replies; no fsync, which under a loaded disk stalled every write for
// longer than axon's Valkey timeout). In a session of its own, so in its own
// scheduler autogroup: on this VM (sched_autogroup_enabled=1) a server in the
// test runner's group was starved past that timeout by the busy node
// processes around it, which tested the machine rather than axon.
export async function startRedis(port, aofDir) {
  const persistence = aofDir
    ? ['--appendonly', 'yes', '--appendfsync', 'no', '--dir', aofDir]
    : ['--appendonly', 'no'];
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence],
    { stdio: 'ignore', detached: true });
  const url = `redis://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
    return (await redis(url, 'PING').catch(() => null)) === 'PONG';
  }, 10000, 'redis-server to answer');
  return proc;
}

// Stop a redis-server from startRedis (SIGKILL unless told), stalled or not.
export async function stopRedis(proc, signal = 'SIGKILL') {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise((r) => proc.once('exit', r));
  try { proc.kill('SIGCONT'); } catch { /* gone */ }
  proc.kill(signal);
  await gone;
}
