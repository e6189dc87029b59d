#!/usr/bin/python3
"""Hostile peers for the collector, one behaviour per mode.

Usage: hostile.py MODE [--host H] [--port P] [--ca CA] [--cert C --key K]
                  [--agent ID] [--source IP] [more per mode]

Each mode prints one line saying what it saw and exits 0 when it could
carry out its attack (whether the collector then behaved is for the
calling script to judge, from the output and the collector's state), or 2
on a usage error. The collector's answers are decoded with python3-msgpack,
never with our own code."""
import argparse
import os
import resource
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

import msgpack


def pack_frame(obj):
    body = msgpack.packb(obj, use_bin_type=True)
    return struct.pack(">I", len(body)) + body


def raw_frame(body):
    return struct.pack(">I", len(body)) + body


def connect(a, cert=None, key=None, source=None, timeout=10, rcvbuf=None):
    """A TLS 1.3 connection to the collector. rcvbuf shrinks our receive
    window (set before connecting), so that what we do not read piles up
    at the collector in seconds rather than after megabytes of kernel
    buffers."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(a.ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if source:
        raw.bind((source, 0))
    raw.settimeout(timeout)
    raw.connect((a.host, a.port))
    return ctx.wrap_socket(raw, server_hostname="localhost")


def read_frames(s, limit=10.0, want=None):
    """Reads until the peer closes, `limit` seconds pass, or `want` frames
    have arrived; returns (frames, closed)."""
    buf = b""
    frames = []
    closed = False
    end = time.time() + limit
    while want is None or len(frames) < want:
        left = end - time.time()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except (ssl.SSLError, OSError):
            closed = True
            break
        if not chunk:
            closed = True
            break
        buf += chunk
        while len(buf) >= 4:
            n = struct.unpack(">I", buf[:4])[0]
            if len(buf) < 4 + n:
                break
            frames.append(msgpack.unpackb(buf[4:4 + n], raw=False,
                                          strict_map_key=False))
            buf = buf[4 + n:]
    return frames, closed


def make_csr(workdir):
    key = os.path.join(workdir, "k.pem")
    csr = os.path.join(workdir, "c.csr")
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=x",
                    "-keyout", key, "-out", csr], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return key, open(csr).read()


def enroll_frame(token, csr, host="pc-01"):
    m = {"t": "enroll", "v": 1, "token": token, "csr": csr, "ver": "test"}
    if host is not None:
        m["host"] = host
    return pack_frame(m)


def answer_of(frames):
    for f in frames:
        if isinstance(f, dict) and f.get("t") in ("error", "enrolled"):
            return f
    return None


def describe(frames, closed):
    f = answer_of(frames)
    if f is None:
        return "no-answer closed=%s" % closed
    if f["t"] == "error":
        return "error:%s closed=%s" % (f.get("code"), closed)
    return "enrolled:%s closed=%s" % (f.get("agent"), closed)


# ---- the enrollment port ---------------------------------------------------

def enroll_payload(mode, token, csr):
    """The bytes each enrollment-port attack sends after the handshake."""
    if mode == "header-ffffffff":
        return b"\xff\xff\xff\xff"
    if mode == "no-host":
        return enroll_frame(token, csr, host=None)
    if mode == "long-host":
        return enroll_frame(token, csr, host="h" * 200)
    if mode == "newline-host":
        return enroll_frame(token, csr,
                            host="pc\n2026-01-01T00:00:00.000Z eduwatch-collector info: enroll: FORGED")
    if mode == "escape-host":
        return enroll_frame(token, csr, host="pc\x1b[2J\x1b[31m")
    if mode == "utf8-host":
        return enroll_frame(token, csr, host="m\xe1y-01")
    if mode == "big-csr":
        return enroll_frame(token, "A" * 20000)
    if mode == "ping":
        return pack_frame({"t": "ping", "ts": 1})
    if mode == "hello":
        return pack_frame({"t": "hello", "v": 1, "agent": "79001-0000000000000000"})
    if mode == "not-msgpack":
        return raw_frame(b"\xc1\xc1\xc1 not msgpack")
    if mode == "not-a-map":
        return raw_frame(msgpack.packb([1, 2, 3]))
    if mode == "no-type":
        return raw_frame(msgpack.packb({"token": token}))
    if mode == "token-not-str":
        return raw_frame(msgpack.packb({"t": "enroll", "token": 5, "csr": csr, "host": "pc"}))
    if mode == "token-nul":
        return enroll_frame("ewt_\x00abc", csr)
    if mode == "csr-nul":
        return enroll_frame(token, "\x00" + "A" * 100)
    if mode == "bad-csr":
        return enroll_frame(token, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")
    if mode == "over-32k":
        return struct.pack(">I", 40000) + b"\x80" * 100
    if mode == "zero-length":
        return b"\x00\x00\x00\x00"
    if mode == "two-frames":
        return enroll_frame(token, csr) + enroll_frame(token, csr)
    if mode == "valid":
        return enroll_frame(token, csr)
    raise SystemExit("unknown enroll mode " + mode)


def mode_enroll(a):
    with tempfile.TemporaryDirectory() as d:
        key, csr = make_csr(d)
        s = connect(a, source=a.source)
        s.sendall(enroll_payload(a.what, a.token or "ewt_guess", csr))
        if a.hangup:
            s.close()
            print("sent and hung up")
            return 0
        frames, closed = read_frames(s, a.wait)
        print(describe(frames, closed))
        if a.out and answer_of(frames) and answer_of(frames)["t"] == "enrolled":
            f = answer_of(frames)
            open(a.out + ".crt", "w").write(f["cert"])
            os.replace(key, a.out + ".key")
            open(a.out + ".id", "w").write(f["agent"])
        return 0


def mode_guess(a):
    """Wrong tokens one after another from one address; prints each
    answer's code and how long it took."""
    with tempfile.TemporaryDirectory() as d:
        _, csr = make_csr(d)
        for i in range(a.count):
            t0 = time.time()
            s = connect(a, source=a.source, timeout=60)
            s.sendall(enroll_frame("ewt_guess%04d" % i, csr))
            frames, closed = read_frames(s, 60)
            f = answer_of(frames)
            print("%d %s %.2f" % (i, f.get("code") if f else "none",
                                  time.time() - t0), flush=True)
            s.close()
    return 0


def mode_idle_tcp(a):
    """Opens plain TCP connections and sends nothing; reports how many the
    collector closed after `hold` seconds."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks = []
    for _ in range(a.count):
        src = (a.source, 0) if a.source else None
        socks.append(socket.create_connection((a.host, a.port), source_address=src))
    print("opened %d" % len(socks), flush=True)
    time.sleep(a.hold)
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
    print("closed %d of %d" % (closed, len(socks)))
    return 0


# ---- an enrolled agent that misbehaves -------------------------------------

def hello(a):
    return pack_frame({"t": "hello", "v": 1, "agent": a.agent, "boot": 7, "ver": "hostile"})


def event(a, seq, kind="av.status", body=None, ts=None):
    return {"v": 1, "agent": a.agent, "boot": a.boot, "seq": seq,
            "ts": ts if ts is not None else int(time.time() * 1e6),
            "kind": kind, "sev": 3, "drill": False,
            "body": body if body is not None else {"realtime": True}}


def flood_without_reading(a, s, payload, per_send, what):
    """Sends payload as fast as the collector takes it, never reading, for
    a.seconds; then drains what was queued for us, for at most 10 s.
    Prints whether the collector stopped reading us and whether it cut
    the connection."""
    sent = 0
    end = time.time() + a.seconds
    s.settimeout(5)
    stopped = "never stopped reading"
    try:
        while time.time() < end:
            s.sendall(payload)
            sent += per_send
    except (socket.timeout, ssl.SSLError, OSError) as e:
        stopped = "stopped after %d %s: %s" % (sent, what, type(e).__name__)
    time.sleep(max(0.0, end - time.time()))
    # A cut connection ends (reset or EOF) once our side's queue is read;
    # a live one keeps answering slowly or goes quiet.
    s.settimeout(2)
    outcome = "still open"
    drain_end = time.time() + 10
    try:
        while time.time() < drain_end:
            if not s.recv(65536):
                outcome = "then cut by the collector: EOF"
                break
    except socket.timeout:
        pass
    except (ConnectionError, ssl.SSLError, OSError) as e:
        outcome = "then cut by the collector: " + type(e).__name__
    print("%s: %s; %s" % (a.mode, stopped, outcome))
    return 0


def mode_noread(a):
    """Sends pings as fast as it can and never reads a byte."""
    s = connect(a, a.cert, a.key, rcvbuf=16384)
    s.sendall(hello(a))
    return flood_without_reading(a, s, pack_frame({"t": "ping", "ts": 1}) * 256,
                                 256, "pings")


def mode_fetchloop(a):
    """Asks for the same bundle piece as fast as possible without reading."""
    s = connect(a, a.cert, a.key, rcvbuf=16384)
    s.sendall(hello(a))
    req = pack_frame({"t": "fetch", "what": "rules", "version": a.version, "offset": 0})
    return flood_without_reading(a, s, req * 64, 64, "fetches")


def mode_fetchfair(a):
    """Reads pieces and counts how many real pieces (not 'busy') arrive in
    `seconds`."""
    s = connect(a, a.cert, a.key)
    s.sendall(hello(a))
    got = busy = 0
    end = time.time() + a.seconds
    buf = b""
    while time.time() < end:
        s.sendall(pack_frame({"t": "fetch", "what": "rules", "version": a.version, "offset": 0}))
        frames, closed = read_frames(s, 5, want=1 if buf == b"" else 1)
        for f in frames:
            if f.get("t") == "blob" and "data" in f:
                got += 1
            elif f.get("t") == "blob":
                busy += 1
                # A real agent waits retry_ms (1-5 s); a tenth of a
                # second keeps this one eager without spinning.
                time.sleep(0.1)
        if closed:
            break
    print("fetchfair: pieces=%d busy=%d" % (got, busy))
    return 0


def mode_manyconn(a):
    """Holds many connections with one certificate, each sending events at
    the full rate; reports how many the collector acked in total."""
    socks = []
    seq = [1]
    lock = threading.Lock()
    acked = [0]
    for i in range(a.count):
        try:
            s = connect(a, a.cert, a.key)
            s.sendall(hello(a))
            socks.append(s)
        except OSError:
            break

    def run(s):
        end = time.time() + a.seconds
        fid = 0
        try:
            while time.time() < end:
                with lock:
                    first = seq[0]
                    seq[0] += 100
                evs = [event(a, first + j) for j in range(100)]
                fid += 1
                s.sendall(pack_frame({"t": "events", "id": fid, "ev": evs}))
                frames, closed = read_frames(s, 2, want=2)
                for f in frames:
                    if f.get("t") == "ack":
                        with lock:
                            acked[0] += f.get("n", 0)
                if closed:
                    return
        except OSError:
            return

    threads = [threading.Thread(target=run, args=(s,)) for s in socks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("manyconn: connections=%d stored=%d" % (len(socks), acked[0]))
    return 0


def mode_events(a):
    """Sends one frame of events built from --kind/--body/--ts and waits for
    the ack or the error."""
    import json
    body = json.loads(a.body) if a.body else None
    if a.path_hex:
        body = dict(body or {}, path=bytes.fromhex(a.path_hex).decode("utf-8", "surrogateescape"))
    s = connect(a, a.cert, a.key)
    evs = [event(a, a.seq, kind=a.kind, body=body, ts=a.ts)]
    payload = msgpack.packb({"t": "events", "id": 1, "ev": evs},
                            use_bin_type=True, unicode_errors="surrogateescape")
    s.sendall(hello(a) + raw_frame(payload))
    frames, closed = read_frames(s, 10, want=2)
    for f in frames:
        if f.get("t") in ("ack", "error"):
            print("%s %s" % (f["t"], f.get("code", f.get("n"))))
            return 0
    print("none closed=%s" % closed)
    return 0


def mode_replace_unread(a):
    """Connects again and again with one certificate, each time leaving
    the old connection owing unread output (a bundle piece) and never
    reading it. The old sockets are kept open on our side."""
    socks = []
    for _ in range(a.count):
        s = connect(a, a.cert, a.key, rcvbuf=4096)
        s.sendall(hello(a) + pack_frame({"t": "fetch", "what": "rules",
                                         "version": a.version, "offset": 0}))
        socks.append(s)
        time.sleep(0.05)
    print("replace-unread: %d connections opened, none read" % len(socks), flush=True)
    time.sleep(a.hold)
    return 0


def mode_reconnect_burst(a):
    """Reconnects as fast as it can, each time sending one full frame of
    1,000 events and hanging up after its answer, for a.seconds; prints
    how many events the collector acked in all."""
    acked = 0
    seq = a.seq
    frames = 0
    end = time.time() + a.seconds
    while time.time() < end:
        try:
            s = connect(a, a.cert, a.key)
            evs = [event(a, seq + j) for j in range(1000)]
            seq += 1000
            s.sendall(hello(a) + pack_frame({"t": "events", "id": 1, "ev": evs}))
            frames += 1
            got, _ = read_frames(s, 0.5, want=2)
            for f in got:
                if f.get("t") == "ack":
                    acked += f.get("n", 0)
            s.close()
        except OSError:
            time.sleep(0.05)
    print("reconnect-burst: frames=%d stored=%d" % (frames, acked))
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--agent")
    p.add_argument("--boot", type=int, default=99)
    p.add_argument("--source")
    p.add_argument("--what", default="valid")
    p.add_argument("--token")
    p.add_argument("--out")
    p.add_argument("--hangup", action="store_true")
    p.add_argument("--wait", type=float, default=20)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--hold", type=float, default=1)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--version", type=int, default=1)
    p.add_argument("--kind", default="av.status")
    p.add_argument("--body")
    p.add_argument("--path-hex")
    p.add_argument("--ts", type=int)
    p.add_argument("--seq", type=int, default=1)
    a = p.parse_args()
    modes = {"enroll": mode_enroll, "guess": mode_guess, "idle-tcp": mode_idle_tcp,
             "noread": mode_noread, "fetchloop": mode_fetchloop,
             "fetchfair": mode_fetchfair, "manyconn": mode_manyconn,
             "events": mode_events, "replace-unread": mode_replace_unread,
             "reconnect-burst": mode_reconnect_burst}
    if a.mode not in modes:
        print("unknown mode", a.mode)
        return 2
    return modes[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
