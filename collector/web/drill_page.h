/* drill_page: the console's incident drill pages (drill_page.c), inside
 * the officer's scope: a drill is shown to whoever's scope holds its
 * scope's schools, and only its PCs in that scope. */
#ifndef EDUWATCH_WEB_DRILL_PAGE_H
#define EDUWATCH_WEB_DRILL_PAGE_H

#include "collector/web/handler.h"

/* GET /drills: the campaigns, with state, window, scenario and scope. */
void view_drills(struct web_ctx *ctx);
/* GET /drills/{id}: an injection's timeline per PC and its scoreboard
 * per school, commune and province; a red-team window's actions and
 * figures; the forms the officer's role may use. */
void view_drill(struct web_ctx *ctx);
/* POST /drills/{id}/approve: a province_admin who did not plan it. */
void view_drill_approve(struct web_ctx *ctx);
/* POST /drills/{id}/abort: its organiser or a province_admin; a running
 * injection needs `drill abort` (it signs drill.abort for every PC). */
void view_drill_abort(struct web_ctx *ctx);
/* POST /drills/{id}/actions: one red-team action (time, target,
 * technique, description) or a CSV of them (csv), all or none. */
void view_drill_actions(struct web_ctx *ctx);
/* POST /api/v1/drills/{id}/actions: the same, answering JSON. */
void api_drill_actions(struct web_ctx *ctx);

#endif
