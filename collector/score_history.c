/* score_history: the per-school and per-PC rows of the daily snapshot that
 * six-monthly and annual reports are computed from (store_day_school,
 * store_day_host). Which checks make "antivirus", "RPO" and "restore"
 * comes from the policy data (a check's state and field), never from check
 * ids, so a level-4 addition on the same field counts too. */
#include "collector/score.h"

#include <stdio.h>
#include <string.h>

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

int score_snapshot_history(struct store *st, const struct score_report *r,
			   const char *day)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < r->nschools; i++) {
		const struct school_score *s = &r->schools[i];
		struct store_day_school d = {
			.level = s->school.level,
			.no_policy = s->no_policy,
			.pcs = s->pcs,
			.enrolled = s->enrolled,
			.fresh = s->fresh,
			.score = s->score,
		};
		snprintf(d.day, sizeof(d.day), "%s", day);
		snprintf(d.school, sizeof(d.school), "%s", s->school.code);
		snprintf(d.commune, sizeof(d.commune), "%s", s->school.commune);
		for (size_t h = 0; rc == 0 && h < s->nhosts; h++) {
			const struct host_score *hs = &s->hosts[h];
			struct store_day_host dh = {
				.score = hs->score,
				.fresh = !hs->stale,
				.av_ok = area_ok(hs, AREA_AV),
				.rpo_ok = area_ok(hs, AREA_RPO),
				.restore_ok = area_ok(hs, AREA_RESTORE),
			};
			snprintf(dh.day, sizeof(dh.day), "%s", day);
			snprintf(dh.agent, sizeof(dh.agent), "%s", hs->agent);
			snprintf(dh.school, sizeof(dh.school), "%s",
				 s->school.code);
			failed_ids(hs, dh.failed, sizeof(dh.failed));
			d.av_ok += dh.av_ok;
			d.rpo_ok += dh.rpo_ok;
			d.restore_ok += dh.restore_ok;
			rc = store_day_host_put(st, &dh);
		}
		if (rc == 0)
			rc = store_day_school_put(st, &d);
	}
	return rc;
}
