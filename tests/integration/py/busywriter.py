#!/usr/bin/python3
"""Rewrites a file in place, 1 MiB blocks from its start, over and over,
until a stop file appears or SECONDS pass: a file that changes all through
a backup (it cannot be stored whole).

  busywriter.py FILE STOPFILE SECONDS   FILE's size in MiB blocks each round"""
import os
import sys
import time


def main(path, stop, seconds):
    blocks = os.path.getsize(path) >> 20
    blk = os.urandom(1 << 20)
    t0 = time.time()
    while not os.path.exists(stop) and time.time() - t0 < float(seconds):
        with open(path, "r+b") as f:
            for _ in range(blocks):
                f.write(blk)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
