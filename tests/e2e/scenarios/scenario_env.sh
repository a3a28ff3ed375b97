# Sourced by the failover scenarios: the real gateway (gateway_env.sh), one headless
# jumpgate-client with two paths, each path through its own jumpgate-relay, and an echo on
# the inner host (the client tests' udp_traffic.py) so every datagram is counted.
#
#   client ns: client path a 192.0.2.12 (lo) -> relay A listening on 192.0.2.2, upstream
#              from 192.0.2.2:ephemeral; path b 192.0.2.13 -> relay B on 192.0.2.3, upstream
#              from 192.0.2.3; 192.0.2.4 is a third address for attacks
#   gateway:   192.0.2.1:51820, inner 198.51.100.1; echo on 198.51.100.2:7777
#
# The policy is the same file for both sides (profile "default"), with short timers; set the
# P_* variables before scen_start to change it (CLIENT_P_* override the client's copy).
# heartbeat_volatile_ms is 1000 unless a scenario measures silence detection (250 there): on a
# loaded 2-core machine a process can stall for several hundred ms, which would start a
# failover nobody asked for.
# usage from a scenario: source scenario_env.sh JUMPGATE JUMPGATECTL CLIENT RELAY NAME
JUMPGATE=${1:?usage: SCENARIO JUMPGATE JUMPGATECTL JUMPGATE_CLIENT JUMPGATE_RELAY}
JUMPGATECTL=${2:?}
CLIENT=${3:?}
RELAY=${4:?}
SCEN_NAME=${5:?}
SCEN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$SCEN_DIR/../gateway/gateway_env.sh"
gw_require_tools
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
SCEN_TOOL=$SCEN_DIR/scenario_tool.py

: "${P_MAX_LIFETIME_MS:=600000}" "${P_TRANSPORT_LOST_TTL_MS:=15000}"
: "${P_HEARTBEAT_MS:=100}" "${P_HEARTBEAT_VOLATILE_MS:=1000}" "${P_LOSS_WINDOW_MS:=2000}"
: "${P_LOSS_THRESHOLD:=0.13}" "${P_MAX_CONSECUTIVE_DROPS:=10}" "${P_VOLATILE_TO_DEGRADED_MS:=4000}"
: "${P_STABILITY_MS:=1000}" "${P_MAX_SWITCHES:=8}" "${P_COOLDOWN_MS:=1500}"
: "${P_RECOVERY_WINDOW_MS:=3000}" "${P_PROOF_MAX_AGE_MS:=5000}"
: "${CLIENT_P_MAX_LIFETIME_MS:=$P_MAX_LIFETIME_MS}"

SCEN_PIDS=()
STREAM_PID=""
CLIENT_PID=""
CLIENT_LOG=$JG_WORK/client.log
CLIENT_AUDIT=$JG_WORK/client.jsonl
STATUS_SOCK=$JG_WORK/client.sock
APP_PORT=$((30000 + RANDOM % 10000))
STREAM_JSON=$JG_WORK/stream.json
SID=""
GW_ENDPOINT=192.0.2.1:51820

# Everything is signalled and the namespaces go (gw_release) before any output or waiting: on
# a timeout the runner's SIGKILL follows its SIGTERM within a second.
scen_cleanup() {
  local rc=$?
  for p in "$STREAM_PID" "$CLIENT_PID" "${SCEN_PIDS[@]}"; do
    if [ -n "$p" ]; then kill -TERM "$p" 2>/dev/null || true; fi
  done
  gw_release
  if [ $rc -ne 0 ]; then
    for f in "$CLIENT_LOG" "$JG_WORK"/relay-*.log; do
      if [ -f "$f" ]; then echo "--- $(basename "$f") (last 40 lines)"; tail -n 40 "$f"; fi
    done
  fi
  (exit $rc)
  gw_cleanup
}
trap scen_cleanup EXIT

# The policy file both sides read; $1 is the lifetime for this copy.
scen_policy_yaml() {
  cat <<YAML
policies:
  default:
    version: "scenario-$SCEN_NAME"
    session: {max_lifetime_ms: $1, transport_lost_ttl_ms: $P_TRANSPORT_LOST_TTL_MS}
    volatility:
      heartbeat_interval_ms: $P_HEARTBEAT_MS
      heartbeat_volatile_ms: $P_HEARTBEAT_VOLATILE_MS
      loss_window_ms: $P_LOSS_WINDOW_MS
      loss_volatile_threshold: $P_LOSS_THRESHOLD
      max_consecutive_drops: $P_MAX_CONSECUTIVE_DROPS
      volatile_to_degraded_ms: $P_VOLATILE_TO_DEGRADED_MS
      stability_window_ms: $P_STABILITY_MS
    switching:
      max_switches_per_min: $P_MAX_SWITCHES
      switch_cooldown_ms: $P_COOLDOWN_MS
      recovery_window_ms: $P_RECOVERY_WINDOW_MS
    security: {reattach_proof_max_age_ms: $P_PROOF_MAX_AGE_MS}
YAML
}

# scen_relay_start NAME ADDR: a relay listening on ADDR (kernel-chosen port) whose upstream
# socket is bound to ADDR too; sets RELAY_PORT_<NAME>.
scen_relay_start() {
  local name=$1 addr=$2 out=$JG_WORK/relay-$1.out
  ip netns exec "$NS_C" "$RELAY" --listen "$addr:0" --upstream "$GW_ENDPOINT" --bind-src "$addr" \
    --control "$JG_WORK/relay-$name.sock" --log-json "$JG_WORK/relay-$name.jsonl" \
    > "$out" 2> "$JG_WORK/relay-$name.log" &
  SCEN_PIDS+=($!)
  for _ in $(seq 1 100); do grep -q '"ready"' "$out" 2>/dev/null && break; sleep 0.05; done
  local port
  port=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())['listen'].rsplit(':',1)[1])" "$out") \
    || gw_fail "relay $name did not start"
  printf -v "RELAY_PORT_$name" '%s' "$port"
}

# scen_relay NAME COMMAND...: one command to a running relay (see docs/relay.md); the reply
# is printed and stays in $JG_WORK/relay-reply. A refusal is told on stderr, since callers
# usually send stdout to /dev/null.
scen_relay() {
  local name=$1
  shift
  "$RELAY" control "$JG_WORK/relay-$name.sock" "$@" > "$JG_WORK/relay-reply" \
    || gw_fail "relay $name refused '$*': $(cat "$JG_WORK/relay-reply")" >&2
  cat "$JG_WORK/relay-reply"
}

status_json() { "$CLIENT" status --status-socket "$STATUS_SOCK" --json 2>/dev/null; }

# scen_wait_status PYTHON_EXPR TIMEOUT_S: until the expression over `s` (the client's status)
# holds. One process polls the status socket: spawning one per poll is slow on a loaded box.
scen_wait_status() {
  python3 - "$STATUS_SOCK" "$1" "$2" <<'PY'
import json, socket, sys, time
path, expr, deadline = sys.argv[1], sys.argv[2], time.monotonic() + float(sys.argv[3])
s = None
while time.monotonic() < deadline:
    try:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(2)
        c.connect(path)
        doc = b""
        while chunk := c.recv(65536):
            doc += chunk
        c.close()
        s = json.loads(doc)
        if eval(expr):
            sys.exit(0)
    except (OSError, ValueError):
        pass
    time.sleep(0.05)
print("status when giving up:", json.dumps(s))
sys.exit(1)
PY
}

# The Python every audit assertion runs with: `ev` the events of the log in order, `of(t)`,
# `states()` the SessionStateChange triples, `seq()` them as "FROM>TO:reason" strings (each
# optionally limited to ts_ms in [since, until]).
SCEN_AUDIT_PRELUDE='
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def of(t, since=0, until=float("inf")):
    return [e for e in ev if e.get("event_type") == t and since <= e["ts_ms"] <= until]
def states(since=0, until=float("inf")):
    return [(e["previous_state"], e["new_state"], e["reason_code"])
            for e in of("SessionStateChange", since, until)]
def seq(since=0, until=float("inf")):
    return [f"{a}>{b}:{r}" for a, b, r in states(since, until)]
'

# scen_audit WHO PYTHON: runs PYTHON (asserts) over the gateway's (gw) or the client's
# (client) audit log; a failing assert fails the scenario and prints the log.
scen_audit() {
  local file=$GW_AUDIT
  [ "$1" = client ] && file=$CLIENT_AUDIT
  python3 - "$file" "$SCEN_AUDIT_PRELUDE" "$2" <<'PY' || gw_fail "$1 audit assertion failed"
import sys
g = {}
exec(sys.argv[2], g)
try:
    exec(sys.argv[3], g)
except AssertionError as e:
    print("audit assertion:", e)
    for e2 in g["ev"]:
        print("  ", e2)
    sys.exit(1)
PY
}

# scen_wait_audit WHO PYTHON_EXPR TIMEOUT_S: until the expression over the log holds.
scen_wait_audit() {
  local file=$GW_AUDIT
  [ "$1" = client ] && file=$CLIENT_AUDIT
  python3 - "$file" "$SCEN_AUDIT_PRELUDE" "$2" "$3" <<'PY'
import sys, time
deadline = time.monotonic() + float(sys.argv[4])
while time.monotonic() < deadline:
    g = {}
    try:
        exec(sys.argv[2], g)
        if eval(sys.argv[3], g):
            sys.exit(0)
    except (OSError, ValueError, IndexError, KeyError):
        pass
    time.sleep(0.05)
sys.exit(1)
PY
}

# scen_gw_session: the live session from the gateway's admin socket (JSON).
scen_gw_session() {
  "$JUMPGATECTL" session "$SID" --node-id "e2e-$JG_TAG" --json
}

now_s() { date +%s.%N; }
elapsed_ms() { python3 -c "print(round(($(now_s) - $1) * 1000))"; }

# scen_start: gateway, relays, echo, client; returns with the client ATTACHED on path a.
scen_start() {
  gw_keys gw
  gw_keys client
  scen_policy_yaml "$P_MAX_LIFETIME_MS" > "$JG_WORK/gw-policy.yaml"
  scen_policy_yaml "$CLIENT_P_MAX_LIFETIME_MS" > "$JG_WORK/client-policy.yaml"
  gw_write_config "$(cat "$JG_WORK/client.pub")" "$(cat "$JG_WORK/gw-policy.yaml")"
  gw_start
  ip -n "$NS_C" addr add 192.0.2.3/24 dev "$TAP_O"
  ip -n "$NS_C" addr add 192.0.2.4/24 dev "$TAP_O"
  ip -n "$NS_C" addr add 192.0.2.12/32 dev lo
  ip -n "$NS_C" addr add 192.0.2.13/32 dev lo
  # The gateway learns our MACs from ARP: resolve every source before the first handshake.
  for a in 192.0.2.2 192.0.2.3 192.0.2.4; do
    ip netns exec "$NS_C" ping -c 1 -W 2 -I "$a" 192.0.2.1 > /dev/null 2>&1 || true
  done
  # Background processes never hold the test's stdout: the runner waits for it to close.
  ip netns exec "$NS_H" python3 "$SCEN_DIR/../client/udp_traffic.py" echo 198.51.100.2 7777 > /dev/null 2>&1 &
  SCEN_PIDS+=($!)
  scen_relay_start A 192.0.2.2
  scen_relay_start B 192.0.2.3
  scen_client_start
}

# scen_client_start: the client on both paths (CLIENT_AUDIT, CLIENT_LOG name its logs); returns
# with it ATTACHED on path a and SID set to its session.
scen_client_start() {
  local t0
  t0=$(now_s)
  ip netns exec "$NS_C" "$CLIENT" --headless --app-socket "127.0.0.1:$APP_PORT" \
    --inner-destination 198.51.100.2:7777 --tunnel-address 10.77.0.2 \
    --path "a=192.0.2.12@192.0.2.2:$RELAY_PORT_A" --path "b=192.0.2.13@192.0.2.3:$RELAY_PORT_B" \
    --gateway "$GW_ENDPOINT" --gateway-public-key "$JG_WORK/gw.pub" \
    --private-key "$JG_WORK/client.key" --log-json "$CLIENT_AUDIT" \
    --policy "$JG_WORK/client-policy.yaml" --policy-profile default \
    --status-socket "$STATUS_SOCK" --node-id "client-$JG_TAG" --handshake-timeout-ms 20000 \
    > "$CLIENT_LOG" 2>&1 &
  CLIENT_PID=$!
  scen_wait_status "s['state'] == 'ATTACHED' and s['active_path'] == 'a'" 25 \
    || gw_fail "client not ATTACHED on path a within 25 s"
  SID=$(status_json | python3 -c "import json,sys; print(json.load(sys.stdin)['session_id'])")
  scen_wait_audit gw "any(e['session_id'] == '$SID' for e in of('SessionCreated'))" 5 \
    || gw_fail "the gateway logged no SessionCreated for $SID"
  gw_log "$SCEN_NAME: session $SID attached after $(elapsed_ms "$t0") ms"
}

# scen_stream_start [INTERVAL_MS]: sequence-numbered traffic through the client (default 10 ms)
# and waits until echoes come back.
scen_stream_start() {
  ip netns exec "$NS_C" python3 "$SCEN_TOOL" stream "127.0.0.1:$APP_PORT" "${1:-10}" \
    "$STREAM_JSON" > "$JG_WORK/stream.log" 2>&1 &
  STREAM_PID=$!
  scen_wait_status "s['app']['received'] >= 20" 10 || gw_fail "no echoes through the tunnel"
}

# scen_stream_stop: stops the traffic and waits for its record in $STREAM_JSON.
scen_stream_stop() {
  kill -TERM "$STREAM_PID"
  wait "$STREAM_PID" || gw_fail "traffic stream failed"
  STREAM_PID=""
}

# scen_app_received: echoes the client has delivered to the app so far.
scen_app_received() {
  status_json | python3 -c "import json,sys; print(json.load(sys.stdin)['app']['received'])"
}

# scen_wait_flowing TIMEOUT_S: until 20 more echoes arrived.
scen_wait_flowing() {
  local before
  before=$(scen_app_received)
  scen_wait_status "s['app']['received'] >= $before + 20" "$1"
}

# scen_stop_client [EXPECTED_EXIT]: SIGTERM (unless it already exited) and its exit code.
scen_stop_client() {
  local want=${1:-0} rc=0
  kill -TERM "$CLIENT_PID" 2>/dev/null || true
  wait "$CLIENT_PID" || rc=$?
  CLIENT_PID=""
  [ "$rc" -eq "$want" ] || gw_fail "client exit code $rc, expected $want"
}

# scen_finish: stops everything and checks what every scenario must keep: one session on both
# sides (one SessionCreated, the same session_id throughout) and audit-check passing on both.
scen_finish() {
  [ -n "$CLIENT_PID" ] && scen_stop_client 0
  gw_stop
  scen_audit gw "
created = of('SessionCreated')
assert len(created) == 1, f'{len(created)} SessionCreated, expected 1'
assert created[0]['session_id'] == '$SID', 'gateway session differs from the client'
assert all(e['session_id'] in ('$SID', '0' * 16) for e in ev), 'events of another session'
"
  scen_audit client "
assert len(of('SessionCreated')) == 1, 'client: more than one SessionCreated'
assert all(e['session_id'] == '$SID' for e in ev), 'client events of another session'
"
  scen_audit_check
}

scen_audit_check() {
  "$JUMPGATECTL" audit-check "$GW_AUDIT" > "$JG_WORK/check.out" \
    || { cat "$JG_WORK/check.out"; gw_fail "audit-check failed on the gateway's log"; }
  "$JUMPGATECTL" audit-check "$CLIENT_AUDIT" > "$JG_WORK/check.out" \
    || { cat "$JG_WORK/check.out"; gw_fail "audit-check failed on the client's log"; }
}

# scen_result KEY=JSON_VALUE...: the scenario's one-line JSON result.
scen_result() {
  python3 - "$SCEN_NAME" "$@" <<'PY'
import json, sys
out = {"scenario": sys.argv[1]}
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    out[k] = json.loads(v)
print(json.dumps(out))
PY
}
