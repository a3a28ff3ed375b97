#!/usr/bin/env bash
# Through-tunnel TCP throughput, in one run: (a) wireguard-go <-> wireguard-go over a veth
# pair between two namespaces; (b) wireguard-go client -> jumpgate (net_tap ports in the
# same kind of namespaces, see tests/e2e/gateway/gateway_env.sh) -> inner host. iperf3, N
# repetitions of S seconds each; prints JSON with Mbit/s and the CPU seconds each side used.
# On this kind of machine the virtual devices bound the absolute figures, not the gateway:
# read the CPU time per Gbit as the comparable number. jumpgate's worker polls, so its CPU
# time is a full core whatever the load; its own busy ratio is reported beside it.
# usage: tunnel_compare.sh JUMPGATE [REPS] [SECONDS]   (root)
JUMPGATE=${1:?usage: tunnel_compare.sh JUMPGATE [REPS] [SECONDS]}
REPS=${2:-3}
SECS=${3:-10}
source "$(dirname "$0")/../tests/e2e/gateway/gateway_env.sh"
gw_require_tools

cpu_s() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }
iperf_error() {  # iperf3 -J output FILE: its "error", or why there is no result in it
  python3 -c 'import json,sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError:
    print("no JSON output")
else:
    print(d.get("error") or ("" if "sum_received" in d.get("end", {}) else "no result"))' "$1"
}
iperf_mbps() { python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]/1e6,1))' "$1"; }

# (a) wireguard-go <-> wireguard-go
NS_A=jga$JG_TAG NS_B=jgb$JG_TAG
EXTRA_NS+=("$NS_A" "$NS_B")
ip netns add "$NS_A"; ip netns add "$NS_B"
ip link add va$JG_TAG netns "$NS_A" type veth peer name vb$JG_TAG netns "$NS_B"
ip -n "$NS_A" addr add 192.0.2.10/24 dev va$JG_TAG; ip -n "$NS_A" link set va$JG_TAG up
ip -n "$NS_B" addr add 192.0.2.11/24 dev vb$JG_TAG; ip -n "$NS_B" link set vb$JG_TAG up
gw_keys a; gw_keys b
for side in A B; do
  ns=NS_$side; ns=${!ns}
  ip netns exec "$ns" wireguard-go -f wt$side$JG_TAG > /dev/null 2>&1 &
  WG_PIDS+=($!)
done
wgA=${WG_PIDS[-2]} wgB=${WG_PIDS[-1]}
sleep 0.5
ip netns exec "$NS_A" wg set wtA$JG_TAG private-key "$JG_WORK/a.key" listen-port 41001 \
  peer "$(cat "$JG_WORK/b.pub")" endpoint 192.0.2.11:41002 allowed-ips 10.88.0.2/32
ip netns exec "$NS_B" wg set wtB$JG_TAG private-key "$JG_WORK/b.key" listen-port 41002 \
  peer "$(cat "$JG_WORK/a.pub")" endpoint 192.0.2.10:41001 allowed-ips 10.88.0.1/32
ip -n "$NS_A" addr add 10.88.0.1/24 dev wtA$JG_TAG; ip -n "$NS_A" link set wtA$JG_TAG mtu 1420 up
ip -n "$NS_B" addr add 10.88.0.2/24 dev wtB$JG_TAG; ip -n "$NS_B" link set wtB$JG_TAG mtu 1420 up
ip netns exec "$NS_A" ping -c 2 -W 2 10.88.0.2 > /dev/null || gw_fail "wireguard-go pair has no tunnel"

# run_iperf CLIENT_NS SERVER_NS SERVER_ADDR OUT: one iperf3 run (its JSON in OUT); returns 1
# with the reason in OUT.err when the server did not come up or the client failed.
run_iperf() {
  ip netns exec "$2" iperf3 -s -1 -B "$3" > "$4.server" 2>&1 &
  local srv=$! rc=0 err
  WG_PIDS+=("$srv")
  gw_wait_listening "$2" 5201 "$srv" > "$4.err" || { kill -TERM "$srv" 2>/dev/null || true; return 1; }
  ip netns exec "$1" iperf3 -c "$3" -t "$SECS" -J > "$4" 2>> "$4.err" || rc=$?
  # iperf3 (3.12) can exit 0 after a failed run with -J: its JSON's "error" tells.
  err=$(iperf_error "$4")
  if [ "$rc" -ne 0 ] || [ -n "$err" ]; then
    echo "iperf3 client exit code $rc: ${err:-no error in its output}" >> "$4.err"
    kill -TERM "$srv" 2>/dev/null || true  # still waiting for a client that never came
    wait "$srv" 2>/dev/null || true
    return 1
  fi
  wait "$srv" 2>/dev/null || true
}

# failed_rep TUNNEL REP OUT: a repetition that did not run: its reason on stderr and as the
# result's "error"; the script exits 1 after printing the results.
failed=0
failed_rep() {
  local why
  why=$(tr '\n' ' ' < "$3.err")
  echo "FAIL: $1 repetition $2: $why" >&2
  failed=$((failed + 1))
  results+=("$(python3 -c 'import json,sys; print(json.dumps({"tunnel": sys.argv[1], "rep": int(sys.argv[2]), "error": sys.argv[3]}))' "$1" "$2" "$why")")
}

results=()
for r in $(seq 1 "$REPS"); do
  c0=$(echo "$(cpu_s $wgA) + $(cpu_s $wgB)" | bc)
  if ! run_iperf "$NS_A" "$NS_B" 10.88.0.2 "$JG_WORK/wg-$r.json"; then
    failed_rep "wireguard-go<->wireguard-go" "$r" "$JG_WORK/wg-$r.json"
    continue
  fi
  c1=$(echo "$(cpu_s $wgA) + $(cpu_s $wgB)" | bc)
  results+=("{\"tunnel\":\"wireguard-go<->wireguard-go\",\"rep\":$r,\"mbit_s\":$(iperf_mbps "$JG_WORK/wg-$r.json"),\"cpu_s\":$(echo "$c1 - $c0" | bc)}")
done

# (b) wireguard-go -> jumpgate -> inner host
gw_keys gw; gw_keys client
gw_write_config "$(cat "$JG_WORK/client.pub")"
gw_start
gw_client_up client
wgC=${WG_PIDS[-1]}
gw_establish
for r in $(seq 1 "$REPS"); do
  g0=$(cpu_s "$GW_PID"); w0=$(cpu_s "$wgC")
  if ! run_iperf "$NS_C" "$NS_H" 198.51.100.2 "$JG_WORK/jg-$r.json"; then
    failed_rep "wireguard-go->jumpgate" "$r" "$JG_WORK/jg-$r.json"
    continue
  fi
  g1=$(cpu_s "$GW_PID"); w1=$(cpu_s "$wgC")
  results+=("{\"tunnel\":\"wireguard-go->jumpgate\",\"rep\":$r,\"mbit_s\":$(iperf_mbps "$JG_WORK/jg-$r.json"),\"cpu_s_gateway\":$(echo "$g1 - $g0" | bc),\"cpu_s_client\":$(echo "$w1 - $w0" | bc)}")
done
gw_stop
busy=$(grep -oE "busy [0-9.]+%" "$GW_LOG" | head -1)
printf '{"seconds":%s,"results":[%s],"jumpgate_worker":"%s"}\n' "$SECS" "$(IFS=,; echo "${results[*]}")" "$busy"
[ "$failed" -eq 0 ] || gw_fail "$failed of $((2 * REPS)) iperf3 repetitions failed (see the \"error\" results)"
