#!/usr/bin/env bash
# `make lint`: static checks over src/ and include/, all of which must be
# clean. Any finding fails (exit 1); a missing or broken tool fails too.
#
#   1. banned calls (a grep): unbounded copies and formats, atoi's silent
#      garbage, libfcgi's printf (no %zu), json-c's parse that accepts
#      trailing garbage
#   2. cppcheck (2.10), with tests/lint/axon.cfg for json-c and hiredis
#   3. clang-tidy (14), configured by .clang-tidy at the top of the tree
#   4. no cycle between modules (tests/lint/cycles.mjs), read from the
#      symbols of build/*.o, which this script builds first (make all)
#   and the docs (tests/docs/): the model table in docs/models.md against
#   etc/models.conf, every relative link in README.md and docs/, and a row
#   of docs/architecture.md for every module in src/ (tests/docs/modules.sh)
#
# Both analyzers read build/lint/compile_commands.json, written from the
# Makefile's own compile commands by tests/lint/compdb.sh.
# Environment: LINT_JOBS (default: nproc), CLANG_TIDY, CPPCHECK (binaries).
# A false positive is silenced at its line, with the reason:
#   /* NOLINT(check-name): why */            for clang-tidy
#   /* cppcheck-suppress id ; why */          on the line before, for cppcheck
set -uo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.."
root=$PWD
out=build/lint
jobs=${LINT_JOBS:-$(nproc 2>/dev/null || echo 2)}
SECONDS=0
failed=0
summary=()

mkdir -p "$out"

# ---- 1. banned calls --------------------------------------------------------
banned=$(grep -nE '\b(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|strtok|FCGX_FPrintF|json_tokener_parse)\s*\(' \
    src/*.c include/*.h)
nbanned=$(printf '%s' "$banned" | grep -c . || true)
if [[ $nbanned -gt 0 ]]; then
    echo "lint: banned calls (use snprintf, strtoll/text_parse_i64, FCGX_PutStr, jsonv_parse):"
    printf '%s\n' "$banned" | sed 's/^/  /'
    failed=1
fi
summary+=("banned calls|$nbanned")

# ---- 4. no cycle between modules ---------------------------------------------
# From the objects' real symbols: an edge is a call or a data reference, so
# the objects must be current. The build's own output is not lint's.
ncycles=0
if ! ${MAKE:-make} --no-print-directory -s all >"$out/build.log" 2>&1; then
    echo "lint: make all failed (the cycle check reads build/*.o):"
    tail -20 "$out/build.log" | sed 's/^/  /'
    ncycles=failed
    failed=1
elif ! node tests/lint/cycles.mjs build >"$out/cycles.txt" 2>&1; then
    sed 's/^/lint: /' "$out/cycles.txt"
    ncycles=$(grep -c '^  {' "$out/cycles.txt" || true)
    [[ $ncycles -gt 0 ]] || ncycles=failed
    failed=1
fi
summary+=("module cycles|$ncycles")

# ---- the docs: the generated model table, the module table, links that lead somewhere
ndocs=0
if ! tests/docs/models-table.sh --check; then ndocs=$((ndocs + 1)); failed=1; fi
if ! node tests/docs/links.mjs; then ndocs=$((ndocs + 1)); failed=1; fi
if ! tests/docs/modules.sh; then ndocs=$((ndocs + 1)); failed=1; fi
summary+=("docs (tables, links)|$ndocs")

# ---- the compilation database ----------------------------------------------
# The analyzers read what the compiler reads, the generated header included.
if ! make --no-print-directory build/gen/axon_lua.h >/dev/null; then
    echo "lint: cannot generate build/gen/axon_lua.h"
    exit 1
fi
if ! tests/lint/compdb.sh "$out/compile_commands.json"; then
    echo "lint: cannot write $out/compile_commands.json"
    exit 1
fi
nfiles=$(find src -maxdepth 1 -name '*.c' | wc -l)

# ---- 2. cppcheck ------------------------------------------------------------
cppcheck=${CPPCHECK:-cppcheck}
if ! command -v "$cppcheck" >/dev/null 2>&1; then
    echo "lint: $cppcheck not found (Debian package: cppcheck)"
    summary+=("cppcheck|not installed")
    failed=1
else
    ver=$("$cppcheck" --version 2>/dev/null | awk '{print $2}')
    # A fresh build dir each run: a stale one can hide findings. It is what
    # lets -j keep the cross-file checks (ctu null pointer, uninit arg).
    rm -rf "$out/cppcheck" && mkdir -p "$out/cppcheck"
    "$cppcheck" -q -j "$jobs" \
        --project="$out/compile_commands.json" --cppcheck-build-dir="$out/cppcheck" \
        --std=c11 --enable=warning,style,performance,portability --inline-suppr \
        --library=posix --library=gnu --library=libcurl --library=tests/lint/axon.cfg \
        --error-exitcode=1 \
        --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
        >"$out/cppcheck.log" 2>&1
    rc=$?
    grep -E '^[^ ]+:[0-9]+:[0-9]+: [a-z]+: ' "$out/cppcheck.log" | sed "s|^$root/||" | sort -u \
        >"$out/cppcheck.txt"
    n=$(grep -c . "$out/cppcheck.txt" || true)
    if [[ $n -gt 0 ]]; then
        echo "lint: cppcheck findings:"
        sed 's/^/  /' "$out/cppcheck.txt"
        failed=1
    elif [[ $rc -ne 0 ]]; then
        echo "lint: cppcheck failed (exit $rc):"
        sed 's/^/  /' "$out/cppcheck.log" | tail -20
        n="failed"
        failed=1
    fi
    summary+=("cppcheck $ver|$n")
fi

# ---- 3. clang-tidy, one process per file -----------------------------------
# One file per process on purpose: clang-tidy 14 given several files in one
# run carries analyzer state across them (a false valist.Uninitialized).
tidy=${CLANG_TIDY:-}
if [[ -z $tidy ]]; then
    for t in clang-tidy-14 clang-tidy; do
        if command -v "$t" >/dev/null 2>&1; then tidy=$t; break; fi
    done
fi
if [[ -z $tidy ]] || ! command -v "$tidy" >/dev/null 2>&1; then
    echo "lint: clang-tidy not found (Debian package: clang-tidy, version 14)"
    summary+=("clang-tidy|not installed")
    failed=1
else
    ver=$("$tidy" --version 2>/dev/null | sed -n 's/.*LLVM version \([0-9][0-9.]*\).*/\1/p' | head -1)
    rm -rf "$out/tidy" && mkdir -p "$out/tidy"
    export LINT_TIDY=$tidy LINT_OUT=$out LINT_ROOT=$root
    find src -maxdepth 1 -name '*.c' -print0 | sort -z |
        xargs -0 -n1 -P "$jobs" bash -c '
            b=$(basename "$1" .c)
            "$LINT_TIDY" -p "$LINT_OUT" --quiet --config-file="$LINT_ROOT/.clang-tidy" "$1" \
                >"$LINT_OUT/tidy/$b.log" 2>&1
            echo $? >"$LINT_OUT/tidy/$b.rc"' _
    # A header's finding shows once per file that includes it: keep one.
    cat "$out"/tidy/*.log 2>/dev/null | grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error): ' |
        sed "s|^$root/||" | sort -u >"$out/tidy.txt"
    n=$(grep -c . "$out/tidy.txt" || true)
    crashed=()
    for f in src/*.c; do
        b=$(basename "$f" .c)
        rc=$(cat "$out/tidy/$b.rc" 2>/dev/null || echo missing)
        # Non-zero without a diagnostic: a crash, or a bad flag.
        if [[ $rc != 0 ]] && ! grep -qE '^[^ ]+:[0-9]+:[0-9]+: (warning|error): ' "$out/tidy/$b.log"; then
            crashed+=("$f")
        fi
    done
    if [[ $n -gt 0 ]]; then
        echo "lint: clang-tidy findings (details and notes: $out/tidy/*.log):"
        sed 's/^/  /' "$out/tidy.txt"
        failed=1
    fi
    if [[ ${#crashed[@]} -gt 0 ]]; then
        for f in "${crashed[@]}"; do
            echo "lint: clang-tidy failed on $f:"
            tail -20 "$out/tidy/$(basename "$f" .c).log" | sed 's/^/  /'
        done
        n="$n, ${#crashed[@]} failed"
        failed=1
    fi
    summary+=("clang-tidy $ver|$n")
fi

# ---- summary ------------------------------------------------------------------
echo "lint: findings by tool ($nfiles files in src/, their headers in include/):"
for s in "${summary[@]}"; do printf '  %-20s %s\n' "${s%%|*}" "${s#*|}"; done
if [[ $failed -ne 0 ]]; then
    echo "lint: FAILED (${SECONDS}s)"
    exit 1
fi
echo "lint: ok (${SECONDS}s)"
