#!/bin/bash
# Signed agent self-upgrade end to end (issue 20 item 6, "the rollback
# test"): a real collector over loopback TLS and four real agents, each
# running from its own versioned release root (agent/upgrade/swap.h).
# Two PCs of school 79201 are the pilot ring, two of school 79202 the
# stable ring; the rollout is looked at every second.
#  - a good release (the agent itself, as agent-2.0) goes through the
#    pilot ring and then the stable ring, and every PC runs it;
#  - a release whose agent cannot connect (the same binary, started by a
#    wrapper that points it at a closed port) is put back by the watchdog
#    on both pilot PCs, and the rollout halts before the stable ring;
#  - a package changed after signing is refused by every pilot PC;
#  - an older release not marked rollback is refused as a downgrade;
#  - a download cut halfway resumes after a restart, and a half changed
#    on disk makes the whole file refused;
#  - --channel stable offers every PC at once, and an agent not run from
#    its release root refuses (no watchdog could undo it);
#  - an install that fails for a passing reason is retried, with backoff
#    (upgrade.retry_after), and succeeds once the reason is gone;
#  - a pilot PC the watchdog restored neither stalls the rollout (the
#    pilot is promoted after the soak on the PC that runs it, saying
#    why) nor stays on the old release (it tries again by itself,
#    upgrade.retry_restored_after, and runs it); one restored on every
#    try gives up after three and reports "final";
#  - a halted rollout tells the PCs it was offered to, and a restored one
#    gives the release up instead of trying it again;
#  - with the offline release key pinned (agent.yaml upgrade.release_key)
#    a release signed by it rolls out, while one signed only by the
#    collector's CA (an attacker who holds the collector) or by another
#    key is refused by the PCs, and by publish when the collector knows
#    the key (releases.release_key).
# Scenarios run alone: make test ONLY=agent_release_rollout:good_release
. "$(dirname "$0")/lib.bash"
D=$WORK/collector
REL=$WORK/releases
PCS="p1 p2 s1 s2"
mkdir -p "$REL"

# A release folder holding the agent executable (the test's agents run no
# scan, backup or sensor, so their helpers are left out to keep the
# download small).
make_release() { mkdir -p "$REL/agent-$1" && cp -p "$EW_BIN/eduwatch-agent" "$REL/agent-$1/"; }

pc_dir() { echo "$WORK/pc-$1"; }
pc_root() { echo "$WORK/pc-$1/root"; }
pc_current() { readlink "$(pc_root "$1")/current" | sed 's/^agent-//'; }
pc_status() { sed -n "s/^$2=//p" "$(pc_dir "$1")/state/status" 2>/dev/null; }
pc_running() { # pc_running PC VERSION: its agent runs that release, connected
	local pid
	pid=$(pc_status "$1" pid)
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(pc_status "$1" connected)" = yes ] &&
		[ "$(readlink "/proc/$pid/exe" | xargs dirname | xargs basename)" = "agent-$2" ]
}
all_running() { local v=$1 pc; shift; for pc; do pc_running "$pc" "$v" || return 1; done; }
# settled VERSION PC...: each PC runs VERSION and its watch is over (no
# ROOT/pending marker: proven healthy).
settled() {
	local v=$1 pc
	shift
	all_running "$v" "$@" || return 1
	for pc; do [ ! -e "$(pc_root "$pc")/pending" ] || return 1; done
}
rollouts() { "$COLLECTOR" agent-release status --json -c "$CONF"; }
release_state() { # release_state VERSION: its rollout's state
	rollouts | $PY -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(r["state"] for r in d["rollouts"] if r["release"]==sys.argv[1]))' "$1"
}
release_field() { # release_field VERSION RING FIELD
	rollouts | $PY -c 'import json,sys; d=json.load(sys.stdin); print([r for r in d["rollouts"] if r["release"]==sys.argv[1]][0][sys.argv[2]][sys.argv[3]])' "$1" "$2" "$3"
}
state_is() { [ "$(release_state "$1")" = "$2" ]; }
not_state_is() { [ "$(release_state "$1")" != "$2" ]; }
# The spooled events and identity of a PC, as bytes (the upgrade must
# not touch them).
identity_sum() { (cd "$(pc_dir "$1")/state" && sha256sum agent.key agent.crt ca.crt) | sha256sum; }

start_pc() {
	DAEMON_KEEP=1 daemon_start "agent-$1" "$(pc_root "$1")/current/eduwatch-agent" run \
		-c "$(pc_dir "$1")/agent.yaml" 2>>"$WORK/agent-$1.log"
}

setup() {
	local school token pc
	collector_init "$D" || return 1
	cat >>"$CONF" <<YAML
releases:
  pilot_schools: ["79201"]
  stable_percent_per_hour: 360000
  reconnect_within: 60s
  halt_percent: 50
  pilot_soak: 1s
  check_every: 1s
YAML
	for school in 79201 79202; do
		"$COLLECTOR" school add "$school" "Trường $school" --commune "Xã test" --level 2 \
			--expected-pcs 2 -c "$CONF" >/dev/null || return 1
	done
	collector_start "$WORK/collector.log" || return 1
	make_release 1.0
	for pc in $PCS; do
		school=79201
		[ "${pc#s}" != "$pc" ] && school=79202
		token=$("$COLLECTOR" token create --school "$school" --uses 1 -c "$CONF" 2>/dev/null)
		mkdir -p "$(pc_root "$pc")"
		"$EW_BIN/eduwatch-agent" enroll --collector "localhost:$INGEST_PORT" \
			--enroll-port "$ENROLL_PORT" --token "$token" --ca "$D/ca.crt" \
			--state-dir "$(pc_dir "$pc")/state" -c "$(pc_dir "$pc")/agent.yaml" >"$WORK/enroll-$pc.out" 2>&1 || return 1
		sed -i 's/interval: 60s/interval: 1s/; s/backoff_max: 5m/backoff_max: 1s/' "$(pc_dir "$pc")/agent.yaml"
		printf 'upgrade:\n  root: %s\n  within: 8s\n  retry_after: 1s\n' "$(pc_root "$pc")" >>"$(pc_dir "$pc")/agent.yaml"
		"$EW_BIN/eduwatch-agent" upgrade install "$REL/agent-1.0" 1.0 --root "$(pc_root "$pc")" >/dev/null || return 1
		identity_sum "$pc" >"$WORK/identity-$pc"
		start_pc "$pc" || return 1
	done
	wait_for 30 all_running 1.0 $PCS
}

teardown() {
	local pc pid
	# The agents re-executed themselves, and the watchdogs became agents:
	# each PC's running agent is the pid in its status file.
	for pc in $PCS; do
		pid=$(pc_status "$pc" pid)
		kill_ours -TERM "$pid"
	done
	sleep 1
	for pc in $PCS; do
		pid=$(pc_status "$pc" pid)
		kill_ours -KILL "$pid"
	done
	true
}

scenario_good_release() {
	local out pc
	make_release 2.0
	out=$("$COLLECTOR" agent-release publish "$REL/agent-2.0" --channel pilot -c "$CONF" 2>&1)
	check "a release folder is published, signed, into the pilot ring" grep -q "published agent release 2.0 as bundle" <<<"$out"
	check "the pilot PCs download, verify, install and restart into 2.0" wait_for 40 all_running 2.0 p1 p2
	check "... while the stable PCs still run 1.0 (the pilot goes first)" all_running 1.0 s1 s2
	check "then the stable ring: every PC runs 2.0" wait_for 40 all_running 2.0 s1 s2
	check "the rollout is done" wait_for 10 state_is 2.0 done
	check "... 2 pilot PCs upgraded" eq "$(release_field 2.0 pilot upgraded)" 2
	check "... 2 stable PCs upgraded" eq "$(release_field 2.0 stable upgraded)" 2
	check "versions per school: 79201 runs 2.0 on both PCs" \
		grep -q '"school":"79201","version":"2.0","agents":2' <(rollouts)
	check "... and so does 79202" grep -q '"school":"79202","version":"2.0","agents":2' <(rollouts)
	check "the table view shows the rollout" grep -q "^2.0 .* pilot *done" <("$COLLECTOR" agent-release status -c "$CONF")
	for pc in $PCS; do
		check "$pc: its identity is the one it enrolled with" eq "$(identity_sum "$pc")" "$(cat "$WORK/identity-$pc")"
		check "$pc: current is 2.0, previous 1.0" eq "$(pc_current "$pc")/$(readlink "$(pc_root "$pc")/previous")" "2.0/agent-1.0"
	done
}

# The same executable, unable to reach its collector: what a release
# with a broken TLS stack or a wrong default port looks like from outside.
make_broken_release() {
	mkdir -p "$REL/agent-$1"
	cp -p "$EW_BIN/eduwatch-agent" "$REL/agent-$1/eduwatch-agent.bin"
	printf '#!/bin/sh\nexec "$(dirname "$0")/eduwatch-agent.bin" "$@" -o collector.port=1\n' >"$REL/agent-$1/eduwatch-agent"
	chmod 755 "$REL/agent-$1/eduwatch-agent"
}

scenario_broken_release_rolled_back() {
	local pc
	all_running 2.0 $PCS || { not_ok "every PC runs 2.0 first (run with good_release)"; return; }
	make_broken_release 3.0
	check "release 3.0 is published to the pilot ring" \
		quiet "$COLLECTOR" agent-release publish "$REL/agent-3.0" --channel pilot -c "$CONF"
	check "the pilot PCs install it" wait_for 40 bash -c "[ \"\$(readlink '$(pc_root p1)/current')\" = agent-3.0 ] || [ -e '$(pc_root p1)/last-restore.reported' ]"
	# Restored, not merely still running 2.0: between its swap and its
	# restart into 3.0 a PC's old process still runs from agent-2.0.
	check "the watchdog puts 2.0 back on both pilot PCs, which reconnect" \
		wait_for 40 bash -c "[ -e '$(pc_root p1)/last-restore.reported' ] && [ -e '$(pc_root p2)/last-restore.reported' ]"
	check "... and both run 2.0, connected" wait_for 40 all_running 2.0 p1 p2
	for pc in p1 p2; do
		check "$pc: current is 2.0 again" eq "$(pc_current "$pc")" 2.0
		check "$pc: the watchdog said why" grep -q "release 3.0 did not report healthy within 8s" "$(pc_root "$pc")/last-restore.reported"
	done
	check "the rollout halts by itself" wait_for 20 state_is 3.0 halted
	# Both pilot PCs must fail: releases.halt_min_failures (3) is capped
	# at the 2 offered, halt_min_schools (2) at the pilot's one school.
	check "... saying why" grep -q '"why":"pilot ring: 2 of 2 PCs offered failed, in 1 school (first: .*restored: release 3.0 did not report healthy' <(rollouts)
	check "... before the stable ring: no stable PC was offered 3.0" eq "$(release_field 3.0 stable offered)" 0
	check "the stable PCs still run 2.0" all_running 2.0 s1 s2
}

# Publishes $1 to the pilot ring with the collector stopped, so that
# $2 (a command) can change the signed file before any PC asks for it.
publish_offline() {
	collector_stop
	"$COLLECTOR" agent-release publish "$REL/agent-$1" --channel pilot -c "$CONF" >"$WORK/publish-$1.out" 2>&1 || return 1
	"${@:2}" || return 1
	collector_start "$WORK/collector.log" || return 1
	keep_running "$COLLECTOR_PID" # the scenarios after this one use it
}

pc_reported() { # pc_reported PC PATTERN: its newest agent.upgrade event matches
	"$COLLECTOR" events list --agent "$(sed -n 's/^enrolled as agent \([^ ]*\) .*/\1/p' "$WORK/enroll-$1.out")" \
		--limit 50 --json -c "$CONF" | grep -q "$2"
}

tamper() { # flips one byte of the newest agent bundle's payload
	local f
	f=$(ls -t "$D"/bundles/agent-*.ewb | head -1)
	printf '\x00' | dd of="$f" bs=1 seek=$(($(stat -c %s "$f") - 100)) conv=notrunc 2>/dev/null
}

scenario_tampered_release_refused() {
	make_release 4.0
	check "release 4.0 is published and then changed on the collector's disk" publish_offline 4.0 tamper
	check "the pilot PCs refuse it: its payload does not match the signed hash" \
		wait_for 40 bash -c "$(declare -f pc_reported); COLLECTOR='$COLLECTOR' CONF='$CONF' WORK='$WORK'; pc_reported p1 'does not match its signed hash' && pc_reported p2 'does not match its signed hash'"
	check "... and keep running 2.0" all_running 2.0 p1 p2
	check "... with no folder for 4.0" test ! -e "$(pc_root p1)/agent-4.0"
	check "the rollout halts" wait_for 20 state_is 4.0 halted
}

scenario_downgrade_refused() {
	make_release 1.5
	check "release 1.5 (not marked rollback) is published" \
		quiet "$COLLECTOR" agent-release publish "$REL/agent-1.5" --channel pilot -c "$CONF"
	check "the pilot PCs refuse it as a downgrade" \
		wait_for 40 bash -c "$(declare -f pc_reported); COLLECTOR='$COLLECTOR' CONF='$CONF' WORK='$WORK'; pc_reported p1 'downgrade refused' && pc_reported p2 'downgrade refused'"
	check "... and keep running 2.0" all_running 2.0 p1 p2
	check "the rollout halts" wait_for 20 state_is 1.5 halted
	check "a publication must name its channel" bash -c "! '$COLLECTOR' agent-release publish '$REL/agent-1.5' -c '$CONF' 2>/dev/null"
	check "a folder not named agent-VERSION is refused" \
		grep -q "named agent-VERSION" <("$COLLECTOR" agent-release publish "$REL" --channel stable -c "$CONF" 2>&1)
}

stop_pc() {
	local pid
	pid=$(pc_status "$1" pid)
	kill_ours -TERM "$pid"
	wait_for 20 pid_gone "$pid"
}

# A download cut by a restart resumes at the partial file's size: p1
# starts with the first half of the signed file already in place (as a
# cut link leaves it) and fetches only the rest; p2 starts with a first
# half with one byte changed (a disk error, a planted file), and the
# whole file, checked against its signed hash once complete, is refused.
scenario_download_resumes() {
	local id half before
	before=$(pc_current p2)
	make_release 5.0
	stop_pc p1 && stop_pc p2 || { not_ok "the pilot agents stop"; return; }
	check "release 5.0 is published while the pilot PCs are off" 		into "$WORK/publish-5.0.out" "$COLLECTOR" agent-release publish "$REL/agent-5.0" --channel pilot -c "$CONF"
	id=$(sed -n 's/.* as bundle \([0-9]*\) .*/\1/p' "$WORK/publish-5.0.out")
	half=$(($(stat -c %s "$D/bundles/agent-$id.ewb") / 2))
	mkdir -p "$(pc_dir p1)/state/rules" "$(pc_dir p2)/state/rules"
	head -c "$half" "$D/bundles/agent-$id.ewb" >"$(pc_dir p1)/state/rules/incoming-agent-$id.part"
	head -c "$half" "$D/bundles/agent-$id.ewb" >"$(pc_dir p2)/state/rules/incoming-agent-$id.part"
	printf '\x5a' | dd of="$(pc_dir p2)/state/rules/incoming-agent-$id.part" bs=1 seek=$((half - 10)) conv=notrunc 2>/dev/null
	start_pc p1 && start_pc p2
	check "p1 resumes the download it has half of" wait_for 20 grep -q "resuming the download of agent bundle $id" "$WORK/agent-p1.log"
	check "... completes it, and runs 5.0" wait_for 40 all_running 5.0 p1
	check "p2's half with one byte changed makes the whole file refused" \
		wait_for 40 bash -c "$(declare -f pc_reported); COLLECTOR='$COLLECTOR' CONF='$CONF' WORK='$WORK'; pc_reported p2 '\"version\":$id,.*does not match its signed hash'"
	# Its status file is rewritten every 5 s: until the restarted agent's
	# first write it still names the stopped process.
	check "... and p2 keeps running $before" wait_for 15 all_running "$before" p2
	check "... with no partial file left" test ! -e "$(pc_dir p2)/state/rules/incoming-agent-$id.part"
}

# --channel stable skips the pilot: every PC is offered it. An agent not
# run from its release root (here s2, started from the build) refuses
# it: it would have nothing to go back to and no watchdog.
scenario_stable_channel_and_unmanaged_agent() {
	local before
	# download_resumes' 5.0 is promoted from the pilot after its 1 s soak,
	# so s1 and s2 are being offered it as this starts. They finish it
	# first: an offer of 6.0 reaching a PC whose 5.0 still awaits its
	# verdict is another case, not this one's (CI once saw s1 stay on 5.0
	# that way; see docs/DECISIONS.md).
	check "s1 and s2 first run 5.0, promoted from the pilot, proven healthy" \
		wait_for 120 settled 5.0 s1 s2
	before=$(pc_current s2)
	stop_pc s2 || { not_ok "s2 stops"; return; }
	DAEMON_KEEP=1 daemon_start agent-s2 "$EW_BIN/eduwatch-agent" run -c "$(pc_dir s2)/agent.yaml" 2>>"$WORK/agent-s2.log"
	make_release 6.0
	check "release 6.0 is published straight to the stable ring" \
		quiet "$COLLECTOR" agent-release publish "$REL/agent-6.0" --channel stable -c "$CONF"
	# 90 s: four ASan agents fetch, install and prove 6.0 healthy at once
	# (CI once saw two of three within 40 s, on a machine loaded beyond
	# its two jobs).
	check "p1, p2 and s1 run 6.0" wait_for 90 all_running 6.0 p1 p2 s1
	check "s2, not run from its release root, refuses it and says why" \
		wait_for 90 bash -c "$(declare -f pc_reported); COLLECTOR='$COLLECTOR' CONF='$CONF' WORK='$WORK'; pc_reported s2 'does not run from a release folder'"
	check "... its release root is untouched" eq "$(pc_current s2)" "$before"
	check "one refusal in four stays under halt_percent: the rollout goes on" state_is 6.0 stable
	check "... with all four offered in one ring" eq "$(release_field 6.0 stable offered)/$(release_field 6.0 pilot offered)" 4/0
}

# An install that fails for a reason that may pass (here a plain file
# where p1's staging folder goes, as a full disk or a stuck leftover
# would) is tried again, later each time, instead of being given up at
# once; once the obstacle is gone the retry installs it, and the ring
# counts no failure.
scenario_failed_install_retried() {
	local obstacle
	pc_running p1 "$(pc_current p1)" && pc_running p2 "$(pc_current p2)" ||
		{ not_ok "the pilot PCs run (run with good_release)"; return; }
	make_release 9.0
	obstacle="$(pc_root p1)/.agent-9.0.tmp"
	echo obstacle >"$obstacle"
	check "release 9.0 is published to the pilot ring" \
		quiet "$COLLECTOR" agent-release publish "$REL/agent-9.0" --channel pilot -c "$CONF"
	check "p1 fails to install it and says it will try again" \
		wait_for 40 bash -c "$(declare -f pc_reported); COLLECTOR='$COLLECTOR' CONF='$CONF' WORK='$WORK'; pc_reported p1 'retrying'"
	check "... and keeps running its release meanwhile" pc_running p1 "$(pc_current p1)"
	rm -f "$obstacle"
	check "once the obstacle is gone, a retry installs it: both pilot PCs run 9.0" \
		wait_for 40 all_running 9.0 p1 p2
	check "... and the pilot ring counts no failure" eq "$(release_field 9.0 pilot failed)" 0
}

# A release VERSION that cannot reach the collector on a PC whose folder
# holds "offline-VERSION" (that PC's network down while it is tried, say)
# and works everywhere else, and on that PC too once the marker is gone.
# $0 is ROOT/current/eduwatch-agent or ROOT/agent-VERSION/eduwatch-agent:
# the PC's folder is two up.
make_flaky_release() {
	mkdir -p "$REL/agent-$1"
	cp -p "$EW_BIN/eduwatch-agent" "$REL/agent-$1/eduwatch-agent.bin"
	cat >"$REL/agent-$1/eduwatch-agent" <<SH
#!/bin/sh
here=\$(dirname "\$0")
[ -e "\$here/../../offline-$1" ] && exec "\$here/eduwatch-agent.bin" "\$@" -o collector.port=1
exec "\$here/eduwatch-agent.bin" "\$@"
SH
	chmod 755 "$REL/agent-$1/eduwatch-agent"
}

release_why() { # release_why VERSION: why its rollout is where it is
	rollouts | $PY -c 'import json,sys; d=json.load(sys.stdin); print([r for r in d["rollouts"] if r["release"]==sys.argv[1]][0]["why"])' "$1"
}
why_says() { release_why "$1" | grep -q "$2"; }

managed() { # managed PC: its agent runs from its release root (restarted so if not)
	pc_running "$1" "$(pc_current "$1")" && return 0
	stop_pc "$1" && start_pc "$1" && wait_for 30 pc_running "$1" "$(pc_current "$1")"
}

# The outside review: a pilot PC the watchdog restored blocked the
# province's rollout forever, and never tried the release again. Here
# p1 cannot connect while it is tried (its "offline-9.5" marker) and is
# restored; p2 runs the release. After the soak the pilot is promoted
# (one PC runs it, the other failed), saying why, and the stable ring
# gets it. p1 keeps the verified bundle, and once its network is back
# tries the release again by itself (upgrade.retry_restored_after, here
# 3s) and runs it: the rollout ends with every PC on it.
scenario_restored_pilot_neither_stalls_nor_stays() {
	local pc y=$(pc_dir p1)/agent.yaml
	for pc in $PCS; do managed "$pc" || { not_ok "$pc runs from its release root"; return; }; done
	sed -i '/^upgrade:/a\  retry_restored_after: 3s' "$y"
	touch "$(pc_dir p1)/offline-9.5"
	stop_pc p1 && start_pc p1
	check "p1 runs again with retry_restored_after 3s" wait_for 30 pc_running p1 "$(pc_current p1)"
	make_flaky_release 9.5
	check "release 9.5 is published to the pilot ring" \
		quiet "$COLLECTOR" agent-release publish "$REL/agent-9.5" --channel pilot -c "$CONF"
	check "p2 runs it" wait_for 40 all_running 9.5 p2
	check "p1, offline while it tries, is restored by the watchdog" \
		wait_for 40 grep -qs "release 9.5 did not report healthy" "$(pc_root p1)/last-restore.reported"
	rm -f "$(pc_dir p1)/offline-9.5"
	check "... reports it with its count of restores" \
		wait_for 30 bash -c "$(declare -f pc_reported); COLLECTOR='$COLLECTOR' CONF='$CONF' WORK='$WORK'; pc_reported p1 '\"state\":\"restored\".*\"restores\":1'"
	check "... and keeps the verified bundle to try it from" test -s "$(pc_dir p1)/state/rules/agent.ewb"
	check "the pilot is promoted all the same, not held by p1" \
		wait_for 30 why_says 9.5 "pilot ring promoted after the soak: 1 of 2 PCs run it, 1 failed"
	check "... naming p1's restore as the first failure" why_says 9.5 "first failure: .*restored: release 9.5"
	check "... which the table view shows too" \
		grep -q "^9.5 .*pilot ring promoted after the soak" <("$COLLECTOR" agent-release status -c "$CONF")
	check "the stable ring gets it: s1 and s2 run 9.5" wait_for 40 all_running 9.5 s1 s2
	check "p1 tries 9.5 again by itself" wait_for 60 grep -q "trying release 9.5 again (try 1 of 3)" "$WORK/agent-p1.log"
	check "... and, its network back, runs it" wait_for 40 all_running 9.5 p1
	check "... healthy: its tries are cleared" wait_for 20 test ! -e "$(pc_root p1)/tries"
	check "the rollout is done: every PC runs 9.5" wait_for 20 state_is 9.5 done
	check "... the pilot counts both PCs upgraded" eq "$(release_field 9.5 pilot upgraded)/$(release_field 9.5 pilot failed)" 2/0
	sed -i '/retry_restored_after/d' "$y"
}

retry_fast() { # retry_fast PC on|off: upgrade.retry_restored_after 1s, restarted
	sed -i '/retry_restored_after/d' "$(pc_dir "$1")/agent.yaml"
	[ "$2" = on ] && sed -i '/^upgrade:/a\  retry_restored_after: 1s' "$(pc_dir "$1")/agent.yaml"
	stop_pc "$1" && start_pc "$1" && wait_for 30 pc_running "$1" "$(pc_current "$1")"
}

# A release restored on every try is given up: p1 cannot connect with
# 9.6 (its "offline-9.6" marker stays), tries it again after 1s, 2s and
# 4s, and after the fourth restore reports "final" and stays on the
# release it ran. p2 runs 9.6, so the rollout goes on (one failure of two
# is under halt_min_failures): no halt ends p1's tries early.
scenario_restored_thrice_is_final() {
	local v
	v=$(pc_current p1)
	touch "$(pc_dir p1)/offline-9.6"
	retry_fast p1 on || { not_ok "p1 restarts with retry_restored_after 1s"; return; }
	make_flaky_release 9.6
	check "release 9.6 is published to the pilot ring" \
		quiet "$COLLECTOR" agent-release publish "$REL/agent-9.6" --channel pilot -c "$CONF"
	check "p2 runs it" wait_for 40 all_running 9.6 p2
	check "p1 tries it three times more, then gives up" \
		wait_for 300 grep -qs "release 9.6 was restored 4 times: not tried again" "$WORK/agent-p1.log"
	check "... after tries 1, 2 and 3 of 3" bash -c "grep -c 'trying release 9.6 again (try [123] of 3)' '$WORK/agent-p1.log' | grep -qx 3"
	check "... and reports it final" \
		wait_for 30 bash -c "$(declare -f pc_reported); COLLECTOR='$COLLECTOR' CONF='$CONF' WORK='$WORK'; pc_reported p1 '\"state\":\"final\".*\"restores\":4,\"next_try_us\":0'"
	check "... staying on $v, connected" wait_for 30 all_running "$v" p1
	check "... with nothing left to try" grep -q "^9.6 [0-9]* 4 0$" "$(pc_root p1)/tries"
	check "the rollout was not halted" not_state_is 9.6 halted
	rm -f "$(pc_dir p1)/offline-9.6"
	retry_fast p1 off
	check "restarted, p1 does not try 9.6 again" \
		bash -c "sleep 5; [ \"\$(grep -c 'trying release 9.6 again' '$WORK/agent-p1.log')\" = 3 ]"
}

# A halted rollout ends the tries at once (an outside review: a restored
# PC installed a halted release up to three times more, over 42 hours).
# Both pilot PCs cannot connect with 9.7 and are restored; the rollout
# halts, and each is told: it gives 9.7 up instead of trying it again
# after retry_restored_after (here 60s, far longer than the halt takes).
scenario_halted_release_not_tried_again() {
	local pc
	declare -A was
	for pc in p1 p2; do
		was[$pc]=$(pc_current "$pc")
		touch "$(pc_dir "$pc")/offline-9.7"
		sed -i '/retry_restored_after/d' "$(pc_dir "$pc")/agent.yaml"
		sed -i '/^upgrade:/a\  retry_restored_after: 60s' "$(pc_dir "$pc")/agent.yaml"
		stop_pc "$pc" && start_pc "$pc" && wait_for 30 pc_running "$pc" "${was[$pc]}" ||
			{ not_ok "$pc restarts with retry_restored_after 60s"; return; }
	done
	make_flaky_release 9.7
	check "release 9.7 is published to the pilot ring" \
		quiet "$COLLECTOR" agent-release publish "$REL/agent-9.7" --channel pilot -c "$CONF"
	check "the rollout halts: both pilot PCs restored" wait_for 60 state_is 9.7 halted
	check "the collector tells the PCs it was offered to" \
		wait_for 20 grep -q "release 9.7: [0-9]* unsent offers withdrawn, 2 PCs told it is halted" "$WORK/collector.log"
	for pc in p1 p2; do
		check "$pc gives 9.7 up: its rollout is halted" \
			wait_for 30 grep -qs "release 9.7 is given up: its rollout is halted" "$WORK/agent-$pc.log"
		check "... reports so" \
			wait_for 30 bash -c "$(declare -f pc_reported); COLLECTOR='$COLLECTOR' CONF='$CONF' WORK='$WORK'; pc_reported $pc '\"release\":\"9.7\".*\"state\":\"halted\"'"
		check "... keeps nothing to try, its one restore counted" grep -q "^9.7 [0-9]* 1 0$" "$(pc_root "$pc")/tries"
		check "... and never tried it again" bash -c "! grep -q 'trying release 9.7 again' '$WORK/agent-$pc.log'"
		check "... staying on ${was[$pc]}" wait_for 30 all_running "${was[$pc]}" "$pc"
		rm -f "$(pc_dir "$pc")/offline-9.7"
		sed -i '/retry_restored_after/d' "$(pc_dir "$pc")/agent.yaml"
	done
}

pilots_refuse() { # pilots_refuse PATTERN: both pilot PCs reported a refusal saying it
	wait_for 40 bash -c "$(declare -f pc_reported); COLLECTOR='$COLLECTOR' CONF='$CONF' WORK='$WORK'; pc_reported p1 '$1' && pc_reported p2 '$1'"
}
publish_pinned() { # publish_pinned PATH: publish output, against releases.release_key
	"$COLLECTOR" agent-release publish "$1" --channel pilot -c "$CONF" -o "releases.release_key=$PUB" 2>&1
}

# forged_release_refused VERSION PATH PUBLISH_SAYS PC_SAYS: a collector
# that knows the release key refuses to publish PATH; one that does not
# (the attacker's) publishes it, and both pilot PCs, which pin the key,
# refuse it, keep running what they ran and halt the rollout.
forged_release_refused() {
	local v1 v2
	v1=$(pc_current p1) v2=$(pc_current p2)
	check "$1: publish refuses it when the collector knows the key" grep -q "$3" <(publish_pinned "$2")
	check "$1: a collector without the key publishes it, signed by the CA" \
		quiet "$COLLECTOR" agent-release publish "$2" --channel pilot -c "$CONF"
	check "$1: ... and both pilot PCs refuse it" pilots_refuse "$4"
	check "$1: ... keep running $v1 and $v2" pilots_running "$v1" "$v2"
	check "$1: ... with no folder for $1" test ! -e "$(pc_root p1)/agent-$1"
	check "$1: ... and the rollout halts" wait_for 20 state_is "$1" halted
}

pilots_running() { pc_running p1 "$1" && pc_running p2 "$2"; } # pilots_running V1 V2
pin_release_key() { # pin_release_key PC PUB: the PC pins PUB, restarted
	sed -i "/^upgrade:/a\  release_key: $2" "$(pc_dir "$1")/agent.yaml"
	stop_pc "$1" && start_pc "$1"
}

# The collector's CA key is online; the release key is not. Whoever
# holds the collector can sign bundles, but a PC that pins the release
# key installs only what that key signed.
scenario_release_key_pinned() {
	local keys=$WORK/offline other=$WORK/other pub
	local v1=$(pc_current p1) v2=$(pc_current p2)
	pub=$keys/release-key.pub.pem
	PUB=$pub
	check "agent-release keygen makes the offline key, with no collector state" \
		into "$WORK/keygen.out" env -u EDUWATCH_COLLECTOR_CONFIG "$COLLECTOR" agent-release keygen --out "$keys"
	check "... the private key is 0600" eq "$(stat -c %a "$keys/release-key.pem")" 600
	check "... and a second keygen over it is refused" bash -c "! '$COLLECTOR' agent-release keygen --out '$keys' 2>/dev/null"
	quiet "$COLLECTOR" agent-release keygen --out "$other"
	pin_release_key p1 "$pub" && pin_release_key p2 "$pub"
	check "the pilot PCs pin the release key and run $v1 and $v2" wait_for 40 pilots_running "$v1" "$v2"
	check "... and say which key at start, by its fingerprint" grep -q \
		"releases must be signed by the release key $(sed -n 's/^fingerprint: //p' "$WORK/keygen.out")" "$WORK/agent-p1.log"
	make_release 10.0
	# The attacker's collector does not say it has a release key.
	forged_release_refused 10.0 "$REL/agent-10.0" "an unsigned folder is refused" \
		"not signed by the release key"
	make_release 11.0
	check "a release signed by another key is signed" \
		quiet "$COLLECTOR" agent-release sign "$REL/agent-11.0" --key "$other/release-key.pem" --out "$WORK/11.0.ewr"
	forged_release_refused 11.0 "$WORK/11.0.ewr" "does not verify against the pinned release key" \
		"does not verify against the pinned release key"
	make_release 12.0
	check "a release signed by the release key, off the collector" \
		into "$WORK/sign-12.0.out" env -u EDUWATCH_COLLECTOR_CONFIG "$COLLECTOR" agent-release sign "$REL/agent-12.0" \
			--key "$keys/release-key.pem" --out "$WORK/12.0.ewr"
	check "... publish of the signed file with --rollback is refused (the mark is signed in)" \
		bash -c "! '$COLLECTOR' agent-release publish '$WORK/12.0.ewr' --channel pilot --rollback -c '$CONF' 2>/dev/null"
	check "... is published against the collector's releases.release_key" \
		into "$WORK/publish-12.0.out" publish_pinned "$WORK/12.0.ewr"
	check "... as release 12.0" grep -q "published agent release 12.0 as bundle" "$WORK/publish-12.0.out"
	check "... and both pilot PCs, which pin the key, run it" wait_for 40 all_running 12.0 p1 p2
}

run_scenarios
