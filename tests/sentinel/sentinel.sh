#!/usr/bin/env bash
# A Sentinel-managed Valkey on loopback for tests: one primary and one
# replica (redis-server) and three Sentinels (redis-server --sentinel) that
# know the primary as "mymaster" with quorum 2.
#
#   tests/sentinel/sentinel.sh start DIR BASEPORT   # waits until they agree
#   tests/sentinel/sentinel.sh stop DIR
#
# Ports: BASEPORT the primary, +1 the replica, +2..+4 the Sentinels. DIR holds
# each process's config, log and pid file (DIR/{primary,replica,s1,s2,s3}.pid).
# down-after-milliseconds 500 and failover-timeout 2000 make a failover take
# about 1-2 s. The data nodes keep no files (no RDB, no AOF): what survives a
# primary's death is what the replica holds, which is what is tested.
# "start" exits 0 once all three Sentinels name the same primary and see the
# replica and the two other Sentinels; non-zero (stopping what it started)
# when that does not happen within 20 s.
# SENTINEL_PASSWORD set: every process, Sentinels included, requires it (as
# charts that protect both with one password do), and the Sentinels and the
# replica use it towards the primary.
set -euo pipefail

die() { printf 'sentinel.sh: %s\n' "$*" >&2; exit 1; }
cmd=${1:-}
dir=${2:-}
[[ -n $cmd && -n $dir ]] || die "usage: $0 start DIR BASEPORT | stop DIR"

pw=${SENTINEL_PASSWORD:-}
cli() { # $1: port, rest: the command
    local port=$1
    shift
    REDISCLI_AUTH=$pw redis-cli -h 127.0.0.1 -p "$port" --raw "$@" 2>/dev/null
}

stop() {
    local f pid
    for f in "$dir"/*.pid; do
        [[ -e $f ]] || continue
        pid=$(cat "$f" 2>/dev/null) || continue
        [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null || true
        rm -f "$f"
    done
}

if [[ $cmd == stop ]]; then
    stop
    exit 0
fi
[[ $cmd == start ]] || die "unknown command $cmd"
base=${3:-}
[[ $base =~ ^[0-9]+$ ]] || die "BASEPORT must be a number"
command -v redis-server >/dev/null || die "redis-server is not installed (apt-get install redis-server)"
mkdir -p "$dir"
primary=$base replica=$((base + 1))

node() { # $1: name, $2: port, rest: extra options
    local name=$1 port=$2 auth=()
    shift 2
    [[ -n $pw ]] && auth=(--requirepass "$pw" --masterauth "$pw")
    # --daemonize writes the pid file itself, and the process leaves this
    # shell, so a test runner's wait never blocks on it.
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$dir" --daemonize yes --pidfile "$dir/$name.pid" \
        --logfile "$dir/$name.log" "${auth[@]}" "$@" || die "$name did not start"
}
node primary "$primary"
node replica "$replica" --replicaof 127.0.0.1 "$primary"
for i in 1 2 3; do
    port=$((base + 1 + i))
    # A Sentinel rewrites its config file: each gets its own.
    cat > "$dir/s$i.conf" <<CONF
port $port
bind 127.0.0.1
daemonize yes
pidfile $dir/s$i.pid
logfile $dir/s$i.log
dir $dir
sentinel monitor mymaster 127.0.0.1 $primary 2
sentinel down-after-milliseconds mymaster 500
sentinel failover-timeout mymaster 2000
sentinel parallel-syncs mymaster 1
CONF
    if [[ -n $pw ]]; then
        printf 'requirepass %s\nsentinel auth-pass mymaster %s\n' "$pw" "$pw" >> "$dir/s$i.conf"
    fi
    redis-server "$dir/s$i.conf" --sentinel || die "Sentinel s$i did not start"
done

agreed() {
    local i port addr
    for i in 1 2 3; do
        port=$((base + 1 + i))
        addr=$(cli "$port" SENTINEL get-master-addr-by-name mymaster | paste -sd: -)
        [[ $addr == "127.0.0.1:$primary" ]] || return 1
        [[ $(cli "$port" SENTINEL replicas mymaster | grep -c "^127.0.0.1:$replica$") -ge 1 ]] || return 1
        [[ $(cli "$port" SENTINEL sentinels mymaster | grep -c '^name$') -ge 2 ]] || return 1
    done
    [[ $(cli "$replica" INFO replication | tr -d '\r' | grep -c '^master_link_status:up$') -eq 1 ]]
}
for ((t = 0; t < 200; t++)); do
    agreed && exit 0
    sleep 0.1
done
stop
die "the Sentinels did not agree on 127.0.0.1:$primary within 20 s (logs in $dir)"
