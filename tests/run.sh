#!/usr/bin/env bash
# Runs every test in both builds: the cmocka unit tests, then the integration
# suite, first against build/ and then against the AddressSanitizer +
# UndefinedBehaviorSanitizer build in build/asan/ (--unit: only the normal
# build's unit tests, for make check). Prints one summary line,
# "N passed, M failed", and exits non-zero on any failure or if nothing ran.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), ...".
run_unit() { # $1: directory of test binaries, $2: label
  local t out p f
  for t in "$1"/test_*; do
    [[ -x $t && $t != *.d ]] || continue
    out="$log/$(basename "$t").$2.out"
    "$t" >"$out" 2>&1
    local rc=$?
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
    p=${p:-0}; f=${f:-0}
    # A crash (a sanitizer abort, say) prints no summary: count it as a failure.
    if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    printf '%-8s unit %-14s %3d passed, %d failed\n' "$2" "$(basename "$t")" "$p" "$f"
    if [[ $f -ne 0 ]]; then cat "$out"; fi
  done
}

run_integration() { # $1: axon binary, $2: label
  local out="$log/integration.$2.out" last p f
  AXON_BIN="$1" tests/integration/run.sh 2>&1 | tee "$out" | sed "s/^/$2 | /"
  last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
  if [[ -z $last ]]; then
    echo "$2 integration: no summary line (the harness failed to run)"
    failed=$((failed + 1)); return
  fi
  p=${last%% passed*}; f=${last#*, }; f=${f%% failed*}
  passed=$((passed + p)); failed=$((failed + f))
}

# Bash exports VAR=value prefixes to a function's commands for that call only.
# Unit tests report to stderr, so a failing test's output shows the report;
# axon processes report to files, and the harness counts any file as a failure.
mkdir -p "$log/asan"
# axon under Apache's mod_fcgid runs as www-data when the tests run as root:
# it must be able to write its sanitizer report here too.
chmod 711 "$log"
chmod 1777 "$log/asan"
asan="detect_leaks=1:halt_on_error=1"
ubsan="print_stacktrace=1:halt_on_error=1"

run_unit build/tests normal
if [[ ${1:-} == --unit ]]; then # make check: the unit tests of the normal build only
  echo
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 && $passed -gt 0 ]]
  exit
fi
run_integration "$PWD/build/axon" normal
ASAN_OPTIONS=$asan UBSAN_OPTIONS=$ubsan run_unit build/asan/tests asan
ASAN_OPTIONS="$asan:log_path=$log/asan/report" UBSAN_OPTIONS="$ubsan:log_path=$log/asan/report" \
  run_integration "$PWD/build/asan/axon" asan

echo
echo "$passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
