/* store_sqlite_redteam: the actions of red-team windows and the alerts
 * they are matched against, in the SQLite backend. */
#include "collector/store_sqlite.h"

#include <errno.h>
#include <string.h>

#define RUN(st, id, ...) ADMIN_RUN(sqlite_impl(st), (id), __VA_ARGS__)

int sqlite_redteam_actions_add(struct store *st,
			       const struct store_redteam_action *a, size_t n)
{
	struct sqlite_store *s = sqlite_impl(st);
	struct sq_hold h;
	int64_t now = store_now_us();
	SQ_ENTER(s, &h);
	int rc = sq_run(&s->admin, SQ_BEGIN, SQ_NO_ARGS, NULL, NULL, NULL);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = sq_run(&s->admin, SQ_REDTEAM_ACTION_ADD,
			    SQ_ARGS(SQ_INT(a[i].campaign), SQ_INT(a[i].at_us),
				    SQ_TEXT(a[i].target_kind),
				    SQ_TEXT(a[i].target),
				    SQ_TEXT(a[i].technique),
				    SQ_TEXT(a[i].description),
				    SQ_TEXT(a[i].recorded_by), SQ_INT(now)),
			    NULL, NULL, NULL);
	rc = sq_admin_end(s, rc);
	sq_admin_leave(s, &h);
	return rc;
}

struct action_cb {
	void (*cb)(void *, const struct store_redteam_action *);
	void *arg;
};

static int action_row(void *arg, sqlite3_stmt *q)
{
	struct action_cb *c = arg;
	struct store_redteam_action a;
	memset(&a, 0, sizeof(a));
	a.id = (uint64_t)sqlite3_column_int64(q, 0);
	a.campaign = (uint64_t)sqlite3_column_int64(q, 1);
	a.at_us = sqlite3_column_int64(q, 2);
	sq_copy_text(a.target_kind, sizeof(a.target_kind), q, 3);
	sq_copy_text(a.target, sizeof(a.target), q, 4);
	sq_copy_text(a.technique, sizeof(a.technique), q, 5);
	sq_copy_text(a.description, sizeof(a.description), q, 6);
	sq_copy_text(a.recorded_by, sizeof(a.recorded_by), q, 7);
	a.created_us = sqlite3_column_int64(q, 8);
	c->cb(c->arg, &a);
	return 0;
}

int sqlite_redteam_actions(struct store *st, uint64_t campaign,
			   void (*cb)(void *,
				      const struct store_redteam_action *),
			   void *arg)
{
	struct action_cb c = {cb, arg};
	return RUN(st, SQ_REDTEAM_ACTIONS, SQ_ARGS(SQ_INT(campaign)),
		   action_row, &c, NULL);
}

struct alert_cb {
	void (*cb)(void *, const struct store_redteam_alert *);
	void *arg;
};

static int alert_row(void *arg, sqlite3_stmt *q)
{
	struct alert_cb *c = arg;
	struct store_redteam_alert a;
	memset(&a, 0, sizeof(a));
	a.id = (uint64_t)sqlite3_column_int64(q, 0);
	sq_copy_text(a.agent, sizeof(a.agent), q, 1);
	sq_copy_text(a.hostname, sizeof(a.hostname), q, 2);
	sq_copy_text(a.school, sizeof(a.school), q, 3);
	sq_copy_text(a.title, sizeof(a.title), q, 4);
	a.first_us = sqlite3_column_int64(q, 5);
	a.ack_us = sqlite3_column_int64(q, 6);
	c->cb(c->arg, &a);
	return 0;
}

int sqlite_redteam_alerts(struct store *st, uint64_t campaign,
			  void (*cb)(void *, const struct store_redteam_alert *),
			  void *arg)
{
	struct alert_cb c = {cb, arg};
	return RUN(st, SQ_REDTEAM_ALERTS, SQ_ARGS(SQ_INT(campaign)), alert_row,
		   &c, NULL);
}
