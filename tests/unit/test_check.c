/* Unit tests for common/check: EW_ASSERT stops the process, with file,
 * line and expression, in every build: NDEBUG is defined here on purpose,
 * since <assert.h>'s assert would vanish under it. */
#define NDEBUG 1

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/check.h"

/* Runs EW_ASSERT(value == 1) in a child; returns its wait status and
 * what it wrote to stderr. */
static int run_child(int value, char *out, size_t cap)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		EW_ASSERT(value == 1);
		_exit(0);
	}
	close(fds[1]);
	size_t n = 0;
	ssize_t r;
	while (n + 1 < cap && (r = read(fds[0], out + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(fds[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void test_assert_aborts_with_where_and_what(void **state)
{
	(void)state;
	char err[512];
	int status = run_child(2, err, sizeof(err));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_non_null(strstr(err, "test_check.c:"));
	assert_non_null(strstr(err, "assertion failed: value == 1"));
}

static void test_assert_passes_quietly(void **state)
{
	(void)state;
	char err[512];
	int status = run_child(1, err, sizeof(err));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(err, "");
}

static int returns_minus_one(void)
{
	return -1;
}

static void test_ignore_evaluates_once(void **state)
{
	(void)state;
	int calls = 0;
	EW_IGNORE((calls++, returns_minus_one()));
	assert_int_equal(calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_assert_aborts_with_where_and_what),
		cmocka_unit_test(test_assert_passes_quietly),
		cmocka_unit_test(test_ignore_evaluates_once),
	};
	return cmocka_run_group_tests_name("check", tests, NULL, NULL);
}
