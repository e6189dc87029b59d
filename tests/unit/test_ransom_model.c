/* Unit tests for agent/ransom/ransom_model: the ransomware detector's
 * decisions, fed facts by hand (no file system, no clock): what is a
 * burst, what is ordinary work, and where the window and the threshold
 * cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/ransom/ransom_model.h"

#define SEC 1000000LL
#define HIGH 7.98
#define LOW 4.6

static const struct ransom_params params = {
	.window_us = 10 * SEC, .threshold = 20, .entropy_min = 7.5};

static bool feed(struct ransom_model *m, enum ransom_op op, int64_t at,
		 const char *path, const char *old, double entropy,
		 struct ransom_verdict *v)
{
	struct ransom_fact f = {.op = op, .at_us = at, .actor = 1,
				.path = path, .old_path = old,
				.entropy = entropy};
	return ransom_model_feed(m, &f, v);
}

static void test_entropy(void **state)
{
	(void)state;
	unsigned char buf[4096];
	memset(buf, 'a', sizeof(buf));
	assert_true(ransom_entropy(buf, sizeof(buf)) == 0.0);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)i; /* every byte value 16 times */
	assert_true(ransom_entropy(buf, sizeof(buf)) > 7.999);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = "the quick brown fox "[i % 20];
	double h = ransom_entropy(buf, sizeof(buf));
	assert_true(h > 3.0 && h < 4.5);
	/* Too small a block says nothing. */
	assert_true(ransom_entropy(buf, RANSOM_SAMPLE_MIN - 1) < 0);
}

/* Rewrite in place, then rename to *.locked: 2 acts a file; the 20th act
 * (the 10th file) raises one verdict with examples and the window. */
static void test_rewrite_and_rename_is_a_burst(void **state)
{
	(void)state;
	struct ransom_model *m = ransom_model_new(&params);
	struct ransom_verdict v;
	char path[64], locked[72];
	int verdicts = 0, at_file = -1;
	for (int i = 0; i < 15; i++) {
		snprintf(path, sizeof(path), "/home/u/doc%02d.doc", i);
		snprintf(locked, sizeof(locked), "%s.locked", path);
		int64_t t = i * SEC / 10;
		if (feed(m, RANSOM_WRITTEN, t, path, NULL, HIGH, &v))
			verdicts++, at_file = i;
		if (feed(m, RANSOM_RENAMED, t + 1, locked, path, HIGH, &v))
			verdicts++, at_file = i;
	}
	assert_int_equal(verdicts, 1);
	assert_int_equal(at_file, 9);
	struct ransom_model_stats st;
	ransom_model_stats(m, &st);
	assert_int_equal(st.verdicts, 1);
	assert_int_equal(st.facts, 30);
	assert_int_equal(st.max_score, 20);
	ransom_model_free(m);
	/* The verdict's own fields, from a fresh model. */
	m = ransom_model_new(&params);
	for (int i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "/home/u/doc%02d.doc", i);
		if (feed(m, RANSOM_WRITTEN, 5 * SEC + i * 1000, path, NULL,
			 7.9 + i / 1000.0, &v))
			break;
	}
	assert_string_equal(v.reason, "burst");
	assert_int_equal(v.score, 20);
	assert_int_equal(v.nexamples, RANSOM_EXAMPLES);
	assert_string_equal(v.examples[0], "/home/u/doc00.doc");
	assert_int_equal(v.first_us, 5 * SEC);
	assert_int_equal(v.last_us, 5 * SEC + 19000);
	assert_true(v.entropy_max > 7.918 && v.entropy_max < 7.92);
	ransom_model_free(m);
}

/* 20 documents, each encrypted to a new file then deleted: the copy
 * named after the original (n01.txt.enc, n02.locked), or under a random
 * name; the verdicts given, the last in *v. */
static int encrypt_then_delete(bool random_names, struct ransom_verdict *v)
{
	struct ransom_model *m = ransom_model_new(&params);
	char path[64], enc[72];
	int verdicts = 0;
	for (int i = 0; i < 20; i++) {
		int64_t t = i * SEC / 5;
		snprintf(path, sizeof(path), "/srv/f/n%02d.txt", i);
		if (random_names)
			snprintf(enc, sizeof(enc), "/srv/f/%08x",
				 0x9e3779b9u * (unsigned)(i + 1));
		else if (i % 2)
			snprintf(enc, sizeof(enc), "%s.enc", path);
		else
			snprintf(enc, sizeof(enc), "/srv/f/n%02d.locked", i);
		verdicts += feed(m, RANSOM_CREATED, t, enc, NULL, -1, v);
		verdicts += feed(m, RANSOM_WRITTEN, t + 1, enc, NULL, HIGH, v);
		verdicts += feed(m, RANSOM_REMOVED, t + 2, path, NULL, -1, v);
	}
	ransom_model_free(m);
	return verdicts;
}

/* openssl enc -in a -out a.enc; rm a (and the a.locked; rm a.txt form). */
static void test_encrypt_copy_then_delete_is_a_burst(void **state)
{
	(void)state;
	struct ransom_verdict v;
	assert_int_equal(encrypt_then_delete(false, &v), 1);
	assert_int_equal(v.score, 20);
}

/* Ciphertext written to a random name, then the original deleted: the
 * names share nothing, the folder and the moment do. */
static void test_random_name_then_delete_is_a_burst(void **state)
{
	(void)state;
	struct ransom_verdict v;
	assert_int_equal(encrypt_then_delete(true, &v), 1);
	assert_int_equal(v.score, 20);
}

/* What must stay quiet beside it: one new high-entropy file pairs with
 * one deletion only (a zip made, then 20 old files tidied away), a
 * deletion in another folder or seconds later pairs with nothing. */
static void test_pairing_is_one_to_one_and_local(void **state)
{
	(void)state;
	struct ransom_model *m = ransom_model_new(&params);
	struct ransom_verdict v;
	char path[64];
	assert_false(feed(m, RANSOM_CREATED, 0, "/h/a/new.bin", NULL, -1, &v));
	assert_false(feed(m, RANSOM_WRITTEN, 1, "/h/a/new.bin", NULL, HIGH, &v));
	for (int i = 0; i < 30; i++) {
		snprintf(path, sizeof(path), "/h/a/old%02d.txt", i);
		assert_false(feed(m, RANSOM_REMOVED, 10 + i, path, NULL, -1, &v));
	}
	assert_false(feed(m, RANSOM_CREATED, SEC, "/h/b/x.bin", NULL, -1, &v));
	assert_false(feed(m, RANSOM_WRITTEN, SEC, "/h/b/x.bin", NULL, HIGH, &v));
	assert_false(feed(m, RANSOM_REMOVED, SEC + 1, "/h/c/y.txt", NULL, -1, &v));
	assert_false(feed(m, RANSOM_REMOVED, 4 * SEC, "/h/b/z.txt", NULL, -1, &v));
	struct ransom_model_stats st;
	ransom_model_stats(m, &st);
	assert_int_equal(st.max_score, 1);
	assert_int_equal(st.verdicts, 0);
	ransom_model_free(m);
}

/* Ordinary work: thousands of new files, high entropy or not, atomic
 * saves (temp renamed into place), temp files removed, low-entropy
 * rewrites (a make rebuilding objects): never a single act. */
static void test_ordinary_work_scores_nothing(void **state)
{
	(void)state;
	struct ransom_model *m = ransom_model_new(&params);
	struct ransom_verdict v;
	char path[64], tmp[72];
	for (int i = 0; i < 3000; i++) {
		int64_t t = i * 1000;
		snprintf(path, sizeof(path), "/p/IMG_%04d.jpg", i);
		assert_false(feed(m, RANSOM_CREATED, t, path, NULL, -1, &v));
		assert_false(feed(m, RANSOM_WRITTEN, t, path, NULL, HIGH, &v));
		snprintf(path, sizeof(path), "/r/data/%04x", i);
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		assert_false(feed(m, RANSOM_CREATED, t, tmp, NULL, -1, &v));
		assert_false(feed(m, RANSOM_WRITTEN, t, tmp, NULL, HIGH, &v));
		assert_false(feed(m, RANSOM_RENAMED, t, path, tmp, HIGH, &v));
		snprintf(tmp, sizeof(tmp), "/b/obj%04d.o", i);
		assert_false(feed(m, RANSOM_WRITTEN, t, tmp, NULL, 5.8, &v));
		snprintf(tmp, sizeof(tmp), "/b/cc%04d.s", i);
		assert_false(feed(m, RANSOM_CREATED, t, tmp, NULL, -1, &v));
		assert_false(feed(m, RANSOM_REMOVED, t, tmp, NULL, -1, &v));
	}
	struct ransom_model_stats st;
	ransom_model_stats(m, &st);
	assert_int_equal(st.max_score, 0);
	assert_int_equal(st.verdicts, 0);
	ransom_model_free(m);
}

/* Photos copied over themselves, a .docx saved in place, photos renamed
 * to .jpeg or to upper case: compressed already, no jump in entropy. */
static void test_compressed_formats_are_no_jump(void **state)
{
	(void)state;
	struct ransom_model *m = ransom_model_new(&params);
	struct ransom_verdict v;
	char path[64], other[72];
	for (int i = 0; i < 200; i++) {
		snprintf(path, sizeof(path), "/p/IMG_%04d.JPG", i);
		assert_false(feed(m, RANSOM_WRITTEN, i, path, NULL, HIGH, &v));
		snprintf(other, sizeof(other), "/p/IMG_%04d.jpeg", i);
		assert_false(feed(m, RANSOM_RENAMED, i, other, path, HIGH, &v));
		snprintf(other, sizeof(other), "/p/IMG_%04d.jpg", i);
		assert_false(feed(m, RANSOM_RENAMED, i, other, path, HIGH, &v));
		snprintf(path, sizeof(path), "/d/report%04d.docx", i);
		assert_false(feed(m, RANSOM_WRITTEN, i, path, NULL, HIGH, &v));
	}
	struct ransom_model_stats st;
	ransom_model_stats(m, &st);
	assert_int_equal(st.max_score, 0);
	/* Their renaming to ransomware's own extension still counts. */
	for (int i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "/p/IMG_%04d.JPG", i);
		snprintf(other, sizeof(other), "%s.crypt", path);
		if (feed(m, RANSOM_RENAMED, 1000 + i, other, path, HIGH, &v))
			break;
	}
	assert_string_equal(v.reason, "burst");
	ransom_model_free(m);
}

/* The same 19 acts spread over more than the window never add up; a
 * rename that keeps its extension, or to low-entropy content, is not an
 * act; another actor's acts are counted apart. */
static void test_window_threshold_and_actors(void **state)
{
	(void)state;
	struct ransom_model *m = ransom_model_new(&params);
	struct ransom_verdict v;
	char path[64], other[72];
	for (int i = 0; i < 100; i++) {
		snprintf(path, sizeof(path), "/d/f%03d.doc", i);
		assert_false(feed(m, RANSOM_WRITTEN, i * SEC, path, NULL, HIGH,
				  &v));
		snprintf(other, sizeof(other), "/d/g%03d.doc", i);
		assert_false(feed(m, RANSOM_RENAMED, i * SEC, other, path, HIGH,
				  &v));
		snprintf(other, sizeof(other), "/d/h%03d.bak", i);
		assert_false(feed(m, RANSOM_RENAMED, i * SEC, other, path, LOW,
				  &v));
	}
	struct ransom_model_stats st;
	ransom_model_stats(m, &st);
	assert_int_equal(st.max_score, 11); /* 0..10 s inclusive */
	ransom_model_free(m);
	m = ransom_model_new(&params);
	int verdicts = 0;
	for (int i = 0; i < 30; i++) {
		snprintf(path, sizeof(path), "/d/f%03d.doc", i);
		struct ransom_fact f = {.op = RANSOM_WRITTEN, .at_us = i * 1000,
					.actor = (uint32_t)(i % 2), .path = path,
					.entropy = HIGH};
		verdicts += ransom_model_feed(m, &f, &v);
	}
	assert_int_equal(verdicts, 0); /* 15 each */
	ransom_model_free(m);
}

/* Any act on a canary is a verdict at once, a low-entropy one too. */
static void test_canary(void **state)
{
	(void)state;
	struct ransom_model *m = ransom_model_new(&params);
	struct ransom_verdict v;
	struct ransom_fact f = {.op = RANSOM_REMOVED, .at_us = 7, .actor = 3,
				.path = "/home/u/.eduwatch-canary.docx",
				.entropy = -1, .canary = true};
	assert_true(ransom_model_feed(m, &f, &v));
	assert_string_equal(v.reason, "canary");
	assert_int_equal(v.score, 1);
	assert_int_equal(v.actor, 3);
	assert_int_equal(v.nexamples, 1);
	assert_string_equal(v.examples[0], f.path);
	/* Rewritten in a loop: one alert per window, each touch an act of
	 * the burst (the first one included), so the 19th more is one. */
	int verdicts = 0;
	for (int i = 1; i <= 19; i++) {
		f.op = RANSOM_WRITTEN;
		f.at_us = 7 + i * 1000;
		verdicts += ransom_model_feed(m, &f, &v);
	}
	assert_int_equal(verdicts, 1);
	assert_string_equal(v.reason, "burst");
	assert_int_equal(v.score, 20);
	/* After the window, a canary verdict again. */
	f.at_us = 7 + 11 * SEC;
	assert_true(ransom_model_feed(m, &f, &v));
	assert_string_equal(v.reason, "canary");
	ransom_model_free(NULL);
	ransom_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entropy),
		cmocka_unit_test(test_rewrite_and_rename_is_a_burst),
		cmocka_unit_test(test_encrypt_copy_then_delete_is_a_burst),
		cmocka_unit_test(test_random_name_then_delete_is_a_burst),
		cmocka_unit_test(test_pairing_is_one_to_one_and_local),
		cmocka_unit_test(test_ordinary_work_scores_nothing),
		cmocka_unit_test(test_compressed_formats_are_no_jump),
		cmocka_unit_test(test_window_threshold_and_actors),
		cmocka_unit_test(test_canary),
	};
	return cmocka_run_group_tests_name("ransom_model", tests, NULL, NULL);
}
