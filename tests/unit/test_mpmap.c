/* Unit tests for common/mpmap: counts written at close, nested maps,
 * and a key without its value refused loudly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/mpmap.h"
#include "common/wire.h"

static void test_counts_optional_fields(void **state)
{
	(void)state;
	for (int optional = 0; optional < 2; optional++) {
		msgpack_sbuffer sb;
		msgpack_packer pk;
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		struct mpmap outer, inner;
		mpmap_begin(&outer, &pk);
		wire_pack_kv_str(&pk, "a", "x");
		if (optional)
			wire_pack_kv_u64(&pk, "b", 7);
		wire_pack_str(&pk, "in");
		mpmap_begin(&inner, &pk);
		wire_pack_kv_bool(&pk, "c", true);
		mpmap_end(&inner);
		mpmap_end(&outer);
		assert_int_equal(wire_check_msgpack(sb.data, sb.size, 8), 0);
		msgpack_unpacked up;
		msgpack_unpacked_init(&up);
		assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, NULL),
				 MSGPACK_UNPACK_SUCCESS);
		assert_int_equal(up.data.type, MSGPACK_OBJECT_MAP);
		assert_int_equal(up.data.via.map.size, 2 + optional);
		const msgpack_object *in = wire_map_get(&up.data, "in");
		assert_non_null(in);
		assert_int_equal(in->via.map.size, 1);
		msgpack_unpacked_destroy(&up);
		msgpack_sbuffer_destroy(&sb);
	}
}

static void test_key_without_value_aborts(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(2); /* the message is for a person, not this test */
		msgpack_sbuffer sb;
		msgpack_packer pk;
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		struct mpmap m;
		mpmap_begin(&m, &pk);
		wire_pack_str(&pk, "lonely");
		mpmap_end(&m);
		_exit(0);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_optional_fields),
		cmocka_unit_test(test_key_without_value_aborts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
