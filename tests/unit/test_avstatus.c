/* Unit tests for agent/avstatus: the antivirus decoders, on recorded
 * values. The Windows ones run here because they are pure: the WMI calls
 * that feed them (avprobe_windows.c) are not built on Linux. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/av/avstatus.h"

static void header(char *buf, const char *text)
{
	memset(buf, ' ', 512);
	memcpy(buf, text, strlen(text));
}

static void test_cvd_header(void **state)
{
	(void)state;
	char buf[512];
	struct cvd_header h;
	/* A real daily.cvd header's shape (signature shortened). */
	header(buf, "ClamAV-VDB:14 Nov 2023 07:49 -0500:27093:2046026:90:"
		    "9a1b2c3d4e5f60718293a4b5c6d7e8f9:AbCdEfGh:raynman:1699966144");
	assert_int_equal(cvd_parse_header(buf, sizeof(buf), &h), 0);
	assert_string_equal(h.build_time, "14 Nov 2023 07:49 -0500");
	assert_int_equal(h.version, 27093);
	assert_int_equal(h.signatures, 2046026);
	assert_int_equal(h.level, 90);
	assert_int_equal(h.build_unix, 1699966144);
	/* A .cld header is the same; only the first 512 bytes count. */
	char longer[600];
	memcpy(longer, buf, 512);
	memset(longer + 512, 'x', 88);
	assert_int_equal(cvd_parse_header(longer, sizeof(longer), &h), 0);
}

static void test_cvd_header_refused(void **state)
{
	(void)state;
	char buf[512];
	struct cvd_header h;
	header(buf, "ClamAV-VDX:14 Nov 2023 07:49 -0500:27093:1:90:m:s:b:1");
	assert_int_equal(cvd_parse_header(buf, sizeof(buf), &h), -EBADMSG);
	header(buf, "ClamAV-VDB:14 Nov 2023:27093:1:90");
	assert_int_equal(cvd_parse_header(buf, sizeof(buf), &h), -EBADMSG);
	header(buf, "ClamAV-VDB:t:27093:many:90:m:s:b:1699966144");
	assert_int_equal(cvd_parse_header(buf, sizeof(buf), &h), -EBADMSG);
	header(buf, "ClamAV-VDB:t:27093:1:90:m:s:b:notatime");
	assert_int_equal(cvd_parse_header(buf, sizeof(buf), &h), -EBADMSG);
	assert_int_equal(cvd_parse_header("ClamAV-VDB:", 11, &h), -EBADMSG);
	assert_int_equal(cvd_parse_header("", 0, &h), -EBADMSG);
}

static void test_clamd_version(void **state)
{
	(void)state;
	char engine[32];
	unsigned db;
	assert_int_equal(clamd_parse_version("ClamAV 1.0.3/27093/Tue Nov 14 "
					     "08:26:44 2023",
					     engine, sizeof(engine), &db),
			 0);
	assert_string_equal(engine, "1.0.3");
	assert_int_equal(db, 27093);
	assert_int_equal(clamd_parse_version("ClamAV 1.4.6\n", engine,
					     sizeof(engine), &db),
			 0);
	assert_string_equal(engine, "1.4.6");
	assert_int_equal(db, 0);
	assert_int_equal(clamd_parse_version("PONG", engine, sizeof(engine), &db),
			 -EBADMSG);
}

static void test_wsc_recorded_values(void **state)
{
	(void)state;
	struct wsc_state s;
	/* The values the issue recorded from real machines. */
	wsc_decode_product_state(397568, &s); /* 0x061100 */
	assert_int_equal(s.state, AV_ON);
	assert_true(s.up_to_date);
	assert_true(s.microsoft);
	wsc_decode_product_state(393472, &s); /* 0x060100 */
	assert_int_equal(s.state, AV_OFF);
	assert_true(s.up_to_date);
	wsc_decode_product_state(266256, &s); /* 0x041010 */
	assert_int_equal(s.state, AV_ON);
	assert_false(s.up_to_date);
	assert_false(s.microsoft);
	wsc_decode_product_state(0x042000, &s);
	assert_int_equal(s.state, AV_SNOOZED);
	wsc_decode_product_state(0x043000, &s);
	assert_int_equal(s.state, AV_EXPIRED);
	wsc_decode_product_state(0x04f000, &s);
	assert_int_equal(s.state, AV_UNKNOWN);
}

static void test_cim_datetime(void **state)
{
	(void)state;
	int64_t us;
	/* 07:49 at UTC-5 is 12:49 UTC. */
	assert_int_equal(cim_datetime_parse("20231114074900.000000-300", &us), 0);
	assert_int_equal(us, 1699966140LL * 1000000);
	assert_int_equal(cim_datetime_parse("20231114194900.500000+420", &us), 0);
	assert_int_equal(us, 1699966140LL * 1000000 + 500000);
	assert_int_equal(cim_datetime_parse("2023111407490", &us), -EBADMSG);
	assert_int_equal(cim_datetime_parse("20231314074900.000000-300", &us),
			 -EBADMSG);
	assert_int_equal(cim_datetime_parse("2023111407490x.000000-300", &us),
			 -EBADMSG);
}

static void test_defender(void **state)
{
	(void)state;
	struct av_product p;
	struct defender_raw raw = {true, "20231114074900.000000-300", "Normal"};
	defender_decode(&raw, &p);
	assert_int_equal(p.state, AV_ON);
	assert_true(p.realtime);
	assert_true(p.sig_known);
	assert_int_equal(p.sig_time_us, 1699966140LL * 1000000);
	/* Passive: the flag says enabled, but another product protects. */
	struct defender_raw passive = {true, "20231114074900.000000-300",
				       "Passive Mode"};
	defender_decode(&passive, &p);
	assert_false(p.realtime);
	assert_int_equal(p.state, AV_OFF);
	assert_non_null(strstr(p.detail, "another antivirus"));
	struct defender_raw sxs = {true, "", "SxS Passive Mode"};
	defender_decode(&sxs, &p);
	assert_false(p.realtime);
	assert_false(p.sig_known);
	struct defender_raw off = {false, "20231114074900.000000-300", "Normal"};
	defender_decode(&off, &p);
	assert_false(p.realtime);
}

static void test_summary(void **state)
{
	(void)state;
	int64_t day = 86400LL * 1000000, now = 100 * day;
	struct av_report r = {.count = 3};
	/* Passive Defender with fresh signatures, an active product with
	 * 3-day-old ones: the active one's age is the one that counts. */
	r.products[0] = (struct av_product){.state = AV_OFF, .sig_known = true,
					    .sig_time_us = now - day / 2};
	r.products[1] = (struct av_product){.state = AV_ON, .realtime = true,
					    .sig_known = true,
					    .sig_time_us = now - 3 * day - 5};
	r.products[2] = (struct av_product){.state = AV_UNKNOWN};
	av_report_summarise(&r, now);
	assert_true(r.realtime);
	assert_int_equal(r.sig_age_days, 3);
	/* Nothing running: the freshest on disk, and no real time. */
	r.products[1].state = AV_OFF;
	r.products[1].realtime = false;
	av_report_summarise(&r, now);
	assert_false(r.realtime);
	assert_int_equal(r.sig_age_days, 0);
	struct av_report none = {0};
	av_report_summarise(&none, now);
	assert_false(none.realtime);
	assert_int_equal(none.sig_age_days, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cvd_header),
		cmocka_unit_test(test_cvd_header_refused),
		cmocka_unit_test(test_clamd_version),
		cmocka_unit_test(test_wsc_recorded_values),
		cmocka_unit_test(test_cim_datetime),
		cmocka_unit_test(test_defender),
		cmocka_unit_test(test_summary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
