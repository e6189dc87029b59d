/* libFuzzer harness: ROOT/tries as the agent finds it at start, through
 * tries_parse (agent/upgrade/tries.h). The agent wrote it, but a disk
 * error or a hand edit may leave anything there: whatever parses must
 * name a valid version, stay within the tries, and format back to a line
 * that parses the same. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/upgrade/tries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upgrade_tries a, b;
	char line[UPGRADE_TRIES_LINE_MAX + 1];
	if (tries_parse((const char *)data, size, &a) != 0) {
		if (a.release[0] || a.bundle || a.restores || a.next_us)
			abort(); /* a refusal leaves nothing to try */
		return 0;
	}
	if (!relpkg_version_ok(a.release) || a.restores < 0 ||
	    a.restores > UPGRADE_TRIES_MAX + 1 || a.next_us < 0)
		abort();
	size_t n = tries_format(&a, line, sizeof(line));
	if (tries_parse(line, n, &b) != 0 || memcmp(&a, &b, sizeof(a)) != 0)
		abort();
	return 0;
}
