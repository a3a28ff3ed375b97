#!/bin/bash
# Interop of wg_endpoint (built from lib/proto) with Debian's stock wireguard-go, over a veth
# pair between two network namespaces created for this run only.
#
#   run_interop.sh initiator|responder|psk|under-load|initiator-cookie|full-mtu <path to wg_endpoint>
#   meson test -C <build> --suite e2e interop-<flow>     (as root; exit 77 = skipped)
#
# Namespace "wg" runs wireguard-go (outer 10.201.0.1:51820, tunnel 10.202.0.1/24);
# namespace "ep" runs wg_endpoint (outer 10.201.0.2:51821, owns tunnel address 10.202.0.2).
set -uo pipefail

flow=${1:?flow: initiator|responder|psk|under-load|initiator-cookie|full-mtu}
endpoint_exe=${2:?path to wg_endpoint}

for tool in ip wg wireguard-go ping timeout jq ss; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
[ -x "$endpoint_exe" ] || { echo "FAIL: $endpoint_exe is not executable"; exit 1; }

# Every name carries the run's tag so parallel or leftover runs never collide; interface
# names stay within Linux's 15 characters.
tag=$(printf '%04x%02x' $$ $((RANDOM % 256)))
ns_wg=jgi-wg-$tag
ns_ep=jgi-ep-$tag
veth_wg=jgva$tag
veth_ep=jgvb$tag
outer_wg=10.201.0.1
outer_ep=10.201.0.2
port_wg=51820
port_ep=51821
tunnel_wg=10.202.0.1
tunnel_ep=10.202.0.2

workdir=$(mktemp -d /tmp/jg-interop.XXXXXX)
umask 077
pids=()
case_no=0
wg_if=

log() { echo "[$(date +%T.%N | cut -c1-12)] $*"; }
fail() {
    log "FAIL ($flow): $*"
    exit 1
}

stop_pid() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

# The namespaces go before any waiting: on a timeout the runner's SIGKILL follows its SIGTERM
# within a second. The processes in them are signalled first and waited for after.
cleanup() {
    local rc=$?
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    ip netns del "$ns_wg" 2>/dev/null
    ip netns del "$ns_ep" 2>/dev/null
    for pid in "${pids[@]}"; do stop_pid "$pid"; done
    if [ "$rc" != 0 ]; then
        for f in "$workdir"/*.log; do
            [ -f "$f" ] && { echo "---- $(basename "$f")"; tail -n 40 "$f"; }
        done
    fi
    rm -rf "$workdir"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits at most $1 tenths of a second for the command that follows to succeed.
wait_until() {
    local tenths=$1
    shift
    for _ in $(seq "$tenths"); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# Exit status of a background process, waiting at most $2 tenths of a second for it.
wait_exit() {
    local pid=$1 tenths=$2
    if ! wait_until "$tenths" bash -c "! kill -0 $pid 2>/dev/null"; then
        stop_pid "$pid"
        return 124
    fi
    wait "$pid"
}

setup_namespaces() {
    ip netns add "$ns_wg" || fail "cannot create namespace $ns_wg"
    ip netns add "$ns_ep" || fail "cannot create namespace $ns_ep"
    ip link add "$veth_wg" netns "$ns_wg" type veth peer name "$veth_ep" netns "$ns_ep" ||
        fail "cannot create veth pair"
    ip -n "$ns_wg" addr add "$outer_wg/24" dev "$veth_wg"
    ip -n "$ns_ep" addr add "$outer_ep/24" dev "$veth_ep"
    for ns in "$ns_wg" "$ns_ep"; do ip -n "$ns" link set lo up; done
    ip -n "$ns_wg" link set "$veth_wg" up
    ip -n "$ns_ep" link set "$veth_ep" up
}

make_keys() {
    wg genkey >"$workdir/wg.key"
    wg pubkey <"$workdir/wg.key" >"$workdir/wg.pub"
    wg genkey >"$workdir/ep.key"
    wg pubkey <"$workdir/ep.key" >"$workdir/ep.pub"
    wg genpsk >"$workdir/psk.a"
    wg genpsk >"$workdir/psk.b"
}

# start_wireguard_go <psk file or ""> <with endpoint: yes|no>
# A fresh daemon and interface per case, so no keypair of an earlier case survives into it.
start_wireguard_go() {
    local psk=$1 with_endpoint=$2
    case_no=$((case_no + 1))
    wg_if=jgw$tag$case_no
    ip netns exec "$ns_wg" wireguard-go -f "$wg_if" >"$workdir/wireguard-go.$case_no.log" 2>&1 &
    wg_pid=$!
    pids+=("$wg_pid")
    wait_until 50 test -S "/var/run/wireguard/$wg_if.sock" ||
        fail "wireguard-go did not create its UAPI socket for $wg_if"
    local peer_args=(peer "$(cat "$workdir/ep.pub")" allowed-ips "$tunnel_ep/32")
    [ -n "$psk" ] && peer_args+=(preshared-key "$psk")
    [ "$with_endpoint" = yes ] && peer_args+=(endpoint "$outer_ep:$port_ep")
    ip netns exec "$ns_wg" wg set "$wg_if" private-key "$workdir/wg.key" \
        listen-port "$port_wg" "${peer_args[@]}" || fail "wg set $wg_if failed"
    ip -n "$ns_wg" addr add "$tunnel_wg/24" dev "$wg_if" || fail "ip addr on $wg_if failed"
    ip -n "$ns_wg" link set "$wg_if" up || fail "cannot bring $wg_if up"
}

stop_wireguard_go() {
    stop_pid "$wg_pid"
}

# Seconds since the epoch of the last completed handshake wireguard-go knows (0 = none).
wg_latest_handshake() {
    ip netns exec "$ns_wg" wg show "$wg_if" latest-handshakes | awk '{print $2}'
}

# The value of one counter in the JSON line wg_endpoint prints at exit.
counter() {
    local name=$1 file=$2
    jq -r ".$name" <(grep '^{' "$file" | tail -n 1)
}

# The error of that JSON line; empty unless its result is "error".
endpoint_error() {
    jq -r 'if .result == "error" then .error else "" end' <(grep '^{' "$1" | tail -n 1)
}

endpoint_args() {
    local role=$1 psk=$2
    local args=(--role "$role" --listen "$outer_ep:$port_ep"
        --private-key-file "$workdir/ep.key" --peer-public-key "$(cat "$workdir/wg.pub")"
        --tunnel-address "$tunnel_ep")
    [ -n "$psk" ] && args+=(--psk-file "$psk")
    [ "$role" = initiator ] && args+=(--peer-endpoint "$outer_wg:$port_wg" --ping "$tunnel_wg")
    printf '%s\n' "${args[@]}"
}

# wireguard-go's first initiation must find the socket bound, or it waits REKEY_TIMEOUT (5 s)
# before trying again and the pings time out.
wait_endpoint_bound() {
    wait_until 50 bash -c "ip netns exec $ns_ep ss -Hlun 'sport = :$port_ep' | grep -q ." ||
        fail "wg_endpoint did not bind $outer_ep:$port_ep"
}

# ---- Flows ----

# wg_endpoint initiates, sends an echo request through the tunnel, and must get the reply
# that wireguard-go's kernel sends back. $2 = flood: a burst of bogus initiations first
# puts wireguard-go under load, so the real one draws a cookie reply and must be retried
# with mac2.
initiator_case() {
    local psk=${1:-} flood=${2:-}
    local extra=()
    [ -n "$flood" ] && extra=(--flood-initiations "$flood")
    start_wireguard_go "$psk" no
    local out=$workdir/endpoint-initiator.$case_no.log
    mapfile -t args < <(endpoint_args initiator "$psk")
    timeout 20 ip netns exec "$ns_ep" "$endpoint_exe" "${args[@]}" "${extra[@]}" \
        --timeout-ms 10000 >"$out" 2>&1
    local rc=$?
    cat "$out"
    [ "$rc" = 0 ] || fail "wg_endpoint initiator exited $rc"
    [ "$(counter handshakes "$out")" -ge 1 ] || fail "no handshake counted"
    [ "$(counter echo_replies_received "$out")" -ge 1 ] || fail "no echo reply counted"
    if [ -n "$flood" ]; then
        [ "$(counter cookie_replies_received "$out")" -ge 1 ] ||
            fail "wireguard-go sent no cookie reply wg_endpoint could open"
    fi
    [ "$(wg_latest_handshake)" != 0 ] || fail "wireguard-go shows no handshake"
    stop_wireguard_go
    log "initiator case passed (psk: ${psk:+yes}, flood: ${flood:-no})"
}

# wireguard-go initiates (its ping triggers the handshake); wg_endpoint answers the echoes.
# $2 = under-load: first a single long-waiting ping rides out the cookie round trip.
# $3 = ICMP payload bytes (default: ping's 56).
responder_case() {
    local psk=${1:-} under_load=${2:-} payload=${3:-56}
    local echoes=3 extra=()
    if [ -n "$under_load" ]; then
        echoes=4
        extra=(--under-load)
    fi
    local out=$workdir/endpoint-responder.$case_no.log
    mapfile -t args < <(endpoint_args responder "$psk")
    ip netns exec "$ns_ep" "$endpoint_exe" "${args[@]}" "${extra[@]}" --echo-count "$echoes" \
        --timeout-ms 25000 >"$out" 2>&1 &
    local ep_pid=$!
    pids+=("$ep_pid")
    wait_endpoint_bound
    start_wireguard_go "$psk" yes
    if [ -n "$under_load" ]; then
        # wireguard-go retries an initiation REKEY_TIMEOUT (5 s + jitter) after the one that
        # drew the cookie reply, so the first echo waits for the second handshake attempt.
        ip netns exec "$ns_wg" ping -n -c 1 -W 12 "$tunnel_ep" ||
            fail "first ping under load got no reply"
    fi
    ip netns exec "$ns_wg" ping -n -c 3 -W 2 -s "$payload" -M do "$tunnel_ep" ||
        fail "ping with $payload payload bytes through the tunnel failed"
    wait_exit "$ep_pid" 50
    local rc=$?
    cat "$out"
    [ "$rc" = 0 ] || fail "wg_endpoint responder exited $rc"
    [ "$(counter handshakes "$out")" -ge 1 ] || fail "no handshake counted"
    [ "$(counter echo_replies_sent "$out")" = "$echoes" ] || fail "wrong number of echo replies"
    if [ -n "$under_load" ]; then
        [ "$(counter cookie_replies "$out")" -ge 1 ] || fail "no cookie reply was sent"
        [ "$(counter mac2_verified "$out")" -ge 1 ] || fail "no initiation came back with mac2"
    else
        [ "$(counter cookie_replies "$out")" = 0 ] || fail "cookie reply sent while not loaded"
    fi
    [ "$(wg_latest_handshake)" != 0 ] || fail "wireguard-go shows no handshake"
    stop_wireguard_go
    log "responder case passed (psk: ${psk:+yes}, under load: ${under_load:-no})"
}

# Different pre-shared keys: wg_endpoint initiates and must give up with a clear message.
mismatch_initiator_case() {
    start_wireguard_go "$workdir/psk.a" no
    local out=$workdir/endpoint-mismatch-initiator.$case_no.log
    mapfile -t args < <(endpoint_args initiator "$workdir/psk.b")
    timeout 20 ip netns exec "$ns_ep" "$endpoint_exe" "${args[@]}" --timeout-ms 4000 >"$out" 2>&1
    local rc=$?
    cat "$out"
    [ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "wg_endpoint initiator exited $rc with a wrong PSK"
    # wireguard-go answers (the initiation does not depend on the PSK); its response must be
    # the one wg_endpoint refuses, not a timeout.
    local err
    err=$(endpoint_error "$out")
    [[ $err == "handshake: response from $outer_wg:$port_wg did not authenticate"* ]] ||
        fail "wg_endpoint did not refuse wireguard-go's handshake response (error: '$err')"
    [ "$(counter handshakes "$out")" = 0 ] || fail "handshake counted despite PSK mismatch"
    [ "$(wg_latest_handshake)" = 0 ] || fail "wireguard-go completed a handshake with a wrong PSK"
    stop_wireguard_go
    log "PSK mismatch, wg_endpoint initiating: handshake refused on both sides"
}

# Different pre-shared keys: wireguard-go initiates; no echo may get through.
mismatch_responder_case() {
    local out=$workdir/endpoint-mismatch-responder.$case_no.log
    mapfile -t args < <(endpoint_args responder "$workdir/psk.b")
    ip netns exec "$ns_ep" "$endpoint_exe" "${args[@]}" --echo-count 1 --timeout-ms 5000 \
        >"$out" 2>&1 &
    local ep_pid=$!
    pids+=("$ep_pid")
    wait_endpoint_bound
    start_wireguard_go "$workdir/psk.a" yes
    if ip netns exec "$ns_wg" ping -n -c 1 -W 3 "$tunnel_ep"; then
        fail "ping got through with mismatched pre-shared keys"
    fi
    wait_exit "$ep_pid" 80
    local rc=$?
    cat "$out"
    [ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "wg_endpoint responder exited $rc with a wrong PSK"
    local err
    err=$(endpoint_error "$out")
    [[ $err == "handshake: not completed within "* ]] ||
        fail "wg_endpoint did not report the handshake as not completed (error: '$err')"
    [ "$(counter responses_sent "$out")" -ge 1 ] ||
        fail "wg_endpoint sent no handshake response: the mismatch was not what failed"
    [ "$(counter handshakes "$out")" = 0 ] || fail "handshake counted despite PSK mismatch"
    [ "$(wg_latest_handshake)" = 0 ] || fail "wireguard-go completed a handshake with a wrong PSK"
    stop_wireguard_go
    log "PSK mismatch, wireguard-go initiating: handshake refused on both sides"
}

setup_namespaces
make_keys
case "$flow" in
initiator) initiator_case ;;
responder) responder_case ;;
psk)
    initiator_case "$workdir/psk.a"
    responder_case "$workdir/psk.a"
    mismatch_initiator_case
    mismatch_responder_case
    ;;
under-load) responder_case "" under-load ;;
initiator-cookie) initiator_case "" 400 ;;
full-mtu)
    # 1392 + 8 (ICMP) + 20 (IPv4) = 1420, wireguard-go's default MTU. WireGuard pads a
    # plaintext to 16 bytes but never beyond the MTU, so this arrives as a 1420-byte
    # plaintext whose length is not a multiple of 16: receivers must accept it.
    responder_case "" "" 1392
    ;;
*) fail "unknown flow $flow" ;;
esac
log "PASS ($flow)"
