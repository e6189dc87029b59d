#include "agent/backup/repo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <zstd.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/hexstr.h"
#include "common/backupkey.h"
#include "common/errtext.h"
#include "common/fsutil.h"
#include "common/wire.h"

#define NONCE BACKUPKEY_NONCE
#define TAG BACKUPKEY_TAG
#define KEYS_LEN BACKUPKEY_LEN /* enc, mac, chunker seed */
#define ZSTD_LEVEL 3
#define FILE_MAX (64u * 1024u * 1024u)

struct slot {
	uint8_t id[REPO_ID_LEN];
	struct repo_blob_ref ref;
	bool used;
};

struct pending_entry {
	uint8_t id[REPO_ID_LEN];
	uint64_t offset;
	uint32_t length, raw_len;
};

struct repo {
	char dir[512];
	uint8_t enc[32], mac[32], seed[32];
	struct chunker_params chunker;
	/* The index: open addressing on the id's first bytes. */
	struct slot *slots;
	size_t nslots, nused;
	char (*packs)[2 * REPO_ID_LEN + 1];
	size_t npacks, packs_cap;
	/* The pack being written. */
	int pack_fd;
	char pack_tmp[600];
	uint64_t pack_size;
	struct pending_entry *pending;
	size_t npending, pending_cap;
	int lock_fd;
	uint8_t *zbuf;
	size_t zcap;
	/* Reads: the last pack stays open (a restore reads packs in order),
	 * and the sealed and compressed bytes share one buffer. */
	int read_fd;
	uint32_t read_pack;
	uint8_t *rbuf;
	size_t rcap;
	/* Index files that did not open: their packs' chunks count as
	 * missing until 'backup repair' rebuilds them. */
	char (*bad_index)[2 * REPO_ID_LEN + 1];
	size_t nbad_index;
	uint8_t *pack_bad; /* per pack, after repo_check_packs */
};

/* A format 2 pack ends with its own index, sealed (AAD "packindex"),
 * then the sealed length (4 bytes, little endian) and PACK_MAGIC: what
 * 'backup repair' rebuilds a lost index from. */
#define PACK_MAGIC "EWP2"
#define SLOT_DROPPED UINT32_MAX
#define PACK_FOOTER 8

/* ---- files ---------------------------------------------------------------------- */

/* tmp file, fsync, rename into place, fsync the folder. */
static int put_file(struct repo *r, const char *subdir, const char *name,
		    const void *data, size_t len)
{
	char tmp[700], dst[700], dir[600];
	unsigned char rnd[8];
	char rhex[17];
	RAND_bytes(rnd, sizeof(rnd));
	hexstr_encode(rnd, sizeof(rnd), rhex);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s.tmp", r->dir, rhex);
	snprintf(dir, sizeof(dir), "%s/%s", r->dir, subdir);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = fs_write_all(fd, data, len);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, dst) != 0)
		rc = -errno;
	if (rc != 0)
		unlink(tmp);
	else
		rc = fs_fsync_dir(dir);
	return rc;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size < 0 || st.st_size > FILE_MAX) {
		close(fd);
		return -EFBIG;
	}
	uint8_t *buf = alloc_bytes((size_t)st.st_size + 1);
	size_t done = 0;
	while (buf && done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	if (buf == NULL || done != (size_t)st.st_size) {
		alloc_free(buf);
		return -EIO;
	}
	*out = buf;
	*len = done;
	return 0;
}

/* A sealed file: the kind of file is the AAD, so a snapshot cannot be
 * passed off as an index. */
static int put_sealed(struct repo *r, const char *subdir, const char *name,
		      const void *data, size_t len)
{
	uint8_t *buf = alloc_bytes(len + NONCE + TAG);
	if (buf == NULL)
		return -ENOMEM;
	int rc = backupkey_seal(r->enc, subdir, strlen(subdir), data, len, buf);
	if (rc == 0)
		rc = put_file(r, subdir, name, buf, len + NONCE + TAG);
	alloc_free(buf);
	return rc;
}

static int get_sealed(struct repo *r, const char *subdir, const char *name,
		      uint8_t **out, size_t *out_len)
{
	char path[700];
	uint8_t *buf;
	size_t len;
	snprintf(path, sizeof(path), "%s/%s/%s", r->dir, subdir, name);
	int rc = read_file(path, &buf, &len);
	if (rc != 0)
		return rc;
	uint8_t *plain = len >= NONCE + TAG ? alloc_bytes(len - NONCE - TAG + 1)
					    : NULL;
	rc = plain ? backupkey_unseal(r->enc, subdir, strlen(subdir), buf, len, plain)
		   : -EBADMSG;
	alloc_free(buf);
	if (rc != 0) {
		alloc_free(plain);
		return rc;
	}
	*out = plain;
	*out_len = len - NONCE - TAG;
	return 0;
}

static void key_sum(const uint8_t *buf, size_t len, uint8_t out[32]);
static void write_key_sum(const char *dir, const uint8_t sum[32]);

int repo_init(const char *dir, const char *pass, char *err, size_t errlen)
{
	static const char *const subdirs[] = {"keys", "data", "index",
					      "snapshots", "tmp"};
	char path[600];
	if (strlen(pass) < 8)
		return errtext_set(-EINVAL, err, errlen,
			    "the passphrase must have at least 8 characters");
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return errtext_set(-errno, err, errlen, "%s: %s", dir,
				   repo_strerror(-errno));
	snprintf(path, sizeof(path), "%s/keys/key", dir);
	if (access(path, F_OK) == 0)
		return errtext_set(-EEXIST, err, errlen,
			    "%s already holds a backup repository", dir);
	for (size_t i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return errtext_set(-errno, err, errlen, "%s: %s", path,
				    repo_strerror(-errno));
	}
	for (unsigned i = 0; i < 256; i++) {
		snprintf(path, sizeof(path), "%s/data/%02x", dir, i);
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return errtext_set(-errno, err, errlen, "%s: %s", path,
				    repo_strerror(-errno));
	}
	uint8_t keys[KEYS_LEN];
	RAND_bytes(keys, sizeof(keys));
	snprintf(path, sizeof(path), "%s/keys/key", dir);
	int rc = backupkey_write(path, keys, pass);
	OPENSSL_cleanse(keys, sizeof(keys));
	if (rc != 0)
		return errtext_set(rc, err, errlen, "cannot write the key file: %s",
			    repo_strerror(rc));
	uint8_t *kbuf;
	size_t klen;
	if (read_file(path, &kbuf, &klen) == 0) {
		uint8_t sum[32];
		key_sum(kbuf, klen, sum);
		write_key_sum(dir, sum);
		alloc_free(kbuf);
	}
	snprintf(path, sizeof(path), "%s/config", dir);
	FILE *f = fopen(path, "we");
	if (f) {
		fprintf(f, "eduwatch backup repository, format 2; see "
			   "docs/BACKUP-FORMAT.md\n");
		fclose(f);
	}
	return 0;
}

/* ---- the index ------------------------------------------------------------------- */

static uint64_t id_hash(const uint8_t *id)
{
	uint64_t h;
	memcpy(&h, id, sizeof(h));
	return h;
}

static int index_grow(struct repo *r)
{
	size_t n = r->nslots ? r->nslots * 2 : 4096;
	struct slot *s = alloc_zeroed(n, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < r->nslots; i++) {
		if (!r->slots[i].used)
			continue;
		size_t j = id_hash(r->slots[i].id) & (n - 1);
		while (s[j].used)
			j = (j + 1) & (n - 1);
		s[j] = r->slots[i];
	}
	alloc_free(r->slots);
	r->slots = s;
	r->nslots = n;
	return 0;
}

static struct slot *index_find(const struct repo *r, const uint8_t *id)
{
	if (r->nslots == 0)
		return NULL;
	size_t j = id_hash(id) & (r->nslots - 1);
	while (r->slots[j].used) {
		/* A chunk repair dropped keeps its slot (for the probing)
		 * but is not found. */
		if (r->slots[j].ref.pack != SLOT_DROPPED &&
		    memcmp(r->slots[j].id, id, REPO_ID_LEN) == 0)
			return &r->slots[j];
		j = (j + 1) & (r->nslots - 1);
	}
	return NULL;
}

static int index_add(struct repo *r, const uint8_t *id,
		     const struct repo_blob_ref *ref)
{
	if ((r->nused + 1) * 2 > r->nslots && index_grow(r) != 0)
		return -ENOMEM;
	if (index_find(r, id))
		return 0;
	size_t j = id_hash(id) & (r->nslots - 1);
	while (r->slots[j].used)
		j = (j + 1) & (r->nslots - 1);
	memcpy(r->slots[j].id, id, REPO_ID_LEN);
	r->slots[j].ref = *ref;
	r->slots[j].used = true;
	r->nused++;
	return 0;
}

static int add_pack_name(struct repo *r, const char *name, uint32_t *index)
{
	if (r->npacks == r->packs_cap) {
		size_t cap = r->packs_cap ? r->packs_cap * 2 : 64;
		void *p = alloc_resize(r->packs, cap * sizeof(*r->packs));
		if (p == NULL)
			return -ENOMEM;
		r->packs = p;
		r->packs_cap = cap;
	}
	snprintf(r->packs[r->npacks], sizeof(r->packs[0]), "%s", name);
	*index = (uint32_t)r->npacks++;
	return 0;
}

/* index/<pack>: a sealed msgpack array of [id, offset, length, raw_len]. */
static int load_index_file(struct repo *r, const char *name)
{
	uint8_t *buf;
	size_t len;
	int rc = get_sealed(r, "index", name, &buf, &len);
	if (rc != 0)
		return rc;
	uint32_t pack;
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	rc = -EBADMSG;
	if (wire_check_msgpack((const char *)buf, len, 4) == 0 &&
	    msgpack_unpack_next(&up, (const char *)buf, len, NULL) ==
		    MSGPACK_UNPACK_SUCCESS &&
	    up.data.type == MSGPACK_OBJECT_ARRAY &&
	    add_pack_name(r, name, &pack) == 0) {
		rc = 0;
		for (uint32_t i = 0; i < up.data.via.array.size && rc == 0; i++) {
			const msgpack_object *e = &up.data.via.array.ptr[i];
			const msgpack_object *f = e->via.array.ptr;
			if (e->type != MSGPACK_OBJECT_ARRAY ||
			    e->via.array.size != 4 ||
			    f[0].type != MSGPACK_OBJECT_BIN ||
			    f[0].via.bin.size != REPO_ID_LEN ||
			    f[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
			    f[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
			    f[3].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
			    f[2].via.u64 > UINT32_MAX || f[3].via.u64 > UINT32_MAX) {
				rc = -EBADMSG;
				break;
			}
			struct repo_blob_ref ref = {
				.pack = pack,
				.offset = f[1].via.u64,
				.length = (uint32_t)f[2].via.u64,
				.raw_len = (uint32_t)f[3].via.u64,
			};
			rc = index_add(r, (const uint8_t *)f[0].via.bin.ptr, &ref);
		}
	}
	msgpack_unpacked_destroy(&up);
	alloc_free(buf);
	return rc;
}

static int load_index(struct repo *r, char *err, size_t errlen)
{
	char dir[600];
	snprintf(dir, sizeof(dir), "%s/index", r->dir);
	DIR *d = opendir(dir);
	if (d == NULL)
		return errtext_set(-errno, err, errlen, "%s: %s", dir,
				   repo_strerror(-errno));
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 2 * REPO_ID_LEN)
			continue;
		size_t before = r->npacks;
		rc = load_index_file(r, de->d_name);
		if (rc == -ENOMEM) {
			errtext_set(rc, err, errlen, "out of memory");
			break;
		}
		if (rc != 0) {
			/* A damaged index costs its pack's chunks (until
			 * repair), never the repository. */
			r->npacks = before;
			void *p = alloc_resize(r->bad_index, (r->nbad_index + 1) *
							     sizeof(*r->bad_index));
			if (p == NULL) {
				rc = -ENOMEM;
				break;
			}
			r->bad_index = p;
			snprintf(r->bad_index[r->nbad_index++],
				 sizeof(r->bad_index[0]), "%s", de->d_name);
			rc = 0;
		}
	}
	closedir(d);
	return rc;
}

/* Whatever a crash left in tmp/ was never part of the repository. */
static void clean_tmp(struct repo *r)
{
	char dir[600];
	snprintf(dir, sizeof(dir), "%s/tmp", r->dir);
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char path[900];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
}

/* keys/key.sha256: the key file's SHA-256, not secret. The key file's
 * seal is opened with the passphrase, so on its own a flipped byte and
 * a wrong passphrase fail alike; this sum tells them apart. It is
 * written at init and again after any open that succeeds with it
 * missing or stale (a key file recovered from escrow). */
static void key_sum(const uint8_t *buf, size_t len, uint8_t out[32])
{
	unsigned n = 32;
	EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL);
}

static void write_key_sum(const char *dir, const uint8_t sum[32])
{
	char path[600];
	snprintf(path, sizeof(path), "%s/keys/key.sha256", dir);
	/* Best effort: without it, a damaged key file reads as a wrong
	 * passphrase, as before. */
	EW_IGNORE(fs_write_atomic(path, sum, 32, 0600));
}

static int read_keys(const char *dir, const char *pass, uint8_t keys[KEYS_LEN],
		     char *err, size_t errlen)
{
	char path[600], spath[620];
	uint8_t *buf, *sbuf = NULL, sum[32];
	size_t len, slen = 0;
	snprintf(path, sizeof(path), "%s/keys/key", dir);
	snprintf(spath, sizeof(spath), "%s/keys/key.sha256", dir);
	int rc = read_file(path, &buf, &len);
	if (rc != 0)
		return errtext_set(rc, err, errlen, "%s: not a backup repository (%s)",
			    dir, repo_strerror(rc));
	key_sum(buf, len, sum);
	bool have_sum = read_file(spath, &sbuf, &slen) == 0 && slen == 32;
	bool sum_ok = have_sum && memcmp(sbuf, sum, 32) == 0;
	alloc_free(sbuf);
	rc = backupkey_parse(buf, len, pass, keys);
	alloc_free(buf);
	if (rc == -EACCES && have_sum && !sum_ok)
		return errtext_set(-EBADMSG, err, errlen,
			    "%s: damaged key file (its checksum does not match; "
			    "the passphrase was not the problem): restore "
			    "keys/key from a copy, or recover it from the "
			    "collector's escrow", path);
	if (rc == -EACCES)
		return errtext_set(rc, err, errlen,
			    "wrong passphrase for the backup repository %s", dir);
	if (rc != 0)
		return errtext_set(rc, err, errlen, "%s: damaged key file (its "
				   "structure is broken)", path);
	if (!sum_ok)
		write_key_sum(dir, sum);
	return 0;
}

int repo_open(const char *dir, const char *pass, struct repo **out,
	      char *err, size_t errlen)
{
	uint8_t keys[KEYS_LEN];
	int rc = read_keys(dir, pass, keys, err, errlen);
	if (rc != 0)
		return rc;
	struct repo *r = alloc_zeroed(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	memcpy(r->enc, keys, 32);
	memcpy(r->mac, keys + 32, 32);
	memcpy(r->seed, keys + 64, 32);
	chunker_init(&r->chunker, keys + 64);
	OPENSSL_cleanse(keys, sizeof(keys));
	r->pack_fd = -1;
	r->lock_fd = -1;
	r->read_fd = -1;
	rc = load_index(r, err, errlen);
	if (rc != 0) {
		repo_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

int repo_lock(struct repo *r, char *err, size_t errlen)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/lock", r->dir);
	r->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (r->lock_fd < 0)
		return errtext_set(-errno, err, errlen, "%s: %s", path,
				   repo_strerror(-errno));
	if (flock(r->lock_fd, LOCK_EX | LOCK_NB) != 0)
		return errtext_set(-EBUSY, err, errlen,
			    "another backup or prune is running on %s", r->dir);
	clean_tmp(r);
	return 0;
}

void repo_close(struct repo *r)
{
	if (r == NULL)
		return;
	if (r->pack_fd >= 0) {
		close(r->pack_fd);
		unlink(r->pack_tmp);
	}
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	if (r->read_fd >= 0)
		close(r->read_fd);
	alloc_free(r->rbuf);
	OPENSSL_cleanse(r->enc, sizeof(r->enc));
	OPENSSL_cleanse(r->mac, sizeof(r->mac));
	OPENSSL_cleanse(r->seed, sizeof(r->seed));
	alloc_free(r->slots);
	alloc_free(r->packs);
	alloc_free(r->bad_index);
	alloc_free(r->pack_bad);
	alloc_free(r->pending);
	alloc_free(r->zbuf);
	alloc_free(r);
}

const struct chunker_params *repo_chunker(const struct repo *r)
{
	return &r->chunker;
}

void repo_chunk_id(const struct repo *r, const void *data, size_t len,
		   uint8_t id[REPO_ID_LEN])
{
	unsigned n = REPO_ID_LEN;
	HMAC(EVP_sha256(), r->mac, sizeof(r->mac), data, len, id, &n);
}

bool repo_has(const struct repo *r, const uint8_t id[REPO_ID_LEN])
{
	if (index_find(r, id))
		return true;
	for (size_t i = 0; i < r->npending; i++)
		if (memcmp(r->pending[i].id, id, REPO_ID_LEN) == 0)
			return true;
	return false;
}

/* ---- packs ------------------------------------------------------------------------ */

/* libuv has no name for some errnos (EBADMSG: "Unknown system error
 * -74"); glibc's table has them all. */
const char *repo_strerror(int rc)
{
	if (rc == -ENOSPC)
		return "the backup target is full";
	if (rc == -EBADMSG)
		return "damaged (its authentication failed)";
	const char *u = uv_strerror(rc);
	const char *d = rc < 0 && strncmp(u, "Unknown", 7) == 0
				? strerrordesc_np(-rc)
				: NULL;
	return d ? d : u;
}

int repo_flush(struct repo *r, char *err, size_t errlen)
{
	if (r->pack_fd < 0)
		return 0;
	uint8_t rnd[REPO_ID_LEN];
	char name[2 * REPO_ID_LEN + 1], dst[700], dir[600];
	RAND_bytes(rnd, sizeof(rnd));
	hexstr_encode(rnd, sizeof(rnd), name);
	snprintf(dir, sizeof(dir), "%s/data/%.2s", r->dir, name);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, (uint32_t)r->npending);
	for (size_t i = 0; i < r->npending; i++) {
		msgpack_pack_array(&pk, 4);
		msgpack_pack_bin(&pk, REPO_ID_LEN);
		msgpack_pack_bin_body(&pk, r->pending[i].id, REPO_ID_LEN);
		msgpack_pack_uint64(&pk, r->pending[i].offset);
		msgpack_pack_uint32(&pk, r->pending[i].length);
		msgpack_pack_uint32(&pk, r->pending[i].raw_len);
	}
	/* The pack's own index at its end, so that a lost or damaged
	 * index file can be rebuilt from the pack alone. */
	int rc = 0;
	uint8_t *trailer = alloc_bytes(sb.size + NONCE + TAG + PACK_FOOTER);
	if (trailer == NULL)
		rc = -ENOMEM;
	if (rc == 0)
	{
		/* Bound to the pack's name: a trailer copied onto another
		 * pack does not open. */
		char aad[16 + 2 * REPO_ID_LEN];
		int alen = snprintf(aad, sizeof(aad), "packindex %s", name);
		rc = backupkey_seal(r->enc, aad, (size_t)alen, sb.data, sb.size,
				    trailer);
	}
	if (rc == 0) {
		uint32_t tl = (uint32_t)(sb.size + NONCE + TAG);
		uint8_t *f = trailer + tl;
		f[0] = (uint8_t)tl;
		f[1] = (uint8_t)(tl >> 8);
		f[2] = (uint8_t)(tl >> 16);
		f[3] = (uint8_t)(tl >> 24);
		memcpy(f + 4, PACK_MAGIC, 4);
		rc = fs_write_all(r->pack_fd, trailer, tl + PACK_FOOTER);
	}
	alloc_free(trailer);
	if (rc == 0 && fsync(r->pack_fd) != 0)
		rc = -errno;
	close(r->pack_fd);
	r->pack_fd = -1;
	if (rc == 0 && rename(r->pack_tmp, dst) != 0)
		rc = -errno;
	if (rc == 0)
		rc = fs_fsync_dir(dir);
	/* The index after the pack: an index never names a missing pack,
	 * and a pack without an index is only wasted space. */
	if (rc == 0)
		rc = put_sealed(r, "index", name, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	uint32_t pack;
	if (rc == 0)
		rc = add_pack_name(r, name, &pack);
	for (size_t i = 0; rc == 0 && i < r->npending; i++) {
		struct repo_blob_ref ref = {pack, r->pending[i].length,
					    r->pending[i].offset,
					    r->pending[i].raw_len};
		rc = index_add(r, r->pending[i].id, &ref);
	}
	if (rc != 0) {
		unlink(r->pack_tmp);
		unlink(dst);
	}
	r->npending = 0;
	r->pack_size = 0;
	if (rc != 0)
		return errtext_set(rc, err, errlen, "cannot store a pack: %s",
			    repo_strerror(rc));
	return 0;
}

int repo_put(struct repo *r, const uint8_t id[REPO_ID_LEN], const void *data,
	     size_t len, size_t *added, char *err, size_t errlen)
{
	*added = 0;
	if (repo_has(r, id))
		return 0;
	size_t bound = ZSTD_compressBound(len);
	if (bound + NONCE + TAG > r->zcap) {
		alloc_free(r->zbuf);
		r->zcap = bound + NONCE + TAG;
		/* Compressed text first, then its sealed form behind it. */
		r->zbuf = alloc_bytes(2 * r->zcap);
		if (r->zbuf == NULL) {
			r->zcap = 0;
			return errtext_set(-ENOMEM, err, errlen, "out of memory");
		}
	}
	size_t zlen = ZSTD_compress(r->zbuf, bound, data, len, ZSTD_LEVEL);
	if (ZSTD_isError(zlen))
		return errtext_set(-EIO, err, errlen, "zstd: %s", ZSTD_getErrorName(zlen));
	uint8_t *sealed = r->zbuf + r->zcap;
	int rc = backupkey_seal(r->enc, id, REPO_ID_LEN, r->zbuf, zlen, sealed);
	if (rc != 0)
		return errtext_set(rc, err, errlen, "cannot encrypt a chunk");
	if (r->pack_fd < 0) {
		uint8_t rnd[8];
		char rhex[17];
		RAND_bytes(rnd, sizeof(rnd));
		hexstr_encode(rnd, sizeof(rnd), rhex);
		snprintf(r->pack_tmp, sizeof(r->pack_tmp), "%s/tmp/%s.pack",
			 r->dir, rhex);
		r->pack_fd = open(r->pack_tmp,
				  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (r->pack_fd < 0)
			return errtext_set(-errno, err, errlen, "%s: %s", r->pack_tmp,
				    repo_strerror(-errno));
	}
	size_t slen = zlen + NONCE + TAG;
	rc = fs_write_all(r->pack_fd, sealed, slen);
	if (rc != 0) {
		close(r->pack_fd);
		r->pack_fd = -1;
		unlink(r->pack_tmp);
		r->npending = 0;
		r->pack_size = 0;
		return errtext_set(rc, err, errlen, "cannot write a pack: %s",
			    repo_strerror(rc));
	}
	if (r->npending == r->pending_cap) {
		size_t cap = r->pending_cap ? r->pending_cap * 2 : 64;
		void *p = alloc_resize(r->pending, cap * sizeof(*r->pending));
		if (p == NULL)
			return errtext_set(-ENOMEM, err, errlen, "out of memory");
		r->pending = p;
		r->pending_cap = cap;
	}
	struct pending_entry *e = &r->pending[r->npending++];
	memcpy(e->id, id, REPO_ID_LEN);
	e->offset = r->pack_size;
	e->length = (uint32_t)slen;
	e->raw_len = (uint32_t)len;
	r->pack_size += slen;
	*added = slen;
	if (r->pack_size >= REPO_PACK_TARGET)
		return repo_flush(r, err, errlen);
	return 0;
}

static int open_pack(struct repo *r, uint32_t pack)
{
	if (r->read_fd >= 0 && r->read_pack == pack)
		return r->read_fd;
	if (r->read_fd >= 0)
		close(r->read_fd);
	char path[700];
	const char *name = r->packs[pack];
	snprintf(path, sizeof(path), "%s/data/%.2s/%s", r->dir, name, name);
	r->read_fd = open(path, O_RDONLY | O_CLOEXEC);
	r->read_pack = pack;
	return r->read_fd;
}

int repo_get(struct repo *r, const uint8_t id[REPO_ID_LEN], void **data,
	     size_t *len, char *err, size_t errlen)
{
	char hex[2 * REPO_ID_LEN + 1];
	const struct slot *s = index_find(r, id);
	hexstr_encode(id, REPO_ID_LEN, hex);
	if (s == NULL)
		return errtext_set(-ENOENT, err, errlen, "chunk %.16s is missing",
				   hex);
	const char *pack = r->packs[s->ref.pack];
	int fd = open_pack(r, s->ref.pack);
	if (fd < 0)
		return errtext_set(errno == ENOENT ? -ENOENT : -EIO, err, errlen,
				   "pack %.16s of chunk %.16s: %s", pack, hex,
				   repo_strerror(-errno));
	/* One buffer: the sealed bytes, then the opened (compressed) ones. */
	size_t need = 2 * (size_t)s->ref.length;
	if (need > r->rcap) {
		uint8_t *p = alloc_resize(r->rbuf, need);
		if (p == NULL)
			return errtext_set(-ENOMEM, err, errlen, "out of memory");
		r->rbuf = p;
		r->rcap = need;
	}
	uint8_t *sealed = r->rbuf, *z = r->rbuf + s->ref.length;
	uint8_t *plain = alloc_bytes(s->ref.raw_len ? s->ref.raw_len : 1);
	if (plain == NULL)
		return errtext_set(-ENOMEM, err, errlen, "out of memory");
	ssize_t n = pread(fd, sealed, s->ref.length, (off_t)s->ref.offset);
	int rc = 0;
	if (n != (ssize_t)s->ref.length || s->ref.length < NONCE + TAG ||
	    backupkey_unseal(r->enc, id, REPO_ID_LEN, sealed, s->ref.length, z) != 0)
		rc = -EBADMSG;
	size_t zlen = rc == 0 ? s->ref.length - NONCE - TAG : 0;
	size_t out = rc == 0 ? ZSTD_decompress(plain, s->ref.raw_len, z, zlen) : 0;
	if (rc == 0 && (ZSTD_isError(out) || out != s->ref.raw_len))
		rc = -EBADMSG;
	uint8_t check[REPO_ID_LEN];
	if (rc == 0) {
		repo_chunk_id(r, plain, out, check);
		if (memcmp(check, id, REPO_ID_LEN) != 0)
			rc = -EBADMSG;
	}
	if (rc != 0) {
		alloc_free(plain);
		return errtext_set(rc, err, errlen, "chunk %.16s in pack %.16s is "
				   "damaged", hex, pack);
	}
	*data = plain;
	*len = out;
	return 0;
}

/* ---- repair ---------------------------------------------------------------------- */

size_t repo_damaged_index_count(const struct repo *r)
{
	return r->nbad_index;
}

const char *repo_damaged_index(const struct repo *r, size_t i)
{
	return i < r->nbad_index ? r->bad_index[i] : NULL;
}

static void say(void (*cb)(void *, const char *), void *arg, const char *fmt,
		...) __attribute__((format(printf, 3, 4)));
static void say(void (*cb)(void *, const char *), void *arg, const char *fmt,
		...)
{
	char line[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (cb)
		cb(arg, line);
}

static bool pack_indexed(const struct repo *r, const char *name)
{
	for (size_t i = 0; i < r->npacks; i++)
		if (strcmp(r->packs[i], name) == 0)
			return true;
	return false;
}

/* A format 2 pack's trailer, opened: the plaintext of its index. */
static int read_trailer(struct repo *r, const char *name, uint8_t **out,
			size_t *out_len)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/data/%.2s/%s", r->dir, name, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	uint8_t foot[PACK_FOOTER];
	int rc = fstat(fd, &st) != 0 ? -errno : 0;
	if (rc == 0 && (st.st_size < PACK_FOOTER ||
			pread(fd, foot, PACK_FOOTER, st.st_size - PACK_FOOTER) !=
				PACK_FOOTER ||
			memcmp(foot + 4, PACK_MAGIC, 4) != 0))
		rc = -ENODATA; /* format 1: no trailer */
	uint32_t tl = (uint32_t)foot[0] | (uint32_t)foot[1] << 8 |
		      (uint32_t)foot[2] << 16 | (uint32_t)foot[3] << 24;
	if (rc == 0 && (tl < NONCE + TAG || tl > FILE_MAX ||
			(off_t)tl > st.st_size - PACK_FOOTER))
		rc = -EBADMSG;
	uint8_t *sealed = rc == 0 ? alloc_bytes(tl) : NULL;
	uint8_t *plain = rc == 0 ? alloc_bytes(tl - NONCE - TAG + 1) : NULL;
	if (rc == 0 && (sealed == NULL || plain == NULL))
		rc = -ENOMEM;
	if (rc == 0 && pread(fd, sealed, tl, st.st_size - PACK_FOOTER - tl) !=
			       (ssize_t)tl)
		rc = -EIO;
	char aad[16 + 2 * REPO_ID_LEN];
	int alen = snprintf(aad, sizeof(aad), "packindex %s", name);
	if (rc == 0 &&
	    backupkey_unseal(r->enc, aad, (size_t)alen, sealed, tl, plain) != 0)
		rc = -EBADMSG;
	close(fd);
	alloc_free(sealed);
	if (rc != 0) {
		alloc_free(plain);
		return rc;
	}
	*out = plain;
	*out_len = tl - NONCE - TAG;
	return 0;
}

/* The index of pack p as it now stands in memory, minus the ids in
 * drop (n of them), written again. */
static int rewrite_index(struct repo *r, uint32_t p, const uint8_t *drop,
			 size_t ndrop)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	uint32_t n = 0;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			msgpack_pack_array(&pk, n);
		for (size_t i = 0; i < r->nslots; i++) {
			const struct slot *sl = &r->slots[i];
			bool dropped = false;
			if (!sl->used || sl->ref.pack != p)
				continue;
			for (size_t k = 0; k < ndrop && !dropped; k++)
				dropped = memcmp(drop + k * REPO_ID_LEN, sl->id,
						 REPO_ID_LEN) == 0;
			if (dropped)
				continue;
			if (pass == 0) {
				n++;
				continue;
			}
			msgpack_pack_array(&pk, 4);
			msgpack_pack_bin(&pk, REPO_ID_LEN);
			msgpack_pack_bin_body(&pk, sl->id, REPO_ID_LEN);
			msgpack_pack_uint64(&pk, sl->ref.offset);
			msgpack_pack_uint32(&pk, sl->ref.length);
			msgpack_pack_uint32(&pk, sl->ref.raw_len);
		}
	}
	int rc = put_sealed(r, "index", r->packs[p], sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

int repo_repair(struct repo *r, void (*cb)(void *arg, const char *line),
		void *arg, struct repo_repair_stats *st, char *err,
		size_t errlen)
{
	memset(st, 0, sizeof(*st));
	char path[800];
	/* 1. Packs with no usable index: rebuilt from their trailer. */
	for (unsigned x = 0; x < 256; x++) {
		char dir[700];
		snprintf(dir, sizeof(dir), "%s/data/%02x", r->dir, x);
		DIR *d = opendir(dir);
		struct dirent *de;
		while (d && (de = readdir(d)) != NULL) {
			uint8_t id[REPO_ID_LEN];
			if (hexstr_decode(de->d_name, id, REPO_ID_LEN) != 0 ||
			    pack_indexed(r, de->d_name))
				continue;
			uint8_t *plain = NULL;
			size_t len = 0;
			int rc = read_trailer(r, de->d_name, &plain, &len);
			if (rc == 0) {
				rc = put_sealed(r, "index", de->d_name, plain, len);
				alloc_free(plain);
				if (rc == 0)
					rc = load_index_file(r, de->d_name);
			}
			if (rc == 0) {
				st->indexes_rebuilt++;
				say(cb, arg, "pack %.16s: index rebuilt from the pack",
				    de->d_name);
			} else {
				st->packs_unreadable++;
				say(cb, arg, "pack %.16s: no index, and %s: its "
				    "chunks count as lost", de->d_name,
				    rc == -ENODATA ? "it is a format 1 pack with no "
						     "index of its own"
						   : "its own index is damaged too");
			}
		}
		if (d)
			closedir(d);
	}
	/* 2. Damaged index files whose pack is gone or not rebuilt: the
	 * index says nothing usable, so it goes. */
	for (size_t i = 0; i < r->nbad_index; i++) {
		if (pack_indexed(r, r->bad_index[i]))
			continue;
		snprintf(path, sizeof(path), "%s/index/%s", r->dir,
			 r->bad_index[i]);
		if (unlink(path) == 0) {
			st->indexes_dropped++;
			say(cb, arg, "index %.16s: damaged, and no pack to rebuild "
			    "it from: removed", r->bad_index[i]);
		}
	}
	r->nbad_index = 0;
	/* 3. Every indexed chunk read back; those lost (a missing pack, a
	 * damaged blob) leave the index, so the next backup stores them
	 * again and verify names the files they cost. */
	uint8_t *bad = NULL;
	size_t nbad = 0, badcap = 0;
	int rc = 0;
	for (uint32_t p = 0; p < r->npacks && rc == 0; p++) {
		nbad = 0;
		size_t total = 0;
		for (size_t i = 0; i < r->nslots && rc == 0; i++) {
			const struct slot *sl = &r->slots[i];
			if (!sl->used || sl->ref.pack != p)
				continue;
			total++;
			void *data;
			size_t len;
			char why[200];
			if (repo_get(r, sl->id, &data, &len, why, sizeof(why)) == 0) {
				alloc_free(data);
				continue;
			}
			if (nbad == badcap) {
				badcap = badcap ? badcap * 2 : 64;
				void *np = alloc_resize(bad, badcap * REPO_ID_LEN);
				if (np == NULL) {
					rc = -ENOMEM;
					break;
				}
				bad = np;
			}
			memcpy(bad + nbad * REPO_ID_LEN, sl->id, REPO_ID_LEN);
			nbad++;
		}
		if (rc != 0 || nbad == 0)
			continue;
		st->chunks_dropped += nbad;
		snprintf(path, sizeof(path), "%s/data/%.2s/%s", r->dir,
			 r->packs[p], r->packs[p]);
		if (nbad == total) {
			snprintf(path, sizeof(path), "%s/index/%s", r->dir,
				 r->packs[p]);
			unlink(path);
			st->indexes_dropped++;
			say(cb, arg, "pack %.16s: missing or wholly damaged: its "
			    "index (%zu chunks) removed", r->packs[p], nbad);
		} else {
			rc = rewrite_index(r, p, bad, nbad);
			say(cb, arg, "pack %.16s: %zu damaged chunks dropped from "
			    "its index", r->packs[p], nbad);
		}
		/* Gone from memory too: the caller's verify sees them lost. */
		for (size_t k = 0; k < nbad; k++) {
			struct slot *sl = index_find(r, bad + k * REPO_ID_LEN);
			if (sl)
				sl->ref.pack = SLOT_DROPPED;
		}
	}
	alloc_free(bad);
	if (rc != 0)
		return errtext_set(rc, err, errlen, "repair stopped: %s",
				   repo_strerror(rc));
	return 0;
}

/* ---- snapshots -------------------------------------------------------------------- */

int repo_snapshot_write(struct repo *r, const void *data, size_t len,
			char id_hex[2 * REPO_ID_LEN + 1], char *err,
			size_t errlen)
{
	uint8_t rnd[REPO_ID_LEN];
	RAND_bytes(rnd, sizeof(rnd));
	hexstr_encode(rnd, sizeof(rnd), id_hex);
	int rc = put_sealed(r, "snapshots", id_hex, data, len);
	if (rc != 0)
		return errtext_set(rc, err, errlen, "cannot write the snapshot: %s",
			    repo_strerror(rc));
	return 0;
}

int repo_snapshot_read(struct repo *r, const char *id_hex, void **data,
		       size_t *len, char *err, size_t errlen)
{
	uint8_t id[REPO_ID_LEN];
	if (hexstr_decode(id_hex, id, REPO_ID_LEN) != 0)
		return errtext_set(-EINVAL, err, errlen, "'%s' is not a snapshot id",
			    id_hex);
	uint8_t *buf;
	int rc = get_sealed(r, "snapshots", id_hex, &buf, len);
	if (rc != 0)
		return errtext_set(rc, err, errlen, "snapshot %.16s: %s", id_hex,
			    rc == -EBADMSG ? "damaged" : repo_strerror(rc));
	*data = buf;
	return 0;
}

static int cmp_ids(const void *a, const void *b)
{
	return strcmp(a, b);
}

int repo_snapshot_ids(struct repo *r, char (**ids)[2 * REPO_ID_LEN + 1],
		      size_t *n)
{
	char dir[600];
	snprintf(dir, sizeof(dir), "%s/snapshots", r->dir);
	DIR *d = opendir(dir);
	if (d == NULL)
		return -errno;
	size_t cap = 0, count = 0;
	char(*list)[2 * REPO_ID_LEN + 1] = NULL;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		uint8_t id[REPO_ID_LEN];
		if (hexstr_decode(de->d_name, id, REPO_ID_LEN) != 0)
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			void *p = alloc_resize(list, cap * sizeof(*list));
			if (p == NULL)
				break;
			list = p;
		}
		snprintf(list[count++], sizeof(list[0]), "%s", de->d_name);
	}
	closedir(d);
	if (count)
		qsort(list, count, sizeof(*list), cmp_ids);
	*ids = list;
	*n = count;
	return 0;
}

int repo_snapshot_delete(struct repo *r, const char *id_hex)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/snapshots/%s", r->dir, id_hex);
	return unlink(path) == 0 ? 0 : -errno;
}

size_t repo_pack_count(const struct repo *r)
{
	return r->npacks;
}

const char *repo_pack_name(const struct repo *r, uint32_t pack)
{
	return pack < r->npacks ? r->packs[pack] : "?";
}

void repo_each_blob(const struct repo *r,
		    void (*cb)(void *arg, const uint8_t *id,
			       const struct repo_blob_ref *ref),
		    void *arg)
{
	for (size_t i = 0; i < r->nslots; i++)
		if (r->slots[i].used && r->slots[i].ref.pack != SLOT_DROPPED)
			cb(arg, r->slots[i].id, &r->slots[i].ref);
}

int repo_check_packs(struct repo *r,
		     void (*cb)(void *arg, const char *pack, const char *what),
		     void *arg)
{
	uint64_t *end = alloc_zeroed(r->npacks ? r->npacks : 1, sizeof(*end));
	uint8_t *bad = alloc_zeroed(r->npacks ? r->npacks : 1, 1);
	if (end == NULL || bad == NULL) {
		alloc_free(end);
		alloc_free(bad);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->nslots; i++) {
		const struct slot *sl = &r->slots[i];
		if (sl->used && sl->ref.pack != SLOT_DROPPED &&
		    sl->ref.offset + sl->ref.length > end[sl->ref.pack])
			end[sl->ref.pack] = sl->ref.offset + sl->ref.length;
	}
	int nbad = 0;
	for (size_t p = 0; p < r->npacks; p++) {
		char path[700];
		struct stat st;
		const char *name = r->packs[p];
		snprintf(path, sizeof(path), "%s/data/%.2s/%s", r->dir, name, name);
		const char *what = NULL;
		if (stat(path, &st) != 0)
			what = "the pack is missing";
		else if ((uint64_t)st.st_size < end[p])
			what = "the pack is shorter than its index says";
		if (what == NULL || end[p] == 0)
			continue;
		bad[p] = 1;
		nbad++;
		if (cb)
			cb(arg, name, what);
	}
	alloc_free(end);
	alloc_free(r->pack_bad);
	r->pack_bad = bad;
	return nbad;
}

int repo_chunk_len(const struct repo *r, const uint8_t id[REPO_ID_LEN],
		   uint32_t *raw_len)
{
	const struct slot *sl = index_find(r, id);
	if (sl == NULL)
		return -ENOENT;
	*raw_len = sl->ref.raw_len;
	return 0;
}

bool repo_chunk_ok(const struct repo *r, const uint8_t id[REPO_ID_LEN])
{
	const struct slot *sl = index_find(r, id);
	if (sl == NULL)
		return repo_has(r, id);
	return !(r->pack_bad && r->pack_bad[sl->ref.pack]);
}

int repo_pack_delete(struct repo *r, uint32_t pack)
{
	char path[700];
	if (r->read_fd >= 0 && r->read_pack == pack) {
		close(r->read_fd);
		r->read_fd = -1;
	}
	const char *name = r->packs[pack];
	/* The index first: a pack without an index is harmless. */
	snprintf(path, sizeof(path), "%s/index/%s", r->dir, name);
	if (unlink(path) != 0 && errno != ENOENT)
		return -errno;
	snprintf(path, sizeof(path), "%s/data/%.2s/%s", r->dir, name, name);
	if (unlink(path) != 0 && errno != ENOENT)
		return -errno;
	for (size_t i = 0; i < r->nslots; i++)
		if (r->slots[i].used && r->slots[i].ref.pack == pack)
			r->slots[i].ref.length = 0; /* gone */
	return 0;
}

static uint64_t dir_bytes(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t total = 0;
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char path[900];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth < 2)
			total += dir_bytes(path, depth + 1);
		else if (S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	if (d)
		closedir(d);
	return total;
}

uint64_t repo_size_bytes(const struct repo *r)
{
	return dir_bytes(r->dir, 0);
}


int repo_escrow_seal(const struct repo *r, EVP_PKEY *recipient, char **out,
		     size_t *out_len)
{
	uint8_t keys[KEYS_LEN];
	memcpy(keys, r->enc, 32);
	memcpy(keys + 32, r->mac, 32);
	memcpy(keys + 64, r->seed, 32);
	int rc = backupkey_escrow_seal(keys, recipient, out, out_len);
	OPENSSL_cleanse(keys, sizeof(keys));
	return rc;
}
