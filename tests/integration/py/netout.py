#!/usr/bin/python3
"""Checks over the LAN sensor's JSON alerts (`sniff --json`, one a line),
every *.out file of a folder, for net_sensor.sh.

  netout.py summaries DIR [MIN]  every alert says what happened in English
                                 and in Vietnamese (one line each), and
                                 there are at least MIN (20) of them
  netout.py json DIR             every line is JSON"""
import glob
import json
import sys


def lines(folder):
    for f in glob.glob(folder + "/*.out"):
        for line in open(f):
            yield line


def summaries(folder, least="20"):
    n = 0
    for line in lines(folder):
        ev = json.loads(line)["evidence"]
        assert ev["summary_en"] and ev["summary_vi"] and "\n" not in ev["summary_en"], line
        assert any(ord(c) > 127 for c in ev["summary_vi"]), line
        n += 1
    assert n >= int(least), n


def all_json(folder):
    for line in lines(folder):
        json.loads(line)


COMMANDS = {"summaries": summaries, "json": all_json}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
