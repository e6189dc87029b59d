/* drill_restore: the restore-test drill, run in the eduwatch-backup
 * helper (`eduwatch-agent _backup drill_restore`), so that the
 * repository's key derivation (scrypt, 32 MiB), zstd and the chunker are
 * mapped there and never in the resident agent (issue 13).
 *
 * In the agent's own drill folder (drill.folder, opened as the other
 * drills open it: owned by root, no link followed), under a folder of
 * its own, eduwatch-drill-restore/:
 *   sample/   DRILL_RESTORE_FILES files of random bytes (1 KiB to
 *             160 KiB, some in a sub-folder), their SHA-256 kept;
 *   repo/     a repository of the drill's own, with a random passphrase
 *             that lives only in this process (the school's own
 *             repository and its snapshots are never touched);
 *   scratch/  where the full restore goes.
 * Backs the sample up, restores all of it, measures the restore, then
 * hashes every restored file against the sample's hashes itself (not
 * only the restore's own check), removes eduwatch-drill-restore/ and
 * checks it is gone. One result frame on fd:
 *
 *   {t:"drill_restore", errno, err, files, bytes, backup_us, restore_us,
 *    equal (files whose hash matched), cleaned (bool)} */
#ifndef EDUWATCH_DRILL_RESTORE_H
#define EDUWATCH_DRILL_RESTORE_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "agent/core/settings.h"

#define DRILL_RESTORE_ACTION "drill_restore"
#define DRILL_RESTORE_FILES 24
#define DRILL_RESTORE_DIR "eduwatch-drill-restore"

struct drill_restore_result {
	int rc; /* 0 or a negative errno */
	char err[300];
	uint64_t files, bytes, equal;
	int64_t backup_us, restore_us;
	bool cleaned;
};

/* Child side: runs the drill and writes its frame to fd. Returns a
 * process exit code. */
int drill_restore_main(const struct agent_settings *s, int fd);

/* Agent side: removes what a killed or failed helper left of the drill
 * under folder, and checks; true when nothing is left. */
bool drill_restore_remove(const char *folder);

/* Agent side: reads the child's frame (untrusted: checked). 0 or
 * -EBADMSG. */
int drill_restore_result_read(const msgpack_object *map,
			      struct drill_restore_result *r);

#endif
