/* alert: rules that turn events and state changes into alerts.
 *
 * rules/alerts.yaml maps an event kind (and, optionally, a test on one
 * field of its body, in the policy files' language) to an alert with a
 * severity, a category, a dedupe key and a suppression window:
 *
 *   - id: av-off
 *     title: Antivirus real-time protection turned off
 *     category: malware
 *     kind: av.status
 *     field: realtime        # optional, with test and value
 *     test: eq
 *     value: "false"
 *     severity: 8
 *     dedupe: [product]      # body fields in the key, after rule and agent
 *     suppress: 1h
 *
 * Three kinds come from the collector itself, not from an agent:
 * "agent.silent" (no event for agents.stale_after), "compliance.drop"
 * (a school's daily score falling by at least the rule's value) and
 * "forward.dead_letter" (a SOC destination refused an alert for good; it
 * is parked, see forward.h, with body fields destination, status, reason,
 * alert and rule). */
#ifndef EDUWATCH_ALERT_H
#define EDUWATCH_ALERT_H

#include "common/check.h"

#include <stddef.h>
#include <stdint.h>

#include "collector/policy.h"
#include "collector/store.h"
#include "common/config.h"
#include "common/event.h"

#define ALERT_KIND_DEAD_LETTER "forward.dead_letter"

struct alert_rule {
	char id[64];
	char title[200];
	char category[64];
	char kind[EVENT_KIND_MAX + 1];
	char field[64], test[16], value[128];
	long long severity;
	struct config_list dedupe;
	long long suppress;
	struct policy_check cond; /* field, test and value, parsed */
};

struct alert_rules {
	struct config_table rules; /* struct alert_rule */
};

EW_MUST_CHECK
int alert_rules_load(const char *path, struct alert_rules *out, char *err,
		     size_t errlen);
void alert_rules_free(struct alert_rules *r);

/* The store_alert_fn: evaluates every rule for ev's kind. arg is the
 * struct alert_rules. Runs on the store's writer thread; the rules are
 * read-only once loaded. */
size_t alert_evaluate(void *arg, const struct event *ev,
		      struct store_alert *out, size_t max);

/* The first rule for a collector-made kind (agent.silent,
 * compliance.drop), or NULL when the admin configured none. */
const struct alert_rule *alert_rule_for(const struct alert_rules *r,
					const char *kind);

/* Fills an alert from a rule; key_extra goes into the dedupe key. */
void alert_from_rule(const struct alert_rule *rule, const char *agent,
		     const char *key_extra, const char *evidence_json,
		     bool drill, struct store_alert *out);

/* compliance.drop: the school's score today fell by at least what the rule
 * says since its last snapshot of another day. Returns 1 with the fall in
 * *drop when that opened a new alert, 0 when there is no rule, no earlier
 * snapshot, too small a fall or an open alert it folded into, or a
 * negative errno from the store. */
EW_MUST_CHECK
int alert_check_drop(struct store *st, const struct alert_rule *rule,
		     const char *school, double score, const char *today,
		     double *drop);

/* agent.silent: raises an alert for every unrevoked agent that has said
 * nothing for stale_after_s before now_us. Sets *raised to how many
 * alerts it raised or folded. Returns 0 (also with no rule) or a
 * negative errno from the store. */
EW_MUST_CHECK
int alert_sweep_silence(struct store *st, const struct alert_rule *rule,
			int64_t now_us, long long stale_after_s,
			size_t *raised);

#endif
