/* store_pg: the PostgreSQL store backend (libpq), picked by a
 * "postgresql://..." store.url. Used only through collector/store.h; this
 * header is shared by the backend's own files:
 *
 *   store_pg.c          setup: the connections, the schema and its
 *                       migrations, open and close, the one query helper
 *                       and the lock;
 *   store_pg_writer.c   the writer thread: batches of events in one
 *                       transaction each, alerts and forward rows in it,
 *                       monthly partitions and retention;
 *   store_pg_query.c    the synchronous calls;
 *   store_pg_officers.c the console's accounts, sessions, API tokens and
 *                       audit log, and the register of systems;
 *   store_pg_report.c   the daily history and reports;
 *   store_pg_drill.c    drill campaigns and their targets, releases;
 *   store_pg_redteam.c  red-team windows: their actions and alerts;
 *   store_pg_ops.c      the ops table.
 *
 * Several collectors may share one database: nothing here assumes it is
 * the only writer (see docs/DECISIONS.md, "PostgreSQL backend"). */
#ifndef EDUWATCH_STORE_PG_H
#define EDUWATCH_STORE_PG_H

#include "common/check.h"

#include <stdatomic.h>

#include <libpq-fe.h>

#include "collector/store_backend.h"
#include "collector/store_writer.h"

extern const struct store_backend store_pg_backend;

/* ---- one connection and its queries ------------------------------------- */

struct pg_conn {
	PGconn *db;
	char conninfo[1024];
	char sqlstate[6]; /* of the last failed statement, "" if none */
};

#define PG_ARGS_MAX 24

/* A statement's parameters: text, except bytea, which goes binary so that
 * a body is never escaped. A NULL text or bytea is SQL NULL. */
struct pg_args {
	int n;
	const char *v[PG_ARGS_MAX];
	int len[PG_ARGS_MAX];
	int fmt[PG_ARGS_MAX];
	char num[PG_ARGS_MAX][32];
};

void pg_arg_text(struct pg_args *a, const char *s);
void pg_arg_int(struct pg_args *a, long long v);
void pg_arg_real(struct pg_args *a, double v);
void pg_arg_bytea(struct pg_args *a, const void *p, size_t n);

/* Called for each result row; returning non-zero stops (a negative value
 * is the call's error). */
typedef int (*pg_row_fn)(void *arg, const PGresult *res, int row);

/* Runs one statement (reconnecting first if the server went away).
 * Returns 0, -EAGAIN when the server cannot be reached (the caller may
 * retry later), or -EIO with the error logged and c->sqlstate set.
 * *affected (may be NULL) gets the rows changed or returned. */
EW_MUST_CHECK
int pg_run(struct pg_conn *c, const char *sql, const struct pg_args *a,
	   pg_row_fn row, void *arg, long long *affected);
/* Logs a failed statement's error and returns -EAGAIN when the server
 * went away (the connection is dropped, to be opened again), else -EIO. */
int pg_failed(struct pg_conn *c, const PGresult *res, const char *sql);
/* Runs SQL without parameters, several statements allowed. */
EW_MUST_CHECK
int pg_exec(struct pg_conn *c, const char *sql);
/* Ends a transaction: COMMIT when rc is 0, else ROLLBACK. Returns rc, or
 * the COMMIT's error. */
int pg_end(struct pg_conn *c, int rc);
int pg_connect(struct pg_conn *c, char *err, size_t errlen);
void pg_disconnect(struct pg_conn *c);

/* Column readers. */
long long pg_int(const PGresult *res, int row, int col);
double pg_real(const PGresult *res, int row, int col);
void pg_text(char *dst, size_t cap, const PGresult *res, int row, int col);
/* The bytes of a bytea column (freed with PQfreemem), NULL when NULL. */
unsigned char *pg_bytea(const PGresult *res, int row, int col, size_t *len);

/* ---- the backend's state ------------------------------------------------- */

struct pg_store {
	struct store base;
	struct store_options opts;
	char url[1024]; /* the store.url, for log lines (no password) */
	char instance[300]; /* this collector's name in forward-queue claims */

	/* The synchronous calls: one connection under one lock. */
	struct pg_conn admin;
	uv_mutex_t admin_lock;
	atomic_bool admin_held;
	uv_thread_t admin_owner;
	const char *admin_call;

	/* The writer thread and its queue. */
	struct pg_conn writer;
	struct store_writer w;
	int64_t partition_until_us; /* months up to here exist */
	int64_t last_prune_us;
};

static inline struct pg_store *pg_impl(const struct store *st)
{
	return (struct pg_store *)st;
}

/* The admin lock, named after the store_ call that takes it, so that a
 * call back into the store from a row callback aborts naming both. */
void pg_enter(struct pg_store *s, const char *call);
void pg_leave(struct pg_store *s);
#define PG_ENTER(s) pg_enter((s), __func__)
/* One statement on the admin connection under the admin lock, named
 * after the calling store_ function. */
EW_MUST_CHECK
int pg_admin_run(struct pg_store *s, const char *call, const char *sql,
		 const struct pg_args *a, pg_row_fn row, void *arg,
		 long long *affected);
#define PG_ADMIN_RUN(s, ...) pg_admin_run((s), __func__, __VA_ARGS__)

/* An alert on connection c, inside the caller's transaction: folded into
 * the open one with its dedupe key, or a new one queued for every
 * forwarding destination. */
EW_MUST_CHECK
int pg_write_alert(struct pg_store *s, struct pg_conn *c,
		   const struct store_alert *a, int64_t now, bool *created);
/* The alerts ev raises (opts.alert_fn), each opened or folded on c
 * inside its open transaction. */
EW_MUST_CHECK
int pg_raise_alerts(struct pg_store *s, struct pg_conn *c,
		    const struct event *ev, int64_t now);

/* store_pg_writer.c */
void pg_submit(struct store *st, struct store_batch *batch);
size_t pg_backlog(const struct store *st);
int pg_writer_start(struct pg_store *s, uv_loop_t *loop, char *err,
		    size_t errlen);
void pg_writer_stop(struct pg_store *s);
/* What the shared writer thread runs for this backend; released frees
 * the struct pg_store. */
extern const struct store_writer_ops pg_writer_ops;
/* The partition of events for the month `add` months after the one
 * holding now (UTC), named events_yYYYYmMM, unless it exists; the writer
 * keeps them ahead of the clock, `store migrate` makes the past ones. */
EW_MUST_CHECK
int pg_create_partition(struct pg_conn *w, int64_t now, int add);
/* The first microsecond of the month `add` months after the one holding
 * us (UTC); year and month (may be NULL) get that month's. */
int64_t pg_month_start_us(int64_t us, int add, int *year, int *month);

/* store_pg_query.c */
int pg_school_add(struct store *st, const struct store_school *s);
int pg_school_get(struct store *st, const char *code,
		  struct store_school *out);
int pg_school_list(struct store *st,
		   void (*cb)(void *, const struct store_school *), void *arg);
int pg_token_add(struct store *st, const unsigned char hash[32],
		 const char *school, int uses, int64_t expires_us);
int pg_token_consume(struct store *st, const unsigned char hash[32],
		     enum store_token_result *result, char *school);
int pg_agent_add(struct store *st, const char *id, const char *school,
		 const char *hostname, const char *cert_sha256);
int pg_agent_revoke(struct store *st, const char *id);
int pg_agent_allowed(struct store *st, const char *id, bool *allowed);
int pg_agents_revoked_since(struct store *st, int64_t since_us,
			    void (*cb)(void *, const char *, int64_t),
			    void *arg);
int pg_agent_list(struct store *st, const char *school,
		  void (*cb)(void *, const struct store_agent *), void *arg);
int pg_count_events(struct store *st, const char *agent, uint64_t boot,
		    long long *count);
int pg_recent_events(struct store *st, const char *agent, int limit,
		     void (*cb)(void *, const struct store_event_row *),
		     void *arg);
int pg_command_add(struct store *st, const char *agent, const char *type,
		   int64_t issued_us, int64_t expires_us, uint64_t *id);
int pg_command_set_frame(struct store *st, uint64_t id, const char *frame,
			 size_t len);
int pg_commands_pending(struct store *st, const char *agent,
			void (*cb)(void *, uint64_t, const char *,
				   const char *, size_t),
			void *arg);
int pg_command_mark_sent(struct store *st, uint64_t id);
int pg_commands_withdraw(struct store *st, const char *type,
			 int64_t issued_before_us, int64_t now_us,
			 long long *withdrawn);
int pg_host_states(struct store *st, const char *school,
		   void (*cb)(void *, const struct store_host_row *),
		   void *arg);
int pg_snapshot_put(struct store *st, const struct store_snapshot *snap);
int pg_snapshot_list(struct store *st, const char *scope, const char *key,
		     int limit,
		     void (*cb)(void *, const struct store_snapshot *),
		     void *arg);
int pg_alert_raise(struct store *st, const struct store_alert *a,
		   bool *created);
int pg_alert_list(struct store *st, const char *state, const char *school,
		  int limit, void (*cb)(void *, const struct store_alert *),
		  void *arg);
int pg_alert_set_state(struct store *st, uint64_t id, const char *state,
		       const char *who);
int pg_forward_next(struct store *st, const char *dest, uint64_t after_id,
		    int limit, void (*cb)(void *, const struct store_alert *),
		    void *arg);
int pg_forward_done(struct store *st, const char *dest, uint64_t id);
int pg_forward_depth(struct store *st, const char *dest, long long *n);
int pg_forward_deliveries(struct store *st, int64_t from_us, int64_t end_us,
			  void (*cb)(void *, const struct store_delivery *),
			  void *arg);
/* Scheduled work across collectors (store_lead). */
int pg_lead(struct store *st, const char *job, bool *leading);
int pg_agents_silent(struct store *st, int64_t before_us,
		     void (*cb)(void *, const char *, int64_t), void *arg);
int pg_dead_letter_add(struct store *st, const struct store_dead_letter *dl,
		       const struct event *notice);
int pg_dead_letter_list(struct store *st, const char *dest, int limit,
			void (*cb)(void *, const struct store_dead_letter *),
			void *arg);
int pg_dead_letter_count(struct store *st, const char *dest, long long *n);
int pg_school_list_scoped(struct store *st, const struct store_scope *sc,
			  void (*cb)(void *, const struct store_school *),
			  void *arg);
int pg_school_get_scoped(struct store *st, const struct store_scope *sc,
			 const char *code, struct store_school *out);
int pg_agent_list_scoped(struct store *st, const struct store_scope *sc,
			 const char *school,
			 void (*cb)(void *, const struct store_agent *),
			 void *arg);
int pg_agent_get_scoped(struct store *st, const struct store_scope *sc,
			const char *id, struct store_agent *out);
int pg_alert_list_scoped(struct store *st, const struct store_scope *sc,
			 const char *state, const char *school,
			 uint64_t before_id, int limit,
			 void (*cb)(void *, const struct store_alert *),
			 void *arg);
int pg_alert_volume_scoped(struct store *st, const struct store_scope *sc,
			   int64_t from_us,
			   void (*cb)(void *, const struct store_alert_volume *),
			   void *arg);
int pg_alert_open_counts_scoped(struct store *st,
				const struct store_scope *sc,
				long long by_sev[3]);
int pg_alert_set_state_scoped(struct store *st, const struct store_scope *sc,
			      uint64_t id, const char *state, const char *who);

/* store_pg_officers.c */
int pg_user_add(struct store *st, const struct store_user *u);
int pg_user_update(struct store *st, const struct store_user *u);
int pg_user_get(struct store *st, const char *name, struct store_user *out);
int pg_user_list(struct store *st,
		 void (*cb)(void *, const struct store_user *), void *arg);
int pg_user_login_failed(struct store *st, const char *name, int max_failed,
			 bool *locked);
int pg_user_login_ok(struct store *st, const char *name);
int pg_session_add(struct store *st, const unsigned char hash[32],
		   const char *user, int64_t now_us, const char *address);
int pg_session_get(struct store *st, const unsigned char hash[32],
		   char *user, int64_t *created_us, int64_t *last_us);
int pg_session_touch(struct store *st, const unsigned char hash[32],
		     int64_t now_us);
int pg_session_delete(struct store *st, const unsigned char hash[32]);
int pg_session_delete_user(struct store *st, const char *user);
int pg_api_token_add(struct store *st, const unsigned char hash[32],
		     const char *label, const char *user, int64_t now_us);
int pg_api_token_user(struct store *st, const unsigned char hash[32],
		      char *user);
int pg_audit_add(struct store *st, const struct store_audit *a);
int pg_audit_list(struct store *st, uint64_t before_id, int limit,
		  void (*cb)(void *, const struct store_audit *), void *arg);
int pg_system_put(struct store *st, const struct store_system *y,
		  uint64_t *id);
int pg_system_set(struct store *st, const struct store_system *y);
int pg_system_get(struct store *st, uint64_t id, struct store_system *out);
int pg_system_list(struct store *st, const char *unit,
		   void (*cb)(void *, const struct store_system *), void *arg);
int pg_forward_status_scoped(struct store *st, const struct store_scope *sc,
			     const char *dest,
			     struct store_forward_status *out);
int pg_dead_letter_list_scoped(
	struct store *st, const struct store_scope *sc, const char *dest,
	int limit, void (*cb)(void *, const struct store_dead_letter *),
	void *arg);

/* store_pg_report.c */
int pg_day_school_put(struct store *st, const struct store_day_school *d);
int pg_day_host_put(struct store *st, const struct store_day_host *d);
int pg_day_put_all(struct store *st,
		   int (*next)(void *arg, struct store_day_row *row),
		   void *arg);
int pg_day_schools(struct store *st, const char *from, const char *to,
		   void (*cb)(void *, const struct store_day_school *),
		   void *arg);
int pg_day_hosts(struct store *st, const char *day,
		 void (*cb)(void *, const struct store_day_host *), void *arg);
int pg_snapshot_prune(struct store *st, const char *before_day,
		      long long *removed);
int pg_report_draft(struct store *st, const struct store_report *r,
		    uint64_t *id, int *version);
int pg_report_sign(struct store *st, uint64_t id, const char *by,
		   const char *pdf_path, const char *pdf_sha256,
		   const char *model);
int pg_report_list(struct store *st, const char *period, const char *scope,
		   void (*cb)(void *, const struct store_report *), void *arg);
int pg_report_list_scoped(struct store *st, const struct store_scope *sc,
			  uint64_t id,
			  void (*cb)(void *, const struct store_report *),
			  void *arg);

/* store_pg_drill.c */
int pg_drill_add(struct store *st, const struct store_drill *d, uint64_t *id);
int pg_drill_get(struct store *st, const char *name, struct store_drill *out);
int pg_drill_list(struct store *st, int64_t from_us, int64_t end_us,
		  void (*cb)(void *, const struct store_drill *), void *arg);
int pg_drill_transition(struct store *st, uint64_t id, const char *from,
			const char *to, const char *who);
int pg_drill_target_put(struct store *st, const struct store_drill_target *t);
int pg_drill_targets(struct store *st, uint64_t campaign,
		     void (*cb)(void *, const struct store_drill_target *),
		     void *arg);
int pg_drill_all(struct store *st,
		 void (*cb)(void *, const struct store_drill *), void *arg);
int pg_release_put(struct store *st, const struct store_release *r);
int pg_release_list(struct store *st,
		    void (*cb)(void *, const struct store_release *),
		    void *arg);

/* store_pg_redteam.c */
int pg_redteam_actions_add(struct store *st,
			   const struct store_redteam_action *a, size_t n);
int pg_redteam_actions(struct store *st, uint64_t campaign,
		       void (*cb)(void *, const struct store_redteam_action *),
		       void *arg);
int pg_redteam_alerts(struct store *st, uint64_t campaign,
		      void (*cb)(void *, const struct store_redteam_alert *),
		      void *arg);

/* store_pg.c */
int pg_open(const struct store_options *opts, const char *location,
	    uv_loop_t *loop, struct store **out, char *err, size_t errlen);
void pg_close(struct store *st);

#endif
