/* Unit tests for common/jsonout: whatever bytes come in, the JSON that
 * goes out is valid UTF-8 and valid JSON (checked by the tests' own
 * strict validator); long strings are cut in the middle with a marker;
 * raw bytes survive in KEY_b64. */
#include <math.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "common/alloc.h"
#include "common/jsonout.h"
#include "common/wire.h"
#include "tests/support/jsoncheck.h"

static char *strn_json(const char *s, size_t n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	json_print_strn(f, s, n);
	fclose(f);
	assert_true(jsoncheck_valid(text, len, NULL));
	return text;
}

static void expect_json(const char *in, size_t n, const char *want)
{
	char *got = strn_json(in, n);
	if (strcmp(got, want) != 0)
		fail_msg("got %s, want %s", got, want);
	free(got);
}

#define EXPECT(lit, want) expect_json(lit, sizeof(lit) - 1, want)

static void test_invalid_utf8_becomes_fffd(void **state)
{
	(void)state;
	EXPECT("\xff\xfe.exe", "\"\\ufffd\\ufffd.exe\"");
	EXPECT("a\x80z", "\"a\\ufffdz\"");			/* stray continuation */
	EXPECT("\xc0\xaf", "\"\\ufffd\\ufffd\"");		/* overlong '/' */
	EXPECT("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");	/* overlong, 3 */
	EXPECT("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");	/* surrogate */
	EXPECT("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
	EXPECT("x\xe1\x80", "\"x\\ufffd\\ufffd\"");		/* cut short */
	EXPECT("Tr\xc6\xb0\xe1\xbb\x9dng \xf0\x9f\x98\x80",
	       "\"Tr\xc6\xb0\xe1\xbb\x9dng \xf0\x9f\x98\x80\""); /* valid */
	EXPECT("\x01\x1f\x7f\n\"\\", "\"\\u0001\\u001f\\u007f\\u000a\\\"\\\\\"");
	EXPECT("a\0b", "\"a\\u0000b\"");
}

static void test_cut_middle(void **state)
{
	(void)state;
	char path[700], out[512];
	size_t n = 0;
	/* A deep path whose folders hold Vietnamese names (2- and 3-byte
	 * characters near every cut point). */
	n += (size_t)snprintf(path, sizeof(path), "C:\\Users\\hs");
	while (n < 600)
		n += (size_t)snprintf(path + n, sizeof(path) - n, "\\th\xc6\xb0 m\xe1\xbb\xa5\x63");
	n += (size_t)snprintf(path + n, sizeof(path) - n, "\\virus.exe");
	assert_true(json_cut_middle(path, n, out, sizeof(out)));
	assert_true(strlen(out) < sizeof(out));
	assert_true(strlen(out) > sizeof(out) - 8);
	assert_non_null(strstr(out, JSON_CUT_MARKER));
	assert_memory_equal(out, "C:\\Users\\hs\\", 12);
	assert_string_equal(out + strlen(out) - 10, "\\virus.exe");
	assert_true(jsoncheck_utf8(out, strlen(out)));
	/* Short enough: copied as it is. */
	assert_false(json_cut_middle("a/b", 3, out, sizeof(out)));
	assert_string_equal(out, "a/b");
}

/* A file name's raw bytes made text a database takes: every invalid byte
 * one U+FFFD, valid characters kept, a cut for room between characters. */
static void test_repair(void **state)
{
	(void)state;
	char out[JSON_UTF8_REPAIR_CAP(16)];
	assert_false(json_utf8_repair("\xff\xfe.com", 6, out, sizeof(out)));
	assert_string_equal(out, "\xef\xbf\xbd\xef\xbf\xbd.com");
	/* A truncated sequence, a surrogate, an overlong slash. */
	assert_false(json_utf8_repair("a\xe1\xbb", 3, out, sizeof(out)));
	assert_string_equal(out, "a\xef\xbf\xbd\xef\xbf\xbd");
	assert_false(json_utf8_repair("\xed\xa0\x80\xc0\xaf", 5, out, sizeof(out)));
	assert_true(jsoncheck_utf8(out, strlen(out)));
	assert_null(strchr(out, '/'));
	/* Valid text is kept byte for byte. */
	static const char vietnamese[] = "th\xc6\xb0 m\xe1\xbb\xa5\x63";
	assert_false(json_utf8_repair(vietnamese, sizeof(vietnamese) - 1, out, sizeof(out)));
	assert_string_equal(out, vietnamese);
	/* No room for the whole 3-byte character: cut before it. */
	char small[5];
	assert_true(json_utf8_repair("ab\xe1\xbb\xa5", 5, small, sizeof(small)));
	assert_string_equal(small, "ab");
	assert_true(json_utf8_repair("abc\xff", 4, small, sizeof(small)));
	assert_string_equal(small, "abc");
	char one[1];
	assert_true(json_utf8_repair("x", 1, one, sizeof(one)));
	assert_string_equal(one, "");
}

/* The allocating form never cuts: 64 bad bytes become 64 U+FFFD. */
static void test_repaired_whole(void **state)
{
	(void)state;
	char bad[64];
	memset(bad, 0xff, sizeof(bad));
	char *fixed = json_utf8_repaired(bad, sizeof(bad));
	assert_non_null(fixed);
	assert_int_equal(strlen(fixed), 3 * sizeof(bad));
	assert_true(jsoncheck_utf8(fixed, strlen(fixed)));
	assert_memory_equal(fixed + 3 * 63, JSON_UTF8_REPLACEMENT, 3);
	alloc_free(fixed);
	fixed = json_utf8_repaired("", 0);
	assert_non_null(fixed);
	assert_string_equal(fixed, "");
	alloc_free(fixed);
}

static char *render(const char *body, size_t len, size_t max, bool b64)
{
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, body, len, NULL),
			 MSGPACK_UNPACK_SUCCESS);
	struct json_render_opts o = {.max_string = max, .raw_b64 = b64};
	char *out = NULL;
	size_t n = 0;
	assert_int_equal(json_render_msgpack(&up.data, &o, &out, &n), 0);
	msgpack_unpacked_destroy(&up);
	size_t where = 0;
	if (!jsoncheck_valid(out, n, &where))
		fail_msg("invalid JSON at %zu: %s", where, out);
	return out;
}

static void test_render_b64_and_cut(void **state)
{
	(void)state;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	wire_pack_kv_str(&pk, "path", "a\xff\xfe");
	wire_pack_kv_str(&pk, "ok", "Tr\xc6\xb0\xe1\xbb\x9dng");
	wire_pack_kv_str(&pk, "k\xc0", "v");
	msgpack_pack_str_with_body(&pk, "f", 1);
	msgpack_pack_double(&pk, NAN);
	char *out = render(sb.data, sb.size, 0, true);
	assert_string_equal(out, "{\"path\":\"a\\ufffd\\ufffd\",\"path_b64\":"
				 "\"Yf/+\",\"ok\":\"Tr\xc6\xb0\xe1\xbb\x9dng\","
				 "\"k\\ufffd\":\"v\",\"f\":null}");
	free(out);
	out = render(sb.data, sb.size, 0, false);
	assert_null(strstr(out, "_b64"));
	free(out);

	msgpack_sbuffer_clear(&sb);
	char long_s[3000];
	memset(long_s, 'x', sizeof(long_s));
	memcpy(long_s + sizeof(long_s) - 8, "END.exe", 8);
	msgpack_pack_map(&pk, 1);
	wire_pack_kv_str(&pk, "path", long_s);
	out = render(sb.data, sb.size, 256, true);
	assert_non_null(strstr(out, "xxx" JSON_CUT_MARKER "xxx"));
	assert_non_null(strstr(out, "END.exe\"}"));
	assert_true(strlen(out) < 256 + 20);
	free(out);
	msgpack_sbuffer_destroy(&sb);
}

static void test_sanitized(void **state)
{
	(void)state;
	/* Evidence an older version stored, with raw bytes in a string. */
	static const char old[] = "{\"path\":\"C:\\\\\xff\xfe\x01.exe\",\"n\":1}";
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	json_print_sanitized(f, old, sizeof(old) - 1);
	fclose(f);
	assert_string_equal(text, "{\"path\":\"C:\\\\\\ufffd\\ufffd .exe\",\"n\":1}");
	assert_true(jsoncheck_valid(text, len, NULL));
	free(text);
}

/* Raw JSON (an alert's stored evidence) rides in a msgpack ext that only
 * a tree this program built may use: in a peer's msgpack the same ext is
 * null, so an agent cannot write JSON structure into the SOC's feed. */
static void test_raw_json_ext(void **state)
{
	(void)state;
	static const char raw[] = "{\"a\":[1,\"\xff\x01\"]}";
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	wire_pack_kv_str(&pk, "k", "v");
	msgpack_pack_str_with_body(&pk, "evidence", 8);
	msgpack_pack_ext(&pk, sizeof(raw) - 1, JSON_EXT_RAW);
	msgpack_pack_ext_body(&pk, raw, sizeof(raw) - 1);
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, NULL),
			 MSGPACK_UNPACK_SUCCESS);

	struct json_render_opts peer = {.raw_b64 = true};
	char *out = NULL;
	size_t n = 0;
	assert_int_equal(json_render_msgpack(&up.data, &peer, &out, &n), 0);
	assert_string_equal(out, "{\"k\":\"v\",\"evidence\":null}");
	free(out);

	struct json_render_opts ours = {.raw_json = true};
	struct dynbuf b = {0};
	dynbuf_add_str(&b, "[");
	assert_int_equal(json_render_msgpack_buf(&b, &up.data, &ours), 0);
	dynbuf_add_str(&b, "]");
	assert_string_equal(b.data, "[{\"k\":\"v\",\"evidence\":"
				    "{\"a\":[1,\"\\ufffd \"]}}]");
	assert_true(jsoncheck_valid(b.data, b.len, NULL));
	dynbuf_free(&b);

	/* The buffer's cap holds: the render fails, it is not cut short
	 * silently. */
	dynbuf_init(&b, 16);
	assert_int_equal(json_render_msgpack_buf(&b, &up.data, &ours), -EMSGSIZE);
	assert_int_equal(b.failed, -EMSGSIZE);
	dynbuf_free(&b);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_utf8_becomes_fffd),
		cmocka_unit_test(test_cut_middle),
		cmocka_unit_test(test_repair),
		cmocka_unit_test(test_repaired_whole),
		cmocka_unit_test(test_render_b64_and_cut),
		cmocka_unit_test(test_sanitized),
		cmocka_unit_test(test_raw_json_ext),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
