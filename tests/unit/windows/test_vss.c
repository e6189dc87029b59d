/* Shadow copies for backups (agent/platform/windows/vss.h) under wine:
 * the path mapping as pure code, and the fallback wine takes (it has no
 * VSS): the snapshot is refused with the reason, and the live file is
 * read and said to be. The snapshot itself is real Windows only. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include <cmocka.h>

#include "agent/platform/windows/vss.h"

static const wchar_t dev[] =
	L"\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy3";

static void paths_map_into_the_snapshot(void **state)
{
	(void)state;
	wchar_t out[MAX_PATH];
	assert_int_equal(vss_map_path(dev, L"C:\\",
				      L"C:\\Users\\gv\\Tài liệu\\a.docx", out,
				      MAX_PATH), 0);
	assert_true(wcscmp(out, L"\\\\?\\GLOBALROOT\\Device\\"
				L"HarddiskVolumeShadowCopy3\\Users\\gv\\"
				L"Tài liệu\\a.docx") == 0);
	/* Drive letters in any case. */
	assert_int_equal(vss_map_path(dev, L"C:\\", L"c:\\x", out, MAX_PATH),
			 0);
	assert_int_equal(vss_map_path(dev, L"C:\\", L"D:\\x", out, MAX_PATH),
			 -EXDEV);
	assert_int_equal(vss_map_path(dev, L"C:\\", L"C:\\x", out, 20),
			 -ENAMETOOLONG);
}

static void without_vss_the_live_file_is_read_and_said_to_be(void **state)
{
	(void)state;
	wchar_t dir[MAX_PATH], path[MAX_PATH];
	char why[300] = "", buf[16] = "";
	struct vss_snapshot *snap = (struct vss_snapshot *)1;
	GetTempPathW(MAX_PATH, dir);
	GetTempFileNameW(dir, L"ewv", 0, path);
	HANDLE f = CreateFileW(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0,
			       NULL);
	DWORD n;
	WriteFile(f, "open by a user", 14, &n, NULL);
	CloseHandle(f);

	int rc = vss_snapshot_open(path, &snap, why, sizeof(why));
	print_message("# %s\n", why);
	assert_int_equal(rc, -ENOTSUP);
	assert_null(snap);
	assert_non_null(strstr(why, "no shadow copy: "));
	vss_snapshot_free(NULL);

	HANDLE h = vss_open(NULL, path, why, sizeof(why));
	assert_true(h != INVALID_HANDLE_VALUE);
	assert_string_equal(why, "read live: no shadow copy");
	assert_true(ReadFile(h, buf, sizeof(buf) - 1, &n, NULL));
	assert_string_equal(buf, "open by a user");
	CloseHandle(h);
	DeleteFileW(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(paths_map_into_the_snapshot),
		cmocka_unit_test(without_vss_the_live_file_is_read_and_said_to_be),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
