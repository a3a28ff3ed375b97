# Sourced by the client e2e tests, after ../gateway/gateway_env.sh: jumpgate-client headless in
# the gateway tests' client namespace (two source addresses, 192.0.2.2 and .3), a UDP echo
# server on the inner host, the client's status and audit log. Needs $CLIENT and $HERE.
command -v nft >/dev/null || { echo "SKIP: nft missing"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }

CLIENT_PID=""
ECHO_PID=""
SENDER_PID=""
CLIENT_LOG=$JG_WORK/client.log
CLIENT_AUDIT=$JG_WORK/client.jsonl
STATUS_SOCK=$JG_WORK/client.sock
APP_PORT=$((30000 + RANDOM % 10000))
# Everything is signalled and the namespaces go (gw_release) before any output or waiting: on
# a timeout the runner's SIGKILL follows its SIGTERM within a second.
client_cleanup() {
  local rc=$?
  for p in "$SENDER_PID" "$CLIENT_PID" "$ECHO_PID"; do
    if [ -n "$p" ]; then kill -TERM "$p" 2>/dev/null || true; fi
  done
  gw_release
  if [ $rc -ne 0 ] && [ -f "$CLIENT_LOG" ]; then
    echo "--- client log (last 40 lines)"; tail -n 40 "$CLIENT_LOG"
  fi
  (exit $rc)
  gw_cleanup
}
trap client_cleanup EXIT

status_json() { "$CLIENT" status --status-socket "$STATUS_SOCK" --json 2>/dev/null; }

# wait_status PYTHON_EXPR TIMEOUT_S: until the expression over `s` (status dict) holds.
wait_status() {
  local expr=$1 deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    if status_json | python3 -c "import json,sys; s=json.load(sys.stdin); sys.exit(0 if ($expr) else 1)" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  status_json || true
  return 1
}

# client_net_up: the second client address, both resolved by the gateway, the echo server.
client_net_up() {
  ip -n "$NS_C" addr add 192.0.2.3/24 dev "$TAP_O"
  # The gateway learns our MAC from ARP; resolve both addresses before the first handshake.
  ip netns exec "$NS_C" ping -c 1 -W 2 -I 192.0.2.2 192.0.2.1 > /dev/null 2>&1 || true
  ip netns exec "$NS_C" ping -c 1 -W 2 -I 192.0.2.3 192.0.2.1 > /dev/null 2>&1 || true
  ip netns exec "$NS_H" python3 "$HERE/udp_traffic.py" echo 198.51.100.2 7777 &
  ECHO_PID=$!
}

# client_start [EXTRA_ARGS...]: jumpgate-client headless with paths a=192.0.2.2, b=192.0.2.3.
client_start() {
  ip netns exec "$NS_C" "$CLIENT" --headless --app-socket "127.0.0.1:$APP_PORT" \
    --inner-destination 198.51.100.2:7777 --tunnel-address 10.77.0.2 \
    --path a=192.0.2.2 --path b=192.0.2.3 \
    --gateway 192.0.2.1:51820 --gateway-public-key "$JG_WORK/gw.pub" \
    --private-key "$JG_WORK/client.key" --log-json "$CLIENT_AUDIT" \
    --status-socket "$STATUS_SOCK" --node-id "client-$JG_TAG" --handshake-timeout-ms 20000 \
    "$@" > "$CLIENT_LOG" 2>&1 &
  CLIENT_PID=$!
}

# client_traffic_start INTERVAL_MS: sequence-numbered datagrams until $JG_WORK/stop exists;
# results in $JG_WORK/traffic.json.
client_traffic_start() {
  ip netns exec "$NS_C" python3 "$HERE/udp_traffic.py" send 127.0.0.1 "$APP_PORT" "$1" \
    "$JG_WORK/stop" "$JG_WORK/traffic.json" &
  SENDER_PID=$!
}

client_traffic_stop() {
  touch "$JG_WORK/stop"
  wait "$SENDER_PID" || gw_fail "traffic sender failed"
  SENDER_PID=""
}
