#!/usr/bin/env bash
# CI check of the Helm chart (chart/) and the container image (etc/Containerfile,
# etc/container/). Needs Go with Debian's sprig and yaml.v3 packages, node with
# tests/node_modules, lighttpd; redis-server and build/axon for the smoke test.
#
#   tests/chart/run.sh
#
# Cases, each counted once in the final "N passed, M failed" line:
#   - build tests/chart/render.go (a small `helm template`: text/template + sprig)
#   - every value in chart/values.yaml commented and listed in chart/README.md
#   - render the default values and every tests/chart/values-*.yaml, and check
#     each with check.mjs (kinds from the file's "# expect:"/"# absent:" lines)
#   - the seal keys: a generated entry is well-formed, new per install and kept
#     on upgrade (render --existing), changed seal values roll the pods, and
#     axon --check-config reads what the chart renders
#   - value sets that must fail, with the chart's own message
#   - the checker itself rejects broken manifests (mutations of the default)
#   - lighttpd -tt on the image's config, rendered by the image's entrypoint
#   - smoke: that config really serving axon under a prefix as UID 10001, and
#     a stream finishing through lighttpd's graceful stop (SIGINT)
#   - the Containerfile, statically; AXON_CHART_BUILD=1 also builds it when
#     podman, buildah or docker works (slow, and needs the base images)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

passed=0
failed=0
work=$(mktemp -d -t axon-chart.XXXXXX)
chmod 755 "$work"
started=()   # PIDs this script started, stopped on exit
cleanup() {
    local p
    for p in "${started[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${started[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

pass() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$1"; [[ -n ${2:-} ]] && printf '%s\n' "$2" | sed 's/^/     /'; }

# ---- the renderer -----------------------------------------------------------
render=build/chart/render
mkdir -p build/chart build/gocache
if out=$(GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$PWD/build/gocache GOFLAGS="" \
         go build -o "$render" ./tests/chart/ 2>&1); then
    pass "render.go builds"
else
    fail "render.go builds" "$out"
    echo; echo "$passed passed, $failed failed"; exit 1
fi

if out=$(node tests/chart/check.mjs --docs chart/values.yaml chart/README.md 2>&1); then
    pass "every value is commented in values.yaml and listed in chart/README.md"
else
    fail "every value is commented in values.yaml and listed in chart/README.md" "$out"
fi

# ---- value sets that must render and pass the checks ----------------------------
check_set() { # $1: label, $2: value file or "", $3: expected kinds, $4: absent kinds
    local f=() v=(--values chart/values.yaml) out
    [[ -n $2 ]] && f=(-f "$2") && v+=(--values "$2")
    if ! out=$("$render" --chart chart --name axon-test --namespace gw "${f[@]}" 2>&1 >"$work/$1.yaml"); then
        fail "render $1" "$out"; return
    fi
    if out=$(node tests/chart/check.mjs "$work/$1.yaml" "${v[@]}" --expect "$3" --absent "$4" 2>&1); then
        pass "render and check $1"
    else
        fail "render and check $1" "$out"
    fi
}
check_set default "" \
    Deployment,Service,Secret,ServiceAccount,StatefulSet,ConfigMap,NetworkPolicy,PodDisruptionBudget \
    Ingress,HorizontalPodAutoscaler
for file in tests/chart/values-*.yaml; do
    name=$(basename "$file" .yaml)
    check_set "${name#values-}" "$file" \
        "$(sed -n 's/^# expect: *//p' "$file")" "$(sed -n 's/^# absent: *//p' "$file")"
done

# ---- the seal keys: one set for every pod, rolled on change --------------------

# A data key of a rendered Secret, still base64 (the chart's Secrets quote it).
secret_value() { # $1: rendered file, $2: data key
    sed -n "s/^  $2: \"\(.*\)\"\$/\1/p" "$1"
}
# Seal keys as lists need a values file (--set takes no lists here).
seal_keys() { # $1: file, rest: entries of seal.keys
    local dest=$1
    shift
    { printf 'seal:\n  keys:\n'; printf '    - "%s"\n' "$@"; } > "$dest"
}
# axon reads the seal keys at start only: new seal values must roll the pods.
label="changed seal values change the pods' checksum annotation (a rollout)"
checksum() { "$render" --chart chart "$@" 2>&1 | sed -n '/^kind: Deployment$/,/^---$/ s/^ *checksum\/config: //p'; }
seal_keys "$work/seal-a.yaml" "k1:$(head -c 32 /dev/urandom | base64)"
seal_keys "$work/seal-b.yaml" "k2:$(head -c 32 /dev/urandom | base64)"
sum_a=$(checksum -f "$work/seal-a.yaml") sum_b=$(checksum -f "$work/seal-b.yaml") sum_c=$(checksum --set seal.existingSecret=mine)
if [[ -n $sum_a && $sum_a != "$sum_b" && $sum_a != "$sum_c" ]]; then pass "$label"
else fail "$label" "checksums: '$sum_a' '$sum_b' '$sum_c'"; fi

# axon itself reads the seal keys the chart renders (generated and given).
label="axon --check-config accepts the seal keys the chart renders (generated: default; given: external)"
if [[ -x build/axon ]]; then
    problems=""
    for set in default external; do
        secret_value "$work/$set.yaml" seal-keys | base64 -d > "$work/$set.seal" 2>/dev/null
        if [[ ! -s $work/$set.seal ]]; then problems+="$set: no seal-keys rendered"$'\n'
        elif ! out=$(AXON_API_KEYS=sk-check AXON_SEAL_KEYS_FILE=$work/$set.seal build/axon --check-config 2>&1); then
            problems+="$set: $out"$'\n'
        fi
    done
    if [[ -z $problems ]]; then pass "$label"; else fail "$label" "$problems"; fi
else
    fail "$label" "needs build/axon (make)"
fi

# axon itself parses the AXON_VALKEY_URL each external form renders (the
# password as Kubernetes expands it).
label="axon --check-config accepts the external Valkey URLs the chart renders (single, cluster, Sentinel)"
if [[ -x build/axon ]]; then
    problems=""
    for set in external cluster sentinel; do
        url=$(sed -n '/- name: AXON_VALKEY_URL$/{n;s/^ *value: "\(.*\)"$/\1/p;}' "$work/$set.yaml" | head -n 1)
        url=${url//\$(AXON_VALKEY_PASSWORD)/pw-from-secret}
        if [[ -z $url ]]; then problems+="$set: no AXON_VALKEY_URL rendered"$'\n'
        elif ! out=$(AXON_API_KEYS=sk-check AXON_VALKEY_URL=$url build/axon --check-config 2>&1); then
            problems+="$set ($url): $out"$'\n'
        fi
    done
    if [[ -z $problems ]]; then pass "$label"; else fail "$label" "$problems"; fi
else
    fail "$label" "needs build/axon (make)"
fi

# ---- value sets that must fail, with the chart's message ---------------------
must_fail() { # $1: label, $2: expected message, rest: --set arguments
    local label=$1 want=$2 out
    shift 2
    if out=$("$render" --chart chart "$@" 2>&1 >/dev/null); then
        fail "refuses $label" "rendered without error"
    elif [[ $out != *"$want"* ]]; then
        fail "refuses $label" "expected: $want"$'\n'"got: $out"
    else
        pass "refuses $label"
    fi
}
must_fail "maxmemory above the Valkey memory limit" \
    "must be below valkey.resources.limits.memory" --set valkey.maxmemory=600Mi
must_fail "external Valkey without a url" \
    "valkey.external.url is required when valkey.enabled=false" --set valkey.enabled=false
must_fail "a password inside the external Valkey url" \
    "with no user or password" --set valkey.enabled=false --set valkey.external.url=redis://:pw@db:6379
must_fail "a password inside a Sentinel url" \
    "with no user or password" --set valkey.enabled=false --set valkey.external.url=redis+sentinel://:pw@s1:26379/mymaster
must_fail "a Sentinel url without the master name" \
    "redis+sentinel://host:port[,host:port...]/master[/db]" --set valkey.enabled=false --set valkey.external.url=redis+sentinel://s1:26379
must_fail "a cluster url with a database" \
    "expected redis://host[:port][/db], redis+cluster://" --set valkey.enabled=false --set valkey.external.url=redis+cluster://n1:6379/2
must_fail "a url of another scheme" \
    "expected redis://host[:port][/db]" --set valkey.enabled=false --set valkey.external.url=rediss://db:6379
must_fail "Valkey without a memory limit" \
    "valkey.resources.limits.memory is required" --set valkey.resources.limits.memory=null
must_fail "a termination grace shorter than preStop + drain" \
    "must be above preStopSleepSeconds + axon.drainSeconds" --set terminationGracePeriodSeconds=20
must_fail "a base path with a trailing slash" \
    'basePath="/axon/"' --set basePath=/axon/
must_fail "maxclients below what the axon threads need" \
    "valkey.maxclients=500 is below" --set valkey.maxclients=500
k32=$(head -c 32 /dev/urandom | base64)
seal_keys "$work/seal-short.yaml" "k1:$(head -c 16 /dev/urandom | base64)"
must_fail "a seal key that is not 32 bytes" \
    "seal.keys: entry 1 (k1) must be id:key" -f "$work/seal-short.yaml"
seal_keys "$work/seal-noid.yaml" "$k32"
must_fail "a seal key without an id" \
    "seal.keys: entry 1 must be id:key" -f "$work/seal-noid.yaml"
seal_keys "$work/seal-twice.yaml" "k1:$k32" "k1:$(head -c 32 /dev/urandom | base64)"
must_fail "a seal key id given twice" \
    'seal.keys: key id "k1" is given twice' -f "$work/seal-twice.yaml"
seal_keys "$work/seal-both.yaml" "k1:$k32"
must_fail "seal keys and an existing Secret both" \
    "seal: set keys or existingSecret, not both" -f "$work/seal-both.yaml" --set seal.existingSecret=mine
must_fail "a seal key in axon.env" \
    "axon.env: AXON_SEAL_KEYS is set by the chart" --set axon.env.AXON_SEAL_KEYS=k1:x

# ---- generated secrets: random per install, kept on upgrade (lookup) ----------
# The seal key especially: pods that start after an upgrade must hold the key
# the running ones seal with.
label="a generated seal key is one well-formed k1 entry, new on every install and kept on upgrade"
if [[ -s $work/default.yaml ]] &&
   "$render" --chart chart --name axon-test --namespace gw --existing "$work/default.yaml" > "$work/upgrade.yaml" 2>"$work/upgrade.err" &&
   "$render" --chart chart --name axon-test --namespace gw > "$work/again.yaml" 2>>"$work/upgrade.err"; then
    first=$(secret_value "$work/default.yaml" seal-keys)
    if [[ -z $first ]]; then fail "$label" "the default render has no seal-keys in a Secret"
    elif [[ ! $(base64 -d <<<"$first") =~ ^k1:[A-Za-z0-9+/]{43}=$ ]]; then fail "$label" "the generated entry is not k1:<44 base64 characters>"
    elif [[ $(secret_value "$work/upgrade.yaml" seal-keys) != "$first" ]]; then fail "$label" "an upgrade changed it"
    elif [[ $(secret_value "$work/again.yaml" seal-keys) == "$first" ]]; then fail "$label" "a second install got the same key"
    else pass "$label"; fi
else
    fail "$label" "$(cat "$work/upgrade.err")"
fi

# ---- the checker catches what it claims to -----------------------------------
mutant() { # $1: label, $2: sed program applied to the default render, $3: expected message
    sed "$2" "$work/default.yaml" > "$work/mutant.yaml"
    local out
    if out=$(node tests/chart/check.mjs "$work/mutant.yaml" --values chart/values.yaml 2>&1); then
        fail "check.mjs rejects $1" "passed a broken manifest"
    elif [[ $out != *"$3"* ]]; then
        fail "check.mjs rejects $1" "expected: $3"$'\n'"got: $out"
    else
        pass "check.mjs rejects $1"
    fi
}
if [[ -s $work/default.yaml ]]; then
    mutant "an evicting Valkey policy" 's/noeviction/allkeys-lru/' "must be noeviction"
    mutant "maxmemory above the limit" 's/^\(    maxmemory \)[0-9]*/\1999999999/' "is not below the memory limit"
    mutant "a probe path lighttpd does not route" 's|path: /ready|path: /readyz|' "lighttpd does not route /readyz"
    mutant "a Secret that is not there" 's/key: api-keys/key: other/' "has no key other"
    mutant "a NetworkPolicy open to Valkey's own pods" \
        '/podSelector:/,$ s/component: gateway/component: valkey/' "admits more than the axon pods"
    mutant "a writable root file system" '0,/readOnlyRootFilesystem: true/s//readOnlyRootFilesystem: false/' \
        "readOnlyRootFilesystem is not true"
    mutant "a variable lighttpd would not pass" 's/name: AXON_STORE$/name: AXON_STORE_X/' \
        "is not in lighttpd's bin-copy-environment"
    mutant "a Service selecting nothing" '/^kind: Service/,/ports:/ s/component: gateway/component: gw/' \
        "selects 0 workloads"
    mutant "a pod without the shared seal keys" '/- name: AXON_SEAL_KEYS_FILE$/,+1d' \
        "AXON_SEAL_KEYS_FILE is not set"
    # base64 of "k1:short"
    mutant "a malformed seal key" 's/^\(  seal-keys: \).*/\1"azE6c2hvcnQ="/' \
        "key k1 is not 32 bytes in base64"
fi

# ---- the image's lighttpd config ------------------------------------------------
# Rendered by the image's own entrypoint; lighttpd -tt exits 0 even on errors
# it prints (a missing bin-path, an unknown key), so any output is a failure.
# bin-path must exist here, so it points at build/axon (or /bin/true).
render_conf() { # $1: AXON_BASE_PATH, $2: output directory
    mkdir -p "$2"
    AXON_ENTRYPOINT_RENDER_ONLY=1 AXON_CONF_IN=etc/container/lighttpd.conf AXON_RUN_DIR=$2 \
        AXON_BASE_PATH=$1 AXON_DRAIN_S=10 AXON_PASS_ENV=EXTRA_KEY,AXON_HEARTBEAT_S sh etc/container/entrypoint.sh
}
bin=$PWD/build/axon
[[ -x $bin ]] || bin=/bin/true
if command -v lighttpd >/dev/null 2>&1; then
    for base in "" /axon; do
        label="lighttpd -tt accepts the image's config (prefix '${base}')"
        if ! conf=$(render_conf "$base" "$work/tt${base//\//_}" 2>&1); then
            fail "$label" "$conf"; continue
        fi
        sed -i "s|/usr/local/bin/axon|$bin|" "$conf"
        out=$(lighttpd -tt -f "$conf" 2>&1)
        if [[ $? -eq 0 && -z $out ]]; then pass "$label"; else fail "$label" "$out"; fi
    done
else
    fail "lighttpd -tt accepts the image's config" "lighttpd is not installed"
fi

# ---- smoke: the image's config serving axon ------------------------------------
free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 12000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
    return 1
}
smoke() {
    local dir=$work/smoke port rport conf key=sk-axon-smoke as=() lpid rpid code i
    mkdir -p "$dir/run" "$dir/tmp"
    chmod 777 "$dir/run" "$dir/tmp"
    if ! port=$(free_port) || ! rport=$(free_port); then echo "no free port"; return 1; fi
    conf=$(render_conf /axon "$dir/run") || return 1
    # The image's paths, moved into this directory; everything else as shipped.
    sed -i -e "s|/usr/local/bin/axon|$PWD/build/axon|" -e "s|/run/axon|$dir/run|g" \
        -e "s|\"/tmp\"|\"$dir/tmp\"|" -e "s|/srv/www|$PWD/www|" \
        -e "s|^server.port .*|server.port = $port|" "$conf"
    redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" >/dev/null 2>&1 &
    rpid=$!
    started+=("$rpid")
    # As root, run as the image's user, as in the pod.
    [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null && as=(setpriv --reuid=10001 --regid=10001 --clear-groups)
    AXON_API_KEYS=$key AXON_VALKEY_URL=redis://127.0.0.1:$rport AXON_BASE_PATH=/axon \
        AXON_MODELS_FILE=$PWD/etc/models.conf AXON_TEST_ROUTES=1 AXON_DRAIN_S=10 \
        "${as[@]}" lighttpd -D -f "$conf" 2>"$dir/lighttpd.log" &
    lpid=$!
    started+=("$lpid")
    for ((i = 0; i < 100; i++)); do
        code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/axon/health")
        [[ $code == 200 ]] && break
        sleep 0.1
    done
    local want path got
    for want in "/axon/health 200" "/axon/ready 200" "/axon/v1/models 401" "/health 404" "/axon/ 200"; do
        path=${want% *}
        got=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$path")
        [[ $got == "${want#* }" ]] || { echo "GET $path: $got, expected ${want#* }"; cat "$dir/lighttpd.log"; return 1; }
    done
    # A 2 s stream, then SIGINT (the image's STOPSIGNAL) after 0.5 s: the stream
    # must still end with [DONE], and lighttpd must exit once it has.
    curl -sN --max-time 10 -H "Authorization: Bearer $key" \
        "http://127.0.0.1:$port/axon/v1/_test/sse?n=8&ms=250" > "$dir/stream" &
    local cpid=$!
    sleep 0.5
    kill -INT "$lpid"
    wait "$cpid"
    if ! grep -q '^data: \[DONE\]' "$dir/stream" || [[ $(grep -c '^data: {"i"' "$dir/stream") -ne 8 ]]; then
        echo "the stream did not survive the graceful stop:"; cat "$dir/stream" "$dir/lighttpd.log"; return 1
    fi
    for ((i = 0; i < 50; i++)); do
        kill -0 "$lpid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$lpid" 2>/dev/null && { echo "lighttpd still running 5 s after the stream ended"; return 1; }
    wait "$lpid" 2>/dev/null
    kill "$rpid" 2>/dev/null
    wait "$rpid" 2>/dev/null
    return 0
}
label="smoke: the image's config serves axon under /axon as UID 10001, and SIGINT lets a stream finish"
if [[ -x build/axon ]] && command -v redis-server >/dev/null && command -v lighttpd >/dev/null; then
    # Not in $(...): a subshell would keep the PIDs in `started` from cleanup.
    if smoke > "$work/smoke.out" 2>&1; then pass "$label"; else fail "$label" "$(cat "$work/smoke.out")"; fi
else
    fail "$label" "needs build/axon (make), redis-server and lighttpd"
fi

# ---- the Containerfile ----------------------------------------------------------
if out=$(node tests/chart/check.mjs --image etc/Containerfile 2>&1); then
    pass "Containerfile: COPY sources exist; paths, USER, EXPOSE, STOPSIGNAL match the config and chart"
else
    fail "Containerfile: COPY sources exist; paths, USER, EXPOSE, STOPSIGNAL match the config and chart" "$out"
fi

packages() { sed -n "s/^ARG $1=\"\(.*\)\"/\1/p" etc/Containerfile; }
build_pkgs=$(packages BUILD_PACKAGES)
runtime_pkgs=$(packages RUNTIME_PACKAGES)
# The Debian package of a file; with merged /usr, dpkg knows /bin/sh, not /usr/bin/sh.
owner() {
    local f
    for f in "$1" "/bin/${1##*/}" "/usr/bin/${1##*/}" "$(readlink -f "$1")"; do
        dpkg -S "$f" 2>/dev/null | grep -v '^diversion' | head -n 1 | cut -d: -f1 | grep . && return
    done
}
# The entrypoint runs sh, sed, grep, mkdir; the preStop hook runs sleep.
tool_pkgs=$(for t in sh sed grep mkdir sleep; do owner "/bin/$t"; done | sort -u)
# One apt-cache call for every name (each call rebuilds apt's cache here: ~1 s).
# shellcheck disable=SC2086
apt_info=$(apt-cache show --no-all-versions $build_pkgs $runtime_pkgs $tool_pkgs 2>/dev/null)
missing=""
for p in $build_pkgs $runtime_pkgs; do
    grep -qx "Package: $p" <<<"$apt_info" || missing+=" $p"
done
if [[ -n $build_pkgs && -n $runtime_pkgs && -z $missing ]]; then
    pass "Containerfile: every package it installs exists in Debian"
else
    fail "Containerfile: every package it installs exists in Debian" "not found by apt-cache show:${missing:- (no package lists in the Containerfile)}"
fi

# Every library build/axon loads must come from a runtime package or one of
# their dependencies; the tools must come from Essential packages, which
# debian:bookworm-slim always has.
label="Containerfile: runtime packages cover every library ldd build/axon lists, and the tools the entrypoint and preStop use"
if [[ -x build/axon ]] && command -v dpkg >/dev/null; then
    # shellcheck disable=SC2086
    closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
              --no-breaks --no-replaces --no-enhances $runtime_pkgs 2>/dev/null | grep -v '^ ' | sort -u)
    problems=""
    # One dpkg -S for every library, under its ldd path and its real path.
    libs=$(ldd build/axon | awk '$2 == "=>" && $3 ~ /^\// {print $3}')
    # shellcheck disable=SC2046,SC2086  # word splitting wanted: lists of paths
    owners=$(dpkg -S $libs $(readlink -f $libs) 2>/dev/null | grep -v '^diversion')
    for lib in $libs; do
        pkg=$(grep -m1 -e ": $lib\$" -e ": $(readlink -f "$lib")\$" <<<"$owners" | cut -d: -f1)
        if [[ -z $pkg ]]; then problems+="$lib belongs to no Debian package"$'\n'
        elif ! grep -qx "$pkg" <<<"$closure"; then problems+="$lib ($pkg) is not installed by RUNTIME_PACKAGES"$'\n'; fi
    done
    [[ -n $libs ]] || problems+="ldd build/axon listed no library"$'\n'
    for p in $tool_pkgs; do
        awk -v p="$p" '/^Package: /{cur=$2} cur==p && /^Essential: yes/{found=1} END{exit !found}' <<<"$apt_info" ||
            problems+="$p (sh, sed, grep, mkdir or sleep) is not an Essential package"$'\n'
    done
    [[ -n $tool_pkgs ]] || problems+="found no package for sh, sed, grep, mkdir, sleep"
    if [[ -z $problems ]]; then pass "$label"; else fail "$label" "$problems"; fi
else
    fail "$label" "needs build/axon (make) and dpkg"
fi

# Building needs a working builder and the base images (from a registry, or
# tagged locally); AXON_CHART_BUILD_ARGS adds options, e.g. "--isolation chroot"
# where the OCI runtime cannot start containers.
if [[ ${AXON_CHART_BUILD:-} == 1 ]]; then
    builder=""
    read -r -a extra <<<"${AXON_CHART_BUILD_ARGS:-}"
    for b in podman buildah docker; do
        if command -v "$b" >/dev/null && "$b" info >/dev/null 2>&1; then builder=$b; break; fi
    done
    if [[ -z $builder ]]; then
        fail "image builds" "no working podman, buildah or docker"
    elif out=$("$builder" build "${extra[@]}" -f etc/Containerfile -t axon:chart-test . 2>&1); then
        pass "image builds ($builder)"
    else
        fail "image builds ($builder)" "$(tail -20 <<<"$out")"
    fi
fi

echo
echo "$passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
