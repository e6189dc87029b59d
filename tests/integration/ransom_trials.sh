#!/bin/bash
# The ransomware detector's trials (issue 19): real workloads in a
# watched folder, run against exactly what the agent's ransom source runs
# (ransom_watch: inotify, the model, the canaries; tests/bench/
# ransom_trial.c with an agent.yaml's settings, defaults unchanged).
# Positives: a rewrite-and-rename loop like the drill's, an `openssl enc`
# loop over a folder (encrypt to *.enc, delete the original), a canary
# touched. Negatives, which must raise nothing: `tar x` of a large
# archive, a `make` (and a rebuild) of a small C project, `cp -r` of
# photo-like files (JPEG headers over high-entropy bodies: as random as
# ciphertext, which is the point), and eduwatch's backup writing its
# repository. Each trial prints its figures (events seen, max score,
# threshold) as a TAP comment: docs/DRILLS.md keeps them. Hostile: a
# link planted under the canary's name, a FIFO in the folder, and a
# configured folder reached through a link (tests/unit/test_fswatch.c
# has the folder swapped for a link under a running watch).
# The trials measure decisions, which no sanitizer changes; the agent's
# run of the same code under ASan is drill_ransom.sh's.
# ew-variants: release
. "$(dirname "$0")/lib.bash"
TRIAL="$EW_BENCH_BIN/ransom_trial"
AGENT="$EW_BIN/eduwatch-agent"
F="$WORK/watch"
SRC="$WORK/src"

setup() {
	mkdir -p "$F" "$SRC/photos" "$SRC/proj" "$WORK/state"
	cat >"$WORK/agent.yaml" <<YAML
state_dir: $WORK/state
collector:
  host: localhost
ransom:
  folders: [$F]
YAML
	# 120 photo-like files, 100-200 kB each.
	$PY - "$SRC/photos" <<'EOF'
import os, sys
for i in range(120):
    head = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00H\x00H\x00\x00"
            b"\xff\xe1\x00\x40Exif\x00\x00" + b"Canon EOS 1200D\x00" * 3)
    body = os.urandom(100000 + (i * 997) % 100000)
    with open(os.path.join(sys.argv[1], "IMG_%04d.JPG" % i), "wb") as f:
        f.write(head + body + b"\xff\xd9")
EOF
	# A small C project: 10 units and a Makefile.
	for i in $(seq 10); do
		printf '#include <stdio.h>\nstatic const char *n[] = {"a%d", "b", "c"};\nint f%d(int x)\n{\n\tint s = 0;\n\tfor (int i = 0; i < x; i++)\n\t\ts += i * %d;\n\tprintf("%%s %%d\\n", n[x %% 3], s);\n\treturn s;\n}\n' "$i" "$i" "$i" >"$SRC/proj/f$i.c"
	done
	printf 'int main(void)\n{\n\treturn 0;\n}\n' >"$SRC/proj/main.c"
	printf 'SRC := $(wildcard *.c)\nprog: $(SRC:.c=.o)\n\t$(CC) -o $@ $^\n%%.o: %%.c\n\t$(CC) -O2 -g -c -o $@ $<\n' >"$SRC/proj/Makefile"
	# A large archive: the kernel's headers (thousands of small text
	# files) and the photos.
	tar -cf "$WORK/big.tar" -C /usr/include linux asm-generic -C "$SRC" photos
}

# documents N: N text files of 20 kB in $F/docs.
documents() {
	mkdir -p "$F/docs"
	for i in $(seq "$1"); do head -c 20000 /usr/share/common-licenses/GPL-3 >"$F/docs/d$i.txt"; done
}

# trial NAME COMMAND [verdict]: runs COMMAND in $F under the detector,
# then sets TR (its JSON line) and prints the figures. With "verdict",
# waits up to 10 s for one first (a loaded machine is slow, not wrong).
trial() {
	local name=$1 cmd=$2 want=${3:-} p s e
	# Emptied here, not only by the redirection below: that one happens
	# in the background job, maybe after wait_for has read the previous
	# trial's "watching" and started the workload before the canary.
	: >"$WORK/trial.err"
	"$TRIAL" -c "$WORK/agent.yaml" >"$WORK/trial.out" 2>"$WORK/trial.err" &
	p=$!
	wait_for 20 grep -q watching "$WORK/trial.err" || { not_ok "$name: the detector watches ($(cat "$WORK/trial.err"))"; return 1; }
	s=$(date +%s%N)
	(cd "$F" && eval "$cmd") >"$WORK/work.out" 2>&1 || echo "# $name: the workload failed: $(tail -2 "$WORK/work.out")"
	e=$(date +%s%N)
	[ -n "$want" ] && wait_for 10 grep -q "^verdict" "$WORK/trial.err"
	sleep 0.5 # the watcher's queue drains
	kill -TERM "$p"
	wait "$p"
	TR=$(cat "$WORK/trial.out")
	echo "# trial $name: $TR, workload $(((e - s) / 1000000)) ms"
}
field() { $PY -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$TR" "$1"; }
quiet_trial() { # quiet_trial NAME COMMAND: a negative
	trial "$1" "$2" || return
	check "$1: events were seen ($(field events))" test "$(field events)" -gt 0
	check "$1: no verdict, max score $(field max_score) below threshold $(field threshold)" \
		eval '[ "$(field verdicts)" = 0 ] && [ "$(field max_score)" -lt "$(field threshold)" ]'
	rm -rf "${F:?}"/*
}

scenario_rewrite_and_rename() {
	documents 40
	trial rewrite_and_rename 'for f in docs/*.txt; do head -c 16384 /dev/urandom >"$f"; mv "$f" "$f.locked"; done' verdict
	check "rewriting 40 documents and renaming them *.locked is a burst" eq "$(field first)" burst
	check "at the threshold" eq "$(field first_files)" "$(field threshold)"
	rm -rf "${F:?}"/*
}

scenario_openssl_loop() {
	documents 40
	trial openssl_loop 'for f in docs/*.txt; do openssl enc -aes-256-cbc -pbkdf2 -pass pass:drill -in "$f" -out "$f.enc" && rm "$f"; done' verdict
	check "an openssl enc loop (encrypt to *.enc, delete the original) is a burst" eq "$(field first)" burst
	rm -rf "${F:?}"/*
}

# Ciphertext written under a random name, the original deleted: nothing
# ties the names, the folder and the moment do.
scenario_random_name_then_delete() {
	documents 40
	trial random_name_then_delete 'for f in docs/*.txt; do openssl enc -aes-256-cbc -pbkdf2 -pass pass:drill -in "$f" -out "docs/$(openssl rand -hex 8)" && rm "$f"; done' verdict
	check "encrypting to random names and deleting the originals is a burst" eq "$(field first)" burst
	rm -rf "${F:?}"/*
}

# A folder renamed before its files are encrypted: its watch follows the
# new name (the detector reads the files where they are now). A folder
# moved out of the watched tree is no longer watched.
scenario_folder_moves() {
	documents 40
	trial folder_renamed 'mv docs papers && for f in papers/*.txt; do head -c 16384 /dev/urandom >"$f"; mv "$f" "$f.locked"; done' verdict
	check "files encrypted in a renamed folder are still a burst" eq "$(field first)" burst
	rm -rf "${F:?}"/* "$WORK/outside"
	documents 40
	trial folder_moved_out 'mv docs "$WORK/outside" && for f in "$WORK"/outside/*.txt; do head -c 16384 /dev/urandom >"$f"; mv "$f" "$f.locked"; done'
	check "a folder moved out of the watched tree is no longer watched ($(field events) events before it was dropped)" \
		eq "$(field verdicts)" 0
	rm -rf "${F:?}"/* "$WORK/outside"
}

scenario_canary_touch() {
	trial canary_touch 'echo one more line >>.~eduwatch-canary.docx' verdict
	check "the canary was planted" eq "$(field canaries)" 1
	check "one write to the canary is a verdict at once" eq "$(field first)" canary
	check "the detector removed its canary when it stopped" test ! -e "$F/.~eduwatch-canary.docx"
	trial canary_rename 'mv .~eduwatch-canary.docx canary.locked' verdict
	check "renaming the canary is a verdict" eq "$(field first)" canary
	check "a renamed canary is not the detector's to remove: left" test -f "$F/canary.locked"
	rm -f "$F/canary.locked"
}

scenario_hostile_canary_link() {
	echo "not yours" >"$WORK/target"
	ln -s "$WORK/target" "$F/.~eduwatch-canary.docx"
	mkfifo "$F/pipe"
	trial canary_link '(cat pipe >/dev/null &) ; echo into the fifo >pipe; sleep 0.2'
	check "a link under the canary's name is refused, not followed" eq "$(field canaries)" 0
	check "its target is untouched" eq "$(cat "$WORK/target")" "not yours"
	check "the link is left alone" test -L "$F/.~eduwatch-canary.docx"
	check "a FIFO written in the folder neither hangs the watcher nor scores" eq "$(field max_score)" 0
	rm -f "$F/.~eduwatch-canary.docx" "$F/pipe"
}

# A configured folder whose path goes through a link (a student's folder
# on the way swapped for `ln -s /elsewhere`): refused with a message,
# and no canary is planted where the link points.
scenario_hostile_folder_link() {
	mkdir -p "$WORK/real/class"
	ln -s "$WORK/real" "$WORK/via"
	sed "s|folders: \[.*\]|folders: [$WORK/via/class]|" "$WORK/agent.yaml" >"$WORK/via.yaml"
	local rc=0
	timeout 20 "$TRIAL" -c "$WORK/via.yaml" >"$WORK/via.out" 2>"$WORK/via.err" || rc=$?
	check "a folder reached through a link is refused ($(tail -1 "$WORK/via.err"))" \
		eval '[ "$rc" = 1 ] && grep -q "symbolic link" "$WORK/via.err"'
	check "no canary where the link points" test ! -e "$WORK/real/class/.~eduwatch-canary.docx"
	rm -rf "$WORK/real" "$WORK/via" "$WORK/via.yaml" "$WORK/via.out" "$WORK/via.err"
}

scenario_tar_x() {
	quiet_trial tar_x 'mkdir x && tar -C x -xf "$WORK/big.tar"'
}

scenario_make() {
	quiet_trial make 'cp -r "$SRC/proj" proj && make -C proj -j2 && touch proj/*.c && make -C proj -j2'
}

scenario_cp_photos() {
	quiet_trial cp_photos 'cp -r "$SRC/photos" photos && cp -r "$SRC/photos" photos-again'
	# The same import again, over the photos already there: 120
	# high-entropy rewrites of existing files, no jump in entropy.
	cp -r "$SRC/photos" "$F/photos"
	quiet_trial cp_photos_over 'cp -r "$SRC/photos/." photos/'
}

scenario_backup_repo() {
	export EDUWATCH_BACKUP_PASSWORD=drill-trial-passphrase
	quiet_trial backup_repo '"$AGENT" backup init --repo repo && "$AGENT" backup run "$SRC" --repo repo && echo changed >>"$SRC/proj/f1.c" && "$AGENT" backup run "$SRC" --repo repo'
}

run_scenarios
