/* apply: what the running agent does with an agent release the collector
 * pushed (a signed "agent" bundle, already verified by rulestore.h).
 *
 * The payload (common/relpkg.h) is unpacked into
 * <state_dir>/upgrade/incoming-<release>/, refused if its release is not
 * newer than ROOT/current unless it is marked rollback, and installed by
 * swap.h. The agent then starts a watchdog from the release it leaves
 * (known good) and re-executes itself from ROOT/current; the watchdog
 * puts the previous release back if the new one does not connect and get
 * events acked in time, and leaves ROOT/last-restore saying why, which
 * the restored agent reports. */
#ifndef EDUWATCH_UPGRADE_APPLY_H
#define EDUWATCH_UPGRADE_APPLY_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>

#include "common/relpkg.h"

/* Unpacks and installs a release payload. release gets its version,
 * left the version it replaced ("" if none). Returns 0, -EPERM for a
 * refusal (downgrade, same version), or a negative errno; err says why. */
EW_MUST_CHECK
int upgrade_apply(const char *state_dir, const char *root, const void *payload,
		  size_t len, char release[RELPKG_VERSION_MAX + 1],
		  char left[RELPKG_VERSION_MAX + 1], char *err, size_t errlen);

/* Starts `ROOT/agent-<left>/eduwatch-agent upgrade watch` in its own
 * session, so it outlives this process's exec. restart: the watchdog
 * itself starts the restored agent (no service manager does). */
EW_MUST_CHECK
int upgrade_spawn_watchdog(const char *root, const char *left,
			   const char *config, long long within_s,
			   bool restart);

/* The release this executable belongs to: the <version> of the
 * agent-<version> folder it runs from, "" when it runs from elsewhere. */
void upgrade_running_release(char *out, size_t cap);

/* Takes the watchdog's note (ROOT/last-restore) once: fills why, and
 * failed with the release it undid ("" if the note does not say), returns
 * true, and marks it taken. The collector matches a restore to its
 * rollout by that release. */
bool upgrade_take_restore_note(const char *root,
			       char failed[RELPKG_VERSION_MAX + 1], char *why,
			       size_t cap);

#endif
