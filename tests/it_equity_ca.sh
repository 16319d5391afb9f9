#!/usr/bin/env bash
# it_equity_ca.sh - equity-ca and certs/make-federation.sh as an operator
# uses them, checked with the openssl command line (an independent verifier):
# files and modes, roles in the subject, CRL revocation, expired test
# certificates, exit codes 0/1/2.
#   bash tests/it_equity_ca.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
build=${1:?build dir}
src=${2:?source dir}
ca="$build/bin/equity-ca"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fail=1; fi
}
status() { # status EXPECTED COMMAND...: exit status equals EXPECTED
    local want=$1
    shift
    "$@" >/dev/null 2>&1
    [ $? -eq "$want" ]
}
mode() { stat -c %a "$1"; }

[ -x "$ca" ] || { echo "FAIL - $ca not built"; exit 1; }

# --- exit codes and help -----------------------------------------------------
check "--help exits 0 and documents issue" bash -c "'$ca' --help | grep -q 'issue  --dir'"
check "--version exits 0" bash -c "'$ca' --version | grep -q '^equity-ca '"
check "no arguments: usage error 2" status 2 "$ca"
check "unknown command: 2" status 2 "$ca" frobnicate
check "init without --dir: 2" status 2 "$ca" init
check "bad --days: 2" status 2 "$ca" init --dir "$tmp/x" --days abc
check "show of a missing file: 1" status 1 "$ca" show "$tmp/nope.crt"

# --- a federation --------------------------------------------------------------
fed="$tmp/fed"
check "make-federation.sh 3 orgs" env EQUITY_CA="$ca" bash "$src/certs/make-federation.sh" \
    "$fed" 3 org:il-medicaid-plan-a org:clinic-b org:agency-c
check "refuses to replace a federation" status 1 env EQUITY_CA="$ca" \
    bash "$src/certs/make-federation.sh" "$fed" 1
check "make-federation.sh usage: 2" status 2 bash "$src/certs/make-federation.sh" "$tmp/y"

for d in ca/ca.key coordinator/transport.key coordinator/signing.key \
    nodes/il-medicaid-plan-a/transport.key nodes/clinic-b/signing.key analyst/transport.key; do
    check "$d is mode 600" [ "$(mode "$fed/$d")" = 600 ]
done
check "CA certificate readable (644)" [ "$(mode "$fed/ca/ca.crt")" = 644 ]
check "three nodes + analyst enrolled" [ "$(ls "$fed/coordinator/enrolled" | wc -l)" = 4 ]

# openssl agrees that every certificate chains to the CA and is not revoked
verify() { openssl verify -CAfile "$fed/ca/ca.crt" -crl_check -CRLfile "$fed/ca/ca.crl" "$@"; }
check "openssl verifies all issued certificates" status 0 verify "$fed"/nodes/*/transport.crt \
    "$fed"/nodes/*/signing.crt "$fed"/coordinator/*.crt "$fed"/analyst/t*.crt
# the transport certificate's key is X25519, the signing one Ed25519
check "transport key is X25519" bash -c "openssl x509 -in '$fed/nodes/clinic-b/transport.crt' -noout -text | grep -q X25519"
check "signing key is Ed25519" bash -c "openssl x509 -in '$fed/nodes/clinic-b/signing.crt' -noout -text | grep -q 'Public Key Algorithm: ED25519'"
subj=$(openssl x509 -in "$fed/nodes/il-medicaid-plan-a/transport.crt" -noout -subject -nameopt RFC2253)
check "subject has CN=org id and OU=node ($subj)" bash -c "[[ '$subj' == *'CN=org:il-medicaid-plan-a'* && '$subj' == *'OU=node'* ]]"
check "analyst has OU=analyst" bash -c "openssl x509 -in '$fed/analyst/transport.crt' -noout -subject | grep -q 'OU = analyst'"

# show prints the role and the CURVE key as Z85 (40 characters)
show=$("$ca" show "$fed/nodes/clinic-b/transport.crt")
check "show: role node" grep -q '^role *node$' <<<"$show"
check "show: id" grep -q '^id *org:clinic-b$' <<<"$show"
check "show: 40-character Z85 curve key" grep -Eq '^curve-key +.{40}$' <<<"$show"

# --- revocation ----------------------------------------------------------------
check "revoke a node's transport certificate" status 0 "$ca" revoke --dir "$fed/ca" \
    --cert "$fed/nodes/clinic-b/transport.crt"
check "openssl now says revoked" bash -c "! openssl verify -CAfile '$fed/ca/ca.crt' -crl_check -CRLfile '$fed/ca/ca.crl' '$fed/nodes/clinic-b/transport.crt' >/dev/null 2>&1"
check "the others still verify" status 0 verify "$fed/nodes/agency-c/transport.crt"
check "the node's ca.crl link sees the new CRL" bash -c "openssl crl -in '$fed/nodes/agency-c/ca.crl' -noout -text | grep -q 'Revoked Certificates'"
check "crl --days 7 keeps the revocation" status 0 "$ca" crl --dir "$fed/ca" --days 7
check "still revoked after crl" bash -c "! openssl verify -CAfile '$fed/ca/ca.crt' -crl_check -CRLfile '$fed/ca/ca.crl' '$fed/nodes/clinic-b/transport.crt' >/dev/null 2>&1"
check "CRL is world-readable after rewrite" [ "$(mode "$fed/ca/ca.crl")" = 644 ]

# a certificate from another CA cannot be revoked here
"$ca" init --dir "$tmp/other" >/dev/null
"$ca" issue --dir "$tmp/other" --role node --name org:x --out "$tmp/ox" >/dev/null
check "revoking a foreign certificate fails (1)" status 1 "$ca" revoke --dir "$fed/ca" \
    --cert "$tmp/ox/transport.crt"

# --- issue edge cases ------------------------------------------------------------
check "issue with a bad role: 2" status 2 "$ca" issue --dir "$fed/ca" --role admin \
    --name org:z --out "$tmp/z"
check "issue over an existing identity: 1" status 1 "$ca" issue --dir "$fed/ca" \
    --role node --name org:clinic-b --out "$fed/nodes/clinic-b"
check "issue --expired" status 0 "$ca" issue --dir "$fed/ca" --role node --name org:late \
    --out "$tmp/late" --expired
check "openssl says the --expired one has expired" bash -c "openssl verify -CAfile '$fed/ca/ca.crt' '$tmp/late/transport.crt' 2>&1 | grep -q 'certificate has expired'"
check "show says EXPIRED" bash -c "'$ca' show '$tmp/late/signing.crt' | grep -q EXPIRED"
later=$(date -u -d '+30 days' +%Y-%m-%d)
check "issue --not-before in the future" status 0 "$ca" issue --dir "$fed/ca" --role operator \
    --name op:later --out "$tmp/later" --not-before "$later" --days 10
check "openssl says it is not yet valid" bash -c "openssl verify -CAfile '$fed/ca/ca.crt' '$tmp/later/transport.crt' 2>&1 | grep -q 'not yet valid'"
check "a validity beyond the CA's is refused (1)" status 1 "$ca" issue --dir "$fed/ca" \
    --role node --name org:far --out "$tmp/far" --not-before 2199-01-01
check "bad --not-before: 2" status 2 "$ca" issue --dir "$fed/ca" --role node --name org:q \
    --out "$tmp/q" --not-before yesterday
chmod 644 "$fed/ca/ca.key"
check "a group/world-readable CA key is refused (1)" status 1 "$ca" issue --dir "$fed/ca" \
    --role node --name org:w --out "$tmp/w"
check "... with a message naming the mode" bash -c "'$ca' crl --dir '$fed/ca' 2>&1 | grep -q 'mode 0644'"
chmod 600 "$fed/ca/ca.key"

exit $fail
