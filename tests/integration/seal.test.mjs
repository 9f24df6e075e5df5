// The keys that seal reasoning items' encrypted_content (docs/responses.md,
// "Sealed reasoning"), as an operator meets them: refused at start when
// wrong, never echoed, and the start line saying which key seals or that a
// random one does.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AXON_BIN, cleanEnv, scratchDir, spawnCaptured, exitWithin, sleep } from './lib.mjs';

const KEY = 'JOv2QAiGrNaM1m44+DVEoR/GQ3jMCXCfkDo1ZwYCOLs=';
const SHORT = 'AIyrCmA5GIcmEU0bwct0FQ=='; // 16 bytes

function check(env) {
  const r = spawnSync(AXON_BIN, ['--check-config'], {
    env: cleanEnv({ AXON_API_KEYS: 'sk-a', ...env }), cwd: scratchDir('seal'),
    encoding: 'utf8', timeout: 10000,
  });
  assert.equal(r.error, undefined, `could not run ${AXON_BIN}: ${r.error}`);
  return r;
}

// Starts axon on its own socket, returns its output once it says "ready".
async function startLines(env) {
  const dir = scratchDir('seal-run');
  const p = spawnCaptured(AXON_BIN, ['--listen', path.join(dir, 'axon.sock')], {
    env: cleanEnv({ AXON_API_KEYS: 'sk-a', AXON_VALKEY_URL: 'redis://127.0.0.1:1', ...env }),
    cwd: dir,
  });
  try {
    for (let i = 0; i < 100 && !p.out().includes(' ready:'); i++) await sleep(50);
    assert.match(p.out(), / ready:/, p.out());
    return p.out();
  } finally {
    p.child.kill('SIGTERM');
    if (!(await exitWithin(p, 10000))) p.child.kill('SIGKILL');
  }
}

describe('sealed reasoning keys', () => {
  it('a key of the wrong length stops the start, naming the entry, never the key', () => {
    const r = check({ AXON_SEAL_KEYS: `k1:${KEY},k2:${SHORT}` });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /AXON_SEAL_KEYS: key "k2" must be 32 bytes in base64/);
    assert.ok(!r.stderr.includes(SHORT.slice(0, 8)) && !r.stderr.includes(KEY.slice(0, 8)),
      r.stderr);
  });

  it('keys from AXON_SEAL_KEYS and AXON_SEAL_KEYS_FILE load; the same id twice does not', () => {
    const file = path.join(scratchDir('seal-file'), 'seal.keys');
    fs.writeFileSync(file, `# older\nold:${SHORT}${SHORT.slice(0, 20)}\n`);
    let r = check({ AXON_SEAL_KEYS: `new:${KEY}`, AXON_SEAL_KEYS_FILE: file });
    assert.equal(r.status, 2, 'a 28-byte key in the file is refused');
    assert.match(r.stderr, /AXON_SEAL_KEYS_FILE: key "old"/);
    fs.writeFileSync(file, `# older\nold:${KEY}\n`);
    r = check({ AXON_SEAL_KEYS: `new:${KEY}`, AXON_SEAL_KEYS_FILE: file });
    assert.equal(r.status, 0, r.stderr);
    r = check({ AXON_SEAL_KEYS: `old:${KEY}`, AXON_SEAL_KEYS_FILE: file });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /key id "old" is given twice/);
  });

  it('the start line names the key that seals, and never a key', async () => {
    const out = await startLines({ AXON_SEAL_KEYS: `k2026:${KEY},k2025:${KEY}` });
    assert.match(out, /encrypted_content is sealed with key id k2026; 2 key\(s\) open it/);
    assert.ok(!out.includes(KEY.slice(0, 8)), out);
  });

  it('without keys, a warning says sealed items do not survive a restart', async () => {
    const out = await startLines({});
    assert.match(out, /"level":"warn","msg":"AXON_SEAL_KEYS is not set: .*random key .*\(id tmp-[0-9a-f]{8}\).*does not open after a restart nor on another axon process/);
  });
});
