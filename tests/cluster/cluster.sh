#!/bin/sh
# cluster.sh - a real Valkey (redis-server 7) cluster on loopback for tests:
# 3 primaries and 3 replicas on ports BASEPORT..BASEPORT+5, no persistence,
# cluster-node-timeout 1000 ms, each node's files in DIR/<port>.
#
#   tests/cluster/cluster.sh start DIR BASEPORT   # returns when cluster_state:ok everywhere
#   tests/cluster/cluster.sh stop DIR BASEPORT
#   tests/cluster/cluster.sh restart DIR BASEPORT PORT  # one node again (after a kill),
#                                                       # with its identity (nodes.conf)
#
# Node i is BASEPORT+i; redis-cli --cluster create makes 0..2 the primaries
# and 3..5 their replicas (which replica follows which primary is its choice:
# read CLUSTER NODES). Its pids are DIR/<port>/pid.
set -eu
cmd=${1:?start|stop|restart}
dir=${2:?DIR}
base=${3:?BASEPORT}

ports() { i=0; while [ $i -lt 6 ]; do echo $((base + i)); i=$((i + 1)); done; }

stop() {
    for p in $(ports); do
        if [ -f "$dir/$p/pid" ]; then
            kill -9 "$(cat "$dir/$p/pid")" 2>/dev/null || true
            rm -f "$dir/$p/pid"
        fi
    done
}

node() {
    redis-server --port "$1" --bind 127.0.0.1 --dir "$dir/$1" \
        --cluster-enabled yes --cluster-config-file nodes.conf \
        --cluster-node-timeout 1000 --save '' --appendonly no \
        --daemonize yes --pidfile "$dir/$1/pid" --logfile "$dir/$1/log" >/dev/null
}

case $cmd in
restart)
    p=${4:?PORT}
    node "$p"
    n=0
    until redis-cli -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; do
        n=$((n + 1)); [ $n -lt 400 ] || { echo "cluster.sh: node $p not ok" >&2; exit 1; }
        sleep 0.05
    done
    ;;
start)
    mkdir -p "$dir"
    for p in $(ports); do
        mkdir -p "$dir/$p"
        rm -f "$dir/$p/nodes.conf"
        node "$p"
    done
    for p in $(ports); do
        n=0
        until redis-cli -p "$p" ping >/dev/null 2>&1; do
            n=$((n + 1)); [ $n -lt 100 ] || { echo "cluster.sh: node $p did not start" >&2; exit 1; }
            sleep 0.05
        done
    done
    # shellcheck disable=SC2046
    redis-cli --cluster create $(for p in $(ports); do printf '127.0.0.1:%s ' "$p"; done) \
        --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 ||
        { cat "$dir/create.log" >&2; exit 1; }
    n=0
    for p in $(ports); do
        until redis-cli -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; do
            n=$((n + 1)); [ $n -lt 400 ] || { echo "cluster.sh: node $p not ok" >&2; exit 1; }
            sleep 0.05
        done
    done
    # Every replica attached and in sync (a failover test needs one per
    # primary, and WAIT counts only replicas that are online).
    for p in $(ports); do
        until [ "$(redis-cli -p "$p" cluster nodes | grep -c 'slave')" -ge 3 ]; do
            n=$((n + 1)); [ $n -lt 400 ] || { echo "cluster.sh: replicas not attached" >&2; exit 1; }
            sleep 0.05
        done
        if redis-cli -p "$p" info replication | grep -q '^role:master'; then
            until redis-cli -p "$p" info replication | grep -q 'state=online'; do
                n=$((n + 1)); [ $n -lt 400 ] || { echo "cluster.sh: replica of $p not in sync" >&2; exit 1; }
                sleep 0.05
            done
        fi
    done
    ;;
stop)
    stop
    ;;
*)
    echo "usage: $0 start|stop DIR BASEPORT | restart DIR BASEPORT PORT" >&2
    exit 2
    ;;
esac
