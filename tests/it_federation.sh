#!/bin/bash
# it_federation.sh BUILD_DIR SOURCE_DIR - a whole federation on loopback with
# the real programs: equity-ca makes a CA, a coordinator, three organizations,
# an impostor coordinator identity and an analyst; equity-coordinator runs and
# opens a round; equity-node services answer it. Checks:
#  - org 1 (approval auto) is killed with -9 after it stored its submission and
#    before it sent it; restarted, it resends the same bytes (same file, same
#    sha256, same payload sha256) and the round holds exactly one submission,
#    org 1's; five times in a loop (the round, then four rounds of their own);
#  - org 2 (approval manual) holds the round until `equity-node approve`, and
#    round status shows it held for approval on site (the node says so);
#  - org 4's policy does not allow the round: it refuses with the reason, which
#    round status shows;
#  - org 3 pins a coordinator certificate with the wrong key: it logs a clear
#    handshake/key error and never submits;
#  - a node given another organization's certificate as the coordinator's
#    refuses to start; a node whose secret key is mode 0644 refuses to start;
#  - the coordinator killed with -9 and restarted keeps everything, and the
#    nodes carry on;
#  - SIGTERM stops a node with exit status 0.
# Every process started here is stopped on exit (trap).
set -u

BUILD=${1:?usage: it_federation.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: it_federation.sh BUILD_DIR SOURCE_DIR}
BIN=$BUILD/bin
. "$SRC/tests/support/it_lib.sh" equity-ca equity-coordinator equity-node

# ---- identities ------------------------------------------------------------
ca_init "IT Federation CA"
issue coordinator coord:state "$W/coord/id"
issue coordinator coord:impostor "$W/impostor"
issue analyst analyst:alice "$W/analyst"
for i in 1 2 3 4 5; do
    issue node "org:demo-$i" "$W/org$i/id"
done

# ---- coordinator ---------------------------------------------------------------
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT
mkdir -p "$W/coord/enrolled"
for i in 1 2 3 4 5; do
    cp "$W/org$i/id/transport.crt" "$W/coord/enrolled/org$i.crt"
done
cp "$W/analyst/transport.crt" "$W/coord/enrolled/analyst.crt"
COORD_INI=$W/coord/coordinator.ini
coordinator_ini "$COORD_INI" "$EP" ""
cat >>"$COORD_INI" <<EOF
[round]
measures = population, ed_rate, ip_rate, cost_pmpm
stratifiers = race, sex, payer
intersections = race*payer
k = 11
min_orgs = 2
EOF

start_coordinator() {
    "$BIN/equity-coordinator" run --config "$COORD_INI" >>"$W/coordinator.log" 2>&1 &
    COORD_PID=$!
    PIDS+=("$COORD_PID")
    wait_for 15 grep -q "serving nodes on" "$W/coordinator.log" || fail "coordinator did not start"
}
start_coordinator

RID=$("$BIN/equity-coordinator" round open --config "$COORD_INI" --period 2025 2>>"$W/coordinator.log")
[ -n "$RID" ] || fail "round open printed no round id"
echo "round $RID open on $EP"

# status [ROUND]: `round status` of ROUND (default $RID).
status() {
    "$BIN/equity-coordinator" round status --config "$COORD_INI" --round "${1:-$RID}" 2>>"$W/status.log"
}
# submitted_sha ORG [ROUND]: the sha256 the coordinator stored for ORG ("" if none).
submitted_sha() {
    status "${2:-}" | awk -v org="$1" '$1 == org && $2 == "submitted" {
        for (i = 3; i < NF; i++) if ($i == "sha256") print $(i + 1) }'
}
has_submitted() { [ -n "$(submitted_sha "$1" "${2:-}")" ]; }

# ---- extracts and node configurations ----------------------------------------------
# A small member-level extract (extract.md) with a fixed pseudo-random mix.
make_extract() { # file seed rows
    awk -v seed="$2" -v rows="$3" 'BEGIN {
        srand(seed)
        split("WHITE BLACK ASIAN AIAN MULTI UNKNOWN", race, " ")
        split("MEDICAID MEDICARE COMMERCIAL DUAL", payer, " ")
        split("F M", sex, " ")
        print "member_id,period,age,sex,race,ethnicity,language,payer,adi_decile,disability,cmc,county,member_months,ed_visits,ip_admits,ip_readmits_30d,total_cost"
        for (i = 1; i <= rows; i++) {
            r = race[int(rand() * 6) + 1]; p = payer[int(rand() * 4) + 1]
            admits = int(rand() * 3); readm = admits > 0 ? int(rand() * admits) : 0
            printf "m%05d,2025,%d,%s,%s,%s,%s,%s,%d,%s,%s,17031,%d,%d,%d,%d,%.2f\n",
                i, int(rand() * 90), sex[int(rand() * 2) + 1], r,
                rand() < 0.2 ? "HISPANIC" : "NOT_HISPANIC", rand() < 0.15 ? "spa" : "eng",
                p, int(rand() * 10) + 1, rand() < 0.1 ? "Y" : "N", "N",
                int(rand() * 12) + 1, int(rand() * 4), admits, readm, rand() * 5000
        }
    }' >"$1"
}

node_ini() { # i approval coordinator_cert [transport_key]
    local d=$W/org$1
    mkdir -p "$d"
    [ -f "$d/members.csv" ] || make_extract "$d/members.csv" "$1" 400
    cat >"$d/node.ini" <<EOF
[node]
org = org:demo-$1
k = 11
[input]
path = $d/members.csv
period = 2025
[policy]
min_k = 11
approval = $2
[coordinator]
endpoint = $EP
certificate = $3
poll_seconds = 1
[identity]
ca = $CA/ca.crt
crl = $CA/ca.crl
transport_cert = $d/id/transport.crt
transport_key = ${4:-$d/id/transport.key}
signing_cert = $d/id/signing.crt
signing_key = $d/id/signing.key
[store]
dir = $d/store
retry_max_seconds = 4
EOF
}

start_node() { # i [env...]
    local i=$1
    shift
    env "$@" "$BIN/equity-node" run --config "$W/org$i/node.ini" >>"$W/node$i.log" 2>&1 &
    NODE_PID[$i]=$!
    PIDS+=("${NODE_PID[$i]}")
}
declare -a NODE_PID

COORD_CRT=$W/coord/id/transport.crt
node_ini 1 auto "$COORD_CRT"
node_ini 2 manual "$COORD_CRT"
node_ini 3 auto "$W/impostor/transport.crt"

"$BIN/equity-node" check-config --config "$W/org1/node.ini" >/dev/null 2>"$W/check.log" ||
    fail "check-config of a good node.ini failed: $(cat "$W/check.log")"

# ---- a node that pins another organization's certificate refuses to start ---------
node_ini 4 auto "$W/org2/id/transport.crt"
timeout 20 "$BIN/equity-node" run --config "$W/org4/node.ini" >"$W/node4.log" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "node with another org's certificate as coordinator's: exit $rc, expected 1"
grep -q "role node, expected coordinator" "$W/node4.log" ||
    fail "node 4 did not say the coordinator certificate has the wrong role"

# ---- a secret key readable by others is refused --------------------------------
cp "$W/org4/id/transport.key" "$W/org4/open.key"
chmod 644 "$W/org4/open.key"
node_ini 4 auto "$COORD_CRT" "$W/org4/open.key"
timeout 20 "$BIN/equity-node" run --config "$W/org4/node.ini" >"$W/node4.log" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "node with a 0644 secret key: exit $rc, expected 1"
grep -q "readable by group or others" "$W/node4.log" || fail "node 4 did not name the key mode"
"$BIN/equity-node" check-config --config "$W/org4/node.ini" >/dev/null 2>"$W/check.log" &&
    fail "check-config accepted a 0644 secret key"
grep -q "open.key: secret key file is readable by group or others" "$W/check.log" ||
    fail "check-config did not explain the key mode: $(cat "$W/check.log")"

# ---- org 3: wrong pinned key; org 1: killed between store and send, in a loop -------
# crash_and_resend ROUND: node 1 (test hook) stores its signed submission for
# ROUND and holds before sending it; it is killed with -9 there, restarted,
# and resends. Afterwards the coordinator holds exactly one submission for
# ROUND (org 1's, none from anyone else), with the payload sha256 node 1 kept,
# the kept file has the same sha256 as before the kill, and node 1 recorded
# the ACK. Sets PAYLOAD_SHA. Node 1 is left running.
crash_and_resend() {
    local round=$1
    local sub=$W/org1/store/$round.submission.pb
    start_node 1 EQ_TEST_HOLD_BEFORE_SEND=30
    wait_for 30 test -f "$sub" || fail "node 1 did not store a submission for $round"
    wait_for 10 grep -q "round $round: test hook EQ_TEST_HOLD_BEFORE_SEND" "$W/node1.log" ||
        fail "node 1 did not reach the hook for $round"
    local file_sha
    file_sha=$(sha256sum "$sub" | cut -d' ' -f1)
    PAYLOAD_SHA=$(sed -n "s/.*round $round: .*kept in .*(payload sha256 \([0-9a-f]\{64\}\)).*/\1/p" "$W/node1.log" | head -n 1)
    [ -n "$PAYLOAD_SHA" ] || fail "node 1 did not log the payload sha256 of what it kept for $round"
    kill -KILL "${NODE_PID[1]}"
    wait "${NODE_PID[1]}" 2>/dev/null
    has_submitted org:demo-1 "$round" && fail "the coordinator has a submission for $round that node 1 never sent"
    [ "$(stat -c %a "$sub")" = 600 ] || fail "the kept submission for $round is not mode 0600"

    echo "node 1 killed after storing $round (payload sha256 $PAYLOAD_SHA); restarting"
    start_node 1
    wait_for 30 has_submitted org:demo-1 "$round" || fail "restarted node 1 did not submit $round"
    [ "$(submitted_sha org:demo-1 "$round")" = "$PAYLOAD_SHA" ] ||
        fail "coordinator stored sha256 $(submitted_sha org:demo-1 "$round") for $round, node 1 kept $PAYLOAD_SHA"
    [ "$(sha256sum "$sub" | cut -d' ' -f1)" = "$file_sha" ] ||
        fail "node 1's kept submission for $round changed across the restart"
    grep -q "round $round: resending the submission kept from an earlier run" "$W/node1.log" ||
        fail "node 1 did not say it resent the kept copy of $round"
    [ "$(status "$round" | awk '$2 == "submitted"' | wc -l)" -eq 1 ] ||
        fail "round $round does not hold exactly one submission: $(status "$round")"
    wait_for 10 test -f "$W/org1/store/$round.ack" || fail "node 1 wrote no .ack for $round"
    grep -q "stored_sha256 $PAYLOAD_SHA" "$W/org1/store/$round.ack" ||
        fail "the .ack of $round names another sha256"
}

start_node 3
crash_and_resend "$RID"
RID_SHA=$PAYLOAD_SHA
# Four more times, each on a round of its own (closed afterwards with
# --force, one submission being fewer than min_orgs, so that
# the other nodes below see only $RID).
kill -TERM "${NODE_PID[1]}"
wait "${NODE_PID[1]}"
for i in 2 3 4 5; do
    LOOP_RID=$("$BIN/equity-coordinator" round open --config "$COORD_INI" --period 2025 2>>"$W/coordinator.log")
    [ -n "$LOOP_RID" ] || fail "round open printed no round id (loop $i)"
    crash_and_resend "$LOOP_RID"
    kill -TERM "${NODE_PID[1]}"
    wait "${NODE_PID[1]}" || fail "node 1 did not stop cleanly after round $LOOP_RID"
    "$BIN/equity-coordinator" round close --config "$COORD_INI" --round "$LOOP_RID" --force >/dev/null 2>>"$W/coordinator.log" ||
        fail "cannot close round $LOOP_RID"
done
PAYLOAD_SHA=$RID_SHA
start_node 1

# ---- org 2: held for approval ---------------------------------------------------
start_node 2
wait_for 20 test -f "$W/org2/store/$RID.pending" || fail "node 2 did not hold the round"
grep -q "equity-node approve --config $W/org2/node.ini --round $RID" "$W/node2.log" ||
    fail "node 2 did not log the approve command"
grep -q "^round        $RID$" "$W/org2/store/$RID.pending" || fail "the .pending summary names no round"
sleep 1.5
[ -f "$W/org2/store/$RID.submission.pb" ] && fail "node 2 computed a round it was not allowed to"
has_submitted org:demo-2 && fail "node 2 submitted before approval"
# held on site: the node tells the coordinator, which shows it
held2() { status | grep -q "org:demo-2 .*held for approval on site  since 20.*reason: waits for approval on site (\[policy\] approval = manual) (manual_approval)$"; }
wait_for 20 held2 ||
    fail "round status does not show org 2 held for approval on site: $(status | grep demo-2)"
# The operator previews exactly what the held round asks for.
"$BIN/equity-node" preview --config "$W/org2/node.ini" --round "$RID" >"$W/preview2.txt" 2>>"$W/node2.log" ||
    fail "preview --round failed"
grep -q "^# cost_pmpm:" "$W/preview2.txt" || fail "preview --round does not show a measure the round asks for"
grep -q "^# wellness:" "$W/preview2.txt" && fail "preview --round shows a measure the round does not ask for"
grep -q "race\*payer" "$W/preview2.txt" || fail "preview --round does not show the round's intersection"
"$BIN/equity-node" approve --config "$W/org2/node.ini" --round nosuch-round >/dev/null 2>&1 &&
    fail "approve accepted a round that is not pending"

# ---- the coordinator is killed and restarted while org 2 waits --------------------
BEFORE=$(status | grep submitted | sed 's/  */ /g' | sort)
[ -n "$BEFORE" ] || fail "round status shows no submission before the restart"
c1=$(grep -c "org:demo-1 connected" "$W/coordinator.log")
kill -KILL "$COORD_PID"
wait "$COORD_PID" 2>/dev/null
sleep 1
start_coordinator
AFTER=$(status | grep submitted | sed 's/  */ /g' | sort)
[ "$BEFORE" = "$AFTER" ] || fail "submissions changed across the coordinator restart:
$BEFORE
----
$AFTER"
# The nodes reconnect by themselves.
more_lines() { [ "$(grep -c "$1" "$W/coordinator.log")" -gt "$2" ]; }
wait_for 25 more_lines "org:demo-1 connected" "$c1" ||
    fail "node 1 did not come back to the restarted coordinator"

# ---- org 2 approved: it submits to the restarted coordinator ------------------------
"$BIN/equity-node" approve --config "$W/org2/node.ini" --round "$RID" >/dev/null ||
    fail "equity-node approve failed"
wait_for 30 has_submitted org:demo-2 || fail "node 2 did not submit after approval"
wait_for 10 test -f "$W/org2/store/$RID.ack" || fail "node 2 wrote no .ack"

# ---- org 3 never got through, and said why ---------------------------------------
wait_for 15 grep -q "does not match the pinned certificate" "$W/node3.log" ||
    fail "node 3 (wrong coordinator key) did not log a key mismatch"
has_submitted org:demo-3 && fail "node 3 submitted although its pinned key is wrong"
[ -e "$W/org3/store/$RID.submission.pb" ] && fail "node 3 got a round request through a wrong key"
status | grep -q "org:demo-3 .*never connected" ||
    fail "round status does not show org 3 as never connected: $(status | grep demo-3)"

# ---- org 4: its policy does not allow the round: refused with the reason ------------
node_ini 4 auto "$COORD_CRT"
printf '[policy]\nallowed_stratifiers = race, sex\n' >>"$W/org4/node.ini"
start_node 4
refused() { status | grep -q "org:demo-4 .*refused .*stratifier payer is not allowed by this node's policy"; }
wait_for 20 refused || fail "round status does not show org 4's refusal with its reason"
test -f "$W/org4/store/$RID.refused" || fail "node 4 kept no record of its refusal"
[ -e "$W/org4/store/$RID.submission.pb" ] && fail "node 4 computed a refused round"

# ---- org 5 holds another catalog: refused with the catalog's reason code ---------------
node_ini 5 auto "$COORD_CRT"
sed -i "s|^\[node\]|[node]\ncatalog = $SRC/configs/catalog-hedis.ini|" "$W/org5/node.ini"
start_node 5
cat_refused() { status | grep -q "org:demo-5 .*refused .*catalog_unknown: the round's catalog is equity-default 1"; }
wait_for 20 cat_refused || fail "round status does not show org 5's catalog refusal: $(status | grep demo-5)"
[ -e "$W/org5/store/$RID.submission.pb" ] && fail "node 5 computed a round of another catalog"
# the coordinator opens no round asking for a measure its catalog lacks
"$BIN/equity-coordinator" round open --config "$COORD_INI" --period 2025 --measures ppc_prenatal \
    >"$W/open-hedis.out" 2>"$W/open-hedis.log" && fail "a round asking for ppc_prenatal opened"
grep -q "ppc_prenatal\" is not in catalog equity-default 1" "$W/open-hedis.log" ||
    fail "no catalog reason for the refused round: $(cat "$W/open-hedis.log")"

# ---- exactly one submission per organization ------------------------------------------
for org in org:demo-1 org:demo-2; do
    n=$(status | awk -v org=$org '$1 == org && $2 == "submitted"' | wc -l)
    [ "$n" -eq 1 ] || fail "$org has $n submissions"
done
[ "$(submitted_sha org:demo-1)" = "$PAYLOAD_SHA" ] || fail "org 1's stored submission changed"

# ---- SIGTERM: clean exit 0 -----------------------------------------------------------
for i in 1 2 3 4 5; do
    kill -TERM "${NODE_PID[$i]}"
    wait "${NODE_PID[$i]}"
    rc=$?
    [ $rc -eq 0 ] || fail "node $i exited $rc on SIGTERM"
done
grep -q "ERROR: AddressSanitizer\|runtime error:" "$W"/node*.log && fail "sanitizer report in a node log"

echo "PASS: it_federation (round $RID)"
exit 0
