/* publish_page: publishing the YARA rule bundle and IOC lists from the
 * console, through the command line's own path (agentcmd_publish_rules
 * and agentcmd_publish_ioc): the same compile, the same signature by the
 * collector's CA, the same "rules.update" / "ioc.update" commands to
 * every unrevoked agent. Province admins only, behind the CSRF check,
 * audit-logged as "publish.rules" / "publish.ioc" with the version.
 *
 * An IOC list comes as a form field (a textarea), so it is bounded by
 * the console's body limit (WEB_MAX_BODY); a longer list goes through
 * `eduwatch-collector ioc publish FILE` (docs/DECISIONS.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/agentcmd.h"
#include "collector/rulepub.h"
#include "collector/web/html.h"
#include "collector/web/views.h"
#include "common/alloc.h"

#define M(key) i18n_msg(ctx->lang, key)

/* The forms, or on a collector without the CA key (which signs nothing)
 * the latest version and why there is nothing to press: a form that is
 * always refused would only teach the admin to ignore the console. */
static void publish_forms(struct web_ctx *ctx)
{
	struct dynbuf *b = &ctx->res->body;
	char sets[16];
	snprintf(sets, sizeof(sets), "%zu", ctx->opts->nrule_sets);
	html_emit(b, "<h2>%s</h2><p>%s: <span id=\"rules-latest\">%lld</span>"
		  "</p><p>%s: %s</p>", M("rule_bundle"), M("latest_version"),
		  (long long)rulepub_latest(ctx->opts->state_dir), M("rule_sets"),
		  sets);
	if (ctx->opts->ca == NULL) {
		html_emit(b, "<p id=\"publish-keyless\">%s</p>", M("no_ca"));
		return;
	}
	html_emit(b, "<form method=\"post\" action=\"/admin/publish/rules\" "
		  "id=\"publish-rules\"><input type=\"hidden\" name=\"csrf\" "
		  "value=\"%s\"><button id=\"publish-rules-go\">%s</button>"
		  "</form>", ctx->csrf, M("publish_rules"));
	html_emit(b, "<h2>%s</h2><p>%s</p><form method=\"post\" "
		  "action=\"/admin/publish/ioc\" id=\"publish-ioc\"><input "
		  "type=\"hidden\" name=\"csrf\" value=\"%s\"><label>%s "
		  "<textarea name=\"ioc\" id=\"ioc-text\" rows=\"10\" cols=\"60\" "
		  "required></textarea></label><button id=\"publish-ioc-go\">%s"
		  "</button></form>",
		  M("ioc_list"), M("ioc_help"), ctx->csrf, M("ioc_list"),
		  M("publish_ioc"));
}

/* error_text: a message in the officer's language, or (detail) the
 * compiler's or signer's own words after "Not published". */
static void publish_page(struct web_ctx *ctx, int status,
			 const char *error_text, const char *detail)
{
	web_page_start(ctx, status, M("publish"));
	if (error_text != NULL)
		html_emit(&ctx->res->body, "<p class=\"err\" "
			  "id=\"publish-error\">%s</p>", error_text);
	if (detail != NULL)
		html_emit(&ctx->res->body, "<p class=\"err\" "
			  "id=\"publish-error\">%s: %s</p>",
			  M("rules_not_published"), detail);
	publish_forms(ctx);
	web_page_end(ctx);
}

void view_publish(struct web_ctx *ctx)
{
	publish_page(ctx, 200, NULL, NULL);
}

/* What was published, the audit line for it, and the page that says so. */
static void published(struct web_ctx *ctx, const char *what,
		      const struct agentcmd_published *p)
{
	char object[64], detail[600];
	snprintf(object, sizeof(object), "%s:%llu", what,
		 (unsigned long long)p->info.version);
	snprintf(detail, sizeof(detail), "%llu %s, %zu bytes signed, %zu "
		 "agent(s) told%s", (unsigned long long)p->info.rules,
		 strcmp(what, "ioc") == 0 ? "lines" : "rules", p->size,
		 p->queued, p->all_listed ? "" : ", not every agent listed");
	web_audit(ctx, strcmp(what, "ioc") == 0 ? "publish.ioc"
						: "publish.rules",
		  object, detail);
	web_page_start(ctx, 200, M("publish"));
	html_emit(&ctx->res->body, "<p id=\"published\">%s <strong "
		  "id=\"published-version\">%lld</strong>: %lld %s, %lld "
		  "%s.</p>",
		  M(strcmp(what, "ioc") == 0 ? "ioc_list" : "rule_bundle"),
		  (long long)p->info.version, (long long)p->info.rules,
		  M(strcmp(what, "ioc") == 0 ? "lines" : "rules"),
		  (long long)p->queued, M("agents_told"));
	if (!p->all_listed)
		html_emit(&ctx->res->body, "<p class=\"err\">%s</p>",
			  M("not_all_agents"));
	publish_forms(ctx);
	web_page_end(ctx);
}

void view_publish_rules(struct web_ctx *ctx)
{
	struct agentcmd_published p;
	char err[768];
	if (ctx->opts->ca == NULL) {
		publish_page(ctx, 503, NULL, NULL); /* the forms say why */
		return;
	}
	int rc = agentcmd_publish_rules(ctx->store, ctx->opts->ca,
					ctx->opts->state_dir,
					ctx->opts->rule_sets,
					ctx->opts->nrule_sets, NULL, &p, err,
					sizeof(err));
	if (rc != 0) {
		/* Rules that do not compile (FILE:LINE) are the officer's to
		 * fix: a 400 naming them. Anything else is the server's. */
		web_audit(ctx, "publish.failed", "rules", err);
		publish_page(ctx, rc == -EINVAL ? 400 : 500, NULL, err);
		return;
	}
	published(ctx, "rules", &p);
}

void view_publish_ioc(struct web_ctx *ctx)
{
	struct agentcmd_published p;
	char err[768], source[STORE_USER_MAX + 16];
	size_t cap = ctx->req->body_len + 1;
	char *list = alloc_bytes(cap);
	if (list == NULL) {
		view_error(ctx, 500, "server_error");
		return;
	}
	int rc = route_param(ctx->req->body, ctx->req->body_len, "ioc", list,
			     cap);
	/* Blank lines alone are no list. */
	size_t len = strlen(list), i = 0;
	while (i < len && (list[i] == '\n' || list[i] == '\r' ||
			   list[i] == ' ' || list[i] == '\t'))
		i++;
	if (rc != 0 || i == len) {
		publish_page(ctx, 400, M("ioc_empty"), NULL);
		goto done;
	}
	if (ctx->opts->ca == NULL) {
		publish_page(ctx, 503, NULL, NULL); /* the forms say why */
		goto done;
	}
	snprintf(source, sizeof(source), "console:%s", ctx->user->u.name);
	rc = agentcmd_publish_ioc(ctx->store, ctx->opts->ca,
				  ctx->opts->state_dir, source, list, len,
				  NULL, &p, err, sizeof(err));
	if (rc != 0) {
		web_audit(ctx, "publish.failed", "ioc", err);
		publish_page(ctx, rc == -EINVAL ? 400 : 500, NULL, err);
		goto done;
	}
	published(ctx, "ioc", &p);
done:
	alloc_free(list);
}
