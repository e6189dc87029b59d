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

# redteam_claims_checked SQL NOW ALERT: late and far claims, the same on
# both stores (drill_redteam.sh, drill_redteam_pg.sh). SQL runs one
# statement on the store and prints its output and errors; NOW is the
# store's clock in microseconds, as SQL; ALERT AGENT opens an alert on
# AGENT of school RT1 the way another collector's writer does (the
# window's trigger flags it) and prints its id.
redteam_claims_checked() {
	local sql=$1 now=$2 alert=$3 cid T0 r J late_alert n0 id past
	redteam_window_open rt-late --school RT1 || not_ok "window rt-late opens"
	cid=$($sql "SELECT id FROM drill_campaigns WHERE name='rt-late'")
	T0=$(iso_us)
	"$COLLECTOR" drill action add --name rt-late --by org --set time="$T0" --set target=host:pc-timely \
		--set technique=T1059.001 --set description=timely -c "$CONF" >/dev/null
	sleep 0.1
	$alert pc-timely >/dev/null
	# The organiser sees this alert first, then writes an action that
	# "explains" it, claiming a time before it.
	late_alert=$($alert pc-late)
	r=$("$COLLECTOR" drill action add --name rt-late --by org --set time="$T0" --set target=host:pc-late \
		--set technique=T1486 --set description=late -c "$CONF")
	check "an action written after its alert is recorded but said to be late ($r)" \
		grep -q "1 of them recorded late" <<<"$r"
	J=$("$COLLECTOR" drill status --name rt-late --json -c "$CONF")
	check "status sets it apart: not a detection, out of the coverage, its alert still a false alert" \
		$PY -c 'import json,sys
j = json.loads(sys.argv[1]); f = j["figures"]; a = {x["target"]: x for x in j["actions"]}
assert f["actions"] == 2 and f["recorded_late"] == 1 and f["detected"] == 1 and f["coverage"] == 1, f
assert a["host:pc-late"]["recorded_late"] and a["host:pc-late"]["detect_ms"] is None, a
assert a["host:pc-late"]["alert"] == int(sys.argv[2]), a
assert not a["host:pc-timely"]["recorded_late"] and a["host:pc-timely"]["detect_ms"] is not None, a
assert f["alerts"] >= 2 and f["false_alerts"] == f["alerts"] - 1, f' "$J" "$late_alert"
	r=$("$COLLECTOR" drill status --name rt-late -c "$CONF")
	check "the text status says so" grep -q "recorded late: alert $late_alert" <<<"$r"
	n0=$($sql "SELECT count(*) FROM redteam_actions WHERE campaign = $cid")
	r=$("$COLLECTOR" drill action add --name rt-late --by org --set time="$(date -u -d '+30 min' +%Y-%m-%dT%H:%M:%SZ)" \
		--set target=host:pc1 --set technique=T1059 --set description=ahead -c "$CONF" 2>&1)
	check "a claim 30 minutes ahead is refused ($r)" eval \
		'grep -q "lies in the future" <<<"$r" && grep -q "nothing was recorded" <<<"$r"'
	# A window open for a day and more, so that only the claim's age
	# refuses what follows.
	$sql "UPDATE drill_campaigns SET window_start = window_start - 26 * 3600000000 WHERE id = $cid" >/dev/null
	past=$(date -u -d '-5 hours' +%Y-%m-%dT%H:%M:%SZ)
	r=$("$COLLECTOR" drill action add --name rt-late --by org --set time="$past" \
		--set target=host:pc1 --set technique=T1059 --set description=old -c "$CONF" 2>&1)
	check "a claim 5 hours old is refused under the default grace of 4h ($r)" eval \
		'grep -q "more than drill.redteam_grace ago" <<<"$r" && grep -q "nothing was recorded" <<<"$r"'
	check "neither left a row" eq "$($sql "SELECT count(*) FROM redteam_actions WHERE campaign = $cid")" "$n0"
	r=$("$COLLECTOR" drill action add --name rt-late --by org --set time="$past" \
		--set target=host:pc1 --set technique=T1059 --set description=old -c "$CONF" -o drill.redteam_grace=6h 2>&1)
	check "with drill.redteam_grace at 6h it is recorded ($r)" grep -q "^1 red-team action recorded" <<<"$r"
	r=$("$COLLECTOR" drill status --name rt-late -c "$CONF" -o drill.redteam_grace=25h 2>&1)
	check "a grace over 24h is refused with a clear error ($r)" \
		grep -q "key 'drill.redteam_grace' is 90000s; it must lie between 1m and 24h" <<<"$r"
	# Behind the CLI's back, straight in SQL: the store's own triggers.
	ins() { # ins AT CREATED
		$sql "INSERT INTO redteam_actions(campaign, at, target_kind, target, technique, description, recorded_by, created) VALUES($cid, $1, 'host', 'x', 'T1059', 'x', 'org', $2)"
	}
	n0=$($sql "SELECT count(*) FROM redteam_actions WHERE campaign = $cid")
	r=$(ins "$now - 25 * 3600000000" "$now")
	check "the store refuses a claim 25 h before its recording ($r)" grep -q "at most 24 h" <<<"$r"
	r=$(ins "$now + 600000000" "$now")
	check "the store refuses a claim 10 minutes ahead ($r)" grep -q "at most 24 h" <<<"$r"
	r=$(ins "$now - 7200000000" "$now - 7200000000")
	check "the store refuses a recording time written 2 h back ($r)" grep -q "at most 24 h" <<<"$r"
	check "none of them is stored" eq "$($sql "SELECT count(*) FROM redteam_actions WHERE campaign = $cid")" "$n0"
	id=$($sql "SELECT id FROM redteam_actions WHERE campaign = $cid AND target = 'pc-late'")
	r=$($sql "UPDATE redteam_actions SET created = at WHERE id = $id")
	check "the store refuses an UPDATE of an action ($r)" grep -q "append-only" <<<"$r"
	J=$("$COLLECTOR" drill status --name rt-late --json -c "$CONF")
	check "and the late action is still late" eq "$($PY -c 'import json,sys; print(json.loads(sys.argv[1])["figures"]["recorded_late"])' "$J")" 1
	# The report's drills section scores the window the same way.
	local year
	year=$(date -u +%Y)
	[ "$(date -u +%m)" = 12 ] && year=$((year + 1))
	"$COLLECTOR" report export --period "$year" --scope province --format json --out "$WORK/rt-report.json" \
		-c "$CONF" >/dev/null 2>"$WORK/rt-report.err" || not_ok "report export ($(cat "$WORK/rt-report.err"))"
	check "the report's red-team table lists the late action apart ($(grep -o '"rt-late"[^]]*' "$WORK/rt-report.json"))" \
		$PY -c 'import json,sys
m = json.load(open(sys.argv[1]))
t = {t["key"]: t for s in m["sections"] for t in s["tables"]}["redteam"]
r = [r for r in t["rows"] if r[0] == "rt-late"]
assert len(r) == 1 and r[0][2:5] == [3, 1, 1], r' "$WORK/rt-report.json"
	"$COLLECTOR" drill abort --name rt-late --by org -c "$CONF" >/dev/null
}
