/* handler: what a page or API handler gets and fills, inside
 * collector/web/ only. web.c builds the context from h2o's request, calls
 * pages_dispatch, and sends the response with the security headers. */
#ifndef EDUWATCH_WEB_HANDLER_H
#define EDUWATCH_WEB_HANDLER_H

#include <stdbool.h>
#include <stdint.h>

#include "collector/store.h"
#include "collector/web/auth.h"
#include "collector/web/i18n.h"
#include "collector/web/route.h"
#include "collector/web/web.h"
#include "common/dynbuf.h"

#define WEB_MAX_COOKIES 2

struct web_response {
	int status;
	const char *content_type; /* static text */
	struct dynbuf body;
	char cookies[WEB_MAX_COOKIES][256]; /* Set-Cookie values */
	int ncookies;
	char location[512];    /* a redirect's target, "" for none */
	char disposition[160]; /* Content-Disposition, "" for none */
	bool cacheable;	       /* a hashed static asset: cache for a year */
};

struct web_ctx {
	const struct web_request *req;
	struct web_response *res;
	struct store *store;  /* writes: sessions, audit, acks */
	struct store *reader; /* reads: a read-only connection of the
				 console's own (store when there is none) */
	const struct web_options *opts;
	char params[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX + 1];
	size_t nparams;
	int64_t now_us;
	struct auth_user *user; /* NULL on public routes */
	enum i18n_lang lang;
	char csrf[65];		 /* for forms; "" without a session */
};

/* Routes one request and fills ctx->res (pages.c). */
void pages_dispatch(struct web_ctx *ctx);

#endif
