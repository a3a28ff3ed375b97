#!/usr/bin/env bash
# The gateway comes up on net_tap ports from a config like the embedded demo, its TAP
# interfaces appear in the kernel, traffic the kernel sends into the outer TAP (moved into a
# namespace made for this run) is counted by the worker that owns outer queue 0, SIGTERM shuts
# it down cleanly (exit 0, summary), and the audit log it wrote passes `jumpgatectl audit-check`.
set -euo pipefail
JUMPGATE=${1:?usage: tap_bringup_test.sh JUMPGATE_BINARY JUMPGATECTL_BINARY}
JUMPGATECTL=${2:?usage: tap_bringup_test.sh JUMPGATE_BINARY JUMPGATECTL_BINARY}
source "$(dirname "$0")/../free_port.sh"
tag=$(printf '%04x' $((RANDOM ^ $$)))
outer=jgo$tag inner=jgi$tag ns=jgb$tag
work=$(mktemp -d /tmp/jg-bringup.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  ip netns del "$ns" 2>/dev/null || true
  ip link del "$outer" 2>/dev/null || true
  ip link del "$inner" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- gateway output:"; cat "$work/out.log" 2>/dev/null; exit 1; }

# The demo's fixed metrics port would meet another gateway's: this run takes a free one.
metrics_port=$(free_port)
"$JUMPGATE" --print-demo-config \
  | sed -e "s/iface=jg-outer/iface=$outer/" -e "s/iface=jg-inner/iface=$inner/" \
        -e "s#/tmp/jumpgate-audit.jsonl#$work/audit.jsonl#" \
        -e "s/listen: 127\.0\.0\.1:9105$/listen: 127.0.0.1:$metrics_port/" \
        -e "s/node_id: demo-1/node_id: bringup-$tag/" > "$work/gw.yaml"
grep -q "iface=$outer" "$work/gw.yaml" || fail "demo config has no iface=jg-outer to rename"
grep -q "listen: 127.0.0.1:$metrics_port$" "$work/gw.yaml" || fail "demo config has no metrics listen 127.0.0.1:9105 to replace"

"$JUMPGATE" --check-config "$work/gw.yaml" > "$work/check.log" 2>&1 || { cat "$work/check.log"; fail "demo config does not validate"; }

"$JUMPGATE" --config "$work/gw.yaml" --duration-s 60 > "$work/out.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  ip link show "$outer" >/dev/null 2>&1 && grep -q "gateway running" "$work/out.log" && break
  kill -0 "$pid" 2>/dev/null || fail "gateway exited during start-up"
  sleep 0.1
done
ip link show "$outer" >/dev/null 2>&1 || fail "TAP $outer did not appear"
ip link show "$inner" >/dev/null 2>&1 || fail "TAP $inner did not appear"
grep -q "metrics: http://127.0.0.1:$metrics_port/metrics" "$work/out.log" \
  || fail "gateway did not announce its metrics endpoint on port $metrics_port"

# The kernel side of the outer TAP, in a namespace of this run (as the gateway tests do: the
# DPDK tap PMD keeps its file descriptor, only its resync of the kernel side stops): an
# address in the demo's outer subnet, so pinging the gateway makes the kernel send ARP
# requests into the TAP, and no route of the host's own namespace is touched.
ip netns add "$ns"
ip link set "$outer" netns "$ns"
ip -n "$ns" addr add 192.0.2.254/24 dev "$outer"
ip -n "$ns" link set "$outer" up
ip netns exec "$ns" ping -c 3 -i 0.2 -W 1 192.0.2.1 >/dev/null 2>&1 || true  # no reply yet: count only

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=""
[ "$rc" -eq 0 ] || fail "gateway exit code $rc after SIGTERM (expected 0)"
grep -q "shutdown summary" "$work/out.log" || fail "no shutdown summary"
# e.g. "  worker lcore 1  outer/q0  rx 3 packets ..."
rx=$(awk '/outer\/q0/ { for (i = 1; i <= NF; i++) if ($i == "rx") { print $(i+1); exit } }' "$work/out.log")
[ -n "$rx" ] && [ "$rx" -gt 0 ] || fail "outer queue 0 counted no packets (rx='$rx')"
ip -n "$ns" link show "$outer" >/dev/null 2>&1 && fail "TAP $outer still exists after shutdown"
ip link show "$outer" >/dev/null 2>&1 && fail "TAP $outer is back in the host's namespace after shutdown"
ip link show "$inner" >/dev/null 2>&1 && fail "TAP $inner still exists after shutdown"
[ -f "$work/audit.jsonl" ] || fail "the gateway did not create its audit log $work/audit.jsonl"
"$JUMPGATECTL" audit-check "$work/audit.jsonl" > "$work/audit-check.log" 2>&1 ||
  { cat "$work/audit-check.log"; fail "audit-check rejected the gateway's audit log"; }
events=$(wc -l < "$work/audit.jsonl")
echo "PASS: TAPs up, outer/q0 counted $rx packets, clean shutdown, audit log ($events events) passes audit-check"
