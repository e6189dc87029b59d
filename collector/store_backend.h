/* store_backend: what a store backend implements. Only collector/store.c
 * and the backends include this; everything else sees collector/store.h,
 * where struct store and struct store_batch are opaque.
 *
 * A backend fills one struct store_backend (an ops table with designated
 * initialisers), embeds struct store first in its own struct, and keeps the
 * locking contract written in store.h. store.c picks the backend by the
 * URL's scheme. The SQLite backend (store_sqlite*.c) is the model: setup,
 * writer thread and queries in separate files, every statement in one
 * table. */
#ifndef EDUWATCH_STORE_BACKEND_H
#define EDUWATCH_STORE_BACKEND_H

#include <sys/queue.h>

#include "collector/store.h"
#include "common/check.h"

struct store_backend {
	const char *scheme;
	int (*open)(const struct store_options *opts, const char *location,
		    uv_loop_t *loop, struct store **out, char *err,
		    size_t errlen);
	void (*close)(struct store *st);
	/* A read-only handle on the same database (store_open_reader). */
	int (*open_reader)(struct store *st, struct store **out, char *err,
			   size_t errlen);
	void (*submit)(struct store *st, struct store_batch *batch);
	size_t (*backlog)(const struct store *st);
	int (*school_add)(struct store *st, const struct store_school *s);
	int (*school_get)(struct store *st, const char *code,
			  struct store_school *out);
	int (*school_list)(struct store *st,
			   void (*cb)(void *, const struct store_school *),
			   void *arg);
	int (*token_add)(struct store *st, const unsigned char hash[32],
			 const char *school, int uses, int64_t expires_us);
	int (*token_consume)(struct store *st, const unsigned char hash[32],
			     enum store_token_result *result, char *school);
	int (*agent_add)(struct store *st, const char *id, const char *school,
			 const char *hostname, const char *cert_sha256);
	int (*agent_revoke)(struct store *st, const char *id);
	int (*agent_allowed)(struct store *st, const char *id, bool *allowed);
	int (*agents_revoked_since)(struct store *st, int64_t since_us,
				    void (*cb)(void *, const char *, int64_t),
				    void *arg);
	int (*agent_list)(struct store *st, const char *school,
			  void (*cb)(void *, const struct store_agent *),
			  void *arg);
	int (*count_events)(struct store *st, const char *agent, uint64_t boot,
			    long long *count);
	int (*recent_events)(struct store *st, const char *agent, int limit,
			     void (*cb)(void *, const struct store_event_row *),
			     void *arg);
	int (*command_add)(struct store *st, const char *agent, const char *type,
			   int64_t issued_us, int64_t expires_us, uint64_t *id);
	int (*command_set_frame)(struct store *st, uint64_t id,
				 const char *frame, size_t len);
	int (*commands_pending)(struct store *st, const char *agent,
				void (*cb)(void *, uint64_t, const char *,
					   const char *, size_t),
				void *arg);
	int (*command_mark_sent)(struct store *st, uint64_t id);
	int (*commands_withdraw)(struct store *st, const char *type,
				 int64_t issued_before_us, int64_t now_us,
				 long long *withdrawn);
	int (*host_states)(struct store *st, const char *school,
			   void (*cb)(void *, const struct store_host_row *),
			   void *arg);
	int (*snapshot_put)(struct store *st, const struct store_snapshot *snap);
	int (*alert_raise)(struct store *st, const struct store_alert *a,
			   bool *created);
	int (*alert_list)(struct store *st, const char *state,
			  const char *school, int limit,
			  void (*cb)(void *, const struct store_alert *),
			  void *arg);
	int (*alert_set_state)(struct store *st, uint64_t id,
			       const char *state, const char *who);
	int (*forward_next)(struct store *st, const char *dest,
			    uint64_t after_id, int limit,
			    void (*cb)(void *, const struct store_alert *),
			    void *arg);
	int (*forward_done)(struct store *st, const char *dest, uint64_t id);
	int (*forward_depth)(struct store *st, const char *dest, long long *n);
	int (*forward_deliveries)(struct store *st, int64_t from_us,
				  int64_t end_us,
				  void (*cb)(void *, const struct store_delivery *),
				  void *arg);
	int (*agents_silent)(struct store *st, int64_t before_us,
			     void (*cb)(void *, const char *, int64_t),
			     void *arg);
	int (*snapshot_list)(struct store *st, const char *scope,
			     const char *key, int limit,
			     void (*cb)(void *, const struct store_snapshot *),
			     void *arg);
	int (*dead_letter_add)(struct store *st,
			       const struct store_dead_letter *dl,
			       const struct event *notice);
	int (*dead_letter_list)(struct store *st, const char *dest, int limit,
				void (*cb)(void *,
					   const struct store_dead_letter *),
				void *arg);
	int (*forward_status_scoped)(struct store *st,
				     const struct store_scope *sc,
				     const char *dest,
				     struct store_forward_status *out);
	int (*dead_letter_list_scoped)(
		struct store *st, const struct store_scope *sc,
		const char *dest, int limit,
		void (*cb)(void *, const struct store_dead_letter *), void *arg);
	int (*dead_letter_count)(struct store *st, const char *dest,
				 long long *n);
	int (*school_list_scoped)(struct store *st, const struct store_scope *sc,
				  void (*cb)(void *, const struct store_school *),
				  void *arg);
	int (*school_get_scoped)(struct store *st, const struct store_scope *sc,
				 const char *code, struct store_school *out);
	int (*agent_list_scoped)(struct store *st, const struct store_scope *sc,
				 const char *school,
				 void (*cb)(void *, const struct store_agent *),
				 void *arg);
	int (*agent_get_scoped)(struct store *st, const struct store_scope *sc,
				const char *id, struct store_agent *out);
	int (*alert_list_scoped)(struct store *st, const struct store_scope *sc,
				 const char *state, const char *school,
				 uint64_t before_id, int limit,
				 void (*cb)(void *, const struct store_alert *),
				 void *arg);
	int (*alert_open_counts_scoped)(struct store *st,
					const struct store_scope *sc,
					long long by_sev[3]);
	int (*alert_volume_scoped)(struct store *st,
				   const struct store_scope *sc,
				   int64_t from_us,
				   void (*cb)(void *,
					      const struct store_alert_volume *),
				   void *arg);
	int (*alert_set_state_scoped)(struct store *st,
				      const struct store_scope *sc, uint64_t id,
				      const char *state, const char *who);
	int (*user_add)(struct store *st, const struct store_user *u);
	int (*user_update)(struct store *st, const struct store_user *u);
	int (*user_get)(struct store *st, const char *name,
			struct store_user *out);
	int (*user_list)(struct store *st,
			 void (*cb)(void *, const struct store_user *),
			 void *arg);
	int (*user_login_failed)(struct store *st, const char *name,
				 int max_failed, bool *locked);
	int (*user_login_ok)(struct store *st, const char *name);
	int (*session_add)(struct store *st, const unsigned char hash[32],
			   const char *user, int64_t now_us,
			   const char *address);
	int (*session_get)(struct store *st, const unsigned char hash[32],
			   char *user, int64_t *created_us, int64_t *last_us);
	int (*session_touch)(struct store *st, const unsigned char hash[32],
			     int64_t now_us);
	int (*session_delete)(struct store *st, const unsigned char hash[32]);
	int (*session_delete_user)(struct store *st, const char *user);
	int (*api_token_add)(struct store *st, const unsigned char hash[32],
			     const char *label, const char *user,
			     int64_t now_us);
	int (*api_token_user)(struct store *st, const unsigned char hash[32],
			      char *user);
	int (*audit_add)(struct store *st, const struct store_audit *a);
	int (*audit_list)(struct store *st, uint64_t before_id, int limit,
			  void (*cb)(void *, const struct store_audit *),
			  void *arg);
	int (*system_put)(struct store *st, const struct store_system *sys,
			  uint64_t *id);
	int (*system_set)(struct store *st, const struct store_system *sys);
	int (*system_get)(struct store *st, uint64_t id,
			  struct store_system *out);
	int (*system_list)(struct store *st, const char *unit,
			   void (*cb)(void *, const struct store_system *),
			   void *arg);
	int (*day_school_put)(struct store *st,
			      const struct store_day_school *d);
	int (*day_host_put)(struct store *st, const struct store_day_host *d);
	int (*day_put_all)(struct store *st,
			   int (*next)(void *arg, struct store_day_row *row),
			   void *arg);
	int (*snapshot_prune)(struct store *st, const char *before_day,
			      long long *removed);
	int (*day_schools)(struct store *st, const char *from, const char *to,
			   void (*cb)(void *, const struct store_day_school *),
			   void *arg);
	int (*day_hosts)(struct store *st, const char *day,
			 void (*cb)(void *, const struct store_day_host *),
			 void *arg);
	int (*report_draft)(struct store *st, const struct store_report *r,
			    uint64_t *id, int *version);
	int (*report_sign)(struct store *st, uint64_t id, const char *by,
			   const char *pdf_path, const char *pdf_sha256,
			   const char *model);
	int (*report_list)(struct store *st, const char *period,
			   const char *scope,
			   void (*cb)(void *, const struct store_report *),
			   void *arg);
	int (*report_list_scoped)(struct store *st,
				  const struct store_scope *sc, uint64_t id,
				  void (*cb)(void *,
					     const struct store_report *),
				  void *arg);
	int (*drill_add)(struct store *st, const struct store_drill *d,
			 uint64_t *id);
	int (*drill_get)(struct store *st, const char *name,
			 struct store_drill *out);
	int (*drill_transition)(struct store *st, uint64_t id,
				const char *from, const char *to,
				const char *who);
	int (*drill_target_put)(struct store *st,
				const struct store_drill_target *t);
	int (*drill_list)(struct store *st, int64_t from_us, int64_t end_us,
			  void (*cb)(void *, const struct store_drill *),
			  void *arg);
	int (*drill_targets)(struct store *st, uint64_t campaign,
			     void (*cb)(void *,
					const struct store_drill_target *),
			     void *arg);
	int (*drill_all)(struct store *st,
			 void (*cb)(void *, const struct store_drill *),
			 void *arg);
	int (*redteam_actions_add)(struct store *st,
				   const struct store_redteam_action *a,
				   size_t n);
	int (*redteam_actions)(struct store *st, uint64_t campaign,
			       void (*cb)(void *,
					  const struct store_redteam_action *),
			       void *arg);
	int (*redteam_alerts)(struct store *st, uint64_t campaign,
			      void (*cb)(void *,
					 const struct store_redteam_alert *),
			      void *arg);
	int (*release_put)(struct store *st, const struct store_release *r);
	int (*release_list)(struct store *st,
			    void (*cb)(void *, const struct store_release *),
			    void *arg);
	int (*lead)(struct store *st, const char *job, bool *leading);
};

/* What a backend embeds first in its own struct. */
struct store {
	const struct store_backend *backend;
};

/* A batch as backends see it. */
struct store_batch {
	struct event *events;
	size_t count;
	size_t capacity;
	store_commit_cb cb;
	void *arg;
	int status;
	unsigned stored;
	unsigned dup;
	STAILQ_ENTRY(store_batch) link; /* in a backend's queue */
};

STAILQ_HEAD(store_batch_queue, store_batch);

/* ---- what both backends share -------------------------------------------- */

/* At most this many alerts come of one event (opts->alert_fn's max). */
#define STORE_ALERTS_PER_EVENT 4

/* Asks opts->alert_fn for the alerts ev raises and hands each to
 * write(ctx, alert), which stores it inside the caller's open
 * transaction. Stops at the first failure and returns it; 0 when there
 * is no alert_fn. Runs on the caller's thread, alerts on its stack. */
EW_MUST_CHECK
int store_raise_alerts(const struct store_options *opts,
		       const struct event *ev,
		       int (*write)(void *ctx, const struct store_alert *a),
		       void *ctx);

/* A boolean of an agent's event body (a msgpack map); false when absent
 * or malformed: a PC's claim is believed only when it is well formed.
 * The drills' "the antivirus removed it", "the clean-up verified". */
bool store_body_flag(const void *body, size_t len, const char *key);

/* SQL both dialects accept the same: an alert's columns in the order
 * the backends' row readers take them, and the joins that fill its
 * hostname and commune; a school with its count of enrolled PCs. */
#define STORE_SQL_ALERT_COLS                                              \
	"a.id, a.rule, a.title, a.category, a.kind, a.dedupe_key, a.agent,"  \
	" a.school, coalesce(g.hostname, ''), coalesce(c.commune, ''),"      \
	" a.severity, a.drill, a.first, a.last, a.count, a.state,"           \
	" coalesce(a.ack_by, ''), coalesce(a.ack, 0),"                       \
	" coalesce(a.resolved_by, ''), coalesce(a.resolved, 0), a.evidence," \
	" a.src_ip, a.file_path, a.file_hash"
#define STORE_SQL_ALERT_JOINS                                 \
	" FROM alerts a LEFT JOIN agents g ON g.id = a.agent" \
	" LEFT JOIN schools c ON c.code = a.school"
/* A drill campaign's columns, in the order the row readers take them. */
#define STORE_SQL_DRILL_SELECT                                        \
	"SELECT id, name, organiser, scenario, scope, window_start,"  \
	" window_end, state, coalesce(approver, ''),"                 \
	" coalesce(approved, 0), coalesce(started, 0),"               \
	" coalesce(ended, 0), coalesce(ended_by, ''), created"        \
	" FROM drill_campaigns"
/* A drill target's first columns (its own, its command's and abort
 * command's times, its injection: t the target, c and k the commands),
 * and the "detected" one: the collector stored a drill-flagged finding
 * of the PC's own checks (a scan match, an AV event), not one of the
 * drill's bookkeeping events. */
#define STORE_SQL_DRILL_TARGET_HEAD                                      \
	"SELECT t.campaign, t.agent, t.school, t.status,"                \
	" coalesce(t.command, 0), coalesce(t.abort_command, 0), t.at,"   \
	" coalesce(c.issued, 0), coalesce(c.sent, 0),"                   \
	" coalesce(k.sent, 0),"                                          \
	" coalesce((SELECT min(e.ts) FROM events e WHERE e.agent ="      \
	"  t.agent AND e.kind = 'drill.injected' AND e.ts >= c.issued"   \
	"  - 1000000), 0),"
#define STORE_SQL_DRILL_DETECTED                                          \
	" (SELECT min(e.received) FROM events e WHERE e.agent = t.agent"  \
	"  AND e.drill = 1 AND e.kind NOT LIKE 'drill.%'"                 \
	"  AND e.received >= c.issued)"
/* A report's columns (r is the report). */
#define STORE_SQL_REPORT_SELECT                                         \
	"SELECT id, period, scope, version, state, created,"           \
	" coalesce(signed, 0), coalesce(signed_by, ''),"               \
	" coalesce(supersedes, 0), coalesce(pdf_path, ''),"            \
	" coalesce(pdf_sha256, ''), remarks, model FROM reports r"
#define STORE_SQL_SCHOOL_SELECT                                     \
	"SELECT s.code, s.name, s.commune, s.level, s.expected_pcs," \
	" (SELECT count(*) FROM agents a WHERE a.school = s.code"    \
	"  AND a.revoked IS NULL) FROM schools s"

#endif
