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
# usage: demo.sh JUMPGATE_BINARY [--duration-s N] [other jumpgate options]
set -euo pipefail
JUMPGATE=${1:?usage: demo.sh JUMPGATE_BINARY [jumpgate options]}
shift
for t in ip wireguard-go wg ping; do
  command -v "$t" >/dev/null || { echo "demo: $t is missing (bash deploy/install-deps.sh)"; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (DPDK, TAP devices, namespaces)"; exit 1; }

NS_C=jgdemo-client NS_H=jgdemo-inner BR_O=jgdemo-bo BR_I=jgdemo-bi
work=$(mktemp -d /tmp/jumpgate-demo.XXXXXX)
gw_pid="" wg_pid=""
cleanup() {
  [ -n "$gw_pid" ] && kill -TERM "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null || true
  [ -n "$wg_pid" ] && kill -TERM "$wg_pid" 2>/dev/null || true
  for ns in "$NS_C" "$NS_H"; do ip netns del "$ns" 2>/dev/null || true; done
  for l in "$BR_O" "$BR_I" jgdemo-co jgdemo-ho; do ip link del "$l" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup_previous() {  # a demo killed with -9 leaves these behind; they are ours by name
  for ns in "$NS_C" "$NS_H"; do ip netns del "$ns" 2>/dev/null || true; done
  for l in "$BR_O" "$BR_I" jgdemo-co jgdemo-ho; do ip link del "$l" 2>/dev/null || true; done
}
cleanup_previous

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
"$JUMPGATE" --check-config "$work/demo.yaml" > /dev/null

"$JUMPGATE" --config "$work/demo.yaml" "$@" > >(tee "$work/gateway.log") 2>&1 &
gw_pid=$!
for _ in $(seq 1 150); do
  grep -q "gateway running" "$work/gateway.log" 2>/dev/null && break
  kill -0 "$gw_pid" 2>/dev/null || { echo "demo: the gateway exited during start-up"; exit 1; }
  sleep 0.1
done

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
ip netns exec "$NS_C" wireguard-go -f wg0 > "$work/wireguard-go.log" 2>&1 &
wg_pid=$!
for _ in $(seq 1 50); do ip -n "$NS_C" link show wg0 >/dev/null 2>&1 && break; sleep 0.1; done
ip netns exec "$NS_C" wg set wg0 private-key "$work/client.key" \
  peer "$(cat "$work/gw.pub")" endpoint 192.0.2.1:51820 allowed-ips 198.51.100.0/24 \
  persistent-keepalive 25
ip -n "$NS_C" addr add 10.77.0.2/32 dev wg0
ip -n "$NS_C" link set wg0 mtu 1420 up
ip -n "$NS_C" route add 198.51.100.0/24 dev wg0

echo
echo "== demo: $NS_C (10.77.0.2) pings the inner host 198.51.100.2 through jumpgate"
if ip netns exec "$NS_C" ping -c 4 -i 0.3 -W 2 198.51.100.2; then
  echo "== demo: the tunnel works."
else
  echo "== demo: no replies; see the gateway output above"
fi
audit=$(awk '/^audit:/{f=1} f && /path:/{print $2; exit}' "$work/demo.yaml")
metrics=$(awk '/^metrics:/{f=1} f && /listen:/{print $2; exit}' "$work/demo.yaml")
cat <<INFO
== demo: audit log     $audit   (jumpgatectl audit-check $audit)
== demo: metrics       http://$metrics/metrics
== demo: TAP ports     ip link show jg-outer; ip link show jg-inner
== demo: try           ip netns exec $NS_C ping 198.51.100.2
== demo: the gateway runs until Ctrl-C (or --duration-s); its shutdown summary follows.
INFO
wait "$gw_pid" || true
gw_pid=""
