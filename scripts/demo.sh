#!/usr/bin/env bash
# demo.sh - a whole federation on this machine, with built-in sample data:
#   a certificate authority; a coordinator; three organizations' nodes
#     plan-a    a health plan, a generated member-level extract (300,000 members)
#     plan-b    a second plan, a smaller generated extract with another mix
#     clinic-c  a clinic whose EHR export is the Synthea sample (../shared/data)
#   one reporting round for 2021 (the Synthea sample's year), answered by every
#   node over CURVE-encrypted, mutually authenticated ZeroMQ on loopback; the
#   round is closed, pooled and released, and an analyst queries the results.
# Leaves demo/ laid out as docs/interfaces (ca/, coordinator/, nodes/<org>/,
# analyst/, results/) and stops every process it started.
#
# Usage: bash scripts/demo.sh [--rows N]     (N members for plan-a; default 300000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROWS=300000
while (($#)); do
  case $1 in
    --rows) ROWS=${2:?--rows needs a number}; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\n== %s\n' "$*"; }

say "installing missing Debian packages and building (Release)"
bash scripts/setup.sh
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DEQ_TESTS=OFF >/dev/null
cmake --build build-demo -j"$(nproc)" >/dev/null
BIN=$ROOT/build-demo/bin
SYNTHEA=$ROOT/../shared/data/synthea-ca-50
[[ -d $SYNTHEA ]] || { echo "demo.sh: the Synthea sample $SYNTHEA is missing" >&2; exit 1; }

D=$ROOT/demo
rm -rf "$D"
mkdir -p "$D"/{ca,coordinator/certs,coordinator/enrolled,analyst/certs,results}
chmod 700 "$D"

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_for() { # SECONDS COMMAND...
  local limit=$(($1 * 10)); shift
  for ((i = 0; i < limit; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}

say "certificate authority and identities (demo/ca)"
"$BIN/equity-ca" init --dir "$D/ca" --name "Demo Health Equity Federation CA" >/dev/null
issue() { # role name outdir
  mkdir -p "$3"
  rmdir "$3" 2>/dev/null || true
  "$BIN/equity-ca" issue --dir "$D/ca" --role "$1" --name "$2" --out "$3" >/dev/null
}
issue coordinator "coord:demo-state-agency" "$D/coordinator/certs"
issue analyst "analyst:demo" "$D/analyst/certs"
ORGS=(plan-a plan-b clinic-c)
for org in "${ORGS[@]}"; do
  mkdir -p "$D/nodes/$org"
  issue node "org:demo-$org" "$D/nodes/$org/certs"
  cp "$D/nodes/$org/certs/transport.crt" "$D/coordinator/enrolled/$org.crt"
done
cp "$D/analyst/certs/transport.crt" "$D/coordinator/enrolled/analyst.crt"
echo "CA, coordinator, 3 organizations and 1 analyst issued; keys are mode 0600"

say "sample data"
# --identities yes: the plans' extracts also carry race_source, ethnicity_source,
# sexual_orientation, gender_identity and the HEDIS-style PPC/FUM/CIS flags that
# the federation's catalog (configs/catalog-identities.ini) reads; --race-detail yes:
# and a race_detail column (detailed race and ethnicity, several responses allowed)
"$BIN/equity-gen-extract" --rows "$ROWS" --seed 11 --org-skew 0 --period 2021 \
  --identities yes --race-detail yes --out "$D/nodes/plan-a/extract.csv.gz"
"$BIN/equity-gen-extract" --rows $((ROWS / 4)) --seed 22 --org-skew 0.6 --period 2021 \
  --identities yes --race-detail yes --out "$D/nodes/plan-b/extract.csv"
cp -r "$SYNTHEA" "$D/nodes/clinic-c/synthea"
chmod -R u+w "$D/nodes/clinic-c/synthea"
echo "plan-a: $ROWS members (gzip), plan-b: $((ROWS / 4)) members, clinic-c: Synthea export"

NODE_PORT=$(free_port)
ANALYST_PORT=$(free_port)
cat >"$D/coordinator/coordinator.ini" <<EOF
; The demo coordinator (run by the governmental partner). Paths are relative
; to this folder. Anyone can point a client at node_endpoint to try it.
[coordinator]
; the default catalog with the HEDIS-style measures and the identity stratifiers
; (docs/catalog.md); every node holds the same file
catalog = $ROOT/configs/catalog-identities.ini
node_endpoint = tcp://127.0.0.1:$NODE_PORT
analyst_endpoint = tcp://127.0.0.1:$ANALYST_PORT
poll_ms = 200

[identity]
ca = ../ca/ca.crt
crl = ../ca/ca.crl
transport_cert = certs/transport.crt
transport_key = certs/transport.key
signing_cert = certs/signing.crt
signing_key = certs/signing.key
enrolled_dir = enrolled

[store]
database = coordinator.db
audit_log = audit.log
results_dir = ../results

[round]
measures = all
stratifiers = all
; race*age_std: the age cells of each race that age-standardised rates (dsr) need
; race*race_source, ethnicity*ethnicity_source: self-reported and imputed apart (NCQA);
; race*disability*cmc: a three-way table ([round] max_three_way, default 2), tied to its two-way margins
intersections = race*disability, race*cmc, race*payer, race*age_band, race*age_std, payer*language, ethnicity*language, race*race_source, ethnicity*ethnicity_source, race*disability*cmc
k = 11
min_orgs = 2
deadline_days = 1
per_org_to_analysts = yes
agreement = Demo data-use agreement: pooled, suppressed results; per-organization figures to analysts
EOF
# Metric parameters of every round (docs/metrics.md): unit costs turn excess
# events into dollars in the report's cost of the gap.
cat >"$D/results/params.ini" <<EOF
[metrics]
mssp_scaler = 1
standard_population = us2000_11
[unit_cost]
ed_rate = 1150
ip_rate = 14000
readmit_30d = 15000
no_show = 150
EOF

for org in "${ORGS[@]}"; do
  case $org in
    clinic-c) input="path = synthea"$'\n'"format = synthea" ;;
    plan-a) input="path = extract.csv.gz"$'\n'"format = extract" ;;
    *) input="path = extract.csv"$'\n'"format = extract" ;;
  esac
  cat >"$D/nodes/$org/node.ini" <<EOF
; Node of org:demo-$org. Paths are relative to this folder.
[node]
org = org:demo-$org
k = 11
catalog = $ROOT/configs/catalog-identities.ini

[input]
$input
period = 2021

[policy]
min_k = 11
approval = auto

[coordinator]
endpoint = tcp://127.0.0.1:$NODE_PORT
certificate = ../../coordinator/certs/transport.crt
poll_seconds = 1

[identity]
ca = ../../ca/ca.crt
crl = ../../ca/ca.crl
transport_cert = certs/transport.crt
transport_key = certs/transport.key
signing_cert = certs/signing.crt
signing_key = certs/signing.key

[store]
dir = submissions
EOF
  mkdir -p "$D/nodes/$org/submissions"
  chmod 700 "$D/nodes/$org/submissions"
done

cat >"$D/analyst/analyst.ini" <<EOF
; The demo analyst's client settings (equity-query).
[analyst]
endpoint = tcp://127.0.0.1:$ANALYST_PORT
coordinator_cert = ../coordinator/certs/transport.crt
transport_cert = certs/transport.crt
transport_key = certs/transport.key
ca = ../ca/ca.crt
crl = ../ca/ca.crl
EOF

say "checking every configuration"
(cd "$D/coordinator" && "$BIN/equity-coordinator" check-config --config coordinator.ini >/dev/null)
for org in "${ORGS[@]}"; do
  (cd "$D/nodes/$org" && "$BIN/equity-node" check-config --config node.ini >/dev/null)
done
echo "ok"

say "starting the coordinator on tcp://127.0.0.1:$NODE_PORT (nodes) and :$ANALYST_PORT (analysts)"
(cd "$D/coordinator" && exec "$BIN/equity-coordinator" run --config coordinator.ini) \
  >"$D/coordinator/coordinator.log" 2>&1 &
PIDS+=($!)
wait_for 20 grep -q "serving nodes on" "$D/coordinator/coordinator.log" ||
  { tail "$D/coordinator/coordinator.log"; echo "demo.sh: the coordinator did not start" >&2; exit 1; }

ROUND=$(cd "$D/coordinator" && "$BIN/equity-coordinator" round open --config coordinator.ini --period 2021)
echo "round $ROUND is open"

say "starting the three nodes (each computes on its own data and sends only suppressed cells)"
for org in "${ORGS[@]}"; do
  (cd "$D/nodes/$org" && exec "$BIN/equity-node" run --config node.ini) >"$D/nodes/$org/node.log" 2>&1 &
  PIDS+=($!)
done

status() { (cd "$D/coordinator" && "$BIN/equity-coordinator" round status --config coordinator.ini --round "$ROUND"); }
all_in() { [[ $(status 2>/dev/null | grep -c ' submitted ') -eq ${#ORGS[@]} ]]; }
if ! wait_for 300 all_in; then
  status || true
  for org in "${ORGS[@]}"; do echo "--- $org"; tail -5 "$D/nodes/$org/node.log"; done
  echo "demo.sh: not every node submitted within 5 minutes" >&2
  exit 1
fi
status

say "closing the round: pool, suppress again, compute metrics, release"
(cd "$D/coordinator" && "$BIN/equity-coordinator" round close --config coordinator.ini --round "$ROUND")
(cd "$D/coordinator" && "$BIN/equity-coordinator" audit verify --config coordinator.ini)

say "reports: the round's (coordinator) and each organization's own (on site)"
echo "$D/results/$ROUND/report.html"
REPORTS=("$D/results/$ROUND/report.html")
for org in "${ORGS[@]}"; do
  (cd "$D/nodes/$org" && "$BIN/equity-node" report --config node.ini --round "$ROUND" \
    --pooled "$D/results/$ROUND/pooled.csv" --out "$D/nodes/$org/report-$ROUND.html")
  REPORTS+=("$D/nodes/$org/report-$ROUND.html")
done

say "stopping the nodes and the coordinator"
cleanup
PIDS=()
echo "all stopped"

say "results in demo/results/$ROUND/"
ls -l "$D/results/$ROUND/"
if [[ -x $BIN/equity-query ]]; then
  # The analyst reads the released results through the coordinator's query socket.
  (cd "$D/coordinator" && exec "$BIN/equity-coordinator" run --config coordinator.ini) \
    >>"$D/coordinator/coordinator.log" 2>&1 &
  PIDS+=($!)
  wait_for 20 grep -c "serving nodes on" "$D/coordinator/coordinator.log" >/dev/null
  sleep 0.5
  q() { (cd "$D/analyst" && "$BIN/equity-query" --config analyst.ini --catalog "$ROOT/configs/catalog-identities.ini" "$@"); }
  # headline METRICS... : keeps the table's header and the rows of those metrics
  # (the full tables are in demo/results/).
  headline() {
    local keep=" $1 "
    shift
    q metrics --round "$ROUND" --format table "$@" | awk -v keep="$keep" 'NR <= 2 || index(keep, " " $4 " ")'
  }
  say "ED visits per 1,000 member-years by race, pooled, with 95 % CIs; rate ratio (rr) against the best group"
  headline "estimate rr" --measure ed_rate --stratifier race --reference best
  say "Cost per member per month by payer (USD), relativity to the overall PMPM"
  headline "estimate relativity" --measure cost_pmpm --stratifier payer
  say "Equity benchmark adjustment (ACO REACH-style HEBA, USD per beneficiary per month, and in total)"
  headline "heba_pbpm heba_total" --measure population --stratifier heba_band
  say "Prenatal care (HEDIS-style PPC, from the plans' member-level flags) by race, pooled"
  headline "estimate" --measure ppc_prenatal --stratifier race
  say "Follow-up within 30 days of an ED visit for mental illness (FUM) by gender identity"
  headline "estimate" --measure fum_30d --stratifier gender_identity
  say "Members by sexual orientation and by source of race (self-reported or imputed), pooled"
  headline "estimate" --measure population --stratifier sexual_orientation
  headline "estimate" --measure population --stratifier race_source
  say "Members by detailed race and ethnicity (OMB SPD 15 detailed categories, alone), their group, and alone or in combination, pooled"
  headline "estimate" --measure population --stratifier race_detail
  headline "estimate" --measure population --stratifier race_group
  headline "estimate" --measure population --stratifier race_aic
  echo
  echo "(rows flagged partial pool cells that some organization withheld as too small)"
  q cells --round "$ROUND" --format csv --out "$D/results/pooled-cells-query.csv"
  q metrics --round "$ROUND" --format json --out "$D/results/metrics-query.json"
else
  say "headline figures (from demo/results/$ROUND/metrics.csv)"
  grep -E '^[^,]*,ed_rate,race,' "$D/results/$ROUND/metrics.csv" | head -20 || true
fi
echo
echo "demo/ holds the CA (ca/), the coordinator (coordinator/: config, certificates,"
echo "database, audit log), each organization's node (nodes/<org>/: config, certificates,"
echo "data, kept submission copies), the analyst (analyst/) and the results (results/)."
echo
echo "Reports (self-contained HTML: open them in a browser, from disk or as attachments):"
for r in "${REPORTS[@]}"; do echo "  $r"; done
