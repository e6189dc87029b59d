#!/bin/bash
# Collector core, end to end on loopback with real TLS, a real SQLite file
# and the real collector process:
#  - 50 agents x 2,000 events give exactly 100,000 stored events;
#  - sending everything again still gives 100,000 (all acked as duplicates);
#  - kill -9 of the collector mid-run, a restart and the loadgen's resends
#    give exactly the events sent, none missing, none twice;
#  - every kind of bad input closes only its own connection, with a log
#    line and a counter, while a well-behaved agent keeps working.
. "$(dirname "$0")/lib.bash"
BAD="$(dirname "$0")/badclient.py"
D="$WORK/collector"
LOG="$WORK/collector.log"

collector_init "$D" && ok "collector init creates CA, certificates, database" ||
	{ not_ok "collector init"; tap_finish; exit 1; }
for f in ca.key ca.crt server.key server.crt eduwatch.db collector.yaml; do
	[ -f "$D/$f" ] || not_ok "init created $f"
done
check "ca.key is mode 0600" eq "$(stat -c %a "$D/ca.key")" 600

"$COLLECTOR" school add 79001 "THCS Nguyễn Du" --commune "Phường 1" --level 2 \
	--expected-pcs 60 -c "$CONF" >/dev/null
check "school add and list" grep -q "THCS Nguyễn Du" <("$COLLECTOR" school list -c "$CONF")
"$COLLECTOR" token create --school 99999 -c "$CONF" >/dev/null 2>&1
check "token for an unknown school exits 4" eq $? 4
TOKEN=$("$COLLECTOR" token create --school 79001 --uses 60 --expires 1h -c "$CONF" 2>/dev/null)
check "token create prints a token" grep -qE '^ewt_[A-Za-z0-9_-]{43}$' <<<"$TOKEN"

collector_start "$LOG" && ok "collector serves ingest and enroll ports" || not_ok "collector start"

LG=("$LOADGEN" --host 127.0.0.1 --port "$INGEST_PORT" --enroll-port "$ENROLL_PORT"
	--ca "$D/ca.crt" --token "$TOKEN" --state "$WORK/agents" --deadline 300)
out=$("${LG[@]}" --agents 50 --events 2000 --boot-seed 1)
echo "# $out"
check "loadgen: 50 agents x 2000 events all acked" grep -q 'acked=100000 .*complete=yes' <<<"$out"
check "exactly 100000 events stored" eq "$("$COLLECTOR" events count -c "$CONF")" 100000
check "50 agents enrolled in school 79001" eq "$("$COLLECTOR" agent list --school 79001 -c "$CONF" | wc -l)" 50

out=$("${LG[@]}" --agents 50 --events 2000 --boot-seed 1)
echo "# resend: $out"
check "resending everything is acked as 100000 duplicates" grep -q 'duplicates=100000' <<<"$out"
check "still exactly 100000 events after the resend" eq "$("$COLLECTOR" events count -c "$CONF")" 100000

# kill -9 mid-run, twice, at points of progress rather than of time (10%
# and 50% of the new events stored), so the kills always land mid-run;
# the loadgen resends from its first unacked seq.
stored_at_least() { # stored_at_least N: wait until N events are stored
	for _ in $(seq 400); do
		[ "$("$COLLECTOR" events count -c "$CONF")" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
"${LG[@]}" --agents 50 --events 2000 --boot-seed 2 --batch 5 --window 1 >"$WORK/kill.out" 2>&1 &
lg_pid=$!
stored_at_least 110000
kill -9 "$COLLECTOR_PID"
wait "$COLLECTOR_PID" 2>/dev/null
sleep 0.5
collector_start "$LOG" || not_ok "collector restart after kill -9"
stored_at_least 150000
kill -9 "$COLLECTOR_PID"
wait "$COLLECTOR_PID" 2>/dev/null
collector_start "$LOG" || not_ok "collector second restart after kill -9"
wait "$lg_pid"
lg_rc=$?
echo "# kill -9 run: $(cat "$WORK/kill.out" | tail -1)"
check "loadgen completed across two kill -9 of the collector" eq "$lg_rc" 0
check "the loadgen had to reconnect (the kill hit mid-run)" grep -qE 'reconnects=[1-9]' "$WORK/kill.out"
check "exactly 200000 events: the second run's 100000 are all there once" \
	eq "$("$COLLECTOR" events count -c "$CONF")" 200000

# ---- bad input: each closes its own connection, logged and counted ----
AG=$(cat "$WORK/agents/agent-0.id")
AC=("$WORK/agents/agent-0.crt" "$WORK/agents/agent-0.key" "$AG")
# A well-behaved agent keeps sending, in rounds, all through this section.
(
	round=10
	while [ ! -f "$WORK/stop-good" ]; do
		# Their own identities: agent-0 of the main set is revoked below.
		"${LG[@]}" --state "$WORK/good-agents" --agents 3 --events 2000 \
			--boot-seed $round --batch 20 --window 1 || exit 1
		round=$((round + 1))
	done
) >"$WORK/good.out" 2>&1 &
good_pid=$!
for mode in garbage oversize badkind wrongagent bigbody; do
	r=$($PY "$BAD" $mode 127.0.0.1 "$INGEST_PORT" "$D/ca.crt" "${AC[@]}")
	check "bad input '$mode': connection closed with an error frame ($r)" test $? -eq 0
done
check "log names the agent for a malformed frame" grep -q "closing agent $AG .*malformed frame" "$LOG"
check "log explains an oversized frame" grep -q "frame length 0 or over 1048576" "$LOG"
check "log explains an unknown event kind" grep -q "unknown event kind 'evil.kind'" "$LOG"
check "log explains an identity mismatch" grep -q "event for agent 'someone-else'" "$LOG"
check "log explains an oversized body" grep -q "field 'body' is .* bytes, limit 65536" "$LOG"

# A client certificate from another CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj "/CN=$AG/OU=79001" -keyout "$WORK/other.key" -out "$WORK/other.crt" 2>/dev/null
r=$($PY "$BAD" othercert 127.0.0.1 "$INGEST_PORT" "$D/ca.crt" "$WORK/other.crt" "$WORK/other.key")
check "certificate from another CA refused ($r)" test $? -eq 0
check "log records the failed handshake" grep -q "handshake with 127.0.0.1:[0-9]* failed" "$LOG"

# Tokens: replayed, expired, foreign; and a CSR that is not one.
ONE=$("$COLLECTOR" token create --school 79001 --uses 1 -c "$CONF" 2>/dev/null)
"$LOADGEN" --ca "$D/ca.crt" --enroll-port "$ENROLL_PORT" --port "$INGEST_PORT" --token "$ONE" \
	--state "$WORK/t1" --agents 1 --enroll-only >/dev/null 2>&1
check "a one-use token enrolls once" test $? -eq 0
r=$("$LOADGEN" --ca "$D/ca.crt" --enroll-port "$ENROLL_PORT" --token "$ONE" --state "$WORK/t2" --agents 1 --enroll-only 2>&1)
check "a replayed token is refused as used" grep -q "token_used" <<<"$r"
EXP=$("$COLLECTOR" token create --school 79001 --uses 5 --expires 1s -c "$CONF" 2>/dev/null)
sleep 2
r=$("$LOADGEN" --ca "$D/ca.crt" --enroll-port "$ENROLL_PORT" --token "$EXP" --state "$WORK/t3" --agents 1 --enroll-only 2>&1)
check "an expired token is refused" grep -q "token_expired" <<<"$r"
r=$("$LOADGEN" --ca "$D/ca.crt" --enroll-port "$ENROLL_PORT" --token "ewt_thisTokenComesFromAnotherCollectorXXXXXXX" --state "$WORK/t4" --agents 1 --enroll-only 2>&1)
check "a foreign token is refused as unknown" grep -q "token_unknown" <<<"$r"
r=$($PY "$BAD" enroll 127.0.0.1 "$ENROLL_PORT" "$D/ca.crt" "$TOKEN")
check "a CSR that is not one is refused ($r)" grep -q "bad_csr" <<<"$r"
check "log records each refused enrollment with its reason" \
	test "$(grep -cE 'enroll: refused .*(token_used|token_expired|token_unknown|bad_csr)' "$LOG")" -ge 4

# Revocation of an agent that is connected right now: it is cut off.
"${LG[@]}" --state "$WORK/live-agent" --agents 1 --events 100000 --boot-seed 99 \
	--batch 1 --window 1 >"$WORK/live.out" 2>&1 &
live_pid=$!
sleep 2
LIVE=$(cat "$WORK/live-agent/agent-0.id")
"$COLLECTOR" agent revoke "$LIVE" -c "$CONF" >/dev/null
for _ in $(seq 50); do grep -q "closing agent $LIVE .*agent revoked by an officer" "$LOG" && break; sleep 0.2; done
check "a connected agent is cut off within seconds of its revocation" \
	grep -q "closing agent $LIVE .*agent revoked by an officer" "$LOG"
kill "$live_pid" 2>/dev/null
wait "$live_pid" 2>/dev/null

# Revocation: the next handshake of that agent fails.
"$COLLECTOR" agent revoke "$AG" -c "$CONF" >/dev/null
check "agent revoke" test $? -eq 0
r=$($PY "$BAD" othercert 127.0.0.1 "$INGEST_PORT" "$D/ca.crt" "$WORK/agents/agent-0.crt" "$WORK/agents/agent-0.key")
check "a revoked agent is refused at the handshake ($r)" test $? -eq 0
check "log names the revoked agent" grep -q "refused certificate of agent $AG" "$LOG"
"$COLLECTOR" agent revoke no-such-agent -c "$CONF" >/dev/null 2>&1
check "revoking an unknown agent exits 4" eq $? 4

# Slowloris and a flood of idle connections.
r=$($PY "$BAD" slowloris 127.0.0.1 "$INGEST_PORT" "$D/ca.crt")
check "a slowloris client is closed at the handshake deadline ($r)" test $? -eq 0
r=$($PY "$BAD" idle 127.0.0.1 "$INGEST_PORT" "$D/ca.crt" 10000 6)
check "10,000 idle connections are all closed by the deadline ($(tail -1 <<<"$r"))" test $? -eq 0

touch "$WORK/stop-good"
wait "$good_pid"
check "well-behaved agents were not affected ($(grep -c 'complete=yes' "$WORK/good.out") rounds complete)" eq $? 0

kill -HUP "$COLLECTOR_PID"
sleep 0.3
check "counters: bad frames, bad events, identity, handshakes, timeouts" \
	grep -qE 'bad_frames=[2-9].*bad_events=[2-9].*identity=[1-9].*revoked=[1-9].*handshake_failed=[1-9].*handshake_timeouts=[0-9]{4,}' "$LOG"
collector_stop
check "SIGTERM drains and exits 0" eq $? 0
check "log says it stopped" grep -q "collector: stopped" "$LOG"
tap_finish
