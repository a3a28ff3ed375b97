#!/usr/bin/env bash
# A stock wireguard-go client's source address moves from 192.0.2.2 to 192.0.2.3 while it
# pings through jumpgate (.3 added, .2 removed, and wireguard-go's pinned source cleared, so
# its packets leave from .3, same port).
# The session survives (same session_id, no second SessionCreated), exactly one audited
# TransportSwitch(legacy_roaming) to 192.0.2.3 on the same port, traffic flows both ways
# afterwards (inside traffic reaches the client at its new address), clean exit, audit-check.
# usage: roaming_address_test.sh JUMPGATE [JUMPGATECTL]
JUMPGATE=${1:?usage: roaming_address_test.sh JUMPGATE [JUMPGATECTL]}
JUMPGATECTL=${2:-}
source "$(dirname "$0")/gateway_env.sh"
gw_require_tools

PORT=41000
gw_up_with_stock_client "$PORT"
sleep 2.5   # past switching.switch_cooldown_ms (1500 ms)

gw_log "background ping, then the client's source address moves to 192.0.2.3"
timeout 30 ip netns exec "$NS_C" ping -c 40 -i 0.2 -W 1 198.51.100.2 > "$JG_WORK/ping-bg.log" 2>&1 &
bg=$!
WG_PIDS+=("$bg")
sleep 2
# The old address goes away, as on a real move: while .2 existed, a reply still in flight
# to it could re-pin wireguard-go's source to .2 after the reset below (it learns the source
# from every packet it receives), and the client never moved at all.
ip netns exec "$NS_C" sysctl -qw "net.ipv4.conf.$TAP_O.promote_secondaries=1"
ip -n "$NS_C" addr add 192.0.2.3/24 dev "$TAP_O"
ip -n "$NS_C" addr del 192.0.2.2/24 dev "$TAP_O"
# wireguard-go pins the source address a peer was last reached on (IP_PKTINFO) and only
# forgets it when the endpoint is set again (or on EINVAL); setting the same endpoint makes
# the kernel choose the source from the route: 192.0.2.3, same port.
ip netns exec "$NS_C" wg set "$WG_C" peer "$(cat "$JG_WORK/gw.pub")" endpoint 192.0.2.1:51820
bg_rc=0
wait "$bg" || bg_rc=$?
grep -E "packets transmitted" "$JG_WORK/ping-bg.log" || true
python3 - "$JG_WORK/ping-bg.log" <<'PY' || gw_fail "background ping lost replies after the address change"
import re, sys
seqs = {int(m.group(1)) for m in re.finditer(r"icmp_seq=(\d+) ttl", open(sys.argv[1]).read())}
missing = sorted(set(range(31, 41)) - seqs)
print(f"background ping: {len(seqs)}/40 replies; replies for seq 31..40 missing: {missing}")
assert not missing
PY

gw_log "pings after the address change"
gw_ping "$NS_C" 198.51.100.2 5 || { cat "$JG_WORK/ping-last.log"; gw_fail "no ping after the address change"; }
grep -E "packets transmitted" "$JG_WORK/ping-last.log"
gw_ping "$NS_H" 10.77.0.2 3 || { cat "$JG_WORK/ping-last.log"; gw_fail "inner host cannot reach the client at its new address"; }

gw_stop
gw_audit_assert "
created = of('SessionCreated')
assert len(created) == 1, f'{len(created)} SessionCreated, expected 1'
sid = created[0]['session_id']
assert '192.0.2.2' in str(created[0]['transport']), f'created on {created[0][\"transport\"]}'
sw = of('TransportSwitch')
assert len(sw) == 1, f'{len(sw)} TransportSwitch, expected exactly 1'
s = sw[0]
assert s['reason_code'] == 'legacy_roaming', s['reason_code']
assert s['session_id'] == sid, f'switch on session {s[\"session_id\"]}, created {sid}'
assert '192.0.2.2' in str(s['previous_transport']), s['previous_transport']
assert '192.0.2.3' in str(s['new_transport']) and '$PORT' in str(s['new_transport']), s['new_transport']
assert all(e['session_id'] == sid for e in ev if 'session_id' in e), 'events for another session'
print(f'audit: session {sid}; TransportSwitch {s[\"previous_transport\"]} -> {s[\"new_transport\"]} ({s[\"reason_code\"]})')
"
gw_audit_check
echo "PASS"
