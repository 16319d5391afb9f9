# it_lib.sh - shared by the federation integration scripts (tests/it_*.sh):
# a private work folder $W, processes to stop in PIDS, and small helpers.
# Source it after setting BIN; pass the programs the script needs:
#   . "$SRC/tests/support/it_lib.sh" equity-ca equity-coordinator ...
# A missing program makes the script exit 77 (skipped).
for p in "$@"; do
    if [ ! -x "$BIN/$p" ]; then
        echo "SKIP: $BIN/$p not built"
        exit 77
    fi
done

W=$(mktemp -d)
chmod 700 "$W"
PIDS=()

# Stops every process in PIDS (TERM, then KILL) and removes $W unless KEEP=1.
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    sleep 0.3
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [ "${KEEP:-0}" = 1 ]; then
        echo "kept $W"
    else
        rm -rf "$W"
    fi
}
trap cleanup EXIT

# fail MESSAGE: prints it and the end of every log in $W, then exits 1.
fail() {
    echo "FAIL: $*"
    for f in "$W"/*.log; do
        [ -f "$f" ] || continue
        echo "---- $(basename "$f") (last 25 lines)"
        tail -n 25 "$f"
    done
    exit 1
}

# wait_for SECONDS COMMAND...: polls every 0.1 s until COMMAND succeeds.
wait_for() {
    local limit=$(($1 * 10))
    shift
    for ((i = 0; i < limit; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# free_port: a TCP port on 127.0.0.1 that is free now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# coordinator_ini FILE NODE_ENDPOINT ANALYST_ENDPOINT: writes the
# [coordinator], [identity] and [store] sections of a coordinator.ini whose
# files live under $W/coord (identity in $W/coord/id, CA in $CA); the caller
# appends its [round] section.
coordinator_ini() {
    cat >"$1" <<EOF
[coordinator]
node_endpoint = $2
analyst_endpoint = $3
poll_ms = 100
[identity]
ca = $CA/ca.crt
crl = $CA/ca.crl
transport_cert = $W/coord/id/transport.crt
transport_key = $W/coord/id/transport.key
signing_cert = $W/coord/id/signing.crt
signing_key = $W/coord/id/signing.key
enrolled_dir = $W/coord/enrolled
[store]
database = $W/coord/coordinator.db
audit_log = $W/coord/audit.log
results_dir = $W/coord/results
EOF
}

# ca_init NAME: a CA in $CA (set to $W/ca) named NAME.
# issue ROLE CN OUTDIR: an identity of ROLE issued by that CA into OUTDIR.
ca_init() {
    CA=$W/ca
    "$BIN/equity-ca" init --dir "$CA" --name "$1" >/dev/null || fail "equity-ca init"
}
issue() {
    mkdir -p "$(dirname "$3")"
    "$BIN/equity-ca" issue --dir "$CA" --role "$1" --name "$2" --out "$3" >/dev/null ||
        fail "equity-ca issue $1 $2"
}
