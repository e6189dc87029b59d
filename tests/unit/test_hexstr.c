/* Unit tests for common/hexstr: one spelling per value (the session ids,
 * enrollment tokens and backup repository ids it decodes come from
 * cookies, the command line and file names). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/hexstr.h"

static void test_round_trip(void **state)
{
	(void)state;
	const uint8_t in[4] = {0x00, 0x9f, 0xa0, 0xff};
	uint8_t out[4];
	char text[9];
	hexstr_encode(in, 4, text);
	assert_string_equal(text, "009fa0ff");
	assert_int_equal(hexstr_decode(text, out, 4), 0);
	assert_memory_equal(in, out, 4);
	hexstr_encode(in, 0, text);
	assert_string_equal(text, "");
}

static void test_refuses_other_spellings(void **state)
{
	(void)state;
	uint8_t out[4];
	/* Upper case, short, long, a non-digit, a NUL or a sign inside. */
	assert_int_equal(hexstr_decode("009FA0FF", out, 4), -EINVAL);
	assert_int_equal(hexstr_decode("009fa0f", out, 4), -EINVAL);
	assert_int_equal(hexstr_decode("009fa0ff0", out, 4), -EINVAL);
	assert_int_equal(hexstr_decode("009fa0fg", out, 4), -EINVAL);
	assert_int_equal(hexstr_decode("009f\0a0ff", out, 4), -EINVAL);
	assert_int_equal(hexstr_decode("+09fa0ff", out, 4), -EINVAL);
	assert_int_equal(hexstr_decode(" 09fa0ff", out, 4), -EINVAL);
	assert_int_equal(hexstr_decode("", out, 4), -EINVAL);
	assert_int_equal(hexstr_decode("", out, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refuses_other_spellings),
	};
	return cmocka_run_group_tests_name("hexstr", tests, NULL, NULL);
}
