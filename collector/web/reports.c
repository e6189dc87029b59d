/* reports: the console's pages and API for the six-monthly and annual
 * reports (issue 18). Every read goes through store_report_list_scoped,
 * so a report outside the officer's scope is a 404 like a missing one;
 * a draft for a scope the officer does not hold is refused the same way
 * before anything is computed. Drafting is the "report.generate" audit
 * action. The figures of a draft are computed now from the store (the
 * draft is replaced by each run); a signed report's frozen model is
 * served as stored. */
#include "collector/web/reports.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector/report/report.h"
#include "collector/web/html.h"
#include "collector/web/views.h"
#include "common/alloc.h"
#include "common/fsutil.h"
#include "common/timeutil.h"

#define M(key) i18n_msg(ctx->lang, key)
#define REPORTS_PAGE_MAX 500

/* The defaults of collector.yaml's report settings; the console drafts
 * with them (see docs/WEB.md). */
static void reports_options(struct web_ctx *ctx, struct report_calendar *cal,
			    struct report_options *o)
{
	report_calendar_default(cal);
	memset(o, 0, sizeof(*o));
	o->threshold = 80.0;
	/* The same destinations as the CLI's report, so that both count
	 * forwarded alerts and removed destinations alike. */
	o->forward_dests = ctx->opts->nforward_dests;
	o->forward_dest_names = ctx->opts->forward_dests;
	o->now_us = ctx->now_us;
}

/* 0 when the officer's scope holds the report scope rs, else -ENOENT
 * (answered as 404: an officer cannot tell another school's report from
 * a missing one). */
static int reports_scope_held(struct web_ctx *ctx,
			      const struct report_scope *rs)
{
	const struct store_scope *sc = &ctx->user->scope;
	struct store_school s;
	if (sc->kind == STORE_SCOPE_PROVINCE)
		return 0;
	if (rs->kind == SCOPE_SCHOOL)
		return store_school_get_scoped(ctx->reader, sc, rs->key, &s) == 0
			       ? 0
			       : -ENOENT;
	if (rs->kind == SCOPE_COMMUNE && sc->kind == STORE_SCOPE_COMMUNE &&
	    strcmp(sc->value, rs->key) == 0)
		return 0;
	return -ENOENT;
}

/* "signed", "draft", or "overdue" for a draft past its deadline. */
static const char *reports_reminder(struct web_ctx *ctx,
				    const struct store_report *r, char due[11])
{
	struct report_calendar cal;
	struct report_options o;
	struct report_period p;
	char err[128];
	due[0] = '\0';
	reports_options(ctx, &cal, &o);
	if (report_period_parse(r->period, &cal, &p, err, sizeof(err)) != 0)
		return r->state;
	snprintf(due, 11, "%s", p.due);
	if (strcmp(r->state, "draft") != 0)
		return r->state;
	/* As report_tick: a reminder from the due day's start (UTC). */
	struct tm tm = {0};
	if (sscanf(p.due, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday) != 3)
		return r->state;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	int64_t due_us = (int64_t)timegm(&tm) * 1000000LL;
	return ctx->now_us >= due_us ? "overdue" : "draft";
}

struct one_report {
	struct store_report r;
	char *remarks, *model; /* owned copies */
	bool found;
};

static void one_row(void *arg, const struct store_report *r)
{
	struct one_report *o = arg;
	if (o->found)
		return;
	o->r = *r;
	o->remarks = alloc_strdup(r->remarks ? r->remarks : "");
	o->model = alloc_strdup(r->model ? r->model : "{}");
	o->r.remarks = o->remarks;
	o->r.model = o->model;
	o->found = o->remarks != NULL && o->model != NULL;
}

static void one_free(struct one_report *o)
{
	alloc_free(o->remarks);
	alloc_free(o->model);
}

/* The report of ctx->params[0] in scope: 0, or -ENOENT. */
static int reports_get(struct web_ctx *ctx, struct one_report *o)
{
	char *end;
	memset(o, 0, sizeof(*o));
	unsigned long long id = strtoull(ctx->params[0], &end, 10);
	if (*end != '\0' || id == 0 || id > INT64_MAX)
		return -ENOENT;
	if (store_report_list_scoped(ctx->reader, &ctx->user->scope, id, one_row,
				     o) != 0 ||
	    !o->found) {
		one_free(o);
		return -ENOENT;
	}
	return 0;
}

/* Drafts the report of the form's or the JSON body's period and scope:
 * 0 with *id, or -EINVAL (bad input) / -ENOENT (outside the scope). */
static int reports_draft(struct web_ctx *ctx, uint64_t *id, char *err,
			 size_t errlen)
{
	char period_text[32], scope_text[STORE_NAME_MAX + 16], remarks[1024];
	struct report_calendar cal;
	struct report_options o;
	struct report_period p;
	struct report_scope s;
	struct report r;
	const char *body = ctx->req->body;
	size_t n = ctx->req->body_len;
	reports_options(ctx, &cal, &o);
	if (route_param(body, n, "period", period_text, sizeof(period_text)) != 0 ||
	    route_param(body, n, "scope", scope_text, sizeof(scope_text)) != 0) {
		snprintf(err, errlen, "period and scope are required");
		return -EINVAL;
	}
	int rc = route_param(body, n, "remarks", remarks, sizeof(remarks));
	if (rc == -EINVAL) {
		snprintf(err, errlen, "remarks: malformed or too long");
		return -EINVAL;
	}
	if (report_period_parse(period_text, &cal, &p, err, errlen) != 0 ||
	    report_scope_parse(scope_text, &s, err, errlen) != 0)
		return -EINVAL;
	if (reports_scope_held(ctx, &s) != 0) {
		snprintf(err, errlen, "no such scope");
		return -ENOENT;
	}
	rc = report_draft_store(ctx->store, &p, &s, &o,
				rc == 0 ? remarks : NULL, &r, id, err, errlen);
	if (rc != 0)
		return rc == -ENOENT ? -ENOENT : -EINVAL;
	char object[64];
	snprintf(object, sizeof(object), "report:%" PRIu64, *id);
	char detail[160];
	snprintf(detail, sizeof(detail), "%s %s version %d", p.id, s.id,
		 r.version);
	web_audit(ctx, "report.generate", object, detail);
	report_free(&r);
	return 0;
}

/* ---- pages ----------------------------------------------------------------- */

struct list_rows {
	struct web_ctx *ctx;
	int n;
	bool json;
};

static void list_row(void *arg, const struct store_report *r)
{
	struct list_rows *l = arg;
	struct web_ctx *ctx = l->ctx;
	struct dynbuf *b = &ctx->res->body;
	char due[11], created[32];
	if (l->n >= REPORTS_PAGE_MAX)
		return;
	const char *reminder = reports_reminder(ctx, r, due);
	if (l->json) {
		timeutil_format_us(r->created_us, created, sizeof(created));
		dynbuf_addf(b, "%s{\"id\":\"%" PRIu64 "\",\"period\":",
			    l->n ? "," : "", r->id);
		web_json_str(b, r->period);
		dynbuf_add_str(b, ",\"scope\":");
		web_json_str(b, r->scope);
		dynbuf_addf(b, ",\"version\":%d,\"state\":", r->version);
		web_json_str(b, r->state);
		dynbuf_add_str(b, ",\"reminder\":");
		web_json_str(b, reminder);
		dynbuf_add_str(b, ",\"due\":");
		web_json_str(b, due);
		dynbuf_add_str(b, ",\"created\":");
		web_json_str(b, created);
		dynbuf_add_str(b, "}");
	} else {
		char idtext[24];
		snprintf(idtext, sizeof(idtext), "%" PRIu64, r->id);
		i18n_datetime(r->created_us, created, sizeof(created));
		html_emit(b, "<tr class=\"%s\"><td><a href=\"/reports/%s\">%s</a></td>"
			  "<td>%s</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td></tr>",
			  reminder, idtext, r->period, r->scope, r->version,
			  M(reminder), due, created);
	}
	l->n++;
}

void view_reports(struct web_ctx *ctx)
{
	struct dynbuf *b = &ctx->res->body;
	struct list_rows l = {ctx, 0, false};
	web_page_start(ctx, 200, M("reports"));
	html_emit(b, "<table id=\"reports\"><tr><th>%s</th><th>%s</th><th>%s</th>"
		  "<th>%s</th><th>%s</th><th>%s</th></tr>",
		  M("report_period"), M("report_scope"), M("report_version"),
		  M("status"), M("report_due"), M("time"));
	if (store_report_list_scoped(ctx->reader, &ctx->user->scope, 0, list_row,
				     &l) != 0) {
		view_error(ctx, 500, "server_error");
		return;
	}
	html_emit(b, "</table>");
	if (l.n == 0)
		html_emit(b, "<p>%s</p>", M("no_rows"));
	if (ctx->user->role->perms & AUTH_ACT)
		html_emit(b, "<h2>%s</h2><form method=\"post\" action=\"/reports\">"
			  "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
			  "<label>%s <input name=\"period\" id=\"period\" placeholder=\"2026-H1\" required></label>"
			  "<label>%s <input name=\"scope\" id=\"scope\" placeholder=\"school:CODE\" required></label>"
			  "<button id=\"draft\">%s</button></form>",
			  M("report_draft"), ctx->csrf, M("report_period"),
			  M("report_scope"), M("report_draft"));
	web_page_end(ctx);
}

void view_report_draft(struct web_ctx *ctx)
{
	uint64_t id;
	char err[256];
	int rc = reports_draft(ctx, &id, err, sizeof(err));
	if (rc != 0) {
		view_error(ctx, rc == -ENOENT ? 404 : 400,
			   rc == -ENOENT ? "not_found" : "bad_request");
		return;
	}
	ctx->res->status = 303;
	snprintf(ctx->res->location, sizeof(ctx->res->location),
		 "/reports/%" PRIu64, id);
}

static void figures_html(struct web_ctx *ctx, const struct report *r)
{
	struct dynbuf *b = &ctx->res->body;
	if (r->missing_count)
		html_emit(b, "<p class=\"err\">%s: %s</p>", M("report_missing"),
			  r->missing_days);
	html_emit(b, "<p id=\"summary\">%s</p>", r->summary_vi);
	for (int i = 0; i < SEC_COUNT; i++) {
		const struct report_section *s = &r->sections[i];
		html_emit(b, "<h2>%s</h2>", s->title_vi);
		if (s->note_vi[0])
			html_emit(b, "<p>%s</p>", s->note_vi);
		html_emit(b, "<table class=\"figures\" id=\"sec-%s\">", s->key);
		for (size_t f = 0; f < s->nfigures; f++) {
			const struct report_figure *g = &s->figures[f];
			if (g->na)
				html_emit(b, "<tr id=\"%s\"><th>%s</th><td>%s</td><td><small>%s</small></td></tr>",
					  g->key, g->label_vi, M("report_na"), g->method);
			else
				html_emit(b, "<tr id=\"%s\"><th>%s</th><td>%.1f %s</td><td><small>%s</small></td></tr>",
					  g->key, g->label_vi, g->value, g->unit, g->method);
		}
		html_emit(b, "</table>");
	}
}

/* The model of a stored draft's period and scope, computed now. */
static int reports_build(struct web_ctx *ctx, const struct store_report *sr,
			 struct report *r)
{
	struct report_calendar cal;
	struct report_options o;
	struct report_period p;
	struct report_scope s;
	char err[256];
	reports_options(ctx, &cal, &o);
	if (report_period_parse(sr->period, &cal, &p, err, sizeof(err)) != 0 ||
	    report_scope_parse(sr->scope, &s, err, sizeof(err)) != 0)
		return -EINVAL;
	return report_build(ctx->store, &p, &s, &o, r, err, sizeof(err));
}

void view_report(struct web_ctx *ctx)
{
	struct dynbuf *b = &ctx->res->body;
	struct one_report o;
	struct report r;
	char due[11], title[96];
	if (reports_get(ctx, &o) != 0) {
		view_error(ctx, 404, "not_found");
		return;
	}
	const char *reminder = reports_reminder(ctx, &o.r, due);
	snprintf(title, sizeof(title), "%s %s", o.r.period, o.r.scope);
	web_page_start(ctx, 200, title);
	html_emit(b, "<p id=\"state\" class=\"%s\">%s: %s · %s: %d · %s: %s</p>",
		  reminder, M("status"), M(reminder), M("report_version"),
		  o.r.version, M("report_due"), due);
	html_emit(b, "<p><a id=\"dl-json\" href=\"/reports/%s/json\">JSON</a> · "
		  "<a id=\"dl-csv\" href=\"/reports/%s/csv\">CSV</a> · "
		  "<a id=\"dl-xlsx\" href=\"/reports/%s/xlsx\">XLSX</a></p>",
		  ctx->params[0], ctx->params[0], ctx->params[0]);
	if (o.remarks[0])
		html_emit(b, "<h2>%s</h2><p id=\"remarks\">%s</p>",
			  M("report_remarks"), o.remarks);
	if (strcmp(o.r.state, "draft") == 0 &&
	    (ctx->user->role->perms & AUTH_ACT))
		html_emit(b, "<form method=\"post\" action=\"/reports/%s/remarks\">"
			  "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
			  "<label>%s <textarea name=\"remarks\" id=\"remarks-text\">%s</textarea></label>"
			  "<button id=\"save-remarks\">%s</button></form>",
			  ctx->params[0], ctx->csrf, M("report_remarks"),
			  o.remarks, M("report_save"));
	/* A collector without the CA key signs no report: it says so
	 * where the button would be (reports_sign refuses it anyway). */
	if (strcmp(o.r.state, "draft") == 0 &&
	    (ctx->user->role->perms & AUTH_ADMIN)) {
		if (ctx->opts->report_key == NULL)
			html_emit(b, "<p id=\"sign-keyless\">%s</p>",
				  M("no_ca"));
		else
			html_emit(b, "<form method=\"post\" action=\"/reports/"
				  "%s/sign\"><input type=\"hidden\" name=\"csrf\" "
				  "value=\"%s\"><button id=\"sign\">%s</button>"
				  "</form>", ctx->params[0], ctx->csrf,
				  M("report_sign"));
	}
	if (strcmp(o.r.state, "signed") == 0)
		html_emit(b, "<p id=\"signed\">%s · SHA-256 <code>%s</code> · "
			  "<a id=\"dl-pdf\" href=\"/reports/%s/pdf\">PDF</a></p>",
			  o.r.signed_by, o.r.pdf_sha256, ctx->params[0]);
	if (strcmp(o.r.state, "draft") == 0 && reports_build(ctx, &o.r, &r) == 0) {
		figures_html(ctx, &r);
		report_free(&r);
	}
	one_free(&o);
	web_page_end(ctx);
}

static void download_name(struct web_ctx *ctx, const struct store_report *r,
			  const char *ext)
{
	char name[96];
	size_t j = 0;
	snprintf(name, sizeof(name), "report-%s-%s-v%d.%s", r->period,
		 r->scope, r->version, ext);
	/* The scope may hold any UTF-8; the file name keeps a safe subset. */
	for (size_t i = 0; name[i]; i++)
		name[j++] = (char)((name[i] >= 'a' && name[i] <= 'z') ||
						   (name[i] >= 'A' && name[i] <= 'Z') ||
						   (name[i] >= '0' && name[i] <= '9') ||
						   name[i] == '.' || name[i] == '-'
					   ? name[i]
					   : '_');
	name[j] = '\0';
	snprintf(ctx->res->disposition, sizeof(ctx->res->disposition),
		 "attachment; filename=\"%s\"", name);
}

void view_report_json(struct web_ctx *ctx)
{
	struct one_report o;
	if (reports_get(ctx, &o) != 0) {
		view_error(ctx, 404, "not_found");
		return;
	}
	ctx->res->status = 200;
	ctx->res->content_type = "application/json";
	download_name(ctx, &o.r, "json");
	dynbuf_add_str(&ctx->res->body, o.model);
	one_free(&o);
}

void view_report_csv(struct web_ctx *ctx)
{
	struct one_report o;
	struct report r;
	char *text = NULL;
	size_t len = 0;
	if (reports_get(ctx, &o) != 0) {
		view_error(ctx, 404, "not_found");
		return;
	}
	int rc = reports_build(ctx, &o.r, &r);
	if (rc == 0) {
		FILE *f = open_memstream(&text, &len);
		rc = f == NULL ? -errno : report_write_csv(&r, f);
		if (f != NULL && fclose(f) != 0 && rc == 0)
			rc = -EIO;
		report_free(&r);
	}
	if (rc != 0) {
		free(text);
		one_free(&o);
		view_error(ctx, 500, "server_error");
		return;
	}
	ctx->res->status = 200;
	ctx->res->content_type = "text/csv; charset=utf-8";
	download_name(ctx, &o.r, "csv");
	dynbuf_add(&ctx->res->body, text, len);
	free(text);
	one_free(&o);
}

/* ---- API ------------------------------------------------------------------- */

void api_reports(struct web_ctx *ctx)
{
	struct list_rows l = {ctx, 0, true};
	ctx->res->status = 200;
	ctx->res->content_type = "application/json";
	dynbuf_add_str(&ctx->res->body, "{\"items\":[");
	if (store_report_list_scoped(ctx->reader, &ctx->user->scope, 0, list_row,
				     &l) != 0) {
		web_problem(ctx, 500, "Internal Server Error",
			    "cannot read the reports");
		return;
	}
	dynbuf_add_str(&ctx->res->body, "],\"next_cursor\":null}\n");
}

void api_report(struct web_ctx *ctx)
{
	struct one_report o;
	struct dynbuf *b = &ctx->res->body;
	char due[11];
	if (reports_get(ctx, &o) != 0) {
		web_problem(ctx, 404, "Not Found", "no such report");
		return;
	}
	const char *reminder = reports_reminder(ctx, &o.r, due);
	ctx->res->status = 200;
	ctx->res->content_type = "application/json";
	dynbuf_addf(b, "{\"id\":\"%" PRIu64 "\",\"period\":", o.r.id);
	web_json_str(b, o.r.period);
	dynbuf_add_str(b, ",\"scope\":");
	web_json_str(b, o.r.scope);
	dynbuf_addf(b, ",\"version\":%d,\"state\":", o.r.version);
	web_json_str(b, o.r.state);
	dynbuf_add_str(b, ",\"reminder\":");
	web_json_str(b, reminder);
	dynbuf_add_str(b, ",\"due\":");
	web_json_str(b, due);
	dynbuf_add_str(b, ",\"remarks\":");
	web_json_str(b, o.remarks);
	/* The model was written by report_json_string: already JSON. */
	dynbuf_add_str(b, ",\"model\":");
	dynbuf_add_str(b, o.model[0] ? o.model : "null");
	dynbuf_add_str(b, "}\n");
	one_free(&o);
}

void api_report_draft(struct web_ctx *ctx)
{
	uint64_t id;
	char err[256];
	int rc = reports_draft(ctx, &id, err, sizeof(err));
	if (rc != 0) {
		web_problem(ctx, rc == -ENOENT ? 404 : 400,
			    rc == -ENOENT ? "Not Found" : "Bad Request", err);
		return;
	}
	ctx->res->status = 201;
	ctx->res->content_type = "application/json";
	dynbuf_addf(&ctx->res->body, "{\"id\":\"%" PRIu64 "\"}\n", id);
}

/* ---- remarks and sign-off ---------------------------------------------------- */

/* The stored report of ctx->params[0] in scope, parsed back into its
 * period and scope: 0, -ENOENT, or -EALREADY when it is signed. */
static int reports_target(struct web_ctx *ctx, struct report_period *p,
			  struct report_scope *s, struct report_options *o)
{
	struct report_calendar cal;
	struct one_report one;
	char err[256];
	reports_options(ctx, &cal, o);
	if (reports_get(ctx, &one) != 0)
		return -ENOENT;
	int rc = strcmp(one.r.state, "draft") != 0 ? -EALREADY : 0;
	if (rc == 0 &&
	    (report_period_parse(one.r.period, &cal, p, err, sizeof(err)) != 0 ||
	     report_scope_parse(one.r.scope, s, err, sizeof(err)) != 0))
		rc = -ENOENT;
	one_free(&one);
	return rc;
}

/* The officer's remarks on a draft: the draft is computed again with
 * them. 0, -ENOENT, -EALREADY (signed), -EINVAL. */
static int reports_remarks(struct web_ctx *ctx, char *err, size_t errlen)
{
	char remarks[REPORT_TEXT_MAX];
	struct report_period p;
	struct report_scope s;
	struct report_options o;
	struct report r;
	uint64_t id;
	if (route_param(ctx->req->body, ctx->req->body_len, "remarks", remarks,
			sizeof(remarks)) != 0) {
		snprintf(err, errlen, "remarks: missing, malformed or too long");
		return -EINVAL;
	}
	int rc = reports_target(ctx, &p, &s, &o);
	if (rc != 0)
		return rc;
	rc = report_draft_store(ctx->store, &p, &s, &o, remarks, &r, &id, err,
				errlen);
	if (rc != 0)
		return -EIO;
	report_free(&r);
	web_audit(ctx, "report.remarks", ctx->params[0], p.id);
	return 0;
}

static int reports_sign(struct web_ctx *ctx, struct report_signoff *so,
			char *err, size_t errlen)
{
	struct report_period p;
	struct report_scope s;
	struct report_options o;
	int rc = reports_target(ctx, &p, &s, &o);
	if (rc != 0)
		return rc;
	if (ctx->opts->report_key == NULL || ctx->opts->state_dir == NULL) {
		snprintf(err, errlen, "this collector runs without the CA key "
			 "(ca.key) and signs no reports; sign on the collector "
			 "that holds it");
		return -ENOTSUP;
	}
	*so = (struct report_signoff){
		.by = ctx->user->u.name,
		.state_dir = ctx->opts->state_dir,
		.fonts_dir = ctx->opts->report_fonts_dir
				     ? ctx->opts->report_fonts_dir
				     : REPORT_FONTS_DIR,
		.key = ctx->opts->report_key,
	};
	rc = report_sign_store(ctx->store, &p, &s, &o, so, err, errlen);
	if (rc == 0) {
		char detail[200];
		snprintf(detail, sizeof(detail), "%s %s version %d sha256 %s",
			 p.id, s.id, so->version, so->sha256);
		web_audit(ctx, "report.sign", ctx->params[0], detail);
	}
	return rc;
}

/* -ENOTSUP: a collector without the CA key, which cannot sign. */
static int status_of(int rc)
{
	return rc == -ENOENT ? 404 : rc == -EALREADY ? 409 : rc == -EINVAL ? 400
	       : rc == -ENOTSUP ? 503 : 500;
}

static const char *title_of(int rc)
{
	return rc == -ENOENT ? "Not Found" : rc == -EALREADY ? "Conflict"
	       : rc == -EINVAL ? "Bad Request"
	       : rc == -ENOTSUP ? "Service Unavailable" : "Internal Server Error";
}

static void page_after(struct web_ctx *ctx, int rc)
{
	if (rc != 0) {
		view_error(ctx, status_of(rc),
			   rc == -ENOENT ? "not_found" : rc == -EALREADY ? "report_signed"
			   : rc == -EINVAL ? "bad_request"
			   : rc == -ENOTSUP ? "no_ca" : "server_error");
		return;
	}
	ctx->res->status = 303;
	snprintf(ctx->res->location, sizeof(ctx->res->location), "/reports/%s",
		 ctx->params[0]);
}

void view_report_remarks(struct web_ctx *ctx)
{
	char err[256] = "";
	page_after(ctx, reports_remarks(ctx, err, sizeof(err)));
}

void view_report_sign(struct web_ctx *ctx)
{
	struct report_signoff so;
	char err[512] = "";
	page_after(ctx, reports_sign(ctx, &so, err, sizeof(err)));
}

void api_report_remarks(struct web_ctx *ctx)
{
	char err[256] = "";
	int rc = reports_remarks(ctx, err, sizeof(err));
	if (rc != 0) {
		web_problem(ctx, status_of(rc), title_of(rc), err[0] ? err : "refused");
		return;
	}
	ctx->res->status = 200;
	ctx->res->content_type = "application/json";
	dynbuf_add_str(&ctx->res->body, "{\"ok\":true}\n");
}

void api_report_sign(struct web_ctx *ctx)
{
	struct report_signoff so;
	char err[512] = "";
	int rc = reports_sign(ctx, &so, err, sizeof(err));
	if (rc != 0) {
		web_problem(ctx, status_of(rc), title_of(rc), err[0] ? err : "refused");
		return;
	}
	ctx->res->status = 200;
	ctx->res->content_type = "application/json";
	dynbuf_addf(&ctx->res->body, "{\"id\":\"%" PRIu64 "\",\"version\":%d,"
		    "\"sha256\":\"%s\"}\n", so.id, so.version, so.sha256);
}

/* A draft rendered now as format (pdf, xlsx) into a private temporary
 * file under state_dir/reports, read back into *data. */
static int render_draft(struct web_ctx *ctx, const struct store_report *sr,
			const char *format, char **data, size_t *len)
{
	struct report r;
	char tmp[700], err[256];
	int fd = -1;
	int rc = reports_build(ctx, sr, &r);
	if (rc != 0)
		return rc;
	snprintf(tmp, sizeof(tmp), "%s/reports",
		 ctx->opts->state_dir ? ctx->opts->state_dir : "/tmp");
	if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
		rc = -errno;
	snprintf(tmp + strlen(tmp), sizeof(tmp) - strlen(tmp),
		 "/.draft-XXXXXX");
	if (rc == 0 && (fd = mkstemp(tmp)) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc == 0)
		rc = report_render(&r, format, tmp,
				   ctx->opts->report_fonts_dir
					   ? ctx->opts->report_fonts_dir
					   : REPORT_FONTS_DIR,
				   err, sizeof(err));
	if (rc == 0)
		rc = fs_read_file(tmp, 64u << 20, data, len);
	if (fd >= 0)
		unlink(tmp);
	report_free(&r);
	return rc;
}

/* A report as a file of format (pdf, xlsx): a signed report's archived
 * file as stored (the PDF's SHA-256 is on the page and in the .sig
 * beside it; the XLSX was rendered beside it from the same frozen
 * numbers); a draft's rendered now. */
static void report_file(struct web_ctx *ctx, const char *format,
			const char *content_type)
{
	struct one_report o;
	char *data = NULL;
	size_t len = 0;
	int rc;
	if (reports_get(ctx, &o) != 0) {
		view_error(ctx, 404, "not_found");
		return;
	}
	if (strcmp(o.r.state, "signed") == 0) {
		char path[sizeof(o.r.pdf_path) + 8];
		size_t n = strlen(o.r.pdf_path);
		rc = n > 4 && strcmp(o.r.pdf_path + n - 4, ".pdf") == 0 ? 0
								       : -EIO;
		snprintf(path, sizeof(path), "%.*s.%s", (int)(n - 4),
			 o.r.pdf_path, format);
		if (rc == 0)
			rc = fs_read_file(path, 64u << 20, &data, &len);
	} else {
		rc = render_draft(ctx, &o.r, format, &data, &len);
	}
	if (rc != 0) {
		alloc_free(data);
		one_free(&o);
		view_error(ctx, 500, "server_error");
		return;
	}
	ctx->res->status = 200;
	ctx->res->content_type = content_type;
	download_name(ctx, &o.r, format);
	dynbuf_add(&ctx->res->body, data, len);
	alloc_free(data);
	one_free(&o);
}

void view_report_pdf(struct web_ctx *ctx)
{
	report_file(ctx, "pdf", "application/pdf");
}

void view_report_xlsx(struct web_ctx *ctx)
{
	report_file(ctx, "xlsx",
		    "application/vnd.openxmlformats-officedocument."
		    "spreadsheetml.sheet");
}
