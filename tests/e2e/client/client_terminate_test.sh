#!/usr/bin/env bash
# A session lifetime of 10 s on both sides (the gateway's policy and the client's --policy):
# the session ends with session_lifetime_exceeded; the client logs SessionTerminated under
# the gateway's session id (from its own machine, or from the gateway's TERMINATE, whichever
# comes first), exits with code 3 naming the reason; both logs pass audit-check.
# usage: client_terminate_test.sh JUMPGATE JUMPGATECTL JUMPGATE_CLIENT
JUMPGATE=${1:?usage: client_terminate_test.sh JUMPGATE JUMPGATECTL JUMPGATE_CLIENT}
JUMPGATECTL=${2:?}
CLIENT=${3:?}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../gateway/gateway_env.sh"
gw_require_tools
source "$HERE/client_env.sh"

gw_keys gw
gw_keys client
POLICY="policies:
  default:
    version: e2e-short-life
    session: {max_lifetime_ms: 10000, transport_lost_ttl_ms: 15000}
    volatility: {loss_volatile_threshold: 0.2}
    switching: {max_switches_per_min: 8, recovery_window_ms: 8000}
    security: {reattach_proof_max_age_ms: 5000}"
echo "$POLICY" > "$JG_WORK/policy.yaml"
gw_write_config "$(cat "$JG_WORK/client.pub")" "$POLICY"
gw_start
client_net_up
client_start --policy "$JG_WORK/policy.yaml"
wait_status "s['state'] == 'ATTACHED'" 20 || gw_fail "client not ATTACHED within 20 s"
SID=$(status_json | python3 -c "import json,sys; print(json.load(sys.stdin)['session_id'])")
gw_log "session $SID attached; waiting for the gateway to end it"

deadline=$((SECONDS + 20))
while kill -0 "$CLIENT_PID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
kill -0 "$CLIENT_PID" 2>/dev/null && gw_fail "client still running 20 s after attaching"
client_rc=0
wait "$CLIENT_PID" || client_rc=$?
CLIENT_PID=""
grep -E "terminated" "$CLIENT_LOG" || gw_fail "client did not report the end of the session"
[ $client_rc -eq 3 ] || gw_fail "client exit code $client_rc, expected 3 (session terminated)"
grep -q "session_lifetime_exceeded" "$CLIENT_LOG" || gw_fail "client did not name the reason"
gw_stop

GW_AUDIT=$CLIENT_AUDIT gw_audit_assert "
assert all(e['session_id'] == '$SID' for e in ev), 'client events for another session'
t = of('SessionTerminated')
assert len(t) == 1 and t[0]['reason_code'] == 'session_lifetime_exceeded', t
assert ev[-1]['event_type'] == 'SessionTerminated', ev[-1]
print('client audit: SessionTerminated', t[0]['reason_code'], 'session age', t[0]['session_age_ms'], 'ms')
"
gw_audit_assert "
t = of('SessionTerminated')
assert len(t) == 1 and t[0]['session_id'] == '$SID', t
assert t[0]['reason_code'] == 'session_lifetime_exceeded', t
"
gw_audit_check
"$JUMPGATECTL" audit-check "$CLIENT_AUDIT" || gw_fail "audit-check found violations in the client log"
echo "PASS"
