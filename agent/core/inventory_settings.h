/* inventory_settings: the inventory source's keys in agent.yaml. */
#ifndef EDUWATCH_INVENTORY_SETTINGS_H
#define EDUWATCH_INVENTORY_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/core/settings.h"

struct inventory_settings {
	long long inventory_interval;
};

#endif
