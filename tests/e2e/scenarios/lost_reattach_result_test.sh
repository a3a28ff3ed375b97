#!/usr/bin/env bash
# A lost REATTACH_RESULT: the active path dies, the gateway validates the client's other path
# and moves the session there, and the one datagram that says so never reaches the client (the
# candidate path's relay drops exactly the datagram that answers the PATH_RESPONSE). The
# client must still end where the gateway bound it, on the same session, with no second
# switch: first with no traffic (it retries the REATTACH, and the refusal shows the gateway is
# bound there already), then with traffic flowing (the gateway's packets, which go only to its
# binding, arrive on the candidate path).
# usage: lost_reattach_result_test.sh JUMPGATE JUMPGATECTL JUMPGATE_CLIENT JUMPGATE_RELAY
source "$(dirname "$0")/scenario_env.sh" "$@" lost-reattach-result

declare -A RELAY_SRC=([A]=192.0.2.2 [B]=192.0.2.3)
declare -A PATH_OF=([A]=a [B]=b)

relay_json() {
  scen_relay "$1" stats | python3 -c "import json,sys; d=json.load(sys.stdin); print(json.dumps(d$2))"
}

# lose_result_on DEAD LIVE WHY_LOG_PATTERN: one failover from relay DEAD's path to LIVE's,
# with LIVE's REATTACH_RESULT dropped; checks how the client found out and sets EPISODE to
# one JSON object (run in this shell: gw_fail must end the test).
lose_result_on() {
  local dead=$1 live=$2 pattern=$3 t0 ts0 before_status
  before_status=$(status_json)
  scen_relay "$live" record clear > /dev/null
  scen_relay "$live" record on > /dev/null
  # The 48-byte reply to the client's 48-byte PATH_RESPONSE (see docs/relay.md, 'lose').
  scen_relay "$live" down lose 1 size 48 following 48 > /dev/null
  t0=$(now_s)
  ts0=$(python3 -c "print(int($t0 * 1000))")
  scen_relay "$dead" both blackhole on > /dev/null
  # Once it follows, the datagrams the dead path swallowed may show as loss on the new one: a
  # VOLATILE there is health, not recovery.
  scen_wait_status "s['active_path'] == '${PATH_OF[$live]}' and s['state'] in ('ATTACHED', 'VOLATILE')" 15 \
    || gw_fail "client not on path ${PATH_OF[$live]} within 15 s of the blackhole"
  local took_ms
  took_ms=$(elapsed_ms "$t0")
  scen_relay "$live" record off > /dev/null
  local targeted sizes
  targeted=$(relay_json "$live" "['down']['dropped']['targeted']")
  sizes=$(scen_relay "$live" down captures | python3 -c "
import json,sys; print(json.dumps([c['bytes'] for c in json.load(sys.stdin)['down']['packets']][:8]))")
  [ "$targeted" = 1 ] || gw_fail "relay $live dropped $targeted datagrams on cue, expected 1 (down sizes $sizes)"
  # The gateway validated the path, switched once and answered SUCCESS...
  scen_wait_audit gw "[r['status'] for r in of('ReattachResult', $ts0)][:1] == ['SUCCESS']" 5 \
    || gw_fail "the gateway logged no successful ReattachResult after the blackhole"
  scen_audit gw "
sw = of('TransportSwitch', $ts0)
assert len(sw) == 1 and sw[0]['reason_code'] == 'reattach_success', sw
assert sw[0]['new_transport'].startswith('${RELAY_SRC[$live]}:'), sw[0]
assert not of('SessionTerminated') and not of('SecurityEvent', $ts0)
"
  # ...which the client never received: it learnt of the move another way.
  python3 - "$before_status" "$(status_json)" <<'PY' || gw_fail "the client saw the dropped result (down sizes $sizes)"
import json, sys
before, after = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert after["reattach"]["accepted"] == before["reattach"]["accepted"], (before, after)
assert after["reattach"]["sent"] > before["reattach"]["sent"], (before, after)
assert after["session_id"] == before["session_id"], (before, after)
PY
  grep -qE "$pattern" "$CLIENT_LOG" \
    || gw_fail "the client log does not show how it followed the gateway ($pattern)"
  scen_audit client "
sw = of('TransportSwitch', $ts0)
assert len(sw) == 1, sw
assert not of('SessionTerminated')
"
  local reattach
  reattach=$(status_json | python3 -c "import json,sys; print(json.dumps(json.load(sys.stdin)['reattach']))")
  EPISODE="{\"dead\": \"$dead\", \"live\": \"$live\", \"followed_after_ms\": $took_ms, \"down_sizes\": $sizes, \"reattach\": $reattach}"
}

scen_start

# No traffic: only the retried REATTACH can tell the client where the gateway is.
lose_result_on A B "reattach on path b refused: the gateway is bound there"
quiet=$EPISODE
gw_log "quiet: $quiet"
scen_relay A both blackhole off > /dev/null
# Past the switch cooldown (1500 ms) and the stability window before the next move.
sleep 2.5

# Traffic flowing: the echoes arrive on the candidate path before any retry is due.
scen_stream_start 10
lose_result_on B A "gateway traffic arrives on path a: the gateway is bound there"
busy=$EPISODE
gw_log "busy: $busy"
scen_wait_flowing 5 || gw_fail "traffic did not resume on path a"
scen_wait_status "s['state'] == 'ATTACHED'" 10 || gw_fail "client not back to ATTACHED on path a"
scen_stream_stop
scen_finish

scen_result "quiet=$quiet" "busy=$busy" "session_resets=0"
echo PASS
