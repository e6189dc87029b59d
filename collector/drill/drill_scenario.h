/* drill_scenario: the scenarios of incident drills, read from data files.
 *
 * What a drill does on a PC is the agent's code; which scenarios the
 * province may run, what they are called and which stages their
 * timeline expects live in rules/drills/NAME.yaml, checked at load like
 * the policies:
 *
 *   id: malware-drop              # the file's own name
 *   title_vi: ...  title_en: ...
 *   command: drill.malware-drop   # the signed command the agents get
 *   duration: 10m                 # how long one injection may run
 *   stages: [injected, av_acted, detected, alert_raised, forwarded,
 *            acknowledged, resolved, cleaned_up]
 *
 * A file naming a command or a stage the code does not know is refused:
 * a typo must not plan a drill that no agent can run. */
#ifndef EDUWATCH_DRILL_SCENARIO_H
#define EDUWATCH_DRILL_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

/* The timeline of an injection, in the order the stages happen. */
enum drill_stage {
	DRILL_STAGE_INJECTED,
	DRILL_STAGE_AV_ACTED,
	DRILL_STAGE_DETECTED,
	DRILL_STAGE_ALERT_RAISED,
	DRILL_STAGE_FORWARDED,
	DRILL_STAGE_ACKNOWLEDGED,
	DRILL_STAGE_RESOLVED,
	DRILL_STAGE_CLEANED_UP,
	DRILL_STAGE_COUNT
};

#define DRILL_SCENARIO_ID_MAX 48
#define DRILL_SCENARIO_MAX 16

struct drill_scenario {
	char id[DRILL_SCENARIO_ID_MAX + 1];
	char title_vi[256], title_en[256];
	char command[64];
	long long duration_s;
	struct config_list stages_raw; /* loading only */
	bool stages[DRILL_STAGE_COUNT];
};

/* The stage's name in files and reports ("av_acted"); NULL when out of
 * range. */
const char *drill_stage_name(enum drill_stage s);

/* The commands agents implement; a scenario must name one of them. */
bool drill_command_known(const char *command);

/* Loads one scenario from text (name: the file name, for messages and
 * for the id check, without ".yaml"). Returns 0 or -EINVAL with a
 * message naming the file, line and key in err. */
int drill_scenario_parse(const char *name, const char *text, size_t len,
			 struct drill_scenario *out, char *err,
			 size_t errlen);

/* The scenarios' folder beside the policies' (rules/policies and
 * rules/drills): out gets dirname(policy_dir)/drills. */
void drill_scenarios_dir(const char *policy_dir, char *out, size_t cap);

/* Loads dir/ID.yaml. ID is checked first: letters, digits and '-'. */
int drill_scenario_load(const char *dir, const char *id,
			struct drill_scenario *out, char *err, size_t errlen);

#endif
