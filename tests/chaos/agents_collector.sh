#!/bin/bash
# Chaos: a real collector and 20 real agents emitting synthetic events.
# Each agent appends "boot seq" to a side file after an event is in its
# spool. Agents and the collector are killed with SIGKILL at random moments,
# the collector is stopped for a while, and its disk (a small tmpfs) is
# filled and then freed. Then the agents drain, and for every agent the
# stored set of (boot, seq) must equal the emitted set, with no duplicates.
# Bounded in `make test`; CHAOS_LONG=1 (make chaos) runs longer and stops
# the collector for the full 60 s.
. "$(dirname "$0")/../integration/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
NAGENTS=${CHAOS_AGENTS:-20}
if [ "${CHAOS_LONG:-}" ]; then CHAOS_SECONDS=300 OUTAGE=60; else CHAOS_SECONDS=30 OUTAGE=8; fi
RATE=20
LOG="$WORK/collector.log"
RANDOM=${CHAOS_SEED:-$$}
echo "# chaos seed $RANDOM, $NAGENTS agents, ${CHAOS_SECONDS}s, outage ${OUTAGE}s"

# The collector's state lives on a small tmpfs so the test can fill it.
D="$WORK/colfs"
mkdir -p "$D"
TMPFS=0
if mount -t tmpfs -o size=48m tmpfs "$D" 2>/dev/null; then
	TMPFS=1
	trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; wait; umount "$D"; cleanup' EXIT
fi
collector_init "$D/state" || { not_ok "collector init"; tap_finish; exit 1; }
"$COLLECTOR" school add 79001 "Chaos school" --commune X --level 2 --expected-pcs "$NAGENTS" -c "$CONF" >/dev/null
TOKEN=$("$COLLECTOR" token create --school 79001 --uses "$NAGENTS" -c "$CONF" 2>/dev/null)
collector_start "$LOG" || not_ok "collector start"

declare -a APID
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

start_agent() {
	"$AGENT" run -c "$WORK/agent$1/agent.yaml" >>"$WORK/agent$1/log" 2>&1 &
	APID[$1]=$!
	PIDS+=("${APID[$1]}")
}
for ((i = 0; i < NAGENTS; i++)); do start_agent $i; done

restart_collector() {
	collector_start "$LOG" || { sleep 1; collector_start "$LOG"; }
}

kills_agents=0 kills_collector=0
start=$SECONDS
end=$((SECONDS + CHAOS_SECONDS))
did_outage=0 did_fill=0
# Kills are random, with at least one collector kill by a sixth of the
# run; the outage and the full disk come at a third and two thirds, so
# that every run has all three.
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
		kill -9 "${APID[$i]}" 2>/dev/null
		wait "${APID[$i]}" 2>/dev/null
		kills_agents=$((kills_agents + 1))
		start_agent "$i"
		;;
	4)
		kill -9 "$COLLECTOR_PID"
		wait "$COLLECTOR_PID" 2>/dev/null
		kills_collector=$((kills_collector + 1))
		sleep "0.$((RANDOM % 9))"
		restart_collector
		;;
	5)
		if [ $did_outage -eq 0 ] && [ $elapsed -ge $((CHAOS_SECONDS / 3)) ]; then
			did_outage=1
			kill -9 "$COLLECTOR_PID"
			wait "$COLLECTOR_PID" 2>/dev/null
			echo "# collector down for ${OUTAGE}s"
			sleep "$OUTAGE"
			restart_collector
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

# Drain: restart every agent without the synthetic source.
for ((i = 0; i < NAGENTS; i++)); do
	kill -TERM "${APID[$i]}" 2>/dev/null
	wait "${APID[$i]}" 2>/dev/null
	sed -i 's/synthetic_rate: [0-9]*/synthetic_rate: 0/' "$WORK/agent$i/agent.yaml"
	start_agent "$i"
done
drained=0
for ((t = 0; t < 120; t++)); do
	waiting=0
	for ((i = 0; i < NAGENTS; i++)); do
		d=$("$AGENT" status -c "$WORK/agent$i/agent.yaml" 2>/dev/null | sed -n 's/^spool: *\([0-9]*\) events.*/\1/p')
		[ "${d:-1}" -eq 0 ] || waiting=$((waiting + 1))
	done
	[ $waiting -eq 0 ] && { drained=1; break; }
	sleep 1
done
check "every agent's spool drained" test $drained -eq 1
for ((i = 0; i < NAGENTS; i++)); do kill -TERM "${APID[$i]}" 2>/dev/null; done
wait "${APID[@]}" 2>/dev/null
collector_stop

# Compare, agent by agent. A stored event missing from the side file is
# allowed only as the last event of a boot: the agent was killed between
# committing it to the spool and writing the side-file line.
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
check "stored set equals emitted set for every agent" test $? -eq 0
tap_finish
