/* Unit tests for agent/drill/drill_args: the agent's own rules on a drill
 * command's arguments, held even when the collector that signed it erred
 * or was taken over. The file name is the sharpest edge: it becomes a file
 * the agent (root, or SYSTEM on Windows) creates. */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "agent/drill/drill_args.h"
#include "common/wire.h"

#define NOW_US 1796169600000000LL /* 2026-12-02 */
#define HOUR_US (3600LL * 1000000LL)

/* Parses the arguments of an approved campaign whose window is open for
 * an hour, with one more key when key is not NULL (the string str of
 * len bytes, or the integer num when str is NULL); returns
 * drill_args_parse's code and leaves its refusal text in `result`. */
static int parse_with(const char *key, const char *str, size_t len,
		      int64_t num, struct drill_args *a, char *result)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, key != NULL ? 5 : 4);
	wire_pack_kv_str(&pk, "campaign", "drop");
	wire_pack_kv_str(&pk, "approver", "province-officer");
	msgpack_pack_str_with_body(&pk, "campaign_id", 11);
	msgpack_pack_uint64(&pk, 7);
	msgpack_pack_str_with_body(&pk, "window_end_us", 13);
	msgpack_pack_int64(&pk, NOW_US + HOUR_US);
	if (key != NULL) {
		msgpack_pack_str_with_body(&pk, key, strlen(key));
		if (str != NULL)
			msgpack_pack_str_with_body(&pk, str, len);
		else
			msgpack_pack_int64(&pk, num);
	}
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, NULL),
			 MSGPACK_UNPACK_SUCCESS);
	int rc = drill_args_parse(&up.data, NOW_US, a, result, 256);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static int parse_with_file(const char *file, size_t file_len,
			   struct drill_args *a, char *result)
{
	return parse_with(file ? "file" : NULL, file, file_len, 0, a, result);
}

static int parse_file(const char *file, struct drill_args *a, char *result)
{
	return parse_with_file(file, strlen(file), a, result);
}

static void test_plain_names_accepted(void **state)
{
	(void)state;
	struct drill_args a;
	char result[256];
	assert_int_equal(parse_with_file(NULL, 0, &a, result), 0);
	assert_string_equal(a.file, "");
	assert_int_equal(a.campaign_id, 7);
	static const char *const names[] = {"sample.com", "eicar-drill.txt",
					    "usb_worm.1.exe", "A"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(parse_file(names[i], &a, result), 0);
		assert_string_equal(a.file, names[i]);
	}
}

/* Every one of these is refused with a reason, whatever the platform: a
 * path, a parent, a hidden file, a Windows separator, drive or stream,
 * invalid UTF-8 (the fuzzer's "samp\x96e..om" found the ".." check was
 * missing), an embedded NUL and an over-long name. */
static void test_hostile_names_refused(void **state)
{
	(void)state;
	static const char *const names[] = {
		"",	      "../etc/passwd", "a/b",	     "/etc/cron.d/x",
		".hidden",    "..",	       "a..b",	     "samp\226e..om",
		"x\\..\\y",   "C:evil",	       "f.txt:ads",  "caf\xc3\xa9",
		"sp ace",     "star*",	       "nl\nname",
	};
	struct drill_args a;
	char result[256];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		result[0] = '\0';
		assert_int_equal(parse_file(names[i], &a, result), -EPERM);
		assert_non_null(strstr(result, "only inside its drill folder"));
	}
	assert_int_equal(parse_with_file("ab\0cd", 5, &a, result), -EPERM);
	char longest[DRILL_FILE_NAME_MAX + 2];
	memset(longest, 'a', sizeof(longest));
	longest[DRILL_FILE_NAME_MAX] = '\0';
	assert_int_equal(parse_file(longest, &a, result), 0);
	longest[DRILL_FILE_NAME_MAX] = 'a';
	longest[DRILL_FILE_NAME_MAX + 1] = '\0';
	assert_int_equal(parse_file(longest, &a, result), -EPERM);
}

/* ransomware-sim's count of documents: 1 to DRILL_COUNT_MAX, a number. */
static void test_count_bounded(void **state)
{
	(void)state;
	struct drill_args a;
	char result[256];
	assert_int_equal(parse_with(NULL, NULL, 0, 0, &a, result), 0);
	assert_int_equal(a.count, 0);
	assert_int_equal(parse_with("count", NULL, 0, 40, &a, result), 0);
	assert_int_equal(a.count, 40);
	assert_int_equal(parse_with("count", NULL, 0, DRILL_COUNT_MAX, &a,
				    result), 0);
	static const int64_t bad[] = {0, -1, DRILL_COUNT_MAX + 1, INT64_MAX};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_with("count", NULL, 0, bad[i], &a,
					    result), -ERANGE);
		assert_non_null(strstr(result, "count out of range"));
	}
	assert_int_equal(parse_with("count", "40", 2, 0, &a, result), -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_names_accepted),
		cmocka_unit_test(test_hostile_names_refused),
		cmocka_unit_test(test_count_bounded),
	};
	return cmocka_run_group_tests_name("drill_args", tests, NULL, NULL);
}
