#!/usr/bin/env bash
# Both paths of a jumpgate-client go dark for 6 s (nftables in the client namespace), well
# inside transport_lost_ttl_ms (15 s): the client keeps its session and keeps trying; when
# path b comes back it reattaches there (gateway-validated), traffic resumes, and neither log
# has a second SessionCreated or any SessionTerminated; audit-check passes on both.
# (The gateway may validate b because of the client's data before its REATTACH_REQUEST.)
# usage: client_all_paths_down_test.sh JUMPGATE JUMPGATECTL JUMPGATE_CLIENT
JUMPGATE=${1:?usage: client_all_paths_down_test.sh JUMPGATE JUMPGATECTL JUMPGATE_CLIENT}
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
client_start
wait_status "s['state'] == 'ATTACHED' and s['active_path'] == 'a'" 20 \
  || gw_fail "client not ATTACHED on path a within 20 s"
SID=$(status_json | python3 -c "import json,sys; print(json.load(sys.stdin)['session_id'])")
client_traffic_start 50
wait_status "s['app']['received'] >= 20" 10 || gw_fail "no echoes through the tunnel"

gw_log "both paths dark"
ip netns exec "$NS_C" nft -f - <<NFT
table inet jgc$JG_TAG {
  chain out { type filter hook output priority 0; udp dport 51820 drop; }
  chain in { type filter hook input priority 0; udp sport 51820 drop; }
}
NFT
sleep 6
kill -0 "$CLIENT_PID" 2>/dev/null || gw_fail "client exited while both paths were down"
status_json | python3 -c "
import json, sys
s = json.load(sys.stdin)
print('while dark:', s['state'], 'session', s['session_id'], 'reattach', s['reattach'])
assert s['state'] in ('VOLATILE', 'RECOVERING', 'DEGRADED'), s['state']
assert s['session_id'] == '$SID'
" || gw_fail "unexpected status while both paths were dark"

gw_log "path b back"
ip netns exec "$NS_C" nft delete table inet "jgc$JG_TAG"
ip netns exec "$NS_C" nft -f - <<NFT
table inet jgc$JG_TAG {
  chain out { type filter hook output priority 0; ip saddr 192.0.2.2 udp dport 51820 drop; }
  chain in { type filter hook input priority 0; ip daddr 192.0.2.2 udp sport 51820 drop; }
}
NFT
wait_status "s['state'] == 'ATTACHED' and s['active_path'] == 'b'" 15 \
  || gw_fail "client did not reattach on path b within 15 s"
before=$(status_json | python3 -c "import json,sys; print(json.load(sys.stdin)['app']['received'])")
wait_status "s['app']['received'] >= $before + 20" 10 || gw_fail "traffic did not resume on path b"
client_traffic_stop

kill -TERM "$CLIENT_PID"
client_rc=0
wait "$CLIENT_PID" || client_rc=$?
CLIENT_PID=""
[ $client_rc -eq 0 ] || gw_fail "client exit code $client_rc after SIGTERM"
gw_stop

gw_audit_assert "
assert len(of('SessionCreated')) == 1, 'second SessionCreated'
assert not of('SessionTerminated'), of('SessionTerminated')
assert all(e['session_id'] in ('$SID', '0'*16) for e in ev), 'events for another session'
sw = [e for e in of('TransportSwitch') if '192.0.2.3' in e['new_transport']]
# Whichever reaches the gateway first from b moves it there after path validation: the
# REATTACH_REQUEST (reattach_success) or application traffic (address_change_observed).
assert sw and sw[-1]['reason_code'] in ('reattach_success', 'address_change_observed'), of('TransportSwitch')
print('gateway:', ' | '.join(f\"{e['previous_state']}->{e['new_state']} ({e['reason_code']})\" for e in of('SessionStateChange')))
"
GW_AUDIT=$CLIENT_AUDIT gw_audit_assert "
assert len(of('SessionCreated')) == 1 and not of('SessionTerminated')
assert all(e['session_id'] == '$SID' for e in ev)
sw = of('TransportSwitch')
assert len(sw) == 1 and '192.0.2.3' in sw[0]['new_transport'], sw
print('client:', ' | '.join(f\"{e['previous_state']}->{e['new_state']} ({e['reason_code']})\" for e in of('SessionStateChange')))
"
gw_audit_check
"$JUMPGATECTL" audit-check "$CLIENT_AUDIT" || gw_fail "audit-check found violations in the client log"
echo "PASS"
