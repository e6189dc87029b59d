#!/usr/bin/python3
"""Writes the LAN sensor's test captures: one per detection and one per
negative case, into the folder given. Made at test time with scapy, so no
capture is committed that nobody could regenerate.

The LAN: 10.0.0.0/24, gateway and DHCP server 10.0.0.1 (GW), this PC
10.0.0.20 (PC), an attacker 10.0.0.66 (EVIL)."""
import socket
import struct
import sys

from scapy.all import (ARP, BOOTP, DHCP, DNS, DNSQR, DNSRR, Ether, IP, IPv6,
                       Raw, TCP, UDP, wrpcap)
from scapy.layers.netbios import NBNS_ADD_ENTRY, NBNSHeader, NBNSQueryResponse

GW_MAC, PC_MAC, EVIL_MAC = "02:00:00:00:00:01", "02:00:00:00:00:20", "02:00:00:00:00:66"
GW, PC, EVIL = "10.0.0.1", "10.0.0.20", "10.0.0.66"
BCAST = "ff:ff:ff:ff:ff:ff"
T0 = 1_800_000_000.0


def stamp(pkts, t0=T0, step=0.1):
    for i, p in enumerate(pkts):
        p.time = t0 + i * step
    return pkts


def arp_reply(mac, ip, dst_mac=PC_MAC, dst_ip=PC):
    return Ether(src=mac, dst=dst_mac) / ARP(op=2, hwsrc=mac, psrc=ip,
                                             hwdst=dst_mac, pdst=dst_ip)


def garp(mac, ip):
    return Ether(src=mac, dst=BCAST) / ARP(op=1, hwsrc=mac, psrc=ip,
                                           hwdst="00:00:00:00:00:00", pdst=ip)


def dhcp_offer(server_mac, server_ip, xid, offered="10.0.0.50"):
    return (Ether(src=server_mac, dst=BCAST) /
            IP(src=server_ip, dst="255.255.255.255") / UDP(sport=67, dport=68) /
            BOOTP(op=2, xid=xid, yiaddr=offered, chaddr=bytes.fromhex("020000000020")) /
            DHCP(options=[("message-type", "offer"), ("server_id", server_ip),
                          ("router", server_ip), ("name_server", server_ip), "end"]))


def llmnr_answer(src_mac, src_ip, name, answer_ip):
    return (Ether(src=src_mac, dst=PC_MAC) / IP(src=src_ip, dst=PC) /
            UDP(sport=5355, dport=50000) /
            DNS(id=7, qr=1, aa=1, qd=DNSQR(qname=name),
                an=DNSRR(rrname=name, type="A", rdata=answer_ip)))


def nbns_answer(src_mac, src_ip, name, answer_ip):
    return (Ether(src=src_mac, dst=PC_MAC) / IP(src=src_ip, dst=PC) /
            UDP(sport=137, dport=137) /
            NBNSHeader(NAME_TRN_ID=5, RESPONSE=1, NM_FLAGS=0x50, QDCOUNT=0,
                       ANCOUNT=1) /
            NBNSQueryResponse(RR_NAME=name,
                              ADDR_ENTRY=[NBNS_ADD_ENTRY(NB_ADDRESS=answer_ip)]))


def dns_query(name):
    return (Ether(src=PC_MAC, dst=GW_MAC) / IP(src=PC, dst=GW) /
            UDP(sport=40000, dport=53) / DNS(id=9, rd=1, qd=DNSQR(qname=name)))


def syn(src, dst, dport, src_mac=EVIL_MAC, dst_mac=PC_MAC):
    return (Ether(src=src_mac, dst=dst_mac) / IP(src=src, dst=dst) /
            TCP(sport=41000, dport=dport, flags="S"))


def arp_request(mac, ip, target_ip, dst=BCAST):
    return Ether(src=mac, dst=dst) / ARP(op=1, hwsrc=mac, psrc=ip,
                                         hwdst="00:00:00:00:00:00", pdst=target_ip)


def asked_and_answered(asker_mac, asker_ip, owner_mac, owner_ip):
    """A request and its reply, as a PC resolving its gateway sees them."""
    return [arp_request(asker_mac, asker_ip, owner_ip),
            arp_reply(owner_mac, owner_ip, asker_mac, asker_ip)]


WEB = "93.184.216.34"       # a web server on the Internet
NEXT_NET = "10.0.5.9"       # a host of the school's /16, beyond the /24


def routed_in(n, sport=443):
    """The Internet answering this PC: IP traffic whose Ethernet source is
    the gateway, which never says a word in ARP."""
    return [Ether(src=GW_MAC, dst=PC_MAC) / IP(src=WEB, dst=PC) /
            TCP(sport=sport, dport=50000 + i, flags="SA" if i == 0 else "A")
            for i in range(n)]


def routed_out(n):
    return [Ether(src=PC_MAC, dst=GW_MAC) / IP(src=PC, dst=WEB) /
            TCP(sport=50000 + i, dport=443, flags="S" if i == 0 else "A")
            for i in range(n)]


def school_lan_noise():
    """What a PC on a Windows school LAN sees in a minute: DNS to the
    gateway, web traffic routed by it, a neighbour in the next /24 of a
    /16 (no router between), hosts resolving each other."""
    pkts = []
    for i in range(4):
        pkts += [dns_query("www.school.edu.vn")] + routed_out(2) + routed_in(3)
        pkts.append(Ether(src="02:00:00:00:05:09", dst=PC_MAC) /
                    IP(src=NEXT_NET, dst=PC) / TCP(sport=445, dport=49000 + i, flags="A"))
        pkts += asked_and_answered("02:00:00:00:00:30", "10.0.0.30",
                                   "02:00:00:00:00:31", "10.0.0.31")
    return pkts


def nbns_name(name, suffix, pad=b" "):
    if isinstance(name, str):
        name = name.encode()
    raw = name.ljust(15, pad)[:15] + bytes([suffix])
    enc = b"".join(bytes([0x41 + (c >> 4), 0x41 + (c & 15)]) for c in raw)
    return b"\x20" + enc + b"\x00"


def nbns_packet(src_mac, src_ip, dst_ip, dst_mac, trn, flags, qd=b"", an=b"",
                ar=b"", counts=(0, 0, 0, 0)):
    hdr = struct.pack(">HHHHHH", trn, flags, *counts)
    return (Ether(src=src_mac, dst=dst_mac) / IP(src=src_ip, dst=dst_ip) /
            UDP(sport=137, dport=137) / Raw(hdr + qd + an + ar))


def nb_rr(name, suffix, addr, group=False, pad=b" "):
    rdata = struct.pack(">H", 0x8000 if group else 0) + socket.inet_aton(addr)
    return nbns_name(name, suffix, pad) + struct.pack(">HHIH", 0x20, 1, 300000, len(rdata)) + rdata


def nbns_query(src_mac, src_ip, name, suffix, trn):
    return nbns_packet(src_mac, src_ip, "10.0.0.255", BCAST, trn, 0x0110,
                       qd=nbns_name(name, suffix) + struct.pack(">HH", 0x20, 1),
                       counts=(1, 0, 0, 0))


def nbns_positive(src_mac, src_ip, dst_mac, dst_ip, name, suffix, addr, trn,
                  group=False):
    return nbns_packet(src_mac, src_ip, dst_ip, dst_mac, trn, 0x8500,
                       an=nb_rr(name.encode() if isinstance(name, str) else name,
                                suffix, addr, group), counts=(0, 1, 0, 0))


def nbns_register(src_mac, src_ip, name, suffix, trn):
    """A Windows PC announcing its name at boot (opcode 5, broadcast)."""
    n = name.encode()
    return nbns_packet(src_mac, src_ip, "10.0.0.255", BCAST, trn, 0x2910,
                       qd=nbns_name(n, suffix) + struct.pack(">HH", 0x20, 1),
                       ar=b"\xc0\x0c" + struct.pack(">HHIH", 0x20, 1, 300000, 6) +
                       struct.pack(">H", 0) + socket.inet_aton(src_ip),
                       counts=(1, 0, 0, 1))


def nbstat_answer(src_mac, src_ip, dst_mac, dst_ip, own, trn):
    """A PC answering a node-status query (name "*" padded with NULs, type
    NBSTAT 0x21) with the table of its own names."""
    names = [(own, 0x00, 0x0400), (b"WORKGROUP", 0x00, 0x8400), (own, 0x20, 0x0400)]
    body = bytes([len(names)])
    for n, suf, fl in names:
        body += n.ljust(15, b" ") + bytes([suf]) + struct.pack(">H", fl)
    body += bytes.fromhex(src_mac.replace(":", "")) + bytes(40)
    an = nbns_name(b"*", 0x00, b"\x00") + struct.pack(">HHIH", 0x21, 1, 0, len(body)) + body
    return nbns_packet(src_mac, src_ip, dst_ip, dst_mac, trn, 0x8400, an=an,
                       counts=(0, 1, 0, 0))


def llmnr6_answer(src_mac, src_ip, dst_ip, name, answer6):
    return (Ether(src=src_mac, dst=PC_MAC) / IPv6(src=src_ip, dst=dst_ip) /
            UDP(sport=5355, dport=50001) /
            DNS(id=11, qr=1, aa=1, qd=DNSQR(qname=name, qtype="AAAA"),
                an=DNSRR(rrname=name, type="AAAA", rdata=answer6)))


def dhcp_ack(server_mac, server_ip, xid, client_mac=PC_MAC, yiaddr=PC):
    return (Ether(src=server_mac, dst=client_mac) /
            IP(src=server_ip, dst=yiaddr) / UDP(sport=67, dport=68) /
            BOOTP(op=2, xid=xid, yiaddr=yiaddr,
                  chaddr=bytes.fromhex(client_mac.replace(":", ""))) /
            DHCP(options=[("message-type", "ack"), ("server_id", server_ip),
                          ("subnet_mask", "255.255.255.0"),
                          ("router", GW), ("name_server", GW), "end"]))


def cases():
    yield "arp_spoof", stamp([arp_reply(GW_MAC, GW)] +
                             [arp_reply(EVIL_MAC, GW) for _ in range(5)])
    # The gateway answering this PC's requests, again and again, and the
    # attacker's machine answering for its own address.
    yield "arp_spoof_neg", stamp(sum([asked_and_answered(PC_MAC, PC, GW_MAC, GW)
                                      for _ in range(6)], []) +
                                 asked_and_answered(PC_MAC, PC, EVIL_MAC, EVIL))
    # arpspoof started before the sensor: its forged replies (every 2 s, to
    # a PC that never asked) come first; the genuine gateway answers only
    # later, when the PC asks.
    first = [arp_reply(EVIL_MAC, GW) for _ in range(6)]
    yield "arp_first_poison", stamp(first[:3] + school_lan_noise() +
                                    asked_and_answered(PC_MAC, PC, GW_MAC, GW) + first[3:], step=0.5)
    yield "arp_first_poison_neg", stamp(school_lan_noise() +
                                        asked_and_answered(PC_MAC, PC, GW_MAC, GW) * 3 +
                                        asked_and_answered(PC_MAC, PC, EVIL_MAC, EVIL), step=0.5)
    # One forged reply, then a LAN where the gateway appears only as the
    # Ethernet source of routed traffic.
    yield "arp_ip_only", stamp([arp_reply(EVIL_MAC, GW)] + school_lan_noise(), step=0.5)
    yield "arp_ip_only_neg", stamp(school_lan_noise() +
                                   asked_and_answered(PC_MAC, PC, EVIL_MAC, EVIL), step=0.5)
    # A gateway pair with HSRP: ARP answers with the virtual MAC, routed
    # traffic comes from the active router's own MAC.
    hsrp = "00:00:0c:07:ac:01"
    yield "arp_hsrp_neg", stamp(asked_and_answered(PC_MAC, PC, hsrp, GW) +
                                school_lan_noise(), step=0.5)
    # bettercap-style: requests that say "10.0.0.1 is at my MAC", from a
    # MAC that also asks with its own address.
    yield "arp_gw_and_own", stamp([arp_request(EVIL_MAC, EVIL, PC),
                                   arp_request(EVIL_MAC, GW, PC)])
    yield "arp_gw_and_own_neg", stamp([arp_request(GW_MAC, GW, PC),
                                       arp_request(EVIL_MAC, EVIL, PC),
                                       arp_request(GW_MAC, GW, "10.0.0.30")])
    # Seen from a mirror port: the forged reply to the PC, then the one to
    # the gateway, whose target fields name the gateway's real MAC.
    yield "arp_target", stamp([arp_reply(EVIL_MAC, GW),
                               arp_reply(EVIL_MAC, PC, GW_MAC, GW)])
    yield "arp_target_neg", stamp([arp_reply(GW_MAC, GW),
                                   arp_reply(PC_MAC, PC, GW_MAC, GW)])
    # One forged reply and nothing else: only a known MAC catches it.
    yield "arp_single", stamp([arp_reply(EVIL_MAC, GW)])
    yield "arp_dhcp_ack", stamp([dhcp_ack(GW_MAC, GW, 0x777), arp_reply(EVIL_MAC, GW)])
    # arp-scan / nmap -sn: one MAC asking for the whole /24 in 2.5 s.
    yield "arp_sweep", stamp([arp_request(EVIL_MAC, EVIL, "10.0.0.%d" % i)
                              for i in range(1, 255)], step=0.01)
    yield "arp_sweep_neg", stamp([arp_request(PC_MAC, PC, "10.0.0.%d" % i)
                                  for i in range(1, 41)] +
                                 [arp_request(EVIL_MAC, EVIL, "10.0.0.%d" % (i % 60 + 1))
                                  for i in range(254)], step=0.25)
    # A Windows LAN: PCs answering node-status queries and for their own
    # names, the master browser answering for the workgroup and the
    # browsers' name.
    pc30, m30 = "10.0.0.30", "02:00:00:00:00:30"
    yield "nbns_nbstat", stamp(sum([[nbstat_answer(m30, pc30, PC_MAC, PC, b"PC30", 100 + i),
                                     nbns_positive(m30, pc30, PC_MAC, PC, "PC30", 0x00, pc30, 200 + i),
                                     nbns_positive(m30, pc30, PC_MAC, PC, "PC30", 0x20, pc30, 300 + i)]
                                    for i in range(3)], []))
    pc40, m40 = "10.0.0.40", "02:00:00:00:00:40"
    yield "nbns_browser", stamp([nbns_register(m40, pc40, "PC40", 0x00, 1),
                                 nbns_positive(m40, pc40, PC_MAC, PC, "WORKGROUP", 0x1d, pc40, 2),
                                 nbns_positive(m40, pc40, PC_MAC, PC, b"\x01\x02__MSBROWSE__\x02", 0x01,
                                               pc40, 3, group=True),
                                 nbns_positive(m40, pc40, PC_MAC, PC, "WORKGROUP", 0x1e, pc40, 4, group=True),
                                 nbns_positive(m40, pc40, PC_MAC, PC, "PC40", 0x20, pc40, 5),
                                 nbns_positive(m40, pc40, PC_MAC, PC, "GIAOVIEN", 0x03, pc40, 6)])
    # A host's own name: PC50 registers it and answers for it; the twin is
    # another host answering for PC50.
    pc50, m50 = "10.0.0.50", "02:00:00:00:00:50"
    yield "nbns_own_name_neg", stamp([nbns_register(m50, pc50, "PC50", 0x00, 7),
                                      nbns_query(PC_MAC, PC, "PC50", 0x00, 8),
                                      nbns_positive(m50, pc50, PC_MAC, PC, "PC50", 0x00, pc50, 8)])
    yield "nbns_own_name", stamp([nbns_register(m50, pc50, "PC50", 0x00, 7),
                                  nbns_query(PC_MAC, PC, "PC50", 0x00, 8),
                                  nbns_positive(m50, pc50, PC_MAC, PC, "PC50", 0x00, pc50, 8),
                                  nbns_positive(EVIL_MAC, EVIL, PC_MAC, PC, "PC50", 0x00, EVIL, 8)])
    # LLMNR over IPv6 (Windows asks ff02::1:3 and answers unicast).
    yield "llmnr6_poison", stamp([llmnr6_answer(EVIL_MAC, "fe80::66", "fe80::20", "fileserver", "fe80::66"),
                                  llmnr6_answer(EVIL_MAC, "fe80::66", "fe80::20", "printer", "fe80::66")])
    yield "llmnr6_poison_neg", stamp([llmnr6_answer(m30, "fe80::30", "fe80::20", "pc30", "fe80::30")
                                      for _ in range(3)])
    # A failover pair: both listed servers offer to one client.
    yield "dhcp_failover", stamp([dhcp_offer(GW_MAC, GW, 0x5150),
                                  dhcp_offer("02:00:00:00:00:02", "10.0.0.2", 0x5150, "10.0.0.51")])
    # A scan of 2,000 ports, 100 of them tried twice; and a TCP flow with a
    # listed address: one connection, many packets.
    yield "port_scan_big", stamp([syn(EVIL, PC, 1 + i) for i in range(2000)] +
                                 [syn(EVIL, PC, 1 + i) for i in range(100)], step=0.001)
    flow = ([syn(PC, "203.0.113.66", 443, PC_MAC, GW_MAC)] +
            [Ether(src=GW_MAC, dst=PC_MAC) / IP(src="203.0.113.66", dst=PC) /
             TCP(sport=443, dport=41000, flags="SA")] +
            [Ether(src=PC_MAC, dst=GW_MAC) / IP(src=PC, dst="203.0.113.66") /
             TCP(sport=41000, dport=443, flags="PA") for _ in range(20)])
    yield "ioc_ip_flow", stamp(flow)
    yield "arp_flood", stamp([garp(EVIL_MAC, EVIL) for _ in range(40)], step=0.05)
    yield "arp_flood_neg", stamp([garp(EVIL_MAC, EVIL) for _ in range(40)], step=1.0)
    yield "arp_many_ips", stamp([garp(EVIL_MAC, "10.0.0.%d" % (100 + i))
                                 for i in range(10)])
    yield "arp_many_ips_neg", stamp([garp("02:00:00:00:01:%02x" % i, "10.0.0.%d" % (100 + i))
                                     for i in range(10)])
    yield "rogue_dhcp", stamp([dhcp_offer(EVIL_MAC, EVIL, 0x1234)])
    yield "rogue_dhcp_neg", stamp([dhcp_offer(GW_MAC, GW, 0x1234)])
    yield "dhcp_two_servers", stamp([dhcp_offer(GW_MAC, GW, 0x4321),
                                     dhcp_offer(EVIL_MAC, EVIL, 0x4321, "10.0.0.99")])
    yield "dhcp_two_servers_neg", stamp([dhcp_offer(GW_MAC, GW, 0x4321),
                                         dhcp_offer(GW_MAC, GW, 0x4322)])
    yield "llmnr_poison", stamp([llmnr_answer(EVIL_MAC, EVIL, "fileserver", EVIL),
                                 llmnr_answer(EVIL_MAC, EVIL, "printer", EVIL)])
    yield "llmnr_poison_neg", stamp([llmnr_answer("02:00:00:00:00:30", "10.0.0.30",
                                                  "pc30", "10.0.0.30") for _ in range(3)])
    yield "llmnr_wpad", stamp([llmnr_answer(EVIL_MAC, EVIL, "wpad", EVIL)])
    yield "nbns_poison", stamp([nbns_answer(EVIL_MAC, EVIL, "FILESERVER", EVIL),
                                nbns_answer(EVIL_MAC, EVIL, "PRINTER", EVIL)])
    yield "ioc_dns", stamp([dns_query("a.b.evil.example"), dns_query("www.school.edu.vn")])
    yield "ioc_dns_neg", stamp([dns_query("notevil.example"), dns_query("evil.example.org")])
    yield "ioc_ip", stamp([syn(PC, "203.0.113.66", 443, PC_MAC, GW_MAC)])
    yield "ioc_ip_neg", stamp([syn(PC, "203.0.113.67", 443, PC_MAC, GW_MAC)])
    yield "port_scan", stamp([syn(EVIL, PC, 1000 + i) for i in range(25)], step=0.01)
    yield "port_scan_neg", stamp([syn(EVIL, PC, 1000 + i) for i in range(25)], step=30.0)


def main():
    out = sys.argv[1]
    for name, pkts in cases():
        wrpcap("%s/%s.pcap" % (out, name), pkts)


if __name__ == "__main__":
    main()
