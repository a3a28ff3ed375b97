#!/usr/bin/env bash
# Scenario 7, lifetime expiry: the gateway's policy gives sessions 5 s (the client's copy a
# longer one, so the gateway decides). At 5 s the gateway terminates the session with
# session_lifetime_exceeded, tells the client, and the client exits with that reason. A new
# client run needs a new handshake and gets a new session id; the old one stays dead.
# usage: lifetime_expiry_test.sh JUMPGATE JUMPGATECTL JUMPGATE_CLIENT JUMPGATE_RELAY
P_MAX_LIFETIME_MS=5000
CLIENT_P_MAX_LIFETIME_MS=600000
source "$(dirname "$0")/scenario_env.sh" "$@" lifetime-expiry

scen_start
scen_stream_start 10
first_sid=$SID
# The client ends on its own: exit code 3 (session_terminated) within the lifetime + 5 s.
rc=0
for _ in $(seq 1 100); do kill -0 "$CLIENT_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$CLIENT_PID" 2>/dev/null && gw_fail "client still running 10 s after attaching"
wait "$CLIENT_PID" || rc=$?
CLIENT_PID=""
[ $rc -eq 3 ] || gw_fail "client exit code $rc, expected 3 (session terminated)"
grep -q "terminated by the gateway: session_lifetime_exceeded" "$CLIENT_LOG" \
  || gw_fail "the client did not report the gateway's reason"
scen_stream_stop
traffic=$(python3 "$SCEN_TOOL" measure "$STREAM_JSON")
scen_audit gw "
assert seq() == ['BIRTH>ATTACHED:handshake_ok', 'ATTACHED>TERMINATED:session_lifetime_exceeded'], seq()
t = of('SessionTerminated')
assert len(t) == 1 and t[0]['reason_code'] == 'session_lifetime_exceeded', t
assert 5000 <= t[0]['session_age_ms'] <= 7000, t[0]
"
age_ms=$(python3 -c "
import json
print([e for e in map(json.loads, open('$GW_AUDIT')) if e['event_type'] == 'SessionTerminated'][0]['session_age_ms'])")
scen_audit client "
assert seq() == ['BIRTH>ATTACHED:handshake_ok', 'ATTACHED>TERMINATED:session_lifetime_exceeded'], seq()
assert all(e['session_id'] == '$first_sid' for e in ev)
"
gw_log "session $first_sid ended after $age_ms ms; starting the client again"

# A fresh session: a new handshake (the old keys died with the session) and a new id.
CLIENT_LOG=$JG_WORK/client2.log
CLIENT_AUDIT=$JG_WORK/client2.jsonl
scen_client_start
[ "$SID" != "$first_sid" ] || gw_fail "the new client run got the old session id"
grep -q "handshake initiation (start)" "$CLIENT_LOG" || gw_fail "no new handshake"
scen_stream_start 10
scen_stream_stop
if "$JUMPGATECTL" session "$first_sid" --node-id "e2e-$JG_TAG" --json > "$JG_WORK/old.json" 2>&1; then
  python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert s['state'] == 'TERMINATED', s" \
    "$JG_WORK/old.json" || gw_fail "old session not terminated: $(cat "$JG_WORK/old.json")"
fi
scen_stop_client 0
gw_stop
scen_audit gw "
created = of('SessionCreated')
assert [e['session_id'] for e in created] == ['$first_sid', '$SID'], created
assert len(of('SessionTerminated')) == 1
assert all(e['session_id'] in ('$first_sid', '$SID', '0' * 16) for e in ev)
"
scen_audit client "
assert len(of('SessionCreated')) == 1 and all(e['session_id'] == '$SID' for e in ev)
"
scen_audit_check
CLIENT_AUDIT=$JG_WORK/client.jsonl scen_audit_check
scen_result "policy_lifetime_ms=$P_MAX_LIFETIME_MS" "terminated_at_age_ms=$age_ms" \
  "client_exit_code=$rc" "traffic_first_session=$traffic" "new_session_id=\"$SID\""
echo PASS
