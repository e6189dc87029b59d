#!/bin/bash
# make bench: our code and its peer on the same input, in the same run,
# on the same disk; prints the ratios. Never a pass/fail on time.
# Rows to copy into docs/BENCHMARKS.md are printed at the end.
set -u
cd "$(dirname "$0")/../.."
BIN=build/release/bin
BENCH=build/release/bench
OUT=$PWD/build/bench-run
AGENTS=${BENCH_AGENTS:-5000}
EVENTS=${BENCH_EVENTS:-100}
rm -rf "$OUT"
mkdir -p "$OUT"
rows=()
. tests/integration/lib.bash
WORK=$OUT/work
mkdir -p "$WORK"

# Each section is a function; BENCH_ONLY="net" (say) runs just that one.
bench_ingest() {
echo "== ingest: collector with $AGENTS simulated agents over TLS vs the raw SQLite ceiling"
collector_init "$OUT/collector"
sed -i 's/max_events_per_second: 1000/max_events_per_second: 100000/' "$CONF"
collector_start "$OUT/collector.log" || { echo "collector did not start"; exit 1; }
"$COLLECTOR" school add 79001 "Bench school" --commune bench --level 2 \
	--expected-pcs "$AGENTS" -c "$CONF" >/dev/null
TOKEN=$("$COLLECTOR" token create --school 79001 --uses "$AGENTS" -c "$CONF" 2>/dev/null)
start=$(date +%s.%N)
"$LOADGEN" --port "$INGEST_PORT" --enroll-port "$ENROLL_PORT" --ca "$OUT/collector/ca.crt" \
	--token "$TOKEN" --state "$OUT/agents" --agents "$AGENTS" --enroll-only >/dev/null || exit 1
echo "enrolled $AGENTS agents in $(echo "$(date +%s.%N) - $start" | bc) s"
ours=$("$LOADGEN" --port "$INGEST_PORT" --enroll-port "$ENROLL_PORT" --ca "$OUT/collector/ca.crt" \
	--state "$OUT/agents" --agents "$AGENTS" --events "$EVENTS" --batch 50 --window 2 --barrier --json)
echo "ours:    $ours"
collector_stop
stored=$("$COLLECTOR" events count -c "$CONF")
peer=$("$BENCH/sqlite_ceiling" --db "$OUT/ceiling.db" --agents "$AGENTS" --events "$EVENTS" \
	--sync full --cache-mb 64 --batch 1000)
echo "ceiling: $peer"
ours_rate=$(grep -o '"events_per_sec":[0-9]*' <<<"$ours" | cut -d: -f2)
p50=$(grep -o '"p50_ms":[0-9.]*' <<<"$ours" | cut -d: -f2)
p99=$(grep -o '"p99_ms":[0-9.]*' <<<"$ours" | cut -d: -f2)
connect=$(grep -o '"connect_seconds":[0-9.]*' <<<"$ours" | cut -d: -f2)
peer_rate=$(grep -o 'rows_per_sec=[0-9]*' <<<"$peer" | cut -d= -f2)
ratio=$(printf '%.2f' "$(echo "scale=4; $ours_rate / $peer_rate" | bc)")
# The collector commits up to store.batch_max_events (5,000) per
# transaction; the same batch size for the ceiling is the fairer peer.
peer5=$("$BENCH/sqlite_ceiling" --db "$OUT/ceiling5.db" --agents "$AGENTS" --events "$EVENTS" \
	--sync full --cache-mb 64 --batch 5000)
echo "ceiling, batches of 5000: $peer5"
peer5_rate=$(grep -o 'rows_per_sec=[0-9]*' <<<"$peer5" | cut -d= -f2)
ratio5=$(printf '%.2f' "$(echo "scale=4; $ours_rate / $peer5_rate" | bc)")
echo "stored $stored events (expected $((AGENTS * EVENTS)))"
rows+=("| ingest, $AGENTS agents x $EVENTS events, TLS 1.3, sync=FULL | $ours_rate ev/s steady state (ack p50 $p50 ms, p99 $p99 ms; all $AGENTS connected in $connect s) | raw SQLite ceiling, batches of 1000: $peer_rate rows/s | **$ratio** (target >= 0.6) |"
      "| same run | (as above) | raw SQLite ceiling, batches of 5000: $peer5_rate rows/s | **$ratio5** |")

}

# PostgreSQL (issue 21): the same 5,000 agents into a postgresql: store,
# through one collector and then two behind HAProxy (TCP, as a province
# runs them), against the server's own COPY of the same rows into the
# same tables in the same run; beside SQLite's rows (bench_ingest, run
# first when BENCH_ONLY names pg alone). The server keeps its durable
# defaults (fsync on), as the SQLite side runs sync=FULL.
bench_pg() {
[[ " ${BENCH_ONLY:-} " == *" ingest "* ]] || [ -z "${BENCH_ONLY:-}" ] || bench_ingest
echo
echo "== pg: ingest into PostgreSQL with $AGENTS agents, one and two collectors, vs a COPY of the same rows"
. tests/integration/lib_pg.bash
EW_PG_DURABLE=1 pg_start || { echo "PostgreSQL did not start"; return; }
local A="$OUT/pg-a" B="$OUT/pg-b" one two lb peer url
pg_collector_pair "$A" "$B" || { echo "collectors on PostgreSQL: setup failed"; return; }
sed -i 's/max_events_per_second: 1000/max_events_per_second: 100000/' "$A/collector.yaml" "$B/collector.yaml"
"$COLLECTOR" school add 79001 "Bench school" --commune bench --level 2 \
	--expected-pcs "$AGENTS" -c "$CONF" >/dev/null
TOKEN=$("$COLLECTOR" token create --school 79001 --uses "$AGENTS" -c "$CONF" 2>/dev/null)
serve_in "$A" "$OUT/pg-a.log" || { echo "collector a did not start"; return; }
PIDS+=("$SERVED_PID")
local lg=("$LOADGEN" --ca "$A/ca.crt" --state "$OUT/pg-agents" --agents "$AGENTS"
	--events "$EVENTS" --batch 50 --window 2 --barrier --json)
"$LOADGEN" --port "$(pair_port "$A" ingest)" --enroll-port "$(pair_port "$A" enroll)" \
	--ca "$A/ca.crt" --token "$TOKEN" --state "$OUT/pg-agents" --agents "$AGENTS" \
	--enroll-only >/dev/null || { echo "enrollment failed"; return; }
one=$("${lg[@]}" --port "$(pair_port "$A" ingest)" --boot-seed 11)
echo "one collector:  $one"
serve_in "$B" "$OUT/pg-b.log" || { echo "collector b did not start"; return; }
PIDS+=("$SERVED_PID")
lb=$(free_port)
printf 'defaults\n\tmode tcp\n\ttimeout connect 5s\n\ttimeout client 300s\n\ttimeout server 300s\nfrontend ingest\n\tbind 127.0.0.1:%s\n\tmaxconn 20000\n\tdefault_backend c\nbackend c\n\tbalance roundrobin\n\tserver a 127.0.0.1:%s\n\tserver b 127.0.0.1:%s\n' \
	"$lb" "$(pair_port "$A" ingest)" "$(pair_port "$B" ingest)" >"$OUT/haproxy.cfg"
haproxy -f "$OUT/haproxy.cfg" -db >"$OUT/haproxy.log" 2>&1 &
PIDS+=($!)
wait_port "$lb" 10
two=$("${lg[@]}" --port "$lb" --boot-seed 12)
echo "two collectors: $two"
local stored
stored=$(pg_sql "$PG_DB" "SELECT count(*) FROM events" | tr -d ' \n')
echo "stored $stored events (expected $((2 * AGENTS * EVENTS)))"
for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
wait 2>/dev/null
url=$(sh "$PG_HARNESS" url "$PG_DIR" "$PG_DB")
peer=$("$BENCH/pg_ceiling" --url "$url" --agents "$AGENTS" --events "$EVENTS" --batch 5000)
echo "ceiling (COPY, batches of 5000): $peer"
pg_stop
PG_DIR=
local r1 r2 rp p50a p99a p50b p99b
r1=$(grep -o '"events_per_sec":[0-9]*' <<<"$one" | cut -d: -f2)
r2=$(grep -o '"events_per_sec":[0-9]*' <<<"$two" | cut -d: -f2)
p50a=$(grep -o '"p50_ms":[0-9.]*' <<<"$one" | cut -d: -f2)
p99a=$(grep -o '"p99_ms":[0-9.]*' <<<"$one" | cut -d: -f2)
p50b=$(grep -o '"p50_ms":[0-9.]*' <<<"$two" | cut -d: -f2)
p99b=$(grep -o '"p99_ms":[0-9.]*' <<<"$two" | cut -d: -f2)
rp=$(grep -o 'rows_per_sec=[0-9]*' <<<"$peer" | cut -d= -f2)
rows+=("| ingest into PostgreSQL 15 (fsync on), $AGENTS agents x $EVENTS events, TLS 1.3, one collector | $r1 ev/s (ack p50 $p50a ms, p99 $p99a ms) | PostgreSQL's COPY of the same rows into the same tables, batches of 5000: $rp rows/s | **$(printf '%.2f' "$(echo "scale=4; $r1 / $rp" | bc)")** |"
      "| same, two collectors behind HAProxy (TCP) | $r2 ev/s (ack p50 $p50b ms, p99 $p99b ms) | (as above) | **$(printf '%.2f' "$(echo "scale=4; $r2 / $rp" | bc)")** |")
}

bench_footprint() {
echo
echo "== agent footprint: RSS and PSS of a connected agent, idle and after a scan and a backup, vs the Wazuh agent's published 35 MB"
IDLE=${BENCH_IDLE_SECONDS:-60}
local FA="$OUT/fp-agent"
D="$OUT/fp-collector"
mkdir -p "$FA/docs" "$FA/scan" "$FA/repo"
for i in $(seq 50); do head -c 20000 /dev/urandom >"$FA/docs/f$i"; cp "$FA/docs/f$i" "$FA/scan/"; done
collector_with_agent 79001 "$FA" || { echo "collector and agent did not start"; exit 1; }
# What a school PC runs: the LAN sensor, the antivirus probe, scans and
# a backup (into a local folder, checked every second here).
sed -i '/^scan:/,$d' "$FA/agent.yaml"
cat >>"$FA/agent.yaml" <<YAML
scan:
  full_paths: [$FA/scan]
  quick_paths: [$FA/scan]
av:
  products_file: $PWD/rules/av-products.txt
backup:
  repo: $FA/repo
  paths: [$FA/docs]
  rpo: 1h
  check_interval: 1s
log:
  level: info
YAML
"$BIN/eduwatch-agent" run -c "$FA/agent.yaml" >"$FA/log" 2>&1 &
apid=$!
wait_for 60 grep -q "connected" "$FA/log"
sleep 10 # start-up: inventory, first heartbeat, first backup job
ticks() { awk '{print $14 + $15}' "/proc/$apid/stat"; }
kib() { awk -v k="^$1" '$0 ~ k {s += $2} END {print s}' "/proc/$apid/smaps_rollup"; }
mb() { echo "scale=1; $1/1024" | bc; }
t0=$(ticks)
sleep "$IDLE"
t1=$(ticks)
# The LAN sensor helper is a process of its own (root only).
hpid=$(pgrep -P "$apid" -f _netsensor || true)
helper="none (not root)"
[ -n "$hpid" ] && helper="$(awk '/^Rss/{print $2}' "/proc/$hpid/smaps_rollup") KiB RSS"
hz=$(getconf CLK_TCK)
cpu=$(printf '%.3f' "$(echo "scale=5; 100 * ($t1 - $t0) / $hz / $IDLE" | bc)")
cpu="$cpu ($((t1 - t0)) ticks of 1/$hz s)"
rss=$(kib Rss); pss=$(kib Pss:); priv=$(kib 'Private_(Clean|Dirty)')
nice=$(awk '{print $19}' "/proc/$apid/stat")
echo "agent idle ${IDLE}s: RSS ${rss} KiB, PSS ${pss} KiB, private ${priv} KiB, CPU ${cpu}% of one core, nice ${nice}; LAN sensor helper: $helper"
rows+=("| agent idle footprint (connected, heartbeat 60 s), ${IDLE} s | RSS $(mb "$rss") MB (private $(mb "$priv") MB, PSS $(mb "$pss") MB), CPU ${cpu}% of one core, nice ${nice}; LAN sensor helper $helper | Wazuh agent, published: 35 MB RSS | **$(printf '%.2f' "$(echo "scale=4; $rss/1024/35" | bc)")** of Wazuh's RSS |")
# Issue 13's target is for the resident agent after its helpers ran:
# the backup job (with its verify and test restore) and a scan.
wait_event 120 '"kind":"backup.status".*"action":"restore_test"' || echo "no backup job finished"
"$COLLECTOR" command send --agent "$ID" --type scan --kind paths --path "$FA/scan" -c "$CONF" >/dev/null
wait_event 120 '"kind":"scan.summary"' || echo "no scan finished"
sleep 5
rss2=$(kib Rss); pss2=$(kib Pss:); priv2=$(kib 'Private_(Clean|Dirty)')
libs=$(awk '/^[0-9a-f]+-/{n=$6} /^Rss:/{r[n]+=$2} END{for (k in r) if (k ~ /\.so/ && r[k] >= 300) {v = r[k]; sub(".*/", "", k); printf "%s %d KiB, ", k, v}}' "/proc/$apid/smaps" | sed 's/, $//')
kill -TERM "$apid"; wait "$apid"
collector_stop
echo "agent after a scan and a backup: RSS ${rss2} KiB, PSS ${pss2} KiB, private ${priv2} KiB; largest shared libraries: $libs"
echo "before issue 13 (all in one executable, backup on the thread pool): RSS 13,804 KiB, PSS 6,731-7,505 KiB, private 4,288 KiB"
rows+=("| agent after a scan and a backup (helpers exited) | RSS $(mb "$rss2") MB, PSS $(mb "$pss2") MB, private $(mb "$priv2") MB | before issue 13: RSS 13.5 MB, PSS 6.6-7.3 MB, private 4.2 MB; target RSS <= 6 MB, PSS <= 4 MB | **$(printf '%.2f' "$(echo "scale=4; $rss2/13804" | bc)")** of the RSS before |")
}

bench_net() {
echo
echo "== LAN sensor: detectors over a 2,000,000-packet capture vs a bare pcap_next_ex loop"
"$BENCH/netbench" gen "$OUT/lan.pcap" "${BENCH_PACKETS:-2000000}" || exit 1
$PY -c '
for i in range(100000): print("host%d.ioc%d.example" % (i, i % 97))' >"$OUT/ioc.txt"
net=$("$BENCH/netbench" run "$OUT/lan.pcap" "$OUT/ioc.txt") || exit 1
echo "$net"
get() { grep -o "$1=[0-9.]*" <<<"$net" | cut -d= -f2; }
# The whole command too, as an admin runs it on a capture: start-up, the
# IOC list, the sandbox and printing included.
start=$(date +%s.%N)
"$BIN/eduwatch-agent" -c /nonexistent sniff --pcap "$OUT/lan.pcap" --ioc "$OUT/ioc.txt" \
	--json >"$OUT/sniff.out" 2>"$OUT/sniff.err"
sniff_s=$(echo "$(date +%s.%N) - $start" | bc)
echo "sniff --pcap: ${sniff_s} s, $(wc -l <"$OUT/sniff.out") alerts; $(cat "$OUT/sniff.err")"
rows+=("| LAN sensor detectors, $(get packets) packets (ARP, DNS, DHCP, SYNs), 100,000 IOC domains | $(get detect_pps) packets/s ($(get alerts) alerts); whole \`sniff --pcap\` run ${sniff_s} s | bare \`pcap_next_ex\` loop over the same file: $(get raw_pps) packets/s | **$(get ratio)** (target >= 0.5) |")
}

bench_soc() {
echo
echo "== SOC forwarding: latency from an alert's commit to a real rsyslog's receipt, at 1,000 events/s"
local P="$OUT/soc-pki" rules="$OUT/soc-rules"
mkdir -p "$P" "$rules"
soc_pki "$P"
# Every event an alert (suppress 0): the forwarder carries 1,000 alerts/s.
cp -r rules/policies "$rules/"
$PY - "$rules/alerts.yaml" <<'PYEOF'
import sys
kinds = {"agent.heartbeat": "uptime_s", "av.status": "sig_age_h", "scan.summary": "",
         "scan.match": "path", "backup.status": "", "net.port_scan": "",
         "agent.inventory": ""}
out = ["rules:"]
for kind, field in kinds.items():
    out += ["  - id: bench-" + kind.replace(".", "-"), "    title: bench " + kind,
            "    category: bench", "    kind: " + kind, "    severity: 5",
            "    suppress: 0s"]
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PYEOF
local port
port=$(free_port)
rsyslog_conf "$OUT/soc-rsyslog" "$port" "$P" '%timegenerated:::date-rfc3339% %rawmsg%\n'
rsyslog_start || { echo "rsyslogd did not start"; return; }
WORK=$OUT/soc-work
mkdir -p "$WORK"
collector_init "$OUT/soc-collector"
sed -i 's/max_events_per_second: 1000 /max_events_per_second: 100 /' "$CONF"
sed -i "s|^  rules: .*|  rules: $rules/alerts.yaml|" "$CONF"
cat >>"$CONF" <<YAML
forward:
  - name: soc
    type: syslog
    address: localhost:$port
    ca: $P/ca.crt
YAML
collector_start "$OUT/soc-collector.log" || { echo "collector did not start"; return; }
"$COLLECTOR" school add 79001 "Bench school" --commune bench --level 2 --expected-pcs 10 -c "$CONF" >/dev/null
local token lg
token=$("$COLLECTOR" token create --school 79001 --uses 10 -c "$CONF" 2>/dev/null)
# 10 agents held to 100 events/s each by the collector's own rate limit.
lg=$("$LOADGEN" --port "$INGEST_PORT" --enroll-port "$ENROLL_PORT" --ca "$OUT/soc-collector/ca.crt" \
	--token "$token" --state "$OUT/soc-agents" --agents 10 --events 3000 --batch 20 --window 2 --json)
echo "loadgen: $lg"
local i
for ((i = 0; i < 240; i++)); do
	[ "$(wc -l <"$OUT/soc-rsyslog/soc.log")" -ge 30000 ] && break
	sleep 0.25
done
collector_stop
kill "$RSPID"
local lat
lat=$($PY - "$OUT/soc-rsyslog/soc.log" <<'PYEOF'
import datetime, sys
lat = []
for line in open(sys.argv[1], encoding="utf-8"):
    recv, rest = line.split(" ", 1)
    sent = rest.split(" ", 2)[1]
    r = datetime.datetime.fromisoformat(recv)
    s = datetime.datetime.fromisoformat(sent.replace("Z", "+00:00"))
    lat.append((r - s).total_seconds() * 1000)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print("alerts=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f" % (len(lat), q(0.5), q(0.99), lat[-1]))
PYEOF
)
echo "forwarding: $lat"
local rate ack99 p99 n
rate=$(grep -o '"events_per_sec":[0-9]*' <<<"$lg" | cut -d: -f2)
ack99=$(grep -o '"p99_ms":[0-9.]*' <<<"$lg" | cut -d: -f2)
p99=$(grep -o 'p99_ms=[0-9.]*' <<<"$lat" | cut -d= -f2)
n=$(grep -o 'alerts=[0-9]*' <<<"$lat" | cut -d= -f2)
rows+=("| SOC forwarding, 10 agents at ${rate} events/s, every event an alert, syslog over TLS to a real rsyslog | p99 ${p99} ms from the alert's commit to rsyslog's receipt ($(sed 's/ /, /g' <<<"$lat")); ingest ack p99 ${ack99} ms before it | target p99 < 1,000 ms from ingest to SOC | **$(printf '%.0f' "$(echo "$p99 + $ack99" | bc)") ms** upper bound of the sum ($n of 30000 delivered) |")
}

bench_scan() {
echo
echo "== YARA scan: eduwatch-agent scan --jobs 2 vs yara -r -p 2, same corpus and rules"
local S="$OUT/scan" shared=${EW_SHARED_DATA:-$PWD/../shared/data}
mkdir -p "$S/state"
local made
made=$($PY tests/bench/scan_corpus.py "$S" "${BENCH_SCAN_MB:-300}" "${BENCH_SCAN_RULES:-5000}" "$shared")
echo "corpus and rules: $made"
cat >"$S/agent.yaml" <<YAML
collector:
  host: 127.0.0.1
state_dir: $S/state
scan:
  max_file_size: 64MiB
  exclude: []
YAML
sync
# Warm the page cache for both: the corpus is read once before either runs.
cat $(find "$S/corpus" -type f) >/dev/null 2>&1
local peer ours warm
peer=$($PY tests/bench/peakrss.py "$S/yara.out" yara -r -p 2 "$S/rules.yar" "$S/corpus" 2>&1 >/dev/null)
echo "yara:  $peer"
ours=$($PY tests/bench/peakrss.py "$S/ours.json" "$BIN/eduwatch-agent" scan "$S/corpus" \
	--rules "$S/rules.yar" --json --jobs 2 -c "$S/agent.yaml" 2>&1 >/dev/null)
echo "ours (cold): $ours"
warm=$($PY tests/bench/peakrss.py "$S/warm.json" "$BIN/eduwatch-agent" scan "$S/corpus" \
	--rules "$S/rules.yar" --json --jobs 2 -c "$S/agent.yaml" 2>&1 >/dev/null)
echo "ours (warm): $warm"
local same
same=$($PY tests/bench/scan_compare.py "$S/yara.out" "$S/ours.json")
echo "match sets: $same"
local ps os ws pr or wr
ps=$(grep -o 'seconds=[0-9.]*' <<<"$peer" | cut -d= -f2)
os=$(grep -o 'seconds=[0-9.]*' <<<"$ours" | cut -d= -f2)
ws=$(grep -o 'seconds=[0-9.]*' <<<"$warm" | cut -d= -f2)
pr=$(grep -o 'peak_rss_kib=[0-9]*' <<<"$peer" | cut -d= -f2)
or=$(grep -o 'peak_rss_kib=[0-9]*' <<<"$ours" | cut -d= -f2)
wr=$(grep -o 'peak_rss_kib=[0-9]*' <<<"$warm" | cut -d= -f2)
rows+=("| YARA cold scan, $made, 2 workers | $os s ($same) | yara 4.2.3 -r -p 2: $ps s | **$(printf '%.2f' "$(echo "scale=4; $os / $ps" | bc)")x** time (target <= 1.05) |"
      "| YARA warm rescan, unchanged tree | $ws s (cache) | our cold scan: $os s | **$(printf '%.1f' "$(echo "scale=4; $os / $ws" | bc)")x** faster (target >= 20) |"
      "| YARA scan peak RSS, whole process tree | $((or / 1024)) MiB cold, $((wr / 1024)) MiB warm | yara: $((pr / 1024)) MiB | **$(printf '%.2f' "$(echo "scale=4; $or / $pr" | bc)")x** |")
}

bench_backup() {
echo
echo "== backups: eduwatch-agent backup vs restic 0.14, same corpus, same disk"
local B="$OUT/backup" C="$OUT/scan/corpus"
[ -d "$C" ] || $PY tests/bench/scan_corpus.py "$OUT/scan" "${BENCH_SCAN_MB:-300}" 10 /nonexistent >/dev/null
mkdir -p "$B"
export RESTIC_PASSWORD=bench-passphrase EDUWATCH_BACKUP_PASSWORD=bench-passphrase
cat $(find "$C" -type f) >/dev/null 2>&1
restic init -q --repo "$B/restic" >/dev/null
"$BIN/eduwatch-agent" backup init --repo "$B/ours" >/dev/null
local t rf ra of oa rr orr rs os csize
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
rf=$(t restic backup -q --repo "$B/restic" "$C")
of=$(t "$BIN/eduwatch-agent" backup run "$C" --repo "$B/ours")
ra=$(t restic backup -q --repo "$B/restic" "$C")
oa=$(t "$BIN/eduwatch-agent" backup run "$C" --repo "$B/ours")
rs=$(du -sb "$B/restic" | cut -f1)
os=$(du -sb "$B/ours" | cut -f1)
rr=$(t restic restore -q latest --repo "$B/restic" --target "$B/r-restic")
orr=$(t "$BIN/eduwatch-agent" backup restore latest --to "$B/r-ours" --repo "$B/ours")
csize=$(du -sb "$C" | cut -f1)
echo "first backup: ours $of s, restic $rf s; unchanged: ours $oa s, restic $ra s"
echo "repository: ours $os bytes, restic $rs bytes; restore: ours $orr s, restic $rr s"
local mb
mb=$(echo "scale=1; $csize / 1000000" | bc)
rows+=("| backup, first run, $mb MB ($(find "$C" -type f | wc -l) files) | $(printf '%.2f' "$of") s | restic 0.14: $(printf '%.2f' "$rf") s | **$(printf '%.2f' "$(echo "scale=4; $of / $rf" | bc)")x** time (target <= 1.0) |"
      "| backup, unchanged re-run | $(printf '%.2f' "$oa") s | restic: $(printf '%.2f' "$ra") s | **$(printf '%.2f' "$(echo "scale=4; $oa / $ra" | bc)")x** time (target <= 1.0) |"
      "| repository size after both | $(echo "scale=1; $os / 1000000" | bc) MB | restic: $(echo "scale=1; $rs / 1000000" | bc) MB | **$(printf '%.2f' "$(echo "scale=4; $os / $rs" | bc)")x** (target <= 1.0) |"
      "| restore throughput, latest snapshot | $(echo "scale=0; $csize / $orr / 1000000" | bc) MB/s ($(printf '%.2f' "$orr") s, every file's SHA-256 checked) | restic: $(echo "scale=0; $csize / $rr / 1000000" | bc) MB/s ($(printf '%.2f' "$rr") s) | **$(printf '%.2f' "$(echo "scale=4; $rr / $orr" | bc)")x** throughput |")
bench_backup_torture
}

# The issue 14 torture tree (depth 200, a 5,000-byte path, hard links,
# xattrs and ACLs, a 2 GB sparse file with two islands, a FIFO, odd
# names) plus a 300 MB file: time and peak RSS of each step, both tools.
bench_backup_torture() {
echo
echo "== backups, torture tree + 2 GB sparse + 300 MB file: eduwatch-agent vs restic"
local B="$OUT/backup-torture" T
T="$B/tree"
export RESTIC_PASSWORD=bench-passphrase EDUWATCH_BACKUP_PASSWORD=bench-passphrase
rm -rf "$B"
mkdir -p "$B"
$PY tests/integration/backup_torture.py make "$T"
head -c 300000000 /dev/urandom >"$T/big.bin"
restic init -q --repo "$B/restic" >/dev/null
"$BIN/eduwatch-agent" backup init --repo "$B/ours" >/dev/null
# tm CMD...: "seconds peak_rss_kib"
tm() { local s e; s=$(date +%s.%N); /usr/bin/time -o "$B/rss" -f '%M' "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$(echo "$e - $s" | bc) $(tail -1 "$B/rss")"; }
local rf ra rc rr of oa oc orr
rf=$(tm restic backup -q --repo "$B/restic" "$T")
of=$(tm "$BIN/eduwatch-agent" backup run "$T" --repo "$B/ours")
ra=$(tm restic backup -q --repo "$B/restic" "$T")
oa=$(tm "$BIN/eduwatch-agent" backup run "$T" --repo "$B/ours")
echo "one more line" >>"$T/links/pair1"
rc=$(tm restic backup -q --repo "$B/restic" "$T")
oc=$(tm "$BIN/eduwatch-agent" backup run "$T" --repo "$B/ours")
rr=$(tm restic restore -q latest --repo "$B/restic" --target "$B/r-restic")
orr=$(tm "$BIN/eduwatch-agent" backup restore latest --to "$B/r-ours" --repo "$B/ours")
local rs os
rs=$(du -sb "$B/restic" | cut -f1)
os=$(du -sb "$B/ours" | cut -f1)
echo "first: ours $of, restic $rf; unchanged: ours $oa, restic $ra; one file: ours $oc, restic $rc; restore: ours $orr, restic $rr (s, KiB)"
if $PY tests/integration/backup_torture.py compare "$T" "$B/r-ours$T" >"$B/cmp-ours.txt" 2>&1; then local exact=exact; else local exact="NOT exact"; fi
row() { # row NAME OURS PEER TARGET
	rows+=("| torture: $1 | $(printf '%.2f' "${2% *}") s, $(( ${2#* } / 1024 )) MiB | restic: $(printf '%.2f' "${3% *}") s, $(( ${3#* } / 1024 )) MiB | **$(printf '%.2f' "$(echo "scale=4; ${2% *} / ${3% *}" | bc)")x** time (target <= $4) |")
}
row "first backup" "$of" "$rf" 1.0
row "unchanged re-run" "$oa" "$ra" 0.5
row "one file changed" "$oc" "$rc" 1.0
row "restore ($exact vs the original)" "$orr" "$rr" 1.0
rows+=("| torture: repository size | $(echo "scale=1; $os / 1000000" | bc) MB | restic: $(echo "scale=1; $rs / 1000000" | bc) MB | **$(printf '%.2f' "$(echo "scale=4; $os / $rs" | bc)")x** (target <= 1.0) |")
}

# The officers' console on a seeded province (issue 17).
bench_web() {
echo "== web: the console on 1,500 schools x 40 PCs, 90 days of scores, 100,000 alerts"
collector_init "$OUT/web"
sed -i 's/^  enabled: false/  enabled: true/; s/^  port: 8443/  port: 0/' "$CONF"
sed -i 's/max_events_per_second: 1000/max_events_per_second: 100000/' "$CONF"
"$COLLECTOR" school list -c "$CONF" >/dev/null # creates the schema
pw=$($PY tests/bench/web_bench.py "$COLLECTOR" "$CONF" "$OUT/web" seed) || return
collector_start "$OUT/web.log" || return
wait_for 20 test -s "$OUT/web/web.port"
while IFS='|' read -r tag name ours peer ratio; do
	[ "$tag" = ROW ] && rows+=("| $name | $ours | $peer | $ratio |") && echo "$name: $ours ($peer)"
done < <($PY tests/bench/web_bench.py "$COLLECTOR" "$CONF" "$OUT/web" measure "$(cat "$OUT/web/web.port")" "$pw")
# First contentful paint in Chromium, when the browser suite's packages
# are there or can be installed (npm ci, pinned by its lock file).
local web_url="https://localhost:$(cat "$OUT/web/web.port")"
if command -v chromium >/dev/null && command -v node >/dev/null &&
	{ [ -d tests/browser/node_modules/playwright-core ] ||
	  (cd tests/browser && npm ci --no-audit --no-fund >/dev/null 2>&1); }; then
	while IFS='|' read -r tag name ours peer ratio; do
		[ "$tag" = ROW ] && rows+=("| $name | $ours | $peer | $ratio |") && echo "$name: $ours"
	done < <(node tests/browser/fcp.mjs "$web_url" bench "$pw" 20)
fi
# Again with 10 PCs sending 100 events/s each (loadgen --rate; the
# per-agent cap is lifted above so it never throttles them): the console and ingest share the collector's loop, so each
# side's figures under the other's load.
local tok lg
# The CLI's write can be refused while the collector's start-of-day
# snapshot holds the database: retry until a token is printed.
tok=
for _ in $(seq 60); do
	tok=$("$COLLECTOR" token create --school S0000 --uses 10 -c "$CONF" 2>>"$OUT/web.log") && [ -n "$tok" ] && break
	sleep 2
done
"$LOADGEN" --port "$INGEST_PORT" --enroll-port "$ENROLL_PORT" --ca "$OUT/web/ca.crt" \
	--token "$tok" --state "$OUT/web-agents" --agents 10 --enroll-only >/dev/null || return
"$LOADGEN" --port "$INGEST_PORT" --enroll-port "$ENROLL_PORT" --ca "$OUT/web/ca.crt" \
	--state "$OUT/web-agents" --agents 10 --events 1000000 --rate 100 --batch 20 --window 2 \
	--deadline 75 --json >"$OUT/web-ingest.json" 2>/dev/null &
lg=$!
sleep 5 # past the agents' burst allowance, at the steady 1,000 events/s
while IFS='|' read -r tag name ours peer ratio; do
	[ "$tag" = ROW ] && rows+=("| $name | $ours | $peer | $ratio |") && echo "$name: $ours ($peer)"
done < <($PY tests/bench/web_bench.py "$COLLECTOR" "$CONF" "$OUT/web" measure "$(cat "$OUT/web/web.port")" "$pw" " (ingest at 1,000 events/s)")
wait "$lg" || true # past its deadline loadgen exits 1, with its figures
local rate p50 p99
rate=$(grep -o '"events_per_sec":[0-9]*' "$OUT/web-ingest.json" | cut -d: -f2)
p50=$(grep -o '"p50_ms":[0-9.]*' "$OUT/web-ingest.json" | cut -d: -f2)
p99=$(grep -o '"p99_ms":[0-9.]*' "$OUT/web-ingest.json" | cut -d: -f2)
echo "ingest beside the console: $rate events/s, ack p50 $p50 ms, p99 $p99 ms"
rows+=("| web: ingest acks while the console is measured (10 PCs x 100 events/s, 75 s) | ack p50 $p50 ms, p99 $p99 ms ($rate events/s) | - | - |")
collector_stop
}


# A whole province on one collector (issue 21): N agents (60,000) held
# over TLS at once, each a heartbeat a minute plus a 1,000 events/s mix
# over the population, then kill -9 and restart of the collector and the
# time until every agent is back, with the agent's full-jitter backoff.
# The collector and its enrolled agents are kept under
# build/bench-province/N: enrolling 60,000 agents (a CSR signed and two
# commits each) is done once, and later runs reuse the certificates with
# the CA and database that issued them: a set enrolled for more agents
# serves fewer (its first N), and an enrollment cut short resumes.
province_cache() { # province_cache N: the cached set to use for N agents
	local d m best=
	for d in build/bench-province/*/; do
		m=$(basename "$d")
		[[ $m =~ ^[0-9]+$ ]] && [ "$m" -ge "$1" ] && [ -f "$d/enrolled" ] || continue
		[ -n "$best" ] && [ "$m" -ge "$(basename "$best")" ] || best=$d
	done
	realpath -m "${best:-build/bench-province/$1}"
}
bench_province() {
local N=${BENCH_PROVINCE_AGENTS:-60000} STEADY=${BENCH_PROVINCE_STEADY:-60}
local P
P=$(province_cache "$N")
# Loopback has ~28,000 ephemeral ports per (source, destination) pair,
# and a restart's herd leaves ports in TIME_WAIT: 10,000 agents per
# source address, 127.0.0.2 and up.
local sources=$(( (N + 9999) / 10000 ))
# One heartbeat a minute per agent plus 1,000 events/s shared by all,
# each agent at its own phase of the period.
local rate
rate=$(echo "scale=6; 1/60 + 1000/$N" | bc)
echo
echo "== province: $N agents held over TLS by one collector (SQLite), $rate events/s each, then kill -9 and restart"
# The collector and the loadgen each hold N descriptors, and a few more.
ulimit -n $((N + 10000)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "descriptor limit: $(ulimit -n)"
if [ -f "$P/collector/ca.crt" ]; then
	# The stats line every 10 s: admissions refused, loop lag.
	CONF="$P/collector/collector.yaml" COLLECTOR_DIR="$P/collector" INGEST_PORT= ENROLL_PORT=
	COLLECTOR_SET=(-o ingest.port=0 -o enroll.port=0 -o log.stats_interval=10s)
	echo "reusing the agents enrolled in $P ($(find "$P/agents" -name '*.id' | wc -l) of them)"
else
	mkdir -p "$P"
	collector_init "$P/collector" || return
	collector_set log.stats_interval=10s
fi
# A real collector's handshake timeout (10 s), room for every agent, and
# the per-agent rate limit out of the way of resends after the restart.
# max_connections stays under the descriptor limit (the collector warns
# at start when it does not).
local maxc=$((N + 1000)) fds
fds=$(($(ulimit -n) - 300))
[ "$maxc" -le "$fds" ] || maxc=$fds
collector_set ingest.handshake_timeout=10s ingest.max_connections=$maxc \
	ingest.max_events_per_second=100000
if ! [ -f "$P/enrolled" ]; then
	# Enrollment is set-up, not what is measured: its commits skip the
	# fsync (store.sync_full=false) so 60,000 take minutes, not a quarter
	# of an hour; the measured run below keeps the default, sync=FULL.
	local measured=("${COLLECTOR_SET[@]}")
	collector_set store.sync_full=false
	collector_start "$P/collector.log" || { echo "collector did not start"; return; }
	# Resuming: the school is there already.
	"$COLLECTOR" school add 79001 "Bench school" --commune bench --level 2 \
		--expected-pcs "$N" -c "$CONF" >/dev/null 2>&1
	local token start
	token=$("$COLLECTOR" token create --school 79001 --uses "$N" -c "$CONF" 2>/dev/null)
	start=$(date +%s.%N)
	"$LOADGEN" --port "$INGEST_PORT" --enroll-port "$ENROLL_PORT" --ca "$P/collector/ca.crt" \
		--token "$token" --state "$P/agents" --agents "$N" --enroll-only >/dev/null || return
	echo "enrolled $N agents in $(echo "$(date +%s.%N) - $start" | bc) s (once; cached in $P)"
	touch "$P/enrolled"
	collector_stop
	COLLECTOR_SET=("${measured[@]}")
fi
collector_start "$P/collector.log" || { echo "collector did not start"; return; }
local cpid=$COLLECTOR_PID hz
hz=$(getconf CLK_TCK)
# The collector's own counters (admission, loop lag), from the stats line
# it logs on SIGHUP.
cstat() { grep 'ingest: open=' "$P/collector.log" | tail -1 | grep -o " $1=[0-9]*" | cut -d= -f2; }
slines() { grep -c 'ingest: open=' "$P/collector.log"; }
cstats() { local n
	n=$(slines)
	kill -HUP "$cpid"
	within 30 test_more slines "$n"
	echo "collector: $(grep 'ingest: open=' "$P/collector.log" | tail -1 | grep -o '\(open\|accepted\|refused_busy\|handshake_timeouts\|hello_pending\|loop_lag_ms\|loop_lag_max_ms\|backlog\)=[0-9]*' | tr '\n' ' ')"; }
echo "machine: load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# A new boot seed each run: the cached agents send new events, never
# duplicates of an earlier run's, which the collector would only count.
local rss0 t_start limit=${BENCH_PROVINCE_CONNECT_SECONDS:-600} herd_s=${BENCH_PROVINCE_HERD_SECONDS:-900}
rss0=$(rss "$cpid")
t_start=$(date +%s.%N)
"$LOADGEN" --port "$INGEST_PORT" --ca "$P/collector/ca.crt" --state "$P/agents" \
	--agents "$N" --rate "$rate" --hold $((limit + STEADY + herd_s + 300)) --batch 1 --window 2 --sources "$sources" \
	--boot-seed "$(date +%s)" --json >"$OUT/province.out" 2>"$OUT/province.err" &
local lpid=$!
PIDS+=("$lpid")
allup() { [ "$(grep -c "all-connected" "$OUT/province.err")" -ge "$1" ]; }
# report: SIGUSR1 to the loadgen, and its JSON line once written (a busy
# loadgen takes seconds to get to it).
reports() { grep -c '"report"' "$OUT/province.out"; }
report() { local n
	n=$(reports)
	kill -USR1 "$lpid"
	within 60 test_more reports "$n"
	tail -1 "$OUT/province.out"; }
test_more() { [ "$("$1")" -gt "$2" ]; }
wall() { grep "$1" "$OUT/province.err" | tail -1 | awk '{print $NF}'; }
# By the wall clock: under load, wait_for's polls themselves take long.
within() { local end=$(($(date +%s) + $1)); shift
	until "$@"; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 1; done; }
if ! within "$limit" allup 1; then
	# What was reached is a figure too: the RSS per connection held.
	local part held rssp
	part=$(report)
	cstats
	held=$(grep -o '"connected":[0-9]*' <<<"$part" | cut -d: -f2)
	rssp=$(rss "$cpid")
	local div=${held:-0}
	[ "$div" -gt 0 ] || div=1
	echo "not all $N agents connected in $limit s: $part"
	echo "collector: RSS $((rssp / 1024)) MiB with ${held:-0} agents ($(printf '%.1f' "$(echo "scale=4; ($rssp - $rss0) / $div" | bc)") KiB each over its idle $((rss0 / 1024)) MiB)"
	rows+=("| province: $N agents over TLS 1.3 to one collector (SQLite), a heartbeat a minute each + 1,000 events/s | **only ${held:-0} connected after $limit s**; collector RSS $((rssp / 1024)) MiB; since the start: $(sed 's/"//g; s/,/, /g' <<<"$part") | wave 1: 5,000 active + 10,000 idle connections | - |")
	kill -TERM "$lpid"
	wait "$lpid" 2>/dev/null
	collector_stop
	return
fi
local connect
connect=$(printf '%.1f' "$(echo "$(wall all-connected) - $t_start" | bc)")
echo "all $N connected in $connect s (the loadgen starts 200 at a time)"
cstats
# Settle past the connection burst, then the steady state.
sleep 15
report >/dev/null
local t0 t1 rss1 w0 w1
t0=$(ticks "$cpid"); w0=$(date +%s.%N)
sleep "$STEADY"
t1=$(ticks "$cpid"); w1=$(date +%s.%N); rss1=$(rss "$cpid")
local steady cpu perconn
steady=$(report)
cpu=$(printf '%.1f' "$(echo "scale=4; 100 * ($t1 - $t0) / $hz / ($w1 - $w0)" | bc)")
perconn=$(printf '%.1f' "$(echo "scale=4; ($rss1 - $rss0) / $N" | bc)")
echo "steady ${STEADY} s: $steady"
echo "collector: RSS $((rss0 / 1024)) MiB idle, $((rss1 / 1024)) MiB with $N agents ($perconn KiB each); CPU $cpu % of one core"
echo "loadgen: RSS $(($(rss "$lpid") / 1024)) MiB; machine: load average $(cut -d' ' -f1-3 /proc/loadavg)"
cstats
local lag_steady
lag_steady=$(cstat loop_lag_max_ms)
# The herd: kill -9, start again on the same ports, and time until the
# last agent's hello is answered.
local t_kill t_up t_all before
before=$(grep -c "all-connected" "$OUT/province.err")
t_kill=$(date +%s.%N)
kill -KILL "$cpid"
wait "$cpid" 2>/dev/null
COLLECTOR_PID=
collector_start "$P/collector.log" || { echo "collector did not restart"; kill "$lpid"; return; }
t_up=$(date +%s.%N)
cpid=$COLLECTOR_PID
within "$herd_s" allup $((before + 1)) || { echo "not all $N agents back in $herd_s s: $(tail -3 "$OUT/province.err")"; }
t_all=$(wall all-connected)
local back back_kill
back=$(printf '%.1f' "$(echo "$t_all - $t_up" | bc)")
back_kill=$(printf '%.1f' "$(echo "$t_all - $t_kill" | bc)")
echo "restart: collector listening $(printf '%.1f' "$(echo "$t_up - $t_kill" | bc)") s after the kill; all $N back $back s after that ($back_kill s after the kill)"
local herd
herd=$(report)
echo "from the kill until every agent was back: $herd"
cstats
local busy lag_herd
busy=$(cstat refused_busy) lag_herd=$(cstat loop_lag_max_ms)
kill -TERM "$lpid"
wait "$lpid" 2>/dev/null
collector_stop
local ev p50 p99 hp99
ev=$(grep -o '"events_per_sec":[0-9]*' <<<"$steady" | cut -d: -f2)
p50=$(grep -o '"p50_ms":[0-9.]*' <<<"$steady" | cut -d: -f2)
p99=$(grep -o '"p99_ms":[0-9.]*' <<<"$steady" | cut -d: -f2)
hp99=$(grep -o '"p99_ms":[0-9.]*' <<<"$herd" | cut -d: -f2)
rows+=("| province: $N agents held over TLS 1.3 by one collector (SQLite), a heartbeat a minute each + 1,000 events/s ($ev events/s acked), ${STEADY} s steady | collector RSS $((rss1 / 1024)) MiB (**$perconn KiB per connection** over its idle $((rss0 / 1024)) MiB), CPU $cpu % of one core; ack p50 $p50 ms, p99 $p99 ms; all connected in $connect s; loop lag max $lag_steady ms | wave 1: 5,000 active + 10,000 idle connections | - |"
      "| province: kill -9 of that collector and restart, agents on the agent's full-jitter backoff | all $N back **$back s** after it listened again ($back_kill s after the kill); ack p99 $hp99 ms from the kill until every agent was back; $busy connections refused at accept (max_handshakes), loop lag max $lag_herd ms | - | - |")
}

# The province's annual report over a year of history of 1,500 schools
# (issue 18): the model, then the PDF and the XLSX rendered from it. The
# target is an absolute one (under 30 s); the model alone is the peer, to
# show what the rendering costs.
bench_report() {
echo "== report: 1,500-school province, a year of daily history"
collector_init "$OUT/report"
"$COLLECTOR" school list -c "$CONF" >/dev/null
$PY tests/integration/reportcheck.py seed "$OUT/report/eduwatch.db" 1500
# Wall-clock seconds and CPU seconds (user + system): on a shared machine
# the second says what the work costs.
t() { /usr/bin/time -f '%e %U %S' -o "$OUT/time" "$@" >/dev/null || echo "failed: $*" >&2
	awk '{ printf "%.2f %.2f", $1, $2 + $3 }' "$OUT/time"; }
read -r model model_cpu <<<"$(t "$COLLECTOR" report export --period 2026 --scope province --format json --out "$OUT/report.json" -c "$CONF")"
read -r pdf pdf_cpu <<<"$(t "$COLLECTOR" report export --period 2026 --scope province --format pdf --out "$OUT/report.pdf" -c "$CONF")"
read -r xlsx xlsx_cpu <<<"$(t "$COLLECTOR" report export --period 2026 --scope province --format xlsx --out "$OUT/report.xlsx" -c "$CONF")"
pages=$(pdfinfo "$OUT/report.pdf" | awk '/^Pages:/ {print $2}')
echo "model ${model} s (cpu ${model_cpu} s), PDF ${pdf} s (cpu ${pdf_cpu} s, $pages pages), XLSX ${xlsx} s (cpu ${xlsx_cpu} s)"
rows+=("| annual report, 1,500 schools x 361 days of history, province scope | PDF ${pdf} s wall, ${pdf_cpu} s CPU ($pages pages); XLSX ${xlsx} s wall, ${xlsx_cpu} s CPU | the model alone (JSON): ${model} s wall, ${model_cpu} s CPU | **$(printf '%.2f' "$(echo "scale=4; $pdf / 30" | bc)")** of the 30 s target (wall) |")
}

bench_windows() {
echo
echo "== the Windows agent under wine next to the Linux agent: idle memory, cold and warm scan (under wine these are indications, not Windows figures)"
local WD=build/windows EXE=build/windows/bin/eduwatch-agent.exe
if [ ! -f "$EXE" ] || ! command -v wine >/dev/null; then
	echo "skipped: no $EXE or no wine (make windows)"
	return 0
fi
export WINEPREFIX=$PWD/$WD/wineprefix WINEDEBUG=-all WINEARCH=win64
unset DISPLAY
[ -f "$WINEPREFIX/system.reg" ] || timeout 300 wineboot --init >/dev/null 2>&1
local IDLE=${BENCH_IDLE_SECONDS:-60} LA="$OUT/win-linux-agent" WA="$OUT/win-agent"
local -a SET=(-o netsensor.enabled=false -o scan.full_paths="$OUT/nothing"
	-o scan.quick_paths="$OUT/nothing" -o heartbeat.interval=5s)
D="$OUT/win-collector"
mkdir -p "$WA" "$LA"
collector_with_agent 79002 "$LA" || { echo "collector and agent did not start"; return 1; }
local lid=$ID token wid lpid wpid
token=$("$COLLECTOR" token create --school 79002 --uses 1 -c "$CONF" 2>/dev/null)
wine "$EXE" enroll --collector "localhost:$INGEST_PORT" --enroll-port "$ENROLL_PORT" \
	--token "$token" --ca "$D/ca.crt" --state-dir "$WA/state" -c "$WA/agent.yaml" >"$WA/enroll.out" 2>&1
wid=$(tr -d '\r' <"$WA/enroll.out" | sed -n 's/^enrolled as agent \([^ ]*\) .*/\1/p')
"$BIN/eduwatch-agent" run -c "$LA/agent.yaml" "${SET[@]}" >"$LA/log" 2>&1 &
lpid=$!
wine "$EXE" run --console -c "$WA/agent.yaml" "${SET[@]}" >"$WA/log" 2>&1 &
wait_for 90 grep -q "uplink: connected" "$WA/log"
# The unix process wine runs the .exe in (not the `wine` launcher).
wpid=$(for p in $(pgrep -f 'eduwatch-agent\.exe run'); do
	tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qxF "WINEPREFIX=$WINEPREFIX" && echo "$p"; done | head -1)
sleep "$IDLE"
kib() { awk -v k="^$2" '$0 ~ k {s += $2} END {print s}' "/proc/$1/smaps_rollup"; }
# The working set as the agent's own GetProcessMemoryInfo reports it (its
# last heartbeat's rss_kib), and the private bytes of its process.
last_rss() { ID=$1 agent_events | $PY -c '
import json, sys
hb = [e for e in json.load(sys.stdin) if e["kind"] == "agent.heartbeat"]
print(max(hb, key=lambda e: e["seq"])["body"]["rss_kib"] if hb else 0)'; }
local lrss lpriv wws wrss wpriv
lrss=$(kib "$lpid" Rss); lpriv=$(kib "$lpid" 'Private_(Clean|Dirty)')
wws=$(last_rss "$wid"); wrss=$(kib "$wpid" Rss); wpriv=$(kib "$wpid" 'Private_(Clean|Dirty)')
echo "idle ${IDLE}s: Linux agent RSS ${lrss} KiB, private ${lpriv} KiB; Windows agent under wine: working set ${wws} KiB (its heartbeat), RSS of its wine process ${wrss} KiB, private ${wpriv} KiB"
kill "$lpid" 2>/dev/null
wine taskkill /F /IM eduwatch-agent.exe >/dev/null 2>&1
wait "$lpid" 2>/dev/null
collector_stop
rows+=("| Windows agent idle under wine (connected, heartbeat 5 s), ${IDLE} s — an indication, not a Windows figure | working set $((wws / 1024)) MiB (GetProcessMemoryInfo under wine), private $((wpriv / 1024)) MiB | Linux agent, same collector and settings: RSS $((lrss / 1024)) MiB, private $((lpriv / 1024)) MiB | **$(printf '%.2f' "$(echo "scale=4; $wpriv / $lpriv" | bc)")x** private |")

# The scan corpus (smaller than bench_scan's: wine's file I/O is slow).
local S="$OUT/win-scan" shared=${EW_SHARED_DATA:-$PWD/../shared/data} made
mkdir -p "$S"
made=$($PY tests/bench/scan_corpus.py "$S" "${BENCH_WIN_SCAN_MB:-100}" "${BENCH_SCAN_RULES:-5000}" "$shared")
echo "corpus and rules: $made"
cat $(find "$S/corpus" -type f) >/dev/null 2>&1
wsec() { /usr/bin/time -f '%e' -o "$S/time" "$@" >"$S/out.json" 2>/dev/null; tail -1 "$S/time"; }
local lcold lwarm wcold wwarm lfiles wfiles
# Linux: one worker, like the Windows agent's one child; cold is without
# its scan cache, warm with it (the second run).
rm -rf "$S/state"; mkdir -p "$S/state"
printf 'collector:\n  host: 127.0.0.1\nstate_dir: %s\nscan:\n  max_file_size: 64MiB\n  exclude: []\n' "$S/state" >"$S/agent.yaml"
lcold=$(wsec "$BIN/eduwatch-agent" scan "$S/corpus" --rules "$S/rules.yar" --json --jobs 1 -c "$S/agent.yaml")
lfiles=$(grep -o '"scanned":[0-9]*' "$S/out.json" | tail -1 | cut -d: -f2)
lwarm=$(wsec "$BIN/eduwatch-agent" scan "$S/corpus" --rules "$S/rules.yar" --json --jobs 1 -c "$S/agent.yaml")
# Windows: the .exe under wine (one jailed child); it has no scan cache
# yet, so warm is the same scan again with wine and the page cache warm.
wcold=$(wsec wine "$EXE" scan "$(winepath -w "$S/corpus")" --rules "$(winepath -w "$S/rules.yar")" --json)
wfiles=$(tr -d '\r' <"$S/out.json" | grep -o '"scanned":[0-9]*' | tail -1 | cut -d: -f2)
wwarm=$(wsec wine "$EXE" scan "$(winepath -w "$S/corpus")" --rules "$(winepath -w "$S/rules.yar")" --json)
wineserver -k 2>/dev/null
echo "scan: Linux cold ${lcold} s (${lfiles} files), warm ${lwarm} s; Windows under wine cold ${wcold} s (${wfiles} files), warm ${wwarm} s"
rows+=("| Windows agent scan under wine, $made, one child — an indication | cold ${wcold} s, again ${wwarm} s (no scan cache on Windows yet) | Linux agent, --jobs 1: cold ${lcold} s, warm ${lwarm} s (its cache) | **$(printf '%.2f' "$(echo "scale=4; $wcold / $lcold" | bc)")x** cold time |")
}

for section in ${BENCH_ONLY:-ingest pg province footprint net soc scan backup web report windows}; do
	"bench_$section"
done

echo
echo "Rows for docs/BENCHMARKS.md ($(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')):"
echo "| benchmark | ours | peer | ratio |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
