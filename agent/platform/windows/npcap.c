/* Npcap's wpcap.dll, loaded at run time (npcap.h). */
#include "agent/platform/windows/npcap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

static const char *const names[NPCAP_NFN] = {
	[NPCAP_FINDALLDEVS] = "pcap_findalldevs",
	[NPCAP_FREEALLDEVS] = "pcap_freealldevs",
	[NPCAP_CREATE] = "pcap_create",
	[NPCAP_SET_SNAPLEN] = "pcap_set_snaplen",
	[NPCAP_SET_PROMISC] = "pcap_set_promisc",
	[NPCAP_SET_TIMEOUT] = "pcap_set_timeout",
	[NPCAP_SET_BUFFER_SIZE] = "pcap_set_buffer_size",
	[NPCAP_ACTIVATE] = "pcap_activate",
	[NPCAP_COMPILE] = "pcap_compile",
	[NPCAP_SETFILTER] = "pcap_setfilter",
	[NPCAP_FREECODE] = "pcap_freecode",
	[NPCAP_DATALINK] = "pcap_datalink",
	[NPCAP_SETNONBLOCK] = "pcap_setnonblock",
	[NPCAP_GETEVENT] = "pcap_getevent",
	[NPCAP_DISPATCH] = "pcap_dispatch",
	[NPCAP_NEXT_EX] = "pcap_next_ex",
	[NPCAP_STATS] = "pcap_stats",
	[NPCAP_GETERR] = "pcap_geterr",
	[NPCAP_CLOSE] = "pcap_close",
	[NPCAP_LIB_VERSION] = "pcap_lib_version",
};

const char *npcap_fn_name(enum npcap_fn i)
{
	return (unsigned)i < NPCAP_NFN ? names[i] : "?";
}

int npcap_load(const wchar_t *dir, struct npcap *out, char *why,
	       size_t whylen)
{
	wchar_t path[MAX_PATH];
	memset(out, 0, sizeof(*out));
	if (dir != NULL) {
		if (swprintf(path, MAX_PATH, L"%ls\\wpcap.dll", dir) < 0)
			goto absent;
	} else {
		UINT n = GetSystemDirectoryW(path, MAX_PATH);
		if (n == 0 || n + 20 >= MAX_PATH)
			goto absent;
		wcscpy(path + n, L"\\Npcap\\wpcap.dll");
	}
	/* A full path, and for its dependencies its own folder and
	 * System32 only. */
	out->dll = LoadLibraryExW(path, NULL,
				  LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR |
					  LOAD_LIBRARY_SEARCH_SYSTEM32);
	if (out->dll == NULL)
		goto absent;
	for (int i = 0; i < NPCAP_NFN; i++) {
		out->fn[i] = GetProcAddress(out->dll, names[i]);
		if (out->fn[i] == NULL) {
			snprintf(why, whylen, "Npcap's wpcap.dll has no %s: "
				 "install a current Npcap", names[i]);
			npcap_unload(out);
			return -ENOSYS;
		}
	}
	typedef const char *(*lib_version_fn)(void);
	lib_version_fn version;
	memcpy(&version, &out->fn[NPCAP_LIB_VERSION], sizeof(version));
	const char *v = version();
	snprintf(out->version, sizeof(out->version), "%s", v ? v : "?");
	return 0;
absent:
	snprintf(why, whylen, "Npcap not installed");
	return -ENOENT;
}

void npcap_unload(struct npcap *np)
{
	if (np->dll)
		FreeLibrary(np->dll);
	memset(np, 0, sizeof(*np));
}
