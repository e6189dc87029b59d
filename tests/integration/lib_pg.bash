# PostgreSQL for the integration scripts: one throwaway server per script,
# run by tests/support/pg_harness.sh (the helper the unit tests use too)
# in a temp dir of its own (the server's account must reach it, and $WORK
# is the test's alone), stopped and removed when the script ends. Source
# after lib.bash.
PG_HARNESS="$(cd "$(dirname "${BASH_SOURCE[0]}")/../support" && pwd)/pg_harness.sh"
PG_DIR=

# pg_start: the server, or a skip of the whole script when PostgreSQL is
# not installed (exit status 77 from the harness).
pg_start() {
	PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ew-pg-XXXXXX") || return 1
	trap 'pg_stop; cleanup' EXIT
	# A signal ends the script through its EXIT trap: the server stops.
	trap 'exit 143' TERM INT
	local rc=0
	sh "$PG_HARNESS" start "$PG_DIR" || rc=$?
	if [ "$rc" -eq 77 ]; then
		rm -rf "$PG_DIR"
		PG_DIR=
		echo "ok 1 - $(basename "$0") # SKIP PostgreSQL is not installed"
		echo "1..1"
		exit 0
	fi
	[ "$rc" -eq 0 ]
}
pg_stop() {
	[ -n "$PG_DIR" ] || return 0
	sh "$PG_HARNESS" stop "$PG_DIR" 2>/dev/null || sh "$PG_HARNESS" kill "$PG_DIR" 2>/dev/null
	[ "${KEEP_WORK:-}" ] || rm -rf "$PG_DIR"
}
pg_kill() { sh "$PG_HARNESS" kill "$PG_DIR"; }       # a crash: immediate shutdown
pg_restart() { sh "$PG_HARNESS" restart "$PG_DIR"; }
pg_sql() { sh "$PG_HARNESS" psql "$PG_DIR" "$1" -c "$2"; } # pg_sql DB SQL

# collector_use_pg DIR: the collector initialised in DIR stores into a
# fresh database of its own, named after DIR (its collector.yaml's
# store.url, which every command of it reads).
collector_use_pg() {
	local dir=$1 db
	db=$(basename "$dir" | tr -c 'a-z0-9_\n' '_')
	sh "$PG_HARNESS" createdb "$PG_DIR" "$db" || return 1
	PG_DB=$db
	sed -i "s|^  # url: .*|  url: $(sh "$PG_HARNESS" url "$PG_DIR" "$db")|" "$dir/collector.yaml"
	grep -q '^  url: postgresql://' "$dir/collector.yaml"
}

# pg_collector_pair A B: two collectors on one database, as a province
# runs them behind one address: A initialised with a fresh database of
# its own, B a copy of A's state (the same CA, server certificate and
# store.url) in a dir of its own. Sets CONF to A's, for the CLI.
pg_collector_pair() {
	local a=$1 b=$2
	collector_init "$a" && collector_use_pg "$a" || return 1
	cp -a "$a" "$b" || return 1
	sed -i "s|^state_dir: .*|state_dir: $b|" "$b/collector.yaml"
	CONF="$a/collector.yaml"
}

# serve_in DIR LOG [INGEST ENROLL]: `serve` of the collector in DIR, on
# the ports given or on ports it picks, waiting until it names them in
# DIR/ports. Sets SERVED_PID; pair_port DIR NAME reads a port back.
pair_port() { awk -v n="$2" '$1 == n {print $2}' "$1/ports" 2>/dev/null; }
# ingest: a collector without the CA key names no enroll port.
pair_ports_named() { [ -n "$(pair_port "$1" ingest)" ]; }
serve_in() {
	local dir=$1 log=$2
	rm -f "$dir/ports"
	"$COLLECTOR" serve -c "$dir/collector.yaml" "${COLLECTOR_SET[@]}" \
		-o "ingest.port=${3:-0}" -o "enroll.port=${4:-0}" >>"$log" 2>&1 &
	SERVED_PID=$!
	wait_for 30 pair_ports_named "$dir"
}

# pg_kill9: kill -9 of the server itself, the postmaster and every
# backend at once (no shutdown of any kind), then a start: recovery from
# the WAL, as after a power cut of the database machine.
pg_kill9() {
	local pm pids p
	pm=$(head -1 "$PG_DIR/data/postmaster.pid" 2>/dev/null) || return 1
	pids="$pm $(pgrep -P "$pm" | tr '\n' ' ')"
	kill -9 $pids 2>/dev/null
	for p in $pids; do wait_for 20 pid_gone "$p" || return 1; done
	# pg_ctl warns of the pid file left behind; the pid in it is gone.
	pg_restart 2>/dev/null
}
