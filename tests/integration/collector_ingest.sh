#!/bin/bash
# Collector core, end to end on loopback with real TLS, a real SQLite file
# and the real collector process:
#  - 50 agents x 2,000 events give exactly 100,000 stored events;
#  - sending everything again still gives 100,000 (all acked as duplicates);
#  - kill -9 of the collector mid-run, a restart and the loadgen's resends
#    give exactly the events sent, none missing, none twice;
#  - every kind of bad input closes only its own connection, with a log
#    line and a counter, while a well-behaved agent keeps working.
# Scenarios (tests/run.sh --list): each runs alone, e.g.
#   make test ONLY=collector_ingest:slowloris
. "$(dirname "$0")/lib.bash"
BAD="$(dirname "$0")/badclient.py"
D="$WORK/collector"
LOG="$WORK/collector.log"
# The load and kill -9 runs' size; collector_ingest_pg.sh runs them
# smaller, as its store costs a round trip per statement.
N_AGENTS=${EW_INGEST_AGENTS:-50}
N_EVENTS=${EW_INGEST_EVENTS:-2000}
TOTAL=$((N_AGENTS * N_EVENTS))

# ingest_collector DIR LOG AGENTS [SETTING...]: a running collector in DIR
# with school 79001 and a 200-use token (the scenarios enroll agents of
# their own) (sets CONF, ports, TOKEN and LG, the loadgen command keeping
# its agents' identities in AGENTS); SETTINGs (key=value) are its -o.
ingest_collector() {
	local dir=$1 log=$2 agents=$3
	# collector_ingest_pg.sh runs these scenarios on PostgreSQL
	# (EW_STORE=pg: collector_init gives it a database).
	collector_init "$dir" || return 1
	collector_set "${@:4}"
	"$COLLECTOR" school add 79001 "THCS Nguyễn Du" --commune "Phường 1" --level 2 \
		--expected-pcs 60 -c "$CONF" >/dev/null || return 1
	TOKEN=$("$COLLECTOR" token create --school 79001 --uses 200 --expires 1h -c "$CONF" 2>/dev/null)
	collector_start "$log" || return 1
	LG=("$LOADGEN" --host 127.0.0.1 --port "$INGEST_PORT" --enroll-port "$ENROLL_PORT"
		--ca "$dir/ca.crt" --token "$TOKEN" --state "$agents" --deadline 300)
}

events_count() { "$COLLECTOR" events count -c "$CONF"; }
stored_at_least() { [ "$(events_count)" -ge "$1" ]; }

# ingest_stat NAME: the ingest counter NAME, from the stats line the
# collector logs on SIGHUP.
stats_lines() { grep -c 'ingest: open=' "$LOG"; }
ingest_stat() {
	local before
	before=$(stats_lines)
	kill -HUP "$COLLECTOR_PID"
	wait_for 20 test_gt stats_lines "$before" || return 1
	grep 'ingest: open=' "$LOG" | tail -1 | grep -o " $1=[0-9]*" | cut -d= -f2
}
test_gt() { [ "$("$1")" -gt "$2" ]; } # test_gt FUNC N: FUNC prints more than N

# An enrolled agent of this scenario's own (sets AG and AC, its id,
# certificate and key): the hostile scenarios speak with its identity.
own_agent() { # own_agent NAME
	"${LG[@]}" --state "$WORK/$1" --agents 1 --enroll-only >/dev/null 2>&1 || return 1
	AG=$(cat "$WORK/$1/agent-0.id")
	AC=("$WORK/$1/agent-0.crt" "$WORK/$1/agent-0.key" "$AG")
}

# Well-behaved agents keep sending, in rounds, all through a hostile
# scenario: good_agents_start NAME, then good_agents_check NAME.
good_agents_start() {
	rm -f "$WORK/stop-$1"
	(
		round=10
		while [ ! -f "$WORK/stop-$1" ]; do
			"${LG[@]}" --state "$WORK/good-$1" --agents 3 --events 2000 \
				--boot-seed $round --batch 20 --window 1 || exit 1
			round=$((round + 1))
		done
	) >"$WORK/good-$1.out" 2>&1 &
	GOOD_PID=$!
	# One round done before the attack starts, as in a PC's steady
	# state: what is measured is their sending under it (enrollment
	# under attack is enroll_hostile's).
	wait_for 120 grep -q 'complete=yes' "$WORK/good-$1.out"
}
good_agents_check() {
	touch "$WORK/stop-$1"
	local rc=0
	wait "$GOOD_PID" || rc=$?
	check "$1: well-behaved agents were not affected ($(grep -c 'complete=yes' "$WORK/good-$1.out") rounds complete)" \
		eq "$rc" 0
}

setup() {
	ingest_collector "$D" "$LOG" "$WORK/agents" &&
		ok "collector init, school, token; it serves ingest and enroll ports" ||
		{ not_ok "collector init and start"; return 1; }
	for f in ca.key ca.crt server.key server.crt eduwatch.db collector.yaml; do
		check "init created $f" test -f "$D/$f"
	done
	check "ca.key is mode 0600" eq "$(stat -c %a "$D/ca.key")" 600
	check "school add and list" grep -q "THCS Nguyễn Du" <("$COLLECTOR" school list -c "$CONF")
	check_status "token for an unknown school exits 4" 4 \
		"$COLLECTOR" token create --school 99999 -c "$CONF"
	check "token create prints a token" grep -qE '^ewt_[A-Za-z0-9_-]{43}$' <<<"$TOKEN"
}

scenario_load() {
	local before agents out
	before=$(events_count)
	agents=$("$COLLECTOR" agent list --school 79001 -c "$CONF" | wc -l)
	out=$("${LG[@]}" --agents $N_AGENTS --events $N_EVENTS --boot-seed 1)
	echo "# $out"
	check "loadgen: $N_AGENTS agents x $N_EVENTS events all acked" grep -q "acked=$TOTAL .*complete=yes" <<<"$out"
	check "exactly $TOTAL events stored" eq "$(($(events_count) - before))" $TOTAL
	check "$N_AGENTS agents enrolled in school 79001" \
		eq "$(($("$COLLECTOR" agent list --school 79001 -c "$CONF" | wc -l) - agents))" $N_AGENTS

	out=$("${LG[@]}" --agents $N_AGENTS --events $N_EVENTS --boot-seed 1)
	echo "# resend: $out"
	check "resending everything is acked as $TOTAL duplicates" grep -q "duplicates=$TOTAL" <<<"$out"
	check "still exactly $TOTAL events after the resend" eq "$(($(events_count) - before))" $TOTAL
}

# kill -9 mid-run, twice, at points of progress rather than of time (10%
# and 50% of the events stored), so the kills always land mid-run; the
# loadgen resends from its first unacked seq. Its own collector: the
# others keep theirs alive.
scenario_kill9() {
	local log="$WORK/kill9.log" lg_pid lg_rc=0
	ingest_collector "$WORK/kill9" "$log" "$WORK/kill9-agents" ||
		{ not_ok "kill9: collector start"; return; }
	"${LG[@]}" --agents $N_AGENTS --events $N_EVENTS --boot-seed 2 --batch 5 --window 1 >"$WORK/kill.out" 2>&1 &
	lg_pid=$!
	wait_for 60 stored_at_least $((TOTAL / 10))
	kill -9 "$COLLECTOR_PID"
	wait "$COLLECTOR_PID" 2>/dev/null
	collector_start "$log" || not_ok "collector restart after kill -9"
	wait_for 60 stored_at_least $((TOTAL / 2))
	kill -9 "$COLLECTOR_PID"
	wait "$COLLECTOR_PID" 2>/dev/null
	collector_start "$log" || not_ok "collector second restart after kill -9"
	wait "$lg_pid" || lg_rc=$?
	echo "# kill -9 run: $(tail -1 "$WORK/kill.out")"
	check "loadgen completed across two kill -9 of the collector" eq "$lg_rc" 0
	check "the loadgen had to reconnect (the kill hit mid-run)" grep -qE 'reconnects=[1-9]' "$WORK/kill.out"
	check "exactly $TOTAL events: the run's events are all there once" eq "$(events_count)" $TOTAL
}

# ---- bad input: each closes its own connection, logged and counted ----
scenario_bad_frames() {
	local mode bf be id
	own_agent bad-agent || { not_ok "bad_frames: enroll an agent"; return; }
	good_agents_start bad_frames
	bf=$(ingest_stat bad_frames) be=$(ingest_stat bad_events) id=$(ingest_stat identity)
	for mode in garbage oversize badkind wrongagent bigbody; do
		check_said "bad input '$mode': connection closed with an error frame" \
			$PY "$BAD" $mode 127.0.0.1 "$INGEST_PORT" "$D/ca.crt" "${AC[@]}"
	done
	check "log names the agent for a malformed frame" grep -q "closing agent $AG .*malformed frame" "$LOG"
	check "log explains an oversized frame" grep -q "frame length 0 or over 1048576" "$LOG"
	check "log explains an unknown event kind" grep -q "unknown event kind 'evil.kind'" "$LOG"
	check "log explains an identity mismatch" grep -q "event for agent 'someone-else'" "$LOG"
	check "log explains an oversized body" grep -q "field 'body' is .* bytes, limit 65536" "$LOG"
	check "counters: bad frames, bad events, identity" \
		test "$(ingest_stat bad_frames)" -ge $((bf + 2)) -a "$(ingest_stat bad_events)" -ge $((be + 2)) \
		-a "$(ingest_stat identity)" -ge $((id + 1))
	good_agents_check bad_frames
}

# A client certificate from another CA.
scenario_othercert() {
	local hf
	own_agent other-agent || { not_ok "othercert: enroll an agent"; return; }
	good_agents_start othercert
	hf=$(ingest_stat handshake_failed)
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj "/CN=$AG/OU=79001" -keyout "$WORK/other.key" -out "$WORK/other.crt" 2>/dev/null
	check_said "certificate from another CA refused" \
		$PY "$BAD" othercert 127.0.0.1 "$INGEST_PORT" "$D/ca.crt" "$WORK/other.crt" "$WORK/other.key"
	check "log records the failed handshake" grep -q "handshake with 127.0.0.1:[0-9]* failed" "$LOG"
	check "counter: failed handshakes" test "$(ingest_stat handshake_failed)" -ge $((hf + 1))
	good_agents_check othercert
}

# Tokens: replayed, expired, foreign; and a CSR that is not one.
scenario_tokens() {
	local one exp r before
	good_agents_start tokens
	before=$(grep -cE 'enroll: refused .*(token_used|token_expired|token_unknown|bad_csr)' "$LOG")
	one=$("$COLLECTOR" token create --school 79001 --uses 1 -c "$CONF" 2>/dev/null)
	check "a one-use token enrolls once" quiet "$LOADGEN" --ca "$D/ca.crt" --enroll-port "$ENROLL_PORT" \
		--port "$INGEST_PORT" --token "$one" --state "$WORK/t1" --agents 1 --enroll-only
	r=$("$LOADGEN" --ca "$D/ca.crt" --enroll-port "$ENROLL_PORT" --token "$one" --state "$WORK/t2" --agents 1 --enroll-only 2>&1)
	check "a replayed token is refused as used" grep -q "token_used" <<<"$r"
	exp=$("$COLLECTOR" token create --school 79001 --uses 5 --expires 1s -c "$CONF" 2>/dev/null)
	sleep 2 # the token's lifetime, not a synchronisation
	r=$("$LOADGEN" --ca "$D/ca.crt" --enroll-port "$ENROLL_PORT" --token "$exp" --state "$WORK/t3" --agents 1 --enroll-only 2>&1)
	check "an expired token is refused" grep -q "token_expired" <<<"$r"
	r=$("$LOADGEN" --ca "$D/ca.crt" --enroll-port "$ENROLL_PORT" --token "ewt_thisTokenComesFromAnotherCollectorXXXXXXX" --state "$WORK/t4" --agents 1 --enroll-only 2>&1)
	check "a foreign token is refused as unknown" grep -q "token_unknown" <<<"$r"
	r=$($PY "$BAD" enroll 127.0.0.1 "$ENROLL_PORT" "$D/ca.crt" "$TOKEN")
	check "a CSR that is not one is refused ($r)" grep -q "bad_csr" <<<"$r"
	check "log records each refused enrollment with its reason" \
		test "$(grep -cE 'enroll: refused .*(token_used|token_expired|token_unknown|bad_csr)' "$LOG")" -ge $((before + 4))
	good_agents_check tokens
}

# Revocation of an agent that is connected right now: it is cut off.
has_events() { "$COLLECTOR" events list --agent "$1" --limit 1 --json -c "$CONF" | grep -q "$1"; }
cut_off() { grep -q "closing agent $1 .*agent revoked by an officer" "$LOG"; }
scenario_revoke_live() {
	local live_pid live
	good_agents_start revoke_live
	"${LG[@]}" --state "$WORK/live-agent" --agents 1 --events 100000 --boot-seed 99 \
		--batch 1 --window 1 >"$WORK/live.out" 2>&1 &
	live_pid=$!
	# Revoke it once it is connected and sending: its first event stored.
	wait_for 30 test -s "$WORK/live-agent/agent-0.id"
	live=$(cat "$WORK/live-agent/agent-0.id")
	wait_for 30 has_events "$live"
	"$COLLECTOR" agent revoke "$live" -c "$CONF" >/dev/null
	wait_for 10 cut_off "$live"
	check "a connected agent is cut off within seconds of its revocation" cut_off "$live"
	kill_ours "$live_pid"
	wait "$live_pid" 2>/dev/null
	good_agents_check revoke_live
}

# Revocation: the next handshake of that agent fails.
scenario_revoke() {
	local rv
	own_agent revoked-agent || { not_ok "revoke: enroll an agent"; return; }
	good_agents_start revoke
	rv=$(ingest_stat revoked)
	check "agent revoke" quiet "$COLLECTOR" agent revoke "$AG" -c "$CONF"
	check_said "a revoked agent is refused at the handshake" \
		$PY "$BAD" othercert 127.0.0.1 "$INGEST_PORT" "$D/ca.crt" "${AC[0]}" "${AC[1]}"
	check "log names the revoked agent" grep -q "refused certificate of agent $AG" "$LOG"
	check_status "revoking an unknown agent exits 4" 4 "$COLLECTOR" agent revoke no-such-agent -c "$CONF"
	check "counter: refused revoked agents" test "$(ingest_stat revoked)" -ge $((rv + 1))
	good_agents_check revoke
}

# Slowloris and a flood of idle connections.
scenario_slowloris() {
	good_agents_start slowloris
	check_said "a slowloris client is closed at the handshake deadline" \
		$PY "$BAD" slowloris 127.0.0.1 "$INGEST_PORT" "$D/ca.crt"
	good_agents_check slowloris
}

scenario_idle() {
	local ht rb
	good_agents_start idle
	ht=$(ingest_stat handshake_timeouts) rb=$(ingest_stat refused_busy)
	check_said "10,000 idle connections are all closed by the deadline" \
		$PY "$BAD" idle 127.0.0.1 "$INGEST_PORT" "$D/ca.crt" 10000 6
	# Each was refused at accept (past max_handshakes) or timed out.
	check "counters: handshake timeouts + refused at accept cover all 10,000" \
		test $(($(ingest_stat handshake_timeouts) - ht + $(ingest_stat refused_busy) - rb)) -ge 10000
	good_agents_check idle
}

# Handshake admission: 400 connections that never finish a handshake
# take the collector's 20 places; past them every new connection is
# closed at accept and counted, and once the stalled ones are 2 s old
# they give their places up while still open (the handshake timeout,
# 20 s here, closes them), so real agents connect and send meanwhile.
# Its own collector; the suite's is back in place afterwards.
scenario_handshake_admission() {
	local saved=("$CONF" "$COLLECTOR_DIR" "$INGEST_PORT" "$ENROLL_PORT" "$COLLECTOR_PID" "$TOKEN" "$LOG" "$D")
	local saved_lg=("${LG[@]}") saved_set=("${COLLECTOR_SET[@]}")
	local flood_pid out flood_rc=0
	D="$WORK/admission" LOG="$WORK/admission.log"
	ingest_collector "$D" "$LOG" "$WORK/admission-agents" ingest.max_handshakes=20 \
		ingest.handshake_timeout=20s || { not_ok "handshake_admission: collector start"; return; }
	"${LG[@]}" --agents 30 --enroll-only >/dev/null 2>&1 || not_ok "handshake_admission: enroll 30 agents"
	if [ "$(ulimit -Hn)" -lt 60256 ]; then
		check "a max_connections (60,000) past the descriptor limit is warned of at start" \
			grep -q "ingest.max_connections is 60000 but the process may open only" "$LOG"
	else
		check "no descriptor warning when the limit allows max_connections" \
			test -z "$(grep -o "ingest.max_connections is 60000 but" "$LOG")"
	fi
	$PY "$BAD" idle 127.0.0.1 "$INGEST_PORT" "$D/ca.crt" 400 22 >"$WORK/admission-flood.out" 2>&1 &
	flood_pid=$!
	# 380 if the flood connects within 2 s; a slower one gets a few more
	# places as the first stalled ones give theirs up.
	check "past 20 handshakes in progress, the rest of the flood is refused at accept" \
		wait_for 20 refused_at_least 300
	check "the 20 admitted stalled handshakes are pending hellos" test "$(ingest_stat hello_pending)" -ge 20
	check "the refusal is logged" grep -q "refusing connections at accept: .*too many handshakes in progress" "$LOG"
	out=$("${LG[@]}" --agents 30 --events 200 --boot-seed 5 --batch 20 --window 1 --deadline 60)
	echo "# agents during the flood: $out"
	check "30 real agents connect and send everything while the stalled handshakes are open" \
		grep -q "acked=6000 .*complete=yes" <<<"$out"
	check "the stalled connections were still open then (they gave their places up, not their sockets)" \
		kill -0 "$flood_pid"
	wait "$flood_pid" || flood_rc=$?
	echo "# $(tail -1 "$WORK/admission-flood.out")"
	check "every flood connection was closed by the collector (refused, or at the handshake timeout)" eq "$flood_rc" 0
	check "counter: the 20 admitted ones timed out" test "$(ingest_stat handshake_timeouts)" -ge 20
	check "no hello is left pending" eq "$(ingest_stat hello_pending)" 0
	check "the stats line carries the loop lag" grep -qE "loop_lag_ms=[0-9]+ loop_lag_max_ms=[0-9]+" "$LOG"
	collector_stop
	CONF=${saved[0]} COLLECTOR_DIR=${saved[1]} INGEST_PORT=${saved[2]} ENROLL_PORT=${saved[3]}
	COLLECTOR_PID=${saved[4]} TOKEN=${saved[5]} LOG=${saved[6]} D=${saved[7]}
	LG=("${saved_lg[@]}") COLLECTOR_SET=("${saved_set[@]}")
}
refused_at_least() { [ "$(ingest_stat refused_busy)" -ge "$1" ]; }

teardown() {
	local rc=0
	collector_stop || rc=$?
	check "SIGTERM drains and exits 0" eq "$rc" 0
	check "log says it stopped" grep -q "collector: stopped" "$LOG"
}

# collector_ingest_pg.sh sources this file for its scenarios and runs them
# itself.
[ -n "${EW_INGEST_AS_LIB:-}" ] || run_scenarios
