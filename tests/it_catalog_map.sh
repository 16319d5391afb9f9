#!/bin/bash
# it_catalog_map.sh BUILD_DIR SOURCE_DIR - a catalog's map.LOCAL = CODE entries are used
# by the node (docs/catalog.md): an extract whose race column says "W" or "Caucasian" for
# WHITE and whose sex column says "female" for F, read with the default catalog plus
#   [stratifier race] map.W = WHITE, map.Caucasian = WHITE  and [stratifier sex] map.female = F,
# gives the same cells as the original extract with the default catalog (all but the
# catalog identity lines); without the maps the same extract's rows are rejected.
set -u
BUILD=${1:?usage: it_catalog_map.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: it_catalog_map.sh BUILD_DIR SOURCE_DIR}
BIN=$BUILD/bin
. "$SRC/tests/support/it_lib.sh" equity-node equity-gen-extract
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
NODE=$BIN/equity-node
CAT=$SRC/configs/catalog.ini
"$BIN/equity-gen-extract" --rows 20000 --seed 5 --out "$W/x.csv" || fail "generator failed"
python3 - "$W/x.csv" "$W/y.csv" <<'PY' || fail "rewrite failed"
import csv, sys
r = csv.reader(open(sys.argv[1], newline='')); w = csv.writer(open(sys.argv[2], 'w', newline=''), lineterminator='\n')
h = next(r); w.writerow(h); ri = h.index('race'); si = h.index('sex'); n = 0
for i, row in enumerate(r):
    if row[ri] == 'WHITE':
        row[ri] = 'W' if i % 2 else 'Caucasian'; n += 1
    if row[si] == 'F':
        row[si] = 'female'
    w.writerow(row)
if n < 100: sys.exit('too few WHITE rows: %d' % n)
PY
python3 - "$CAT" "$W/cat-map.ini" <<'PY' || fail "catalog rewrite failed"
import sys
out = []
for line in open(sys.argv[1]):
    out.append(line)
    if line.startswith('codes = AIAN ASIAN'):
        out.append('map.W = WHITE\nmap.Caucasian = WHITE\n')
    if line.startswith('codes = F M X U'):
        out.append('map.female = F\n')
open(sys.argv[2], 'w').write(''.join(out))
PY
grep -q '^map.W = WHITE' "$W/cat-map.ini" && grep -q '^map.female = F' "$W/cat-map.ini" || fail "maps not added"
"$NODE" aggregate --input "$W/x.csv" --catalog "$CAT" --out "$W/a.csv" 2>"$W/a.log" || fail "aggregate failed: $(tail -2 "$W/a.log")"
"$NODE" aggregate --input "$W/y.csv" --catalog "$W/cat-map.ini" --out "$W/b.csv" 2>"$W/b.log" || fail "aggregate with maps failed: $(tail -2 "$W/b.log")"
grep -vi 'catalog' "$W/a.csv" > "$W/a2.csv"; grep -vi 'catalog' "$W/b.csv" > "$W/b2.csv"
[ "$(wc -l < "$W/a2.csv")" -gt 100 ] || fail "too few cells"
cmp -s "$W/a2.csv" "$W/b2.csv" || fail "mapped extract gives other cells: $(diff "$W/a2.csv" "$W/b2.csv" | head -4)"
# without the maps, the local codes are not codes: the rows are rejected, the cells differ
"$NODE" aggregate --input "$W/y.csv" --catalog "$CAT" --out "$W/c.csv" >"$W/c.log" 2>&1
grep -vi 'catalog' "$W/c.csv" > "$W/c2.csv" 2>/dev/null
cmp -s "$W/a2.csv" "$W/c2.csv" && fail "unmapped local codes gave the same cells"
echo "PASS: it_catalog_map"
