#!/usr/bin/env bash
# jumpgate-client (headless, two paths: two source addresses in the client namespace) against
# the real DPDK gateway: handshake + HELLO, sequence-numbered UDP echoes to the inner host
# counted both ways, status ATTACHED with both paths; then the active path's address is
# blackholed (nftables in the client namespace) and the client switches to the other path
# with an explicit REATTACH the gateway validates; traffic resumes. Both audit logs: one
# session id throughout, one SessionCreated, a reattach_success switch, audit-check passes.
# usage: client_basic_test.sh JUMPGATE JUMPGATECTL JUMPGATE_CLIENT
JUMPGATE=${1:?usage: client_basic_test.sh JUMPGATE JUMPGATECTL JUMPGATE_CLIENT}
JUMPGATECTL=${2:?}
CLIENT=${3:?}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../gateway/gateway_env.sh"
gw_require_tools
source "$HERE/client_env.sh"

gw_keys gw
gw_keys client
gw_write_config "$(cat "$JG_WORK/client.pub")"
gw_start
client_net_up
t0=$(date +%s.%N)
client_start

wait_status "s['state'] == 'ATTACHED' and s['active_path'] == 'a' and len(s['paths']) == 2" 20 \
  || gw_fail "client not ATTACHED on path a within 20 s"
gw_log "client attached after $(python3 -c "print(round($(date +%s.%N) - $t0, 2))") s"
SID=$(status_json | python3 -c "import json,sys; print(json.load(sys.stdin)['session_id'])")
gw_log "session $SID"

client_traffic_start 20
wait_status "s['app']['received'] >= 50 and all(p['local'] != 'none' for p in s['paths'])" 10 \
  || gw_fail "no echoes through the tunnel"
status_json | python3 -c "
import json, sys
s = json.load(sys.stdin)
print('status:', s['state'], 'active', s['active_path'], 'app', s['app'])
for p in s['paths']:
    print('  path', p['name'], p['local'], 'active' if p['active'] else 'standby', 'rtt_ms', round(p['rtt_ms'], 2), 'loss', p['loss'])
"
"$CLIENT" status --status-socket "$STATUS_SOCK"

gw_log "blackholing path a (192.0.2.2) in the client namespace"
t_block=$(date +%s.%N)
ip netns exec "$NS_C" nft -f - <<NFT
table inet jgc$JG_TAG {
  chain out { type filter hook output priority 0; ip saddr 192.0.2.2 udp dport 51820 drop; }
  chain in { type filter hook input priority 0; ip daddr 192.0.2.2 udp sport 51820 drop; }
}
NFT
wait_status "s['state'] == 'ATTACHED' and s['active_path'] == 'b'" 15 \
  || gw_fail "client did not switch to path b within 15 s"
gw_log "switched to b after $(python3 -c "print(round($(date +%s.%N) - $t_block, 2))") s"
before=$(status_json | python3 -c "import json,sys; print(json.load(sys.stdin)['app']['received'])")
wait_status "s['app']['received'] >= $before + 50" 10 || gw_fail "traffic did not resume on path b"
"$CLIENT" status --status-socket "$STATUS_SOCK"

client_traffic_stop
python3 - "$JG_WORK/traffic.json" "$t_block" <<'PY' || gw_fail "traffic accounting"
import json, sys
d = json.load(open(sys.argv[1]))
sent = {int(k): v for k, v in d["sent"].items()}
recv = {int(k): v for k, v in d["received"].items()}
lost = sorted(set(sent) - set(recv))
times = sorted(recv.values())
gap = max((b - a for a, b in zip(times, times[1:])), default=0.0)
print(f"traffic: {len(sent)} sent, {len(recv)} echoed, {len(lost)} lost, longest silence {gap*1000:.0f} ms")
assert len(recv) >= 100, "too few echoes"
last = max(sent)
tail = [s for s in range(last - 50, last - 10) if s in sent]
missing_tail = [s for s in tail if s not in recv]
assert not missing_tail, f"datagrams after the switch lost: {missing_tail}"
PY

kill -TERM "$CLIENT_PID"
client_rc=0
wait "$CLIENT_PID" || client_rc=$?
CLIENT_PID=""
[ $client_rc -eq 0 ] || gw_fail "client exit code $client_rc after SIGTERM"
gw_stop

gw_audit_assert "
created = of('SessionCreated')
assert len(created) == 1, f'{len(created)} SessionCreated, expected 1'
sid = created[0]['session_id']
assert sid == '$SID', f'gateway session {sid}, client reported $SID'
assert all(e['session_id'] in (sid, '0'*16) for e in ev), 'events for another session'
sw = [e for e in of('TransportSwitch') if e['reason_code'] == 'reattach_success']
assert len(sw) == 1, f'{len(sw)} reattach_success switches, expected 1: {of(\"TransportSwitch\")}'
assert '192.0.2.2' in sw[0]['previous_transport'] and '192.0.2.3' in sw[0]['new_transport'], sw[0]
res = [e for e in of('ReattachResult') if e['status'] == 'SUCCESS']
assert res, 'no ReattachResult SUCCESS'
assert not of('SessionTerminated'), 'session terminated'
print(f'gateway audit: session {sid}, switch {sw[0][\"previous_transport\"]} -> {sw[0][\"new_transport\"]}')
"
GW_AUDIT=$CLIENT_AUDIT gw_audit_assert "
created = of('SessionCreated')
assert len(created) == 1, f'client: {len(created)} SessionCreated'
assert all(e['session_id'] == '$SID' for e in ev), 'client events for another session'
sw = of('TransportSwitch')
assert len(sw) == 1 and sw[0]['reason_code'] == 'reattach_success', sw
assert '192.0.2.3' in sw[0]['new_transport'], sw[0]
states = [(e['previous_state'], e['new_state'], e['reason_code']) for e in of('SessionStateChange')]
assert ('RECOVERING', 'ATTACHED', 'reattach_success') in states, states
print('client audit:', ' | '.join(f'{a}->{b} ({r})' for a, b, r in states))
"
gw_audit_check
"$JUMPGATECTL" audit-check "$CLIENT_AUDIT" || gw_fail "audit-check found violations in the client log"
echo "PASS"
