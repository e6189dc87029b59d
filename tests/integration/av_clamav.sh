#!/bin/bash
# Antivirus status against a real clamd (Debian's clamav-daemon) started by
# the test: a one-signature database made with sigtool, its own config and
# socket; a daily.cvd header written here (two days old) for the
# signature-age reading; then clamonacc for real-time protection, and a
# product recognised only by its name in the data file.
# Scenarios run alone by name: make test ONLY=av_clamav:on_access
. "$(dirname "$0")/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
JSONQ="$PY $(dirname "$0")/py/jsonq.py"
C="$WORK/clam"
mkdir -p "$C/db" "$C/sigs" "$C/watch" "$C/state"
echo "eduwatch clamd test sample" >"$C/sample.txt"
sigtool --md5 "$C/sample.txt" >"$C/db/eduwatch-test.hdb"
$PY "$(dirname "$0")/py/clamav.py" daily-cvd "$C/sigs/daily.cvd" 2
cat >"$C/clamd.conf" <<CONF
LocalSocket $C/clamd.sock
DatabaseDirectory $C/db
Foreground yes
PidFile $C/clamd.pid
User root
LogFile $C/clamd.log
CONF
# The products list: a name this test runs (sleep under another name).
printf '# test list\new-fake-av   Test Vendor AV\nnot-running-av Nobody AV\n' >"$C/products.txt"
cat >"$WORK/agent.yaml" <<YAML
collector:
  host: 127.0.0.1
state_dir: $C/state
av:
  clamd_socket: $C/clamd.sock
  clamav_db: $C/sigs
  clamd_conf: $C/clamd.conf
  products_file: $C/products.txt
YAML
av() { "$AGENT" av --json -c "$WORK/agent.yaml"; }
field() { $JSONQ get "$1"; } # field PATH <<<JSON

scenario_no_clamd() {
	local j
	j=$(av)
	check "without clamd: ClamAV is found but off ($j)" eq "$(field products.0.state <<<"$j")" off
	check "without clamd: no real-time protection" eq "$(field realtime <<<"$j")" false
}

# clamd_up: the test's clamd, started once and kept for the scenarios
# after the one that started it (clamd_stops ends it).
clamd_up() {
	[ -S "$C/clamd.sock" ] && return 0
	clamd -c "$C/clamd.conf" >"$C/clamd.out" 2>&1 &
	keep_running $!
	wait_for 30 test -S "$C/clamd.sock"
}

scenario_clamd() {
	local j
	clamd_up
	check "clamd started with the sigtool database" test -S "$C/clamd.sock"
	j=$(av)
	check "clamd answers PING: ClamAV is on ($j)" eq "$(field products.0.state <<<"$j")" on
	check "VERSION gives the engine version" grep -q '"version":"1\.' <<<"$j"
	check "the signature age comes from the daily.cvd header: 2 days" \
		eq "$(field sig_age_days <<<"$j")" 2
	check "the header's build time is reported" \
		test "$(field products.0.sig_time_us <<<"$j")" -gt 0
	check "clamd alone is not real-time protection" eq "$(field realtime <<<"$j")" false
	check "the detail says on-access is not configured" \
		grep -q "on-access not configured" <<<"$(field products.0.detail <<<"$j")"
	check "freshclam is reported as not running" \
		grep -q "freshclam not running" <<<"$(field products.0.detail <<<"$j")"
}

# On-access: configure it and start the real clamonacc.
zombie_named() { # zombie_named NAME: a process of that name has ended, unreaped
	local f
	for f in $(grep -lxs "$1" /proc/[0-9]*/comm); do
		grep -qs '^State:[[:space:]]*Z' "${f%comm}status" && return 0
	done
	return 1
}
scenario_on_access() {
	local j
	clamd_up
	printf 'OnAccessIncludePath %s\nOnAccessExcludeUname root\n' "$C/watch" >>"$C/clamd.conf"
	j=$(av)
	check "configured but clamonacc not running: still not real time" \
		eq "$(field realtime <<<"$j")" false
	# A clamonacc that crashed and was not reaped yet (a zombie in /proc,
	# its name still there) is no protection either: a copy of true of
	# that name, child of a shell that became sleep and never reaps it.
	cp /bin/true "$WORK/clamonacc"
	bash -c '"$1" & exec sleep 30' _ "$WORK/clamonacc" &
	local holder=$!
	wait_for 5 zombie_named clamonacc
	j=$(av)
	check "a zombie clamonacc is not real-time protection" eq "$(field realtime <<<"$j")" false
	kill_ours "$holder"
	wait "$holder" 2>/dev/null
	clamonacc -c "$C/clamd.conf" -F -l "$C/onacc.log" >"$C/onacc.out" 2>&1 &
	keep_running $!
	wait_for 5 grep -q watching "$C/onacc.log" 2>/dev/null
	j=$(av)
	check "clamd + clamonacc: real-time protection on ($j)" eq "$(field realtime <<<"$j")" true
	"$AGENT" av -c "$WORK/agent.yaml" >"$WORK/av.txt"
	check "the text view says protected and the age" \
		grep -q "protected in real time: yes; signature age: 2 day" "$WORK/av.txt"
}

# A product known only by name: found while its process runs.
# (each look keeps its answer in j: the checks read the last one)
listed_running() { j=$(av); $JSONQ select products name "Test Vendor AV" state <<<"$j" | grep -qx '\["unknown"\]'; }
scenario_named_product() {
	local j
	cp /bin/sleep "$WORK/ew-fake-av"
	"$WORK/ew-fake-av" 60 &
	wait_for 10 listed_running
	check "a listed product that runs is reported, state unknown" \
		eq "$($JSONQ select products name "Test Vendor AV" state <<<"$j")" '["unknown"]'
	check "a listed product that is absent is not" \
		eq "$($JSONQ select products name "Nobody AV" <<<"$j")" '[]'
}

# clamd goes away: the state changes back.
clamav_off() { j=$(av); $JSONQ get products.0.state <<<"$j" | grep -qx off; }
scenario_clamd_stops() {
	local j
	clamd_up
	kill_ours -TERM "$(cat "$C/clamd.pid")"
	wait_for 5 test ! -S "$C/clamd.sock"
	wait_for 10 clamav_off
	check "after clamd stops: ClamAV off, no real time" \
		eq "$(field products.0.state <<<"$j") $(field realtime <<<"$j")" "off false"
}

run_scenarios
