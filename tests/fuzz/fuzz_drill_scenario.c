/* libFuzzer harness: a drill scenario file (rules/drills/NAME.yaml) through
 * the loader and its checks (known injection, known stages, the id a
 * file name). A scenario file is province data, but a bad one must be
 * refused with a message, never crash the collector. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "collector/drill/drill_scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct drill_scenario sc;
	char err[512];
	if (drill_scenario_parse("malware-drop", (const char *)data, size, &sc,
				 err, sizeof(err)) == 0) {
		/* Accepted: what the collector relies on must hold. */
		if (!drill_command_known(sc.command) ||
		    strcmp(sc.id, "malware-drop") != 0 ||
		    !sc.stages[DRILL_STAGE_INJECTED] ||
		    !sc.stages[DRILL_STAGE_CLEANED_UP])
			__builtin_trap();
	}
	return 0;
}
