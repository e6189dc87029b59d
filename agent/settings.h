/* settings: agent.yaml, its schema and defaults. */
#ifndef EDUWATCH_AGENT_SETTINGS_H
#define EDUWATCH_AGENT_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/log.h"

struct agent_settings {
	char state_dir[512];
	char collector_host[256];
	long long collector_port;
	long long enroll_port;
	long long batch;
	long long window;
	long long bandwidth;
	long long backoff_max;
	long long heartbeat_interval;
	long long inventory_interval;
	long long spool_max_size;
	enum log_level log_level;
	long long synthetic_rate;     /* testing: events per second, 0 off */
	char synthetic_log[512];      /* testing: where emitted seqs go */
};

int agent_settings_load(const char *path, struct agent_settings *out,
			char *err, size_t errlen);
int agent_settings_write(const char *path, const char *state_dir,
			 const char *host, int port, int enroll_port,
			 char *err, size_t errlen);

#endif
