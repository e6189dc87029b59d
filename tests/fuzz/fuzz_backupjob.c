/* libFuzzer harness: the frame a backup helper sends the agent (its one
 * result, agent/backup/backupjob.h, or the restore-test drill's,
 * agent/drill/drill_restore.h), through the checks childproc makes
 * (wire_check_msgpack, one map), backupjob_result_read and
 * drill_restore_result_read. The helper
 * reads every file under backup.paths, so the agent reads what it says
 * as it would any child's: bounded, typed, or refused. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <msgpack.h>

#include "agent/backup/backupjob.h"
#include "agent/drill/drill_restore.h"
#include "common/alloc.h"
#include "common/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct backupjob_result r;
	static struct drill_restore_result dr;
	msgpack_unpacked up;
	if (size > WIRE_MAX_FRAME ||
	    wire_check_msgpack((const char *)data, size, WIRE_MAX_DEPTH) != 0)
		return 0;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, (const char *)data, size, NULL) ==
		    MSGPACK_UNPACK_SUCCESS &&
	    up.data.type == MSGPACK_OBJECT_MAP) {
		backupjob_result_read(&up.data, &r);
		/* Whatever it accepted is bounded and terminated. */
		if (memchr(r.err, '\0', sizeof(r.err)) == NULL ||
		    memchr(r.stats.snapshot, '\0', sizeof(r.stats.snapshot)) == NULL)
			__builtin_trap();
		alloc_free(r.escrow);
		r.escrow = NULL;
		/* The drill's: bounded, and never more files equal than
		 * restored (the agent's "every hash equal" rests on it). */
		if (drill_restore_result_read(&up.data, &dr) == 0 &&
		    (dr.equal > dr.files || dr.rc > 0 || dr.rc < -4095))
			__builtin_trap();
		if (memchr(dr.err, '\0', sizeof(dr.err)) == NULL)
			__builtin_trap();
	}
	msgpack_unpacked_destroy(&up);
	return 0;
}
