/* quarantine: files a scan found, moved where nothing can run them.
 *
 * With scan.quarantine on, a file that matched a rule (drill markers
 * excepted) is moved into <state_dir>/quarantine (root only, 0700) as
 * <id>.bin with mode 0000, and <id>.meta records where it came from, its
 * owner, mode and times, its SHA-256 and the rules. Nothing is deleted:
 * an officer lists and restores with `eduwatch-agent quarantine`. The
 * move is a rename on the same filesystem, else copy, fsync and unlink
 * (a USB drive); the hash of what arrived is checked against the scan's. */
#ifndef EDUWATCH_QUARANTINE_H
#define EDUWATCH_QUARANTINE_H

#include "common/check.h"

#include <stddef.h>
#include <stdint.h>

struct quarantine_entry {
	char id[40];
	char path[4096];   /* where it was */
	char sha256[65];
	char rules[256];
	uint64_t size;
	uint32_t mode, uid, gid;
	int64_t mtime_s;
	int64_t quarantined_us;
};

void quarantine_dir(const char *state_dir, char *out, size_t cap);

/* Moves path into quarantine; fills the entry. Returns 0 or a negative
 * errno with a reason. */
EW_MUST_CHECK
int quarantine_file(const char *qdir, const char *path, const char *sha256,
		    const char *rules, struct quarantine_entry *out, char *err,
		    size_t errlen);

/* Calls cb for each entry, oldest first. Returns the count or -errno. */
EW_MUST_CHECK
int quarantine_list(const char *qdir,
		    void (*cb)(void *arg, const struct quarantine_entry *e),
		    void *arg);

/* Puts an entry back, at its old path or at to; refuses to overwrite. */
EW_MUST_CHECK
int quarantine_restore(const char *qdir, const char *id, const char *to,
		       char *err, size_t errlen);

#endif
