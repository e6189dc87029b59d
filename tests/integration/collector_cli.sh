#!/bin/bash
# The collector's command line and its daemon's own timers (issue 13,
# item 2), with the real binary and a real store:
#  - each command takes only its own options: any other is exit 2 with a
#    message naming the command and the option;
#  - every option the help shows with a command still parses there;
#  - serve records today's score snapshot by itself when it starts (the
#    snapshot timer unit is optional), once a day: a restart the same day
#    leaves it alone; `score --snapshot` still records by hand.
# Scenarios run alone by name: make test ONLY=collector_cli:daily_snapshot
. "$(dirname "$0")/lib.bash"
D="$WORK/collector"
LOG="$WORK/collector.log"

setup() {
	collector_init "$D" || { not_ok "collector init"; return 1; }
	"$COLLECTOR" school add 79001 "THCS Nguyễn Du" --commune "Phường 1" --level 2 \
		--expected-pcs 4 -c "$CONF" >/dev/null
}

# refused CMD... : exit 2, and stderr names the command and the option.
refused() {
	local want=$1; shift
	timeout 30 "$COLLECTOR" "$@" >/dev/null 2>"$WORK/err"
	local rc=$?
	[ $rc -eq 2 ] || { echo "# exit $rc, want 2: $*" >&2; return 1; }
	grep -qF -- "$want" "$WORK/err" || { echo "# stderr: $(cat "$WORK/err")" >&2; return 1; }
}
scenario_refused_options() {
	check "school list refuses --limit" refused "'school list' does not take --limit" school list --limit 3 -c "$CONF"
	check "events count refuses --json" refused "'events count' does not take --json" events count --json -c "$CONF"
	check "init refuses --config" refused "'init' does not take --config" init --dir "$WORK/x" -c "$CONF"
	check "alerts ack refuses --state" refused "'alerts ack' does not take --state" alerts ack 1 --by x --state open -c "$CONF"
	check "score refuses --province (score history takes it)" refused "'score' does not take --province" score --province -c "$CONF"
	check "token create refuses --agent" refused "'token create' does not take --agent" token create --school 79001 --agent a -c "$CONF"
	check "serve refuses --json" refused "'serve' does not take --json" serve --json -c "$CONF"
	check "a refused option opens nothing: no config needed" refused "'agent revoke' does not take --limit" agent revoke x --limit 1 -c "$WORK/none.yaml"
	check "an unknown second word keeps its own message" refused "unknown school command 'drop'" school drop --json -c "$CONF"
}

# accepted CMD...: anything but a usage error (the store has no agents,
# so some end in 4, "no such agent").
accepted() {
	"$COLLECTOR" "$@" >/dev/null 2>"$WORK/err"
	local rc=$?
	[ $rc -ne 2 ] || { echo "# usage error for: $* ($(cat "$WORK/err"))" >&2; return 1; }
}
scenario_accepted_options() {
	local line
	while read -r line; do
		eval "set -- $line"
		check "accepted: $line" accepted "$@" -c "$CONF"
	done <<-'CMDS'
	school list --json
	token create --school 79001 --uses 2 --expires 1h
	agent list --school 79001 --json
	agent revoke nobody
	events count --agent nobody --boot 1
	events list --agent nobody --limit 5 --json
	command send --agent nobody --type scan --kind paths --path /tmp --expires 1h
	score --school 79001 --json
	score --commune 'Phường 1'
	score history --school 79001 --limit 3 --json
	score history --province
	alerts list --state open --school 79001 --limit 5 --json
	alerts ack 99 --by officer
	alerts resolve 99 --by officer
	forward dead-letter list --limit 5 --json
	rules list --json
	CMDS
}

init_other() { "$COLLECTOR" init --dir "$WORK/other" --name localhost --rules "$RULES" >/dev/null 2>&1; }
scenario_init_options() {
	check "init takes --dir, --name and --rules" init_other
}

# ---- the daily snapshot, inside serve -----------------------------------
today=$(date -u +%Y-%m-%d)
history() { "$COLLECTOR" score history --province -c "$CONF" 2>/dev/null; }
snapshotted() {
	history | grep -q "^$today " && grep -q "snapshot $today: 3 scores recorded" "$LOG"
}
scenario_daily_snapshot() {
	local out
	check "no snapshot before serve" eq "$(history)" ""
	collector_start "$LOG" || not_ok "collector starts"
	check "serve records today's snapshot when it starts (school, commune, province)" \
		wait_for 30 snapshotted
	check "the school's row is there too" grep -q "^$today " <("$COLLECTOR" score history --school 79001 -c "$CONF")
	collector_stop
	check "serve stops cleanly" grep -q "collector: stopped" "$LOG"
	collector_start "$LOG" || not_ok "collector restarts"
	sleep 2
	check "a restart the same day takes no second snapshot" \
		eq "$(grep -c "snapshot $today:" "$LOG")" 1
	out=$("$COLLECTOR" score --snapshot -c "$CONF")
	check "score --snapshot still records by hand" grep -q "^snapshot $today: 3 scores recorded" <<<"$out"
	collector_stop
	check "and the collector stops cleanly again" eq "$(grep -c "collector: stopped" "$LOG")" 2
}

# collector_cli_pg.sh sources this file (EW_AS_LIB=1) and runs its scenarios on
# PostgreSQL.
[ -n "${EW_AS_LIB:-}" ] || run_scenarios
