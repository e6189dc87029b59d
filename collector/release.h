/* release: agent releases and their rollout in rings.
 *
 * `agent-release publish FILE|DIR --channel pilot|stable [--rollback]`
 * signs a release (a file the offline release key signed, relpkg.h, or
 * the files of DIR, named agent-<version>, when no release key is set)
 * as an "agent" bundle, exactly as rule bundles are signed (rulepub.h),
 * and records the release. The
 * daemon then looks at the newest release every releases.check_every:
 *
 *   pilot   the PCs of releases.pilot_agents and releases.pilot_schools
 *           are offered it (a signed agent.upgrade command naming the
 *           bundle); once releases.pilot_soak has passed, at least one
 *           of them runs it and every other one has failed or been
 *           silent for longer than releases.pilot_wait, the release
 *           goes stable (why says how the pilot ended);
 *   stable  every other PC, in a fixed order, at
 *           releases.stable_percent_per_hour; done when all run it.
 *
 * A PC counts as upgraded when its agent.start names the release and
 * reached the collector after the offer (the collector's receive time,
 * never the PC's clock); as failed when it reports this release (its
 * bundle id when refused, its version when the watchdog restored the one
 * before) refused, restored, given up ("final", after the agent's own
 * tries) or, running it, in error after the offer, or was heard from after
 * the offer but does not run it within releases.reconnect_within (a PC
 * off since before the offer is waiting, not failing). A ring halts when
 * its failed PCs reach releases.halt_percent of those offered, number at
 * least releases.halt_min_failures and come from at least
 * releases.halt_min_schools schools (each minimum capped at what the
 * ring offered): one PC, or one school's broken network, cannot stop a
 * province's rollout. Halted, it records why, nothing more is offered,
 * its unsent offers are withdrawn and each PC offered it that does not
 * run it gets "agent.upgrade.halted": one the watchdog restored gives
 * the release up instead of installing it again (agent/upgrade/tries.h).
 * A newer publication supersedes (halts) the one before. */
#ifndef EDUWATCH_RELEASE_H
#define EDUWATCH_RELEASE_H

#include "common/check.h"

#include <stdbool.h>
#include <stdint.h>

#include "collector/ca.h"
#include "collector/settings.h"
#include "collector/store.h"

/* Publishes and records the release at path: a signed release file
 * (`agent-release sign`, relpkg.h), whose rollback mark is signed in
 * (rollback must be false), or a folder agent-VERSION, packed here. With
 * releases.release_key set, only a file whose signature verifies
 * against that key is published (-EPERM otherwise). Returns 0 or a
 * negative errno with a reason. */
EW_MUST_CHECK
int release_publish(struct store *st, struct ca *ca, const struct settings *s,
		    const char *path, const char *channel, bool rollback,
		    struct store_release *out, char *err, size_t errlen);

/* One ring's PCs. */
struct release_ring {
	uint64_t pcs;	   /* in the ring */
	uint64_t offered;
	uint64_t upgraded;
	uint64_t failed;
	uint64_t silent; /* not heard from for over releases.pilot_wait */
	/* Distinct schools of the PCs offered and of those failed, counted
	 * up to RELEASE_SCHOOLS_COUNTED. */
	uint64_t offered_schools;
	uint64_t failed_schools;
	char first_failure[200]; /* "AGENT: reason" of one failed PC */
};

/* How far r got in each ring, as of now_us. */
EW_MUST_CHECK
int release_progress(struct store *st, const struct settings *s,
		     const struct store_release *r, int64_t now_us,
		     struct release_ring *pilot, struct release_ring *stable);

/* Moves the newest release's rollout on (the daemon's timer). Returns 0
 * or a negative errno; -ENOTSUP on a store without releases. */
EW_MUST_CHECK
int release_tick(struct store *st, struct ca *ca, const struct settings *s,
		 int64_t now_us);

#endif
