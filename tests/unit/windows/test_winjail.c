/* The Windows jail (agent/platform/windows/jail.h), with real processes:
 * this test runs itself as the jailed child, in the role argv[1] names,
 * and checks what the child could and could not do. Windows-only; run
 * under wine by make test. What wine does not implement (token
 * restrictions, the CPU cap) is checked for what wine does, and said. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <windows.h>

#include "agent/platform/windows/jail.h"

#define CHILD_REFUSED 0
#define CHILD_ALLOWED 3
#define CHILD_CONTAINED 4 /* allowed, but inside the job */

static wchar_t self_exe[MAX_PATH];

static bool read_all(HANDLE h, void *buf, DWORD len)
{
	DWORD got;
	for (DWORD done = 0; done < len; done += got)
		if (!ReadFile(h, (char *)buf + done, len - done, &got, NULL) ||
		    got == 0)
			return false;
	return true;
}

static bool write_all(HANDLE h, const void *buf, DWORD len)
{
	DWORD put;
	for (DWORD done = 0; done < len; done += put)
		if (!WriteFile(h, (const char *)buf + done, len - done, &put,
			       NULL))
			return false;
	return true;
}

/* Wine's ntdll exports its version; Windows' does not. Only under wine
 * may a limit wine does not implement go unenforced. */
static bool under_wine(void)
{
	HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
	return ntdll && GetProcAddress(ntdll, "wine_get_version") != NULL;
}

/* --- the child's roles ------------------------------------------------ */

static int child_main(const char *role)
{
	HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
	HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
	if (strcmp(role, "echo") == 0) {
		char b[4];
		return read_all(in, b, 4) && write_all(out, b, 4) ? 0 : 1;
	}
	if (strcmp(role, "spawn") == 0) {
		/* What a payload that took over the scanner would do next.
		 * Refused on Windows (one active process per job); wine lets
		 * it start, in the job, so it dies with it: the child says
		 * which, and sends the grandchild's pid (0: none). */
		wchar_t cmd[MAX_PATH + 16];
		STARTUPINFOW si = {.cb = sizeof(si)};
		PROCESS_INFORMATION pi;
		BOOL in_job = FALSE;
		uint32_t pid = 0;
		swprintf(cmd, MAX_PATH + 16, L"\"%ls\" hang", self_exe);
		if (!CreateProcessW(self_exe, cmd, NULL, NULL, FALSE, 0, NULL,
				    NULL, &si, &pi))
			return write_all(out, &pid, 4) ? CHILD_REFUSED : 1;
		pid = pi.dwProcessId;
		IsProcessInJob(pi.hProcess, NULL, &in_job);
		return write_all(out, &pid, 4) && in_job ? CHILD_CONTAINED
							 : CHILD_ALLOWED;
	}
	if (strcmp(role, "alloc") == 0) {
		void *p = VirtualAlloc(NULL, 256u << 20, MEM_COMMIT | MEM_RESERVE,
				       PAGE_READWRITE);
		return p == NULL ? CHILD_REFUSED : CHILD_ALLOWED;
	}
	if (strcmp(role, "hang") == 0) {
		Sleep(INFINITE);
		return 1;
	}
	if (strcmp(role, "readhandle") == 0) {
		uint64_t v;
		char buf[64];
		DWORD got = 0, put = 0;
		if (!read_all(in, &v, sizeof(v)))
			return 1;
		HANDLE h = (HANDLE)(uintptr_t)v;
		if (!ReadFile(h, buf, sizeof(buf), &got, NULL))
			return 1;
		/* The handle was given for reading only. */
		char wrote = WriteFile(h, "x", 1, &put, NULL) ? 'W' : 'r';
		return write_all(out, &wrote, 1) && write_all(out, buf, got) ? 0
									      : 1;
	}
	return 2;
}

/* --- the parent's tests ----------------------------------------------- */

static const struct jail_limits limits = {.memory_bytes = 64u << 20,
					  .cpu_percent = 50};

static void spawn(const char *role, struct jail *j)
{
	wchar_t args[MAX_PATH + 32];
	char err[256] = "";
	swprintf(args, MAX_PATH + 32, L"\"%ls\" %hs", self_exe, role);
	int rc = jail_spawn(self_exe, args, &limits, j, err, sizeof(err));
	if (rc != 0)
		fail_msg("jail_spawn %s: %s", role, err);
	if (j->missing[0])
		print_message("# the jail runs without: %s\n", j->missing);
}

static void child_talks_over_its_pipes(void **state)
{
	(void)state;
	struct jail j;
	char back[4];
	spawn("echo", &j);
	assert_true(write_all(j.to_child, "ping", 4));
	assert_true(read_all(j.from_child, back, 4));
	assert_memory_equal(back, "ping", 4);
	assert_int_equal(jail_close(&j, 10000), 0);
}

static void child_cannot_start_a_process(void **state)
{
	(void)state;
	struct jail j;
	uint32_t pid = 0;
	spawn("spawn", &j);
	assert_true(read_all(j.from_child, &pid, 4));
	if (pid == 0) {
		assert_int_equal(jail_close(&j, 20000), CHILD_REFUSED);
		return;
	}
	/* Only wine lets it start; there the grandchild must at least be
	 * in the job, and die when the job closes. */
	assert_true(under_wine());
	print_message("# wine does not enforce the job's one-process limit; "
		      "the grandchild is in the job and dies with it\n");
	HANDLE grandchild = OpenProcess(SYNCHRONIZE, FALSE, pid);
	assert_non_null(grandchild);
	assert_int_equal(jail_close(&j, 20000), CHILD_CONTAINED);
	assert_int_equal(WaitForSingleObject(grandchild, 10000), WAIT_OBJECT_0);
	CloseHandle(grandchild);
}

static void child_commit_is_capped(void **state)
{
	(void)state;
	struct jail j;
	spawn("alloc", &j);
	int code = jail_close(&j, 20000);
	if (code == CHILD_ALLOWED && under_wine())
		print_message("# wine does not enforce the job's memory limit "
			      "(real Windows does)\n");
	else
		assert_int_equal(code, CHILD_REFUSED);
}

static void closing_the_job_kills_the_child(void **state)
{
	(void)state;
	struct jail j;
	HANDLE watch;
	spawn("hang", &j);
	assert_true(DuplicateHandle(GetCurrentProcess(), j.process,
				    GetCurrentProcess(), &watch, SYNCHRONIZE,
				    FALSE, 0));
	assert_int_equal(WaitForSingleObject(watch, 300), WAIT_TIMEOUT);
	assert_int_equal(jail_close(&j, 0), -1);
	assert_int_equal(WaitForSingleObject(watch, 10000), WAIT_OBJECT_0);
	CloseHandle(watch);
}

static void child_reads_a_given_handle_only(void **state)
{
	(void)state;
	wchar_t dir[MAX_PATH], path[MAX_PATH];
	GetTempPathW(MAX_PATH, dir);
	GetTempFileNameW(dir, L"ewj", 0, path);
	HANDLE f = CreateFileW(path, GENERIC_READ | GENERIC_WRITE, 0, NULL,
			       CREATE_ALWAYS, FILE_FLAG_DELETE_ON_CLOSE, NULL);
	assert_true(f != INVALID_HANDLE_VALUE);
	assert_true(write_all(f, "handed over", 11));
	SetFilePointer(f, 0, NULL, FILE_BEGIN);

	struct jail j;
	uint64_t v;
	char back[12] = "";
	spawn("readhandle", &j);
	/* Our handle may write; the child's copy may not. */
	assert_int_equal(jail_give_handle(&j, f, &v), 0);
	assert_true(write_all(j.to_child, &v, sizeof(v)));
	assert_true(read_all(j.from_child, back, 12));
	assert_int_equal(back[0], 'r');
	assert_memory_equal(back + 1, "handed over", 11);
	assert_int_equal(jail_close(&j, 10000), 0);
	CloseHandle(f);
}

int main(int argc, char **argv)
{
	GetModuleFileNameW(NULL, self_exe, MAX_PATH);
	if (argc > 1)
		return strcmp(argv[1], "exit") == 0 ? 0 : child_main(argv[1]);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(child_talks_over_its_pipes),
		cmocka_unit_test(child_cannot_start_a_process),
		cmocka_unit_test(child_commit_is_capped),
		cmocka_unit_test(closing_the_job_kills_the_child),
		cmocka_unit_test(child_reads_a_given_handle_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
