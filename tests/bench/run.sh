#!/usr/bin/env bash
# make bench: what Axon adds between a client and the model, measured side by
# side with the baselines on one machine in one run.
#
#   tests/bench/run.sh [--smoke] [--duration S] [--repeat N] [--out DIR] [--no-portkey]
#                      [--results FILE | --no-results] [--baseline REF] [--callgrind N]
#
# It starts, all on 127.0.0.1: redis-server, the fast mock upstream
# (build/bench/mockup), axon behind lighttpd and behind nginx (etc/run-stack.sh),
# nginx proxy_pass to the mock, and Portkey's gateway from npm
# (tests/bench/portkey; skipped, and said so, when it cannot be installed).
# Every path talks to the same mock, and build/bench/loadgen drives them
# in turn, one path after another within each repetition:
#   plain   non-streaming requests at concurrency 1, 8, 32, 128
#   stream  one stream at a time, 20 tokens 5 ms apart, for 10 s per
#           repetition (about 300 streams in all): time to the first token
#           and the gap between tokens
#   hold    N streams open at once (a token every 100 ms for 4 s), N stepping
#           up to 2,000: all must end complete; the open descriptors of axon
#           and of the web server at the peak, per open stream
# The axon paths also serve the same prompt through POST /v1/responses, in
# turn right after chat's: non-stream at concurrency 1 and 32, and one stream
# at a time (time to the first response.output_text.delta: loadgen --sse
# responses). The mock answers both alike (axon sends Claude's Messages API
# either way). A baseline that answers /v1/responses with 404 has no such
# rows, and the table says so.
# plus the RSS of every process of each path (idle, the most under load, and
# 10 s after the load), axon's start-up time (tests/bench/startup.mjs) and
# its Valkey round trips per request.
# Every axon stack has a redis-server of its own. Two more stacks of this
# build run with AXON_STORE=on_request (lighttpd-nostore, nginx-nostore):
# a chat completion that stores nothing, measured at c=1 non-stream in turn
# with the others. After the non-streaming runs, tests/bench/valkeycost.mjs
# counts what a request costs Valkey on each path's own server (INFO
# commandstats less the commands scripts ran, SLOWLOG, INFO cpu, the round
# trips header): a new conversation, a continued one, chat storing nothing,
# Responses with "store": false, one at a time; then new conversations at
# c=32 for the sizing (redis-server CPU per request).
# tests/bench/report.mjs makes the table, the targets of issues 6 and 21 and
# the Sizing line:
# printed, and written to DIR/bench.md (default build/bench) with the raw
# results in DIR/results.jsonl. A full run also writes the table, with the
# machine, the date and the commit, into its section of FILE (default
# docs/results/bench.md; tests/docs/results.sh), which is where the docs'
# figures come from; --no-results leaves FILE alone.
#
# --baseline REF: also builds commit REF (git archive into
# build/bench/base-SHA/, its own Makefile; reused by the next run) and runs
# it, with its own etc/run-stack.sh and its own redis-server, behind lighttpd
# and nginx as two more paths, in turn with the others; the table gains their
# columns and a current/baseline ratio. Issue 19's "no regression at c=1".
#
# --callgrind N (default 200; 0 skips): instructions per request, the figure
# a noisy machine does not move. Axon runs behind nginx under valgrind
# --tool=callgrind with one worker thread; after a few warm-up requests the
# counters are zeroed, N requests are sent one at a time, the counters are
# dumped, and the whole process's instructions are divided by N. Twice per
# kind (non-stream, and a stream of 20 tokens; chat completions, then the
# same through the Responses API), for this build and the baseline; the
# table gives the mean and how far the two rounds differ.
#
# --smoke: a few seconds of the same harness (make bench-smoke, part of make
# test), callgrind with N=5. No timing is asserted; it fails only if a path
# gave errors or the harness itself broke. It never writes FILE: a few
# seconds are no figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

smoke=0 duration=4 warmup=1 repeat=3 out=build/bench portkey=1 results=docs/results/bench.md
baseline="" cg_n=200 cg_set=0
args="$*"
while (($#)); do
    case $1 in
        --smoke) smoke=1 ;;
        --results) results=$2; shift ;;
        --no-results) results="" ;;
        --duration) duration=$2; shift ;;
        --repeat) repeat=$2; shift ;;
        --out) out=$2; shift ;;
        --no-portkey) portkey=0 ;;
        --baseline) baseline=$2; shift ;;
        --callgrind) cg_n=$2 cg_set=1; shift ;;
        -h|--help) sed -n '2,/^set /{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
concs="1 8 32 128" holds="250 500 1000 2000" after_s=10 stream_dur=10
resp_concs="1 32"  # the Responses rows: latency alone, and throughput
if ((smoke)); then
    duration=0.5 warmup=0.2 repeat=1 concs="1 8" holds="50" after_s=0 stream_dur=0.5 portkey=0
    resp_concs="1 8"
    results=""
    ((cg_set)) || cg_n=5
fi
[[ $cg_n =~ ^(0|[1-9][0-9]{0,5})$ ]] || die "--callgrind wants a number of requests (0 skips), not '$cg_n'"
cg_note=""
if ((cg_n > 0)) && ! command -v valgrind >/dev/null; then
    cg_n=0 cg_note="callgrind not run: valgrind is not installed (make deps installs it)"
fi

for cmd in redis-server lighttpd nginx node curl; do
    command -v "$cmd" >/dev/null || die "$cmd is missing (make deps installs it)"
done
for f in build/axon build/bench/loadgen build/bench/mockup; do
    [[ -x $f ]] || die "$f is missing: run make bench (it builds them)"
done
mkdir -p "$out"

# The baseline: REF's tree as git has it, built by its own Makefile, kept
# under build/bench/base-SHA/ (a second run reuses it: .bench-built marks a
# finished build). Built before anything starts, so the build's CPU is not
# measured; niced, as another bench may be running.
base_dir="" base_sha=""
if [[ -n $baseline ]]; then
    git rev-parse --git-dir >/dev/null 2>&1 || die "--baseline needs a git checkout"
    base_sha=$(git rev-parse --verify --quiet "$baseline^{commit}") ||
        die "--baseline $baseline: no such commit"
    base_sha=${base_sha:0:12}
    base_dir=$repo/build/bench/base-$base_sha
    if [[ -f $base_dir/.bench-built && -x $base_dir/build/axon ]]; then
        say "baseline $baseline ($base_sha): reusing the build in $base_dir"
    else
        say "baseline $baseline ($base_sha): building it in $base_dir"
        rm -rf "$base_dir"
        mkdir -p "$base_dir"
        git archive "$base_sha" | tar -x -C "$base_dir"
        nice -n 10 make -C "$base_dir" -j"$(nproc)" all >"$base_dir/build.log" 2>&1 || {
            tail -n 20 "$base_dir/build.log" >&2
            die "the baseline did not build (log: $base_dir/build.log)"; }
        touch "$base_dir/.bench-built"
    fi
fi

tmp=$(mktemp -d /tmp/axon-bench.XXXXXX)
declare -a pids=()
cleanup() {
    local p
    for p in ${sampler_pid:-} ${fd_sampler_pid:-}; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r redis_port mock_port light_port nginx_port proxy_port pk_port \
    base_redis_port base_light_port base_nginx_port cg_port base_cg_port \
    nginx_redis_port base_nginx_redis_port ns_light_port ns_nginx_port \
    ns_light_redis_port ns_nginx_redis_port < <(
    node --input-type=module -e '
        import { freePort } from "'"$repo"'/tests/integration/lib.mjs";
        const ports = [];
        for (let i = 0; i < 17; i++) ports.push(await freePort());
        console.log(ports.join(" "));')

wait_http() { # URL SECONDS: until it answers at all
    local i
    for ((i = 0; i < $2 * 20; i++)); do
        curl -s -o /dev/null --max-time 1 "$1" && return 0
        sleep 0.05
    done
    return 1
}

# ---- the stack -------------------------------------------------------------
start_redis() { # PORT NAME: a private redis-server (its pid in last_pid)
    redis-server --port "$1" --bind 127.0.0.1 --save "" --appendonly no \
        --maxclients 20000 --dir "$tmp" --logfile "$tmp/$2.log" &
    pids+=($!)
    last_pid=$!
}
say "starting redis-server, the mock, axon behind lighttpd and nginx, nginx proxy_pass"
start_redis "$redis_port" redis
redis_pid=$last_pid
build/bench/mockup --port "$mock_port" 2>"$tmp/mock.log" &
pids+=($!)
mock_pid=$!
wait_http "http://127.0.0.1:$mock_port/_mock/health" 10 || die "the mock did not start"
mock=http://127.0.0.1:$mock_port

key=sk-bench-$RANDOM$RANDOM
# A tree's own etc/run-stack.sh (an older tree knows its own configs), in the
# background; its pid in last_pid. Its state and ready file go to $tmp/NAME.
start_stack() { # NAME TREE SERVER PORT REDIS_PORT [VAR=value...]
    local name=$1 tree=$2 server=$3 port=$4 rport=$5
    shift 5
    env AXON_SERVER="$server" AXON_PORT="$port" STACK_DIR="$tmp/$name" \
        AXON_VALKEY_URL="redis://127.0.0.1:$rport" AXON_API_KEYS="$key" \
        ANTHROPIC_API_KEY=sk-ant-bench ANTHROPIC_BASE_URL="$mock" \
        AXON_POOL_SIZE=4096 AXON_LOG_LEVEL=warn AXON_TEST_ROUTES=1 "$@" \
        "$tree/etc/run-stack.sh" >"$tmp/$name.log" 2>&1 &
    pids+=($!)
    last_pid=$!
}
wait_stack() { # NAME
    local i
    for ((i = 0; i < 600; i++)); do
        [[ -f $tmp/$1/ready ]] && return 0
        sleep 0.1
    done
    cat "$tmp/$1.log" >&2
    die "the $1 stack did not start"
}
ready() { sed -n "s/^$2=//p" "$tmp/$1/ready"; }

# The axon paths: this build behind each server, and the baseline's. Each
# stack has a redis-server of its own, so what a path costs Valkey is
# counted on a server nothing else uses (the two builds must not read each
# other's stored turns either).
# The -nostore stacks run this build with AXON_STORE=on_request: a chat
# completion without conversation_id stores nothing, which is what a chat
# user calls a request that stores nothing (issue 21's "stores nothing"
# row; the Responses API's "store": false is measured beside it for Valkey).
# They are measured at c=1 non-stream only, in turn with the other paths.
declare -A vport=([lighttpd]=$redis_port [nginx]=$nginx_redis_port
    [lighttpd-nostore]=$ns_light_redis_port [nginx-nostore]=$ns_nginx_redis_port)
axon_paths="lighttpd nginx" nostore_paths="lighttpd-nostore nginx-nostore"
start_redis "$nginx_redis_port" nginx-redis
start_redis "$ns_light_redis_port" lighttpd-nostore-redis
start_redis "$ns_nginx_redis_port" nginx-nostore-redis
start_stack lighttpd "$repo" lighttpd "$light_port" "$redis_port"
start_stack nginx "$repo" nginx "$nginx_port" "$nginx_redis_port"
start_stack lighttpd-nostore "$repo" lighttpd "$ns_light_port" "$ns_light_redis_port" AXON_STORE=on_request
start_stack nginx-nostore "$repo" nginx "$ns_nginx_port" "$ns_nginx_redis_port" AXON_STORE=on_request
if [[ -n $base_dir ]]; then
    say "starting the baseline $base_sha behind lighttpd and nginx, with redis-servers of its own"
    start_redis "$base_redis_port" base-redis
    base_redis_pid=$last_pid
    start_redis "$base_nginx_redis_port" base-nginx-redis
    start_stack base-lighttpd "$base_dir" lighttpd "$base_light_port" "$base_redis_port"
    start_stack base-nginx "$base_dir" nginx "$base_nginx_port" "$base_nginx_redis_port"
    axon_paths+=" base-lighttpd base-nginx"
    vport[base-lighttpd]=$base_redis_port vport[base-nginx]=$base_nginx_redis_port
fi
for name in $axon_paths $nostore_paths; do wait_stack "$name"; done

mkdir -p "$tmp/proxy"
proxy_user=""
((EUID == 0)) && proxy_user="user root;"
cat >"$tmp/proxy/nginx.conf" <<EOF
worker_processes auto;
pid $tmp/proxy/nginx.pid;
error_log stderr warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $tmp/proxy/body;
    proxy_temp_path $tmp/proxy/proxy;
    upstream mock { server 127.0.0.1:$mock_port; keepalive 256; }
    server {
        listen 127.0.0.1:$proxy_port;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
EOF
nginx -p "$tmp/proxy" -c "$tmp/proxy/nginx.conf" -e stderr -g "daemon off; $proxy_user" \
    2>"$tmp/proxy.log" &
pids+=($!)
proxy_pid=$!

pk_pid=""
pk_note=""
if ((portkey)); then
    pk_dir=tests/bench/portkey
    if [[ ! -f $pk_dir/node_modules/.axon-npm-ci-done ]]; then
        say "installing Portkey's gateway into $pk_dir/node_modules (npm ci)"
        if (cd "$pk_dir" && npm ci --no-audit --no-fund >"$tmp/portkey-npm.log" 2>&1); then
            touch "$pk_dir/node_modules/.axon-npm-ci-done"
        else
            pk_note="Portkey could not be installed (npm ci failed: $(tail -n 1 "$tmp/portkey-npm.log"))"
        fi
    fi
    if [[ -z $pk_note ]]; then
        node "$pk_dir/node_modules/@portkey-ai/gateway/build/start-server.js" --port="$pk_port" \
            --headless >"$tmp/portkey.log" 2>&1 &
        pids+=($!)
        pk_pid=$!
        wait_http "http://127.0.0.1:$pk_port/" 20 || pk_note="Portkey did not start (see its log)"
    fi
else
    pk_note="Portkey not run (--no-portkey or --smoke)"
fi
wait_http "http://127.0.0.1:$proxy_port/_mock/health" 10 || die "nginx proxy_pass did not start"

# ---- the paths -----------------------------------------------------------------
ant_body=$tmp/ant.json oai_body=$tmp/oai.json pk_body=$tmp/pk.json
printf '{"model":"claude-sonnet-4-6","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}' >"$ant_body"
printf '{"model":"claude-sonnet-4-6","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}' >"$oai_body"
printf '{"model":"claude-sonnet-4-6","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}' >"$pk_body"
# The Responses API's body for the same prompt and the same cap: axon sends
# the mock the same Messages request as for the chat body (stored, the
# default, as a Responses client gets it).
resp_body=$tmp/resp.json
printf '{"model":"claude-sonnet-4-6","max_output_tokens":64,"input":"hi"}' >"$resp_body"
for b in ant oai pk resp; do
    sed 's/^{/{"stream":true,/' "$tmp/$b.json" >"$tmp/$b-stream.json"
done

paths="direct proxy lighttpd nginx"
[[ -n $base_dir ]] && paths+=" base-lighttpd base-nginx"
[[ -n $pk_pid && -z $pk_note ]] && paths+=" portkey"
# NAME [API] -> url, body stem and headers; API responses: an axon path's
# POST /v1/responses instead of its chat completions.
target() {
    case $1 in
    direct) url=$mock/v1/messages stem=ant
            hdr=(-H "x-api-key: sk-ant-bench" -H "anthropic-version: 2023-06-01") ;;
    proxy) url=http://127.0.0.1:$proxy_port/v1/messages stem=ant
            hdr=(-H "x-api-key: sk-ant-bench" -H "anthropic-version: 2023-06-01") ;;
    lighttpd) url=http://127.0.0.1:$light_port/v1/chat/completions stem=oai
            hdr=(-H "authorization: Bearer $key") ;;
    nginx) url=http://127.0.0.1:$nginx_port/v1/chat/completions stem=oai
            hdr=(-H "authorization: Bearer $key") ;;
    base-lighttpd) url=http://127.0.0.1:$base_light_port/v1/chat/completions stem=oai
            hdr=(-H "authorization: Bearer $key") ;;
    base-nginx) url=http://127.0.0.1:$base_nginx_port/v1/chat/completions stem=oai
            hdr=(-H "authorization: Bearer $key") ;;
    lighttpd-nostore) url=http://127.0.0.1:$ns_light_port/v1/chat/completions stem=oai
            hdr=(-H "authorization: Bearer $key") ;;
    nginx-nostore) url=http://127.0.0.1:$ns_nginx_port/v1/chat/completions stem=oai
            hdr=(-H "authorization: Bearer $key") ;;
    portkey) url=http://127.0.0.1:$pk_port/v1/chat/completions stem=pk
            hdr=(-H "x-portkey-provider: anthropic" -H "x-portkey-custom-host: $mock/v1"
                 -H "authorization: Bearer sk-ant-bench") ;;
    esac
    if [[ ${2:-chat} == responses ]]; then
        url=${url%/chat/completions}/responses stem=resp
    fi
}

# The processes of each path, by role, for the RSS figures.
children() { pgrep -P "$1" | tr '\n' ' '; }
declare -A roles
roles[mock]=$mock_pid
roles[redis]=$redis_pid
roles[proxy_nginx]="$proxy_pid $(children "$proxy_pid")"
roles[lighttpd_server]=$(ready lighttpd SERVER_PID)
roles[lighttpd_axon]=$(ready lighttpd AXON_PIDS)
roles[nginx_server]="$(ready nginx SERVER_PID) $(ready nginx WORKER_PIDS)"
roles[nginx_axon]=$(ready nginx AXON_PIDS)
if [[ -n $base_dir ]]; then
    roles[base_redis]=$base_redis_pid
    roles[base_lighttpd_server]=$(ready base-lighttpd SERVER_PID)
    roles[base_lighttpd_axon]=$(ready base-lighttpd AXON_PIDS)
    roles[base_nginx_server]="$(ready base-nginx SERVER_PID) $(ready base-nginx WORKER_PIDS)"
    roles[base_nginx_axon]=$(ready base-nginx AXON_PIDS)
fi
[[ -n $pk_pid ]] && roles[portkey]=$pk_pid
rss_kb() { # the summed VmRSS of PIDs
    local p t=0 v
    for p in $1; do
        v=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
        t=$((t + ${v:-0}))
    done
    echo "$t"
}
rss_snapshot() { # PHASE: one JSON line per role, and per axon process
    local r p
    for r in "${!roles[@]}"; do
        printf '{"kind":"rss","phase":"%s","role":"%s","kb":%s,"procs":%s}\n' "$1" "$r" \
            "$(rss_kb "${roles[$r]}")" "$(wc -w <<<"${roles[$r]}")"
    done >>"$tmp/results.jsonl"
}
# Open descriptors, for the sizing (docs/deploying.md): each open stream holds some in
# axon and some in the web server, counted in /proc/PID/fd at the peak of the
# hold phase, less the same processes' count when idle.
fd_count() { # the open descriptors of PIDs, summed (in $(...): nullglob stays local)
    shopt -s nullglob
    local p t=0
    local -a f
    for p in $1; do
        f=(/proc/"$p"/fd/*)
        t=$((t + ${#f[@]}))
    done
    echo "$t"
}
declare -A fd_roles=([lighttpd]="lighttpd_server lighttpd_axon" [nginx]="nginx_server nginx_axon")
if [[ -n $base_dir ]]; then
    fd_roles[base-lighttpd]="base_lighttpd_server base_lighttpd_axon"
    fd_roles[base-nginx]="base_nginx_server base_nginx_axon"
fi
fd_snapshot() { # PHASE [PATH N]: one JSON line per role of the axon paths
    local r all="${fd_roles[*]}"
    for r in $all; do
        [[ -n ${2:-} && " ${fd_roles[$2]} " != *" $r "* ]] && continue
        printf '{"kind":"fd","phase":"%s","path":"%s","n":%s,"role":"%s","count":%s}\n' \
            "$1" "${2:-}" "${3:-0}" "$r" "$(fd_count "${roles[$r]}")"
    done >>"$tmp/results.jsonl"
}
fd_sampler_pid=""
start_fd_sampler() { # PATH N: every 200 ms while a hold run lasts (the report takes the most)
    (while :; do fd_snapshot hold "$1" "$2"; sleep 0.2; done) &
    fd_sampler_pid=$!
}
stop_fd_sampler() {
    [[ -n $fd_sampler_pid ]] || return 0
    kill "$fd_sampler_pid" 2>/dev/null || true
    wait "$fd_sampler_pid" 2>/dev/null || true
    fd_sampler_pid=""
}

sampler_pid=""
start_sampler() { # PHASE: the most RSS seen while it runs, every 200 ms
    (while :; do rss_snapshot "$1"; sleep 0.2; done) &
    sampler_pid=$!
}
stop_sampler() { kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; }

run_load() { # [--responses] PATH MODE CONC REP extra loadgen args...
    local api=chat
    if [[ $1 == --responses ]]; then api=responses; shift; fi
    local name=$1 mode=$2 conc=$3 rep=$4 body
    shift 4
    target "$name" "$api"
    body=$tmp/$stem.json
    [[ $mode != plain ]] && body=$tmp/$stem-stream.json
    local line tag=""
    [[ $api == responses ]] && tag='"api":"responses",'
    # --sse: a chat stream (OpenAI's or Anthropic's) or a Responses stream.
    line=$(build/bench/loadgen --url "$url" --body "$body" --mode "$mode" --conc "$conc" \
        "${hdr[@]}" --sse "$api" --label "$name $api" "$@" 2>>"$tmp/loadgen.log") || {
        say "loadgen failed on $name $api $mode c=$conc"; line='{"ok":0,"errors":-1}'; }
    # The chat lines carry no "api" (older results read the same).
    printf '{"kind":"load","path":"%s",%s"mode":"%s","conc":%s,"rep":%s,"r":%s}\n' \
        "$name" "$tag" "$mode" "$conc" "$rep" "$line" >>"$tmp/results.jsonl"
    # shellcheck disable=SC2001
    say "$(printf '%-13s %-9s %-6s c=%-5s' "$name" "$api" "$mode" "$conc") $(sed 's/.*"ok":\([0-9]*\),"errors":\([0-9-]*\).*"rps":\([0-9.]*\).*/ok \1 errors \2 rps \3/' <<<"$line")"
}
mock_set() { curl -sf -o /dev/null "$mock/_mock/set?interval_ms=$1&tokens=$2"; }

# Every path answers once before anything is measured (and a Valkey round
# trip count is read from axon's test header).
for name in $paths $nostore_paths; do
    target "$name"
    code=$(curl -s -o "$tmp/first-$name" -w '%{http_code}' "${hdr[@]}" -H 'content-type: application/json' \
        --data-binary "@$tmp/$stem.json" "$url")
    [[ $code == 200 ]] || die "$name answered $code: $(head -c 300 "$tmp/first-$name")"
done
# The axon paths that serve POST /v1/responses: all of this build's; a
# baseline from before it answers 404, and its Responses rows are skipped.
resp_paths="" resp_note=""
for name in $axon_paths; do
    target "$name" responses
    code=$(curl -s -o "$tmp/first-$name-responses" -w '%{http_code}' "${hdr[@]}" \
        -H 'content-type: application/json' --data-binary "@$tmp/resp.json" "$url")
    if [[ $code == 200 ]]; then
        resp_paths+=" $name"
    elif [[ $name == base-* && $code == 404 ]]; then
        resp_note="the baseline $base_sha does not serve POST /v1/responses (404): no Responses figures for it"
    else
        die "$name answered $code on /v1/responses: $(head -c 300 "$tmp/first-$name-responses")"
    fi
done
[[ -n $resp_note ]] && say "$resp_note"
valkey_rt() { # BODY: the median of 5 x-axon-valkey-round-trips ($url, $hdr)
    local i
    for ((i = 0; i < 5; i++)); do
        curl -s -D - -o /dev/null "${hdr[@]}" -H 'content-type: application/json' \
            --data-binary "@$1" "$url" | tr -d '\r' |
            sed -n 's/^x-axon-valkey-round-trips: //p'
    done | sort -n | sed -n 3p
}
for server in $axon_paths; do
    target "$server"
    rt=$(valkey_rt "$tmp/oai.json")
    rt_resp=null
    if [[ " $resp_paths " == *" $server "* ]]; then
        target "$server" responses
        rt_resp=$(valkey_rt "$tmp/resp.json")
    fi
    printf '{"kind":"valkey_rt","path":"%s","new_conversation":%s,"new_response":%s}\n' \
        "$server" "${rt:-null}" "${rt_resp:-null}" >>"$tmp/results.jsonl"
done
for server in $nostore_paths; do
    target "$server"
    printf '{"kind":"valkey_rt","path":"%s","unstored":%s}\n' \
        "$server" "$(valkey_rt "$tmp/oai.json")" >>"$tmp/results.jsonl"
done

sleep 1
rss_snapshot idle
fd_snapshot idle

# ---- non-streaming ------------------------------------------------------------------
mock_set 0 7
say "non-streaming: concurrency $concs, ${duration}s each, $repeat repetition(s)"
start_sampler load
for ((rep = 0; rep < repeat; rep++)); do
    for conc in $concs; do
        for name in $paths; do
            run_load "$name" plain "$conc" "$rep" --duration "$duration" --warmup "$warmup"
        done
        if ((conc == 1)); then
            for name in $nostore_paths; do
                run_load "$name" plain "$conc" "$rep" --duration "$duration" --warmup "$warmup"
            done
        fi
        [[ " $resp_concs " == *" $conc "* ]] || continue
        for name in $resp_paths; do
            run_load --responses "$name" plain "$conc" "$rep" --duration "$duration" --warmup "$warmup"
        done
    done
done

# ---- what a request costs Valkey ------------------------------------------------------
# tests/bench/valkeycost.mjs: on each axon path's own redis-server, N
# requests of one kind one at a time (CONFIG RESETSTAT, then INFO
# commandstats, SLOWLOG and INFO cpu): a new conversation, a continued one,
# a Responses request with "store": false, and on the -nostore stacks a chat
# completion that stores nothing. Then, for the sizing, M new conversations
# at concurrency 32: redis-server's own CPU time per request under load.
vc_n=200 vc_m=4000 vc_warm=20
((smoke)) && vc_n=10 vc_m=100 vc_warm=5
valkey_cost() { # PATH KIND N CONC
    local line base_url
    target "$1"
    base_url=${url%/v1/chat/completions}
    if line=$(node tests/bench/valkeycost.mjs --url "$base_url" --key "$key" \
        --redis-port "${vport[$1]}" --kind "$2" --n "$3" --conc "$4" --warm "$vc_warm" --label "$1" \
        2>>"$tmp/valkeycost.log"); then
        echo "$line" >>"$tmp/results.jsonl"
        # shellcheck disable=SC2001
        say "$(printf 'valkey %-16s %-13s c=%-3s' "$1" "$2" "$4") $(sed 's/.*"usec":\([0-9.]*\).*"calls":\([0-9.]*\),"nested":\([0-9.]*\),"cpu_us":\([0-9.]*\),"rt":\([0-9a-z]*\).*/\1 µs, \2 + \3 commands, cpu \4 µs, \5 round trips/' <<<"$line")"
    elif [[ $1 == base-* ]]; then
        say "valkey cost $1 $2 failed (a baseline's failure is said, not failed on): $(tail -n 1 "$tmp/valkeycost.log")"
    else
        tail -n 5 "$tmp/valkeycost.log" >&2
        die "valkey cost $1 $2 failed"
    fi
}
say "Valkey per request: $vc_n requests of each kind one at a time, then $vc_m new conversations at c=32"
for name in $axon_paths; do
    valkey_cost "$name" new "$vc_n" 1
    valkey_cost "$name" continued "$vc_n" 1
    [[ " $resp_paths " == *" $name "* ]] && valkey_cost "$name" resp-unstored "$vc_n" 1
done
for name in $nostore_paths; do valkey_cost "$name" unstored "$vc_n" 1; done
for name in $axon_paths; do valkey_cost "$name" new "$vc_m" 32; done

# ---- streaming: time to first token and the gaps ------------------------------------
mock_set 5 20
say "streaming: one at a time, a token every 5 ms"
for ((rep = 0; rep < repeat; rep++)); do
    for name in $paths; do
        run_load "$name" stream 1 "$rep" --duration "$stream_dur" --warmup "$warmup"
    done
    for name in $resp_paths; do
        run_load --responses "$name" stream 1 "$rep" --duration "$stream_dur" --warmup "$warmup"
    done
done

# ---- open streams ---------------------------------------------------------------------
mock_set 100 40
say "open streams: $holds at once, each 4 s long"
for n in $holds; do
    for name in $paths; do
        [[ -n ${fd_roles[$name]:-} ]] && start_fd_sampler "$name" "$n"
        run_load "$name" hold "$n" 0 --ramp-ms 500 --timeout-s 30
        stop_fd_sampler
    done
done
stop_sampler
mock_set 0 7

if ((after_s > 0)); then
    say "waiting ${after_s}s after the load for the memory figures"
    sleep "$after_s"
fi
rss_snapshot after
fd_snapshot after

# ---- start-up -------------------------------------------------------------------------
startup() { # BUILD AXON REDIS_PORT
    AXON_API_KEYS=$key AXON_VALKEY_URL=redis://127.0.0.1:$3 AXON_LOG_LEVEL=error \
    ANTHROPIC_API_KEY=sk-ant-bench ANTHROPIC_BASE_URL=$mock \
        node tests/bench/startup.mjs "$2" "$((smoke ? 2 : 10))" |
        sed 's/^/{"kind":"startup","build":"'"$1"'","r":/; s/$/}/' >>"$tmp/results.jsonl"
}
startup current build/axon "$redis_port"
[[ -n $base_dir ]] && startup baseline "$base_dir/build/axon" "$base_redis_port"

# ---- instructions per request (callgrind) ---------------------------------------------
# Wall-clock figures move with the machine's other load; instruction counts
# do not. Axon runs behind nginx (its tree's run-stack.sh, AXON_BIN pointing
# at a valgrind wrapper) with one worker thread, so every instruction of the
# process between the zero and the dump belongs to the N requests.
cg_vgdb=$tmp/vgdb
cg_ctl() { # ARGS...: callgrind_control through our private vgdb prefix
    callgrind_control --vgdb-prefix="$cg_vgdb" "$@" >>"$tmp/callgrind.log" 2>&1 || {
        cat "$tmp/callgrind.log" >&2
        die "callgrind_control $* failed (is ptrace allowed here?)"; }
}
cg_measure() { # BUILD TREE AXON PORT REDIS_PORT MODES
    local build=$1 tree=$2 bin=$3 port=$4 rport=$5 modes=$6
    local wrap=$tmp/cg-$build.sh out=$tmp/cg-$build.out part=0
    local pid stack mode body round line file ir i path lmode sse
    # Niced: the count does not depend on speed, and the machine is shared.
    # shellcheck disable=SC2016  # "$@" is the wrapper's own
    printf '#!/bin/sh\nexec nice -n 10 valgrind --tool=callgrind -q --vgdb-prefix=%s --callgrind-out-file=%s %s "$@"\n' \
        "$cg_vgdb" "$out" "$bin" >"$wrap"
    chmod +x "$wrap"
    start_stack "cg-$build" "$tree" nginx "$port" "$rport" \
        AXON_BIN="$wrap" AXON_THREADS=1 AXON_MAX_THREADS=1
    stack=$last_pid
    wait_stack "cg-$build"
    pid=$(ready "cg-$build" AXON_PID)
    # MODES: plain and stream are chat completions; resp-plain and
    # resp-stream the same prompt through POST /v1/responses.
    for mode in $modes; do
        path=/v1/chat/completions body=$tmp/oai sse=chat lmode=${mode#resp-}
        if [[ $mode == resp-* ]]; then path=/v1/responses body=$tmp/resp sse=responses; fi
        if [[ $lmode == plain ]]; then body+=.json; mock_set 0 7
        else body+=-stream.json; mock_set 0 20
        fi
        # Warm-up: the first requests connect to Valkey and the upstream
        # (the first worker opens its upstream connections after its first).
        for round in warm 1 2; do
            local n=$cg_n
            [[ $round == warm ]] && n=5
            [[ $round != warm ]] && cg_ctl --zero "$pid"
            line=$(build/bench/loadgen --url "http://127.0.0.1:$port$path" \
                --body "$body" --mode "$lmode" --sse "$sse" --conc 1 --warmup 0 --requests "$n" \
                -H "authorization: Bearer $key" 2>>"$tmp/loadgen.log") || line=""
            [[ $line == *"\"ok\":$n,\"errors\":0,"* ]] ||
                die "callgrind $build $mode: $n requests did not all succeed: ${line:-loadgen failed}"
            [[ $round == warm ]] && continue
            cg_ctl --dump "$pid"
            part=$((part + 1))
            file=$out.$part
            for ((i = 0; i < 100; i++)); do
                grep -q '^totals:' "$file" 2>/dev/null && break
                sleep 0.1
            done
            ir=$(sed -n 's/^summary: *//p' "$file" 2>/dev/null)
            [[ $ir =~ ^[0-9]+$ ]] || die "callgrind $build $mode: no summary in $file"
            printf '{"kind":"callgrind","build":"%s","mode":"%s","n":%s,"round":%s,"ir":%s}\n' \
                "$build" "$mode" "$n" "$round" "$ir" >>"$tmp/results.jsonl"
            say "callgrind $build $mode round $round: $((ir / n)) instructions per request"
        done
    done
    mock_set 0 7
    kill -TERM "$stack" 2>/dev/null || true
    wait "$stack" 2>/dev/null || true
}
if ((cg_n > 0)); then
    command -v callgrind_control >/dev/null || die "callgrind_control is missing (it comes with valgrind)"
    say "callgrind: $cg_n requests of each kind, twice, behind nginx with one worker thread"
    cg_measure current "$repo" "$repo/build/axon" "$cg_port" "$redis_port" "plain stream resp-plain resp-stream"
    if [[ -n $base_dir ]]; then
        cg_modes="plain stream"
        [[ " $resp_paths " == *" base-nginx "* ]] && cg_modes+=" resp-plain resp-stream"
        cg_measure baseline "$base_dir" "$base_dir/build/axon" "$base_cg_port" "$base_redis_port" "$cg_modes"
    fi
elif [[ -z $cg_note ]]; then
    cg_note="callgrind not run (--callgrind 0)"
fi

# ---- the table ------------------------------------------------------------------------
if ((smoke)); then command="make bench-smoke"
elif [[ -z $args ]]; then command="make bench"
else command="tests/bench/run.sh $args"
fi
cp "$tmp/results.jsonl" "$out/results.jsonl"
node tests/bench/report.mjs "$out/results.jsonl" \
    --provenance "$(tests/docs/results.sh provenance "$command")" \
    --note "$pk_note" --resp-note "$resp_note" --cg-note "$cg_note" --smoke "$smoke" \
    --baseline "${base_dir:+$(git rev-parse --short "$base_sha")}" --baseline-ref "$baseline" \
    >"$out/bench.md"
cat "$out/bench.md"
say "written to $out/bench.md (raw: $out/results.jsonl)"
if [[ -n $results ]]; then
    tests/docs/results.sh write "$results" bench <"$out/bench.md"
    say "and into $results (its bench section)"
    # The README's Sizing section quotes the sizing line of the same run,
    # with its provenance, so the figure there is never typed by hand.
    if [[ $results == docs/results/bench.md ]] && sizing=$(grep -m1 '^Sizing: ' "$out/bench.md"); then
        { head -n1 "$out/bench.md"; echo; printf '%s\n' "${sizing#Sizing: }"; } |
            tests/docs/results.sh write README.md bench-sizing
        say "and the sizing line into README.md"
    fi
fi
# A path that gave errors fails the run (the smoke run's only assertion).
# The baseline's errors are said, not failed on: an old commit may have had
# the bug a later one fixed, and the table shows them.
# shellcheck disable=SC2016  # the ${...} are JavaScript's
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
  const bad = lines.filter((l) => l.kind === "load" && l.r.errors !== 0 && l.path !== "portkey");
  const fails = bad.filter((b) => !b.path.startsWith("base-"));
  for (const b of bad) console.error(`bench: ${b.path} ${b.mode} c=${b.conc}: ${b.r.errors} error(s)`);
  process.exit(fails.length ? 1 : 0);' "$out/results.jsonl"
