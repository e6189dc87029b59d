#!/usr/bin/python3
"""Runs a command, samples the resident memory of its whole process tree
every 20 ms, and prints "seconds=S peak_rss_kib=K exit=E" on stderr; the
command's stdout goes to the file given first. Used so that a scanner
with helper processes and one with threads are measured the same way."""
import os
import subprocess
import sys
import time


def tree_rss(root):
    children = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(pid))
        except (OSError, ValueError, IndexError):
            pass
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
        todo.extend(children.get(pid, []))
    return total


out = open(sys.argv[1], "wb")
start = time.monotonic()
p = subprocess.Popen(sys.argv[2:], stdout=out)
peak = 0
while p.poll() is None:
    peak = max(peak, tree_rss(p.pid))
    time.sleep(0.02)
print("seconds=%.3f peak_rss_kib=%d exit=%d" %
      (time.monotonic() - start, peak, p.returncode), file=sys.stderr)
