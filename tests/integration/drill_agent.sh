#!/bin/bash
# The agent's drills with no file of the PC's in them (issue 19), over a
# real agent, a real collector and a real HTTPS SOC receiver on loopback:
#   agent-silence: the agent holds its uplink for the scenario's duration
#     (12 s here), spooling meanwhile; the collector's silence sweep
#     raises agent.silent flagged as the campaign's drill; it reaches the
#     SOC; an officer acknowledges it; the PC comes back, the alert is
#     resolved, the hold's end is reported (cleaned up, verified) and the
#     events of the silence arrive; the timeline is complete.
#   lan-attack: the drill capture (ARP poisoning, rogue DHCP, a port scan)
#     through the agent's LAN detectors, nothing on the wire: net.* events
#     flagged as the campaign's drill, their alerts at the SOC, the
#     timeline complete.
# Hostile: a silence longer than the campaign's window is cut to the
# window; a hand-made silence command of no campaign is refused.
# Scenarios run alone by name: make test ONLY=drill_agent:lan_attack
. "$(dirname "$0")/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
D="$WORK/collector"
A="$WORK/agent"
P="$WORK/pki"
R="$WORK/drills"
C() { "$COLLECTOR" "$@" -c "$CONF"; }
q() { store_sql "$1"; } # one value: the scenarios ask for no more
ev() { C events list --agent "$ID" --limit 300 --json | grep -q "$1"; }
quiet_agent_set "$WORK/nothing"
AGENT_SET+=(-o ransom.enabled=false -o uplink.backoff_max=2s
	-o drill.folder="$A/drillbox" -o drill.av_wait=3s)
# timeline NAME STAGE...: every stage of campaign NAME's one PC reached.
timeline() {
	local name=$1
	shift
	$PY -c 'import json,sys; t=json.loads(sys.argv[1])["targets"][0]["timeline"]; sys.exit(0 if all(t[k] for k in sys.argv[2:]) else 1)' \
		"$(C drill status --name "$name" --json)" "$@"
}
# campaign NAME TYPE EXPIRES: planned by org, approved by admin, started.
campaign() {
	C drill plan --name "$1" --type "$2" --by org --school R1 --expires "$3" --rules "$R" >/dev/null &&
		C drill approve --name "$1" --by admin >/dev/null &&
		C drill start --name "$1" --rules "$R"
}
# soc_has_lan ID: the SOC log holds the three net.* alerts, each a drill
# of campaign ID.
soc_has_lan() {
	$PY -c 'import json,sys
seen=set()
for line in open(sys.argv[1]):
    for a in json.loads(line):
        k=a["event"]["action"]; e=a["eduwatch"]["evidence"]
        if k.startswith("net.") and a["tags"]==["drill"] and e.get("campaign_id")==int(sys.argv[2]): seen.add(k)
sys.exit(0 if seen=={"net.arp_spoof","net.rogue_dhcp","net.port_scan"} else 1)' "$WORK/soc1.log" "$1"
}
cid() { q "SELECT id FROM drill_campaigns WHERE name = '$1'"; }

setup() {
	mkdir -p "$A" "$P" "$R"
	cp "$RULES/drills/"*.yaml "$R/"
	# A short silence: 12 s, against a silent-PC threshold of 4 s.
	sed -i 's/^duration: .*/duration: 12s/' "$R/agent-silence.yaml"
	soc_pki "$P"
	https_receiver SOC1 "$P/soc.crt" "$P/soc.key" "$WORK/soc1.log" tok-one 0 ||
		{ not_ok "the SOC receiver starts"; return 1; }
	collector_init "$D" || { not_ok "collector init"; return 1; }
	collector_set agents.silent_after=4s agents.silence_sweep=1s
	{ echo "forward:"; https_forward_yaml soc-one "$SOC1" tok-one "$P/ca.crt"; } >>"$CONF"
	C school add R1 "Trường R1" --commune "Xã Diễn Tập" --level 2 --expected-pcs 1 >/dev/null
	C user add org drill_organiser >/dev/null
	C user add admin province_admin >/dev/null
	C user add officer school_officer R1 >/dev/null
	collector_start "$WORK/collector.log" || { not_ok "collector start"; return 1; }
	check "the agent enrolled" agent_enroll R1 "$A"
	DAEMON_KEEP=1 daemon_start agent "$AGENT" run -c "$A/agent.yaml" "${AGENT_SET[@]}" \
		>>"$WORK/agent.log" 2>&1 || { not_ok "the agent starts"; return 1; }
	wait_for 40 grep -q "uplink: connected" "$WORK/agent.log" || { not_ok "the agent connects"; return 1; }
}

scenario_agent_silence() {
	local r id t0 held
	r=$(campaign sil1 agent-silence 10m)
	check "the agent-silence campaign starts ($r)" grep -q "started: 1 PCs get drill.agent-silence" <<<"$r"
	check "the agent injects: drill.injected names the end of its hold" \
		wait_for 30 ev '"kind":"drill.injected".*"hold_until_us":'
	check "the agent holds its uplink" wait_for 15 grep -q "uplink: held by a drill for" "$WORK/agent.log"
	t0=$(date +%s)
	id=$(cid sil1)
	check "the silence sweep raises agent.silent, flagged as the campaign's drill" \
		wait_for 30 eval '[ "$(q "SELECT count(*) FROM alerts WHERE drill = 1 AND kind = '\''agent.silent'\'' AND agent = '\''$ID'\'' AND dedupe_key LIKE '\''%|drill:$id'\''")" = 1 ]'
	check "no real (non-drill) silent alert for that PC" \
		eq "$(q "SELECT count(*) FROM alerts WHERE drill = 0 AND kind = 'agent.silent' AND agent = '$ID'")" 0
	check "the SOC gets it tagged as a drill" \
		wait_for 30 grep -q '"tags":\["drill"\].*agent.silent\|agent.silent.*"tags":\["drill"\]' "$WORK/soc1.log"
	local aid
	aid=$(q "SELECT id FROM alerts WHERE drill = 1 AND kind = 'agent.silent' AND agent = '$ID'")
	C alerts ack "$aid" --by officer >/dev/null
	check "an officer acknowledges it while the PC is silent" \
		eq "$(q "SELECT state FROM alerts WHERE id = $aid")" acknowledged
	check "the PC is still held when the officer acts" \
		eval '! grep -q "the drill.s hold is over" "$WORK/agent.log"'
	check "the hold ends on its own and the uplink comes back" \
		wait_for 30 grep -q "the drill's hold is over; reconnecting" "$WORK/agent.log"
	held=$(( $(date +%s) - t0 ))
	check "the hold lasted about the scenario's 12 s (${held}s after it began)" \
		eval '[ "$held" -ge 5 ] && [ "$held" -le 20 ]'
	check "the agent reports the hold given back: cleaned up, verified" \
		wait_for 30 ev '"kind":"drill.cleaned_up".*"verified":true'
	check "the heartbeats spooled during the hold arrive" \
		eval '[ "$(q "SELECT count(*) FROM events WHERE agent = '\''$ID'\'' AND kind = '\''agent.heartbeat'\'' AND ts > (SELECT ts FROM events WHERE agent = '\''$ID'\'' AND kind = '\''drill.injected'\'' ORDER BY ts DESC LIMIT 1) + 4000000 AND received > ts + 3000000")" -ge 1 ]'
	check "the PC is back: the drill's silent alert is resolved" \
		wait_for 30 eval '[ "$(q "SELECT state FROM alerts WHERE id = $aid")" = resolved ]'
	check "resolved by eduwatch, the PC being back" \
		eq "$(q "SELECT resolved_by FROM alerts WHERE id = $aid")" "eduwatch: the PC is back"
	echo "# $(C drill status --name sil1 | grep -E '^    (injected|alert_raised|forwarded|acknowledged|resolved|cleaned_up) +20[0-9][0-9]-' | tr -s ' ' | tr '\n' ';')"
	check "the timeline: injected, alert raised, forwarded, acknowledged, resolved, cleaned up" \
		timeline sil1 injected alert_raised forwarded acknowledged resolved cleaned_up
	r=$(C drill status --name sil1)
	check "the scoreboard counts it passed: its scenario has no detected stage" \
		grep -q "province *targets 1, took part 1, result passed" <<<"$r"
	check "the drill folder was never touched" test -z "$(ls -A "$A/drillbox" 2>/dev/null)"
}

scenario_lan_attack() {
	local r id
	r=$(campaign lan1 lan-attack 10m)
	check "the lan-attack campaign starts ($r)" grep -q "started: 1 PCs get drill.lan-attack" <<<"$r"
	check "the agent injects" wait_for 30 ev '"kind":"drill.injected".*"file":"lan-attack capture"'
	id=$(cid lan1)
	local k
	for k in net.arp_spoof net.rogue_dhcp net.port_scan; do
		check "$k arrives flagged as a drill, with the campaign" \
			wait_for 30 ev '"kind":"'"$k"'","sev":[0-9]*,"drill":true.*"capture":"drill","campaign":"lan1","campaign_id":'"$id"
	done
	check "the command's result counts the three detections" \
		ev '"type":"drill.lan-attack","ok":true,"msg":"replayed the drill capture for campaign lan1: 37 packets, 3 detections"'
	check "three drill alerts, keyed by the campaign" \
		wait_for 30 eval '[ "$(q "SELECT count(*) FROM alerts WHERE drill = 1 AND kind LIKE '\''net.%'\'' AND dedupe_key LIKE '\''%drill:$id'\''")" = 3 ]'
	check "no real (non-drill) net alert came from the drill" \
		eq "$(q "SELECT count(*) FROM alerts WHERE drill = 0 AND kind LIKE 'net.%'")" 0
	check "the SOC gets the three, each tagged as a drill with the campaign" \
		wait_for 30 soc_has_lan "$id"
	check "the agent reports the cleanup (nothing was written)" \
		wait_for 30 ev '"kind":"drill.cleaned_up".*"campaign_id":'"$id"'.*"verified":true'
	local aid
	aid=$(q "SELECT id FROM alerts WHERE drill = 1 AND kind LIKE 'net.%' AND dedupe_key LIKE '%drill:$id' ORDER BY first, id LIMIT 1")
	C alerts ack "$aid" --by officer >/dev/null
	C alerts resolve "$aid" --by officer >/dev/null
	echo "# $(C drill status --name lan1 | grep -E '^    (injected|detected|alert_raised|forwarded|acknowledged|resolved|cleaned_up) +20[0-9][0-9]-' | tr -s ' ' | tr '\n' ';')"
	check "the timeline: injected, detected, alert raised, forwarded, acknowledged, resolved, cleaned up" \
		timeline lan1 injected detected alert_raised forwarded acknowledged resolved cleaned_up
	check "no packet left the PC: nothing on the wire is the design (the sensor is off here)" \
		bash -c "! grep -q 'netsensor: capturing' '$WORK/agent.log'"
}

scenario_restore_test() {
	local r id j
	r=$(campaign rt1 restore-test 10m)
	check "the restore-test campaign starts ($r)" grep -q "started: 1 PCs get drill.restore-test" <<<"$r"
	id=$(cid rt1)
	check "the agent injects" wait_for 30 ev '"kind":"drill.injected".*"campaign":"rt1".*"file":"eduwatch-drill-restore"'
	check "the full restore of the 24 sample files comes back, every hash equal, timed" \
		wait_for 60 ev '"kind":"backup.drill_restore","sev":1,"drill":true.*"campaign_id":'"$id"',"files":24,"bytes":[0-9]*,"hashes_equal":24,"backup_ms":[0-9]*,"restore_ms":[0-9]*'
	j=$(C events list --agent "$ID" --limit 300 --json | grep -o '"kind":"backup.drill_restore".*"restore_ms":[0-9]*' | head -1)
	echo "# ${j#*\"files\"}"
	check "the agent removes the sample, the repository and the scratch folder, and verifies it" \
		wait_for 30 ev '"kind":"drill.cleaned_up".*"campaign_id":'"$id"'.*"verified":true'
	check "nothing is left in the drill folder" test ! -e "$A/drillbox/eduwatch-drill-restore"
	echo "# $(C drill status --name rt1 | grep -E '^    (injected|detected|cleaned_up) +20[0-9][0-9]-' | tr -s ' ' | tr '\n' ';')"
	check "the timeline: injected, detected (the verified restore), cleaned up" \
		timeline rt1 injected detected cleaned_up
	check "the scoreboard counts it passed" \
		grep -q "province *targets 1, took part 1, result passed" <<<"$(C drill status --name rt1)"
	check "the school's own backups were not touched: no backup.status came of it" \
		eq "$(q "SELECT count(*) FROM events WHERE agent = '$ID' AND kind = 'backup.status'")" 0
	# Hostile: a link under the drill's own folder name (root planted it:
	# nobody else can write the drill folder) is never written through.
	mkdir -p "$WORK/outside"
	echo keep >"$WORK/outside/victim"
	ln -s "$WORK/outside" "$A/drillbox/eduwatch-drill-restore"
	campaign rt2 restore-test 10m >/dev/null
	check "a link in the way: the restore-test does not run, and says so" \
		wait_for 30 grep -q "campaign rt2: the restore-test failed: cannot create .*eduwatch-drill-restore (a file or link is in the way)" "$WORK/agent.log"
	check "its cleanup is reported (it made nothing)" \
		wait_for 30 ev '"kind":"drill.cleaned_up".*"campaign":"rt2".*"verified":true'
	check "the link and its target are left as they were" \
		eval '[ -L "$A/drillbox/eduwatch-drill-restore" ] && [ "$(ls -A "$WORK/outside")" = victim ] && [ "$(cat "$WORK/outside/victim")" = keep ]'
	check "no verified restore for rt2: the one of rt1 only" \
		eq "$(q "SELECT count(*) FROM events WHERE agent = '$ID' AND kind = 'backup.drill_restore'")" 1
	rm -f "$A/drillbox/eduwatch-drill-restore"
}

scenario_hostile() {
	local r
	r=$(C command send --agent "$ID" --type drill.agent-silence 2>&1)
	check "a hand-made agent-silence command is queued ($r)" test $? -eq 0
	check "the agent refuses it: no campaign, and holds nothing" \
		wait_for 30 ev '"type":"drill.agent-silence","ok":false,"msg":"refused: not a drill campaign'"'"'s command"'
	# A silence of an hour in a campaign whose window closes in 6 s: the
	# hold ends with the window, since no abort can reach a held PC.
	sed -i 's/^duration: .*/duration: 1h/' "$R/agent-silence.yaml"
	r=$(campaign sil2 agent-silence 6s)
	sed -i 's/^duration: .*/duration: 12s/' "$R/agent-silence.yaml"
	check "the long silence starts ($r)" grep -q "started: 1 PCs" <<<"$r"
	check "the agent cuts the hold to the window" \
		wait_for 30 ev '"type":"drill.agent-silence","ok":true,"msg":"holding the uplink for campaign sil2 for [1-6]s"'
	check "and it ends with the window" \
		wait_for 30 ev '"kind":"drill.cleaned_up".*"campaign":"sil2".*"verified":true'
}

teardown() {
	kill_ours "$(cat "$WORK/agent.pid")"
	wait_for 20 test -s "$WORK/agent.rc"
	collector_stop
}

# drill_agent_pg.sh sources this file (EW_AS_LIB=1) and runs its scenarios on
# PostgreSQL.
[ -n "${EW_AS_LIB:-}" ] || run_scenarios
