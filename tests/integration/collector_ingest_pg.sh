#!/bin/bash
# collector_ingest's exactly-once scenarios on a real PostgreSQL 15 store
# (started in a temp dir by tests/support/pg_harness.sh), with the real
# collector and loadgen over loopback TLS:
#  - load: 20 agents x 500 events stored exactly once, and a full
#    resend acked as duplicates (smaller than on SQLite: a round trip per
#    statement on a shared 2-core machine);
#  - kill9: two kill -9 of the collector mid-run, nothing lost or twice;
#  - pg_down: PostgreSQL itself stops mid-ingest (an immediate shutdown,
#    a crash) and comes back: the collector refuses batches with a retry
#    hint instead of acking, the agents keep theirs, and afterwards every
#    agent's stored (boot, seq) set is exactly the one it sent.
# Scenarios: make test ONLY=collector_ingest_pg:pg_down
EW_STORE=pg
EW_INGEST_AS_LIB=1
EW_INGEST_AGENTS=20
EW_INGEST_EVENTS=500
. "$(dirname "$0")/collector_ingest.sh"
. "$(dirname "$0")/lib_pg.bash"

# Only these of collector_ingest's scenarios: the store-facing ones (the
# hostile-input ones do not touch the store and run on SQLite).
for f in $(declare -F | awk '$3 ~ /^scenario_/ {print $3}'); do
	case $f in scenario_load | scenario_kill9) ;; *) unset -f "$f" ;; esac
done

# pg_value DB SQL: one number from the database, behind the collector.
pg_value() { pg_sql "$1" "$2" | tr -d ' \n'; }
said_unavailable() { grep -q 'store unavailable' "$1"; }

scenario_pg_down() {
	local log="$WORK/down.log" lg_pid lg_rc=0 db
	ingest_collector "$WORK/down" "$log" "$WORK/down-agents" ||
		{ not_ok "pg_down: collector start"; return; }
	db=$PG_DB
	"${LG[@]}" --agents 20 --events 500 --boot-seed 3 --batch 5 --window 1 >"$WORK/down.out" 2>&1 &
	lg_pid=$!
	wait_for 120 stored_at_least 2000
	check "pg_down: PostgreSQL stops mid-ingest (immediate shutdown)" pg_kill
	check "pg_down: the collector refuses batches with a retry hint, not an ack" \
		wait_for 60 said_unavailable "$log"
	check "pg_down: the collector itself stays up" kill -0 "$COLLECTOR_PID"
	check "pg_down: PostgreSQL restarts" pg_restart
	wait "$lg_pid" || lg_rc=$?
	echo "# pg_down run: $(tail -1 "$WORK/down.out")"
	check "pg_down: the loadgen completed across the outage" eq "$lg_rc" 0
	check "pg_down: exactly 10000 events stored" eq "$(events_count)" 10000
	# Every agent's set: 2,000 distinct seqs, each once, none missing.
	check "pg_down: each of 20 agents' (boot, seq) sets is the one it sent" \
		eq "$(pg_value "$db" "SELECT count(*) FROM (SELECT agent FROM events
			GROUP BY agent, boot HAVING count(*) = 500
			AND count(DISTINCT seq) = 500
			AND max(seq) - min(seq) = 499) x")" 20
	check "pg_down: no event twice" \
		eq "$(pg_value "$db" "SELECT count(*) - count(DISTINCT (agent, boot, seq)) FROM events")" 0
}

# Not for a listing (tests/run.sh --list): it names the scenarios and
# runs nothing, so it needs no server (starting one took 30 s).
[ -n "${EW_LIST_SCENARIOS:-}" ] || pg_start || { not_ok "PostgreSQL harness start"; tap_finish; exit 1; }
run_scenarios
