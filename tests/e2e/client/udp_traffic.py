#!/usr/bin/env python3
"""Sequence-numbered UDP datagrams through jumpgate-client's app socket, and their echoes.

usage: udp_traffic.py echo ADDR PORT                 -- echo server (the inner host)
       udp_traffic.py send APP_ADDR APP_PORT INTERVAL_MS STOP_FILE OUT_JSON
The sender stops when STOP_FILE exists, then waits 1 s for stragglers and writes OUT_JSON:
{"sent": {seq: t_sent}, "received": {seq: t_received}} (times: monotonic seconds)."""
import json
import os
import select
import socket
import struct
import sys
import time


def echo(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(data, peer)


def send(app_addr, app_port, interval_ms, stop_file, out_json):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    dest = (app_addr, int(app_port))
    interval = int(interval_ms) / 1000.0
    sent, received = {}, {}
    seq = 0
    next_send = time.monotonic()
    stop_at = None
    while True:
        now = time.monotonic()
        if stop_at is None and os.path.exists(stop_file):
            stop_at = now + 1.0
        if stop_at is not None and now >= stop_at:
            break
        if stop_at is None and now >= next_send:
            seq += 1
            s.sendto(struct.pack("!Q", seq) + b"jumpgate-e2e" * 4, dest)
            sent[seq] = now
            next_send += interval
        r, _, _ = select.select([s], [], [], max(0.0, min(next_send - now, 0.05)))
        if r:
            data, _ = s.recvfrom(65535)
            if len(data) >= 8:
                n = struct.unpack("!Q", data[:8])[0]
                received.setdefault(n, time.monotonic())
    with open(out_json, "w") as f:
        json.dump({"sent": sent, "received": received}, f)


if __name__ == "__main__":
    if sys.argv[1] == "echo":
        echo(*sys.argv[2:4])
    else:
        send(*sys.argv[2:7])
