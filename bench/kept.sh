#!/usr/bin/env bash
# kept.sh - information kept by complementary suppression (docs/design.md,
# "Suppression"; tests/audit/FINDINGS.md, "Information kept").
#
# For each seed, population and k: writes a generated population with
# audit-gen, runs `equity-node aggregate` on it and prints, of the cells that
# pass the primary rules, the share released: released / (released + withheld
# for reason `secondary`), from the reason column of the cells CSV.
#
# usage: bench/kept.sh [BUILD_DIR] [SEEDS] [MEMBERS] [KS]
#   BUILD_DIR  default build
#   SEEDS      default "1 2"
#   MEMBERS    default "150 500 2500"
#   KS         default "11 20"
# Prints one line per run: members seed k released secondary share time.
set -euo pipefail

BUILD=${1:-build}
SEEDS=${2:-"1 2"}
MEMBERS=${3:-"150 500 2500"}
KS=${4:-"11 20"}
GEN=$BUILD/bin/audit-gen
NODE=$BUILD/bin/equity-node
for b in "$GEN" "$NODE"; do
    [ -x "$b" ] || { echo "kept.sh: $b not built" >&2; exit 2; }
done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kept.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

printf '%-8s %-4s %-3s %9s %9s %7s %6s\n' members seed k released secondary share secs
tot_r=0
tot_s=0
for n in $MEMBERS; do
    for seed in $SEEDS; do
        "$GEN" --seed "$seed" --members "$n" --out "$TMP/w.csv"
        for k in $KS; do
            t0=$(date +%s.%N)
            "$NODE" aggregate --input "$TMP/w.csv" --k "$k" --out "$TMP/r.csv" -q
            t1=$(date +%s.%N)
            # reason is the last column; empty when released
            read -r rel sec < <(awk -F, 'NR == 1 { if ($NF != "reason") exit 3; next }
                $NF == "" { r++ } $NF == "secondary" { s++ }
                END { print r + 0, s + 0 }' "$TMP/r.csv")
            tot_r=$((tot_r + rel))
            tot_s=$((tot_s + sec))
            awk -v n="$n" -v seed="$seed" -v k="$k" -v r="$rel" -v s="$sec" -v t0="$t0" -v t1="$t1" \
                'BEGIN { printf "%-8s %-4s %-3s %9d %9d %6.1f%% %6.2f\n", n, seed, k, r, s,
                         r + s ? 100 * r / (r + s) : 100, t1 - t0 }'
        done
    done
done
awk -v r="$tot_r" -v s="$tot_s" 'BEGIN { printf "all               %9d %9d %6.1f%%\n", r, s,
                                         r + s ? 100 * r / (r + s) : 100 }'
