#!/bin/bash
# it_catalog.sh BUILD_DIR SOURCE_DIR - the catalog as data (docs/catalog.md):
#  - byte-identical: `equity-node aggregate` with the default catalog file
#    (configs/catalog.ini, run through the compiled catalog program) and
#    with the compiled-in catalog (--catalog builtin, the hand-written
#    tally) write the same bytes (cmp), for a generated extract with and
#    without empty (unknown) fields, with 1 and 2 threads, and for the
#    shared Synthea sample; and the default (no --catalog) is the file;
#  - HEDIS-style measures from flag columns (configs/catalog-hedis.ini on
#    data/hedis-sample.csv): the totals of PPC, FUM and CIS equal the counts
#    of the flags in the file (python3 csv, not the node's code); the
#    built-in measures' cells are the default catalog's; an empty flag
#    withholds a measure that shares its population (not_available); a flag
#    that is not 0/1 is a rejected row; a source without flag columns
#    reports those measures not available;
#  - a catalog file with an error stops the node with file:line.
set -u
BUILD=${1:?usage: it_catalog.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: it_catalog.sh BUILD_DIR SOURCE_DIR}
BIN=$BUILD/bin
. "$SRC/tests/support/it_lib.sh" equity-node equity-gen-extract
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
NODE=$BIN/equity-node
CAT=$SRC/configs/catalog.ini
HEDIS=$SRC/configs/catalog-hedis.ini

# ---- byte-identical ----------------------------------------------------------
"$BIN/equity-gen-extract" --rows 60000 --seed 11 --out "$W/x.csv" || fail "generator failed"
# some unknown (empty) inputs: every 97th row loses its no_shows, every
# 89th its hba1c_poor_control, every 101st its total_cost
python3 - "$W/x.csv" "$W/xu.csv" <<'EOF' || fail "could not write the extract with empty fields"
import csv, sys
r = csv.reader(open(sys.argv[1]))
w = csv.writer(open(sys.argv[2], "w", newline=""), lineterminator="\n")
head = next(r)
w.writerow(head)
ix = {c: head.index(c) for c in ("no_shows", "hba1c_poor_control", "total_cost", "scheduled_appts")}
for n, row in enumerate(r):
    if n % 97 == 0:
        row[ix["no_shows"]] = ""
    if n % 89 == 0:
        row[ix["hba1c_poor_control"]] = ""
    if n % 101 == 0:
        row[ix["total_cost"]] = ""
    w.writerow(row)
EOF
for input in x xu; do
    for t in 1 2; do
        "$NODE" aggregate --input "$W/$input.csv" --threads $t --catalog builtin \
            --out "$W/$input-b$t.csv" 2>"$W/b.log" || fail "aggregate --catalog builtin failed: $(tail -2 "$W/b.log")"
        "$NODE" aggregate --input "$W/$input.csv" --threads $t --catalog "$CAT" \
            --out "$W/$input-f$t.csv" 2>"$W/f.log" || fail "aggregate --catalog catalog.ini failed: $(tail -2 "$W/f.log")"
        cmp "$W/$input-b$t.csv" "$W/$input-f$t.csv" ||
            fail "$input.csv, $t threads: the catalog file and the compiled-in catalog differ ($(diff "$W/$input-b$t.csv" "$W/$input-f$t.csv" | wc -l) lines)"
    done
    echo "ok - $input.csv: catalog.ini and the compiled-in catalog give the same bytes ($(wc -l <"$W/$input-b1.csv") lines, 1 and 2 threads)"
done
grep -q ",cost_pmpm,total,all,,,,,,1,not_available" "$W/xu-f1.csv" ||
    fail "an empty total_cost must withhold cost_pmpm (shared denominator)"
grep -q ",no_show,total,all,[0-9]" "$W/xu-f1.csv" ||
    fail "an empty no_shows leaves the member out of no_show, which stays released"
"$NODE" aggregate --input "$W/xu.csv" --out "$W/xu-d.csv" 2>"$W/d.log" || fail "aggregate with the default catalog"
cmp "$W/xu-b1.csv" "$W/xu-d.csv" || fail "the default catalog (no --catalog) differs from the compiled-in one"
SYN=$SRC/../shared/data/synthea-ca-50
if [ -d "$SYN" ]; then
    "$NODE" aggregate --format synthea --input "$SYN" --period 2024 --catalog builtin \
        --out "$W/s-b.csv" 2>/dev/null || fail "synthea builtin"
    "$NODE" aggregate --format synthea --input "$SYN" --period 2024 --catalog "$CAT" \
        --out "$W/s-f.csv" 2>/dev/null || fail "synthea file"
    cmp "$W/s-b.csv" "$W/s-f.csv" || fail "Synthea sample: the catalog file and the compiled-in catalog differ"
    echo "ok - Synthea sample: same bytes ($(wc -l <"$W/s-b.csv") lines)"
    "$NODE" aggregate --format synthea --input "$SYN" --period 2024 --catalog "$HEDIS" \
        --out "$W/s-h.csv" 2>"$W/sh.log" || fail "synthea with the HEDIS catalog"
    grep -q ",ppc_prenatal,total,all,,,,,,1,not_available" "$W/s-h.csv" ||
        fail "Synthea has no flag columns: ppc_prenatal must be not_available"
    echo "ok - a source without flag columns reports the flag measures not available"
fi

# ---- HEDIS-style measures from flags -------------------------------------------
HS=$SRC/data/hedis-sample.csv
"$NODE" aggregate --input "$HS" --catalog "$HEDIS" --out "$W/h.csv" 2>"$W/h.log" ||
    fail "aggregate with catalog-hedis.ini failed: $(tail -2 "$W/h.log")"
"$NODE" aggregate --input "$HS" --catalog "$CAT" --out "$W/h-default.csv" 2>/dev/null ||
    fail "aggregate of the HEDIS sample with the default catalog failed"
python3 - "$HS" "$W/h.csv" "$W/h-default.csv" <<'EOF' || fail "HEDIS cells do not match the flags"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
want = {}
def pop(den, extra=lambda r: True):
    return [r for r in rows if float(r["member_months"]) > 0 and r[den] == "1" and extra(r)]
for m, den, num, extra in [
        ("ppc_prenatal", "hedis_ppc_denominator", "hedis_ppc_prenatal", lambda r: True),
        ("ppc_postpartum", "hedis_ppc_denominator", "hedis_ppc_postpartum", lambda r: True),
        ("fum_7d", "hedis_fum_denominator", "hedis_fum_7d", lambda r: True),
        ("fum_30d", "hedis_fum_denominator", "hedis_fum_30d", lambda r: True),
        ("cis_combo10", "hedis_cis_denominator", "hedis_cis_combo10",
         lambda r: r["age"] != "" and int(r["age"]) < 3)]:
    p = pop(den, extra)
    want[m] = (len(p), sum(1 for r in p if r[num] == "1"))
got = {}
for r in csv.DictReader(open(sys.argv[2])):
    if r["stratifier"] == "total" and r["measure"] in want:
        got[r["measure"]] = (int(r["members"]), int(r["numerator"]))
for m in want:
    if got.get(m) != want[m]:
        sys.exit(f"{m}: node {got.get(m)}, flags {want[m]}")
    print(f"  {m}: {want[m][1]} of {want[m][0]}")
# the built-in measures: the same cells as with the default catalog
def builtin(path):
    return sorted(l for l in open(path).read().splitlines()[1:]
                  if l.split(",")[2] not in want)
if builtin(sys.argv[2]) != builtin(sys.argv[3]):
    sys.exit("the built-in measures' cells differ between catalog-hedis.ini and catalog.ini")
EOF
echo "ok - PPC, FUM and CIS totals equal the flag counts; built-in measures unchanged"
grep -q ",ppc_prenatal,race,WHITE," "$W/h.csv" || fail "ppc_prenatal has no race strata"

# an empty flag: the member cannot be left out of ppc_postpartum alone
python3 - "$HS" "$W/he.csv" "$W/hb.csv" <<'EOF'
import csv, sys
r = list(csv.reader(open(sys.argv[1])))
h = r[0]
i = h.index("hedis_ppc_postpartum")
d = h.index("hedis_ppc_denominator")
e = [row[:] for row in r]
k = next(n for n in range(1, len(e)) if e[n][d] == "1")
e[k][i] = ""
csv.writer(open(sys.argv[2], "w", newline=""), lineterminator="\n").writerows(e)
b = [row[:] for row in r]
b[5][i] = "2"
csv.writer(open(sys.argv[3], "w", newline=""), lineterminator="\n").writerows(b)
EOF
"$NODE" aggregate --input "$W/he.csv" --catalog "$HEDIS" --out "$W/he-c.csv" 2>"$W/he.log" || fail "empty flag run"
grep -q ",ppc_postpartum,total,all,,,,,,1,not_available" "$W/he-c.csv" ||
    fail "an empty hedis_ppc_postpartum must withhold ppc_postpartum (not_available)"
grep -q ",ppc_prenatal,total,all,[0-9]" "$W/he-c.csv" || fail "ppc_prenatal must stay released"
echo "ok - an empty flag withholds its measure (not_available), not the others"
"$NODE" aggregate --input "$W/hb.csv" --catalog "$HEDIS" --strict --out "$W/hb-c.csv" 2>"$W/hb.log" &&
    fail "a flag value 2 must be refused in strict mode"
grep -q "hedis_ppc_postpartum is not 0, 1 or empty" "$W/hb.log" || fail "no reason for the bad flag: $(cat "$W/hb.log")"
echo "ok - a flag that is not 0/1/empty is a bad row with its reason"

# ---- errors ------------------------------------------------------------------------
printf '[catalog]\nname = x\nversion = 1\n[measure m]\nkind = rate\nlabel = M\nnumerator = sum total_cost\ndenominator = member_months\n' >"$W/bad.ini"
"$NODE" aggregate --input "$HS" --catalog "$W/bad.ini" --out "$W/bad.csv" 2>"$W/bad.log" &&
    fail "a bad catalog must stop the node"
grep -q "bad.ini: \[measure m\] a rate counts events" "$W/bad.log" || fail "no file and reason: $(cat "$W/bad.log")"
echo "ok - a catalog with an error stops the node with its file and reason"
exit 0
