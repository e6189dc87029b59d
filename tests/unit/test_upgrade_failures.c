/* Unit tests for agent/upgrade/apply's upgrade_new_failures: which
 * sources that failed to start count against the release that runs (a
 * ring halts on a release that connects but does not work).
 *  - nothing counts without a record of the release before, or on a
 *    restart of the same release;
 *  - a source that failed under the release before too is the PC's;
 *  - only the ones that started before and fail now are new;
 *  - a damaged record counts nothing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/upgrade/apply.h"
#include "tests/support/testutil.h"

static char root[512];

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "%s", testutil_tempdir("upfail"));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	testutil_rmtree(root);
	return 0;
}

static void test_new_failures_only(void **state)
{
	(void)state;
	/* First start: nothing known before it. */
	assert_int_equal(upgrade_new_failures(root, "1.0", 0x4), 0);
	/* A restart of the same release compares nothing. */
	assert_int_equal(upgrade_new_failures(root, "1.0", 0x6), 0);
	/* 2.0: source 2 failed under 1.0 too (the PC's), 0 is new. */
	assert_int_equal(upgrade_new_failures(root, "2.0", 0x7), 0x1);
	/* Restored to 1.0: what failed under 2.0 is not 1.0's fault. */
	assert_int_equal(upgrade_new_failures(root, "1.0", 0x4), 0);
	/* 2.0 again, and this time all start. */
	assert_int_equal(upgrade_new_failures(root, "2.0", 0), 0);
}

static void test_damaged_record_counts_nothing(void **state)
{
	(void)state;
	testutil_write_file(root, "sources-failed", "garbage");
	assert_int_equal(upgrade_new_failures(root, "2.0", 0xff), 0);
	/* Rewritten whole: the next release compares with 2.0's. */
	assert_int_equal(upgrade_new_failures(root, "3.0", 0xff), 0);
	assert_int_equal(upgrade_new_failures(root, "4.0", 0x1ff), 0x100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_failures_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_damaged_record_counts_nothing,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
