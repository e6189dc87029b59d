/* libFuzzer harness: the arguments of a drill command (a msgpack map a
 * collector signed) through the agent's checks before any injection.
 * The collector may be compromised: whatever the bytes, the parser must
 * not crash, and what it accepts must keep the drill's safety rules (an
 * approver, an open window within the agents' limit, at most a bare
 * file name in the drill folder, a bounded duration and count). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <msgpack.h>

#include "agent/drill/drill_args.h"
#include "common/wire.h"

/* A fixed "now" (2026-12-02): the window checks are then deterministic. */
#define FUZZ_NOW_US 1796169600000000LL

/* The only bytes a drill file name may hold, on Linux and Windows. */
#define PORTABLE                                                   \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* As on the wire: the frame's msgpack is checked (sizes against the
	 * bytes present, depth) before it is unpacked. */
	if (wire_check_msgpack((const char *)data, size, 8) != 0)
		return 0;
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, (const char *)data, size, NULL) ==
	    MSGPACK_UNPACK_SUCCESS) {
		struct drill_args a;
		char result[256];
		if (drill_args_parse(&up.data, FUZZ_NOW_US, &a, result,
				     sizeof(result)) == 0) {
			if (a.approver[0] == '\0' || a.campaign_id == 0 ||
			    a.window_end_us <= FUZZ_NOW_US ||
			    a.window_end_us - FUZZ_NOW_US > DRILL_WINDOW_MAX_US ||
			    a.duration_s < 0 ||
			    a.duration_s > DRILL_DURATION_MAX_S ||
			    a.count < 0 || a.count > DRILL_COUNT_MAX ||
			    a.file[0] == '.' || strstr(a.file, "..") != NULL ||
			    strlen(a.file) > DRILL_FILE_NAME_MAX ||
			    strspn(a.file, PORTABLE) != strlen(a.file))
				__builtin_trap();
		} else if (result[0] == '\0') {
			__builtin_trap(); /* a refusal always says why */
		}
	}
	msgpack_unpacked_destroy(&up);
	return 0;
}
