#!/bin/bash
# it_sources.sh BUILD_DIR SOURCE_DIR - the same generated people read as an
# extract CSV and as a FHIR Bulk Data export (plain and gzip) give the same
# cells, byte for byte; malformed NDJSON lines are counted with file and
# line; a changed FHIR export gives different cells (the comparison can
# fail); cmc derived with CCC v2 is reported per category; local sex,
# ethnicity, language and payer codes mapped by [map.*] give the same cells.
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
# Local codes in the export (gender "W", ethnicity "HISP", language "ESP",
# Coverage text "Medi-Cal" for every other person): with the ini's maps the
# cells equal the extract's (standard codes); each rule's hits are in the
# profile; without the maps the values are misses and the cells differ.
"$GEN" --persons 3000 --seed 11 --csv "$W/z.csv" --fhir "$W/fhirlocal" --local-codes || bad "generate local codes"
cmp -s "$W/x.csv" "$W/z.csv" && ok "--local-codes leaves the extract as it was" || bad "--local-codes changed the extract"
cat >"$W/maps.ini" <<'INI'
[input]
cmc = ccc
[map.sex]
W = F
[map.ethnicity]
HISP = HISPANIC
[map.language]
ESP = spa
[map.payer]
Medi-Cal = MEDICAID
INI
grep -q '"gender":"W"' "$W/fhirlocal/Patient.ndjson" && grep -q '"code":"HISP"' "$W/fhirlocal/Patient.ndjson" \
    && grep -q '"code":"ESP"' "$W/fhirlocal/Patient.ndjson" && grep -q 'Medi-Cal' "$W/fhirlocal/Coverage.ndjson" \
    && ok "the export holds the local codes" || bad "local codes not written"
"$NODE" aggregate -q --format fhir --period 2023 --input "$W/fhirlocal" -c "$W/maps.ini" --out "$W/local.csv" \
    || bad "aggregate fhir with local codes"
cmp -s "$W/extract.csv" "$W/local.csv" && ok "FHIR with local codes and [map.*] gives the extract's cells" \
    || bad "FHIR local codes: $(diff "$W/extract.csv" "$W/local.csv" | head -5)"
"$NODE" profile --format fhir --period 2023 --input "$W/fhirlocal" -c "$W/maps.ini" >"$W/lprof" 2>&1
for rule in "sex  *W  *-> F  *[1-9][0-9]* hits" "ethnicity  *HISP  *-> HISPANIC  *[1-9][0-9]* hits" \
            "language  *ESP  *-> spa  *[1-9][0-9]* hits" "payer  *Medi-Cal  *-> MEDICAID  *[1-9][0-9]* hits"; do
    grep -q "$rule" "$W/lprof" && ok "profile: ${rule%% *} rule hits counted" \
        || bad "profile lacks \"$rule\": $(grep -A8 'Code maps' "$W/lprof")"
done
grep -q "values neither standard nor mapped" "$W/lprof" \
    && bad "misses with every local code mapped: $(grep 'neither' "$W/lprof")" || ok "no misses with the maps"
"$NODE" aggregate -q --format fhir --period 2023 --input "$W/fhirlocal" -c "$W/ccc.ini" --out "$W/nomaps.csv" \
    || bad "aggregate fhir local codes without maps"
cmp -s "$W/extract.csv" "$W/nomaps.csv" && bad "local codes without maps still give the extract's cells" \
    || ok "without the maps the cells differ"
"$NODE" profile --format fhir --period 2023 --input "$W/fhirlocal" -c "$W/ccc.ini" >"$W/nprof" 2>&1
grep -q "sex  *[1-9][0-9]* values neither standard nor mapped" "$W/nprof" \
    && grep -q "ethnicity  *[1-9][0-9]* values neither standard nor mapped" "$W/nprof" \
    && ok "unmapped local sex and ethnicity codes counted as misses" \
    || bad "misses: $(grep -A8 'Code maps' "$W/nprof")"
# A rule whose target is not a standard code: the configuration's file:line.
printf '[map.payer]\nMedi-Cal = MEDICAL\n' >"$W/badmap.ini"
"$NODE" aggregate -q --format fhir --period 2023 --input "$W/fhirlocal" -c "$W/badmap.ini" --out "$W/bm.csv" 2>"$W/err"
[ $? -ne 0 ] && grep -q "badmap.ini:2:" "$W/err" && grep -q "not a standard code" "$W/err" && [ ! -e "$W/bm.csv" ] \
    && ok "a rule with a bad target is refused with file:line" || bad "bad target: $(cat "$W/err")"

# cmc = ccc on an extract is refused.
"$NODE" aggregate -q --input "$W/x.csv" -c "$W/ccc.ini" --out "$W/r.csv" 2>"$W/err"
[ $? -eq 1 ] && grep -q "cmc = ccc needs a source with diagnoses" "$W/err" && ok "cmc = ccc refused for an extract" \
    || bad "cmc = ccc on an extract: $(cat "$W/err")"
echo "1..$n"
[ "$failures" -eq 0 ]
