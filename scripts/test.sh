#!/usr/bin/env bash
# test.sh - the project's test command: installs what is missing, builds the
# programs and the cmocka suite twice (plain, then with AddressSanitizer and
# UndefinedBehaviorSanitizer), and runs the whole suite each time with ctest.
# Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
jobs=$(nproc)

run_suite() {
  local dir=$1; shift
  echo "== build $dir ($*)"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  echo "== test $dir"
  (cd "$dir" && ctest --output-on-failure -j"$jobs")
}

run_suite build
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-sanitize -DEQ_SANITIZE=ON
echo "== all tests passed (plain and sanitizer builds)"
