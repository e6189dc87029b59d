/* Unit tests for collector/store: batched commits and their callbacks,
 * duplicates, host state, retention, the console's officers, sessions,
 * API tokens and audit log, the register of systems, the daily history,
 * reports, drills, red-team windows, releases and the SOC page's
 * figures. Run once on a real SQLite file and once on a real PostgreSQL
 * server (tests/support/pgtest.h), with a real libuv loop, the same cases
 * on both; two collectors on one database are two stores opened on the same
 * URL. The PostgreSQL run adds its own cases (partitions dropped by
 * retention, a server that goes away and comes back, the writer's groups
 * of batches: duplicates, a refused batch, host state, two writers). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <msgpack.h>
#include <sqlite3.h>
#include <uv.h>

#include "collector/score.h"
#include "collector/store.h"
#include "common/alloc.h"
#include "common/wire.h"
#include "tests/support/pgtest.h"
#include "tests/support/testutil.h"

/* path is the store.url: a SQLite file, or a fresh PostgreSQL database
 * per test when on_pg. */
static char dir[512], path[1024];
static bool on_pg;

struct result {
	int calls;
	int status;
	unsigned stored, dup;
};

static void on_commit(void *arg, int status, unsigned stored, unsigned dup)
{
	struct result *r = arg;
	r->calls++;
	r->status = status;
	r->stored += stored;
	r->dup += dup;
}

static struct store *open_store(uv_loop_t *loop, int days, int high_days)
{
	struct store_options o = {.url = path, .cache_bytes = 1 << 20,
				  .batch_max_events = 100, .sync_full = true,
				  .retention_days = days,
				  .high_severity_days = high_days,
				  .high_severity = 7};
	struct store *st;
	char err[256];
	assert_int_equal(store_open(&o, loop, &st, err, sizeof(err)), 0);
	return st;
}

static struct store_batch *batch_of(uint64_t first, int n, int sev,
				    const char *kind, uint64_t ts)
{
	struct store_batch *b = store_batch_new((size_t)n);
	for (int i = 0; i < n; i++) {
		struct event ev = {.v = EVENT_VERSION, .boot = 42,
				   .seq = first + (uint64_t)i, .ts = ts,
				   .sev = (uint8_t)sev};
		snprintf(ev.agent, sizeof(ev.agent), "a-1");
		snprintf(ev.kind, sizeof(ev.kind), "%s", kind);
		assert_int_equal(store_batch_add(b, &ev), 0);
	}
	return b;
}

static void submit_and_wait(uv_loop_t *loop, struct store *st,
			    struct store_batch *b, struct result *r)
{
	int before = r->calls;
	store_submit(st, b, on_commit, r);
	while (r->calls == before)
		uv_run(loop, UV_RUN_ONCE);
}

/* The first column of the first row of sql, read behind the store's
 * back with the backend's own client library; -1 on any failure. */
static long long pg_count_where(const char *sql)
{
	long long n = -1;
	PGconn *db = PQconnectdb(path);
	PGresult *r = PQexec(db, sql);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
		n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	PQfinish(db);
	return n;
}

static long long count_where(const char *sql)
{
	if (on_pg)
		return pg_count_where(sql);
	sqlite3 *db;
	sqlite3_stmt *q;
	long long n = -1;
	sqlite3_open(path, &db);
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return n;
}

/* Runs SQL statements behind the store's back; 0 when all succeeded. */
static int run_sql(const char *sql)
{
	if (!on_pg) {
		sqlite3 *db;
		sqlite3_open(path, &db);
		int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
		sqlite3_close(db);
		return rc;
	}
	PGconn *db = PQconnectdb(path);
	PGresult *r = PQexec(db, sql);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ||
			 PQresultStatus(r) == PGRES_TUPLES_OK
		 ? 0
		 : -1;
	if (rc != 0)
		fprintf(stderr, "# %s", PQerrorMessage(db));
	PQclear(r);
	PQfinish(db);
	return rc;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s", testutil_tempdir("store"));
	if (on_pg)
		pgtest_newdb(path, sizeof(path));
	else
		snprintf(path, sizeof(path), "%s/store.db", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	testutil_rmtree(dir);
	return 0;
}

static void test_commit_duplicates_state_retention(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct result r = {0};
	uv_loop_init(&loop);
	struct store *st = open_store(&loop, 1, 30);

	/* The callback runs after the commit, with what was stored. */
	submit_and_wait(&loop, st, batch_of(1, 10, 1, "agent.heartbeat", 1), &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.stored, 10);
	submit_and_wait(&loop, st, batch_of(11, 5, 9, "scan.match", 2), &r);
	assert_int_equal(r.stored, 15);
	assert_int_equal(store_backlog(st), 0);

	/* A resent batch is acked as duplicates and stored once. */
	submit_and_wait(&loop, st, batch_of(1, 10, 1, "agent.heartbeat", 1), &r);
	assert_int_equal(r.stored, 15);
	assert_int_equal(r.dup, 10);
	long long n;
	assert_int_equal(store_count_events(st, NULL, 0, &n), 0);
	assert_int_equal(n, 15);

	/* host_state keeps the value the collector received last: the
	 * agent's ts does not decide which is newest (finding 7). */
	submit_and_wait(&loop, st, batch_of(100, 1, 2, "av.status", 500), &r);
	submit_and_wait(&loop, st, batch_of(101, 1, 3, "av.status", 400), &r);
	store_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(count_where("SELECT ts FROM host_state WHERE "
				     "kind='av.status'"), 400);

	/* Retention: age everything by three days, reopen, write once. The
	 * low-severity rows go (1 day), the high-severity ones stay (30). */
	assert_int_equal(run_sql("UPDATE events SET received = received - "
				 "3*86400000000"), 0);
	st = open_store(&loop, 1, 30);
	submit_and_wait(&loop, st, batch_of(200, 1, 1, "agent.heartbeat", 9), &r);
	store_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(count_where("SELECT count(*) FROM events WHERE sev < 7"), 1);
	assert_int_equal(count_where("SELECT count(*) FROM events WHERE sev >= 7"), 5);
	assert_int_equal(uv_loop_close(&loop), 0);
}

struct seen_event {
	int n;
	uint64_t ts[8];
	int64_t agent_ts[8];
};

static void on_event(void *arg, const struct store_event_row *row)
{
	struct seen_event *se = arg;
	if (se->n < 8) {
		se->ts[se->n] = row->ev.ts;
		se->agent_ts[se->n] = row->agent_ts_us;
		se->n++;
	}
}

/* Finding 7: an event stamped in the year 2100 must not pin a PC's state.
 * It is stored at the receive time with the agent's ts kept and flagged;
 * the honest report after it becomes the state. */
struct host_av {
	int64_t ts_us, received_us;
};

static void on_host_av(void *arg, const struct store_host_row *r)
{
	struct host_av *av = arg;
	if (strcmp(r->kind, "av.status") == 0) {
		av->ts_us = r->ts_us;
		av->received_us = r->received_us;
	}
}

static void test_future_ts_clamped(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct result r = {0};
	uv_loop_init(&loop);
	struct store *st = open_store(&loop, 0, 0);
	struct store_school sc = {.code = "s1", .name = "s", .commune = "c",
				  .level = 2};
	assert_int_equal(store_school_add(st, &sc), 0);
	assert_int_equal(store_agent_add(st, "a-1", "s1", "pc", "00"), 0);
	const uint64_t y2100 = 4102444800000000ull;
	int64_t before = store_now_us();
	submit_and_wait(&loop, st, batch_of(1, 1, 8, "av.status", y2100), &r);
	int64_t after = store_now_us();
	/* Within the allowed skew: believed, not flagged. */
	uint64_t soon = (uint64_t)after + 5 * 60 * 1000000ull;
	submit_and_wait(&loop, st, batch_of(2, 1, 3, "agent.heartbeat", soon),
			&r);
	uint64_t honest = (uint64_t)after - 1000000;
	submit_and_wait(&loop, st, batch_of(3, 1, 1, "av.status", honest), &r);
	assert_int_equal(r.stored, 3);

	struct seen_event se = {0};
	assert_int_equal(store_recent_events(st, "a-1", 8, on_event, &se), 0);
	assert_int_equal(se.n, 3); /* newest first */
	assert_int_equal(se.ts[0], honest);
	assert_int_equal(se.agent_ts[0], 0);
	assert_int_equal(se.ts[1], soon);
	assert_int_equal(se.agent_ts[1], 0);
	assert_true((int64_t)se.ts[2] >= before && (int64_t)se.ts[2] <= after);
	assert_int_equal(se.agent_ts[2], (int64_t)y2100);
	/* The host state gives both clocks: the rollout judges a PC by the
	 * collector's (collector/release.c). */
	struct host_av av = {0};
	assert_int_equal(store_host_states(st, NULL, on_host_av, &av), 0);
	assert_int_equal(av.ts_us, (int64_t)honest);
	assert_true(av.received_us >= before && av.received_us <= store_now_us());
	store_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(count_where("SELECT ts FROM host_state WHERE "
				     "kind='av.status'"), (long long)honest);
	assert_int_equal(count_where("SELECT count(*) FROM events WHERE "
				     "agent_ts IS NOT NULL"), 1);
	assert_int_equal(count_where("SELECT clamped FROM agents"), 1);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* A database pinned by a far-future ts before the fix is healed by the
 * migration that adds the receive time. */
static void test_migration_heals_pinned_state(void **state)
{
	(void)state;
	struct store *st = open_store(NULL, 0, 0);
	store_close(st);
	sqlite3 *db;
	sqlite3_open(path, &db);
	/* Back to schema 5: the columns of 6 removed, a pinned row added. */
	assert_int_equal(sqlite3_exec(db,
		"DELETE FROM schema_version WHERE version >= 6;"
		"ALTER TABLE events DROP COLUMN agent_ts;"
		"ALTER TABLE host_state DROP COLUMN received;"
		"ALTER TABLE host_state DROP COLUMN agent_ts;"
		"ALTER TABLE agents DROP COLUMN clamped;"
		"INSERT INTO host_state(agent, kind, ts, sev, drill)"
		" VALUES('a-1', 'av.status', 4102444800000000, 8, 0);"
		"INSERT INTO events(agent, boot, seq, ts, received, kind, sev,"
		" drill) VALUES('a-1', 1, 1, 4102444800000000, 1000, 'av.status',"
		" 8, 0);",
		NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	int64_t before = store_now_us();
	st = open_store(NULL, 0, 0);
	store_close(st);
	long long ts = count_where("SELECT ts FROM host_state");
	assert_true(ts >= before - 1000000 && ts <= store_now_us());
	assert_int_equal(count_where("SELECT received FROM host_state"), ts);
	assert_int_equal(count_where("SELECT agent_ts FROM host_state"),
			 4102444800000000ll);
	assert_int_equal(count_where("SELECT ts FROM events"), 1000);
	assert_int_equal(count_where("SELECT agent_ts FROM events"),
			 4102444800000000ll);
}

static void test_schema_from_the_future_refused(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct store *st = open_store(NULL, 0, 0);
	store_close(st);
	assert_int_equal(run_sql("INSERT INTO schema_version VALUES(999)"), 0);
	struct store_options o = {.url = path, .cache_bytes = 1 << 20};
	char err[256];
	assert_int_not_equal(store_open(&o, NULL, &st, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "newer than this collector"));
	uv_loop_close(&loop);
}

/* The daily history's rows as store_day_put_all asks for them: n PC
 * rows of school S1, then the school; fail_at (1-based) returns -EIO. */
struct day_rows {
	int n, given, fail_at;
};

static int next_day_row(void *arg, struct store_day_row *row)
{
	struct day_rows *d = arg;
	if (d->given == d->n + 1)
		return 0;
	if (++d->given == d->fail_at)
		return -EIO;
	memset(row, 0, sizeof(*row));
	if (d->given == d->n + 1) {
		row->is_school = true;
		snprintf(row->school.day, sizeof(row->school.day), "2026-03-01");
		snprintf(row->school.school, sizeof(row->school.school), "S1");
		snprintf(row->school.commune, sizeof(row->school.commune), "C");
		row->school.pcs = d->n;
		return 1;
	}
	snprintf(row->host.day, sizeof(row->host.day), "2026-03-01");
	snprintf(row->host.agent, sizeof(row->host.agent), "pc-%d", d->given);
	snprintf(row->host.school, sizeof(row->host.school), "S1");
	row->host.score = 50;
	return 1;
}

/* Issue 18: a day's history is one transaction (a failure midway leaves
 * no row, where one commit per PC would leave those before it), and it
 * is not pruned with the events: event retention of one day does not
 * touch three-year-old history rows. */
static void test_day_history_one_transaction_kept(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct result r = {0};
	uv_loop_init(&loop);
	struct store *st = open_store(&loop, 1, 1);
	struct day_rows fail = {.n = 2000, .fail_at = 1500};
	assert_int_equal(store_day_put_all(st, next_day_row, &fail), -EIO);
	store_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(count_where("SELECT count(*) FROM day_host"), 0);
	assert_int_equal(count_where("SELECT count(*) FROM day_school"), 0);

	st = open_store(&loop, 1, 1);
	struct day_rows ok = {.n = 2000};
	assert_int_equal(store_day_put_all(st, next_day_row, &ok), 0);
	store_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(count_where("SELECT count(*) FROM day_host"), 2000);
	assert_int_equal(count_where("SELECT pcs FROM day_school"), 2000);

	/* Age the events and the history by three years; the event
	 * retention (1 day) prunes on the next write, the history stays. */
	st = open_store(&loop, 1, 1);
	submit_and_wait(&loop, st, batch_of(1, 3, 9, "scan.match", 1), &r);
	store_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(run_sql("UPDATE day_host SET day = '2023-03-01';"
				 "UPDATE day_school SET day = '2023-03-01'"),
			 0);
	/* PostgreSQL's events live in monthly partitions, and its
	 * retention drops them (test_pg_retention_drops_partitions): there
	 * the history must outlive the writer's housekeeping alone. */
	if (!on_pg)
		assert_int_equal(run_sql("UPDATE events SET received ="
					 " received - 3*86400000000"), 0);
	st = open_store(&loop, 1, 1);
	submit_and_wait(&loop, st, batch_of(10, 1, 1, "agent.heartbeat", 9), &r);
	store_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (!on_pg)
		assert_int_equal(count_where("SELECT count(*) FROM events"
					     " WHERE sev >= 7"), 0);
	assert_int_equal(count_where("SELECT count(*) FROM day_host WHERE day = '2023-03-01'"), 2000);
	assert_int_equal(count_where("SELECT count(*) FROM day_school WHERE day = '2023-03-01'"), 1);
	assert_int_equal(uv_loop_close(&loop), 0);
}

struct deliveries_seen {
	int n;
	struct store_delivery d[4];
};

static void on_delivery(void *arg, const struct store_delivery *d)
{
	struct deliveries_seen *s = arg;
	if (s->n < 4)
		s->d[s->n] = *d;
	s->n++;
}

/* A store forwarding to two SOC destinations, soc-a and soc-b. */
static struct store *open_forwarding(uv_loop_t *loop)
{
	static const char *const dests[] = {"soc-a", "soc-b"};
	struct store_options o = {.url = path, .cache_bytes = 1 << 20,
				  .batch_max_events = 100,
				  .forward_dests = dests, .nforward_dests = 2};
	struct store *st;
	char err[256];
	assert_int_equal(store_open(&o, loop, &st, err, sizeof(err)), 0);
	return st;
}

static void ignore_alert(void *arg, const struct store_alert *a)
{
	(void)arg;
	(void)a;
}

/* What a forwarder does before it confirms: takes the queued alerts of
 * dest (on PostgreSQL, claims them for this collector). */
static void claim_queued(struct store *st, const char *dest)
{
	assert_int_equal(store_forward_next(st, dest, 0, 100, ignore_alert,
					    NULL), 0);
}

/* The alert the delivery tests raise first. */
static const struct store_alert forwarded_alert = {
	.rule = "r", .title = "t", .category = "c", .kind = "scan.match",
	.dedupe_key = "k1", .agent = "pc1", .school = "A1", .severity = 9};

/* Issue 18: every alert's delivery to every SOC destination is recorded
 * (not only a drill's): queued with the alert, confirmed by forward_done,
 * refused by a dead letter; a second forward_done keeps the first time,
 * and an alert still waiting has neither. */
static void test_forward_deliveries_recorded(void **state)
{
	(void)state;
	struct store_alert a = forwarded_alert;
	bool created;
	int64_t before = store_now_us();
	struct store *st = open_forwarding(NULL);
	assert_int_equal(store_alert_raise(st, &a, &created), 0);
	snprintf(a.dedupe_key, sizeof(a.dedupe_key), "k2");
	assert_int_equal(store_alert_raise(st, &a, &created), 0);
	struct deliveries_seen seen = {0};
	assert_int_equal(store_forward_deliveries(st, 0, INT64_MAX, on_delivery,
						  &seen), 0);
	assert_int_equal(seen.n, 4);
	uint64_t first = seen.d[0].alert, second = seen.d[2].alert;
	assert_true(second > first);
	for (int i = 0; i < 4; i++) {
		assert_true(seen.d[i].queued_us >= before);
		assert_int_equal(seen.d[i].delivered_us, 0);
		assert_int_equal(seen.d[i].dead_us, 0);
	}
	/* soc-a confirms the first alert; soc-b refuses it for good. */
	claim_queued(st, "soc-a");
	assert_int_equal(store_forward_done(st, "soc-a", first), 0);
	struct store_dead_letter dl = {.dest = "soc-b", .alert = first,
				       .status = 400, .reason = "bad"};
	assert_int_equal(store_dead_letter_add(st, &dl, NULL), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_forward_deliveries(st, 0, INT64_MAX, on_delivery,
						  &seen), 0);
	assert_int_equal(seen.n, 4);
	assert_string_equal(seen.d[0].dest, "soc-a");
	assert_true(seen.d[0].delivered_us >= seen.d[0].queued_us);
	assert_int_equal(seen.d[0].dead_us, 0);
	assert_string_equal(seen.d[1].dest, "soc-b");
	assert_int_equal(seen.d[1].delivered_us, 0);
	assert_true(seen.d[1].dead_us >= seen.d[1].queued_us);
	assert_int_equal(seen.d[2].delivered_us + seen.d[3].delivered_us, 0);
	int64_t confirmed = seen.d[0].delivered_us;
	/* A repeated confirmation moves nothing; the second alert is
	 * confirmed on its own. */
	assert_int_equal(store_forward_done(st, "soc-a", second), 0);
	assert_int_equal(store_forward_done(st, "soc-a", second), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_forward_deliveries(st, 0, INT64_MAX, on_delivery,
						  &seen), 0);
	assert_int_equal(seen.d[0].delivered_us, confirmed);
	assert_true(seen.d[2].delivered_us > 0);
	assert_int_equal(seen.d[3].delivered_us, 0);
	/* The SOC page's "last delivered" is the recorded confirmation. */
	struct store_scope province = {STORE_SCOPE_PROVINCE, ""};
	struct store_forward_status fs;
	assert_int_equal(store_forward_status_scoped(st, &province, "soc-a",
						     &fs), 0);
	assert_int_equal(fs.last_delivered, second);
	assert_int_equal(fs.last_delivered_us, seen.d[2].delivered_us);
	/* The window is by queue time: none queued before the test. */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_forward_deliveries(st, 0, before, on_delivery,
						  &seen), 0);
	assert_int_equal(seen.n, 0);
	store_close(st);
}

/* An outside review: one stray byte from an agent (a file name is any
 * bytes) made PostgreSQL refuse the statement, and with it the whole
 * transaction of many PCs' events, again at every retry. alert.c makes
 * the text valid; the store's own belt repairs what reaches it raw, so
 * both alerts are kept on both backends, and the next one too. */
static void test_alert_text_not_utf8(void **state)
{
	(void)state;
	struct store_alert a = forwarded_alert;
	bool created;
	struct store *st = open_forwarding(NULL);
	snprintf(a.title, sizeof(a.title), "t\xff\xfe");
	snprintf(a.file_path, sizeof(a.file_path), "/home/hs/\xc0\xaf.exe");
	snprintf(a.dedupe_key, sizeof(a.dedupe_key), "k\xed\xa0\x80");
	assert_int_equal(store_alert_raise(st, &a, &created), 0);
	assert_true(created);
	a = forwarded_alert;
	assert_int_equal(store_alert_raise(st, &a, &created), 0);
	assert_true(created);
	assert_int_equal(count_where("SELECT count(*) FROM alerts"), 2);
	if (on_pg)
		assert_int_equal(count_where("SELECT count(*) FROM alerts"
					     " WHERE title = 't' || chr(65533)"
					     " || chr(65533)"), 1);
	store_close(st);
}

/* The migration that adds delivery records carries over what was in
 * flight: an alert still queued gets its queue time (its first time),
 * a dead letter its refusal; a database at the version before it is
 * made here by dropping the table and the version row. */
static void test_deliveries_migration_carries_over(void **state)
{
	(void)state;
	struct store_alert a = forwarded_alert;
	char sql[256];
	bool created;
	struct store *st = open_forwarding(NULL);
	assert_int_equal(store_alert_raise(st, &a, &created), 0);
	struct deliveries_seen seen = {0};
	assert_int_equal(store_forward_deliveries(st, 0, INT64_MAX, on_delivery,
						  &seen), 0);
	uint64_t id = seen.d[0].alert;
	struct store_dead_letter dl = {.dest = "soc-b", .alert = id,
				       .status = 400, .reason = "bad"};
	assert_int_equal(store_dead_letter_add(st, &dl, NULL), 0);
	store_close(st);
	long long version = count_where("SELECT max(version) FROM schema_version");
	/* The migration that made the table: SQLite's 12th, PostgreSQL's
	 * 2nd (later ones on either are idempotent and run again). */
	long long made_at = on_pg ? 2 : 12;
	snprintf(sql, sizeof(sql),
		 "DROP TABLE forward_deliveries;"
		 " DELETE FROM schema_version WHERE version >= %lld", made_at);
	assert_int_equal(run_sql(sql), 0);
	st = open_forwarding(NULL);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_forward_deliveries(st, 0, INT64_MAX, on_delivery,
						  &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.d[0].dest, "soc-a");
	assert_true(seen.d[0].queued_us > 0);
	assert_int_equal(seen.d[0].delivered_us + seen.d[0].dead_us, 0);
	assert_string_equal(seen.d[1].dest, "soc-b");
	assert_int_equal(seen.d[1].queued_us, seen.d[0].queued_us);
	assert_true(seen.d[1].dead_us >= seen.d[1].queued_us);
	/* Confirmations from then on are recorded. */
	claim_queued(st, "soc-a");
	assert_int_equal(store_forward_done(st, "soc-a", id), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_forward_deliveries(st, 0, INT64_MAX, on_delivery,
						  &seen), 0);
	assert_true(seen.d[0].delivered_us >= seen.d[0].queued_us);
	store_close(st);
	assert_int_equal(count_where("SELECT max(version) FROM schema_version"),
			 version);
}

/* Snapshot retention (store_snapshot_prune) removes the days before its
 * bound from every snapshot table, and keeps the bound's day. */
static void test_snapshot_prune(void **state)
{
	(void)state;
	struct store *st = open_store(NULL, 0, 0);
	static const char *const days[] = {"2020-01-01", "2023-11-30",
					   "2023-12-01", "2026-11-30"};
	for (int i = 0; i < 4; i++) {
		struct store_snapshot sn = {.scope = "province", .score = 80,
					    .pcs = 10};
		snprintf(sn.day, sizeof(sn.day), "%s", days[i]);
		assert_int_equal(store_snapshot_put(st, &sn), 0);
		struct store_day_school ds = {.school = "A1", .commune = "X",
					      .level = 2, .pcs = 10};
		snprintf(ds.day, sizeof(ds.day), "%s", days[i]);
		assert_int_equal(store_day_school_put(st, &ds), 0);
	}
	long long removed = -1;
	assert_int_equal(store_snapshot_prune(st, "2023-12-01", &removed), 0);
	assert_int_equal(removed, 4);
	assert_int_equal(count_where("SELECT count(*) FROM score_snapshots"
				     " WHERE day >= '2023-12-01'"), 2);
	assert_int_equal(count_where("SELECT count(*) FROM score_snapshots"), 2);
	assert_int_equal(count_where("SELECT count(*) FROM day_school"), 2);
	/* The daily job's bound: below three years is refused. */
	assert_int_equal(score_history_prune(st, store_now_us(), 1095,
					     &removed), -EINVAL);
	for (int i = 0; i < 2; i++) {
		struct store_snapshot sn = {.scope = "province", .score = 80,
					    .pcs = 10};
		snprintf(sn.day, sizeof(sn.day), "2023-11-2%d", 8 + i);
		assert_int_equal(store_snapshot_put(st, &sn), 0);
	}
	/* A clock jumped to 2100, or behind the newest snapshot
	 * (2026-11-30): nothing is deleted. */
	removed = -1;
	assert_int_equal(score_history_prune(st, 4102488000LL * 1000000,
					     1096, &removed), -ERANGE);
	assert_int_equal(removed, 0);
	assert_int_equal(score_history_prune(st, 1795953600LL * 1000000,
					     1096, &removed), -ERANGE);
	assert_int_equal(count_where("SELECT count(*) FROM score_snapshots"), 4);
	/* Two days after the newest snapshot (2026-12-02): the bound counts
	 * from the newest snapshot, 1096 days before 2026-11-30, so
	 * 2023-12-01 stays although it is 1097 days before now. */
	assert_int_equal(score_history_prune(st, 1796212800LL * 1000000,
					     1096, &removed), 0);
	assert_int_equal(removed, 2);
	assert_int_equal(count_where("SELECT count(*) FROM score_snapshots"
				     " WHERE day = '2023-12-01'"), 1);
	assert_int_equal(count_where("SELECT count(*) FROM score_snapshots"), 2);
	store_close(st);
}

/* Alert volume by kind per day: days cut at midnight Vietnam time
 * (UTC+7), alerts before from_us left out, only the scope's schools
 * (an alert of a school no longer registered is the province's). */
struct volume_seen {
	char rows[8][64];
	int n;
};

static void volume_seen(void *arg, const struct store_alert_volume *v)
{
	struct volume_seen *vs = arg;
	if (vs->n < 8)
		snprintf(vs->rows[vs->n++], sizeof(vs->rows[0]), "%s %s %lld",
			 v->day, v->kind, v->count);
}

static void test_alert_volume_scoped(void **state)
{
	(void)state;
	struct store *st = open_store(NULL, 0, 0);
	const struct store_school sa = {"A1", "Trường A", "Xã Một", 2, 40, 0};
	const struct store_school sb = {"B1", "Trường B", "Xã Hai", 2, 40, 0};
	assert_int_equal(store_school_add(st, &sa), 0);
	assert_int_equal(store_school_add(st, &sb), 0);
	/* 2026-11-30T16:59:59Z is 23:59:59 on 30/11 in Hanoi, a second
	 * later is 1 December; 2026-11-20 is before the window. */
	const long long last_nov = 1796057999000000LL, first_dec = last_nov + 1000000;
	char sql[2048];
	snprintf(sql, sizeof(sql),
		 "INSERT INTO alerts(rule, title, category, kind, dedupe_key,"
		 " agent, school, severity, drill, first, last, count, state,"
		 " evidence, src_ip, file_path, file_hash) VALUES"
		 " ('r','t','c','scan.match','d1','a','A1',8,0,%lld,%lld,1,'open','{}','','',''),"
		 " ('r','t','c','scan.match','d2','a','A1',8,0,%lld,%lld,1,'resolved','{}','','',''),"
		 " ('r','t','c','agent.silent','d3','a','A1',5,0,%lld,%lld,1,'open','{}','','',''),"
		 " ('r','t','c','scan.match','d4','a','B1',8,0,%lld,%lld,1,'open','{}','','',''),"
		 " ('r','t','c','scan.match','d5','a','GONE',8,0,%lld,%lld,1,'open','{}','','',''),"
		 " ('r','t','c','scan.match','d6','a','A1',8,0,%lld,%lld,1,'open','{}','','','')",
		 last_nov, last_nov, first_dec, first_dec, first_dec, first_dec,
		 first_dec, first_dec, first_dec, first_dec,
		 1795651200000000LL, 1795651200000000LL);
	assert_int_equal(run_sql(sql), 0);
	const long long from = 1795996800000000LL; /* 2026-11-30T00:00Z */
	struct volume_seen vs = {0};
	struct store_scope province = {STORE_SCOPE_PROVINCE, ""};
	assert_int_equal(store_alert_volume_scoped(st, &province, from, volume_seen, &vs), 0);
	assert_int_equal(vs.n, 3);
	assert_string_equal(vs.rows[0], "2026-11-30 scan.match 1");
	assert_string_equal(vs.rows[1], "2026-12-01 agent.silent 1");
	assert_string_equal(vs.rows[2], "2026-12-01 scan.match 3");
	struct volume_seen vc = {0};
	struct store_scope commune = {STORE_SCOPE_COMMUNE, "Xã Một"};
	assert_int_equal(store_alert_volume_scoped(st, &commune, from, volume_seen, &vc), 0);
	assert_int_equal(vc.n, 3);
	assert_string_equal(vc.rows[2], "2026-12-01 scan.match 1");
	struct volume_seen vsch = {0};
	struct store_scope school = {STORE_SCOPE_SCHOOL, "B1"};
	assert_int_equal(store_alert_volume_scoped(st, &school, from, volume_seen, &vsch), 0);
	assert_int_equal(vsch.n, 1);
	assert_string_equal(vsch.rows[0], "2026-12-01 scan.match 1");
	struct volume_seen none = {0};
	struct store_scope nobody = {STORE_SCOPE_SCHOOL, "GONE"};
	assert_int_equal(store_alert_volume_scoped(st, &nobody, from, volume_seen, &none), 0);
	assert_int_equal(none.n, 0);
	struct volume_seen late = {0};
	assert_int_equal(store_alert_volume_scoped(st, &province, first_dec + 1, volume_seen, &late), 0);
	assert_int_equal(late.n, 0);
	char day[11];
	store_day_name(0, day);
	assert_string_equal(day, "1970-01-01");
	store_day_name(20423, day);
	assert_string_equal(day, "2025-12-01");
	store_close(st);
}

/* The overview's open-alert counts: an aggregate over the whole scope,
 * beyond the 10,000 rows the page once walked, by severity band, and
 * only the schools of the officer's commune or school. Also the plan:
 * both console reads are answered from their covering indexes. */
static void test_open_alert_counts_scoped(void **state)
{
	(void)state;
	struct store *st = open_store(NULL, 0, 0);
	const struct store_school sa = {"A1", "Trường A", "Xã Một", 2, 40, 0};
	const struct store_school sb = {"B1", "Trường B", "Xã Hai", 2, 40, 0};
	assert_int_equal(store_school_add(st, &sa), 0);
	assert_int_equal(store_school_add(st, &sb), 0);
	/* 12,000 open in A1 (severities 0..10 in turn), 30 open and 50
	 * resolved in B1 at severity 9, 5 open at a school not (or no
	 * longer) registered, which only the province sees. */
	assert_int_equal(run_sql(
		"BEGIN;"
		"WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n"
		"  WHERE k < 12084)"
		" INSERT INTO alerts(rule, title, category, kind, dedupe_key,"
		" agent, school, severity, drill, first, last, count, state,"
		" evidence, src_ip, file_path, file_hash)"
		" SELECT 'r', 't', 'c', 'k', 'd' || k, 'a',"
		"  CASE WHEN k < 12000 THEN 'A1' WHEN k < 12080 THEN 'B1'"
		"  ELSE 'GONE' END,"
		"  CASE WHEN k < 12000 THEN k % 11 ELSE 9 END, 0, 1, 1, 1,"
		"  CASE WHEN k >= 12030 AND k < 12080 THEN 'resolved'"
		"  ELSE 'open' END, '{}', '', '', '' FROM n;"
		"COMMIT;"), 0);
	long long c[3];
	struct store_scope province = {STORE_SCOPE_PROVINCE, ""};
	assert_int_equal(store_alert_open_counts_scoped(st, &province, c), 0);
	/* A1: k % 11 in 0-3 is 4/11, 4-6 3/11, 7-10 4/11 of 12,000
	 * (12,000 = 1,090 * 11 + 10: the last round lacks severity 10). */
	assert_int_equal(c[0], 4364);
	assert_int_equal(c[1], 3273);
	assert_int_equal(c[2], 4363 + 30 + 5);
	struct store_scope commune = {STORE_SCOPE_COMMUNE, "Xã Hai"};
	assert_int_equal(store_alert_open_counts_scoped(st, &commune, c), 0);
	assert_true(c[0] == 0 && c[1] == 0 && c[2] == 30);
	struct store_scope school = {STORE_SCOPE_SCHOOL, "A1"};
	assert_int_equal(store_alert_open_counts_scoped(st, &school, c), 0);
	assert_true(c[0] == 4364 && c[1] == 3273 && c[2] == 4363);
	struct store_scope nobody = {STORE_SCOPE_COMMUNE, "Xã Ba"};
	assert_int_equal(store_alert_open_counts_scoped(st, &nobody, c), 0);
	assert_true(c[0] == 0 && c[1] == 0 && c[2] == 0);
	if (on_pg) { /* the plan below is SQLite's */
		store_close(st);
		return;
	}
	/* The live PC count per school reads the covering index only. */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *q;
	assert_int_equal(sqlite3_prepare_v2(db,
		"EXPLAIN QUERY PLAN SELECT count(*) FROM agents a"
		" WHERE a.school = 'A1' AND a.revoked IS NULL", -1, &q, NULL),
		SQLITE_OK);
	bool covering = false;
	while (sqlite3_step(q) == SQLITE_ROW)
		covering |= strstr((const char *)sqlite3_column_text(q, 3),
				   "COVERING INDEX agents_school_live") != NULL;
	sqlite3_finalize(q);
	assert_true(covering);
	sqlite3_close(db);
	store_close(st);
}

/* ---- daily history, reports, drills, releases: both backends ---------- */

/* The rows a list call hands its callback, copied (the first ones that
 * fit in rows) and counted (all of them). */
struct rows_seen {
	int n, max;
	size_t size;
	void *rows;
};
#define ROWS_SEEN(array)                                              \
	{0, (int)(sizeof(array) / sizeof((array)[0])), sizeof((array)[0]), \
	 (array)}

static void keep_row(void *arg, const void *row)
{
	struct rows_seen *s = arg;
	if (s->n < s->max)
		memcpy((char *)s->rows + (size_t)s->n * s->size, row, s->size);
	s->n++;
}

static void drill_seen(void *arg, const struct store_drill *d)
{
	keep_row(arg, d);
}

static void target_seen(void *arg, const struct store_drill_target *t)
{
	keep_row(arg, t);
}

static void release_seen(void *arg, const struct store_release *r)
{
	keep_row(arg, r);
}

static void dead_seen(void *arg, const struct store_dead_letter *dl)
{
	keep_row(arg, dl);
}

struct day_seen {
	int n;
	char rows[4][96];
};

static void day_school_seen(void *arg, const struct store_day_school *d)
{
	struct day_seen *s = arg;
	if (s->n < 4)
		snprintf(s->rows[s->n], sizeof(s->rows[0]),
			 "%s %s %s %d %d %d %d %d %d %d %d %.1f", d->day,
			 d->school, d->commune, d->level, d->no_policy, d->pcs,
			 d->enrolled, d->fresh, d->av_ok, d->rpo_ok,
			 d->restore_ok, d->score);
	s->n++;
}

static void day_host_seen(void *arg, const struct store_day_host *d)
{
	struct day_seen *s = arg;
	if (s->n < 4)
		snprintf(s->rows[s->n], sizeof(s->rows[0]),
			 "%s %s %s %.1f %d%d%d%d %s", d->day, d->agent,
			 d->school, d->score, d->fresh, d->av_ok, d->rpo_ok,
			 d->restore_ok, d->failed);
	s->n++;
}

/* A day's rows read back as written, a day scored again replaces its
 * rows (no second row), and the range and day bounds hold. */
static void test_day_history_round_trip(void **state)
{
	(void)state;
	struct store *st = open_store(NULL, 0, 0);
	struct store_day_school ds = {.day = "2026-03-01", .school = "B2",
				      .commune = "Xã Một", .level = 3,
				      .no_policy = true, .pcs = 40,
				      .enrolled = 38, .fresh = 30, .av_ok = 29,
				      .rpo_ok = 20, .restore_ok = 10,
				      .score = 72.5};
	assert_int_equal(store_day_school_put(st, &ds), 0);
	snprintf(ds.school, sizeof(ds.school), "A1");
	assert_int_equal(store_day_school_put(st, &ds), 0);
	ds.score = 80;
	ds.no_policy = false;
	assert_int_equal(store_day_school_put(st, &ds), 0);
	snprintf(ds.day, sizeof(ds.day), "2026-03-03");
	assert_int_equal(store_day_school_put(st, &ds), 0);
	struct store_day_host dh = {.day = "2026-03-01", .agent = "pc-2",
				    .school = "A1", .score = 50, .fresh = true,
				    .rpo_ok = true, .failed = "av.rt,backup.restore"};
	assert_int_equal(store_day_host_put(st, &dh), 0);
	snprintf(dh.agent, sizeof(dh.agent), "pc-1");
	assert_int_equal(store_day_host_put(st, &dh), 0);
	dh.score = 100;
	dh.failed[0] = '\0';
	dh.av_ok = dh.restore_ok = true;
	assert_int_equal(store_day_host_put(st, &dh), 0);

	struct day_seen s = {0};
	assert_int_equal(store_day_schools(st, "2026-03-01", "2026-03-02",
					   day_school_seen, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.rows[0],
			    "2026-03-01 A1 Xã Một 3 0 40 38 30 29 20 10 80.0");
	assert_string_equal(s.rows[1],
			    "2026-03-01 B2 Xã Một 3 1 40 38 30 29 20 10 72.5");
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_day_schools(st, "2026-03-01", "2026-03-03",
					   day_school_seen, &s), 0);
	assert_int_equal(s.n, 3);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_day_hosts(st, "2026-03-01", day_host_seen, &s),
			 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.rows[0], "2026-03-01 pc-1 A1 100.0 1111 ");
	assert_string_equal(s.rows[1],
			    "2026-03-01 pc-2 A1 50.0 1010 av.rt,backup.restore");
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_day_hosts(st, "2026-03-02", day_host_seen, &s),
			 0);
	assert_int_equal(s.n, 0);
	/* Text goes through as it is (quotes, a backslash, a newline, a
	 * tab: PostgreSQL's rows travel as JSON); a score that is not a
	 * number is refused and stores nothing. */
	snprintf(dh.day, sizeof(dh.day), "2026-03-04");
	snprintf(dh.failed, sizeof(dh.failed), "a\"b\\c\nd\te'f");
	assert_int_equal(store_day_host_put(st, &dh), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_day_hosts(st, "2026-03-04", day_host_seen, &s),
			 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.rows[0],
			    "2026-03-04 pc-1 A1 100.0 1111 a\"b\\c\nd\te'f");
	dh.score = NAN;
	snprintf(dh.agent, sizeof(dh.agent), "pc-nan");
	assert_int_not_equal(store_day_host_put(st, &dh), 0);
	assert_int_equal(count_where("SELECT count(*) FROM day_host"
				     " WHERE agent = 'pc-nan'"), 0);
	store_close(st);
}

#define REPORTS_MAX 8

struct reports_seen {
	int n;
	struct store_report r[REPORTS_MAX];
	char remarks[REPORTS_MAX][32], model[REPORTS_MAX][32];
};

static void report_seen(void *arg, const struct store_report *r)
{
	struct reports_seen *s = arg;
	if (s->n < REPORTS_MAX) {
		s->r[s->n] = *r;
		snprintf(s->remarks[s->n], sizeof(s->remarks[0]), "%s",
			 r->remarks);
		snprintf(s->model[s->n], sizeof(s->model[0]), "%s", r->model);
	}
	s->n++;
}

static int reports_in_scope(struct store *st, enum store_scope_kind kind,
			    const char *value, uint64_t id)
{
	struct store_scope sc = {kind, ""};
	struct reports_seen s = {0};
	snprintf(sc.value, sizeof(sc.value), "%s", value);
	assert_int_equal(store_report_list_scoped(st, &sc, id, report_seen, &s),
			 0);
	return s.n;
}

/* A report's versions: a draft is replaced in place, a signed one is
 * frozen (by the database too) and a new draft after it is the next
 * version naming what it corrects; the officers' scopes. */
static void test_report_versions(void **state)
{
	(void)state;
	struct store *st = open_store(NULL, 0, 0);
	const struct store_school sa = {"A1", "Trường A", "Xã Một", 2, 40, 0};
	const struct store_school sb = {"B1", "Trường B", "Xã Hai", 2, 40, 0};
	assert_int_equal(store_school_add(st, &sa), 0);
	assert_int_equal(store_school_add(st, &sb), 0);
	struct store_report r = {.period = "2026-H1", .scope = "school:A1",
				 .remarks = "r1", .model = "{}"};
	uint64_t id1, id;
	int version;
	assert_int_equal(store_report_draft(st, &r, &id1, &version), 0);
	assert_int_equal(version, 1);
	r.remarks = "r2";
	assert_int_equal(store_report_draft(st, &r, &id, &version), 0);
	assert_int_equal(id, id1);
	assert_int_equal(version, 1);
	assert_int_equal(store_report_sign(st, id1, "boss", "/r/a.pdf", "abc",
					   "{\"m\":1}"), 0);
	assert_int_equal(store_report_sign(st, id1, "boss", "/r/a.pdf", "abc",
					   "{}"), -EALREADY);
	assert_int_equal(store_report_sign(st, id1 + 1000, "boss", "p", "h",
					   "{}"), -ENOENT);
	r.remarks = NULL; /* none: stored as "" */
	uint64_t id2;
	assert_int_equal(store_report_draft(st, &r, &id2, &version), 0);
	assert_true(id2 != id1);
	assert_int_equal(version, 2);

	struct reports_seen s = {0};
	assert_int_equal(store_report_list(st, "2026-H1", "school:A1",
					   report_seen, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.r[0].id, id2);
	assert_int_equal(s.r[0].version, 2);
	assert_string_equal(s.r[0].state, "draft");
	assert_int_equal(s.r[0].supersedes, id1);
	assert_int_equal(s.r[0].signed_us, 0);
	assert_string_equal(s.remarks[0], "");
	assert_int_equal(s.r[1].id, id1);
	assert_string_equal(s.r[1].state, "signed");
	assert_string_equal(s.r[1].signed_by, "boss");
	assert_true(s.r[1].signed_us >= s.r[1].created_us);
	assert_int_equal(s.r[1].supersedes, 0);
	assert_string_equal(s.r[1].pdf_path, "/r/a.pdf");
	assert_string_equal(s.r[1].pdf_sha256, "abc");
	assert_string_equal(s.remarks[1], "r2");
	assert_string_equal(s.model[1], "{\"m\":1}");

	static const char *const scopes[] = {"province", "commune:Xã Một",
					     "school:B1"};
	for (int i = 0; i < 3; i++) {
		struct store_report o = {.period = "2026-H1", .remarks = "",
					 .model = "{}"};
		snprintf(o.scope, sizeof(o.scope), "%s", scopes[i]);
		assert_int_equal(store_report_draft(st, &o, &id, &version), 0);
		assert_int_equal(version, 1);
	}
	struct store_report y = {.period = "2025", .scope = "province",
				 .remarks = "", .model = "{}"};
	assert_int_equal(store_report_draft(st, &y, &id, &version), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_report_list(st, NULL, NULL, report_seen, &s), 0);
	assert_int_equal(s.n, 6);
	/* Newest period first, then scope, then version. */
	assert_string_equal(s.r[0].period, "2026-H1");
	assert_string_equal(s.r[0].scope, "commune:Xã Một");
	assert_string_equal(s.r[5].period, "2025");
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_report_list(st, NULL, "province", report_seen,
					   &s), 0);
	assert_int_equal(s.n, 2);

	assert_int_equal(reports_in_scope(st, STORE_SCOPE_PROVINCE, "", 0), 6);
	assert_int_equal(reports_in_scope(st, STORE_SCOPE_COMMUNE, "Xã Một", 0),
			 3);
	assert_int_equal(reports_in_scope(st, STORE_SCOPE_COMMUNE, "Xã Hai", 0),
			 1);
	assert_int_equal(reports_in_scope(st, STORE_SCOPE_SCHOOL, "A1", 0), 2);
	assert_int_equal(reports_in_scope(st, STORE_SCOPE_SCHOOL, "A1", id1), 1);
	assert_int_equal(reports_in_scope(st, STORE_SCOPE_SCHOOL, "B1", id1), 0);
	assert_int_equal(reports_in_scope(st, STORE_SCOPE_PROVINCE, "", id1), 1);

	/* The database itself keeps a signed report as signed. */
	char sql[128];
	snprintf(sql, sizeof(sql),
		 "UPDATE reports SET remarks = 'changed' WHERE id = %llu",
		 (unsigned long long)id1);
	assert_int_not_equal(run_sql(sql), 0);
	snprintf(sql, sizeof(sql), "DELETE FROM reports WHERE id = %llu",
		 (unsigned long long)id1);
	assert_int_not_equal(run_sql(sql), 0);
	assert_int_equal(count_where("SELECT count(*) FROM reports"
				     " WHERE remarks = 'changed'"), 0);
	store_close(st);
}

/* A campaign's moves: each conditional on the state it leaves (-ESTALE
 * when it moved on), the organiser cannot approve it and a finished one
 * cannot change (both refused by the database, -EIO). */
static void test_drill_campaign_moves(void **state)
{
	(void)state;
	struct store *st = open_store(NULL, 0, 0);
	struct store_drill d = {.name = "d-2026", .organiser = "org",
				.scenario = "eicar", .scope = "school:A1",
				.window_start_us = 1000, .window_end_us = 2000};
	uint64_t id, other;
	assert_int_equal(store_drill_add(st, &d, &id), 0);
	assert_true(id > 0);
	assert_int_equal(store_drill_add(st, &d, &other), -EEXIST);
	struct store_drill got;
	assert_int_equal(store_drill_get(st, "nope", &got), -ENOENT);
	assert_int_equal(store_drill_get(st, "d-2026", &got), 0);
	assert_int_equal(got.id, id);
	assert_string_equal(got.state, "planned");
	assert_string_equal(got.organiser, "org");
	assert_string_equal(got.scenario, "eicar");
	assert_string_equal(got.scope, "school:A1");
	assert_int_equal(got.window_start_us, 1000);
	assert_int_equal(got.window_end_us, 2000);
	assert_string_equal(got.approver, "");
	assert_true(got.created_us > 0);
	assert_int_equal(got.started_us, 0);

	assert_int_equal(store_drill_transition(st, id, "planned", "approved",
						"org"), -EIO);
	assert_int_equal(store_drill_transition(st, id, "approved", "running",
						"boss"), -ESTALE);
	assert_int_equal(store_drill_transition(st, id, "planned", "approved",
						"boss"), 0);
	assert_int_equal(store_drill_transition(st, id, "planned", "aborted",
						"boss"), -ESTALE);
	assert_int_equal(store_drill_transition(st, id, "approved", "running",
						"org"), 0);
	assert_int_equal(store_drill_get(st, "d-2026", &got), 0);
	assert_string_equal(got.state, "running");
	assert_string_equal(got.approver, "boss");
	assert_true(got.approved_us > 0 && got.started_us >= got.approved_us);
	assert_int_equal(got.ended_us, 0);
	int64_t started = got.started_us;

	struct store_drill listed[2];
	struct rows_seen s = ROWS_SEEN(listed);
	assert_int_equal(store_drill_list(st, started, started + 1, drill_seen,
					  &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(listed[0].name, "d-2026");
	s.n = 0;
	assert_int_equal(store_drill_list(st, 0, started, drill_seen, &s), 0);
	assert_int_equal(s.n, 0);

	assert_int_equal(store_drill_transition(st, id, "running", "done",
						"org"), 0);
	assert_int_equal(store_drill_get(st, "d-2026", &got), 0);
	assert_string_equal(got.state, "done");
	assert_string_equal(got.ended_by, "org");
	assert_true(got.ended_us >= got.started_us);
	assert_int_equal(store_drill_transition(st, id, "running", "aborted",
						"boss"), -ESTALE);
	assert_int_equal(store_drill_transition(st, id, "done", "aborted",
						"boss"), -EIO);
	assert_int_equal(store_drill_get(st, "d-2026", &got), 0);
	assert_string_equal(got.state, "done");
	store_close(st);
}

/* A msgpack map {key: value}, as an agent's event body (owned by the
 * event it is given to): value is a boolean, or the string text when
 * text is not NULL. */
static char *body_map(const char *key, bool value, const char *text,
		      size_t *len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str_with_body(&pk, key, strlen(key));
	if (text != NULL)
		msgpack_pack_str_with_body(&pk, text, strlen(text));
	else if (value)
		msgpack_pack_true(&pk);
	else
		msgpack_pack_false(&pk);
	char *body = alloc_bytes(sb.size);
	assert_non_null(body);
	memcpy(body, sb.data, sb.size);
	*len = sb.size;
	msgpack_sbuffer_destroy(&sb);
	return body;
}

static void add_event(struct store_batch *b, const char *agent, uint64_t seq,
		      const char *kind, int64_t ts, bool drill, char *body,
		      size_t body_len)
{
	struct event ev = {.v = EVENT_VERSION, .boot = 7, .seq = seq,
			   .ts = (uint64_t)ts, .sev = 5, .drill = drill,
			   .body = body, .body_len = body_len};
	snprintf(ev.agent, sizeof(ev.agent), "%s", agent);
	snprintf(ev.kind, sizeof(ev.kind), "%s", kind);
	assert_int_equal(store_batch_add(b, &ev), 0);
}

/* A campaign's targets into t[3]; returns how many there are. */
static int read_targets(struct store *st, uint64_t campaign,
			struct store_drill_target t[3])
{
	struct rows_seen s = {0, 3, sizeof(t[0]), t};
	assert_int_equal(store_drill_targets(st, campaign, target_seen, &s), 0);
	return s.n;
}

/* A target's timeline, from its command, the PC's drill events (the
 * antivirus's and the clean-up's claims believed only when well formed)
 * and its first drill alert, forwarded once every SOC destination
 * confirmed it. */
static void test_drill_target_timeline(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct result r = {0};
	uv_loop_init(&loop);
	struct store *st = open_forwarding(&loop);
	struct store_drill d = {.name = "d1", .organiser = "org",
				.scenario = "eicar", .scope = "school:A1"};
	uint64_t campaign, cmd, abort_cmd;
	assert_int_equal(store_drill_add(st, &d, &campaign), 0);
	int64_t issued = store_now_us();
	assert_int_equal(store_command_add(st, "pc1", "drill", issued,
					   issued + 3600000000LL, &cmd), 0);
	assert_int_equal(store_command_mark_sent(st, cmd), 0);
	static const char *const agents[] = {"pc1", "pc2", "pc3"};
	for (int i = 0; i < 3; i++) {
		struct store_drill_target t = {.campaign = campaign,
					       .school = "A1",
					       .status = "queued",
					       .command = i == 1 ? 0 : cmd};
		snprintf(t.agent, sizeof(t.agent), "%s", agents[i]);
		if (i == 1)
			snprintf(t.status, sizeof(t.status), "stale");
		assert_int_equal(store_drill_target_put(st, &t), 0);
	}
	struct store_batch *b = store_batch_new(8);
	size_t n;
	char *body;
	add_event(b, "pc1", 1, "drill.injected", issued + 1000000, true, NULL, 0);
	body = body_map("removed", true, NULL, &n);
	add_event(b, "pc1", 2, "drill.av_acted", issued + 2000000, true, body, n);
	body = body_map("verified", true, NULL, &n);
	add_event(b, "pc1", 3, "drill.cleaned_up", issued + 3000000, true, body,
		  n);
	add_event(b, "pc1", 4, "scan.match", issued + 1500000, true, NULL, 0);
	/* pc3's claims are malformed (not a map; a string, not a bool). */
	body = alloc_bytes(1);
	body[0] = (char)0xc1;
	add_event(b, "pc3", 1, "drill.av_acted", issued + 2000000, true, body, 1);
	body = body_map("verified", true, "yes", &n);
	add_event(b, "pc3", 2, "drill.cleaned_up", issued + 3000000, true, body,
		  n);
	submit_and_wait(&loop, st, b, &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.stored, 6);

	struct store_alert a = forwarded_alert;
	bool created;
	a.drill = true;
	snprintf(a.agent, sizeof(a.agent), "pc1");
	assert_int_equal(store_alert_raise(st, &a, &created), 0);
	assert_true(created);

	struct store_drill_target got[3];
	assert_int_equal(read_targets(st, campaign, got), 3);
	const struct store_drill_target *t = &got[0];
	assert_string_equal(t->agent, "pc1");
	assert_string_equal(t->status, "queued");
	assert_int_equal(t->command, cmd);
	assert_int_equal(t->issued_us, issued);
	assert_true(t->sent_us >= issued);
	assert_int_equal(t->injected_us, issued + 1000000);
	assert_int_equal(t->av_checked_us, issued + 2000000);
	assert_true(t->av_removed);
	assert_int_equal(t->cleaned_us, issued + 3000000);
	assert_true(t->clean_verified);
	assert_true(t->alert_us >= issued);
	assert_int_equal(t->ack_us, 0);
	assert_true(t->detected_us >= issued);
	assert_int_equal(t->forwarded_us, 0);
	assert_int_equal(t->forwarded_dests, 0);
	assert_string_equal(got[1].agent, "pc2");
	assert_string_equal(got[1].status, "stale");
	assert_int_equal(got[1].command + got[1].issued_us + got[1].alert_us +
				 got[1].injected_us + got[1].detected_us, 0);
	assert_string_equal(got[2].agent, "pc3");
	assert_int_equal(got[2].av_checked_us, issued + 2000000);
	assert_false(got[2].av_removed);
	assert_false(got[2].clean_verified);
	assert_int_equal(got[2].alert_us, 0);

	/* One destination confirms: not forwarded until both have. */
	struct deliveries_seen ds = {0};
	assert_int_equal(store_forward_deliveries(st, 0, INT64_MAX, on_delivery,
						  &ds), 0);
	uint64_t alert = ds.d[0].alert;
	claim_queued(st, "soc-a");
	assert_int_equal(store_forward_done(st, "soc-a", alert), 0);
	assert_int_equal(read_targets(st, campaign, got), 3);
	assert_int_equal(got[0].forwarded_us, 0);
	assert_int_equal(got[0].forwarded_dests, 1);
	claim_queued(st, "soc-b");
	assert_int_equal(store_forward_done(st, "soc-b", alert), 0);
	assert_int_equal(store_alert_set_state(st, alert, "acknowledged",
					       "officer"), 0);
	assert_int_equal(read_targets(st, campaign, got), 3);
	assert_true(got[0].forwarded_us >= got[0].alert_us);
	assert_int_equal(got[0].forwarded_dests, 2);
	assert_true(got[0].ack_us >= got[0].alert_us);

	/* An update with no command keeps the stored one. */
	assert_int_equal(store_command_add(st, "pc1", "drill_abort", issued,
					   issued + 3600000000LL, &abort_cmd),
			 0);
	struct store_drill_target up = {.campaign = campaign, .agent = "pc1",
					.school = "A1", .status = "aborted",
					.abort_command = abort_cmd};
	assert_int_equal(store_drill_target_put(st, &up), 0);
	assert_int_equal(read_targets(st, campaign, got), 3);
	assert_string_equal(got[0].status, "aborted");
	assert_int_equal(got[0].command, cmd);
	assert_int_equal(got[0].abort_command, abort_cmd);
	assert_int_equal(got[0].abort_sent_us, 0);
	store_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- red-team windows: both backends ------------------------------------ */

static void action_seen(void *arg, const struct store_redteam_action *a)
{
	keep_row(arg, a);
}

static void redteam_alert_seen(void *arg, const struct store_redteam_alert *a)
{
	keep_row(arg, a);
}

/* A red-team window over the hour around now, planned by "org". */
static uint64_t add_window(struct store *st, const char *name,
			   const char *scenario, const char *scope)
{
	int64_t now = store_now_us();
	struct store_drill d = {.organiser = "org",
				.window_start_us = now - 3600000000LL,
				.window_end_us = now + 3600000000LL};
	snprintf(d.name, sizeof(d.name), "%s", name);
	snprintf(d.scenario, sizeof(d.scenario), "%s", scenario);
	snprintf(d.scope, sizeof(d.scope), "%s", scope);
	uint64_t id = 0;
	assert_int_equal(store_drill_add(st, &d, &id), 0);
	return id;
}

static void run_window(struct store *st, uint64_t id)
{
	assert_int_equal(store_drill_transition(st, id, "planned", "approved",
						"admin"), 0);
	assert_int_equal(store_drill_transition(st, id, "approved", "running",
						"admin"), 0);
}

static struct store_redteam_action action_at(uint64_t campaign, int64_t at,
					     const char *kind,
					     const char *target)
{
	struct store_redteam_action a = {.campaign = campaign, .at_us = at,
					 .technique = "T1059.001",
					 .recorded_by = "org"};
	snprintf(a.target_kind, sizeof(a.target_kind), "%s", kind);
	snprintf(a.target, sizeof(a.target), "%s", target);
	snprintf(a.description, sizeof(a.description), "%s at %lld", target,
		 (long long)at);
	return a;
}

/* Actions are stored all or none, and only in their red-team window (the
 * database refuses the rest, whoever writes); they are listed oldest
 * first, ties in the order they were recorded; the console's list of
 * campaigns is newest first. */
static void test_redteam_actions_all_or_none(void **state)
{
	(void)state;
	struct store *st = open_store(NULL, 0, 0);
	uint64_t rt = add_window(st, "rt", "red-team", "school:A1");
	uint64_t inj = add_window(st, "inj", "eicar", "school:A1");
	int64_t now = store_now_us(), before = now;
	struct store_redteam_action a[3] = {
		action_at(rt, now + 10000000, "host", "pc1"),
		action_at(rt, now - 5000000, "school", "A1"),
		action_at(rt, now - 7200000000LL, "host", "pc2"), /* before */
	};
	struct store_redteam_action got[4];
	struct rows_seen s = ROWS_SEEN(got);
	assert_int_equal(store_redteam_actions_add(st, a, 3), -EIO);
	assert_int_equal(store_redteam_actions(st, rt, action_seen, &s), 0);
	assert_int_equal(s.n, 0);
	/* After the window, and in a campaign that is not a red-team
	 * window: refused too. */
	a[2].at_us = now + 7200000000LL;
	assert_int_equal(store_redteam_actions_add(st, &a[2], 1), -EIO);
	struct store_redteam_action wrong = action_at(inj, now, "host", "pc1");
	assert_int_equal(store_redteam_actions_add(st, &wrong, 1), -EIO);
	assert_int_equal(count_where("SELECT count(*) FROM redteam_actions"),
			 0);

	assert_int_equal(store_redteam_actions_add(st, a, 2), 0);
	struct store_redteam_action tie = action_at(rt, a[1].at_us, "host",
						    "pc3");
	assert_int_equal(store_redteam_actions_add(st, &tie, 1), 0);
	assert_int_equal(store_redteam_actions(st, rt, action_seen, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(got[0].target, "A1");
	assert_string_equal(got[0].target_kind, "school");
	assert_string_equal(got[1].target, "pc3");
	assert_string_equal(got[2].target, "pc1");
	assert_true(got[0].id > 0 && got[1].id > got[0].id);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(got[i].campaign, rt);
		assert_string_equal(got[i].technique, "T1059.001");
		assert_string_equal(got[i].recorded_by, "org");
		assert_true(got[i].created_us >= before);
	}
	assert_int_equal(got[2].at_us, a[0].at_us);
	assert_string_equal(got[2].description, a[0].description);
	memset(&s, 0, sizeof(s));
	s = (struct rows_seen)ROWS_SEEN(got);
	assert_int_equal(store_redteam_actions(st, inj, action_seen, &s), 0);
	assert_int_equal(s.n, 0);

	struct store_drill all[3];
	struct rows_seen ds = ROWS_SEEN(all);
	assert_int_equal(store_drill_all(st, drill_seen, &ds), 0);
	assert_int_equal(ds.n, 2);
	assert_int_equal(all[0].id, inj);
	assert_string_equal(all[0].state, "planned");
	assert_int_equal(all[1].id, rt);
	assert_string_equal(all[1].scenario, "red-team");
	store_close(st);
}

/* What the forwarder reads of each alert, by dedupe key. */
struct forwarded {
	int n;
	struct {
		char key[16];
		bool drill;
		uint64_t campaign;
	} rows[16];
};

static void forwarded_seen(void *arg, const struct store_alert *a)
{
	struct forwarded *f = arg;
	assert_true(f->n < 16);
	snprintf(f->rows[f->n].key, sizeof(f->rows[f->n].key), "%s",
		 a->dedupe_key);
	f->rows[f->n].drill = a->drill;
	f->rows[f->n].campaign = a->drill_campaign;
	f->n++;
}

/* The forwarder's view of the last alert opened with key. */
static void assert_forwarded(struct store *st, const char *key, bool drill,
			     uint64_t campaign)
{
	struct forwarded f = {0};
	assert_int_equal(store_forward_next(st, "soc-a", 0, 100,
					    forwarded_seen, &f), 0);
	for (int i = f.n - 1; i >= 0; i--) {
		if (strcmp(f.rows[i].key, key) != 0)
			continue;
		assert_int_equal(f.rows[i].drill, drill);
		assert_int_equal(f.rows[i].campaign, campaign);
		return;
	}
	fail_msg("no alert %s queued for the SOC", key);
}

static bool raise_on(struct store *st, const char *key, const char *school)
{
	struct store_alert a = forwarded_alert;
	bool created = false;
	a.suppress_s = 3600;
	snprintf(a.dedupe_key, sizeof(a.dedupe_key), "%s", key);
	snprintf(a.school, sizeof(a.school), "%s", school);
	assert_int_equal(store_alert_raise(st, &a, &created), 0);
	return created;
}

/* Every alert opened in a running red-team window on a PC of its scope
 * (a school, or every school of a commune) is a drill of that window
 * from the statement that opens it, whichever collector opens it, and
 * reaches the SOC with the campaign; outside the scope, or before the
 * window runs, it is not. The window's alerts are listed oldest first,
 * tied or not, up to its end; and once it is over (ended, or past its
 * end time while still marked running) a repeat opens a real alert
 * instead of folding into the exercise's. */
static void test_redteam_window_flags_alerts(void **state)
{
	(void)state;
	struct store *st = open_forwarding(NULL);
	struct store *other = open_forwarding(NULL);
	const struct store_school schools[] = {
		{"A1", "Trường A", "Xã Một", 2, 40, 0},
		{"B1", "Trường B", "Xã Hai", 2, 40, 0},
		{"C1", "Trường C", "Xã Ba", 2, 40, 0},
	};
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(store_school_add(st, &schools[i]), 0);
	uint64_t rt = add_window(st, "rt", "red-team", "school:A1");
	uint64_t rc = add_window(st, "rc", "red-team", "commune:Xã Hai");

	/* Before the window runs: in its time, not flagged. */
	assert_true(raise_on(st, "early", "A1"));
	assert_forwarded(st, "early", false, 0);
	run_window(st, rt);
	run_window(st, rc);
	assert_true(raise_on(st, "k1", "A1"));
	assert_true(raise_on(other, "k2", "A1"));
	assert_true(raise_on(st, "k3", "B1"));
	assert_true(raise_on(st, "k4", "C1"));
	assert_forwarded(st, "k1", true, rt);
	assert_forwarded(st, "k2", true, rt);
	assert_forwarded(st, "k3", true, rc);
	assert_forwarded(st, "k4", false, 0);
	assert_int_equal(count_where("SELECT count(*) FROM alerts WHERE"
				     " drill = 1"), 3);

	struct store_redteam_alert got[8];
	struct rows_seen s = ROWS_SEEN(got);
	assert_int_equal(store_redteam_alerts(st, rt, redteam_alert_seen, &s),
			 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(got[0].school, "A1");
	assert_true(got[0].id < got[1].id && got[1].id < got[2].id);
	assert_true(got[0].first_us <= got[1].first_us &&
		    got[1].first_us <= got[2].first_us);
	assert_string_equal(got[0].agent, "pc1");
	assert_string_equal(got[0].title, "t");
	assert_int_equal(got[0].ack_us, 0);
	s = (struct rows_seen)ROWS_SEEN(got);
	assert_int_equal(store_redteam_alerts(st, rc, redteam_alert_seen, &s),
			 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(got[0].school, "B1");

	/* In the window a repeat folds; once it is done, it opens a real
	 * alert, which the window no longer lists. */
	assert_false(raise_on(st, "k1", "A1"));
	assert_int_equal(store_drill_transition(st, rt, "running", "done",
						"admin"), 0);
	assert_true(raise_on(st, "k1", "A1"));
	assert_forwarded(st, "k1", false, 0);
	s = (struct rows_seen)ROWS_SEEN(got);
	assert_int_equal(store_redteam_alerts(st, rt, redteam_alert_seen, &s),
			 0);
	assert_int_equal(s.n, 3);
	/* A window past its end, though nobody ended it. */
	assert_false(raise_on(st, "k3", "B1"));
	char sql[128];
	snprintf(sql, sizeof(sql),
		 "UPDATE drill_campaigns SET window_end = %lld WHERE id = %llu",
		 (long long)store_now_us(), (unsigned long long)rc);
	assert_int_equal(run_sql(sql), 0);
	assert_true(raise_on(st, "k3", "B1"));
	assert_forwarded(st, "k3", false, 0);
	store_close(other);
	store_close(st);
}

static void count_pending(void *arg, uint64_t id, const char *agent,
			  const char *frame, size_t len)
{
	(void)id, (void)agent, (void)frame, (void)len;
	(*(int *)arg)++;
}

/* A halted rollout withdraws its unsent offers: an unsent agent.upgrade
 * issued before the cut expires; one already sent, one issued after the
 * cut (the superseding release's) and every other type stay as they were. */
static void test_commands_withdrawn(void **state)
{
	(void)state;
	struct store *st = open_store(NULL, 0, 0);
	int64_t now = store_now_us(), later = now + 3600000000LL;
	uint64_t sent, unsent, other;
	long long n = -1;
	assert_int_equal(store_command_add(st, "pc1", "agent.upgrade", now,
					   later, &sent), 0);
	assert_int_equal(store_command_add(st, "pc2", "agent.upgrade", now,
					   later, &unsent), 0);
	assert_int_equal(store_command_add(st, "pc2", "ping", now, later,
					   &other), 0);
	for (uint64_t id = sent; id <= other; id++)
		assert_int_equal(store_command_set_frame(st, id, "f", 1), 0);
	assert_int_equal(store_command_mark_sent(st, sent), 0);
	int pending = 0;
	assert_int_equal(store_commands_pending(st, NULL, count_pending,
						&pending), 0);
	assert_int_equal(pending, 2);
	/* Not one issued at or after the cut (a newer release's offer). */
	uint64_t newer;
	assert_int_equal(store_command_add(st, "pc3", "agent.upgrade", now + 5,
					   later, &newer), 0);
	assert_int_equal(store_command_set_frame(st, newer, "f", 1), 0);
	assert_int_equal(store_commands_withdraw(st, "agent.upgrade", now + 5,
						 now + 1, &n), 0);
	assert_int_equal(n, 1);
	pending = 0;
	assert_int_equal(store_commands_pending(st, "pc2", count_pending,
						&pending), 0);
	assert_int_equal(pending, 1); /* the ping */
	pending = 0;
	assert_int_equal(store_commands_pending(st, "pc3", count_pending,
						&pending), 0);
	assert_int_equal(pending, 1); /* the newer offer */
	/* Nothing left to withdraw before the cut. */
	assert_int_equal(store_commands_withdraw(st, "agent.upgrade", now + 5,
						 now + 2, &n), 0);
	assert_int_equal(n, 0);
	store_close(st);
}

/* A release keeps what it is; only its progress moves. */
static void test_release_progress(void **state)
{
	(void)state;
	struct store *st = open_store(NULL, 0, 0);
	struct store_release r = {.id = 3, .release = "1.2.3",
				  .channel = "pilot", .state = "pilot",
				  .size = 1000, .created_us = 10,
				  .pilot_us = 11};
	assert_int_equal(store_release_put(st, &r), 0);
	struct store_release rb = {.id = 4, .release = "1.2.2",
				   .channel = "stable", .rollback = true,
				   .state = "stable", .size = 900,
				   .created_us = 20, .stable_us = 21};
	assert_int_equal(store_release_put(st, &rb), 0);
	snprintf(r.release, sizeof(r.release), "9.9.9");
	snprintf(r.state, sizeof(r.state), "halted");
	snprintf(r.why, sizeof(r.why), "3 PCs refused it");
	r.size = 1;
	r.queued = 17;
	r.stable_us = 12;
	r.ended_us = 13;
	assert_int_equal(store_release_put(st, &r), 0);
	struct store_release bad = rb;
	bad.id = 5;
	snprintf(bad.channel, sizeof(bad.channel), "beta");
	assert_int_equal(store_release_put(st, &bad), -EIO);

	struct store_release got[3];
	struct rows_seen s = ROWS_SEEN(got);
	assert_int_equal(store_release_list(st, release_seen, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(got[0].id, 4);
	assert_true(got[0].rollback);
	assert_string_equal(got[0].channel, "stable");
	assert_int_equal(got[0].stable_us, 21);
	assert_int_equal(got[1].id, 3);
	assert_string_equal(got[1].release, "1.2.3");
	assert_int_equal(got[1].size, 1000);
	assert_false(got[1].rollback);
	assert_string_equal(got[1].state, "halted");
	assert_string_equal(got[1].why, "3 PCs refused it");
	assert_int_equal(got[1].queued, 17);
	assert_int_equal(got[1].created_us, 10);
	assert_int_equal(got[1].pilot_us, 11);
	assert_int_equal(got[1].stable_us, 12);
	assert_int_equal(got[1].ended_us, 13);
	store_close(st);
}

static struct store_forward_status soc_status(struct store *st,
					      enum store_scope_kind kind,
					      const char *value,
					      const char *dest)
{
	struct store_scope sc = {kind, ""};
	struct store_forward_status fs;
	snprintf(sc.value, sizeof(sc.value), "%s", value);
	assert_int_equal(store_forward_status_scoped(st, &sc, dest, &fs), 0);
	return fs;
}

/* soc-a's dead letters in scope into dl[4]; returns how many. */
static int dead_in_scope(struct store *st, enum store_scope_kind kind,
			 const char *value, struct store_dead_letter dl[4])
{
	struct store_scope sc = {kind, ""};
	struct rows_seen s = {0, 4, sizeof(dl[0]), dl};
	snprintf(sc.value, sizeof(sc.value), "%s", value);
	assert_int_equal(store_dead_letter_list_scoped(st, &sc, "soc-a", 4,
						       dead_seen, &s), 0);
	return s.n;
}

/* The SOC page within an officer's scope: waiting, the last delivered
 * (below the oldest waiting, without a dead letter), the dead letters
 * (one of an alert no longer stored counts as the province's). */
static void test_soc_status_scoped(void **state)
{
	(void)state;
	struct store *st = open_forwarding(NULL);
	const struct store_school sa = {"A1", "Trường A", "Xã Một", 2, 40, 0};
	const struct store_school sb = {"B1", "Trường B", "Xã Hai", 2, 40, 0};
	assert_int_equal(store_school_add(st, &sa), 0);
	assert_int_equal(store_school_add(st, &sb), 0);
	static const char *const schools[] = {"A1", "B1", "A1"};
	uint64_t id[3];
	for (int i = 0; i < 3; i++) {
		struct store_alert a = forwarded_alert;
		bool created;
		snprintf(a.school, sizeof(a.school), "%s", schools[i]);
		snprintf(a.dedupe_key, sizeof(a.dedupe_key), "k%d", i);
		assert_int_equal(store_alert_raise(st, &a, &created), 0);
	}
	struct deliveries_seen ds = {0};
	assert_int_equal(store_forward_deliveries(st, 0, INT64_MAX, on_delivery,
						  &ds), 0);
	assert_int_equal(ds.n, 6);
	id[0] = ds.d[0].alert;
	id[1] = ds.d[2].alert;
	id[2] = id[1] + 1;
	claim_queued(st, "soc-a");
	assert_int_equal(store_forward_done(st, "soc-a", id[0]), 0);
	struct store_dead_letter dl = {.dest = "soc-a", .alert = id[1],
				       .status = 503, .reason = "down"};
	assert_int_equal(store_dead_letter_add(st, &dl, NULL), 0);
	struct store_dead_letter gone = {.dest = "soc-a", .alert = id[2] + 50,
					 .status = 400, .reason = "gone"};
	assert_int_equal(store_dead_letter_add(st, &gone, NULL), 0);

	struct store_forward_status fs =
		soc_status(st, STORE_SCOPE_PROVINCE, "", "soc-a");
	assert_int_equal(fs.pending, 1);
	assert_true(fs.oldest_pending_us > 0);
	assert_int_equal(fs.last_delivered, id[0]);
	assert_true(fs.last_delivered_us > 0);
	assert_int_equal(fs.dead_letters, 2);
	assert_int_equal(fs.last_error_status, 400);
	assert_string_equal(fs.last_error, "gone");
	fs = soc_status(st, STORE_SCOPE_COMMUNE, "Xã Một", "soc-a");
	assert_int_equal(fs.pending, 1);
	assert_int_equal(fs.last_delivered, id[0]);
	assert_int_equal(fs.dead_letters, 0);
	assert_int_equal(fs.last_error_us, 0);
	fs = soc_status(st, STORE_SCOPE_SCHOOL, "B1", "soc-a");
	assert_int_equal(fs.pending, 0);
	assert_int_equal(fs.oldest_pending_us, 0);
	assert_int_equal(fs.last_delivered, 0);
	assert_int_equal(fs.dead_letters, 1);
	assert_int_equal(fs.last_error_status, 503);
	assert_string_equal(fs.last_error, "down");
	fs = soc_status(st, STORE_SCOPE_PROVINCE, "", "soc-b");
	assert_int_equal(fs.pending, 3);
	assert_int_equal(fs.dead_letters, 0);
	assert_int_equal(fs.last_delivered, 0);

	struct store_dead_letter dead[4];
	assert_int_equal(dead_in_scope(st, STORE_SCOPE_PROVINCE, "", dead), 2);
	assert_int_equal(dead[0].alert, id[2] + 50);
	assert_string_equal(dead[0].rule, "");
	assert_int_equal(dead[1].alert, id[1]);
	assert_string_equal(dead[1].reason, "down");
	assert_int_equal(dead[1].status, 503);
	assert_string_equal(dead[1].rule, "r");
	assert_int_equal(dead_in_scope(st, STORE_SCOPE_COMMUNE, "Xã Hai", dead),
			 1);
	assert_int_equal(dead[0].alert, id[1]);
	assert_int_equal(dead_in_scope(st, STORE_SCOPE_SCHOOL, "A1", dead), 0);
	store_close(st);
}

/* Two collectors on one database (two store handles), each drafting and
 * signing the same period and scope in turn as fast as it can: no draft
 * fails (two "next versions" at once would break UNIQUE), a sign that
 * lost the race says -EALREADY, and the versions run 1..N each naming
 * the one before. */
struct racer {
	struct store *st;
	int failures;
};

#define RACE_ROUNDS 25

static void race_reports(void *arg)
{
	struct racer *r = arg;
	for (int i = 0; i < RACE_ROUNDS; i++) {
		struct store_report rep = {.period = "2026", .scope = "province",
					   .remarks = "", .model = "{}"};
		uint64_t id;
		int version;
		if (store_report_draft(r->st, &rep, &id, &version) != 0)
			r->failures++;
		int rc = store_report_sign(r->st, id, "boss", "p", "h", "{}");
		if (rc != 0 && rc != -EALREADY)
			r->failures++;
	}
}

static void test_two_collectors_race_reports(void **state)
{
	(void)state;
	struct racer r[2] = {{open_store(NULL, 0, 0), 0},
			     {open_store(NULL, 0, 0), 0}};
	uv_thread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(uv_thread_create(&t[i], race_reports, &r[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(uv_thread_join(&t[i]), 0);
	assert_int_equal(r[0].failures + r[1].failures, 0);
	long long n = count_where("SELECT count(*) FROM reports");
	assert_true(n >= RACE_ROUNDS && n <= 2 * RACE_ROUNDS);
	assert_int_equal(count_where("SELECT max(version) FROM reports"), n);
	assert_int_equal(count_where("SELECT count(*) FROM reports r JOIN"
				     " reports p ON p.id = r.supersedes AND"
				     " p.version = r.version - 1"), n - 1);
	assert_int_equal(count_where("SELECT count(*) FROM reports"
				     " WHERE state <> 'signed'"), 0);
	store_close(r[0].st);
	store_close(r[1].st);
}

/* ---- PostgreSQL only ------------------------------------------------------ */

/* Retention drops a whole month once it is older than every retention:
 * the partition goes, and the exactly-once keys of its events with it;
 * the current month stays. */
static void test_pg_retention_drops_partitions(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct result r = {0};
	uv_loop_init(&loop);
	struct store *st = open_store(&loop, 1, 30);
	store_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	/* January 2020, as the backend names and bounds its months. */
	assert_int_equal(run_sql(
		"CREATE TABLE events_y2020m01 PARTITION OF events FOR VALUES"
		" FROM (1577836800000000) TO (1580515200000000);"
		"INSERT INTO events(agent, boot, seq, ts, received, kind, sev,"
		" drill) VALUES('a-1', 1, 1, 1578000000000000, 1578000000000000,"
		" 'scan.match', 9, 0);"
		"INSERT INTO event_keys VALUES('a-1', 1, 1, 1578000000000000)"),
		0);
	assert_int_equal(count_where("SELECT count(*) FROM events"), 1);
	st = open_store(&loop, 1, 30);
	submit_and_wait(&loop, st, batch_of(1, 2, 9, "scan.match", 5), &r);
	store_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.stored, 2);
	assert_int_equal(count_where("SELECT count(*) FROM pg_class WHERE"
				     " relname = 'events_y2020m01'"), 0);
	assert_int_equal(count_where("SELECT count(*) FROM event_keys WHERE"
				     " received < 1580515200000000"), 0);
	assert_int_equal(count_where("SELECT count(*) FROM events"), 2);
	/* The month of now and the next are there, ahead of their events. */
	assert_true(count_where("SELECT count(*) FROM pg_inherits WHERE"
				" inhparent = 'events'::regclass") >= 2);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* The server goes away mid-ingest: the batch is refused (never acked),
 * a synchronous call says so, and once the server is back the same
 * batch is stored once, with nothing lost and nothing twice. */
static void test_pg_down_refuses_then_stores(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct result r = {0};
	uv_loop_init(&loop);
	struct store *st = open_store(&loop, 0, 0);
	struct store_school sc = {.code = "s1", .name = "s", .commune = "c"};
	assert_int_equal(store_school_add(st, &sc), 0);
	submit_and_wait(&loop, st, batch_of(1, 50, 1, "agent.heartbeat", 1), &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(pgtest_ctl("kill"), 0);
	submit_and_wait(&loop, st, batch_of(51, 50, 1, "agent.heartbeat", 1),
			&r);
	assert_int_equal(r.status, -EAGAIN);
	assert_int_equal(r.stored, 50);
	struct store_school got;
	assert_int_equal(store_school_get(st, "s1", &got), -EAGAIN);
	assert_int_equal(pgtest_ctl("restart"), 0);
	/* The agent resends what was not acked, and a little it had. */
	submit_and_wait(&loop, st, batch_of(41, 60, 1, "agent.heartbeat", 1),
			&r);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.stored, 100);
	assert_int_equal(r.dup, 10);
	assert_int_equal(store_school_get(st, "s1", &got), 0);
	long long n;
	assert_int_equal(store_count_events(st, "a-1", 42, &n), 0);
	assert_int_equal(n, 100);
	store_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- a group of batches (PostgreSQL) ---------------------------------------
 * The writer stores what queued during its last commit as one group, in
 * a few statements; these cases build a group on purpose and look at
 * what each of its batches got. */

/* An event of agent's given boot, added to b. */
static void put_event(struct store_batch *b, const char *agent, uint64_t boot,
		      uint64_t seq, const char *kind, uint64_t ts)
{
	struct event ev = {.v = EVENT_VERSION, .boot = boot, .seq = seq,
			   .ts = ts, .sev = 1};
	snprintf(ev.agent, sizeof(ev.agent), "%s", agent);
	snprintf(ev.kind, sizeof(ev.kind), "%s", kind);
	assert_int_equal(store_batch_add(b, &ev), 0);
}

/* n events of agent (boot 42), seq first.., all of kind at ts, with
 * room for a few more. */
static struct store_batch *batch_for(const char *agent, uint64_t first, int n,
				     const char *kind, uint64_t ts)
{
	struct store_batch *b = store_batch_new((size_t)n + 4);
	for (int i = 0; i < n; i++)
		put_event(b, agent, 42, first + (uint64_t)i, kind, ts);
	return b;
}

static long long writers_waiting(void)
{
	return pg_count_where("SELECT count(*) FROM pg_stat_activity WHERE"
			      " datname = current_database() AND"
			      " wait_event_type = 'Lock' AND"
			      " query LIKE '%event_keys%'");
}

/* Holds st's writer inside a transaction: a connection of the test
 * locks event_keys and a one-event batch goes in, which the writer takes
 * alone and waits on. What is submitted until release_writer queues up
 * and is then taken as one group (the store's budget is 100 events). */
static PGconn *hold_writer(struct store *st, struct result *r)
{
	PGconn *db = PQconnectdb(path);
	PGresult *q = PQexec(db, "BEGIN; LOCK TABLE event_keys IN SHARE ROW"
				 " EXCLUSIVE MODE");
	assert_int_equal(PQresultStatus(q), PGRES_COMMAND_OK);
	PQclear(q);
	store_submit(st, batch_for("a-1", 1000, 1, "agent.heartbeat", 1),
		     on_commit, r);
	for (int i = 0; i < 400 && writers_waiting() < 1; i++)
		usleep(25 * 1000);
	assert_int_equal(writers_waiting(), 1);
	return db;
}

/* Lets the held writer go on and waits for the callbacks of r[0..n). */
static void release_writer(uv_loop_t *loop, PGconn *db, struct result *r,
			   int n)
{
	PGresult *q = PQexec(db, "COMMIT");
	assert_int_equal(PQresultStatus(q), PGRES_COMMAND_OK);
	PQclear(q);
	PQfinish(db);
	for (int i = 0; i < n; i++)
		while (r[i].calls == 0)
			uv_run(loop, UV_RUN_ONCE);
}

/* Closes st and runs loop until the store has let go of it. */
static void close_on_loop(uv_loop_t *loop, struct store *st)
{
	store_close(st);
	uv_run(loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(loop), 0);
}

/* Keys given twice in one group, inside a batch and across two, are
 * stored once, the first copy; a key of an earlier group is a
 * duplicate; each batch gets its own counts. */
static void test_pg_group_duplicates(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct result held = {0}, r[3] = {{0}};
	uv_loop_init(&loop);
	struct store *st = open_store(&loop, 0, 0);
	PGconn *lock = hold_writer(st, &held);
	store_submit(st, batch_for("a-1", 1, 10, "agent.heartbeat", 1),
		     on_commit, &r[0]);
	struct store_batch *b = batch_for("a-1", 5, 10, "agent.heartbeat", 2);
	put_event(b, "a-1", 42, 1000, "agent.heartbeat", 2); /* held's */
	store_submit(st, b, on_commit, &r[1]);
	b = batch_for("a-2", 20, 2, "agent.heartbeat", 3);
	put_event(b, "a-2", 42, 20, "agent.heartbeat", 4);
	store_submit(st, b, on_commit, &r[2]);
	release_writer(&loop, lock, r, 3);
	assert_int_equal(held.status, 0);
	assert_int_equal(held.stored, 1);
	const unsigned stored[3] = {10, 4, 2}, dup[3] = {0, 7, 1};
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r[i].status, 0);
		assert_int_equal(r[i].stored, stored[i]);
		assert_int_equal(r[i].dup, dup[i]);
	}
	assert_int_equal(count_where("SELECT count(*) FROM events"), 17);
	assert_int_equal(count_where("SELECT count(*) FROM event_keys"), 17);
	assert_int_equal(count_where("SELECT count(DISTINCT (agent, boot, seq))"
				     " FROM events"), 17);
	assert_int_equal(count_where("SELECT ts FROM events WHERE agent = 'a-2'"
				     " AND seq = 20"), 3);
	struct result again = {0};
	submit_and_wait(&loop, st, batch_for("a-1", 1, 14, "agent.heartbeat", 1),
			&again);
	assert_int_equal(again.dup, 14);
	close_on_loop(&loop, st);
}

/* One batch of a group that the server refuses (a constraint added
 * behind the store's back refuses agent a-bad's keys) is refused alone,
 * with the statement's error; the group's other batches are stored and
 * acked. Resent once the server takes it, it is stored. */
static void test_pg_group_one_bad_batch(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct result held = {0}, r[3] = {{0}};
	uv_loop_init(&loop);
	struct store *st = open_store(&loop, 0, 0);
	assert_int_equal(run_sql("ALTER TABLE event_keys ADD CONSTRAINT"
				 " refuse_bad CHECK (agent <> 'a-bad')"), 0);
	PGconn *lock = hold_writer(st, &held);
	store_submit(st, batch_for("a-1", 1, 5, "agent.heartbeat", 1),
		     on_commit, &r[0]);
	store_submit(st, batch_for("a-bad", 1, 5, "agent.heartbeat", 1),
		     on_commit, &r[1]);
	store_submit(st, batch_for("a-2", 1, 5, "av.status", 1), on_commit,
		     &r[2]);
	release_writer(&loop, lock, r, 3);
	assert_int_equal(r[0].status, 0);
	assert_int_equal(r[0].stored, 5);
	assert_int_equal(r[1].status, -EIO);
	assert_int_equal(r[1].stored, 0);
	assert_int_equal(r[2].status, 0);
	assert_int_equal(r[2].stored, 5);
	assert_int_equal(count_where("SELECT count(*) FROM events"), 11);
	assert_int_equal(count_where("SELECT count(*) FROM events"
				     " WHERE agent = 'a-bad'"), 0);
	assert_int_equal(count_where("SELECT count(*) FROM host_state"), 1);
	assert_int_equal(run_sql("ALTER TABLE event_keys DROP CONSTRAINT"
				 " refuse_bad"), 0);
	struct result again = {0};
	submit_and_wait(&loop, st, batch_for("a-bad", 1, 5, "agent.heartbeat", 1),
			&again);
	assert_int_equal(again.status, 0);
	assert_int_equal(again.stored, 5);
	close_on_loop(&loop, st);
}

/* Within one group every event has the same receive time: a host's
 * state is the last one queued, across its batches and inside one, as
 * when each batch had its own commit; the agent's last boot is its last
 * batch's. */
static void test_pg_group_host_state_newest(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct result held = {0}, r[3] = {{0}};
	uv_loop_init(&loop);
	struct store *st = open_store(&loop, 0, 0);
	struct store_school sc = {.code = "s1", .name = "s", .commune = "c"};
	assert_int_equal(store_school_add(st, &sc), 0);
	assert_int_equal(store_agent_add(st, "a-1", "s1", "pc1", "00"), 0);
	PGconn *lock = hold_writer(st, &held);
	store_submit(st, batch_for("a-1", 1, 1, "av.status", 500), on_commit,
		     &r[0]);
	struct store_batch *b = batch_for("a-1", 2, 1, "av.status", 450);
	put_event(b, "a-1", 43, 1, "av.status", 400);
	put_event(b, "a-1", 43, 2, "agent.heartbeat", 600);
	store_submit(st, b, on_commit, &r[1]);
	store_submit(st, batch_for("a-2", 1, 1, "av.status", 300), on_commit,
		     &r[2]);
	release_writer(&loop, lock, r, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(r[i].status, 0);
	close_on_loop(&loop, st);
	assert_int_equal(count_where("SELECT ts FROM host_state WHERE"
				     " agent = 'a-1' AND kind = 'av.status'"),
			 400);
	assert_int_equal(count_where("SELECT ts FROM host_state WHERE"
				     " agent = 'a-2' AND kind = 'av.status'"),
			 300);
	assert_int_equal(count_where("SELECT count(*) FROM host_state"), 2);
	assert_int_equal(count_where("SELECT last_boot FROM agents"
				     " WHERE id = 'a-1'"), 43);
}

/* The race's alert rule: each scan.match opens, or folds into, the one
 * alert of its agent (a dedupe key per agent, an hour's window). */
static size_t race_alert(void *arg, const struct event *ev,
			 struct store_alert *out, size_t max)
{
	(void)arg;
	if (max == 0 || strcmp(ev->kind, "scan.match") != 0)
		return 0;
	memset(out, 0, sizeof(*out));
	snprintf(out->rule, sizeof(out->rule), "race");
	snprintf(out->title, sizeof(out->title), "scan match");
	snprintf(out->category, sizeof(out->category), "malware");
	snprintf(out->kind, sizeof(out->kind), "%s", ev->kind);
	snprintf(out->dedupe_key, sizeof(out->dedupe_key), "race:%s",
		 ev->agent);
	snprintf(out->agent, sizeof(out->agent), "%s", ev->agent);
	snprintf(out->school, sizeof(out->school), "s1");
	out->severity = 9;
	out->suppress_s = 3600;
	return 1;
}

#define RACE_AGENTS 8
#define RACE_GROUPS 20
#define RACE_BATCH 10

static struct store *open_racer(uv_loop_t *loop)
{
	static const char *const dests[] = {"soc-a"};
	struct store_options o = {.url = path, .batch_max_events = 100,
				  .alert_fn = race_alert,
				  .forward_dests = dests, .nforward_dests = 1};
	struct store *st;
	char err[256];
	assert_int_equal(store_open(&o, loop, &st, err, sizeof(err)), 0);
	return st;
}

/* A batch of agent i, round k: RACE_BATCH keys, a scan match among them
 * and the host's state last. */
static struct store_batch *race_batch(int i, int k)
{
	char agent[16];
	snprintf(agent, sizeof(agent), "a-%d", i);
	struct store_batch *b = batch_for(agent, (uint64_t)k * RACE_BATCH,
					  RACE_BATCH - 2, "agent.heartbeat", 1);
	put_event(b, agent, 42, (uint64_t)k * RACE_BATCH + 8, "scan.match", 2);
	put_event(b, agent, 42, (uint64_t)k * RACE_BATCH + 9, "av.status", 3);
	return b;
}

/* Two collectors on one database get the same batches of the same
 * agents, in opposite orders and at once (an agent resending through
 * the other collector): their groups lock the same keys, host states,
 * agents and alerts. Nothing deadlocks, every batch is acked, and every
 * event, every alert repeat and every queued alert is there once. */
static void test_pg_two_writers_race(void **state)
{
	(void)state;
	uv_loop_t loop[2];
	struct store *st[2];
	static struct result r[2][RACE_AGENTS * RACE_GROUPS];
	memset(r, 0, sizeof(r));
	for (int c = 0; c < 2; c++) {
		uv_loop_init(&loop[c]);
		st[c] = open_racer(&loop[c]);
	}
	struct store_school sc = {.code = "s1", .name = "s", .commune = "c"};
	assert_int_equal(store_school_add(st[0], &sc), 0);
	for (int i = 0; i < RACE_AGENTS; i++) {
		char agent[16];
		snprintf(agent, sizeof(agent), "a-%d", i);
		assert_int_equal(store_agent_add(st[0], agent, "s1", agent,
						 "00"), 0);
	}
	for (int k = 0; k < RACE_GROUPS; k++)
		for (int i = 0; i < RACE_AGENTS; i++) {
			int n = k * RACE_AGENTS + i;
			store_submit(st[0], race_batch(i, k), on_commit, &r[0][n]);
			store_submit(st[1], race_batch(RACE_AGENTS - 1 - i, k),
				     on_commit, &r[1][n]);
		}
	const int total = RACE_AGENTS * RACE_GROUPS;
	unsigned stored = 0, dup = 0;
	for (int c = 0; c < 2; c++)
		for (int n = 0; n < total; n++) {
			while (r[c][n].calls == 0)
				uv_run(&loop[c], UV_RUN_ONCE);
			assert_int_equal(r[c][n].status, 0);
			stored += r[c][n].stored;
			dup += r[c][n].dup;
		}
	for (int c = 0; c < 2; c++)
		close_on_loop(&loop[c], st[c]);
	const long long keys = (long long)total * RACE_BATCH;
	assert_int_equal(stored, keys);
	assert_int_equal(dup, keys);
	assert_int_equal(count_where("SELECT count(*) FROM events"), keys);
	assert_int_equal(count_where("SELECT count(DISTINCT (agent, boot, seq))"
				     " FROM events"), keys);
	assert_int_equal(count_where("SELECT count(*) FROM host_state"),
			 RACE_AGENTS);
	assert_int_equal(count_where("SELECT count(*) FROM alerts"),
			 RACE_AGENTS);
	assert_int_equal(count_where("SELECT sum(count) FROM alerts"), total);
	assert_int_equal(count_where("SELECT count(*) FROM forward_queue"),
			 RACE_AGENTS);
	assert_int_equal(count_where("SELECT count(*) FROM agents WHERE"
				     " last_seen IS NULL"), 0);
	/* A session's deadlock count is in once it has ended. */
	for (int i = 0; i < 400 && pg_count_where(
		"SELECT count(*) FROM pg_stat_activity WHERE datname ="
		" current_database() AND application_name ="
		" 'eduwatch-collector'") > 0; i++)
		usleep(25 * 1000);
	assert_int_equal(count_where("SELECT deadlocks FROM pg_stat_database"
				     " WHERE datname = current_database()"), 0);
}

/* A group's alerts come out as one at a time would make them: a repeat
 * of an alert open before the group folds into it, a new key opens one
 * alert that the group's later repeats fold into, and each new alert is
 * queued once. */
static void test_pg_group_alerts_fold(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct result first = {0}, held = {0}, r[2] = {{0}};
	uv_loop_init(&loop);
	struct store *st = open_racer(&loop);
	submit_and_wait(&loop, st, batch_for("a-1", 1, 1, "scan.match", 1),
			&first);
	assert_int_equal(count_where("SELECT count FROM alerts"), 1);
	PGconn *lock = hold_writer(st, &held);
	store_submit(st, batch_for("a-1", 2, 2, "scan.match", 1), on_commit,
		     &r[0]);
	store_submit(st, batch_for("a-2", 1, 3, "scan.match", 1), on_commit,
		     &r[1]);
	release_writer(&loop, lock, r, 2);
	assert_int_equal(r[0].status, 0);
	assert_int_equal(r[1].status, 0);
	close_on_loop(&loop, st);
	assert_int_equal(count_where("SELECT count(*) FROM alerts"), 2);
	assert_int_equal(count_where("SELECT count FROM alerts"
				     " WHERE agent = 'a-1'"), 3);
	assert_int_equal(count_where("SELECT count FROM alerts"
				     " WHERE agent = 'a-2'"), 3);
	assert_int_equal(count_where("SELECT count(*) FROM forward_queue"), 2);
	assert_int_equal(count_where("SELECT count(*) FROM forward_deliveries"),
			 2);
}

/* An agent id that is not UTF-8 (the store's API takes what ingest
 * decoded) is stored repaired, U+FFFD for the bad byte, not refused at
 * every resend, and the group around it is stored too. */
static void test_pg_group_text_repaired(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct result held = {0}, r[2] = {{0}};
	uv_loop_init(&loop);
	struct store *st = open_store(&loop, 0, 0);
	PGconn *lock = hold_writer(st, &held);
	store_submit(st, batch_for("a-\xff", 1, 2, "av.status", 1), on_commit,
		     &r[0]);
	store_submit(st, batch_for("a-2", 1, 2, "av.status", 1), on_commit,
		     &r[1]);
	release_writer(&loop, lock, r, 2);
	assert_int_equal(r[0].status, 0);
	assert_int_equal(r[0].stored, 2);
	assert_int_equal(r[1].status, 0);
	close_on_loop(&loop, st);
	assert_int_equal(count_where("SELECT count(*) FROM events WHERE"
				     " agent = 'a-' || U&'\\FFFD'"), 2);
	assert_int_equal(count_where("SELECT count(*) FROM host_state"), 2);
}

/* ---- officers, sessions, API tokens, audit, register ----------------------
 * The console's tables, the same assertions on both backends. */

static void add_officer(struct store *st, const char *name)
{
	struct store_user u = {.disabled = false};
	snprintf(u.name, sizeof(u.name), "%s", name);
	snprintf(u.pwhash, sizeof(u.pwhash), "$argon2id$v=19$%s", name);
	snprintf(u.role, sizeof(u.role), "commune");
	snprintf(u.scope, sizeof(u.scope), "c1");
	assert_int_equal(store_user_add(st, &u), 0);
}

struct names {
	int n;
	char name[8][STORE_USER_MAX + 1];
};

static void on_user(void *arg, const struct store_user *u)
{
	struct names *ns = arg;
	if (ns->n < 8)
		snprintf(ns->name[ns->n++], sizeof(ns->name[0]), "%s", u->name);
}

static void test_officer_accounts_and_lockout(void **state)
{
	(void)state;
	struct store *st = open_store(NULL, 0, 0);
	add_officer(st, "bob");
	add_officer(st, "Alice");
	add_officer(st, "carol");
	struct store_user u = {.disabled = false};
	snprintf(u.name, sizeof(u.name), "bob");
	snprintf(u.pwhash, sizeof(u.pwhash), "other");
	assert_int_equal(store_user_add(st, &u), -EEXIST);

	/* The defaults the schema gives, and -ENOENT for a stranger. */
	assert_int_equal(store_user_get(st, "bob", &u), 0);
	assert_string_equal(u.pwhash, "$argon2id$v=19$bob");
	assert_string_equal(u.role, "commune");
	assert_string_equal(u.scope, "c1");
	assert_string_equal(u.lang, "vi");
	assert_false(u.disabled);
	assert_false(u.locked);
	assert_int_equal(u.failed, 0);
	assert_true(u.created_us > 0);
	assert_int_equal(store_user_get(st, "mallory", &u), -ENOENT);

	/* Byte order, whatever the database's locale. */
	struct names ns = {0};
	assert_int_equal(store_user_list(st, on_user, &ns), 0);
	assert_int_equal(ns.n, 3);
	assert_string_equal(ns.name[0], "Alice");
	assert_string_equal(ns.name[1], "bob");
	assert_string_equal(ns.name[2], "carol");

	/* An update rewrites every field but the name and creation time. */
	assert_int_equal(store_user_get(st, "carol", &u), 0);
	int64_t created = u.created_us;
	u.disabled = true;
	u.created_us = 1;
	snprintf(u.role, sizeof(u.role), "province");
	snprintf(u.totp, sizeof(u.totp), "JBSWY3DPEHPK3PXP");
	snprintf(u.lang, sizeof(u.lang), "en");
	assert_int_equal(store_user_update(st, &u), 0);
	memset(&u, 0, sizeof(u));
	assert_int_equal(store_user_get(st, "carol", &u), 0);
	assert_true(u.disabled);
	assert_string_equal(u.role, "province");
	assert_string_equal(u.totp, "JBSWY3DPEHPK3PXP");
	assert_string_equal(u.lang, "en");
	assert_int_equal(u.created_us, created);
	snprintf(u.name, sizeof(u.name), "mallory");
	assert_int_equal(store_user_update(st, &u), -ENOENT);

	/* Locked at the third failure in a row; a success in between
	 * starts the count again; the lock stays until an admin clears it. */
	bool locked = true;
	assert_int_equal(store_user_login_failed(st, "bob", 3, &locked), 0);
	assert_false(locked);
	assert_int_equal(store_user_login_ok(st, "bob"), 0);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(store_user_login_failed(st, "bob", 3, &locked),
				 0);
		assert_int_equal(locked, i == 3);
	}
	assert_int_equal(store_user_login_ok(st, "bob"), 0);
	assert_int_equal(store_user_get(st, "bob", &u), 0);
	assert_int_equal(u.failed, 0);
	assert_true(u.locked);
	u.locked = false;
	assert_int_equal(store_user_update(st, &u), 0);
	assert_int_equal(store_user_login_failed(st, "bob", 3, &locked), 0);
	assert_false(locked);
	/* An unknown name counts nothing and locks nothing. */
	locked = true;
	assert_int_equal(store_user_login_failed(st, "mallory", 3, &locked),
			 0);
	assert_false(locked);
	store_close(st);
}

static void test_officer_sessions_and_api_tokens(void **state)
{
	(void)state;
	struct store *st = open_store(NULL, 0, 0);
	add_officer(st, "bob");
	add_officer(st, "carol");
	const unsigned char s1[32] = {1}, s2[32] = {2}, s3[32] = {3},
			    t1[32] = {9, 9}, stranger[32] = {7};
	char user[STORE_USER_MAX + 1] = "";
	int64_t created = 0, last = 0;

	assert_int_equal(store_session_add(st, s1, "bob", 1000, "10.0.0.1"), 0);
	assert_int_equal(store_session_add(st, s2, "bob", 2000, "10.0.0.2"), 0);
	assert_int_equal(store_session_add(st, s3, "carol", 3000, "::1"), 0);
	/* The same secret twice, or a session of nobody: refused. */
	assert_int_equal(store_session_add(st, s1, "carol", 4000, "::1"),
			 -EEXIST);
	assert_int_equal(store_session_add(st, stranger, "mallory", 4000, "::1"),
			 -EEXIST);

	assert_int_equal(store_session_get(st, s1, user, &created, &last), 0);
	assert_string_equal(user, "bob");
	assert_int_equal(created, 1000);
	assert_int_equal(last, 1000);
	assert_int_equal(store_session_touch(st, s1, 5000), 0);
	assert_int_equal(store_session_get(st, s1, user, &created, &last), 0);
	assert_int_equal(created, 1000);
	assert_int_equal(last, 5000);
	assert_int_equal(store_session_get(st, stranger, user, &created, &last),
			 -ENOENT);

	/* Logout ends one session; logout everywhere ends all of bob's. */
	assert_int_equal(store_session_delete(st, s3), 0);
	assert_int_equal(store_session_get(st, s3, user, &created, &last),
			 -ENOENT);
	assert_int_equal(store_session_delete_user(st, "bob"), 0);
	assert_int_equal(store_session_get(st, s1, user, &created, &last),
			 -ENOENT);
	assert_int_equal(store_session_get(st, s2, user, &created, &last),
			 -ENOENT);

	assert_int_equal(store_api_token_add(st, t1, "siem pull", "carol", 10),
			 0);
	assert_int_equal(store_api_token_add(st, t1, "again", "bob", 11),
			 -EEXIST);
	assert_int_equal(store_api_token_add(st, stranger, "x", "mallory", 11),
			 -EEXIST);
	memset(user, 0, sizeof(user));
	assert_int_equal(store_api_token_user(st, t1, user), 0);
	assert_string_equal(user, "carol");
	assert_int_equal(store_api_token_user(st, stranger, user), -ENOENT);
	/* A revoked token names nobody. */
	assert_int_equal(run_sql("UPDATE api_tokens SET revoked = 12"), 0);
	assert_int_equal(store_api_token_user(st, t1, user), -ENOENT);
	store_close(st);
}

struct audit_seen {
	int n;
	uint64_t id[8];
	char action[8][32];
	int64_t at[8];
};

static void on_audit(void *arg, const struct store_audit *a)
{
	struct audit_seen *as = arg;
	if (as->n < 8) {
		as->id[as->n] = a->id;
		as->at[as->n] = a->at_us;
		snprintf(as->action[as->n], sizeof(as->action[0]), "%s",
			 a->action);
		as->n++;
	}
}

static void test_audit_log_paged_and_append_only(void **state)
{
	(void)state;
	struct store *st = open_store(NULL, 0, 0);
	for (int i = 0; i < 5; i++) {
		struct store_audit a = {.at_us = i == 4 ? 0 : 100 + i};
		snprintf(a.actor, sizeof(a.actor), "bob");
		snprintf(a.action, sizeof(a.action), "act%d", i);
		snprintf(a.object, sizeof(a.object), "alert/%d", i);
		snprintf(a.address, sizeof(a.address), "10.0.0.1");
		snprintf(a.detail, sizeof(a.detail), "{\"n\":%d}", i);
		assert_int_equal(store_audit_add(st, &a), 0);
	}
	/* Newest first; a page of two, then the page before its last id. */
	struct audit_seen page = {0};
	assert_int_equal(store_audit_list(st, 0, 2, on_audit, &page), 0);
	assert_int_equal(page.n, 2);
	assert_string_equal(page.action[0], "act4");
	assert_string_equal(page.action[1], "act3");
	assert_true(page.at[0] > 1000000); /* no time given: now */
	assert_int_equal(page.at[1], 103);
	struct audit_seen next = {0};
	assert_int_equal(store_audit_list(st, page.id[1], 2, on_audit, &next),
			 0);
	assert_int_equal(next.n, 2);
	assert_string_equal(next.action[0], "act2");
	assert_string_equal(next.action[1], "act1");
	assert_true(next.id[0] < page.id[1]);
	/* A negative limit is none. */
	struct audit_seen all = {0};
	assert_int_equal(store_audit_list(st, 0, -1, on_audit, &all), 0);
	assert_int_equal(all.n, 5);

	/* The database itself refuses to rewrite or remove history. */
	assert_int_not_equal(run_sql("UPDATE audit_log SET actor = 'eve'"), 0);
	assert_int_not_equal(run_sql("DELETE FROM audit_log"), 0);
	assert_int_equal(count_where("SELECT count(*) FROM audit_log WHERE"
				     " actor = 'bob'"), 5);
	store_close(st);
}

static struct store_system a_system(const char *unit, const char *name,
				    int level, const char *dossier)
{
	struct store_system y = {.level = level};
	snprintf(y.unit, sizeof(y.unit), "%s", unit);
	snprintf(y.name, sizeof(y.name), "%s", name);
	snprintf(y.kind, sizeof(y.kind), "web");
	snprintf(y.dossier, sizeof(y.dossier), "%s", dossier);
	snprintf(y.authority, sizeof(y.authority), "Sở GD&ĐT");
	snprintf(y.decision_no, sizeof(y.decision_no), "12/QĐ");
	snprintf(y.decision_date, sizeof(y.decision_date), "2026-01-02");
	snprintf(y.review_due, sizeof(y.review_due), "2028-01-02");
	snprintf(y.hosts, sizeof(y.hosts), "pc1,pc2");
	return y;
}

static int school_level(struct store *st, const char *code)
{
	struct store_school sc;
	assert_int_equal(store_school_get(st, code, &sc), 0);
	return sc.level;
}

struct systems_seen {
	int n;
	char key[8][64];
};

static void on_system(void *arg, const struct store_system *y)
{
	struct systems_seen *ss = arg;
	if (ss->n < 8)
		snprintf(ss->key[ss->n++], sizeof(ss->key[0]), "%s/%s",
			 y->unit, y->name);
}

static void test_register_sets_school_levels(void **state)
{
	(void)state;
	struct store *st = open_store(NULL, 0, 0);
	struct store_school s1 = {.code = "s1", .name = "One", .commune = "c1",
				  .level = 1, .expected_pcs = 3};
	struct store_school s2 = {.code = "s2", .name = "Two", .commune = "c1",
				  .level = 2, .expected_pcs = 3};
	assert_int_equal(store_school_add(st, &s1), 0);
	assert_int_equal(store_school_add(st, &s2), 0);

	/* A drafted system changes nothing; an approved one sets the level. */
	struct store_system web = a_system("s1", "website", 3, "drafted");
	uint64_t web_id = 0, mail_id = 0, again = 0;
	assert_int_equal(store_system_put(st, &web, &web_id), 0);
	assert_true(web_id > 0);
	assert_int_equal(school_level(st, "s1"), 1);
	snprintf(web.dossier, sizeof(web.dossier), "approved");
	assert_int_equal(store_system_put(st, &web, &again), 0);
	assert_int_equal(again, web_id); /* (unit, name) is one system */
	assert_int_equal(school_level(st, "s1"), 3);
	struct store_system mail = a_system("s1", "Mail", 2, "approved");
	assert_int_equal(store_system_put(st, &mail, &mail_id), 0);
	assert_int_equal(school_level(st, "s1"), 3);

	struct store_system got;
	assert_int_equal(store_system_get(st, web_id, &got), 0);
	assert_string_equal(got.unit, "s1");
	assert_string_equal(got.name, "website");
	assert_int_equal(got.level, 3);
	assert_string_equal(got.dossier, "approved");
	assert_string_equal(got.authority, "Sở GD&ĐT");
	assert_string_equal(got.decision_no, "12/QĐ");
	assert_string_equal(got.decision_date, "2026-01-02");
	assert_string_equal(got.review_due, "2028-01-02");
	assert_string_equal(got.hosts, "pc1,pc2");
	assert_int_equal(store_system_get(st, web_id + 100, &got), -ENOENT);

	/* Moving the level-3 system to s2: both units are recomputed (s1
	 * from its remaining approved system). */
	web.id = web_id;
	snprintf(web.unit, sizeof(web.unit), "s2");
	assert_int_equal(store_system_set(st, &web), 0);
	assert_int_equal(school_level(st, "s2"), 3);
	assert_int_equal(school_level(st, "s1"), 2);
	web.id = web_id + 100;
	assert_int_equal(store_system_set(st, &web), -ENOENT);
	/* The schema's checks hold on both backends, and nothing changes. */
	struct store_system bad = a_system("s1", "bad", 9, "approved");
	assert_int_equal(store_system_put(st, &bad, NULL), -EIO);
	bad = a_system("s1", "bad", 4, "lost");
	assert_int_equal(store_system_put(st, &bad, NULL), -EIO);
	assert_int_equal(school_level(st, "s1"), 2);

	/* By unit, then name, in byte order. */
	struct systems_seen ss = {0};
	assert_int_equal(store_system_list(st, NULL, on_system, &ss), 0);
	assert_int_equal(ss.n, 2);
	assert_string_equal(ss.key[0], "s1/Mail");
	assert_string_equal(ss.key[1], "s2/website");
	struct store_system extra = a_system("s1", "accounts", 1, "drafted");
	assert_int_equal(store_system_put(st, &extra, NULL), 0);
	memset(&ss, 0, sizeof(ss));
	assert_int_equal(store_system_list(st, "s1", on_system, &ss), 0);
	assert_int_equal(ss.n, 2);
	assert_string_equal(ss.key[0], "s1/Mail");
	assert_string_equal(ss.key[1], "s1/accounts");
	store_close(st);
}

/* Two collectors on one database (two store_open of the same URL, one
 * thread each) failing the same account's logins, writing the audit log,
 * adding the same API token and approving systems of one school at once:
 * every failure is counted, the lock is seen by exactly the calls after
 * the threshold, no audit row is lost, exactly one token add wins, and
 * the school ends at the level of its highest approved system: neither
 * collector's recomputation misses the other's. */
#define RACE_TRIES 40
#define RACE_MAX_FAILED 10

struct officer_racer {
	struct store *st;
	int level; /* of the last system it approves; the others are 1 */
	int locked_seen, token_added, token_taken, errors;
};

static void officer_race(void *arg)
{
	struct officer_racer *r = arg;
	const unsigned char token[32] = {0xee};
	for (int i = 0; i < RACE_TRIES; i++) {
		bool locked = false;
		if (store_user_login_failed(r->st, "bob", RACE_MAX_FAILED,
					    &locked) != 0)
			r->errors++;
		r->locked_seen += locked;
		struct store_audit a = {.at_us = 0};
		snprintf(a.actor, sizeof(a.actor), "bob");
		snprintf(a.action, sizeof(a.action), "login.failed");
		if (store_audit_add(r->st, &a) != 0)
			r->errors++;
		int rc = store_api_token_add(r->st, token, "race", "bob", i);
		if (rc == 0)
			r->token_added++;
		else if (rc == -EEXIST)
			r->token_taken++;
		else
			r->errors++;
		char name[32];
		snprintf(name, sizeof(name), "system %d-%d", r->level, i);
		/* The highest level comes last, when the other collector's
		 * approvals are still running: a recomputation that missed
		 * it and committed after it would leave the school lower. */
		struct store_system y = a_system(
			"s1", name, i == RACE_TRIES - 4 ? r->level : 1,
			"approved");
		if (i % 4 == 0 && store_system_put(r->st, &y, NULL) != 0)
			r->errors++;
	}
}

static void test_two_collectors_race_officers(void **state)
{
	(void)state;
	struct store *setup_st = open_store(NULL, 0, 0);
	add_officer(setup_st, "bob");
	struct store_school s1 = {.code = "s1", .name = "One", .commune = "c1",
				  .level = 1, .expected_pcs = 3};
	assert_int_equal(store_school_add(setup_st, &s1), 0);
	store_close(setup_st);
	struct officer_racer r[2] = {{.st = open_store(NULL, 0, 0), .level = 4},
				     {.st = open_store(NULL, 0, 0), .level = 2}};
	uv_thread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(uv_thread_create(&t[i], officer_race, &r[i]),
				 0);
	for (int i = 0; i < 2; i++)
		uv_thread_join(&t[i]);
	assert_int_equal(r[0].errors + r[1].errors, 0);
	assert_int_equal(r[0].locked_seen + r[1].locked_seen,
			 2 * RACE_TRIES - (RACE_MAX_FAILED - 1));
	assert_int_equal(r[0].token_added + r[1].token_added, 1);
	assert_int_equal(r[0].token_taken + r[1].token_taken,
			 2 * RACE_TRIES - 1);
	struct store_user u;
	assert_int_equal(store_user_get(r[0].st, "bob", &u), 0);
	assert_int_equal(u.failed, 2 * RACE_TRIES);
	assert_true(u.locked);
	assert_int_equal(count_where("SELECT count(DISTINCT id) FROM audit_log"),
			 2 * RACE_TRIES);
	assert_int_equal(count_where("SELECT count(*) FROM systems"),
			 2 * RACE_TRIES / 4);
	assert_int_equal(school_level(r[0].st, "s1"), 4);
	store_close(r[0].st);
	store_close(r[1].st);
}

/* Scheduled jobs across collectors sharing a store: two stores on one
 * database are two collectors. On PostgreSQL one of them runs a job,
 * keeps it while it asks again, and hands it over when it closes (its
 * connection, and so its lock, ends); jobs are apart. SQLite has one
 * collector per file, which runs every job. */
static void test_lead_one_collector_per_job(void **state)
{
	(void)state;
	struct store *one = open_store(NULL, 0, 0);
	struct store *two = open_store(NULL, 0, 0);
	bool leads;
	assert_int_equal(store_lead(one, "silence sweep", &leads), 0);
	assert_true(leads);
	assert_int_equal(store_lead(two, "silence sweep", &leads), 0);
	assert_int_equal(leads, !on_pg);
	assert_int_equal(store_lead(one, "silence sweep", &leads), 0);
	assert_true(leads);
	assert_int_equal(store_lead(two, "daily snapshot", &leads), 0);
	assert_true(leads);
	assert_int_equal(store_lead(one, "daily snapshot", &leads), 0);
	assert_int_equal(leads, !on_pg);
	store_close(one);
	/* The server frees the lock when its backend for one has exited,
	 * a moment after the client closed: a collector asks again at its
	 * next tick. */
	for (int i = 0; i < 100; i++) {
		assert_int_equal(store_lead(two, "silence sweep", &leads), 0);
		if (leads)
			break;
		usleep(50 * 1000);
	}
	assert_true(leads);
	store_close(two);
}

/* Two collectors on one database: one confirms past the id of an alert
 * it never claimed (the other's writer committed it late, with a lower
 * id than the ones sent). That alert stays queued for someone to send;
 * the chaos test (tests/chaos/pg_collectors.sh) lost such alerts. */
static void test_pg_done_keeps_unclaimed(void **state)
{
	(void)state;
	struct store_alert a = forwarded_alert;
	bool created;
	long long depth;
	struct store *one = open_forwarding(NULL);
	struct store *two = open_forwarding(NULL);
	assert_int_equal(store_alert_raise(one, &a, &created), 0);
	snprintf(a.dedupe_key, sizeof(a.dedupe_key), "k2");
	assert_int_equal(store_alert_raise(one, &a, &created), 0);
	struct deliveries_seen seen = {0};
	assert_int_equal(store_forward_deliveries(one, 0, INT64_MAX,
						  on_delivery, &seen), 0);
	uint64_t first = seen.d[0].alert, second = seen.d[2].alert;
	/* two takes the first alert only, sends it, and confirms up to the
	 * second's id. */
	assert_int_equal(store_forward_next(two, "soc-a", 0, 1, ignore_alert,
					    NULL), 0);
	assert_int_equal(store_forward_done(two, "soc-a", second), 0);
	assert_int_equal(store_forward_depth(one, "soc-a", &depth), 0);
	assert_int_equal(depth, 1);
	/* one sends the second and confirms it. */
	assert_int_equal(store_forward_next(one, "soc-a", 0, 10, ignore_alert,
					    NULL), 0);
	assert_int_equal(store_forward_done(one, "soc-a", second), 0);
	assert_int_equal(store_forward_depth(one, "soc-a", &depth), 0);
	assert_int_equal(depth, 0);
	assert_true(second > first);
	store_close(two);
	store_close(one);
}

/* One case, in a fresh store (a SQLite file or a PostgreSQL database). */
#define CASE(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
/* The contract both backends keep, run on each. */
#define BOTH_BACKENDS                                                      \
	CASE(test_commit_duplicates_state_retention),                      \
	CASE(test_future_ts_clamped), CASE(test_schema_from_the_future_refused), \
	CASE(test_day_history_one_transaction_kept),                       \
	CASE(test_open_alert_counts_scoped),                               \
	CASE(test_forward_deliveries_recorded), CASE(test_snapshot_prune), \
	CASE(test_alert_text_not_utf8),                                    \
	CASE(test_deliveries_migration_carries_over),                      \
	CASE(test_alert_volume_scoped),                                    \
	CASE(test_officer_accounts_and_lockout),                           \
	CASE(test_officer_sessions_and_api_tokens),                        \
	CASE(test_audit_log_paged_and_append_only),                        \
	CASE(test_register_sets_school_levels),                            \
	CASE(test_two_collectors_race_officers),                           \
	CASE(test_day_history_round_trip),                                 \
	CASE(test_report_versions), CASE(test_drill_campaign_moves),       \
	CASE(test_drill_target_timeline), CASE(test_release_progress),     \
	CASE(test_commands_withdrawn),                                     \
	CASE(test_soc_status_scoped), CASE(test_two_collectors_race_reports), \
	CASE(test_lead_one_collector_per_job),                             \
	CASE(test_redteam_actions_all_or_none),                            \
	CASE(test_redteam_window_flags_alerts)

int main(void)
{
	/* SQLite adds a look inside its own schema history. */
	const struct CMUnitTest tests[] = {
		BOTH_BACKENDS,
		CASE(test_migration_heals_pinned_state),
	};
	int failed = cmocka_run_group_tests_name("store", tests, NULL, NULL);
	/* PostgreSQL adds its partitions, and a server that goes away and
	 * comes back. */
	const struct CMUnitTest pg_tests[] = {
		BOTH_BACKENDS,
		CASE(test_pg_retention_drops_partitions),
		CASE(test_pg_down_refuses_then_stores),
		CASE(test_pg_done_keeps_unclaimed),
		CASE(test_pg_group_duplicates),
		CASE(test_pg_group_one_bad_batch),
		CASE(test_pg_group_host_state_newest),
		CASE(test_pg_two_writers_race),
		CASE(test_pg_group_alerts_fold),
		CASE(test_pg_group_text_repaired),
	};
	if (!pgtest_start()) {
		printf("ok - store_pg # SKIP PostgreSQL is not installed\n");
		return failed;
	}
	on_pg = true;
	failed += cmocka_run_group_tests_name("store_pg", pg_tests, NULL, NULL);
	pgtest_stop();
	return failed;
}
