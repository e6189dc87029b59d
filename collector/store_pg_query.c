/* store_pg_query: the store's synchronous calls on the PostgreSQL admin
 * connection, each one statement (or a transaction of a few) under the
 * admin lock, and alerts, which the writer raises too. */
#include "collector/store_pg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"

/* One statement under the admin lock, named after the calling function. */
#define ADMIN_RUN PG_ADMIN_RUN

static int read_count(void *arg, const PGresult *res, int row)
{
	*(long long *)arg = pg_int(res, row, 0);
	return 1;
}

/* ---- alerts ---------------------------------------------------------------- */


struct alert_found {
	long long id, last;
};

static int read_found(void *arg, const PGresult *res, int row)
{
	struct alert_found *f = arg;
	f->id = pg_int(res, row, 0);
	f->last = pg_int(res, row, 1);
	return 1;
}

static int read_id(void *arg, const PGresult *res, int row)
{
	*(uint64_t *)arg = (uint64_t)pg_int(res, row, 0);
	return 1;
}

int pg_write_alert(struct pg_store *s, struct pg_conn *c,
		   const struct store_alert *a, int64_t now, bool *created)
{
	struct alert_found f = {0};
	struct pg_args k = {0};
	*created = false;
	pg_arg_text(&k, a->dedupe_key);
	/* Two collectors raising the same key at once take turns until the
	 * end of their transactions: one opens the alert, the other folds
	 * into it. */
	int rc = pg_run(c, "SELECT pg_advisory_xact_lock(hashtext($1))", &k,
			NULL, NULL, NULL);
	/* An alert a red-team window flagged takes no more repeats once
	 * that window is over: a real infection going on after it must not
	 * hide in the exercise's alert for the suppress window. */
	pg_arg_int(&k, now);
	if (rc == 0)
		rc = pg_run(c,
			    "SELECT id, last FROM alerts WHERE dedupe_key = $1"
			    " AND state <> 'resolved' AND NOT EXISTS (SELECT 1"
			    " FROM redteam_alerts r JOIN drill_campaigns c"
			    " ON c.id = r.campaign WHERE r.alert = alerts.id"
			    " AND (c.state <> 'running' OR c.window_end <= $2))"
			    " ORDER BY id DESC LIMIT 1",
			    &k, read_found, &f, NULL);
	if (rc != 0)
		return rc;
	if (f.id != 0 && now - f.last < a->suppress_s * 1000000LL) {
		struct pg_args u = {0};
		pg_arg_int(&u, now);
		pg_arg_int(&u, a->severity);
		pg_arg_int(&u, f.id);
		return pg_run(c,
			      "UPDATE alerts SET last = $1, count = count + 1,"
			      " severity = greatest(severity, $2) WHERE id = $3",
			      &u, NULL, NULL, NULL);
	}
	struct pg_args i = {0};
	uint64_t id = 0;
	pg_arg_text(&i, a->rule);
	pg_arg_text(&i, a->title);
	pg_arg_text(&i, a->category);
	pg_arg_text(&i, a->kind);
	pg_arg_text(&i, a->dedupe_key);
	pg_arg_text(&i, a->agent);
	pg_arg_text(&i, a->school);
	pg_arg_int(&i, a->severity);
	pg_arg_int(&i, a->drill);
	pg_arg_int(&i, now);
	pg_arg_text(&i, a->evidence[0] ? a->evidence : "{}");
	pg_arg_text(&i, a->src_ip);
	pg_arg_text(&i, a->file_path);
	pg_arg_text(&i, a->file_hash);
	rc = pg_run(c,
		    "INSERT INTO alerts(rule, title, category, kind, dedupe_key,"
		    " agent, school, severity, drill, first, last, count, state,"
		    " evidence, src_ip, file_path, file_hash)"
		    " VALUES($1, $2, $3, $4, $5, $6, coalesce((SELECT school"
		    " FROM agents WHERE id = $6), $7), $8, $9, $10, $10, 1,"
		    " 'open', $11, $12, $13, $14) RETURNING id",
		    &i, read_id, &id, NULL);
	if (rc != 0)
		return rc;
	/* In the alert's transaction: it is queued exactly when it exists. */
	for (size_t d = 0; d < s->opts.nforward_dests; d++) {
		struct pg_args q = {0};
		pg_arg_text(&q, s->opts.forward_dests[d]);
		pg_arg_int(&q, (long long)id);
		pg_arg_int(&q, now);
		/* One statement: the queue row and its delivery record. */
		rc = pg_run(c,
			    "WITH queued AS (INSERT INTO forward_queue(dest,"
			    " alert) VALUES($1, $2))"
			    " INSERT INTO forward_deliveries(dest, alert, queued)"
			    " VALUES($1, $2, $3) ON CONFLICT DO NOTHING",
			    &q, NULL, NULL, NULL);
		if (rc != 0)
			return rc;
	}
	*created = true;
	return 0;
}

struct alert_sink {
	struct pg_store *s;
	struct pg_conn *c;
	int64_t now;
};

static int sink_alert(void *arg, const struct store_alert *a)
{
	struct alert_sink *k = arg;
	bool created;
	return pg_write_alert(k->s, k->c, a, k->now, &created);
}

int pg_raise_alerts(struct pg_store *s, struct pg_conn *c,
		    const struct event *ev, int64_t now)
{
	struct alert_sink k = {s, c, now};
	return store_raise_alerts(&s->opts, ev, sink_alert, &k);
}

int pg_alert_raise(struct store *st, const struct store_alert *a,
		   bool *created)
{
	struct pg_store *s = pg_impl(st);
	*created = false;
	PG_ENTER(s);
	int rc = pg_exec(&s->admin, "BEGIN");
	if (rc == 0)
		rc = pg_write_alert(s, &s->admin, a, store_now_us(), created);
	rc = pg_end(&s->admin, rc);
	if (rc != 0)
		*created = false;
	pg_leave(s);
	return rc;
}

struct alert_cb {
	void (*cb)(void *, const struct store_alert *);
	void *arg;
	struct store_alert *a; /* 4 KiB of evidence: on the heap */
};

static int alert_row(void *arg, const PGresult *q, int r)
{
	struct alert_cb *c = arg;
	struct store_alert *a = c->a;
	memset(a, 0, sizeof(*a));
	a->id = (uint64_t)pg_int(q, r, 0);
	pg_text(a->rule, sizeof(a->rule), q, r, 1);
	pg_text(a->title, sizeof(a->title), q, r, 2);
	pg_text(a->category, sizeof(a->category), q, r, 3);
	pg_text(a->kind, sizeof(a->kind), q, r, 4);
	pg_text(a->dedupe_key, sizeof(a->dedupe_key), q, r, 5);
	pg_text(a->agent, sizeof(a->agent), q, r, 6);
	pg_text(a->school, sizeof(a->school), q, r, 7);
	pg_text(a->hostname, sizeof(a->hostname), q, r, 8);
	pg_text(a->commune, sizeof(a->commune), q, r, 9);
	a->severity = (int)pg_int(q, r, 10);
	a->drill = pg_int(q, r, 11) != 0;
	a->first_us = pg_int(q, r, 12);
	a->last_us = pg_int(q, r, 13);
	a->count = pg_int(q, r, 14);
	pg_text(a->state, sizeof(a->state), q, r, 15);
	pg_text(a->ack_by, sizeof(a->ack_by), q, r, 16);
	a->ack_us = pg_int(q, r, 17);
	pg_text(a->resolved_by, sizeof(a->resolved_by), q, r, 18);
	a->resolved_us = pg_int(q, r, 19);
	pg_text(a->evidence, sizeof(a->evidence), q, r, 20);
	pg_text(a->src_ip, sizeof(a->src_ip), q, r, 21);
	pg_text(a->file_path, sizeof(a->file_path), q, r, 22);
	pg_text(a->file_hash, sizeof(a->file_hash), q, r, 23);
	/* Only the forwarder's query reads the red-team window. */
	if (PQnfields(q) > 24)
		a->drill_campaign = (uint64_t)pg_int(q, r, 24);
	c->cb(c->arg, a);
	return 0;
}

static int list_alerts(struct pg_store *s, const char *call, const char *sql,
		       const struct pg_args *a,
		       void (*cb)(void *, const struct store_alert *),
		       void *arg)
{
	struct alert_cb c = {cb, arg, alloc_bytes(sizeof(struct store_alert))};
	if (c.a == NULL)
		return -ENOMEM;
	int rc = pg_admin_run(s, call, sql, a, alert_row, &c, NULL);
	alloc_free(c.a);
	return rc;
}

int pg_alert_list(struct store *st, const char *state, const char *school,
		  int limit, void (*cb)(void *, const struct store_alert *),
		  void *arg)
{
	struct pg_args a = {0};
	pg_arg_text(&a, state);
	pg_arg_text(&a, school);
	pg_arg_int(&a, limit);
	return list_alerts(pg_impl(st), __func__,
			   "SELECT " STORE_SQL_ALERT_COLS STORE_SQL_ALERT_JOINS
			   " WHERE ($1::text IS NULL OR a.state = $1) AND"
			   " ($2::text IS NULL OR a.school = $2)"
			   " ORDER BY a.id DESC LIMIT $3",
			   &a, cb, arg);
}

int pg_alert_set_state(struct store *st, uint64_t id, const char *state,
		       const char *who)
{
	struct pg_store *s = pg_impl(st);
	bool resolve = strcmp(state, "resolved") == 0;
	if (!resolve && strcmp(state, "acknowledged") != 0)
		return -EINVAL;
	struct pg_args a = {0};
	long long changed = 0, n = 0;
	pg_arg_int(&a, (long long)id);
	pg_arg_text(&a, who);
	pg_arg_int(&a, store_now_us());
	PG_ENTER(s);
	int rc = pg_run(&s->admin,
			resolve ? "UPDATE alerts SET state = 'resolved',"
				  " resolved_by = $2, resolved = $3"
				  " WHERE id = $1 AND state <> 'resolved'"
				: "UPDATE alerts SET state = 'acknowledged',"
				  " ack_by = $2, ack = $3"
				  " WHERE id = $1 AND state = 'open'",
			&a, NULL, NULL, &changed);
	/* Nothing changed: no such alert, or already past that state. */
	if (rc == 0 && changed == 0) {
		struct pg_args e = {0};
		pg_arg_int(&e, (long long)id);
		rc = pg_run(&s->admin, "SELECT count(*) FROM alerts WHERE id = $1",
			    &e, read_count, &n, NULL);
		if (rc == 0)
			rc = n == 0 ? -ENOENT : -EALREADY;
	}
	pg_leave(s);
	return rc;
}

/* ---- the forward queues ---------------------------------------------------- */

/* How long a collector owns the alerts it took to send: past it, another
 * collector may send them (at-least-once across a crash). */
#define FORWARD_LEASE_US (60 * 1000000LL)

/* Claims the next rows for this collector in one statement: rows another
 * collector is sending right now are skipped (SKIP LOCKED), as are rows
 * it holds a live lease on; rows this collector claimed before come
 * again (after_id moves past what it has in flight). */
int pg_forward_next(struct store *st, const char *dest, uint64_t after_id,
		    int limit, void (*cb)(void *, const struct store_alert *),
		    void *arg)
{
	struct pg_store *s = pg_impl(st);
	int64_t now = store_now_us();
	struct pg_args a = {0};
	pg_arg_text(&a, dest);
	pg_arg_int(&a, (long long)after_id);
	pg_arg_int(&a, limit);
	pg_arg_text(&a, s->instance);
	pg_arg_int(&a, now);
	pg_arg_int(&a, now + FORWARD_LEASE_US);
	return list_alerts(s, __func__,
			   "WITH claimed AS (UPDATE forward_queue f SET claimed_by = $4,"
			   " claimed_until = $6 WHERE (f.dest, f.alert) IN"
			   " (SELECT dest, alert FROM forward_queue WHERE dest = $1"
			   " AND alert > $2 AND (claimed_until IS NULL OR"
			   " claimed_until < $5 OR claimed_by = $4)"
			   " ORDER BY alert LIMIT $3 FOR UPDATE SKIP LOCKED)"
			   " RETURNING f.alert)"
			   " SELECT " STORE_SQL_ALERT_COLS ", coalesce((SELECT"
			   " r.campaign FROM redteam_alerts r WHERE r.alert ="
			   " a.id), 0)" STORE_SQL_ALERT_JOINS
			   " JOIN claimed ON claimed.alert = a.id ORDER BY a.id",
			   &a, cb, arg);
}

int pg_forward_done(struct store *st, const char *dest, uint64_t id)
{
	struct pg_store *s = pg_impl(st);
	struct pg_args a = {0};
	pg_arg_text(&a, dest);
	pg_arg_int(&a, (long long)id);
	pg_arg_text(&a, s->instance);
	pg_arg_int(&a, store_now_us());
	/* Only this collector's claims: another's in-flight rows below id
	 * are its to confirm, and a row nobody claimed was sent by nobody.
	 * Alert ids are taken when the row is inserted, not when it
	 * commits: with two collectors writing, alert 241 can commit after
	 * 242 was claimed, sent and confirmed, and "everything up to 242"
	 * deleted it unsent (the chaos test lost 30 of 600 that way). The
	 * rows taken off are confirmed in the same statement, so a delivery
	 * is never both pending and confirmed. */
	return ADMIN_RUN(s,
			 "WITH gone AS (DELETE FROM forward_queue WHERE"
			 " dest = $1 AND alert <= $2 AND claimed_by = $3"
			 " RETURNING dest, alert)"
			 " UPDATE forward_deliveries d SET delivered = $4"
			 " FROM gone WHERE d.dest = gone.dest AND"
			 " d.alert = gone.alert AND d.delivered IS NULL AND"
			 " d.dead IS NULL",
			 &a, NULL, NULL, NULL);
}

struct delivery_cb {
	void (*cb)(void *, const struct store_delivery *);
	void *arg;
};

static int delivery_row(void *arg, const PGresult *q, int r)
{
	struct delivery_cb *c = arg;
	struct store_delivery d;
	memset(&d, 0, sizeof(d));
	pg_text(d.dest, sizeof(d.dest), q, r, 0);
	d.alert = (uint64_t)pg_int(q, r, 1);
	d.queued_us = pg_int(q, r, 2);
	d.delivered_us = pg_int(q, r, 3);
	d.dead_us = pg_int(q, r, 4);
	c->cb(c->arg, &d);
	return 0;
}

int pg_forward_deliveries(struct store *st, int64_t from_us, int64_t end_us,
			  void (*cb)(void *, const struct store_delivery *),
			  void *arg)
{
	struct delivery_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_int(&a, from_us);
	pg_arg_int(&a, end_us);
	return ADMIN_RUN(pg_impl(st),
			 "SELECT dest, alert, queued, delivered, dead"
			 " FROM forward_deliveries WHERE queued >= $1"
			 " AND queued < $2 ORDER BY alert, dest",
			 &a, delivery_row, &c, NULL);
}

int pg_forward_depth(struct store *st, const char *dest, long long *n)
{
	struct pg_args a = {0};
	*n = 0;
	pg_arg_text(&a, dest);
	return ADMIN_RUN(pg_impl(st),
			 "SELECT count(*) FROM forward_queue WHERE dest = $1", &a,
			 read_count, n, NULL);
}

/* ---- dead letters ------------------------------------------------------------ */

int pg_dead_letter_add(struct store *st, const struct store_dead_letter *dl,
		       const struct event *notice)
{
	struct pg_store *s = pg_impl(st);
	int64_t now = store_now_us();
	struct pg_args a = {0}, d = {0};
	pg_arg_text(&a, dl->dest);
	pg_arg_int(&a, (long long)dl->alert);
	pg_arg_int(&a, dl->status);
	pg_arg_text(&a, dl->reason);
	pg_arg_int(&a, now);
	pg_arg_text(&d, dl->dest);
	pg_arg_int(&d, (long long)dl->alert);
	PG_ENTER(s);
	int rc = pg_exec(&s->admin, "BEGIN");
	if (rc == 0)
		rc = pg_run(&s->admin,
			    "INSERT INTO dead_letters(dest, alert, status,"
			    " reason, at) VALUES($1, $2, $3, $4, $5)",
			    &a, NULL, NULL, NULL);
	pg_arg_int(&d, now);
	if (rc == 0)
		rc = pg_run(&s->admin,
			    "WITH gone AS (DELETE FROM forward_queue"
			    " WHERE dest = $1 AND alert = $2)"
			    " UPDATE forward_deliveries SET dead = $3"
			    " WHERE dest = $1 AND alert = $2 AND"
			    " delivered IS NULL AND dead IS NULL",
			    &d, NULL, NULL, NULL);
	/* The local alert about the refusal, in the same transaction. */
	if (rc == 0 && notice)
		rc = pg_raise_alerts(s, &s->admin, notice, now);
	rc = pg_end(&s->admin, rc);
	pg_leave(s);
	return rc;
}

struct dead_letter_cb {
	void (*cb)(void *, const struct store_dead_letter *);
	void *arg;
};

static int dead_letter_row(void *arg, const PGresult *q, int r)
{
	struct dead_letter_cb *c = arg;
	struct store_dead_letter dl;
	memset(&dl, 0, sizeof(dl));
	dl.id = (uint64_t)pg_int(q, r, 0);
	pg_text(dl.dest, sizeof(dl.dest), q, r, 1);
	dl.alert = (uint64_t)pg_int(q, r, 2);
	dl.status = (int)pg_int(q, r, 3);
	pg_text(dl.reason, sizeof(dl.reason), q, r, 4);
	dl.at_us = pg_int(q, r, 5);
	pg_text(dl.rule, sizeof(dl.rule), q, r, 6);
	pg_text(dl.agent, sizeof(dl.agent), q, r, 7);
	c->cb(c->arg, &dl);
	return 0;
}

int pg_dead_letter_list(struct store *st, const char *dest, int limit,
			void (*cb)(void *, const struct store_dead_letter *),
			void *arg)
{
	struct dead_letter_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_text(&a, dest);
	pg_arg_int(&a, limit);
	return ADMIN_RUN(pg_impl(st),
			 "SELECT d.id, d.dest, d.alert, d.status, d.reason, d.at,"
			 " coalesce(a.rule, ''), coalesce(a.agent, '')"
			 " FROM dead_letters d LEFT JOIN alerts a ON a.id = d.alert"
			 " WHERE $1::text IS NULL OR d.dest = $1"
			 " ORDER BY d.id DESC LIMIT $2",
			 &a, dead_letter_row, &c, NULL);
}

int pg_dead_letter_count(struct store *st, const char *dest, long long *n)
{
	struct pg_args a = {0};
	*n = 0;
	pg_arg_text(&a, dest);
	return ADMIN_RUN(pg_impl(st),
			 "SELECT count(*) FROM dead_letters WHERE"
			 " $1::text IS NULL OR dest = $1",
			 &a, read_count, n, NULL);
}

/* ---- schools ------------------------------------------------------------------ */


int pg_school_add(struct store *st, const struct store_school *sc)
{
	struct pg_args a = {0};
	pg_arg_text(&a, sc->code);
	pg_arg_text(&a, sc->name);
	pg_arg_text(&a, sc->commune);
	pg_arg_int(&a, sc->level);
	pg_arg_int(&a, sc->expected_pcs);
	pg_arg_int(&a, store_now_us());
	return ADMIN_RUN(pg_impl(st),
			 "INSERT INTO schools(code, name, commune, level,"
			 " expected_pcs, created) VALUES($1, $2, $3, $4, $5, $6)"
			 " ON CONFLICT(code) DO UPDATE SET name = $2,"
			 " commune = $3, level = $4, expected_pcs = $5",
			 &a, NULL, NULL, NULL);
}

static void read_school(const PGresult *q, int r, struct store_school *out)
{
	pg_text(out->code, sizeof(out->code), q, r, 0);
	pg_text(out->name, sizeof(out->name), q, r, 1);
	pg_text(out->commune, sizeof(out->commune), q, r, 2);
	out->level = (int)pg_int(q, r, 3);
	out->expected_pcs = (int)pg_int(q, r, 4);
	out->enrolled_pcs = (int)pg_int(q, r, 5);
}

static int school_one(void *arg, const PGresult *q, int r)
{
	read_school(q, r, arg);
	return 1;
}

int pg_school_get(struct store *st, const char *code,
		  struct store_school *out)
{
	struct pg_args a = {0};
	long long rows = 0;
	pg_arg_text(&a, code);
	int rc = ADMIN_RUN(pg_impl(st),
			   STORE_SQL_SCHOOL_SELECT " WHERE s.code = $1", &a,
			   school_one, out, &rows);
	return rc != 0 ? rc : rows > 0 ? 0 : -ENOENT;
}

struct school_cb {
	void (*cb)(void *, const struct store_school *);
	void *arg;
};

static int school_row(void *arg, const PGresult *q, int r)
{
	struct school_cb *c = arg;
	struct store_school sc;
	read_school(q, r, &sc);
	c->cb(c->arg, &sc);
	return 0;
}

int pg_school_list(struct store *st,
		   void (*cb)(void *, const struct store_school *), void *arg)
{
	struct school_cb c = {cb, arg};
	return ADMIN_RUN(pg_impl(st),
			 STORE_SQL_SCHOOL_SELECT " ORDER BY s.commune, s.code",
			 NULL, school_row, &c, NULL);
}

/* ---- tokens ------------------------------------------------------------------- */

int pg_token_add(struct store *st, const unsigned char hash[32],
		 const char *school, int uses, int64_t expires_us)
{
	struct pg_store *s = pg_impl(st);
	struct pg_args a = {0};
	pg_arg_bytea(&a, hash, 32);
	pg_arg_text(&a, school);
	pg_arg_int(&a, uses);
	pg_arg_int(&a, expires_us);
	pg_arg_int(&a, store_now_us());
	PG_ENTER(s);
	int rc = pg_run(&s->admin,
			"INSERT INTO tokens(hash, school, uses_left, expires,"
			" created) VALUES($1, $2, $3, $4, $5)",
			&a, NULL, NULL, NULL);
	/* The only constraint a new random hash can break: no such school. */
	if (rc == -EIO && strcmp(s->admin.sqlstate, "23503") == 0)
		rc = -ENOENT;
	pg_leave(s);
	return rc;
}

struct token_row {
	enum store_token_result *result;
	char *school;
	int64_t now;
};

static int token_used(void *arg, const PGresult *q, int r)
{
	struct token_row *t = arg;
	pg_text(t->school, STORE_CODE_MAX + 1, q, r, 0);
	*t->result = STORE_TOKEN_OK;
	return 1;
}

static int token_refused(void *arg, const PGresult *q, int r)
{
	struct token_row *t = arg;
	if (pg_int(q, r, 0) <= 0)
		*t->result = STORE_TOKEN_USED;
	else if (pg_int(q, r, 1) < t->now)
		*t->result = STORE_TOKEN_EXPIRED;
	else /* used up by another between the two statements */
		*t->result = STORE_TOKEN_USED;
	return 1;
}

int pg_token_consume(struct store *st, const unsigned char hash[32],
		     enum store_token_result *result, char *school)
{
	struct pg_store *s = pg_impl(st);
	struct token_row t = {result, school, store_now_us()};
	struct pg_args a = {0};
	pg_arg_bytea(&a, hash, 32);
	pg_arg_int(&a, t.now);
	*result = STORE_TOKEN_UNKNOWN;
	PG_ENTER(s);
	/* Check and decrement in one statement: the row lock it takes makes
	 * two collectors racing for the last use queue, and the second sees
	 * uses_left at 0. */
	int rc = pg_run(&s->admin,
			"UPDATE tokens SET uses_left = uses_left - 1 WHERE"
			" hash = $1 AND uses_left > 0 AND expires >= $2"
			" RETURNING school",
			&a, token_used, &t, NULL);
	if (rc == 0 && *result != STORE_TOKEN_OK) {
		struct pg_args f = {0};
		pg_arg_bytea(&f, hash, 32);
		rc = pg_run(&s->admin,
			    "SELECT uses_left, expires FROM tokens WHERE hash = $1",
			    &f, token_refused, &t, NULL);
	}
	pg_leave(s);
	return rc;
}

/* ---- agents ----------------------------------------------------------------- */

int pg_agent_add(struct store *st, const char *id, const char *school,
		 const char *hostname, const char *cert_sha256)
{
	struct pg_args a = {0};
	pg_arg_text(&a, id);
	pg_arg_text(&a, school);
	pg_arg_text(&a, hostname);
	pg_arg_text(&a, cert_sha256);
	pg_arg_int(&a, store_now_us());
	return ADMIN_RUN(pg_impl(st),
			 "INSERT INTO agents(id, school, hostname, cert_sha256,"
			 " enrolled) VALUES($1, $2, $3, $4, $5)",
			 &a, NULL, NULL, NULL);
}

int pg_agent_revoke(struct store *st, const char *id)
{
	struct pg_args a = {0};
	long long n = 0;
	pg_arg_text(&a, id);
	pg_arg_int(&a, store_now_us());
	int rc = ADMIN_RUN(pg_impl(st),
			   "UPDATE agents SET revoked = $2 WHERE id = $1"
			   " AND revoked IS NULL",
			   &a, NULL, NULL, &n);
	return rc != 0 ? rc : n == 0 ? -ENOENT : 0;
}

/* A yes or no, as an int column (0 or 1). */
static int read_flag(void *arg, const PGresult *q, int r)
{
	*(bool *)arg = pg_int(q, r, 0) != 0;
	return 1;
}

int pg_agent_allowed(struct store *st, const char *id, bool *allowed)
{
	struct pg_args a = {0};
	*allowed = false;
	pg_arg_text(&a, id);
	return ADMIN_RUN(pg_impl(st),
			 "SELECT (revoked IS NULL)::int FROM agents WHERE id = $1",
			 &a, read_flag, allowed, NULL);
}

struct agent_time_cb {
	void (*cb)(void *, const char *, int64_t);
	void *arg;
};

static int agent_time_row(void *arg, const PGresult *q, int r)
{
	struct agent_time_cb *c = arg;
	char id[EVENT_AGENT_MAX + 1];
	pg_text(id, sizeof(id), q, r, 0);
	c->cb(c->arg, id, pg_int(q, r, 1));
	return 0;
}

int pg_agents_revoked_since(struct store *st, int64_t since_us,
			    void (*cb)(void *, const char *, int64_t),
			    void *arg)
{
	struct agent_time_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_int(&a, since_us);
	return ADMIN_RUN(pg_impl(st),
			 "SELECT id, revoked FROM agents WHERE revoked > $1"
			 " ORDER BY revoked",
			 &a, agent_time_row, &c, NULL);
}

int pg_agents_silent(struct store *st, int64_t before_us,
		     void (*cb)(void *, const char *, int64_t), void *arg)
{
	struct agent_time_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_int(&a, before_us);
	return ADMIN_RUN(pg_impl(st),
			 "SELECT id, coalesce(last_seen, enrolled) FROM agents"
			 " WHERE revoked IS NULL AND"
			 " coalesce(last_seen, enrolled) < $1",
			 &a, agent_time_row, &c, NULL);
}

struct agent_cb {
	void (*cb)(void *, const struct store_agent *);
	void *arg;
};

static int agent_row(void *arg, const PGresult *q, int r)
{
	struct agent_cb *c = arg;
	struct store_agent a;
	memset(&a, 0, sizeof(a));
	pg_text(a.id, sizeof(a.id), q, r, 0);
	pg_text(a.school, sizeof(a.school), q, r, 1);
	pg_text(a.hostname, sizeof(a.hostname), q, r, 2);
	a.enrolled_us = pg_int(q, r, 3);
	a.last_seen_us = pg_int(q, r, 4);
	a.revoked = pg_int(q, r, 5) != 0;
	a.events = pg_int(q, r, 6);
	a.clamped = pg_int(q, r, 7);
	c->cb(c->arg, &a);
	return 0;
}

int pg_agent_list(struct store *st, const char *school,
		  void (*cb)(void *, const struct store_agent *), void *arg)
{
	struct agent_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_text(&a, school);
	return ADMIN_RUN(pg_impl(st),
			 "SELECT id, school, hostname, enrolled,"
			 " coalesce(last_seen, 0), (revoked IS NOT NULL)::int,"
			 " (SELECT count(*) FROM events e WHERE e.agent = a.id),"
			 " clamped FROM agents a"
			 " WHERE $1::text IS NULL OR school = $1"
			 " ORDER BY school, hostname",
			 &a, agent_row, &c, NULL);
}

/* ---- events ------------------------------------------------------------------ */

int pg_count_events(struct store *st, const char *agent, uint64_t boot,
		    long long *count)
{
	struct pg_args a = {0};
	long long rows = 0;
	*count = 0;
	pg_arg_text(&a, agent);
	pg_arg_int(&a, (long long)boot);
	int rc = ADMIN_RUN(pg_impl(st),
			   "SELECT count(*) FROM events WHERE ($1::text IS NULL"
			   " OR agent = $1) AND ($2::bigint = 0 OR boot = $2)",
			   &a, read_count, count, &rows);
	return rc != 0 ? rc : rows > 0 ? 0 : -EIO;
}

struct event_cb {
	void (*cb)(void *, const struct store_event_row *);
	void *arg;
};

static int event_row(void *arg, const PGresult *q, int r)
{
	struct event_cb *c = arg;
	struct store_event_row row = {.ev = {.v = EVENT_VERSION}};
	size_t len;
	pg_text(row.ev.agent, sizeof(row.ev.agent), q, r, 0);
	row.ev.boot = (uint64_t)pg_int(q, r, 1);
	row.ev.seq = (uint64_t)pg_int(q, r, 2);
	row.ev.ts = (uint64_t)pg_int(q, r, 3);
	pg_text(row.ev.kind, sizeof(row.ev.kind), q, r, 4);
	row.ev.sev = (uint8_t)pg_int(q, r, 5);
	row.ev.drill = pg_int(q, r, 6) != 0;
	unsigned char *body = pg_bytea(q, r, 7, &len);
	row.ev.body = (char *)body;
	row.ev.body_len = body ? len : 0;
	row.received_us = pg_int(q, r, 8);
	row.agent_ts_us = pg_int(q, r, 9);
	c->cb(c->arg, &row);
	if (body)
		PQfreemem(body);
	return 0;
}

int pg_recent_events(struct store *st, const char *agent, int limit,
		     void (*cb)(void *, const struct store_event_row *),
		     void *arg)
{
	struct event_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_text(&a, agent);
	pg_arg_int(&a, limit);
	return ADMIN_RUN(pg_impl(st),
			 "SELECT agent, boot, seq, ts, kind, sev, drill, body,"
			 " received, coalesce(agent_ts, 0) FROM events"
			 " WHERE $1::text IS NULL OR agent = $1"
			 " ORDER BY id DESC LIMIT $2",
			 &a, event_row, &c, NULL);
}

/* ---- commands ------------------------------------------------------------------ */

int pg_command_add(struct store *st, const char *agent, const char *type,
		   int64_t issued_us, int64_t expires_us, uint64_t *id)
{
	struct pg_args a = {0};
	*id = 0;
	pg_arg_text(&a, agent);
	pg_arg_text(&a, type);
	pg_arg_int(&a, issued_us);
	pg_arg_int(&a, expires_us);
	int rc = ADMIN_RUN(pg_impl(st),
			   "INSERT INTO commands(agent, type, issued, expires)"
			   " VALUES($1, $2, $3, $4) RETURNING id",
			   &a, read_id, id, NULL);
	if (rc != 0)
		*id = 0;
	return rc;
}

int pg_command_set_frame(struct store *st, uint64_t id, const char *frame,
			 size_t len)
{
	struct pg_args a = {0};
	pg_arg_int(&a, (long long)id);
	pg_arg_bytea(&a, frame, len);
	return ADMIN_RUN(pg_impl(st),
			 "UPDATE commands SET frame = $2 WHERE id = $1", &a,
			 NULL, NULL, NULL);
}

int pg_command_mark_sent(struct store *st, uint64_t id)
{
	struct pg_args a = {0};
	pg_arg_int(&a, (long long)id);
	pg_arg_int(&a, store_now_us());
	return ADMIN_RUN(pg_impl(st),
			 "UPDATE commands SET sent = $2 WHERE id = $1", &a,
			 NULL, NULL, NULL);
}

int pg_commands_withdraw(struct store *st, const char *type,
			 int64_t issued_before_us, int64_t now_us,
			 long long *withdrawn)
{
	struct pg_args a = {0};
	pg_arg_text(&a, type);
	pg_arg_int(&a, now_us);
	pg_arg_int(&a, issued_before_us);
	return ADMIN_RUN(pg_impl(st),
			 "UPDATE commands SET expires = $2 WHERE type = $1 AND"
			 " sent IS NULL AND expires > $2 AND issued < $3",
			 &a, NULL, NULL, withdrawn);
}

struct command_cb {
	void (*cb)(void *, uint64_t, const char *, const char *, size_t);
	void *arg;
};

static int command_row(void *arg, const PGresult *q, int r)
{
	struct command_cb *c = arg;
	char who[EVENT_AGENT_MAX + 1];
	size_t len;
	pg_text(who, sizeof(who), q, r, 1);
	unsigned char *frame = pg_bytea(q, r, 2, &len);
	if (frame == NULL)
		return -ENOMEM;
	c->cb(c->arg, (uint64_t)pg_int(q, r, 0), who, (const char *)frame,
	      len);
	PQfreemem(frame);
	return 0;
}

int pg_commands_pending(struct store *st, const char *agent,
			void (*cb)(void *, uint64_t, const char *,
				   const char *, size_t),
			void *arg)
{
	struct command_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_text(&a, agent);
	pg_arg_int(&a, store_now_us());
	return ADMIN_RUN(pg_impl(st),
			 "SELECT id, agent, frame FROM commands WHERE sent IS NULL"
			 " AND frame IS NOT NULL AND expires > $2"
			 " AND ($1::text IS NULL OR agent = $1) ORDER BY id"
			 " LIMIT 1000",
			 &a, command_row, &c, NULL);
}

/* ---- host state and snapshots ------------------------------------------------ */

struct host_cb {
	void (*cb)(void *, const struct store_host_row *);
	void *arg;
};

static int host_row(void *arg, const PGresult *q, int r)
{
	struct host_cb *c = arg;
	size_t len;
	unsigned char *body = pg_bytea(q, r, 6, &len);
	struct store_host_row row = {
		.agent = PQgetvalue(q, r, 0),
		.school = PQgetvalue(q, r, 1),
		.hostname = PQgetvalue(q, r, 2),
		.last_seen_us = pg_int(q, r, 3),
		.kind = PQgetvalue(q, r, 4),
		.ts_us = pg_int(q, r, 5),
		.body = (const char *)body,
		.body_len = body ? len : 0,
		.received_us = pg_int(q, r, 7),
	};
	c->cb(c->arg, &row);
	if (body)
		PQfreemem(body);
	return 0;
}

int pg_host_states(struct store *st, const char *school,
		   void (*cb)(void *, const struct store_host_row *),
		   void *arg)
{
	struct host_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_text(&a, school);
	return ADMIN_RUN(pg_impl(st),
			 "SELECT a.id, a.school, a.hostname,"
			 " coalesce(a.last_seen, 0), coalesce(h.kind, ''),"
			 " coalesce(h.ts, 0), h.body, coalesce(h.received, 0)"
			 " FROM agents a LEFT JOIN host_state h ON h.agent = a.id"
			 " WHERE a.revoked IS NULL AND ($1::text IS NULL OR"
			 " a.school = $1) ORDER BY a.school, a.id",
			 &a, host_row, &c, NULL);
}

int pg_snapshot_put(struct store *st, const struct store_snapshot *snap)
{
	struct pg_args a = {0};
	pg_arg_text(&a, snap->day);
	pg_arg_text(&a, snap->scope);
	pg_arg_text(&a, snap->key);
	pg_arg_real(&a, snap->score);
	pg_arg_int(&a, snap->pcs);
	return ADMIN_RUN(pg_impl(st),
			 "INSERT INTO score_snapshots(day, scope, key, score, pcs)"
			 " VALUES($1, $2, $3, $4, $5) ON CONFLICT(scope, key, day)"
			 " DO UPDATE SET score = excluded.score,"
			 " pcs = excluded.pcs",
			 &a, NULL, NULL, NULL);
}

struct snapshot_cb {
	void (*cb)(void *, const struct store_snapshot *);
	void *arg;
};

static int snapshot_row(void *arg, const PGresult *q, int r)
{
	struct snapshot_cb *c = arg;
	struct store_snapshot sn;
	memset(&sn, 0, sizeof(sn));
	pg_text(sn.day, sizeof(sn.day), q, r, 0);
	pg_text(sn.scope, sizeof(sn.scope), q, r, 1);
	pg_text(sn.key, sizeof(sn.key), q, r, 2);
	sn.score = pg_real(q, r, 3);
	sn.pcs = (int)pg_int(q, r, 4);
	c->cb(c->arg, &sn);
	return 0;
}

int pg_snapshot_list(struct store *st, const char *scope, const char *key,
		     int limit,
		     void (*cb)(void *, const struct store_snapshot *),
		     void *arg)
{
	struct snapshot_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_text(&a, scope);
	pg_arg_text(&a, key);
	pg_arg_int(&a, limit);
	return ADMIN_RUN(pg_impl(st),
			 "SELECT day, scope, key, score, pcs FROM score_snapshots"
			 " WHERE scope = $1 AND key = $2 ORDER BY day DESC"
			 " LIMIT $3",
			 &a, snapshot_row, &c, NULL);
}

/* ---- the console: reads within an officer's scope ------------------------ */

/* $1 is the scope's kind (enum store_scope_kind), $2 its value: the
 * province sees all, a commune officer one commune's schools, a school
 * officer one school. */
#define SCOPE_OF(commune, code)                                          \
	"($1::int = 0 OR ($1 = 1 AND " commune " = $2::text) OR ($1 = 2 AND " \
	code " = $2))"
#define AGENT_SCOPED_SELECT                                                 \
	"SELECT a.id, a.school, a.hostname, a.enrolled,"                     \
	" coalesce(a.last_seen, 0), (a.revoked IS NOT NULL)::int, 0,"         \
	" a.clamped FROM agents a JOIN schools s ON s.code = a.school WHERE " \
	SCOPE_OF("s.commune", "s.code")

static void scope_args(struct pg_args *a, const struct store_scope *sc)
{
	pg_arg_int(a, sc->kind);
	pg_arg_text(a, sc->value);
}

int pg_school_list_scoped(struct store *st, const struct store_scope *sc,
			  void (*cb)(void *, const struct store_school *),
			  void *arg)
{
	struct school_cb c = {cb, arg};
	struct pg_args a = {0};
	scope_args(&a, sc);
	return ADMIN_RUN(pg_impl(st),
			 STORE_SQL_SCHOOL_SELECT " WHERE " SCOPE_OF("s.commune", "s.code")
			 " ORDER BY s.commune, s.code",
			 &a, school_row, &c, NULL);
}

int pg_school_get_scoped(struct store *st, const struct store_scope *sc,
			 const char *code, struct store_school *out)
{
	struct pg_args a = {0};
	long long rows = 0;
	scope_args(&a, sc);
	pg_arg_text(&a, code);
	int rc = ADMIN_RUN(pg_impl(st),
			   STORE_SQL_SCHOOL_SELECT " WHERE " SCOPE_OF("s.commune", "s.code")
			   " AND s.code = $3",
			   &a, school_one, out, &rows);
	return rc != 0 ? rc : rows > 0 ? 0 : -ENOENT;
}

int pg_agent_list_scoped(struct store *st, const struct store_scope *sc,
			 const char *school,
			 void (*cb)(void *, const struct store_agent *),
			 void *arg)
{
	struct agent_cb c = {cb, arg};
	struct pg_args a = {0};
	scope_args(&a, sc);
	pg_arg_text(&a, school);
	return ADMIN_RUN(pg_impl(st),
			 AGENT_SCOPED_SELECT " AND ($3::text IS NULL OR"
			 " a.school = $3) ORDER BY a.school, a.hostname",
			 &a, agent_row, &c, NULL);
}

static void copy_agent(void *arg, const struct store_agent *a)
{
	*(struct store_agent *)arg = *a;
}

int pg_agent_get_scoped(struct store *st, const struct store_scope *sc,
			const char *id, struct store_agent *out)
{
	struct agent_cb c = {copy_agent, out};
	struct pg_args a = {0};
	long long rows = 0;
	scope_args(&a, sc);
	pg_arg_text(&a, id);
	int rc = ADMIN_RUN(pg_impl(st), AGENT_SCOPED_SELECT " AND a.id = $3",
			   &a, agent_row, &c, &rows);
	return rc != 0 ? rc : rows > 0 ? 0 : -ENOENT;
}

int pg_alert_list_scoped(struct store *st, const struct store_scope *sc,
			 const char *state, const char *school,
			 uint64_t before_id, int limit,
			 void (*cb)(void *, const struct store_alert *),
			 void *arg)
{
	struct pg_args a = {0};
	scope_args(&a, sc);
	pg_arg_text(&a, state);
	pg_arg_text(&a, school);
	pg_arg_int(&a, (long long)before_id);
	pg_arg_int(&a, limit);
	return list_alerts(pg_impl(st), __func__,
			   "SELECT " STORE_SQL_ALERT_COLS STORE_SQL_ALERT_JOINS
			   " WHERE " SCOPE_OF("c.commune", "a.school")
			   " AND ($3::text IS NULL OR a.state = $3) AND"
			   " ($4::text IS NULL OR a.school = $4) AND"
			   " ($5::bigint = 0 OR a.id < $5)"
			   " ORDER BY a.id DESC LIMIT $6",
			   &a, cb, arg);
}

static int read_severity_bands(void *arg, const PGresult *res, int row)
{
	long long *by_sev = arg;
	for (int i = 0; i < 3; i++)
		by_sev[i] = pg_int(res, row, i);
	return 1;
}

int pg_alert_open_counts_scoped(struct store *st,
				const struct store_scope *sc,
				long long by_sev[3])
{
	struct pg_args a = {0};
	long long rows = 0;
	by_sev[0] = by_sev[1] = by_sev[2] = 0;
	scope_args(&a, sc);
	/* Grouped by school first, so the scope's join to schools is one
	 * lookup per school, not per alert. */
	int rc = ADMIN_RUN(pg_impl(st),
			   "SELECT coalesce(sum(x.low), 0), coalesce(sum(x.mid), 0),"
			   " coalesce(sum(x.high), 0) FROM (SELECT a.school AS school,"
			   " count(*) FILTER (WHERE a.severity < 4) AS low,"
			   " count(*) FILTER (WHERE a.severity BETWEEN 4 AND 6) AS mid,"
			   " count(*) FILTER (WHERE a.severity >= 7) AS high"
			   " FROM alerts a WHERE a.state = 'open' GROUP BY a.school) x"
			   " LEFT JOIN schools c ON c.code = x.school WHERE "
			   SCOPE_OF("c.commune", "x.school"),
			   &a, read_severity_bands, by_sev, &rows);
	return rc != 0 ? rc : rows > 0 ? 0 : -EIO;
}

struct volume_cb {
	void (*cb)(void *, const struct store_alert_volume *);
	void *arg;
};

static int volume_row(void *arg, const PGresult *q, int r)
{
	struct volume_cb *c = arg;
	struct store_alert_volume v;
	store_day_name(pg_int(q, r, 0), v.day);
	pg_text(v.kind, sizeof(v.kind), q, r, 1);
	v.count = pg_int(q, r, 2);
	c->cb(c->arg, &v);
	return 0;
}

int pg_alert_volume_scoped(struct store *st, const struct store_scope *sc,
			   int64_t from_us,
			   void (*cb)(void *, const struct store_alert_volume *),
			   void *arg)
{
	struct pg_args a = {0};
	struct volume_cb c = {cb, arg};
	scope_args(&a, sc);
	pg_arg_int(&a, from_us);
	/* The same statement as SQLite's (store_sqlite_stmt.c). */
	return ADMIN_RUN(pg_impl(st),
			 "SELECT (a.first / 1000000 + 25200) / 86400 AS day,"
			 " a.kind, count(*) FROM alerts a WHERE a.first >= $3"
			 " AND ($1::int = 0 OR a.school IN (SELECT c.code FROM"
			 " schools c WHERE ($1 = 1 AND c.commune = $2::text) OR"
			 " ($1 = 2 AND c.code = $2))) GROUP BY 1, 2 ORDER BY 1, 2",
			 &a, volume_row, &c, NULL);
}

int pg_alert_set_state_scoped(struct store *st, const struct store_scope *sc,
			      uint64_t id, const char *state, const char *who)
{
	struct pg_args a = {0};
	long long n = 0;
	scope_args(&a, sc);
	pg_arg_int(&a, (long long)id);
	int rc = ADMIN_RUN(pg_impl(st),
			   "SELECT count(*) FROM alerts a LEFT JOIN schools c"
			   " ON c.code = a.school WHERE "
			   SCOPE_OF("c.commune", "a.school") " AND a.id = $3",
			   &a, read_count, &n, NULL);
	if (rc != 0)
		return rc;
	/* An alert's school never changes: the check holds for the write. */
	if (n == 0)
		return -ENOENT;
	return pg_alert_set_state(st, id, state, who);
}

/* ---- the SOC page: one destination's queue within a scope ---------------- */

static int forward_figures(void *arg, const PGresult *q, int r)
{
	struct store_forward_status *o = arg;
	o->pending = pg_int(q, r, 0);
	o->oldest_pending_us = pg_int(q, r, 1);
	o->dead_letters = pg_int(q, r, 2);
	return 1;
}

static int forward_delivered(void *arg, const PGresult *q, int r)
{
	struct store_forward_status *o = arg;
	o->last_delivered = (uint64_t)pg_int(q, r, 0);
	o->last_delivered_us = pg_int(q, r, 1);
	return 1;
}

static int forward_last_error(void *arg, const PGresult *q, int r)
{
	struct store_forward_status *o = arg;
	o->last_error_status = (int)pg_int(q, r, 3);
	pg_text(o->last_error, sizeof(o->last_error), q, r, 4);
	o->last_error_us = pg_int(q, r, 5);
	return 1;
}

/* $3 is the destination; dest's dead letters whose alert is gone count
 * as the province's. */
#define DEAD_LETTER_SCOPED_SELECT                                          \
	"SELECT d.id, d.dest, d.alert, d.status, d.reason, d.at,"           \
	" coalesce(a.rule, ''), coalesce(a.agent, '') FROM dead_letters d"  \
	" LEFT JOIN alerts a ON a.id = d.alert"                              \
	" LEFT JOIN schools c ON c.code = a.school WHERE d.dest = $3"        \
	" AND ($1::int = 0 OR " SCOPE_OF("c.commune", "a.school") ")"        \
	" ORDER BY d.id DESC LIMIT $4"

/* The same figures as SQLite's statements (store_sqlite_stmt.c), read in
 * one snapshot so that they agree with each other while another
 * collector moves the queue. */
int pg_forward_status_scoped(struct store *st, const struct store_scope *sc,
			     const char *dest, struct store_forward_status *out)
{
	struct pg_store *s = pg_impl(st);
	struct pg_args a = {0};
	long long rows = 0;
	memset(out, 0, sizeof(*out));
	scope_args(&a, sc);
	pg_arg_text(&a, dest);
	PG_ENTER(s);
	int rc = pg_exec(&s->admin, "BEGIN ISOLATION LEVEL REPEATABLE READ"
				    " READ ONLY");
	if (rc == 0)
		rc = pg_run(&s->admin,
			    "SELECT (SELECT count(*) FROM forward_queue q"
			    "  JOIN alerts a ON a.id = q.alert"
			    "  LEFT JOIN schools c ON c.code = a.school"
			    "  WHERE q.dest = $3 AND "
			    SCOPE_OF("c.commune", "a.school") "),"
			    " (SELECT coalesce(min(a.first), 0) FROM"
			    "  forward_queue q JOIN alerts a ON a.id = q.alert"
			    "  LEFT JOIN schools c ON c.code = a.school"
			    "  WHERE q.dest = $3 AND "
			    SCOPE_OF("c.commune", "a.school") "),"
			    " (SELECT count(*) FROM dead_letters d"
			    "  LEFT JOIN alerts a ON a.id = d.alert"
			    "  LEFT JOIN schools c ON c.code = a.school"
			    "  WHERE d.dest = $3 AND ($1::int = 0 OR "
			    SCOPE_OF("c.commune", "a.school") "))",
			    &a, forward_figures, out, &rows);
	if (rc == 0 && rows == 0)
		rc = -EIO;
	/* Everything below dest's oldest waiting alert has left the queue
	 * (forward_done takes alerts off in id order): the newest of those
	 * in scope without a dead letter was delivered, at the recorded
	 * time (the alert's last time for one delivered before deliveries
	 * were recorded). */
	if (rc == 0)
		rc = pg_run(&s->admin,
			    "SELECT a.id, coalesce((SELECT fd.delivered FROM"
			    " forward_deliveries fd WHERE fd.alert = a.id AND"
			    " fd.dest = $3), a.last) FROM alerts a"
			    " LEFT JOIN schools c ON c.code = a.school WHERE "
			    SCOPE_OF("c.commune", "a.school")
			    " AND a.id < coalesce((SELECT min(alert) FROM"
			    "  forward_queue WHERE dest = $3),"
			    "  9223372036854775807)"
			    " AND NOT EXISTS (SELECT 1 FROM dead_letters d"
			    "  WHERE d.dest = $3 AND d.alert = a.id)"
			    " ORDER BY a.id DESC LIMIT 1",
			    &a, forward_delivered, out, NULL);
	if (rc == 0) {
		pg_arg_int(&a, 1);
		rc = pg_run(&s->admin, DEAD_LETTER_SCOPED_SELECT, &a,
			    forward_last_error, out, NULL);
	}
	rc = pg_end(&s->admin, rc);
	pg_leave(s);
	return rc;
}

int pg_dead_letter_list_scoped(
	struct store *st, const struct store_scope *sc, const char *dest,
	int limit, void (*cb)(void *, const struct store_dead_letter *),
	void *arg)
{
	struct dead_letter_cb c = {cb, arg};
	struct pg_args a = {0};
	scope_args(&a, sc);
	pg_arg_text(&a, dest);
	pg_arg_int(&a, limit);
	return ADMIN_RUN(pg_impl(st), DEAD_LETTER_SCOPED_SELECT, &a,
			 dead_letter_row, &c, NULL);
}

/* ---- scheduled work across collectors ------------------------------------- */

/* The first key of every job's advisory lock ("ewjb" in ASCII), the
 * second the hash of its name: apart from the schema's and the
 * partitions' locks, which take one bigint key. */
#define JOB_LOCK_SPACE "1702324834"

/* A session lock, not a transaction's: it stays with the admin
 * connection between runs, so the collector that took a job keeps it
 * (one collector sweeps every minute, not whichever asks first), and the
 * server frees it when that connection ends: a collector killed or cut
 * off hands the job to the next one that asks. Taking a lock this
 * session holds only counts it again; it is never released by hand. */
int pg_lead(struct store *st, const char *job, bool *leading)
{
	struct pg_args a = {0};
	*leading = false;
	pg_arg_text(&a, job);
	return ADMIN_RUN(pg_impl(st),
			 "SELECT pg_try_advisory_lock(" JOB_LOCK_SPACE
			 ", hashtext($1))::int",
			 &a, read_flag, leading, NULL);
}
