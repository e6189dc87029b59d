/* drill_timeline: a targeted PC's stages and result (drill_timeline.h). */
#include "collector/drill/drill_timeline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void drill_target_stages(const struct store_drill_target *t,
			 int64_t out[DRILL_STAGE_COUNT])
{
	memset(out, 0, DRILL_STAGE_COUNT * sizeof(int64_t));
	out[DRILL_STAGE_INJECTED] = t->injected_us;
	out[DRILL_STAGE_AV_ACTED] = t->av_removed ? t->av_checked_us : 0;
	out[DRILL_STAGE_DETECTED] = t->detected_us;
	out[DRILL_STAGE_ALERT_RAISED] = t->alert_us;
	out[DRILL_STAGE_FORWARDED] = t->forwarded_us;
	out[DRILL_STAGE_ACKNOWLEDGED] = t->ack_us;
	out[DRILL_STAGE_RESOLVED] = t->resolved_us;
	out[DRILL_STAGE_CLEANED_UP] = t->clean_verified ? t->cleaned_us : 0;
}

bool drill_target_took_part(const struct store_drill_target *t)
{
	return t->command != 0 || t->abort_command != 0;
}

bool drill_target_passed(const struct store_drill_target *t)
{
	return drill_target_passed_in(t, NULL);
}

bool drill_target_passed_in(const struct store_drill_target *t,
			    const struct drill_scenario *sc)
{
	static const enum drill_stage chain[] = {
		DRILL_STAGE_INJECTED, DRILL_STAGE_DETECTED,
		DRILL_STAGE_ALERT_RAISED, DRILL_STAGE_FORWARDED,
		DRILL_STAGE_CLEANED_UP};
	int64_t st[DRILL_STAGE_COUNT];
	if (!drill_target_took_part(t))
		return false;
	drill_target_stages(t, st);
	for (size_t i = 0; i < sizeof(chain) / sizeof(*chain); i++)
		if ((sc == NULL || sc->stages[chain[i]]) && st[chain[i]] <= 0)
			return false;
	return true;
}

const char *drill_result(size_t took_part, size_t passed)
{
	if (took_part == 0)
		return "none";
	return passed == took_part ? "passed" : passed ? "partial" : "failed";
}

void drill_board_compute(const struct store_drill_target *ts, size_t n,
			 const bool *in, const struct drill_scenario *sc,
			 int64_t *scratch, struct drill_board *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		if (in && !in[i])
			continue;
		out->targets++;
		if (drill_target_took_part(&ts[i])) {
			out->took_part++;
			out->passed += drill_target_passed_in(&ts[i], sc);
			out->never_reached += ts[i].command != 0 &&
					      ts[i].sent_us <= 0;
		} else if (strcmp(ts[i].status, "revoked") == 0) {
			out->revoked++;
		} else {
			out->stale++;
		}
	}
	for (int s = 0; s < DRILL_STAGE_COUNT; s++) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			int64_t st[DRILL_STAGE_COUNT];
			if ((in && !in[i]) || !drill_target_took_part(&ts[i]))
				continue;
			drill_target_stages(&ts[i], st);
			if (st[s] > 0)
				scratch[k++] = st[s] > ts[i].issued_us ?
					(st[s] - ts[i].issued_us) / 1000 : 0;
		}
		struct drill_board_stage *b = &out->stage[s];
		b->reached = k;
		b->share = out->took_part ?
			(double)k / (double)out->took_part : 0;
		b->p50_ms = drill_quantile(scratch, k, 50);
		b->p90_ms = drill_quantile(scratch, k, 90);
	}
}

int drill_target_communes(struct store *st,
			  const struct store_drill_target *t, size_t n,
			  char (*out)[STORE_NAME_MAX + 1])
{
	for (size_t i = 0; i < n; i++) {
		struct store_school s;
		if (i > 0 && strcmp(t[i].school, t[i - 1].school) == 0) {
			memcpy(out[i], out[i - 1], sizeof(*out));
			continue;
		}
		int rc = store_school_get(st, t[i].school, &s);
		if (rc != 0 && rc != -ENOENT)
			return rc;
		snprintf(out[i], sizeof(*out), "%s", rc == 0 ? s.commune : "?");
	}
	return 0;
}

bool drill_board_group(const struct store_drill_target *t, size_t n,
		       char (*communes)[STORE_NAME_MAX + 1], size_t i,
		       bool *in)
{
	const char *v = communes ? communes[i] : t[i].school;
	for (size_t j = 0; j < i; j++)
		if (strcmp(v, communes ? communes[j] : t[j].school) == 0)
			return false;
	for (size_t j = 0; j < n; j++)
		in[j] = strcmp(v, communes ? communes[j] : t[j].school) == 0;
	return true;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int64_t drill_quantile(int64_t *v, size_t n, int q)
{
	if (n == 0)
		return -1;
	qsort(v, n, sizeof(*v), cmp_i64);
	size_t rank = ((size_t)q * n + 99) / 100;
	return v[rank ? rank - 1 : 0];
}
