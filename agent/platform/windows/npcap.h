/* npcap: the LAN sensor's capture library on Windows, loaded at run time.
 *
 * Npcap is not ours to ship (its licence forbids redistribution without a
 * paid OEM licence: docs/DECISIONS.md), so the agent links no pcap at all
 * and loads wpcap.dll only where a school installed Npcap, by full path
 * from System32\Npcap (where Npcap puts it outside its WinPcap
 * compatibility mode), never through the DLL search order: a wpcap.dll
 * planted beside the agent or in its working folder is never loaded.
 * Its own dependency, Packet.dll, is found in the same folder
 * (LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR) or System32, nowhere else. Every
 * function the sensor calls is looked up at load; a DLL missing one is
 * refused with its name, rather than failing on first use. */
#ifndef EDUWATCH_NPCAP_H
#define EDUWATCH_NPCAP_H

#include "common/check.h"

#include <stddef.h>

#include <windows.h>

/* The functions the sensor calls, in the order of npcap.fn[]. */
enum npcap_fn {
	NPCAP_FINDALLDEVS,
	NPCAP_FREEALLDEVS,
	NPCAP_CREATE,
	NPCAP_SET_SNAPLEN,
	NPCAP_SET_PROMISC,
	NPCAP_SET_TIMEOUT,
	NPCAP_SET_BUFFER_SIZE,
	NPCAP_ACTIVATE,
	NPCAP_COMPILE,
	NPCAP_SETFILTER,
	NPCAP_FREECODE,
	NPCAP_DATALINK,
	NPCAP_SETNONBLOCK,
	NPCAP_GETEVENT, /* Windows' pcap_get_selectable_fd */
	NPCAP_DISPATCH,
	NPCAP_NEXT_EX,
	NPCAP_STATS,
	NPCAP_GETERR,
	NPCAP_CLOSE,
	NPCAP_LIB_VERSION,
	NPCAP_NFN
};

struct npcap {
	HMODULE dll;
	FARPROC fn[NPCAP_NFN];
	char version[128]; /* pcap_lib_version(), e.g. "Npcap version 1.79, ..." */
};

/* wpcap.dll from dir (NULL: System32\Npcap). Returns 0, -ENOENT when
 * there is none ("Npcap not installed" in why), or -ENOSYS when a
 * function is missing (named in why). */
EW_MUST_CHECK
int npcap_load(const wchar_t *dir, struct npcap *out, char *why,
	       size_t whylen);

/* The name npcap.fn[i] was looked up by. */
const char *npcap_fn_name(enum npcap_fn i);

void npcap_unload(struct npcap *np);

#endif
