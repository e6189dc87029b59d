/* ransom_watch: the ransomware detector at work: the platform's file
 * watcher (agent/platform/fswatch.h) feeding the behaviour model
 * (ransom_model.h), with the canaries it plants. Shared by the agent's
 * source (src_ransom.c) and the false-positive trials
 * (tests/bench/ransom_trial.c), so that a trial measures exactly what
 * the agent runs.
 *
 * Only paths, counts and scores leave this module: a file's content is
 * read (its first RANSOM_BLOCK bytes, as root, without following links
 * or opening FIFOs) to estimate its entropy and then forgotten. */
#ifndef EDUWATCH_RANSOM_WATCH_H
#define EDUWATCH_RANSOM_WATCH_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>

#include "agent/platform/fswatch.h"
#include "agent/ransom/ransom_model.h"

#define RANSOM_BLOCK 4096
/* The decoy each watched folder gets: hidden, a name ransomware that
 * walks a folder in order meets early, and no one opens by hand. */
#define RANSOM_CANARY_NAME ".~eduwatch-canary.docx"
#define RANSOM_ROOTS_MAX 17

struct ransom_watch_conf {
	const char *const *roots; /* borrowed for the call */
	size_t nroots;		  /* at most RANSOM_ROOTS_MAX */
	struct ransom_params params;
	/* The first ncanaries roots get a canary: the users' folders; the
	 * agent's own drill folder, last, needs none. */
	size_t ncanaries;
};

/* Called on the watcher's thread with a verdict (borrowed for the call)
 * and the root folder its actor is. */
typedef void (*ransom_verdict_fn)(void *arg, const struct ransom_verdict *v,
				const char *root);

struct ransom_watch_stats {
	struct ransom_model_stats model;
	struct fswatch_stats fs;
	unsigned canaries; /* planted and watched */
};

struct ransom_watch;

/* Plants the canaries (a folder where one cannot be planted safely gets
 * none, with a log line), then watches. 0, or a negative errno with err
 * saying what failed. */
EW_MUST_CHECK
int ransom_watch_start(const struct ransom_watch_conf *conf,
		       ransom_verdict_fn cb, void *arg, struct ransom_watch **out,
		       char *err, size_t errlen);
/* Stops watching, then removes the canaries that are still the files it
 * planted (never a file put in their place). NULL is a no-op. */
void ransom_watch_stop(struct ransom_watch *w);
void ransom_watch_stats(struct ransom_watch *w, struct ransom_watch_stats *out);

#endif
