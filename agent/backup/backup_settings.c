/* backup.*: the backup source's keys in agent.yaml, their defaults and
 * ranges, owned here (agent/core/sources.h). */
#include "agent/backup/backup_settings.h"

#include <stdio.h>

#include "agent/core/source.h"

#define F(key, type, member, size, def, lo, hi)                               \
	{key, type, offsetof(struct backup_settings, member), size, def, lo, hi, \
	 NULL, 0}

static const struct config_field backup_fields[] = {
	F("backup.repo", CONFIG_STRING, backup_repo, 512, "", 0, 0),
	F("backup.password_file", CONFIG_STRING, backup_password_file, 512, "",
	  0, 0),
	F("backup.paths", CONFIG_LIST, backup_paths_raw, 0, "[/home]", 0, 0),
	F("backup.exclude", CONFIG_LIST, backup_exclude_raw, 0, "[]", 0, 0),
	F("backup.rpo", CONFIG_DURATION, backup_rpo, 0, "24h", 60,
	  366 * 86400LL),
	F("backup.verify_interval", CONFIG_DURATION, backup_verify_interval, 0,
	  "7d", 3600, 366 * 86400LL),
	F("backup.restore_test_interval", CONFIG_DURATION,
	  backup_restore_test_interval, 0, "90d", 3600, 3660 * 86400LL),
	F("backup.restore_sample", CONFIG_INT, backup_restore_sample, 0, "5", 1,
	  1000),
	F("backup.prune", CONFIG_BOOL, backup_prune, 0, "false", 0, 0),
	F("backup.keep_daily", CONFIG_INT, backup_keep_daily, 0, "7", 0, 3660),
	F("backup.keep_weekly", CONFIG_INT, backup_keep_weekly, 0, "4", 0, 520),
	F("backup.keep_monthly", CONFIG_INT, backup_keep_monthly, 0, "12", 0,
	  1200),
	F("backup.escrow", CONFIG_BOOL, backup_escrow, 0, "true", 0, 0),
	F("backup.check_interval", CONFIG_DURATION, backup_check_interval, 0,
	  "1m", 1, 3600),
};

/* The path lists become fixed strings when the file is read; the
 * passphrase file defaults to one in the state directory. */
static int backup_check(void *conf, const struct agent_settings *core,
			const char *path, char *err, size_t errlen)
{
	struct backup_settings *s = conf;
	int rc = agent_settings_paths(path, "backup.paths", &s->backup_paths_raw,
				      s->backup_paths, &s->backup_n_paths, err,
				      errlen);
	if (rc == 0)
		rc = agent_settings_paths(path, "backup.exclude",
					  &s->backup_exclude_raw,
					  s->backup_excludes,
					  &s->backup_n_excludes, err, errlen);
	if (rc == 0 && s->backup_password_file[0] == '\0')
		snprintf(s->backup_password_file,
			 sizeof(s->backup_password_file), "%s/backup.pass",
			 core->state_dir);
	return rc;
}

const struct source_config backup_config = {
	.fields = backup_fields,
	.nfields = CONFIG_FIELD_COUNT(backup_fields),
	.size = sizeof(struct backup_settings),
	.check = backup_check,
};
