#!/bin/sh
# pg_harness: a throwaway PostgreSQL 15 for the tests, the one helper both
# the unit tests (tests/support/pgtest.c runs it) and the integration
# scripts (tests/integration/lib_pg.bash) use. The server lives in DIR,
# listens on a unix socket in DIR only (no TCP port to collide with the
# other engineers' runs or a packaged cluster), trusts local connections
# as the role "eduwatch", and is stopped with `stop`.
#
#   pg_harness.sh start DIR       initdb + pg_ctl start (DIR must exist)
#   pg_harness.sh stop DIR        fast shutdown, waits for it
#   pg_harness.sh kill DIR        immediate shutdown (a crash: no checkpoint)
#   pg_harness.sh restart DIR     start again after stop/kill
#   pg_harness.sh createdb DIR N  a fresh database N
#   pg_harness.sh url DIR N       the store.url for database N
#   pg_harness.sh psql DIR N ...  psql on database N
#
# initdb refuses to run as root, so as root the server runs as the
# Debian "postgres" account, which is given DIR.
set -eu

cmd=${1:?usage: pg_harness.sh start|stop|kill|restart|createdb|url|psql DIR [NAME]}
dir=${2:?DIR}
bin=${EW_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$bin/initdb" ] || { echo "pg_harness: no PostgreSQL server (install postgresql-15)" >&2; exit 77; }

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pgctl() {
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" "$@"
}

start_server() {
	# fsync off: a test's data need not survive the machine, only the
	# server (kill keeps the OS page cache), and fsync on a shared disk
	# would make the suites slow. EW_PG_DURABLE=1 (make bench) keeps
	# the server's defaults, as the SQLite side syncs too.
	if [ "${EW_PG_DURABLE:-}" ]; then
		sync="-c fsync=on -c full_page_writes=on -c shared_buffers=256MB"
	else
		sync="-c fsync=off -c full_page_writes=off -c shared_buffers=32MB"
	fi
	pgctl -w -t 60 -o "-k $dir -c listen_addresses='' $sync -c max_connections=60" start >/dev/null
}

case "$cmd" in
start)
	[ "$(id -u)" -eq 0 ] && chown postgres "$dir"
	as_owner "$bin/initdb" -D "$dir/data" -U eduwatch --auth=trust \
		-E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	start_server
	;;
restart) start_server ;;
stop) pgctl -w -t 60 -m fast stop >/dev/null ;;
kill) pgctl -w -t 60 -m immediate stop >/dev/null ;;
createdb)
	"$bin/psql" -X -q -h "$dir" -U eduwatch -d postgres \
		-c "CREATE DATABASE \"${3:?NAME}\"" >/dev/null
	;;
url) echo "postgresql://eduwatch@/${3:?NAME}?host=$dir" ;;
psql)
	n=${3:?NAME}
	shift 3
	"$bin/psql" -X -q -A -t -h "$dir" -U eduwatch -d "$n" "$@"
	;;
*) echo "pg_harness: unknown command $cmd" >&2; exit 2 ;;
esac
