#!/usr/bin/env bash
# The files written from the settings table in src/config.c (config_docs),
# so none can drift from it:
#   docs/configuration.md             axon --settings markdown (the whole file)
#   etc/axon.conf.example             axon --settings conf     (the whole file)
#   chart/values.yaml                 axon --settings values   (between its settings markers)
#   chart/templates/deployment.yaml   axon --settings env      (the same)
#   chart/README.md                   axon --settings rows     (its table's axon.* rows,
#                                     all but axon.env, which stay together)
#
#   tests/docs/settings.sh --write    rewrites them (`make docs` runs this)
#   tests/docs/settings.sh --check    fails unless each holds what the table renders
# test_config_doc (make check) makes the same comparison in C.
# AXON_BIN picks the binary (default build/axon).
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.."
axon=${AXON_BIN:-build/axon}
[[ -x $axon ]] || { echo "$axon not built: run make" >&2; exit 2; }

begin_yaml='  # settings: generated from the table in src/config.c by `make docs` (edit it there)'
end_yaml='  # /settings'
begin_env='            {{- /* settings: generated from the table in src/config.c by make docs */}}'
end_env='            {{- /* /settings */}}'

# $1: file, $2: begin marker, $3: end marker; prints the lines between them.
between() { awk -v b="$2" -v e="$3" '$0 == e {on = 0} on {print} $0 == b {on = 1}' "$1"; }
# The same file with the lines between the markers replaced by stdin.
splice() {
    local body
    body=$(cat)
    awk -v b="$2" -v e="$3" -v t="$body" '$0 == b {print; print t; skip = 1; next}
        $0 == e {skip = 0} !skip' "$1"
}

mode=${1:-}
case $mode in --check|--write) ;; *) echo "usage: $0 --check|--write" >&2; exit 2 ;; esac
bad=0
one() { # $1: file, $2: format, $3 $4: markers or nothing (the whole file)
    local want got
    want=$("$axon" --settings "$2")
    if [[ -n ${3:-} ]]; then
        grep -qxF -- "$3" "$1" && grep -qxF -- "$4" "$1" ||
            { echo "$1: the settings markers are missing" >&2; bad=1; return; }
        got=$(between "$1" "$3" "$4")
    else
        got=$(cat "$1" 2>/dev/null || true)
    fi
    [[ $got == "$want" ]] && return
    if [[ $mode == --write ]]; then
        if [[ -n ${3:-} ]]; then
            printf '%s\n' "$want" | splice "$1" "$3" "$4" > "$1.tmp" && mv "$1.tmp" "$1"
        else
            printf '%s\n' "$want" > "$1"
        fi
        echo "wrote $1"
    else
        echo "$1 differs from the settings table in src/config.c: run make docs"
        diff <(printf '%s\n' "$got") <(printf '%s\n' "$want") | head -20
        bad=1
    fi
}
mkdir -p docs
one docs/configuration.md markdown
one etc/axon.conf.example conf
one chart/values.yaml values "$begin_yaml" "$end_yaml"
one chart/templates/deployment.yaml env "$begin_env" "$end_env"

# chart/README.md: a marker would break its table, so the rows are found by
# their first cell, and the generated ones replace them where the first stood.
rows_re='^\| `axon\.[A-Za-z]+` \|'
want=$("$axon" --settings rows)
got=$(grep -E "$rows_re" chart/README.md | grep -v '^| `axon.env` |' || true)
if [[ $got != "$want" ]]; then
    if [[ $mode == --write ]]; then
        awk -v re="$rows_re" -v t="$want" '$0 ~ re && $0 !~ /^\| `axon\.env` \|/ {
            if (!done) print t; done = 1; next } {print}' chart/README.md > chart/README.md.tmp &&
            mv chart/README.md.tmp chart/README.md
        echo "wrote chart/README.md"
    else
        echo "chart/README.md's axon.* rows differ from the settings table in src/config.c: run make docs"
        diff <(printf '%s\n' "$got") <(printf '%s\n' "$want") | head -20
        bad=1
    fi
fi
exit $bad
