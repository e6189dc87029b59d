/* scan_settings: the YARA scan source's keys in agent.yaml (scan.*). Path lists are copied out at load. */
#ifndef EDUWATCH_SCAN_SETTINGS_H
#define EDUWATCH_SCAN_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/core/settings.h"

struct scan_settings {
	bool scan_enabled;
	long long scan_full_interval;
	long long scan_quick_interval;
	struct config_list scan_full_raw, scan_quick_raw, scan_usb_raw,
		scan_exclude_raw;
	char scan_full_paths[AGENT_PATHS_MAX][AGENT_PATH_LEN];
	char scan_quick_paths[AGENT_PATHS_MAX][AGENT_PATH_LEN]; /* globs */
	char scan_usb_prefixes[AGENT_PATHS_MAX][AGENT_PATH_LEN];
	char scan_excludes[AGENT_PATHS_MAX][AGENT_PATH_LEN];
	size_t scan_n_full, scan_n_quick, scan_n_usb, scan_n_excludes;
	long long scan_cpu;	      /* percent of one core */
	long long scan_max_file_size;
	long long scan_timeout;
	long long scan_jobs;
	bool scan_quarantine;	      /* move matching files aside */
};

#endif
