/* Unit tests for the rule path: common/bundle (signed bundles and every way
 * one is refused), common/yararules (compile, save, load), agent/scancache
 * (hits, misses, invalidation) and the scanner's filetype tags. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/scan/scancache.h"
#include "agent/scan/scanchild.h"
#include "common/alloc.h"
#include "common/bundle.h"
#include "common/pki.h"
#include "common/yararules.h"
#include "tests/support/testutil.h"

static const char raw[] = "compiled rules stand-in: any bytes at all \x01\x02";

static void build(EVP_PKEY *key, uint64_t version, char **img, size_t *len)
{
	struct bundle_info info = {.kind = "rules", .version = version,
				   .created_us = 1, .rules = 3};
	snprintf(info.yara, sizeof(info.yara), "4.2.3");
	snprintf(info.sources, sizeof(info.sources), "rules/yara");
	assert_int_equal(bundle_build(key, &info, raw, sizeof(raw), img, len), 0);
}

static void test_bundle_round_trip(void **state)
{
	(void)state;
	EVP_PKEY *key;
	assert_int_equal(pki_key_new(&key), 0);
	char *img;
	size_t len;
	build(key, 42, &img, &len);
	struct bundle_info info;
	void *out;
	size_t out_len;
	char err[200];
	assert_int_equal(bundle_open(img, len, key, &info, &out, &out_len, err,
				     sizeof(err)),
			 0);
	assert_int_equal(info.version, 42);
	assert_string_equal(info.kind, "rules");
	assert_int_equal(info.rules, 3);
	assert_string_equal(info.yara, "4.2.3");
	assert_int_equal(out_len, sizeof(raw));
	assert_memory_equal(out, raw, sizeof(raw));
	alloc_free(out);
	alloc_free(img);
	EVP_PKEY_free(key);
}

static void test_bundle_refusals(void **state)
{
	(void)state;
	EVP_PKEY *key, *other;
	assert_int_equal(pki_key_new(&key), 0);
	assert_int_equal(pki_key_new(&other), 0);
	char *img, err[200];
	size_t len, out_len;
	void *out = NULL;
	struct bundle_info info;
	build(key, 7, &img, &len);
	/* Another key: refused before anything else is read. */
	assert_int_equal(bundle_open(img, len, other, &info, &out, &out_len, err,
				     sizeof(err)),
			 -EPERM);
	assert_non_null(strstr(err, "signature"));
	/* Any flipped bit anywhere: refused, whatever part it lands in. */
	for (size_t i = 0; i < len; i++) {
		img[i] ^= 0x20;
		int rc = bundle_open(img, len, key, &info, &out, &out_len, err,
				     sizeof(err));
		assert_true(rc == -EBADMSG || rc == -EPERM);
		assert_null(out);
		img[i] ^= 0x20;
	}
	/* Every truncation: refused. */
	for (size_t n = 0; n < len; n++)
		assert_int_not_equal(bundle_open(img, n, key, &info, &out,
						 &out_len, err, sizeof(err)),
				     0);
	assert_int_equal(bundle_open(img, len, key, &info, &out, &out_len, err,
				     sizeof(err)),
			 0);
	alloc_free(out);
	alloc_free(img);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

static void test_yararules_compile_save_load(void **state)
{
	(void)state;
	char dir[300];
	snprintf(dir, sizeof(dir), "%s", testutil_tempdir("rules"));
	char path[300], err[300];
	snprintf(path, sizeof(path), "%s/a.yar", dir);
	FILE *f = fopen(path, "w");
	fprintf(f, "rule uses_externals { condition: filename == \"x\" and "
		   "extension == \".exe\" and filetype == \"EXE\" and owner != "
		   "\"\" and filepath != \"\" }\nrule two { condition: false }\n");
	fclose(f);
	snprintf(path, sizeof(path), "%s/ignored.txt", dir);
	f = fopen(path, "w");
	fprintf(f, "not a rule file\n");
	fclose(f);
	const char *paths[] = {dir};
	YR_RULES *rules = NULL;
	unsigned n = 0;
	assert_int_equal(yararules_compile(paths, 1, &rules, &n, err, sizeof(err)),
			 0);
	assert_int_equal(n, 2);
	char *saved;
	size_t saved_len;
	assert_int_equal(yararules_save(rules, &saved, &saved_len), 0);
	YR_RULES *loaded = NULL;
	assert_int_equal(yararules_load(saved, saved_len, &loaded), 0);
	assert_int_equal(yararules_count(loaded), 2);
	/* libyara's own format is refused when damaged. */
	YR_RULES *bad = NULL;
	assert_int_not_equal(yararules_load(saved, saved_len / 3, &bad), 0);
	char hex1[65], hex2[65];
	assert_int_equal(yararules_digest(paths, 1, hex1, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/b.yar", dir);
	f = fopen(path, "w");
	fprintf(f, "rule three { condition: true }\n");
	fclose(f);
	assert_int_equal(yararules_digest(paths, 1, hex2, err, sizeof(err)), 0);
	assert_string_not_equal(hex1, hex2);
	yr_rules_destroy(rules);
	yr_rules_destroy(loaded);
	alloc_free(saved);
	/* An error names the file and line. */
	f = fopen(path, "w");
	fprintf(f, "rule ok { condition: true }\nrule bad { condition: nope }\n");
	fclose(f);
	assert_int_equal(yararules_compile(paths, 1, &rules, &n, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "b.yar:2: "));
	testutil_rmtree(dir);
}

static void test_scancache(void **state)
{
	(void)state;
	char path[] = "/tmp/ew-cache-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	struct scancache *sc;
	char err[200];
	assert_int_equal(scancache_open(path, &sc, err, sizeof(err)), 0);
	struct scancache_key k = {1, 2, 3, 4, 5};
	assert_false(scancache_hit(sc, &k, "bundle-1", NULL));
	assert_int_equal(scancache_put(sc, &k, "bundle-1", NULL), 0);
	assert_int_equal(scancache_flush(sc), 0);
	assert_true(scancache_hit(sc, &k, "bundle-1", NULL));
	/* Each part of the key matters. */
	struct scancache_key changed = k;
	changed.size++;
	assert_false(scancache_hit(sc, &changed, "bundle-1", NULL));
	changed = k;
	changed.mtime_ns++;
	assert_false(scancache_hit(sc, &changed, "bundle-1", NULL));
	changed = k;
	changed.ctime_ns++;
	assert_false(scancache_hit(sc, &changed, "bundle-1", NULL));
	assert_false(scancache_hit(sc, &k, "bundle-2", NULL));
	/* A new bundle drops the old verdicts. */
	struct scancache_key k2 = {1, 9, 3, 4, 5};
	assert_int_equal(scancache_put(sc, &k2, "bundle-2", NULL), 0);
	assert_int_equal(scancache_retain(sc, "bundle-2"), 1);
	assert_int_equal(scancache_count(sc), 1);
	assert_true(scancache_hit(sc, &k2, "bundle-2", NULL));
	/* A match is kept with its hash and rules. */
	struct scancache_key k3 = {1, 10, 3, 4, 5};
	struct scancache_verdict mv = {.matched = true, .matches = "\x91\xa1x",
				       .matches_len = 3};
	snprintf(mv.sha256, sizeof(mv.sha256), "%064d", 7);
	assert_int_equal(scancache_put(sc, &k3, "bundle-2", &mv), 0);
	struct scancache_verdict got;
	assert_true(scancache_hit(sc, &k3, "bundle-2", &got));
	assert_true(got.matched);
	assert_string_equal(got.sha256, mv.sha256);
	assert_int_equal(got.matches_len, 3);
	assert_memory_equal(got.matches, "\x91\xa1x", 3);
	alloc_free(got.matches);
	assert_true(scancache_hit(sc, &k2, "bundle-2", &got));
	assert_false(got.matched);
	scancache_close(sc);
	/* Verdicts survive a reopen. */
	assert_int_equal(scancache_open(path, &sc, err, sizeof(err)), 0);
	assert_true(scancache_hit(sc, &k2, "bundle-2", NULL));
	scancache_close(sc);
	unlink(path);
}

static void test_filetype(void **state)
{
	(void)state;
	assert_string_equal(yararules_filetype((const unsigned char *)"MZ\x90", 3),
			    "EXE");
	assert_string_equal(yararules_filetype((const unsigned char *)"\x7f"
									"ELF\x02",
					       5),
			    "ELF");
	assert_string_equal(
		yararules_filetype((const unsigned char *)"L\0\0\0\x01\x14\x02\0", 8),
		"LNK");
	assert_string_equal(yararules_filetype((const unsigned char *)"<?php", 5),
			    "PHP");
	assert_string_equal(yararules_filetype((const unsigned char *)"M", 1), "");
	assert_string_equal(yararules_filetype(NULL, 0), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bundle_round_trip),
		cmocka_unit_test(test_bundle_refusals),
		cmocka_unit_test(test_yararules_compile_save_load),
		cmocka_unit_test(test_scancache),
		cmocka_unit_test(test_filetype),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
