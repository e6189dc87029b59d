/* register_page: the register of information systems in the console. An
 * officer sees and changes only the systems of units in their scope (a
 * school officer their school's, a commune officer their schools'; the
 * department's own systems are the province's). A change is checked
 * field by field as the CSV import checks it (register.h), then as a
 * whole, and is audit-logged; the school's policy level follows its
 * highest approved system, kept by the store, so only the province may
 * approve (register_change_is_approval); fields a form leaves out are
 * kept. */
#include "collector/web/register_page.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "collector/register/register.h"
#include "collector/web/auth.h"
#include "collector/web/html.h"
#include "collector/web/i18n.h"
#include "collector/web/route.h"
#include "collector/web/views.h"
#include "common/alloc.h"

#define M(key) i18n_msg(ctx->lang, (key))

/* Whether unit is one the officer may see: any for the province, else a
 * school the scoped read finds. */
static bool unit_in_scope(struct web_ctx *ctx, const char *unit)
{
	struct store_school sc;
	if (ctx->user->scope.kind == STORE_SCOPE_PROVINCE)
		return true;
	return store_school_get_scoped(ctx->reader, &ctx->user->scope, unit,
				       &sc) == 0;
}

/* The school codes of a commune officer's scope, read before the
 * register is walked (a store callback must not call the store). */
struct scope_codes {
	char (*code)[STORE_CODE_MAX + 1];
	size_t n, cap;
	int rc;
};

static void add_code(void *arg, const struct store_school *sc)
{
	struct scope_codes *s = arg;
	if (s->rc != 0)
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		void *p = alloc_resize(s->code, cap * sizeof(*s->code));
		if (p == NULL) {
			s->rc = -ENOMEM;
			return;
		}
		s->code = p;
		s->cap = cap;
	}
	snprintf(s->code[s->n++], sizeof(s->code[0]), "%s", sc->code);
}

struct rows_walk {
	struct web_ctx *ctx;
	const struct scope_codes *codes; /* NULL: every unit */
};

static void emit_row(void *arg, const struct store_system *y)
{
	struct rows_walk *w = arg;
	struct dynbuf *b = &w->ctx->res->body;
	char level[8], id[24];
	bool in = w->codes == NULL;
	for (size_t i = 0; !in && i < w->codes->n; i++)
		in = strcmp(w->codes->code[i], y->unit) == 0;
	if (!in)
		return;
	snprintf(level, sizeof(level), "%d", y->level);
	snprintf(id, sizeof(id), "%" PRIu64, y->id);
	const char *cells[REG_NCOLS] = {
		y->unit,	y->name,	  y->kind,	  level,
		y->dossier,	y->authority,	  y->decision_no, y->decision_date,
		y->review_due, y->hosts};
	html_emit(b, "<tr><td>%s</td>", id);
	for (int c = 0; c < REG_NCOLS; c++)
		html_emit(b, "<td>%s</td>", cells[c]);
	html_emit(b, "</tr>");
}

void view_register(struct web_ctx *ctx)
{
	struct dynbuf *b = &ctx->res->body;
	const struct store_scope *scope = &ctx->user->scope;
	struct scope_codes codes = {0};
	struct rows_walk w = {.ctx = ctx};
	/* A school officer's rows are their school's (the store filters);
	 * a commune officer's, those of the commune's schools. */
	const char *unit =
		scope->kind == STORE_SCOPE_SCHOOL ? scope->value : NULL;
	int rc = 0;
	if (scope->kind == STORE_SCOPE_COMMUNE) {
		rc = store_school_list_scoped(ctx->reader, scope, add_code,
					      &codes);
		if (rc == 0)
			rc = codes.rc;
		w.codes = &codes;
	}
	if (rc != 0) {
		alloc_free(codes.code);
		view_error(ctx, 500, "store_unreadable");
		return;
	}
	web_page_start(ctx, 200, M("register"));
	html_emit(b, "<table id=\"systems\"><thead><tr><th>id</th>");
	for (int c = 0; c < REG_NCOLS; c++)
		html_emit(b, "<th>%s</th>", register_col_name(c));
	html_emit(b, "</tr></thead><tbody>");
	rc = store_system_list(ctx->reader, unit, emit_row, &w);
	html_emit(b, "</tbody></table>");
	alloc_free(codes.code);
	if (rc != 0)
		html_emit(b, "<p class=\"error\">%s</p>", M("store_unreadable"));
	if (ctx->user->role->perms & AUTH_ACT) {
		html_emit(b, "<h2>%s</h2><form method=\"post\" action=\"/register\" "
			  "id=\"system-put\"><input type=\"hidden\" name=\"csrf\" "
			  "value=\"%s\">", M("register_put"), ctx->csrf);
		for (int c = 0; c < REG_NCOLS; c++)
			html_emit(b, "<label>%s <input name=\"%s\"></label> ",
				  register_col_name(c), register_col_name(c));
		html_emit(b, "<button id=\"system-save\">%s</button></form>",
			  M("register_put"));
	}
	web_page_end(ctx);
}

/* The stored system of the unit with this name, if any. */
struct find_name {
	const char *name;
	struct store_system *out;
	bool found;
};

static void find_name(void *arg, const struct store_system *y)
{
	struct find_name *f = arg;
	if (!f->found && strcmp(y->name, f->name) == 0) {
		*f->out = *y;
		f->found = true;
	}
}

/* Sets column c of y from the form when the form sends it: -ENOENT when
 * it does not (the stored value is kept), -EINVAL when it is bad. */
static int form_field(struct web_ctx *ctx, struct store_system *y,
		      enum register_col c)
{
	char value[1100], err[256];
	int rc = route_param(ctx->req->body, ctx->req->body_len,
			     register_col_name(c), value, sizeof(value));
	if (rc != 0)
		return rc == -ENOENT ? rc : -EINVAL;
	return register_set_field(y, c, value, strlen(value), err,
				  sizeof(err));
}

/* Adds or changes one system. The unit and name say which; the other
 * columns the form sends replace the stored ones, those it leaves out are
 * kept. Only an admin (the province) may approve or change an approval,
 * since an approved level sets the school's policy level. */
void view_register_put(struct web_ctx *ctx)
{
	struct store_system key = {0}, old = {0}, y;
	char err[256], detail[sizeof(((struct store_audit *)0)->detail)];
	uint64_t id;
	if (form_field(ctx, &key, REG_UNIT) != 0 ||
	    form_field(ctx, &key, REG_NAME) != 0) {
		view_error(ctx, 400, "bad_request");
		return;
	}
	/* Outside the scope is not found, as everywhere in the console. */
	if (!unit_in_scope(ctx, key.unit)) {
		view_error(ctx, 404, "not_found");
		return;
	}
	struct find_name f = {.name = key.name, .out = &old};
	if (store_system_list(ctx->store, key.unit, find_name, &f) != 0) {
		view_error(ctx, 500, "store_unreadable");
		return;
	}
	y = f.found ? old : key;
	for (int c = REG_KIND; c < REG_NCOLS; c++) {
		int rc = form_field(ctx, &y, (enum register_col)c);
		if (rc != 0 && rc != -ENOENT) {
			view_error(ctx, 400, "bad_request");
			return;
		}
	}
	if (!(ctx->user->role->perms & AUTH_ADMIN) &&
	    register_change_is_approval(f.found ? &old : NULL, &y)) {
		view_error(ctx, 403, "forbidden");
		return;
	}
	if (register_check(&y, err, sizeof(err)) != 0) {
		view_error(ctx, 400, "bad_request");
		return;
	}
	if (store_system_put(ctx->store, &y, &id) != 0) {
		view_error(ctx, 500, "store_unreadable");
		return;
	}
	int k = snprintf(detail, sizeof(detail), "id %" PRIu64 ": ", id);
	register_diff(f.found ? &old : NULL, &y, detail + k,
		      sizeof(detail) - (size_t)k);
	char object[sizeof(y.unit) + sizeof(y.name) + 2];
	snprintf(object, sizeof(object), "%s/%s", y.unit, y.name);
	web_audit(ctx, f.found ? "system.set" : "system.add", object, detail);
	ctx->res->status = 303;
	snprintf(ctx->res->location, sizeof(ctx->res->location), "/register");
}
