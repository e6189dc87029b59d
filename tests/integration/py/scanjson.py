#!/usr/bin/python3
"""Reads `eduwatch-agent scan --json` output (one JSON object a line) and
yarasamples.py's list of what each sample must match, for scan_yara.sh.

  scanjson.py matches ROOT FILE    {sample path under ROOT: [rules]} of
                                   every match, sorted, as JSON
  scanjson.py expected JSON        the same map from yarasamples.py's output
                                   (samples that must match nothing left out)
  scanjson.py samples JSON         how many samples yarasamples.py made
  scanjson.py summary FILE FIELD   a field of the summary line
  scanjson.py reason FILE SUFFIX   the skip reason of the path ending SUFFIX"""
import json
import os
import sys


def lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def matches(root, path):
    got = {}
    for d in lines(path):
        if d.get("verdict") == "match":
            got[os.path.relpath(d["path"], root)] = sorted(m["rule"] for m in d["matches"])
    print(json.dumps(got, sort_keys=True))


def expected(text):
    d = json.loads(text)
    print(json.dumps({k: sorted(v) for k, v in d.items() if v}, sort_keys=True))


def samples(text):
    print(len(json.loads(text)))


def summary(path, field):
    print([d["summary"][field] for d in lines(path) if "summary" in d][0])


def reason(path, suffix):
    print(*[d.get("reason", "") for d in lines(path) if d.get("path", "").endswith(suffix)])


COMMANDS = {"matches": matches, "expected": expected, "samples": samples,
            "summary": summary, "reason": reason}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
