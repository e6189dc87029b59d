#!/bin/bash
# The automated chain of an incident drill (issue 19) over real agents,
# a real collector and two real HTTPS SOC receivers on loopback: the
# usb-worm injection on a stand-in volume, eduwatch's own detection of
# it (the agent's YARA engine with the published bundle), the drill
# alert, its delivery to every SOC destination, the verified cleanup,
# the detected and forwarded stages against what this script computes
# from the store, and the result per school. Hostile: an unsafe volume
# folder, a scenario file planted as a symlink, a campaign whose window
# was pushed far into the future, and a drill command delivered after
# its signed deadline (the agent refuses it).
# Scenarios run alone by name: make test ONLY=drill_chain:usb_worm
. "$(dirname "$0")/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
D="$WORK/collector"
P="$WORK/pki"
mkdir -p "$P"
C() { "$COLLECTOR" "$@" -c "$CONF"; }
q() { sqlite3 -cmd ".timeout 10000" -separator " " "$DB" "$1"; }

declare -A AID APID
enroll() { # enroll NAME SCHOOL
	local tok dir="$WORK/$1"
	mkdir -p "$dir"
	tok=$(C token create --school "$2" --uses 1 2>/dev/null)
	"$AGENT" enroll --collector "localhost:$INGEST_PORT" --enroll-port "$ENROLL_PORT" \
		--token "$tok" --ca "$D/ca.crt" --state-dir "$dir/state" -c "$dir/agent.yaml" \
		>"$dir/enroll.out" 2>&1
	AID[$1]=$(sed -n 's/^enrolled as agent \([^ ]*\) .*/\1/p' "$dir/enroll.out")
	sed -i '/^netsensor:/,$d' "$dir/agent.yaml"
	sed -i 's/interval: 60s/interval: 1s/; s/backoff_max: 5m/backoff_max: 2s/' "$dir/agent.yaml"
	cat >>"$dir/agent.yaml" <<YAML
netsensor:
  enabled: false
scan:
  full_paths: [$WORK/nothing]
  quick_paths: [$WORK/nothing]
  usb_mounts: [$WORK/nothing]
av:
  clamd_socket: $WORK/no-clamd.sock
  clamav_db: $WORK/no-db
  clamd_conf: $WORK/no-clamd.conf
  products_file: $RULES/av-products.txt
drill:
  folder: $dir/drillbox
  usb_folder: $dir/usb
  av_wait: 4s
YAML
}
run_agent() {
	"$AGENT" run -c "$WORK/$1/agent.yaml" >>"$WORK/$1/agent.log" 2>&1 &
	PIDS+=($!)
	APID[$1]=$!
}
ev() { C events list --agent "${AID[$1]}" --limit 300 --json | grep -q "$2"; }
R="$WORK/drills"
DB="$D/eduwatch.db"

setup() {
	soc_pki "$P"
	https_receiver SOC1 "$P/soc.crt" "$P/soc.key" "$WORK/soc1.log" tok-one 0 ||
		not_ok "SOC receiver one starts"
	https_receiver SOC2 "$P/soc.crt" "$P/soc.key" "$WORK/soc2.log" tok-two 0 ||
		not_ok "SOC receiver two starts"
	collector_init "$D" || { not_ok "collector init"; return 1; }
	{
		echo "forward:"
		https_forward_yaml soc-one "$SOC1" tok-one "$P/ca.crt"
		https_forward_yaml soc-two "$SOC2" tok-two "$P/ca.crt"
	} >>"$CONF"
	C school add S1 "Trường S1" --commune "Xã Diễn Tập" --level 2 --expected-pcs 2 >/dev/null
	C school add S2 "Trường S2" --commune "Xã Diễn Tập" --level 2 --expected-pcs 1 >/dev/null
	C school add S3 "Trường S3" --commune "Xã Khác" --level 2 --expected-pcs 1 >/dev/null
	C user add org drill_organiser >/dev/null
	C user add admin province_admin >/dev/null
	collector_start "$WORK/collector.log" || not_ok "collector start"

	for n in "a1 S1" "a2 S1" "b1 S2" "c1 S3"; do enroll $n; done
	check "four agents enrolled" eq "$(C agent list --json | grep -o '"id":' | wc -l)" 4
	# b1's stand-in volume is writable by everyone: the agent must refuse it.
	mkdir -p "$WORK/b1/usb" && chmod 0777 "$WORK/b1/usb"
	for n in a1 a2 b1 c1; do run_agent $n; done
	for n in a1 a2 b1 c1; do
		wait_for 40 grep -q "uplink: connected" "$WORK/$n/agent.log" || not_ok "agent $n connects"
	done
	pub=$(C rules publish)
	check "the rule bundle is published to the agents ($pub)" grep -q "for 4 agent" <<<"$pub"
	for n in a1 a2 b1; do
		check "$n installs the bundle" wait_for 60 ev $n '"kind":"rules.update".*"state":"installed"'
	done
	mkdir -p "$R"
	cp "$RULES/drills/"*.yaml "$R/"
}

# ---- hostile: scenario files and campaigns ----
scenario_hostile() {
	printf 'id: leak\n' >"$WORK/secret.yaml"
	ln -s "$WORK/secret.yaml" "$R/leak.yaml"
	r=$(C drill plan --name t0 --type leak --by org --school S1 --expires 5m --rules "$R" 2>&1)
	check "a scenario file planted as a symlink is refused, not read ($r)" grep -q "a symbolic link" <<<"$r"
	C drill plan --name far --type usb-worm --by org --school S1 --expires 10m >/dev/null
	C drill approve --name far --by admin >/dev/null
	q "UPDATE drill_campaigns SET window_end = window_end + 400 * 86400000000 WHERE name = 'far'"
	r=$(C drill start --name far 2>&1)
	check "a campaign whose window was pushed 400 days ahead does not start ($r)" \
		grep -q "more than 7 days ahead" <<<"$r"
	check "and queued nothing" eq "$(q "SELECT count(*) FROM drill_targets WHERE campaign = (SELECT id FROM drill_campaigns WHERE name = 'far')")" 0
	C drill abort --name far --by org >/dev/null

}

# ---- usb-worm over a commune: the chain, the scoreboard, the report ----
scenario_usb_worm() {
	# A real EICAR found on a1 before the drill: a real alert, which the
	# drill's finding of the same file must neither fold into nor hide.
	S="$WORK/samples"
	mkdir -p "$S"
	printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-' 'STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >"$S/eicar.com"
	C command send --agent "${AID[a1]}" --type scan --kind paths --path "$S" >/dev/null
	real_alert() { [ "$(q "SELECT count(*) FROM alerts WHERE drill = 0 AND rule = 'yara-match' AND agent = '${AID[a1]}'")" = 1 ]; }
	check "a1's real EICAR raises a real alert" wait_for 60 real_alert

	# ---- usb-worm over a commune ----
	C drill plan --name u1 --type usb-worm --by org --commune "Xã Diễn Tập" --expires 10m >/dev/null
	C drill approve --name u1 --by admin >/dev/null
	r=$(C drill start --name u1)
	check "the usb-worm campaign starts on the commune's 3 PCs ($r)" grep -q "started: 3 PCs get drill.usb-worm" <<<"$r"
	for n in a1 a2; do
		check "$n injects on its stand-in volume" wait_for 60 ev $n '"kind":"drill.injected"'
		check "$n's own scan finds the EICAR worm, flagged as a drill of the campaign" \
			wait_for 60 ev $n '"kind":"scan.match","sev":1,"drill":true.*usb/eduwatch-drill-[0-9]*.com.*EW_EICAR_Test_File.*"campaign_id"'
	done
	check "b1 refuses a volume folder others can write" \
		wait_for 60 ev b1 '"type":"drill.usb-worm","ok":false,"msg":"refused: drill folder'
	check "and wrote nothing there" test -z "$(ls -A "$WORK/b1/usb")"
	deliveries() { [ "$(q "SELECT count(*) FROM drill_deliveries")" -ge 8 ]; }
	check "each drill alert is confirmed by both SOC destinations" wait_for 60 deliveries
	check "the SOC sees the alerts tagged as a drill" grep -q '"tags":\["drill"\]' "$WORK/soc1.log"
	check "no real (non-drill) alert came from the drill's files" \
		eq "$(q "SELECT count(*) FROM alerts WHERE drill = 0 AND rule = 'yara-match'")" 1
	check "the real alert was not folded into by the drill's finding of the same file" \
		eq "$(q "SELECT count FROM alerts WHERE drill = 0 AND rule = 'yara-match'")" 1
	EICAR_SHA=$(sha256sum "$S/eicar.com" | cut -d' ' -f1)
	check "the drill's EICAR finding is an alert of its own, keyed by the campaign" \
		eq "$(q "SELECT count(*) FROM alerts WHERE drill = 1 AND agent = '${AID[a1]}' AND file_hash = '$EICAR_SHA' AND dedupe_key LIKE '%|drill:'||(SELECT id FROM drill_campaigns WHERE name='u1')")" 1
	for n in a1 a2; do
		check "$n cleans up and verifies it" wait_for 60 ev $n '"kind":"drill.cleaned_up".*"verified":true'
		check "$n's volume is empty after cleanup (autorun.inf included)" test -z "$(ls -A "$WORK/$n/usb")"
	done
	J=$(C drill status --name u1 --json)
	$PY - "$J" "$DB" "${AID[b1]}" <<'PYEOF' >"$WORK/chain.check"
import json, sqlite3, sys
j = json.loads(sys.argv[1])
db = sqlite3.connect(sys.argv[2])
camp = "(SELECT id FROM drill_campaigns WHERE name='u1')"
rows = db.execute(f"""SELECT t.agent, t.school, c.issued,
  (SELECT min(e.received) FROM events e WHERE e.agent = t.agent AND e.drill = 1
   AND e.kind NOT LIKE 'drill.%' AND e.received >= c.issued),
  (SELECT a.id FROM alerts a WHERE a.agent = t.agent AND a.drill = 1
   AND a.first >= c.issued ORDER BY a.first LIMIT 1),
  (SELECT min(ts) FROM events e WHERE e.agent = t.agent AND e.kind = 'drill.injected'
   AND e.ts >= c.issued - 1000000),
  (SELECT e.body FROM events e WHERE e.agent = t.agent AND e.kind = 'drill.cleaned_up'
   AND e.ts >= c.issued - 1000000 ORDER BY e.ts LIMIT 1)
  FROM drill_targets t JOIN commands c ON c.id = t.command WHERE t.campaign = {camp}""").fetchall()
want_fwd, want_det, complete = {}, {}, {}
for agent, school, issued, det, alert, inj, clean in rows:
    fwd = None
    if alert:
        ds = [r[0] for r in db.execute("SELECT at FROM drill_deliveries WHERE alert=?", (alert,))]
        left = db.execute("SELECT count(*) FROM forward_queue WHERE alert=?", (alert,)).fetchone()[0]
        fwd = max(ds) if ds and not left else None
    want_det[agent], want_fwd[agent] = det, fwd
    complete[agent] = bool(inj and det and alert and fwd and clean)
def ms(us, issued):
    return max(0, (us - issued) // 1000)
def stage(agents, want):
    d = sorted(ms(want[a], i) for a, s, i, *_ in rows if a in agents and want[a])
    n = lambda q: d[max(0, -(-q * len(d) // 100) - 1)] if d else -1
    return dict(reached=len(d), median=n(50), p90=n(90))
exp = {}
for scope in ["province", "school:S1", "school:S2"]:
    ag = [r[0] for r in rows if scope == "province" or "school:" + r[1] == scope]
    k = sum(1 for a in ag if complete[a])
    exp[scope] = dict(detected=stage(ag, want_det), forwarded=stage(ag, want_fwd), complete=k,
                      result="none" if not ag else "passed" if k == len(ag) else "partial" if k else "failed")
got = {}
for b in j["scoreboard"]:
    g = {k: dict(reached=b["stages"][k]["reached"], median=b["stages"][k]["median_ms"],
                 p90=b["stages"][k]["p90_ms"]) for k in ("detected", "forwarded")}
    g.update(complete=b["complete"], result=b["result"])
    got[b["scope"]] = g
print("board", "ok" if got == exp else "differs: got %r want %r" % (got, exp))
print("results", " ".join("%s=%s" % (k, got[k]["result"]) for k in sorted(got)))
ts = {t["agent"]: t for t in j["targets"]}
ok = all(ts[a]["timeline"]["detected"] and ts[a]["timeline"]["forwarded"] and ts[a]["forwarded_to"] == 2
         for a in ts if a != sys.argv[3])
print("timeline", "ok" if ok else "incomplete: %r" % j["targets"])
print("refused", "ok" if ts[sys.argv[3]]["timeline"]["detected"] is None else "differs")
PYEOF
	check "detected and forwarded per PC and per school equal the store's figures ($(head -1 "$WORK/chain.check"))" \
		grep -q "^board ok" "$WORK/chain.check"
	check "the result per school: S1 passed, S2 failed, the province partial ($(sed -n 2p "$WORK/chain.check"))" \
		grep -q "^results province=partial school:S1=passed school:S2=failed" "$WORK/chain.check"
	check "each PC that took part has detected and forwarded (to both SOCs) in its timeline" \
		grep -q "^timeline ok" "$WORK/chain.check"
	check "the PC that refused has no detected stage" grep -q "^refused ok" "$WORK/chain.check"
	T=$(C drill status --name u1)
	check "text status shows the stages and the results" \
		grep -Pzq "detected +20(.|\n)*forwarded +20(.|\n)*school:S1 +targets 2, took part 2, result passed(.|\n)*school:S2 +targets 1, took part 1, result failed" <<<"$T"

	# ---- the drill section of the six-monthly report ----
	month=$(date -u +%-m); year=$(date -u +%Y)
	if [ "$month" -eq 12 ]; then period="$((year + 1))-H1"; elif [ "$month" -le 5 ]; then period="$year-H1"; else period="$year"; fi
	C report export --period "$period" --scope "commune:Xã Diễn Tập" --format json --out "$WORK/report.json" >/dev/null 2>"$WORK/report.err"
	check "the report of the commune is exported ($(head -c 200 "$WORK/report.err"))" test -s "$WORK/report.json"
	$PY - "$WORK/report.json" "$J" <<'PYEOF' >"$WORK/report.check"
import json, sys
m = json.load(open(sys.argv[1]))
j = json.loads(sys.argv[2])
sec = [s for s in m["sections"] if s["key"] == "drills"][0]
fig = {f["key"]: f["value"] for f in sec["figures"]}
rows = {r[0]: r for t in sec["tables"] if t["key"] == "drills" for r in t["rows"]}
prov = [b for b in j["scoreboard"] if b["scope"] == "province"][0]
part, det, passed = prov["took_part"], prov["stages"]["detected"]["reached"], prov["complete"]
u1 = rows.get("u1")
ok = (fig["drill.held"] == 1 and fig["drill.pcs"] == part and
      abs(fig["drill.detection_rate"] - round(10000 * det / part) / 100) < 0.011 and
      abs(fig["drill.pass_rate"] - round(10000 * passed / part) / 100) < 0.011 and
      u1 is not None and u1[1] == "usb-worm" and u1[3] == part and u1[4] == det
      and u1[6] == passed and u1[7] == prov["result"] and "far" not in rows)
print("report", "ok" if ok else "differs: %r %r" % (fig, rows))
PYEOF
	check "the report's drill section equals the campaign's scoreboard ($(cat "$WORK/report.check" | head -c 300))" \
		grep -q "^report ok" "$WORK/report.check"

}

# ---- a drill command delivered after its signed deadline ----
scenario_deadline() {
	C drill plan --name late --type malware-drop --by org --school S3 --expires 6s >/dev/null
	C drill approve --name late --by admin >/dev/null
	kill -9 "${APID[c1]}"
	wait "${APID[c1]}" 2>/dev/null
	r=$(C drill start --name late)
	check "the short campaign starts while c1 is off ($r)" grep -q "started: 1 PCs" <<<"$r"
	closed() { [ "$(q "SELECT count(*) FROM drill_campaigns WHERE name='late' AND window_end < CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER) - 1000000")" = 1 ]; }
	check "the window closes" wait_for 30 closed
	# A relay that ignores deadlines: the queue's own expiry is pushed out,
	# so the collector still sends the frame; its signed deadline is past.
	q "UPDATE commands SET expires = expires + 3600000000 WHERE type = 'drill.malware-drop' AND agent = '${AID[c1]}'"
	run_agent c1
	check "c1 refuses the drill command past its signed deadline" \
		wait_for 60 ev c1 '"type":"drill.malware-drop","ok":false,"msg":"command [0-9]*: expired'
	check "and wrote nothing in its drill folder" test -z "$(ls -A "$WORK/c1/drillbox" 2>/dev/null)"
	check "its timeline has no injection" \
		grep -q '"status":"queued".*"injected":null' <(C drill status --name late --json)
}

teardown() { collector_stop; }

run_scenarios
