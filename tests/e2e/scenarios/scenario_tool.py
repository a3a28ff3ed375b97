#!/usr/bin/env python3
"""The failover scenarios' traffic, impairment and attack side, driven by scenario_env.sh.

  stream APP_ADDR:APP_PORT INTERVAL_MS OUT_JSON
      sequence-numbered datagrams into jumpgate-client's app socket until SIGTERM, then 1 s
      for late echoes; writes {"sent": {seq: unix_s}, "echoed": {seq: unix_s}}.
  measure OUT_JSON [EVENT_UNIX_S]
      one JSON line: sent, echoed, lost (after the first echo), warmup_lost; with EVENT_UNIX_S also the recovery time (longest
      silence between two echoes arriving after the event, in ms: the last echo before the
      outage to the first after it) and the datagrams lost from the event on.
  flap SOCK_A SOCK_B PERIOD_MS DURATION_MS
      blackholes relay A then relay B, alternately, each for PERIOD_MS (the other open); at
      the end both are open. Prints {"flips": N}.
  forge IFACE SRC_ADDR GATEWAY_ADDR:PORT
      learns the session's receiver index and newest counter from the client's own packets
      to the gateway on IFACE, then sends one transport message with that index, a fresh
      counter and random bytes for ciphertext and tag (what a REATTACH_REQUEST sealed with a
      key other than the session's looks like) from SRC_ADDR. Prints what it sent.
"""
import json
import os
import select
import signal
import socket
import struct
import sys
import time

TRANSPORT_TYPE = 4
# A REATTACH_REQUEST sealed: 16-byte header, its padded plaintext, 16-byte tag.
FORGED_BODY_BYTES = 48 + 16


def stream(app, interval_ms, out_json):
    host, port = app.rsplit(":", 1)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(time.monotonic()))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    dest = (host, int(port))
    interval = int(interval_ms) / 1000.0
    sent, echoed = {}, {}
    seq = 0
    next_send = time.monotonic()
    while True:
        now = time.monotonic()
        if stop and now >= stop[0] + 1.0:
            break
        if not stop and now >= next_send:
            seq += 1
            try:
                s.sendto(struct.pack("!Q", seq) + b"scenario" * 6, dest)
            except OSError:
                pass  # the client is gone (ICMP unreachable): the datagram counts as lost
            sent[seq] = time.time()
            # A late wake-up sends at once but does not burst to catch up.
            next_send = max(next_send + interval, now)
        try:
            r, _, _ = select.select([s], [], [], max(0.0, min(next_send - now, 0.02)))
        except InterruptedError:
            continue
        while r:
            try:
                data = s.recv(65535)
            except OSError:
                data = b""
            if len(data) >= 8:
                echoed.setdefault(struct.unpack("!Q", data[:8])[0], time.time())
            r, _, _ = select.select([s], [], [], 0)
    with open(out_json + ".tmp", "w") as f:
        json.dump({"sent": sent, "echoed": echoed}, f)
    os.replace(out_json + ".tmp", out_json)


def measure(out_json, event=None):
    d = json.load(open(out_json))
    sent = {int(k): v for k, v in d["sent"].items()}
    echoed = {int(k): v for k, v in d["echoed"].items()}
    # Datagrams before the first echo wait for the gateway to resolve the inner host: a
    # start-up cost, not a failover's, counted apart.
    first = min(echoed, default=max(sent, default=0) + 1)
    warmup = [s for s in sent if s < first and s not in echoed]
    lost = sorted(s for s in set(sent) - set(echoed) if s > first)
    res = {"sent": len(sent), "echoed": len(echoed), "lost": len(lost), "warmup_lost": len(warmup)}
    if event is not None:
        event = float(event)
        times = sorted(echoed.values())
        before = [t for t in times if t < event]
        after = [t for t in times if t >= event]
        # From the last echo before the event (the path was fine then) to the first one
        # after the longest silence that follows.
        seq_times = ([before[-1]] if before else []) + after
        gap = max((b - a for a, b in zip(seq_times, seq_times[1:])), default=0.0)
        res["recovery_ms"] = round(gap * 1000, 1)
        res["lost_after_event"] = len([s for s in lost if sent[s] >= event - 0.5])
    print(json.dumps(res))


def control(sock_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    f = s.makefile("rw")

    def command(line):
        f.write(line + "\n")
        f.flush()
        reply = f.readline().strip()
        if reply != "ok":
            raise SystemExit(f"relay {sock_path}: '{line}' -> {reply}")

    return command


def flap(sock_a, sock_b, period_ms, duration_ms):
    a, b = control(sock_a), control(sock_b)
    period = int(period_ms) / 1000.0
    end = time.monotonic() + int(duration_ms) / 1000.0
    flips = 0
    turn = time.monotonic()
    while time.monotonic() < end:
        dark, lit = (a, b) if flips % 2 == 0 else (b, a)
        lit("both blackhole off")
        dark("both blackhole on")
        flips += 1
        turn += period
        time.sleep(max(0.0, turn - time.monotonic()))
    a("both blackhole off")
    b("both blackhole off")
    print(json.dumps({"flips": flips}))


def sniff_transport(iface, gateway, timeout_s=5.0):
    """(receiver_index bytes, counter) of the newest client->gateway transport message."""
    gw_addr, gw_port = gateway.rsplit(":", 1)
    # ETH_P_ALL: the kernel shows a socket its own host's outgoing frames only on that.
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    raw.bind((iface, 0))
    deadline = time.monotonic() + timeout_s
    want_dst = socket.inet_aton(gw_addr)
    while time.monotonic() < deadline:
        r, _, _ = select.select([raw], [], [], 0.1)
        if not r:
            continue
        frame, meta = raw.recvfrom(65535)
        if meta[2] != socket.PACKET_OUTGOING or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 17 or ip[16:20] != want_dst:
            continue
        udp = ip[ihl:]
        if struct.unpack("!H", udp[2:4])[0] != int(gw_port):
            continue
        msg = udp[8:]
        if len(msg) >= 32 and msg[0] == TRANSPORT_TYPE:
            return msg[4:8], struct.unpack("<Q", msg[8:16])[0]
    raise SystemExit(f"no transport message to {gateway} seen on {iface} in {timeout_s} s")


def forge(iface, src_addr, gateway):
    index, counter = sniff_transport(iface, gateway)
    # Far ahead of anything the client will send in this test, so the replay window calls it
    # fresh and only the AEAD can reject it.
    forged_counter = counter + 1_000_000
    msg = struct.pack("<I", TRANSPORT_TYPE) + index + struct.pack("<Q", forged_counter)
    msg += os.urandom(FORGED_BODY_BYTES)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src_addr, 0))
    gw_addr, gw_port = gateway.rsplit(":", 1)
    s.sendto(msg, (gw_addr, int(gw_port)))
    print(json.dumps({"receiver_index": index.hex(), "counter": forged_counter,
                      "bytes": len(msg), "from": "%s:%d" % s.getsockname()}))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"stream": stream, "measure": measure, "flap": flap,
     "forge": forge}[cmd](*args)
