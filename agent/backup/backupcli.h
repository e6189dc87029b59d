/* backupcli: `eduwatch-agent backup init|run|list|verify|restore|prune`.
 *
 * Each command shows progress on a terminal (files, bytes, rate, ETA) and
 * prints its result as text or, with --json, one JSON object. The
 * repository and passphrase come from agent.yaml (backup.repo,
 * backup.password_file), or --repo and --password-file, or the
 * EDUWATCH_BACKUP_PASSWORD environment variable. They run in the
 * eduwatch-backup executable, which eduwatch-agent hands them to (cli.h). */
#ifndef EDUWATCH_BACKUPCLI_H
#define EDUWATCH_BACKUPCLI_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>

#include "agent/core/settings.h"

/* The executable the backup commands and jobs run from. */
#define BACKUPCLI_HELPER "eduwatch-backup"

struct backupcli_options {
	const char *command;	   /* init, run, list, verify, restore, prune,
				    * repair */
	const char *const *args;   /* what follows it */
	size_t nargs;
	const struct agent_settings *settings; /* NULL: no agent.yaml */
	const char *repo;
	const char *password_file;
	const char *to;
	bool json;
	bool read_data;
	bool allow_shared_target; /* restore: see backup_restore_options */
	bool keep_damaged;	  /* restore: see backup_restore_options */
	int keep_daily, keep_weekly, keep_monthly;
};

/* The passphrase: the environment, else the file's first line. */
EW_MUST_CHECK
int backupcli_passphrase(const char *file, char *out, size_t cap, char *err,
			 size_t errlen);

EW_MUST_CHECK
int backupcli_run(const struct backupcli_options *o);

#endif
