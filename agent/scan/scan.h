/* scan: one YARA scan of some paths, run from the agent's loop.
 *
 * The parent walks the trees itself (never following a symlink, so a loop
 * of links cannot trap it, and remembering the directories above it, so a
 * bind-mount loop cannot either), skips what the cache says is unchanged,
 * and hands the rest to `jobs` scanner children (scanchild.h) a few files
 * at a time. A child answers in order, so when one dies, the file at the
 * head of its queue is the one that killed it: that file is recorded as a
 * scan error, the others go back in the queue, and a new child starts.
 * A file that takes longer than the timeout has its child killed the
 * same way. The walk runs in slices on an idle handle, so the agent's
 * loop keeps serving its uplink during a full scan. */
#ifndef EDUWATCH_SCAN_H
#define EDUWATCH_SCAN_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <uv.h>

#include "agent/scan/scancache.h"

#define SCAN_MAX_JOBS 8

enum scan_verdict { SCAN_CLEAN, SCAN_MATCH, SCAN_SKIPPED, SCAN_ERROR };

struct scan_request {
	const char *const *paths;
	size_t npaths;
	const char *const *excludes; /* path prefixes never entered */
	size_t nexcludes;
	/* The rules: an installed bundle and the CA that must have signed
	 * it, or rule files compiled on the spot. */
	const char *bundle;
	const char *ca;
	const char *const *rule_paths;
	size_t nrule_paths;
	const char *rules_version; /* the cache key's version */
	int jobs;		   /* scanner children, 1..SCAN_MAX_JOBS */
	int cpu_pct;		   /* each child's CPU share; 0: unpaced */
	bool idle;		   /* idle I/O class, nice 19 */
	long long max_size;	   /* bytes; bigger files are skipped */
	int timeout_s;		   /* per file */
	struct scancache *cache;   /* borrowed; NULL for none */
};

struct scan_file {
	const char *path;
	enum scan_verdict verdict;
	const char *why;	       /* skip or error reason */
	uint64_t size;
	const char *sha256;	       /* matches only */
	const msgpack_object *matches; /* array of maps; matches only */
};

struct scan_totals {
	uint64_t seen;	   /* regular files considered */
	uint64_t scanned;  /* by a child */
	uint64_t cached;   /* unchanged since their last scan */
	uint64_t matched;  /* files with at least one match (cached or not) */
	uint64_t skipped;  /* symlinks, special files, too large, unreadable */
	uint64_t errors;   /* timeouts, crashes, libyara errors */
	uint64_t bytes;	   /* scanned */
	unsigned rules;
	unsigned restarts; /* children replaced after a crash or timeout */
	int64_t started_us;
	bool walking;
};

struct scan_ops {
	/* Every file scanned or skipped, except the clean and the cached:
	 * borrowed for the call. */
	void (*on_file)(void *arg, const struct scan_file *file);
	/* The scan is over and freed after this returns. fatal is NULL
	 * when it ran to the end. */
	void (*on_done)(void *arg, const struct scan_totals *totals,
			const char *fatal);
};

struct scan;

/* Packs a match's first four keys of a scan.match event body: path,
 * size, sha256 and the names of the rules that matched (the map header
 * is the caller's). Shared by the scan source and the drill's scan. */
void scan_pack_match_head(msgpack_packer *pk, const struct scan_file *f);

EW_MUST_CHECK
int scan_start(uv_loop_t *loop, const struct scan_request *req,
	       const struct scan_ops *ops, void *arg, struct scan **out);
void scan_get_totals(const struct scan *scan, struct scan_totals *out);
/* Stops early; on_done follows with fatal "cancelled". */
void scan_cancel(struct scan *scan);

#endif
