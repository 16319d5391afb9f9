#!/bin/bash
# run_omop.sh BUILD_DIR SOURCE_DIR [PERSONS] - time the OMOP adapter on a
# generated CDM of PERSONS persons (default 1000000) in a private
# PostgreSQL server (tests/support/pg_lib.sh): wall time of the node's
# whole run (roll-up query in the database, streaming, tally, suppression),
# persons per second, the node's peak RSS, and the server's CPU time is
# left out (it is another process). Prints one line.
set -eu
BUILD=${1:?usage: run_omop.sh BUILD_DIR SOURCE_DIR [PERSONS]}
SRC=${2:?usage: run_omop.sh BUILD_DIR SOURCE_DIR [PERSONS]}
N=${3:-1000000}
GEN=$BUILD/bin/equity-gen-sources
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
W=$(mktemp -d -p "${TMPDIR:-/var/tmp}")
. "$SRC/tests/support/pg_lib.sh"
trap 'pg_stop; rm -rf "$W"' EXIT
PG_OPTS="-c shared_buffers=256MB -c work_mem=64MB -c max_parallel_workers_per_gather=0"
pg_start
t0=$(date +%s)
pg_load_cdm "$N" 1
t1=$(date +%s)
rows=$(cat "$W"/cdm/*.tsv | wc -l)
printf '[input]\nformat = omop\npath = host=127.0.0.1 port=%s dbname=cdm user=reader password=%s\nomop_schema = cdm54\nomop_vocabulary_schema = vocab\ncmc = ccc\n' \
    "$PORT" "$READER_PW" >"$W/omop.ini"
/usr/bin/time -f '%e %M' -o "$W/time" "$BUILD/bin/equity-node" aggregate -q --period 2023 -c "$W/omop.ini" --out "$W/cells.csv"
read -r secs rss <"$W/time"
awk -v n="$N" -v r="$rows" -v s="$secs" -v m="$rss" -v l=$((t1 - t0)) 'BEGIN {
    printf "omop  %d persons, %d CDM rows (generated and loaded in %d s): node run %.2f s, %.0f persons/s, %.0f CDM rows/s, node peak RSS %.1f MB\n",
           n, r, l, s, n / s, r / s, m / 1024 }'
