/* Setting up and running: init, serve, version. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "collector/cli.h"
#include "collector/daemon.h"
#include "common/sharedir.h"
#include "common/version.h"

/* The state dir holds the CA key and every PC's reports. One that others
 * can read or enter (an existing 0755 folder) is made 0700 when it is
 * ours, with a line saying so, and refused when it is not. */
static int init_dir_private(const char *dir)
{
	struct stat sb;
	if (stat(dir, &sb) != 0) {
		if (errno == ENOENT)
			return 0; /* ca_init creates it 0700 */
		fprintf(stderr, "eduwatch-collector: --dir %s: %s\n", dir,
			uv_strerror(-errno));
		return EXIT_FAILURE_RUNTIME;
	}
	if (!S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "eduwatch-collector: --dir %s is not a "
				"directory\n", dir);
		return EXIT_CONFIG;
	}
	if ((sb.st_mode & 077) == 0)
		return 0;
	if (sb.st_uid != geteuid()) {
		fprintf(stderr,
			"eduwatch-collector: --dir %s (mode %03o) is open to "
			"other users and owned by uid %u, not us: use a "
			"directory of the collector's user, mode 0700\n",
			dir, (unsigned)(sb.st_mode & 0777), (unsigned)sb.st_uid);
		return EXIT_CONFIG;
	}
	if (chmod(dir, 0700) != 0) {
		fprintf(stderr, "eduwatch-collector: --dir %s: cannot make it "
				"0700: %s\n", dir, uv_strerror(-errno));
		return EXIT_FAILURE_RUNTIME;
	}
	fprintf(stderr, "eduwatch-collector: --dir %s was open to other users "
			"(mode %03o); made it 0700\n",
		dir, (unsigned)(sb.st_mode & 0777));
	return 0;
}

int cmd_init_check(const struct cli *cli)
{
	return cli->dir ? 0 : cli_usage_error("init needs --dir DIR");
}

/* init writes the settings it then opens the store with, so it opens
 * the store itself rather than through the command table. */
int cmd_init(struct cli *cli, struct cli_env *env)
{
	char err[512], path[1024];
	static const char *const default_names[] = {"localhost", "127.0.0.1"};
	const char *const *names = cli->nnames ? cli->names : default_names;
	size_t nnames = cli->nnames ? cli->nnames : 2;
	int prc = init_dir_private(cli->dir);
	if (prc != 0)
		return prc;
	int crc = ca_init(cli->dir, names, nnames, err, sizeof(err));
	if (crc != 0) {
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return crc == -EEXIST ? EXIT_CONFIG : EXIT_FAILURE_RUNTIME;
	}
	snprintf(path, sizeof(path), "%s/collector.yaml", cli->dir);
	char rules[PATH_MAX];
	if (cli->rules && realpath(cli->rules, rules) == NULL) {
		fprintf(stderr, "eduwatch-collector: --rules %s: %s\n",
			cli->rules, uv_strerror(-errno));
		return EXIT_CONFIG;
	}
	/* Without --rules: the rules installed beside this binary (or the
	 * source tree's, for a binary run from the build tree). */
	if (cli->rules == NULL &&
	    sharedir_find("rules", SETTINGS_RULES_DIR, rules, sizeof(rules)) != 0) {
		fprintf(stderr, "eduwatch-collector: the rules path is too long\n");
		return EXIT_FAILURE_RUNTIME;
	}
	if (settings_write_default(path, cli->dir, rules, err,
				   sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_FAILURE_RUNTIME;
	}
	struct store *st;
	int rc = cli_load_settings(path, &env->settings);
	if (rc == 0)
		rc = cli_open_store(&env->settings, &st);
	if (rc != 0)
		return rc;
	store_close(st);
	printf("created CA, server certificate and database in %s\n"
	       "settings: %s\n"
	       "agents pin this CA: %s/ca.crt\n"
	       "next: eduwatch-collector school add ... -c %s\n",
	       cli->dir, path, cli->dir, path);
	return EXIT_OK;
}

int cmd_serve(struct cli *cli, struct cli_env *env)
{
	int rc = collector_run(cli->config, &env->settings);
	return rc == 0 ? EXIT_OK : rc == -EINVAL ? EXIT_CONFIG
						 : EXIT_FAILURE_RUNTIME;
}

int cmd_version(struct cli *cli, struct cli_env *env)
{
	(void)cli, (void)env;
	printf("eduwatch-collector %s\n", EDUWATCH_VERSION);
	return EXIT_OK;
}
