/* store_pg_redteam: the actions of red-team windows and the alerts they
 * are matched against, in the PostgreSQL backend, with the semantics of
 * store_sqlite_redteam.c. The rules that must hold whoever writes (an
 * action lies in its window; an alert of a running window is a drill of
 * it) are the database's own triggers (schema version 5 in
 * store_pg.c), so every collector sharing the database keeps them. */
#include "collector/store_pg.h"

#include <string.h>

/* All or none: an import never leaves half a file behind. An action the
 * window trigger refuses fails the whole transaction with -EIO. */
int pg_redteam_actions_add(struct store *st,
			   const struct store_redteam_action *a, size_t n)
{
	struct pg_store *s = pg_impl(st);
	int64_t now = store_now_us();
	PG_ENTER(s);
	int rc = pg_exec(&s->admin, "BEGIN");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct pg_args q = {0};
		pg_arg_int(&q, (long long)a[i].campaign);
		pg_arg_int(&q, a[i].at_us);
		pg_arg_text(&q, a[i].target_kind);
		pg_arg_text(&q, a[i].target);
		pg_arg_text(&q, a[i].technique);
		pg_arg_text(&q, a[i].description);
		pg_arg_text(&q, a[i].recorded_by);
		pg_arg_int(&q, now);
		rc = pg_run(&s->admin,
			    "INSERT INTO redteam_actions(campaign, at,"
			    " target_kind, target, technique, description,"
			    " recorded_by, created)"
			    " VALUES($1, $2, $3, $4, $5, $6, $7, $8)",
			    &q, NULL, NULL, NULL);
	}
	rc = pg_end(&s->admin, rc);
	pg_leave(s);
	return rc;
}

struct action_cb {
	void (*cb)(void *, const struct store_redteam_action *);
	void *arg;
};

static int action_row(void *arg, const PGresult *q, int r)
{
	struct action_cb *c = arg;
	struct store_redteam_action a;
	memset(&a, 0, sizeof(a));
	a.id = (uint64_t)pg_int(q, r, 0);
	a.campaign = (uint64_t)pg_int(q, r, 1);
	a.at_us = pg_int(q, r, 2);
	pg_text(a.target_kind, sizeof(a.target_kind), q, r, 3);
	pg_text(a.target, sizeof(a.target), q, r, 4);
	pg_text(a.technique, sizeof(a.technique), q, r, 5);
	pg_text(a.description, sizeof(a.description), q, r, 6);
	pg_text(a.recorded_by, sizeof(a.recorded_by), q, r, 7);
	a.created_us = pg_int(q, r, 8);
	c->cb(c->arg, &a);
	return 0;
}

int pg_redteam_actions(struct store *st, uint64_t campaign,
		       void (*cb)(void *, const struct store_redteam_action *),
		       void *arg)
{
	struct action_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_int(&a, (long long)campaign);
	return PG_ADMIN_RUN(pg_impl(st),
			    "SELECT id, campaign, at, target_kind, target,"
			    " technique, description, recorded_by, created"
			    " FROM redteam_actions WHERE campaign = $1"
			    " ORDER BY at, id",
			    &a, action_row, &c, NULL);
}

struct alert_cb {
	void (*cb)(void *, const struct store_redteam_alert *);
	void *arg;
};

static int alert_row(void *arg, const PGresult *q, int r)
{
	struct alert_cb *c = arg;
	struct store_redteam_alert a;
	memset(&a, 0, sizeof(a));
	a.id = (uint64_t)pg_int(q, r, 0);
	pg_text(a.agent, sizeof(a.agent), q, r, 1);
	pg_text(a.hostname, sizeof(a.hostname), q, r, 2);
	pg_text(a.school, sizeof(a.school), q, r, 3);
	pg_text(a.title, sizeof(a.title), q, r, 4);
	a.first_us = pg_int(q, r, 5);
	a.ack_us = pg_int(q, r, 6);
	c->cb(c->arg, &a);
	return 0;
}

/* The alerts of the window on the scope's PCs, whether or not the
 * trigger tied them (one opened before the window started running still
 * counts against it); an aborted window ends at its abort. */
int pg_redteam_alerts(struct store *st, uint64_t campaign,
		      void (*cb)(void *, const struct store_redteam_alert *),
		      void *arg)
{
	struct alert_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_int(&a, (long long)campaign);
	return PG_ADMIN_RUN(
		pg_impl(st),
		"SELECT a.id, a.agent, coalesce(g.hostname, ''), a.school,"
		" a.title, a.first, coalesce(a.ack, 0)"
		" FROM drill_campaigns c JOIN alerts a"
		" ON a.first >= c.window_start AND a.first < least(c.window_end,"
		" coalesce(c.ended, c.window_end))"
		" LEFT JOIN agents g ON g.id = a.agent"
		" WHERE c.id = $1 AND (c.scope = 'school:' || a.school"
		" OR c.scope = 'commune:' || (SELECT commune FROM schools"
		" WHERE code = a.school))"
		" ORDER BY a.first, a.id",
		&a, alert_row, &c, NULL);
}
