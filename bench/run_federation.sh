#!/usr/bin/env bash
# run_federation.sh - the federation scale benchmark (bench/README.md):
# builds Release into build-bench/ and runs equity-bench-federation, which
# drives one round of N simulated nodes (real CURVE connections, own keys,
# own signatures) against the real equity-coordinator binary and prints the
# round time, throughput, the coordinator's peak RSS and PASS/MISS against
# the targets (2 s, 512 MB).
#
# usage: bench/run_federation.sh [--no-build] [--repeat R] [--plain-sodium-alloc]
#                                 [BENCH-ARGS...]
#   --no-build   use build-bench/ as it is
#   --repeat R   run R times (each prints its own summary line)
#   --plain-sodium-alloc  a measurement only: runs both processes with
#                libsodium's guarded allocator replaced by malloc
#                (bench/sodium_plain_alloc.c, LD_PRELOAD), to show its cost
#   BENCH-ARGS   passed on: --nodes N (default 1000), --timeout S, --keep
# Exit status: that of the last run (0 = every node ACKed and stored).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=1
REPEAT=1
PLAIN=0
ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
    --no-build) BUILD=0; shift ;;
    --plain-sodium-alloc) PLAIN=1; shift ;;
    --repeat) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "run_federation.sh: --repeat needs a positive integer, got \"${2:-}\"" >&2; exit 2; }
              REPEAT=$2; shift 2 ;;
    -h|--help) sed -n '9,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) ARGS+=("$1"); shift ;;
    esac
done

if [ "$BUILD" = 1 ]; then
    cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DEQ_TESTS=OFF >/dev/null
    cmake --build "$ROOT/build-bench" -j2 --target equity-coordinator equity-bench-federation \
        bench_sodium_plain_alloc >/dev/null
fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
PRELOAD=
if [ "$PLAIN" = 1 ]; then
    PRELOAD="$ROOT/build-bench/lib/libsodium_plain_alloc.so"
    [ -f "$PRELOAD" ] || { echo "run_federation.sh: $PRELOAD is missing (build without --no-build)" >&2; exit 1; }
    echo "MEASUREMENT ONLY: libsodium's guarded allocator replaced by malloc in both processes"
fi
rc=0
for _ in $(seq "$REPEAT"); do
    rc=0
    LD_PRELOAD=$PRELOAD "$ROOT/build-bench/bin/equity-bench-federation" ${ARGS[@]+"${ARGS[@]}"} \
        2> >(grep -v ' equity info: ' >&2) || rc=$?
done
exit $rc
