#!/bin/bash
# Red-team windows on a PostgreSQL 15 store (started in a temp dir by
# tests/support/pg_harness.sh), through the collector's own CLI, with
# every rule checked in the database behind it: drill_redteam.sh covers
# the window end to end (a real agent, a real SOC) on SQLite; this is
# the part that stands on PostgreSQL's own tables and triggers:
#  - actions: a CSV import is all or none, `drill action add` records
#    one, and the database refuses an action outside its window written
#    behind the CLI's back;
#  - alerts: an alert opened in the database by any writer (here psql,
#    as a second collector would) on a PC of a running window's scope is
#    a drill tied to that window, one of another school is not, and
#    `drill status --json` scores the window's actions against them;
#  - late and far claims: an action recorded after its alert is set
#    apart, and the triggers refuse far claims and any UPDATE.
# Scenarios: make test ONLY=drill_redteam_pg:actions
# Release only: the store calls under it run under ASan in test_store on
# both backends; this adds the CLI's wiring to them on PostgreSQL.
# ew-variants: release
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/lib_drill.bash"
. "$(dirname "$0")/lib_pg.bash"
D="$WORK/collector"

C() { "$COLLECTOR" "$@" -c "$CONF"; }
db() { pg_sql "$PG_DB" "$1" 2>&1; }
# The database's clock in microseconds, as SQL.
NOW="(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"

setup() {
	pg_start || { not_ok "PostgreSQL starts"; return 1; }
	collector_init "$D" && collector_use_pg "$D" || { not_ok "collector init on PostgreSQL"; return 1; }
	C school add RT1 "Trường RT1" --commune "Xã test" --level 2 --expected-pcs 1 >/dev/null &&
		C school add RT2 "Trường RT2" --commune "Xã khác" --level 2 --expected-pcs 1 >/dev/null ||
		not_ok "schools added"
	for u in "org drill_organiser" "admin province_admin"; do
		C user add $u >/dev/null || not_ok "user add $u"
	done
}

scenario_actions() {
	local now r n0
	redteam_window_open rt-a --school RT1 || not_ok "window rt-a opens"
	now=$(iso_us)
	printf 'time,target,technique,description\n%s,host:pc1,T1059.001,ok\n2020-01-01T00:00:00Z,host:pc1,T1059,before the window\n' \
		"$now" >"$WORK/outside.csv"
	r=$(C drill action import --name rt-a --by org --csv "$WORK/outside.csv" 2>&1)
	check "a file with one action outside the window records nothing ($r)" grep -q "nothing was recorded" <<<"$r"
	check "no row of it is in the database" eq "$(db "SELECT count(*) FROM redteam_actions")" 0
	printf 'technique,time,target,description\nT1566.001,%s,school:RT1,"phishing, to the school"\nT1021.002,%s,host:pc9,SMB\n' \
		"$now" "$now" >"$WORK/two.csv"
	r=$(C drill action import --name rt-a --by org --csv "$WORK/two.csv")
	check "a CSV of two actions is recorded ($r)" grep -q "^2 red-team actions recorded in 'rt-a'" <<<"$r"
	r=$(C drill action add --name rt-a --by org --set time="$(iso_us)" --set target=host:pc1 \
		--set technique=T1486 --set "description=encrypt the shares")
	check "drill action add records one ($r)" grep -q "^1 red-team action recorded" <<<"$r"
	check "the three are in PostgreSQL, in time order" eq \
		"$(db "SELECT string_agg(technique, ' ' ORDER BY at, id) FROM redteam_actions")" "T1566.001 T1021.002 T1486"
	n0=$(db "SELECT count(*) FROM redteam_actions")
	r=$(db "INSERT INTO redteam_actions(campaign, at, target_kind, target, technique, description, recorded_by, created) SELECT id, window_start - 1, 'host', 'x', 'T1059', 'x', 'org', $NOW FROM drill_campaigns WHERE name='rt-a'")
	check "the database itself refuses an action outside its window ($r)" grep -q "lies in its window" <<<"$r"
	check "and kept nothing of it" eq "$(db "SELECT count(*) FROM redteam_actions")" "$n0"
	C drill abort --name rt-a --by org >/dev/null
}

# alert_on SCHOOL TITLE: an alert opened straight in the database, as
# another collector's writer opens one; prints its id and drill flag.
alert_on() { db "$(alert_sql "$1" "$2") RETURNING id, drill" | head -1; }

scenario_alerts() {
	local T0 cid r J one two
	redteam_window_open rt-b --school RT1 || not_ok "window rt-b opens"
	cid=$(db "SELECT id FROM drill_campaigns WHERE name='rt-b'")
	T0=$(iso_us)
	r=$(C drill action add --name rt-b --by org --set time="$T0" --set target=school:RT1 \
		--set technique=T1204.002 --set "description=EICAR dropped")
	check "an action on the school is recorded" grep -q "^1 red-team action recorded" <<<"$r"
	sleep 0.1
	one=$(alert_on RT1 found)
	two=$(alert_on RT2 elsewhere)
	check "an alert of the window's school is flagged a drill as it is opened ($one)" eq "${one#*|}" 1
	check "and tied to the window" eq "$(db "SELECT campaign FROM redteam_alerts WHERE alert = ${one%%|*}")" "$cid"
	check "an alert of another school is not ($two)" eval \
		'[ "${two#*|}" = 0 ] && [ "$(db "SELECT count(*) FROM redteam_alerts WHERE alert = ${two%%|*}")" = 0 ]'
	J=$(C drill status --name rt-b --json)
	check "status scores the action as detected by that alert" eval \
		'$PY -c "import json,sys; j=json.loads(sys.argv[1]); f=j[\"figures\"]; assert f[\"actions\"] == 1 and f[\"detected\"] == 1 and f[\"alerts\"] == 1 and f[\"false_alerts\"] == 0, f; assert j[\"actions\"][0][\"alert\"] == int(sys.argv[2]), j" "$J" "${one%%|*}"'
	C drill abort --name rt-b --by org >/dev/null
	r=$(alert_on RT1 after)
	check "after the abort a new alert of the school is a real one ($r)" eq "${r#*|}" 0
}

# alert_on_pc AGENT: an alert on AGENT of RT1, as alert_on; prints its id.
alert_on_pc() {
	db "INSERT INTO alerts(rule, title, category, kind, dedupe_key, agent, school, severity, drill, first, last, count, state, evidence, src_ip, file_path, file_hash) VALUES('r', 'late $1', 'malware', 'scan.match', 'k-$1', '$1', 'RT1', 8, 0, $(date +%s%6N), $(date +%s%6N), 1, 'open', '{}', '', '', '') RETURNING id" | head -1
}

# Late actions, far claims and an UPDATE, as on SQLite (lib_drill.bash),
# refused here by PostgreSQL's triggers.
scenario_late_claims() {
	redteam_claims_checked db "$NOW" alert_on_pc
}

run_scenarios
