#!/usr/bin/python3
"""The console's accounts, roles, sessions and attack surface, over real
TLS against a running collector (web_console.sh starts it). Prints TAP
lines numbered from TAP0.

Usage: web_console.py COLLECTOR CONF STATE PORT TAP0 SEEDFILE NAME
  NAME "seed": schools and users made with the collector's own CLI; PCs
    and alerts, which only agents can make, written into the collector's
    SQLite file with hostile host names and file paths, as a PC could
    report them. What the scenarios need of it (passwords, TOTP secrets,
    alert ids) goes to SEEDFILE (JSON), once per run of web_console.sh.
  NAME a scenario (a scenario_NAME function below; web_console.sh has one
    of the same name for each): it reads SEEDFILE and logs each account it
    uses in on first use, so it runs alone or after the others, in a
    process of its own."""
import glob, gzip, hashlib, html, http.client, json, os, re, socket, sqlite3, ssl, struct, \
    subprocess, sys, time, urllib.parse

COLLECTOR, CONF, STATE, PORT, TAP0 = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
SEEDFILE, NAME = sys.argv[6], sys.argv[7]
n = TAP0
failed = 0


def tap(ok, what):
    global n, failed
    n += 1
    if not ok:
        failed += 1
    print(("ok" if ok else "not ok") + " %d - %s" % (n, what), flush=True)
    return ok


def cli(*args):
    r = subprocess.run([COLLECTOR, *args, "-c", CONF], capture_output=True, text=True)
    if r.returncode != 0:
        print("# cli %s: %s" % (args, r.stderr.strip()), file=sys.stderr)
    return r.stdout


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "py"))
import webclient  # noqa: E402
from webclient import totp  # noqa: E402


CTX = ssl.create_default_context(cafile=STATE + "/ca.crt")


class Client(webclient.Client):
    """One browser of this run's console: its cookie jar and the CSRF token
    of its last page (tests/integration/py/webclient.py)."""

    def __init__(self, origin=True):
        super().__init__(PORT, STATE + "/ca.crt", origin)


XSS_SCHOOL = 'Trường <img src=x onerror=alert(1)>'
XSS_HOST = '<script>alert("host")</script>'
XSS_PATH = 'C:\\Users\\"><svg onload=alert(1)>.exe'
ROLES = [("admin", "province_admin", None), ("prov", "province_officer", None),
         ("comm", "commune_officer", "Xã A"), ("sch", "school_officer", "A1"),
         ("soc", "soc_viewer", None), ("drill", "drill_organiser", None),
         ("aud", "auditor", None)]
db = sqlite3.connect(STATE + "/eduwatch.db", timeout=30)
now = int(time.time() * 1e6)
BUNDLES = STATE + "/bundles"


# ---- seed ---------------------------------------------------------------------
def seed():
    cli("school", "add", "A1", XSS_SCHOOL, "--commune", "Xã A", "--level", "2", "--expected-pcs", "2")
    cli("school", "add", "A2", "Trường A2", "--commune", "Xã A", "--level", "2", "--expected-pcs", "1")
    cli("school", "add", "B1", "=HYPERLINK(\"http://evil\")", "--commune", "Xã B", "--level", "1", "--expected-pcs", "1")
    # Communes whose byte order is not their Vietnamese order (Â sorts after B
    # by bytes): the console's lists use the "vi" collation.
    for code, commune in (("V1", "Bình Minh"), ("V2", "Ân Phú"), ("V3", "An Lạc")):
        cli("school", "add", code, "Trường " + commune, "--commune", commune, "--level", "1", "--expected-pcs", "0")

    PW, SECRET = {}, {}
    for name, role, scope in ROLES:
        out = cli("user", "add", name, role, *([scope] if scope else []))
        PW[name] = re.search(r"one-time password: (\S+)", out).group(1)
        m = re.search(r"TOTP secret: (\S+)", out)
        if m:
            SECRET[name] = m.group(1)
    tap(set(PW) == {r[0] for r in ROLES} and "admin" in SECRET and len(SECRET) == 1,
        "user add prints a one-time password for each role, a TOTP secret for the admin only")

    db.execute("INSERT INTO agents(id, school, hostname, cert_sha256, enrolled, last_seen) VALUES(?,?,?,?,?,?)",
               ("pcA1", "A1", XSS_HOST, "x", now - 86400e6, now))
    db.execute("INSERT INTO agents(id, school, hostname, cert_sha256, enrolled, last_seen) VALUES(?,?,?,?,?,?)",
               ("pcA1b", "A1", "old-pc", "x", now - 86400e6 * 10, now - 86400e6 * 5))
    db.execute("INSERT INTO agents(id, school, hostname, cert_sha256, enrolled) VALUES(?,?,?,?,?)",
               ("pcB1", "B1", "pc-b1", "x", now))
    ALERT = {}

    def add_alert(key, school, agent, path="", sev=8, drill=0):
        cur = db.execute(
            "INSERT INTO alerts(rule, title, category, kind, dedupe_key, agent, school, severity, drill,"
            " first, last, count, state, evidence, src_ip, file_path, file_hash)"
            " VALUES('scan.match','Mã độc: ' || ?, 'malware', 'scan.match', ?, ?, ?, ?, ?, ?, ?, 1, 'open', '{}', '', ?, '')",
            (key, key, agent, school, sev, drill, now, now, path))
        ALERT[key] = cur.lastrowid

    add_alert("xss", "A1", "pcA1", XSS_PATH)
    add_alert("ui", "A1", "pcA1", "", 9, 1)
    for name, _, _ in ROLES:
        add_alert("m-%s-in" % name, "A1", "pcA1")
        add_alert("m-%s-out" % name, "B1", "pcB1")
    for i in range(5):
        add_alert("page-%d" % i, "A2", "", "", 3)
    db.commit()
    json.dump({"pw": PW, "secret": SECRET, "alert": ALERT}, open(SEEDFILE, "w"))


class Sessions(dict):
    """Each account's browser, with the CSRF token of a page, as the RBAC
    matrix needs: on first use, the session an earlier scenario of this run
    left (SEEDFILE.sessions) if it is still live, as one script's sessions
    were before it was split, else a new login (the admin with its TOTP
    code). save() leaves this scenario's for the next."""

    def __missing__(self, name):
        c = Client()
        kept = json.load(open(SESSIONS)).get(name) if os.path.exists(SESSIONS) else None
        if kept:
            c.cookies, c.csrf = kept["cookies"], kept["csrf"]
            if c.req("GET", "/alerts").status == 200:
                self[name] = c
                return c
            c = Client()
        r = c.login(name, PW[name], totp(SECRET[name]) if name in SECRET else "")
        if r.status != 303:
            tap(False, "login as %s (%d)" % (name, r.status))
        c.req("GET", "/login")  # no csrf on the login page; take it from a page below
        c.req("GET", "/alerts")
        self[name] = c
        return c

    def save(self):
        kept = json.load(open(SESSIONS)) if os.path.exists(SESSIONS) else {}
        kept.update({name: {"cookies": c.cookies, "csrf": c.csrf} for name, c in self.items()})
        json.dump(kept, open(SESSIONS, "w"))


SESSIONS = SEEDFILE + ".sessions"
S = Sessions()


# The admin pages' POSTs in the RBAC matrix send the school as it is (in:
# A1, out: B1), so an allowed save changes nothing the rows below rely on.
SCHOOL_AS_IS = {"A1": (XSS_SCHOOL, "Xã A", "2", "2"), "B1": ("=HYPERLINK(\"http://evil\")", "Xã B", "1", "1")}


def as_role(name, method, path, form):
    """One request of role NAME's session; a POST sends FORM with the
    session's CSRF token, in the header for the API, in the form for a page."""
    c = S[name]
    if method != "POST":
        return c.req(method, path)
    if "/api/" in path:
        return c.req(method, path, form, headers={"X-CSRF-Token": c.csrf})
    return c.req(method, path, dict(form, csrf=c.csrf))


def matrix_wrong(endpoints, matrix, ask):
    """An RBAC matrix: each role asks each endpoint about an object in its
    scope and one outside it; MATRIX holds a role's "in/out" statuses, one
    pair per endpoint, in order. ask(name, side, label, method, path) sends
    one request and returns (path sent, response). The mismatches, the
    first ten also on stderr."""
    bad = []
    for name, _, _ in ROLES:
        for (label, method, path), pair in zip(endpoints, matrix[name].split()):
            for side, exp in zip(("in", "out"), pair.split("/")):
                p, r = ask(name, side, label, method, path)
                if str(r.status) != exp:
                    bad.append("%s %s %s %s: %d, want %s" % (name, side, method, p, r.status, exp))
    for b in bad[:10]:
        print("# " + b, file=sys.stderr)
    return bad


def matrix_form(label, code):
    if label == "school save":
        name, commune, level, pcs = SCHOOL_AS_IS[code]
        return {"code": code, "name": name, "commune": commune, "level": level, "expected_pcs": pcs}
    if label == "publish IOC":
        return {"ioc": "matrix-%s.example\n" % code}
    return {}


def raw_get(client, path, enc):
    c = http.client.HTTPSConnection("localhost", PORT, context=CTX, timeout=30)
    c.request("GET", path, headers={"Host": "localhost:%d" % PORT, "Accept-Encoding": enc,
                                    "Cookie": "; ".join("%s=%s" % kv for kv in client.cookies.items())})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def school_count():
    return db.execute("SELECT count(*) FROM schools").fetchone()[0]


def audit_rows(action):
    return db.execute("SELECT actor, object, detail FROM audit_log WHERE action = ? ORDER BY id", (action,)).fetchall()


def commands(kind):
    return db.execute("SELECT count(*), sum(length(frame) > 0) FROM commands WHERE type = ?", (kind,)).fetchone()


def curl_bytes(user, path):
    return subprocess.run(["curl", "-sk", "-D", "-", "--cacert", STATE + "/ca.crt", "-H",
                           "Cookie: " + "; ".join("%s=%s" % kv for kv in S[user].cookies.items()),
                           "https://localhost:%d%s" % (PORT, path)], capture_output=True).stdout


def xlsx_figures(body):
    import io, openpyxl
    wb = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    return {r[0]: r for ws in wb.worksheets for r in ws.iter_rows(values_only=True) if r and r[0]}


def sys_row(name):
    return db.execute("SELECT level, dossier, decision_no, hosts FROM systems WHERE unit = 'A1' AND name = ?",
                      (name,)).fetchone()


def a1_level():
    return db.execute("SELECT level FROM schools WHERE code = 'A1'").fetchone()[0]


def mp(v):
    """msgpack for the few types a PC's state holds (the agent's wire format)."""
    if isinstance(v, bool):
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        return b"\xcf" + struct.pack(">Q", v) if v >= 0 else b"\xd3" + struct.pack(">q", v)
    if isinstance(v, str):
        e = v.encode()
        return bytes([0xd9, len(e)]) + e
    if isinstance(v, dict):
        return bytes([0x80 | len(v)]) + b"".join(mp(k) + mp(x) for k, x in v.items())
    raise TypeError(v)


def tls_conn():
    raw = socket.create_connection(("localhost", PORT), timeout=60, source_address=("127.0.0.2", 0))
    return CTX.wrap_socket(raw, server_hostname="localhost")


def keep_report_ids():
    """The 2026-H1 report of A1 and of B1 by school, kept beside SEEDFILE
    for the scenarios after the one that drafted them."""
    rid = {code: str(i) for code, i in db.execute("SELECT substr(scope, 8), id FROM reports WHERE period = '2026-H1'")}
    json.dump(rid, open(SEEDFILE + ".reports", "w"))
    return rid


def report_ids():
    """The drafts the reports scenario made, or, run without it, drafts of
    the same two reports from the console (audit-logged as report.generate,
    as that scenario's are)."""
    if not os.path.exists(SEEDFILE + ".reports"):
        for code in ("A1", "B1"):
            S["admin"].req("POST", "/api/v1/reports", {"period": "2026-H1", "scope": "school:" + code},
                           headers={"X-CSRF-Token": S["admin"].csrf})
        return keep_report_ids()
    return json.load(open(SEEDFILE + ".reports"))


# ---- login and cookies ------------------------------------------------------------
def scenario_login_cookies():
    anon = Client()
    r = anon.req("GET", "/overview")
    tap(r.status == 303 and r.getheader("Location") == "/login", "a page without a session redirects to /login")
    r = anon.req("GET", "/api/v1/schools")
    tap(r.status == 401 and r.getheader("Content-Type") == "application/problem+json",
        "the API without credentials is a 401 problem document")
    r = anon.req("GET", "/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    tap("Log in" in r.body and 'lang="en"' in r.body, "Accept-Language en gives the English login page")
    r = anon.req("GET", "/login")
    tap("Đăng nhập" in r.body and 'lang="vi"' in r.body, "the login page is Vietnamese by default")

    fix = Client()
    planted = "ab" * 32
    fix.cookies["__Host-ew_session"] = planted
    r = fix.login("sch", PW["sch"])
    cookie = [v for k, v in r.getheaders() if k.lower() == "set-cookie"]
    tap(r.status == 303 and cookie and fix.cookies.get("__Host-ew_session") not in (None, planted),
        "login issues a new session id, never the one the client planted (fixation)")
    c0 = cookie[0] if cookie else ""
    tap(all(f in c0 for f in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/")) and c0.startswith("__Host-")
        and "Domain" not in c0, "the session cookie is __Host-, HttpOnly, Secure, SameSite=Strict (%s)" % c0[:40])
    tap(len(fix.cookies["__Host-ew_session"]) == 64, "the session id is 256 bits")
    rows = db.execute("SELECT hex(hash) FROM sessions").fetchall()
    tap(all(h.lower() != fix.cookies["__Host-ew_session"] for (h,) in rows),
        "the store keeps the session's hash, not the id")
    evil = Client()
    evil.cookies["__Host-ew_session"] = planted
    tap(evil.req("GET", "/overview").status == 303, "the planted id does not open a session")


# ---- TOTP -----------------------------------------------------------------------------------
def scenario_totp_login():
    adm = Client()
    tap(adm.login("admin", PW["admin"]).status == 401, "the admin without a TOTP code is refused")
    tap(adm.login("admin", PW["admin"], "000000" if totp(SECRET["admin"]) != "000000" else "111111").status == 401,
        "the admin with a wrong TOTP code is refused")
    tap(adm.login("admin", PW["admin"], totp(SECRET["admin"])).status == 303, "the admin with the right TOTP code logs in")


# ---- the RBAC matrix ------------------------------------------------------------------
def scenario_rbac():
    for name, _, _ in ROLES:
        S[name]
    # in: A1 (in every scoped role's scope); out: B1 (outside Xã A and A1).
    ENDPOINTS = [
        # name,            method, path
        ("overview",       "GET",  "/overview"),
        ("school page",    "GET",  "/schools/{s}"),
        ("PC page",        "GET",  "/pcs/{p}"),
        ("alerts page",    "GET",  "/alerts"),
        ("users page",     "GET",  "/admin/users"),
        ("audit page",     "GET",  "/admin/audit"),
        ("schools csv",    "GET",  "/schools.csv"),
        ("api school",     "GET",  "/api/v1/schools/{s}"),
        ("api school pcs", "GET",  "/api/v1/schools/{s}/pcs"),
        ("api pc",         "GET",  "/api/v1/pcs/{p}"),
        ("api alerts",     "GET",  "/api/v1/alerts"),
        ("api audit",      "GET",  "/api/v1/audit"),
        ("ack (page)",     "POST", "/alerts/{a}/ack"),
        ("ack (api)",      "POST", "/api/v1/alerts/{a}/resolve"),
        ("commune page",   "GET",  "/commune?name={c}"),
        ("SOC feed page",  "GET",  "/soc"),
        ("schools admin",  "GET",  "/admin/schools"),
        ("school edit",    "GET",  "/admin/schools/{s}"),
        ("school save",    "POST", "/admin/schools"),
        ("publish page",   "GET",  "/admin/publish"),
        ("publish rules",  "POST", "/admin/publish/rules"),
        ("publish IOC",    "POST", "/admin/publish/ioc"),
        ("volume (api)",   "GET",  "/api/v1/alerts/volume"),
        ("volume csv",     "GET",  "/alerts/volume.csv"),
        ("volume page",    "GET",  "/alerts/volume"),
    ]

    # Expected status per role: one "in/out" pair per endpoint, in order.
    MATRIX = {
        "admin": "200/200 200/200 200/200 200/200 200/200 200/200 200/200 200/200 200/200 200/200 200/200 200/200 303/303 200/200 200/200 200/200 200/200 200/200 303/303 200/200 200/200 200/200 200/200 200/200 200/200",
        "prov":  "200/200 200/200 200/200 200/200 403/403 403/403 200/200 200/200 200/200 200/200 200/200 403/403 303/303 200/200 200/200 403/403 403/403 403/403 403/403 403/403 403/403 403/403 200/200 200/200 200/200",
        "comm":  "200/200 200/404 200/404 200/200 403/403 403/403 200/200 200/404 200/404 200/404 200/200 403/403 303/404 200/404 200/404 403/403 403/403 403/403 403/403 403/403 403/403 403/403 200/200 200/200 200/200",
        "sch":   "200/200 200/404 200/404 200/200 403/403 403/403 200/200 200/404 200/404 200/404 200/200 403/403 303/404 200/404 404/404 403/403 403/403 403/403 403/403 403/403 403/403 403/403 200/200 200/200 200/200",
        "soc":   "403/403 403/403 403/403 200/200 403/403 403/403 403/403 403/403 403/403 403/403 200/200 403/403 403/403 403/403 403/403 200/200 403/403 403/403 403/403 403/403 403/403 403/403 200/200 200/200 200/200",
        "drill": "200/200 200/200 200/200 200/200 403/403 403/403 200/200 200/200 200/200 200/200 200/200 403/403 403/403 403/403 200/200 403/403 403/403 403/403 403/403 403/403 403/403 403/403 200/200 200/200 200/200",
        "aud":   "200/200 200/200 200/200 200/200 403/403 200/200 200/200 200/200 200/200 200/200 200/200 200/200 403/403 403/403 200/200 403/403 403/403 403/403 403/403 403/403 403/403 403/403 200/200 200/200 200/200",
    }

    def ask(name, side, label, method, path):
        obj = {"s": "A1" if side == "in" else "B1", "p": "pcA1" if side == "in" else "pcB1",
               "c": urllib.parse.quote("Xã A" if side == "in" else "Xã B")}
        p = path.replace("{s}", obj["s"]).replace("{p}", obj["p"]).replace("{c}", obj["c"])
        if "{a}" in p:
            p = p.replace("{a}", str(ALERT["m-%s-%s" % (name, side)]))
            return p, as_role(name, method, p, {"comment": "matrix"})
        return p, as_role(name, method, p, matrix_form(label, obj["s"]))
    bad = matrix_wrong(ENDPOINTS, MATRIX, ask)
    tap(not bad, "RBAC matrix: %d roles x %d endpoints x in/out scope give the expected 200/303/403/404 (%d wrong)"
        % (len(ROLES), len(ENDPOINTS), len(bad)))

    r = S["sch"].req("GET", "/api/v1/alerts?limit=500")
    schools = set(re.findall(r'"school":"([^"]*)"', r.body))
    tap(r.status == 200 and schools == {"A1"}, "a school officer's alert list holds only its school (%s)" % sorted(schools))
    r = S["comm"].req("GET", "/api/v1/schools")
    tap(sorted(re.findall(r'"code":"([^"]*)"', r.body)) == ["A1", "A2"], "a commune officer sees the schools of its commune")

    for who, q, want in (("sch", "scope=school&key=A1", 200), ("sch", "scope=school&key=B1", 404),
                         ("sch", "scope=province", 404), ("comm", "scope=commune&key=X%C3%A3%20A", 200),
                         ("comm", "scope=commune&key=X%C3%A3%20B", 404), ("prov", "scope=province", 200),
                         ("prov", "scope=bogus", 404), ("prov", "limit=5", 400)):
        r = S[who].req("GET", "/api/v1/scores?" + q)
        tap(r.status == want, "score series %s for %s: %d (want %d)" % (q, who, r.status, want))
    r = S["sch"].req("GET", "/api/v1/live")
    tap(r.status == 200 and re.match(r'\{"stamp":"\d+-\d+-', r.body) is not None, "the live stamp is a cheap JSON call")
    r = S["sch"].req("GET", "/overview")
    js = re.findall(r'src="/static/([^"]+)"', r.body)
    ok = len(js) == 2
    for name in js:
        a = S["sch"].req("GET", "/static/" + name)
        ok = ok and a.status == 200 and "immutable" in (a.getheader("Cache-Control") or "") and a.getheader("Content-Type").startswith("text/javascript")
    tap(ok and any(n.startswith("uplot-") for n in js), "uPlot and console.js are served by the collector under hashed names, cached for a year (%s)" % js)
    tap(S["sch"].req("GET", "/static/uplot-000000000000.js").status == 404, "an unknown asset name is a 404")

    up = [n for n in js if n.startswith("uplot-")][0] if js else "none"
    r, gz = raw_get(S["sch"], "/static/" + up, "gzip")
    r2, plain = raw_get(S["sch"], "/static/" + up, "identity")
    tap(r.getheader("Content-Encoding") == "gzip" and len(gz) < len(plain) / 2 and gzip.decompress(gz) == plain
        and r2.getheader("Content-Encoding") is None,
        "static assets are gzip-compressed for a client that asks (%d -> %d bytes), plain otherwise" % (len(plain), len(gz)))
    r, body = raw_get(S["sch"], "/api/v1/alerts?limit=500", "gzip")
    tap(r.getheader("Content-Encoding") == "gzip" and b'"items"' in gzip.decompress(body), "API answers are gzip-compressed")
    r, body = raw_get(S["sch"], "/alerts", "gzip")
    tap(r.status == 200 and r.getheader("Content-Encoding") is None and b'name="csrf"' in body,
        "HTML pages, which carry the CSRF token, are never compressed (BREACH)")


# ---- admin pages that change things: schools, publishing (issue 17) --------------------
def scenario_admin_schools():
    adm = S["admin"]
    adm.req("GET", "/admin/schools")
    n0 = school_count()
    r = adm.req("POST", "/admin/schools", {"csrf": adm.csrf, "code": "N1", "name": "Trường Mầm non Hoa Sen",
                                            "commune": "Xã A", "level": "1", "expected_pcs": "12"})
    listed = json.loads(cli("school", "list", "--json") or "[]")
    n1 = [x for x in listed if x["code"] == "N1"]
    tap(r.status == 303 and n1 and n1[0]["name"] == "Trường Mầm non Hoa Sen" and n1[0]["expected_pcs"] == 12,
        "an admin adds a school from the console; the CLI's school list has it (%d)" % r.status)
    r = adm.req("GET", "/admin/schools/N1")
    tap(r.status == 200 and 'value="Trường Mầm non Hoa Sen"' in r.body and 'id="school-code">N1<' in r.body,
        "the edit page shows the school's fields, the code fixed")
    r = adm.req("POST", "/admin/schools", {"csrf": adm.csrf, "code": "N1", "name": "Trường Mầm non Sen Hồng",
                                            "commune": "Xã A", "level": "2", "expected_pcs": "15"})
    listed = {x["code"]: x for x in json.loads(cli("school", "list", "--json") or "[]")}
    tap(r.status == 303 and listed.get("N1", {}).get("name") == "Trường Mầm non Sen Hồng"
        and listed["N1"]["level"] == 2 and school_count() == n0 + 1,
        "an admin edits it: the same row changes, no second school")
    add, edit = audit_rows("school.add"), audit_rows("school.edit")
    tap(any(o == "school:N1" and a == "admin" for a, o, _ in add)
        and any(o == "school:N1" and "Hoa Sen" in d and "Sen Hồng" in d for _, o, d in edit),
        "adding and editing are audit-logged with who, the school and old -> new values")
    BAD_SCHOOLS = [
        ("a code with a slash", {"code": "../N2"}),
        ("a code of 33 characters", {"code": "N" * 33}),
        ("an empty name", {"name": ""}),
        ("a name with an escape byte", {"name": "Tr\x1b[2Jường"}),
        ("a name with a newline", {"name": "Trường\nA"}),
        ("a name over 128 bytes", {"name": "x" * 400}),
        ("an empty commune", {"commune": ""}),
        ("level 0", {"level": "0"}),
        ("level 9", {"level": "9"}),
        ("level as text", {"level": "two"}),
        ("a negative PC count", {"expected_pcs": "-1"}),
        ("a PC count over 100000", {"expected_pcs": "100001"}),
        ("no code at all", {"code": None}),
    ]
    bad = []
    for what, change in BAD_SCHOOLS:
        form = {"csrf": adm.csrf, "code": "N2", "name": "Trường N2", "commune": "Xã A", "level": "1", "expected_pcs": "1"}
        form.update(change)
        form = {k: v for k, v in form.items() if v is not None}
        r = adm.req("POST", "/admin/schools", form)
        if r.status != 400 or 'id="school-error"' not in r.body or "<script" in r.body.split("<main>")[-1]:
            bad.append("%s: %d" % (what, r.status))
    for b in bad:
        print("# " + b, file=sys.stderr)
    tap(not bad and school_count() == n0 + 1,
        "%d bad school forms are each a 400 with the error on the page, and nothing is stored (%s)" % (len(BAD_SCHOOLS), bad))
    r = adm.req("POST", "/admin/schools", {"code": "N3", "name": "x", "commune": "y", "level": "1", "expected_pcs": "1"})
    r2 = Client(origin=False)
    r2.cookies = dict(adm.cookies)
    r2 = r2.req("POST", "/admin/schools", {"csrf": adm.csrf, "code": "N3", "name": "x", "commune": "y", "level": "1",
                                            "expected_pcs": "1"}, headers={"Origin": "https://evil.example"})
    tap(r.status == 403 and r2.status == 403 and school_count() == n0 + 1,
        "a school form without the CSRF token, or from another origin, is refused (%d, %d)" % (r.status, r2.status))
    tap(adm.req("GET", "/admin/schools/NOPE").status == 404 and adm.req("GET", "/admin/schools/..").status == 404,
        "the edit page of an unknown school is a 404")
    r = S["prov"].req("POST", "/admin/schools", {"csrf": S["prov"].csrf, "code": "N4", "name": "x", "commune": "y",
                                                  "level": "1", "expected_pcs": "1"})
    tap(r.status == 403 and school_count() == n0 + 1, "a province officer cannot add a school (%d)" % r.status)
    r = adm.req("GET", "/admin/schools")
    tap(r.status == 200 and "&lt;img src=x onerror=alert(1)&gt;" in r.body and "<img src=x" not in r.body,
        "the schools admin table renders a hostile school name inert")


# Publishing: the same signed bundles and agent commands as the CLI's.
def scenario_publish():
    adm = S["admin"]
    iocs0 = set(glob.glob(BUNDLES + "/ioc-*.ewb"))
    c0 = commands("ioc.update")
    adm.req("GET", "/admin/publish")
    r = adm.req("POST", "/admin/publish/ioc", {"csrf": adm.csrf, "ioc": "evil.example\r\n203.0.113.7\r\nbad.example\r\n"})
    m = re.search(r'id="published-version">(\d+)<', r.body)
    new = set(glob.glob(BUNDLES + "/ioc-*.ewb")) - iocs0
    c1 = commands("ioc.update")
    agents = db.execute("SELECT count(*) FROM agents WHERE revoked IS NULL").fetchone()[0]
    tap(r.status == 200 and m and new == {BUNDLES + "/ioc-%s.ewb" % m.group(1)} and c1[0] - c0[0] == agents
        and c1[1] - (c0[1] or 0) == agents,
        "an admin publishes an IOC list: a new signed ioc bundle, and a signed ioc.update for each of %d agents" % agents)
    pub = audit_rows("publish.ioc")
    tap(pub and pub[-1][0] == "admin" and pub[-1][1] == "ioc:" + (m.group(1) if m else "?") and "3 lines" in pub[-1][2],
        "the publication is audit-logged with its version (%s)" % (pub[-1:],))
    for what, text in (("an empty list", ""), ("blank lines only", "\r\n \n\t\n"), ("an escape byte", "evil\x1b.example")):
        n_before = len(glob.glob(BUNDLES + "/ioc-*.ewb"))
        r = adm.req("POST", "/admin/publish/ioc", {"csrf": adm.csrf, "ioc": text})
        tap(r.status == 400 and 'id="publish-error"' in r.body and len(glob.glob(BUNDLES + "/ioc-*.ewb")) == n_before,
            "publishing %s is a 400 with the error on the page, and nothing is signed (%d)" % (what, r.status))
    r = adm.req("POST", "/admin/publish/ioc", {"csrf": adm.csrf}, headers={})
    tap(r.status == 400, "a publish form without the list is a 400")
    rules0 = set(glob.glob(BUNDLES + "/bundle-*.ewb"))
    cr0 = commands("rules.update")
    r = adm.req("POST", "/admin/publish/rules", {"csrf": adm.csrf})
    m = re.search(r'id="published-version">(\d+)<', r.body)
    newr = set(glob.glob(BUNDLES + "/bundle-*.ewb")) - rules0
    tap(r.status == 200 and m and newr == {BUNDLES + "/bundle-%s.ewb" % m.group(1)}
        and commands("rules.update")[0] - cr0[0] == agents and audit_rows("publish.rules"),
        "an admin publishes the rule bundle: compiled, signed, rules.update queued, audit-logged (%d)" % r.status)
    latest = subprocess.run([COLLECTOR, "rules", "list", "--json", "-c", CONF], capture_output=True, text=True).stdout
    tap(m and json.loads(latest or "[]")[:1] and str(json.loads(latest)[0]["version"]) == m.group(1),
        "the CLI's rules list shows the console's bundle as the newest")
    r = adm.req("POST", "/admin/publish/rules", {})
    tap(r.status == 403, "publishing without the CSRF token is refused (%d)" % r.status)


# Alert volume by kind per day: one aggregate, scoped, as JSON, CSV and a table.
def scenario_alert_volume():
    r = S["sch"].req("GET", "/api/v1/alerts/volume?days=7")
    vol = json.loads(r.body) if r.status == 200 else {"items": []}
    got_sch = {v["kind"]: v["count"] for v in vol["items"]}
    want_sch = dict(db.execute("SELECT kind, count(*) FROM alerts WHERE school = 'A1' GROUP BY kind").fetchall())
    tap(r.status == 200 and got_sch == want_sch and want_sch.get("scan.match", 0) > 5,
        "the alert volume API counts a school officer's alerts only, by kind (%s, want %s)" % (got_sch, want_sch))
    r = S["prov"].req("GET", "/api/v1/alerts/volume")
    total = sum(v["count"] for v in json.loads(r.body)["items"]) if r.status == 200 else -1
    want = db.execute("SELECT count(*) FROM alerts").fetchone()[0]
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 7 * 3600))
    tap(total == want and all(v["day"] == day for v in json.loads(r.body)["items"]),
        "the province's volume holds every alert, on today's date in Vietnam time (%d of %d)" % (total, want))
    bad = [q for q in ("days=0", "days=367", "days=-1", "days=x", "days=1e3", "days=%00", "days=")
           if S["prov"].req("GET", "/api/v1/alerts/volume?" + q).status != 400
           or S["prov"].req("GET", "/alerts/volume.csv?" + q).status != 400
           or S["prov"].req("GET", "/alerts/volume?" + q).status != 400]
    tap(not bad, "bad day counts are a 400 problem document, a 400 CSV and a 400 page (%s)" % bad)
    r = S["sch"].req("GET", "/alerts/volume.csv?days=30")
    lines = r.body.lstrip("\ufeff").strip().split("\r\n")
    tap(r.status == 200 and lines[0] == "day,kind,count"
        and lines[1:] == ['"%s","%s","%d"' % (day, k, want_sch[k]) for k in sorted(want_sch)],
        "the volume CSV has the same rows (%s)" % lines[:3])
    r = S["sch"].req("GET", "/alerts")
    tap('id="volume-chart"' in r.body and 'data-src="/api/v1/alerts/volume?days=30"' in r.body
        and 'href="/alerts/volume?days=30"' in r.body and 'id="volume-table"' not in r.body,
        "the alerts page has the chart's hook and a link to the table, not the aggregate itself")
    r = S["sch"].req("GET", "/alerts/volume?days=7")
    tap(r.status == 200 and 'data-src="/api/v1/alerts/volume?days=7"' in r.body
        and re.search(r'<table id="volume-table">.*<td>scan.match</td><td>%d</td>' % want_sch.get("scan.match", -1), r.body),
        "the volume page shows the same numbers as a table that needs no JavaScript, under the chart")


# The commune page: each school's latest daily score, in Vietnamese order.
# Two days for A2 (the older one must not show); N1 (the school the admin
# adds in admin_schools, made here when run alone) has none of its own.
def scenario_commune_scores():
    if not db.execute("SELECT 1 FROM schools WHERE code = 'N1'").fetchone():
        cli("school", "add", "N1", "Trường Mầm non Sen Hồng", "--commune", "Xã A", "--level", "2", "--expected-pcs", "15")
    db.execute("INSERT OR REPLACE INTO score_snapshots(day, scope, key, score, pcs) VALUES('2000-01-01', 'school', 'A2', 12.0, 1)")
    db.execute("INSERT OR REPLACE INTO score_snapshots(day, scope, key, score, pcs) VALUES('2026-12-01', 'school', 'A2', 64.5, 1)")
    db.execute("DELETE FROM score_snapshots WHERE scope = 'school' AND key = 'N1'")
    db.commit()
    latest = {}
    for code in ("A1", "A2"):
        row = db.execute("SELECT day, score FROM score_snapshots WHERE scope = 'school' AND key = ? ORDER BY day DESC LIMIT 1",
                         (code,)).fetchone()
        latest[code] = ("%s/%s/%s" % (row[0][8:10], row[0][5:7], row[0][0:4]), "%.1f" % row[1]) if row else (None, "Chưa có điểm")
    latest["N1"] = (None, "Chưa có điểm")
    r = S["comm"].req("GET", "/commune?name=" + urllib.parse.quote("Xã A"))
    rows = re.findall(r'<tr><td><a href="/schools/([^"]+)">.*?<td class="score"(?: title="([^"]*)")?>([^<]*)</td></tr>', r.body)
    by = {c: (html.unescape(t) or None, v) for c, t, v in rows}
    tap(r.status == 200 and by == latest and by["A2"][1] != "12.0",
        "the commune page shows each school's latest daily score, or none yet (%s)" % by)


# ---- reports (issue 18): their own matrix, scope by API and by page --------------------
def scenario_reports():
    # One stored draft per school, made with the CLI as serve would; "in" is A1's
    # (in every scoped role's scope), "out" B1's. The period 2026-H1 is due on
    # 5 June 2026, so an unsigned draft of it shows the reminder state.
    for code in ("A1", "B1"):
        cli("report", "draft", "--period", "2026-H1", "--scope", "school:" + code)
    RID = keep_report_ids()
    REPORT_ENDPOINTS = [
        ("reports page",      "GET",  "/reports"),
        ("report page",       "GET",  "/reports/{r}"),
        ("report json",       "GET",  "/reports/{r}/json"),
        ("report csv",        "GET",  "/reports/{r}/csv"),
        ("api reports",       "GET",  "/api/v1/reports"),
        ("api report",        "GET",  "/api/v1/reports/{r}"),
        ("draft (page)",      "POST", "/reports"),
        ("draft (api)",       "POST", "/api/v1/reports"),
        ("report pdf",        "GET",  "/reports/{r}/pdf"),
        ("remarks (page)",    "POST", "/reports/{r}/remarks"),
        ("remarks (api)",     "POST", "/api/v1/reports/{r}/remarks"),
    ]
    REPORT_MATRIX = {
        "admin": "200/200 200/200 200/200 200/200 200/200 200/200 303/303 201/201 200/200 303/303 200/200",
        "prov":  "200/200 200/200 200/200 200/200 200/200 200/200 303/303 201/201 200/200 303/303 200/200",
        "comm":  "200/200 200/404 200/404 200/404 200/200 200/404 303/404 201/404 200/404 303/404 200/404",
        "sch":   "200/200 200/404 200/404 200/404 200/200 200/404 303/404 201/404 200/404 303/404 200/404",
        "soc":   "403/403 403/403 403/403 403/403 403/403 403/403 403/403 403/403 403/403 403/403 403/403",
        "drill": "200/200 200/200 200/200 200/200 200/200 200/200 403/403 403/403 200/200 403/403 403/403",
        "aud":   "200/200 200/200 200/200 200/200 200/200 200/200 403/403 403/403 200/200 403/403 403/403",
    }

    def ask(name, side, label, method, path):
        code = "A1" if side == "in" else "B1"
        p = path.replace("{r}", RID.get(code, "0"))
        form = {"period": "2026-H1", "scope": "school:" + code}
        if "/remarks" in p:
            form = {"remarks": "Nhận xét của %s" % name}
        return p, as_role(name, method, p, form)
    bad = matrix_wrong(REPORT_ENDPOINTS, REPORT_MATRIX, ask)
    tap(len(RID) == 2 and not bad,
        "reports RBAC matrix: %d roles x %d endpoints x in/out scope (a school officer cannot read or draft "
        "another school's report: 404, by API and by page; %d wrong)" % (len(ROLES), len(REPORT_ENDPOINTS), len(bad)))
    lst = S["sch"].req("GET", "/api/v1/reports").body
    pg = S["sch"].req("GET", "/reports").body
    tap('"school:A1"' in lst and "school:B1" not in lst and "school:A1" in pg and "school:B1" not in pg,
        "a school officer's report list, by API and by page, holds its school's report only")
    lst = S["comm"].req("GET", "/api/v1/reports").body
    tap('"school:A1"' in lst and "school:B1" not in lst, "a commune officer's list holds its communes' schools only")
    r = S["sch"].req("POST", "/api/v1/reports", {"period": "2026-H1", "scope": "commune:Xã A"},
                     headers={"X-CSRF-Token": S["sch"].csrf})
    r2 = S["sch"].req("POST", "/api/v1/reports", {"period": "2026-H1", "scope": "province"},
                      headers={"X-CSRF-Token": S["sch"].csrf})
    tap(r.status == 404 and r2.status == 404, "a school officer cannot draft its commune's or the province's report (404)")
    bad_in = [S["prov"].req("POST", "/api/v1/reports", f, headers={"X-CSRF-Token": S["prov"].csrf}).status
              for f in ({"period": "2026-H3", "scope": "province"}, {"period": "2026-H1", "scope": "school:"},
                        {"period": "2026-H1"}, {"period": "9999", "scope": "province"},
                        {"period": "2026-H1", "scope": "school:\x01"})]
    tap(all(s == 400 for s in bad_in), "malformed periods and scopes are 400 problems (%s)" % bad_in)
    r = S["sch"].req("POST", "/reports", {"period": "2026-H1", "scope": "school:A1"})
    tap(r.status == 403, "drafting from a page without the CSRF token is refused (%d)" % r.status)
    j = S["sch"].req("GET", "/api/v1/reports/" + RID.get("A1", "0")).body
    tap('"reminder":"overdue"' in j and '"due":"2026-06-05"' in j and '"model":{' in j,
        "an unsigned draft past its deadline shows the reminder state, with the stored model")
    pg = S["sch"].req("GET", "/reports/" + RID.get("A1", "0")).body
    tap('id="state" class="overdue"' in pg and 'id="sec-av"' in pg and "av.coverage_end" in pg,
        "the report page shows the reminder state and the draft's figures by section")
    r = S["sch"].req("GET", "/reports/" + RID.get("A1", "0") + "/csv")
    tap(r.status == 200 and "attachment" in (r.getheader("Content-Disposition") or "") and "av.coverage_end" in r.body,
        "the CSV download carries the model's figures as an attachment")
    n_gen = db.execute("SELECT count(*) FROM audit_log WHERE action = 'report.generate'").fetchone()[0]
    who = {a for (a,) in db.execute("SELECT actor FROM audit_log WHERE action = 'report.generate'")}
    tap(n_gen >= 8 and {"admin", "prov", "comm", "sch"} <= who,
        "every draft from the console is in the audit log as report.generate (%d, by %s)" % (n_gen, sorted(who)))

    pdf = S["sch"].req("GET", "/reports/" + RID.get("A1", "0") + "/pdf")
    tap(pdf.status == 200 and pdf.getheader("Content-Type") == "application/pdf" and pdf.body.startswith("%PDF-"),
        "a draft's PDF is rendered for download")


# ---- the XLSX download (issue 18): bytes through curl, read by openpyxl --
def scenario_report_xlsx():
    RID = report_ids()
    raw = curl_bytes("sch", "/reports/%s/xlsx" % RID.get("A1", "0"))
    head, _, body = raw.partition(b"\r\n\r\n")
    model = S["sch"].req("GET", "/reports/" + RID.get("A1", "0") + "/json").body
    figs = {f["key"]: f["value"] for sec in json.loads(model)["sections"] for f in sec["figures"]
            if f["value"] is not None}
    cells = xlsx_figures(body) if body.startswith(b"PK") else {}
    got = {k: [c for c in cells.get(k, ()) if isinstance(c, (int, float))][:1] for k in figs}
    want = {k: [v] for k, v in figs.items()}
    tap(b"spreadsheetml.sheet" in head and b"attachment" in head and len(want) >= 5 and got == want,
        "a draft's XLSX downloads from the console, and openpyxl reads each of the model's %d figures as that number (differ: %s)"
        % (len(want), sorted(k for k in want if got.get(k) != want[k])[:5]))
    tap(S["sch"].req("GET", "/reports/%s/xlsx" % RID.get("B1", "0")).status == 404,
        "a school officer cannot download another school's XLSX (404)")


# ---- the register of information systems (issue 18) -----------------------
def scenario_register_signoff():
    RID = report_ids()
    cli("system", "add", "B1", "Website B1", "--kind", "website", "--level", "1")
    SYS = {"unit": "A1", "name": "Mạng LAN <b>A1</b>", "kind": "lan", "level": "2",
           "dossier": "drafted", "review_due": "2027-06-30", "hosts": "pc1,pc2"}
    S["sch"].req("GET", "/register")
    r = S["sch"].req("POST", "/register", dict(SYS, csrf=S["sch"].csrf))
    row = db.execute("SELECT level, dossier, hosts FROM systems WHERE unit = 'A1' AND name = ?",
                     (SYS["name"],)).fetchone()
    tap(r.status == 303 and row == (2, "drafted", "pc1,pc2"),
        "a school officer adds a system of their school from the console (%d, %s)" % (r.status, row))
    S["sch"].req("GET", "/register")
    r = S["sch"].req("POST", "/register", dict(SYS, level="3", dossier="submitted", csrf=S["sch"].csrf))
    row = db.execute("SELECT level, dossier FROM systems WHERE unit = 'A1' AND name = ?", (SYS["name"],)).fetchone()
    tap(r.status == 303 and row == (3, "submitted"), "and sets its fields by the same unit and name (%s)" % (row,))
    acts = [a for (a,) in db.execute("SELECT action FROM audit_log WHERE actor = 'sch' AND object = ?"
                                     " ORDER BY id", ("A1/" + SYS["name"],))]
    tap(acts == ["system.add", "system.set"], "both are in the audit log (%s)" % acts)
    pg = S["sch"].req("GET", "/register").body
    tap("Mạng LAN &lt;b&gt;A1&lt;&#47;b&gt;" in pg and "<b>A1</b>" not in pg and "Website B1" not in pg,
        "the school officer's register lists their school's systems, names inert, and not another school's")
    before = db.execute("SELECT count(*) FROM systems").fetchone()[0]
    st = [S["sch"].req("POST", "/register", dict(SYS, unit="B1", name="x", csrf=S["sch"].csrf)).status,
          S["sch"].req("POST", "/register", dict(SYS, name="y")).status,
          S["sch"].req("POST", "/register", dict(SYS, name="z", level="6", csrf=S["sch"].csrf)).status,
          S["sch"].req("POST", "/register", dict(SYS, name="w", review_due="2026-02-30", csrf=S["sch"].csrf)).status,
          S["sch"].req("POST", "/register", dict(SYS, name="\x1b[2J", csrf=S["sch"].csrf)).status,
          S["admin"].req("POST", "/register", dict(SYS, name="v", dossier="approved", csrf=S["admin"].csrf)).status]
    tap(st[0] == 404 and st[1] == 403 and st[2:] == [400] * 4
        and db.execute("SELECT count(*) FROM systems").fetchone()[0] == before,
        "another school's unit is 404, no CSRF token 403, a bad level, date, name or an approval without "
        "its decision 400, and nothing is stored (%s)" % st)
    pc = S["comm"].req("GET", "/register").body
    pa = S["admin"].req("GET", "/register").body
    tap("Mạng LAN &lt;b&gt;A1" in pc and "Website B1" not in pc and "Website B1" in pa and "Mạng LAN &lt;b&gt;A1" in pa,
        "a commune officer sees their schools' systems only; the province sees all")
    S["aud"].req("GET", "/register")
    st = [S[u].req("POST", "/register", dict(SYS, csrf=S[u].csrf)).status for u in ("aud",)]
    tap(st == [403], "a read-only auditor cannot change the register (%s)" % st)
    # Approval is the province's (docs/DECISIONS.md): an approved level sets
    # the school's policy level, so a unit's own officer proposes, never approves.
    DECIDE = {"authority": "Tự đặt", "decision_no": "99/QĐ", "decision_date": "2026-03-01"}
    lvl0, row0 = a1_level(), sys_row(SYS["name"])
    S["sch"].req("GET", "/register")
    S["comm"].req("GET", "/register")
    st = [S["sch"].req("POST", "/register", dict(SYS, level="1", dossier="approved", csrf=S["sch"].csrf, **DECIDE)).status,
          S["comm"].req("POST", "/register", dict(SYS, level="1", dossier="approved", csrf=S["comm"].csrf, **DECIDE)).status,
          S["sch"].req("POST", "/register", dict(SYS, name="new-approved", dossier="approved", csrf=S["sch"].csrf,
                                                 **DECIDE)).status,
          S["sch"].req("POST", "/register", dict(SYS, decision_no="1/QĐ", csrf=S["sch"].csrf)).status]
    tap(st == [403] * 4 and sys_row(SYS["name"]) == row0 and sys_row("new-approved") is None and a1_level() == lvl0,
        "a school or commune officer approving, or typing a decision, is 403, and neither the system nor the "
        "school's policy level changes (%s, %s, level %s)" % (st, sys_row(SYS["name"]), a1_level()))
    S["admin"].req("GET", "/register")
    r = S["admin"].req("POST", "/register", {"unit": "A1", "name": SYS["name"], "level": "4", "dossier": "approved",
                                             "csrf": S["admin"].csrf, **DECIDE})
    det = db.execute("SELECT detail FROM audit_log WHERE actor = 'admin' AND object = ? ORDER BY id DESC LIMIT 1",
                     ("A1/" + SYS["name"],)).fetchone()
    tap(r.status == 303 and sys_row(SYS["name"]) == (4, "approved", "99/QĐ", "pc1,pc2") and a1_level() == 4
        and det is not None and "level '3'->'4'" in det[0] and "dossier 'submitted'->'approved'" in det[0],
        "the province admin approves with only the decision's fields sent: the hosts are kept, the school's "
        "level follows, and the audit says before -> after (%s, %s)" % (sys_row(SYS["name"]), det))
    S["sch"].req("GET", "/register")
    st = [S["sch"].req("POST", "/register", {"unit": "A1", "name": SYS["name"], "level": "1",
                                             "csrf": S["sch"].csrf}).status,
          S["sch"].req("POST", "/register", {"unit": "A1", "name": SYS["name"], "dossier": "drafted",
                                             "csrf": S["sch"].csrf}).status]
    r = S["sch"].req("POST", "/register", {"unit": "A1", "name": SYS["name"], "hosts": "pc1,pc2,pc3",
                                           "csrf": S["sch"].csrf})
    tap(st == [403, 403] and r.status == 303 and sys_row(SYS["name"]) == (4, "approved", "99/QĐ", "pc1,pc2,pc3")
        and a1_level() == 4,
        "a school officer can neither lower an approved level nor withdraw its approval (403), but may update "
        "its hosts, which keeps the approval (%s, %s)" % (st, sys_row(SYS["name"])))
    S["admin"].req("GET", "/register")
    r = S["admin"].req("POST", "/register", {"unit": "A1", "name": SYS["name"], "level": str(lvl0),
                                             "decision_no": "100/QĐ", "csrf": S["admin"].csrf})
    tap(r.status == 303 and sys_row(SYS["name"])[:3] == (lvl0, "approved", "100/QĐ") and a1_level() == lvl0,
        "the province admin may change an approved level by a new decision, and the school's level follows (%s)"
        % (sys_row(SYS["name"]),))
    r = S["sch"].req("POST", "/api/v1/reports/" + RID.get("A1", "0") + "/remarks",
                     {"remarks": "Đã rà soát <b>đủ</b> các trường"}, headers={"X-CSRF-Token": S["sch"].csrf})
    j = S["sch"].req("GET", "/api/v1/reports/" + RID.get("A1", "0")).body
    pg = S["sch"].req("GET", "/reports/" + RID.get("A1", "0")).body
    tap(r.status == 200 and "Đã rà soát <b>đủ</b>" in j and "Đã rà soát &lt;b&gt;đủ" in pg and "<b>đủ</b>" not in pg,
        "an officer's remarks are stored with the draft and shown inert")
    st = [S[u].req("POST", "/api/v1/reports/" + RID.get("A1", "0") + "/sign", {},
                   headers={"X-CSRF-Token": S[u].csrf}).status for u in ("prov", "comm", "sch", "aud")]
    tap(st == [403] * 4, "only the province admin signs a report off (others: %s)" % st)
    r = S["admin"].req("POST", "/api/v1/reports/" + RID.get("A1", "0") + "/sign", {},
                       headers={"X-CSRF-Token": S["admin"].csrf})
    sha = re.search(r'"sha256":"([0-9a-f]{64})"', r.body)
    j = S["sch"].req("GET", "/api/v1/reports/" + RID.get("A1", "0")).body
    tap(r.status == 200 and sha and '"state":"signed"' in j and '"reminder":"signed"' in j,
        "the admin signs the school's report off from the console (%d)" % r.status)
    pdf = subprocess.run(["curl", "-sk", "--cacert", STATE + "/ca.crt", "-H",
                          "Cookie: " + "; ".join("%s=%s" % kv for kv in S["sch"].cookies.items()),
                          "https://localhost:%d/reports/%s/pdf" % (PORT, RID.get("A1", "0"))],
                         capture_output=True).stdout
    tap(sha and hashlib.sha256(pdf).hexdigest() == sha.group(1),
        "the signed report's PDF download is the archived file (its SHA-256 is the signed one)")
    v = subprocess.run([COLLECTOR, "report", "verify", (db.execute(
        "SELECT pdf_path FROM reports WHERE id = ?", (int(RID.get("A1", "0")),)).fetchone() or [""])[0], "-c", CONF],
        capture_output=True, text=True)
    tap(v.returncode == 0, "report verify accepts the PDF signed from the console")
    archived = (db.execute("SELECT pdf_path FROM reports WHERE id = ?",
                           (int(RID.get("A1", "0")),)).fetchone() or [""])[0][:-4] + ".xlsx"
    raw = curl_bytes("sch", "/reports/%s/xlsx" % RID.get("A1", "0"))
    tap(raw.partition(b"\r\n\r\n")[2] == open(archived, "rb").read(),
        "the signed report's XLSX download is the file archived at sign-off")
    r = S["admin"].req("POST", "/api/v1/reports/" + RID.get("A1", "0") + "/sign", {},
                       headers={"X-CSRF-Token": S["admin"].csrf})
    r2 = S["sch"].req("POST", "/api/v1/reports/" + RID.get("A1", "0") + "/remarks", {"remarks": "x"},
                      headers={"X-CSRF-Token": S["sch"].csrf})
    tap(r.status == 409 and r2.status == 409, "a signed report is neither signed again nor given remarks (409)")
    r = S["admin"].req("POST", "/api/v1/reports/" + RID.get("B1", "0") + "/sign", {})
    tap(r.status == 403, "sign-off without the CSRF token is refused (%d)" % r.status)
    aud = {a for (a,) in db.execute("SELECT action FROM audit_log WHERE action LIKE 'report.%'")}
    tap({"report.generate", "report.remarks", "report.sign"} <= aud, "drafts, remarks and sign-off are audit-logged (%s)" % sorted(aud))


# ---- output is inert ----------------------------------------------------------------
def scenario_inert_output():
    ov = S["prov"].req("GET", "/overview").body
    tap("<img src=x" not in ov and "&lt;img src=x onerror=alert(1)&gt;" in ov, "a school name's markup is escaped on the overview")
    sp = S["prov"].req("GET", "/schools/A1").body
    tap("<script>alert" not in sp and "&lt;script&gt;alert(&quot;host&quot;)&lt;&#47;script&gt;" in sp,
        "a PC's host name is escaped on the school page")
    tap('class="stale"' in sp and 'class="fresh"' in sp, "the school page marks a stale PC and a reporting one")
    al = S["prov"].req("GET", "/alerts").body
    tap("<svg onload" not in al and "&lt;svg onload=alert(1)&gt;" in al, "a file path's markup is escaped on the alerts page")
    tap("Diễn tập" in al, "the drill flag is shown on the alerts page")
    r = S["prov"].req("GET", "/api/v1/pcs/pcA1")
    tap(r.getheader("Content-Type") == "application/json" and '"hostname":"<script>alert(\\"host\\")</script>"' in r.body,
        "the API returns the host name as JSON text, served as application/json")


# ---- reads off the writer's lock ------------------------------------------------------------
def scenario_reads_off_lock():
    # An ingest holds SQLite's write lock for its whole transaction. The pages
    # read through the console's own read-only connection (WAL), so they answer
    # while a large one is open; a page that read behind the store's lock or
    # wrote on each request would wait out the 10 s busy timeout. One request
    # first makes each session's last use fresh (it is written once a minute).
    for who in ("sch", "aud", "comm"):
        S[who].req("GET", "/alerts")
    ing = sqlite3.connect(STATE + "/eduwatch.db", timeout=30, isolation_level=None)
    ing.execute("BEGIN IMMEDIATE")
    ing.executemany("INSERT INTO events(agent, boot, seq, ts, received, kind, sev, drill, body) VALUES(?,?,?,?,?,?,?,?,?)",
                    (("pcA1", 7, i, now, now, "inventory", 0, 0, b"\x80") for i in range(100000)))
    slow = []
    for who, path in (("sch", "/overview"), ("sch", "/schools/A1"), ("sch", "/pcs/pcA1"), ("sch", "/alerts"),
                      ("sch", "/api/v1/alerts"), ("sch", "/api/v1/live"), ("comm", "/overview"),
                      ("aud", "/admin/audit"), ("sch", "/reports")):
        t = time.perf_counter()
        r = S[who].req("GET", path)
        dt = time.perf_counter() - t
        if r.status != 200 or dt > 4:
            slow.append("%s %s: %d in %.1f s" % (who, path, r.status, dt))
    held = ing.execute("SELECT count(*) FROM events WHERE boot = 7").fetchone()[0]
    ing.execute("ROLLBACK")
    ing.close()
    for b in slow:
        print("# " + b, file=sys.stderr)
    tap(held == 100000 and not slow,
        "9 pages and API reads answer within 4 s each while an ingest of 100,000 events holds the write lock (%s)"
        % ("; ".join(slow) or "all fast"))


# ---- the PC page: failing checks with what to do, panels, antivirus history ------------------
def scenario_pc_page():
    STATES = {
        "inventory": {"os": "Windows 10 Pro", "cpu": "Intel i3", "ram_mb": 4096},
        "av.status": {"product": "ClamAV <b>forged</b>", "realtime": False, "sig_age_days": 9},
        "backup.status": {"last_ok_us": now - 3600 * 10**6, "last_verify_us": now - 86400 * 10**6,
                          "last_restore_test_us": 0, "verify_ok": True, "rpo_met": True},
        "net.sensor": {"state": "ok", "interface": "eth0", "findings": 2},
    }
    for kind, body in STATES.items():
        db.execute("INSERT OR REPLACE INTO host_state(agent, kind, ts, sev, drill, body, received, agent_ts)"
                   " VALUES(?,?,?,?,?,?,?,NULL)", ("pcA1", kind, now, 0, 0, mp(body), now))
    # A PC's bytes are never trusted: a state that is not a map.
    db.execute("INSERT OR REPLACE INTO host_state(agent, kind, ts, sev, drill, body, received, agent_ts)"
               " VALUES(?,?,?,?,?,?,?,NULL)", ("pcA1", "scan.summary", now, 0, 0, b"\xc1\xff\x00garbage", now))
    for i, rt in enumerate((True, False)):
        db.execute("INSERT INTO events(agent, boot, seq, ts, received, kind, sev, drill, body) VALUES(?,?,?,?,?,?,?,?,?)",
                   ("pcA1", 3, i, now - (2 - i) * 3600 * 10**6, now, "av.status", 0, 0,
                    mp({"realtime": rt, "sig_age_days": 8 + i})))
    db.commit()
    pg = S["sch"].req("GET", "/pcs/pcA1")
    b = pg.body
    tap(pg.status == 200 and 'id="failing"' in b and "Có phần mềm diệt virus và bật bảo vệ thời gian thực" in b
        and "Cài đặt hoặc bật lại phần mềm diệt virus được quản lý tập trung." in b,
        "the PC page lists its failing checks with the remediation text, in Vietnamese")
    tap(all('id="panel-%s"' % k in b for k in ("inventory", "av.status", "scan.summary", "backup.status", "net.sensor"))
        and "Windows 10 Pro" in b and "eth0" in b and "last_verify_us" in b,
        "the PC page shows inventory, antivirus, scan, backup and LAN sensor panels from the PC's last states")
    tap("<b>forged</b>" not in b and "ClamAV &lt;b&gt;forged&lt;&#47;b&gt;" in b,
        "a PC's reported values are escaped on the PC page")
    tap("Dữ liệu máy gửi không đọc được." in b, "a state that is not a msgpack map is shown as unreadable, not rendered")
    hist = b[b.find('id="av-history"'):b.find('id="events"')]
    tap(hist.count("<tr>") == 3 and "sig_age_days: 9" in hist and "sig_age_days: 8" in hist,
        "the antivirus history lists the PC's av.status reports")
    e = S["drill"].req("GET", "/pcs/pcA1")
    tap(e.status == 200 and "panel-backup.status" in e.body, "a province-wide role sees the same panels")
    tap(S["sch"].req("GET", "/pcs/pcB1").status == 404 and S["comm"].req("GET", "/pcs/pcB1").status == 404,
        "another school's PC page is a 404 for a school and a commune officer")
    tap(S["sch"].req("GET", "/pcs/pc%FF").status == 404 and S["sch"].req("GET", "/pcs/%C3%28").status == 404,
        "a PC id with invalid UTF-8 is not found")


# ---- the commune page --------------------------------------------------------------------------
def scenario_commune_page():
    cp = S["comm"].req("GET", "/commune?name=" + urllib.parse.quote("Xã A"))
    tap(cp.status == 200 and 'href="/schools/A1"' in cp.body and 'href="/schools/A2"' in cp.body
        and "/schools/B1" not in cp.body and 'id="alert-counts"' in cp.body and "scope=commune&amp;key=X%C3%A3%20A" in cp.body,
        "the commune page lists its schools, open alerts and the commune's trend")
    ov = S["prov"].req("GET", "/overview").body
    tap('href="/commune?name=X%C3%A3%20A"' in ov, "the overview links each school's commune page")
    pos = [ov.find(">%s</a>" % c) for c in ("An Lạc", "Ân Phú", "Bình Minh", "Xã A")]
    tap(all(p > 0 for p in pos) and pos == sorted(pos),
        "the overview lists communes in Vietnamese order: An Lạc, Ân Phú, Bình Minh, Xã A (%s)" % pos)
    st = [S["prov"].req("GET", "/commune" + q).status for q in ("?name=%FF", "?name=%C3%28", "?name=", "?name=Nowhere", "")]
    tap(st == [400, 400, 400, 404, 404], "commune names with invalid UTF-8 or empty are 400, unknown or missing 404 (%s)" % st)


# ---- the SOC feed page ---------------------------------------------------------------------------
def scenario_soc_feed():
    for k in ("page-2", "page-3", "page-4"):
        db.execute("INSERT OR IGNORE INTO forward_queue(dest, alert) VALUES('soc-a', ?)", (ALERT[k],))
    db.execute("INSERT INTO dead_letters(dest, alert, status, reason, at) VALUES('soc-a', ?, 400, ?, ?)",
               (ALERT["page-0"], "HTTP 400: <script>bad()</script>", now))
    db.commit()
    # The collector may queue alerts of its own for soc-a meanwhile (a silent
    # PC, a report reminder): the page's count lies between two reads of the
    # queue around it.
    q0 = db.execute("SELECT count(*) FROM forward_queue WHERE dest = 'soc-a'").fetchone()[0]
    f = S["soc"].req("GET", "/soc")
    q1 = db.execute("SELECT count(*) FROM forward_queue WHERE dest = 'soc-a'").fetchone()[0]
    row = re.search(r"<tr><td>soc-a</td>(.*?)</tr>", f.body)
    row = row.group(1) if row else ""
    shown = re.search(r'<td class="pending">(\d+)</td>', row)
    shown = int(shown.group(1)) if shown else -1
    tap(f.status == 200 and q0 >= 3 and q0 <= shown <= q1 and '<td class="dead">1</td>' in row
        and "#%d," % ALERT["page-1"] in row,
        "the SOC page shows the queue: %d pending (queue %d..%d), the last delivered alert, 1 dead letter"
        % (shown, q0, q1))
    tap("<script>bad" not in f.body and "HTTP 400: &lt;script&gt;bad()" in f.body and "400 HTTP 400" in row,
        "the last error and the dead-letter list show the destination's answer, escaped")
    tap(S["sch"].req("GET", "/soc").status == 403 and S["prov"].req("GET", "/soc").status == 403,
        "officers without the SOC permission get 403 on the feed page")


# ---- CSRF ----------------------------------------------------------------------------------
def scenario_csrf():
    tgt = "/alerts/%d/ack" % ALERT["ui"]
    tap(S["prov"].req("POST", tgt, {"comment": "x"}).status == 403, "a change without the CSRF token is refused")
    tap(S["prov"].req("POST", tgt, {"csrf": "0" * 64}).status == 403, "a change with a wrong CSRF token is refused")
    tap(S["prov"].req("POST", tgt, {"csrf": S["prov"].csrf}, headers={"Origin": "https://evil.example"}).status == 403,
        "a change from another origin is refused even with the token")
    tap(S["prov"].req("POST", "/api/v1/alerts/%d/ack" % ALERT["ui"]).status == 403,
        "an API change riding on the session cookie needs X-CSRF-Token")
    other = Client()
    other.login("drill", PW["drill"])
    other.req("GET", "/alerts")
    tap(S["prov"].req("POST", tgt, {"csrf": other.csrf}).status == 403, "another session's CSRF token is refused")


# ---- ack and resolve through the pages, into the audit log --------------------------
def scenario_ack_resolve():
    tgt = "/alerts/%d/ack" % ALERT["ui"]
    r1 = S["sch"].req("POST", tgt, {"csrf": S["sch"].csrf, "comment": "Đã kiểm tra máy"})
    r2 = S["sch"].req("POST", "/alerts/%d/resolve" % ALERT["ui"], {"csrf": S["sch"].csrf, "comment": "Đã gỡ mã độc"})
    st = db.execute("SELECT state, ack_by, resolved_by FROM alerts WHERE id=?", (ALERT["ui"],)).fetchone()
    tap(r1.status == 303 and r2.status == 303 and st == ("resolved", "sch", "sch"), "ack then resolve through the page (%s)" % (st,))
    au = S["aud"].req("GET", "/api/v1/audit?limit=500").body
    tap('"action":"alert.ack"' in au and '"detail":"Đã kiểm tra máy"' in au and '"detail":"Đã gỡ mã độc"' in au,
        "the audit log has the ack and the resolve with their comments")
    ap = S["aud"].req("GET", "/admin/audit").body
    tap("alert.resolve" in ap and "Đã gỡ mã độc" in ap, "the audit page shows them")
    ids = [ALERT["page-%d" % i] for i in range(3)]
    r = S["comm"].req("POST", "/alerts/bulk", {"csrf": S["comm"].csrf, "action": "ack", "comment": "bulk", "id": ids})
    acked = db.execute("SELECT count(*) FROM alerts WHERE state='acknowledged' AND ack_by='comm' AND id IN (%s)" % ",".join(map(str, ids))).fetchone()[0]
    tap(r.status == 303 and acked == 3, "a bulk ack acknowledges each selected alert (%d)" % acked)
    r = S["sch"].req("POST", "/alerts/bulk", {"csrf": S["sch"].csrf, "action": "ack", "id": [ALERT["m-soc-out"]]})
    st = db.execute("SELECT state FROM alerts WHERE id=?", (ALERT["m-soc-out"],)).fetchone()[0]
    tap(st == "open", "a bulk action skips alerts outside the officer's scope")
    try:
        db.execute("UPDATE audit_log SET detail='x'")
        db.commit()
        tap(False, "the audit log refuses UPDATE")
    except sqlite3.DatabaseError as e:
        tap("append-only" in str(e), "the audit log refuses UPDATE (%s)" % e)
    try:
        db.execute("DELETE FROM audit_log")
        tap(False, "the audit log refuses DELETE")
    except sqlite3.DatabaseError:
        tap(True, "the audit log refuses DELETE")
    db.rollback()


# ---- pagination, problems, CSV, language ------------------------------------------------
def scenario_api_csv_lang():
    r = S["prov"].req("GET", "/api/v1/alerts?school=A2&limit=2")
    first = re.findall(r'"id":(\d+)', r.body)
    cur = re.search(r'"next_cursor":"(\d+)"', r.body)
    r2 = S["prov"].req("GET", "/api/v1/alerts?school=A2&limit=2&cursor=%s" % (cur.group(1) if cur else "1"))
    second = re.findall(r'"id":(\d+)', r2.body)
    tap(len(first) == 2 and cur and len(second) == 2 and not set(first) & set(second) and max(map(int, second)) < min(map(int, first)),
        "cursor pagination: the next page continues below the last id")
    for q in ("limit=0", "limit=abc", "state=bogus", "cursor=-1", "school=%ZZ"):
        r = S["prov"].req("GET", "/api/v1/alerts?" + q)
        if not tap(r.status == 400 and r.getheader("Content-Type") == "application/problem+json" and '"status":400' in r.body,
                   "bad value %s: a 400 problem document" % q):
            print("# " + r.body, file=sys.stderr)
    r = S["prov"].req("GET", "/api/v1/pcs/nope")
    tap(r.status == 404 and '"status":404' in r.body, "an unknown PC is a 404 problem document")
    r = S["prov"].req("GET", "/schools.csv")
    lines = r.body.lstrip("\ufeff").splitlines()
    tap(r.getheader("Content-Type").startswith("text/csv") and lines[0] == "code,name,commune,level,enrolled_pcs,expected_pcs"
        and '"A1","Trường <img src=x onerror=alert(1)>","Xã A","2","2","2"' in lines,
        "the schools CSV has the header and each school's row")
    tap(any(l.startswith('"B1","\'=HYPERLINK') for l in lines), "a CSV cell that starts with = is defused")
    r = S["sch"].req("GET", "/schools.csv")
    tap(len(r.body.lstrip("\ufeff").splitlines()) == 2, "a school officer's CSV holds only its school")
    r = S["prov"].req("GET", "/alerts.csv?state=open")
    tap("scan.match" not in r.body and "Mã độc: xss" in r.body and "svg onload" in r.body, "the alerts CSV has the alerts")
    lc = S["drill"]
    r = lc.req("POST", "/lang", {"csrf": lc.csrf, "lang": "en"})
    r2 = lc.req("GET", "/overview")
    tap(r.status == 303 and "<h1>Overview</h1>" in r2.body and 'lang="en"' in r2.body, "the language switch gives English pages")
    r = lc.req("POST", "/lang", {"csrf": lc.csrf, "lang": "vi"})
    tap("<h1>Tổng quan</h1>" in lc.req("GET", "/overview").body, "and back to Vietnamese")


# ---- API tokens --------------------------------------------------------------------------
def scenario_api_tokens():
    adm = S["admin"]
    adm.req("GET", "/admin/tokens")
    r = adm.req("POST", "/admin/tokens", {"csrf": adm.csrf, "label": "siem"})
    tok = re.search(r'id="token">(ewt_[0-9a-f]{64})<', r.body)
    tap(r.status == 200 and tok, "an admin creates an API token, shown once")
    tok = tok.group(1) if tok else ""
    tap(tok not in adm.req("GET", "/admin/tokens").body, "the token is not shown again")
    bearer = Client()
    r = bearer.req("GET", "/api/v1/me", headers={"Authorization": "Bearer " + tok})
    tap(r.status == 200 and '"role":"province_admin"' in r.body, "the token works as its admin on the API")
    r = bearer.req("GET", "/api/v1/me", headers={"Authorization": "Bearer ewt_" + "0" * 64})
    tap(r.status == 401, "an unknown token is a 401")
    r = bearer.req("GET", "/overview", headers={"Authorization": "Bearer " + tok})
    tap(r.status == 303, "a token does not open the HTML pages")
    tap(db.execute("SELECT count(*) FROM api_tokens WHERE label='siem'").fetchone()[0] == 1 and
        tok.encode() not in b"".join(r[0] for r in db.execute("SELECT hash FROM api_tokens")),
        "the store keeps the token's hash only")
    au = adm.req("GET", "/api/v1/audit?limit=500").body
    tap('"action":"token.create"' in au, "the audit log has the token's creation")


# ---- accounts from the admin page ----------------------------------------------------------
def scenario_accounts():
    adm = S["admin"]
    adm.req("GET", "/admin/users")
    tap('action="/admin/users"' in adm.req("GET", "/admin/users").body, "the users page has the add form")
    r = adm.req("POST", "/admin/users", {"csrf": adm.csrf, "name": "webu", "role": "school_officer", "scope": "A1"})
    pw = re.search(r'id="new-password">([A-Za-z0-9]{16})<', r.body)
    tap(r.status == 200 and pw, "the admin adds a school officer from the page; its one-time password is shown once")
    pw = pw.group(1) if pw else ""
    tap(pw not in adm.req("GET", "/admin/users").body, "the password is not shown again")
    wu = Client()
    tap(wu.login("webu", pw).status == 303, "the new account logs in with it")
    st = [adm.req("POST", "/admin/users", f).status for f in (
        {"name": "x1", "role": "school_officer", "scope": "A1"},
        dict(csrf="0" * 64, name="x2", role="school_officer", scope="A1"))]
    tap(st == [403, 403], "adding a user without the CSRF token, or with a wrong one, is refused (%s)" % st)
    tap(S["aud"].req("POST", "/admin/users", {"csrf": S["aud"].csrf, "name": "x3", "role": "auditor"}).status == 403,
        "an auditor cannot add users (403)")
    bad_forms = [{"name": "bad name", "role": "auditor"}, {"name": "x4", "role": "bogus"},
                 {"name": "x5", "role": "school_officer"}, {"name": "", "role": "auditor"}]
    st = [adm.req("POST", "/admin/users", dict(f, csrf=adm.csrf)).status for f in bad_forms]
    st.append(adm.req("POST", "/admin/users", raw_body="csrf=%s&name=%%FF%%FE&role=auditor" % adm.csrf,
                      headers={"Content-Type": "application/x-www-form-urlencoded",
                               "Origin": "https://localhost:%d" % PORT}).status)
    tap(st == [400] * 5, "bad names, unknown roles, a missing scope and invalid UTF-8 are 400 (%s)" % st)
    tap(adm.req("POST", "/admin/users", {"csrf": adm.csrf, "name": "webu", "role": "auditor"}).status == 409,
        "an existing name is a 409")
    r = adm.req("POST", "/admin/users/passwd", {"csrf": adm.csrf, "name": "webu"})
    pw2 = re.search(r'id="new-password">([A-Za-z0-9]{16})<', r.body)
    tap(r.status == 200 and pw2 and wu.req("GET", "/overview").status == 303 and Client().login("webu", pw).status == 401
        and Client().login("webu", pw2.group(1)).status == 303,
        "a new password from the page ends the account's sessions and replaces the old one")
    r = adm.req("POST", "/admin/users/role", {"csrf": adm.csrf, "name": "webu", "role": "province_admin"})
    tap(r.status == 200 and re.search(r'id="new-totp">[A-Z2-7]{32}<', r.body),
        "a new admin role from the page shows the TOTP secret it now needs, once")
    st = [adm.req("POST", "/admin/users/" + a, {"csrf": adm.csrf, "name": n}).status
          for a, n in (("disable", "admin"), ("role", "admin"), ("explode", "webu"), ("disable", "nobody"))]
    tap(st == [409, 400, 404, 404],
        "the admin cannot disable itself; a role change needs a role; unknown actions and users are 404 (%s)" % st)
    r = adm.req("POST", "/admin/users/disable", {"csrf": adm.csrf, "name": "webu"})
    tap(r.status == 303 and Client().login("webu", pw2.group(1) if pw2 else "").status == 401,
        "an account disabled from the page cannot log in")
    au = S["aud"].req("GET", "/api/v1/audit?limit=500").body
    tap(all('"action":"user.%s","object":"user:webu"' % a in au for a in ("add", "passwd", "role", "disable"))
        and '"actor":"admin"' in au, "each account change from the page is in the audit log, by the admin")


# ---- TOTP enrolment from the console ------------------------------------------------------
def scenario_totp_enrol():
    adm = S["admin"]
    r = adm.req("POST", "/admin/users", {"csrf": adm.csrf, "name": "totpu", "role": "school_officer", "scope": "A1"})
    tpw = re.search(r'id="new-password">([A-Za-z0-9]{16})<', r.body)
    tpw = tpw.group(1) if tpw else ""
    tu = Client()
    tu.login("totpu", tpw)
    r = tu.req("GET", "/account/totp")
    sec = re.search(r'id="totp-secret">([A-Z2-7]{32})<', r.body)
    sec = sec.group(1) if sec else "A" * 32
    tap(r.status == 200 and 'id="totp-state"' in r.body, "an officer opens its TOTP enrolment page with a new secret")
    st = [tu.req("POST", "/account/totp", {"secret": sec, "password": tpw, "code": totp(sec)}).status,
          tu.req("POST", "/account/totp", {"csrf": tu.csrf, "secret": sec, "password": "wrong", "code": totp(sec)}).status,
          tu.req("POST", "/account/totp", {"csrf": tu.csrf, "secret": sec, "password": tpw,
                                           "code": "000000" if totp(sec) != "000000" else "111111"}).status,
          tu.req("POST", "/account/totp", {"csrf": tu.csrf, "secret": "abc", "password": tpw, "code": totp(sec)}).status,
          tu.req("POST", "/account/totp", raw_body="csrf=%s&secret=%s&password=%s&code=%%C3%%28" % (tu.csrf, sec, tpw),
                 headers={"Content-Type": "application/x-www-form-urlencoded",
                          "Origin": "https://localhost:%d" % PORT}).status]
    tap(st == [403, 400, 400, 400, 400],
        "enrolment refuses a missing CSRF token, a wrong password, a wrong code, a malformed secret, invalid UTF-8 (%s)" % st)
    r = tu.req("POST", "/account/totp", {"csrf": tu.csrf, "secret": sec, "password": tpw, "code": totp(sec)})
    tap(r.status == 200 and "đã bật" in r.body, "the right password and code enrol the secret")
    tap(Client().login("totpu", tpw).status == 401 and Client().login("totpu", tpw, totp(sec)).status == 303,
        "after enrolment the account needs its TOTP code to log in")
    au = S["aud"].req("GET", "/api/v1/audit?limit=500").body
    tap('"action":"totp.enrol","object":"user:totpu"' in au and '"action":"totp.failed","object":"user:totpu"' in au,
        "the enrolment and the failed attempts are in the audit log")


# ---- logout, logout everywhere, disable ----------------------------------------------------
def scenario_logout():
    S["prov"], S["drill"]  # sessions from before, which logout everywhere and disable must end
    a, b = Client(), Client()
    a.login("prov", PW["prov"]); b.login("prov", PW["prov"])
    a.req("GET", "/alerts")
    old = dict(a.cookies)
    r = a.req("POST", "/logout", {"csrf": a.csrf})
    z = Client(); z.cookies = old
    tap(r.status == 303 and z.req("GET", "/overview").status == 303, "after logout the old cookie opens nothing")
    tap(b.req("GET", "/overview").status == 200, "the other session lives on")
    b.req("GET", "/alerts")
    b.req("POST", "/logout-all", {"csrf": b.csrf})
    tap(S["prov"].req("GET", "/overview").status == 303, "logout everywhere ends every session of the account")
    cli("user", "disable", "drill")
    tap(S["drill"].req("GET", "/overview").status == 303 and Client().login("drill", PW["drill"]).status == 401,
        "a disabled account's sessions end and it cannot log in")


# ---- lockout, unlock, throttling -----------------------------------------------------------
def scenario_lockout():
    S["admin"]  # the reader of the audit log, logged in before the failures throttle this address
    lk = Client()
    codes = [lk.login("aud", "wrong-%d" % i).status for i in range(5)]
    r = lk.login("aud", PW["aud"])
    tap(codes == [401] * 5 and r.status == 403 and "khóa" in r.body, "5 wrong passwords lock the account; the right one is then refused")
    locked = '"locked":true' in cli("user", "list", "--json")
    cli("user", "unlock", "aud")
    tap(locked and lk.login("aud", PW["aud"]).status == 303, "user list shows the lock, and after 'user unlock' the login works")
    au = S["admin"].req("GET", "/api/v1/audit?limit=500").body
    tap('"action":"login.failed"' in au and '"action":"login.lockout"' in au and '"action":"user.unlock"' in au
        and '"action":"login"' in au,
        "the audit log has failed logins, the lockout, the unlock and logins")
    tap('"address":"127.0.0.1"' in au, "audit lines say where from")
    th = Client()
    st = [th.login("nobody", "x").status for _ in range(25)]
    tap(429 in st and st.index(429) <= 20, "failed logins from one address are throttled (429 after %s)" % (st.index(429) if 429 in st else "-"))


# ---- handlers run off the loop ----------------------------------------------------------
def scenario_off_loop():
    # 24 logins (an argon2id check each) sent at once on open TLS connections,
    # then a fresh TLS handshake, which only the loop answers. With handlers on
    # the loop the handshake waits behind most of the hashing; off it, the
    # handshake is answered while the worker hashes. From 127.0.0.2: 127.0.0.1
    # is throttled once the lockout scenario has run.
    conns = [tls_conn() for _ in range(24)]
    form = urllib.parse.urlencode({"user": "comm", "password": PW["comm"], "code": ""})
    login_req = ("POST /login HTTP/1.1\r\nHost: localhost:%d\r\nOrigin: https://localhost:%d\r\n"
                 "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"
                 % (PORT, PORT, len(form), form)).encode()
    t0 = time.perf_counter()
    for c in conns:
        c.sendall(login_req)
    probe = tls_conn()
    t_hs = time.perf_counter() - t0
    probe.close()
    codes = []
    for c in conns:
        head = b""
        while b"\r\n" not in head:
            chunk = c.recv(4096)
            if not chunk:
                break
            head += chunk
        codes.append(head.split(b" ")[1] if head else b"")
        c.close()
    t_all = time.perf_counter() - t0
    tap(codes == [b"303"] * 24 and t_hs < t_all / 3,
        "a TLS handshake is answered while 24 logins hash (%.0f ms, the logins %.0f ms)" % (t_hs * 1000, t_all * 1000))
    # Clients that send a login and leave at once: h2o frees their requests
    # while the worker still runs them (asan watches the log).
    for _ in range(6):
        c = tls_conn()
        c.sendall(login_req)
        c.close()
    tap(Client().req("GET", "/healthz").status == 200,
        "clients that leave while their login is in the worker leave the console serving")


def scenarios():
    """The scenario functions, in the order of this file."""
    return [n[len("scenario_"):] for n in globals() if n.startswith("scenario_")]


if NAME == "seed":
    seed()
    db.commit()
    sys.exit(0)
if NAME not in scenarios():
    sys.exit("web_console.py: no scenario %r (have: %s)" % (NAME, " ".join(scenarios())))
seeded = json.load(open(SEEDFILE))
PW, SECRET, ALERT = seeded["pw"], seeded["secret"], {k: int(v) for k, v in seeded["alert"].items()}
globals()["scenario_" + NAME]()
db.commit()
S.save()
sys.exit(0)
