#!/usr/bin/env bash
# make-federation.sh - make a demo/test federation's identities with equity-ca:
# a CA, a coordinator, N organizations' nodes and an analyst.
#
#   certs/make-federation.sh DIR N [ID ...]
#
# IDs default to org:demo-1 .. org:demo-N. Layout (as in the demo, see
# docs and interfaces.md):
#   DIR/ca/                 ca.crt, ca.crl, revoked.txt, ca.key (0600; in a real
#                           federation the CA key is kept offline, see README.md)
#   DIR/coordinator/        transport.{crt,key} signing.{crt,key} ca.crt ca.crl
#                           enrolled/<name>.crt  (transport certificates of every
#                           node and the analyst: what the ZAP handler accepts)
#   DIR/nodes/<name>/       transport.{crt,key} signing.{crt,key} ca.crt ca.crl
#                           coordinator.crt (the coordinator's transport
#                           certificate: the node pins its CURVE key)
#   DIR/analyst/            same as a node, role analyst
# <name> is the ID without its "org:" prefix, other ':' replaced by '-'.
# ca.crl in the party folders is a symbolic link to DIR/ca/ca.crl, so a
# revocation (equity-ca revoke --dir DIR/ca --cert ...) reaches everyone.
#
# equity-ca is taken from $EQUITY_CA, else build/bin/equity-ca next to this
# script's folder, else PATH. Exit status: 0 ok, 1 failure, 2 usage.
set -euo pipefail

usage() {
    echo "usage: $0 DIR N [ID ...]   (N organizations, IDs default to org:demo-1..N)" >&2
    exit 2
}
[ $# -ge 2 ] || usage
dir=$1
n=$2
shift 2
case $n in '' | *[!0-9]*) usage ;; esac
[ "$n" -ge 1 ] && [ "$n" -le 1000 ] || usage
if [ $# -ne 0 ] && [ $# -ne "$n" ]; then
    echo "$0: give either no IDs or exactly N=$n IDs" >&2
    exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
ca_bin=${EQUITY_CA:-}
if [ -z "$ca_bin" ]; then
    if [ -x "$here/../build/bin/equity-ca" ]; then
        ca_bin="$here/../build/bin/equity-ca"
    else
        ca_bin=$(command -v equity-ca || true)
    fi
fi
if [ -z "$ca_bin" ] || [ ! -x "$ca_bin" ]; then
    echo "$0: equity-ca not found (build it, or set EQUITY_CA)" >&2
    exit 1
fi
if [ -e "$dir/ca/ca.key" ]; then
    echo "$0: $dir/ca/ca.key exists; refusing to replace a federation" >&2
    exit 1
fi

umask 077
mkdir -p "$dir"
"$ca_bin" init --dir "$dir/ca" --name "Equity Demo Federation CA" >/dev/null

name_of() {
    local id=${1#org:}
    echo "${id//:/-}"
}

# issue ROLE ID OUTDIR CRL_LINK
issue() {
    "$ca_bin" issue --dir "$dir/ca" --role "$1" --name "$2" --out "$3" >/dev/null
    chmod 755 "$3"
    chmod 644 "$3/transport.crt" "$3/signing.crt"
    cp "$dir/ca/ca.crt" "$3/ca.crt"
    chmod 644 "$3/ca.crt"
    ln -sf "$4" "$3/ca.crl"
}

chmod 755 "$dir" "$dir/ca"
chmod 644 "$dir/ca/ca.crt" "$dir/ca/ca.crl"
issue coordinator coordinator:demo "$dir/coordinator" ../ca/ca.crl
mkdir -p "$dir/coordinator/enrolled" "$dir/nodes"
chmod 755 "$dir/coordinator/enrolled" "$dir/nodes"

ids=("$@")
if [ ${#ids[@]} -eq 0 ]; then
    for i in $(seq 1 "$n"); do ids+=("org:demo-$i"); done
fi
for id in "${ids[@]}"; do
    name=$(name_of "$id")
    out="$dir/nodes/$name"
    issue node "$id" "$out" ../../ca/ca.crl
    cp "$dir/coordinator/transport.crt" "$out/coordinator.crt"
    cp "$out/transport.crt" "$dir/coordinator/enrolled/$name.crt"
done
issue analyst analyst:demo "$dir/analyst" ../ca/ca.crl
cp "$dir/coordinator/transport.crt" "$dir/analyst/coordinator.crt"
cp "$dir/analyst/transport.crt" "$dir/coordinator/enrolled/analyst-demo.crt"
chmod 644 "$dir"/coordinator/enrolled/*.crt "$dir"/nodes/*/coordinator.crt \
    "$dir/analyst/coordinator.crt"

echo "federation in $dir: CA, coordinator, ${#ids[@]} nodes (${ids[*]}), analyst"
