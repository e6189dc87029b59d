/* platform on Windows: native APIs for what libuv does not abstract (the
 * OS product and build, sessions, domain or workgroup, disks, priority,
 * routes, ARP).
 * Strings come from the W APIs and are kept as UTF-8 inside. */
#include "agent/platform/platform.h"
#include "agent/platform/uvinventory.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <windows.h>
#include <iphlpapi.h>
#include <lm.h>
#include <psapi.h>
#include <wtsapi32.h>

static void utf8_from_wide(const wchar_t *w, char *out, size_t cap)
{
	if (cap == 0)
		return;
	if (WideCharToMultiByte(CP_UTF8, 0, w, -1, out, (int)cap, NULL,
				NULL) == 0)
		out[0] = '\0';
}

/* The product name and release from the registry ("Windows 10 Pro
 * 22H2"), and the kernel's version and build from RtlGetVersion, which,
 * unlike GetVersionEx, is not capped by the manifest. */
static void os_version(char *os, size_t oscap, char *kernel, size_t kcap)
{
	wchar_t product[128] = L"Windows", release[64] = L"";
	DWORD len = sizeof(product);
	RegGetValueW(HKEY_LOCAL_MACHINE,
		     L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion",
		     L"ProductName", RRF_RT_REG_SZ, NULL, product, &len);
	len = sizeof(release);
	RegGetValueW(HKEY_LOCAL_MACHINE,
		     L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion",
		     L"DisplayVersion", RRF_RT_REG_SZ, NULL, release, &len);
	char p[256], r[128];
	utf8_from_wide(product, p, sizeof(p));
	utf8_from_wide(release, r, sizeof(r));
	snprintf(os, oscap, "%s%s%s", p, r[0] ? " " : "", r);

	typedef LONG(WINAPI * rtl_get_version_fn)(OSVERSIONINFOW *);
	OSVERSIONINFOW v = {.dwOSVersionInfoSize = sizeof(v)};
	HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
	FARPROC fn = ntdll ? GetProcAddress(ntdll, "RtlGetVersion") : NULL;
	rtl_get_version_fn get;
	memcpy(&get, &fn, sizeof(get));
	if (get != NULL && get(&v) == 0)
		snprintf(kernel, kcap, "Windows NT %lu.%lu build %lu",
			 (unsigned long)v.dwMajorVersion,
			 (unsigned long)v.dwMinorVersion,
			 (unsigned long)v.dwBuildNumber);
	else
		snprintf(kernel, kcap, "Windows NT");
}

/* Active interactive sessions, the console's and remote ones; never
 * their user names. */
static int count_sessions(void)
{
	WTS_SESSION_INFOW *s = NULL;
	DWORD n = 0;
	int users = 0;
	if (!WTSEnumerateSessionsW(WTS_CURRENT_SERVER_HANDLE, 0, 1, &s, &n))
		return 0;
	for (DWORD i = 0; i < n; i++)
		if (s[i].State == WTSActive)
			users++;
	WTSFreeMemory(s);
	return users;
}

/* The domain or workgroup the PC joined, from NetGetJoinInformation:
 * what a province's officers call the school's network name. */
static void join_info(struct inventory *out)
{
	wchar_t *name = NULL;
	NETSETUP_JOIN_STATUS status = NetSetupUnknownStatus;
	if (NetGetJoinInformation(NULL, &name, &status) != NERR_Success)
		return;
	if (status == NetSetupDomainName || status == NetSetupWorkgroupName) {
		utf8_from_wide(name, out->domain, sizeof(out->domain));
		snprintf(out->domain_kind, sizeof(out->domain_kind), "%s",
			 status == NetSetupDomainName ? "domain" : "workgroup");
	}
	NetApiBufferFree(name);
}

/* Every fixed disk by letter with its size and free space, in GB;
 * removable drives and network shares are not the PC's. */
static void fixed_disks(char *out, size_t cap)
{
	DWORD mask = GetLogicalDrives();
	size_t len = 0;
	out[0] = '\0';
	for (int i = 0; i < 26 && len < cap; i++) {
		wchar_t root[] = {(wchar_t)(L'A' + i), L':', L'\\', 0};
		ULARGE_INTEGER avail, total;
		if (!(mask & (1u << i)) || GetDriveTypeW(root) != DRIVE_FIXED ||
		    !GetDiskFreeSpaceExW(root, &avail, &total, NULL))
			continue;
		int n = snprintf(out + len, cap - len,
				 "%s%c: %llu GB, %llu GB free", len ? "; " : "",
				 'A' + i,
				 (unsigned long long)(total.QuadPart >> 30),
				 (unsigned long long)(avail.QuadPart >> 30));
		if (n < 0 || (size_t)n >= cap - len) {
			out[len] = '\0'; /* a whole disk or none */
			break;
		}
		len += (size_t)n;
	}
}

int platform_inventory(const char *state_dir, struct inventory *out)
{
	wchar_t host[256];
	DWORD hlen = 256;
	memset(out, 0, sizeof(*out));
	if (GetComputerNameExW(ComputerNameDnsHostname, host, &hlen))
		utf8_from_wide(host, out->hostname, sizeof(out->hostname));
	os_version(out->os, sizeof(out->os), out->kernel, sizeof(out->kernel));
	platform_inventory_uv(out);

	wchar_t wdir[MAX_PATH];
	ULARGE_INTEGER avail;
	if (MultiByteToWideChar(CP_UTF8, 0, state_dir, -1, wdir, MAX_PATH) > 0 &&
	    GetDiskFreeSpaceExW(wdir, &avail, NULL, NULL))
		out->disk_free_mb = avail.QuadPart / (1024 * 1024);
	out->users = count_sessions();
	join_info(out);
	fixed_disks(out->disks, sizeof(out->disks));
	return 0;
}

bool platform_path_is_absolute(const char *path)
{
	bool letter = (path[0] >= 'A' && path[0] <= 'Z') ||
		      (path[0] >= 'a' && path[0] <= 'z');
	return path[0] == '/' ||
	       (letter && path[1] == ':' &&
		(path[2] == '\\' || path[2] == '/'));
}

void platform_lower_priority(void)
{
	/* Background mode lowers CPU, I/O and memory priority together: the
	 * agent yields to the teacher's programs. */
	SetPriorityClass(GetCurrentProcess(), PROCESS_MODE_BACKGROUND_BEGIN);
}

long platform_rss_kib(void)
{
	PROCESS_MEMORY_COUNTERS pmc = {.cb = sizeof(pmc)};
	if (!GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof(pmc)))
		return -1;
	return (long)(pmc.WorkingSetSize / 1024);
}

int platform_default_route(char *iface, size_t cap, uint8_t gateway[4])
{
	MIB_IPFORWARDTABLE *t = NULL;
	ULONG size = 0;
	int rc = -ENOENT;
	if (GetIpForwardTable(NULL, &size, FALSE) != ERROR_INSUFFICIENT_BUFFER ||
	    (t = malloc(size)) == NULL)
		return -ENOENT;
	if (GetIpForwardTable(t, &size, TRUE) == NO_ERROR) {
		DWORD best = MAXDWORD;
		for (DWORD i = 0; i < t->dwNumEntries; i++) {
			MIB_IPFORWARDROW *r = &t->table[i];
			if (r->dwForwardDest != 0 || r->dwForwardMask != 0 ||
			    r->dwForwardMetric1 >= best)
				continue;
			best = r->dwForwardMetric1;
			memcpy(gateway, &r->dwForwardNextHop, 4);
			NET_LUID luid;
			wchar_t alias[IF_MAX_STRING_SIZE + 1];
			if (ConvertInterfaceIndexToLuid(r->dwForwardIfIndex,
							&luid) == NO_ERROR &&
			    ConvertInterfaceLuidToAlias(&luid, alias,
							IF_MAX_STRING_SIZE) ==
				    NO_ERROR)
				utf8_from_wide(alias, iface, cap);
			else
				snprintf(iface, cap, "if%lu",
					 (unsigned long)r->dwForwardIfIndex);
			rc = 0;
		}
	}
	free(t);
	return rc;
}

int platform_arp_lookup(const uint8_t ip[4], uint8_t mac[6])
{
	MIB_IPNETTABLE *t = NULL;
	ULONG size = 0;
	int rc = -ENOENT;
	DWORD want;
	memcpy(&want, ip, 4);
	if (GetIpNetTable(NULL, &size, FALSE) != ERROR_INSUFFICIENT_BUFFER ||
	    (t = malloc(size)) == NULL)
		return -ENOENT;
	if (GetIpNetTable(t, &size, FALSE) == NO_ERROR) {
		for (DWORD i = 0; i < t->dwNumEntries; i++) {
			MIB_IPNETROW *r = &t->table[i];
			if (r->dwAddr != want || r->dwPhysAddrLen != 6 ||
			    r->dwType == MIB_IPNET_TYPE_INVALID)
				continue;
			memcpy(mac, r->bPhysAddr, 6);
			rc = 0;
			break;
		}
	}
	free(t);
	return rc;
}
