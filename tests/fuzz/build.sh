#!/usr/bin/env bash
# Builds the fuzz harnesses into build/fuzz/<harness> (tests/fuzz/fuzz.mk):
# clang with libFuzzer, ASan and UBSan, the main build's warnings, -Werror.
# Incremental; FUZZ_CC picks the compiler (default clang, else clang-14).
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1 && ! command -v clang-14 >/dev/null 2>&1; then
  echo "fuzz: clang is missing: apt-get install clang libclang-rt-14-dev llvm-14" >&2
  exit 1
fi
exec nice -n "${FUZZ_NICE:-10}" make --no-print-directory -f tests/fuzz/fuzz.mk -j"${FUZZ_JOBS:-2}" "$@"
