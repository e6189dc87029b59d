/* fswatch on Linux: inotify, on a thread of its own (fswatch.h). */
#include "agent/platform/fswatch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "agent/platform/beneath.h"
#include "common/alloc.h"
#include "common/log.h"

/* Twice the cap, so that probing stays short. */
#define SLOTS (2 * FSWATCH_FOLDERS_MAX)
#define DEPTH_MAX 32
#define MASK                                                                  \
	(IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO |           \
	 IN_DELETE | IN_DONT_FOLLOW | IN_EXCL_UNLINK | IN_ONLYDIR)

struct folder {
	int wd; /* 0: empty slot (inotify's descriptors start at 1) */
	unsigned root;
	int depth; /* below its root: DEPTH_MAX holds for folders made later */
	char *path;
};

struct fswatch {
	int fd;
	int wake[2]; /* fswatch_stop writes, the thread wakes */
	fswatch_event_fn cb;
	void *arg;
	uv_thread_t thread;
	uv_mutex_t lock; /* stats only */
	struct fswatch_stats stats;
	/* Each root as opened at start, through no symbolic link: every
	 * later open under a root walks from here (beneath.h), because a
	 * student can swap any folder below it for a link at any time. */
	size_t nroots;
	int *root_fd;
	char **root_path;
	/* Each root's share of FSWATCH_FOLDERS_MAX, so that one tree full
	 * of folders (a student's mkdir loop) cannot blind the others. */
	unsigned quota;
	unsigned *root_folders;
	bool *root_warned; /* its blindness logged once */
	struct folder folders[SLOTS];
};

static struct folder *folder_slot(struct fswatch *w, int wd, bool empty)
{
	for (size_t i = 0; i < SLOTS; i++) {
		struct folder *f = &w->folders[((size_t)wd + i) % SLOTS];
		if (f->wd == wd || (empty && f->wd == 0))
			return f;
		if (f->wd == 0 && !empty)
			return NULL;
	}
	return NULL;
}

/* An fd's own name in /proc: the kernel resolves it to the very folder
 * or file the fd holds, whatever the path string names now. */
static void fd_path(int fd, char out[32])
{
	snprintf(out, 32, "/proc/self/fd/%d", fd);
}

/* Watches the folder dfd holds (borrowed), known as path, and the
 * folders under it (depth-first, up to the cap). The watch is added on
 * the fd and each subfolder opened from its parent's fd with O_NOFOLLOW,
 * so a folder swapped for a link is never followed anywhere. */
static int add_tree_fd(struct fswatch *w, int dfd, const char *path,
		       unsigned root, int depth)
{
	if (w->root_folders[root] >= w->quota || depth > DEPTH_MAX) {
		uv_mutex_lock(&w->lock);
		w->stats.skipped++;
		uv_mutex_unlock(&w->lock);
		/* Never silent: what is not watched is not protected. */
		if (!w->root_warned[root]) {
			w->root_warned[root] = true;
			log_warn("fswatch: %s: %s, so %s (and maybe others) "
				 "is not watched", w->root_path[root],
				 depth > DEPTH_MAX ?
				 "folders nested deeper than 32" :
				 "its share of the folder cap is used up",
				 path);
		}
		return 0;
	}
	char self[32];
	fd_path(dfd, self);
	int wd = inotify_add_watch(w->fd, self,
				   (MASK & ~(uint32_t)IN_DONT_FOLLOW) | IN_ONLYDIR);
	if (wd < 0)
		return -errno;
	struct folder *f = folder_slot(w, wd, false);
	if (f == NULL) {
		f = folder_slot(w, wd, true);
		if (f == NULL)
			return -ENOSPC;
		char *copy = alloc_strdup(path);
		if (copy == NULL)
			return -ENOMEM;
		f->wd = wd;
		f->root = root;
		f->depth = depth;
		f->path = copy;
		w->root_folders[root]++;
		uv_mutex_lock(&w->lock);
		w->stats.folders++;
		uv_mutex_unlock(&w->lock);
	}
	int lfd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = lfd < 0 ? NULL : fdopendir(lfd);
	if (d == NULL) {
		if (lfd >= 0)
			close(lfd);
		return 0; /* unreadable: watched as it is */
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0)
			continue;
		char sub[PATH_MAX];
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path,
				     e->d_name) >= sizeof(sub))
			continue;
		int sfd = openat(dirfd(d), e->d_name,
				 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0)
			continue; /* gone, or swapped for a link: not followed */
		(void)add_tree_fd(w, sfd, sub, root, depth + 1);
		close(sfd);
	}
	closedir(d);
	return 0;
}

/* The part of path under root's folder ("" for the root itself), or
 * NULL when path is not under it. */
static const char *under_root(const struct fswatch *w, unsigned root,
			      const char *path)
{
	if (root >= w->nroots)
		return NULL;
	size_t n = strlen(w->root_path[root]);
	if (strncmp(path, w->root_path[root], n) != 0 ||
	    (path[n] != '\0' && path[n] != '/'))
		return NULL;
	return path + n + (path[n] == '/');
}

/* A folder that appeared at path under root: opened beneath the root's
 * fd, never through a link, then watched with what is under it. */
static int add_tree(struct fswatch *w, const char *path, unsigned root,
		    int depth)
{
	const char *rel = under_root(w, root, path);
	if (rel == NULL)
		return -EINVAL;
	int dfd, rc = beneath_open_dir(w->root_fd[root], rel, strlen(rel), 0,
				       &dfd);
	if (rc != 0)
		return rc;
	rc = add_tree_fd(w, dfd, path, root, depth);
	close(dfd);
	return rc;
}

static void forget(struct fswatch *w, int wd)
{
	struct folder *f = folder_slot(w, wd, false);
	if (f == NULL)
		return;
	alloc_free(f->path);
	f->path = NULL;
	w->root_folders[f->root]--;
	/* Leave a tombstone-free table: re-insert the run after it. */
	f->wd = 0;
	uv_mutex_lock(&w->lock);
	w->stats.folders--;
	uv_mutex_unlock(&w->lock);
	size_t i = (size_t)(f - w->folders);
	for (size_t k = (i + 1) % SLOTS; w->folders[k].wd != 0;
	     k = (k + 1) % SLOTS) {
		struct folder moved = w->folders[k];
		w->folders[k].wd = 0;
		*folder_slot(w, moved.wd, true) = moved;
	}
}

static void deliver(struct fswatch *w, enum fswatch_op op, unsigned root,
		    const char *path, const char *old)
{
	struct fswatch_event ev = {.op = op, .root = root, .pid = -1,
				   .path = path, .old_path = old};
	w->cb(w->arg, &ev);
	uv_mutex_lock(&w->lock);
	w->stats.events++;
	uv_mutex_unlock(&w->lock);
}

/* A move out waits for its move in (same cookie), which inotify queues
 * next when both ends are watched. */
struct pending_move {
	uint32_t cookie; /* 0: none */
	bool dir;
	unsigned root;
	char path[PATH_MAX];
};

/* Is path the folder `under` or inside it? */
static bool within(const char *path, const char *under)
{
	size_t n = strlen(under);
	return strncmp(path, under, n) == 0 &&
	       (path[n] == '\0' || path[n] == '/');
}

/* A watched folder renamed within the roots: its watches (and those of
 * the folders inside it) stay, under their new names, so that events
 * from it name files where they are now. */
static void rename_folders(struct fswatch *w, const char *from, const char *to)
{
	size_t nfrom = strlen(from);
	for (size_t i = 0; i < SLOTS; i++) {
		struct folder *f = &w->folders[i];
		char path[PATH_MAX];
		if (f->wd == 0 || !within(f->path, from) ||
		    (size_t)snprintf(path, sizeof(path), "%s%s", to,
				     f->path + nfrom) >= sizeof(path))
			continue;
		char *copy = alloc_strdup(path);
		if (copy == NULL)
			continue;
		alloc_free(f->path);
		f->path = copy;
	}
}

/* A watched folder moved out of the roots: no longer ours to watch
 * (IN_IGNORED then forgets each). */
static void unwatch_folders(struct fswatch *w, const char *under)
{
	for (size_t i = 0; i < SLOTS; i++)
		if (w->folders[i].wd != 0 && within(w->folders[i].path, under))
			(void)inotify_rm_watch(w->fd, w->folders[i].wd);
}

static void flush_move(struct fswatch *w, struct pending_move *pm)
{
	if (pm->cookie != 0 && pm->dir)
		unwatch_folders(w, pm->path);
	else if (pm->cookie != 0)
		deliver(w, FSWATCH_REMOVED, pm->root, pm->path, NULL);
	pm->cookie = 0;
}

static void handle(struct fswatch *w, const struct inotify_event *ie,
		   struct pending_move *pm)
{
	if (ie->mask & IN_Q_OVERFLOW) {
		uv_mutex_lock(&w->lock);
		w->stats.lost++;
		uv_mutex_unlock(&w->lock);
		/* Events were lost, folders made meanwhile among them: walk
		 * the roots again so that those are watched from now on. */
		log_warn("fswatch: the kernel's event queue overflowed: "
			 "events lost, rescanning the watched folders");
		for (size_t i = 0; i < w->nroots; i++)
			(void)add_tree_fd(w, w->root_fd[i], w->root_path[i],
					  (unsigned)i, 0);
		return;
	}
	if (ie->mask & IN_IGNORED) {
		forget(w, ie->wd);
		return;
	}
	struct folder *f = folder_slot(w, ie->wd, false);
	char path[PATH_MAX];
	if (f == NULL || ie->len == 0 ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", f->path, ie->name) >=
		    sizeof(path))
		return;
	if (pm->cookie != 0 && !((ie->mask & IN_MOVED_TO) &&
				 ie->cookie == pm->cookie))
		flush_move(w, pm);
	if (ie->mask & IN_MOVED_FROM) {
		pm->cookie = ie->cookie ? ie->cookie : 1;
		pm->dir = (ie->mask & IN_ISDIR) != 0;
		pm->root = f->root;
		snprintf(pm->path, sizeof(pm->path), "%s", path);
	} else if (ie->mask & IN_ISDIR) {
		/* Folders are watched, not scored. */
		if ((ie->mask & IN_MOVED_TO) && pm->cookie != 0 && pm->dir &&
		    ie->cookie == pm->cookie)
			rename_folders(w, pm->path, path);
		else if (ie->mask & (IN_CREATE | IN_MOVED_TO))
			(void)add_tree(w, path, f->root, f->depth + 1);
		pm->cookie = 0;
	} else if (ie->mask & IN_MOVED_TO) {
		if (pm->cookie != 0 && ie->cookie == pm->cookie) {
			pm->cookie = 0;
			deliver(w, FSWATCH_RENAMED, f->root, path, pm->path);
		} else {
			deliver(w, FSWATCH_CREATED, f->root, path, NULL);
		}
	} else if (ie->mask & IN_CREATE) {
		deliver(w, FSWATCH_CREATED, f->root, path, NULL);
	} else if (ie->mask & IN_CLOSE_WRITE) {
		deliver(w, FSWATCH_WRITTEN, f->root, path, NULL);
	} else if (ie->mask & IN_DELETE) {
		deliver(w, FSWATCH_REMOVED, f->root, path, NULL);
	}
}

static void run(void *arg)
{
	struct fswatch *w = arg;
	_Alignas(struct inotify_event) char buf[64 * 1024];
	struct pending_move pm = {0};
	for (;;) {
		struct pollfd p[2] = {{w->fd, POLLIN, 0}, {w->wake[0], POLLIN, 0}};
		/* A lone move out is a removal once nothing follows it. */
		int n = poll(p, 2, pm.cookie ? 50 : -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (p[1].revents & (POLLIN | POLLHUP)))
			break;
		if (n == 0) {
			flush_move(w, &pm);
			continue;
		}
		ssize_t len = read(w->fd, buf, sizeof(buf));
		if (len < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (len <= 0)
			break;
		for (char *at = buf; at < buf + len;) {
			const struct inotify_event *ie = (const void *)at;
			handle(w, ie, &pm);
			at += sizeof(*ie) + ie->len;
		}
	}
	flush_move(w, &pm);
}

static void free_roots(struct fswatch *w)
{
	for (size_t i = 0; i < w->nroots; i++) {
		close(w->root_fd[i]);
		alloc_free(w->root_path[i]);
	}
	alloc_free(w->root_fd);
	alloc_free(w->root_path);
	alloc_free(w->root_folders);
	alloc_free(w->root_warned);
}

int fswatch_start(const char *const *roots, size_t nroots, fswatch_event_fn cb,
		  void *arg, struct fswatch **out, char *err, size_t errlen)
{
	*out = NULL;
	struct fswatch *w = alloc_zeroed(1, sizeof(*w));
	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	w->cb = cb;
	w->arg = arg;
	w->wake[0] = w->wake[1] = -1;
	uv_mutex_init(&w->lock);
	w->fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	int rc = w->fd < 0 ? -errno : 0;
	if (rc == 0 && pipe2(w->wake, O_CLOEXEC) != 0)
		rc = -errno;
	if (rc != 0) {
		snprintf(err, errlen, "inotify: %s", uv_strerror(rc));
		goto fail;
	}
	size_t nalloc = nroots ? nroots : 1;
	w->root_fd = alloc_zeroed(nalloc, sizeof(*w->root_fd));
	w->root_path = alloc_zeroed(nalloc, sizeof(*w->root_path));
	w->root_folders = alloc_zeroed(nalloc, sizeof(*w->root_folders));
	w->root_warned = alloc_zeroed(nalloc, sizeof(*w->root_warned));
	w->quota = FSWATCH_FOLDERS_MAX / (unsigned)nalloc;
	if (w->root_fd == NULL || w->root_path == NULL ||
	    w->root_folders == NULL || w->root_warned == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < nroots; i++) {
		/* Shared folders are the point here (students write them):
		 * what matters is that no link leads to the root. */
		rc = beneath_open_target(roots[i], false, true, &w->root_fd[i],
					 err, errlen);
		if (rc != 0)
			goto fail;
		w->nroots = i + 1;
		w->root_path[i] = alloc_strdup(roots[i]);
		if (w->root_path[i] == NULL) {
			rc = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		/* Trailing slashes would not prefix the events' paths. */
		for (size_t n = strlen(w->root_path[i]);
		     n > 1 && w->root_path[i][n - 1] == '/'; n--)
			w->root_path[i][n - 1] = '\0';
		rc = add_tree_fd(w, w->root_fd[i], w->root_path[i], (unsigned)i,
				 0);
		if (rc != 0) {
			snprintf(err, errlen, "cannot watch %s: %s%s", roots[i],
				 uv_strerror(rc), rc == -ENOSPC ? " (raise "
				 "fs.inotify.max_user_watches)" : "");
			goto fail;
		}
	}
	/* Before the thread: its first callback may sample, through *out. */
	*out = w;
	rc = uv_thread_create(&w->thread, run, w);
	if (rc != 0) {
		*out = NULL;
		snprintf(err, errlen, "watcher thread: %s", uv_strerror(rc));
		goto fail;
	}
	return 0;
fail:
	uv_mutex_destroy(&w->lock);
	free_roots(w);
	for (size_t i = 0; i < SLOTS; i++)
		alloc_free(w->folders[i].path);
	if (w->fd >= 0)
		close(w->fd);
	if (w->wake[0] >= 0)
		close(w->wake[0]), close(w->wake[1]);
	alloc_free(w);
	return rc;
}

void fswatch_stop(struct fswatch *w)
{
	if (w == NULL)
		return;
	char b = 1;
	while (write(w->wake[1], &b, 1) < 0 && errno == EINTR)
		;
	uv_thread_join(&w->thread);
	free_roots(w);
	for (size_t i = 0; i < SLOTS; i++)
		alloc_free(w->folders[i].path);
	close(w->fd);
	close(w->wake[0]);
	close(w->wake[1]);
	uv_mutex_destroy(&w->lock);
	alloc_free(w);
}

void fswatch_stats(struct fswatch *w, struct fswatch_stats *out)
{
	uv_mutex_lock(&w->lock);
	*out = w->stats;
	uv_mutex_unlock(&w->lock);
}

long fswatch_sample(struct fswatch *w, unsigned root, const char *path,
		   unsigned char *buf, size_t cap)
{
	const char *rel = under_root(w, root, path);
	if (rel == NULL || rel[0] == '\0')
		return -EINVAL;
	/* O_PATH first: it opens nothing (a FIFO's writer sees no reader, a
	 * device's driver is not called), and only a regular file is
	 * opened again, for reading, through the fd's own name. */
	int pfd, rc = beneath_open(w->root_fd[root], rel, strlen(rel), O_PATH,
				   0, &pfd);
	if (rc != 0)
		return rc;
	struct stat st, again;
	if (fstat(pfd, &st) != 0) {
		rc = -errno;
		close(pfd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(pfd);
		return -EINVAL;
	}
	char self[32];
	fd_path(pfd, self);
	/* O_NOATIME: the detector's read must not make a file look used
	 * (root may set it on any file; EPERM elsewhere, then without). */
	int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
	int fd = open(self, flags | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(self, flags);
	rc = fd < 0 ? -errno : 0;
	close(pfd);
	if (rc != 0)
		return rc;
	long n;
	if (fstat(fd, &again) != 0)
		n = -errno;
	else if (again.st_dev != st.st_dev || again.st_ino != st.st_ino ||
		 !S_ISREG(again.st_mode))
		n = -EINVAL;
	else {
		ssize_t r;
		do
			r = pread(fd, buf, cap, 0);
		while (r < 0 && errno == EINTR);
		n = r < 0 ? -errno : (long)r;
	}
	close(fd);
	return n;
}
