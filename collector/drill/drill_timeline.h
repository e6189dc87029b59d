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

/* One scoreboard row: a group of a campaign's targets (a school, a
 * commune, the province). Times run from the command queued. */
struct drill_board {
	size_t targets, took_part, passed;
	/* Why the others did not take part: silent past the stale limit at
	 * start, or revoked. never_reached: queued, but the PC never
	 * fetched its command (offline through the window). */
	size_t stale, revoked, never_reached;
	struct drill_board_stage {
		size_t reached;
		double share; /* of the PCs that took part; 0 with none */
		int64_t p50_ms, p90_ms; /* -1: no PC reached it */
	} stage[DRILL_STAGE_COUNT];
};

/* The row of the targets ts[i] with in[i] set (in NULL: all of them),
 * passed as drill_target_passed_in(sc) has it.
 * scratch: room for n values, the caller's. The one computation behind
 * `drill status`, the reports and the console. */
void drill_board_compute(const struct store_drill_target *ts, size_t n,
			 const bool *in, const struct drill_scenario *sc,
			 int64_t *scratch, struct drill_board *out);

/* Each target's commune (out: n of them), read once per school: the
 * targets come ordered by school. "?" for a school deleted since.
 * 0 or the store's error. */
int drill_target_communes(struct store *st,
			  const struct store_drill_target *t, size_t n,
			  char (*out)[STORE_NAME_MAX + 1]);

/* The group of target i, by school (communes NULL) or by commune (read
 * only): sets
 * in[j] for every target of the same group and returns true, or returns
 * false when an earlier target opened that group already, so that a
 * caller makes one row per group in the order first seen. */
bool drill_board_group(const struct store_drill_target *t, size_t n,
		       char (*communes)[STORE_NAME_MAX + 1], size_t i,
		       bool *in);

/* The nearest-rank quantile (q in 0..100) of n values, which it sorts
 * in place: the scoreboards' medians and p90s, the injections' and the
 * red team's alike. -1 when n is 0. */
int64_t drill_quantile(int64_t *v, size_t n, int q);

#endif
