# Drill helpers shared by the red-team scripts (drill_redteam.sh on
# SQLite, drill_redteam_pg.sh on PostgreSQL). Source after lib.bash, with
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
