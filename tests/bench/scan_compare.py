#!/usr/bin/python3
"""Compares yara's "RULE PATH" lines with eduwatch-agent scan --json."""
import json
import sys

peer = set()
for line in open(sys.argv[1], errors="replace"):
    rule, _, path = line.rstrip("\n").partition(" ")
    if path:
        peer.add((rule, path))
ours = set()
for line in open(sys.argv[2]):
    d = json.loads(line)
    for m in d.get("matches", []):
        ours.add((m["rule"], d["path"]))
if ours == peer:
    print("identical match sets, %d matches" % len(ours))
else:
    print("DIFFERENT match sets: %d only ours, %d only yara" %
          (len(ours - peer), len(peer - ours)))
