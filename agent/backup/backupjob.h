/* backupjob: one backup job of the agent's backup source, run in the
 * eduwatch-backup helper as `eduwatch-agent _backup ACTION [escrow]`.
 *
 * The job reads every file under backup.paths, so it maps zstd, the
 * chunker and the repository, and its buffers grow with the data. In a
 * child of its own all of that is gone when the job ends: the resident
 * agent keeps none of it (issue 13). The child runs as root, like the
 * thread it replaces, and at the agent's nice and I/O priority, which it
 * inherits. It writes one frame to its stdout (childproc.h) and exits:
 *
 *   {t:"done", errno: 0 or a positive errno, err, snapshot, files, bytes,
 *    added_stored, duration_us, errors, not_stored: [path...],
 *    restore_duration_us, escrow: <bin, when asked and made>}
 *
 * ACTION is backup, verify or restore_test; "escrow" asks for the keys
 * sealed to the collector's CA (backup.escrow, until one was sent). */
#ifndef EDUWATCH_BACKUPJOB_H
#define EDUWATCH_BACKUPJOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "agent/backup/backup.h"
#include "agent/core/settings.h"

/* The helper role's argv[1]. */
#define BACKUPJOB_ROLE "_backup"

enum backupjob_action {
	BACKUPJOB_NONE,
	BACKUPJOB_BACKUP,
	BACKUPJOB_VERIFY,
	BACKUPJOB_RESTORE_TEST,
};

/* "backup", "verify", "restore_test"; and back (BACKUPJOB_NONE when
 * unknown). */
const char *backupjob_action_name(enum backupjob_action a);
enum backupjob_action backupjob_action_parse(const char *name);

/* What a job reports, filled by the child and read by the agent. */
struct backupjob_result {
	int rc; /* 0 or a negative errno */
	char err[400];
	struct backup_stats stats;
	int64_t restore_duration_us;
	char *escrow; /* malloc'd, or NULL */
	size_t escrow_len;
};

/* Child side: runs the job and writes its result frame to fd. Returns a
 * process exit code. */
int backupjob_main(const struct agent_settings *s, const char *action,
		   bool escrow, int fd);

/* Agent side: reads a result frame into r (r->escrow is malloc'd; free
 * it). Returns 0, or -EBADMSG for a frame that is not a result. */
int backupjob_result_read(const msgpack_object *map,
			  struct backupjob_result *r);

#endif
