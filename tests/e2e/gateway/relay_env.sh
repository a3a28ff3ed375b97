# Sourced after gateway_env.sh by tests that put a jumpgate-relay between the stock client
# and the gateway: the relay runs in the client namespace, listens on loopback and sends
# upstream from the client's outer address, so the gateway sees the relay as the client.
#
#   wireguard-go (endpoint 127.0.0.1:RELAY_PORT) -> relay -> 192.0.2.2:ephemeral -> 192.0.2.1:51820
#
# Needs $RELAY (the jumpgate-relay binary). The relay is stopped by gw_cleanup through WG_PIDS.

RELAY_SOCK=$JG_WORK/relay.sock
RELAY_OUT=$JG_WORK/relay.out
RELAY_EVENTS=$JG_WORK/relay-events.jsonl
RELAY_PID=""
RELAY_PORT=""

# relay_up [EXTRA_FLAGS...]: starts the relay, waits for its ready line, sets RELAY_PORT.
relay_up() {
  ip netns exec "$NS_C" "$RELAY" --listen 127.0.0.1:0 --upstream 192.0.2.1:51820 \
    --bind-src 192.0.2.2 --control "$RELAY_SOCK" --log-json "$RELAY_EVENTS" "$@" \
    > "$RELAY_OUT" 2> "$JG_WORK/relay.err" &
  RELAY_PID=$!
  WG_PIDS+=("$RELAY_PID")
  for _ in $(seq 1 100); do grep -q '"ready"' "$RELAY_OUT" 2>/dev/null && break; sleep 0.05; done
  RELAY_PORT=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["listen"].rsplit(":", 1)[1])' \
    "$RELAY_OUT" 2>/dev/null) || gw_fail "relay did not start: $(cat "$JG_WORK/relay.err")"
}

# relay_cmd COMMAND...: one command to the relay; fails the test if it is refused.
relay_cmd() {
  "$RELAY" control "$RELAY_SOCK" "$@" > "$JG_WORK/relay-reply" \
    || gw_fail "relay refused '$*': $(cat "$JG_WORK/relay-reply")"
  cat "$JG_WORK/relay-reply"
}

# relay_point_client IFNAME: the stock client's peer endpoint becomes the relay.
relay_point_client() {
  ip netns exec "$NS_C" wg set "$1" peer "$(cat "$JG_WORK/gw.pub")" endpoint "127.0.0.1:$RELAY_PORT"
}

# relay_down: SIGTERM, expect exit 0; sets RELAY_FINAL to the final statistics (JSON). Not
# in a command substitution: only this shell can wait for the relay.
relay_down() {
  kill -TERM "$RELAY_PID"
  local rc=0
  wait "$RELAY_PID" || rc=$?
  [ $rc -eq 0 ] || gw_fail "relay exit code $rc after SIGTERM"
  RELAY_FINAL=$(tail -n 1 "$RELAY_OUT")
}
