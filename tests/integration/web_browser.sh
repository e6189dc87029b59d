#!/bin/bash
# The officers' console in a real headless Chromium (issue 17): Debian's
# chromium driven by playwright-core, axe-core for accessibility
# (tests/browser/console.mjs). Screenshots of each main page are kept in
# build/VARIANT/artifacts/browser/. The npm packages are pinned by
# tests/browser/package-lock.json and installed by `npm ci` the first time.
# Scenarios run alone by name: make test ONLY=web_browser:screenshots
# (the pages scenario drives the whole browser story: one Chromium, whose
# sessions and lockouts follow each other).
. "$(dirname "$0")/lib.bash"
HERE="$(cd "$(dirname "$0")/../browser" && pwd)"
D="$WORK/collector"
LOG="$WORK/collector.log"
SHOTS="$(cd "$EW_BIN/.." && pwd)/artifacts/browser"
XSS_SCHOOL='Trường <img src=x onerror=alert(1)>'
XSS_HOST='<script>alert("host")</script>'

C() { "$COLLECTOR" "$@" -c "$CONF"; }

# setup: playwright-core, and a running collector with its console on,
# two schools, three accounts and PCs and an alert with the hostile names
# a PC could report ($WORK/users.json tells console.mjs the passwords).
setup() {
	local users out pw totp u
	if [ ! -d "$HERE/node_modules/playwright-core" ]; then
		(cd "$HERE" && npm ci --no-audit --no-fund >/dev/null 2>&1) ||
			{ echo "# npm ci in tests/browser failed" >&2; return 1; }
	fi
	collector_init "$D" || return 1
	collector_set web.enabled=true web.port=0
	C school add A1 "$XSS_SCHOOL" --commune "Xã A" --level 2 --expected-pcs 2 >/dev/null
	C school add B1 "Trường B1" --commune "Xã B" --level 2 --expected-pcs 1 >/dev/null
	users="{"
	for u in "admin province_admin" "sch school_officer A1" "locky school_officer A1"; do
		set -- $u
		out=$(C user add "$@")
		pw=$(sed -n 's/^one-time password: //p' <<<"$out")
		totp=$(sed -n 's/^TOTP secret: \([A-Z2-7]*\).*/\1/p' <<<"$out")
		users+="\"$1\":{\"password\":\"$pw\",\"totp\":\"$totp\"},"
	done
	# PCs and alerts come from agents: written straight into the store
	# here, with the hostile names a PC could report.
	$PY - "$D/eduwatch.db" "$(($(date +%s) * 1000000))" "$XSS_HOST" >"$WORK/alert.id" <<'PYEOF' || return 1
import sqlite3, sys
db, now, host = sqlite3.connect(sys.argv[1], timeout=30), int(sys.argv[2]), sys.argv[3]
db.execute("INSERT INTO agents(id,school,hostname,cert_sha256,enrolled,last_seen) VALUES('pcA1','A1',?,'x',?,?)", (host, now - 86400000000, now))
db.execute("INSERT INTO agents(id,school,hostname,cert_sha256,enrolled,last_seen) VALUES('pcA2','A1','old-pc','x',?,?)", (now - 10 * 86400000000, now - 5 * 86400000000))
db.execute("INSERT INTO agents(id,school,hostname,cert_sha256,enrolled,last_seen) VALUES('pcB1','B1','pc-b1','x',?,?)", (now, now))
cur = db.execute("INSERT INTO alerts(rule,title,category,kind,dedupe_key,agent,school,severity,drill,first,last,count,state,evidence,src_ip,file_path,file_hash)"
                 " VALUES('scan.match','Mã độc','malware','scan.match','k1','pcA1','A1',9,1,?,?,1,'open','{}','',?,'')",
                 (now, now, 'C:\\x\\"><svg onload=alert(1)>.exe'))
for i, score in enumerate((62.5, 70.0, 81.25)):
    day = "2026-11-%02d" % (20 + i)
    db.execute("INSERT INTO score_snapshots(day,scope,key,score,pcs) VALUES(?,?,?,?,?)", (day, "school", "A1", score, 2))
    db.execute("INSERT INTO score_snapshots(day,scope,key,score,pcs) VALUES(?,?,?,?,?)", (day, "province", "", score - 5, 3))
db.commit()
print(cur.lastrowid)
PYEOF
	users+="\"\$xss_school\":$($PY -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$XSS_SCHOOL"),"
	users+="\"\$xss_host\":$($PY -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$XSS_HOST"),"
	users+="\"\$alert\":$(cat "$WORK/alert.id")}"
	echo "$users" >"$WORK/users.json"
	collector_start "$LOG" || return 1
	wait_for 20 test -s "$D/web.port" || { echo "# the collector wrote no web.port" >&2; return 1; }
}

# console_run: tests/browser/console.mjs against the collector, once per
# run (its TAP lines, numbered from the script's, in $WORK/node.tap);
# every scenario that needs its pages or screenshots calls it.
console_run() {
	[ -e "$WORK/node.tap" ] && return 0
	rm -rf "$SHOTS"
	node "$HERE/console.mjs" "https://localhost:$(cat "$D/web.port")" "$WORK/users.json" "$SHOTS" "$TAP_N" "$D/eduwatch.db" \
		>"$WORK/node.tap" 2>"$WORK/node.err"
}

scenario_pages() {
	console_run
	cat "$WORK/node.tap"
	TAP_N=$((TAP_N + $(grep -c '^\(not \)\?ok ' "$WORK/node.tap")))
	TAP_FAILED=$((TAP_FAILED + $(grep -c '^not ok ' "$WORK/node.tap")))
	[ -s "$WORK/node.err" ] && sed 's/^/# /' "$WORK/node.err" | tail -20
	# A crash half-way prints fewer checks: console.mjs ends with its
	# own "ran to the end" failure, but a node that never starts does not.
	check "console.mjs printed its checks" grep -q '^\(not \)\?ok ' "$WORK/node.tap"
}

scenario_screenshots() {
	local p
	console_run
	for p in overview school pc alerts audit users admin-schools publish alert-volume alert-volume-table; do
		check "screenshot of the $p page kept ($SHOTS/$p.png)" test -s "$SHOTS/$p.png"
	done
}

# teardown, in the script's own shell (it started the collector, so it
# gets the exit status): after any scenario, alone or all.
teardown() {
	check "the collector stops cleanly" collector_stop
}

# Release only: the suite takes about a minute on a quiet machine, two on
# a busy one, and the C code it drives runs under ASan in web_console.sh.
if [ -z "${EW_LIST_SCENARIOS:-}" ]; then
	if [ "${EW_VARIANT:-release}" = asan ]; then
		echo "1..0 # SKIP release only (web_console covers the same code under ASan)"
		exit 0
	fi
	if ! command -v chromium >/dev/null || ! command -v node >/dev/null; then
		echo "1..0 # SKIP chromium or node missing (scripts/deps.sh test installs them)"
		exit 0
	fi
fi
run_scenarios
