#!/usr/bin/python3
"""What the SOC received, checked the way soc_forward.sh asks: one
subcommand per question, exit 0 when the answer is yes (or the number
printed).

  soc.py ids syslog|https FILE      distinct alert ids the SOC holds
  soc.py mtls-count FILE            alerts the mTLS (OCSF) receiver holds
  soc.py ocsf-class FILE            every OCSF item is a Detection Finding
  soc.py ocsf-deep FILE             an OCSF evidence keeps the deep file name
  soc.py cef-yara FILE              every syslog/CEF field of a YARA alert
  soc.py ecs-yara FILE              every ECS field of the same over HTTPS
  soc.py any syslog|https FILE COND one alert makes COND true (a Python
                                    expression of e, the CEF extension, or
                                    a, the ECS alert, and base64)
  soc.py strict TEXT < JSON         strict JSON (UTF-8, no NaN, no lone
                                    surrogate) that holds TEXT
  soc.py dead-letter < JSON         one dead letter, the poisoned alert's
  soc.py utf8 FILE                  the file is valid UTF-8
  soc.py refuses-anonymous PORT CA  an mTLS receiver refuses a client
                                    without a certificate
  soc.py hostile-names DIR          writes the EICAR files with hostile
                                    names that the scan scenario needs

The alerts come from socparse.py (a parser independent of the
collector's code)."""
import base64
import json
import os
import re
import socket
import ssl
import subprocess
import sys

import strictjson

HERE = os.path.dirname(os.path.abspath(__file__))
SOCPARSE = os.path.join(HERE, "..", "socparse.py")


def alerts(kind, path):
    """The alerts socparse.py reads in PATH, as dicts."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return []
    out = subprocess.run([sys.executable, SOCPARSE, kind, path],
                         capture_output=True, check=False).stdout
    return [json.loads(l) for l in out.decode("utf-8").splitlines() if l]


def ocsf_items(path):
    if not os.path.exists(path):
        return []
    return [a for l in open(path) for a in json.loads(l)]


def ids(kind, path):
    if kind == "syslog":
        return len({a["cef"]["ext"]["externalId"] for a in alerts(kind, path)})
    return len({a["event"]["id"] for a in alerts(kind, path)})


def cef_yara(path):
    rows = [json.loads(l) for l in open(path)]
    yara = [r for r in rows if r["cef"]["signature"] == "scan.match"]
    assert len({r["cef"]["ext"]["externalId"] for r in yara}) == 20, len(yara)
    r = yara[0]
    h, c, e = r["header"], r["cef"], r["cef"]["ext"]
    assert h["pri"] == 13 * 8 + 1, h          # log audit, alert: CEF 9
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", h["ts"]), h
    assert h["app"] == "eduwatch" and h["msgid"] == "scan.match", h
    assert (c["version"], c["vendor"], c["product"]) == ("CEF:0", "eduwatch", "eduwatch-collector"), c
    assert c["name"] == "Malware found by a YARA rule" and c["severity"] == 9, c
    assert re.match(r"^\d{13}$", e["rt"]), e
    assert re.match(r"^eduwatch-\d+$", e["externalId"]), e
    assert e["shost"].startswith("loadgen-"), e
    assert e["dvchost"] == h["host"], (e, h)
    assert re.match(r"^bai-tap-\d+\.exe$", e["fname"]), e
    assert e["filePath"].startswith("C:\\Users\\hocsinh\\Downloads\\bai-tap-"), e
    assert re.match(r"^[0-9a-f]{64}$", e["fileHash"]), e
    assert (e["act"], e["outcome"], e["cat"]) == ("alert", "open", "malware"), e
    assert (e["cs1Label"], e["cs1"]) == ("school", "79001"), e
    assert (e["cs2Label"], e["cs2"]) == ("commune", "Xã An"), e
    assert (e["cs3Label"], e["cs3"]) == ("rule", "yara-match"), e
    assert e["cs4Label"] == "agent" and e["cs4"].startswith("79001-"), e
    assert e["cs5Label"] == "evidence" and json.loads(e["cs5"])["rule"] == "Win_Ransom_Note_Generic", e
    assert (e["cs6Label"], e["cs6"]) == ("drill", "false"), e
    scan = [r for r in rows if r["cef"]["signature"] == "net.port_scan"][0]
    assert scan["cef"]["severity"] == 5 and scan["header"]["pri"] == 13 * 8 + 4, scan
    return True


def ecs_yara(path):
    rows = [json.loads(l) for l in open(path)]
    yara = [r for r in rows if r["rule"]["id"] == "yara-match"][0]
    assert yara["event"]["kind"] == "alert" and yara["event"]["category"] == ["malware"], yara
    assert yara["event"]["severity"] == 9 and yara["event"]["action"] == "scan.match", yara
    assert yara["message"] == "Malware found by a YARA rule", yara
    assert yara["host"]["name"].startswith("loadgen-") and yara["host"]["id"].startswith("79001-"), yara
    assert yara["organization"]["id"] == "79001" and yara["labels"]["commune"] == "Xã An", yara
    assert yara["labels"]["drill"] == "false" and yara["tags"] == [], yara
    assert yara["file"]["path"].startswith("C:\\Users\\hocsinh") and len(yara["file"]["hash"]["sha256"]) == 64, yara
    assert yara["observer"]["vendor"] == "eduwatch", yara
    assert yara["eduwatch"]["evidence"]["rule"] == "Win_Ransom_Note_Generic", yara
    assert yara["@timestamp"].endswith("Z"), yara
    return True


def any_alert(kind, path, cond):
    def ok(a):
        env = {"base64": base64}
        env["e" if kind == "syslog" else "a"] = a["cef"]["ext"] if kind == "syslog" else a
        try:
            return eval(cond, env)
        except (KeyError, TypeError, AttributeError):
            return False
    return any([ok(a) for a in alerts(kind, path)])


def strict(text):
    """Reads JSON on stdin as a strict SIEM would: UTF-8 or nothing, no
    NaN, no lone surrogate."""
    raw = sys.stdin.buffer.read()
    strictjson.loads(raw)
    return text.encode() in raw


def dead_letter():
    d = json.load(sys.stdin)
    return (len(d) == 1 and d[0]["destination"] == "soc-https" and d[0]["status"] == 400
            and d[0]["rule"] == "yara-match" and "breaks our schema" in d[0]["reason"])


def refuses_anonymous(port, ca):
    ctx = ssl.create_default_context(cafile=ca)
    try:
        with socket.create_connection(("127.0.0.1", int(port))) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                t.sendall(b"POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n[]")
                t.settimeout(5)
                if b" 200 " in t.recv(100):
                    return False
    except (ssl.SSLError, ConnectionError, OSError):
        return True
    return False


def hostile_names(top):
    """EICAR files (each a different hash, so each its own alert): one
    named with the bytes ff fe, one the receiver refuses, one 600 bytes
    deep, and one scanned after the refusal."""
    h = os.fsencode(top)
    eicar = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-"
             b"STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")

    def write(rel, tail):
        path = os.path.join(h, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "wb").write(eicar + b"\n" + tail)
    deep = b"/".join([b"thu-muc-rat-sau-" + bytes([97 + i]) * 40 for i in range(11)])
    write(b"first/\xff\xfe.com", b"1")
    write(b"first/POISON-SOC.com", b"2")
    write(b"first/" + deep + b"/deep-virus.com", b"3")
    write(b"later/after.com", b"4")
    return len(os.path.join(h, b"first", deep, b"deep-virus.com")) >= 600


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "ids":
        print(ids(*args))
        return 0
    if cmd == "mtls-count":
        print(len(ocsf_items(args[0])))
        return 0
    answers = {
        "ocsf-class": lambda: bool(ocsf_items(args[0])) and all(
            a.get("class_uid") == 2004 for a in ocsf_items(args[0])),
        "ocsf-deep": lambda: any(
            e["file"]["name"] == "deep-virus.com" and "\u2026" in e["file"]["path"]
            for a in ocsf_items(args[0]) for e in a.get("evidences", [])),
        "cef-yara": lambda: cef_yara(args[0]),
        "ecs-yara": lambda: ecs_yara(args[0]),
        "any": lambda: any_alert(*args),
        "strict": lambda: strict(args[0]),
        "dead-letter": dead_letter,
        "utf8": lambda: open(args[0], "rb").read().decode("utf-8") is not None,
        "refuses-anonymous": lambda: refuses_anonymous(*args),
        "hostile-names": lambda: hostile_names(args[0]),
    }
    if cmd not in answers:
        sys.stderr.write(__doc__)
        return 2
    return 0 if answers[cmd]() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
