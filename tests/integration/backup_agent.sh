#!/bin/bash
# The running agent enforces the backup policy against a real collector:
# it creates the repository (and a passphrase, 0600), backs up, verifies,
# runs a sampled test restore, and reports each as backup.status; it
# escrows the keys, and the collector's `backup-key recover` turns the
# escrow into a key file with a new passphrase. A missing target (an
# unplugged USB drive) breaches the RPO and raises the alert.
. "$(dirname "$0")/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
D="$WORK/collector"
A="$WORK/agent"
mkdir -p "$A" "$WORK/usb" "$WORK/docs"
for i in $(seq 30); do echo "Hồ sơ học sinh $i" >"$WORK/docs/hs-$i.txt"; done
collector_with_agent 79020 "$A" || { not_ok "collector and agent"; tap_finish; exit 1; }
sed -i '/^netsensor:/,$d' "$A/agent.yaml"
sed -i 's/interval: 60s/interval: 1s/' "$A/agent.yaml"
write_conf() { # write_conf REPO
	sed -i '/^scan:/,$d' "$A/agent.yaml"
	cat >>"$A/agent.yaml" <<YAML
scan:
  enabled: false
av:
  enabled: false
netsensor:
  enabled: false
backup:
  repo: $1
  paths: [$WORK/docs]
  rpo: 1h
  check_interval: 1s
  restore_sample: 3
YAML
}
write_conf "$WORK/usb/eduwatch-backup"
mkdir -p "$WORK/usb/eduwatch-backup"
# A file rewritten in place all through the first backup (issue 14): it
# cannot be stored whole, so the status names it.
$PY -c 'import os,sys; open(sys.argv[1],"wb").write(os.urandom(48<<20))' "$WORK/docs/busy.bin"
$PY - "$WORK/docs/busy.bin" "$WORK/busy-stop" <<'PYEOF' &
import os, sys, time
p, stop = sys.argv[1], sys.argv[2]
blk = os.urandom(1 << 20)
t0 = time.time()
while not os.path.exists(stop) and time.time() - t0 < 120:
    with open(p, "r+b") as f:
        for i in range(48):
            f.write(blk)
PYEOF
busy=$!
"$AGENT" run -c "$A/agent.yaml" >>"$WORK/agent.log" 2>&1 &
APID=$!
PIDS+=("$APID")
check "a backup runs and is reported with the RPO met" \
	wait_event 30 '"kind":"backup.status".*"action":"backup","ok":true,"rpo_met":true'
touch "$WORK/busy-stop"
wait $busy
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

# The province recovers the key for a school that lost its passphrase.
rm -f "$WORK/newkey"
EDUWATCH_BACKUP_PASSWORD="province-recovery-2026" "$COLLECTOR" backup-key recover \
	--agent "$ID" --out "$WORK/newkey" -c "$CONF" >/dev/null
check "backup-key recover writes a new key file" test -s "$WORK/newkey"
cp -a "$WORK/usb/eduwatch-backup" "$WORK/recovered"
cp "$WORK/newkey" "$WORK/recovered/keys/key"
EDUWATCH_BACKUP_PASSWORD="province-recovery-2026" "$AGENT" backup restore latest \
	--to "$WORK/rec-out" --repo "$WORK/recovered" >/dev/null
check "with it the repository opens and restores the school's files" \
	cmp -s "$WORK/docs/hs-7.txt" "$WORK/rec-out$WORK/docs/hs-7.txt"

# The USB drive is unplugged: the next backup cannot run.
kill -TERM "$APID"
wait "$APID"
write_conf "$WORK/unplugged/eduwatch-backup"
sed -i 's/  rpo: 1h/  rpo: 1m/' "$A/agent.yaml"
# Make the last success two hours old (the agent keeps it in its spool's
# meta table): with the target gone, the RPO is now breached.
sqlite3 "$A/state/spool.db" "UPDATE meta SET value = value - 7200000000 WHERE key = 'backup_last_ok_us'"
"$AGENT" run -c "$A/agent.yaml" >>"$WORK/agent.log" 2>&1 &
APID=$!
PIDS+=("$APID")
check "a missing target is reported: not ok, RPO breached, and why" \
	wait_event 30 '"kind":"backup.status".*"ok":false,"rpo_met":false.*is missing'
check "and the collector raises the RPO alert" \
	bash -c "for i in \$(seq 50); do '$COLLECTOR' alerts list -c '$CONF' | grep -q backup-rpo && exit 0; sleep 0.2; done; exit 1"
kill -TERM "$APID"
wait "$APID"
tap_finish
