#!/bin/bash
# The ransomware-sim drill (issue 19) over a real agent, a real collector
# and a real HTTPS SOC receiver on loopback: documents in the agent's
# drill folder, after drill.sim_dwell, rewritten with random bytes and
# renamed *.locked at ransomware speed; the agent's own ransomware
# detector (agent/ransom, watching the drill folder) fires; the drill
# alert reaches the SOC; the cleanup is verified; the timeline shows
# injected, detected, alert raised, forwarded and cleaned up. Then a
# canary touched in a user's watched folder: a real (non-drill) alert at
# once. Hostile: a hand-made ransomware-sim command of no campaign is
# refused; a link in the drill folder under a document's name is never
# written through.
# Scenarios run alone by name: make test ONLY=drill_ransom:canary
. "$(dirname "$0")/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
D="$WORK/collector"
A="$WORK/agent"
P="$WORK/pki"
C() { "$COLLECTOR" "$@" -c "$CONF"; }
q() { sqlite3 -cmd ".timeout 10000" -separator " " "$DB" "$1"; }
ev() { C events list --agent "$ID" --limit 300 --json | grep -q "$1"; }
quiet_agent_set "$WORK/nothing"
AGENT_SET+=(-o uplink.backoff_max=2s
	-o drill.folder="$A/drillbox" -o drill.sim_dwell=3s -o drill.av_wait=3s
	-o ransom.folders="$WORK/docs" -o ransom.window=2s)

setup() {
	mkdir -p "$A" "$P" "$WORK/docs"
	soc_pki "$P"
	https_receiver SOC1 "$P/soc.crt" "$P/soc.key" "$WORK/soc1.log" tok-one 0 ||
		{ not_ok "the SOC receiver starts"; return 1; }
	collector_init "$D" || { not_ok "collector init"; return 1; }
	{ echo "forward:"; https_forward_yaml soc-one "$SOC1" tok-one "$P/ca.crt"; } >>"$CONF"
	DB="$D/eduwatch.db"
	C school add R1 "Trường R1" --commune "Xã Diễn Tập" --level 2 --expected-pcs 1 >/dev/null
	C user add org drill_organiser >/dev/null
	C user add admin province_admin >/dev/null
	collector_start "$WORK/collector.log" || { not_ok "collector start"; return 1; }
	check "the agent enrolled" agent_enroll R1 "$A"
	DAEMON_KEEP=1 daemon_start agent "$AGENT" run -c "$A/agent.yaml" "${AGENT_SET[@]}" \
		>>"$WORK/agent.log" 2>&1 || { not_ok "the agent starts"; return 1; }
	wait_for 40 grep -q "uplink: connected" "$WORK/agent.log" || { not_ok "the agent connects"; return 1; }
	wait_for 20 grep -q "ransom: watching 2 folders" "$WORK/agent.log" ||
		{ not_ok "the detector watches the docs and the drill folder ($(grep ransom: "$WORK/agent.log"))"; return 1; }
}

scenario_ransomware_sim() {
	C drill plan --name rs1 --type ransomware-sim --by org --school R1 --expires 10m >/dev/null
	C drill approve --name rs1 --by admin >/dev/null
	local r
	r=$(C drill start --name rs1)
	check "the ransomware-sim campaign starts ($r)" grep -q "started: 1 PCs get drill.ransomware-sim" <<<"$r"
	check "the agent injects its documents" wait_for 30 ev '"kind":"drill.injected"'
	check "40 documents sit in the drill folder, nowhere else" \
		wait_for 10 eval '[ "$(ls "$A/drillbox" | grep -c "^eduwatch-drill-doc-...\.txt$")" = 40 ]'
	check "they are encrypted and renamed *.locked, and the note dropped" \
		wait_for 30 test -e "$A/drillbox/EDUWATCH-DRILL-README.txt"
	check "the detector fires: ransomware.suspect, a burst in the drill folder, flagged as a drill" \
		wait_for 30 ev '"kind":"ransomware.suspect","sev":1,"drill":true.*"reason":"burst","folder":"'"$A"'/drillbox"'
	check "the event carries counts and example paths, never contents" \
		ev '"kind":"ransomware.suspect".*"files":[0-9]*,"threshold":20.*"examples":\["'"$A"'/drillbox/eduwatch-drill-doc-'
	check "a drill alert is raised, keyed by the campaign" \
		wait_for 30 eval '[ "$(q "SELECT count(*) FROM alerts WHERE drill = 1 AND rule = '\''ransomware-suspect'\'' AND dedupe_key LIKE '\''%|drill:'\''||(SELECT id FROM drill_campaigns WHERE name='\''rs1'\'')")" = 1 ]'
	check "the SOC gets it tagged as a drill" \
		wait_for 30 grep -q '"tags":\["drill"\].*ransomware\|ransomware.*"tags":\["drill"\]' "$WORK/soc1.log"
	check "the agent cleans up and verifies it" wait_for 30 ev '"kind":"drill.cleaned_up".*"verified":true'
	check "the drill folder is empty after cleanup" test -z "$(ls -A "$A/drillbox")"
	local j
	j=$(C drill status --name rs1 --json)
	echo "# $(C drill status --name rs1 | grep -E '^ *(injected|detected|alert_raised|forwarded|cleaned_up)' | tr -s ' ' | tr '\n' ';')"
	check "the timeline has injected, detected, alert raised, forwarded and cleaned up" \
		$PY -c 'import json,sys; t=json.loads(sys.argv[1])["targets"][0]["timeline"]; sys.exit(0 if all(t[k] for k in ("injected","detected","alert_raised","forwarded","cleaned_up")) else 1)' "$j"
	check "no real (non-drill) ransomware alert came from the drill" \
		eq "$(q "SELECT count(*) FROM alerts WHERE drill = 0 AND rule = 'ransomware-suspect'")" 0
}

scenario_canary() {
	check "the agent planted a canary in the user's watched folder" test -f "$WORK/docs/.~eduwatch-canary.docx"
	echo "encrypted?" >>"$WORK/docs/.~eduwatch-canary.docx"
	check "touching it raises ransomware.suspect at once: a canary, not a drill" \
		wait_for 30 ev '"kind":"ransomware.suspect","sev":9,"drill":false.*"reason":"canary"'
	check "a real alert is raised" \
		wait_for 30 eval '[ "$(q "SELECT count(*) FROM alerts WHERE drill = 0 AND rule = '\''ransomware-suspect'\''")" -ge 1 ]'
}

scenario_hostile() {
	local r
	r=$(C command send --agent "$ID" --type drill.ransomware-sim 2>&1)
	check "a hand-made ransomware-sim command is queued ($r)" test $? -eq 0
	check "the agent refuses it: no campaign" \
		wait_for 30 ev '"type":"drill.ransomware-sim","ok":false,"msg":"refused: not a drill campaign'"'"'s command"'
	mkdir -p "$WORK/outside"
	echo "keep" >"$WORK/outside/victim"
	ln -s "$WORK/outside/victim" "$A/drillbox/eduwatch-drill-doc-005.txt"
	C drill plan --name rs2 --type ransomware-sim --by org --school R1 --expires 10m >/dev/null
	C drill approve --name rs2 --by admin >/dev/null
	C drill start --name rs2 >/dev/null
	check "a link under a document's name: the injection is refused" \
		wait_for 30 ev '"type":"drill.ransomware-sim","ok":false,"msg":"refused: cannot create the drill'"'"'s documents'
	check "the link's target is untouched" eq "$(cat "$WORK/outside/victim")" keep
	check "the link is left alone, the documents created before it removed" \
		eq "$(ls -A "$A/drillbox" | tr '\n' ' ')" "eduwatch-drill-doc-005.txt "
	rm -f "$A/drillbox/eduwatch-drill-doc-005.txt"
	C drill abort --name rs2 --by org >/dev/null
}

teardown() {
	kill_ours "$(cat "$WORK/agent.pid")"
	wait_for 20 test -s "$WORK/agent.rc"
	check "a stopped agent removes its canary" test ! -e "$WORK/docs/.~eduwatch-canary.docx"
	collector_stop
}

run_scenarios
