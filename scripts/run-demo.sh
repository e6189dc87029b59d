#!/bin/bash
# make run: the main job on the embedded default. A collector on SQLite
# and a local agent enrolled to it, both in build/demo/, then what they
# found, refreshed until Ctrl-C. Safe to run again: it reuses what exists.
set -eu
cd "$(dirname "$0")/.."
BIN=build/release/bin
DEMO=${EDUWATCH_DEMO_DIR:-build/demo}
C="$DEMO/collector"
A="$DEMO/agent"
COLLECTOR=("$BIN/eduwatch-collector")
AGENT=("$BIN/eduwatch-agent")
mkdir -p "$DEMO"

if [ ! -f "$C/ca.key" ]; then
	"${COLLECTOR[@]}" init --dir "$C" --name localhost --name 127.0.0.1 \
		--rules rules >/dev/null
	# Loopback only: the demo should not listen on the school's LAN.
	sed -i 's/^listen: 0.0.0.0/listen: 127.0.0.1/' "$C/collector.yaml"
	# The officers' console, on loopback too.
	sed -i 's/^  enabled: false/  enabled: true/' "$C/collector.yaml"
	"${COLLECTOR[@]}" school add DEMO01 "Trường demo" --commune "Xã demo" \
		--level 2 --expected-pcs 1 -c "$C/collector.yaml" >/dev/null
fi
CONF="$C/collector.yaml"
# A demo made before the console existed: turn it on.
grep -q '^web:' "$CONF" ||
	printf 'web:\n  enabled: true\n  listen: 127.0.0.1\n  port: 8443\n' >>"$CONF"
# The first admin, once: its one-time password and TOTP secret are shown
# below and kept (0600) in the demo folder, which is this PC's only.
if [ ! -f "$DEMO/admin.txt" ]; then
	(umask 077; "${COLLECTOR[@]}" user add admin province_admin -c "$CONF" >"$DEMO/admin.txt")
fi
# A demo made before scoring existed: point it at this tree's policies.
grep -q '^score:' "$CONF" ||
	printf 'score:\n  policy_dir: %s/rules/policies\nalerts:\n  rules: %s/rules/alerts.yaml\n' \
		"$PWD" "$PWD" >>"$CONF"
"${COLLECTOR[@]}" serve -c "$CONF" >>"$DEMO/collector.log" 2>&1 &
cpid=$!
agent_pid=
stopped=0
stop() {
	[ $stopped -eq 1 ] && return
	stopped=1
	echo
	echo "stopping..."
	[ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null
	kill -TERM "$cpid" 2>/dev/null
	wait 2>/dev/null
	echo "stopped. Logs: $DEMO/collector.log $DEMO/agent.log"
}
# Whatever happens, the daemons this script started stop with it.
trap 'stop; exit 0' INT TERM
trap stop EXIT
for _ in $(seq 50); do
	grep -q "serving from $C" "$DEMO/collector.log" 2>/dev/null && break
	kill -0 "$cpid" 2>/dev/null || break
	sleep 0.1
done
if ! kill -0 "$cpid" 2>/dev/null; then
	echo "the collector did not start (is port 7443 or 7444 in use?):"
	tail -3 "$DEMO/collector.log"
	exit 1
fi

mkdir -p "$A"
if [ ! -f "$A/state/agent.crt" ]; then
	token=$("${COLLECTOR[@]}" token create --school DEMO01 --uses 1 --expires 1h -c "$CONF" 2>/dev/null)
	"${AGENT[@]}" enroll --collector localhost:7443 --token "$token" --ca "$C/ca.crt" \
		--state-dir "$A/state" -c "$A/agent.yaml" >/dev/null
	sed -i 's/interval: 60s/interval: 10s/' "$A/agent.yaml"
	# The demo scans its own sample folder, not the whole disk, and reads
	# the AV product list from this tree: its sections replace the
	# enrolled defaults (scan, av and log close the file).
	mkdir -p "$DEMO/samples"
	sed -i '/^scan:/,$d' "$A/agent.yaml"
	cat >>"$A/agent.yaml" <<YAML
scan:
  full_paths: [$(cd "$DEMO/samples" && pwd)]
  quick_paths: [$(cd "$DEMO/samples" && pwd)]
  usb_mounts: [/media]
av:
  products_file: $PWD/rules/av-products.txt
backup:
  repo: $(cd "$DEMO" && pwd)/backups
  paths: [$(cd "$DEMO/samples" && pwd)]
  check_interval: 5s
log:
  level: info
YAML
	mkdir -p "$DEMO/backups"
fi
"${AGENT[@]}" run -c "$A/agent.yaml" >>"$DEMO/agent.log" 2>&1 &
agent_pid=$!
# Something for the scanner to find: the harmless drill marker and the
# EICAR test file, made here (never committed), then the signed rule
# bundle pushed to the agent and a scan ordered from the collector.
mkdir -p "$DEMO/samples"
echo "EDUWATCH-DRILL-MARKER-v1" >"$DEMO/samples/drill-marker.txt"
printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-' 'STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' \
	>"$DEMO/samples/eicar.com"
sleep 3
"${COLLECTOR[@]}" rules publish -c "$CONF" >/dev/null 2>>"$DEMO/collector.log" || true
for _ in $(seq 50); do
	"${AGENT[@]}" rules show -c "$A/agent.yaml" >/dev/null 2>&1 && break
	sleep 0.2
done
agent_id=$("${COLLECTOR[@]}" agent list --json -c "$CONF" | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4)
[ -n "$agent_id" ] && "${COLLECTOR[@]}" command send --agent "$agent_id" --type scan \
	--kind full -c "$CONF" >/dev/null 2>&1
sleep 3

# A demo incident drill on the local agent (issue 19): planned by a
# drill organiser, approved by the admin (a second person), started with
# a signed command that expires with its 30-minute window. The agent
# writes EICAR and the drill marker in its own drill folder, its scan
# finds them, the alert is raised, and the cleanup is verified; the
# timeline is printed below and shown in the console's drill page.
if [ ! -f "$DEMO/drill-organiser.txt" ]; then
	(umask 077; "${COLLECTOR[@]}" user add drill-organiser drill_organiser -c "$CONF" \
		>"$DEMO/drill-organiser.txt")
fi
DEMO_DRILL="demo-$(date -u +%Y%m%d-%H%M%S)"
if "${COLLECTOR[@]}" drill plan --name "$DEMO_DRILL" --type malware-drop --by drill-organiser \
	--school DEMO01 --expires 30m -c "$CONF" >/dev/null &&
	"${COLLECTOR[@]}" drill approve --name "$DEMO_DRILL" --by admin -c "$CONF" >/dev/null &&
	"${COLLECTOR[@]}" drill start --name "$DEMO_DRILL" -c "$CONF"; then
	echo "demo drill $DEMO_DRILL started: its timeline follows below"
else
	echo "the demo drill did not start (see above)"
	DEMO_DRILL=
fi
sleep 2

console="https://localhost:$(cat "$C/web.port" 2>/dev/null || echo 8443)/"
# The six-monthly report of the demo school (the period that holds today,
# or this year's first half once it is over), as PDF and XLSX, from the
# snapshot taken now.
"${COLLECTOR[@]}" score --snapshot -c "$CONF" >/dev/null 2>&1 || true
month=$(date -u +%-m)
year=$(date -u +%Y)
if [ "$month" -eq 12 ]; then period="$((year + 1))-H1"; else period="$year-H1"; fi
mkdir -p "$DEMO/reports"
REPORT_PDF="$(cd "$DEMO/reports" && pwd)/DEMO01-$period.pdf"
REPORT_XLSX="${REPORT_PDF%.pdf}.xlsx"
for fmt in pdf xlsx; do
	"${COLLECTOR[@]}" report export --period "$period" --scope school:DEMO01 \
		--format $fmt --out "${REPORT_PDF%.pdf}.$fmt" -c "$CONF" >/dev/null
done
echo "six-monthly report $period of DEMO01:"
echo "  PDF:  $REPORT_PDF"
echo "  XLSX: $REPORT_XLSX"
sleep 2

while true; do
	clear 2>/dev/null || true
	echo "eduwatch demo: a collector (SQLite: $C/eduwatch.db) and one agent on this PC"
	echo "Officers' console: $console  (the certificate is the demo CA's: $C/ca.crt)"
	sed 's/^/  /' "$DEMO/admin.txt"
	echo "  TOTP: add the secret to an authenticator app, or:"
	echo "  python3 -c \"import hmac,base64,struct,time;k=base64.b32decode('$(sed -n 's/^TOTP secret: \([A-Z2-7]*\).*/\1/p' "$DEMO/admin.txt")');m=hmac.new(k,struct.pack('>Q',int(time.time()//30)),'sha1').digest();o=m[19]&15;print('%06d'%((struct.unpack('>I',m[o:o+4])[0]&0x7fffffff)%1000000))\""
	echo "Collector CLI: ${COLLECTOR[*]} -c $CONF ...   Ctrl-C stops both."
	echo "Report $period of DEMO01: $REPORT_PDF and $REPORT_XLSX"
	echo
	echo "== schools"
	"${COLLECTOR[@]}" school list -c "$CONF"
	echo
	echo "== agents"
	"${COLLECTOR[@]}" agent list -c "$CONF"
	echo
	echo "== the agent's own view (eduwatch-agent status)"
	"${AGENT[@]}" status -c "$A/agent.yaml" || true
	echo
	echo "== newest events at the collector"
	"${COLLECTOR[@]}" events list --limit 8 -c "$CONF"
	echo
	echo "== what the scanner found (the demo's samples folder)"
	"${COLLECTOR[@]}" events list --limit 200 -c "$CONF" | grep -E "scan\.(match|summary)|av\.status" | head -6
	echo
	echo "== open alerts"
	"${COLLECTOR[@]}" alerts list --limit 5 -c "$CONF" || true
	echo
	echo "== backups (the samples folder, into $DEMO/backups)"
	"${COLLECTOR[@]}" events list --limit 300 -c "$CONF" | grep -E "backup\.status" | head -3
	echo
	if [ -n "$DEMO_DRILL" ]; then
		echo "== demo drill $DEMO_DRILL: timeline and scoreboard (drill status)"
		"${COLLECTOR[@]}" drill status --name "$DEMO_DRILL" -c "$CONF" | head -32 || true
		echo
	fi
	echo "== compliance of the demo school (level 2 policy; this PC has no"
	echo "   real-time antivirus)"
	"${COLLECTOR[@]}" score --school DEMO01 -c "$CONF" || true
	sleep 10
done
