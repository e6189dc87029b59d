/* score_history: the per-school and per-PC rows of the daily snapshot that
 * six-monthly and annual reports are computed from (store_day_school,
 * store_day_host). Which checks make "antivirus", "RPO" and "restore"
 * comes from the policy data (a check's state and field), never from check
 * ids, so a level-4 addition on the same field counts too. */
#include "collector/score.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

enum history_area { AREA_AV, AREA_RPO, AREA_RESTORE, AREA_COUNT };

static bool in_area(const struct policy_check *c, enum history_area a)
{
	switch (a) {
	case AREA_AV:
		return strcmp(c->state, "av.status") == 0;
	case AREA_RPO:
		return strcmp(c->state, "backup.status") == 0 &&
		       strcmp(c->field, "rpo_met") == 0;
	case AREA_RESTORE:
		return strcmp(c->state, "backup.status") == 0 &&
		       strcmp(c->field, "last_restore_test_us") == 0;
	case AREA_COUNT:
		break;
	}
	return false;
}

/* A fresh PC passes an area when its policy has checks there and it
 * passes all of them. */
static bool area_ok(const struct host_score *h, enum history_area a)
{
	bool any = false;
	if (h->stale)
		return false;
	for (size_t i = 0; i < h->nresults; i++) {
		if (!in_area(h->results[i].check, a))
			continue;
		if (!h->results[i].pass)
			return false;
		any = true;
	}
	return any;
}

static void failed_ids(const struct host_score *h, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < h->nresults; i++) {
		if (h->results[i].pass)
			continue;
		int n = snprintf(out + len, cap - len, "%s%s", len ? "," : "",
				 h->results[i].check->id);
		if (n < 0 || (size_t)n >= cap - len) {
			out[len] = '\0'; /* whole ids only */
			return;
		}
		len += (size_t)n;
	}
}

/* Walks the report as the day's rows: each school's PCs, then the school
 * with its sums. */
struct history_walk {
	const struct score_report *r;
	const char *day;
	size_t school, host;
	struct store_day_school sums;
};

static int history_next(void *arg, struct store_day_row *row)
{
	struct history_walk *w = arg;
	if (w->school == w->r->nschools)
		return 0;
	const struct school_score *s = &w->r->schools[w->school];
	if (w->host == 0) {
		w->sums = (struct store_day_school){
			.level = s->school.level,
			.no_policy = s->no_policy,
			.pcs = s->pcs,
			.enrolled = s->enrolled,
			.fresh = s->fresh,
			.score = s->score,
		};
		snprintf(w->sums.day, sizeof(w->sums.day), "%s", w->day);
		snprintf(w->sums.school, sizeof(w->sums.school), "%s",
			 s->school.code);
		snprintf(w->sums.commune, sizeof(w->sums.commune), "%s",
			 s->school.commune);
	}
	if (w->host == s->nhosts) {
		row->is_school = true;
		row->school = w->sums;
		w->school++;
		w->host = 0;
		return 1;
	}
	const struct host_score *hs = &s->hosts[w->host++];
	struct store_day_host *dh = &row->host;
	row->is_school = false;
	*dh = (struct store_day_host){
		.score = hs->score,
		.fresh = !hs->stale,
		.av_ok = area_ok(hs, AREA_AV),
		.rpo_ok = area_ok(hs, AREA_RPO),
		.restore_ok = area_ok(hs, AREA_RESTORE),
	};
	snprintf(dh->day, sizeof(dh->day), "%s", w->day);
	snprintf(dh->agent, sizeof(dh->agent), "%s", hs->agent);
	snprintf(dh->school, sizeof(dh->school), "%s", s->school.code);
	failed_ids(hs, dh->failed, sizeof(dh->failed));
	w->sums.av_ok += dh->av_ok;
	w->sums.rpo_ok += dh->rpo_ok;
	w->sums.restore_ok += dh->restore_ok;
	return 1;
}

/* Days since 1970-01-01 of a "YYYY-MM-DD" (H. Hinnant's days_from_civil):
 * plain arithmetic, no time zone and no timegm. */
static long long day_number(const char *day)
{
	int y, m, d;
	if (sscanf(day, "%4d-%2d-%2d", &y, &m, &d) != 3)
		return -1;
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void newest_day(void *arg, const struct store_snapshot *sn)
{
	snprintf(arg, 11, "%s", sn->day);
}

int score_history_prune(struct store *st, int64_t now_us, long long keep_days,
			long long *removed)
{
	char newest[11] = "", before[11];
	*removed = 0;
	if (keep_days < SCORE_SNAPSHOT_KEEP_MIN_DAYS)
		return -EINVAL;
	/* The province row is written last of every daily snapshot, so its
	 * newest day is the newest snapshot day. */
	int rc = store_snapshot_list(st, "province", "", 1, newest_day, newest);
	if (rc != 0 || newest[0] == '\0')
		return rc;
	long long last = day_number(newest);
	long long today = now_us / 86400000000LL;
	if (last < 0 || today < last || today > last + SCORE_PRUNE_MAX_GAP_DAYS) {
		char now_day[11];
		score_day(now_us, now_day);
		log_warn("collector: snapshot retention skipped: today is %s but "
			 "the newest snapshot is of %s (more than %d days "
			 "apart): check the clock (NTP); nothing is deleted "
			 "until they agree", now_day, newest,
			 SCORE_PRUNE_MAX_GAP_DAYS);
		return -ERANGE;
	}
	/* The bound counts from the older of now and the newest snapshot,
	 * so a clock a day or two ahead deletes no more than it should. */
	store_day_name((today < last ? today : last) - keep_days, before);
	return store_snapshot_prune(st, before, removed);
}

int score_snapshot_history(struct store *st, const struct score_report *r,
			   const char *day)
{
	/* One transaction for the whole day (one commit, not one per PC). */
	struct history_walk w = {.r = r, .day = day};
	return store_day_put_all(st, history_next, &w);
}
