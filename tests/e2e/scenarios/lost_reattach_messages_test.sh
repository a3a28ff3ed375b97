#!/usr/bin/env bash
# Each message of the reattach exchange lost once, on the candidate path: the active path dies,
# the client reattaches on its other path, and that path's relay drops the named datagrams
# (docs/relay.md, 'lose'). The session must end where the gateway bound it, on the same
# session, with one switch on each side:
#   - REATTACH_REQUEST lost: the client's retry goes through;
#   - PATH_CHALLENGE lost: two are dropped, both copies when the gateway sends two (a REATTACH
#     from a new source joins the validation that source started), else the first challenge
#     and the retry's; a later retry brings one that gets through;
#   - PATH_RESPONSE lost: two dropped likewise (every answer to the first validation, or the
#     first answer and the retry's); the retry joins the pending validation;
#   - REATTACH_RESULT lost, no traffic: the retried REATTACH is refused, and the refusal shows
#     the gateway is bound there;
#   - REATTACH_RESULT lost, traffic flowing: the gateway's packets, which go only to its
#     binding, arrive on the candidate path.
# Datagram sizes: a control message padded to 16 plus 32 bytes of header and tag, so
# REATTACH_REQUEST is 80 bytes and PATH_CHALLENGE, PATH_RESPONSE and REATTACH_RESULT are 48
# (as are HELLO, STATE_HINT and TERMINATE, which these exchanges do not send on the candidate
# path). The result's rule wakes on the first PATH_RESPONSE: should a second PATH_CHALLENGE
# copy ever reach the relay after it, the copy would be dropped instead and the test would
# fail on the client's accepted result, never pass without losing the result.
# usage: lost_reattach_messages_test.sh JUMPGATE JUMPGATECTL JUMPGATE_CLIENT JUMPGATE_RELAY
source "$(dirname "$0")/scenario_env.sh" "$@" lost-reattach-messages

declare -A RELAY_SRC=([A]=192.0.2.2 [B]=192.0.2.3)
declare -A PATH_OF=([A]=a [B]=b)

# relay_query NAME COMMAND...: scen_relay in this shell, so that a refusal ends the test; the
# reply stays in $JG_WORK/relay-reply for query_field.
relay_query() { scen_relay "$@" > /dev/null; }
# query_field PYTHON_SUBSCRIPT: a field of the last reply, e.g. "['down']['dropped']['targeted']".
query_field() {
  python3 -c "import json,sys; print(json.dumps(json.load(open(sys.argv[1]))$1))" \
    "$JG_WORK/relay-reply"
}

# lose_on DEAD LIVE DIR RULE RESULT MIN_SENT DENIALS WHY_LOG_PATTERN: one failover from relay
# DEAD's path to LIVE's, with relay LIVE running 'DIR lose RULE'. RESULT is what the client
# must have seen: 'accepted' (a REATTACH_RESULT SUCCESS reached it) or 'followed' (none did:
# it learnt of the switch another way); MIN_SENT the REATTACH_REQUESTs it must have sent at
# least; DENIALS the lists of refusal reasons the gateway may have sent, as Python (e.g.
# "[[]]": none). Sets EPISODE to one JSON object (run in this shell: gw_fail must end the
# test).
lose_on() {
  local dead=$1 live=$2 dir=$3 rule=$4 result=$5 min_sent=$6 denials=$7 pattern=$8
  local -a rule_words
  read -ra rule_words <<< "$rule"
  local before_status log_lines targeted_before
  before_status=$(status_json)
  log_lines=$(wc -l < "$CLIENT_LOG")
  relay_query "$live" stats
  targeted_before=$(query_field "['$dir']['dropped']['targeted']")
  relay_query "$live" record clear
  relay_query "$live" record on
  relay_query "$live" "$dir" lose "${rule_words[@]}"
  local t0 ts0
  t0=$(now_s)
  ts0=$(python3 -c "print(int($t0 * 1000))")
  relay_query "$dead" both blackhole on
  # Once it follows, the datagrams the dead path swallowed may show as loss on the new one: a
  # VOLATILE there is health, not recovery.
  scen_wait_status \
    "s['active_path'] == '${PATH_OF[$live]}' and s['state'] in ('ATTACHED', 'VOLATILE')" 15 \
    || gw_fail "'$dir lose $rule': client not on path ${PATH_OF[$live]} within 15 s"
  local took_ms
  took_ms=$(elapsed_ms "$t0")
  relay_query "$live" record off
  relay_query "$live" captures
  local sizes
  sizes=$(python3 -c "
import json,sys; d=json.load(open(sys.argv[1]))
print(json.dumps({k: [c['bytes'] for c in d[k]['packets']][:8] for k in ('up', 'down')}))" \
    "$JG_WORK/relay-reply")
  relay_query "$live" stats
  local targeted_after targeted
  targeted_after=$(query_field "['$dir']['dropped']['targeted']")
  targeted=$((targeted_after - targeted_before))
  [ "$targeted" = "${rule_words[0]}" ] \
    || gw_fail "'$dir lose $rule': relay $live dropped $targeted datagrams on cue ($sizes)"
  # The gateway validated the path, switched once and answered SUCCESS...
  scen_wait_audit gw "'SUCCESS' in [r['status'] for r in of('ReattachResult', $ts0)]" 5 \
    || gw_fail "'$dir lose $rule': the gateway logged no successful ReattachResult"
  scen_audit gw "
sw = of('TransportSwitch', $ts0)
assert len(sw) == 1 and sw[0]['reason_code'] == 'reattach_success', sw
assert sw[0]['new_transport'].startswith('${RELAY_SRC[$live]}:'), sw[0]
denied = [r['reason_code'] for r in of('ReattachResult', $ts0) if r['status'] == 'DENIED']
assert denied in $denials, denied
assert not of('SessionTerminated') and not of('SecurityEvent', $ts0)
"
  # ...which the client received, or learnt of another way.
  python3 - "$before_status" "$(status_json)" "$result" "$min_sent" <<'PY' \
    || gw_fail "'$dir lose $rule': the client's reattach counters ($sizes)"
import json, sys
before, after, result = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
accepted = after["reattach"]["accepted"] - before["reattach"]["accepted"]
assert accepted == (1 if result == "accepted" else 0), (result, before, after)
assert after["reattach"]["sent"] >= before["reattach"]["sent"] + int(sys.argv[4]), (before, after)
assert after["session_id"] == before["session_id"], (before, after)
PY
  grep -qE "$pattern" < <(tail -n +"$((log_lines + 1))" "$CLIENT_LOG") \
    || gw_fail "'$dir lose $rule': the client log does not show '$pattern'"
  scen_audit client "
sw = of('TransportSwitch', $ts0)
assert len(sw) == 1, sw
assert not of('SessionTerminated')
"
  local reattach
  reattach=$(status_json | python3 -c "
import json,sys; print(json.dumps(json.load(sys.stdin)['reattach']))")
  EPISODE="{\"lost\": \"$dir lose $rule\", \"dead\": \"$dead\", \"live\": \"$live\", "
  EPISODE+="\"followed_after_ms\": $took_ms, \"sizes\": $sizes, \"reattach\": $reattach}"
  gw_log "$EPISODE"
}

# next_episode DEAD: the dead path comes back; the client settles ATTACHED (the dead path's
# losses may have shown on the new one), then the switch cooldown passes.
next_episode() {
  relay_query "$1" both blackhole off
  scen_wait_status "s['state'] == 'ATTACHED'" 10 || gw_fail "client not ATTACHED again"
  sleep "$(python3 -c "print($P_COOLDOWN_MS / 1000 + 0.1)")"
}

scen_start

lose_on A B up "1 size 80" accepted 2 "[[]]" "reattach on path b accepted"
request=$EPISODE
next_episode A
lose_on B A down "2 size 48 following 80" accepted 2 "[[]]" "reattach on path a accepted"
challenge=$EPISODE
next_episode B
lose_on A B up "2 size 48" accepted 2 "[[]]" "reattach on path b accepted"
response=$EPISODE
next_episode A
# No traffic: only the retried REATTACH can tell the client where the gateway is.
lose_on B A down "1 size 48 following 48" followed 2 "[['invalid_state_for_reattach']]" \
  "reattach on path a refused: the gateway is bound there"
result_quiet=$EPISODE
next_episode B
# Traffic flowing: the echoes arrive on the candidate path before any retry is due (a stall
# past the 500 ms retry would add the quiet episode's refusal).
scen_stream_start 10
lose_on A B down "1 size 48 following 48" followed 1 "[[], ['invalid_state_for_reattach']]" \
  "gateway traffic arrives on path b: the gateway is bound there"
result_busy=$EPISODE
scen_wait_flowing 5 || gw_fail "traffic did not resume on path b"
scen_wait_status "s['state'] == 'ATTACHED'" 10 || gw_fail "client not back to ATTACHED on path b"
scen_stream_stop
scen_finish

scen_result "request=$request" "challenge=$challenge" "response=$response" \
  "result_quiet=$result_quiet" \
  "result_busy=$result_busy" "session_resets=0"
echo PASS
