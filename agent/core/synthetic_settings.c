/* testing.*: the synthetic source's keys in agent.yaml, owned here
 * (sources.h). */
#include "agent/core/synthetic_settings.h"

#include <stddef.h>

#include "agent/core/source.h"

static const struct config_field synthetic_fields[] = {
	{"testing.synthetic_rate", CONFIG_INT,
	 offsetof(struct synthetic_settings, rate), 0, "0", 0, 10000, NULL, 0},
	{"testing.synthetic_log", CONFIG_STRING,
	 offsetof(struct synthetic_settings, log), 512, "", 0, 0, NULL, 0},
};

const struct source_config synthetic_config = {
	.fields = synthetic_fields,
	.nfields = CONFIG_FIELD_COUNT(synthetic_fields),
	.size = sizeof(struct synthetic_settings),
};
