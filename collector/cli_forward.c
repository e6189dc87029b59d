/* The SOC destinations: alerts parked as dead letters. */
#include <stdio.h>
#include <string.h>

#include "collector/cli.h"
#include "common/jsonout.h"
#include "common/timeutil.h"

int cmd_forward_check(const struct cli *cli)
{
	if (cli->argc != 3 || strcmp(cli->argv[1], "dead-letter") != 0 ||
	    strcmp(cli->argv[2], "list") != 0)
		return cli_usage_error("usage: forward dead-letter list "
				       "[--limit N] [--json]");
	return 0;
}

static void print_dead_letter(void *arg, const struct store_dead_letter *dl)
{
	struct cli_list *ls = arg;
	char when[32];
	timeutil_format_us(dl->at_us, when, sizeof(when));
	if (ls->json) {
		printf("%s{\"id\":%llu,\"at\":\"%s\",\"destination\":",
		       ls->count ? "," : "", (unsigned long long)dl->id, when);
		json_print_string(stdout, dl->dest);
		printf(",\"alert\":%llu,\"status\":%d,\"rule\":",
		       (unsigned long long)dl->alert, dl->status);
		json_print_string(stdout, dl->rule);
		fputs(",\"agent\":", stdout);
		json_print_string(stdout, dl->agent);
		fputs(",\"reason\":", stdout);
		json_print_string(stdout, dl->reason);
		putchar('}');
	} else {
		/* The reason is printable ASCII (forward.c); the rest ours. */
		printf("%-6llu %s %-16s alert %-6llu %-20s %s\n",
		       (unsigned long long)dl->id, when, dl->dest,
		       (unsigned long long)dl->alert, dl->rule, dl->reason);
	}
	ls->count++;
}

int cmd_forward_dead_letters(struct cli *cli, struct cli_env *env)
{
	struct cli_list ls = {.json = cli->json};
	if (ls.json)
		printf("[");
	int rc = store_dead_letter_list(env->store, NULL,
					cli->limit ? (int)cli->limit : 100,
					print_dead_letter, &ls);
	if (ls.json)
		printf("]\n");
	else if (ls.count == 0)
		printf("no dead letters\n");
	return rc == 0 ? EXIT_OK : EXIT_FAILURE_RUNTIME;
}
