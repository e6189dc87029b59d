#!/usr/bin/python3
"""Parses what the SOC received, to check it field by field.

  socparse.py syslog FILE   RFC 5424 + CEF lines as rsyslog wrote them
  socparse.py https FILE    the JSON arrays the HTTPS receiver saved

Prints one JSON object per alert: {"header": {...}, "cef": {...}} for
syslog, the alert object itself for https. The CEF parser follows the
specification's escaping, independently of the collector's code."""
import json
import re
import sys

SYSLOG = re.compile(r"^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (.*)$")


def cef_header(text):
    """Splits 'CEF:0|a|b|...|ext' on unescaped pipes; unescapes \\| and \\\\."""
    fields, cur, i = [], "", 0
    while i < len(text) and len(fields) < 7:
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "|\\":
            cur += text[i + 1]
            i += 2
            continue
        if c == "|":
            fields.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    return fields, text[i:]


def cef_extension(text):
    """key=value pairs; a key is the word before an unescaped '='."""
    out, key, val, i = {}, None, "", 0
    keys = [(m.start(), m.group(1)) for m in re.finditer(r"(?:^| )([A-Za-z0-9]+)=", text)
            if m.start() == 0 or not is_escaped(text, m.start(1) + len(m.group(1)))]
    for n, (start, k) in enumerate(keys):
        vstart = start + (0 if start == 0 else 1) + len(k) + 1
        vend = keys[n + 1][0] if n + 1 < len(keys) else len(text)
        out[k] = unescape(text[vstart:vend])
    return out


def is_escaped(text, pos):
    n = 0
    while pos - 1 - n >= 0 and text[pos - 1 - n] == "\\":
        n += 1
    return n % 2 == 1


def unescape(v):
    res, i = "", 0
    while i < len(v):
        if v[i] == "\\" and i + 1 < len(v):
            nxt = v[i + 1]
            res += {"n": "\n", "r": "\r", "=": "=", "\\": "\\"}.get(nxt, nxt)
            i += 2
        else:
            res += v[i]
            i += 1
    return res


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "https":
        for line in open(path, encoding="utf-8"):
            if line.strip():
                for alert in json.loads(line):
                    print(json.dumps(alert, ensure_ascii=False))
        return
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        m = SYSLOG.match(line)
        if not m:
            continue
        pri, ts, host, app, procid, msgid, sd, msg = m.groups()
        header, ext = cef_header(msg)
        print(json.dumps({
            "header": {"pri": int(pri), "ts": ts, "host": host, "app": app,
                       "procid": procid, "msgid": msgid, "sd": sd},
            "cef": {"version": header[0], "vendor": header[1], "product": header[2],
                    "product_version": header[3], "signature": header[4],
                    "name": header[5], "severity": int(header[6]),
                    "ext": cef_extension(ext)},
        }, ensure_ascii=False))


if __name__ == "__main__":
    main()
