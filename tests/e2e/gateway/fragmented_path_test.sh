#!/usr/bin/env bash
# A stock wireguard-go client behind a path whose MTU is below its full-size packets (as
# PPPoE or a mobile network's tunnel leaves it): the client's kernel fragments the outer
# datagrams, jumpgate reassembles them, and full-size pings get through both ways.
# usage: fragmented_path_test.sh JUMPGATE [JUMPGATECTL]
JUMPGATE=${1:?usage: fragmented_path_test.sh JUMPGATE [JUMPGATECTL]}
JUMPGATECTL=${2:-}
source "$(dirname "$0")/gateway_env.sh"
gw_require_tools

gw_log "handshake and ping through the tunnel"
gw_up_with_stock_client

# A 1420-byte inner packet (wireguard-go's MTU) travels in a 1480-byte outer datagram; with
# 1400 bytes on the way to the gateway the client's kernel sends it in two fragments. Only
# the client's sending side is narrowed: the gateway's replies arrive whole.
ip -n "$NS_C" route replace 192.0.2.0/24 dev "$TAP_O" src 192.0.2.2 mtu lock 1400 \
  || gw_fail "cannot narrow the client's route to the gateway"
metric() {
  python3 -c "import urllib.request,sys
for l in urllib.request.urlopen('http://127.0.0.1:$GW_METRICS_PORT/metrics', timeout=5).read().decode().splitlines():
    if l.startswith(sys.argv[1] + ' '):
        print(int(float(l.split()[1])))" "$1"
}
before=$(metric jumpgate_reassembled_datagrams_total) || gw_fail "cannot read /metrics"

gw_log "full-size pings over the fragmenting path"
# With both a count and a deadline, ping fails unless every reply is in.
timeout 30 ip netns exec "$NS_C" ping -c 5 -w 10 -i 0.2 -s 1392 -M do 198.51.100.2 \
  > "$JG_WORK/ping-big.log" 2>&1 || { cat "$JG_WORK/ping-big.log"; gw_fail "full-size pings over a fragmenting path failed"; }
grep -E "packets transmitted" "$JG_WORK/ping-big.log"
after=$(metric jumpgate_reassembled_datagrams_total) || gw_fail "cannot read /metrics"
gw_log "reassembled datagrams: $before before, $after after"
[ "$((after - before))" -ge 5 ] || gw_fail "expected at least 5 reassembled datagrams, got $((after - before))"

gw_stop
summary=$(gw_summary_line "worker lcore [0-9]+  dropped")
echo "$summary"
[[ $summary == *" fragment=0 "* ]] || gw_fail "fragments were dropped: $summary"
gw_audit_check
echo "PASS"
