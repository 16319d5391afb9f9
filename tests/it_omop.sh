#!/bin/bash
# it_omop.sh BUILD_DIR SOURCE_DIR - the node reading an OMOP CDM 5.4 from a
# real PostgreSQL server that this test starts itself (initdb + pg_ctl in a
# temporary folder, on a free port, as an unprivileged user: as `nobody`
# when run by root). equity-gen-sources writes a few thousand generated
# persons as CDM tables and the extract those persons must give; the
# node's cells from the CDM must equal the extract's. Also: a read-only
# role is enough, the password appears in no output, missing tables make
# measures not available (never zero), a bad connection fails cleanly.
set -u
BUILD=${1:?usage: it_omop.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: it_omop.sh BUILD_DIR SOURCE_DIR}
NODE=$BUILD/bin/equity-node
GEN=$BUILD/bin/equity-gen-sources
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
if [ ! -x "$PGBIN/initdb" ]; then
    echo "not ok 1 - PostgreSQL server binaries not found (scripts/setup.sh installs postgresql)"
    exit 1
fi
W=$(mktemp -d)
chmod 755 "$W"
RUNAS=()
if [ "$(id -u)" -eq 0 ]; then RUNAS=(runuser -u nobody --); fi
PORT=$(free_port)
stop_pg() { [ -f "$W/pg/postmaster.pid" ] && "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$W/pg" -m immediate stop >/dev/null 2>&1; rm -rf "$W"; }
trap stop_pg EXIT
n=0
failures=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
bad() { n=$((n + 1)); failures=$((failures + 1)); echo "not ok $n - $*"; }

SUPER_PW=super-$RANDOM$RANDOM
READER_PW=Rd-s3cret-$RANDOM$RANDOM
mkdir -p "$W/pg" "$W/sock"
printf '%s\n' "$SUPER_PW" >"$W/pw"
[ ${#RUNAS[@]} -gt 0 ] && chown nobody "$W/pg" "$W/sock" "$W/pw"
if ! "${RUNAS[@]}" "$PGBIN/initdb" -D "$W/pg" -U postgres -A scram-sha-256 --pwfile="$W/pw" \
        --locale=C -E UTF8 >"$W/initdb.log" 2>&1; then
    echo "not ok 1 - initdb: $(tail -3 "$W/initdb.log")"
    exit 1
fi
rm -f "$W/pw"
if ! "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$W/pg" -l "$W/sock/pg.log" -w -t 60 \
        -o "-p $PORT -k $W/sock -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null; then
    echo "not ok 1 - pg_ctl start: $(tail -5 "$W/sock/pg.log")"
    exit 1
fi
ok "PostgreSQL started as $(stat -c %U "$W/pg") on port $PORT"
export PGPASSWORD=$SUPER_PW
PSQL=(psql -X -q -v ON_ERROR_STOP=1 "host=127.0.0.1 port=$PORT user=postgres dbname=postgres")

"$GEN" --persons 3000 --seed 23 --csv "$W/fhir.csv" --fhir "$W/fhir" --omop "$W/cdm" --omop-csv "$W/truth.csv" \
    || bad "generate"
{
cat <<SQL
CREATE DATABASE cdm;
\\c cdm
CREATE SCHEMA cdm54;
CREATE SCHEMA vocab;
CREATE TABLE cdm54.person (person_id bigint PRIMARY KEY, gender_concept_id integer NOT NULL,
  year_of_birth integer NOT NULL, month_of_birth integer, day_of_birth integer,
  race_concept_id integer NOT NULL, ethnicity_concept_id integer NOT NULL, location_id bigint,
  race_source_value varchar(50), ethnicity_source_value varchar(50), birth_datetime timestamp,
  provider_id bigint, care_site_id bigint, person_source_value varchar(50));
CREATE TABLE cdm54.location (location_id bigint PRIMARY KEY, county varchar(20), address_1 varchar(50),
  city varchar(50), state varchar(2), zip varchar(9));
CREATE TABLE cdm54.death (person_id bigint NOT NULL, death_date date NOT NULL, death_datetime timestamp);
CREATE TABLE cdm54.observation_period (observation_period_id bigint PRIMARY KEY, person_id bigint NOT NULL,
  observation_period_start_date date NOT NULL, observation_period_end_date date NOT NULL,
  period_type_concept_id integer NOT NULL DEFAULT 32817);
CREATE TABLE cdm54.payer_plan_period (payer_plan_period_id bigint PRIMARY KEY, person_id bigint NOT NULL,
  payer_plan_period_start_date date NOT NULL, payer_plan_period_end_date date NOT NULL,
  payer_concept_id integer, payer_source_value varchar(50), plan_source_value varchar(50));
CREATE TABLE cdm54.visit_occurrence (visit_occurrence_id bigint PRIMARY KEY, person_id bigint NOT NULL,
  visit_concept_id integer NOT NULL, visit_start_date date NOT NULL, visit_start_datetime timestamp,
  visit_end_date date NOT NULL, visit_end_datetime timestamp, visit_type_concept_id integer NOT NULL DEFAULT 32817,
  visit_source_value varchar(50));
CREATE TABLE cdm54.procedure_occurrence (procedure_occurrence_id bigint PRIMARY KEY, person_id bigint NOT NULL,
  procedure_source_value varchar(50), visit_occurrence_id bigint, procedure_concept_id integer NOT NULL DEFAULT 0,
  procedure_date date);
CREATE TABLE cdm54.cost (cost_id bigint PRIMARY KEY, cost_event_id bigint NOT NULL, cost_domain_id varchar(20) NOT NULL,
  total_charge numeric, amount_allowed numeric, total_cost numeric, total_paid numeric);
CREATE TABLE cdm54.condition_occurrence (condition_occurrence_id bigint PRIMARY KEY, person_id bigint NOT NULL,
  condition_concept_id integer NOT NULL, condition_start_date date NOT NULL, condition_end_date date,
  condition_source_value varchar(50), condition_source_concept_id integer);
CREATE TABLE cdm54.measurement (measurement_id bigint PRIMARY KEY, person_id bigint NOT NULL,
  measurement_concept_id integer NOT NULL, measurement_date date NOT NULL, measurement_datetime timestamp,
  value_as_number numeric, measurement_source_value varchar(50));
CREATE TABLE cdm54.observation (observation_id bigint PRIMARY KEY, person_id bigint NOT NULL,
  observation_concept_id integer NOT NULL, observation_date date NOT NULL, observation_datetime timestamp,
  value_as_string varchar(60), value_as_concept_id integer, observation_source_value varchar(50));
CREATE TABLE vocab.concept (concept_id integer PRIMARY KEY, concept_name varchar(255) NOT NULL,
  vocabulary_id varchar(20) NOT NULL, concept_code varchar(50) NOT NULL);
CREATE TABLE vocab.concept_ancestor (ancestor_concept_id integer NOT NULL, descendant_concept_id integer NOT NULL);
SQL
for t in person location death observation_period payer_plan_period visit_occurrence procedure_occurrence cost \
         condition_occurrence measurement observation; do
    case $t in
    person) cols="person_id, gender_concept_id, year_of_birth, month_of_birth, day_of_birth, race_concept_id, ethnicity_concept_id, location_id, race_source_value, ethnicity_source_value";;
    location) cols="location_id, county";;
    death) cols="person_id, death_date";;
    observation_period) cols="observation_period_id, person_id, observation_period_start_date, observation_period_end_date";;
    payer_plan_period) cols="payer_plan_period_id, person_id, payer_plan_period_start_date, payer_plan_period_end_date, payer_concept_id, payer_source_value";;
    visit_occurrence) cols="visit_occurrence_id, person_id, visit_concept_id, visit_start_date, visit_start_datetime, visit_end_date, visit_end_datetime";;
    procedure_occurrence) cols="procedure_occurrence_id, person_id, procedure_source_value, visit_occurrence_id";;
    cost) cols="cost_id, cost_event_id, cost_domain_id, total_charge, amount_allowed";;
    condition_occurrence) cols="condition_occurrence_id, person_id, condition_concept_id, condition_start_date, condition_end_date, condition_source_value, condition_source_concept_id";;
    measurement) cols="measurement_id, person_id, measurement_concept_id, measurement_date, measurement_datetime, value_as_number, measurement_source_value";;
    observation) cols="observation_id, person_id, observation_concept_id, observation_date, observation_datetime, value_as_string, value_as_concept_id, observation_source_value";;
    esac
    echo "\\copy cdm54.$t ($cols) FROM '$W/cdm/$t.tsv'"
done
echo "\\copy vocab.concept (concept_id, concept_name, vocabulary_id, concept_code) FROM '$W/cdm/concept.tsv'"
echo "\\copy vocab.concept_ancestor FROM '$W/cdm/concept_ancestor.tsv'"
cat <<SQL
ANALYZE;
CREATE ROLE reader LOGIN PASSWORD '$READER_PW';
GRANT CONNECT ON DATABASE cdm TO reader;
GRANT USAGE ON SCHEMA cdm54, vocab TO reader;
GRANT SELECT ON ALL TABLES IN SCHEMA cdm54, vocab TO reader;
SQL
} >"$W/load.sql"
if "${PSQL[@]}" -f "$W/load.sql" >"$W/load.log" 2>&1; then
    ok "CDM loaded ($(wc -l <"$W/cdm/person.tsv") persons)"
else
    bad "loading the CDM: $(tail -5 "$W/load.log")"
fi
unset PGPASSWORD

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
"$NODE" check-config -c "$W/omop.ini" >"$W/cc" 2>&1
grep -q "$READER_PW" "$W/cc" && bad "check-config prints the password" || ok "check-config hides the password"
grep -q "omop_schema = cdm54" "$W/cc" && ok "check-config shows omop_schema" || bad "check-config: $(head -20 "$W/cc")"
"$NODE" profile --period 2023 -c "$W/omop.ini" >"$W/prof" 2>&1
grep -q "any category [1-9]" "$W/prof" && ok "CCC categories from condition_occurrence" \
    || bad "CCC: $(grep -A3 'medical complexity' "$W/prof")"

# The reader cannot write: the node's role is read-only and the node asks no more.
PGPASSWORD=$READER_PW psql -X -q "host=127.0.0.1 port=$PORT user=reader dbname=cdm" \
    -c "DELETE FROM cdm54.person" >/dev/null 2>&1 && bad "reader could delete" || ok "the node works with a read-only role"

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
