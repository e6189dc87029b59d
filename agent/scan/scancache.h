/* scancache: which files a scan can skip because nothing changed.
 *
 * A file is skipped when its (device, inode, size, mtime, ctime) and the
 * rule-set version all equal what they were when it last scanned clean.
 * ctime is the guard that matters: a tool can set mtime back, but any
 * write or chmod moves ctime to now. Only clean verdicts are kept, so a
 * matching file is scanned (and reported) every time. The cache is its
 * own SQLite file beside the spool; losing it costs one full scan.
 *
 * Lifecycle: a synchronous resource, `_open` / `_close` (close of NULL is a
 * no-op), as every such resource in the tree. */
#ifndef EDUWATCH_SCANCACHE_H
#define EDUWATCH_SCANCACHE_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct scancache;

struct scancache_key {
	uint64_t dev, ino, size;
	int64_t mtime_ns, ctime_ns;
};

EW_MUST_CHECK
int scancache_open(const char *path, struct scancache **out, char *err,
		   size_t errlen);
void scancache_close(struct scancache *sc);

struct scancache_verdict {
	bool matched;
	char sha256[65];     /* matched only */
	void *matches;	     /* packed msgpack array; alloc_free it */
	size_t matches_len;
};

/* True when the file is unchanged since a scan with these rules; v (may
 * be NULL) gets that scan's verdict. */
bool scancache_hit(struct scancache *sc, const struct scancache_key *key,
		   const char *rules_version, struct scancache_verdict *v);
/* Records a verdict (NULL: clean); writes are batched, scancache_flush
 * commits. */
EW_MUST_CHECK
int scancache_put(struct scancache *sc, const struct scancache_key *key,
		  const char *rules_version, const struct scancache_verdict *v);
EW_MUST_CHECK
int scancache_flush(struct scancache *sc);
/* Drops every entry of another rule-set version: a new bundle makes all
 * earlier verdicts worthless. Returns the rows dropped or -errno. */
long long scancache_retain(struct scancache *sc, const char *rules_version);
long long scancache_count(struct scancache *sc);

#endif
