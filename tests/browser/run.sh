#!/usr/bin/env bash
# Runs the playground's browser tests (tests/browser/*.test.mjs): headless
# Debian Chromium driven by playwright-core, against a stack that each test
# file starts itself with etc/run-stack.sh and the mock upstreams.
#
#   tests/browser/run.sh                 # needs build/axon (make) and tests/node_modules (make npm-deps)
#   AXON_BIN=build/asan/axon tests/browser/run.sh
#   AXON_SERVER=nginx tests/browser/run.sh
#
# Screenshots and the stack's output go to build/artifacts/browser/.
# The last line is always "N passed, M failed"; the exit status is non-zero if
# anything failed or nothing ran.
set -uo pipefail
caller_pwd=$PWD
cd "$(dirname "$0")/../.."

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
summary() { printf '%d passed, %d failed\n' "$1" "$2"; }
fail_setup() {
    echo "tests/browser: $*" >&2
    summary 0 1
    exit 1
}

[[ -x $CHROMIUM ]] ||
    fail_setup "$CHROMIUM is missing: install Debian's chromium (apt-get install -y --no-install-recommends chromium) or set CHROMIUM"
[[ -f tests/node_modules/playwright-core/package.json ]] ||
    fail_setup "tests/node_modules/playwright-core is missing: run make npm-deps (tests/install-npm.sh)"
command -v node >/dev/null 2>&1 || fail_setup "node is not installed"
AXON_BIN=${AXON_BIN:-build/axon}
[[ $AXON_BIN == /* ]] || AXON_BIN=$caller_pwd/$AXON_BIN
[[ -x $AXON_BIN ]] || fail_setup "$AXON_BIN is missing: run make first"
export AXON_BIN CHROMIUM

tmp=$(mktemp -d -t axon-browser.XXXXXXXX)
node_pid=""
cleanup() {
    [[ -n $node_pid ]] && kill -TERM "$node_pid" 2>/dev/null
    rm -rf -- "$tmp"
}
trap cleanup EXIT
trap 'echo "tests/browser: interrupted" >&2; exit 130' INT
trap 'echo "tests/browser: terminated" >&2; exit 143' TERM

# In the background and then `wait`, so that SIGINT/SIGTERM reach the traps at once.
AXON_TEST_TMP=$tmp timeout --kill-after=10 300 \
    node --test \
        --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$tmp/results.tap" \
        tests/browser/*.test.mjs &
node_pid=$!
node_rc=0
wait "$node_pid" || node_rc=$?
node_pid=""

passed=0 failed=0
if [[ -s $tmp/results.tap ]]; then
    count() { grep "^# $1 " "$tmp/results.tap" | tail -n 1 | awk '{print $3}'; }
    passed=$(count pass) n_fail=$(count fail) n_cancelled=$(count cancelled)
    passed=${passed:-0}
    failed=$(( ${n_fail:-0} + ${n_cancelled:-0} ))
else
    echo "tests/browser: node --test produced no results (exit status $node_rc)" >&2
    failed=1
fi
if ((node_rc != 0 && failed == 0)); then
    echo "tests/browser: node --test exited with status $node_rc" >&2
    failed=1
fi
echo "artifacts: build/artifacts/browser/"
summary "$passed" "$failed"
((failed == 0 && passed > 0))
