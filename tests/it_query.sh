#!/bin/bash
# it_query.sh BUILD_DIR SOURCE_DIR - the analysts' path with the real programs:
# equity-ca makes a CA, a coordinator, three organizations and an analyst; the
# coordinator serves nodes and analysts; three equity-node services answer a
# round on small generated extracts; the round is closed; then equity-query:
#  - asking before the round is released gets a clear not_released error;
#  - cells as csv are exactly the released pooled.csv, json loads as an array
#    with the same rows, table is human-readable;
#  - metrics filtered by measure and stratifier hold only those rows, and
#    metrics.csv written at close is what `equity-coordinator metrics` computes;
#  - an unknown round gets unknown_round;
#  - a node identity on the analyst socket is refused;
#  - check-config passes for a good analyst.ini and names a 0644 key;
#  - every query is in the audit log and `audit verify` passes.
# Every process started here is stopped on exit (trap).
set -u

BUILD=${1:?usage: it_query.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: it_query.sh BUILD_DIR SOURCE_DIR}
BIN=$BUILD/bin
. "$SRC/tests/support/it_lib.sh" equity-ca equity-coordinator equity-node equity-query

# ---- identities ------------------------------------------------------------------
ca_init "IT Query CA"
issue coordinator coord:state "$W/coord/id"
issue analyst analyst:alice "$W/analyst/id"
for i in 1 2 3; do
    issue node "org:q-$i" "$W/org$i/id"
done

# ---- coordinator -------------------------------------------------------------------
NPORT=$(free_port)
APORT=$(free_port)
while [ "$APORT" = "$NPORT" ]; do APORT=$(free_port); done
mkdir -p "$W/coord/enrolled"
for i in 1 2 3; do
    cp "$W/org$i/id/transport.crt" "$W/coord/enrolled/org$i.crt"
done
cp "$W/analyst/id/transport.crt" "$W/coord/enrolled/analyst.crt"
COORD_INI=$W/coord/coordinator.ini
coordinator_ini "$COORD_INI" "tcp://127.0.0.1:$NPORT" "tcp://127.0.0.1:$APORT"
cat >>"$COORD_INI" <<EOF
[round]
measures = population, ed_rate, cost_pmpm
stratifiers = race, sex, payer
intersections = race*payer
k = 11
min_orgs = 2
EOF

"$BIN/equity-coordinator" run --config "$COORD_INI" >>"$W/coordinator.log" 2>&1 &
PIDS+=("$!")
wait_for 15 grep -q "serving nodes on" "$W/coordinator.log" || fail "coordinator did not start"
grep -q "analysts on" "$W/coordinator.log" || fail "coordinator does not serve analysts"

RID=$("$BIN/equity-coordinator" round open --config "$COORD_INI" --period 2025 2>>"$W/coordinator.log")
[ -n "$RID" ] || fail "round open printed no round id"

# ---- analyst configuration -----------------------------------------------------------
analyst_ini() { # file cert key
    cat >"$1" <<EOF
[analyst]
endpoint = tcp://127.0.0.1:$APORT
coordinator_cert = $W/coord/id/transport.crt
transport_cert = $2
transport_key = $3
ca = $CA/ca.crt
crl = $CA/ca.crl
timeout_seconds = 5
EOF
}
AINI=$W/analyst/analyst.ini
analyst_ini "$AINI" "$W/analyst/id/transport.crt" "$W/analyst/id/transport.key"
"$BIN/equity-query" --config "$AINI" check-config >"$W/check.out" 2>"$W/check.log" ||
    fail "check-config of a good analyst.ini failed: $(cat "$W/check.log")"
grep -q "analyst:alice" "$W/check.out" || fail "check-config does not name the analyst"
cp "$W/analyst/id/transport.key" "$W/analyst/open.key"
chmod 644 "$W/analyst/open.key"
analyst_ini "$W/analyst/open.ini" "$W/analyst/id/transport.crt" "$W/analyst/open.key"
"$BIN/equity-query" --config "$W/analyst/open.ini" check-config >/dev/null 2>"$W/check.log" &&
    fail "check-config accepted a 0644 secret key"
grep -q "open.ini:[0-9]*: transport_key .*open.key" "$W/check.log" ||
    fail "check-config did not name the key and its line: $(cat "$W/check.log")"
"$BIN/equity-query" --config "$AINI" cells >/dev/null 2>&1
[ $? -eq 2 ] || fail "cells without --round is not a usage error (2)"
"$BIN/equity-query" --version | grep -q "^equity-query " || fail "--version"

query() { "$BIN/equity-query" --config "$AINI" "$@" 2>>"$W/query.log"; }
NQ=0 # queries that reached the coordinator

# ---- before the round is released: a clear error ----------------------------------------
query cells --round "$RID" --format csv >/dev/null
rc=$?
NQ=$((NQ + 1))
[ $rc -eq 1 ] || fail "query of an open round: exit $rc, expected 1"
grep -q "round $RID: not_released: round $RID is not released yet" "$W/query.log" ||
    fail "no clear not_released error: $(tail -n 3 "$W/query.log")"

# ---- nodes ----------------------------------------------------------------------------
make_extract() { # file seed rows
    awk -v seed="$2" -v rows="$3" 'BEGIN {
        srand(seed)
        split("WHITE BLACK ASIAN", race, " ")
        split("MEDICAID MEDICARE COMMERCIAL", payer, " ")
        split("F M", sex, " ")
        print "member_id,period,age,sex,race,ethnicity,language,payer,adi_decile,disability,cmc,county,member_months,ed_visits,ip_admits,ip_readmits_30d,total_cost"
        for (i = 1; i <= rows; i++) {
            # Only organization 1 has AIAN members: pooled, they would be its own figures.
            r = (seed == 1 && rand() < 0.08) ? "AIAN" : race[int(rand() * 3) + 1]
            printf "m%05d,2025,%d,%s,%s,%s,%s,%s,%d,%s,%s,17031,%d,%d,%d,%d,%.2f\n",
                i, int(rand() * 90), sex[int(rand() * 2) + 1], r,
                rand() < 0.2 ? "HISPANIC" : "NOT_HISPANIC", "eng",
                payer[int(rand() * 3) + 1], int(rand() * 10) + 1, "N", "N",
                int(rand() * 12) + 1, int(rand() * 4), int(rand() * 2), 0, rand() * 3000
        }
    }' >"$1"
}
for i in 1 2 3; do
    d=$W/org$i
    make_extract "$d/members.csv" "$i" $((250 + 100 * i))
    cat >"$d/node.ini" <<EOF
[node]
org = org:q-$i
k = 11
[input]
path = $d/members.csv
period = 2025
[policy]
min_k = 11
approval = auto
[coordinator]
endpoint = tcp://127.0.0.1:$NPORT
certificate = $W/coord/id/transport.crt
poll_seconds = 1
[identity]
ca = $CA/ca.crt
crl = $CA/ca.crl
transport_cert = $d/id/transport.crt
transport_key = $d/id/transport.key
signing_cert = $d/id/signing.crt
signing_key = $d/id/signing.key
[store]
dir = $d/store
retry_max_seconds = 4
EOF
    "$BIN/equity-node" run --config "$d/node.ini" >>"$W/node$i.log" 2>&1 &
    PIDS+=("$!")
done
for i in 1 2 3; do
    wait_for 40 test -f "$W/org$i/store/$RID.ack" || fail "node $i was not acknowledged"
done

# ---- a node identity on the analyst socket is refused ------------------------------------
analyst_ini "$W/analyst/node.ini" "$W/org1/id/transport.crt" "$W/org1/id/transport.key"
"$BIN/equity-query" --config "$W/analyst/node.ini" cells --round "$RID" >"$W/node-query.out" 2>"$W/node-query.log"
rc=$?
[ $rc -eq 1 ] || fail "a node identity on the analyst socket: exit $rc, expected 1"
[ -s "$W/node-query.out" ] && fail "a node identity got data from the analyst socket"
grep -q "transport_cert .* has role node, expected analyst or operator" "$W/node-query.log" ||
    fail "the client did not warn about the node role: $(cat "$W/node-query.log")"
grep -q "refused this identity\|no answer from the coordinator" "$W/node-query.log" ||
    fail "no clear refusal of a node identity: $(cat "$W/node-query.log")"
"$BIN/equity-coordinator" round close --config "$COORD_INI" --round "$RID" >>"$W/close.log" 2>&1 ||
    fail "round close failed: $(cat "$W/close.log")"

# ---- results of the round -------------------------------------------------------------
RES=$W/coord/results/$RID
for f in pooled.csv pooled.json metrics.csv; do
    [ -s "$RES/$f" ] || fail "round close did not write $f"
done
head -n 1 "$RES/pooled.csv" | grep -q ",reason,n_orgs,n_withheld$" || fail "pooled.csv lacks n_orgs,n_withheld"
# AIAN comes from organization 1 alone: withheld (min_orgs), with complements.
grep -q "^pooled,$RID,population,race,AIAN,,,,,,1,min_orgs,1,0$" "$RES/pooled.csv" ||
    fail "AIAN (one organization) is not withheld for min_orgs: $(grep ',race,AIAN,' "$RES/pooled.csv" | head -n 2)"
grep -q "^pooled,$RID,population,race,[A-Z]*,,,,,,1,secondary," "$RES/pooled.csv" ||
    fail "no complementary cell protects the min_orgs cell in the race table"
"$BIN/equity-coordinator" metrics --cells "$RES/pooled.csv" --out "$W/recomputed.csv" 2>>"$W/close.log" ||
    fail "equity-coordinator metrics failed on pooled.csv"
cmp -s "$W/recomputed.csv" "$RES/metrics.csv" || fail "metrics.csv differs from equity-coordinator metrics"
grep -q "\"pooled_csv_sha256\":\"$(sha256sum "$RES/pooled.csv" | cut -d' ' -f1)\"" "$W/coord/audit.log" ||
    fail "the release audit entry does not carry pooled.csv's sha256"

# ---- equity-query after release ----------------------------------------------------------
query cells --round "$RID" --format csv >"$W/cells.csv" || fail "cells csv failed: $(tail -n 3 "$W/query.log")"
NQ=$((NQ + 1))
# The released pooled.csv with the round's period as a last column.
awk -v p=2025 'NR == 1 { print $0 ",period"; next } { print $0 "," p }' "$RES/pooled.csv" >"$W/pooled-period.csv"
cmp -s "$W/cells.csv" "$W/pooled-period.csv" || fail "cells csv is not the released pooled.csv with its period"
"$BIN/equity-coordinator" metrics --cells "$W/cells.csv" --out "$W/from-query.csv" 2>>"$W/close.log" ||
    fail "equity-coordinator metrics cannot read the cells equity-query wrote"
grep -q ",2025,Members,members,none$" "$W/from-query.csv" || fail "metrics of the queried cells lack the period"
query cells --round "$RID" --format json --out "$W/cells.json" || fail "cells json failed"
NQ=$((NQ + 1))
python3 - "$W/cells.json" "$W/pooled-period.csv" <<'EOF' || fail "cells json does not match the CSV"
import csv, json, sys
from decimal import Decimal
rows = json.load(open(sys.argv[1]), parse_float=Decimal)
ref = list(csv.DictReader(open(sys.argv[2])))
assert isinstance(rows, list) and len(rows) == len(ref), (len(rows), len(ref))
num = {"members", "member_months", "denominator", "numerator", "sum_sq", "suppressed", "n_orgs", "n_withheld"}
for j, c in zip(rows, ref):
    assert list(j.keys()) == list(c.keys())
    for k, v in c.items():
        if v == "":
            assert j[k] is None, (k, j[k])
        elif k in num:
            assert isinstance(j[k], (int, Decimal)) and Decimal(v) == j[k], (k, j[k], v)
        else:
            assert j[k] == v, (k, j[k], v)
EOF
query cells --round "$RID" --measure population --stratifier race >"$W/cells.txt" || fail "cells table failed"
NQ=$((NQ + 1))
head -n 1 "$W/cells.txt" | grep -q "^measure  *stratifier  *stratum  *members" || fail "table has no header"
grep -q "^population  *race  *WHITE " "$W/cells.txt" || fail "table lacks population race WHITE"
grep -q " race\*payer \| total " "$W/cells.txt" && fail "table not filtered by stratifier"

query metrics --round "$RID" --measure ed_rate --stratifier race --reference WHITE --format csv >"$W/metrics.csv" ||
    fail "metrics csv failed: $(tail -n 3 "$W/query.log")"
NQ=$((NQ + 1))
head -n 1 "$W/metrics.csv" | grep -q "^round,measure,stratifier,stratum,metric,value,lower,upper,reference,flags,se,n_orgs,n_withheld,period,label,unit,better$" ||
    fail "metrics csv header"
[ "$(tail -n +2 "$W/metrics.csv" | wc -l)" -gt 3 ] || fail "metrics csv has too few rows"
tail -n +2 "$W/metrics.csv" | awk -F, '$2 != "ed_rate" || $3 != "race" { bad = 1 } END { exit bad }' ||
    fail "metrics not filtered to ed_rate/race"
grep -q ",ed_rate,race,[A-Z]*,rd,.*,WHITE," "$W/metrics.csv" || fail "no rd row against the WHITE reference"
query metrics --round "$RID" --measure ed_rate --stratifier race --format table >"$W/metrics.txt" || fail "metrics table failed"
NQ=$((NQ + 1))
grep -q "^ed_rate  *race  *WHITE  *estimate  *[0-9]*\.[0-9] " "$W/metrics.txt" ||
    fail "metrics table does not show the rate with 1 decimal: $(head -n 4 "$W/metrics.txt")"
query metrics --round "$RID" --format json --out "$W/metrics.json" || fail "metrics json failed"
NQ=$((NQ + 1))
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r and all("metric" in x for x in r)' "$W/metrics.json" ||
    fail "metrics json does not load"

# ---- rounds, usage errors, withheld groups, CSV and JSON agree ------------------------
query rounds --format csv >"$W/rounds.csv" || fail "rounds failed: $(tail -n 3 "$W/query.log")"
NQ=$((NQ + 1))
head -n 1 "$W/rounds.csv" | grep -q "^round,period,status,opened_at,deadline,closed_at,submissions,late,refusals$" ||
    fail "rounds header: $(head -n 1 "$W/rounds.csv")"
grep -q "^$RID,2025,released,20[0-9-]*T[0-9:]*Z,20[0-9-]*T[0-9:]*Z,20[0-9-]*T[0-9:]*Z,3,0,0$" "$W/rounds.csv" ||
    fail "rounds does not list $RID as released with 3 submissions: $(cat "$W/rounds.csv")"
query rounds >"$W/rounds.txt" || fail "rounds table failed"
NQ=$((NQ + 1))
grep -q "^$RID  *2025  *released " "$W/rounds.txt" || fail "rounds table: $(cat "$W/rounds.txt")"
query metrics --round "$RID" --stratifier nosuch --format csv >"$W/bad.csv"
rc=$?
NQ=$((NQ + 1))
[ $rc -eq 2 ] || fail "unknown --stratifier: exit $rc, expected 2"
[ -s "$W/bad.csv" ] && fail "unknown --stratifier wrote an answer"
grep -q 'unknown stratifier "nosuch"' "$W/query.log" || fail "no clear unknown stratifier message"
query cells --round "$RID" --stratifier "race*sex" >/dev/null
rc=$?
NQ=$((NQ + 1))
[ $rc -eq 2 ] || fail "a table the round did not release (race*sex): exit $rc, expected 2"
query metrics --round "$RID" --stratifier race --reference PURPLE >/dev/null
rc=$?
NQ=$((NQ + 1))
[ $rc -eq 2 ] || fail "unknown --reference: exit $rc, expected 2"
grep -q 'unknown reference "PURPLE"' "$W/query.log" || fail "no clear unknown reference message"
query metrics --round "$RID" --measure ed_rate --stratifier race --reference WHITE --format json --out "$W/m.json" ||
    fail "metrics json failed"
NQ=$((NQ + 1))
python3 - "$W/metrics.csv" "$W/m.json" <<'EOF' || fail "metrics CSV and JSON disagree, or a withheld group is not input_suppressed"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
js = json.load(open(sys.argv[2]))
assert len(rows) == len(js), (len(rows), len(js))
num = {"value", "lower", "upper", "se", "n_orgs", "n_withheld"}
for c, j in zip(rows, js):
    assert list(c.keys()) == list(j.keys()), (list(c.keys()), list(j.keys()))
    for k, v in c.items():
        if v == "":
            assert j[k] is None, (k, j[k])
        elif k in num:
            assert isinstance(j[k], (int, float)) and repr(float(v)) == repr(float(j[k])), (k, v, j[k])
        else:
            assert isinstance(j[k], str) and j[k] == v, (k, v, j[k])
    assert c["period"] == "2025" and c["unit"] == "per 1,000 member-years" and c["better"] == "lower", c
    assert c["label"].startswith("ED visits"), c
aian = [c for c in rows if c["stratum"] == "AIAN" and c["metric"] in ("rd", "rr")]
assert len(aian) == 2, aian
for c in aian:
    assert c["value"] == "" and "input_suppressed" in c["flags"].split(";") and "min_orgs" in c["flags"].split(";"), c
EOF

query cells --round 2031-r9-ffff >/dev/null
rc=$?
NQ=$((NQ + 1))
[ $rc -eq 1 ] || fail "unknown round: exit $rc, expected 1"
grep -q "unknown_round" "$W/query.log" || fail "no unknown_round error"

# ---- a query whose audit entry cannot be written is not answered ------------------------
mv "$W/coord/audit.log" "$W/coord/audit.log.moved"
mkdir "$W/coord/audit.log"
query cells --round "$RID" --format csv >"$W/unaudited.csv"
rc=$?
[ $rc -ne 0 ] || fail "a query was answered although its audit entry could not be written"
[ -s "$W/unaudited.csv" ] && fail "released cells left without an audit entry"
grep -q "internal" "$W/query.log" || fail "no internal error for the unaudited query: $(tail -n 2 "$W/query.log")"
rmdir "$W/coord/audit.log"
mv "$W/coord/audit.log.moved" "$W/coord/audit.log"
query cells --round "$RID" --format csv >"$W/audited.csv" || fail "no answer once the audit log is back"
NQ=$((NQ + 1))
[ -s "$W/audited.csv" ] || fail "empty answer once the audit log is back"

# ---- audit -----------------------------------------------------------------------------
n=$(grep -c "	query	" "$W/coord/audit.log")
[ "$n" -eq "$NQ" ] || fail "$n query entries in the audit log, expected $NQ"
grep "	query	" "$W/coord/audit.log" | grep -q "\"cn\":\"analyst:alice\",\"round\":\"$RID\",\"what\":\"metrics\",\"measures\":\[\"ed_rate\"\],\"stratifiers\":\[\"race\"\],\"reference\":\"WHITE\"" ||
    fail "the audit entry does not record the filters"
grep "	query	" "$W/coord/audit.log" | grep -q "org:q-" && fail "a node identity's query reached the audit as answered"
"$BIN/equity-coordinator" audit verify --config "$COORD_INI" >/dev/null 2>"$W/verify.log" ||
    fail "audit verify failed: $(cat "$W/verify.log")"
grep -q "ERROR: AddressSanitizer\|runtime error:" "$W"/*.log && fail "sanitizer report in a log"

echo "PASS: it_query (round $RID, $NQ queries)"
exit 0
