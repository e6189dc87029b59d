/* Unit tests for agent/spool: durability of seq, the size cap, acks and
 * recovery from a corrupt file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/core/spool.h"
#include "tests/support/testutil.h"

static char dir[512], path[600];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s", testutil_tempdir("spool"));
	snprintf(path, sizeof(path), "%s/spool.db", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	testutil_rmtree(dir);
	return 0;
}

static void append(struct spool *sp, const char *kind, int sev, size_t body,
		   uint64_t *seq)
{
	static char blob[8192];
	struct event ev = {.v = EVENT_VERSION, .boot = 7, .ts = 1, .sev = (uint8_t)sev};
	snprintf(ev.kind, sizeof(ev.kind), "%s", kind);
	snprintf(ev.agent, sizeof(ev.agent), "a1");
	/* A msgpack bin8/16 body of the wanted size is enough for the spool,
	 * which stores bodies as they are. */
	ev.body = blob;
	ev.body_len = body;
	assert_int_equal(spool_append(sp, &ev), 0);
	if (seq)
		*seq = ev.seq;
}

static void count_cb(void *arg, const struct event *ev)
{
	uint64_t *last = arg;
	assert_true(ev->seq > *last);
	*last = ev->seq;
}

static void test_seq_survives_restart_and_acks(void **state)
{
	(void)state;
	struct spool *sp;
	struct spool_open_info info;
	char err[256];
	uint64_t seq;
	assert_int_equal(spool_open(path, 1 << 20, &sp, &info, err, sizeof(err)), 0);
	for (int i = 0; i < 5; i++)
		append(sp, "agent.heartbeat", 0, 10, &seq);
	assert_int_equal(seq, 5);
	assert_int_equal(spool_ack(sp, 5), 0);
	spool_close(sp);

	/* After a restart (or a reboot), seq goes on from 6, never reused. */
	assert_int_equal(spool_open(path, 1 << 20, &sp, &info, err, sizeof(err)), 0);
	assert_false(info.recovered_corrupt);
	append(sp, "av.status", 3, 10, &seq);
	assert_int_equal(seq, 6);
	struct spool_stats st;
	spool_stats(sp, &st);
	assert_int_equal(st.depth, 1);
	assert_int_equal(st.last_acked, 5);
	uint64_t last = 5;
	assert_int_equal(spool_read(sp, 0, 100, count_cb, &last), 1);
	assert_int_equal(last, 6);
	spool_close(sp);
}

struct sev_count {
	int by_sev[11];
};

static void sev_cb(void *arg, const struct event *ev)
{
	struct sev_count *c = arg;
	c->by_sev[ev->sev]++;
}

/* Over the cap, the oldest events of the lowest severity go first, and the
 * loss is counted for the agent to report. */
static void test_cap_drops_low_severity_first(void **state)
{
	(void)state;
	struct spool *sp;
	struct spool_open_info info;
	char err[256];
	unlink(path);
	assert_int_equal(spool_open(path, 1 << 20, &sp, &info, err, sizeof(err)), 0);
	for (int i = 0; i < 20; i++)
		append(sp, "scan.match", 8, 4000, NULL);
	for (int i = 0; i < 400; i++)
		append(sp, "agent.heartbeat", 0, 4000, NULL);
	struct spool_stats st;
	spool_stats(sp, &st);
	assert_true(st.dropped > 0);
	assert_true(st.bytes <= 1 << 20);
	struct sev_count c = {0};
	assert_true(spool_read(sp, 0, 1000, sev_cb, &c) >= 0);
	assert_int_equal(c.by_sev[8], 20); /* every high-severity event kept */
	assert_int_equal(c.by_sev[0] + st.dropped, 400);
	/* The tracked depth is what is really in the table. */
	assert_int_equal(st.depth, c.by_sev[0] + c.by_sev[8]);
	spool_clear_dropped(sp);
	spool_stats(sp, &st);
	assert_int_equal(st.dropped, 0);
	spool_close(sp);
}

static void test_corrupt_file_moved_aside(void **state)
{
	(void)state;
	struct spool *sp;
	struct spool_open_info info;
	char err[256];
	unlink(path);
	FILE *f = fopen(path, "w");
	fputs("this is not a SQLite database, it is garbage left by a crash "
	      "and a disk that lied about its writes.........................",
	      f);
	for (int i = 0; i < 200; i++)
		fputs("garbage garbage garbage garbage garbage garbage garbage\n", f);
	fclose(f);
	assert_int_equal(spool_open(path, 1 << 20, &sp, &info, err, sizeof(err)), 0);
	assert_true(info.recovered_corrupt);
	assert_non_null(strstr(info.moved_to, "spool.db.corrupt-"));
	assert_int_equal(access(info.moved_to, F_OK), 0);
	uint64_t seq;
	append(sp, "agent.start", 0, 4, &seq);
	assert_int_equal(seq, 1);
	spool_close(sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seq_survives_restart_and_acks),
		cmocka_unit_test(test_cap_drops_low_severity_first),
		cmocka_unit_test(test_corrupt_file_moved_aside),
	};
	return cmocka_run_group_tests_name("spool", tests, setup, teardown);
}
