/* store_sqlite_query: the store's synchronous calls on the admin
 * connection, each one sq_run() (or a transaction of a few) under the
 * admin lock, and alerts, which the writer raises too. */
#include "collector/store_sqlite.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"

/* ---- alerts --------------------------------------------------------------- */

struct alert_found {
	int64_t id, last;
};

static int read_found(void *arg, sqlite3_stmt *row)
{
	struct alert_found *f = arg;
	f->id = sqlite3_column_int64(row, 0);
	f->last = sqlite3_column_int64(row, 1);
	return 1;
}

int sqlite_write_alert(struct sqlite_store *s, struct sq_conn *c,
		       const struct store_alert *a, int64_t now, bool *created)
{
	struct alert_found f = {0};
	struct sq_done done;
	int rc;
	*created = false;
	rc = sq_run(c, SQ_ALERT_FIND, SQ_ARGS(SQ_TEXT(a->dedupe_key)),
		    read_found, &f, NULL);
	if (rc != 0)
		return rc;
	if (f.id != 0 && now - f.last < a->suppress_s * 1000000LL)
		return sq_run(c, SQ_ALERT_FOLD,
			      SQ_ARGS(SQ_INT(now), SQ_INT(a->severity),
				      SQ_INT(f.id)),
			      NULL, NULL, NULL);
	rc = sq_run(c, SQ_ALERT_INSERT,
		    SQ_ARGS(SQ_TEXT(a->rule), SQ_TEXT(a->title),
			    SQ_TEXT(a->category), SQ_TEXT(a->kind),
			    SQ_TEXT(a->dedupe_key), SQ_TEXT(a->agent),
			    SQ_TEXT(a->school), SQ_INT(a->severity),
			    SQ_INT(a->drill), SQ_INT(now),
			    SQ_TEXT(a->evidence[0] ? a->evidence : "{}"),
			    SQ_TEXT(a->src_ip), SQ_TEXT(a->file_path),
			    SQ_TEXT(a->file_hash)),
		    NULL, NULL, &done);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < s->opts.nforward_dests; i++) {
		rc = sq_run(c, SQ_FORWARD_QUEUE,
			    SQ_ARGS(SQ_TEXT(s->opts.forward_dests[i]),
				    SQ_INT(done.rowid)),
			    NULL, NULL, NULL);
		if (rc == 0)
			rc = sq_run(c, SQ_DELIVERY_QUEUED,
				    SQ_ARGS(SQ_TEXT(s->opts.forward_dests[i]),
					    SQ_INT(done.rowid), SQ_INT(now)),
				    NULL, NULL, NULL);
		if (rc != 0)
			return rc;
	}
	*created = true;
	return 0;
}

struct alert_sink {
	struct sqlite_store *s;
	struct sq_conn *c;
	int64_t now;
};

static int sink_alert(void *arg, const struct store_alert *a)
{
	struct alert_sink *k = arg;
	bool created;
	return sqlite_write_alert(k->s, k->c, a, k->now, &created);
}

int sqlite_raise_alerts(struct sqlite_store *s, struct sq_conn *c,
			const struct event *ev, int64_t now)
{
	struct alert_sink k = {s, c, now};
	return store_raise_alerts(&s->opts, ev, sink_alert, &k);
}

/* ---- one statement under the lock ---------------------------------------- */

static int read_count(void *arg, sqlite3_stmt *row)
{
	*(long long *)arg = sqlite3_column_int64(row, 0);
	return 1;
}

/* ---- schools ---------------------------------------------------------------- */

int sqlite_school_add(struct store *st, const struct store_school *sc)
{
	return ADMIN_RUN(sqlite_impl(st), SQ_SCHOOL_ADD,
			 SQ_ARGS(SQ_TEXT(sc->code), SQ_TEXT(sc->name),
				 SQ_TEXT(sc->commune), SQ_INT(sc->level),
				 SQ_INT(sc->expected_pcs),
				 SQ_INT(store_now_us())),
			 NULL, NULL, NULL);
}

static void read_school(sqlite3_stmt *q, struct store_school *out)
{
	sq_copy_text(out->code, sizeof(out->code), q, 0);
	sq_copy_text(out->name, sizeof(out->name), q, 1);
	sq_copy_text(out->commune, sizeof(out->commune), q, 2);
	out->level = sqlite3_column_int(q, 3);
	out->expected_pcs = sqlite3_column_int(q, 4);
	out->enrolled_pcs = sqlite3_column_int(q, 5);
}

static int school_one(void *arg, sqlite3_stmt *row)
{
	read_school(row, arg);
	return 1;
}

int sqlite_school_get(struct store *st, const char *code,
		      struct store_school *out)
{
	struct sq_done done;
	int rc = ADMIN_RUN(sqlite_impl(st), SQ_SCHOOL_GET,
			   SQ_ARGS(SQ_TEXT(code)), school_one, out, &done);
	return rc != 0 ? rc : done.rows > 0 ? 0 : -ENOENT;
}

struct school_cb {
	void (*cb)(void *, const struct store_school *);
	void *arg;
};

static int school_row(void *arg, sqlite3_stmt *row)
{
	struct school_cb *c = arg;
	struct store_school sc;
	read_school(row, &sc);
	c->cb(c->arg, &sc);
	return 0;
}

int sqlite_school_list(struct store *st,
		       void (*cb)(void *, const struct store_school *),
		       void *arg)
{
	struct school_cb c = {cb, arg};
	return ADMIN_RUN(sqlite_impl(st), SQ_SCHOOL_LIST, SQ_NO_ARGS,
			 school_row, &c, NULL);
}

/* ---- tokens ------------------------------------------------------------------ */

int sqlite_token_add(struct store *st, const unsigned char hash[32],
		     const char *school, int uses, int64_t expires_us)
{
	struct sqlite_store *s = sqlite_impl(st);
	struct sq_hold h;
	SQ_ENTER(s, &h);
	int rc = sq_run(&s->admin, SQ_TOKEN_ADD,
			SQ_ARGS(SQ_BLOB(hash, 32), SQ_TEXT(school),
				SQ_INT(uses), SQ_INT(expires_us),
				SQ_INT(store_now_us())),
			NULL, NULL, NULL);
	/* The only constraint a new random hash can break: no such school. */
	if (rc == -EIO && (s->admin.last_code & 0xff) == SQLITE_CONSTRAINT)
		rc = -ENOENT;
	sq_admin_leave(s, &h);
	return rc;
}

struct token_row {
	enum store_token_result *result;
	char *school;
};

static int read_token(void *arg, sqlite3_stmt *row)
{
	struct token_row *t = arg;
	sq_copy_text(t->school, STORE_CODE_MAX + 1, row, 0);
	if (sqlite3_column_int(row, 1) <= 0)
		*t->result = STORE_TOKEN_USED;
	else if (sqlite3_column_int64(row, 2) < store_now_us())
		*t->result = STORE_TOKEN_EXPIRED;
	else
		*t->result = STORE_TOKEN_OK;
	return 1;
}

int sqlite_token_consume(struct store *st, const unsigned char hash[32],
			 enum store_token_result *result, char *school)
{
	struct sqlite_store *s = sqlite_impl(st);
	struct token_row t = {result, school};
	struct sq_hold h;
	*result = STORE_TOKEN_UNKNOWN;
	SQ_ENTER(s, &h);
	/* Check and decrement in one write transaction, so two agents
	 * racing for the last use cannot both win. */
	int rc = sq_run(&s->admin, SQ_BEGIN, SQ_NO_ARGS, NULL, NULL, NULL);
	if (rc == 0)
		rc = sq_run(&s->admin, SQ_TOKEN_FIND,
			    SQ_ARGS(SQ_BLOB(hash, 32)), read_token, &t, NULL);
	if (rc == 0 && *result == STORE_TOKEN_OK)
		rc = sq_run(&s->admin, SQ_TOKEN_USE,
			    SQ_ARGS(SQ_BLOB(hash, 32)), NULL, NULL, NULL);
	rc = sq_admin_end(s, rc);
	sq_admin_leave(s, &h);
	return rc;
}

/* ---- agents -------------------------------------------------------------------- */

int sqlite_agent_add(struct store *st, const char *id, const char *school,
		     const char *hostname, const char *cert_sha256)
{
	return ADMIN_RUN(sqlite_impl(st), SQ_AGENT_ADD,
			 SQ_ARGS(SQ_TEXT(id), SQ_TEXT(school),
				 SQ_TEXT(hostname), SQ_TEXT(cert_sha256),
				 SQ_INT(store_now_us())),
			 NULL, NULL, NULL);
}

int sqlite_agent_revoke(struct store *st, const char *id)
{
	struct sq_done done;
	int rc = ADMIN_RUN(sqlite_impl(st), SQ_AGENT_REVOKE,
			   SQ_ARGS(SQ_TEXT(id), SQ_INT(store_now_us())), NULL,
			   NULL, &done);
	return rc != 0 ? rc : done.changes == 0 ? -ENOENT : 0;
}

static int read_allowed(void *arg, sqlite3_stmt *row)
{
	*(bool *)arg = sqlite3_column_int(row, 0) != 0;
	return 1;
}

/* Runs on every TLS handshake: its statement is prepared once. */
int sqlite_agent_allowed(struct store *st, const char *id, bool *allowed)
{
	*allowed = false;
	return ADMIN_RUN(sqlite_impl(st), SQ_AGENT_ALLOWED,
			 SQ_ARGS(SQ_TEXT(id)), read_allowed, allowed, NULL);
}

struct agent_time_cb {
	void (*cb)(void *, const char *, int64_t);
	void *arg;
};

static int agent_time_row(void *arg, sqlite3_stmt *row)
{
	struct agent_time_cb *c = arg;
	char id[EVENT_AGENT_MAX + 1];
	sq_copy_text(id, sizeof(id), row, 0);
	c->cb(c->arg, id, sqlite3_column_int64(row, 1));
	return 0;
}

int sqlite_agents_revoked_since(struct store *st, int64_t since_us,
				void (*cb)(void *, const char *, int64_t),
				void *arg)
{
	struct agent_time_cb c = {cb, arg};
	return ADMIN_RUN(sqlite_impl(st), SQ_AGENTS_REVOKED_SINCE,
			 SQ_ARGS(SQ_INT(since_us)), agent_time_row, &c, NULL);
}

int sqlite_agents_silent(struct store *st, int64_t before_us,
			 void (*cb)(void *, const char *, int64_t), void *arg)
{
	struct agent_time_cb c = {cb, arg};
	return ADMIN_RUN(sqlite_impl(st), SQ_AGENTS_SILENT,
			 SQ_ARGS(SQ_INT(before_us)), agent_time_row, &c, NULL);
}

struct agent_cb {
	void (*cb)(void *, const struct store_agent *);
	void *arg;
};

static int agent_row(void *arg, sqlite3_stmt *q)
{
	struct agent_cb *c = arg;
	struct store_agent a;
	sq_copy_text(a.id, sizeof(a.id), q, 0);
	sq_copy_text(a.school, sizeof(a.school), q, 1);
	sq_copy_text(a.hostname, sizeof(a.hostname), q, 2);
	a.enrolled_us = sqlite3_column_int64(q, 3);
	a.last_seen_us = sqlite3_column_int64(q, 4);
	a.revoked = sqlite3_column_int(q, 5) != 0;
	a.events = sqlite3_column_int64(q, 6);
	a.clamped = sqlite3_column_int64(q, 7);
	c->cb(c->arg, &a);
	return 0;
}

int sqlite_agent_list(struct store *st, const char *school,
		      void (*cb)(void *, const struct store_agent *),
		      void *arg)
{
	struct agent_cb c = {cb, arg};
	return ADMIN_RUN(sqlite_impl(st), SQ_AGENT_LIST,
			 SQ_ARGS(SQ_TEXT(school)), agent_row, &c, NULL);
}

/* ---- events ------------------------------------------------------------------- */

int sqlite_count_events(struct store *st, const char *agent, uint64_t boot,
			long long *count)
{
	struct sq_done done;
	*count = 0;
	int rc = ADMIN_RUN(sqlite_impl(st), SQ_EVENTS_COUNT,
			   SQ_ARGS(SQ_TEXT(agent), SQ_INT(boot)), read_count,
			   count, &done);
	return rc != 0 ? rc : done.rows > 0 ? 0 : -EIO;
}

struct event_cb {
	void (*cb)(void *, const struct store_event_row *);
	void *arg;
};

static int event_row(void *arg, sqlite3_stmt *q)
{
	struct event_cb *c = arg;
	struct store_event_row r = {.ev = {.v = EVENT_VERSION}};
	sq_copy_text(r.ev.agent, sizeof(r.ev.agent), q, 0);
	r.ev.boot = (uint64_t)sqlite3_column_int64(q, 1);
	r.ev.seq = (uint64_t)sqlite3_column_int64(q, 2);
	r.ev.ts = (uint64_t)sqlite3_column_int64(q, 3);
	sq_copy_text(r.ev.kind, sizeof(r.ev.kind), q, 4);
	r.ev.sev = (uint8_t)sqlite3_column_int(q, 5);
	r.ev.drill = sqlite3_column_int(q, 6) != 0;
	r.ev.body = (char *)sqlite3_column_blob(q, 7);
	r.ev.body_len = (size_t)sqlite3_column_bytes(q, 7);
	r.received_us = sqlite3_column_int64(q, 8);
	r.agent_ts_us = sqlite3_column_int64(q, 9);
	c->cb(c->arg, &r);
	return 0;
}

int sqlite_recent_events(struct store *st, const char *agent, int limit,
			 void (*cb)(void *, const struct store_event_row *),
			 void *arg)
{
	struct event_cb c = {cb, arg};
	return ADMIN_RUN(sqlite_impl(st), SQ_EVENTS_RECENT,
			 SQ_ARGS(SQ_TEXT(agent), SQ_INT(limit)), event_row, &c,
			 NULL);
}

/* ---- commands ------------------------------------------------------------------ */

int sqlite_command_add(struct store *st, const char *agent, const char *type,
		       int64_t issued_us, int64_t expires_us, uint64_t *id)
{
	struct sq_done done;
	int rc = ADMIN_RUN(sqlite_impl(st), SQ_COMMAND_ADD,
			   SQ_ARGS(SQ_TEXT(agent), SQ_TEXT(type),
				   SQ_INT(issued_us), SQ_INT(expires_us)),
			   NULL, NULL, &done);
	/* Only the row this call inserted: never another's rowid. */
	*id = rc == 0 ? (uint64_t)done.rowid : 0;
	return rc;
}

int sqlite_command_set_frame(struct store *st, uint64_t id, const char *frame,
			     size_t len)
{
	return ADMIN_RUN(sqlite_impl(st), SQ_COMMAND_SET_FRAME,
			 SQ_ARGS(SQ_INT(id), SQ_BLOB(frame, len)), NULL, NULL,
			 NULL);
}

int sqlite_command_mark_sent(struct store *st, uint64_t id)
{
	return ADMIN_RUN(sqlite_impl(st), SQ_COMMAND_MARK_SENT,
			 SQ_ARGS(SQ_INT(id), SQ_INT(store_now_us())), NULL,
			 NULL, NULL);
}

int sqlite_commands_withdraw(struct store *st, const char *type,
			     int64_t issued_before_us, int64_t now_us,
			     long long *withdrawn)
{
	struct sq_done done = {0};
	int rc = ADMIN_RUN(sqlite_impl(st), SQ_COMMANDS_WITHDRAW,
			   SQ_ARGS(SQ_TEXT(type), SQ_INT(now_us),
				   SQ_INT(issued_before_us)),
			   NULL, NULL, &done);
	*withdrawn = rc == 0 ? done.changes : 0;
	return rc;
}

struct command_cb {
	void (*cb)(void *, uint64_t, const char *, const char *, size_t);
	void *arg;
};

static int command_row(void *arg, sqlite3_stmt *q)
{
	struct command_cb *c = arg;
	char who[EVENT_AGENT_MAX + 1];
	sq_copy_text(who, sizeof(who), q, 1);
	c->cb(c->arg, (uint64_t)sqlite3_column_int64(q, 0), who,
	      sqlite3_column_blob(q, 2), (size_t)sqlite3_column_bytes(q, 2));
	return 0;
}

int sqlite_commands_pending(struct store *st, const char *agent,
			    void (*cb)(void *, uint64_t, const char *,
				       const char *, size_t),
			    void *arg)
{
	struct command_cb c = {cb, arg};
	return ADMIN_RUN(sqlite_impl(st), SQ_COMMANDS_PENDING,
			 SQ_ARGS(SQ_TEXT(agent), SQ_INT(store_now_us())),
			 command_row, &c, NULL);
}

/* ---- host state and snapshots ---------------------------------------------- */

struct host_cb {
	void (*cb)(void *, const struct store_host_row *);
	void *arg;
};

static int host_row(void *arg, sqlite3_stmt *q)
{
	struct host_cb *c = arg;
	struct store_host_row r = {
		.agent = (const char *)sqlite3_column_text(q, 0),
		.school = (const char *)sqlite3_column_text(q, 1),
		.hostname = (const char *)sqlite3_column_text(q, 2),
		.last_seen_us = sqlite3_column_int64(q, 3),
		.kind = (const char *)sqlite3_column_text(q, 4),
		.ts_us = sqlite3_column_int64(q, 5),
		.body = sqlite3_column_blob(q, 6),
		.body_len = (size_t)sqlite3_column_bytes(q, 6),
		.received_us = sqlite3_column_int64(q, 7),
	};
	c->cb(c->arg, &r);
	return 0;
}

int sqlite_host_states(struct store *st, const char *school,
		       void (*cb)(void *, const struct store_host_row *),
		       void *arg)
{
	struct host_cb c = {cb, arg};
	return ADMIN_RUN(sqlite_impl(st), SQ_HOST_STATES,
			 SQ_ARGS(SQ_TEXT(school)), host_row, &c, NULL);
}

int sqlite_snapshot_put(struct store *st, const struct store_snapshot *snap)
{
	return ADMIN_RUN(sqlite_impl(st), SQ_SNAPSHOT_PUT,
			 SQ_ARGS(SQ_TEXT(snap->day), SQ_TEXT(snap->scope),
				 SQ_TEXT(snap->key), SQ_REAL(snap->score),
				 SQ_INT(snap->pcs)),
			 NULL, NULL, NULL);
}

struct snapshot_cb {
	void (*cb)(void *, const struct store_snapshot *);
	void *arg;
};

static int snapshot_row(void *arg, sqlite3_stmt *q)
{
	struct snapshot_cb *c = arg;
	struct store_snapshot sn;
	sq_copy_text(sn.day, sizeof(sn.day), q, 0);
	sq_copy_text(sn.scope, sizeof(sn.scope), q, 1);
	sq_copy_text(sn.key, sizeof(sn.key), q, 2);
	sn.score = sqlite3_column_double(q, 3);
	sn.pcs = sqlite3_column_int(q, 4);
	c->cb(c->arg, &sn);
	return 0;
}

int sqlite_snapshot_list(struct store *st, const char *scope, const char *key,
			 int limit,
			 void (*cb)(void *, const struct store_snapshot *),
			 void *arg)
{
	struct snapshot_cb c = {cb, arg};
	return ADMIN_RUN(sqlite_impl(st), SQ_SNAPSHOT_LIST,
			 SQ_ARGS(SQ_TEXT(scope), SQ_TEXT(key), SQ_INT(limit)),
			 snapshot_row, &c, NULL);
}

/* ---- alerts, synchronous ------------------------------------------------------- */

int sqlite_alert_raise(struct store *st, const struct store_alert *a,
		       bool *created)
{
	struct sqlite_store *s = sqlite_impl(st);
	struct sq_hold h;
	*created = false;
	SQ_ENTER(s, &h);
	int rc = sq_run(&s->admin, SQ_BEGIN, SQ_NO_ARGS, NULL, NULL, NULL);
	if (rc == 0)
		rc = sqlite_write_alert(s, &s->admin, a, store_now_us(),
					created);
	rc = sq_admin_end(s, rc) == 0 ? 0 : -EIO;
	sq_admin_leave(s, &h);
	return rc;
}

struct alert_cb {
	void (*cb)(void *, const struct store_alert *);
	void *arg;
	struct store_alert *a; /* 4 KiB of evidence: on the heap */
};

static int alert_row(void *arg, sqlite3_stmt *q)
{
	struct alert_cb *c = arg;
	struct store_alert *a = c->a;
	memset(a, 0, sizeof(*a));
	a->id = (uint64_t)sqlite3_column_int64(q, 0);
	sq_copy_text(a->rule, sizeof(a->rule), q, 1);
	sq_copy_text(a->title, sizeof(a->title), q, 2);
	sq_copy_text(a->category, sizeof(a->category), q, 3);
	sq_copy_text(a->kind, sizeof(a->kind), q, 4);
	sq_copy_text(a->dedupe_key, sizeof(a->dedupe_key), q, 5);
	sq_copy_text(a->agent, sizeof(a->agent), q, 6);
	sq_copy_text(a->school, sizeof(a->school), q, 7);
	sq_copy_text(a->hostname, sizeof(a->hostname), q, 8);
	sq_copy_text(a->commune, sizeof(a->commune), q, 9);
	a->severity = sqlite3_column_int(q, 10);
	a->drill = sqlite3_column_int(q, 11) != 0;
	a->first_us = sqlite3_column_int64(q, 12);
	a->last_us = sqlite3_column_int64(q, 13);
	a->count = sqlite3_column_int64(q, 14);
	sq_copy_text(a->state, sizeof(a->state), q, 15);
	sq_copy_text(a->ack_by, sizeof(a->ack_by), q, 16);
	a->ack_us = sqlite3_column_int64(q, 17);
	sq_copy_text(a->resolved_by, sizeof(a->resolved_by), q, 18);
	a->resolved_us = sqlite3_column_int64(q, 19);
	sq_copy_text(a->evidence, sizeof(a->evidence), q, 20);
	sq_copy_text(a->src_ip, sizeof(a->src_ip), q, 21);
	sq_copy_text(a->file_path, sizeof(a->file_path), q, 22);
	sq_copy_text(a->file_hash, sizeof(a->file_hash), q, 23);
	/* Only the forwarder's query reads the red-team window. */
	if (sqlite3_column_count(q) > 24)
		a->drill_campaign = (uint64_t)sqlite3_column_int64(q, 24);
	c->cb(c->arg, a);
	return 0;
}

static int list_alerts(struct sqlite_store *s, const char *site,
		       enum sq_id id, const struct sq_arg *args, size_t nargs,
		       void (*cb)(void *, const struct store_alert *),
		       void *arg)
{
	struct alert_cb c = {cb, arg, alloc_bytes(sizeof(struct store_alert))};
	if (c.a == NULL)
		return -ENOMEM;
	int rc = sq_admin_run(s, site, id, args, nargs, alert_row, &c, NULL);
	alloc_free(c.a);
	return rc;
}

int sqlite_alert_list(struct store *st, const char *state, const char *school,
		      int limit, void (*cb)(void *, const struct store_alert *),
		      void *arg)
{
	return list_alerts(sqlite_impl(st), __func__, SQ_ALERT_LIST,
			   SQ_ARGS(SQ_TEXT(state), SQ_TEXT(school),
				   SQ_INT(limit)),
			   cb, arg);
}

int sqlite_forward_next(struct store *st, const char *dest, uint64_t after_id,
			int limit,
			void (*cb)(void *, const struct store_alert *),
			void *arg)
{
	return list_alerts(sqlite_impl(st), __func__, SQ_FORWARD_NEXT,
			   SQ_ARGS(SQ_TEXT(dest), SQ_INT(after_id),
				   SQ_INT(limit)),
			   cb, arg);
}

int sqlite_alert_set_state(struct store *st, uint64_t id, const char *state,
			   const char *who)
{
	struct sqlite_store *s = sqlite_impl(st);
	bool resolve = strcmp(state, "resolved") == 0;
	if (!resolve && strcmp(state, "acknowledged") != 0)
		return -EINVAL;
	struct sq_done done;
	struct sq_hold h;
	long long n = 0;
	SQ_ENTER(s, &h);
	int rc = sq_run(&s->admin, resolve ? SQ_ALERT_RESOLVE : SQ_ALERT_ACK,
			SQ_ARGS(SQ_INT(id), SQ_TEXT(who),
				SQ_INT(store_now_us())),
			NULL, NULL, &done);
	/* Nothing changed: no such alert, or already past that state. */
	if (rc == 0 && done.changes == 0) {
		rc = sq_run(&s->admin, SQ_ALERT_EXISTS, SQ_ARGS(SQ_INT(id)),
			    read_count, &n, NULL);
		if (rc == 0)
			rc = n == 0 ? -ENOENT : -EALREADY;
	}
	sq_admin_leave(s, &h);
	return rc;
}

/* The confirmation is recorded in the transaction that dequeues, so a
 * delivery is never both pending and confirmed, nor lost between. */
int sqlite_forward_done(struct store *st, const char *dest, uint64_t id)
{
	struct sqlite_store *s = sqlite_impl(st);
	struct sq_hold h;
	SQ_ENTER(s, &h);
	int rc = sq_run(&s->admin, SQ_BEGIN, SQ_NO_ARGS, NULL, NULL, NULL);
	if (rc == 0)
		rc = sq_run(&s->admin, SQ_DELIVERY_CONFIRMED,
			    SQ_ARGS(SQ_TEXT(dest), SQ_INT(id),
				    SQ_INT(store_now_us())),
			    NULL, NULL, NULL);
	if (rc == 0)
		rc = sq_run(&s->admin, SQ_FORWARD_DONE,
			    SQ_ARGS(SQ_TEXT(dest), SQ_INT(id)), NULL, NULL,
			    NULL);
	rc = sq_admin_end(s, rc) == 0 ? 0 : -EIO;
	sq_admin_leave(s, &h);
	return rc;
}

struct delivery_cb {
	void (*cb)(void *, const struct store_delivery *);
	void *arg;
};

static int delivery_row(void *arg, sqlite3_stmt *q)
{
	struct delivery_cb *c = arg;
	struct store_delivery d;
	memset(&d, 0, sizeof(d));
	sq_copy_text(d.dest, sizeof(d.dest), q, 0);
	d.alert = (uint64_t)sqlite3_column_int64(q, 1);
	d.queued_us = sqlite3_column_int64(q, 2);
	d.delivered_us = sqlite3_column_int64(q, 3);
	d.dead_us = sqlite3_column_int64(q, 4);
	c->cb(c->arg, &d);
	return 0;
}

int sqlite_forward_deliveries(struct store *st, int64_t from_us,
			      int64_t end_us,
			      void (*cb)(void *, const struct store_delivery *),
			      void *arg)
{
	struct delivery_cb c = {cb, arg};
	return ADMIN_RUN(sqlite_impl(st), SQ_DELIVERY_LIST,
			 SQ_ARGS(SQ_INT(from_us), SQ_INT(end_us)),
			 delivery_row, &c, NULL);
}

int sqlite_forward_depth(struct store *st, const char *dest, long long *n)
{
	struct sq_done done;
	*n = 0;
	int rc = ADMIN_RUN(sqlite_impl(st), SQ_FORWARD_DEPTH,
			   SQ_ARGS(SQ_TEXT(dest)), read_count, n, &done);
	return rc != 0 ? rc : done.rows > 0 ? 0 : -EIO;
}

/* ---- dead letters ---------------------------------------------------------------- */

int sqlite_dead_letter_add(struct store *st,
			   const struct store_dead_letter *dl,
			   const struct event *notice)
{
	struct sqlite_store *s = sqlite_impl(st);
	int64_t now = store_now_us();
	struct sq_hold h;
	SQ_ENTER(s, &h);
	int rc = sq_run(&s->admin, SQ_BEGIN, SQ_NO_ARGS, NULL, NULL, NULL);
	if (rc == 0)
		rc = sq_run(&s->admin, SQ_DEAD_LETTER_ADD,
			    SQ_ARGS(SQ_TEXT(dl->dest), SQ_INT(dl->alert),
				    SQ_INT(dl->status), SQ_TEXT(dl->reason),
				    SQ_INT(now)),
			    NULL, NULL, NULL);
	if (rc == 0)
		rc = sq_run(&s->admin, SQ_DELIVERY_DEAD,
			    SQ_ARGS(SQ_TEXT(dl->dest), SQ_INT(dl->alert),
				    SQ_INT(now)),
			    NULL, NULL, NULL);
	if (rc == 0)
		rc = sq_run(&s->admin, SQ_FORWARD_DROP,
			    SQ_ARGS(SQ_TEXT(dl->dest), SQ_INT(dl->alert)),
			    NULL, NULL, NULL);
	/* The local alert about the refusal, in the same transaction: a
	 * parked alert never goes unannounced. */
	if (rc == 0 && notice)
		rc = sqlite_raise_alerts(s, &s->admin, notice, now);
	rc = sq_admin_end(s, rc) == 0 ? 0 : -EIO;
	sq_admin_leave(s, &h);
	return rc;
}

struct dead_letter_cb {
	void (*cb)(void *, const struct store_dead_letter *);
	void *arg;
};

static int dead_letter_row(void *arg, sqlite3_stmt *q)
{
	struct dead_letter_cb *c = arg;
	struct store_dead_letter dl;
	memset(&dl, 0, sizeof(dl));
	dl.id = (uint64_t)sqlite3_column_int64(q, 0);
	sq_copy_text(dl.dest, sizeof(dl.dest), q, 1);
	dl.alert = (uint64_t)sqlite3_column_int64(q, 2);
	dl.status = sqlite3_column_int(q, 3);
	sq_copy_text(dl.reason, sizeof(dl.reason), q, 4);
	dl.at_us = sqlite3_column_int64(q, 5);
	sq_copy_text(dl.rule, sizeof(dl.rule), q, 6);
	sq_copy_text(dl.agent, sizeof(dl.agent), q, 7);
	c->cb(c->arg, &dl);
	return 0;
}

int sqlite_dead_letter_list(struct store *st, const char *dest, int limit,
			    void (*cb)(void *,
				       const struct store_dead_letter *),
			    void *arg)
{
	struct dead_letter_cb c = {cb, arg};
	return ADMIN_RUN(sqlite_impl(st), SQ_DEAD_LETTER_LIST,
			 SQ_ARGS(SQ_TEXT(dest), SQ_INT(limit)),
			 dead_letter_row, &c, NULL);
}

int sqlite_dead_letter_count(struct store *st, const char *dest,
			     long long *n)
{
	struct sq_done done;
	*n = 0;
	int rc = ADMIN_RUN(sqlite_impl(st), SQ_DEAD_LETTER_COUNT,
			   SQ_ARGS(SQ_TEXT(dest)), read_count, n, &done);
	return rc != 0 ? rc : done.rows > 0 ? 0 : -EIO;
}

/* ---- the console: reads within an officer's scope ------------------------ */

#define SCOPE_ARGS(sc) SQ_INT((sc)->kind), SQ_TEXT((sc)->value)

int sqlite_school_list_scoped(struct store *st, const struct store_scope *sc,
			      void (*cb)(void *, const struct store_school *),
			      void *arg)
{
	struct school_cb c = {cb, arg};
	return ADMIN_RUN(sqlite_impl(st), SQ_SCHOOL_LIST_SCOPED,
			 SQ_ARGS(SCOPE_ARGS(sc)), school_row, &c, NULL);
}

int sqlite_school_get_scoped(struct store *st, const struct store_scope *sc,
			     const char *code, struct store_school *out)
{
	struct sq_done done;
	int rc = ADMIN_RUN(sqlite_impl(st), SQ_SCHOOL_GET_SCOPED,
			   SQ_ARGS(SCOPE_ARGS(sc), SQ_TEXT(code)), school_one,
			   out, &done);
	return rc != 0 ? rc : done.rows > 0 ? 0 : -ENOENT;
}

int sqlite_agent_list_scoped(struct store *st, const struct store_scope *sc,
			     const char *school,
			     void (*cb)(void *, const struct store_agent *),
			     void *arg)
{
	struct agent_cb c = {cb, arg};
	if (school == NULL)
		return ADMIN_RUN(sqlite_impl(st), SQ_AGENT_LIST_SCOPED,
				 SQ_ARGS(SCOPE_ARGS(sc)), agent_row, &c, NULL);
	return ADMIN_RUN(sqlite_impl(st), SQ_AGENT_LIST_SCOPED_SCHOOL,
			 SQ_ARGS(SCOPE_ARGS(sc), SQ_TEXT(school)), agent_row,
			 &c, NULL);
}

static void copy_agent(void *arg, const struct store_agent *a)
{
	*(struct store_agent *)arg = *a;
}

int sqlite_agent_get_scoped(struct store *st, const struct store_scope *sc,
			    const char *id, struct store_agent *out)
{
	struct agent_cb c = {copy_agent, out};
	struct sq_done done;
	int rc = ADMIN_RUN(sqlite_impl(st), SQ_AGENT_GET_SCOPED,
			   SQ_ARGS(SCOPE_ARGS(sc), SQ_TEXT(id)), agent_row, &c,
			   &done);
	return rc != 0 ? rc : done.rows > 0 ? 0 : -ENOENT;
}

int sqlite_alert_list_scoped(struct store *st, const struct store_scope *sc,
			     const char *state, const char *school,
			     uint64_t before_id, int limit,
			     void (*cb)(void *, const struct store_alert *),
			     void *arg)
{
	return list_alerts(sqlite_impl(st), __func__, SQ_ALERT_LIST_SCOPED,
			   SQ_ARGS(SCOPE_ARGS(sc), SQ_TEXT(state),
				   SQ_TEXT(school), SQ_INT(before_id),
				   SQ_INT(limit)),
			   cb, arg);
}

static int read_severity_bands(void *arg, sqlite3_stmt *row)
{
	long long *by_sev = arg;
	for (int i = 0; i < 3; i++)
		by_sev[i] = sqlite3_column_int64(row, i);
	return 1;
}

int sqlite_alert_open_counts_scoped(struct store *st,
				    const struct store_scope *sc,
				    long long by_sev[3])
{
	struct sq_done done;
	by_sev[0] = by_sev[1] = by_sev[2] = 0;
	int rc = ADMIN_RUN(sqlite_impl(st), SQ_ALERT_OPEN_COUNTS_SCOPED,
			   SQ_ARGS(SCOPE_ARGS(sc)), read_severity_bands, by_sev,
			   &done);
	return rc != 0 ? rc : done.rows > 0 ? 0 : -EIO;
}

struct volume_cb {
	void (*cb)(void *, const struct store_alert_volume *);
	void *arg;
};

static int volume_row(void *arg, sqlite3_stmt *q)
{
	struct volume_cb *c = arg;
	struct store_alert_volume v;
	store_day_name(sqlite3_column_int64(q, 0), v.day);
	sq_copy_text(v.kind, sizeof(v.kind), q, 1);
	v.count = sqlite3_column_int64(q, 2);
	c->cb(c->arg, &v);
	return 0;
}

int sqlite_alert_volume_scoped(struct store *st, const struct store_scope *sc,
			       int64_t from_us,
			       void (*cb)(void *,
					  const struct store_alert_volume *),
			       void *arg)
{
	struct volume_cb c = {cb, arg};
	return ADMIN_RUN(sqlite_impl(st), SQ_ALERT_VOLUME_SCOPED,
			 SQ_ARGS(SCOPE_ARGS(sc), SQ_INT(from_us)), volume_row,
			 &c, NULL);
}

static int forward_figures(void *arg, sqlite3_stmt *q)
{
	struct store_forward_status *o = arg;
	o->pending = sqlite3_column_int64(q, 0);
	o->oldest_pending_us = sqlite3_column_int64(q, 1);
	o->dead_letters = sqlite3_column_int64(q, 2);
	return 1;
}

static int forward_delivered(void *arg, sqlite3_stmt *q)
{
	struct store_forward_status *o = arg;
	o->last_delivered = (uint64_t)sqlite3_column_int64(q, 0);
	o->last_delivered_us = sqlite3_column_int64(q, 1);
	return 1;
}

static int forward_last_error(void *arg, sqlite3_stmt *q)
{
	struct store_forward_status *o = arg;
	o->last_error_status = sqlite3_column_int(q, 3);
	sq_copy_text(o->last_error, sizeof(o->last_error), q, 4);
	o->last_error_us = sqlite3_column_int64(q, 5);
	return 1;
}

int sqlite_forward_status_scoped(struct store *st,
				 const struct store_scope *sc, const char *dest,
				 struct store_forward_status *out)
{
	struct sqlite_store *s = sqlite_impl(st);
	struct sq_done done;
	struct sq_hold h;
	int rc;
	memset(out, 0, sizeof(*out));
	/* One read transaction: the three figures agree with each other. */
	SQ_ENTER(s, &h);
	rc = sq_run(&s->admin, SQ_BEGIN_READ, SQ_NO_ARGS, NULL, NULL, NULL);
	if (rc == 0)
		rc = sq_run(&s->admin, SQ_FORWARD_STATUS_SCOPED,
			    SQ_ARGS(SCOPE_ARGS(sc), SQ_TEXT(dest)),
			    forward_figures, out, &done);
	if (rc == 0 && done.rows == 0)
		rc = -EIO;
	if (rc == 0)
		rc = sq_run(&s->admin, SQ_FORWARD_DELIVERED_SCOPED,
			    SQ_ARGS(SCOPE_ARGS(sc), SQ_TEXT(dest)),
			    forward_delivered, out, NULL);
	if (rc == 0)
		rc = sq_run(&s->admin, SQ_DEAD_LETTER_LIST_SCOPED,
			    SQ_ARGS(SCOPE_ARGS(sc), SQ_TEXT(dest), SQ_INT(1)),
			    forward_last_error, out, NULL);
	rc = sq_admin_end(s, rc);
	sq_admin_leave(s, &h);
	return rc;
}

int sqlite_dead_letter_list_scoped(
	struct store *st, const struct store_scope *sc, const char *dest,
	int limit, void (*cb)(void *, const struct store_dead_letter *),
	void *arg)
{
	struct dead_letter_cb c = {cb, arg};
	return ADMIN_RUN(sqlite_impl(st), SQ_DEAD_LETTER_LIST_SCOPED,
			 SQ_ARGS(SCOPE_ARGS(sc), SQ_TEXT(dest), SQ_INT(limit)),
			 dead_letter_row, &c, NULL);
}

int sqlite_alert_set_state_scoped(struct store *st,
				  const struct store_scope *sc, uint64_t id,
				  const char *state, const char *who)
{
	long long n = 0;
	int rc = ADMIN_RUN(sqlite_impl(st), SQ_ALERT_IN_SCOPE,
			   SQ_ARGS(SCOPE_ARGS(sc), SQ_INT(id)), read_count, &n,
			   NULL);
	if (rc != 0)
		return rc;
	/* An alert's school never changes, so the check holds for the
	 * write that follows. */
	if (n == 0)
		return -ENOENT;
	return sqlite_alert_set_state(st, id, state, who);
}
