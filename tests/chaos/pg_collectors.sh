#!/bin/bash
# Chaos on a province's shared store (issue 21's done-when): a real
# PostgreSQL 15 (tests/support/pg_harness.sh), two `eduwatch-collector
# serve` on it behind a real HAProxy in TCP mode, 20 agents (the loadgen:
# each sends seq 1..N of one boot and resends from its first unacked seq
# after any disconnect, as a spool does, so what it emitted is known
# exactly), an HTTPS SOC receiver, and meanwhile random kill -9 of either
# collector (restarted on its ports) and of PostgreSQL itself (every
# server process at once, then a start: crash recovery). Then:
#  - every agent's stored (boot, seq) set is the one it emitted, no
#    duplicates;
#  - every alert the store holds reached the SOC at least once;
#    duplicates only after a kill (at-least-once across a crash).
# Bounded in `make test` (about 25 s of chaos); CHAOS_LONG=1 (make chaos)
# runs 4 minutes with more events.
. "$(dirname "$0")/../integration/lib.bash"
. "$(dirname "$0")/../integration/lib_pg.bash"
NAGENTS=${CHAOS_AGENTS:-20}
if [ "${CHAOS_LONG:-}" ]; then CHAOS_SECONDS=240 RATE=10; else CHAOS_SECONDS=25 RATE=12; fi
# Each agent emits for the whole run at RATE events/s, and the chaos
# ends before its last events, so the end of the run is clean ingest.
EVENTS=$(((CHAOS_SECONDS + 5) * RATE))
RANDOM=${CHAOS_SEED:-$$}
echo "# chaos seed $RANDOM: $NAGENTS agents x $EVENTS events, ${CHAOS_SECONDS}s"
A="$WORK/col-a" B="$WORK/col-b"

# setup: PostgreSQL, the two collectors' state on it, the SOC receiver,
# the school and its token.
setup() {
	command -v haproxy >/dev/null || { echo "# haproxy is missing (scripts/deps.sh test)"; return 1; }
	pg_start || { echo "# the PostgreSQL harness did not start"; return 1; }

	pg_collector_pair "$A" "$B" || { echo "# two collectors on one database did not start"; return 1; }

	# Every scan.match is an alert of its own (its path has the seq), so
	# alerts are raised all through the chaos, not once per agent.
	cat >"$WORK/alerts.yaml" <<'YAML'
rules:
  - id: chaos-match
    title: "Malware found (chaos)"
    category: malware
    kind: scan.match
    severity: 9
    dedupe: [path]
    suppress: 1m
YAML
	collector_set "alerts.rules=$WORK/alerts.yaml"
	P="$WORK/soc"
	mkdir -p "$P"
	soc_pki "$P"
	https_receiver SOC_PORT "$P/soc.crt" "$P/soc.key" "$WORK/soc.log" chaos-token 0 ||
		{ echo "# the SOC receiver did not start"; return 1; }
	for c in "$A" "$B"; do
		{ echo "forward:"; https_forward_yaml soc "$SOC_PORT" chaos-token "$P/ca.crt"; } >>"$c/collector.yaml"
	done
	"$COLLECTOR" school add 79001 "THCS Chaos" --commune X --level 2 --expected-pcs "$NAGENTS" -c "$CONF" >/dev/null
	TOKEN=$("$COLLECTOR" token create --school 79001 --uses "$NAGENTS" --expires 1h -c "$CONF" 2>/dev/null)
}

declare -A PID PORT_I PORT_E
# start NAME DIR: serve, on the ports it had before (0 the first time).
start() {
	serve_in "$2" "$WORK/$1.log" "${PORT_I[$1]:-0}" "${PORT_E[$1]:-0}" ||
		{ sleep 1; serve_in "$2" "$WORK/$1.log" "${PORT_I[$1]:-0}" "${PORT_E[$1]:-0}"; } || return 1
	PID[$1]=$SERVED_PID
	PIDS+=("$SERVED_PID")
	PORT_I[$1]=$(pair_port "$2" ingest)
	PORT_E[$1]=$(pair_port "$2" enroll)
}
# kill9: the run itself: both collectors behind HAProxy, the agents, the
# kills, then what the store and the SOC hold.
scenario_kill9() {
	ok "two collectors share one PostgreSQL store"
	check "collector a starts" start a "$A"
	check "collector b starts" start b "$B"

	# HAProxy in TCP mode in front of both: the address the agents know.
	LB=$(free_port)
	cat >"$WORK/haproxy.cfg" <<CFG
global
	maxconn 4000
defaults
	mode tcp
	timeout connect 2s
	timeout client 120s
	timeout server 120s
	retries 3
	option redispatch
frontend ingest
	bind 127.0.0.1:$LB
	default_backend collectors
backend collectors
	balance roundrobin
	server a 127.0.0.1:${PORT_I[a]} check inter 500 fall 1 rise 1
	server b 127.0.0.1:${PORT_I[b]} check inter 500 fall 1 rise 1
CFG
	haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.log" 2>&1 &
	PIDS+=($!)
	check "HAProxy listens in front of both collectors" wait_port "$LB" 10

	LG=("$LOADGEN" --host 127.0.0.1 --ca "$A/ca.crt" --state "$WORK/agents" --agents "$NAGENTS")
	check "$NAGENTS agents enrolled" quiet \
		"${LG[@]}" --port "${PORT_I[a]}" --enroll-port "${PORT_E[a]}" --token "$TOKEN" --enroll-only
	"${LG[@]}" --port "$LB" --events "$EVENTS" --rate "$RATE" --batch 10 --window 2 \
		--boot-seed 7 --deadline $((CHAOS_SECONDS + 240)) >"$WORK/loadgen.out" 2>&1 &
	LG_PID=$!

	kills_a=0 kills_b=0 kills_pg=0
	start_s=$SECONDS
	end=$((SECONDS + CHAOS_SECONDS))
	# Random kills every 1-3 s, each of the three at least once: a by a
	# quarter of the run, PostgreSQL by a half, b by three quarters.
	while [ $SECONDS -lt $end ]; do
		sleep "$((RANDOM % 3 + 1)).$((RANDOM % 10))"
		elapsed=$((SECONDS - start_s))
		action=$((RANDOM % 5))
		[ $kills_a -eq 0 ] && [ $elapsed -ge $((CHAOS_SECONDS / 4)) ] && action=0
		[ $kills_pg -eq 0 ] && [ $elapsed -ge $((CHAOS_SECONDS / 2)) ] && action=2
		[ $kills_b -eq 0 ] && [ $elapsed -ge $((3 * CHAOS_SECONDS / 4)) ] && action=1
		case $action in
		0 | 1)
			[ $action -eq 0 ] && c=a dir=$A || c=b dir=$B
			kill -9 "${PID[$c]}"
			wait "${PID[$c]}" 2>/dev/null
			echo "# $((SECONDS - start_s))s: kill -9 collector $c"
			[ $c = a ] && kills_a=$((kills_a + 1)) || kills_b=$((kills_b + 1))
			sleep "0.$((RANDOM % 9 + 1))"
			start "$c" "$dir" || not_ok "collector $c restarts"
			;;
		2)
			echo "# $((SECONDS - start_s))s: kill -9 of PostgreSQL"
			if pg_kill9; then kills_pg=$((kills_pg + 1)); else not_ok "PostgreSQL restarts after kill -9"; fi
			;;
		*) ;;
		esac
	done
	echo "# chaos done: $kills_a kills of a, $kills_b of b, $kills_pg of PostgreSQL"
	check "chaos killed both collectors and PostgreSQL" \
		test $kills_a -gt 0 -a $kills_b -gt 0 -a $kills_pg -gt 0

	lg_rc=0
	wait "$LG_PID" || lg_rc=$?
	echo "# loadgen: $(tail -1 "$WORK/loadgen.out")"
	check "every agent's events acked through the chaos (loadgen done)" eq "$lg_rc" 0

	pg_value() { pg_sql "$PG_DB" "$1" | tr -d ' \n'; }
	# The emitted set of agent i is (its boot, 1..EVENTS); the store must
	# hold exactly that for each of the agents the loadgen enrolled.
	ids=$(for f in "$WORK"/agents/agent-*.id; do printf "'%s'\n" "$(cat "$f")"; done | paste -sd,)
	check "each of $NAGENTS agents' stored (boot, seq) set is the one it emitted" \
		eq "$(pg_value "SELECT count(*) FROM (SELECT agent FROM events
			WHERE agent IN ($ids) GROUP BY agent HAVING count(*) = $EVENTS
			AND count(DISTINCT (boot, seq)) = $EVENTS AND count(DISTINCT boot) = 1
			AND min(seq) = 1 AND max(seq) = $EVENTS) x")" "$NAGENTS"
	check "no event stored twice" \
		eq "$(pg_value "SELECT count(*) - count(DISTINCT (agent, boot, seq)) FROM events")" 0
	check "nothing stored that was not emitted" \
		eq "$(pg_value "SELECT count(*) FROM events WHERE agent NOT IN ($ids)
			AND kind <> 'agent.silent'")" 0

	# Alerts: every one the store holds, in the receiver's file at least
	# once. A collector killed between sending a batch and recording it
	# sent sends it again when it is back (its lease on the rows is its
	# own across restarts): duplicates come from kills only.
	alerts=$(pg_value "SELECT count(*) FROM alerts WHERE rule = 'chaos-match'")
	echo "# $alerts alerts raised"
	check "alerts were raised all through the run (one per scan.match)" \
		eq "$alerts" $((NAGENTS * ((EVENTS + 6) / 12)))
	# soc_ids: the alert ids the receiver saved, one a line, as often as
	# they came (each line it saved is one request's JSON array).
	soc_ids() {
		$PY - "$WORK/soc.log" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    for alert in json.loads(line):
        print(alert["event"]["id"])
PY
	}
	all_delivered() { [ "$(soc_ids | sort -u | wc -l)" -eq "$alerts" ]; }
	# Once a second (a Python start each time): a forwarder killed with a
	# batch in flight retries it when it is back, within seconds.
	delivered_within() {
		local i
		for ((i = 0; i < $1; i++)); do all_delivered && return 0; sleep 1; done
		return 1
	}
	check "every alert reached the SOC at least once" delivered_within 90
	pg_sql "$PG_DB" "SELECT 'eduwatch-' || id FROM alerts WHERE rule = 'chaos-match'" |
		sed 's/ //g; /^$/d' | sort >"$WORK/alert-ids"
	soc_ids | sort >"$WORK/soc-ids"
	check "the SOC got exactly the store's alerts, none unknown" \
		eq "$(sort -u "$WORK/soc-ids" | comm -3 - "$WORK/alert-ids" | wc -l)" 0
	dups=$(($(wc -l <"$WORK/soc-ids") - $(sort -u "$WORK/soc-ids" | wc -l)))
	kills=$((kills_a + kills_b + kills_pg))
	echo "# $dups duplicate deliveries across $kills kills"
	# At most one batch in flight per collector per kill (OUTPUT_BATCH_MAX).
	check "duplicates only across kills: at most a batch of 100 per kill" \
		test "$dups" -le $((kills * 100))
	check "the queue is empty once every alert is confirmed" \
		wait_for 30 eval '[ "$(pg_value "SELECT count(*) FROM forward_queue")" -eq 0 ]'
}

run_scenarios
