/* netsensor_settings: the LAN sensor's keys in agent.yaml (netsensor.*). Address lists are parsed at load. */
#ifndef EDUWATCH_NETSENSOR_SETTINGS_H
#define EDUWATCH_NETSENSOR_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/core/settings.h"

struct netsensor_settings {
	bool net_enabled;
	char net_interface[64];	      /* "": the default route's */
	char net_gateway[64];	      /* "": the default route's */
	char net_gateway_mac[32];     /* "": learnt (neighbour table, DHCP) */
	long long net_arp_sweep;      /* distinct ARP targets of one MAC */
	char net_ioc_file[512];	      /* "": <state_dir>/ioc.txt if present */
	struct config_list net_guarded_raw, net_dhcp_raw, net_responders_raw;
	size_t net_n_guarded, net_n_dhcp_servers, net_n_responders;
	unsigned char net_guarded[16][4];
	unsigned char net_dhcp_servers[16][4];
	unsigned char net_responders[16][4];
	long long net_scan_ports;
	long long net_scan_window;
	long long net_arp_flood;
	long long net_mac_ips;
	long long net_arp_window;
	long long net_poison_names;
	long long net_dedupe_window;
};

#endif
