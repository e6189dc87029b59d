#include "agent/settings.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"

#define F(key, type, member, size, def, lo, hi)                               \
	{key, type, offsetof(struct agent_settings, member), size, def, lo, hi}

static const struct config_field fields[] = {
	F("state_dir", CONFIG_STRING, state_dir, 512, "/var/lib/eduwatch-agent",
	  0, 0),
	F("collector.host", CONFIG_STRING, collector_host, 256, NULL, 0, 0),
	F("collector.port", CONFIG_INT, collector_port, 0, "7443", 1, 65535),
	F("collector.enroll_port", CONFIG_INT, enroll_port, 0, "7444", 1, 65535),
	F("uplink.batch", CONFIG_INT, batch, 0, "200", 1, 1000),
	F("uplink.window", CONFIG_INT, window, 0, "4", 1, 16),
	F("uplink.bandwidth", CONFIG_SIZE, bandwidth, 0, "0", 0, 1LL << 40),
	F("uplink.backoff_max", CONFIG_DURATION, backoff_max, 0, "5m", 1, 86400),
	F("heartbeat.interval", CONFIG_DURATION, heartbeat_interval, 0, "60s",
	  1, 86400),
	F("inventory.interval", CONFIG_DURATION, inventory_interval, 0, "1h", 1,
	  604800),
	F("spool.max_size", CONFIG_SIZE, spool_max_size, 0, "256MiB", 1 << 20,
	  1LL << 40),
	F("log.level", CONFIG_LOG_LEVEL, log_level, 0, "info", 0, 0),
	F("testing.synthetic_rate", CONFIG_INT, synthetic_rate, 0, "0", 0, 10000),
	F("testing.synthetic_log", CONFIG_STRING, synthetic_log, 512, "", 0, 0),
};

int agent_settings_load(const char *path, struct agent_settings *out,
			char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int rc = config_load_file(path, fields, CONFIG_FIELD_COUNT(fields), out,
				  err, errlen);
	config_free(fields, CONFIG_FIELD_COUNT(fields), out);
	return rc;
}

int agent_settings_write(const char *path, const char *state_dir,
			 const char *host, int port, int enroll_port,
			 char *err, size_t errlen)
{
	char text[2048];
	int n = snprintf(text, sizeof(text),
			 "# eduwatch agent settings; see README.md.\n"
			 "state_dir: %s\n"
			 "collector:\n"
			 "  host: %s\n"
			 "  port: %d\n"
			 "  enroll_port: %d\n"
			 "uplink:\n"
			 "  batch: 200\n"
			 "  window: 4\n"
			 "  bandwidth: 0        # bytes/s for slow links, 0 = no cap\n"
			 "  backoff_max: 5m\n"
			 "heartbeat:\n"
			 "  interval: 60s\n"
			 "inventory:\n"
			 "  interval: 1h        # how often to look for changes\n"
			 "spool:\n"
			 "  max_size: 256MiB\n"
			 "log:\n"
			 "  level: info\n",
			 state_dir, host, port, enroll_port);
	return config_write_text(path, text, n, sizeof(text), err, errlen);
}
