# Sourced by the gateway e2e tests: a jumpgate gateway on two net_tap ports whose TAP
# interfaces are moved into namespaces made for this run — a client namespace (outer side,
# running a stock wireguard-go) and an inner-host namespace (the protected network).
#
#   client ns  jgc<tag>: TAP jgo<tag> 192.0.2.2/24 (+ .3 for address roaming), wg interface
#                        wc<tag> with tunnel address 10.77.0.2/32
#   gateway:            outer 192.0.2.1/24, inner 198.51.100.1/24, UDP 51820
#   inner ns   jgh<tag>: TAP jgi<tag> 198.51.100.2/24, route 10.77.0.0/24 via the gateway
#
# Everything is named with a per-run tag and removed by gw_cleanup (installed as an EXIT trap),
# processes are stopped by the PIDs recorded here.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../free_port.sh"

# A tag no namespace or link of another run carries: gw_release deletes by these names.
jg_tag_free() {
  local namespaces
  namespaces=$(ip netns list 2>/dev/null || true)
  ! grep -qE "^jg[ch]$1( |\$)" <<< "$namespaces" &&
    ! ip link show "jgo$1" > /dev/null 2>&1 && ! ip link show "jgi$1" > /dev/null 2>&1
}
JG_TAG=""
for _ in $(seq 1 20); do
  jg_try=$(printf '%04x' $(( (RANDOM << 1 ^ $$) & 0xffff )))
  if jg_tag_free "$jg_try"; then JG_TAG=$jg_try; break; fi
done
[ -n "$JG_TAG" ] || { echo "FAIL: no free run tag in 20 tries (leftover jg* namespaces?)"; exit 1; }
JG_WORK=$(mktemp -d /tmp/jg-e2e.XXXXXX)
NS_C=jgc$JG_TAG
NS_H=jgh$JG_TAG
TAP_O=jgo$JG_TAG
TAP_I=jgi$JG_TAG
WG_C=wc$JG_TAG
GW_PID=""
GW_METRICS_PORT=""
WG_PIDS=()
EXTRA_NS=()
GW_LOG=$JG_WORK/gateway.log
GW_AUDIT=$JG_WORK/audit.jsonl

gw_log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*"; }

# gw_release: SIGTERM to every process this run started, then its namespaces and TAPs go,
# without waiting for anything. A test runner that times out sends SIGTERM and SIGKILL half
# a second apart, so nothing may stand before the `ip netns del`. A gateway still running is
# left to gw_cleanup's graceful wait; the normal path stops it with gw_stop and checks its exit.
gw_release() {
  if [ -n "$GW_PID" ]; then kill -TERM "$GW_PID" 2>/dev/null || true; fi
  for p in "${WG_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for ns in "$NS_C" "$NS_H" "${EXTRA_NS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  ip link del "$TAP_O" 2>/dev/null || true
  ip link del "$TAP_I" 2>/dev/null || true
}

# gw_reap PID: up to 5 s for a process already sent SIGTERM to exit, then SIGKILL.
gw_reap() {
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}

gw_cleanup() {
  local rc=$?
  gw_release
  # A gateway still running gets its graceful stop after the namespaces are gone: first when
  # the test failed, so that its log shows the shutdown summary; otherwise (a runner's timeout
  # lands here with status 0) after the work directory is gone too.
  if [ $rc -ne 0 ] && [ -n "$GW_PID" ]; then gw_reap "$GW_PID"; fi
  if [ $rc -ne 0 ] && [ -f "$GW_LOG" ]; then
    echo "--- gateway log (last 60 lines)"; tail -n 60 "$GW_LOG"
  fi
  rm -rf "$JG_WORK"
  if [ -n "$GW_PID" ]; then gw_reap "$GW_PID"; fi
  return $rc
}
trap gw_cleanup EXIT

gw_fail() { echo "FAIL: $*"; exit 1; }

gw_require_tools() {
  [ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
  for t in ip wireguard-go wg ping; do
    command -v "$t" >/dev/null || { echo "SKIP: $t missing"; exit 77; }
  done
}

# gw_keys NAME: writes $JG_WORK/NAME.key (private) and NAME.pub.
gw_keys() {
  (umask 077; wg genkey > "$JG_WORK/$1.key")
  wg pubkey < "$JG_WORK/$1.key" > "$JG_WORK/$1.pub"
}

# gw_write_config PEER_PUBKEY [POLICY_YAML]: gateway config for this run; its metrics
# endpoint listens on 127.0.0.1:$GW_METRICS_PORT, a port free when the config is written.
gw_write_config() {
  local peer_pub=$1 policy=${2:-}
  GW_METRICS_PORT=$(free_port)
  cat > "$JG_WORK/gw.yaml" <<YAML
node_id: e2e-$JG_TAG
eal:
  lcores: "0-1"
  memory_mb: 256
  no_huge: true
  no_pci: true
  vdevs: ["net_tap0,iface=$TAP_O", "net_tap1,iface=$TAP_I"]
ports:
  - {name: outer, role: outer, device: net_tap0, ipv4: 192.0.2.1/24, rx_queues: 1, tx_queues: 1}
  - {name: inner, role: inner, device: net_tap1, ipv4: 198.51.100.1/24, rx_queues: 1, tx_queues: 1}
control_lcore: 0
workers:
  - lcore: 1
    queues: [{port: outer, queue: 0}, {port: inner, queue: 0}]
listen_port: 51820
private_key_file: $JG_WORK/gw.key
peers:
  - name: client
    public_key: $peer_pub
    allowed_ips: [10.77.0.2/32]
$policy
metrics:
  listen: 127.0.0.1:$GW_METRICS_PORT
audit:
  path: $GW_AUDIT
YAML
}

# gw_start: starts the gateway in the background and moves its TAPs into the namespaces.
gw_start() {
  ip netns add "$NS_C"
  ip netns add "$NS_H"
  "$JUMPGATE" --config "$JG_WORK/gw.yaml" > "$GW_LOG" 2>&1 &
  GW_PID=$!
  for _ in $(seq 1 150); do
    grep -q "gateway running" "$GW_LOG" 2>/dev/null && break
    kill -0 "$GW_PID" 2>/dev/null || gw_fail "gateway exited during start-up"
    sleep 0.1
  done
  grep -q "gateway running" "$GW_LOG" || gw_fail "gateway did not come up in 15 s"
  ip link set "$TAP_O" netns "$NS_C"
  ip link set "$TAP_I" netns "$NS_H"
  # net_tap gives the kernel side of a TAP the DPDK port's own MAC; a host and the gateway
  # sharing one MAC cannot resolve each other, so the hosts get their own (locally
  # administered) addresses. Moved into their namespaces, DPDK no longer resyncs them.
  ip -n "$NS_C" link set "$TAP_O" address 02:00:00:c0:00:02
  ip -n "$NS_H" link set "$TAP_I" address 02:00:00:c6:00:02
  ip -n "$NS_C" addr add 192.0.2.2/24 dev "$TAP_O"
  ip -n "$NS_C" link set "$TAP_O" up
  ip -n "$NS_C" link set lo up
  ip -n "$NS_H" addr add 198.51.100.2/24 dev "$TAP_I"
  ip -n "$NS_H" link set "$TAP_I" up
  ip -n "$NS_H" link set lo up
  ip -n "$NS_H" route add 10.77.0.0/24 via 198.51.100.1
}

# gw_client_up KEYNAME [LISTEN_PORT]: stock wireguard-go in the client namespace.
gw_client_up() {
  local key=$1 lport=${2:-41000}
  ip netns exec "$NS_C" env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$WG_C" \
    > "$JG_WORK/wg-$WG_C.log" 2>&1 &
  WG_PIDS+=($!)
  for _ in $(seq 1 50); do ip -n "$NS_C" link show "$WG_C" >/dev/null 2>&1 && break; sleep 0.1; done
  ip -n "$NS_C" link show "$WG_C" >/dev/null 2>&1 || gw_fail "wireguard-go did not create $WG_C"
  ip netns exec "$NS_C" wg set "$WG_C" private-key "$JG_WORK/$key.key" listen-port "$lport" \
    peer "$(cat "$JG_WORK/gw.pub")" endpoint 192.0.2.1:51820 allowed-ips 198.51.100.0/24
  ip -n "$NS_C" addr add 10.77.0.2/32 dev "$WG_C"
  ip -n "$NS_C" link set "$WG_C" mtu 1420 up
  ip -n "$NS_C" route add 198.51.100.0/24 dev "$WG_C"
}

# gw_audit_check: the gateway's audit log satisfies the contract's invariants.
gw_audit_check() {
  [ -n "${JUMPGATECTL:-}" ] || return 0
  "$JUMPGATECTL" audit-check "$GW_AUDIT" || gw_fail "audit-check found violations in $GW_AUDIT"
}

# gw_stop: SIGTERM, wait, expect a clean exit.
gw_stop() {
  kill -TERM "$GW_PID"
  local rc=0
  wait "$GW_PID" || rc=$?
  GW_PID=""
  [ $rc -eq 0 ] || gw_fail "gateway exit code $rc after SIGTERM"
}

# gw_wait_handshake IFNAME [TIMEOUT_S]: waits until IFNAME in the client namespace reports a
# completed handshake with its (only) peer; returns 1 on timeout.
gw_wait_handshake() {
  local ifn=$1 t=${2:-10} hs
  for _ in $(seq 1 $((t * 10))); do
    hs=$(ip netns exec "$NS_C" wg show "$ifn" latest-handshakes 2>/dev/null | awk '{print $2}')
    [ -n "$hs" ] && [ "$hs" != 0 ] && return 0
    sleep 0.1
  done
  return 1
}

# gw_wait_listening NS PORT PID: waits up to 5 s until a TCP socket in namespace NS listens
# on PORT; returns 1 (with a message) on timeout or when PID, the server, has exited.
gw_wait_listening() {
  local ns=$1 port=$2 pid=$3
  for _ in $(seq 1 50); do
    [ -n "$(ip netns exec "$ns" ss -Hltn "sport = :$port")" ] && return 0
    kill -0 "$pid" 2>/dev/null || { echo "server (PID $pid) exited before listening on $ns port $port"; return 1; }
    sleep 0.1
  done
  echo "nothing listens on $ns port $port after 5 s"
  return 1
}

# gw_ping NS DST COUNT: bounded ping; returns ping's status, output in $JG_WORK/ping-last.log.
gw_ping() {
  timeout 30 ip netns exec "$1" ping -c "$3" -i 0.2 -W 2 "$2" > "$JG_WORK/ping-last.log" 2>&1
}

# gw_extra_client_up IFNAME KEYNAME LISTEN_PORT TUNNEL_ADDR TABLE: a second stock wireguard-go
# interface in the client namespace. Its traffic is routed by an oif rule into its own table,
# so `ping -I IFNAME` goes through it while the main table keeps using $WG_C.
gw_extra_client_up() {
  local ifn=$1 key=$2 lport=$3 addr=$4 table=$5
  ip netns exec "$NS_C" env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$ifn" \
    > "$JG_WORK/wg-$ifn.log" 2>&1 &
  WG_PIDS+=($!)
  for _ in $(seq 1 50); do ip -n "$NS_C" link show "$ifn" >/dev/null 2>&1 && break; sleep 0.1; done
  ip -n "$NS_C" link show "$ifn" >/dev/null 2>&1 || gw_fail "wireguard-go did not create $ifn"
  ip netns exec "$NS_C" wg set "$ifn" private-key "$JG_WORK/$key.key" listen-port "$lport" \
    peer "$(cat "$JG_WORK/gw.pub")" endpoint 192.0.2.1:51820 allowed-ips 198.51.100.0/24
  ip -n "$NS_C" addr add "$addr/32" dev "$ifn"
  ip -n "$NS_C" link set "$ifn" mtu 1420 up
  ip -n "$NS_C" route add 198.51.100.0/24 dev "$ifn" table "$table"
  ip -n "$NS_C" rule add oif "$ifn" table "$table"
}

# gw_summary_line PATTERN: the gateway's shutdown summary line matching PATTERN (after gw_stop).
gw_summary_line() {
  grep -E "$1" "$GW_LOG" | tail -n 1
}

# gw_audit_assert PYTHON: runs PYTHON with `ev` bound to the list of audit events (dicts, in
# log order) and a helper `of(type)`; a failing assert fails the test with its message.
gw_audit_assert() {
  python3 - "$GW_AUDIT" "$1" <<'PY' || gw_fail "audit log assertion failed (log: $(wc -l < "$GW_AUDIT") events)"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def of(t):
    return [e for e in ev if e.get("event_type") == t]
try:
    exec(sys.argv[2])
except AssertionError as e:
    print("audit assertion:", e)
    for e2 in ev:
        print("  ", json.dumps(e2, sort_keys=True))
    sys.exit(1)
PY
}

# gw_up_with_stock_client [LISTEN_PORT]: the opening most gateway tests share: keys for the
# gateway and a stock client, a config with that client as the only peer, the gateway and
# stock wireguard-go up, then gw_establish.
gw_up_with_stock_client() {
  gw_keys gw
  gw_keys client
  gw_write_config "$(cat "$JG_WORK/client.pub")"
  gw_start
  gw_client_up client "$@"
  gw_establish
}

# gw_establish: first traffic from the client starts the handshake (a response lost while
# the gateway resolves the client's MAC is retried by wireguard-go after REKEY_TIMEOUT,
# 5 s); waits up to 15 s for the handshake, then 3 pings through the tunnel must succeed.
gw_establish() {
  timeout 20 ip netns exec "$NS_C" ping -c 12 -i 1 -W 1 -w 15 198.51.100.2 > "$JG_WORK/ping-first.log" 2>&1 &
  local p=$!
  WG_PIDS+=("$p")
  gw_wait_handshake "$WG_C" 15 || gw_fail "no handshake between the client and jumpgate in 15 s"
  kill -TERM "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  gw_ping "$NS_C" 198.51.100.2 3 || { cat "$JG_WORK/ping-last.log"; gw_fail "no ping through jumpgate after the handshake"; }
}
