#!/bin/bash
# Settings given on the command line (-o KEY=VALUE) over collector.yaml and
# agent.yaml, and the ports a collector asked for port 0 names in its
# state folder (issue 13, item 8), with the real binaries:
#  - an unknown key, a bad value, a value out of range, a missing '=' and
#    a table are refused with exit 3 and a message naming the assignment;
#  - a good one wins over the file's, for serve and for a reload;
#  - ingest.port=0 and enroll.port=0: the collector binds free ports,
#    writes them to <state_dir>/ports, serves there, and removes the file
#    when it stops.
. "$(dirname "$0")/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
D="$WORK/collector"
LOG="$WORK/collector.log"

setup() {
	collector_init "$D" || { not_ok "collector init"; return 1; }
	"$COLLECTOR" school add 79001 "Trường 79001" --commune "Xã test" --level 2 \
		--expected-pcs 2 -c "$CONF" >/dev/null
}

# refused_3 WANT CMD...: exit 3 (bad configuration), stderr says WANT.
refused_3() {
	local want=$1 rc=0; shift
	timeout 30 "$@" >/dev/null 2>"$WORK/err" || rc=$?
	[ $rc -eq 3 ] || { echo "# exit $rc, want 3: $*" >&2; return 1; }
	grep -qF -- "$want" "$WORK/err" || { echo "# stderr: $(cat "$WORK/err")" >&2; return 1; }
}

scenario_collector_refusals() {
	check "collector: an unknown key is refused" \
		refused_3 "-o no.such.key=1: key 'no.such.key': unknown key" \
		"$COLLECTOR" school list -c "$CONF" -o no.such.key=1
	check "collector: a bad value is refused" \
		refused_3 "-o ingest.port=abc: key 'ingest.port': expected an integer, got 'abc'" \
		"$COLLECTOR" serve -c "$CONF" -o ingest.port=abc
	check "collector: a value out of range is refused" \
		refused_3 "key 'ingest.port': value 70000 is out of range 0..65535" \
		"$COLLECTOR" serve -c "$CONF" -o ingest.port=70000
	check "collector: a bad duration is refused" \
		refused_3 "key 'ingest.handshake_timeout': expected a duration" \
		"$COLLECTOR" serve -c "$CONF" -o ingest.handshake_timeout=soon
	check "collector: an assignment without '=' is refused" \
		refused_3 "-o ingest.port: expected KEY=VALUE" \
		"$COLLECTOR" school list -c "$CONF" -o ingest.port
	check "collector: a table is refused (it belongs in the file)" \
		refused_3 "key 'forward': a list of mappings cannot be set with -o" \
		"$COLLECTOR" school list -c "$CONF" -o forward=x
	check_status "collector: init takes no -o (a usage error: it writes the file)" 2 \
		"$COLLECTOR" init --dir "$WORK/x" -o log.level=debug
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
scenario_port_zero() {
	local ing enr rc=0 log="$WORK/port0.log"
	collector_start "$log" || { not_ok "collector starts with port 0"; return; }
	ing=$(collector_port ingest) enr=$(collector_port enroll)
	check "ports file names the bound ingest and enroll ports ($ing, $enr)" \
		eval '[ "$ing" -gt 0 ] && [ "$enr" -gt 0 ] && [ "$ing" != 7443 ] && [ "$enr" != 7444 ] && [ "$ing" != "$enr" ]'
	check "the log names the bound ports, not 0" \
		eval 'grep -q "ingest: listening on [0-9.]*:$ing " "$log" && grep -q "enroll: listening on [0-9.]*:$enr$" "$log"'
	check "the collector serves on the ingest port it named" listening "$ing"
	check "and on the enroll port it named" listening "$enr"
	check "the ports file is not writable by others" eq "$(stat -c %a "$D/ports")" 644
	# The settings from -o hold across a reload (SIGHUP re-reads the file).
	kill -HUP "$COLLECTOR_PID"
	wait_for 20 grep -q "reload" "$log"
	check "after a reload it still serves on the same ports" listening "$ing"
	collector_stop || rc=$?
	check "it stops cleanly" eq "$rc" 0
	check "and removes its ports file" test ! -e "$D/ports"
}

scenario_override_wins() {
	local log="$WORK/wins.log"
	# The file says stats every 60s (collector_init adds 0); -o given
	# later wins: a stats line every second.
	collector_set log.stats_interval=1s
	collector_start "$log" || { not_ok "collector starts"; return; }
	check "a later -o wins over the file and an earlier -o (stats every second)" \
		wait_for 20 eval '[ "$(grep -c "ingest: open=" "$log")" -ge 2 ]'
	collector_stop
}

# An enrolled agent: its settings refused and overridden the same way.
scenario_agent() {
	local tok out alog="$WORK/agent.log" apid
	collector_start "$LOG" || { not_ok "collector starts"; return; }
	mkdir -p "$WORK/agent"
	tok=$("$COLLECTOR" token create --school 79001 --uses 1 -c "$CONF" 2>/dev/null)
	out=$("$AGENT" enroll --collector "localhost:$INGEST_PORT" \
		--enroll-port "$ENROLL_PORT" --token "$tok" --ca "$D/ca.crt" \
		--state-dir "$WORK/agent/state" -c "$WORK/agent/agent.yaml" 2>&1)
	ID=$(sed -n 's/^enrolled as agent \([^ ]*\) .*/\1/p' <<<"$out")
	check "agent enrolls ($(head -1 <<<"$out"))" test -n "$ID"
	check "agent: an unknown key is refused" \
		refused_3 "-o scan.nonsense=1: key 'scan.nonsense': unknown key" \
		"$AGENT" status -c "$WORK/agent/agent.yaml" -o scan.nonsense=1
	check "agent: a bad value is refused" \
		refused_3 "key 'heartbeat.interval': expected a duration like 30s" \
		"$AGENT" run -c "$WORK/agent/agent.yaml" -o heartbeat.interval=often
	check "agent: a bad boolean is refused" \
		refused_3 "key 'netsensor.enabled': expected true or false, got 'maybe'" \
		"$AGENT" run -c "$WORK/agent/agent.yaml" -o netsensor.enabled=maybe
	# The file says a heartbeat every 60s; -o says 1s.
	"$AGENT" run -c "$WORK/agent/agent.yaml" -o heartbeat.interval=1s \
		-o netsensor.enabled=false -o scan.enabled=false \
		>>"$alog" 2>&1 &
	apid=$!
	heartbeats() { agent_events | grep -o 'agent\.heartbeat' | wc -l; }
	check "agent: -o heartbeat.interval=1s beats every second, not every minute" \
		wait_for 30 eval '[ "$(heartbeats)" -ge 3 ]'
	kill -TERM "$apid"
	wait "$apid"
}

teardown() { collector_stop; }

run_scenarios
