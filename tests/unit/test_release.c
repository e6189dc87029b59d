/* Unit tests for collector/release over a real SQLite store: which
 * reports count against a release and when a ring halts (an outside
 * review's findings 3 and 4).
 *  - a restore of another release, or a refusal of another bundle, says
 *    nothing of this one;
 *  - failures from one school do not halt a ring that spans two, however
 *    many (releases.halt_min_schools); one from a second school does;
 *  - a PC's start is judged on the collector's clock (when agent.start was
 *    received), not on the PC's own, which may be hours off.
 *  - after the soak, a pilot ring whose other PCs were restored, gave up
 *    or have been silent past releases.pilot_wait is promoted once one PC
 *    runs the release, and says why; one that has none never is;
 *  - the halt rule comes first, and counts a PC that runs the release
 *    but reports errors, and one that gave up its tries ("final");
 *  - releases.pilot_wait is validated.
 * Pilot ring: schools A and B (B-1). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "collector/release.h"
#include "collector/settings.h"
#include "collector/store.h"
#include "common/timeutil.h"
#include "common/wire.h"
#include "tests/support/storeseed.h"
#include "tests/support/testutil.h"

#define MIN_US (60LL * 1000000)
#define HOUR_US (60 * MIN_US)

static char dir[512];
static uv_loop_t loop;
static struct store *st;
static struct settings s;
static int64_t now_us;
static uint64_t next_seq = 1;

static void on_commit(void *arg, int status, unsigned stored, unsigned dup)
{
	(void)stored, (void)dup;
	*(int *)arg = status + 1000;
}

/* One event from agent, stamped ts_us by the PC's clock; the collector
 * receives it now. */
static void send_event(const char *agent, const char *kind, int64_t ts_us,
		       const msgpack_sbuffer *body)
{
	struct store_batch *b = store_batch_new(1);
	assert_int_equal(storeseed_add(b, agent, kind, next_seq++, ts_us, body),
			 0);
	int done = 0;
	store_submit(st, b, on_commit, &done);
	while (done == 0)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(done, 1000);
}

/* agent.upgrade: state of release (bundle version) on this PC. */
static void upgrade_report(const char *agent, const char *release,
			   uint64_t version, const char *state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, version ? 4 : 3);
	if (version)
		wire_pack_kv_u64(&pk, "version", version);
	wire_pack_kv_str(&pk, "release", release);
	wire_pack_kv_str(&pk, "state", state);
	wire_pack_kv_str(&pk, "error", "test");
	send_event(agent, "agent.upgrade", now_us, &sb);
	msgpack_sbuffer_destroy(&sb);
}

static void start_report(const char *agent, const char *release,
			 int64_t ts_us)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	wire_pack_kv_str(&pk, "release", release);
	send_event(agent, "agent.start", ts_us, &sb);
	msgpack_sbuffer_destroy(&sb);
}

static void school(const char *code)
{
	struct store_school sc = {.level = 2, .expected_pcs = 3};
	snprintf(sc.code, sizeof(sc.code), "%s", code);
	snprintf(sc.name, sizeof(sc.name), "School %s", code);
	snprintf(sc.commune, sizeof(sc.commune), "X");
	assert_int_equal(store_school_add(st, &sc), 0);
}

static int setup(void **state)
{
	(void)state;
	char path[600], err[256];
	snprintf(dir, sizeof(dir), "%s", testutil_tempdir("release"));
	snprintf(path, sizeof(path), "%s/collector.yaml", dir);
	char yaml[600];
	snprintf(yaml, sizeof(yaml), "state_dir: %s\n", dir);
	testutil_write_file(dir, "collector.yaml", yaml);
	if (settings_load(path, &s, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	snprintf(s.release_pilot_schools[0], sizeof(s.release_pilot_schools[0]), "A");
	snprintf(s.release_pilot_schools[1], sizeof(s.release_pilot_schools[1]), "B");
	s.nrelease_pilot_schools = 2;
	snprintf(path, sizeof(path), "%s/store.db", dir);
	struct store_options o = {.url = path, .cache_bytes = 1 << 20,
				  .batch_max_events = 100};
	uv_loop_init(&loop);
	assert_int_equal(store_open(&o, &loop, &st, err, sizeof(err)), 0);
	school("A");
	school("B");
	static const char *const agents[][2] = {
		{"A-1", "A"}, {"A-2", "A"}, {"A-3", "A"}, {"B-1", "B"}};
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(store_agent_add(st, agents[i][0], agents[i][1],
						 agents[i][0], "00"),
				 0);
	now_us = timeutil_now_us();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	store_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	testutil_rmtree(dir);
	return 0;
}

/* Release 2.0 (bundle 7), its pilot ring offered at offered_us. */
static struct store_release piloting(int64_t offered_us)
{
	struct store_release r = {.id = 7, .size = 1, .created_us = offered_us,
				  .pilot_us = offered_us};
	snprintf(r.release, sizeof(r.release), "2.0");
	snprintf(r.channel, sizeof(r.channel), "pilot");
	snprintf(r.state, sizeof(r.state), "pilot");
	assert_int_equal(store_release_put(st, &r), 0);
	return r;
}

static void on_release(void *arg, const struct store_release *r)
{
	if (r->id == 7)
		*(struct store_release *)arg = *r;
}

static struct store_release stored(void)
{
	struct store_release r = {0};
	assert_int_equal(store_release_list(st, on_release, &r), 0);
	return r;
}

static void test_other_releases_reports_ignored(void **state)
{
	(void)state;
	struct release_ring pilot, stable;
	struct store_release r = piloting(now_us - MIN_US);
	/* The watchdog restored release 1.9 on three PCs of both schools,
	 * and a fourth refused another bundle: not this rollout's doing. */
	upgrade_report("A-1", "1.9", 0, "restored");
	upgrade_report("A-2", "1.9", 0, "restored");
	upgrade_report("B-1", "1.9", 0, "restored");
	upgrade_report("A-3", "", 6, "refused");
	assert_int_equal(release_progress(st, &s, &r, now_us, &pilot, &stable), 0);
	assert_int_equal(pilot.offered, 4);
	assert_int_equal(pilot.failed, 0);
	assert_int_equal(release_tick(st, NULL, &s, now_us), 0);
	assert_string_equal(stored().state, "pilot");
	/* The same reports about this release count. */
	upgrade_report("A-1", "2.0", 0, "restored");
	upgrade_report("A-3", "", 7, "refused");
	upgrade_report("B-1", "2.0", 0, "restored");
	assert_int_equal(release_progress(st, &s, &r, now_us, &pilot, &stable), 0);
	assert_int_equal(pilot.failed, 3);
	assert_int_equal(pilot.failed_schools, 2);
	assert_int_equal(release_tick(st, NULL, &s, now_us), 0);
	assert_string_equal(stored().state, "halted");
}

static void test_halt_needs_two_schools(void **state)
{
	(void)state;
	struct release_ring pilot, stable;
	struct store_release r = piloting(now_us - MIN_US);
	/* Every PC of school A fails (its network is down, say): 3 of 4,
	 * far over halt_percent, but one school. */
	upgrade_report("A-1", "2.0", 0, "restored");
	upgrade_report("A-2", "2.0", 0, "restored");
	upgrade_report("A-3", "2.0", 0, "restored");
	assert_int_equal(release_progress(st, &s, &r, now_us, &pilot, &stable), 0);
	assert_int_equal(pilot.failed, 3);
	assert_int_equal(pilot.failed_schools, 1);
	assert_int_equal(pilot.offered_schools, 2);
	assert_int_equal(release_tick(st, NULL, &s, now_us), 0);
	assert_string_equal(stored().state, "pilot");
	/* A second school fails too: the release's fault. */
	upgrade_report("B-1", "2.0", 0, "restored");
	assert_int_equal(release_tick(st, NULL, &s, now_us), 0);
	struct store_release h = stored();
	assert_string_equal(h.state, "halted");
	assert_non_null(strstr(h.why, "4 of 4 PCs offered failed, in 2 schools"));
}

static void test_halt_needs_min_failures(void **state)
{
	(void)state;
	piloting(now_us - MIN_US);
	s.release_halt_min_schools = 1;
	/* Two failures of four (50 %, over halt_percent 10) but under
	 * halt_min_failures 3: a hostile PC or two cannot stop a rollout. */
	upgrade_report("A-1", "2.0", 0, "restored");
	upgrade_report("B-1", "", 7, "refused");
	assert_int_equal(release_tick(st, NULL, &s, now_us), 0);
	assert_string_equal(stored().state, "pilot");
	upgrade_report("A-2", "2.0", 0, "restored");
	assert_int_equal(release_tick(st, NULL, &s, now_us), 0);
	assert_string_equal(stored().state, "halted");
}

static void test_start_judged_on_collector_clock(void **state)
{
	(void)state;
	struct release_ring pilot, stable;
	/* Offered a minute from now: A-1's start, received now, came before
	 * the offer, though its clock says an hour after. */
	struct store_release r = piloting(now_us + MIN_US);
	start_report("A-1", "2.0", now_us + HOUR_US);
	assert_int_equal(release_progress(st, &s, &r, now_us + 2 * MIN_US,
					  &pilot, &stable), 0);
	assert_int_equal(pilot.upgraded, 0);
	/* Offered a minute ago: A-2's start, received now, came after it,
	 * though its clock is an hour behind. */
	r = piloting(now_us - MIN_US);
	start_report("A-2", "2.0", now_us - HOUR_US);
	assert_int_equal(release_progress(st, &s, &r, now_us, &pilot, &stable), 0);
	assert_int_equal(pilot.upgraded, 2); /* A-1's start is after it too */
}

/* Release 2.0 offered a minute ago; PCs heard from after the offer have
 * a week to run it, so only silence and reports decide. */
static struct store_release piloting_long(void)
{
	s.release_within = 7 * 86400;
	s.release_soak = 3600;
	return piloting(now_us - MIN_US);
}

static void test_pilot_not_held_by_restored_or_silent(void **state)
{
	(void)state;
	struct release_ring pilot, stable;
	struct store_release r = piloting_long();
	start_report("A-1", "2.0", now_us);		 /* runs it */
	upgrade_report("A-2", "2.0", 0, "restored");	 /* watchdog */
	start_report("B-1", "1.9", now_us);		 /* heard, not yet */
	/* A-3 was never heard from: off for the summer. */
	assert_int_equal(release_progress(st, &s, &r, now_us + 2 * HOUR_US,
					  &pilot, &stable), 0);
	assert_int_equal(pilot.upgraded, 1);
	assert_int_equal(pilot.failed, 1);
	assert_int_equal(pilot.silent, 1);
	/* Soaked, but B-1 was heard 71 h ago: it may still come. */
	assert_int_equal(release_tick(st, NULL, &s, now_us + 71 * HOUR_US), 0);
	assert_string_equal(stored().state, "pilot");
	/* Silent past releases.pilot_wait (72 h): it holds nothing back. */
	assert_int_equal(release_tick(st, NULL, &s, now_us + 73 * HOUR_US), 0);
	/* Promoted; with no PC outside the pilot, the stable ring is done
	 * at once, and why keeps how the pilot ended. */
	struct store_release p = stored();
	assert_string_equal(p.state, "done");
	assert_int_not_equal(p.stable_us, 0);
	assert_non_null(strstr(p.why, "pilot ring promoted after the soak: 1 "
				      "of 4 PCs run it, 1 failed, 2 silent"));
	assert_non_null(strstr(p.why, "A-2: restored: test"));
}

static void test_pilot_needs_one_upgraded(void **state)
{
	(void)state;
	piloting_long();
	/* Restored on one PC, the rest silent for months: nothing shows
	 * the release works, so it never goes further. */
	upgrade_report("A-1", "2.0", 0, "restored");
	assert_int_equal(release_tick(st, NULL, &s, now_us + 30 * 24 * HOUR_US), 0);
	assert_string_equal(stored().state, "pilot");
}

static void test_pilot_soak_first(void **state)
{
	(void)state;
	piloting_long();
	for (const char *pc = "A-1\0A-2\0A-3\0B-1\0"; *pc; pc += 4)
		start_report(pc, "2.0", now_us);
	/* All four run it, but the soak (1 h) has not passed. */
	assert_int_equal(release_tick(st, NULL, &s, now_us + 30 * MIN_US), 0);
	assert_string_equal(stored().state, "pilot");
	assert_int_equal(release_tick(st, NULL, &s, now_us + 2 * HOUR_US), 0);
	struct store_release p = stored();
	assert_string_equal(p.state, "done");
	assert_string_equal(p.why, "pilot ring promoted: all 4 PCs run it");
}

static void test_halt_before_promotion(void **state)
{
	(void)state;
	struct release_ring pilot, stable;
	struct store_release r = piloting_long();
	/* One PC runs it; one gave up after its tries; one runs it but a
	 * part of it fails; one restored: three failures in two schools
	 * halt, though the pilot would otherwise be complete. */
	start_report("A-1", "2.0", now_us);
	upgrade_report("A-2", "2.0", 0, "final");
	start_report("B-1", "2.0", now_us);
	upgrade_report("B-1", "2.0", 0, "error");
	upgrade_report("A-3", "2.0", 0, "restored");
	assert_int_equal(release_progress(st, &s, &r, now_us + 2 * HOUR_US,
					  &pilot, &stable), 0);
	assert_int_equal(pilot.upgraded, 1);
	assert_int_equal(pilot.failed, 3);
	assert_int_equal(release_tick(st, NULL, &s, now_us + 2 * HOUR_US), 0);
	struct store_release h = stored();
	assert_string_equal(h.state, "halted");
	assert_non_null(strstr(h.why, "3 of 4 PCs offered failed, in 2 schools"));
	/* An error about another release says nothing of this one. */
	r = piloting_long();
	upgrade_report("A-2", "1.9", 0, "error");
	upgrade_report("A-3", "1.9", 0, "final");
	assert_int_equal(release_progress(st, &s, &r, now_us + 2 * HOUR_US,
					  &pilot, &stable), 0);
	assert_int_equal(pilot.failed, 1); /* B-1's error */
}

static void test_pilot_wait_validated(void **state)
{
	(void)state;
	static const char *const bad[] = {"0s", "91d", "soon", "-1h"};
	char path[600], yaml[700], err[256];
	struct settings t;
	snprintf(path, sizeof(path), "%s/collector.yaml", dir);
	assert_int_equal(s.release_pilot_wait, 72 * 3600); /* the default */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml), "state_dir: %s\nreleases:\n  "
			 "pilot_wait: %s\n", dir, bad[i]);
		testutil_write_file(dir, "collector.yaml", yaml);
		assert_int_not_equal(settings_load(path, &t, err, sizeof(err)), 0);
		assert_non_null(strstr(err, "pilot_wait"));
	}
	snprintf(yaml, sizeof(yaml), "state_dir: %s\nreleases:\n  "
		 "pilot_wait: 5d\n", dir);
	testutil_write_file(dir, "collector.yaml", yaml);
	assert_int_equal(settings_load(path, &t, err, sizeof(err)), 0);
	assert_int_equal(t.release_pilot_wait, 5 * 86400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_other_releases_reports_ignored,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_halt_needs_two_schools, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_halt_needs_min_failures,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_judged_on_collector_clock,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_pilot_not_held_by_restored_or_silent,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_pilot_needs_one_upgraded,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_pilot_soak_first, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_halt_before_promotion,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_pilot_wait_validated, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
