#!/usr/bin/python3
"""The report suite's independent side: seeds a province's year of history
straight into the collector's SQLite store with known answers, and computes
each figure of the report again from the database, on its own, to compare
with the collector's model.

  reportcheck.py seed DB SCHOOLS         a year of history (2025-12-01..)
  reportcheck.py compare DB MODEL.json FROM TO SCOPE DESTS   (DESTS: the configured SOC destinations, a,b)
  reportcheck.py xlsx MODEL.json FILE.xlsx
"""
import json
import math
import random
import sqlite3
import sys
from datetime import date, datetime, timedelta, timezone

START = date(2025, 12, 1)
END = date(2026, 11, 30)
GAPS = {date(2026, 2, 10), date(2026, 2, 11), date(2026, 2, 12),
        date(2026, 7, 4)}
CHECKS = ["av-realtime", "av-signatures", "backup-rpo", "scan-full",
          "backup-restore-test", "lan-sensor"]
KINDS = ["scan.detect", "net.arp_spoof", "av.disabled", "usb.worm"]


def us(d, seconds=0):
    t = datetime(d.year, d.month, d.day, tzinfo=timezone.utc)
    return int(t.timestamp() * 1e6) + int(seconds * 1e6)


def seed(db, nschools):
    rnd = random.Random(18)
    c = sqlite3.connect(db)
    c.execute("PRAGMA foreign_keys=OFF")
    communes = ["Xã Hòa Bình", "Phường Đông Hải", "Xã Tân Lập"]
    schools = []
    for i in range(nschools):
        code = "S%04d" % i
        commune = communes[i % 3]
        expected = rnd.randint(5, 30)
        level = 5 if i == 1 else rnd.choice([1, 2, 3])
        schools.append((code, commune, expected, level))
        c.execute("INSERT INTO schools VALUES(?,?,?,?,?,?)",
                  (code, "Trường số %d %s" % (i, commune), commune, level,
                   expected, 0))
        for a in range(min(expected, 3)):
            c.execute("INSERT INTO agents(id, school, hostname, cert_sha256,"
                      " enrolled) VALUES(?,?,?,?,?)",
                      ("%s-pc%d" % (code, a), code, "pc%d" % a, "x", 0))
    d = START
    rows = hosts = 0
    while d <= END:
        if d not in GAPS:
            day = d.isoformat()
            for code, commune, expected, level in schools:
                pcs = expected
                enrolled = rnd.randint(0, pcs)
                fresh = rnd.randint(0, enrolled)
                av = rnd.randint(0, fresh)
                rpo = rnd.randint(0, fresh)
                rest = rnd.randint(0, rpo)
                no_policy = 1 if level == 5 else 0
                score = 0.0 if no_policy else round(rnd.uniform(40, 100), 4)
                c.execute("INSERT INTO day_school VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                          (day, code, commune, level, no_policy, pcs, enrolled,
                           fresh, av, rpo, rest, score))
                rows += 1
                if d == END or d == END - timedelta(days=1):
                    for h in range(enrolled):
                        failed = ",".join(x for x in CHECKS
                                          if rnd.random() < 0.3)
                        c.execute("INSERT INTO day_host VALUES(?,?,?,?,?,?,?,?,?)",
                                  (day, "%s-h%d" % (code, h), code,
                                   rnd.uniform(0, 100), 1, 0, 0, 0, failed))
                        hosts += 1
        d += timedelta(days=1)
    # Alerts: some before the period (open into it, or closed before it),
    # most inside, some drills, some never acknowledged or resolved.
    for n in range(400):
        code = rnd.choice(schools)[0]
        off = rnd.randint(-40, 375)
        first = us(START + timedelta(days=off), rnd.randint(0, 86399))
        ack = first + rnd.randint(30, 7200) * 1000000 if rnd.random() < 0.8 else None
        res = (ack or first) + rnd.randint(60, 400000) * 1000000 \
            if rnd.random() < 0.7 else None
        drill = 1 if rnd.random() < 0.1 else 0
        state = "resolved" if res else "acknowledged" if ack else "open"
        c.execute("INSERT INTO alerts(rule, title, category, kind, dedupe_key,"
                  " agent, school, severity, drill, first, last, count, state,"
                  " ack_by, ack, resolved_by, resolved, evidence, src_ip,"
                  " file_path, file_hash) VALUES(?,?,?,?,?,?,?,?,?,?,?,1,?,?,?,?,?,"
                  "'{}','','','')",
                  ("r", "t", "c", rnd.choice(KINDS), "k%d" % n, code + "-pc0",
                   code, rnd.choice([3, 5, 8, 10]), drill, first, first,
                   state, "o" if ack else None, ack, "o" if res else None, res))
    ids = [r[0] for r in c.execute("SELECT id FROM alerts WHERE first >= ? AND first < ?",
                                   (us(START), us(END + timedelta(days=1))))]
    for n in range(25):
        a = rnd.choice(ids)
        first = c.execute("SELECT first FROM alerts WHERE id=?", (a,)).fetchone()[0]
        c.execute("INSERT INTO dead_letters(dest, alert, status, reason, at)"
                  " VALUES('soc-a', ?, 400, 'bad', ?)", (a, first + 1000000))
    dossiers = ["not_started", "drafted", "submitted", "approved"]
    for n in range(40):
        code = rnd.choice(schools)[0] if n % 10 else "SO-GD"
        due = (START + timedelta(days=rnd.randint(-30, 500))).isoformat() \
            if rnd.random() < 0.8 else ""
        c.execute("INSERT INTO systems(unit, name, kind, level, dossier,"
                  " authority, decision_no, decision_date, review_due, hosts,"
                  " updated) VALUES(?,?,?,?,?,?,?,?,?,?,0)",
                  (code, "Hệ thống %d" % n, "lan", rnd.randint(1, 5),
                   rnd.choice(dossiers), "Sở", "1/QĐ", "2026-01-01", due, ""))
    # Deliveries to two SOC destinations, with their own generator so the
    # figures above keep their values: most confirmed after a lag from a
    # fraction of a second to a few hours, some still waiting, and the
    # dead letters above refused. soc-b is not in the collector's
    # configuration (a destination since removed), and a few confirmations
    # carry a time before their queueing (the clock stepped back).
    lag = random.Random(1818)
    step = random.Random(1819)
    dead = {(r[0], r[1]): r[2] for r in c.execute(
        "SELECT dest, alert, min(at) FROM dead_letters GROUP BY dest, alert")}
    for a, first in c.execute("SELECT id, first FROM alerts").fetchall():
        for dest in ("soc-a", "soc-b"):
            if (dest, a) in dead:
                row = (dest, a, first, None, dead[(dest, a)])
            elif lag.random() < 0.05:
                row = (dest, a, first, None, None)
            else:
                ms = lag.choice([lag.randint(50, 5000), lag.randint(5000, 600000),
                                 lag.randint(600000, 14400000)])
                if step.random() < 0.02:
                    ms = -step.randint(1000, 90000)
                row = (dest, a, first, first + ms * 1000, None)
            c.execute("INSERT INTO forward_deliveries(dest, alert, queued,"
                      " delivered, dead) VALUES(?,?,?,?,?)", row)
    c.commit()
    print("seeded %d day rows, %d host rows" % (rows, hosts))


def r2(v):
    return None if v is None else round(v + 0.0, 2)


def expected(db, frm, to, scope, forwards):
    c = sqlite3.connect(db)
    f = date.fromisoformat(frm)
    t = date.fromisoformat(to)
    from_us, end_us = us(f), us(t + timedelta(days=1))
    if scope == "province":
        schools = {r[0] for r in c.execute("SELECT code FROM schools")}
    elif scope.startswith("commune:"):
        schools = {r[0] for r in c.execute(
            "SELECT code FROM schools WHERE commune=?", (scope[8:],))}
    else:
        schools = {scope[7:]}
    rows = [r for r in c.execute(
        "SELECT day, school, no_policy, pcs, enrolled, fresh, av_ok, rpo_ok,"
        " restore_ok, score FROM day_school WHERE day BETWEEN ? AND ?",
        (frm, to)) if r[1] in schools]
    days = sorted({r[0] for r in rows})
    e = {}
    S, E = (days[0], days[-1]) if days else (None, None)
    on = lambda d: [r for r in rows if r[0] == d]

    def share(col, d):
        rs = on(d)
        p = sum(r[3] for r in rs)
        return r2(100.0 * sum(r[col] for r in rs) / p) if p else None

    def avg_share(col):
        v = []
        for d in days:
            rs = on(d)
            p = sum(r[3] for r in rs)
            if p:
                v.append(sum(r[col] for r in rs) / p)
        return r2(100.0 * sum(v) / len(v)) if v else None

    def score(d):
        rs = [r for r in on(d) if not r[2]]
        p = sum(r[3] for r in rs)
        return r2(sum(r[9] * r[3] for r in rs) / p) if p else None

    e["av.coverage_end"] = share(6, E) if E else None
    e["av.coverage_avg"] = avg_share(6)
    e["av.pcs_end"] = sum(r[3] for r in on(E)) if E else None
    systems = [r for r in c.execute("SELECT unit, dossier, review_due FROM systems")
               if scope == "province" or r[0] in schools]
    e["class.systems"] = len(systems)
    e["class.approved"] = sum(1 for r in systems if r[1] == "approved")
    e["class.overdue"] = sum(1 for r in systems if r[2] and r[2] <= to)
    e["class.no_policy"] = sum(1 for r in on(E) if r[2]) if E else 0
    e["soc.schools_connected"] = sum(1 for r in on(E) if r[4] > 0) if E else 0
    e["soc.pcs_connected"] = sum(r[4] for r in on(E)) if E else None
    e["soc.pcs_reporting"] = sum(r[5] for r in on(E)) if E else None
    alerts = [r for r in c.execute(
        "SELECT id, school, drill, first, coalesce(ack,0), coalesce(resolved,0)"
        " FROM alerts") if r[1] in schools]
    inper = [a for a in alerts if not a[2] and from_us <= a[3] < end_us]
    e["soc.alerts_forwarded"] = len(inper) if forwards else 0
    ids = {a[0] for a in alerts}
    e["soc.dead_letters"] = sum(
        1 for r in c.execute("SELECT alert, at FROM dead_letters")
        if from_us <= r[1] < end_us and (scope == "province" or r[0] in ids))
    def rank(v, p):
        v = sorted(v)
        return r2(v[max(math.ceil(p * len(v)), 1) - 1]) if v else None
    # Delivery lag: recorded queue-to-confirmation times of in-scope,
    # non-drill alerts queued in the period, per destination and together.
    real = {a[0] for a in alerts if not a[2]}
    lags, per, clamped = [], {}, 0
    for dest, alert, queued, delivered, dead in c.execute(
            "SELECT dest, alert, queued, delivered, dead FROM forward_deliveries"
            " WHERE queued >= ? AND queued < ?", (from_us, end_us)):
        if alert not in real:
            continue
        d = per.setdefault(dest, [[], 0, 0])
        if dead:
            d[1] += 1
        elif delivered:
            clamped += delivered < queued
            d[0].append(max(delivered - queued, 0) / 1e6)
            lags.append(max(delivered - queued, 0) / 1e6)
        else:
            d[2] += 1
    e["soc.delivery_lag_median"] = rank(lags, 0.5)
    e["soc.delivery_lag_p90"] = rank(lags, 0.9)
    e["soc.delivery_lag_max"] = rank(lags, 1.0)
    lag_rows = [[dest + ("" if dest in forwards else " (đã gỡ khỏi cấu hình)"),
                 len(v[0]), v[1], v[2], rank(v[0], 0.5), rank(v[0], 0.9), rank(v[0], 1.0)]
                for dest, v in sorted(per.items())]
    e["soc.deliveries_waiting"] = sum(v[2] for k, v in per.items() if k in forwards)
    e["soc.deliveries_dest_removed"] = sum(v[2] for k, v in per.items() if k not in forwards)
    e["soc.delivery_lag_clamped"] = clamped
    e["inc.alerts"] = len(inper)

    acks = [(a[4] - a[3]) / 6e7 for a in inper if a[4]]
    ress = [(a[5] - a[3]) / 6e7 for a in inper if a[5]]
    e["inc.ack_median"] = rank(acks, 0.5)
    e["inc.ack_p90"] = rank(acks, 0.9)
    e["inc.resolve_median"] = rank(ress, 0.5)
    e["inc.resolve_p90"] = rank(ress, 0.9)
    e["inc.open_end"] = sum(1 for a in alerts if not a[2] and a[3] < end_us
                            and (a[5] == 0 or a[5] >= end_us))
    e["bak.rpo_end"] = share(7, E) if E else None
    e["bak.rpo_avg"] = avg_share(7)
    e["bak.restore_end"] = share(8, E) if E else None
    # This data set holds no drill campaign (drill_chain.sh checks the
    # drill section against real campaigns).
    e["drill.held"] = 0
    e["drill.pcs"] = 0
    e["drill.detection_rate"] = None
    e["drill.pass_rate"] = None
    s0, s1 = (score(S), score(E)) if E else (None, None)
    e["comp.score_start"] = s0
    e["comp.score_end"] = s1
    e["comp.trend"] = r2(s1 - s0) if s0 is not None and s1 is not None else None
    e["comp.schools_below"] = sum(1 for r in on(E) if not r[2] and r[9] < 80) if E else 0
    # Missing days, up to the period's end (the test runs after it).
    have = set(days)
    d, miss = f, []
    while d <= t:
        if d.isoformat() not in have:
            miss.append(d.isoformat())
        d += timedelta(days=1)
    fails = {}
    if E:
        for (failed, school) in c.execute(
                "SELECT failed, school FROM day_host WHERE day=?", (E,)):
            if school not in schools:
                continue
            for x in filter(None, failed.split(",")):
                fails[x] = fails.get(x, 0) + 1
    return e, miss, fails, E, lag_rows


def compare(db, model_path, frm, to, scope, forwards):
    """forwards: the configured SOC destinations, comma-separated."""
    m = json.load(open(model_path))
    forwards = [f for f in forwards.split(",") if f]
    e, miss, fails, E, lag_rows = expected(db, frm, to, scope, forwards)
    got = {f["key"]: f["value"] for s in m["sections"] for f in s["figures"]}
    bad = 0
    for k, v in e.items():
        g = got.get(k, "absent")
        same = (v is None and g is None) or (
            v is not None and isinstance(g, (int, float)) and abs(g - v) <= 0.011)
        print("%s %s: model %s, independent %s" % ("ok" if same else "MISMATCH", k, g, v))
        bad += not same
    for k in got:
        if k not in e:
            print("MISMATCH %s: not computed independently" % k)
            bad += 1
    if m["missing_count"] != len(miss) or m["last_day"] != (E or ""):
        print("MISMATCH missing days %s vs %d (%s), last day %s vs %s" % (
            m["missing_count"], len(miss), miss, m["last_day"], E))
        bad += 1
    tables = {t["key"]: t for s in m["sections"] for t in s["tables"]}
    top = {r[0]: r[1] for r in tables["checks_failing"]["rows"]}
    want = dict(sorted(fails.items(), key=lambda kv: (-kv[1], kv[0]))[:10])
    if top != want:
        print("MISMATCH checks failing: %s vs %s" % (top, want))
        bad += 1
    got_lag = tables["delivery_lag_by_dest"]["rows"]
    same = len(got_lag) == len(lag_rows) and all(
        g[0] == w[0] and all((x is None and y is None) or (
            x is not None and y is not None and abs(x - y) <= 0.011)
            for x, y in zip(g[1:], w[1:]))
        for g, w in zip(got_lag, lag_rows))
    print("%s delivery lag by destination: model %s, independent %s" % (
        "ok" if same else "MISMATCH", got_lag, lag_rows))
    bad += not same
    print("%d figures compared, %d mismatches" % (len(e), bad))
    return 1 if bad else 0


def xlsx(model_path, path):
    import openpyxl
    m = json.load(open(model_path))
    wb = openpyxl.load_workbook(path)
    bad = 0
    ws = wb["figures"]
    cells = {}
    for row in ws.iter_rows(min_row=6, values_only=True):
        if row[0]:
            cells[row[0]] = row[2]
    for s in m["sections"]:
        if s["key"] not in wb.sheetnames:
            print("MISMATCH no sheet %s" % s["key"])
            bad += 1
        for f in s["figures"]:
            v = cells.get(f["key"], "absent")
            if f["value"] is None:
                ok = v is None
            else:
                ok = isinstance(v, (int, float)) and abs(v - f["value"]) < 1e-9
            if not ok:
                print("MISMATCH %s: xlsx %r model %r" % (f["key"], v, f["value"]))
                bad += 1
        # Every numeric table cell, as a number, in its sheet.
        ws = wb[s["key"]]
        values = [c for row in ws.iter_rows(values_only=True) for c in row
                  if isinstance(c, (int, float))]
        for t in s["tables"]:
            for r in t["rows"]:
                for c in r:
                    if isinstance(c, (int, float)) and c not in values:
                        print("MISMATCH %s.%s: %r not a number in the sheet" %
                              (s["key"], t["key"], c))
                        bad += 1
    print("xlsx: %d mismatches" % bad)
    return 1 if bad else 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "seed":
        seed(sys.argv[2], int(sys.argv[3]))
    elif cmd == "compare":
        sys.exit(compare(*sys.argv[2:8]))
    elif cmd == "xlsx":
        sys.exit(xlsx(sys.argv[2], sys.argv[3]))
