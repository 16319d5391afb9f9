#!/bin/bash
# it_race_detail_node.sh BUILD_DIR SOURCE_DIR - detailed race and ethnicity through the real
# node (docs/catalog.md, "Detailed race and ethnicity"): the optional race_detail column and
# the opt-in stratifiers race_detail, race_group and race_aic of
# configs/catalog-identities.ini.
#  1. With the default catalog the column is ignored: the cells of a file with it are byte
#     for byte those of the same file without it.
#  2. With catalog-identities.ini every released population cell of race_detail, race_group
#     and race_aic has the member count that python3 computes from the extract by the
#     definitions (the code list of data/race-detail.tsv; "alone": one detailed code and no
#     other minimum category; AIC: every minimum category reported, else the race column's,
#     HISPANIC from ethnicity, UNKNOWN when none); race_aic is not additive (its cells add up
#     to more than the total); every cell of 1..k-1 members is withheld.
#  3. Bad values are bad rows (reason code / inconsistent, the column named, the value never
#     in the message); an empty race is derived from race_detail.
#  4. Coarsening: a withheld race_detail cell whose race_group cell is released carries
#     ;coarsened_to=race_group:GROUP, released rows never do, and the cells reader accepts
#     the file (equity-coordinator metrics), which gives race_aic estimates and disparities
#     but no population-share metric (summary indices, cost and member-month shares).
#  5. Refusals: race_aic in an intersection, race_detail crossed with race, an opt-in stratifier with the default catalog, a
#     catalog whose parent. entries contradict data/race-detail.tsv.
set -u
BUILD=${1:?usage: it_race_detail_node.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: it_race_detail_node.sh BUILD_DIR SOURCE_DIR}
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
B=$BUILD/bin
CAT=$SRC/configs/catalog-identities.ini
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

printf '[node]\norg = org:t\n' >"$W/n.ini"
"$B/equity-gen-extract" --rows 2000 --seed 7 --race-detail yes --out "$W/x.csv" || fail gen
cut -d, -f1-33 "$W/x.csv" >"$W/x0.csv"

# 1. default catalog: the column changes nothing
"$B/equity-node" aggregate --config "$W/n.ini" --input "$W/x.csv" --out "$W/d1.csv" -q || fail "default run"
"$B/equity-node" aggregate --config "$W/n.ini" --input "$W/x0.csv" --out "$W/d0.csv" -q || fail "default run 0"
cmp -s "$W/d0.csv" "$W/d1.csv" || fail "default catalog: a race_detail column changed the cells"
grep -q race_detail "$W/d1.csv" && fail "default catalog released race_detail"

# 2. counts against python3
"$B/equity-node" aggregate --config "$W/n.ini" --input "$W/x.csv" --catalog "$CAT" \
    --out "$W/c.csv" -q || fail "identities run"
cat >"$W/check.py" <<'PY'
import csv, sys
tsv, ext, cells, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
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
for r in csv.DictReader(open(ext)):
    if float(r['member_months'] or 0) <= 0: continue
    total += 1
    det, mins = set(), set()
    for t in r['race_detail'].replace('|', ';').split(';'):
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
bad = []; seen = {t: 0 for t in want}; aic_sum = 0
for c in csv.DictReader(open(cells)):
    t = c['stratifier']
    if c['measure'] != 'population' or t not in want: continue
    n = want[t].get(c['stratum'], 0); seen[t] += 1
    if t == 'race_aic': aic_sum += n
    if c['suppressed'] == '0':
        if int(c['members']) != n: bad.append('%s %s: %s members, expected %d' % (t, c['stratum'], c['members'], n))
        if 0 < n < k: bad.append('%s %s: %d members released' % (t, c['stratum'], n))
    elif not c['reason']: bad.append('%s %s withheld without a reason' % (t, c['stratum']))
for t in want:
    if seen[t] == 0: bad.append('no %s table' % t)
if aic_sum <= total: bad.append('race_aic adds up to %d, not more than %d members' % (aic_sum, total))
for b in bad: print('bad:', b)
sys.exit(1 if bad else 0)
PY
python3 "$W/check.py" "$SRC/data/race-detail.tsv" "$W/x.csv" "$W/c.csv" 11 || fail "cells against python3"

# 3. bad rows, derived race
python3 - "$W/x.csv" "$W/bad.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
h = rows[0]; i, ri, ei = h.index('race_detail'), h.index('race'), h.index('ethnicity')
out = [h]
r = list(rows[1]); r[i] = 'KLINGON_SECRET'; out.append(r)                   # not a code
r = list(rows[2]); r[ri], r[ei], r[i] = 'WHITE', 'NOT_HISPANIC', 'CHINESE'; out.append(r)  # race
r = list(rows[3]); r[ri], r[ei], r[i] = 'ASIAN', 'NOT_HISPANIC', 'CHINESE;MEXICAN'; out.append(r)  # eth
for j in range(4, 20):                                                      # derived: ASIAN
    r = list(rows[j]); r[ri], r[ei], r[i] = '', 'NOT_HISPANIC', '2034-7'; r[h.index('member_months')] = '12'; out.append(r)
csv.writer(open(sys.argv[2], 'w'), lineterminator='\n').writerows(out)
PY
"$B/equity-node" profile --input "$W/bad.csv" --catalog "$CAT" >"$W/prof.txt" 2>&1
grep -q 'bad.csv:2:34: race_detail: race_detail has a response that is not' "$W/prof.txt" || fail "unknown code not reported"
grep -q 'bad.csv:3:34: race_detail: race_detail contradicts race' "$W/prof.txt" || fail "race contradiction not reported"
grep -q 'bad.csv:4:34: race_detail: race_detail contradicts ethnicity' "$W/prof.txt" || fail "ethnicity contradiction not reported"
"$B/equity-node" aggregate --input "$W/bad.csv" --catalog "$CAT" --out "$W/s.csv" --strict >"$W/strict.txt" 2>&1 &&
    fail "strict run accepted a bad race_detail"
grep -q 'bad.csv:2:34: race_detail has a response' "$W/strict.txt" || fail "strict message: $(cat "$W/strict.txt")"
grep -q KLINGON "$W/strict.txt" && fail "the strict message quotes the value"
printf '[node]\norg = org:t\n[report]\nmeasures = population\n' >"$W/p.ini"
"$B/equity-node" aggregate --config "$W/p.ini" --input "$W/bad.csv" --catalog "$CAT" --out "$W/b.csv" -q ||
    fail "bad rows run"
grep -q '^org:t,,population,race,ASIAN,16,' "$W/b.csv" || fail "empty race not derived from race_detail: $(grep ',population,race,ASIAN' "$W/b.csv")"

# local codes: the catalog's map.LOCAL = CODE of race_detail, before the codes
python3 - "$W/x.csv" "$W/map.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
h = rows[0]; i, ri, ei = h.index('race_detail'), h.index('race'), h.index('ethnicity')
out = [h]
for j in range(1, 16):
    r = list(rows[j]); r[ri], r[ei], r[i] = 'MULTI', 'NOT_HISPANIC', 'zh-local | asn ; W'
    r[h.index('member_months')] = '12'; out.append(r)
csv.writer(open(sys.argv[2], 'w'), lineterminator='\n').writerows(out)
PY
sed -e 's/^parent.CHINESE = EAST_ASIAN/parent.CHINESE = EAST_ASIAN\nmap.ZH-LOCAL = CHINESE\nmap.ASN = ASIAN\nmap.W = WHITE/' "$CAT" >"$W/mapcat.ini"
"$B/equity-node" aggregate --config "$W/p.ini" --input "$W/map.csv" --catalog "$W/mapcat.ini" --out "$W/mc.csv" -q ||
    fail "catalog maps of race_detail"
grep -q '^org:t,,population,race_detail,MULTIPLE,15,' "$W/mc.csv" || fail "mapped responses: $(grep ',population,race_detail,MULTIPLE' "$W/mc.csv")"
grep -q '^org:t,,population,race_aic,WHITE,15,' "$W/mc.csv" || fail "mapped minimum category"

# two-way tables: race_group*disability minus the released race_detail*disability
# siblings must not give a withheld one when MULTIPLE*x is 0 (no several-code part)
python3 - "$W/x.csv" "$W/tw.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
h = rows[0]; ix = {n: i for i, n in enumerate(h)}
plan = [('CHINESE', 'Y', 20), ('KOREAN', 'Y', 3), ('JAPANESE', 'Y', 15), ('CHINESE', 'N', 43),
        ('JAPANESE', 'N', 40), ('KOREAN', 'N', 15), ('FILIPINO', 'Y', 9), ('FILIPINO', 'N', 30),
        ('VIETNAMESE', 'Y', 25), ('VIETNAMESE', 'N', 30)]
out = [h]; j = 1
for d, y, n in plan + [('', 'N', 170)]:
    for _ in range(n):
        r = list(rows[j]); j += 1
        r[ix['race']] = 'ASIAN' if d else 'WHITE'; r[ix['ethnicity']] = 'NOT_HISPANIC'
        r[ix['race_detail']] = d; r[ix['disability']] = y; r[ix['member_months']] = '12'
        out.append(r)
csv.writer(open(sys.argv[2], 'w'), lineterminator='\n').writerows(out)
PY
printf '[node]\norg = org:t\n[report]\nmeasures = population\nstratifiers = race race_detail race_group disability\nintersections = race_detail*disability race_group*disability\n' >"$W/tw.ini"
"$B/equity-node" aggregate --config "$W/tw.ini" --input "$W/tw.csv" --catalog "$CAT" --out "$W/twc.csv" -q ||
    fail "two-way run"
python3 - "$W/twc.csv" "$SRC/data/race-detail.tsv" <<'PY' || fail "a withheld race_detail*disability cell is group minus siblings"
import csv, sys
cells = {(c['stratifier'], c['stratum']): c for c in csv.DictReader(open(sys.argv[1])) if c['measure'] == 'population'}
kids = {}
for l in open(sys.argv[2]):
    f = l.rstrip('\n').split('\t')
    if not l.startswith('#') and len(f) == 5 and f[0] != 'code':
        kids.setdefault(f[2], []).append(f[0])
bad = 0
for g, ds in kids.items():
    for x in 'YNU':
        gc, mc = cells.get(('race_group*disability', g + '*' + x)), cells.get(('race_detail*disability', 'MULTIPLE*' + x))
        if not gc or gc['suppressed'] != '0' or not mc or mc['suppressed'] != '0' or mc['members'] != '0':
            continue
        held = [d for d in ds if cells[('race_detail*disability', d + '*' + x)]['suppressed'] == '1']
        if len(held) == 1:
            print('bad: %s*%s is %s*%s minus its released siblings' % (held[0], x, g, x)); bad = 1
sys.exit(bad)
PY

# race_aic HISPANIC is ethnicity HISPANIC: released in one table, it must not open the
# ethnicity table (a single withheld ethnicity cell left = total minus the rest)
python3 - "$W/x.csv" "$W/aic.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
h = rows[0]; ix = {n: i for i, n in enumerate(h)}
out = [h]; j = 1
for eth, rd, n in [('NOT_HISPANIC', 'WHITE', 200), ('HISPANIC', 'MEXICAN', 30), ('UNKNOWN', '', 3)]:
    for _ in range(n):
        r = list(rows[j]); j += 1
        r[ix['race']] = 'WHITE' if rd == 'WHITE' else 'OTHER'; r[ix['ethnicity']] = eth
        r[ix['race_detail']] = rd; r[ix['member_months']] = '12'
        out.append(r)
csv.writer(open(sys.argv[2], 'w'), lineterminator='\n').writerows(out)
PY
printf '[node]\norg = org:t\n[report]\nmeasures = population\nstratifiers = race ethnicity race_aic\nintersections = none\n' >"$W/aic.ini"
"$B/equity-node" aggregate --config "$W/aic.ini" --input "$W/aic.csv" --catalog "$CAT" --out "$W/aicc.csv" -q ||
    fail "race_aic run"
python3 - "$W/aicc.csv" <<'PY' || fail "race_aic HISPANIC opens the ethnicity table"
import csv, sys
c = {(r['stratifier'], r['stratum']): r for r in csv.DictReader(open(sys.argv[1])) if r['measure'] == 'population'}
eth = {s: r for (t, s), r in c.items() if t == 'ethnicity'}
known = {s for s, r in eth.items() if r['suppressed'] == '0'}
if c[('race_aic', 'HISPANIC')]['suppressed'] == '0':
    known.add('HISPANIC')
left = [s for s in eth if s not in known]
if c[('total', 'all')]['suppressed'] == '0' and len(left) == 1:
    print('bad: ethnicity %s = total - the rest' % left[0]); sys.exit(1)
PY

# 4. coarsening notes
python3 - "$W/c.csv" <<'PY' || fail "coarsening notes"
import csv, sys
cells = {(c['measure'], c['stratifier'], c['stratum']): c for c in csv.DictReader(open(sys.argv[1]))}
bad = []; notes = 0
for (m, t, s), c in cells.items():
    if c['suppressed'] == '0' and ';' in c['reason']: bad.append('note on a released row')
    if 'coarsened_to=' in c['reason']:
        notes += 1
        tab, st = c['reason'].split('coarsened_to=')[1].split(':')
        p = cells.get((m, tab, st))
        if not p or p['suppressed'] != '0': bad.append('%s %s %s: coarsened to a withheld cell' % (m, t, s))
for b in bad: print('bad:', b)
if notes == 0: print('bad: no coarsening note at all')
sys.exit(1 if bad or notes == 0 else 0)
PY
grep -q ',population,race_detail,[A-Z_]*,,,,,,1,[a-z]*;coarsened_to=race_group:' "$W/c.csv" || fail "no note to race_group"
sed -e '2,$s/^org:t,,/org:t,r1,/' "$W/c.csv" >"$W/cr.csv"
"$B/equity-coordinator" metrics --catalog "$CAT" --cells "$W/cr.csv" --out "$W/m.csv" 2>"$W/m.err" || fail "cells reader: $(cat "$W/m.err")"
# race_aic is not additive: estimates and pairwise disparities, no population-share metrics
awk -F, '$3 == "race_aic" && ($5 == "bgv" || $5 == "theil" || $5 == "mld" || $5 == "idisp" ||
    $5 == "idisp_w" || $5 == "cost_share" || $5 == "mm_share") { bad = 1 } END { exit bad }' "$W/m.csv" ||
    fail "share-based metrics over race_aic"
grep -q '^r1,population,race_aic,ASIAN,estimate,' "$W/m.csv" || fail "no race_aic estimate"
grep -q ',race_detail,all,bgv,' "$W/m.csv" || fail "no summary index over race_detail"
sed -e 's/;coarsened_to=race_group:/;coarsened_to=nosuch:/' "$W/cr.csv" >"$W/crb.csv"
"$B/equity-coordinator" metrics --catalog "$CAT" --cells "$W/crb.csv" --out "$W/mb.csv" 2>/dev/null && fail "a bad note was accepted"

# 5. refusals
printf '[node]\norg = org:t\n[report]\nintersections = race_aic*sex\n' >"$W/i.ini"
"$B/equity-node" aggregate --config "$W/i.ini" --input "$W/x.csv" --catalog "$CAT" --out "$W/i.csv" -q 2>"$W/i.err" &&
    fail "race_aic*sex accepted"
grep -q 'race_aic is not additive' "$W/i.err" || fail "race_aic*sex: $(cat "$W/i.err")"
printf '[node]\norg = org:t\n[report]\nintersections = race_detail*race\n' >"$W/i2.ini"
"$B/equity-node" aggregate --config "$W/i2.ini" --input "$W/x.csv" --catalog "$CAT" --out "$W/i.csv" -q 2>"$W/i.err" &&
    fail "race_detail*race accepted"
grep -q 'not crossed with race' "$W/i.err" || fail "race_detail*race: $(cat "$W/i.err")"
printf '[node]\norg = org:t\n[report]\nstratifiers = race race_detail\n' >"$W/o.ini"
"$B/equity-node" aggregate --config "$W/o.ini" --input "$W/x.csv" --out "$W/o.csv" -q 2>"$W/o.err" &&
    fail "race_detail with the default catalog accepted"
grep -q 'needs a catalog that defines it' "$W/o.err" || fail "opt-in: $(cat "$W/o.err")"
sed -e 's/^parent.CHINESE = EAST_ASIAN/parent.CHINESE = SOUTH_ASIAN/' "$CAT" >"$W/badcat.ini"
"$B/equity-node" aggregate --input "$W/x.csv" --catalog "$W/badcat.ini" --out "$W/p.csv" -q 2>"$W/p.err" &&
    fail "a wrong parent. entry was accepted"
grep -q "has EAST_ASIAN" "$W/p.err" || fail "wrong parent: $(cat "$W/p.err")"
echo "PASS: it_race_detail_node"
