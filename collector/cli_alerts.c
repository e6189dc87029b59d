/* The officers' alerts: list, acknowledge, resolve. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "collector/cli.h"
#include "common/jsonout.h"
#include "common/textsafe.h"
#include "common/timeutil.h"

static int check_state(const struct cli *cli)
{
	if (cli->state && strcmp(cli->state, "open") != 0 &&
	    strcmp(cli->state, "acknowledged") != 0 &&
	    strcmp(cli->state, "resolved") != 0)
		return cli_usage_error("--state is open, acknowledged or "
				       "resolved");
	return 0;
}

int cmd_alerts_check(const struct cli *cli)
{
	if (cli->argc > 1 && strcmp(cli->argv[1], "list") == 0)
		return check_state(cli);
	return cli_usage_error("alerts list | ack ID --by NAME | resolve ID "
			       "--by NAME");
}

static void print_alert(void *arg, const struct store_alert *a)
{
	struct cli_list *ls = arg;
	char first[32], last[32];
	timeutil_format_us(a->first_us, first, sizeof(first));
	timeutil_format_us(a->last_us, last, sizeof(last));
	if (!ls->json) {
		char rule[SAFE_CAP(sizeof(a->rule))];
		char school[SAFE_CAP(sizeof(a->school))];
		char host[SAFE_CAP(sizeof(a->hostname))];
		char title[SAFE_CAP(sizeof(a->title))];
		char ack_by[SAFE_CAP(sizeof(a->ack_by))];
		printf("%-6llu %-13s sev %-2d %-22s %-8s %s%s\n       %s x%lld, "
		       "first %s, last %s%s%s\n       ",
		       (unsigned long long)a->id, a->state, a->severity,
		       SAFE(rule, a->rule), SAFE(school, a->school),
		       SAFE(host, a->hostname[0] ? a->hostname : a->agent),
		       a->drill ? " [drill]" : "", SAFE(title, a->title),
		       a->count, first, last,
		       a->ack_by[0] ? ", acknowledged by " : "",
		       SAFE(ack_by, a->ack_by));
		textsafe_fwrite_json(stdout, a->evidence, strlen(a->evidence));
		putchar('\n');
		ls->count++;
		return;
	}
	printf("%s{\"id\":%llu,", ls->count ? "," : "",
	       (unsigned long long)a->id);
	struct store_field texts[STORE_ALERT_TEXT_FIELDS];
	size_t n = store_alert_text_fields(a, first, last, texts);
	for (size_t i = 0; i < n; i++) {
		printf("\"%s\":", texts[i].name);
		json_print_string(stdout, texts[i].value);
		putchar(',');
	}
	printf("\"severity\":%d,\"drill\":%s,\"count\":%lld,\"evidence\":",
	       a->severity, a->drill ? "true" : "false", a->count);
	/* Stored by an older version, evidence may hold invalid UTF-8. */
	if (a->evidence[0])
		json_print_sanitized(stdout, a->evidence, strlen(a->evidence));
	else
		fputs("{}", stdout);
	putchar('}');
	ls->count++;
}

int cmd_alerts_list(struct cli *cli, struct cli_env *env)
{
	struct cli_list ls = {.json = cli->json};
	if (ls.json)
		printf("[");
	int rc = store_alert_list(env->store, cli->state, cli->school,
				  cli->limit ? (int)cli->limit : 100,
				  print_alert, &ls);
	if (ls.json)
		printf("]\n");
	else if (ls.count == 0)
		printf("no alerts\n");
	return rc == 0 ? EXIT_OK : EXIT_FAILURE_RUNTIME;
}

int cmd_alerts_set_check(const struct cli *cli)
{
	long id;
	if (cli->argc < 3 || cli_parse_long(cli->argv[2], 1, LONG_MAX, &id) ||
	    cli->by == NULL)
		return cli_usage_error("alerts %s needs an alert id and --by NAME",
				       cli->argv[1]);
	return 0;
}

/* ack and resolve: the second word names the state. */
int cmd_alerts_set(struct cli *cli, struct cli_env *env)
{
	long id = 0;
	EW_IGNORE(cli_parse_long(cli->argv[2], 1, LONG_MAX, &id)); /* checked */
	const char *state = strcmp(cli->argv[1], "ack") == 0 ? "acknowledged"
							      : "resolved";
	int rc = store_alert_set_state(env->store, (uint64_t)id, state, cli->by);
	if (rc == 0)
		printf("alert %ld %s by %s\n", id, state, cli->by);
	else
		fprintf(stderr, "eduwatch-collector: alert %ld: %s\n", id,
			rc == -ENOENT	   ? "no such alert"
			: rc == -EALREADY ? "already past that state"
					  : "cannot update");
	return rc == 0 ? EXIT_OK : rc == -ENOENT ? EXIT_NOT_FOUND
						 : EXIT_FAILURE_RUNTIME;
}
