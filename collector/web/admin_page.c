/* admin_page: accounts from the console, as `eduwatch-collector user`
 * does them from the command line: add, disable, unlock, a new one-time
 * password, a new role; and each officer's own TOTP enrolment. Every
 * change is a POST behind the CSRF check (pages.c), is audit-logged with
 * who, what and from where, and shows a new secret once, never again.
 * Reads of the list go through the console's reader; changes through the
 * store, which owns the writes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "collector/web/html.h"
#include "collector/web/views.h"

#define M(key) i18n_msg(ctx->lang, key)
#define TOTP_SECRET_LEN 32

/* The audit line's object for an account, as the command line writes it. */
static void audit_user(struct web_ctx *ctx, const char *action,
		       const char *name, const char *detail)
{
	char object[STORE_USER_MAX + 8];
	snprintf(object, sizeof(object), "user:%s", name);
	web_audit(ctx, action, object, detail);
}

/* ---- the users page ------------------------------------------------------------ */

static void user_row(void *arg, const struct store_user *u)
{
	struct web_ctx *ctx = arg;
	struct dynbuf *b = &ctx->res->body;
	html_emit(b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s"
		  "</td><td>%s</td><td>",
		  u->name, u->role, u->scope, u->disabled ? M("disabled") : "",
		  u->locked ? M("locked") : "", u->totp[0] ? "TOTP" : "");
	/* One small form per action: each carries the CSRF token and the
	 * account's name, and works without JavaScript. */
	static const char *const actions[] = {"disable", "unlock", "passwd"};
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		html_emit(b, "<form method=\"post\" action=\"/admin/users/%s\" "
			  "class=\"inline\"><input type=\"hidden\" name=\"csrf\" "
			  "value=\"%s\"><input type=\"hidden\" name=\"name\" "
			  "value=\"%s\"><button class=\"%s\">%s</button></form>",
			  actions[i], ctx->csrf, u->name, actions[i],
			  M(actions[i]));
	html_emit(b, "</td></tr>");
}

static void user_forms(struct web_ctx *ctx)
{
	html_emit(&ctx->res->body,
		  "<h2>%s</h2><form method=\"post\" action=\"/admin/users\" "
		  "id=\"user-add\"><input type=\"hidden\" name=\"csrf\" "
		  "value=\"%s\"><label>%s <input name=\"name\" id=\"new-name\" "
		  "required></label><label>%s <input name=\"role\" id=\"new-role\" "
		  "required></label><label>%s <input name=\"scope\" "
		  "id=\"new-scope\"></label><button id=\"user-create\">%s</button>"
		  "</form><h2>%s</h2><form method=\"post\" "
		  "action=\"/admin/users/role\" id=\"user-role\"><input "
		  "type=\"hidden\" name=\"csrf\" value=\"%s\"><label>%s <input "
		  "name=\"name\" required></label><label>%s <input name=\"role\" "
		  "required></label><label>%s <input name=\"scope\"></label>"
		  "<button>%s</button></form><p>%s: %s</p>",
		  M("add_user"), ctx->csrf, M("user"), M("role"), M("scope"),
		  M("add_user"), M("change_role"), ctx->csrf, M("user"),
		  M("role"), M("scope"), M("change_role"), M("roles"),
		  web_role_names());
}

void view_users(struct web_ctx *ctx)
{
	struct dynbuf *b = &ctx->res->body;
	web_page_start(ctx, 200, M("users"));
	html_emit(b, "<table id=\"users\"><tr><th>%s</th><th>%s</th><th>%s</th>"
		  "<th>%s</th><th></th><th></th><th></th></tr>",
		  M("user"), M("role"), M("scope"), M("status"));
	if (store_user_list(ctx->reader, user_row, ctx) != 0)
		html_emit(b, "<tr><td colspan=\"7\" class=\"err\">%s</td></tr>",
			  M("store_unreadable"));
	html_emit(b, "</table>");
	user_forms(ctx);
	web_page_end(ctx);
}

/* The page that shows a new one-time password (and TOTP secret) once. */
static void secrets_page(struct web_ctx *ctx, const struct store_user *u,
			 const char *password, bool new_totp)
{
	struct dynbuf *b = &ctx->res->body;
	web_page_start(ctx, 200, M("users"));
	html_emit(b, "<p>%s <strong>%s</strong> (%s %s)</p><p>%s</p>",
		  M("user"), u->name, u->role, u->scope, M("password_once"));
	if (password != NULL)
		html_emit(b, "<p class=\"token\" id=\"new-password\">%s</p>",
			  password);
	if (new_totp)
		html_emit(b, "<p>%s</p><p class=\"token\" id=\"new-totp\">%s</p>"
			  "<p class=\"token\">otpauth://totp/eduwatch:%s?secret=%s"
			  "&amp;issuer=eduwatch</p>",
			  M("totp_secret"), u->totp, u->name, u->totp);
	html_emit(b, "<p><a href=\"/admin/users\">%s</a></p>", M("users"));
	web_page_end(ctx);
}

static int form(struct web_ctx *ctx, const char *name, char *out, size_t cap)
{
	int rc = route_param(ctx->req->body, ctx->req->body_len, name, out, cap);
	if (rc == -ENOENT) {
		out[0] = '\0';
		return 0;
	}
	return rc;
}

/* A fresh one-time password into u: 0, or -EIO. */
static int renew_password(struct store_user *u, char *pw, size_t cap)
{
	if (web_password_new(pw, cap) != 0 ||
	    web_password_hash(pw, u->pwhash, sizeof(u->pwhash)) != 0)
		return -EIO;
	u->locked = false;
	u->failed = 0;
	return 0;
}

void view_user_add(struct web_ctx *ctx)
{
	struct store_user u = {0};
	char pw[32], err[256];
	int rc;
	if (form(ctx, "name", u.name, sizeof(u.name)) != 0 ||
	    form(ctx, "role", u.role, sizeof(u.role)) != 0 ||
	    form(ctx, "scope", u.scope, sizeof(u.scope)) != 0 ||
	    !web_user_name_ok(u.name) ||
	    web_role_check(u.role, u.scope, err, sizeof(err)) != 0) {
		view_error(ctx, 400, "bad_request");
		return;
	}
	snprintf(u.lang, sizeof(u.lang), "%s", i18n_code(ctx->lang));
	if (renew_password(&u, pw, sizeof(pw)) != 0 ||
	    (web_role_needs_totp(u.role) &&
	     web_totp_secret_new(u.totp, sizeof(u.totp)) != 0)) {
		view_error(ctx, 500, "store_unreadable");
		return;
	}
	rc = store_user_add(ctx->store, &u);
	if (rc == -EEXIST) {
		view_error(ctx, 409, "user_exists");
	} else if (rc != 0) {
		view_error(ctx, 500, "store_unreadable");
	} else {
		audit_user(ctx, "user.add", u.name, u.role);
		secrets_page(ctx, &u, pw, u.totp[0] != '\0');
	}
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(&u, sizeof(u));
}

/* POST /admin/users/{disable|unlock|passwd|role} with name (and role,
 * scope for a new role). The admin's own account is not disabled or
 * given another role from here: that is how a province locks itself out. */
void view_user_change(struct web_ctx *ctx)
{
	const char *action = ctx->params[0];
	struct store_user u;
	char name[STORE_USER_MAX + 1], role[32], scope[STORE_NAME_MAX + 1];
	char pw[32], err[256], audit_action[32];
	bool show_pw = false, new_totp = false, end_sessions = true;
	if (form(ctx, "name", name, sizeof(name)) != 0 ||
	    !web_user_name_ok(name)) {
		view_error(ctx, 400, "bad_request");
		return;
	}
	if (store_user_get(ctx->store, name, &u) != 0) {
		view_error(ctx, 404, "not_found");
		return;
	}
	bool self = strcmp(name, ctx->user->u.name) == 0;
	if (strcmp(action, "disable") == 0) {
		if (self) {
			view_error(ctx, 409, "self_change");
			return;
		}
		u.disabled = true;
	} else if (strcmp(action, "unlock") == 0) {
		u.locked = false;
		u.failed = 0;
		end_sessions = false;
	} else if (strcmp(action, "passwd") == 0) {
		if (renew_password(&u, pw, sizeof(pw)) != 0) {
			view_error(ctx, 500, "store_unreadable");
			return;
		}
		show_pw = true;
	} else if (strcmp(action, "role") == 0) {
		if (form(ctx, "role", role, sizeof(role)) != 0 ||
		    form(ctx, "scope", scope, sizeof(scope)) != 0 ||
		    web_role_check(role, scope, err, sizeof(err)) != 0) {
			view_error(ctx, 400, "bad_request");
			return;
		}
		if (self) {
			view_error(ctx, 409, "self_change");
			return;
		}
		snprintf(u.role, sizeof(u.role), "%s", role);
		snprintf(u.scope, sizeof(u.scope), "%s", scope);
		new_totp = web_role_needs_totp(u.role) && !u.totp[0];
		if (new_totp && web_totp_secret_new(u.totp, sizeof(u.totp)) != 0) {
			view_error(ctx, 500, "store_unreadable");
			return;
		}
	} else {
		view_error(ctx, 404, "not_found");
		return;
	}
	if (store_user_update(ctx->store, &u) != 0) {
		view_error(ctx, 500, "store_unreadable");
		goto done;
	}
	/* A disabled account, a new password or a narrower role must not
	 * live on in sessions opened before. */
	if (end_sessions && store_session_delete_user(ctx->store, u.name) != 0) {
		view_error(ctx, 500, "store_unreadable");
		goto done;
	}
	snprintf(audit_action, sizeof(audit_action), "user.%s", action);
	audit_user(ctx, audit_action, u.name,
		  strcmp(action, "role") == 0 ? u.role : "");
	if (show_pw || new_totp) {
		secrets_page(ctx, &u, show_pw ? pw : NULL, new_totp);
	} else {
		ctx->res->status = 303;
		snprintf(ctx->res->location, sizeof(ctx->res->location),
			 "/admin/users");
	}
done:
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(&u, sizeof(u));
}

/* ---- TOTP enrolment, for one's own account --------------------------------------- */

static void totp_form(struct web_ctx *ctx, const char *secret,
		      const char *msg_key)
{
	struct dynbuf *b = &ctx->res->body;
	web_page_start(ctx, msg_key ? 400 : 200, M("totp_enrol"));
	html_emit(b, "<p id=\"totp-state\">%s</p>",
		  M(ctx->user->u.totp[0] ? "totp_enrolled" : "totp_not_enrolled"));
	if (msg_key != NULL)
		html_emit(b, "<p class=\"err\" id=\"totp-error\">%s</p>", M(msg_key));
	html_emit(b, "<p>%s</p><p class=\"token\" id=\"totp-secret\">%s</p>"
		  "<p class=\"token\">otpauth://totp/eduwatch:%s?secret=%s"
		  "&amp;issuer=eduwatch</p>"
		  "<form method=\"post\" action=\"/account/totp\">"
		  "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
		  "<input type=\"hidden\" name=\"secret\" value=\"%s\">"
		  "<label>%s <input type=\"password\" name=\"password\" "
		  "id=\"totp-password\" autocomplete=\"current-password\" "
		  "required></label><label>%s <input name=\"code\" "
		  "id=\"totp-code\" inputmode=\"numeric\" autocomplete=\"one-time-code\""
		  " required></label><button id=\"totp-save\">%s</button></form>",
		  M("totp_scan"), secret, ctx->user->u.name, secret, ctx->csrf,
		  secret, M("password"), M("totp"), M("totp_enrol"));
	web_page_end(ctx);
}

void view_totp(struct web_ctx *ctx)
{
	char secret[TOTP_SECRET_LEN + 1];
	if (web_totp_secret_new(secret, sizeof(secret)) != 0) {
		view_error(ctx, 500, "store_unreadable");
		return;
	}
	totp_form(ctx, secret, NULL);
}

static bool base32_secret_ok(const char *s)
{
	size_t n = strlen(s);
	if (n != TOTP_SECRET_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '2' && s[i] <= '7')))
			return false;
	return true;
}

/* The secret comes back from the form the officer was shown; the current
 * password and a code made from that secret prove both the person and
 * the authenticator app before it replaces the account's secret. A wrong
 * password counts as a failed login (and locks the account at the same
 * count), so this form is no way around the login's limits. */
void view_totp_enrol(struct web_ctx *ctx)
{
	struct store_user u;
	char secret[TOTP_SECRET_LEN + 8], password[256], code[16];
	bool locked = false;
	if (form(ctx, "secret", secret, sizeof(secret)) != 0 ||
	    form(ctx, "password", password, sizeof(password)) != 0 ||
	    form(ctx, "code", code, sizeof(code)) != 0 ||
	    !base32_secret_ok(secret)) {
		view_error(ctx, 400, "bad_request");
		goto done;
	}
	if (store_user_get(ctx->store, ctx->user->u.name, &u) != 0) {
		view_error(ctx, 500, "store_unreadable");
		goto done;
	}
	if (!auth_password_ok(u.pwhash, password)) {
		if (store_user_login_failed(ctx->store, u.name, AUTH_MAX_FAILED,
					    &locked) != 0)
			locked = false;
		audit_user(ctx, "totp.failed", u.name, "password");
		totp_form(ctx, secret, "bad_login");
		goto done;
	}
	if (!auth_totp_ok(secret, code, ctx->now_us / 1000000)) {
		audit_user(ctx, "totp.failed", u.name, "code");
		totp_form(ctx, secret, "totp_bad_code");
		goto done;
	}
	snprintf(u.totp, sizeof(u.totp), "%s", secret);
	if (store_user_update(ctx->store, &u) != 0) {
		view_error(ctx, 500, "store_unreadable");
		goto done;
	}
	audit_user(ctx, "totp.enrol", u.name, "");
	web_page_start(ctx, 200, M("totp_enrol"));
	html_emit(&ctx->res->body, "<p id=\"totp-state\">%s</p>",
		  M("totp_enrolled"));
	web_page_end(ctx);
done:
	OPENSSL_cleanse(password, sizeof(password));
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(&u, sizeof(u));
}
