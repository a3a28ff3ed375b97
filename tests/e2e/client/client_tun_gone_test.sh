#!/usr/bin/env bash
# jumpgate-client in TUN mode whose TUN device is deleted under it: it exits 4 within a
# second, naming the device, instead of spinning on the dead descriptor.
# The client talks to nothing (its gateway is a closed port in a namespace of this run's own);
# the handshake timeout is far off, so only the lost device can end it.
# usage: client_tun_gone_test.sh JUMPGATE_CLIENT
set -u
client=$1
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
[ -e /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 77; }

tag=$(printf '%04x%04x' $((RANDOM)) $$)
ns=jgtun-$tag
tun=jgt$((RANDOM % 10000))
dir=$(mktemp -d)
pid=""
cleanup() {
    local rc=$?
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; fi
    ip netns del "$ns" 2>/dev/null || true
    if [ $rc -ne 0 ] && [ -f "$dir/out" ]; then echo "--- client output"; cat "$dir/out"; fi
    rm -rf "$dir"
    exit $rc
}
trap cleanup EXIT
trap 'exit 143' INT TERM
fail() { echo "FAIL: $*"; exit 1; }

key() { python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'; }
(umask 077 && key > "$dir/client.key")
ip netns add "$ns" || fail "cannot create namespace $ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" "$client" --tun "$tun" --tunnel-address 10.77.0.2 --path a=127.0.0.1 \
    --gateway 127.0.0.1:9 --gateway-public-key "$(key)" --private-key "$dir/client.key" \
    --status-socket "$dir/status.sock" --handshake-timeout-ms 60000 > "$dir/out" 2>&1 &
pid=$!

for _ in $(seq 50); do
    ip -n "$ns" link show "$tun" > /dev/null 2>&1 && break
    sleep 0.1
done
ip -n "$ns" link show "$tun" > /dev/null 2>&1 || fail "the client did not create $tun"
kill -0 "$pid" 2>/dev/null || fail "the client exited before the device went away"
ip -n "$ns" link del "$tun" || fail "cannot delete $tun"

for _ in $(seq 30); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "the client still runs 3 s after its TUN device went away"
wait "$pid"
rc=$?
pid=""
[ "$rc" = 4 ] || fail "exit $rc, expected 4 (the TUN device went away)"
grep -q "the TUN device $tun went away" "$dir/out" || fail "the device is not named"
echo "ok: exit 4, $(grep -c . "$dir/out") lines of output"
