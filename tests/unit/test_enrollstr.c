/* Unit tests for common/enrollstr: the one-string enrollment record, as a
 * technician copies it off a sheet, with every mistake a person makes. */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/enrollstr.h"

static const struct enrollstr sample = {
	.host = "collector.sgd.example.vn",
	.port = 7443,
	.enroll_port = 7444,
	.token = "ewt_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde",
	.ca_sha256 = "00ff11ee22dd33cc44bb55aa66997788"
		     "0123456789abcdeffedcba9876543210",
};

static void encode(const struct enrollstr *es, char *out)
{
	assert_int_equal(enrollstr_encode(es, out, ENROLLSTR_TEXT_MAX), 0);
}

static int decode(const char *text, struct enrollstr *out, char *err)
{
	return enrollstr_decode(text, strlen(text), out, err, 256);
}

static void assert_same(const struct enrollstr *a, const struct enrollstr *b)
{
	assert_string_equal(a->host, b->host);
	assert_int_equal(a->port, b->port);
	assert_int_equal(a->enroll_port, b->enroll_port);
	assert_string_equal(a->token, b->token);
	assert_string_equal(a->ca_sha256, b->ca_sha256);
}

static void test_round_trip(void **state)
{
	(void)state;
	char text[ENROLLSTR_TEXT_MAX], err[256];
	struct enrollstr got;
	encode(&sample, text);
	assert_memory_equal(text, "EW1-", 4);
	assert_int_equal(decode(text, &got, err), 0);
	assert_same(&got, &sample);
	/* An IPv6 literal and the longest name still fit. */
	struct enrollstr big = sample;
	memset(big.host, 'a', ENROLLSTR_HOST_MAX);
	big.host[ENROLLSTR_HOST_MAX] = '\0';
	encode(&big, text);
	assert_int_equal(decode(text, &got, err), 0);
	assert_same(&got, &big);
	snprintf(big.host, sizeof(big.host), "fd00::1");
	encode(&big, text);
	assert_int_equal(decode(text, &got, err), 0);
	assert_string_equal(got.host, "fd00::1");
}

/* Lower case, O for 0, I and L for 1, lost or extra dashes, blanks and
 * line breaks (a string wrapped on paper) all read the same. */
static void test_forgiving_reading(void **state)
{
	(void)state;
	char text[ENROLLSTR_TEXT_MAX], typed[2 * ENROLLSTR_TEXT_MAX], err[256];
	struct enrollstr got;
	encode(&sample, text);
	size_t n = 0;
	typed[n++] = ' ';
	for (size_t i = 0; text[i]; i++) {
		char c = text[i];
		if (i > 3 && c == '-') {
			typed[n++] = i % 3 ? '\n' : ' ';
			continue;
		}
		if (c == '0')
			c = 'O';
		else if (c == '1')
			c = (i % 2) ? 'l' : 'I';
		else if (c >= 'A' && c <= 'Z' && i > 3)
			c = (char)(c - 'A' + 'a');
		typed[n++] = c;
	}
	typed[n++] = '\n';
	typed[n] = '\0';
	if (decode(typed, &got, err) != 0)
		fail_msg("%s: %s", typed, err);
	assert_same(&got, &sample);
}

/* Every single-character mistake anywhere in the string is caught: the
 * string either fails or (a look-alike) reads as the original. */
static void test_every_typo_caught(void **state)
{
	(void)state;
	static const char keys[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	char text[ENROLLSTR_TEXT_MAX], bad[ENROLLSTR_TEXT_MAX], err[256];
	struct enrollstr got;
	encode(&sample, text);
	size_t len = strlen(text);
	int caught = 0;
	for (size_t i = 4; i < len; i++) {
		if (text[i] == '-')
			continue;
		for (size_t k = 0; keys[k]; k++) {
			if (keys[k] == text[i])
				continue;
			memcpy(bad, text, len + 1);
			bad[i] = keys[k];
			assert_int_not_equal(decode(bad, &got, err), 0);
			caught++;
		}
		/* A character left out. */
		memcpy(bad, text, i);
		memcpy(bad + i, text + i + 1, len - i);
		assert_int_not_equal(decode(bad, &got, err), 0);
		/* Two neighbours swapped. */
		if (i + 1 < len && text[i + 1] != '-' && text[i + 1] != text[i]) {
			memcpy(bad, text, len + 1);
			bad[i] = text[i + 1];
			bad[i + 1] = text[i];
			assert_int_not_equal(decode(bad, &got, err), 0);
		}
	}
	assert_true(caught > 1000);
}

/* Cut short at every length: refused, never read as a shorter record. */
static void test_truncated(void **state)
{
	(void)state;
	char text[ENROLLSTR_TEXT_MAX], err[256];
	struct enrollstr got;
	encode(&sample, text);
	for (size_t n = 0; n < strlen(text); n++) {
		if (n > 0 && text[n - 1] == '-')
			continue; /* same as the length before it */
		assert_int_not_equal(enrollstr_decode(text, n, &got, err, 256), 0);
	}
	assert_int_not_equal(decode("EW1-", &got, err), 0);
	assert_non_null(strstr(err, "cut short"));
}

static void test_not_a_string(void **state)
{
	(void)state;
	char text[ENROLLSTR_TEXT_MAX], err[256];
	struct enrollstr got;
	assert_int_not_equal(decode("", &got, err), 0);
	assert_int_not_equal(decode("ewt_abc", &got, err), 0);
	assert_non_null(strstr(err, "not an enrollment string"));
	/* A newer collector's version is named, not misread. */
	encode(&sample, text);
	text[2] = '2';
	assert_int_not_equal(decode(text, &got, err), 0);
	assert_non_null(strstr(err, "version 2"));
	/* U is not in the alphabet; invalid UTF-8 and controls are named. */
	encode(&sample, text);
	text[6] = 'U';
	assert_int_not_equal(decode(text, &got, err), 0);
	assert_non_null(strstr(err, "'U'"));
	text[6] = (char)0xc3;
	assert_int_not_equal(decode(text, &got, err), 0);
	assert_non_null(strstr(err, "0xc3"));
	/* Two strings pasted together. */
	char twice[2 * ENROLLSTR_TEXT_MAX];
	encode(&sample, text);
	snprintf(twice, sizeof(twice), "%s%s", text, text + 3);
	assert_int_not_equal(decode(twice, &got, err), 0);
	/* Oversize input is refused before it is read. */
	char *huge = malloc(ENROLLSTR_INPUT_MAX + 2);
	assert_non_null(huge);
	memset(huge, 'A', ENROLLSTR_INPUT_MAX + 1);
	memcpy(huge, "EW1-", 4);
	huge[ENROLLSTR_INPUT_MAX + 1] = '\0';
	assert_int_not_equal(decode(huge, &got, err), 0);
	free(huge);
}

/* The encoder refuses what the decoder would refuse, so the collector
 * never prints a string no agent can use. */
static void test_encoder_refuses_bad_fields(void **state)
{
	(void)state;
	char text[ENROLLSTR_TEXT_MAX];
	struct enrollstr es = sample;
	snprintf(es.host, sizeof(es.host), "evil host;rm");
	assert_int_equal(enrollstr_encode(&es, text, sizeof(text)), -EINVAL);
	es = sample;
	snprintf(es.token, sizeof(es.token), "not-a-token");
	assert_int_equal(enrollstr_encode(&es, text, sizeof(text)), -EINVAL);
	es = sample;
	es.port = 0;
	assert_int_equal(enrollstr_encode(&es, text, sizeof(text)), -EINVAL);
	es = sample;
	es.ca_sha256[10] = 'G';
	assert_int_equal(enrollstr_encode(&es, text, sizeof(text)), -EINVAL);
	es = sample;
	assert_int_equal(enrollstr_encode(&es, text, 20), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_forgiving_reading),
		cmocka_unit_test(test_every_typo_caught),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_not_a_string),
		cmocka_unit_test(test_encoder_refuses_bad_fields),
	};
	return cmocka_run_group_tests_name("enrollstr", tests, NULL, NULL);
}
