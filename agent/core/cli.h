/* cli: the agent's command line, shared by its executables.
 *
 * eduwatch-agent is what people run. The commands whose code needs a
 * library the resident agent does not map (scan: libyara; sniff:
 * libpcap; backup: zstd and the repository) live in the helper
 * executables beside it (eduwatch-scanner, eduwatch-sensor,
 * eduwatch-backup); the agent hands such a command over whole with
 * cli_exec_helper, so every command keeps one spelling, one parser and
 * one usage text. */
#ifndef EDUWATCH_AGENT_CLI_H
#define EDUWATCH_AGENT_CLI_H

#include <stdbool.h>

#include "agent/core/settings.h"

enum cli_exit {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,
	EXIT_USAGE = 2,
	EXIT_CONFIG = 3,
	EXIT_NOT_ENROLLED = 4,
};

struct cli {
	const char *config;
	const char *collector;
	const char *token;
	const char *ca;
	const char *ca_sha256;
	const char *from; /* enroll --from FILE: an enrollment string */
	const char *upgrade_root; /* upgrade --root: the versioned releases */
	bool rollback;		  /* upgrade install --rollback */
	const char *within;	  /* upgrade watch --within DURATION */
	bool restart;		  /* upgrade watch --restart */
	const char *state_dir;
	int enroll_port;
	const char *pcap;
	const char *ioc;
	const char *gateway_mac;
	const char *rules[16];
	size_t nrules;
	int jobs;
	int cpu;
	bool no_cache;
	bool verbose;
	const char *to;
	const char *repo;
	const char *password_file;
	bool read_data;
	bool allow_shared_target;
	bool keep_damaged;
	int keep[3];
	bool json;
	bool if_needed; /* enroll: an enrolled PC is not an error (installers) */
	bool console; /* run: in this console, not as a Windows service */
	char *sets[AGENT_SETTINGS_OVERRIDES_MAX]; /* -o KEY=VALUE, in order */
	size_t nsets;
	int argc;
	char **argv;
};

extern const char cli_usage_text[];

/* Parses argv into cli (argv is permuted: options first). Returns 0 or
 * an exit code. -h prints the usage and exits. */
int cli_parse(int argc, char **argv, struct cli *cli);

/* Prints "eduwatch-agent: <message>" and the --help hint; returns
 * EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Loads cli->config into s and sets up logging. Returns 0 or EXIT_CONFIG
 * (the reason printed). */
int cli_load(const struct cli *cli, struct agent_settings *s);

/* Replaces this process with the helper executable `name` (beside this
 * one, see childproc_helper_path), run with the same argv. Returns only
 * on failure, with EXIT_RUNTIME and the reason printed. */
int cli_exec_helper(const char *name, char **argv);

#endif
