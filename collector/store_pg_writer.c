/* store_pg_writer: the writer thread of the PostgreSQL backend. It takes
 * whole queued batches (group commit) and stores them in one transaction:
 * each event once by its (agent, boot, seq), the host states it updates,
 * the alerts it raises and their forward-queue rows. The batch callbacks
 * run after the COMMIT, so an ack always means stored. Between batches it
 * keeps the monthly partitions ahead of the clock and applies retention.
 * Nothing here takes the admin lock. */
#include "collector/store_pg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/check.h"
#include "common/log.h"

#define PRUNE_STEP_ROWS 5000
#define DAY_US 86400000000LL
/* Partition creation by several collectors takes turns on this advisory
 * lock ("ewparts" in ASCII). */
#define PARTITION_LOCK_KEY "31093353232822387"

/* ---- monthly partitions ------------------------------------------------- */

/* The first microsecond of the month `add` months after the one holding
 * us (UTC). */
int64_t pg_month_start_us(int64_t us, int add, int *year, int *month)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	int m = tm.tm_year * 12 + tm.tm_mon + add;
	struct tm start = {.tm_year = m / 12, .tm_mon = m % 12, .tm_mday = 1};
	if (year)
		*year = start.tm_year + 1900;
	if (month)
		*month = start.tm_mon + 1;
	return (int64_t)timegm(&start) * 1000000;
}

int pg_create_partition(struct pg_conn *w, int64_t now, int add)
{
	int year, month;
	int64_t from = pg_month_start_us(now, add, &year, &month);
	int64_t to = pg_month_start_us(now, add + 1, NULL, NULL);
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE IF NOT EXISTS events_y%04dm%02d PARTITION OF "
		 "events FOR VALUES FROM (%lld) TO (%lld)",
		 year, month, (long long)from, (long long)to);
	return pg_exec(w, sql);
}

/* The month of now and the next one exist before any event of theirs
 * comes; at open, the previous month too (a late import, a test). */
static int ensure_partitions(struct pg_store *s, int64_t now)
{
	if (now < s->partition_until_us - DAY_US)
		return 0;
	bool first = s->partition_until_us == 0;
	int rc = pg_exec(&s->writer, "BEGIN; SELECT pg_advisory_xact_lock("
				     PARTITION_LOCK_KEY ")");
	for (int add = first ? -1 : 0; rc == 0 && add <= 1; add++)
		rc = pg_create_partition(&s->writer, now, add);
	rc = pg_end(&s->writer, rc);
	if (rc == 0)
		s->partition_until_us = pg_month_start_us(now, 2, NULL, NULL);
	return rc;
}

/* ---- one batch ------------------------------------------------------------ */

/* One event, one statement: the key goes in first, and when it is already
 * there (a resend) the CTE stores nothing; otherwise the event, and, for a
 * state kind ($11), the host's state, newest by the collector's receive
 * time, never the agent's ts. Returns the number of keys inserted. */
static const char event_store[] =
	"WITH k AS (INSERT INTO event_keys(agent, boot, seq, received)"
	" VALUES($1, $2, $3, $5) ON CONFLICT DO NOTHING RETURNING 1),"
	" e AS (INSERT INTO events(agent, boot, seq, ts, received, kind, sev,"
	" drill, body, agent_ts) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10"
	" FROM k),"
	" h AS (INSERT INTO host_state(agent, kind, ts, sev, drill, body,"
	" received, agent_ts) SELECT $1, $6, $4, $7, $8, $9, $5, $10 FROM k"
	" WHERE $11::boolean ON CONFLICT(agent, kind) DO UPDATE"
	" SET ts = excluded.ts, sev = excluded.sev, drill = excluded.drill,"
	" body = excluded.body, received = excluded.received,"
	" agent_ts = excluded.agent_ts"
	" WHERE excluded.received >= host_state.received)"
	" SELECT count(*) FROM k";

/* Events go to the server in a pipeline of this many statements, then a
 * sync: no round trip per event, and few enough results waiting that
 * neither side's socket buffer fills while the other writes. */
#define PIPELINE_CHUNK 200

static int prepare_event_store(struct pg_conn *w)
{
	if (w->prepared)
		return 0;
	PGresult *r = PQprepare(w->db, "event_store", event_store, 0, NULL);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK
			 ? 0
			 : pg_failed(w, r, "PREPARE event_store");
	PQclear(r);
	w->prepared = rc == 0;
	return rc;
}

static void event_args(struct pg_args *a, const struct event *ev,
		       int64_t now, int64_t agent_ts)
{
	a->n = 0;
	pg_arg_text(a, ev->agent);
	pg_arg_int(a, (long long)ev->boot);
	pg_arg_int(a, (long long)ev->seq);
	pg_arg_int(a, (long long)ev->ts);
	pg_arg_int(a, now);
	pg_arg_text(a, ev->kind);
	pg_arg_int(a, ev->sev);
	pg_arg_int(a, ev->drill);
	pg_arg_bytea(a, ev->body, ev->body_len);
	if (agent_ts != 0)
		pg_arg_int(a, agent_ts);
	else
		pg_arg_text(a, NULL);
	pg_arg_text(a, store_is_state_kind(ev->kind) ? "t" : "f");
}

/* Stores evs[0..n) in one pipeline; inserted[i] tells which were new. */
static int store_chunk(struct pg_store *s, struct event *evs,
		       const int64_t *agent_ts, size_t n, int64_t now,
		       bool *inserted)
{
	struct pg_conn *w = &s->writer;
	int rc = prepare_event_store(w);
	if (rc != 0)
		return rc;
	if (PQenterPipelineMode(w->db) != 1)
		return pg_failed(w, NULL, "pipeline mode");
	struct pg_args a;
	size_t sent = 0;
	for (; sent < n; sent++) {
		event_args(&a, &evs[sent], now, agent_ts[sent]);
		if (PQsendQueryPrepared(w->db, "event_store", a.n, a.v, a.len,
					a.fmt, 0) != 1)
			break;
	}
	if (PQpipelineSync(w->db) != 1 || sent < n)
		rc = -EAGAIN;
	for (size_t i = 0; i < sent; i++) {
		PGresult *r = PQgetResult(w->db);
		if (r == NULL) { /* the connection broke */
			rc = -EAGAIN;
			break;
		}
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			inserted[i] = pg_int(r, 0, 0) > 0;
		else if (rc == 0 && PQresultStatus(r) != PGRES_PIPELINE_ABORTED)
			rc = pg_failed(w, r, "event_store");
		else if (rc == 0)
			rc = -EIO;
		PQclear(r);
		/* Each statement's results end with a NULL. */
		while ((r = PQgetResult(w->db)) != NULL)
			PQclear(r);
	}
	if (w->db != NULL && rc != -EAGAIN) {
		PGresult *r;
		/* Up to the sync, which ends the pipeline's results. */
		while ((r = PQgetResult(w->db)) != NULL) {
			bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
			PQclear(r);
			if (sync)
				break;
		}
		if (PQexitPipelineMode(w->db) != 1)
			rc = pg_failed(w, NULL, "pipeline mode");
	} else if (w->db != NULL) {
		pg_disconnect(w); /* mid-pipeline: start afresh */
	}
	return rc;
}

static int touch_agent(struct pg_store *s, const struct event *last,
		       int64_t now, long long clamped)
{
	struct pg_args a = {0};
	pg_arg_int(&a, now);
	pg_arg_int(&a, (long long)last->boot);
	pg_arg_text(&a, last->agent);
	pg_arg_int(&a, clamped);
	return pg_run(&s->writer,
		      "UPDATE agents SET last_seen = $1, last_boot = $2,"
		      " clamped = clamped + $4 WHERE id = $3",
		      &a, NULL, NULL, NULL);
}

/* The events of one batch: stored in pipelined chunks, then the alerts
 * of those that were new, all in the caller's transaction. */
static int write_batch(struct pg_store *s, struct store_batch *b, int64_t now)
{
	long long clamped = 0;
	int rc = 0;
	b->stored = b->dup = 0;
	for (size_t off = 0; rc == 0 && off < b->count; off += PIPELINE_CHUNK) {
		size_t n = b->count - off < PIPELINE_CHUNK ? b->count - off
							   : PIPELINE_CHUNK;
		int64_t agent_ts[PIPELINE_CHUNK];
		bool inserted[PIPELINE_CHUNK] = {false};
		for (size_t i = 0; i < n; i++)
			agent_ts[i] = store_clamp_future_ts(&b->events[off + i],
							    now);
		rc = store_chunk(s, &b->events[off], agent_ts, n, now, inserted);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			if (!inserted[i]) {
				b->dup++;
				continue;
			}
			b->stored++;
			if (agent_ts[i] != 0)
				clamped++;
			if (s->opts.alert_fn)
				rc = pg_raise_alerts(s, &s->writer,
						     &b->events[off + i], now);
		}
	}
	if (clamped > 0)
		log_warn("store: agent %s sent %lld event(s) stamped more than "
			 "%lld s ahead of the collector's clock; stored at the "
			 "receive time and flagged",
			 b->events[0].agent, clamped,
			 STORE_MAX_FUTURE_SKEW_US / 1000000);
	/* A batch comes from one connection, hence one agent. */
	if (rc == 0 && b->count > 0)
		rc = touch_agent(s, &b->events[b->count - 1], now, clamped);
	return rc;
}

static int write_batches(struct pg_store *s,
			 const struct store_batch_queue *list)
{
	int64_t now = store_now_us();
	int rc = ensure_partitions(s, now);
	if (rc == 0)
		rc = pg_exec(&s->writer, "BEGIN");
	struct store_batch *b;
	for (b = STAILQ_FIRST(list); rc == 0 && b; b = STAILQ_NEXT(b, link))
		rc = write_batch(s, b, now);
	rc = pg_end(&s->writer, rc);
	if (rc != 0)
		log_err("store: writing to PostgreSQL failed (%s); the batches "
			"are not acked and agents will resend them",
			rc == -EAGAIN ? "server unreachable" : "statement error");
	return rc;
}

/* ---- retention ------------------------------------------------------------- */

struct partition_list {
	int n;
	char names[64][64];
};

static int read_partition(void *arg, const PGresult *res, int row)
{
	struct partition_list *l = arg;
	if (l->n == 64)
		return 1;
	pg_text(l->names[l->n++], sizeof(l->names[0]), res, row, 0);
	return 0;
}

/* Whole months older than every retention are dropped, the cheap way
 * that leaves no dead rows; the rows of a shorter retention inside kept
 * months are deleted a step at a time; the exactly-once keys go with
 * the months they covered. */
static void drop_old_partitions(struct pg_store *s, int64_t cutoff)
{
	struct partition_list l = {0};
	if (pg_run(&s->writer,
		   "SELECT c.relname FROM pg_inherits i JOIN pg_class c"
		   " ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass"
		   " ORDER BY c.relname",
		   NULL, read_partition, &l, NULL) != 0)
		return;
	for (int i = 0; i < l.n; i++) {
		int year, month;
		if (sscanf(l.names[i], "events_y%4dm%2d", &year, &month) != 2)
			continue;
		struct tm end = {.tm_year = year - 1900, .tm_mon = month};
		if ((int64_t)timegm(&end) * 1000000 > cutoff)
			continue;
		char sql[128];
		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s",
			 l.names[i]);
		if (pg_exec(&s->writer, sql) == 0)
			log_info("store: retention dropped partition %s",
				 l.names[i]);
	}
	struct pg_args a = {0};
	pg_arg_int(&a, cutoff);
	pg_arg_int(&a, PRUNE_STEP_ROWS);
	if (pg_run(&s->writer,
		   "DELETE FROM event_keys WHERE ctid IN (SELECT ctid FROM"
		   " event_keys WHERE received < $1 LIMIT $2)",
		   &a, NULL, NULL, NULL) != 0)
		log_warn("store: pruning old event keys failed");
}

static void prune_step(struct pg_store *s)
{
	int64_t now = store_now_us();
	if (now - s->last_prune_us < STORE_HOUSEKEEP_INTERVAL_US)
		return;
	s->last_prune_us = now;
	int low = s->opts.retention_days, high = s->opts.high_severity_days;
	if (low > 0 && high > 0)
		drop_old_partitions(s, now - (int64_t)(low > high ? low : high) *
						    DAY_US);
	const struct {
		const char *sql;
		int days;
	} steps[] = {
		{"DELETE FROM events WHERE id IN (SELECT id FROM events"
		 " WHERE received < $1 AND sev < $2 LIMIT $3)", low},
		{"DELETE FROM events WHERE id IN (SELECT id FROM events"
		 " WHERE received < $1 AND sev >= $2 LIMIT $3)", high},
	};
	for (size_t i = 0; i < 2; i++) {
		if (steps[i].days <= 0)
			continue;
		struct pg_args a = {0};
		long long n = 0;
		pg_arg_int(&a, now - (int64_t)steps[i].days * DAY_US);
		pg_arg_int(&a, s->opts.high_severity);
		pg_arg_int(&a, PRUNE_STEP_ROWS);
		if (pg_run(&s->writer, steps[i].sql, &a, NULL, NULL, &n) != 0)
			log_warn("store: retention prune failed");
		else if (n > 0)
			log_debug("store: pruned %lld expired events", n);
		/* A full step means more to do: come back soon. */
		if (n == PRUNE_STEP_ROWS)
			s->last_prune_us = 0;
	}
}

/* ---- the thread ----------------------------------------------------------- */

static int writer_write(void *backend, struct store_batch_queue *take)
{
	return write_batches(backend, take);
}

/* After a failed commit the connection is likely gone: the next commit
 * reconnects, and retention waits for it. */
static void writer_housekeep(void *backend, int status)
{
	if (status == 0)
		prune_step(backend);
}

static void writer_released(void *backend)
{
	alloc_free(backend);
}

const struct store_writer_ops pg_writer_ops = {
	.write = writer_write,
	.housekeep = writer_housekeep,
	.released = writer_released,
};

void pg_submit(struct store *st, struct store_batch *batch)
{
	store_writer_submit(&pg_impl(st)->w, batch);
}

size_t pg_backlog(const struct store *st)
{
	return store_writer_backlog(&pg_impl(st)->w);
}

int pg_writer_start(struct pg_store *s, uv_loop_t *loop, char *err,
		    size_t errlen)
{
	int rc = pg_connect(&s->writer, err, errlen);
	if (rc == 0)
		rc = ensure_partitions(s, store_now_us());
	if (rc != 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "cannot create event partitions");
		return rc;
	}
	return store_writer_start(&s->w, loop);
}

/* Commits what is queued, hands it back, stops the thread. */
void pg_writer_stop(struct pg_store *s)
{
	store_writer_stop(&s->w);
	pg_disconnect(&s->writer);
}
