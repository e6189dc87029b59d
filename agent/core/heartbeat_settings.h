/* heartbeat_settings: the heartbeat source's keys in agent.yaml. */
#ifndef EDUWATCH_HEARTBEAT_SETTINGS_H
#define EDUWATCH_HEARTBEAT_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/core/settings.h"

struct heartbeat_settings {
	long long heartbeat_interval;
};

#endif
