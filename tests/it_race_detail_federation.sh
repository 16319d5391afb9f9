#!/bin/bash
# it_race_detail_federation.sh BUILD_DIR SOURCE_DIR - detailed race and ethnicity through a
# whole federation on loopback (docs/catalog.md, "Detailed race and ethnicity"): a coordinator
# and three equity-node services that all hold configs/catalog-identities.ini answer a round
# asking for race, ethnicity, race_detail, race_group and race_aic (the coordinator's
# `[round] stratifiers = all` includes the opt-in stratifiers because its catalog defines
# them). After `round close`:
#  - pooled.csv has the three tables, and every released pooled population cell of them
#    (not partial: no organization withheld it) is the sum over the three extracts that python3 counts by the definitions (pooling a
#    non-additive race_aic table is still a sum of the organizations' cells);
#  - the pooled race_aic cells add up to more than the pooled total;
#  - the pooled CSV's coarsening notes point at released pooled cells, and the cells reader
#    accepts the file (equity-coordinator metrics).
# Every process started here is stopped on exit (trap).
set -u

BUILD=${1:?usage: it_race_detail_federation.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: it_race_detail_federation.sh BUILD_DIR SOURCE_DIR}
BIN=$BUILD/bin
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
. "$SRC/tests/support/it_lib.sh" equity-ca equity-coordinator equity-node
CAT=$(cd "$SRC" && pwd)/configs/catalog-identities.ini

ca_init "IT Race Detail CA"
issue coordinator coord:state "$W/coord/id"
for i in 1 2 3; do
    issue node "org:rd-$i" "$W/org$i/id"
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
sed -i "s|^\[coordinator\]|[coordinator]\ncatalog = $CAT|" "$COORD_INI"
cat >>"$COORD_INI" <<EOF
[round]
measures = population, wellness
stratifiers = all
intersections = none
k = 11
min_orgs = 2
EOF
"$BIN/equity-coordinator" run --config "$COORD_INI" >>"$W/coordinator.log" 2>&1 &
PIDS+=("$!")
wait_for 15 grep -q "serving nodes on" "$W/coordinator.log" || fail "coordinator did not start"

for i in 1 2 3; do
    d=$W/org$i
    "$BIN/equity-gen-extract" --rows $((400 * i + 400)) --seed $((30 + i)) --period 2025 \
        --race-detail yes --out "$d/members.csv" || fail "gen $i"
    cat >"$d/node.ini" <<EOF
[node]
org = org:rd-$i
k = 11
catalog = $CAT
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

RID=$("$BIN/equity-coordinator" round open --config "$COORD_INI" --period 2025 2>>"$W/coordinator.log")
[ -n "$RID" ] || fail "round open printed no round id"
for i in 1 2 3; do
    "$BIN/equity-node" run --config "$W/org$i/node.ini" >>"$W/node$i.log" 2>&1 &
    PIDS+=("$!")
done
for i in 1 2 3; do
    wait_for 90 test -f "$W/org$i/store/$RID.ack" || fail "node $i was not acknowledged: $(tail -3 "$W/node$i.log")"
done
"$BIN/equity-coordinator" round close --config "$COORD_INI" --round "$RID" >"$W/close.out" 2>>"$W/close.log" ||
    fail "round close failed: $(tail -5 "$W/close.log")"
POOLED=$W/coord/results/$RID/pooled.csv
[ -s "$POOLED" ] || fail "no pooled.csv"

python3 - "$SRC/data/race-detail.tsv" "$POOLED" "$W"/org1/members.csv "$W"/org2/members.csv "$W"/org3/members.csv <<'PY' ||
import csv, sys
tsv, pooled, exts = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = [l.rstrip('\n').split('\t') for l in open(tsv) if not l.startswith('#') and l.strip()][1:]
code = {}
for c, cdc, g, m, _ in rows:
    code[c] = c
    if cdc: code[cdc] = c
grp = {r[0]: r[2] for r in rows}; mn = {r[0]: r[3] for r in rows}; gmin = {r[2]: r[3] for r in rows}
MIN = {'AIAN': 'AIAN', 'ASIAN': 'ASIAN', 'BLACK': 'BLACK', 'MENA': 'MENA', 'NHPI': 'NHPI',
       'WHITE': 'WHITE', 'HISPANIC': 'HISPANIC', '1002-5': 'AIAN', '2028-9': 'ASIAN',
       '2054-5': 'BLACK', '2118-8': 'MENA', '2076-8': 'NHPI', '2106-3': 'WHITE', '2135-2': 'HISPANIC'}
RACES = ['AIAN', 'ASIAN', 'BLACK', 'MENA', 'NHPI', 'WHITE']
want = {'race_detail': {}, 'race_group': {}, 'race_aic': {}}
def add(t, s): want[t][s] = want[t].get(s, 0) + 1
total = 0
for ext in exts:
    for r in csv.DictReader(open(ext)):
        if float(r['member_months'] or 0) <= 0: continue
        total += 1
        det, mins = set(), set()
        for t in r['race_detail'].split(';'):
            t = t.strip().upper()
            if not t: continue
            if t in code: det.add(code[t]); mins.add(mn[code[t]])
            else: mins.add(MIN[t])
        if not det: d = g = 'UNKNOWN'
        else:
            gs = {grp[x] for x in det}
            d = next(iter(det)) if len(det) == 1 and mins == {mn[next(iter(det))]} else 'MULTIPLE'
            g = next(iter(gs)) if len(gs) == 1 and mins == {gmin[next(iter(gs))]} else 'MULTIPLE'
        add('race_detail', d); add('race_group', g)
        races = [x for x in RACES if x in mins] or ([r['race']] if r['race'] in RACES else [])
        aic = set(races) | ({'HISPANIC'} if r['ethnicity'] == 'HISPANIC' else set())
        for a in aic or {'UNKNOWN'}: add('race_aic', a)
cells = {(c['measure'], c['stratifier'], c['stratum']): c for c in csv.DictReader(open(pooled))}
bad = []; released = {t: 0 for t in want}; aic_sum = 0
for (m, t, s), c in cells.items():
    if m != 'population' or t not in want: continue
    n = want[t].get(s, 0)
    if t == 'race_aic': aic_sum += n
    if c['suppressed'] == '0' and c['reason'] != 'partial':  # partial: some organization withheld
        released[t] += 1
        if int(c['members']) != n: bad.append('%s %s: pooled %s, sum of extracts %d' % (t, s, c['members'], n))
    if 'coarsened_to=' in c['reason']:
        tab, st = c['reason'].split('coarsened_to=')[1].split(':')
        p = cells.get((m, tab, st))
        if not p or p['suppressed'] != '0': bad.append('%s %s coarsened to a withheld cell' % (t, s))
for t in want:
    if released[t] == 0: bad.append('no released pooled %s cell' % t)
if int(cells[('population', 'total', 'all')]['members']) != total: bad.append('total')
if aic_sum <= total: bad.append('race_aic adds up to %d, not more than the %d members' % (aic_sum, total))
for b in bad: print('bad:', b)
sys.exit(1 if bad else 0)
PY
    fail "pooled cells against python3"
"$BIN/equity-coordinator" metrics --cells "$POOLED" --out "$W/metrics.csv" 2>"$W/metrics.err" ||
    fail "the cells reader refused pooled.csv: $(cat "$W/metrics.err")"
echo "PASS: it_race_detail_federation"
