/* swap: installs an agent release by swapping a versioned binary
 * directory, so that a crash or a power cut at any moment leaves a PC
 * with an agent that starts.
 *
 *   ROOT/agent-<version>/   the executables of one release
 *   ROOT/current  -> agent-<version>    what the service runs
 *   ROOT/previous -> agent-<version>    kept for the rollback
 *
 * An install copies the release into ROOT/.agent-<version>.tmp (each
 * file written and fsynced), renames it to agent-<version>, points
 * `previous` at what `current` names, then points `current` at the new
 * directory; each link is made under a temporary name and renamed over
 * the old one, and ROOT is fsynced after each rename. `current` always
 * names a complete directory: the old one until the last rename, the new
 * one after. Leftovers of an interrupted install are removed by the next.
 * The agent's state (identity, spool) lives elsewhere and is never
 * touched. */
#ifndef EDUWATCH_SWAP_H
#define EDUWATCH_SWAP_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>

#define SWAP_VERSION_MAX 32

/* The version `current` (or `previous`) names, "" when the link is
 * missing. Returns 0 or a negative errno. */
EW_MUST_CHECK
int swap_version(const char *root, const char *link, char *out, size_t cap);

/* Orders two versions "1.2.10" > "1.2.9": <0, 0, >0. Returns -2 when
 * either is not digits separated by dots. */
int swap_version_cmp(const char *a, const char *b);

/* Installs the regular files of src as release `version` and makes it
 * current. Refuses (-EPERM, with a reason in err) a version that is not
 * newer than the current one unless rollback is set. Returns 0 or a
 * negative errno with err filled. */
EW_MUST_CHECK
int swap_install(const char *root, const char *src, const char *version,
		 bool rollback, char *err, size_t errlen);

/* The package's seed (its postinst): installs the files `names` (a NULL
 * ended list) beside this executable as release `version`, unless the current release
 * is as new or newer, which is kept (*kept set): the newest wins, whether
 * the package manager or the collector brought it. Returns 0 or a
 * negative errno with err filled. */
EW_MUST_CHECK
int swap_seed(const char *root, const char *const *names, const char *version,
	      bool *kept, char *err, size_t errlen);

/* Points `current` back at `previous` (the watchdog's restore). Returns
 * 0, -ENOENT when there is nothing to go back to, or a negative errno. */
EW_MUST_CHECK
int swap_restore_previous(const char *root, char *err, size_t errlen);

#endif
