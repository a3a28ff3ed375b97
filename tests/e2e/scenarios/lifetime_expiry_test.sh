#!/usr/bin/env bash
# Scenario 7, lifetime expiry: the policy gives sessions 15 s. At 15 s the gateway terminates
# the session with session_lifetime_exceeded; the client, running the same machine under the
# same policy (and told by the gateway's TERMINATE when that arrives), ends it with the same
# reason and exits with code 3. A new client run needs a new handshake and gets a new session
# id; the old one stays dead.
# usage: lifetime_expiry_test.sh JUMPGATE JUMPGATECTL JUMPGATE_CLIENT JUMPGATE_RELAY
P_MAX_LIFETIME_MS=15000
source "$(dirname "$0")/scenario_env.sh" "$@" lifetime-expiry

scen_start
scen_stream_start 10
first_sid=$SID
# The client ends on its own: exit code 3 (session_terminated) within the lifetime + 5 s.
rc=0
deadline=$(($(date +%s) + P_MAX_LIFETIME_MS / 1000 + 5))
while kill -0 "$CLIENT_PID" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.1; done
kill -0 "$CLIENT_PID" 2>/dev/null && gw_fail "client still running past its lifetime + 5 s"
wait "$CLIENT_PID" || rc=$?
CLIENT_PID=""
[ $rc -eq 3 ] || gw_fail "client exit code $rc, expected 3 (session terminated)"
if grep -q "terminated by the gateway: session_lifetime_exceeded" "$CLIENT_LOG"; then
  told_by=gateway
elif grep -q "session terminated: session_lifetime_exceeded" "$CLIENT_LOG"; then
  told_by=own_timer
else
  gw_fail "the client did not report session_lifetime_exceeded"
fi
scen_stream_stop
traffic=$(python3 "$SCEN_TOOL" measure "$STREAM_JSON")
scen_audit gw "
assert seq() == ['BIRTH>ATTACHED:handshake_ok', 'ATTACHED>TERMINATED:session_lifetime_exceeded'], seq()
t = of('SessionTerminated')
assert len(t) == 1 and t[0]['reason_code'] == 'session_lifetime_exceeded', t
assert $P_MAX_LIFETIME_MS <= t[0]['session_age_ms'] <= $P_MAX_LIFETIME_MS + 2000, t[0]
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
# The old session stays dead: the gateway shows it TERMINATED or no longer knows it.
old_rc=0
timeout 20 "$JUMPGATECTL" session "$first_sid" --node-id "e2e-$JG_TAG" --json \
  > "$JG_WORK/old.json" 2> "$JG_WORK/old.err" || old_rc=$?
if [ $old_rc -eq 0 ]; then
  python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert s['state'] == 'TERMINATED', s" \
    "$JG_WORK/old.json" || gw_fail "old session not terminated: $(cat "$JG_WORK/old.json")"
elif [ $old_rc -eq 1 ] && grep -q "session $first_sid: no such session" "$JG_WORK/old.err"; then
  gw_log "old session $first_sid: no longer in the gateway's table"
else
  gw_fail "jumpgatectl session $first_sid exited $old_rc: $(cat "$JG_WORK/old.json" "$JG_WORK/old.err")"
fi
# Its own lifetime is not under test: SIGTERM (0) or, on a slow run, its expiry (3).
kill -TERM "$CLIENT_PID" 2>/dev/null || true
rc2=0
wait "$CLIENT_PID" || rc2=$?
CLIENT_PID=""
[ $rc2 -eq 0 ] || [ $rc2 -eq 3 ] || gw_fail "second client exit code $rc2"
gw_stop
scen_audit gw "
created = of('SessionCreated')
assert [e['session_id'] for e in created] == ['$first_sid', '$SID'], created
assert of('SessionTerminated')[0]['session_id'] == '$first_sid'
assert all(e['session_id'] in ('$first_sid', '$SID', '0' * 16) for e in ev)
"
scen_audit client "
assert len(of('SessionCreated')) == 1 and all(e['session_id'] == '$SID' for e in ev)
"
scen_audit_check
CLIENT_AUDIT=$JG_WORK/client.jsonl scen_audit_check
scen_result "policy_lifetime_ms=$P_MAX_LIFETIME_MS" "terminated_at_age_ms=$age_ms" \
  "client_exit_code=$rc" "client_told_by=\"$told_by\"" "traffic_first_session=$traffic" "new_session_id=\"$SID\""
echo PASS
