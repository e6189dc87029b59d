#include "agent/scan/quarantine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <uv.h>

#include "agent/platform/beneath.h"
#include "common/alloc.h"
#include "common/errtext.h"
#include "common/fsutil.h"
#include "common/pki.h"
#include "common/timeutil.h"
#include "common/wire.h"

#define META_MAX 16384

void quarantine_dir(const char *state_dir, char *out, size_t cap)
{
	snprintf(out, cap, "%s/quarantine", state_dir);
}

static int fail(int rc, char *err, size_t errlen, const char *what,
		const char *path)
{
	return errtext_set(rc, err, errlen, "%s %s: %s", what, path,
			   uv_strerror(rc));
}

static int sha256_fd(int fd, char hex[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char buf[65536], d[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	ssize_t n;
	off_t off = 0;
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		EVP_DigestUpdate(md, buf, (size_t)n);
		off += n;
	}
	EVP_DigestFinal_ex(md, d, &dlen);
	EVP_MD_CTX_free(md);
	if (n < 0)
		return -EIO;
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return 0;
}

/* Copies in to a new file name in dirfd (mode 0600), fsynced: for
 * moves between filesystems. Returns the new file's fd in *outfd. */
static int copy_fd(int in, int dirfd, const char *name, int *outfd)
{
	int out = openat(dirfd, name,
			 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	char buf[65536];
	ssize_t n;
	off_t off = 0;
	int rc = 0;
	while (rc == 0 && (n = pread(in, buf, sizeof(buf), off)) != 0) {
		if (n < 0)
			rc = errno == EINTR ? 0 : -errno;
		else if (write(out, buf, (size_t)n) != n)
			rc = -EIO;
		else
			off += n;
	}
	if (rc == 0 && fsync(out) != 0)
		rc = -errno;
	if (rc != 0) {
		close(out);
		unlinkat(dirfd, name, 0);
		return rc;
	}
	*outfd = out;
	return 0;
}

/* The quarantine folder, opened without following a link, root's and
 * 0700 through its fd. */
static int open_qdir(const char *qdir, bool create, int *out, char *err,
		     size_t errlen)
{
	if (create && mkdir(qdir, 0700) != 0 && errno != EEXIST)
		return fail(-errno, err, errlen, "cannot create", qdir);
	int fd = open(qdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return fail(-errno, err, errlen, "cannot open", qdir);
	if (fstat(fd, &st) != 0 || st.st_uid != geteuid()) {
		close(fd);
		return fail(-EPERM, err, errlen, "not ours:", qdir);
	}
	fchmod(fd, 0700);
	*out = fd;
	return 0;
}

/* The parent folder of an absolute or relative path, walked without
 * following any symlink (beneath.h), and its last component. */
static int open_parent(const char *path, int *pfd, char leaf[NAME_MAX + 1])
{
	int start = open(path[0] == '/' ? "/" : ".",
			 O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (start < 0)
		return -errno;
	int rc = beneath_open_parent(start, path, strlen(path), 0, pfd, leaf);
	close(start);
	return rc;
}

static int fail_walk(int rc, char *err, size_t errlen, const char *what,
		     const char *path)
{
	if (rc == -ELOOP)
		return errtext_set(rc, err, errlen,
				   "%s %s: a folder on the way is a symbolic "
				   "link; not followed", what, path);
	if (rc == -EINVAL)
		return errtext_set(rc, err, errlen, "%s %s: a path with '..' "
				   "or no name", what, path);
	return fail(rc, err, errlen, what, path);
}

/* Renames without replacing anything at the destination; a filesystem
 * without RENAME_NOREPLACE gets link and unlink, which refuse the same. */
static int rename_noreplace(int from_dir, const char *from, int to_dir,
			    const char *to)
{
	if (renameat2(from_dir, from, to_dir, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL)
		return -errno;
	if (linkat(from_dir, from, to_dir, to, 0) != 0)
		return -errno;
	unlinkat(from_dir, from, 0);
	return 0;
}

static int write_meta(const char *path, const struct quarantine_entry *e)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 10);
	wire_pack_kv_str(&pk, "id", e->id);
	wire_pack_kv_str(&pk, "path", e->path);
	wire_pack_kv_str(&pk, "sha256", e->sha256);
	wire_pack_kv_str(&pk, "rules", e->rules);
	wire_pack_kv_u64(&pk, "size", e->size);
	wire_pack_kv_u64(&pk, "mode", e->mode);
	wire_pack_kv_u64(&pk, "uid", e->uid);
	wire_pack_kv_u64(&pk, "gid", e->gid);
	wire_pack_kv_u64(&pk, "mtime", (uint64_t)e->mtime_s);
	wire_pack_kv_u64(&pk, "at", (uint64_t)e->quarantined_us);
	int rc = fs_write_atomic(path, sb.data, sb.size, 0600);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static int read_meta(const char *path, struct quarantine_entry *e)
{
	char buf[META_MAX];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0 || wire_check_msgpack(buf, (size_t)n, 4) != 0)
		return -EBADMSG;
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	int rc = -EBADMSG;
	uint64_t v[6] = {0};
	memset(e, 0, sizeof(*e));
	if (msgpack_unpack_next(&up, buf, (size_t)n, NULL) ==
		    MSGPACK_UNPACK_SUCCESS &&
	    up.data.type == MSGPACK_OBJECT_MAP &&
	    wire_get_str(&up.data, "id", e->id, sizeof(e->id)) == 0 &&
	    wire_get_str(&up.data, "path", e->path, sizeof(e->path)) == 0 &&
	    wire_get_str(&up.data, "sha256", e->sha256, sizeof(e->sha256)) == 0 &&
	    wire_get_str(&up.data, "rules", e->rules, sizeof(e->rules)) == 0 &&
	    wire_get_u64(&up.data, "size", &e->size) == 0 &&
	    wire_get_u64(&up.data, "mode", &v[0]) == 0 &&
	    wire_get_u64(&up.data, "uid", &v[1]) == 0 &&
	    wire_get_u64(&up.data, "gid", &v[2]) == 0 &&
	    wire_get_u64(&up.data, "mtime", &v[3]) == 0 &&
	    wire_get_u64(&up.data, "at", &v[4]) == 0) {
		e->mode = (uint32_t)v[0];
		e->uid = (uint32_t)v[1];
		e->gid = (uint32_t)v[2];
		e->mtime_s = (int64_t)v[3];
		e->quarantined_us = (int64_t)v[4];
		rc = 0;
	}
	msgpack_unpacked_destroy(&up);
	return rc;
}

int quarantine_file(const char *qdir, const char *path, const char *sha256,
		    const char *rules, struct quarantine_entry *e, char *err,
		    size_t errlen)
{
	struct stat st;
	int pfd = -1, qfd = -1, rc;
	char leaf[NAME_MAX + 1];
	memset(e, 0, sizeof(*e));
	/* The file is found by walking its folders without following a
	 * link: a student who swaps a folder for a link to /etc between
	 * the scan and now must not make root move a system file. */
	if ((rc = open_parent(path, &pfd, leaf)) != 0)
		return fail_walk(rc, err, errlen, "cannot quarantine", path);
	if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		rc = fail(-errno, err, errlen, "cannot quarantine", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = fail(-EINVAL, err, errlen, "not a regular file:", path);
		goto out;
	}
	/* A second name for the file could be anyone's: a user's hard link
	 * to a root file would hand that file to quarantine (mode 0000) and
	 * its restore (owner set back to the user). Left for a person. */
	if (st.st_nlink > 1) {
		rc = fail(-EMLINK, err, errlen,
			  "not quarantined: it has other hard links:", path);
		goto out;
	}
	if ((rc = open_qdir(qdir, true, &qfd, err, errlen)) != 0)
		goto out;
	unsigned char rnd[6];
	RAND_bytes(rnd, sizeof(rnd));
	e->quarantined_us = timeutil_now_us();
	snprintf(e->id, sizeof(e->id), "%lld-%02x%02x%02x%02x%02x%02x",
		 (long long)(e->quarantined_us / 1000000), rnd[0], rnd[1],
		 rnd[2], rnd[3], rnd[4], rnd[5]);
	snprintf(e->path, sizeof(e->path), "%s", path);
	snprintf(e->rules, sizeof(e->rules), "%s", rules);
	e->size = (uint64_t)st.st_size;
	e->mode = st.st_mode & 07777;
	e->uid = st.st_uid;
	e->gid = st.st_gid;
	e->mtime_s = st.st_mtim.tv_sec;
	char bin[64], meta[4200];
	snprintf(bin, sizeof(bin), "%s.bin", e->id);
	snprintf(meta, sizeof(meta), "%s/%s.meta", qdir, e->id);
	int bfd = -1;
	if (renameat(pfd, leaf, qfd, bin) != 0) {
		rc = -errno;
		if (rc == -EXDEV) {
			/* Another filesystem (a USB drive): copy what is open,
			 * checked to be the file seen, then unlink it. */
			int in = openat(pfd, leaf, O_RDONLY | O_NOFOLLOW |
						   O_NONBLOCK | O_CLOEXEC);
			struct stat now;
			rc = in < 0 ? -errno
			     : fstat(in, &now) != 0 ? -errno
			     : now.st_ino != st.st_ino || now.st_dev != st.st_dev
				     ? -ESTALE
				     : copy_fd(in, qfd, bin, &bfd);
			if (in >= 0)
				close(in);
			if (rc == 0 && unlinkat(pfd, leaf, 0) != 0) {
				rc = -errno;
				close(bfd);
				bfd = -1;
				unlinkat(qfd, bin, 0); /* never two copies */
			}
		}
		if (rc != 0) {
			rc = fail(rc, err, errlen, "cannot move", path);
			goto out;
		}
	}
	if (bfd < 0) {
		/* What was moved must be what was checked: a FIFO swapped in
		 * would hang a blocking open, and another file would be
		 * recorded under this one's owner. If not, it goes back. */
		struct stat moved;
		bfd = openat(qfd, bin, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
					       O_CLOEXEC);
		if (bfd < 0 || fstat(bfd, &moved) != 0 ||
		    !S_ISREG(moved.st_mode) || moved.st_ino != st.st_ino ||
		    moved.st_dev != st.st_dev || moved.st_nlink > 1) {
			if (bfd >= 0)
				close(bfd);
			renameat2(qfd, bin, pfd, leaf, RENAME_NOREPLACE);
			rc = fail(-ESTALE, err, errlen,
				  "not quarantined: the file changed between "
				  "the check and the move:", path);
			goto out;
		}
		/* Reads block again from here: it is a regular file. */
		fcntl(bfd, F_SETFL, fcntl(bfd, F_GETFL) & ~O_NONBLOCK);
	}
	/* The hash of what arrived, recorded as the truth; a mismatch with
	 * the scan means the file changed in between (it is kept anyway). */
	if (bfd < 0 || sha256_fd(bfd, e->sha256) != 0)
		snprintf(e->sha256, sizeof(e->sha256), "%s", sha256);
	if (bfd >= 0) {
		fchmod(bfd, 0);
		close(bfd);
	}
	rc = write_meta(meta, e);
	if (rc != 0)
		rc = fail(rc, err, errlen, "cannot record", meta);
out:
	if (pfd >= 0)
		close(pfd);
	if (qfd >= 0)
		close(qfd);
	return rc;
}

static int cmp_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int quarantine_list(const char *qdir,
		    void (*cb)(void *arg, const struct quarantine_entry *e),
		    void *arg)
{
	struct dirent **names = NULL;
	int n = scandir(qdir, &names, NULL, cmp_names);
	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	int count = 0;
	for (int i = 0; i < n; i++) {
		size_t len = strlen(names[i]->d_name);
		struct quarantine_entry e;
		char meta[4200];
		if (len > 5 && strcmp(names[i]->d_name + len - 5, ".meta") == 0) {
			snprintf(meta, sizeof(meta), "%s/%s", qdir,
				 names[i]->d_name);
			if (read_meta(meta, &e) == 0) {
				cb(arg, &e);
				count++;
			}
		}
		free(names[i]);
	}
	free(names);
	return count;
}

static bool valid_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n >= 40)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'f') || id[i] == '-'))
			return false;
	return true;
}

int quarantine_restore(const char *qdir, const char *id, const char *to,
		       char *err, size_t errlen)
{
	char bin[64], meta[4200], leaf[NAME_MAX + 1], tmp[64];
	struct quarantine_entry e;
	struct stat st;
	int qfd = -1, pfd = -1, bfd = -1, rc;
	if (!valid_id(id))
		return fail(-EINVAL, err, errlen, "no quarantined file", id);
	snprintf(bin, sizeof(bin), "%s.bin", id);
	snprintf(meta, sizeof(meta), "%s/%s.meta", qdir, id);
	rc = read_meta(meta, &e);
	if (rc != 0)
		return fail(rc, err, errlen, "no quarantined file", id);
	const char *dst = to ? to : e.path;
	if ((rc = open_qdir(qdir, false, &qfd, err, errlen)) != 0)
		return rc;
	/* The destination's folders are walked without following a link,
	 * so one planted there cannot send the file (and its owner) out. */
	if ((rc = open_parent(dst, &pfd, leaf)) != 0) {
		rc = fail_walk(rc, err, errlen, "cannot restore to", dst);
		goto out;
	}
	if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		rc = fail(-EEXIST, err, errlen, "will not overwrite", dst);
		goto out;
	}
	bfd = openat(qfd, bin, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (bfd < 0) {
		rc = fail(-errno, err, errlen, "no quarantined file", id);
		goto out;
	}
	/* Owner, mode and times are set through the fd while the file is
	 * still in root's folder, where no one else can reach it. */
	struct timespec ts[2] = {{e.mtime_s, 0}, {e.mtime_s, 0}};
	bool meta_ok = fchown(bfd, e.uid, e.gid) == 0 &&
		       fchmod(bfd, e.mode) == 0;
	futimens(bfd, ts);
	rc = rename_noreplace(qfd, bin, pfd, leaf);
	if (rc == -EXDEV) {
		int out;
		snprintf(tmp, sizeof(tmp), ".ew-restore-%s", id);
		rc = copy_fd(bfd, pfd, tmp, &out);
		if (rc == 0) {
			meta_ok = fchown(out, e.uid, e.gid) == 0 &&
				  fchmod(out, e.mode) == 0;
			futimens(out, ts);
			close(out);
			rc = rename_noreplace(pfd, tmp, pfd, leaf);
			if (rc != 0)
				unlinkat(pfd, tmp, 0);
			else
				unlinkat(qfd, bin, 0);
		}
	}
	if (rc != 0) {
		fchmod(bfd, 0);
		rc = fail(rc, err, errlen, "cannot restore to", dst);
		goto out;
	}
	if (!meta_ok) /* restored, but not as it was: say so */
		snprintf(err, errlen, "restored to %s, but its owner or mode "
			 "could not be set back", dst);
	unlink(meta);
out:
	if (bfd >= 0)
		close(bfd);
	if (pfd >= 0)
		close(pfd);
	close(qfd);
	return rc;
}
