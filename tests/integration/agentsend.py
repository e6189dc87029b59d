#!/usr/bin/python3
"""Sends events as an enrolled agent, the way the agent does on the wire,
and waits for the collector's ack: a test can set any field (a ts in the
year 2100, a kind, a body) that a real agent would only send if it were
broken or hostile.

Usage: agentsend.py HOST PORT CA CERT KEY AGENT BOOT EVENTS_JSON
EVENTS_JSON is a list of {"seq", "ts", "kind", "sev", "body"} objects.
Prints "acked N dup M" and exits 0 once the batch is acked, 1 if not."""
import json
import os
import ssl
import socket
import struct
import sys
import importlib.util

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "seeds", os.path.join(here, "..", "fuzz", "make-seeds.py"))
seeds = importlib.util.module_from_spec(spec)
spec.loader.exec_module(seeds)


def read_frame(s):
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            return None
        head += chunk
    n = struct.unpack(">I", head)[0]
    body = b""
    while len(body) < n:
        chunk = s.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return body


def main():
    host, port, ca, cert, key, agent, boot, events = sys.argv[1:9]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(ca)
    ctx.load_cert_chain(cert, key)
    raw = socket.create_connection((host, int(port)), timeout=60)
    s = ctx.wrap_socket(raw, server_hostname=host)
    evs = []
    for e in json.loads(events):
        evs.append({"v": 1, "agent": agent, "boot": int(boot),
                    "seq": e["seq"], "ts": e["ts"], "kind": e["kind"],
                    "sev": e.get("sev", 3), "drill": False,
                    "body": e.get("body", {})})
    s.sendall(seeds.frame({"t": "hello", "v": 1, "agent": agent,
                           "boot": int(boot), "ver": "agentsend"}))
    s.sendall(seeds.frame({"t": "events", "id": 7, "ev": evs}))
    while True:
        body = read_frame(s)
        if body is None:
            print("closed before the ack")
            return 1
        if b"\xa3ack" in body:
            # {"t":"ack","id":7,"n":N,"dup":M}: small ints, fixmap order
            # as the collector packs it; enough to report.
            print("acked", body.hex())
            return 0
        if b"\xa5error" in body:
            print("error frame", body)
            return 1


if __name__ == "__main__":
    sys.exit(main())
