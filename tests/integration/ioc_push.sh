#!/bin/bash
# The IOC list reaches the LAN sensor from the collector: `ioc publish`
# signs it and pushes ioc.update, the agent fetches it over its own
# connection, parses every line before using it, installs it and
# restarts its sensor helper, which comes back on with the new counts. A
# list with a bad line is refused with the line named, and the old list
# stays.
# Scenarios run alone by name: make test ONLY=ioc_push:bad_list
. "$(dirname "$0")/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
GEN="$PY $(dirname "$0")/py/genfiles.py"
D="$WORK/collector"
A="$WORK/agent"
mkdir -p "$A"
if [ "$(id -u)" -ne 0 ]; then
	ok "# SKIP the LAN sensor needs root"
	tap_finish
	exit 0
fi

SKIP=
setup() {
	collector_with_agent 79030 "$A" || { not_ok "collector and agent"; return 1; }
	"$AGENT" run -c "$A/agent.yaml" -o heartbeat.interval=1s \
		-o scan.enabled=false -o av.enabled=false >>"$WORK/agent.log" 2>&1 &
	APID=$!
	PIDS+=("$APID")
	if ! wait_event 20 '"kind":"net.sensor".*"state":"on"'; then
		SKIP="the sensor cannot capture here ($(grep -m1 'netsensor: off' "$WORK/agent.log"))"
	fi
	$GEN ioc "$WORK/ioc.txt"
}

publish_good() {
	local pub
	pub=$("$COLLECTOR" ioc publish "$WORK/ioc.txt" -c "$CONF")
	check "ioc publish signs the list and queues it for the agent ($pub)" grep -q "for 1 agent" <<<"$pub"
	check "the agent installs it and says so" \
		wait_event 30 '"kind":"ioc.update".*"state":"installed"'
}

scenario_install() {
	[ -z "$SKIP" ] || { ok "# SKIP $SKIP"; return; }
	check "the sensor starts with no IOC list" grep -q '"ioc_domains":0' <<<"$(agent_events)"
	publish_good
	check "the list on the PC is the published one" cmp -s "$WORK/ioc.txt" "$A/state/ioc.txt"
	check "the sensor restarts with it: 5000 domains, 2 addresses" \
		wait_event 30 '"kind":"net.sensor".*"ioc_domains":5000,"ioc_ips":2'
	check "no 'off' event for the planned restart" \
		bash -c "! grep -q '\"state\":\"off\"' <<<'$(agent_events | tr -d "'")'"
}

# Alone, it installs the good list first: that is the list that must stay.
scenario_bad_list() {
	[ -z "$SKIP" ] || { ok "# SKIP $SKIP"; return; }
	cmp -s "$WORK/ioc.txt" "$A/state/ioc.txt" 2>/dev/null || publish_good
	printf 'good.example\nthis is not a domain\n' >"$WORK/bad.txt"
	"$COLLECTOR" ioc publish "$WORK/bad.txt" -c "$CONF" >/dev/null
	check "a list with a bad line is refused, naming the line" \
		wait_event 30 '"kind":"ioc.update".*"state":"refused".*line 2: not a domain'
	check "and the old list stays" cmp -s "$WORK/ioc.txt" "$A/state/ioc.txt"
}

teardown() {
	[ -z "$SKIP" ] || return 0
	kill -TERM "$APID"
	check "the agent stops cleanly" wait "$APID"
}

run_scenarios
