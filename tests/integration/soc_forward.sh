#!/bin/bash
# Alerts to the SOC, end to end: agents' events become alerts by
# rules/alerts.yaml; the collector forwards them to a real rsyslog over
# TLS (RFC 5424 + CEF, octet-counted) and to an HTTPS JSON receiver (ECS,
# bearer token). The test reads what the SOC wrote and checks every
# field; kills rsyslog (kill -9) while alerts flow and restarts it:
# nothing is lost; the HTTPS side refuses the first posts: nothing is lost.
# The officers' workflow (list, ack, resolve) runs on the same alerts.
# Hostile file names from a real agent's scan: bytes that are not UTF-8
# reach a strict HTTPS receiver (400 on invalid JSON) and rsyslog as
# valid UTF-8; an alert the receiver refuses for good is parked as a dead
# letter and the alerts after it still arrive; a 600-byte path keeps its
# file name with a cut marker.
# Scenarios run alone by name: make test ONLY=soc_forward:hostile_names
. "$(dirname "$0")/lib.bash"
command -v rsyslogd >/dev/null || { echo "1..0 # SKIP rsyslogd is not installed"; exit 0; }
D="$WORK/collector"
P="$WORK/pki"
SOC="$PY $(dirname "$0")/py/soc.py"
JSONQ="$PY $(dirname "$0")/py/jsonq.py"
mkdir -p "$P" "$WORK/rs"

# The SOC's receivers, each on a port it binds itself, and a collector
# forwarding to all three.
setup() {
	soc_pki "$P"
	check "test PKI for the SOC" test -s "$P/soc.crt"

	# ---- a real rsyslog with its TLS driver ----------------------------
	rsyslog_conf "$WORK/rs" 0 "$P" '%rawmsg%\n'
	rsyslog_start || { not_ok "rsyslogd starts"; return 1; }

	# ---- an HTTPS receiver ---------------------------------------------
	https_receiver HTTPS_PORT "$P/soc.crt" "$P/soc.key" \
		"$WORK/https.log" "s3cr3t-token" 2 - POISON-SOC ||
		{ not_ok "https receiver starts"; return 1; }

	# ---- an HTTPS receiver that wants a client certificate (mTLS) ------
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/CN=eduwatch-collector" -keyout "$P/client.key" -out "$P/client.csr" 2>/dev/null
	printf 'extendedKeyUsage=clientAuth\n' >"$P/client.ext"
	openssl x509 -req -in "$P/client.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" \
		-CAcreateserial -days 2 -extfile "$P/client.ext" -out "$P/client.crt" 2>/dev/null
	https_receiver MTLS_PORT "$P/soc.crt" "$P/soc.key" "$WORK/mtls.log" - 0 "$P/ca.crt" ||
		{ not_ok "mTLS receiver starts"; return 1; }
	check "the mTLS receiver refuses a client without a certificate" \
		$SOC refuses-anonymous "$MTLS_PORT" "$P/ca.crt"

	# ---- the collector --------------------------------------------------
	collector_init "$D" || { not_ok "collector init"; return 1; }
	# The destinations are a list of mappings: they belong in the file.
	cat >>"$CONF" <<YAML
forward:
  - name: soc-syslog
    type: syslog
    address: localhost:$RS_PORT
    tls: true
    ca: $P/ca.crt
  - name: soc-https
    type: https
    address: https://localhost:$HTTPS_PORT/alerts
    ca: $P/ca.crt
    token: s3cr3t-token
    format: ecs
  - name: soc-mtls
    type: https
    address: https://localhost:$MTLS_PORT/alerts
    ca: $P/ca.crt
    cert: $P/client.crt
    key: $P/client.key
    format: ocsf
YAML
	"$COLLECTOR" school add 79001 "THCS Nguyễn Du | A=B" --commune "Xã An" --level 2 \
		--expected-pcs 100 -c "$CONF" >/dev/null
	TOKEN=$("$COLLECTOR" token create --school 79001 --uses 100 --expires 1h -c "$CONF" 2>/dev/null)
	collector_start "$WORK/collector.log" || { not_ok "collector start"; return 1; }
}

# Each loadgen agent sends a YARA match (seq 6) and a port scan (seq 9)
# in its first 12 events: two alerts an agent.
loadgen() { # loadgen STATE AGENTS
	"$LOADGEN" --host 127.0.0.1 --port "$INGEST_PORT" --enroll-port "$ENROLL_PORT" \
		--ca "$D/ca.crt" --token "$TOKEN" --state "$WORK/$1" --agents "$2" \
		--events 12 --deadline 120 >/dev/null
}
syslog_ids() { $SOC ids syslog "$RS/soc.log"; }
https_ids() { $SOC ids https "$WORK/https.log"; }
mtls_count() { $SOC mtls-count "$WORK/mtls.log"; }
open_alerts() { "$COLLECTOR" alerts list --limit 1000 --json -c "$CONF" | $JSONQ len; }
at_least() { [ "$("$1")" -ge "$2" ]; } # at_least FUNCTION N: it prints N or more
wait_count() { # wait_count FUNCTION N SECONDS
	wait_for "$3" at_least "$1" "$2" && return 0
	echo "# $1: $($1) of $2" >&2
	return 1
}

scenario_forward() {
	local s0 h0 m0 a0
	s0=$(syslog_ids) h0=$(https_ids) m0=$(mtls_count) a0=$(open_alerts)
	loadgen lg1 20
	check "40 alerts reach rsyslog over TLS" wait_count syslog_ids $((s0 + 40)) 30
	check "40 alerts reach the HTTPS receiver after its refusals" wait_count https_ids $((h0 + 40)) 30
	check "40 alerts reach the receiver that wants mTLS, with the client certificate" \
		wait_count mtls_count $((m0 + 40)) 30
	check "as OCSF Detection Findings" $SOC ocsf-class "$WORK/mtls.log"
	check "the collector opened 40 alerts" eq "$(($(open_alerts) - a0))" 40

	# ---- every field, as the SOC parsed it -----------------------------
	$PY "$(dirname "$0")/socparse.py" syslog "$RS/soc.log" >"$WORK/syslog.json"
	check "syslog and CEF fields of a YARA alert" $SOC cef-yara "$WORK/syslog.json"
	$PY "$(dirname "$0")/socparse.py" https "$WORK/https.log" >"$WORK/https.json"
	check "ECS fields of the same alerts over HTTPS" $SOC ecs-yara "$WORK/https.json"
}

# ---- rsyslog killed mid-stream ----------------------------------------
refused_logged() { grep -q "forward soc-syslog: connect: Connection refused" "$WORK/collector.log"; }
scenario_rsyslog_kill9() {
	local s0 h0 lg
	s0=$(syslog_ids) h0=$(https_ids)
	loadgen lg2 30 &
	lg=$!
	sleep 0.3 # let some alerts flow first; the kill lands mid-stream or after
	kill -9 "$RSPID"
	wait "$RSPID" 2>/dev/null
	wait "$lg"
	check "the forwarder keeps retrying while rsyslog is down" wait_for 10 refused_logged
	sleep 1 # at least one more retry against the closed port
	rsyslog_start && keep_running "$RSPID" || not_ok "rsyslogd restarts"
	check "after the restart all 60 alerts are at rsyslog: none lost" wait_count syslog_ids $((s0 + 60)) 60
	check "and all 60 at the HTTPS receiver" wait_count https_ids $((h0 + 60)) 30
}

# ---- the officers' workflow -------------------------------------------
scenario_workflow() {
	local id
	loadgen lg3 1
	wait_for 30 at_least open_alerts 1
	id=$("$COLLECTOR" alerts list --state open --limit 1 --json -c "$CONF" | $JSONQ get 0.id)
	check "ack an alert" bash -c "'$COLLECTOR' alerts ack $id --by 'Cán bộ An' -c '$CONF' | grep -q acknowledged"
	check "it shows who acknowledged it" bash -c \
		"'$COLLECTOR' alerts list --state acknowledged --json -c '$CONF' | grep -q '\"ack_by\":\"Cán bộ An\"'"
	check "resolve it" bash -c "'$COLLECTOR' alerts resolve $id --by 'Cán bộ An' -c '$CONF' | grep -q resolved"
	check_status "resolving twice is refused" 1 "$COLLECTOR" alerts resolve "$id" --by x -c "$CONF"
	check_status "an unknown alert exits 4" 4 "$COLLECTOR" alerts ack 999999 --by x -c "$CONF"
}

# ---- a compliance drop, from the daily snapshot ------------------------
drop_at_soc() { $PY "$(dirname "$0")/socparse.py" syslog "$RS/soc.log" | grep -c '"signature": "compliance.drop"'; }
scenario_compliance_drop() {
	local yesterday out h0
	h0=$(https_ids)
	yesterday=$(date -u -d yesterday +%Y-%m-%d)
	store_sql "INSERT INTO score_snapshots VALUES('$yesterday', 'school', '79001', 95.0, 100)"
	out=$("$COLLECTOR" score --snapshot -c "$CONF")
	check "the snapshot raises a compliance drop" grep -q "alert: compliance-drop 79001 dropped" <<<"$out"
	check "the compliance drop reaches the SOC" wait_count drop_at_soc 1 15
	check "and the HTTPS receiver" wait_count https_ids $((h0 + 1)) 15
	out=$("$COLLECTOR" score --snapshot -c "$CONF")
	check "a second snapshot the same day folds into the open alert" \
		bash -c "! grep -q 'alert:' <<<'$out'"
}

# ---- an alert that commits after a higher id was sent -----------------
# On PostgreSQL ids are drawn at insert, not at commit: an ingest batch's
# alert can commit after the dead-letter notice a second connection
# opened with the next id was already sent and confirmed. Played here by
# hand on either store: an alert queued with an id far above the others,
# sent; then one with a lower id, queued after it. Both reach every
# destination (ids far above: the store's own alerts never meet them).
queue_alert() { # queue_alert ID TITLE: an alert and its three queue rows
	local now dest
	now=$(date +%s%6N)
	store_sql "INSERT INTO alerts(id, rule, title, category, kind, dedupe_key, agent, school, severity, drill, first, last, count, state, evidence, src_ip, file_path, file_hash) VALUES($1, 'late', '$2', 'malware', 'scan.match', 'k-$2', 'pc-late', '79001', 8, 0, $now, $now, 1, 'open', '{}', '', '', '')" &&
		for dest in soc-syslog soc-https soc-mtls; do
			store_sql "INSERT INTO forward_queue(dest, alert) VALUES('$dest', $1);
				INSERT INTO forward_deliveries(dest, alert, queued) VALUES('$dest', $1, $now)" || return 1
		done
}
queue_empty() { [ "$(store_sql "SELECT count(*) FROM forward_queue")" = 0 ]; }
at_every_soc() { grep -qs "$1" "$RS/soc.log" && grep -qs "$1" "$WORK/https.log" && grep -qs "$1" "$WORK/mtls.log"; }
scenario_late_commit() {
	local top
	top=$(store_sql "SELECT max(id) FROM alerts")
	queue_alert $((top + 100000)) late-high || not_ok "an alert queued by hand"
	check "an alert of a high id reaches every destination" wait_for 30 at_every_soc late-high
	# Nothing in flight: every destination confirmed it (a sleep was not
	# enough under ASan; on SQLite the syslog window's confirmation takes
	# off "everything up to" its id, so a lower one queued before that
	# would go with it unsent: ids never come out of order on SQLite,
	# only this hand-made row does).
	wait_for 30 queue_empty || not_ok "the high alert is confirmed everywhere"
	queue_alert $((top + 50000)) late-low || not_ok "a lower id queued after it"
	check "an alert of a lower id that commits after it still reaches every destination" \
		wait_for 30 at_every_soc late-low
}

# ---- hostile file names from a real agent's scan ----------------------
https_alert() { $SOC any https "$WORK/https.log" "$1"; }
syslog_alert() { $SOC any syslog "$RS/soc.log" "$1"; }
dead_letters() { "$COLLECTOR" forward dead-letter list --json -c "$CONF" | $SOC dead-letter; }
scenario_hostile_names() {
	local A="$WORK/agent" H="$WORK/hostile" token
	mkdir -p "$A"
	token=$("$COLLECTOR" token create --school 79001 --uses 1 -c "$CONF" 2>/dev/null)
	"$EW_BIN/eduwatch-agent" enroll --collector "localhost:$INGEST_PORT" \
		--enroll-port "$ENROLL_PORT" --token "$token" --ca "$D/ca.crt" \
		--state-dir "$A/state" -c "$A/agent.yaml" >"$WORK/enroll.out" 2>&1
	ID=$(sed -n 's/^enrolled as agent \([^ ]*\) .*/\1/p' "$WORK/enroll.out")
	check "an agent enrolls" test -n "$ID"
	$SOC hostile-names "$H"
	"$EW_BIN/eduwatch-agent" run -c "$A/agent.yaml" -o netsensor.enabled=false \
		-o scan.full_paths="$WORK/nothing" -o scan.quick_paths="$WORK/nothing" \
		-o scan.usb_mounts="$WORK/nothing" -o scan.cpu=100 \
		-o av.clamd_socket="$WORK/no-clamd.sock" -o av.clamav_db="$WORK/no-db" \
		-o av.clamd_conf="$WORK/no-clamd.conf" -o av.products_file="$RULES/av-products.txt" \
		-o heartbeat.interval=1s \
		>>"$WORK/agent.log" 2>&1 &
	"$COLLECTOR" rules publish --agent "$ID" -c "$CONF" >/dev/null
	check "the agent installs the rules" wait_event 60 '"kind":"rules.update".*"state":"installed"'
	"$COLLECTOR" command send --agent "$ID" --type scan --kind paths --path "$H/first" -c "$CONF" >/dev/null
	check "the agent reports the three matches" wait_event 60 'deep-virus.com'
	wait_event 20 'POISON-SOC' && wait_event 20 '\\ufffd\\ufffd.com'
	check "events list --json is strict JSON and shows the bad bytes as U+FFFD" \
		$SOC strict '\ufffd\ufffd.com' < <("$COLLECTOR" events list --agent "$ID" --limit 500 --json -c "$CONF")
	check "alerts list --json is strict JSON, raw bytes kept in path_b64" \
		$SOC strict '"path_b64":' < <("$COLLECTOR" alerts list --limit 1000 --json -c "$CONF")

	check "the alert for the ff fe file reaches the strict HTTPS receiver, U+FFFD in file.name" \
		wait_for 60 https_alert 'a["file"]["name"] == "\ufffd\ufffd.com"'
	check "its evidence keeps the raw name in path_b64" https_alert \
		'base64.b64decode(a["eduwatch"]["evidence"].get("path_b64", "")).endswith(b"/\xff\xfe.com")'
	check "the 600-byte path keeps file.name, and file.path its tail after a cut marker" https_alert \
		'a["file"]["name"] == "deep-virus.com" and "\u2026" in a["file"]["path"] and a["file"]["path"].endswith("/deep-virus.com") and len(a["file"]["path"].encode()) < 512'
	check "the refused alert is parked as one dead letter, with the destination, status and reason" \
		wait_for 60 dead_letters
	check "the CLI lists it for an operator" bash -c \
		"'$COLLECTOR' forward dead-letter list -c '$CONF' | grep -q 'soc-https .*yara-match .*HTTP 400: this alert breaks our schema'"
	check "a local alert says so" bash -c \
		"'$COLLECTOR' alerts list --json -c '$CONF' | grep -q '\"rule\":\"soc-dead-letter\"'"
	check "the local alert reaches the SOC too" wait_for 30 https_alert 'a["rule"]["id"] == "soc-dead-letter"'
	"$COLLECTOR" command send --agent "$ID" --type scan --kind paths --path "$H/later" -c "$CONF" >/dev/null
	check "an alert raised after the refusal still reaches the HTTPS receiver" \
		wait_for 60 https_alert 'a["file"]["name"] == "after.com"'
	check "the poisoned alert never reached it" bash -c "! grep -q POISON-SOC '$WORK/https.log'"
	check "the OCSF receiver gets the deep path's file name too" wait_for 30 $SOC ocsf-deep "$WORK/mtls.log"
	check "rsyslog gets the ff fe alert as valid UTF-8 CEF, fname with U+FFFD" \
		wait_for 30 syslog_alert 'e.get("fname") == "\ufffd\ufffd.com"'
	check "and the deep path with fname and a cut filePath" \
		syslog_alert 'e.get("fname") == "deep-virus.com" and "\u2026" in e["filePath"] and e["filePath"].endswith("/deep-virus.com")'
	check "rsyslog's file is valid UTF-8 throughout" $SOC utf8 "$RS/soc.log"
	kill -HUP "$COLLECTOR_PID"
	check "SIGHUP logs the dead letters with the forwarder's counters" \
		wait_for 20 grep -q 'forward soc-https: sent=[0-9]* skipped=[0-9]* queued=[0-9]* dead_letters=1 ' "$WORK/collector.log"
	echo 1 >"$WORK/dead-letters"
}

teardown() {
	local dl
	dl=$(cat "$WORK/dead-letters" 2>/dev/null || echo 0)
	collector_stop
	check "the collector logs its forwarders' counters at stop" \
		grep -Eq "forward soc-https: sent=[0-9]+ .*queued=0 dead_letters=$dl " "$WORK/collector.log"
	# The queues are empty: each alert's delivery to each destination is
	# on record as confirmed (not before it was queued) or refused.
	check "every alert's delivery to every destination is recorded, confirmed or refused" \
		eq "$(store_sql "SELECT count(*) - (SELECT count(*) FROM alerts) * 3,
			sum(CASE WHEN delivered >= queued AND dead IS NULL THEN 1 ELSE 0 END),
			sum(CASE WHEN dead IS NOT NULL AND delivered IS NULL THEN 1 ELSE 0 END)
			- (SELECT count(*) FROM dead_letters),
			count(DISTINCT dest) FROM forward_deliveries")" \
		"0|$(store_sql "SELECT count(*) * 3 - $dl FROM alerts")|0|3"
}

# soc_forward_pg.sh sources this file (EW_AS_LIB=1) and runs its scenarios on
# PostgreSQL.
[ -n "${EW_AS_LIB:-}" ] || run_scenarios
