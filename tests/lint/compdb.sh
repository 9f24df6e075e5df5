#!/usr/bin/env bash
# Writes a compile_commands.json for src/*.c, for clang-tidy and cppcheck
# (and editors). The commands are the Makefile's own, taken from a dry run
# (`make -n -B`, nothing is built), so the flags can never drift from the
# real build.  Usage: tests/lint/compdb.sh [OUT]  (default build/compile_commands.json)
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.."
root=$PWD
out=${1:-build/compile_commands.json}
mkdir -p -- "$(dirname -- "$out")"

# JSON string: escape backslashes and double quotes (no control characters
# occur in a make command line).
j() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }

n=0
{
    echo '['
    sep=
    # Only the object rules of `all`: "<cc> ... -c -o build/X.o src/X.c".
    # The words re-quoted with backslashes: cppcheck misreads both the shell
    # quotes of -DAXON_MODELS_DEFAULT='"..."' in a "command" and the quotes
    # inside an "arguments" array, but it reads -DX=\"...\" as clang-tidy does.
    # xargs splits words the way the shell does for these quotes.
    while IFS= read -r cmd; do
        src=${cmd##* }
        line= s=
        while IFS= read -r a; do
            if [[ $a == *[[:space:]]* ]]; then
                echo "compdb: cannot quote the argument '$a'" >&2
                exit 1
            fi
            a=${a//\\/\\\\}; a=${a//\"/\\\"}; a=${a//\'/\\\'}
            line+="$s$a"; s=' '
        done < <(printf '%s' "$cmd" | xargs printf '%s\n')
        printf '%s  {"directory": %s, "file": %s, "command": %s}' \
            "$sep" "$(j "$root")" "$(j "$root/$src")" "$(j "$line")"
        sep=$',\n'
        n=$((n + 1))
    done < <(make --no-print-directory -n -B all | grep -E ' -c -o build/[^ /]+\.o src/[^ /]+\.c$')
    printf '\n]\n'
} >"$out.tmp"

want=$(find src -maxdepth 1 -name '*.c' | wc -l)
if [[ $n -ne $want ]]; then
    rm -f -- "$out.tmp"
    echo "compdb: found $n compile commands in 'make -n all', expected $want (src/*.c)" >&2
    exit 1
fi
mv -f -- "$out.tmp" "$out"
