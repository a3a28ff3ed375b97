#!/usr/bin/env bash
# The shipped systemd unit is one systemd accepts without a warning, and its ExecStartPre
# (--check-config) passes on a valid configuration and refuses an invalid one, so a bad edit
# stops a restart instead of taking the gateway down.
# usage: systemd_unit_test.sh JUMPGATE UNIT_FILE DEMO_CONFIG
set -euo pipefail
JUMPGATE=${1:?usage: systemd_unit_test.sh JUMPGATE UNIT_FILE DEMO_CONFIG}
UNIT=${2:?}
DEMO=${3:?}
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze missing"; exit 77; }
WORK=$(mktemp -d /tmp/jg-unit.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# The unit names the installed paths; point them at this build and a scratch configuration.
cp "$DEMO" "$WORK/jumpgate.yaml"
sed -e "s#/usr/local/bin/jumpgate#$JUMPGATE#g" -e "s#/etc/jumpgate/jumpgate.yaml#$WORK/jumpgate.yaml#g" \
  "$UNIT" > "$WORK/jumpgate.service"
grep -q "ExecStartPre=$JUMPGATE --check-config $WORK/jumpgate.yaml" "$WORK/jumpgate.service" \
  || { echo "FAIL: the unit has no ExecStartPre=... --check-config line"; exit 1; }
if ! systemd-analyze verify "$WORK/jumpgate.service" > "$WORK/verify.log" 2>&1 \
  || [ -s "$WORK/verify.log" ]; then
  echo "FAIL: systemd-analyze verify:"; cat "$WORK/verify.log"; exit 1
fi
echo "systemd-analyze verify: clean"

# Run ExecStartPre the way systemd would.
pre=$(sed -n 's/^ExecStartPre=//p' "$WORK/jumpgate.service")
$pre > "$WORK/pre.log" 2>&1 || { echo "FAIL: ExecStartPre refused the demo config:"; cat "$WORK/pre.log"; exit 1; }
sed -i 's/^\(\s*\)listen_port:.*/\1listen_port: 70000/' "$WORK/jumpgate.yaml"
grep -q "listen_port: 70000" "$WORK/jumpgate.yaml" || { echo "FAIL: could not break the config"; exit 1; }
if $pre > "$WORK/pre.log" 2>&1; then
  echo "FAIL: ExecStartPre accepted listen_port 70000"; exit 1
fi
grep -q "listen_port" "$WORK/pre.log" || { echo "FAIL: the refusal does not name the field:"; cat "$WORK/pre.log"; exit 1; }
echo "ExecStartPre refuses a broken config: $(head -n 1 "$WORK/pre.log")"
echo PASS
