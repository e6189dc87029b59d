/* scancli: `eduwatch-agent scan PATH... [--rules FILE|DIR] [--json]`.
 *
 * The same engine as the scheduled scans (scan.h), run in the foreground:
 * matches and errors on stdout, as text or one JSON object per line, and
 * a progress line on stderr when it is a terminal. Without --rules it
 * uses the installed bundle; --rules compiles rule files on the spot, so
 * an admin can try a set before publishing it. */
#ifndef EDUWATCH_SCANCLI_H
#define EDUWATCH_SCANCLI_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>

#include "agent/core/settings.h"

struct scancli_options {
	const char *const *paths;
	size_t npaths;
	const char *const *rules; /* --rules, repeatable */
	size_t nrules;
	const struct agent_settings *settings; /* NULL: no agent.yaml */
	bool json;
	bool verbose;	/* also list skipped files */
	bool no_cache;
	int jobs;	/* 0: one per CPU, at most 4 */
	int cpu;	/* percent per child; 0: unpaced */
};

/* Exit status: 0 nothing matched, 5 something matched, 1 the scan
 * failed, 3 no rules to scan with. */
EW_MUST_CHECK
int scancli_run(const struct scancli_options *opts);

#endif
