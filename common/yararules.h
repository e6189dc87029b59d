/* yararules: YARA rule sets, compiled from source or loaded from a bundle.
 *
 * The collector compiles rules to publish them, the agent's `scan --rules`
 * compiles them on the spot, and the scanner child loads the compiled
 * form; all three go through here so that a rule behaves the same in each.
 * Every rule set gets the external variables that real collections (the
 * THOR/LOKI family) expect: filename, filepath, extension, filetype and
 * owner, as strings; the scanner sets them per file. */
#ifndef EDUWATCH_YARARULES_H
#define EDUWATCH_YARARULES_H

#include "common/check.h"

#include <stddef.h>

#include <yara.h>

#define YARARULES_NEXTERNALS 5
extern const char *const yararules_externals[YARARULES_NEXTERNALS];

/* Calls yr_initialize once per process; returns 0 or -ENOMEM. */
EW_MUST_CHECK
int yararules_init(void);

/* Compiles the rule files named by paths (a file, or a folder searched
 * recursively for *.yar and *.yara, in name order) into one rule set.
 * A rule that fails gives "FILE:LINE: message" in err. nrules may be
 * NULL. Returns 0, -EINVAL (a rule error) or another negative errno. */
EW_MUST_CHECK
int yararules_compile(const char *const *paths, size_t npaths,
		      YR_RULES **out, unsigned *nrules, char *err,
		      size_t errlen);

/* A SHA-256 over the rule files' names and contents (hex), the version of
 * rules compiled on the spot: the scan cache keys on it. */
EW_MUST_CHECK
int yararules_digest(const char *const *paths, size_t npaths, char hex[65],
		     char *err, size_t errlen);

/* libyara's serialised form, for a bundle. *out: free with alloc_free. */
EW_MUST_CHECK
int yararules_save(YR_RULES *rules, char **out, size_t *len);
EW_MUST_CHECK
int yararules_load(const void *raw, size_t len, YR_RULES **out);
unsigned yararules_count(YR_RULES *rules);

#endif
