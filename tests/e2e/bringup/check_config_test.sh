#!/usr/bin/env bash
# jumpgate --check-config: the demo validates (exit 0, effective config printed); a config
# with a queue polled by two workers is refused with an error naming both workers; so are
# configs that would pass validation yet fail after EAL init: a worker polling more queues
# than the data plane holds, a second inner port, more sessions than the tables hold, key
# files that are missing or not keys, and lcores on CPUs this process may not run on.
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

# 17 queues on one worker: the data plane holds 16 per worker.
{
  sed -n '1,/^ports:/p' "$work/twice.yaml"
  echo "  - {name: outer, role: outer, device: net_null0, rx_queues: 17, tx_queues: 1}"
  echo "  - {name: inner, role: inner, device: net_null1, rx_queues: 1, tx_queues: 1}"
  echo "control_lcore: 0"
  echo "workers:"
  echo "  - lcore: 1"
  echo "    queues:"
  for q in $(seq 0 16); do echo "      - {port: outer, queue: $q}"; done
} | sed 's/lcores: "0-2"/lcores: "0-1"/' > "$work/wide.yaml"
rc=0
"$JUMPGATE" --check-config "$work/wide.yaml" > "$work/wide.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "a worker polling 17 queues was accepted"
grep -q "wide.yaml: workers\[0\].queues: polls 17 queues; a worker polls at most 16" "$work/wide.log" \
  || { cat "$work/wide.log"; fail "queue limit error unclear"; }

# refused VARIANT_FILE "expected error": --check-config exits non-zero naming the problem.
refused() {
  local rc=0
  "$JUMPGATE" --check-config "$work/$1" > "$work/$1.log" 2>&1 || rc=$?
  [ "$rc" -ne 0 ] || { cat "$work/$1.log"; fail "$1 was accepted"; }
  grep -qF "$2" "$work/$1.log" || { cat "$work/$1.log"; fail "$1: error does not say: $2"; }
}

# A second inner port: the data plane forwards to one.
sed -e 's/vdevs: \["net_null0", "net_null1"\]/vdevs: ["net_null0", "net_null1", "net_null2"]/' \
  -e '/^control_lcore:/i\  - {name: lab, role: inner, device: net_null2, rx_queues: 1, tx_queues: 2}' \
  "$work/twice.yaml" | sed '/queues: \[{port: outer, queue: 0}\]$/d' | sed 's/lcores: "0-2"/lcores: "0-1"/' \
  > "$work/inner2.yaml"
refused inner2.yaml "inner2.yaml: ports: exactly one port must have role inner, found 2 (ports[1], ports[2])"

# More session slots than the tables hold.
sed 's/^\(  max_sessions:\).*/\1 4194304/' "$work/demo.yaml" > "$work/sessions.yaml"
grep -q "max_sessions: 4194304" "$work/sessions.yaml" || fail "could not raise the demo's max_sessions"
refused sessions.yaml "sessions.yaml: limits.max_sessions: must be in 1..2097152, got 4194304"

# Key files are read: a missing private key, and a preshared key that is not a key.
sed "s#^private_key: ephemeral.*#private_key_file: $work/none.key#" "$work/demo.yaml" > "$work/nokey.yaml"
grep -q "private_key_file: $work/none.key" "$work/nokey.yaml" || fail "could not point the demo at a key file"
refused nokey.yaml "nokey.yaml: private_key_file: $work/none.key: cannot open key file"
echo "garbage" > "$work/bad.psk"
key=$("$JUMPGATE" genkey | "$JUMPGATE" pubkey)
sed "s#^peers: \[\]#peers: [{name: p1, public_key: \"$key\", preshared_key_file: $work/bad.psk}]#" \
  "$work/demo.yaml" > "$work/psk.yaml"
grep -q "preshared_key_file: $work/bad.psk" "$work/psk.yaml" || fail "could not give the demo a peer with a preshared key"
refused psk.yaml "psk.yaml: peers[0].preshared_key_file: $work/bad.psk: not a WireGuard key"

# A worker on the first CPU id past the online ones. A process kept off CPUs (taskset, as
# systemd does with isolcpus) still accepts them: DPDK pins its lcores itself.
online=$(cat /sys/devices/system/cpu/online)
missing=$(( $(nproc --all) ))
sed -e "s/lcores: \"0-1\"/lcores: \"0,$missing\"/" -e "s/^  - lcore: 1$/  - lcore: $missing/" \
  "$work/demo.yaml" > "$work/cpu.yaml"
rc=0
"$JUMPGATE" --check-config "$work/cpu.yaml" > "$work/cpu.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || { cat "$work/cpu.log"; fail "lcore $missing was accepted on a machine whose online CPUs are $online"; }
grep -q "cpu.yaml: workers\[0\].lcore: lcore $missing is not available on this machine (available: $online)" \
  "$work/cpu.log" || { cat "$work/cpu.log"; fail "unavailable lcore error unclear"; }
taskset -c 0 "$JUMPGATE" --check-config "$work/demo.yaml" > "$work/pinned.log" 2>&1 \
  || { cat "$work/pinned.log"; fail "the demo was refused by a process kept to CPU 0"; }
echo "PASS"
