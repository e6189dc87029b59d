/* api: the JSON API under /api/v1/. Field names are the CLI's --json
 * names; lists are {"items": [...], "next_cursor": ...}; errors are RFC
 * 9457 problem documents (pages.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "collector/web/views.h"
#include "common/jsonout.h"
#include "common/timeutil.h"

#define API_MAX_LIMIT 500

void web_json_str(struct dynbuf *b, const char *s)
{
	msgpack_object o = {.type = MSGPACK_OBJECT_STR};
	o.via.str.ptr = s ? s : "";
	o.via.str.size = (uint32_t)strlen(o.via.str.ptr);
	/* A failure is the buffer's, sticky, and seen when the body is sent. */
	EW_IGNORE(json_render_msgpack_buf(b, &o, NULL));
}

/* "key":"value", with a comma first unless first. */
static void field(struct dynbuf *b, const char *key, const char *value,
		  bool first)
{
	dynbuf_addf(b, "%s\"%s\":", first ? "" : ",", key);
	web_json_str(b, value);
}

static void json_start(struct web_ctx *ctx)
{
	ctx->res->status = 200;
	ctx->res->content_type = "application/json";
}

/* A list's envelope: {"items":[ ... ],"next_cursor":...}. */
static void list_open(struct web_ctx *ctx)
{
	json_start(ctx);
	dynbuf_add_str(&ctx->res->body, "{\"items\":[");
}

static void list_close(struct web_ctx *ctx, bool more, uint64_t last_id)
{
	if (more)
		dynbuf_addf(&ctx->res->body, "],\"next_cursor\":\"%" PRIu64 "\"}\n",
			    last_id);
	else
		dynbuf_add_str(&ctx->res->body, "],\"next_cursor\":null}\n");
}

/* One object's braces, around fields the caller writes. */
static void object_open(struct web_ctx *ctx)
{
	json_start(ctx);
	dynbuf_add_str(&ctx->res->body, "{");
}

static void object_close(struct web_ctx *ctx)
{
	dynbuf_add_str(&ctx->res->body, "}\n");
}

static void school_json(struct dynbuf *b, const struct store_school *s)
{
	field(b, "code", s->code, true);
	field(b, "name", s->name, false);
	field(b, "commune", s->commune, false);
	dynbuf_addf(b, ",\"level\":%d,\"expected_pcs\":%d,\"enrolled_pcs\":%d",
		    s->level, s->expected_pcs, s->enrolled_pcs);
}

struct rows {
	struct web_ctx *ctx;
	int n;
	uint64_t last_id;
};

static void school_item(void *arg, const struct store_school *s)
{
	struct rows *r = arg;
	struct dynbuf *b = &r->ctx->res->body;
	dynbuf_add_str(b, r->n++ ? ",{" : "{");
	school_json(b, s);
	dynbuf_add_str(b, "}");
}

void api_schools(struct web_ctx *ctx)
{
	struct rows r = {ctx, 0, 0};
	list_open(ctx);
	store_school_list_scoped(ctx->reader, &ctx->user->scope, school_item, &r);
	list_close(ctx, false, 0);
}

void api_school(struct web_ctx *ctx)
{
	struct store_school s;
	if (store_school_get_scoped(ctx->reader, &ctx->user->scope,
				    ctx->params[0], &s) != 0) {
		web_problem(ctx, 404, "Not Found", "no such school");
		return;
	}
	object_open(ctx);
	school_json(&ctx->res->body, &s);
	object_close(ctx);
}

static void agent_json(struct web_ctx *ctx, struct dynbuf *b,
		       const struct store_agent *a)
{
	char seen[32];
	int64_t stale_before = ctx->now_us - ctx->opts->stale_after_s * 1000000LL;
	bool stale = !a->revoked && a->last_seen_us < stale_before;
	timeutil_format_us(a->last_seen_us, seen, sizeof(seen));
	field(b, "id", a->id, true);
	field(b, "school", a->school, false);
	field(b, "hostname", a->hostname, false);
	field(b, "last_seen", seen, false);
	dynbuf_addf(b, ",\"stale\":%s,\"revoked\":%s,\"clamped_events\":%lld",
		    stale ? "true" : "false", a->revoked ? "true" : "false",
		    a->clamped);
}

struct agent_rows {
	struct web_ctx *ctx;
	int n;
};

static void agent_item(void *arg, const struct store_agent *a)
{
	struct agent_rows *r = arg;
	struct dynbuf *b = &r->ctx->res->body;
	dynbuf_add_str(b, r->n++ ? ",{" : "{");
	agent_json(r->ctx, b, a);
	dynbuf_add_str(b, "}");
}

void api_school_pcs(struct web_ctx *ctx)
{
	struct store_school s;
	struct agent_rows r = {ctx, 0};
	if (store_school_get_scoped(ctx->reader, &ctx->user->scope,
				    ctx->params[0], &s) != 0) {
		web_problem(ctx, 404, "Not Found", "no such school");
		return;
	}
	list_open(ctx);
	store_agent_list_scoped(ctx->reader, &ctx->user->scope, s.code,
				agent_item, &r);
	list_close(ctx, false, 0);
}

void api_pc(struct web_ctx *ctx)
{
	struct store_agent a;
	if (store_agent_get_scoped(ctx->reader, &ctx->user->scope,
				   ctx->params[0], &a) != 0) {
		web_problem(ctx, 404, "Not Found", "no such PC");
		return;
	}
	object_open(ctx);
	agent_json(ctx, &ctx->res->body, &a);
	object_close(ctx);
}

static void alert_item(void *arg, const struct store_alert *a)
{
	struct rows *r = arg;
	struct dynbuf *b = &r->ctx->res->body;
	char first[32], last[32];
	timeutil_format_us(a->first_us, first, sizeof(first));
	timeutil_format_us(a->last_us, last, sizeof(last));
	dynbuf_addf(b, "%s{\"id\":%" PRIu64, r->n++ ? "," : "", a->id);
	struct store_field texts[STORE_ALERT_TEXT_FIELDS];
	size_t n = store_alert_text_fields(a, first, last, texts);
	for (size_t i = 0; i < n; i++)
		field(b, texts[i].name, texts[i].value, false);
	dynbuf_addf(b, ",\"severity\":%d,\"drill\":%s,\"count\":%lld}",
		    a->severity, a->drill ? "true" : "false", a->count);
	r->last_id = a->id;
}

/* Parses ?state= ?school= ?cursor= ?limit=; 0 or a 400 already sent. */
static int list_params(struct web_ctx *ctx, char state[16], char school[40],
		       uint64_t *cursor, int *limit)
{
	const struct web_request *q = ctx->req;
	char num[24];
	char *end;
	int rc;
	*cursor = 0;
	*limit = 100;
	if ((rc = route_param(q->query, q->query_len, "state", state, 16)) ==
	    -ENOENT)
		state[0] = '\0';
	else if (rc != 0 || (strcmp(state, "open") && strcmp(state, "acknowledged") &&
			     strcmp(state, "resolved")))
		goto bad;
	if ((rc = route_param(q->query, q->query_len, "school", school, 40)) ==
	    -ENOENT)
		school[0] = '\0';
	else if (rc != 0)
		goto bad;
	if ((rc = route_param(q->query, q->query_len, "cursor", num,
			      sizeof(num))) == 0) {
		*cursor = strtoull(num, &end, 10);
		if (*end || num[0] == '\0' || num[0] == '-' || *cursor == 0)
			goto bad;
	} else if (rc != -ENOENT) {
		goto bad;
	}
	if ((rc = route_param(q->query, q->query_len, "limit", num,
			      sizeof(num))) == 0) {
		long v = strtol(num, &end, 10);
		if (*end || num[0] == '\0' || v < 1 || v > API_MAX_LIMIT)
			goto bad;
		*limit = (int)v;
	} else if (rc != -ENOENT) {
		goto bad;
	}
	return 0;
bad:
	web_problem(ctx, 400, "Bad Request",
		    "state is open|acknowledged|resolved, cursor a positive "
		    "id, limit 1..500");
	return -EINVAL;
}

void api_alerts(struct web_ctx *ctx)
{
	char state[16], school[40];
	uint64_t cursor;
	int limit;
	struct rows r = {ctx, 0, 0};
	if (list_params(ctx, state, school, &cursor, &limit) != 0)
		return;
	list_open(ctx);
	store_alert_list_scoped(ctx->reader, &ctx->user->scope,
				state[0] ? state : NULL,
				school[0] ? school : NULL, cursor, limit,
				alert_item, &r);
	if (r.n == limit)
		dynbuf_addf(&ctx->res->body, "],\"next_cursor\":\"%" PRIu64 "\"}\n",
			    r.last_id);
	else
		list_close(ctx, false, 0);
}

static void api_alert_set(struct web_ctx *ctx, const char *state)
{
	char comment[500] = "";
	/* A form body or none; a JSON body is not parsed here. */
	if (route_param(ctx->req->body, ctx->req->body_len, "comment", comment,
			sizeof(comment)) == -EINVAL) {
		web_problem(ctx, 400, "Bad Request", "comment is not valid text");
		return;
	}
	int rc = web_alert_set(ctx, ctx->params[0], state, comment);
	if (rc == -ENOENT) {
		web_problem(ctx, 404, "Not Found", "no such alert");
		return;
	}
	if (rc == -EINVAL) {
		web_problem(ctx, 400, "Bad Request", "an alert id is a number");
		return;
	}
	if (rc == -EALREADY) {
		web_problem(ctx, 409, "Conflict", "the alert is resolved already");
		return;
	}
	json_start(ctx);
	dynbuf_addf(&ctx->res->body, "{\"id\":%s,\"state\":\"%s\"}\n",
		    ctx->params[0], state);
}

void api_alert_ack(struct web_ctx *ctx)
{
	api_alert_set(ctx, "acknowledged");
}

void api_alert_resolve(struct web_ctx *ctx)
{
	api_alert_set(ctx, "resolved");
}

void api_me(struct web_ctx *ctx)
{
	struct dynbuf *b = &ctx->res->body;
	object_open(ctx);
	field(b, "name", ctx->user->u.name, true);
	field(b, "role", ctx->user->u.role, false);
	field(b, "scope", ctx->user->u.scope, false);
	field(b, "lang", ctx->user->u.lang, false);
	object_close(ctx);
}

static void audit_item(void *arg, const struct store_audit *a)
{
	struct rows *r = arg;
	struct dynbuf *b = &r->ctx->res->body;
	char at[32];
	timeutil_format_us(a->at_us, at, sizeof(at));
	dynbuf_addf(b, "%s{\"id\":%" PRIu64, r->n++ ? "," : "", a->id);
	field(b, "at", at, false);
	field(b, "actor", a->actor, false);
	field(b, "action", a->action, false);
	field(b, "object", a->object, false);
	field(b, "address", a->address, false);
	field(b, "detail", a->detail, false);
	dynbuf_add_str(b, "}");
	r->last_id = a->id;
}

void api_audit(struct web_ctx *ctx)
{
	char state[16], school[40];
	uint64_t cursor;
	int limit;
	struct rows r = {ctx, 0, 0};
	if (list_params(ctx, state, school, &cursor, &limit) != 0)
		return;
	list_open(ctx);
	store_audit_list(ctx->reader, cursor, limit, audit_item, &r);
	if (r.n == limit)
		dynbuf_addf(&ctx->res->body, "],\"next_cursor\":\"%" PRIu64 "\"}\n",
			    r.last_id);
	else
		list_close(ctx, false, 0);
}

/* OpenAPI 3.1, generated from the route table so that it cannot drift
 * from what is served. */
void api_openapi(struct web_ctx *ctx)
{
	struct dynbuf *b = &ctx->res->body;
	json_start(ctx);
	dynbuf_add_str(b, "{\"openapi\":\"3.1.0\",\"info\":{\"title\":"
		       "\"eduwatch collector API\",\"version\":\"1\"},"
		       "\"components\":{\"securitySchemes\":{\"token\":"
		       "{\"type\":\"http\",\"scheme\":\"bearer\"}}},"
		       "\"security\":[{\"token\":[]}],\"paths\":{");
	bool first_path = true;
	for (size_t i = 0; i < pages_route_count(); i++) {
		const struct route *r = pages_route(i);
		if (strncmp(r->pattern, "/api/v1/", 8) != 0)
			continue;
		char path[128];
		size_t o = 0;
		int param = 0;
		for (const char *p = r->pattern; *p && o + 8 < sizeof(path); p++) {
			if (p[0] == '{' && p[1] == '}') {
				o += (size_t)snprintf(path + o, sizeof(path) - o,
						      "{p%d}", param++);
				p++;
			} else {
				path[o++] = *p;
			}
		}
		path[o] = '\0';
		dynbuf_addf(b, "%s\"%s\":{\"%s\":{\"responses\":{\"200\":"
			    "{\"description\":\"OK\"},\"default\":{\"description\":"
			    "\"problem details (RFC 9457)\",\"content\":{"
			    "\"application/problem+json\":{}}}}",
			    first_path ? "" : ",", path,
			    strcmp(r->method, "POST") == 0 ? "post" : "get");
		if (param > 0) {
			dynbuf_add_str(b, ",\"parameters\":[");
			for (int k = 0; k < param; k++)
				dynbuf_addf(b, "%s{\"name\":\"p%d\",\"in\":\"path\","
					    "\"required\":true,\"schema\":{\"type\":"
					    "\"string\"}}", k ? "," : "", k);
			dynbuf_add_str(b, "]");
		}
		dynbuf_add_str(b, "}}");
		first_path = false;
	}
	dynbuf_add_str(b, "}}\n");
}

struct newest {
	uint64_t id;
	int64_t last_us;
	char day[11];
	double score;
};

static void newest_alert(void *arg, const struct store_alert *a)
{
	struct newest *n = arg;
	n->id = a->id;
	n->last_us = a->last_us;
}

static void newest_snapshot(void *arg, const struct store_snapshot *s)
{
	struct newest *n = arg;
	snprintf(n->day, sizeof(n->day), "%s", s->day);
	n->score = s->score;
}

/* The snapshot series an officer may read: the province for
 * province-wide roles, a commune for its officers (or the province's),
 * a school through the scoped school lookup. */
static bool scores_allowed(struct web_ctx *ctx, const char *scope,
			   const char *key)
{
	const struct store_scope *sc = &ctx->user->scope;
	struct store_school s;
	if (strcmp(scope, "province") == 0)
		return sc->kind == STORE_SCOPE_PROVINCE && key[0] == '\0';
	if (strcmp(scope, "commune") == 0)
		return sc->kind == STORE_SCOPE_PROVINCE ||
		       (sc->kind == STORE_SCOPE_COMMUNE &&
			strcmp(sc->value, key) == 0);
	if (strcmp(scope, "school") == 0)
		return store_school_get_scoped(ctx->reader, sc, key, &s) == 0;
	return false;
}

int web_live_stamp(struct web_ctx *ctx, char *out, size_t cap)
{
	struct newest n = {0};
	const struct store_scope *sc = &ctx->user->scope;
	const char *scope = sc->kind == STORE_SCOPE_PROVINCE  ? "province"
			    : sc->kind == STORE_SCOPE_COMMUNE ? "commune"
							      : "school";
	int rc = store_alert_list_scoped(ctx->reader, sc, NULL, NULL, 0, 1,
					 newest_alert, &n);
	if (rc == 0)
		rc = store_snapshot_list(ctx->reader, scope,
					 sc->kind == STORE_SCOPE_PROVINCE
						 ? ""
						 : sc->value,
					 1, newest_snapshot, &n);
	/* A stamp from half a read would look like a change, or hide one. */
	if (rc != 0) {
		out[0] = '\0';
		return rc;
	}
	snprintf(out, cap, "%" PRIu64 "-%lld-%s-%.1f", n.id,
		 (long long)n.last_us, n.day, n.score);
	return 0;
}

void api_live(struct web_ctx *ctx)
{
	char stamp[96];
	if (web_live_stamp(ctx, stamp, sizeof(stamp)) != 0) {
		web_problem(ctx, 500, "Internal Server Error",
			    "the store cannot be read now; try again");
		return;
	}
	object_open(ctx);
	field(&ctx->res->body, "stamp", stamp, true);
	object_close(ctx);
}

struct snap_rows {
	struct dynbuf *b;
	int n;
};

static void snap_item(void *arg, const struct store_snapshot *s)
{
	struct snap_rows *r = arg;
	dynbuf_add_str(r->b, r->n++ ? ",{" : "{");
	field(r->b, "day", s->day, true);
	dynbuf_addf(r->b, ",\"score\":%.1f,\"pcs\":%d}", s->score, s->pcs);
}

void api_scores(struct web_ctx *ctx)
{
	const struct web_request *q = ctx->req;
	char scope[16], key[STORE_NAME_MAX + 1] = "", num[16];
	long limit = 90;
	char *end;
	int rc = route_param(q->query, q->query_len, "key", key, sizeof(key));
	if (route_param(q->query, q->query_len, "scope", scope, sizeof(scope)) ||
	    (rc != 0 && rc != -ENOENT)) {
		web_problem(ctx, 400, "Bad Request",
			    "scope is province, commune or school, with its key");
		return;
	}
	if ((rc = route_param(q->query, q->query_len, "limit", num,
			      sizeof(num))) == 0) {
		limit = strtol(num, &end, 10);
		if (*end || num[0] == '\0' || limit < 1 || limit > 3660) {
			web_problem(ctx, 400, "Bad Request", "limit is 1..3660");
			return;
		}
	} else if (rc != -ENOENT) {
		web_problem(ctx, 400, "Bad Request", "limit is 1..3660");
		return;
	}
	if (!scores_allowed(ctx, scope, key)) {
		web_problem(ctx, 404, "Not Found", "no such score series");
		return;
	}
	struct snap_rows r = {&ctx->res->body, 0};
	list_open(ctx);
	if (store_snapshot_list(ctx->reader, scope, key, (int)limit, snap_item,
				&r) != 0) {
		/* Half a series would draw a wrong trend: none, and why. */
		web_problem(ctx, 500, "Internal Server Error",
			    "the score history cannot be read now; try again");
		return;
	}
	list_close(ctx, false, 0);
}
