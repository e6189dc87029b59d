/* Unit tests for common/textsafe: what peers' bytes look like once
 * escaped for a terminal or a log line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/textsafe.h"

static void expect(const char *in, size_t len, const char *want)
{
	char out[256];
	size_t n = textsafe_escape(out, sizeof(out), in, len);
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
	assert_int_equal(textsafe_escaped_len(in, len), strlen(want));
}

#define EXPECT(lit, want) expect(lit, sizeof(lit) - 1, want)

static void test_plain_and_utf8_kept(void **state)
{
	(void)state;
	EXPECT("pc-lab-01", "pc-lab-01");
	/* Vietnamese school names stay readable. */
	EXPECT("Trường THCS Nguyễn Du", "Trường THCS Nguyễn Du");
	EXPECT("\xf0\x9f\x98\x80 ok", "\xf0\x9f\x98\x80 ok");
	assert_true(textsafe_is_clean("Trường", strlen("Trường")));
	assert_false(textsafe_is_clean("a\nb", 3));
	assert_false(textsafe_is_clean("a\\b", 3));
}

static void test_controls_escaped(void **state)
{
	(void)state;
	EXPECT("pc\x1b[2J\nforged", "pc\\x1b[2J\\x0aforged");
	EXPECT("a\rb\tc\x7f", "a\\x0db\\x09c\\x7f");
	EXPECT("nul\0in", "nul\\x00in");
	EXPECT("back\\slash", "back\\\\slash");
	/* C1 CSI (U+009B) acts like ESC [ on some terminals. */
	EXPECT("x\xc2\x9b" "2J", "x\\u{9b}2J");
	/* Line separator and a right-to-left override. */
	EXPECT("a\xe2\x80\xa8" "b\xe2\x80\xae" "c", "a\\u{2028}b\\u{202e}c");
}

static void test_invalid_utf8_escaped(void **state)
{
	(void)state;
	EXPECT("\xff\xfe", "\\xff\\xfe");
	EXPECT("\xc0\xaf", "\\xc0\\xaf");		/* overlong '/' */
	EXPECT("\xed\xa0\x80", "\\xed\\xa0\\x80");	/* surrogate */
	EXPECT("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* > U+10FFFF */
	EXPECT("ab\xe1\x80", "ab\\xe1\\x80");		/* cut short */
	/* A stray byte does not eat the valid character after it. */
	EXPECT("\x80" "ư", "\\x80ư");
}

static void test_truncation_on_unit_boundary(void **state)
{
	(void)state;
	char out[8];
	/* "ư" is 2 bytes: with 4 free bytes "aaư" fits, "aaưư" does not. */
	size_t n = textsafe_escape(out, 5, "aaưư", strlen("aaưư"));
	assert_int_equal(n, 4);
	assert_string_equal(out, "aaư");
	/* An escape is never cut in half. */
	n = textsafe_escape(out, 6, "ab\x1b", 3);
	assert_string_equal(out, "ab");
	assert_int_equal(n, 2);
	n = textsafe_escape(out, 1, "abc", 3);
	assert_int_equal(n, 0);
	assert_string_equal(out, "");
	assert_int_equal(textsafe_escape(out, 0, "abc", 3), 0);
	assert_string_equal(textsafe_str(out, sizeof(out), NULL), "");
}

static void test_stream_matches_buffer(void **state)
{
	(void)state;
	static const char in[] = "h\x1b[31mé\xff\\\n";
	char *mem = NULL;
	size_t memlen = 0;
	FILE *f = open_memstream(&mem, &memlen);
	assert_non_null(f);
	assert_int_equal(textsafe_fwrite(f, in, sizeof(in) - 1), 0);
	assert_int_equal(textsafe_fputs(f, "!"), 0);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(mem, "h\\x1b[31mé\\xff\\\\\\x0a!");
	free(mem);
}

static void test_json_keeps_its_escapes(void **state)
{
	(void)state;
	static const char in[] = "{\"p\":\"C:\\\\Users\",\"h\":\"\x1b\xe2\x80\xae\"}";
	char *mem = NULL;
	size_t memlen = 0;
	FILE *f = open_memstream(&mem, &memlen);
	assert_non_null(f);
	assert_int_equal(textsafe_fwrite_json(f, in, sizeof(in) - 1), 0);
	assert_int_equal(fclose(f), 0);
	/* The escapes are JSON's own, so the result still parses. */
	assert_string_equal(mem,
			    "{\"p\":\"C:\\\\Users\",\"h\":\"\\u001b\\u202e\"}");
	free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_and_utf8_kept),
		cmocka_unit_test(test_controls_escaped),
		cmocka_unit_test(test_invalid_utf8_escaped),
		cmocka_unit_test(test_truncation_on_unit_boundary),
		cmocka_unit_test(test_stream_matches_buffer),
		cmocka_unit_test(test_json_keeps_its_escapes),
	};
	return cmocka_run_group_tests_name("textsafe", tests, NULL, NULL);
}
