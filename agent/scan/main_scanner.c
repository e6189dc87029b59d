/* eduwatch-scanner: the executable that maps libyara. It runs the
 * scanner's sandboxed helper (`_scanner`, started by scans) and the
 * `scan` command, which eduwatch-agent hands over to it (cli.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/cli.h"
#include "agent/scan/scanchild.h"
#include "agent/scan/scancli.h"
#include "common/log.h"

int main(int argc, char **argv)
{
	struct cli cli;
	struct agent_settings s;
	log_setup("eduwatch-agent", LOG_LEVEL_INFO);
	/* The helper's options are its own: dispatched before ours. */
	if (argc > 1 && strcmp(argv[1], "_scanner") == 0)
		return scanchild_main(argc - 1, argv + 1);
	int rc = cli_parse(argc, argv, &cli);
	if (rc != 0)
		return rc;
	if (cli.argc < 1 || strcmp(cli.argv[0], "scan") != 0)
		return cli_usage_error("eduwatch-scanner runs 'scan' only");
	if (cli.argc < 2)
		return cli_usage_error("scan needs at least one PATH");
	bool have_config = access(cli.config, F_OK) == 0;
	if (have_config && (rc = cli_load(&cli, &s)) != 0)
		return rc;
	struct scancli_options so = {
		.paths = (const char *const *)cli.argv + 1,
		.npaths = (size_t)cli.argc - 1,
		.rules = cli.rules,
		.nrules = cli.nrules,
		.settings = have_config ? &s : NULL,
		.json = cli.json,
		.verbose = cli.verbose,
		.no_cache = cli.no_cache,
		.jobs = cli.jobs,
		.cpu = cli.cpu,
	};
	return scancli_run(&so);
}
