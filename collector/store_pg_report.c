/* store_pg_report: the daily history that reports read, its retention
 * with the daily scores, and the reports themselves, on the PostgreSQL
 * admin connection. The same semantics as store_sqlite_report.c; what
 * differs is how several collectors on one database are kept apart. */
#include "collector/store_pg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "common/alloc.h"
#include "common/dynbuf.h"
#include "common/jsonout.h"

/* ---- daily history ------------------------------------------------------------ */

/* A day's rows go to the server as JSON arrays of this many rows, one
 * upsert statement each: a province's ~30,000 PC rows are 30 round trips
 * instead of 30,000 (docs/DECISIONS.md, "Daily history, reports, drills
 * and releases on PostgreSQL"). */
#define DAY_CHUNK 1000

/* Upserts: a day scored again replaces its rows, as SQLite's INSERT OR
 * REPLACE does; DISTINCT ON keeps the last of a key given twice in one
 * array (ON CONFLICT cannot touch one row twice in a statement). */
static const char day_school_upsert[] =
	"INSERT INTO day_school(day, school, commune, level, no_policy, pcs,"
	" enrolled, fresh, av_ok, rpo_ok, restore_ok, score)"
	" SELECT DISTINCT ON (r.day, r.school) r.day, r.school, r.commune,"
	" r.level, r.no_policy, r.pcs, r.enrolled, r.fresh, r.av_ok,"
	" r.rpo_ok, r.restore_ok, r.score"
	" FROM json_populate_recordset(NULL::day_school, $1::json)"
	" WITH ORDINALITY AS r ORDER BY r.day, r.school, r.ordinality DESC"
	" ON CONFLICT(day, school) DO UPDATE SET"
	" commune = excluded.commune, level = excluded.level,"
	" no_policy = excluded.no_policy, pcs = excluded.pcs,"
	" enrolled = excluded.enrolled, fresh = excluded.fresh,"
	" av_ok = excluded.av_ok, rpo_ok = excluded.rpo_ok,"
	" restore_ok = excluded.restore_ok, score = excluded.score";
static const char day_host_upsert[] =
	"INSERT INTO day_host(day, agent, school, score, fresh, av_ok,"
	" rpo_ok, restore_ok, failed)"
	" SELECT DISTINCT ON (r.day, r.agent) r.day, r.agent, r.school,"
	" r.score, r.fresh, r.av_ok, r.rpo_ok, r.restore_ok, r.failed"
	" FROM json_populate_recordset(NULL::day_host, $1::json)"
	" WITH ORDINALITY AS r ORDER BY r.day, r.agent, r.ordinality DESC"
	" ON CONFLICT(day, agent) DO UPDATE SET"
	" school = excluded.school, score = excluded.score,"
	" fresh = excluded.fresh, av_ok = excluded.av_ok,"
	" rpo_ok = excluded.rpo_ok, restore_ok = excluded.restore_ok,"
	" failed = excluded.failed";

/* Rows of one table waiting to be sent: a JSON array being written. */
struct day_rows {
	struct dynbuf json;
	int n;
	const char *sql;
};

/* "key":"value" for each pair of kv (n strings), comma-separated,
 * escaped by the JSON writer every output shares. */
static void json_fields(struct dynbuf *b, const char *const *kv, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2) {
		msgpack_object o = {.type = MSGPACK_OBJECT_STR};
		o.via.str.ptr = kv[i + 1];
		o.via.str.size = (uint32_t)strlen(kv[i + 1]);
		EW_IGNORE(dynbuf_addf(b, "%s\"%s\":", i > 0 ? "," : "", kv[i]));
		/* A failure is sticky in b: day_send sees it. */
		EW_IGNORE(json_render_msgpack_buf(b, &o, NULL));
	}
}

/* Opens the next row's object: "[" before the first, "," after. */
static int day_row_open(struct day_rows *r, double score)
{
	if (!isfinite(score))
		return -EINVAL; /* JSON has no NaN; neither has the column */
	EW_IGNORE(dynbuf_add_str(&r->json, r->n++ == 0 ? "[{" : ",{"));
	return 0;
}

static int day_school_add(struct day_rows *r, const struct store_day_school *d)
{
	int rc = day_row_open(r, d->score);
	if (rc != 0)
		return rc;
	const char *const kv[] = {"day", d->day, "school", d->school,
				  "commune", d->commune};
	json_fields(&r->json, kv, sizeof(kv) / sizeof(kv[0]));
	EW_IGNORE(dynbuf_addf(&r->json,
			      ",\"level\":%d,\"no_policy\":%d,\"pcs\":%d,"
			      "\"enrolled\":%d,\"fresh\":%d,\"av_ok\":%d,"
			      "\"rpo_ok\":%d,\"restore_ok\":%d,"
			      "\"score\":%.17g}",
			      d->level, d->no_policy, d->pcs, d->enrolled,
			      d->fresh, d->av_ok, d->rpo_ok, d->restore_ok,
			      d->score));
	return 0;
}

static int day_host_add(struct day_rows *r, const struct store_day_host *d)
{
	int rc = day_row_open(r, d->score);
	if (rc != 0)
		return rc;
	const char *const kv[] = {"day", d->day, "agent", d->agent,
				  "school", d->school, "failed", d->failed};
	json_fields(&r->json, kv, sizeof(kv) / sizeof(kv[0]));
	EW_IGNORE(dynbuf_addf(&r->json,
			      ",\"score\":%.17g,\"fresh\":%d,\"av_ok\":%d,"
			      "\"rpo_ok\":%d,\"restore_ok\":%d}",
			      d->score, d->fresh, d->av_ok, d->rpo_ok,
			      d->restore_ok));
	return 0;
}

/* Sends the waiting rows in one statement on c, inside the caller's
 * transaction (or as one of its own). */
static int day_send(struct pg_conn *c, struct day_rows *r)
{
	if (r->n == 0)
		return 0;
	EW_IGNORE(dynbuf_add_str(&r->json, "]"));
	int rc = r->json.failed;
	if (rc == 0) {
		struct pg_args a = {0};
		pg_arg_text(&a, r->json.data);
		rc = pg_run(c, r->sql, &a, NULL, NULL, NULL);
	}
	dynbuf_reset(&r->json);
	r->n = 0;
	return rc;
}

static void day_rows_init(struct day_rows *r, const char *sql)
{
	memset(r, 0, sizeof(*r));
	dynbuf_init(&r->json, 0);
	r->sql = sql;
}

/* One row on its own: r holds it (rc: how adding it went). */
static int day_put_one(struct store *st, const char *call,
		       struct day_rows *r, int rc)
{
	struct pg_store *s = pg_impl(st);
	pg_enter(s, call);
	if (rc == 0)
		rc = day_send(&s->admin, r);
	pg_leave(s);
	dynbuf_free(&r->json);
	return rc;
}

int pg_day_school_put(struct store *st, const struct store_day_school *d)
{
	struct day_rows r;
	day_rows_init(&r, day_school_upsert);
	return day_put_one(st, __func__, &r, day_school_add(&r, d));
}

int pg_day_host_put(struct store *st, const struct store_day_host *d)
{
	struct day_rows r;
	day_rows_init(&r, day_host_upsert);
	return day_put_one(st, __func__, &r, day_host_add(&r, d));
}

/* One transaction for the whole day: a failure midway (or a server gone
 * away) leaves none of its rows. A second collector writing the same
 * day at once upserts the same keys; the later commit wins, as on
 * SQLite. */
int pg_day_put_all(struct store *st,
		   int (*next)(void *arg, struct store_day_row *row),
		   void *arg)
{
	struct pg_store *s = pg_impl(st);
	struct store_day_row *row = alloc_zeroed(1, sizeof(*row));
	struct day_rows schools, hosts;
	if (row == NULL)
		return -ENOMEM;
	day_rows_init(&schools, day_school_upsert);
	day_rows_init(&hosts, day_host_upsert);
	PG_ENTER(s);
	int rc = pg_exec(&s->admin, "BEGIN");
	int more;
	while (rc == 0 && (more = next(arg, row)) != 0) {
		if (more < 0) {
			rc = more;
			break;
		}
		struct day_rows *r = row->is_school ? &schools : &hosts;
		rc = row->is_school ? day_school_add(r, &row->school)
				    : day_host_add(r, &row->host);
		if (rc == 0 && r->n == DAY_CHUNK)
			rc = day_send(&s->admin, r);
	}
	if (rc == 0)
		rc = day_send(&s->admin, &schools);
	if (rc == 0)
		rc = day_send(&s->admin, &hosts);
	rc = pg_end(&s->admin, rc);
	pg_leave(s);
	dynbuf_free(&schools.json);
	dynbuf_free(&hosts.json);
	alloc_free(row);
	return rc;
}

/* Every snapshot table in one transaction: the scores and the schools'
 * and PCs' history rows. */
int pg_snapshot_prune(struct store *st, const char *before_day,
		      long long *removed)
{
	static const char *const prune[] = {
		"DELETE FROM score_snapshots WHERE day < $1",
		"DELETE FROM day_school WHERE day < $1",
		"DELETE FROM day_host WHERE day < $1",
	};
	struct pg_store *s = pg_impl(st);
	struct pg_args a = {0};
	*removed = 0;
	pg_arg_text(&a, before_day);
	PG_ENTER(s);
	int rc = pg_exec(&s->admin, "BEGIN");
	for (size_t i = 0; rc == 0 && i < sizeof(prune) / sizeof(prune[0]);
	     i++) {
		long long n = 0;
		rc = pg_run(&s->admin, prune[i], &a, NULL, NULL, &n);
		*removed += n;
	}
	rc = pg_end(&s->admin, rc);
	pg_leave(s);
	if (rc != 0)
		*removed = 0;
	return rc;
}

struct day_school_cb {
	void (*cb)(void *, const struct store_day_school *);
	void *arg;
};

static int day_school_row(void *arg, const PGresult *q, int r)
{
	struct day_school_cb *c = arg;
	struct store_day_school d;
	memset(&d, 0, sizeof(d));
	pg_text(d.day, sizeof(d.day), q, r, 0);
	pg_text(d.school, sizeof(d.school), q, r, 1);
	pg_text(d.commune, sizeof(d.commune), q, r, 2);
	d.level = (int)pg_int(q, r, 3);
	d.no_policy = pg_int(q, r, 4) != 0;
	d.pcs = (int)pg_int(q, r, 5);
	d.enrolled = (int)pg_int(q, r, 6);
	d.fresh = (int)pg_int(q, r, 7);
	d.av_ok = (int)pg_int(q, r, 8);
	d.rpo_ok = (int)pg_int(q, r, 9);
	d.restore_ok = (int)pg_int(q, r, 10);
	d.score = pg_real(q, r, 11);
	c->cb(c->arg, &d);
	return 0;
}

int pg_day_schools(struct store *st, const char *from, const char *to,
		   void (*cb)(void *, const struct store_day_school *),
		   void *arg)
{
	struct day_school_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_text(&a, from);
	pg_arg_text(&a, to);
	/* COLLATE "C": byte order, as SQLite sorts, whatever the
	 * database's locale. */
	return PG_ADMIN_RUN(pg_impl(st),
			    "SELECT day, school, commune, level, no_policy, pcs,"
			    " enrolled, fresh, av_ok, rpo_ok, restore_ok, score"
			    " FROM day_school WHERE day >= $1 AND day <= $2"
			    " ORDER BY day COLLATE \"C\", school COLLATE \"C\"",
			    &a, day_school_row, &c, NULL);
}

struct day_host_cb {
	void (*cb)(void *, const struct store_day_host *);
	void *arg;
};

static int day_host_row(void *arg, const PGresult *q, int r)
{
	struct day_host_cb *c = arg;
	struct store_day_host d;
	memset(&d, 0, sizeof(d));
	pg_text(d.day, sizeof(d.day), q, r, 0);
	pg_text(d.agent, sizeof(d.agent), q, r, 1);
	pg_text(d.school, sizeof(d.school), q, r, 2);
	d.score = pg_real(q, r, 3);
	d.fresh = pg_int(q, r, 4) != 0;
	d.av_ok = pg_int(q, r, 5) != 0;
	d.rpo_ok = pg_int(q, r, 6) != 0;
	d.restore_ok = pg_int(q, r, 7) != 0;
	pg_text(d.failed, sizeof(d.failed), q, r, 8);
	c->cb(c->arg, &d);
	return 0;
}

int pg_day_hosts(struct store *st, const char *day,
		 void (*cb)(void *, const struct store_day_host *), void *arg)
{
	struct day_host_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_text(&a, day);
	return PG_ADMIN_RUN(pg_impl(st),
			    "SELECT day, agent, school, score, fresh, av_ok,"
			    " rpo_ok, restore_ok, failed FROM day_host"
			    " WHERE day = $1"
			    " ORDER BY school COLLATE \"C\", agent COLLATE \"C\"",
			    &a, day_host_row, &c, NULL);
}

/* ---- reports ------------------------------------------------------------------- */

/* The first key of the advisory locks that order drafts of one period
 * and scope ("ewreport" would not fit an int4; the second key is the
 * hash of the period and scope). */
#define REPORT_LOCK_CLASS "1919250034"

struct newest {
	uint64_t id;
	int version;
	char state[12];
};

static int newest_row(void *arg, const PGresult *q, int r)
{
	struct newest *n = arg;
	n->id = (uint64_t)pg_int(q, r, 0);
	n->version = (int)pg_int(q, r, 1);
	pg_text(n->state, sizeof(n->state), q, r, 2);
	return 1;
}

static int read_id(void *arg, const PGresult *q, int r)
{
	*(uint64_t *)arg = (uint64_t)pg_int(q, r, 0);
	return 1;
}

/* Two collectors drafting the same period and scope at once (the
 * scheduled draft on one, an officer's on another) take turns on an
 * advisory lock until their transactions end, so the second sees the
 * first's version: one draft is replaced, never two "version 2"s. */
int pg_report_draft(struct store *st, const struct store_report *r,
		    uint64_t *id, int *version)
{
	struct pg_store *s = pg_impl(st);
	struct newest n = {0};
	struct pg_args k = {0};
	int64_t now = store_now_us();
	const char *remarks = r->remarks ? r->remarks : "";
	*id = 0;
	*version = 0;
	pg_arg_text(&k, r->period);
	pg_arg_text(&k, r->scope);
	PG_ENTER(s);
	int rc = pg_exec(&s->admin, "BEGIN");
	if (rc == 0)
		rc = pg_run(&s->admin,
			    "SELECT pg_advisory_xact_lock(" REPORT_LOCK_CLASS
			    ", hashtext($1 || '/' || $2))",
			    &k, NULL, NULL, NULL);
	if (rc == 0)
		rc = pg_run(&s->admin,
			    "SELECT id, version, state FROM reports"
			    " WHERE period = $1 AND scope = $2"
			    " ORDER BY version DESC LIMIT 1",
			    &k, newest_row, &n, NULL);
	if (rc == 0 && n.id != 0 && strcmp(n.state, "draft") == 0) {
		struct pg_args a = {0};
		pg_arg_int(&a, (long long)n.id);
		pg_arg_int(&a, now);
		pg_arg_text(&a, remarks);
		pg_arg_text(&a, r->model);
		rc = pg_run(&s->admin,
			    "UPDATE reports SET created = $2, remarks = $3,"
			    " model = $4 WHERE id = $1 AND state = 'draft'",
			    &a, NULL, NULL, NULL);
		*id = n.id;
		*version = n.version;
	} else if (rc == 0) {
		/* The first version, or a correction of a signed one, which
		 * names what it corrects. */
		struct pg_args a = {0};
		char supersedes[24];
		snprintf(supersedes, sizeof(supersedes), "%llu",
			 (unsigned long long)n.id);
		pg_arg_text(&a, r->period);
		pg_arg_text(&a, r->scope);
		pg_arg_int(&a, n.version + 1);
		pg_arg_int(&a, now);
		pg_arg_text(&a, remarks);
		pg_arg_text(&a, r->model);
		pg_arg_text(&a, n.id != 0 ? supersedes : NULL);
		rc = pg_run(&s->admin,
			    "INSERT INTO reports(period, scope, version, state,"
			    " created, remarks, model, supersedes)"
			    " VALUES($1, $2, $3, 'draft', $4, $5, $6, $7::bigint)"
			    " RETURNING id",
			    &a, read_id, id, NULL);
		*version = n.version + 1;
	}
	rc = pg_end(&s->admin, rc);
	pg_leave(s);
	if (rc != 0) {
		*id = 0;
		*version = 0;
	}
	return rc;
}

static int read_state(void *arg, const PGresult *q, int r)
{
	pg_text(arg, 12, q, r, 0);
	return 1;
}

int pg_report_sign(struct store *st, uint64_t id, const char *by,
		   const char *pdf_path, const char *pdf_sha256,
		   const char *model)
{
	struct pg_store *s = pg_impl(st);
	char state[12] = "";
	struct pg_args k = {0}, a = {0};
	pg_arg_int(&k, (long long)id);
	pg_arg_int(&a, (long long)id);
	pg_arg_int(&a, store_now_us());
	pg_arg_text(&a, by);
	pg_arg_text(&a, pdf_path);
	pg_arg_text(&a, pdf_sha256);
	pg_arg_text(&a, model);
	PG_ENTER(s);
	/* FOR UPDATE: a second collector signing the same draft waits
	 * here and then reads "signed". */
	int rc = pg_exec(&s->admin, "BEGIN");
	if (rc == 0)
		rc = pg_run(&s->admin,
			    "SELECT state FROM reports WHERE id = $1 FOR UPDATE",
			    &k, read_state, state, NULL);
	if (rc == 0 && state[0] == '\0')
		rc = -ENOENT;
	else if (rc == 0 && strcmp(state, "draft") != 0)
		rc = -EALREADY;
	if (rc == 0)
		rc = pg_run(&s->admin,
			    "UPDATE reports SET state = 'signed', signed = $2,"
			    " signed_by = $3, pdf_path = $4, pdf_sha256 = $5,"
			    " model = $6 WHERE id = $1 AND state = 'draft'",
			    &a, NULL, NULL, NULL);
	rc = pg_end(&s->admin, rc);
	pg_leave(s);
	return rc;
}

struct report_cb {
	void (*cb)(void *, const struct store_report *);
	void *arg;
};

/* remarks and model point into the result, which outlives the call. */
static int report_row(void *arg, const PGresult *q, int row)
{
	struct report_cb *c = arg;
	struct store_report r;
	memset(&r, 0, sizeof(r));
	r.id = (uint64_t)pg_int(q, row, 0);
	pg_text(r.period, sizeof(r.period), q, row, 1);
	pg_text(r.scope, sizeof(r.scope), q, row, 2);
	r.version = (int)pg_int(q, row, 3);
	pg_text(r.state, sizeof(r.state), q, row, 4);
	r.created_us = pg_int(q, row, 5);
	r.signed_us = pg_int(q, row, 6);
	pg_text(r.signed_by, sizeof(r.signed_by), q, row, 7);
	r.supersedes = (uint64_t)pg_int(q, row, 8);
	pg_text(r.pdf_path, sizeof(r.pdf_path), q, row, 9);
	pg_text(r.pdf_sha256, sizeof(r.pdf_sha256), q, row, 10);
	r.remarks = PQgetvalue(q, row, 11);
	r.model = PQgetvalue(q, row, 12);
	c->cb(c->arg, &r);
	return 0;
}

#define REPORT_ORDER \
	" ORDER BY period COLLATE \"C\" DESC, scope COLLATE \"C\", version DESC"

int pg_report_list(struct store *st, const char *period, const char *scope,
		   void (*cb)(void *, const struct store_report *), void *arg)
{
	struct report_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_text(&a, period);
	pg_arg_text(&a, scope);
	return PG_ADMIN_RUN(pg_impl(st),
			    STORE_SQL_REPORT_SELECT
			    " WHERE ($1::text IS NULL OR period = $1)"
			    " AND ($2::text IS NULL OR scope = $2)" REPORT_ORDER,
			    &a, report_row, &c, NULL);
}

/* A report's scope is "province", "commune:NAME" or "school:CODE"; an
 * officer sees those inside their own ($1, $2 as for the console's other
 * reads), a commune officer the reports of its schools too. $3: one
 * report's id, or 0 for all. */
int pg_report_list_scoped(struct store *st, const struct store_scope *sc,
			  uint64_t id,
			  void (*cb)(void *, const struct store_report *),
			  void *arg)
{
	struct report_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_int(&a, sc->kind);
	pg_arg_text(&a, sc->value);
	pg_arg_int(&a, (long long)id);
	return PG_ADMIN_RUN(pg_impl(st),
			    STORE_SQL_REPORT_SELECT
			    " WHERE ($3::bigint = 0 OR r.id = $3)"
			    " AND ($1::int = 0"
			    " OR ($1 = 1 AND (r.scope = 'commune:' || $2::text"
			    "  OR r.scope IN (SELECT 'school:' || code"
			    "  FROM schools WHERE commune = $2)))"
			    " OR ($1 = 2 AND r.scope = 'school:' || $2))"
			    REPORT_ORDER,
			    &a, report_row, &c, NULL);
}
