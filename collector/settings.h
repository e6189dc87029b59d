/* settings: collector.yaml, its schema and defaults. */
#ifndef EDUWATCH_SETTINGS_H
#define EDUWATCH_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/log.h"

/* Where packages install rules/policies/. */
#define SETTINGS_POLICY_DIR "/usr/share/eduwatch/policies"

struct settings {
	char state_dir[512];
	char listen[64];
	long long ingest_port;
	long long enroll_port;
	long long max_connections;
	long long handshake_timeout;
	long long idle_timeout;
	long long max_events_per_second;
	long long backlog_high;
	char store_url[600];
	long long cache_size;
	long long batch_max_events;
	bool sync_full;
	long long retention_days;
	long long high_severity_days;
	long long high_severity;
	enum log_level log_level;
	long long stats_interval;
	long long stale_after; /* seconds without events: the PC is stale */
	char policy_dir[512];  /* level1.yaml .. level3.yaml */
};

/* Loads path (defaults for what it omits). Returns 0 or -EINVAL with a
 * message naming file, line and key. */
int settings_load(const char *path, struct settings *out, char *err,
		  size_t errlen);

/* Writes a commented collector.yaml for a new state directory. */
int settings_write_default(const char *path, const char *state_dir,
			   const char *policy_dir, char *err, size_t errlen);

#endif
