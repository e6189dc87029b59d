/* ransom_watch: the watcher feeding the model (ransom_watch.h). */
#include "agent/ransom/ransom_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "agent/platform/beneath.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

struct canary {
	char path[PATH_MAX]; /* "": none in this root */
	dev_t dev;
	ino_t ino;
};

struct ransom_watch {
	ransom_verdict_fn cb;
	void *arg;
	struct fswatch *fs;
	struct ransom_model *model; /* fed on the watcher's thread */
	uv_mutex_t lock;	    /* the model's stats, read elsewhere */
	size_t nroots;
	char roots[RANSOM_ROOTS_MAX][PATH_MAX];
	struct canary canaries[RANSOM_ROOTS_MAX];
};

/* Plain text a person might have written: low entropy, so that a
 * rewrite of it with ciphertext is plain to see. */
static const char canary_text[] =
	"Kế hoạch năm học / School year plan - eduwatch canary file.\n"
	"This hidden file is a decoy placed by the eduwatch agent: it is "
	"never opened by anyone. A program that changes, renames or deletes "
	"it raises a ransomware alert.\n";

/* The watched folder, every component of its path walked without
 * following a link: a student who swaps a folder on the way for a link
 * must not steer root's canary (or its removal) elsewhere. Shared
 * folders are the point, so not refused for their owner. */
static int open_root(const char *root, int *dfd)
{
	char err[256];
	int rc = beneath_open_target(root, false, true, dfd, err, sizeof(err));
	if (rc != 0)
		log_warn("ransom: %s", err);
	return rc;
}

/* Plants root/RANSOM_CANARY_NAME, or adopts the one a previous run left
 * (a regular file of root's, with one link). The folder may be a
 * user's: the name is created under the folder's fd with
 * O_EXCL|O_NOFOLLOW, so a link planted there is refused, never
 * followed. */
static int plant(const char *root, struct canary *c)
{
	int dfd, rc = open_root(root, &dfd);
	if (rc != 0)
		return rc;
	int fd = openat(dfd, RANSOM_CANARY_NAME,
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			0644);
	if (fd >= 0) {
		for (int i = 0; i < 24 && rc == 0; i++)
			if (write(fd, canary_text, sizeof(canary_text) - 1) !=
			    (ssize_t)(sizeof(canary_text) - 1))
				rc = -EIO;
		if (close(fd) != 0 && rc == 0)
			rc = -EIO;
		if (rc != 0)
			unlinkat(dfd, RANSOM_CANARY_NAME, 0);
	} else {
		rc = -errno;
	}
	struct stat st;
	if (rc == 0 || rc == -EEXIST) {
		if (fstatat(dfd, RANSOM_CANARY_NAME, &st, AT_SYMLINK_NOFOLLOW) !=
		    0)
			rc = -errno;
		else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
			 st.st_nlink != 1)
			rc = -EEXIST; /* someone else's: leave it alone */
		else
			rc = 0;
	}
	close(dfd);
	if (rc == 0) {
		snprintf(c->path, sizeof(c->path), "%s/%s", root,
			 RANSOM_CANARY_NAME);
		c->dev = st.st_dev;
		c->ino = st.st_ino;
	}
	return rc;
}

/* Removes a canary only if it is still the file planted (same inode). */
static void unplant(const char *root, struct canary *c)
{
	struct stat st;
	if (c->path[0] == '\0')
		return;
	int dfd;
	if (open_root(root, &dfd) != 0) {
		c->path[0] = '\0';
		return;
	}
	if (fstatat(dfd, RANSOM_CANARY_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_dev == c->dev && st.st_ino == c->ino)
		unlinkat(dfd, RANSOM_CANARY_NAME, 0);
	close(dfd);
	c->path[0] = '\0';
}

static bool is_canary(const struct ransom_watch *w, unsigned root,
		      const char *path)
{
	return path != NULL && root < w->nroots &&
	       w->canaries[root].path[0] != '\0' &&
	       strcmp(path, w->canaries[root].path) == 0;
}

static void on_event(void *arg, const struct fswatch_event *ev)
{
	struct ransom_watch *w = arg;
	unsigned char block[RANSOM_BLOCK];
	double entropy = -1;
	if (ev->op == FSWATCH_WRITTEN || ev->op == FSWATCH_RENAMED) {
		long n = fswatch_sample(w->fs, ev->root, ev->path, block,
					 sizeof(block));
		if (n > 0)
			entropy = ransom_entropy(block, (size_t)n);
	}
	struct ransom_fact f = {
		.op = (enum ransom_op)ev->op,
		.at_us = timeutil_now_us(),
		/* The writer when the platform names it, else its tree. */
		.actor = ev->pid >= 0 ? (uint32_t)ev->pid | 0x80000000u
				      : ev->root,
		.path = ev->path,
		.old_path = ev->old_path,
		.entropy = entropy,
		.canary = is_canary(w, ev->root, ev->path) ||
			  is_canary(w, ev->root, ev->old_path),
	};
	struct ransom_verdict v;
	uv_mutex_lock(&w->lock);
	bool raised = ransom_model_feed(w->model, &f, &v);
	uv_mutex_unlock(&w->lock);
	if (raised)
		w->cb(w->arg, &v,
		      ev->root < w->nroots ? w->roots[ev->root] : "");
}

_Static_assert((int)FSWATCH_CREATED == (int)RANSOM_CREATED &&
		       (int)FSWATCH_WRITTEN == (int)RANSOM_WRITTEN &&
		       (int)FSWATCH_RENAMED == (int)RANSOM_RENAMED &&
		       (int)FSWATCH_REMOVED == (int)RANSOM_REMOVED,
	       "fswatch's operations are the model's");

int ransom_watch_start(const struct ransom_watch_conf *conf,
		       ransom_verdict_fn cb, void *arg, struct ransom_watch **out,
		       char *err, size_t errlen)
{
	*out = NULL;
	if (conf->nroots == 0 || conf->nroots > RANSOM_ROOTS_MAX) {
		snprintf(err, errlen, "between 1 and %d folders to watch",
			 RANSOM_ROOTS_MAX);
		return -EINVAL;
	}
	struct ransom_watch *w = alloc_zeroed(1, sizeof(*w));
	if (w == NULL || (w->model = ransom_model_new(&conf->params)) == NULL) {
		alloc_free(w);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	w->cb = cb;
	w->arg = arg;
	w->nroots = conf->nroots;
	uv_mutex_init(&w->lock);
	const char *roots[RANSOM_ROOTS_MAX];
	for (size_t i = 0; i < conf->nroots; i++) {
		snprintf(w->roots[i], sizeof(w->roots[i]), "%s", conf->roots[i]);
		roots[i] = w->roots[i];
		if (i >= conf->ncanaries)
			continue;
		int rc = plant(w->roots[i], &w->canaries[i]);
		if (rc != 0)
			log_warn("ransom: no canary in %s: %s%s", w->roots[i],
				 uv_strerror(rc), rc == -EEXIST ? " (a file "
				 "not the agent's has its name)" : "");
	}
	int rc = fswatch_start(roots, w->nroots, on_event, w, &w->fs, err,
			       errlen);
	if (rc != 0) {
		for (size_t i = 0; i < w->nroots; i++)
			unplant(w->roots[i], &w->canaries[i]);
		ransom_model_free(w->model);
		uv_mutex_destroy(&w->lock);
		alloc_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void ransom_watch_stop(struct ransom_watch *w)
{
	if (w == NULL)
		return;
	fswatch_stop(w->fs);
	for (size_t i = 0; i < w->nroots; i++)
		unplant(w->roots[i], &w->canaries[i]);
	ransom_model_free(w->model);
	uv_mutex_destroy(&w->lock);
	alloc_free(w);
}

void ransom_watch_stats(struct ransom_watch *w, struct ransom_watch_stats *out)
{
	memset(out, 0, sizeof(*out));
	uv_mutex_lock(&w->lock);
	ransom_model_stats(w->model, &out->model);
	uv_mutex_unlock(&w->lock);
	fswatch_stats(w->fs, &out->fs);
	for (size_t i = 0; i < w->nroots; i++)
		out->canaries += w->canaries[i].path[0] != '\0';
}
