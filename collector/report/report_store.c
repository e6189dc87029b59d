/* report_store: drafts kept in the store, and the deadlines serve keeps. */
#include "collector/report/report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"

int report_json_string(const struct report *r, char **out, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (f == NULL)
		return -ENOMEM;
	int rc = report_write_json(r, f);
	if (fclose(f) != 0 && rc == 0)
		rc = -EIO;
	if (rc != 0) {
		free(buf); /* open_memstream's buffer is libc's */
		return rc;
	}
	/* Hand over a buffer of our allocator, as the header promises. */
	*out = alloc_strndup(buf, n);
	free(buf);
	*len = n;
	return *out ? 0 : -ENOMEM;
}

struct newest {
	bool found;
	uint64_t id;
	int version;
	char state[12];
	char remarks[REPORT_TEXT_MAX];
};

static void on_newest(void *arg, const struct store_report *r)
{
	struct newest *n = arg;
	if (n->found)
		return; /* newest first */
	n->found = true;
	n->id = r->id;
	n->version = r->version;
	snprintf(n->state, sizeof(n->state), "%s", r->state);
	snprintf(n->remarks, sizeof(n->remarks), "%s",
		 r->remarks ? r->remarks : "");
}

int report_draft_store(struct store *st, const struct report_period *period,
		       const struct report_scope *scope,
		       const struct report_options *opts, const char *remarks,
		       struct report *r, uint64_t *id, char *err,
		       size_t errlen)
{
	struct newest n = {.found = false};
	char *json = NULL;
	size_t len;
	int rc = store_report_list(st, period->id, scope->id, on_newest, &n);
	if (rc != 0) {
		snprintf(err, errlen, "cannot read the stored reports");
		return rc;
	}
	if ((rc = report_build(st, period, scope, opts, r, err, errlen)) != 0)
		return rc;
	/* A correction starts from the signed version's remarks. */
	snprintf(r->remarks, sizeof(r->remarks), "%s",
		 remarks ? remarks : n.remarks);
	snprintf(r->state, sizeof(r->state), "draft");
	r->version = n.found && strcmp(n.state, "signed") == 0 ? n.version + 1
			 : n.found			       ? n.version
								       : 1;
	if ((rc = report_json_string(r, &json, &len)) == 0) {
		struct store_report sr = {.remarks = r->remarks, .model = json};
		snprintf(sr.period, sizeof(sr.period), "%s", period->id);
		snprintf(sr.scope, sizeof(sr.scope), "%s", scope->id);
		rc = store_report_draft(st, &sr, id, &r->version);
	}
	alloc_free(json);
	if (rc != 0) {
		snprintf(err, errlen, "cannot store the draft");
		report_free(r);
	}
	return rc;
}

static void count_row(void *arg, const struct store_day_school *d)
{
	(void)d;
	++*(long long *)arg;
}

/* The period ids whose deadline is nearest around now: this year's and
 * next year's six-monthly and annual reports. */
static int tick_one(struct store *st, const struct report_calendar *cal,
		    const struct report_options *opts, const char *id,
		    int *drafted, int *reminded)
{
	struct report_period p;
	struct report_scope sc;
	struct newest n = {.found = false};
	char err[256];
	int rc;
	if (report_period_parse(id, cal, &p, err, sizeof(err)) != 0 ||
	    report_scope_parse("province", &sc, err, sizeof(err)) != 0)
		return -EINVAL;
	int64_t due_us = p.end_us;
	{
		struct tm tm = {0};
		sscanf(p.due, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon,
		       &tm.tm_mday);
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		due_us = (int64_t)timegm(&tm) * 1000000LL;
	}
	int64_t open_us = due_us - (int64_t)cal->draft_days_before * 86400000000LL;
	if (opts->now_us < open_us)
		return 0;
	if ((rc = store_report_list(st, p.id, sc.id, on_newest, &n)) != 0)
		return rc;
	if (n.found && strcmp(n.state, "signed") == 0)
		return 0;
	/* A collector that kept no history in the period (installed after
	 * it) has nothing to report and nothing to be reminded of. */
	long long rows = 0;
	if ((rc = store_day_schools(st, p.from, p.to, count_row, &rows)) != 0)
		return rc;
	if (rows == 0)
		return 0;
	if (!n.found) {
		struct report r;
		uint64_t rid;
		rc = report_draft_store(st, &p, &sc, opts, NULL, &r, &rid, err,
					sizeof(err));
		if (rc != 0)
			return rc;
		report_free(&r);
		(*drafted)++;
	}
	/* Past the deadline and not signed: one reminder, folded while it
	 * stays open (dedupe key per period). */
	if (opts->now_us >= due_us && strcmp(n.state, "signed") != 0 &&
	    opts->now_us < due_us + 60 * 86400000000LL) {
		struct store_alert *a = alloc_zeroed(1, sizeof(*a));
		bool created;
		if (a == NULL)
			return -ENOMEM;
		snprintf(a->rule, sizeof(a->rule), "report-overdue");
		snprintf(a->title, sizeof(a->title),
			 "Báo cáo %s chưa được ký duyệt (hạn %s)", p.id, p.due);
		snprintf(a->category, sizeof(a->category), "compliance");
		snprintf(a->kind, sizeof(a->kind), "report.overdue");
		snprintf(a->dedupe_key, sizeof(a->dedupe_key),
			 "report-overdue:%s", p.id);
		snprintf(a->agent, sizeof(a->agent), "collector");
		a->severity = 5;
		a->suppress_s = 86400;
		snprintf(a->evidence, sizeof(a->evidence),
			 "{\"period\":\"%s\",\"due\":\"%s\"}", p.id, p.due);
		rc = store_alert_raise(st, a, &created);
		alloc_free(a);
		if (rc == 0 && created)
			(*reminded)++;
	}
	return rc;
}

int report_tick(struct store *st, const struct report_calendar *cal,
		const struct report_options *opts, int *drafted,
		int *reminded)
{
	time_t t = (time_t)(opts->now_us / 1000000);
	struct tm tm;
	char id[16];
	int rc = 0;
	*drafted = *reminded = 0;
	gmtime_r(&t, &tm);
	int y = tm.tm_year + 1900;
	/* This year's two reports; December's annual one is due in the
	 * same year, so nothing from the next year is ever within reach. */
	snprintf(id, sizeof(id), "%04d-H1", y);
	rc = tick_one(st, cal, opts, id, drafted, reminded);
	snprintf(id, sizeof(id), "%04d", y);
	if (rc == 0)
		rc = tick_one(st, cal, opts, id, drafted, reminded);
	return rc;
}
