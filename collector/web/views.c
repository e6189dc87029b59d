/* views: the console's HTML pages and CSV exports. Every byte of markup
 * goes through html_emit (html.h), which escapes each value. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "collector/web/assets.h"
#include "collector/web/html.h"
#include "collector/web/views.h"

#define PAGE_ROWS 50
#define M(key) i18n_msg(ctx->lang, key)

static const char css[] =
	"body{font-family:'Noto Sans',Arial,sans-serif;margin:0;color:#1b1b1b}"
	"header{background:#0b3d6e;color:#fff;padding:.5em 1em;display:flex;"
	"gap:1em;align-items:center;flex-wrap:wrap}"
	"header a{color:#fff}header form{display:inline;margin:0}"
	"main{padding:1em}table{border-collapse:collapse;width:100%}"
	"th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left}"
	"th{background:#eef2f7}.stale{color:#a15c00}.never{color:#8a1c1c}"
	".fresh{color:#1d6b2f}.err{color:#8a1c1c;font-weight:bold}"
	".sev-high{color:#8a1c1c;font-weight:bold}label{display:block;"
	"margin:.5em 0}.token{font-family:monospace;background:#eef2f7;"
	"padding:.5em}\n";

/* The stylesheet's name carries its hash, so it can be cached for a
 * year and a new build is fetched at once. */
static const char *css_name(void)
{
	static char name[40];
	if (name[0] == '\0') {
		unsigned char h[32];
		SHA256((const unsigned char *)css, sizeof(css) - 1, h);
		snprintf(name, sizeof(name), "app-%02x%02x%02x%02x%02x%02x.css",
			 h[0], h[1], h[2], h[3], h[4], h[5]);
	}
	return name;
}

void view_static(struct web_ctx *ctx)
{
	const struct asset *a = assets_find(ctx->params[0]);
	if (a == NULL && strcmp(ctx->params[0], css_name()) != 0) {
		view_error(ctx, 404, "not_found");
		return;
	}
	ctx->res->status = 200;
	ctx->res->cacheable = true;
	if (a != NULL) {
		ctx->res->content_type = a->content_type;
		dynbuf_add(&ctx->res->body, a->data, a->len);
		return;
	}
	ctx->res->content_type = "text/css; charset=utf-8";
	dynbuf_add(&ctx->res->body, css, sizeof(css) - 1);
}

/* The live stamp a page polls against (console.js), and a score chart. */
static void live_marker(struct web_ctx *ctx)
{
	char stamp[96];
	/* Without a stamp the page is served without live updates, rather
	 * than reloading on a stamp that only says the store failed. */
	if (web_live_stamp(ctx, stamp, sizeof(stamp)) != 0)
		return;
	html_emit(&ctx->res->body, "<div id=\"live\" data-stamp=\"%s\"></div>", stamp);
}

static void chart(struct web_ctx *ctx, const char *scope, const char *key)
{
	html_emit(&ctx->res->body, "<h2>%s</h2><div id=\"chart\" class=\"chart\" "
		  "data-src=\"/api/v1/scores?scope=%s&amp;key=%s&amp;limit=90\" data-label=\"%s\"></div>",
		  M("trend"), scope, key, M("score"));
}

void view_health(struct web_ctx *ctx)
{
	ctx->res->status = 200;
	ctx->res->content_type = "text/plain; charset=utf-8";
	dynbuf_add_str(&ctx->res->body, "ok\n");
}

static void page_start(struct web_ctx *ctx, int status, const char *title)
{
	struct dynbuf *b = &ctx->res->body;
	ctx->res->status = status;
	ctx->res->content_type = "text/html; charset=utf-8";
	html_emit(b, "<!DOCTYPE html><html lang=\"%s\"><head><meta charset=\"utf-8\">"
		  "<meta name=\"viewport\" content=\"width=device-width\">"
		  "<title>%s — eduwatch</title>"
		  "<link rel=\"stylesheet\" href=\"/static/%s\">"
		  "<link rel=\"stylesheet\" href=\"/static/%s\">"
		  "<script defer src=\"/static/%s\"></script>"
		  "<script defer src=\"/static/%s\"></script></head><body>"
		  "<header><strong>eduwatch</strong>",
		  i18n_code(ctx->lang), title, css_name(),
		  assets_get(ASSET_UPLOT_CSS)->name,
		  assets_get(ASSET_UPLOT_JS)->name,
		  assets_get(ASSET_CONSOLE_JS)->name);
	if (ctx->user != NULL) {
		unsigned p = ctx->user->role->perms;
		if (p & AUTH_READ)
			html_emit(b, "<a href=\"/overview\">%s</a>", M("overview"));
		if (p & AUTH_ALERTS)
			html_emit(b, "<a href=\"/alerts\">%s</a>", M("alerts"));
		if (p & AUTH_READ)
			html_emit(b, "<a href=\"/reports\">%s</a>"
				  "<a href=\"/register\">%s</a>"
				  "<a href=\"/drills\">%s</a>", M("reports"),
				  M("register"), M("drills"));
		if (p & AUTH_SOC)
			html_emit(b, "<a href=\"/soc\">%s</a>", M("soc_feed"));
		html_emit(b, "<a href=\"/account/totp\">TOTP</a>");
		if (p & AUTH_ADMIN)
			html_emit(b, "<a href=\"/admin/users\">%s</a>"
				  "<a href=\"/admin/tokens\">%s</a>"
				  "<a href=\"/admin/schools\">%s</a>"
				  "<a href=\"/admin/publish\">%s</a>",
				  M("users"), M("api_tokens"), M("schools"),
				  M("publish"));
		if (p & AUTH_AUDIT)
			html_emit(b, "<a href=\"/admin/audit\">%s</a>", M("audit"));
		html_emit(b, "<span>%s (%s)</span>"
			  "<form method=\"post\" action=\"/lang\">"
			  "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
			  "<input type=\"hidden\" name=\"lang\" value=\"%s\">"
			  "<button id=\"lang\">%s</button></form>"
			  "<form method=\"post\" action=\"/logout\">"
			  "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
			  "<button id=\"logout\">%s</button></form>"
			  "<form method=\"post\" action=\"/logout-all\">"
			  "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
			  "<button>%s</button></form>",
			  ctx->user->u.name, ctx->user->u.role, ctx->csrf,
			  ctx->lang == I18N_VI ? "en" : "vi", M("language"),
			  ctx->csrf, M("logout"), ctx->csrf, M("logout_all"));
	}
	html_emit(b, "</header><main><h1>%s</h1>", title);
}

static void page_end(struct web_ctx *ctx)
{
	html_emit(&ctx->res->body, "<p><small>%s</small></p></main></body></html>\n",
		  M("dates_note"));
}

void view_error(struct web_ctx *ctx, int status, const char *key)
{
	dynbuf_reset(&ctx->res->body);
	page_start(ctx, status, M(key));
	page_end(ctx);
}

void view_login_page(struct web_ctx *ctx, int status, const char *msg_key)
{
	struct dynbuf *b = &ctx->res->body;
	dynbuf_reset(b);
	page_start(ctx, status, M("login"));
	if (msg_key)
		html_emit(b, "<p class=\"err\" id=\"login-error\">%s</p>", M(msg_key));
	html_emit(b, "<form method=\"post\" action=\"/login\">"
		  "<label>%s <input name=\"user\" id=\"user\" autocomplete=\"username\" required></label>"
		  "<label>%s <input name=\"password\" id=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>"
		  "<label>%s <input name=\"code\" id=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\"></label>"
		  "<button id=\"submit\">%s</button></form>",
		  M("user"), M("password"), M("totp"), M("login"));
	page_end(ctx);
}

void view_login(struct web_ctx *ctx)
{
	view_login_page(ctx, 200, NULL);
}

void view_home(struct web_ctx *ctx)
{
	ctx->res->status = 303;
	snprintf(ctx->res->location, sizeof(ctx->res->location), "%s",
		 ctx->user->role->perms & AUTH_READ ? "/overview" : "/alerts");
}

/* ---- overview and schools ------------------------------------------------ */

struct school_rows {
	struct web_ctx *ctx;
	int n;
	bool csv;
};

void web_csv_field(struct dynbuf *b, const char *s, bool last)
{
	/* Quoted always; a leading = + - @ gets a ' so a spreadsheet does
	 * not run it as a formula (CSV injection). */
	dynbuf_add(b, "\"", 1);
	if (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' ||
	    s[0] == '\t' || s[0] == '\r')
		dynbuf_add(b, "'", 1);
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			dynbuf_add(b, "\"\"", 2);
		else
			dynbuf_add(b, p, 1);
	}
	dynbuf_add_str(b, last ? "\"\r\n" : "\",");
}

void web_csv_start(struct web_ctx *ctx, const char *file)
{
	ctx->res->status = 200;
	ctx->res->content_type = "text/csv; charset=utf-8";
	snprintf(ctx->res->disposition, sizeof(ctx->res->disposition),
		 "attachment; filename=\"%s\"", file);
	dynbuf_add_str(&ctx->res->body, "\xef\xbb\xbf"); /* for Excel */
}

static void school_row(void *arg, const struct store_school *s)
{
	struct school_rows *r = arg;
	struct dynbuf *b = &r->ctx->res->body;
	char num[3][16];
	r->n++;
	if (r->csv) {
		snprintf(num[0], sizeof(num[0]), "%d", s->level);
		snprintf(num[1], sizeof(num[1]), "%d", s->enrolled_pcs);
		snprintf(num[2], sizeof(num[2]), "%d", s->expected_pcs);
		web_csv_field(b, s->code, false);
		web_csv_field(b, s->name, false);
		web_csv_field(b, s->commune, false);
		web_csv_field(b, num[0], false);
		web_csv_field(b, num[1], false);
		web_csv_field(b, num[2], true);
		return;
	}
	char commune[3 * STORE_NAME_MAX + 1];
	html_url_encode(s->commune, commune, sizeof(commune));
	html_emit(b, "<tr><td><a href=\"/schools/%s\">%s</a></td><td>%s</td>"
		  "<td><a href=\"/commune?name=%s\">%s</a></td><td>%d</td>"
		  "<td>%d / %d</td></tr>",
		  s->code, s->code, s->name, commune, s->commune, s->level,
		  s->enrolled_pcs, s->expected_pcs);
}

void web_alert_counts(struct web_ctx *ctx, const struct store_scope *sc)
{
	struct dynbuf *b = &ctx->res->body;
	long long by_sev[3] = {0, 0, 0};
	/* Counted in SQL over the whole scope: a province has far more
	 * open alerts than a page could walk. */
	if (store_alert_open_counts_scoped(ctx->reader, sc, by_sev) != 0) {
		/* Not zeros, which would read as "all clear". */
		ctx->res->status = 503;
		html_emit(b, "<h2>%s</h2><p>%s</p>", M("open_alerts"),
			  M("counts_unavailable"));
		return;
	}
	html_emit(b, "<h2>%s</h2><table id=\"alert-counts\"><tr><th>%s</th>"
		  "<th>7–10</th><th>4–6</th><th>0–3</th></tr><tr><td>"
		  "<a href=\"/alerts\">%s</a></td><td class=\"sev-high\">%lld"
		  "</td><td>%lld</td><td>%lld</td></tr></table>",
		  M("open_alerts"), M("severity"), M("alerts"),
		  by_sev[2], by_sev[1], by_sev[0]);
}

void view_overview(struct web_ctx *ctx)
{
	struct dynbuf *b = &ctx->res->body;
	struct school_rows r = {ctx, 0, false};
	page_start(ctx, 200, M("overview"));
	live_marker(ctx);
	if (ctx->user->scope.kind == STORE_SCOPE_PROVINCE)
		chart(ctx, "province", "");
	else
		chart(ctx, ctx->user->scope.kind == STORE_SCOPE_COMMUNE ? "commune"
									: "school",
		      ctx->user->scope.value);
	web_alert_counts(ctx, &ctx->user->scope);
	html_emit(b, "<h2>%s</h2><p><a href=\"/schools.csv\">%s</a></p>"
		  "<table id=\"schools\"><tr><th>%s</th><th>%s</th><th>%s</th>"
		  "<th>%s</th><th>%s</th></tr>",
		  M("schools"), M("csv"), M("code"), M("name"), M("commune"),
		  M("level"), M("pcs"));
	store_school_list_scoped(ctx->reader, &ctx->user->scope, school_row, &r);
	html_emit(b, "</table>");
	if (r.n == 0)
		html_emit(b, "<p>%s</p>", M("no_rows"));
	page_end(ctx);
}

void view_schools_csv(struct web_ctx *ctx)
{
	struct school_rows r = {ctx, 0, true};
	web_csv_start(ctx, "schools.csv");
	dynbuf_add_str(&ctx->res->body,
		       "code,name,commune,level,enrolled_pcs,expected_pcs\r\n");
	store_school_list_scoped(ctx->reader, &ctx->user->scope, school_row, &r);
}

static void pc_row(void *arg, const struct store_agent *a)
{
	struct school_rows *r = arg;
	struct web_ctx *ctx = r->ctx;
	char seen[32];
	const char *cls, *status;
	int64_t stale_us = ctx->opts->stale_after_s * 1000000LL;
	i18n_datetime(a->last_seen_us, seen, sizeof(seen));
	if (a->revoked)
		cls = "never", status = M("revoked");
	else if (a->last_seen_us == 0)
		cls = "never", status = M("never");
	else if (ctx->now_us - a->last_seen_us > stale_us)
		cls = "stale", status = M("stale");
	else
		cls = "fresh", status = M("fresh");
	r->n++;
	html_emit(&ctx->res->body,
		  "<tr><td><a href=\"/pcs/%s\">%s</a></td><td>%s</td>"
		  "<td class=\"%s\">%s</td></tr>",
		  a->id, a->hostname, seen, cls, status);
}

void view_school(struct web_ctx *ctx)
{
	struct store_school s;
	struct dynbuf *b = &ctx->res->body;
	struct school_rows r = {ctx, 0, false};
	if (store_school_get_scoped(ctx->reader, &ctx->user->scope,
				    ctx->params[0], &s) != 0) {
		view_error(ctx, 404, "not_found");
		return;
	}
	page_start(ctx, 200, s.name);
	html_emit(b, "<p>%s: %s · %s: %s · %s: %d · %s: %d / %d</p>",
		  M("code"), s.code, M("commune"), s.commune, M("level"),
		  s.level, M("pcs"), s.enrolled_pcs, s.expected_pcs);
	chart(ctx, "school", s.code);
	html_emit(b, "<table id=\"pcs\"><tr><th>%s</th><th>%s</th><th>%s</th></tr>",
		  M("hostname"), M("last_seen"), M("status"));
	store_agent_list_scoped(ctx->reader, &ctx->user->scope, s.code, pc_row, &r);
	html_emit(b, "</table>");
	if (r.n == 0)
		html_emit(b, "<p>%s</p>", M("no_rows"));
	page_end(ctx);
}

/* view_pc: pc_page.c */

/* ---- alerts ---------------------------------------------------------------- */

struct alert_rows {
	struct web_ctx *ctx;
	int n;
	uint64_t last_id;
	bool csv;
};

static void alert_row(void *arg, const struct store_alert *a)
{
	struct alert_rows *r = arg;
	struct web_ctx *ctx = r->ctx;
	struct dynbuf *b = &ctx->res->body;
	char first[32], last[32], id[24];
	i18n_datetime(a->first_us, first, sizeof(first));
	i18n_datetime(a->last_us, last, sizeof(last));
	snprintf(id, sizeof(id), "%" PRIu64, a->id);
	r->n++;
	r->last_id = a->id;
	if (r->csv) {
		char sev[8], count[24];
		snprintf(sev, sizeof(sev), "%d", a->severity);
		snprintf(count, sizeof(count), "%lld", a->count);
		web_csv_field(b, id, false);
		web_csv_field(b, sev, false);
		web_csv_field(b, a->title, false);
		web_csv_field(b, a->school, false);
		web_csv_field(b, a->hostname, false);
		web_csv_field(b, a->state, false);
		web_csv_field(b, a->drill ? "true" : "false", false);
		web_csv_field(b, first, false);
		web_csv_field(b, count, false);
		web_csv_field(b, a->file_path, true);
		return;
	}
	bool act = (ctx->user->role->perms & AUTH_ACT) &&
		   strcmp(a->state, "resolved") != 0;
	html_emit(b, "<tr id=\"alert-%s\"><td>", id);
	if (act)
		html_emit(b, "<input type=\"checkbox\" name=\"id\" value=\"%s\" form=\"bulk\" aria-label=\"%s %s\">",
			  id, M("bulk"), id);
	html_emit(b, "</td><td>%s</td><td class=\"%s\">%d</td><td>%s%s%s</td>"
		  "<td><a href=\"/schools/%s\">%s</a></td><td>%s</td><td>%s</td>"
		  "<td class=\"state\">%s</td><td>%s</td><td>%lld</td><td>",
		  id, a->severity >= 7 ? "sev-high" : "", a->severity,
		  a->title, a->file_path[0] ? " — " : "", a->file_path,
		  a->school, a->school, a->hostname,
		  a->drill ? M("drill") : "", M(a->state), first, a->count);
	if (act) {
		html_emit(b, "<form method=\"post\" action=\"/alerts/%s/ack\">"
			  "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
			  "<input name=\"comment\" aria-label=\"%s\" placeholder=\"%s\">"
			  "<button class=\"ack\">%s</button></form>"
			  "<form method=\"post\" action=\"/alerts/%s/resolve\">"
			  "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
			  "<input name=\"comment\" aria-label=\"%s\" placeholder=\"%s\">"
			  "<button class=\"resolve\">%s</button></form>",
			  id, ctx->csrf, M("comment"), M("comment"), M("ack"),
			  id, ctx->csrf, M("comment"), M("comment"), M("resolve"));
	}
	html_emit(b, "</td></tr>");
}

/* state=open|acknowledged|resolved|"" and cursor=N (ids below N). */
static int alert_filters(struct web_ctx *ctx, char state[16],
			 uint64_t *cursor)
{
	char cur[24] = "";
	const struct web_request *q = ctx->req;
	int rc = route_param(q->query, q->query_len, "state", state, 16);
	if (rc == -ENOENT)
		state[0] = '\0';
	else if (rc != 0 || (state[0] && strcmp(state, "open") &&
			     strcmp(state, "acknowledged") &&
			     strcmp(state, "resolved")))
		return -EINVAL;
	*cursor = 0;
	rc = route_param(q->query, q->query_len, "cursor", cur, sizeof(cur));
	if (rc == 0) {
		char *end;
		unsigned long long v = strtoull(cur, &end, 10);
		if (*end || cur[0] == '\0' || cur[0] == '-' || v == 0)
			return -EINVAL;
		*cursor = v;
	} else if (rc != -ENOENT) {
		return -EINVAL;
	}
	return 0;
}

void view_alerts(struct web_ctx *ctx)
{
	struct dynbuf *b = &ctx->res->body;
	struct alert_rows r = {ctx, 0, 0, false};
	char state[16];
	uint64_t cursor;
	static const char *const states[] = {"", "open", "acknowledged", "resolved"};
	if (alert_filters(ctx, state, &cursor) != 0) {
		view_error(ctx, 400, "bad_request");
		return;
	}
	page_start(ctx, 200, M("alerts"));
	live_marker(ctx);
	html_emit(b, "<form method=\"get\" action=\"/alerts\"><label>%s <select name=\"state\" id=\"state\">",
		  M("state"));
	for (int i = 0; i < 4; i++)
		html_emit(b, "<option value=\"%s\"%s>%s</option>", states[i],
			  strcmp(states[i], state) == 0 ? " selected" : "",
			  M(i ? states[i] : "all"));
	html_emit(b, "</select></label><button>OK</button></form>"
		  "<p><a href=\"/alerts.csv?state=%s\">%s</a></p>", state, M("csv"));
	if (ctx->user->role->perms & AUTH_ACT)
		html_emit(b, "<form method=\"post\" action=\"/alerts/bulk\" id=\"bulk\">"
			  "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
			  "<label>%s <input name=\"comment\"></label>"
			  "<button name=\"action\" value=\"ack\">%s</button>"
			  "<button name=\"action\" value=\"resolve\">%s</button> %s</form>",
			  ctx->csrf, M("comment"), M("ack"), M("resolve"), M("bulk"));
	html_emit(b, "<table id=\"alerts\"><tr><th></th><th>ID</th><th>%s</th><th>%s</th>"
		  "<th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th></th></tr>",
		  M("severity"), M("title"), M("school"), M("hostname"), M("drill"),
		  M("state"), M("first_seen"), M("count"));
	store_alert_list_scoped(ctx->reader, &ctx->user->scope,
				state[0] ? state : NULL, NULL, cursor,
				PAGE_ROWS, alert_row, &r);
	html_emit(b, "</table>");
	if (r.n == 0)
		html_emit(b, "<p>%s</p>", M("no_rows"));
	if (r.n == PAGE_ROWS)
		html_emit(b, "<p><a rel=\"next\" href=\"/alerts?state=%s&amp;cursor=%lld\">%s</a></p>",
			  state, (long long)r.last_id, M("next"));
	if (cursor == 0)
		web_alert_volume(ctx);
	page_end(ctx);
}

void view_alerts_csv(struct web_ctx *ctx)
{
	struct alert_rows r = {ctx, 0, 0, true};
	char state[16];
	uint64_t cursor;
	if (alert_filters(ctx, state, &cursor) != 0) {
		view_error(ctx, 400, "bad_request");
		return;
	}
	web_csv_start(ctx, "alerts.csv");
	dynbuf_add_str(&ctx->res->body, "id,severity,title,school,hostname,"
		       "state,drill,first_seen,count,file_path\r\n");
	store_alert_list_scoped(ctx->reader, &ctx->user->scope,
				state[0] ? state : NULL, NULL, cursor, 100000,
				alert_row, &r);
}

int web_alert_set(struct web_ctx *ctx, const char *id_text, const char *state,
		  const char *comment)
{
	char *end, object[40];
	unsigned long long id = strtoull(id_text, &end, 10);
	if (*end || id_text[0] == '\0' || id_text[0] == '-' || id == 0)
		return -EINVAL;
	int rc = store_alert_set_state_scoped(ctx->store, &ctx->user->scope, id,
					      state, ctx->user->u.name);
	if (rc == 0) {
		snprintf(object, sizeof(object), "alert:%llu", id);
		web_audit(ctx, strcmp(state, "resolved") == 0 ? "alert.resolve"
							       : "alert.ack",
			  object, comment);
	}
	return rc;
}

static void alert_action(struct web_ctx *ctx, const char *state)
{
	char comment[500] = "";
	int rc = route_param(ctx->req->body, ctx->req->body_len, "comment",
			     comment, sizeof(comment));
	if (rc == -EINVAL) {
		view_error(ctx, 400, "bad_request");
		return;
	}
	rc = web_alert_set(ctx, ctx->params[0], state, comment);
	if (rc == -ENOENT || rc == -EINVAL) {
		view_error(ctx, rc == -ENOENT ? 404 : 400,
			   rc == -ENOENT ? "not_found" : "bad_request");
		return;
	}
	ctx->res->status = 303;
	snprintf(ctx->res->location, sizeof(ctx->res->location), "/alerts");
}

void view_alert_ack(struct web_ctx *ctx)
{
	alert_action(ctx, "acknowledged");
}

void view_alert_resolve(struct web_ctx *ctx)
{
	alert_action(ctx, "resolved");
}

struct bulk {
	struct web_ctx *ctx;
	const char *state;
	const char *comment;
	int done;
};

static int bulk_one(void *arg, const char *value)
{
	struct bulk *bk = arg;
	if (web_alert_set(bk->ctx, value, bk->state, bk->comment) == 0)
		bk->done++;
	return bk->done >= 500 ? 1 : 0;
}

void view_alerts_bulk(struct web_ctx *ctx)
{
	char action[16], comment[500] = "";
	const struct web_request *q = ctx->req;
	if (route_param(q->body, q->body_len, "action", action, sizeof(action)) ||
	    (strcmp(action, "ack") && strcmp(action, "resolve")) ||
	    route_param(q->body, q->body_len, "comment", comment,
			sizeof(comment)) == -EINVAL) {
		view_error(ctx, 400, "bad_request");
		return;
	}
	struct bulk bk = {ctx, strcmp(action, "ack") ? "resolved" : "acknowledged",
			  comment, 0};
	if (route_param_each(q->body, q->body_len, "id", bulk_one, &bk) != 0) {
		view_error(ctx, 400, "bad_request");
		return;
	}
	ctx->res->status = 303;
	snprintf(ctx->res->location, sizeof(ctx->res->location), "/alerts");
}

/* ---- administration ---------------------------------------------------------- */

/* view_users: admin_page.c */

static void token_form(struct web_ctx *ctx)
{
	html_emit(&ctx->res->body, "<form method=\"post\" action=\"/admin/tokens\">"
		  "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
		  "<label>%s <input name=\"label\" id=\"token-label\" required></label>"
		  "<button id=\"token-create\">%s</button></form>",
		  ctx->csrf, M("label"), M("new_token"));
}

void view_tokens(struct web_ctx *ctx)
{
	page_start(ctx, 200, M("api_tokens"));
	token_form(ctx);
	page_end(ctx);
}

void view_token_new(struct web_ctx *ctx)
{
	char label[100], token[70];
	unsigned char hash[32];
	if (route_param(ctx->req->body, ctx->req->body_len, "label", label,
			sizeof(label)) != 0 || label[0] == '\0') {
		view_error(ctx, 400, "bad_request");
		return;
	}
	/* The token acts as the admin who made it, with the same scope. */
	if (auth_api_token_new(token, hash) != 0 ||
	    store_api_token_add(ctx->store, hash, label, ctx->user->u.name,
				ctx->now_us) != 0) {
		view_error(ctx, 500, "bad_request");
		return;
	}
	web_audit(ctx, "token.create", label, "");
	page_start(ctx, 200, M("api_tokens"));
	html_emit(&ctx->res->body, "<p>%s</p><p class=\"token\" id=\"token\">%s</p>",
		  M("token_once"), token);
	token_form(ctx);
	page_end(ctx);
}

struct audit_rows {
	struct web_ctx *ctx;
	bool csv;
	int n;
	uint64_t last_id;
};

static void audit_row(void *arg, const struct store_audit *a)
{
	struct audit_rows *r = arg;
	struct dynbuf *b = &r->ctx->res->body;
	char at[32];
	i18n_datetime(a->at_us, at, sizeof(at));
	r->n++;
	r->last_id = a->id;
	if (r->csv) {
		web_csv_field(b, at, false);
		web_csv_field(b, a->actor, false);
		web_csv_field(b, a->action, false);
		web_csv_field(b, a->object, false);
		web_csv_field(b, a->address, false);
		web_csv_field(b, a->detail, true);
		return;
	}
	html_emit(b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>",
		  at, a->actor, a->action, a->object, a->address, a->detail);
}

static int audit_cursor(struct web_ctx *ctx, uint64_t *cursor)
{
	char cur[24];
	int rc = route_param(ctx->req->query, ctx->req->query_len, "cursor",
			     cur, sizeof(cur));
	*cursor = 0;
	if (rc == -ENOENT)
		return 0;
	char *end;
	if (rc != 0 || cur[0] == '\0' || cur[0] == '-')
		return -EINVAL;
	*cursor = strtoull(cur, &end, 10);
	return *end ? -EINVAL : 0;
}

void view_audit(struct web_ctx *ctx)
{
	struct audit_rows r = {ctx, false, 0, 0};
	uint64_t cursor;
	if (audit_cursor(ctx, &cursor) != 0) {
		view_error(ctx, 400, "bad_request");
		return;
	}
	page_start(ctx, 200, M("audit"));
	html_emit(&ctx->res->body, "<p><a href=\"/admin/audit.csv\">%s</a></p>"
		  "<table id=\"audit\"><tr><th>%s</th><th>%s</th><th>%s</th>"
		  "<th>%s</th><th>%s</th><th>%s</th></tr>",
		  M("csv"), M("time"), M("actor"), M("action"), M("object"),
		  M("address"), M("detail"));
	store_audit_list(ctx->reader, cursor, PAGE_ROWS, audit_row, &r);
	html_emit(&ctx->res->body, "</table>");
	if (r.n == PAGE_ROWS)
		html_emit(&ctx->res->body, "<p><a rel=\"next\" href=\"/admin/audit?cursor=%lld\">%s</a></p>",
			  (long long)r.last_id, M("next"));
	page_end(ctx);
}

void view_audit_csv(struct web_ctx *ctx)
{
	struct audit_rows r = {ctx, true, 0, 0};
	web_csv_start(ctx, "audit.csv");
	dynbuf_add_str(&ctx->res->body, "time,actor,action,object,address,detail\r\n");
	store_audit_list(ctx->reader, 0, 100000, audit_row, &r);
}

/* For the handlers in their own files (reports.c). */
void web_page_start(struct web_ctx *ctx, int status, const char *title)
{
	page_start(ctx, status, title);
}

void web_page_end(struct web_ctx *ctx)
{
	page_end(ctx);
}
