/* Schools and enrollment tokens. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "collector/cli.h"
#include "collector/enroll.h"
#include "common/config.h"
#include "common/jsonout.h"
#include "common/textsafe.h"

int cmd_school_check(const struct cli *cli)
{
	if (cli->argc < 2)
		return cli_usage_error("school needs 'add' or 'list'");
	return cli_usage_error("unknown school command '%s'", cli->argv[1]);
}

int cmd_school_add_check(const struct cli *cli)
{
	if (cli->argc != 4 || cli->commune == NULL || cli->level < 0 ||
	    cli->expected < 0)
		return cli_usage_error("usage: school add CODE NAME --commune C "
				       "--level N --expected-pcs N");
	if (!event_agent_id_valid(cli->argv[2]) ||
	    strlen(cli->argv[2]) > STORE_CODE_MAX)
		return cli_usage_error("school code '%s' must be 1-32 of "
				       "A-Z a-z 0-9 . _ -", cli->argv[2]);
	return 0;
}

int cmd_school_add(struct cli *cli, struct cli_env *env)
{
	struct store_school sc = {.level = (int)cli->level,
				  .expected_pcs = (int)cli->expected};
	snprintf(sc.code, sizeof(sc.code), "%s", cli->argv[2]);
	snprintf(sc.name, sizeof(sc.name), "%s", cli->argv[3]);
	snprintf(sc.commune, sizeof(sc.commune), "%s", cli->commune);
	if (store_school_add(env->store, &sc) != 0) {
		fprintf(stderr, "eduwatch-collector: cannot add school\n");
		return EXIT_FAILURE_RUNTIME;
	}
	printf("school %s (%s, %s) level %d, %d PCs expected\n", sc.code,
	       sc.name, sc.commune, sc.level, sc.expected_pcs);
	return EXIT_OK;
}

static void print_school(void *arg, const struct store_school *sc)
{
	struct cli_list *ls = arg;
	if (ls->json) {
		printf("%s{\"code\":", ls->count ? "," : "");
		json_print_string(stdout, sc->code);
		printf(",\"name\":");
		json_print_string(stdout, sc->name);
		printf(",\"commune\":");
		json_print_string(stdout, sc->commune);
		printf(",\"level\":%d,\"expected_pcs\":%d,\"enrolled_pcs\":%d}",
		       sc->level, sc->expected_pcs, sc->enrolled_pcs);
	} else {
		char code[SAFE_CAP(sizeof(sc->code))];
		char name[SAFE_CAP(sizeof(sc->name))];
		char commune[SAFE_CAP(sizeof(sc->commune))];
		printf("%-10s %-30s %-20s level %d  %d/%d PCs enrolled\n",
		       SAFE(code, sc->code), SAFE(name, sc->name),
		       SAFE(commune, sc->commune), sc->level,
		       sc->enrolled_pcs, sc->expected_pcs);
	}
	ls->count++;
}

int cmd_school_list(struct cli *cli, struct cli_env *env)
{
	struct cli_list ls = {.json = cli->json};
	if (ls.json)
		printf("[");
	int rc = store_school_list(env->store, print_school, &ls);
	if (ls.json)
		printf("]\n");
	return rc ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

int cmd_token_check(const struct cli *cli)
{
	return cli_usage_error("usage: token create --school CODE [--uses N] "
			       "[--expires 7d]");
}

int cmd_token_create_check(const struct cli *cli)
{
	long long seconds;
	if (cli->argc != 2 || cli->school == NULL)
		return cmd_token_check(cli);
	if (config_parse_duration(cli->expires, &seconds) != 0 || seconds < 1)
		return cli_usage_error("--expires '%s' is not a duration like 7d",
				       cli->expires);
	return 0;
}

int cli_token_issue(struct cli_env *env, const char *school, long uses,
		    long long seconds, char token[64])
{
	unsigned char hash[32];
	struct store_school sc;
	if (store_school_get(env->store, school, &sc) != 0) {
		fprintf(stderr, "eduwatch-collector: no school '%s' (add it with "
				"'school add')\n", school);
		return EXIT_NOT_FOUND;
	}
	if (enroll_token_new(token, hash) != 0 ||
	    store_token_add(env->store, hash, school, (int)uses,
			    store_now_us() + seconds * 1000000LL) != 0) {
		fprintf(stderr, "eduwatch-collector: cannot create the token\n");
		return EXIT_FAILURE_RUNTIME;
	}
	return EXIT_OK;
}

int cmd_token_create(struct cli *cli, struct cli_env *env)
{
	long long seconds = 0;
	char token[64];
	EW_IGNORE(config_parse_duration(cli->expires, &seconds)); /* checked */
	int rc = cli_token_issue(env, cli->school, cli->uses, seconds, token);
	if (rc != EXIT_OK)
		return rc;
	/* Only the token goes to stdout, so scripts can capture it. */
	printf("%s\n", token);
	fprintf(stderr, "token for school %s: %ld use(s), expires in %s; only its "
			"hash is stored\n", cli->school, cli->uses, cli->expires);
	OPENSSL_cleanse(token, sizeof(token));
	return EXIT_OK;
}
