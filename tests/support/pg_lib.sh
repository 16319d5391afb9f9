# pg_lib.sh - a private PostgreSQL server and a generated OMOP CDM 5.4 in it,
# shared by tests/it_omop.sh and bench/run_omop.sh. Source it after setting
# W (a work folder), GEN (equity-gen-sources) and PGBIN; then:
#   pg_start                    initdb + pg_ctl start on a free port, as
#                               `nobody` when run by root (PostgreSQL
#                               refuses root); sets PORT, SUPER_PW, READER_PW
#   pg_load_cdm PERSONS SEED [GEN-OPTION...]
#                               generates the people (W/cdm, W/truth.csv,
#                               W/fhir.csv, W/fhir) and loads them into
#                               database cdm (schemas cdm54, vocab) with a
#                               read-only role `reader`
#   pg_stop                     immediate shutdown
# The DDL is the CDM 5.4 tables' columns that the node reads, with their
# CDM names and types, plus a few it ignores.

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

RUNAS=()
if [ "$(id -u)" -eq 0 ]; then RUNAS=(runuser -u nobody --); fi

pg_stop() {
    [ -f "$W/pg/postmaster.pid" ] && "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$W/pg" -m immediate stop >/dev/null 2>&1
    return 0
}

pg_start() {
    PORT=$(free_port)
    chmod 755 "$W"
    SUPER_PW=super-$RANDOM$RANDOM
    READER_PW=Rd-s3cret-$RANDOM$RANDOM
    mkdir -p "$W/pg" "$W/sock"
    printf '%s\n' "$SUPER_PW" >"$W/pw"
    [ ${#RUNAS[@]} -gt 0 ] && chown nobody "$W/pg" "$W/sock" "$W/pw"
    if ! "${RUNAS[@]}" "$PGBIN/initdb" -D "$W/pg" -U postgres -A scram-sha-256 --pwfile="$W/pw" \
            --locale=C -E UTF8 >"$W/initdb.log" 2>&1; then
        echo "initdb: $(tail -3 "$W/initdb.log")" >&2
        return 1
    fi
    rm -f "$W/pw"
    if ! "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$W/pg" -l "$W/sock/pg.log" -w -t 60 \
            -o "-p $PORT -k $W/sock -c listen_addresses=127.0.0.1 -c fsync=off ${PG_OPTS:-}" start >/dev/null; then
        echo "pg_ctl start: $(tail -5 "$W/sock/pg.log")" >&2
        return 1
    fi
}

pg_load_cdm() {
    local persons=$1 seed=$2
    shift 2
    "$GEN" --persons "$persons" --seed "$seed" --csv "$W/fhir.csv" --fhir "$W/fhir" --omop "$W/cdm" \
        --omop-csv "$W/truth.csv" "$@" || return 1
    export PGPASSWORD=$SUPER_PW
    local PSQL=(psql -X -q -v ON_ERROR_STOP=1 "host=127.0.0.1 port=$PORT user=postgres dbname=postgres")
{
cat <<SQL
CREATE DATABASE cdm;
\\c cdm
CREATE SCHEMA cdm54;
CREATE SCHEMA vocab;
CREATE TABLE cdm54.person (person_id bigint PRIMARY KEY, gender_concept_id integer NOT NULL,
  year_of_birth integer NOT NULL, month_of_birth integer, day_of_birth integer,
  race_concept_id integer NOT NULL, ethnicity_concept_id integer NOT NULL, location_id bigint,
  race_source_value varchar(50), ethnicity_source_value varchar(50), gender_source_value varchar(50),
  birth_datetime timestamp,
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
    person) cols="person_id, gender_concept_id, year_of_birth, month_of_birth, day_of_birth, race_concept_id, ethnicity_concept_id, location_id, race_source_value, ethnicity_source_value, gender_source_value";;
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
    if ! "${PSQL[@]}" -f "$W/load.sql" >"$W/load.log" 2>&1; then
        echo "loading the CDM: $(tail -5 "$W/load.log")" >&2
        unset PGPASSWORD
        return 1
    fi
    unset PGPASSWORD
}
