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

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <yara.h>

#include "common/bundle.h"

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

/* The THOR/LOKI "filetype" external: a short tag from the first bytes
 * ("EXE", "ELF", "ZIP", "PDF", "LNK", ...), or "" when unknown. */
const char *yararules_filetype(const unsigned char *head, size_t n);
/* Sets the externals of one file on a scanner: filename, filepath (its
 * folder), extension (lower case, with its dot), filetype and owner. */
void yararules_set_externals(YR_SCANNER *sc, const char *path,
			     const char *owner, const char *filetype);

/* The text of the rule files named by paths (as yararules_compile finds
 * them, in the same order), joined into one source, as a bundle carries
 * it. *out: NUL-terminated, free with alloc_free; *len excludes the NUL. */
EW_MUST_CHECK
int yararules_join(const char *const *paths, size_t npaths, char **out,
		   size_t *len, char *err, size_t errlen);

/* Compiles one source held in memory (len bytes, not necessarily
 * NUL-terminated), with the same externals as yararules_compile.
 * `include` is refused: a bundle's source must be whole, and an agent
 * must never read a file a rule names. A rule error gives "line N:
 * message" in err. Returns 0, -EINVAL (a rule error) or -ENOMEM. */
EW_MUST_CHECK
int yararules_compile_text(const char *text, size_t len, YR_RULES **out,
			   unsigned *nrules, char *err, size_t errlen);

/* Whether this build's libyara can use a rule bundle: it loads the
 * compiled form only when that libyara version made it (the compiled
 * form is libyara's internal serialisation, which trusts its input and
 * changes between versions), and otherwise needs the bundle's sources.
 * From the header alone, and inline, so that the resident Linux agent,
 * which does not link libyara, checks a bundle at install as the
 * scanner will load it. */
static inline bool yararules_bundle_own_version(const struct bundle_info *info)
{
	return strcmp(info->yara, YR_VERSION) == 0;
}
static inline bool yararules_bundle_usable(const struct bundle_info *info)
{
	return yararules_bundle_own_version(info) ||
	       info->compiled_len < info->raw_len;
}

/* Loads a verified rule bundle's payload (bundle_open's info and raw):
 * the compiled form when this libyara made it, otherwise the signed
 * sources compiled here. *compiled_here says which. Returns 0, or
 * -EPROTO (unusable here), -EBADMSG or -EINVAL with a reason. */
EW_MUST_CHECK
int yararules_from_bundle(const struct bundle_info *info, const void *raw,
			  size_t raw_len, YR_RULES **out, bool *compiled_here,
			  char *err, size_t errlen);

#endif
