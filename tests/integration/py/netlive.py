#!/usr/bin/python3
"""Traffic for net_live.sh's namespaces, and its event reader.

  netlive.py knock SRC DST PORT SECONDS  a TCP connection from SRC to DST:PORT
                                         every half second (the Internet
                                         talking to the PC through its gateway)
  netlive.py discover IFACE              one DHCP discover (xid 0x5eed) with
                                         the broadcast flag, on IFACE
  netlive.py dns SERVER NAME             one DNS A query for NAME to SERVER
  netlive.py lines                       the JSON list on stdin, one compact
                                         line a member"""
import json
import socket
import struct
import sys
import time


def knock(src, dst, port, seconds):
    end = time.time() + float(seconds)
    while time.time() < end:
        s = socket.socket()
        s.bind((src, 0))
        s.settimeout(0.3)
        try:
            s.connect((dst, int(port)))
        except OSError:
            pass
        s.close()
        time.sleep(0.5)


def discover(iface):
    from scapy.all import BOOTP, DHCP, Ether, IP, UDP, get_if_hwaddr, sendp
    mac = get_if_hwaddr(iface)
    sendp(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255") /
          UDP(sport=68, dport=67) /
          BOOTP(chaddr=bytes.fromhex(mac.replace(":", "")), xid=0x5eed, flags=0x8000) /
          DHCP(options=[("message-type", "discover"), "end"]), iface=iface, verbose=False)


def dns(server, name):
    q = struct.pack(">HHHHHH", 0x1d, 0x0100, 1, 0, 0, 0)
    for label in name.encode().split(b"."):
        q += bytes([len(label)]) + label
    q += b"\0" + struct.pack(">HH", 1, 1)
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(q, (server, 53))


def lines():
    for e in json.load(sys.stdin):
        print(json.dumps(e, separators=(",", ":"), ensure_ascii=False))


COMMANDS = {"knock": knock, "discover": discover, "dns": dns, "lines": lines}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
