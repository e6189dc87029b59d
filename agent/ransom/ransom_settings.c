/* ransom.*: the ransomware detector's keys in agent.yaml, owned here
 * (sources.h). */
#include "agent/ransom/ransom_settings.h"

#include <errno.h>
#include <stdio.h>

#include "agent/core/source.h"
#include "agent/drill/drill_settings.h"

#define F(key, type, member, size, def, lo, hi)                               \
	{key, type, offsetof(struct ransom_settings, member), size, def, lo,  \
	 hi, NULL, 0}

/* The defaults were tried against ordinary work (docs/DRILLS.md, the
 * false-positive trials): 20 acts in 10 s, 94 % of 8 bits (7.52 bits a
 * byte; text is about 4.5, machine code 5 to 6.5, ciphertext 7.95). */
static const struct config_field ransom_fields[] = {
	F("ransom.enabled", CONFIG_BOOL, enabled, 0, "true", 0, 0),
	F("ransom.folders", CONFIG_LIST, folders_raw, 0, "[]", 0, 0),
	F("ransom.watch_drill", CONFIG_BOOL, watch_drill, 0, "true", 0, 0),
	F("ransom.window", CONFIG_DURATION, window_s, 0, "10s", 1, 600),
	F("ransom.threshold", CONFIG_INT, threshold, 0, "20", 3, 1000),
	F("ransom.entropy", CONFIG_INT, entropy_percent, 0, "94", 50, 100),
	F("ransom.canaries", CONFIG_BOOL, canaries, 0, "true", 0, 0),
};

static int ransom_check(void *conf, const struct agent_settings *core,
			const char *path, char *err, size_t errlen)
{
	struct ransom_settings *s = conf;
	/* Checked here, not in drill's check: the detector watches the
	 * drill folder (ransom depends on drill, never the other way). A
	 * drill whose documents dwell no longer than the window would be
	 * a burst of new files, which the detector rightly ignores: the
	 * drill would fail every time, for a setting. */
	const struct drill_settings *d = agent_settings_for(core, &drill_config);
	if (s->enabled && s->watch_drill && d != NULL && d->enabled &&
	    d->sim_dwell_s <= s->window_s) {
		snprintf(err, errlen, "%s: drill.sim_dwell (%llds) must be "
			 "longer than ransom.window (%llds): the drill's "
			 "documents must be old files to the detector; raise "
			 "drill.sim_dwell or lower ransom.window", path,
			 d->sim_dwell_s, s->window_s);
		return -EINVAL;
	}
	return agent_settings_paths(path, "ransom.folders", &s->folders_raw,
				    s->folders, &s->nfolders, err, errlen);
}

const struct source_config ransom_config = {
	.fields = ransom_fields,
	.nfields = CONFIG_FIELD_COUNT(ransom_fields),
	.size = sizeof(struct ransom_settings),
	.check = ransom_check,
};

void ransom_settings_params(const struct ransom_settings *s,
			    struct ransom_params *out)
{
	out->window_us = s->window_s * 1000000LL;
	out->threshold = (unsigned)s->threshold;
	out->entropy_min = 8.0 * (double)s->entropy_percent / 100.0;
}
