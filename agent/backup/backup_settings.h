/* backup_settings: the backup source's keys in agent.yaml (backup.*). An empty repo turns backups off. */
#ifndef EDUWATCH_BACKUP_SETTINGS_H
#define EDUWATCH_BACKUP_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/core/settings.h"

struct backup_settings {
	char backup_repo[512];
	char backup_password_file[512]; /* "": <state_dir>/backup.pass */
	struct config_list backup_paths_raw, backup_exclude_raw;
	char backup_paths[AGENT_PATHS_MAX][AGENT_PATH_LEN];
	char backup_excludes[AGENT_PATHS_MAX][AGENT_PATH_LEN];
	size_t backup_n_paths, backup_n_excludes;
	long long backup_rpo;
	long long backup_verify_interval;
	long long backup_restore_test_interval;
	long long backup_restore_sample;
	bool backup_prune;
	long long backup_keep_daily, backup_keep_weekly, backup_keep_monthly;
	bool backup_escrow;
	long long backup_check_interval;
};

#endif
