#!/bin/bash
# Incident drill campaigns (issue 19) across real agents on loopback: the
# second-person approval by a province_admin, the window, signed commands
# to every PC in scope and none outside it, the PCs that did not take
# part and why, the scoreboard against what this script computes from the
# store, and abort mid-campaign reaching every PC that got the injection.
# Scenarios run alone by name: make test ONLY=drill:campaign
. "$(dirname "$0")/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
D="$WORK/collector"
C() { "$COLLECTOR" "$@" -c "$CONF"; }

q() { sqlite3 -cmd ".timeout 10000" -separator " " "$DB" "$1"; }
DB="$D/eduwatch.db"
R="$WORK/drills"
declare -A AID APID
enroll() { # enroll NAME SCHOOL
	local tok dir="$WORK/$1"
	mkdir -p "$dir"
	tok=$(C token create --school "$2" --uses 1 2>/dev/null)
	"$AGENT" enroll --collector "localhost:$INGEST_PORT" --enroll-port "$ENROLL_PORT" \
		--token "$tok" --ca "$D/ca.crt" --state-dir "$dir/state" -c "$dir/agent.yaml" \
		>"$dir/enroll.out" 2>&1
	AID[$1]=$(sed -n 's/^enrolled as agent \([^ ]*\) .*/\1/p' "$dir/enroll.out")
	sed -i 's/interval: 60s/interval: 1s/; s/backoff_max: 5m/backoff_max: 2s/' "$dir/agent.yaml"
	# The agent's own drill folder; the AV gets 20 s, so that an abort
	# lands mid-injection.
	printf 'drill:\n  folder: %s\n  av_wait: 20s\n' "$dir/drillbox" >>"$dir/agent.yaml"
}
run_agent() {
	"$AGENT" run -c "$WORK/$1/agent.yaml" >>"$WORK/$1/agent.log" 2>&1 &
	PIDS+=($!)
	APID[$1]=$!
}

setup() {
	collector_init "$D" || { not_ok "collector init"; return 1; }
	C school add A1 "Trường A1" --commune "Xã An" --level 2 --expected-pcs 2 >/dev/null
	C school add B1 "Trường B1" --commune "Xã An" --level 2 --expected-pcs 1 >/dev/null
	C school add Z9 "Trường Z9" --commune "Xã Khác" --level 2 --expected-pcs 1 >/dev/null
	for u in "org drill_organiser" "admin province_admin" "admin2 province_admin" \
		"sch school_officer A1"; do
		C user add $u >/dev/null || not_ok "user add $u"
	done
	collector_start "$WORK/collector.log" || not_ok "collector start"

	# Real agents: two in A1, one in B1 (same commune), one in Z9 (outside
	# the scope), and one enrolled in B1 that never runs (stale).
	for n in "a1 A1" "a2 A1" "b1 B1" "z1 Z9" "b2 B1"; do enroll $n; done
	check "five agents enrolled" eq "$(C agent list --json | grep -o '"id":' | wc -l)" 5
	for n in a1 a2 b1 z1; do run_agent $n; done
	for n in a1 a2 b1 z1; do
		wait_for 30 grep -q "uplink: connected" "$WORK/$n/agent.log" || not_ok "agent $n connects"
	done
	mkdir -p "$R"
	cp "$RULES/drills/"*.yaml "$R/"
}

# ---- the scenario files are checked at load ----
scenario_scenario_files() {
	printf 'id: typo\ntitle_vi: x\ntitle_en: x\ncommand: drill.format-disk\nduration: 1m\nstages: [injected, cleaned_up]\n' >"$R/typo.yaml"
	r=$(C drill plan --name t0 --type typo --by org --school A1 --expires 5m --rules "$R" 2>&1)
	check "a scenario naming an unknown injection is refused at load ($r)" \
		grep -q "typo.yaml: key 'command': unknown injection" <<<"$r"
	printf 'id: nostage\ntitle_vi: x\ntitle_en: x\ncommand: drill.malware-drop\nduration: 1m\nstages: [injected]\n' >"$R/nostage.yaml"
	r=$(C drill plan --name t0 --type nostage --by org --school A1 --expires 5m --rules "$R" 2>&1)
	check "a scenario without a verified cleanup stage is refused ($r)" grep -q "cleaned_up" <<<"$r"
	r=$(C drill plan --name t0 --type ../../etc/passwd --by org --school A1 --expires 5m 2>&1)
	check "a scenario id cannot climb out of rules/drills ($r)" grep -q "not a scenario id" <<<"$r"
}

# A drill command that is not a campaign's (sent by hand, no approval in
# it) is refused by the agent itself.
scenario_no_campaign() {
	C command send --agent "${AID[z1]}" --type drill.malware-drop >/dev/null
	zev() { C events list --agent "${AID[z1]}" --limit 100 --json | grep -q "$1"; }
	check "the agent refuses a drill command of no approved campaign" \
		wait_for 30 zev '"type":"drill.malware-drop","ok":false,"msg":"refused: not a drill campaign'
	check "and wrote nothing" test -z "$(ls -A "$WORK/z1/drillbox" 2>/dev/null)"
}

scenario_self_approval() {
	C drill plan --name self --type agent-silence --by admin --school A1 --expires 10m >/dev/null
	r=$(C drill approve --name self --by admin 2>&1)
	check "a province_admin cannot approve a drill they planned ($r)" grep -q "second person" <<<"$r"
	r=$(sqlite3 -cmd ".timeout 10000" "$DB" "UPDATE drill_campaigns SET state='approved', approver='admin' WHERE name='self'" 2>&1)
	check "the store itself refuses an approval by the organiser ($r)" grep -qi "constraint" <<<"$r"
}

# ---- the window ----
scenario_window() {
	C drill plan --name late --type malware-drop --by org --school A1 --expires 1s >/dev/null
	C drill approve --name late --by admin >/dev/null
	sleep 2 # past the 1-second window: wall-clock time is what is tested
	r=$(C drill start --name late 2>&1)
	check "a campaign whose window has closed does not start ($r)" grep -q "window has closed" <<<"$r"
}

# ---- one campaign over a commune: who may plan and approve, start,
# the timeline, abort mid-campaign, the scoreboard ----
scenario_campaign() {
	r=$(C drill plan --name c1 --type malware-drop --by sch --school A1 --expires 5m 2>&1)
	check "a school officer cannot plan a drill ($r)" grep -q "planned by a drill_organiser" <<<"$r"
	r=$(C drill plan --name c1 --type malware-drop --by org --commune "Xã An" --expires 10m)
	check "the organiser plans a campaign over a commune" test $? -eq 0
	CID=$(sed -n 's/^drill \([0-9]*\) .*/\1/p' <<<"$r")
	# A link planted in b1's drill folder under the sample's name, pointing
	# out of it: the agent must refuse, never write through it.
	mkdir -p -m 700 "$WORK/b1/drillbox" "$WORK/outside"
	ln -s "$WORK/outside/victim.com" "$WORK/b1/drillbox/eduwatch-drill-$CID.com"
	r=$(C drill start --name c1 2>&1)
	check "an unapproved campaign does not start ($r)" grep -q "only once a province_admin has approved" <<<"$r"
	r=$(C drill approve --name c1 --by org 2>&1)
	check "the organiser cannot approve a drill (not a province_admin) ($r)" grep -q "only a province_admin" <<<"$r"
	r=$(C drill approve --name c1 --by sch 2>&1)
	check "a school officer cannot approve ($r)" grep -q "only a province_admin" <<<"$r"
	check "the store is found ($DB)" test -f "$DB"
	check "nothing was queued for an unapproved campaign" \
		eq "$(q "SELECT count(*) FROM commands WHERE type LIKE 'drill.%' AND id IN (SELECT command FROM drill_targets)")" 0
	C drill approve --name c1 --by admin >/dev/null
	check "a second person, a province_admin, approves" test $? -eq 0
	r=$(C drill approve --name c1 --by admin2 2>&1)
	check "a campaign is approved once ($r)" grep -q "is approved, not planned" <<<"$r"


	# ---- start: signed, expiring commands to the PCs in scope ----
	# The PC that never ran has never reported: it is stale, and not sent.
	r=$(C drill start --name c1)
	check "the campaign starts ($r)" grep -q "started: 3 PCs get drill.malware-drop" <<<"$r"
	check "one PC did not take part" grep -q "1 not taking part" <<<"$r"
	check "commands went to exactly the running PCs of the commune" \
		eq "$(q "SELECT agent FROM commands WHERE type='drill.malware-drop' AND id IN (SELECT command FROM drill_targets) ORDER BY agent" | tr '\n' ' ')" \
		"$(printf '%s\n' "${AID[a1]}" "${AID[a2]}" "${AID[b1]}" | sort | tr '\n' ' ')"
	check "no command for the school outside the scope" \
		eq "$(q "SELECT count(*) FROM drill_targets WHERE agent='${AID[z1]}'")" 0
	check "each command expires with the campaign's window" \
		eq "$(q "SELECT count(*) FROM commands c, drill_campaigns d WHERE d.name='c1' AND c.type='drill.malware-drop' AND c.id IN (SELECT command FROM drill_targets WHERE campaign=d.id) AND c.expires = d.window_end")" 3
	check "each command is signed (a frame is stored)" \
		eq "$(q "SELECT count(*) FROM commands WHERE type='drill.malware-drop' AND id IN (SELECT command FROM drill_targets) AND length(frame) > 64")" 3
	r=$(C drill start --name c1 2>&1)
	check "a running campaign does not start twice ($r)" grep -q "is running" <<<"$r"

	# ---- timeline: the commands reach the PCs ----
	delivered() { [ "$(q "SELECT count(*) FROM commands WHERE type='drill.malware-drop' AND id IN (SELECT command FROM drill_targets) AND sent IS NOT NULL")" = 3 ]; }
	check "every PC in scope receives its command" wait_for 60 delivered
	ev() { C events list --agent "${AID[$1]}" --limit 200 --json | grep -q "$2"; }
	for n in a1 a2; do
		check "$n injects the sample and the marker in its drill folder" wait_for 60 ev $n '"kind":"drill.injected"'
		check "$n's sample is EICAR, only inside the drill folder" \
			grep -q 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE' "$WORK/$n/drillbox/eduwatch-drill-$CID.com"
	done
	check "b1 refuses to write through a planted symlink" \
		wait_for 60 ev b1 '"type":"drill.malware-drop","ok":false,"msg":"refused: cannot create'
	check "nothing was written where the link pointed" test ! -e "$WORK/outside/victim.com"
	check "the planted link itself is left alone" test -L "$WORK/b1/drillbox/eduwatch-drill-$CID.com"

	# ---- abort mid-campaign (the AV's 20 s have not passed) ----
	r=$(C drill abort --name c1 --by sch 2>&1)
	check "a school officer cannot abort a province drill ($r)" grep -q "may not abort" <<<"$r"
	r=$(C drill abort --name c1 --by org)
	check "the organiser aborts mid-campaign ($r)" grep -q "drill.abort queued for 3 PCs" <<<"$r"
	aborts() { [ "$(q "SELECT count(*) FROM commands WHERE type='drill.abort' AND sent IS NOT NULL")" = 3 ]; }
	check "the abort reaches every PC that got the injection within a minute" wait_for 60 aborts
	for n in a1 a2; do
		check "$n cleans up and verifies it" wait_for 30 ev $n '"kind":"drill.cleaned_up".*"verified":true'
		check "$n's drill folder is empty after cleanup" test -z "$(ls -A "$WORK/$n/drillbox")"
	done
	J=$(C drill status --name c1 --json)
	check "status is valid JSON" $PY -c 'import json,sys; json.loads(sys.argv[1])' "$J"
	$PY - "$J" "$DB" "${AID[b2]}" "${AID[b1]}" <<'PYEOF' >"$WORK/board.check"
import json, sqlite3, sys
j = json.loads(sys.argv[1])
db = sqlite3.connect(sys.argv[2])
rows = db.execute("SELECT t.school, t.command IS NOT NULL OR t.abort_command IS NOT NULL, c.issued,"
                  " (SELECT min(ts) FROM events e WHERE e.agent = t.agent AND e.kind = 'drill.injected'"
                  "  AND e.ts >= c.issued - 1000000),"
                  " (SELECT min(ts) FROM events e WHERE e.agent = t.agent AND e.kind = 'drill.cleaned_up'"
                  "  AND e.ts >= c.issued - 1000000)"
                  " FROM drill_targets t LEFT JOIN commands c ON c.id = t.command"
                  " WHERE t.campaign = (SELECT id FROM drill_campaigns WHERE name='c1')").fetchall()
def stage(rs, col):
    part = [r for r in rs if r[1]]
    d = sorted((r[col] - r[2]) // 1000 for r in part if r[col])
    n = lambda q: d[max(0, -(-q * len(d) // 100) - 1)] if d else -1
    return dict(reached=len(d), median=n(50), p90=n(90))
def board(rs):
    return dict(targets=len(rs), took_part=sum(1 for r in rs if r[1]),
                injected=stage(rs, 3), cleaned_up=stage(rs, 4))
want = {"province": board(rows)}
for s in sorted({r[0] for r in rows}):
    want["school:" + s] = board([r for r in rows if r[0] == s])
got = {}
for b in j["scoreboard"]:
    g = dict(targets=b["targets"], took_part=b["took_part"])
    for k in ("injected", "cleaned_up"):
        x = b["stages"][k]
        g[k] = dict(reached=x["reached"], median=x["median_ms"], p90=x["p90_ms"])
    got[b["scope"]] = g
print("board", "ok" if got == want else "differs: got %r want %r" % (got, want))
st = {t["agent"]: t for t in j["targets"]}
print("stale", "ok" if st[sys.argv[3]]["status"] == "stale" else "differs")
ok = [t for t in j["targets"] if t["agent"] not in (sys.argv[3], sys.argv[4])]
print("timeline", "ok" if len(ok) == 2 and all(t["queued"] and t["delivered"] and
      t["timeline"]["injected"] and t["timeline"]["cleaned_up"] and t["cleanup_verified"]
      for t in ok) else "incomplete: %r" % ok)
print("refused", "ok" if st[sys.argv[4]]["timeline"]["injected"] is None else "differs")
PYEOF
	check "the scoreboard per school and province equals the store's figures ($(head -1 "$WORK/board.check"))" \
		grep -q "^board ok" "$WORK/board.check"
	check "the PC that never reported is listed as stale, not sent" grep -q "^stale ok" "$WORK/board.check"
	check "each injection's timeline has queued, delivered, injected and a verified cleanup" grep -q "^timeline ok" "$WORK/board.check"
	check "the PC that refused (planted link) has no injected stage" grep -q "^refused ok" "$WORK/board.check"
	T=$(C drill status --name c1)
	check "text status shows the approver, the timelines and the scoreboard" \
		grep -Pzq "approver admin(.|\n)*cleaned_up +20(.|\n)*scoreboard(.|\n)*school:A1 +targets 2, took part 2(.|\n)*province +targets 4, took part 3" <<<"$T"

	check "a finished campaign is frozen in the store" \
		grep -qi "kept as it ended" <(sqlite3 -cmd ".timeout 10000" "$DB" "UPDATE drill_campaigns SET state='running' WHERE name='c1'" 2>&1)
	r=$(C drill start --name c1 2>&1)
	check "an aborted campaign does not restart ($r)" grep -q "is aborted" <<<"$r"
	check "status shows who aborted it" grep -q '"state":"aborted"' <(C drill status --name c1 --json)
}

# ---- hostile command lines ----
scenario_hostile_cli() {
	r=$(C drill plan --name "$(printf 'x\033[2Jy')" --type malware-drop --by org --school A1 --expires 5m 2>&1)
	check "a campaign name with terminal escapes is refused" grep -q "printable" <<<"$r"
	r=$(C drill plan --name far --type malware-drop --by org --school A1 --expires 400d 2>&1)
	check "a window beyond the agents' 7-day command limit is refused" grep -q "up to 7d" <<<"$r"
	r=$(C drill status --name nosuch 2>&1); rc=$?
	check "status of an unknown campaign exits 4 ($r)" eq "$rc" 4
}

teardown() { collector_stop; }

run_scenarios
