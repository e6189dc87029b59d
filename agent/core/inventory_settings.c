/* inventory.*: the inventory source's keys in agent.yaml, their defaults and
 * ranges, owned here (agent/core/sources.h). */
#include "agent/core/inventory_settings.h"

#include "agent/core/source.h"

#define F(key, type, member, size, def, lo, hi)                               \
	{key, type, offsetof(struct inventory_settings, member), size, def, lo, hi, \
	 NULL, 0}

static const struct config_field inventory_fields[] = {
	F("inventory.interval", CONFIG_DURATION, inventory_interval, 0, "1h", 1,
	  604800),
};

const struct source_config inventory_config = {
	.fields = inventory_fields,
	.nfields = CONFIG_FIELD_COUNT(inventory_fields),
	.size = sizeof(struct inventory_settings),
};
