#!/usr/bin/env bash
# run_pooled.sh - the pooled-release benchmark (bench/README.md, "Pooled
# release"): builds Release into build-bench/, writes the cells of N
# generated organizations with the real node (equity-gen-extract, then
# equity-node aggregate: the node's own suppression), and times the
# coordinator's release of the first 2, 6, 20 and 50 of them
# (equity-bench-pooled) at min_orgs 2 and 3. With --demo, the same for the
# demo round's three organizations (scripts/demo.sh: plan-a 300,000 members,
# plan-b 75,000, clinic-c the Synthea sample), with the demo's tables.
#
# usage: bench/run_pooled.sh [--no-build] [--members M] [--orgs LIST]
#                            [--min-orgs LIST] [--demo] [--no-federation] [--audit]
#   --members M   members per generated organization (default 20000)
#   --orgs LIST   organization counts (default 2,6,20,50)
#   --min-orgs L  min_orgs values (default 2,3)
#   --audit       also run test_release's independent per-organization check
#                 on generated federations of 50 organizations
#                 (EQ_FEDERATION_ORGS=50; built into build-bench-audit/)
# Prints one line per release and PASS/MISS against the targets (20
# organizations under 30 s, 50 under 120 s). Exit 0 when every release ran.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=1
MEMBERS=20000
ORGS=2,6,20,50
MINS=2,3
DEMO=0
FED=1
AUDIT=0
while [ $# -gt 0 ]; do
    case "$1" in
    --no-build) BUILD=0; shift ;;
    --members) MEMBERS=$2; shift 2 ;;
    --orgs) ORGS=$2; shift 2 ;;
    --min-orgs) MINS=$2; shift 2 ;;
    --demo) DEMO=1; shift ;;
    --no-federation) FED=0; shift ;;
    --audit) AUDIT=1; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_pooled.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done
[[ $MEMBERS =~ ^[1-9][0-9]*$ ]] || { echo "run_pooled.sh: --members needs a positive integer" >&2; exit 2; }

if [ "$BUILD" = 1 ]; then
    cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DEQ_TESTS=OFF >/dev/null
    cmake --build "$ROOT/build-bench" -j2 --target equity-node equity-gen-extract \
        equity-bench-pooled >/dev/null
fi
BIN=$ROOT/build-bench/bin
W=$HERE/work/pooled
mkdir -p "$W"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
# The node writes cells without a round (aggregate): name the organization
# and the round, as a submission would.
name_cells() { # FILE ORG
    sed -i "2,\$ s/^[^,]*,[^,]*,/$2,bench,/" "$1"
}

if [ "$FED" = 1 ]; then
    MAXN=$(tr ',' '\n' <<<"$ORGS" | sort -n | tail -1)
    FILES=()
    for ((o = 0; o < MAXN; o++)); do
        f=$W/org$o-$MEMBERS.csv
        FILES+=("$f")
        [ -s "$f" ] && continue
        # organizations differ: skew -0.8 .. 0.8, own seed
        skew=$(awk -v o=$o 'BEGIN { printf "%.2f", -0.8 + 1.6 * ((o * 7) % 17) / 16 }')
        "$BIN/equity-gen-extract" --rows "$MEMBERS" --seed $((1000 + o)) --org-skew "$skew" \
            --period 2021 --threads 1 --out "$W/org$o.extract.csv"
        "$BIN/equity-node" aggregate --input "$W/org$o.extract.csv" --period 2021 \
            --out "$f" 2>/dev/null
        name_cells "$f" "org:bench-$o"
        rm -f "$W/org$o.extract.csv"
    done
    echo "generated organizations: $MAXN x $MEMBERS members (cells in $W)"
    for m in ${MINS//,/ }; do
        out=$("$BIN/equity-bench-pooled" --min-orgs "$m" --orgs "$ORGS" "${FILES[@]}") || rc=1
        echo "$out"
        while read -r line; do
            n=$(sed -n 's/.*orgs=\([0-9]*\) .*/\1/p' <<<"$line")
            s=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$line")
            lim=
            [ "$n" = 20 ] && lim=30
            [ "$n" = 50 ] && lim=120
            [ -n "$lim" ] && echo "target: $n organizations, min_orgs $m: ${s} s (< $lim s) $(awk -v s="$s" -v l="$lim" 'BEGIN { print (s < l) ? "PASS" : "MISS" }')"
        done <<<"$out"
    done
fi

if [ "$DEMO" = 1 ]; then
    D=$W/demo
    mkdir -p "$D"
    cat >"$D/node.ini" <<EOF
[node]
org = org:demo
[report]
intersections = race*disability, race*cmc, race*payer, race*age_band, race*age_std, payer*language, ethnicity*language
EOF
    if [ ! -s "$D/clinic-c.csv" ]; then
        "$BIN/equity-gen-extract" --rows 300000 --seed 11 --org-skew 0 --period 2021 --out "$D/plan-a.extract.csv"
        "$BIN/equity-gen-extract" --rows 75000 --seed 22 --org-skew 0.6 --period 2021 --out "$D/plan-b.extract.csv"
        for o in plan-a plan-b; do
            "$BIN/equity-node" aggregate --config "$D/node.ini" --input "$D/$o.extract.csv" \
                --period 2021 --out "$D/$o.csv" 2>/dev/null
            name_cells "$D/$o.csv" "org:demo-$o"
            rm -f "$D/$o.extract.csv"
        done
        "$BIN/equity-node" aggregate --config "$D/node.ini" --format synthea \
            --input "$ROOT/../shared/data/synthea-ca-50" --period 2021 --out "$D/clinic-c.csv" 2>/dev/null
        name_cells "$D/clinic-c.csv" org:demo-clinic-c
    fi
    for m in ${MINS//,/ }; do
        echo "demo round (plan-a, plan-b, clinic-c):"
        "$BIN/equity-bench-pooled" --min-orgs "$m" "$D/plan-a.csv" "$D/plan-b.csv" "$D/clinic-c.csv" || rc=1
    done
fi
if [ "$AUDIT" = 1 ]; then
    if [ "$BUILD" = 1 ] || [ ! -x "$ROOT/build-bench-audit/bin/test_release" ]; then
        cmake -S "$ROOT" -B "$ROOT/build-bench-audit" -DCMAKE_BUILD_TYPE=Release >/dev/null
        cmake --build "$ROOT/build-bench-audit" -j2 --target test_release >/dev/null
    fi
    start=$(date +%s)
    if out=$(EQ_FEDERATION_ORGS=50 "$ROOT/build-bench-audit/bin/test_release" 2>/dev/null); then
        grep 'federation check' <<<"$out"
        echo "independent check of 50 organizations: PASS ($(( $(date +%s) - start )) s)"
    else
        grep -E 'federation check|ERROR|FAILED' <<<"$out" || true
        echo "independent check of 50 organizations: FAIL"
        rc=1
    fi
fi
exit $rc
