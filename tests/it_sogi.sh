#!/bin/bash
# it_sogi.sh BUILD_DIR SOURCE_DIR - the SOGI code list (data/sogi.tsv, issue 13) is well
# formed: five tab-separated columns, (stratifier, code) unique, both stratifiers have DONT_KNOW,
# DECLINED and UNKNOWN, every SNOMED code passes its Verhoeff check digit (a mistyped code
# fails: checked on a broken copy). The checker is python3, not the node's code.
set -u
SRC=${2:?usage: it_sogi.sh BUILD_DIR SOURCE_DIR}
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
cat > "$W/check.py" <<'PY'
import sys
D = [[0,1,2,3,4,5,6,7,8,9],[1,2,3,4,0,6,7,8,9,5],[2,3,4,0,1,7,8,9,5,6],[3,4,0,1,2,8,9,5,6,7],
     [4,0,1,2,3,9,5,6,7,8],[5,9,8,7,6,0,4,3,2,1],[6,5,9,8,7,1,0,4,3,2],[7,6,5,9,8,2,1,0,4,3],
     [8,7,6,5,9,3,2,1,0,4],[9,8,7,6,5,4,3,2,1,0]]
P = [[0,1,2,3,4,5,6,7,8,9],[1,5,7,6,2,8,3,0,9,4],[5,8,0,3,7,9,6,1,4,2],[8,9,1,6,0,4,3,5,2,7],
     [9,4,5,3,1,2,6,8,7,0],[4,2,8,6,5,7,3,9,0,1],[2,7,9,3,8,0,6,4,1,5],[7,0,4,6,9,1,3,2,5,8]]
def verhoeff_ok(s):
    c = 0
    for i, ch in enumerate(reversed(s)):
        c = D[c][P[i % 8][int(ch)]]
    return c == 0
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1], encoding='utf-8')
        if not l.startswith('#') and l.strip()]
bad = []
if rows[0] != ['stratifier', 'code', 'system', 'standard_code', 'label']: bad.append('header')
seen = set(); by = {}
for f in rows[1:]:
    if len(f) != 5: bad.append('columns'); continue
    s, code, system, std, label = f
    if (s, code) in seen: bad.append('duplicate ' + code)
    seen.add((s, code)); by.setdefault(s, set()).add(code)
    if system == 'SNOMED' and not (std.isdigit() and verhoeff_ok(std)): bad.append('snomed ' + std)
    if bool(system) != bool(std) or not label: bad.append('row ' + code)
for s in ('sexual_orientation', 'gender_identity'):
    if not {'DONT_KNOW', 'DECLINED', 'UNKNOWN'} <= by.get(s, set()): bad.append('missing codes in ' + s)
for b in bad: print('bad:', b)
sys.exit(1 if bad else 0)
PY
python3 "$W/check.py" "$SRC/data/sogi.tsv" || { echo "FAIL: data/sogi.tsv"; exit 1; }
sed -e 's/\t42035005\t/\t42035006\t/' "$SRC/data/sogi.tsv" > "$W/b.tsv"
cmp -s "$W/b.tsv" "$SRC/data/sogi.tsv" && { echo "FAIL: broken copy unchanged"; exit 1; }
python3 "$W/check.py" "$W/b.tsv" >/dev/null && { echo "FAIL: a wrong SNOMED check digit passed"; exit 1; }
echo "PASS: it_sogi"
