#!/usr/bin/python3
"""The scan benchmark's input: DIR/corpus, a few hundred MB of regular
files copied from this system (no symlinks, none over 32 MiB) plus the
planted samples of tests/integration/yarasamples.py; and DIR/rules.yar,
one file holding ReversingLabs' public rules (when ../shared/data has
them), ours, and generated string rules up to RULES rules in all."""
import os
import random
import shutil
import subprocess
import sys

out, target_mb, want_rules, shared = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
here = os.path.dirname(os.path.abspath(__file__))
corpus = os.path.join(out, "corpus")
os.makedirs(corpus, exist_ok=True)
total, n = 0, 0
for top in ("/usr/lib/x86_64-linux-gnu", "/usr/bin", "/usr/share/doc", "/usr/lib/python3"):
    for dirpath, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(files):
            src = os.path.join(dirpath, name)
            if total >= target_mb << 20 or os.path.islink(src):
                continue
            try:
                size = os.path.getsize(src)
            except OSError:
                continue
            if size > 32 << 20:
                continue
            dst = os.path.join(corpus, os.path.relpath(src, "/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            try:
                shutil.copyfile(src, dst)
            except OSError:
                continue
            total += size
            n += 1
subprocess.run(["/usr/bin/python3", os.path.join(here, "../integration/yarasamples.py"),
                os.path.join(corpus, "planted")], stdout=subprocess.DEVNULL, check=True)

parts, count = [], 0
rl = os.path.join(shared, "yara", "reversinglabs")
for dirpath, dirs, files in os.walk(rl):
    dirs.sort()
    for name in sorted(files):
        if name.endswith((".yar", ".yara")):
            text = open(os.path.join(dirpath, name), encoding="utf-8", errors="replace").read()
            parts.append(text)
            count += text.count("\nrule ") + text.startswith("rule ")
ours = os.path.join(here, "../../rules/yara")
for name in sorted(os.listdir(ours)):
    if name.endswith(".yar"):
        text = open(os.path.join(ours, name)).read()
        parts.append(text)
        count += text.count("\nrule ") + text.startswith("rule ")
rng = random.Random(7)
i = 0
while count < want_rules:
    hexs = " ".join("%02X" % rng.randrange(256) for _ in range(12))
    word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(14))
    parts.append("rule gen_%05d { strings: $h = { %s } $s = \"%s\" nocase condition: any of them }\n"
                 % (i, hexs, word))
    i += 1
    count += 1
with open(os.path.join(out, "rules.yar"), "w") as f:
    f.write("\n".join(parts))
print("files=%d bytes=%d rules=%d" % (n, total, count))
