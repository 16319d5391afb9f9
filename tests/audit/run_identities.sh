#!/usr/bin/env bash
# run_identities.sh - the independent disclosure audit of a release with the
# identity stratifiers and the HEDIS-style flag measures (issue 13).
#
#   run_identities.sh BUILD_DIR SOURCE_DIR
#
# audit-gen --identities writes a 300-member extract with race_source,
# ethnicity_source, sexual_orientation, gender_identity and the PPC, FUM and
# CIS flags; the real `equity-node aggregate` releases it with
# configs/catalog-identities.ini (population and the five HEDIS-style
# measures; race, ethnicity, sex, payer and the four identity stratifiers;
# race*race_source, ethnicity*ethnicity_source, sexual_orientation*payer,
# gender_identity*sex); equity-audit checks the release with its own model
# (identity tables: one-way tables adding up to the total, two-way tables
# adding up to both margins; flag measures: population <= members,
# numerator <= population, months <= 12 per member, fum_7d <= fum_30d).
# Cases k = 5 and 11 against tests/audit/known_findings.txt (counts may only
# go down); a broken control release (one small withheld sexual_orientation
# cell given away) must be caught. About 10 s.
set -u
BUILD=${1:?build dir}
SRC=$(cd "${2:?source dir}" && pwd)
BIN=$BUILD/bin
BASE=$SRC/tests/audit/known_findings.txt
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail=0
MEAS=population,ppc_prenatal,ppc_postpartum,fum_7d,fum_30d,cis_combo10

cat >"$WORK/node.ini" <<INI
[node]
catalog = $SRC/configs/catalog-identities.ini
[report]
measures = $MEAS
stratifiers = race, ethnicity, sex, payer, race_source, ethnicity_source, sexual_orientation, gender_identity
intersections = race*race_source, ethnicity*ethnicity_source, sexual_orientation*payer, gender_identity*sex
[policy]
min_k = 2
INI

t0=$(date +%s)
W=$WORK/w.csv
"$BIN/audit-gen" --seed 1 --members 300 --identities --out "$W" || exit 1
for k in 5 11; do
    if ! "$BIN/equity-node" aggregate --config "$WORK/node.ini" --input "$W" --k "$k" \
        --out "$WORK/r$k.csv" -q; then
        echo "FAIL equity-node aggregate --k $k (catalog-identities.ini)"
        exit 1
    fi
    for t in race_source ethnicity_source sexual_orientation gender_identity \
        'race\*race_source' 'gender_identity\*sex'; do
        grep -q ",$t," "$WORK/r$k.csv" || { echo "FAIL [k$k] no table $t in the release"; fail=1; }
    done
    grep -q '^[^,]*,[^,]*,ppc_prenatal,' "$WORK/r$k.csv" ||
        { echo "FAIL [k$k] no ppc_prenatal cells"; fail=1; }
    rc=0
    "$BIN/equity-audit" --k "$k" --world "$W" --release "$WORK/r$k.csv=0" --details 20 \
        >"$WORK/k$k.out" 2>"$WORK/k$k.err" || rc=$?
    grep -E '^(KEPT|FAIL|SUMMARY)' "$WORK/k$k.out" | sed "s/^/[identities k$k] /"
    if [ "$rc" -ne 0 ]; then
        echo "FAIL [k$k] equity-audit exit $rc (3: the audit's own model failed its self-check)"
        tail -20 "$WORK/k$k.err"
        fail=1
        continue
    fi
    n=$(sed -n 's/^SUMMARY .* failing=\([0-9]*\).*/\1/p' "$WORK/k$k.out")
    allowed=$(awk -v c="identities/k$k" '$1 == c { print $2 }' "$BASE")
    if [ -z "$n" ] || [ -z "$allowed" ]; then
        echo "FAIL [k$k] no SUMMARY line or no baseline 'identities/k$k' in $BASE"
        fail=1
    elif [ "$n" -gt "$allowed" ]; then
        echo "FAIL [k$k] $n findings, baseline allows $allowed"
        fail=1
    else
        [ "$n" -lt "$allowed" ] && echo "NOTE [k$k] $n findings < baseline $allowed: lower it in $BASE"
        echo "ok [identities k$k] $n findings (baseline $allowed)"
    fi
done

# control: a small withheld sexual_orientation population cell whose
# complements are given away must be reported
ctl=$(AUDIT_MEASURES=population AUDIT_CONTROL_TABLE=sexual_orientation "$BIN/equity-audit" \
    --k 11 --world "$W" --release "$WORK/r11.csv=0" --make-control "$WORK/broken.csv" \
    2>"$WORK/ctl.err" | sed -n 's/^CONTROL //p')
case $ctl in
sexual_orientation,*)
    rc=0
    AUDIT_MEASURES=population "$BIN/equity-audit" --k 11 --world "$W" \
        --release "$WORK/broken.csv=0" --expect-fail "$ctl" --details 5 \
        >"$WORK/ctl.out" 2>>"$WORK/ctl.err" || rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "ok [control] the audit reports the given-away cell $ctl"
    else
        echo "FAIL [control] the audit did not report the given-away cell $ctl (exit $rc)"
        cat "$WORK/ctl.out" "$WORK/ctl.err"
        fail=1
    fi
    ;;
*)
    echo "FAIL [control] could not build a broken sexual_orientation release"
    cat "$WORK/ctl.err"
    fail=1
    ;;
esac
echo "audit (identities): $(($(date +%s) - t0)) s"
exit $fail
