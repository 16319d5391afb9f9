#!/bin/bash
# it_sources.sh BUILD_DIR SOURCE_DIR - the same generated people read as an
# extract CSV and as a FHIR Bulk Data export (plain and gzip) give the same
# cells, byte for byte; malformed NDJSON lines are counted with file and
# line; a changed FHIR export gives different cells (the comparison can
# fail); cmc derived with CCC v2 is reported per category.
set -u
BUILD=${1:?usage: it_sources.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: it_sources.sh BUILD_DIR SOURCE_DIR}
NODE=$BUILD/bin/equity-node
GEN=$BUILD/bin/equity-gen-sources
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
n=0
failures=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
bad() { n=$((n + 1)); failures=$((failures + 1)); echo "not ok $n - $*"; }
printf '[input]\ncmc = ccc\n' >"$W/ccc.ini"

"$GEN" --persons 3000 --seed 11 --csv "$W/x.csv" --fhir "$W/fhir" --junk || bad "generate plain"
"$GEN" --persons 3000 --seed 11 --csv "$W/y.csv" --fhir "$W/fhirgz" --gzip || bad "generate gzip"
cmp -s "$W/x.csv" "$W/y.csv" && ok "generator is deterministic" || bad "generator output differs between runs"

# --threads 1: the extract's cost sums are then added in file order, as FHIR's are
"$NODE" aggregate -q --input "$W/x.csv" --threads 1 --out "$W/extract.csv" || bad "aggregate extract"
"$NODE" aggregate -q --format fhir --period 2023 --input "$W/fhir" -c "$W/ccc.ini" --out "$W/fhir.csv" \
    || bad "aggregate fhir"
"$NODE" aggregate -q --format fhir --period 2023 --input "$W/fhirgz" -c "$W/ccc.ini" --out "$W/fhirgz.csv" \
    || bad "aggregate fhir gzip"
lines=$(wc -l <"$W/extract.csv")
[ "$lines" -gt 1000 ] && ok "extract gives $lines cell lines" || bad "extract gave only $lines lines"
cmp -s "$W/extract.csv" "$W/fhir.csv" && ok "FHIR cells equal the extract's" \
    || bad "FHIR cells differ from the extract's: $(diff "$W/extract.csv" "$W/fhir.csv" | head -5)"
cmp -s "$W/extract.csv" "$W/fhirgz.csv" && ok "gzip FHIR cells equal the extract's" \
    || bad "gzip FHIR cells differ: $(diff "$W/extract.csv" "$W/fhirgz.csv" | head -5)"

# Malformed lines: counted, with file and line, and not tallied.
"$NODE" profile --format fhir --period 2023 --input "$W/fhir" -c "$W/ccc.ini" >"$W/prof" 2>"$W/prof.err"
obs_lines=$(wc -l <"$W/fhir/Observation.ndjson")
enc_lines=$(wc -l <"$W/fhir/Encounter.ndjson")
grep -q "Rows rejected  4" "$W/prof" && ok "4 bad lines counted" || bad "bad lines not counted: $(grep -A3 'Rows rejected' "$W/prof")"
grep -qF "fhir:$((obs_lines - 1)): Observation.ndjson: not JSON" "$W/prof" \
    && ok "truncated line reported with file and line" || bad "truncated line: $(grep -i json "$W/prof")"
grep -qF "fhir:$obs_lines: Observation.ndjson: not a JSON object" "$W/prof" \
    && ok "non-object line reported" || bad "non-object line not reported"
grep -qF "fhir:$enc_lines: Encounter.ndjson: subject: not a Patient of the export" "$W/prof" \
    && ok "unknown patient reported" || bad "unknown patient not reported"
if grep -q "nobody\|pt-[0-9]" "$W/prof" "$W/prof.err"; then bad "profile quotes a patient id"; else ok "no patient id in the profile"; fi
grep -q "any category [1-9]" "$W/prof" && grep -q "neuromusc  *[1-9]" "$W/prof" \
    && ok "CCC categories counted" || bad "CCC counts missing: $(grep -A4 'medical complexity' "$W/prof")"
"$NODE" aggregate -q --format fhir --period 2023 --input "$W/fhir" -c "$W/ccc.ini" --strict --out "$W/s.csv" 2>"$W/err"
[ $? -eq 1 ] && grep -q "Encounter.ndjson:$((enc_lines - 1)): resourceType" "$W/err" && [ ! -e "$W/s.csv" ] \
    && ok "--strict stops at the first bad line" || bad "--strict: $(cat "$W/err")"

# The comparison can fail: one emergency visit fewer changes the cells.
sed -i '0,/"code":"EMER"}/s//"code":"AMB"}/' "$W/fhirgz/../fhir/Encounter.ndjson"
"$NODE" aggregate -q --format fhir --period 2023 --input "$W/fhir" -c "$W/ccc.ini" --out "$W/changed.csv"
cmp -s "$W/extract.csv" "$W/changed.csv" && bad "a changed export still gives the same cells" \
    || ok "a changed export gives different cells"
# Without cmc = ccc the FHIR cells differ too (cmc unknown for everyone).
"$NODE" aggregate -q --format fhir --period 2023 --input "$W/fhirgz" --out "$W/nocmc.csv"
cmp -s "$W/extract.csv" "$W/nocmc.csv" && bad "cmc made no difference" || ok "cmc = ccc feeds the cmc cells"
# cmc = ccc on an extract is refused.
"$NODE" aggregate -q --input "$W/x.csv" -c "$W/ccc.ini" --out "$W/r.csv" 2>"$W/err"
[ $? -eq 1 ] && grep -q "cmc = ccc needs a source with diagnoses" "$W/err" && ok "cmc = ccc refused for an extract" \
    || bad "cmc = ccc on an extract: $(cat "$W/err")"
echo "1..$n"
[ "$failures" -eq 0 ]
