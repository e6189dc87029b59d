/* settings: agent.yaml, its schema and defaults.
 *
 * The core's keys (state_dir, collector, uplink, spool, log) are listed
 * here; every source owns its own keys, defaults and struct, in its own
 * folder (NAME_settings.c, as Fluent Bit's config_map lives in the
 * plugin), and the loader reads them all from the one file through the
 * source table (sources.h). An unknown key is refused, naming the key. */
#ifndef EDUWATCH_AGENT_SETTINGS_H
#define EDUWATCH_AGENT_SETTINGS_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "common/log.h"

#define AGENT_PATHS_MAX 16
#define AGENT_PATH_LEN 256
/* Room for every source's settings struct, and for this many sources. */
#define AGENT_SOURCE_AREA (48 * 1024)
#define AGENT_SOURCES_MAX 24

struct agent_settings {
	char state_dir[512];
	char collector_host[256];
	long long collector_port;
	long long enroll_port;
	long long batch;
	long long window;
	long long bandwidth;
	long long backoff_max;
	long long spool_max_size;
	enum log_level log_level;
	char upgrade_root[512];
	char upgrade_release_key[512]; /* PEM public key; "": none pinned */
	long long upgrade_within;
	long long upgrade_retry_after;
	long long upgrade_retry_restored_after;
	/* Each source's own settings struct, at source_at[i] - 1 in the
	 * area for the source table's line i (0: none). Inline, so that
	 * the settings stay a plain value that can be copied and reloaded. */
	size_t source_at[AGENT_SOURCES_MAX];
	_Alignas(16) unsigned char source_area[AGENT_SOURCE_AREA];
};

struct source_config;

/* The settings struct of a source's config (NAME_config, sources.h), or
 * NULL when no line of the source table has it. Borrowed from s. */
const void *agent_settings_for(const struct agent_settings *s,
			       const struct source_config *config);

/* For the sources' checks (source_config.check): a list of paths copied
 * into fixed strings (each absolute, under AGENT_PATH_LEN), and a list
 * of IPv4 addresses parsed into fixed arrays. 0 or -EINVAL with err
 * naming the file and the key. */
EW_MUST_CHECK
int agent_settings_paths(const char *path, const char *key,
			 const struct config_list *list,
			 char (*out)[AGENT_PATH_LEN], size_t *n, char *err,
			 size_t errlen);
EW_MUST_CHECK
int agent_settings_ipv4_list(const char *path, const char *key,
			     const struct config_list *list,
			     unsigned char (*out)[4], size_t cap, size_t *n,
			     char *err, size_t errlen);

EW_MUST_CHECK
int agent_settings_load(const char *path, struct agent_settings *out,
			char *err, size_t errlen);
/* Settings given on the command line (-o KEY=VALUE, borrowed: argv lives
 * as long as the process), applied over the file by every later
 * agent_settings_load, a reload's too. */
void agent_settings_set_overrides(char *const *items, size_t n);
/* Those overrides, for a helper process that loads the settings itself:
 * it gets the same -o arguments. Returns their count. */
size_t agent_settings_overrides(char *const **items);
/* At most this many -o on a command line; a helper's arguments are its
 * role, -c FILE, the overrides and at most two of its own. */
#define AGENT_SETTINGS_OVERRIDES_MAX 32
#define AGENT_HELPER_ARGS_MAX (3 + 2 * AGENT_SETTINGS_OVERRIDES_MAX + 2 + 1)
/* The arguments of a helper that loads the settings itself, so that it
 * sees what the agent sees: ROLE -c CONFIG_PATH, -o ITEM for each
 * override, then EXTRA; NULL-terminated in ARGS (CAP slots, the NULL
 * included). -E2BIG when they do not fit: a helper run without some of
 * the overrides would act on settings the agent does not have. */
EW_MUST_CHECK
int agent_settings_helper_argv(const char **args, size_t cap,
			       const char *role, const char *config_path,
			       const char *const *extra, size_t nextra);
EW_MUST_CHECK
int agent_settings_write(const char *path, const char *state_dir,
			 const char *host, int port, int enroll_port,
			 char *err, size_t errlen);

#endif
