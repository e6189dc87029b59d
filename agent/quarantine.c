#include "agent/quarantine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <msgpack.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <uv.h>

#include "common/alloc.h"
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
	snprintf(err, errlen, "%s %s: %s", what, path, uv_strerror(rc));
	return rc;
}

static int sha256_file(const char *path, char hex[65])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char buf[65536], d[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	ssize_t n;
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(md, buf, (size_t)n);
	EVP_DigestFinal_ex(md, d, &dlen);
	EVP_MD_CTX_free(md);
	close(fd);
	if (n < 0)
		return -EIO;
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return 0;
}

/* Copies src to a new file dst (mode 0600), fsynced: for moves between
 * filesystems. */
static int copy_file(const char *src, const char *dst)
{
	int in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return -errno;
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		int rc = -errno;
		close(in);
		return rc;
	}
	char buf[65536];
	ssize_t n;
	int rc = 0;
	while (rc == 0 && (n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0)
			rc = errno == EINTR ? 0 : -errno;
		else if (write(out, buf, (size_t)n) != n)
			rc = -EIO;
	}
	if (rc == 0 && fsync(out) != 0)
		rc = -errno;
	close(in);
	close(out);
	if (rc != 0)
		unlink(dst);
	return rc;
}

static int move_file(const char *src, const char *dst)
{
	if (rename(src, dst) == 0)
		return 0;
	if (errno != EXDEV)
		return -errno;
	int rc = copy_file(src, dst);
	if (rc == 0 && unlink(src) != 0) {
		rc = -errno;
		unlink(dst); /* the original stays: never two copies */
	}
	return rc;
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
	int rc = pki_write_file_atomic(path, sb.data, sb.size, 0600);
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
	if (lstat(path, &st) != 0)
		return fail(-errno, err, errlen, "cannot quarantine", path);
	if (!S_ISREG(st.st_mode))
		return fail(-EINVAL, err, errlen, "not a regular file:", path);
	if (mkdir(qdir, 0700) != 0 && errno != EEXIST)
		return fail(-errno, err, errlen, "cannot create", qdir);
	chmod(qdir, 0700);
	memset(e, 0, sizeof(*e));
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
	char bin[4200], meta[4200];
	snprintf(bin, sizeof(bin), "%s/%s.bin", qdir, e->id);
	snprintf(meta, sizeof(meta), "%s/%s.meta", qdir, e->id);
	int rc = move_file(path, bin);
	if (rc != 0)
		return fail(rc, err, errlen, "cannot move", path);
	chmod(bin, 0);
	/* The hash of what arrived, recorded as the truth; a mismatch with
	 * the scan means the file changed in between (it is kept anyway). */
	if (sha256_file(bin, e->sha256) != 0)
		snprintf(e->sha256, sizeof(e->sha256), "%s", sha256);
	rc = write_meta(meta, e);
	if (rc != 0)
		return fail(rc, err, errlen, "cannot record", meta);
	return 0;
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
	char bin[4200], meta[4200];
	struct quarantine_entry e;
	if (!valid_id(id))
		return fail(-EINVAL, err, errlen, "no quarantined file", id);
	snprintf(bin, sizeof(bin), "%s/%s.bin", qdir, id);
	snprintf(meta, sizeof(meta), "%s/%s.meta", qdir, id);
	int rc = read_meta(meta, &e);
	if (rc != 0)
		return fail(rc, err, errlen, "no quarantined file", id);
	const char *dst = to ? to : e.path;
	if (access(dst, F_OK) == 0)
		return fail(-EEXIST, err, errlen, "will not overwrite", dst);
	rc = move_file(bin, dst);
	if (rc != 0)
		return fail(rc, err, errlen, "cannot restore to", dst);
	if (chmod(dst, e.mode) != 0 || chown(dst, e.uid, e.gid) != 0) {
		/* Restored, but not as it was: say so. */
		snprintf(err, errlen, "restored to %s, but its owner or mode "
			 "could not be set back", dst);
	}
	struct timeval tv[2] = {{e.mtime_s, 0}, {e.mtime_s, 0}};
	utimes(dst, tv);
	unlink(meta);
	return 0;
}
