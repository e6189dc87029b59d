/* Signed bundles pushed to the agents: YARA rules and IOC lists. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "collector/cli.h"
#include "collector/rulepub.h"
#include "common/alloc.h"
#include "common/wire.h"

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

struct agent_ids {
	char (*ids)[EVENT_AGENT_MAX + 1];
	size_t count, cap;
};

static void add_agent_id(struct agent_ids *l, const char *id)
{
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		void *p = alloc_resize(l->ids, cap * sizeof(*l->ids));
		if (p == NULL)
			return;
		l->ids = p;
		l->cap = cap;
	}
	snprintf(l->ids[l->count++], sizeof(l->ids[0]), "%s", id);
}

static void collect_agent(void *arg, const struct store_agent *a)
{
	if (!a->revoked)
		add_agent_id(arg, a->id);
}

/* Queues a signed `type` command naming a published bundle for one agent,
 * or every unrevoked one. Returns how many were queued. */
static size_t push_bundle(struct store *st, struct ca *ca, const char *agent,
			  const char *type, const struct bundle_info *info,
			  size_t size)
{
	struct agent_ids targets = {0};
	if (agent)
		add_agent_id(&targets, agent);
	else if (store_agent_list(st, NULL, collect_agent, &targets) != 0)
		/* Queued to those listed; the CLI prints how many. */
		fprintf(stderr, "eduwatch-collector: cannot list every agent "
				"from the store\n");
	msgpack_sbuffer args;
	msgpack_packer pk;
	msgpack_sbuffer_init(&args);
	msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	wire_pack_kv_u64(&pk, "version", info->version);
	wire_pack_kv_u64(&pk, "size", size);
	size_t queued = 0;
	for (size_t i = 0; i < targets.count; i++) {
		uint64_t id;
		if (cli_queue_command(st, ca, targets.ids[i], type, &args,
				      7 * 86400, &id) == 0)
			queued++;
	}
	msgpack_sbuffer_destroy(&args);
	alloc_free(targets.ids);
	return queued;
}

int cmd_rules_publish(struct cli *cli, struct cli_env *env)
{
	const struct settings *s = &env->settings;
	char err[768];
	const char *sets[SETTINGS_YARA_MAX];
	for (size_t i = 0; i < s->nyara_rules; i++)
		sets[i] = s->yara_rules[i];
	struct bundle_info info;
	size_t size = 0;
	int rc = rulepub_publish(s->state_dir, sets, s->nyara_rules,
				 ca_key(env->ca), &info, &size, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: rules not published: %s\n",
			err);
		return rc == -EINVAL ? EXIT_CONFIG : EXIT_FAILURE_RUNTIME;
	}
	printf("published bundle %llu: %llu rules, %zu bytes signed (%s)\n",
	       (unsigned long long)info.version,
	       (unsigned long long)info.rules, size, info.sources);
	size_t queued = push_bundle(env->store, env->ca, cli->agent,
				    "rules.update", &info, size);
	printf("queued rules.update for %zu agent(s); each fetches the bundle "
	       "when connected\n",
	       queued);
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
	struct bundle_info info;
	size_t size = 0;
	int rc = rulepub_publish_ioc(env->settings.state_dir, cli->argv[2],
				     ca_key(env->ca), &info, &size, err,
				     sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: IOC list not published: %s\n",
			err);
		return EXIT_CONFIG;
	}
	size_t queued = push_bundle(env->store, env->ca, cli->agent, "ioc.update",
				    &info, size);
	printf("published IOC list %llu (%llu lines, %zu bytes signed); queued "
	       "ioc.update for %zu agent(s)\n",
	       (unsigned long long)info.version, (unsigned long long)info.rules,
	       size, queued);
	return EXIT_OK;
}
