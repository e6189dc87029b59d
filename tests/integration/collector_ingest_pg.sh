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
#    agent's stored (boot, seq) set is exactly the one it sent;
#  - history: serve's daily snapshot and `score --snapshot` write the
#    schools' and PCs' history rows (one transaction a day, a second run
#    the same day replaces them), and `report list` reads the reports.
# Scenarios: make test ONLY=collector_ingest_pg:pg_down
EW_STORE=pg
EW_INGEST_AS_LIB=1
EW_INGEST_AGENTS=20
EW_INGEST_EVENTS=500
. "$(dirname "$0")/collector_ingest.sh"

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

scenario_history() {
	local log="$WORK/hist.log" db today
	ingest_collector "$WORK/hist" "$log" "$WORK/hist-agents" ||
		{ not_ok "history: collector start"; return; }
	db=$PG_DB
	today=$(date -u +%F)
	check "history: serve records the day's snapshot on PostgreSQL" \
		wait_for 60 grep -q "snapshot $today: [0-9]* scores recorded" "$log"
	check "history: the school's history row of the day" \
		eq "$(pg_value "$db" "SELECT count(*) FROM day_school
			WHERE day = '$today' AND school = '79001'")" 1
	"${LG[@]}" --agents 3 --events 2 --boot-seed 4 >"$WORK/hist.out" 2>&1 ||
		not_ok "history: 3 agents enroll"
	check "history: score --snapshot records the day again" \
		eval '"$COLLECTOR" score --snapshot -c "$CONF" >/dev/null'
	check "history: the day's 3 PC rows, and the school's row replaced" \
		eq "$(pg_value "$db" "SELECT (SELECT count(*) FROM day_host
			WHERE day = '$today') || '/' || (SELECT string_agg(enrolled::text, ',')
			FROM day_school WHERE day = '$today')")" "3/3"
	check "history: report list reads the reports table" \
		eval '"$COLLECTOR" report list -c "$CONF" >/dev/null'
	collector_stop
}

# EW_STORE=pg: run_scenarios starts the server before the first scenario
# (none for a listing, tests/run.sh --list: starting one took 30 s).
run_scenarios
