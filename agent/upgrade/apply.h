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
#include <stdint.h>

#include "common/relpkg.h"

/* Unpacks and installs a release as published (a signed release file or
 * a bare payload, relpkg.h). release_key: the PEM public key the agent
 * pins (agent.yaml upgrade.release_key), "" for none; with one, only a
 * release its key signed is installed, whatever signed the bundle, and
 * a key that cannot be read refuses every release. release gets its
 * version, left the version it replaced ("" if none). Returns 0, -EPERM
 * for a refusal (not signed by the release key, downgrade, same
 * version), or a negative errno; err says why. */
EW_MUST_CHECK
int upgrade_apply(const char *state_dir, const char *root,
		  const char *release_key, const void *published,
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

/* The pending marker, ROOT/pending: a release installed but not yet seen
 * healthy, and until when it may take. The watchdog process is the first
 * line, but under systemd it lives in the service's cgroup and dies with
 * it (a stop, a restart, a crash of the unit); so the agent itself checks
 * the marker when it starts and on every status tick, and restores the
 * previous release once the deadline has passed without it being
 * healthy. The deadline is twice `within`, leaving the watchdog, when it
 * lives, the first move. */
enum upgrade_pending {
	UPGRADE_NONE,	   /* no marker, or one about another release */
	UPGRADE_WAITING,   /* this release, not healthy yet, in time */
	UPGRADE_CONFIRMED, /* healthy: the marker is removed */
	UPGRADE_RESTORED,  /* too late: previous is current, note written */
};

/* Marks release pending until now + 2 * within_s. Returns 0 or a
 * negative errno. */
EW_MUST_CHECK
int upgrade_mark_pending(const char *root, const char *release,
			 long long within_s);

/* What to do about the marker for the release that runs; healthy: it is
 * connected and has had events acked. A restore writes ROOT/last-restore
 * as the watchdog does. */
enum upgrade_pending upgrade_check_pending(const char *root,
					   const char *running, bool healthy,
					   char *why, size_t cap);

/* Removes the marker (the watchdog's verdict, either way). */
void upgrade_clear_pending(const char *root);

/* Takes the watchdog's note (ROOT/last-restore) once: fills why, and
 * failed with the release it undid ("" if the note does not say), returns
 * true, and marks it taken. The collector matches a restore to its
 * rollout by that release. */
bool upgrade_take_restore_note(const char *root,
			       char failed[RELPKG_VERSION_MAX + 1], char *why,
			       size_t cap);

/* Which of failed (a bit per agent source that failed to start) are new
 * with the release that runs: a source that failed the same way under
 * the release before is the PC's trouble, not this release's, and must
 * not count against its rollout. Records running and failed in
 * ROOT/sources-failed for the next start. Returns 0 when the release
 * is the one recorded, or nothing is recorded (nothing to compare). */
uint32_t upgrade_new_failures(const char *root, const char *running,
			      uint32_t failed);

#endif
