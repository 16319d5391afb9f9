#!/usr/bin/env bash
# test.sh - the project's test command: installs what is missing, builds the
# programs and the cmocka suite twice (plain, then with AddressSanitizer and
# UndefinedBehaviorSanitizer), and runs the whole suite each time with ctest;
# runs the README's demo (scripts/demo.sh) once.
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
# The README's main command: a whole demo federation (its own Release build).
# It broke once without any test noticing (the round report refused the
# numbers it wrote), so the suite runs it too.
echo "== demo (scripts/demo.sh, log in build/demo.log)"
bash scripts/demo.sh >build/demo.log 2>&1 || { tail -n 40 build/demo.log; echo "scripts/demo.sh failed"; exit 1; }
grep -q " error: " build/demo.log && { grep -n " error: " build/demo.log | head; echo "the demo logged an error"; exit 1; }
echo "demo: passed"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-sanitize -DEQ_SANITIZE=ON
# The libFuzzer targets of every decoder of outside bytes: built, and each run
# briefly on generated inputs so that a crash on easy inputs fails the suite.
# (Long fuzzing runs are by hand: tests/fuzz/CMakeLists.txt.)
echo "== fuzz targets (build-fuzz, clang + libFuzzer): short smoke runs"
CC=clang cmake -S . -B build-fuzz -DEQ_FUZZ=ON -DEQ_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$jobs" >/dev/null
for f in build-fuzz/bin/fuzz_*; do
  "$f" -runs=3000 -max_len=2048 -seed=1 >/dev/null 2>"build-fuzz/$(basename "$f").log" ||
    { cat "build-fuzz/$(basename "$f").log"; echo "fuzz target $f failed"; exit 1; }
  echo "$(basename "$f"): 3000 runs, no crash"
done
echo "== all tests passed (plain and sanitizer builds, fuzz smoke runs)"
