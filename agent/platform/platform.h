/* platform: what differs between operating systems, behind one door.
 *
 * linux/platform.c is built here; windows/platform.c (native APIs) fills
 * the same functions in the Windows agent, tested under wine. */
#ifndef EDUWATCH_PLATFORM_H
#define EDUWATCH_PLATFORM_H

#include "common/check.h"

#include <stdbool.h>
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
	/* Windows only so far ("" elsewhere, and then not sent): */
	char domain[128];      /* the domain or workgroup the PC is in */
	char domain_kind[16];  /* "domain", "workgroup" or "" (not joined) */
	char disks[512];       /* fixed disks: "C: 476 GB, 237 GB free; ..." */
};

EW_MUST_CHECK
int platform_inventory(const char *state_dir, struct inventory *out);

/* Lowers this process's CPU and I/O priority: the agent must never be
 * what a teacher notices. */
void platform_lower_priority(void);

/* An absolute path here: "/..." on Linux; on Windows also "C:\..." or
 * "C:/..." (a "/..." path is on the agent's own drive there). Paths in
 * agent.yaml, in commands and in state files are refused otherwise. */
bool platform_path_is_absolute(const char *path);

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
