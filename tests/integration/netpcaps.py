#!/usr/bin/python3
"""Writes the LAN sensor's test captures: one per detection and one per
negative case, into the folder given. Made at test time with scapy, so no
capture is committed that nobody could regenerate.

The LAN: 10.0.0.0/24, gateway and DHCP server 10.0.0.1 (GW), this PC
10.0.0.20 (PC), an attacker 10.0.0.66 (EVIL)."""
import sys

from scapy.all import (ARP, BOOTP, DHCP, DNS, DNSQR, DNSRR, Ether, IP, TCP,
                       UDP, wrpcap)
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


def cases():
    yield "arp_spoof", stamp([arp_reply(GW_MAC, GW)] +
                             [arp_reply(EVIL_MAC, GW) for _ in range(5)])
    yield "arp_spoof_neg", stamp([arp_reply(GW_MAC, GW) for _ in range(6)] +
                                 [arp_reply(EVIL_MAC, EVIL)])
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
