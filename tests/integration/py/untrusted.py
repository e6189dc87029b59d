#!/usr/bin/python3
"""What an enrolled PC, or an older collector, can leave in the store, for
collector_untrusted.sh: rows written straight into it, and the fields of
the collector's JSON the checks read.

  untrusted.py inject DB             an older collector's agent with a hostile
                                     host name, its state, alert and event
  untrusted.py check-pass SCORE AGENT CHECK
                                     the pass of AGENT's CHECK in a
                                     `score --json` file (True/False)
  untrusted.py clamped EVENTS        per event of an `events list --json`
                                     file: seq, ts_clamped, the agent's
                                     year and the stored year"""
import json
import sqlite3
import sys
import time


def inject(path):
    db = sqlite3.connect(path, timeout=30)
    now = int(time.time() * 1e6)
    host = "pc\x1b[2J\x1b]0;owned\x07\nFORGED line\r\u202eevil\x9b"
    db.execute("INSERT INTO agents(id, school, hostname, cert_sha256, enrolled,"
               " last_seen) VALUES('evil-1', '79001', ?, '00', ?, ?)", (host, now, now))
    db.execute("INSERT INTO host_state(agent, kind, ts, sev, drill, body)"
               " VALUES('evil-1', 'av.status', ?, 8, 0, ?)",
               (now, b"\x81\xa8realtime\xa8off\x1b[2J\n"))
    db.execute("INSERT INTO alerts(rule, title, category, kind, dedupe_key, agent,"
               " school, severity, drill, first, last, count, state, evidence,"
               " src_ip, file_path, file_hash) VALUES('av-off', ?, 'x', 'av.status',"
               " 'k', 'evil-1', '79001', 8, 0, ?, ?, 1, 'open', ?, '', '', '')",
               ("title\x1b[2J\nFORGED title", now, now,
                '{"path":"C:\\\\x\x1b[2J\nFORGED evidence"}'))
    db.execute("INSERT INTO events(agent, boot, seq, ts, received, kind, sev, drill,"
               " body) VALUES('evil-1', 1, 1, ?, ?, 'av.status', 8, 0, ?)",
               (now, now, b"\x81\xa6engine\xa9x\xe2\x80\xae\x1b[2J\n"))
    db.commit()


def check_pass(path, agent, check):
    d = json.load(open(path))
    for h in d["schools"][0]["hosts"]:
        if h["agent"] == agent:
            print([c["pass"] for c in h["checks"] if c["id"] == check][0])


def clamped(path):
    for e in json.load(open(path)):
        print(e["seq"], e.get("ts_clamped"), e.get("agent_ts", "")[:4], e["ts"][:4])


COMMANDS = {"inject": inject, "check-pass": check_pass, "clamped": clamped}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
