/* Unit tests for agent/core/settings: each source owns its keys.
 *
 * The synthetic source is the example of issue 13's promise: its keys
 * (testing.*) are declared in synthetic_settings.c, reached only through
 * the source table (sources.h), and agent.yaml reads them with the core's,
 * from one file, with the same errors (file, line, key). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/core/settings.h"
#include "agent/core/source.h"
#include "agent/core/sources.h"
#include "agent/core/synthetic_settings.h"

static char path[64];

static void write_yaml(const char *text)
{
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(path, sizeof(path), "/tmp/ew-settings-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static bool owns(const struct source_config *c, const char *key)
{
	for (size_t i = 0; i < c->nfields; i++)
		if (strcmp(c->fields[i].key, key) == 0)
			return true;
	return false;
}

static void test_synthetic_owns_its_keys(void **state)
{
	(void)state;
	assert_true(owns(&synthetic_config, "testing.synthetic_rate"));
	assert_true(owns(&synthetic_config, "testing.synthetic_log"));
	assert_int_equal(synthetic_config.size, sizeof(struct synthetic_settings));
	/* Its line in the source table is how the loader finds it. */
	bool listed = false;
	for (size_t i = 0; i < agent_nsources; i++)
		listed |= agent_source_configs[i] == &synthetic_config &&
			  agent_sources[i] == &source_synthetic;
	assert_true(listed);
}

static void test_yaml_loads_a_sources_settings(void **state)
{
	(void)state;
	static struct agent_settings s;
	char err[512] = "";
	write_yaml("state_dir: /var/lib/x\n"
		   "collector:\n  host: c.example\n"
		   "testing:\n  synthetic_rate: 250\n"
		   "  synthetic_log: /tmp/emitted.log\n");
	assert_int_equal(agent_settings_load(path, &s, err, sizeof(err)), 0);
	const struct synthetic_settings *sy =
		agent_settings_for(&s, &synthetic_config);
	assert_non_null(sy);
	assert_int_equal(sy->rate, 250);
	assert_string_equal(sy->log, "/tmp/emitted.log");
	/* The core's keys beside them are read as before. */
	assert_string_equal(s.collector_host, "c.example");
	assert_int_equal(s.collector_port, 7443);
	/* A copy of the settings carries its sources' settings with it. */
	static struct agent_settings copy;
	copy = s;
	sy = agent_settings_for(&copy, &synthetic_config);
	assert_int_equal(sy->rate, 250);
	assert_string_equal(sy->log, "/tmp/emitted.log");
}

static void test_defaults_come_from_the_source(void **state)
{
	(void)state;
	static struct agent_settings s;
	char err[512] = "";
	write_yaml("collector:\n  host: c.example\n");
	assert_int_equal(agent_settings_load(path, &s, err, sizeof(err)), 0);
	const struct synthetic_settings *sy =
		agent_settings_for(&s, &synthetic_config);
	assert_int_equal(sy->rate, 0);
	assert_string_equal(sy->log, "");
}

static void expect_error(const char *yaml, const char *want)
{
	static struct agent_settings s;
	char err[512] = "";
	write_yaml(yaml);
	assert_int_equal(agent_settings_load(path, &s, err, sizeof(err)),
			 -EINVAL);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' does not hold '%s'", err, want);
}

static void test_errors_name_the_key(void **state)
{
	(void)state;
	/* An unknown key beside a source's own is refused by name. */
	expect_error("collector:\n  host: c\ntesting:\n  synthetic_rat: 5\n",
		     ":4: key 'testing.synthetic_rat': unknown key");
	/* A source's range is its own table's. */
	expect_error("collector:\n  host: c\ntesting:\n  synthetic_rate: 99999\n",
		     ":4: key 'testing.synthetic_rate'");
	expect_error("collector:\n  host: c\ntesting:\n  synthetic_rate: fast\n",
		     "key 'testing.synthetic_rate'");
	/* A whole section nobody owns. */
	expect_error("collector:\n  host: c\ntestin:\n  synthetic_rate: 5\n",
		     "key 'testin': unknown section");
	/* Across two sources: a ransomware-sim drill whose documents are
	 * new files to the detector could never be caught. */
	expect_error("collector:\n  host: c\ndrill:\n  sim_dwell: 10s\n",
		     "drill.sim_dwell (10s) must be longer than ransom.window "
		     "(10s)");
	expect_error("collector:\n  host: c\nransom:\n  window: 30s\n",
		     "drill.sim_dwell (15s) must be longer");
}

static void test_no_source_no_settings(void **state)
{
	(void)state;
	static struct agent_settings s;
	static const struct source_config stranger = {0};
	char err[512] = "";
	write_yaml("collector:\n  host: c.example\n");
	assert_int_equal(agent_settings_load(path, &s, err, sizeof(err)), 0);
	assert_null(agent_settings_for(&s, &stranger));
}

/* A helper that loads agent.yaml itself gets the agent's -o overrides:
 * without them the backup helper ran without a backup.repo given by -o. */
static void test_helper_gets_the_overrides(void **state)
{
	(void)state;
	char *sets[] = {"backup.repo=/mnt/usb", "heartbeat.interval=1s"};
	const char *extra[] = {"backup", "escrow"};
	const char *args[AGENT_HELPER_ARGS_MAX];
	agent_settings_set_overrides(sets, 2);
	assert_int_equal(agent_settings_helper_argv(args, AGENT_HELPER_ARGS_MAX,
						    "_backup", "/etc/a.yaml",
						    extra, 2),
			 0);
	const char *want[] = {"_backup", "-c", "/etc/a.yaml", "-o",
			      "backup.repo=/mnt/usb", "-o",
			      "heartbeat.interval=1s", "backup", "escrow"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_string_equal(args[i], want[i]);
	assert_null(args[9]);
	/* One slot short of role, -c, path, 2 x 2, 2 extras and the NULL:
	 * refused, never cut short. */
	assert_int_equal(agent_settings_helper_argv(args, 9, "_backup",
						    "/etc/a.yaml", extra, 2),
			 -E2BIG);
	assert_int_equal(agent_settings_helper_argv(args, 10, "_backup",
						    "/etc/a.yaml", extra, 2),
			 0);
	agent_settings_set_overrides(NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_synthetic_owns_its_keys),
		cmocka_unit_test(test_yaml_loads_a_sources_settings),
		cmocka_unit_test(test_defaults_come_from_the_source),
		cmocka_unit_test(test_errors_name_the_key),
		cmocka_unit_test(test_no_source_no_settings),
		cmocka_unit_test(test_helper_gets_the_overrides),
	};
	return cmocka_run_group_tests_name("agent_settings", tests, setup,
					   teardown);
}
