#!/usr/bin/env bash
# make soak: a mixed load for a while against a real stack, watching axon's
# memory, file descriptors and threads, and every answer.
#
#   tests/soak/run.sh [--minutes N] [--server lighttpd|nginx] [--out DIR]
#                     [--conc N] [--seed N] [--results FILE | --no-results]
#                     [-- DRIVER OPTIONS...]
#
#   --minutes N   length of the load phase (default $SOAK_MINUTES, else 10);
#                 fractions work (--minutes 0.5). The whole run takes about
#                 40% longer: a prime of 20% (15 s to 3 min), and 11 s at
#                 rest after each cycle of load (a minute; 30 s in runs under
#                 5 minutes). The RSS slope is judged from 5 minutes on.
#   --server S    the web server in front (default $AXON_SERVER, else lighttpd)
#   --out DIR     report.md, samples.csv, summary.json, stack.log (default build/soak)
#   --conc N      closed-loop clients (default 8)
#   --seed N      the mix's random seed (default: the time)
#   --results FILE  also write the report, with the machine, the date, the
#                 commit and this script's exit status, into FILE's soak
#                 section (default docs/results/soak.md, where the docs'
#                 figures come from; tests/docs/results.sh)
#   --no-results  leave that file alone
#   after --, options for tests/soak/driver.mjs (--think-ms, --sample-s,
#   --prime-s, --settle-s, --cycle-s, --burst-every-s, --burst-n; see its
#   header). One cycle as long as the load (-- --cycle-s 1200 with
#   --minutes 20) gives a smoother RSS curve, without rest points.
#
# It starts etc/run-stack.sh on a free loopback port with its own
# redis-server and the Node mock upstreams (tests/mock/anthropic.mjs and
# openai.mjs), with short upstream timeouts so that injected stalls end in
# 2 s, then runs tests/soak/driver.mjs: the mix of streamed and plain
# completions, conversations continued by conversation_id, upstream faults,
# client errors and client disconnects, sampling every axon process's VmRSS,
# open fds and threads, and /stats. The checks and the report are the
# driver's: RSS under load and the malloc heap at rest flat over the second
# half, fds and threads back to their baseline at every rest, no unexpected
# answer, /stats pool busy 0, no axon process lost. Exit status non-zero if
# any check fails, the stack dies, or a process needed SIGKILL to stop.
#
# AXON_BIN picks the binary (default build/axon). Upstream and Valkey
# settings from the environment (AXON_VALKEY_URL, ANTHROPIC_*, AXON_VLLM_*,
# AXON_CONFIG) are ignored: the soak always runs on its own mocks and Valkey.
# shellcheck disable=SC2317  # cleanup runs from a trap
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
cd -- "$repo"

say() { printf 'soak: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }

minutes=${SOAK_MINUTES:-10} server=${AXON_SERVER:-lighttpd} out=build/soak conc=8 seed=""
results=docs/results/soak.md
declare -a driver_args=()
while (($#)); do
    case $1 in
        --minutes) minutes=$2; shift ;;
        --server) server=$2; shift ;;
        --out) out=$2; shift ;;
        --conc) conc=$2; shift ;;
        --seed) seed=$2; shift ;;
        --results) results=$2; shift ;;
        --no-results) results="" ;;
        --) shift; driver_args=("$@"); break ;;
        -h|--help) sed -n '2,/^[^#]/{/^#/p}' "$0" | grep -v '^# shellcheck' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
[[ $minutes =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--minutes must be a number, not '$minutes'"
case $server in lighttpd|nginx) ;; *) die "--server must be lighttpd or nginx, not '$server'" ;; esac

AXON_BIN=${AXON_BIN:-$repo/build/axon}
[[ -x $AXON_BIN ]] || die "$AXON_BIN is missing: run make"
for cmd in node redis-server curl "$server"; do
    command -v "$cmd" >/dev/null || die "$cmd is not installed (make deps installs it)"
done
mkdir -p -- "$out"
out=$(cd -- "$out" && pwd)

tmp=$(mktemp -d /tmp/axon-soak.XXXXXX)
stack_pid=""
cleanup() {
    if [[ -n $stack_pid ]] && kill -0 "$stack_pid" 2>/dev/null; then
        kill -TERM "$stack_pid" 2>/dev/null || true
        wait "$stack_pid" 2>/dev/null || true
    fi
    if [[ -f $tmp/stack.log ]]; then cp -- "$tmp/stack.log" "$out/stack.log"; fi
    rm -rf -- "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(node --input-type=module -e '
    import { freePort } from "'"$repo"'/tests/integration/lib.mjs";
    console.log(await freePort());')

# The stack: its own Valkey and mocks (run-stack.sh starts them when these are
# unset), short upstream timeouts (an injected stall ends in 2 s), a heartbeat
# every second, Valkey's timeout at 1 s (the default 50 ms, and even 250 ms,
# was exceeded here when other test suites loaded this shared VM: a stall of
# the machine opens axon's breaker, and the answers during it are correct
# but not what this test is about; the driver counts them apart), a pool
# large enough for the bursts, sessions recycled often,
# the model lists re-read every 5 s, a short conversation TTL, and only
# warnings in the log (one line per request would be 100 MB).
say "starting axon behind $server on 127.0.0.1:$port"
env -u AXON_VALKEY_URL -u ANTHROPIC_API_KEY -u ANTHROPIC_API_KEY_FILE -u ANTHROPIC_BASE_URL \
    -u AXON_VLLM_BASE_URL -u AXON_VLLM_API_KEY -u AXON_CONFIG -u AXON_API_KEYS_FILE \
    AXON_BIN="$AXON_BIN" AXON_SERVER="$server" AXON_PORT="$port" STACK_DIR="$tmp/stack" \
    AXON_API_KEYS="sk-axon-soak-$RANDOM$RANDOM$RANDOM" AXON_LOG_LEVEL=warn \
    AXON_HEARTBEAT_S=1 AXON_FIRST_BYTE_TIMEOUT_S=2 AXON_IDLE_TIMEOUT_S=2 AXON_VALKEY_TIMEOUT_MS=1000 \
    AXON_POOL_SIZE=48 AXON_MAX_TURNS=50 AXON_UPSTREAM_CHECK_S=5 AXON_CONVERSATION_TTL=600 \
    setsid bash etc/run-stack.sh > "$tmp/stack.log" 2>&1 &
stack_pid=$!
for ((i = 0; i < 600; i++)); do
    [[ -f $tmp/stack/ready ]] && break
    kill -0 "$stack_pid" 2>/dev/null || break
    sleep 0.1
done
if [[ ! -f $tmp/stack/ready ]]; then
    sed 's/^/    /' "$tmp/stack.log" >&2
    die "the stack did not start"
fi

# The command as it ran, for the results file: every setting spelled out.
command="tests/soak/run.sh --minutes $minutes --server $server --conc $conc${seed:+ --seed $seed}"
((${#driver_args[@]})) && command+=" -- ${driver_args[*]}"
provenance=$(tests/docs/results.sh provenance "$command")
rm -f -- "$out/report.md"   # so that a report found below is this run's

rc=0
declare -a why=()
node tests/soak/driver.mjs --ready "$tmp/stack/ready" --minutes "$minutes" --out "$out" \
    --conc "$conc" ${seed:+--seed "$seed"} "${driver_args[@]}" || rc=$?

# The stack must still be whole: run-stack.sh exits when a component dies.
if ! kill -0 "$stack_pid" 2>/dev/null; then
    say "FAIL: the stack stopped during the run:"
    tail -n 20 "$tmp/stack.log" | sed 's/^/    /' >&2
    why+=("the stack stopped during the run")
    rc=1
fi
# Warnings and errors axon logged (requests are logged at info, so not here).
warns=$(grep -c '"level":"warn"' "$tmp/stack.log" || true)
errors=$(grep -c '"level":"error"' "$tmp/stack.log" || true)
say "axon logged $warns warning(s) and $errors error(s) (stack log: $out/stack.log)"
if ((errors > 0)); then
    grep '"level":"error"' "$tmp/stack.log" | head -n 5 | cut -c1-300 | sed 's/^/    /' >&2
fi
# Stop the stack: axon drains and exits.
kill -TERM "$stack_pid" 2>/dev/null || true
wait "$stack_pid" 2>/dev/null || true
stack_pid=""
if grep -q 'did not exit within' "$tmp/stack.log"; then
    say "FAIL: a process did not stop on SIGTERM:"
    grep 'did not exit within' "$tmp/stack.log" | sed 's/^/    /' >&2
    why+=("a process did not stop on SIGTERM")
    rc=1
fi
# The results file: this run's report under its provenance, with the verdict
# of the whole script (the driver's checks, and the stack's own end above).
if [[ -n $results && -f $out/report.md ]]; then
    {
        printf '%s\n\n' "$provenance"
        sed -e 's/^# /## /' -e "s|$repo/||g" "$out/report.md"
        reasons=$(printf '%s; ' "${why[@]}")
        # shellcheck disable=SC2016  # the backticks are Markdown's
        printf '\n`tests/soak/run.sh` exit status %s' "$rc"
        if ((rc == 0)); then printf ' (pass).\n'
        elif ((${#why[@]})); then printf ' (FAIL: %s).\n' "${reasons%; }"
        else printf ' (FAIL: a check above).\n'
        fi
        printf 'axon logged %s warning(s) and %s error(s).\n' "$warns" "$errors"
    } | tests/docs/results.sh write "$results" soak
    say "report written into $results"
fi
if ((rc == 0)); then say "ok: report in $out/report.md"; else say "FAIL: see $out/report.md"; fi
exit "$rc"
