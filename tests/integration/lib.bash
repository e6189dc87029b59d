# Shared helpers for the integration scripts: TAP output, ports, daemons.
# Scripts get EW_BIN (the binaries) and EW_BENCH_BIN (loadgen) from
# tests/run.sh.
set -u
EW_BIN=${EW_BIN:-build/release/bin}
EW_BENCH_BIN=${EW_BENCH_BIN:-build/release/bench}
COLLECTOR="$EW_BIN/eduwatch-collector"
LOADGEN="$EW_BENCH_BIN/loadgen"
PY=/usr/bin/python3
RULES="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../rules" && pwd)"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ew-it-XXXXXX")
TAP_N=0
TAP_FAILED=0
PIDS=()

ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $*"; }
not_ok() { TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1)); echo "not ok $TAP_N - $*"; }
check() { # check "description" command...
	local what=$1; shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
eq() { [ "$1" = "$2" ] || { echo "# expected '$2', got '$1'" >&2; return 1; }; }
# wait_for SECONDS command...: true as soon as the command is, polling
# every 0.1 s; false when SECONDS pass first. Use it instead of a sleep:
# a loaded machine (ASan, two cores) is slow, not wrong.
wait_for() {
	local t=$1 i; shift
	for ((i = 0; i < t * 10; i++)); do "$@" && return 0; sleep 0.1; done
	return 1
}

cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# A free TCP port on loopback.
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # wait_port PORT [SECONDS]
	local i
	for ((i = 0; i < ${2:-10} * 20; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# collector_init DIR: a collector state dir with test ports and timeouts.
collector_init() {
	local dir=$1
	"$COLLECTOR" init --dir "$dir" --rules "$RULES" >/dev/null || return 1
	INGEST_PORT=$(free_port)
	ENROLL_PORT=$(free_port)
	$PY - "$dir/collector.yaml" "$INGEST_PORT" "$ENROLL_PORT" <<'PYEOF'
import sys
path, ingest, enroll = sys.argv[1:]
text = open(path).read()
text = text.replace("  port: 7443", "  port: " + ingest, 1)
text = text.replace("  port: 7444", "  port: " + enroll, 1)
text = text.replace("handshake_timeout: 10s", "handshake_timeout: 3s")
text = text.replace("stats_interval: 60s", "stats_interval: 0")
open(path, "w").write(text)
PYEOF
	CONF="$dir/collector.yaml"
}

COLLECTOR_PID=
collector_start() { # collector_start LOGFILE
	"$COLLECTOR" serve -c "$CONF" >>"$1" 2>&1 &
	COLLECTOR_PID=$!
	PIDS+=("$COLLECTOR_PID")
	wait_port "$INGEST_PORT" 10 && wait_port "$ENROLL_PORT" 10
}

collector_stop() {
	[ -n "$COLLECTOR_PID" ] || return 0
	kill -TERM "$COLLECTOR_PID" 2>/dev/null
	wait "$COLLECTOR_PID" 2>/dev/null
	local rc=$?
	COLLECTOR_PID=
	return $rc
}

# soc_pki DIR: a SOC's CA and a server certificate for localhost and
# 127.0.0.1, made with the openssl command line.
soc_pki() {
	local p=$1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=Test SOC CA" -keyout "$p/ca.key" -out "$p/ca.crt" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/CN=localhost" -keyout "$p/soc.key" -out "$p/soc.csr" 2>/dev/null
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$p/ext"
	openssl x509 -req -in "$p/soc.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" \
		-CAcreateserial -days 2 -extfile "$p/ext" -out "$p/soc.crt" 2>/dev/null
}

# rsyslog_conf DIR PORT PKIDIR TEMPLATE: a real rsyslog receiving syslog
# over TLS (its OpenSSL driver) on PORT and writing each message through
# TEMPLATE into DIR/soc.log. Start it with rsyslog_start (sets RSPID).
rsyslog_conf() {
	RS=$1 RS_PORT=$2
	mkdir -p "$RS"
	cat >"$RS/rsyslog.conf" <<CONF
global(workDirectory="$RS"
       DefaultNetstreamDriver="ossl"
       DefaultNetstreamDriverCAFile="$3/ca.crt"
       DefaultNetstreamDriverCertFile="$3/soc.crt"
       DefaultNetstreamDriverKeyFile="$3/soc.key")
# Direct queues: a message is in the file before the next one is read,
# so kill -9 loses only what TCP had not delivered yet.
main_queue(queue.type="Direct")
module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1"
       StreamDriver.AuthMode="anon")
input(type="imtcp" port="$RS_PORT")
template(name="out" type="string" string="$4")
action(type="omfile" file="$RS/soc.log" template="out" flushOnTXEnd="on"
       asyncWriting="off")
CONF
}

RSPID=
rsyslog_start() {
	rsyslogd -n -f "$RS/rsyslog.conf" -i "$RS/rsyslog.pid" >>"$RS/rsyslog.out" 2>&1 &
	RSPID=$!
	PIDS+=("$RSPID")
	wait_port "$RS_PORT" 10
}

# collector_with_agent SCHOOL DIR: a running collector in $D with one
# school, and an agent enrolled to it with its state and agent.yaml in
# DIR (sets ID; the agent is not started).
collector_with_agent() {
	local school=$1 dir=$2 token
	collector_init "$D" || return 1
	"$COLLECTOR" school add "$school" "Trường $school" --commune "Xã test" --level 2 \
		--expected-pcs 1 -c "$CONF" >/dev/null
	collector_start "$WORK/collector.log" || return 1
	token=$("$COLLECTOR" token create --school "$school" --uses 1 -c "$CONF" 2>/dev/null)
	"$EW_BIN/eduwatch-agent" enroll --collector "localhost:$INGEST_PORT" \
		--enroll-port "$ENROLL_PORT" --token "$token" --ca "$D/ca.crt" \
		--state-dir "$dir/state" -c "$dir/agent.yaml" >"$WORK/enroll.out" 2>&1
	ID=$(sed -n 's/^enrolled as agent \([^ ]*\) .*/\1/p' "$WORK/enroll.out")
	[ -n "$ID" ]
}

# agent_events: the newest events of agent $ID at the collector ($CONF),
# as JSON. wait_event SECONDS PATTERN: until one of them matches.
agent_events() { "$COLLECTOR" events list --agent "$ID" --limit 500 --json -c "$CONF"; }
events_match() { agent_events | grep -q "$1"; }
wait_event() { wait_for "$1" events_match "$2"; }

tap_finish() {
	echo "1..$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
}
