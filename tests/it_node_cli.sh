#!/bin/bash
# it_node_cli.sh BUILD_DIR SOURCE_DIR - equity-node as a user meets it:
# --help/--version, exit codes (0 ok, 1 bad input or configuration, 2 usage),
# clear file:line:column errors, no partial or stray output file on failure,
# the three output formats, preview/profile on the Synthea sample, and a
# generated extract whose totals are checked against awk's own count.
set -u
BUILD=${1:?usage: it_node_cli.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: it_node_cli.sh BUILD_DIR SOURCE_DIR}
NODE=$BUILD/bin/equity-node
GEN=$BUILD/bin/equity-gen-extract
SYNTHEA=$SRC/../shared/data/synthea-ca-50
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
n=0
failures=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
bad() { n=$((n + 1)); failures=$((failures + 1)); echo "not ok $n - $*"; }
# expect STATUS NEEDLE CMD...: exit status and a phrase on stderr
expect() {
    local want=$1 needle=$2
    shift 2
    "$@" >"$W/out" 2>"$W/err"
    local got=$?
    if [ "$got" -ne "$want" ]; then
        bad "$* -> exit $got, wanted $want: $(head -c 300 "$W/err")"
    elif [ -n "$needle" ] && ! grep -qF -- "$needle" "$W/err"; then
        bad "$* -> stderr lacks \"$needle\": $(head -c 300 "$W/err")"
    else
        ok "$* -> $want${needle:+ ($needle)}"
    fi
}

"$NODE" --help | grep -q "aggregate --input PATH" && ok "--help" || bad "--help"
"$NODE" --version | grep -q "^equity-node [0-9]" && ok "--version" || bad "--version"
expect 2 "unknown command" "$NODE" frobnicate
expect 2 "needs --out" "$NODE" aggregate --input "$W/x.csv"
expect 2 "must end in .csv, .json or .pb" "$NODE" aggregate --input "$W/x.csv" --out "$W/o.txt"
expect 2 "--k must be" "$NODE" aggregate --input "$W/x.csv" --k 1 --out "$W/o.csv"
expect 1 "No such file" "$NODE" aggregate --input "$W/missing.csv" --out "$W/o.csv"

: >"$W/empty.csv"
expect 1 "empty.csv" "$NODE" aggregate --input "$W/empty.csv" --out "$W/o.csv"
head -c 4096 /dev/urandom >"$W/binary.csv"
expect 1 "binary.csv" "$NODE" aggregate --input "$W/binary.csv" --out "$W/o.csv"
printf 'member_id,period,age\nm1,2025,40\n' >"$W/nocols.csv"
expect 1 "missing" "$NODE" aggregate --input "$W/nocols.csv" --out "$W/o.csv"
[ ! -e "$W/o.csv" ] && ok "no output file after failures" || bad "an output file was left behind"

# No data, no cells: a header-only extract, or one whose rows are all of
# another period, is an error, and nothing is written.
printf 'member_id,period,age,sex,race,ethnicity,language,payer,adi_decile,disability,cmc,county,member_months,ed_visits\n' >"$W/header.csv"
expect 1 "header.csv: no data for period 2025: 0 rows read, 0 accepted" \
    "$NODE" aggregate --input "$W/header.csv" --period 2025 --out "$W/h.csv"
cp "$W/header.csv" "$W/other.csv"
echo "m1,2021,40,F,WHITE,HISPANIC,eng,MEDICAID,3,N,N,17031,12,1" >>"$W/other.csv"
echo "m2,2021,41,M,WHITE,HISPANIC,eng,MEDICAID,3,N,N,17031,12,0" >>"$W/other.csv"
expect 1 "no data for period 2025: 2 rows read, 0 accepted, 2 rejected (other_period 2)" \
    "$NODE" aggregate --input "$W/other.csv" --period 2025 --out "$W/h.csv"
expect 1 "no data for period 2025" "$NODE" preview --input "$W/other.csv" --period 2025
sed 's/,12,\([01]\)$/,0,\1/' "$W/other.csv" | sed 's/,2021,/,2025,/' >"$W/nomonths.csv"
expect 1 "2 accepted (all with 0 member months)" \
    "$NODE" aggregate --input "$W/nomonths.csv" --period 2025 --out "$W/h.csv"
[ ! -e "$W/h.csv" ] && ok "no cells file without data" || bad "cells were written without data"

# A good small extract, plus one bad row in several ways.
"$GEN" --rows 3000 --seed 5 --period 2025 --out "$W/good.csv" || bad "generator"
cp "$W/good.csv" "$W/badrows.csv"
head -2 "$W/good.csv" | tail -1 | awk -F, 'BEGIN{OFS=","} {$3="130"; $1="dup-x"; print}' >>"$W/badrows.csv"
echo "ragged,row" >>"$W/badrows.csv"
expect 0 "rejected" "$NODE" aggregate --input "$W/badrows.csv" --out "$W/b.csv"
"$NODE" profile --input "$W/badrows.csv" >"$W/profile.txt" 2>/dev/null
grep -q "badrows.csv:3002:" "$W/profile.txt" && ok "profile names file:line of the bad age" || bad "profile lacks file:line: $(grep -A3 -i range "$W/profile.txt" | head -5)"
grep -qi "field_count\|fields" "$W/profile.txt" && ok "profile counts the ragged row" || bad "profile lacks the ragged row"
expect 1 "badrows.csv:3002:" "$NODE" aggregate --input "$W/badrows.csv" --strict --out "$W/s.csv"
[ ! -e "$W/s.csv" ] && ok "strict failure leaves no file" || bad "strict failure left a file"

# Output formats, and the totals against an independent count (awk).
for ext in csv json pb; do
    expect 0 "" "$NODE" aggregate --input "$W/good.csv" --out "$W/cells.$ext" --quiet
    [ -s "$W/cells.$ext" ] && ok "wrote cells.$ext" || bad "cells.$ext empty"
done
ls "$W" | grep -q '\.tmp\.' && bad "temporary file left" || ok "no temporary files left"
head -1 "$W/cells.csv" | grep -qx "org,round,measure,stratifier,stratum,members,member_months,denominator,numerator,sum_sq,suppressed,reason" &&
    ok "cells CSV header" || bad "cells CSV header"
read -r members ed <<<"$(awk -F, 'NR==1{for(i=1;i<=NF;i++)h[$i]=i; next}
    $h["member_months"]>0 {m++; e+=$h["ed_visits"]} END{print m, e}' "$W/good.csv")"
got=$(awk -F, '$3=="ed_rate" && $4=="total" {print $6, $9}' "$W/cells.csv")
[ "$got" = "$members $ed" ] && ok "total members and ED visits match awk ($got)" ||
    bad "total: node says '$got', awk says '$members $ed'"
# JSON carries the CSV's exact decimals (whole cents, 1/10000 months), not doubles
if python3 - "$W/cells.json" "$W/cells.csv" <<'EOF'
import csv, json, sys
from decimal import Decimal
j = json.load(open(sys.argv[1]), parse_float=Decimal)["cells"]
ref = list(csv.DictReader(open(sys.argv[2])))
assert len(j) == len(ref), (len(j), len(ref))
for a, b in zip(j, ref):
    assert (a["measure"], a["stratifier"], a["stratum"]) == (b["measure"], b["stratifier"], b["stratum"])
    for k in ("members", "member_months", "denominator", "numerator", "sum_sq"):
        assert (a[k] is None) if b[k] == "" else Decimal(b[k]) == Decimal(a[k]), (k, a[k], b[k])
    assert a["suppressed"] == (b["suppressed"] == "1")
EOF
then ok "cells JSON numbers equal the CSV's exactly"; else bad "cells JSON differs from the CSV"; fi
grep -q "max_contrib" "$W/cells.csv" "$W/cells.json" && bad "max_contrib leaked" || ok "max_contrib never written"
awk -F, 'NR>1 && $11==0 && $6>0 && $6<11 {exit 1}' "$W/cells.csv" && ok "no released cell with 1..10 members" ||
    bad "a released cell has 1..10 members"

# Empty means unknown: an empty ed_visits withholds ed_rate (its denominator is
# every member's months), an empty no_shows leaves that member out of no_show.
awk -F, 'BEGIN{OFS=","} NR==1{for(i=1;i<=NF;i++)h[$i]=i; print; next}
    NR==2{$h["ed_visits"]=""} NR==3{$h["no_shows"]=" "; $h["scheduled_appts"]="5"} {print}' \
    "$W/good.csv" >"$W/empty.csv"
expect 0 "left out of those measures" "$NODE" aggregate --input "$W/empty.csv" --out "$W/e.csv"
awk -F, '$3=="ed_rate" {n++; if ($12!="not_available") exit 1} END{exit n < 10}' "$W/e.csv" &&
    ok "empty ed_visits: ed_rate withheld as not_available" || bad "ed_rate released with an unknown ed_visits"
read -r want_sched <<<"$(awk -F, 'NR==1{for(i=1;i<=NF;i++)h[$i]=i; next}
    $h["member_months"]>0 && NR!=3 {s+=$h["scheduled_appts"]} END{print s}' "$W/empty.csv")"
got=$(awk -F, '$3=="no_show" && $4=="total" {print $8}' "$W/e.csv")
[ "$got" = "$want_sched" ] && ok "empty no_shows: that member is out of no_show ($got appointments)" ||
    bad "no_show denominator $got, awk without the member says $want_sched"
"$NODE" profile --input "$W/empty.csv" >"$W/profile-empty.txt" 2>/dev/null
grep -q "left out of ed_rate .*1 members (measure withheld: not_available)" "$W/profile-empty.txt" &&
    grep -q "no_shows *1 members" "$W/profile-empty.txt" &&
    ok "profile reports the empty fields" || bad "profile lacks the empty fields: $(grep -A6 Empty "$W/profile-empty.txt")"

# [map.county] maps county names of an extract to FIPS codes.
printf '[map.county]\nCook County = 17031\n' >"$W/county.ini"
awk -F, 'BEGIN{OFS=","} NR==1{for(i=1;i<=NF;i++)h[$i]=i; print; next}
    NR<=31{$h["county"]= NR%2 ? "Cook County" : " cook county "} {print}' "$W/good.csv" >"$W/names.csv"
expect 0 "" "$NODE" aggregate --config "$W/county.ini" --input "$W/names.csv" --out "$W/n.csv"
grep -q "rows rejected" "$W/err" && bad "county names rejected: $(grep rejected "$W/err")" || ok "county names accepted"
read -r cook <<<"$(awk -F, 'NR==1{for(i=1;i<=NF;i++)h[$i]=i; next}
    $h["member_months"]>0 && ($h["county"] ~ /[Cc]ook/ || $h["county"]=="17031") {n++} END{print n}' "$W/names.csv")"
got=$(awk -F, '$3=="population" && $4=="county" && $5=="17031" {print $6}' "$W/n.csv")
[ "$got" = "$cook" ] && ok "[map.county]: county 17031 has $got members" ||
    bad "[map.county]: county 17031 has '$got' members, awk says $cook"
"$NODE" profile --config "$W/county.ini" --input "$W/names.csv" 2>/dev/null | grep -q "county .*Cook County .*-> 17031 .* 30 hits" &&
    ok "profile counts the county rule's hits" || bad "profile lacks the county rule's hits"

# Synthea sample
expect 0 "" "$NODE" preview --format synthea --input "$SYNTHEA" --period 2021
grep -q "withheld (count)" "$W/out" && ok "preview lists withheld cells with reasons" || bad "preview lacks reasons"
expect 1 "--period" "$NODE" preview --format synthea --input "$SYNTHEA"

# check-config
printf '[node]\nk = 11\n\n[report]\nmeasures = ed_rate, no_such_measure\n' >"$W/bad.ini"
expect 1 "bad.ini" "$NODE" check-config --config "$W/bad.ini"
L=$(grep -n '^path = ' "$SRC/configs/node.ini" | cut -d: -f1)
expect 1 "configs/node.ini:$L: [input] path: /var/lib/equity/extract/members-2025.csv.gz: No such file" \
    "$NODE" check-config --config "$SRC/configs/node.ini"
# the example's other checks, with its input and store where they exist
sed -e "s|^path = .*|path = $W/good.csv|" -e "s|^dir = .*|dir = $W/store|" "$SRC/configs/node.ini" >"$W/example.ini"
L=$(grep -n '^certificate = ' "$W/example.ini" | cut -d: -f1)
expect 1 "example.ini:$L: [coordinator] certificate: /etc/equity/coordinator/transport.crt: No such file" \
    "$NODE" check-config --config "$W/example.ini"
# a valid 232-byte measures line, and an error after it at its own line
{ printf '[report]\nmeasures = population, ed_rate, ip_rate, readmit_30d, wellness, no_show, '
  printf 'telehealth_share, diabetes_poor_control, bp_control, hrsn_screening, hrsn_food, '
  printf 'hrsn_housing, hrsn_transport, hrsn_utilities, hrsn_safety, hrsn_any, cost_pmpm\n'
  printf '[input]\npath = good.csv\n'; } >"$W/long.ini"
[ "$(sed -n 2p "$W/long.ini" | wc -c)" -gt 220 ] || bad "test setup: the measures line is short"
expect 0 "" "$NODE" check-config --config "$W/long.ini"
grep -q "^measures = population, ed_rate, .*, cost_pmpm$" "$W/out" && ok "check-config keeps the long line whole" ||
    bad "check-config lost the long line: $(grep measures "$W/out")"
grep -q "^path = $W/good.csv$" "$W/out" && ok "a relative [input] path is relative to the file's folder" ||
    bad "relative path not resolved: $(grep '^path' "$W/out")"
printf '[node]\nk = 11\nk = 12\n' >>"$W/long.ini"
expect 1 "long.ini:7: [node] k is set twice (first at line 6)" "$NODE" check-config --config "$W/long.ini"
printf '[input]\npath = %s\n[coordinator]\nendpoint = tcp://localhost:0\n' "$W/good.csv" >"$W/port.ini"
expect 1 "port.ini:4: [coordinator] endpoint" "$NODE" check-config --config "$W/port.ini"
grep -q ":0:" "$W/err" && bad "an error names line 0" || ok "no error names line 0"

# check-config --quiet is quiet; logs carry journald priorities when stderr
# is the journal's stream (JOURNAL_STREAM = its device:inode), and one
# timestamp per line otherwise.
printf '[input]\npath = good.csv\n' >"$W/quiet.ini"
"$NODE" check-config --config "$W/quiet.ini" --quiet >"$W/q.out" 2>"$W/q.err" && [ ! -s "$W/q.out" ] && [ ! -s "$W/q.err" ] &&
    ok "check-config --quiet prints nothing" || bad "check-config --quiet: $(cat "$W/q.out" "$W/q.err" | head -3)"
: >"$W/journal.log"
JS=$(stat -c %d:%i "$W/journal.log")
JOURNAL_STREAM=$JS "$NODE" aggregate --input "$W/badrows.csv" --out "$W/j.csv" 2>>"$W/journal.log"
JOURNAL_STREAM=$JS "$NODE" aggregate --input "$W/missing.csv" --out "$W/j.csv" 2>>"$W/journal.log"
grep -q "^<6>equity-node info: .*rows read" "$W/journal.log" && grep -q "^<4>equity-node warning: " "$W/journal.log" &&
    grep -q "^<3>equity-node error: .*missing.csv" "$W/journal.log" &&
    ok "journal priorities <6> <4> <3>" || bad "no journal priorities: $(head -3 "$W/journal.log")"
grep -qv "^<[3467]>" "$W/journal.log" && bad "a journal line without priority: $(grep -v '^<[3467]>' "$W/journal.log" | head -2)" ||
    ok "every journal line has a priority"
grep -q "[0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z" "$W/journal.log" && bad "journal lines carry a second timestamp" ||
    ok "journal lines carry no timestamp of their own"
JOURNAL_STREAM=1:1 "$NODE" aggregate --input "$W/badrows.csv" --out "$W/j.csv" 2>"$W/plain.log"
grep -q "^<" "$W/plain.log" && bad "priorities although stderr is not the journal" ||
    ok "JOURNAL_STREAM of another stream: plain lines"
[ -s "$W/plain.log" ] && ! grep -Evq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z equity-node (info|warning|error): ' "$W/plain.log" &&
    ok "one timestamp in front of every plain line" || bad "a plain line without its timestamp: $(head -2 "$W/plain.log")"

echo "$((n - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
