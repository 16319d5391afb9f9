#!/bin/bash
# it_node_integrity.sh BUILD_DIR SOURCE_DIR - what a node service sends when
# its input is not what the round needs, with the real coordinator and node
# services on loopback:
#  - org 1's extract has a header and no rows, org 2's rows are all of
#    another period: both refuse the round with "no data for period ...",
#    which round status shows; neither computes or stores a submission;
#  - org 3 has 10 % bad rows (above max_rejected_share = 5 %): it holds the
#    round for on-site approval, tells the coordinator (round status: held
#    for approval on site, since when, the share and the reason names, code
#    rejected_rows; again, as a duplicate, after a restart of the node), and
#    submits only after `equity-node approve` (then round status: submitted);
#    org 4 has 3 % bad rows and submits at once;
#  - the service log states rows read, accepted and rejected per reason;
#  - orgs 5 and 6 read in strict mode and stop at a duplicate member id and
#    at an age out of range: on every retry the log names file, line and
#    column, and never the member id or the age; round status shows both
#    failing on site (input_error), and neither round status, the
#    coordinator's database nor its audit log holds the id or the age;
#  - org 7's extract does not exist: failing on site (input_error); once the
#    file is there it submits, and round status shows it submitted;
#  - the audit log (with its node_status entries) verifies.
# Every process started here is stopped on exit (trap).
set -u

BUILD=${1:?usage: it_node_integrity.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: it_node_integrity.sh BUILD_DIR SOURCE_DIR}
BIN=$BUILD/bin
. "$SRC/tests/support/it_lib.sh" equity-ca equity-coordinator equity-node

ORGS="1 2 3 4 5 6 7"
ca_init "IT Node Integrity CA"
issue coordinator coord:state "$W/coord/id"
for i in $ORGS; do
    issue node "org:ni-$i" "$W/org$i/id"
done

PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT
mkdir -p "$W/coord/enrolled"
for i in $ORGS; do
    cp "$W/org$i/id/transport.crt" "$W/coord/enrolled/org$i.crt"
done
COORD_INI=$W/coord/coordinator.ini
coordinator_ini "$COORD_INI" "$EP" ""
cat >>"$COORD_INI" <<EOF
[round]
measures = population, ed_rate
stratifiers = race, sex
intersections = none
k = 11
min_orgs = 1
EOF
"$BIN/equity-coordinator" run --config "$COORD_INI" >>"$W/coordinator.log" 2>&1 &
PIDS+=("$!")
wait_for 15 grep -q "serving nodes on" "$W/coordinator.log" || fail "coordinator did not start"
RID=$("$BIN/equity-coordinator" round open --config "$COORD_INI" --period 2025 2>>"$W/coordinator.log")
[ -n "$RID" ] || fail "round open printed no round id"

status() {
    "$BIN/equity-coordinator" round status --config "$COORD_INI" --round "$RID" 2>>"$W/status.log"
}

HEADER=member_id,period,age,sex,race,ethnicity,language,payer,adi_decile,disability,cmc,county,member_months,ed_visits
# rows FILE PERIOD N [FIRST]: N good rows of PERIOD appended to FILE.
rows() {
    awk -v period="$2" -v n="$3" -v first="${4:-1}" 'BEGIN {
        split("WHITE BLACK ASIAN", race, " ")
        for (i = first; i < first + n; i++)
            printf "m%05d,%s,%d,%s,%s,NOT_HISPANIC,eng,MEDICAID,5,N,N,17031,12,%d\n",
                i, period, 20 + i % 60, i % 2 ? "F" : "M", race[i % 3 + 1], i % 4
    }' >>"$1"
}

node_ini() { # i [approval] [extra [node] lines]
    local d=$W/org$1
    cat >"$d/node.ini" <<EOF
[node]
org = org:ni-$1
k = 11
${3:-}
[input]
path = $d/members.csv
period = 2025
[policy]
min_k = 11
approval = ${2:-auto}
[coordinator]
endpoint = $EP
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
retry_max_seconds = 2
EOF
}
declare -a NODE_PID
start_node() {
    "$BIN/equity-node" run --config "$W/org$1/node.ini" >>"$W/node$1.log" 2>&1 &
    NODE_PID[$1]=$!
    PIDS+=("${NODE_PID[$1]}")
}

# ---- org 1: header only; org 2: every row of 2021 -----------------------------------
echo "$HEADER" >"$W/org1/members.csv"
echo "$HEADER" >"$W/org2/members.csv"
rows "$W/org2/members.csv" 2021 300
node_ini 1
node_ini 2
start_node 1
start_node 2

refused() { status | grep -q "org:ni-$1 .*refused .*no data for period 2025: $2"; }
wait_for 20 refused 1 "0 rows read, 0 accepted" ||
    fail "round status does not show org 1's no-data refusal: $(status)"
wait_for 20 refused 2 "300 rows read, 0 accepted, 300 rejected (other_period 300)" ||
    fail "round status does not show org 2's no-data refusal: $(status)"
for i in 1 2; do
    test -f "$W/org$i/store/$RID.refused" || fail "org $i kept no record of its refusal"
    [ -e "$W/org$i/store/$RID.submission.pb" ] && fail "org $i stored a submission without data"
done
status | grep -q "org:ni-[12] .*submitted" && fail "a node without data submitted: $(status)"

# ---- org 3: 10 % bad rows, held; org 4: 3 % bad rows, sent ---------------------------
echo "$HEADER" >"$W/org3/members.csv"
rows "$W/org3/members.csv" 2025 270
rows "$W/org3/members.csv" 2025 30 1000
sed -i '272,$ s/,eng,MEDICAID,/,eng,NO_SUCH_PAYER,/' "$W/org3/members.csv"
echo "$HEADER" >"$W/org4/members.csv"
rows "$W/org4/members.csv" 2025 291
rows "$W/org4/members.csv" 2025 9 1000
sed -i '293,$ s/,eng,MEDICAID,/,eng,NO_SUCH_PAYER,/' "$W/org4/members.csv"
[ "$(grep -c NO_SUCH_PAYER "$W/org3/members.csv")" -eq 30 ] || fail "test setup: org 3 has no 30 bad rows"
[ "$(grep -c NO_SUCH_PAYER "$W/org4/members.csv")" -eq 9 ] || fail "test setup: org 4 has no 9 bad rows"
node_ini 3
node_ini 4
start_node 3
start_node 4
wait_for 20 test -f "$W/org3/store/$RID.pending" || fail "org 3 did not hold the round: $(tail -3 "$W/node3.log")"
grep -q "^Held because 10.0 % of the rows read were rejected (code 30), above \[input\] max_rejected_share = 5.0 %" \
    "$W/org3/store/$RID.pending" || fail "the .pending of org 3 does not say why: $(cat "$W/org3/store/$RID.pending")"
grep -q "round $RID: 300 rows read, 270 accepted, 30 rejected (code 30)" "$W/node3.log" ||
    fail "org 3's log does not state rows read, accepted and rejected per reason"
submitted() { status | grep -q "org:ni-$1 .*submitted"; }
wait_for 20 submitted 4 || fail "org 4 (3 % bad rows) did not submit: $(status)"
grep -q "round $RID: 300 rows read, 291 accepted, 9 rejected (code 9)" "$W/node4.log" ||
    fail "org 4's log does not state rows read, accepted and rejected per reason"
HELD3="org:ni-3 +held for approval on site  since [0-9T:-]+Z  reason: 10.0 % of the rows read were rejected \\(code\\), above \\[input\\] max_rejected_share = 5.0 % \\(rejected_rows\\)$"
held3() { status | grep -Eq "$HELD3"; }
wait_for 20 held3 || fail "round status does not show org 3 held for approval on site with its reason: $(status)"
sleep 2
submitted 3 && fail "org 3 submitted a round held for its rejected rows"
[ -e "$W/org3/store/$RID.submission.pb" ] && fail "org 3 stored a submission before approval"
# A restarted node tells its held status again (from its .status file): the
# coordinator knows it already, and keeps the time it was first held.
SINCE3=$(status | grep "org:ni-3 " | sed 's/.* since \([^ ]*\) .*/\1/')
kill -TERM "${NODE_PID[3]}"
wait "${NODE_PID[3]}" || fail "node 3 did not stop cleanly"
start_node 3
retold() { [ "$(grep -c "recorded that we are held for approval on site (it knew already)" "$W/node3.log")" -ge 1 ]; }
wait_for 20 retold || fail "node 3 did not tell its held status again after a restart: $(tail -3 "$W/node3.log")"
status | grep "org:ni-3 " | grep -q " since $SINCE3 " || fail "org 3's held-since time changed: $(status | grep org:ni-3)"
"$BIN/equity-node" approve --config "$W/org3/node.ini" --round "$RID" >/dev/null || fail "approve failed"
wait_for 20 submitted 3 || fail "org 3 did not submit after approval: $(tail -3 "$W/node3.log")"
grep -q "round $RID: 10.0 % of the rows read were rejected .*; sending it as approved on site" "$W/node3.log" ||
    fail "org 3 did not log that it sent the round as approved"
status | grep "org:ni-3 " | grep -q "held" && fail "org 3 is still shown held after it submitted: $(status)"
[ "$(status | grep -c "org:ni-3 ")" -eq 1 ] || fail "org 3 is shown more than once: $(status)"

# ---- orgs 5 and 6: strict mode; the log never quotes a record value -------------------
for i in 5 6; do
    echo "$HEADER" >"$W/org$i/members.csv"
    rows "$W/org$i/members.csv" 2025 40
    node_ini $i auto "bad_rows = strict"
done
echo "SECRETID4711,2025,40,F,WHITE,NOT_HISPANIC,eng,MEDICAID,5,N,N,17031,12,1" >>"$W/org5/members.csv"
echo "SECRETID4711,2025,41,M,WHITE,NOT_HISPANIC,eng,MEDICAID,5,N,N,17031,12,0" >>"$W/org5/members.csv"
echo "m09999,2025,9876543,F,WHITE,NOT_HISPANIC,eng,MEDICAID,5,N,N,17031,12,1" >>"$W/org6/members.csv"
start_node 5
start_node 6
retried() { [ "$(grep -c "round $RID: cannot compute" "$W/node$1.log")" -ge 2 ]; }
wait_for 20 retried 5 || fail "org 5 (strict, duplicate id) did not fail twice: $(tail -3 "$W/node5.log")"
wait_for 20 retried 6 || fail "org 6 (strict, bad age) did not fail twice: $(tail -3 "$W/node6.log")"
grep -q "round $RID: cannot compute: $W/org5/members.csv:43:1: member_id seen before in this period (duplicate)" "$W/node5.log" ||
    fail "org 5's log does not name the duplicate's file:line:column: $(grep "cannot compute" "$W/node5.log" | head -1)"
grep -q "round $RID: cannot compute: $W/org6/members.csv:42:3: age is outside 0-120 (range)" "$W/node6.log" ||
    fail "org 6's log does not name the bad age's file:line:column: $(grep "cannot compute" "$W/node6.log" | head -1)"
grep -n "SECRETID4711" "$W/node5.log" && fail "org 5's log quotes a member id"
grep -n "9876543" "$W/node6.log" && fail "org 6's log quotes an age"
for i in 5 6; do
    [ -e "$W/org$i/store/$RID.submission.pb" ] && fail "org $i (strict) stored a submission"
done
FAILING="failing on site  since [0-9T:-]+Z  reason: cannot read its input \\(extract CSV\\), or the input has an error that stops the read; the node's log says where \\(input_error\\)$"
failing() { status | grep -Eq "org:ni-$1 +$FAILING"; }
wait_for 20 failing 5 || fail "round status does not show org 5 failing on site: $(status)"
wait_for 20 failing 6 || fail "round status does not show org 6 failing on site: $(status)"
status | grep -q "SECRETID4711\|9876543" && fail "round status quotes a record value: $(status)"
grep -aq "SECRETID4711\|9876543" "$W/coord/coordinator.db"* "$W/coord/audit.log" &&
    fail "the coordinator's database or audit log holds a record value"

# ---- org 7: no extract (failing), then the extract arrives (submitted) -----------------
node_ini 7
start_node 7
wait_for 20 failing 7 || fail "round status does not show org 7 (no extract) failing on site: $(status)"
echo "$HEADER" >"$W/org7/members.csv.tmp"
rows "$W/org7/members.csv.tmp" 2025 100
mv "$W/org7/members.csv.tmp" "$W/org7/members.csv"
wait_for 30 submitted 7 || fail "org 7 did not submit once its extract was there: $(tail -3 "$W/node7.log")"
status | grep "org:ni-7 " | grep -q "failing" && fail "org 7 is still shown failing after it submitted: $(status)"
"$BIN/equity-coordinator" audit verify --config "$COORD_INI" >"$W/verify.out" 2>&1 ||
    fail "audit verify: $(cat "$W/verify.out")"
grep -q "$(printf '\tnode_status\t')" "$W/coord/audit.log" || fail "no node_status entry in the audit log"

for i in $ORGS; do
    kill -TERM "${NODE_PID[$i]}"
    wait "${NODE_PID[$i]}" || fail "node $i did not stop cleanly"
done
# The round's report names the organizations that had not answered at close, with why
"$BIN/equity-coordinator" round close --config "$COORD_INI" --round "$RID" --force >"$W/close.out" 2>&1 ||
    fail "round close: $(tail -3 "$W/close.out")"
REPORT=$(dirname "$(tail -n 1 "$W/close.out")")/report.html
[ -f "$REPORT" ] || REPORT=$(find "$W/coord" -name report.html | head -1)
grep -q "Not answered at close" "$REPORT" || fail "the report has no table of organizations not answered at close"
for i in 5 6; do
    grep -q "<tr><td>org:ni-$i</td><td>failing on site: " "$REPORT" ||
        fail "the report does not show org $i failing on site at close"
done
grep -q "<tr><td>org:ni-7</td><td>failing" "$REPORT" && fail "the report shows org 7 failing although it submitted"
grep -q "ERROR: AddressSanitizer\|runtime error:" "$W"/node*.log && fail "sanitizer report in a node log"
echo "PASS: it_node_integrity (round $RID)"
exit 0
