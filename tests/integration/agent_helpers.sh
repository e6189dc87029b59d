#!/bin/bash
# The agent's helper executables (issue 13): scan, sniff and backup run in
# eduwatch-scanner, eduwatch-sensor and eduwatch-backup, found beside the
# agent's own binary and never through PATH, so that the resident agent
# maps none of libyara, libpcap or libseccomp. A helper that is missing,
# or that someone other than its owner may write, is refused by name.
# Scenarios run alone by name: make test ONLY=agent_helpers:writable_helper
. "$(dirname "$0")/lib.bash"
B="$WORK/bin"
mkdir -p "$B" "$WORK/path" "$WORK/files"
cp -p "$EW_BIN"/eduwatch-* "$B/"
echo "nothing to see" >"$WORK/files/a.txt"

scenario_linkage() {
	local lib
	for lib in libyara libpcap libseccomp; do
		check "the agent executable does not link $lib" \
			bash -c "! readelf -d '$B/eduwatch-agent' | grep -q '$lib'"
	done
	check "the scanner links libyara" bash -c "readelf -d '$B/eduwatch-scanner' | grep -q libyara"
	check "the sensor links libpcap" bash -c "readelf -d '$B/eduwatch-sensor' | grep -q libpcap"
}

# The commands keep their spelling: eduwatch-agent hands them over whole.
scenario_commands() {
	local out rc=0
	out=$("$B/eduwatch-agent" -c /nonexistent scan "$WORK/files" --rules "$RULES/yara" --json 2>&1)
	check "eduwatch-agent scan runs in the scanner and scans" grep -q '"summary":{"files":1,"scanned":1' <<<"$out"
	"$B/eduwatch-agent" -c /nonexistent sniff 2>"$WORK/sniff.err" || rc=$?
	check "eduwatch-agent sniff keeps its usage errors (exit 2)" eq "$rc" 2
	check "... with its message" grep -q "sniff needs --pcap FILE" "$WORK/sniff.err"
}

# Missing beside the agent: refused, even with one on PATH.
scenario_missing_helper() {
	local out rc=0
	mv "$B/eduwatch-scanner" "$WORK/path/eduwatch-scanner"
	out=$(PATH="$WORK/path:$PATH" "$B/eduwatch-agent" -c /nonexistent scan "$WORK/files" 2>&1) || rc=$?
	check "a missing helper is an error (exit 1), not one found on PATH" eq "$rc" 1
	check "... that names where it was looked for" grep -q "$B/eduwatch-scanner: no such file or directory (it is installed beside the agent)" <<<"$out"
	mv "$WORK/path/eduwatch-scanner" "$B/eduwatch-scanner"
}

# Writable by others: whoever can write it would run as root.
scenario_writable_helper() {
	local out rc=0
	chmod g+w "$B/eduwatch-backup"
	out=$("$B/eduwatch-agent" -c /nonexistent backup list --repo "$WORK/repo" 2>&1) || rc=$?
	check "a group-writable helper is refused (exit 1)" eq "$rc" 1
	check "... by name" grep -q "helper $B/eduwatch-backup is not a file owned by root and writable only by its owner; refusing to run it" <<<"$out"
	chmod g-w "$B/eduwatch-backup"
	chmod o+w "$B/eduwatch-sensor"
	out=$("$B/eduwatch-agent" -c /nonexistent sniff --pcap /nonexistent 2>&1)
	check "a world-writable helper is refused" grep -q "refusing to run it" <<<"$out"
	chmod o-w "$B/eduwatch-sensor"
	rm "$B/eduwatch-sensor"
	ln -s "$EW_BIN/eduwatch-sensor" "$B/eduwatch-sensor"
	out=$("$B/eduwatch-agent" -c /nonexistent sniff --pcap /nonexistent 2>&1)
	check "a symlinked helper pointing at a sound file still runs" bash -c "! grep -q 'refusing' <<<'$out'"
}

# The running agent: its helpers run, and it maps none of their libraries.
scenario_running_agent() {
	local apid maps lib
	D="$WORK/collector"
	A="$WORK/agent"
	mkdir -p "$A" "$WORK/docs" "$WORK/repo"
	echo "Hồ sơ" >"$WORK/docs/hs.txt"
	collector_with_agent 79031 "$A" || { not_ok "collector and agent"; return; }
	"$B/eduwatch-agent" run -c "$A/agent.yaml" \
		-o scan.full_paths="$WORK/files" -o scan.quick_paths="$WORK/files" \
		-o av.products_file="$RULES/av-products.txt" \
		-o backup.repo="$WORK/repo" -o backup.paths="$WORK/docs" \
		-o backup.rpo=1h -o backup.check_interval=1s >>"$WORK/agent.log" 2>&1 &
	apid=$!
	check "the backup job runs in its helper and is reported" \
		wait_event 60 '"kind":"backup.status".*"action":"backup","ok":true'
	"$COLLECTOR" command send --agent "$ID" --type scan --kind paths --path "$WORK/files" -c "$CONF" >/dev/null
	check "a scan runs in the scanner helper" wait_event 60 '"kind":"scan.summary"'
	maps=$(cat "/proc/$apid/maps" 2>/dev/null)
	check "the running agent maps libcrypto (it speaks TLS)" grep -q libcrypto <<<"$maps"
	for lib in libyara libpcap libseccomp; do
		check "the running agent does not map $lib" bash -c "! grep -q '$lib' <<<'$maps'"
	done
}

run_scenarios
