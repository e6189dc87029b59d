#!/bin/bash
# ew-variants: release
# ew-lock: wine
# The Windows agent (the real eduwatch-agent.exe from `make windows`)
# under wine, headless, against a real Linux collector on loopback: it
# enrolls with the same command and token as a Linux PC, reports its
# inventory (a Windows OS) and heartbeats, its antivirus probe takes the
# "SecurityCenter2 namespace missing" path that wine has, its LAN sensor
# reports itself off because Npcap is not installed, and after
# `taskkill /F` it restarts with no event lost or duplicated. Its scan
# source runs through the jailed child: a signed scan command from the
# collector finds EICAR (made here) and the scan.match event carries path
# and hash, never content; a quick scan finds it in the wine user's
# Downloads (the known-folder API); a removable drive letter that arrives
# while the agent runs is scanned.
# Runs once, in the release pass: no sanitizer build changes the .exe.
# Scenarios run alone by name: make test ONLY=windows_agent:taskkill
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/lib_windows.bash"
D="$WORK/collector"
A="$WORK/agent"
ACONF="$A/agent.yaml"
mkdir -p "$A"

windows_ready || { tap_finish; exit 0; }
# The wineserver of this prefix goes when the test does.
trap 'cleanup; windows_done' EXIT

# No scheduled full scan of the machine (wine's "/" is the Linux root):
# the scenarios order their scans.
SCAN_SET=(-o scan.full_paths="$WORK/nothing" -o scan.full_interval=366d
	-o scan.quick_interval=366d)
agent_start() { # agent_start LOG: the agent in console mode (not the service), in the background
	wine "$EXE" run --console -c "$ACONF" "${SCAN_SET[@]}" >>"$1" 2>&1 &
	APID=$!
	PIDS+=("$APID")
}
count_events() { agent_events | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo 0; }

# The collector, the enrollment and one running agent, which every
# scenario reads from (the taskkill scenario replaces it).
setup() {
	collector_init "$D" || { not_ok "collector init"; return 1; }
	"$COLLECTOR" school add 79016 "TH Windows" --commune "Xã An" --level 1 \
		--expected-pcs 1 -c "$CONF" >/dev/null
	collector_start "$WORK/collector.log" || { not_ok "collector start"; return 1; }
	TOKEN=$("$COLLECTOR" token create --school 79016 --uses 1 -c "$CONF" 2>/dev/null)
	agent enroll --collector "localhost:$INGEST_PORT" --enroll-port "$ENROLL_PORT" \
		--token "$TOKEN" --ca "$D/ca.crt" --state-dir "$A/state" -c "$ACONF" \
		>"$WORK/enroll.out" 2>&1
	check "the .exe enrolls with the Linux agent's command and token" test $? -eq 0
	ID=$(tr -d '\r' <"$WORK/enroll.out" | sed -n 's/^enrolled as agent \([^ ]*\) .*/\1/p')
	check "the collector lists the Windows agent" grep -q "${ID:-none}" <("$COLLECTOR" agent list -c "$CONF")
	check "its key, certificate and pinned CA are in the state folder" \
		test -s "$A/state/agent.key" -a -s "$A/state/agent.crt" -a -s "$A/state/ca.crt"
	sed -i 's/interval: 60s/interval: 1s/; s/backoff_max: 5m/backoff_max: 2s/' "$ACONF"
	agent_start "$WORK/agent.log"
	# The collector, not the agent's log, says whether the agent got through.
	check "the agent connects over TLS and its events arrive" wait_event 90 '"kind":'
}

scenario_reports() {
	check "its log says it connected (stderr reaches the file under wine)" \
		wait_for 30 grep -q "uplink: connected" "$WORK/agent.log"
	check "it reports its inventory with a Windows OS" wait_event 60 '"kind":"agent.inventory".*Windows'
	local inv
	inv=$(agent_events | $PY -c '
import json, sys
for e in json.load(sys.stdin):
    if e["kind"] == "agent.inventory":
        print(json.dumps(e)); break')
	check "the inventory has the kernel build, the workgroup and the fixed disks (${inv:0:600})" \
		eval 'grep -q "\"kernel\": *\"Windows NT [0-9.]* build [0-9]*\"" <<<"$inv" &&
			grep -q "\"domain_kind\": *\"workgroup\"" <<<"$inv" &&
			grep -q "\"disks\": *\"C: [0-9]* GB, [0-9]* GB free" <<<"$inv"'
	check "and the CPU, RAM, addresses and session count" \
		eval 'grep -q "\"cpus\": *[1-9]" <<<"$inv" && grep -q "\"ram_mb\": *[1-9]" <<<"$inv" &&
			grep -q "\"macs\": *\"[0-9a-f:]\{17\}" <<<"$inv" && grep -q "\"users\": *[0-9]" <<<"$inv"'
	check "it sends heartbeats" wait_for 90 two_heartbeats
}

scenario_av_status() {
	check "the antivirus probe reports, SecurityCenter2 missing under wine" \
		wait_event 90 '"kind":"av.status"'
}

scenario_net_sensor() {
	check "the LAN sensor reports itself off: Npcap is not installed (net.sensor)" \
		wait_event 60 '"kind":"net.sensor".*"state":"off".*"reason":"Npcap not installed"'
	check "and says so in its log" grep -q "netsensor: off: Npcap not installed" "$WORK/agent.log"
}

# taskkill /F: no chance to flush. Every event spooled before must still
# arrive, once.
scenario_taskkill() {
	local before r
	wait_event 60 '"kind":"agent.heartbeat"' >/dev/null
	before=$(count_events)
	# By image name: wine 8's tasklist prints nothing, so there is no pid
	# to name; only the one agent runs in this prefix.
	wine taskkill /F /IM eduwatch-agent.exe >/dev/null 2>&1
	check "taskkill /F ends the agent" wait_for 30 bash -c "! kill -0 $APID 2>/dev/null"
	agent_start "$WORK/agent2.log"
	check "the agent comes back and reconnects" wait_for 90 grep -q "uplink: connected" "$WORK/agent2.log"
	more_events() { [ "$(count_events)" -gt "$before" ]; }
	check "new events arrive after the restart" wait_for 60 more_events
	wait_for 30 grep -q 'spool: +0 events' <(agent status -c "$ACONF" 2>&1 | tr -d '\r') >/dev/null
	r=$(seq_report)
	check "no event lost or duplicated across taskkill /F ($r)" grep -q "dups=0 gaps=\[\]" <<<"$r"
	wine taskkill /F /IM eduwatch-agent.exe >/dev/null 2>&1
}

scenario_status() {
	local s r
	s=$(agent status -c "$ACONF" 2>&1 | tr -d '\r')
	check "status reads the Windows agent's state" grep -q "enrolled: *yes" <<<"$s"
	r=$(agent scan -c "$ACONF" "$A" 2>&1 | tr -d '\r')
	[ -n "$(bundle_version)" ] ||
		check "scanning with no bundle installed says so (windows_bundle.sh scans with one)" \
			grep -q "no rule bundle is installed" <<<"$r"
}

bundle_version() { ls "$D"/bundles/bundle-*.ewb 2>/dev/null | sed -n 's/.*bundle-\([0-9]*\)\.ewb/\1/p' | sort -n | tail -1; }
# rules_ready: a bundle published and installed on the agent.
rules_ready() {
	# A scenario's own jobs end with it (run_scenario), so an agent
	# started here lives for this scenario only; each start gets a log of
	# its own, so the wait is for this start's connection (sources start
	# before it): an older line let usb_arrival make U: before the new
	# agent's first look at the drives, which then took U: as there at
	# start-up and never reported it.
	if [ -z "${APID:-}" ] || ! kill -0 "$APID" 2>/dev/null; then
		local log
		log="$WORK/agent-$(date +%s%N).log"
		agent_start "$log"
		wait_for 90 grep -q "uplink: connected" "$log"
	fi
	[ -n "$(bundle_version)" ] || "$COLLECTOR" rules publish -c "$CONF" >/dev/null
	wait_event 90 "\"kind\":\"rules.update\".*\"state\":\"installed\"" ||
		not_ok "the Windows agent installs bundle $(bundle_version)"
}
EICAR_SHA=275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f
make_eicar() { # make_eicar FILE: the 68-byte EICAR test file, made here
	mkdir -p "$(dirname "$1")"
	printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-' 'STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >"$1"
}
# match_is PATH: a scan.match event for exactly PATH, with EICAR's hash
# and rule, and no content.
match_is() {
	agent_events | $PY -c '
import json, sys
for e in json.load(sys.stdin):
    b = e.get("body") or {}
    if e["kind"] == "scan.match" and b.get("path") == sys.argv[1]:
        ok = b.get("sha256") == sys.argv[2] and b.get("rules") == ["EW_EICAR_Test_File"]
        sys.exit(0 if ok and "EICAR-STANDARD" not in json.dumps(e) else 1)
sys.exit(1)' "$1" "$EICAR_SHA"
}

# The collector's signed scan command.
scenario_scan_command() {
	rules_ready
	make_eicar "$WORK/scanme/sub/eicar-cmd.com"
	echo "a clean file" >"$WORK/scanme/clean.txt"
	# The collector takes "/..." paths; on Windows that is the agent's
	# own drive, which under wine is Z:, the Linux root.
	"$COLLECTOR" command send --agent "$ID" --type scan --kind paths --path "$WORK/scanme" -c "$CONF" >/dev/null
	check "the command's result came back" \
		wait_event 60 '"kind":"agent.command".*paths scan of 1 path(s) queued'
	check "the scan.match event has the path, EICAR's SHA-256 and rule, no content" \
		wait_for 90 match_is "$WORK/scanme/sub/eicar-cmd.com"
	check "a scan.summary follows: a paths scan, one match" \
		wait_event 60 '"kind":"scan.summary".*"kind":"paths".*"matched":1,'
	check "the log says which bundle scanned" \
		grep -q "scan: paths scan of 1 path(s) with bundle-" "$WORK"/agent*.log
}

# The quick scan finds the wine user's Downloads through the known-folder
# API (not a configured path: scan.quick_paths holds Linux globs only).
scenario_quick_downloads() {
	local home dl
	rules_ready
	home=$(wine cmd /c 'echo %USERPROFILE%' 2>/dev/null | tr -d '\r')
	dl=$(winepath -u "$home\\Downloads" 2>/dev/null)
	check "the wine user has a Downloads folder ($dl)" test -d "$dl"
	# The prefix is shared with the other Windows scripts: the file goes
	# when the scenario does.
	make_eicar "$dl/eicar-quick.com"
	"$COLLECTOR" command send --agent "$ID" --type scan --kind quick -c "$CONF" >/dev/null
	check "a quick scan finds EICAR in Downloads ($home\\Downloads)" \
		wait_for 90 match_is "$home\\Downloads\\eicar-quick.com"
	check "its summary is a quick scan" wait_event 60 '"kind":"scan.summary".*"kind":"quick"'
	rm -f "$dl/eicar-quick.com"
}

usb_summary() { # usb_summary ROOT: a scan.summary of a usb scan of ROOT
	agent_events | $PY -c '
import json, sys
sys.exit(0 if any(e["kind"] == "scan.summary" and (e.get("body") or {}).get("kind") == "usb"
                  and e["body"].get("paths") == [sys.argv[1]] for e in json.load(sys.stdin)) else 1)' "$1"
}

# A removable drive letter that arrives while the agent runs is scanned:
# wine's mount manager gives U: (type removable) to a folder, as a stick's
# arrival (tests/support/windows/wine_drive.c).
scenario_usb_arrival() {
	rules_ready
	make_eicar "$WORK/stick/eicar-usb.com"
	wine "$WIN_DIR/tests/wine_drive.exe" u "$WORK/stick" >/dev/null 2>&1
	check "wine's mount manager gives U: to the folder, removable" \
		test -L "$WINEPREFIX/dosdevices/u:"
	check "the agent scans the drive on arrival and finds EICAR on it" \
		wait_for 90 match_is 'U:\eicar-usb.com'
	check "its summary is a usb scan of U:\\" wait_for 60 usb_summary 'U:\'
	check "the log says the drive arrived" grep -q 'scan: removable drive U:.* arrived' "$WORK"/agent*.log
	wine "$WIN_DIR/tests/wine_drive.exe" u >/dev/null 2>&1
	wine reg delete 'HKLM\Software\Wine\Drives' /v u: /f >/dev/null 2>&1
}

teardown() {
	wine taskkill /F /IM eduwatch-agent.exe >/dev/null 2>&1
	# U: of usb_arrival, if it stopped half-way: the prefix is shared.
	if [ -L "$WINEPREFIX/dosdevices/u:" ]; then
		wine "$WIN_DIR/tests/wine_drive.exe" u >/dev/null 2>&1
		wine reg delete 'HKLM\Software\Wine\Drives' /v u: /f >/dev/null 2>&1
	fi
}

run_scenarios
