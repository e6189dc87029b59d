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
#   Integration scripts run INTEGRATION_JOBS (2) at a time; a script
#   marked "# ew-lock: NAME" never runs beside another of the same NAME,
#   and one marked "# ew-variants: release" runs in release only.
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

run_unit() { # run_unit VARIANT
	local variant=$1 t name out
	for t in "$BUILD/$variant"/tests/test_*; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		selected "$name" || continue
		out="$log_dir/$variant-$name.log"
		local started=$SECONDS
		CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 "$t" >"$out" 2>&1
		local rc=$?
		# A crash or timeout leaves no "not ok" line: count it here.
		if [ $rc -ne 0 ] && ! grep -v '# SKIP' "$out" | grep -q '^not ok'; then
			echo "not ok - $name exited $rc" >>"$out"
		fi
		record "unit[$variant]" <"$out"
		printf '  unit[%s] %-24s %s (%d s)\n' "$variant" "$name" \
			"$(grep -c '^ok' "$out") ok, $(grep -v '# SKIP' "$out" | grep -c '^not ok') failed" \
			$((SECONDS - started))
		[ $rc -ne 0 ] && sed 's/^/    | /' "$out" | grep -vE '^    \| ok ' | tail -30
	done
}

# integration_one VARIANT SCRIPT: runs one integration script to its log;
# it may run in the background beside another, so it records nothing.
integration_one() {
	local variant=$1 t=$2 name out started=$SECONDS
	name=$(basename "$t" .sh)
	out="$log_dir/$variant-int-$name.log"
	EW_BIN="$BUILD/$variant/bin" EW_BENCH_BIN="$BUILD/$variant/bench" \
		EW_VARIANT="$variant" EW_SCENARIO="$(scenarios_of "$name")" \
		timeout 900 bash "$t" >"$out" 2>&1
	local rc=$?
	if [ $rc -ne 0 ] && ! grep -v '# SKIP' "$out" | grep -q '^not ok'; then
		echo "not ok - $name exited $rc" >>"$out"
	fi
	echo "$rc $((SECONDS - started))" >"$out.rc"
}

# integration_report VARIANT NAME: counts and prints a finished script.
integration_report() {
	local variant=$1 name=$2 out rc secs
	out="$log_dir/$variant-int-$name.log"
	read -r rc secs <"$out.rc"
	record "integration[$variant]" <"$out"
	printf '  integration[%s] %-18s %s (%d s)\n' "$variant" "$name" \
		"$(grep -c '^ok' "$out") ok, $(grep -v '# SKIP' "$out" | grep -c '^not ok') failed" \
		"$secs"
	[ "$rc" -ne 0 ] && tail -40 "$out" | sed 's/^/    | /'
}

# run_integration VARIANT: the scripts INTEGRATION_JOBS at a time. Each
# script owns its temp dir, its ports (port 0, read back from the state
# dir) and its namespaces, so two never meet; most of a script's time is
# spent waiting on daemons, so two at a time on two cores nearly halve
# the wall time.
run_integration() {
	local variant=$1 t name done_pid lock
	local -A running=() locks=()
	for t in tests/integration/*.sh; do
		[ -f "$t" ] || continue
		name=$(basename "$t" .sh)
		is_helper "$name" && continue
		selected "$name" || continue
		# A script marked "# ew-variants: release" tests what no
		# sanitizer build changes (the Windows .exe under wine): once.
		if grep -q '^# ew-variants: release$' "$t" && [ "$variant" != release ]; then
			continue
		fi
		# Scripts that share one thing no other may touch meanwhile
		# say so ("# ew-lock: wine": the Windows scripts share a wine
		# prefix and end with `wineserver -k`); one of a lock at a time.
		lock=$(sed -n 's/^# ew-lock: //p' "$t")
		while [ ${#running[@]} -ge "$INTEGRATION_JOBS" ] ||
			{ [ -n "$lock" ] && [[ " ${locks[*]} " == *" $lock "* ]]; }; do
			wait -n -p done_pid "${!running[@]}"
			integration_report "$variant" "${running[$done_pid]}"
			unset "running[$done_pid]" "locks[$done_pid]"
		done
		integration_one "$variant" "$t" &
		running[$!]=$name
		[ -n "$lock" ] && locks[$!]=$lock
	done
	while [ ${#running[@]} -gt 0 ]; do
		wait -n -p done_pid "${!running[@]}"
		integration_report "$variant" "${running[$done_pid]}"
		unset "running[$done_pid]" "locks[$done_pid]"
	done
}

# The unit suites cross-built for Windows (make windows), under wine in a
# prefix of their own, made once per build dir (wineboot takes ~25 s).
run_windows_unit() {
	local t name out prefix="$BUILD/windows/wineprefix"
	ls "$BUILD"/windows/tests/test_*.exe >/dev/null 2>&1 || return 0
	if ! command -v wine >/dev/null; then
		record "unit[windows]" <<<"not ok - wine is missing (scripts/deps.sh test)"
		return
	fi
	case $prefix in /*) ;; *) prefix=$PWD/$prefix ;; esac
	export WINEPREFIX=$prefix WINEDEBUG=-all WINEARCH=win64
	unset DISPLAY
	[ -f "$WINEPREFIX/system.reg" ] || timeout 300 wineboot --init >/dev/null 2>&1
	for t in "$BUILD"/windows/tests/test_*.exe; do
		name=$(basename "$t" .exe)
		selected "$name" || continue
		out="$log_dir/windows-$name.log"
		CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 wine "$t" 2>&1 | tr -d '\r' >"$out"
		local rc=${PIPESTATUS[0]}
		if [ "$rc" -ne 0 ] && ! grep -v '# SKIP' "$out" | grep -q '^not ok'; then
			echo "not ok - $name exited $rc under wine" >>"$out"
		fi
		record "unit[windows]" <"$out"
		printf '  unit[windows] %-24s %s\n' "$name" \
			"$(grep -c '^ok' "$out") ok, $(grep -v '# SKIP' "$out" | grep -c '^not ok') failed"
		[ "$rc" -ne 0 ] && grep -vE '^ok ' "$out" | tail -30 | sed 's/^/    | /'
	done
	wineserver -k 2>/dev/null || true
	unset WINEPREFIX WINEDEBUG WINEARCH
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

# run_fuzz: the harnesses FUZZ_JOBS at a time (one a core: each libFuzzer
# run is single-threaded, so two on two cores halve the wall time without
# shortening any harness's own run).
run_fuzz() {
	local f name harnesses=() i
	for f in "$BUILD"/fuzz/fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		selected "$(basename "$f")" || continue
		harnesses+=("$f")
	done
	for ((i = 0; i < ${#harnesses[@]}; i += FUZZ_JOBS)); do
		for f in "${harnesses[@]:i:FUZZ_JOBS}"; do fuzz_one "$f" & done
		wait
		for f in "${harnesses[@]:i:FUZZ_JOBS}"; do
			name=$(basename "$f")
			record fuzz <"$log_dir/$name.verdict"
			if grep -q '^ok' "$log_dir/$name.verdict"; then
				printf '  fuzz %-30s ok (%s s)\n' "$name" "$FUZZ_SECONDS"
			else
				printf '  fuzz %-30s FINDING\n' "$name"
				grep -E 'ERROR|SUMMARY|artifact' "$log_dir/$name.log" | head -10 | sed 's/^/    | /'
			fi
		done
	done
}

run_chaos() {
	local t name out
	for t in tests/chaos/*.sh; do
		[ -f "$t" ] || continue
		name=$(basename "$t" .sh)
		selected "$name" || continue
		out="$log_dir/chaos-$name.log"
		EW_BIN="$BUILD/release/bin" EW_BENCH_BIN="$BUILD/release/bench" \
			EW_SCENARIO="$(scenarios_of "$name")" \
			timeout 1800 bash "$t" >"$out" 2>&1
		local rc=$?
		[ $rc -ne 0 ] && ! grep -v '# SKIP' "$out" | grep -q '^not ok' && echo "not ok - $name exited $rc" >>"$out"
		record chaos <"$out"
		printf '  chaos %-28s %s\n' "$name" \
			"$(grep -c '^ok' "$out") ok, $(grep -v '# SKIP' "$out" | grep -c '^not ok') failed"
		[ $rc -ne 0 ] && tail -40 "$out" | sed 's/^/    | /'
	done
}

if [ "$mode" = --list ]; then
	rmdir "$log_dir"
	list_suites
	exit 0
fi

echo "eduwatch tests ($mode); logs in $log_dir"
case $mode in
all)
	run_unit release
	run_windows_unit
	run_integration release
	run_chaos
	run_fuzz
	run_unit asan
	run_integration asan
	;;
unit) run_unit release ;;
windows) run_windows_unit ;;
integration) run_integration release ;;
fuzz) run_fuzz ;;
chaos) run_chaos ;;
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
