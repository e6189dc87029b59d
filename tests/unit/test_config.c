/* Unit tests for common/config: schema loading and error messages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/log.h"

struct sample {
	char listen[64];
	long long port;
	bool tls_required;
	long long backoff_max;
	long long spool_max;
	struct config_list exclude;
	char token[32];
	enum log_level level;
};

static const struct config_field fields[] = {
	{"listen", CONFIG_STRING, offsetof(struct sample, listen), 64,
	 "0.0.0.0", 0, 0, NULL, 0},
	{"ingest.port", CONFIG_INT, offsetof(struct sample, port), 0, "7443", 1,
	 65535, NULL, 0},
	{"ingest.tls_required", CONFIG_BOOL,
	 offsetof(struct sample, tls_required), 0, "true", 0, 0, NULL, 0},
	{"uplink.backoff_max", CONFIG_DURATION,
	 offsetof(struct sample, backoff_max), 0, "5m", 1, 86400, NULL, 0},
	{"spool.max_size", CONFIG_SIZE, offsetof(struct sample, spool_max), 0,
	 "256MiB", 1 << 20, 1LL << 40, NULL, 0},
	{"scan.exclude", CONFIG_LIST, offsetof(struct sample, exclude), 0, NULL,
	 0, 0, NULL, 0},
	{"enroll.token", CONFIG_STRING, offsetof(struct sample, token), 32,
	 NULL, 0, 0, NULL, 0},
	{"log.level", CONFIG_LOG_LEVEL, offsetof(struct sample, level), 0,
	 "info", 0, 0, NULL, 0},
};

static int load(const char *text, struct sample *s, char *err, size_t len)
{
	memset(s, 0, sizeof(*s));
	return config_load_string("agent.yaml", text, strlen(text), fields,
				  CONFIG_FIELD_COUNT(fields), s, err, len);
}

static void test_defaults_and_values(void **state)
{
	(void)state;
	struct sample s;
	char err[256] = "";
	const char *text = "enroll:\n"
			   "  token: abc\n"
			   "uplink:\n"
			   "  backoff_max: 2h\n"
			   "scan:\n"
			   "  exclude:\n"
			   "    - /proc\n"
			   "    - \"/home/*/.cache\"\n";
	assert_int_equal(load(text, &s, err, sizeof(err)), 0);
	assert_string_equal(s.listen, "0.0.0.0");
	assert_int_equal(s.port, 7443);
	assert_true(s.tls_required);
	assert_int_equal(s.backoff_max, 7200);
	assert_int_equal(s.spool_max, 256LL << 20);
	assert_int_equal(s.exclude.count, 2);
	assert_string_equal(s.exclude.items[1], "/home/*/.cache");
	assert_string_equal(s.token, "abc");
	assert_int_equal(s.level, LOG_LEVEL_INFO);
	config_free(fields, CONFIG_FIELD_COUNT(fields), &s);
}

static void expect_error(const char *text, const char *needle)
{
	struct sample s;
	char err[256] = "";
	assert_int_equal(load(text, &s, err, sizeof(err)), -EINVAL);
	if (strstr(err, needle) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, needle);
	config_free(fields, CONFIG_FIELD_COUNT(fields), &s);
}

static void test_errors_name_file_line_key(void **state)
{
	(void)state;
	expect_error("enroll:\n  token: a\ningest:\n  prot: 1\n",
		     "agent.yaml:4: key 'ingest.prot': unknown key");
	expect_error("enroll:\n  token: a\ningest:\n  port: http\n",
		     "agent.yaml:4: key 'ingest.port': expected an integer");
	expect_error("enroll:\n  token: a\ningest:\n  port: 70000\n",
		     "out of range 1..65535");
	expect_error("enroll:\n  token: a\nuplink:\n  backoff_max: soon\n",
		     "agent.yaml:4: key 'uplink.backoff_max': expected a "
		     "duration");
	expect_error("enroll:\n  token: a\nspool:\n  max_size: 12XB\n",
		     "key 'spool.max_size': expected a size");
	expect_error("enroll:\n  token: a\ningest:\n  tls_required: maybe\n",
		     "expected true or false");
	expect_error("listen: x\n", "key 'enroll.token': required but missing");
	expect_error("enroll:\n  token: [a, b]\n", "got a list");
	expect_error("enroll:\n  token: a\nscan: 3\n", "unknown key");
	expect_error("bogus:\n  x: 1\n", "key 'bogus': unknown section");
	expect_error("- a\n- b\n", "top level must be a mapping");
	expect_error("enroll:\n  token: a\nlog:\n  level: loud\n",
		     "agent.yaml:4: key 'log.level': expected error, warn, info "
		     "or debug, got 'loud'");
}

static void test_syntax_error_has_line(void **state)
{
	(void)state;
	expect_error("enroll:\n  token: a\n  bad: [unclosed\n",
		     "agent.yaml:4: YAML syntax error: did not find expected");
	expect_error("enroll:\n  token: a\n  token: b\n",
		     "agent.yaml:3: key 'enroll.token': duplicate key");
	expect_error("enroll:\n  token: a\n---\nlisten: b\n",
		     "agent.yaml:3: only one YAML document");
}

static void test_aliases_refused(void **state)
{
	(void)state;
	/* Found by fuzz_config against libfyaml, which hung on it. */
	expect_error("%\xff\n", "agent.yaml:1: the file is not valid UTF-8");
	expect_error("listen: \x01\n", "control byte 0x01");
	expect_error("listen: \xc3\n", "not valid UTF-8");
	expect_error("listen: \"Tr\xc6\xb0\xe1\xbb\x9dng\"\nenroll:\n  token: a\n"
		     "bad: 1\n", "agent.yaml:4: key 'bad'");
	expect_error("listen: &x 1.2.3.4\nenroll:\n  token: *x\n",
		     "agent.yaml:1: YAML anchors and aliases are not allowed");
}

static void test_unit_parsers(void **state)
{
	(void)state;
	long long v;
	assert_int_equal(config_parse_duration("90", &v), 0);
	assert_int_equal(v, 90);
	assert_int_equal(config_parse_duration("7d", &v), 0);
	assert_int_equal(v, 604800);
	assert_int_not_equal(config_parse_duration("-5s", &v), 0);
	assert_int_not_equal(config_parse_duration("5 s", &v), 0);
	assert_int_not_equal(config_parse_duration("99999999999999999999w", &v),
			     0);
	assert_int_equal(config_parse_size("64KiB", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_not_equal(config_parse_size("", &v), 0);
}

static void test_missing_file(void **state)
{
	(void)state;
	struct sample s;
	char err[256];
	assert_int_equal(config_load_file("/nonexistent/agent.yaml", fields,
					  CONFIG_FIELD_COUNT(fields), &s, err,
					  sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "/nonexistent/agent.yaml: cannot open"));
	config_free(fields, CONFIG_FIELD_COUNT(fields), &s);
}

/* A table: a list of mappings, each loaded by its own schema. */
struct check {
	char id[32];
	long long weight;
	bool on;
	struct config_list tags;
};

struct policy {
	long long level;
	struct config_table checks;
};

static const struct config_field check_fields[] = {
	{"id", CONFIG_STRING, offsetof(struct check, id), 32, NULL, 0, 0, NULL,
	 0},
	{"weight", CONFIG_INT, offsetof(struct check, weight), 0, "1", 1, 10,
	 NULL, 0},
	{"on", CONFIG_BOOL, offsetof(struct check, on), 0, "true", 0, 0, NULL,
	 0},
	{"tags", CONFIG_LIST, offsetof(struct check, tags), 0, NULL, 0, 0, NULL,
	 0},
};

static const struct config_field policy_fields[] = {
	{"level", CONFIG_INT, offsetof(struct policy, level), 0, NULL, 1, 3,
	 NULL, 0},
	{"checks", CONFIG_TABLE, offsetof(struct policy, checks),
	 sizeof(struct check), NULL, 0, 3, check_fields,
	 CONFIG_FIELD_COUNT(check_fields)},
};

static int load_policy(const char *text, struct policy *p, char *err,
		       size_t len)
{
	memset(p, 0, sizeof(*p));
	int rc = config_load_string("level2.yaml", text, strlen(text),
				    policy_fields,
				    CONFIG_FIELD_COUNT(policy_fields), p, err,
				    len);
	if (rc != 0)
		config_free(policy_fields, CONFIG_FIELD_COUNT(policy_fields), p);
	return rc;
}

static void test_table(void **state)
{
	(void)state;
	struct policy p;
	char err[256] = "";
	const char *text = "level: 2\n"
			   "checks:\n"
			   "  - id: av.realtime\n"
			   "    weight: 3\n"
			   "    tags: [av, realtime]\n"
			   "  - id: backup.rpo\n"
			   "    on: no\n";
	assert_int_equal(load_policy(text, &p, err, sizeof(err)), 0);
	assert_int_equal(p.level, 2);
	assert_int_equal(p.checks.count, 2);
	struct check *c = p.checks.items;
	assert_string_equal(c[0].id, "av.realtime");
	assert_int_equal(c[0].weight, 3);
	assert_true(c[0].on);
	assert_int_equal(c[0].tags.count, 2);
	assert_string_equal(c[1].id, "backup.rpo");
	assert_int_equal(c[1].weight, 1); /* the item's default */
	assert_false(c[1].on);
	config_free(policy_fields, CONFIG_FIELD_COUNT(policy_fields), &p);

	const char *bad[][2] = {
		{"level: 2\nchecks:\n  - id: a\n  - id: b\n    weight: 11\n",
		 "level2.yaml:5: key 'checks[1].weight': value 11 is out of range"},
		{"level: 2\nchecks:\n  - id: a\n    colour: red\n",
		 "level2.yaml:4: key 'checks[0].colour': unknown key"},
		{"level: 2\nchecks:\n  - weight: 2\n",
		 "key 'checks[0].id': required but missing"},
		{"level: 2\nchecks:\n  - just a string\n",
		 "level2.yaml:3: key 'checks[0]': expected a mapping"},
		{"level: 2\nchecks:\n  - id: a\n  - id: b\n  - id: c\n  - id: d\n",
		 "key 'checks': more than 3 items"},
		{"level: 2\nchecks: 5\n", "key 'checks': expected a list"},
		{"level: 2\nchecks:\n  - id: a\n    id: b\n",
		 "key 'checks[0].id': duplicate key"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(load_policy(bad[i][0], &p, err, sizeof(err)),
				 -EINVAL);
		if (strstr(err, bad[i][1]) == NULL)
			fail_msg("got '%s', want '%s'", err, bad[i][1]);
	}
	/* An empty value is an empty table. */
	assert_int_equal(load_policy("level: 1\nchecks:\n", &p, err, sizeof(err)),
			 0);
	assert_int_equal(p.checks.count, 0);
	config_free(policy_fields, CONFIG_FIELD_COUNT(policy_fields), &p);
}

/* -o KEY=VALUE over a loaded file: the same parsers and checks. */
static void test_override(void **state)
{
	(void)state;
	struct sample s;
	char err[256] = "";
	assert_int_equal(load("enroll:\n  token: abc\nscan:\n  exclude: [/a]\n",
			      &s, err, sizeof(err)), 0);
	const char *sets[] = {"ingest.port=0", "uplink.backoff_max=2s",
			      "ingest.tls_required=false", "log.level=debug",
			      "spool.max_size=2MiB", "scan.exclude=/x,/y/z",
			      "listen=", "ingest.port=9000"};
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		assert_int_equal(config_override(sets[i], fields,
						 CONFIG_FIELD_COUNT(fields), &s,
						 err, sizeof(err)),
				 -EINVAL * (i == 0));
	/* ingest.port's range is 1..65535 here: 0 refused, 9000 later set. */
	assert_string_equal(err, "-o ingest.port=0: key 'ingest.port': value "
				 "0 is out of range 1..65535");
	assert_int_equal(s.port, 9000);
	assert_int_equal(s.backoff_max, 2);
	assert_false(s.tls_required);
	assert_int_equal(s.level, LOG_LEVEL_DEBUG);
	assert_int_equal(s.spool_max, 2 << 20);
	assert_int_equal(s.exclude.count, 2);
	assert_string_equal(s.exclude.items[0], "/x");
	assert_string_equal(s.exclude.items[1], "/y/z");
	assert_string_equal(s.listen, "");
	config_free(fields, CONFIG_FIELD_COUNT(fields), &s);
}

static void expect_refused(struct sample *s, const char *set, const char *msg)
{
	char err[256] = "";
	assert_int_equal(config_override(set, fields, CONFIG_FIELD_COUNT(fields),
					 s, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, msg);
}

static void test_override_refusals(void **state)
{
	(void)state;
	struct sample s;
	char err[256] = "";
	assert_int_equal(load("enroll:\n  token: abc\n", &s, err, sizeof(err)), 0);
	expect_refused(&s, "ingest.nope=1",
		       "-o ingest.nope=1: key 'ingest.nope': unknown key");
	expect_refused(&s, "ingest=1", "-o ingest=1: key 'ingest': unknown key");
	expect_refused(&s, "ingest.port", "-o ingest.port: expected KEY=VALUE, "
					  "such as ingest.port=0");
	expect_refused(&s, "=1", "-o =1: expected KEY=VALUE, such as "
				 "ingest.port=0");
	expect_refused(&s, "ingest.port=12ab", "-o ingest.port=12ab: key "
		       "'ingest.port': expected an integer, got '12ab'");
	expect_refused(&s, "uplink.backoff_max=soon", "-o uplink.backoff_max=soon: "
		       "key 'uplink.backoff_max': expected a duration like 30s, "
		       "5m, 2h or 7d, got 'soon'");
	expect_refused(&s, "scan.exclude=/a,,/b", "-o scan.exclude=/a,,/b: key "
		       "'scan.exclude': an empty list item");
	expect_refused(&s, "enroll.token=0123456789012345678901234567890123",
		       "-o enroll.token=0123456789012345678901234567890123: key "
		       "'enroll.token': value is 34 bytes, at most 31 allowed");
	/* Nothing refused changed the loaded values. */
	assert_int_equal(s.port, 7443);
	assert_int_equal(s.backoff_max, 300);
	config_free(fields, CONFIG_FIELD_COUNT(fields), &s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_values),
		cmocka_unit_test(test_errors_name_file_line_key),
		cmocka_unit_test(test_syntax_error_has_line),
		cmocka_unit_test(test_aliases_refused),
		cmocka_unit_test(test_unit_parsers),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_override),
		cmocka_unit_test(test_override_refusals),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
