/* tries: a release the watchdog restored is tried again, a few times.
 *
 * A restore may be the release's fault or the PC's moment (a network
 * down during the `within` window, a reboot mid-test): a PC that never
 * tried again would stay on the old release for good. So after the n-th
 * restore of a release the agent installs it again (from the verified
 * bundle it keeps, rules/agent.ewb) after upgrade.retry_restored_after,
 * doubled for each restore before (6h, 12h, 24h by default); after
 * UPGRADE_TRIES_MAX tries the release is given up ("final", reported so).
 *
 * The bookkeeping is one line in ROOT/tries, "RELEASE BUNDLE RESTORES
 * NEXT_US", kept across restarts and reboots; NEXT_US is 0 once final.
 * The logic is pure (tests/unit/test_upgrade_tries.c); tries_load and
 * tries_save only move the line to and from the file. */
#ifndef EDUWATCH_UPGRADE_TRIES_H
#define EDUWATCH_UPGRADE_TRIES_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/relpkg.h"

/* Tries after the first install: a release restored this many times
 * more is given up. */
#define UPGRADE_TRIES_MAX 3
/* The longest a line of ROOT/tries can be. */
#define UPGRADE_TRIES_LINE_MAX 96

struct upgrade_tries {
	char release[RELPKG_VERSION_MAX + 1]; /* "": nothing to try */
	uint64_t bundle;  /* its agent bundle, which a retry installs */
	int restores;	  /* how often it was restored */
	int64_t next_us;  /* when to install it again; 0: final */
};

/* Counts a restore of release (bundle) at now_us: a restore of another
 * release or bundle starts the count again. after_s: the first wait,
 * doubled for each restore before. */
void tries_note_restore(struct upgrade_tries *t, const char *release,
			uint64_t bundle, long long after_s, int64_t now_us);

/* Given up: restored once more than it may be tried, or its rollout
 * halted (tries_halt). */
bool tries_final(const struct upgrade_tries *t);

/* The collector halted the rollout of release (bundle): t gives it up
 * (final, next_us 0, its restores as they were), and also when none came
 * yet (an install under way when the halt came is not tried again once
 * restored). A line about an older bundle gives way; one about a newer
 * bundle stays. True when t changed. */
bool tries_halt(struct upgrade_tries *t, const char *release, uint64_t bundle);

/* Due for another install at now_us. */
bool tries_due(const struct upgrade_tries *t, int64_t now_us);

/* The line for ROOT/tries; returns its length (< cap). */
size_t tries_format(const struct upgrade_tries *t, char *out, size_t cap);

/* Reads a line tries_format wrote. Returns 0, or -EINVAL for anything
 * else (t is then emptied: a damaged file means no retry, never a
 * retry of something unknown). */
EW_MUST_CHECK
int tries_parse(const char *text, size_t len, struct upgrade_tries *t);

/* ROOT/tries: t is emptied when there is none or it is damaged. */
void tries_load(const char *root, struct upgrade_tries *t);

/* Writes ROOT/tries atomically. Returns 0 or a negative errno. */
EW_MUST_CHECK
int tries_save(const char *root, const struct upgrade_tries *t);

/* Removes ROOT/tries: the release it names ran healthy, or another
 * one replaced it. */
void tries_clear(const char *root);

#endif
