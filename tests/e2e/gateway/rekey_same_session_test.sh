#!/usr/bin/env bash
# The same stock wireguard-go client (same static key) makes a fresh handshake long before
# REKEY_AFTER_TIME: its peer entry is removed and re-added, so wireguard-go forgets its
# keypairs and initiates again. The gateway rotates keys inside the existing session:
# KeyRotated for the SAME session_id, no second SessionCreated, two accepted handshakes,
# traffic keeps flowing both ways, clean exit, audit-check passes. In between the audit log
# is rotated (moved away, SIGHUP): the gateway keeps running and writes on in a new file, and
# the two files form one valid timeline.
# usage: rekey_same_session_test.sh JUMPGATE [JUMPGATECTL]
JUMPGATE=${1:?usage: rekey_same_session_test.sh JUMPGATE [JUMPGATECTL]}
JUMPGATECTL=${2:-}
source "$(dirname "$0")/gateway_env.sh"
gw_require_tools

gw_log "first handshake"
gw_up_with_stock_client
sleep 2

gw_log "audit log rotated: moved away, then SIGHUP"
mv "$GW_AUDIT" "$GW_AUDIT.1"
kill -HUP "$GW_PID"
sleep 0.5
kill -0 "$GW_PID" 2>/dev/null || gw_fail "the gateway did not survive SIGHUP"

gw_log "peer removed and re-added on the client: wireguard-go starts a fresh handshake"
GWPUB=$(cat "$JG_WORK/gw.pub")
ip netns exec "$NS_C" wg set "$WG_C" peer "$GWPUB" remove
ip netns exec "$NS_C" wg show "$WG_C" peers | grep -q . && gw_fail "peer still present after remove"
ip netns exec "$NS_C" wg set "$WG_C" peer "$GWPUB" endpoint 192.0.2.1:51820 allowed-ips 198.51.100.0/24
[ "$(ip netns exec "$NS_C" wg show "$WG_C" latest-handshakes | awk '{print $2}')" = 0 ] \
  || gw_fail "re-added peer already has a handshake"

gw_ping "$NS_C" 198.51.100.2 5 || { cat "$JG_WORK/ping-last.log"; gw_fail "no ping after the new handshake"; }
grep -E "packets transmitted" "$JG_WORK/ping-last.log"
gw_wait_handshake "$WG_C" 5 || gw_fail "client reports no second handshake"
gw_ping "$NS_H" 10.77.0.2 3 || { cat "$JG_WORK/ping-last.log"; gw_fail "inner host cannot reach the client after the rekey"; }

gw_stop
[ -s "$GW_AUDIT" ] || gw_fail "nothing was written to the reopened audit log"
grep -q '"KeyRotated"' "$GW_AUDIT" || gw_fail "the rekey after the rotation is not in the new audit file"
cat "$GW_AUDIT.1" "$GW_AUDIT" > "$JG_WORK/audit-joined.jsonl"
GW_AUDIT=$JG_WORK/audit-joined.jsonl
line=$(gw_summary_line "control  handshakes")
echo "$line"
[[ "$line" =~ handshakes\ ([0-9]+)\ initiations,\ ([0-9]+)\ accepted ]] || gw_fail "no handshake summary line"
[ "${BASH_REMATCH[2]}" -ge 2 ] || gw_fail "expected at least 2 accepted handshakes, got ${BASH_REMATCH[2]}"
[[ "$line" =~ sessions\ ([0-9]+)\ created ]] && [ "${BASH_REMATCH[1]}" = 1 ] || gw_fail "expected 1 session created"

gw_audit_assert "
created = of('SessionCreated')
assert len(created) == 1, f'{len(created)} SessionCreated, expected 1'
sid = created[0]['session_id']
kr = of('KeyRotated')
assert len(kr) >= 1, 'no KeyRotated'
assert all(k['session_id'] == sid for k in kr), f'KeyRotated for {[k[\"session_id\"] for k in kr]}, session {sid}'
assert all(e['session_id'] == sid for e in ev if 'session_id' in e), 'events for another session'
assert not of('SessionTerminated'), f'session terminated: {of("SessionTerminated")}'
print(f'audit: session {sid}; KeyRotated x{len(kr)} epochs {[k.get(\"key_epoch\") for k in kr]}')
"
gw_audit_check
echo "PASS"
