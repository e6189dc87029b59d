#include "collector/store_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/alloc.h"
#include "common/log.h"

/* Kinds whose latest value is the state of a host (the scorer reads
 * host_state, never the event log). */
static const char *const state_kinds[] = {
	"av.status", "backup.status", "backup.restore_test", "scan.summary",
	"agent.inventory", "agent.start", "net.sensor",
	/* Kept for as long as the PC exists, whatever the retention: the
	 * province's way back into a school's backups. */
	"backup.escrow",
};

/* Each entry moves the schema one version up; never edit a shipped one. */
static const char *const migrations[] = {
	/* 1 */
	"CREATE TABLE schools("
	"  code TEXT PRIMARY KEY, name TEXT NOT NULL, commune TEXT NOT NULL,"
	"  level INTEGER NOT NULL, expected_pcs INTEGER NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE tokens("
	"  hash BLOB PRIMARY KEY, school TEXT NOT NULL REFERENCES schools(code),"
	"  uses_left INTEGER NOT NULL, expires INTEGER NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE agents("
	"  id TEXT PRIMARY KEY, school TEXT NOT NULL REFERENCES schools(code),"
	"  hostname TEXT NOT NULL, cert_sha256 TEXT NOT NULL,"
	"  enrolled INTEGER NOT NULL, revoked INTEGER,"
	"  last_seen INTEGER, last_boot INTEGER);"
	"CREATE INDEX agents_school ON agents(school);"
	"CREATE TABLE events("
	"  id INTEGER PRIMARY KEY, agent TEXT NOT NULL, boot INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL, ts INTEGER NOT NULL, received INTEGER NOT NULL,"
	"  kind TEXT NOT NULL, sev INTEGER NOT NULL, drill INTEGER NOT NULL,"
	"  body BLOB, UNIQUE(agent, boot, seq));"
	"CREATE TABLE host_state("
	"  agent TEXT NOT NULL, kind TEXT NOT NULL, ts INTEGER NOT NULL,"
	"  sev INTEGER NOT NULL, drill INTEGER NOT NULL, body BLOB,"
	"  PRIMARY KEY(agent, kind)) WITHOUT ROWID;",
	/* 2 */
	"CREATE TABLE commands("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, agent TEXT NOT NULL,"
	"  type TEXT NOT NULL, issued INTEGER NOT NULL, expires INTEGER NOT NULL,"
	"  frame BLOB, sent INTEGER);"
	"CREATE INDEX commands_pending ON commands(sent, agent);",
	/* 3 */
	"CREATE TABLE score_snapshots("
	"  day TEXT NOT NULL, scope TEXT NOT NULL, key TEXT NOT NULL,"
	"  score REAL NOT NULL, pcs INTEGER NOT NULL,"
	"  PRIMARY KEY(scope, key, day)) WITHOUT ROWID;",
	/* 4 */
	"CREATE TABLE alerts("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, rule TEXT NOT NULL,"
	"  title TEXT NOT NULL, category TEXT NOT NULL, kind TEXT NOT NULL,"
	"  dedupe_key TEXT NOT NULL, agent TEXT NOT NULL, school TEXT NOT NULL,"
	"  severity INTEGER NOT NULL, drill INTEGER NOT NULL,"
	"  first INTEGER NOT NULL, last INTEGER NOT NULL, count INTEGER NOT NULL,"
	"  state TEXT NOT NULL, ack_by TEXT, ack INTEGER, resolved_by TEXT,"
	"  resolved INTEGER, evidence TEXT NOT NULL, src_ip TEXT NOT NULL,"
	"  file_path TEXT NOT NULL, file_hash TEXT NOT NULL);"
	"CREATE INDEX alerts_key ON alerts(dedupe_key, state);"
	"CREATE INDEX alerts_state ON alerts(state, id);"
	"CREATE TABLE forward_queue(dest TEXT NOT NULL, alert INTEGER NOT NULL,"
	"  PRIMARY KEY(dest, alert)) WITHOUT ROWID;",
	/* dead letters: alerts a SOC destination refused for good */
	"CREATE TABLE IF NOT EXISTS dead_letters("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, dest TEXT NOT NULL,"
	"  alert INTEGER NOT NULL, status INTEGER NOT NULL,"
	"  reason TEXT NOT NULL, at INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS dead_letters_dest ON dead_letters(dest, id);",
	/* 6: the collector's receive time orders host state; an agent's ts
	 * too far ahead of it is clamped, and the agent's own value is kept
	 * in agent_ts (NULL when it was not clamped). Rows pinned by a
	 * far-future ts before this version are healed the same way, with
	 * the 10-minute bound of that time (STORE_MAX_FUTURE_SKEW_US). */
	"ALTER TABLE events ADD COLUMN agent_ts INTEGER;"
	"ALTER TABLE host_state ADD COLUMN received INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE host_state ADD COLUMN agent_ts INTEGER;"
	"ALTER TABLE agents ADD COLUMN clamped INTEGER NOT NULL DEFAULT 0;"
	"UPDATE events SET agent_ts = ts, ts = received"
	"  WHERE ts > received + 600000000;"
	"UPDATE host_state SET agent_ts = ts,"
	"  ts = CAST(strftime('%s', 'now') AS INTEGER) * 1000000"
	"  WHERE ts > CAST(strftime('%s', 'now') AS INTEGER) * 1000000"
	"  + 600000000;"
	"UPDATE host_state SET received = ts;",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))
#define PRUNE_STEP_ROWS 500
#define PRUNE_INTERVAL_US (10 * 1000000LL)

/* The statements of write_alert: prepared once on the writer (they run
 * for every alerting event), per call on the admin connection. */
struct alert_stmts {
	sqlite3_stmt *find, *fold, *insert, *queue;
};

struct sqlite_store {
	struct store base;
	struct store_options opts;
	char path[1024];

	/* The admin connection serves every synchronous call. */
	sqlite3 *admin;
	uv_mutex_t admin_lock;

	/* Writer thread and its queues. */
	sqlite3 *writer;
	sqlite3_stmt *insert_event, *upsert_state, *touch_agent;
	sqlite3_stmt *prune_low, *prune_high;
	struct alert_stmts writer_alerts;
	uv_thread_t thread;
	bool has_thread;
	uv_mutex_t lock;
	uv_cond_t wake;
	struct store_batch *pending_head, *pending_tail;
	struct store_batch *done_head, *done_tail;
	size_t backlog; /* events queued or being written */
	bool stopping;
	uv_async_t done_async;
	int64_t last_prune_us;

	/* Checkpoints run on a thread of their own: inside the writer's
	 * commit, a checkpoint's fsyncs would hold every ack (and every
	 * alert on its way to the SOC) for up to seconds. */
	sqlite3 *checkpointer;
	uv_thread_t ckpt_thread;
	bool has_ckpt_thread;
	uv_cond_t ckpt_wake;
};

#define CHECKPOINT_INTERVAL_NS (1000ULL * 1000 * 1000)

static struct sqlite_store *impl(const struct store *st)
{
	return (struct sqlite_store *)st;
}

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		if (err != NULL)
			snprintf(err, errlen, "%s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int open_connection(struct sqlite_store *s, sqlite3 **out, char *err,
			   size_t errlen)
{
	char pragmas[256];
	int rc = sqlite3_open_v2(s->path, out,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					 SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", s->path,
			 *out ? sqlite3_errmsg(*out) : sqlite3_errstr(rc));
		sqlite3_close(*out);
		*out = NULL;
		return -EIO;
	}
	sqlite3_busy_timeout(*out, 10000);
	snprintf(pragmas, sizeof(pragmas),
		 "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;"
		 "PRAGMA foreign_keys=ON; PRAGMA cache_size=-%lld;",
		 s->opts.sync_full ? "FULL" : "NORMAL",
		 s->opts.cache_bytes / 1024);
	if (exec_sql(*out, pragmas, err, errlen) != 0) {
		sqlite3_close(*out);
		*out = NULL;
		return -EIO;
	}
	return 0;
}

static int schema_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int version = 0;
	if (sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return version;
}

static int migrate(sqlite3 *db, char *err, size_t errlen)
{
	int version;
	/* Up to date: nothing to write. A CLI command must not queue for the
	 * write lock behind a busy collector's writer just to learn that. */
	if (schema_version(db) == SCHEMA_VERSION)
		return 0;
	if (exec_sql(db,
		     "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER "
		     "NOT NULL); BEGIN IMMEDIATE;",
		     err, errlen) != 0)
		return -EIO;
	version = schema_version(db);
	if (version > SCHEMA_VERSION) {
		exec_sql(db, "ROLLBACK", NULL, 0);
		snprintf(err, errlen,
			 "database schema version %d is newer than this "
			 "collector (%d): upgrade the collector",
			 version, SCHEMA_VERSION);
		return -EINVAL;
	}
	for (int v = version; v < SCHEMA_VERSION; v++) {
		char bump[96];
		snprintf(bump, sizeof(bump),
			 "INSERT INTO schema_version VALUES(%d)", v + 1);
		if (exec_sql(db, migrations[v], err, errlen) != 0 ||
		    exec_sql(db, bump, err, errlen) != 0) {
			exec_sql(db, "ROLLBACK", NULL, 0);
			return -EIO;
		}
		if (version > 0)
			log_info("store: migrated schema to version %d", v + 1);
	}
	return exec_sql(db, "COMMIT", err, errlen);
}

/* ---- the writer thread ------------------------------------------------- */

static bool is_state_kind(const char *kind)
{
	for (size_t i = 0; i < sizeof(state_kinds) / sizeof(state_kinds[0]); i++)
		if (strcmp(kind, state_kinds[i]) == 0)
			return true;
	return false;
}

/* ev->ts is already clamped (write_batches); agent_ts is what the agent
 * sent when that differs, else 0. */
static int write_event(struct sqlite_store *s, const struct event *ev,
		       int64_t now, int64_t agent_ts, bool *inserted)
{
	sqlite3_stmt *st = s->insert_event;
	sqlite3_bind_text(st, 1, ev->agent, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)ev->boot);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)ev->seq);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)ev->ts);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_text(st, 6, ev->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, ev->sev);
	sqlite3_bind_int(st, 8, ev->drill);
	if (ev->body_len > 0)
		sqlite3_bind_blob(st, 9, ev->body, (int)ev->body_len,
				  SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 9);
	if (agent_ts != 0)
		sqlite3_bind_int64(st, 10, agent_ts);
	else
		sqlite3_bind_null(st, 10);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return rc;
	*inserted = sqlite3_changes(s->writer) > 0;
	if (!*inserted || !is_state_kind(ev->kind))
		return SQLITE_OK;
	st = s->upsert_state;
	sqlite3_bind_text(st, 1, ev->agent, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ev->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)ev->ts);
	sqlite3_bind_int(st, 4, ev->sev);
	sqlite3_bind_int(st, 5, ev->drill);
	if (ev->body_len > 0)
		sqlite3_bind_blob(st, 6, ev->body, (int)ev->body_len,
				  SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int64(st, 7, now);
	if (agent_ts != 0)
		sqlite3_bind_int64(st, 8, agent_ts);
	else
		sqlite3_bind_null(st, 8);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- alerts ------------------------------------------------------------- */

/* Opens an alert, or folds it into the unresolved one with the same key
 * when it comes within the suppression window of that one's last. On
 * db (the writer inside its transaction, or the admin connection). */
static int prepare_alert_stmts(sqlite3 *db, struct alert_stmts *st,
			       unsigned flags)
{
	const struct {
		sqlite3_stmt **stmt;
		const char *sql;
	} all[] = {
		{&st->find, "SELECT id, last FROM alerts WHERE dedupe_key = ?1"
			    " AND state != 'resolved' ORDER BY id DESC LIMIT 1"},
		{&st->fold, "UPDATE alerts SET last = ?1, count = count + 1,"
			    " severity = max(severity, ?2) WHERE id = ?3"},
		{&st->insert,
		 "INSERT INTO alerts(rule, title, category, kind, dedupe_key,"
		 " agent, school, severity, drill, first, last, count, state,"
		 " evidence, src_ip, file_path, file_hash)"
		 " VALUES(?1, ?2, ?3, ?4, ?5, ?6, coalesce((SELECT school FROM"
		 " agents WHERE id = ?6), ?7), ?8, ?9, ?10, ?10, 1, 'open', ?11,"
		 " ?12, ?13, ?14)"},
		{&st->queue, "INSERT INTO forward_queue(dest, alert) VALUES(?1, ?2)"},
	};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (sqlite3_prepare_v3(db, all[i].sql, -1, flags, all[i].stmt,
				       NULL) != SQLITE_OK)
			return SQLITE_ERROR;
	return SQLITE_OK;
}

static void finalize_alert_stmts(struct alert_stmts *st)
{
	sqlite3_finalize(st->find);
	sqlite3_finalize(st->fold);
	sqlite3_finalize(st->insert);
	sqlite3_finalize(st->queue);
	memset(st, 0, sizeof(*st));
}

/* Steps a statement once and resets it for the next use. */
static int step_once(sqlite3_stmt *q)
{
	int rc = sqlite3_step(q);
	sqlite3_reset(q);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Opens an alert, or folds it into the unresolved one with the same key
 * when it comes within the suppression window of that one's last. */
static int write_alert(struct sqlite_store *s, struct alert_stmts *st,
		       sqlite3 *db, const struct store_alert *a, int64_t now,
		       bool *created)
{
	sqlite3_stmt *q = st->find;
	int rc;
	*created = false;
	sqlite3_bind_text(q, 1, a->dedupe_key, -1, SQLITE_STATIC);
	int64_t id = 0, last = 0;
	if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		id = sqlite3_column_int64(q, 0);
		last = sqlite3_column_int64(q, 1);
	}
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return rc;
	if (id != 0 && now - last < a->suppress_s * 1000000LL) {
		q = st->fold;
		sqlite3_bind_int64(q, 1, now);
		sqlite3_bind_int(q, 2, a->severity);
		sqlite3_bind_int64(q, 3, id);
		return step_once(q);
	}
	q = st->insert;
	sqlite3_bind_text(q, 1, a->rule, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, a->title, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, a->category, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, a->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, a->dedupe_key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, a->agent, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 7, a->school, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 8, a->severity);
	sqlite3_bind_int(q, 9, a->drill);
	sqlite3_bind_int64(q, 10, now);
	sqlite3_bind_text(q, 11, a->evidence[0] ? a->evidence : "{}", -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(q, 12, a->src_ip, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 13, a->file_path, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 14, a->file_hash, -1, SQLITE_STATIC);
	if ((rc = step_once(q)) != SQLITE_OK)
		return rc;
	id = sqlite3_last_insert_rowid(db);
	for (size_t i = 0; i < s->opts.nforward_dests; i++) {
		q = st->queue;
		sqlite3_bind_text(q, 1, s->opts.forward_dests[i], -1,
				  SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, id);
		if ((rc = step_once(q)) != SQLITE_OK)
			return rc;
	}
	*created = true;
	return SQLITE_OK;
}

static int raise_alerts(struct sqlite_store *s, const struct event *ev,
			int64_t now)
{
	struct store_alert alerts[4];
	size_t n = s->opts.alert_fn(s->opts.alert_arg, ev, alerts, 4);
	for (size_t i = 0; i < n; i++) {
		bool created;
		int rc = write_alert(s, &s->writer_alerts, s->writer, &alerts[i],
				     now, &created);
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

/* An agent's clock, or the agent itself, may lie: a ts far ahead of our
 * receive time would otherwise win every later "which is newest" and pin
 * the PC's state. Clamps ev->ts to now and returns the agent's value, or
 * 0 when the ts is believable. */
static int64_t clamp_future_ts(struct event *ev, int64_t now)
{
	if ((int64_t)ev->ts <= now + STORE_MAX_FUTURE_SKEW_US &&
	    (int64_t)ev->ts >= 0)
		return 0;
	int64_t agent_ts = (int64_t)ev->ts;
	ev->ts = (uint64_t)now;
	return agent_ts;
}

static int write_batches(struct sqlite_store *s, struct store_batch *list)
{
	int64_t now = store_now_us();
	int rc = sqlite3_exec(s->writer, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	for (struct store_batch *b = list; rc == SQLITE_OK && b; b = b->next) {
		long long clamped = 0;
		b->stored = b->dup = 0;
		for (size_t i = 0; rc == SQLITE_OK && i < b->count; i++) {
			bool inserted = false;
			int64_t agent_ts = clamp_future_ts(&b->events[i], now);
			rc = write_event(s, &b->events[i], now, agent_ts,
					 &inserted);
			if (inserted)
				b->stored++;
			else
				b->dup++;
			if (inserted && agent_ts != 0)
				clamped++;
			if (rc == SQLITE_OK && inserted && s->opts.alert_fn)
				rc = raise_alerts(s, &b->events[i], now);
		}
		if (clamped > 0)
			log_warn("store: agent %s sent %lld event(s) stamped more "
				 "than %lld s ahead of the collector's clock; "
				 "stored at the receive time and flagged",
				 b->events[0].agent, clamped,
				 STORE_MAX_FUTURE_SKEW_US / 1000000);
		/* A batch comes from one connection, hence one agent. */
		if (rc == SQLITE_OK && b->count > 0) {
			const struct event *last = &b->events[b->count - 1];
			sqlite3_bind_int64(s->touch_agent, 1, now);
			sqlite3_bind_int64(s->touch_agent, 2,
					   (sqlite3_int64)last->boot);
			sqlite3_bind_text(s->touch_agent, 3, last->agent, -1,
					  SQLITE_STATIC);
			sqlite3_bind_int64(s->touch_agent, 4, clamped);
			rc = sqlite3_step(s->touch_agent) == SQLITE_DONE
				     ? SQLITE_OK
				     : SQLITE_ERROR;
			sqlite3_reset(s->touch_agent);
		}
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->writer, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		log_err("store: writing %s failed: %s; the batches are not "
			"acked and agents will resend them",
			s->path, sqlite3_errmsg(s->writer));
		sqlite3_exec(s->writer, "ROLLBACK", NULL, NULL, NULL);
		return rc == SQLITE_FULL ? -ENOSPC : -EIO;
	}
	return 0;
}

/* Deletes expired events a few hundred rows at a time, between batches, so
 * that retention never stalls ingest. */
static void prune_step(struct sqlite_store *s)
{
	int64_t now = store_now_us();
	if (now - s->last_prune_us < PRUNE_INTERVAL_US)
		return;
	s->last_prune_us = now;
	struct {
		sqlite3_stmt *st;
		int days;
	} steps[] = {
		{s->prune_low, s->opts.retention_days},
		{s->prune_high, s->opts.high_severity_days},
	};
	for (size_t i = 0; i < 2; i++) {
		if (steps[i].days <= 0)
			continue;
		sqlite3_bind_int64(steps[i].st, 1,
				   now - (int64_t)steps[i].days * 86400000000LL);
		sqlite3_bind_int(steps[i].st, 2, s->opts.high_severity);
		sqlite3_bind_int(steps[i].st, 3, PRUNE_STEP_ROWS);
		if (sqlite3_step(steps[i].st) != SQLITE_DONE)
			log_warn("store: retention prune failed: %s",
				 sqlite3_errmsg(s->writer));
		else if (sqlite3_changes(s->writer) > 0)
			log_debug("store: pruned %d expired events",
				  sqlite3_changes(s->writer));
		/* A full step means more to do: come back soon. */
		if (sqlite3_changes(s->writer) == PRUNE_STEP_ROWS)
			s->last_prune_us = 0;
		sqlite3_reset(steps[i].st);
	}
}

static void writer_main(void *arg)
{
	struct sqlite_store *s = arg;
	uv_mutex_lock(&s->lock);
	for (;;) {
		while (s->pending_head == NULL && !s->stopping) {
			/* Wake up now and then to prune even when idle. */
			if (uv_cond_timedwait(&s->wake, &s->lock,
					      PRUNE_INTERVAL_US * 1000) != 0) {
				uv_mutex_unlock(&s->lock);
				prune_step(s);
				uv_mutex_lock(&s->lock);
			}
		}
		if (s->pending_head == NULL && s->stopping)
			break;
		/* Take whole batches up to the event budget: whatever queued
		 * while the last commit ran goes into this one (group commit). */
		struct store_batch *take = s->pending_head, *last = take;
		size_t events = take->count;
		while (last->next != NULL &&
		       events + last->next->count <=
			       (size_t)s->opts.batch_max_events) {
			last = last->next;
			events += last->count;
		}
		s->pending_head = last->next;
		if (s->pending_head == NULL)
			s->pending_tail = NULL;
		last->next = NULL;
		uv_mutex_unlock(&s->lock);

		int status = write_batches(s, take);
		prune_step(s);

		uv_mutex_lock(&s->lock);
		for (struct store_batch *b = take; b; b = b->next)
			b->status = status;
		if (s->done_tail)
			s->done_tail->next = take;
		else
			s->done_head = take;
		s->done_tail = last;
		s->backlog -= events;
		uv_mutex_unlock(&s->lock);
		uv_async_send(&s->done_async);
		uv_mutex_lock(&s->lock);
	}
	uv_mutex_unlock(&s->lock);
}

/* Runs on the loop: hands each committed batch back to its owner. */
static void deliver_done(uv_async_t *async)
{
	struct sqlite_store *s = async->data;
	uv_mutex_lock(&s->lock);
	struct store_batch *list = s->done_head;
	s->done_head = s->done_tail = NULL;
	uv_mutex_unlock(&s->lock);
	while (list != NULL) {
		struct store_batch *next = list->next;
		if (list->cb)
			list->cb(list->arg, list->status, list->stored,
				 list->dup);
		store_batch_free(list);
		list = next;
	}
}

static void sqlite_submit(struct store *st, struct store_batch *batch)
{
	struct sqlite_store *s = impl(st);
	batch->next = NULL;
	uv_mutex_lock(&s->lock);
	if (s->pending_tail)
		s->pending_tail->next = batch;
	else
		s->pending_head = batch;
	s->pending_tail = batch;
	s->backlog += batch->count;
	uv_cond_signal(&s->wake);
	uv_mutex_unlock(&s->lock);
}

static size_t sqlite_backlog(const struct store *st)
{
	struct sqlite_store *s = impl(st);
	uv_mutex_lock(&s->lock);
	size_t n = s->backlog;
	uv_mutex_unlock(&s->lock);
	return n;
}

static int prepare_writer(struct sqlite_store *s, char *err, size_t errlen)
{
	struct {
		sqlite3_stmt **st;
		const char *sql;
	} stmts[] = {
		{&s->insert_event,
		 "INSERT OR IGNORE INTO events(agent, boot, seq, ts, received,"
		 " kind, sev, drill, body, agent_ts)"
		 " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"},
		/* Newest by the collector's receive time, never the agent's
		 * ts: in one batch, later events come later in seq order. */
		{&s->upsert_state,
		 "INSERT INTO host_state(agent, kind, ts, sev, drill, body,"
		 " received, agent_ts) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"
		 " ON CONFLICT(agent, kind) DO UPDATE"
		 " SET ts=excluded.ts, sev=excluded.sev, drill=excluded.drill,"
		 " body=excluded.body, received=excluded.received,"
		 " agent_ts=excluded.agent_ts"
		 " WHERE excluded.received >= host_state.received"},
		{&s->touch_agent,
		 "UPDATE agents SET last_seen=?1, last_boot=?2,"
		 " clamped=clamped+?4 WHERE id=?3"},
		{&s->prune_low,
		 "DELETE FROM events WHERE id IN (SELECT id FROM events"
		 " WHERE received < ?1 AND sev < ?2 ORDER BY id LIMIT ?3)"},
		{&s->prune_high,
		 "DELETE FROM events WHERE id IN (SELECT id FROM events"
		 " WHERE received < ?1 AND sev >= ?2 ORDER BY id LIMIT ?3)"},
	};
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		if (sqlite3_prepare_v3(s->writer, stmts[i].sql, -1,
				       SQLITE_PREPARE_PERSISTENT, stmts[i].st,
				       NULL) != SQLITE_OK) {
			snprintf(err, errlen, "preparing statement: %s",
				 sqlite3_errmsg(s->writer));
			return -EIO;
		}
	}
	if (prepare_alert_stmts(s->writer, &s->writer_alerts,
				SQLITE_PREPARE_PERSISTENT) != SQLITE_OK) {
		snprintf(err, errlen, "preparing statement: %s",
			 sqlite3_errmsg(s->writer));
		return -EIO;
	}
	return 0;
}

static void checkpoint_main(void *arg)
{
	struct sqlite_store *s = arg;
	for (;;) {
		uv_mutex_lock(&s->lock);
		if (!s->stopping)
			uv_cond_timedwait(&s->ckpt_wake, &s->lock,
					  CHECKPOINT_INTERVAL_NS);
		bool stop = s->stopping;
		uv_mutex_unlock(&s->lock);
		/* PASSIVE never waits for the writer or readers; what it cannot
		 * copy back now, the next pass will. */
		sqlite3_wal_checkpoint_v2(s->checkpointer, NULL,
					  SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		if (stop)
			break;
	}
}

static int start_checkpointer(struct sqlite_store *s, char *err,
			      size_t errlen)
{
	int rc = open_connection(s, &s->checkpointer, err, errlen);
	if (rc == 0)
		rc = exec_sql(s->writer, "PRAGMA wal_autocheckpoint=0", err, errlen);
	if (rc == 0)
		rc = exec_sql(s->admin, "PRAGMA wal_autocheckpoint=0", err, errlen);
	if (rc != 0)
		return rc;
	if (uv_thread_create(&s->ckpt_thread, checkpoint_main, s) != 0) {
		snprintf(err, errlen, "cannot start the checkpoint thread");
		return -EAGAIN;
	}
	s->has_ckpt_thread = true;
	return 0;
}

static void sqlite_close(struct store *st);

/* The event store holds every PC's reports: only the collector's user may
 * read it. SQLite creates a database 0644 less the umask and gives its
 * -wal and -shm the database's mode, so the file is created 0600 here
 * before SQLite sees it, and one made by an older version, with its
 * companions, is brought down to 0600 with a log line. */
static int restrict_db_files(const char *path, char *err, size_t errlen)
{
	static const char *const companions[] = {"-wal", "-shm", "-journal"};
	struct stat sb;
	if (path[0] == '\0' || path[0] == ':' || strncmp(path, "file:", 5) == 0)
		return 0; /* in memory, or a URI whose options SQLite owns */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		int rc = -errno;
		snprintf(err, errlen, "cannot open database %s: %s", path,
			 uv_strerror(rc));
		return rc;
	}
	if (fstat(fd, &sb) == 0 && (sb.st_mode & 077) != 0) {
		if (fchmod(fd, 0600) != 0) {
			int rc = -errno;
			close(fd);
			snprintf(err, errlen,
				 "database %s is readable by others (mode %03o) "
				 "and cannot be made 0600: %s",
				 path, (unsigned)(sb.st_mode & 0777),
				 uv_strerror(rc));
			return rc;
		}
		log_warn("store: %s was readable by others (mode %03o); made "
			 "it 0600", path, (unsigned)(sb.st_mode & 0777));
	}
	close(fd);
	for (size_t i = 0; i < sizeof(companions) / sizeof(companions[0]); i++) {
		char side[sizeof(((struct sqlite_store *)0)->path) + 16];
		snprintf(side, sizeof(side), "%s%s", path, companions[i]);
		if (stat(side, &sb) == 0 && (sb.st_mode & 077) != 0 &&
		    chmod(side, 0600) == 0)
			log_warn("store: %s was readable by others (mode %03o); "
				 "made it 0600", side,
				 (unsigned)(sb.st_mode & 0777));
	}
	return 0;
}

static int sqlite_open(const struct store_options *opts, const char *location,
		       uv_loop_t *loop, struct store **out, char *err,
		       size_t errlen)
{
	struct sqlite_store *s = alloc_zeroed(1, sizeof(*s));
	int rc;
	*out = NULL;
	if (s == NULL)
		return -ENOMEM;
	s->base.backend = &store_sqlite_backend;
	s->opts = *opts;
	if (s->opts.batch_max_events <= 0)
		s->opts.batch_max_events = 5000;
	snprintf(s->path, sizeof(s->path), "%s", location);
	uv_mutex_init(&s->admin_lock);
	uv_mutex_init(&s->lock);
	uv_cond_init(&s->wake);
	uv_cond_init(&s->ckpt_wake);
	if ((rc = restrict_db_files(s->path, err, errlen)) != 0 ||
	    (rc = open_connection(s, &s->admin, err, errlen)) != 0 ||
	    (rc = migrate(s->admin, err, errlen)) != 0)
		goto fail;
	if (loop != NULL) {
		if ((rc = open_connection(s, &s->writer, err, errlen)) != 0 ||
		    (rc = prepare_writer(s, err, errlen)) != 0 ||
		    (rc = start_checkpointer(s, err, errlen)) != 0)
			goto fail;
		rc = uv_async_init(loop, &s->done_async, deliver_done);
		if (rc != 0)
			goto fail;
		s->done_async.data = s;
		rc = uv_thread_create(&s->thread, writer_main, s);
		if (rc != 0) {
			uv_close((uv_handle_t *)&s->done_async, NULL);
			goto fail;
		}
		s->has_thread = true;
	}
	*out = &s->base;
	return 0;
fail:
	sqlite_close(&s->base);
	return rc;
}

static void free_store(uv_handle_t *handle)
{
	alloc_free(handle->data);
}

static void sqlite_close(struct store *st)
{
	struct sqlite_store *s = impl(st);
	bool async_live = s->has_thread;
	if (s->has_thread) {
		uv_mutex_lock(&s->lock);
		s->stopping = true;
		uv_cond_signal(&s->wake);
		uv_mutex_unlock(&s->lock);
		uv_thread_join(&s->thread);
		deliver_done(&s->done_async);
	}
	if (s->has_ckpt_thread) {
		uv_mutex_lock(&s->lock);
		s->stopping = true;
		uv_cond_signal(&s->ckpt_wake);
		uv_mutex_unlock(&s->lock);
		uv_thread_join(&s->ckpt_thread);
	}
	sqlite3_close(s->checkpointer);
	sqlite3_stmt *stmts[] = {s->insert_event, s->upsert_state,
				 s->touch_agent, s->prune_low, s->prune_high};
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++)
		sqlite3_finalize(stmts[i]);
	finalize_alert_stmts(&s->writer_alerts);
	sqlite3_close(s->writer);
	sqlite3_close(s->admin);
	uv_mutex_destroy(&s->admin_lock);
	uv_mutex_destroy(&s->lock);
	uv_cond_destroy(&s->wake);
	uv_cond_destroy(&s->ckpt_wake);
	if (async_live)
		uv_close((uv_handle_t *)&s->done_async, free_store);
	else
		alloc_free(s);
}

/* ---- synchronous calls on the admin connection --------------------------- */

static int prepare_admin(struct sqlite_store *s, const char *sql,
			 sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(s->admin, sql, -1, st, NULL) != SQLITE_OK) {
		log_err("store: %s", sqlite3_errmsg(s->admin));
		return -EIO;
	}
	return 0;
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static int sqlite_school_add(struct store *st, const struct store_school *sc)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *q;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s,
			       "INSERT INTO schools(code, name, commune, level,"
			       " expected_pcs, created) VALUES(?1,?2,?3,?4,?5,?6)"
			       " ON CONFLICT(code) DO UPDATE SET name=?2,"
			       " commune=?3, level=?4, expected_pcs=?5",
			       &q);
	if (rc == 0) {
		sqlite3_bind_text(q, 1, sc->code, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, sc->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, sc->commune, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 4, sc->level);
		sqlite3_bind_int(q, 5, sc->expected_pcs);
		sqlite3_bind_int64(q, 6, store_now_us());
		rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static const char school_select[] =
	"SELECT s.code, s.name, s.commune, s.level, s.expected_pcs,"
	" (SELECT count(*) FROM agents a WHERE a.school = s.code"
	"  AND a.revoked IS NULL) FROM schools s";

static void read_school(sqlite3_stmt *q, struct store_school *out)
{
	copy_text(out->code, sizeof(out->code), q, 0);
	copy_text(out->name, sizeof(out->name), q, 1);
	copy_text(out->commune, sizeof(out->commune), q, 2);
	out->level = sqlite3_column_int(q, 3);
	out->expected_pcs = sqlite3_column_int(q, 4);
	out->enrolled_pcs = sqlite3_column_int(q, 5);
}

static int sqlite_school_get(struct store *st, const char *code,
			     struct store_school *out)
{
	struct sqlite_store *s = impl(st);
	char sql[512];
	sqlite3_stmt *q;
	snprintf(sql, sizeof(sql), "%s WHERE s.code = ?1", school_select);
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s, sql, &q);
	if (rc == 0) {
		sqlite3_bind_text(q, 1, code, -1, SQLITE_STATIC);
		int step = sqlite3_step(q);
		if (step == SQLITE_ROW)
			read_school(q, out);
		rc = step == SQLITE_ROW ? 0 : step == SQLITE_DONE ? -ENOENT : -EIO;
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static int sqlite_school_list(struct store *st,
			      void (*cb)(void *, const struct store_school *),
			      void *arg)
{
	struct sqlite_store *s = impl(st);
	char sql[512];
	sqlite3_stmt *q;
	snprintf(sql, sizeof(sql), "%s ORDER BY s.commune, s.code",
		 school_select);
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s, sql, &q);
	if (rc == 0) {
		int step;
		while ((step = sqlite3_step(q)) == SQLITE_ROW) {
			struct store_school sc;
			read_school(q, &sc);
			cb(arg, &sc);
		}
		rc = step == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static int sqlite_token_add(struct store *st, const unsigned char hash[32],
			    const char *school, int uses, int64_t expires_us)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *q;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s,
			       "INSERT INTO tokens(hash, school, uses_left,"
			       " expires, created) VALUES(?1,?2,?3,?4,?5)",
			       &q);
	if (rc == 0) {
		sqlite3_bind_blob(q, 1, hash, 32, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, school, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 3, uses);
		sqlite3_bind_int64(q, 4, expires_us);
		sqlite3_bind_int64(q, 5, store_now_us());
		int step = sqlite3_step(q);
		rc = step == SQLITE_DONE ? 0
		     : step == SQLITE_CONSTRAINT ? -ENOENT /* no such school */
						 : -EIO;
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static int sqlite_token_consume(struct store *st, const unsigned char hash[32],
				enum store_token_result *result, char *school)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *q = NULL;
	int rc;
	*result = STORE_TOKEN_UNKNOWN;
	uv_mutex_lock(&s->admin_lock);
	/* Check and decrement in one write transaction, so two agents
	 * racing for the last use cannot both win. */
	rc = exec_sql(s->admin, "BEGIN IMMEDIATE", NULL, 0);
	if (rc == 0)
		rc = prepare_admin(s,
				   "SELECT school, uses_left, expires FROM tokens"
				   " WHERE hash = ?1",
				   &q);
	if (rc == 0) {
		sqlite3_bind_blob(q, 1, hash, 32, SQLITE_STATIC);
		int step = sqlite3_step(q);
		if (step == SQLITE_ROW) {
			copy_text(school, STORE_CODE_MAX + 1, q, 0);
			if (sqlite3_column_int(q, 1) <= 0)
				*result = STORE_TOKEN_USED;
			else if (sqlite3_column_int64(q, 2) < store_now_us())
				*result = STORE_TOKEN_EXPIRED;
			else
				*result = STORE_TOKEN_OK;
		} else if (step != SQLITE_DONE) {
			rc = -EIO;
		}
		sqlite3_finalize(q);
		q = NULL;
	}
	if (rc == 0 && *result == STORE_TOKEN_OK) {
		rc = prepare_admin(s,
				   "UPDATE tokens SET uses_left = uses_left - 1"
				   " WHERE hash = ?1",
				   &q);
		if (rc == 0) {
			sqlite3_bind_blob(q, 1, hash, 32, SQLITE_STATIC);
			rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -EIO;
			sqlite3_finalize(q);
		}
	}
	if (rc == 0)
		rc = exec_sql(s->admin, "COMMIT", NULL, 0);
	else
		exec_sql(s->admin, "ROLLBACK", NULL, 0);
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static int sqlite_agent_add(struct store *st, const char *id,
			    const char *school, const char *hostname,
			    const char *cert_sha256)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *q;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s,
			       "INSERT INTO agents(id, school, hostname,"
			       " cert_sha256, enrolled) VALUES(?1,?2,?3,?4,?5)",
			       &q);
	if (rc == 0) {
		sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, school, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, hostname, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, cert_sha256, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 5, store_now_us());
		rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static int sqlite_agent_revoke(struct store *st, const char *id)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *q;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s,
			       "UPDATE agents SET revoked = ?2 WHERE id = ?1"
			       " AND revoked IS NULL",
			       &q);
	if (rc == 0) {
		sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, store_now_us());
		rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -EIO;
		if (rc == 0 && sqlite3_changes(s->admin) == 0)
			rc = -ENOENT;
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static int sqlite_agent_allowed(struct store *st, const char *id,
				bool *allowed)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *q;
	*allowed = false;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s,
			       "SELECT revoked IS NULL FROM agents WHERE id = ?1",
			       &q);
	if (rc == 0) {
		sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
		int step = sqlite3_step(q);
		if (step == SQLITE_ROW)
			*allowed = sqlite3_column_int(q, 0) != 0;
		rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

/* Agents and one time of theirs, from a query with one time parameter:
 * revocations since a moment, or silence since one. */
static int list_agent_times(struct sqlite_store *s, const char *sql,
			    int64_t param,
			    void (*cb)(void *, const char *, int64_t),
			    void *arg)
{
	sqlite3_stmt *q;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s, sql, &q);
	if (rc == 0) {
		int step;
		sqlite3_bind_int64(q, 1, param);
		while ((step = sqlite3_step(q)) == SQLITE_ROW) {
			char id[EVENT_AGENT_MAX + 1];
			copy_text(id, sizeof(id), q, 0);
			cb(arg, id, sqlite3_column_int64(q, 1));
		}
		rc = step == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static int sqlite_agents_revoked_since(struct store *st, int64_t since_us,
				       void (*cb)(void *, const char *, int64_t),
				       void *arg)
{
	return list_agent_times(impl(st),
				"SELECT id, revoked FROM agents WHERE revoked > ?1"
				" ORDER BY revoked",
				since_us, cb, arg);
}

static int sqlite_agents_silent(struct store *st, int64_t before_us,
				void (*cb)(void *, const char *, int64_t),
				void *arg)
{
	return list_agent_times(impl(st),
				"SELECT id, coalesce(last_seen, enrolled) FROM"
				" agents WHERE revoked IS NULL AND"
				" coalesce(last_seen, enrolled) < ?1",
				before_us, cb, arg);
}

static int sqlite_agent_list(struct store *st, const char *school,
			     void (*cb)(void *, const struct store_agent *),
			     void *arg)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *q;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(
		s,
		"SELECT id, school, hostname, enrolled, coalesce(last_seen, 0),"
		" revoked IS NOT NULL,"
		" (SELECT count(*) FROM events e WHERE e.agent = a.id), clamped"
		" FROM agents a WHERE ?1 IS NULL OR school = ?1"
		" ORDER BY school, hostname",
		&q);
	if (rc == 0) {
		int step;
		if (school)
			sqlite3_bind_text(q, 1, school, -1, SQLITE_STATIC);
		while ((step = sqlite3_step(q)) == SQLITE_ROW) {
			struct store_agent a;
			copy_text(a.id, sizeof(a.id), q, 0);
			copy_text(a.school, sizeof(a.school), q, 1);
			copy_text(a.hostname, sizeof(a.hostname), q, 2);
			a.enrolled_us = sqlite3_column_int64(q, 3);
			a.last_seen_us = sqlite3_column_int64(q, 4);
			a.revoked = sqlite3_column_int(q, 5) != 0;
			a.events = sqlite3_column_int64(q, 6);
			a.clamped = sqlite3_column_int64(q, 7);
			cb(arg, &a);
		}
		rc = step == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static int sqlite_count_events(struct store *st, const char *agent,
			       uint64_t boot, long long *count)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *q;
	*count = 0;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s,
			       "SELECT count(*) FROM events WHERE (?1 IS NULL OR"
			       " agent = ?1) AND (?2 = 0 OR boot = ?2)",
			       &q);
	if (rc == 0) {
		if (agent)
			sqlite3_bind_text(q, 1, agent, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)boot);
		if (sqlite3_step(q) == SQLITE_ROW)
			*count = sqlite3_column_int64(q, 0);
		else
			rc = -EIO;
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static int sqlite_recent_events(struct store *st, const char *agent, int limit,
				void (*cb)(void *, const struct store_event_row *),
				void *arg)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *q;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s,
			       "SELECT agent, boot, seq, ts, kind, sev, drill, body,"
			       " received, coalesce(agent_ts, 0) FROM events"
			       " WHERE ?1 IS NULL OR agent = ?1"
			       " ORDER BY id DESC LIMIT ?2",
			       &q);
	if (rc == 0) {
		int step;
		if (agent)
			sqlite3_bind_text(q, 1, agent, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 2, limit);
		while ((step = sqlite3_step(q)) == SQLITE_ROW) {
			struct store_event_row r = {.ev = {.v = EVENT_VERSION}};
			copy_text(r.ev.agent, sizeof(r.ev.agent), q, 0);
			r.ev.boot = (uint64_t)sqlite3_column_int64(q, 1);
			r.ev.seq = (uint64_t)sqlite3_column_int64(q, 2);
			r.ev.ts = (uint64_t)sqlite3_column_int64(q, 3);
			copy_text(r.ev.kind, sizeof(r.ev.kind), q, 4);
			r.ev.sev = (uint8_t)sqlite3_column_int(q, 5);
			r.ev.drill = sqlite3_column_int(q, 6) != 0;
			r.ev.body = (char *)sqlite3_column_blob(q, 7);
			r.ev.body_len = (size_t)sqlite3_column_bytes(q, 7);
			r.received_us = sqlite3_column_int64(q, 8);
			r.agent_ts_us = sqlite3_column_int64(q, 9);
			cb(arg, &r);
		}
		rc = step == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static int sqlite_command_add(struct store *st, const char *agent,
			      const char *type, int64_t issued_us,
			      int64_t expires_us, uint64_t *id)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *q;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s,
			       "INSERT INTO commands(agent, type, issued, expires)"
			       " VALUES(?1,?2,?3,?4)",
			       &q);
	if (rc == 0) {
		sqlite3_bind_text(q, 1, agent, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, type, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, issued_us);
		sqlite3_bind_int64(q, 4, expires_us);
		rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -EIO;
		*id = (uint64_t)sqlite3_last_insert_rowid(s->admin);
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static int sqlite_command_update(struct store *st, const char *sql,
				 uint64_t id, const char *blob, size_t len)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *q;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s, sql, &q);
	if (rc == 0) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
		if (blob)
			sqlite3_bind_blob(q, 2, blob, (int)len, SQLITE_STATIC);
		else
			sqlite3_bind_int64(q, 2, store_now_us());
		rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static int sqlite_command_set_frame(struct store *st, uint64_t id,
				    const char *frame, size_t len)
{
	return sqlite_command_update(
		st, "UPDATE commands SET frame = ?2 WHERE id = ?1", id, frame,
		len);
}

static int sqlite_command_mark_sent(struct store *st, uint64_t id)
{
	return sqlite_command_update(
		st, "UPDATE commands SET sent = ?2 WHERE id = ?1", id, NULL, 0);
}

static int sqlite_commands_pending(struct store *st, const char *agent,
				   void (*cb)(void *, uint64_t, const char *,
					      const char *, size_t),
				   void *arg)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *q;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s,
			       "SELECT id, agent, frame FROM commands WHERE sent"
			       " IS NULL AND frame IS NOT NULL AND expires > ?2"
			       " AND (?1 IS NULL OR agent = ?1) ORDER BY id"
			       " LIMIT 1000",
			       &q);
	if (rc == 0) {
		int step;
		if (agent)
			sqlite3_bind_text(q, 1, agent, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, store_now_us());
		while ((step = sqlite3_step(q)) == SQLITE_ROW) {
			char who[EVENT_AGENT_MAX + 1];
			copy_text(who, sizeof(who), q, 1);
			cb(arg, (uint64_t)sqlite3_column_int64(q, 0), who,
			   sqlite3_column_blob(q, 2),
			   (size_t)sqlite3_column_bytes(q, 2));
		}
		rc = step == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static int sqlite_host_states(struct store *st, const char *school,
			      void (*cb)(void *, const struct store_host_row *),
			      void *arg)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *q;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(
		s,
		"SELECT a.id, a.school, a.hostname, coalesce(a.last_seen, 0),"
		" coalesce(h.kind, ''), coalesce(h.ts, 0), h.body"
		" FROM agents a LEFT JOIN host_state h ON h.agent = a.id"
		" WHERE a.revoked IS NULL AND (?1 IS NULL OR a.school = ?1)"
		" ORDER BY a.school, a.id",
		&q);
	if (rc == 0) {
		int step;
		if (school)
			sqlite3_bind_text(q, 1, school, -1, SQLITE_STATIC);
		while ((step = sqlite3_step(q)) == SQLITE_ROW) {
			struct store_host_row r = {
				.agent = (const char *)sqlite3_column_text(q, 0),
				.school = (const char *)sqlite3_column_text(q, 1),
				.hostname = (const char *)sqlite3_column_text(q, 2),
				.last_seen_us = sqlite3_column_int64(q, 3),
				.kind = (const char *)sqlite3_column_text(q, 4),
				.ts_us = sqlite3_column_int64(q, 5),
				.body = sqlite3_column_blob(q, 6),
				.body_len = (size_t)sqlite3_column_bytes(q, 6),
			};
			cb(arg, &r);
		}
		rc = step == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static int sqlite_snapshot_put(struct store *st,
			       const struct store_snapshot *snap)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *q;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s,
			       "INSERT OR REPLACE INTO score_snapshots(day, scope,"
			       " key, score, pcs) VALUES(?1, ?2, ?3, ?4, ?5)",
			       &q);
	if (rc == 0) {
		sqlite3_bind_text(q, 1, snap->day, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, snap->scope, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, snap->key, -1, SQLITE_STATIC);
		sqlite3_bind_double(q, 4, snap->score);
		sqlite3_bind_int(q, 5, snap->pcs);
		rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static int sqlite_snapshot_list(struct store *st, const char *scope,
				const char *key, int limit,
				void (*cb)(void *, const struct store_snapshot *),
				void *arg)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *q;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s,
			       "SELECT day, scope, key, score, pcs FROM"
			       " score_snapshots WHERE scope = ?1 AND key = ?2"
			       " ORDER BY day DESC LIMIT ?3",
			       &q);
	if (rc == 0) {
		int step;
		sqlite3_bind_text(q, 1, scope, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 3, limit);
		while ((step = sqlite3_step(q)) == SQLITE_ROW) {
			struct store_snapshot sn;
			copy_text(sn.day, sizeof(sn.day), q, 0);
			copy_text(sn.scope, sizeof(sn.scope), q, 1);
			copy_text(sn.key, sizeof(sn.key), q, 2);
			sn.score = sqlite3_column_double(q, 3);
			sn.pcs = sqlite3_column_int(q, 4);
			cb(arg, &sn);
		}
		rc = step == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static int sqlite_alert_raise(struct store *st, const struct store_alert *a,
			      bool *created)
{
	struct sqlite_store *s = impl(st);
	uv_mutex_lock(&s->admin_lock);
	struct alert_stmts stmts = {0};
	int rc = prepare_alert_stmts(s->admin, &stmts, 0);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->admin, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = write_alert(s, &stmts, s->admin, a, store_now_us(), created);
	finalize_alert_stmts(&stmts);
	rc = sqlite3_exec(s->admin, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK",
			  NULL, NULL, NULL) == SQLITE_OK && rc == SQLITE_OK
		     ? 0
		     : -EIO;
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

#define ALERT_COLUMNS                                                        \
	"a.id, a.rule, a.title, a.category, a.kind, a.dedupe_key, a.agent,"  \
	" a.school, coalesce(g.hostname, ''), coalesce(c.commune, ''),"      \
	" a.severity, a.drill, a.first, a.last, a.count, a.state,"           \
	" coalesce(a.ack_by, ''), coalesce(a.ack, 0),"                       \
	" coalesce(a.resolved_by, ''), coalesce(a.resolved, 0), a.evidence," \
	" a.src_ip, a.file_path, a.file_hash"
#define ALERT_JOINS                                           \
	" FROM alerts a LEFT JOIN agents g ON g.id = a.agent" \
	" LEFT JOIN schools c ON c.code = a.school"

static void read_alert(sqlite3_stmt *q, struct store_alert *a)
{
	memset(a, 0, sizeof(*a));
	a->id = (uint64_t)sqlite3_column_int64(q, 0);
	copy_text(a->rule, sizeof(a->rule), q, 1);
	copy_text(a->title, sizeof(a->title), q, 2);
	copy_text(a->category, sizeof(a->category), q, 3);
	copy_text(a->kind, sizeof(a->kind), q, 4);
	copy_text(a->dedupe_key, sizeof(a->dedupe_key), q, 5);
	copy_text(a->agent, sizeof(a->agent), q, 6);
	copy_text(a->school, sizeof(a->school), q, 7);
	copy_text(a->hostname, sizeof(a->hostname), q, 8);
	copy_text(a->commune, sizeof(a->commune), q, 9);
	a->severity = sqlite3_column_int(q, 10);
	a->drill = sqlite3_column_int(q, 11) != 0;
	a->first_us = sqlite3_column_int64(q, 12);
	a->last_us = sqlite3_column_int64(q, 13);
	a->count = sqlite3_column_int64(q, 14);
	copy_text(a->state, sizeof(a->state), q, 15);
	copy_text(a->ack_by, sizeof(a->ack_by), q, 16);
	a->ack_us = sqlite3_column_int64(q, 17);
	copy_text(a->resolved_by, sizeof(a->resolved_by), q, 18);
	a->resolved_us = sqlite3_column_int64(q, 19);
	copy_text(a->evidence, sizeof(a->evidence), q, 20);
	copy_text(a->src_ip, sizeof(a->src_ip), q, 21);
	copy_text(a->file_path, sizeof(a->file_path), q, 22);
	copy_text(a->file_hash, sizeof(a->file_hash), q, 23);
}

/* Runs a SELECT of ALERT_COLUMNS whose parameters bind() sets. */
static int list_alerts(struct sqlite_store *s, const char *sql,
		       void (*bind)(sqlite3_stmt *, const void *),
		       const void *bind_arg,
		       void (*cb)(void *, const struct store_alert *),
		       void *arg)
{
	sqlite3_stmt *q;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s, sql, &q);
	if (rc == 0) {
		int step;
		struct store_alert *a = alloc_bytes(sizeof(*a));
		bind(q, bind_arg);
		while (a && (step = sqlite3_step(q)) == SQLITE_ROW) {
			read_alert(q, a);
			cb(arg, a);
		}
		rc = a == NULL ? -ENOMEM : step == SQLITE_DONE ? 0 : -EIO;
		alloc_free(a);
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

struct alert_filter {
	const char *state, *school, *dest;
	int limit;
	uint64_t after_id;
};

static void bind_filter(sqlite3_stmt *q, const void *arg)
{
	const struct alert_filter *f = arg;
	if (f->state)
		sqlite3_bind_text(q, 1, f->state, -1, SQLITE_STATIC);
	if (f->school)
		sqlite3_bind_text(q, 2, f->school, -1, SQLITE_STATIC);
	if (f->dest)
		sqlite3_bind_text(q, 3, f->dest, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 4, f->limit);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)f->after_id);
}

static int sqlite_alert_list(struct store *st, const char *state,
			     const char *school, int limit,
			     void (*cb)(void *, const struct store_alert *),
			     void *arg)
{
	struct alert_filter f = {.state = state, .school = school,
				 .limit = limit};
	return list_alerts(impl(st),
			   "SELECT " ALERT_COLUMNS ALERT_JOINS
			   " WHERE (?1 IS NULL OR a.state = ?1) AND (?2 IS NULL"
			   " OR a.school = ?2) ORDER BY a.id DESC LIMIT ?4",
			   bind_filter, &f, cb, arg);
}

static int sqlite_forward_next(struct store *st, const char *dest,
			       uint64_t after_id, int limit,
			       void (*cb)(void *, const struct store_alert *),
			       void *arg)
{
	struct alert_filter f = {.dest = dest, .limit = limit,
				 .after_id = after_id};
	return list_alerts(impl(st),
			   "SELECT " ALERT_COLUMNS ALERT_JOINS
			   " JOIN forward_queue f ON f.alert = a.id"
			   " WHERE f.dest = ?3 AND f.alert > ?5"
			   " ORDER BY f.alert LIMIT ?4",
			   bind_filter, &f, cb, arg);
}

/* One statement with text and integer parameters on the admin
 * connection; *changes gets the rows it changed. */
static int admin_exec(struct sqlite_store *s, const char *sql,
		      const char *t1, const char *t2, int64_t i3, int64_t i4,
		      int *changes)
{
	sqlite3_stmt *q;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s, sql, &q);
	if (rc == 0) {
		sqlite3_bind_text(q, 1, t1, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, t2, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, i3);
		sqlite3_bind_int64(q, 4, i4);
		rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -EIO;
		if (changes)
			*changes = sqlite3_changes(s->admin);
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static int sqlite_alert_set_state(struct store *st, uint64_t id,
				  const char *state, const char *who)
{
	struct sqlite_store *s = impl(st);
	bool resolve = strcmp(state, "resolved") == 0;
	if (!resolve && strcmp(state, "acknowledged") != 0)
		return -EINVAL;
	int changes = 0;
	int rc = admin_exec(
		s,
		resolve ? "UPDATE alerts SET state = ?1, resolved_by = ?2,"
			  " resolved = ?4 WHERE id = ?3 AND state != 'resolved'"
			: "UPDATE alerts SET state = ?1, ack_by = ?2, ack = ?4"
			  " WHERE id = ?3 AND state = 'open'",
		state, who, (int64_t)id, store_now_us(), &changes);
	if (rc != 0 || changes > 0)
		return rc;
	/* Nothing changed: no such alert, or already past that state. */
	long long n = 0;
	sqlite3_stmt *q;
	uv_mutex_lock(&s->admin_lock);
	if (prepare_admin(s, "SELECT count(*) FROM alerts WHERE id = ?1", &q) == 0) {
		sqlite3_bind_int64(q, 1, (int64_t)id);
		if (sqlite3_step(q) == SQLITE_ROW)
			n = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return n == 0 ? -ENOENT : -EALREADY;
}

static int sqlite_forward_done(struct store *st, const char *dest,
			       uint64_t id)
{
	return admin_exec(impl(st),
			  "DELETE FROM forward_queue WHERE dest = ?1 AND"
			  " alert <= ?3",
			  dest, NULL, (int64_t)id, 0, NULL);
}

static int sqlite_forward_depth(struct store *st, const char *dest,
				long long *n)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *q;
	*n = 0;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s, "SELECT count(*) FROM forward_queue WHERE"
				  " dest = ?1", &q);
	if (rc == 0) {
		sqlite3_bind_text(q, 1, dest, -1, SQLITE_STATIC);
		rc = sqlite3_step(q) == SQLITE_ROW ? 0 : -EIO;
		*n = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

/* ---- dead letters ------------------------------------------------------- */

static int sqlite_dead_letter_add(struct store *st,
				  const struct store_dead_letter *dl,
				  const struct event *notice)
{
	struct sqlite_store *s = impl(st);
	struct alert_stmts stmts = {0};
	sqlite3_stmt *q = NULL;
	int64_t now = store_now_us();
	uv_mutex_lock(&s->admin_lock);
	int rc = sqlite3_exec(s->admin, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->admin,
					"INSERT INTO dead_letters(dest, alert,"
					" status, reason, at)"
					" VALUES(?1, ?2, ?3, ?4, ?5)",
					-1, &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(q, 1, dl->dest, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, (int64_t)dl->alert);
		sqlite3_bind_int(q, 3, dl->status);
		sqlite3_bind_text(q, 4, dl->reason, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 5, now);
		rc = step_once(q);
		sqlite3_finalize(q);
		q = NULL;
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->admin,
					"DELETE FROM forward_queue WHERE dest = ?1"
					" AND alert = ?2",
					-1, &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(q, 1, dl->dest, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, (int64_t)dl->alert);
		rc = step_once(q);
		sqlite3_finalize(q);
	}
	/* The local alert about the refusal, in the same transaction: a
	 * parked alert never goes unannounced. */
	if (rc == SQLITE_OK && notice && s->opts.alert_fn) {
		struct store_alert *alerts = alloc_zeroed(4, sizeof(*alerts));
		size_t n = alerts ? s->opts.alert_fn(s->opts.alert_arg, notice,
						     alerts, 4)
				  : 0;
		rc = alerts ? prepare_alert_stmts(s->admin, &stmts, 0)
			    : SQLITE_NOMEM;
		for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
			bool created;
			rc = write_alert(s, &stmts, s->admin, &alerts[i], now,
					 &created);
		}
		finalize_alert_stmts(&stmts);
		alloc_free(alerts);
	}
	rc = sqlite3_exec(s->admin, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK",
			  NULL, NULL, NULL) == SQLITE_OK && rc == SQLITE_OK
		     ? 0
		     : -EIO;
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static int sqlite_dead_letter_list(struct store *st, const char *dest,
				   int limit,
				   void (*cb)(void *,
					      const struct store_dead_letter *),
				   void *arg)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *q;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s, "SELECT d.id, d.dest, d.alert, d.status,"
				  " d.reason, d.at, coalesce(a.rule, ''),"
				  " coalesce(a.agent, '') FROM dead_letters d"
				  " LEFT JOIN alerts a ON a.id = d.alert"
				  " WHERE ?1 IS NULL OR d.dest = ?1"
				  " ORDER BY d.id DESC LIMIT ?2", &q);
	if (rc == 0) {
		int step;
		struct store_dead_letter dl;
		if (dest)
			sqlite3_bind_text(q, 1, dest, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 2, limit);
		while ((step = sqlite3_step(q)) == SQLITE_ROW) {
			memset(&dl, 0, sizeof(dl));
			dl.id = (uint64_t)sqlite3_column_int64(q, 0);
			copy_text(dl.dest, sizeof(dl.dest), q, 1);
			dl.alert = (uint64_t)sqlite3_column_int64(q, 2);
			dl.status = sqlite3_column_int(q, 3);
			copy_text(dl.reason, sizeof(dl.reason), q, 4);
			dl.at_us = sqlite3_column_int64(q, 5);
			copy_text(dl.rule, sizeof(dl.rule), q, 6);
			copy_text(dl.agent, sizeof(dl.agent), q, 7);
			cb(arg, &dl);
		}
		rc = step == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

static int sqlite_dead_letter_count(struct store *st, const char *dest,
				    long long *n)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *q;
	*n = 0;
	uv_mutex_lock(&s->admin_lock);
	int rc = prepare_admin(s, "SELECT count(*) FROM dead_letters WHERE"
				  " ?1 IS NULL OR dest = ?1", &q);
	if (rc == 0) {
		if (dest)
			sqlite3_bind_text(q, 1, dest, -1, SQLITE_STATIC);
		rc = sqlite3_step(q) == SQLITE_ROW ? 0 : -EIO;
		*n = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	}
	uv_mutex_unlock(&s->admin_lock);
	return rc;
}

const struct store_backend store_sqlite_backend = {
	.scheme = "sqlite",
	.open = sqlite_open,
	.close = sqlite_close,
	.submit = sqlite_submit,
	.backlog = sqlite_backlog,
	.school_add = sqlite_school_add,
	.school_get = sqlite_school_get,
	.school_list = sqlite_school_list,
	.token_add = sqlite_token_add,
	.token_consume = sqlite_token_consume,
	.agent_add = sqlite_agent_add,
	.agent_revoke = sqlite_agent_revoke,
	.agent_allowed = sqlite_agent_allowed,
	.agents_revoked_since = sqlite_agents_revoked_since,
	.agent_list = sqlite_agent_list,
	.count_events = sqlite_count_events,
	.recent_events = sqlite_recent_events,
	.command_add = sqlite_command_add,
	.command_set_frame = sqlite_command_set_frame,
	.commands_pending = sqlite_commands_pending,
	.command_mark_sent = sqlite_command_mark_sent,
	.host_states = sqlite_host_states,
	.snapshot_put = sqlite_snapshot_put,
	.snapshot_list = sqlite_snapshot_list,
	.alert_raise = sqlite_alert_raise,
	.alert_list = sqlite_alert_list,
	.alert_set_state = sqlite_alert_set_state,
	.forward_next = sqlite_forward_next,
	.forward_done = sqlite_forward_done,
	.forward_depth = sqlite_forward_depth,
	.agents_silent = sqlite_agents_silent,
	.dead_letter_add = sqlite_dead_letter_add,
	.dead_letter_list = sqlite_dead_letter_list,
	.dead_letter_count = sqlite_dead_letter_count,
};
