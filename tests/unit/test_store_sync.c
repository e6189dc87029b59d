/* Unit tests for the store's synchronous API, run once on the SQLite
 * backend and once on a real PostgreSQL server (tests/support/pgtest.h):
 * token races, alert state transitions, forward-queue order, and the
 * locking contract (a call back into the store from a row callback aborts
 * with a message naming both calls instead of hanging). A real SQLite
 * file, real threads, a real forked child. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "collector/store.h"
#include "tests/support/pgtest.h"
#include "tests/support/testutil.h"

/* path is the store.url: a SQLite file, or a fresh PostgreSQL database
 * per test when on_pg. */
static char dir[512], path[1024];
static bool on_pg;

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s", testutil_tempdir("store-sync"));
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

static const char *const dests[] = {"soc", "siem"};

static struct store *open_sync(void)
{
	struct store_options o = {.url = path, .cache_bytes = 1 << 20,
				  .forward_dests = dests,
				  .nforward_dests = 2};
	struct store *st = NULL;
	char err[256];
	assert_int_equal(store_open(&o, NULL, &st, err, sizeof(err)), 0);
	return st;
}

static void add_school_and_agent(struct store *st)
{
	struct store_school sc = {.code = "s1", .name = "School one",
				  .commune = "c1", .level = 2,
				  .expected_pcs = 3};
	assert_int_equal(store_school_add(st, &sc), 0);
	assert_int_equal(store_agent_add(st, "a-1", "s1", "pc1", "00"), 0);
}

/* ---- tokens --------------------------------------------------------------- */

#define RACERS 12
#define TRIES 4
#define USES 7

struct racer {
	struct store *st; /* shared, or NULL: the racer opens its own */
	const unsigned char *hash;
	int ok, used, other;
};

static void race(void *arg)
{
	struct racer *r = arg;
	struct store *st = r->st ? r->st : open_sync();
	for (int i = 0; i < TRIES; i++) {
		enum store_token_result res;
		char school[STORE_CODE_MAX + 1] = "";
		int rc = store_token_consume(st, r->hash, &res, school);
		if (rc == 0 && res == STORE_TOKEN_OK && strcmp(school, "s1") == 0)
			r->ok++;
		else if (rc == 0 && res == STORE_TOKEN_USED)
			r->used++;
		else
			r->other++;
	}
	if (r->st == NULL)
		store_close(st);
}

/* Runs RACERS threads, each trying TRIES times; returns the successes. */
static int run_race(struct store *shared, const unsigned char *hash)
{
	uv_thread_t threads[RACERS];
	struct racer racers[RACERS];
	int ok = 0, used = 0;
	for (int i = 0; i < RACERS; i++) {
		racers[i] = (struct racer){.st = shared, .hash = hash};
		assert_int_equal(uv_thread_create(&threads[i], race, &racers[i]),
				 0);
	}
	for (int i = 0; i < RACERS; i++) {
		uv_thread_join(&threads[i]);
		assert_int_equal(racers[i].other, 0);
		ok += racers[i].ok;
		used += racers[i].used;
	}
	assert_int_equal(ok + used, RACERS * TRIES);
	return ok;
}

/* Many threads consuming one token of N uses: exactly N win, on one
 * shared store (its lock) and on a store each (SQLite's write lock). */
static void test_token_race(void **state)
{
	(void)state;
	struct store *st = open_sync();
	add_school_and_agent(st);
	const unsigned char shared_hash[32] = {1, 2, 3};
	const unsigned char own_hash[32] = {4, 5, 6};
	int64_t later = store_now_us() + 3600 * 1000000LL;
	assert_int_equal(store_token_add(st, shared_hash, "s1", USES, later), 0);
	assert_int_equal(store_token_add(st, own_hash, "s1", USES, later), 0);

	assert_int_equal(run_race(st, shared_hash), USES);
	assert_int_equal(run_race(NULL, own_hash), USES);
	store_close(st);
}

static void test_token_results(void **state)
{
	(void)state;
	struct store *st = open_sync();
	add_school_and_agent(st);
	const unsigned char live[32] = {7}, old[32] = {8}, unknown[32] = {9};
	enum store_token_result res;
	char school[STORE_CODE_MAX + 1];
	int64_t now = store_now_us();
	assert_int_equal(store_token_add(st, live, "s1", 1, now + 60000000), 0);
	assert_int_equal(store_token_add(st, old, "s1", 1, now - 1), 0);
	/* A token for a school that does not exist. */
	assert_int_equal(store_token_add(st, unknown, "nope", 1, now + 1),
			 -ENOENT);

	assert_int_equal(store_token_consume(st, unknown, &res, school), 0);
	assert_int_equal(res, STORE_TOKEN_UNKNOWN);
	assert_int_equal(store_token_consume(st, old, &res, school), 0);
	assert_int_equal(res, STORE_TOKEN_EXPIRED);
	assert_int_equal(store_token_consume(st, live, &res, school), 0);
	assert_int_equal(res, STORE_TOKEN_OK);
	assert_string_equal(school, "s1");
	assert_int_equal(store_token_consume(st, live, &res, school), 0);
	assert_int_equal(res, STORE_TOKEN_USED);
	store_close(st);
}

/* ---- alerts ---------------------------------------------------------------- */

static struct store_alert alert_of(const char *key, long long suppress_s)
{
	struct store_alert a;
	memset(&a, 0, sizeof(a));
	snprintf(a.rule, sizeof(a.rule), "rule-%s", key);
	snprintf(a.title, sizeof(a.title), "title %s", key);
	snprintf(a.category, sizeof(a.category), "test");
	snprintf(a.kind, sizeof(a.kind), "scan.match");
	snprintf(a.dedupe_key, sizeof(a.dedupe_key), "%s", key);
	snprintf(a.agent, sizeof(a.agent), "a-1");
	a.severity = 5;
	a.suppress_s = suppress_s;
	return a;
}

struct alerts_seen {
	int n;
	struct store_alert a[16];
};

static void collect_alert(void *arg, const struct store_alert *a)
{
	struct alerts_seen *s = arg;
	if (s->n < 16)
		s->a[s->n++] = *a;
}

static struct store_alert get_alert(struct store *st, uint64_t id)
{
	struct alerts_seen seen = {0};
	assert_int_equal(store_alert_list(st, NULL, NULL, 16, collect_alert,
					  &seen),
			 0);
	for (int i = 0; i < seen.n; i++)
		if (seen.a[i].id == id)
			return seen.a[i];
	fail_msg("alert %llu not listed", (unsigned long long)id);
	return seen.a[0];
}

/* open -> acknowledged -> resolved; every step recorded with who and
 * when; a step backwards or a second resolve is refused. */
static void test_alert_states(void **state)
{
	(void)state;
	struct store *st = open_sync();
	add_school_and_agent(st);
	struct store_alert a = alert_of("k1", 3600);
	bool created;
	assert_int_equal(store_alert_raise(st, &a, &created), 0);
	assert_true(created);
	/* Within the suppression window: folded, not a second alert. */
	assert_int_equal(store_alert_raise(st, &a, &created), 0);
	assert_false(created);

	struct alerts_seen seen = {0};
	assert_int_equal(store_alert_list(st, "open", "s1", 10, collect_alert,
					  &seen),
			 0);
	assert_int_equal(seen.n, 1);
	uint64_t id = seen.a[0].id;
	assert_int_equal(seen.a[0].count, 2);
	assert_string_equal(seen.a[0].school, "s1"); /* filled by the store */
	assert_string_equal(seen.a[0].hostname, "pc1");
	assert_string_equal(seen.a[0].commune, "c1");
	assert_string_equal(seen.a[0].evidence, "{}");

	/* Only the two target states exist. */
	assert_int_equal(store_alert_set_state(st, id, "open", "x"), -EINVAL);
	assert_int_equal(store_alert_set_state(st, id, "closed", "x"), -EINVAL);
	assert_int_equal(store_alert_set_state(st, id + 100, "acknowledged",
					       "x"),
			 -ENOENT);

	assert_int_equal(store_alert_set_state(st, id, "acknowledged", "ann"),
			 0);
	struct store_alert got = get_alert(st, id);
	assert_string_equal(got.state, "acknowledged");
	assert_string_equal(got.ack_by, "ann");
	assert_true(got.ack_us > 0);
	assert_int_equal(store_alert_set_state(st, id, "acknowledged", "bob"),
			 -EALREADY);
	assert_string_equal(get_alert(st, id).ack_by, "ann");

	assert_int_equal(store_alert_set_state(st, id, "resolved", "cat"), 0);
	got = get_alert(st, id);
	assert_string_equal(got.state, "resolved");
	assert_string_equal(got.resolved_by, "cat");
	assert_true(got.resolved_us >= got.ack_us);
	assert_int_equal(store_alert_set_state(st, id, "resolved", "dan"),
			 -EALREADY);
	assert_int_equal(store_alert_set_state(st, id, "acknowledged", "dan"),
			 -EALREADY);
	assert_string_equal(get_alert(st, id).resolved_by, "cat");

	/* The same key after a resolve opens a new alert... */
	assert_int_equal(store_alert_raise(st, &a, &created), 0);
	assert_true(created);
	seen.n = 0;
	assert_int_equal(store_alert_list(st, "open", NULL, 10, collect_alert,
					  &seen),
			 0);
	assert_int_equal(seen.n, 1);
	assert_true(seen.a[0].id > id);
	/* ...which may be resolved straight from open. */
	assert_int_equal(store_alert_set_state(st, seen.a[0].id, "resolved",
					       "eve"),
			 0);
	seen.n = 0;
	assert_int_equal(store_alert_list(st, "open", NULL, 10, collect_alert,
					  &seen),
			 0);
	assert_int_equal(seen.n, 0);
	store_close(st);
}

/* ---- the forward queue ----------------------------------------------------- */

static void test_forward_queue_order(void **state)
{
	(void)state;
	struct store *st = open_sync();
	add_school_and_agent(st);
	uint64_t ids[6];
	for (int i = 0; i < 6; i++) {
		char key[16];
		bool created;
		snprintf(key, sizeof(key), "q%d", i);
		struct store_alert a = alert_of(key, 0);
		assert_int_equal(store_alert_raise(st, &a, &created), 0);
		assert_true(created);
	}
	struct alerts_seen seen = {0};
	assert_int_equal(store_alert_list(st, NULL, NULL, 16, collect_alert,
					  &seen),
			 0);
	assert_int_equal(seen.n, 6);
	for (int i = 0; i < 6; i++)
		ids[i] = seen.a[5 - i].id; /* the list is newest first */

	/* Oldest first, at most limit, and streaming past after_id. */
	seen.n = 0;
	assert_int_equal(store_forward_next(st, "soc", 0, 4, collect_alert,
					    &seen),
			 0);
	assert_int_equal(seen.n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(seen.a[i].id, ids[i]);
	seen.n = 0;
	assert_int_equal(store_forward_next(st, "soc", ids[3], 4, collect_alert,
					    &seen),
			 0);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.a[0].id, ids[4]);
	assert_int_equal(seen.a[1].id, ids[5]);

	/* Confirming up to the third dequeues it and all before, for that
	 * destination only. */
	long long n;
	assert_int_equal(store_forward_done(st, "soc", ids[2]), 0);
	assert_int_equal(store_forward_depth(st, "soc", &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_forward_depth(st, "siem", &n), 0);
	assert_int_equal(n, 6);
	seen.n = 0;
	assert_int_equal(store_forward_next(st, "soc", 0, 10, collect_alert,
					    &seen),
			 0);
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.a[0].id, ids[3]);

	/* A dead letter leaves the queue in the same transaction; the rest
	 * keep their order. */
	struct store_dead_letter dl = {.alert = ids[4], .status = 400};
	snprintf(dl.dest, sizeof(dl.dest), "soc");
	snprintf(dl.reason, sizeof(dl.reason), "refused");
	assert_int_equal(store_dead_letter_add(st, &dl, NULL), 0);
	seen.n = 0;
	assert_int_equal(store_forward_next(st, "soc", 0, 10, collect_alert,
					    &seen),
			 0);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.a[0].id, ids[3]);
	assert_int_equal(seen.a[1].id, ids[5]);
	assert_int_equal(store_dead_letter_count(st, "soc", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_dead_letter_count(st, "siem", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_forward_depth(st, "nowhere", &n), 0);
	assert_int_equal(n, 0);
	store_close(st);
}

/* ---- commands --------------------------------------------------------------- */

/* A failed insert reports no id: before, it reported the rowid of the
 * last insert that succeeded, another command's. */
static void test_command_id_only_on_success(void **state)
{
	(void)state;
	struct store *st = open_sync();
	add_school_and_agent(st);
	int64_t now = store_now_us();
	uint64_t first = 0, second = 12345;
	assert_int_equal(store_command_add(st, "a-1", "scan", now,
					   now + 60000000, &first),
			 0);
	assert_true(first > 0);
	/* agent is NOT NULL in the schema: this insert fails. */
	assert_int_not_equal(store_command_add(st, NULL, "scan", now,
					       now + 60000000, &second),
			     0);
	assert_int_not_equal(second, first);
	assert_int_equal(second, 0);
	store_close(st);
}

/* ---- the locking contract ---------------------------------------------------- */

static struct store *child_store;

static void reenter_from_row(void *arg, const struct store_school *s)
{
	struct store_school again;
	(void)arg;
	/* Forbidden: the row callback calls the store that runs it. */
	/* Never returns: the store aborts first. */
	EW_IGNORE(store_school_get(child_store, s->code, &again));
}

/* Runs fn in a child with stderr to a pipe; waits up to 30 s. Returns
 * the wait status (or -1 on timeout, after killing it) and what the child
 * wrote. */
static int in_child(void (*fn)(void), char *out, size_t outlen)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGABRT, SIG_DFL);
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		fn();
		_exit(0);
	}
	close(fds[1]);
	size_t got = 0;
	int status = -1;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		if (poll(&p, 1, 100) > 0) {
			ssize_t r = read(fds[0], out + got, outlen - 1 - got);
			if (r > 0)
				got += (size_t)r;
		}
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 30) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			status = -1;
			break;
		}
	}
	ssize_t r;
	while (got < outlen - 1 && (r = read(fds[0], out + got,
					     outlen - 1 - got)) > 0)
		got += (size_t)r;
	out[got] = '\0';
	close(fds[0]);
	return status;
}

static void child_reenters(void)
{
	child_store = open_sync();
	add_school_and_agent(child_store);
	EW_IGNORE(store_school_list(child_store, reenter_from_row, NULL));
	/* Not reached when the contract is enforced. */
	store_close(child_store);
}

static void test_reentry_aborts_naming_both_calls(void **state)
{
	(void)state;
	char out[8192];
	int status = in_child(child_reenters, out, sizeof(out));
	assert_int_not_equal(status, -1); /* it must not hang */
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
		fail_msg("child did not abort (status %d): %s", status, out);
	assert_non_null(strstr(out, "store_school_get"));
	assert_non_null(strstr(out, "store_school_list"));
	assert_non_null(strstr(out, "row callback"));
}

/* The alert function runs under the lock in store_dead_letter_add: a
 * call back into the store from there aborts too. */
static size_t alert_fn_reenters(void *arg, const struct event *ev,
				struct store_alert *out, size_t max)
{
	long long n;
	(void)arg;
	(void)ev;
	(void)out;
	(void)max;
	/* Never returns: the store aborts first. */
	EW_IGNORE(store_forward_depth(child_store, "soc", &n));
	return 0;
}

static void child_alert_fn_reenters(void)
{
	struct store_options o = {.url = path, .cache_bytes = 1 << 20,
				  .alert_fn = alert_fn_reenters};
	char err[256];
	if (store_open(&o, NULL, &child_store, err, sizeof(err)) != 0)
		_exit(3);
	struct store_dead_letter dl = {.alert = 1, .status = 400};
	snprintf(dl.dest, sizeof(dl.dest), "soc");
	struct event notice = {.v = EVENT_VERSION, .seq = 1};
	snprintf(notice.kind, sizeof(notice.kind), "collector.dead_letter");
	EW_IGNORE(store_dead_letter_add(child_store, &dl, &notice));
	store_close(child_store);
}

static void test_reentry_from_alert_fn_aborts(void **state)
{
	(void)state;
	char out[8192];
	int status = in_child(child_alert_fn_reenters, out, sizeof(out));
	assert_int_not_equal(status, -1);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
		fail_msg("child did not abort (status %d): %s", status, out);
	assert_non_null(strstr(out, "store_forward_depth"));
	assert_non_null(strstr(out, "store_dead_letter_add"));
}

/* Only enrolled, unrevoked agents may connect; a revoke is once. */
static void test_agent_allowed(void **state)
{
	(void)state;
	struct store *st = open_sync();
	add_school_and_agent(st);
	bool allowed = true;
	assert_int_equal(store_agent_allowed(st, "nobody", &allowed), 0);
	assert_false(allowed);
	assert_int_equal(store_agent_allowed(st, "a-1", &allowed), 0);
	assert_true(allowed);
	/* The same id twice is refused, and the first enrollment stays. */
	assert_int_not_equal(store_agent_add(st, "a-1", "s1", "pc2", "11"), 0);
	assert_int_equal(store_agent_revoke(st, "a-1"), 0);
	assert_int_equal(store_agent_revoke(st, "a-1"), -ENOENT);
	assert_int_equal(store_agent_revoke(st, "nobody"), -ENOENT);
	for (int i = 0; i < 3; i++) { /* the prepared statement is reused */
		allowed = true;
		assert_int_equal(store_agent_allowed(st, "a-1", &allowed), 0);
		assert_false(allowed);
	}
	store_close(st);
}

/* Two stores are two locks: a callback of one may use the other. */
static struct store *other_store;
static int other_calls;

static void use_other(void *arg, const struct store_school *s)
{
	struct store_school again;
	(void)arg;
	if (store_school_get(other_store, s->code, &again) == 0)
		other_calls++;
}

static void test_other_store_from_callback(void **state)
{
	(void)state;
	struct store *st = open_sync();
	add_school_and_agent(st);
	other_store = open_sync();
	other_calls = 0;
	assert_int_equal(store_school_list(st, use_other, NULL), 0);
	assert_int_equal(other_calls, 1);
	/* And after a callback returns, the store is usable again. */
	struct store_school sc;
	assert_int_equal(store_school_get(st, "s1", &sc), 0);
	assert_int_equal(sc.enrolled_pcs, 1);
	store_close(other_store);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_token_race, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_token_results, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_alert_states, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_forward_queue_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_command_id_only_on_success, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_reentry_aborts_naming_both_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_store_from_callback,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_reentry_from_alert_fn_aborts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agent_allowed, setup,
						teardown),
	};
	int failed = cmocka_run_group_tests_name("store_sync", tests, NULL,
						 NULL);
	/* The same tests on PostgreSQL: both backends keep one contract. */
	if (!pgtest_start()) {
		printf("ok - store_sync_pg # SKIP PostgreSQL is not installed\n");
		return failed;
	}
	on_pg = true;
	failed += cmocka_run_group_tests_name("store_sync_pg", tests, NULL,
					      NULL);
	pgtest_stop();
	return failed;
}
