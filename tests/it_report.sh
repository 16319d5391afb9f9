#!/bin/bash
# it_report.sh BUILD_DIR SOURCE_DIR - the reports with the real programs:
# equity-ca makes a CA, a coordinator and three organizations; three
# equity-node services answer two rounds (periods 2024 and 2025) on small
# generated extracts where only organization 1 has AIAN members (withheld at
# the coordinator for min_orgs); the terms give per-organization figures to
# analysts. Then:
#  - `round close` writes results/<round>/report.html, and `equity-coordinator
#    report` writes it again (the same sections) with other parameters;
#  - the report of an open round is refused (exit 1), and a pooled.csv that
#    differs from the release record makes the report fail closed (exit 3);
#  - `equity-node report` writes the organization's own report;
#  - both are rendered in headless Chromium (tests/support/render_check.py):
#    the expected sections, one estimates chart per (measure, stratifier) of
#    pooled.csv, a data table in every chart, funnel plots, trends from the
#    earlier round, the AIAN cells shown as withheld with min_orgs, nothing
#    loaded from the network (Chromium's net log), no console error;
#    screenshots at 1280 px and 390 px are written to BUILD_DIR.
# Without Chromium the rendering part is skipped with a message, unless CI is
# set: then a missing Chromium fails the test.
# Every process started here is stopped on exit (trap).
set -u

BUILD=${1:?usage: it_report.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: it_report.sh BUILD_DIR SOURCE_DIR}
BIN=$BUILD/bin
. "$SRC/tests/support/it_lib.sh" equity-ca equity-coordinator equity-node

ca_init "IT Report CA"
issue coordinator coord:state "$W/coord/id"
for i in 1 2 3; do
    issue node "org:r-$i" "$W/org$i/id"
done
NPORT=$(free_port)
APORT=$(free_port)
while [ "$APORT" = "$NPORT" ]; do APORT=$(free_port); done
mkdir -p "$W/coord/enrolled"
for i in 1 2 3; do
    cp "$W/org$i/id/transport.crt" "$W/coord/enrolled/org$i.crt"
done
COORD_INI=$W/coord/coordinator.ini
coordinator_ini "$COORD_INI" "tcp://127.0.0.1:$NPORT" "tcp://127.0.0.1:$APORT"
cat >>"$COORD_INI" <<EOF
[round]
measures = population, ed_rate, wellness, cost_pmpm
stratifiers = race, sex, payer, adi_quintile, heba_band
intersections = race*payer
k = 11
min_orgs = 2
per_org_to_analysts = yes
EOF
"$BIN/equity-coordinator" run --config "$COORD_INI" >>"$W/coordinator.log" 2>&1 &
PIDS+=("$!")
wait_for 15 grep -q "serving nodes on" "$W/coordinator.log" || fail "coordinator did not start"

make_extract() { # file seed rows
    awk -v seed="$2" -v rows="$3" 'BEGIN {
        srand(seed)
        split("WHITE BLACK ASIAN", race, " ")
        split("MEDICAID MEDICARE COMMERCIAL DUAL", payer, " ")
        split("F M", sex, " ")
        print "member_id,period,age,sex,race,ethnicity,language,payer,adi_decile,disability,cmc,county,member_months,ed_visits,ip_admits,ip_readmits_30d,total_cost,wellness_visit"
        for (y = 2024; y <= 2025; y++)
            for (i = 1; i <= rows; i++) {
                r = (seed == 1 && rand() < 0.08) ? "AIAN" : race[int(rand() * 3) + 1]
                printf "m%05d,%d,%d,%s,%s,%s,%s,%s,%d,%s,%s,17031,%d,%d,%d,%d,%.2f,%d\n",
                    i, y, int(rand() * 90), sex[int(rand() * 2) + 1], r,
                    rand() < 0.2 ? "HISPANIC" : "NOT_HISPANIC", "eng",
                    payer[int(rand() * 4) + 1], int(rand() * 10) + 1, "N", "N",
                    int(rand() * 12) + 1, int(rand() * (r == "BLACK" ? 6 : 3)), int(rand() * 2), 0,
                    rand() * 3000, rand() < 0.6
            }
    }' >"$1"
}
for i in 1 2 3; do
    d=$W/org$i
    make_extract "$d/members.csv" "$i" $((300 + 150 * i))
    # Rejected rows the round report must show: org 1 has 15 rows of 2025
    # with an impossible age (reason range), org 2 has 4 with an unknown race
    # code (reason code: fewer than k, so its number never leaves).
    case $i in
    1) for j in $(seq 1 15); do echo "bad1-$j,2025,200,F,WHITE,NOT_HISPANIC,eng,MEDICAID,3,N,N,17031,12,0,0,0,10.00,1"; done >>"$d/members.csv" ;;
    2) for j in $(seq 1 4); do echo "bad2-$j,2025,40,F,ZZZ,NOT_HISPANIC,eng,MEDICAID,3,N,N,17031,12,0,0,0,10.00,1"; done >>"$d/members.csv" ;;
    esac
    cat >"$d/node.ini" <<EOF
[node]
org = org:r-$i
k = 11
[input]
path = $d/members.csv
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
done

run_round() { # period -> prints the round id
    local rid
    rid=$("$BIN/equity-coordinator" round open --config "$COORD_INI" --period "$1" 2>>"$W/coordinator.log")
    [ -n "$rid" ] || fail "round open $1 printed no round id"
    echo "$rid"
}
R1=$(run_round 2024)
for i in 1 2 3; do
    "$BIN/equity-node" run --config "$W/org$i/node.ini" >>"$W/node$i.log" 2>&1 &
    PIDS+=("$!")
done
for i in 1 2 3; do
    wait_for 60 test -f "$W/org$i/store/$R1.ack" || fail "node $i was not acknowledged in $R1"
done
"$BIN/equity-coordinator" round close --config "$COORD_INI" --round "$R1" >"$W/close1.out" 2>>"$W/close.log" ||
    fail "round close $R1 failed"
[ "$(cat "$W/close1.out")" = "$W/coord/results/$R1/pooled.csv" ] || fail "round close printed $(cat "$W/close1.out")"
[ -s "$W/coord/results/$R1/report.html" ] || fail "round close did not write the report of $R1"
R2=$(run_round 2025)
# The report of an open round is refused.
"$BIN/equity-coordinator" report --config "$COORD_INI" --round "$R2" >/dev/null 2>"$W/open.log"
rc=$?
[ $rc -eq 1 ] || fail "report of an open round: exit $rc, expected 1"
grep -q "not released" "$W/open.log" || fail "no clear message for an open round: $(cat "$W/open.log")"
for i in 1 2 3; do
    wait_for 60 test -f "$W/org$i/store/$R2.ack" || fail "node $i was not acknowledged in $R2"
done
"$BIN/equity-coordinator" round close --config "$COORD_INI" --round "$R2" >"$W/close2.out" 2>>"$W/close.log" ||
    fail "round close $R2 failed"
RES=$W/coord/results/$R2
REPORT=$RES/report.html
[ -s "$REPORT" ] || fail "round close did not write report.html"
# Rejected rows per reason, as the submissions state them: per organization
# (the terms allow it) and for all, a range where a count is "fewer than k".
tr -d '\n' <"$REPORT" | grep -o '<table class="data rejected">.*</table>' | sed 's#</table>.*#</table>#' >"$W/rejected.html"
[ -s "$W/rejected.html" ] || fail "the round report has no table of rejected rows"
grep -q '<th>organization</th><th>range</th><th>code</th>' "$W/rejected.html" ||
    fail "rejected rows: not one column per reason: $(cat "$W/rejected.html")"
grep -q '<td>all organizations</td><td class="num">15</td><td class="num">1 to 10</td>' "$W/rejected.html" ||
    fail "rejected rows: the federation's total is not 15 and 1 to 10: $(cat "$W/rejected.html")"
grep -q '<td>org:r-2</td><td class="num">0</td><td class="num">fewer than 11</td>' "$W/rejected.html" ||
    fail "rejected rows: org 2's 4 rows are not shown as fewer than 11: $(cat "$W/rejected.html")"
if grep -q '<td class="num">4</td>' "$W/rejected.html"; then fail "org 2's count of 4 reached the report"; fi
grep -q '<td>org:r-1</td><td class="num">15</td><td class="num">0</td>' "$W/rejected.html" ||
    fail "rejected rows: org 1 is not 15 and 0: $(cat "$W/rejected.html")"
grep -q "^pooled,$R2,population,race,AIAN,,,,,,1,min_orgs,1,0$" "$RES/pooled.csv" ||
    fail "the fixture has no min_orgs AIAN cell: $(grep ',race,AIAN,' "$RES/pooled.csv" | head -n 2)"

# The command writes the same report; parameters change it.
cat >"$W/params.ini" <<EOF
[metrics]
mssp_scaler = 1
[unit_cost]
ed_rate = 1150
EOF
"$BIN/equity-coordinator" report --config "$COORD_INI" --round "$R2" --params "$W/params.ini" \
    --out "$W/report-params.html" >"$W/report.out" 2>>"$W/report.log" || fail "equity-coordinator report failed"
grep -q "report-params.html$" "$W/report.out" || fail "report did not print its path"
grep -q "ed_rate \$1150.00" "$W/report-params.html" || fail "the unit cost of --params is not in the report"
grep -q "MSSP-style health equity points" "$W/report-params.html" || fail "no MSSP points with mssp_scaler"
# The cost of the gap: the same excess events with and without a unit cost,
# and dollars = events x unit cost.
python3 - "$REPORT" "$W/report-params.html" <<'EOF' || fail "cost of the gap: events or dollars wrong"
import re, sys
def row(path):
    t = open(path, encoding="utf-8").read()
    t = t[t.index('class="data gap"'):]
    m = re.search(r"<td>ED visits per 1,000 member-years</td><td>[^<]*</td><td class=\"n\">([0-9.]+)</td>"
                  r"<td>events</td><td class=\"n\">([^<]*)</td><td class=\"n\">([^<]*)</td>", t)
    assert m, "no ed_rate row in " + path
    return m.groups()
plain, priced = row(sys.argv[1]), row(sys.argv[2])
assert plain[1] == "not set" and plain[2] == "\u2014", plain
assert priced[0] == plain[0] and priced[1] == "1150.00", (plain, priced)
assert abs(float(priced[2]) - 1150 * float(priced[0])) <= 1150 * 0.05 + 0.01, priced
EOF
printf '[metrics]\nbogus = 1\n' >"$W/bad.ini"
"$BIN/equity-coordinator" report --config "$COORD_INI" --round "$R2" --params "$W/bad.ini" \
    --out "$W/x.html" >/dev/null 2>"$W/bad.log"
rc=$?
[ $rc -eq 1 ] || fail "bad params file: exit $rc, expected 1"
grep -q "bad.ini:2: \[metrics\] unknown key 'bogus'" "$W/bad.log" || fail "bad params not located: $(cat "$W/bad.log")"

# A pooled.csv that differs from the release record: fail closed.
cp "$RES/pooled.csv" "$W/pooled.keep"
sed -i '2s/,0,/,0 ,/' "$RES/pooled.csv"
"$BIN/equity-coordinator" report --config "$COORD_INI" --round "$R2" --out "$W/tampered.html" >/dev/null 2>"$W/tamper.log"
rc=$?
[ $rc -eq 3 ] || fail "tampered pooled.csv: exit $rc, expected 3"
[ -e "$W/tampered.html" ] && fail "a report was written from a tampered pooled.csv"
grep -q "differs from the released result" "$W/tamper.log" || fail "no clear tamper message: $(cat "$W/tamper.log")"
cp "$W/pooled.keep" "$RES/pooled.csv"

# The organization's own report.
NODE_REPORT=$W/org1/report-$R2.html
"$BIN/equity-node" report --config "$W/org1/node.ini" --round "$R2" --pooled "$RES/pooled.csv" \
    --out "$NODE_REPORT" >"$W/node-report.out" 2>>"$W/node-report.log" || fail "equity-node report failed"
[ -s "$NODE_REPORT" ] || fail "equity-node report wrote nothing"
sha=$(sha256sum "$W/org1/store/$R2.submission.pb" | cut -d' ' -f1)
grep -q "$sha" "$NODE_REPORT" || fail "the node report does not give the SHA-256 of what left the site"

# ---- rendering in Chromium -------------------------------------------------------------
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    if [ -n "${CI:-}" ]; then
        fail "CI is set and Chromium is missing (install it: bash scripts/setup.sh)"
    fi
    echo "SKIP: Chromium is not installed, so the reports were not rendered (the rest passed);"
    echo "      install it with bash scripts/setup.sh (Debian package chromium)"
    exit 77
fi
render() { # html name width
    local prof
    prof=$(mktemp -d)
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$prof" --enable-logging=stderr --v=0 --log-net-log="$W/$2-$3.netlog" \
        --window-size="$3,1400" --screenshot="$BUILD/$2-$3.png" "file://$1" \
        >/dev/null 2>"$W/$2-$3.chromium.log" || fail "chromium --screenshot $2 at $3 failed"
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$prof" --enable-logging=stderr --v=0 --window-size="$3,1400" \
        --dump-dom "file://$1" >"$W/$2-$3.dom.html" 2>>"$W/$2-$3.chromium.log" ||
        fail "chromium --dump-dom $2 failed"
    rm -rf "$prof"
}
for width in 1280 390; do
    render "$REPORT" round-report "$width"
    render "$NODE_REPORT" org-report "$width"
done
python3 "$SRC/tests/support/render_check.py" round "$W/round-report-1280.dom.html" "$RES/pooled.csv" \
    "$W/round-report-1280.netlog" "$W/round-report-1280.chromium.log" "$BUILD/round-report-1280.png" 1280 \
    >"$W/check-round.log" 2>&1 || fail "round report rendering: $(cat "$W/check-round.log")"
python3 "$SRC/tests/support/render_check.py" round "$W/round-report-390.dom.html" "$RES/pooled.csv" \
    "$W/round-report-390.netlog" "$W/round-report-390.chromium.log" "$BUILD/round-report-390.png" 390 \
    >>"$W/check-round.log" 2>&1 || fail "round report rendering at 390 px: $(cat "$W/check-round.log")"
python3 "$SRC/tests/support/render_check.py" org "$W/org-report-1280.dom.html" "$W/org1/store/$R2.submission.pb" \
    "$W/org-report-1280.netlog" "$W/org-report-1280.chromium.log" "$BUILD/org-report-1280.png" 1280 \
    >"$W/check-org.log" 2>&1 || fail "organization report rendering: $(cat "$W/check-org.log")"
cat "$W/check-round.log" "$W/check-org.log"
echo "PASS: it_report (rounds $R1 $R2; screenshots in $BUILD/*-report-*.png)"
exit 0
