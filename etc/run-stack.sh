#!/usr/bin/env bash
# Run Axon behind a web server, in the foreground, on 127.0.0.1.
#
#   etc/run-stack.sh                      # lighttpd on port 8080, fresh key, own Valkey
#   AXON_SERVER=nginx AXON_PORT=9090 etc/run-stack.sh
#   AXON_SERVER=apache AXON_BASE_PATH=/axon etc/run-stack.sh   # http://127.0.0.1:8080/axon/
#
# Environment (all optional):
#   AXON_BIN         axon binary (default: build/axon in the repository)
#   AXON_SERVER      which web server, and how axon runs behind it:
#                      lighttpd             lighttpd spawns axon (etc/lighttpd.conf; default)
#                      lighttpd-spawn-fcgi  axon under spawn-fcgi (etc/lighttpd-spawn-fcgi.conf)
#                      nginx                axon --listen (etc/nginx.conf)
#                      apache               mod_proxy_fcgi, axon under spawn-fcgi (etc/apache.conf)
#                      apache-fcgid         mod_fcgid starts axon.fcgi from the document
#                                           root, as on shared hosting (etc/apache-fcgid.conf)
#                    axon itself is told the server's name (lighttpd, nginx or apache)
#   AXON_BASE_PATH   serve everything under this prefix (/axon), as a shared
#                    web server would; empty (default) for none
#   AXON_PORT        HTTP port (default 8080); fails if the port is taken
#   AXON_VALKEY_URL  Valkey/Redis to use; if unset a private redis-server is started
#   AXON_API_KEYS    comma-separated keys; if unset (and no AXON_API_KEYS_FILE) a
#                    fresh random sk-axon-... key is generated
#   STACK_DIR        directory for rendered configs, sockets, pid files and temp
#                    files (default: a new mktemp -d directory, removed on exit)
#   WWW_ROOT         static files (default: www/ in the repository)
#   TMPDIR           where the Apache stacks stage what Apache's user opens
#                    (default /tmp; see "Apache's user" below)
#   Any other AXON_* variable (AXON_TEST_ROUTES, AXON_THREADS, ...) reaches axon.
#
# When /health answers 200 it prints the base URL and key, and writes
# $STACK_DIR/ready (NAME=value lines: AXON_URL, AXON_KEY, STACK_DIR and PIDs).
# It stops everything it started, by PID, on Ctrl-C / SIGTERM / any exit (SIGTERM,
# then SIGKILL after STOP_TIMEOUT_S, so in-flight streams get that long, not
# AXON_DRAIN_S), and exits non-zero if a component dies on its own.
# shellcheck disable=SC2317  # cleanup and its helpers run from traps
set -euo pipefail

repo_root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf 'run-stack: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

STOP_TIMEOUT_S=5      # SIGTERM grace before SIGKILL
READY_TIMEOUT_S=30    # how long to wait for /health (an ASan build starts slowly)

# ---- state used by cleanup -------------------------------------------------
declare -a names=() pids=()   # processes started here, in start order
created_stack_dir=""
created_run_dir=""    # the Apache stacks' staging directory (RUN_DIR)
cleaned_up=""

# Running = exists and is not a zombie (a dead child we have not reaped yet).
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# All descendants of a PID (lighttpd's axon children, nginx's workers).
descendants() {
    local child
    for child in $(pgrep -P "$1" 2>/dev/null || true); do
        printf '%s\n' "$child"
        descendants "$child"
    done
}

name_of() {
    local i
    for i in "${!pids[@]}"; do
        [[ ${pids[$i]} == "$1" ]] && { printf '%s' "${names[$i]}"; return; }
    done
    printf 'child of the stack'
}

cleanup() {
    [[ -n $cleaned_up ]] && return
    cleaned_up=1
    trap '' INT TERM   # a second Ctrl-C must not interrupt the cleanup
    [[ -n ${STACK_DIR:-} ]] && rm -f -- "$STACK_DIR/ready"

    # Collect children of our processes before their parents go away. Only the
    # processes we started get SIGTERM: lighttpd passes it on to the axon it
    # spawned and nginx stops its workers (a second SIGTERM would make axon skip
    # its drain). Whatever is still running after the grace period gets SIGKILL.
    local -a all=() left=()
    local pid i
    for pid in "${pids[@]}"; do
        all+=("$pid")
        while read -r i; do [[ -n $i ]] && all+=("$i"); done < <(descendants "$pid")
    done
    for pid in "${pids[@]}"; do
        if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    for ((i = 0; i < STOP_TIMEOUT_S * 10; i++)); do
        left=()
        for pid in "${all[@]}"; do alive "$pid" && left+=("$pid"); done
        ((${#left[@]} == 0)) && break
        sleep 0.1
    done
    for pid in "${left[@]}"; do
        if alive "$pid"; then
            log "$(name_of "$pid") (pid $pid) did not exit within ${STOP_TIMEOUT_S}s of SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done   # reap

    if [[ -n $created_stack_dir ]]; then
        rm -rf -- "$created_stack_dir"
    fi
    if [[ -n $created_run_dir ]]; then
        rm -rf -- "$created_run_dir"
    fi
}
trap cleanup EXIT
trap 'log "caught SIGINT, stopping"; exit 0' INT
trap 'log "caught SIGTERM, stopping"; exit 0' TERM

# ---- helpers ---------------------------------------------------------------
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed ($2)"; }

# Something accepts connections on 127.0.0.1:PORT (bash's /dev/tcp, in a subshell
# so a refused connection cannot end this script).
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A loopback port nothing listens on, tried at random below the kernel's default
# ephemeral range (32768-60999), so outgoing connections do not occupy it, and
# below 26384: the test suites hand out AXON_PORTs from 26384-32767
# (tests/integration/lib.mjs), which a stack binds only at its end.
free_port() {
    local port tries
    for ((tries = 0; tries < 100; tries++)); do
        port=$((20000 + RANDOM % 6384))
        port_taken "$port" || { printf '%s\n' "$port"; return; }
    done
    die "found no free loopback port"
}

# start NAME CMD...: run in the background and remember the PID. setsid (which
# execs in place, keeping the PID) puts it in its own session, so a Ctrl-C in the
# terminal reaches only this script, which then stops everything in order.
start() {
    local name=$1; shift
    setsid "$@" &
    names+=("$name")
    pids+=("$!")
}

# Fail early (with the component's name) if something we started already died.
check_running() {
    local i
    for i in "${!pids[@]}"; do
        alive "${pids[$i]}" || die "${names[$i]} (pid ${pids[$i]}) exited during startup; see its messages above"
    done
}

# Escape a value for the right-hand side of a sed s|||.
sed_escape() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }

render() {   # render TEMPLATE OUTPUT
    sed -e "s|\${AXON_PORT}|$(sed_escape "$AXON_PORT")|g" \
        -e "s|\${AXON_BIN}|$(sed_escape "$AXON_BIN")|g" \
        -e "s|\${AXON_SOCKET}|$(sed_escape "$AXON_SOCKET")|g" \
        -e "s|\${WWW_ROOT}|$(sed_escape "$WWW_ROOT")|g" \
        -e "s|\${STACK_DIR}|$(sed_escape "$STACK_DIR")|g" \
        -e "s|\${RUN_DIR}|$(sed_escape "${RUN_DIR:-}")|g" \
        -e "s|\${AXON_BASE_PATH}|$(sed_escape "$AXON_BASE_PATH")|g" \
        -e "s|\${APACHE_USER}|$(sed_escape "${apache_user:-}")|g" \
        -e "s|\${DOC_ROOT}|$(sed_escape "${doc_root:-}")|g" \
        "$1" > "$2"
    # shellcheck disable=SC2016  # a literal ${...}
    if grep -q '\${[A-Z_]*}' "$2"; then
        die "$1 has placeholders run-stack.sh does not know: $(grep -o '\${[A-Z_]*}' "$2" | sort -u | tr '\n' ' ')"
    fi
}

# ---- inputs ----------------------------------------------------------------
AXON_BIN=${AXON_BIN:-$repo_root/build/axon}
[[ $AXON_BIN == /* ]] || AXON_BIN=$PWD/$AXON_BIN
[[ -x $AXON_BIN ]] || die "axon binary '$AXON_BIN' not found or not executable (run 'make', or set AXON_BIN)"
[[ $AXON_BIN != *[[:space:]]* ]] || die "AXON_BIN must not contain whitespace: $AXON_BIN"

# Settings may also live in the file axon itself reads ($AXON_CONFIG, else
# etc/axon.conf); the environment wins, and in the file the first line wins,
# as in axon. Axon is pointed at the same file.
conf=${AXON_CONFIG:-$repo_root/etc/axon.conf}
if [[ -f $conf ]]; then
    export AXON_CONFIG=$conf
    for name in AXON_SERVER AXON_PORT AXON_VALKEY_URL AXON_API_KEYS AXON_API_KEYS_FILE; do
        [[ -n ${!name:-} ]] && continue
        val=$(sed -n -e "s/^[[:space:]]*$name[[:space:]]*=[[:space:]]*//p" -- "$conf" | head -n 1)
        val=${val%"${val##*[![:space:]]}"}
        if [[ $val == \"*\" || $val == \'*\' ]]; then val=${val:1:${#val}-2}; fi
        if [[ -n $val ]]; then printf -v "$name" '%s' "$val"; fi
    done
elif [[ -n ${AXON_CONFIG:-} ]]; then
    die "AXON_CONFIG=$AXON_CONFIG: no such file"
fi

AXON_SERVER=${AXON_SERVER:-lighttpd}
case $AXON_SERVER in
    lighttpd) need lighttpd "apt-get install lighttpd" ;;
    lighttpd-spawn-fcgi)
        need lighttpd "apt-get install lighttpd"
        need spawn-fcgi "apt-get install spawn-fcgi" ;;
    nginx)    need nginx "apt-get install nginx-light" ;;
    apache)
        need apache2 "apt-get install apache2"
        need spawn-fcgi "apt-get install spawn-fcgi" ;;
    apache-fcgid)
        need apache2 "apt-get install apache2"
        [[ -f /usr/lib/apache2/modules/mod_fcgid.so ]] ||
            die "mod_fcgid is not installed (apt-get install libapache2-mod-fcgid)" ;;
    *)  die "AXON_SERVER must be lighttpd, lighttpd-spawn-fcgi, nginx, apache or apache-fcgid, not '$AXON_SERVER'" ;;
esac
stack_kind=$AXON_SERVER
AXON_SERVER=${AXON_SERVER%%-*}   # what axon is told: the server's name

# A prefix as axon takes it: a leading slash, no trailing one.
AXON_BASE_PATH=${AXON_BASE_PATH:-}
while [[ $AXON_BASE_PATH == */ ]]; do AXON_BASE_PATH=${AXON_BASE_PATH%/}; done
if [[ -n $AXON_BASE_PATH && ! $AXON_BASE_PATH =~ ^(/[A-Za-z0-9._~-]+)+$ ]]; then
    die "AXON_BASE_PATH must look like /axon (letters, digits, -._~ and single slashes), not '$AXON_BASE_PATH'"
fi
need curl "apt-get install curl"

AXON_PORT=${AXON_PORT:-8080}
if ! [[ $AXON_PORT =~ ^[0-9]{1,5}$ ]] || ((10#$AXON_PORT < 1 || 10#$AXON_PORT > 65535)); then
    die "AXON_PORT must be a port number (1-65535), not '$AXON_PORT'"
fi
if port_taken "$AXON_PORT"; then
    die "port $AXON_PORT on 127.0.0.1 is already in use; stop whatever holds it or set AXON_PORT to another port"
fi

WWW_ROOT=${WWW_ROOT:-$repo_root/www}
[[ -d $WWW_ROOT ]] || die "WWW_ROOT '$WWW_ROOT' is not a directory"
WWW_ROOT=$(cd -- "$WWW_ROOT" && pwd)

if [[ -z ${STACK_DIR:-} ]]; then
    STACK_DIR=$(mktemp -d -t axon-stack.XXXXXXXX)
    created_stack_dir=$STACK_DIR
else
    mkdir -p -- "$STACK_DIR"
    STACK_DIR=$(cd -- "$STACK_DIR" && pwd)
    rm -f -- "$STACK_DIR/ready"
fi
AXON_SOCKET=$STACK_DIR/axon.sock
# sun_path holds 108 bytes; lighttpd appends "-0".
((${#AXON_SOCKET} < 100)) || die "socket path too long for a unix socket: $AXON_SOCKET (use a shorter STACK_DIR)"

if [[ -z ${AXON_API_KEYS:-} && -z ${AXON_API_KEYS_FILE:-} ]]; then
    AXON_API_KEYS="sk-axon-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
fi
# The key to show: the first of AXON_API_KEYS, else the first line of the file.
key=""
if [[ -n ${AXON_API_KEYS:-} ]]; then
    key=${AXON_API_KEYS%%,*}
elif [[ -r $AXON_API_KEYS_FILE ]]; then
    key=$(sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -- "$AXON_API_KEYS_FILE" | grep -v -e '^#' -e '^$' | head -n 1 || true)
fi

export AXON_SERVER AXON_PORT AXON_BASE_PATH
[[ -n ${AXON_API_KEYS:-} ]] && export AXON_API_KEYS

# ---- Valkey ----------------------------------------------------------------
redis_note=""
if [[ -z ${AXON_VALKEY_URL:-} ]]; then
    need redis-server "apt-get install redis-server, or set AXON_VALKEY_URL"
    redis_port=$(free_port)
    start redis redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$STACK_DIR" --logfile "$STACK_DIR/redis.log"
    AXON_VALKEY_URL=redis://127.0.0.1:$redis_port
    redis_note=" (started here)"
    for ((i = 0; ; i++)); do
        check_running
        # A bare PING over bash's /dev/tcp (no redis-cli needed), in a subshell so
        # that a refused connection cannot end this script.
        reply=$( (exec 3<>"/dev/tcp/127.0.0.1/$redis_port" && printf 'PING\r\n' >&3 &&
                  read -r -t 2 line <&3 && printf '%s' "$line") 2>/dev/null || true)
        [[ $reply == +PONG* ]] && break
        ((i < 100)) || die "redis-server did not answer PING on port $redis_port within 10s"
        sleep 0.1
    done
fi
export AXON_VALKEY_URL

# ---- Claude upstream -------------------------------------------------------
# Without ANTHROPIC_API_KEY the stack answers from the mock Claude in
# tests/mock, so the page and the examples work offline.
claude_note=""
if [[ -z ${ANTHROPIC_API_KEY:-} && -z ${ANTHROPIC_API_KEY_FILE:-} ]]; then
    need node "apt-get install nodejs, or set ANTHROPIC_API_KEY"
    mock_port=$(free_port)
    start mock-claude node "$repo_root/tests/mock/anthropic.mjs" --port "$mock_port"
    for ((i = 0; ; i++)); do
        check_running
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
               "http://127.0.0.1:$mock_port/_mock/health" || true)
        [[ $code == 200 ]] && break
        ((i < 100)) || die "the mock Claude did not start on port $mock_port within 10s"
        sleep 0.1
    done
    ANTHROPIC_API_KEY=sk-ant-mock-key
    ANTHROPIC_BASE_URL=http://127.0.0.1:$mock_port
    claude_note=" (the mock in tests/mock: set ANTHROPIC_API_KEY for the real Claude)"
fi
ANTHROPIC_BASE_URL=${ANTHROPIC_BASE_URL:-https://api.anthropic.com}
export ANTHROPIC_API_KEY ANTHROPIC_BASE_URL

# ---- OpenAI-compatible upstream ----------------------------------------------
# Offline (the mock Claude above) the stack also gets the mock vLLM, serving
# qwen3-coder and Qwen/Qwen3-8B with reasoning, so both routes can be tried.
# Set AXON_VLLM_BASE_URL for a real one; a real Claude key alone adds none.
vllm_note=""
if [[ -z ${AXON_VLLM_BASE_URL:-} && -n $claude_note ]]; then
    vllm_port=$(free_port)
    start mock-vllm node "$repo_root/tests/mock/openai.mjs" --port "$vllm_port"
    for ((i = 0; ; i++)); do
        check_running
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
               "http://127.0.0.1:$vllm_port/_mock/health" || true)
        [[ $code == 200 ]] && break
        ((i < 100)) || die "the mock vLLM did not start on port $vllm_port within 10s"
        sleep 0.1
    done
    AXON_VLLM_BASE_URL=http://127.0.0.1:$vllm_port
    vllm_note=" (the mock in tests/mock: set AXON_VLLM_BASE_URL for a real server)"
fi
[[ -n ${AXON_VLLM_BASE_URL:-} ]] && export AXON_VLLM_BASE_URL

# ---- web server and axon ---------------------------------------------------
# Axon on its own socket, for the servers that only forward. $1 is how:
# "listen" (axon opens it) or "spawn-fcgi" (as etc/axon.service runs it,
# the socket given to $2 when we are root, so the server's user can write
# it). A stale socket from a killed run would fool the wait.
start_axon() {
    rm -f -- "$AXON_SOCKET"
    if [[ $1 == listen ]]; then
        start axon "$AXON_BIN" --listen "$AXON_SOCKET"
    else
        local owner=()
        ((EUID == 0)) && [[ -n ${2:-} ]] && owner=(-U "$2" -G "$2")
        start axon spawn-fcgi -n -s "$AXON_SOCKET" -M 0660 "${owner[@]}" -- "$AXON_BIN"
    fi
    for ((i = 0; ; i++)); do
        check_running
        [[ -S $AXON_SOCKET ]] && break
        ((i < READY_TIMEOUT_S * 10)) || die "axon did not create $AXON_SOCKET within ${READY_TIMEOUT_S}s"
        sleep 0.1
    done
}

# ---- Apache's user -----------------------------------------------------------
# Apache will not serve as root: started as root, its children (and under
# mod_fcgid axon too) run as www-data. The checkout may sit where that user
# cannot enter (a home of mode 0700 such as /root, a `mktemp -d`), and so may
# STACK_DIR. So everything Apache's user opens is staged in a directory of its
# own, RUN_DIR (0755, made with mktemp under TMPDIR, removed on exit): the
# page, Apache's runtime files (pid file, mutexes, mod_fcgid's sockets), axon's
# socket, and under mod_fcgid the document root with axon.fcgi, plus the axon
# binary and the files axon reads when that user cannot read them in place.
# The rendered configs stay in STACK_DIR: only Apache's root parent reads them.
apache_user=$(id -un)
RUN_DIR=""
# as_apache CMD...: run a check as Apache's user.
as_apache() {
    if [[ $apache_user == "$(id -un)" ]]; then "$@"; else runuser -u "$apache_user" -- "$@"; fi
}
if [[ $AXON_SERVER == apache ]]; then
    ((EUID == 0)) && apache_user=www-data
    RUN_DIR=$(mktemp -d -t axon-apache.XXXXXXXX)
    created_run_dir=$RUN_DIR
    chmod 755 -- "$RUN_DIR"
    AXON_SOCKET=$RUN_DIR/axon.sock
    ((${#AXON_SOCKET} < 100)) || die "socket path too long for a unix socket: $AXON_SOCKET (use a shorter TMPDIR)"
    as_apache test -x "$RUN_DIR" ||
        die "$apache_user cannot enter $RUN_DIR: set TMPDIR to a directory whose parents it may enter"
fi

# stage_private NAME MODE COPY: when Apache's user cannot read the file the
# variable NAME names, copy it to RUN_DIR/private/COPY (the directory 0750 and
# the copy MODE, both of group $apache_user, so no other user reads a key
# file's copy) and export NAME as the copy.
stage_private() {
    local name=$1 mode=$2 file=${!1:-}
    [[ -n $file && -f $file ]] || return 0
    as_apache test -r "$file" && return 0
    local dir=$RUN_DIR/private
    if [[ ! -d $dir ]]; then
        mkdir -m 750 -- "$dir"
        chgrp -- "$apache_user" "$dir"
    fi
    cp -- "$file" "$dir/$3"
    chmod "$mode" -- "$dir/$3"
    chgrp -- "$apache_user" "$dir/$3"
    printf -v "$name" '%s' "$dir/$3"
    export "${name?}"
}

# Apache's -t prints "Syntax OK" on success, and the reason on failure.
apache_check() {
    local out
    out=$(apache2 -t -f "$1" 2>&1) || { printf '%s\n' "$out" >&2; die "apache2 rejected $1"; }
}

case $stack_kind in
lighttpd)
    render "$repo_root/etc/lighttpd-base.conf" "$STACK_DIR/lighttpd-base.conf"
    render "$repo_root/etc/lighttpd.conf" "$STACK_DIR/lighttpd.conf"
    lighttpd -tt -f "$STACK_DIR/lighttpd.conf" || die "lighttpd rejected $STACK_DIR/lighttpd.conf"
    # lighttpd creates the socket and spawns axon with it on fd 0 (bin-path).
    start lighttpd lighttpd -D -f "$STACK_DIR/lighttpd.conf"
    ;;
lighttpd-spawn-fcgi)
    render "$repo_root/etc/lighttpd-base.conf" "$STACK_DIR/lighttpd-base.conf"
    render "$repo_root/etc/lighttpd-spawn-fcgi.conf" "$STACK_DIR/lighttpd.conf"
    lighttpd -tt -f "$STACK_DIR/lighttpd.conf" || die "lighttpd rejected $STACK_DIR/lighttpd.conf"
    start_axon spawn-fcgi
    start lighttpd lighttpd -D -f "$STACK_DIR/lighttpd.conf"
    ;;
apache)
    # The page, readable by Apache's user (cp as root keeps no odd modes).
    mkdir -- "$RUN_DIR/www"
    cp -R -- "$WWW_ROOT"/. "$RUN_DIR/www"/
    chmod -R a+rX -- "$RUN_DIR/www"
    WWW_ROOT=$RUN_DIR/www
    render "$repo_root/etc/apache.conf" "$STACK_DIR/apache.conf"
    apache_check "$STACK_DIR/apache.conf"
    start_axon spawn-fcgi "$apache_user"
    start apache apache2 -f "$STACK_DIR/apache.conf" -DFOREGROUND
    ;;
apache-fcgid)
    # The shared-hosting layout: the page, .htaccess and axon.fcgi in a
    # directory of the document root; the wrapper sets axon's environment
    # (mod_fcgid passes none of ours) and execs the binary, all as Apache's
    # user: what it cannot read in place is staged (stage_private).
    doc_root=$RUN_DIR/htdocs
    site=$doc_root$AXON_BASE_PATH
    mkdir -p -- "$site" "$RUN_DIR/fcgid"
    cp -R -- "$WWW_ROOT"/. "$site"/
    cp -- "$repo_root/etc/htaccess-fcgid" "$site/.htaccess"
    chmod -R a+rX -- "$doc_root"
    # The model table the binary finds on its own is its build tree's
    # etc/models.conf: name it, so that a copy can stand in for it.
    if [[ -z ${AXON_MODELS_FILE:-} && -f $repo_root/etc/models.conf ]] &&
        ! as_apache test -r "$repo_root/etc/models.conf"; then
        export AXON_MODELS_FILE=$repo_root/etc/models.conf
    fi
    # The binary keeps its name (tests find axon processes by it).
    stage_private AXON_BIN 750 axon
    stage_private AXON_CONFIG 640 axon.conf
    stage_private AXON_MODELS_FILE 640 models.conf
    stage_private AXON_API_KEYS_FILE 640 api-keys
    stage_private ANTHROPIC_API_KEY_FILE 640 anthropic-key
    {
        printf '#!/bin/sh\n# Written by etc/run-stack.sh from the environment; see etc/axon.fcgi.\n'
        printf 'export AXON_THREADS=1 AXON_MAX_THREADS=1\n'
        while IFS= read -r name; do
            printf 'export %s=%q\n' "$name" "${!name}"
        done < <(compgen -e | grep -E '^(AXON_|ANTHROPIC_|ASAN_|UBSAN_|LSAN_)' |
                 grep -vx -e AXON_THREADS -e AXON_MAX_THREADS -e AXON_BIN)
        printf 'exec %q\n' "$AXON_BIN"
    } > "$site/axon.fcgi"
    chmod 755 -- "$site/axon.fcgi"
    ((EUID == 0)) && chown -R "$apache_user:" -- "$doc_root" "$RUN_DIR/fcgid"
    as_apache test -x "$AXON_BIN" -a -r "$site/axon.fcgi" ||
        die "$apache_user cannot run $AXON_BIN or read $site/axon.fcgi"
    render "$repo_root/etc/apache-fcgid.conf" "$STACK_DIR/apache.conf"
    apache_check "$STACK_DIR/apache.conf"
    start apache apache2 -f "$STACK_DIR/apache.conf" -DFOREGROUND
    ;;
nginx)
    render "$repo_root/etc/nginx.conf" "$STACK_DIR/nginx.conf"
    # nginx only forwards, so axon opens its own socket.
    start_axon listen
    # Started as root, nginx would run its workers as "nobody", which cannot reach
    # the socket in this private directory; keep them as the invoking user.
    nginx_globals="daemon off;"
    ((EUID == 0)) && nginx_globals+=" user root;"
    nginx_args=(-p "$STACK_DIR" -c "$STACK_DIR/nginx.conf" -e stderr -g "$nginx_globals")
    if ! out=$(nginx -t -q "${nginx_args[@]}" 2>&1); then
        printf '%s\n' "$out" >&2
        die "nginx rejected $STACK_DIR/nginx.conf"
    fi
    start nginx nginx "${nginx_args[@]}"
    ;;
esac

base=http://127.0.0.1:$AXON_PORT$AXON_BASE_PATH
for ((i = 0; ; i++)); do
    check_running
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$base/health" || true)
    [[ $code == 200 ]] && break
    ((i < READY_TIMEOUT_S * 10)) || die "$base/health did not answer 200 within ${READY_TIMEOUT_S}s (last status: ${code:-none})"
    sleep 0.1
done

# ---- ready -----------------------------------------------------------------
server_pid="" axon_pids="" worker_pids="" redis_pid="" mock_pid="" vllm_mock_pid=""
for i in "${!pids[@]}"; do
    case ${names[$i]} in
        lighttpd|nginx|apache) server_pid=${pids[$i]} ;;
        axon)           axon_pids=${pids[$i]} ;;
        redis)          redis_pid=${pids[$i]} ;;
        mock-claude)    mock_pid=${pids[$i]} ;;
        mock-vllm)      vllm_mock_pid=${pids[$i]} ;;
    esac
done
children=$(pgrep -P "$server_pid" | tr '\n' ' ' || true)
children=${children% }
# lighttpd's children are axon; Apache's are its workers, and under mod_fcgid
# axon starts later, on demand, as a grandchild (find it with pgrep then).
if [[ $stack_kind == lighttpd ]]; then axon_pids=$children; else worker_pids=$children; fi

{
    printf 'AXON_URL=%s\n' "$base/v1"
    printf 'AXON_KEY=%s\n' "$key"
    printf 'AXON_SERVER=%s\n' "$stack_kind"
    printf 'AXON_BASE_PATH=%s\n' "$AXON_BASE_PATH"
    printf 'AXON_VALKEY_URL=%s\n' "$AXON_VALKEY_URL"
    printf 'ANTHROPIC_BASE_URL=%s\n' "$ANTHROPIC_BASE_URL"
    printf 'STACK_DIR=%s\n' "$STACK_DIR"
    printf 'RUN_DIR=%s\n' "$RUN_DIR"
    printf 'AXON_BIN=%s\n' "$AXON_BIN"
    printf 'RUN_STACK_PID=%s\n' "$$"
    printf 'SERVER_PID=%s\n' "$server_pid"
    printf 'AXON_PID=%s\n' "${axon_pids%% *}"
    printf 'AXON_PIDS=%s\n' "$axon_pids"
    printf 'WORKER_PIDS=%s\n' "$worker_pids"
    printf 'REDIS_PID=%s\n' "$redis_pid"
    printf 'MOCK_PID=%s\n' "$mock_pid"
    printf 'AXON_VLLM_BASE_URL=%s\n' "${AXON_VLLM_BASE_URL:-}"
    printf 'VLLM_MOCK_PID=%s\n' "$vllm_mock_pid"
} > "$STACK_DIR/ready.tmp"
mv -- "$STACK_DIR/ready.tmp" "$STACK_DIR/ready"

cat <<EOF
Axon is up behind $stack_kind.
  base URL  $base/v1
  API key   ${key:-(from AXON_API_KEYS_FILE)}
  try       curl -s $base/v1/models -H 'Authorization: Bearer ${key:-YOUR_KEY}'
  web page  $base/
  valkey    $AXON_VALKEY_URL$redis_note
  claude    $ANTHROPIC_BASE_URL$claude_note
  vllm      ${AXON_VLLM_BASE_URL:-(none: set AXON_VLLM_BASE_URL)}$vllm_note
  state     $STACK_DIR (ready file: $STACK_DIR/ready)
Press Ctrl-C to stop.
EOF

# ---- foreground ------------------------------------------------------------
# Signals interrupt `wait` and run the traps above. If a component exits on its
# own, say which one and with what status, then stop the rest.
status=0
unset exited
wait -n -p exited "${pids[@]}" || status=$?
log "$(name_of "${exited:-?}") (pid ${exited:-?}) exited with status $status; stopping the stack"
exit 1
