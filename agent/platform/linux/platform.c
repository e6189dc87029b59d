#include "agent/platform/platform.h"
#include "agent/platform/uvinventory.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <utmpx.h>

#include <uv.h>

static void read_os_release(char *out, size_t cap)
{
	FILE *f = fopen("/etc/os-release", "re");
	char line[256];
	snprintf(out, cap, "Linux");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "PRETTY_NAME=", 12) == 0) {
			char *v = line + 12;
			v[strcspn(v, "\n")] = '\0';
			if (*v == '"') {
				v++;
				v[strcspn(v, "\"")] = '\0';
			}
			snprintf(out, cap, "%s", v);
			break;
		}
	}
	fclose(f);
}

static int count_sessions(void)
{
	int users = 0;
	struct utmpx *u;
	setutxent();
	while ((u = getutxent()) != NULL)
		if (u->ut_type == USER_PROCESS)
			users++;
	endutxent();
	return users;
}

int platform_inventory(const char *state_dir, struct inventory *out)
{
	struct utsname un;
	memset(out, 0, sizeof(*out));
	if (uname(&un) == 0) {
		snprintf(out->hostname, sizeof(out->hostname), "%s", un.nodename);
		snprintf(out->kernel, sizeof(out->kernel), "%s %s", un.sysname,
			 un.release);
	}
	read_os_release(out->os, sizeof(out->os));
	platform_inventory_uv(out);
	struct statvfs vfs;
	if (statvfs(state_dir, &vfs) == 0)
		out->disk_free_mb = (uint64_t)vfs.f_bavail * vfs.f_frsize /
				    (1024 * 1024);
	out->users = count_sessions();
	return 0;
}

bool platform_path_is_absolute(const char *path)
{
	return path[0] == '/';
}

void platform_lower_priority(void)
{
	/* nice 10, and the lowest best-effort I/O priority: the agent yields
	 * to the teacher's programs but still gets its small writes done. */
	setpriority(PRIO_PROCESS, 0, 10);
	enum { IOPRIO_CLASS_BE = 2, IOPRIO_CLASS_SHIFT = 13, IOPRIO_WHO_PROCESS = 1 };
	syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0,
		IOPRIO_CLASS_BE << IOPRIO_CLASS_SHIFT | 7);
}

long platform_rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	long pages = 0, resident = 0;
	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int platform_default_route(char *iface, size_t cap, uint8_t gateway[4])
{
	FILE *f = fopen("/proc/net/route", "re");
	char line[256], name[64];
	unsigned dest, gw, flags;
	int rc = -ENOENT;
	if (f == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		/* Iface Destination Gateway Flags ...; addresses in host order
		 * hex of the network-order bytes. 0x2 is RTF_GATEWAY. */
		if (sscanf(line, "%63s %x %x %x", name, &dest, &gw, &flags) != 4)
			continue;
		if (dest != 0 || !(flags & 0x2))
			continue;
		snprintf(iface, cap, "%s", name);
		memcpy(gateway, &gw, 4);
		rc = 0;
		break;
	}
	fclose(f);
	return rc;
}

int platform_arp_lookup(const uint8_t ip[4], uint8_t mac[6])
{
	FILE *f = fopen("/proc/net/arp", "re");
	char line[256], want[20];
	int rc = -ENOENT;
	if (f == NULL)
		return -errno;
	snprintf(want, sizeof(want), "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
	while (fgets(line, sizeof(line), f)) {
		char addr[64], hw[64];
		unsigned type, flags, m[6];
		if (sscanf(line, "%63s %x %x %63s", addr, &type, &flags, hw) != 4 ||
		    strcmp(addr, want) != 0 || !(flags & 0x2)) /* ATF_COM */
			continue;
		if (sscanf(hw, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3],
			   &m[4], &m[5]) != 6)
			continue;
		for (int i = 0; i < 6; i++)
			mac[i] = (uint8_t)m[i];
		rc = 0;
		break;
	}
	fclose(f);
	return rc;
}
