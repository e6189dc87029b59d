#!/usr/bin/python3
"""make bench, web section: the console on a seeded province (1,500 schools
x 40 PCs, 90 days of daily snapshots, 100,000 alerts), against a running
collector. Measures server time as seen by a keep-alive client on
loopback: the overview, a school page, the alert list filtered by state,
and API requests/s. The peer is SQLite answering the page's main query
directly (the floor the page is built on).
Usage: web_bench.py COLLECTOR CONF STATE_DIR seed|measure PORT"""
import http.client, random, re, sqlite3, ssl, statistics, subprocess, sys, time, urllib.parse

COLLECTOR, CONF, STATE, what = sys.argv[1:5]
DB = STATE + "/eduwatch.db"
SCHOOLS, PCS, DAYS, ALERTS = 1500, 40, 90, 100000

if what == "seed":
    db = sqlite3.connect(DB, timeout=60)
    now = int(time.time() * 1e6)
    db.executemany("INSERT INTO schools(code,name,commune,level,expected_pcs,created) VALUES(?,?,?,?,?,?)",
                   [("S%04d" % i, "Trường số %d" % i, "Xã %d" % (i // 15), 2, PCS, now) for i in range(SCHOOLS)])
    db.executemany("INSERT INTO agents(id,school,hostname,cert_sha256,enrolled,last_seen) VALUES(?,?,?,?,?,?)",
                   [("a%04d-%02d" % (i, j), "S%04d" % i, "pc-%02d" % j, "x", now, now - random.randint(0, 10000) * 1000000)
                    for i in range(SCHOOLS) for j in range(PCS)])
    rows = []
    for d in range(DAYS):
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400 * (d + 1)))
        rows.append((day, "province", "", 70 + random.random() * 20, SCHOOLS * PCS))
        rows.extend((day, "school", "S%04d" % i, random.random() * 100, PCS) for i in range(SCHOOLS))
    db.executemany("INSERT INTO score_snapshots(day,scope,key,score,pcs) VALUES(?,?,?,?,?)", rows)
    states = ["open", "acknowledged", "resolved"]
    db.executemany(
        "INSERT INTO alerts(rule,title,category,kind,dedupe_key,agent,school,severity,drill,first,last,count,state,evidence,src_ip,file_path,file_hash)"
        " VALUES('scan.match','Mã độc','malware','scan.match',?,?,?,?,0,?,?,1,?,'{\"path\":\"C:\\\\x.exe\"}','','C:\\x.exe','')",
        [("k%d" % k, "a%04d-%02d" % (k % SCHOOLS, k % PCS), "S%04d" % (k % SCHOOLS), k % 11, now - k * 1000000,
          now - k * 1000000, states[k % 3]) for k in range(ALERTS)])
    db.commit()
    out = subprocess.run([COLLECTOR, "user", "add", "bench", "province_officer", "-c", CONF], capture_output=True, text=True).stdout
    print(re.search(r"one-time password: (\S+)", out).group(1))
    sys.exit(0)

PORT, PW = int(sys.argv[5]), sys.argv[6]
# run.sh measures twice: alone, then with ingest running beside it.
LABEL = sys.argv[7] if len(sys.argv) > 7 else ""
ctx = ssl.create_default_context(cafile=STATE + "/ca.crt")
conn = http.client.HTTPSConnection("localhost", PORT, context=ctx, timeout=60)
conn.request("POST", "/login", urllib.parse.urlencode({"user": "bench", "password": PW}),
             {"Content-Type": "application/x-www-form-urlencoded"})
r = conn.getresponse(); r.read()
cookie = r.getheader("Set-Cookie").split(";")[0]


def timed(path, n):
    t = []
    for _ in range(n):
        s = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie})
        r = conn.getresponse(); body = r.read()
        t.append((time.perf_counter() - s) * 1000)
        assert r.status == 200, (path, r.status)
    t.sort()
    return statistics.median(t), t[int(len(t) * 0.95) - 1], len(body)


def raw(sql, args, n):
    db = sqlite3.connect("file:%s?mode=ro" % DB, uri=True)
    t = []
    for _ in range(n):
        s = time.perf_counter()
        db.execute(sql, args).fetchall()
        t.append((time.perf_counter() - s) * 1000)
    t.sort()
    return statistics.median(t), t[int(len(t) * 0.95) - 1]


res = {}
res["overview"] = timed("/overview", 40)
res["school"] = timed("/schools/S0042", 100)
res["alerts"] = timed("/alerts?state=open", 100)
peer = {
    "overview": raw("SELECT s.code, s.name, s.commune, s.level, s.expected_pcs, (SELECT count(*) FROM agents a WHERE a.school = s.code AND a.revoked IS NULL) FROM schools s ORDER BY s.commune, s.code", (), 20),
    "school": raw("SELECT id, hostname, last_seen FROM agents WHERE school = ? ORDER BY hostname", ("S0042",), 100),
    "alerts": raw("SELECT * FROM alerts a LEFT JOIN agents g ON g.id = a.agent LEFT JOIN schools c ON c.code = a.school WHERE a.state = 'open' ORDER BY a.id DESC LIMIT 50", (), 100),
}
n, s = 0, time.perf_counter()
while time.perf_counter() - s < 5:
    conn.request("GET", "/api/v1/alerts?limit=50", headers={"Cookie": cookie})
    r = conn.getresponse(); r.read(); n += 1
rps = n / (time.perf_counter() - s)
for k in ("overview", "school", "alerts"):
    p50, p95, size = res[k]
    q50, q95 = peer[k]
    print("ROW|web%s: %s page (server time, p95; %d KB)|%.1f ms (p50 %.1f)|SQLite query alone: %.1f ms|%.1fx (target p95 < 100 ms)"
          % (LABEL, k, size // 1024, p95, p50, q95, p95 / max(q95, 0.001)))
print("ROW|web%s: API GET /api/v1/alerts?limit=50, one keep-alive client|%.0f req/s|-|-" % (LABEL, rps))
