/* src_ransom: the ransomware behaviour detector, an agent source (issue
 * 19). It watches ransom.folders, and the drill folder so that the
 * ransomware-sim drill exercises it, through ransom_watch (the platform's
 * watcher feeding the behaviour model, with canaries), and emits
 * ransomware.suspect: the reason (a burst or a canary), the folder tree
 * (the actor: inotify does not name the process), the count of acts in
 * the window, its times, the highest entropy seen and a few example
 * paths. Never a file's content.
 *
 * Verdicts arrive on the watcher's thread and are handed to the loop
 * through a small queue and a uv_async_t; agent_emit runs on the loop
 * only. A verdict in the drill folder (the agent's own, root-only) is
 * flagged as a drill. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/source.h"
#include "agent/drill/drill_settings.h"
#include "agent/platform/beneath.h"
#include "agent/ransom/ransom_settings.h"
#include "agent/ransom/ransom_watch.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/wire.h"

/* Verdicts waiting for the loop; more in one turn are counted, not kept
 * (one alert per burst is what an officer needs). */
#define PENDING_MAX 16

struct pending {
	struct ransom_verdict v;
	char root[AGENT_PATH_LEN];
};

struct ransom {
	struct agent *agent;
	const struct ransom_settings *conf;
	struct ransom_watch *watch;
	uv_async_t wake;
	uv_mutex_t lock; /* pending, npending, dropped */
	struct pending pending[PENDING_MAX];
	size_t npending;
	unsigned long long dropped;
	char drill_folder[512]; /* "": not watched */
	const char *roots[RANSOM_ROOTS_MAX];
	size_t nroots;
};

static void on_verdict(void *arg, const struct ransom_verdict *v,
		       const char *root)
{
	struct ransom *r = arg;
	uv_mutex_lock(&r->lock);
	if (r->npending < PENDING_MAX) {
		struct pending *p = &r->pending[r->npending++];
		p->v = *v;
		snprintf(p->root, sizeof(p->root), "%s", root);
	} else {
		r->dropped++;
	}
	uv_mutex_unlock(&r->lock);
	uv_async_send(&r->wake);
}

static void emit_verdict(struct ransom *r, const struct pending *p)
{
	const struct ransom_verdict *v = &p->v;
	bool drill = r->drill_folder[0] && strcmp(p->root, r->drill_folder) == 0;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	/* A drill's verdict names the campaign running (src_drill), so that
	 * the collector keys its alert by it. */
	long long campaign = drill ? agent_counter_get(r->agent,
						DRILL_COUNTER_CAMPAIGN) : 0;
	msgpack_pack_map(&pk, 10 + (campaign > 0));
	wire_pack_kv_str(&pk, "reason", v->reason);
	wire_pack_kv_str(&pk, "folder", p->root);
	/* inotify names no process: the actor is the folder tree. */
	wire_pack_kv_str(&pk, "actor", "folder");
	wire_pack_kv_u64(&pk, "files", v->score);
	wire_pack_kv_u64(&pk, "threshold", (uint64_t)r->conf->threshold);
	wire_pack_kv_u64(&pk, "window_ms",
			 (uint64_t)(v->last_us - v->first_us) / 1000);
	wire_pack_kv_u64(&pk, "first_us", (uint64_t)v->first_us);
	wire_pack_kv_u64(&pk, "entropy_milli",
			 v->entropy_max > 0 ? (uint64_t)(v->entropy_max * 1000)
					    : 0);
	msgpack_pack_str_with_body(&pk, "examples", 8);
	msgpack_pack_array(&pk, v->nexamples);
	for (unsigned i = 0; i < v->nexamples; i++)
		msgpack_pack_str_with_body(&pk, v->examples[i],
					   strlen(v->examples[i]));
	wire_pack_kv_str(&pk, "response", "reported");
	if (campaign > 0)
		wire_pack_kv_u64(&pk, "campaign_id", (uint64_t)campaign);
	int sev = strcmp(v->reason, "canary") == 0 ? 9 : 8;
	agent_emit(r->agent, "ransomware.suspect", drill ? 1 : sev, drill,
		   sb.data, sb.size, NULL);
	msgpack_sbuffer_destroy(&sb);
	log_warn("ransom: %s in %s: %u acts in %lld ms, e.g. %s%s", v->reason,
		 p->root, v->score, (long long)(v->last_us - v->first_us) / 1000,
		 v->nexamples ? v->examples[0] : "-", drill ? " (drill)" : "");
}

static void on_wake(uv_async_t *a)
{
	struct ransom *r = a->data;
	struct pending batch[PENDING_MAX];
	uv_mutex_lock(&r->lock);
	size_t n = r->npending;
	unsigned long long dropped = r->dropped;
	memcpy(batch, r->pending, n * sizeof(*batch));
	r->npending = 0;
	r->dropped = 0;
	uv_mutex_unlock(&r->lock);
	for (size_t i = 0; i < n; i++)
		emit_verdict(r, &batch[i]);
	if (dropped)
		log_warn("ransom: %llu more verdicts in the same moment not "
			 "sent", dropped);
}

/* The drill folder, made (root's, 0700) if missing with the drill's own
 * rules, so that the ransomware-sim drill is watched from the start. */
static void add_drill_folder(struct ransom *r, const struct source_env *env)
{
	const struct drill_settings *d =
		agent_settings_for(env->settings, &drill_config);
	char err[256];
	int fd;
	if (!r->conf->watch_drill || d == NULL || !d->enabled)
		return;
	if (d->folder[0])
		snprintf(r->drill_folder, sizeof(r->drill_folder), "%s",
			 d->folder);
	else
		snprintf(r->drill_folder, sizeof(r->drill_folder), "%s/drill",
			 env->settings->state_dir);
	if (beneath_open_target(r->drill_folder, true, false, &fd, err,
				sizeof(err)) != 0) {
		log_warn("ransom: not watching the drill folder %s: %s",
			 r->drill_folder, err);
		r->drill_folder[0] = '\0';
		return;
	}
	close(fd);
	r->roots[r->nroots++] = r->drill_folder;
}

static int ransom_init(const struct source_env *env, void **state)
{
	const struct ransom_settings *conf = env->config;
	*state = NULL;
	if (!conf->enabled)
		return 0;
	struct ransom *r = alloc_zeroed(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->agent = env->agent;
	r->conf = conf;
	for (size_t i = 0; i < conf->nfolders && i < AGENT_PATHS_MAX; i++)
		r->roots[r->nroots++] = conf->folders[i];
	add_drill_folder(r, env);
	if (r->nroots == 0) {
		log_info("ransom: no folder to watch (ransom.folders is empty)");
		alloc_free(r);
		return 0;
	}
	uv_mutex_init(&r->lock);
	uv_async_init(env->loop, &r->wake, on_wake);
	r->wake.data = r;
	*state = r;
	return 0;
}

static int ransom_start(void *state)
{
	struct ransom *r = state;
	char err[512];
	struct ransom_watch_conf wc = {
		.roots = r->roots,
		.nroots = r->nroots,
		.ncanaries = r->conf->canaries ? r->conf->nfolders : 0,
	};
	ransom_settings_params(r->conf, &wc.params);
	int rc = ransom_watch_start(&wc, on_verdict, r, &r->watch, err,
				    sizeof(err));
	if (rc != 0) {
		/* The agent runs on without this source, and says so. */
		log_err("ransom: off: %s", err);
		return 0;
	}
	struct ransom_watch_stats st;
	ransom_watch_stats(r->watch, &st);
	log_info("ransom: watching %zu folders (%u with their subfolders), "
		 "%u canaries; a burst is %lld acts in %llds", r->nroots,
		 st.fs.folders, st.canaries, r->conf->threshold,
		 r->conf->window_s);
	return 0;
}

static void ransom_stop(void *state)
{
	struct ransom *r = state;
	/* Joins the watcher: no verdict is queued after this. */
	ransom_watch_stop(r->watch);
	r->watch = NULL;
	uv_close((uv_handle_t *)&r->wake, NULL);
}

static void ransom_free(void *state)
{
	struct ransom *r = state;
	uv_mutex_destroy(&r->lock);
	alloc_free(r);
}

const struct source_ops source_ransom = {
	.name = "ransom",
	.init = ransom_init,
	.start = ransom_start,
	.stop = ransom_stop,
	.free = ransom_free,
};
