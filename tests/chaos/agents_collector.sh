#!/bin/bash
# Chaos: a real collector and 20 real agents emitting synthetic events.
# Each agent appends "boot seq" to a side file after an event is in its
# spool. Agents and the collector are killed with SIGKILL at random moments,
# the collector is stopped for a while, and its disk (a small tmpfs) is
# filled and then freed. Then the agents drain, and for every agent the
# stored set of (boot, seq) must equal the emitted set, with no duplicates.
# Bounded in `make test`; CHAOS_LONG=1 (make chaos) runs longer and stops
# the collector for the full 60 s.
# Scenarios run alone by name: make test ONLY=agents_collector:delivery
# (delivery alone checks the same sets after a quiet run of the agents).
. "$(dirname "$0")/../integration/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
NAGENTS=${CHAOS_AGENTS:-20}
if [ "${CHAOS_LONG:-}" ]; then CHAOS_SECONDS=300 OUTAGE=60; else CHAOS_SECONDS=30 OUTAGE=8; fi
RATE=20
LOG="$WORK/collector.log"
D="$WORK/colfs"
TMPFS=0
declare -a APID

# setup: the collector's state on a small tmpfs (so the storm can fill
# it), and NAGENTS agents enrolled with the synthetic source on, each
# writing what it emitted to a side file.
setup() {
	local i a
	RANDOM=${CHAOS_SEED:-$$}
	echo "# chaos seed $RANDOM, $NAGENTS agents, ${CHAOS_SECONDS}s, outage ${OUTAGE}s"
	mkdir -p "$D"
	if mount -t tmpfs -o size=48m tmpfs "$D" 2>/dev/null; then
		TMPFS=1
		trap chaos_cleanup EXIT
	fi
	collector_init "$D/state" || return 1
	"$COLLECTOR" school add 79001 "Chaos school" --commune X --level 2 --expected-pcs "$NAGENTS" -c "$CONF" >/dev/null
	TOKEN=$("$COLLECTOR" token create --school 79001 --uses "$NAGENTS" -c "$CONF" 2>/dev/null)
	collector_up || return 1
	for ((i = 0; i < NAGENTS; i++)); do
		a="$WORK/agent$i"
		mkdir -p "$a"
		"$AGENT" enroll --collector "localhost:$INGEST_PORT" --enroll-port "$ENROLL_PORT" \
			--token "$TOKEN" --ca "$D/state/ca.crt" --state-dir "$a/state" -c "$a/agent.yaml" >/dev/null ||
			not_ok "enroll agent $i"
		cat >>"$a/agent.yaml" <<YAML
testing:
  synthetic_rate: $RATE
  synthetic_log: $a/emitted
YAML
		sed -i 's/backoff_max: 5m/backoff_max: 2s/' "$a/agent.yaml"
	done
	ok "$NAGENTS agents enrolled"
}

start_agent() {
	"$AGENT" run -c "$WORK/agent$1/agent.yaml" >>"$WORK/agent$1/log" 2>&1 &
	APID[$1]=$!
	PIDS+=("${APID[$1]}")
}
stop_agents() {
	kill_ours -TERM "${APID[@]}"
	wait "${APID[@]}" 2>/dev/null
}
# collector_serve: serve, and wait until it names its ports. A restart
# asks for the ports the agents know. It runs under daemon_start, kept
# for the scenarios after the one that (re)started it, so that any
# scenario can kill it and the teardown still gets its exit status.
collector_serve() {
	rm -f "$COLLECTOR_DIR/ports"
	DAEMON_KEEP=1 daemon_start collector "$COLLECTOR" serve -c "$CONF" "${COLLECTOR_SET[@]}" \
		${INGEST_PORT:+-o ingest.port=$INGEST_PORT} \
		${ENROLL_PORT:+-o enroll.port=$ENROLL_PORT} >>"$LOG" 2>&1 || return 1
	wait_for 20 ports_written || return 1
	INGEST_PORT=$(collector_port ingest)
	ENROLL_PORT=$(collector_port enroll)
}
collector_up() { collector_serve || { sleep 1; collector_serve; }; }
collector_kill9() {
	kill_ours -9 "$(cat "$WORK/collector.pid")"
	wait_for 20 test -e "$WORK/collector.rc"
}
# chaos_cleanup: lib.bash's cleanup, once nothing holds the tmpfs.
chaos_cleanup() {
	local p
	# shellcheck disable=SC2046
	kill_ours -9 "${PIDS[@]}" $(cat "$WORK/.kept-pids" 2>/dev/null)
	wait
	for p in "${PIDS[@]}" $(cat "$WORK/.kept-pids" 2>/dev/null); do wait_for 10 pid_gone "$p"; done
	umount "$D"
	cleanup
}

# Kills are random, with at least one collector kill by a sixth of the
# run; the outage and the full disk come at a third and two thirds, so
# that every run has all three.
scenario_storm() {
	local i kills_agents=0 kills_collector=0 start end did_outage=0 did_fill=0 action elapsed
	for ((i = 0; i < NAGENTS; i++)); do start_agent $i; done
	start=$SECONDS
	end=$((SECONDS + CHAOS_SECONDS))
	while [ $SECONDS -lt $end ]; do
		sleep "0.$((RANDOM % 9 + 1))"
		action=$((RANDOM % 10))
		elapsed=$((SECONDS - start))
		[ $kills_collector -eq 0 ] && [ $elapsed -ge $((CHAOS_SECONDS / 6)) ] && action=4
		[ $did_outage -eq 0 ] && [ $elapsed -ge $((CHAOS_SECONDS / 3)) ] && action=5
		[ $did_fill -eq 0 ] && [ $TMPFS -eq 1 ] && [ $elapsed -ge $((2 * CHAOS_SECONDS / 3)) ] && action=6
		case $action in
		0 | 1 | 2 | 3)
			i=$((RANDOM % NAGENTS))
			kill_ours -9 "${APID[$i]}"
			wait "${APID[$i]}" 2>/dev/null
			kills_agents=$((kills_agents + 1))
			start_agent "$i"
			;;
		4)
			collector_kill9
			kills_collector=$((kills_collector + 1))
			sleep "0.$((RANDOM % 9))"
			collector_up
			;;
		5)
			if [ $did_outage -eq 0 ] && [ $elapsed -ge $((CHAOS_SECONDS / 3)) ]; then
				did_outage=1
				collector_kill9
				echo "# collector down for ${OUTAGE}s"
				sleep "$OUTAGE"
				collector_up
			fi
			;;
		6)
			if [ $did_fill -eq 0 ] && [ $TMPFS -eq 1 ] &&
				[ $elapsed -ge $((2 * CHAOS_SECONDS / 3)) ]; then
				did_fill=1
				dd if=/dev/zero of="$D/filler" bs=1M 2>/dev/null
				echo "# collector disk full: $(df -h "$D" | tail -1)"
				sleep 4
				rm -f "$D/filler"
				echo "# collector disk freed"
			fi
			;;
		*) ;;
		esac
	done
	echo "# chaos done: $kills_agents agent kills, $kills_collector collector kills"
	check "chaos hit agents and the collector" test $kills_agents -gt 0 -a $kills_collector -gt 0
	check "the collector was down for ${OUTAGE}s" test $did_outage -eq 1
	if [ $TMPFS -eq 1 ]; then
		check "the collector's disk was filled and freed" test $did_fill -eq 1
		check "the collector logged the full disk" grep -q "store: writing .* failed" "$LOG"
	else
		echo "ok - # SKIP disk fill needs root to mount a tmpfs"
	fi
	# The agents stop here, SIGTERM as in a shutdown; what they hold in
	# their spools is delivery's to drain.
	stop_agents
}

spool_empty() { # spool_empty I: agent I's spool holds no event
	local d
	d=$("$AGENT" status -c "$WORK/agent$1/agent.yaml" 2>/dev/null | sed -n 's/^spool: *\([0-9]*\) events.*/\1/p')
	[ "${d:-1}" -eq 0 ]
}
all_spools_empty() {
	local i
	for ((i = 0; i < NAGENTS; i++)); do spool_empty "$i" || return 1; done
}

# Drain: every agent restarted without the synthetic source; then, agent
# by agent, the stored set of (boot, seq) equals the emitted set, with no
# duplicates. Run alone, the agents first emit for a while undisturbed.
scenario_delivery() {
	local i
	daemon_running collector || collector_up
	if [ ! -s "$WORK/agent0/emitted" ]; then
		echo "# no storm before: the agents emit for 5 s undisturbed"
		for ((i = 0; i < NAGENTS; i++)); do start_agent $i; done
		sleep 5
		stop_agents
	fi
	for ((i = 0; i < NAGENTS; i++)); do
		sed -i 's/synthetic_rate: [0-9]*/synthetic_rate: 0/' "$WORK/agent$i/agent.yaml"
		start_agent "$i"
	done
	check "every agent's spool drained" wait_for 120 all_spools_empty
	stop_agents
	check "stored set equals emitted set for every agent" compare_sets
}

# compare_sets: compare, agent by agent. A stored event missing from the side file is
# allowed only as the last event of a boot: the agent was killed between
# committing it to the spool and writing the side-file line.
compare_sets() {
	$PY - "$D/state/eduwatch.db" "$WORK" "$NAGENTS" <<'PYEOF'
import sqlite3, sys, os
db, work, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = sqlite3.connect(db)
total_emitted = total_stored = 0
bad = 0
for i in range(n):
    state = os.path.join(work, "agent%d" % i, "state")
    cert = open(os.path.join(state, "agent.crt")).read()
    # The agent id is in the status file the agent writes.
    status = dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(state, "status")) if "=" in l)
    agent = status["agent"]
    emitted = set()
    for line in open(os.path.join(work, "agent%d" % i, "emitted")):
        b, s = line.split()
        emitted.add((int(b), int(s)))
    rows = con.execute("SELECT boot, seq FROM events WHERE agent=? AND kind='test.synthetic'", (agent,)).fetchall()
    stored = set(rows)
    dups = len(rows) - len(stored)
    missing = emitted - stored
    extra = stored - emitted
    last_of_boot = {}
    for b, s in stored:
        last_of_boot[b] = max(last_of_boot.get(b, 0), s)
    unexplained = [e for e in extra if last_of_boot[e[0]] != e[1]]
    total_emitted += len(emitted)
    total_stored += len(stored)
    ok = not missing and not dups and not unexplained
    if not ok:
        bad += 1
    print("%s - agent %d (%s): emitted %d, stored %d, missing %d, duplicates %d, extra %d (%d unexplained)" % (
        "ok" if ok else "not ok", i, agent, len(emitted), len(stored), len(missing), dups, len(extra), len(unexplained)))
print("# total emitted %d, stored %d" % (total_emitted, total_stored))
sys.exit(1 if bad else 0)
PYEOF
}

# teardown: the collector stops (as in the drain before the comparison).
teardown() { daemon_stop collector; }

run_scenarios
