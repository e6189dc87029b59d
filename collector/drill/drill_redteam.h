/* drill_redteam: red-team windows, the human half of the drills.
 *
 * A red-team window is a campaign whose scenario is "red-team": no
 * command goes to any PC; a red team attacks the PCs of the scope for
 * real and records each action (when, which host or school, the MITRE
 * ATT&CK technique, what it did). The CLI (`drill action add|import`)
 * and the console read actions through the same checks, one field at a
 * time, and a CSV with the header
 *
 *   time,target,technique,description
 *
 * in any column order: time "2026-12-02T09:15:00Z" (UTC, optional
 * fraction of a second), target "host:NAME" (an agent id or hostname)
 * or "school:CODE", technique "T1059" or "T1059.001".
 *
 * Matching (docs/DECISIONS.md): an alert matches an action when it is
 * on the action's target (the host, or any PC of the school) and its
 * first time lies in [t, t + W]. An action is detected when an alert
 * matches it; its time to detect is that of the first such alert, its
 * time to acknowledge that alert's acknowledgement. An alert of the
 * window that matches no action is a false alert.
 *
 * Recorded late (docs/DECISIONS.md): an action recorded after the first
 * alert that matches it arrived could be the organiser reading that
 * alert, not the SOC detecting the action. It is set apart: neither
 * detected nor counted in the coverage, and the alerts it alone matches
 * stay false alerts (a late action cannot explain a real attack away).
 * Claims are bounded too: an action is recorded at most
 * drill.redteam_grace after the time it claims (the store's trigger:
 * 24 h) and never claims more than 5 minutes ahead of the clock. */
#ifndef EDUWATCH_DRILL_REDTEAM_H
#define EDUWATCH_DRILL_REDTEAM_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/store.h"
#include "common/dynbuf.h"

#define DRILL_REDTEAM "red-team"
/* W: how long after an action its detection may come. */
#define DRILL_REDTEAM_MATCH_US (30LL * 60 * 1000000)
#define DRILL_REDTEAM_CSV_MAX_ROWS 5000
/* drill.redteam_grace: its default and its most (the store's trigger
 * refuses a claim older than the latter whatever the setting says). */
#define DRILL_REDTEAM_GRACE_DEFAULT_S (4LL * 3600)
#define DRILL_REDTEAM_GRACE_MAX_S (24LL * 3600)
/* How far ahead of the clock a claim may lie: clock skew between the
 * organiser's watch and the collector, no more (the trigger's too). */
#define DRILL_REDTEAM_FUTURE_US (5LL * 60 * 1000000)

/* The columns of an action, in this order in the fields arrays below. */
enum drill_action_col {
	DRILL_ACTION_TIME,
	DRILL_ACTION_TARGET,
	DRILL_ACTION_TECHNIQUE,
	DRILL_ACTION_DESCRIPTION,
	DRILL_ACTION_NCOLS
};

/* "time", "target", ...; NULL out of range. */
const char *drill_action_col_name(enum drill_action_col c);

/* A MITRE ATT&CK technique id: T and four digits, optionally a dot and
 * three digits (a sub-technique). */
bool drill_technique_valid(const char *s, size_t len);

/* "YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z" (years 2000..2099, a date that exists)
 * to microseconds since the epoch. 0 or -EINVAL. */
EW_MUST_CHECK
int drill_time_parse(const char *s, size_t len, int64_t *us);

/* One action from its four fields (borrowed, len bytes, not
 * NUL-terminated); campaign and recorded_by are left to the caller.
 * 0, or -EINVAL with err naming the column and what it must be, and
 * *column (when not NULL) the column's name. */
EW_MUST_CHECK
int drill_action_fields(const char *const f[DRILL_ACTION_NCOLS],
			const size_t len[DRILL_ACTION_NCOLS],
			struct store_redteam_action *a, const char **column,
			char *err, size_t errlen);

/* Parses a CSV of actions (allocated, the caller frees with alloc_free;
 * *count of them). Every row is checked before anything is returned:
 * one bad row loads nothing, and err names its line and column.
 * 0, -EINVAL or -ENOMEM. */
EW_MUST_CHECK
int drill_action_csv_load(const char *buf, size_t len,
			  struct store_redteam_action **out, size_t *count,
			  char *err, size_t errlen);

/* Whether a person of role (a console role's name) may record actions
 * in campaign d now: a drill_organiser or province_admin, in a red-team
 * window that was approved and started. 0, or -EPERM, -EINVAL (not a
 * red-team window) or -EAGAIN (not started yet, or aborted), with err a
 * sentence for a person. The CLI and the console alike. */
EW_MUST_CHECK
int drill_redteam_may_record(const struct store_drill *d, const char *role,
			     char *err, size_t errlen);

/* Ties n parsed actions to d and to who records them at now_us, after
 * checking each claims a time no more than grace_s before now_us (0:
 * the default), not ahead of it by more than the skew, and inside d's
 * window: 0, or -ERANGE with err naming the first one refused (1-based)
 * and why. */
EW_MUST_CHECK
int drill_redteam_prepare(const struct store_drill *d, const char *who,
			  int64_t now_us, int64_t grace_s,
			  struct store_redteam_action *a, size_t n,
			  char *err, size_t errlen);

/* Whether an alert is on an action's target. */
bool drill_action_targets(const struct store_redteam_action *a,
			  const struct store_redteam_alert *al);

/* One action's outcome: the first matching alert (-1: none), and the
 * times from the action to it and to its acknowledgement in ms (-1: not
 * reached, and always for an action recorded late). late: that alert
 * arrived before the action was recorded. */
struct drill_redteam_match {
	long alert;
	int64_t detect_ms, ack_ms;
	bool late;
};

struct drill_redteam_figures {
	size_t actions, detected, acknowledged;
	size_t late; /* recorded late: in actions, not in the coverage */
	size_t alerts, false_alerts;
	double coverage;   /* detected / (actions - late); 0 with none */
	double false_rate; /* false_alerts / alerts; 0 with no alert */
	int64_t detect_p50_ms, detect_p90_ms; /* -1: none detected */
	int64_t ack_p50_ms, ack_p90_ms;	      /* -1: none acknowledged */
};

/* Matches actions (any order) to the window's alerts under the rule
 * above, window_us being W: m gets one entry per action (na of them),
 * fig the campaign's figures. 0 or -ENOMEM. */
EW_MUST_CHECK
int drill_redteam_match(const struct store_redteam_action *act, size_t na,
			const struct store_redteam_alert *al, size_t nal,
			int64_t window_us, struct drill_redteam_match *m,
			struct drill_redteam_figures *fig);

/* How many of n actions about to be recorded at now_us would be
 * recorded late: an alert already arrived that matches it. */
size_t drill_redteam_count_late(const struct store_redteam_action *a,
				size_t n, int64_t now_us,
				const struct store_redteam_alert *al,
				size_t nal);

/* A window's actions and alerts, read from the store, and their
 * matching: the one scoring the CLI, the console and the report read. */
struct drill_redteam_score {
	const struct store_redteam_action *actions; /* oldest first */
	size_t nactions;
	const struct store_redteam_alert *alerts;
	size_t nalerts;
	struct drill_redteam_match *m; /* one per action */
	struct drill_redteam_figures fig;
	struct dynbuf ab, lb; /* owning the rows above */
};

/* Reads and scores campaign's window. 0 or a store error, -ENOMEM;
 * drill_redteam_score_free either way. */
EW_MUST_CHECK
int drill_redteam_score(struct store *st, uint64_t campaign,
			struct drill_redteam_score *out);
void drill_redteam_score_free(struct drill_redteam_score *s);

#endif
