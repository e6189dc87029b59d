/* report_period: which days a report covers, and whose they are. */
#include "collector/report/report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/event.h"
#include "common/textsafe.h"

void report_calendar_default(struct report_calendar *cal)
{
	/* Six-monthly: 1 Dec .. 31 May, due 5 Jun; annual: 1 Dec .. 30 Nov,
	 * due 5 Dec (the province's plan). */
	*cal = (struct report_calendar){
		.half_start_m = 12, .half_start_d = 1,
		.half_end_m = 5, .half_end_d = 31,
		.half_due_m = 6, .half_due_d = 5,
		.year_start_m = 12, .year_start_d = 1,
		.year_end_m = 11, .year_end_d = 30,
		.year_due_m = 12, .year_due_d = 5,
		.draft_days_before = 10,
	};
}

static int parse_span(const char *text, int *sm, int *sd, int *em, int *ed,
		      int *dm, int *dd)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int n = 0;
	if (text == NULL ||
	    sscanf(text, "%2d-%2d..%2d-%2d due %2d-%2d%n", sm, sd, em, ed, dm,
		   dd, &n) != 6 ||
	    text[n] != '\0')
		return -EINVAL;
	int m[3] = {*sm, *em, *dm}, d[3] = {*sd, *ed, *dd};
	for (int i = 0; i < 3; i++)
		if (m[i] < 1 || m[i] > 12 || d[i] < 1 || d[i] > mdays[m[i] - 1])
			return -EINVAL;
	return 0;
}

int report_calendar_parse(const char *six_monthly, const char *annual,
			  int draft_days_before, struct report_calendar *c,
			  char *err, size_t errlen)
{
	report_calendar_default(c);
	if (parse_span(six_monthly, &c->half_start_m, &c->half_start_d,
		       &c->half_end_m, &c->half_end_d, &c->half_due_m,
		       &c->half_due_d) != 0 ||
	    parse_span(annual, &c->year_start_m, &c->year_start_d,
		       &c->year_end_m, &c->year_end_d, &c->year_due_m,
		       &c->year_due_d) != 0) {
		snprintf(err, errlen, "a period is \"MM-DD..MM-DD due MM-DD\", "
			 "e.g. \"12-01..05-31 due 06-05\"");
		return -EINVAL;
	}
	if (draft_days_before < 0 || draft_days_before > 90) {
		snprintf(err, errlen, "draft_days_before must be 0..90");
		return -EINVAL;
	}
	c->draft_days_before = draft_days_before;
	return 0;
}

static int64_t day_us(int y, int m, int d)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
	return (int64_t)timegm(&tm) * 1000000LL;
}

int report_period_parse(const char *text, const struct report_calendar *cal,
			struct report_period *out, char *err, size_t errlen)
{
	int y = 0, sm, sd, em, ed, dm, dd;
	size_t n = text ? strlen(text) : 0;
	memset(out, 0, sizeof(*out));
	bool digits = n >= 4;
	for (size_t i = 0; digits && i < 4; i++)
		digits = text[i] >= '0' && text[i] <= '9';
	if (digits)
		y = (text[0] - '0') * 1000 + (text[1] - '0') * 100 +
		    (text[2] - '0') * 10 + (text[3] - '0');
	if (!digits || y < 2000 || y > 2099 ||
	    (n != 4 && !(n == 7 && memcmp(text + 4, "-H1", 3) == 0))) {
		snprintf(err, errlen, "period must be YYYY-H1 (six-monthly) or "
			 "YYYY (annual), with a year in 2000..2099");
		return -EINVAL;
	}
	out->annual = n == 4;
	out->year = y;
	if (out->annual) {
		sm = cal->year_start_m, sd = cal->year_start_d;
		em = cal->year_end_m, ed = cal->year_end_d;
		dm = cal->year_due_m, dd = cal->year_due_d;
	} else {
		sm = cal->half_start_m, sd = cal->half_start_d;
		em = cal->half_end_m, ed = cal->half_end_d;
		dm = cal->half_due_m, dd = cal->half_due_d;
	}
	int sy = sm > em ? y - 1 : y;
	int dy = dm < em ? y + 1 : y;
	snprintf(out->id, sizeof(out->id), "%s", text);
	snprintf(out->from, sizeof(out->from), "%04d-%02d-%02d", sy, sm, sd);
	snprintf(out->to, sizeof(out->to), "%04d-%02d-%02d", y, em, ed);
	snprintf(out->due, sizeof(out->due), "%04d-%02d-%02d", dy, dm, dd);
	out->from_us = day_us(sy, sm, sd);
	out->end_us = day_us(y, em, ed) + 86400LL * 1000000LL;
	return 0;
}

int report_scope_parse(const char *text, struct report_scope *out, char *err,
		       size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (text == NULL || strcmp(text, "province") == 0) {
		out->kind = SCOPE_PROVINCE;
		snprintf(out->id, sizeof(out->id), "province");
		return 0;
	}
	const char *key = NULL;
	if (strncmp(text, "commune:", 8) == 0) {
		out->kind = SCOPE_COMMUNE;
		key = text + 8;
	} else if (strncmp(text, "school:", 7) == 0) {
		out->kind = SCOPE_SCHOOL;
		key = text + 7;
	} else {
		snprintf(err, errlen, "scope must be province, commune:NAME or "
			 "school:CODE");
		return -EINVAL;
	}
	size_t n = strlen(key);
	if (n == 0 || n > STORE_NAME_MAX || !textsafe_is_clean(key, n)) {
		snprintf(err, errlen, "the scope's name must be 1..%d bytes of "
			 "UTF-8 text without control characters",
			 STORE_NAME_MAX);
		return -EINVAL;
	}
	if (out->kind == SCOPE_SCHOOL &&
	    (n > STORE_CODE_MAX || !event_agent_id_valid(key))) {
		snprintf(err, errlen, "a school code is 1-32 of A-Z a-z 0-9 . _ -");
		return -EINVAL;
	}
	memcpy(out->key, key, n + 1);
	snprintf(out->id, sizeof(out->id), "%s:%s",
		 out->kind == SCOPE_SCHOOL ? "school" : "commune", key);
	return 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_word(char c)
{
	return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* DDDD-DD-DD with month 01..12 and day 01..31 at t. */
static bool iso_date_at(const char *t)
{
	static const char shape[] = "dddd-dd-dd";
	for (size_t i = 0; i < sizeof(shape) - 1; i++)
		if (shape[i] == 'd' ? !is_digit(t[i]) : t[i] != shape[i])
			return false;
	int month = (t[5] - '0') * 10 + (t[6] - '0');
	int day = (t[8] - '0') * 10 + (t[9] - '0');
	return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

void report_dates_vn(char *text)
{
	size_t n = strlen(text);
	for (size_t i = 0; i + 10 <= n; i++) {
		if ((i > 0 && is_word(text[i - 1])) || !iso_date_at(text + i) ||
		    is_word(text[i + 10]))
			continue;
		char iso[10];
		memcpy(iso, text + i, 10);
		memcpy(text + i, iso + 8, 2);
		text[i + 2] = '/';
		memcpy(text + i + 3, iso + 5, 2);
		text[i + 5] = '/';
		memcpy(text + i + 6, iso, 4);
		i += 9;
	}
}
