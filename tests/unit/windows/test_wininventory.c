/* The Windows inventory (agent/platform/windows/platform.c) under wine:
 * each field the agent.inventory event carries comes from a native API
 * wine implements (the registry and RtlGetVersion, GetComputerNameEx,
 * NetGetJoinInformation, GetLogicalDrives and GetDiskFreeSpaceEx, and
 * libuv's GetAdaptersAddresses and GlobalMemoryStatusEx), and holds what
 * a real PC's would: a Windows product and build, a host name, a
 * workgroup, a fixed C: drive with its size, the CPU and RAM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <windows.h>

#include "agent/platform/platform.h"

static void inventory_fields(void **state)
{
	(void)state;
	struct inventory inv;
	char dir[MAX_PATH];
	GetTempPathA(MAX_PATH, dir);
	assert_int_equal(platform_inventory(dir, &inv), 0);
	print_message("# os=%s | kernel=%s | host=%s | %s %s | disks=%s | "
		      "cpu=%s x%d | ram=%llu MB | ips=%s | macs=%s | users=%d\n",
		      inv.os, inv.kernel, inv.hostname, inv.domain_kind,
		      inv.domain, inv.disks, inv.cpu, inv.cpus,
		      (unsigned long long)inv.ram_mb, inv.ips, inv.macs,
		      inv.users);
	assert_non_null(strstr(inv.os, "Windows"));
	unsigned major = 0, minor = 0, build = 0;
	assert_int_equal(sscanf(inv.kernel, "Windows NT %u.%u build %u",
				&major, &minor, &build), 3);
	assert_true(major >= 6 && build > 0);
	assert_true(inv.hostname[0] != '\0');
	/* A PC is in a domain or a workgroup; wine's is WORKGROUP. */
	assert_true(strcmp(inv.domain_kind, "workgroup") == 0 ||
		    strcmp(inv.domain_kind, "domain") == 0);
	assert_true(inv.domain[0] != '\0');
	/* C: is fixed everywhere, with its size and free space. */
	unsigned long long total = 0, free_gb = 0;
	assert_int_equal(sscanf(inv.disks, "C: %llu GB, %llu GB free", &total,
				&free_gb), 2);
	assert_true(free_gb <= total);
	assert_true(inv.cpus > 0);
	assert_true(inv.ram_mb > 0);
	assert_true(inv.users >= 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(inventory_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
