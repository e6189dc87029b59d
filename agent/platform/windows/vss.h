/* vss: reading files that users hold open, through a shadow copy.
 *
 * A backup on Windows must read documents a teacher has open (Word keeps
 * them locked). With the agent running as SYSTEM, vss_snapshot_open asks
 * the Volume Shadow Copy Service for a snapshot of one volume (a COPY
 * backup, so no one's backup history changes) and vss_open reads a file
 * from it, through the snapshot's device path. Where VSS is unavailable
 * (not SYSTEM, the service stopped, a FAT volume, wine) the snapshot is
 * refused with the reason and vss_open reads the live file instead, and
 * says so in *why, so the backup records how each file was read.
 * Not yet used: backups are not ported to Windows (docs/DECISIONS.md).
 * Tested under wine only for the fallback and the path mapping; the
 * snapshot itself needs a real Windows PC. */
#ifndef EDUWATCH_VSS_H
#define EDUWATCH_VSS_H

#include "common/check.h"

#include <stddef.h>

#include <windows.h>

struct vss_snapshot; /* opaque */

/* A snapshot of the volume holding path (e.g. "C:\\Users"). Returns 0, or
 * a negative errno with the reason in why (and *out = NULL). */
EW_MUST_CHECK
int vss_snapshot_open(const wchar_t *path, struct vss_snapshot **out,
		      char *why, size_t whylen);

/* Deletes the snapshot (VSS_CTX_BACKUP snapshots go with their
 * requester) and frees. NULL is a no-op. */
void vss_snapshot_free(struct vss_snapshot *snap);

/* The path of `path` inside a snapshot whose device is `device` and
 * whose volume is mounted at `volume` ("C:\\"): pure, into out. Returns
 * 0, or -EXDEV when path is not on that volume, -ENAMETOOLONG. */
EW_MUST_CHECK
int vss_map_path(const wchar_t *device, const wchar_t *volume,
		 const wchar_t *path, wchar_t *out, size_t cap);

/* Opens path for reading: from snap when there is one and the file is on
 * its volume, else the live file, with the reason in why ("" when read
 * from the snapshot). INVALID_HANDLE_VALUE when neither opens. */
HANDLE vss_open(const struct vss_snapshot *snap, const wchar_t *path,
		char *why, size_t whylen);

#endif
