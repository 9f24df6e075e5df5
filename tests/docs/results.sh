#!/usr/bin/env bash
# Measured figures live in docs/results/, written by the commands that
# measure them (make bench, make soak), never copied by hand. This is their
# shared part:
#
#   tests/docs/results.sh provenance COMMAND
#       prints one line: "Measured on DATE by `COMMAND` at commit C, on
#       MACHINE." MACHINE is the CPU model, cores, memory, kernel and Debian
#       version, so a figure can be read against the machine that gave it.
#   tests/docs/results.sh write FILE NAME < BODY
#       replaces the part of FILE between "<!-- NAME: ... -->" and
#       "<!-- /NAME -->" with BODY (the markers stay; a FILE without them
#       gets them appended at its end). Nothing outside the markers changes.
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.."

machine() {
    local cpu cores mem kernel os
    cpu=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo 2>/dev/null)
    cores=$(nproc 2>/dev/null || echo '?')
    mem=$(awk '/^MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo 2>/dev/null)
    kernel="$(uname -s) $(uname -r)"
    # shellcheck source=/dev/null
    os=$( (. /etc/os-release && printf '%s' "$PRETTY_NAME") 2>/dev/null || echo 'unknown OS')
    [[ -r /etc/debian_version ]] && os+=" ($(cat /etc/debian_version))"
    printf '%s, %s cores, %s, %s, %s' "${cpu:-unknown CPU}" "$cores" "${mem:-? GiB}" "$kernel" "$os"
}

# The commit measured, and whether the tree differed from it (docs/results/
# left out: a previous run's figures are not a change to what is measured).
commit() {
    local c
    if ! c=$(git rev-parse --short=12 HEAD 2>/dev/null); then
        printf 'unknown (not a git checkout)'
        return
    fi
    if [[ -n $(git status --porcelain --untracked-files=no -- . ':!docs/results' 2>/dev/null) ]]; then
        c+=' with uncommitted changes'
    fi
    printf '%s' "$c"
}

case ${1:-} in
provenance)
    [[ $# -eq 2 ]] || { echo "usage: $0 provenance COMMAND" >&2; exit 2; }
    # shellcheck disable=SC2016  # the backticks are Markdown's
    printf 'Measured on %s by `%s` at commit %s, on %s.\n' \
        "$(date -u +%Y-%m-%d)" "$2" "$(commit)" "$(machine)" ;;
write)
    [[ $# -eq 3 ]] || { echo "usage: $0 write FILE NAME < BODY" >&2; exit 2; }
    file=$2 name=$3
    body=$(cat)
    begin="<!-- $name: written by the command that measures it; do not edit by hand -->"
    end="<!-- /$name -->"
    mkdir -p -- "$(dirname -- "$file")"
    [[ -f $file ]] || : >"$file"
    if ! grep -qxF -- "$end" "$file"; then
        printf '\n%s\n%s\n' "$begin" "$end" >>"$file"
    fi
    tmp=$(mktemp "$file.XXXXXX")
    # The body goes through a file: awk -v would read its backslashes as escapes.
    bodyf=$(mktemp)
    printf '%s\n' "$body" >"$bodyf"
    awk -v n="<!-- $name:" -v e="$end" -v b="$begin" -v f="$bodyf" '
        index($0, n) == 1 { print b; while ((getline l < f) > 0) print l; skip = 1; next }
        $0 == e { skip = 0 }
        !skip' "$file" >"$tmp"
    rm -f -- "$bodyf"
    cat -- "$tmp" >"$file"    # not mv: the file keeps its own mode
    rm -f -- "$tmp" ;;
*) echo "usage: $0 provenance COMMAND | write FILE NAME < BODY" >&2; exit 2 ;;
esac
