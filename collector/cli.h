/* cli: the collector's command line, as smtpctl splits its own.
 *
 * main.c parses the options once and holds the command table: for each
 * command (and its second word), the options it takes, what it needs
 * opened (settings, store, policies, CA key) and two functions. check()
 * rejects a bad command line before anything is opened; run() does the
 * work with what main.c opened, and main.c closes it after, in one place.
 * Each cli_*.c file holds one area's commands. */
#ifndef EDUWATCH_CLI_H
#define EDUWATCH_CLI_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "collector/ca.h"
#include "collector/policy.h"
#include "collector/settings.h"
#include "collector/store.h"

/* Exit codes, documented in --help. */
enum {
	EXIT_OK = 0,
	EXIT_FAILURE_RUNTIME = 1,
	EXIT_USAGE = 2,
	EXIT_CONFIG = 3,
	EXIT_NOT_FOUND = 4,
};

/* One bit per option; a command lists the ones it takes. */
enum {
	CLI_OPT_CONFIG = 1u << 0,
	CLI_OPT_DIR = 1u << 1,
	CLI_OPT_NAME = 1u << 2,
	CLI_OPT_COMMUNE = 1u << 3,
	CLI_OPT_LEVEL = 1u << 4,
	CLI_OPT_EXPECTED = 1u << 5,
	CLI_OPT_SCHOOL = 1u << 6,
	CLI_OPT_USES = 1u << 7,
	CLI_OPT_LIMIT = 1u << 8,
	CLI_OPT_EXPIRES = 1u << 9,
	CLI_OPT_AGENT = 1u << 10,
	CLI_OPT_TYPE = 1u << 11,
	CLI_OPT_BOOT = 1u << 12,
	CLI_OPT_JSON = 1u << 13,
	CLI_OPT_RULES = 1u << 14,
	CLI_OPT_STATE = 1u << 15,
	CLI_OPT_BY = 1u << 16,
	CLI_OPT_SNAPSHOT = 1u << 17,
	CLI_OPT_PROVINCE = 1u << 18,
	CLI_OPT_KIND = 1u << 19,
	CLI_OPT_OUT = 1u << 20,
	CLI_OPT_PATH = 1u << 21,
	CLI_OPT_SET = 1u << 22,
	CLI_OPT_PERIOD = 1u << 23,
	CLI_OPT_SCOPE = 1u << 24,
	CLI_OPT_FORMAT = 1u << 25,
	CLI_OPT_OVERRIDE = 1u << 26, /* -o KEY=VALUE over collector.yaml */
	CLI_OPT_SCHOOLS = 1u << 27,  /* setup --schools FILE.csv */
	CLI_OPT_ADMIN = 1u << 28,    /* setup --admin NAME */
	CLI_OPT_NONINTERACTIVE = 1u << 29,
	CLI_OPT_CHANNEL = 1u << 30,  /* agent-release publish --channel */
	CLI_OPT_ROLLBACK = 1u << 31, /* agent-release publish --rollback */
};
/* Past 32 bits: an enum constant must fit an int. */
#define CLI_OPT_FROM (1ull << 32) /* store migrate --from sqlite:PATH */
#define CLI_OPT_TO (1ull << 33)   /* store migrate --to postgresql://... */
#define CLI_OPT_BATCH (1ull << 34) /* store migrate --batch N */
#define CLI_OPT_ALL (~0ull)

/* What a command needs before it runs. A store implies the settings. */
enum {
	CLI_NEEDS_SETTINGS = 1u << 0,
	CLI_NEEDS_STORE = 1u << 1,
	CLI_NEEDS_POLICY = 1u << 2,
	CLI_NEEDS_CA = 1u << 3,
};

/* The parsed command line. */
#define CLI_SETS_MAX 32

struct cli {
	const char *config;
	const char *dir;
	const char *names[16];
	size_t nnames;
	const char *commune;
	const char *school;
	const char *agent;
	const char *expires;
	bool expires_set;
	const char *type;
	long level;
	long expected;
	long uses;
	long limit; /* 0: the command's default */
	unsigned long long boot;
	bool json;
	const char *rules;
	const char *state;
	const char *by;
	bool snapshot;
	bool province;
	const char *kind;
	const char *out;
	const char *paths[16];
	size_t npaths;
	const char *sets[32]; /* --set COLUMN=VALUE */
	size_t nsets;
	const char *period;
	const char *scope;
	const char *format;
	const char *schools_csv; /* setup --schools */
	const char *admin;	 /* setup --admin */
	bool non_interactive;
	const char *channel; /* agent-release publish */
	bool rollback;
	char *overrides[CLI_SETS_MAX]; /* -o KEY=VALUE, in order */
	size_t noverrides;
	const char *from; /* store migrate */
	const char *to;
	long batch;
	unsigned long long seen; /* CLI_OPT_* given */
	int argc;      /* positional arguments left, the command first */
	char **argv;
};

/* What main.c opened for a command, per its needs. */
struct cli_env {
	struct settings settings;
	struct store *store;
	struct policy_set policies;
	struct ca *ca;
};

struct cli_command {
	const char *name;
	const char *sub; /* the second word; NULL: any other (or none) */
	int (*check)(const struct cli *cli); /* NULL: nothing to check */
	int (*run)(struct cli *cli, struct cli_env *env);
	unsigned needs;	  /* CLI_NEEDS_* */
	unsigned long long options; /* CLI_OPT_* it takes */
};

/* ---- shared helpers (cli.c) ------------------------------------------- */

/* Prints "eduwatch-collector: <message>" and the --help hint; returns
 * EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* text as a long in lo..hi: 0, or -1. */
EW_MUST_CHECK
int cli_parse_long(const char *text, long lo, long hi, long *out);

/* Loads the settings and sets the log level from them. Returns 0 or
 * EXIT_CONFIG, having said why. */
EW_MUST_CHECK
int cli_load_settings(const char *config, struct settings *s);

/* Opens the store of loaded settings without a loop (the synchronous
 * API). Returns 0 or EXIT_FAILURE_RUNTIME, having said why. */
EW_MUST_CHECK
int cli_open_store(const struct settings *s, struct store **st);

/* A listing's state, for the store's row callbacks. */
struct cli_list {
	bool json;
	int count;
	int64_t stale_before_us; /* agents last seen before this are stale */
};

/* Room for a field of n bytes once escaped for the terminal (an escape
 * is at most 4 bytes per input byte). Every string that a PC or an
 * officer typed goes through textsafe before it reaches a terminal:
 * a host name must not be able to clear the screen or forge a line. */
#define SAFE_CAP(n) (4 * (n) + 1)
#define SAFE(buf, s) textsafe_str(buf, sizeof(buf), s)

/* ---- the commands, by area -------------------------------------------- */

/* cli_store.c: the store itself. */
int cmd_store_check(const struct cli *cli);
int cmd_store_migrate(struct cli *cli, struct cli_env *env);

/* cli_init.c: setting up and running. */
int cmd_init_check(const struct cli *cli);
int cmd_init(struct cli *cli, struct cli_env *env);
int cmd_serve(struct cli *cli, struct cli_env *env);
int cmd_version(struct cli *cli, struct cli_env *env);

/* cli_school.c: schools and enrollment tokens. */
int cmd_school_check(const struct cli *cli);
int cmd_school_add_check(const struct cli *cli);
int cmd_school_add(struct cli *cli, struct cli_env *env);
int cmd_school_list(struct cli *cli, struct cli_env *env);
int cmd_token_check(const struct cli *cli);
int cmd_token_create_check(const struct cli *cli);
int cmd_token_create(struct cli *cli, struct cli_env *env);
/* A new token for school (uses, valid for seconds) into token. Returns
 * EXIT_OK or an exit code, having said why. */
EW_MUST_CHECK
int cli_token_issue(struct cli_env *env, const char *school, long uses,
		    long long seconds, char token[64]);

/* cli_enroll_string.c: a token as one enrollment string. host NULL: the
 * server certificate's first name. Returns EXIT_OK or an exit code,
 * having said why. */
EW_MUST_CHECK
int cli_enroll_string_issue(struct cli_env *env, const char *host,
			    const char *school, long uses, long long seconds,
			    char *out, size_t cap);
int cmd_agent_enroll_string_check(const struct cli *cli);
int cmd_agent_enroll_string(struct cli *cli, struct cli_env *env);

/* cli_agent.c: agents, their events, commands and backup keys. */
int cmd_agent_check(const struct cli *cli);
int cmd_agent_list(struct cli *cli, struct cli_env *env);
int cmd_agent_revoke_check(const struct cli *cli);
int cmd_agent_revoke(struct cli *cli, struct cli_env *env);
int cmd_events_check(const struct cli *cli);
int cmd_events_list(struct cli *cli, struct cli_env *env);
int cmd_events_count(struct cli *cli, struct cli_env *env);
int cmd_command_check(const struct cli *cli);
int cmd_command_send(struct cli *cli, struct cli_env *env);
int cmd_backup_key_check(const struct cli *cli);
int cmd_backup_key_recover(struct cli *cli, struct cli_env *env);

/* cli_rules.c: signed YARA bundles and IOC lists. */
int cmd_rules_check(const struct cli *cli);
int cmd_rules_list(struct cli *cli, struct cli_env *env);
int cmd_rules_publish(struct cli *cli, struct cli_env *env);
int cmd_ioc_check(const struct cli *cli);
int cmd_ioc_publish(struct cli *cli, struct cli_env *env);

/* cli_score.c: compliance scores and their history. */
int cmd_score_check(const struct cli *cli);
int cmd_score(struct cli *cli, struct cli_env *env);
int cmd_score_history_check(const struct cli *cli);
int cmd_score_history(struct cli *cli, struct cli_env *env);

/* cli_alerts.c: the officers' alerts. */
int cmd_alerts_check(const struct cli *cli);
int cmd_alerts_list(struct cli *cli, struct cli_env *env);
int cmd_alerts_set_check(const struct cli *cli);
int cmd_alerts_set(struct cli *cli, struct cli_env *env);

/* cli_forward.c: the SOC destinations. */
int cmd_forward_check(const struct cli *cli);
int cmd_forward_dead_letters(struct cli *cli, struct cli_env *env);

/* cli_user.c: the console's accounts. */
int cmd_user_check(const struct cli *cli);
int cmd_user_args_check(const struct cli *cli);
int cmd_user(struct cli *cli, struct cli_env *env);
/* cli_system.c: the register of information systems. */
int cmd_system_check(const struct cli *cli);
int cmd_system_add_check(const struct cli *cli);
int cmd_system_add(struct cli *cli, struct cli_env *env);
int cmd_system_set_check(const struct cli *cli);
int cmd_system_set(struct cli *cli, struct cli_env *env);
int cmd_system_list(struct cli *cli, struct cli_env *env);
int cmd_system_import_check(const struct cli *cli);
int cmd_system_import(struct cli *cli, struct cli_env *env);

/* cli_user.c: an account for the console, with a one-time password
 * (and a TOTP secret when the role needs one) printed once. Returns
 * EXIT_OK or an exit code, having said why. */
bool cli_user_name_ok(const char *name);
EW_MUST_CHECK
int cli_user_create(struct cli_env *env, const char *name, const char *role,
		    const char *scope);

/* cli_agent_release.c: agent versions per school. */
int cmd_agent_release_check(const struct cli *cli);
int cmd_agent_release_status(struct cli *cli, struct cli_env *env);
int cmd_agent_release_publish_check(const struct cli *cli);
int cmd_agent_release_publish(struct cli *cli, struct cli_env *env);
int cmd_agent_release_keygen_check(const struct cli *cli);
int cmd_agent_release_keygen(struct cli *cli, struct cli_env *env);
int cmd_agent_release_sign_check(const struct cli *cli);
int cmd_agent_release_sign(struct cli *cli, struct cli_env *env);

/* cli_setup.c: the first-run wizard. */
int cmd_setup_check(const struct cli *cli);
int cmd_setup(struct cli *cli, struct cli_env *env);

/* cli_report.c: six-monthly and annual reports. */
int cmd_report_check(const struct cli *cli);
int cmd_report_scoped_check(const struct cli *cli);
int cmd_report_draft(struct cli *cli, struct cli_env *env);
int cmd_report_show(struct cli *cli, struct cli_env *env);
int cmd_report_export(struct cli *cli, struct cli_env *env);
int cmd_report_sign(struct cli *cli, struct cli_env *env);
int cmd_report_list(struct cli *cli, struct cli_env *env);
int cmd_report_verify_check(const struct cli *cli);
int cmd_report_verify(struct cli *cli, struct cli_env *env);

/* cli_drill.c: incident drill campaigns. */
int cmd_drill_check(const struct cli *cli);
int cmd_drill_args_check(const struct cli *cli);
int cmd_drill_plan(struct cli *cli, struct cli_env *env);
int cmd_drill_approve(struct cli *cli, struct cli_env *env);
int cmd_drill_start(struct cli *cli, struct cli_env *env);
int cmd_drill_abort(struct cli *cli, struct cli_env *env);
int cmd_drill_status(struct cli *cli, struct cli_env *env);
int cmd_drill_action(struct cli *cli, struct cli_env *env);

#endif
