/* store_sqlite_report: the register of information systems, the daily
 * history that reports read, and the reports themselves, on the admin
 * connection. Their statements are in store_sqlite_stmt.c's table. */
#include "collector/store_sqlite.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"

/* ---- the register ---------------------------------------------------------- */

static int read_id(void *arg, sqlite3_stmt *row)
{
	*(uint64_t *)arg = (uint64_t)sqlite3_column_int64(row, 0);
	return 1;
}

int sqlite_system_put(struct store *st, const struct store_system *y,
		      uint64_t *id)
{
	struct sqlite_store *s = sqlite_impl(st);
	struct sq_hold h;
	uint64_t got = 0;
	SQ_ENTER(s, &h);
	int rc = sq_run(&s->admin, SQ_BEGIN, SQ_NO_ARGS, NULL, NULL, NULL);
	if (rc == 0)
		rc = sq_run(&s->admin, SQ_SYSTEM_PUT,
			    SQ_ARGS(SQ_TEXT(y->unit), SQ_TEXT(y->name),
				    SQ_TEXT(y->kind), SQ_INT(y->level),
				    SQ_TEXT(y->dossier), SQ_TEXT(y->authority),
				    SQ_TEXT(y->decision_no),
				    SQ_TEXT(y->decision_date),
				    SQ_TEXT(y->review_due), SQ_TEXT(y->hosts),
				    SQ_INT(store_now_us())),
			    read_id, &got, NULL);
	if (rc == 0)
		rc = sq_run(&s->admin, SQ_SCHOOL_LEVEL_SYNC,
			    SQ_ARGS(SQ_TEXT(y->unit)), NULL, NULL, NULL);
	rc = sq_admin_end(s, rc);
	sq_admin_leave(s, &h);
	if (id != NULL)
		*id = got;
	return rc;
}

static void read_system(sqlite3_stmt *q, struct store_system *y)
{
	memset(y, 0, sizeof(*y));
	y->id = (uint64_t)sqlite3_column_int64(q, 0);
	sq_copy_text(y->unit, sizeof(y->unit), q, 1);
	sq_copy_text(y->name, sizeof(y->name), q, 2);
	sq_copy_text(y->kind, sizeof(y->kind), q, 3);
	y->level = sqlite3_column_int(q, 4);
	sq_copy_text(y->dossier, sizeof(y->dossier), q, 5);
	sq_copy_text(y->authority, sizeof(y->authority), q, 6);
	sq_copy_text(y->decision_no, sizeof(y->decision_no), q, 7);
	sq_copy_text(y->decision_date, sizeof(y->decision_date), q, 8);
	sq_copy_text(y->review_due, sizeof(y->review_due), q, 9);
	sq_copy_text(y->hosts, sizeof(y->hosts), q, 10);
}

static int system_one(void *arg, sqlite3_stmt *q)
{
	read_system(q, arg);
	return 1;
}

int sqlite_system_set(struct store *st, const struct store_system *y)
{
	struct sqlite_store *s = sqlite_impl(st);
	struct store_system old;
	struct sq_hold h;
	struct sq_done done;
	SQ_ENTER(s, &h);
	int rc = sq_run(&s->admin, SQ_BEGIN, SQ_NO_ARGS, NULL, NULL, NULL);
	if (rc == 0)
		rc = sq_run(&s->admin, SQ_SYSTEM_GET, SQ_ARGS(SQ_INT(y->id)),
			    system_one, &old, &done);
	if (rc == 0 && done.rows == 0)
		rc = -ENOENT;
	if (rc == 0)
		rc = sq_run(&s->admin, SQ_SYSTEM_SET,
			    SQ_ARGS(SQ_INT(y->id), SQ_TEXT(y->unit),
				    SQ_TEXT(y->name), SQ_TEXT(y->kind),
				    SQ_INT(y->level), SQ_TEXT(y->dossier),
				    SQ_TEXT(y->authority),
				    SQ_TEXT(y->decision_no),
				    SQ_TEXT(y->decision_date),
				    SQ_TEXT(y->review_due), SQ_TEXT(y->hosts),
				    SQ_INT(store_now_us())),
			    NULL, NULL, NULL);
	/* Both units: a system may move from one to the other. */
	if (rc == 0)
		rc = sq_run(&s->admin, SQ_SCHOOL_LEVEL_SYNC,
			    SQ_ARGS(SQ_TEXT(y->unit)), NULL, NULL, NULL);
	if (rc == 0 && strcmp(old.unit, y->unit) != 0)
		rc = sq_run(&s->admin, SQ_SCHOOL_LEVEL_SYNC,
			    SQ_ARGS(SQ_TEXT(old.unit)), NULL, NULL, NULL);
	rc = sq_admin_end(s, rc);
	sq_admin_leave(s, &h);
	return rc;
}

int sqlite_system_get(struct store *st, uint64_t id, struct store_system *out)
{
	struct sq_done done;
	int rc = ADMIN_RUN(sqlite_impl(st), SQ_SYSTEM_GET,
			   SQ_ARGS(SQ_INT(id)), system_one, out, &done);
	return rc == 0 && done.rows == 0 ? -ENOENT : rc;
}

struct system_cb {
	void (*cb)(void *, const struct store_system *);
	void *arg;
};

static int system_row(void *arg, sqlite3_stmt *q)
{
	struct system_cb *c = arg;
	struct store_system y;
	read_system(q, &y);
	c->cb(c->arg, &y);
	return 0;
}

int sqlite_system_list(struct store *st, const char *unit,
		       void (*cb)(void *, const struct store_system *),
		       void *arg)
{
	struct system_cb c = {cb, arg};
	return ADMIN_RUN(sqlite_impl(st), SQ_SYSTEM_LIST,
			 SQ_ARGS(SQ_TEXT(unit)), system_row, &c, NULL);
}

/* ---- daily history ------------------------------------------------------------ */

/* The arguments of one history row, shared by the single puts and the
 * day's batch. */
#define DAY_SCHOOL_ARGS(d) SQ_ARGS(SQ_TEXT((d)->day), SQ_TEXT((d)->school), \
				 SQ_TEXT((d)->commune), SQ_INT((d)->level), \
				 SQ_INT((d)->no_policy), SQ_INT((d)->pcs), \
				 SQ_INT((d)->enrolled), SQ_INT((d)->fresh), \
				 SQ_INT((d)->av_ok), SQ_INT((d)->rpo_ok), \
				 SQ_INT((d)->restore_ok), SQ_REAL((d)->score))
#define DAY_HOST_ARGS(d) SQ_ARGS(SQ_TEXT((d)->day), SQ_TEXT((d)->agent), \
				 SQ_TEXT((d)->school), SQ_REAL((d)->score), \
				 SQ_INT((d)->fresh), SQ_INT((d)->av_ok), \
				 SQ_INT((d)->rpo_ok), SQ_INT((d)->restore_ok), \
				 SQ_TEXT((d)->failed))

int sqlite_day_school_put(struct store *st, const struct store_day_school *d)
{
	return ADMIN_RUN(sqlite_impl(st), SQ_DAY_SCHOOL_PUT, DAY_SCHOOL_ARGS(d),
			 NULL, NULL, NULL);
}

int sqlite_day_host_put(struct store *st, const struct store_day_host *d)
{
	return ADMIN_RUN(sqlite_impl(st), SQ_DAY_HOST_PUT, DAY_HOST_ARGS(d),
			 NULL, NULL, NULL);
}

int sqlite_day_put_all(struct store *st,
		       int (*next)(void *arg, struct store_day_row *row),
		       void *arg)
{
	struct sqlite_store *s = sqlite_impl(st);
	struct store_day_row *row = alloc_zeroed(1, sizeof(*row));
	struct sq_hold h;
	if (row == NULL)
		return -ENOMEM;
	SQ_ENTER(s, &h);
	int rc = sq_run(&s->admin, SQ_BEGIN, SQ_NO_ARGS, NULL, NULL, NULL);
	int more;
	while (rc == 0 && (more = next(arg, row)) != 0) {
		if (more < 0) {
			rc = more;
			break;
		}
		rc = row->is_school
			     ? sq_run(&s->admin, SQ_DAY_SCHOOL_PUT,
				      DAY_SCHOOL_ARGS(&row->school), NULL, NULL,
				      NULL)
			     : sq_run(&s->admin, SQ_DAY_HOST_PUT,
				      DAY_HOST_ARGS(&row->host), NULL, NULL,
				      NULL);
	}
	rc = sq_admin_end(s, rc);
	sq_admin_leave(s, &h);
	alloc_free(row);
	return rc;
}

int sqlite_snapshot_prune(struct store *st, const char *before_day,
			  long long *removed)
{
	static const enum sq_id tables[] = {SQ_PRUNE_SNAPSHOTS,
					    SQ_PRUNE_DAY_SCHOOL,
					    SQ_PRUNE_DAY_HOST};
	struct sqlite_store *s = sqlite_impl(st);
	struct sq_hold h;
	*removed = 0;
	SQ_ENTER(s, &h);
	int rc = sq_run(&s->admin, SQ_BEGIN, SQ_NO_ARGS, NULL, NULL, NULL);
	for (size_t i = 0; rc == 0 && i < sizeof(tables) / sizeof(tables[0]);
	     i++) {
		struct sq_done done;
		rc = sq_run(&s->admin, tables[i],
			    SQ_ARGS(SQ_TEXT(before_day)), NULL, NULL, &done);
		if (rc == 0)
			*removed += done.changes;
	}
	rc = sq_admin_end(s, rc);
	sq_admin_leave(s, &h);
	if (rc != 0)
		*removed = 0;
	return rc;
}

struct day_school_cb {
	void (*cb)(void *, const struct store_day_school *);
	void *arg;
};

static int day_school_row(void *arg, sqlite3_stmt *q)
{
	struct day_school_cb *c = arg;
	struct store_day_school d;
	sq_copy_text(d.day, sizeof(d.day), q, 0);
	sq_copy_text(d.school, sizeof(d.school), q, 1);
	sq_copy_text(d.commune, sizeof(d.commune), q, 2);
	d.level = sqlite3_column_int(q, 3);
	d.no_policy = sqlite3_column_int(q, 4) != 0;
	d.pcs = sqlite3_column_int(q, 5);
	d.enrolled = sqlite3_column_int(q, 6);
	d.fresh = sqlite3_column_int(q, 7);
	d.av_ok = sqlite3_column_int(q, 8);
	d.rpo_ok = sqlite3_column_int(q, 9);
	d.restore_ok = sqlite3_column_int(q, 10);
	d.score = sqlite3_column_double(q, 11);
	c->cb(c->arg, &d);
	return 0;
}

int sqlite_day_schools(struct store *st, const char *from, const char *to,
		       void (*cb)(void *, const struct store_day_school *),
		       void *arg)
{
	struct day_school_cb c = {cb, arg};
	return ADMIN_RUN(sqlite_impl(st), SQ_DAY_SCHOOLS,
			 SQ_ARGS(SQ_TEXT(from), SQ_TEXT(to)), day_school_row,
			 &c, NULL);
}

struct day_host_cb {
	void (*cb)(void *, const struct store_day_host *);
	void *arg;
};

static int day_host_row(void *arg, sqlite3_stmt *q)
{
	struct day_host_cb *c = arg;
	struct store_day_host d;
	sq_copy_text(d.day, sizeof(d.day), q, 0);
	sq_copy_text(d.agent, sizeof(d.agent), q, 1);
	sq_copy_text(d.school, sizeof(d.school), q, 2);
	d.score = sqlite3_column_double(q, 3);
	d.fresh = sqlite3_column_int(q, 4) != 0;
	d.av_ok = sqlite3_column_int(q, 5) != 0;
	d.rpo_ok = sqlite3_column_int(q, 6) != 0;
	d.restore_ok = sqlite3_column_int(q, 7) != 0;
	sq_copy_text(d.failed, sizeof(d.failed), q, 8);
	c->cb(c->arg, &d);
	return 0;
}

int sqlite_day_hosts(struct store *st, const char *day,
		     void (*cb)(void *, const struct store_day_host *),
		     void *arg)
{
	struct day_host_cb c = {cb, arg};
	return ADMIN_RUN(sqlite_impl(st), SQ_DAY_HOSTS, SQ_ARGS(SQ_TEXT(day)),
			 day_host_row, &c, NULL);
}

/* ---- reports ------------------------------------------------------------------- */

struct newest {
	uint64_t id;
	int version;
	char state[12];
};

static int newest_row(void *arg, sqlite3_stmt *q)
{
	struct newest *n = arg;
	n->id = (uint64_t)sqlite3_column_int64(q, 0);
	n->version = sqlite3_column_int(q, 1);
	sq_copy_text(n->state, sizeof(n->state), q, 2);
	return 1;
}

int sqlite_report_draft(struct store *st, const struct store_report *r,
			uint64_t *id, int *version)
{
	struct sqlite_store *s = sqlite_impl(st);
	struct newest n = {0};
	struct sq_hold h;
	struct sq_done done;
	int64_t now = store_now_us();
	SQ_ENTER(s, &h);
	int rc = sq_run(&s->admin, SQ_BEGIN, SQ_NO_ARGS, NULL, NULL, NULL);
	if (rc == 0)
		rc = sq_run(&s->admin, SQ_REPORT_NEWEST,
			    SQ_ARGS(SQ_TEXT(r->period), SQ_TEXT(r->scope)),
			    newest_row, &n, NULL);
	if (rc == 0 && n.id != 0 && strcmp(n.state, "draft") == 0) {
		rc = sq_run(&s->admin, SQ_REPORT_UPDATE_DRAFT,
			    SQ_ARGS(SQ_INT(n.id), SQ_INT(now),
				    SQ_TEXT(r->remarks ? r->remarks : ""),
				    SQ_TEXT(r->model)),
			    NULL, NULL, NULL);
		*id = n.id;
		*version = n.version;
	} else if (rc == 0) {
		/* The first version, or a correction of a signed one, which
		 * names what it corrects. */
		rc = sq_run(&s->admin, SQ_REPORT_INSERT,
			    SQ_ARGS(SQ_TEXT(r->period), SQ_TEXT(r->scope),
				    SQ_INT(n.version + 1), SQ_INT(now),
				    SQ_TEXT(r->remarks ? r->remarks : ""),
				    SQ_TEXT(r->model),
				    SQ_INT_OR_NULL(n.id, n.id != 0)),
			    NULL, NULL, &done);
		*id = (uint64_t)done.rowid;
		*version = n.version + 1;
	}
	rc = sq_admin_end(s, rc);
	sq_admin_leave(s, &h);
	return rc;
}

static int read_state(void *arg, sqlite3_stmt *q)
{
	sq_copy_text(arg, 12, q, 0);
	return 1;
}

int sqlite_report_sign(struct store *st, uint64_t id, const char *by,
		       const char *pdf_path, const char *pdf_sha256,
		       const char *model)
{
	struct sqlite_store *s = sqlite_impl(st);
	char state[12] = "";
	struct sq_hold h;
	SQ_ENTER(s, &h);
	int rc = sq_run(&s->admin, SQ_BEGIN, SQ_NO_ARGS, NULL, NULL, NULL);
	if (rc == 0)
		rc = sq_run(&s->admin, SQ_REPORT_STATE, SQ_ARGS(SQ_INT(id)),
			    read_state, state, NULL);
	if (rc == 0 && state[0] == '\0')
		rc = -ENOENT;
	else if (rc == 0 && strcmp(state, "draft") != 0)
		rc = -EALREADY;
	if (rc == 0)
		rc = sq_run(&s->admin, SQ_REPORT_SIGN,
			    SQ_ARGS(SQ_INT(id), SQ_INT(store_now_us()),
				    SQ_TEXT(by), SQ_TEXT(pdf_path),
				    SQ_TEXT(pdf_sha256), SQ_TEXT(model)),
			    NULL, NULL, NULL);
	rc = sq_admin_end(s, rc);
	sq_admin_leave(s, &h);
	return rc;
}

struct report_cb {
	void (*cb)(void *, const struct store_report *);
	void *arg;
};

static int report_row(void *arg, sqlite3_stmt *q)
{
	struct report_cb *c = arg;
	struct store_report r;
	memset(&r, 0, sizeof(r));
	r.id = (uint64_t)sqlite3_column_int64(q, 0);
	sq_copy_text(r.period, sizeof(r.period), q, 1);
	sq_copy_text(r.scope, sizeof(r.scope), q, 2);
	r.version = sqlite3_column_int(q, 3);
	sq_copy_text(r.state, sizeof(r.state), q, 4);
	r.created_us = sqlite3_column_int64(q, 5);
	r.signed_us = sqlite3_column_int64(q, 6);
	sq_copy_text(r.signed_by, sizeof(r.signed_by), q, 7);
	r.supersedes = (uint64_t)sqlite3_column_int64(q, 8);
	sq_copy_text(r.pdf_path, sizeof(r.pdf_path), q, 9);
	sq_copy_text(r.pdf_sha256, sizeof(r.pdf_sha256), q, 10);
	r.remarks = (const char *)sqlite3_column_text(q, 11);
	r.model = (const char *)sqlite3_column_text(q, 12);
	c->cb(c->arg, &r);
	return 0;
}

int sqlite_report_list(struct store *st, const char *period,
		       const char *scope,
		       void (*cb)(void *, const struct store_report *),
		       void *arg)
{
	struct report_cb c = {cb, arg};
	return ADMIN_RUN(sqlite_impl(st), SQ_REPORT_LIST,
			 SQ_ARGS(SQ_TEXT(period), SQ_TEXT(scope)), report_row,
			 &c, NULL);
}

int sqlite_report_list_scoped(struct store *st, const struct store_scope *sc,
			      uint64_t id,
			      void (*cb)(void *, const struct store_report *),
			      void *arg)
{
	struct report_cb c = {cb, arg};
	return ADMIN_RUN(sqlite_impl(st), SQ_REPORT_LIST_SCOPED,
			 SQ_ARGS(SQ_INT(sc->kind), SQ_TEXT(sc->value), SQ_INT(id)),
			 report_row, &c,
			 NULL);
}
