#!/usr/bin/env bash
# Installs the integration tests' npm packages (tests/package.json, pinned by
# tests/package-lock.json) into tests/node_modules, which git ignores. Node's
# ESM resolution walks up from tests/integration/ to find them.
#
# Runs `npm ci` only when tests/node_modules was never completely installed or
# is older than package.json / package-lock.json, so a repeated `make test`
# costs nothing. A stamp file written after a successful `npm ci` marks a
# complete install: an interrupted one leaves no stamp and is redone.
set -euo pipefail
cd "$(dirname "$0")/.."

lock=tests/package-lock.json
stamp=tests/node_modules/.axon-npm-ci-done

if [[ -f $stamp && ! $lock -nt $stamp && ! tests/package.json -nt $stamp ]]; then
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "axon: npm is not installed; the integration tests need it for $lock." >&2
  echo "  Install npm (Debian: apt-get install npm, or Node.js from nodejs.org) and rerun." >&2
  exit 1
fi
if [[ ! -f $lock ]]; then
  echo "axon: $lock is missing; run: npm install --prefix tests" >&2
  exit 1
fi

echo "axon: installing the tests' npm packages (npm ci --prefix tests)" >&2
# npm ci deletes tests/node_modules first and fails if package.json and the
# lockfile disagree; it never rewrites the lockfile.
if ! npm ci --prefix tests --no-audit --no-fund; then
  echo "axon: npm ci --prefix tests failed (see above)" >&2
  exit 1
fi
touch "$stamp"
