/* platform: what differs between operating systems, behind one door.
 *
 * platform_linux.c is built here. A platform_windows.c (WMI, Windows
 * services, IOPRIO via SetPriorityClass) fills the same functions; it is
 * not built or tested on Linux. */
#ifndef EDUWATCH_PLATFORM_H
#define EDUWATCH_PLATFORM_H

#include "common/check.h"

#include <stddef.h>
#include <stdint.h>

struct inventory {
	char hostname[128];
	char os[128];
	char kernel[128];
	char ips[512];	/* comma-separated, loopback excluded */
	char macs[256];
	char cpu[128];
	int cpus;
	uint64_t ram_mb;
	uint64_t disk_free_mb; /* on the state directory's filesystem */
	uint64_t uptime_s;
	int users;	       /* logged-in sessions; never their names */
};

EW_MUST_CHECK
int platform_inventory(const char *state_dir, struct inventory *out);

/* Lowers this process's CPU and I/O priority: the agent must never be
 * what a teacher notices. */
void platform_lower_priority(void);

/* Resident set size of this process, in KiB. */
long platform_rss_kib(void);

/* The interface of the IPv4 default route and its gateway. Returns 0 or
 * -ENOENT when there is no default route. */
EW_MUST_CHECK
int platform_default_route(char *iface, size_t cap, uint8_t gateway[4]);

/* The MAC the kernel's neighbour cache holds for an IPv4 address. Returns
 * 0 or -ENOENT. */
EW_MUST_CHECK
int platform_arp_lookup(const uint8_t ip[4], uint8_t mac[6]);

#endif
