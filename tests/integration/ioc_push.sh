#!/bin/bash
# The IOC list reaches the LAN sensor from the collector: `ioc publish`
# signs it and pushes ioc.update, the agent fetches it over its own
# connection, parses every line before using it, installs it and
# restarts its sensor helper, which comes back on with the new counts. A
# list with a bad line is refused with the line named, and the old list
# stays.
. "$(dirname "$0")/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
D="$WORK/collector"
A="$WORK/agent"
mkdir -p "$A"
if [ "$(id -u)" -ne 0 ]; then
	ok "# SKIP the LAN sensor needs root"
	tap_finish
	exit 0
fi
collector_with_agent 79030 "$A" || { not_ok "collector and agent"; tap_finish; exit 1; }
sed -i 's/interval: 60s/interval: 1s/' "$A/agent.yaml"
sed -i '/^scan:/,$d' "$A/agent.yaml"
printf 'scan:\n  enabled: false\nav:\n  enabled: false\n' >>"$A/agent.yaml"
"$AGENT" run -c "$A/agent.yaml" >>"$WORK/agent.log" 2>&1 &
APID=$!
PIDS+=("$APID")
if ! wait_event 20 '"kind":"net.sensor".*"state":"on"'; then
	ok "# SKIP the sensor cannot capture here ($(grep -m1 'netsensor: off' "$WORK/agent.log"))"
	kill -TERM "$APID"
	tap_finish
	exit 0
fi
check "the sensor starts with no IOC list" grep -q '"ioc_domains":0' <<<"$(agent_events)"

$PY - "$WORK/ioc.txt" <<'PYEOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("# province IOC list\n")
    for i in range(5000):
        f.write("c2-%d.evil.example\n" % i)
    f.write("203.0.113.66\n2001:db8::66\n")
PYEOF
pub=$("$COLLECTOR" ioc publish "$WORK/ioc.txt" -c "$CONF")
check "ioc publish signs the list and queues it for the agent ($pub)" grep -q "for 1 agent" <<<"$pub"
check "the agent installs it and says so" \
	wait_event 30 '"kind":"ioc.update".*"state":"installed"'
check "the list on the PC is the published one" cmp -s "$WORK/ioc.txt" "$A/state/ioc.txt"
check "the sensor restarts with it: 5000 domains, 2 addresses" \
	wait_event 30 '"kind":"net.sensor".*"ioc_domains":5000,"ioc_ips":2'
check "no 'off' event for the planned restart" \
	bash -c "! grep -q '\"state\":\"off\"' <<<'$(agent_events | tr -d "'")'"

printf 'good.example\nthis is not a domain\n' >"$WORK/bad.txt"
"$COLLECTOR" ioc publish "$WORK/bad.txt" -c "$CONF" >/dev/null
check "a list with a bad line is refused, naming the line" \
	wait_event 30 '"kind":"ioc.update".*"state":"refused".*line 2: not a domain'
check "and the old list stays" cmp -s "$WORK/ioc.txt" "$A/state/ioc.txt"
kill -TERM "$APID"
check "the agent stops cleanly" wait "$APID"
tap_finish
