#!/bin/sh
# jumpgate-client's status socket: a socket file some process still listens on (another
# client's) is refused with exit 1 and left alone, as is the socket whose lock file (beside it)
# another process holds; a stale one nobody listens on is replaced.
# The client talks to nothing: its gateway is a closed local port and it gives up after 300 ms.
# usage: status_socket_test.sh JUMPGATE_CLIENT
set -u
client=$1
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
. "$(dirname "$0")/../../e2e/free_port.sh"
dir=$(mktemp -d)
listener=""
holder=""
trap '[ -n "$listener" ] && kill "$listener" 2>/dev/null; [ -n "$holder" ] && kill "$holder" 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; cat "$dir/out" 2>/dev/null; exit 1; }

key() { python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'; }
(umask 077 && key > "$dir/client.key")
gateway_key=$(key)
sock=$dir/status.sock
app_port=$(free_port)
run_client() {
    "$client" --headless --app-socket "127.0.0.1:$app_port" --inner-destination 198.51.100.2:7777 \
        --tunnel-address 10.77.0.2 --path a=127.0.0.1 --gateway 127.0.0.1:9 \
        --gateway-public-key "$gateway_key" --private-key "$dir/client.key" \
        --status-socket "$sock" --handshake-timeout-ms 300 > "$dir/out" 2>&1
}
# expect_exit CODE WHY: runs the client and fails unless it exits with CODE.
expect_exit() {
    run_client
    rc=$?
    [ "$rc" = "$1" ] || fail "exit $rc $2, expected $1"
}
# wait_ready FILE WHAT: waits up to 5 s for a stand-in process to create FILE.
wait_ready() {
    for _ in $(seq 50); do [ -f "$1" ] && return; sleep 0.1; done
    fail "the stand-in $2 did not start"
}
# can_connect: whether something accepts connections on $sock.
can_connect() {
    python3 - "$sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except OSError:
    sys.exit(1)
PY
}

python3 - "$sock" "$dir/ready" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(8)
open(sys.argv[2], "w").close()
time.sleep(60)
PY
listener=$!
wait_ready "$dir/ready" listener
expect_exit 1 "with a live listener on the status socket"
grep -q "serves this status socket" "$dir/out" || fail "no reason given"
can_connect || fail "the live listener's socket was taken away"

kill "$listener"
wait "$listener" 2>/dev/null
listener=""
[ -S "$sock" ] || fail "the stale socket file is gone before the test"
can_connect && fail "the stale socket still accepts connections"
expect_exit 2 "with a stale status socket (replaced, then no handshake)"
[ -e "$sock" ] && fail "the client left its status socket behind"

# Another process holds the lock (a client between its check and its bind): refused, even
# with no socket file there yet, and nothing is created.
python3 - "$sock.lock" "$dir/locked" <<'PY' &
import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(60)
PY
holder=$!
wait_ready "$dir/locked" "lock holder"
expect_exit 1 "while another process holds the lock"
grep -q "holds .*status.sock.lock" "$dir/out" || fail "no reason given for the held lock"
[ -e "$sock" ] && fail "a status socket was created under another process's lock"
kill "$holder"
wait "$holder" 2>/dev/null
holder=""
expect_exit 2 "once the lock was released"
echo "ok"
