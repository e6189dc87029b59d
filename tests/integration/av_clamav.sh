#!/bin/bash
# Antivirus status against a real clamd (Debian's clamav-daemon) started by
# the test: a one-signature database made with sigtool, its own config and
# socket; a daily.cvd header written here (two days old) for the
# signature-age reading; then clamonacc for real-time protection, and a
# product recognised only by its name in the data file.
. "$(dirname "$0")/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
C="$WORK/clam"
mkdir -p "$C/db" "$C/sigs" "$C/watch" "$C/state"
echo "eduwatch clamd test sample" >"$C/sample.txt"
sigtool --md5 "$C/sample.txt" >"$C/db/eduwatch-test.hdb"
$PY - "$C/sigs/daily.cvd" <<'PYEOF'
import sys, time
built = int(time.time()) - 2 * 86400 - 3600
hdr = ("ClamAV-VDB:27 Nov 2026 07:49 +0000:27470:2077345:90:"
       "0123456789abcdef0123456789abcdef:TESTSIG:eduwatch-test:%d" % built)
open(sys.argv[1], "wb").write(hdr.encode().ljust(512, b" ") + b"payload")
PYEOF
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
field() { $PY -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

j=$(av)
check "without clamd: ClamAV is found but off ($j)" eq "$(field 'd["products"][0]["state"]' <<<"$j")" off
check "without clamd: no real-time protection" eq "$(field 'd["realtime"]' <<<"$j")" False

clamd -c "$C/clamd.conf" >"$C/clamd.out" 2>&1 &
PIDS+=($!)
wait_for 30 test -S "$C/clamd.sock"
check "clamd started with the sigtool database" test -S "$C/clamd.sock"
j=$(av)
check "clamd answers PING: ClamAV is on ($j)" eq "$(field 'd["products"][0]["state"]' <<<"$j")" on
check "VERSION gives the engine version" grep -q '"version":"1\.' <<<"$j"
check "the signature age comes from the daily.cvd header: 2 days" \
	eq "$(field 'd["sig_age_days"]' <<<"$j")" 2
check "the header's build time is reported" \
	test "$(field 'd["products"][0]["sig_time_us"]' <<<"$j")" -gt 0
check "clamd alone is not real-time protection" eq "$(field 'd["realtime"]' <<<"$j")" False
check "the detail says on-access is not configured" \
	grep -q "on-access not configured" <<<"$(field 'd["products"][0]["detail"]' <<<"$j")"
check "freshclam is reported as not running" \
	grep -q "freshclam not running" <<<"$(field 'd["products"][0]["detail"]' <<<"$j")"

# On-access: configure it and start the real clamonacc.
printf 'OnAccessIncludePath %s\nOnAccessExcludeUname root\n' "$C/watch" >>"$C/clamd.conf"
j=$(av)
check "configured but clamonacc not running: still not real time" \
	eq "$(field 'd["realtime"]' <<<"$j")" False
clamonacc -c "$C/clamd.conf" -F -l "$C/onacc.log" >"$C/onacc.out" 2>&1 &
PIDS+=($!)
wait_for 5 grep -q watching "$C/onacc.log" 2>/dev/null
j=$(av)
check "clamd + clamonacc: real-time protection on ($j)" eq "$(field 'd["realtime"]' <<<"$j")" True
"$AGENT" av -c "$WORK/agent.yaml" >"$WORK/av.txt"
check "the text view says protected and the age" \
	grep -q "protected in real time: yes; signature age: 2 day" "$WORK/av.txt"

# A product known only by name: found while its process runs.
cp /bin/sleep "$WORK/ew-fake-av"
"$WORK/ew-fake-av" 60 &
PIDS+=($!)
sleep 0.2
j=$(av)
check "a listed product that runs is reported, state unknown" \
	eq "$(field '[p["state"] for p in d["products"] if p["name"]=="Test Vendor AV"]' <<<"$j")" "['unknown']"
check "a listed product that is absent is not" \
	eq "$(field 'len([p for p in d["products"] if p["name"]=="Nobody AV"])' <<<"$j")" 0

# clamd goes away: the state changes back.
kill -TERM "$(cat "$C/clamd.pid")" 2>/dev/null
wait_for 5 test ! -S "$C/clamd.sock"
sleep 0.3
j=$(av)
check "after clamd stops: ClamAV off, no real time" \
	eq "$(field '(d["products"][0]["state"], d["realtime"])' <<<"$j")" "('off', False)"
tap_finish
