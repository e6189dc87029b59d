/* pc_page: the PC page. What an officer needs about one PC on one page:
 * the checks of its school's policy it fails, each with its evidence and
 * what to do; what it last reported about itself (inventory, antivirus,
 * scans, backups, the LAN sensor); how its antivirus state moved; and its
 * event timeline. The PC is found through the officer's scope first
 * (store_agent_get_scoped), so a PC outside it is a 404 and nothing below
 * runs for it. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "collector/policy.h"
#include "collector/score.h"
#include "collector/web/html.h"
#include "collector/web/views.h"
#include "common/alloc.h"
#include "common/jsonout.h"

#define M(key) i18n_msg(ctx->lang, key)

/* The host_state kinds shown as panels, in page order. */
static const struct {
	const char *kind;
	const char *title_key;
} panels[] = {
	{"inventory", "panel_inventory"},
	{"av.status", "panel_av"},
	{"scan.summary", "panel_scan"},
	{"backup.status", "panel_backup"},
	{"net.sensor", "panel_lan"},
};
#define NPANELS (sizeof(panels) / sizeof(panels[0]))
/* A state a PC reports is a small map; past this many fields the rest
 * is not shown (a PC must not be able to make the page huge). */
#define PANEL_MAX_FIELDS 48
#define AV_HISTORY_ROWS 10
#define AV_HISTORY_SCAN 500

struct pc_states {
	const char *agent;
	struct {
		int64_t ts_us;
		char *body; /* owned copy */
		size_t len;
	} got[NPANELS];
};

static void state_row(void *arg, const struct store_host_row *r)
{
	struct pc_states *ps = arg;
	if (strcmp(r->agent, ps->agent) != 0 || r->body == NULL)
		return;
	for (size_t i = 0; i < NPANELS; i++) {
		if (strcmp(r->kind, panels[i].kind) != 0 || ps->got[i].body)
			continue;
		/* Borrowed only for the callback: keep a copy. */
		ps->got[i].body = alloc_bytes(r->body_len ? r->body_len : 1);
		if (ps->got[i].body == NULL)
			return;
		if (r->body_len)
			memcpy(ps->got[i].body, r->body, r->body_len);
		ps->got[i].len = r->body_len;
		ps->got[i].ts_us = r->ts_us;
	}
}

static void states_free(struct pc_states *ps)
{
	for (size_t i = 0; i < NPANELS; i++)
		alloc_free(ps->got[i].body);
}

static bool key_is(const msgpack_object *k, const char *suffix)
{
	size_t n = strlen(suffix);
	return k->type == MSGPACK_OBJECT_STR && k->via.str.size >= n &&
	       memcmp(k->via.str.ptr + k->via.str.size - n, suffix, n) == 0;
}

/* One value as text: times (fields named *_us) as dates, booleans in the
 * officer's language, anything nested as JSON text (escaped later, by
 * html_emit, like every value). */
static void value_text(struct web_ctx *ctx, const msgpack_object *k,
		       const msgpack_object *v, char *out, size_t cap)
{
	switch (v->type) {
	case MSGPACK_OBJECT_BOOLEAN:
		snprintf(out, cap, "%s", M(v->via.boolean ? "yes" : "no"));
		return;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (key_is(k, "_us")) {
			i18n_datetime(v->via.u64 > INT64_MAX ? 0
							     : (int64_t)v->via.u64,
				      out, cap);
			return;
		}
		snprintf(out, cap, "%" PRIu64, v->via.u64);
		return;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		snprintf(out, cap, "%" PRId64, v->via.i64);
		return;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		snprintf(out, cap, "%g", v->via.f64);
		return;
	case MSGPACK_OBJECT_STR:
		snprintf(out, cap, "%.*s",
			 (int)(v->via.str.size < cap ? v->via.str.size
						     : cap - 1),
			 v->via.str.ptr);
		return;
	default: {
		struct dynbuf j;
		dynbuf_init(&j, cap - 1);
		if (json_render_msgpack_buf(&j, v, NULL) == 0 && j.data)
			snprintf(out, cap, "%.*s", (int)j.len, j.data);
		else
			snprintf(out, cap, "…");
		dynbuf_free(&j);
	}
	}
}

/* Calls fn for each field of a state's msgpack map, in its order. 0, or
 * -EINVAL when the body is not a map (a PC's bytes: never trusted). */
static int for_each_field(struct web_ctx *ctx, const char *body, size_t len,
			  void (*fn)(struct web_ctx *ctx, void *arg,
				     const char *key, const char *value),
			  void *arg)
{
	msgpack_unpacked u;
	size_t off = 0;
	int rc = -EINVAL;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, body, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    u.data.type == MSGPACK_OBJECT_MAP) {
		const msgpack_object_map *m = &u.data.via.map;
		for (uint32_t i = 0; i < m->size && i < PANEL_MAX_FIELDS; i++) {
			const msgpack_object *k = &m->ptr[i].key;
			char key[64], value[512];
			if (k->type != MSGPACK_OBJECT_STR)
				continue;
			snprintf(key, sizeof(key), "%.*s",
				 (int)(k->via.str.size < sizeof(key)
					       ? k->via.str.size
					       : sizeof(key) - 1),
				 k->via.str.ptr);
			value_text(ctx, k, &m->ptr[i].val, value, sizeof(value));
			fn(ctx, arg, key, value);
		}
		rc = 0;
	}
	msgpack_unpacked_destroy(&u);
	return rc;
}

static void field_row(struct web_ctx *ctx, void *arg, const char *key,
		      const char *value)
{
	(void)arg;
	html_emit(&ctx->res->body, "<tr><th>%s</th><td>%s</td></tr>", key,
		  value);
}

static void field_inline(struct web_ctx *ctx, void *arg, const char *key,
			 const char *value)
{
	int *n = arg;
	html_emit(&ctx->res->body, "%s%s: %s", (*n)++ ? " · " : "", key, value);
}

static void render_panels(struct web_ctx *ctx, const struct store_agent *a)
{
	struct dynbuf *b = &ctx->res->body;
	struct pc_states ps = {.agent = a->id};
	/* Read after the scoped lookup: only this PC's rows are kept. */
	int rc = store_host_states(ctx->reader, a->school, state_row, &ps);
	for (size_t i = 0; i < NPANELS; i++) {
		char at[32];
		html_emit(b, "<section class=\"panel\" id=\"panel-%s\"><h2>%s</h2>",
			  panels[i].kind, M(panels[i].title_key));
		if (rc != 0) {
			html_emit(b, "<p class=\"err\">%s</p></section>",
				  M("store_unreadable"));
			continue;
		}
		if (ps.got[i].body == NULL) {
			html_emit(b, "<p class=\"never\">%s</p></section>",
				  M("not_reported"));
			continue;
		}
		i18n_datetime(ps.got[i].ts_us, at, sizeof(at));
		html_emit(b, "<p>%s: %s</p><table>", M("reported_at"), at);
		if (for_each_field(ctx, ps.got[i].body, ps.got[i].len, field_row,
				   NULL) != 0)
			html_emit(b, "<tr><td class=\"err\">%s</td></tr>",
				  M("unreadable_state"));
		html_emit(b, "</table></section>");
	}
	states_free(&ps);
}

/* ---- failing checks --------------------------------------------------------- */

static void render_checks(struct web_ctx *ctx, const struct store_agent *a)
{
	struct dynbuf *b = &ctx->res->body;
	struct policy_set ps;
	struct score_report rep = {0};
	char err[256];
	const struct host_score *h = NULL;
	html_emit(b, "<section id=\"checks\"><h2>%s</h2>", M("failing_checks"));
	if (ctx->opts->policy_dir == NULL ||
	    policy_set_load(ctx->opts->policy_dir, &ps, err, sizeof(err)) != 0) {
		html_emit(b, "<p class=\"err\">%s</p></section>",
			  M("checks_unavailable"));
		return;
	}
	if (score_compute(ctx->reader, &ps, a->school, ctx->now_us, &rep, err,
			  sizeof(err)) != 0) {
		html_emit(b, "<p class=\"err\">%s</p></section>",
			  M("checks_unavailable"));
		policy_set_free(&ps);
		return;
	}
	for (size_t s = 0; s < rep.nschools && h == NULL; s++)
		for (size_t i = 0; i < rep.schools[s].nhosts; i++)
			if (strcmp(rep.schools[s].hosts[i].agent, a->id) == 0) {
				h = &rep.schools[s].hosts[i];
				break;
			}
	if (h == NULL) {
		/* Revoked, or its school's level has no policy: not scored. */
		html_emit(b, "<p>%s</p></section>", M("not_scored"));
		goto done;
	}
	html_emit(b, "<p>%s: <strong id=\"pc-score\">%.1f</strong></p>",
		  M("score"), h->score);
	int failing = 0;
	for (size_t i = 0; i < h->nresults; i++) {
		const struct check_result *cr = &h->results[i];
		bool vi = ctx->lang == I18N_VI;
		if (cr->pass)
			continue;
		if (failing++ == 0)
			html_emit(b, "<table id=\"failing\"><tr><th>%s</th><th>%s"
				  "</th><th>%s</th></tr>",
				  M("check"), M("evidence"), M("remediation"));
		html_emit(b, "<tr><td>%s</td><td>%s</td><td class=\"remedy\">%s"
			  "</td></tr>",
			  vi ? cr->check->title_vi : cr->check->title_en,
			  cr->evidence,
			  vi ? cr->check->remediation_vi
			     : cr->check->remediation_en);
	}
	if (failing)
		html_emit(b, "</table>");
	else
		html_emit(b, "<p class=\"fresh\">%s</p>", M("all_checks_pass"));
done:
	html_emit(b, "</section>");
	score_report_free(&rep);
	policy_set_free(&ps);
}

/* ---- antivirus history and the timeline ----------------------------------------- */

struct av_rows {
	struct web_ctx *ctx;
	int n;
};

static void av_row(void *arg, const struct store_event_row *e)
{
	struct av_rows *r = arg;
	struct web_ctx *ctx = r->ctx;
	char at[32];
	int nf = 0;
	if (r->n >= AV_HISTORY_ROWS || strcmp(e->ev.kind, "av.status") != 0)
		return;
	r->n++;
	i18n_datetime(e->ev.ts, at, sizeof(at));
	html_emit(&ctx->res->body, "<tr><td>%s</td><td>", at);
	if (for_each_field(ctx, e->ev.body, e->ev.body_len, field_inline,
			   &nf) != 0)
		html_emit(&ctx->res->body, "%s", M("unreadable_state"));
	html_emit(&ctx->res->body, "</td></tr>");
}

static void event_row(void *arg, const struct store_event_row *e)
{
	struct web_ctx *ctx = arg;
	char at[32];
	i18n_datetime(e->ev.ts, at, sizeof(at));
	html_emit(&ctx->res->body, "<tr><td>%s</td><td>%s</td><td>%d</td><td>%s</td></tr>",
		  at, e->ev.kind, e->ev.sev, e->ev.drill ? M("drill") : "");
}

void view_pc(struct web_ctx *ctx)
{
	struct store_agent a;
	struct dynbuf *b = &ctx->res->body;
	struct av_rows av = {ctx, 0};
	char seen[32], enrolled[32];
	if (store_agent_get_scoped(ctx->reader, &ctx->user->scope,
				   ctx->params[0], &a) != 0) {
		view_error(ctx, 404, "not_found");
		return;
	}
	i18n_datetime(a.last_seen_us, seen, sizeof(seen));
	i18n_datetime(a.enrolled_us, enrolled, sizeof(enrolled));
	web_page_start(ctx, 200, a.hostname);
	html_emit(b, "<p>%s: <a href=\"/schools/%s\">%s</a> · %s: %s · %s: %s · ID %s</p>",
		  M("school"), a.school, a.school, M("enrolled"), enrolled,
		  M("last_seen"), seen, a.id);
	render_checks(ctx, &a);
	render_panels(ctx, &a);
	html_emit(b, "<h2>%s</h2><table id=\"av-history\"><tr><th>%s</th>"
		  "<th>%s</th></tr>", M("av_history"), M("time"), M("state"));
	if (store_recent_events(ctx->reader, a.id, AV_HISTORY_SCAN, av_row,
				&av) != 0)
		html_emit(b, "<tr><td colspan=\"2\" class=\"err\">%s</td></tr>",
			  M("store_unreadable"));
	else if (av.n == 0)
		html_emit(b, "<tr><td colspan=\"2\">%s</td></tr>",
			  M("not_reported"));
	html_emit(b, "</table>");
	html_emit(b, "<h2>%s</h2><table id=\"events\"><tr><th>%s</th><th>%s</th>"
		  "<th>%s</th><th>%s</th></tr>",
		  M("events"), M("time"), M("kind"), M("severity"), M("drill"));
	if (store_recent_events(ctx->reader, a.id, 50, event_row, ctx) != 0)
		html_emit(b, "<tr><td colspan=\"4\" class=\"err\">%s</td></tr>",
			  M("store_unreadable"));
	html_emit(b, "</table>");
	web_page_end(ctx);
}
