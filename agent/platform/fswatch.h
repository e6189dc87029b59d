/* fswatch: what happens to files under a few folders, from the OS, for
 * the ransomware detector (agent/ransom/).
 *
 * Linux: inotify on every folder under the roots (new folders are added
 * as they appear), read on a thread of its own; it cannot name the
 * writing process, so pid is -1 and the detector's actor is the root
 * folder. fanotify (with the writer's pid and an fd to read from) is the
 * next step once its rename events are needed (FAN_RENAME, Linux 5.17).
 * Windows: not ported yet (agent/platform/windows/unported.c); the same
 * door fits ReadDirectoryChangesW. */
#ifndef EDUWATCH_FSWATCH_H
#define EDUWATCH_FSWATCH_H

#include "common/check.h"

#include <stddef.h>
#include <stdint.h>

enum fswatch_op {
	FSWATCH_CREATED, /* a new file name (created, or moved in) */
	FSWATCH_WRITTEN, /* a file closed after writing */
	FSWATCH_RENAMED, /* old_path -> path, both under the roots */
	FSWATCH_REMOVED, /* deleted, or moved out of the roots */
};

struct fswatch_event {
	enum fswatch_op op;
	unsigned root;	      /* index into the roots given */
	int32_t pid;	      /* the writer, -1 when the OS does not say */
	const char *path;     /* borrowed for the call */
	const char *old_path; /* RENAMED only */
};

/* Called on the watcher's thread, one event at a time; keep it short. */
typedef void (*fswatch_event_fn)(void *arg, const struct fswatch_event *ev);

struct fswatch_stats {
	unsigned long long events; /* handed to the callback */
	unsigned long long lost;   /* the OS's queue overflowed */
	unsigned folders;	   /* folders watched now */
	unsigned skipped;	   /* folders passed over (share, depth), per walk */
};

struct fswatch;

/* Watches roots (borrowed, copied) and everything under them, at most
 * FSWATCH_FOLDERS_MAX folders, shared out evenly between the roots
 * (one root's folders cannot use up another's share), and at most 32
 * folders deep, folders made later included. What is not watched (over
 * the share, too deep) is logged once per root and counted in skipped;
 * after the OS's queue overflows (lost), the roots are walked again. Each root is opened once, refusing a
 * symbolic link in any component of its path (give the real path);
 * every folder under it is reached from its parent's fd, never
 * through a link. 0, or a negative errno with err naming
 * the root that failed. */
#define FSWATCH_FOLDERS_MAX 8192
EW_MUST_CHECK
int fswatch_start(const char *const *roots, size_t nroots, fswatch_event_fn cb,
		  void *arg, struct fswatch **out, char *err, size_t errlen);
/* Stops and joins the thread; no callback runs after it returns. NULL
 * is a no-op. */
void fswatch_stop(struct fswatch *w);
void fswatch_stats(struct fswatch *w, struct fswatch_stats *out);

/* The first cap bytes of the regular file at path, an event's path
 * under roots[root]: walked from the root's folder as opened at start,
 * through no symbolic link in any component (-ELOOP), and opened for
 * reading only once it is known to be a regular file, so a FIFO or a
 * device reached by a swapped folder is never opened. The count read,
 * or a negative errno (-EINVAL: not a regular file, or not under the
 * root). Safe on the callback's thread. */
EW_MUST_CHECK
long fswatch_sample(struct fswatch *w, unsigned root, const char *path,
		    unsigned char *buf, size_t cap);

#endif
