/* feed_page: the SOC feed page and the commune page.
 *
 * The SOC page shows, for each forwarding destination in collector.yaml,
 * what waits in its queue, the newest alert it has taken, and its dead
 * letters (alerts it refused for good, with its answer), all counted in
 * SQL within the officer's scope. The commune page is a commune's schools,
 * open alerts and score trend: the officer's scope is narrowed to that
 * commune, and the store's *_scoped reads do the rest, so a commune
 * outside the scope is a 404 like one that does not exist. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

#include "collector/web/html.h"
#include "collector/web/views.h"
#include "common/alloc.h"

#define M(key) i18n_msg(ctx->lang, key)
#define FEED_DEAD_ROWS 50

/* ---- the SOC feed ------------------------------------------------------------ */

static void dead_row(void *arg, const struct store_dead_letter *dl)
{
	struct web_ctx *ctx = arg;
	char at[32];
	i18n_datetime(dl->at_us, at, sizeof(at));
	html_emit(&ctx->res->body,
		  "<tr><td>%s</td><td>%lld</td><td>%s</td><td>%s</td>"
		  "<td>%d</td><td>%s</td></tr>",
		  at, (long long)dl->alert, dl->rule, dl->agent, dl->status,
		  dl->reason);
}

void view_soc_feed(struct web_ctx *ctx)
{
	struct dynbuf *b = &ctx->res->body;
	const struct web_options *o = ctx->opts;
	web_page_start(ctx, 200, M("soc_feed"));
	if (o->nforward_dests == 0) {
		html_emit(b, "<p>%s</p>", M("no_destinations"));
		web_page_end(ctx);
		return;
	}
	html_emit(b, "<table id=\"feed\"><tr><th>%s</th><th>%s</th><th>%s</th>"
		  "<th>%s</th><th>%s</th><th>%s</th></tr>",
		  M("destination"), M("pending"), M("oldest_pending"),
		  M("last_delivered"), M("dead_letters"), M("last_error"));
	for (size_t i = 0; i < o->nforward_dests; i++) {
		const char *dest = o->forward_dests[i];
		struct store_forward_status fs;
		char oldest[32], delivered[32], failed[32];
		if (store_forward_status_scoped(ctx->reader, &ctx->user->scope,
						dest, &fs) != 0) {
			html_emit(b, "<tr><td>%s</td><td colspan=\"5\" class=\"err\">"
				  "%s</td></tr>", dest, M("store_unreadable"));
			continue;
		}
		i18n_datetime(fs.oldest_pending_us, oldest, sizeof(oldest));
		i18n_datetime(fs.last_delivered_us, delivered, sizeof(delivered));
		i18n_datetime(fs.last_error_us, failed, sizeof(failed));
		html_emit(b, "<tr><td>%s</td><td class=\"pending\">%lld</td>"
			  "<td>%s</td><td>",
			  dest, fs.pending, oldest);
		if (fs.last_delivered)
			html_emit(b, "#%lld, %s", (long long)fs.last_delivered,
				  delivered);
		else
			html_emit(b, "%s", M("none_yet"));
		html_emit(b, "</td><td class=\"dead\">%lld</td><td>", fs.dead_letters);
		if (fs.last_error_us)
			html_emit(b, "%s: %d %s", failed, fs.last_error_status,
				  fs.last_error);
		else
			html_emit(b, "-");
		html_emit(b, "</td></tr>");
	}
	html_emit(b, "</table>");
	for (size_t i = 0; i < o->nforward_dests; i++) {
		html_emit(b, "<h2>%s: %s</h2><table class=\"dead-letters\"><tr>"
			  "<th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th>"
			  "<th>%s</th></tr>",
			  M("dead_letters"), o->forward_dests[i], M("time"),
			  M("alert"), M("rule"), M("pc"), M("status"), M("reason"));
		if (store_dead_letter_list_scoped(ctx->reader, &ctx->user->scope,
						  o->forward_dests[i],
						  FEED_DEAD_ROWS, dead_row,
						  ctx) != 0)
			html_emit(b, "<tr><td colspan=\"6\" class=\"err\">%s</td></tr>",
				  M("store_unreadable"));
		html_emit(b, "</table>");
	}
	web_page_end(ctx);
}

/* ---- the commune page ---------------------------------------------------------- */

/* The officer's scope narrowed to one commune: the province's officers
 * may open any commune, a commune officer its own; a school officer none
 * (its commune holds other schools). -ENOENT otherwise. */
static int commune_scope(const struct store_scope *have, const char *commune,
			 struct store_scope *out)
{
	if (have->kind == STORE_SCOPE_SCHOOL ||
	    (have->kind == STORE_SCOPE_COMMUNE &&
	     strcmp(have->value, commune) != 0))
		return -ENOENT;
	out->kind = STORE_SCOPE_COMMUNE;
	snprintf(out->value, sizeof(out->value), "%s", commune);
	return 0;
}

struct commune_rows {
	struct store_school *schools;
	size_t n, cap;
	bool short_of_memory;
};

static void commune_school(void *arg, const struct store_school *s)
{
	struct commune_rows *r = arg;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 32;
		struct store_school *p =
			alloc_resize(r->schools, cap * sizeof(*p));
		if (p == NULL) {
			r->short_of_memory = true;
			return;
		}
		r->schools = p;
		r->cap = cap;
	}
	r->schools[r->n++] = *s;
}

static void latest_snapshot(void *arg, const struct store_snapshot *snap)
{
	*(struct store_snapshot *)arg = *snap;
}

/* One school's row with its latest daily score. The schools are read
 * whole first (in Vietnamese order, from the store), then each score by
 * its snapshot key: a commune has tens of schools, each an index seek,
 * and the store's lock is not held across two reads. */
static void commune_row(struct web_ctx *ctx, const struct store_school *s)
{
	struct dynbuf *b = &ctx->res->body;
	struct store_snapshot snap = {.day = ""};
	html_emit(b, "<tr><td><a href=\"/schools/%s\">%s</a></td><td>%s</td>"
		  "<td>%d</td><td>%d / %d</td>",
		  s->code, s->code, s->name, s->level, s->enrolled_pcs,
		  s->expected_pcs);
	if (store_snapshot_list(ctx->reader, "school", s->code, 1,
				latest_snapshot, &snap) == 0 &&
	    snap.day[0] != '\0') {
		char day[16];
		i18n_day(snap.day, day, sizeof(day));
		html_emit(b, "<td class=\"score\" title=\"%s\">%.1f</td></tr>",
			  day, snap.score);
	} else {
		html_emit(b, "<td class=\"score\">%s</td></tr>", M("no_score"));
	}
}

void view_commune(struct web_ctx *ctx)
{
	const struct web_request *q = ctx->req;
	struct dynbuf *b = &ctx->res->body;
	char name[STORE_NAME_MAX + 1], key[3 * STORE_NAME_MAX + 1];
	struct store_scope sc;
	struct commune_rows r = {0};
	int rc = route_param(q->query, q->query_len, "name", name, sizeof(name));
	if (rc == -EINVAL || (rc == 0 && name[0] == '\0')) {
		view_error(ctx, 400, "bad_request");
		return;
	}
	if (rc != 0 || commune_scope(&ctx->user->scope, name, &sc) != 0) {
		view_error(ctx, 404, "not_found");
		return;
	}
	/* Rendered into the page only once the commune has a school in
	 * scope: an unknown commune is a 404, not an empty page. */
	if (store_school_list_scoped(ctx->reader, &sc, commune_school, &r) != 0 ||
	    r.short_of_memory) {
		alloc_free(r.schools);
		view_error(ctx, 503, "store_unreadable");
		return;
	}
	if (r.n == 0) {
		view_error(ctx, 404, "not_found");
		return;
	}
	web_page_start(ctx, 200, name);
	html_emit(b, "<h2>%s</h2><table id=\"schools\"><tr><th>%s</th><th>%s"
		  "</th><th>%s</th><th>%s</th><th>%s</th></tr>",
		  M("schools"), M("code"), M("name"), M("level"), M("pcs"),
		  M("score"));
	for (size_t i = 0; i < r.n; i++)
		commune_row(ctx, &r.schools[i]);
	alloc_free(r.schools);
	html_emit(b, "</table>");
	web_alert_counts(ctx, &sc);
	html_url_encode(name, key, sizeof(key));
	html_emit(b, "<h2>%s</h2><div id=\"chart\" class=\"chart\" "
		  "data-src=\"/api/v1/scores?scope=commune&amp;key=%s&amp;limit=90\""
		  " data-label=\"%s\"></div>",
		  M("trend"), key, M("score"));
	web_page_end(ctx);
}
