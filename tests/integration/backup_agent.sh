#!/bin/bash
# The running agent enforces the backup policy against a real collector:
# it creates the repository (and a passphrase, 0600), backs up, verifies,
# runs a sampled test restore, and reports each as backup.status; it
# escrows the keys, and the collector's `backup-key recover` turns the
# escrow into a key file with a new passphrase. A missing target (an
# unplugged USB drive) breaches the RPO and raises the alert.
# Scenarios run alone by name: make test ONLY=backup_agent:unplugged
. "$(dirname "$0")/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
GEN="$PY $(dirname "$0")/py/genfiles.py"
D="$WORK/collector"
A="$WORK/agent"
mkdir -p "$A" "$WORK/usb" "$WORK/docs"
# agent_settings REPO: the agent's settings over its agent.yaml: backups
# alone, to REPO, checked every second.
agent_settings() {
	AGENT_SET=(-o heartbeat.interval=1s -o scan.enabled=false -o av.enabled=false
		-o netsensor.enabled=false -o backup.repo="$1" -o backup.paths="$WORK/docs"
		-o backup.rpo=1h -o backup.check_interval=1s -o backup.restore_sample=3)
}
agent_start() {
	"$AGENT" run -c "$A/agent.yaml" "${AGENT_SET[@]}" >>"$WORK/agent.log" 2>&1 &
	APID=$!
}

setup() {
	local i
	for i in $(seq 30); do echo "Hồ sơ học sinh $i" >"$WORK/docs/hs-$i.txt"; done
	collector_with_agent 79020 "$A" || { not_ok "collector and agent"; return 1; }
	agent_settings "$WORK/usb/eduwatch-backup"
	mkdir -p "$WORK/usb/eduwatch-backup"
	# A file rewritten in place all through the first backup (issue 14): it
	# cannot be stored whole, so the status names it.
	$GEN random "$WORK/docs/busy.bin" $((48 << 20))
	$PY "$(dirname "$0")/py/busywriter.py" "$WORK/docs/busy.bin" "$WORK/busy-stop" 120 &
	BUSY=$!
	PIDS+=("$BUSY")
	agent_start
	PIDS+=("$APID")
}

backed_up() { wait_event 30 '"kind":"backup.status".*"action":"backup","ok":true,"rpo_met":true'; }
busy_gone() { ! kill -0 "$BUSY" 2>/dev/null; }
stop_busy() { touch "$WORK/busy-stop"; wait_for 130 busy_gone; }

scenario_backup() {
	check "a backup runs and is reported with the RPO met" backed_up
	stop_busy
	check "the status counts the file that could not be stored, and names it" \
		grep -q '"not_stored":1,"not_stored_paths":\["[^"]*/docs/busy.bin"\]' <<<"$(agent_events)"
	rm -f "$WORK/docs/busy.bin"
	check "the agent made a passphrase file, 0600" eq "$(stat -c %a "$A/state/backup.pass" 2>/dev/null)" 600
	check "and the repository on the target" test -f "$WORK/usb/eduwatch-backup/keys/key"
	check "the verify follows, and passes" \
		wait_event 30 '"kind":"backup.status".*"action":"verify","ok":true'
	check "then a sampled test restore, which passes" \
		wait_event 30 '"kind":"backup.status".*"action":"restore_test","ok":true'
	check "the status carries the last test restore's time" \
		grep -q '"last_restore_test_us":1[0-9]\{15\}' <<<"$(agent_events)"
	check "the scratch copies of the test restore are gone" test ! -e "$A/state/restore-test"
	check "the keys were escrowed to the collector" wait_event 10 '"kind":"backup.escrow"'
	check "no passphrase or key material in clear at the collector" \
		bash -c "! grep -rqa \"$(cat "$A/state/backup.pass")\" '$D'"
}

# The province recovers the key for a school that lost its passphrase.
scenario_key_recovery() {
	stop_busy
	wait_event 60 '"kind":"backup.escrow"' || not_ok "the keys were escrowed to the collector"
	rm -f "$WORK/newkey"
	EDUWATCH_BACKUP_PASSWORD="province-recovery-2026" "$COLLECTOR" backup-key recover \
		--agent "$ID" --out "$WORK/newkey" -c "$CONF" >/dev/null
	check "backup-key recover writes a new key file" test -s "$WORK/newkey"
	rm -rf "$WORK/recovered" "$WORK/rec-out"
	cp -a "$WORK/usb/eduwatch-backup" "$WORK/recovered"
	cp "$WORK/newkey" "$WORK/recovered/keys/key"
	EDUWATCH_BACKUP_PASSWORD="province-recovery-2026" "$AGENT" backup restore latest \
		--to "$WORK/rec-out" --repo "$WORK/recovered" >/dev/null
	check "with it the repository opens and restores the school's files" \
		cmp -s "$WORK/docs/hs-7.txt" "$WORK/rec-out$WORK/docs/hs-7.txt"
}

agent_gone() { ! kill -0 "$APID" 2>/dev/null; }
rpo_alert() { "$COLLECTOR" alerts list -c "$CONF" | grep -q backup-rpo; }
# The USB drive is unplugged: the next backup cannot run.
scenario_unplugged() {
	stop_busy
	backed_up || not_ok "a first backup, before the drive is unplugged"
	kill -TERM "$APID"
	wait_for 30 agent_gone
	agent_settings "$WORK/unplugged/eduwatch-backup"
	AGENT_SET+=(-o backup.rpo=1m)
	# Make the last success two hours old (the agent keeps it in its spool's
	# meta table): with the target gone, the RPO is now breached.
	sqlite3 "$A/state/spool.db" "UPDATE meta SET value = value - 7200000000 WHERE key = 'backup_last_ok_us'"
	agent_start
	check "a missing target is reported: not ok, RPO breached, and why" \
		wait_event 30 '"kind":"backup.status".*"ok":false,"rpo_met":false.*is missing'
	check "and the collector raises the RPO alert" wait_for 10 rpo_alert
	kill -TERM "$APID"
	wait "$APID"
}

run_scenarios
