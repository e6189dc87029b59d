/* Unit tests for what must behave the same on every platform the agent
 * runs on: a rule bundle read back from a file (binary I/O: a CRLF
 * translation would break its signature), the backup chunker's cuts, and
 * the IOC set. They run natively and, cross-built, under wine
 * (mk/windows.mk). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/backup/chunker.h"
#include "agent/net/iocset.h"
#include "common/alloc.h"
#include "common/bundle.h"
#include "common/fsutil.h"
#include "common/pki.h"
#include "tests/support/testutil.h"

/* A deterministic pseudo-random byte stream (xorshift64). */
static void fill(uint8_t *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
}

/* A bundle whose payload is full of \r, \n and \x1a (the bytes a text-mode
 * file would rewrite or stop at) survives a round trip through a file. */
static void bundle_file_round_trip(void **state)
{
	(void)state;
	EVP_PKEY *key = NULL, *other = NULL;
	assert_int_equal(pki_key_new(&key), 0);
	assert_int_equal(pki_key_new(&other), 0);
	uint8_t raw[4096];
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = "\r\n\x1a\0"[i % 4];
	struct bundle_info info = {.kind = "rules", .version = 7, .rules = 3};
	snprintf(info.yara, sizeof(info.yara), "4.x");
	char *img = NULL;
	size_t len = 0;
	assert_int_equal(bundle_build(key, &info, raw, sizeof(raw), &img, &len),
			 0);

	const char *dir = testutil_tempdir("portable");
	char path[600];
	snprintf(path, sizeof(path), "%s/rules.bundle", dir);
	assert_int_equal(fs_write_atomic(path, img, len, 0600), 0);

	struct bundle_info got;
	void *out = NULL;
	size_t out_len = 0;
	char err[256] = "";
	assert_int_equal(bundle_open_file(path, key, &got, &out, &out_len, err,
					  sizeof(err)), 0);
	assert_int_equal(out_len, sizeof(raw));
	assert_memory_equal(out, raw, sizeof(raw));
	assert_int_equal(got.version, 7);
	assert_string_equal(got.kind, "rules");
	alloc_free(out);
	out = NULL;

	/* Signed by someone else: refused. */
	assert_int_equal(bundle_open_file(path, other, &got, &out, &out_len,
					  err, sizeof(err)), -EPERM);
	/* One byte of the payload changed on disk: refused. */
	img[len - 1] ^= 0x20;
	assert_int_equal(fs_write_atomic(path, img, len, 0600), 0);
	assert_int_not_equal(bundle_open_file(path, key, &got, &out, &out_len,
					      err, sizeof(err)), 0);
	assert_null(out);

	alloc_free(img);
	remove(path);
	testutil_rmtree(dir);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

/* Cuts within bounds, and a byte inserted near the start moves only the
 * chunks around it: the later cut points are found again, shifted. */
static void chunker_cuts_resync(void **state)
{
	(void)state;
	const size_t len = 12u * 1024u * 1024u;
	uint8_t *a = malloc(len), *b = malloc(len + 1);
	assert_non_null(a);
	assert_non_null(b);
	fill(a, len, 0x9e3779b97f4a7c15ULL);
	b[0] = 0x55;
	memcpy(b + 1, a, len);

	uint8_t seed[32];
	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)i;
	struct chunker_params p;
	chunker_init(&p, seed);

	size_t cuts_a[64], na = 0, off = 0;
	while (off < len && na < 64) {
		size_t n = chunker_next(&p, a + off, len - off);
		assert_true(n > 0 && n <= CHUNK_MAX);
		if (off + n < len)
			assert_true(n >= CHUNK_MIN);
		off += n;
		cuts_a[na++] = off;
	}
	assert_int_equal(off, len);
	assert_true(na >= 3);

	size_t same = 0;
	off = 0;
	while (off < len + 1) {
		off += chunker_next(&p, b + off, len + 1 - off);
		for (size_t i = 0; i < na; i++)
			if (cuts_a[i] + 1 == off)
				same++;
	}
	/* Every cut after the first chunk is found again. */
	assert_true(same >= na - 1);
	free(a);
	free(b);
}

static void iocset_lookups(void **state)
{
	(void)state;
	struct iocset *set = iocset_new();
	assert_non_null(set);
	static const char list[] = "# school threats\n"
				   "evil.example\n"
				   "*.bad.test\r\n"
				   "203.0.113.9\n"
				   "2001:db8::66\n";
	char err[128] = "";
	assert_int_equal(iocset_add_text(set, list, strlen(list), err,
					 sizeof(err)), 0);
	const char *m = NULL;
	assert_true(iocset_match_domain(set, "a.b.EVIL.example.", &m));
	assert_string_equal(m, "EVIL.example.");
	assert_true(iocset_match_domain(set, "x.bad.test", NULL));
	assert_false(iocset_match_domain(set, "notevil.example", NULL));
	assert_false(iocset_match_domain(set, "example", NULL));
	const uint8_t v4[4] = {203, 0, 113, 9}, v4n[4] = {203, 0, 113, 8};
	assert_true(iocset_match_ip(set, 4, v4));
	assert_false(iocset_match_ip(set, 4, v4n));
	uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
	v6[15] = 0x66;
	assert_true(iocset_match_ip(set, 6, v6));

	/* A bad line is reported with its number. */
	static const char bad[] = "ok.example\nnot a domain!\n";
	assert_int_equal(iocset_add_text(set, bad, strlen(bad), err,
					 sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "2"));
	iocset_free(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bundle_file_round_trip),
		cmocka_unit_test(chunker_cuts_resync),
		cmocka_unit_test(iocset_lookups),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
