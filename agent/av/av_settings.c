/* av.*: the av source's keys in agent.yaml, their defaults and
 * ranges, owned here (agent/core/sources.h). */
#include "agent/av/av_settings.h"

#include "agent/core/source.h"

#define F(key, type, member, size, def, lo, hi)                               \
	{key, type, offsetof(struct av_settings, member), size, def, lo, hi, \
	 NULL, 0}

static const struct config_field av_fields[] = {
	F("av.enabled", CONFIG_BOOL, av_enabled, 0, "true", 0, 0),
	F("av.interval", CONFIG_DURATION, av_interval, 0, "1h", 10, 86400),
	F("av.clamd_socket", CONFIG_STRING, av_clamd_socket, 256, "", 0, 0),
	F("av.clamav_db", CONFIG_STRING, av_clamav_db, 256, "/var/lib/clamav",
	  0, 0),
	F("av.clamd_conf", CONFIG_STRING, av_clamd_conf, 256,
	  "/etc/clamav/clamd.conf", 0, 0),
	F("av.products_file", CONFIG_STRING, av_products_file, 512,
	  "/usr/share/eduwatch/rules/av-products.txt", 0, 0),
};

const struct source_config av_config = {
	.fields = av_fields,
	.nfields = CONFIG_FIELD_COUNT(av_fields),
	.size = sizeof(struct av_settings),
};
