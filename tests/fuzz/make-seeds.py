#!/usr/bin/python3
"""Writes the seed corpora for the fuzz harnesses into tests/fuzz/corpus/.

The seeds are small and committed; this script says how they were made, so
anyone can regenerate or extend them."""
import os
import struct
import sys


def pack(o):
    if o is None:
        return b"\xc0"
    if o is True:
        return b"\xc3"
    if o is False:
        return b"\xc2"
    if isinstance(o, int):
        if 0 <= o < 128:
            return bytes([o])
        if 0 <= o < 2**32:
            return b"\xce" + struct.pack(">I", o)
        if 0 <= o:
            return b"\xcf" + struct.pack(">Q", o)
        return b"\xd3" + struct.pack(">q", o)
    if isinstance(o, str):
        b = o.encode()
        if len(b) < 32:
            return bytes([0xA0 | len(b)]) + b
        return b"\xd9" + bytes([len(b)]) + b if len(b) < 256 else b"\xda" + struct.pack(">H", len(b)) + b
    if isinstance(o, bytes):
        return b"\xc4" + bytes([len(o)]) + o
    if isinstance(o, list):
        head = bytes([0x90 | len(o)]) if len(o) < 16 else b"\xdc" + struct.pack(">H", len(o))
        return head + b"".join(pack(x) for x in o)
    if isinstance(o, dict):
        head = bytes([0x80 | len(o)]) if len(o) < 16 else b"\xde" + struct.pack(">H", len(o))
        return head + b"".join(pack(k) + pack(v) for k, v in o.items())
    raise TypeError(o)


def frame(m):
    body = pack(m)
    return struct.pack(">I", len(body)) + body


def event(seq, kind="av.status", body=None):
    return {"v": 1, "agent": "a-79001-0001", "boot": 123456789, "seq": seq,
            "ts": 1764380000000000, "kind": kind, "sev": 3, "drill": False,
            "body": body if body is not None else {"rtp": True, "engine": "clamav"}}


def ether(ethertype, payload, dst=b"\xff" * 6):
    return dst + b"\x02\x00\x00\x00\x00\x0a" + struct.pack(">H", ethertype) + payload


def ipv4_udp(sport, dport, payload):
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHIBBHII", 0x45, 0, 20 + len(udp), 0, 64, 17, 0, 0xC0000201, 0xC00002FF)
    return ip + udp


def dns_query(name, qtype=1):
    q = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\x00"
    return struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + q + struct.pack(">HH", qtype, 1)


def frames(items):
    """The netdetect harness's input: frames, each after a 2-byte length."""
    return b"".join(struct.pack(">H", len(f)) + f for f in items)


def scapy_captures():
    """The LAN sensor's test captures as seeds, when scapy is installed."""
    try:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                        "..", "integration"))
        import netpcaps
    except ImportError:
        return {}
    return {name: frames([bytes(p) for p in pkts]) for name, pkts in netpcaps.cases()}


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    seeds = {
        "frame": {
            "hello": b"\x07" + frame({"t": "hello", "v": 1, "agent": "a-79001-0001", "boot": 1, "ver": "0.1.0"}),
            "events": b"\x10" + frame({"t": "events", "id": 7, "ev": [event(1), event(2, "scan.match", {"rule": "EICAR", "path": "/tmp/x", "sha256": "ab" * 32})]}),
            "ack-ping": b"\xff" + frame({"t": "ack", "id": 7, "n": 2, "dup": 0}) + frame({"t": "ping", "ts": 5}),
            "huge-array": b"\x00" + struct.pack(">I", 5) + b"\xdd\xff\xff\xff\xff",
        },
        "event": {
            "av": pack(event(1)),
            "nested": pack(event(3, "net.arp_spoof", {"gw": {"ip": "192.0.2.1", "old": "aa:bb", "new": "cc:dd"}, "n": [1, 2, 3]})),
            "drill": pack(dict(event(4, "drill.action"), drill=True)),
        },
        "command": {
            "ping": pack({"t": "command", "id": 5, "agent": "a-79001-0001", "type": "ping", "args": {},
                          "issued": 1764379999000000, "expires": 1764383600000000, "sig": "x" * 70}),
        },
        "netparse": {
            "arp-reply": ether(0x0806, struct.pack(">HHBBH", 1, 0x0800, 6, 4, 2) + b"\x02" * 6 + bytes([192, 0, 2, 1]) + b"\x02" * 6 + bytes([192, 0, 2, 2])),
            "dhcp-offer": ether(0x0800, ipv4_udp(67, 68, bytes([2, 1, 6, 0]) + struct.pack(">I", 0xDEADBEEF) + bytes(228) + struct.pack(">I", 0x63825363) + bytes([53, 1, 2, 54, 4, 192, 0, 2, 66, 255]))),
            "dns-query": ether(0x0800, ipv4_udp(40000, 53, dns_query("evil.example"))),
            "nbns-query": ether(0x0800, ipv4_udp(137, 137, dns_query("fhfaebeecacacacacacacacacacacaaa", 32))),
        },
        "config": {
            "full": b"name: school\na:\n  count: 5\n  flag: yes\n  b:\n    wait: 2h\nsize: 64KiB\nitems:\n  - /a\n  - /b\n",
            "alias": b"name: &x y\nitems: [*x]\n",
            "bad": b"a:\n  count: [\n",
            "table": b"checks:\n  - id: a\n    weight: 2\n    tags: [x]\n    nested:\n      - id: n\n  - id: b\n",
        },
    }
    net = seeds["netparse"]
    seeds["netdetect"] = {
        "arp-twice": frames([net["arp-reply"], net["arp-reply"]]),
        "mixed": frames(list(net.values())),
    }
    seeds["netdetect"].update(scapy_captures())
    seeds["iocset"] = {
        "list": b"# IOC list\nevil.example\n*.bad.example.\n203.0.113.66 # c2\n2001:db8::66\n",
        "bad": b"ok.example\nnot a domain\n",
    }
    cvd = (b"ClamAV-VDB:14 Nov 2023 07:49 -0500:27093:2046026:90:"
           b"9a1b2c3d4e5f60718293a4b5c6d7e8f9:AbCdEf:raynman:1699966144")
    seeds["avstatus"] = {
        "cvd": cvd.ljust(512, b" "),
        "version": b"ClamAV 1.0.3/27093/Tue Nov 14 08:26:44 2023",
        "cim": b"20231114074900.000000-300",
    }
    header = pack({"kind": "rules", "version": 1795937583, "created": 1, "rules": 8,
                   "yara": "4.2.3", "sources": "rules/yara", "raw_len": 5,
                   "payload_len": 14, "payload_sha256": b"\0" * 32})
    split = pack({"kind": "rules", "version": 1795937584, "created": 1, "rules": 8,
                  "yara": "4.5.2", "sources": "rules/yara", "raw_len": 5,
                  "compiled_len": 3, "payload_len": 14,
                  "payload_sha256": b"\0" * 32})
    seeds["bundle"] = {
        "signed-parts": struct.pack(">H", len(header)) + header +
                        bytes.fromhex("28b52ffd2005290000") + b"hello",
        # Compiled form then sources (issue 16): compiled_len splits them.
        "signed-split": struct.pack(">H", len(split)) + split +
                        bytes.fromhex("28b52ffd2005290000") + b"hello",
        "magic": b"EWRULES1" + struct.pack(">I", 4) + b"\x80\x80\x80\x80" +
                 struct.pack(">I", 2) + b"0D",
    }
    seeds["relpkg"] = {
        "release": pack({"release": "2.0.1", "rollback": False,
                         "files": [["eduwatch-agent", True, b"\x7fELF"],
                                   ["README", False, b"notes"]]}),
        "twice": pack({"release": "1.0", "rollback": True,
                       "files": [["a", True, b""], ["a", False, b"x"]]}),
        "escape": pack({"release": "1.0", "rollback": False,
                        "files": [["../../etc/cron.d/x", True, b"x"]]}),
        # One version, one spelling; every part fits an unsigned long.
        "leading-zero": pack({"release": "1.02", "rollback": False,
                              "files": [["a", True, b"x"]]}),
        "long-part": pack({"release": "1.18446744073709551617",
                           "rollback": False, "files": [["a", True, b"x"]]}),
    }
    seeds["backupkey"] = {
        "keyfile": pack({"kdf": "scrypt", "n": 1024, "r": 8, "p": 1,
                         "salt": b"s" * 16, "sealed": b"k" * 124}),
        "escrow": pack({"v": 1, "epk": b"\x30" * 91, "sealed": b"e" * 124}),
    }
    for harness, files in seeds.items():
        d = os.path.join(root, harness)
        os.makedirs(d, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
