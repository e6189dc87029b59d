#!/usr/bin/python3
"""Writes the test files the integration scripts need, from a seed, so a
rerun writes the same bytes.

  genfiles.py ioc FILE            a province IOC list: 5,000 domains, one
                                  IPv4 and one IPv6 address
  genfiles.py random FILE SIZE    SIZE bytes from os.urandom (a file that
                                  does not compress or deduplicate)
  genfiles.py seeded DIR SEED COUNT SIZE FORMAT
                                  COUNT files of SIZE bytes in DIR, named
                                  by FORMAT % i, from random.Random(SEED)
  genfiles.py text DIR COUNT      COUNT small text files f0000.txt... in DIR
                                  ("file N" 400 times each)
  genfiles.py pcap-header FILE MAJOR LINKTYPE
                                  a capture file's header alone (version
                                  MAJOR.4, snap length 65535)"""
import os
import random
import struct
import sys


def ioc(path):
    with open(path, "w") as f:
        f.write("# province IOC list\n")
        for i in range(5000):
            f.write("c2-%d.evil.example\n" % i)
        f.write("203.0.113.66\n2001:db8::66\n")


def urandom(path, size):
    with open(path, "wb") as f:
        f.write(os.urandom(int(size)))


def seeded(folder, seed, count, size, fmt):
    r = random.Random(int(seed))
    for i in range(int(count)):
        with open(os.path.join(folder, fmt % i), "wb") as f:
            f.write(r.randbytes(int(size)))


def text(folder, count):
    for i in range(int(count)):
        with open(os.path.join(folder, "f%04d.txt" % i), "w") as f:
            f.write("file %d\n" % i * 400)


def pcap_header(path, major, linktype):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, int(major), 4, 0, 0, 65535,
                            int(linktype)))


COMMANDS = {"ioc": ioc, "random": urandom, "seeded": seeded, "text": text,
            "pcap-header": pcap_header}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
