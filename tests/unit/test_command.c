/* Unit tests for common/command: signing, and every reason an agent
 * refuses a command. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/command.h"
#include "common/pki.h"
#include "common/wire.h"

static const char *const allowed[] = {"ping", "status"};
static const int64_t NOW = 1764380000000000LL;
static EVP_PKEY *key, *other;

static int setup(void **state)
{
	(void)state;
	return pki_key_new(&key) || pki_key_new(&other);
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	return 0;
}

static void make(struct command *c, uint64_t id, const char *agent,
		 const char *type)
{
	memset(c, 0, sizeof(*c));
	c->id = id;
	snprintf(c->agent, sizeof(c->agent), "%s", agent);
	snprintf(c->type, sizeof(c->type), "%s", type);
	c->issued_us = NOW - 1000000;
	c->expires_us = NOW + 3600LL * 1000000;
}

/* Signs with `signer`, optionally flips one byte of the frame at `flip`,
 * verifies with the real key and returns the result. */
static int run(const struct command *c, EVP_PKEY *signer, long flip,
	       uint64_t last_id, char *err)
{
	msgpack_sbuffer frame;
	struct wire_msg msg;
	struct command out;
	assert_int_equal(command_build_frame(c, signer, &frame), 0);
	if (flip >= 0)
		frame.data[flip] ^= 0x01;
	int rc = wire_msg_parse(&msg, frame.data + WIRE_HEADER_SIZE,
				frame.size - WIRE_HEADER_SIZE);
	if (rc == 0) {
		struct command_policy p = {"a-1", allowed, 2, last_id, NOW};
		rc = command_verify(msg.root, key, &p, &out, err, 200);
		if (rc == 0) {
			assert_int_equal(out.id, c->id);
			command_clear(&out);
		}
		wire_msg_release(&msg);
	}
	msgpack_sbuffer_destroy(&frame);
	return rc;
}

static void test_good_command(void **state)
{
	(void)state;
	struct command c;
	char err[200] = "";
	make(&c, 5, "a-1", "ping");
	assert_int_equal(run(&c, key, -1, 4, err), 0);
}

static void test_refusals(void **state)
{
	(void)state;
	struct command c;
	char err[200];
	make(&c, 5, "a-1", "ping");
	assert_int_equal(run(&c, other, -1, 0, err), -EPERM);
	assert_non_null(strstr(err, "bad signature"));

	make(&c, 5, "a-2", "ping");
	assert_int_equal(run(&c, key, -1, 0, err), -EPERM);
	assert_non_null(strstr(err, "not this one"));

	make(&c, 5, "a-1", "format-disk");
	assert_int_equal(run(&c, key, -1, 0, err), -EPERM);
	assert_non_null(strstr(err, "allow-list"));

	make(&c, 5, "a-1", "ping");
	c.expires_us = NOW - 1;
	assert_int_equal(run(&c, key, -1, 0, err), -ETIMEDOUT);
	make(&c, 5, "a-1", "ping");
	c.issued_us = NOW + 3600LL * 1000000;
	c.expires_us = NOW + 7200LL * 1000000;
	assert_int_equal(run(&c, key, -1, 0, err), -ETIMEDOUT);
	make(&c, 5, "a-1", "ping");
	c.expires_us = NOW + 30LL * 86400 * 1000000;
	assert_int_equal(run(&c, key, -1, 0, err), -ETIMEDOUT);

	make(&c, 5, "a-1", "ping");
	assert_int_equal(run(&c, key, -1, 5, err), -EALREADY);
	assert_non_null(strstr(err, "replay"));
}

/* Any single flipped bit anywhere in the frame is refused: by the frame
 * check, by a missing field, or by the signature. One frame is signed once
 * (ECDSA signatures vary in length) and each flip is tried on a copy. */
static void test_tampering(void **state)
{
	(void)state;
	struct command c, out;
	char err[200];
	msgpack_sbuffer frame;
	make(&c, 9, "a-1", "status");
	assert_int_equal(command_build_frame(&c, key, &frame), 0);
	static char copy[1024];
	assert_true(frame.size <= sizeof(copy));
	int accepted = 0;
	for (size_t i = WIRE_HEADER_SIZE; i < frame.size; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(copy, frame.data, frame.size);
			copy[i] ^= (char)(1 << bit);
			struct wire_msg msg;
			if (wire_msg_parse(&msg, copy + WIRE_HEADER_SIZE,
					   frame.size - WIRE_HEADER_SIZE) != 0)
				continue;
			struct command_policy p = {"a-1", allowed, 2, 0, NOW};
			if (command_verify(msg.root, key, &p, &out, err,
					   sizeof(err)) == 0) {
				accepted++;
				command_clear(&out);
			}
			wire_msg_release(&msg);
		}
	}
	msgpack_sbuffer_destroy(&frame);
	assert_int_equal(accepted, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_command),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_tampering),
	};
	return cmocka_run_group_tests_name("command", tests, setup, teardown);
}
