/* store_sqlite_drill: incident drill campaigns and their targets in the
 * SQLite backend. */
#include "collector/store_sqlite.h"

#include <errno.h>
#include <string.h>

#define RUN(st, id, ...) ADMIN_RUN(sqlite_impl(st), (id), __VA_ARGS__)

int sqlite_drill_add(struct store *st, const struct store_drill *d,
		     uint64_t *id)
{
	struct sq_done done = {0};
	int rc = RUN(st, SQ_DRILL_ADD,
		     SQ_ARGS(SQ_TEXT(d->name), SQ_TEXT(d->organiser),
			     SQ_TEXT(d->scenario), SQ_TEXT(d->scope),
			     SQ_INT(d->window_start_us),
			     SQ_INT(d->window_end_us),
			     SQ_INT(store_now_us())),
		     NULL, NULL, &done);
	if (rc == -EIO &&
	    (sqlite_impl(st)->admin.last_code & 0xff) == SQLITE_CONSTRAINT)
		rc = -EEXIST;
	if (rc == 0)
		*id = (uint64_t)done.rowid;
	return rc;
}

static int drill_row(void *arg, sqlite3_stmt *q)
{
	struct store_drill *d = arg;
	d->id = (uint64_t)sqlite3_column_int64(q, 0);
	sq_copy_text(d->name, sizeof(d->name), q, 1);
	sq_copy_text(d->organiser, sizeof(d->organiser), q, 2);
	sq_copy_text(d->scenario, sizeof(d->scenario), q, 3);
	sq_copy_text(d->scope, sizeof(d->scope), q, 4);
	d->window_start_us = sqlite3_column_int64(q, 5);
	d->window_end_us = sqlite3_column_int64(q, 6);
	sq_copy_text(d->state, sizeof(d->state), q, 7);
	sq_copy_text(d->approver, sizeof(d->approver), q, 8);
	d->approved_us = sqlite3_column_int64(q, 9);
	d->started_us = sqlite3_column_int64(q, 10);
	d->ended_us = sqlite3_column_int64(q, 11);
	sq_copy_text(d->ended_by, sizeof(d->ended_by), q, 12);
	d->created_us = sqlite3_column_int64(q, 13);
	return 1; /* one row */
}

int sqlite_drill_get(struct store *st, const char *name,
		     struct store_drill *out)
{
	memset(out, 0, sizeof(*out));
	int rc = RUN(st, SQ_DRILL_GET, SQ_ARGS(SQ_TEXT(name)), drill_row, out,
		     NULL);
	if (rc == 0 && out->id == 0)
		rc = -ENOENT;
	return rc;
}

struct drill_cb {
	void (*cb)(void *, const struct store_drill *);
	void *arg;
};

static int drill_list_row(void *arg, sqlite3_stmt *q)
{
	struct drill_cb *c = arg;
	struct store_drill d;
	memset(&d, 0, sizeof(d));
	drill_row(&d, q);
	c->cb(c->arg, &d);
	return 0;
}

int sqlite_drill_list(struct store *st, int64_t from_us, int64_t end_us,
		      void (*cb)(void *, const struct store_drill *),
		      void *arg)
{
	struct drill_cb c = {cb, arg};
	return RUN(st, SQ_DRILL_LIST, SQ_ARGS(SQ_INT(from_us), SQ_INT(end_us)),
		   drill_list_row, &c, NULL);
}

int sqlite_drill_all(struct store *st,
		     void (*cb)(void *, const struct store_drill *), void *arg)
{
	struct drill_cb c = {cb, arg};
	return RUN(st, SQ_DRILL_ALL, SQ_NO_ARGS, drill_list_row, &c, NULL);
}

int sqlite_drill_transition(struct store *st, uint64_t id, const char *from,
			    const char *to, const char *who)
{
	struct sq_done done = {0};
	int rc = RUN(st, SQ_DRILL_TRANSITION,
		     SQ_ARGS(SQ_INT(id), SQ_TEXT(from), SQ_TEXT(to),
			     SQ_TEXT(who), SQ_INT(store_now_us())),
		     NULL, NULL, &done);
	return rc != 0 ? rc : done.changes > 0 ? 0 : -ESTALE;
}

int sqlite_drill_target_put(struct store *st,
			    const struct store_drill_target *t)
{
	return RUN(st, SQ_DRILL_TARGET_PUT,
		   SQ_ARGS(SQ_INT(t->campaign), SQ_TEXT(t->agent),
			   SQ_TEXT(t->school), SQ_TEXT(t->status),
			   SQ_INT_OR_NULL(t->command, t->command != 0),
			   SQ_INT_OR_NULL(t->abort_command,
					  t->abort_command != 0),
			   SQ_INT(store_now_us())),
		   NULL, NULL, NULL);
}

struct target_cb {
	void (*cb)(void *, const struct store_drill_target *);
	void *arg;
};

static bool body_flag(sqlite3_stmt *q, int col, const char *key)
{
	/* The blob first, then its size (SQLite's documented order). */
	const void *p = sqlite3_column_blob(q, col);
	int n = sqlite3_column_bytes(q, col);
	return store_body_flag(p, n > 0 ? (size_t)n : 0, key);
}

static int target_row(void *arg, sqlite3_stmt *q)
{
	struct target_cb *c = arg;
	struct store_drill_target t;
	memset(&t, 0, sizeof(t));
	t.campaign = (uint64_t)sqlite3_column_int64(q, 0);
	sq_copy_text(t.agent, sizeof(t.agent), q, 1);
	sq_copy_text(t.school, sizeof(t.school), q, 2);
	sq_copy_text(t.status, sizeof(t.status), q, 3);
	t.command = (uint64_t)sqlite3_column_int64(q, 4);
	t.abort_command = (uint64_t)sqlite3_column_int64(q, 5);
	t.at_us = sqlite3_column_int64(q, 6);
	t.issued_us = sqlite3_column_int64(q, 7);
	t.sent_us = sqlite3_column_int64(q, 8);
	t.abort_sent_us = sqlite3_column_int64(q, 9);
	t.injected_us = sqlite3_column_int64(q, 10);
	t.av_checked_us = sqlite3_column_int64(q, 11);
	t.av_removed = body_flag(q, 12, "removed");
	t.cleaned_us = sqlite3_column_int64(q, 13);
	t.clean_verified = body_flag(q, 14, "verified");
	t.alert_us = sqlite3_column_int64(q, 15);
	t.ack_us = sqlite3_column_int64(q, 16);
	t.resolved_us = sqlite3_column_int64(q, 17);
	t.detected_us = sqlite3_column_int64(q, 18);
	t.forwarded_us = sqlite3_column_int64(q, 19);
	t.forwarded_dests = sqlite3_column_int(q, 20);
	c->cb(c->arg, &t);
	return 0;
}

int sqlite_drill_targets(struct store *st, uint64_t campaign,
			 void (*cb)(void *, const struct store_drill_target *),
			 void *arg)
{
	struct target_cb c = {cb, arg};
	return RUN(st, SQ_DRILL_TARGETS, SQ_ARGS(SQ_INT(campaign)), target_row,
		   &c, NULL);
}
