#!/bin/bash
# `store migrate`: a province's SQLite store copied into a real
# PostgreSQL 15 (tests/support/pg_harness.sh), with the real collector and
# loadgen over loopback TLS:
#  - copy: a collector on SQLite with 20 agents x 1,000 events (alerts of
#    the rules among them), an officer and a score snapshot; migrate;
#    every table's count equal and 500 events compared field by field;
#    store.url switched: score, alerts list, events count and user list
#    print the same as before; serve on PostgreSQL takes the same agents'
#    full resend as duplicates only (exactly-once kept across the
#    migration), and new events get new ids after the copied ones;
#  - hostile: a --from that is not SQLite, a SQLite file that is not an
#    eduwatch store, a missing file, a store of a newer schema, a table
#    this migration does not know, an unreachable PostgreSQL, a non-empty
#    target, a bad command line: each a clear error, exit non-zero, nothing committed;
#  - redteam: a finished and a running red-team window, their actions and
#    the alerts of their windows copied as they were judged on SQLite
#    (drill flags and ties equal, none added by the target's triggers),
#    `drill status` the same after the switch, and the triggers live
#    again afterwards.
# The million-event run is tests/chaos/store_migrate_million.sh
# (`make chaos`), this script with EW_MIGRATE_AGENTS/EW_MIGRATE_EVENTS.
# Scenarios: make test ONLY=store_migrate_pg:hostile
. "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
. "$(dirname "${BASH_SOURCE[0]}")/lib_pg.bash"
. "$(dirname "${BASH_SOURCE[0]}")/lib_drill.bash"

M_AGENTS=${EW_MIGRATE_AGENTS:-20}
M_EVENTS=${EW_MIGRATE_EVENTS:-1000}
M_TOTAL=$((M_AGENTS * M_EVENTS))

pg_value() { pg_sql "$1" "$2" | tr -d ' \n'; }
pg_url() { sh "$PG_HARNESS" url "$PG_DIR" "$1"; }
createdb() { sh "$PG_HARNESS" createdb "$PG_DIR" "$1"; }
migrate() { "$COLLECTOR" store migrate "$@"; }
events_count() { "$COLLECTOR" events count -c "$CONF"; }

# sqlite_collector DIR LOG: a collector on SQLite in DIR, school 79001,
# a 200-use token, serving (sets CONF, TOKEN, LG and DB, its file).
sqlite_collector() {
	local dir=$1 log=$2
	collector_init "$dir" || return 1
	DB="$dir/eduwatch.db"
	"$COLLECTOR" school add 79001 "THCS Nguyễn Du" --commune "Phường 1" --level 2 \
		--expected-pcs 60 -c "$CONF" >/dev/null || return 1
	TOKEN=$("$COLLECTOR" token create --school 79001 --uses 200 --expires 1h -c "$CONF" 2>/dev/null)
	collector_start "$log" || return 1
	LG=("$LOADGEN" --host 127.0.0.1 --port "$INGEST_PORT" --enroll-port "$ENROLL_PORT"
		--ca "$dir/ca.crt" --token "$TOKEN" --state "$dir/agents" --deadline $((120 + M_TOTAL / 2000)))
}

# what_officers_see: the outputs that must not change with the store.
what_officers_see() {
	events_count
	"$COLLECTOR" score --json -c "$CONF"
	"$COLLECTOR" alerts list --limit 100000 --json -c "$CONF"
	"$COLLECTOR" user list --json -c "$CONF"
	"$COLLECTOR" agent list --json -c "$CONF"
}

scenario_copy() {
	local d="$WORK/copy" log="$WORK/copy.log" db=migrated t0 t1
	sqlite_collector "$d" "$log" || { not_ok "copy: SQLite collector start"; return; }
	check "copy: $M_TOTAL events from $M_AGENTS agents stored on SQLite" \
		eval '"${LG[@]}" --agents "$M_AGENTS" --events "$M_EVENTS" --boot-seed 7 >"$WORK/copy.lg1" 2>&1'
	"$COLLECTOR" user add officer1 province_officer -c "$CONF" >/dev/null 2>&1 ||
		not_ok "copy: an officer account"
	"$COLLECTOR" score --snapshot -c "$CONF" >/dev/null 2>&1 || not_ok "copy: a score snapshot"
	collector_stop
	what_officers_see >"$WORK/copy.before" 2>&1
	echo "# alerts on SQLite: $(sqlite3 "$DB" 'SELECT count(*) FROM alerts' 2>/dev/null || echo '?')"
	createdb "$db" || { not_ok "copy: createdb"; return; }
	t0=$(date +%s.%N)
	check "copy: store migrate exits 0" \
		eval 'migrate --from "sqlite:$DB" --to "$(pg_url "$db")" --batch 5000 >"$WORK/copy.out" 2>&1'
	t1=$(date +%s.%N)
	echo "# migrate of $M_TOTAL events: $(echo "$t1 - $t0" | bc) s"
	sed 's/^/# /' "$WORK/copy.out" | grep -v ': [0-9]*/[0-9]*$'
	check "copy: every table's count printed equal (no MISMATCH)" \
		eval '! grep -q MISMATCH "$WORK/copy.out" && grep -q "^events *$M_TOTAL *$M_TOTAL$" "$WORK/copy.out"'
	check "copy: 500 events compared field by field" \
		grep -q "^events: 500 sampled rows equal field by field" "$WORK/copy.out"
	check "copy: PostgreSQL holds the events, once each, with their keys" \
		eq "$(pg_value "$db" "SELECT count(*) || '/' || count(DISTINCT (agent, boot, seq))
			|| '/' || (SELECT count(*) FROM event_keys) FROM events")" "$M_TOTAL/$M_TOTAL/$M_TOTAL"
	# The same collector, switched to the target.
	sed -i "s|^  # url: .*|  url: $(pg_url "$db")|" "$CONF"
	what_officers_see >"$WORK/copy.after" 2>&1
	check "copy: score, alerts, events, users and agents read the same on PostgreSQL" \
		cmp -s "$WORK/copy.before" "$WORK/copy.after"
	collector_start "$log" || { not_ok "copy: serve on PostgreSQL"; return; }
	check "copy: the same agents resend everything: all acked" \
		eval '"${LG[@]}" --agents "$M_AGENTS" --events "$M_EVENTS" --boot-seed 7 >"$WORK/copy.lg2" 2>&1'
	echo "# resend: $(tail -1 "$WORK/copy.lg2")"
	check "copy: ... and stored as duplicates: still $M_TOTAL (exactly-once kept)" \
		eq "$(events_count)" "$M_TOTAL"
	check "copy: a new boot of the same agents is stored" \
		eval '"${LG[@]}" --agents 2 --events 10 --boot-seed 8 >/dev/null 2>&1'
	check "copy: ... with ids after the copied ones (sequences moved on)" \
		eq "$(pg_value "$db" "SELECT count(*) || '/' || (SELECT count(DISTINCT id) FROM events)
			FROM events")" "$((M_TOTAL + 20))/$((M_TOTAL + 20))"
	collector_stop
	check "copy: migrating again into the now live target is refused" \
		eval '! migrate --from "sqlite:$DB" --to "$(pg_url "$db")" >"$WORK/copy.again" 2>&1 &&
			grep -q "already holds" "$WORK/copy.again"'
}

scenario_hostile() {
	local d="$WORK/hostile" src url out
	collector_init "$d" || { not_ok "hostile: init"; return; }
	"$COLLECTOR" school add 79001 "THCS Nguyễn Du" --commune "Phường 1" --level 2 \
		--expected-pcs 60 -c "$CONF" >/dev/null || { not_ok "hostile: school"; return; }
	src="$d/eduwatch.db"
	createdb hostile || { not_ok "hostile: createdb"; return; }
	url=$(pg_url hostile)
	# said STATUS TEXT args...: exits STATUS and says TEXT on stderr.
	said() {
		local want=$1 text=$2 rc=0; shift 2
		out=$(migrate "$@" 2>&1 >/dev/null) || rc=$?
		echo "# $out" | head -2
		[ "$rc" -eq "$want" ] && grep -q "$text" <<<"$out"
	}
	head -c 4096 /dev/urandom >"$WORK/noise.db"
	check "hostile: random bytes as --from: not an eduwatch store" \
		said 3 "is not an eduwatch store" --from "sqlite:$WORK/noise.db" --to "$url"
	$PY -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE t(x)"); c.commit()' "$WORK/other.db"
	check "hostile: another program's SQLite file: not an eduwatch store" \
		said 3 "is not an eduwatch store" --from "sqlite:$WORK/other.db" --to "$url"
	check "hostile: a missing file: cannot open, and no file created" \
		eval 'said 3 "cannot open" --from "sqlite:$WORK/missing.db" --to "$url" && [ ! -e "$WORK/missing.db" ]'
	cp "$src" "$WORK/newer.db"
	$PY -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("INSERT INTO schema_version VALUES(999)"); c.commit()' "$WORK/newer.db"
	check "hostile: a store of a newer schema: refused, naming both versions" \
		said 3 "schema version 999, newer than this collector" --from "sqlite:$WORK/newer.db" --to "$url"
	cp "$src" "$WORK/unknown.db"
	$PY -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE future(x)"); c.commit()' "$WORK/unknown.db"
	check "hostile: a table this migration does not know: refused, not dropped" \
		said 3 "table future is unknown" --from "sqlite:$WORK/unknown.db" --to "$url"
	check "hostile: an unreachable PostgreSQL: cannot connect" \
		said 1 "cannot connect to PostgreSQL" --from "sqlite:$src" --to "postgresql://eduwatch@127.0.0.1:$(free_port)/x?connect_timeout=2"
	check "hostile: a bad command line: usage errors" \
		eval 'said 2 "needs --to" --from "sqlite:$src" && said 2 "needs --from sqlite:PATH" --from "$src" --to "$url"'
	check "hostile: a refused source never touched the target (no schema made)" \
		eq "$(pg_value hostile "SELECT count(*) FROM pg_tables WHERE tablename = 'schools'")" 0
	check "hostile: the store itself then migrates (1 school)" \
		eval 'migrate --from "sqlite:$src" --to "$url" | grep -q "^schools *1 *1$"'
	check "hostile: a second run into it: refused as not empty" \
		said 3 "already holds 1 rows in schools" --from "sqlite:$src" --to "$url"
}

# ---- red-team drills ----------------------------------------------------
C() { "$COLLECTOR" "$@" -c "$CONF"; }
# action NAME TARGET TECHNIQUE: a red-team action of window NAME, now.
action() {
	C drill action add --name "$1" --by org --set time="$(iso_us)" --set target="$2" \
		--set technique="$3" --set description="step $3" >/dev/null
}
# The drill rows as both stores print them: each alert's flag and
# campaign, each action.
RT_ALERTS="SELECT a.id, a.title, a.drill, coalesce(r.campaign, 0) FROM alerts a LEFT JOIN redteam_alerts r ON r.alert = a.id ORDER BY a.id"
RT_ACTIONS="SELECT id, campaign, at, target_kind, target, technique FROM redteam_actions ORDER BY id"

sq() { sqlite3 -cmd ".timeout 10000" "$DB" "$1"; } # sq SQL: on the SQLite store DB
# aged NAME: window NAME and its actions recorded an hour earlier, as in
# a store kept for a while (the store's append-only trigger set aside on
# this test's copy: nothing else can write the past).
aged() {
	sq "DROP TRIGGER IF EXISTS redteam_action_append_only;
		UPDATE redteam_actions SET at = at - 3600000000, created = created - 3600000000
		WHERE campaign = (SELECT id FROM drill_campaigns WHERE name = '$1');
		UPDATE drill_campaigns SET window_start = window_start - 7200000000 WHERE name = '$1'"
}

# redteam_source DIR: a SQLite store with schools RT1 and RT2, a
# finished red-team window (rt-done: an action, an alert) and a running
# one (rt-live: two actions, an alert of its school, one of another, and
# one raised before it opened), their actions an hour old. Sets CONF and
# DB.
redteam_source() {
	collector_init "$1" || return 1
	DB="$1/eduwatch.db"
	C school add RT1 "Trường RT1" --commune "Xã test" --level 2 --expected-pcs 1 >/dev/null &&
		C school add RT2 "Trường RT2" --commune "Xã khác" --level 2 --expected-pcs 1 >/dev/null &&
		C user add org drill_organiser >/dev/null && C user add admin province_admin >/dev/null || return 1
	sq "$(alert_sql RT1 before)" || return 1
	redteam_window_open rt-done --school RT1 && action rt-done school:RT1 T1566.001 &&
		sq "$(alert_sql RT1 done-found)" && aged rt-done &&
		C drill abort --name rt-done --by org >/dev/null || return 1
	redteam_window_open rt-live --school RT1 && action rt-live host:pc-RT1 T1204.002 &&
		action rt-live school:RT1 T1021.002 && sq "$(alert_sql RT1 live-found)" &&
		sq "$(alert_sql RT2 elsewhere)" && aged rt-live
}

scenario_redteam() {
	local d="$WORK/rt" db=redteam out
	redteam_source "$d" || { not_ok "redteam: a SQLite store with red-team windows"; return; }
	check "redteam: on SQLite, the two alerts of the windows are drills tied to them" \
		eq "$(sq "SELECT count(*) FROM redteam_alerts r JOIN alerts a ON a.id = r.alert WHERE a.drill = 1")" 2
	sq "$RT_ALERTS" >"$WORK/rt.alerts.sq"
	sq "$RT_ACTIONS" >"$WORK/rt.actions.sq"
	C drill status --name rt-live --json >"$WORK/rt.status.sq" 2>&1
	C drill status --name rt-done --json >>"$WORK/rt.status.sq" 2>&1
	createdb "$db" || { not_ok "redteam: createdb"; return; }
	check "redteam: store migrate copies a store with red-team rows" \
		eval 'migrate --from "sqlite:$DB" --to "$(pg_url "$db")" >"$WORK/rt.out" 2>&1'
	sed 's/^/# /' "$WORK/rt.out" | grep -E 'redteam|drill|^# [a-z]*:|alerts'
	check "redteam: 3 actions and 2 window alerts, counts equal" eval \
		'grep -q "^redteam_actions *3 *3$" "$WORK/rt.out" && grep -q "^redteam_alerts *2 *2$" "$WORK/rt.out"'
	check "redteam: every alert's drill flag and campaign as on SQLite (none re-judged)" \
		eq "$(pg_sql "$db" "$RT_ALERTS")" "$(cat "$WORK/rt.alerts.sq")"
	check "redteam: the actions as on SQLite" eq "$(pg_sql "$db" "$RT_ACTIONS")" "$(cat "$WORK/rt.actions.sq")"
	sed -i "s|^  # url: .*|  url: $(pg_url "$db")|" "$CONF"
	{ C drill status --name rt-live --json; C drill status --name rt-done --json; } >"$WORK/rt.status.pg" 2>&1
	check "redteam: drill status of both windows reads the same on PostgreSQL" \
		cmp -s "$WORK/rt.status.sq" "$WORK/rt.status.pg"
	# rt_insert AT CREATED: an action of rt-live straight in SQL.
	rt_insert() {
		pg_sql "$db" "INSERT INTO redteam_actions(campaign, at, target_kind, target, technique, description, recorded_by, created) SELECT id, $1, 'host', 'x', 'T1059', 'x', 'org', $2 FROM drill_campaigns WHERE name = 'rt-live'" 2>&1
	}
	local now="(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
	out=$(rt_insert "(SELECT window_start - 60000000 FROM drill_campaigns WHERE name = 'rt-live')" "$now")
	check "redteam: afterwards the target refuses an action before its window ($out)" \
		grep -q "lies in its window" <<<"$out"
	out=$(rt_insert "$now - 3600000000" "$now - 3600000000")
	check "redteam: and one recorded an hour ago ($out)" grep -q "claims a time" <<<"$out"
	pg_sql "$db" "$(alert_sql RT1 after)" >/dev/null
	check "redteam: and flags a new alert of the running window's school, tied to it" \
		eq "$(pg_sql "$db" "SELECT a.drill || '/' || r.campaign FROM alerts a JOIN redteam_alerts r ON r.alert = a.id WHERE a.title = 'after'")" \
		"1/$(pg_sql "$db" "SELECT id FROM drill_campaigns WHERE name = 'rt-live'")"
	action rt-live host:pc-RT1 T1486
	check "redteam: drill action add records into the copied running window" \
		eq "$(pg_sql "$db" "SELECT count(*) FROM redteam_actions")" 4
}

[ -n "${EW_LIST_SCENARIOS:-}" ] || pg_start || { not_ok "PostgreSQL harness start"; tap_finish; exit 1; }
# tests/chaos/store_migrate_million.sh runs these scenarios at a
# province's size: it sources this file and runs them itself.
[ -n "${EW_MIGRATE_SOURCED:-}" ] || run_scenarios
