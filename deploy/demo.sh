#!/usr/bin/env bash
# The jumpgate demo (run as root): the gateway on its embedded demo configuration (two net_tap
# ports, no NIC, no hugepages) plus a stock WireGuard client and a protected host, so you can
# watch a tunnel work end to end:
#
#   netns jgdemo-client   wireguard-go, tunnel address 10.77.0.2 -- veth -- bridge jgdemo-bo
#                                                                            |  jg-outer (TAP)
#   jumpgate              outer 192.0.2.1:51820/udp               inner 198.51.100.1
#                                                                            |  jg-inner (TAP)
#   netns jgdemo-inner    198.51.100.2 ------------------------- veth -- bridge jgdemo-bi
#
# The TAPs stay in the main namespace (`ip link` shows them); the client pings the inner host
# through the tunnel, then the gateway runs until Ctrl-C (or --duration-s N). Everything the
# demo created is removed on exit.
#
# Exit status: 0 only if the tunnel carried traffic (handshake completed and the inner host
# answered pings through it) and the gateway then stopped cleanly; 1 with a message naming
# what did not work otherwise; 130 on Ctrl-C.
#
# usage: demo.sh JUMPGATE_BINARY [--audit-log FILE] [--metrics-listen IP:PORT] [jumpgate options]
#   --audit-log FILE          where the gateway appends its audit trail (default: the embedded
#                             configuration's, /tmp/jumpgate-audit.jsonl)
#   --metrics-listen IP:PORT  the Prometheus endpoint (default: the embedded 127.0.0.1:9105)
#   anything else goes to the gateway, e.g. --duration-s 10 --stats-interval-s 1
set -euo pipefail
usage="usage: demo.sh JUMPGATE_BINARY [--audit-log FILE] [--metrics-listen IP:PORT] [jumpgate options]"
JUMPGATE=${1:?$usage}
shift
audit_log="" metrics_listen="" gw_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --audit-log) [ $# -ge 2 ] || { echo "demo: --audit-log needs a file"; exit 1; }
      audit_log=$2; shift 2 ;;
    --audit-log=*) audit_log=${1#*=}; shift ;;
    --metrics-listen) [ $# -ge 2 ] || { echo "demo: --metrics-listen needs IP:PORT"; exit 1; }
      metrics_listen=$2; shift 2 ;;
    --metrics-listen=*) metrics_listen=${1#*=}; shift ;;
    *) gw_args+=("$1"); shift ;;
  esac
done
# Both go into the YAML through sed, which would mangle these characters: refuse them.
for v in "$audit_log" "$metrics_listen"; do
  case $v in
    *[[:space:]\#\&\\\"\']*)
      printf "demo: '%s': no blanks, quotes, '#', '&' or '\\\\' in --audit-log or --metrics-listen\n" "$v"
      exit 1 ;;
  esac
done
[ -x "$JUMPGATE" ] || { echo "demo: $JUMPGATE is not an executable jumpgate binary"; exit 1; }
for t in ip wireguard-go wg ping flock; do
  command -v "$t" >/dev/null || { echo "demo: $t is missing (bash deploy/install-deps.sh)"; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (DPDK, TAP devices, namespaces)"; exit 1; }

# The demo's names are fixed (the README shows them), so two demos at once would tear down each
# other's namespaces: the second one refuses to start instead.
LOCK=/run/lock/jumpgate-demo.lock
mkdir -p "$(dirname "$LOCK")"
exec 9>>"$LOCK" || { echo "demo: cannot open the lock file $LOCK"; exit 1; }
flock -n 9 || { echo "demo: another jumpgate demo is running (it holds $LOCK); stop it first"; exit 1; }
for l in jg-outer jg-inner; do
  if ip link show "$l" >/dev/null 2>&1; then
    echo "demo: interface $l already exists: another jumpgate runs the embedded configuration; stop it first"
    exit 1
  fi
done

NS_C=jgdemo-client NS_H=jgdemo-inner BR_O=jgdemo-bo BR_I=jgdemo-bi
work=$(mktemp -d /tmp/jumpgate-demo.XXXXXX)
gw_pid="" wg_pid="" tail_pid=""
stop_gateway() {  # SIGTERM is a clean shutdown; a gateway stuck for 10 s is killed
  if ! kill -TERM "$gw_pid" 2>/dev/null; then
    wait "$gw_pid" 2>/dev/null || true
    show_gateway_output
    return 0
  fi
  for _ in $(seq 1 100); do kill -0 "$gw_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$gw_pid" 2>/dev/null || true
  wait "$gw_pid" 2>/dev/null || true
  show_gateway_output
}
show_gateway_output() {  # lets the echo of the gateway's output finish before the next line
  if [ -n "$tail_pid" ]; then wait "$tail_pid" 2>/dev/null || true; tail_pid=""; fi
}
remove_links() {
  for ns in "$NS_C" "$NS_H"; do ip netns del "$ns" 2>/dev/null || true; done
  for l in "$BR_O" "$BR_I" jgdemo-co jgdemo-ho; do ip link del "$l" 2>/dev/null || true; done
}
cleanup() {
  [ -n "$gw_pid" ] && stop_gateway
  [ -n "$wg_pid" ] && { kill -TERM "$wg_pid" 2>/dev/null || true; }
  [ -n "$tail_pid" ] && { kill -TERM "$tail_pid" 2>/dev/null || true; }
  remove_links
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
remove_links  # a demo killed with -9 leaves these behind; they are ours by name and lock

# Keys: the gateway's in a file, the client's for wireguard-go.
"$JUMPGATE" genkey "$work/gw.key" 2>/dev/null
"$JUMPGATE" pubkey < "$work/gw.key" > "$work/gw.pub"
(umask 077; "$JUMPGATE" genkey > "$work/client.key")
"$JUMPGATE" pubkey < "$work/client.key" > "$work/client.pub"

# The embedded demo configuration, with this client as its one peer.
"$JUMPGATE" --print-demo-config \
  | sed -e "s#^private_key: ephemeral#private_key_file: $work/gw.key#" \
        -e "s#^peers: \[\]#peers:\n  - name: demo-client\n    public_key: $(cat "$work/client.pub")\n    allowed_ips: [10.77.0.2/32]#" \
  > "$work/demo.yaml"
# Top-level sections of the embedded configuration: `audit:` holds `path:`, `metrics:` `listen:`.
set_field() {  # SECTION KEY VALUE
  sed -i "/^$1:/,/^[^ #]/ s#^\(  $2:\).*#\1 $3#" "$work/demo.yaml"
}
yaml_field() {  # SECTION KEY
  awk -v s="$1:" -v k="$2:" '$1 == s && /^[^ ]/ { f = 1; next } /^[^ #]/ { f = 0 } f && $1 == k { print $2; exit }' "$work/demo.yaml"
}
[ -z "$audit_log" ] || set_field audit path "$audit_log"
[ -z "$metrics_listen" ] || set_field metrics listen "$metrics_listen"
audit=$(yaml_field audit path)
metrics=$(yaml_field metrics listen)
if [ -z "$audit" ] || [ -z "$metrics" ]; then
  echo "demo: the embedded configuration has no audit.path or metrics.listen"
  exit 1
fi
if ! "$JUMPGATE" --check-config "$work/demo.yaml" > "$work/check.log" 2>&1; then
  cat "$work/check.log"
  echo "demo: the demo configuration does not validate (see above)"
  exit 1
fi

ctl=$(dirname "$JUMPGATE")/../jumpgatectl/jumpgatectl
if [ -x "$ctl" ]; then ctl=$(realpath "$ctl"); else ctl=jumpgatectl; fi
print_info() {
  cat <<INFO
== demo: audit log     $audit   ($ctl audit-check $audit)
== demo: metrics       http://$metrics/metrics
== demo: TAP ports     ip link show jg-outer; ip link show jg-inner
INFO
}
fail() {  # the gateway's shutdown summary first, so that the reason is the last line
  if [ -s "$work/wireguard-go.log" ]; then
    echo "== demo: wireguard-go client log:"
    grep -v '^[┌│└]' "$work/wireguard-go.log" | tail -n 20 || true
  fi
  print_info
  if [ -n "$gw_pid" ]; then stop_gateway; gw_pid=""; fi
  echo "demo: FAILED: $*"
  exit 1
}
gateway_alive() { kill -0 "$gw_pid" 2>/dev/null; }

# fd 9 (the lock) is not passed on: a stray child must not keep the next demo out. The
# gateway writes to a file and `tail` echoes it, ending soon after the gateway does, so the
# demo can wait for the echo before printing its own last line.
"$JUMPGATE" --config "$work/demo.yaml" "${gw_args[@]}" > "$work/gateway.log" 2>&1 9>&- &
gw_pid=$!
tail -n +1 -s 0.2 -f --pid="$gw_pid" "$work/gateway.log" 9>&- &
tail_pid=$!
for _ in $(seq 1 150); do
  grep -q "gateway running" "$work/gateway.log" 2>/dev/null && break
  gateway_alive || fail "the gateway exited during start-up (see its output above)"
  sleep 0.1
done
grep -q "gateway running" "$work/gateway.log" || fail "the gateway did not report 'gateway running' within 15 s"
for l in jg-outer jg-inner; do
  ip link show "$l" >/dev/null 2>&1 || fail "the gateway is running but its TAP interface $l does not exist"
done
echo "== demo: the gateway's TAP ports, as the kernel sees them:"
ip -br link show jg-outer
ip -br link show jg-inner

# Wire the TAPs to the namespaces through bridges. The kernel side of a net_tap TAP carries
# the DPDK port's own MAC; a bridge treats its ports' MACs as local, so give the TAPs others.
ip netns add "$NS_C"
ip netns add "$NS_H"
wire() {  # TAP BRIDGE VETH NS ADDR MAC
  ip link set "$1" address "$6"
  ip link add "$2" type bridge
  ip link add "$3" type veth peer name eth0 netns "$4"
  ip link set "$1" master "$2"
  ip link set "$3" master "$2"
  for l in "$1" "$2" "$3"; do ip link set "$l" up; done
  ip -n "$4" addr add "$5" dev eth0
  ip -n "$4" link set eth0 up
  ip -n "$4" link set lo up
}
wire jg-outer "$BR_O" jgdemo-co "$NS_C" 192.0.2.2/24 02:00:00:00:0f:01
wire jg-inner "$BR_I" jgdemo-ho "$NS_H" 198.51.100.2/24 02:00:00:00:0f:02
ip -n "$NS_H" route add 10.77.0.0/24 via 198.51.100.1

# A stock WireGuard client.
# Verbose, so that a failed handshake shows in its log (printed only on failure).
ip netns exec "$NS_C" env LOG_LEVEL=verbose wireguard-go -f wg0 > "$work/wireguard-go.log" 2>&1 9>&- &
wg_pid=$!
for _ in $(seq 1 50); do ip -n "$NS_C" link show wg0 >/dev/null 2>&1 && break; sleep 0.1; done
ip -n "$NS_C" link show wg0 >/dev/null 2>&1 || fail "wireguard-go did not create its interface wg0 in $NS_C"
ip netns exec "$NS_C" wg set wg0 private-key "$work/client.key" \
  peer "$(cat "$work/gw.pub")" endpoint 192.0.2.1:51820 allowed-ips 198.51.100.0/24 \
  persistent-keepalive 25
ip -n "$NS_C" addr add 10.77.0.2/32 dev wg0
ip -n "$NS_C" link set wg0 mtu 1420 up
ip -n "$NS_C" route add 198.51.100.0/24 dev wg0

# The first packet into wg0 starts the handshake; wireguard-go retries it every 5 s, so 12 s
# allows the first attempt and two retries.
echo
echo "== demo: $NS_C (10.77.0.2) handshakes with jumpgate (192.0.2.1:51820)"
ip netns exec "$NS_C" ping -c 1 -W 1 198.51.100.2 >/dev/null 2>&1 || true
handshake=0
for _ in $(seq 1 120); do
  handshake=$(ip netns exec "$NS_C" wg show wg0 latest-handshakes 2>/dev/null | awk '{ print $2; exit }') \
    || fail "handshake not completed: the client's wireguard-go is gone (see its log above)"
  [ "${handshake:-0}" -gt 0 ] && break
  gateway_alive || fail "handshake not completed: the gateway stopped first (is --duration-s too short?)"
  sleep 0.1
done
if [ "${handshake:-0}" -le 0 ]; then
  # Whether the client could resolve the gateway's MAC tells a dead link from a dead handshake.
  arp=$(ip -n "$NS_C" neigh show 192.0.2.1 dev eth0 | awk '{ print $NF; exit }')
  fail "handshake not completed: the client got no handshake response from jumpgate at" \
    "192.0.2.1:51820 within 12 s (client's ARP entry for 192.0.2.1: ${arp:-none})"
fi
echo "== demo: handshake completed"

echo "== demo: $NS_C (10.77.0.2) pings the inner host 198.51.100.2 through jumpgate"
ip netns exec "$NS_C" ping -c 4 -i 0.3 -W 2 198.51.100.2 | tee "$work/ping.log" || true
replies=$(sed -n 's/.*transmitted, \([0-9]*\) received.*/\1/p' "$work/ping.log")
if [ "${replies:-0}" -eq 0 ]; then
  gateway_alive || fail "no ping replies: the gateway stopped during the ping (is --duration-s too short?)"
  fail "no ping replies from 198.51.100.2 through the tunnel (the handshake completed, but no traffic came back)"
fi
echo "== demo: the tunnel works: $replies of 4 pings answered through jumpgate."
print_info
cat <<INFO
== demo: try           ip netns exec $NS_C ping 198.51.100.2
== demo: the gateway runs until Ctrl-C (or --duration-s); its shutdown summary follows.
INFO
rc=0
wait "$gw_pid" || rc=$?
gw_pid=""
show_gateway_output
[ "$rc" -eq 0 ] || fail "the gateway exited with status $rc (see its output above)"
echo "== demo: done; the gateway stopped cleanly."
