/* drill_restore: the restore-test drill in the backup helper
 * (drill_restore.h). */
#include "agent/drill/drill_restore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "agent/backup/backup.h"
#include "agent/core/childproc.h"
#include "agent/drill/drill_settings.h"
#include "agent/platform/beneath.h"
#include "agent/core/source.h"
#include "common/alloc.h"
#include "common/fsutil.h"
#include "common/hexstr.h"
#include "common/mpmap.h"
#include "common/timeutil.h"
#include "common/wire.h"

#define SAMPLE_CHUNK 1024
/* The restore recreates the sample's absolute path under scratch/, so
 * the drill's tree is as deep as the drill folder's path, plus four;
 * PATH_MAX bounds that well below this. */
#define REMOVE_DEPTH_MAX 512

struct sample {
	char rel[64]; /* under sample/ */
	unsigned char sha[32];
};

/* Removes name under dirfd and everything in it, never through a link
 * (a link is removed as the name it is). 0 or a negative errno. */
static int remove_tree(int parent, const char *name, int depth)
{
	struct stat st;
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(parent, name, 0) == 0 ? 0 : -errno;
	if (depth >= REMOVE_DEPTH_MAX)
		return -ELOOP;
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (dir == NULL) {
		int e = -errno;
		if (fd >= 0)
			close(fd);
		return e;
	}
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		int r = remove_tree(dirfd(dir), de->d_name, depth + 1);
		if (r != 0 && rc == 0)
			rc = r;
	}
	closedir(dir);
	if (rc == 0 && unlinkat(parent, name, AT_REMOVEDIR) != 0)
		rc = -errno;
	return rc;
}

static int sha256_fd(int fd, unsigned char out[32])
{
	unsigned char buf[16384];
	unsigned int n = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? 0
									   : -ENOMEM;
	ssize_t got;
	while (rc == 0 && (got = read(fd, buf, sizeof(buf))) > 0)
		if (EVP_DigestUpdate(ctx, buf, (size_t)got) != 1)
			rc = -EIO;
	if (rc == 0 && got < 0)
		rc = -errno;
	if (rc == 0 && EVP_DigestFinal_ex(ctx, out, &n) != 1)
		rc = -EIO;
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* The sample: files of random bytes (as incompressible as a school's
 * photos, so the repository does real work), some in a sub-folder. */
static int make_sample(int rootfd, struct sample *s, uint64_t *bytes)
{
	static unsigned char data[160 * SAMPLE_CHUNK];
	if (mkdirat(rootfd, "sample", 0700) != 0 ||
	    mkdirat(rootfd, "sample/photos", 0700) != 0)
		return -errno;
	*bytes = 0;
	for (int i = 0; i < DRILL_RESTORE_FILES; i++) {
		size_t len = (size_t)(1 + (i * 37) % 160) * SAMPLE_CHUNK;
		snprintf(s[i].rel, sizeof(s[i].rel), "%sdrill-%02d.%s",
			 i % 3 == 0 ? "photos/" : "", i,
			 i % 3 == 0 ? "jpg" : "docx");
		char path[96];
		snprintf(path, sizeof(path), "sample/%s", s[i].rel);
		if (RAND_bytes(data, (int)len) != 1)
			return -EIO;
		int fd = openat(rootfd, path, O_WRONLY | O_CREAT | O_EXCL |
				O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		int rc = fs_write_all(fd, data, len);
		if (close(fd) != 0 && rc == 0)
			rc = -EIO;
		if (rc != 0)
			return rc;
		EVP_Digest(data, len, s[i].sha, NULL, EVP_sha256(), NULL);
		*bytes += len;
	}
	return 0;
}

/* Every restored file hashed again here and compared with the sample's
 * hash taken when it was written. The restore puts each file under
 * scratch/ at its original absolute path. */
static uint64_t count_equal(int rootfd, const char *root,
			    const struct sample *s)
{
	uint64_t equal = 0;
	for (int i = 0; i < DRILL_RESTORE_FILES; i++) {
		char path[1400];
		unsigned char sha[32];
		snprintf(path, sizeof(path), "scratch%s/sample/%s", root,
			 s[i].rel);
		int fd;
		if (beneath_open(rootfd, path, strlen(path), O_RDONLY, 0,
				 &fd) != 0)
			continue;
		if (sha256_fd(fd, sha) == 0 && memcmp(sha, s[i].sha, 32) == 0)
			equal++;
		close(fd);
	}
	return equal;
}

static void run(const struct agent_settings *s, struct drill_restore_result *res)
{
	const struct drill_settings *ds = agent_settings_for(s, &drill_config);
	char folder[600], root[1200], repo_dir[1300], sample_dir[1300],
		scratch[1300], pass[65], err[400];
	unsigned char key[32];
	struct sample smp[DRILL_RESTORE_FILES];
	int dfd = -1, rootfd = -1;
	struct repo *r = NULL;
	if (ds && ds->folder[0])
		snprintf(folder, sizeof(folder), "%s", ds->folder);
	else
		snprintf(folder, sizeof(folder), "%s/drill", s->state_dir);
	res->rc = beneath_open_target(folder, true, false, &dfd, err,
				      sizeof(err));
	if (res->rc != 0) {
		snprintf(res->err, sizeof(res->err), "drill folder %s is unsafe: "
			 "%s", folder, err);
		res->cleaned = true; /* nothing was made */
		return;
	}
	if (mkdirat(dfd, DRILL_RESTORE_DIR, 0700) != 0) {
		res->rc = -errno;
		snprintf(res->err, sizeof(res->err), "cannot create %s/%s (%s)",
			 folder, DRILL_RESTORE_DIR, errno == EEXIST ? "a file or "
			 "link is in the way" : "write failed");
		close(dfd);
		res->cleaned = true; /* nothing was made; what is there is
				      * not ours and stays */
		return;
	}
	rootfd = openat(dfd, DRILL_RESTORE_DIR, O_RDONLY | O_DIRECTORY |
			O_NOFOLLOW | O_CLOEXEC);
	snprintf(root, sizeof(root), "%s/%s", folder, DRILL_RESTORE_DIR);
	snprintf(repo_dir, sizeof(repo_dir), "%s/repo", root);
	snprintf(sample_dir, sizeof(sample_dir), "%s/sample", root);
	snprintf(scratch, sizeof(scratch), "%s/scratch", root);
	if (rootfd < 0) {
		res->rc = -errno;
		snprintf(res->err, sizeof(res->err), "cannot open %s", root);
		goto cleanup;
	}
	if ((res->rc = make_sample(rootfd, smp, &res->bytes)) != 0) {
		snprintf(res->err, sizeof(res->err), "cannot write the sample "
			 "in %s (errno %d)", sample_dir, -res->rc);
		goto cleanup;
	}
	if (RAND_bytes(key, sizeof(key)) != 1) {
		res->rc = -EIO;
		goto cleanup;
	}
	hexstr_encode(key, sizeof(key), pass);
	const char *paths[] = {sample_dir};
	struct backup_run_options bo = {.paths = paths, .npaths = 1,
					.host = "drill"};
	struct backup_stats bst;
	struct backup_restore_stats rst;
	struct backup_restore_options ro = {.snapshot = "latest",
					    .to = scratch};
	if ((res->rc = repo_init(repo_dir, pass, err, sizeof(err))) != 0 ||
	    (res->rc = repo_open(repo_dir, pass, &r, err, sizeof(err))) != 0 ||
	    (res->rc = repo_lock(r, err, sizeof(err))) != 0 ||
	    (res->rc = backup_run(r, &bo, &bst, err, sizeof(err))) != 0) {
		snprintf(res->err, sizeof(res->err), "backup of the sample: %s",
			 err);
		goto cleanup;
	}
	res->backup_us = bst.duration_us;
	if (mkdirat(rootfd, "scratch", 0700) != 0) {
		res->rc = -errno;
		goto cleanup;
	}
	if ((res->rc = backup_restore(r, &ro, &rst, err, sizeof(err))) != 0) {
		snprintf(res->err, sizeof(res->err), "restore: %s", err);
		goto cleanup;
	}
	res->restore_us = rst.duration_us;
	res->files = rst.files;
	res->equal = count_equal(rootfd, root, smp);
cleanup:
	OPENSSL_cleanse(pass, sizeof(pass));
	OPENSSL_cleanse(key, sizeof(key));
	repo_close(r);
	if (rootfd >= 0)
		close(rootfd);
	struct stat st;
	int rm = remove_tree(dfd, DRILL_RESTORE_DIR, 0);
	res->cleaned = rm == 0 && fstatat(dfd, DRILL_RESTORE_DIR, &st,
					  AT_SYMLINK_NOFOLLOW) != 0 &&
		       errno == ENOENT;
	close(dfd);
}

bool drill_restore_remove(const char *folder)
{
	char err[256];
	int dfd;
	struct stat st;
	if (beneath_open_target(folder, false, false, &dfd, err,
				sizeof(err)) != 0)
		return false;
	bool gone = remove_tree(dfd, DRILL_RESTORE_DIR, 0) == 0 &&
		    fstatat(dfd, DRILL_RESTORE_DIR, &st, AT_SYMLINK_NOFOLLOW) !=
			    0 &&
		    errno == ENOENT;
	close(dfd);
	return gone;
}

int drill_restore_main(const struct agent_settings *s, int fd)
{
	struct drill_restore_result *res = alloc_zeroed(1, sizeof(*res));
	if (res == NULL)
		return 1;
	run(s, res);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct mpmap map;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	mpmap_begin(&map, &pk);
	wire_pack_kv_str(&pk, "t", "drill_restore");
	wire_pack_kv_u64(&pk, "errno", (uint64_t)-res->rc);
	wire_pack_kv_str(&pk, "err", res->err);
	wire_pack_kv_u64(&pk, "files", res->files);
	wire_pack_kv_u64(&pk, "bytes", res->bytes);
	wire_pack_kv_u64(&pk, "equal", res->equal);
	wire_pack_kv_u64(&pk, "backup_us", (uint64_t)res->backup_us);
	wire_pack_kv_u64(&pk, "restore_us", (uint64_t)res->restore_us);
	wire_pack_kv_bool(&pk, "cleaned", res->cleaned);
	mpmap_end(&map);
	int rc = childproc_send(fd, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	alloc_free(res);
	return rc == 0 ? 0 : 1;
}

int drill_restore_result_read(const msgpack_object *map,
			      struct drill_restore_result *r)
{
	char t[16];
	uint64_t e = 0, bus = 0, rus = 0;
	const msgpack_object *c = wire_map_get(map, "cleaned");
	memset(r, 0, sizeof(*r));
	if (wire_get_str(map, "t", t, sizeof(t)) != 0 ||
	    strcmp(t, "drill_restore") != 0 ||
	    wire_get_u64(map, "errno", &e) != 0 || e > 4095 ||
	    wire_get_str(map, "err", r->err, sizeof(r->err)) != 0 ||
	    wire_get_u64(map, "files", &r->files) != 0 ||
	    wire_get_u64(map, "bytes", &r->bytes) != 0 ||
	    wire_get_u64(map, "equal", &r->equal) != 0 ||
	    wire_get_u64(map, "backup_us", &bus) != 0 ||
	    wire_get_u64(map, "restore_us", &rus) != 0 || c == NULL ||
	    c->type != MSGPACK_OBJECT_BOOLEAN || r->equal > r->files)
		return -EBADMSG;
	r->rc = -(int)e;
	r->backup_us = (int64_t)(bus & INT64_MAX);
	r->restore_us = (int64_t)(rus & INT64_MAX);
	r->cleaned = c->via.boolean;
	return 0;
}
