#!/usr/bin/env bash
# Scenario 6, replay during reattach: relay B records what the client sends while the client
# moves from a dark path A to B; the captured REATTACH_REQUEST is then replayed to the gateway
# from a third address (192.0.2.4), and a REATTACH-sized transport message sealed with a wrong
# key is sent from there too. Neither may move the binding, change the state or version, or
# get an answer; the replay is counted as a replay drop, the forgery as an authentication
# failure, and the real client keeps going. Both die in the data plane (replay window, AEAD)
# before the control core sees a REATTACH, so the gateway writes no ReattachResult; the control
# core audits them from the slot's counters as SecurityEvents replay_detected and bad_proof.
# usage: replay_reattach_test.sh JUMPGATE JUMPGATECTL JUMPGATE_CLIENT JUMPGATE_RELAY
source "$(dirname "$0")/scenario_env.sh" "$@" replay-reattach
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

scen_start
scen_stream_start 10
scen_relay B record on > /dev/null
sleep 0.5
scen_relay A both blackhole on > /dev/null
scen_wait_status "s['state'] == 'ATTACHED' and s['active_path'] == 'b'" 10 \
  || gw_fail "client not ATTACHED on path b within 10 s"
scen_wait_flowing 5 || gw_fail "traffic did not resume on path b"
# Path B carried nothing before the switch: its first capture is the REATTACH_REQUEST.
first=$(scen_relay B up captures | python3 -c "
import json, sys
c = json.load(sys.stdin)['up']['packets'][0]
assert c['index'] == 0 and c['type'] == 4, c
print(json.dumps(c))") || gw_fail "relay B captured no REATTACH_REQUEST"
gw_log "first capture on B: $first"
scen_audit gw "assert [r['status'] for r in of('ReattachResult')][-1] == 'SUCCESS'"
# The switch itself can leave the session VOLATILE for a moment (packets lost on A show as a
# counter gap on B), and its own recovery must not be taken for the attack's doing: the attack
# starts once the gateway has held ATTACHED, unchanged, for a second.
settled=""
for _ in $(seq 20); do
  s1=$(scen_gw_session) && sleep 1 && s2=$(scen_gw_session) || break
  if python3 -c "
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.exit(0 if a['state'] == b['state'] == 'ATTACHED' and a['state_version'] == b['state_version'] else 1)
" "$s1" "$s2"; then settled=1; break; fi
done
[ -n "$settled" ] || gw_fail "the gateway's session did not settle in ATTACHED after the switch"
ts_attack=$(python3 -c "import time; print(int(time.time() * 1000))")
before=$(scen_gw_session)
for _ in 1 2 3; do scen_relay B up replay 0 from 192.0.2.4 > /dev/null; done
forged=$(ip netns exec "$NS_C" python3 "$SCEN_TOOL" forge "$TAP_O" 192.0.2.4 "$GW_ENDPOINT") \
  || gw_fail "could not forge a REATTACH"
gw_log "forged: $forged"
sleep 1
after=$(scen_gw_session)
replay_sources=$(scen_relay B stats | python3 -c "import json,sys; print(json.dumps(json.load(sys.stdin)['replay_sources']))")
scen_wait_flowing 5 || gw_fail "the real client's traffic stopped after the attack"
scen_stream_stop
python3 - "$before" "$after" <<'PY' || gw_fail "the attack changed the session"
import json, sys
b, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for k in ("transport", "state", "state_version", "switches", "reattach_requests"):
    assert a[k] == b[k], f"{k}: {b[k]} -> {a[k]}"
assert a["replay_drops"] - b["replay_drops"] >= 3, f"replay drops {b['replay_drops']} -> {a['replay_drops']}"
assert a["auth_failures"] - b["auth_failures"] >= 1, f"auth failures {b['auth_failures']} -> {a['auth_failures']}"
PY
scen_finish

scen_audit gw "
late = [e for e in ev if e['ts_ms'] >= $ts_attack]
assert not [e for e in late if e['event_type'] in ('SessionStateChange', 'TransportSwitch',
            'ReattachAttempt', 'ReattachResult')], late
"
security_events=$(python3 -c "
import json
print(json.dumps([e['violation'] for e in map(json.loads, open('$GW_AUDIT'))
                  if e['event_type'] == 'SecurityEvent' and e['ts_ms'] >= $ts_attack]))")
python3 -c "
import json, sys
seen = json.loads(sys.argv[1])
assert 'replay_detected' in seen and 'bad_proof' in seen, seen" "$security_events" \
  || gw_fail "no SecurityEvent replay_detected and bad_proof after the attack: $security_events"
scen_result "replayed=3" "security_events_logged=$security_events" "forged=$forged" \
  "replay_drops=$(( $(field "$after" replay_drops) - $(field "$before" replay_drops) ))" \
  "auth_failures=$(( $(field "$after" auth_failures) - $(field "$before" auth_failures) ))" \
  "binding=\"$(field "$after" transport)\"" "answers_to_third_address=$replay_sources"
echo PASS
