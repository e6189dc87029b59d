/* drill_timeline: what one targeted PC's drill reached, read from its
 * store row, for the CLI's status, the reports' drill section and the
 * console alike (one definition of "reached" and "passed"). */
#ifndef EDUWATCH_DRILL_TIMELINE_H
#define EDUWATCH_DRILL_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/drill/drill_scenario.h"
#include "collector/store.h"

/* When each stage was reached, 0: not. The AV "acted" only when it
 * removed the sample; the cleanup counts only when the agent verified
 * it; detected when the collector stored the PC's drill-flagged finding;
 * forwarded when every SOC destination confirmed the drill alert. */
void drill_target_stages(const struct store_drill_target *t,
			 int64_t out[DRILL_STAGE_COUNT]);

/* The command reached the queue (or an abort did): not stale, not
 * revoked. */
bool drill_target_took_part(const struct store_drill_target *t);

/* The stages with no person in them all ran: injected, detected, alert
 * raised, forwarded to the SOC, cleaned up (verified). The AV's removal
 * is measured, never required. */
bool drill_target_passed(const struct store_drill_target *t);
/* As drill_target_passed, for a scenario whose timeline lacks some of
 * those stages (agent-silence has no detection of the PC's own: the
 * collector's silent-PC alert is it); sc NULL: all of them. */
bool drill_target_passed_in(const struct store_drill_target *t,
			    const struct drill_scenario *sc);

/* A school's (or any group's) result from its PCs that took part and
 * those that passed: "passed" (all), "partial", "failed" (none), or
 * "none" when no PC took part. */
const char *drill_result(size_t took_part, size_t passed);

#endif
