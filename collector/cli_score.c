/* Compliance scores, their daily snapshots and history. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/alert.h"
#include "collector/cli.h"
#include "collector/score.h"
#include "common/timeutil.h"

int cmd_score_check(const struct cli *cli)
{
	if (cli->school && cli->commune)
		return cli_usage_error("score takes --school or --commune, not "
				       "both");
	if (cli->argc > 1)
		return cli_usage_error("unknown score command '%s'",
				       cli->argv[1]);
	return 0;
}

static void print_drop(void *arg, const struct alert_rule *rule,
		       const char *school, double drop)
{
	(void)arg;
	printf("alert: %s %s dropped %.1f points\n", rule->id, school, drop);
}

/* Today's scores for every school, commune and the province. */
static int snapshot(struct cli_env *env, const struct score_report *r)
{
	struct alert_rules rules;
	char err[512], day[11];
	int n = 0;
	if (alert_rules_load(env->settings.alert_rules, &rules, err,
			     sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_CONFIG;
	}
	score_day(timeutil_now_us(), day);
	int rc = score_snapshot(env->store, r,
				alert_rule_for(&rules, "compliance.drop"), day,
				print_drop, NULL, &n);
	alert_rules_free(&rules);
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: cannot write the snapshot\n");
		return EXIT_FAILURE_RUNTIME;
	}
	printf("snapshot %s: %d scores recorded (province %.1f%%)\n", day, n,
	       r->province);
	return EXIT_OK;
}

int cmd_score(struct cli *cli, struct cli_env *env)
{
	struct score_report report;
	char err[512];
	int rc = score_compute(env->store, &env->policies, cli->school,
			       timeutil_now_us(), &report, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		rc = rc == -ENOENT ? EXIT_NOT_FOUND : EXIT_FAILURE_RUNTIME;
	} else if (cli->snapshot) {
		rc = snapshot(env, &report);
	} else {
		score_print(stdout, &report, cli->commune, cli->school, cli->json);
		rc = EXIT_OK;
	}
	score_report_free(&report);
	return rc;
}

int cmd_score_history_check(const struct cli *cli)
{
	if (cli->school && cli->commune)
		return cli_usage_error("score takes --school or --commune, not "
				       "both");
	if (!cli->school && !cli->commune && !cli->province)
		return cli_usage_error("score history needs --school, --commune "
				       "or --province");
	return 0;
}

static void print_snapshot(void *arg, const struct store_snapshot *sn)
{
	bool *json_first = arg;
	if (json_first[0]) {
		printf("%s{\"day\":\"%s\",\"score\":%.2f,\"pcs\":%d}",
		       json_first[1] ? "" : ",", sn->day, sn->score, sn->pcs);
		json_first[1] = false;
	} else {
		printf("%s  %5.1f%%  %d PCs\n", sn->day, sn->score, sn->pcs);
	}
}

int cmd_score_history(struct cli *cli, struct cli_env *env)
{
	const char *scope = cli->school ? "school" : cli->commune ? "commune"
								 : "province";
	const char *key = cli->school ? cli->school
			  : cli->commune ? cli->commune
					 : "";
	long limit = cli->limit ? cli->limit : 30;
	bool json_first[2] = {cli->json, true};
	if (cli->json)
		printf("[");
	int rc = store_snapshot_list(env->store, scope, key, (int)limit,
				     print_snapshot, json_first);
	if (cli->json)
		printf("]\n");
	return rc == 0 ? EXIT_OK : EXIT_FAILURE_RUNTIME;
}
