/* pages: the console's route table, who may call each route, and the
 * steps every request takes before its handler: authentication (session
 * cookie or API token), the role's permission, CSRF on state changes.
 * To add a page, add one line to `routes` and one handler (docs/WEB.md).
 * The handlers themselves are in views.c (HTML and CSV) and api.c (JSON). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/web/handler.h"
#include "collector/web/drill_page.h"
#include "collector/web/html.h"
#include "collector/web/register_page.h"
#include "collector/web/reports.h"
#include "collector/web/views.h"

/* Idle and absolute session lifetimes. */
#define SESSION_IDLE_US (30LL * 60 * 1000000)
/* A session's last use is written at most once a minute: a write waits
 * for the ingest writer's transaction, and a page read must not. The
 * idle timeout is thirty minutes, so a minute's slack does not matter. */
#define SESSION_TOUCH_US (60LL * 1000000)
#define SESSION_MAX_US (12LL * 3600 * 1000000)
#define COOKIE "__Host-ew_session"

/* Route flags beside the AUTH_* permission bits (auth.h). */
enum {
	R_PUBLIC = 1u << 16, /* no login */
	R_API = 1u << 17,    /* JSON, problem documents, API tokens */
	R_CHANGE = 1u << 18, /* changes state: CSRF and Origin checked */
};

#define H(fn) ((void (*)(void))(fn))

/* The console. Order matters only where patterns overlap: the first
 * match wins. */
static const struct route routes[] = {
	{"GET", "/healthz", R_PUBLIC, H(view_health)},
	{"GET", "/static/{}", R_PUBLIC, H(view_static)},
	{"GET", "/login", R_PUBLIC, H(view_login)},
	{"POST", "/login", R_PUBLIC, H(view_login_post)},
	{"POST", "/logout", R_CHANGE, H(view_logout)},
	{"POST", "/logout-all", R_CHANGE, H(view_logout_all)},
	{"POST", "/lang", R_CHANGE, H(view_lang)},
	{"GET", "/", 0, H(view_home)},
	{"GET", "/overview", AUTH_READ, H(view_overview)},
	{"GET", "/schools.csv", AUTH_READ, H(view_schools_csv)},
	{"GET", "/schools/{}", AUTH_READ, H(view_school)},
	{"GET", "/pcs/{}", AUTH_READ, H(view_pc)},
	{"GET", "/commune", AUTH_READ, H(view_commune)},
	{"GET", "/soc", AUTH_SOC, H(view_soc_feed)},
	{"GET", "/alerts", AUTH_ALERTS, H(view_alerts)},
	{"GET", "/alerts.csv", AUTH_ALERTS, H(view_alerts_csv)},
	{"GET", "/alerts/volume", AUTH_ALERTS, H(view_alert_volume)},
	{"GET", "/alerts/volume.csv", AUTH_ALERTS, H(view_alert_volume_csv)},
	{"POST", "/alerts/bulk", AUTH_ACT | R_CHANGE, H(view_alerts_bulk)},
	{"POST", "/alerts/{}/ack", AUTH_ACT | R_CHANGE, H(view_alert_ack)},
	{"POST", "/alerts/{}/resolve", AUTH_ACT | R_CHANGE, H(view_alert_resolve)},
	{"GET", "/admin/users", AUTH_ADMIN, H(view_users)},
	{"POST", "/admin/users", AUTH_ADMIN | R_CHANGE, H(view_user_add)},
	{"POST", "/admin/users/{}", AUTH_ADMIN | R_CHANGE, H(view_user_change)},
	{"GET", "/account/totp", 0, H(view_totp)},
	{"POST", "/account/totp", R_CHANGE, H(view_totp_enrol)},
	{"GET", "/admin/tokens", AUTH_ADMIN, H(view_tokens)},
	{"POST", "/admin/tokens", AUTH_ADMIN | R_CHANGE, H(view_token_new)},
	{"GET", "/admin/schools", AUTH_ADMIN, H(view_schools_admin)},
	{"POST", "/admin/schools", AUTH_ADMIN | R_CHANGE, H(view_school_save)},
	{"GET", "/admin/schools/{}", AUTH_ADMIN, H(view_school_edit)},
	{"GET", "/admin/publish", AUTH_ADMIN, H(view_publish)},
	{"POST", "/admin/publish/rules", AUTH_ADMIN | R_CHANGE, H(view_publish_rules)},
	{"POST", "/admin/publish/ioc", AUTH_ADMIN | R_CHANGE, H(view_publish_ioc)},
	{"GET", "/admin/audit", AUTH_AUDIT, H(view_audit)},
	{"GET", "/admin/audit.csv", AUTH_AUDIT, H(view_audit_csv)},

	{"GET", "/api/v1/openapi.json", R_PUBLIC | R_API, H(api_openapi)},
	{"GET", "/api/v1/me", R_API, H(api_me)},
	{"GET", "/api/v1/schools", AUTH_READ | R_API, H(api_schools)},
	{"GET", "/api/v1/schools/{}", AUTH_READ | R_API, H(api_school)},
	{"GET", "/api/v1/schools/{}/pcs", AUTH_READ | R_API, H(api_school_pcs)},
	{"GET", "/api/v1/pcs/{}", AUTH_READ | R_API, H(api_pc)},
	{"GET", "/api/v1/alerts", AUTH_ALERTS | R_API, H(api_alerts)},
	{"GET", "/api/v1/alerts/volume", AUTH_ALERTS | R_API, H(api_alert_volume)},
	{"POST", "/api/v1/alerts/{}/ack", AUTH_ACT | R_API | R_CHANGE, H(api_alert_ack)},
	{"POST", "/api/v1/alerts/{}/resolve", AUTH_ACT | R_API | R_CHANGE, H(api_alert_resolve)},
	{"GET", "/api/v1/audit", AUTH_AUDIT | R_API, H(api_audit)},
	{"GET", "/api/v1/live", AUTH_ALERTS | R_API, H(api_live)},
	{"GET", "/api/v1/scores", AUTH_READ | R_API, H(api_scores)},
	/* reports (issue 18, reports.c) */
	{"GET", "/reports", AUTH_READ, H(view_reports)},
	{"POST", "/reports", AUTH_ACT | R_CHANGE, H(view_report_draft)},
	{"GET", "/reports/{}", AUTH_READ, H(view_report)},
	{"GET", "/reports/{}/json", AUTH_READ, H(view_report_json)},
	{"GET", "/reports/{}/csv", AUTH_READ, H(view_report_csv)},
	{"GET", "/api/v1/reports", AUTH_READ | R_API, H(api_reports)},
	{"POST", "/api/v1/reports", AUTH_ACT | R_API | R_CHANGE, H(api_report_draft)},
	{"GET", "/api/v1/reports/{}", AUTH_READ | R_API, H(api_report)},
	{"GET", "/reports/{}/pdf", AUTH_READ, H(view_report_pdf)},
	{"GET", "/reports/{}/xlsx", AUTH_READ, H(view_report_xlsx)},
	{"GET", "/register", AUTH_READ, H(view_register)},
	{"POST", "/register", AUTH_ACT | R_CHANGE, H(view_register_put)},
	{"POST", "/reports/{}/remarks", AUTH_ACT | R_CHANGE, H(view_report_remarks)},
	{"POST", "/reports/{}/sign", AUTH_ADMIN | R_CHANGE, H(view_report_sign)},
	{"POST", "/api/v1/reports/{}/remarks", AUTH_ACT | R_API | R_CHANGE, H(api_report_remarks)},
	{"POST", "/api/v1/reports/{}/sign", AUTH_ADMIN | R_API | R_CHANGE, H(api_report_sign)},
	{"GET", "/drills", AUTH_READ, H(view_drills)},
	{"GET", "/drills/{}", AUTH_READ, H(view_drill)},
	{"POST", "/drills/{}/approve", AUTH_DRILL | R_CHANGE, H(view_drill_approve)},
	{"POST", "/drills/{}/abort", AUTH_DRILL | R_CHANGE, H(view_drill_abort)},
	{"POST", "/drills/{}/actions", AUTH_DRILL | R_CHANGE, H(view_drill_actions)},
	{"POST", "/api/v1/drills/{}/actions", AUTH_DRILL | R_API | R_CHANGE, H(api_drill_actions)},
};

size_t pages_route_count(void)
{
	return sizeof(routes) / sizeof(routes[0]);
}

const struct route *pages_route(size_t i)
{
	return i < pages_route_count() ? &routes[i] : NULL;
}

void web_problem(struct web_ctx *ctx, int status, const char *title,
		 const char *detail)
{
	struct web_response *res = ctx->res;
	dynbuf_reset(&res->body);
	res->status = status;
	res->content_type = "application/problem+json";
	dynbuf_addf(&res->body, "{\"type\":\"about:blank\",\"status\":%d,"
		    "\"title\":", status);
	web_json_str(&res->body, title);
	dynbuf_add_str(&res->body, ",\"detail\":");
	web_json_str(&res->body, detail);
	dynbuf_add_str(&res->body, "}\n");
}

void web_audit(struct web_ctx *ctx, const char *action, const char *object,
	       const char *detail)
{
	struct store_audit a = {0};
	snprintf(a.actor, sizeof(a.actor), "%s",
		 ctx->user ? ctx->user->u.name : "-");
	snprintf(a.action, sizeof(a.action), "%s", action);
	snprintf(a.object, sizeof(a.object), "%s", object);
	snprintf(a.address, sizeof(a.address), "%s", ctx->req->peer);
	snprintf(a.detail, sizeof(a.detail), "%s", detail ? detail : "");
	a.at_us = ctx->now_us;
	store_audit_add(ctx->store, &a);
}

void web_set_session_cookie(struct web_ctx *ctx, const char *hex)
{
	struct web_response *res = ctx->res;
	if (res->ncookies == WEB_MAX_COOKIES)
		return;
	/* __Host-: Secure, Path=/ and no Domain, so no sibling host can
	 * plant or overwrite it. Empty hex clears it. */
	snprintf(res->cookies[res->ncookies++], sizeof(res->cookies[0]),
		 COOKIE "=%s; Path=/; Secure; HttpOnly; SameSite=Strict%s",
		 hex, hex[0] ? "" : "; Max-Age=0");
}

/* Fills user from the row and its role; false when the account may not
 * log in (disabled, locked, unknown role). */
static bool load_user(struct web_ctx *ctx, const char *name,
		      struct auth_user *user)
{
	if (store_user_get(ctx->reader, name, &user->u) != 0)
		return false;
	user->role = auth_role_find(user->u.role);
	if (user->role == NULL || user->u.disabled || user->u.locked)
		return false;
	user->scope.kind = user->role->scope;
	snprintf(user->scope.value, sizeof(user->scope.value), "%s",
		 user->u.scope);
	return true;
}

/* A session cookie or an API token: 0 with ctx->user set, or -EACCES. */
static int authenticate(struct web_ctx *ctx, struct auth_user *user, bool api)
{
	char name[STORE_USER_MAX + 1], hex[80];
	size_t alen;
	const char *authz = route_header(ctx->req, "authorization", &alen);
	memset(user, 0, sizeof(*user));
	if (api && authz != NULL) {
		unsigned char hash[32];
		if (alen < 7 || alen - 7 >= sizeof(hex) ||
		    strncmp(authz, "Bearer ", 7) != 0)
			return -EACCES;
		memcpy(hex, authz + 7, alen - 7);
		hex[alen - 7] = '\0';
		if (auth_api_token_parse(hex, hash) != 0 ||
		    store_api_token_user(ctx->reader, hash, name) != 0 ||
		    !load_user(ctx, name, user))
			return -EACCES;
		user->by_token = true;
		ctx->user = user;
		return 0;
	}
	int64_t created, last;
	if (route_cookie(ctx->req, COOKIE, hex, sizeof(hex)) != 0 ||
	    auth_session_parse(hex, user->session_raw, user->session_hash) != 0 ||
	    store_session_get(ctx->reader, user->session_hash, name, &created,
			      &last) != 0)
		return -EACCES;
	if (ctx->now_us - last > SESSION_IDLE_US ||
	    ctx->now_us - created > SESSION_MAX_US) {
		store_session_delete(ctx->store, user->session_hash);
		return -EACCES;
	}
	if (!load_user(ctx, name, user))
		return -EACCES;
	if (ctx->now_us - last >= SESSION_TOUCH_US)
		store_session_touch(ctx->store, user->session_hash,
				    ctx->now_us);
	auth_csrf_token(user->session_raw, ctx->csrf);
	ctx->user = user;
	return 0;
}

/* A state change from a browser must come from our own pages: the
 * session's CSRF token in the form (or X-CSRF-Token), and an Origin, when
 * the browser sends one, that is this server. */
static bool change_allowed(struct web_ctx *ctx)
{
	char token[80];
	size_t olen, hlen = ctx->req->authority_len;
	const char *origin = route_header(ctx->req, "origin", &olen);
	const char *host = hlen ? ctx->req->authority : NULL;
	if (ctx->user != NULL && ctx->user->by_token)
		return true; /* no cookie: nothing a forged page can ride on */
	if (origin != NULL &&
	    (host == NULL || olen != 8 + hlen ||
	     strncmp(origin, "https://", 8) != 0 ||
	     memcmp(origin + 8, host, hlen) != 0))
		return false;
	if (ctx->user == NULL)
		return true; /* the login form: no session yet */
	size_t tlen;
	const char *hdr = route_header(ctx->req, "x-csrf-token", &tlen);
	if (hdr != NULL && tlen < sizeof(token)) {
		memcpy(token, hdr, tlen);
		token[tlen] = '\0';
	} else if (route_param(ctx->req->body, ctx->req->body_len, "csrf",
			       token, sizeof(token)) != 0) {
		return false;
	}
	return auth_csrf_ok(ctx->user->session_raw, token);
}

static void choose_language(struct web_ctx *ctx)
{
	char pref[8] = "";
	size_t alen = 0;
	const char *accept = route_header(ctx->req, "accept-language", &alen);
	if (ctx->user != NULL)
		snprintf(pref, sizeof(pref), "%s", ctx->user->u.lang);
	else
		route_cookie(ctx->req, "ew_lang", pref, sizeof(pref));
	ctx->lang = i18n_pick(pref, accept, alen);
}

static void refuse(struct web_ctx *ctx, unsigned flags, int status)
{
	const char *key = status == 404	  ? "not_found"
			  : status == 403 ? "forbidden"
					  : "bad_request";
	if (flags & R_API) {
		web_problem(ctx, status,
			    status == 404   ? "Not Found"
			    : status == 403 ? "Forbidden"
			    : status == 401 ? "Unauthorized"
					    : "Bad Request",
			    i18n_msg(I18N_EN, key));
		return;
	}
	view_error(ctx, status, key);
}

void pages_dispatch(struct web_ctx *ctx)
{
	const struct route *r;
	struct auth_user user;
	bool api = ctx->req->path_len >= 5 &&
		   memcmp(ctx->req->path, "/api/", 5) == 0;
	enum route_result rr =
		route_match(routes, pages_route_count(), ctx->req, &r,
			    ctx->params, &ctx->nparams);
	if (rr != ROUTE_FOUND) {
		int status = rr == ROUTE_BAD_METHOD ? 405 : 404;
		choose_language(ctx);
		if (api)
			web_problem(ctx, status,
				    status == 404 ? "Not Found"
						  : "Method Not Allowed",
				    status == 404 ? "no such resource"
						  : "this resource does not take "
						    "that method");
		else
			view_error(ctx, status,
				   status == 404 ? "not_found" : "bad_request");
		return;
	}
	unsigned flags = r->flags;
	if (!(flags & R_PUBLIC) &&
	    authenticate(ctx, &user, (flags & R_API) != 0) != 0) {
		choose_language(ctx);
		if (flags & R_API) {
			web_problem(ctx, 401, "Unauthorized",
				    "log in or send an API token");
		} else {
			ctx->res->status = 303;
			snprintf(ctx->res->location, sizeof(ctx->res->location),
				 "/login");
		}
		return;
	}
	choose_language(ctx);
	unsigned need = flags & 0xffffu;
	if (ctx->user != NULL && (ctx->user->role->perms & need) != need) {
		refuse(ctx, flags, 403);
		return;
	}
	if ((flags & R_CHANGE) || (flags & R_PUBLIC && route_method_is(ctx->req, "POST"))) {
		if (!change_allowed(ctx)) {
			refuse(ctx, flags, 403);
			return;
		}
	}
	((void (*)(struct web_ctx *))r->handler)(ctx);
}

/* ---- logging in and out -------------------------------------------------- */

/* Spends the time a real check would, so that an unknown name answers as
 * slowly as a wrong password. */
static void burn_a_check(const char *password)
{
	static char dummy[256];
	if (dummy[0] == '\0' && web_password_hash("x", dummy, sizeof(dummy)) != 0)
		return;
	(void)auth_password_ok(dummy, password);
}

void view_login_post(struct web_ctx *ctx)
{
	const struct web_request *req = ctx->req;
	char name[STORE_USER_MAX + 1], password[256], code[16] = "";
	struct auth_user user;
	int64_t now_s = ctx->now_us / 1000000;
	if (auth_address_blocked(req->peer, now_s)) {
		web_audit(ctx, "login.throttled", "-", req->peer);
		view_login_page(ctx, 429, "slow_down");
		return;
	}
	if (route_param(req->body, req->body_len, "user", name, sizeof(name)) ||
	    route_param(req->body, req->body_len, "password", password,
			sizeof(password))) {
		view_login_page(ctx, 400, "bad_login");
		return;
	}
	route_param(req->body, req->body_len, "code", code, sizeof(code));
	memset(&user, 0, sizeof(user));
	bool known = store_user_get(ctx->store, name, &user.u) == 0;
	bool ok = known ? auth_password_ok(user.u.pwhash, password)
			: (burn_a_check(password), false);
	if (ok && user.u.totp[0] && !auth_totp_ok(user.u.totp, code, now_s))
		ok = false;
	if (known && user.u.locked) {
		web_audit(ctx, "login.locked", name, "");
		view_login_page(ctx, 403, "locked");
		return;
	}
	if (!ok || user.u.disabled || auth_role_find(user.u.role) == NULL) {
		bool locked = false;
		auth_address_failed(req->peer, now_s);
		if (known)
			store_user_login_failed(ctx->store, name,
						AUTH_MAX_FAILED, &locked);
		web_audit(ctx, locked ? "login.lockout" : "login.failed",
			  known ? name : "-", known ? "" : "unknown user");
		view_login_page(ctx, 401, locked ? "locked" : "bad_login");
		return;
	}
	unsigned char raw[32], hash[32];
	char hex[65];
	/* Always a new id: a session id planted before login is never
	 * promoted (no fixation). */
	if (auth_session_new(raw, hex, hash) != 0 ||
	    store_session_add(ctx->store, hash, name, ctx->now_us, req->peer)) {
		web_problem(ctx, 500, "Internal Server Error",
			    "cannot start a session");
		return;
	}
	store_user_login_ok(ctx->store, name);
	user.role = auth_role_find(user.u.role);
	ctx->user = &user;
	web_audit(ctx, "login", name, "");
	web_set_session_cookie(ctx, hex);
	ctx->res->status = 303;
	snprintf(ctx->res->location, sizeof(ctx->res->location), "/");
}

void view_logout(struct web_ctx *ctx)
{
	store_session_delete(ctx->store, ctx->user->session_hash);
	web_audit(ctx, "logout", ctx->user->u.name, "");
	web_set_session_cookie(ctx, "");
	ctx->res->status = 303;
	snprintf(ctx->res->location, sizeof(ctx->res->location), "/login");
}

void view_logout_all(struct web_ctx *ctx)
{
	store_session_delete_user(ctx->store, ctx->user->u.name);
	web_audit(ctx, "logout.all", ctx->user->u.name, "");
	web_set_session_cookie(ctx, "");
	ctx->res->status = 303;
	snprintf(ctx->res->location, sizeof(ctx->res->location), "/login");
}

void view_lang(struct web_ctx *ctx)
{
	char lang[8];
	if (route_param(ctx->req->body, ctx->req->body_len, "lang", lang,
			sizeof(lang)) != 0 ||
	    (strcmp(lang, "vi") != 0 && strcmp(lang, "en") != 0)) {
		view_error(ctx, 400, "bad_request");
		return;
	}
	snprintf(ctx->user->u.lang, sizeof(ctx->user->u.lang), "%s", lang);
	store_user_update(ctx->store, &ctx->user->u);
	ctx->res->status = 303;
	snprintf(ctx->res->location, sizeof(ctx->res->location), "/");
}
