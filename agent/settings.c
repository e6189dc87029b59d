#include "agent/settings.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"

#define F(key, type, member, size, def, lo, hi)                               \
	{key, type, offsetof(struct agent_settings, member), size, def, lo, hi, NULL, 0}

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
	F("netsensor.enabled", CONFIG_BOOL, net_enabled, 0, "true", 0, 0),
	F("netsensor.interface", CONFIG_STRING, net_interface, 64, "", 0, 0),
	F("netsensor.gateway", CONFIG_STRING, net_gateway, 64, "", 0, 0),
	F("netsensor.ioc_file", CONFIG_STRING, net_ioc_file, 512, "", 0, 0),
	F("netsensor.guarded_hosts", CONFIG_LIST, net_guarded_raw, 0, "[]", 0,
	  0),
	F("netsensor.dhcp_servers", CONFIG_LIST, net_dhcp_raw, 0, "[]", 0, 0),
	F("netsensor.name_responders", CONFIG_LIST, net_responders_raw, 0, "[]",
	  0, 0),
	F("netsensor.scan_ports", CONFIG_INT, net_scan_ports, 0, "20", 2, 64),
	F("netsensor.scan_window", CONFIG_DURATION, net_scan_window, 0, "10s", 1,
	  3600),
	F("netsensor.arp_flood", CONFIG_INT, net_arp_flood, 0, "30", 2, 100000),
	F("netsensor.mac_ips", CONFIG_INT, net_mac_ips, 0, "8", 2, 32),
	F("netsensor.arp_window", CONFIG_DURATION, net_arp_window, 0, "10s", 1,
	  3600),
	F("netsensor.poison_names", CONFIG_INT, net_poison_names, 0, "2", 1, 8),
	F("netsensor.dedupe_window", CONFIG_DURATION, net_dedupe_window, 0,
	  "10m", 1, 86400),
	F("testing.synthetic_rate", CONFIG_INT, synthetic_rate, 0, "0", 0, 10000),
	F("testing.synthetic_log", CONFIG_STRING, synthetic_log, 512, "", 0, 0),
};

/* An address list becomes fixed arrays here, so that a typo is refused
 * when the file is read, not when the sensor starts. */
static int parse_ipv4_list(const char *path, const char *key,
			   const struct config_list *list,
			   unsigned char (*out)[4], size_t cap, size_t *n,
			   char *err, size_t errlen)
{
	*n = 0;
	if (list->count > cap) {
		snprintf(err, errlen, "%s: key '%s': at most %zu addresses",
			 path, key, cap);
		return -EINVAL;
	}
	for (size_t i = 0; i < list->count; i++) {
		if (inet_pton(AF_INET, list->items[i], out[i]) != 1) {
			snprintf(err, errlen, "%s: key '%s': '%s' is not an "
				 "IPv4 address", path, key, list->items[i]);
			return -EINVAL;
		}
	}
	*n = list->count;
	return 0;
}

int agent_settings_load(const char *path, struct agent_settings *out,
			char *err, size_t errlen)
{
	unsigned char gw[4];
	memset(out, 0, sizeof(*out));
	int rc = config_load_file(path, fields, CONFIG_FIELD_COUNT(fields), out,
				  err, errlen);
	if (rc == 0)
		rc = parse_ipv4_list(path, "netsensor.guarded_hosts",
				     &out->net_guarded_raw, out->net_guarded, 16,
				     &out->net_n_guarded, err, errlen);
	if (rc == 0)
		rc = parse_ipv4_list(path, "netsensor.dhcp_servers",
				     &out->net_dhcp_raw, out->net_dhcp_servers,
				     16, &out->net_n_dhcp_servers, err, errlen);
	if (rc == 0)
		rc = parse_ipv4_list(path, "netsensor.name_responders",
				     &out->net_responders_raw,
				     out->net_responders, 16,
				     &out->net_n_responders, err, errlen);
	if (rc == 0 && out->net_gateway[0] &&
	    inet_pton(AF_INET, out->net_gateway, gw) != 1) {
		snprintf(err, errlen, "%s: key 'netsensor.gateway': '%s' is not "
			 "an IPv4 address", path, out->net_gateway);
		rc = -EINVAL;
	}
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
			 "netsensor:            # the LAN sensor; needs root\n"
			 "  enabled: true\n"
			 "  dhcp_servers: []    # e.g. [192.168.1.1]; others are rogue\n"
			 "  name_responders: [] # hosts allowed to answer LLMNR/NBNS\n"
			 "log:\n"
			 "  level: info\n",
			 state_dir, host, port, enroll_port);
	return config_write_text(path, text, n, sizeof(text), err, errlen);
}
