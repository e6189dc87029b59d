/* netsensor.*: the netsensor source's keys in agent.yaml, their defaults and
 * ranges, owned here (agent/core/sources.h). */
#include "agent/net/netsensor_settings.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>

#include "agent/core/source.h"

#define F(key, type, member, size, def, lo, hi)                               \
	{key, type, offsetof(struct netsensor_settings, member), size, def, lo, hi, \
	 NULL, 0}

static const struct config_field netsensor_fields[] = {
	F("netsensor.enabled", CONFIG_BOOL, net_enabled, 0, "true", 0, 0),
	F("netsensor.interface", CONFIG_STRING, net_interface, 64, "", 0, 0),
	F("netsensor.gateway", CONFIG_STRING, net_gateway, 64, "", 0, 0),
	F("netsensor.gateway_mac", CONFIG_STRING, net_gateway_mac, 32, "", 0,
	  0),
	F("netsensor.arp_sweep", CONFIG_INT, net_arp_sweep, 0, "64", 8, 4096),
	F("netsensor.ioc_file", CONFIG_STRING, net_ioc_file, 512, "", 0, 0),
	F("netsensor.guarded_hosts", CONFIG_LIST, net_guarded_raw, 0, "[]", 0,
	  0),
	F("netsensor.dhcp_servers", CONFIG_LIST, net_dhcp_raw, 0, "[]", 0, 0),
	F("netsensor.name_responders", CONFIG_LIST, net_responders_raw, 0, "[]",
	  0, 0),
	F("netsensor.scan_ports", CONFIG_INT, net_scan_ports, 0, "20", 2, 24),
	F("netsensor.scan_window", CONFIG_DURATION, net_scan_window, 0, "10s", 1,
	  3600),
	F("netsensor.arp_flood", CONFIG_INT, net_arp_flood, 0, "30", 2, 100000),
	F("netsensor.mac_ips", CONFIG_INT, net_mac_ips, 0, "8", 2, 32),
	F("netsensor.arp_window", CONFIG_DURATION, net_arp_window, 0, "10s", 1,
	  3600),
	F("netsensor.poison_names", CONFIG_INT, net_poison_names, 0, "2", 1, 8),
	F("netsensor.dedupe_window", CONFIG_DURATION, net_dedupe_window, 0,
	  "10m", 1, 86400),
};

/* The address lists become fixed arrays, and the gateway is checked,
 * when the file is read: a typo is refused then, not when the sensor
 * starts. */
static int netsensor_check(void *conf, const struct agent_settings *core,
			   const char *path, char *err, size_t errlen)
{
	struct netsensor_settings *s = conf;
	unsigned char gw[4];
	unsigned m[6];
	char tail;
	(void)core;
	int rc = agent_settings_ipv4_list(path, "netsensor.guarded_hosts",
					  &s->net_guarded_raw, s->net_guarded,
					  16, &s->net_n_guarded, err, errlen);
	if (rc == 0)
		rc = agent_settings_ipv4_list(path, "netsensor.dhcp_servers",
					      &s->net_dhcp_raw,
					      s->net_dhcp_servers, 16,
					      &s->net_n_dhcp_servers, err,
					      errlen);
	if (rc == 0)
		rc = agent_settings_ipv4_list(path, "netsensor.name_responders",
					      &s->net_responders_raw,
					      s->net_responders, 16,
					      &s->net_n_responders, err, errlen);
	if (rc == 0 && s->net_gateway[0] &&
	    inet_pton(AF_INET, s->net_gateway, gw) != 1) {
		snprintf(err, errlen, "%s: key 'netsensor.gateway': '%s' is not "
			 "an IPv4 address", path, s->net_gateway);
		rc = -EINVAL;
	}
	if (rc == 0 && s->net_gateway_mac[0] &&
	    sscanf(s->net_gateway_mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0],
		   &m[1], &m[2], &m[3], &m[4], &m[5], &tail) != 6) {
		snprintf(err, errlen, "%s: key 'netsensor.gateway_mac': '%s' is "
			 "not a MAC address like 00:1a:2b:3c:4d:5e", path,
			 s->net_gateway_mac);
		rc = -EINVAL;
	}
	return rc;
}

const struct source_config netsensor_config = {
	.fields = netsensor_fields,
	.nfields = CONFIG_FIELD_COUNT(netsensor_fields),
	.size = sizeof(struct netsensor_settings),
	.check = netsensor_check,
};
