/* Unit tests for common/wire: framing, pre-validation, message lookups. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/wire.h"

struct collected {
	int frames;
	char last[256];
	size_t last_len;
};

static int collect(void *arg, const char *body, size_t len)
{
	struct collected *c = arg;
	c->frames++;
	c->last_len = len < sizeof(c->last) ? len : sizeof(c->last);
	memcpy(c->last, body, c->last_len);
	return 0;
}

static void make_ping(struct wire_out *out)
{
	wire_out_begin(out, WIRE_PING, 1);
	wire_pack_kv_u64(&out->pk, "ts", 1234567);
	assert_int_equal(wire_out_finish(out), 0);
}

static void test_roundtrip_whole(void **state)
{
	(void)state;
	struct wire_out out;
	struct collected c = {0};
	make_ping(&out);
	struct wire_decoder *dec = wire_decoder_new();
	assert_non_null(dec);
	assert_int_equal(wire_decoder_feed(dec, out.buf.data, out.buf.size,
					   collect, &c), 0);
	assert_int_equal(c.frames, 1);
	assert_int_equal(c.last_len, out.buf.size - WIRE_HEADER_SIZE);

	struct wire_msg msg;
	assert_int_equal(wire_msg_parse(&msg, c.last, c.last_len), 0);
	assert_int_equal(msg.type, WIRE_PING);
	uint64_t ts = 0;
	assert_int_equal(wire_get_u64(msg.root, "ts", &ts), 0);
	assert_int_equal(ts, 1234567);
	wire_msg_release(&msg);
	wire_decoder_free(dec);
	wire_out_release(&out);
}

/* A frame split at any byte boundary decodes exactly like a whole one. */
static void test_split_every_boundary(void **state)
{
	(void)state;
	struct wire_out out;
	make_ping(&out);
	for (size_t cut = 0; cut <= out.buf.size; cut++) {
		struct collected c = {0};
		struct wire_decoder *dec = wire_decoder_new();
		assert_int_equal(wire_decoder_feed(dec, out.buf.data, cut,
						   collect, &c), 0);
		assert_int_equal(wire_decoder_feed(dec, out.buf.data + cut,
						   out.buf.size - cut, collect,
						   &c), 0);
		assert_int_equal(c.frames, 1);
		assert_memory_equal(c.last, out.buf.data + WIRE_HEADER_SIZE,
				    c.last_len);
		wire_decoder_free(dec);
	}
	/* And byte by byte. */
	struct collected c = {0};
	struct wire_decoder *dec = wire_decoder_new();
	for (size_t i = 0; i < out.buf.size; i++)
		assert_int_equal(wire_decoder_feed(dec, out.buf.data + i, 1,
						   collect, &c), 0);
	assert_int_equal(c.frames, 1);
	wire_decoder_free(dec);
	wire_out_release(&out);
}

static void test_several_frames_one_read(void **state)
{
	(void)state;
	struct wire_out out;
	make_ping(&out);
	char buf[512];
	size_t n = out.buf.size;
	memcpy(buf, out.buf.data, n);
	memcpy(buf + n, out.buf.data, n);
	memcpy(buf + 2 * n, out.buf.data, n);
	struct collected c = {0};
	struct wire_decoder *dec = wire_decoder_new();
	assert_int_equal(wire_decoder_feed(dec, buf, 3 * n, collect, &c), 0);
	assert_int_equal(c.frames, 3);
	wire_decoder_free(dec);
	wire_out_release(&out);
}

static void test_zero_length_rejected(void **state)
{
	(void)state;
	const char zero[4] = {0, 0, 0, 0};
	struct collected c = {0};
	struct wire_decoder *dec = wire_decoder_new();
	assert_int_equal(wire_decoder_feed(dec, zero, 4, collect, &c),
			 -EMSGSIZE);
	assert_int_equal(c.frames, 0);
	/* A dead decoder stays dead. */
	assert_int_not_equal(wire_decoder_feed(dec, zero, 1, collect, &c), 0);
	wire_decoder_free(dec);
}

/* Over 1 MiB is refused from the header alone: nothing is buffered. */
static void test_oversize_rejected_before_body(void **state)
{
	(void)state;
	const unsigned char big[4] = {0x00, 0x10, 0x00, 0x01}; /* 1 MiB + 1 */
	struct collected c = {0};
	struct wire_decoder *dec = wire_decoder_new();
	assert_int_equal(wire_decoder_feed(dec, (const char *)big, 4, collect,
					   &c), -EMSGSIZE);
	assert_int_equal(c.frames, 0);
	wire_decoder_free(dec);

	/* Exactly 1 MiB is allowed. */
	const unsigned char max[4] = {0x00, 0x10, 0x00, 0x00};
	dec = wire_decoder_new();
	assert_int_equal(wire_decoder_feed(dec, (const char *)max, 4, collect,
					   &c), 0);
	assert_int_equal(wire_decoder_buffered(dec), 4);
	wire_decoder_free(dec);
}

static void test_oversize_encode_refused(void **state)
{
	(void)state;
	struct wire_out out;
	wire_out_begin(&out, WIRE_EVENTS, 1);
	wire_pack_str(&out.pk, "blob");
	static char blob[WIRE_MAX_FRAME];
	msgpack_pack_bin(&out.pk, sizeof(blob));
	msgpack_pack_bin_body(&out.pk, blob, sizeof(blob));
	assert_int_equal(wire_out_finish(&out), -EMSGSIZE);
	wire_out_release(&out);
}

/* A 5-byte array header claiming four billion elements never reaches
 * msgpack-c, which would allocate for all of them. */
static void test_huge_count_rejected(void **state)
{
	(void)state;
	const unsigned char arr32[5] = {0xdd, 0xff, 0xff, 0xff, 0xff};
	const unsigned char map32[5] = {0xdf, 0xff, 0xff, 0xff, 0xff};
	const unsigned char str32[5] = {0xdb, 0xff, 0xff, 0xff, 0xff};
	assert_int_equal(wire_check_msgpack((const char *)arr32, 5, 16),
			 -EBADMSG);
	assert_int_equal(wire_check_msgpack((const char *)map32, 5, 16),
			 -EBADMSG);
	assert_int_equal(wire_check_msgpack((const char *)str32, 5, 16),
			 -EBADMSG);
	struct wire_msg msg;
	assert_int_equal(wire_msg_parse(&msg, (const char *)arr32, 5),
			 -EBADMSG);
	/* An array of 3 with 3 one-byte elements is fine. */
	const unsigned char ok[4] = {0x93, 0x01, 0x02, 0x03};
	assert_int_equal(wire_check_msgpack((const char *)ok, 4, 16), 0);
	/* The same header with 2 elements is truncated. */
	assert_int_equal(wire_check_msgpack((const char *)ok, 3, 16), -EBADMSG);
}

static void test_depth_trailing_reserved(void **state)
{
	(void)state;
	unsigned char deep[40];
	for (int i = 0; i < 39; i++)
		deep[i] = 0x91; /* array of one */
	deep[39] = 0x01;
	assert_int_equal(wire_check_msgpack((const char *)deep, 40, 16),
			 -EBADMSG);
	assert_int_equal(wire_check_msgpack((const char *)deep + 30, 10, 16),
			 0);
	const unsigned char trailing[2] = {0x01, 0x02};
	assert_int_equal(wire_check_msgpack((const char *)trailing, 2, 16),
			 -EBADMSG);
	const unsigned char reserved[1] = {0xc1};
	assert_int_equal(wire_check_msgpack((const char *)reserved, 1, 16),
			 -EBADMSG);
	const unsigned char ext[3] = {0xd4, 0x01, 0x02};
	assert_int_equal(wire_check_msgpack((const char *)ext, 3, 16),
			 -EBADMSG);
}

static void test_message_shape(void **state)
{
	(void)state;
	struct wire_msg msg;
	/* {"t":"nope"} */
	const char unknown[] = "\x81\xa1t\xa4nope";
	assert_int_equal(wire_msg_parse(&msg, unknown, sizeof(unknown) - 1),
			 -EBADMSG);
	/* {"x":1} */
	const char no_type[] = "\x81\xa1x\x01";
	assert_int_equal(wire_msg_parse(&msg, no_type, sizeof(no_type) - 1),
			 -EBADMSG);
	/* [1] */
	const char not_map[] = "\x91\x01";
	assert_int_equal(wire_msg_parse(&msg, not_map, sizeof(not_map) - 1),
			 -EBADMSG);
	/* {"t":"ack","s":"a\0b"}: embedded NUL refused by wire_get_str. */
	const char nul[] = "\x82\xa1t\xa3" "ack\xa1s\xa3" "a\0b";
	assert_int_equal(wire_msg_parse(&msg, nul, sizeof(nul) - 1), 0);
	char s[8];
	assert_int_equal(wire_get_str(msg.root, "s", s, sizeof(s)), -EBADMSG);
	assert_int_equal(wire_get_str(msg.root, "t", s, 3), -EBADMSG);
	assert_int_equal(wire_get_str(msg.root, "t", s, sizeof(s)), 0);
	assert_string_equal(s, "ack");
	wire_msg_release(&msg);
}

static void test_alloc_failure(void **state)
{
	(void)state;
	struct wire_out out;
	make_ping(&out);
	struct collected c = {0};
	struct wire_decoder *dec = wire_decoder_new();
	alloc_fail_after(0);
	assert_int_equal(wire_decoder_feed(dec, out.buf.data, out.buf.size,
					   collect, &c), -ENOMEM);
	alloc_fail_after(-1);
	assert_int_equal(c.frames, 0);
	wire_decoder_free(dec);
	wire_out_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_whole),
		cmocka_unit_test(test_split_every_boundary),
		cmocka_unit_test(test_several_frames_one_read),
		cmocka_unit_test(test_zero_length_rejected),
		cmocka_unit_test(test_oversize_rejected_before_body),
		cmocka_unit_test(test_oversize_encode_refused),
		cmocka_unit_test(test_huge_count_rejected),
		cmocka_unit_test(test_depth_trailing_reserved),
		cmocka_unit_test(test_message_shape),
		cmocka_unit_test(test_alloc_failure),
	};
	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
