/* Unit tests for agent/upgrade/tries: when a release the watchdog
 * restored is installed again (an outside review: a PC restored once
 * stayed on the old release for good).
 *  - the waits double from upgrade.retry_restored_after, and the release
 *    is given up ("final") after UPGRADE_TRIES_MAX tries;
 *  - a restore of another release, or of another bundle of the same
 *    release, starts the count again;
 *  - a release whose rollout the collector halted is given up at once;
 *  - the line in ROOT/tries reads back as written, and anything else
 *    (damaged, cut, out of range, a NUL inside) reads as nothing to try. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/upgrade/tries.h"

#define HOUR_US (3600LL * 1000000LL)
#define SIX_HOURS_S (6LL * 3600)

static const int64_t t0 = 1800000000LL * 1000000LL;

static void test_waits_double_then_final(void **state)
{
	(void)state;
	struct upgrade_tries t = {0};
	assert_false(tries_due(&t, t0)); /* nothing restored yet */
	tries_note_restore(&t, "3.0", 7, SIX_HOURS_S, t0);
	assert_int_equal(t.restores, 1);
	assert_false(tries_final(&t));
	assert_false(tries_due(&t, t0 + 6 * HOUR_US - 1));
	assert_true(tries_due(&t, t0 + 6 * HOUR_US));
	tries_note_restore(&t, "3.0", 7, SIX_HOURS_S, t0);
	assert_false(tries_due(&t, t0 + 12 * HOUR_US - 1));
	assert_true(tries_due(&t, t0 + 12 * HOUR_US));
	tries_note_restore(&t, "3.0", 7, SIX_HOURS_S, t0);
	assert_int_equal(t.restores, UPGRADE_TRIES_MAX);
	assert_false(tries_final(&t));
	assert_true(tries_due(&t, t0 + 24 * HOUR_US));
	/* Its third try restored too: given up, never due again. */
	tries_note_restore(&t, "3.0", 7, SIX_HOURS_S, t0);
	assert_true(tries_final(&t));
	assert_int_equal(t.next_us, 0);
	assert_false(tries_due(&t, INT64_MAX));
	/* And stays so, however often it is restored by hand later. */
	tries_note_restore(&t, "3.0", 7, SIX_HOURS_S, t0);
	assert_true(tries_final(&t));
	assert_false(tries_due(&t, INT64_MAX));
}

static void test_other_release_starts_again(void **state)
{
	(void)state;
	struct upgrade_tries t = {0};
	tries_note_restore(&t, "3.0", 7, SIX_HOURS_S, t0);
	tries_note_restore(&t, "3.0", 7, SIX_HOURS_S, t0);
	tries_note_restore(&t, "3.1", 8, SIX_HOURS_S, t0);
	assert_string_equal(t.release, "3.1");
	assert_int_equal(t.bundle, 8);
	assert_int_equal(t.restores, 1);
	assert_int_equal(t.next_us, t0 + 6 * HOUR_US);
	/* The same version republished is another bundle: a new count. */
	tries_note_restore(&t, "3.1", 9, SIX_HOURS_S, t0);
	assert_int_equal(t.restores, 1);
	assert_int_equal(t.bundle, 9);
}

/* A halted rollout: the release is given up at once, whether it was
 * restored already or is still being installed, and a later restore of
 * it does not bring the tries back. */
static void test_halt_gives_up(void **state)
{
	(void)state;
	struct upgrade_tries t = {0};
	tries_note_restore(&t, "3.0", 7, SIX_HOURS_S, t0);
	assert_true(tries_halt(&t, "3.0", 7));
	assert_true(tries_final(&t));
	assert_false(tries_due(&t, INT64_MAX));
	assert_false(tries_halt(&t, "3.0", 7)); /* news once */
	tries_note_restore(&t, "3.0", 7, SIX_HOURS_S, t0);
	assert_false(tries_due(&t, INT64_MAX));
	/* Halted before any restore (installing when the halt came). */
	struct upgrade_tries u = {0};
	assert_true(tries_halt(&u, "3.1", 8));
	tries_note_restore(&u, "3.1", 8, SIX_HOURS_S, t0);
	assert_true(tries_final(&u));
	assert_false(tries_due(&u, INT64_MAX));
	/* The line survives a restart. */
	char line[UPGRADE_TRIES_LINE_MAX];
	struct upgrade_tries back;
	size_t n = tries_format(&u, line, sizeof(line));
	assert_int_equal(tries_parse(line, n, &back), 0);
	assert_true(tries_final(&back));
	/* Its restores are counted as they were: one, not four. */
	assert_int_equal(t.restores, 1);
	/* Another release's bundle, or another bundle of it, still counts
	 * afresh: a fixed release is tried. */
	tries_note_restore(&u, "3.1", 9, SIX_HOURS_S, t0);
	assert_int_equal(u.restores, 1);
	assert_true(tries_due(&u, t0 + 6 * HOUR_US));
	/* A halt of an older bundle leaves a newer one's line as it is. */
	assert_false(tries_halt(&u, "3.0", 7));
	assert_int_equal(u.bundle, 9);
	assert_true(tries_due(&u, t0 + 6 * HOUR_US));
}

static void test_without_bundle_never_due(void **state)
{
	(void)state;
	/* No verified bundle to install it from: nothing to try. */
	struct upgrade_tries t = {0};
	tries_note_restore(&t, "3.0", 0, SIX_HOURS_S, t0);
	assert_false(tries_due(&t, INT64_MAX - 1));
}

static void test_line_round_trip(void **state)
{
	(void)state;
	struct upgrade_tries t = {0}, back;
	char line[UPGRADE_TRIES_LINE_MAX + 1];
	tries_note_restore(&t, "123456789.987654321.1", UINT64_MAX / 10,
			   30LL * 86400, INT64_MAX / 4);
	tries_note_restore(&t, "123456789.987654321.1", UINT64_MAX / 10,
			   30LL * 86400, INT64_MAX / 4);
	size_t n = tries_format(&t, line, sizeof(line));
	assert_true(n > 0 && n < sizeof(line));
	assert_int_equal(tries_parse(line, n, &back), 0);
	assert_string_equal(back.release, t.release);
	assert_int_equal(back.bundle, t.bundle);
	assert_int_equal(back.restores, t.restores);
	assert_int_equal(back.next_us, t.next_us);
	/* Final: next_us 0, read back as final. */
	for (int i = 0; i < UPGRADE_TRIES_MAX; i++)
		tries_note_restore(&t, t.release, t.bundle, 60, t0);
	n = tries_format(&t, line, sizeof(line));
	assert_int_equal(tries_parse(line, n, &back), 0);
	assert_true(tries_final(&back));
}

static void refused(const char *text, size_t len)
{
	struct upgrade_tries t;
	assert_int_equal(tries_parse(text, len, &t), -EINVAL);
	assert_string_equal(t.release, "");
	assert_int_equal(t.bundle, 0);
	assert_false(tries_due(&t, INT64_MAX));
}

static void test_damaged_lines_refused(void **state)
{
	(void)state;
	struct upgrade_tries t;
	const char good[] = "3.0 7 1 1800021600000000\n";
	assert_int_equal(tries_parse(good, strlen(good), &t), 0);
	/* Cut anywhere, it is refused. */
	for (size_t n = 0; n < strlen(good); n++)
		refused(good, n);
	refused("3.0 7 1 1800021600000000\0\n", 26);
	refused("3.0 7 1 1800021600000000", 24);  /* no end */
	refused("3.0 -7 1 1800021600000000\n", 26); /* a sign */
	refused("3.0 7 5 1800021600000000\n", 25);  /* more restores than tries */
	refused("3.0 7 1 99999999999999999999\n", 29); /* past int64 */
	refused("3.0 7 1 9223372036854775808\n", 28);
	refused("03.0 7 1 1\n", 11);		   /* not a version */
	refused("../x 7 1 1\n", 11);
	refused(" 7 1 1\n", 7);
	refused("3.0  7 1 1\n", 11);
	char long_line[UPGRADE_TRIES_LINE_MAX + 8];
	memset(long_line, '1', sizeof(long_line));
	refused(long_line, sizeof(long_line));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_waits_double_then_final),
		cmocka_unit_test(test_other_release_starts_again),
		cmocka_unit_test(test_halt_gives_up),
		cmocka_unit_test(test_without_bundle_never_due),
		cmocka_unit_test(test_line_round_trip),
		cmocka_unit_test(test_damaged_lines_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
