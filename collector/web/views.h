/* views: the console's handlers, inside collector/web/ only. pages.c
 * routes to them after authentication, permission and CSRF checks;
 * views.c renders HTML and CSV through html.h, api.c renders JSON. Each
 * reads the store only through its *_scoped calls with the officer's
 * scope, so an object outside it is a 404 like a missing one. */
#ifndef EDUWATCH_WEB_VIEWS_H
#define EDUWATCH_WEB_VIEWS_H

#include "collector/web/handler.h"

/* pages.c: shared steps. */
void web_problem(struct web_ctx *ctx, int status, const char *title,
		 const char *detail);
void web_audit(struct web_ctx *ctx, const char *action, const char *object,
	       const char *detail);
void web_set_session_cookie(struct web_ctx *ctx, const char *hex);
size_t pages_route_count(void);
const struct route *pages_route(size_t i);
void view_login_post(struct web_ctx *ctx);
void view_logout(struct web_ctx *ctx);
void view_logout_all(struct web_ctx *ctx);
void view_lang(struct web_ctx *ctx);

/* api.c: a JSON string (escaped, valid UTF-8). */
void web_json_str(struct dynbuf *b, const char *s);

/* views.c */
void view_error(struct web_ctx *ctx, int status, const char *key);
/* A CSV download: headers and the BOM, then one quoted field at a time
 * (a leading = + - @ is defused against spreadsheet formulas). */
void web_csv_start(struct web_ctx *ctx, const char *file);
void web_csv_field(struct dynbuf *b, const char *s, bool last);
/* The open alerts of scope by severity band, as a table (or a 503 note
 * when they cannot be counted). */
void web_alert_counts(struct web_ctx *ctx, const struct store_scope *sc);
/* The console's page frame (header, navigation) and its end, for
 * handlers in their own files. */
void web_page_start(struct web_ctx *ctx, int status, const char *title);
void web_page_end(struct web_ctx *ctx);
void view_login_page(struct web_ctx *ctx, int status, const char *msg_key);
void view_health(struct web_ctx *ctx);
void view_static(struct web_ctx *ctx);
void view_login(struct web_ctx *ctx);
void view_home(struct web_ctx *ctx);
void view_overview(struct web_ctx *ctx);
void view_schools_csv(struct web_ctx *ctx);
void view_school(struct web_ctx *ctx);
void view_pc(struct web_ctx *ctx);
void view_alerts(struct web_ctx *ctx);
void view_alerts_csv(struct web_ctx *ctx);
void view_alerts_bulk(struct web_ctx *ctx);
void view_alert_ack(struct web_ctx *ctx);
void view_alert_resolve(struct web_ctx *ctx);
void view_users(struct web_ctx *ctx);
void view_tokens(struct web_ctx *ctx);
void view_token_new(struct web_ctx *ctx);
void view_audit(struct web_ctx *ctx);
void view_audit_csv(struct web_ctx *ctx);
/* feed_page.c: GET /soc (the forward queues) and GET /commune?name=. */
void view_soc_feed(struct web_ctx *ctx);
void view_commune(struct web_ctx *ctx);
/* admin_page.c: accounts (POST /admin/users, /admin/users/{action}) and
 * one's own TOTP enrolment (/account/totp). view_users is there too. */
void view_user_add(struct web_ctx *ctx);
void view_user_change(struct web_ctx *ctx);
void view_totp(struct web_ctx *ctx);
void view_totp_enrol(struct web_ctx *ctx);

/* school_admin.c: GET /admin/schools, GET /admin/schools/{code} (the
 * edit form), POST /admin/schools (add or edit). */
void view_schools_admin(struct web_ctx *ctx);
void view_school_edit(struct web_ctx *ctx);
void view_school_save(struct web_ctx *ctx);
/* publish_page.c: GET /admin/publish, POST /admin/publish/rules and
 * /admin/publish/ioc. */
void view_publish(struct web_ctx *ctx);
void view_publish_rules(struct web_ctx *ctx);
void view_publish_ioc(struct web_ctx *ctx);

/* volume.c: alert volume by kind per day, in the officer's scope: the
 * alerts page's chart and link, GET /alerts/volume (the chart over a
 * table that needs no JavaScript), GET /alerts/volume.csv and
 * GET /api/v1/alerts/volume, each with
 * ?days=1..366 (30 when absent). */
void web_alert_volume(struct web_ctx *ctx);
void view_alert_volume(struct web_ctx *ctx);
void view_alert_volume_csv(struct web_ctx *ctx);
void api_alert_volume(struct web_ctx *ctx);

/* api.c */
void api_openapi(struct web_ctx *ctx);
void api_me(struct web_ctx *ctx);
void api_schools(struct web_ctx *ctx);
void api_school(struct web_ctx *ctx);
void api_school_pcs(struct web_ctx *ctx);
void api_pc(struct web_ctx *ctx);
void api_alerts(struct web_ctx *ctx);
void api_alert_ack(struct web_ctx *ctx);
void api_alert_resolve(struct web_ctx *ctx);
void api_audit(struct web_ctx *ctx);
void api_live(struct web_ctx *ctx);
void api_scores(struct web_ctx *ctx);
/* What changes when a new alert or score arrives in the officer's scope:
 * the newest alert's id and time, and the newest snapshot's day and
 * score (api.c). 0, or a negative errno when the store cannot be read
 * (out is then ""). */
int web_live_stamp(struct web_ctx *ctx, char *out, size_t cap);

/* Shared by views.c and api.c: moves an alert in scope to state, with
 * the audit line; 0, -ENOENT (none in scope), -EALREADY, -EINVAL. */
int web_alert_set(struct web_ctx *ctx, const char *id_text, const char *state,
		  const char *comment);

#endif
