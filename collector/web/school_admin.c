/* school_admin: adding and editing schools from the console, as
 * `eduwatch-collector school add` does from the command line: the same
 * rules for each field (schoolcsv_school, which a setup CSV row obeys
 * too) and the same store call (store_school_add, which adds a code it
 * has not seen and rewrites one it has). A school's code is its identity
 * (agents, tokens, alerts and snapshots name it), so an edit changes the
 * name, commune, level and PC count, never the code.
 *
 * Province admins only (the route table says so); a school is looked up
 * through the admin's scope, so the scope check stays in the query layer
 * even for a role that sees the whole province today. Every change is a
 * POST behind the CSRF check and is audit-logged with the old and new
 * values. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/schoolcsv.h"
#include "collector/web/html.h"
#include "collector/web/views.h"

#define M(key) i18n_msg(ctx->lang, key)

enum { F_CODE, F_NAME, F_COMMUNE, F_LEVEL, F_PCS, NFIELDS };
static const char *const field_names[NFIELDS] = {
	"code", "name", "commune", "level", "expected_pcs",
};
/* What each field must be, in the officer's language. */
static const char *const field_rules[NFIELDS] = {
	"school_rule_code", "school_rule_name", "school_rule_commune",
	"school_rule_level", "school_rule_pcs",
};

static const char *field_rule(const char *column)
{
	for (int i = 0; i < NFIELDS; i++)
		if (strcmp(column, field_names[i]) == 0)
			return field_rules[i];
	return "bad_request";
}

static void school_row(void *arg, const struct store_school *s)
{
	struct web_ctx *ctx = arg;
	html_emit(&ctx->res->body,
		  "<tr><td>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%d</td>"
		  "<td><a href=\"/admin/schools/%s\">%s</a></td></tr>",
		  s->code, s->name, s->commune, s->level, s->expected_pcs,
		  s->code, M("edit"));
}

/* The form, empty for a new school or filled from s; the code is fixed
 * once a school exists. error_text: what was wrong with the last try. */
static void school_form(struct web_ctx *ctx, const struct store_school *s,
			bool existing, const char *error_text)
{
	struct dynbuf *b = &ctx->res->body;
	char level[16] = "", pcs[16] = "";
	if (s->level > 0)
		snprintf(level, sizeof(level), "%d", s->level);
	if (s->level > 0 || s->expected_pcs > 0)
		snprintf(pcs, sizeof(pcs), "%d", s->expected_pcs);
	html_emit(b, "<h2>%s</h2>", M(existing ? "edit_school" : "add_school"));
	if (error_text != NULL)
		html_emit(b, "<p class=\"err\" id=\"school-error\">%s</p>",
			  error_text);
	html_emit(b, "<form method=\"post\" action=\"/admin/schools\" "
		  "id=\"school-form\"><input type=\"hidden\" name=\"csrf\" "
		  "value=\"%s\">", ctx->csrf);
	if (existing)
		html_emit(b, "<input type=\"hidden\" name=\"code\" value=\"%s\">"
			  "<p>%s: <strong id=\"school-code\">%s</strong></p>",
			  s->code, M("code"), s->code);
	else
		html_emit(b, "<label>%s <input name=\"code\" id=\"school-code\" "
			  "value=\"%s\" required maxlength=\"32\" "
			  "pattern=\"[A-Za-z0-9._\\-]+\"></label>",
			  M("code"), s->code);
	html_emit(b, "<label>%s <input name=\"name\" id=\"school-name\" "
		  "value=\"%s\" required></label><label>%s <input "
		  "name=\"commune\" id=\"school-commune\" value=\"%s\" required>"
		  "</label><label>%s <input name=\"level\" id=\"school-level\" "
		  "type=\"number\" min=\"1\" max=\"5\" value=\"%s\" required>"
		  "</label><label>%s <input name=\"expected_pcs\" "
		  "id=\"school-pcs\" type=\"number\" min=\"0\" max=\"100000\" "
		  "value=\"%s\" required></label><button id=\"school-save\">%s"
		  "</button></form>",
		  M("name"), s->name, M("commune"), s->commune, M("level"), level,
		  M("expected"), pcs, M("save"));
}

static void schools_page(struct web_ctx *ctx, int status,
			 const struct store_school *tried, bool existing,
			 const char *error_text)
{
	struct dynbuf *b = &ctx->res->body;
	struct store_school blank = {0};
	web_page_start(ctx, status, M("schools"));
	school_form(ctx, tried ? tried : &blank, existing, error_text);
	html_emit(b, "<h2>%s</h2><p><a href=\"/schools.csv\">%s</a></p>"
		  "<table id=\"admin-schools\"><tr><th>%s</th><th>%s</th>"
		  "<th>%s</th><th>%s</th><th>%s</th><th></th></tr>",
		  M("schools"), M("csv"), M("code"), M("name"), M("commune"),
		  M("level"), M("expected"));
	if (store_school_list_scoped(ctx->reader, &ctx->user->scope,
				     school_row, ctx) != 0)
		html_emit(b, "<tr><td colspan=\"6\" class=\"err\">%s</td></tr>",
			  M("store_unreadable"));
	html_emit(b, "</table>");
	web_page_end(ctx);
}

void view_schools_admin(struct web_ctx *ctx)
{
	schools_page(ctx, 200, NULL, false, NULL);
}

void view_school_edit(struct web_ctx *ctx)
{
	struct store_school s;
	if (store_school_get_scoped(ctx->reader, &ctx->user->scope,
				    ctx->params[0], &s) != 0) {
		view_error(ctx, 404, "not_found");
		return;
	}
	web_page_start(ctx, 200, s.name);
	school_form(ctx, &s, true, NULL);
	html_emit(&ctx->res->body, "<p><a href=\"/admin/schools\">%s</a></p>",
		  M("schools"));
	web_page_end(ctx);
}

/* POST /admin/schools: code, name, commune, level, expected_pcs. A bad
 * field is a 400 with the form again, the values kept and the field
 * named; a code outside the admin's scope is a 404. */
void view_school_save(struct web_ctx *ctx)
{
	char values[NFIELDS][STORE_NAME_MAX + 1], why[160];
	const char *column = NULL;
	const char *fields[NFIELDS];
	size_t lens[NFIELDS];
	struct store_school s, old;
	for (int i = 0; i < NFIELDS; i++) {
		int rc = route_param(ctx->req->body, ctx->req->body_len,
				     field_names[i], values[i],
				     sizeof(values[i]));
		if (rc != 0) {
			values[i][0] = '\0';
			if (rc != -ENOENT) {
				/* Too long, or not text: say which field. */
				schools_page(ctx, 400, NULL, false,
					     M(field_rules[i]));
				return;
			}
		}
		fields[i] = values[i];
		lens[i] = strlen(values[i]);
	}
	if (schoolcsv_school(fields, lens, &s, &column, why, sizeof(why)) !=
	    0) {
		/* The form again with what was typed, escaped as all else. */
		struct store_school tried = {0};
		snprintf(tried.code, sizeof(tried.code), "%.32s", values[F_CODE]);
		snprintf(tried.name, sizeof(tried.name), "%s", values[F_NAME]);
		snprintf(tried.commune, sizeof(tried.commune), "%s",
			 values[F_COMMUNE]);
		schools_page(ctx, 400, &tried, false,
			     M(column ? field_rule(column) : "bad_request"));
		return;
	}
	int rc = store_school_get_scoped(ctx->store, &ctx->user->scope, s.code,
					 &old);
	bool existing = rc == 0;
	if (rc != 0 && rc != -ENOENT) {
		view_error(ctx, 500, "store_unreadable");
		return;
	}
	/* A code the admin's scope does not hold but the province does is
	 * not theirs to rewrite: a 404, as a read of it would be. */
	if (!existing && ctx->user->scope.kind != STORE_SCOPE_PROVINCE) {
		view_error(ctx, 404, "not_found");
		return;
	}
	if (store_school_add(ctx->store, &s) != 0) {
		view_error(ctx, 500, "store_unreadable");
		return;
	}
	char object[STORE_CODE_MAX + 8], detail[512];
	snprintf(object, sizeof(object), "school:%s", s.code);
	if (existing)
		snprintf(detail, sizeof(detail), "%s, %s, level %d, %d PCs -> "
			 "%s, %s, level %d, %d PCs", old.name, old.commune,
			 old.level, old.expected_pcs, s.name, s.commune,
			 s.level, s.expected_pcs);
	else
		snprintf(detail, sizeof(detail), "%s, %s, level %d, %d PCs",
			 s.name, s.commune, s.level, s.expected_pcs);
	web_audit(ctx, existing ? "school.edit" : "school.add", object, detail);
	ctx->res->status = 303;
	snprintf(ctx->res->location, sizeof(ctx->res->location),
		 "/admin/schools");
}
