#!/bin/bash
# What an enrolled PC, or an older collector, can leave in the store must
# not mislead the officers who read it (issue 12, findings 7, 8 and 9):
#  - an av.status stamped in the year 2100 is stored at the receive time
#    and flagged; the honest report after it decides the score;
#  - host names, school names, kinds and evidence with terminal escapes
#    or newlines come out escaped in every text listing;
#  - init on an existing 0755 folder makes it 0700; the event store and
#    its -wal/-shm are 0600, and an old 0644 store is brought to 0600.
# Real collector, real TLS on loopback, a real SQLite file.
# SQLite only (no EW_STORE=pg twin): the file modes are the SQLite file's
# and its -wal/-shm's, and untrusted.py writes an older collector's rows
# into that file; on PostgreSQL the server owns its files, and the
# escaping of what comes out is the CLI's, the same on both stores.
# Scenarios run alone by name: make test ONLY=collector_untrusted:peer_strings
. "$(dirname "$0")/lib.bash"
SEND="$PY $(dirname "$0")/agentsend.py"
UNTRUSTED="$PY $(dirname "$0")/py/untrusted.py"
D="$WORK/collector"
LOG="$WORK/collector.log"
umask 022

setup() {
	mkdir -m 0755 "$D"
	collector_init "$D" 2>"$WORK/init.err" || { not_ok "collector init"; return 1; }
	"$COLLECTOR" school add 79001 "THCS Nguyễn Du" --commune "Phường 1" --level 2 \
		--expected-pcs 2 -c "$CONF" >/dev/null
	collector_start "$LOG" || { not_ok "collector start"; return 1; }
	TOKEN=$("$COLLECTOR" token create --school 79001 --uses 2 -c "$CONF" 2>/dev/null)
	"$LOADGEN" --host 127.0.0.1 --port "$INGEST_PORT" --enroll-port "$ENROLL_PORT" \
		--ca "$D/ca.crt" --token "$TOKEN" --state "$WORK/ag" --agents 1 --enroll-only \
		>"$WORK/enroll.out" 2>&1
	AG=$(cat "$WORK/ag/agent-0.id" 2>/dev/null)
	check "an agent enrolls" test -n "$AG"
	A=(127.0.0.1 "$INGEST_PORT" "$D/ca.crt" "$WORK/ag/agent-0.crt" "$WORK/ag/agent-0.key" "$AG" 77)
}

# ---- finding 9: file modes -------------------------------------------------
scenario_init_modes() {
	check "init on an existing 0755 --dir makes it 0700" eq "$(stat -c %a "$D")" 700
	check "init says it changed the folder's mode" grep -q "made it 0700" "$WORK/init.err"
	check "the event store is created 0600" eq "$(stat -c %a "$D/eduwatch.db")" 600
}

# ---- finding 7: a far-future ts does not pin the PC's state ------------------
now_us() { echo $(($(date +%s) * 1000000)); }
Y2100=4102444800000000
scenario_future_ts() {
	local r av_pass clamped
	r=$($SEND "${A[@]}" "[{\"seq\":1,\"ts\":$Y2100,\"kind\":\"av.status\",\"sev\":8,
		\"body\":{\"realtime\":false,\"sig_age_days\":1,\"engine\":\"clamav\"}}]")
	check "the collector acks an av.status stamped in 2100 ($r)" grep -q acked <<<"$r"
	sleep 1.1 # the honest report's receive time is a later second
	r=$($SEND "${A[@]}" "[{\"seq\":2,\"ts\":$(now_us),\"kind\":\"av.status\",\"sev\":1,
		\"body\":{\"realtime\":true,\"sig_age_days\":1,\"engine\":\"clamav\"}}]")
	check "then an honest av.status with real-time protection on ($r)" grep -q acked <<<"$r"
	"$COLLECTOR" score --school 79001 --json -c "$CONF" >"$WORK/score.json"
	av_pass=$($UNTRUSTED check-pass "$WORK/score.json" "$AG" av-realtime)
	check "the score follows the honest report, not the one from 2100" eq "$av_pass" True
	"$COLLECTOR" events list --agent "$AG" --json -c "$CONF" >"$WORK/events.json"
	clamped=$($UNTRUSTED clamped "$WORK/events.json")
	echo "$clamped" | sed 's/^/# /'
	check "events list --json flags the 2100 event as clamped, keeping the agent's ts" \
		grep -qE "^1 True 2100 $(date -u +%Y)\$" <<<"$clamped"
	check "the honest event is not flagged" grep -q "^2 False" <<<"$clamped"
	check "events list (text) says the ts was clamped" \
		grep -q "ts clamped: the agent said 2100" <("$COLLECTOR" events list --agent "$AG" -c "$CONF")
	check "agent list counts the clamped event" \
		grep -q "1 FUTURE-TS CLAMPED" <("$COLLECTOR" agent list -c "$CONF")
	check "the collector logs the clamp" grep -q "agent $AG sent 1 event(s) stamped more than 600 s ahead" "$LOG"
}

# ---- finding 8: peer strings are escaped on the terminal ---------------------
# A PC enrolled by an older collector, whose host name was not checked,
# and what it reported: written straight into the store, as they would
# be there.
scenario_peer_strings() {
	local cmd out
	$UNTRUSTED inject "$D/eduwatch.db"
	for cmd in "agent list" "alerts list" "score --school 79001" "events list" "school list"; do
		out=$("$COLLECTOR" $cmd -c "$CONF" 2>&1)
		check "'$cmd' prints no terminal escape, control byte or forged line" \
			bash -c '! LC_ALL=C grep -qE $'"'"'\x1b|\r|\x07|\xe2\x80\xae|\xc2\x9b|^FORGED'"'"' <<<"$1"' _ "$out"
	done
	check "agent list shows the escaped host name" \
		grep -qF 'pc\x1b[2J\x1b]0;owned\x07\x0aFORGED line\x0d\u{202e}evil\u{9b}' <("$COLLECTOR" agent list -c "$CONF")
	check "score keeps a Vietnamese school name readable" \
		grep -q "THCS Nguyễn Du" <("$COLLECTOR" score --school 79001 -c "$CONF")
}

# ---- finding 9: -wal and -shm, and a store left 0644 by an older version ----
scenario_store_modes() {
	check "the store's -wal is 0600" eq "$(stat -c %a "$D/eduwatch.db-wal")" 600
	check "the store's -shm is 0600" eq "$(stat -c %a "$D/eduwatch.db-shm")" 600
	collector_stop
	chmod 0644 "$D/eduwatch.db"
	[ -f "$D/eduwatch.db-wal" ] && chmod 0644 "$D/eduwatch.db-wal"
	"$COLLECTOR" agent list -c "$CONF" >/dev/null 2>"$WORK/cli.err"
	check "a 0644 store from an older version is made 0600 when opened" eq "$(stat -c %a "$D/eduwatch.db")" 600
	check "with a log line saying so" grep -q "was readable by others (mode 644); made it 0600" "$WORK/cli.err"
}

run_scenarios
