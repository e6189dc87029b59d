/* store: where the collector keeps schools, tokens, agents and events.
 *
 * This header is the whole interface. Ingest, enrollment and the CLI call
 * only these functions; a backend (SQLite today, PostgreSQL later) fills a
 * struct store_backend and is picked by the URL scheme in store_open().
 *
 * Event writes are asynchronous and batched: store_submit() queues a batch
 * and its callback runs on the loop thread after the COMMIT that holds every
 * event of the batch (or after a failure, with a negative status). That is
 * what makes "ack only after commit" true. Everything else is synchronous
 * and safe to call from any thread.
 *
 * Locking contract (every backend keeps it):
 *  - The synchronous calls are serialised by one lock per store, held for
 *    the whole call, row callbacks included. Calls from several threads
 *    wait for each other; none sees another's half-done transaction.
 *  - A row callback (the cb of a *_list, *_next, *_pending, *_since,
 *    *_silent or *_states call) runs with that lock held, on the calling
 *    thread. It must not call this store again: collect what it needs and
 *    act after the call returns. A call back into the store from a row
 *    callback, or from the alert function while store_dead_letter_add
 *    holds the lock, aborts the process with a message naming both calls
 *    (always on, release builds included) instead of deadlocking.
 *  - Pointers passed to a row callback (strings, bodies) are borrowed and
 *    valid only until it returns.
 *  - store_submit() never takes that lock: the writer thread has its own
 *    connection. The alert function runs on the writer thread, inside the
 *    event's transaction, and must not call the store either.
 *  - store_open() and store_close() are not thread-safe: nothing else may
 *    use the store while either runs.
 *
 * Backends implement collector/store_backend.h; nothing outside the store
 * includes it.
 *
 * Lifecycle: a synchronous resource, `_open` / `_close` (close of NULL is a
 * no-op), as every such resource in the tree. */
#ifndef EDUWATCH_STORE_H
#define EDUWATCH_STORE_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/event.h"

#define STORE_CODE_MAX 32
#define STORE_NAME_MAX 128

struct store;

/* How far ahead of the collector's clock an event's ts may be. Past it,
 * the store keeps the event at its receive time and flags it (the
 * agent's value stays in the row): one lying or broken clock must not
 * make an old state look newer than every honest report after it. */
#define STORE_MAX_FUTURE_SKEW_US (10 * 60 * 1000000LL)

/* An alert: opened by a rule on an event, by the agent-silence sweep or
 * by a compliance drop; folded into the open alert with the same dedupe
 * key while repeats come within suppress_s of the last one. */
#define STORE_ALERT_EVIDENCE_MAX 4096

struct store_alert {
	uint64_t id;
	char rule[64];
	char title[200];
	char category[64];
	char kind[EVENT_KIND_MAX + 1];
	char dedupe_key[256];
	char agent[EVENT_AGENT_MAX + 1];
	char school[STORE_CODE_MAX + 1];   /* filled by the store */
	char hostname[STORE_NAME_MAX + 1]; /* filled by the store */
	char commune[STORE_NAME_MAX + 1];  /* filled by the store */
	int severity;			   /* 0..10 */
	bool drill;
	/* The red-team window the alert fell in (0: none), for the SOC;
	 * read by the forwarder's query (store_forward_next) only. */
	uint64_t drill_campaign;
	long long suppress_s;
	int64_t first_us, last_us;
	long long count;
	char state[16]; /* open, acknowledged, resolved */
	char ack_by[64];
	int64_t ack_us;
	char resolved_by[64];
	int64_t resolved_us;
	char evidence[STORE_ALERT_EVIDENCE_MAX]; /* JSON object */
	/* Picked from the evidence for the SIEM's own fields. */
	char src_ip[64];
	char file_path[512];
	char file_hash[80];
};

/* An alert's text fields under the names the CLI's --json and the
 * console's API share, in their order: one table, so the two cannot
 * drift apart. first and last are the caller's formatted times
 * (borrowed, like a's strings). Returns STORE_ALERT_TEXT_FIELDS. */
#define STORE_ALERT_TEXT_FIELDS 14
struct store_field {
	const char *name;
	const char *value;
};
size_t store_alert_text_fields(const struct store_alert *a, const char *first,
			       const char *last,
			       struct store_field out[STORE_ALERT_TEXT_FIELDS]);

/* Turns a newly stored event into alerts: fills up to max and returns how
 * many. Runs on the writer thread, inside the transaction that stores the
 * event, so an alert exists exactly when its event does. */
typedef size_t (*store_alert_fn)(void *arg, const struct event *ev,
				 struct store_alert *out, size_t max);

struct store_options {
	const char *url;	   /* "sqlite:/path/file.db" or a plain path */
	long long cache_bytes;	   /* page cache of the writer */
	int batch_max_events;	   /* events per transaction, at most */
	bool sync_full;		   /* fsync the WAL at each commit */
	int retention_days;	   /* events below high_severity */
	int high_severity_days;	   /* events at or above high_severity */
	int high_severity;
	store_alert_fn alert_fn; /* NULL: no alerts from events */
	void *alert_arg;
	/* Forwarding destinations: each new alert is queued for each, in the
	 * same transaction. */
	const char *const *forward_dests;
	size_t nforward_dests;
	/* This collector's name where several share a store (PostgreSQL's
	 * forward-queue leases): the same across its restarts, so one killed
	 * and started again takes back at once the alerts it had claimed,
	 * instead of after the lease. NULL: a name of this process alone
	 * (the CLI). */
	const char *instance;
};

/* The loop receives commit callbacks; NULL opens the store for synchronous
 * use only (the CLI), without a writer thread. */
EW_MUST_CHECK
int store_open(const struct store_options *opts, uv_loop_t *loop,
	       struct store **out, char *err, size_t errlen);
/* Commits what is queued, stops the writer, closes. NULL is a no-op. Must
 * be called on the loop thread while the loop can still run callbacks. */
void store_close(struct store *st);
/* Opens a second handle on st's database for reads only: a connection
 * of its own (read-only, WAL), with its own lock and no writer. Reads on
 * it never wait for st's lock, nor for the writer's transaction (a WAL
 * reader sees the last commit), so the console's pages answer while a
 * large ingest or enrolment runs; any write on it fails with -EIO.
 * -ENOTSUP for a database that cannot be shared (in memory): use st.
 * Close it with store_close, before st. */
EW_MUST_CHECK
int store_open_reader(struct store *st, struct store **out, char *err,
		      size_t errlen);

/* ---- events (asynchronous) --------------------------------------------- */

struct store_batch;

/* status is 0 or a negative errno; stored + dup = events in the batch. */
typedef void (*store_commit_cb)(void *arg, int status, unsigned stored,
				unsigned dup);

EW_MUST_CHECK
struct store_batch *store_batch_new(size_t capacity);
void store_batch_free(struct store_batch *batch);
/* Moves ev into the batch (ev's body is taken; ev is cleared). */
EW_MUST_CHECK
int store_batch_add(struct store_batch *batch, struct event *ev);
size_t store_batch_count(const struct store_batch *batch);
/* Takes ownership of batch. cb runs on the loop thread. */
void store_submit(struct store *st, struct store_batch *batch,
		  store_commit_cb cb, void *arg);
/* Events queued or being written, not yet committed. */
size_t store_backlog(const struct store *st);

/* ---- schools, tokens, agents (synchronous) ----------------------------- */

struct store_school {
	char code[STORE_CODE_MAX + 1];
	char name[STORE_NAME_MAX + 1];
	char commune[STORE_NAME_MAX + 1];
	int level;
	int expected_pcs;
	int enrolled_pcs;
};

struct store_agent {
	char id[EVENT_AGENT_MAX + 1];
	char school[STORE_CODE_MAX + 1];
	char hostname[STORE_NAME_MAX + 1];
	int64_t enrolled_us;
	int64_t last_seen_us; /* 0: never */
	bool revoked;
	long long events;
	long long clamped; /* events whose future ts was clamped */
};

enum store_token_result {
	STORE_TOKEN_OK,
	STORE_TOKEN_UNKNOWN,
	STORE_TOKEN_EXPIRED,
	STORE_TOKEN_USED,
};

EW_MUST_CHECK
int store_school_add(struct store *st, const struct store_school *school);
EW_MUST_CHECK
int store_school_get(struct store *st, const char *code,
		     struct store_school *out);
EW_MUST_CHECK
int store_school_list(struct store *st,
		      void (*cb)(void *arg, const struct store_school *s),
		      void *arg);

/* hash is SHA-256 of the token; the token itself is never stored. */
EW_MUST_CHECK
int store_token_add(struct store *st, const unsigned char hash[32],
		    const char *school, int uses, int64_t expires_us);
/* Atomically checks and uses one use of a token; on OK, fills school. */
EW_MUST_CHECK
int store_token_consume(struct store *st, const unsigned char hash[32],
			enum store_token_result *result,
			char school[STORE_CODE_MAX + 1]);

EW_MUST_CHECK
int store_agent_add(struct store *st, const char *id, const char *school,
		    const char *hostname, const char *cert_sha256);
/* -ENOENT if there is no such agent. */
EW_MUST_CHECK
int store_agent_revoke(struct store *st, const char *id);
/* Unknown agents count as revoked: only enrolled ones may connect. */
EW_MUST_CHECK
int store_agent_allowed(struct store *st, const char *id, bool *allowed);
/* Agents revoked after since_us, oldest first (to close live
 * connections). */
EW_MUST_CHECK
int store_agents_revoked_since(struct store *st, int64_t since_us,
			       void (*cb)(void *arg, const char *id,
					  int64_t revoked_us),
			       void *arg);
EW_MUST_CHECK
int store_agent_list(struct store *st, const char *school,
		     void (*cb)(void *arg, const struct store_agent *a),
		     void *arg);

/* Commands for agents: the frame is signed by the CLI with the CA key and
 * stored whole; ingest sends it when the agent is connected. */
EW_MUST_CHECK
int store_command_add(struct store *st, const char *agent, const char *type,
		      int64_t issued_us, int64_t expires_us, uint64_t *id);
EW_MUST_CHECK
int store_command_set_frame(struct store *st, uint64_t id, const char *frame,
			    size_t len);
/* Every unsent, unexpired command of type issued before issued_before_us
 * expires at now_us (a halted rollout's offers, so that a PC that was
 * off never gets one, and not those of the release that superseded it);
 * how many in *withdrawn. */
EW_MUST_CHECK
int store_commands_withdraw(struct store *st, const char *type,
			    int64_t issued_before_us, int64_t now_us,
			    long long *withdrawn);
/* Unsent, unexpired commands, for one agent or (NULL) for all. */
EW_MUST_CHECK
int store_commands_pending(struct store *st, const char *agent,
			   void (*cb)(void *arg, uint64_t id, const char *agent,
				      const char *frame, size_t len),
			   void *arg);
EW_MUST_CHECK
int store_command_mark_sent(struct store *st, uint64_t id);

struct store_event_row {
	struct event ev;	/* body borrowed for the callback */
	int64_t received_us;
	/* The agent's own ts when it was too far in the future and ev.ts
	 * holds the receive time instead; 0 when ev.ts is the agent's. */
	int64_t agent_ts_us;
};

/* The newest `limit` events, newest first, optionally for one agent. */
EW_MUST_CHECK
int store_recent_events(struct store *st, const char *agent, int limit,
			void (*cb)(void *arg, const struct store_event_row *r),
			void *arg);

/* Counts stored events, optionally for one agent and one boot (0: any). */
EW_MUST_CHECK
int store_count_events(struct store *st, const char *agent, uint64_t boot,
		       long long *count);
/* What scoring reads: each enrolled, unrevoked agent of a school (NULL:
 * every school) with each of its host_state rows, ordered by agent. An
 * agent with no state yet comes once with kind "" and no body. */
struct store_host_row {
	const char *agent;
	const char *school;
	const char *hostname;
	int64_t last_seen_us; /* 0: never */
	const char *kind;     /* "" for an agent with no state */
	int64_t ts_us;	      /* the agent's clock */
	int64_t received_us;  /* the collector's clock (0: no state) */
	const char *body;     /* msgpack map, borrowed for the callback */
	size_t body_len;
};

EW_MUST_CHECK
int store_host_states(struct store *st, const char *school,
		      void (*cb)(void *arg, const struct store_host_row *r),
		      void *arg);

/* Daily score snapshots: scope is "school", "commune" or "province", key
 * the school code, the commune's name or "". A second put for the same
 * day replaces the first. */
struct store_snapshot {
	char day[11]; /* YYYY-MM-DD, UTC */
	char scope[16];
	char key[STORE_NAME_MAX + 1];
	double score;
	int pcs;
};

EW_MUST_CHECK
int store_snapshot_put(struct store *st, const struct store_snapshot *snap);
/* Newest first, at most limit, for one scope and key. */
EW_MUST_CHECK
int store_snapshot_list(struct store *st, const char *scope, const char *key,
			int limit,
			void (*cb)(void *arg, const struct store_snapshot *s),
			void *arg);

/* Raises an alert outside the event path (silence, compliance drop).
 * *created tells whether it is new rather than folded. */
EW_MUST_CHECK
int store_alert_raise(struct store *st, const struct store_alert *a,
		      bool *created);
/* Newest first; state and school may be NULL for any. */
EW_MUST_CHECK
int store_alert_list(struct store *st, const char *state, const char *school,
		     int limit,
		     void (*cb)(void *arg, const struct store_alert *a),
		     void *arg);
/* Moves an alert to "acknowledged" or "resolved", recording who and
 * when. -ENOENT: no such alert; -EALREADY: it was resolved already. */
EW_MUST_CHECK
int store_alert_set_state(struct store *st, uint64_t id, const char *state,
			  const char *who);

/* Unrevoked agents that have said nothing since before_us (enrolled and
 * never heard from count from their enrollment). */
EW_MUST_CHECK
int store_agents_silent(struct store *st, int64_t before_us,
			void (*cb)(void *arg, const char *agent,
				   int64_t last_us),
			void *arg);

/* The oldest alerts queued for a destination with an id above after_id,
 * in order (after_id lets a sender stream past what it has sent but not
 * yet seen confirmed). */
EW_MUST_CHECK
int store_forward_next(struct store *st, const char *dest, uint64_t after_id,
		       int limit,
		       void (*cb)(void *arg, const struct store_alert *a),
		       void *arg);
/* Dequeues every alert up to and including id for dest that
 * store_forward_next handed this sender and, in the same transaction,
 * records each one's delivery as confirmed now
 * (store_forward_deliveries). On a store several collectors share, an
 * alert below id that this one never claimed (another's, or one that
 * committed late) stays queued. */
EW_MUST_CHECK
int store_forward_done(struct store *st, const char *dest, uint64_t id);
EW_MUST_CHECK
int store_forward_depth(struct store *st, const char *dest, long long *n);

/* Dead letters: alerts a destination refused for good (an HTTP 4xx that
 * names the content, not the sender), parked so that the queue moves on
 * and an operator can see them (`forward dead-letter list`). */
struct store_dead_letter {
	uint64_t id;
	char dest[64];
	uint64_t alert;
	int status; /* the destination's answer, e.g. HTTP 400; 0: none */
	char reason[200];
	int64_t at_us;
	char rule[64]; /* of the alert, when it still exists */
	char agent[EVENT_AGENT_MAX + 1];
};

/* In one transaction: records the dead letter, takes the alert off dest's
 * queue, marks its delivery record refused, and, when notice is not NULL, raises the alerts that the store's
 * alert function makes of that collector-made event (the local alert
 * about the refusal). Borrows everything. */
EW_MUST_CHECK
int store_dead_letter_add(struct store *st, const struct store_dead_letter *dl,
			  const struct event *notice);
/* Newest first; dest NULL for every destination. */
EW_MUST_CHECK
int store_dead_letter_list(struct store *st, const char *dest, int limit,
			   void (*cb)(void *arg,
				      const struct store_dead_letter *dl),
			   void *arg);
EW_MUST_CHECK
int store_dead_letter_count(struct store *st, const char *dest,
			    long long *n);

/* One alert's journey to one SOC destination: when it was queued (in the
 * alert's own transaction), when the destination confirmed it (in
 * forward_done's transaction) or when it was parked as a dead letter
 * (in dead_letter_add's). Kept for every alert, drill or not, so that
 * reports can measure delivery lag over past periods. */
struct store_delivery {
	char dest[64];
	uint64_t alert;
	int64_t queued_us;
	int64_t delivered_us; /* 0: not (yet) confirmed */
	int64_t dead_us;      /* 0: not refused */
};

/* Every delivery record whose alert was queued in [from_us, end_us), in
 * (alert, dest) order. */
EW_MUST_CHECK
int store_forward_deliveries(struct store *st, int64_t from_us,
			     int64_t end_us,
			     void (*cb)(void *arg,
					const struct store_delivery *d),
			     void *arg);

/* ---- officers: scope, users, sessions, API tokens, audit (the console) -- */

/* What an officer may see. Every *_scoped read filters in SQL, so an
 * object outside the scope is simply not found (-ENOENT), exactly like
 * one that does not exist: a page or API call cannot tell them apart. */
enum store_scope_kind {
	STORE_SCOPE_PROVINCE, /* everything */
	STORE_SCOPE_COMMUNE,  /* schools whose commune is value */
	STORE_SCOPE_SCHOOL,   /* the school whose code is value */
};

struct store_scope {
	enum store_scope_kind kind;
	char value[STORE_NAME_MAX + 1];
};

/* The SOC feed's state for one destination, within an officer's scope
 * (the console's SOC page). The last delivered alert is the newest one
 * in scope that has left dest's queue without a dead letter: forwarding
 * sends in id order and takes an alert off the queue only once dest
 * acknowledged it. */
struct store_forward_status {
	long long pending;	   /* alerts waiting for dest */
	int64_t oldest_pending_us; /* the oldest waiting alert's first time */
	uint64_t last_delivered;   /* its id; 0: none yet */
	int64_t last_delivered_us; /* when dest confirmed it (recorded) */
	long long dead_letters;
	int64_t last_error_us;	   /* the newest dead letter; 0: none */
	int last_error_status;
	char last_error[200];
};

EW_MUST_CHECK
int store_forward_status_scoped(struct store *st,
				const struct store_scope *sc, const char *dest,
				struct store_forward_status *out);
/* dest's dead letters whose alert is in scope (an alert since pruned
 * counts as the province's), newest first. */
EW_MUST_CHECK
int store_dead_letter_list_scoped(struct store *st,
				  const struct store_scope *sc,
				  const char *dest, int limit,
				  void (*cb)(void *arg,
					     const struct store_dead_letter *dl),
				  void *arg);

int store_school_list_scoped(struct store *st, const struct store_scope *sc,
			     void (*cb)(void *arg, const struct store_school *s),
			     void *arg);
int store_school_get_scoped(struct store *st, const struct store_scope *sc,
			    const char *code, struct store_school *out);
/* school NULL: every school in scope. */
int store_agent_list_scoped(struct store *st, const struct store_scope *sc,
			    const char *school,
			    void (*cb)(void *arg, const struct store_agent *a),
			    void *arg);
int store_agent_get_scoped(struct store *st, const struct store_scope *sc,
			   const char *id, struct store_agent *out);
/* Newest first, ids below before_id (0: from the newest), for cursor
 * pagination; state and school may be NULL. */
int store_alert_list_scoped(struct store *st, const struct store_scope *sc,
			    const char *state, const char *school,
			    uint64_t before_id, int limit,
			    void (*cb)(void *arg, const struct store_alert *a),
			    void *arg);
/* The open alerts in scope, counted by severity band: by_sev[0] 0-3,
 * [1] 4-6, [2] 7-10. One aggregate read, not a walk of the rows. */
EW_MUST_CHECK
int store_alert_open_counts_scoped(struct store *st,
				   const struct store_scope *sc,
				   long long by_sev[3]);
/* Alert volume for the console's chart: the alerts in scope raised
 * (first seen) on each day, Vietnam time (UTC+7), by kind, from from_us
 * on. One grouped read; rows by day, then kind. */
struct store_alert_volume {
	char day[11]; /* yyyy-mm-dd */
	char kind[EVENT_KIND_MAX + 1];
	long long count;
};

/* A day number (days since 1970-01-01) as yyyy-mm-dd. */
void store_day_name(long long day, char out[11]);
EW_MUST_CHECK
int store_alert_volume_scoped(struct store *st, const struct store_scope *sc,
			      int64_t from_us,
			      void (*cb)(void *arg,
					 const struct store_alert_volume *v),
			      void *arg);
/* store_alert_set_state for an alert in scope; -ENOENT outside it. */
int store_alert_set_state_scoped(struct store *st,
				 const struct store_scope *sc, uint64_t id,
				 const char *state, const char *who);

#define STORE_USER_MAX 64

struct store_user {
	char name[STORE_USER_MAX + 1];
	char pwhash[256];   /* argon2id, encoded with its parameters */
	char role[32];
	char scope[STORE_NAME_MAX + 1]; /* commune or school code; "" */
	bool disabled;
	int failed;	    /* failed logins since the last success */
	bool locked;	    /* until an admin clears it */
	char totp[64];	    /* base32 secret; "" when not enrolled */
	char lang[8];	    /* vi | en */
	int64_t created_us;
};

/* -EEXIST when the name is taken. */
int store_user_add(struct store *st, const struct store_user *u);
/* Rewrites every field but the name and creation time; -ENOENT. */
int store_user_update(struct store *st, const struct store_user *u);
int store_user_get(struct store *st, const char *name, struct store_user *out);
int store_user_list(struct store *st,
		    void (*cb)(void *arg, const struct store_user *u),
		    void *arg);
/* Counts a failed login; locks the account at max_failed. */
int store_user_login_failed(struct store *st, const char *name,
			    int max_failed, bool *locked);
/* A good login: the failure count goes back to 0. */
int store_user_login_ok(struct store *st, const char *name);

/* Sessions and API tokens are keyed by the SHA-256 of their secret. */
int store_session_add(struct store *st, const unsigned char hash[32],
		      const char *user, int64_t now_us, const char *address);
/* -ENOENT when unknown. */
int store_session_get(struct store *st, const unsigned char hash[32],
		      char user[STORE_USER_MAX + 1], int64_t *created_us,
		      int64_t *last_us);
int store_session_touch(struct store *st, const unsigned char hash[32],
			int64_t now_us);
int store_session_delete(struct store *st, const unsigned char hash[32]);
/* Logout everywhere, and what disabling an account does. */
int store_session_delete_user(struct store *st, const char *user);

int store_api_token_add(struct store *st, const unsigned char hash[32],
			const char *label, const char *user, int64_t now_us);
/* The token's user; -ENOENT when unknown or revoked. */
int store_api_token_user(struct store *st, const unsigned char hash[32],
			 char user[STORE_USER_MAX + 1]);

/* The audit log is append-only: triggers refuse UPDATE and DELETE. */
struct store_audit {
	uint64_t id;
	int64_t at_us;
	char actor[STORE_USER_MAX + 8];
	char action[32];
	char object[160];
	char address[64];
	char detail[512];
};

int store_audit_add(struct store *st, const struct store_audit *a);
/* Newest first, ids below before_id (0: from the newest). */
int store_audit_list(struct store *st, uint64_t before_id, int limit,
		     void (*cb)(void *arg, const struct store_audit *a),
		     void *arg);
/* ---- register of information systems, daily history, reports ---------- */

/* One information system of a unit (a school's code, or the department's
 * own code) with its proposed security level and classification dossier
 * (Decree 85/2016: not_started, drafted, submitted, approved). A school's
 * policy level follows its highest approved system: each add or set
 * recomputes it. */
#define STORE_SYSTEM_TEXT_MAX 200
struct store_system {
	uint64_t id;
	char unit[STORE_CODE_MAX + 1];
	char name[STORE_SYSTEM_TEXT_MAX + 1];
	char kind[64];
	int level; /* 1..5 */
	char dossier[16];
	char authority[STORE_SYSTEM_TEXT_MAX + 1];
	char decision_no[64];
	char decision_date[11]; /* YYYY-MM-DD or "" */
	char review_due[11];	/* YYYY-MM-DD or "" */
	char hosts[1024];	/* the PCs or hosts it covers, comma-separated */
};

/* Adds (unit, name) or, when it exists, replaces its fields. */
int store_system_put(struct store *st, const struct store_system *sys,
		     uint64_t *id);
/* -ENOENT when there is no system with sys->id. */
int store_system_set(struct store *st, const struct store_system *sys);
int store_system_get(struct store *st, uint64_t id, struct store_system *out);
/* unit NULL: every unit. Ordered by unit, then name. */
int store_system_list(struct store *st, const char *unit,
		      void (*cb)(void *arg, const struct store_system *s),
		      void *arg);

/* What the daily snapshot keeps of each school and each PC, for reports
 * over past periods. Kept for years, whatever the event retention. */
struct store_day_school {
	char day[11];
	char school[STORE_CODE_MAX + 1];
	char commune[STORE_NAME_MAX + 1];
	int level;
	bool no_policy;
	int pcs;       /* expected: max(expected, enrolled) */
	int enrolled;
	int fresh;     /* reported within the policy's stale_after */
	int av_ok;     /* real-time on and signatures within the policy */
	int rpo_ok;    /* backup RPO met */
	int restore_ok; /* a test restore within the policy's age */
	double score;
};

struct store_day_host {
	char day[11];
	char agent[EVENT_AGENT_MAX + 1];
	char school[STORE_CODE_MAX + 1];
	double score;
	bool fresh, av_ok, rpo_ok, restore_ok;
	char failed[1024]; /* ids of the failing checks, comma-separated */
};

int store_day_school_put(struct store *st, const struct store_day_school *d);
int store_day_host_put(struct store *st, const struct store_day_host *d);
/* One row of a day's history for store_day_put_all: a PC's, or
 * (is_school) its school's. */
struct store_day_row {
	bool is_school;
	struct store_day_school school;
	struct store_day_host host;
};
/* Writes every row next() yields (1: *row is filled; 0: no more; a
 * negative errno: stop) in one transaction, so a province's ~30k PC rows
 * are one commit a day, and a failure midway leaves none of them. next
 * runs with the store's writer held: it must not call the store. */
EW_MUST_CHECK
int store_day_put_all(struct store *st,
		      int (*next)(void *arg, struct store_day_row *row),
		      void *arg);
/* Snapshot retention, apart from event retention: deletes in one
 * transaction every daily snapshot (scores, and where the backend keeps
 * them the schools' and PCs' history rows) of a day before before_day
 * ("YYYY-MM-DD"), and sets *removed to the rows deleted. */
EW_MUST_CHECK
int store_snapshot_prune(struct store *st, const char *before_day,
			 long long *removed);
/* Rows with from <= day <= to, by day then school. */
int store_day_schools(struct store *st, const char *from, const char *to,
		      void (*cb)(void *arg, const struct store_day_school *d),
		      void *arg);
/* The PC rows of one day. */
int store_day_hosts(struct store *st, const char *day,
		    void (*cb)(void *arg, const struct store_day_host *d),
		    void *arg);

/* A report of a period and scope. A draft may be replaced; a signed one
 * is frozen: its model, PDF hash and signature are stored and it can only
 * be superseded by a new version that names it. */
struct store_report {
	uint64_t id;
	char period[16]; /* "2026-H1", "2026" */
	char scope[STORE_NAME_MAX + 16];
	int version;
	char state[12]; /* draft, signed */
	int64_t created_us, signed_us;
	char signed_by[64];
	uint64_t supersedes; /* 0: none */
	char pdf_path[1024];
	char pdf_sha256[65];
	const char *remarks; /* borrowed */
	const char *model;   /* JSON; borrowed */
};

/* Stores a draft as version (the newest + 1 when the newest is signed,
 * else the newest draft is replaced). Fills *id and *version. */
int store_report_draft(struct store *st, const struct store_report *r,
		       uint64_t *id, int *version);
/* Freezes a draft. -EALREADY when it is signed already, -ENOENT when
 * there is no such report. */
int store_report_sign(struct store *st, uint64_t id, const char *by,
		      const char *pdf_path, const char *pdf_sha256,
		      const char *model);
/* Every version of a period and scope (either NULL: all), newest
 * first. */
int store_report_list(struct store *st, const char *period, const char *scope,
		      void (*cb)(void *arg, const struct store_report *r),
		      void *arg);
/* The reports inside an officer's scope (see store_scope), newest first;
 * id 0 for all, else that one report, or nothing when it lies outside. */
EW_MUST_CHECK
int store_report_list_scoped(struct store *st, const struct store_scope *sc,
			     uint64_t id,
			     void (*cb)(void *arg, const struct store_report *r),
			     void *arg);

/* ---- incident drills (cli_drill.c, collector/drill) ------------------- */

#define STORE_DRILL_NAME_MAX 64
#define STORE_DRILL_SCOPE_MAX 160

/* An agent release being rolled out (collector/release.h): the signed
 * bundle's number, the release in it, and how far the rings got. state
 * is "pilot", "stable", "halted" or "done"; why says what halted it. */
#define STORE_RELEASE_MAX 32
struct store_release {
	uint64_t id; /* the bundle's version: agent-<id>.ewb */
	char release[STORE_RELEASE_MAX + 1];
	char channel[8]; /* the ring it started in: pilot | stable */
	bool rollback;
	char state[8];
	char why[256];
	uint64_t size;	      /* of the signed bundle */
	uint64_t queued;      /* stable ring: agents offered it so far */
	int64_t created_us;
	int64_t pilot_us;     /* pilot ring offered (0: not yet) */
	int64_t stable_us;    /* stable ring began (0: not yet) */
	int64_t ended_us;     /* halted or done */
};

/* Adds or replaces the release of r->id. -ENOTSUP on a backend without
 * releases. */
EW_MUST_CHECK
int store_release_put(struct store *st, const struct store_release *r);
/* Every release, newest first. */
EW_MUST_CHECK
int store_release_list(struct store *st,
		       void (*cb)(void *arg, const struct store_release *r),
		       void *arg);

/* A campaign moves planned -> approved -> running -> done, or to aborted
 * from any state before done; a finished one is frozen. */
struct store_drill {
	uint64_t id;
	char name[STORE_DRILL_NAME_MAX + 1];
	char organiser[STORE_USER_MAX + 1];
	char scenario[64];
	char scope[STORE_DRILL_SCOPE_MAX + 1]; /* school:CODE | commune:NAME */
	int64_t window_start_us, window_end_us;
	char state[12];
	char approver[STORE_USER_MAX + 1]; /* "" until approved */
	int64_t approved_us, started_us, ended_us; /* 0: not yet */
	char ended_by[STORE_USER_MAX + 1];
	int64_t created_us;
};

/* One PC a campaign targeted, with why it did not take part. */
struct store_drill_target {
	uint64_t campaign;
	char agent[EVENT_AGENT_MAX + 1];
	char school[STORE_CODE_MAX + 1];
	char status[16]; /* queued | aborted | stale | revoked */
	uint64_t command, abort_command; /* 0: none */
	int64_t at_us;
	/* Read only: from the commands table, the agent's drill events
	 * and the PC's drill alerts; 0: the stage was not reached. */
	int64_t issued_us, sent_us, abort_sent_us;
	int64_t injected_us, av_checked_us, cleaned_us;
	bool av_removed, clean_verified;
	int64_t alert_us, ack_us, resolved_us;
	/* detected: the collector stored the PC's drill-flagged finding;
	 * forwarded: every SOC destination confirmed the first drill alert
	 * (forwarded_dests of them). */
	int64_t detected_us, forwarded_us;
	int forwarded_dests;
};

/* -EEXIST when the name is taken. */
EW_MUST_CHECK
int store_drill_add(struct store *st, const struct store_drill *d,
		    uint64_t *id);
/* -ENOENT when there is no such campaign. */
EW_MUST_CHECK
int store_drill_get(struct store *st, const char *name,
		    struct store_drill *out);
/* Moves a campaign from one state to another; -ESTALE when it was no
 * longer in `from`, -EIO when the database refused (an approval by the
 * organiser, a finished campaign). `who` is the approver or the person
 * who ended it. */
EW_MUST_CHECK
int store_drill_transition(struct store *st, uint64_t id, const char *from,
			   const char *to, const char *who);
/* Adds or updates a target; a zero command keeps the stored one. */
EW_MUST_CHECK
int store_drill_target_put(struct store *st,
			   const struct store_drill_target *t);
/* The campaigns that started within [from_us, end_us), oldest first
 * (the reports' drill section). -ENOTSUP on a backend without drills. */
EW_MUST_CHECK
int store_drill_list(struct store *st, int64_t from_us, int64_t end_us,
		     void (*cb)(void *arg, const struct store_drill *d),
		     void *arg);
EW_MUST_CHECK
int store_drill_targets(struct store *st, uint64_t campaign,
			void (*cb)(void *arg,
				   const struct store_drill_target *t),
			void *arg);

/* Whether this collector runs the scheduled job named job (the daily
 * snapshot, the silence sweep, release steps) now. Several collectors
 * may share one store, and each job must run on one of them at a time,
 * or a silent PC is alerted once per collector. SQLite: always true (one
 * collector per file). PostgreSQL: a session advisory lock per job on the
 * admin connection, kept until that connection ends; the collector that
 * holds it stays the job's runner, and when it dies (its connection
 * closes) the next collector to ask takes the job over. Ask before every
 * run: a lost connection loses the lock. */
EW_MUST_CHECK
int store_lead(struct store *st, const char *job, bool *leading);
/* Every campaign, planned ones included, newest first, at most
 * STORE_DRILL_ALL_MAX (the console's list). -ENOTSUP on a backend
 * without drills. */
#define STORE_DRILL_ALL_MAX 1000
EW_MUST_CHECK
int store_drill_all(struct store *st,
		    void (*cb)(void *arg, const struct store_drill *d),
		    void *arg);

/* A red-team window is a campaign whose scenario is "red-team": no
 * command goes to any PC; a human red team attacks for real and records
 * each action. target_kind is "host" (an agent id or hostname) or
 * "school" (a school code). */
#define STORE_TECHNIQUE_MAX 9 /* T1234.567 */
#define STORE_ACTION_TEXT_MAX 400
struct store_redteam_action {
	uint64_t id; /* filled by the store */
	uint64_t campaign;
	int64_t at_us;
	char target_kind[8];
	char target[STORE_NAME_MAX + 1];
	char technique[STORE_TECHNIQUE_MAX + 1];
	char description[STORE_ACTION_TEXT_MAX + 1];
	char recorded_by[STORE_USER_MAX + 1];
	int64_t created_us; /* filled by the store */
};

/* An alert raised in a red-team window on a PC of its scope, as the
 * matching reads it. */
struct store_redteam_alert {
	uint64_t id;
	char agent[EVENT_AGENT_MAX + 1];
	char hostname[STORE_NAME_MAX + 1];
	char school[STORE_CODE_MAX + 1];
	char title[200];
	int64_t first_us, ack_us; /* ack_us 0: not acknowledged */
};

/* Adds n actions to a campaign, all or none (one transaction): an
 * import never leaves half a file behind. -ENOTSUP on a backend without
 * red-team windows. */
EW_MUST_CHECK
int store_redteam_actions_add(struct store *st,
			      const struct store_redteam_action *a,
			      size_t n);
/* A campaign's actions, oldest first. */
EW_MUST_CHECK
int store_redteam_actions(struct store *st, uint64_t campaign,
			  void (*cb)(void *arg,
				     const struct store_redteam_action *a),
			  void *arg);
/* The alerts whose first time lies in the campaign's window (which an
 * abort ends early), on the PCs of its scope (school:CODE or
 * commune:NAME), oldest first. */
EW_MUST_CHECK
int store_redteam_alerts(struct store *st, uint64_t campaign,
			 void (*cb)(void *arg,
				    const struct store_redteam_alert *a),
			 void *arg);

/* Current wall-clock time in microseconds. */
int64_t store_now_us(void);

/* Shared by the backends, so that both store the same things the same way:
 * whether an event kind's latest value is a host's state (host_state),
 * and the clamp of a far-future ts (STORE_MAX_FUTURE_SKEW_US): it sets
 * ev->ts to now and returns the agent's value, or 0 when ts is
 * believable. */
bool store_is_state_kind(const char *kind);
int64_t store_clamp_future_ts(struct event *ev, int64_t now);
/* The log line for n events of agent's batch that the clamp stored at
 * the receive time (nothing when n is 0). */
void store_warn_clamped(const char *agent, long long n);

#endif
