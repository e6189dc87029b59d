#include "agent/core/settings.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "agent/core/source.h"
#include "agent/core/sources.h"
#include "agent/platform/platform.h"
#include "common/config.h"

#define F(key, type, member, size, def, lo, hi)                               \
	{key, type, offsetof(struct agent_settings, member), size, def, lo, hi, NULL, 0}

static const struct config_field fields[] = {
	F("state_dir", CONFIG_STRING, state_dir, 512, "/var/lib/eduwatch-agent",
	  0, 0),
	F("collector.host", CONFIG_STRING, collector_host, 256, NULL, 0, 0),
	F("collector.port", CONFIG_INT, collector_port, 0, "7443", 1, 65535),
	F("collector.enroll_port", CONFIG_INT, enroll_port, 0, "7444", 1, 65535),
	F("uplink.batch", CONFIG_INT, batch, 0, "200", 1, 1000),
	F("uplink.window", CONFIG_INT, window, 0, "4", 1, 16),
	F("uplink.bandwidth", CONFIG_SIZE, bandwidth, 0, "0", 0, 1LL << 40),
	F("uplink.backoff_max", CONFIG_DURATION, backoff_max, 0, "5m", 1, 86400),
	F("spool.max_size", CONFIG_SIZE, spool_max_size, 0, "256MiB", 1 << 20,
	  1LL << 40),
	F("log.level", CONFIG_LOG_LEVEL, log_level, 0, "info", 0, 0),
	/* Self-upgrade (agent/upgrade): the versioned release folders, and
	 * how long a new release has to connect and be acked before the
	 * watchdog puts the one before back. */
	F("upgrade.root", CONFIG_STRING, upgrade_root, 512, "/usr/lib/eduwatch",
	  0, 0),
	/* The province's offline release key (its public half): with it,
	 * a pushed release must carry that key's signature, so that the
	 * collector's CA key alone cannot install code on the PCs. */
	F("upgrade.release_key", CONFIG_STRING, upgrade_release_key, 512, "",
	  0, 0),
	F("upgrade.within", CONFIG_DURATION, upgrade_within, 0, "5m", 1, 86400),
	/* A release that failed to install for a reason that may pass (a
	 * full disk, a busy file) is tried again after this, doubled each
	 * time, UPGRADE_ATTEMPTS times in all. */
	F("upgrade.retry_after", CONFIG_DURATION, upgrade_retry_after, 0, "1m",
	  1, 86400),
	/* A release the watchdog restored is installed again after this,
	 * doubled for each restore, UPGRADE_TRIES_MAX times (tries.h): a
	 * restore may have been the PC's moment, not the release's fault. */
	F("upgrade.retry_restored_after", CONFIG_DURATION,
	  upgrade_retry_restored_after, 0, "6h", 1, 30 * 86400),
};

/* An address list becomes fixed arrays here, so that a typo is refused
 * when the file is read, not when the sensor starts. */
int agent_settings_ipv4_list(const char *path, const char *key,
			     const struct config_list *list,
			     unsigned char (*out)[4], size_t cap, size_t *n,
			     char *err, size_t errlen)
{
	*n = 0;
	if (list->count > cap) {
		snprintf(err, errlen, "%s: key '%s': at most %zu addresses",
			 path, key, cap);
		return -EINVAL;
	}
	for (size_t i = 0; i < list->count; i++) {
		if (inet_pton(AF_INET, list->items[i], out[i]) != 1) {
			snprintf(err, errlen, "%s: key '%s': '%s' is not an "
				 "IPv4 address", path, key, list->items[i]);
			return -EINVAL;
		}
	}
	*n = list->count;
	return 0;
}

/* A path list becomes fixed strings here, so that the settings struct
 * stays a plain value that can be copied and reloaded. */
int agent_settings_paths(const char *path, const char *key,
			 const struct config_list *list,
			 char (*out)[AGENT_PATH_LEN], size_t *n, char *err,
			 size_t errlen)
{
	if (list->count > AGENT_PATHS_MAX) {
		snprintf(err, errlen, "%s: key '%s': at most %d paths", path,
			 key, AGENT_PATHS_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < list->count; i++) {
		const char *p = list->items[i];
		if (!platform_path_is_absolute(p) ||
		    strlen(p) >= AGENT_PATH_LEN) {
			snprintf(err, errlen,
				 "%s: key '%s': '%s' is not an absolute path "
				 "of under %d bytes",
				 path, key, p, AGENT_PATH_LEN);
			return -EINVAL;
		}
		snprintf(out[i], AGENT_PATH_LEN, "%s", p);
	}
	*n = list->count;
	return 0;
}

#define MERGED_MAX 192

/* The source table's settings half (sources.h). */
#define AGENT_SOURCE_CONFIG(name) &name##_config,
const struct source_config *const agent_source_configs[] = {
	AGENT_SOURCE_TABLE(AGENT_SOURCE_CONFIG)
};
const size_t agent_nsources =
	sizeof(agent_source_configs) / sizeof(agent_source_configs[0]);

static size_t align16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

/* One schema for the whole file: the core's fields, then each source's,
 * moved to where its struct sits in the area. So the file is read once,
 * with one set of error messages (file, line, key), and a key no table
 * claims is refused as before. */
static int merge_schemas(struct agent_settings *out, struct config_field *merged,
			 size_t *n, char *err, size_t errlen)
{
	size_t at = 0;
	*n = 0;
	for (size_t i = 0; i < CONFIG_FIELD_COUNT(fields); i++)
		merged[(*n)++] = fields[i];
	if (agent_nsources > AGENT_SOURCES_MAX) {
		snprintf(err, errlen, "%zu sources, room for %d (AGENT_SOURCES_MAX)",
			 agent_nsources, AGENT_SOURCES_MAX);
		return -E2BIG;
	}
	for (size_t i = 0; i < agent_nsources; i++) {
		const struct source_config *c = agent_source_configs[i];
		at = align16(at);
		if (at + c->size > AGENT_SOURCE_AREA || *n + c->nfields > MERGED_MAX) {
			snprintf(err, errlen, "the settings of source %zu do not "
				 "fit (AGENT_SOURCE_AREA, MERGED_MAX)", i);
			return -E2BIG;
		}
		out->source_at[i] = at + 1;
		for (size_t j = 0; j < c->nfields; j++) {
			struct config_field f = c->fields[j];
			for (size_t k = 0; k < *n; k++)
				if (strcmp(merged[k].key, f.key) == 0) {
					snprintf(err, errlen, "key '%s' is claimed "
						 "twice (source %zu)", f.key, i);
					return -EINVAL;
				}
			f.offset += offsetof(struct agent_settings, source_area) + at;
			merged[(*n)++] = f;
		}
		at += c->size;
	}
	return 0;
}

const void *agent_settings_for(const struct agent_settings *s,
			       const struct source_config *config)
{
	for (size_t i = 0; i < agent_nsources; i++)
		if (agent_source_configs[i] == config)
			return s->source_at[i] ? s->source_area + s->source_at[i] - 1
					       : NULL;
	return NULL;
}

static char *const *overrides;
static size_t noverrides;

void agent_settings_set_overrides(char *const *items, size_t n)
{
	overrides = items;
	noverrides = n;
}

size_t agent_settings_overrides(char *const **items)
{
	*items = overrides;
	return noverrides;
}

int agent_settings_helper_argv(const char **args, size_t cap,
			       const char *role, const char *config_path,
			       const char *const *extra, size_t nextra)
{
	/* role -c path, two per override, the extras and the NULL. */
	if (cap < 3 + 2 * noverrides + nextra + 1)
		return -E2BIG;
	size_t n = 0;
	args[n++] = role;
	args[n++] = "-c";
	args[n++] = config_path;
	for (size_t i = 0; i < noverrides; i++) {
		args[n++] = "-o";
		args[n++] = overrides[i];
	}
	for (size_t i = 0; i < nextra; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	return 0;
}

int agent_settings_load(const char *path, struct agent_settings *out,
			char *err, size_t errlen)
{
	struct config_field merged[MERGED_MAX];
	size_t n = 0;
	memset(out, 0, sizeof(*out));
	int rc = merge_schemas(out, merged, &n, err, errlen);
	if (rc != 0)
		return rc;
	rc = config_load_file(path, merged, n, out, err, errlen);
	/* -o KEY=VALUE from the command line, over the file, through the
	 * same schema. */
	for (size_t i = 0; rc == 0 && i < noverrides; i++)
		rc = config_override(overrides[i], merged, n, out, err, errlen);
	/* Then each source checks and derives its own (path lists copied
	 * out, addresses parsed), in the table's order. */
	for (size_t i = 0; i < agent_nsources && rc == 0; i++) {
		const struct source_config *c = agent_source_configs[i];
		if (c->check != NULL)
			rc = c->check(out->source_area + out->source_at[i] - 1, out,
				      path, err, errlen);
	}
	config_free(merged, n, out);
	return rc;
}

int agent_settings_write(const char *path, const char *state_dir,
			 const char *host, int port, int enroll_port,
			 char *err, size_t errlen)
{
	char text[2048];
	int n = snprintf(text, sizeof(text),
			 "# eduwatch agent settings; see README.md.\n"
			 "state_dir: %s\n"
			 "collector:\n"
			 "  host: %s\n"
			 "  port: %d\n"
			 "  enroll_port: %d\n"
			 "uplink:\n"
			 "  batch: 200\n"
			 "  window: 4\n"
			 "  bandwidth: 0        # bytes/s for slow links, 0 = no cap\n"
			 "  backoff_max: 5m\n"
			 "heartbeat:\n"
			 "  interval: 60s\n"
			 "inventory:\n"
			 "  interval: 1h        # how often to look for changes\n"
			 "spool:\n"
			 "  max_size: 256MiB\n"
			 "netsensor:            # the LAN sensor; needs root\n"
			 "  enabled: true\n"
			 "  dhcp_servers: []    # e.g. [192.168.1.1]; others are rogue\n"
			 "  name_responders: [] # hosts allowed to answer LLMNR/NBNS\n"
			 "scan:                 # YARA, with the collector's signed rules\n"
			 "  full_interval: 7d\n"
			 "  quick_interval: 1d  # downloads, desktops, temp\n"
			 "  cpu: 25             # percent of one core\n"
			 "  max_file_size: 64MiB\n"
			 "av:\n"
			 "  interval: 1h        # and at once when the state changes\n"
			 "log:\n"
			 "  level: info\n",
			 state_dir, host, port, enroll_port);
	return config_write_text(path, text, n, sizeof(text), err, errlen);
}
