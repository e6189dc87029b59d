/* drill_timeline: a targeted PC's stages and result (drill_timeline.h). */
#include "collector/drill/drill_timeline.h"

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
