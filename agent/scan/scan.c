#include "agent/scan/scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "agent/core/childproc.h"
#include "agent/scan/scanchild.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/wire.h"

#define MAX_DEPTH 64
#define QUEUE_CAP 1024
#define INFLIGHT 2		/* requests queued in one child's pipe */
#define WALK_SLICE 256		/* entries per loop iteration */
#define MAX_RESTARTS 32		/* per scan: a child that keeps dying */
#define TIMEOUT_GRACE_MS 10000	/* beyond libyara's own timeout */
#define MAX_RULE_ARGS 16

struct pending {
	char *path;
	size_t root_len; /* the root the walk started from: a prefix of path */
	struct scancache_key key;
	char owner[33];
};

struct worker {
	struct scan *scan;
	struct childproc *cp;
	bool ready;
	bool timed_out;
	struct pending *inflight[INFLIGHT];
	int head, count;
	uint64_t head_since_ms;
};

struct dirframe {
	DIR *dir;
	char *path;
	dev_t dev;
	ino_t ino;
};

struct owner_cache {
	uid_t uid;
	char name[33];
	bool used;
};

struct scan {
	uv_loop_t *loop;
	struct scan_request req;
	char **strings; /* copies the request points into */
	size_t nstrings;
	struct scan_ops ops;
	void *arg;

	size_t root_len; /* of the root being walked */
	struct dirframe stack[MAX_DEPTH];
	int depth;
	size_t next_root;

	struct pending *queue[QUEUE_CAP];
	size_t qhead, qcount;

	struct worker workers[SCAN_MAX_JOBS];
	int live_children;
	/* Rules compiled on the spot for several children are compiled once,
	 * by a helper, into this file, which each child then loads. */
	struct childproc *compiler;
	int compiled_fd;
	char compiled_path[64];
	bool compiled_ready;
	struct owner_cache owners[16];

	uv_idle_t walker;
	uv_timer_t watchdog;
	int open_handles;
	bool stopping;
	bool draining; /* all answered: the children are told to exit */
	bool done_called;
	char fatal[512];
	struct scan_totals totals;
};

static void dispatch(struct scan *s);
static void maybe_finish(struct scan *s);

/* ---- small helpers ------------------------------------------------------- */

static uint64_t now_ms(struct scan *s)
{
	return uv_now(s->loop);
}

static void pending_free(struct pending *p)
{
	if (p) {
		alloc_free(p->path);
		alloc_free(p);
	}
}

static void report(struct scan *s, const char *path, enum scan_verdict v,
		   const char *why, uint64_t size)
{
	if (v == SCAN_SKIPPED)
		s->totals.skipped++;
	else if (v == SCAN_ERROR)
		s->totals.errors++;
	struct scan_file f = {.path = path, .verdict = v, .why = why,
			      .size = size};
	if (s->ops.on_file)
		s->ops.on_file(s->arg, &f);
}

/* The first reason wins: it is the cause, the rest are consequences. */
static void set_fatal(struct scan *s, const char *prefix, const char *what)
{
	if (s->fatal[0] == '\0' && prefix)
		snprintf(s->fatal, sizeof(s->fatal), "%s: %s", prefix, what);
	else if (s->fatal[0] == '\0')
		snprintf(s->fatal, sizeof(s->fatal), "%s", what);
	s->stopping = true;
}

static const char *owner_of(struct scan *s, uid_t uid)
{
	struct owner_cache *slot = &s->owners[uid % 16];
	if (slot->used && slot->uid == uid)
		return slot->name;
	struct passwd pw, *res = NULL;
	char buf[1024];
	slot->used = true;
	slot->uid = uid;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res)
		snprintf(slot->name, sizeof(slot->name), "%s", res->pw_name);
	else
		snprintf(slot->name, sizeof(slot->name), "%u", (unsigned)uid);
	return slot->name;
}

static bool excluded(const struct scan *s, const char *path)
{
	for (size_t i = 0; i < s->req.nexcludes; i++) {
		const char *ex = s->req.excludes[i];
		size_t n = strlen(ex);
		while (n > 1 && ex[n - 1] == '/')
			n--;
		if (strncmp(path, ex, n) == 0 &&
		    (path[n] == '\0' || path[n] == '/'))
			return true;
	}
	return false;
}

/* ---- the queue ----------------------------------------------------------- */

static void queue_push_back(struct scan *s, struct pending *p)
{
	s->queue[(s->qhead + s->qcount) % QUEUE_CAP] = p;
	s->qcount++;
}

static void queue_push_front(struct scan *s, struct pending *p)
{
	s->qhead = (s->qhead + QUEUE_CAP - 1) % QUEUE_CAP;
	s->queue[s->qhead] = p;
	s->qcount++;
}

static struct pending *queue_pop(struct scan *s)
{
	if (s->qcount == 0)
		return NULL;
	struct pending *p = s->queue[s->qhead];
	s->qhead = (s->qhead + 1) % QUEUE_CAP;
	s->qcount--;
	return p;
}

/* ---- the walk -------------------------------------------------------------- */

/* An unchanged file that matched last time matches again: its verdict
 * is reported from the cache, without reading the file. */
static void report_cached_match(struct scan *s, const char *path,
				const struct scancache_key *key,
				struct scancache_verdict *v)
{
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, v->matches, v->matches_len, NULL) ==
		    MSGPACK_UNPACK_SUCCESS &&
	    up.data.type == MSGPACK_OBJECT_ARRAY) {
		struct scan_file f = {.path = path, .verdict = SCAN_MATCH,
				      .why = "", .size = key->size,
				      .sha256 = v->sha256, .matches = &up.data};
		s->totals.matched++;
		if (s->ops.on_file)
			s->ops.on_file(s->arg, &f);
	}
	msgpack_unpacked_destroy(&up);
	alloc_free(v->matches);
}

static void consider(struct scan *s, const char *path, const struct stat *st)
{
	if (S_ISLNK(st->st_mode)) {
		report(s, path, SCAN_SKIPPED, "symlink (not followed)", 0);
		return;
	}
	if (!S_ISREG(st->st_mode)) {
		report(s, path, SCAN_SKIPPED, "special file", 0);
		return;
	}
	s->totals.seen++;
	if (s->req.max_size > 0 && st->st_size > s->req.max_size) {
		report(s, path, SCAN_SKIPPED, "larger than the size limit",
		       (uint64_t)st->st_size);
		return;
	}
	struct scancache_key key = {
		.dev = st->st_dev,
		.ino = st->st_ino,
		.size = (uint64_t)st->st_size,
		.mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 +
			    st->st_mtim.tv_nsec,
		.ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 +
			    st->st_ctim.tv_nsec,
	};
	struct scancache_verdict v;
	if (s->req.cache &&
	    scancache_hit(s->req.cache, &key, s->req.rules_version, &v)) {
		s->totals.cached++;
		if (v.matched)
			report_cached_match(s, path, &key, &v);
		return;
	}
	struct pending *p = alloc_zeroed(1, sizeof(*p));
	if (p == NULL || (p->path = alloc_strdup(path)) == NULL) {
		pending_free(p);
		report(s, path, SCAN_ERROR, "out of memory", 0);
		return;
	}
	p->key = key;
	p->root_len = s->root_len;
	snprintf(p->owner, sizeof(p->owner), "%s", owner_of(s, st->st_uid));
	queue_push_back(s, p);
}

static bool on_stack(const struct scan *s, dev_t dev, ino_t ino)
{
	for (int i = 0; i < s->depth; i++)
		if (s->stack[i].dev == dev && s->stack[i].ino == ino)
			return true;
	return false;
}

static void push_dir(struct scan *s, int parent_fd, const char *name,
		     const char *path, const struct stat *st)
{
	if (on_stack(s, st->st_dev, st->st_ino)) {
		report(s, path, SCAN_SKIPPED, "directory loop", 0);
		return;
	}
	if (s->depth >= MAX_DEPTH) {
		report(s, path, SCAN_SKIPPED, "nested too deep", 0);
		return;
	}
	int fd = openat(parent_fd, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		char why[128];
		snprintf(why, sizeof(why), "unreadable: %s",
			 uv_strerror(-errno));
		if (fd >= 0)
			close(fd);
		report(s, path, SCAN_SKIPPED, why, 0);
		return;
	}
	struct dirframe *f = &s->stack[s->depth++];
	f->dir = d;
	f->path = alloc_strdup(path);
	f->dev = st->st_dev;
	f->ino = st->st_ino;
}

static void pop_dir(struct scan *s)
{
	struct dirframe *f = &s->stack[--s->depth];
	closedir(f->dir);
	alloc_free(f->path);
	memset(f, 0, sizeof(*f));
}

static void walk_root(struct scan *s, const char *root)
{
	struct stat st;
	/* A root the user named is followed if it is a link: they asked
	 * for what it points to. */
	if (excluded(s, root))
		return;
	s->root_len = strlen(root);
	if (stat(root, &st) != 0) {
		char why[128];
		snprintf(why, sizeof(why), "cannot open: %s",
			 uv_strerror(-errno));
		report(s, root, SCAN_SKIPPED, why, 0);
		return;
	}
	if (S_ISDIR(st.st_mode))
		push_dir(s, AT_FDCWD, root, root, &st);
	else
		consider(s, root, &st);
}

/* Advances the walk by one slice. Returns false when it is over. */
static bool walk_slice(struct scan *s)
{
	for (int n = 0; n < WALK_SLICE && s->qcount < QUEUE_CAP - 1; n++) {
		if (s->depth == 0) {
			if (s->next_root >= s->req.npaths)
				return false;
			walk_root(s, s->req.paths[s->next_root++]);
			continue;
		}
		struct dirframe *f = &s->stack[s->depth - 1];
		errno = 0;
		struct dirent *de = readdir(f->dir);
		if (de == NULL) {
			pop_dir(s);
			continue;
		}
		const char *name = de->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		char path[4096];
		int len = snprintf(path, sizeof(path), "%s%s%s", f->path,
				   f->path[strlen(f->path) - 1] == '/' ? "" : "/",
				   name);
		if (len < 0 || (size_t)len >= sizeof(path)) {
			report(s, f->path, SCAN_SKIPPED, "path too long", 0);
			continue;
		}
		if (excluded(s, path))
			continue;
		struct stat st;
		if (fstatat(dirfd(f->dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			char why[128];
			snprintf(why, sizeof(why), "cannot stat: %s",
				 uv_strerror(-errno));
			report(s, path, SCAN_SKIPPED, why, 0);
			continue;
		}
		if (S_ISDIR(st.st_mode))
			push_dir(s, dirfd(f->dir), name, path, &st);
		else
			consider(s, path, &st);
	}
	return true;
}

static void on_walk(uv_idle_t *idle)
{
	struct scan *s = idle->data;
	if (s->stopping || !walk_slice(s)) {
		while (s->depth > 0)
			pop_dir(s);
		s->totals.walking = false;
		uv_idle_stop(idle);
	} else if (s->qcount >= QUEUE_CAP - 1) {
		/* Full: the children's answers restart the walk. */
		uv_idle_stop(idle);
	}
	dispatch(s);
	maybe_finish(s);
}

/* ---- the children ---------------------------------------------------------- */

static struct pending *worker_pop_head(struct worker *w)
{
	if (w->count == 0)
		return NULL;
	struct pending *p = w->inflight[w->head];
	w->inflight[w->head] = NULL;
	w->head = (w->head + 1) % INFLIGHT;
	w->count--;
	return p;
}

static void cache_match(struct scan *s, const struct pending *p,
			const char *sha, const msgpack_object *matches)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_object(&pk, *matches);
	struct scancache_verdict v = {.matched = true, .matches = sb.data,
				      .matches_len = sb.size};
	snprintf(v.sha256, sizeof(v.sha256), "%s", sha);
	/* A verdict the cache cannot keep only means a rescan next time. */
	EW_IGNORE(scancache_put(s->req.cache, &p->key, s->req.rules_version,
				&v));
	msgpack_sbuffer_destroy(&sb);
}

static void on_result(struct worker *w, const msgpack_object *m)
{
	struct scan *s = w->scan;
	char path[4096], verdict[16], why[256] = "", sha[65] = "";
	uint64_t size = 0;
	struct pending *p = w->count ? w->inflight[w->head] : NULL;
	if (wire_get_str(m, "p", path, sizeof(path)) != 0 ||
	    wire_get_str(m, "r", verdict, sizeof(verdict)) != 0 || p == NULL ||
	    strcmp(path, p->path) != 0) {
		childproc_kill(w->cp, "answered out of order");
		return;
	}
	wire_get_str(m, "why", why, sizeof(why));
	wire_get_str(m, "sha256", sha, sizeof(sha));
	wire_get_u64(m, "size", &size);
	worker_pop_head(w);
	w->head_since_ms = now_ms(s);
	struct scan_file f = {.path = p->path, .why = why, .size = size};
	if (strcmp(verdict, "clean") == 0) {
		s->totals.scanned++;
		s->totals.bytes += size;
		if (s->req.cache)
			/* Uncached means rescanned next time; no harm. */
			EW_IGNORE(scancache_put(s->req.cache, &p->key,
						s->req.rules_version, NULL));
	} else if (strcmp(verdict, "match") == 0) {
		const msgpack_object *ms = wire_map_get(m, "m");
		s->totals.scanned++;
		s->totals.bytes += size;
		s->totals.matched++;
		f.verdict = SCAN_MATCH;
		f.sha256 = sha;
		f.matches = ms && ms->type == MSGPACK_OBJECT_ARRAY ? ms : NULL;
		if (s->req.cache && f.matches)
			cache_match(s, p, sha, f.matches);
		if (s->ops.on_file)
			s->ops.on_file(s->arg, &f);
	} else {
		report(s, p->path,
		       strcmp(verdict, "skip") == 0 ? SCAN_SKIPPED : SCAN_ERROR,
		       why, size);
	}
	pending_free(p);
}

static void on_child_message(void *arg, const msgpack_object *m)
{
	struct worker *w = arg;
	struct scan *s = w->scan;
	char t[16] = "";
	wire_get_str(m, "t", t, sizeof(t));
	if (strcmp(t, "res") == 0) {
		on_result(w, m);
	} else if (strcmp(t, "ready") == 0 && !w->ready) {
		uint64_t rules = 0;
		wire_get_u64(m, "rules", &rules);
		w->ready = true;
		w->head_since_ms = now_ms(s);
		s->totals.rules = (unsigned)rules;
	} else if (strcmp(t, "fail") == 0) {
		char msg[400] = "";
		wire_get_str(m, "msg", msg, sizeof(msg));
		set_fatal(s, NULL, msg);
	} else {
		childproc_kill(w->cp, "unexpected message");
	}
	dispatch(s);
	if (!s->stopping && s->qcount < QUEUE_CAP / 2 && s->totals.walking)
		uv_idle_start(&s->walker, on_walk);
	maybe_finish(s);
}

static void on_child_exit(void *arg, const char *why)
{
	struct worker *w = arg;
	struct scan *s = w->scan;
	w->cp = NULL;
	s->live_children--;
	bool was_ready = w->ready, timed_out = w->timed_out;
	w->ready = false;
	w->timed_out = false;
	struct pending *head = worker_pop_head(w);
	if (head && !s->stopping) {
		/* The file it was on when it died is the one that killed it
		 * (or hung it); the rest were only waiting in its pipe. */
		char reason[160];
		snprintf(reason, sizeof(reason), "%s: %s",
			 timed_out ? "timed out; scanner killed"
				   : "scanner crashed",
			 why);
		if (was_ready || timed_out)
			report(s, head->path, SCAN_ERROR, reason, head->key.size);
		else
			queue_push_front(s, head), head = NULL;
		if (head)
			log_warn("scan: %s: %s", head->path, reason);
	}
	pending_free(head);
	struct pending *p;
	while ((p = worker_pop_head(w)) != NULL) {
		if (s->stopping)
			pending_free(p);
		else
			queue_push_front(s, p);
	}
	if (s->draining) {
		maybe_finish(s);
		return;
	}
	if (!s->stopping && !was_ready && !timed_out)
		set_fatal(s, "the scanner did not start", why);
	if (!s->stopping && ++s->totals.restarts > MAX_RESTARTS)
		set_fatal(s, NULL, "the scanner keeps crashing; scan abandoned");
	dispatch(s);
	maybe_finish(s);
}

static int spawn_worker(struct scan *s, struct worker *w)
{
	const char *args[MAX_RULE_ARGS * 2 + 16];
	char max_size[32], timeout[16], cpu[16];
	size_t n = 0;
	snprintf(max_size, sizeof(max_size), "%lld", s->req.max_size);
	snprintf(timeout, sizeof(timeout), "%d", s->req.timeout_s);
	snprintf(cpu, sizeof(cpu), "%d", s->req.cpu_pct);
	args[n++] = "_scanner";
	if (s->req.bundle) {
		args[n++] = "--bundle";
		args[n++] = s->req.bundle;
		args[n++] = "--ca";
		args[n++] = s->req.ca;
	}
	if (s->compiled_ready) {
		args[n++] = "--compiled";
		args[n++] = s->compiled_path;
	} else {
		for (size_t i = 0; i < s->req.nrule_paths && i < MAX_RULE_ARGS;
		     i++) {
			args[n++] = "--rules";
			args[n++] = s->req.rule_paths[i];
		}
	}
	args[n++] = "--max-size";
	args[n++] = max_size;
	args[n++] = "--timeout";
	args[n++] = timeout;
	args[n++] = "--cpu";
	args[n++] = cpu;
	if (s->req.idle)
		args[n++] = "--idle";
	args[n] = NULL;
	static const struct childproc_ops ops = {on_child_message,
						 on_child_exit};
	memset(w, 0, sizeof(*w));
	w->scan = s;
	int rc = childproc_spawn(s->loop, SCANCHILD_HELPER, args, &ops, w, &w->cp);
	if (rc == 0)
		s->live_children++;
	return rc;
}

static void send_request(struct worker *w, struct pending *p)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	/* The child walks from the root as this walk did, with no link
	 * followed below it, and checks it opened the inode seen here: a
	 * folder swapped for a link in between (it holds
	 * CAP_DAC_READ_SEARCH) makes it skip the file, not read elsewhere. */
	msgpack_pack_map(&pk, 5);
	wire_pack_kv_str(&pk, "p", p->path);
	wire_pack_kv_str(&pk, "o", p->owner);
	wire_pack_kv_u64(&pk, "rl", p->root_len);
	wire_pack_kv_u64(&pk, "d", p->key.dev);
	wire_pack_kv_u64(&pk, "i", p->key.ino);
	if (w->count == 0)
		w->head_since_ms = now_ms(w->scan);
	w->inflight[(w->head + w->count) % INFLIGHT] = p;
	w->count++;
	/* A failed write means the child is dying: its exit requeues p. */
	EW_IGNORE(childproc_write(w->cp, sb.data, sb.size));
	msgpack_sbuffer_destroy(&sb);
}

static void on_compiler_message(void *arg, const msgpack_object *m)
{
	struct scan *s = arg;
	char t[16] = "";
	wire_get_str(m, "t", t, sizeof(t));
	const msgpack_object *d = wire_map_get(m, "d");
	if (strcmp(t, "chunk") == 0 && d && d->type == MSGPACK_OBJECT_BIN) {
		if (write(s->compiled_fd, d->via.bin.ptr, d->via.bin.size) !=
		    (ssize_t)d->via.bin.size)
			set_fatal(s, "cannot keep the compiled rules",
				  uv_strerror(-errno));
	} else if (strcmp(t, "compiled") == 0) {
		uint64_t rules = 0;
		wire_get_u64(m, "rules", &rules);
		s->totals.rules = (unsigned)rules;
		s->compiled_ready = true;
	} else if (strcmp(t, "fail") == 0) {
		char msg[400] = "";
		wire_get_str(m, "msg", msg, sizeof(msg));
		set_fatal(s, NULL, msg);
	}
}

static void on_compiler_exit(void *arg, const char *why)
{
	struct scan *s = arg;
	s->compiler = NULL;
	s->live_children--;
	if (!s->compiled_ready && !s->stopping)
		set_fatal(s, "the rule compiler failed", why);
	dispatch(s);
	maybe_finish(s);
}

/* Starts the one-off compiler when rules are compiled on the spot for
 * more than one child. Returns true while the rules are not ready. */
static bool compiling(struct scan *s)
{
	if (s->req.nrule_paths == 0 || s->req.jobs < 2 || s->compiled_ready)
		return false;
	if (s->compiler)
		return true;
	if (s->compiled_fd >= 0) /* compiled once already: it failed */
		return true;
	snprintf(s->compiled_path, sizeof(s->compiled_path),
		 "/tmp/eduwatch-rules-XXXXXX");
	s->compiled_fd = mkostemp(s->compiled_path, O_CLOEXEC);
	if (s->compiled_fd < 0) {
		s->req.jobs = 1; /* no temp file: each child compiles */
		return false;
	}
	const char *args[MAX_RULE_ARGS * 2 + 4];
	size_t n = 0;
	args[n++] = "_scanner";
	args[n++] = "--compile-only";
	for (size_t i = 0; i < s->req.nrule_paths && i < MAX_RULE_ARGS; i++) {
		args[n++] = "--rules";
		args[n++] = s->req.rule_paths[i];
	}
	args[n] = NULL;
	static const struct childproc_ops ops = {on_compiler_message,
						 on_compiler_exit};
	int rc = childproc_spawn(s->loop, SCANCHILD_HELPER, args, &ops, s,
				 &s->compiler);
	if (rc != 0) {
		set_fatal(s, "cannot start the rule compiler", uv_strerror(rc));
		return true;
	}
	s->live_children++;
	return true;
}

static void dispatch(struct scan *s)
{
	if (s->stopping || (s->qcount > 0 && compiling(s)))
		return;
	for (int i = 0; i < s->req.jobs && s->qcount > 0; i++) {
		struct worker *w = &s->workers[i];
		if (w->cp == NULL) {
			int rc = spawn_worker(s, w);
			if (rc != 0) {
				set_fatal(s, "cannot start the scanner",
					  uv_strerror(rc));
				return;
			}
		}
		while (w->count < INFLIGHT && s->qcount > 0)
			send_request(w, queue_pop(s));
	}
}

static void on_watchdog(uv_timer_t *t)
{
	struct scan *s = t->data;
	uint64_t limit = (uint64_t)s->req.timeout_s * 1000 + TIMEOUT_GRACE_MS;
	for (int i = 0; i < s->req.jobs; i++) {
		struct worker *w = &s->workers[i];
		if (w->cp && w->ready && w->count > 0 && !w->timed_out &&
		    now_ms(s) - w->head_since_ms > limit) {
			w->timed_out = true;
			childproc_kill(w->cp, "per-file timeout");
		}
	}
}

/* ---- start and end ------------------------------------------------------- */

static void free_scan(struct scan *s)
{
	if (s->compiled_fd >= 0) {
		close(s->compiled_fd);
		unlink(s->compiled_path);
	}
	struct pending *p;
	while ((p = queue_pop(s)) != NULL)
		pending_free(p);
	while (s->depth > 0)
		pop_dir(s);
	for (size_t i = 0; i < s->nstrings; i++)
		alloc_free(s->strings[i]);
	alloc_free(s->strings);
	alloc_free((void *)s->req.paths);
	alloc_free((void *)s->req.excludes);
	alloc_free((void *)s->req.rule_paths);
	alloc_free(s);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct scan *s = h->data;
	if (--s->open_handles > 0)
		return;
	int rc = s->req.cache ? scancache_flush(s->req.cache) : 0;
	if (rc != 0)
		/* Lost verdicts cost a rescan, not a miss: the scan stands. */
		log_warn("scan: cannot save the scan cache: %s", uv_strerror(rc));
	s->ops.on_done(s->arg, &s->totals, s->fatal[0] ? s->fatal : NULL);
	free_scan(s);
}

static void maybe_finish(struct scan *s)
{
	if (s->done_called)
		return;
	if (s->stopping) {
		for (int i = 0; i < s->req.jobs; i++)
			if (s->workers[i].cp)
				childproc_kill(s->workers[i].cp, "scan stopped");
		if (s->compiler)
			childproc_kill(s->compiler, "scan stopped");
		uv_idle_stop(&s->walker);
		s->totals.walking = false;
		struct pending *p;
		while ((p = queue_pop(s)) != NULL)
			pending_free(p);
	} else {
		if (s->totals.walking || s->qcount > 0)
			return;
		for (int i = 0; i < s->req.jobs; i++)
			if (s->workers[i].count > 0)
				return;
		if (!s->draining)
			for (int i = 0; i < s->req.jobs; i++)
				if (s->workers[i].cp)
					childproc_stop(s->workers[i].cp);
		s->draining = true;
	}
	if (s->live_children > 0)
		return; /* their exits bring us back */
	s->done_called = true;
	uv_close((uv_handle_t *)&s->walker, on_handle_closed);
	uv_close((uv_handle_t *)&s->watchdog, on_handle_closed);
}

static const char *keep(struct scan *s, const char *str)
{
	char *copy = alloc_strdup(str);
	if (copy)
		s->strings[s->nstrings++] = copy;
	return copy;
}

static const char **keep_list(struct scan *s, const char *const *list,
			      size_t n)
{
	const char **out = alloc_zeroed(n + 1, sizeof(*out));
	for (size_t i = 0; out && i < n; i++)
		out[i] = keep(s, list[i]);
	return out;
}

int scan_start(uv_loop_t *loop, const struct scan_request *req,
	       const struct scan_ops *ops, void *arg, struct scan **out)
{
	if (req->npaths == 0 || req->rules_version == NULL ||
	    (req->bundle == NULL && req->nrule_paths == 0) ||
	    req->nrule_paths > MAX_RULE_ARGS)
		return -EINVAL;
	struct scan *s = alloc_zeroed(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->compiled_fd = -1;
	size_t nstr = req->npaths + req->nexcludes + req->nrule_paths + 3;
	s->strings = alloc_zeroed(nstr, sizeof(char *));
	s->loop = loop;
	s->req = *req;
	s->ops = *ops;
	s->arg = arg;
	if (s->strings) {
		s->req.paths = keep_list(s, req->paths, req->npaths);
		s->req.excludes = keep_list(s, req->excludes, req->nexcludes);
		s->req.rule_paths =
			keep_list(s, req->rule_paths, req->nrule_paths);
		s->req.rules_version = keep(s, req->rules_version);
		s->req.bundle = req->bundle ? keep(s, req->bundle) : NULL;
		s->req.ca = req->ca ? keep(s, req->ca) : NULL;
	}
	if (s->strings == NULL || s->nstrings != nstr - (req->bundle ? 0 : 2) ||
	    s->req.paths == NULL || s->req.excludes == NULL ||
	    s->req.rule_paths == NULL) {
		free_scan(s);
		return -ENOMEM;
	}
	if (s->req.jobs < 1)
		s->req.jobs = 1;
	if (s->req.jobs > SCAN_MAX_JOBS)
		s->req.jobs = SCAN_MAX_JOBS;
	if (s->req.timeout_s <= 0)
		s->req.timeout_s = 60;
	s->totals.started_us = timeutil_now_us();
	s->totals.walking = true;
	uv_idle_init(loop, &s->walker);
	uv_timer_init(loop, &s->watchdog);
	s->walker.data = s;
	s->watchdog.data = s;
	s->open_handles = 2;
	uv_idle_start(&s->walker, on_walk);
	uv_timer_start(&s->watchdog, on_watchdog, 1000, 1000);
	*out = s;
	return 0;
}

void scan_get_totals(const struct scan *s, struct scan_totals *out)
{
	*out = s->totals;
}

void scan_cancel(struct scan *s)
{
	if (s->done_called)
		return;
	set_fatal(s, NULL, "cancelled");
	maybe_finish(s);
}
