# lib_windows.bash: what the Windows agent's scripts share (sourced after
# lib.bash): the .exe from `make windows`, its wine prefix (the unit
# suites' too, booted once), and the collector-side checks.
WIN_DIR=${EW_WIN_DIR:-$(cd "$EW_BIN/../.." && pwd)/windows}
EXE="$WIN_DIR/bin/eduwatch-agent.exe"

# windows_ready: prints a SKIP and returns 1 when the .exe or wine is
# missing; otherwise points wine at the prefix, headless, booting it once.
# A listing of the scenarios (EW_LIST_SCENARIOS, tests/run.sh --list,
# which scenarios.sh runs beside the other suites) touches no wine: it
# pointed the scripts' exit traps at the shared prefix, and their
# `wineserver -k` ended the wine unit suites running meanwhile (CI, three
# runs: the last suites of the wine job "exited 1", no output).
windows_ready() {
	# Named, not exported, for the scripts' top-level paths.
	WINEPREFIX="$WIN_DIR/wineprefix"
	[ -n "${EW_LIST_SCENARIOS:-}" ] && return 0
	if [ ! -f "$EXE" ] || ! command -v wine >/dev/null; then
		ok "# SKIP no $EXE or no wine (make windows; scripts/deps.sh test)"
		return 1
	fi
	export WINEPREFIX="$WIN_DIR/wineprefix" WINEDEBUG=-all WINEARCH=win64
	unset DISPLAY
	# A prefix made now is used only once its first boot has ended: with
	# the wineserver of that boot still up, `net start` on a service
	# installed meanwhile answered "Could not get handle to service"
	# (windows_service.sh run first on a fresh prefix, as make test's
	# pool does; the same script passed on the prefix's second use).
	if [ ! -f "$WINEPREFIX/system.reg" ]; then
		timeout 300 wineboot --init >/dev/null 2>&1
		timeout 120 wineserver -w
	fi
	# wine links the user's Desktop, Downloads, ... to $HOME: the agent's
	# quick scan (known folders) would then walk the test machine's home.
	# Folders of the prefix's own, as on a Windows PC.
	local d u
	for u in "$WINEPREFIX"/drive_c/users/*/; do
		for d in Desktop Documents Downloads Music Pictures Videos; do
			[ -L "$u$d" ] && rm -f "$u$d" && mkdir -p "$u$d"
		done
	done
	return 0
}

agent() { timeout 120 wine "$EXE" "$@"; }
# windows_done: ends the prefix's wineserver, for a script's exit trap;
# nothing for a listing, or when windows_ready did not run.
windows_done() {
	[ -z "${EW_LIST_SCENARIOS:-}" ] && [ -n "${WINEPREFIX:-}" ] || return 0
	wineserver -k 2>/dev/null
}

count_heartbeats() { agent_events | grep -o '"kind":"agent.heartbeat"' | wc -l; }
# Functions, so that wait_for counts again on each poll.
two_heartbeats() { [ "$(count_heartbeats)" -ge 2 ]; }
starts_twice() { [ "$(agent_events | grep -o '"kind":"agent.start"' | wc -l)" -ge 2 ]; }

# seq_report: the agent's events as the collector stored them, by seq:
# "events=N dups=N gaps=[...]"; nothing lost or twice is "dups=0 gaps=[]".
seq_report() {
	agent_events | $PY -c '
import json, sys
ev = json.load(sys.stdin)
seqs = sorted(e["seq"] for e in ev)
dups = len(seqs) - len(set(seqs))
gaps = [s for s in range(seqs[0], seqs[-1] + 1) if s not in set(seqs)]
print("events=%d dups=%d gaps=%s" % (len(seqs), dups, gaps[:10]))
'
}

# scanner_child_pid: the pid of a jailed scanner child (`_scanner`) of an
# agent in this script's wine prefix (other scripts' prefixes are not ours).
scanner_child_pid() {
	local p
	for p in $(pgrep -f 'eduwatch-agent\.exe _scanner'); do
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
			grep -qxF "WINEPREFIX=$WINEPREFIX" && { echo "$p"; return 0; }
	done
	return 1
}
export -f scanner_child_pid
