/* av_settings: the antivirus source's keys in agent.yaml (av.*). */
#ifndef EDUWATCH_AV_SETTINGS_H
#define EDUWATCH_AV_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/core/settings.h"

struct av_settings {
	bool av_enabled;
	long long av_interval;
	char av_clamd_socket[256];
	char av_clamav_db[256];
	char av_clamd_conf[256];
	char av_products_file[512];
};

#endif
