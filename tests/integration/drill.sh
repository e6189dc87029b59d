#!/bin/bash
# Incident drill campaigns (issue 19) across real agents on loopback: the
# second-person approval by a province_admin, the window, signed commands
# to every PC in scope and none outside it, the PCs that did not take
# part and why, the scoreboard against what this script computes from the
# store, and abort mid-campaign reaching every PC that got the injection.
. "$(dirname "$0")/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
D="$WORK/collector"
C() { "$COLLECTOR" "$@" -c "$CONF"; }

collector_init "$D" || { not_ok "collector init"; tap_finish; exit 1; }
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
declare -A AID
enroll() { # enroll NAME SCHOOL
	local tok dir="$WORK/$1"
	mkdir -p "$dir"
	tok=$(C token create --school "$2" --uses 1 2>/dev/null)
	"$AGENT" enroll --collector "localhost:$INGEST_PORT" --enroll-port "$ENROLL_PORT" \
		--token "$tok" --ca "$D/ca.crt" --state-dir "$dir/state" -c "$dir/agent.yaml" \
		>"$dir/enroll.out" 2>&1
	AID[$1]=$(sed -n 's/^enrolled as agent \([^ ]*\) .*/\1/p' "$dir/enroll.out")
	sed -i 's/interval: 60s/interval: 1s/; s/backoff_max: 5m/backoff_max: 2s/' "$dir/agent.yaml"
}
for n in "a1 A1" "a2 A1" "b1 B1" "z1 Z9" "b2 B1"; do enroll $n; done
check "five agents enrolled" eq "$(C agent list --json | grep -o '"id":' | wc -l)" 5
for n in a1 a2 b1 z1; do
	"$AGENT" run -c "$WORK/$n/agent.yaml" >>"$WORK/$n/agent.log" 2>&1 &
	PIDS+=($!)
done
for n in a1 a2 b1 z1; do
	wait_for 30 grep -q "uplink: connected" "$WORK/$n/agent.log" || not_ok "agent $n connects"
done

# ---- the scenario files are checked at load ----
R="$WORK/drills"
mkdir -p "$R"
cp "$RULES/drills/"*.yaml "$R/"
printf 'id: typo\ntitle_vi: x\ntitle_en: x\ncommand: drill.format-disk\nduration: 1m\nstages: [injected, cleaned_up]\n' >"$R/typo.yaml"
r=$(C drill plan --name t0 --type typo --by org --school A1 --expires 5m --rules "$R" 2>&1)
check "a scenario naming an unknown injection is refused at load ($r)" \
	grep -q "typo.yaml: key 'command': unknown injection" <<<"$r"
printf 'id: nostage\ntitle_vi: x\ntitle_en: x\ncommand: drill.malware-drop\nduration: 1m\nstages: [injected]\n' >"$R/nostage.yaml"
r=$(C drill plan --name t0 --type nostage --by org --school A1 --expires 5m --rules "$R" 2>&1)
check "a scenario without a verified cleanup stage is refused ($r)" grep -q "cleaned_up" <<<"$r"
r=$(C drill plan --name t0 --type ../../etc/passwd --by org --school A1 --expires 5m 2>&1)
check "a scenario id cannot climb out of rules/drills ($r)" grep -q "not a scenario id" <<<"$r"

# ---- who may plan and approve ----
r=$(C drill plan --name c1 --type malware-drop --by sch --school A1 --expires 5m 2>&1)
check "a school officer cannot plan a drill ($r)" grep -q "planned by a drill_organiser" <<<"$r"
C drill plan --name c1 --type malware-drop --by org --commune "Xã An" --expires 10m >/dev/null
check "the organiser plans a campaign over a commune" test $? -eq 0
r=$(C drill start --name c1 2>&1)
check "an unapproved campaign does not start ($r)" grep -q "only once a province_admin has approved" <<<"$r"
r=$(C drill approve --name c1 --by org 2>&1)
check "the organiser cannot approve a drill (not a province_admin) ($r)" grep -q "only a province_admin" <<<"$r"
r=$(C drill approve --name c1 --by sch 2>&1)
check "a school officer cannot approve ($r)" grep -q "only a province_admin" <<<"$r"
DB="$D/eduwatch.db"
check "the store is found ($DB)" test -f "$DB"
check "nothing was queued for an unapproved campaign" \
	eq "$(sqlite3 -cmd ".timeout 10000" "$DB" "SELECT count(*) FROM commands WHERE type LIKE 'drill.%'")" 0
C drill plan --name self --type agent-silence --by admin --school A1 --expires 10m >/dev/null
r=$(C drill approve --name self --by admin 2>&1)
check "a province_admin cannot approve a drill they planned ($r)" grep -q "second person" <<<"$r"
r=$(sqlite3 -cmd ".timeout 10000" "$DB" "UPDATE drill_campaigns SET state='approved', approver='admin' WHERE name='self'" 2>&1)
check "the store itself refuses an approval by the organiser ($r)" grep -qi "constraint" <<<"$r"
C drill approve --name c1 --by admin >/dev/null
check "a second person, a province_admin, approves" test $? -eq 0
r=$(C drill approve --name c1 --by admin2 2>&1)
check "a campaign is approved once ($r)" grep -q "is approved, not planned" <<<"$r"

# ---- the window ----
C drill plan --name late --type malware-drop --by org --school A1 --expires 1s >/dev/null
C drill approve --name late --by admin >/dev/null
sleep 2 # past the 1-second window: wall-clock time is what is tested
r=$(C drill start --name late 2>&1)
check "a campaign whose window has closed does not start ($r)" grep -q "window has closed" <<<"$r"

# ---- start: signed, expiring commands to the PCs in scope ----
# The PC that never ran has never reported: it is stale, and not sent.
r=$(C drill start --name c1)
check "the campaign starts ($r)" grep -q "started: 3 PCs get drill.malware-drop" <<<"$r"
check "one PC did not take part" grep -q "1 not taking part" <<<"$r"
q() { sqlite3 -cmd ".timeout 10000" -separator " " "$DB" "$1"; }
check "commands went to exactly the running PCs of the commune" \
	eq "$(q "SELECT agent FROM commands WHERE type='drill.malware-drop' ORDER BY agent" | tr '\n' ' ')" \
	"$(printf '%s\n' "${AID[a1]}" "${AID[a2]}" "${AID[b1]}" | sort | tr '\n' ' ')"
check "no command for the school outside the scope" \
	eq "$(q "SELECT count(*) FROM commands WHERE agent='${AID[z1]}' AND type LIKE 'drill.%'")" 0
check "each command expires with the campaign's window" \
	eq "$(q "SELECT count(*) FROM commands c, drill_campaigns d WHERE d.name='c1' AND c.type='drill.malware-drop' AND c.expires BETWEEN d.window_end - 1000000 AND d.window_end + 1000000")" 3
check "each command is signed (a frame is stored)" \
	eq "$(q "SELECT count(*) FROM commands WHERE type='drill.malware-drop' AND length(frame) > 64")" 3
r=$(C drill start --name c1 2>&1)
check "a running campaign does not start twice ($r)" grep -q "is running" <<<"$r"

# ---- timeline: the commands reach the PCs ----
delivered() { [ "$(q "SELECT count(*) FROM commands WHERE type='drill.malware-drop' AND sent IS NOT NULL")" = 3 ]; }
check "every PC in scope receives its command" wait_for 60 delivered
J=$(C drill status --name c1 --json)
check "status is valid JSON" $PY -c 'import json,sys; json.loads(sys.argv[1])' "$J"
$PY - "$J" "$DB" "${AID[b2]}" <<'PYEOF' >"$WORK/board.check"
import json, sqlite3, sys
j = json.loads(sys.argv[1])
db = sqlite3.connect(sys.argv[2])
rows = db.execute("SELECT t.school, t.command IS NOT NULL, c.issued, c.sent"
                  " FROM drill_targets t LEFT JOIN commands c ON c.id = t.command"
                  " WHERE t.campaign = (SELECT id FROM drill_campaigns WHERE name='c1')").fetchall()
def board(rs):
    d = sorted((s - i) // 1000 for _, part, i, s in rs if part and s)
    n = lambda q: d[max(0, -(-q * len(d) // 100) - 1)] if d else -1
    took = sum(1 for r in rs if r[1])
    return dict(targets=len(rs), took_part=took, delivered=len(d),
                median=n(50), p90=n(90))
want = {"province": board(rows)}
for s in sorted({r[0] for r in rows}):
    want["school:" + s] = board([r for r in rows if r[0] == s])
got = {b["scope"]: dict(targets=b["targets"], took_part=b["took_part"],
        delivered=b["delivered"], median=b["median_delivery_ms"],
        p90=b["p90_delivery_ms"]) for b in j["scoreboard"]}
print("board", "ok" if got == want else "differs: got %r want %r" % (got, want))
st = {t["agent"]: t["status"] for t in j["targets"]}
print("stale", "ok" if st.get(sys.argv[3]) == "stale" else "differs: %r" % st)
print("timeline", "ok" if all(t["queued"] and t["delivered"] for t in j["targets"]
                               if t["status"] == "queued") else "incomplete")
PYEOF
check "the scoreboard per school and province equals the store's figures ($(head -1 "$WORK/board.check"))" \
	grep -q "^board ok" "$WORK/board.check"
check "the PC that never reported is listed as stale, not sent" grep -q "^stale ok" "$WORK/board.check"
check "every sent injection has its queued and delivered times" grep -q "^timeline ok" "$WORK/board.check"
T=$(C drill status --name c1)
check "text status shows the scoreboard and the approver" \
	grep -Pzq "approver admin(.|\n)*scoreboard(.|\n)*school:A1 +2 +2 +2(.|\n)*province +4 +3 +3" <<<"$T"

# ---- abort mid-campaign ----
r=$(C drill abort --name c1 --by sch 2>&1)
check "a school officer cannot abort a province drill ($r)" grep -q "may not abort" <<<"$r"
r=$(C drill abort --name c1 --by org)
check "the organiser aborts mid-campaign ($r)" grep -q "drill.abort queued for 3 PCs" <<<"$r"
aborts() { [ "$(q "SELECT count(*) FROM commands WHERE type='drill.abort' AND sent IS NOT NULL")" = 3 ]; }
check "the abort reaches every PC that got the injection within a minute" wait_for 60 aborts
check "a finished campaign is frozen in the store" \
	grep -qi "kept as it ended" <(sqlite3 -cmd ".timeout 10000" "$DB" "UPDATE drill_campaigns SET state='running' WHERE name='c1'" 2>&1)
r=$(C drill start --name c1 2>&1)
check "an aborted campaign does not restart ($r)" grep -q "is aborted" <<<"$r"
check "status shows who aborted it" grep -q '"state":"aborted"' <(C drill status --name c1 --json)

# ---- hostile command lines ----
r=$(C drill plan --name "$(printf 'x\033[2Jy')" --type malware-drop --by org --school A1 --expires 5m 2>&1)
check "a campaign name with terminal escapes is refused" grep -q "printable" <<<"$r"
r=$(C drill plan --name far --type malware-drop --by org --school A1 --expires 400d 2>&1)
check "a window beyond 30 days is refused" grep -q "up to 30d" <<<"$r"
r=$(C drill status --name nosuch 2>&1); rc=$?
check "status of an unknown campaign exits 4 ($r)" eq "$rc" 4

collector_stop
tap_finish
