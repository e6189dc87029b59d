/* Unit tests for collector/store: batched commits and their callbacks,
 * duplicates, host state, retention. Run once on a real SQLite file and
 * once on a real PostgreSQL server (tests/support/pgtest.h), with a real
 * libuv loop; the PostgreSQL run adds its own cases (partitions dropped
 * by retention, a server that goes away and comes back, the calls it
 * does not support yet). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "collector/score.h"
#include "collector/store.h"
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
	sqlite3 *db;
	sqlite3_open(path, &db);
	sqlite3_exec(db, "UPDATE day_host SET day = '2023-03-01';"
			 "UPDATE day_school SET day = '2023-03-01';"
			 "UPDATE events SET received = received - 3*86400000000",
		     NULL, NULL, NULL);
	sqlite3_close(db);
	st = open_store(&loop, 1, 1);
	submit_and_wait(&loop, st, batch_of(10, 1, 1, "agent.heartbeat", 9), &r);
	store_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(count_where("SELECT count(*) FROM events WHERE sev >= 7"), 0);
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
static struct store *open_forwarding(void)
{
	static const char *const dests[] = {"soc-a", "soc-b"};
	struct store_options o = {.url = path, .cache_bytes = 1 << 20,
				  .batch_max_events = 100,
				  .forward_dests = dests, .nforward_dests = 2};
	struct store *st;
	char err[256];
	assert_int_equal(store_open(&o, NULL, &st, err, sizeof(err)), 0);
	return st;
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
	struct store *st = open_forwarding();
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
	if (!on_pg) {
		struct store_scope province = {STORE_SCOPE_PROVINCE, ""};
		struct store_forward_status fs;
		assert_int_equal(store_forward_status_scoped(st, &province,
							     "soc-a", &fs), 0);
		assert_int_equal(fs.last_delivered, second);
		assert_int_equal(fs.last_delivered_us, seen.d[2].delivered_us);
	}
	/* The window is by queue time: none queued before the test. */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_forward_deliveries(st, 0, before, on_delivery,
						  &seen), 0);
	assert_int_equal(seen.n, 0);
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
	struct store *st = open_forwarding();
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
	/* The migration that made the table: SQLite's 12th (later ones are
	 * idempotent and run again), PostgreSQL's latest. */
	long long made_at = on_pg ? version : 12;
	snprintf(sql, sizeof(sql),
		 "DROP TABLE forward_deliveries;"
		 " DELETE FROM schema_version WHERE version >= %lld", made_at);
	assert_int_equal(run_sql(sql), 0);
	st = open_forwarding();
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
		if (on_pg)
			continue;
		struct store_day_school ds = {.school = "A1", .commune = "X",
					      .level = 2, .pcs = 10};
		snprintf(ds.day, sizeof(ds.day), "%s", days[i]);
		assert_int_equal(store_day_school_put(st, &ds), 0);
	}
	long long removed = -1;
	assert_int_equal(store_snapshot_prune(st, "2023-12-01", &removed), 0);
	assert_int_equal(removed, on_pg ? 2 : 4);
	assert_int_equal(count_where("SELECT count(*) FROM score_snapshots"
				     " WHERE day >= '2023-12-01'"), 2);
	assert_int_equal(count_where("SELECT count(*) FROM score_snapshots"), 2);
	if (!on_pg)
		assert_int_equal(count_where("SELECT count(*) FROM day_school"),
				 2);
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

/* A call the backend does not have yet fails loudly, never silently. */
static void test_pg_unsupported_calls_fail(void **state)
{
	(void)state;
	struct store *st = open_store(NULL, 0, 0);
	struct store_user u;
	assert_int_equal(store_user_get(st, "root", &u), -ENOTSUP);
	struct day_rows rows = {.n = 1};
	assert_int_equal(store_day_put_all(st, next_day_row, &rows), -ENOTSUP);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_commit_duplicates_state_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_future_ts_clamped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_migration_heals_pinned_state, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_schema_from_the_future_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_day_history_one_transaction_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_alert_counts_scoped,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_forward_deliveries_recorded,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_prune, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_deliveries_migration_carries_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_volume_scoped,
						setup, teardown),
	};
	int failed = cmocka_run_group_tests_name("store", tests, NULL, NULL);
	/* The same contract on PostgreSQL; the cases that look inside
	 * SQLite's own schema history or at calls the PostgreSQL backend
	 * does not have yet are replaced by its own. */
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test_setup_teardown(
			test_commit_duplicates_state_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_future_ts_clamped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_schema_from_the_future_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_pg_retention_drops_partitions, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_pg_down_refuses_then_stores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pg_unsupported_calls_fail,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_alert_counts_scoped,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_forward_deliveries_recorded,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_prune, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_deliveries_migration_carries_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_volume_scoped,
						setup, teardown),
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
