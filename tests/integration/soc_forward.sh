#!/bin/bash
# Alerts to the SOC, end to end: agents' events become alerts by
# rules/alerts.yaml; the collector forwards them to a real rsyslog over
# TLS (RFC 5424 + CEF, octet-counted) and to an HTTPS JSON receiver (ECS,
# bearer token). The test reads what the SOC wrote and checks every
# field; kills rsyslog (kill -9) while alerts flow and restarts it:
# nothing is lost; the HTTPS side refuses the first posts: nothing is lost.
# The officers' workflow (list, ack, resolve) runs on the same alerts.
. "$(dirname "$0")/lib.bash"
command -v rsyslogd >/dev/null || { echo "1..0 # SKIP rsyslogd is not installed"; exit 0; }
D="$WORK/collector"
P="$WORK/pki"
mkdir -p "$P" "$WORK/rs"

soc_pki "$P"
check "test PKI for the SOC" test -s "$P/soc.crt"

# ---- a real rsyslog with its TLS driver --------------------------------
SYSLOG_PORT=$(free_port)
RS="$WORK/rs"
rsyslog_conf "$RS" "$SYSLOG_PORT" "$P" '%rawmsg%\n'
rsyslog_start || not_ok "rsyslogd starts"

# ---- an HTTPS receiver -------------------------------------------------
HTTPS_PORT=$(free_port)
$PY "$(dirname "$0")/https_receiver.py" "$HTTPS_PORT" "$P/soc.crt" "$P/soc.key" \
	"$WORK/https.log" "s3cr3t-token" 2 &
PIDS+=($!)
wait_port "$HTTPS_PORT" 10 || not_ok "https receiver starts"

# ---- an HTTPS receiver that wants a client certificate (mTLS) ----------
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj "/CN=eduwatch-collector" -keyout "$P/client.key" -out "$P/client.csr" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >"$P/client.ext"
openssl x509 -req -in "$P/client.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" \
	-CAcreateserial -days 2 -extfile "$P/client.ext" -out "$P/client.crt" 2>/dev/null
MTLS_PORT=$(free_port)
$PY "$(dirname "$0")/https_receiver.py" "$MTLS_PORT" "$P/soc.crt" "$P/soc.key" \
	"$WORK/mtls.log" - 0 "$P/ca.crt" &
PIDS+=($!)
wait_port "$MTLS_PORT" 10 || not_ok "mTLS receiver starts"
check "the mTLS receiver refuses a client without a certificate" $PY - "$MTLS_PORT" "$P/ca.crt" <<'PYEOF'
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            t.sendall(b"POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n[]")
            t.settimeout(5)
            if b" 200 " in t.recv(100):
                sys.exit(1)
except (ssl.SSLError, ConnectionError, OSError):
    sys.exit(0)
sys.exit(1)
PYEOF

# ---- the collector ------------------------------------------------------
collector_init "$D" || { not_ok "collector init"; tap_finish; exit 1; }
cat >>"$CONF" <<YAML
forward:
  - name: soc-syslog
    type: syslog
    address: localhost:$SYSLOG_PORT
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
collector_start "$WORK/collector.log" || not_ok "collector start"

# Each loadgen agent sends a YARA match (seq 6) and a port scan (seq 9)
# in its first 12 events: two alerts an agent.
loadgen() { # loadgen STATE AGENTS
	"$LOADGEN" --host 127.0.0.1 --port "$INGEST_PORT" --enroll-port "$ENROLL_PORT" \
		--ca "$D/ca.crt" --token "$TOKEN" --state "$WORK/$1" --agents "$2" \
		--events 12 --deadline 120 >/dev/null
}
syslog_ids() { $PY "$(dirname "$0")/socparse.py" syslog "$RS/soc.log" 2>/dev/null |
	$PY -c 'import json,sys; print(len({json.loads(l)["cef"]["ext"]["externalId"] for l in sys.stdin}))'; }
https_ids() { [ -s "$WORK/https.log" ] || { echo 0; return; }
	$PY "$(dirname "$0")/socparse.py" https "$WORK/https.log" |
	$PY -c 'import json,sys; print(len({json.loads(l)["event"]["id"] for l in sys.stdin}))'; }
wait_count() { # wait_count FUNCTION N SECONDS
	local i
	for ((i = 0; i < $3 * 4; i++)); do
		[ "$($1)" -ge "$2" ] && return 0
		sleep 0.25
	done
	echo "# $1: $($1) of $2" >&2
	return 1
}

loadgen lg1 20
check "40 alerts reach rsyslog over TLS" wait_count syslog_ids 40 30
check "40 alerts reach the HTTPS receiver after its refusals" wait_count https_ids 40 30
mtls_count() { [ -s "$WORK/mtls.log" ] || { echo 0; return; }
	$PY -c 'import json,sys; print(sum(len(json.loads(l)) for l in open(sys.argv[1])))' "$WORK/mtls.log"; }
check "40 alerts reach the receiver that wants mTLS, with the client certificate" \
	wait_count mtls_count 40 30
check "as OCSF Detection Findings" $PY -c '
import json, sys
items = [a for l in open(sys.argv[1]) for a in json.loads(l)]
sys.exit(0 if items and all(a.get("class_uid") == 2004 for a in items) else 1)' "$WORK/mtls.log"
check "the collector opened 40 alerts" \
	eq "$("$COLLECTOR" alerts list --limit 1000 --json -c "$CONF" | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')" 40

# ---- every field, as the SOC parsed it ---------------------------------
$PY "$(dirname "$0")/socparse.py" syslog "$RS/soc.log" >"$WORK/syslog.json"
check "syslog and CEF fields of a YARA alert" $PY - "$WORK/syslog.json" <<'PYEOF'
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
yara = [r for r in rows if r["cef"]["signature"] == "scan.match"]
assert len({r["cef"]["ext"]["externalId"] for r in yara}) == 20, len(yara)
r = yara[0]
h, c, e = r["header"], r["cef"], r["cef"]["ext"]
assert h["pri"] == 13 * 8 + 1, h          # log audit, alert: CEF 9
assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", h["ts"]), h
assert h["app"] == "eduwatch" and h["msgid"] == "scan.match", h
assert (c["version"], c["vendor"], c["product"]) == ("CEF:0", "eduwatch", "eduwatch-collector"), c
assert c["name"] == "Malware found by a YARA rule" and c["severity"] == 9, c
assert re.match(r"^\d{13}$", e["rt"]), e
assert re.match(r"^eduwatch-\d+$", e["externalId"]), e
assert e["shost"].startswith("loadgen-"), e
assert e["dvchost"] == h["host"], (e, h)
assert re.match(r"^bai-tap-\d+\.exe$", e["fname"]), e
assert e["filePath"].startswith("C:\\Users\\hocsinh\\Downloads\\bai-tap-"), e
assert re.match(r"^[0-9a-f]{64}$", e["fileHash"]), e
assert (e["act"], e["outcome"], e["cat"]) == ("alert", "open", "malware"), e
assert (e["cs1Label"], e["cs1"]) == ("school", "79001"), e
assert (e["cs2Label"], e["cs2"]) == ("commune", "Xã An"), e
assert (e["cs3Label"], e["cs3"]) == ("rule", "yara-match"), e
assert e["cs4Label"] == "agent" and e["cs4"].startswith("79001-"), e
assert e["cs5Label"] == "evidence" and json.loads(e["cs5"])["rule"] == "Win_Ransom_Note_Generic", e
assert (e["cs6Label"], e["cs6"]) == ("drill", "false"), e
scan = [r for r in rows if r["cef"]["signature"] == "net.port_scan"][0]
assert scan["cef"]["severity"] == 5 and scan["header"]["pri"] == 13 * 8 + 4, scan
PYEOF
$PY "$(dirname "$0")/socparse.py" https "$WORK/https.log" >"$WORK/https.json"
check "ECS fields of the same alerts over HTTPS" $PY - "$WORK/https.json" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
yara = [r for r in rows if r["rule"]["id"] == "yara-match"][0]
assert yara["event"]["kind"] == "alert" and yara["event"]["category"] == ["malware"], yara
assert yara["event"]["severity"] == 9 and yara["event"]["action"] == "scan.match", yara
assert yara["message"] == "Malware found by a YARA rule", yara
assert yara["host"]["name"].startswith("loadgen-") and yara["host"]["id"].startswith("79001-"), yara
assert yara["organization"]["id"] == "79001" and yara["labels"]["commune"] == "Xã An", yara
assert yara["labels"]["drill"] == "false" and yara["tags"] == [], yara
assert yara["file"]["path"].startswith("C:\\Users\\hocsinh") and len(yara["file"]["hash"]["sha256"]) == 64, yara
assert yara["observer"]["vendor"] == "eduwatch", yara
assert yara["eduwatch"]["evidence"]["rule"] == "Win_Ransom_Note_Generic", yara
assert yara["@timestamp"].endswith("Z"), yara
PYEOF

# ---- rsyslog killed mid-stream ----------------------------------------
loadgen lg2 30 &
lg=$!
sleep 0.3
kill -9 "$RSPID"
wait "$RSPID" 2>/dev/null
wait "$lg"
logged() { grep -q "forward soc-syslog: connect: Connection refused" "$WORK/collector.log"; }
wait_logged() { local i; for ((i = 0; i < 40; i++)); do logged && return 0; sleep 0.25; done; return 1; }
check "the forwarder keeps retrying while rsyslog is down" wait_logged
sleep 1
rsyslog_start || not_ok "rsyslogd restarts"
check "after the restart all 100 alerts are at rsyslog: none lost" wait_count syslog_ids 100 60
check "and all 100 at the HTTPS receiver" wait_count https_ids 100 30

# ---- the officers' workflow -------------------------------------------
id=$("$COLLECTOR" alerts list --state open --limit 1 --json -c "$CONF" |
	$PY -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
check "ack an alert" bash -c "'$COLLECTOR' alerts ack $id --by 'Cán bộ An' -c '$CONF' | grep -q acknowledged"
check "it shows who acknowledged it" bash -c \
	"'$COLLECTOR' alerts list --state acknowledged --json -c '$CONF' | grep -q '\"ack_by\":\"Cán bộ An\"'"
check "resolve it" bash -c "'$COLLECTOR' alerts resolve $id --by 'Cán bộ An' -c '$CONF' | grep -q resolved"
"$COLLECTOR" alerts resolve "$id" --by x -c "$CONF" >/dev/null 2>&1
check "resolving twice is refused" eq $? 1
"$COLLECTOR" alerts ack 999999 --by x -c "$CONF" >/dev/null 2>&1
check "an unknown alert exits 4" eq $? 4
# ---- a compliance drop, from the daily snapshot ------------------------
yesterday=$(date -u -d yesterday +%Y-%m-%d)
sqlite3 "$D/eduwatch.db" "INSERT INTO score_snapshots VALUES('$yesterday', 'school', '79001', 95.0, 100)"
out=$("$COLLECTOR" score --snapshot -c "$CONF")
check "the snapshot raises a compliance drop" grep -q "alert: compliance-drop 79001 dropped" <<<"$out"
drop_at_soc() { $PY "$(dirname "$0")/socparse.py" syslog "$RS/soc.log" | grep -c '"signature": "compliance.drop"'; }
check "the compliance drop reaches the SOC" wait_count drop_at_soc 1 15
check "and the HTTPS receiver" wait_count https_ids 101 15
out=$("$COLLECTOR" score --snapshot -c "$CONF")
check "a second snapshot the same day folds into the open alert" \
	bash -c "! grep -q 'alert:' <<<'$out'"
collector_stop
check "the collector logs its forwarders' counters at stop" \
	grep -q 'forward soc-https: sent=101 .*queued=0' "$WORK/collector.log"
tap_finish
