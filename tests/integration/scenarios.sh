#!/bin/bash
# The scenario mechanism of lib.bash itself (issue 13, item 8): a script of
# four scenarios, one failing, one dying mid-way, run whole, by name and
# listed. A failure in one neither stops nor skips the others; a scenario
# that stops early is reported, not silently shorter; an unknown name
# fails; background jobs of a scenario do not outlive it. And the promise
# kept: every test script is built of scenarios, so each runs alone.
# Scenarios run alone by name: make test ONLY=scenarios:whole_run
# It runs lib.bash and no eduwatch binary, which no sanitizer build
# changes:
# ew-variants: release
. "$(dirname "$0")/lib.bash"
HERE="$(cd "$(dirname "$0")" && pwd)"
S="$WORK/sample.sh"

# setup: the sample script every scenario but the last runs.
setup() {
	cat >"$S" <<EOS
. "$HERE/lib.bash"
setup() { echo "# setup ran"; }
scenario_first() { check "first passes" true; }
scenario_fails() { check "fails fails" false; check "fails goes on after its failure" true; }
scenario_dies() { sleep 300 & echo \$! >"\$WORK/../sleeper.pid"; check "dies passes once" true; exit 7; }
scenario_last() { check "last still runs" true; }
teardown() { check "teardown ran" true; }
 run_scenarios # the sample's own call; not one tests/run.sh --list takes for this script
EOS
}
# run: the sample, whole or (SAMPLE_SCENARIO=NAME run) one scenario of
# it; never the scenario this script was asked for (EW_SCENARIO).
run() { TMPDIR=$WORK EW_SCENARIO=${SAMPLE_SCENARIO:-} bash "$S" 2>&1; }

scenario_whole_run() {
	local out
	out=$(run)
	echo "$out" | sed 's/^/# | /'
	check "every scenario ran in file order despite a failure and an exit" \
		eq "$(grep -o '^# scenario [a-z]*' <<<"$out" | tr '\n' ' ')" \
		"# scenario first # scenario fails # scenario dies # scenario last "
	check "the failing check failed, the one after it in the same scenario ran" \
		eval 'grep -q "^not ok 2 - fails fails" <<<"$out" && grep -q "^ok 3 - fails goes on" <<<"$out"'
	check "an early stop is a failure of its own, with its status" \
		grep -q "^not ok 5 - scenario dies stopped early with status 7" <<<"$out"
	check "numbers carry on across scenarios, teardown included, plan at the end" \
		eval 'grep -q "^ok 6 - last still runs" <<<"$out" && grep -q "^ok 7 - teardown ran" <<<"$out" && tail -1 <<<"$out" | grep -qx "1..7"'
	check "the script fails as a whole" eval '! run >/dev/null'
	check "a scenario's background job is killed when it ends" \
		eval '[ -s "$WORK/sleeper.pid" ] && ! kill -0 "$(cat "$WORK/sleeper.pid")" 2>/dev/null'
}

scenario_by_name() {
	local one
	one=$(SAMPLE_SCENARIO=last run)
	check "EW_SCENARIO runs one scenario (with setup and teardown)" \
		eval 'grep -q "# setup ran" <<<"$one" && [ "$(grep -c "^ok" <<<"$one")" -eq 2 ] && tail -1 <<<"$one" | grep -qx "1..2"'
}

scenario_listing() {
	local suites
	check "the listing names the scenarios and runs nothing" \
		eq "$(EW_LIST_SCENARIOS=1 run | tr '\n' ' ')" "first fails dies last "
	suites=$(cd "$HERE/../.." && tests/run.sh --list)
	check "tests/run.sh --list names scripts' scenarios as ONLY takes them" \
		grep -qx "collector_ingest:slowloris" <<<"$suites"
	check "tests/run.sh --list names no lib_* helper as a suite" \
		eval '! grep -q "^lib_" <<<"$suites"'
}

scenario_unknown_name() {
	local bad
	bad=$(SAMPLE_SCENARIO=nosuch run)
	check "an unknown scenario name is a failure that names the ones there are" \
		grep -q "^not ok 1 - no such scenario in sample.sh: nosuch (have: first fails dies last)" <<<"$bad"
}

# not_scenario_built [DIR...]: the test scripts in DIR (the integration
# and chaos folders), not the lib_* helpers, that do not end in
# run_scenarios, the shape tests/run.sh --list and ONLY=SCRIPT:SCENARIO
# rely on.
not_scenario_built() {
	local d t name
	[ $# -gt 0 ] || set -- "$HERE" "$HERE/../chaos"
	for d; do
		for t in "$d"/*.sh; do
			[ -f "$t" ] || continue
			name=$(basename "$t" .sh)
			case $name in lib_*) continue ;; esac
			grep -Eq '(^|\|\| *)run_scenarios *$' "$t" || echo "$name"
		done
	done
}

scenario_every_script() {
	local missing F="$WORK/scripts"
	mkdir -p "$F"
	printf 'scenario_a() { :; }\nrun_scenarios\n' >"$F/built.sh"
	printf 'check "x" true\n# run_scenarios\ntap_finish\n' >"$F/flat.sh"
	printf 'helper() { :; }\n' >"$F/lib_helper.sh"
	check "the check names a script not built of scenarios, and no built one or lib_* helper" \
		eq "$(not_scenario_built "$F")" flat
	missing=$(not_scenario_built)
	check "every integration and chaos script is built of scenarios${missing:+ (not: ${missing//$'\n'/ })}" \
		test -z "$missing"
}

run_scenarios
