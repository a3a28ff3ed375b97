#!/usr/bin/env bash
# Every jumpgatectl live command against a running gateway with a stock wireguard-go client
# attached: sessions, session ID, stats, policy show, a refused policy reload (no audit event
# before the next audited action, the terminate), terminate ID (audited explicit_termination),
# an accepted policy reload, and the error once no gateway is running.
# usage: admin_test.sh JUMPGATE JUMPGATECTL
JUMPGATE=${1:?usage: admin_test.sh JUMPGATE JUMPGATECTL}
JUMPGATECTL=${2:?usage: admin_test.sh JUMPGATE JUMPGATECTL}
source "$(dirname "$0")/../gateway/gateway_env.sh"
gw_require_tools
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }

gw_keys gw
gw_keys client
gw_write_config "$(cat "$JG_WORK/client.pub")"
gw_start
gw_client_up client
gw_establish

NODE=e2e-$JG_TAG
SOCK=/var/run/dpdk/jumpgate-$NODE/dpdk_telemetry.v2
OUT=$JG_WORK/ctl.out
ERR=$JG_WORK/ctl.err

# ctl EXPECTED_EXIT ARGS...: runs jumpgatectl against this gateway (stdout in $OUT, stderr in
# $ERR) and fails unless it exits with EXPECTED_EXIT.
ctl() {
  local want=$1 rc=0; shift
  timeout 20 "$JUMPGATECTL" "$@" > "$OUT" 2> "$ERR" || rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "--- stdout"; cat "$OUT"; echo "--- stderr"; cat "$ERR"
    gw_fail "jumpgatectl $* exited $rc, expected $want"
  fi
}

# json_assert PYTHON: runs PYTHON with `j` bound to the JSON in $OUT.
json_assert() {
  python3 - "$OUT" "$1" <<'PY' || { cat "$OUT"; gw_fail "JSON assertion failed"; }
import json, sys
j = json.load(open(sys.argv[1]))
exec(sys.argv[2])
PY
}

# audit_line_of PYTHON_EXPR: the line number of the first event `e` in the gateway's audit log
# for which the expression holds, waiting up to 5 s for it to be written (status 1 if it is not).
audit_line_of() {
  python3 - "$GW_AUDIT" "$1" <<'PY'
import json, sys, time
deadline = time.monotonic() + 5
while True:
    for n, line in enumerate(open(sys.argv[1]), 1):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if eval(sys.argv[2]):
            print(n)
            sys.exit(0)
    if time.monotonic() > deadline:
        sys.exit(1)
    time.sleep(0.1)
PY
}

CLIENT_PUB=$(cat "$JG_WORK/client.pub")
gw_log "sessions"
ctl 0 sessions --node-id "$NODE"
cat "$OUT"
head -1 "$OUT" | grep -qE '^SESSION +PEER +NAME +STATE +VERSION +TRANSPORT +AGE +SWITCHES$' \
  || gw_fail "sessions table header"
grep -E "ATTACHED +1 +192\.0\.2\.2:41000 " "$OUT" | grep -qF "$CLIENT_PUB" \
  || gw_fail "sessions table has no ATTACHED row for the client at 192.0.2.2:41000"
tail -1 "$OUT" | grep -qx "1 session" || gw_fail "sessions table count line"
ctl 0 sessions --node-id "$NODE" --json
json_assert "
assert j['total'] == 1, j
s = j['sessions'][0]
assert s['state'] == 'ATTACHED' and s['state_version'] == 1, s
assert s['transport'] == '192.0.2.2:41000', s
assert s['peer'] == '$CLIENT_PUB' and s['peer_name'] == 'client', s
assert s['switches'] == 0 and s['age_s'] < 60, s
open('$JG_WORK/id', 'w').write(s['session_id'])
"
ID=$(cat "$JG_WORK/id")
gw_log "session $ID"

ctl 0 session "$ID" --socket "$SOCK"
cat "$OUT"
grep -qE "^state +ATTACHED$" "$OUT" || gw_fail "session detail: no state line"
grep -qE "^transport +192\.0\.2\.2:41000$" "$OUT" || gw_fail "session detail: no transport"
grep -qE " state_change +BIRTH +ATTACHED +handshake_ok$" "$OUT" \
  || gw_fail "session detail: no BIRTH -> ATTACHED transition"
ctl 0 session "$ID" --config "$JG_WORK/gw.yaml" --json
json_assert "
assert j['session_id'] == '$ID' and j['state'] == 'ATTACHED', j
assert j['rx_packets'] > 0 and j['tx_packets'] > 0, j
t = j['transitions']
assert len(t) == 1 and (t[0]['from'], t[0]['to'], t[0]['reason']) == ('BIRTH', 'ATTACHED', 'handshake_ok'), t
"
ctl 1 session ffffffffffffff00 --node-id "$NODE"
grep -q "session ffffffffffffff00: no such session" "$ERR" || gw_fail "unknown session error: $(cat "$ERR")"

gw_log "stats"
ctl 0 stats --node-id "$NODE"
grep -qE "^live_sessions +1$" "$OUT" || gw_fail "stats: live_sessions"
grep -qE "^WORKER +LCORE +RX_PACKETS.* REASSEMBLED +BUSY" "$OUT" || gw_fail "stats: no worker table"
ctl 0 stats --node-id "$NODE" --json
json_assert "
assert j['live_sessions'] == 1 and j['state_attached'] == 1, j
assert j['handshake_accepted'] >= 1 and j['sessions_created'] == 1, j
assert j['audit_write_errors'] == 0 and 'audit_last_write_error' not in j, j
assert len(j['workers']) == 1 and j['workers'][0]['lcore'] == 1, j
assert j['workers'][0]['rx_packets'] > 0 and j['workers'][0]['tx_packets'] > 0, j
assert j['workers'][0]['reassembled'] == 0, j
"

gw_log "policy show"
ctl 0 policy show --node-id "$NODE"
cat "$OUT"
head -1 "$OUT" | grep -qx "policy generation 1, default profile default" || gw_fail "policy show header"
grep -qE "^version +builtin-1$" "$OUT" || gw_fail "policy show: version row"
ctl 0 policy show --node-id "$NODE" --json
json_assert "
assert j['generation'] == 1 and len(j['profiles']) == 1, j
p = j['profiles'][0]
assert p['name'] == 'default' and p['version'] == 'builtin-1', p
assert p['switching/max_switches_per_min'] == 8, p
"

gw_log "invalid policy reload is refused, nothing changes"
cat > "$JG_WORK/bad-policy.yaml" <<'YAML'
policies:
  default:
    version: "e2e-bad"
    session:
      max_lifetime_ms: 28800000
      transport_lost_ttl_ms: 15000
    volatility:
      loss_volatile_threshold: 1.5
    switching:
      max_switches_per_min: 4
      recovery_window_ms: 8000
    security:
      reattach_proof_max_age_ms: 5000
YAML
# Everything up to the session's attachment is written: the refusal's events, if any, follow.
audit_line_of "e['event_type'] == 'SessionStateChange' and e['new_state'] == 'ATTACHED'" > /dev/null \
  || gw_fail "the session's attachment is not in the audit log"
before=$(wc -l < "$GW_AUDIT")
ctl 1 policy reload "$JG_WORK/bad-policy.yaml" --node-id "$NODE"
cat "$ERR"
grep -q "refused, running policy unchanged: .*volatility.loss_volatile_threshold" "$ERR" \
  || gw_fail "refusal does not name volatility.loss_volatile_threshold"
# The gateway validates on its own too: send the file straight to its telemetry socket.
python3 - "$SOCK" "$JG_WORK/bad-policy.yaml" <<'PY' || gw_fail "gateway accepted an invalid policy"
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1]); s.recv(1024)
s.send(("/jumpgate/policy_reload," + sys.argv[2]).encode())
r = json.loads(s.recv(16384))["/jumpgate/policy_reload"]
print("gateway:", r)
assert isinstance(r, str) and r.startswith("error: refused") and "volatility.loss_volatile_threshold" in r, r
PY
ctl 0 policy show --node-id "$NODE" --json
json_assert "assert j['generation'] == 1 and j['profiles'][0]['version'] == 'builtin-1', j"

gw_log "terminate $ID"
ctl 0 terminate "$ID" --node-id "$NODE"
cat "$OUT"
grep -qx "session $ID terminated (explicit_termination)" "$OUT" || gw_fail "terminate output"
# The terminate's state change is the first event written since the refused reload.
term_line=$(audit_line_of "e['event_type'] == 'SessionStateChange' and e['session_id'] == '$ID' \
  and e['new_state'] == 'TERMINATED'") || gw_fail "the terminate wrote no state change to the audit log"
[ "$term_line" -eq $((before + 1)) ] || {
  sed -n "$((before + 1)),${term_line}p" "$GW_AUDIT"
  gw_fail "audit events between the refused reload and the terminate (lines $((before + 1))..$term_line)"
}
ctl 0 session "$ID" --node-id "$NODE" --json
json_assert "
assert j['state'] == 'TERMINATED', j
last = j['transitions'][-1]
assert (last['to'], last['reason']) == ('TERMINATED', 'explicit_termination'), last
"
ctl 0 sessions --node-id "$NODE" --json
json_assert "
mine = [s for s in j['sessions'] if s['session_id'] == '$ID']
assert len(mine) == 1 and mine[0]['state'] == 'TERMINATED', j
"
ctl 1 terminate "$ID" --node-id "$NODE"
grep -q "already terminated" "$ERR" || gw_fail "second terminate: $(cat "$ERR")"

gw_log "valid policy reload"
sed -e 's/e2e-bad/e2e-2/' -e 's/loss_volatile_threshold: 1.5/loss_volatile_threshold: 0.25/' \
  "$JG_WORK/bad-policy.yaml" > "$JG_WORK/good-policy.yaml"
# More profiles than one reply holds (16): policy show must page through all of them.
sed -n '/^  default:/,$p' "$JG_WORK/good-policy.yaml" > "$JG_WORK/default-profile.yaml"
for i in $(seq -w 1 39); do
  sed -e "s/^  default:/  extra-$i:/" -e "s/e2e-2/e2e-extra-$i/" "$JG_WORK/default-profile.yaml" \
    >> "$JG_WORK/good-policy.yaml"
done
ctl 0 policy reload "$JG_WORK/good-policy.yaml" --node-id "$NODE"
cat "$OUT"
grep -q "generation 2, default profile default version e2e-2" "$OUT" || gw_fail "reload output"
ctl 0 policy show --node-id "$NODE" --json
json_assert "
ps = j['profiles']
assert len(ps) == 40, len(ps)
p = [q for q in ps if q['name'] == 'default'][0]
assert j['generation'] == 2 and p['version'] == 'e2e-2', j
assert p['switching/max_switches_per_min'] == 4 and p['volatility/loss_volatile_threshold'] == '0.25', p
assert sorted(q['version'] for q in ps if q['name'] != 'default') == ['e2e-extra-%02d' % i for i in range(1, 40)], ps
"

gw_stop
gw_audit_assert "
sid = '$ID'
ch = [e for e in of('SessionStateChange') if e['session_id'] == sid and e['new_state'] == 'TERMINATED']
assert len(ch) == 1 and ch[0]['reason_code'] == 'explicit_termination', ch
te = [e for e in of('SessionTerminated') if e['session_id'] == sid]
assert len(te) == 1 and te[0]['reason_code'] == 'explicit_termination', te
assert te[0]['state_version'] == ch[0]['state_version'], (ch, te)
"
gw_audit_check

gw_log "no gateway running"
ctl 2 sessions --node-id "$NODE"
cat "$ERR"
grep -qF "jumpgatectl: no gateway is running: cannot connect to $SOCK (" "$ERR" \
  || gw_fail "expected the no-gateway error naming $SOCK"
ctl 2 stats --socket "$JG_WORK/no-such.sock"
grep -qF "cannot connect to $JG_WORK/no-such.sock (No such file or directory)" "$ERR" \
  || gw_fail "no-gateway error for --socket: $(cat "$ERR")"
echo "PASS"
