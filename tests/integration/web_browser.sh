#!/bin/bash
# The officers' console in a real headless Chromium (issue 17): Debian's
# chromium driven by playwright-core, axe-core for accessibility
# (tests/browser/console.mjs). Screenshots of each main page are kept in
# build/VARIANT/artifacts/browser/. The npm packages are pinned by
# tests/browser/package-lock.json and installed by `npm ci` the first time.
. "$(dirname "$0")/lib.bash"
HERE="$(cd "$(dirname "$0")/../browser" && pwd)"
D="$WORK/collector"
LOG="$WORK/collector.log"
SHOTS="$(cd "$EW_BIN/.." && pwd)/artifacts/browser"

# Release only: the suite takes about a minute on a quiet machine, two on
# a busy one, and the C code it drives runs under ASan in web_console.sh.
if [ "${EW_VARIANT:-release}" = asan ]; then
	echo "1..0 # SKIP release only (web_console covers the same code under ASan)"
	exit 0
fi
if ! command -v chromium >/dev/null || ! command -v node >/dev/null; then
	echo "1..0 # SKIP chromium or node missing (scripts/deps.sh test installs them)"
	exit 0
fi
if [ ! -d "$HERE/node_modules/playwright-core" ]; then
	(cd "$HERE" && npm ci --no-audit --no-fund >/dev/null 2>&1) ||
		{ not_ok "npm ci in tests/browser"; tap_finish; exit 1; }
fi

collector_init "$D" || { not_ok "collector init"; tap_finish; exit 1; }
sed -i 's/^  enabled: false/  enabled: true/; s/^  port: 8443/  port: 0/' "$CONF"
C() { "$COLLECTOR" "$@" -c "$CONF"; }
XSS_SCHOOL='Trường <img src=x onerror=alert(1)>'
XSS_HOST='<script>alert("host")</script>'
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
# PCs and alerts come from agents: written straight into the store here,
# with the hostile names a PC could report.
now=$(($(date +%s) * 1000000))
$PY - "$D/eduwatch.db" "$now" "$XSS_HOST" >"$WORK/alert.id" <<'PYEOF'
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

collector_start "$LOG" || { not_ok "collector start"; tap_finish; exit 1; }
wait_for 20 test -s "$D/web.port" || { not_ok "web port"; tap_finish; exit 1; }
rm -rf "$SHOTS"
node "$HERE/console.mjs" "https://localhost:$(cat "$D/web.port")" "$WORK/users.json" "$SHOTS" "$TAP_N" "$D/eduwatch.db" \
	>"$WORK/node.tap" 2>"$WORK/node.err"
cat "$WORK/node.tap"
TAP_N=$((TAP_N + $(grep -c '^\(not \)\?ok ' "$WORK/node.tap")))
TAP_FAILED=$((TAP_FAILED + $(grep -c '^not ok ' "$WORK/node.tap")))
[ -s "$WORK/node.err" ] && sed 's/^/# /' "$WORK/node.err" | tail -20
for p in overview school pc alerts audit users admin-schools publish alert-volume alert-volume-table; do
	check "screenshot of the $p page kept ($SHOTS/$p.png)" test -s "$SHOTS/$p.png"
done
collector_stop
check "the collector stops cleanly" test $? -eq 0
tap_finish
