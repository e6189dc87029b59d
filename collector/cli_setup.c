/* setup: the first-run wizard. One command takes a province from nothing
 * to a collector PCs can enroll with: the CA and the server certificate
 * (init), the first province_admin for the console, the schools from the
 * province's spreadsheet, and a sheet with one enrollment string per
 * school for the technicians. Everything it can check (the CSV, the
 * names, the sheet's path) is checked before the CA is made, so a typo
 * leaves nothing half built. Without --non-interactive, on a terminal,
 * it asks for what the flags did not give. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <uv.h>

#include "collector/cli.h"
#include "collector/register/register.h"
#include "collector/schoolcsv.h"
#include "common/alloc.h"
#include "common/config.h"
#include "common/enrollstr.h"
#include "common/fsutil.h"

/* Answers typed at the prompts live here until the command ends. */
static char answers[8][512];
static int nanswers;

/* Asks on the terminal; NULL when nothing was typed (or no terminal). */
static const char *ask(const char *question, const char *example)
{
	if (nanswers == (int)(sizeof(answers) / sizeof(answers[0])))
		return NULL;
	char *a = answers[nanswers];
	fprintf(stderr, "%s (e.g. %s): ", question, example);
	fflush(stderr);
	if (fgets(a, sizeof(answers[0]), stdin) == NULL)
		return NULL;
	a[strcspn(a, "\r\n")] = '\0';
	if (a[0] == '\0')
		return NULL;
	nanswers++;
	return a;
}

static int interview(struct cli *cli)
{
	if (cli->dir == NULL)
		cli->dir = ask("State directory for the CA and the database",
			       "/var/lib/eduwatch-collector");
	if (cli->nnames == 0) {
		const char *n = ask("The name PCs reach the collector by",
				    "collector.sgd.example.vn");
		if (n != NULL)
			cli->names[cli->nnames++] = n;
	}
	if (cli->schools_csv == NULL)
		cli->schools_csv = ask("The schools CSV (code,name,commune,"
				       "level,expected_pcs)", "schools.csv");
	if (cli->admin == NULL)
		cli->admin = ask("The first console administrator's user name",
				 "admin");
	if (cli->out == NULL)
		cli->out = ask("Where to write the enrollment sheet",
			       "enrollment-sheet.csv");
	return 0;
}

int cmd_setup_check(const struct cli *cli)
{
	long long seconds;
	if (cli->argc != 1)
		return cli_usage_error("setup takes no arguments, only options");
	if (config_parse_duration(cli->expires, &seconds) != 0 || seconds < 1)
		return cli_usage_error("--expires '%s' is not a duration like "
				       "30d", cli->expires);
	if (cli->admin != NULL && !cli_user_name_ok(cli->admin))
		return cli_usage_error("--admin '%s': a user name is letters, "
				       "digits and . _ - @", cli->admin);
	return 0;
}

/* A CSV field, quoted, with a formula's first character defused: the
 * sheet is opened in a spreadsheet, and a school name from the
 * province's file must not run there. */
static void csv_field(FILE *f, const char *s, bool last)
{
	fputc('"', f);
	if (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@')
		fputc('\'', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
	fputc(last ? '\n' : ',', f);
}

static int read_schools(const char *path, struct store_school **schools,
			size_t *n)
{
	char *buf = NULL, err[512];
	size_t len = 0;
	int rc = fs_read_file(path, REGISTER_CSV_MAX_BYTES, &buf, &len);
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: --schools %s: %s\n", path,
			uv_strerror(rc));
		return EXIT_CONFIG;
	}
	rc = schoolcsv_load(buf, len, schools, n, err, sizeof(err));
	alloc_free(buf);
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: %s: %s; nothing was set "
				"up\n", path, err);
		return EXIT_CONFIG;
	}
	return 0;
}

int cmd_setup(struct cli *cli, struct cli_env *env)
{
	struct store_school *schools = NULL;
	size_t n = 0;
	FILE *sheet = NULL;
	char text[ENROLLSTR_TEXT_MAX], path[1024];
	long long seconds = 0;
	int rc, fd;

	if (!cli->non_interactive && isatty(STDIN_FILENO))
		EW_IGNORE(interview(cli));
	if (cli->dir == NULL || cli->nnames == 0 || cli->schools_csv == NULL ||
	    cli->admin == NULL || cli->out == NULL)
		return cli_usage_error("setup needs --dir, --name, --schools, "
				       "--admin and --out (run it on a terminal "
				       "without --non-interactive to be asked)");
	if (!cli_user_name_ok(cli->admin))
		return cli_usage_error("'%s' is not a user name: letters, digits "
				       "and . _ - @", cli->admin);
	if (!cli->expires_set)
		cli->expires = "30d";
	if (config_parse_duration(cli->expires, &seconds) != 0 || seconds < 1)
		return cli_usage_error("--expires '%s' is not a duration",
				       cli->expires);
	if ((rc = read_schools(cli->schools_csv, &schools, &n)) != 0)
		return rc;
	/* The sheet holds live tokens: only its owner reads it, and an
	 * existing file (a link planted there) is never written through. */
	fd = open(cli->out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0 || (sheet = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "eduwatch-collector: --out %s: %s (it must not "
				"exist yet)\n", cli->out, uv_strerror(-errno));
		if (fd >= 0)
			close(fd);
		alloc_free(schools);
		return EXIT_CONFIG;
	}

	/* 1. The CA, the server certificate, the settings and the store. */
	if ((rc = cmd_init(cli, env)) != EXIT_OK)
		goto fail;
	snprintf(path, sizeof(path), "%s/collector.yaml", cli->dir);
	if ((rc = cli_load_settings(path, &env->settings)) != 0 ||
	    (rc = cli_open_store(&env->settings, &env->store)) != 0)
		goto fail;
	/* 2. The first administrator: password and TOTP secret, once. */
	printf("\nconsole administrator:\n");
	if ((rc = cli_user_create(env, cli->admin, "province_admin", "")) != 0)
		goto fail;
	/* 3. The schools. */
	for (size_t i = 0; i < n; i++)
		if (store_school_add(env->store, &schools[i]) != 0) {
			fprintf(stderr, "eduwatch-collector: cannot add school "
					"%s\n", schools[i].code);
			rc = EXIT_FAILURE_RUNTIME;
			goto fail;
		}
	/* 4. One enrollment string per school, with a use per expected PC. */
	fprintf(sheet, "school,name,commune,pcs,expires_in,enrollment_string\n");
	for (size_t i = 0; i < n; i++) {
		const struct store_school *sc = &schools[i];
		long uses = sc->expected_pcs > 0 ? sc->expected_pcs : 1;
		char pcs[16];
		rc = cli_enroll_string_issue(env, cli->names[0], sc->code, uses,
					     seconds, text, sizeof(text));
		if (rc != EXIT_OK)
			goto fail;
		snprintf(pcs, sizeof(pcs), "%ld", uses);
		csv_field(sheet, sc->code, false);
		csv_field(sheet, sc->name, false);
		csv_field(sheet, sc->commune, false);
		csv_field(sheet, pcs, false);
		csv_field(sheet, cli->expires, false);
		csv_field(sheet, text, true);
		OPENSSL_cleanse(text, sizeof(text));
	}
	if (fflush(sheet) != 0 || fsync(fileno(sheet)) != 0 ||
	    fclose(sheet) != 0) {
		sheet = NULL;
		fprintf(stderr, "eduwatch-collector: cannot write %s\n",
			cli->out);
		rc = EXIT_FAILURE_RUNTIME;
		goto fail;
	}
	sheet = NULL;
	printf("\n%zu schools imported; enrollment sheet: %s (mode 0600: it "
	       "holds live tokens; print it, give each school its line, then "
	       "delete it)\non each PC: eduwatch-agent enroll EW1-...\n"
	       "next: eduwatch-collector serve -c %s\n",
	       n, cli->out, path);
	alloc_free(schools);
	return EXIT_OK;
fail:
	if (sheet != NULL)
		fclose(sheet);
	unlink(cli->out);
	alloc_free(schools);
	fprintf(stderr, "eduwatch-collector: setup stopped; what it made in %s "
			"stays (remove the directory to start again)\n",
		cli->dir);
	return rc ? rc : EXIT_FAILURE_RUNTIME;
}
