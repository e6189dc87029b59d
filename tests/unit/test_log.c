/* Unit tests for common/log: a message with peer bytes stays one line,
 * with no control byte, and long messages are cut, never overrun. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"

/* Runs one log call with stderr sent to a temporary file and returns what
 * it wrote (caller frees). */
static char *capture(const char *host)
{
	char path[] = "/tmp/ew-test-log-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	int saved = dup(2);
	assert_true(dup2(fd, 2) >= 0);
	log_setup("eduwatch-test", LOG_LEVEL_INFO);
	log_info("enroll: refused (host '%s')", host);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	char *buf = calloc(1, 8192);
	assert_non_null(buf);
	ssize_t n = pread(fd, buf, 8191, 0);
	assert_true(n > 0);
	close(fd);
	unlink(path);
	return buf;
}

static void test_newline_cannot_forge_a_line(void **state)
{
	(void)state;
	char *out = capture("pc\n2026-01-01T00:00:00.000Z eduwatch info: FORGED");
	/* Exactly one newline: the one that ends the line. */
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
	assert_non_null(strstr(out, "pc\\x0a2026"));
	free(out);
}

static void test_escape_and_invalid_utf8(void **state)
{
	(void)state;
	char *out = capture("pc\x1b[2J\xff\xfe Trường");
	assert_null(strchr(out, '\x1b'));
	assert_null(strchr(out, '\xff'));
	assert_non_null(strstr(out, "\\x1b[2J\\xff\\xfe Trường"));
	free(out);
}

static void test_long_message_is_cut(void **state)
{
	(void)state;
	char *big = malloc(10000);
	assert_non_null(big);
	memset(big, '\n', 9999);
	big[9999] = '\0';
	char *out = capture(big);
	size_t len = strlen(out);
	assert_true(len < 2048);
	assert_int_equal(out[len - 1], '\n');
	assert_ptr_equal(strchr(out, '\n'), out + len - 1);
	free(out);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_newline_cannot_forge_a_line),
		cmocka_unit_test(test_escape_and_invalid_utf8),
		cmocka_unit_test(test_long_message_is_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
