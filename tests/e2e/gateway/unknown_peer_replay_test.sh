#!/usr/bin/env bash
# Two attacks a stock WireGuard setup must shrug off, against a live jumpgate session:
#  (a) a second stock wireguard-go whose static key is not among the gateway's peers never
#      completes a handshake (no latest-handshake, no ping), the gateway counts its
#      initiations but accepts none of them, and no session is created for it;
#  (b) the real client's transport packets, captured on the wire, replayed from another
#      address and port (192.0.2.4:45123): the gateway drops them as replays, the binding
#      does not move (no TransportSwitch), and the real client keeps working.
# Ends with a clean exit and audit-check.
# usage: unknown_peer_replay_test.sh JUMPGATE [JUMPGATECTL]
JUMPGATE=${1:?usage: unknown_peer_replay_test.sh JUMPGATE [JUMPGATECTL]}
JUMPGATECTL=${2:-}
source "$(dirname "$0")/gateway_env.sh"
gw_require_tools
command -v tcpdump >/dev/null || { echo "SKIP: tcpdump missing"; exit 77; }

WG_X=wx$JG_TAG
gw_keys gw
gw_keys client
gw_keys stranger
gw_write_config "$(cat "$JG_WORK/client.pub")"
gw_start
gw_client_up client
gw_establish

gw_log "(a) a stock client with an unknown key, $WG_X on port 41002"
gw_extra_client_up "$WG_X" stranger 41002 10.77.0.3 177
# wireguard-go retries its initiation every REKEY_TIMEOUT (5 s): 12 s gives three tries.
if timeout 20 ip netns exec "$NS_C" ping -I "$WG_X" -c 12 -i 1 -W 1 -w 12 198.51.100.2 > "$JG_WORK/ping-x.log" 2>&1; then
  cat "$JG_WORK/ping-x.log"; gw_fail "a client with an unknown key got a ping through"
fi
grep -E "packets transmitted" "$JG_WORK/ping-x.log"
grep -q " 0 received" "$JG_WORK/ping-x.log" || gw_fail "replies reached the unknown client"
hs=$(ip netns exec "$NS_C" wg show "$WG_X" latest-handshakes | awk '{print $2}')
[ "$hs" = 0 ] || gw_fail "unknown client reports a handshake ($hs)"
ip -n "$NS_C" link set "$WG_X" down
gw_ping "$NS_C" 198.51.100.2 3 || { cat "$JG_WORK/ping-last.log"; gw_fail "real client lost its tunnel during (a)"; }

gw_log "(b) capture the real client's transport packets"
ip netns exec "$NS_C" tcpdump -i "$TAP_O" -Q out -U -n -w "$JG_WORK/client.pcap" \
  udp and src host 192.0.2.2 and dst host 192.0.2.1 and dst port 51820 > "$JG_WORK/tcpdump.log" 2>&1 &
tcpd=$!
WG_PIDS+=("$tcpd")
for _ in $(seq 1 50); do grep -q "listening on" "$JG_WORK/tcpdump.log" && break; sleep 0.1; done
grep -q "listening on" "$JG_WORK/tcpdump.log" || gw_fail "tcpdump did not start"
gw_ping "$NS_C" 198.51.100.2 10 || { cat "$JG_WORK/ping-last.log"; gw_fail "no ping while capturing"; }
sleep 0.5
kill -INT "$tcpd"
for _ in $(seq 1 50); do kill -0 "$tcpd" 2>/dev/null || break; sleep 0.1; done
wait "$tcpd" 2>/dev/null || true

gw_log "(b) replay them from 192.0.2.4:45123"
ip -n "$NS_C" addr add 192.0.2.4/24 dev "$TAP_O"
sleep 0.5
ip netns exec "$NS_C" python3 - "$JG_WORK/client.pcap" > "$JG_WORK/replay.log" <<'PY' || { cat "$JG_WORK/replay.log"; gw_fail "replay failed"; }
import socket, struct, sys, time
data = open(sys.argv[1], "rb").read()
magic = struct.unpack("<I", data[:4])[0]
assert magic in (0xA1B2C3D4, 0xA1B23C4D), "not a little-endian pcap"
assert struct.unpack("<I", data[20:24])[0] == 1, "not an Ethernet capture"
off, payloads = 24, []
while off + 16 <= len(data):
    incl = struct.unpack("<I", data[off + 8:off + 12])[0]
    frame = data[off + 16:off + 16 + incl]
    off += 16 + incl
    if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
        continue
    ihl = (frame[14] & 0x0F) * 4
    if frame[14 + 9] != 17:
        continue
    udp = frame[14 + ihl:]
    payload = udp[8:struct.unpack(">H", udp[4:6])[0]]
    if payload[:1] == b"\x04" and len(payload) >= 32:   # WireGuard transport data
        payloads.append(payload)
assert len(payloads) >= 5, f"only {len(payloads)} transport packets captured"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.4", 45123))
for rnd in range(2):
    for p in payloads:
        s.sendto(p, ("192.0.2.1", 51820))
        time.sleep(0.005)
print(f"replayed {len(payloads)} captured transport packets twice from 192.0.2.4:45123")
PY
cat "$JG_WORK/replay.log"
sleep 1
# The real client still works, and from its own address.
gw_ping "$NS_C" 198.51.100.2 5 || { cat "$JG_WORK/ping-last.log"; gw_fail "real client broken after the replay"; }
gw_ping "$NS_H" 10.77.0.2 3 || { cat "$JG_WORK/ping-last.log"; gw_fail "inner host cannot reach the client after the replay"; }

gw_stop
hline=$(gw_summary_line "control  handshakes")
dline=$(gw_summary_line "worker lcore [0-9]+  dropped ")
echo "$hline"
[[ "$hline" =~ handshakes\ ([0-9]+)\ initiations,\ ([0-9]+)\ accepted ]] || gw_fail "no handshake summary line"
init=${BASH_REMATCH[1]} acc=${BASH_REMATCH[2]}
[ "$acc" = 1 ] || gw_fail "accepted handshakes $acc, expected 1 (the real client's only)"
[ "$init" -ge 2 ] || gw_fail "the unknown client's initiations were not counted ($init initiations)"
[[ "$dline" =~ replay_duplicate=([0-9]+) ]] && dup=${BASH_REMATCH[1]} || gw_fail "no replay_duplicate in: $dline"
[[ "$dline" =~ replay_too_old=([0-9]+) ]] && old=${BASH_REMATCH[1]} || gw_fail "no replay_too_old in: $dline"
echo "replay drops: replay_duplicate=$dup replay_too_old=$old ($(grep -o "replayed [0-9]*" "$JG_WORK/replay.log") packets, twice)"
[ $((dup + old)) -gt 0 ] || gw_fail "the gateway counted no replay drops"
[[ "$dline" =~ auth_failed=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" = 0 ] || gw_fail "replayed packets reached the AEAD: $dline"

gw_audit_assert "
created = of('SessionCreated')
assert len(created) == 1, f'{len(created)} SessionCreated, expected 1'
assert created[0]['peer'] == '$(cat "$JG_WORK/client.pub")', 'session for an unexpected peer'
assert '$(cat "$JG_WORK/stranger.pub")' not in open('$GW_AUDIT').read(), 'the unknown key appears in the audit log'
sw = of('TransportSwitch')
assert not sw, f'binding moved: {sw}'
assert not any('192.0.2.4' in str(e) for e in ev if e['event_type'] != 'SecurityEvent'), 'the replay source was considered as a transport'
print(f'audit: one session {created[0][\"session_id\"]}, no TransportSwitch')
"
gw_audit_check
echo "PASS"
