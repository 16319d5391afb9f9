#!/bin/bash
# it_exact.sh BUILD_DIR SOURCE_DIR - released numbers are exact:
#  - a generated 400k-row extract with cent costs gives byte-identical cells
#    for --threads 1, 2 and 4 (integer sums do not depend on the order);
#  - the total cost sum prints as whole cents and equals the sum of the
#    input's cents (python3 integers, not the node's code), and the total
#    sum of squares equals the exact sum of squared cents;
#  - member months print exactly (input 11.5 and 0.25 months sum to 11.75);
#  - a cost with more than two decimals is a rejected row with its reason.
set -u
BUILD=${1:?usage: it_exact.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: it_exact.sh BUILD_DIR SOURCE_DIR}
BIN=$BUILD/bin
. "$SRC/tests/support/it_lib.sh" equity-node equity-gen-extract
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
NODE=$BIN/equity-node

"$BIN/equity-gen-extract" --rows 400000 --seed 7 --out "$W/x.csv" || fail "generator failed"
for t in 1 2 4; do
    "$NODE" aggregate --input "$W/x.csv" --threads $t --out "$W/c$t.csv" 2>"$W/agg$t.log" ||
        fail "aggregate --threads $t failed"
done
cmp -s "$W/c1.csv" "$W/c2.csv" || fail "--threads 1 and 2 differ: $(diff "$W/c1.csv" "$W/c2.csv" | wc -l) lines"
cmp -s "$W/c1.csv" "$W/c4.csv" || fail "--threads 1 and 4 differ: $(diff "$W/c1.csv" "$W/c4.csv" | wc -l) lines"
echo "ok - cells byte-identical for --threads 1, 2, 4"

python3 - "$W/x.csv" "$W/c1.csv" <<'EOF' || fail "cost sums are not the exact sums of the input's cents"
import csv, sys
from decimal import Decimal
cents = 0
sq = 0
for r in csv.DictReader(open(sys.argv[1])):
    if Decimal(r["member_months"]) <= 0:
        continue
    c = int(Decimal(r["total_cost"] or "0") * 100)
    cents += c
    sq += c * c
want_num = "%d.%02d" % divmod(cents, 100)
w = str(Decimal(sq) / Decimal(10000))
want_sq = w.rstrip("0").rstrip(".") if "." in w else w
for r in csv.DictReader(open(sys.argv[2])):
    if r["measure"] == "cost_pmpm" and r["stratifier"] == "total":
        if r["numerator"] != want_num:
            sys.exit("numerator %s, expected %s" % (r["numerator"], want_num))
        if r["sum_sq"] != want_sq:
            sys.exit("sum_sq %s, expected %s" % (r["sum_sq"], want_sq))
        print("ok - total cost %s USD and sum of squares %s USD^2 are exact" % (want_num, want_sq))
        sys.exit(0)
sys.exit("no cost_pmpm total cell")
EOF

# Small hand-made input: 11 members so that k = 11 releases the total.
{
    echo "member_id,period,age,sex,race,ethnicity,language,payer,adi_decile,disability,cmc,county,member_months,ed_visits,ip_admits,ip_readmits_30d,total_cost"
    echo "A01,2025,40,F,WHITE,,eng,MEDICAID,,,,,11.5,0,0,0,0.10"
    echo "A02,2025,40,F,WHITE,,eng,MEDICAID,,,,,0.25,0,0,0,0.20"
    for i in 03 04 05 06 07 08 09 10 11; do
        echo "A$i,2025,40,F,WHITE,,eng,MEDICAID,,,,,12,0,0,0,1234567.89"
    done
    echo "A12,2025,40,F,WHITE,,eng,MEDICAID,,,,,12,0,0,0,1.005"
} >"$W/small.csv"
"$NODE" aggregate --input "$W/small.csv" --threads 1 --out "$W/small_cells.csv" 2>"$W/small.log" ||
    fail "aggregate of the small file failed"
line=$(grep ',cost_pmpm,total,all,' "$W/small_cells.csv")
# 0.10 + 0.20 + 9 * 1234567.89 = 11111111.31 USD; 11.5 + 0.25 + 108 months
want=",cost_pmpm,total,all,11,119.75,119.75,11111111.31,"
case "$line" in
*"$want"*) echo "ok - cent-valued costs and fractional member months print exactly" ;;
*) fail "cost_pmpm total is '$line', wanted '$want'" ;;
esac
"$NODE" profile --input "$W/small.csv" >"$W/profile.out" 2>&1 || fail "profile failed"
grep -q "1 rejected" "$W/small.log" && grep -q "more than 2 decimals" "$W/profile.out" ||
    fail "a cost of 1.005 USD was not rejected with its reason: $(cat "$W/profile.out")"
echo "ok - a cost with more than two decimals is a rejected row with its reason"
echo "PASS: it_exact"
