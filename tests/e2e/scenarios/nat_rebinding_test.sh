#!/usr/bin/env bash
# Scenario 3, NAT rebinding: relay A moves its upstream socket to a new source port, as a NAT
# does when its mapping expires; the client cannot see it. The gateway notices authenticated
# packets from the new address, validates it with a PATH_CHALLENGE the client answers, and
# moves the binding; the session, its id and the client's own state are untouched.
# usage: nat_rebinding_test.sh JUMPGATE JUMPGATECTL JUMPGATE_CLIENT JUMPGATE_RELAY
source "$(dirname "$0")/scenario_env.sh" "$@" nat-rebinding

scen_start
scen_stream_start 10
sleep 1
old_src=$(scen_relay A stats | python3 -c "import json,sys; print(json.load(sys.stdin)['upstream_source'])")
t_rebind=$(now_s)
scen_relay A rebind-port > /dev/null
new_src=$(scen_relay A stats | python3 -c "import json,sys; print(json.load(sys.stdin)['upstream_source'])")
[ "$old_src" != "$new_src" ] || gw_fail "relay A kept its source $old_src"
gw_log "relay A source $old_src -> $new_src"
scen_wait_audit gw "any(e['new_transport'] == '$new_src' for e in of('TransportSwitch'))" 10 \
  || gw_fail "the gateway did not move the binding to $new_src within 10 s"
moved_ms=$(elapsed_ms "$t_rebind")
scen_wait_flowing 5 || gw_fail "traffic did not flow after the rebinding"
live=$(scen_gw_session)
sleep 0.5
scen_stream_stop
traffic=$(python3 "$SCEN_TOOL" measure "$STREAM_JSON" "$t_rebind")
gw_log "traffic: $traffic"
answered=$(status_json | python3 -c "import json,sys; print(json.load(sys.stdin)['path_challenges_answered'])")
[ "$answered" -ge 1 ] || gw_fail "the client answered no path challenge"
python3 -c "
import json, sys
s = json.loads(sys.argv[1])
assert s['transport'] == '$new_src', s
assert s['state'] == 'ATTACHED', s
" "$live" || gw_fail "gateway session after the rebinding: $live"
scen_finish

scen_audit gw "
assert seq() == ['BIRTH>ATTACHED:handshake_ok', 'ATTACHED>VOLATILE:address_change_observed',
                 'VOLATILE>RECOVERING:path_validation_started',
                 'RECOVERING>ATTACHED:reattach_success'], seq()
sw = of('TransportSwitch')
assert len(sw) == 1, sw
assert (sw[0]['previous_transport'], sw[0]['new_transport'], sw[0]['reason_code']) == \
    ('$old_src', '$new_src', 'address_change_observed'), sw[0]
att = of('ReattachAttempt')
assert len(att) == 1 and att[0]['candidate_transport'] == '$new_src', att
assert not of('ReattachResult'), 'a REATTACH exchange for a rebinding the client never saw'
assert not of('SessionTerminated') and not of('SecurityEvent')
"
# The client sent from the same local address all along: its machine has nothing to switch.
scen_audit client "
assert not of('TransportSwitch'), of('TransportSwitch')
assert not of('SessionTerminated')
assert 'ATTACHED>RECOVERING' not in ' '.join(seq()), seq()
"
client_seq=$(python3 -c "
import json
print(json.dumps([f\"{e['previous_state']}>{e['new_state']}:{e['reason_code']}\" for e in map(json.loads, open('$CLIENT_AUDIT')) if e['event_type'] == 'SessionStateChange']))")
scen_result "binding_moved_ms=$moved_ms" "path_challenges_answered=$answered" \
  "traffic=$traffic" "client_transitions=$client_seq" "session_resets=0"
echo PASS
