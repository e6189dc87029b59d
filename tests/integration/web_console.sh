#!/bin/bash
# The officers' console (issue 17), against a real collector over real TLS
# on loopback: the server's limits and headers, then accounts, sessions,
# scope and the audit log (web_console.py drives the HTTP side, one
# scenario of it per scenario here).
# Scenarios run alone by name: make test ONLY=web_console:rbac
. "$(dirname "$0")/lib.bash"
HERE="$(cd "$(dirname "$0")" && pwd)"
D="$WORK/collector"
LOG="$WORK/collector.log"
# The console renders report PDFs in serve (pango, cairo): their
# process-wide fontconfig caches live until exit, as in report.sh.
export LSAN_OPTIONS="suppressions=$HERE/lsan-fontconfig.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

# setup: the collector with its console on a port it binds itself, one
# SOC destination that never answers (its queue is what the SOC feed page
# shows), and the schools, accounts, PCs and alerts web_console.py seeds.
setup() {
	collector_init "$D" || return 1
	collector_set web.enabled=true web.port=0
	collector_forward_nowhere soc-a
	collector_start "$LOG" || return 1
	check "the bound port is written to the state folder" wait_for 20 test -s "$D/web.port"
	WP=$(cat "$D/web.port")
	CURL=(curl -s --cacert "$D/ca.crt" --resolve "localhost:$WP:127.0.0.1")
	URL="https://localhost:$WP"
	console_py seed
}

# console_py NAME: web_console.py's scenario NAME (or its seed), its TAP
# lines numbered on from the script's.
console_py() {
	local rc
	$PY "$HERE/web_console.py" "$COLLECTOR" "$CONF" "$D" "$WP" "$TAP_N" "$WORK/seed.json" "$1" \
		>"$WORK/py.tap" 2>"$WORK/py.err"
	rc=$?
	cat "$WORK/py.tap"
	TAP_N=$((TAP_N + $(grep -c '^\(not \)\?ok ' "$WORK/py.tap")))
	TAP_FAILED=$((TAP_FAILED + $(grep -c '^not ok ' "$WORK/py.tap")))
	[ -s "$WORK/py.err" ] && sed 's/^/# /' "$WORK/py.err" | tail -20
	# A crash half-way prints no "not ok" for what it never ran.
	check "web_console.py $1 ran to its end (exit $rc)" test "$rc" -eq 0
}

# ---- TLS ----------------------------------------------------------------------
scenario_tls() {
	check "a TLS 1.2 client is served (the collector's certificate verifies)" \
		eq "$("${CURL[@]}" --tlsv1.2 --tls-max 1.2 "$URL/healthz")" ok
	check "TLS 1.1 is refused" \
		bash -c "! openssl s_client -connect 127.0.0.1:$WP -tls1_1 </dev/null >/dev/null 2>&1"
	check "a TLS 1.2 suite without forward secrecy is refused" \
		bash -c "! openssl s_client -connect 127.0.0.1:$WP -tls1_2 -cipher AES128-GCM-SHA256 </dev/null >/dev/null 2>&1"
}

# ---- headers --------------------------------------------------------------------
scenario_headers() {
	local f
	"${CURL[@]}" -D "$WORK/h" -o /dev/null "$URL/healthz"
	"${CURL[@]}" -D "$WORK/h404" -o "$WORK/b404" "$URL/api/v1/no/such/thing"
	for f in h h404; do
		check "$f: a CSP with frame-ancestors 'none' and script-src 'self'" \
			bash -c "grep -i '^content-security-policy:' '$WORK/$f' | grep -q \"frame-ancestors 'none'\" && grep -i '^content-security-policy:' '$WORK/$f' | grep -q \"script-src 'self'\""
		check "$f: no 'unsafe-inline' anywhere" bash -c "! grep -qi unsafe-inline '$WORK/$f'"
		check "$f: HSTS" bash -c "grep -qi '^strict-transport-security: max-age=31536000' '$WORK/$f'"
		check "$f: nosniff" grep -qi '^x-content-type-options: nosniff' "$WORK/$f"
		check "$f: referrer policy" grep -qi '^referrer-policy: same-origin' "$WORK/$f"
		check "$f: not cached" grep -qi '^cache-control: no-store' "$WORK/$f"
	done
	check "an unknown API path is a 404 problem document (RFC 9457)" \
		bash -c "head -1 '$WORK/h404' | grep -q ' 404' && grep -qi '^content-type: application/problem+json' '$WORK/h404' && grep -q '\"status\":404' '$WORK/b404'"
}

# ---- limits, before any handler ------------------------------------------------------
scenario_limits() {
	local code big hdrs=() i
	code=$(head -c 200000 /dev/zero | "${CURL[@]}" -o /dev/null -w '%{http_code}' \
		-X POST -H 'Expect: 100-continue' -H 'content-type: application/x-www-form-urlencoded' --data-binary @- "$URL/login")
	check "a 200 KB body is refused with 413 ($code)" eq "$code" 413
	big=$(head -c 20000 /dev/zero | tr '\0' a)
	code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$URL/healthz")
	check "a 20 KB header is refused with 431 ($code)" eq "$code" 431
	for i in $(seq 80); do hdrs+=(-H "X-H$i: v"); done
	code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "${hdrs[@]}" "$URL/healthz")
	check "80 header lines are refused with 431 ($code)" eq "$code" 431
	code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$URL/%2e%2e/%2e%2e/etc/passwd")
	check "a dot-dot path is not found ($code)" eq "$code" 404
	code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -X DELETE "$URL/healthz")
	check "a wrong method is 405 ($code)" eq "$code" 405
}

# The admin pages that change things, before any login: a page sends the
# browser to /login, a POST without a session changes nothing.
scenario_no_session() {
	local p code
	for p in /admin/schools /admin/schools/A1 /admin/publish /alerts/volume /alerts/volume.csv; do
		code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$URL$p")
		check "GET $p without a session redirects to the login ($code)" eq "$code" 303
	done
	for p in /admin/schools /admin/publish/rules /admin/publish/ioc; do
		code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -X POST \
			-H "Origin: $URL" --data 'code=X1&name=x&commune=y&level=1&expected_pcs=1&ioc=evil.example' "$URL$p")
		check "POST $p without a session changes nothing ($code)" eq "$code" 303
	done
	check "no bundle was signed by those POSTs" bash -c "! ls '$D'/bundles/*.ewb >/dev/null 2>&1"
	"${CURL[@]}" -D "$WORK/hvol" -o "$WORK/bvol" "$URL/api/v1/alerts/volume?days=0"
	check "the alert volume API without credentials is a 401 problem document" \
		bash -c "head -1 '$WORK/hvol' | grep -q ' 401' && grep -q '\"status\":401' '$WORK/bvol'"
}

# ---- web_console.py, scenario by scenario (see each there) -------------------
scenario_login_cookies() { console_py login_cookies; }
scenario_totp_login() { console_py totp_login; }
scenario_rbac() { console_py rbac; }
scenario_admin_schools() { console_py admin_schools; }
scenario_publish() { console_py publish; }
scenario_alert_volume() { console_py alert_volume; }
scenario_commune_scores() { console_py commune_scores; }
scenario_reports() { console_py reports; }
scenario_report_xlsx() { console_py report_xlsx; }
scenario_register_signoff() { console_py register_signoff; }
scenario_inert_output() { console_py inert_output; }
scenario_reads_off_lock() { console_py reads_off_lock; }
scenario_pc_page() { console_py pc_page; }
scenario_commune_page() { console_py commune_page; }
scenario_soc_feed() { console_py soc_feed; }
scenario_csrf() { console_py csrf; }
scenario_ack_resolve() { console_py ack_resolve; }
scenario_api_csv_lang() { console_py api_csv_lang; }
scenario_api_tokens() { console_py api_tokens; }
scenario_accounts() { console_py accounts; }
scenario_totp_enrol() { console_py totp_enrol; }
scenario_logout() { console_py logout; }
scenario_lockout() { console_py lockout; }
scenario_off_loop() { console_py off_loop; }

# ---- shutdown with a connection that never sends a request ----------------------------
# teardown, in the script's own shell (it started the collector, so it
# gets the exit status): after any scenario, alone or all.
teardown() {
	local start rc took
	exec 7<>"/dev/tcp/127.0.0.1/$WP"
	start=$(date +%s)
	rc=0
	collector_stop || rc=$?
	exec 7>&-
	took=$(($(date +%s) - start))
	check "the collector stops cleanly with an idle console connection open (rc $rc, ${took}s)" \
		test "$rc" -eq 0 -a "$took" -lt 15
	check "no sanitizer or assertion report in the log" \
		bash -c "! grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error|Assertion' '$LOG'"
	grep -m8 -E -A6 'ERROR: (Address|Leak)Sanitizer|runtime error' "$LOG" | sed 's/^/# /'
}

run_scenarios
