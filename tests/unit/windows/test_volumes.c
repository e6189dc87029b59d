/* USB arrival and quick-scan folders (agent/platform/windows/volumes.h):
 * the arrival state machine as pure code, then the real APIs under wine
 * (wine has no removable drive, and gives the user's Desktop and
 * Downloads under its profile). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/platform/platform.h"
#include "agent/platform/windows/volumes.h"

#define E (1u << 4)
#define F (1u << 5)

static void a_stick_is_scanned_once_after_two_polls(void **state)
{
	(void)state;
	struct volwatch w = {0};
	assert_int_equal(volwatch_poll(&w, 0), 0);
	/* The letter appears: not yet, the file system may not answer. */
	assert_int_equal(volwatch_poll(&w, E), 0);
	assert_int_equal(volwatch_poll(&w, E), E);
	/* It stays: scanned once. */
	assert_int_equal(volwatch_poll(&w, E), 0);
	assert_int_equal(volwatch_poll(&w, E), 0);
}

static void a_stick_put_back_is_scanned_again(void **state)
{
	(void)state;
	struct volwatch w = {0};
	volwatch_poll(&w, E);
	assert_int_equal(volwatch_poll(&w, E), E);
	assert_int_equal(volwatch_poll(&w, 0), 0); /* pulled out */
	assert_int_equal(volwatch_poll(&w, E), 0);
	assert_int_equal(volwatch_poll(&w, E), E);
}

static void a_blip_is_not_scanned_and_drives_are_independent(void **state)
{
	(void)state;
	struct volwatch w = {0};
	/* Present for one poll only (a reader with no card settling). */
	assert_int_equal(volwatch_poll(&w, F), 0);
	assert_int_equal(volwatch_poll(&w, 0), 0);
	assert_int_equal(volwatch_poll(&w, 0), 0);
	/* E arrives while F is scanned and stays. */
	volwatch_poll(&w, F);
	assert_int_equal(volwatch_poll(&w, F | E), F);
	assert_int_equal(volwatch_poll(&w, F | E), E);
	assert_int_equal(volwatch_poll(&w, F | E), 0);
	/* F goes, E stays scanned. */
	assert_int_equal(volwatch_poll(&w, E), 0);
	assert_int_equal(volwatch_poll(&w, E), 0);
}

static void roots_and_the_real_drives(void **state)
{
	(void)state;
	char root[4];
	volumes_root(4, root);
	assert_string_equal(root, "E:\\");
	volumes_root(25, root);
	assert_string_equal(root, "Z:\\");
	/* Under wine C: and Z: are fixed; whatever it reports, C: is not
	 * removable. */
	assert_int_equal(volumes_removable() & (1u << 2), 0);
}

static void quick_folders_from_the_known_folder_api(void **state)
{
	(void)state;
	char out[2][VOLUMES_PATH_MAX];
	size_t n = 0;
	assert_int_equal(volumes_quick_folders(NULL, out, 2, &n), 0);
	assert_int_equal(n, 2);
	print_message("# %s | %s\n", out[0], out[1]);
	assert_non_null(strstr(out[0], "Desktop"));
	assert_non_null(strstr(out[1], "Downloads"));
	assert_true(out[0][1] == ':' && out[1][1] == ':');
	/* A cap of one takes the first only. */
	assert_int_equal(volumes_quick_folders(NULL, out, 1, &n), 0);
	assert_int_equal(n, 1);
}

/* Paths the scan command and agent.yaml accept: a drive and a separator,
 * or "/..." (the agent's own drive); never a drive-relative "C:x", a
 * bare name, a share or an empty string. */
static void absolute_paths_on_windows(void **state)
{
	(void)state;
	assert_true(platform_path_is_absolute("C:\\Users"));
	assert_true(platform_path_is_absolute("z:/tmp"));
	assert_true(platform_path_is_absolute("/tmp"));
	assert_false(platform_path_is_absolute("C:Users"));
	assert_false(platform_path_is_absolute("Users"));
	assert_false(platform_path_is_absolute("\\\\server\\share"));
	assert_false(platform_path_is_absolute(""));
	assert_false(platform_path_is_absolute("1:\\x"));
}

/* The full scan's "/" means the fixed drives: C: is one, under wine too. */
static void fixed_drives_include_c(void **state)
{
	(void)state;
	assert_true(volumes_of_type(DRIVE_FIXED) & (1u << 2));
	assert_int_equal(volumes_of_type(DRIVE_FIXED) & volumes_removable(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_stick_is_scanned_once_after_two_polls),
		cmocka_unit_test(a_stick_put_back_is_scanned_again),
		cmocka_unit_test(a_blip_is_not_scanned_and_drives_are_independent),
		cmocka_unit_test(roots_and_the_real_drives),
		cmocka_unit_test(quick_folders_from_the_known_folder_api),
		cmocka_unit_test(absolute_paths_on_windows),
		cmocka_unit_test(fixed_drives_include_c),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
