#!/usr/bin/env bash
# A stock wireguard-go client changes its UDP source port while pinging through jumpgate:
# the session survives (same session_id, no second SessionCreated), the binding follows in
# exactly one audited TransportSwitch(legacy_roaming) to the new port, pings keep working,
# the gateway exits cleanly and the audit log passes audit-check.
# usage: roaming_port_test.sh JUMPGATE [JUMPGATECTL]
JUMPGATE=${1:?usage: roaming_port_test.sh JUMPGATE [JUMPGATECTL]}
JUMPGATECTL=${2:-}
source "$(dirname "$0")/gateway_env.sh"
gw_require_tools

OLD_PORT=41000
NEW_PORT=41517

gw_log "handshake and ping from port $OLD_PORT"
gw_up_with_stock_client "$OLD_PORT"
# Past switching.switch_cooldown_ms (1500 ms) since the session's binding was set.
sleep 2.5

gw_log "background ping, then the client's listen port moves to $NEW_PORT"
timeout 30 ip netns exec "$NS_C" ping -c 40 -i 0.2 -W 1 198.51.100.2 > "$JG_WORK/ping-bg.log" 2>&1 &
bg=$!
WG_PIDS+=("$bg")
sleep 2
ip netns exec "$NS_C" wg set "$WG_C" listen-port "$NEW_PORT"
[ "$(ip netns exec "$NS_C" wg show "$WG_C" listen-port)" = "$NEW_PORT" ] || gw_fail "listen port did not change"
bg_rc=0
wait "$bg" || bg_rc=$?
grep -E "packets transmitted" "$JG_WORK/ping-bg.log" || true
# Replies must keep arriving after the move: the last 10 sequence numbers (2 s after it) all answered.
python3 - "$JG_WORK/ping-bg.log" <<'PY' || gw_fail "background ping lost replies after the port change"
import re, sys
seqs = {int(m.group(1)) for m in re.finditer(r"icmp_seq=(\d+) ttl", open(sys.argv[1]).read())}
late = set(range(31, 41))
missing = sorted(late - seqs)
print(f"background ping: {len(seqs)}/40 replies; replies for seq 31..40 missing: {missing}")
assert not missing
PY

gw_log "pings after the port change"
gw_ping "$NS_C" 198.51.100.2 5 || { cat "$JG_WORK/ping-last.log"; gw_fail "no ping after the port change"; }
grep -E "packets transmitted" "$JG_WORK/ping-last.log"
gw_ping "$NS_H" 10.77.0.2 3 || { cat "$JG_WORK/ping-last.log"; gw_fail "inner host cannot reach the client after roaming"; }

gw_stop
gw_audit_assert "
created = of('SessionCreated')
assert len(created) == 1, f'{len(created)} SessionCreated, expected 1'
sid = created[0]['session_id']
assert len(sid) == 16 and all(c in '0123456789abcdef' for c in sid.lower()), f'session_id {sid!r}'
assert '$OLD_PORT' in str(created[0]['transport']), f'created on {created[0][\"transport\"]}'
sw = of('TransportSwitch')
assert len(sw) == 1, f'{len(sw)} TransportSwitch, expected exactly 1'
s = sw[0]
assert s['reason_code'] == 'legacy_roaming', s['reason_code']
assert s['session_id'] == sid, f'switch on session {s[\"session_id\"]}, created {sid}'
assert '$OLD_PORT' in str(s['previous_transport']), s['previous_transport']
assert '$NEW_PORT' in str(s['new_transport']) and '192.0.2.2' in str(s['new_transport']), s['new_transport']
assert all(e['session_id'] == sid for e in ev if 'session_id' in e), 'events for another session'
print(f'audit: session {sid}; TransportSwitch {s[\"previous_transport\"]} -> {s[\"new_transport\"]} ({s[\"reason_code\"]})')
"
gw_audit_check
echo "PASS"
