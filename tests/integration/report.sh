#!/bin/bash
# Six-monthly and annual reports and the register of information systems
# (issue 18), with the real binary on a real store:
#  - the register: system add|set|list|import; hostile CSVs (broken quoting,
#    invalid UTF-8, control characters, oversize names, far-future dates,
#    wrong column counts) are refused whole, naming the line; a school's
#    policy level follows its highest approved system; a level without a
#    policy file is reported, never scored;
#  - a seeded province with a year of history and known answers: every
#    figure of the model equals the one reportcheck.py computes on its own
#    from the database, for the province, a commune and a school, with the
#    missing days named;
#  - the PDF: pdftotext finds the national motto, the Vietnamese text with
#    its diacritics and the numbers; pdffonts shows every font embedded;
#    tables repeat their header on the next page; pdftoppm renders every
#    page to PNG under the build dir (report-artifacts/);
#  - XLSX read by openpyxl, CSV by Python's csv module, equal to the model;
#  - sign-off: verify passes, one byte changed fails, a re-sign is refused,
#    the database refuses to change a signed row, a correction is a new
#    version naming the old one.
# Scenarios run alone by name: make test ONLY=report:pdf
. "$(dirname "$0")/lib.bash"
# Under ASan: fontconfig's patterns held by pango's and cairo's font
# caches until exit are theirs, not ours (see the file).
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/lsan-fontconfig.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
HERE="$(cd "$(dirname "$0")" && pwd)"
D="$WORK/collector"
ART="$(cd "$EW_BIN/.." && pwd)/report-artifacts"
DB="$D/eduwatch.db"
H='unit,name,kind,level,dossier,authority,decision_no,decision_date,review_due,hosts'

# setup: a store with policies but no level5.yaml (a level-5 school then
# has no policy), a SOC destination, and the seeded province with a year
# of history and known answers that every scenario reads. The seed's
# systems of S0002 are removed, as the level scenario does before and
# after it runs, so the figures see the same register alone or in order.
setup() {
	mkdir -p "$ART"
	rm -f "$ART"/*.png
	cp -r "$RULES" "$WORK/rules"
	rm -f "$WORK/rules/policies/level5.yaml"
	RULES="$WORK/rules"
	collector_init "$D" || return 1
	cat >>"$CONF" <<YAML
forward:
  - name: soc-a
    type: syslog
    address: 127.0.0.1:9
    tls: false
YAML
	C=(-c "$CONF")
	"$COLLECTOR" school list "${C[@]}" >/dev/null || return 1 # creates the schema
	$PY "$HERE/reportcheck.py" seed "$DB" 120 >/dev/null || return 1
	sqlite3 "$DB" "DELETE FROM systems WHERE unit='S0002'"
}

systems_count() { sqlite3 "$DB" 'SELECT count(*) FROM systems'; }
# refused_csv WANT FILE: exit 2, stderr has WANT, nothing stored (the
# register holds as many systems as before).
refused_csv() {
	local before rc
	before=$(systems_count)
	timeout 30 "$COLLECTOR" system import "$2" "${C[@]}" >/dev/null 2>"$WORK/err"
	rc=$?
	[ $rc -eq 2 ] || { echo "# exit $rc: $(cat "$WORK/err")" >&2; return 1; }
	grep -qF -- "$1" "$WORK/err" || { echo "# stderr: $(cat "$WORK/err")" >&2; return 1; }
	grep -qF "nothing was imported" "$WORK/err" || return 1
	eq "$(systems_count)" "$before"
}
refused_cli() { # refused_cli WANT ARGS...: exit 2 with WANT
	local want=$1 rc; shift
	timeout 30 "$COLLECTOR" "$@" >/dev/null 2>"$WORK/err"
	rc=$?
	[ $rc -eq 2 ] || { echo "# exit $rc: $(cat "$WORK/err")" >&2; return 1; }
	grep -qF -- "$want" "$WORK/err" || { echo "# stderr: $(cat "$WORK/err")" >&2; return 1; }
}
# province_model: the 2026 province report as JSON, exported once per
# run ($WORK/province.json), the model the PDF, XLSX and CSV must equal.
province_model() {
	[ -s "$WORK/province.json" ] ||
		"$COLLECTOR" report export --period 2026 --scope province --format json \
			--out "$WORK/province.json" "${C[@]}" >/dev/null
}

# ---- the register: hostile CSVs first -----------------------------------
scenario_register_hostile() {
	printf '%s\nS1,"LAN,kind,1,drafted,,,,,\n' "$H" >"$WORK/quote.csv"
	check "a quoted field never closed is refused with its line" refused_csv "line 2: a quoted field is never closed" "$WORK/quote.csv"
	printf '%s\nS1,LAN "a",lan,1,drafted,,,,,\n' "$H" >"$WORK/q2.csv"
	check "a quote inside an unquoted field is refused" refused_csv "line 2: a quote inside unquoted column 2" "$WORK/q2.csv"
	printf '%s\nS1,ok,lan,1,drafted,,,,,\nS1,"a"b,lan,1,drafted,,,,,\n' "$H" >"$WORK/q3.csv"
	check "text after a closing quote is refused (and the good row before it is not stored)" refused_csv "line 3: text after the closing quote" "$WORK/q3.csv"
	printf '%s\nS1,M\xe1ng,lan,1,drafted,,,,,\n' "$H" >"$WORK/utf8.csv"
	check "a name with invalid UTF-8 is refused" refused_csv "line 2, column name: name is not valid UTF-8" "$WORK/utf8.csv"
	printf '%s\nS1,LAN\033[2J,lan,1,drafted,,,,,\n' "$H" >"$WORK/ctl.csv"
	check "a name with control characters is refused" refused_csv "line 2, column name: name is not valid UTF-8 text" "$WORK/ctl.csv"
	printf '%s\nS1,%s,lan,1,drafted,,,,,\n' "$H" "$(head -c 300 /dev/zero | tr '\0' x)" >"$WORK/long.csv"
	check "a 300-byte name is refused" refused_csv "line 2, column name: name is 300 bytes; at most 200" "$WORK/long.csv"
	printf '%s\nS1,LAN,lan,1,drafted,,,,2999-01-01,\n' "$H" >"$WORK/future.csv"
	check "a far-future review date is refused" refused_csv "line 2, column review_due: review_due must be a date YYYY-MM-DD between 2000 and 2099" "$WORK/future.csv"
	printf '%s\nS1,LAN,lan,1,drafted\n' "$H" >"$WORK/cols.csv"
	check "a row with too few columns is refused" refused_csv "line 2: 5 columns, the header has 10" "$WORK/cols.csv"
	printf '%s\nS1,LAN,lan,4,approved,,,,,\n' "$H" >"$WORK/appr.csv"
	check "an approved dossier without its decision is refused" refused_csv "an approved dossier needs its authority" "$WORK/appr.csv"
	printf 'unit,name,kind,level,colour\n' >"$WORK/hdr.csv"
	check "an unknown header column is refused" refused_csv "header column 'colour' is unknown" "$WORK/hdr.csv"
	check "system add refuses a level 6" refused_cli "--level must be 1..5" system add S1 LAN --kind lan --level 6 "${C[@]}"
	check "system add refuses a name with an escape sequence" refused_cli "name is not valid UTF-8 text" system add S1 $'LAN\e[2J' --kind lan --level 1 "${C[@]}"
	check "system set refuses an unknown column" refused_cli "is not COLUMN=VALUE" system set 1 --set colour=red "${C[@]}"
}

# ---- the register of a province ------------------------------------------------
# A 1,500-system register from CSV (the first load of a province).
scenario_register_import() {
	local out
	$PY - "$WORK/big.csv" <<'PYEOF'
import csv, sys
w = csv.writer(open(sys.argv[1], "w", newline=""))
w.writerow(["unit", "name", "kind", "level", "dossier", "authority",
            "decision_no", "decision_date", "review_due", "hosts"])
for i in range(1500):
    w.writerow(["T%04d" % i, 'Mạng LAN "trường", số %d' % i, "lan", 1 + i % 3,
                "submitted", "", "", "", "2027-06-30", "pc1,pc2"])
PYEOF
	out=$("$COLLECTOR" system import "$WORK/big.csv" "${C[@]}" 2>&1)
	check "a 1,500-row register imports" eq "$out" "imported 1500 systems"
	check "quotes and commas inside names survive the import" \
		eq "$(sqlite3 "$DB" "SELECT name FROM systems WHERE unit='T0007'")" 'Mạng LAN "trường", số 7'
	sqlite3 "$DB" "DELETE FROM systems WHERE unit LIKE 'T%'"
}

scenario_register_level() {
	local out id today
	sqlite3 "$DB" "DELETE FROM systems WHERE unit='S0002'"
	out=$("$COLLECTOR" system add S0002 "Phần mềm quản lý trường học" --kind app --level 4 \
		--set dossier=approved --set authority="Sở Thông tin và Truyền thông" \
		--set decision_no=15/QĐ-STTTT --set decision_date=2026-05-20 "${C[@]}")
	check "an approved level-4 system makes its school level 4" \
		eq "$(sqlite3 "$DB" "SELECT level FROM schools WHERE code='S0002'")" 4
	id=$(echo "$out" | sed -n 's/^system \([0-9]*\)$/\1/p')
	"$COLLECTOR" system set "$id" --set dossier=submitted "${C[@]}" >/dev/null
	"$COLLECTOR" system add S0002 "Camera" --kind camera --level 2 --set dossier=approved \
		--set authority=Sở --set decision_no=1 --set decision_date=2026-01-02 "${C[@]}" >/dev/null
	check "the level follows the highest approved system (4 withdrawn, 2 approved)" \
		eq "$(sqlite3 "$DB" "SELECT level FROM schools WHERE code='S0002'")" 2
	"$COLLECTOR" system set "$id" --set dossier=approved "${C[@]}" >/dev/null
	check "system list --json shows the register" \
		eval "'$COLLECTOR' system list --school S0002 --json ${C[*]} | $PY -c 'import json,sys; l=json.load(sys.stdin); assert len(l)==2 and l[1][\"level\"]==4, l'"
	"$COLLECTOR" score --snapshot "${C[@]}" >/dev/null
	today=$(date -u +%F)
	check "a level-4 school is scored with level 3 plus level4.yaml" \
		eq "$(sqlite3 "$DB" "SELECT level, no_policy FROM day_school WHERE school='S0002' AND day='$today'")" "4|0"
	check "a level-5 school without level5.yaml is reported, not scored" \
		eq "$(sqlite3 "$DB" "SELECT level, no_policy, score FROM day_school WHERE school='S0001' AND day='$today'")" "5|1|0.0"
	sqlite3 "$DB" "DELETE FROM day_school WHERE day='$today'; DELETE FROM day_host WHERE day='$today'"
	sqlite3 "$DB" "DELETE FROM systems WHERE unit='S0002'"
}

# ---- every figure against the independent computation ---------------------
scenario_figures() {
	local scope
	for scope in province "commune:Xã Hòa Bình" school:S0004; do
		"$COLLECTOR" report export --period 2026 --scope "$scope" --format json \
			--out "$WORK/model.json" "${C[@]}" >/dev/null
		check "every figure of the 2026 report for $scope equals the independent computation" \
			$PY "$HERE/reportcheck.py" compare "$DB" "$WORK/model.json" 2025-12-01 2026-11-30 "$scope" soc-a
	done
	"$COLLECTOR" report export --period 2026-H1 --scope province --format json \
		--out "$WORK/h1.json" "${C[@]}" >/dev/null
	check "every figure of the six-monthly report (1 Dec-31 May) equals the independent computation" \
		$PY "$HERE/reportcheck.py" compare "$DB" "$WORK/h1.json" 2025-12-01 2026-05-31 province soc-a
	check "the report names its missing days" \
		eval "'$COLLECTOR' report show --period 2026 --scope province ${C[*]} | grep -qF 'missing days (4): 2026-02-10..2026-02-12, 2026-07-04'"
}

# ---- PDF -----------------------------------------------------------------------
pdf_numbers() {
	$PY - "$WORK/province.json" "$WORK/r.txt" <<'PYEOF'
import json, re, sys
m = json.load(open(sys.argv[1])); text = re.sub(r"\s+", " ", open(sys.argv[2]).read())
bad = 0
for s in m["sections"]:
    for f in s["figures"]:
        v = f["value"]
        want = ("không có số liệu" if v is None else
                ("%d" % v if v == int(v) else ("%.2f" % v).replace(".", ",")))
        if "%s: %s" % (f["label_vi"], want) not in text:
            print("# missing in the PDF: %s: %s" % (f["label_vi"], want)); bad += 1
sys.exit(bad)
PYEOF
}

scenario_pdf() {
	local pages repeated p
	"$COLLECTOR" report export --period 2026 --scope province --format pdf --out "$WORK/r.pdf" "${C[@]}" >/dev/null
	province_model
	pdftotext -layout "$WORK/r.pdf" "$WORK/r.txt"
	check "the PDF has the national motto" grep -qF "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" "$WORK/r.txt"
	check "the PDF has 'Độc lập - Tự do - Hạnh phúc' with its diacritics" grep -qF "Độc lập - Tự do - Hạnh phúc" "$WORK/r.txt"
	check "the PDF has the title and the issuing unit" \
		eval "grep -qF 'BÁO CÁO' '$WORK/r.txt' && grep -qF 'SỞ GIÁO DỤC VÀ ĐÀO TẠO' '$WORK/r.txt'"
	check "the PDF has the section headings in Vietnamese" grep -qF "Phân loại hệ thống thông tin theo cấp độ" "$WORK/r.txt"
	check "the PDF prints the period in dd/mm/yyyy (Vietnamese administrative format)" \
		grep -qF "(từ ngày 01/12/2025 đến ngày 30/11/2026)" "$WORK/r.txt"
	check "the PDF prints its missing days in dd/mm/yyyy" \
		grep -qF "10/02/2026..12/02/2026, 04/07/2026" "$WORK/r.txt"
	check "no ISO date is left in the PDF's text" \
		eval "! grep -Eq '(^|[^0-9A-Za-z])20[0-9]{2}-[01][0-9]-[0-3][0-9]([^0-9A-Za-z]|$)' '$WORK/r.txt'"
	check "every figure is in the PDF with its Vietnamese label and value" pdf_numbers
	check "pdffonts: every font is embedded, all Liberation Serif" \
		eval "pdffonts '$WORK/r.pdf' | tail -n +3 | awk '{ if (\$0 !~ /LiberationSerif/ || \$(NF-4) != \"yes\") bad=1 } END { exit bad || NR == 0 }'"
	pages=$(pdfinfo "$WORK/r.pdf" | awk '/^Pages:/ {print $2}')
	repeated=0
	for ((p = 2; p <= pages; p++)); do
		pdftotext -f $p -l $p -layout "$WORK/r.pdf" - | grep -Eq "Xã/phường +Trường +Tên trường +Số máy" && repeated=$((repeated + 1))
	done
	check "the 120-school table repeats its header on following pages ($repeated pages)" test "$repeated" -ge 2
	pdftoppm -r 50 -png "$WORK/r.pdf" "$ART/province-2026"
	check "pdftoppm renders every page to PNG ($pages pages) in $ART" \
		test "$(ls "$ART"/province-2026-*.png | wc -l)" -eq "$pages"
}

# ---- XLSX and CSV ------------------------------------------------------------------
csv_same() {
	$PY - "$WORK/province.json" "$WORK/r.csv" <<'PYEOF'
import csv, json, sys
m = json.load(open(sys.argv[1]))
rows = list(csv.reader(open(sys.argv[2], newline="")))
fig = {r[2]: r[4] for r in rows if r and r[0] == "figures"}
bad = 0
for s in m["sections"]:
    for f in s["figures"]:
        got = fig.get(f["key"])
        if (f["value"] is None and got != "") or (f["value"] is not None and float(got) != f["value"]):
            print("# %s: csv %r model %r" % (f["key"], got, f["value"])); bad += 1
n = sum(1 for r in rows if r and r[0] == "av_by_school")
if n != 120: print("# av_by_school rows %d" % n); bad += 1
sys.exit(bad)
PYEOF
}

scenario_xlsx_csv() {
	province_model
	"$COLLECTOR" report export --period 2026 --scope province --format xlsx --out "$WORK/r.xlsx" "${C[@]}" >/dev/null
	check "openpyxl reads the XLSX: a sheet per section, numbers equal the model" \
		$PY "$HERE/reportcheck.py" xlsx "$WORK/province.json" "$WORK/r.xlsx"
	"$COLLECTOR" report export --period 2026 --scope province --format csv --out "$WORK/r.csv" "${C[@]}" >/dev/null
	check "the CSV parses and its figures and tables equal the model" csv_same
}

# ---- sign-off -------------------------------------------------------------------------
scenario_signoff() {
	local PDF
	"$COLLECTOR" report draft --period 2026 --scope school:S0004 --set "remarks=Nhà trường đã khắc phục các máy chưa cập nhật." "${C[@]}" >/dev/null
	check "report list shows the draft" \
		eval "'$COLLECTOR' report list --json ${C[*]} | $PY -c 'import json,sys; l=json.load(sys.stdin); assert l[0][\"state\"]==\"draft\" and l[0][\"version\"]==1, l'"
	"$COLLECTOR" report sign --period 2026 --scope school:S0004 --by "Nguyễn Văn An" "${C[@]}" >"$WORK/sign.out" 2>"$WORK/sign.err"
	PDF=$(sed -n 2p "$WORK/sign.out")
	check "sign archives the PDF with its SHA-256 in the state dir" \
		eval "[ -f '$PDF' ] && [ -f '$PDF.sig' ] && grep -q \"sha256 \$(sha256sum '$PDF' | cut -c1-64)\" '$WORK/sign.out'"
	check "the signed PDF has the officer's remarks and its number" \
		eval "pdftotext '$PDF' - | tr '\n' ' ' | grep -qF 'Nhà trường đã khắc phục' && pdftotext '$PDF' - | grep -q 'Số: [0-9]*/BC-ATTT'"
	check "report verify accepts the archived PDF" "$COLLECTOR" report verify "$PDF" "${C[@]}"
	cp "$PDF" "$WORK/tampered.pdf"
	cp "$PDF.sig" "$WORK/tampered.pdf.sig"
	printf 'X' | dd of="$WORK/tampered.pdf" bs=1 seek=2000 conv=notrunc 2>/dev/null
	check "one byte changed fails verify" \
		eval "! '$COLLECTOR' report verify '$WORK/tampered.pdf' ${C[*]} 2>'$WORK/err' && grep -q 'NOT VERIFIED.*the file was changed' '$WORK/err'"
	cp "$PDF" "$WORK/resig.pdf"
	sed 's/^version: 1$/version: 9/' "$PDF.sig" >"$WORK/resig.pdf.sig"
	check "a signature file edited to another version fails verify" \
		eval "! '$COLLECTOR' report verify '$WORK/resig.pdf' ${C[*]} 2>/dev/null"
	check "signing a signed period again is refused" \
		eval "! '$COLLECTOR' report sign --period 2026 --scope school:S0004 --by x ${C[*]} 2>'$WORK/err' && grep -q 'signed already and cannot be signed again' '$WORK/err'"
	check "the database refuses to change a signed report" \
		eval "! sqlite3 '$DB' \"UPDATE reports SET model='{}' WHERE state='signed'\" 2>/dev/null"
	"$COLLECTOR" report draft --period 2026 --scope school:S0004 "${C[@]}" >/dev/null
	check "a correction is a new version naming the signed one" \
		eq "$(sqlite3 "$DB" "SELECT version, state, supersedes = (SELECT id FROM reports WHERE state='signed') FROM reports WHERE version=2")" "2|draft|1"
}

# ---- serve drafts before the deadline and reminds after it -------------------
# This year's annual report made due today (collector.yaml), with a day of
# history in it: serve drafts it and raises the overdue reminder.
scenario_serve_deadline() {
	local yesterday year old kept seeded d
	if [ "$(date -u +%m-%d)" = 01-01 ]; then
		ok "# SKIP serve deadline test on 1 January"
		return
	fi
	yesterday=$(date -u -d yesterday +%F)
	sqlite3 "$DB" "INSERT OR REPLACE INTO day_school VALUES('$yesterday','S0004','Phường Đông Hải',2,0,10,8,7,6,5,4,77.5)"
	cat >>"$CONF" <<YAML
report:
  annual: "01-01..$(date -u -d yesterday +%m-%d) due $(date -u +%m-%d)"
  draft_days_before: 5
YAML
	year=$(date -u +%Y)
	sqlite3 "$DB" "DELETE FROM reports WHERE period='$year' AND state='draft'"
	# Retention runs only on a store whose newest score snapshot is
	# recent (an old one means a wrong clock): register_level's snapshot
	# of today, made here as it makes it when run alone.
	if [ -z "$(sqlite3 "$DB" "SELECT 1 FROM score_snapshots WHERE day='$(date -u +%F)' LIMIT 1")" ]; then
		"$COLLECTOR" score --snapshot "${C[@]}" >/dev/null
		sqlite3 "$DB" "DELETE FROM day_school WHERE day='$(date -u +%F)'; DELETE FROM day_host WHERE day='$(date -u +%F)'"
	fi
	# Snapshot retention (1,200 days here): the daily job removes the
	# day 1,201 days back from every snapshot table and keeps day 1,200
	# and the seeded year; event retention never touches them (test_store).
	old=$(date -u -d '1201 days ago' +%F) kept=$(date -u -d '1200 days ago' +%F)
	seeded=$(sqlite3 "$DB" "SELECT count(*) FROM day_school WHERE day < '$yesterday'")
	for d in "$old" "$kept"; do
		sqlite3 "$DB" "INSERT INTO day_school VALUES('$d','S0004','Phường Đông Hải',2,0,10,8,7,6,5,4,70);
			INSERT INTO day_host VALUES('$d','S0004-h0','S0004',50,1,1,1,1,'');
			INSERT INTO score_snapshots VALUES('$d','province','',70,10)"
	done
	collector_set store.snapshot_retention_days=1200
	collector_start "$WORK/collector.log" || not_ok "collector start"
	check "serve drafts the province's report before its deadline" \
		wait_for 60 grep -Eq "reports: [0-9]+ drafted before their deadline, 1 overdue reminder" "$WORK/collector.log"
	check "the daily job prunes snapshots older than store.snapshot_retention_days" \
		grep -qF "snapshot retention: 3 rows older than 1200 days removed" "$WORK/collector.log"
	check "no snapshot table keeps the day past retention" \
		eq "$(sqlite3 "$DB" "SELECT (SELECT count(*) FROM day_school WHERE day='$old') + (SELECT count(*) FROM day_host WHERE day='$old') + (SELECT count(*) FROM score_snapshots WHERE day='$old')")" 0
	check "the day at the retention's edge and the seeded year are kept" \
		eq "$(sqlite3 "$DB" "SELECT (SELECT count(*) FROM day_school WHERE day='$kept') + (SELECT count(*) FROM day_host WHERE day='$kept') + (SELECT count(*) FROM score_snapshots WHERE day='$kept'), (SELECT count(*) FROM day_school WHERE day < '$yesterday') - $seeded")" "3|1"
	check "the draft is stored for the province" \
		eq "$(sqlite3 "$DB" "SELECT state, version FROM reports WHERE period='$year' AND scope='province'")" "draft|1"
	check "an unsigned report past its deadline raises a reminder alert" \
		eval "'$COLLECTOR' alerts list --limit 100000 --json ${C[*]} | $PY -c 'import json,sys; l=json.load(sys.stdin); assert any(a[\"rule\"]==\"report-overdue\" for a in l), len(l)'"
	collector_stop
}

# ---- hostile command lines ----------------------------------------------------------------
# refused_serve WANT ARGS...: serve refuses its settings (exit 3) with WANT.
refused_serve() {
	local want=$1 rc; shift
	timeout 30 "$COLLECTOR" serve "$@" >/dev/null 2>"$WORK/err"
	rc=$?
	[ $rc -eq 3 ] || { echo "# exit $rc: $(cat "$WORK/err")" >&2; return 1; }
	grep -qF -- "$want" "$WORK/err" || { echo "# stderr: $(cat "$WORK/err")" >&2; return 1; }
}

scenario_hostile_cli() {
	check "a snapshot retention under 3 years is refused (exit 3), naming the legal minimum" \
		refused_serve "key 'store.snapshot_retention_days' is 1095 days; the legal minimum is 1096 days" \
		"${C[@]}" -o store.snapshot_retention_days=1095
	check "a far-future period is refused" refused_cli "period must be YYYY-H1" report show --period 2999 --scope province "${C[@]}"
	check "a period 2026-H3 is refused" refused_cli "period must be YYYY-H1" report show --period 2026-H3 --scope province "${C[@]}"
	check "a scope with control characters is refused" refused_cli "without control characters" report show --period 2026 --scope $'commune:\e[2J' "${C[@]}"
	check "remarks with control characters are refused" refused_cli "remarks must be UTF-8 text" report draft --period 2026 --scope province --set $'remarks=a\x07' "${C[@]}"
	check_status "an unknown school is exit 4" 4 "$COLLECTOR" report show --period 2026 --scope school:NOPE "${C[@]}"
}

run_scenarios
