#!/usr/bin/env bash
# A stock wireguard-go client reaches a host on the inner network through jumpgate:
# handshake, ping both ways through the tunnel, a 10 s iperf3 TCP run, a clean shutdown and
# an audit log that passes audit-check (one SessionCreated, BIRTH -> ATTACHED).
# usage: stock_client_test.sh JUMPGATE [JUMPGATECTL]
JUMPGATE=${1:?usage: stock_client_test.sh JUMPGATE [JUMPGATECTL]}
JUMPGATECTL=${2:-}
source "$(dirname "$0")/gateway_env.sh"
gw_require_tools
command -v iperf3 >/dev/null || { echo "SKIP: iperf3 missing"; exit 77; }

gw_log "handshake and ping through the tunnel"
gw_up_with_stock_client
grep -E "packets transmitted" "$JG_WORK/ping-last.log"

gw_log "ping from the inner host to the client's tunnel address"
ip netns exec "$NS_H" ping -c 3 -i 0.2 -W 2 10.77.0.2 > "$JG_WORK/ping-in.log" 2>&1 \
  || { cat "$JG_WORK/ping-in.log"; gw_fail "inner host cannot reach the client"; }

gw_log "iperf3 10 s TCP, client -> inner host"
ip netns exec "$NS_H" iperf3 -s -1 -B 198.51.100.2 > "$JG_WORK/iperf-s.log" 2>&1 &
iperf_srv=$!
WG_PIDS+=("$iperf_srv")
gw_wait_listening "$NS_H" 5201 "$iperf_srv" || { cat "$JG_WORK/iperf-s.log"; gw_fail "iperf3 server not listening"; }
ip netns exec "$NS_C" iperf3 -c 198.51.100.2 -t 10 -J > "$JG_WORK/iperf.json" 2>&1 \
  || { cat "$JG_WORK/iperf.json"; gw_fail "iperf3 through the tunnel failed"; }
# iperf3 (3.12) can exit 0 after a failed run with -J: its JSON's "error" tells.
python3 - "$JG_WORK/iperf.json" <<'PY' || gw_fail "iperf3 through the tunnel: no usable result"
import json, sys
d = json.load(open(sys.argv[1]))
assert "error" not in d, f"iperf3 failed: {d['error']}"
bps = d["end"]["sum_received"]["bits_per_second"]
print(f"iperf3 through jumpgate: {bps / 1e6:.1f} Mbit/s received, "
      f"{d['end']['sum_sent']['retransmits']} retransmits")
assert bps > 1e6, "less than 1 Mbit/s through the tunnel"
PY

gw_stop
grep -c '"event_type":"SessionCreated"' "$GW_AUDIT" | grep -qx 1 || gw_fail "expected exactly one SessionCreated"
grep -q '"new_state":"ATTACHED"' "$GW_AUDIT" || gw_fail "no transition to ATTACHED audited"
gw_audit_check
echo "PASS"
