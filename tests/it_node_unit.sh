#!/bin/bash
# it_node_unit.sh BUILD_DIR SOURCE_DIR - configs/equity-node.service stays
# hardened: `systemd-analyze security` (offline) rates its exposure at 2.0
# or below, and the commands it runs are ones equity-node accepts.
set -u
BUILD=${1:?usage: it_node_unit.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: it_node_unit.sh BUILD_DIR SOURCE_DIR}
UNIT=$SRC/configs/equity-node.service
if ! command -v systemd-analyze >/dev/null; then
    echo "SKIP: no systemd-analyze"
    exit 77
fi
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cp "$UNIT" "$W/"
(cd "$W" && systemd-analyze security --offline=yes equity-node.service) >"$W/out" 2>&1
level=$(sed -n 's/.*Overall exposure level for equity-node.service: \([0-9.]*\).*/\1/p' "$W/out")
[ -n "$level" ] || { echo "FAIL: no exposure level: $(tail -3 "$W/out")"; exit 1; }
awk -v l="$level" 'BEGIN{exit !(l <= 2.0)}' || { echo "FAIL: exposure $level > 2.0"; grep '✗' "$W/out"; exit 1; }
# ExecStartPre's options are real: check-config --quiet of a config that
# does not exist fails with the file named, not with a usage error.
pre=$(sed -n 's/^ExecStartPre=[^ ]*equity-node //p' "$UNIT" | sed "s|/etc/equity/node.ini|$W/none.ini|")
"$BUILD/bin/equity-node" $pre >"$W/pre.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "none.ini" "$W/pre.out" || { echo "FAIL: ExecStartPre command: exit $rc: $(cat "$W/pre.out")"; exit 1; }
echo "PASS: it_node_unit (exposure $level)"
