#!/bin/bash
# Runs eduwatch's test suites and prints one closing line that counts them:
#   total: N passed, N failed
# Usage: tests/run.sh all|unit|windows|integration|fuzz|chaos|--list
#   ONLY=NAME[,NAME...] runs only the suites so named (a unit test binary
#   such as test_store, an integration or chaos script such as
#   collector_ingest, a fuzz harness such as fuzz_enroll), in every
#   variant the mode covers: `make test ONLY=hostile_agent`.
#   ONLY=SCRIPT:SCENARIO runs one scenario of an integration or chaos
#   script alone (`make test ONLY=collector_ingest:slowloris`), with the
#   script's setup and teardown; `tests/run.sh --list` names every suite
#   and scenario (the lib_*.sh helpers are none).
#   Suites run INTEGRATION_JOBS (2) at a time, longest first (see
#   run_pool); a script marked "# ew-lock: NAME" never runs beside another
#   of the same NAME, and one marked "# ew-variants: release" runs in
#   release only.
# Every suite speaks TAP ("ok ..." / "not ok ..."); this script only counts.
set -u
cd "$(dirname "$0")/.."
mode=${1:-all}
BUILD=${BUILD:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
FUZZ_JOBS=${FUZZ_JOBS:-2}
INTEGRATION_JOBS=${INTEGRATION_JOBS:-2}
log_dir=$(mktemp -d "${TMPDIR:-/tmp}/ew-test-logs-XXXXXX")
passed=0
failed=0
skipped=0
failures=()
ONLY=${ONLY:-}

selected() { # selected NAME: true when ONLY is empty or names it (or one of its scenarios)
	[ -z "$ONLY" ] && return 0
	case ",$ONLY," in *",$1,"* | *",$1:"*) return 0 ;; esac
	return 1
}

# scenarios_of NAME: the scenarios ONLY names for script NAME, comma
# separated; empty when ONLY names the whole script (or nothing).
scenarios_of() {
	local item list=
	case ",$ONLY," in *",$1,"*) return 0 ;; esac
	for item in ${ONLY//,/ }; do
		case $item in "$1":*) list+="${list:+,}${item#*:}" ;; esac
	done
	echo "$list"
}

# is_helper NAME: a script of shared helpers (lib_*.sh), sourced by the
# tests, never a test itself.
is_helper() { case $1 in lib_*) return 0 ;; esac; return 1; }

# list_suites: every suite this checkout can run, and each scenario of the
# integration and chaos scripts built of scenarios, as ONLY accepts them.
list_suites() {
	local t name s
	for t in tests/unit/test_*.c; do basename "$t" .c; done
	for t in tests/integration/*.sh tests/chaos/*.sh; do
		name=$(basename "$t" .sh)
		is_helper "$name" && continue
		echo "$name"
		# Only a script built of scenarios lists them without running
		# (any other would run whole): one that ends by calling
		# run_scenarios, alone on its line or after `||`.
		grep -Eq '(^|\|\| *)run_scenarios *$' "$t" || continue
		for s in $(EW_LIST_SCENARIOS=1 bash "$t"); do echo "$name:$s"; done
	done
	for t in tests/fuzz/fuzz_*.c; do basename "$t" .c; done
}

record() { # record SUITE < TAP lines
	local suite=$1 line
	while IFS= read -r line; do
		case $line in
		# TAP: a skip is "ok/not ok N # SKIP reason" (cmocka writes the
		# latter); it neither passes nor fails.
		*"# SKIP"*) skipped=$((skipped + 1)) ;;
		"ok "*) passed=$((passed + 1)) ;;
		"not ok "*) failed=$((failed + 1)); failures+=("$suite: ${line#not ok }") ;;
		esac
	done
}

# ---- the pool ------------------------------------------------------------
# Every suite but the fuzz pass is a job of one pool that runs JOBS at a
# time (INTEGRATION_JOBS, 2): the unit binaries, the Windows unit suites
# under wine, the integration and chaos scripts, in both variants. One
# pool, not a phase per kind: a phase's last long script left a core idle
# until it ended, and most of an integration script's time is spent
# waiting on daemons. A job is KIND:VARIANT:PATH, KIND one of unit, wine,
# int, chaos. Two jobs of one suite (its release and asan runs) never run
# together, nor two of one "# ew-lock: NAME"; the longest start first
# (tests/suite-seconds), so that none starts last and runs alone.

job_kind() { echo "${1%%:*}"; }
job_variant() { local r=${1#*:}; echo "${r%%:*}"; }
job_path() { local r=${1#*:}; echo "${r#*:}"; }
job_name() { local n; n=$(basename "$(job_path "$1")"); echo "${n%.sh}"; }
job_log() { echo "$log_dir/$(job_variant "$1")-$(job_kind "$1")-$(job_name "$1").log"; }

# job_locks JOB: what the job holds while it runs: its suite's name, and
# its script's "# ew-lock: NAME" (the Windows scripts and the wine unit
# suites share one wine prefix and end with `wineserver -k`).
job_locks() {
	local path
	path=$(job_path "$1")
	case $(job_kind "$1") in
	wine) echo "wine" ;;
	unit) job_name "$1" ;;
	*) echo "$(job_name "$1") $(sed -n 's/^# ew-lock: //p' "$path")" ;;
	esac
}

# job_cost JOB: its expected seconds, for the order only: the release
# time in tests/suite-seconds (twice that under ASan), else a guess.
job_cost() {
	local name secs
	name=$(job_name "$1")
	secs=$(awk -v n="$name" '$1 == n {print $2}' tests/suite-seconds 2>/dev/null)
	secs=${secs:-30}
	[ "$(job_variant "$1")" = asan ] && secs=$((secs * 2))
	echo "$secs"
}

# job_run JOB: runs the job to its log, in the background beside another,
# so it records nothing; "STATUS SECONDS CPU" goes to LOG.rc, CPU the
# seconds of processor its processes used (user and system), which says
# how much of its time a suite waits: what decides how many run at once.
job_run() {
	local job=$1 out started=$SECONDS rc
	out=$(job_log "$job")
	case $(job_kind "$job") in
	unit) unit_one "$(job_path "$job")" "$out" ;;
	wine) windows_units "$out" ;;
	int) script_one integration "$(job_variant "$job")" "$(job_path "$job")" 900 "$out" ;;
	chaos) script_one chaos release "$(job_path "$job")" 1800 "$out" ;;
	esac
	rc=$?
	# `times` here, not in a $(...) subshell, which has no children.
	times >"$out.times"
	echo "$rc $((SECONDS - started)) $(children_cpu "$out.times")" >"$out.rc"
}

# children_cpu FILE: the whole seconds of processor that `times` (in FILE)
# gives the shell's waited-for children (its second line: user, system).
children_cpu() {
	awk 'NR == 2 {
		n = split($1 " " $2, t, /[ms ]+/); c = 0
		for (i = 1; i + 1 <= n; i += 2) c += t[i] * 60 + t[i + 1]
		printf "%d", c }' "$1"
}

# job_report JOB: counts and prints a finished job.
job_report() {
	local job=$1 out rc secs cpu label
	out=$(job_log "$job")
	read -r rc secs cpu <"$out.rc"
	pool_wall=$((pool_wall + secs)) pool_cpu=$((pool_cpu + cpu))
	case $(job_kind "$job") in
	unit) label="unit[$(job_variant "$job")]" ;;
	wine) windows_report "$out"; echo "  unit[windows] all under wine: $secs s"; return ;;
	int) label="integration[$(job_variant "$job")]" ;;
	chaos) label=chaos ;;
	esac
	record "$label" <"$out"
	printf '  %s %-24s %s (%d s, %d s cpu)\n' "$label" "$(job_name "$job")" \
		"$(grep -c '^ok' "$out") ok, $(grep -v '# SKIP' "$out" | grep -c '^not ok') failed" \
		"$secs" "$cpu"
	[ "$rc" -ne 0 ] && grep -vE '^ok ' "$out" | tail -40 | sed 's/^/    | /'
}

# not_failed_yet LOG RC WHAT: a crash, a timeout or a cut-off leaves no
# "not ok" line: one is added here.
not_failed_yet() {
	local short
	short=$(results_short "$1")
	if [ "$2" -ne 0 ] && ! grep -v '# SKIP' "$1" | grep -q '^not ok'; then
		echo "not ok - $3$short$(last_words "$1")" >>"$1"
	elif [ -n "$short" ]; then
		# cmocka prints its plan (1..N) first: a suite cut off short of
		# it fails even with status 0 (a wine suite whose wineserver went
		# away mid-run once exited 0 after 1 of its 5 results).
		echo "not ok - ${3%% exited*} was cut off$short$(last_words "$1")" >>"$1"
	fi
}

# results_short LOG: " after K of its N results" when the suite printed a
# plan of N and fewer results than that.
results_short() {
	local plan got
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$1" | head -1)
	[ -n "$plan" ] || return 0
	got=$(grep -cE '^(not )?ok ' "$1")
	[ "$got" -ge "$plan" ] || echo " after $got of its $plan results"
}

# last_words LOG: what a suite that failed without a "not ok" last said,
# for the failure's one line (the CI summary shows little more).
last_words() {
	local line
	line=$(grep -v '^ok ' "$1" | grep . | tail -1 | cut -c1-160)
	echo "${line:+: $line}"
}

unit_one() { # unit_one BINARY LOG
	CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 "$1" >"$2" 2>&1
	local rc=$?
	not_failed_yet "$2" $rc "$(basename "$1") exited $rc"
	return $rc
}

# script_one integration|chaos VARIANT SCRIPT TIMEOUT LOG
script_one() {
	local name
	name=$(basename "$3" .sh)
	EW_BIN="$BUILD/$2/bin" EW_BENCH_BIN="$BUILD/$2/bench" EW_VARIANT="$2" \
		EW_SCENARIO="$(scenarios_of "$name")" \
		timeout "$4" bash "$3" >"$5" 2>&1
	local rc=$?
	not_failed_yet "$5" $rc "$name exited $rc"
	return $rc
}

# windows_units LOG: the unit suites cross-built for Windows (make
# windows), under wine in a prefix of their own, made once per build dir
# (wineboot takes ~25 s); each suite's TAP in LOG.NAME.
windows_units() {
	local t name prefix="$BUILD/windows/wineprefix" rc
	: >"$1"
	if ! command -v wine >/dev/null; then
		echo "not ok - wine is missing (scripts/deps.sh test)" >"$1"
		return 1
	fi
	case $prefix in /*) ;; *) prefix=$PWD/$prefix ;; esac
	export WINEPREFIX=$prefix WINEDEBUG=-all WINEARCH=win64
	unset DISPLAY
	# As lib_windows.bash: a prefix made now is used once its first
	# boot has ended (a suite started meanwhile once gave no output).
	if [ ! -f "$WINEPREFIX/system.reg" ]; then
		timeout 300 wineboot --init >/dev/null 2>&1
		timeout 120 wineserver -w
	fi
	for t in "$BUILD"/windows/tests/test_*.exe; do
		name=$(basename "$t" .exe)
		selected "$name" || continue
		echo "$name" >>"$1"
		CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 wine "$t" 2>&1 | tr -d '\r' >"$1.$name"
		rc=${PIPESTATUS[0]}
		not_failed_yet "$1.$name" "$rc" "$name exited $rc under wine"
		echo "$rc" >"$1.$name.rc"
	done
	wineserver -k 2>/dev/null || true
}

windows_report() { # windows_report LOG: counts and prints windows_units'
	local name out
	if ! [ -s "$1" ] || grep -q '^not ok' "$1"; then
		record "unit[windows]" <"$1"
		return
	fi
	while read -r name; do
		out="$1.$name"
		record "unit[windows]" <"$out"
		printf '  unit[windows] %-24s %s\n' "$name" \
			"$(grep -c '^ok' "$out") ok, $(grep -v '# SKIP' "$out" | grep -c '^not ok') failed"
		[ "$(cat "$out.rc")" -ne 0 ] && grep -vE '^ok ' "$out" | tail -30 | sed 's/^/    | /'
	done <"$1"
}

# ---- which jobs -----------------------------------------------------------

unit_jobs() { # unit_jobs VARIANT
	local t
	for t in "$BUILD/$1"/tests/test_*; do
		[ -x "$t" ] && selected "$(basename "$t")" && echo "unit:$1:$t"
	done
}

windows_jobs() {
	local t
	for t in "$BUILD"/windows/tests/test_*.exe; do
		# One job for all: they share a wineserver, started once.
		[ -f "$t" ] && selected "$(basename "$t" .exe)" && { echo "wine:windows:windows_unit"; return; }
	done
}

integration_jobs() { # integration_jobs VARIANT
	local t name
	for t in tests/integration/*.sh; do
		[ -f "$t" ] || continue
		name=$(basename "$t" .sh)
		is_helper "$name" && continue
		selected "$name" || continue
		# A script marked "# ew-variants: release" tests what no
		# sanitizer build changes (the Windows .exe under wine, a
		# shell mechanism): once.
		if grep -q '^# ew-variants: release$' "$t" && [ "$1" != release ]; then
			continue
		fi
		echo "int:$1:$t"
	done
}

chaos_jobs() {
	local t
	for t in tests/chaos/*.sh; do
		[ -f "$t" ] && selected "$(basename "$t" .sh)" && echo "chaos:release:$t"
	done
}

# run_pool JOBS < job lines (not from a pipe: the counts are this
# shell's): the jobs, longest first, JOBS at a time;
# each is reported as it ends.
run_pool() {
	local max=$1 job done_pid i started pool_started=$SECONDS
	pool_wall=0 pool_cpu=0
	local -a queue=()
	local -A running=() held=()
	mapfile -t queue < <(while read -r job; do
		[ -n "$job" ] && echo "$(job_cost "$job") $job"
	done | sort -k1,1nr -s | cut -d' ' -f2-)
	while [ ${#queue[@]} -gt 0 ] || [ ${#running[@]} -gt 0 ]; do
		started=
		if [ ${#running[@]} -lt "$max" ]; then
			for i in "${!queue[@]}"; do
				pool_free "${queue[$i]}" || continue
				job=${queue[$i]}
				unset "queue[$i]"
				queue=("${queue[@]}")
				job_run "$job" &
				running[$!]=$job
				held[$!]=$(job_locks "$job")
				started=1
				break
			done
		fi
		[ -n "$started" ] && continue
		wait -n -p done_pid "${!running[@]}"
		job_report "${running[$done_pid]}"
		unset "running[$done_pid]" "held[$done_pid]"
	done
	echo "  pool: $pool_wall s of suites' time and $pool_cpu s of processor in $((SECONDS - pool_started)) s, $max at a time"
}

# pool_free JOB: none of the job's locks is held by a running job (reads
# run_pool's `held`).
pool_free() {
	local lock
	for lock in $(job_locks "$1"); do
		[[ " ${held[*]} " == *" $lock "* ]] && return 1
	done
	return 0
}

# fuzz_one HARNESS: runs one harness for FUZZ_SECONDS on a copy of its
# seed corpus and leaves its verdict in $log_dir/NAME.verdict; it runs in
# the background beside another, so it records nothing itself.
fuzz_one() {
	local f=$1 name out work
	name=$(basename "$f")
	out="$log_dir/$name.log"
	work=$(mktemp -d "${TMPDIR:-/tmp}/ew-corpus-XXXXXX")
	cp -r "tests/fuzz/corpus/${name#fuzz_}/." "$work/" 2>/dev/null
	# Findings go to the log dir, never into the source tree.
	if timeout $((FUZZ_SECONDS + 120)) "$f" -max_total_time="$FUZZ_SECONDS" \
		-rss_limit_mb=2048 -artifact_prefix="$log_dir/$name-" \
		-print_final_stats=1 "$work" >"$out" 2>&1; then
		echo "ok - $name ran ${FUZZ_SECONDS}s, $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$out" | grep -o '[0-9]*$') inputs" >"$log_dir/$name.verdict"
	else
		echo "not ok - $name found a crash (see $log_dir)" >"$log_dir/$name.verdict"
	fi
	rm -rf "$work"
}

# fuzz_harnesses: the built harnesses that ONLY selects, a line each.
fuzz_harnesses() {
	local f
	for f in "$BUILD"/fuzz/fuzz/fuzz_*; do
		[ -x "$f" ] && selected "$(basename "$f")" && echo "$f"
	done
}

# fuzz_pass JOBS: every harness, JOBS at a time, each leaving its verdict
# (fuzz_report records them).
fuzz_pass() {
	local f i
	local -a harnesses
	mapfile -t harnesses < <(fuzz_harnesses)
	for ((i = 0; i < ${#harnesses[@]}; i += $1)); do
		for f in "${harnesses[@]:i:$1}"; do fuzz_one "$f" & done
		wait
	done
}

# fuzz_report: records each harness's verdict; a harness with none (its
# run killed before it wrote one) fails rather than counting as nothing.
fuzz_report() {
	local f name
	for f in $(fuzz_harnesses); do
		name=$(basename "$f")
		[ -s "$log_dir/$name.verdict" ] ||
			echo "not ok - $name left no verdict" >"$log_dir/$name.verdict"
		record fuzz <"$log_dir/$name.verdict"
		if grep -q '^ok' "$log_dir/$name.verdict"; then
			printf '  fuzz %-30s ok (%s s)\n' "$name" "$FUZZ_SECONDS"
		else
			printf '  fuzz %-30s FINDING\n' "$name"
			grep -E 'ERROR|SUMMARY|artifact' "$log_dir/$name.log" | head -10 | sed 's/^/    | /'
		fi
	done
}

# run_fuzz: the harnesses FUZZ_JOBS at a time (one a core: each libFuzzer
# run is single-threaded, so two on two cores halve the wall time without
# shortening any harness's own run).
run_fuzz() {
	fuzz_pass "$FUZZ_JOBS"
	fuzz_report
}

if [ "$mode" = --list ]; then
	rmdir "$log_dir"
	list_suites
	exit 0
fi

echo "eduwatch tests ($mode); logs in $log_dir"
case $mode in
all)
	# The fuzz pass runs beside the pool, one harness at a time at the
	# lowest priority. The pool's suites mostly wait on timers, sockets
	# and child processes, so about one core stays idle through it (CI:
	# 1,413 s of processor in 1,354 s on two cores); the harnesses take
	# that core, and nice 19 gives it back whenever a suite wants it. Run
	# after the pool they added 200 s; beside it, 40 s (docs/DECISIONS.md).
	(renice -n 19 -p "$BASHPID" >/dev/null 2>&1; fuzz_pass 1) &
	fuzz_pid=$!
	run_pool "$INTEGRATION_JOBS" < <(unit_jobs release; windows_jobs
		integration_jobs release; chaos_jobs; unit_jobs asan; integration_jobs asan)
	wait "$fuzz_pid"
	fuzz_report
	;;
unit) run_pool "$INTEGRATION_JOBS" < <(unit_jobs release) ;;
windows) run_pool 1 < <(windows_jobs) ;;
integration) run_pool "$INTEGRATION_JOBS" < <(integration_jobs release) ;;
fuzz) run_fuzz ;;
# make chaos's long runs, one at a time as they always were.
chaos) run_pool 1 < <(chaos_jobs) ;;
*) echo "usage: $0 all|unit|windows|integration|fuzz|chaos|--list" >&2; exit 2 ;;
esac

echo "elapsed: $((SECONDS / 60)) min $((SECONDS % 60)) s"
if [ ${#failures[@]} -gt 0 ]; then
	echo "failed:"
	printf '  %s\n' "${failures[@]}"
fi
[ "$skipped" -gt 0 ] && echo "skipped: $skipped (see the suites' # SKIP lines for why)"
echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
