#!/usr/bin/env python3
"""Traffic and forced events for the failover benchmark.

usage: failover_traffic.py echo ADDR PORT OUT_JSON
         The inner host: echoes every datagram and records when each sequence number arrived,
         per source address (the upstream direction). Writes OUT_JSON on SIGTERM:
         {"arrivals": {SRC_IP: {seq: t}}}.
       failover_traffic.py drive --dest ADDR:PORT --relay NAME=SOCKET [...] [options]
         The client side: sends sequence-numbered datagrams every --interval-ms to DEST (the
         client's app socket, or the inner host through a kernel WireGuard route) and records
         every echo (the downstream direction), while forcing transport deaths (blackholing the
         active path's relay) and NAT rebindings (the relay's rebind-port) one at a time.

Times are CLOCK_MONOTONIC seconds (time.monotonic), shared by every network namespace, so the
inner host's arrival times and the client's line up; each event also records the wall clock
(unix ms) to match the audit logs' ts_ms.
"""
import argparse
import json
import signal
import socket
import struct
import sys
import threading
import time

PAYLOAD_PAD = b"jumpgate-failover" * 3


def echo(addr, port, out_json):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    arrivals = {}

    def dump(*_):
        with open(out_json, "w") as f:
            json.dump({"arrivals": arrivals}, f)
        sys.exit(0)

    signal.signal(signal.SIGTERM, dump)
    signal.signal(signal.SIGINT, dump)
    while True:
        data, peer = s.recvfrom(65535)
        now = time.monotonic()
        if len(data) >= 8:
            seq = struct.unpack("!Q", data[:8])[0]
            arrivals.setdefault(peer[0], {}).setdefault(seq, now)
        s.sendto(data, peer)


class Traffic:
    """One UDP socket: a sender thread on a fixed schedule and a receiver thread."""

    def __init__(self, dest, interval_s):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.settimeout(0.2)
        self.dest = dest
        self.interval = interval_s
        self.sent = {}
        self.received = {}
        self.seq = 0
        self.max_received = 0
        self.send_errors = 0
        self.running = True
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._send, daemon=True),
                        threading.Thread(target=self._recv, daemon=True)]

    def start(self):
        for t in self.threads:
            t.start()

    def _send(self):
        next_send = time.monotonic()
        while self.running:
            now = time.monotonic()
            if now < next_send:
                time.sleep(next_send - now)
                continue
            with self.lock:
                self.seq += 1
                seq = self.seq
                self.sent[seq] = time.monotonic()
            try:
                self.sock.sendto(struct.pack("!Q", seq) + PAYLOAD_PAD, self.dest)
            except OSError:
                # No route while an interface is down: the datagram is lost like any other.
                self.send_errors += 1
            next_send += self.interval
            if next_send < now - 1.0:  # the process was descheduled: do not burst to catch up
                next_send = now

    def _recv(self):
        while self.running:
            try:
                data = self.sock.recv(65535)
            except socket.timeout:
                continue
            except OSError:
                continue
            now = time.monotonic()
            if len(data) < 8:
                continue
            seq = struct.unpack("!Q", data[:8])[0]
            if seq not in self.received:
                self.received[seq] = now
                if seq > self.max_received:
                    self.max_received = seq

    def mark(self):
        """The last sequence number sent before now: anything above it is sent after."""
        with self.lock:
            return self.seq

    def wait_echo_after(self, seq, timeout_s):
        """Until an echo of a datagram sent after `seq` arrives (both directions flow)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.max_received > seq:
                return True
            time.sleep(0.002)
        return False

    def stop(self, linger_s):
        self.running = False
        self.threads[0].join()
        time.sleep(linger_s)
        self.threads[1].join()


class RelayControl:
    """One connection to a relay's control socket; one command, one reply line."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""

    def command(self, text):
        self.sock.sendall(text.encode() + b"\n")
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError(f"relay {self.path} closed its control socket")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        reply = line.decode()
        if reply.startswith("error"):
            raise RuntimeError(f"relay {self.path}: '{text}' -> {reply}")
        return reply


def client_status(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2.0)
    s.connect(path)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return json.loads(data)


def wait_status(path, pred, timeout_s):
    deadline = time.monotonic() + timeout_s
    st = None
    while time.monotonic() < deadline:
        try:
            st = client_status(path)
            if pred(st):
                return st
        except (OSError, ValueError):
            pass
        time.sleep(0.01)
    return None


def drive(a):
    host, port = a.dest.rsplit(":", 1)
    relays = {}
    for spec in a.relay:
        name, path = spec.split("=", 1)
        relays[name] = RelayControl(path)
    tr = Traffic((host, int(port)), a.interval_ms / 1000.0)
    tr.start()
    log = lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)  # noqa: E731

    # Warm-up: echoes flow both ways before the first event.
    if not tr.wait_echo_after(0, a.warmup_timeout_s):
        tr.stop(0.5)
        raise SystemExit(f"no echo through the tunnel within {a.warmup_timeout_s} s")
    time.sleep(1.0)

    events = []
    session_ids = set()

    def active_path():
        if not a.status_socket:
            return next(iter(relays))
        st = client_status(a.status_socket)
        session_ids.add(st.get("session_id", ""))
        return st["active_path"]

    def begin(kind, path, command):
        t = time.monotonic()
        wall = time.time() * 1000.0
        relays[path].command(command)
        # Marked once the relay has acted: a datagram sent after this cannot have slipped
        # through the old path.
        seq = tr.mark()
        return {"kind": kind, "path": path, "t": t, "wall_ms": wall, "seq_before": seq}

    plan = ["death"] * a.deaths + ["rebind"] * a.rebinds
    unsettled = 0
    last_start = 0.0
    for i, kind in enumerate(plan):
        # The gateway keeps at most 64 switches a minute whatever the policy says; one forced
        # event a --spacing-ms keeps both clients' moves under it.
        wait = last_start + a.spacing_ms / 1000.0 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        # Each event starts from a settled session: a failover still in progress (the client
        # switched on its own, e.g. after a stall) would add its outage to ours.
        if a.status_socket and not wait_status(a.status_socket,
                                               lambda s: s["state"] == "ATTACHED", 5.0):
            unsettled += 1
        path = active_path()
        last_start = time.monotonic()
        if kind == "death":
            ev = begin(kind, path, "both blackhole on")
            if a.status_socket:
                # The client switches on its own; the blackhole stays until it has, so the
                # outage is the client's and the gateway's doing, not ours.
                ev["recovered"] = tr.wait_echo_after(ev["seq_before"], a.recover_timeout_s)
                ev["t_flowing"] = time.monotonic()
                st = wait_status(a.status_socket, lambda s: s["active_path"] != path, 2.0)
                ev["switched_to"] = st["active_path"] if st else None
            else:
                # One path only (a stock client): the path comes back after hold_ms.
                time.sleep(a.hold_ms / 1000.0)
                ev["recovered_before_restore"] = tr.max_received > ev["seq_before"]
            ev["t_restore"] = time.monotonic()
            relays[path].command("both blackhole off")
            if not a.status_socket:
                ev["recovered"] = tr.wait_echo_after(ev["seq_before"], a.recover_timeout_s)
                ev["t_flowing"] = time.monotonic()
        else:
            ev = begin(kind, path, "rebind-port")
            ev["recovered"] = tr.wait_echo_after(ev["seq_before"], a.recover_timeout_s)
            ev["t_flowing"] = time.monotonic()
        events.append(ev)
        if not ev["recovered"]:
            log(f"event {i + 1} ({kind} on {path}): no echo within {a.recover_timeout_s} s")
        if (i + 1) % 10 == 0 or i + 1 == len(plan):
            log(f"{i + 1}/{len(plan)} events")
        time.sleep(a.settle_ms / 1000.0)
    if a.status_socket:
        active_path()
    time.sleep(1.0)
    tr.stop(1.0)
    out = {
        "interval_ms": a.interval_ms,
        "hold_ms": a.hold_ms,
        "sent": tr.sent,
        "received": tr.received,
        "send_errors": tr.send_errors,
        "events": events,
        "client_session_ids": sorted(session_ids),
        "events_started_unsettled": unsettled,
    }
    with open(a.out, "w") as f:
        json.dump(out, f)
    log(f"{len(tr.sent)} sent, {len(tr.received)} echoed, {len(events)} events")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "echo":
        if len(sys.argv) != 5:
            raise SystemExit("usage: failover_traffic.py echo ADDR PORT OUT_JSON")
        echo(*sys.argv[2:5])
        return
    p = argparse.ArgumentParser(prog="failover_traffic.py drive")
    p.add_argument("mode", choices=["drive"])
    p.add_argument("--dest", required=True, help="ADDR:PORT the datagrams go to")
    p.add_argument("--relay", action="append", required=True, help="PATH_NAME=CONTROL_SOCKET")
    p.add_argument("--status-socket", default="",
                   help="jumpgate-client's status socket (none: a stock client on one path)")
    p.add_argument("--deaths", type=int, default=100)
    p.add_argument("--rebinds", type=int, default=100)
    p.add_argument("--interval-ms", type=float, default=10.0)
    p.add_argument("--hold-ms", type=float, default=1000.0,
                   help="one path only: how long a blackhole lasts")
    p.add_argument("--settle-ms", type=float, default=400.0, help="clean traffic between events")
    p.add_argument("--spacing-ms", type=float, default=1100.0,
                   help="at least this long from one event's start to the next")
    p.add_argument("--recover-timeout-s", type=float, default=10.0)
    p.add_argument("--warmup-timeout-s", type=float, default=20.0)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    if a.interval_ms <= 0 or a.deaths < 0 or a.rebinds < 0:
        raise SystemExit("--interval-ms must be > 0 and event counts >= 0")
    drive(a)


if __name__ == "__main__":
    main()
