#!/bin/bash
# YARA scanning: our rules against samples made at test time (each rule
# and its negative twin), rules compiled on the spot with an error named by
# file and line, files that must be skipped with a reason (symlink loop,
# FIFO, huge file, bind-mount loop), a scanner child killed mid-scan, the
# cache and its invalidation, and signed bundles: made by a collector,
# installed, and refused when corrupt, foreign, truncated or older.
# Scenarios run alone by name: make test ONLY=scan_yara:crashed_child
. "$(dirname "$0")/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
SCANJSON="$PY $(dirname "$0")/py/scanjson.py"
S="$WORK/samples"
mkdir -p "$S" "$WORK/state"
cat >"$WORK/agent.yaml" <<YAML
collector:
  host: 127.0.0.1
state_dir: $WORK/state
scan:
  max_file_size: 1MiB
YAML

setup() { EXPECT=$($PY "$(dirname "$0")/yarasamples.py" "$S"); }
summary() { $SCANJSON summary "$1" "$2"; }
# scan_samples: every rule over the samples, once (the bundle scenario
# compares its matches with these).
scan_samples() {
	[ -s "$WORK/scan.json" ] && return 0
	"$AGENT" scan "$S" --rules "$RULES/yara" --json --no-cache >"$WORK/scan.json"
}

# ---- every rule on its samples ------------------------------------------
scenario_each_rule() {
	local rc=0 got want
	scan_samples || rc=$?
	check "a scan that matched exits 5 ($rc)" eq "$rc" 5
	got=$($SCANJSON matches "$S" "$WORK/scan.json")
	want=$($SCANJSON expected "$EXPECT")
	check "each rule matches its samples and nothing else" eq "$got" "$want"
	check "a match carries the file's SHA-256" \
		grep -q "\"sha256\":\"$(sha256sum "$S/eicar/eicar.com" | cut -c1-64)\"" "$WORK/scan.json"
	check "a match carries the rule's meta" grep -q '"severity":3' "$WORK/scan.json"
	check "no file content in the output" bash -c "! grep -q 'EICAR-STANDARD' '$WORK/scan.json'"
	check "the summary counts every sample" \
		eq "$(summary "$WORK/scan.json" files)" "$($SCANJSON samples "$EXPECT")"
	"$AGENT" scan "$S/notes/lesson.txt" --rules "$RULES/yara" --no-cache >"$WORK/clean.txt"
	check "a clean scan exits 0 and says so" \
		grep -q "scanned 1 files .* 0 matched" "$WORK/clean.txt"
}

# A file name chosen by whoever planted the file: a newline and an ESC in it
# must not forge a line or repaint the officer's terminal.
scenario_evil_name() {
	local E=$WORK/evilname
	mkdir -p "$E"
	cp "$S/eicar/eicar.com" "$E/$(printf 'x\nMATCH  forged  EW_Fake\x1b[2J.com')"
	"$AGENT" scan "$E" --rules "$RULES/yara" --no-cache >"$WORK/evilname.txt" 2>&1
	check "a file name with a newline and an ESC prints as one escaped line" \
		eval '[ "$(grep -c "^MATCH" "$WORK/evilname.txt")" -eq 1 ] && ! grep -q $'"'"'\x1b'"'"' "$WORK/evilname.txt" && grep -q "x\\\\x0aMATCH" "$WORK/evilname.txt"'
}

# ---- rules that do not compile --------------------------------------------
scenario_bad_rules() {
	local r
	mkdir -p "$WORK/bad"
	printf 'rule ok { condition: true }\n\nrule broken {\n  strings: $a = "x"\n  condition: $b\n}\n' >"$WORK/bad/bad.yar"
	r=$("$AGENT" scan "$S" --rules "$WORK/bad" 2>&1)
	check "a rule error names the file and line ($r)" grep -qE "bad.yar:[56]: undefined string" <<<"$r"
}

# ---- what must be skipped, never hang ----------------------------------------
reason() { $SCANJSON reason "$WORK/skips.json" "$1"; }
scenario_skips() {
	local K="$WORK/skips" bind=0 rc=0
	mkdir -p "$K/real"
	ln -s "$K/loop2" "$K/loop1"
	ln -s "$K/loop1" "$K/loop2"
	mkfifo "$K/pipe"
	echo hi >"$K/real/small.txt"
	head -c 3M /dev/zero >"$K/real/huge.bin"
	mkdir -p "$K/real/mnt"
	mount --bind "$K/real" "$K/real/mnt" 2>/dev/null && bind=1
	timeout 60 "$AGENT" scan "$K" --rules "$RULES/yara" --json --no-cache \
		-c "$WORK/agent.yaml" >"$WORK/skips.json" || rc=$?
	check "the scan over loops and FIFOs ends (exit $rc)" test -s "$WORK/skips.json"
	check "a symlink is skipped, not followed" eq "$(reason /loop1)" "symlink (not followed)"
	check "a FIFO is skipped as a special file" eq "$(reason /pipe)" "special file"
	check "a file over scan.max_file_size is skipped" eq "$(reason real/huge.bin)" "larger than the size limit"
	if [ $bind -eq 1 ]; then
		check "a bind mount of a parent is a directory loop" eq "$(reason real/mnt)" "directory loop"
		umount "$K/real/mnt"
	else
		ok "# SKIP bind mounts need root"
	fi
}

# ---- a scanner child that crashes -------------------------------------------
# Enough files that the scan is still running when its child gets SIGABRT,
# as from a failed assertion. Not SIGSEGV: while libyara scans a file it
# catches SIGSEGV and SIGBUS itself (for a mapped file truncated under it),
# so a kill -SEGV that lands then crashes nothing (CI, 1 run in 8 under
# load). --cpu paces the child to stretch the scan out: about 5 s here in release
# at 10 %; under ASan the child is slow enough at 20 %.
scan_child() {
	# Only this scan's own child: a child of the scan above may still be
	# on its way out, and killing that one would test nothing.
	child=$(pgrep -P "$spid" -f "eduwatch-agent _scanner" | head -1)
	[ -n "$child" ]
}
# into_scan: the child has read its way a sixth into the tree (it makes
# about 3 read calls a file). A fixed sleep was not enough: on a loaded
# machine the whole scan once ended before it did (CI).
into_scan() {
	local reads
	reads=$(awk '$1 == "syscr:" { print $2 }' "/proc/$child/io" 2>/dev/null)
	[ "${reads:-0}" -ge 1500 ]
}
scenario_crashed_child() {
	local M="$WORK/many" spid child= pace=10
	[ "${EW_VARIANT:-release}" = asan ] && pace=20
	mkdir -p "$M"
	$PY "$(dirname "$0")/py/genfiles.py" text "$M" 3000
	cp "$S/eicar/eicar.com" "$M/zzzz-eicar.com"
	"$AGENT" scan "$M" --rules "$RULES/yara" --json --no-cache --jobs 1 --cpu "$pace" \
		>"$WORK/crash.json" 2>"$WORK/crash.err" &
	spid=$!
	wait_for 30 scan_child
	wait_for 60 into_scan
	check "the scanner child was killed mid-scan" kill -ABRT "$child"
	wait $spid
	check "the crash is recorded as a scan error for the file it was on" \
		eq "$(grep -c 'scanner crashed: killed by signal 6' "$WORK/crash.json")" 1
	check "a new child took over (restarts 1)" eq "$(summary "$WORK/crash.json" restarts)" 1
	check "every other file was still scanned" \
		eq "$(( $(summary "$WORK/crash.json" scanned) + $(summary "$WORK/crash.json" errors) ))" 3001
	check "and the match after the crash was found" grep -q 'zzzz-eicar.com","verdict":"match"' "$WORK/crash.json"
}

# ---- the cache ------------------------------------------------------------------
run_cached() { "$AGENT" scan "$C" --rules "$1" --json -c "$WORK/agent.yaml" >"$WORK/cache.json"; }
scenario_cache() {
	local C="$WORK/cached" first first_matched
	cp -r "$S" "$C"
	run_cached "$RULES/yara"
	first=$(summary "$WORK/cache.json" scanned)
	first_matched=$(summary "$WORK/cache.json" matched)
	run_cached "$RULES/yara"
	check "an unchanged tree comes from the cache" eq "$(summary "$WORK/cache.json" cached)" "$first"
	check "nothing is read again, and the matches are still reported" \
		eq "$(summary "$WORK/cache.json" scanned) $(summary "$WORK/cache.json" matched)" "0 $first_matched"
	check "a match from the cache keeps its hash and rule" \
		grep -q '"EW_EICAR_Test_File".*\|eicar.com.*"sha256":"275a' "$WORK/cache.json"
	echo "changed" >>"$C/notes/lesson.txt"
	touch -d "2020-01-01" "$C/www/index.php" # mtime back: ctime still moves
	run_cached "$RULES/yara"
	check "changed files (content or metadata) are scanned again" \
		eq "$(summary "$WORK/cache.json" scanned)" 2
	cp -r "$RULES/yara" "$WORK/rules2"
	printf 'rule EW_Test_New { strings: $a = "nothing here" condition: $a }\n' >"$WORK/rules2/new.yar"
	run_cached "$WORK/rules2"
	check "new rules invalidate the cache" eq "$(summary "$WORK/cache.json" cached)" 0
}

# ---- signed bundles ----------------------------------------------------------------
scenario_bundles() {
	local pub B r v1 size
	scan_samples
	collector_init "$WORK/col" || not_ok "collector init"
	pub=$("$COLLECTOR" rules publish -c "$CONF" 2>&1)
	check "the collector compiles and signs a bundle ($pub)" grep -q "published bundle" <<<"$pub"
	B=$(ls "$WORK/col/bundles/"bundle-*.ewb | head -1)
	cp "$WORK/col/ca.crt" "$WORK/state/ca.crt"
	r=$("$AGENT" rules install "$B" -c "$WORK/agent.yaml" 2>&1)
	check "the agent installs a bundle signed by its CA ($r)" grep -q "installed rule bundle" <<<"$r"
	"$AGENT" scan "$S" --json --no-cache -c "$WORK/agent.yaml" >"$WORK/bundle.json"
	check "a scan with the installed bundle finds the same matches" \
		eq "$(grep -c '"verdict":"match"' "$WORK/bundle.json")" "$(grep -c '"verdict":"match"' "$WORK/scan.json")"
	check "and names the bundle's version" grep -q "\"rules_version\":\"bundle-" "$WORK/bundle.json"
	v1=$("$AGENT" rules show --json -c "$WORK/agent.yaml")
	cp "$B" "$WORK/corrupt.ewb"
	size=$(stat -c %s "$B")
	printf 'X' | dd of="$WORK/corrupt.ewb" bs=1 seek=$((size - 10)) conv=notrunc 2>/dev/null
	r=$("$AGENT" rules install "$WORK/corrupt.ewb" -c "$WORK/agent.yaml" 2>&1)
	check "a corrupt bundle is refused ($r)" grep -q "does not match its signed hash" <<<"$r"
	head -c $((size / 2)) "$B" >"$WORK/short.ewb"
	r=$("$AGENT" rules install "$WORK/short.ewb" -c "$WORK/agent.yaml" 2>&1)
	check "a truncated bundle is refused ($r)" grep -qi "truncated\|damaged" <<<"$r"
	"$COLLECTOR" init --dir "$WORK/evil" --rules "$RULES" >/dev/null
	"$COLLECTOR" rules publish -c "$WORK/evil/collector.yaml" >/dev/null 2>&1
	r=$("$AGENT" rules install "$(ls "$WORK/evil/bundles/"*.ewb | head -1)" -c "$WORK/agent.yaml" 2>&1)
	check "a bundle signed by another CA is refused ($r)" grep -q "signature does not verify" <<<"$r"
	r=$("$AGENT" rules install "$B" -c "$WORK/agent.yaml" 2>&1)
	check "the same or an older version is refused ($r)" grep -q "not newer" <<<"$r"
	printf 'evil.example\n' >"$WORK/ioc.txt"
	"$COLLECTOR" ioc publish "$WORK/ioc.txt" -c "$CONF" >/dev/null
	r=$("$AGENT" rules install "$(ls "$WORK/col/bundles/"ioc-*.ewb | head -1)" -c "$WORK/agent.yaml" 2>&1)
	check "a signed IOC bundle is not accepted as rules ($r)" grep -q "holds 'ioc', not 'rules'" <<<"$r"
	check "after every refusal the old bundle is still in use" \
		eq "$("$AGENT" rules show --json -c "$WORK/agent.yaml")" "$v1"
	printf 'rule broken { condition: $x }\n' >"$WORK/bad.yar"
	r=$("$COLLECTOR" rules publish -c "$CONF" -o yara.rules="$RULES/yara,$WORK/bad.yar" 2>&1)
	check "publishing rules that do not compile names the file and line ($r)" grep -q "bad.yar:1:" <<<"$r"
}

run_scenarios
