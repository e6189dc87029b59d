/* Unit tests for collector/alert (rules from the shipped rules/alerts.yaml
 * and from bad files) and collector/forward's formats (CEF in RFC 5424,
 * ECS and OCSF JSON), with the escaping cases a SIEM trips on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "collector/alert.h"
#include "collector/forward.h"
#include "common/alloc.h"
#include "common/wire.h"
#include "common/jsonout.h"
#include "tests/support/jsoncheck.h"
#include "tests/support/testutil.h"

static struct event event_of(const char *kind, const msgpack_sbuffer *body)
{
	struct event ev = {.v = EVENT_VERSION, .boot = 1, .seq = 1, .ts = 5,
			   .sev = 5, .body = (char *)body->data,
			   .body_len = body->size};
	snprintf(ev.agent, sizeof(ev.agent), "79001-abc");
	snprintf(ev.kind, sizeof(ev.kind), "%s", kind);
	return ev;
}

static void test_shipped_rules(void **state)
{
	(void)state;
	struct alert_rules rules;
	char err[512];
	assert_int_equal(alert_rules_load("rules/alerts.yaml", &rules, err,
					  sizeof(err)), 0);
	assert_non_null(alert_rule_for(&rules, "agent.silent"));
	assert_non_null(alert_rule_for(&rules, "compliance.drop"));

	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	struct store_alert out[4];

	/* av-off fires on realtime false, not on true. */
	msgpack_pack_map(&pk, 2);
	wire_pack_kv_bool(&pk, "realtime", false);
	wire_pack_kv_u64(&pk, "sig_age_days", 1);
	struct event ev = event_of("av.status", &sb);
	assert_int_equal(alert_evaluate(&rules, &ev, out, 4), 1);
	assert_string_equal(out[0].rule, "av-off");
	assert_int_equal(out[0].severity, 8);
	assert_string_equal(out[0].dedupe_key, "av-off|79001-abc");
	assert_string_equal(out[0].evidence,
			    "{\"realtime\":false,\"sig_age_days\":1}");
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 2);
	wire_pack_kv_bool(&pk, "realtime", true);
	wire_pack_kv_u64(&pk, "sig_age_days", 9);
	ev = event_of("av.status", &sb);
	/* Protection on, signatures 9 days old: only the staleness rule. */
	assert_int_equal(alert_evaluate(&rules, &ev, out, 4), 1);
	assert_string_equal(out[0].rule, "av-signatures-stale");

	/* A YARA match: dedupe by hash, SIEM fields picked from evidence. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 3);
	wire_pack_kv_str(&pk, "rule", "EICAR");
	wire_pack_kv_str(&pk, "path", "/home/hs/Tải về/eicar.com");
	wire_pack_kv_str(&pk, "sha256", "275a021b");
	ev = event_of("scan.match", &sb);
	assert_int_equal(alert_evaluate(&rules, &ev, out, 4), 1);
	assert_string_equal(out[0].dedupe_key, "yara-match|79001-abc|275a021b");
	/* The same file found by a drill: its own key, never folded into
	 * (or hiding) the real alert. */
	ev.drill = true;
	assert_int_equal(alert_evaluate(&rules, &ev, out, 4), 1);
	assert_string_equal(out[0].dedupe_key,
			    "yara-match|79001-abc|275a021b|drill:0");
	assert_string_equal(out[0].file_path, "/home/hs/Tải về/eicar.com");
	assert_string_equal(out[0].file_hash, "275a021b");
	assert_true(out[0].drill);
	/* Each campaign's finding is its own alert, to be timed. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 2);
	wire_pack_kv_str(&pk, "sha256", "275a021b");
	wire_pack_kv_u64(&pk, "campaign_id", 42);
	ev = event_of("scan.match", &sb);
	ev.drill = true;
	assert_int_equal(alert_evaluate(&rules, &ev, out, 4), 1);
	assert_string_equal(out[0].dedupe_key,
			    "yara-match|79001-abc|275a021b|drill:42");

	/* Kinds without a rule raise nothing. */
	ev = event_of("agent.heartbeat", &sb);
	assert_int_equal(alert_evaluate(&rules, &ev, out, 4), 0);
	msgpack_sbuffer_destroy(&sb);
	alert_rules_free(&rules);
}

static void test_bad_rules(void **state)
{
	(void)state;
	const char *dir = testutil_tempdir("alert");
	char path[600], err[512];
	struct alert_rules rules;
	snprintf(path, sizeof(path), "%s/alerts.yaml", dir);
	const char *cases[][2] = {
		{"rules:\n  - id: a\n    title: t\n    category: c\n    kind: av.staus\n"
		 "    severity: 5\n", "unknown event kind 'av.staus'"},
		{"rules:\n  - id: a\n    title: t\n    category: c\n    kind: av.status\n"
		 "    severity: 11\n", "key 'rules[0].severity': value 11 is out of range"},
		{"rules:\n  - id: a\n    title: t\n    category: c\n    kind: av.status\n"
		 "    severity: 5\n    test: le\n    field: x\n    value: many\n",
		 "'many' is not a number"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(cases[i][0], f);
		fclose(f);
		assert_int_equal(alert_rules_load(path, &rules, err, sizeof(err)),
				 -EINVAL);
		if (strstr(err, cases[i][1]) == NULL)
			fail_msg("got '%s', want '%s'", err, cases[i][1]);
	}
	testutil_rmtree(dir);
}

/* An alert with every character a SIEM parser can trip on. */
static void tricky_alert(struct store_alert *a)
{
	memset(a, 0, sizeof(*a));
	a->id = 42;
	snprintf(a->rule, sizeof(a->rule), "yara-match");
	snprintf(a->title, sizeof(a->title), "Mã độc | test = \\ \"x\"\nline2");
	snprintf(a->category, sizeof(a->category), "malware");
	snprintf(a->kind, sizeof(a->kind), "scan.match");
	snprintf(a->agent, sizeof(a->agent), "79001-abc");
	snprintf(a->school, sizeof(a->school), "79001");
	snprintf(a->hostname, sizeof(a->hostname), "PC-Lớp-7");
	snprintf(a->commune, sizeof(a->commune), "Xã An");
	snprintf(a->state, sizeof(a->state), "open");
	snprintf(a->evidence, sizeof(a->evidence), "{\"k\":\"a=b|c\"}");
	snprintf(a->file_path, sizeof(a->file_path), "C:\\Users\\hs\\x.exe");
	snprintf(a->file_hash, sizeof(a->file_hash), "ab12");
	a->severity = 9;
	a->drill = true;
	a->count = 3;
	a->first_us = 1764400000123456LL;
	a->last_us = 1764400060000000LL;
}

static void test_syslog_format(void **state)
{
	(void)state;
	struct store_alert a;
	struct cef_buf b = {0};
	tricky_alert(&a);
	forward_format_syslog(&a, "collector", SYSLOG_NEWLINE, &b);
	assert_false(b.failed);
	/* One line: the title's line break is escaped in the extension and
	 * made a space in the header. */
	assert_int_equal(strchr(b.data, '\n') - b.data, (long)b.len - 1);
	assert_non_null(strstr(b.data, "<105>1 2025-11-29T07:06:40.123456Z "
					 "collector eduwatch - scan.match - CEF:0|"));
	assert_non_null(strstr(b.data, "|scan.match|Mã độc \\| test = \\\\ "
					 "\"x\" line2|9|"));
	assert_non_null(strstr(b.data, " msg=Mã độc | test \\= \\\\ \"x\"\\nline2 "));
	assert_non_null(strstr(b.data, "rt=1764400000123 externalId=eduwatch-42 "));
	assert_non_null(strstr(b.data, " fname=x.exe filePath=C:\\\\Users\\\\hs\\\\x.exe "
					 "fileHash=ab12 "));
	assert_non_null(strstr(b.data, " shost=PC-Lớp-7 "));
	assert_non_null(strstr(b.data, " cs2Label=commune cs2=Xã An "));
	assert_non_null(strstr(b.data, " cs5Label=evidence cs5={\"k\":\"a\\=b|c\"} "));
	assert_non_null(strstr(b.data, " cs6Label=drill cs6=true cnt=3\n"));
	cef_buf_release(&b);
}

static void test_json_formats(void **state)
{
	(void)state;
	struct store_alert a;
	struct cef_buf b = {0};
	tricky_alert(&a);
	forward_format_json(&a, false, &b);
	assert_false(b.failed);
	assert_non_null(strstr(b.data, "\"@timestamp\":\"2025-11-29T07:06:40.123Z\""));
	assert_non_null(strstr(b.data, "\"event\":{\"kind\":\"alert\",\"id\":"
					 "\"eduwatch-42\",\"category\":[\"malware\"],"
					 "\"severity\":9,"));
	assert_non_null(strstr(b.data, "\"message\":\"Mã độc | test = \\\\ "
					 "\\\"x\\\"\\u000aline2\""));
	assert_non_null(strstr(b.data, "\"file\":{\"path\":\"C:\\\\Users\\\\hs\\\\x.exe\","
					 "\"name\":\"x.exe\",\"hash\":{\"sha256\":\"ab12\"}}"));
	assert_non_null(strstr(b.data, "\"tags\":[\"drill\"]"));
	assert_non_null(strstr(b.data, "\"evidence\":{\"k\":\"a=b|c\"}}}"));
	cef_buf_release(&b);

	forward_format_json(&a, true, &b);
	assert_non_null(strstr(b.data, "{\"class_uid\":2004,\"category_uid\":2,"
					 "\"activity_id\":1,\"type_uid\":200401,"
					 "\"severity_id\":5,\"time\":1764400000123,"));
	assert_non_null(strstr(b.data, "\"finding_info\":{\"uid\":\"eduwatch-42\""));
	assert_non_null(strstr(b.data, "\"status\":\"New\""));
	assert_non_null(strstr(b.data, "\"device\":{\"hostname\":\"PC-Lớp-7\""));
	assert_non_null(strstr(b.data, "\"drill\":true"));
	cef_buf_release(&b);

	/* A compliance drop is a Compliance Finding. */
	snprintf(a.kind, sizeof(a.kind), "compliance.drop");
	forward_format_json(&a, true, &b);
	assert_non_null(strstr(b.data, "{\"class_uid\":2003,"));
	assert_non_null(strstr(b.data, "\"type_uid\":200301"));
	assert_non_null(strstr(b.data, "\"compliance\":{"));
	cef_buf_release(&b);
}

static void assert_json(const struct cef_buf *b)
{
	size_t where = 0;
	assert_false(b->failed);
	if (!jsoncheck_valid(b->data, b->len, &where))
		fail_msg("invalid JSON at byte %zu: %s", where, b->data);
}

static void scan_match(msgpack_sbuffer *sb, const char *path, size_t len)
{
	msgpack_packer pk;
	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	wire_pack_kv_str(&pk, "rule", "EW_EICAR_Test_File");
	msgpack_pack_str_with_body(&pk, "path", 4);
	msgpack_pack_str_with_body(&pk, path, len);
	wire_pack_kv_str(&pk, "sha256", "ab12");
}

/* Finding: a file named with bytes that are not UTF-8 gave evidence and
 * SOC JSON a strict SIEM refuses. */
static void test_invalid_utf8_alert(void **state)
{
	(void)state;
	struct alert_rules rules;
	char err[512];
	assert_int_equal(alert_rules_load("rules/alerts.yaml", &rules, err,
					  sizeof(err)), 0);
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	static const char path[] = "/home/hs/\xff\xfe\xc0\xaf|a=b.exe";
	scan_match(&sb, path, sizeof(path) - 1);
	struct event ev = event_of("scan.match", &sb);
	struct store_alert out[4];
	assert_int_equal(alert_evaluate(&rules, &ev, out, 4), 1);
	assert_true(jsoncheck_valid(out[0].evidence, strlen(out[0].evidence),
				    NULL));
	/* The raw bytes survive, base64 of the path. */
	assert_non_null(strstr(out[0].evidence, "\"path_b64\":\"L2hvbWUvaHMv//7Ar3xhPWIuZXhl\""));
	assert_non_null(strstr(out[0].evidence, "\\ufffd\\ufffd\\ufffd\\ufffd|a=b.exe"));
	/* The columns a database keeps as text are valid UTF-8 too: the
	 * path with U+FFFD for each bad byte, the dedupe key likewise
	 * (PostgreSQL refused the whole batch for one stray byte). */
	assert_string_equal(out[0].file_path, "/home/hs/\xef\xbf\xbd\xef\xbf\xbd"
			    "\xef\xbf\xbd\xef\xbf\xbd|a=b.exe");
	assert_true(jsoncheck_utf8(out[0].dedupe_key, strlen(out[0].dedupe_key)));
	static const char hash[] = "ab\xc0\xaf";
	msgpack_sbuffer_clear(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	wire_pack_kv_str(&pk, "path", "/x");
	wire_pack_kv_str(&pk, "sha256", hash);
	ev = event_of("scan.match", &sb);
	assert_int_equal(alert_evaluate(&rules, &ev, out, 4), 1);
	assert_string_equal(out[0].dedupe_key, "yara-match|79001-abc|ab"
			    "\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(out[0].file_hash, "ab\xef\xbf\xbd\xef\xbf\xbd");
	scan_match(&sb, path, sizeof(path) - 1);
	ev = event_of("scan.match", &sb);
	assert_int_equal(alert_evaluate(&rules, &ev, out, 4), 1);

	struct cef_buf b = {0};
	forward_format_json(&out[0], false, &b);
	assert_json(&b);
	/* The name is from the repaired path: U+FFFD as UTF-8 itself. */
	assert_non_null(strstr(b.data, "\"name\":\"\xef\xbf\xbd\xef\xbf\xbd"
				       "\xef\xbf\xbd\xef\xbf\xbd|a=b.exe\""));
	cef_buf_release(&b);
	forward_format_json(&out[0], true, &b);
	assert_json(&b);
	cef_buf_release(&b);
	forward_format_syslog(&out[0], "collector", SYSLOG_OCTET_COUNTING, &b);
	assert_true(jsoncheck_utf8(b.data, b.len));
	assert_non_null(strstr(b.data, " fname=\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
					 "\xef\xbf\xbd|a\\=b.exe "));
	cef_buf_release(&b);

	/* Evidence stored by an older version, raw bytes and all. */
	snprintf(out[0].evidence, sizeof(out[0].evidence),
		 "{\"path\":\"\xff\xfe\"}");
	snprintf(out[0].title, sizeof(out[0].title), "t\xed\xa0\x80");
	forward_format_json(&out[0], false, &b);
	assert_json(&b);
	cef_buf_release(&b);
	forward_format_json(&out[0], true, &b);
	assert_json(&b);
	cef_buf_release(&b);
	msgpack_sbuffer_destroy(&sb);
	alert_rules_free(&rules);
}

/* Finding: a path of 512 bytes or more dropped filePath and fname, and
 * large evidence became a note. */
static void test_long_fields(void **state)
{
	(void)state;
	struct alert_rules rules;
	char err[512], path[700];
	size_t n = (size_t)snprintf(path, sizeof(path), "C:\\Users\\hs");
	while (n < 600)
		n += (size_t)snprintf(path + n, sizeof(path) - n, "\\deep");
	n += (size_t)snprintf(path + n, sizeof(path) - n, "\\virus.exe");
	assert_int_equal(alert_rules_load("rules/alerts.yaml", &rules, err,
					  sizeof(err)), 0);
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	scan_match(&sb, path, n);
	struct event ev = event_of("scan.match", &sb);
	struct store_alert out[4];
	assert_int_equal(alert_evaluate(&rules, &ev, out, 4), 1);
	assert_non_null(strstr(out[0].file_path, JSON_CUT_MARKER));
	assert_memory_equal(out[0].file_path, "C:\\Users\\hs\\deep", 16);
	assert_true(strlen(out[0].file_path) < sizeof(out[0].file_path));
	assert_string_equal(out[0].file_path + strlen(out[0].file_path) - 10,
			    "\\virus.exe");
	/* The evidence keeps the whole path: it fits. */
	assert_non_null(strstr(out[0].evidence, "\\\\virus.exe"));

	struct cef_buf b = {0};
	forward_format_syslog(&out[0], "collector", SYSLOG_NEWLINE, &b);
	assert_non_null(strstr(b.data, " fname=virus.exe filePath=C:\\\\Users\\\\hs\\\\deep"));
	assert_non_null(strstr(strstr(b.data, " filePath="), JSON_CUT_MARKER));
	cef_buf_release(&b);
	forward_format_json(&out[0], false, &b);
	assert_json(&b);
	assert_non_null(strstr(b.data, "\"name\":\"virus.exe\""));
	assert_non_null(strstr(b.data, "\"path\":\"C:\\\\Users"));
	cef_buf_release(&b);
	forward_format_json(&out[0], true, &b);
	assert_json(&b);
	assert_non_null(strstr(b.data, "\"evidences\":[{\"file\":{\"name\":\"virus.exe\","));
	cef_buf_release(&b);

	/* Evidence larger than its column: strings cut, never a note. */
	char big[6000];
	memset(big, 'y', sizeof(big));
	memcpy(big + sizeof(big) - 8, "\\evil.js", 8);
	scan_match(&sb, big, sizeof(big));
	ev = event_of("scan.match", &sb);
	assert_int_equal(alert_evaluate(&rules, &ev, out, 4), 1);
	assert_null(strstr(out[0].evidence, "note"));
	assert_non_null(strstr(out[0].evidence, "yy" JSON_CUT_MARKER "yy"));
	assert_non_null(strstr(out[0].evidence, "\\\\evil.js\""));
	assert_true(jsoncheck_valid(out[0].evidence, strlen(out[0].evidence),
				    NULL));
	assert_string_equal(out[0].file_path + strlen(out[0].file_path) - 8,
			    "\\evil.js");
	msgpack_sbuffer_destroy(&sb);
	alert_rules_free(&rules);
}

/* The collector's own alert about a parked alert. */
static void test_dead_letter_rule(void **state)
{
	(void)state;
	struct alert_rules rules;
	char err[512];
	assert_int_equal(alert_rules_load("rules/alerts.yaml", &rules, err,
					  sizeof(err)), 0);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	wire_pack_kv_str(&pk, "destination", "soc-https");
	wire_pack_kv_u64(&pk, "status", 400);
	struct event ev = event_of(ALERT_KIND_DEAD_LETTER, &sb);
	struct store_alert out[4];
	assert_int_equal(alert_evaluate(&rules, &ev, out, 4), 1);
	assert_string_equal(out[0].rule, "soc-dead-letter");
	assert_string_equal(out[0].dedupe_key, "soc-dead-letter|79001-abc|soc-https");
	msgpack_sbuffer_destroy(&sb);
	alert_rules_free(&rules);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_rules),
		cmocka_unit_test(test_bad_rules),
		cmocka_unit_test(test_syslog_format),
		cmocka_unit_test(test_json_formats),
		cmocka_unit_test(test_invalid_utf8_alert),
		cmocka_unit_test(test_long_fields),
		cmocka_unit_test(test_dead_letter_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
