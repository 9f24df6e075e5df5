#!/usr/bin/env bash
# Runs the libFuzzer harnesses (tests/fuzz/fuzz_*.c), one at a time, niced.
#
#   tests/fuzz/run.sh [--smoke] [harness...]    (default: every harness)
#
# First it builds them (build.sh) and the seed corpora (seeds.sh; a smoke run
# only seeds a harness that has no corpus yet), then for
# each harness it replays every input saved in tests/fuzz/regressions/<harness>/
# and fuzzes for FUZZ_SECONDS (default 300; --smoke: FUZZ_SMOKE_SECONDS,
# default 10) on build/fuzz/corpus/<harness>/, which keeps what it learns
# between runs. ASan (leaks included) and UBSan halt on the first report.
# Per harness it prints the executions, exec/s, coverage and corpus size, and
# any finding with its saved input (build/fuzz/artifacts/<harness>/) and the
# report's first lines; the full log is build/fuzz/logs/<harness>.log. The last
# line is "N passed, M failed" (one per harness); the exit status is non-zero
# on any finding.
#
# A finding becomes a regression: copy the artifact into
# tests/fuzz/regressions/<harness>/ once src/ is fixed.
#
# Settings: FUZZ_SECONDS, FUZZ_SMOKE_SECONDS, FUZZ_MAX_LEN (per harness, 8-64 KiB),
# FUZZ_RSS_MB (2048), FUZZ_TIMEOUT_S (per input, 25), FUZZ_NICE (19),
# FUZZ_ARGS (more libFuzzer flags), FUZZ_LOGS (build/fuzz/logs).
set -uo pipefail
cd "$(dirname "$0")/../.."

smoke=0
if [[ ${1:-} == --smoke ]]; then smoke=1; shift; fi
all=(request sse anthropic openai config conv seal resp)
harnesses=("$@")
[[ ${#harnesses[@]} -gt 0 ]] || harnesses=("${all[@]}")
if ((smoke)); then secs=${FUZZ_SMOKE_SECONDS:-10}; else secs=${FUZZ_SECONDS:-300}; fi
nice_n=${FUZZ_NICE:-19}
declare -A dict=([request]=json [anthropic]=json [openai]=json [sse]=sse [config]=config [conv]=conv [seal]=seal [resp]=json)
# Longest input: request bodies and records may be large; the byte-level
# parsers find their bugs in short inputs and run several times faster on them.
declare -A maxlen=([request]=65536 [sse]=8192 [anthropic]=16384 [openai]=16384 [config]=16384 [conv]=65536 [seal]=8192 [resp]=65536)

started=$(date +%s)
tests/fuzz/build.sh >build/fuzz-build.log 2>&1 || {
  cat build/fuzz-build.log
  echo "fuzz: the build failed"
  echo "0 passed, ${#harnesses[@]} failed"
  exit 1
}
# Seeds: always for a campaign; for a smoke run only where no corpus exists yet.
seed=()
for h in "${harnesses[@]}"; do
  if ((!smoke)) || [[ -z $(ls -A "build/fuzz/corpus/$h" 2>/dev/null) ]]; then seed+=("$h"); fi
done
if [[ ${#seed[@]} -gt 0 ]]; then
  tests/fuzz/seeds.sh "${seed[@]}" >/dev/null || { echo "fuzz: seeds.sh failed"; exit 1; }
fi

# Sanitizers: stop at the first report, leaks included; libFuzzer turns a
# report into a saved input and a non-zero exit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
sym=$(command -v llvm-symbolizer || command -v llvm-symbolizer-14 || true)
[[ -n $sym ]] && export ASAN_SYMBOLIZER_PATH=$sym

passed=0
failed=0
logs=${FUZZ_LOGS:-build/fuzz/logs} # a campaign may keep its own
mkdir -p "$logs"
for h in "${harnesses[@]}"; do
  bin=build/fuzz/$h
  corpus=build/fuzz/corpus/$h
  art=build/fuzz/artifacts/$h
  log=$logs/$h.log
  mkdir -p "$corpus" "$art"
  : >"$log"
  ok=1
  why=""
  # 1. Every saved crash input, once each.
  regs=()
  if [[ -d tests/fuzz/regressions/$h ]]; then
    while IFS= read -r -d '' f; do regs+=("$f"); done \
      < <(find "tests/fuzz/regressions/$h" -type f ! -name '*.md' -print0 | sort -z)
  fi
  if [[ ${#regs[@]} -gt 0 ]]; then
    if ! nice -n "$nice_n" "$bin" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
        -timeout="${FUZZ_TIMEOUT_S:-25}" "${regs[@]}" >>"$log" 2>&1; then
      ok=0; why="a regression input fails again"
    fi
  fi
  # 2. Fuzzing, on the corpus (which it replays first).
  stamp=$(mktemp)
  if ((ok)); then
    # shellcheck disable=SC2086
    nice -n "$nice_n" "$bin" -max_total_time="$secs" -max_len="${FUZZ_MAX_LEN:-${maxlen[$h]}}" \
      -rss_limit_mb="${FUZZ_RSS_MB:-2048}" -timeout="${FUZZ_TIMEOUT_S:-25}" -detect_leaks=1 \
      -dict="tests/fuzz/${dict[$h]}.dict" -artifact_prefix="$art/" -print_final_stats=1 \
      -reload=0 ${FUZZ_ARGS:-} "$corpus" >>"$log" 2>&1
    rc=$?
    new=$(find "$art" -maxdepth 1 -type f -newer "$stamp" | wc -l)
    if [[ $rc -ne 0 || $new -gt 0 ]]; then ok=0; why="a finding (exit $rc)"; fi
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  corp=$(grep -oE 'corp: [0-9]+/[0-9]+[bKM]b' "$log" | tail -1)
  files=$(find "$corpus" -maxdepth 1 -type f | wc -l)
  printf 'fuzz %-9s %10s execs %7s exec/s  %-20s %-17s (%d files)  regressions %d  %s\n' \
    "$h" "${execs:-?}" "${rate:-?}" "${cov:-cov: ?}" "${corp:-corp: ?}" "$files" "${#regs[@]}" \
    "$( ((ok)) && echo ok || echo "FAILED: $why")"
  if ((ok)); then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    find "$art" -maxdepth 1 -type f -newer "$stamp" | head -5 | sed 's/^/  input: /'
    grep -m1 -B2 -A30 -E '^==[0-9]+==ERROR|runtime error|fuzz: invariant|^==[0-9]+== ?ERROR: libFuzzer|Test unit written' "$log" \
      | head -45 | sed 's/^/  | /'
    echo "  full log: $log"
  fi
  rm -f "$stamp"
done
echo "fuzz: $(( $(date +%s) - started )) s"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
