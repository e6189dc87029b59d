#!/bin/bash
# The enrollment port against unauthenticated attackers: every error path
# of a request answers with an error frame and leaves the collector
# serving; idle connections cannot block enrollment; a host name cannot
# forge log lines; wrong tokens slow their address down. A real collector
# over loopback TLS; the attacks come from tests/integration/hostile.py.
# Scenarios run alone by name: make test ONLY=enroll_hostile:idle_conns
. "$(dirname "$0")/lib.bash"
HOSTILE="$PY $(dirname "$0")/hostile.py"
D=$WORK/collector
LOG=$WORK/collector.log

setup() {
	collector_init "$D" || { not_ok "collector init"; return 1; }
	"$COLLECTOR" school add 79001 "Trường 79001" --commune "Xã test" --level 2 \
		--expected-pcs 40 -c "$CONF" >/dev/null
	collector_start "$LOG" || { not_ok "collector starts"; return 1; }
	TOKEN=$("$COLLECTOR" token create --school 79001 --uses 40 -c "$CONF" 2>/dev/null)
}

alive() { kill -0 "$COLLECTOR_PID" 2>/dev/null; }
attack() { # attack WHAT [more args]: one request, prints the outcome
	local what=$1; shift
	$HOSTILE enroll --port "$ENROLL_PORT" --ca "$D/ca.crt" --what "$what" \
		--token "$TOKEN" "$@" 2>&1
}

# Each of these killed the collector before (a NULL work item on the error
# path) or is an error path of its own. Every one must get its error code
# and leave the collector running.
expect() { # expect WHAT CODE
	local out
	out=$(attack "$1")
	if [[ $out == "error:$2 "* ]] && alive; then
		ok "enroll port: $1 answered '$2', collector alive"
	else
		not_ok "enroll port: $1 answered '$2', collector alive (got: $out)"
	fi
}
scenario_error_paths() {
	expect header-ffffffff bad_frame
	expect zero-length bad_frame
	expect over-32k bad_frame
	expect no-host bad_host
	expect long-host bad_host
	expect newline-host bad_host
	expect escape-host bad_host
	expect utf8-host bad_host
	expect big-csr bad_frame
	expect ping bad_frame
	expect hello bad_frame
	expect not-msgpack bad_frame
	expect not-a-map bad_frame
	expect no-type bad_frame
	expect token-not-str bad_frame
	expect token-nul bad_frame
	expect bad-csr bad_csr
	expect csr-nul bad_csr # found by fuzz_enroll: a read past the copy
	# What the host names above tried to write into the log.
	check "no forged line in the log from a host name with a newline" \
		eval '! grep -q "^2026-01-01T00:00:00.000Z eduwatch-collector info: enroll: FORGED" "$LOG"'
	check "no escape byte in the log" eval '! grep -q $'"'"'\x1b'"'"' "$LOG"'
}

# Hanging up right after the request: the work finishes on the threadpool
# after its connection is gone.
scenario_hangup() {
	for i in 1 2 3; do attack valid --hangup >/dev/null; done
	sleep 1 # the threadpool's time to finish the orphaned work
	check "a peer that hangs up mid-request leaves the collector alive" alive
}

scenario_two_frames() {
	local out
	out=$(attack two-frames)
	check "two frames in one write: one answer, the first request counts ($out)" \
		eval '[[ $out == enrolled:* ]]'
}

# 40 silent TCP connections from one address: the per-address cap refuses
# most at once, the handshake deadline drops the rest, and a PC on another
# address enrolls meanwhile.
scenario_idle_conns() {
	local idle out
	$HOSTILE idle-tcp --port "$ENROLL_PORT" --ca "$D/ca.crt" --count 40 \
		--hold 8 >"$WORK/idle.out" 2>&1 &
	idle=$!
	sleep 1 # the idle connections' time to open; a late one only helps the PC
	out=$(attack valid --source 127.0.0.2)
	check "enrollment from another address works while one address holds 40 idle connections ($out)" \
		eval '[[ $out == enrolled:* ]]'
	wait $idle
	check "every idle connection is closed within the handshake deadline ($(tail -1 "$WORK/idle.out"))" \
		grep -q "^closed 40 of 40" "$WORK/idle.out"
}

# Wrong tokens: the first few are answered at once, then each waits longer.
scenario_guess_backoff() {
	local fast slow out
	$HOSTILE guess --port "$ENROLL_PORT" --ca "$D/ca.crt" --source 127.0.0.3 \
		--count 8 >"$WORK/guess.out" 2>&1
	check "wrong tokens are refused as unknown" \
		eval '[ "$(grep -c token_unknown "$WORK/guess.out")" -eq 8 ]'
	fast=$(awk '$1 < 5 && $3 < 1.0' "$WORK/guess.out" | wc -l)
	slow=$(awk '$1 == 7 && $3 >= 1.5' "$WORK/guess.out" | wc -l)
	check "the first 5 guesses are answered at once ($fast of 5)" eq "$fast" 5
	check "the 8th guess waits (backoff after failures)" eq "$slow" 1
	out=$(attack valid --source 127.0.0.4)
	check "another address is not slowed by them ($out)" eval '[[ $out == enrolled:* ]]'
}

# Stopping while enrollments are at work on the threadpool: the store is
# closed only after the last one is back (it was freed under them).
teardown() {
	local i rc=0
	check "collector still serving" alive
	for i in 1 2 3 4 5 6; do attack valid --source 127.0.0.5 --hangup >/dev/null 2>&1 & done
	sleep 0.3 # the requests' time to reach the threadpool
	collector_stop || rc=$?
	wait
	check "collector stops cleanly with enrollments in flight" eq $rc 0
	check "and says so" grep -q "collector: stopped" "$LOG"
}

run_scenarios
