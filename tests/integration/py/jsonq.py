#!/usr/bin/python3
"""Reads one JSON document on stdin (or from FILE) and prints a part of
it, for shell scripts that need a field and no more.

  jsonq.py get PATH [FILE]   the value at PATH, dot-separated keys and
                             list indexes (0.id, p99_ms); a string bare
  jsonq.py len [FILE]        the length of the top-level list or map
  jsonq.py eq PATH PATH [FILE]  True when both values are equal
  jsonq.py select PATH KEY VALUE [FIELD] [FILE]
                             the members of the list at PATH whose KEY is
                             the string VALUE (or their FIELD), as JSON
  jsonq.py lines PATH FILE   the value at PATH of the first JSON line of
                             FILE that has it (JSON lines output)"""
import json
import sys


def at(doc, path):
    for part in path.split(".") if path else []:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def load(args, n):
    return json.load(open(args[n])) if len(args) > n else json.load(sys.stdin)


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "get":
        v = at(load(args, 1), args[0])
        print(v if isinstance(v, str) else json.dumps(v))
    elif cmd == "len":
        print(len(load(args, 0)))
    elif cmd == "eq":
        doc = load(args, 2)
        print(at(doc, args[0]) == at(doc, args[1]))
    elif cmd == "select":
        doc = load(args, 4)
        found = [m for m in at(doc, args[0]) if m.get(args[1]) == args[2]]
        if len(args) > 3 and args[3]:
            found = [m[args[3]] for m in found]
        print(json.dumps(found))
    elif cmd == "lines":
        for line in open(args[1]):
            try:
                v = at(json.loads(line), args[0])
            except (KeyError, IndexError, TypeError):
                continue
            print(v if isinstance(v, str) else json.dumps(v))
            break
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
