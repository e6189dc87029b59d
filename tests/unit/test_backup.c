/* Unit tests for the backup pieces: agent/chunker (sizes, determinism,
 * boundaries that survive an insertion), common/backupkey (key file,
 * wrong passphrase, escrow to the right and the wrong key) and agent/repo
 * (put, dedup, get, damage found). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/rand.h>

#include "agent/backup/chunker.h"
#include "agent/backup/repo.h"
#include "common/alloc.h"
#include "common/backupkey.h"
#include "common/pki.h"
#include "tests/support/testutil.h"

static uint8_t *random_bytes(size_t n, unsigned seed)
{
	uint8_t *b = malloc(n);
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)x;
	}
	return b;
}

/* All cut points of buf, as offsets. */
static size_t cuts(const struct chunker_params *p, const uint8_t *buf,
		   size_t len, size_t *out, size_t cap)
{
	size_t n = 0;
	for (size_t off = 0; off < len && n < cap;) {
		off += chunker_next(p, buf + off, len - off);
		out[n++] = off;
	}
	return n;
}

static void test_chunker_sizes(void **state)
{
	(void)state;
	struct chunker_params p;
	uint8_t seed[32] = {1, 2, 3};
	chunker_init(&p, seed);
	size_t len = 64u << 20, at[256];
	uint8_t *buf = random_bytes(len, 1);
	size_t n = cuts(&p, buf, len, at, 256);
	size_t prev = 0, total = 0;
	for (size_t i = 0; i < n; i++) {
		size_t size = at[i] - prev;
		if (i + 1 < n) {
			assert_true(size >= CHUNK_MIN);
			assert_true(size <= CHUNK_MAX);
		}
		total += size;
		prev = at[i];
	}
	assert_int_equal(total, len);
	/* About 1 MiB on average: 64 MiB in 40 to 90 chunks. */
	assert_in_range(n, 40, 90);
	free(buf);
}

static void test_chunker_shift(void **state)
{
	(void)state;
	struct chunker_params p;
	uint8_t seed[32] = {9};
	chunker_init(&p, seed);
	size_t len = 32u << 20, a[128], b[128];
	uint8_t *buf = random_bytes(len + 1, 2);
	size_t na = cuts(&p, buf + 1, len, a, 128);
	/* One byte inserted at the front: after the first chunk or two,
	 * every cut is the same, one byte later. */
	size_t nb = cuts(&p, buf, len + 1, b, 128);
	size_t same = 0;
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			same += b[j] == a[i] + 1;
	assert_true(same + 2 >= na);
	/* Another seed cuts elsewhere: boundaries are not a fingerprint. */
	struct chunker_params q;
	uint8_t seed2[32] = {10};
	chunker_init(&q, seed2);
	size_t c[128];
	size_t nc = cuts(&q, buf + 1, len, c, 128);
	size_t common = 0;
	for (size_t i = 0; i + 1 < na; i++)
		for (size_t j = 0; j + 1 < nc; j++)
			common += a[i] == c[j];
	assert_true(common < na / 4);
	free(buf);
}

static void test_key_file(void **state)
{
	(void)state;
	char path[] = "/tmp/ew-key-XXXXXX";
	close(mkstemp(path));
	uint8_t keys[BACKUPKEY_LEN], back[BACKUPKEY_LEN];
	RAND_bytes(keys, sizeof(keys));
	assert_int_equal(backupkey_write(path, keys, "correct horse"), 0);
	FILE *f = fopen(path, "rb");
	char buf[1024];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(backupkey_parse(buf, n, "correct horse", back), 0);
	assert_memory_equal(keys, back, sizeof(keys));
	assert_int_equal(backupkey_parse(buf, n, "wrong horse", back), -EACCES);
	assert_int_equal(backupkey_parse(buf, n / 2, "correct horse", back),
			 -EBADMSG);
	unlink(path);
}

static void test_escrow(void **state)
{
	(void)state;
	EVP_PKEY *ca, *other;
	assert_int_equal(pki_key_new(&ca), 0);
	assert_int_equal(pki_key_new(&other), 0);
	uint8_t keys[BACKUPKEY_LEN], back[BACKUPKEY_LEN];
	RAND_bytes(keys, sizeof(keys));
	char *blob;
	size_t len;
	assert_int_equal(backupkey_escrow_seal(keys, ca, &blob, &len), 0);
	assert_int_equal(backupkey_escrow_open(blob, len, ca, back), 0);
	assert_memory_equal(keys, back, sizeof(keys));
	assert_int_equal(backupkey_escrow_open(blob, len, other, back), -EACCES);
	blob[len - 3] ^= 1;
	assert_int_not_equal(backupkey_escrow_open(blob, len, ca, back), 0);
	free(blob);
	EVP_PKEY_free(ca);
	EVP_PKEY_free(other);
}

static void test_repo_put_get(void **state)
{
	(void)state;
	char dir[300];
	snprintf(dir, sizeof(dir), "%s", testutil_tempdir("repo"));
	char err[300];
	char sub[400];
	snprintf(sub, sizeof(sub), "%s/r", dir);
	assert_int_equal(repo_init(sub, "short", err, sizeof(err)), -EINVAL);
	assert_int_equal(repo_init(sub, "passphrase-1", err, sizeof(err)), 0);
	struct repo *r;
	assert_int_equal(repo_open(sub, "passphrase-2", &r, err, sizeof(err)),
			 -EACCES);
	assert_non_null(strstr(err, "wrong passphrase"));
	assert_int_equal(repo_open(sub, "passphrase-1", &r, err, sizeof(err)), 0);
	uint8_t *data = random_bytes(300000, 3), id[REPO_ID_LEN], id2[REPO_ID_LEN];
	size_t added;
	repo_chunk_id(r, data, 300000, id);
	assert_int_equal(repo_put(r, id, data, 300000, &added, err, sizeof(err)), 0);
	assert_true(added > 0);
	assert_int_equal(repo_put(r, id, data, 300000, &added, err, sizeof(err)), 0);
	assert_int_equal(added, 0); /* deduplicated */
	assert_int_equal(repo_flush(r, err, sizeof(err)), 0);
	repo_close(r);
	/* Reopened: the index came from disk. */
	assert_int_equal(repo_open(sub, "passphrase-1", &r, err, sizeof(err)), 0);
	assert_true(repo_has(r, id));
	void *back;
	size_t len;
	assert_int_equal(repo_get(r, id, &back, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 300000);
	assert_memory_equal(back, data, len);
	alloc_free(back);
	memcpy(id2, id, sizeof(id2));
	id2[0] ^= 1;
	assert_int_equal(repo_get(r, id2, &back, &len, err, sizeof(err)), -ENOENT);
	/* Damage in the pack is found, never returned as data. */
	char pack[700];
	const char *name = repo_pack_name(r, 0);
	snprintf(pack, sizeof(pack), "%s/data/%.2s/%s", sub, name, name);
	int fd = open(pack, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "XX", 2, 100), 2);
	close(fd);
	assert_int_equal(repo_get(r, id, &back, &len, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "damaged"));
	repo_close(r);
	free(data);
	testutil_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunker_sizes),
		cmocka_unit_test(test_chunker_shift),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_escrow),
		cmocka_unit_test(test_repo_put_get),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
