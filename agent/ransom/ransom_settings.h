/* ransom_settings: the ransomware detector's keys in agent.yaml
 * (ransom.*), owned here (agent/core/sources.h). */
#ifndef EDUWATCH_RANSOM_SETTINGS_H
#define EDUWATCH_RANSOM_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/core/settings.h"
#include "agent/ransom/ransom_model.h"

struct ransom_settings {
	bool enabled;			/* ransom.enabled */
	struct config_list folders_raw; /* ransom.folders */
	char folders[AGENT_PATHS_MAX][AGENT_PATH_LEN];
	size_t nfolders;
	bool watch_drill;	    /* ransom.watch_drill: also the drill folder */
	long long window_s;	    /* ransom.window */
	long long threshold;	    /* ransom.threshold: acts in the window */
	long long entropy_percent;  /* ransom.entropy: % of 8 bits a byte */
	bool canaries;		    /* ransom.canaries: plant decoys */
};

/* The model's parameters from the settings. */
void ransom_settings_params(const struct ransom_settings *s,
			    struct ransom_params *out);

#endif
