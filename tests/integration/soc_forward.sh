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
	"$WORK/https.log" "s3cr3t-token" 2 - POISON-SOC &
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

# ---- hostile file names from a real agent's scan ----------------------
A="$WORK/agent"
H="$WORK/hostile"
mkdir -p "$A"
token=$("$COLLECTOR" token create --school 79001 --uses 1 -c "$CONF" 2>/dev/null)
"$EW_BIN/eduwatch-agent" enroll --collector "localhost:$INGEST_PORT" \
	--enroll-port "$ENROLL_PORT" --token "$token" --ca "$D/ca.crt" \
	--state-dir "$A/state" -c "$A/agent.yaml" >"$WORK/enroll.out" 2>&1
ID=$(sed -n 's/^enrolled as agent \([^ ]*\) .*/\1/p' "$WORK/enroll.out")
check "an agent enrolls" test -n "$ID"
sed -i '/^netsensor:/,$d' "$A/agent.yaml"
cat >>"$A/agent.yaml" <<YAML
netsensor:
  enabled: false
scan:
  full_paths: [$WORK/nothing]
  quick_paths: [$WORK/nothing]
  usb_mounts: [$WORK/nothing]
  cpu: 100
av:
  clamd_socket: $WORK/no-clamd.sock
  clamav_db: $WORK/no-db
  clamd_conf: $WORK/no-clamd.conf
  products_file: $RULES/av-products.txt
YAML
sed -i 's/interval: 60s/interval: 1s/' "$A/agent.yaml"
# EICAR files (each a different hash, so each its own alert): one named
# with the bytes ff fe, one the receiver refuses, one 600 bytes deep, and
# one scanned after the refusal.
$PY - "$H" <<'PYEOF'
import os, sys
h = os.fsencode(sys.argv[1])
eicar = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-"
         b"STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
def write(rel, tail):
    path = os.path.join(h, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").write(eicar + b"\n" + tail)
deep = b"/".join([b"thu-muc-rat-sau-" + bytes([97 + i]) * 40 for i in range(11)])
write(b"first/\xff\xfe.com", b"1")
write(b"first/POISON-SOC.com", b"2")
write(b"first/" + deep + b"/deep-virus.com", b"3")
write(b"later/after.com", b"4")
assert len(os.path.join(h, b"first", deep, b"deep-virus.com")) >= 600
PYEOF
"$EW_BIN/eduwatch-agent" run -c "$A/agent.yaml" >>"$WORK/agent.log" 2>&1 &
PIDS+=($!)
"$COLLECTOR" rules publish --agent "$ID" -c "$CONF" >/dev/null
agent_events() { "$COLLECTOR" events list --agent "$ID" --limit 500 --json -c "$CONF"; }
wait_event() { local i; for ((i = 0; i < $1 * 5; i++)); do agent_events | grep -q "$2" && return 0; sleep 0.2; done; return 1; }
check "the agent installs the rules" wait_event 60 '"kind":"rules.update".*"state":"installed"'
"$COLLECTOR" command send --agent "$ID" --type scan --kind paths --path "$H/first" -c "$CONF" >/dev/null
check "the agent reports the three matches" wait_event 60 'deep-virus.com'
wait_event 20 'POISON-SOC' && wait_event 20 '\\ufffd\\ufffd.com'
cat >"$WORK/strict.py" <<'PYEOF'
# Reads JSON on stdin as a strict SIEM would: UTF-8 or nothing, no NaN,
# no lone surrogate; exit 0 when it also holds the text in argv[1].
import json, sys
raw = sys.stdin.buffer.read()
def walk(v):
    if isinstance(v, str):
        v.encode("utf-8")
    elif isinstance(v, list):
        for x in v:
            walk(x)
    elif isinstance(v, dict):
        for k, x in v.items():
            walk(k)
            walk(x)
def refuse(c):
    raise ValueError(c)
walk(json.loads(raw.decode("utf-8", errors="strict"), parse_constant=refuse))
sys.exit(0 if sys.argv[1].encode() in raw else 1)
PYEOF
events_strict() { "$COLLECTOR" events list --agent "$ID" --limit 500 --json -c "$CONF" |
	$PY "$WORK/strict.py" '\ufffd\ufffd.com'; }
alerts_strict() { "$COLLECTOR" alerts list --limit 1000 --json -c "$CONF" |
	$PY "$WORK/strict.py" '"path_b64":'; }
check "events list --json is strict JSON and shows the bad bytes as U+FFFD" events_strict
check "alerts list --json is strict JSON, raw bytes kept in path_b64" alerts_strict

https_alert() { # https_alert PYTHON-CONDITION: one ECS alert matches
	[ -s "$WORK/https.log" ] && $PY "$(dirname "$0")/socparse.py" https "$WORK/https.log" |
		$PY -c 'import json,sys,base64
def ok(l):
    try:
        return eval(sys.argv[1], {"a": json.loads(l), "base64": base64})
    except (KeyError, TypeError, AttributeError):
        return False
sys.exit(0 if any([ok(l) for l in sys.stdin]) else 1)' "$1"; }
check "the alert for the ff fe file reaches the strict HTTPS receiver, U+FFFD in file.name" \
	wait_for 60 https_alert 'a["file"]["name"] == "\ufffd\ufffd.com"'
check "its evidence keeps the raw name in path_b64" https_alert \
	'base64.b64decode(a["eduwatch"]["evidence"].get("path_b64", "")).endswith(b"/\xff\xfe.com")'
check "the 600-byte path keeps file.name, and file.path its tail after a cut marker" https_alert \
	'a["file"]["name"] == "deep-virus.com" and "\u2026" in a["file"]["path"] and a["file"]["path"].endswith("/deep-virus.com") and len(a["file"]["path"].encode()) < 512'
dead_letters() { "$COLLECTOR" forward dead-letter list --json -c "$CONF" | $PY -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if len(d) == 1 and d[0]["destination"] == "soc-https" and d[0]["status"] == 400
         and d[0]["rule"] == "yara-match" and "breaks our schema" in d[0]["reason"] else 1)'; }
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
ocsf_deep() { $PY -c '
import json, sys
items = [a for l in open(sys.argv[1]) for a in json.loads(l)]
sys.exit(0 if any(e["file"]["name"] == "deep-virus.com" and "\u2026" in e["file"]["path"]
                  for a in items for e in a.get("evidences", [])) else 1)' "$WORK/mtls.log"; }
check "the OCSF receiver gets the deep path's file name too" wait_for 30 ocsf_deep
syslog_alert() { $PY "$(dirname "$0")/socparse.py" syslog "$RS/soc.log" | $PY -c '
import json, sys
def ok(l):
    try:
        return eval(sys.argv[1], {"e": json.loads(l)["cef"]["ext"]})
    except (KeyError, TypeError, AttributeError):
        return False
sys.exit(0 if any([ok(l) for l in sys.stdin]) else 1)' "$1"; }
check "rsyslog gets the ff fe alert as valid UTF-8 CEF, fname with U+FFFD" \
	wait_for 30 syslog_alert 'e.get("fname") == "\ufffd\ufffd.com"'
check "and the deep path with fname and a cut filePath" \
	syslog_alert 'e.get("fname") == "deep-virus.com" and "\u2026" in e["filePath"] and e["filePath"].endswith("/deep-virus.com")'
check "rsyslog's file is valid UTF-8 throughout" $PY -c 'open(__import__("sys").argv[1], "rb").read().decode("utf-8")' "$RS/soc.log"
kill -HUP "$COLLECTOR_PID"
check "SIGHUP logs the dead letters with the forwarder's counters" \
	wait_for 20 grep -q 'forward soc-https: sent=[0-9]* skipped=[0-9]* queued=[0-9]* dead_letters=1 ' "$WORK/collector.log"
collector_stop
check "the collector logs its forwarders' counters at stop" \
	grep -Eq 'forward soc-https: sent=[0-9]+ .*queued=0 dead_letters=1 ' "$WORK/collector.log"
tap_finish
