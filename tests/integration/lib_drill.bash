# Drill helpers shared by the red-team scripts (drill_redteam.sh on
# SQLite, drill_redteam_pg.sh on PostgreSQL, store_migrate_pg.sh's copy). Source after lib.bash, with
# CONF set (collector_init) and the users "org" (drill_organiser) and
# "admin" (province_admin) added.

# redteam_window_open NAME SCOPE...: a red-team window of an hour,
# planned by org, approved by admin and started.
redteam_window_open() {
	local name=$1
	shift
	"$COLLECTOR" drill plan --name "$name" --type red-team --by org "$@" --expires 1h -c "$CONF" >/dev/null &&
		"$COLLECTOR" drill approve --name "$name" --by admin -c "$CONF" >/dev/null &&
		"$COLLECTOR" drill start --name "$name" -c "$CONF" >/dev/null
}

# iso_us: now in the CLI's time format, to the microsecond.
iso_us() { $PY -c 'import datetime; print(datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))'; }

# alert_sql SCHOOL TITLE: the INSERT of an alert opened now on a PC of
# SCHOOL, as a collector's writer opens one (the store's window triggers
# judge it); either store takes it.
alert_sql() {
	echo "INSERT INTO alerts(rule, title, category, kind, dedupe_key, agent, school, severity, drill, first, last, count, state, evidence, src_ip, file_path, file_hash) VALUES('r', '$2', 'malware', 'scan.match', 'k-$2', 'pc-$1', '$1', 8, 0, $(date +%s%6N), $(date +%s%6N), 1, 'open', '{}', '', '', '')"
}
