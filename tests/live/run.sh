#!/usr/bin/env bash
# The live check: issue 17's rules, through Axon, against the real Claude API.
#
#   ANTHROPIC_API_KEY=sk-ant-... tests/live/run.sh
#   ANTHROPIC_API_KEY=sk-ant-... LIVE_MODELS="claude-opus-4-8" LIVE_EXPENSIVE=1 tests/live/run.sh
#
# Without ANTHROPIC_API_KEY (or a readable ANTHROPIC_API_KEY_FILE) it prints
# "skip: ANTHROPIC_API_KEY is not set" and "0 passed, 0 failed, N skipped", and
# exits 0: nothing is started, nothing is built, nothing is sent.
#
# With a key it starts its own redis-server and one stack (etc/run-stack.sh,
# behind LIVE_SERVER) on free loopback ports, whose Claude upstream is
# ANTHROPIC_BASE_URL (default https://api.anthropic.com), and runs
# tests/live/live.mjs (the official openai SDK) through it for each model of
# LIVE_MODELS. It stops everything it started, by PID, on any exit.
#
# Environment (tests/live/README.md has the long version):
#   ANTHROPIC_API_KEY     the Claude key (ANTHROPIC_API_KEY_FILE works too)
#   ANTHROPIC_BASE_URL    the Claude upstream (default https://api.anthropic.com);
#                         a mock's URL for the harness's self-test
#   LIVE_MODELS           models to check (default "claude-opus-4-7 claude-sonnet-4-6":
#                         one current model, one 4.6)
#   LIVE_EXPENSIVE=1      also run the costly cases (a prompt over the context window)
#   LIVE_ONLY             a regular expression on "MODEL ID description"
#   LIVE_SERVER           lighttpd (default) or nginx
#   LIVE_TIMEOUT_S        per request (default 180)
#   LIVE_KEEP=1           keep the scratch directory (stack logs, configs)
#   LIVE_SELFTEST=1       the harness's own test: no key needed, the Claude
#                         upstream is the mock of tests/mock/anthropic.mjs, started
#                         here (cases fail where the mock or Axon lacks a rule)
#   AXON_BIN              the axon binary (default build/axon)
# Any other AXON_* setting reaches axon (an operator may check their own
# AXON_MODELS_FILE or AXON_PROMPT_CACHE), except those this script sets:
# AXON_PORT, AXON_VALKEY_URL (a private redis-server), AXON_API_KEYS (two
# fresh keys), AXON_API_KEYS_FILE and AXON_BASE_PATH (unset).
#
# Output: one line per case ("ok   MODEL ID description", "FAIL ...: why",
# "skip ... (why)"), then exactly "N passed, M failed, K skipped" as the last
# line. Exit status: 0 when nothing failed (and, with a key, something passed).
# shellcheck disable=SC2317  # cleanup and its helpers run from traps
set -uo pipefail   # no -e: a failed case is counted, the cleanup always runs

caller_pwd=$PWD
repo_root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
cd -- "$repo_root" || exit 2

say() { printf 'live: %s\n' "$*" >&2; }

passed=0 failed=0 skipped=0
finished=""
declare -a pids=()   # processes started here
tmp=""
out=""               # live.mjs's result lines, one a case

# The counts from live.mjs's result lines so far.
count_results() {
    [[ -n $out && -f $out ]] || return 0
    passed=$(grep -c '^ok ' "$out")
    failed=$(grep -c '^FAIL ' "$out")
    skipped=$(grep -c '^skip ' "$out")
}

summary() { printf '%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"; }

# The cases live.mjs would run, counted without running them (no SDK needed).
count_cases() {
    command -v node >/dev/null 2>&1 || { echo 0; return; }
    node tests/live/live.mjs --list 2>/dev/null | grep -c '^' || true
}

# ---- no key: skip cleanly ----------------------------------------------------
selftest=""
[[ ${LIVE_SELFTEST:-} == 1 ]] && selftest=1
if [[ -z $selftest && -z ${ANTHROPIC_API_KEY:-} && ! ( -n ${ANTHROPIC_API_KEY_FILE:-} && -r ${ANTHROPIC_API_KEY_FILE:-} ) ]]; then
    echo "skip: ANTHROPIC_API_KEY is not set"
    skipped=$(count_cases)
    summary
    exit 0
fi

# ---- with a key: processes and cleanup ------------------------------------------
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# SIGTERM what we started (run-stack.sh stops its own children: lighttpd, axon,
# nginx), wait up to 15 s, then SIGKILL what is left, and reap.
stop_all() {
    local pid i
    local -a left=()
    for pid in "${pids[@]}"; do
        if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    for ((i = 0; i < 150; i++)); do
        left=()
        for pid in "${pids[@]}"; do alive "$pid" && left+=("$pid"); done
        ((${#left[@]} == 0)) && break
        sleep 0.1
    done
    for pid in "${left[@]}"; do
        say "pid $pid did not stop on SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    pids=()
}

cleanup() {
    stop_all
    [[ -n $finished ]] || count_results   # before the scratch directory goes
    if [[ -n $tmp ]]; then
        if [[ ${LIVE_KEEP:-} == 1 ]]; then say "kept $tmp"; else rm -rf -- "$tmp"; fi
        tmp=""
    fi
    # Interrupted or died before the summary: the cases that ran, plus one
    # failure for the interruption, still end with the summary line.
    if [[ -z $finished ]]; then
        failed=$((failed + 1))
        summary
    fi
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

# Say why and exit; cleanup counts the one failure.
setup_failed() {
    say "setup failed: $*"
    exit 1
}

# ---- prerequisites --------------------------------------------------------------
LIVE_SERVER=${LIVE_SERVER:-lighttpd}
case $LIVE_SERVER in
    lighttpd | nginx) ;;
    *) setup_failed "LIVE_SERVER must be lighttpd or nginx, not '$LIVE_SERVER'" ;;
esac
for cmd in node redis-server curl "$LIVE_SERVER"; do
    command -v "$cmd" >/dev/null 2>&1 ||
        setup_failed "'$cmd' is not installed (etc/install-deps.sh installs it)"
done
AXON_BIN=${AXON_BIN:-build/axon}
[[ $AXON_BIN == /* ]] || AXON_BIN=$caller_pwd/$AXON_BIN
[[ -x $AXON_BIN ]] || setup_failed "axon binary '$AXON_BIN' not found (run make, or set AXON_BIN)"
[[ -f tests/node_modules/openai/package.json ]] ||
    setup_failed "tests/node_modules/openai is missing: run make npm-deps (tests/install-npm.sh)"

tmp=$(mktemp -d -t axon-live.XXXXXXXX)

# N distinct free loopback ports, from lib.mjs's freePort (below the kernel's
# ephemeral range, so no outgoing connection takes one before it is bound).
read -r redis_port axon_port mock_port < <(node --input-type=module -e '
    import { freePort } from "'"$repo_root"'/tests/integration/lib.mjs";
    console.log(await freePort(), await freePort(), await freePort());
') || setup_failed "could not pick free ports"
[[ -n ${mock_port:-} ]] || setup_failed "could not pick free ports"

# ---- the self-test's upstream: the mock Claude, and a key it accepts ----------------
if [[ -n $selftest ]]; then
    node tests/mock/anthropic.mjs --port "$mock_port" > "$tmp/mock.log" 2>&1 &
    pids+=("$!")
    for ((i = 0; ; i++)); do
        curl -sf -o /dev/null "http://127.0.0.1:$mock_port/_mock/health" && break
        if ((i >= 100)); then
            sed 's/^/    /' "$tmp/mock.log" >&2
            setup_failed "the mock Claude did not start"
        fi
        sleep 0.1
    done
    unset ANTHROPIC_API_KEY_FILE
    export ANTHROPIC_API_KEY=sk-ant-live-selftest ANTHROPIC_BASE_URL=http://127.0.0.1:$mock_port
fi

# ---- a private redis-server: a live check writes nothing into the operator's Valkey
setsid redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$tmp" --logfile "$tmp/redis.log" &
pids+=("$!")
for ((i = 0; ; i++)); do
    # A bare PING over bash's /dev/tcp, in a subshell so a refusal ends nothing.
    reply=$( (exec 3<>"/dev/tcp/127.0.0.1/$redis_port" && printf 'PING\r\n' >&3 &&
              read -r -t 2 line <&3 && printf '%s' "$line") 2>/dev/null || true)
    [[ $reply == +PONG* ]] && break
    ((i < 100)) || setup_failed "redis-server did not answer PING on port $redis_port within 10 s"
    sleep 0.1
done

# ---- the stack -------------------------------------------------------------------
key1="sk-axon-live-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
key2="sk-axon-live-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
ANTHROPIC_BASE_URL=${ANTHROPIC_BASE_URL:-https://api.anthropic.com}
export ANTHROPIC_BASE_URL
unset AXON_API_KEYS_FILE AXON_BASE_PATH
say "starting a $LIVE_SERVER stack on 127.0.0.1:$axon_port, Claude at $ANTHROPIC_BASE_URL"
AXON_BIN=$AXON_BIN AXON_SERVER=$LIVE_SERVER AXON_PORT=$axon_port STACK_DIR=$tmp/stack \
    AXON_VALKEY_URL=redis://127.0.0.1:$redis_port AXON_API_KEYS="$key1,$key2" \
    bash etc/run-stack.sh > "$tmp/stack.log" 2>&1 &
stack_pid=$!
pids+=("$stack_pid")

for ((i = 0; ; i++)); do
    [[ -f $tmp/stack/ready ]] && break
    if ! alive "$stack_pid" || ((i >= 600)); then
        say "the $LIVE_SERVER stack did not become ready; its output:"
        sed 's/^/    /' "$tmp/stack.log" >&2
        setup_failed "no stack"
    fi
    sleep 0.1
done
axon_url=$(sed -n 's/^AXON_URL=//p' "$tmp/stack/ready")

# ---- the cases ---------------------------------------------------------------------
# In the background and then `wait`, so that SIGINT/SIGTERM reach the traps at once.
out=$tmp/live.out
models_file=${AXON_MODELS_FILE:-$repo_root/etc/models.conf}
[[ $models_file == /* ]] || models_file=$caller_pwd/$models_file
LIVE_AXON_URL=$axon_url LIVE_KEY=$key1 LIVE_KEY2=$key2 LIVE_RESULTS=$out LIVE_MODELS_FILE=$models_file \
    node tests/live/live.mjs &
node_pid=$!
pids+=("$node_pid")
node_rc=0
wait "$node_pid" || node_rc=$?

count_results
if ((node_rc != 0)); then
    say "tests/live/live.mjs exited with status $node_rc before the end"
    failed=$((failed + 1))
fi
if ((failed > 0)); then
    # What Axon logged (one line per request, the upstream's errors) says why.
    say "the stack's last lines (LIVE_KEEP=1 keeps them all):"
    tail -n 40 "$tmp/stack.log" | sed 's/^/    /' >&2
fi

stop_all
finished=1
summary
((failed == 0 && passed > 0))
