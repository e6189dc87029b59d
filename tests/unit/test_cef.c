/* Unit tests for collector/cef: CEF escaping exactly as a SIEM parses it,
 * and the RFC 5424 / 5425 framing around it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/cef.h"
#include "common/version.h"

static void expect_escaped(bool header, const char *in, const char *want)
{
	struct cef_buf b = {0};
	if (header)
		cef_escape_header(&b, in);
	else
		cef_escape_extension(&b, in);
	assert_false(b.failed);
	assert_string_equal(b.data ? b.data : "", want);
	cef_buf_release(&b);
}

static void test_header_escaping(void **state)
{
	(void)state;
	expect_escaped(true, "a|b", "a\\|b");
	expect_escaped(true, "back\\slash", "back\\\\slash");
	expect_escaped(true, "\\|", "\\\\\\|");
	expect_escaped(true, "two\nlines\r", "two lines ");
	/* '=' is only special in the extension. */
	expect_escaped(true, "a=b", "a=b");
	expect_escaped(true, "Trường THCS Nguyễn Du", "Trường THCS Nguyễn Du");
}

static void test_extension_escaping(void **state)
{
	(void)state;
	expect_escaped(false, "a=b", "a\\=b");
	expect_escaped(false, "C:\\Users\\hs", "C:\\\\Users\\\\hs");
	expect_escaped(false, "line1\nline2\r\n", "line1\\nline2\\r\\n");
	/* '|' is only special in the header. */
	expect_escaped(false, "a|b", "a|b");
	expect_escaped(false, "tab\there\x01", "tab here ");
	expect_escaped(false, "Phường 1 = Xã An", "Phường 1 \\= Xã An");
}

static void test_record(void **state)
{
	(void)state;
	struct cef_buf b = {0};
	struct cef_header hdr = {"net.arp_spoof", "ARP spoofing | gateway", 8};
	struct cef_field fields[] = {
		{"rt", "1764400000000"},
		{"shost", "PC-07"},
		{"fname", NULL}, /* left out */
		{"filePath", ""},  /* left out */
		{"cs1Label", "school"},
		{"cs1", "THCS Nguyễn Du"},
		{"cs6Label", "drill"},
		{"cs6", "false"},
		{"msg", "k=v\nnext"},
	};
	cef_format(&b, &hdr, fields, sizeof(fields) / sizeof(fields[0]));
	char want[512];
	snprintf(want, sizeof(want),
		 "CEF:0|eduwatch|eduwatch-collector|%s|net.arp_spoof|ARP "
		 "spoofing \\| gateway|8|rt=1764400000000 shost=PC-07 "
		 "cs1Label=school cs1=THCS Nguyễn Du cs6Label=drill cs6=false "
		 "msg=k\\=v\\nnext",
		 EDUWATCH_VERSION);
	assert_string_equal(b.data, want);
	cef_buf_release(&b);

	/* Severity is clamped to 0..10. */
	struct cef_header hi = {"x", "y", 42}, lo = {"x", "y", -3};
	cef_format(&b, &hi, NULL, 0);
	assert_non_null(strstr(b.data, "|x|y|10|"));
	cef_buf_release(&b);
	cef_format(&b, &lo, NULL, 0);
	assert_non_null(strstr(b.data, "|x|y|0|"));
	cef_buf_release(&b);
}

static void test_syslog_octet_counting(void **state)
{
	(void)state;
	struct cef_buf b = {0};
	const char *msg = "CEF:0|a|b|c|d|Trường|5|";
	struct syslog_meta meta = {
		.facility = 13,
		.severity = syslog_severity_from_cef(8),
		.ts_us = 1764400000123456LL,
		.hostname = "collector.sgd.example.vn",
		.app = "eduwatch",
		.msgid = "net.arp_spoof",
	};
	syslog_frame(&b, &meta, msg, strlen(msg), SYSLOG_OCTET_COUNTING);
	/* 13 * 8 + 3 = 107; the count is of bytes, UTF-8 included. */
	const char *body = "<107>1 2025-11-29T07:06:40.123456Z "
			   "collector.sgd.example.vn eduwatch - net.arp_spoof - "
			   "CEF:0|a|b|c|d|Trường|5|";
	char want[512];
	snprintf(want, sizeof(want), "%zu %s", strlen(body), body);
	assert_string_equal(b.data, want);
	cef_buf_release(&b);

	/* Newline framing, and header fields made printable or "-". */
	struct syslog_meta odd = {.facility = 99, .severity = 9, .ts_us = 0,
				  .hostname = "bad host", .app = "", .msgid = NULL};
	syslog_frame(&b, &odd, "m", 1, SYSLOG_NEWLINE);
	assert_string_equal(b.data,
			    "<110>1 1970-01-01T00:00:00.000000Z bad_host - - - - m\n");
	cef_buf_release(&b);
}

/* A SIEM reads CEF as UTF-8: each byte of an invalid sequence becomes
 * U+FFFD, after the escaping rules, which stay exact around it. */
static void test_invalid_utf8(void **state)
{
	(void)state;
	expect_escaped(false, "\xff\xfe.exe", "\xef\xbf\xbd\xef\xbf\xbd.exe");
	expect_escaped(false, "a=\xff|b\\", "a\\=\xef\xbf\xbd|b\\\\");
	expect_escaped(true, "a|\xff=b", "a\\|\xef\xbf\xbd=b");
	expect_escaped(false, "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");
	expect_escaped(false, "\xed\xa0\x80",
		       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	expect_escaped(false, "\xf4\x90\x80\x80x",
		       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx");
	expect_escaped(false, "end\xe1\x80", "end\xef\xbf\xbd\xef\xbf\xbd");
	expect_escaped(false, "\xf0\x9f\x98\x80 ok", "\xf0\x9f\x98\x80 ok");
}

static void test_severity_map(void **state)
{
	(void)state;
	assert_int_equal(syslog_severity_from_cef(10), 1);
	assert_int_equal(syslog_severity_from_cef(9), 1);
	assert_int_equal(syslog_severity_from_cef(7), 3);
	assert_int_equal(syslog_severity_from_cef(5), 4);
	assert_int_equal(syslog_severity_from_cef(2), 5);
	assert_int_equal(syslog_severity_from_cef(0), 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_escaping),
		cmocka_unit_test(test_extension_escaping),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_syslog_octet_counting),
		cmocka_unit_test(test_severity_map),
		cmocka_unit_test(test_invalid_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
