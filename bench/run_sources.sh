#!/bin/bash
# run_sources.sh BUILD_DIR [PERSONS] - time the FHIR Bulk Data reader on a
# generated export of PERSONS patients (default 100000): wall time, lines
# (resources) per second, patients per second and the node's peak RSS, for
# plain and gzip NDJSON. Prints one line per run.
set -eu
BUILD=${1:?usage: run_sources.sh BUILD_DIR [PERSONS]}
N=${2:-100000}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
printf '[input]\ncmc = ccc\n' >"$W/ccc.ini"
"$BUILD/bin/equity-gen-sources" --persons "$N" --seed 1 --csv "$W/x.csv" --fhir "$W/plain"
"$BUILD/bin/equity-gen-sources" --persons "$N" --seed 1 --csv "$W/x.csv" --fhir "$W/gz" --gzip
lines=$(cat "$W"/plain/*.ndjson | wc -l)
bytes=$(du -sb "$W/plain" | cut -f1)
for kind in plain gz; do
    /usr/bin/time -f '%e %M' -o "$W/time" "$BUILD/bin/equity-node" aggregate -q --format fhir --period 2023 \
        --input "$W/$kind" -c "$W/ccc.ini" --out "$W/$kind.csv"
    read -r secs rss <"$W/time"
    awk -v k="$kind" -v n="$N" -v l="$lines" -v b="$bytes" -v s="$secs" -v r="$rss" 'BEGIN {
        printf "fhir %-5s %d patients, %d resources (%.0f MB plain): %.2f s, %.0f resources/s, %.0f patients/s, peak RSS %.1f MB\n",
               k, n, l, b / 1e6, s, l / s, n / s, r / 1024 }'
done
