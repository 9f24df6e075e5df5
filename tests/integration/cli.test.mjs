// The command line: what an operator sees before any web server is involved.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AXON_BIN, cleanEnv, scratchDir } from './lib.mjs';

// Run axon in an empty directory (so no ./etc/axon.conf is picked up) with
// exactly the AXON_* variables given.
function axon(args, env = {}, stdin = 'pipe') {
  const r = spawnSync(AXON_BIN, args, {
    env: cleanEnv(env), cwd: scratchDir('cli'), stdio: [stdin, 'pipe', 'pipe'],
    encoding: 'utf8', timeout: 10000,
  });
  assert.equal(r.error, undefined, `could not run ${AXON_BIN}: ${r.error}`);
  assert.equal(r.signal, null, `axon ${args.join(' ')} was killed by ${r.signal} (hung?)\n${r.stderr}`);
  return r;
}

describe('axon command line', () => {
  it('--version prints "axon X.Y.Z" and exits 0', () => {
    const r = axon(['--version']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^axon \d+\.\d+\.\d+\n?$/);
  });

  it('--help describes the options and exits 0', () => {
    const r = axon(['--help']);
    assert.equal(r.status, 0, r.stderr);
    for (const word of ['--listen', '--config', '--check-config', 'AXON_API_KEYS']) {
      assert.ok(r.stdout.includes(word), `--help mentions ${word}`);
    }
  });

  it('--check-config exits 0 for a valid configuration', () => {
    const r = axon(['--check-config'], { AXON_API_KEYS: 'sk-a,sk-b', AXON_THREADS: '4' });
    assert.equal(r.status, 0, r.stderr);
  });

  it('--check-config exits 2 naming AXON_THREADS=abc', () => {
    const r = axon(['--check-config'], { AXON_API_KEYS: 'sk-a', AXON_THREADS: 'abc' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /AXON_THREADS/);
  });

  it('--check-config exits 2 naming AXON_API_KEYS when no key is configured', () => {
    const r = axon(['--check-config']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /AXON_API_KEYS/);
  });

  it('--config FILE supplies settings and the environment wins over it', () => {
    const file = path.join(scratchDir('cli-conf'), 'axon.conf');
    fs.writeFileSync(file, '# test\nAXON_API_KEYS=sk-from-file\nAXON_THREADS=4\n');
    const fromFile = axon(['--config', file, '--check-config']);
    assert.equal(fromFile.status, 0, fromFile.stderr);
    const envWins = axon(['--config', file, '--check-config'], { AXON_THREADS: 'abc' });
    assert.equal(envWins.status, 2, envWins.stderr);
    assert.match(envWins.stderr, /AXON_THREADS/);
  });

  it('no arguments with fd 0 not a socket exits non-zero pointing to --listen', () => {
    for (const stdin of ['pipe', 'ignore' /* /dev/null */]) {
      const r = axon([], { AXON_API_KEYS: 'sk-a' }, stdin);
      assert.notEqual(r.status, 0, `stdin=${stdin}: must not exit 0`);
      assert.match(r.stderr, /--listen/, `stdin=${stdin}: the message should say how to run it standalone`);
    }
  });
});
