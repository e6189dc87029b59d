/* reports: the console's report pages and API (reports.c), inside
 * collector/web/ only; pages.c routes to them. */
#ifndef EDUWATCH_WEB_REPORTS_H
#define EDUWATCH_WEB_REPORTS_H

#include "collector/web/handler.h"

void view_reports(struct web_ctx *ctx);
void view_report_draft(struct web_ctx *ctx);
void view_report(struct web_ctx *ctx);
void view_report_json(struct web_ctx *ctx);
void view_report_csv(struct web_ctx *ctx);
void api_reports(struct web_ctx *ctx);
void api_report(struct web_ctx *ctx);
void api_report_draft(struct web_ctx *ctx);
void view_report_remarks(struct web_ctx *ctx);
void view_report_sign(struct web_ctx *ctx);
void view_report_pdf(struct web_ctx *ctx);
void view_report_xlsx(struct web_ctx *ctx);
void api_report_remarks(struct web_ctx *ctx);
void api_report_sign(struct web_ctx *ctx);

#endif
