/* Unit tests for common/event: schema, validation limits, JSON rendering. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/event.h"
#include "common/wire.h"

static void sample(struct event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->v = EVENT_VERSION;
	strcpy(ev->agent, "a1b2c3d4");
	ev->boot = 0xdeadbeefcafe;
	ev->seq = 42;
	ev->ts = 1764380000000000ull;
	strcpy(ev->kind, "av.status");
	ev->sev = 3;
	ev->drill = true;
}

static void pack_body(struct event *ev, const char *key, const char *val)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	wire_pack_kv_str(&pk, key, val);
	assert_int_equal(event_set_body(ev, sb.data, sb.size), 0);
	msgpack_sbuffer_destroy(&sb);
}

static void encode(const struct event *ev, msgpack_sbuffer *sb)
{
	msgpack_packer pk;
	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	event_pack(&pk, ev);
}

static void test_roundtrip(void **state)
{
	(void)state;
	struct event ev, back;
	char err[128];
	msgpack_sbuffer sb;
	sample(&ev);
	pack_body(&ev, "engine", "clamav \"1.0\"\n");
	encode(&ev, &sb);
	assert_int_equal(event_decode(sb.data, sb.size, &back, err,
				      sizeof(err)), 0);
	assert_string_equal(back.agent, ev.agent);
	assert_int_equal(back.boot, ev.boot);
	assert_int_equal(back.seq, 42);
	assert_int_equal(back.ts, ev.ts);
	assert_string_equal(back.kind, "av.status");
	assert_int_equal(back.sev, 3);
	assert_true(back.drill);
	assert_int_equal(back.body_len, ev.body_len);
	assert_memory_equal(back.body, ev.body, ev.body_len);

	char *json = NULL;
	assert_int_equal(event_body_to_json(back.body, back.body_len, &json), 0);
	assert_string_equal(json, "{\"engine\":\"clamav \\\"1.0\\\"\\u000a\"}");
	alloc_free(json);
	event_clear(&back);
	event_clear(&ev);
	msgpack_sbuffer_destroy(&sb);
}

static void expect_reject(struct event *ev, const char *needle)
{
	struct event back;
	char err[160] = "";
	msgpack_sbuffer sb;
	encode(ev, &sb);
	assert_int_equal(event_decode(sb.data, sb.size, &back, err,
				      sizeof(err)), -EBADMSG);
	if (strstr(err, needle) == NULL)
		fail_msg("error '%s' does not mention '%s'", err, needle);
	msgpack_sbuffer_destroy(&sb);
}

static void test_field_errors(void **state)
{
	(void)state;
	struct event ev;
	sample(&ev);
	strcpy(ev.kind, "av.stat");
	expect_reject(&ev, "unknown event kind 'av.stat'");
	sample(&ev);
	ev.sev = 11;
	expect_reject(&ev, "sev");
	sample(&ev);
	ev.seq = 0;
	expect_reject(&ev, "seq");
	sample(&ev);
	strcpy(ev.agent, "bad id;drop");
	expect_reject(&ev, "agent");
	sample(&ev);
	ev.v = 2;
	expect_reject(&ev, "'v'");
}

static void test_missing_and_wrong_types(void **state)
{
	(void)state;
	struct event back;
	char err[160];
	/* {"v":1} only */
	const char only_v[] = "\x81\xa1v\x01";
	assert_int_equal(event_decode(only_v, sizeof(only_v) - 1, &back, err,
				      sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "agent"));
	/* Not a map at all. */
	const char arr[] = "\x90";
	assert_int_equal(event_decode(arr, 1, &back, err, sizeof(err)),
			 -EBADMSG);
	/* body that is a string */
	struct event ev;
	sample(&ev);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	wire_pack_str(&pk, "x");
	assert_int_equal(event_set_body(&ev, sb.data, sb.size), 0);
	msgpack_sbuffer_destroy(&sb);
	expect_reject(&ev, "body");
	event_clear(&ev);
}

static void test_body_limits(void **state)
{
	(void)state;
	struct event ev;
	static char big[EVENT_STRING_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	sample(&ev);
	pack_body(&ev, "s", big); /* one string over the limit */
	expect_reject(&ev, "body");
	event_clear(&ev);

	/* 20 strings of 4 KiB: each allowed, 80 KiB in all is not. */
	big[EVENT_STRING_MAX - 1] = '\0';
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 20);
	for (int i = 0; i < 20; i++) {
		char key[8];
		snprintf(key, sizeof(key), "k%d", i);
		wire_pack_kv_str(&pk, key, big);
	}
	sample(&ev);
	assert_int_equal(event_set_body(&ev, sb.data, sb.size), 0);
	msgpack_sbuffer_destroy(&sb);
	expect_reject(&ev, "bytes, limit");
	event_clear(&ev);

	/* Nesting deeper than EVENT_BODY_DEPTH. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (int i = 0; i < EVENT_BODY_DEPTH + 2; i++) {
		msgpack_pack_map(&pk, 1);
		wire_pack_str(&pk, "n");
	}
	msgpack_pack_nil(&pk);
	sample(&ev);
	assert_int_equal(event_set_body(&ev, sb.data, sb.size), 0);
	msgpack_sbuffer_destroy(&sb);
	expect_reject(&ev, "too deep");
	event_clear(&ev);
}

/* Every allocation failure on the decode path is an error, never a crash
 * or a leak (the ASan pass checks leaks). */
static void test_decode_under_alloc_failure(void **state)
{
	(void)state;
	struct event ev, back;
	char err[128];
	msgpack_sbuffer sb;
	sample(&ev);
	pack_body(&ev, "path", "C:\\Users\\hs\\Downloads\\a.exe");
	encode(&ev, &sb);
	for (long n = 0; n < 8; n++) {
		alloc_fail_after(n);
		int rc = event_decode(sb.data, sb.size, &back, err, sizeof(err));
		alloc_fail_after(-1);
		if (rc == 0)
			event_clear(&back);
		else
			assert_true(rc == -ENOMEM || rc == -EBADMSG);
	}
	event_clear(&ev);
	msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_field_errors),
		cmocka_unit_test(test_missing_and_wrong_types),
		cmocka_unit_test(test_body_limits),
		cmocka_unit_test(test_decode_under_alloc_failure),
	};
	return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}
