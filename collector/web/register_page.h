/* register_page: the console's register of information systems
 * (register_page.c), inside the officer's scope. */
#ifndef EDUWATCH_WEB_REGISTER_PAGE_H
#define EDUWATCH_WEB_REGISTER_PAGE_H

#include "collector/web/handler.h"

/* GET /register: the systems of the units in scope, and the form. */
void view_register(struct web_ctx *ctx);
/* POST /register: adds a system, or sets the fields of the one with the
 * same unit and name; checked like a CSV row, audit-logged. */
void view_register_put(struct web_ctx *ctx);

#endif
