#!/usr/bin/env bash
# Scenario 4, flapping: paths A and B are blackholed alternately, 300 ms each, for 20 s. The
# switch gate bounds the churn: at most max_switches_per_min switches, none within
# switch_cooldown_ms of the previous one, every refused switch audited as a
# TransportSwitchDenied; the session survives and traffic keeps flowing, then settles.
# usage: flapping_test.sh JUMPGATE JUMPGATECTL JUMPGATE_CLIENT JUMPGATE_RELAY
P_MAX_SWITCHES=6
P_COOLDOWN_MS=2000
P_HEARTBEAT_VOLATILE_MS=250
source "$(dirname "$0")/scenario_env.sh" "$@" flapping

scen_start
scen_stream_start 10
sleep 1
flap=$(ip netns exec "$NS_C" python3 "$SCEN_TOOL" flap "$JG_WORK/relay-A.sock" \
  "$JG_WORK/relay-B.sock" 300 20000) || gw_fail "flapping driver failed"
scen_wait_status "s['state'] == 'ATTACHED'" 15 || gw_fail "the client did not settle ATTACHED"
scen_wait_flowing 10 || gw_fail "traffic did not flow after the flapping"
scen_stream_stop
traffic=$(python3 "$SCEN_TOOL" measure "$STREAM_JSON")
gw_log "flapping $flap, traffic: $traffic"
scen_finish

for who in gw client; do
  scen_audit $who "
sw = of('TransportSwitch')
t = [e['ts_ms'] for e in sw]
assert all(b - a >= $P_COOLDOWN_MS for a, b in zip(t, t[1:])), f'switches closer than the cooldown: {t}'
assert all(len([x for x in t if a <= x < a + 60000]) <= $P_MAX_SWITCHES for a in t), t
assert len(sw) >= 1, 'no switch at all while the active path went dark every 600 ms'
assert not of('SessionTerminated'), 'session ended'
"
done
summary=$(python3 - "$GW_AUDIT" "$CLIENT_AUDIT" "$traffic" <<'PY'
import json, sys
def load(p):
    return [json.loads(l) for l in open(p) if l.strip()]
gw, cl, traffic = load(sys.argv[1]), load(sys.argv[2]), json.loads(sys.argv[3])
def count(ev, t, **kw):
    return len([e for e in ev if e["event_type"] == t and all(e.get(k) == v for k, v in kw.items())])
out = {
    "gateway_switches": count(gw, "TransportSwitch"),
    "gateway_switch_denied": count(gw, "TransportSwitchDenied"),
    "gateway_reattach_denied": count(gw, "ReattachResult", status="DENIED"),
    "client_switches": count(cl, "TransportSwitch"),
    "client_switch_denied": count(cl, "TransportSwitchDenied"),
    "delivered_ratio": round(traffic["echoed"] / max(1, traffic["sent"]), 3),
}
# Each path is dark half the time: the active one is usable about half of it.
assert out["delivered_ratio"] >= 0.25, out
assert out["gateway_switch_denied"] + out["client_switch_denied"] + out["gateway_reattach_denied"] >= 1, out
print(json.dumps(out))
PY
) || gw_fail "flapping outcome"
scen_result "period_ms=300" "duration_ms=20000" "max_switches_per_min=$P_MAX_SWITCHES" \
  "switch_cooldown_ms=$P_COOLDOWN_MS" "outcome=$summary" "traffic=$traffic" "session_resets=0"
echo PASS
