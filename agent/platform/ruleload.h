/* ruleload: whether this agent's scanner can use a rule bundle, asked
 * before the bundle replaces the installed one.
 *
 * A bundle carries the rules compiled by the collector's libyara and the
 * sources they came from (common/bundle.h); the compiled form is loaded
 * only by the libyara version that made it, and any other compiles the
 * signed sources (docs/DECISIONS.md, "Rule bundles across libyara
 * versions"). On Linux the resident agent does not link libyara (its
 * scanner helper does), so the check reads the signed header only: the
 * same version, or sources to compile. On Windows the agent loads the
 * bundle into its own libyara now, compiling the sources when it must, so
 * a bundle it cannot use is refused at install with libyara's reason and
 * the count it reports is the one libyara loaded. */
#ifndef EDUWATCH_RULELOAD_H
#define EDUWATCH_RULELOAD_H

#include "common/check.h"

#include <stddef.h>
#include <stdint.h>

#include "common/bundle.h"

/* info and raw: a rule bundle whose signature has verified (bundle_open).
 * Fills *rules with the rule count to report. Returns 0, or a negative
 * errno with the reason in err. */
EW_MUST_CHECK
int ruleload_accept(const struct bundle_info *info, const void *raw,
		    size_t raw_len, uint64_t *rules, char *err, size_t errlen);

#endif
