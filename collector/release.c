/* release: agent releases rolled out in rings (release.h). */
#include "collector/release.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <msgpack.h>

#include "collector/agentcmd.h"
#include "collector/rulepub.h"
#include "common/alloc.h"
#include "common/errtext.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/pki.h"
#include "common/relpkg.h"
#include "common/wire.h"

#define HOUR_US (3600LL * 1000000LL)
#define OFFER_TTL_S (7 * 86400)

/* What the collector knows of one PC, from its host state. */
struct pc {
	char id[EVENT_AGENT_MAX + 1];
	char school[STORE_CODE_MAX + 1];
	char running[RELPKG_VERSION_MAX + 1]; /* agent.start's release */
	int64_t start_us;	/* received, on the collector's clock */
	char upgrade_state[16]; /* agent.upgrade's state */
	char upgrade_error[160];
	char upgrade_release[RELPKG_VERSION_MAX + 1]; /* the one it is about */
	uint64_t upgrade_version;			/* its bundle id */
	int64_t upgrade_us;				/* received */
	int64_t last_seen_us;
	bool pilot;
};

struct pcs {
	struct pc *v;
	size_t n, cap;
	const struct settings *s;
	int rc;
};

static bool in_pilot(const struct settings *s, const char *id,
		     const char *school)
{
	for (size_t i = 0; i < s->nrelease_pilot_agents; i++)
		if (strcmp(s->release_pilot_agents[i], id) == 0)
			return true;
	for (size_t i = 0; i < s->nrelease_pilot_schools; i++)
		if (strcmp(s->release_pilot_schools[i], school) == 0)
			return true;
	return false;
}

static void read_body(const struct store_host_row *r, struct pc *p)
{
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	if (r->body == NULL ||
	    msgpack_unpack_next(&up, r->body, r->body_len, NULL) !=
		    MSGPACK_UNPACK_SUCCESS ||
	    up.data.type != MSGPACK_OBJECT_MAP) {
		msgpack_unpacked_destroy(&up);
		return;
	}
	/* What a PC says of itself is copied, bounded, and only compared. */
	if (strcmp(r->kind, "agent.start") == 0) {
		if (wire_get_str(&up.data, "release", p->running,
				 sizeof(p->running)) != 0)
			p->running[0] = '\0';
		/* A PC's clock may be hours off, or set to win: when it
		 * started is when the collector heard it. */
		p->start_us = r->received_us;
	} else {
		if (wire_get_str(&up.data, "state", p->upgrade_state,
				 sizeof(p->upgrade_state)) != 0)
			p->upgrade_state[0] = '\0';
		if (wire_get_str(&up.data, "error", p->upgrade_error,
				 sizeof(p->upgrade_error)) != 0)
			p->upgrade_error[0] = '\0';
		if (wire_get_str(&up.data, "release", p->upgrade_release,
				 sizeof(p->upgrade_release)) != 0)
			p->upgrade_release[0] = '\0';
		wire_get_u64(&up.data, "version", &p->upgrade_version);
		p->upgrade_us = r->received_us;
	}
	msgpack_unpacked_destroy(&up);
}

static void on_host(void *arg, const struct store_host_row *r)
{
	struct pcs *l = arg;
	if (l->rc != 0)
		return;
	if (l->n == 0 || strcmp(l->v[l->n - 1].id, r->agent) != 0) {
		if (l->n == l->cap) {
			size_t cap = l->cap ? 2 * l->cap : 256;
			struct pc *p = alloc_resize(l->v, cap * sizeof(*p));
			if (p == NULL) {
				l->rc = -ENOMEM;
				return;
			}
			l->v = p;
			l->cap = cap;
		}
		struct pc *p = &l->v[l->n++];
		memset(p, 0, sizeof(*p));
		snprintf(p->id, sizeof(p->id), "%s", r->agent);
		snprintf(p->school, sizeof(p->school), "%s", r->school);
		p->last_seen_us = r->last_seen_us;
		p->pilot = in_pilot(l->s, p->id, p->school);
	}
	if (strcmp(r->kind, "agent.start") == 0 ||
	    strcmp(r->kind, "agent.upgrade") == 0)
		read_body(r, &l->v[l->n - 1]);
}

/* Every PC, pilot ones first, the rest in id order (the stable ring's
 * fixed order). */
static int by_ring_then_id(const void *a, const void *b)
{
	const struct pc *x = a, *y = b;
	if (x->pilot != y->pilot)
		return x->pilot ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* A release published to stable has one ring: every PC. */
static int load_pcs(struct store *st, const struct settings *s,
		    const struct store_release *r, struct pcs *l,
		    size_t *npilot)
{
	memset(l, 0, sizeof(*l));
	l->s = s;
	int rc = store_host_states(st, NULL, on_host, l);
	for (size_t i = 0; rc == 0 && strcmp(r->channel, "stable") == 0 &&
			   i < l->n; i++)
		l->v[i].pilot = false;
	if (rc == 0)
		rc = l->rc;
	if (rc != 0) {
		alloc_free(l->v);
		l->v = NULL;
		return rc;
	}
	if (l->n)
		qsort(l->v, l->n, sizeof(l->v[0]), by_ring_then_id);
	*npilot = 0;
	while (*npilot < l->n && l->v[*npilot].pilot)
		(*npilot)++;
	return 0;
}

/* When the i-th PC of the stable ring was offered the release: the
 * pace spreads the ring's n PCs over 100 / percent hours. */
static int64_t stable_offer_us(const struct store_release *r,
			       const struct settings *s, size_t i, size_t n)
{
	double per_pc = 100.0 * (double)HOUR_US /
			((double)s->release_percent_hour * (double)(n ? n : 1));
	return r->stable_us + (int64_t)(per_pc * (double)i);
}

/* SILENT: pending, and not heard from for longer than
 * releases.pilot_wait (a PC switched off for the summer). */
enum outcome { PENDING, UPGRADED, FAILED, SILENT };

/* The PC's last agent.upgrade, received after the offer, says this
 * release failed on it: refused (named by its bundle id), restored by
 * the watchdog, given up after its tries ("final"), or, running, that a
 * part of it failed ("error"). Reports about another release say
 * nothing of this one. */
static bool reported_failure(const struct pc *p, const struct store_release *r,
			     int64_t offered_us)
{
	if (p->upgrade_us < offered_us)
		return false;
	if (strcmp(p->upgrade_state, "refused") == 0)
		return p->upgrade_version == r->id;
	return strcmp(p->upgrade_release, r->release) == 0 &&
	       (strcmp(p->upgrade_state, "restored") == 0 ||
		strcmp(p->upgrade_state, "final") == 0 ||
		strcmp(p->upgrade_state, "error") == 0);
}

static enum outcome judge(const struct pc *p, const struct store_release *r,
			  const struct settings *s, int64_t offered_us,
			  int64_t now_us, char *why, size_t cap)
{
	/* First: an upgraded PC that reports errors after it connected has
	 * not upgraded well. */
	if (reported_failure(p, r, offered_us)) {
		snprintf(why, cap, "%s: %s: %s", p->id, p->upgrade_state,
			 p->upgrade_error[0] ? p->upgrade_error : "no reason");
		return FAILED;
	}
	if (strcmp(p->running, r->release) == 0 && p->start_us >= offered_us)
		return UPGRADED;
	/* Only a PC heard from since the offer has had it: one switched off
	 * for the holidays is waiting, not failing. One that took it and
	 * was never heard of again has failed. */
	if (p->last_seen_us >= offered_us &&
	    now_us - offered_us > s->release_within * 1000000LL) {
		snprintf(why, cap, "%s: not running release %s %llds after the "
			 "offer", p->id, r->release, (long long)s->release_within);
		return FAILED;
	}
	if (now_us - p->last_seen_us > s->release_pilot_wait * 1000000LL)
		return SILENT;
	return PENDING;
}

/* Distinct school codes, up to SETTINGS_HALT_SCHOOLS_MAX: enough to tell
 * whether a ring's failures reach releases.halt_min_schools. */
struct schools_seen {
	char code[SETTINGS_HALT_SCHOOLS_MAX][STORE_CODE_MAX + 1];
	uint64_t n;
};

static void note_school(struct schools_seen *seen, const char *code)
{
	for (uint64_t i = 0; i < seen->n; i++)
		if (strcmp(seen->code[i], code) == 0)
			return;
	if (seen->n < SETTINGS_HALT_SCHOOLS_MAX)
		snprintf(seen->code[seen->n++], sizeof(seen->code[0]), "%s",
			 code);
}

/* One ring's tally as it is counted. */
struct tally {
	struct release_ring *ring;
	struct schools_seen offered, failed;
};

static void count(struct tally *t, const struct pc *p, enum outcome o,
		  const char *why)
{
	struct release_ring *ring = t->ring;
	ring->offered++;
	note_school(&t->offered, p->school);
	if (o == UPGRADED)
		ring->upgraded++;
	if (o == SILENT)
		ring->silent++;
	if (o == FAILED) {
		note_school(&t->failed, p->school);
		if (ring->failed++ == 0)
			snprintf(ring->first_failure,
				 sizeof(ring->first_failure), "%s", why);
	}
	ring->offered_schools = t->offered.n;
	ring->failed_schools = t->failed.n;
}

static void progress_of(const struct pcs *l, size_t npilot,
			const struct settings *s, const struct store_release *r,
			int64_t now_us, struct release_ring *pilot,
			struct release_ring *stable)
{
	char why[200];
	struct tally tp = {.ring = pilot}, ts = {.ring = stable};
	memset(pilot, 0, sizeof(*pilot));
	memset(stable, 0, sizeof(*stable));
	pilot->pcs = npilot;
	stable->pcs = l->n - npilot;
	for (size_t i = 0; r->pilot_us && i < npilot; i++)
		count(&tp, &l->v[i],
		      judge(&l->v[i], r, s, r->pilot_us, now_us, why,
			    sizeof(why)), why);
	for (size_t i = 0; r->stable_us && i < r->queued && npilot + i < l->n;
	     i++) {
		int64_t at = stable_offer_us(r, s, i, stable->pcs);
		count(&ts, &l->v[npilot + i],
		      judge(&l->v[npilot + i], r, s, at, now_us, why,
			    sizeof(why)), why);
	}
}

int release_progress(struct store *st, const struct settings *s,
		     const struct store_release *r, int64_t now_us,
		     struct release_ring *pilot, struct release_ring *stable)
{
	struct pcs l;
	size_t npilot;
	int rc = load_pcs(st, s, r, &l, &npilot);
	if (rc != 0)
		return rc;
	progress_of(&l, npilot, s, r, now_us, pilot, stable);
	alloc_free(l.v);
	return 0;
}

/* A signed command about release r for agent: the offer
 * ("agent.upgrade": the bundle to fetch and what it holds) or the notice
 * that its rollout is halted ("agent.upgrade.halted"). */
static int release_command(struct store *st, struct ca *ca,
			   const struct store_release *r, const char *agent,
			   const char *type)
{
	bool is_offer = strcmp(type, "agent.upgrade") == 0;
	msgpack_sbuffer args;
	msgpack_packer pk;
	uint64_t id;
	msgpack_sbuffer_init(&args);
	msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, is_offer ? 3 : 2);
	wire_pack_kv_u64(&pk, "version", r->id);
	wire_pack_kv_str(&pk, "release", r->release);
	if (is_offer)
		wire_pack_kv_u64(&pk, "size", r->size);
	int rc = agentcmd_queue(st, ca, agent, type, &args, OFFER_TTL_S, &id);
	msgpack_sbuffer_destroy(&args);
	if (rc != 0)
		log_warn("release %s: cannot queue %s for %s: %s", r->release,
			 type, agent, uv_strerror(rc));
	return rc;
}

static int offer(struct store *st, struct ca *ca, const struct store_release *r,
		 const char *agent)
{
	return release_command(st, ca, r, agent, "agent.upgrade");
}

/* A halted release's notice: its unsent offers are withdrawn (a PC off
 * since never gets one), and each PC it was offered to that does not run
 * it is told, so that one the watchdog restored, or restores later, does
 * not install it again by itself (agent/upgrade/tries.h). Offered: the
 * pilot PCs once the pilot began, then the first `queued` stable ones. */
static void announce_halt(struct store *st, struct ca *ca,
			  const struct store_release *r, const struct pcs *l,
			  size_t npilot, int64_t offered_before_us)
{
	long long withdrawn = 0;
	size_t told = 0, end = npilot + r->queued;
	if (store_commands_withdraw(st, "agent.upgrade", offered_before_us,
				    store_now_us(), &withdrawn) != 0)
		log_warn("release %s: cannot withdraw its unsent offers",
			 r->release);
	for (size_t i = r->pilot_us ? 0 : npilot; i < end && i < l->n; i++)
		if (strcmp(l->v[i].running, r->release) != 0 &&
		    release_command(st, ca, r, l->v[i].id,
				    "agent.upgrade.halted") == 0)
			told++;
	log_info("release %s: %lld unsent offers withdrawn, %zu PCs told it "
		 "is halted", r->release, withdrawn, told);
}

static void halt(struct store_release *r, int64_t now_us, const char *ring,
		 const struct release_ring *g)
{
	snprintf(r->state, sizeof(r->state), "halted");
	snprintf(r->why, sizeof(r->why), "%s ring: %llu of %llu PCs offered "
		 "failed, in %llu school%s (first: %s)", ring,
		 (unsigned long long)g->failed, (unsigned long long)g->offered,
		 (unsigned long long)g->failed_schools,
		 g->failed_schools == 1 ? "" : "s", g->first_failure);
	r->ended_us = now_us;
	log_warn("release %s halted: %s", r->release, r->why);
}

static uint64_t at_most(uint64_t want, uint64_t have)
{
	return want < have ? want : have;
}

/* Enough failures, and from enough schools, that they are the release's
 * fault: one PC (or one hostile one), or one school's broken network,
 * cannot halt a province's rollout. The minimums never exceed what the
 * ring offered, so a pilot of one school can still halt. */
static bool too_many_failed(const struct settings *s,
			    const struct release_ring *g)
{
	return g->failed > 0 &&
	       g->failed * 100 >= (uint64_t)s->release_halt_percent * g->offered &&
	       g->failed >= at_most((uint64_t)s->release_halt_min_failures,
				    g->offered) &&
	       g->failed_schools >= at_most((uint64_t)s->release_halt_min_schools,
					    g->offered_schools);
}

/* After the soak, the pilot is done when one PC runs the release and
 * every other one has failed or been silent past releases.pilot_wait: a
 * PC the watchdog restored, or one off for the summer, must not hold a
 * province's rollout forever. Halting is judged before this. */
static bool pilot_done(const struct settings *s, const struct store_release *r,
		       const struct release_ring *g, int64_t now_us)
{
	return now_us - r->pilot_us >= s->release_soak * 1000000LL &&
	       g->upgraded > 0 &&
	       g->upgraded + g->failed + g->silent == g->offered;
}

/* The stable ring begins; why says how the pilot ended, for the
 * officers (agent-release status). */
static void promote(struct store_release *r, int64_t now_us,
		    const struct release_ring *g)
{
	snprintf(r->state, sizeof(r->state), "stable");
	r->stable_us = now_us;
	if (g->upgraded == g->offered)
		snprintf(r->why, sizeof(r->why), "pilot ring promoted: all %llu "
			 "PCs run it", (unsigned long long)g->upgraded);
	else
		snprintf(r->why, sizeof(r->why), "pilot ring promoted after "
			 "the soak: %llu of %llu PCs run it, %llu failed, %llu "
			 "silent past releases.pilot_wait (first failure: %s)",
			 (unsigned long long)g->upgraded,
			 (unsigned long long)g->offered,
			 (unsigned long long)g->failed,
			 (unsigned long long)g->silent,
			 g->failed ? g->first_failure : "none");
	log_info("release %s: %s; stable ring begins", r->release, r->why);
}

static void newest_active(void *arg, const struct store_release *r)
{
	struct store_release *out = arg;
	if (out->id == 0 && (strcmp(r->state, "pilot") == 0 ||
			     strcmp(r->state, "stable") == 0))
		*out = *r;
}

static int step(struct store *st, struct ca *ca, const struct settings *s,
		struct store_release *r, const struct pcs *l, size_t npilot,
		int64_t now_us)
{
	struct release_ring pilot, stable;
	size_t nstable = l->n - npilot;
	if (strcmp(r->state, "pilot") == 0 && r->pilot_us == 0) {
		r->pilot_us = now_us;
		for (size_t i = 0; i < npilot; i++)
			EW_IGNORE(offer(st, ca, r, l->v[i].id));
		log_info("release %s: offered to the %zu pilot PCs", r->release,
			 npilot);
		return 1;
	}
	progress_of(l, npilot, s, r, now_us, &pilot, &stable);
	if (strcmp(r->state, "pilot") == 0) {
		if (too_many_failed(s, &pilot)) {
			halt(r, now_us, "pilot", &pilot);
			announce_halt(st, ca, r, l, npilot, now_us + 1);
			return 1;
		}
		if (!pilot_done(s, r, &pilot, now_us))
			return 0;
		promote(r, now_us, &pilot);
	}
	if (too_many_failed(s, &stable)) {
		halt(r, now_us, "stable", &stable);
		announce_halt(st, ca, r, l, npilot, now_us + 1);
		return 1;
	}
	double hours = (double)(now_us - r->stable_us) / (double)HOUR_US;
	double due = (double)nstable * (double)s->release_percent_hour *
		     hours / 100.0;
	size_t want = due >= (double)nstable ? nstable : (size_t)due + 1;
	if (want > nstable)
		want = nstable;
	bool changed = false;
	for (; r->queued < want; r->queued++, changed = true)
		EW_IGNORE(offer(st, ca, r, l->v[npilot + r->queued].id));
	if (r->queued == nstable && stable.upgraded == nstable) {
		snprintf(r->state, sizeof(r->state), "done");
		r->ended_us = now_us;
		log_info("release %s: every PC runs it", r->release);
		changed = true;
	}
	return changed;
}

int release_tick(struct store *st, struct ca *ca, const struct settings *s,
		 int64_t now_us)
{
	struct store_release r = {0};
	int rc = store_release_list(st, newest_active, &r);
	if (rc != 0 || r.id == 0)
		return rc;
	struct pcs l;
	size_t npilot;
	if ((rc = load_pcs(st, s, &r, &l, &npilot)) != 0)
		return rc;
	if (step(st, ca, s, &r, &l, npilot, now_us))
		rc = store_release_put(st, &r);
	alloc_free(l.v);
	return rc;
}

/* The rollouts still moving, collected first: the store may not be
 * called from inside its own row callback. */
struct active {
	struct store_release v[8];
	size_t n;
};

static void collect_active(void *arg, const struct store_release *r)
{
	struct active *a = arg;
	if (a->n < sizeof(a->v) / sizeof(a->v[0]) &&
	    (strcmp(r->state, "pilot") == 0 || strcmp(r->state, "stable") == 0))
		a->v[a->n++] = *r;
}

/* A newer publication halts the rollouts before it. */
static int supersede(struct store *st, struct ca *ca, const struct settings *s,
		     const struct store_release *by)
{
	struct active a = {.n = 0};
	int rc = store_release_list(st, collect_active, &a);
	for (size_t i = 0; rc == 0 && i < a.n; i++) {
		struct store_release *r = &a.v[i];
		if (r->id == by->id)
			continue;
		snprintf(r->state, sizeof(r->state), "halted");
		snprintf(r->why, sizeof(r->why), "superseded by release %s "
			 "(bundle %llu)", by->release, (unsigned long long)by->id);
		r->ended_us = by->created_us;
		rc = store_release_put(st, r);
		struct pcs l;
		size_t npilot;
		/* Only offers made before the new release was: its own
		 * pilot offers may already be queued by a daemon's tick. */
		if (rc == 0 && load_pcs(st, s, r, &l, &npilot) == 0) {
			announce_halt(st, ca, r, &l, npilot, by->created_us);
			alloc_free(l.v);
		} else if (rc == 0) {
			log_warn("release %s: superseded, but its PCs could not "
				 "be read to tell them", r->release);
		}
	}
	return rc;
}

/* The release a signed release file holds: its signature checked
 * against releases.release_key when one is set, its payload parsed for
 * the version and the rollback mark. */
static int read_signed(const struct settings *s, const char *path,
		       char **file, size_t *len, struct relpkg *pkg, char *err,
		       size_t errlen)
{
	EVP_PKEY *pin = NULL;
	const void *payload = NULL;
	size_t payload_len = 0;
	bool is_signed = false;
	int rc = fs_read_file(path, BUNDLE_MAX_RAW, file, len);
	if (rc != 0)
		return errtext_set(rc, err, errlen, "cannot read %s: %s", path,
				   uv_strerror(rc));
	if (s->release_key[0] &&
	    (rc = pki_read_pubkey(s->release_key, &pin)) != 0)
		rc = errtext_set(-EINVAL, err, errlen, "releases.release_key: "
				 "cannot read the public key %s: %s",
				 s->release_key, uv_strerror(rc));
	if (rc == 0)
		rc = relpkg_unwrap(*file, *len, pin, &payload, &payload_len,
				   &is_signed, err, errlen);
	if (rc == 0)
		rc = relpkg_parse(payload, payload_len, pkg, err, errlen);
	EVP_PKEY_free(pin);
	if (rc != 0) {
		alloc_free(*file);
		*file = NULL;
	}
	return rc;
}

/* The bytes to publish for path: a signed release file as it is, or a
 * folder's files packed (only when no release key is set). */
static int release_bytes(const struct settings *s, const char *path,
			 bool rollback, char **out, size_t *out_len,
			 char release[RELPKG_VERSION_MAX + 1], bool *rollback_out,
			 char *err, size_t errlen)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return errtext_set(-EINVAL, err, errlen, "%s: %s", path,
				   uv_strerror(-errno));
	if (S_ISREG(st.st_mode)) {
		struct relpkg pkg;
		if (rollback)
			return errtext_set(-EINVAL, err, errlen, "a signed "
					   "release carries its rollback mark: "
					   "sign it with agent-release sign "
					   "--rollback, not publish --rollback");
		int rc = read_signed(s, path, out, out_len, &pkg, err, errlen);
		if (rc != 0)
			return rc;
		snprintf(release, RELPKG_VERSION_MAX + 1, "%s", pkg.release);
		*rollback_out = pkg.rollback;
		relpkg_clear(&pkg);
		return 0;
	}
	if (s->release_key[0])
		return errtext_set(-EPERM, err, errlen, "releases.release_key "
				   "is set, so a release is published only as "
				   "a file signed by that key (agent-release "
				   "sign %s --key PRIVATE.pem --out FILE, on "
				   "the machine that keeps the key); an "
				   "unsigned folder is refused", path);
	if (!relpkg_dir_version(path, release))
		return errtext_set(-EINVAL, err, errlen, "%s: a release folder "
				   "is named agent-VERSION (digits and dots), "
				   "as it will be on the PCs", path);
	*rollback_out = rollback;
	return relpkg_pack_dir(path, release, rollback, out, out_len, err,
			       errlen);
}

int release_publish(struct store *st, struct ca *ca, const struct settings *s,
		    const char *path, const char *channel, bool rollback,
		    struct store_release *out, char *err, size_t errlen)
{
	char release[RELPKG_VERSION_MAX + 1];
	memset(out, 0, sizeof(*out));
	if (strcmp(channel, "pilot") != 0 && strcmp(channel, "stable") != 0)
		return errtext_set(-EINVAL, err, errlen, "--channel is pilot or "
				   "stable, not '%s'", channel);
	if (strcmp(channel, "pilot") == 0 && s->nrelease_pilot_agents == 0 &&
	    s->nrelease_pilot_schools == 0)
		return errtext_set(-EINVAL, err, errlen, "no pilot PCs: set "
				   "releases.pilot_agents or "
				   "releases.pilot_schools, or publish to "
				   "--channel stable");
	struct bundle_info info;
	size_t size = 0;
	char *bytes = NULL;
	size_t len = 0;
	int rc = release_bytes(s, path, rollback, &bytes, &len, release,
			       &rollback, err, errlen);
	if (rc == 0)
		rc = rulepub_publish_agent(s->state_dir, bytes, len, release,
					   rollback, ca_key(ca), &info, &size,
					   err, errlen);
	alloc_free(bytes);
	if (rc != 0)
		return rc;
	out->id = info.version;
	snprintf(out->release, sizeof(out->release), "%s", release);
	snprintf(out->channel, sizeof(out->channel), "%s", channel);
	snprintf(out->state, sizeof(out->state), "%s", channel);
	out->rollback = rollback;
	out->size = size;
	out->created_us = info.created_us;
	if (strcmp(channel, "stable") == 0)
		out->stable_us = info.created_us;
	if ((rc = store_release_put(st, out)) != 0)
		return errtext_set(rc, err, errlen, "cannot record the release: "
				   "%s", uv_strerror(rc));
	if ((rc = supersede(st, ca, s, out)) != 0)
		return errtext_set(rc, err, errlen, "cannot halt the releases "
				   "before it: %s", uv_strerror(rc));
	return 0;
}
