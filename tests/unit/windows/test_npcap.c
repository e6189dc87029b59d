/* Npcap loaded at run time (agent/platform/windows/npcap.h), under wine:
 * no Npcap folder is "Npcap not installed"; wine's own wpcap.dll (in
 * System32, where wine keeps it) stands in for an installed Npcap and
 * has every function the sensor needs. Not testable under wine: a
 * wpcap.dll lacking a function (refused by name, -ENOSYS), since wine
 * loads its builtin wpcap for any file of that name. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <windows.h>

#include "agent/platform/windows/npcap.h"

static void absent_is_not_installed(void **state)
{
	(void)state;
	struct npcap np;
	char why[200] = "";
	/* The real place: wine has no System32\Npcap. */
	assert_int_equal(npcap_load(NULL, &np, why, sizeof(why)), -ENOENT);
	assert_string_equal(why, "Npcap not installed");
	assert_null(np.dll);
	assert_int_equal(npcap_load(L"C:\\no\\such\\folder", &np, why,
				    sizeof(why)), -ENOENT);
}

static void wpcap_has_every_function(void **state)
{
	(void)state;
	wchar_t sys[MAX_PATH];
	struct npcap np;
	char why[200] = "";
	assert_true(GetSystemDirectoryW(sys, MAX_PATH) > 0);
	assert_int_equal(npcap_load(sys, &np, why, sizeof(why)), 0);
	for (int i = 0; i < NPCAP_NFN; i++)
		if (np.fn[i] == NULL)
			fail_msg("%s not found", npcap_fn_name(i));
	assert_true(np.version[0] != '\0');
	print_message("# %s\n", np.version);
	npcap_unload(&np);
	assert_null(np.dll);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(absent_is_not_installed),
		cmocka_unit_test(wpcap_has_every_function),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
