/* drill_args: the arguments of a drill command, checked before any
 * injection touches the disk.
 *
 * The command itself passed command_verify (signed by the collector's CA,
 * for this agent, not expired, not replayed). These are the drill's own
 * rules on top, held by the agent even if the collector erred:
 *   - the command names an approved campaign (a second person's name);
 *   - the campaign's window is open now and ends within the agents'
 *     limit on a command's life (a far-future window is refused: a
 *     drill that never ends is not a drill);
 *   - no path of the collector's choosing: at most a bare file name
 *     (one component of portable characters, not hidden, no "..", at
 *     most DRILL_FILE_NAME_MAX bytes) inside the drill folder;
 *   - a duration, when the scenario has one, within its bound;
 *   - a count of files (ransomware-sim's documents), within its bound.
 * Untrusted bytes (the collector could be compromised): fuzzed by
 * tests/fuzz/fuzz_drill_args.c. */
#ifndef EDUWATCH_DRILL_ARGS_H
#define EDUWATCH_DRILL_ARGS_H

#include "common/check.h"

#include <limits.h>
#include <stdint.h>
#include <stddef.h>

#include <msgpack.h>

/* A drill window may end at most this far ahead: the agents' limit on
 * a command's life (command_verify), with a minute for clock skew. */
#define DRILL_WINDOW_MAX_US ((7LL * 86400 + 60) * 1000000LL)
/* A scenario runs at most a day (agent-silence holds the uplink that long at most). */
#define DRILL_DURATION_MAX_S (86400LL)
/* ransomware-sim writes at most this many documents. */
#define DRILL_COUNT_MAX 200
/* A drill file's name: the scenario's own, short. */
#define DRILL_FILE_NAME_MAX 64

struct drill_args {
	uint64_t campaign_id;
	char campaign[65];
	char approver[65];
	int64_t window_end_us;
	char file[NAME_MAX + 1]; /* "" when the command names none */
	long long duration_s;	 /* 0 when the command has none */
	long long count;	 /* 0 when the command has none, else
				  * 1..DRILL_COUNT_MAX */
};

/* Reads and checks args against the clock now_us. 0, or a negative errno
 * with a sentence for the collector in result: -EINVAL (not a campaign's
 * command), -EPERM (not approved, or a path out of the drill folder),
 * -ETIMEDOUT (the window has closed), -ERANGE (a far-future window, an
 * out-of-range duration or count). */
EW_MUST_CHECK
int drill_args_parse(const msgpack_object *args, int64_t now_us,
		     struct drill_args *out, char *result, size_t cap);

#endif
