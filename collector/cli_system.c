/* The register of information systems: system add|set|list|import. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/cli.h"
#include "collector/register/register.h"
#include "common/alloc.h"
#include "common/fsutil.h"
#include "common/jsonout.h"
#include "common/textsafe.h"

int cmd_system_check(const struct cli *cli)
{
	if (cli->argc < 2)
		return cli_usage_error("system needs add, set, list or import");
	return cli_usage_error("unknown system command '%s'", cli->argv[1]);
}

/* Applies each --set COLUMN=VALUE to y, checked as the CSV's are. */
static int apply_sets(const struct cli *cli, struct store_system *y)
{
	char why[256];
	for (size_t i = 0; i < cli->nsets; i++) {
		const char *eq = strchr(cli->sets[i], '=');
		int c = eq ? register_col_find(cli->sets[i],
					       (size_t)(eq - cli->sets[i]))
			   : -1;
		if (c < 0)
			return cli_usage_error("--set '%.*s...' is not "
					       "COLUMN=VALUE with a column of "
					       "the register", 40, cli->sets[i]);
		if (register_set_field(y, (enum register_col)c, eq + 1,
				       strlen(eq + 1), why, sizeof(why)) != 0)
			return cli_usage_error("--set %s: %s",
					       register_col_name(c), why);
	}
	if (register_check(y, why, sizeof(why)) != 0)
		return cli_usage_error("%s", why);
	return 0;
}

/* The add command's system: positional UNIT NAME, --kind, --level and
 * each --set, with the dossier not started unless said. */
static int system_from_cli(const struct cli *cli, struct store_system *y)
{
	char why[256];
	memset(y, 0, sizeof(*y));
	snprintf(y->dossier, sizeof(y->dossier), "not_started");
	if (register_set_field(y, REG_UNIT, cli->argv[2], strlen(cli->argv[2]),
			       why, sizeof(why)) != 0 ||
	    register_set_field(y, REG_NAME, cli->argv[3], strlen(cli->argv[3]),
			       why, sizeof(why)) != 0 ||
	    register_set_field(y, REG_KIND, cli->kind, strlen(cli->kind), why,
			       sizeof(why)) != 0)
		return cli_usage_error("%s", why);
	y->level = (int)cli->level;
	return apply_sets(cli, y);
}

int cmd_system_add_check(const struct cli *cli)
{
	struct store_system y;
	if (cli->argc != 4 || cli->kind == NULL || cli->level < 1)
		return cli_usage_error("usage: system add UNIT NAME --kind KIND "
				       "--level 1-5 [--set COLUMN=VALUE]...");
	return system_from_cli(cli, &y);
}

static void print_level_note(struct store *st, const char *unit)
{
	struct store_school sc;
	if (store_school_get(st, unit, &sc) == 0)
		printf("school %s: policy level %d\n", unit, sc.level);
}

int cmd_system_add(struct cli *cli, struct cli_env *env)
{
	struct store_system y;
	uint64_t id;
	system_from_cli(cli, &y); /* checked */
	if (store_system_put(env->store, &y, &id) != 0) {
		fprintf(stderr, "eduwatch-collector: cannot store the system\n");
		return EXIT_FAILURE_RUNTIME;
	}
	printf("system %" PRIu64 "\n", id);
	print_level_note(env->store, y.unit);
	return EXIT_OK;
}

int cmd_system_set_check(const struct cli *cli)
{
	long id;
	struct store_system y = {.level = 1};
	if (cli->argc != 3 || cli->nsets == 0 ||
	    cli_parse_long(cli->argv[2], 1, 0x7fffffffL, &id) != 0)
		return cli_usage_error("usage: system set ID --set "
				       "COLUMN=VALUE...");
	/* Each value on its own, before the store is opened; the whole
	 * system is checked again once its stored columns are known. */
	snprintf(y.unit, sizeof(y.unit), "x");
	snprintf(y.name, sizeof(y.name), "x");
	snprintf(y.kind, sizeof(y.kind), "x");
	snprintf(y.dossier, sizeof(y.dossier), "not_started");
	snprintf(y.authority, sizeof(y.authority), "x");
	snprintf(y.decision_no, sizeof(y.decision_no), "x");
	snprintf(y.decision_date, sizeof(y.decision_date), "2000-01-01");
	return apply_sets(cli, &y);
}

int cmd_system_set(struct cli *cli, struct cli_env *env)
{
	struct store_system y;
	long id;
	EW_IGNORE(cli_parse_long(cli->argv[2], 1, 0x7fffffffL, &id)); /* checked */
	int rc = store_system_get(env->store, (uint64_t)id, &y);
	if (rc == -ENOENT) {
		fprintf(stderr, "eduwatch-collector: no system %ld\n", id);
		return EXIT_NOT_FOUND;
	}
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: cannot read system %ld\n",
			id);
		return EXIT_FAILURE_RUNTIME;
	}
	if ((rc = apply_sets(cli, &y)) != 0)
		return rc;
	if (store_system_set(env->store, &y) != 0) {
		fprintf(stderr, "eduwatch-collector: cannot store system %ld "
				"(is (unit, name) taken by another?)\n", id);
		return EXIT_FAILURE_RUNTIME;
	}
	printf("system %ld updated\n", id);
	print_level_note(env->store, y.unit);
	return EXIT_OK;
}

static void json_field(const char *key, const char *value, bool first)
{
	printf("%s\"%s\":", first ? "" : ",", key);
	json_print_string(stdout, value);
}

static void print_system(void *arg, const struct store_system *y)
{
	struct cli_list *ls = arg;
	if (ls->json) {
		printf("%s{\"id\":%" PRIu64 ",", ls->count ? "," : "", y->id);
		json_field("unit", y->unit, true);
		json_field("name", y->name, false);
		json_field("kind", y->kind, false);
		printf(",\"level\":%d", y->level);
		json_field("dossier", y->dossier, false);
		json_field("authority", y->authority, false);
		json_field("decision_no", y->decision_no, false);
		json_field("decision_date", y->decision_date, false);
		json_field("review_due", y->review_due, false);
		json_field("hosts", y->hosts, false);
		printf("}");
	} else {
		char unit[SAFE_CAP(sizeof(y->unit))];
		char name[SAFE_CAP(sizeof(y->name))];
		char kind[SAFE_CAP(sizeof(y->kind))];
		char no[SAFE_CAP(sizeof(y->decision_no))];
		printf("%-6" PRIu64 " %-10s %-36s %-16s level %d  %-11s %s %s "
		       "review %s\n",
		       y->id, SAFE(unit, y->unit), SAFE(name, y->name),
		       SAFE(kind, y->kind), y->level, y->dossier,
		       SAFE(no, y->decision_no), y->decision_date,
		       y->review_due[0] ? y->review_due : "-");
	}
	ls->count++;
}

int cmd_system_list(struct cli *cli, struct cli_env *env)
{
	struct cli_list ls = {.json = cli->json};
	if (ls.json)
		printf("[");
	int rc = store_system_list(env->store, cli->school, print_system, &ls);
	if (ls.json)
		printf("]\n");
	return rc ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

int cmd_system_import_check(const struct cli *cli)
{
	if (cli->argc != 3)
		return cli_usage_error("usage: system import FILE.csv");
	return 0;
}

int cmd_system_import(struct cli *cli, struct cli_env *env)
{
	char err[512], path[SAFE_CAP(256)];
	char *buf = NULL;
	size_t len, count = 0;
	struct store_system *items = NULL;
	int rc = fs_read_file(cli->argv[2], REGISTER_CSV_MAX_BYTES, &buf, &len);
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: cannot read %s: %s\n",
			SAFE(path, cli->argv[2]),
			rc == -EFBIG ? "larger than 64 MiB"
				     : uv_strerror(rc));
		return EXIT_FAILURE_RUNTIME;
	}
	/* Every row is checked before the first is stored. */
	if (register_csv_load(buf, len, &items, &count, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-collector: %s: %s; nothing was "
				"imported\n", SAFE(path, cli->argv[2]), err);
		alloc_free(buf);
		return EXIT_USAGE;
	}
	alloc_free(buf);
	for (size_t i = 0; i < count; i++)
		if (store_system_put(env->store, &items[i], NULL) != 0) {
			fprintf(stderr, "eduwatch-collector: storing system %zu "
					"of %zu failed; the ones before it are "
					"stored, run the import again\n",
				i + 1, count);
			alloc_free(items);
			return EXIT_FAILURE_RUNTIME;
		}
	printf("imported %zu systems\n", count);
	alloc_free(items);
	return EXIT_OK;
}
