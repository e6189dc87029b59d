#!/usr/bin/python3
"""The console's drill pages against a running collector (drill_redteam.sh
starts it): scoping, the second-person approval, abort, and red-team
actions by form and CSV with their CSRF and role checks. Prints one line
"NAME ok" or "NAME differs: ..." per check, for the shell to assert.

usage: drill_console.py COLLECTOR CONF STATE PORT"""
import os, re, sqlite3, subprocess, sys, datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webclient import Client, totp  # noqa: E402

COLLECTOR, CONF, STATE, PORT = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
CA = STATE + "/ca.crt"
db = sqlite3.connect(STATE + "/eduwatch.db", timeout=30)


def cli(*args):
    r = subprocess.run([COLLECTOR, *args, "-c", CONF], capture_output=True, text=True)
    return r.stdout + r.stderr


def result(name, ok, why=""):
    print("%s %s" % (name, "ok" if ok else "differs: " + why), flush=True)


PW, SECRET = {}, {}
for name, role, scope in (("wadmin", "province_admin", None), ("worg", "drill_organiser", None),
                          ("wsch1", "school_officer", "RT1"), ("wsch2", "school_officer", "RT2")):
    out = cli("user", "add", name, role, *([scope] if scope else []))
    PW[name] = re.search(r"one-time password: (\S+)", out).group(1)
    m = re.search(r"TOTP secret: (\S+)", out)
    if m:
        SECRET[name] = m.group(1)
S = {}
for name in PW:
    S[name] = Client(PORT, CA)
    r = S[name].login(name, PW[name], totp(SECRET[name]) if name in SECRET else "")
    if r.status != 303:
        result("login-" + name, False, str(r.status))
    S[name].req("GET", "/drills")

cli("drill", "plan", "--name", "wc-rt", "--type", "red-team", "--by", "worg", "--school", "RT1", "--expires", "1h")
cli("drill", "plan", "--name", "wc-rt2", "--type", "red-team", "--by", "worg", "--school", "RT2", "--expires", "1h")
cli("drill", "plan", "--name", "wc-inj", "--type", "malware-drop", "--by", "worg", "--school", "RT1", "--expires", "1h")
ID = {n: db.execute("SELECT id FROM drill_campaigns WHERE name = ?", (n,)).fetchone()[0]
      for n in ("wc-rt", "wc-rt2", "wc-inj")}


def state(n):
    return db.execute("SELECT state FROM drill_campaigns WHERE id = ?", (ID[n],)).fetchone()[0]


def actions(n):
    return db.execute("SELECT count(*) FROM redteam_actions WHERE campaign = ?", (ID[n],)).fetchone()[0]


body = S["wsch2"].req("GET", "/drills").body
result("scope-list", "wc-rt2" in body and "wc-rt<" not in body and "wc-inj" not in body,
       "the RT2 officer's list")
code = S["wsch2"].req("GET", "/drills/%d" % ID["wc-rt"]).status
result("scope-404", code == 404, str(code))
r = S["wsch1"].req("GET", "/drills/%d" % ID["wc-rt"])
result("school-sees-own", r.status == 200 and 'id="approve"' not in r.body, str(r.status))
code = S["wsch1"].req("POST", "/drills/%d/approve" % ID["wc-rt"], {"csrf": S["wsch1"].csrf}).status
result("school-cannot-approve", code == 403 and state("wc-rt") == "planned", str(code))
r = S["worg"].req("GET", "/drills/%d" % ID["wc-rt"])
result("organiser-no-approve-button", r.status == 200 and 'id="approve"' not in r.body, str(r.status))
code = S["worg"].req("POST", "/drills/%d/approve" % ID["wc-rt"], {"csrf": S["worg"].csrf}).status
result("organiser-cannot-approve", code == 403 and state("wc-rt") == "planned", str(code))
r = S["wadmin"].req("GET", "/drills/%d" % ID["wc-rt"])
code = S["wadmin"].req("POST", "/drills/%d/approve" % ID["wc-rt"], {}).status
result("approve-needs-csrf", code == 403 and state("wc-rt") == "planned", str(code))
code = S["wadmin"].req("POST", "/drills/%d/approve" % ID["wc-rt"], {"csrf": S["wadmin"].csrf}).status
result("admin-approves", 'id="approve"' in r.body and code == 303 and state("wc-rt") == "approved",
       "%d %s" % (code, state("wc-rt")))
cli("drill", "start", "--name", "wc-rt")

now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
S["worg"].req("GET", "/drills/%d" % ID["wc-rt"])
one = {"csrf": S["worg"].csrf, "time": now, "target": "host:PC-01", "technique": "T1059.001",
       "description": "<script>alert(1)</script> encoded PowerShell", "csv": ""}
code = S["worg"].req("POST", "/drills/%d/actions" % ID["wc-rt"], one).status
result("organiser-records-one", code == 303 and actions("wc-rt") == 1, "%d %d" % (code, actions("wc-rt")))
bad = {"csrf": S["worg"].csrf, "csv": "time,target,technique,description\r\n%s,host:a,T1078,ok\r\n"
       "%s,host:a,T10780,bad\r\n" % (now, now)}
r = S["worg"].req("POST", "/drills/%d/actions" % ID["wc-rt"], bad)
result("bad-csv-refused-whole", r.status == 400 and "line 3, column technique" in r.body and actions("wc-rt") == 1,
       "%d %d" % (r.status, actions("wc-rt")))
good = {"csrf": S["worg"].csrf, "csv": "time,target,technique,description\r\n%s,host:a,T1078,ok\r\n"
        "%s,school:RT1,T1566.001,phish\r\n" % (now, now)}
code = S["worg"].req("POST", "/drills/%d/actions" % ID["wc-rt"], good).status
result("csv-recorded", code == 303 and actions("wc-rt") == 3, "%d %d" % (code, actions("wc-rt")))
code = S["worg"].req("POST", "/drills/%d/actions" % ID["wc-rt"], dict(one, csrf="0" * 64)).status
result("actions-need-csrf", code == 403 and actions("wc-rt") == 3, str(code))
code = S["wsch1"].req("POST", "/drills/%d/actions" % ID["wc-rt"], dict(one, csrf=S["wsch1"].csrf)).status
result("school-cannot-record", code == 403 and actions("wc-rt") == 3, str(code))
code = S["worg"].req("POST", "/drills/%d/actions" % ID["wc-rt2"], dict(one, csrf=S["worg"].csrf)).status
result("planned-window-refuses-actions", code == 409 and actions("wc-rt2") == 0, str(code))
r = S["wadmin"].req("GET", "/drills/%d" % ID["wc-rt"])
result("figures-and-escaping", r.status == 200 and 'id="coverage"' in r.body and "T1059.001" in r.body and
       "<script>alert(1)" not in r.body and "&lt;script&gt;alert(1)" in r.body, str(r.status))
result("vietnamese", "Diễn tập sự cố" in r.body and "Tỷ lệ phát hiện" in r.body, "strings")
# An alert on PC-02 comes in; then the organiser writes an action that
# "explains" it, claiming a time before it: recorded, but set apart.
us = int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000000)
db.execute("INSERT INTO alerts(rule, title, category, kind, dedupe_key, agent, school, severity, drill, first, last,"
           " count, state, evidence, src_ip, file_path, file_hash) VALUES('r', 'seen first', 'malware', 'scan.match',"
           " 'k-late', 'PC-02', 'RT1', 8, 0, ?, ?, 1, 'open', '{}', '', '', '')", (us, us))
db.commit()
S["worg"].req("GET", "/drills/%d" % ID["wc-rt"])
code = S["worg"].req("POST", "/drills/%d/actions" % ID["wc-rt"],
                     dict(one, csrf=S["worg"].csrf, target="host:PC-02", description="written from the alert")).status
r = S["wadmin"].req("GET", "/drills/%d" % ID["wc-rt"])
late = re.search(r'<table id="late">(.*?)</table>', r.body, re.S)
count = re.search(r'id="late-count">(\d+)<', r.body)
result("late-set-apart", code == 303 and late is not None and "written from the alert" in late.group(1) and
       "encoded PowerShell" not in late.group(1) and count is not None and count.group(1) == "1",
       "%d %s" % (code, count.group(1) if count else None))
ahead = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
back = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
rs = [S["worg"].req("POST", "/drills/%d/actions" % ID["wc-rt"], dict(one, csrf=S["worg"].csrf, time=t)) for t in (ahead, back)]
result("far-claims-refused", [x.status for x in rs] == [400, 400] and "lies in the future" in rs[0].body and
       "more than drill.redteam_grace ago" in rs[1].body and actions("wc-rt") == 4,
       "%s %d" % ([x.status for x in rs], actions("wc-rt")))
r = S["wadmin"].req("GET", "/drills/%d" % ID["wc-inj"])
result("injection-page", r.status == 200 and 'id="scoreboard"' in r.body and 'id="timeline"' in r.body,
       str(r.status))
S["worg"].req("GET", "/drills/%d" % ID["wc-rt2"])
code = S["worg"].req("POST", "/drills/%d/abort" % ID["wc-rt2"], {"csrf": S["worg"].csrf}).status
result("organiser-aborts", code == 303 and state("wc-rt2") == "aborted", "%d %s" % (code, state("wc-rt2")))
audit = db.execute("SELECT count(*) FROM audit_log WHERE action IN ('drill.approve', 'drill.action', 'drill.abort')"
                   ).fetchone()[0]
late_audit = db.execute("SELECT count(*) FROM audit_log WHERE action = 'drill.action'"
                        " AND detail = '1 red-team action(s), 1 recorded late'").fetchone()[0]
result("audited", audit == 5 and late_audit == 1, "%d %d" % (audit, late_audit))
