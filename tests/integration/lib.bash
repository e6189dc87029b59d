# Shared helpers for the integration scripts: TAP output, ports, daemons.
# Scripts get EW_BIN (the binaries) and EW_BENCH_BIN (loadgen) from
# tests/run.sh.
set -u
# Absolute, so a workload run in another folder (cd "$F" && ...) still
# finds them.
EW_BIN=$(realpath -m "${EW_BIN:-build/release/bin}")
EW_BENCH_BIN=$(realpath -m "${EW_BENCH_BIN:-build/release/bench}")
COLLECTOR="$EW_BIN/eduwatch-collector"
LOADGEN="$EW_BENCH_BIN/loadgen"
PY=/usr/bin/python3
RULES="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../rules" && pwd)"
EW_SCENARIO=${EW_SCENARIO:-}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ew-it-XXXXXX")
# Every process this script starts carries it (see `ours`).
export EW_TEST_WORK=$WORK
TAP_N=0
TAP_FAILED=0
PIDS=()

ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $*"; }
not_ok() { TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1)); echo "not ok $TAP_N - $*"; }
check() { # check "description" command...
	local what=$1; shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# check_said "description" command...: check, with the command's last line
# of output in the description (a hostile client says what it saw).
check_said() {
	local what=$1 out; shift
	if out=$("$@" 2>&1); then ok "$what ($(tail -1 <<<"$out"))"
	else not_ok "$what ($(tail -1 <<<"$out"))"; fi
}
# check_status "description" STATUS command...: the command exits STATUS.
check_status() {
	local what=$1 want=$2 rc=0; shift 2
	"$@" >/dev/null 2>&1 || rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$what"
	else echo "# expected status $want, got $rc" >&2; not_ok "$what"; fi
}
quiet() { "$@" >/dev/null; } # quiet command...: its status, not its output
silent() { "$@" >/dev/null 2>&1; } # silent command...: its status alone
# into FILE command...: its status, its output (both streams) in FILE.
into() { local f=$1; shift; "$@" >"$f" 2>&1; }
# ours PID: the process is one this script started: a descendant of it,
# or one that carries its EW_TEST_WORK (a daemon that left its parent).
# A pid written down earlier may belong to another process by now:
# pid_max is 32,768 here and `make test` goes round it, so a cleanup's
# kill -9 of every pid it ever noted could hit another suite's process
# (a wineserver, a PostgreSQL) two suites away.
ours() {
	local p=$1 ppid
	case $p in '' | *[!0-9]*) return 1 ;; esac
	[ -e "/proc/$p" ] || return 1
	tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qxF "EW_TEST_WORK=$WORK" && return 0
	while [ "$p" -gt 1 ]; do
		[ "$p" = "$$" ] && return 0
		ppid=$(sed -n 's/^PPid:[[:space:]]*//p' "/proc/$p/status" 2>/dev/null)
		[ -n "$ppid" ] || return 1
		p=$ppid
	done
	return 1
}
# kill_ours [-SIGNAL] PID...: the signal (TERM) to those of the PIDs that
# are ours; a pid reused by another process is left alone.
kill_ours() {
	local sig=-TERM p
	case ${1:-} in -*) sig=$1; shift ;; esac
	for p; do
		if ours "$p"; then
			kill "$sig" "$p" 2>/dev/null
		elif [ -e "/proc/$p" ]; then
			echo "# pid $p is another process's now ($(cat "/proc/$p/comm" 2>/dev/null)): left alone"
		fi
	done
	return 0
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
	# shellcheck disable=SC2046
	kill_ours -9 "${PIDS[@]}" $(cat "$WORK/.kept-pids" 2>/dev/null)
	wait 2>/dev/null
	[ "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# A free TCP port on loopback.
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { wait_for "${2:-10}" port_open "$1"; } # wait_port PORT [SECONDS]

# collector_init DIR: a collector state dir, and the test's settings over
# its collector.yaml (COLLECTOR_SET, -o flags for `serve`; a script adds
# its own with collector_set KEY=VALUE). The ports are 0: the collector
# binds free ones and names them in DIR/ports, which collector_start reads
# (no port picked here and released, for another process to take first).
collector_init() {
	local dir=$1
	"$COLLECTOR" init --dir "$dir" --rules "$RULES" >/dev/null || return 1
	CONF="$dir/collector.yaml"
	COLLECTOR_DIR=$dir
	COLLECTOR_SET=(-o ingest.port=0 -o enroll.port=0
		-o ingest.handshake_timeout=3s -o log.stats_interval=0)
	INGEST_PORT= ENROLL_PORT=
	[ "${EW_STORE:-}" != pg ] || collector_use_pg "$dir"
}

# EW_STORE=pg: the script's collectors store into a real PostgreSQL, one
# throwaway server for the script (lib_pg.bash, started by run_scenarios
# before setup) and a database of its own for each collector_init. A
# *_pg.sh wrapper sets it and sources the SQLite script, so both backends
# run the same scenarios.
[ "${EW_STORE:-}" != pg ] || . "$(dirname "${BASH_SOURCE[0]}")/lib_pg.bash"

# store_sql SQL: SQL on the store of the collector last initialised, on
# whichever backend it uses; rows one a line, columns split by '|' on
# both. Write the SQL both dialects take (CASE, not a sum of booleans).
store_sql() {
	if [ "${EW_STORE:-}" = pg ]; then
		pg_sql "$PG_DB" "$1"
	else
		sqlite3 -cmd ".timeout 10000" "$COLLECTOR_DIR/eduwatch.db" "$1"
	fi
}

collector_set() { local a; for a; do COLLECTOR_SET+=(-o "$a"); done; }
# collector_forward_nowhere NAME: a forward destination that never answers
# (syslog to the discard port), so alerts wait in its queue.
collector_forward_nowhere() {
	printf 'forward:\n  - name: %s\n    type: syslog\n    address: 127.0.0.1:9\n    tls: false\n' "$1" >>"$CONF"
}

# collector_port NAME: the port the running collector bound for NAME
# (ingest or enroll), from its ports file.
collector_port() { awk -v n="$1" '$1 == n {print $2}' "$COLLECTOR_DIR/ports" 2>/dev/null; }
# ingest: a collector without the CA key names no enroll port.
ports_written() { [ -n "$(collector_port ingest)" ]; }

COLLECTOR_PID=
# collector_start LOGFILE: serve, and wait until it names its ports. A
# restart (after kill -9) asks for the same ports again: agents and the
# loadgen reconnect to the address they know.
collector_start() {
	rm -f "$COLLECTOR_DIR/ports"
	"$COLLECTOR" serve -c "$CONF" "${COLLECTOR_SET[@]}" \
		${INGEST_PORT:+-o ingest.port=$INGEST_PORT} \
		${ENROLL_PORT:+-o enroll.port=$ENROLL_PORT} >>"$1" 2>&1 &
	COLLECTOR_PID=$!
	PIDS+=("$COLLECTOR_PID")
	wait_for 20 ports_written || return 1
	INGEST_PORT=$(collector_port ingest)
	ENROLL_PORT=$(collector_port enroll)
}

# pid_gone PID: no process has that pid. Not `! ours`: a process in the
# middle of its kill -9 can no longer show its environment and already
# looks like someone else's, while it still holds what it held (a
# PostgreSQL backend, its shared memory: the restart after pg_kill9
# failed in CI). A pid given since to another process only makes the
# caller wait longer.
pid_gone() { ! kill -0 "$1" 2>/dev/null; }
# collector_stop: SIGTERM, and its exit status once it has exited. A
# scenario stopping the collector its script's setup started cannot wait
# for it (not its child, status 127): it polls until it is gone (60 s,
# else 1); its exit status is then unknown, so a scenario that checks a
# clean stop reads "collector: stopped" in its log.
collector_stop() {
	[ -n "$COLLECTOR_PID" ] || return 0
	local pid=$COLLECTOR_PID rc=0
	kill_ours -TERM "$pid"
	wait "$pid" 2>/dev/null || rc=$?
	if [ $rc -eq 127 ]; then
		wait_for 60 pid_gone "$pid" && rc=0
	fi
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
# PORT 0: rsyslog binds a free port and names it in DIR/port (imtcp's
# listenPortFileName); rsyslog_start reads it into RS_PORT, and a restart
# asks for that port again.
rsyslog_conf() {
	RS=$1 RS_PORT=$2 RS_PKI=$3 RS_TEMPLATE=$4
	mkdir -p "$RS"
}
rsyslog_write_conf() {
	cat >"$RS/rsyslog.conf" <<CONF
global(workDirectory="$RS"
       DefaultNetstreamDriver="ossl"
       DefaultNetstreamDriverCAFile="$RS_PKI/ca.crt"
       DefaultNetstreamDriverCertFile="$RS_PKI/soc.crt"
       DefaultNetstreamDriverKeyFile="$RS_PKI/soc.key")
# Direct queues: a message is in the file before the next one is read,
# so kill -9 loses only what TCP had not delivered yet.
main_queue(queue.type="Direct")
module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1"
       StreamDriver.AuthMode="anon")
input(type="imtcp" port="$RS_PORT" listenPortFileName="$RS/port")
template(name="out" type="string" string="$RS_TEMPLATE")
action(type="omfile" file="$RS/soc.log" template="out" flushOnTXEnd="on"
       asyncWriting="off")
CONF
}

RSPID=
rsyslog_port_named() { [ -s "$RS/port" ]; }
rsyslog_start() {
	rm -f "$RS/port"
	rsyslog_write_conf
	rsyslogd -n -f "$RS/rsyslog.conf" -i "$RS/rsyslog.pid" >>"$RS/rsyslog.out" 2>&1 &
	RSPID=$!
	PIDS+=("$RSPID")
	if [ "$RS_PORT" = 0 ]; then
		wait_for 20 rsyslog_port_named || return 1
		RS_PORT=$(cat "$RS/port")
	fi
	wait_port "$RS_PORT" 20
}

# https_forward_yaml NAME PORT TOKEN CA: one entry of collector.yaml's
# forward: list, an HTTPS SOC on localhost:PORT taking ECS JSON.
https_forward_yaml() {
	printf '  - name: %s\n    type: https\n    address: https://localhost:%s/alerts\n    ca: %s\n    token: %s\n    format: ecs\n' \
		"$1" "$2" "$4" "$3"
}

# https_receiver VAR ARGS...: tests/integration/https_receiver.py on a
# port it binds itself (ARGS as its usage says, without PORT; OUT is the
# first); sets VAR to that port.
https_receiver() {
	local var=$1 out=$4
	shift
	rm -f "$out.port"
	$PY "$(dirname "${BASH_SOURCE[0]}")/https_receiver.py" 0 "$@" &
	PIDS+=($!)
	wait_for 20 test -s "$out.port" || return 1
	printf -v "$var" '%s' "$(cat "$out.port")"
}

# collector_with_agent SCHOOL DIR: a running collector in $D with one
# school, and an agent enrolled to it with its state and agent.yaml in
# DIR (sets ID; the agent is not started).
collector_with_agent() {
	local school=$1 dir=$2
	collector_init "$D" || return 1
	"$COLLECTOR" school add "$school" "Trường $school" --commune "Xã test" --level 2 \
		--expected-pcs 1 -c "$CONF" >/dev/null
	collector_start "$WORK/collector.log" || return 1
	agent_enroll "$school" "$dir"
}

# agent_enroll SCHOOL DIR: a real agent of SCHOOL enrolled with the running
# collector ($CONF) into DIR (its state and agent.yaml); sets ID.
agent_enroll() {
	local token
	token=$("$COLLECTOR" token create --school "$1" --uses 1 -c "$CONF" 2>/dev/null)
	"$EW_BIN/eduwatch-agent" enroll --collector "localhost:$INGEST_PORT" \
		--enroll-port "$ENROLL_PORT" --token "$token" --ca "$D/ca.crt" \
		--state-dir "$2/state" -c "$2/agent.yaml" >"$WORK/enroll.out" 2>&1
	ID=$(sed -n 's/^enrolled as agent \([^ ]*\) .*/\1/p' "$WORK/enroll.out")
	[ -n "$ID" ]
}

# quiet_agent_set USB_DIR: AGENT_SET, the -o flags of an agent that does
# nothing a test did not ask for: no LAN sensor, no scheduled scan, USB
# drives only under USB_DIR, no antivirus to find, a heartbeat a second.
quiet_agent_set() {
	AGENT_SET=(-o netsensor.enabled=false
		-o scan.full_paths="$WORK/nothing" -o scan.quick_paths="$WORK/nothing"
		-o scan.usb_mounts="$1" -o scan.cpu=100
		-o av.clamd_socket="$WORK/no-clamd.sock" -o av.clamav_db="$WORK/no-db"
		-o av.clamd_conf="$WORK/no-clamd.conf" -o av.products_file="$RULES/av-products.txt"
		-o heartbeat.interval=1s)
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

# Scenarios: a script defines `scenario_NAME() { ...checks... }`, in the
# order they run, optionally `setup` and `teardown`, and ends with
# `run_scenarios`. Each scenario runs in its own subshell, so a failed or
# aborted one neither stops nor skips the others, and runs alone by name:
#   EW_SCENARIO=slowloris,revoke bash tests/integration/collector_ingest.sh
#   make test ONLY=collector_ingest:slowloris
# EW_LIST_SCENARIOS=1 prints the names and runs nothing (tests/run.sh
# --list). `setup` (the shared daemons) runs once in the script's own
# shell before the first selected scenario and `teardown` after the last;
# a scenario that kills or restarts a daemon starts its own with its own
# setup, or hands the restarted one to the script (keep_running), so it
# never leaves the others a dead one. Whatever else a scenario started in
# the background is killed when it ends.
list_scenarios() { # the scenario_* functions, in the order of the file
	local f
	shopt -s extdebug
	for f in $(declare -F | awk '$3 ~ /^scenario_/ {print $3}'); do
		declare -F "$f"
	done | sort -k2,2n | awk '{print substr($1, 10)}'
	shopt -u extdebug
}

wants_scenario() { # wants_scenario NAME: EW_SCENARIO empty or names it
	[ -z "${EW_SCENARIO:-}" ] && return 0
	case ",$EW_SCENARIO," in *",$1,"*) return 0 ;; esac
	return 1
}

# run_scenario NAME: one scenario in a subshell; its TAP numbers carry on
# from the script's, and come back through a file.
run_scenario() {
	local name=$1 rc n failed
	local counts="$WORK/.scenario-counts"
	echo "# scenario $name"
	(
		end_of_scenario() {
			# shellcheck disable=SC2046
			kill_ours -9 $(jobs -p) $(cat "$WORK/.scenario-pids" 2>/dev/null)
			rm -f "$WORK/.scenario-pids"
			wait 2>/dev/null
			# Not $counts: an error that aborts the scenario (an
			# arithmetic one, say) unwinds run_scenario's locals too.
			echo "$TAP_N $TAP_FAILED" >"$WORK/.scenario-counts"
		}
		trap end_of_scenario EXIT
		EW_IN_SCENARIO=1
		"scenario_$name"
		exit 0
	)
	rc=$?
	if read -r n failed <"$counts" 2>/dev/null; then
		TAP_N=$n TAP_FAILED=$failed
	fi
	rm -f "$counts"
	# A scenario that stopped early (`set -u`, an exit) would else just
	# print fewer checks.
	[ "$rc" -eq 0 ] || not_ok "scenario $name stopped early with status $rc"
}

# daemon_start NAME command...: the command in the background, its pid in
# DAEMON_PID, and its exit status kept in $WORK/NAME.rc when it ends, so
# that a scenario can stop a daemon its script's setup started (not its
# child: `wait` cannot give it the status) and still check a clean exit:
# daemon_stop NAME [SECONDS] sends SIGTERM and returns that status. A
# daemon started inside a scenario is killed when the scenario ends; one
# started by setup, when the script ends.
daemon_start() {
	local name=$1; shift
	rm -f "$WORK/$name.rc" "$WORK/$name.pid"
	( "$@" & echo $! >"$WORK/$name.pid"; wait $!; echo $? >"$WORK/$name.rc" ) &
	wait_for 10 test -s "$WORK/$name.pid" || return 1
	DAEMON_PID=$(cat "$WORK/$name.pid")
	if [ -n "${EW_IN_SCENARIO:-}" ] && [ -z "${DAEMON_KEEP:-}" ]; then
		echo "$DAEMON_PID" >>"$WORK/.scenario-pids"
	else
		# DAEMON_KEEP=1: a scenario starts a daemon the ones after it use.
		disown $! 2>/dev/null
		echo "$DAEMON_PID" >>"$WORK/.kept-pids"
	fi
}
daemon_running() { [ -s "$WORK/$1.pid" ] && [ ! -e "$WORK/$1.rc" ] && ours "$(cat "$WORK/$1.pid")"; }
daemon_stop() {
	local name=$1 t=${2:-60}
	kill_ours -TERM "$(cat "$WORK/$name.pid")"
	wait_for "$t" test -s "$WORK/$name.rc" || return 1
	return "$(cat "$WORK/$name.rc")"
}

# keep_running PID: a shared daemon a scenario restarted (a peer it killed
# to test the collector's retries) outlives the scenario; the script kills
# it when it ends.
keep_running() {
	disown "$1" 2>/dev/null
	echo "$1" >>"$WORK/.kept-pids"
}

run_scenarios() {
	local names name unknown ran=0
	names=$(list_scenarios)
	if [ -n "${EW_LIST_SCENARIOS:-}" ]; then
		printf '%s\n' $names
		exit 0
	fi
	for name in ${EW_SCENARIO//,/ }; do
		grep -qx "$name" <<<"$names" || unknown+=" $name"
	done
	if [ -n "${unknown:-}" ]; then
		not_ok "no such scenario in $(basename "$0"):$unknown (have: $(echo $names))"
		tap_finish
		exit 1
	fi
	for name in $names; do
		wants_scenario "$name" || continue
		if [ $ran -eq 0 ] && [ "${EW_STORE:-}" = pg ] && [ -z "$PG_DIR" ]; then
			pg_start || { not_ok "PostgreSQL harness start"; tap_finish; exit 1; }
		fi
		if [ $ran -eq 0 ] && declare -F setup >/dev/null; then
			setup || { not_ok "setup of $(basename "$0" .sh)"; tap_finish; exit 1; }
		fi
		ran=$((ran + 1))
		run_scenario "$name"
	done
	[ $ran -gt 0 ] && declare -F teardown >/dev/null && teardown
	tap_finish
}
