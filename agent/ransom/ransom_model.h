/* ransom_model: the ransomware detector's behaviour model (issue 19),
 * pure: no clock, no file system, no threads. The watcher (fswatch.h)
 * turns what it sees into facts, each with the entropy of a sampled
 * block when it read one; this module decides.
 *
 * A verdict is raised when one actor (the writing process when the
 * platform names it, else the watched folder tree the acts happened in)
 * reaches `threshold` suspicious acts within `window_us`:
 *   - a file that existed before the window rewritten with content of
 *     high entropy, when its format was not compressed already (a jump
 *     in entropy: an in-place encryption of a document);
 *   - an existing file renamed to a new extension (not a compressed
 *     format's, not a change of case) with high-entropy content (the
 *     *.locked step);
 *   - an existing file removed just after a high-entropy file named
 *     after it appeared (write a.doc.enc or a.locked, delete a.doc).
 * New files are never suspicious by themselves, whatever their entropy:
 * unpacking, compiling, copying photos and a backup writing its
 * repository all create files, and a JPEG or a pack file is as random
 * as ciphertext. A file created (or renamed into place) within the
 * window is new for the whole window, so an atomic save (write a temp,
 * rename it over) is not a rewrite. Any act on a canary is a verdict at
 * once. One verdict per burst: the actor's count restarts after it. */
#ifndef EDUWATCH_RANSOM_MODEL_H
#define EDUWATCH_RANSOM_MODEL_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A block this small says little about its source's entropy (n bytes
 * reach at most log2(n) bits); below it the entropy is "unknown". */
#define RANSOM_SAMPLE_MIN 256
#define RANSOM_EXAMPLES 5
#define RANSOM_PATH_MAX 256

struct ransom_params {
	int64_t window_us;
	unsigned threshold;   /* suspicious acts in the window */
	double entropy_min;   /* bits per byte that count as "high" */
};

enum ransom_op {
	RANSOM_CREATED, /* a new name appeared (created or moved in) */
	RANSOM_WRITTEN, /* closed after writing */
	RANSOM_RENAMED, /* old_path -> path, both watched */
	RANSOM_REMOVED, /* deleted, or moved out of the watch */
};

struct ransom_fact {
	enum ransom_op op;
	int64_t at_us;
	uint32_t actor;
	const char *path;
	const char *old_path; /* RENAMED only */
	double entropy;	      /* of path's sample; < 0: unknown */
	bool canary;	      /* path (or old_path) is a canary */
};

struct ransom_verdict {
	const char *reason; /* "canary" or "burst" (static) */
	uint32_t actor;
	unsigned score; /* suspicious acts in the window */
	int64_t first_us, last_us;
	double entropy_max;
	unsigned nexamples;
	char examples[RANSOM_EXAMPLES][RANSOM_PATH_MAX];
};

struct ransom_model;

/* NULL on allocation failure. _free(NULL) is a no-op. */
struct ransom_model *ransom_model_new(const struct ransom_params *p);
void ransom_model_free(struct ransom_model *m);

/* Feeds one fact (borrowed). true with *v filled when it raises a
 * verdict. Facts arrive in time order per actor. */
EW_MUST_CHECK
bool ransom_model_feed(struct ransom_model *m, const struct ransom_fact *f,
		       struct ransom_verdict *v);

/* For trials and the status line: facts seen, the highest score any
 * actor reached, verdicts raised. */
struct ransom_model_stats {
	unsigned long long facts;
	unsigned max_score;
	unsigned long long verdicts;
};
void ransom_model_stats(const struct ransom_model *m,
			struct ransom_model_stats *out);

/* Shannon entropy of buf in bits per byte (0..8); -1 when n is below
 * RANSOM_SAMPLE_MIN. */
double ransom_entropy(const unsigned char *buf, size_t n);

#endif
