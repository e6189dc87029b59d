/* ransom_model: the detector's behaviour model (ransom_model.h). */
#include "agent/ransom/ransom_model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"

/* Recent names remembered (new files, and high-entropy new files by
 * stem), in tables that forget the oldest on collision: a burst larger
 * than this only forgets that some file was new, which can make it look
 * like a rewrite, never hide one. */
#define RECENT_SLOTS 8192
#define ACTORS 32
/* Acts remembered per actor, newest last; the threshold is capped to it. */
#define ACTS_MAX 1024
/* A new high-entropy file and a deletion in its folder this close are
 * one encryption whatever the names (ciphertext written to a random
 * name, the original deleted). */
#define PAIR_US 2000000
/* Canaries remembered for their rate limit (one per watched root). */
#define CANARIES_SEEN 32

struct recent {
	uint64_t key; /* 0: empty */
	int64_t at_us;
	unsigned unpaired; /* dirs only: new ciphertext-like files */
};

struct actor {
	bool used;
	uint32_t id;
	int64_t last_us;
	size_t head, count; /* ring of acts' times */
	int64_t acts[ACTS_MAX];
	double entropy_max;
	unsigned nexamples;
	char examples[RANSOM_EXAMPLES][RANSOM_PATH_MAX];
};

struct ransom_model {
	struct ransom_params p;
	struct recent created[RECENT_SLOTS];
	struct recent stems[RECENT_SLOTS];
	struct recent dirs[RECENT_SLOTS]; /* folders with new high-entropy files */
	struct actor actors[ACTORS];
	struct recent canaries[CANARIES_SEEN]; /* last verdict per canary */
	struct ransom_model_stats stats;
};

struct ransom_model *ransom_model_new(const struct ransom_params *p)
{
	struct ransom_model *m = alloc_zeroed(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->p = *p;
	if (m->p.threshold == 0)
		m->p.threshold = 1;
	if (m->p.threshold > ACTS_MAX)
		m->p.threshold = ACTS_MAX;
	return m;
}

void ransom_model_free(struct ransom_model *m)
{
	alloc_free(m);
}

double ransom_entropy(const unsigned char *buf, size_t n)
{
	size_t count[256] = {0};
	if (n < RANSOM_SAMPLE_MIN)
		return -1;
	for (size_t i = 0; i < n; i++)
		count[buf[i]]++;
	double h = 0;
	for (int b = 0; b < 256; b++) {
		if (count[b] == 0)
			continue;
		double q = (double)count[b] / (double)n;
		h -= q * log2(q);
	}
	return h;
}

/* FNV-1a over n bytes, never 0 (0 marks an empty slot). */
static uint64_t key_of(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h ? h : 1;
}

/* The length of path without its last extension (".locked" of
 * "a.doc.locked"); a leading dot of a hidden name is not one. */
static size_t stem_len(const char *path)
{
	size_t n = strlen(path);
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	const char *dot = strrchr(base, '.');
	return dot && dot > base ? (size_t)(dot - path) : n;
}

static const char *ext_of(const char *path)
{
	size_t n = stem_len(path);
	return path[n] == '.' ? path + n : "";
}

/* Formats whose content is compressed already: overwriting one with
 * high-entropy bytes is no jump in entropy (re-importing photos over
 * themselves, saving a .docx), and renaming to one is what converters
 * and tidy-up tools do. Ransomware's extensions are its own. */
static const char *const compressed_exts[] = {
	".7z",	 ".apk", ".avi", ".bz2", ".docx", ".epub", ".gif",  ".gz",
	".heic", ".jar", ".jpeg", ".jpg", ".m4a", ".mkv",  ".mov",  ".mp3",
	".mp4",	 ".odp", ".ods", ".odt", ".pdf", ".png",  ".pptx", ".rar",
	".webm", ".webp", ".xlsx", ".xz", ".zip", ".zst",
};

static bool compressed(const char *ext)
{
	for (size_t i = 0; i < sizeof(compressed_exts) / sizeof(*compressed_exts);
	     i++)
		if (strcasecmp(ext, compressed_exts[i]) == 0)
			return true;
	return false;
}

static void recent_put(struct recent *t, uint64_t key, int64_t at)
{
	struct recent *r = &t[key % RECENT_SLOTS];
	r->key = key;
	r->at_us = at;
}

static bool recent_has(const struct recent *t, const struct ransom_params *p,
		       uint64_t key, int64_t at)
{
	const struct recent *r = &t[key % RECENT_SLOTS];
	return r->key == key && at - r->at_us <= p->window_us;
}

static void recent_forget(struct recent *t, uint64_t key)
{
	struct recent *r = &t[key % RECENT_SLOTS];
	if (r->key == key)
		r->key = 0;
}

static uint64_t dir_key(const char *path)
{
	const char *slash = strrchr(path, '/');
	return key_of(path, slash ? (size_t)(slash - path) : 0);
}

/* A new high-entropy file in path's folder, to be paired with one
 * deletion there. */
static void dir_new_file(struct ransom_model *m, const char *path, int64_t at)
{
	uint64_t key = dir_key(path);
	struct recent *r = &m->dirs[key % RECENT_SLOTS];
	if (r->key == key && at - r->at_us <= PAIR_US)
		r->unpaired++;
	else
		r->unpaired = 1;
	r->key = key;
	r->at_us = at;
}

/* A deletion of an old file: true when a new high-entropy file in the
 * same folder, not paired yet, was written just before. */
static bool dir_pairs(struct ransom_model *m, const char *path, int64_t at)
{
	uint64_t key = dir_key(path);
	struct recent *r = &m->dirs[key % RECENT_SLOTS];
	if (r->key != key || at - r->at_us > PAIR_US || r->unpaired == 0)
		return false;
	r->unpaired--;
	return true;
}

/* True when this canary gave its verdict within the window (a program
 * rewriting it in a loop is one alert, not thousands); else remembers
 * it now, in place of the oldest. */
static bool canary_said(struct ransom_model *m, uint64_t key, int64_t at)
{
	struct recent *oldest = &m->canaries[0];
	for (int i = 0; i < CANARIES_SEEN; i++) {
		struct recent *r = &m->canaries[i];
		if (r->key == key && at - r->at_us <= m->p.window_us)
			return true;
		if (r->key == key || r->at_us < oldest->at_us || r->key == 0)
			oldest = r;
		if (r->key == key || r->key == 0)
			break;
	}
	oldest->key = key;
	oldest->at_us = at;
	return false;
}

static struct actor *actor_of(struct ransom_model *m, uint32_t id)
{
	struct actor *free_one = NULL, *oldest = &m->actors[0];
	for (int i = 0; i < ACTORS; i++) {
		struct actor *a = &m->actors[i];
		if (a->used && a->id == id)
			return a;
		if (!a->used && free_one == NULL)
			free_one = a;
		if (a->last_us < oldest->last_us)
			oldest = a;
	}
	struct actor *a = free_one ? free_one : oldest;
	memset(a, 0, sizeof(*a));
	a->used = true;
	a->id = id;
	return a;
}

/* Drops the acts older than the window. */
static void actor_expire(struct actor *a, const struct ransom_params *p,
			 int64_t now)
{
	while (a->count > 0 && now - a->acts[a->head] > p->window_us) {
		a->head = (a->head + 1) % ACTS_MAX;
		a->count--;
	}
	if (a->count == 0) {
		a->nexamples = 0;
		a->entropy_max = 0;
	}
}

static void fill(struct ransom_verdict *v, const struct actor *a,
		 const char *reason, unsigned score, int64_t first, int64_t last)
{
	memset(v, 0, sizeof(*v));
	v->reason = reason;
	v->actor = a->id;
	v->score = score;
	v->first_us = first;
	v->last_us = last;
	v->entropy_max = a->entropy_max;
	v->nexamples = a->nexamples;
	memcpy(v->examples, a->examples, sizeof(v->examples));
}

/* One suspicious act of actor a; true when it completes a burst. */
static bool act(struct ransom_model *m, struct actor *a,
		const struct ransom_fact *f, struct ransom_verdict *v)
{
	a->acts[(a->head + a->count) % ACTS_MAX] = f->at_us;
	if (a->count < ACTS_MAX)
		a->count++;
	else
		a->head = (a->head + 1) % ACTS_MAX;
	if (f->entropy > a->entropy_max)
		a->entropy_max = f->entropy;
	if (a->nexamples < RANSOM_EXAMPLES)
		snprintf(a->examples[a->nexamples++], RANSOM_PATH_MAX, "%s",
			 f->path);
	if (a->count > m->stats.max_score)
		m->stats.max_score = (unsigned)a->count;
	if (a->count < m->p.threshold)
		return false;
	fill(v, a, "burst", (unsigned)a->count, a->acts[a->head], f->at_us);
	a->count = 0;
	a->nexamples = 0;
	a->entropy_max = 0;
	m->stats.verdicts++;
	return true;
}

bool ransom_model_feed(struct ransom_model *m, const struct ransom_fact *f,
		       struct ransom_verdict *v)
{
	const struct ransom_params *p = &m->p;
	struct actor *a = actor_of(m, f->actor);
	bool high = f->entropy >= p->entropy_min;
	uint64_t key = key_of(f->path, strlen(f->path));
	m->stats.facts++;
	a->last_us = f->at_us;
	actor_expire(a, p, f->at_us);
	/* A canary touched again within the window is an act of the burst
	 * (its first touch was the alert, and counts in the burst too). */
	if (f->canary && canary_said(m, key, f->at_us))
		return act(m, a, f, v);
	if (f->canary) {
		a->acts[(a->head + a->count) % ACTS_MAX] = f->at_us;
		if (a->count < ACTS_MAX)
			a->count++;
		else
			a->head = (a->head + 1) % ACTS_MAX;
		struct actor one = *a;
		one.nexamples = 1;
		snprintf(one.examples[0], RANSOM_PATH_MAX, "%s", f->path);
		if (f->entropy > one.entropy_max)
			one.entropy_max = f->entropy;
		fill(v, &one, "canary", 1, f->at_us, f->at_us);
		m->stats.verdicts++;
		if (m->stats.max_score < 1)
			m->stats.max_score = 1;
		return true;
	}
	switch (f->op) {
	case RANSOM_CREATED:
		recent_put(m->created, key, f->at_us);
		return false;
	case RANSOM_WRITTEN:
		if (!recent_has(m->created, p, key, f->at_us))
			return high && !compressed(ext_of(f->path)) &&
			       act(m, a, f, v);
		if (high) {
			recent_put(m->stems, key_of(f->path, stem_len(f->path)),
				   f->at_us);
			dir_new_file(m, f->path, f->at_us);
		}
		return false;
	case RANSOM_RENAMED: {
		const char *old = f->old_path ? f->old_path : "";
		uint64_t okey = key_of(old, strlen(old));
		if (recent_has(m->created, p, okey, f->at_us)) {
			/* A new file moved into place: still new. */
			recent_forget(m->created, okey);
			recent_put(m->created, key, f->at_us);
			if (high) {
				recent_put(m->stems,
					   key_of(f->path, stem_len(f->path)),
					   f->at_us);
				dir_new_file(m, f->path, f->at_us);
			}
			return false;
		}
		return high && strcasecmp(ext_of(old), ext_of(f->path)) != 0 &&
		       !compressed(ext_of(f->path)) && act(m, a, f, v);
	}
	case RANSOM_REMOVED:
		if (recent_has(m->created, p, key, f->at_us)) {
			recent_forget(m->created, key);
			return false;
		}
		if (recent_has(m->stems, p, key, f->at_us) ||
		    recent_has(m->stems, p, key_of(f->path, stem_len(f->path)),
			       f->at_us)) {
			(void)dir_pairs(m, f->path, f->at_us);
			return act(m, a, f, v);
		}
		/* Ciphertext under a name unlike the original's. */
		return dir_pairs(m, f->path, f->at_us) && act(m, a, f, v);
	}
	return false;
}

void ransom_model_stats(const struct ransom_model *m,
			struct ransom_model_stats *out)
{
	*out = m->stats;
}
