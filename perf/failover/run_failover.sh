#!/usr/bin/env bash
# Failover benchmark: the real DPDK gateway on net_tap in namespaces; jumpgate-client
# (headless) with two paths through two jumpgate-relays; sequence-numbered UDP through the
# tunnel to an echo on the inner host, every 10 ms each way. Forces N transport deaths (the
# active path's relay blackholed until the client has switched, then restored so the next death
# can hit the other path) and N NAT rebindings (the active relay's rebind-port); then the same
# events for a stock wireguard-go client on one path through one relay (a blackhole lasts
# --stock-hold-ms). Prints p50/p95/p99 recovery time, packets lost per event and session resets
# as JSON (results.json) plus a CDF plot (recovery.png) in --out.
#
# usage: run_failover.sh --build DIR [--events N] [--out DIR] [--interval-ms MS]
#                        [--stock-hold-ms MS] [--no-stock] [--check-smoke]
# --build: a meson build dir with app/jumpgate{,ctl,-client,-relay} built.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3  # Debian's, which has matplotlib; a pyenv python3 earlier in PATH may not
BUILD=""
EVENTS=100
OUT=$PWD/failover-results
INTERVAL_MS=10
STOCK_HOLD_MS=1000
SETTLE_MS=400
STOCK=1
CHECK=""
HB_INTERVAL_MS=100
HB_VOLATILE_MS=250
usage() { sed -n '11,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=${2:?--build needs a directory}; shift 2 ;;
    --events) EVENTS=${2:?--events needs a count}; shift 2 ;;
    --out) OUT=${2:?--out needs a directory}; shift 2 ;;
    --interval-ms) INTERVAL_MS=${2:?}; shift 2 ;;
    --stock-hold-ms) STOCK_HOLD_MS=${2:?}; shift 2 ;;
    --no-stock) STOCK=""; shift ;;
    --check-smoke) CHECK=--check-smoke; shift ;;
    -h|--help) usage ;;
    *) echo "run_failover.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[[ $EVENTS =~ ^[0-9]+$ ]] && [ "$EVENTS" -ge 1 ] || { echo "run_failover.sh: --events must be a count >= 1, got '$EVENTS'" >&2; exit 2; }
[ -n "$BUILD" ] || { echo "run_failover.sh: --build DIR is required" >&2; exit 2; }
JUMPGATE=$BUILD/app/jumpgate/jumpgate
JUMPGATECTL=$BUILD/app/jumpgatectl/jumpgatectl
CLIENT=$BUILD/app/jumpgate-client/jumpgate-client
RELAY=$BUILD/app/jumpgate-relay/jumpgate-relay
for b in "$JUMPGATE" "$JUMPGATECTL" "$CLIENT" "$RELAY"; do
  [ -x "$b" ] || { echo "run_failover.sh: $b is not built" >&2; exit 2; }
done
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

source "$ROOT/tests/e2e/gateway/gateway_env.sh"
gw_require_tools
"$PY" -c "import matplotlib" 2>/dev/null || { echo "SKIP: $PY lacks matplotlib"; exit 77; }

PIDS=()
# Everything the analysis reads, and the logs, stay in $OUT/run, also after a failure.
RUN=$OUT/run
rm -rf "$RUN"
mkdir -p "$RUN"
bench_cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  cp "$GW_LOG" "$RUN/gateway.log" 2>/dev/null || true
  cp "$GW_AUDIT" "$RUN/gateway-audit.jsonl" 2>/dev/null || true
  if [ $rc -ne 0 ]; then
    for f in "$RUN"/client.log "$RUN"/relay-*.log; do
      [ -f "$f" ] && { echo "--- $f (last 20 lines)"; tail -n 20 "$f"; }
    done
    echo "logs in $RUN"
  fi
  gw_cleanup
}
trap bench_cleanup EXIT
t_start=$(date +%s)

# One policy for the gateway and the client (the client takes the gateway's heartbeat timing
# from HELLO_ACK, but its switch gate is its own). The gate lets a switch every event: one
# event a second is far above a real user's rate, and a denial would measure the gate, not the
# failover (the gateway caps the rate at 64 a minute: events are spaced 1.1 s). Loss never makes either side VOLATILE here (threshold 1.0, drops 1000): the
# benchmark times silence detection and path moves; loss-driven switching is the loss-spike
# scenario's subject, and a loss estimate disturbed by the switch itself would start failovers
# nobody forced.
POLICY="  failover:
    version: \"failover-bench-1\"
    session: {max_lifetime_ms: 28800000, transport_lost_ttl_ms: 15000}
    volatility: {heartbeat_interval_ms: $HB_INTERVAL_MS, heartbeat_volatile_ms: $HB_VOLATILE_MS, loss_volatile_threshold: 1.0, max_consecutive_drops: 1000}
    switching: {max_switches_per_min: 600, switch_cooldown_ms: 0, recovery_window_ms: 8000}
    security: {reattach_proof_max_age_ms: 5000}
"
printf 'policies:\n%s' "$POLICY" > "$JG_WORK/client-policy.yaml"

gw_keys gw
gw_keys jgclient
gw_keys stock
JG_IP=10.77.0.3     # jumpgate-client's tunnel address
STOCK_IP=10.77.0.2  # wireguard-go's (gw_client_up's)
gw_write_config "$(cat "$JG_WORK/stock.pub")"
"$PY" - "$JG_WORK/gw.yaml" "$(cat "$JG_WORK/jgclient.pub")" "$(cat "$JG_WORK/stock.pub")" \
  "$POLICY" <<'PY'
import re, sys
path, jg, stock, policy = sys.argv[1:5]
text = open(path).read()
peers = (f"  - {{name: jgclient, public_key: {jg}, allowed_ips: [10.77.0.3/32], policy: failover}}\n"
         f"  - {{name: stock, public_key: {stock}, allowed_ips: [10.77.0.2/32], policy: failover}}\n")
text = re.sub(r"peers:\n(  .*\n)+", "peers:\n" + peers, text)
text += "policies:\n" + policy
open(path, "w").write(text)
PY
"$JUMPGATE" --check-config "$JG_WORK/gw.yaml" > /dev/null \
  || gw_fail "the benchmark's gateway configuration is invalid"
gw_start
ip -n "$NS_C" addr add 192.0.2.3/24 dev "$TAP_O"
# The client's own path sockets: not loopback (the state machine refuses loopback switch
# candidates) and not the relays' addresses.
ip -n "$NS_C" addr add 192.0.2.12/32 dev lo
ip -n "$NS_C" addr add 192.0.2.13/32 dev lo
# The gateway learns the relays' MACs from ARP; resolve both addresses first.
ip netns exec "$NS_C" ping -c 1 -W 2 -I 192.0.2.2 192.0.2.1 > /dev/null 2>&1 || true
ip netns exec "$NS_C" ping -c 1 -W 2 -I 192.0.2.3 192.0.2.1 > /dev/null 2>&1 || true

# start_relay NAME ADDR: a relay in the client namespace listening on ADDR, its upstream
# socket on ADDR too; sets RELAY_PORT to its listening port.
start_relay() {
  local name=$1 src=$2
  ip netns exec "$NS_C" "$RELAY" --listen "$src:0" --upstream 192.0.2.1:51820 \
    --bind-src "$src" --control "$JG_WORK/relay-$name.sock" \
    --log-json "$RUN/relay-$name.jsonl" > "$RUN/relay-$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 50); do grep -q '"ready"' "$RUN/relay-$name.log" 2>/dev/null && break; sleep 0.1; done
  RELAY_PORT=$(grep -m1 '"ready"' "$RUN/relay-$name.log" | "$PY" -c \
    'import json,sys; print(json.load(sys.stdin)["listen"].rsplit(":",1)[1])') \
    || gw_fail "relay $name did not start"
}

# start_echo NAME: the inner host's echo, recording arrivals into $RUN/echo-NAME.json.
start_echo() {
  ip netns exec "$NS_H" "$PY" "$HERE/failover_traffic.py" echo 198.51.100.2 7777 \
    "$RUN/echo-$1.json" &
  ECHO_PID=$!
  PIDS+=($ECHO_PID)
}
stop_echo() {  # NAME
  kill -TERM "$ECHO_PID"
  wait "$ECHO_PID" 2>/dev/null || true
  [ -f "$RUN/echo-$1.json" ] || gw_fail "the echo did not write its arrivals"
}

# --- jumpgate-client: two paths, two relays --------------------------------------------------
start_relay a 192.0.2.2; PORT_A=$RELAY_PORT
start_relay b 192.0.2.3; PORT_B=$RELAY_PORT
start_echo jumpgate
APP_PORT=$((30000 + RANDOM % 10000))
ip netns exec "$NS_C" "$CLIENT" --headless --app-socket "127.0.0.1:$APP_PORT" \
  --inner-destination 198.51.100.2:7777 --tunnel-address "$JG_IP" \
  --path "a=192.0.2.12@192.0.2.2:$PORT_A" --path "b=192.0.2.13@192.0.2.3:$PORT_B" \
  --gateway 192.0.2.1:51820 --gateway-public-key "$JG_WORK/gw.pub" \
  --private-key "$JG_WORK/jgclient.key" --policy "$JG_WORK/client-policy.yaml" \
  --policy-profile failover --log-json "$RUN/client-audit.jsonl" \
  --status-socket "$JG_WORK/client.sock" --node-id "bench-$JG_TAG" --handshake-timeout-ms 20000 \
  > "$RUN/client.log" 2>&1 &
CLIENT_PID=$!
PIDS+=($CLIENT_PID)
for _ in $(seq 1 200); do
  "$CLIENT" status --status-socket "$JG_WORK/client.sock" 2>/dev/null | grep -q ATTACHED && break
  kill -0 "$CLIENT_PID" 2>/dev/null || gw_fail "jumpgate-client exited"
  sleep 0.1
done
"$CLIENT" status --status-socket "$JG_WORK/client.sock" | grep -q ATTACHED \
  || gw_fail "jumpgate-client not ATTACHED within 20 s"
gw_log "jumpgate-client attached; $EVENTS transport deaths, then $EVENTS NAT rebindings"
ip netns exec "$NS_C" "$PY" "$HERE/failover_traffic.py" drive --dest "127.0.0.1:$APP_PORT" \
  --relay "a=$JG_WORK/relay-a.sock" --relay "b=$JG_WORK/relay-b.sock" \
  --status-socket "$JG_WORK/client.sock" --deaths "$EVENTS" --rebinds "$EVENTS" \
  --interval-ms "$INTERVAL_MS" --settle-ms "$SETTLE_MS" --out "$RUN/jumpgate.json" \
  || gw_fail "the jumpgate-client run failed"
"$CLIENT" status --status-socket "$JG_WORK/client.sock" > "$RUN/client-status.txt" || true
kill -TERM "$CLIENT_PID"
wait "$CLIENT_PID" || gw_fail "jumpgate-client exit code $? after SIGTERM"
stop_echo jumpgate

# --- wireguard-go: one path through one relay --------------------------------------------------
if [ -n "$STOCK" ]; then
  start_relay s 192.0.2.2; PORT_S=$RELAY_PORT
  start_echo stock
  gw_client_up stock 41000
  ip netns exec "$NS_C" wg set "$WG_C" peer "$(cat "$JG_WORK/gw.pub")" endpoint "192.0.2.2:$PORT_S"
  gw_establish
  gw_log "wireguard-go attached; $EVENTS blackholes of ${STOCK_HOLD_MS} ms, then $EVENTS NAT rebindings"
  ip netns exec "$NS_C" "$PY" "$HERE/failover_traffic.py" drive --dest 198.51.100.2:7777 \
    --relay "s=$JG_WORK/relay-s.sock" --deaths "$EVENTS" --rebinds "$EVENTS" \
    --interval-ms "$INTERVAL_MS" --settle-ms "$SETTLE_MS" --hold-ms "$STOCK_HOLD_MS" \
    --out "$RUN/stock.json" || gw_fail "the wireguard-go run failed"
  stop_echo stock
fi

gw_stop
cp "$GW_AUDIT" "$RUN/gateway-audit.jsonl"
for log in gateway-audit client-audit; do
  "$JUMPGATECTL" audit-check --policy "$JG_WORK/client-policy.yaml" --profile failover \
    "$RUN/$log.jsonl" > "$RUN/$log-check.txt" || { cat "$RUN/$log-check.txt"; gw_fail "audit-check: $log"; }
done
"$PY" - "$RUN/run.json" <<PY
import json, os, sys, time
json.dump({"heartbeat_interval_ms": $HB_INTERVAL_MS, "heartbeat_volatile_ms": $HB_VOLATILE_MS,
           "interval_ms": $INTERVAL_MS, "events": $EVENTS, "stock_hold_ms": $STOCK_HOLD_MS,
           "jumpgate_tunnel_ip": "$JG_IP", "stock_tunnel_ip": "$STOCK_IP",
           "jumpgate_peer": open("$JG_WORK/jgclient.pub").read().strip(),
           "stock_peer": open("$JG_WORK/stock.pub").read().strip(),
           "load_average": [round(x, 2) for x in os.getloadavg()],
           "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
          open(sys.argv[1], "w"), indent=1)
PY
"$PY" "$HERE/analyze_failover.py" --run "$RUN" --out "$OUT/results.json" \
  --png "$OUT/recovery.png" --events-out "$OUT/events.jsonl" $CHECK
gw_log "results in $OUT/results.json, plot $OUT/recovery.png ($(( $(date +%s) - t_start )) s)"
