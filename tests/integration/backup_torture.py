#!/usr/bin/env python3
"""A torture tree for backups, and a checker that compares two trees.

  backup_torture.py make ROOT [--sparse-gb N]
  backup_torture.py compare ORIG RESTORED

The checker walks both trees with directory fds (os.fwalk), so depth and
path length do not matter, and compares each entry's type, content hash,
mode, owner, ns mtime, link target, device number, hard-link group,
extended attributes (POSIX ACLs included) and allocated blocks (within a
slack). Sockets are skipped: a backup skips them. Exit 0 when equal;
every difference is printed, one per line.
"""
import hashlib
import os
import socket
import stat
import struct
import sys
import unicodedata


def acl(entries):
    """system.posix_acl_* value: version 2, then (tag, perm, id)."""
    out = struct.pack("<I", 2)
    for tag, perm, ident in entries:
        out += struct.pack("<HHI", tag, perm, ident)
    return out


USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER = 1, 2, 4, 8, 16, 32
NOID = 0xFFFFFFFF


def make(root, sparse_gb):
    os.makedirs(root)
    # depth 200
    d = root
    for i in range(200):
        d = os.path.join(d, "d%03d" % i)
    os.makedirs(d)
    with open(os.path.join(d, "deep.txt"), "w") as f:
        f.write("two hundred folders down\n")
    # a path over 5,000 bytes, built through fds (PATH_MAX is 4096)
    fd = os.open(root, os.O_RDONLY)
    total = len(root)
    i = 0
    while total < 5100:
        name = "long%02d-" % i + "x" * 240
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nfd
        total += len(name) + 1
        i += 1
    f = os.open("far.txt", os.O_WRONLY | os.O_CREAT, 0o640, dir_fd=fd)
    os.write(f, b"more than 5,000 bytes of path\n")
    os.close(f)
    os.close(fd)
    # hard-link groups: three names in two folders, and a pair
    os.makedirs(os.path.join(root, "links", "a"))
    os.makedirs(os.path.join(root, "links", "b"))
    p = os.path.join(root, "links", "a", "one")
    with open(p, "wb") as f:
        f.write(os.urandom(300000))
    os.link(p, os.path.join(root, "links", "a", "two"))
    os.link(p, os.path.join(root, "links", "b", "three"))
    q = os.path.join(root, "links", "pair1")
    with open(q, "w") as f:
        f.write("pair\n")
    os.link(q, os.path.join(root, "links", "pair2"))
    # xattrs on files and folders; access and default ACLs
    x = os.path.join(root, "attrs")
    os.makedirs(x)
    with open(os.path.join(x, "f"), "w") as f:
        f.write("with attributes\n")
    os.setxattr(os.path.join(x, "f"), "user.school", "Trường THCS".encode())
    os.setxattr(os.path.join(x, "f"), "user.bin", bytes(range(256)))
    os.setxattr(x, "user.folder", b"yes")
    os.setxattr(os.path.join(x, "f"), "system.posix_acl_access",
                acl([(USER_OBJ, 6, NOID), (USER, 4, 4242), (GROUP_OBJ, 4, NOID),
                     (MASK, 4, NOID), (OTHER, 0, NOID)]))
    os.setxattr(x, "system.posix_acl_default",
                acl([(USER_OBJ, 7, NOID), (USER, 5, 4243), (GROUP_OBJ, 5, NOID),
                     (MASK, 5, NOID), (OTHER, 0, NOID)]))
    # a sparse file with two data islands
    with open(os.path.join(root, "sparse.img"), "wb") as f:
        f.seek(sparse_gb * (1 << 30) // 3)
        f.write(os.urandom(200000))
        f.seek(sparse_gb * (1 << 30) * 2 // 3)
        f.write(b"island two" * 5000)
        f.truncate(sparse_gb * (1 << 30))
    # a FIFO, a device node, a socket (skipped)
    os.mkfifo(os.path.join(root, "fifo"))
    os.mknod(os.path.join(root, "null"), 0o620 | stat.S_IFCHR, os.makedev(1, 3))
    s = socket.socket(socket.AF_UNIX)
    s.bind(os.path.join(root, "sock"))
    s.close()
    # names
    names = os.path.join(root, "names").encode()
    os.makedirs(names)
    for n in [unicodedata.normalize("NFC", "Lớp học").encode(),
              unicodedata.normalize("NFD", "Lớp học").encode(),
              b"bad-\xff\xfe-utf8", b"-leading-dash", b"new\nline"]:
        with open(os.path.join(names, n), "wb") as f:
            f.write(n)
    # modes and owners
    m = os.path.join(root, "modes")
    os.makedirs(m)
    with open(os.path.join(m, "setuid"), "w") as f:
        f.write("#!/bin/sh\n")
    os.chmod(os.path.join(m, "setuid"), 0o4755)
    os.makedirs(os.path.join(m, "sticky"))
    os.chmod(os.path.join(m, "sticky"), 0o1777)
    with open(os.path.join(m, "nobody-known"), "w") as f:
        f.write("owner has no passwd entry\n")
    os.chown(os.path.join(m, "nobody-known"), 4242, 4343)
    os.utime(os.path.join(m, "nobody-known"), ns=(1, 1714972089123456789))


def describe(root):
    """relative path (bytes) -> tuple of what must survive; link groups."""
    out, inodes = {}, {}
    for dirpath, dirs, files, dfd in os.fwalk(root.encode(), follow_symlinks=False):
        rel_dir = os.path.relpath(dirpath, root.encode())
        for name in dirs + files:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if stat.S_ISSOCK(st.st_mode):
                continue
            kind = stat.S_IFMT(st.st_mode)
            content = ""
            if stat.S_ISREG(st.st_mode):
                fd = os.open(name, os.O_RDONLY, dir_fd=dfd)
                h = hashlib.sha256()
                with os.fdopen(fd, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
                content = h.hexdigest()
                if st.st_nlink > 1:
                    inodes.setdefault(st.st_ino, []).append(rel)
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(name, dir_fd=dfd)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                content = st.st_rdev
            xattrs = ()
            if not stat.S_ISLNK(st.st_mode) and (stat.S_ISREG(st.st_mode) or
                                                 stat.S_ISDIR(st.st_mode)):
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dfd)
                try:
                    xattrs = tuple(sorted((a, os.getxattr(fd, a))
                                          for a in os.listxattr(fd)))
                finally:
                    os.close(fd)
            mtime = st.st_mtime_ns if not stat.S_ISDIR(st.st_mode) or rel != b"." else 0
            out[rel] = dict(kind=kind, content=content, mode=st.st_mode & 0o7777,
                            uid=st.st_uid, gid=st.st_gid, mtime=mtime,
                            xattrs=xattrs, blocks=st.st_blocks,
                            size=st.st_size if stat.S_ISREG(st.st_mode) else 0)
    groups = sorted(tuple(sorted(g)) for g in inodes.values() if len(g) > 1)
    return out, groups


def compare(a, b):
    da, ga = describe(a)
    db, gb = describe(b)
    bad = 0
    for rel in sorted(set(da) | set(db)):
        x, y = da.get(rel), db.get(rel)
        if x is None or y is None:
            print("%r: only in %s" % (rel, a if y is None else b))
            bad += 1
            continue
        for k in ("kind", "content", "mode", "uid", "gid", "mtime", "xattrs", "size"):
            if x[k] != y[k]:
                print("%r: %s differs: %r != %r" % (rel, k, x[k], y[k]))
                bad += 1
        # allocated blocks: a restored file may take a little more (its
        # last block, the filesystem's rounding), never its full size
        # for a sparse one
        if x["kind"] == stat.S_IFREG and y["blocks"] > x["blocks"] * 1.1 + 64:
            print("%r: %d blocks allocated, the original %d" % (rel, y["blocks"], x["blocks"]))
            bad += 1
    if ga != gb:
        print("hard-link groups differ: %r != %r" % (ga, gb))
        bad += 1
    print("# %d entries compared, %d hard-link groups, %d differences" % (len(da), len(ga), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "make":
        gb = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--sparse-gb" else 2
        make(sys.argv[2], gb)
    elif sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit("usage: backup_torture.py make ROOT | compare A B")
