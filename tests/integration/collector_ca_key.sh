#!/bin/bash
# The CA key only where signing happens (issue 21), on one collector
# (SQLite); two on PostgreSQL are collector_shared_pg.sh's keyless.
#  - serve: a state dir with ca.crt but no ca.key serves an agent enrolled
#    while the key was there (verified against ca.crt), says once that it
#    runs without the key and once why it opens no enrollment port, never
#    takes the release rollout, and stops cleanly on SIGTERM with a SOC
#    destination configured (the forwarders' stats read the store after
#    the stop callbacks, which close it at once without enrollment).
#  - cli_refuses: every command that signs exits 3 naming the missing key.
#  - init_refuses: init does not overwrite a CA, ca.crt alone included.
#  - console: publishing and report sign-off are refused with a 503 that
#    says why, and nothing is signed; the publish page and a draft report
#    show why in place of forms that would only be refused.
# Scenarios: make test ONLY=collector_ca_key:serve
. "$(dirname "$0")/lib.bash"
HERE="$(cd "$(dirname "$0")" && pwd)"
D="$WORK/collector"
A="$WORK/agent"
LOG="$WORK/keyless.log"
export LSAN_OPTIONS="suppressions=$HERE/lsan-fontconfig.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

# setup: a collector with one school and an agent enrolled while it held
# the key; then stopped, and the key moved off the state dir.
setup() {
	mkdir -p "$A" "$WORK/usb"
	collector_with_agent 79041 "$A" || return 1
	collector_stop || return 1
	mv "$D/ca.key" "$WORK/ca.key.offline"
	collector_forward_nowhere soc-a
	collector_set agents.silence_sweep=1s releases.check_every=1s
	quiet_agent_set "$WORK/usb"
}

log_count() { grep -c "$1" "$LOG"; }
events_of_agent() { "$COLLECTOR" events count --agent "$ID" -c "$CONF" 2>/dev/null; }
more_events_than() { [ "$(events_of_agent)" -gt "$1" ]; }

scenario_serve() {
	local before old_enroll=$ENROLL_PORT
	: >"$LOG"
	collector_start "$LOG" || { not_ok "serve: starts without ca.key"; return; }
	check "serve: says once that it runs without the CA key" \
		eq "$(log_count "running without the CA key (no $D/ca.key)")" 1
	check "serve: says once why it opens no enrollment port" \
		eq "$(log_count "no enrollment port: enrollment signs")" 1
	check "serve: names no enroll port in its ports file" \
		eq "$(collector_port enroll)" ""
	check "serve: nothing listens on the enroll port it had with the key" \
		eval '! port_open "$old_enroll"'
	before=$(events_of_agent)
	"$EW_BIN/eduwatch-agent" run -c "$A/agent.yaml" "${AGENT_SET[@]}" >"$WORK/agent.log" 2>&1 &
	check "serve: the agent enrolled with the key is verified against ca.crt and connects" \
		wait_for 30 grep -q "uplink: connected" "$WORK/agent.log"
	check "serve: and its events are stored" wait_for 30 more_events_than "$before"
	check "serve: the scheduled jobs run (the silence sweep)" \
		wait_for 20 grep -q "this collector runs the silence sweep" "$LOG"
	sleep 2 # two release ticks (releases.check_every=1s)
	check "serve: the release rollout is never taken: it signs upgrade commands" \
		eq "$(grep -cE "runs the release rollout|release rollout is another" "$LOG")" 0
	kill %1
	wait %1 2>/dev/null
	check "serve: SIGTERM stops it with status 0" collector_stop
	check "serve: the forward stats read a store still open (queued is counted, not -1)" \
		grep -q "forward soc-a: sent=0 .* queued=[0-9]" "$LOG"
	check "serve: the store is closed after them" grep -q "collector: stopped" "$LOG"
	check "serve: and opens again (the agent's events kept)" more_events_than "$before"
}

# refused_3 WHAT command...: exit 3, and the message names the key's path.
refused_3() {
	local what=$1 rc=0; shift
	"$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
	check "cli_refuses: $what exits 3" eq "$rc" 3
	check "cli_refuses: $what names $D/ca.key" \
		grep -q "$D/ca.key is absent: this collector runs without the CA key" "$WORK/err"
}

scenario_cli_refuses() {
	printf 'evil.example\n' >"$WORK/ioc.txt"
	mkdir -p "$WORK/release"
	refused_3 "token create" "$COLLECTOR" token create --school 79041 -c "$CONF"
	refused_3 "agent enroll-string" "$COLLECTOR" agent enroll-string --school 79041 -c "$CONF"
	refused_3 "rules publish" "$COLLECTOR" rules publish -c "$CONF"
	refused_3 "ioc publish" "$COLLECTOR" ioc publish "$WORK/ioc.txt" -c "$CONF"
	refused_3 "command send" "$COLLECTOR" command send --agent "$ID" --type ping -c "$CONF"
	refused_3 "agent-release publish" "$COLLECTOR" agent-release publish "$WORK/release" \
		--channel pilot -c "$CONF"
	"$COLLECTOR" report draft --period 2026-H1 --scope school:79041 -c "$CONF" >/dev/null 2>&1
	refused_3 "report sign" "$COLLECTOR" report sign --period 2026-H1 --scope school:79041 \
		--by officer -c "$CONF"
	check "cli_refuses: no bundle was signed" eval '[ -z "$(ls "$D/bundles" 2>/dev/null)" ]'
	check "cli_refuses: reading commands still run without the key" quiet \
		"$COLLECTOR" agent list -c "$CONF"
}

scenario_init_refuses() {
	local sum rc=0
	sum=$(sha256sum <"$D/ca.crt")
	"$COLLECTOR" init --dir "$D" --rules "$RULES" >/dev/null 2>"$WORK/err" || rc=$?
	check "init_refuses: a dir with ca.crt and no ca.key is refused (exit 3)" eq "$rc" 3
	check "init_refuses: the message names ca.crt" \
		grep -q "$D/ca.crt exists: this directory already has a CA" "$WORK/err"
	check "init_refuses: ca.crt is unchanged" eq "$(sha256sum <"$D/ca.crt")" "$sum"
	check "init_refuses: no ca.key was made beside it" test ! -e "$D/ca.key"
	mkdir -m 0700 "$WORK/with-key"
	cp -p "$WORK/ca.key.offline" "$WORK/with-key/ca.key"
	rc=0
	"$COLLECTOR" init --dir "$WORK/with-key" --rules "$RULES" >/dev/null 2>"$WORK/err" || rc=$?
	check "init_refuses: a dir with ca.key alone is refused too (exit 3)" eq "$rc" 3
	check "init_refuses: and gets no certificate beside it" test ! -e "$WORK/with-key/ca.crt"
}

scenario_console() {
	local wp line
	: >"$LOG"
	collector_set web.enabled=true web.port=0
	rm -f "$D/web.port"
	collector_start "$LOG" || { not_ok "console: serves without ca.key"; return; }
	wait_for 20 test -s "$D/web.port" || { not_ok "console: the console listens"; return; }
	wp=$(cat "$D/web.port")
	$PY "$HERE/py/keyless_console.py" "$COLLECTOR" "$CONF" "$D" "$wp" >"$WORK/py.out" 2>"$WORK/py.err"
	[ -s "$WORK/py.err" ] && sed 's/^/# /' "$WORK/py.err" | tail -20
	for line in login publish-page-keyless publish-rules publish-ioc nothing-signed \
		report-drafted report-page-keyless sign-api sign-page report-unsigned; do
		check "console: $line ($(grep "^$line " "$WORK/py.out" | cut -d' ' -f2-))" \
			grep -q "^$line ok$" "$WORK/py.out"
	done
	check "console: SIGTERM stops it with status 0" collector_stop
}

run_scenarios
