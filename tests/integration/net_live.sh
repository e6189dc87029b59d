#!/bin/bash
# The LAN sensor live, against real attack tools, inside network namespaces
# this test creates: a switch (a bridge), the school's gateway, an attacker
# and the PC running a real collector and agent. Nothing leaves the machine.
#   - arpspoof (dsniff) tells the PC that the gateway is at its MAC, and
#     starts before the PC's sensor does, so the PC's neighbour table is
#     already poisoned when the sensor reads it; the gateway never says a
#     word in ARP (arp off), it only routes traffic from the Internet to
#     the PC;
#   - a real dnsmasq answers DHCP as a rogue server;
#   - nmap SYN-scans the PC;
#   - the PC looks up a listed domain.
# Each must arrive at the collector as its net.* event. Needs root; without
# it (or without netns support) the test is skipped.
# Scenarios run alone by name: make test ONLY=net_live:port_scan
. "$(dirname "$0")/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
NETLIVE="$PY $(dirname "$0")/py/netlive.py"
NET=10.9.0
S="${S:-ew$$}"
SW="${S}s" PC="${S}p" GW="${S}g" EVIL="${S}a"

skip() { echo "1..0 # SKIP $*"; exit 0; }

netns_teardown() {
	for ns in "$PC" "$GW" "$EVIL" "$SW"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
}

# Outside: the namespaces, then this script again inside the PC's (its
# scenarios run there). Listing the scenarios needs none.
if [ "${1:-}" != inner ] && [ -z "${EW_LIST_SCENARIOS:-}" ]; then
	[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces"
	for t in arpspoof dnsmasq nmap; do
		command -v "$t" >/dev/null || skip "$t is not installed"
	done
	ip netns add "$SW" 2>/dev/null || skip "cannot create a network namespace"
	trap 'netns_teardown; cleanup' EXIT
	ip -n "$SW" link add br0 type bridge
	ip -n "$SW" link set br0 up
	i=0
	for ns in "$PC" "$GW" "$EVIL"; do
		i=$((i + 1))
		ip netns add "$ns"
		ip link add "${S}v$i" type veth peer name eth0 netns "$ns"
		ip link set "${S}v$i" netns "$SW"
		ip -n "$SW" link set "${S}v$i" master br0 up
		ip -n "$ns" link set lo up
		ip -n "$ns" link set eth0 up
	done
	ip -n "$PC" addr add "$NET.20/24" dev eth0
	ip -n "$GW" addr add "$NET.1/24" dev eth0
	ip -n "$EVIL" addr add "$NET.66/24" dev eth0
	ip -n "$PC" route add default via "$NET.1"
	# A gateway that never ARPs (it knows the PC statically), with an
	# address of the Internet behind it.
	ip -n "$GW" link set eth0 arp off
	ip -n "$GW" addr add 198.51.100.1/32 dev lo
	ip -n "$GW" neigh replace "$NET.20" dev eth0 nud permanent \
		lladdr "$(ip netns exec "$PC" cat /sys/class/net/eth0/address)"
	ip netns exec "$PC" env S="$S" EW_BIN="$EW_BIN" bash "$0" inner
	exit $?
fi

# ---- inside the PC's namespace -----------------------------------------
D="$WORK/collector"
A="$WORK/agent"
mkdir -p "$A"
ns() { ip netns exec "$1" "${@:2}"; }

setup() {
	collector_init "$D" || { not_ok "collector init"; return 1; }
	"$COLLECTOR" school add 79009 "THCS Thử Nghiệm" --commune "Xã B" --level 2 \
		--expected-pcs 1 -c "$CONF" >/dev/null
	collector_start "$WORK/collector.log" || not_ok "collector start"
	TOKEN=$("$COLLECTOR" token create --school 79009 --uses 1 -c "$CONF" 2>/dev/null)
	"$AGENT" enroll --collector "127.0.0.1:$INGEST_PORT" --enroll-port "$ENROLL_PORT" \
		--token "$TOKEN" --ca "$D/ca.crt" --state-dir "$A/state" -c "$A/agent.yaml" >/dev/null
	ID=$("$COLLECTOR" agent list -c "$CONF" | awk 'NR == 1 { print $1 }')
	echo "evil.example" >"$A/state/ioc.txt"
	GW_MAC=$(ip netns exec "${S}g" cat /sys/class/net/eth0/address)
	EVIL_MAC=$(ip netns exec "${S}a" cat /sys/class/net/eth0/address)
	# The poisoner first, the PC's sensor after it. The Internet talks to
	# the PC through the gateway all along; the PC's answers go wherever its
	# (poisoned) neighbour table says.
	ip netns exec "${S}a" timeout 90 arpspoof -i eth0 -t "$NET.20" "$NET.1" >/dev/null 2>&1 &
	SPOOF_PID=$!
	PIDS+=($!)
	ip netns exec "${S}g" timeout 120 $NETLIVE knock 198.51.100.1 "$NET.20" 445 120 \
		>/dev/null 2>&1 &
	PIDS+=($!)
	sleep 4 # the poisoner's head start: the PC's table is poisoned first
	"$AGENT" run -c "$A/agent.yaml" -o netsensor.dhcp_servers="$NET.1" \
		-o heartbeat.interval=2s >>"$WORK/agent.log" 2>&1 &
	PIDS+=($!)
}

# One event a line, as JSON.
events() {
	"$COLLECTOR" events list --agent "$ID" --limit 500 --json -c "$CONF" 2>/dev/null |
		$NETLIVE lines
}
has_event() { # has_event PATTERN...: one event line matching all
	local lines p
	lines=$(events)
	for p in "$@"; do lines=$(grep -- "$p" <<<"$lines"); done
	[ -n "$lines" ]
}
arrives() { # arrives SECONDS PATTERN...: until has_event; says what it saw
	local t=$1
	shift
	wait_for "$t" has_event "$@" && return 0
	echo "# no event with: $*" >&2
	events | grep -- "$1" | tail -2 | sed 's/^/# seen: /' >&2
	return 1
}

scenario_arp_spoof() {
	check "the sensor reports itself on, on eth0, sandboxed" \
		arrives 30 '"kind":"net.sensor"' '"state":"on"' '"iface":"eth0"' '"gateway":"'"$NET"'.1"'
	check "arpspoof, started before the sensor (neighbour table poisoned), is caught forging the gateway" \
		arrives 30 '"kind":"net.arp_spoof"' '"role":"gateway"' '"ip":"'"$NET"'.1"' \
		'"claimed_mac":"'"$EVIL_MAC"'"'
	check "... and the real gateway, which never ARPs, is never blamed" \
		bash -c "! grep -q '\"claimed_mac\":\"$GW_MAC\"' <<<\"\$1\"" _ "$(events)"
}

# The administrator's fix, after the poisoning: the PC learns the
# gateway's MAC for good (the scenarios after it need a sound table).
# It waits for the sensor first: alone, a scenario starts right after setup.
gateway_fixed() {
	wait_for 30 has_event '"kind":"net.sensor"' '"state":"on"'
	kill_ours "$SPOOF_PID"
	ip neigh replace "$NET.1" lladdr "$GW_MAC" nud permanent dev eth0
}

dnsmasq_up() { grep -q "DHCP, IP range" "$WORK/dnsmasq.log"; }
scenario_rogue_dhcp() {
	gateway_fixed
	ns "${S}a" dnsmasq --no-daemon --port=0 --interface=eth0 --bind-interfaces \
		--dhcp-range="$NET.100,$NET.150,1h" --dhcp-authoritative \
		--dhcp-leasefile="$WORK/leases" --pid-file="$WORK/dnsmasq.pid" \
		>"$WORK/dnsmasq.log" 2>&1 &
	wait_for 10 dnsmasq_up
	# A DHCP discover from the PC, with the broadcast flag so the offer is
	# broadcast (the PC has an address already; a DHCP client would do this).
	$NETLIVE discover eth0 2>/dev/null
	check "a real dnsmasq answering DHCP raises net.rogue_dhcp" \
		arrives 15 '"kind":"net.rogue_dhcp"' '"server_ip":"'"$NET"'.66"' '"xid":24301'
}

scenario_port_scan() {
	gateway_fixed
	ns "${S}a" nmap -sS -Pn -n -p 1-300 -T4 "$NET.20" >"$WORK/nmap.log" 2>&1
	# Reported when the scan stops (10 s of quiet), with its real size.
	check "nmap's SYN scan raises net.port_scan with its real port count" \
		arrives 45 '"kind":"net.port_scan"' '"src_ip":"'"$NET"'.66"' '"distinct_ports":300'
}

scenario_ioc_dns() {
	gateway_fixed
	$NETLIVE dns "$NET.1" c2.evil.example
	check "a lookup of a listed domain raises net.ioc_dns" \
		arrives 15 '"kind":"net.ioc_dns"' '"query":"c2.evil.example"'
}

scenario_sandbox() {
	local state
	wait_for 30 has_event '"kind":"net.sensor"' '"state":"on"'
	check "the sensor helper runs as nobody, not root" \
		bash -c "ps -eo user=,args= | grep '[e]duwatch-agent _netsensor' | grep -q '^nobody'"
	# host_state bodies are msgpack: look for "state": "on" in its bytes.
	state=$(sqlite3 "$D/eduwatch.db" "SELECT hex(body) FROM host_state WHERE agent = '$ID' AND kind = 'net.sensor'" 2>&1)
	check "the collector keeps the sensor's state for scoring" grep -q 'A57374617465A26F6E' <<<"$state"
	events >"$WORK/events.json"
	check "no alert carries packet payload" bash -c "! grep -q -E '\"(payload|password)\"' $WORK/events.json"
}

run_scenarios
