#!/bin/bash
# Red-team windows (issue 19, item 3) against a real collector and a real
# agent: a campaign of type red-team is approved by a second person and
# opened; the red team's actions come in by `drill action add` and by a
# CSV; every alert of the window on a PC of its scope is flagged as a
# drill of the campaign; and coverage, time to detect, time to
# acknowledge and the false-alert rate equal what this script computes
# from the store under the documented rule (an alert on the action's
# target whose first time lies in [t, t + 30 min]). Hostile CSVs are
# refused whole, naming the line and the column. An action recorded
# after the alert that matches it is set apart as recorded late; claims
# too far back or ahead, and any UPDATE, are refused (CLI, console and
# the store's triggers).
# Scenarios run alone by name: make test ONLY=drill_redteam:window
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/lib_drill.bash"
AGENT="$EW_BIN/eduwatch-agent"
JSONQ="$PY $(dirname "$0")/py/jsonq.py"
D="$WORK/collector"
A="$WORK/agent"
S="$WORK/samples"
DB="$D/eduwatch.db"
mkdir -p "$A" "$S" "$WORK/nothing"
quiet_agent_set "$WORK/nothing"
C() { "$COLLECTOR" "$@" -c "$CONF"; }
q() { sqlite3 -cmd ".timeout 10000" -separator " " "$DB" "$1"; }
qe() { q "$1" 2>&1; }
# The database's clock in microseconds, as SQL.
NOW="CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)"

setup() {
	local token P="$WORK/pki"
	# A real rsyslog as the SOC, over TLS, keeping each CEF line.
	mkdir -p "$P"
	soc_pki "$P"
	rsyslog_conf "$WORK/rs" 0 "$P" '%rawmsg%\n'
	rsyslog_start || { not_ok "rsyslogd starts"; return 1; }
	collector_init "$D" || { not_ok "collector init"; return 1; }
	collector_set web.enabled=true web.port=0
	printf 'forward:\n  - name: soc\n    type: syslog\n    address: localhost:%s\n    tls: true\n    ca: %s\n' \
		"$RS_PORT" "$P/ca.crt" >>"$CONF"
	C school add RT1 "Trường RT1" --commune "Xã test" --level 2 --expected-pcs 1 >/dev/null
	collector_start "$WORK/collector.log" || { not_ok "collector start"; return 1; }
	token=$(C token create --school RT1 --uses 1 2>/dev/null)
	"$AGENT" enroll --collector "localhost:$INGEST_PORT" --enroll-port "$ENROLL_PORT" \
		--token "$token" --ca "$D/ca.crt" --state-dir "$A/state" -c "$A/agent.yaml" \
		>"$WORK/enroll.out" 2>&1
	ID=$(sed -n 's/^enrolled as agent \([^ ]*\) .*/\1/p' "$WORK/enroll.out")
	check "the agent enrolled" test -n "$ID"
	C school add RT2 "Trường RT2" --commune "Xã khác" --level 2 --expected-pcs 1 >/dev/null
	for u in "org drill_organiser" "admin province_admin" "sch school_officer RT1"; do
		C user add $u >/dev/null || not_ok "user add $u"
	done
	$PY "$(dirname "$0")/yarasamples.py" "$S" >/dev/null
	daemon_start agent "$AGENT" run -c "$A/agent.yaml" "${AGENT_SET[@]}" \
		>>"$WORK/agent.log" 2>&1 || { not_ok "the agent starts"; return 1; }
	wait_for 30 grep -q "uplink: connected" "$WORK/agent.log" || not_ok "the agent connects"
}

scenario_approval() {
	local r
	r=$(C drill plan --name rt-appr --type red-team --by org --school RT1 --expires 1h)
	check "a red-team window is planned without a scenario file ($r)" grep -q "planned (red-team, school:RT1" <<<"$r"
	r=$(C drill action add --name rt-appr --by org --set time="$(iso_us)" --set target=host:x \
		--set technique=T1078 --set description=early 2>&1)
	check "no action is recorded before the window is approved and started" grep -q "is planned" <<<"$r"
	r=$(C drill approve --name rt-appr --by org 2>&1)
	check "the planner cannot approve it" grep -q "province_admin approves" <<<"$r"
	r=$(C drill approve --name rt-appr --by sch 2>&1)
	check "a school officer cannot approve it" grep -q "only a province_admin approves" <<<"$r"
	C drill approve --name rt-appr --by admin >/dev/null
	r=$(C drill start --name rt-appr)
	check "start opens the window and sends no command ($r)" grep -q "red-team window 'rt-appr' open on school:RT1" <<<"$r"
	check "no drill command was queued" eq "$(q "SELECT count(*) FROM commands WHERE type LIKE 'drill.%'")" 0
	r=$(C drill action add --name rt-appr --by sch --set time="$(iso_us)" --set target=host:x \
		--set technique=T1078 --set description=x 2>&1)
	check "a school officer cannot record red-team actions" grep -q "recorded by a drill_organiser" <<<"$r"
	C drill abort --name rt-appr --by org >/dev/null
}

scenario_hostile_csv() {
	local F="$WORK/csv" now r n0 early
	mkdir -p "$F"
	redteam_window_open rt-csv --school RT1 || not_ok "window rt-csv opens"
	now=$(iso_us)
	h='time,target,technique,description'
	good="$now,host:pc1,T1059.001,ok"
	printf '%s\n%s\n%s\n' "$h" "$good" "$now,host:pc1,T12345,five digits" >"$F/tech5.csv"
	printf '%s\n%s\n' "$h" "$now,host:pc1,t1059,lower case" >"$F/techlower.csv"
	printf '%s\n%s\n' "$h" "$now,host:pc1,T1059.1,short sub" >"$F/techsub.csv"
	printf '%s\n%s\n' "$h" "2026-02-30T00:00:00Z,host:pc1,T1059,no such day" >"$F/day.csv"
	printf '%s\n%s\n' "$h" "$now,pc:pc1,T1059,bad target" >"$F/target.csv"
	printf '%s\n%s\n' "$h" "$now,school:../x,T1059,bad school" >"$F/school.csv"
	printf '%s\n%s\n' "$h" "$now,host:pc1,T1059,bell$(printf '\007')" >"$F/ctrl.csv"
	printf '%s\n%s\n' "$h" "$now,host:pc1,T1059" >"$F/short.csv"
	printf 'time,target,technique\n%s\n' "$now,host:pc1,T1059" >"$F/nocol.csv"
	printf '%s\n%s\n' "$h" "$now,host:pc1,T1059,\"open quote" >"$F/quote.csv"
	# Before the window opened, but recent: only the window refuses it.
	early=$(date -u -d '-10 min' +%Y-%m-%dT%H:%M:%SZ)
	printf '%s\n%s\n%s\n' "$h" "$good" "$early,host:pc1,T1059,before the window" >"$F/outside.csv"
	head -c 0 /dev/null >"$F/empty.csv"
	n0=$(q "SELECT count(*) FROM redteam_actions")
	for c in "tech5:line 3, column technique" "techlower:line 2, column technique" \
		"techsub:line 2, column technique" "day:line 2, column time" \
		"target:line 2, column target" "school:line 2, column target" \
		"ctrl:line 2, column description" "short:line 2: 3 columns" \
		"nocol:the header has no 'description'" "quote:line 2" \
		"outside:action 2: time $early lies outside the window of 'rt-csv'" "empty:the file is empty"; do
		r=$(C drill action import --name rt-csv --by org --csv "$F/${c%%:*}.csv" 2>&1)
		check "hostile CSV ${c%%:*} is refused naming ${c#*:} ($r)" eval \
			'grep -qF "${c#*:}" <<<"$r" && grep -q "nothing was recorded" <<<"$r"'
	done
	check "no hostile file left a row behind" eq "$(q "SELECT count(*) FROM redteam_actions")" "$n0"
	r=$(C drill action add --name rt-csv --by org --set time="$now" --set target=host:pc1 \
		--set technique=T1059.1 --set description=x 2>&1)
	check "drill action add checks the technique's shape" grep -q "column technique: must be a MITRE ATT&CK" <<<"$r"
	r=$(sqlite3 -cmd ".timeout 10000" "$DB" "INSERT INTO redteam_actions(campaign, at, target_kind, target, technique, description, recorded_by, created) SELECT id, window_start - 1, 'host', 'x', 'T1059', 'x', 'org', $NOW FROM drill_campaigns WHERE name='rt-csv'" 2>&1)
	check "the store itself refuses an action outside its window ($r)" grep -q "lies in its window" <<<"$r"
	C drill abort --name rt-csv --by org >/dev/null
}

bundle_version() { ls "$D"/bundles/bundle-*.ewb 2>/dev/null | sed -n 's/.*bundle-\([0-9]*\)\.ewb/\1/p' | sort -n | tail -1; }

scenario_window() {
	local T0 r J V cid
	redteam_window_open rt1 --school RT1 || not_ok "window rt1 opens"
	redteam_window_open rt-other --school RT2 || not_ok "window rt-other opens"
	cid=$(q "SELECT id FROM drill_campaigns WHERE name='rt1'")
	"$COLLECTOR" rules publish -c "$CONF" >/dev/null
	V=$(bundle_version)
	wait_event 30 "\"kind\":\"rules.update\".*\"version\":$V.*\"state\":\"installed\"" ||
		not_ok "the agent installs rule bundle $V"
	# Before any action: the web shells, found and alerted on, are the
	# window's false alerts (no action explains them).
	C command send --agent "$ID" --type scan --kind paths --path "$S/www" >/dev/null
	check "the web shells are found, before any action" \
		wait_event 30 '"kind":"agent.command".*paths scan of 1 path'
	check "and alerted on" wait_for 30 eval \
		'[ "$(q "SELECT count(*) FROM alerts WHERE agent = '"'$ID'"' AND title LIKE '"'%YARA%'"'")" -gt 0 ]'
	sleep 1
	T0=$(iso_us)
	# Action 1, on the agent by its id, is what the agent detects; action
	# 2, by school, is detected by the same alerts; action 3 is on a host
	# with no agent; action 4 comes after everything the agent reports
	# (by the CLI, one action): three of four are detected, at most.
	printf 'description,time,target,technique\n"EICAR, dropped in Downloads",%s,host:%s,T1204.002\nphishing mail to the school,%s,school:RT1,T1566.001\nSMB to the file server,%s,host:no-such-pc,T1021.002\n' \
		"$T0" "$ID" "$T0" "$T0" >"$WORK/actions.csv"
	r=$(C drill action import --name rt1 --by org --csv "$WORK/actions.csv")
	check "the CSV of three actions is recorded ($r)" grep -q "^3 red-team actions recorded in 'rt1'" <<<"$r"
	local n_before first_alert
	n_before=$(q "SELECT count(*) FROM alerts WHERE agent = '$ID'")
	C command send --agent "$ID" --type scan --kind paths --path "$S/eicar" >/dev/null
	check "the agent's scan finds EICAR" wait_event 30 '"kind":"scan.match".*eicar.com'
	check "an alert is raised for it" wait_for 30 eval \
		'[ "$(q "SELECT count(*) FROM alerts WHERE agent = '"'$ID'"'")" -gt "$n_before" ]'
	sleep 1
	first_alert=$(q "SELECT id FROM alerts WHERE agent = '$ID' ORDER BY first DESC, id DESC LIMIT 1")
	C alerts ack "$first_alert" --by sch >/dev/null
	r=$(C drill action add --name rt1 --by org --set time="$(iso_us)" --set target=host:"$ID" \
		--set technique=T1486 --set "description=encrypt the shares")
	check "drill action add records one action" grep -q "^1 red-team action recorded" <<<"$r"
	# From its start (an alert between plan and start is not the
	# exercise's: nothing runs before the approval).
	check "every alert of the window on the scope's PC since it started is a drill of rt1" eq \
		"$(q "SELECT count(*) FROM alerts a WHERE a.agent = '$ID' AND a.first >= (SELECT started FROM drill_campaigns WHERE name='rt1') AND (a.drill = 0 OR NOT EXISTS (SELECT 1 FROM redteam_alerts r WHERE r.alert = a.id AND r.campaign = $cid))")" 0
	check "the window of another school ties none of them" eq \
		"$(q "SELECT count(*) FROM redteam_alerts WHERE campaign = (SELECT id FROM drill_campaigns WHERE name='rt-other')")" 0
	check "the SOC receives the window's alerts flagged as drills of campaign $cid" wait_for 30 \
		grep -q "cs6Label=drill cs6=true cn1Label=drill_campaign cn1=$cid " "$WORK/rs/soc.log"
	check "and no alert of the window reaches it without the flag" \
		eval '! grep "cs4=$ID" "$WORK/rs/soc.log" | grep "rt=" | grep -v "cn1=$cid" | grep -q "Malware found"'
	J=$(C drill status --name rt1 --json)
	check "status is valid JSON" $PY -c 'import json,sys; json.loads(sys.argv[1])' "$J"
	$PY - "$J" "$DB" "$ID" <<'PYEOF' >"$WORK/rt.check"
import json, sqlite3, sys
j = json.loads(sys.argv[1]); db = sqlite3.connect(sys.argv[2]); agent = sys.argv[3]
c = db.execute("SELECT id, window_start, window_end FROM drill_campaigns WHERE name='rt1'").fetchone()
alerts = db.execute("SELECT a.id, a.agent, coalesce(g.hostname,''), a.school, a.first, coalesce(a.ack,0)"
                    " FROM alerts a LEFT JOIN agents g ON g.id = a.agent"
                    " WHERE a.first >= ? AND a.first < ? AND a.school = 'RT1' ORDER BY a.first, a.id",
                    (c[1], c[2])).fetchall()
actions = db.execute("SELECT at, target_kind, target FROM redteam_actions WHERE campaign = ? ORDER BY at, id",
                     (c[0],)).fetchall()
W = 30 * 60 * 1000000
def hits(act):
    at, kind, target = act
    return [a for a in alerts if at <= a[4] <= at + W and
            (a[3] == target if kind == 'school' else (a[1] == target or a[2].lower() == target.lower()))]
det, ack, matched = [], [], set()
for i, act in enumerate(actions):
    h = hits(act)
    matched |= {a[0] for a in h}
    got = j["actions"][i]
    if not h:
        assert got["alert"] is None and got["detect_ms"] is None, (i, got)
        continue
    first = min(h, key=lambda a: (a[4], a[0]))
    assert got["alert"] == first[0], (i, got, first)
    assert got["detect_ms"] == (first[4] - act[0]) // 1000, (i, got, first)
    det.append(got["detect_ms"])
    want_ack = None if first[5] == 0 else (first[5] - act[0]) // 1000
    assert got["ack_ms"] == want_ack, (i, got, first)
    if want_ack is not None: ack.append(want_ack)
def q(v, p):
    v = sorted(v)
    return v[max(0, (p * len(v) + 99) // 100 - 1)] if v else None
f = j["figures"]
assert f["actions"] == len(actions) == 4, f
assert f["detected"] == len(det), f
assert abs(f["coverage"] - len(det) / len(actions)) < 1e-4, f
assert f["alerts"] == len(alerts), f
assert f["false_alerts"] == len([a for a in alerts if a[0] not in matched]), f
assert f["detect_p50_ms"] == q(det, 50) and f["detect_p90_ms"] == q(det, 90), f
assert f["ack_p50_ms"] == q(ack, 50) and f["ack_p90_ms"] == q(ack, 90), f
print("coverage %d/%d, detect p50 %s ms, ack p50 %s ms, false %d/%d" % (
    len(det), len(actions), f["detect_p50_ms"], f["ack_p50_ms"], f["false_alerts"], f["alerts"]))
PYEOF
	check "coverage, times and false alerts equal what the test computes ($(cat "$WORK/rt.check"))" \
		grep -q "^coverage" "$WORK/rt.check"
	check "the agent's detection and the school action are both detected" \
		eval '[ "$($JSONQ get figures.detected <<<"$J")" -ge 2 ]'
	check "the undetected action is reported so" eq "$($JSONQ select actions target host:no-such-pc detect_ms <<<"$J")" "[null]"
	check "the acknowledged detection has its time to acknowledge" eval \
		'[ "$($JSONQ get figures.acknowledged <<<"$J")" -ge 1 ]'
	check "the web shells' alerts are false alerts of the window" eval \
		'[ "$($JSONQ get figures.false_alerts <<<"$J")" -ge 1 ]'
	# Once the window is over, the same finding is a real alert again,
	# not a repeat folded into the exercise's.
	C drill abort --name rt1 --by org >/dev/null
	n_before=$(q "SELECT count(*) FROM alerts WHERE agent = '$ID' AND drill = 0")
	C command send --agent "$ID" --type scan --kind paths --path "$S/eicar" >/dev/null
	check "after the window the same finding opens a real alert, not a drill's repeat" wait_for 30 eval \
		'[ "$(q "SELECT count(*) FROM alerts WHERE agent = '"'$ID'"' AND drill = 0")" -gt "$n_before" ]'
	r=$(C drill status --name rt1)
	echo "$r" | sed 's/^/# | /'
	check "the text status states the rule and the figures" eval \
		'grep -q "red team: 4 actions" <<<"$r" && grep -q "not detected" <<<"$r" && grep -q "within 1800 s" <<<"$r"'
}

# An alert opened in the store by another writer (as a second process
# on the database would), on AGENT of RT1; prints its id.
alert_on() {
	q "INSERT INTO alerts(rule, title, category, kind, dedupe_key, agent, school, severity, drill, first, last, count, state, evidence, src_ip, file_path, file_hash) VALUES('r', 'late $1', 'malware', 'scan.match', 'k-$1', '$1', 'RT1', 8, 0, $(date +%s%6N), $(date +%s%6N), 1, 'open', '{}', '', '', ''); SELECT last_insert_rowid()"
}

# Actions recorded after the alert that matches them, claims too far
# back or ahead, and an UPDATE: lib_drill.bash's checks on SQLite.
scenario_late_claims() {
	redteam_claims_checked qe "$NOW" alert_on
}

# The console's drill pages over real TLS (py/drill_console.py drives the
# HTTP side): scoping, approval by a second person, abort, red-team
# actions by form and CSV with CSRF and role checks, escaping, Vietnamese.
scenario_console() {
	local out
	wait_for 20 test -s "$D/web.port" || not_ok "the console is up"
	$PY "$(dirname "$0")/py/drill_console.py" "$COLLECTOR" "$CONF" "$D" "$(cat "$D/web.port")" \
		>"$WORK/console.check" 2>&1
	sed 's/^/# | /' "$WORK/console.check"
	for c in scope-list scope-404 school-sees-own school-cannot-approve organiser-no-approve-button \
		organiser-cannot-approve approve-needs-csrf admin-approves organiser-records-one \
		bad-csv-refused-whole csv-recorded actions-need-csrf school-cannot-record \
		planned-window-refuses-actions figures-and-escaping late-set-apart far-claims-refused \
		vietnamese injection-page organiser-aborts audited; do
		check "console: $c" grep -qx "$c ok" "$WORK/console.check"
	done
}

# The agent stopped before the script's cleanup, so that its status file
# is not written into a folder being removed.
teardown() { daemon_stop agent 20 >/dev/null; true; }

run_scenarios
