/* drill.*: the drill source's keys in agent.yaml, owned here
 * (sources.h). */
#include "agent/drill/drill_settings.h"

#include <stddef.h>

#include "agent/core/source.h"

static const struct config_field drill_fields[] = {
	{"drill.enabled", CONFIG_BOOL, offsetof(struct drill_settings, enabled),
	 0, "true", 0, 0, NULL, 0},
	{"drill.folder", CONFIG_STRING, offsetof(struct drill_settings, folder),
	 512, "", 0, 0, NULL, 0},
	{"drill.usb_folder", CONFIG_STRING,
	 offsetof(struct drill_settings, usb_folder), 512, "", 0, 0, NULL, 0},
	{"drill.sim_dwell", CONFIG_DURATION,
	 offsetof(struct drill_settings, sim_dwell_s), 0, "15s", 1, 3600,
	 NULL, 0},
	{"drill.av_wait", CONFIG_DURATION,
	 offsetof(struct drill_settings, av_wait_s), 0, "60s", 1, 3600, NULL,
	 0},
};

const struct source_config drill_config = {
	.fields = drill_fields,
	.nfields = CONFIG_FIELD_COUNT(drill_fields),
	.size = sizeof(struct drill_settings),
};
