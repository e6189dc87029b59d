#!/bin/bash
# The agent's release swap (issue 20 item 6, its install step): `upgrade
# install` copies a release into ROOT/agent-VERSION and switches the
# ROOT/current link with rename, keeping ROOT/previous for the restore.
# kill -9 at each step of the swap leaves `current` naming a complete
# release that starts, with the agent's identity and spool untouched; a
# retry completes. A downgrade, a release holding a symlink and a
# version that is not one are refused. The agent run from ROOT/current
# still reports to a real collector. Without its watchdog, an agent
# restores a release pending past its deadline itself.
# Scenarios run alone: make test ONLY=agent_upgrade_swap:kill9_each_step
. "$(dirname "$0")/lib.bash"
D=$WORK/collector
A=$WORK/agent
R=$WORK/root
REL=$WORK/release
mkdir -p "$A" "$REL"
cp -p "$EW_BIN"/eduwatch-* "$REL/"

setup() {
	collector_with_agent 79101 "$A" || { not_ok "collector and agent"; return 1; }
	sed -i 's/interval: 60s/interval: 1s/; s/backoff_max: 5m/backoff_max: 2s/' "$A/agent.yaml"
	mkdir -p "$R"
	"$REL/eduwatch-agent" upgrade install "$REL" 1.0 --root "$R" >/dev/null
}

spool_has_events() { [ "$(sqlite3 "$A/state/spool.db" 'SELECT count(*) FROM events' 2>/dev/null)" -gt 0 ] 2>/dev/null; }
current_version() { "$REL/eduwatch-agent" upgrade status --root "$R" | awk '$1 == "current:" {print $2}'; }
# The agent's identity and spool, as bytes.
state_sum() { (cd "$A/state" && sha256sum agent.key agent.crt ca.crt 2>/dev/null; sqlite3 "$A/state/spool.db" 'SELECT count(*) FROM events' 2>/dev/null) | sha256sum; }
# current names a complete release whose agent runs and sees its state.
current_works() {
	local ver
	ver=$(readlink "$R/current") || return 1
	[ -x "$R/current/eduwatch-agent" ] && [ -x "$R/current/eduwatch-scanner" ] &&
		cmp -s "$R/current/eduwatch-agent" "$REL/eduwatch-agent" &&
		"$R/current/eduwatch-agent" status -c "$A/agent.yaml" | grep -q "enrolled: *yes"
}

scenario_kill9_each_step() {
	local step n=1 before rc
	# Something in the spool: events the agent wrote while its collector
	# was out of reach (a port nothing listens on).
	local dead apid
	dead=$(free_port)
	"$R/current/eduwatch-agent" run -c "$A/agent.yaml" -o collector.port="$dead" >>"$WORK/offline.log" 2>&1 &
	apid=$!
	check "the agent spools events while offline" wait_for 30 spool_has_events
	kill -TERM "$apid"; wait "$apid" 2>/dev/null
	before=$(state_sum)
	for step in copy staged renamed previous current; do
		n=$((n + 1))
		(EW_SWAP_CRASH_AT=$step exec "$REL/eduwatch-agent" upgrade install "$REL" "1.$n" --root "$R") >/dev/null 2>&1
		rc=$?
		check "kill -9 at '$step' kills the install (status $rc)" eq "$rc" 137
		check "... current still names a complete release that starts" current_works
		check "... the agent's identity and spool are untouched" eq "$(state_sum)" "$before"
		# Killed after the last rename, the install was done.
		[ "$step" = current ] ||
			check "... and a retry of 1.$n completes" quiet "$REL/eduwatch-agent" upgrade install "$REL" "1.$n" --root "$R"
		check "... 1.$n is current" eq "$(current_version)" "1.$n"
	done
	check "no staging leftovers" bash -c "! ls -A '$R' | grep -q '^\\.'"
}

scenario_refusals() {
	local out cur
	cur=$(current_version)
	out=$("$REL/eduwatch-agent" upgrade install "$REL" 0.9 --root "$R" 2>&1)
	check "a downgrade is refused" grep -q "not newer than the installed $cur" <<<"$out"
	check "... and current stays" eq "$(current_version)" "$cur"
	out=$("$REL/eduwatch-agent" upgrade install "$REL" "$cur" --root "$R" 2>&1)
	check "the same version again is refused" grep -q "not newer" <<<"$out"
	out=$("$REL/eduwatch-agent" upgrade install "$REL" "9.0/../../x" --root "$R" 2>&1)
	check "a version that is not digits and dots is refused" grep -q "not a version" <<<"$out"
	mkdir -p "$WORK/evil"
	cp "$REL/eduwatch-agent" "$WORK/evil/"
	ln -s /etc/shadow "$WORK/evil/eduwatch-scanner"
	out=$("$REL/eduwatch-agent" upgrade install "$WORK/evil" 99.0 --root "$R" 2>&1)
	check "a release holding a symlink is refused" grep -q "not a regular file" <<<"$out"
	check "... leaving current as it was" eq "$(current_version)" "$cur"
	check "... and no directory for it" test ! -e "$R/agent-99.0"
	check "a rollback release may go back" quiet "$REL/eduwatch-agent" upgrade install "$REL" 0.9 --rollback --root "$R"
	check "... 0.9 is current" eq "$(current_version)" 0.9
	check "restore switches back to the release before" quiet "$REL/eduwatch-agent" upgrade restore --root "$R"
	check "... $cur is current again" eq "$(current_version)" "$cur"
}

scenario_runs_from_current() {
	"$R/current/eduwatch-agent" run -c "$A/agent.yaml" >>"$WORK/agent.log" 2>&1 &
	local apid=$!
	check "the agent run from ROOT/current reports to the collector" wait_event 30 agent.start
	check "... and its spool, kept through every crash, drains" wait_for 30 bash -c \
		"[ \"\$(sqlite3 '$A/state/spool.db' 'SELECT count(*) FROM events')\" = 0 ]"
	kill -TERM "$apid"; wait "$apid" 2>/dev/null
}

# A release whose agent never connects (here: an executable that only
# sleeps) is undone by the watchdog: `current` back to the release before,
# the reason in ROOT/last-restore; the restored agent reports again.
scenario_watchdog_restores_bad_release() {
	local good bad wpid apid rc
	good=$(current_version)
	mkdir -p "$WORK/bad"
	printf '#!/bin/sh\nexec sleep 300\n' >"$WORK/bad/eduwatch-agent"
	chmod 755 "$WORK/bad/eduwatch-agent"
	check "a broken release 50.0 installs" quiet "$REL/eduwatch-agent" upgrade install "$WORK/bad" 50.0 --root "$R"
	"$REL/eduwatch-agent" upgrade watch --within 10s --root "$R" -c "$A/agent.yaml" >"$WORK/watch.out" 2>&1 &
	wpid=$!
	# The service restarts into the new release.
	"$R/current/eduwatch-agent" run -c "$A/agent.yaml" >>"$WORK/agent.log" 2>&1 &
	apid=$!
	wait "$wpid"
	rc=$?
	check "the watchdog gives up on it (exit $rc)" eq "$rc" 1
	check "... and says why" grep -q "release 50.0 did not report healthy within 10s" "$WORK/watch.out"
	check "... current is the good release again" eq "$(current_version)" "$good"
	check "... the reason is kept in ROOT/last-restore" grep -q "restored the previous release" "$R/last-restore"
	kill "$apid"; wait "$apid" 2>/dev/null
	"$R/current/eduwatch-agent" run -c "$A/agent.yaml" >>"$WORK/agent.log" 2>&1 &
	apid=$!
	check "the restored agent reports to the collector again" \
		wait_for 60 bash -c "'$R/current/eduwatch-agent' status -c '$A/agent.yaml' | grep -q 'connected: *yes'"
	kill -TERM "$apid"; wait "$apid" 2>/dev/null
}

# A good release passes the watchdog and stays.
scenario_watchdog_keeps_good_release() {
	local wpid apid rc
	check "release 60.0 installs" quiet "$REL/eduwatch-agent" upgrade install "$REL" 60.0 --root "$R"
	"$REL/eduwatch-agent" upgrade watch --within 90s --root "$R" -c "$A/agent.yaml" >"$WORK/watch2.out" 2>&1 &
	wpid=$!
	"$R/current/eduwatch-agent" run -c "$A/agent.yaml" >>"$WORK/agent.log" 2>&1 &
	apid=$!
	wait "$wpid"
	rc=$?
	check "the watchdog finds it healthy (exit $rc)" eq "$rc" 0
	check "... 60.0 stays current" eq "$(current_version)" 60.0
	kill -TERM "$apid"; wait "$apid" 2>/dev/null
}

# No watchdog (under systemd it dies with the unit's cgroup): the pending
# marker `upgrade install --within` leaves makes the agent itself put the
# previous release back once twice that has passed without it connecting,
# while it runs and when it starts. The new release points at a port
# nobody listens on, so it never becomes healthy.
scenario_pending_restored_without_watchdog() {
	local good port apid
	good=$(current_version)
	port=$(free_port)
	run_new() {
		"$R/current/eduwatch-agent" run -c "$A/agent.yaml" -o collector.port="$port" \
			-o upgrade.root="$R" >>"$WORK/pending.log" 2>&1 &
		apid=$!
	}
	check "release 70.0 installs, pending for 2s" \
		quiet "$REL/eduwatch-agent" upgrade install "$REL" 70.0 --within 2s --root "$R"
	check "... ROOT/pending names it" grep -q "^70.0 " "$R/pending"
	run_new
	check "the running agent restores $good itself past the deadline" \
		wait_for 30 eval '[ "$(current_version)" = "$good" ]'
	check "... and goes on from it, the same process" \
		wait_for 20 eval '[ "$(readlink /proc/$apid/exe)" = "$R/agent-$good/eduwatch-agent" ]'
	check "... the reason kept, then reported by the restored agent" \
		wait_for 10 grep -q "release 70.0 did not report healthy before its deadline" "$R/last-restore.reported"
	check "... the marker is gone" test ! -e "$R/pending"
	kill -TERM "$apid"; wait "$apid" 2>/dev/null
	check "release 71.0 installs, pending for 1s" \
		quiet "$REL/eduwatch-agent" upgrade install "$REL" 71.0 --within 1s --root "$R"
	sleep 2.5 # down past its deadline (a crash loop, a power cut)
	run_new
	check "an agent started past its release's deadline restores $good at once" \
		wait_for 5 eval '[ "$(current_version)" = "$good" ]'
	check "... and runs it" \
		wait_for 10 eval '[ "$(readlink /proc/$apid/exe)" = "$R/agent-$good/eduwatch-agent" ]'
	kill -TERM "$apid"; wait "$apid" 2>/dev/null
}

run_scenarios
