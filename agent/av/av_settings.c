/* av.*: the av source's keys in agent.yaml, their defaults and
 * ranges, owned here (agent/core/sources.h). */
#include "agent/av/av_settings.h"

#include "agent/core/source.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/sharedir.h"

#define AV_PRODUCTS_DEFAULT "/usr/share/eduwatch/rules/av-products.txt"

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
	  AV_PRODUCTS_DEFAULT, 0, 0),
};

/* Left at its default, the product list is the one installed with this
 * binary (BINDIR/../share/eduwatch/rules, or the source tree's for a
 * binary run from the build tree): any PREFIX works. A path the
 * administrator set is used as set. */
static int av_check(void *conf, const struct agent_settings *core,
		    const char *path, char *err, size_t errlen)
{
	struct av_settings *s = conf;
	char rules[512];
	(void)core, (void)path, (void)err, (void)errlen;
	if (strcmp(s->av_products_file, AV_PRODUCTS_DEFAULT) != 0 ||
	    access(AV_PRODUCTS_DEFAULT, R_OK) == 0)
		return 0;
	if (sharedir_find("rules", "", rules, sizeof(rules)) == 0 && rules[0])
		snprintf(s->av_products_file, sizeof(s->av_products_file),
			 "%.480s/av-products.txt", rules);
	return 0;
}

const struct source_config av_config = {
	.fields = av_fields,
	.nfields = CONFIG_FIELD_COUNT(av_fields),
	.size = sizeof(struct av_settings),
	.check = av_check,
};
