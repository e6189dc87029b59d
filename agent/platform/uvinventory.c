#include "agent/platform/uvinventory.h"

#include <stdio.h>
#include <string.h>

#include <uv.h>

static void append(char *dst, size_t cap, const char *item)
{
	size_t len = strlen(dst);
	if (strstr(dst, item) != NULL)
		return;
	snprintf(dst + len, cap - len, "%s%s", len ? "," : "", item);
}

void platform_inventory_uv(struct inventory *out)
{
	uv_interface_address_t *ifs;
	int nifs;
	if (uv_interface_addresses(&ifs, &nifs) == 0) {
		for (int i = 0; i < nifs; i++) {
			char ip[64], mac[32];
			if (ifs[i].is_internal)
				continue;
			if (ifs[i].address.address4.sin_family == AF_INET)
				uv_ip4_name(&ifs[i].address.address4, ip, sizeof(ip));
			else
				uv_ip6_name(&ifs[i].address.address6, ip, sizeof(ip));
			append(out->ips, sizeof(out->ips), ip);
			const unsigned char *m = (const unsigned char *)ifs[i].phys_addr;
			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
				 m[0], m[1], m[2], m[3], m[4], m[5]);
			if (strcmp(mac, "00:00:00:00:00:00") != 0)
				append(out->macs, sizeof(out->macs), mac);
		}
		uv_free_interface_addresses(ifs, nifs);
	}
	uv_cpu_info_t *cpus;
	int ncpu;
	if (uv_cpu_info(&cpus, &ncpu) == 0) {
		out->cpus = ncpu;
		if (ncpu > 0)
			snprintf(out->cpu, sizeof(out->cpu), "%s", cpus[0].model);
		uv_free_cpu_info(cpus, ncpu);
	}
	out->ram_mb = uv_get_total_memory() / (1024 * 1024);
	double uptime = 0;
	if (uv_uptime(&uptime) == 0)
		out->uptime_s = (uint64_t)uptime;
}
