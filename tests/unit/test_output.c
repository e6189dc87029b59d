/* Unit tests for the collector's outputs: the bytes each SOC format
 * carries, pinned whole. The SOC JSON moved from printf to a msgpack tree
 * rendered by common/jsonout, and the syslog writer into its own output;
 * these strings were captured from the code before the move (commit
 * 5325fd4), so any byte the SIEM would see differently fails here. The
 * syslog length prefix counts EDUWATCH_VERSION's bytes. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector/forward.h"
#include "collector/output.h"
#include "common/alloc.h"
#include "common/version.h"
#include "tests/support/jsoncheck.h"

static const char want_ecs_0[] =
	"{\"@timestamp\":\"2025-11-29T07:06:40.123Z\",\"event\":{\"kind\":\"alert\","
	"\"id\":\"eduwatch-42\",\"category\":[\"malware\"],\"severity\":9,"
	"\"created\":\"2025-11-29T07:07:40.000Z\",\"dataset\":\"eduwatch.alert\","
	"\"action\":\"scan.match\"},\"rule\":{\"id\":\"malware.detected\","
	"\"name\":\"M\xc3""\xa3"" \xc4""\x91""\xe1""\xbb""\x99""c | test "
	"= \\\\ \\\"x\\\"\\u000aline2 \\ufffd\\u0001\"},\"message\":\"M\xc3""\xa3"" "
	"\xc4""\x91""\xe1""\xbb""\x99""c | test = \\\\ \\\"x\\\"\\u000aline2 "
	"\\ufffd\\u0001\",\"host\":{\"name\":\"PC-L\xe1""\xbb""\x9b""p-7\","
	"\"id\":\"ag-7\"},\"organization\":{\"id\":\"THCS-01\"},\"labels\":{\"commune\":\"X\xc3""\xa3"" "
	"An\\u007f\",\"drill\":\"true\"},\"source\":{\"ip\":\"10.0.0.9\"},"
	"\"file\":{\"path\":\"C:\\\\Users\\\\hs\\\\x\\ufffd\\ufffd.exe\","
	"\"name\":\"x\\ufffd\\ufffd.exe\",\"hash\":{\"sha256\":\"ab12\"}},"
	"\"observer\":{\"vendor\":\"eduwatch\",\"product\":\"eduwatch-collector\","
	"\"version\":\"" EDUWATCH_VERSION "\"},\"tags\":[\"drill\"],\"eduwatch\":{\"count\":3,"
	"\"state\":\"open\",\"evidence\":{\"k\":\"a=b|c\",\"p\":\"\\ufffd\\ufffd "
	"\"}}}";

static const char want_ocsf_0[] =
	"{\"class_uid\":2004,\"category_uid\":2,\"activity_id\":1,\"type_uid\":200401,"
	"\"severity_id\":5,\"time\":1764400000123,\"metadata\":{\"version\":\"1.1.0\","
	"\"uid\":\"eduwatch-42\",\"product\":{\"name\":\"eduwatch-collector\","
	"\"vendor_name\":\"eduwatch\",\"version\":\"" EDUWATCH_VERSION "\"}},\"finding_info\":{\"uid\":\"eduwatch-42\","
	"\"title\":\"M\xc3""\xa3"" \xc4""\x91""\xe1""\xbb""\x99""c | test "
	"= \\\\ \\\"x\\\"\\u000aline2 \\ufffd\\u0001\",\"types\":[\"malware\"],"
	"\"first_seen_time\":1764400000123,\"last_seen_time\":1764400060000},"
	"\"message\":\"M\xc3""\xa3"" \xc4""\x91""\xe1""\xbb""\x99""c | "
	"test = \\\\ \\\"x\\\"\\u000aline2 \\ufffd\\u0001\",\"status\":\"New\","
	"\"device\":{\"hostname\":\"PC-L\xe1""\xbb""\x9b""p-7\",\"uid\":\"ag-7\"},"
	"\"evidences\":[{\"file\":{\"name\":\"x\\ufffd\\ufffd.exe\",\"path\":\"C:\\\\Users\\\\hs\\\\x\\ufffd\\ufffd.exe\","
	"\"hashes\":[{\"algorithm_id\":3,\"algorithm\":\"SHA-256\",\"value\":\"ab12\"}]}}],"
	"\"unmapped\":{\"school\":\"THCS-01\",\"commune\":\"X\xc3""\xa3"" "
	"An\\u007f\",\"rule\":\"malware.detected\",\"drill\":true,\"count\":3,"
	"\"evidence\":{\"k\":\"a=b|c\",\"p\":\"\\ufffd\\ufffd \"}}}";

static const char want_syslog_0[] =
	"592 <105>1 2025-11-29T07:06:40.123456Z collector eduwatch - scan.match "
	"- CEF:0|eduwatch|eduwatch-collector|" EDUWATCH_VERSION "|scan.match|M\xc3""\xa3"" "
	"\xc4""\x91""\xe1""\xbb""\x99""c \\| test = \\\\ \"x\" line2 \xef""\xbf""\xbd"" "
	"|9|rt=1764400000123 externalId=eduwatch-42 dvchost=collector shost=PC-L\xe1""\xbb""\x9b""p-7 "
	"src=10.0.0.9 fname=x\xef""\xbf""\xbd""\xef""\xbf""\xbd"".exe filePath=C:\\\\Users\\\\hs\\\\x\xef""\xbf""\xbd""\xef""\xbf""\xbd"".exe "
	"fileHash=ab12 act=alert outcome=open cat=malware msg=M\xc3""\xa3"" "
	"\xc4""\x91""\xe1""\xbb""\x99""c | test \\= \\\\ \"x\"\\nline2 "
	"\xef""\xbf""\xbd""  cs1Label=school cs1=THCS-01 cs2Label=commune "
	"cs2=X\xc3""\xa3"" An  cs3Label=rule cs3=malware.detected cs4Label=agent "
	"cs4=ag-7 cs5Label=evidence cs5={\"k\":\"a\\=b|c\",\"p\":\"\xef""\xbf""\xbd""\xef""\xbf""\xbd"" "
	"\"} cs6Label=drill cs6=true cnt=3";

static const char want_ecs_1[] =
	"{\"@timestamp\":\"1970-01-01T00:00:00.001Z\",\"event\":{\"kind\":\"alert\","
	"\"id\":\"eduwatch-18446744073709551615\",\"category\":[\"configuration\"],"
	"\"severity\":4,\"created\":\"1970-01-01T00:00:00.002Z\",\"dataset\":\"eduwatch.alert\","
	"\"action\":\"compliance.drop\"},\"rule\":{\"id\":\"compliance.drop\","
	"\"name\":\"\xc4""\x90""i\xe1""\xbb""\x83""m tu\xc3""\xa2""n th\xe1""\xbb""\xa7"" "
	"gi\xe1""\xba""\xa3""m\"},\"message\":\"\xc4""\x90""i\xe1""\xbb""\x83""m "
	"tu\xc3""\xa2""n th\xe1""\xbb""\xa7"" gi\xe1""\xba""\xa3""m\",\"host\":{\"name\":\"\","
	"\"id\":\"ag-8\"},\"organization\":{\"id\":\"\"},\"labels\":{\"commune\":\"\","
	"\"drill\":\"false\"},\"observer\":{\"vendor\":\"eduwatch\",\"product\":\"eduwatch-collector\","
	"\"version\":\"" EDUWATCH_VERSION "\"},\"tags\":[],\"eduwatch\":{\"count\":-1,"
	"\"state\":\"acknowledged\",\"evidence\":{}}}";

static const char want_ocsf_1[] =
	"{\"class_uid\":2003,\"category_uid\":2,\"activity_id\":1,\"type_uid\":200301,"
	"\"severity_id\":3,\"time\":1,\"metadata\":{\"version\":\"1.1.0\","
	"\"uid\":\"eduwatch-18446744073709551615\",\"product\":{\"name\":\"eduwatch-collector\","
	"\"vendor_name\":\"eduwatch\",\"version\":\"" EDUWATCH_VERSION "\"}},\"finding_info\":{\"uid\":\"eduwatch-18446744073709551615\","
	"\"title\":\"\xc4""\x90""i\xe1""\xbb""\x83""m tu\xc3""\xa2""n th\xe1""\xbb""\xa7"" "
	"gi\xe1""\xba""\xa3""m\",\"types\":[\"compliance\"],\"first_seen_time\":1,"
	"\"last_seen_time\":2},\"message\":\"\xc4""\x90""i\xe1""\xbb""\x83""m "
	"tu\xc3""\xa2""n th\xe1""\xbb""\xa7"" gi\xe1""\xba""\xa3""m\",\"status\":\"In "
	"Progress\",\"device\":{\"hostname\":\"\",\"uid\":\"ag-8\"},\"compliance\":{\"standards\":[\"eduwatch "
	"policy\"],\"status\":\"Fail\"},\"unmapped\":{\"school\":\"\",\"commune\":\"\","
	"\"rule\":\"compliance.drop\",\"drill\":false,\"count\":-1,\"evidence\":{}}}";

static const char want_syslog_1[] =
	"<108>1 1970-01-01T00:00:00.001000Z collector eduwatch - compliance.drop "
	"- CEF:0|eduwatch|eduwatch-collector|" EDUWATCH_VERSION "|compliance.drop|\xc4""\x90""i\xe1""\xbb""\x83""m "
	"tu\xc3""\xa2""n th\xe1""\xbb""\xa7"" gi\xe1""\xba""\xa3""m|4|rt=1 "
	"externalId=eduwatch-18446744073709551615 dvchost=collector act=alert "
	"outcome=acknowledged cat=compliance msg=\xc4""\x90""i\xe1""\xbb""\x83""m "
	"tu\xc3""\xa2""n th\xe1""\xbb""\xa7"" gi\xe1""\xba""\xa3""m cs1Label=school "
	"cs2Label=commune cs3Label=rule cs3=compliance.drop cs4Label=agent "
	"cs4=ag-8 cs5Label=evidence cs6Label=drill cs6=false cnt=-1\x0a""";

/* which 0: a malware alert, drill, every optional field, hostile bytes;
 * which 1: a compliance drop with no file, no source, acknowledged. */
static void fill(struct store_alert *a, int which)
{
	memset(a, 0, sizeof(*a));
	if (which == 0) {
		a->id = 42;
		snprintf(a->rule, sizeof(a->rule), "malware.detected");
		snprintf(a->title, sizeof(a->title), "Mã độc | test = \\ \"x\"\nline2 \xff\x01");
		snprintf(a->category, sizeof(a->category), "malware");
		snprintf(a->kind, sizeof(a->kind), "scan.match");
		snprintf(a->agent, sizeof(a->agent), "ag-7");
		snprintf(a->school, sizeof(a->school), "THCS-01");
		snprintf(a->hostname, sizeof(a->hostname), "PC-Lớp-7");
		snprintf(a->commune, sizeof(a->commune), "Xã An\x7f");
		snprintf(a->state, sizeof(a->state), "open");
		snprintf(a->evidence, sizeof(a->evidence), "{\"k\":\"a=b|c\",\"p\":\"\xff\xfe\x01\"}");
		snprintf(a->src_ip, sizeof(a->src_ip), "10.0.0.9");
		snprintf(a->file_path, sizeof(a->file_path), "C:\\Users\\hs\\x\xc0\xaf.exe");
		snprintf(a->file_hash, sizeof(a->file_hash), "ab12");
		a->severity = 9;
		a->drill = true;
		a->count = 3;
		a->first_us = 1764400000123456LL;
		a->last_us = 1764400060000000LL;
	} else {
		a->id = 18446744073709551615ULL;
		snprintf(a->rule, sizeof(a->rule), "compliance.drop");
		snprintf(a->title, sizeof(a->title), "Điểm tuân thủ giảm");
		snprintf(a->category, sizeof(a->category), "compliance");
		snprintf(a->kind, sizeof(a->kind), "compliance.drop");
		snprintf(a->agent, sizeof(a->agent), "ag-8");
		snprintf(a->state, sizeof(a->state), "acknowledged");
		a->severity = 4;
		a->count = -1;
		a->first_us = 1000;
		a->last_us = 2000;
	}
}

static void expect_bytes(const struct dynbuf *b, const char *want,
			 size_t want_len)
{
	assert_int_equal(b->failed, 0);
	if (b->len != want_len || memcmp(b->data, want, want_len) != 0)
		fail_msg("got  %.*s\nwant %s", (int)b->len, b->data, want);
}

static void test_ecs_bytes(void **state)
{
	(void)state;
	static const char *const want[] = {want_ecs_0, want_ecs_1};
	static const size_t len[] = {sizeof(want_ecs_0) - 1, sizeof(want_ecs_1) - 1};
	struct store_alert a;
	for (int w = 0; w < 2; w++) {
		struct dynbuf b = {0};
		fill(&a, w);
		forward_format_json(&a, false, &b);
		expect_bytes(&b, want[w], len[w]);
		assert_true(jsoncheck_valid(b.data, b.len, NULL));
		dynbuf_free(&b);
	}
}

static void test_ocsf_bytes(void **state)
{
	(void)state;
	static const char *const want[] = {want_ocsf_0, want_ocsf_1};
	static const size_t len[] = {sizeof(want_ocsf_0) - 1, sizeof(want_ocsf_1) - 1};
	struct store_alert a;
	for (int w = 0; w < 2; w++) {
		struct dynbuf b = {0};
		fill(&a, w);
		forward_format_json(&a, true, &b);
		expect_bytes(&b, want[w], len[w]);
		assert_true(jsoncheck_valid(b.data, b.len, NULL));
		dynbuf_free(&b);
	}
}

static void test_syslog_bytes(void **state)
{
	(void)state;
	struct store_alert a;
	struct dynbuf b = {0};
	fill(&a, 0);
	forward_format_syslog(&a, "collector", SYSLOG_OCTET_COUNTING, &b);
	expect_bytes(&b, want_syslog_0, sizeof(want_syslog_0) - 1);
	dynbuf_free(&b);
	fill(&a, 1);
	forward_format_syslog(&a, "collector", SYSLOG_NEWLINE, &b);
	expect_bytes(&b, want_syslog_1, sizeof(want_syslog_1) - 1);
	dynbuf_free(&b);
}

/* An alert of a red-team window carries its campaign in every format;
 * one outside any window carries no such field at all. */
static void test_drill_campaign(void **state)
{
	(void)state;
	struct store_alert a;
	struct dynbuf b = {0};
	fill(&a, 0);
	a.drill_campaign = 17;
	forward_format_syslog(&a, "collector", SYSLOG_NEWLINE, &b);
	assert_non_null(memmem(b.data, b.len,
			       "cs6=true cn1Label=drill_campaign cn1=17 ", 40));
	dynbuf_free(&b);
	forward_format_json(&a, false, &b);
	assert_non_null(memmem(b.data, b.len, "\"drill_campaign\":\"17\"", 21));
	assert_true(jsoncheck_valid(b.data, b.len, NULL));
	dynbuf_free(&b);
	forward_format_json(&a, true, &b);
	assert_non_null(memmem(b.data, b.len, "\"drill_campaign\":17,", 20));
	assert_true(jsoncheck_valid(b.data, b.len, NULL));
	dynbuf_free(&b);
	a.drill_campaign = 0;
	forward_format_syslog(&a, "collector", SYSLOG_NEWLINE, &b);
	assert_null(memmem(b.data, b.len, "cn1", 3));
	dynbuf_free(&b);
	forward_format_json(&a, true, &b);
	assert_null(memmem(b.data, b.len, "drill_campaign", 14));
	dynbuf_free(&b);
}

/* A renderer appends to what the buffer holds (a batch is one buffer),
 * and a failed allocation anywhere shows as the buffer's error, never as
 * a crash or a short record taken for a whole one. */
static void test_append_and_alloc_failure(void **state)
{
	(void)state;
	struct store_alert a;
	struct dynbuf b = {0};
	fill(&a, 0);
	dynbuf_add_str(&b, "[");
	forward_format_json(&a, false, &b);
	dynbuf_add_str(&b, ",");
	forward_format_json(&a, false, &b);
	dynbuf_add_str(&b, "]");
	assert_int_equal(b.failed, 0);
	assert_true(jsoncheck_valid(b.data, b.len, NULL));
	assert_int_equal(b.len, 2 * (sizeof(want_ecs_0) - 1) + 3);
	dynbuf_free(&b);
	for (long n = 0; n < 40; n++) {
		for (int kind = 0; kind < 3; kind++) {
			alloc_fail_after(n);
			if (kind == 2)
				forward_format_syslog(&a, "collector",
						      SYSLOG_NEWLINE, &b);
			else
				forward_format_json(&a, kind, &b);
			alloc_fail_after(-1);
			if (b.failed == 0)
				assert_true(kind == 2 ||
					    jsoncheck_valid(b.data, b.len, NULL));
			dynbuf_free(&b);
		}
	}
}

/* Outputs have one shape and are found by their type name; forward.c
 * holds no transport of its own. */
static void test_output_table(void **state)
{
	(void)state;
	const struct output *o = output_find("syslog");
	assert_ptr_equal(o, &output_syslog);
	assert_non_null(o->open);
	assert_non_null(o->deliver);
	assert_non_null(o->confirm); /* syslog has no acknowledgement */
	assert_non_null(o->close);
	o = output_find("https");
	assert_ptr_equal(o, &output_https);
	assert_non_null(o->open);
	assert_non_null(o->deliver);
	assert_null(o->confirm); /* a 2xx answer is the acknowledgement */
	assert_non_null(o->close);
	assert_null(output_find("relp"));
	assert_null(output_find(""));
	o->close(NULL);
	output_syslog.close(NULL);

	/* A type without an output is refused with its name. */
	struct forward_dest d = {.name = "soc", .type = "kafka"};
	struct forwarder *f = NULL;
	char err[200];
	assert_int_equal(forward_start(NULL, &d, "collector", &f, err,
				       sizeof(err)), -EINVAL);
	assert_null(f);
	assert_non_null(strstr(err, "'kafka'"));
	assert_string_equal(output_file_name("C:\\a\\b/c.exe"), "c.exe");
	assert_string_equal(output_file_name("plain"), "plain");
}

/* The syslog output against a real loopback receiver: deliver writes the
 * batch's exact bytes; confirm counts a batch delivered only once the
 * connection outlived it by 200 ms, and reports the receiver's close. */
static void test_syslog_output_loopback(void **state)
{
	(void)state;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof(sa);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &slen), 0);

	struct forward_dest d = {.name = "soc", .type = "syslog",
				 .framing = "newline"};
	snprintf(d.address, sizeof(d.address), "127.0.0.1:%u",
		 ntohs(sa.sin_port));
	void *st = NULL;
	char err[200];
	assert_int_equal(output_syslog.open(&d, "collector", &st, err,
					    sizeof(err)), 0);
	struct store_alert a[2];
	fill(&a[0], 0);
	fill(&a[1], 1);
	struct output_report r = {0};
	assert_int_equal(output_syslog.deliver(st, a, 2, &r), OUTPUT_OK);
	assert_true(r.connected);
	int cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);

	struct dynbuf want = {0};
	forward_format_syslog(&a[0], "collector", SYSLOG_NEWLINE, &want);
	forward_format_syslog(&a[1], "collector", SYSLOG_NEWLINE, &want);
	char *got = malloc(want.len);
	size_t n = 0;
	assert_non_null(got);
	while (n < want.len) {
		ssize_t k = recv(cfd, got + n, want.len - n, 0);
		assert_true(k > 0);
		n += (size_t)k;
	}
	assert_memory_equal(got, want.data, want.len);
	free(got);
	dynbuf_free(&want);

	struct output_sent w[1] = {{.last_id = 7, .sent_ms = 1000}};
	memset(&r, 0, sizeof(r));
	assert_int_equal(output_syslog.confirm(st, w, 1, 1100, &r), 0);
	assert_int_equal(output_syslog.confirm(st, w, 1, 1200, &r), 1);
	/* The receiver goes away: what is in the window is not delivered. */
	close(cfd);
	int rc = 0;
	for (int i = 0; i < 200 && rc >= 0; i++) {
		rc = output_syslog.confirm(st, w, 1, 1200, &r);
		if (rc >= 0)
			usleep(10000);
	}
	assert_true(rc < 0);
	assert_string_equal(r.error, "receiver closed the connection");
	/* The next deliver connects again. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(output_syslog.deliver(st, a, 1, &r), OUTPUT_OK);
	assert_true(r.connected);
	output_syslog.close(st);
	close(lfd);
}

/* open under allocation failure: an error or a state, never a leak (the
 * ASan pass checks leaks). */
static void test_open_alloc_failure(void **state)
{
	(void)state;
	struct forward_dest d = {.name = "soc", .address = "127.0.0.1:1"};
	char err[200];
	for (int k = 0; k < 2; k++) {
		const struct output *o = k ? &output_https : &output_syslog;
		for (long n = 0; n < 4; n++) {
			void *st = NULL;
			alloc_fail_after(n);
			int rc = o->open(&d, "collector", &st, err, sizeof(err));
			alloc_fail_after(-1);
			if (rc == 0)
				o->close(st);
			else
				assert_int_equal(rc, -ENOMEM);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ecs_bytes),
		cmocka_unit_test(test_ocsf_bytes),
		cmocka_unit_test(test_syslog_bytes),
		cmocka_unit_test(test_drill_campaign),
		cmocka_unit_test(test_append_and_alloc_failure),
		cmocka_unit_test(test_output_table),
		cmocka_unit_test(test_syslog_output_loopback),
		cmocka_unit_test(test_open_alloc_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
