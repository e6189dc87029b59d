/* eduwatch-backup: the executable of the backup commands, which
 * eduwatch-agent hands over to it (cli.h), and of the running agent's
 * backup jobs (`_backup`, backupjob.h): the repository, the chunker and
 * zstd are mapped here, not in the resident agent. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/backup/backupcli.h"
#include "agent/backup/backupjob.h"
#include "agent/core/cli.h"
#include "agent/drill/drill_restore.h"
#include "common/log.h"

int main(int argc, char **argv)
{
	struct cli cli;
	struct agent_settings s;
	log_setup("eduwatch-agent", LOG_LEVEL_INFO);
	int rc = cli_parse(argc, argv, &cli);
	if (rc != 0)
		return rc;
	if (cli.argc >= 2 && strcmp(cli.argv[0], BACKUPJOB_ROLE) == 0) {
		if ((rc = cli_load(&cli, &s)) != 0)
			return rc;
		/* The restore-test drill: the drill's own sample and
		 * repository, in the drill folder (drill_restore.h). */
		if (strcmp(cli.argv[1], DRILL_RESTORE_ACTION) == 0)
			return drill_restore_main(&s, STDOUT_FILENO);
		return backupjob_main(&s, cli.argv[1],
				      cli.argc > 2 && strcmp(cli.argv[2],
							     "escrow") == 0,
				      STDOUT_FILENO);
	}
	if (cli.argc < 1 || strcmp(cli.argv[0], "backup") != 0)
		return cli_usage_error("eduwatch-backup runs 'backup' only");
	if (cli.argc < 2)
		return cli_usage_error("backup needs a command: init, run, "
				       "list, verify, restore or prune");
	bool have_config = access(cli.config, F_OK) == 0;
	if (have_config && (rc = cli_load(&cli, &s)) != 0)
		return rc;
	struct backupcli_options bo = {
		.command = cli.argv[1],
		.args = (const char *const *)cli.argv + 2,
		.nargs = (size_t)cli.argc - 2,
		.settings = have_config ? &s : NULL,
		.repo = cli.repo,
		.password_file = cli.password_file,
		.to = cli.to,
		.json = cli.json,
		.read_data = cli.read_data,
		.allow_shared_target = cli.allow_shared_target,
		.keep_damaged = cli.keep_damaged,
		.keep_daily = cli.keep[0],
		.keep_weekly = cli.keep[1],
		.keep_monthly = cli.keep[2],
	};
	return backupcli_run(&bo);
}
