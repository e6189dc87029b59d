/* pages: the console's route table and its handlers. To add a page, add
 * one line to `routes` and one handler (docs/WEB.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/web/handler.h"
#include "collector/web/html.h"

typedef void (*page_fn)(struct web_ctx *ctx);

/* RFC 9457 problem details, for the API and for any request that wants
 * JSON. */
static void problem(struct web_ctx *ctx, int status, const char *title,
		    const char *detail)
{
	struct web_response *res = ctx->res;
	dynbuf_reset(&res->body);
	res->status = status;
	res->content_type = "application/problem+json";
	dynbuf_addf(&res->body, "{\"type\":\"about:blank\",\"status\":%d,"
		    "\"title\":\"%s\",\"detail\":\"%s\"}\n", status, title,
		    detail);
}

static void page_health(struct web_ctx *ctx)
{
	ctx->res->status = 200;
	ctx->res->content_type = "text/plain; charset=utf-8";
	dynbuf_add_str(&ctx->res->body, "ok\n");
}

static const struct route routes[] = {
	{"GET", "/healthz", 0, (void (*)(void))page_health},
};

void pages_dispatch(struct web_ctx *ctx)
{
	const struct route *r;
	enum route_result rr =
		route_match(routes, sizeof(routes) / sizeof(routes[0]), ctx->req,
			    &r, ctx->params, &ctx->nparams);
	if (rr == ROUTE_NOT_FOUND) {
		problem(ctx, 404, "Not Found", "no such page");
		return;
	}
	if (rr == ROUTE_BAD_METHOD) {
		problem(ctx, 405, "Method Not Allowed",
			"this page does not take that method");
		return;
	}
	((page_fn)r->handler)(ctx);
}
