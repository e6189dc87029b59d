/* score: how compliant each PC, school, commune and the province is.
 *
 *   host score   = 100 x sum(weight of passing checks) / sum(weight of all)
 *   school score = sum(host scores of fresh PCs) / max(expected, enrolled)
 *
 * so a PC that is stale (silent past the policy's stale_after) or missing
 * (expected by the school's inventory but never enrolled) counts as a
 * failing 0. Communes and the province weigh each school by that same
 * denominator, its PCs. Every failing check carries its evidence: what
 * the host reported, or that it reported nothing. */
#ifndef EDUWATCH_SCORE_H
#define EDUWATCH_SCORE_H

#include "common/check.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "collector/policy.h"
#include "collector/store.h"

struct check_result {
	const struct policy_check *check;
	bool pass;
	char evidence[200];
};

struct host_score {
	char agent[EVENT_AGENT_MAX + 1];
	char hostname[STORE_NAME_MAX + 1];
	int64_t last_seen_us;
	bool stale;
	double score;	   /* of its checks, as last reported */
	size_t nresults;
	struct check_result *results;
};

struct school_score {
	struct store_school school;
	bool no_policy; /* its level has no policy file: not scored */
	double score;
	int pcs;	/* the denominator: max(expected, enrolled) */
	int enrolled, fresh, stale, missing;
	size_t nhosts;
	struct host_score *hosts;
};

struct score_report {
	double province;
	int province_pcs;
	size_t nschools;
	struct school_score *schools;
};

/* Scores every school (school NULL) or one, against the policy of its
 * level. Returns 0, -ENOENT for an unknown school, or a negative errno. */
EW_MUST_CHECK
int score_compute(struct store *st, const struct policy_set *policies,
		  const char *school, int64_t now_us, struct score_report *out,
		  char *err, size_t errlen);
void score_report_free(struct score_report *r);

/* Rolls schools of one commune (NULL: all) up; returns the weighted score
 * and the PCs in *pcs. 0 PCs scores 0. */
double score_rollup(const struct score_report *r, const char *commune,
		    int *pcs);

/* One check against a host's rows (pure; for tests). rows[i].kind picks
 * the state; last_seen_us serves the "agent" state. */
void score_check(const struct policy_check *c,
		 const struct store_host_row *rows, size_t nrows,
		 int64_t last_seen_us, int64_t now_us,
		 struct check_result *out);

/* Prints the report: the province, its communes and schools; with
 * `commune`, that commune's schools; with `school` (a report of that
 * school), each PC and, for each failing check, its evidence and
 * remediation. JSON carries the same, for the dashboard and reports. */
void score_print(FILE *f, const struct score_report *r, const char *commune,
		 const char *school, bool json);

/* ---- daily snapshots ------------------------------------------------ */

struct alert_rule;

/* The day a snapshot taken at now_us is filed under: "YYYY-MM-DD", UTC. */
void score_day(int64_t now_us, char day[11]);

/* Whether the province already has a snapshot for day: the daemon takes
 * one snapshot a day, whoever takes it first. */
EW_MUST_CHECK
int score_snapshot_exists(struct store *st, const char *day, bool *exists);

/* Called for each compliance drop that opened a new alert. */
typedef void (*score_drop_fn)(void *arg, const struct alert_rule *rule,
			      const char *school, double drop);

/* Records r as day's scores of every school, each commune once and the
 * province (replacing what that day held), and checks each school
 * against drop_rule (NULL: none) first. Sets *recorded to the number of
 * scores written. Returns 0 or a negative errno from the store. */
EW_MUST_CHECK
int score_snapshot(struct store *st, const struct score_report *r,
		   const struct alert_rule *drop_rule, const char *day,
		   score_drop_fn on_drop, void *arg, int *recorded);

/* Records what reports need of day (score_history.c): each school's PCs,
 * fresh ones and those whose antivirus, backup RPO and test restore
 * checks pass, and each PC's score and failing checks. A PC that is
 * stale or was never enrolled counts against every share. Called by
 * score_snapshot. */
int score_snapshot_history(struct store *st, const struct score_report *r,
			   const char *day);

/* Reports over past periods stand on the daily snapshots, and the
 * province must keep what its reports stand on for three years: a
 * snapshot retention shorter than this is refused. */
#define SCORE_SNAPSHOT_KEEP_MIN_DAYS 1096

/* A clock that jumped would delete years of history in one run: the
 * prune runs only while now's day is from the newest snapshot's day to
 * this many days after it. */
#define SCORE_PRUNE_MAX_GAP_DAYS 2

/* Snapshot retention, run by the daily job: deletes the snapshots of
 * every day more than keep_days before the older of now_us's day and the
 * newest snapshot's day, and sets *removed to the rows deleted. -EINVAL
 * (nothing deleted) below SCORE_SNAPSHOT_KEEP_MIN_DAYS; -ERANGE (nothing
 * deleted, a warning logged) when now_us is before the newest snapshot's
 * day or more than SCORE_PRUNE_MAX_GAP_DAYS after it. No snapshot at
 * all: 0, nothing to delete. */
EW_MUST_CHECK
int score_history_prune(struct store *st, int64_t now_us, long long keep_days,
			long long *removed);

#endif
