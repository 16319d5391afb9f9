#!/bin/bash
# it_coordinator_unit.sh BUILD_DIR SOURCE_DIR - configs/equity-coordinator.service
# stays hardened: `systemd-analyze security` (offline) rates its exposure at
# 2.0 or below; it sets LimitNOFILE and a SIGHUP reload; its Documentation=
# names a file the repository ships (no man page that does not exist); the
# commands it runs are ones equity-coordinator accepts.
set -u
BUILD=${1:?usage: it_coordinator_unit.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: it_coordinator_unit.sh BUILD_DIR SOURCE_DIR}
UNIT=$SRC/configs/equity-coordinator.service
if ! command -v systemd-analyze >/dev/null; then
    echo "SKIP: no systemd-analyze"
    exit 77
fi
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cp "$UNIT" "$W/"
(cd "$W" && systemd-analyze security --offline=yes equity-coordinator.service) >"$W/out" 2>&1
level=$(sed -n 's/.*Overall exposure level for equity-coordinator.service: \([0-9.]*\).*/\1/p' "$W/out")
[ -n "$level" ] || { echo "FAIL: no exposure level: $(tail -3 "$W/out")"; exit 1; }
awk -v l="$level" 'BEGIN{exit !(l <= 2.0)}' || { echo "FAIL: exposure $level > 2.0"; grep '✗' "$W/out"; exit 1; }
grep -q '^LimitNOFILE=[0-9]' "$UNIT" || { echo "FAIL: no LimitNOFILE"; exit 1; }
grep -q '^ExecReload=.*-HUP' "$UNIT" || { echo "FAIL: no SIGHUP reload"; exit 1; }
grep -q '^Documentation=man:' "$UNIT" && { echo "FAIL: Documentation= names a man page (none is shipped)"; exit 1; }
doc=$(sed -n 's|^Documentation=file:/usr/local/share/doc/equity/||p' "$UNIT")
[ -n "$doc" ] && [ -f "$SRC/docs/$doc" ] || { echo "FAIL: Documentation= file docs/$doc is not in the repository"; exit 1; }
# ExecStartPre's options are real: check-config of a config that does not
# exist fails with the file named, not with a usage error.
pre=$(sed -n 's/^ExecStartPre=[^ ]*equity-coordinator //p' "$UNIT" | sed "s|/etc/equity/coordinator.ini|$W/none.ini|")
"$BUILD/bin/equity-coordinator" $pre >"$W/pre.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "none.ini" "$W/pre.out" || { echo "FAIL: ExecStartPre command: exit $rc: $(cat "$W/pre.out")"; exit 1; }
echo "PASS: it_coordinator_unit (exposure $level)"
