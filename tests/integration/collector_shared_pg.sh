#!/bin/bash
# Two real collectors (`serve`) on one real PostgreSQL 15 store, as a
# province runs them behind one address (issue 21):
#  - leader: the scheduled work runs on one of them. Both start at once
#    and both look at once whether today's snapshot is taken: one takes
#    the job's advisory lock and records the day, once; the other says
#    the job is another collector's. The leader killed with -9 frees its
#    lock with its connection, and the other, restarted, takes the job
#    and finds the day already recorded.
#  - commands: a command queued with the CLI reaches a real agent
#    through the collector that holds its connection, even with 70
#    commands waiting for another agent (the sweep used to take the first
#    64 pending rows whoever held their agent, and never came to it); a
#    revocation cuts the agent off at the collector that holds it.
#  - keyless: the CA key on one of them only (issue 21).
# Scenarios: make test ONLY=collector_shared_pg:leader
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/lib_pg.bash"
AGENT="$EW_BIN/eduwatch-agent"
DAY=$(date -u +%F)

# A fresh pair on its own database, with one school (a snapshot needs
# one). Sets A, B (their dirs), CONF (A's) and TOKEN.
pair() {
	A="$WORK/$1-a" B="$WORK/$1-b"
	pg_collector_pair "$A" "$B" || return 1
	"$COLLECTOR" school add 79001 "THCS Lê Lợi" --commune "Phường 2" --level 2 \
		--expected-pcs 4 -c "$CONF" >/dev/null || return 1
	TOKEN=$("$COLLECTOR" token create --school 79001 --uses 4 --expires 1h -c "$CONF" 2>/dev/null)
}

# Logs that say LINE (a grep -E pattern): how many of the two.
logs_saying() { grep -lE "$1" "$WORK/a.log" "$WORK/b.log" 2>/dev/null | wc -l; }
one_log_says() { [ "$(logs_saying "$1")" -eq 1 ]; }
both_logs_say() { [ "$(logs_saying "$1")" -eq 2 ]; }

scenario_leader() {
	local pa pb leader follower flog rows
	pair leader || { not_ok "leader: two collectors on one database"; return; }
	: >"$WORK/a.log"
	: >"$WORK/b.log"
	# At once: both look at once whether today's snapshot is taken.
	serve_in "$A" "$WORK/a.log" & serve_in "$B" "$WORK/b.log" & wait
	check "leader: both collectors serve from one database" \
		eval 'pair_ports_named "$A" && pair_ports_named "$B"'
	check "leader: each says whether it runs the daily snapshot" \
		wait_for 30 both_logs_say "daily snapshot and report deadlines"
	check "leader: one of them runs it" \
		one_log_says "this collector runs the daily snapshot"
	check "leader: the other says it is another collector's" \
		one_log_says "daily snapshot and report deadlines is another collector's"
	check "leader: the day is recorded by one collector, once" \
		wait_for 30 one_log_says "snapshot $DAY: [0-9]+ scores recorded"
	check "leader: neither collector's snapshot failed" \
		eq "$(cat "$WORK/a.log" "$WORK/b.log" | grep -cE "snapshot $DAY.* failed")" 0
	rows=$(pg_sql "$PG_DB" "SELECT count(*) FROM score_snapshots WHERE day = '$DAY'" | tr -d ' \n')
	check "leader: the store holds one snapshot: the school's, its commune's and the province's scores" \
		eq "$rows" 3
	if grep -q "this collector runs the daily snapshot" "$WORK/a.log"; then
		leader=$A follower=$B flog=$WORK/b.log
	else
		leader=$B follower=$A flog=$WORK/a.log
	fi
	pa=$(pgrep -f "serve -c $leader/collector.yaml")
	pb=$(pgrep -f "serve -c $follower/collector.yaml")
	kill -9 "$pa"
	# The follower restarted takes the job as it starts, where a lock
	# kept by the dead collector's session would refuse it forever.
	kill -TERM "$pb"
	wait_for 30 pid_gone "$pb"
	serve_in "$follower" "$flog"
	check "leader: after the leader's kill -9 the other takes the job over" \
		wait_for 30 grep -q "this collector runs the daily snapshot" "$flog"
	check "leader: and finds the day taken: no second snapshot" \
		eq "$(grep -cE "snapshot $DAY(: | failed)" "$flog")" 0
	kill -TERM "$SERVED_PID"
	wait "$SERVED_PID"
}

# enroll_agent NAME INGEST_PORT ENROLL_PORT: a real agent enrolled, whose
# agent.yaml points at INGEST_PORT. Sets AID.
enroll_agent() {
	local dir="$WORK/$1"
	mkdir -p "$dir"
	"$AGENT" enroll --collector "localhost:$2" --enroll-port "$3" --token "$TOKEN" \
		--ca "$A/ca.crt" --state-dir "$dir/state" -c "$dir/agent.yaml" >"$dir.enroll" 2>&1 || return 1
	AID=$(sed -n 's/^enrolled as agent \([^ ]*\) .*/\1/p' "$dir.enroll")
	[ -n "$AID" ]
}
said_pong() {
	"$COLLECTOR" events list --agent "$1" --limit 100 --json -c "$CONF" |
		grep -q '"type":"ping","ok":true,"msg":"pong"'
}

scenario_commands() {
	local other held i
	pair commands || { not_ok "commands: two collectors on one database"; return; }
	serve_in "$A" "$WORK/a.log" && serve_in "$B" "$WORK/b.log" ||
		{ not_ok "commands: both collectors start"; return; }
	enroll_agent offline "$(pair_port "$A" ingest)" "$(pair_port "$A" enroll)" &&
		other=$AID &&
		enroll_agent held "$(pair_port "$B" ingest)" "$(pair_port "$A" enroll)" &&
		held=$AID || { not_ok "commands: two agents enrolled"; return; }
	"$AGENT" run -c "$WORK/held/agent.yaml" >"$WORK/held.log" 2>&1 &
	check "commands: the agent is connected to the second collector" \
		wait_for 30 grep -q "uplink: connected" "$WORK/held.log"
	# 70 commands for a PC that is off: more than one sweep takes.
	for ((i = 0; i < 70; i++)); do
		"$COLLECTOR" command send --agent "$other" --type ping -c "$CONF" >/dev/null || break
	done
	check "commands: 70 commands wait for the PC that is off" eq "$i" 70
	check "commands: a command queued through the first collector's config" quiet \
		"$COLLECTOR" command send --agent "$held" --type ping -c "$CONF"
	check "commands: reaches the agent through the collector that holds it" \
		wait_for 30 said_pong "$held"
	check "commands: the collector that holds it sent it" \
		grep -q "sent command [0-9]* to .*$held" "$WORK/b.log"
	check "commands: the other sent nothing" \
		eval '! grep -q "sent command" "$WORK/a.log"'
	check "commands: a revocation through the CLI" quiet \
		"$COLLECTOR" agent revoke "$held" -c "$CONF"
	check "commands: cuts the agent off at the collector that holds it" \
		wait_for 30 grep -q "closing agent $held .*agent revoked by an officer" "$WORK/b.log"
}

# keyless: the CA key on one collector only. B's state dir has ca.crt but
# no ca.key: it serves agents enrolled at A (the signer) as A does, opens
# no enrollment port, never takes the release rollout, refuses to sign
# from the CLI (exit 3), and stops cleanly.
keyless_events() { "$COLLECTOR" events count --agent "$1" -c "$CONF" 2>/dev/null; }
keyless_stored() { [ "$(keyless_events "$1")" -gt 0 ]; }
scenario_keyless() {
	local k1 k2 rc=0
	pair keyless || { not_ok "keyless: two collectors on one database"; return; }
	rm "$B/ca.key"
	collector_set releases.check_every=1s
	: >"$WORK/a.log"
	: >"$WORK/b.log"
	serve_in "$A" "$WORK/a.log" && serve_in "$B" "$WORK/b.log" ||
		{ not_ok "keyless: both collectors start, one without ca.key"; return; }
	check "keyless: the collector without ca.key says so, once" \
		eq "$(grep -c "running without the CA key (no $B/ca.key)" "$WORK/b.log")" 1
	check "keyless: the signer does not" \
		eq "$(grep -c "running without the CA key" "$WORK/a.log")" 0
	check "keyless: it names no enroll port; the signer does" \
		eval '[ -z "$(pair_port "$B" enroll)" ] && [ -n "$(pair_port "$A" enroll)" ]'
	enroll_agent k1 "$(pair_port "$B" ingest)" "$(pair_port "$A" enroll)" && k1=$AID &&
		enroll_agent k2 "$(pair_port "$A" ingest)" "$(pair_port "$A" enroll)" && k2=$AID ||
		{ not_ok "keyless: two agents enrolled at the signer"; return; }
	"$AGENT" run -c "$WORK/k1/agent.yaml" >"$WORK/k1.log" 2>&1 &
	"$AGENT" run -c "$WORK/k2/agent.yaml" >"$WORK/k2.log" 2>&1 &
	check "keyless: an agent enrolled at the signer connects to the keyless collector" \
		wait_for 30 grep -q "uplink: connected" "$WORK/k1.log"
	check "keyless: another connects to the signer" \
		wait_for 30 grep -q "uplink: connected" "$WORK/k2.log"
	check "keyless: the keyless collector's agent's events are stored" wait_for 30 keyless_stored "$k1"
	check "keyless: and the signer's agent's" wait_for 30 keyless_stored "$k2"
	check "keyless: the signer runs the release rollout" \
		wait_for 20 grep -q "this collector runs the release rollout" "$WORK/a.log"
	sleep 2 # two more release ticks (releases.check_every=1s)
	check "keyless: the keyless collector never asks for it" \
		eq "$(grep -cE "runs the release rollout|release rollout is another" "$WORK/b.log")" 0
	check_status "keyless: token create on the keyless collector exits 3" 3 \
		"$COLLECTOR" token create --school 79001 -c "$B/collector.yaml"
	check_status "keyless: rules publish there exits 3" 3 \
		"$COLLECTOR" rules publish -c "$B/collector.yaml"
	check_status "keyless: command send there exits 3" 3 \
		"$COLLECTOR" command send --agent "$k1" --type ping -c "$B/collector.yaml"
	check "keyless: a command signed at the signer reaches the agent held by the keyless one" quiet \
		"$COLLECTOR" command send --agent "$k1" --type ping -c "$CONF"
	check "keyless: ... and the agent answers it" wait_for 30 said_pong "$k1"
	kill -TERM "$SERVED_PID"
	wait "$SERVED_PID" || rc=$?
	check "keyless: SIGTERM stops the keyless collector with status 0" eq "$rc" 0
	check "keyless: after closing its store" grep -q "collector: stopped" "$WORK/b.log"
}

# In setup, so that listing the scenarios (tests/run.sh --list) starts
# no server.
setup() { pg_start; }
run_scenarios
