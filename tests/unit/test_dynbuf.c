/* Unit tests for common/dynbuf: growth keeps the content and its NUL, the
 * size cap holds exactly, errors are sticky, and a failed allocation at
 * any step leaves a buffer that is safe to use and to free. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/dynbuf.h"

static void test_zeroed_is_ready(void **state)
{
	(void)state;
	struct dynbuf b = {0};
	assert_null(b.data);
	assert_int_equal(dynbuf_add_str(&b, "abc"), 0);
	assert_int_equal(dynbuf_add(&b, "", 0), 0);
	assert_int_equal(b.len, 3);
	assert_string_equal(b.data, "abc");
	dynbuf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	dynbuf_free(&b); /* a freed buffer frees again as a no-op */
}

static void test_growth_keeps_content(void **state)
{
	(void)state;
	struct dynbuf b;
	dynbuf_init(&b, 0);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(dynbuf_addf(&b, "%d,", i % 10), 0);
	assert_int_equal(b.len, 20000);
	assert_true(b.cap > b.len);
	assert_int_equal(b.data[b.len], '\0');
	for (size_t i = 0; i < b.len; i += 2) {
		assert_int_equal(b.data[i], '0' + (int)(i / 2 % 10));
		assert_int_equal(b.data[i + 1], ',');
	}
	/* Longer than the formatter's first pass. */
	char big[300];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	dynbuf_reset(&b);
	assert_int_equal(dynbuf_addf(&b, "<%s>", big), 0);
	assert_int_equal(b.len, 301);
	assert_int_equal(b.data[0], '<');
	assert_int_equal(b.data[300], '>');
	dynbuf_free(&b);
}

/* The cap counts the NUL, as curl's toobig does: max - 1 bytes fit. */
static void test_cap_exact(void **state)
{
	(void)state;
	struct dynbuf b;
	dynbuf_init(&b, 8);
	assert_int_equal(dynbuf_add(&b, "1234567", 7), 0);
	assert_int_equal(dynbuf_add(&b, "8", 1), -EMSGSIZE);
	assert_int_equal(b.failed, -EMSGSIZE);
	/* What fitted is kept; the error is sticky, even for an empty add. */
	assert_string_equal(b.data, "1234567");
	assert_int_equal(dynbuf_add(&b, "", 0), -EMSGSIZE);
	assert_int_equal(dynbuf_add_str(&b, "x"), -EMSGSIZE);
	assert_int_equal(dynbuf_addf(&b, "%d", 1), -EMSGSIZE);
	assert_null(dynbuf_take(&b, NULL));
	/* reset clears the error, keeps the cap */
	dynbuf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(dynbuf_add(&b, "abcdefg", 7), 0);
	assert_int_equal(dynbuf_addf(&b, "%s", "h"), -EMSGSIZE);
	dynbuf_free(&b);

	/* A size near SIZE_MAX cannot wrap the check. */
	dynbuf_init(&b, 64);
	assert_int_equal(dynbuf_add(&b, "ab", 2), 0);
	assert_int_equal(dynbuf_add(&b, "x", SIZE_MAX), -EMSGSIZE);
	assert_int_equal(dynbuf_add(&b, "x", SIZE_MAX - 1), -EMSGSIZE);
	dynbuf_free(&b);

	/* A large cap grows past powers of two up to the cap itself. */
	dynbuf_init(&b, 1000);
	char chunk[333];
	memset(chunk, 'z', sizeof(chunk));
	for (int i = 0; i < 3; i++)
		assert_int_equal(dynbuf_add(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(b.len, 999);
	assert_int_equal(b.cap, 1000);
	assert_int_equal(dynbuf_add(&b, "z", 1), -EMSGSIZE);
	dynbuf_free(&b);
}

static void test_default_cap(void **state)
{
	(void)state;
	struct dynbuf b = {0};
	assert_int_equal(dynbuf_add(&b, "x", DYNBUF_MAX_DEFAULT), -EMSGSIZE);
	assert_null(b.data);
	dynbuf_free(&b);
}

/* Every allocation a buffer makes can fail: the error is -ENOMEM, sticky,
 * what was written before stays, and the buffer frees cleanly. */
static void test_alloc_failure(void **state)
{
	(void)state;
	for (long n = 0; n < 8; n++) {
		struct dynbuf b = {0};
		size_t ok = 0;
		int rc = 0;
		alloc_fail_after(n);
		for (int i = 0; i < 100 && rc == 0; i++) {
			rc = dynbuf_addf(&b, "%040d", i);
			if (rc == 0)
				ok = b.len;
		}
		alloc_fail_after(-1);
		if (rc == 0) {
			/* n allocations were enough: 4000 bytes need 5. */
			assert_true(n >= 5);
			assert_int_equal(b.len, 4000);
		} else {
			assert_int_equal(rc, -ENOMEM);
			assert_int_equal(b.failed, -ENOMEM);
			assert_int_equal(b.len, ok);
			if (ok)
				assert_int_equal(strlen(b.data), ok);
			assert_int_equal(dynbuf_add(&b, "x", 1), -ENOMEM);
			assert_null(dynbuf_take(&b, NULL));
		}
		dynbuf_free(&b);
	}
}

static void test_take(void **state)
{
	(void)state;
	struct dynbuf b = {0};
	size_t len = 99;
	char *s = dynbuf_take(&b, &len);
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	alloc_free(s);
	assert_int_equal(dynbuf_add_str(&b, "hello"), 0);
	s = dynbuf_take(&b, &len);
	assert_string_equal(s, "hello");
	assert_int_equal(len, 5);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(s);
	/* The buffer is empty and usable after a take. */
	assert_int_equal(dynbuf_add_str(&b, "again"), 0);
	assert_string_equal(b.data, "again");
	dynbuf_free(&b);
	/* Taking needs no allocation when one exists; when none does, its
	 * failure is reported. */
	alloc_fail_after(0);
	assert_null(dynbuf_take(&b, &len));
	alloc_fail_after(-1);
	dynbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zeroed_is_ready),
		cmocka_unit_test(test_growth_keeps_content),
		cmocka_unit_test(test_cap_exact),
		cmocka_unit_test(test_default_cap),
		cmocka_unit_test(test_alloc_failure),
		cmocka_unit_test(test_take),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
