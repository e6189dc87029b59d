/* Signed bundles pushed to the agents: YARA rules and IOC lists. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "collector/agentcmd.h"
#include "collector/cli.h"
#include "collector/rulepub.h"

int cmd_rules_check(const struct cli *cli)
{
	return cli_usage_error("usage: rules publish [--agent ID] | rules list");
}

int cmd_rules_list(struct cli *cli, struct cli_env *env)
{
	char dir[600];
	bool json = cli->json;
	rulepub_dir(env->settings.state_dir, dir, sizeof(dir));
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);
	if (json)
		printf("[");
	int shown = 0;
	for (int i = n - 1; i >= 0; i--) {
		unsigned long long v;
		char path[900];
		struct stat st;
		if (sscanf(names[i]->d_name, "bundle-%llu.ewb", &v) == 1 &&
		    snprintf(path, sizeof(path), "%s/%s", dir,
			     names[i]->d_name) > 0 &&
		    stat(path, &st) == 0) {
			if (json)
				printf("%s{\"version\":%llu,\"bytes\":%lld}",
				       shown ? "," : "", v, (long long)st.st_size);
			else
				printf("bundle %llu  %lld bytes  %s\n", v,
				       (long long)st.st_size, path);
			shown++;
		}
		free(names[i]);
	}
	free(names);
	if (json)
		printf("]\n");
	else if (shown == 0)
		printf("no bundle published yet: run 'eduwatch-collector rules "
		       "publish'\n");
	return EXIT_OK;
}

/* Says how many agents will fetch it, and whether some were missed. */
static void print_queued(const char *type, const struct agentcmd_published *p)
{
	if (!p->all_listed)
		fprintf(stderr, "eduwatch-collector: cannot list every agent "
				"from the store\n");
	printf("queued %s for %zu agent(s); each fetches the bundle when "
	       "connected\n", type, p->queued);
}

int cmd_rules_publish(struct cli *cli, struct cli_env *env)
{
	const struct settings *s = &env->settings;
	char err[768];
	const char *sets[SETTINGS_YARA_MAX];
	for (size_t i = 0; i < s->nyara_rules; i++)
		sets[i] = s->yara_rules[i];
	struct agentcmd_published p;
	int rc = agentcmd_publish_rules(env->store, env->ca, s->state_dir, sets,
					s->nyara_rules, cli->agent, &p, err,
					sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: rules not published: %s\n",
			err);
		return rc == -EINVAL ? EXIT_CONFIG : EXIT_FAILURE_RUNTIME;
	}
	printf("published bundle %llu: %llu rules, %zu bytes signed (%s)\n",
	       (unsigned long long)p.info.version,
	       (unsigned long long)p.info.rules, p.size, p.info.sources);
	print_queued("rules.update", &p);
	return EXIT_OK;
}

int cmd_ioc_check(const struct cli *cli)
{
	if (cli->argc != 3 || strcmp(cli->argv[1], "publish") != 0)
		return cli_usage_error("usage: ioc publish FILE [--agent ID]");
	return 0;
}

int cmd_ioc_publish(struct cli *cli, struct cli_env *env)
{
	char err[768];
	struct agentcmd_published p;
	int rc = agentcmd_publish_ioc(env->store, env->ca,
				      env->settings.state_dir, cli->argv[2],
				      NULL, 0, cli->agent, &p, err,
				      sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: IOC list not published: %s\n",
			err);
		return EXIT_CONFIG;
	}
	printf("published IOC list %llu (%llu lines, %zu bytes signed)\n",
	       (unsigned long long)p.info.version,
	       (unsigned long long)p.info.rules, p.size);
	print_queued("ioc.update", &p);
	return EXIT_OK;
}
