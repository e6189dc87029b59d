/* store_pg_drill: incident drill campaigns and their targets, and agent
 * releases, in the PostgreSQL backend, with the semantics of
 * store_sqlite_drill.c and store_sqlite_release.c: every move of a
 * campaign is one UPDATE conditional on the state it leaves, so
 * collectors racing on one database cannot both win. */
#include "collector/store_pg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- campaigns ----------------------------------------------------------------- */

static int read_id(void *arg, const PGresult *q, int r)
{
	*(uint64_t *)arg = (uint64_t)pg_int(q, r, 0);
	return 1;
}

int pg_drill_add(struct store *st, const struct store_drill *d, uint64_t *id)
{
	struct pg_store *s = pg_impl(st);
	struct pg_args a = {0};
	pg_arg_text(&a, d->name);
	pg_arg_text(&a, d->organiser);
	pg_arg_text(&a, d->scenario);
	pg_arg_text(&a, d->scope);
	pg_arg_int(&a, d->window_start_us);
	pg_arg_int(&a, d->window_end_us);
	pg_arg_int(&a, store_now_us());
	*id = 0;
	PG_ENTER(s);
	int rc = pg_run(&s->admin,
			"INSERT INTO drill_campaigns(name, organiser, scenario,"
			" scope, window_start, window_end, state, created)"
			" VALUES($1, $2, $3, $4, $5, $6, 'planned', $7)"
			" RETURNING id",
			&a, read_id, id, NULL);
	/* 23505: the name is taken (UNIQUE), by this collector or another. */
	if (rc == -EIO && strcmp(s->admin.sqlstate, "23505") == 0)
		rc = -EEXIST;
	pg_leave(s);
	return rc;
}

static void read_drill(const PGresult *q, int r, struct store_drill *d)
{
	memset(d, 0, sizeof(*d));
	d->id = (uint64_t)pg_int(q, r, 0);
	pg_text(d->name, sizeof(d->name), q, r, 1);
	pg_text(d->organiser, sizeof(d->organiser), q, r, 2);
	pg_text(d->scenario, sizeof(d->scenario), q, r, 3);
	pg_text(d->scope, sizeof(d->scope), q, r, 4);
	d->window_start_us = pg_int(q, r, 5);
	d->window_end_us = pg_int(q, r, 6);
	pg_text(d->state, sizeof(d->state), q, r, 7);
	pg_text(d->approver, sizeof(d->approver), q, r, 8);
	d->approved_us = pg_int(q, r, 9);
	d->started_us = pg_int(q, r, 10);
	d->ended_us = pg_int(q, r, 11);
	pg_text(d->ended_by, sizeof(d->ended_by), q, r, 12);
	d->created_us = pg_int(q, r, 13);
}

static int drill_one(void *arg, const PGresult *q, int r)
{
	read_drill(q, r, arg);
	return 1;
}

int pg_drill_get(struct store *st, const char *name, struct store_drill *out)
{
	struct pg_args a = {0};
	long long rows = 0;
	memset(out, 0, sizeof(*out));
	pg_arg_text(&a, name);
	int rc = PG_ADMIN_RUN(pg_impl(st),
			      STORE_SQL_DRILL_SELECT " WHERE name = $1", &a,
			      drill_one, out, &rows);
	return rc != 0 ? rc : rows > 0 ? 0 : -ENOENT;
}

struct drill_cb {
	void (*cb)(void *, const struct store_drill *);
	void *arg;
};

static int drill_row(void *arg, const PGresult *q, int r)
{
	struct drill_cb *c = arg;
	struct store_drill d;
	read_drill(q, r, &d);
	c->cb(c->arg, &d);
	return 0;
}

int pg_drill_list(struct store *st, int64_t from_us, int64_t end_us,
		  void (*cb)(void *, const struct store_drill *), void *arg)
{
	struct drill_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_int(&a, from_us);
	pg_arg_int(&a, end_us);
	return PG_ADMIN_RUN(pg_impl(st),
			    STORE_SQL_DRILL_SELECT
			    " WHERE started >= $1 AND started < $2"
			    " ORDER BY started, id",
			    &a, drill_row, &c, NULL);
}

int pg_drill_all(struct store *st,
		 void (*cb)(void *, const struct store_drill *), void *arg)
{
	struct drill_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_int(&a, STORE_DRILL_ALL_MAX);
	return PG_ADMIN_RUN(pg_impl(st),
			    STORE_SQL_DRILL_SELECT " ORDER BY id DESC LIMIT $1",
			    &a, drill_row, &c, NULL);
}

/* One statement per move, conditional on the state it leaves: of two
 * officers racing (approve and abort), on one collector or two, the row
 * lock lets one UPDATE through and the other then matches no row. The
 * database refuses an approval by the organiser (CHECK) and any change
 * to a finished campaign (trigger): -EIO, as on SQLite. */
int pg_drill_transition(struct store *st, uint64_t id, const char *from,
			const char *to, const char *who)
{
	struct pg_args a = {0};
	long long changed = 0;
	pg_arg_int(&a, (long long)id);
	pg_arg_text(&a, from);
	pg_arg_text(&a, to);
	pg_arg_text(&a, who);
	pg_arg_int(&a, store_now_us());
	int rc = PG_ADMIN_RUN(
		pg_impl(st),
		"UPDATE drill_campaigns SET state = $3::text,"
		" approver = CASE WHEN $3 = 'approved' THEN $4::text"
		"  ELSE approver END,"
		" approved = CASE WHEN $3 = 'approved' THEN $5::bigint"
		"  ELSE approved END,"
		" started = CASE WHEN $3 = 'running' THEN $5 ELSE started END,"
		" ended = CASE WHEN $3 IN ('aborted', 'done') THEN $5"
		"  ELSE ended END,"
		" ended_by = CASE WHEN $3 IN ('aborted', 'done') THEN $4"
		"  ELSE ended_by END"
		" WHERE id = $1 AND state = $2::text",
		&a, NULL, NULL, &changed);
	return rc != 0 ? rc : changed > 0 ? 0 : -ESTALE;
}

/* ---- targets ------------------------------------------------------------------- */

int pg_drill_target_put(struct store *st, const struct store_drill_target *t)
{
	struct pg_args a = {0};
	char command[24], abort_command[24];
	snprintf(command, sizeof(command), "%llu",
		 (unsigned long long)t->command);
	snprintf(abort_command, sizeof(abort_command), "%llu",
		 (unsigned long long)t->abort_command);
	pg_arg_int(&a, (long long)t->campaign);
	pg_arg_text(&a, t->agent);
	pg_arg_text(&a, t->school);
	pg_arg_text(&a, t->status);
	/* A zero command is NULL: the stored one is kept. */
	pg_arg_text(&a, t->command != 0 ? command : NULL);
	pg_arg_text(&a, t->abort_command != 0 ? abort_command : NULL);
	pg_arg_int(&a, store_now_us());
	return PG_ADMIN_RUN(pg_impl(st),
			    "INSERT INTO drill_targets(campaign, agent, school,"
			    " status, command, abort_command, at)"
			    " VALUES($1, $2, $3, $4, $5::bigint, $6::bigint, $7)"
			    " ON CONFLICT(campaign, agent) DO UPDATE SET"
			    " status = excluded.status,"
			    " command = coalesce(excluded.command,"
			    "  drill_targets.command),"
			    " abort_command = coalesce(excluded.abort_command,"
			    "  drill_targets.abort_command), at = excluded.at",
			    &a, NULL, NULL, NULL);
}

struct target_cb {
	void (*cb)(void *, const struct store_drill_target *);
	void *arg;
};

/* A flag of the event body in column col (bytea, sent as text). */
static bool body_flag(const PGresult *q, int r, int col, const char *key)
{
	size_t n = 0;
	unsigned char *body = pg_bytea(q, r, col, &n);
	bool v = store_body_flag(body, n, key);
	if (body != NULL)
		PQfreemem(body);
	return v;
}

static int target_row(void *arg, const PGresult *q, int r)
{
	struct target_cb *c = arg;
	struct store_drill_target t;
	memset(&t, 0, sizeof(t));
	t.campaign = (uint64_t)pg_int(q, r, 0);
	pg_text(t.agent, sizeof(t.agent), q, r, 1);
	pg_text(t.school, sizeof(t.school), q, r, 2);
	pg_text(t.status, sizeof(t.status), q, r, 3);
	t.command = (uint64_t)pg_int(q, r, 4);
	t.abort_command = (uint64_t)pg_int(q, r, 5);
	t.at_us = pg_int(q, r, 6);
	t.issued_us = pg_int(q, r, 7);
	t.sent_us = pg_int(q, r, 8);
	t.abort_sent_us = pg_int(q, r, 9);
	t.injected_us = pg_int(q, r, 10);
	t.av_checked_us = pg_int(q, r, 11);
	t.av_removed = body_flag(q, r, 12, "removed");
	t.cleaned_us = pg_int(q, r, 13);
	t.clean_verified = body_flag(q, r, 14, "verified");
	t.alert_us = pg_int(q, r, 15);
	t.ack_us = pg_int(q, r, 16);
	t.resolved_us = pg_int(q, r, 17);
	t.detected_us = pg_int(q, r, 18);
	t.forwarded_us = pg_int(q, r, 19);
	t.forwarded_dests = (int)pg_int(q, r, 20);
	c->cb(c->arg, &t);
	return 0;
}

/* The same timeline as SQLite's statement (store_sqlite_stmt.c), with
 * each "first such event or alert after the command" looked up once
 * (LATERAL) rather than once per column. The forwarded stage reads the
 * first drill alert's delivery records: forward_done sets delivered in
 * the statement that takes the alert off the queue, and a refused one
 * is dead instead, which is what SQLite's drill_delivered trigger
 * notes in drill_deliveries. */
int pg_drill_targets(struct store *st, uint64_t campaign,
		     void (*cb)(void *, const struct store_drill_target *),
		     void *arg)
{
	struct target_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_int(&a, (long long)campaign);
	return PG_ADMIN_RUN(
		pg_impl(st),
		STORE_SQL_DRILL_TARGET_HEAD
		" av.ts, av.body, cl.ts, cl.body,"
		" x.first, x.ack, x.resolved,"
		STORE_SQL_DRILL_DETECTED ","
		/* forwarded: every destination the first drill alert was
		 * queued for confirmed it (none still waiting). */
		" CASE WHEN EXISTS (SELECT 1 FROM forward_queue q"
		"  WHERE q.alert = x.id) THEN NULL ELSE"
		"  (SELECT max(f.delivered) FROM forward_deliveries f"
		"  WHERE f.alert = x.id) END,"
		" (SELECT count(*) FROM forward_deliveries f WHERE"
		"  f.alert = x.id AND f.delivered IS NOT NULL)"
		" FROM drill_targets t"
		" LEFT JOIN commands c ON c.id = t.command"
		" LEFT JOIN commands k ON k.id = t.abort_command"
		" LEFT JOIN LATERAL (SELECT e.ts, e.body FROM events e"
		"  WHERE e.agent = t.agent AND e.kind = 'drill.av_acted'"
		"  AND e.ts >= c.issued - 1000000 ORDER BY e.ts LIMIT 1) av"
		"  ON true"
		" LEFT JOIN LATERAL (SELECT e.ts, e.body FROM events e"
		"  WHERE e.agent = t.agent AND e.kind = 'drill.cleaned_up'"
		"  AND e.ts >= c.issued - 1000000 ORDER BY e.ts LIMIT 1) cl"
		"  ON true"
		" LEFT JOIN LATERAL (SELECT a.id, a.first, a.ack, a.resolved"
		"  FROM alerts a WHERE a.agent = t.agent AND a.drill = 1"
		"  AND a.first >= c.issued ORDER BY a.first, a.id LIMIT 1) x ON true"
		" WHERE t.campaign = $1"
		" ORDER BY t.school COLLATE \"C\", t.agent COLLATE \"C\"",
		&a, target_row, &c, NULL);
}

/* ---- agent releases ------------------------------------------------------------ */

int pg_release_put(struct store *st, const struct store_release *r)
{
	struct pg_args a = {0};
	pg_arg_int(&a, (long long)r->id);
	pg_arg_text(&a, r->release);
	pg_arg_text(&a, r->channel);
	pg_arg_int(&a, r->rollback);
	pg_arg_text(&a, r->state);
	pg_arg_text(&a, r->why);
	pg_arg_int(&a, (long long)r->size);
	pg_arg_int(&a, (long long)r->queued);
	pg_arg_int(&a, r->created_us);
	pg_arg_int(&a, r->pilot_us);
	pg_arg_int(&a, r->stable_us);
	pg_arg_int(&a, r->ended_us);
	/* A published release keeps what it is; only its progress moves. */
	return PG_ADMIN_RUN(pg_impl(st),
			    "INSERT INTO agent_releases(id, release, channel,"
			    " rollback, state, why, size, queued, created, pilot,"
			    " stable, ended)"
			    " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)"
			    " ON CONFLICT(id) DO UPDATE SET state = excluded.state,"
			    " why = excluded.why, queued = excluded.queued,"
			    " pilot = excluded.pilot, stable = excluded.stable,"
			    " ended = excluded.ended",
			    &a, NULL, NULL, NULL);
}

struct release_cb {
	void (*cb)(void *, const struct store_release *);
	void *arg;
};

static int release_row(void *arg, const PGresult *q, int row)
{
	struct release_cb *c = arg;
	struct store_release r;
	memset(&r, 0, sizeof(r));
	r.id = (uint64_t)pg_int(q, row, 0);
	pg_text(r.release, sizeof(r.release), q, row, 1);
	pg_text(r.channel, sizeof(r.channel), q, row, 2);
	r.rollback = pg_int(q, row, 3) != 0;
	pg_text(r.state, sizeof(r.state), q, row, 4);
	pg_text(r.why, sizeof(r.why), q, row, 5);
	r.size = (uint64_t)pg_int(q, row, 6);
	r.queued = (uint64_t)pg_int(q, row, 7);
	r.created_us = pg_int(q, row, 8);
	r.pilot_us = pg_int(q, row, 9);
	r.stable_us = pg_int(q, row, 10);
	r.ended_us = pg_int(q, row, 11);
	c->cb(c->arg, &r);
	return 0;
}

int pg_release_list(struct store *st,
		    void (*cb)(void *, const struct store_release *), void *arg)
{
	struct release_cb c = {cb, arg};
	return PG_ADMIN_RUN(pg_impl(st),
			    "SELECT id, release, channel, rollback, state, why,"
			    " size, queued, created, pilot, stable, ended"
			    " FROM agent_releases ORDER BY id DESC",
			    NULL, release_row, &c, NULL);
}
