#!/bin/bash
# The LAN sensor over captures written at test time by scapy: each detection
# fires on its pcap, with its evidence, exactly once (repeats folded), and
# stays quiet on its negative twin. Then bad input: a truncated capture, a
# capture of another link type, a bad IOC list.
# Scenarios run alone by name: make test ONLY=net_sensor:dhcp
. "$(dirname "$0")/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
GEN="$PY $(dirname "$0")/py/genfiles.py"
P="$WORK/pcaps"
mkdir -p "$P"
setup() { $PY "$(dirname "$0")/netpcaps.py" "$P" || { not_ok "scapy writes the test captures"; return 1; }; }

# The LAN of netpcaps.py: gateway and DHCP server 10.0.0.1.
cat >"$WORK/agent.yaml" <<YAML
collector:
  host: 127.0.0.1
state_dir: $WORK/state
netsensor:
  gateway: 10.0.0.1
  dhcp_servers: [10.0.0.1]
YAML
# A failover pair of listed DHCP servers; and a gateway MAC set by hand.
cat >"$WORK/pair.yaml" <<YAML
collector:
  host: 127.0.0.1
state_dir: $WORK/state
netsensor:
  gateway: 10.0.0.1
  dhcp_servers: [10.0.0.1, 10.0.0.2]
YAML
cat >"$WORK/gwmac.yaml" <<YAML
collector:
  host: 127.0.0.1
state_dir: $WORK/state
netsensor:
  gateway: 10.0.0.1
  gateway_mac: "02:00:00:00:00:01"
YAML
cat >"$WORK/noallow.yaml" <<YAML
collector:
  host: 127.0.0.1
state_dir: $WORK/state
YAML
printf '# test list\nevil.example   # and its subdomains\n203.0.113.66\n' >"$WORK/ioc.txt"

sniff() { # sniff CONFIG NAME [ARGS] -> JSON lines in $WORK/NAME.out
	"$AGENT" -c "$WORK/$1" sniff --pcap "$P/$2.pcap" --ioc "$WORK/ioc.txt" \
		--json "${@:3}" >"$WORK/$2.out" 2>"$WORK/$2.err"
}
count() { grep -c "\"kind\":\"$2\"" "$WORK/$1.out"; }
# fires CONFIG CASE KIND 'field-regex'...: exactly one alert of KIND whose
# evidence has every field given.
fires() {
	local conf=$1 name=$2 kind=$3 f
	shift 3
	sniff "$conf" "$name" ${SNIFF_ARGS:-} || { cat "$WORK/$name.err" >&2; return 1; }
	eq "$(count "$name" "$kind")" 1 || return 1
	eq "$(wc -l <"$WORK/$name.out")" 1 || return 1
	for f in "$@"; do
		grep -q -- "$f" "$WORK/$name.out" || { echo "# missing $f in $(cat "$WORK/$name.out")" >&2; return 1; }
	done
}
quiet() { sniff "$1" "$2" && eq "$(wc -l <"$WORK/$2.out")" 0; }

scenario_arp() {
	local r rc
	check "ARP: another MAC claiming the gateway is arp_spoof with both MACs" \
		fires agent.yaml arp_spoof net.arp_spoof '"role":"gateway"' '"ip":"10.0.0.1"' \
		'"expected_mac":"02:00:00:00:00:01"' '"claimed_mac":"02:00:00:00:00:66"'
	check "ARP: five forged replies are one alert, the rest folded" \
		grep -q "1 alerts (4 repeats folded)" "$WORK/arp_spoof.err"
	check "ARP: the gateway answering the PC's requests again and again is quiet" quiet agent.yaml arp_spoof_neg
	# Poisoning with no baseline: nothing is trusted for being seen first.
	check "ARP: poisoning that starts before any genuine ARP is caught (unsolicited replies)" \
		fires agent.yaml arp_first_poison net.arp_spoof '"reason":"unsolicited_replies"' \
		'"ip":"10.0.0.1"' '"claimed_mac":"02:00:00:00:00:66"' '"unsolicited_replies":3'
	check "ARP: the same LAN with only answered requests is quiet" quiet agent.yaml arp_first_poison_neg
	check "ARP: one forged reply, gateway seen only in routed IP traffic" \
		fires agent.yaml arp_ip_only net.arp_spoof '"reason":"ip_traffic_disagrees"' \
		'"claimed_mac":"02:00:00:00:00:66"' '"expected_mac":"02:00:00:00:00:01"' \
		'"expected_from":"routed_traffic"'
	check "ARP: routed traffic, a /16 neighbour and answered requests are quiet" \
		quiet agent.yaml arp_ip_only_neg
	check "ARP: an HSRP gateway (virtual MAC in ARP, router's MAC in routed traffic) is quiet" \
		quiet agent.yaml arp_hsrp_neg
	check "ARP: a MAC claiming the gateway's IP and its own" \
		fires agent.yaml arp_gw_and_own net.arp_spoof '"reason":"claims_gateway_and_own_ip"' \
		'"claimed_mac":"02:00:00:00:00:66"'
	check "ARP: the gateway and a host each asking with their own IP is quiet" \
		quiet agent.yaml arp_gw_and_own_neg
	check "ARP: target fields naming the real gateway contradict a forged sender" \
		fires agent.yaml arp_target net.arp_spoof '"reason":"arp_target_disagrees"' \
		'"expected_mac":"02:00:00:00:00:01"' '"claimed_mac":"02:00:00:00:00:66"'
	check "ARP: target fields that agree are quiet" quiet agent.yaml arp_target_neg
	check "ARP: a single forged reply with nothing to compare is quiet" quiet agent.yaml arp_single
	SNIFF_ARGS="--gateway-mac 02:00:00:00:00:01" check "ARP: ... and caught with --gateway-mac" \
		fires agent.yaml arp_single net.arp_spoof '"reason":"not_the_known_mac"' '"expected_from":"setting"'
	check "ARP: ... and caught with netsensor.gateway_mac in the config file" \
		fires gwmac.yaml arp_single net.arp_spoof '"expected_mac":"02:00:00:00:00:01"'
	check "ARP: ... and caught after the DHCP ACK of this PC's lease" \
		fires agent.yaml arp_dhcp_ack net.arp_spoof '"expected_from":"dhcp_ack"'
	r=$("$AGENT" -c "$WORK/agent.yaml" sniff --pcap "$P/arp_single.pcap" --gateway-mac 02:00:00 2>&1); rc=$?
	check "a bad --gateway-mac is refused by value (rc $rc)" bash -c "[ $rc -eq 3 ] && grep -q \"'02:00:00'\" <<<\"\$1\"" _ "$r"
	check "ARP: one MAC asking for 254 addresses in 2.5 s is a sweep" \
		fires agent.yaml arp_sweep net.arp_flood '"reason":"sweep"' '"count":64' \
		'"first_target":"10.0.0.1"' '"mac":"02:00:00:00:00:66"'
	check "ARP: 40 asks from a PC and 60 addresses asked again and again are not" \
		quiet agent.yaml arp_sweep_neg
	check "ARP: 40 gratuitous ARPs in 2 s is a flood" \
		fires agent.yaml arp_flood net.arp_flood '"reason":"gratuitous_flood"' '"mac":"02:00:00:00:00:66"'
	check "ARP: 40 gratuitous ARPs over 40 s is not" quiet agent.yaml arp_flood_neg
	check "ARP: one MAC claiming 10 IPs" \
		fires agent.yaml arp_many_ips net.arp_flood '"reason":"many_ips"' '"10.0.0.107"'
	check "ARP: 10 MACs with one IP each is quiet" quiet agent.yaml arp_many_ips_neg
}
scenario_dhcp() {
	check "DHCP: an offer from a server off the allowlist" \
		fires agent.yaml rogue_dhcp net.rogue_dhcp '"reason":"not_in_allowlist"' \
		'"server_ip":"10.0.0.66"' '"xid":4660' '"router":"10.0.0.66"' '"offered_ip":"10.0.0.50"'
	check "DHCP: an offer from the allowlisted server is quiet" quiet agent.yaml rogue_dhcp_neg
	check "DHCP: two servers answering one xid, with no allowlist" \
		fires noallow.yaml dhcp_two_servers net.rogue_dhcp '"reason":"two_servers"' \
		'"other_server_ip":"10.0.0.1"' '"server_ip":"10.0.0.66"'
	check "DHCP: one server answering two xids is quiet" quiet noallow.yaml dhcp_two_servers_neg
}
scenario_name_poisoning() {
	check "LLMNR: one host answering for two names" \
		fires agent.yaml llmnr_poison net.llmnr_poison '"protocol":"llmnr"' \
		'"responder_ip":"10.0.0.66"' '"names":\["fileserver","printer"\]'
	check "LLMNR: a PC answering for its own name is quiet" quiet agent.yaml llmnr_poison_neg
	check "LLMNR: one answer for wpad is enough" \
		fires agent.yaml llmnr_wpad net.llmnr_poison '"name":"wpad"'
	check "NBNS: names decoded with their suffix, two answered by one host" \
		fires agent.yaml nbns_poison net.llmnr_poison '"protocol":"nbns"' \
		'"names":\["FILESERVER<00>","PRINTER<00>"\]' '"reason":"many_names"'
	check "NBNS: node-status (NBSTAT) answers and a PC's own <00>/<20> are quiet" \
		quiet agent.yaml nbns_nbstat
	check "NBNS: a master browser answering WORKGROUP<1d>, <1e>, __MSBROWSE__ and its user's <03> is quiet" \
		quiet agent.yaml nbns_browser
	check "NBNS: a host answering for the name it registered is quiet" quiet agent.yaml nbns_own_name_neg
	check "NBNS: another host answering for a registered name" \
		fires agent.yaml nbns_own_name net.llmnr_poison '"reason":"answers_another_hosts_name"' \
		'"name":"PC50<00>"' '"registered_by":"10.0.0.50"' '"responder_ip":"10.0.0.66"'
	check "LLMNR over IPv6: one host answering for two names" \
		fires agent.yaml llmnr6_poison net.llmnr_poison '"responder_ip":"fe80::66"' \
		'"names":\["fileserver","printer"\]'
	check "LLMNR over IPv6: a PC answering its own name is quiet" quiet agent.yaml llmnr6_poison_neg
}
scenario_dhcp_failover() {
	check "DHCP: two listed servers (a failover pair) answering one client are quiet" \
		quiet pair.yaml dhcp_failover
	check "DHCP: ... and an unlisted one beside them is still rogue" \
		fires pair.yaml dhcp_two_servers net.rogue_dhcp '"server_ip":"10.0.0.66"'
}
scenario_ioc() {
	check "IOC DNS: a subdomain of a listed domain" \
		fires agent.yaml ioc_dns net.ioc_dns '"query":"a.b.evil.example"' '"matched":"evil.example"' \
		'"client_ip":"10.0.0.20"'
	check "IOC DNS: notevil.example and evil.example.org are not matches" quiet agent.yaml ioc_dns_neg
	check "IOC IP: a SYN to a listed address" \
		fires agent.yaml ioc_ip net.ioc_ip '"ioc_ip":"203.0.113.66"' '"direction":"outbound"' '"port":443'
	check "IOC IP: the next address is quiet" quiet agent.yaml ioc_ip_neg
}
scenario_port_scan() {
	check "scan: 25 ports in 0.25 s, with real counts and RFC 3339 times" \
		fires agent.yaml port_scan net.port_scan '"src_ip":"10.0.0.66"' '"distinct_ports":25' \
		'"syns":25' '"first":"2027-01-15T08:00:00.000Z"' '"last":"2027-01-15T08:00:00.240Z"'
	check "scan: 25 ports over 12 minutes is quiet" quiet agent.yaml port_scan_neg
	check "scan: 2,000 ports and 2,100 SYNs are reported as such, with a sample" \
		fires agent.yaml port_scan_big net.port_scan '"distinct_ports":2000' '"syns":2100' \
		'"ports":\[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16\]'
	check "IOC IP: one TCP connection of 22 packets is one hit, not 22" \
		fires agent.yaml ioc_ip_flow net.ioc_ip '"repeats":0'
	check "IOC IP: ... with no repeats folded" grep -q "1 alerts (0 repeats folded)" "$WORK/ioc_ip_flow.err"
}
# The alerts of every capture: those the scenarios before wrote, and
# the rest (all of them when this runs alone) with agent.yaml.
scenario_alert_text() {
	local f name
	for f in "$P"/*.pcap; do
		name=$(basename "$f" .pcap)
		[ -e "$WORK/$name.out" ] || sniff agent.yaml "$name"
	done
	check "every alert says what happened in English and Vietnamese" \
		$PY "$(dirname "$0")/py/netout.py" summaries "$WORK" 20
	check "every output line is JSON" $PY "$(dirname "$0")/py/netout.py" json "$WORK"
	check "no alert carries packet payload fields" \
		bash -c "! grep -l -E '\"(payload|data|password)\"' $WORK/*.out"
}

# Bad input: a clear error, never a crash or a hang.
scenario_bad_input() {
	local r rc f
	head -c 200 "$P/port_scan.pcap" >"$WORK/cut.pcap"
	r=$(timeout 10 "$AGENT" -c "$WORK/agent.yaml" sniff --pcap "$WORK/cut.pcap" 2>&1); rc=$?
	check "a truncated capture is reported, not a crash (rc $rc)" \
		bash -c "[ $rc -eq 1 ] && grep -q truncated <<<'$r'"
	$GEN pcap-header "$WORK/sll.pcap" 2 113
	r=$("$AGENT" -c "$WORK/agent.yaml" sniff --pcap "$WORK/sll.pcap" 2>&1); rc=$?
	check "a non-Ethernet capture is refused by name ($r)" \
		bash -c "[ $rc -eq 1 ] && grep -q 'only Ethernet' <<<'$r'"
	printf 'good.example\nbad domain!\n' >"$WORK/bad-ioc.txt"
	r=$("$AGENT" -c "$WORK/agent.yaml" sniff --pcap "$P/ioc_dns.pcap" --ioc "$WORK/bad-ioc.txt" 2>&1); rc=$?
	check "a bad IOC line is named with its line number ($r)" \
		bash -c "[ $rc -eq 3 ] && grep -q 'bad-ioc.txt:2: ' <<<'$r'"
	r=$("$AGENT" -c "$WORK/agent.yaml" sniff --pcap "$WORK/missing.pcap" 2>&1); rc=$?
	check "a missing capture file is a clear error" bash -c "[ $rc -eq 1 ] && grep -q missing.pcap <<<'$r'"
	# libpcap's own refusals of a file's header do not say which file.
	echo "not a capture at all" >"$WORK/notes.txt"
	head -c 10 "$P/port_scan.pcap" >"$WORK/stub.pcap"
	$GEN pcap-header "$WORK/v9.pcap" 9 1
	for f in notes.txt stub.pcap v9.pcap; do
		r=$("$AGENT" -c "$WORK/agent.yaml" sniff --pcap "$WORK/$f" 2>&1); rc=$?
		check "a file whose header is not a capture's is refused by name ($r)" \
			bash -c "[ $rc -eq 1 ] && grep -q '$f: ' <<<\"\$1\"" _ "$r"
	done
}

# Any output target: glibc asks isatty() (ioctl TCGETS) on the first write
# to a character device, which the sandbox must answer, not kill.
scenario_output_targets() {
	local out rc n
	out=$(timeout 20 "$AGENT" -c "$WORK/agent.yaml" sniff --pcap "$P/arp_spoof.pcap" --json 2>&1 >/dev/null); rc=$?
	check "sniff with stdout to /dev/null runs to the end (rc $rc)" \
		bash -c "[ $rc -eq 0 ] && grep -q '1 alerts' <<<\"\$1\"" _ "$out"
	n=$(timeout 20 "$AGENT" -c "$WORK/agent.yaml" sniff --pcap "$P/arp_spoof.pcap" --json 2>/dev/null | cat | grep -c net.arp_spoof)
	check "sniff with stdout to a pipe delivers the alert" eq "$n" 1
	out=$(timeout 20 "$AGENT" -c "$WORK/agent.yaml" sniff --pcap "$P/arp_spoof.pcap" --json 2>&1 >&-); rc=$?
	check "sniff with stdout closed is an error, not a crash or silence (rc $rc)" \
		bash -c "[ $rc -eq 1 ] && grep -q 'standard output is closed' <<<\"\$1\"" _ "$out"
	if command -v script >/dev/null; then
		script -qec "$AGENT -c $WORK/agent.yaml sniff --pcap $P/arp_spoof.pcap" /dev/null >"$WORK/tty.out" 2>&1; rc=$?
		check "sniff with stdout on a terminal (rc $rc)" \
			bash -c "[ $rc -eq 0 ] && grep -q net.arp_spoof $WORK/tty.out"
	fi
}

run_scenarios
