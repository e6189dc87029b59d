/* policy: the checks of one security level, read from a data file.
 *
 * Regulations change (Decree 85/2016 and TCVN 11930 are being replaced),
 * so which checks a level has, their weights, texts and thresholds live
 * in rules/policies/levelN.yaml, never in C. A check is a test on one
 * field of a host's latest state of one kind (host_state):
 *
 *   - id: av-realtime
 *     weight: 3
 *     control: "..."             # the control it implements, free text
 *     title_vi: ... title_en: ... rationale_vi/en, remediation_vi/en
 *     state: av.status           # a host_state kind, or "agent"
 *     field: realtime            # a key of its body; "ts": the state's time;
 *                                # for "agent": "last_seen"
 *     test: eq                   # eq, ne, le, ge, age_le, present
 *     value: "true"              # a number for le/ge, a duration for age_le
 *
 * A host without the state fails the check: what was never reported is
 * not compliant. */
#ifndef EDUWATCH_POLICY_H
#define EDUWATCH_POLICY_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

/* Levels 1..3 each have their own file; levels 4 and 5 are optional
 * files that extend the level-3 policy (`extends: 3`) with their own
 * checks. A level without a file has no policy: its schools are reported
 * as such, never scored against a lower level. */
#define POLICY_LEVELS 5
#define POLICY_LEVELS_REQUIRED 3

enum check_test {
	CHECK_EQ,
	CHECK_NE,
	CHECK_LE,
	CHECK_GE,
	CHECK_AGE_LE,
	CHECK_PRESENT,
};

struct policy_check {
	char id[64];
	long long weight;
	char control[256];
	char title_vi[256], title_en[256];
	char rationale_vi[512], rationale_en[512];
	char remediation_vi[512], remediation_en[512];
	char state[32];
	char field[64];
	char test[16];
	char value[128];
	/* Parsed from test and value at load. */
	enum check_test op;
	double number;	   /* le, ge */
	long long age_s;   /* age_le */
};

struct policy {
	long long level;
	char name_vi[128], name_en[128];
	long long stale_after; /* seconds: an agent silent longer is stale */
	long long extends;     /* 0, or the level whose checks come first */
	struct config_table checks; /* struct policy_check */
};

/* Loads one file. Errors name the file, line and key, e.g.
 * "level2.yaml:14: key 'checks[2].test': ..." or, for a value that does
 * not fit its test, "level2.yaml: check 'av-sig-age': ...". */
EW_MUST_CHECK
int policy_load(const char *path, struct policy *out, char *err,
		size_t errlen);
void policy_free(struct policy *p);

/* Gives a check's test and value their meaning (op, number, age_s), so a
 * typo fails at load; errors name path and the check's id. Alert rules
 * use the same language. */
EW_MUST_CHECK
int policy_check_parse(const char *path, struct policy_check *c, char *err,
		       size_t errlen);

static inline const struct policy_check *policy_check_at(const struct policy *p,
							 size_t i)
{
	return (const struct policy_check *)p->checks.items + i;
}

/* level1.yaml .. level3.yaml of a folder, and level4.yaml, level5.yaml
 * when present; each must say its own level, and an `extends` must name
 * a lower level, whose checks it inherits (an id used by both is an
 * error: an addition never silently replaces an inherited check). */
struct policy_set {
	struct policy levels[POLICY_LEVELS];
};

EW_MUST_CHECK
int policy_set_load(const char *dir, struct policy_set *out, char *err,
		    size_t errlen);
void policy_set_free(struct policy_set *set);
/* NULL for a level outside 1..5 or one without a policy file. */
const struct policy *policy_for_level(const struct policy_set *set,
				      int level);

#endif
