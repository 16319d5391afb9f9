#!/bin/bash
# it_omop.sh BUILD_DIR SOURCE_DIR - the node reading an OMOP CDM 5.4 from a
# real PostgreSQL server that this test starts itself (initdb + pg_ctl in a
# temporary folder, on a free port, as an unprivileged user: as `nobody`
# when run by root). equity-gen-sources writes a few thousand generated
# persons as CDM tables and the extract those persons must give; the
# node's cells from the CDM must equal the extract's. Also: a read-only
# role is enough, the password appears in no output, missing tables make
# measures not available (never zero), a bad connection fails cleanly;
# local sex, payer and language values are mapped by [map.sex] / [map.payer] /
# [map.language].
set -u
BUILD=${1:?usage: it_omop.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: it_omop.sh BUILD_DIR SOURCE_DIR}
NODE=$BUILD/bin/equity-node
GEN=$BUILD/bin/equity-gen-sources
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
if [ ! -x "$PGBIN/initdb" ]; then
    echo "not ok 1 - PostgreSQL server binaries not found (scripts/setup.sh installs postgresql)"
    exit 1
fi
W=$(mktemp -d)
. "$SRC/tests/support/pg_lib.sh"
trap 'pg_stop; rm -rf "$W"' EXIT
n=0
failures=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
bad() { n=$((n + 1)); failures=$((failures + 1)); echo "not ok $n - $*"; }

if pg_start; then ok "PostgreSQL started as $(stat -c %U "$W/pg") on port $PORT"; else bad "start PostgreSQL"; exit 1; fi
if pg_load_cdm 3000 23 --local-codes; then ok "CDM loaded ($(wc -l <"$W/cdm/person.tsv") persons)"; else bad "load the CDM"; fi

CONN="host=127.0.0.1 port=$PORT dbname=cdm user=reader password=$READER_PW connect_timeout=10"
cat >"$W/omop.ini" <<INI
[input]
format = omop
path = $CONN
omop_schema = cdm54
omop_vocabulary_schema = vocab
cmc = ccc
[map.race]
multiracial = MULTI
Iranian = MENA
declined = DECLINED
unknown = UNKNOWN
other = OTHER
[map.ethnicity]
declined = DECLINED
unknown = UNKNOWN
INI
cp "$W/omop.ini" "$W/nolocal.ini"
# every other person's source uses local sex and payer codes (--local-codes)
cat >>"$W/omop.ini" <<INI
[map.sex]
W = F
[map.payer]
Medi-Cal = MEDICAID
[map.language]
Espanol = spa
INI
grep -v "^cmc\|^format\|^path\|^omop" "$W/omop.ini" >"$W/extract.ini"

"$NODE" aggregate -q --input "$W/truth.csv" --threads 1 -c "$W/extract.ini" --out "$W/truth_cells.csv" \
    || bad "aggregate the truth extract"
"$NODE" aggregate --period 2023 -c "$W/omop.ini" --out "$W/omop_cells.csv" >"$W/out" 2>"$W/err" \
    && ok "aggregate --format omop" || bad "aggregate --format omop: $(cat "$W/err")"
lines=$(wc -l <"$W/truth_cells.csv")
[ "$lines" -gt 1000 ] && ok "truth gives $lines cell lines" || bad "truth gave $lines lines"
cmp -s "$W/truth_cells.csv" "$W/omop_cells.csv" && ok "OMOP cells equal the truth extract's" \
    || bad "OMOP cells differ: $(diff "$W/truth_cells.csv" "$W/omop_cells.csv" | head -6)"
grep -q "$READER_PW" "$W/out" "$W/err" && bad "the password is in the node's output" || ok "no password in the node's output"
grep -q "password=(hidden)" "$W/err" && ok "the source is logged without its password" || bad "source line: $(head -2 "$W/err")"
# a period without members: refused, and the message names the source without its password
"$NODE" aggregate --period 1900 -c "$W/omop.ini" --out "$W/none.csv" >"$W/out" 2>"$W/err" \
    && bad "aggregate of a period without data succeeded" || ok "a period without data is refused"
grep -q "no data for period 1900" "$W/err" && ok "it says there is no data for the period" \
    || bad "no-data message: $(cat "$W/err")"
grep -q "$READER_PW" "$W/out" "$W/err" && bad "the no-data message prints the password" \
    || ok "the no-data message hides the password"
"$NODE" check-config -c "$W/omop.ini" >"$W/cc" 2>&1
grep -q "$READER_PW" "$W/cc" && bad "check-config prints the password" || ok "check-config hides the password"
grep -q "omop_schema = cdm54" "$W/cc" && ok "check-config shows omop_schema" || bad "check-config: $(head -20 "$W/cc")"
"$NODE" profile --period 2023 -c "$W/omop.ini" >"$W/prof" 2>&1
grep -q "any category [1-9]" "$W/prof" && ok "CCC categories from condition_occurrence" \
    || bad "CCC: $(grep -A3 'medical complexity' "$W/prof")"
# [map.sex] (gender_source_value of concept 0), [map.payer] (payer_source_value
# of concept 0) and [map.language] (the PRAPARE preferred-language answer):
# hits counted; without them those values are misses and the cells differ.
for rule in "sex  *W  *-> F  *[1-9][0-9]* hits" "payer  *Medi-Cal  *-> MEDICAID  *[1-9][0-9]* hits" \
            "language  *Espanol  *-> spa  *[1-9][0-9]* hits" "race  *multiracial  *-> MULTI  *[1-9][0-9]* hits"; do
    grep -q "$rule" "$W/prof" && ok "profile: ${rule%% *} rule hits counted" \
        || bad "profile lacks \"$rule\": $(grep -A10 'Code maps' "$W/prof")"
done
grep -q "values neither standard nor mapped" "$W/prof" \
    && bad "misses with every local code mapped: $(grep 'neither' "$W/prof")" || ok "no misses with the maps"
"$NODE" aggregate -q --period 2023 -c "$W/nolocal.ini" --out "$W/nolocal_cells.csv" 2>"$W/err" \
    || bad "aggregate without the sex and payer maps: $(cat "$W/err")"
cmp -s "$W/truth_cells.csv" "$W/nolocal_cells.csv" && bad "unmapped local sex, payer and language values still give the truth's cells" \
    || ok "without [map.sex], [map.payer] and [map.language] the cells differ"
"$NODE" profile --period 2023 -c "$W/nolocal.ini" >"$W/nprof" 2>&1
grep -q "sex  *[1-9][0-9]* values neither standard nor mapped" "$W/nprof" \
    && ok "unmapped gender_source_value counted as a miss" || bad "sex misses: $(grep -A10 'Code maps' "$W/nprof")"
grep -q "language  *[1-9][0-9]* values neither standard nor mapped" "$W/nprof" \
    && ok "unmapped preferred-language answer counted as a miss" || bad "language misses: $(grep -A10 'Code maps' "$W/nprof")"
grep -q ',language,spa,' "$W/truth_cells.csv" && ok "the truth has Spanish speakers (from the 54899-0 answers)" \
    || bad "no language cells for spa in the truth"

# Detailed race (docs/sources.md): persons in their own schema, concepts of the Race and
# Ethnicity vocabularies; expected cells written here from the concepts' CDC codes.
# (White is the race concept, not a response: White + Mexican is MEXICAN, as for an extract
# row with race WHITE and race_detail MEXICAN.)
PGPASSWORD=$SUPER_PW psql -X -q -v ON_ERROR_STOP=1 "host=127.0.0.1 port=$PORT user=postgres dbname=cdm" <<'SQL' || bad "load the race persons"
CREATE SCHEMA rdx;
CREATE TABLE rdx.person (LIKE cdm54.person INCLUDING DEFAULTS);
CREATE TABLE rdx.observation_period (LIKE cdm54.observation_period INCLUDING DEFAULTS);
INSERT INTO vocab.concept VALUES (38003579, 'Chinese', 'Race', '2034-7'), (38003563, 'Hispanic', 'Ethnicity', 'Hispanic');
INSERT INTO rdx.person (person_id, gender_concept_id, year_of_birth, race_concept_id, ethnicity_concept_id,
  race_source_value, ethnicity_source_value) VALUES
  (1, 8532, 1980, 38003579, 0, 'Chinese;Filipino', NULL), (2, 8532, 1980, 38003579, 0, 'Chinese;Filipino', NULL),
  (3, 8532, 1980, 38003579, 0, NULL, NULL), (4, 8532, 1980, 38003579, 0, NULL, NULL),
  (5, 8532, 1980, 8527, 38003563, NULL, 'Mexican'), (6, 8532, 1980, 8527, 38003563, NULL, 'Mexican');
INSERT INTO rdx.observation_period (observation_period_id, person_id, observation_period_start_date,
  observation_period_end_date) SELECT person_id, person_id, DATE '2023-01-01', DATE '2023-12-31' FROM rdx.person;
GRANT USAGE ON SCHEMA rdx TO reader;
GRANT SELECT ON ALL TABLES IN SCHEMA rdx TO reader;
SQL
printf '[node]\ncatalog = %s\n[input]\nformat = omop\npath = %s\nomop_schema = rdx\nomop_vocabulary_schema = vocab\n[policy]\nmin_k = 2\n' \
    "$SRC/configs/catalog-identities.ini" "$CONN" >"$W/rd.ini"
"$NODE" aggregate -q --period 2023 -c "$W/rd.ini" --k 2 --out "$W/rd_cells.csv" 2>"$W/err" || bad "aggregate race persons: $(cat "$W/err")"
got=$(awk -F, '$3 == "population" && ($4 == "race_detail" || $4 == "race_aic") && $6 > 0 { printf "%s=%s:%s ", $4, $5, $6 }' "$W/rd_cells.csv" 2>/dev/null)
want="race_detail=CHINESE:2 race_detail=MEXICAN:2 race_detail=MULTIPLE:2 race_aic=ASIAN:4 race_aic=HISPANIC:2 race_aic=WHITE:2 "
[ "$got" = "$want" ] && ok "OMOP detailed race concepts and source values give race_detail and race_aic" \
    || bad "OMOP detailed race: got '$got', want '$want'"

# The reader cannot write: the node's role is read-only and the node asks no more.
PGPASSWORD=$READER_PW psql -X -q "host=127.0.0.1 port=$PORT user=reader dbname=cdm" \
    -c "DELETE FROM cdm54.person" >/dev/null 2>&1 && bad "reader could delete" || ok "the node works with a read-only role"

# The comparison can fail: one emergency visit made outpatient changes the cells.
PGPASSWORD=$SUPER_PW psql -X -q "host=127.0.0.1 port=$PORT user=postgres dbname=cdm" -c "UPDATE cdm54.visit_occurrence
    SET visit_concept_id = 9202 WHERE visit_occurrence_id = (SELECT min(visit_occurrence_id) FROM cdm54.visit_occurrence
    WHERE visit_concept_id = 9203 AND visit_start_date >= DATE '2023-01-01')" || bad "update a visit"
"$NODE" aggregate -q --period 2023 -c "$W/omop.ini" --out "$W/changed.csv" 2>"$W/err" || bad "aggregate changed: $(cat "$W/err")"
cmp -s "$W/truth_cells.csv" "$W/changed.csv" && bad "a changed CDM still gives the truth's cells" || ok "a changed CDM gives different cells"

# A missing table: its measures are not available, never zero.
PGPASSWORD=$SUPER_PW psql -X -q "host=127.0.0.1 port=$PORT user=postgres dbname=cdm" \
    -c "ALTER TABLE cdm54.measurement RENAME TO measurement_gone" || bad "rename measurement"
"$NODE" aggregate -q --period 2023 -c "$W/omop.ini" --out "$W/nomeas.csv" 2>"$W/err" || bad "aggregate without measurement: $(cat "$W/err")"
if [ ! -s "$W/nomeas.csv" ] || grep ',diabetes_poor_control,\|,bp_control,' "$W/nomeas.csv" | grep -qv 'not_available'; then
    bad "diabetes_poor_control / bp_control cells without measurement are not all not_available"
else
    ok "without measurement: diabetes_poor_control and bp_control not available"
fi
grep ',ed_rate,total,all,' "$W/nomeas.csv" | grep -q ',0,$' && ok "other measures still released" || bad "ed_rate lost"
grep ',diabetes_poor_control,total,all,' "$W/omop_cells.csv" | grep -q ',0,$' \
    && ok "with measurement: diabetes_poor_control released" || bad "diabetes_poor_control not released with measurement"
PGPASSWORD=$SUPER_PW psql -X -q "host=127.0.0.1 port=$PORT user=postgres dbname=cdm" \
    -c "ALTER TABLE cdm54.observation_period RENAME TO op_gone" || bad "rename observation_period"
"$NODE" aggregate -q --period 2023 -c "$W/omop.ini" --out "$W/noop.csv" 2>"$W/err"
[ $? -eq 1 ] && grep -q "observation_period is missing" "$W/err" && [ ! -e "$W/noop.csv" ] \
    && ok "without observation_period: refused" || bad "without observation_period: $(cat "$W/err")"

# Wrong password and a string that does not parse: clean errors, no password echoed.
"$NODE" aggregate -q --format omop --period 2023 --input "host=127.0.0.1 port=$PORT dbname=cdm user=reader password=wrong-$READER_PW" \
    --out "$W/x.csv" 2>"$W/err"
[ $? -eq 1 ] && grep -q "cannot connect" "$W/err" && ! grep -q "$READER_PW" "$W/err" \
    && ok "wrong password: clean error" || bad "wrong password: $(cat "$W/err")"
"$NODE" aggregate -q --format omop --period 2023 --input "host=127.0.0.1 password='$READER_PW" --out "$W/x.csv" 2>"$W/err"
[ $? -eq 1 ] && grep -q "does not parse" "$W/err" && ! grep -q "$READER_PW" "$W/err" \
    && ok "unparsable connection string: clean error" || bad "bad conninfo: $(cat "$W/err")"
echo "1..$n"
[ "$failures" -eq 0 ]
