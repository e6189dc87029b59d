/* scanplaces: where the scan source looks besides its fixed lists.
 *
 *   - the full scan's paths: scan.full_paths; on Windows "/" (the
 *     default) means every fixed drive (C:\, D:\, ...);
 *   - the quick scan's folders: on Linux the scan.quick_paths globs
 *     (a glob per entry); on Windows the configured folders that
 *     exist plus each signed-in user's Desktop and Downloads from the
 *     known-folder API, wherever a redirection or a language put them;
 *   - removable drives as they arrive: on Linux mounts under
 *     scan.usb_mounts, read from /proc/self/mountinfo when the kernel
 *     flags it; on Windows drive letters of type DRIVE_REMOVABLE, polled
 *     (agent/platform/windows/volumes.h). A drive present when the watch
 *     starts is not reported; one that arrives later is, once.
 * The scan source (agent/scan/src_scan.c) is the same on both. */
#ifndef EDUWATCH_SCANPLACES_H
#define EDUWATCH_SCANPLACES_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "agent/scan/scan_settings.h"

struct scanplaces;

/* A removable drive arrived; root is its mount point or "E:\",
 * borrowed for the call. */
typedef void (*scanplaces_arrival_cb)(void *arg, const char *root);

/* The full scan's paths into out[0..cap); returns how many. */
size_t scanplaces_full(const struct scan_settings *sc,
		       char (*out)[AGENT_PATH_LEN], size_t cap);

/* The quick scan's paths into out[0..cap); returns how many. */
size_t scanplaces_quick(const struct scan_settings *sc,
			char (*out)[AGENT_PATH_LEN], size_t cap);

/* Starts watching for removable drives on loop. *out is NULL (and 0 is
 * returned) when there is nothing to watch. */
EW_MUST_CHECK
int scanplaces_watch(uv_loop_t *loop, const struct scan_settings *sc,
		     scanplaces_arrival_cb cb, void *arg,
		     struct scanplaces **out);

/* Stops the watch; its memory goes when the loop closes its handle.
 * NULL is a no-op. */
void scanplaces_unwatch(struct scanplaces *w);

#endif
