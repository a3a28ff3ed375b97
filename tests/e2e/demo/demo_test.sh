#!/usr/bin/env bash
# The README's first command without its apt and build steps: deploy/demo.sh against the built
# tree. With the network dropping the client's handshakes, and then the inner host's echo
# replies (nftables rules on the demo's bridges), the demo must fail naming what did not work
# and leave nothing behind. A normal run must exit 0 after a stock wireguard-go client pinged
# the inner host through jumpgate, name its audit log and metrics endpoint (both checked: the
# log passes audit-check, the endpoint counted the handshake), show jg-outer/jg-inner in
# `ip link` while it runs, and leave no jgdemo-* namespace, bridge, veth or TAP behind.
set -euo pipefail
DEMO=${1:?usage: demo_test.sh DEMO_SCRIPT JUMPGATE JUMPGATECTL}
JUMPGATE=${2:?usage: demo_test.sh DEMO_SCRIPT JUMPGATE JUMPGATECTL}
CTL=${3:?usage: demo_test.sh DEMO_SCRIPT JUMPGATE JUMPGATECTL}
source "$(dirname "$0")/../free_port.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in ip wireguard-go wg ping flock curl nft; do
  command -v "$t" >/dev/null || { echo "SKIP: $t missing"; exit 77; }
done
# The demo's interface and namespace names are fixed and it refuses to run beside another demo
# (its lock) or beside a gateway on the embedded configuration; that is someone's live demo,
# which this test must not disturb.
LOCK=/run/lock/jumpgate-demo.lock
mkdir -p "$(dirname "$LOCK")"
rc=0
flock -n -E 75 "$LOCK" true || rc=$?
[ "$rc" -ne 75 ] || { echo "SKIP: a jumpgate demo is running (it holds $LOCK)"; exit 77; }
[ "$rc" -eq 0 ] || { echo "FAIL: cannot open the demo's lock file $LOCK"; exit 1; }
for l in jg-outer jg-inner; do
  ! ip link show "$l" >/dev/null 2>&1 || { echo "SKIP: $l exists (a gateway on the embedded configuration runs)"; exit 77; }
done

work=$(mktemp -d /tmp/jg-e2e-demo.XXXXXX)
demo_pid=""
stop_demo() {  # SIGTERM runs the demo's own cleanup, which stops its gateway and client
  [ -n "$demo_pid" ] || return 0
  kill -TERM "$demo_pid" 2>/dev/null || true
  for _ in $(seq 1 200); do kill -0 "$demo_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$demo_pid" 2>/dev/null || true
  demo_pid=""
}
nft_table=jgdemotest$$
cleanup() {
  local rc=$?
  stop_demo
  nft delete table bridge "$nft_table" 2>/dev/null || true
  [ $rc -eq 0 ] || { echo "--- demo output"; cat "$work/demo.log" 2>/dev/null || true; }
  rm -rf "$work"
  return $rc
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
t0=$SECONDS

# Everything the demo creates, by the names deploy/demo.sh gives them.
leftovers() {
  ip netns list | awk '$1 ~ /^jgdemo-/ { print "netns " $1 }'
  for l in jg-outer jg-inner jgdemo-bo jgdemo-bi jgdemo-co jgdemo-ho; do
    ip link show "$l" >/dev/null 2>&1 && echo "link $l"
  done
  flock -n "$LOCK" true || echo "lock $LOCK still held"
  return 0
}

# 1. A faulty network between the demo's namespaces and the gateway's TAPs. The rules name the
#    demo's bridge ports, so they are in place before the demo creates them.
# Priority -200, before br_netfilter's hooks at 0: the kernel registers those when a namespace
# gets its first bridge, and a chain at 0 registered earlier (a freshly booted machine, where
# the demo makes the first bridge) then sits behind them and is skipped for IPv4.
nft add table bridge "$nft_table"
nft add chain bridge "$nft_table" forward '{ type filter hook forward priority -200; policy accept; }'
# run_faulty RULE EXPECTED_REASON: the demo must exit 1 with that reason and leave nothing.
run_faulty() {
  nft flush chain bridge "$nft_table" forward
  nft add rule bridge "$nft_table" forward "$1 counter drop"
  local rc=0 started=$SECONDS
  bash "$DEMO" "$JUMPGATE" --audit-log "$work/faulty.jsonl" \
    --metrics-listen "127.0.0.1:$(free_port)" --duration-s 60 > "$work/demo.log" 2>&1 || rc=$?
  local rules left last
  rules=$(nft list chain bridge "$nft_table" forward)
  grep -Eq 'packets [1-9]' <<< "$rules" || fail "rule '$1' dropped nothing (demo exit code $rc): $rules"
  [ "$rc" -eq 1 ] || fail "demo exit code $rc with '$1' dropped (expected 1)"
  last=$(tail -n 1 "$work/demo.log")
  [[ $last == "demo: FAILED: $2"* ]] || fail "with '$1' dropped the demo's last line is '$last', expected 'demo: FAILED: $2...'"
  left=$(leftovers)
  [ -z "$left" ] || fail "after the failed demo ('$1' dropped): $left"
  echo "dropping $1: exit 1 after $((SECONDS - started)) s, '$last'"
}
run_faulty 'iifname "jgdemo-co" udp dport 51820' "handshake not completed"
run_faulty 'iifname "jgdemo-ho" icmp type echo-reply' "no ping replies"
nft delete table bridge "$nft_table"

# 2. A normal run, the gateway stopping by itself after its --duration-s.
port=$(free_port)
audit=$work/audit.jsonl
bash "$DEMO" "$JUMPGATE" --audit-log "$audit" --metrics-listen "127.0.0.1:$port" \
  --duration-s 15 --stats-interval-s 5 > "$work/demo.log" 2>&1 &
demo_pid=$!
seen_outer="" seen_inner="" metrics_ok=""
while kill -0 "$demo_pid" 2>/dev/null; do
  # Seen from outside the demo, in the main namespace's `ip link`.
  [ -n "$seen_outer" ] || seen_outer=$(ip -br link show jg-outer 2>/dev/null || true)
  [ -n "$seen_inner" ] || seen_inner=$(ip -br link show jg-inner 2>/dev/null || true)
  if [ -z "$metrics_ok" ] && grep -q "the tunnel works" "$work/demo.log"; then
    curl -sf --max-time 2 "http://127.0.0.1:$port/metrics" > "$work/metrics.txt" || true
    v=$(awk '$1 == "jumpgate_handshakes_total{result=\"accepted\"}" { print $2 }' "$work/metrics.txt")
    [ -n "$v" ] && awk -v v="$v" 'BEGIN { exit !(v >= 1) }' && metrics_ok=$v
  fi
  sleep 0.2
done
rc=0
wait "$demo_pid" || rc=$?
demo_pid=""
[ "$rc" -eq 0 ] || fail "demo exit code $rc (expected 0)"
grep -q "== demo: handshake completed" "$work/demo.log" || fail "no completed handshake reported"
replies=$(sed -n 's/.*tunnel works: \([0-9]*\) of 4 pings.*/\1/p' "$work/demo.log")
[ "${replies:-0}" -ge 1 ] || fail "demo did not report answered pings"
grep -q ", $replies received" "$work/demo.log" || fail "the ping output does not show $replies replies"
grep -Eq "^== demo: audit log +$audit " "$work/demo.log" || fail "output does not name the audit log $audit"
grep -Eq "^== demo: metrics +http://127.0.0.1:$port/metrics" "$work/demo.log" ||
  fail "output does not name the metrics endpoint 127.0.0.1:$port"
grep -q "gateway stopped cleanly" "$work/demo.log" || fail "no clean gateway stop reported"
[ -n "$seen_outer" ] || fail "ip link never showed jg-outer while the demo ran"
[ -n "$seen_inner" ] || fail "ip link never showed jg-inner while the demo ran"
echo "ip link while running: $seen_outer / $seen_inner"
[ -n "$metrics_ok" ] || fail "the metrics endpoint did not count an accepted handshake while the demo ran"

# The audit trail of this run: one session created, and every invariant holds.
[ -s "$audit" ] || fail "audit log $audit is missing or empty"
grep -q '"event_type":"SessionCreated"' "$audit" || fail "audit log has no SessionCreated"
"$CTL" audit-check "$audit" > "$work/check.txt" 2>&1 || { cat "$work/check.txt"; fail "audit-check rejected $audit"; }

left=$(leftovers)
[ -z "$left" ] || fail "after the demo: $left"
echo "PASS: $replies/4 pings through jumpgate, handshakes_total{accepted}=$metrics_ok, audit log" \
  "($(wc -l < "$audit") events) passes audit-check, nothing left behind ($((SECONDS - t0)) s)"
