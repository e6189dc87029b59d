#!/bin/bash
# ew-variants: release
# ew-lock: wine
# One rule bundle, two agents: a real Linux collector (real TLS, on
# loopback) compiles and signs a bundle with Debian's libyara; a Linux
# agent and the Windows agent (the real .exe under wine, cross-built
# libyara 4.5.2) fetch it over their own connections, verify its
# signature, load it (the Linux scanner its compiled form, the Windows
# agent its signed sources, compiled there) and report the same version
# and rule count; both find the EICAR test file (made here, never
# committed) with the same rule and hash; and a tampered bundle, pushed
# or installed by hand, is refused by both while the good one stays.
# Release only: no sanitizer build changes the .exe.
# Scenarios run alone by name: make test ONLY=windows_bundle:scan
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/lib_windows.bash"
D="$WORK/collector"
LA="$WORK/linux-agent"
WA="$WORK/windows-agent"
S="$WORK/samples"
LINUX_AGENT="$EW_BIN/eduwatch-agent"
mkdir -p "$LA" "$WA" "$S"
# Both agents: nothing scheduled, nothing probed but what is checked.
AGENT_SET=(-o netsensor.enabled=false -o heartbeat.interval=1s
	-o scan.full_paths="$WORK/nothing" -o scan.quick_paths="$WORK/nothing"
	-o uplink.backoff_max=2s)

windows_ready || { tap_finish; exit 0; }
# The wineserver of this prefix goes with the test.
trap 'cleanup; windows_done' EXIT

events_of() { "$COLLECTOR" events list --agent "$1" --limit 500 --json -c "$CONF"; }
# ev AGENT KIND EXPR: an event of KIND whose body (b) makes EXPR true.
ev() {
	events_of "$1" | $PY -c '
import json, sys
evs = json.load(sys.stdin)
sys.exit(0 if any(e["kind"] == sys.argv[1] and eval(sys.argv[2], {"b": e.get("body") or {}})
                  for e in evs) else 1)' "$2" "$3"
}
# said_rules AGENT VERSION STATE: the agent's rules.update event for VERSION.
said_rules() { ev "$1" rules.update "b.get('version') == $2 and b.get('state') == '$3'"; }
rules_count() { # the rule count AGENT reported installing VERSION with
	events_of "$1" | $PY -c '
import json, sys
for e in json.load(sys.stdin):
    b = e.get("body") or {}
    if e["kind"] == "rules.update" and b.get("version") == int(sys.argv[1]) and b.get("state") == "installed":
        print(b.get("rules")); break' "$2"
}
newest_bundle() { ls "$D"/bundles/bundle-*.ewb 2>/dev/null | sed -n 's/.*bundle-\([0-9]*\)\.ewb/\1/p' | sort -n | tail -1; }
publish() { "$COLLECTOR" rules publish -c "$CONF" | sed -n 's/^published bundle \([0-9]*\):.*/\1/p'; }

setup() {
	collector_init "$D" || { not_ok "collector init"; return 1; }
	"$COLLECTOR" school add 79017 "TH Hai Tac Tu" --commune "Xã An" --level 1 \
		--expected-pcs 2 -c "$CONF" >/dev/null
	collector_start "$WORK/collector.log" || { not_ok "collector start"; return 1; }
	local token
	token=$("$COLLECTOR" token create --school 79017 --uses 2 -c "$CONF" 2>/dev/null)
	"$LINUX_AGENT" enroll --collector "localhost:$INGEST_PORT" --enroll-port "$ENROLL_PORT" \
		--token "$token" --ca "$D/ca.crt" --state-dir "$LA/state" -c "$LA/agent.yaml" \
		>"$WORK/enroll-linux.out" 2>&1
	LID=$(sed -n 's/^enrolled as agent \([^ ]*\) .*/\1/p' "$WORK/enroll-linux.out")
	agent enroll --collector "localhost:$INGEST_PORT" --enroll-port "$ENROLL_PORT" \
		--token "$token" --ca "$D/ca.crt" --state-dir "$WA/state" -c "$WA/agent.yaml" \
		>"$WORK/enroll-windows.out" 2>&1
	WID=$(tr -d '\r' <"$WORK/enroll-windows.out" | sed -n 's/^enrolled as agent \([^ ]*\) .*/\1/p')
	check "both agents enroll with one token ($LID, $WID)" test -n "$LID" -a -n "$WID"
	echo "$LID $WID" >"$WORK/ids"
	$PY "$(dirname "$0")/yarasamples.py" "$S" >/dev/null
}

ids() { read -r LID WID <"$WORK/ids"; }

# agents_up: both agents running and connected (started once, kept for
# the scenarios after; a scenario run alone starts them itself).
agents_up() {
	ids
	if ! daemon_running linux-agent; then
		DAEMON_KEEP=1 daemon_start linux-agent "$LINUX_AGENT" run -c "$LA/agent.yaml" \
			"${AGENT_SET[@]}" >>"$WORK/linux-agent.log" 2>&1 || return 1
	fi
	if ! daemon_running windows-agent; then
		DAEMON_KEEP=1 daemon_start windows-agent wine "$EXE" run --console -c "$WA/agent.yaml" \
			"${AGENT_SET[@]}" >>"$WORK/windows-agent.log" 2>&1 || return 1
	fi
	wait_for 60 ev "$LID" agent.heartbeat True &&
		wait_for 90 ev "$WID" agent.heartbeat True
}

agents_down() {
	daemon_running linux-agent && daemon_stop linux-agent 20
	if daemon_running windows-agent; then
		# By image name: wine 8's tasklist prints nothing; only this
		# agent runs in the prefix during the test.
		wine taskkill /F /IM eduwatch-agent.exe >/dev/null 2>&1
		wait_for 30 test -s "$WORK/windows-agent.rc"
	fi
	return 0
}

# One good bundle installed on both (published here when none is).
bundle_ready() {
	agents_up || { not_ok "both agents start"; return 1; }
	V=$(cat "$WORK/good-version" 2>/dev/null)
	[ -n "$V" ] && said_rules "$LID" "$V" installed && said_rules "$WID" "$V" installed && return 0
	V=$(publish)
	echo "$V" >"$WORK/good-version"
	wait_for 60 said_rules "$LID" "$V" installed && wait_for 90 said_rules "$WID" "$V" installed ||
		not_ok "both agents install bundle $V"
}

# A pushed bundle whose bytes changed after signing is refused by both
# (the agents are down while the collector's copy is damaged, so they
# fetch the damaged one when they come back).
scenario_tampered_push() {
	ids
	agents_down
	local V
	V=$(publish)
	check "the collector publishes a bundle ($V)" test -n "$V"
	# One byte of the compressed payload (the file's last byte).
	$PY -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[-1]^=1; open(p,"wb").write(b)' \
		"$D/bundles/bundle-$V.ewb"
	agents_up || not_ok "both agents start"
	check "the Linux agent refuses the tampered bundle and says so to the collector" \
		wait_for 60 said_rules "$LID" "$V" refused
	check "the Windows agent refuses it too" wait_for 90 said_rules "$WID" "$V" refused
	check "the refusal names the hash that does not match" \
		ev "$WID" rules.update "'does not match its signed hash' in b.get('error', '')"
	check "neither installs it" test ! -e "$LA/state/rules/current.ewb" -a ! -e "$WA/state/rules/current.ewb"
}

scenario_one_bundle() {
	bundle_ready
	local V n_linux n_windows show
	V=$(cat "$WORK/good-version")
	check "the Linux agent installs bundle $V" said_rules "$LID" "$V" installed
	check "the Windows agent installs the same bundle $V" said_rules "$WID" "$V" installed
	n_linux=$(rules_count "$LID" "$V")
	n_windows=$(rules_count "$WID" "$V")
	check "both report the same rule count ($n_linux, $n_windows)" \
		test -n "$n_linux" -a "$n_linux" = "$n_windows" -a "${n_linux:-0}" -gt 0
	check "the Windows agent compiled the signed sources with its own libyara" \
		grep -q "rules: bundle $V loads in libyara 4.5.2: $n_windows rules (compiled here from its signed sources)" \
		"$WORK/windows-agent.log"
	check "both installed the collector's file byte for byte" \
		bash -c "cmp -s '$LA/state/rules/current.ewb' '$D/bundles/bundle-$V.ewb' &&
			cmp -s '$WA/state/rules/current.ewb' '$D/bundles/bundle-$V.ewb'"
	show=$(agent rules show --json -c "$WA/agent.yaml" 2>/dev/null | tr -d '\r')
	check "rules show on Windows names the bundle ($show)" grep -q "\"version\":$V," <<<"$show"
	check "... and on Linux the same" grep -q "\"version\":$V," \
		<("$LINUX_AGENT" rules show --json -c "$LA/agent.yaml" 2>/dev/null)
	# What the collector sees: each heartbeat names the bundle, and the
	# status command answers with its version and rule count.
	check "the Linux agent's heartbeats name bundle-$V" \
		wait_for 30 ev "$LID" agent.heartbeat "b.get('rules_version') == 'bundle-$V'"
	check "the Windows agent's heartbeats name bundle-$V" \
		wait_for 30 ev "$WID" agent.heartbeat "b.get('rules_version') == 'bundle-$V'"
	"$COLLECTOR" command send --agent "$LID" --type status -c "$CONF" >/dev/null
	"$COLLECTOR" command send --agent "$WID" --type status -c "$CONF" >/dev/null
	check "the Linux agent's status answers bundle-$V ($n_linux rules)" \
		wait_for 30 ev "$LID" agent.command "'rules bundle-$V ($n_linux rules)' in str(b)"
	check "the Windows agent's status answers the same" \
		wait_for 30 ev "$WID" agent.command "'rules bundle-$V ($n_windows rules)' in str(b)"
}

scenario_scan() {
	ids
	bundle_ready
	local V out_l out_w sha
	V=$(cat "$WORK/good-version")
	sha=$(sha256sum "$S/eicar/eicar.com" | cut -d' ' -f1)
	out_w=$(agent scan --json -c "$WA/agent.yaml" "$S/eicar" 2>"$WORK/scan-windows.err" | tr -d '\r')
	echo "$out_w" >"$WORK/scan-windows.out"
	check "the Windows agent's scan finds the EICAR file with the bundle's rule" \
		grep -q "\"path\":\"[^\"]*eicar.com\",\"verdict\":\"match\".*\"sha256\":\"$sha\",\"matches\":\[{\"rule\":\"EW_EICAR_Test_File\"" <<<"$out_w"
	check "the quoted EICAR string is no match (the rule wants it at offset 0)" \
		bash -c "! grep -q 'quoted.txt' <<<'$out_w'"
	check "its summary counts both files, one match" \
		grep -q '"summary":{"files":2,"scanned":2,.*"matched":1,' <<<"$out_w"
	check "its summary names bundle $V" grep -q "\"matched\":1,.*\"rules_version\":\"bundle-$V\"" <<<"$out_w"
	# A folder and a file named in Vietnamese, found by the walk: names go
	# from the wide Windows APIs to UTF-8 inside and back.
	mkdir -p "$S/unicode/Tài liệu"
	cp "$S/eicar/eicar.com" "$S/unicode/Tài liệu/bài tập.com"
	out_w=$(agent scan --json -c "$WA/agent.yaml" "$S/unicode" 2>/dev/null | tr -d '\r')
	check "a file under a Vietnamese name is read and reported by that name" \
		grep -q "Tài liệu/bài tập.com\",\"verdict\":\"match\".*\"sha256\":\"$sha\"" <<<"$out_w"
	out_l=$("$LINUX_AGENT" scan --json --no-cache -c "$LA/agent.yaml" "$S/eicar" 2>/dev/null)
	check "the Linux agent's scan finds the same file, rule and hash" \
		grep -q "eicar.com\",\"verdict\":\"match\".*\"sha256\":\"$sha\".*EW_EICAR_Test_File" <<<"$out_l"
	check "no file content in either report" \
		bash -c "! grep -q 'EICAR-STANDARD' '$WORK/scan-windows.out' && ! grep -q 'EICAR-STANDARD' <<<'$out_l'"
}

# A bundle file damaged by hand (its signed header, then its payload):
# `rules install` refuses it on both, and the good bundle stays.
scenario_tampered_file() {
	ids
	bundle_ready
	local V bad out
	V=$(cat "$WORK/good-version")
	for bad in header payload; do
		$PY - "$D/bundles/bundle-$V.ewb" "$WORK/tampered-$bad.ewb" "$bad" <<-'PYEOF'
			import sys
			b = bytearray(open(sys.argv[1], "rb").read())
			# header: a byte inside the signed msgpack map; payload: the last byte
			b[20 if sys.argv[3] == "header" else -1] ^= 1
			open(sys.argv[2], "wb").write(b)
		PYEOF
		out=$(agent rules install "$WORK/tampered-$bad.ewb" -c "$WA/agent.yaml" 2>&1 | tr -d '\r')
		check "the Windows agent refuses a bundle with a changed $bad ($out)" \
			grep -qE "signature does not verify|does not match its signed hash" <<<"$out"
		out=$("$LINUX_AGENT" rules install "$WORK/tampered-$bad.ewb" -c "$LA/agent.yaml" 2>&1)
		check "the Linux agent refuses it too ($out)" \
			grep -qE "signature does not verify|does not match its signed hash" <<<"$out"
	done
	check "both keep bundle $V" bash -c "
		cmp -s '$LA/state/rules/current.ewb' '$D/bundles/bundle-$V.ewb' &&
		cmp -s '$WA/state/rules/current.ewb' '$D/bundles/bundle-$V.ewb'"
}

# The scan's isolation: libyara runs in a jailed child (`_scanner`, jail.h)
# that only gets handles. A child killed in the middle of a file (as a
# crash on hostile bytes would end it) makes that file an error; a new
# child takes the next file, which still matches; nothing is left running.
scenario_scan_jail() {
	local J="$WORK/jail" out rc pid
	mkdir -p "$J/s"
	cat >"$J/slow.yar" <<-'EOF'
		rule EW_Slow_Loop { condition: for all i in (0..filesize - 1) : (uint8(i) != 0x41 or i >= 0) }
		rule EW_EICAR_At_0 { strings: $e = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR" condition: $e at 0 }
	EOF
	# The walk takes names in order: the slow file first. Large enough
	# (under scan.max_file_size, 64 MiB) that its scan outlasts the
	# second before the kill on a quiet machine too: 8 MB took under one.
	head -c 60000000 /dev/zero >"$J/s/a-slow.bin"
	cp "$S/eicar/eicar.com" "$J/s/z-eicar.com"
	agent scan --json --rules "$J/slow.yar" "$J/s" >"$J/out" 2>"$J/err" &
	local spid=$!
	check "the scan runs libyara in a child process of its own" \
		wait_for 30 bash -c 'scanner_child_pid >/dev/null'
	pid=$(scanner_child_pid)
	sleep 1
	kill -9 "$pid" 2>/dev/null
	wait "$spid"
	rc=$?
	out=$(tr -d '\r' <"$J/out")
	check "the file the child died on is an error that says so" \
		grep -q '"path":"[^"]*a-slow.bin","verdict":"error".*"reason":"the isolated scanner stopped on this file"' <<<"$out"
	check "a new child scans the next file and finds the match (exit $rc)" \
		eval 'grep -q "z-eicar.com\",\"verdict\":\"match\".*EW_EICAR_At_0" <<<"$out" && [ "$rc" -eq 5 ]'
	check "the summary counts the restart" grep -q '"errors":1,.*"restarts":1,' <<<"$out"
	check "no scanner child is left running" bash -c '! scanner_child_pid >/dev/null'
}

teardown() {
	agents_down
}

run_scenarios
