/* Unit tests for common/relpkg: an agent release's files as one payload,
 * packed from a folder and parsed back, and the hostile payloads the
 * agent must refuse before it writes a file as root. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <msgpack.h>

#include "common/alloc.h"
#include "common/relpkg.h"
#include "common/wire.h"
#include "tests/support/testutil.h"

static void put(const char *dir, const char *name, const char *text,
		mode_t mode)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_roundtrip(void **state)
{
	(void)state;
	const char *dir = testutil_tempdir("relpkg");
	char *raw = NULL, err[256];
	size_t len = 0;
	put(dir, "eduwatch-agent", "#!/bin/sh\n", 0755);
	put(dir, "README", "notes", 0644);
	put(dir, ".hidden", "skipped", 0644);
	assert_int_equal(relpkg_pack_dir(dir, "2.0.1", true, &raw, &len, err,
					 sizeof(err)), 0);
	struct relpkg pkg;
	assert_int_equal(relpkg_parse(raw, len, &pkg, err, sizeof(err)), 0);
	assert_string_equal(pkg.release, "2.0.1");
	assert_true(pkg.rollback);
	assert_int_equal(pkg.nfiles, 2);
	assert_string_equal(pkg.files[0].name, "README");
	assert_false(pkg.files[0].exec);
	assert_int_equal(pkg.files[0].len, 5);
	assert_memory_equal(pkg.files[0].data, "notes", 5);
	assert_string_equal(pkg.files[1].name, "eduwatch-agent");
	assert_true(pkg.files[1].exec);
	relpkg_clear(&pkg);
	alloc_free(raw);
	testutil_rmtree(dir);
}

static void test_pack_refusals(void **state)
{
	(void)state;
	const char *dir = testutil_tempdir("relpkg-bad");
	char *raw = NULL, err[256], path[600];
	size_t len = 0;
	assert_int_equal(relpkg_pack_dir(dir, "1.0", false, &raw, &len, err,
					 sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "holds 0 files"));
	put(dir, "a", "x", 0644);
	assert_int_equal(relpkg_pack_dir(dir, "1.0/../x", false, &raw, &len,
					 err, sizeof(err)), -EINVAL);
	snprintf(path, sizeof(path), "%s/link", dir);
	assert_int_equal(symlink("/etc/shadow", path), 0);
	assert_int_equal(relpkg_pack_dir(dir, "1.0", false, &raw, &len, err,
					 sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	unlink(path);
	/* A FIFO is refused as opened, without waiting for a writer. */
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(relpkg_pack_dir(dir, "1.0", false, &raw, &len, err,
					 sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	unlink(path);
	put(dir, "a b", "x", 0644);
	assert_int_equal(relpkg_pack_dir(dir, "1.0", false, &raw, &len, err,
					 sizeof(err)), -EINVAL);
	assert_null(raw);
	testutil_rmtree(dir);
}

/* A payload as a hostile or buggy collector could sign it. */
static int parse_one(const char *release, const char *name, int twice,
		     char *err, size_t errlen)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	wire_pack_kv_str(&pk, "release", release);
	wire_pack_kv_bool(&pk, "rollback", false);
	wire_pack_str(&pk, "files");
	msgpack_pack_array(&pk, twice ? 2 : 1);
	for (int i = 0; i < (twice ? 2 : 1); i++) {
		msgpack_pack_array(&pk, 3);
		wire_pack_str(&pk, name);
		msgpack_pack_true(&pk);
		msgpack_pack_bin(&pk, 1);
		msgpack_pack_bin_body(&pk, "x", 1);
	}
	struct relpkg pkg;
	int rc = relpkg_parse(sb.data, sb.size, &pkg, err, errlen);
	if (rc == 0)
		relpkg_clear(&pkg);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static void test_parse_refusals(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(parse_one("1.0", "eduwatch-agent", 0, err, sizeof(err)), 0);
	static const char *const bad_names[] = {
		"../../etc/cron.d/x", "a/b", ".profile", "", "a\nb", "x y",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		assert_int_equal(parse_one("1.0", bad_names[i], 0, err,
					   sizeof(err)), -EBADMSG);
		assert_non_null(strstr(err, "no plain file name"));
	}
	assert_int_equal(parse_one("1.0", "a", 1, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "named twice"));
	static const char *const bad_versions[] = {"", "1..0", ".1", "1.",
						   "1.0-rc1", "../1"};
	for (size_t i = 0; i < sizeof(bad_versions) / sizeof(bad_versions[0]);
	     i++)
		assert_int_equal(parse_one(bad_versions[i], "a", 0, err,
					   sizeof(err)), -EBADMSG);
	assert_int_equal(relpkg_parse("\x93\x01\x02\x03", 4, &(struct relpkg){0},
				      err, sizeof(err)), -EBADMSG);
	assert_int_equal(relpkg_parse("", 0, &(struct relpkg){0}, err,
				      sizeof(err)), -EBADMSG);
}

/* Each part of a version is a number of at most 9 digits with no leading
 * zero: "1.02" and "1.2" would be two folders of one version, and a part
 * past an unsigned long would compare wrongly (an outside review). */
static void test_version_parts(void **state)
{
	(void)state;
	static const char *const good[] = {"0", "1.0", "0.0.1", "10.20.30",
					   "999999999.0", "1.2.3.4.5.6.7.8"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(relpkg_version_ok(good[i]));
	static const char *const bad[] = {
		"01", "1.02", "1.00", "00", "1.0.007", "1000000000",
		"1.99999999999999999999", "18446744073709551617.0",
		"4294967296.1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("%s\n", bad[i]);
		assert_false(relpkg_version_ok(bad[i]));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_pack_refusals),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_version_parts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
