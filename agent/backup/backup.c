#include "agent/backup/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <uv.h>

#include "agent/platform/beneath.h"
#include "common/alloc.h"
#include "common/errtext.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/wire.h"

#define TREE_FIELDS_V1 11
#define TREE_FIELDS 12
#define LINK_MAX_LEN (1u << 16)
#define PROGRESS_EVERY_US 200000

enum { T_FILE = 0, T_DIR = 1, T_LINK = 2, T_FIFO = 3, T_CHR = 4, T_BLK = 5 };

/* ---- a set of paths or ids: uthash ------------------------------------------------------ */

/* uthash allocates through common/alloc (so tests can fail it), and a
 * failed allocation fails the one insertion instead of exiting. The flag
 * is per thread: backups and restores run on the threadpool. */
static _Thread_local bool keyset_oomed;
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (keyset_oomed = true)
#define uthash_malloc(sz) alloc_bytes(sz)
#define uthash_free(ptr, sz) alloc_free(ptr)
#include <uthash.h>

struct keyset_entry {
	const void *key; /* borrowed */
	const void *val;
	UT_hash_handle hh;
};

struct keyset {
	struct keyset_entry *head;
};

static void keyset_free(struct keyset *s)
{
	struct keyset_entry *e, *tmp;
	HASH_ITER(hh, s->head, e, tmp) {
		HASH_DEL(s->head, e);
		alloc_free(e);
	}
	s->head = NULL;
}

/* Keys are borrowed: they must outlive the set. 0 or -ENOMEM (the set is
 * unchanged then). */
EW_MUST_CHECK
static int keyset_put(struct keyset *s, const void *k, size_t n,
		      const void *val)
{
	struct keyset_entry *e;
	HASH_FIND(hh, s->head, k, n, e);
	if (e != NULL) {
		e->val = val;
		return 0;
	}
	if ((e = alloc_bytes(sizeof(*e))) == NULL)
		return -ENOMEM;
	e->key = k;
	e->val = val;
	keyset_oomed = false;
	HASH_ADD_KEYPTR(hh, s->head, e->key, n, e);
	if (keyset_oomed) {
		alloc_free(e);
		return -ENOMEM;
	}
	return 0;
}

static const void *keyset_get(const struct keyset *s, const void *k, size_t n,
			      bool *found)
{
	struct keyset_entry *e;
	HASH_FIND(hh, s->head, k, n, e);
	*found = e != NULL;
	return e ? e->val : NULL;
}

static size_t keyset_count(const struct keyset *s)
{
	return HASH_COUNT(s->head);
}

/* For sets whose values the set owns (alloc'd): frees them, then the set. */
static void keyset_free_with_vals(struct keyset *s)
{
	struct keyset_entry *e, *tmp;
	HASH_ITER(hh, s->head, e, tmp) {
		HASH_DEL(s->head, e);
		alloc_free((void *)e->val);
		alloc_free(e);
	}
}

/* ---- snapshots and trees ---------------------------------------------------------------- */

struct snapshot {
	msgpack_unpacked meta;	/* the snapshot file */
	void *meta_buf;
	msgpack_unpacked tree;	/* the tree, once loaded */
	void *tree_buf;
	const msgpack_object *entries; /* array */
	int64_t time_us;
};

static void snapshot_free(struct snapshot *s)
{
	msgpack_unpacked_destroy(&s->meta);
	msgpack_unpacked_destroy(&s->tree);
	alloc_free(s->meta_buf);
	alloc_free(s->tree_buf);
	memset(s, 0, sizeof(*s));
}

static int snapshot_load(struct repo *r, const char *id, struct snapshot *s,
			 char *err, size_t errlen)
{
	size_t len;
	memset(s, 0, sizeof(*s));
	msgpack_unpacked_init(&s->meta);
	msgpack_unpacked_init(&s->tree);
	int rc = repo_snapshot_read(r, id, &s->meta_buf, &len, err, errlen);
	if (rc != 0)
		return rc;
	uint64_t t = 0;
	if (wire_check_msgpack(s->meta_buf, len, 8) != 0 ||
	    msgpack_unpack_next(&s->meta, s->meta_buf, len, NULL) !=
		    MSGPACK_UNPACK_SUCCESS ||
	    s->meta.data.type != MSGPACK_OBJECT_MAP ||
	    wire_get_u64(&s->meta.data, "time", &t) != 0)
		return errtext_set(-EBADMSG, err, errlen, "snapshot %.16s is damaged", id);
	s->time_us = (int64_t)t;
	return 0;
}

/* Reassembles and decodes the tree from its chunks. */
static int tree_load(struct repo *r, struct snapshot *s, const char *id,
		     char *err, size_t errlen)
{
	const msgpack_object *ids = wire_map_get(&s->meta.data, "tree");
	if (ids == NULL || ids->type != MSGPACK_OBJECT_ARRAY)
		return errtext_set(-EBADMSG, err, errlen, "snapshot %.16s has no tree", id);
	size_t total = 0, cap = 0;
	char *buf = NULL;
	for (uint32_t i = 0; i < ids->via.array.size; i++) {
		const msgpack_object *c = &ids->via.array.ptr[i];
		void *data;
		size_t len;
		if (c->type != MSGPACK_OBJECT_BIN || c->via.bin.size != REPO_ID_LEN) {
			alloc_free(buf);
			return errtext_set(-EBADMSG, err, errlen,
				    "snapshot %.16s: bad tree id", id);
		}
		int rc = repo_get(r, (const uint8_t *)c->via.bin.ptr, &data, &len,
				  err, errlen);
		if (rc != 0) {
			alloc_free(buf);
			return rc;
		}
		if (total + len > cap) {
			cap = (total + len) * 2;
			char *p = alloc_resize(buf, cap);
			if (p == NULL) {
				alloc_free(data);
				alloc_free(buf);
				return -ENOMEM;
			}
			buf = p;
		}
		memcpy(buf + total, data, len);
		total += len;
		alloc_free(data);
	}
	s->tree_buf = buf;
	if (total == 0 || wire_check_msgpack(buf, total, 6) != 0 ||
	    msgpack_unpack_next(&s->tree, buf, total, NULL) !=
		    MSGPACK_UNPACK_SUCCESS ||
	    s->tree.data.type != MSGPACK_OBJECT_ARRAY)
		return errtext_set(-EBADMSG, err, errlen, "snapshot %.16s: tree damaged",
			    id);
	s->entries = &s->tree.data;
	return 0;
}

/* A tree entry, read without trusting it. */
struct entry {
	const char *path;
	size_t path_len;
	unsigned type;
	uint64_t mode, uid, gid, size, ino;
	int64_t mtime_ns, ctime_ns;
	const msgpack_object *extra;  /* sha256 (file) or target (link) */
	const msgpack_object *chunks; /* array of bin32 */
	/* Version 2 (field 11, all optional). */
	uint64_t rdev;		      /* fifo and device nodes */
	const msgpack_object *xattrs; /* array of [name, value] */
	const char *link;	      /* a hard link to this earlier path */
	size_t link_len;
	const msgpack_object *data;   /* a sparse file's data extents */
};

static int64_t as_i64(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? o->via.i64
							  : (int64_t)o->via.u64;
}

/* Field 11 of a version 2 entry: a map whose keys are all optional, so
 * a later version can add keys ("win" is kept for Windows) that this
 * reader skips. */
static bool entry_read_more(const msgpack_object *m, struct entry *e)
{
	if (m->type == MSGPACK_OBJECT_NIL)
		return true;
	if (m->type != MSGPACK_OBJECT_MAP)
		return false;
	const msgpack_object *o;
	if ((o = wire_map_get(m, "rdev")) != NULL) {
		if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return false;
		e->rdev = o->via.u64;
	}
	if ((o = wire_map_get(m, "xattr")) != NULL) {
		if (o->type != MSGPACK_OBJECT_ARRAY)
			return false;
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			const msgpack_object *x = &o->via.array.ptr[i];
			if (x->type != MSGPACK_OBJECT_ARRAY || x->via.array.size != 2 ||
			    x->via.array.ptr[0].type != MSGPACK_OBJECT_STR ||
			    x->via.array.ptr[0].via.str.size == 0 ||
			    x->via.array.ptr[0].via.str.size > 255 ||
			    memchr(x->via.array.ptr[0].via.str.ptr, '\0',
				   x->via.array.ptr[0].via.str.size) ||
			    x->via.array.ptr[1].type != MSGPACK_OBJECT_BIN)
				return false;
		}
		e->xattrs = o;
	}
	if ((o = wire_map_get(m, "link")) != NULL) {
		if (o->type != MSGPACK_OBJECT_STR ||
		    memchr(o->via.str.ptr, '\0', o->via.str.size))
			return false;
		e->link = o->via.str.ptr;
		e->link_len = o->via.str.size;
	}
	if ((o = wire_map_get(m, "data")) != NULL) {
		if (o->type != MSGPACK_OBJECT_ARRAY)
			return false;
		uint64_t end = 0;
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			const msgpack_object *x = &o->via.array.ptr[i];
			if (x->type != MSGPACK_OBJECT_ARRAY || x->via.array.size != 2 ||
			    x->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
			    x->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
				return false;
			uint64_t off = x->via.array.ptr[0].via.u64,
				 len = x->via.array.ptr[1].via.u64;
			/* In order, not overlapping, inside the file. */
			if (off < end || len > e->size || off > e->size - len)
				return false;
			end = off + len;
		}
		e->data = o;
	}
	return true;
}

static bool entry_read(const msgpack_object *o, struct entry *e)
{
	if (o->type != MSGPACK_OBJECT_ARRAY ||
	    (o->via.array.size != TREE_FIELDS_V1 &&
	     o->via.array.size != TREE_FIELDS))
		return false;
	const msgpack_object *f = o->via.array.ptr;
	if (f[0].type != MSGPACK_OBJECT_STR || f[10].type != MSGPACK_OBJECT_ARRAY)
		return false;
	for (int i = 1; i <= 8; i++)
		if (f[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
		    f[i].type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
			return false;
	memset(e, 0, sizeof(*e));
	e->path = f[0].via.str.ptr;
	e->path_len = f[0].via.str.size;
	e->type = (unsigned)f[1].via.u64;
	e->mode = f[2].via.u64;
	e->uid = f[3].via.u64;
	e->gid = f[4].via.u64;
	e->mtime_ns = as_i64(&f[5]);
	e->size = f[6].via.u64;
	e->ino = f[7].via.u64;
	e->ctime_ns = as_i64(&f[8]);
	e->extra = &f[9];
	e->chunks = &f[10];
	for (uint32_t i = 0; i < e->chunks->via.array.size; i++)
		if (e->chunks->via.array.ptr[i].type != MSGPACK_OBJECT_BIN ||
		    e->chunks->via.array.ptr[i].via.bin.size != REPO_ID_LEN)
			return false;
	if (o->via.array.size == TREE_FIELDS && !entry_read_more(&f[11], e))
		return false;
	return e->type <= T_BLK && memchr(e->path, '\0', e->path_len) == NULL;
}

/* ---- run ---------------------------------------------------------------------------------- */

struct run {
	struct repo *r;
	const struct backup_run_options *o;
	struct backup_stats *st;
	msgpack_sbuffer tree;
	msgpack_packer pk;
	uint64_t nentries;
	struct keyset parent; /* path -> entry object of the parent tree */
	struct keyset inodes; /* (dev, ino) of files with links -> first path */
	struct backup_progress pr;
	int64_t last_progress_us;
	uint8_t *buf;
	/* The path of the entry being walked: it grows with the tree,
	 * there is no fixed limit. */
	char *path;
	size_t plen, pcap;
	char *err;
	size_t errlen;
};

/* A file with more than one link: the first path it was seen at. */
struct inode_rec {
	uint64_t key[2]; /* dev, ino: the keyset's key */
	char path[];
};

static void report_progress(struct run *run, bool force)
{
	int64_t now = timeutil_now_us();
	if (!run->o->progress ||
	    (!force && now - run->last_progress_us < PROGRESS_EVERY_US))
		return;
	run->last_progress_us = now;
	run->o->progress(run->o->arg, &run->pr);
}

static bool excluded(const struct backup_run_options *o, const char *path)
{
	for (size_t i = 0; i < o->nexcludes; i++) {
		size_t n = strlen(o->excludes[i]);
		if (strncmp(path, o->excludes[i], n) == 0 &&
		    (path[n] == '\0' || path[n] == '/'))
			return true;
	}
	return false;
}

static int path_push(struct run *run, const char *name, size_t *saved)
{
	size_t n = strlen(name);
	bool slash = run->plen > 0 && run->path[run->plen - 1] != '/';
	size_t need = run->plen + slash + n + 1;
	*saved = run->plen;
	if (need > run->pcap) {
		size_t cap = need * 2 > 4096 ? need * 2 : 4096;
		char *p = alloc_resize(run->path, cap);
		if (p == NULL)
			return -ENOMEM;
		run->path = p;
		run->pcap = cap;
	}
	if (slash)
		run->path[run->plen++] = '/';
	memcpy(run->path + run->plen, name, n + 1);
	run->plen += n;
	return 0;
}

static void path_pop(struct run *run, size_t saved)
{
	run->plen = saved;
	run->path[saved] = '\0';
}

/* Something under the protected paths that is not in the snapshot:
 * counted, logged, and the first few named in the run's stats (and so
 * in the backup.status event and the command's output). */
static void not_stored(struct run *run, const char *why)
{
	struct backup_stats *st = run->st;
	log_warn("backup: %s: %s (not stored)", run->path, why);
	if (st->errors < BACKUP_NOT_STORED_LIST) {
		char *dst = st->not_stored[st->errors];
		size_t cap = sizeof(st->not_stored[0]);
		if (run->plen < cap) {
			memcpy(dst, run->path, run->plen + 1);
		} else {
			/* The end of a long path says more than its start. */
			memcpy(dst, "...", 3);
			memcpy(dst + 3, run->path + run->plen - (cap - 4), cap - 4);
			dst[cap - 1] = '\0';
		}
		snprintf(st->not_stored_why[st->errors],
			 sizeof(st->not_stored_why[0]), "%s", why);
	}
	st->errors++;
}

static void pack_entry_head(struct run *run, unsigned type,
			    const struct stat *st)
{
	msgpack_packer *pk = &run->pk;
	msgpack_pack_array(pk, TREE_FIELDS);
	msgpack_pack_str(pk, run->plen);
	msgpack_pack_str_body(pk, run->path, run->plen);
	msgpack_pack_uint32(pk, type);
	msgpack_pack_uint32(pk, st->st_mode & 07777);
	msgpack_pack_uint32(pk, st->st_uid);
	msgpack_pack_uint32(pk, st->st_gid);
	msgpack_pack_int64(pk, (int64_t)st->st_mtim.tv_sec * 1000000000 +
				       st->st_mtim.tv_nsec);
	msgpack_pack_uint64(pk, type == T_FILE ? (uint64_t)st->st_size : 0);
	msgpack_pack_uint64(pk, st->st_ino);
	msgpack_pack_int64(pk, (int64_t)st->st_ctim.tv_sec * 1000000000 +
				       st->st_ctim.tv_nsec);
	run->nentries++;
}

/* Version 2's field 11. Each part is optional: NULL or 0 leaves it out. */
struct more {
	bool has_rdev;
	uint64_t rdev;
	const msgpack_sbuffer *xattrs; /* packed [name, value] pairs */
	uint32_t nxattrs;
	const msgpack_object *xattrs_prev; /* carried over */
	const char *link;
	const uint64_t (*ext)[2]; /* data extents of a sparse file */
	size_t next;
	const msgpack_object *ext_prev;
};

static void pack_more(struct run *run, const struct more *m)
{
	msgpack_packer *pk = &run->pk;
	uint32_t n = m->has_rdev + (m->nxattrs > 0 || m->xattrs_prev) +
		     (m->link != NULL) + (m->ext != NULL || m->ext_prev);
	msgpack_pack_map(pk, n);
	if (m->has_rdev)
		wire_pack_kv_u64(pk, "rdev", m->rdev);
	if (m->xattrs_prev) {
		wire_pack_str(pk, "xattr");
		msgpack_pack_object(pk, *m->xattrs_prev);
	} else if (m->nxattrs > 0) {
		wire_pack_str(pk, "xattr");
		msgpack_pack_array(pk, m->nxattrs);
		msgpack_sbuffer_write(&run->tree, m->xattrs->data, m->xattrs->size);
	}
	if (m->link)
		wire_pack_kv_str(pk, "link", m->link);
	if (m->ext_prev) {
		wire_pack_str(pk, "data");
		msgpack_pack_object(pk, *m->ext_prev);
	} else if (m->ext) {
		wire_pack_str(pk, "data");
		msgpack_pack_array(pk, (uint32_t)m->next);
		for (size_t i = 0; i < m->next; i++) {
			msgpack_pack_array(pk, 2);
			msgpack_pack_uint64(pk, m->ext[i][0]);
			msgpack_pack_uint64(pk, m->ext[i][1]);
		}
	}
}

/* Extended attributes (user.*, security.*, trusted.* and the POSIX ACLs
 * in system.posix_acl_*) of what fd is open on, packed as [name, value]
 * pairs. An attribute in the user or ACL namespaces that cannot be
 * read is an error; a security.* one the kernel hides is not. */
static int read_xattrs(struct run *run, int fd, msgpack_sbuffer *out,
		       uint32_t *n)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	*n = 0;
	ssize_t len = flistxattr(fd, NULL, 0);
	if (len <= 0)
		return len < 0 && errno != ENOTSUP && errno != ENODATA ? -errno : 0;
	char *names = alloc_bytes((size_t)len + 1);
	if (names == NULL)
		return -ENOMEM;
	len = flistxattr(fd, names, (size_t)len);
	int rc = len < 0 ? -errno : 0;
	void *val = NULL;
	for (ssize_t off = 0; rc == 0 && off < len;
	     off += (ssize_t)strlen(names + off) + 1) {
		const char *name = names + off;
		ssize_t vlen = fgetxattr(fd, name, NULL, 0);
		void *p = vlen >= 0 ? alloc_resize(val, (size_t)vlen + 1) : NULL;
		if (p)
			val = p;
		if (p)
			vlen = fgetxattr(fd, name, val, (size_t)vlen);
		if (vlen < 0 || p == NULL) {
			if (strncmp(name, "user.", 5) == 0 ||
			    strncmp(name, "system.posix_acl_", 17) == 0) {
				char why[300];
				snprintf(why, sizeof(why),
					 "the attribute %.255s cannot be read", name);
				not_stored(run, why);
			}
			continue;
		}
		msgpack_pack_array(&pk, 2);
		wire_pack_str(&pk, name);
		msgpack_pack_bin(&pk, (size_t)vlen);
		msgpack_pack_bin_body(&pk, val, (size_t)vlen);
		(*n)++;
	}
	alloc_free(val);
	alloc_free(names);
	return rc;
}

/* The parent's entry for an unchanged file, when all its chunks are
 * still in the repository. */
static const msgpack_object *unchanged(struct run *run, const struct stat *st,
				       struct entry *e)
{
	bool found;
	const msgpack_object *o = keyset_get(&run->parent, run->path, run->plen,
					     &found);
	if (!found || !entry_read(o, e) || e->type != T_FILE || e->link ||
	    e->size != (uint64_t)st->st_size || e->ino != st->st_ino ||
	    e->mtime_ns != (int64_t)st->st_mtim.tv_sec * 1000000000 +
				   st->st_mtim.tv_nsec ||
	    e->ctime_ns != (int64_t)st->st_ctim.tv_sec * 1000000000 +
				   st->st_ctim.tv_nsec ||
	    e->extra->type != MSGPACK_OBJECT_BIN)
		return NULL;
	for (uint32_t i = 0; i < e->chunks->via.array.size; i++)
		if (!repo_has(run->r,
			      (const uint8_t *)e->chunks->via.array.ptr[i].via.bin.ptr))
			return NULL;
	return o;
}

/* Where a file's data is: [offset, length] extents found with
 * SEEK_DATA/SEEK_HOLE, only for a file with fewer blocks than bytes.
 * *ext NULL: read it whole. */
static int find_extents(int fd, const struct stat *st, uint64_t (**ext)[2],
			size_t *n)
{
	*ext = NULL;
	*n = 0;
	if ((uint64_t)st->st_blocks * 512 >= (uint64_t)st->st_size)
		return 0;
	size_t cap = 0;
	off_t pos = 0;
	while (pos < st->st_size) {
		off_t d = lseek(fd, pos, SEEK_DATA);
		if (d < 0 && errno == ENXIO)
			break;
		if (d < 0)
			goto whole;
		off_t h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			goto whole;
		if (h > st->st_size)
			h = st->st_size;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			void *p = alloc_resize(*ext, cap * sizeof(**ext));
			if (p == NULL) {
				alloc_free(*ext);
				*ext = NULL;
				return -ENOMEM;
			}
			*ext = p;
		}
		(*ext)[*n][0] = (uint64_t)d;
		(*ext)[*n][1] = (uint64_t)(h - d);
		(*n)++;
		pos = h;
	}
	if (*ext == NULL) /* all hole: one empty extent list */
		*ext = alloc_zeroed(1, sizeof(**ext));
	lseek(fd, 0, SEEK_SET);
	return *ext ? 0 : -ENOMEM;
whole:
	/* No SEEK_DATA here: read it whole. */
	alloc_free(*ext);
	*ext = NULL;
	*n = 0;
	lseek(fd, 0, SEEK_SET);
	return 0;
}

/* The bytes of a file in order: everything, or the data extents. */
struct source {
	int fd;
	const uint64_t (*ext)[2];
	size_t next, cur;
	uint64_t in_cur; /* bytes of ext[cur] already read */
};

static ssize_t source_fill(struct source *s, uint8_t *buf, size_t cap)
{
	size_t got = 0;
	while (got < cap) {
		ssize_t n;
		if (s->ext) {
			if (s->cur == s->next)
				break;
			uint64_t left = s->ext[s->cur][1] - s->in_cur;
			size_t want = cap - got < left ? cap - got : (size_t)left;
			n = want ? pread(s->fd, buf + got, want,
					 (off_t)(s->ext[s->cur][0] + s->in_cur))
				 : 0;
			if (n == 0 && want) /* shrunk under us */
				return -ENODATA;
			if (n >= 0) {
				s->in_cur += (uint64_t)n;
				if (s->in_cur == s->ext[s->cur][1]) {
					s->cur++;
					s->in_cur = 0;
				}
			}
		} else {
			n = read(s->fd, buf + got, cap - got);
			if (n == 0)
				break;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Reads fd once: chunks stored, their ids into ids, the SHA-256 of what
 * was read into digest and its length into total. */
static int read_chunks(struct run *run, struct source *src,
		       msgpack_sbuffer *ids, uint32_t *nids, uint8_t digest[32],
		       uint64_t *total)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md == NULL)
		return -ENOMEM;
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	size_t avail = 0;
	bool eof = false;
	int rc = 0;
	*total = 0;
	*nids = 0;
	while (rc == 0) {
		if (!eof && avail < CHUNK_MAX) {
			ssize_t n = source_fill(src, run->buf + avail,
						2 * CHUNK_MAX - avail);
			if (n < 0) {
				rc = (int)n;
				break;
			}
			eof = (size_t)n < 2 * CHUNK_MAX - avail;
			avail += (size_t)n;
		}
		if (avail == 0)
			break;
		size_t cut = chunker_next(repo_chunker(run->r), run->buf, avail);
		uint8_t id[REPO_ID_LEN];
		size_t added = 0;
		repo_chunk_id(run->r, run->buf, cut, id);
		EVP_DigestUpdate(md, run->buf, cut);
		bool had = repo_has(run->r, id);
		rc = repo_put(run->r, id, run->buf, cut, &added, run->err,
			      run->errlen);
		if (rc != 0)
			break;
		if (had) {
			run->st->chunks_reused++;
		} else {
			run->st->chunks_new++;
			run->st->added_raw += cut;
			run->st->added_stored += added;
		}
		msgpack_sbuffer_write(ids, "\xc4\x20", 2);
		msgpack_sbuffer_write(ids, (const char *)id, REPO_ID_LEN);
		(*nids)++;
		*total += cut;
		run->pr.bytes_done += cut;
		memmove(run->buf, run->buf + cut, avail - cut);
		avail -= cut;
		report_progress(run, false);
	}
	unsigned dlen = 0;
	EVP_DigestFinal_ex(md, digest, &dlen);
	EVP_MD_CTX_free(md);
	return rc;
}

static bool same_content_stat(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_ino == b->st_ino &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Errors of the repository end the run; anything else costs one file. */
static bool repo_error(int rc)
{
	return rc == -ENOSPC || rc == -EDQUOT || rc == -ENOMEM || rc == -EROFS;
}

/* The first path of a file with more links, once it is in the tree:
 * the later paths become links to it. */
static int remember_inode(struct run *run, const struct stat *lst)
{
	if (lst->st_nlink < 2)
		return 0;
	struct inode_rec *rec = alloc_bytes(sizeof(*rec) + run->plen + 1);
	if (rec == NULL)
		return -ENOMEM;
	rec->key[0] = lst->st_dev;
	rec->key[1] = lst->st_ino;
	memcpy(rec->path, run->path, run->plen + 1);
	if (keyset_put(&run->inodes, rec->key, sizeof(rec->key), rec) != 0) {
		alloc_free(rec);
		return -ENOMEM;
	}
	return 0;
}

static int backup_file(struct run *run, int dirfd, const char *name,
		       const struct stat *lst)
{
	struct more more = {0};
	struct entry prev_e;
	bool found = false;
	struct inode_rec *rec = NULL;
	if (lst->st_nlink > 1) {
		uint64_t key[2] = {lst->st_dev, lst->st_ino};
		rec = (struct inode_rec *)keyset_get(&run->inodes, key, sizeof(key),
						     &found);
		if (found) {
			/* A hard link to a file already in this snapshot: its
			 * path, no data. */
			pack_entry_head(run, T_FILE, lst);
			msgpack_pack_nil(&run->pk);
			msgpack_pack_array(&run->pk, 0);
			more.link = rec->path;
			pack_more(run, &more);
			run->st->files++;
			run->st->hardlinks++;
			run->pr.files_done++;
			return 0;
		}
	}
	const msgpack_object *prev = unchanged(run, lst, &prev_e);
	if (prev) {
		/* Carried over as it was: same chunks, same hash, same
		 * attributes (changing one changes the ctime). */
		pack_entry_head(run, T_FILE, lst);
		msgpack_pack_object(&run->pk, *prev_e.extra);
		msgpack_pack_object(&run->pk, *prev_e.chunks);
		more.xattrs_prev = prev_e.xattrs;
		more.ext_prev = prev_e.data;
		pack_more(run, &more);
		run->st->files++;
		run->st->files_unchanged++;
		run->st->bytes += (uint64_t)lst->st_size;
		run->pr.files_done++;
		run->pr.bytes_done += (uint64_t)lst->st_size;
		return remember_inode(run, lst);
	}
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		not_stored(run, repo_strerror(-errno));
		return 0;
	}
	msgpack_sbuffer ids, xa;
	msgpack_sbuffer_init(&ids);
	msgpack_sbuffer_init(&xa);
	uint64_t(*ext)[2] = NULL;
	size_t next = 0;
	uint32_t nids = 0, nxa = 0;
	uint64_t total = 0;
	uint8_t digest[32];
	struct stat st, after;
	int rc = fstat(fd, &st) == 0 ? 0 : -errno;
	bool stable = false;
	/* Read twice at most: a file that changes during both reads is
	 * reported, never stored as a mix of two versions. */
	for (int attempt = 0; rc == 0 && attempt < 2 && !stable; attempt++) {
		ids.size = 0;
		alloc_free(ext);
		if (attempt > 0 && (lseek(fd, 0, SEEK_SET) != 0 ||
				    fstat(fd, &st) != 0)) {
			rc = -errno;
			break;
		}
		rc = find_extents(fd, &st, &ext, &next);
		struct source src = {fd, (const uint64_t(*)[2])ext, next, 0, 0};
		if (rc == 0)
			rc = read_chunks(run, &src, &ids, &nids, digest, &total);
		if (rc == 0 && fstat(fd, &after) != 0)
			rc = -errno;
		stable = rc == 0 && same_content_stat(&st, &after) &&
			 (ext != NULL || total == (uint64_t)st.st_size);
		if (rc == -ENODATA) /* a sparse file shrank */
			rc = 0;
	}
	if (rc == 0 && stable)
		rc = read_xattrs(run, fd, &xa, &nxa);
	close(fd);
	if (rc == 0 && !stable) {
		not_stored(run, "changed during backup (read twice, it changed "
				"both times)");
	} else if (rc != 0 && !repo_error(rc)) {
		not_stored(run, repo_strerror(rc));
		rc = 0;
	} else if (rc == 0) {
		pack_entry_head(run, T_FILE, &st);
		msgpack_pack_bin(&run->pk, 32);
		msgpack_pack_bin_body(&run->pk, digest, 32);
		msgpack_pack_array(&run->pk, nids);
		msgpack_sbuffer_write(&run->tree, ids.data, ids.size);
		more.xattrs = &xa;
		more.nxattrs = nxa;
		more.ext = (const uint64_t(*)[2])ext;
		more.next = next;
		pack_more(run, &more);
		run->st->files++;
		/* A sparse file counts its size, as when carried over. */
		run->st->bytes += ext ? (uint64_t)st.st_size : total;
		run->st->bytes_read += total;
		run->pr.files_done++;
		rc = remember_inode(run, &st);
	}
	alloc_free(ext);
	msgpack_sbuffer_destroy(&xa);
	msgpack_sbuffer_destroy(&ids);
	return rc;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in a folder, sorted; *names: free each and the array. */
static int list_dir(int fd, char ***names, size_t *n)
{
	int dfd = dup(fd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	size_t cap = 0;
	*names = NULL;
	*n = 0;
	if (d == NULL) {
		int rc = -errno;
		if (dfd >= 0)
			close(dfd);
		return rc;
	}
	struct dirent *de;
	int rc = 0;
	errno = 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 32;
			void *p = alloc_resize(*names, cap * sizeof(char *));
			if (p == NULL) {
				rc = -ENOMEM;
				break;
			}
			*names = p;
		}
		if (((*names)[*n] = alloc_strndup(de->d_name,
						  strlen(de->d_name))) == NULL)
			rc = -ENOMEM;
		else
			(*n)++;
		errno = 0;
	}
	if (rc == 0 && errno != 0)
		rc = -errno;
	closedir(d);
	if (*n)
		qsort(*names, *n, sizeof(char *), cmp_names);
	return rc;
}

static int backup_symlink(struct run *run, int dirfd, const char *name,
			  const struct stat *st)
{
	size_t cap = (size_t)st->st_size + 2 > 256 ? (size_t)st->st_size + 2 : 256;
	if (cap > LINK_MAX_LEN) {
		not_stored(run, "the link's target is too long");
		return 0;
	}
	char *target = alloc_bytes(cap);
	if (target == NULL)
		return -ENOMEM;
	ssize_t n = readlinkat(dirfd, name, target, cap);
	if (n < 0 || (size_t)n >= cap) {
		not_stored(run, n < 0 ? repo_strerror(-errno)
				      : "the link changed during backup");
		alloc_free(target);
		return 0;
	}
	pack_entry_head(run, T_LINK, st);
	msgpack_pack_str(&run->pk, (size_t)n);
	msgpack_pack_str_body(&run->pk, target, (size_t)n);
	msgpack_pack_array(&run->pk, 0);
	msgpack_pack_map(&run->pk, 0);
	alloc_free(target);
	run->st->links++;
	return 0;
}

/* One entry: dirfd and name (the root: AT_FDCWD and its path), its
 * full path in run->path. Folders are walked through their fd, so
 * neither depth nor path length is limited by a buffer. */
static int walk(struct run *run, int dirfd, const char *name, bool count_only)
{
	struct stat st;
	if (excluded(run->o, run->path))
		return 0;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (!count_only)
			not_stored(run, repo_strerror(-errno));
		return 0;
	}
	if (count_only) {
		if (S_ISREG(st.st_mode)) {
			run->pr.files_total++;
			run->pr.bytes_total += (uint64_t)st.st_size;
		}
		if (!S_ISDIR(st.st_mode))
			return 0;
	} else if (S_ISREG(st.st_mode)) {
		return backup_file(run, dirfd, name, &st);
	} else if (S_ISLNK(st.st_mode)) {
		return backup_symlink(run, dirfd, name, &st);
	} else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) ||
		   S_ISBLK(st.st_mode)) {
		struct more more = {.has_rdev = true, .rdev = st.st_rdev};
		pack_entry_head(run,
				S_ISFIFO(st.st_mode)  ? T_FIFO
				: S_ISCHR(st.st_mode) ? T_CHR
						      : T_BLK,
				&st);
		msgpack_pack_nil(&run->pk);
		msgpack_pack_array(&run->pk, 0);
		pack_more(run, &more);
		run->st->specials++;
		return 0;
	} else if (S_ISSOCK(st.st_mode)) {
		/* A socket is a name for a live process's endpoint: nothing
		 * to restore. Skipped and counted, as restic does. */
		run->st->sockets_skipped++;
		return 0;
	} else if (!S_ISDIR(st.st_mode)) {
		not_stored(run, "a file of unknown type");
		return 0;
	}
	int fd = openat(dirfd, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc = 0;
	if (!count_only) {
		struct more more = {0};
		msgpack_sbuffer xa;
		msgpack_sbuffer_init(&xa);
		if (fd >= 0)
			rc = read_xattrs(run, fd, &xa, &more.nxattrs);
		more.xattrs = &xa;
		pack_entry_head(run, T_DIR, &st);
		msgpack_pack_nil(&run->pk);
		msgpack_pack_array(&run->pk, 0);
		pack_more(run, &more);
		msgpack_sbuffer_destroy(&xa);
		run->st->dirs++;
		if (fd < 0)
			not_stored(run, repo_strerror(-errno));
		if (rc != 0 && !repo_error(rc)) {
			not_stored(run, repo_strerror(rc));
			rc = 0;
		}
	}
	if (fd < 0 || rc != 0) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	char **names;
	size_t n;
	int lrc = list_dir(fd, &names, &n);
	if (lrc != 0 && !count_only)
		not_stored(run, lrc == -ENOMEM ? "out of memory listing the folder"
					       : repo_strerror(lrc));
	for (size_t i = 0; i < n; i++) {
		size_t saved;
		if (rc == 0 && (rc = path_push(run, names[i], &saved)) == 0) {
			rc = walk(run, fd, names[i], count_only);
			path_pop(run, saved);
		}
		alloc_free(names[i]);
	}
	alloc_free(names);
	close(fd);
	return rc;
}

static int walk_root(struct run *run, const char *root, bool count_only)
{
	size_t saved;
	run->plen = 0;
	if (run->path)
		run->path[0] = '\0';
	int rc = path_push(run, root, &saved);
	if (rc == 0)
		rc = walk(run, AT_FDCWD, root, count_only);
	return rc;
}

/* The newest snapshot of the same host and paths: the one whose
 * unchanged files need not be read again. */
static int find_parent(struct repo *r, const struct backup_run_options *o,
		       char *parent_id, struct snapshot *parent)
{
	char(*ids)[2 * REPO_ID_LEN + 1] = NULL;
	size_t n = 0;
	int64_t best = -1;
	char want[512] = "", err[200];
	for (size_t i = 0; i < o->npaths; i++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s",
			 i ? "\n" : "", o->paths[i]);
	parent_id[0] = '\0';
	if (repo_snapshot_ids(r, &ids, &n) != 0)
		return -ENOENT;
	for (size_t i = 0; i < n; i++) {
		struct snapshot s;
		char host[64] = "", paths[512] = "";
		if (snapshot_load(r, ids[i], &s, err, sizeof(err)) == 0) {
			wire_get_str(&s.meta.data, "host", host, sizeof(host));
			wire_get_str(&s.meta.data, "paths_key", paths, sizeof(paths));
			if (strcmp(host, o->host) == 0 && strcmp(paths, want) == 0 &&
			    s.time_us > best) {
				best = s.time_us;
				snprintf(parent_id, 2 * REPO_ID_LEN + 1, "%s", ids[i]);
			}
		}
		snapshot_free(&s);
	}
	alloc_free(ids);
	if (parent_id[0] == '\0')
		return -ENOENT;
	if (snapshot_load(r, parent_id, parent, err, sizeof(err)) != 0 ||
	    tree_load(r, parent, parent_id, err, sizeof(err)) != 0) {
		log_warn("backup: the previous snapshot cannot be read (%s); "
			 "every file is read again", err);
		snapshot_free(parent);
		return -EBADMSG;
	}
	return 0;
}

/* Stores a buffer (the tree) as chunks; their ids go to pk. */
static int put_chunked(struct run *run, const uint8_t *data, size_t len,
		       msgpack_packer *pk)
{
	uint32_t n = 0;
	for (size_t off = 0; off < len; n++)
		off += chunker_next(repo_chunker(run->r), data + off, len - off);
	msgpack_pack_array(pk, n);
	for (size_t off = 0; off < len;) {
		size_t cut = chunker_next(repo_chunker(run->r), data + off,
					  len - off);
		uint8_t id[REPO_ID_LEN];
		size_t added;
		repo_chunk_id(run->r, data + off, cut, id);
		int rc = repo_put(run->r, id, data + off, cut, &added, run->err,
				  run->errlen);
		if (rc != 0)
			return rc;
		run->st->added_stored += added;
		msgpack_pack_bin(pk, REPO_ID_LEN);
		msgpack_pack_bin_body(pk, id, REPO_ID_LEN);
		off += cut;
	}
	return 0;
}

int backup_run(struct repo *r, const struct backup_run_options *o,
	       struct backup_stats *st, char *err, size_t errlen)
{
	struct run run = {.r = r, .o = o, .st = st, .err = err, .errlen = errlen};
	memset(st, 0, sizeof(*st));
	int64_t t0 = timeutil_now_us();
	for (size_t i = 0; i < o->npaths; i++)
		if (o->paths[i][0] != '/')
			return errtext_set(-EINVAL, err, errlen,
				    "%s: backup paths must be absolute",
				    o->paths[i]);
	/* A folder's fd stays open while its sub-folders are walked: as
	 * many fds as the tree is deep. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	run.buf = alloc_bytes(2 * CHUNK_MAX);
	if (run.buf == NULL)
		return errtext_set(-ENOMEM, err, errlen, "out of memory");
	char parent_id[2 * REPO_ID_LEN + 1];
	struct snapshot parent;
	bool have_parent = find_parent(r, o, parent_id, &parent) == 0;
	if (have_parent) {
		const msgpack_object *es = parent.entries;
		for (uint32_t i = 0; i < es->via.array.size; i++) {
			struct entry e;
			if (entry_read(&es->via.array.ptr[i], &e) &&
			    keyset_put(&run.parent, e.path, e.path_len,
				       &es->via.array.ptr[i]) != 0) {
				/* Without the whole map, a file missing from
				 * it would only be read again: correct, but
				 * say why the run is slow. */
				log_warn("backup: out of memory for the parent "
					 "snapshot's map: every file is read");
				keyset_free(&run.parent);
				break;
			}
		}
	}
	run.pr.started_us = t0;
	run.pr.phase = "scanning";
	for (size_t i = 0; i < o->npaths; i++)
		walk_root(&run, o->paths[i], true);
	run.pr.phase = "backing up";
	msgpack_sbuffer_init(&run.tree);
	msgpack_packer_init(&run.pk, &run.tree, msgpack_sbuffer_write);
	int rc = 0;
	for (size_t i = 0; i < o->npaths && rc == 0; i++)
		rc = walk_root(&run, o->paths[i], false);
	report_progress(&run, true);
	/* The tree: an array header in front of the entries. */
	msgpack_sbuffer tree;
	msgpack_packer tpk;
	msgpack_sbuffer_init(&tree);
	msgpack_packer_init(&tpk, &tree, msgpack_sbuffer_write);
	msgpack_pack_array(&tpk, (uint32_t)run.nentries);
	msgpack_sbuffer_write(&tree, run.tree.data, run.tree.size);
	msgpack_sbuffer_destroy(&run.tree);

	msgpack_sbuffer snap;
	msgpack_packer spk;
	msgpack_sbuffer_init(&snap);
	msgpack_packer_init(&spk, &snap, msgpack_sbuffer_write);
	char host[64], paths_key[512] = "";
	snprintf(host, sizeof(host), "%s", o->host);
	for (size_t i = 0; i < o->npaths; i++)
		snprintf(paths_key + strlen(paths_key),
			 sizeof(paths_key) - strlen(paths_key), "%s%s",
			 i ? "\n" : "", o->paths[i]);
	if (rc == 0) {
		msgpack_pack_map(&spk, 12);
		wire_pack_kv_u64(&spk, "v", 2);
		wire_pack_kv_u64(&spk, "time", (uint64_t)t0);
		wire_pack_kv_str(&spk, "host", host);
		wire_pack_kv_str(&spk, "paths_key", paths_key);
		wire_pack_str(&spk, "paths");
		msgpack_pack_array(&spk, (uint32_t)o->npaths);
		for (size_t i = 0; i < o->npaths; i++)
			wire_pack_str(&spk, o->paths[i]);
		wire_pack_kv_str(&spk, "parent", have_parent ? parent_id : "");
		wire_pack_kv_u64(&spk, "files", st->files);
		wire_pack_kv_u64(&spk, "dirs", st->dirs);
		wire_pack_kv_u64(&spk, "bytes", st->bytes);
		wire_pack_kv_u64(&spk, "added", st->added_stored);
		wire_pack_kv_u64(&spk, "errors", st->errors);
		wire_pack_str(&spk, "tree");
		/* The tree in packs of its own: a damaged data pack costs the
		 * files it holds, never the list of every file. */
		rc = repo_flush(r, err, errlen);
		if (rc == 0)
			rc = put_chunked(&run, (const uint8_t *)tree.data,
					 tree.size, &spk);
	}
	msgpack_sbuffer_destroy(&tree);
	/* Packs and their indexes before the snapshot that names them. */
	if (rc == 0)
		rc = repo_flush(r, err, errlen);
	if (rc == 0)
		rc = repo_snapshot_write(r, snap.data, snap.size, st->snapshot, err,
					 errlen);
	msgpack_sbuffer_destroy(&snap);
	if (have_parent)
		snapshot_free(&parent);
	keyset_free(&run.parent);
	keyset_free_with_vals(&run.inodes);
	alloc_free(run.path);
	alloc_free(run.buf);
	st->duration_us = timeutil_now_us() - t0;
	return rc;
}

/* ---- list and resolve -------------------------------------------------------------------- */

int backup_list(struct repo *r,
		void (*cb)(void *arg, const struct backup_snapshot_info *s),
		void *arg)
{
	return backup_list_all(r, cb, arg, false);
}

int backup_list_all(struct repo *r,
		    void (*cb)(void *arg, const struct backup_snapshot_info *s),
		    void *arg, bool with_damaged)
{
	char(*ids)[2 * REPO_ID_LEN + 1] = NULL;
	size_t n = 0;
	int rc = repo_snapshot_ids(r, &ids, &n);
	if (rc != 0)
		return rc;
	struct backup_snapshot_info *all = alloc_zeroed(n ? n : 1, sizeof(*all));
	size_t count = 0;
	for (size_t i = 0; all && i < n; i++) {
		struct snapshot s;
		char err[200];
		struct backup_snapshot_info *info = &all[count];
		if (snapshot_load(r, ids[i], &s, err, sizeof(err)) == 0) {
			snprintf(info->id, sizeof(info->id), "%s", ids[i]);
			info->time_us = s.time_us;
			wire_get_str(&s.meta.data, "host", info->host,
				     sizeof(info->host));
			wire_get_str(&s.meta.data, "paths_key", info->paths,
				     sizeof(info->paths));
			for (char *p = info->paths; *p; p++)
				if (*p == '\n')
					*p = ' ';
			wire_get_u64(&s.meta.data, "files", &info->files);
			wire_get_u64(&s.meta.data, "bytes", &info->bytes);
			wire_get_u64(&s.meta.data, "added", &info->added);
			count++;
		} else if (with_damaged) {
			/* Named, so that a damaged snapshot is never taken for
			 * no snapshot at all. */
			struct backup_snapshot_info d = {.damaged = true};
			snprintf(d.id, sizeof(d.id), "%s", ids[i]);
			snprintf(d.why, sizeof(d.why), "%s", err);
			cb(arg, &d);
		}
		snapshot_free(&s);
	}
	/* Oldest first. */
	for (size_t i = 1; i < count; i++)
		for (size_t j = i; j > 0 && all[j].time_us < all[j - 1].time_us; j--) {
			struct backup_snapshot_info t = all[j];
			all[j] = all[j - 1];
			all[j - 1] = t;
		}
	for (size_t i = 0; i < count; i++)
		cb(arg, &all[i]);
	alloc_free(all);
	alloc_free(ids);
	return (int)count;
}

struct resolve_state {
	const char *want;
	char found[2 * REPO_ID_LEN + 1];
	int matches;
	int64_t newest;
};

static void resolve_one(void *arg, const struct backup_snapshot_info *s)
{
	struct resolve_state *rs = arg;
	if (strcmp(rs->want, "latest") == 0) {
		if (s->time_us >= rs->newest) {
			rs->newest = s->time_us;
			snprintf(rs->found, sizeof(rs->found), "%s", s->id);
			rs->matches = 1;
		}
	} else if (strncmp(s->id, rs->want, strlen(rs->want)) == 0) {
		snprintf(rs->found, sizeof(rs->found), "%s", s->id);
		rs->matches++;
	}
}

int backup_resolve(struct repo *r, const char *which,
		   char id[2 * REPO_ID_LEN + 1], char *err, size_t errlen)
{
	struct resolve_state rs = {.want = which, .newest = -1};
	if (which == NULL || which[0] == '\0')
		return errtext_set(-EINVAL, err, errlen, "no snapshot given");
	int rc = backup_list(r, resolve_one, &rs); /* a count, or -errno */
	if (rc < 0)
		return errtext_set(rc, err, errlen, "cannot list snapshots: %s",
				   uv_strerror(rc));
	if (rs.matches == 0)
		return errtext_set(-ENOENT, err, errlen, "no snapshot '%s'", which);
	if (rs.matches > 1)
		return errtext_set(-EINVAL, err, errlen,
			    "'%s' names %d snapshots; give more of the id", which,
			    rs.matches);
	snprintf(id, 2 * REPO_ID_LEN + 1, "%s", rs.found);
	return 0;
}

/* ---- verify ------------------------------------------------------------------------------- */

struct verify_state {
	struct repo *r;
	struct keyset bad; /* ids of damaged chunks */
	uint8_t *bad_ids;
	size_t nbad, badcap;
	struct backup_verify_report *rep;
	backup_progress_fn progress;
	void *parg;
	struct backup_progress pr;
	int64_t last;
};

static void check_blob(void *arg, const uint8_t *id,
		       const struct repo_blob_ref *ref)
{
	struct verify_state *vs = arg;
	void *data;
	size_t len;
	char err[200];
	vs->rep->blobs++;
	vs->pr.files_done++;
	vs->pr.bytes_done += ref->length;
	if (repo_get(vs->r, id, &data, &len, err, sizeof(err)) == 0) {
		alloc_free(data);
	} else if (vs->nbad < vs->badcap) {
		memcpy(vs->bad_ids + vs->nbad * REPO_ID_LEN, id, REPO_ID_LEN);
		vs->nbad++;
		vs->rep->bad_blobs++;
	}
	int64_t now = timeutil_now_us();
	if (vs->progress && now - vs->last > PROGRESS_EVERY_US) {
		vs->last = now;
		vs->progress(vs->parg, &vs->pr);
	}
}

static void count_blob(void *arg, const uint8_t *id,
		       const struct repo_blob_ref *ref)
{
	struct verify_state *vs = arg;
	(void)id;
	vs->pr.files_total++;
	vs->pr.bytes_total += ref->length;
}

struct pack_problem {
	void (*cb)(void *arg, const char *snapshot, const char *path,
		   const char *what);
	void *arg;
	int n;
};

static void pack_problem_cb(void *arg, const char *pack, const char *what)
{
	struct pack_problem *pp = arg;
	char line[200];
	snprintf(line, sizeof(line), "pack %.16s: %s", pack, what);
	if (pp->cb)
		pp->cb(pp->arg, "", "", line);
	pp->n++;
}

int backup_verify(struct repo *r, bool read_data,
		  void (*cb)(void *arg, const char *snapshot, const char *path,
			     const char *what),
		  void *arg, backup_progress_fn progress, void *parg,
		  struct backup_verify_report *out, char *err, size_t errlen)
{
	struct verify_state vs = {.r = r, .rep = out, .progress = progress,
				  .parg = parg};
	memset(out, 0, sizeof(*out));
	vs.pr.started_us = timeutil_now_us();
	if (read_data) {
		vs.pr.phase = "reading every chunk";
		repo_each_blob(r, count_blob, &vs);
		vs.badcap = 100000;
		vs.bad_ids = alloc_bytes(vs.badcap * REPO_ID_LEN);
		if (vs.bad_ids == NULL)
			return errtext_set(-ENOMEM, err, errlen, "out of memory");
		repo_each_blob(r, check_blob, &vs);
		/* A bad chunk left out of the set would pass as sound. */
		for (size_t i = 0; i < vs.nbad; i++) {
			if (keyset_put(&vs.bad, vs.bad_ids + i * REPO_ID_LEN,
				       REPO_ID_LEN, NULL) != 0) {
				keyset_free(&vs.bad);
				alloc_free(vs.bad_ids);
				return errtext_set(-ENOMEM, err, errlen,
						   "out of memory");
			}
		}
	}
	/* Every pack the index names is there, whole; every index file
	 * opened. */
	struct pack_problem pp = {cb, arg, 0};
	int nbad = repo_check_packs(r, pack_problem_cb, &pp);
	if (nbad < 0)
		return errtext_set(nbad, err, errlen, "out of memory");
	out->bad_packs = (uint64_t)nbad;
	for (size_t i = 0; i < repo_damaged_index_count(r); i++) {
		char what[200];
		snprintf(what, sizeof(what), "index %.16s is damaged; run "
			 "'backup repair'", repo_damaged_index(r, i));
		if (cb)
			cb(arg, "", "", what);
		out->bad_packs++;
	}
	char(*ids)[2 * REPO_ID_LEN + 1] = NULL;
	size_t n = 0;
	if (repo_snapshot_ids(r, &ids, &n) != 0) {
		/* Unlistable snapshots are damage too: report it, check on. */
		if (cb)
			cb(arg, "", "", "cannot list the snapshots");
		out->damaged_snapshots++;
	}
	for (size_t i = 0; i < n; i++) {
		struct snapshot s;
		char why[300];
		out->snapshots++;
		if (snapshot_load(r, ids[i], &s, why, sizeof(why)) != 0 ||
		    tree_load(r, &s, ids[i], why, sizeof(why)) != 0) {
			out->damaged_snapshots++;
			if (cb)
				cb(arg, ids[i], "", why);
			snapshot_free(&s);
			continue;
		}
		bool damaged = false;
		for (uint32_t k = 0; k < s.entries->via.array.size; k++) {
			struct entry e;
			if (!entry_read(&s.entries->via.array.ptr[k], &e)) {
				damaged = true;
				if (cb)
					cb(arg, ids[i], "",
					   "a tree entry is malformed");
				continue;
			}
			if (e.type != T_FILE)
				continue;
			out->files++;
			for (uint32_t c = 0; c < e.chunks->via.array.size; c++) {
				const uint8_t *cid = (const uint8_t *)
					e.chunks->via.array.ptr[c].via.bin.ptr;
				bool bad = false;
				const char *what = NULL;
				if (!repo_has(r, cid))
					what = "a chunk is missing";
				else if (!repo_chunk_ok(r, cid))
					what = "a chunk's pack is missing or cut "
					       "short";
				else if (read_data)
					keyset_get(&vs.bad, cid, REPO_ID_LEN, &bad);
				if (bad)
					what = "a chunk is damaged";
				if (what) {
					char path[4200];
					snprintf(path, sizeof(path), "%.*s",
						 (int)e.path_len, e.path);
					if (cb)
						cb(arg, ids[i], path, what);
					out->damaged_files++;
					damaged = true;
					break;
				}
			}
		}
		out->damaged_snapshots += damaged;
		snapshot_free(&s);
	}
	alloc_free(ids);
	keyset_free(&vs.bad);
	alloc_free(vs.bad_ids);
	return out->damaged_snapshots || out->bad_blobs || out->bad_packs
		       ? -EBADMSG
		       : 0;
}

/* ---- restore ------------------------------------------------------------------------------ */

/* Everything is created and opened beneath the target's fd, one
 * component at a time, never through a symlink (beneath.h), and every
 * owner, mode and time is set through an fd on what restore itself
 * created: a link or a swapped folder planted in the target by a user
 * cannot send root's writes, or an lchown, anywhere else. */
struct restore_ctx {
	struct repo *r;
	int root;
	int cur_fd;	/* the parent folder of the last entry */
	char *cur_rel;	/* its path, cur_len bytes */
	size_t cur_len;
	bool chown;
	struct backup_restore_stats *st;
	struct backup_progress *pr;
	char first_err[400];
	/* Hard links: the paths later entries link to -> the entry; and
	 * those restored in this run -> their (dev, ino), so a link is
	 * only ever made to the file restore itself wrote. */
	struct keyset link_src;
	struct keyset link_made;
	bool keep_damaged;
};

struct made_rec {
	uint64_t dev, ino;
};

static struct timespec ns_to_ts(int64_t ns)
{
	int64_t s = ns / 1000000000, r = ns % 1000000000;
	if (r < 0) {
		r += 1000000000;
		s--;
	}
	return (struct timespec){(time_t)s, (long)r};
}

/* Sets owner, then mode (chown clears set-id bits), then times, all
 * through fd. */
static void set_meta_fd(struct restore_ctx *c, int fd, const struct entry *e)
{
	struct timespec ts[2] = {ns_to_ts(e->mtime_ns), ns_to_ts(e->mtime_ns)};
	if (c->chown && fchown(fd, (uid_t)e->uid, (gid_t)e->gid) != 0)
		log_warn("restore: %.*s: cannot set the owner", (int)e->path_len,
			 e->path);
	fchmod(fd, (mode_t)(e->mode & 07777));
	/* After the mode: an ACL sets the group bits to its mask. */
	for (uint32_t i = 0; e->xattrs && i < e->xattrs->via.array.size; i++) {
		const msgpack_object *x = e->xattrs->via.array.ptr[i].via.array.ptr;
		char name[256];
		memcpy(name, x[0].via.str.ptr, x[0].via.str.size);
		name[x[0].via.str.size] = '\0';
		if (fsetxattr(fd, name, x[1].via.bin.ptr, x[1].via.bin.size, 0) != 0) {
			c->st->meta_failed++;
			log_warn("restore: %.*s: the attribute %s cannot be set "
				 "here: %s", (int)e->path_len, e->path, name,
				 repo_strerror(-errno));
		}
	}
	futimens(fd, ts);
}

/* The parent folder of e beneath the target (created as needed) and
 * e's last component. Consecutive entries mostly share a parent. */
static int restore_parent(struct restore_ctx *c, const struct entry *e,
			  int *pfd, char leaf[NAME_MAX + 1])
{
	int rc = beneath_check(e->path, e->path_len);
	if (rc != 0)
		return rc;
	size_t end = e->path_len, start;
	while (end > 0 && e->path[end - 1] == '/')
		end--;
	start = end;
	while (start > 0 && e->path[start - 1] != '/')
		start--;
	if (start == end || (end - start == 1 && e->path[start] == '.'))
		return -EINVAL;
	memcpy(leaf, e->path + start, end - start);
	leaf[end - start] = '\0';
	if (c->cur_rel && c->cur_len == start &&
	    memcmp(c->cur_rel, e->path, start) == 0) {
		*pfd = c->cur_fd;
		return 0;
	}
	if (c->cur_rel) {
		close(c->cur_fd);
		alloc_free(c->cur_rel);
		c->cur_rel = NULL;
	}
	int fd;
	rc = beneath_open_dir(c->root, e->path, start, BENEATH_CREATE, &fd);
	if (rc != 0)
		return rc;
	c->cur_rel = alloc_strndup(e->path, start);
	if (c->cur_rel == NULL) {
		close(fd);
		return -ENOMEM;
	}
	c->cur_fd = fd;
	c->cur_len = start;
	*pfd = fd;
	return 0;
}

/* A name no one else uses in that folder: the new file or link is made
 * there and renamed over the old name when complete, so an existing
 * link or hard link at that name is replaced, never written through. */
static void temp_name(char out[32])
{
	uint64_t rnd = 0;
	RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
	snprintf(out, 32, ".ew-restore-%016llx", (unsigned long long)rnd);
}

static int restore_file(struct restore_ctx *c, const struct entry *e, int pfd,
			const char *leaf, char *err, size_t errlen)
{
	char tmp[32];
	temp_name(tmp);
	int fd = openat(pfd, tmp,
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return errtext_set(-errno, err, errlen, "cannot create a file: %s",
				   repo_strerror(-errno));
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	int rc = 0;
	uint64_t written = 0;
	bool damaged = false;
	char first_bad[200] = "";
	/* A sparse file's stream goes to its data extents; the holes
	 * between them are never written, so they stay holes. */
	uint32_t ext = 0;
	uint64_t in_ext = 0;
	for (uint32_t i = 0; i < e->chunks->via.array.size && rc == 0; i++) {
		void *data;
		size_t len;
		const uint8_t *cid =
			(const uint8_t *)e->chunks->via.array.ptr[i].via.bin.ptr;
		rc = repo_get(c->r, cid, &data, &len, err, errlen);
		uint32_t raw;
		if (rc != 0 && c->keep_damaged && rc != -ENOMEM &&
		    repo_chunk_len(c->r, cid, &raw) == 0 &&
		    (data = alloc_zeroed(raw ? raw : 1, 1)) != NULL) {
			/* Kept: the lost chunk's range as zeros, the rest as
			 * it was, under NAME.damaged. */
			if (!damaged)
				snprintf(first_bad, sizeof(first_bad), "%s", err);
			damaged = true;
			len = raw;
			rc = 0;
		}
		if (rc != 0)
			break;
		EVP_DigestUpdate(md, data, len);
		const char *p = data;
		size_t left = len;
		while (left > 0 && rc == 0) {
			ssize_t w;
			if (e->data) {
				const msgpack_object *x;
				while (ext < e->data->via.array.size &&
				       in_ext == (x = &e->data->via.array.ptr[ext])
							 ->via.array.ptr[1].via.u64) {
					ext++;
					in_ext = 0;
				}
				if (ext == e->data->via.array.size) {
					rc = errtext_set(-EBADMSG, err, errlen,
							 "more data than its extents");
					break;
				}
				x = &e->data->via.array.ptr[ext];
				uint64_t room = x->via.array.ptr[1].via.u64 - in_ext;
				w = pwrite(fd, p, left < room ? left : (size_t)room,
					   (off_t)(x->via.array.ptr[0].via.u64 + in_ext));
				if (w > 0)
					in_ext += (uint64_t)w;
			} else {
				w = write(fd, p, left);
			}
			if (w < 0 && errno != EINTR)
				rc = errtext_set(-errno, err, errlen, "%s",
						 repo_strerror(-errno));
			else if (w > 0) {
				p += w;
				left -= (size_t)w;
			}
		}
		alloc_free(data);
		written += len;
	}
	uint8_t digest[32];
	unsigned dlen = 0;
	EVP_DigestFinal_ex(md, digest, &dlen);
	EVP_MD_CTX_free(md);
	if (rc == 0 && e->data && ftruncate(fd, (off_t)e->size) != 0)
		rc = errtext_set(-errno, err, errlen, "%s", repo_strerror(-errno));
	if (rc == 0)
		set_meta_fd(c, fd, e);
	bool is_src = false;
	keyset_get(&c->link_src, e->path, e->path_len, &is_src);
	struct stat fst;
	if (rc == 0 && is_src && fstat(fd, &fst) == 0) {
		struct made_rec *m = alloc_bytes(sizeof(*m));
		if (m) {
			m->dev = fst.st_dev;
			m->ino = fst.st_ino;
			bool had;
			alloc_free((void *)keyset_get(&c->link_made, e->path,
						      e->path_len, &had));
			if (keyset_put(&c->link_made, e->path, e->path_len, m) != 0)
				alloc_free(m);
		}
	}
	if (close(fd) != 0 && rc == 0)
		rc = errtext_set(-errno, err, errlen, "%s", repo_strerror(-errno));
	char kept[NAME_MAX + 2];
	if (rc == 0 && damaged) {
		int n = snprintf(kept, sizeof(kept), "%s.damaged", leaf);
		if (n < 0 || n > NAME_MAX)
			rc = errtext_set(-EBADMSG, err, errlen, "%s", first_bad);
		else if (renameat(pfd, tmp, pfd, kept) != 0)
			rc = errtext_set(-errno, err, errlen, "%s", first_bad);
		else
			return errtext_set(-EBADMSG, err, errlen,
					   "%s; kept as %s with that range zeroed",
					   first_bad, kept);
	}
	if (rc == 0 && renameat(pfd, tmp, pfd, leaf) != 0)
		rc = errtext_set(-errno, err, errlen, "cannot put it in place: %s",
				 repo_strerror(-errno));
	if (rc != 0) {
		unlinkat(pfd, tmp, 0);
		return rc;
	}
	c->st->bytes += written;
	c->pr->bytes_done += written;
	if (e->extra->type == MSGPACK_OBJECT_BIN && e->extra->via.bin.size == 32 &&
	    memcmp(e->extra->via.bin.ptr, digest, 32) == 0) {
		c->st->verified++;
	} else {
		c->st->mismatched++;
		log_warn("restore: %.*s does not match its recorded SHA-256",
			 (int)e->path_len, e->path);
	}
	c->st->files++;
	c->pr->files_done++;
	return 0;
}

static int restore_link(struct restore_ctx *c, const struct entry *e, int pfd,
			const char *leaf, char *err, size_t errlen)
{
	if (e->extra->type != MSGPACK_OBJECT_STR ||
	    e->extra->via.str.size >= PATH_MAX ||
	    memchr(e->extra->via.str.ptr, '\0', e->extra->via.str.size))
		return errtext_set(-EBADMSG, err, errlen, "a damaged link target");
	char target[PATH_MAX], tmp[32];
	memcpy(target, e->extra->via.str.ptr, e->extra->via.str.size);
	target[e->extra->via.str.size] = '\0';
	temp_name(tmp);
	if (symlinkat(target, pfd, tmp) != 0)
		return errtext_set(-errno, err, errlen, "cannot create the link: %s",
				   repo_strerror(-errno));
	/* The owner is set through an O_PATH fd on the link just made,
	 * checked to be a link: fchownat by name could meet a hard link
	 * swapped in under that name. */
	if (c->chown) {
		int lfd = openat(pfd, tmp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (lfd < 0 || fstat(lfd, &st) != 0 || !S_ISLNK(st.st_mode) ||
		    fchownat(lfd, "", (uid_t)e->uid, (gid_t)e->gid,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
			log_warn("restore: %.*s: cannot set the link's owner",
				 (int)e->path_len, e->path);
		if (lfd >= 0)
			close(lfd);
	}
	struct timespec ts[2] = {ns_to_ts(e->mtime_ns), ns_to_ts(e->mtime_ns)};
	utimensat(pfd, tmp, ts, AT_SYMLINK_NOFOLLOW);
	if (renameat(pfd, tmp, pfd, leaf) != 0) {
		int rc = -errno;
		unlinkat(pfd, tmp, 0);
		return errtext_set(rc, err, errlen, "cannot put the link in place: %s",
				   repo_strerror(rc));
	}
	return 0;
}

/* A FIFO or a device node: made under a temp name, its owner, mode and
 * times set, then renamed into place. */
static int restore_special(struct restore_ctx *c, const struct entry *e,
			   int pfd, const char *leaf, char *err, size_t errlen)
{
	char tmp[32];
	mode_t type = e->type == T_FIFO ? S_IFIFO
		      : e->type == T_CHR ? S_IFCHR
					 : S_IFBLK;
	temp_name(tmp);
	if (mknodat(pfd, tmp, type | 0600, (dev_t)e->rdev) != 0)
		return errtext_set(-errno, err, errlen, "cannot make the %s: %s",
				   e->type == T_FIFO ? "FIFO" : "device node",
				   repo_strerror(-errno));
	int lfd = openat(pfd, tmp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	int rc = 0;
	if (lfd < 0 || fstat(lfd, &st) != 0 || (st.st_mode & S_IFMT) != type)
		rc = errtext_set(-EIO, err, errlen, "the new node was replaced");
	if (rc == 0 && c->chown &&
	    fchownat(lfd, "", (uid_t)e->uid, (gid_t)e->gid,
		     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
		log_warn("restore: %.*s: cannot set the owner", (int)e->path_len,
			 e->path);
	/* chmod through the O_PATH fd's /proc name: it is that node. */
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", lfd);
	struct timespec ts[2] = {ns_to_ts(e->mtime_ns), ns_to_ts(e->mtime_ns)};
	if (rc == 0 && chmod(proc, (mode_t)(e->mode & 07777)) != 0)
		log_warn("restore: %.*s: cannot set the mode", (int)e->path_len,
			 e->path);
	if (rc == 0)
		utimensat(pfd, tmp, ts, AT_SYMLINK_NOFOLLOW);
	if (lfd >= 0)
		close(lfd);
	if (rc == 0 && renameat(pfd, tmp, pfd, leaf) != 0)
		rc = errtext_set(-errno, err, errlen, "cannot put it in place: %s",
				 repo_strerror(-errno));
	if (rc != 0)
		unlinkat(pfd, tmp, 0);
	else
		c->st->specials++;
	return rc;
}

/* A hard link to a file restored earlier in this run (checked by device
 * and inode: never to whatever else sits at that path). When there is
 * none (that path was not restored or failed), the first path's data is
 * written here as a file of its own. */
static int restore_hardlink(struct restore_ctx *c, const struct entry *e,
			    int pfd, const char *leaf, char *err, size_t errlen)
{
	bool made = false, have_src = false;
	const struct made_rec *m = keyset_get(&c->link_made, e->link, e->link_len,
					      &made);
	const msgpack_object *so = keyset_get(&c->link_src, e->link, e->link_len,
					      &have_src);
	int sfd = -1;
	struct stat st;
	char tmp[32], proc[64];
	if (made && m &&
	    beneath_open(c->root, e->link, e->link_len, O_PATH, 0, &sfd) == 0 &&
	    fstat(sfd, &st) == 0 && st.st_dev == m->dev && st.st_ino == m->ino) {
		temp_name(tmp);
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", sfd);
		if (linkat(AT_FDCWD, proc, pfd, tmp, AT_SYMLINK_FOLLOW) == 0) {
			close(sfd);
			if (renameat(pfd, tmp, pfd, leaf) != 0) {
				int rc = -errno;
				unlinkat(pfd, tmp, 0);
				return errtext_set(rc, err, errlen,
						   "cannot put the link in place: %s",
						   repo_strerror(rc));
			}
			c->st->files++;
			c->st->hardlinks++;
			c->pr->files_done++;
			return 0;
		}
	}
	if (sfd >= 0)
		close(sfd);
	struct entry src;
	if (!have_src || so == NULL || !entry_read(so, &src) || src.link)
		return errtext_set(-ENOENT, err, errlen,
				   "a hard link to %.*s, which is not in the "
				   "snapshot", (int)e->link_len, e->link);
	/* Its own metadata, the first path's content. */
	struct entry mine = src;
	mine.path = e->path;
	mine.path_len = e->path_len;
	return restore_file(c, &mine, pfd, leaf, err, errlen);
}

static bool under(const struct entry *e, const char *prefix)
{
	size_t n = strlen(prefix);
	while (n > 1 && prefix[n - 1] == '/')
		n--;
	return e->path_len >= n && memcmp(e->path, prefix, n) == 0 &&
	       (e->path_len == n || e->path[n] == '/' || n == 1);
}

/* Errors that end the whole restore: nothing later could be written
 * either. Anything else costs that one entry. */
static bool fatal_restore_error(int rc)
{
	return rc == -ENOSPC || rc == -EDQUOT || rc == -EROFS || rc == -ENOMEM;
}

static int restore_one(struct restore_ctx *c, const struct entry *e, char *why,
		       size_t whylen)
{
	why[0] = '\0';
	if (e->type == T_DIR) {
		int fd, rc = beneath_open_dir(c->root, e->path, e->path_len,
					      BENEATH_CREATE, &fd);
		if (rc == 0)
			close(fd);
		return rc;
	}
	int pfd;
	char leaf[NAME_MAX + 1];
	int rc = restore_parent(c, e, &pfd, leaf);
	if (rc != 0)
		return rc;
	if (e->type == T_LINK)
		return restore_link(c, e, pfd, leaf, why, whylen);
	if (e->type == T_FIFO || e->type == T_CHR || e->type == T_BLK)
		return restore_special(c, e, pfd, leaf, why, whylen);
	if (e->link)
		return restore_hardlink(c, e, pfd, leaf, why, whylen);
	return restore_file(c, e, pfd, leaf, why, whylen);
}

int backup_restore(struct repo *r, const struct backup_restore_options *o,
		   struct backup_restore_stats *st, char *err, size_t errlen)
{
	char id[2 * REPO_ID_LEN + 1];
	struct snapshot s;
	memset(st, 0, sizeof(*st));
	int64_t t0 = timeutil_now_us();
	int rc = backup_resolve(r, o->snapshot, id, err, errlen);
	if (rc != 0)
		return rc;
	if ((rc = snapshot_load(r, id, &s, err, errlen)) != 0 ||
	    (rc = tree_load(r, &s, id, err, errlen)) != 0) {
		snapshot_free(&s);
		return rc;
	}
	struct backup_progress pr = {.phase = "restoring", .started_us = t0};
	struct restore_ctx c = {.r = r, .root = -1, .cur_fd = -1,
				.chown = geteuid() == 0, .st = st, .pr = &pr,
				.keep_damaged = o->keep_damaged};
	rc = beneath_open_target(o->to, true, o->allow_shared_target, &c.root,
				 err, errlen);
	if (rc != 0) {
		snapshot_free(&s);
		return rc;
	}
	uint32_t n = s.entries->via.array.size;
	bool *pick = alloc_zeroed(n ? n : 1, sizeof(bool));
	uint32_t candidates = 0;
	for (uint32_t i = 0; pick && i < n; i++) {
		struct entry e;
		if (!entry_read(&s.entries->via.array.ptr[i], &e) ||
		    (o->path && !under(&e, o->path)))
			continue;
		pick[i] = true;
		candidates += e.type == T_FILE;
	}
	/* A sample: keep `sample` files at random, and the folders. */
	if (pick && o->sample > 0 && o->sample < candidates) {
		uint32_t keep = (uint32_t)o->sample, seen = 0;
		for (uint32_t i = 0; i < n; i++) {
			struct entry e;
			if (!pick[i] || !entry_read(&s.entries->via.array.ptr[i], &e) ||
			    e.type != T_FILE)
				continue;
			uint32_t rnd;
			RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
			/* Selection sampling: each file with the chance that
			 * leaves exactly `keep` in the end. */
			if ((uint64_t)rnd % (candidates - seen) >= keep)
				pick[i] = false;
			else
				keep--;
			seen++;
		}
	}
	/* The first paths of hard-link groups, and their entries. */
	for (uint32_t i = 0; pick && i < n; i++) {
		struct entry e;
		if (pick[i] && entry_read(&s.entries->via.array.ptr[i], &e) &&
		    e.link && keyset_put(&c.link_src, e.link, e.link_len, NULL) != 0)
			rc = errtext_set(-ENOMEM, err, errlen, "out of memory");
	}
	for (uint32_t i = 0; pick && rc == 0 && i < n && keyset_count(&c.link_src);
	     i++) {
		struct entry e;
		bool is_src;
		if (entry_read(&s.entries->via.array.ptr[i], &e) && !e.link &&
		    e.type == T_FILE) {
			keyset_get(&c.link_src, e.path, e.path_len, &is_src);
			if (is_src &&
			    keyset_put(&c.link_src, e.path, e.path_len,
				       &s.entries->via.array.ptr[i]) != 0)
				rc = errtext_set(-ENOMEM, err, errlen,
						 "out of memory");
		}
	}
	for (uint32_t i = 0; pick && i < n; i++) {
		struct entry e;
		if (pick[i] && entry_read(&s.entries->via.array.ptr[i], &e) &&
		    e.type == T_FILE) {
			pr.files_total++;
			pr.bytes_total += e.size;
		}
	}
	if (pick == NULL && rc == 0)
		rc = errtext_set(-ENOMEM, err, errlen, "out of memory");
	for (uint32_t i = 0; pick && i < n && rc == 0; i++) {
		struct entry e;
		char why[300];
		if (!pick[i] || !entry_read(&s.entries->via.array.ptr[i], &e))
			continue;
		int erc = restore_one(&c, &e, why, sizeof(why));
		if (erc != 0) {
			/* One entry that cannot be restored (a link planted in
			 * the target, a damaged chunk) costs that entry only;
			 * the rest still comes back, and the failure is
			 * counted, logged and returned at the end. */
			const char *reason =
				why[0] ? why
				: erc == -ELOOP ? "a folder on the way is a "
						  "symbolic link; not followed"
				: erc == -EINVAL ? "refusing a path with '..' "
						   "or no name"
						 : repo_strerror(erc);
			char what[400];
			snprintf(what, sizeof(what), "%.*s: %s", (int)e.path_len,
				 e.path, reason);
			log_warn("restore: %s", what);
			if (o->on_failed)
				o->on_failed(o->arg, e.path, e.path_len, reason);
			if (st->failed++ == 0)
				snprintf(c.first_err, sizeof(c.first_err), "%s", what);
			if (fatal_restore_error(erc))
				rc = errtext_set(erc, err, errlen, "%s", what);
			if (e.type == T_DIR)
				pick[i] = false;
		}
		if (o->progress && rc == 0)
			o->progress(o->arg, &pr);
	}
	/* Folders last, deepest first: writing files into them changed
	 * their times. The target itself keeps its own. */
	for (uint32_t i = n; pick && i-- > 0 && rc == 0 && o->sample == 0;) {
		struct entry e;
		int fd;
		size_t k = 0;
		if (!pick[i] || !entry_read(&s.entries->via.array.ptr[i], &e) ||
		    e.type != T_DIR)
			continue;
		while (k < e.path_len && (e.path[k] == '/' || e.path[k] == '.'))
			k++;
		if (k == e.path_len)
			continue;
		if (beneath_open_dir(c.root, e.path, e.path_len, 0, &fd) == 0) {
			set_meta_fd(&c, fd, &e);
			close(fd);
		}
	}
	if (c.cur_rel) {
		close(c.cur_fd);
		alloc_free(c.cur_rel);
	}
	close(c.root);
	keyset_free_with_vals(&c.link_made);
	keyset_free(&c.link_src);
	alloc_free(pick);
	snapshot_free(&s);
	st->duration_us = timeutil_now_us() - t0;
	if (rc == 0 && st->failed)
		rc = errtext_set(-EIO, err, errlen,
				 "%llu entries were not restored; the first: %s",
				 (unsigned long long)st->failed, c.first_err);
	if (rc == 0 && st->mismatched)
		return errtext_set(-EBADMSG, err, errlen,
			    "%llu restored file(s) do not match their recorded "
			    "SHA-256",
			    (unsigned long long)st->mismatched);
	return rc;
}

/* ---- prune ------------------------------------------------------------------------------- */

struct prune_list {
	struct backup_snapshot_info *s;
	size_t n, cap;
	bool failed; /* a snapshot was left out: prune nothing */
};

static void collect_snapshot(void *arg, const struct backup_snapshot_info *s)
{
	struct prune_list *l = arg;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *p = alloc_resize(l->s, cap * sizeof(*l->s));
		if (p == NULL) {
			l->failed = true;
			return;
		}
		l->s = p;
		l->cap = cap;
	}
	l->s[l->n++] = *s;
}

enum period { DAY, WEEK, MONTH };

/* The period a snapshot falls in, in the PC's local time. */
static void bucket(int64_t us, enum period p, char *out, size_t cap)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	localtime_r(&t, &tm);
	if (p == DAY)
		strftime(out, cap, "%Y%m%d", &tm);
	else if (p == WEEK)
		strftime(out, cap, "%G%V", &tm);
	else
		strftime(out, cap, "%Y%m", &tm);
}

struct pack_use {
	bool *used;
	uint64_t *bytes;
	const struct keyset *refs;
};

static void mark_pack(void *arg, const uint8_t *id,
		      const struct repo_blob_ref *ref)
{
	struct pack_use *pu = arg;
	bool found;
	keyset_get(pu->refs, id, REPO_ID_LEN, &found);
	if (found)
		pu->used[ref->pack] = true;
	pu->bytes[ref->pack] += ref->length;
}

int backup_prune(struct repo *r, int keep_daily, int keep_weekly,
		 int keep_monthly, struct backup_prune_stats *st, char *err,
		 size_t errlen)
{
	memset(st, 0, sizeof(*st));
	if (keep_daily <= 0 && keep_weekly <= 0 && keep_monthly <= 0)
		return errtext_set(-EINVAL, err, errlen,
			    "a policy that keeps nothing is refused: give "
			    "--keep-daily, --keep-weekly or --keep-monthly");
	struct prune_list l = {0};
	/* A snapshot missing from the list would have its chunks look
	 * unused, and their packs deleted: a partial list prunes nothing. */
	int lrc = backup_list(r, collect_snapshot, &l); /* a count, or -errno */
	if (lrc >= 0 && l.failed)
		lrc = -ENOMEM;
	if (lrc < 0) {
		alloc_free(l.s);
		return errtext_set(lrc, err, errlen, "cannot list snapshots: %s",
				   uv_strerror(lrc));
	}
	bool *keep = alloc_zeroed(l.n ? l.n : 1, sizeof(bool));
	struct {
		enum period period;
		int n;
	} rules[] = {{DAY, keep_daily}, {WEEK, keep_weekly},
		     {MONTH, keep_monthly}};
	for (int k = 0; keep && k < 3; k++) {
		char last[16] = "";
		int kept = 0;
		/* Newest first: the newest snapshot of each period stays. */
		for (size_t i = l.n; i-- > 0 && kept < rules[k].n;) {
			char b[16];
			bucket(l.s[i].time_us, rules[k].period, b, sizeof(b));
			if (strcmp(b, last) != 0) {
				keep[i] = true;
				kept++;
				snprintf(last, sizeof(last), "%s", b);
			}
		}
	}
	int rc = 0;
	struct keyset refs = {0};
	struct snapshot *loaded = alloc_zeroed(l.n ? l.n : 1, sizeof(*loaded));
	for (size_t i = 0; keep && loaded && i < l.n && rc == 0; i++) {
		if (!keep[i]) {
			continue;
		}
		st->snapshots_kept++;
		if ((rc = snapshot_load(r, l.s[i].id, &loaded[i], err, errlen)) != 0 ||
		    (rc = tree_load(r, &loaded[i], l.s[i].id, err, errlen)) != 0)
			break;
		const msgpack_object *tree = wire_map_get(&loaded[i].meta.data,
							  "tree");
		/* A chunk of a kept snapshot missing from refs would have
		 * its pack deleted: a failed insertion stops the prune. */
		for (uint32_t t = 0; tree && rc == 0 && t < tree->via.array.size;
		     t++)
			rc = keyset_put(&refs, tree->via.array.ptr[t].via.bin.ptr,
					REPO_ID_LEN, NULL);
		const msgpack_object *es = loaded[i].entries;
		for (uint32_t k = 0; rc == 0 && k < es->via.array.size; k++) {
			struct entry e;
			if (!entry_read(&es->via.array.ptr[k], &e))
				continue;
			for (uint32_t c = 0;
			     rc == 0 && c < e.chunks->via.array.size; c++)
				rc = keyset_put(
					&refs, e.chunks->via.array.ptr[c].via.bin.ptr,
					REPO_ID_LEN, NULL);
		}
		if (rc != 0)
			errtext_set(rc, err, errlen, "out of memory");
	}
	/* Nothing is deleted unless every kept snapshot could be read: a
	 * damaged tree must not make its chunks look unused. */
	if (rc == 0 && keep && loaded) {
		for (size_t i = 0; i < l.n; i++)
			if (!keep[i] && repo_snapshot_delete(r, l.s[i].id) == 0)
				st->snapshots_removed++;
		size_t np = repo_pack_count(r);
		struct pack_use pu = {alloc_zeroed(np ? np : 1, sizeof(bool)),
				      alloc_zeroed(np ? np : 1, sizeof(uint64_t)),
				      &refs};
		if (pu.used && pu.bytes) {
			repo_each_blob(r, mark_pack, &pu);
			for (size_t p = 0; p < np; p++)
				if (!pu.used[p] && pu.bytes[p] &&
				    repo_pack_delete(r, (uint32_t)p) == 0) {
					st->packs_removed++;
					st->bytes_freed += pu.bytes[p];
				}
		}
		alloc_free(pu.used);
		alloc_free(pu.bytes);
	}
	for (size_t i = 0; loaded && i < l.n; i++)
		if (keep && keep[i])
			snapshot_free(&loaded[i]);
	alloc_free(loaded);
	keyset_free(&refs);
	alloc_free(keep);
	alloc_free(l.s);
	return rc;
}
