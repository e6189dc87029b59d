#!/bin/bash
# First run (issue 20): `eduwatch-collector setup` on a fresh directory
# makes the CA and server certificate, the first province_admin (argon2id,
# TOTP), the schools of a CSV and a sheet of enrollment strings; then a
# real agent enrolls with its school's string from the sheet and reports
# over mutual TLS. Bad input (a bad row, a repeated school, a sheet path
# that exists or is a symlink, missing flags) stops setup before anything
# is made. On a terminal it asks for what the flags did not give.
# Scenarios run alone: make test ONLY=collector_setup:fresh_dir
. "$(dirname "$0")/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"

write_csv() { # write_csv FILE: two schools, one with a comma and a formula
	printf '\xef\xbb\xbfcode,name,commune,level,expected_pcs\r\n' >"$1"
	printf '79001,"THCS Nguyễn Du, Quận 1",Phường 1,2,40\r\n' >>"$1"
	printf '79002,"=HYPERLINK(""http://x"")",Xã An,1,0\r\n' >>"$1"
}
# sheet_string SHEET CODE: that school's enrollment string, read as CSV.
sheet_string() {
	$PY -c 'import csv,sys
for r in csv.DictReader(open(sys.argv[1], newline="")):
    if r["school"] == sys.argv[2]: print(r["enrollment_string"])' "$1" "$2"
}

scenario_fresh_dir() {
	local d=$WORK/fresh p1 p2 s out
	mkdir -p "$WORK/pc1"
	write_csv "$WORK/schools.csv"
	p1=$(free_port) p2=$(free_port)
	check "setup --non-interactive on a fresh directory succeeds" into "$WORK/setup.out" \
		"$COLLECTOR" setup --non-interactive --dir "$d" --name localhost \
		--rules "$RULES" --schools "$WORK/schools.csv" --admin "an.nguyen" \
		--out "$WORK/sheet.csv" -o ingest.port="$p1" -o enroll.port="$p2"
	check "... it made the CA and the server certificate" test -s "$d/ca.crt" -a -s "$d/server.crt"
	check "... the CA key is 0600" eq "$(stat -c %a "$d/ca.key")" 600
	check "... it printed the admin's one-time password once" grep -q "^one-time password: " "$WORK/setup.out"
	check "... and a TOTP secret (province_admin)" grep -q "^TOTP secret: " "$WORK/setup.out"
	check "the admin is a province_admin with TOTP" \
		grep -q "^an.nguyen  *province_admin .*totp" <("$COLLECTOR" user list -c "$d/collector.yaml")
	check "... whose password is stored as argon2id, never in clear" \
		grep -q '^\$argon2id\$' <(sqlite3 "$d/eduwatch.db" "SELECT pwhash FROM users WHERE name='an.nguyen'")
	check "the CSV's schools are there, names intact" \
		grep -q '"code":"79001","name":"THCS Nguyễn Du, Quận 1","commune":"Phường 1","level":2,"expected_pcs":40' \
		<("$COLLECTOR" school list --json -c "$d/collector.yaml")
	check "the sheet is 0600 (it holds live tokens)" eq "$(stat -c %a "$WORK/sheet.csv")" 600
	check "the sheet has a row per school" eq "$(($(wc -l <"$WORK/sheet.csv") - 1))" 2
	check "a formula in a school name is defused in the sheet" grep -q "\"'=HYPERLINK" "$WORK/sheet.csv"
	check "a school of 0 expected PCs still gets one use" grep -q '^"79002",.*,"1","30d","EW1-' "$WORK/sheet.csv"

	# Serve it, and enroll a PC with the string on its school's line.
	collector_init_existing() { CONF="$d/collector.yaml" COLLECTOR_DIR=$d; }
	collector_init_existing
	COLLECTOR_SET=(-o ingest.port="$p1" -o enroll.port="$p2" -o log.stats_interval=0)
	collector_start "$WORK/collector.log" || { not_ok "the set-up collector serves"; return; }
	s=$(sheet_string "$WORK/sheet.csv" 79001)
	check "an agent enrolls with the string from the sheet" into "$WORK/enroll.out" \
		"$AGENT" enroll "$s" --state-dir "$WORK/pc1/state" -c "$WORK/pc1/agent.yaml"
	ID=$(sed -n 's/^enrolled as agent \([^ ]*\) .*/\1/p' "$WORK/enroll.out")
	check "... into school 79001" grep -q "of school 79001" "$WORK/enroll.out"
	sed -i 's/interval: 60s/interval: 1s/; s/backoff_max: 5m/backoff_max: 2s/' "$WORK/pc1/agent.yaml"
	"$AGENT" run -c "$WORK/pc1/agent.yaml" >>"$WORK/pc1.log" 2>&1 &
	local apid=$!
	check "... and reports to the collector" wait_event 30 agent.start
	kill -TERM "$apid"; wait "$apid" 2>/dev/null
	local ver
	ver=$("$COLLECTOR" version | awk '{print $2}')
	check "agent-release status: school 79001 runs one agent of version $ver" \
		grep -q "^79001 *$ver *1\$" <("$COLLECTOR" agent-release status -c "$CONF")
	check "... the same as JSON" \
		grep -q "\"school\":\"79001\",\"version\":\"$ver\",\"agents\":1" \
		<("$COLLECTOR" agent-release status --json -c "$CONF")
	check "the school shows its enrolled PC" \
		grep -q '"code":"79001".*"enrolled_pcs":1' <("$COLLECTOR" school list --json -c "$CONF")
	out=$("$COLLECTOR" setup --non-interactive --dir "$d" --name localhost --rules "$RULES" \
		--schools "$WORK/schools.csv" --admin x --out "$WORK/sheet2.csv" 2>&1)
	check "setup again over the same directory is refused, the CA kept" \
		bash -c "[ -s '$d/ca.key' ] && ! grep -q '^one-time' <<<'$out'"
	collector_stop
}

# refused_setup DESCRIPTION PATTERN CSV [extra args]: exit non-zero, the
# reason named, and nothing made: no state directory, no sheet.
refused_setup() {
	local what=$1 pat=$2 csv=$3 out rc
	shift 3
	rm -rf "$WORK/r"
	out=$("$COLLECTOR" setup --non-interactive --dir "$WORK/r" --name localhost \
		--rules "$RULES" --schools "$csv" --admin admin --out "$WORK/r-sheet.csv" "$@" 2>&1 </dev/null)
	rc=$?
	if [ "$rc" -ne 0 ] && grep -q -- "$pat" <<<"$out" && [ ! -e "$WORK/r" ] && [ ! -e "$WORK/r-sheet.csv" ]; then
		ok "setup refuses $what before making anything"
	else
		not_ok "setup refuses $what before making anything (exit $rc: $out)"
	fi
}

scenario_bad_input() {
	local c=$WORK/bad.csv
	printf 'code,name,commune,level,expected_pcs\n79001,A,B,2,4\n79002,C,D,9,4\n' >"$c"
	refused_setup "a level outside 1..5, naming the line" "line 3, column level" "$c"
	printf 'code,name,commune,level,expected_pcs\n79001,A,B,2,4\n79001,C,D,1,4\n' >"$c"
	refused_setup "a school given twice" "given twice" "$c"
	printf 'code,name,commune,level\n79001,A,B,2\n' >"$c"
	refused_setup "a CSV without a column" "no 'expected_pcs' column" "$c"
	printf 'code,name,commune,level,expected_pcs\n79 001,A,B,2,4\n' >"$c"
	refused_setup "a code with a blank" "column code" "$c"
	printf 'code,name,commune,level,expected_pcs\n79001,A\x1b[2J,B,2,4\n' >"$c"
	refused_setup "a name with a terminal escape" "column name" "$c"
	printf 'code,name,commune,level,expected_pcs\n79001,\xc3\x28,B,2,4\n' >"$c"
	refused_setup "a name that is not UTF-8" "column name" "$c"
	printf 'code,name,commune,level,expected_pcs\n79001,"A,B,2,4\n' >"$c"
	refused_setup "an unterminated quote" "line 2" "$c"
	printf 'code,name,commune,level,expected_pcs\n' >"$c"
	refused_setup "a CSV with no school" "names no school" "$c"
	refused_setup "a missing CSV" "--schools" "$WORK/none.csv"
	write_csv "$c"
	refused_setup "a bad admin name" "not a user name\|user name is" "$c" --admin 'a b'
	ln -s /etc/passwd "$WORK/r-sheet.csv"
	out=$("$COLLECTOR" setup --non-interactive --dir "$WORK/r" --name localhost --rules "$RULES" \
		--schools "$c" --admin admin --out "$WORK/r-sheet.csv" 2>&1)
	check "setup refuses a sheet path that is a symlink, makes nothing" \
		bash -c "grep -q 'must not exist' <<<'$out' && [ ! -e '$WORK/r' ] && [ -L '$WORK/r-sheet.csv' ]"
	rm -f "$WORK/r-sheet.csv"
	out=$("$COLLECTOR" setup --non-interactive --dir "$WORK/r" --schools "$c" 2>&1 </dev/null)
	check "--non-interactive with flags missing is a usage error (exit 2)" eq "$?" 2
	check "... naming what it needs" grep -q "setup needs --dir, --name" <<<"$out"
}

# On a terminal (a pty from script(1)), setup asks for each missing value.
scenario_interactive() {
	write_csv "$WORK/i.csv"
	printf '%s\n' "$WORK/idir" localhost "$WORK/i.csv" admin "$WORK/i-sheet.csv" >"$WORK/answers"
	script -qec "'$COLLECTOR' setup --rules '$RULES'" /dev/null <"$WORK/answers" >"$WORK/i.out" 2>&1
	check "interactive setup asks for the state directory" grep -q "State directory" "$WORK/i.out"
	check "... and the schools CSV" grep -q "schools CSV" "$WORK/i.out"
	check "... and with the answers sets everything up" test -s "$WORK/idir/ca.crt" -a -s "$WORK/i-sheet.csv"
	check "... the sheet has both schools" eq "$(grep -c 'EW1-' "$WORK/i-sheet.csv")" 2
}

run_scenarios
