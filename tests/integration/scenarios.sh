#!/bin/bash
# The scenario mechanism of lib.bash itself (issue 13, item 8): a script of
# four scenarios, one failing, one dying mid-way, run whole, by name and
# listed. A failure in one neither stops nor skips the others; a scenario
# that stops early is reported, not silently shorter; an unknown name
# fails; background jobs of a scenario do not outlive it.
. "$(dirname "$0")/lib.bash"
S="$WORK/sample.sh"
cat >"$S" <<EOF
. "$(cd "$(dirname "$0")" && pwd)/lib.bash"
setup() { echo "# setup ran"; }
scenario_first() { check "first passes" true; }
scenario_fails() { check "fails fails" false; check "fails goes on after its failure" true; }
scenario_dies() { sleep 300 & echo \$! >"\$WORK/../sleeper.pid"; check "dies passes once" true; exit 7; }
scenario_last() { check "last still runs" true; }
teardown() { check "teardown ran" true; }
 run_scenarios # the sample's own call; not one tests/run.sh --list takes for this script
EOF
run() { TMPDIR=$WORK bash "$S" 2>&1; }
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
	eval '! kill -0 "$(cat "$WORK/sleeper.pid")" 2>/dev/null'
one=$(EW_SCENARIO=last run)
check "EW_SCENARIO runs one scenario (with setup and teardown)" \
	eval 'grep -q "# setup ran" <<<"$one" && [ "$(grep -c "^ok" <<<"$one")" -eq 2 ] && tail -1 <<<"$one" | grep -qx "1..2"'
check "the listing names the scenarios and runs nothing" \
	eq "$(EW_LIST_SCENARIOS=1 run | tr '\n' ' ')" "first fails dies last "
bad=$(EW_SCENARIO=nosuch run)
check "an unknown scenario name is a failure that names the ones there are" \
	grep -q "^not ok 1 - no such scenario in sample.sh: nosuch (have: first fails dies last)" <<<"$bad"
check "tests/run.sh --list names scripts' scenarios as ONLY takes them" \
	eval 'cd "$(dirname "$0")/../.." && tests/run.sh --list | grep -qx "collector_ingest:slowloris"'
tap_finish
