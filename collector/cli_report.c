/* Six-monthly and annual reports: report draft|show|export|sign|list|
 * verify. The numbers come from collector/report (one model); this file
 * only picks the period, the scope and where files go. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/cli.h"
#include "collector/report/report.h"
#include "common/alloc.h"
#include "common/fsutil.h"
#include "common/jsonout.h"
#include "common/textsafe.h"

int cmd_report_check(const struct cli *cli)
{
	if (cli->argc < 2)
		return cli_usage_error("report needs draft, show, export, sign, "
				       "list or verify");
	return cli_usage_error("unknown report command '%s'", cli->argv[1]);
}

/* The --set remarks=TEXT of draft; NULL when not given. */
static const char *remarks_of(const struct cli *cli)
{
	const char *r = NULL;
	for (size_t i = 0; i < cli->nsets; i++)
		if (strncmp(cli->sets[i], "remarks=", 8) == 0)
			r = cli->sets[i] + 8;
	return r;
}

static bool format_known(const char *f)
{
	return f && (strcmp(f, "pdf") == 0 || strcmp(f, "xlsx") == 0 ||
		     strcmp(f, "csv") == 0 || strcmp(f, "json") == 0);
}

int cmd_report_scoped_check(const struct cli *cli)
{
	struct report_calendar cal;
	struct report_period p;
	struct report_scope s;
	char err[256];
	report_calendar_default(&cal);
	if (cli->argc != 2 || cli->period == NULL || cli->scope == NULL)
		return cli_usage_error("usage: report %s --period 2026-H1|2026 "
				       "--scope province|commune:NAME|school:CODE",
				       cli->argv[1]);
	if (report_period_parse(cli->period, &cal, &p, err, sizeof(err)) != 0 ||
	    report_scope_parse(cli->scope, &s, err, sizeof(err)) != 0)
		return cli_usage_error("%s", err);
	for (size_t i = 0; i < cli->nsets; i++) {
		const char *v = cli->sets[i];
		if (strncmp(v, "remarks=", 8) != 0)
			return cli_usage_error("report takes only --set "
					       "remarks=TEXT");
		if (strlen(v + 8) >= REPORT_TEXT_MAX ||
		    !textsafe_is_clean(v + 8, strlen(v + 8)))
			return cli_usage_error("remarks must be UTF-8 text "
					       "without control characters, "
					       "under %d bytes", REPORT_TEXT_MAX);
	}
	if ((cli->format || cli->out) && strcmp(cli->argv[1], "sign") != 0 &&
	    (!format_known(cli->format) || cli->out == NULL))
		return cli_usage_error("--format pdf|xlsx|csv|json goes with "
				       "--out PATH");
	if (strcmp(cli->argv[1], "export") == 0 && cli->format == NULL)
		return cli_usage_error("usage: report export --period P --scope "
				       "S --format pdf|xlsx|csv|json --out PATH");
	if (strcmp(cli->argv[1], "sign") == 0 &&
	    (cli->by == NULL || !textsafe_is_clean(cli->by, strlen(cli->by)) ||
	     strlen(cli->by) >= 64 || cli->by[0] == '\0'))
		return cli_usage_error("report sign needs --by NAME (who signs "
				       "it off, under 64 bytes)");
	return 0;
}

/* names: where the destinations' names are kept for o. */
static void options_of(const struct cli_env *env, struct report_options *o,
		       const char *names[SETTINGS_FORWARD_MAX])
{
	for (size_t i = 0; i < env->settings.nforward; i++)
		names[i] = env->settings.forward[i].name;
	*o = (struct report_options){
		.threshold = (double)env->settings.report_threshold,
		.forward_dests = env->settings.nforward,
		.forward_dest_names = names,
		.unit_name = env->settings.report_unit,
		.now_us = store_now_us(),
	};
}

/* The fonts folder of the settings loaded for this command. */
static const char *fonts_dir;

static int parse_both(const struct cli *cli, const struct cli_env *env,
		      struct report_period *p, struct report_scope *s)
{
	struct report_calendar cal;
	char err[256];
	const struct settings *st = &env->settings;
	fonts_dir = st->report_fonts_dir;
	/* Checked at load (settings_load). */
	report_calendar_parse(st->report_six_monthly, st->report_annual,
			      (int)st->report_draft_days, &cal, err,
			      sizeof(err));
	/* Checked already by cmd_report_scoped_check. */
	if (report_period_parse(cli->period, &cal, p, err, sizeof(err)) != 0 ||
	    report_scope_parse(cli->scope, s, err, sizeof(err)) != 0)
		return -EINVAL;
	return 0;
}

static int render(const struct report *r, const char *format,
		  const char *path, char *err, size_t errlen)
{
	return report_render(r, format, path, fonts_dir, err, errlen);
}

static int fail_msg(int rc, const char *err)
{
	fprintf(stderr, "eduwatch-collector: %s\n", err);
	return rc == -ENOENT ? EXIT_NOT_FOUND : EXIT_FAILURE_RUNTIME;
}

int cmd_report_draft(struct cli *cli, struct cli_env *env)
{
	struct report_period p;
	struct report_scope s;
	struct report_options o;
	const char *dests[SETTINGS_FORWARD_MAX];
	struct report r;
	uint64_t id;
	char err[512];
	parse_both(cli, env, &p, &s);
	options_of(env, &o, dests);
	int rc = report_draft_store(env->store, &p, &s, &o, remarks_of(cli), &r,
				    &id, err, sizeof(err));
	if (rc != 0)
		return fail_msg(rc, err);
	printf("report %" PRIu64 ": %s %s version %d (draft)\n", id, p.id, s.id,
	       r.version);
	if (r.missing_count)
		printf("missing days: %zu (%s)\n", r.missing_count,
		       r.missing_days);
	if (cli->format && (rc = render(&r, cli->format, cli->out, err,
					sizeof(err))) != 0) {
		report_free(&r);
		return fail_msg(rc, err);
	}
	if (cli->format)
		printf("%s\n", cli->out);
	report_free(&r);
	return EXIT_OK;
}

/* The model of the command line's period and scope, computed now. */
static int build_now(const struct cli *cli, const struct cli_env *env,
		     struct report *r, char *err, size_t errlen)
{
	struct report_period p;
	struct report_scope s;
	struct report_options o;
	const char *dests[SETTINGS_FORWARD_MAX];
	parse_both(cli, env, &p, &s);
	options_of(env, &o, dests);
	return report_build(env->store, &p, &s, &o, r, err, errlen);
}

int cmd_report_export(struct cli *cli, struct cli_env *env)
{
	struct report r;
	char err[512];
	int rc = build_now(cli, env, &r, err, sizeof(err));
	if (rc != 0)
		return fail_msg(rc, err);
	rc = render(&r, cli->format, cli->out, err, sizeof(err));
	report_free(&r);
	if (rc != 0)
		return fail_msg(rc, err);
	printf("%s\n", cli->out);
	return EXIT_OK;
}

int cmd_report_show(struct cli *cli, struct cli_env *env)
{
	struct report r;
	char err[512], v[64];
	int rc = build_now(cli, env, &r, err, sizeof(err));
	if (rc != 0)
		return fail_msg(rc, err);
	printf("%s %s: %s .. %s (due %s); days with data %zu of %zu\n",
	       r.period.id, r.scope.id, r.period.from, r.period.to,
	       r.period.due, r.days_present, r.days_expected);
	if (r.missing_count)
		printf("missing days (%zu): %s\n", r.missing_count,
		       r.missing_days);
	for (int i = 0; i < SEC_COUNT; i++) {
		printf("\n%s\n", r.sections[i].title_vi);
		for (size_t k = 0; k < r.sections[i].nfigures; k++) {
			const struct report_figure *f = &r.sections[i].figures[k];
			if (f->na)
				snprintf(v, sizeof(v), "n/a");
			else
				snprintf(v, sizeof(v), "%.2f", f->value);
			printf("  %-26s %10s %s\n", f->key, v, f->unit);
		}
	}
	printf("\n%s\n", r.summary_vi);
	report_free(&r);
	return EXIT_OK;
}

int cmd_report_sign(struct cli *cli, struct cli_env *env)
{
	struct report_period p;
	struct report_scope s;
	struct report_options o;
	const char *dests[SETTINGS_FORWARD_MAX];
	char err[512] = "";
	parse_both(cli, env, &p, &s);
	options_of(env, &o, dests);
	struct report_signoff so = {
		.by = cli->by,
		.state_dir = env->settings.state_dir,
		.fonts_dir = fonts_dir,
		.key = ca_key(env->ca),
	};
	int rc = report_sign_store(env->store, &p, &s, &o, &so, err,
				   sizeof(err));
	if (rc != 0)
		return fail_msg(rc == -ENOENT ? rc : -EIO, err);
	printf("signed %s %s version %d by %s\n%s\nsha256 %s\n%s.sig\n", p.id,
	       s.id, so.version, cli->by, so.pdf, so.sha256, so.pdf);
	return EXIT_OK;
}

static void print_report(void *arg, const struct store_report *r)
{
	struct cli_list *ls = arg;
	char scope[SAFE_CAP(sizeof(r->scope))], by[SAFE_CAP(sizeof(r->signed_by))];
	if (ls->json) {
		printf("%s{\"id\":%" PRIu64 ",\"period\":", ls->count ? "," : "",
		       r->id);
		json_print_string(stdout, r->period);
		printf(",\"scope\":");
		json_print_string(stdout, r->scope);
		printf(",\"version\":%d,\"state\":\"%s\",\"supersedes\":%" PRIu64
		       ",\"signed_by\":",
		       r->version, r->state, r->supersedes);
		json_print_string(stdout, r->signed_by);
		printf(",\"pdf\":");
		json_print_string(stdout, r->pdf_path);
		printf(",\"sha256\":\"%s\"}", r->pdf_sha256);
	} else {
		printf("%-5" PRIu64 " %-8s %-30s v%-3d %-6s %s%s%s\n", r->id,
		       r->period, SAFE(scope, r->scope), r->version, r->state,
		       SAFE(by, r->signed_by), r->supersedes ? " corrects " : "",
		       r->supersedes ? "an earlier version" : "");
	}
	ls->count++;
}

int cmd_report_list(struct cli *cli, struct cli_env *env)
{
	struct cli_list ls = {.json = cli->json};
	if (ls.json)
		printf("[");
	int rc = store_report_list(env->store, cli->period, cli->scope,
				   print_report, &ls);
	if (ls.json)
		printf("]\n");
	return rc ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

int cmd_report_verify_check(const struct cli *cli)
{
	if (cli->argc != 3)
		return cli_usage_error("usage: report verify FILE.pdf");
	return 0;
}

int cmd_report_verify(struct cli *cli, struct cli_env *env)
{
	char err[600], ca[600], path[SAFE_CAP(256)];
	ca_path(env->settings.state_dir, "ca.crt", ca, sizeof(ca));
	if (report_verify_file(cli->argv[2], ca, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-collector: NOT VERIFIED: %s\n", err);
		return EXIT_FAILURE_RUNTIME;
	}
	printf("verified: %s is the report the collector's CA signed\n",
	       SAFE(path, cli->argv[2]));
	return EXIT_OK;
}
