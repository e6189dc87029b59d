/* drill_redteam: red-team actions, their checks and their matching to
 * alerts (drill_redteam.h). */
#include "collector/drill/drill_redteam.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "collector/drill/drill_timeline.h"
#include "collector/register/register.h"
#include "common/alloc.h"
#include "common/event.h"
#include "common/textsafe.h"
#include "common/timeutil.h"

static const char *const col_names[DRILL_ACTION_NCOLS] = {
	"time", "target", "technique", "description",
};

const char *drill_action_col_name(enum drill_action_col c)
{
	return (unsigned)c < DRILL_ACTION_NCOLS ? col_names[c] : NULL;
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

bool drill_technique_valid(const char *s, size_t len)
{
	if (len != 5 && len != 9)
		return false;
	if (s[0] != 'T' || !digits(s + 1, 4))
		return false;
	return len == 5 || (s[5] == '.' && digits(s + 6, 3));
}

static int num(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard
 * Hinnant's days_from_civil): no timegm, no time zone in the way. */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int era = y / 400;
	int yoe = y - era * 400;
	int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int64_t)era * 146097 + doe - 719468;
}

int drill_time_parse(const char *s, size_t len, int64_t *us)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	if (len < 20 || len > 27 || s[len - 1] != 'Z')
		return -EINVAL;
	for (size_t i = 0; i < 19; i++)
		if (shape[i] == 'd' ? !digits(s + i, 1) : s[i] != shape[i])
			return -EINVAL;
	size_t frac = 0;
	if (len > 20) {
		frac = len - 21;
		if (s[19] != '.' || frac == 0 || !digits(s + 20, frac))
			return -EINVAL;
	}
	int y = num(s, 4), mo = num(s + 5, 2), d = num(s + 8, 2);
	int h = num(s + 11, 2), mi = num(s + 14, 2), se = num(s + 17, 2);
	if (y < 2000 || y > 2099 || mo < 1 || mo > 12 || d < 1 || h > 23 ||
	    mi > 59 || se > 59)
		return -EINVAL;
	int leap = y % 4 == 0; /* 2000 is one, 2100 out of range */
	if (d > mdays[mo - 1] + (mo == 2 && leap))
		return -EINVAL;
	int64_t sub = frac ? num(s + 20, frac) : 0;
	for (size_t i = frac; i < 6; i++)
		sub *= 10;
	*us = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se) *
	       1000000) + sub;
	return 0;
}

static int copy_text(char *dst, size_t cap, const char *s, size_t len)
{
	if (len == 0 || len >= cap || !textsafe_is_clean(s, len) ||
	    s[0] == ' ' || s[len - 1] == ' ')
		return -EINVAL;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

static int target(struct store_redteam_action *a, const char *s, size_t len)
{
	if (len > 5 && memcmp(s, "host:", 5) == 0) {
		snprintf(a->target_kind, sizeof(a->target_kind), "host");
		return copy_text(a->target, sizeof(a->target), s + 5, len - 5);
	}
	if (len > 7 && memcmp(s, "school:", 7) == 0) {
		snprintf(a->target_kind, sizeof(a->target_kind), "school");
		if (len - 7 > STORE_CODE_MAX ||
		    copy_text(a->target, sizeof(a->target), s + 7, len - 7))
			return -EINVAL;
		return event_agent_id_valid(a->target) ? 0 : -EINVAL;
	}
	return -EINVAL;
}

int drill_action_fields(const char *const f[DRILL_ACTION_NCOLS],
			const size_t len[DRILL_ACTION_NCOLS],
			struct store_redteam_action *a, const char **column,
			char *err, size_t errlen)
{
	static const char *const why[DRILL_ACTION_NCOLS] = {
		"a UTC time such as 2026-12-02T09:15:00Z",
		"host:NAME (an agent id or hostname) or school:CODE",
		"a MITRE ATT&CK technique id such as T1059 or T1059.001",
		"printable text, 1 to 400 bytes",
	};
	int bad = -1;
	memset(a, 0, sizeof(*a));
	if (drill_time_parse(f[DRILL_ACTION_TIME], len[DRILL_ACTION_TIME],
			     &a->at_us) != 0)
		bad = DRILL_ACTION_TIME;
	else if (target(a, f[DRILL_ACTION_TARGET], len[DRILL_ACTION_TARGET]))
		bad = DRILL_ACTION_TARGET;
	else if (!drill_technique_valid(f[DRILL_ACTION_TECHNIQUE],
					len[DRILL_ACTION_TECHNIQUE]))
		bad = DRILL_ACTION_TECHNIQUE;
	else if (copy_text(a->description, sizeof(a->description),
			   f[DRILL_ACTION_DESCRIPTION],
			   len[DRILL_ACTION_DESCRIPTION]))
		bad = DRILL_ACTION_DESCRIPTION;
	if (bad < 0) {
		memcpy(a->technique, f[DRILL_ACTION_TECHNIQUE],
		       len[DRILL_ACTION_TECHNIQUE]);
		a->technique[len[DRILL_ACTION_TECHNIQUE]] = '\0';
		return 0;
	}
	if (column != NULL)
		*column = col_names[bad];
	snprintf(err, errlen, "column %s: must be %s", col_names[bad],
		 why[bad]);
	return -EINVAL;
}

struct load {
	int col_of[DRILL_ACTION_NCOLS]; /* field index of each column */
	size_t nheader;
	struct store_redteam_action *rows;
	size_t n, cap;
};

static int header(struct load *ld, const struct register_csv_row *r,
		  char *err, size_t errlen)
{
	int rc = register_csv_header(r, col_names, DRILL_ACTION_NCOLS,
				     ld->col_of, err, errlen);
	ld->nheader = r->nfields;
	return rc;
}

static int row(void *arg, const struct register_csv_row *r, char *err,
	       size_t errlen)
{
	struct load *ld = arg;
	if (r->line == 1 && ld->nheader == 0)
		return header(ld, r, err, errlen);
	int rc = register_csv_record(r, ld->nheader, ld->n,
				     DRILL_REDTEAM_CSV_MAX_ROWS, "actions", err,
				     errlen);
	if (rc != 0)
		return rc > 0 ? 0 : rc;
	if (ld->n == ld->cap) {
		size_t cap = ld->cap ? 2 * ld->cap : 64;
		void *p = alloc_resize(ld->rows, cap * sizeof(*ld->rows));
		if (p == NULL)
			return -ENOMEM;
		ld->rows = p;
		ld->cap = cap;
	}
	const char *f[DRILL_ACTION_NCOLS];
	size_t l[DRILL_ACTION_NCOLS];
	for (int c = 0; c < DRILL_ACTION_NCOLS; c++) {
		f[c] = r->fields[ld->col_of[c]];
		l[c] = r->lens[ld->col_of[c]];
	}
	char why[160];
	if (drill_action_fields(f, l, &ld->rows[ld->n], NULL, why,
				sizeof(why)) != 0) {
		snprintf(err, errlen, "line %zu, %s", r->line, why);
		return -EINVAL;
	}
	ld->n++;
	return 0;
}

int drill_action_csv_load(const char *buf, size_t len,
			  struct store_redteam_action **out, size_t *count,
			  char *err, size_t errlen)
{
	struct load ld = {0};
	*out = NULL;
	*count = 0;
	int rc = register_csv_parse(buf, len, row, &ld, err, errlen);
	if (rc == 0 && ld.nheader == 0) {
		snprintf(err, errlen, "the file is empty: it needs a header "
			 "row time,target,technique,description");
		rc = -EINVAL;
	} else if (rc == 0 && ld.n == 0) {
		snprintf(err, errlen, "the file names no action");
		rc = -EINVAL;
	}
	if (rc != 0) {
		alloc_free(ld.rows);
		return rc == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	*out = ld.rows;
	*count = ld.n;
	return 0;
}

int drill_redteam_may_record(const struct store_drill *d, const char *role,
			     char *err, size_t errlen)
{
	if (strcmp(role, "drill_organiser") != 0 &&
	    strcmp(role, "province_admin") != 0) {
		snprintf(err, errlen, "the role %s may not record red-team "
			 "actions: they are recorded by a drill_organiser or a "
			 "province_admin", role);
		return -EPERM;
	}
	if (strcmp(d->scenario, DRILL_REDTEAM) != 0) {
		snprintf(err, errlen, "drill '%s' is a %s drill, not a red-team "
			 "window", d->name, d->scenario);
		return -EINVAL;
	}
	if (strcmp(d->state, "running") != 0 && strcmp(d->state, "done") != 0) {
		snprintf(err, errlen, "red-team window '%s' is %s; actions are "
			 "recorded once it was approved and started", d->name,
			 d->state);
		return -EAGAIN;
	}
	return 0;
}

/* The claimed time against the clock: not older than grace, not ahead
 * by more than the skew (drill_redteam.h). 0, or -ERANGE with why. */
static int claim_ok(int64_t at, int64_t now_us, int64_t grace_s,
		    const char **why)
{
	int64_t grace_us = (grace_s > 0 ? grace_s
					: DRILL_REDTEAM_GRACE_DEFAULT_S) *
			   1000000;
	if (at < now_us - grace_us)
		*why = "was more than drill.redteam_grace ago; an action is "
		       "recorded soon after it happens, not from the alerts "
		       "it caused";
	else if (at > now_us + DRILL_REDTEAM_FUTURE_US)
		*why = "lies in the future (more than 5 minutes ahead of the "
		       "collector's clock)";
	else
		return 0;
	return -ERANGE;
}

int drill_redteam_prepare(const struct store_drill *d, const char *who,
			  int64_t now_us, int64_t grace_s,
			  struct store_redteam_action *a, size_t n,
			  char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const char *why = NULL;
		char t[64];
		bool outside = a[i].at_us < d->window_start_us ||
			       a[i].at_us >= d->window_end_us;
		if (claim_ok(a[i].at_us, now_us, grace_s, &why) != 0 ||
		    outside) {
			timeutil_format_us(a[i].at_us, t, sizeof(t));
			snprintf(err, errlen, "action %zu: time %s %s%s%s", i + 1,
				 t, why ? why : "lies outside the window of '",
				 why ? "" : d->name, why ? "" : "'");
			return -ERANGE;
		}
		a[i].campaign = d->id;
		snprintf(a[i].recorded_by, sizeof(a[i].recorded_by), "%s", who);
	}
	return 0;
}

bool drill_action_targets(const struct store_redteam_action *a,
			  const struct store_redteam_alert *al)
{
	if (strcmp(a->target_kind, "school") == 0)
		return strcmp(a->target, al->school) == 0;
	/* Hostnames are case-blind (DNS, NetBIOS); agent ids are ours. */
	return strcmp(a->target, al->agent) == 0 ||
	       (al->hostname[0] && strcasecmp(a->target, al->hostname) == 0);
}

/* The first alert matching a (-1: none); with seen, every alert that
 * matches it is marked there. */
static long first_match(const struct store_redteam_action *a,
			const struct store_redteam_alert *al, size_t nal,
			int64_t window_us, bool *seen)
{
	long first = -1;
	for (size_t j = 0; j < nal; j++) {
		if (!drill_action_targets(a, &al[j]) ||
		    al[j].first_us < a->at_us ||
		    al[j].first_us > a->at_us + window_us)
			continue;
		if (seen != NULL)
			seen[j] = true;
		if (first < 0 || al[j].first_us < al[first].first_us)
			first = (long)j;
	}
	return first;
}

/* An action recorded after the alert that matches it arrived. */
static bool recorded_late(const struct store_redteam_alert *al, long first,
			  int64_t recorded_us)
{
	return first >= 0 && al[first].first_us < recorded_us;
}

size_t drill_redteam_count_late(const struct store_redteam_action *a,
				size_t n, int64_t now_us,
				const struct store_redteam_alert *al,
				size_t nal)
{
	size_t late = 0;
	for (size_t i = 0; i < n; i++)
		late += recorded_late(al, first_match(&a[i], al, nal,
						      DRILL_REDTEAM_MATCH_US,
						      NULL),
				      now_us);
	return late;
}

/* One action's outcome into m, its times into det and ack; the alerts
 * a timely action matches are marked in matched. */
static void score_action(const struct store_redteam_action *act,
			 const struct store_redteam_alert *al, size_t nal,
			 int64_t window_us, bool *matched,
			 struct drill_redteam_match *m, int64_t *det,
			 int64_t *ack, struct drill_redteam_figures *fig)
{
	*m = (struct drill_redteam_match){-1, -1, -1, false};
	long first = first_match(act, al, nal, window_us, NULL);
	if (recorded_late(al, first, act->created_us)) {
		m->alert = first;
		m->late = true;
		fig->late++;
		return;
	}
	if (first < 0)
		return;
	first_match(act, al, nal, window_us, matched);
	const struct store_redteam_alert *a = &al[first];
	m->alert = first;
	m->detect_ms = (a->first_us - act->at_us) / 1000;
	det[fig->detected++] = m->detect_ms;
	if (a->ack_us > 0) {
		m->ack_ms = a->ack_us > act->at_us ?
			(a->ack_us - act->at_us) / 1000 : 0;
		ack[fig->acknowledged++] = m->ack_ms;
	}
}

int drill_redteam_match(const struct store_redteam_action *act, size_t na,
			const struct store_redteam_alert *al, size_t nal,
			int64_t window_us, struct drill_redteam_match *m,
			struct drill_redteam_figures *fig)
{
	int64_t *det = alloc_zeroed(na + 1, sizeof(int64_t));
	int64_t *ack = alloc_zeroed(na + 1, sizeof(int64_t));
	bool *matched = alloc_zeroed(nal + 1, sizeof(bool));
	if (det == NULL || ack == NULL || matched == NULL) {
		alloc_free(det);
		alloc_free(ack);
		alloc_free(matched);
		return -ENOMEM;
	}
	memset(fig, 0, sizeof(*fig));
	fig->actions = na;
	fig->alerts = nal;
	for (size_t i = 0; i < na; i++)
		score_action(&act[i], al, nal, window_us, matched, &m[i], det,
			     ack, fig);
	for (size_t j = 0; j < nal; j++)
		fig->false_alerts += !matched[j];
	size_t scored = na - fig->late;
	fig->coverage = scored ? (double)fig->detected / (double)scored : 0;
	fig->false_rate = nal ? (double)fig->false_alerts / (double)nal : 0;
	fig->detect_p50_ms = drill_quantile(det, fig->detected, 50);
	fig->detect_p90_ms = drill_quantile(det, fig->detected, 90);
	fig->ack_p50_ms = drill_quantile(ack, fig->acknowledged, 50);
	fig->ack_p90_ms = drill_quantile(ack, fig->acknowledged, 90);
	alloc_free(det);
	alloc_free(ack);
	alloc_free(matched);
	return 0;
}

/* Rows copied out of a store callback (whose lock forbids reading the
 * store again inside it) into a dynbuf, whose cap bounds them; its
 * error is checked once after the read. */
static void add_action(void *arg, const struct store_redteam_action *a)
{
	dynbuf_add(arg, a, sizeof(*a));
}

static void add_alert(void *arg, const struct store_redteam_alert *a)
{
	dynbuf_add(arg, a, sizeof(*a));
}

int drill_redteam_score(struct store *st, uint64_t campaign,
			struct drill_redteam_score *out)
{
	memset(out, 0, sizeof(*out));
	dynbuf_init(&out->ab, 0);
	dynbuf_init(&out->lb, 0);
	int rc = store_redteam_actions(st, campaign, add_action, &out->ab);
	if (rc == 0)
		rc = store_redteam_alerts(st, campaign, add_alert, &out->lb);
	if (rc == 0)
		rc = out->ab.failed ? out->ab.failed : out->lb.failed;
	if (rc != 0)
		return rc;
	out->actions = (const void *)out->ab.data;
	out->nactions = out->ab.len / sizeof(*out->actions);
	out->alerts = (const void *)out->lb.data;
	out->nalerts = out->lb.len / sizeof(*out->alerts);
	out->m = alloc_zeroed(out->nactions + 1, sizeof(*out->m));
	if (out->m == NULL)
		return -ENOMEM;
	return drill_redteam_match(out->actions, out->nactions, out->alerts,
				   out->nalerts, DRILL_REDTEAM_MATCH_US, out->m,
				   &out->fig);
}

void drill_redteam_score_free(struct drill_redteam_score *s)
{
	alloc_free(s->m);
	dynbuf_free(&s->ab);
	dynbuf_free(&s->lb);
	memset(s, 0, sizeof(*s));
}
