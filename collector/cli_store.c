/* The store itself: `store migrate` copies a SQLite store into an empty
 * PostgreSQL one and verifies the copy (collector/store_migrate.h). It
 * reads no collector.yaml: both stores are named on the command line. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/cli.h"
#include "collector/store_migrate.h"

#define MIGRATE_BATCH_DEFAULT 50000

int cmd_store_check(const struct cli *cli)
{
	if (cli->argc < 2)
		return cli_usage_error("store needs a command: migrate");
	if (strcmp(cli->argv[1], "migrate") != 0)
		return cli_usage_error("unknown store command '%s'",
				       cli->argv[1]);
	if (cli->argc > 2)
		return cli_usage_error("store migrate takes no argument '%s'",
				       cli->argv[2]);
	if (cli->from == NULL || strncmp(cli->from, "sqlite:", 7) != 0 ||
	    cli->from[7] == '\0')
		return cli_usage_error("store migrate needs --from sqlite:PATH");
	if (cli->to == NULL || (strncmp(cli->to, "postgresql://", 13) != 0 &&
				strncmp(cli->to, "postgres://", 11) != 0))
		return cli_usage_error("store migrate needs --to "
				       "postgresql://...");
	return 0;
}

int cmd_store_migrate(struct cli *cli, struct cli_env *env)
{
	(void)env;
	char err[1024];
	struct store_migrate_options o = {
		.from = cli->from + 7,
		.to = cli->to,
		.batch = cli->batch > 0 ? cli->batch : MIGRATE_BATCH_DEFAULT,
		.out = stdout,
	};
	int rc = store_migrate(&o, err, sizeof(err));
	if (rc != 0) {
		fflush(stdout);
		fprintf(stderr, "eduwatch-collector: store migrate: %s\n", err);
		fprintf(stderr, "eduwatch-collector: nothing was committed to "
				"the target\n");
		return rc == -EINVAL ? EXIT_CONFIG : EXIT_FAILURE_RUNTIME;
	}
	printf("migrated and verified: switch store.url to the target\n");
	return EXIT_OK;
}
