#!/usr/bin/python3
"""ClamAV test data the real clamd cannot make offline.

  clamav.py daily-cvd FILE DAYS   a daily.cvd whose header says it was
                                  built DAYS days and an hour ago (the
                                  signature-age reading looks at no more)"""
import sys
import time


def daily_cvd(path, days):
    built = int(time.time()) - int(days) * 86400 - 3600
    hdr = ("ClamAV-VDB:27 Nov 2026 07:49 +0000:27470:2077345:90:"
           "0123456789abcdef0123456789abcdef:TESTSIG:eduwatch-test:%d" % built)
    with open(path, "wb") as f:
        f.write(hdr.encode().ljust(512, b" ") + b"payload")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "daily-cvd":
        sys.exit(__doc__)
    daily_cvd(sys.argv[2], sys.argv[3])
