/* store_sqlite: the embedded store backend (SQLite, WAL, one writer
 * thread that batches inserts; a separate connection for everything
 * else). Used only through collector/store.h; this header is shared by
 * the backend's own files:
 *
 *   store_sqlite.c         setup: open, file modes, schema, migrations,
 *                          close, and the ops table;
 *   store_sqlite_stmt.c    the statement table and the one query helper;
 *   store_sqlite_writer.c  the writer and checkpoint threads;
 *   store_sqlite_query.c   the synchronous calls, and alerts (also
 *                          raised by the writer).
 */
#ifndef EDUWATCH_STORE_SQLITE_H
#define EDUWATCH_STORE_SQLITE_H

#include "common/check.h"

#include <sqlite3.h>

#include "collector/store_backend.h"
#include "collector/store_writer.h"

extern const struct store_backend store_sqlite_backend;

struct sqlite_store;

/* ---- the statement table ------------------------------------------------ */

/* Every statement the backend runs, by name. Its SQL lives in one table
 * (store_sqlite_stmt.c); each connection prepares a statement the first
 * time it runs it, once, with SQLITE_PREPARE_PERSISTENT. */
enum sq_id {
	/* transactions */
	SQ_BEGIN,
	SQ_BEGIN_READ,
	SQ_COMMIT,
	SQ_ROLLBACK,
	/* the writer */
	SQ_EVENT_INSERT,
	SQ_STATE_UPSERT,
	SQ_AGENT_TOUCH,
	SQ_PRUNE_LOW,
	SQ_PRUNE_HIGH,
	/* alerts, on the writer and the admin connection */
	SQ_ALERT_FIND,
	SQ_ALERT_FOLD,
	SQ_ALERT_INSERT,
	SQ_FORWARD_QUEUE,
	/* the synchronous calls */
	SQ_SCHOOL_ADD,
	SQ_SCHOOL_GET,
	SQ_SCHOOL_LIST,
	SQ_TOKEN_ADD,
	SQ_TOKEN_FIND,
	SQ_TOKEN_USE,
	SQ_AGENT_ADD,
	SQ_AGENT_REVOKE,
	SQ_AGENT_ALLOWED,
	SQ_AGENTS_REVOKED_SINCE,
	SQ_AGENTS_SILENT,
	SQ_AGENT_LIST,
	SQ_EVENTS_COUNT,
	SQ_EVENTS_RECENT,
	SQ_COMMAND_ADD,
	SQ_COMMAND_SET_FRAME,
	SQ_COMMAND_MARK_SENT,
	SQ_COMMANDS_WITHDRAW,
	SQ_COMMANDS_PENDING,
	SQ_HOST_STATES,
	SQ_SNAPSHOT_PUT,
	SQ_SNAPSHOT_LIST,
	SQ_ALERT_LIST,
	SQ_FORWARD_NEXT,
	SQ_ALERT_ACK,
	SQ_ALERT_RESOLVE,
	SQ_ALERT_EXISTS,
	SQ_FORWARD_DONE,
	SQ_FORWARD_DEPTH,
	SQ_DEAD_LETTER_ADD,
	SQ_FORWARD_DROP,
	SQ_DELIVERY_QUEUED,
	SQ_DELIVERY_CONFIRMED,
	SQ_DELIVERY_DEAD,
	SQ_DELIVERY_LIST,
	SQ_PRUNE_SNAPSHOTS,
	SQ_PRUNE_DAY_SCHOOL,
	SQ_PRUNE_DAY_HOST,
	SQ_DEAD_LETTER_LIST,
	SQ_DEAD_LETTER_COUNT,
	/* the console: reads filtered by an officer's scope */
	SQ_SCHOOL_LIST_SCOPED,
	SQ_SCHOOL_GET_SCOPED,
	SQ_AGENT_LIST_SCOPED,
	SQ_AGENT_LIST_SCOPED_SCHOOL,
	SQ_AGENT_GET_SCOPED,
	SQ_ALERT_LIST_SCOPED,
	SQ_ALERT_IN_SCOPE,
	SQ_ALERT_OPEN_COUNTS_SCOPED,
	SQ_ALERT_VOLUME_SCOPED,
	SQ_FORWARD_STATUS_SCOPED,
	SQ_DEAD_LETTER_LIST_SCOPED,
	SQ_FORWARD_DELIVERED_SCOPED,
	/* the console: accounts, sessions, tokens, audit */
	SQ_USER_ADD,
	SQ_USER_UPDATE,
	SQ_USER_GET,
	SQ_USER_LIST,
	SQ_USER_FAILED,
	SQ_USER_OK,
	SQ_SESSION_ADD,
	SQ_SESSION_GET,
	SQ_SESSION_TOUCH,
	SQ_SESSION_DELETE,
	SQ_SESSION_DELETE_USER,
	SQ_API_TOKEN_ADD,
	SQ_API_TOKEN_USER,
	SQ_AUDIT_ADD,
	SQ_AUDIT_LIST,
	/* the register, daily history and reports (store_sqlite_report.c) */
	SQ_SYSTEM_PUT,
	SQ_SYSTEM_SET,
	SQ_SYSTEM_GET,
	SQ_SYSTEM_LIST,
	SQ_SCHOOL_LEVEL_SYNC,
	SQ_DAY_SCHOOL_PUT,
	SQ_DAY_HOST_PUT,
	SQ_DAY_SCHOOLS,
	SQ_DAY_HOSTS,
	SQ_REPORT_NEWEST,
	SQ_REPORT_INSERT,
	SQ_REPORT_UPDATE_DRAFT,
	SQ_REPORT_STATE,
	SQ_REPORT_SIGN,
	SQ_REPORT_LIST,
	SQ_REPORT_LIST_SCOPED,
	/* incident drills (store_sqlite_drill.c) */
	SQ_DRILL_ADD,
	SQ_DRILL_GET,
	SQ_DRILL_TRANSITION,
	SQ_DRILL_TARGET_PUT,
	SQ_DRILL_TARGETS,
	SQ_DRILL_LIST,
	/* agent releases (store_sqlite_release.c) */
	SQ_RELEASE_PUT,
	SQ_RELEASE_LIST,
	/* red-team windows (store_sqlite_redteam.c) */
	SQ_DRILL_ALL,
	SQ_REDTEAM_ACTION_ADD,
	SQ_REDTEAM_ACTIONS,
	SQ_REDTEAM_ALERTS,
	SQ_COUNT
};

/* One connection and the statements it has prepared. A connection is used
 * by one thread at a time: the writer's by the writer thread, the admin
 * one under the store's lock (guard, checked on every run). */
struct sq_conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[SQ_COUNT];
	const struct sqlite_store *guard; /* NULL: owned by one thread */
	int last_code; /* SQLite's code for the last failed run */
};

/* Typed arguments: SQ_TEXT(NULL) and SQ_BLOB(NULL, n) bind SQL NULL. The
 * i-th argument binds parameter ?i+1, and a run must bind every parameter
 * its statement has. */
enum sq_type { SQ_T_NULL, SQ_T_INT, SQ_T_REAL, SQ_T_TEXT, SQ_T_BLOB };

struct sq_arg {
	enum sq_type type;
	int64_t i;
	double d;
	const void *p;
	size_t n;
};

#define SQ_NULL ((struct sq_arg){.type = SQ_T_NULL})
#define SQ_INT(x) ((struct sq_arg){.type = SQ_T_INT, .i = (int64_t)(x)})
#define SQ_REAL(x) ((struct sq_arg){.type = SQ_T_REAL, .d = (double)(x)})
#define SQ_TEXT(s) ((struct sq_arg){.type = SQ_T_TEXT, .p = (s)})
#define SQ_BLOB(ptr, len) \
	((struct sq_arg){.type = SQ_T_BLOB, .p = (ptr), .n = (size_t)(len)})
/* An optional integer: NULL when absent. */
#define SQ_INT_OR_NULL(x, present) ((present) ? SQ_INT(x) : SQ_NULL)
/* The argument list of one run: sq_run(c, SQ_X, SQ_ARGS(SQ_INT(1)), ...) */
#define SQ_ARGS(...)                          \
	(const struct sq_arg[]){__VA_ARGS__}, \
		sizeof((const struct sq_arg[]){__VA_ARGS__}) / sizeof(struct sq_arg)
#define SQ_NO_ARGS NULL, 0

/* Called for each row; the row's columns are borrowed until it returns.
 * Returns 0 for the next row, 1 to stop, or a negative errno that the run
 * returns. It runs with the connection's lock held and must not call the
 * store (see store.h's locking contract). */
typedef int (*sq_row_fn)(void *arg, sqlite3_stmt *row);

/* What a run did: rows seen; for a write, the rows it changed and the
 * rowid it inserted (0 unless it succeeded). */
struct sq_done {
	int rows;
	int changes;
	int64_t rowid;
};

/* Prepares (once), binds every argument (each bind checked), steps to the
 * end or until row says stop, and resets. 0, or -EIO when the statement
 * failed (c->last_code has SQLite's code), -EINVAL for arguments that do
 * not fit the statement. done may be NULL. */
EW_MUST_CHECK
int sq_run(struct sq_conn *c, enum sq_id id, const struct sq_arg *args,
	   size_t nargs, sq_row_fn row, void *arg, struct sq_done *done);
/* Prepares a list of statements now (the writer's, so that a bad schema
 * fails at open, not at the first event). */
EW_MUST_CHECK
int sq_prepare(struct sq_conn *c, const enum sq_id *ids, size_t n,
	       char *err, size_t errlen);
/* Finalizes every statement and closes the connection. */
void sq_conn_close(struct sq_conn *c);
/* The statement's name, for messages. */
const char *sq_name(enum sq_id id);
/* Copies a text column, "" for NULL, cut to cap. */
void sq_copy_text(char *dst, size_t cap, sqlite3_stmt *row, int col);

/* ---- the admin connection's lock ----------------------------------------- */

/* The common case: one statement, whole, under the admin lock; site
 * names the store call for the re-entrancy check. */
int sq_admin_run(struct sqlite_store *s, const char *site, enum sq_id id,
		 const struct sq_arg *args, size_t nargs, sq_row_fn row,
		 void *arg, struct sq_done *done);
#define ADMIN_RUN(s, id, ...) sq_admin_run((s), __func__, (id), __VA_ARGS__)
/* Ends the transaction a call began on the admin connection: COMMIT when
 * rc is 0, else ROLLBACK. Returns rc, or -EIO when the COMMIT failed. */
int sq_admin_end(struct sqlite_store *s, int rc);

/* A frame of the calling thread's held admin locks, on its stack. */
struct sq_hold {
	const struct sqlite_store *s;
	const char *site;
	struct sq_hold *up;
};

/* Takes the admin lock for site (the store call, e.g. __func__). When the
 * thread already holds it, that is a call from inside a row callback or
 * the alert function: it aborts with a message naming both calls, since
 * waiting would never end. Always on. */
void sq_admin_enter(struct sqlite_store *s, struct sq_hold *h,
		    const char *site);
void sq_admin_leave(struct sqlite_store *s, struct sq_hold *h);
#define SQ_ENTER(s, h) sq_admin_enter((s), (h), __func__)

/* ---- the backend's state --------------------------------------------------- */

struct sqlite_store {
	struct store base;
	struct store_options opts;
	char path[1024];

	/* The admin connection serves every synchronous call. */
	struct sq_conn admin;
	uv_mutex_t admin_lock;

	/* Writer thread and its queue; the writer connection is its own. */
	struct sq_conn writer;
	struct store_writer w;
	int64_t last_prune_us;

	/* Checkpoints run on a thread of their own: inside the writer's
	 * commit, a checkpoint's fsyncs would hold every ack (and every
	 * alert on its way to the SOC) for up to seconds. */
	sqlite3 *checkpointer;
	uv_thread_t ckpt_thread;
	bool has_ckpt_thread;
	uv_mutex_t ckpt_lock;
	uv_cond_t ckpt_wake;
	bool ckpt_stopping; /* under ckpt_lock */
};

static inline struct sqlite_store *sqlite_impl(const struct store *st)
{
	return (struct sqlite_store *)st;
}

/* setup (store_sqlite.c) */
EW_MUST_CHECK
int sqlite_open_connection(struct sqlite_store *s, sqlite3 **out, char *err,
			   size_t errlen);
/* The schema version this collector's migrations reach. */
int sqlite_schema_latest(void);
EW_MUST_CHECK
int sqlite_exec(sqlite3 *db, const char *sql, char *err, size_t errlen);

/* the "vi" collation (store_sqlite_collate.c): Vietnamese dictionary
 * order, registered on every connection; 0 or -EIO. */
int sqlite_collate_vi(void *arg, int na, const void *a, int nb, const void *b);
EW_MUST_CHECK
int sqlite_collation_register(sqlite3 *db);

/* writer (store_sqlite_writer.c) */
EW_MUST_CHECK
int sqlite_writer_start(struct sqlite_store *s, uv_loop_t *loop, char *err,
			size_t errlen);
void sqlite_writer_stop(struct sqlite_store *s);
/* What the shared writer thread runs for this backend; released frees
 * the struct sqlite_store. */
extern const struct store_writer_ops sqlite_writer_ops;
void sqlite_submit(struct store *st, struct store_batch *batch);
size_t sqlite_backlog(const struct store *st);

/* alerts (store_sqlite_query.c): opens an alert, or folds it into the
 * unresolved one with the same key, on c inside its transaction. */
EW_MUST_CHECK
int sqlite_write_alert(struct sqlite_store *s, struct sq_conn *c,
		       const struct store_alert *a, int64_t now,
		       bool *created);
/* The alerts ev raises (opts.alert_fn), each opened or folded on c
 * inside its open transaction. */
EW_MUST_CHECK
int sqlite_raise_alerts(struct sqlite_store *s, struct sq_conn *c,
			const struct event *ev, int64_t now);

/* the synchronous calls (store_sqlite_query.c) */
EW_MUST_CHECK
int sqlite_school_add(struct store *st, const struct store_school *sc);
EW_MUST_CHECK
int sqlite_school_get(struct store *st, const char *code,
		      struct store_school *out);
EW_MUST_CHECK
int sqlite_school_list(struct store *st,
		       void (*cb)(void *, const struct store_school *),
		       void *arg);
EW_MUST_CHECK
int sqlite_token_add(struct store *st, const unsigned char hash[32],
		     const char *school, int uses, int64_t expires_us);
EW_MUST_CHECK
int sqlite_token_consume(struct store *st, const unsigned char hash[32],
			 enum store_token_result *result, char *school);
EW_MUST_CHECK
int sqlite_agent_add(struct store *st, const char *id, const char *school,
		     const char *hostname, const char *cert_sha256);
EW_MUST_CHECK
int sqlite_agent_revoke(struct store *st, const char *id);
EW_MUST_CHECK
int sqlite_agent_allowed(struct store *st, const char *id, bool *allowed);
EW_MUST_CHECK
int sqlite_agents_revoked_since(struct store *st, int64_t since_us,
				void (*cb)(void *, const char *, int64_t),
				void *arg);
EW_MUST_CHECK
int sqlite_agents_silent(struct store *st, int64_t before_us,
			 void (*cb)(void *, const char *, int64_t), void *arg);
EW_MUST_CHECK
int sqlite_agent_list(struct store *st, const char *school,
		      void (*cb)(void *, const struct store_agent *),
		      void *arg);
EW_MUST_CHECK
int sqlite_count_events(struct store *st, const char *agent, uint64_t boot,
			long long *count);
EW_MUST_CHECK
int sqlite_recent_events(struct store *st, const char *agent, int limit,
			 void (*cb)(void *, const struct store_event_row *),
			 void *arg);
EW_MUST_CHECK
int sqlite_command_add(struct store *st, const char *agent, const char *type,
		       int64_t issued_us, int64_t expires_us, uint64_t *id);
EW_MUST_CHECK
int sqlite_command_set_frame(struct store *st, uint64_t id, const char *frame,
			     size_t len);
EW_MUST_CHECK
int sqlite_command_mark_sent(struct store *st, uint64_t id);
int sqlite_commands_withdraw(struct store *st, const char *type,
			     int64_t issued_before_us, int64_t now_us,
			     long long *withdrawn);
EW_MUST_CHECK
int sqlite_commands_pending(struct store *st, const char *agent,
			    void (*cb)(void *, uint64_t, const char *,
				       const char *, size_t),
			    void *arg);
EW_MUST_CHECK
int sqlite_host_states(struct store *st, const char *school,
		       void (*cb)(void *, const struct store_host_row *),
		       void *arg);
EW_MUST_CHECK
int sqlite_snapshot_put(struct store *st, const struct store_snapshot *snap);
EW_MUST_CHECK
int sqlite_snapshot_list(struct store *st, const char *scope, const char *key,
			 int limit,
			 void (*cb)(void *, const struct store_snapshot *),
			 void *arg);
EW_MUST_CHECK
int sqlite_alert_raise(struct store *st, const struct store_alert *a,
		       bool *created);
EW_MUST_CHECK
int sqlite_alert_list(struct store *st, const char *state, const char *school,
		      int limit, void (*cb)(void *, const struct store_alert *),
		      void *arg);
EW_MUST_CHECK
int sqlite_alert_set_state(struct store *st, uint64_t id, const char *state,
			   const char *who);
EW_MUST_CHECK
int sqlite_forward_next(struct store *st, const char *dest, uint64_t after_id,
			int limit,
			void (*cb)(void *, const struct store_alert *),
			void *arg);
EW_MUST_CHECK
int sqlite_forward_done(struct store *st, const char *dest, uint64_t id);
EW_MUST_CHECK
int sqlite_forward_depth(struct store *st, const char *dest, long long *n);
int sqlite_forward_deliveries(struct store *st, int64_t from_us,
			      int64_t end_us,
			      void (*cb)(void *, const struct store_delivery *),
			      void *arg);
EW_MUST_CHECK
int sqlite_dead_letter_add(struct store *st,
			   const struct store_dead_letter *dl,
			   const struct event *notice);
EW_MUST_CHECK
int sqlite_dead_letter_list(struct store *st, const char *dest, int limit,
			    void (*cb)(void *,
				       const struct store_dead_letter *),
			    void *arg);
EW_MUST_CHECK
int sqlite_dead_letter_count(struct store *st, const char *dest,
			     long long *n);

/* the console (store_sqlite_query.c: scoped reads; store_sqlite_officers.c:
 * accounts, sessions, tokens, audit) */
int sqlite_school_list_scoped(struct store *st, const struct store_scope *sc,
			      void (*cb)(void *, const struct store_school *),
			      void *arg);
int sqlite_school_get_scoped(struct store *st, const struct store_scope *sc,
			     const char *code, struct store_school *out);
int sqlite_agent_list_scoped(struct store *st, const struct store_scope *sc,
			     const char *school,
			     void (*cb)(void *, const struct store_agent *),
			     void *arg);
int sqlite_agent_get_scoped(struct store *st, const struct store_scope *sc,
			    const char *id, struct store_agent *out);
int sqlite_alert_list_scoped(struct store *st, const struct store_scope *sc,
			     const char *state, const char *school,
			     uint64_t before_id, int limit,
			     void (*cb)(void *, const struct store_alert *),
			     void *arg);
int sqlite_alert_volume_scoped(struct store *st, const struct store_scope *sc,
			       int64_t from_us,
			       void (*cb)(void *,
					  const struct store_alert_volume *),
			       void *arg);
int sqlite_alert_open_counts_scoped(struct store *st,
				    const struct store_scope *sc,
				    long long by_sev[3]);
int sqlite_forward_status_scoped(struct store *st,
				 const struct store_scope *sc, const char *dest,
				 struct store_forward_status *out);
int sqlite_dead_letter_list_scoped(
	struct store *st, const struct store_scope *sc, const char *dest,
	int limit, void (*cb)(void *, const struct store_dead_letter *),
	void *arg);
int sqlite_alert_set_state_scoped(struct store *st,
				  const struct store_scope *sc, uint64_t id,
				  const char *state, const char *who);
int sqlite_user_add(struct store *st, const struct store_user *u);
int sqlite_user_update(struct store *st, const struct store_user *u);
int sqlite_user_get(struct store *st, const char *name,
		    struct store_user *out);
int sqlite_user_list(struct store *st,
		     void (*cb)(void *, const struct store_user *), void *arg);
int sqlite_user_login_failed(struct store *st, const char *name,
			     int max_failed, bool *locked);
int sqlite_user_login_ok(struct store *st, const char *name);
int sqlite_session_add(struct store *st, const unsigned char hash[32],
		       const char *user, int64_t now_us, const char *address);
int sqlite_session_get(struct store *st, const unsigned char hash[32],
		       char *user, int64_t *created_us, int64_t *last_us);
int sqlite_session_touch(struct store *st, const unsigned char hash[32],
			 int64_t now_us);
int sqlite_session_delete(struct store *st, const unsigned char hash[32]);
int sqlite_session_delete_user(struct store *st, const char *user);
int sqlite_api_token_add(struct store *st, const unsigned char hash[32],
			 const char *label, const char *user, int64_t now_us);
int sqlite_api_token_user(struct store *st, const unsigned char hash[32],
			  char *user);
int sqlite_audit_add(struct store *st, const struct store_audit *a);
int sqlite_audit_list(struct store *st, uint64_t before_id, int limit,
		      void (*cb)(void *, const struct store_audit *),
		      void *arg);
/* the register, daily history and reports (store_sqlite_report.c) */
int sqlite_system_put(struct store *st, const struct store_system *sys,
		      uint64_t *id);
int sqlite_system_set(struct store *st, const struct store_system *sys);
int sqlite_system_get(struct store *st, uint64_t id, struct store_system *out);
int sqlite_system_list(struct store *st, const char *unit,
		       void (*cb)(void *, const struct store_system *),
		       void *arg);
int sqlite_day_school_put(struct store *st, const struct store_day_school *d);
int sqlite_day_host_put(struct store *st, const struct store_day_host *d);
int sqlite_day_put_all(struct store *st,
		       int (*next)(void *arg, struct store_day_row *row),
		       void *arg);
int sqlite_snapshot_prune(struct store *st, const char *before_day,
			  long long *removed);
int sqlite_day_schools(struct store *st, const char *from, const char *to,
		       void (*cb)(void *, const struct store_day_school *),
		       void *arg);
int sqlite_day_hosts(struct store *st, const char *day,
		     void (*cb)(void *, const struct store_day_host *),
		     void *arg);
int sqlite_report_draft(struct store *st, const struct store_report *r,
			uint64_t *id, int *version);
int sqlite_report_sign(struct store *st, uint64_t id, const char *by,
		       const char *pdf_path, const char *pdf_sha256,
		       const char *model);
int sqlite_report_list(struct store *st, const char *period,
		       const char *scope,
		       void (*cb)(void *, const struct store_report *),
		       void *arg);
int sqlite_report_list_scoped(struct store *st, const struct store_scope *sc,
			      uint64_t id,
			      void (*cb)(void *, const struct store_report *),
			      void *arg);
/* drills (store_sqlite_drill.c) */
int sqlite_drill_add(struct store *st, const struct store_drill *d,
		     uint64_t *id);
int sqlite_drill_get(struct store *st, const char *name,
		     struct store_drill *out);
int sqlite_drill_transition(struct store *st, uint64_t id, const char *from,
			    const char *to, const char *who);
int sqlite_drill_target_put(struct store *st,
			    const struct store_drill_target *t);
int sqlite_drill_list(struct store *st, int64_t from_us, int64_t end_us,
		      void (*cb)(void *, const struct store_drill *),
		      void *arg);
int sqlite_drill_targets(struct store *st, uint64_t campaign,
			 void (*cb)(void *, const struct store_drill_target *),
			 void *arg);
/* red-team windows (store_sqlite_redteam.c) */
int sqlite_drill_all(struct store *st,
		     void (*cb)(void *, const struct store_drill *), void *arg);
int sqlite_redteam_actions_add(struct store *st,
			       const struct store_redteam_action *a, size_t n);
int sqlite_redteam_actions(struct store *st, uint64_t campaign,
			   void (*cb)(void *,
				      const struct store_redteam_action *),
			   void *arg);
int sqlite_redteam_alerts(struct store *st, uint64_t campaign,
			  void (*cb)(void *, const struct store_redteam_alert *),
			  void *arg);
/* agent releases (store_sqlite_release.c) */
int sqlite_release_put(struct store *st, const struct store_release *r);
int sqlite_release_list(struct store *st,
			void (*cb)(void *, const struct store_release *),
			void *arg);

#endif
