/* volumes: what the Windows scan source will scan besides its schedule.
 *
 * USB drives as they arrive: the drive letters of removable volumes
 * (GetLogicalDrives, GetDriveType == DRIVE_REMOVABLE) polled by the
 * source, through a small pure state machine (volwatch_poll) that says
 * which letters to scan now. A letter must be present on two polls in a
 * row before it is scanned (Windows gives the letter before the file
 * system answers), is scanned once while it stays, and is forgotten when
 * it goes, so the same stick inserted again is scanned again.
 * Quick-scan folders: the Desktop and Downloads of a user, from the
 * known-folder API, so they are found wherever the user (or a language
 * pack: "Tải xuống") put them.
 * The scan source reaches both through agent/platform/scanplaces.h. */
#ifndef EDUWATCH_VOLUMES_H
#define EDUWATCH_VOLUMES_H

#include "common/check.h"

#include <stddef.h>
#include <stdint.h>

#include <windows.h>

#define VOLUMES_PATH_MAX 1024

/* Drive letters as bits, A: = bit 0 (GetLogicalDrives' order). */
struct volwatch {
	uint32_t seen;	  /* scanned, and still present */
	uint32_t pending; /* present on the last poll, not yet scanned */
};

/* Feeds one poll's removable letters; returns those to scan now. */
uint32_t volwatch_poll(struct volwatch *w, uint32_t removable_now);

/* The removable volumes present now. */
uint32_t volumes_removable(void);

/* The volumes of a GetDriveType type (DRIVE_FIXED, ...) present now. */
uint32_t volumes_of_type(UINT type);

/* "E:\" for a bit index (0..25). */
void volumes_root(int index, char out[4]);

/* The Desktop and Downloads folders of token's user (NULL: this
 * process's), as UTF-8 paths, into out[0..cap); *n says how many were
 * found. Returns 0, or -ENOENT when neither is. */
EW_MUST_CHECK
int volumes_quick_folders(HANDLE token, char (*out)[VOLUMES_PATH_MAX],
			  size_t cap, size_t *n);

#endif
