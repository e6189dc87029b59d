/* cli_user: the console's accounts from the command line: the first
 * admin, and recovery when nobody can log in. Every change is written to
 * the audit log as done by "cli" from "local". */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "collector/cli.h"
#include "collector/web/web.h"
#include "common/jsonout.h"
#include "common/textsafe.h"

static const char user_usage[] =
	"usage: user add NAME ROLE [SCOPE] | user list [--json] | "
	"user disable NAME | user passwd NAME | user role NAME ROLE [SCOPE] | "
	"user unlock NAME";

int cmd_user_check(const struct cli *cli)
{
	return cli_usage_error("%s", user_usage);
}

int cmd_user_args_check(const struct cli *cli)
{
	const char *sub = cli->argv[1];
	int want_min = 3, want_max = 3;
	if (strcmp(sub, "add") == 0 || strcmp(sub, "role") == 0)
		want_min = 4, want_max = 5;
	if (cli->argc < want_min || cli->argc > want_max)
		return cmd_user_check(cli);
	if (!web_user_name_ok(cli->argv[2]))
		return cli_usage_error("a user name is 1..%d of letters, digits "
				       "and . _ - @, not '%s'",
				       STORE_USER_MAX, cli->argv[2]);
	if (want_min == 4) {
		char err[256];
		const char *scope = cli->argc == 5 ? cli->argv[4] : "";
		if (web_role_check(cli->argv[3], scope, err, sizeof(err)) != 0)
			return cli_usage_error("%s", err);
	}
	return 0;
}

static void audit(struct store *st, const char *action, const char *object,
		  const char *detail)
{
	struct store_audit a = {0};
	struct passwd *pw = getpwuid(getuid());
	snprintf(a.actor, sizeof(a.actor), "cli:%s", pw ? pw->pw_name : "?");
	snprintf(a.action, sizeof(a.action), "%s", action);
	snprintf(a.object, sizeof(a.object), "user:%s", object);
	snprintf(a.address, sizeof(a.address), "local");
	snprintf(a.detail, sizeof(a.detail), "%s", detail);
	if (store_audit_add(st, &a) != 0)
		fprintf(stderr, "eduwatch-collector: warning: could not write "
				"the audit log\n");
}

/* A fresh random password, hashed into u; printed once for the person
 * who will log in with it. */
static int new_password(struct store_user *u, char *pw, size_t cap)
{
	if (web_password_new(pw, cap) != 0 ||
	    web_password_hash(pw, u->pwhash, sizeof(u->pwhash)) != 0) {
		fprintf(stderr, "eduwatch-collector: cannot make a password\n");
		return EXIT_FAILURE_RUNTIME;
	}
	return 0;
}

static void print_secret_lines(const struct store_user *u, const char *pw)
{
	printf("user %s (%s%s%s)\n", u->name, u->role, u->scope[0] ? " " : "",
	       u->scope);
	printf("one-time password: %s\n", pw);
	if (u->totp[0])
		printf("TOTP secret: %s (otpauth://totp/eduwatch:%s?secret=%s"
		       "&issuer=eduwatch)\n",
		       u->totp, u->name, u->totp);
}

bool cli_user_name_ok(const char *name)
{
	return web_user_name_ok(name);
}

int cli_user_create(struct cli_env *env, const char *name, const char *role,
		    const char *scope)
{
	struct store_user u = {0};
	char pw[32];
	int rc;
	snprintf(u.name, sizeof(u.name), "%s", name);
	snprintf(u.role, sizeof(u.role), "%s", role);
	snprintf(u.scope, sizeof(u.scope), "%s", scope);
	snprintf(u.lang, sizeof(u.lang), "vi");
	if ((rc = new_password(&u, pw, sizeof(pw))) != 0)
		return rc;
	if (web_role_needs_totp(u.role) &&
	    web_totp_secret_new(u.totp, sizeof(u.totp)) != 0)
		return EXIT_FAILURE_RUNTIME;
	rc = store_user_add(env->store, &u);
	if (rc == -EEXIST) {
		fprintf(stderr, "eduwatch-collector: user '%s' exists (use "
				"'user passwd' or 'user role')\n", u.name);
		return EXIT_USAGE;
	}
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: cannot add user '%s'\n",
			u.name);
		return EXIT_FAILURE_RUNTIME;
	}
	audit(env->store, "user.add", u.name, u.role);
	print_secret_lines(&u, pw);
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(u.totp, sizeof(u.totp));
	return EXIT_OK;
}

static int user_add(struct cli *cli, struct cli_env *env)
{
	return cli_user_create(env, cli->argv[2], cli->argv[3],
			       cli->argc == 5 ? cli->argv[4] : "");
}

static int load(struct cli_env *env, const char *name, struct store_user *u)
{
	int rc = store_user_get(env->store, name, u);
	if (rc == -ENOENT) {
		fprintf(stderr, "eduwatch-collector: no user '%s'\n", name);
		return EXIT_NOT_FOUND;
	}
	return rc ? EXIT_FAILURE_RUNTIME : 0;
}

static int save(struct cli_env *env, struct store_user *u, const char *action,
		const char *detail)
{
	if (store_user_update(env->store, u) != 0) {
		fprintf(stderr, "eduwatch-collector: cannot update user '%s'\n",
			u->name);
		return EXIT_FAILURE_RUNTIME;
	}
	audit(env->store, action, u->name, detail);
	return 0;
}

static void print_user(void *arg, const struct store_user *u)
{
	struct cli_list *ls = arg;
	if (ls->json) {
		printf("%s{\"name\":", ls->count ? "," : "");
		json_print_string(stdout, u->name);
		printf(",\"role\":");
		json_print_string(stdout, u->role);
		printf(",\"scope\":");
		json_print_string(stdout, u->scope);
		printf(",\"disabled\":%s,\"locked\":%s,\"failed_logins\":%d,"
		       "\"totp\":%s,\"lang\":",
		       u->disabled ? "true" : "false",
		       u->locked ? "true" : "false", u->failed,
		       u->totp[0] ? "true" : "false");
		json_print_string(stdout, u->lang);
		printf("}");
	} else {
		char scope[SAFE_CAP(sizeof(u->scope))];
		printf("%-20s %-18s %-20s%s%s%s\n", u->name, u->role,
		       SAFE(scope, u->scope), u->disabled ? " disabled" : "",
		       u->locked ? " locked" : "", u->totp[0] ? " totp" : "");
	}
	ls->count++;
}

int cmd_user(struct cli *cli, struct cli_env *env)
{
	const char *sub = cli->argv[1];
	struct store_user u;
	char pw[32];
	int rc;
	if (strcmp(sub, "list") == 0) {
		struct cli_list ls = {.json = cli->json};
		if (ls.json)
			printf("[");
		rc = store_user_list(env->store, print_user, &ls);
		if (ls.json)
			printf("]\n");
		return rc ? EXIT_FAILURE_RUNTIME : EXIT_OK;
	}
	if (strcmp(sub, "add") == 0)
		return user_add(cli, env);
	if ((rc = load(env, cli->argv[2], &u)) != 0)
		return rc;
	if (strcmp(sub, "disable") == 0) {
		u.disabled = true;
		if ((rc = save(env, &u, "user.disable", "")) != 0)
			return rc;
		store_session_delete_user(env->store, u.name);
		printf("user %s disabled; its sessions are ended\n", u.name);
	} else if (strcmp(sub, "unlock") == 0) {
		u.locked = false;
		u.failed = 0;
		if ((rc = save(env, &u, "user.unlock", "")) != 0)
			return rc;
		printf("user %s unlocked\n", u.name);
	} else if (strcmp(sub, "passwd") == 0) {
		if ((rc = new_password(&u, pw, sizeof(pw))) != 0)
			return rc;
		u.locked = false;
		u.failed = 0;
		if ((rc = save(env, &u, "user.passwd", "")) != 0)
			return rc;
		store_session_delete_user(env->store, u.name);
		print_secret_lines(&u, pw);
		OPENSSL_cleanse(pw, sizeof(pw));
	} else if (strcmp(sub, "role") == 0) {
		snprintf(u.role, sizeof(u.role), "%s", cli->argv[3]);
		snprintf(u.scope, sizeof(u.scope), "%s",
			 cli->argc == 5 ? cli->argv[4] : "");
		bool new_totp = web_role_needs_totp(u.role) && !u.totp[0];
		if (new_totp && web_totp_secret_new(u.totp, sizeof(u.totp)) != 0)
			return EXIT_FAILURE_RUNTIME;
		if ((rc = save(env, &u, "user.role", u.role)) != 0)
			return rc;
		/* A narrower role must not live on in open sessions. */
		store_session_delete_user(env->store, u.name);
		printf("user %s is now %s%s%s\n", u.name, u.role,
		       u.scope[0] ? " of " : "", u.scope);
		if (new_totp)
			printf("TOTP secret: %s\n", u.totp);
	} else {
		return cmd_user_check(cli);
	}
	return EXIT_OK;
}
