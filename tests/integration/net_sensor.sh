#!/bin/bash
# The LAN sensor over captures written at test time by scapy: each detection
# fires on its pcap, with its evidence, exactly once (repeats folded), and
# stays quiet on its negative twin. Then bad input: a truncated capture, a
# capture of another link type, a bad IOC list.
. "$(dirname "$0")/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
P="$WORK/pcaps"
mkdir -p "$P"
if ! $PY "$(dirname "$0")/netpcaps.py" "$P"; then
	not_ok "scapy writes the test captures"
	tap_finish
	exit 1
fi

# The LAN of netpcaps.py: gateway and DHCP server 10.0.0.1.
cat >"$WORK/agent.yaml" <<YAML
collector:
  host: 127.0.0.1
state_dir: $WORK/state
netsensor:
  gateway: 10.0.0.1
  dhcp_servers: [10.0.0.1]
YAML
cat >"$WORK/noallow.yaml" <<YAML
collector:
  host: 127.0.0.1
state_dir: $WORK/state
YAML
printf '# test list\nevil.example   # and its subdomains\n203.0.113.66\n' >"$WORK/ioc.txt"

sniff() { # sniff CONFIG NAME -> JSON lines in $WORK/NAME.out
	"$AGENT" -c "$WORK/$1" sniff --pcap "$P/$2.pcap" --ioc "$WORK/ioc.txt" \
		--json >"$WORK/$2.out" 2>"$WORK/$2.err"
}
count() { grep -c "\"kind\":\"$2\"" "$WORK/$1.out"; }
# fires CONFIG CASE KIND 'field-regex'...: exactly one alert of KIND whose
# evidence has every field given.
fires() {
	local conf=$1 name=$2 kind=$3 f
	shift 3
	sniff "$conf" "$name" || { cat "$WORK/$name.err" >&2; return 1; }
	eq "$(count "$name" "$kind")" 1 || return 1
	eq "$(wc -l <"$WORK/$name.out")" 1 || return 1
	for f in "$@"; do
		grep -q -- "$f" "$WORK/$name.out" || { echo "# missing $f in $(cat "$WORK/$name.out")" >&2; return 1; }
	done
}
quiet() { sniff "$1" "$2" && eq "$(wc -l <"$WORK/$2.out")" 0; }

check "ARP: another MAC claiming the gateway is arp_spoof with both MACs" \
	fires agent.yaml arp_spoof net.arp_spoof '"role":"gateway"' '"ip":"10.0.0.1"' \
	'"expected_mac":"02:00:00:00:00:01"' '"claimed_mac":"02:00:00:00:00:66"'
check "ARP: five forged replies are one alert, the rest folded" \
	grep -q "1 alerts (4 repeats folded)" "$WORK/arp_spoof.err"
check "ARP: the gateway repeating its own binding is quiet" quiet agent.yaml arp_spoof_neg
check "ARP: 40 gratuitous ARPs in 2 s is a flood" \
	fires agent.yaml arp_flood net.arp_flood '"reason":"gratuitous_flood"' '"mac":"02:00:00:00:00:66"'
check "ARP: 40 gratuitous ARPs over 40 s is not" quiet agent.yaml arp_flood_neg
check "ARP: one MAC claiming 10 IPs" \
	fires agent.yaml arp_many_ips net.arp_flood '"reason":"many_ips"' '"10.0.0.107"'
check "ARP: 10 MACs with one IP each is quiet" quiet agent.yaml arp_many_ips_neg
check "DHCP: an offer from a server off the allowlist" \
	fires agent.yaml rogue_dhcp net.rogue_dhcp '"reason":"not_in_allowlist"' \
	'"server_ip":"10.0.0.66"' '"xid":4660' '"router":"10.0.0.66"' '"offered_ip":"10.0.0.50"'
check "DHCP: an offer from the allowlisted server is quiet" quiet agent.yaml rogue_dhcp_neg
check "DHCP: two servers answering one xid, with no allowlist" \
	fires noallow.yaml dhcp_two_servers net.rogue_dhcp '"reason":"two_servers"' \
	'"other_server_ip":"10.0.0.1"' '"server_ip":"10.0.0.66"'
check "DHCP: one server answering two xids is quiet" quiet noallow.yaml dhcp_two_servers_neg
check "LLMNR: one host answering for two names" \
	fires agent.yaml llmnr_poison net.llmnr_poison '"protocol":"llmnr"' \
	'"responder_ip":"10.0.0.66"' '"names":\["fileserver","printer"\]'
check "LLMNR: a PC answering for its own name is quiet" quiet agent.yaml llmnr_poison_neg
check "LLMNR: one answer for wpad is enough" \
	fires agent.yaml llmnr_wpad net.llmnr_poison '"name":"wpad"'
check "NBNS: names decoded, two answered by one host" \
	fires agent.yaml nbns_poison net.llmnr_poison '"protocol":"nbns"' '"names":\["fileserver","printer"\]'
check "IOC DNS: a subdomain of a listed domain" \
	fires agent.yaml ioc_dns net.ioc_dns '"query":"a.b.evil.example"' '"matched":"evil.example"' \
	'"client_ip":"10.0.0.20"'
check "IOC DNS: notevil.example and evil.example.org are not matches" quiet agent.yaml ioc_dns_neg
check "IOC IP: a SYN to a listed address" \
	fires agent.yaml ioc_ip net.ioc_ip '"ioc_ip":"203.0.113.66"' '"direction":"outbound"' '"port":443'
check "IOC IP: the next address is quiet" quiet agent.yaml ioc_ip_neg
check "scan: 25 ports in 0.25 s" \
	fires agent.yaml port_scan net.port_scan '"src_ip":"10.0.0.66"' '"distinct_ports":20'
check "scan: 25 ports over 12 minutes is quiet" quiet agent.yaml port_scan_neg
check "every output line is JSON" $PY -c '
import json, sys, glob
for f in glob.glob(sys.argv[1] + "/*.out"):
    for line in open(f):
        json.loads(line)' "$WORK"
check "no alert carries packet payload fields" \
	bash -c "! grep -l -E '\"(payload|data|password)\"' $WORK/*.out"

# Bad input: a clear error, never a crash or a hang.
head -c 200 "$P/port_scan.pcap" >"$WORK/cut.pcap"
r=$(timeout 10 "$AGENT" -c "$WORK/agent.yaml" sniff --pcap "$WORK/cut.pcap" 2>&1); rc=$?
check "a truncated capture is reported, not a crash (rc $rc)" \
	bash -c "[ $rc -eq 1 ] && grep -q truncated <<<'$r'"
$PY -c '
import struct, sys
open(sys.argv[1], "wb").write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 113))' "$WORK/sll.pcap"
r=$("$AGENT" -c "$WORK/agent.yaml" sniff --pcap "$WORK/sll.pcap" 2>&1); rc=$?
check "a non-Ethernet capture is refused by name ($r)" \
	bash -c "[ $rc -eq 1 ] && grep -q 'only Ethernet' <<<'$r'"
printf 'good.example\nbad domain!\n' >"$WORK/bad-ioc.txt"
r=$("$AGENT" -c "$WORK/agent.yaml" sniff --pcap "$P/ioc_dns.pcap" --ioc "$WORK/bad-ioc.txt" 2>&1); rc=$?
check "a bad IOC line is named with its line number ($r)" \
	bash -c "[ $rc -eq 3 ] && grep -q 'bad-ioc.txt:2: ' <<<'$r'"
r=$("$AGENT" -c "$WORK/agent.yaml" sniff --pcap "$WORK/missing.pcap" 2>&1); rc=$?
check "a missing capture file is a clear error" bash -c "[ $rc -eq 1 ] && grep -q missing.pcap <<<'$r'"
tap_finish
