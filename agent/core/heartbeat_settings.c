/* heartbeat.*: the heartbeat source's keys in agent.yaml, their defaults and
 * ranges, owned here (agent/core/sources.h). */
#include "agent/core/heartbeat_settings.h"

#include "agent/core/source.h"

#define F(key, type, member, size, def, lo, hi)                               \
	{key, type, offsetof(struct heartbeat_settings, member), size, def, lo, hi, \
	 NULL, 0}

static const struct config_field heartbeat_fields[] = {
	F("heartbeat.interval", CONFIG_DURATION, heartbeat_interval, 0, "60s",
	  1, 86400),
};

const struct source_config heartbeat_config = {
	.fields = heartbeat_fields,
	.nfields = CONFIG_FIELD_COUNT(heartbeat_fields),
	.size = sizeof(struct heartbeat_settings),
};
