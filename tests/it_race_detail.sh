#!/bin/bash
# it_race_detail.sh BUILD_DIR SOURCE_DIR - the detailed race and ethnicity code list
# (data/race-detail.tsv, issue 13) is well formed: five tab-separated columns, codes unique,
# every CDC code NNNN-D with D the Mod 10 check digit of NNNN (a mistyped code fails), every
# minimum a race code of the default catalog (configs/catalog.ini) or HISPANIC, and every
# group under one minimum only (the hierarchy is a tree). The checker is python3 reading the
# files, not the node's code. A deliberately broken copy must fail the same check.
set -u
SRC=${2:?usage: it_race_detail.sh BUILD_DIR SOURCE_DIR}
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
cat > "$W/check.py" <<'PY'
import sys, configparser
tsv, ini = sys.argv[1], sys.argv[2]
cp = configparser.ConfigParser(strict=False, comment_prefixes=(';', '#'), inline_comment_prefixes=None)
cp.read(ini)
minimums = set(cp['stratifier race']['codes'].split()) | {'HISPANIC'}
def mod10(s):
    odd = s[::-1][0::2]; even = s[::-1][1::2]
    t = sum(int(c) for c in str(int(odd) * 2)) + sum(int(c) for c in even)
    return (10 - t % 10) % 10
bad = []; codes = set(); cdc = set(); group_min = {}; n = 0
rows = [l.rstrip('\n') for l in open(tsv, encoding='utf-8') if not l.startswith('#') and l.strip()]
if rows[0].split('\t') != ['code', 'cdc_code', 'group', 'minimum', 'label']:
    bad.append('header')
for l in rows[1:]:
    f = l.split('\t'); n += 1
    if len(f) != 5: bad.append('columns: ' + l); continue
    code, c, g, m, label = f
    if code in codes: bad.append('duplicate code ' + code)
    codes.add(code)
    if c:
        a, _, d = c.partition('-')
        if not (len(a) == 4 and a.isdigit() and len(d) == 1 and d.isdigit() and mod10(a) == int(d)):
            bad.append('cdc code ' + c)
        if c in cdc: bad.append('duplicate cdc code ' + c)
        cdc.add(c)
    if m not in minimums: bad.append('minimum ' + m)
    if group_min.setdefault(g, m) != m: bad.append('group %s under two minimums' % g)
    if not label: bad.append('label of ' + code)
if n < 20: bad.append('only %d rows' % n)
for b in bad: print('bad:', b)
sys.exit(1 if bad else 0)
PY
python3 "$W/check.py" "$SRC/data/race-detail.tsv" "$SRC/configs/catalog.ini" || { echo "FAIL: data/race-detail.tsv"; exit 1; }
# the check can fail: a mistyped check digit and a group under two minimums
sed -e 's/^CHINESE\t2034-7/CHINESE\t2034-6/' "$SRC/data/race-detail.tsv" > "$W/b1.tsv"
python3 "$W/check.py" "$W/b1.tsv" "$SRC/configs/catalog.ini" >/dev/null && { echo "FAIL: a wrong check digit passed"; exit 1; }
sed -e 's/^KOREAN\t2040-4\tEAST_ASIAN\tASIAN/KOREAN\t2040-4\tEAST_ASIAN\tNHPI/' "$SRC/data/race-detail.tsv" > "$W/b2.tsv"
python3 "$W/check.py" "$W/b2.tsv" "$SRC/configs/catalog.ini" >/dev/null && { echo "FAIL: a group under two minimums passed"; exit 1; }
echo "PASS: it_race_detail"
