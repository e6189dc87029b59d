#!/usr/bin/python3
"""Hostile clients for the collector's ingest and enrollment ports.

Usage: badclient.py MODE HOST PORT CA [CERT KEY] [ARGS]
Prints what happened on one line; exit 0 when the collector behaved
(closed the connection or refused), 1 when it did not."""
import importlib.util
import os
import resource
import socket
import ssl
import struct
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "seeds", os.path.join(here, "..", "fuzz", "make-seeds.py"))
seeds = importlib.util.module_from_spec(spec)
spec.loader.exec_module(seeds)
frame, event = seeds.frame, seeds.event


def tls(host, port, ca, cert=None, key=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    raw = socket.create_connection((host, port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname=host)


def read_until_closed(s, limit=10):
    """Reads until the peer closes; returns the bytes received."""
    got = b""
    s.settimeout(limit)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except (ssl.SSLError, ConnectionError, socket.timeout, OSError):
        pass
    return got


def closed_after(s, payload):
    try:
        s.sendall(payload)
    except (ssl.SSLError, ConnectionError, OSError):
        return True, b""
    got = read_until_closed(s)
    return True, got


def main():
    mode, host, port, ca = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    rest = sys.argv[5:]
    if mode in ("garbage", "oversize", "badkind", "wrongagent", "bigbody"):
        cert, key, agent = rest[0], rest[1], rest[2]
        s = tls(host, port, ca, cert, key)
        hello = frame({"t": "hello", "v": 1, "agent": agent, "boot": 1, "ver": "x"})
        if mode == "garbage":
            payload = hello + struct.pack(">I", 9) + b"\xc1\xc1garbage"
        elif mode == "oversize":
            payload = hello + b"\xff\xff\xff\xff"
        elif mode == "badkind":
            ev = dict(event(1), agent=agent, kind="evil.kind")
            payload = hello + frame({"t": "events", "id": 1, "ev": [ev]})
        elif mode == "bigbody":
            ev = dict(event(1), agent=agent, body={"k%d" % i: "x" * 4000 for i in range(20)})
            payload = hello + frame({"t": "events", "id": 1, "ev": [ev]})
        else:
            ev = dict(event(1), agent="someone-else")
            payload = hello + frame({"t": "events", "id": 1, "ev": [ev]})
        _, got = closed_after(s, payload)
        print(mode, "closed; reply has error frame:", b"error" in got)
        return 0 if b"error" in got else 1
    if mode == "othercert":
        cert, key = rest[0], rest[1]
        try:
            s = tls(host, port, ca, cert, key)
            s.sendall(frame({"t": "ping", "ts": 1}))
            got = read_until_closed(s, 5)
            print("othercert: connection closed without a reply" if not got else "othercert: got a reply")
            return 0 if not got else 1
        except (ssl.SSLError, ConnectionError, OSError) as e:
            print("othercert refused:", type(e).__name__)
            return 0
    if mode == "slowloris":
        s = socket.create_connection((host, port))
        s.sendall(b"\x16")  # the first byte of a TLS record, then nothing
        start = time.time()
        s.settimeout(30)
        try:
            data = s.recv(10)
        except OSError:
            data = b""
        took = time.time() - start
        print("slowloris closed after %.1fs" % took)
        return 0 if not data and took < 20 else 1
    if mode == "idle":
        count = int(rest[0])
        hold = float(rest[1])
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        socks = []
        for _ in range(count):
            socks.append(socket.create_connection((host, port)))
        print("opened", len(socks), "idle connections", flush=True)
        time.sleep(hold)
        closed = 0
        for s in socks:
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    closed += 1
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
        print("idle: %d of %d closed by the collector" % (closed, count))
        return 0 if closed == count else 1
    if mode == "enroll":
        token = rest[0]
        s = tls(host, port, ca)
        s.sendall(frame({"t": "enroll", "v": 1, "token": token, "csr": "not a csr", "host": "x", "ver": "x"}))
        got = read_until_closed(s)
        code = "?"
        for c in (b"token_unknown", b"token_expired", b"token_used", b"bad_csr"):
            if c in got:
                code = c.decode()
        print("enroll:", code)
        return 0
    print("unknown mode", mode)
    return 2


if __name__ == "__main__":
    sys.exit(main())
