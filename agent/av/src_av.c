/* source_av: the antivirus status of this PC, as av.status events.
 *
 * The probe (avprobe.h) runs on the thread pool every few minutes; an
 * event goes out when what it found changed (a product turned off, new
 * signatures) and in any case every av.interval, so the collector always
 * has a recent answer. The body lists each product and sums up what the
 * policies score: realtime and sig_age_days. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/av/avprobe.h"
#include "agent/av/av_settings.h"
#include "agent/core/source.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/mpmap.h"
#include "common/timeutil.h"
#include "common/wire.h"

#define PROBE_EVERY_MS (5 * 60 * 1000)
#define FIRST_PROBE_MS 2000

struct av_src {
	struct source_env env;
	struct avprobe_config cfg;
	uv_timer_t timer;
	uv_work_t work;
	bool busy;
	bool stopping;
	struct av_report report;
	char last_fingerprint[512];
	int64_t last_emit_us;
	int64_t interval_us;
};

/* What a change means: states, real time, signature versions. */
static void fingerprint(const struct av_report *r, char *out, size_t cap)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < r->count && used < cap; i++) {
		const struct av_product *p = &r->products[i];
		int n = snprintf(out + used, cap - used, "%s/%s/%d/%lld;",
				 p->name, av_state_name(p->state), p->realtime,
				 (long long)p->sig_time_us);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static void emit(struct av_src *av)
{
	const struct av_report *r = &av->report;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	struct mpmap body, product;
	mpmap_begin(&body, &pk);
	wire_pack_kv_bool(&pk, "realtime", r->realtime);
	if (r->sig_age_days >= 0)
		wire_pack_kv_u64(&pk, "sig_age_days", (uint64_t)r->sig_age_days);
	wire_pack_kv_u64(&pk, "products_found", r->count);
	wire_pack_kv_str(&pk, "rules_version",
			 agent_rules_version(av->env.agent));
	wire_pack_str(&pk, "products");
	msgpack_pack_array(&pk, (uint32_t)r->count);
	for (size_t i = 0; i < r->count; i++) {
		const struct av_product *p = &r->products[i];
		mpmap_begin(&product, &pk);
		wire_pack_kv_str(&pk, "name", p->name);
		wire_pack_kv_str(&pk, "source", p->source);
		wire_pack_kv_str(&pk, "state", av_state_name(p->state));
		wire_pack_kv_bool(&pk, "realtime", p->realtime);
		wire_pack_kv_str(&pk, "version", p->version);
		wire_pack_kv_str(&pk, "detail", p->detail);
		if (p->sig_known)
			wire_pack_kv_u64(&pk, "sig_time_us",
					 (uint64_t)p->sig_time_us);
		mpmap_end(&product);
	}
	mpmap_end(&body);
	/* Unprotected is worth an officer's look; the alert rules decide. */
	agent_emit(av->env.agent, "av.status", r->realtime ? 1 : 6, false,
		   sb.data, sb.size, NULL);
	msgpack_sbuffer_destroy(&sb);
}

static void do_probe(uv_work_t *w)
{
	struct av_src *av = w->data;
	avprobe_collect(&av->cfg, &av->report);
}

static void probe_done(uv_work_t *w, int status)
{
	struct av_src *av = w->data;
	av->busy = false;
	if (status != 0 || av->stopping)
		return;
	char fp[512];
	fingerprint(&av->report, fp, sizeof(fp));
	int64_t now = timeutil_now_us();
	bool changed = strcmp(fp, av->last_fingerprint) != 0;
	if (changed || now - av->last_emit_us >= av->interval_us) {
		if (changed && av->last_emit_us)
			log_info("av: status changed: %s", fp);
		emit(av);
		av->last_emit_us = now;
		snprintf(av->last_fingerprint, sizeof(av->last_fingerprint), "%s",
			 fp);
	}
}

static void on_timer(uv_timer_t *t)
{
	struct av_src *av = t->data;
	if (av->busy || av->stopping)
		return;
	av->busy = true;
	if (uv_queue_work(av->env.loop, &av->work, do_probe, probe_done) != 0)
		av->busy = false;
}

static int av_init(const struct source_env *env, void **state)
{
	*state = NULL;
	const struct av_settings *s = env->config;
	if (!s->av_enabled)
		return 0;
	struct av_src *av = alloc_zeroed(1, sizeof(*av));
	if (av == NULL)
		return -ENOMEM;
	av->env = *env;
	av->cfg = (struct avprobe_config){s->av_clamd_socket, s->av_clamav_db,
					  s->av_clamd_conf, s->av_products_file};
	av->interval_us = s->av_interval * 1000000LL;
	av->work.data = av;
	*state = av;
	return 0;
}

static int av_start(void *state)
{
	struct av_src *av = state;
	uint64_t every = (uint64_t)av->interval_us / 1000;
	if (every > PROBE_EVERY_MS)
		every = PROBE_EVERY_MS;
	uv_timer_init(av->env.loop, &av->timer);
	av->timer.data = av;
	uv_timer_start(&av->timer, on_timer, FIRST_PROBE_MS, every);
	return 0;
}

static void av_stop(void *state)
{
	struct av_src *av = state;
	av->stopping = true;
	uv_close((uv_handle_t *)&av->timer, NULL);
}

static void av_free(void *state)
{
	alloc_free(state);
}

const struct source_ops source_av = {
	.name = "av",
	.init = av_init,
	.start = av_start,
	.stop = av_stop,
	.free = av_free,
};
