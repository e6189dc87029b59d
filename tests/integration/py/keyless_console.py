#!/usr/bin/python3
"""The console of a collector running without the CA key (collector_ca_key.sh
starts it): publishing rules and IOC lists and signing a report are refused
with a page that says why, and nothing is signed. Prints one TAP-style line
"NAME ok" or "NAME differs: ..." per check, for the shell to assert.

usage: keyless_console.py COLLECTOR CONF STATE PORT"""
import glob, os, re, sqlite3, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webclient import Client, totp  # noqa: E402

COLLECTOR, CONF, STATE, PORT = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
# In either language: the page is the officer's (Vietnamese by default).
REFUSAL = "(ca.key)"


def cli(*args):
    r = subprocess.run([COLLECTOR, *args, "-c", CONF], capture_output=True, text=True)
    return r.stdout + r.stderr


def result(name, ok, why=""):
    print("%s %s" % (name, "ok" if ok else "differs: " + why), flush=True)


def bundles():
    return sorted(glob.glob(STATE + "/bundles/*"))


out = cli("user", "add", "kadmin", "province_admin")
pw = re.search(r"one-time password: (\S+)", out).group(1)
secret = re.search(r"TOTP secret: (\S+)", out).group(1)
adm = Client(PORT, STATE + "/ca.crt")
r = adm.login("kadmin", pw, totp(secret))
result("login", r.status == 303, str(r.status))

before = bundles()
r = adm.req("GET", "/admin/publish")
# No form that would only be refused: the page says why instead.
result("publish-page-keyless", r.status == 200 and 'id="publish-keyless"' in r.body
       and REFUSAL in r.body and "/admin/publish/rules" not in r.body
       and "/admin/publish/ioc" not in r.body, "%d %s" % (r.status, r.body[-400:]))
r = adm.req("POST", "/admin/publish/rules", {"csrf": adm.csrf})
result("publish-rules", r.status == 503 and REFUSAL in r.body, "%d %s" % (r.status, r.body[:200]))
r = adm.req("POST", "/admin/publish/ioc", {"csrf": adm.csrf, "ioc": "evil.example\r\n"})
result("publish-ioc", r.status == 503 and REFUSAL in r.body, "%d %s" % (r.status, r.body[:200]))
result("nothing-signed", bundles() == before, "%s -> %s" % (before, bundles()))

cli("report", "draft", "--period", "2026-H1", "--scope", "school:79041")
db = sqlite3.connect(STATE + "/eduwatch.db", timeout=30)
rid = db.execute("SELECT id FROM reports WHERE period = '2026-H1' ORDER BY id DESC").fetchone()
result("report-drafted", rid is not None, "no draft")
rid = str(rid[0]) if rid else "0"
r = adm.req("GET", "/reports/" + rid)
result("report-page-keyless", r.status == 200 and 'id="sign-keyless"' in r.body
       and 'id="sign"' not in r.body, "%d %s" % (r.status, r.body[-400:]))
r = adm.req("POST", "/api/v1/reports/%s/sign" % rid, {}, headers={"X-CSRF-Token": adm.csrf})
result("sign-api", r.status == 503 and REFUSAL in r.body, "%d %s" % (r.status, r.body[:200]))
r = adm.req("POST", "/reports/%s/sign" % rid, {"csrf": adm.csrf})
result("sign-page", r.status == 503 and REFUSAL in r.body, "%d %s" % (r.status, r.body[:200]))
signed = db.execute("SELECT count(*) FROM reports WHERE state = 'signed'").fetchone()[0]
result("report-unsigned", signed == 0, "%d signed" % signed)
