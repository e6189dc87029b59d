/* volume: how many alerts of each kind were raised each day, in the
 * officer's scope (issue 17, "alert volume by kind over time"). One
 * grouped read in the store (store_alert_volume_scoped), shown three
 * ways from the same rows: a table that needs no JavaScript, a CSV like
 * every other table, and the JSON that console.js draws with uPlot.
 * The alerts page carries only the chart and a link to the table: it
 * reloads on every new alert, and the aggregate over a province's
 * alerts costs more than the page itself (docs/DECISIONS.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "collector/web/html.h"
#include "collector/web/views.h"

#define M(key) i18n_msg(ctx->lang, key)
#define VOLUME_DAYS 30
#define VOLUME_DAYS_MAX 366
#define VN_OFFSET_S (7 * 3600)

/* ?days= (1..366; 30 when absent): 0, or -EINVAL. */
static int volume_days(struct web_ctx *ctx, long *days)
{
	char num[16], *end;
	int rc = route_param(ctx->req->query, ctx->req->query_len, "days", num,
			     sizeof(num));
	*days = VOLUME_DAYS;
	if (rc == -ENOENT)
		return 0;
	if (rc != 0 || num[0] < '0' || num[0] > '9')
		return -EINVAL;
	*days = strtol(num, &end, 10);
	return *end == '\0' && *days >= 1 && *days <= VOLUME_DAYS_MAX ? 0
								       : -EINVAL;
}

/* The start of the day, Vietnam time, days - 1 days before today. */
static int64_t volume_from_us(int64_t now_us, long days)
{
	int64_t local = now_us / 1000000 + VN_OFFSET_S;
	int64_t today = local - local % 86400 - VN_OFFSET_S;
	return (today - (int64_t)(days - 1) * 86400) * 1000000;
}

struct volume_rows {
	struct web_ctx *ctx;
	enum { AS_HTML, AS_CSV, AS_JSON } as;
	long long n;
};

static void volume_row(void *arg, const struct store_alert_volume *v)
{
	struct volume_rows *r = arg;
	struct dynbuf *b = &r->ctx->res->body;
	char count[24];
	snprintf(count, sizeof(count), "%lld", v->count);
	switch (r->as) {
	case AS_HTML: {
		char day[16];
		i18n_day(v->day, day, sizeof(day));
		html_emit(b, "<tr><td>%s</td><td>%s</td><td>%lld</td></tr>",
			  day, v->kind, v->count);
		break;
	}
	case AS_CSV:
		web_csv_field(b, v->day, false);
		web_csv_field(b, v->kind, false);
		web_csv_field(b, count, true);
		break;
	case AS_JSON:
		dynbuf_add_str(b, r->n ? ",{\"day\":" : "{\"day\":");
		web_json_str(b, v->day);
		dynbuf_add_str(b, ",\"kind\":");
		web_json_str(b, v->kind);
		dynbuf_addf(b, ",\"count\":%lld}", v->count);
		break;
	}
	r->n++;
}

/* The chart's hook: console.js draws it from the API. */
static void volume_chart(struct web_ctx *ctx, long days)
{
	html_emit(&ctx->res->body, "<h2 id=\"volume\">%s</h2><div "
		  "id=\"volume-chart\" class=\"chart\" "
		  "data-src=\"/api/v1/alerts/volume?days=%lld\"></div>",
		  M("alert_volume"), (long long)days);
}

void web_alert_volume(struct web_ctx *ctx)
{
	volume_chart(ctx, VOLUME_DAYS);
	html_emit(&ctx->res->body, "<p><a id=\"volume-link\" "
		  "href=\"/alerts/volume?days=%d\">%s</a></p>", VOLUME_DAYS,
		  M("as_table"));
}

void view_alert_volume(struct web_ctx *ctx)
{
	struct dynbuf *b = &ctx->res->body;
	struct volume_rows r = {ctx, AS_HTML, 0};
	long days;
	if (volume_days(ctx, &days) != 0) {
		view_error(ctx, 400, "bad_request");
		return;
	}
	web_page_start(ctx, 200, M("alert_volume"));
	html_emit(b, "<form method=\"get\" action=\"/alerts/volume\"><label>"
		  "%s <input name=\"days\" id=\"days\" type=\"number\" "
		  "min=\"1\" max=\"%d\" value=\"%lld\"></label><button>OK"
		  "</button></form>",
		  M("days"), VOLUME_DAYS_MAX, (long long)days);
	volume_chart(ctx, days);
	html_emit(b, "<p><a href=\"/alerts/volume.csv?days=%lld\">%s</a></p>"
		  "<table id=\"volume-table\"><tr><th>%s</th><th>%s</th>"
		  "<th>%s</th></tr>",
		  (long long)days, M("csv"), M("day"), M("kind"), M("count"));
	int rc = store_alert_volume_scoped(ctx->reader, &ctx->user->scope,
					   volume_from_us(ctx->now_us, days),
					   volume_row, &r);
	html_emit(b, "</table>");
	if (rc != 0) {
		view_error(ctx, 503, "store_unreadable");
		return;
	}
	if (r.n == 0)
		html_emit(b, "<p>%s</p>", M("no_rows"));
	web_page_end(ctx);
}

void view_alert_volume_csv(struct web_ctx *ctx)
{
	struct volume_rows r = {ctx, AS_CSV, 0};
	long days;
	if (volume_days(ctx, &days) != 0) {
		view_error(ctx, 400, "bad_request");
		return;
	}
	web_csv_start(ctx, "alert-volume.csv");
	dynbuf_add_str(&ctx->res->body, "day,kind,count\r\n");
	if (store_alert_volume_scoped(ctx->reader, &ctx->user->scope,
				      volume_from_us(ctx->now_us, days),
				      volume_row, &r) != 0) {
		/* A short file would read as fewer alerts: an error. */
		ctx->res->disposition[0] = '\0';
		view_error(ctx, 500, "store_unreadable");
	}
}

void api_alert_volume(struct web_ctx *ctx)
{
	struct volume_rows r = {ctx, AS_JSON, 0};
	long days;
	if (volume_days(ctx, &days) != 0) {
		web_problem(ctx, 400, "Bad Request", "days is 1..366");
		return;
	}
	ctx->res->status = 200;
	ctx->res->content_type = "application/json";
	dynbuf_addf(&ctx->res->body, "{\"days\":%ld,\"items\":[", days);
	if (store_alert_volume_scoped(ctx->reader, &ctx->user->scope,
				      volume_from_us(ctx->now_us, days),
				      volume_row, &r) != 0) {
		web_problem(ctx, 500, "Internal Server Error",
			    "the alert volume cannot be read now; try again");
		return;
	}
	dynbuf_add_str(&ctx->res->body, "],\"next_cursor\":null}\n");
}
