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
#include "common/pki.h"
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

/* A payload signed by a fresh release key: each signing test's state. */
struct signed_fx {
	EVP_PKEY *key;
	char *payload, *file;
	size_t plen, flen;
	/* what relpkg_unwrap said last */
	const void *got;
	size_t got_len;
	bool is_signed;
	char err[256];
};

static int signed_setup(void **state)
{
	struct signed_fx *fx = alloc_zeroed(1, sizeof(*fx));
	const char *dir = testutil_tempdir("relsign");
	assert_non_null(fx);
	put(dir, "eduwatch-agent", "#!/bin/sh\nexit 0\n", 0755);
	assert_int_equal(relpkg_pack_dir(dir, "3.1.0", false, &fx->payload,
					 &fx->plen, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(pki_key_new(&fx->key), 0);
	assert_int_equal(relpkg_sign(fx->key, fx->payload, fx->plen, &fx->file,
				     &fx->flen), 0);
	testutil_rmtree(dir);
	*state = fx;
	return 0;
}

static int signed_teardown(void **state)
{
	struct signed_fx *fx = *state;
	EVP_PKEY_free(fx->key);
	alloc_free(fx->payload);
	alloc_free(fx->file);
	alloc_free(fx);
	return 0;
}

static int unwrap(struct signed_fx *fx, const void *data, size_t len,
		  EVP_PKEY *pin)
{
	fx->err[0] = '\0';
	return relpkg_unwrap(data, len, pin, &fx->got, &fx->got_len,
			     &fx->is_signed, fx->err, sizeof(fx->err));
}

static size_t sig_len(const struct signed_fx *fx)
{
	return (size_t)(unsigned char)fx->file[10] << 8 |
	       (unsigned char)fx->file[11];
}

static void test_signed_roundtrip(void **state)
{
	struct signed_fx *fx = *state;
	assert_memory_equal(fx->file, RELPKG_SIGNED_MAGIC, 8);
	/* Pinned: verifies, and the payload is the one signed. */
	assert_int_equal(unwrap(fx, fx->file, fx->flen, fx->key), 0);
	assert_true(fx->is_signed);
	assert_int_equal(fx->got_len, fx->plen);
	assert_memory_equal(fx->got, fx->payload, fx->plen);
	/* Not pinned: the same payload, the signature unchecked. */
	assert_int_equal(unwrap(fx, fx->file, fx->flen, NULL), 0);
	assert_true(fx->is_signed);
	assert_int_equal(fx->got_len, fx->plen);
	/* A bare payload passes only with no pin. */
	assert_int_equal(unwrap(fx, fx->payload, fx->plen, NULL), 0);
	assert_false(fx->is_signed);
	assert_ptr_equal(fx->got, fx->payload);
	assert_int_equal(unwrap(fx, fx->payload, fx->plen, fx->key), -EPERM);
	assert_non_null(strstr(fx->err, "not signed by the release key"));
}

/* Every single flipped bit past the magic and length (in the signature
 * or the payload) is refused by a pinned agent, never accepted. */
static void test_signed_flipped_bits(void **state)
{
	struct signed_fx *fx = *state;
	size_t siglen = sig_len(fx);
	/* The whole signature bit by bit, then a spread over the payload
	 * (each bit of the payload would be 8 * size verifications). */
	size_t step = fx->plen / 200 + 1;
	int refused = 0;
	for (size_t bit = 12 * 8; bit < fx->flen * 8;
	     bit += bit < (12 + siglen) * 8 ? 1 : step * 8 + 3) {
		fx->file[bit / 8] ^= (char)(1u << (bit % 8));
		int rc = unwrap(fx, fx->file, fx->flen, fx->key);
		assert_true(rc == -EPERM || rc == -EBADMSG);
		assert_true(fx->err[0] != '\0');
		fx->file[bit / 8] ^= (char)(1u << (bit % 8));
		refused++;
	}
	assert_true(refused > (int)siglen * 8);
	/* Restored, it verifies again: the refusals were the flips. */
	assert_int_equal(unwrap(fx, fx->file, fx->flen, fx->key), 0);
}

static void test_signed_refusals(void **state)
{
	struct signed_fx *fx = *state;
	EVP_PKEY *other;
	/* Signed by another key (an attacker's, or the collector's CA). */
	assert_int_equal(pki_key_new(&other), 0);
	assert_int_equal(unwrap(fx, fx->file, fx->flen, other), -EPERM);
	assert_non_null(strstr(fx->err, "does not verify"));
	EVP_PKEY_free(other);
	/* Cut before the payload: refused, pinned or not (cut inside the
	 * payload, only the pin or the payload's parse can tell). */
	for (size_t cut = 8; cut <= 12 + sig_len(fx); cut++) {
		assert_int_equal(unwrap(fx, fx->file, cut, NULL), -EBADMSG);
		assert_true(fx->err[0] != '\0');
	}
	assert_int_equal(unwrap(fx, fx->file, fx->flen - 1, fx->key), -EPERM);
	/* A signature length of 0 or past the end. */
	fx->file[10] = fx->file[11] = 0;
	assert_int_equal(unwrap(fx, fx->file, fx->flen, NULL), -EBADMSG);
	fx->file[8] = (char)0x7f;
	assert_int_equal(unwrap(fx, fx->file, fx->flen, NULL), -EBADMSG);
}

static void test_dir_version(void **state)
{
	(void)state;
	char v[RELPKG_VERSION_MAX + 1];
	assert_true(relpkg_dir_version("/tmp/x/agent-1.2.3", v));
	assert_string_equal(v, "1.2.3");
	assert_true(relpkg_dir_version("agent-4//", v));
	assert_string_equal(v, "4");
	assert_false(relpkg_dir_version("/tmp/agent-", v));
	assert_string_equal(v, "");
	assert_false(relpkg_dir_version("/tmp/agent-1.02", v));
	assert_false(relpkg_dir_version("/tmp/release-1.2", v));
	assert_false(relpkg_dir_version("/", v));
	assert_false(relpkg_dir_version("", v));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_pack_refusals),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_version_parts),
		cmocka_unit_test_setup_teardown(test_signed_roundtrip, signed_setup,
						signed_teardown),
		cmocka_unit_test_setup_teardown(test_signed_flipped_bits, signed_setup,
						signed_teardown),
		cmocka_unit_test_setup_teardown(test_signed_refusals, signed_setup,
						signed_teardown),
		cmocka_unit_test(test_dir_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
