#!/bin/bash
# Backups end to end on real files: a round trip with hashes, modes and
# times; a ransomware simulation (encrypt and rename everything, restore
# the snapshot before); a damaged pack found by verify with the files and
# snapshots it hurts; kill -9 in the middle of a backup, and the next run
# completing and reusing what was stored; a wrong passphrase; a full
# target disk; prune; restores into targets where a hostile user planted
# or swaps in symlinks (root's files outside stay as they were).
# Scenarios run alone by name: make test ONLY=backup:ransomware
. "$(dirname "$0")/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
export EDUWATCH_BACKUP_PASSWORD="Mật khẩu trường học 2026"
R="$WORK/repo"
SRC="$WORK/src"
K="$WORK/killsrc"
manifest() { # path, sha256, mode, mtime of every file under $1
	$PY - "$1" <<'PYEOF'
import hashlib, os, sys
root = sys.argv[1]
for d, dirs, files in sorted(os.walk(root)):
    for f in sorted(files):
        p = os.path.join(d, f)
        st = os.lstat(p)
        if os.path.islink(p):
            continue
        print(os.path.relpath(p, root), hashlib.sha256(open(p, "rb").read()).hexdigest(),
              oct(st.st_mode & 0o7777), st.st_mtime_ns)
PYEOF
}
j() { $PY -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# 96 MiB of random files, made once for the scenarios that use them
# (kill_resume, full_target), whichever runs first.
make_killsrc() {
	[ -e "$K/f11.bin" ] && return 0
	mkdir -p "$K"
	$PY -c 'import os,sys,random; r=random.Random(9); [open(os.path.join(sys.argv[1],"f%d.bin"%i),"wb").write(r.randbytes(8<<20)) for i in range(12)]' "$K"
}

# The source tree and the repository every scenario starts from: its
# first backup (snap1) is the one the scenarios restore.
setup() {
	mkdir -p "$SRC/docs/lớp 9A" "$SRC/photos" "$SRC/empty"
	$PY - "$SRC" <<'PYEOF'
import os, random, sys
root = sys.argv[1]
rng = random.Random(5)
for i in range(40):
    open(os.path.join(root, "docs", "lớp 9A", "bai-%02d.txt" % i), "w").write(
        ("Bài tập số %d của học sinh\n" % i) * rng.randrange(10, 4000))
for i in range(6):
    open(os.path.join(root, "photos", "img%d.jpg" % i), "wb").write(rng.randbytes(rng.randrange(100000, 3000000)))
# Two files sharing most of their content: dedup across files.
big = rng.randbytes(6 << 20)
open(os.path.join(root, "photos", "video.mp4"), "wb").write(big)
open(os.path.join(root, "photos", "video-copy.mp4"), "wb").write(big[:3 << 20] + b"x" + big[3 << 20:])
open(os.path.join(root, "empty.txt"), "w").close()
PYEOF
	chmod 0640 "$SRC/docs/lớp 9A/bai-01.txt"
	chmod 0751 "$SRC/photos"
	touch -d "2024-05-06 07:08:09.123456789" "$SRC/photos/img1.jpg"
	ln -s "docs/lớp 9A/bai-02.txt" "$SRC/link-to-bai"
	"$AGENT" backup init --repo "$R" >/dev/null
	check "init makes the repository, its key file 0600" eq "$(stat -c %a "$R/keys/key")" 600
	r=$("$AGENT" backup init --repo "$R" 2>&1)
	check "init refuses to overwrite a repository ($r)" grep -q "already holds" <<<"$r"
	out=$("$AGENT" backup run "$SRC" --repo "$R" --json)
	check "the first backup stores every file ($out)" eq "$(j files <<<"$out")" 49
	check "dedup: the near-copy of a 6 MiB file costs far less than 6 MiB" \
		test "$(j added_stored <<<"$out")" -lt $(( $(du -sb "$SRC" | cut -f1) - 4 * 1024 * 1024 ))
	snap1=$(j snapshot <<<"$out")
	check "no plaintext name or content in the repository" \
		bash -c "! grep -rqa 'Bài tập số' '$R' && ! grep -rqa 'bai-01' '$R'"
}

# A round trip: every hash, mode and time, and an unchanged re-backup.
scenario_round_trip() {
	out2=$("$AGENT" backup run "$SRC" --repo "$R" --json)
	check "an unchanged re-backup reads nothing and stores nothing" \
		eq "$(j bytes_read <<<"$out2") $(j added_stored <<<"$out2") $(j unchanged_files <<<"$out2")" "0 0 49"

	"$AGENT" backup restore "$snap1" --to "$WORK/out" --repo "$R" >"$WORK/restore.txt"
	check "restore says every hash matched" grep -q "every file's SHA-256 matches" "$WORK/restore.txt"
	check "round trip: same SHA-256, mode and mtime for every file" \
		eq "$(manifest "$WORK/out$SRC")" "$(manifest "$SRC")"
	check "nanosecond mtimes survive" eq "$(stat -c %y "$WORK/out$SRC/photos/img1.jpg")" "$(stat -c %y "$SRC/photos/img1.jpg")"
	check "folder modes survive" eq "$(stat -c %a "$WORK/out$SRC/photos")" 751
	check "symlinks come back as symlinks" eq "$(readlink "$WORK/out$SRC/link-to-bai")" "docs/lớp 9A/bai-02.txt"
	check "empty folders come back" test -d "$WORK/out$SRC/empty"
	"$AGENT" backup restore latest "$SRC/photos" --to "$WORK/part" --repo "$R" >/dev/null
	check "a path restores only that subtree" \
		eq "$(cd "$WORK/part$SRC" && find . -type f | sort | tr '\n' ' ')" "./photos/img0.jpg ./photos/img1.jpg ./photos/img2.jpg ./photos/img3.jpg ./photos/img4.jpg ./photos/img5.jpg ./photos/video-copy.mp4 ./photos/video.mp4 "
}

# Restore never writes through links planted in the target (issue 12)
# A student's files (owned by nobody) backed up; root restores them into
# targets where a hostile local user planted links. Root's file outside
# must keep its content and its owner whatever happens.
scenario_hostile_restore() {
	H="$WORK/h"
	HR="$WORK/hrepo"
	OUTSIDE="$WORK/outside"
	mkdir -p "$H/d/sub" "$OUTSIDE"
	for i in $(seq 0 199); do echo "student note $i" >"$H/d/sub/n$i.txt"; done
	echo "student note" >"$H/d/sub/note.txt"
	chown -R nobody:nogroup "$H/d"
	echo "root's own file" >"$OUTSIDE/note.txt"
	chmod 0600 "$OUTSIDE/note.txt"
	outside_state() { (cd "$OUTSIDE" && find . -printf '%p %u %m %s\n' | sort && cat note.txt); }
	clean_outside=$(outside_state)
	"$AGENT" backup init --repo "$HR" >/dev/null
	"$AGENT" backup run "$H" --repo "$HR" >/dev/null
	T1="$WORK/t1"
	mkdir -p "$T1$H/d"
	ln -s "$OUTSIDE" "$T1$H/d/sub"
	r=$("$AGENT" backup restore latest --to "$T1" --repo "$HR" 2>&1 | tail -1)
	check "a folder symlink planted inside --to is refused, not followed ($r)" \
		grep -q "symbolic link" <<<"$r"
	check "root's file outside --to keeps its content, owner and mode" eq "$(outside_state)" "$clean_outside"
	check "nothing outside --to was handed to the student" eq "$(find "$OUTSIDE" -user nobody | wc -l)" 0
	check "the planted link itself is left as it was" eq "$(readlink "$T1$H/d/sub")" "$OUTSIDE"
	ln -s "$OUTSIDE" "$WORK/t2"
	r=$("$AGENT" backup restore latest --to "$WORK/t2" --repo "$HR" 2>&1 | tail -1)
	check "--to that is itself a symlink is refused ($r)" grep -q "symbolic link" <<<"$r"
	check "and nothing is written where it points" eq "$(outside_state)" "$clean_outside"
	T3="$WORK/t3"
	mkdir -p "$T3"
	first=${H#/}
	ln -s "$OUTSIDE" "$T3/${first%%/*}"
	r=$("$AGENT" backup restore latest --to "$T3" --repo "$HR" 2>&1 | tail -1)
	check "a symlink in place of a parent folder higher up is refused ($r)" grep -q "symbolic link" <<<"$r"
	check "and root's file outside is untouched" eq "$(outside_state)" "$clean_outside"
	T4="$WORK/t4"
	mkdir -p "$T4"
	chmod 0770 "$T4"
	r=$("$AGENT" backup restore latest --to "$T4" --repo "$HR" 2>&1 | tail -1)
	check "a target its group can write is refused ($r)" grep -q "can be written by its group" <<<"$r"
	T5="$WORK/t5"
	mkdir -p "$T5"
	chown nobody "$T5"
	r=$("$AGENT" backup restore latest --to "$T5" --repo "$HR" 2>&1 | tail -1)
	check "a target another user owns is refused ($r)" grep -q "is owned by uid 65534" <<<"$r"
	# A restore into the live tree (as with --to /), where the student owns
	# their folder and swaps their sub-folder for a link to the outside as
	# fast as they can (as nobody) while root restores.
	chmod 0711 "$WORK"
	T6="$WORK/t6"
	mkdir -p "$T6$H/d"
	chmod -R 0711 "$T6"
	chown nobody:nogroup "$T6$H/d"
	setpriv --reuid=nobody --regid=nogroup --clear-groups bash -c '
		d="$1/d"; o="$2"
		for i in $(seq 1 20000); do
			[ -e "$d/stop" ] && exit 0
			mv "$d/sub" "$d/sub.$i" 2>/dev/null && ln -s "$o" "$d/sub" 2>/dev/null
			sleep 0.001
			rm -f "$d/sub" 2>/dev/null
		done' _ "$T6$H" "$OUTSIDE" &
	swapper=$!
	"$AGENT" backup restore latest --to "$T6" --repo "$HR" >/dev/null 2>&1
	touch "$T6$H/d/stop"
	wait $swapper 2>/dev/null
	check "a folder swapped for a link during the restore: root's file outside untouched" \
		eq "$(outside_state)" "$clean_outside"
	check "and nothing outside was handed to the student" eq "$(find "$OUTSIDE" -user nobody | wc -l)" 0
	r=$("$AGENT" backup restore latest --to "$T4" --allow-shared-target --repo "$HR" 2>&1 | tail -1)
	check "--allow-shared-target restores into a group-writable target ($r)" \
		eq "$(find "$T4$H/d/sub" -type f | wc -l)" 201
	T7="$WORK/t7"
	mkdir -p "$T7"
	"$AGENT" backup restore latest --to "$T7" --repo "$HR" >/dev/null
	check "a clean target restores every file with its owner" \
		eq "$(find "$T7$H/d/sub" -type f -user nobody | wc -l)" 201
	chmod 0700 "$WORK"
}

# Ransomware: every file encrypted in place and renamed
scenario_ransomware() {
	before=$(manifest "$SRC")
	$PY - "$SRC" <<'PYEOF'
import os, sys
for d, _, files in os.walk(sys.argv[1]):
    for f in files:
        p = os.path.join(d, f)
        data = open(p, "rb").read()
        open(p + ".locked", "wb").write(bytes(b ^ 0x5A for b in data))
        os.remove(p)
open(os.path.join(sys.argv[1], "HOW_TO_DECRYPT.txt"), "w").write("pay\n")
PYEOF
	"$AGENT" backup run "$SRC" --repo "$R" >/dev/null # the agent backs up the damage too
	rm -rf "$SRC"
	"$AGENT" backup restore "$snap1" --to / --repo "$R" >/dev/null
	check "ransomware: the snapshot before the attack restores every file exactly" \
		eq "$(manifest "$SRC")" "$before"
}

# A damaged pack.
scenario_damaged_pack() {
	cp -a "$R" "$WORK/repo-bad"
	pack=$(find "$WORK/repo-bad/data" -type f -size +1M | head -1)
	printf 'garbage!' | dd of="$pack" bs=1 seek=5000 conv=notrunc 2>/dev/null
	check "verify without --read-data still passes a pack damaged inside (names only)" silent \
		"$AGENT" backup verify --repo "$WORK/repo-bad"
	rc=0
	"$AGENT" backup verify --read-data --repo "$WORK/repo-bad" >"$WORK/verify.out" 2>"$WORK/verify.err" || rc=$?
	check "verify --read-data finds the damage (exit $rc)" grep -q "REPOSITORY DAMAGED" "$WORK/verify.out"
	check "and names the damaged file and its snapshot" \
		grep -qE "DAMAGED  snapshot [0-9a-f]{16}  $SRC/" "$WORK/verify.err"
	check "the intact repository verifies with every chunk read" silent \
		"$AGENT" backup verify --read-data --repo "$R"
}

# A wrong passphrase.
scenario_wrong_passphrase() {
	wrong_passphrase_refused() { # says so, and exits 3 (bad configuration)
		local rc=0
		r=$(EDUWATCH_BACKUP_PASSWORD=wrong "$AGENT" backup list --repo "$R" 2>&1) || rc=$?
		grep -q 'wrong passphrase' <<<"$r" && [ "$rc" -eq 3 ]
	}
	check "a wrong passphrase is a clear error with exit 3" wrong_passphrase_refused
	echo "# $r"
}

# kill -9 in the middle of a backup, then the next run resumes.
scenario_kill_resume() {
	make_killsrc
	idx_before=$(ls "$R/index" | wc -l)
	"$AGENT" backup run "$K" --repo "$R" --json >/dev/null 2>&1 &
	bpid=$!
	# Killed once two packs of this run are stored (16 MiB each).
	for _ in $(seq 400); do
		[ "$(ls "$R/index" | wc -l)" -ge $((idx_before + 2)) ] && break
		sleep 0.02
	done
	kill -9 $bpid
	wait $bpid 2>/dev/null
	check "killed mid-backup: the repository still verifies" \
		bash -c "'$AGENT' backup verify --repo '$R' >/dev/null 2>&1"
	out=$("$AGENT" backup run "$K" --repo "$R" --json)
	check "the next run completes" eq "$(j files <<<"$out")" 12
	check "and reuses the chunks stored before the kill ($(j chunks_reused <<<"$out") reused)" \
		test "$(j chunks_reused <<<"$out")" -gt 10
	check "nothing half-written is left in tmp/" eq "$(ls "$R/tmp" | wc -l)" 0
	"$AGENT" backup restore latest "$K" --to "$WORK/kout" --repo "$R" >/dev/null
	check "and restores exactly" eq "$(manifest "$WORK/kout$K")" "$(manifest "$K")"
}

# A full target disk.
scenario_full_target() {
	make_killsrc
	if mkdir -p "$WORK/small" && mount -t tmpfs -o size=24m tmpfs "$WORK/small" 2>/dev/null; then
		"$AGENT" backup init --repo "$WORK/small/repo" >/dev/null
		"$AGENT" backup run "$SRC/docs" --repo "$WORK/small/repo" >/dev/null
		r=$("$AGENT" backup run "$K" --repo "$WORK/small/repo" 2>&1)
		check "a full target disk gives a clear error ($r)" grep -q "the backup target is full" <<<"$r"
		check "and leaves the repository sound, with the earlier snapshot" \
			bash -c "'$AGENT' backup verify --read-data --repo '$WORK/small/repo' >/dev/null 2>&1 && '$AGENT' backup list --repo '$WORK/small/repo' | grep -q docs"
		umount "$WORK/small"
	else
		ok "# SKIP a tmpfs needs root"
		ok "# SKIP a tmpfs needs root"
	fi
}

# Prune.
scenario_prune() {
	n_before=$("$AGENT" backup list --repo "$R" --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
	r=$("$AGENT" backup prune --repo "$R" 2>&1)
	check "prune without a policy is refused ($r)" grep -q "keeps nothing" <<<"$r"
	"$AGENT" backup prune --keep-daily 1 --repo "$R" --json >"$WORK/prune.json"
	check "prune --keep-daily 1 keeps one of today's $n_before snapshots" eq "$(j kept <"$WORK/prune.json")" 1
	check "the kept snapshot still restores and verifies with every chunk" \
		bash -c "'$AGENT' backup verify --read-data --repo '$R' >/dev/null 2>&1"
}

# Issue 14: nothing left out, everything the filesystem holds
# A torture tree: 200 folders deep, a path over 5,000 bytes, hard-link
# groups, xattrs and ACLs on files and folders, a 2 GB sparse file with
# two islands, a FIFO, a device node, a socket, odd names, setuid and
# sticky modes, an owner with no passwd entry. The checker walks both
# trees with directory fds and compares everything that must survive.
scenario_torture() {
	TORTURE="$(dirname "$0")/backup_torture.py"
	TT="$WORK/torture"
	TR="$WORK/trepo"
	$PY "$TORTURE" make "$TT"
	"$AGENT" backup init --repo "$TR" >/dev/null
	"$AGENT" backup run "$TT" --repo "$TR" --json >"$WORK/trun.json" 2>"$WORK/trun.err"
	rc=$?
	check "the torture tree backs up with exit 0 and no error ($(head -3 "$WORK/trun.err"))" \
		eq "$rc:$(j errors <"$WORK/trun.json")" "0:0"
	check "the socket is skipped and counted, FIFO and device node stored" \
		bash -c "'$AGENT' backup run '$TT' --repo '$TR' | grep -q '2 FIFOs and device nodes stored; 1 sockets skipped'"
	"$AGENT" backup restore latest --to "$WORK/tout" --repo "$TR" >"$WORK/tres.txt" 2>&1
	rc=$?
	check "the torture tree restores with exit 0 ($(tail -1 "$WORK/tres.txt"))" test $rc -eq 0
	$PY "$TORTURE" compare "$TT" "$WORK/tout$TT" >"$WORK/tcmp.txt" 2>&1
	rc=$?
	check "torture restore is exact: type, content, mode, owner, ns mtime, link groups, xattrs, ACLs, blocks ($(head -3 "$WORK/tcmp.txt" | cut -c1-200 | tr '\n' ' '))" \
		test $rc -eq 0
	check "the deepest file (depth 200) is restored" \
		test "$(find "$WORK/tout$TT" -name deep.txt | wc -l)" -eq 1
	check "the file at the end of a 5,000-byte path is restored" \
		test "$(find "$WORK/tout$TT" -name far.txt | wc -l)" -eq 1
	check "the 2 GB sparse file comes back sparse (du $(du -k "$WORK/tout$TT/sparse.img" | cut -f1) KiB, ls $(stat -c %s "$WORK/tout$TT/sparse.img"))" \
		test "$(du -k "$WORK/tout$TT/sparse.img" | cut -f1)" -lt 2048
	check "hard links come back as one inode" \
		eq "$(stat -c %i "$WORK/tout$TT/links/a/one")" "$(stat -c %i "$WORK/tout$TT/links/b/three")"
	check "the FIFO comes back as a FIFO" test -p "$WORK/tout$TT/fifo"
	"$AGENT" backup restore latest "$TT/links/b" --to "$WORK/tpart" --repo "$TR" >/dev/null 2>&1
	check "a hard link whose first path is not restored comes back as a file with its content" \
		cmp -s "$WORK/tpart$TT/links/b/three" "$TT/links/a/one"
}

# Something that cannot be read is named, counted and fails the run:
# a backup running as nobody over a file only root can read.
scenario_unreadable() {
	U="$WORK/usrc"
	mkdir -p "$U/ok" "$WORK/urepo"
	echo fine >"$U/ok/a.txt"
	echo secret >"$U/ok/locked.txt"
	chmod 0600 "$U/ok/locked.txt"
	chmod 0755 "$U" "$U/ok"
	chmod 0711 "$WORK"
	chown nobody "$WORK/urepo"
	setpriv --reuid=nobody --regid=nogroup --clear-groups env EDUWATCH_BACKUP_PASSWORD="$EDUWATCH_BACKUP_PASSWORD" \
		"$AGENT" backup init --repo "$WORK/urepo/r" >/dev/null
	setpriv --reuid=nobody --regid=nogroup --clear-groups env EDUWATCH_BACKUP_PASSWORD="$EDUWATCH_BACKUP_PASSWORD" \
		"$AGENT" backup run "$U" --repo "$WORK/urepo/r" >"$WORK/u.out" 2>"$WORK/u.err"
	urc=$?
	chmod 0700 "$WORK"
	check "an unreadable file gives exit 4 (got $urc)" test $urc -eq 4
	check "and 'completed with 1 files not stored'" grep -q "completed with 1 files not stored" "$WORK/u.err"
	check "and names it" grep -q "NOT STORED  $U/ok/locked.txt: permission denied" "$WORK/u.err"
}

# A file rewritten in place (and grown) all through its read.
scenario_rewritten() {
	C="$WORK/csrc"
	mkdir -p "$C"
	$PY -c 'import os,sys; open(sys.argv[1],"wb").write(os.urandom(48<<20))' "$C/busy.bin"
	$PY - "$C/busy.bin" "$WORK/cstop" <<'PYEOF' &
import os, sys, time
p, stop = sys.argv[1], sys.argv[2]
blk = os.urandom(1 << 20)
n = 48
t0 = time.time()
while not os.path.exists(stop) and time.time() - t0 < 120:
    with open(p, "r+b") as f:
        for i in range(n):
            f.write(blk)
    n += 1
PYEOF
	writer=$!
	"$AGENT" backup init --repo "$WORK/crepo" >/dev/null
	"$AGENT" backup run "$C" --repo "$WORK/crepo" >"$WORK/c.out" 2>"$WORK/c.err"
	crc=$?
	touch "$WORK/cstop"
	wait $writer
	check "a file rewritten during its read is reported, not stored as a mix (exit $crc)" \
		bash -c "test $crc -eq 4 && grep -q 'changed during backup' '$WORK/c.err'"
}

# Issue 14: a damaged repository restores everything intact
# 61 files of 1 MiB in four data packs; the tree in a pack of its own.
scenario_damaged_repo() {
	D="$WORK/dmg"
	mkdir -p "$D/src"
	$PY -c 'import os,sys,random; r=random.Random(14); [open(os.path.join(sys.argv[1],"f%02d.bin"%i),"wb").write(r.randbytes(1<<20)) for i in range(61)]' "$D/src"
	"$AGENT" backup init --repo "$D/r" >/dev/null
	"$AGENT" backup run "$D/src" --repo "$D/r" >/dev/null
	biggest_pack() { find "$1/data" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2; }
	intact() { # files under $1 identical to the source
		local n=0 f
		for f in "$1"/*; do cmp -s "$f" "$D/src/${f##*/}" && n=$((n + 1)); done
		echo $n
	}
	cp -a "$D/r" "$D/r1"
	printf 'XYZ' | dd of="$(biggest_pack "$D/r1")" bs=1 seek=3000000 conv=notrunc 2>/dev/null
	"$AGENT" backup restore latest --to "$D/o1" --repo "$D/r1" >"$D/o1.out" 2>"$D/o1.err"
	rc=$?
	nr=$(grep -c '^NOT RESTORED' "$D/o1.err")
	check "3 bytes flipped in a pack: exit 4 (partial), not 0 or 1 (got $rc)" test $rc -eq 4
	check "every file but the damaged one comes back intact ($(intact "$D/o1$D/src") of 61, $nr named)" \
		bash -c "test $nr -ge 1 && test $(intact "$D/o1$D/src") -eq $((61 - nr))"
	check "no partial file under a real name" eq "$(ls "$D/o1$D/src" | wc -l)" "$((61 - nr))"
	"$AGENT" backup restore latest --to "$D/k1" --keep-damaged --repo "$D/r1" >/dev/null 2>"$D/k1.err"
	rc=$?
	kept=$(cd "$D/k1$D/src" && ls | grep '\.damaged$')
	check "--keep-damaged: exit 4, the damaged file kept as NAME.damaged, full size, never under NAME ($kept)" \
		bash -c "test $rc -eq 4 && test -n '$kept' && test ! -e '$D/k1$D/src/${kept%.damaged}' &&
			test \$(stat -c %s '$D/k1$D/src/$kept') -eq 1048576 && grep -q 'kept as $kept' '$D/k1.err'"
	cp -a "$D/r" "$D/r2"
	rm "$(biggest_pack "$D/r2")"
	"$AGENT" backup verify --repo "$D/r2" >"$D/v2.out" 2>"$D/v2.err"
	rc=$?
	check "a deleted pack: plain verify fails (exit $rc) and names it" \
		bash -c "test $rc -ne 0 && grep -q 'DAMAGED  pack [0-9a-f]*: the pack is missing' '$D/v2.err'"
	"$AGENT" backup restore latest --to "$D/o2" --repo "$D/r2" >/dev/null 2>"$D/o2.err"
	rc=$?
	nr=$(grep -c '^NOT RESTORED' "$D/o2.err")
	check "a deleted pack: restore recovers the rest (exit $rc, $(intact "$D/o2$D/src") intact, $nr named)" \
		bash -c "test $rc -eq 4 && test $nr -ge 1 && test $(intact "$D/o2$D/src") -eq $((61 - nr))"
	"$AGENT" backup repair --repo "$D/r2" >"$D/rp2.out" 2>&1
	rc=$?
	check "repair after a lost pack: exit 4, names the files each snapshot lost ($(tail -1 "$D/rp2.out"))" \
		bash -c "test $rc -eq 4 && test \$(grep -c 'DAMAGED  snapshot .*: a chunk is missing' '$D/rp2.out') -eq $nr"
	"$AGENT" backup run "$D/src" --repo "$D/r2" >/dev/null
	check "the next backup stores the lost chunks again: verify --read-data passes" \
		bash -c "'$AGENT' backup verify --read-data --repo '$D/r2' >/dev/null 2>&1"
	cp -a "$D/r" "$D/r3"
	idx=$(ls "$D/r3/index" | head -1)
	printf 'XYZ' | dd of="$D/r3/index/$idx" bs=1 seek=100 conv=notrunc 2>/dev/null
	"$AGENT" backup list --repo "$D/r3" >"$D/l3.out" 2>&1
	check "a flipped index is a warning with a repair hint, not a dead repository" \
		bash -c "grep -q \"run 'backup repair'\" '$D/l3.out' && grep -q '61 files' '$D/l3.out'"
	"$AGENT" backup verify --repo "$D/r3" >>"$D/l3.out" 2>&1
	check "no 'Unknown system error' anywhere" bash -c "! grep -q 'Unknown system error' '$D/l3.out'"
	"$AGENT" backup repair --repo "$D/r3" >"$D/rp3.out" 2>&1
	check "repair rebuilds the index from the pack ($(head -1 "$D/rp3.out"))" \
		bash -c "grep -q 'index rebuilt from the pack' '$D/rp3.out' && grep -q 'repository sound' '$D/rp3.out'"
	"$AGENT" backup restore latest --to "$D/o3" --repo "$D/r3" >/dev/null 2>&1
	rc=$?
	check "after repair the restore is complete (exit $rc)" eq "$rc:$(intact "$D/o3$D/src")" 0:61
	cp -a "$D/r" "$D/r4"
	snap=$(ls "$D/r4/snapshots" | head -1)
	printf 'XYZ' | dd of="$D/r4/snapshots/$snap" bs=1 seek=50 conv=notrunc 2>/dev/null
	"$AGENT" backup list --repo "$D/r4" >"$D/l4.out" 2>&1
	rc=$?
	check "a flipped snapshot is listed as damaged, exit non-zero (exit $rc)" \
		bash -c "test $rc -ne 0 && grep -q '^${snap:0:16}  DAMAGED' '$D/l4.out' && ! grep -q 'no snapshots yet' '$D/l4.out'"

	cp -a "$D/r" "$D/r5"
	$PY -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[-5]^=1; open(p,"wb").write(b)' "$D/r5/keys/key"
	r=$("$AGENT" backup list --repo "$D/r5" 2>&1)
	check "a flipped key file is 'damaged key file', not 'wrong passphrase' ($r)" \
		bash -c "grep -q 'damaged key file' <<<\"\$1\" && ! grep -q 'wrong passphrase' <<<\"\$1\"" _ "$r"
	r=$(EDUWATCH_BACKUP_PASSWORD=not-the-passphrase "$AGENT" backup list --repo "$D/r" 2>&1)
	check "and a wrong passphrase on a sound key file is still 'wrong passphrase' ($r)" grep -q 'wrong passphrase' <<<"$r"
}

# A repository written by the format 1 code (before issue 14).
scenario_format1() {
	mkdir -p "$WORK/v1"
	tar -C "$WORK/v1" -xzf "$(dirname "$0")/fixtures/backup-repo-v1.tar.gz"
	EDUWATCH_BACKUP_PASSWORD=fixture-passphrase "$AGENT" backup restore latest --to "$WORK/v1/out" \
		--repo "$WORK/v1/repo" >"$WORK/v1/res.txt" 2>&1
	V1="$WORK/v1/out/tmp/ew-v1fixture/src"
	check "a format 1 repository restores with every hash matched ($(tail -1 "$WORK/v1/res.txt"))" \
		eq "$(cd "$V1" && sha256sum a.txt sub/b.txt | cut -c1-16 | tr '\n' ' ')" "3a217fca7d45127c 7119aea635e6573f "
	check "with its modes, ns mtimes and link" \
		eq "$(stat -c '%a %.9Y' "$V1/a.txt" "$V1/sub" | tr '\n' ' ')$(readlink "$V1/link")" "640 1714979289.123456789 751 1796174695.720356018 sub/b.txt"
	check "and verifies with every chunk read" silent \
		env EDUWATCH_BACKUP_PASSWORD=fixture-passphrase "$AGENT" backup verify --read-data --repo "$WORK/v1/repo"
}
run_scenarios
