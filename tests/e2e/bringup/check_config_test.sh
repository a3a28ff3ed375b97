#!/usr/bin/env bash
# jumpgate --check-config: the demo validates (exit 0, effective config printed); a config
# with a queue polled by two workers is refused with an error naming both workers.
set -euo pipefail
JUMPGATE=${1:?usage: check_config_test.sh JUMPGATE_BINARY}
work=$(mktemp -d /tmp/jg-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$JUMPGATE" --print-demo-config > "$work/demo.yaml"
"$JUMPGATE" --check-config "$work/demo.yaml" > "$work/ok.log" 2>&1 || { cat "$work/ok.log"; fail "demo refused"; }
grep -q "workers:" "$work/ok.log" || fail "effective config not printed"

cat > "$work/twice.yaml" <<'YAML'
node_id: twice
eal:
  lcores: "0-2"
  no_huge: true
  no_pci: true
  vdevs: ["net_null0", "net_null1"]
ports:
  - {name: outer, role: outer, device: net_null0, ipv4: 192.0.2.1/24, rx_queues: 1, tx_queues: 2}
  - {name: inner, role: inner, device: net_null1, ipv4: 198.51.100.1/24, rx_queues: 1, tx_queues: 2}
control_lcore: 0
workers:
  - lcore: 1
    queues: [{port: outer, queue: 0}, {port: inner, queue: 0}]
  - lcore: 2
    queues: [{port: outer, queue: 0}]
YAML
rc=0
"$JUMPGATE" --check-config "$work/twice.yaml" > "$work/bad.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "a queue polled by two workers was accepted"
cat "$work/bad.log"
grep -q "twice.yaml" "$work/bad.log" || fail "error does not name the file"
grep -q "workers\[1\]" "$work/bad.log" || fail "error does not name the second worker"
grep -qE "lcore 1|workers\[0\]" "$work/bad.log" || fail "error does not name the first worker"
echo "PASS"
