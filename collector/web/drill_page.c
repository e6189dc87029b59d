/* drill_page: incident drills in the console (drill_page.h). Every rule
 * is the CLI's own (collector/drill): who may record red-team actions,
 * the window, the matching and the scoreboard. */
#include "collector/web/drill_page.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/drill/drill_redteam.h"
#include "collector/drill/drill_scenario.h"
#include "collector/drill/drill_timeline.h"
#include "collector/web/html.h"
#include "collector/web/views.h"
#include "common/alloc.h"

#define M(key) i18n_msg(ctx->lang, key)

/* Whether the officer's scope holds the drill's scope: a school officer
 * sees the drills of its school and of its school's commune. */
static bool drill_visible(struct web_ctx *ctx, const struct store_drill *d)
{
	const struct store_scope *sc = &ctx->user->scope;
	struct store_school s;
	if (sc->kind == STORE_SCOPE_PROVINCE)
		return true;
	if (strncmp(d->scope, "school:", 7) == 0)
		return store_school_get_scoped(ctx->reader, sc, d->scope + 7,
					       &s) == 0;
	if (strncmp(d->scope, "commune:", 8) != 0)
		return false;
	if (sc->kind == STORE_SCOPE_COMMUNE)
		return strcmp(sc->value, d->scope + 8) == 0;
	return store_school_get_scoped(ctx->reader, sc, sc->value, &s) == 0 &&
	       strcmp(s.commune, d->scope + 8) == 0;
}

/* Rows copied out of a store callback (whose lock forbids reading the
 * store again inside it) into a dynbuf, whose cap bounds them; its
 * error is checked once after the read. */
static void add_drill(void *arg, const struct store_drill *d)
{
	dynbuf_add(arg, d, sizeof(*d));
}
static void add_target(void *arg, const struct store_drill_target *t)
{
	dynbuf_add(arg, t, sizeof(*t));
}

/* The campaigns, newest first, into b (the caller frees it). */
static int drills_read(struct web_ctx *ctx, struct dynbuf *b)
{
	dynbuf_init(b, 0);
	int rc = store_drill_all(ctx->reader, add_drill, b);
	return rc != 0 ? rc : b->failed;
}

/* The campaign of the route's id in the officer's scope: 0, -ENOENT
 * (none, or outside the scope: the same 404) or a store error. */
static int drill_load(struct web_ctx *ctx, struct store_drill *d)
{
	char *end;
	unsigned long long id = strtoull(ctx->params[0], &end, 10);
	if (*end || id == 0)
		return -ENOENT;
	struct dynbuf l;
	int rc = drills_read(ctx, &l);
	const struct store_drill *all = (const void *)l.data;
	size_t n = rc == 0 ? l.len / sizeof(*all) : 0;
	for (size_t i = 0; i < n; i++)
		if (all[i].id == id) {
			*d = all[i];
			dynbuf_free(&l);
			return drill_visible(ctx, d) ? 0 : -ENOENT;
		}
	dynbuf_free(&l);
	return rc != 0 ? rc : -ENOENT;
}

static void drill_error(struct web_ctx *ctx, int rc)
{
	view_error(ctx, rc == -ENOENT ? 404 : 500,
		   rc == -ENOENT ? "not_found" : "server_error");
}

void view_drills(struct web_ctx *ctx)
{
	struct dynbuf *b = &ctx->res->body;
	struct dynbuf l;
	int rc = drills_read(ctx, &l);
	if (rc != 0) {
		dynbuf_free(&l);
		drill_error(ctx, rc);
		return;
	}
	web_page_start(ctx, 200, M("drills"));
	html_emit(b, "<table id=\"drills\"><tr><th>%s</th><th>%s</th>"
		  "<th>%s</th><th>%s</th><th>%s</th><th>%s</th></tr>",
		  M("name"), M("status"), M("drill_scenario"),
		  M("drill_scope"), M("drill_window_start"),
		  M("drill_window_end"));
	size_t shown = 0;
	const struct store_drill *d = (const void *)l.data;
	for (size_t i = 0; i < l.len / sizeof(*d); i++) {
		char from[32], to[32];
		if (!drill_visible(ctx, &d[i]))
			continue;
		i18n_datetime(d[i].window_start_us, from, sizeof(from));
		i18n_datetime(d[i].window_end_us, to, sizeof(to));
		html_emit(b, "<tr><td><a href=\"/drills/%lld\">%s</a></td>"
			  "<td class=\"state\">%s</td><td>%s</td><td>%s</td>"
			  "<td>%s</td><td>%s</td></tr>", (long long)d[i].id,
			  d[i].name, d[i].state, d[i].scenario, d[i].scope,
			  from, to);
		shown++;
	}
	html_emit(b, "</table>");
	if (shown == 0)
		html_emit(b, "<p>%s</p>", M("no_rows"));
	dynbuf_free(&l);
	web_page_end(ctx);
}

static void board_html(struct web_ctx *ctx, const char *key,
		       const struct store_drill_target *t, size_t n,
		       const bool *in, const struct drill_scenario *sc,
		       int64_t *scratch)
{
	struct dynbuf *b = &ctx->res->body;
	struct drill_board g;
	drill_board_compute(t, n, in, sc, scratch, &g);
	html_emit(b, "<tr data-scope=\"%s\"><th>%s</th><td>%lld</td>"
		  "<td>%lld</td><td>%s</td><td>%lld / %lld / %lld</td>",
		  key, key, (long long)g.targets, (long long)g.took_part,
		  drill_result(g.took_part, g.passed), (long long)g.stale,
		  (long long)g.revoked, (long long)g.never_reached);
	for (int s = 0; s < DRILL_STAGE_COUNT; s++)
		html_emit(b, "<td>%.1f%% · %lld / %lld ms</td>",
			  100 * g.stage[s].share, (long long)g.stage[s].p50_ms,
			  (long long)g.stage[s].p90_ms);
	html_emit(b, "</tr>");
}

/* The rows of one level ("school" or "commune"), one per group. */
static void board_level(struct web_ctx *ctx, const char *level,
			const struct store_drill_target *t, size_t n,
			char (*commune)[STORE_NAME_MAX + 1], bool *in,
			const struct drill_scenario *sc, int64_t *scratch)
{
	bool by_school = strcmp(level, "school") == 0;
	for (size_t i = 0; i < n; i++) {
		if (!drill_board_group(t, n, by_school ? NULL : commune, i, in))
			continue;
		char key[STORE_NAME_MAX + 16];
		snprintf(key, sizeof(key), "%s:%s", level,
			 by_school ? t[i].school : commune[i]);
		board_html(ctx, key, t, n, in, sc, scratch);
	}
}

static int injection_html(struct web_ctx *ctx, const struct store_drill *d)
{
	struct dynbuf *b = &ctx->res->body;
	struct dynbuf all;
	dynbuf_init(&all, 0);
	int rc = store_drill_targets(ctx->reader, d->id, add_target, &all);
	if (rc == 0)
		rc = all.failed;
	/* Only the PCs of schools in the officer's scope. */
	struct store_drill_target *t = (void *)all.data;
	size_t n = 0;
	for (size_t i = 0; rc == 0 && i < all.len / sizeof(*t); i++) {
		struct store_school s;
		if (store_school_get_scoped(ctx->reader, &ctx->user->scope,
					    t[i].school, &s) == 0)
			t[n++] = t[i];
	}
	/* "Passed" by the scenario's own stages, as `drill status` has it;
	 * the whole chain without the policy folder or the scenario file. */
	struct drill_scenario scenario, *sc = NULL;
	char dir[1100], err[512];
	if (ctx->opts->policy_dir != NULL) {
		drill_scenarios_dir(ctx->opts->policy_dir, dir, sizeof(dir));
		if (drill_scenario_load(dir, d->scenario, &scenario, err,
					sizeof(err)) == 0)
			sc = &scenario;
	}
	char (*commune)[STORE_NAME_MAX + 1] =
		alloc_zeroed(n + 1, sizeof(*commune));
	bool *in = alloc_zeroed(n + 1, sizeof(bool));
	int64_t *scratch = alloc_zeroed(n + 1, sizeof(int64_t));
	if (rc == 0 && (commune == NULL || in == NULL || scratch == NULL))
		rc = -ENOMEM;
	if (rc == 0)
		rc = drill_target_communes(ctx->reader, t, n, commune);
	if (rc == 0) {
		html_emit(b, "<h2>%s</h2><table id=\"timeline\"><tr><th>%s</th>"
			  "<th>%s</th><th>%s</th>", M("drill_timeline"),
			  M("hostname"), M("school"), M("status"));
		for (int s = 0; s < DRILL_STAGE_COUNT; s++)
			html_emit(b, "<th>%s</th>", drill_stage_name(s));
		html_emit(b, "</tr>");
		for (size_t i = 0; i < n; i++) {
			int64_t st[DRILL_STAGE_COUNT];
			drill_target_stages(&t[i], st);
			html_emit(b, "<tr><td>%s</td><td>%s</td><td>%s</td>",
				  t[i].agent, t[i].school, t[i].status);
			for (int s = 0; s < DRILL_STAGE_COUNT; s++) {
				char when[32];
				i18n_datetime(st[s], when, sizeof(when));
				html_emit(b, "<td>%s</td>", when);
			}
			html_emit(b, "</tr>");
		}
		html_emit(b, "</table><h2>%s</h2><table id=\"scoreboard\"><tr>"
			  "<th></th><th>%s</th><th>%s</th><th>%s</th>"
			  "<th>%s</th>", M("drill_scoreboard"), M("pcs"),
			  M("drill_took_part"), M("drill_result"),
			  M("drill_not_part"));
		for (int s = 0; s < DRILL_STAGE_COUNT; s++)
			html_emit(b, "<th>%s<br><small>%s</small></th>",
				  drill_stage_name(s), M("drill_share_p50_p90"));
		html_emit(b, "</tr>");
		board_level(ctx, "school", t, n, commune, in, sc, scratch);
		board_level(ctx, "commune", t, n, commune, in, sc, scratch);
		if (ctx->user->scope.kind == STORE_SCOPE_PROVINCE)
			board_html(ctx, "province", t, n, NULL, sc, scratch);
		html_emit(b, "</table>");
	}
	alloc_free(commune);
	alloc_free(in);
	alloc_free(scratch);
	dynbuf_free(&all);
	return rc;
}

static void ms_cell(struct dynbuf *b, int64_t ms)
{
	if (ms < 0)
		html_emit(b, "<td>-</td>");
	else
		html_emit(b, "<td>%lld ms</td>", (long long)ms);
}

static void figures_html(struct web_ctx *ctx,
			 const struct drill_redteam_figures *f)
{
	html_emit(&ctx->res->body, "<h2>%s</h2><table id=\"redteam\">"
		  "<tr><th>%s</th><td id=\"coverage\">%lld / %lld "
		  "(%.1f%%)</td></tr>"
		  "<tr><th>%s</th><td id=\"late-count\">%lld</td></tr>"
		  "<tr><th>%s</th><td>%lld / %lld ms</td></tr>"
		  "<tr><th>%s</th><td>%lld / %lld ms</td></tr>"
		  "<tr><th>%s</th><td id=\"false-rate\">%lld / %lld "
		  "(%.1f%%)</td></tr></table><p><small>%s %s</small></p>",
		  M("redteam_figures"), M("redteam_coverage"),
		  (long long)f->detected, (long long)(f->actions - f->late),
		  100 * f->coverage, M("redteam_late"), (long long)f->late,
		  M("redteam_detect"), (long long)f->detect_p50_ms,
		  (long long)f->detect_p90_ms, M("redteam_ack"),
		  (long long)f->ack_p50_ms, (long long)f->ack_p90_ms,
		  M("redteam_false"), (long long)f->false_alerts,
		  (long long)f->alerts, 100 * f->false_rate, M("redteam_rule"),
		  M("redteam_late_rule"));
}

/* The actions one by one, timely (late false) or recorded late. */
static void actions_html(struct web_ctx *ctx,
			 const struct drill_redteam_score *sc, bool late)
{
	struct dynbuf *b = &ctx->res->body;
	html_emit(b, "<table id=\"%s\"><tr><th>%s</th><th>%s</th><th>%s</th>"
		  "<th>%s</th><th>%s</th><th>%s</th></tr>",
		  late ? "late" : "actions", M("time"), M("redteam_target"),
		  M("redteam_technique"), M("redteam_description"),
		  M(late ? "redteam_recorded" : "redteam_detect"),
		  M(late ? "redteam_late_alert" : "redteam_ack"));
	for (size_t i = 0; i < sc->nactions; i++) {
		const struct store_redteam_action *a = &sc->actions[i];
		char when[32], rec[32];
		if (sc->m[i].late != late)
			continue;
		i18n_datetime(a->at_us, when, sizeof(when));
		html_emit(b, "<tr><td>%s</td><td>%s:%s</td><td>%s</td>"
			  "<td>%s</td>", when, a->target_kind, a->target,
			  a->technique, a->description);
		if (late) {
			i18n_datetime(a->created_us, rec, sizeof(rec));
			html_emit(b, "<td>%s</td><td>%lld</td></tr>", rec,
				  (long long)sc->alerts[sc->m[i].alert].id);
			continue;
		}
		ms_cell(b, sc->m[i].detect_ms);
		ms_cell(b, sc->m[i].ack_ms);
		html_emit(b, "</tr>");
	}
	html_emit(b, "</table>");
}

static int redteam_html(struct web_ctx *ctx, const struct store_drill *d)
{
	struct drill_redteam_score sc;
	int rc = drill_redteam_score(ctx->reader, d->id, &sc);
	if (rc == 0) {
		figures_html(ctx, &sc.fig);
		/* The actions name PCs of any school of the scope: only an
		 * officer holding the whole province reads them one by one. */
		if (ctx->user->scope.kind == STORE_SCOPE_PROVINCE) {
			actions_html(ctx, &sc, false);
			html_emit(&ctx->res->body, "<h3>%s</h3>",
				  M("redteam_late"));
			actions_html(ctx, &sc, true);
		}
	}
	drill_redteam_score_free(&sc);
	return rc;
}

/* The forms the officer's role may use on this campaign now. */
static void forms_html(struct web_ctx *ctx, const struct store_drill *d)
{
	struct dynbuf *b = &ctx->res->body;
	const struct auth_user *u = ctx->user;
	char err[256];
	if (!(u->role->perms & AUTH_DRILL))
		return;
	bool admin = strcmp(u->role->name, "province_admin") == 0;
	bool ended = strcmp(d->state, "aborted") == 0 ||
		     strcmp(d->state, "done") == 0;
	if (admin && strcmp(d->state, "planned") == 0 &&
	    strcmp(u->u.name, d->organiser) != 0)
		html_emit(b, "<form method=\"post\" action=\"/drills/%lld/approve\">"
			  "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
			  "<button id=\"approve\">%s</button></form>",
			  (long long)d->id, ctx->csrf, M("drill_approve"));
	if (!ended && (admin || strcmp(u->u.name, d->organiser) == 0))
		html_emit(b, "<form method=\"post\" action=\"/drills/%lld/abort\">"
			  "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
			  "<button id=\"abort\">%s</button></form>",
			  (long long)d->id, ctx->csrf, M("drill_abort"));
	if (drill_redteam_may_record(d, u->role->name, err, sizeof(err)) != 0)
		return;
	html_emit(b, "<h2>%s</h2><form method=\"post\" action=\"/drills/%lld/actions\">"
		  "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
		  "<label>%s <input name=\"time\" placeholder=\"2026-12-02T09:15:00Z\"></label>"
		  "<label>%s <input name=\"target\" placeholder=\"host:PC-01\"></label>"
		  "<label>%s <input name=\"technique\" placeholder=\"T1059.001\"></label>"
		  "<label>%s <input name=\"description\"></label>"
		  "<label>%s <textarea name=\"csv\" rows=\"4\" placeholder=\"time,target,technique,description\"></textarea></label>"
		  "<button id=\"record\">%s</button></form>",
		  M("redteam_record"), (long long)d->id, ctx->csrf, M("time"),
		  M("redteam_target"), M("redteam_technique"),
		  M("redteam_description"), M("redteam_csv"),
		  M("redteam_record"));
}

void view_drill(struct web_ctx *ctx)
{
	struct dynbuf *b = &ctx->res->body;
	struct store_drill d;
	int rc = drill_load(ctx, &d);
	if (rc != 0) {
		drill_error(ctx, rc);
		return;
	}
	char from[32], to[32];
	i18n_datetime(d.window_start_us, from, sizeof(from));
	i18n_datetime(d.window_end_us, to, sizeof(to));
	web_page_start(ctx, 200, d.name);
	html_emit(b, "<h1>%s</h1><dl id=\"campaign\"><dt>%s</dt><dd id=\"state\">%s</dd>"
		  "<dt>%s</dt><dd>%s</dd><dt>%s</dt><dd>%s</dd>"
		  "<dt>%s</dt><dd>%s – %s</dd><dt>%s</dt><dd>%s / %s</dd></dl>",
		  d.name, M("status"), d.state, M("drill_scenario"), d.scenario,
		  M("drill_scope"), d.scope, M("drill_window_start"), from, to,
		  M("drill_people"), d.organiser,
		  d.approver[0] ? d.approver : "-");
	forms_html(ctx, &d);
	rc = strcmp(d.scenario, DRILL_REDTEAM) == 0 ? redteam_html(ctx, &d)
						    : injection_html(ctx, &d);
	if (rc != 0)
		html_emit(b, "<p class=\"error\">%s</p>", M("store_unreadable"));
	web_page_end(ctx);
}

static void back_to(struct web_ctx *ctx, const struct store_drill *d)
{
	ctx->res->status = 303;
	snprintf(ctx->res->location, sizeof(ctx->res->location),
		 "/drills/%" PRIu64, d->id);
}

static void refused(struct web_ctx *ctx, int status, const char *why)
{
	web_page_start(ctx, status, M("drills"));
	html_emit(&ctx->res->body, "<p class=\"error\" id=\"error\">%s</p>", why);
	web_page_end(ctx);
}

/* Why the officer may not move d to `to` now (a message key), or NULL:
 * approval by a province_admin who did not plan it (the store refuses
 * the organiser too); abort by its organiser or a province_admin, and
 * not of a running injection, whose abort signs drill.abort for every
 * PC (the CLI's `drill abort`, with the CA's key). */
static const char *transition_refused(const struct web_ctx *ctx,
				      const struct store_drill *d,
				      const char *to, int *status)
{
	bool admin = strcmp(ctx->user->role->name, "province_admin") == 0;
	bool organiser = strcmp(ctx->user->u.name, d->organiser) == 0;
	*status = 403;
	if (strcmp(to, "approved") == 0)
		return admin && !organiser ? NULL : "drill_second_person";
	if (!admin && !organiser)
		return "drill_abort_who";
	*status = 409;
	return strcmp(d->state, "running") == 0 &&
			       strcmp(d->scenario, DRILL_REDTEAM) != 0
		       ? "drill_abort_cli"
		       : NULL;
}

/* POST /drills/{id}/approve and /abort: one conditional move in the
 * store, audit-logged as action. */
static void drill_move(struct web_ctx *ctx, const char *to,
		       const char *action)
{
	struct store_drill d;
	char object[32];
	int status;
	int rc = drill_load(ctx, &d);
	if (rc != 0) {
		drill_error(ctx, rc);
		return;
	}
	const char *why = transition_refused(ctx, &d, to, &status);
	if (why != NULL) {
		refused(ctx, status, M(why));
		return;
	}
	const char *from = strcmp(to, "approved") == 0 ? "planned" : d.state;
	if (store_drill_transition(ctx->store, d.id, from, to,
				   ctx->user->u.name) != 0) {
		refused(ctx, 409, M("drill_state_changed"));
		return;
	}
	snprintf(object, sizeof(object), "drill:%" PRIu64, d.id);
	web_audit(ctx, action, object, d.name);
	back_to(ctx, &d);
}

void view_drill_approve(struct web_ctx *ctx)
{
	drill_move(ctx, "approved", "drill.approve");
}

void view_drill_abort(struct web_ctx *ctx)
{
	drill_move(ctx, "aborted", "drill.abort");
}

/* The actions of a form or API body: one from its four fields, or a
 * CSV in csv. 0, -EINVAL (err says why) or -ENOMEM. */
static int body_actions(struct web_ctx *ctx, struct store_redteam_action **out,
			size_t *n, char *err, size_t errlen)
{
	const char *body = ctx->req->body;
	size_t len = ctx->req->body_len;
	char *csv = alloc_bytes(WEB_MAX_BODY + 1);
	if (csv == NULL)
		return -ENOMEM;
	int rc = route_param(body, len, "csv", csv, WEB_MAX_BODY + 1);
	if (rc == 0 && csv[0] != '\0') {
		rc = drill_action_csv_load(csv, strlen(csv), out, n, err,
					   errlen);
		alloc_free(csv);
		return rc;
	}
	alloc_free(csv);
	if (rc == -EINVAL) {
		snprintf(err, errlen, "csv: malformed or too long");
		return -EINVAL;
	}
	char v[DRILL_ACTION_NCOLS][STORE_ACTION_TEXT_MAX + 2];
	const char *f[DRILL_ACTION_NCOLS];
	size_t l[DRILL_ACTION_NCOLS];
	for (int c = 0; c < DRILL_ACTION_NCOLS; c++) {
		const char *name = drill_action_col_name(c);
		if (route_param(body, len, name, v[c], sizeof(v[c])) != 0) {
			snprintf(err, errlen, "column %s: missing, malformed "
				 "or too long", name);
			return -EINVAL;
		}
		f[c] = v[c];
		l[c] = strlen(v[c]);
	}
	*out = alloc_zeroed(1, sizeof(**out));
	if (*out == NULL)
		return -ENOMEM;
	rc = drill_action_fields(f, l, *out, NULL, err, errlen);
	if (rc != 0) {
		alloc_free(*out);
		*out = NULL;
		return rc;
	}
	*n = 1;
	return 0;
}

/* The audit log names how many actions came in, and how many of them
 * were recorded late (an alert matching them was already in): a
 * stolen organiser login writing actions from the alerts shows there. */
static void audit_actions(struct web_ctx *ctx, const struct store_drill *d,
			  const struct store_redteam_action *a, size_t n)
{
	struct drill_redteam_score sc;
	char object[32], detail[96];
	size_t late = 0;
	if (drill_redteam_score(ctx->reader, d->id, &sc) == 0)
		late = drill_redteam_count_late(a, n, ctx->now_us, sc.alerts,
						sc.nalerts);
	drill_redteam_score_free(&sc);
	snprintf(object, sizeof(object), "drill:%" PRIu64, d->id);
	snprintf(detail, sizeof(detail), "%zu red-team action(s), %zu "
		 "recorded late", n, late);
	web_audit(ctx, "drill.action", object, detail);
}

/* Records the body's actions; 0 or an HTTP status with err. */
static int record_actions(struct web_ctx *ctx, struct store_drill *d,
			  size_t *n, char *err, size_t errlen)
{
	struct store_redteam_action *a = NULL;
	int rc = drill_load(ctx, d);
	if (rc != 0) {
		snprintf(err, errlen, "%s", rc == -ENOENT ? "no such drill"
							   : "store error");
		return rc == -ENOENT ? 404 : 500;
	}
	rc = drill_redteam_may_record(d, ctx->user->role->name, err, errlen);
	if (rc != 0)
		return rc == -EPERM ? 403 : 409;
	rc = body_actions(ctx, &a, n, err, errlen);
	if (rc == 0)
		rc = drill_redteam_prepare(d, ctx->user->u.name, ctx->now_us,
					   ctx->opts->redteam_grace_s, a, *n,
					   err, errlen);
	if (rc == 0 && (rc = store_redteam_actions_add(ctx->store, a, *n)) != 0)
		snprintf(err, errlen, "the actions could not be stored");
	if (rc == 0)
		audit_actions(ctx, d, a, *n);
	alloc_free(a);
	if (rc != 0)
		return rc == -EINVAL || rc == -ERANGE ? 400 : 500;
	return 0;
}

void view_drill_actions(struct web_ctx *ctx)
{
	struct store_drill d;
	char err[512];
	size_t n = 0;
	int status = record_actions(ctx, &d, &n, err, sizeof(err));
	if (status == 0)
		back_to(ctx, &d);
	else
		refused(ctx, status, err);
}

void api_drill_actions(struct web_ctx *ctx)
{
	struct store_drill d;
	char err[512];
	size_t n = 0;
	int status = record_actions(ctx, &d, &n, err, sizeof(err));
	if (status != 0) {
		web_problem(ctx, status, "the actions were not recorded", err);
		return;
	}
	ctx->res->status = 201;
	ctx->res->content_type = "application/json";
	dynbuf_addf(&ctx->res->body, "{\"campaign\":%" PRIu64 ",\"recorded\":"
		    "%zu}\n", d.id, n);
}
