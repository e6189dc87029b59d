/* Quick-scan globs and USB mounts on Linux (scanplaces.h). */
#include "agent/platform/scanplaces.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"

#define KNOWN_MOUNTS 64
/* A mount as the agent knows it: mount id, device and mount point
 * (mountinfo's fields 1, 3 and 5). */
#define MOUNT_KEY_LEN (AGENT_PATH_LEN + 64)

struct scanplaces {
	uv_poll_t poll;
	int fd;
	const struct scan_settings *sc;
	scanplaces_arrival_cb cb;
	void *arg;
	/* Each USB mount seen last time, as its mount key. */
	char known[KNOWN_MOUNTS][MOUNT_KEY_LEN];
	size_t nknown;
};

size_t scanplaces_full(const struct scan_settings *sc,
		       char (*out)[AGENT_PATH_LEN], size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < sc->scan_n_full && n < cap; i++)
		snprintf(out[n++], AGENT_PATH_LEN, "%s", sc->scan_full_paths[i]);
	return n;
}

size_t scanplaces_quick(const struct scan_settings *sc,
			char (*out)[AGENT_PATH_LEN], size_t cap)
{
	size_t n = 0;
	for (size_t q = 0; q < sc->scan_n_quick; q++) {
		glob_t g;
		if (glob(sc->scan_quick_paths[q], GLOB_NOSORT, NULL, &g) != 0)
			continue;
		for (size_t i = 0; i < g.gl_pathc && n < cap; i++)
			if (strlen(g.gl_pathv[i]) < AGENT_PATH_LEN)
				snprintf(out[n++], AGENT_PATH_LEN, "%s",
					 g.gl_pathv[i]);
		globfree(&g);
	}
	return n;
}

static bool under_usb_prefix(const struct scan_settings *sc, const char *mnt)
{
	for (size_t i = 0; i < sc->scan_n_usb; i++) {
		const char *p = sc->scan_usb_prefixes[i];
		size_t n = strlen(p);
		if (strncmp(mnt, p, n) == 0 && mnt[n] == '/')
			return true;
	}
	return false;
}

/* mountinfo's fifth field is the mount point, with spaces as \040. */
static void unescape_mount(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; in[i] && o + 1 < cap; i++) {
		if (in[i] == '\\' && in[i + 1] >= '0' && in[i + 1] <= '3' &&
		    in[i + 2] >= '0' && in[i + 2] <= '7' && in[i + 3] >= '0' &&
		    in[i + 3] <= '7') {
			out[o++] = (char)((in[i + 1] - '0') * 64 +
					  (in[i + 2] - '0') * 8 + (in[i + 3] - '0'));
			i += 3;
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = '\0';
}

/* Reads the mount table; reports each mount under a USB prefix that was
 * not there last time (when report is set: not at start-up). A mount is
 * known by more than its mount point: when one drive is unmounted and
 * another mounted at the same path between two reads (the loop was busy,
 * or the desktop names both sticks by one label), the new mount has
 * another device or mount id and is reported. (The kernel may give a
 * drive plugged into the same port the same device and, once the old
 * mount's id is free, the same id: that re-plug is not seen.) */
static void read_mounts(struct scanplaces *w, bool report)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], now[KNOWN_MOUNTS][MOUNT_KEY_LEN];
	size_t n = 0;
	while (f && fgets(line, sizeof(line), f) && n < KNOWN_MOUNTS) {
		char raw[AGENT_PATH_LEN * 4], mnt[AGENT_PATH_LEN], id[24],
			dev[24];
		if (sscanf(line, "%23s %*s %23s %*s %1023s", id, dev, raw) != 3)
			continue;
		unescape_mount(raw, mnt, sizeof(mnt));
		if (!under_usb_prefix(w->sc, mnt))
			continue;
		snprintf(now[n], MOUNT_KEY_LEN, "%s %s %s", id, dev, mnt);
		bool known = false;
		for (size_t i = 0; i < w->nknown && !known; i++)
			known = strcmp(w->known[i], now[n]) == 0;
		n++;
		if (report && !known) {
			log_info("scan: removable drive mounted at %s", mnt);
			w->cb(w->arg, mnt);
		}
	}
	if (f)
		fclose(f);
	memcpy(w->known, now, n * sizeof(now[0]));
	w->nknown = n;
}

static void on_mounts_changed(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	read_mounts(p->data, true);
}

int scanplaces_watch(uv_loop_t *loop, const struct scan_settings *sc,
		     scanplaces_arrival_cb cb, void *arg,
		     struct scanplaces **out)
{
	*out = NULL;
	struct scanplaces *w = alloc_zeroed(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->sc = sc;
	w->cb = cb;
	w->arg = arg;
	read_mounts(w, false);
	w->fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (w->fd < 0 || uv_poll_init(loop, &w->poll, w->fd) != 0) {
		if (w->fd >= 0)
			close(w->fd);
		alloc_free(w);
		return 0; /* no mount table: no USB scans, as before */
	}
	w->poll.data = w;
	uv_poll_start(&w->poll, UV_PRIORITIZED, on_mounts_changed);
	*out = w;
	return 0;
}

static void on_closed(uv_handle_t *h)
{
	struct scanplaces *w = h->data;
	close(w->fd);
	alloc_free(w);
}

void scanplaces_unwatch(struct scanplaces *w)
{
	if (w)
		uv_close((uv_handle_t *)&w->poll, on_closed);
}
