/* Quick-scan folders and removable drives on Windows (scanplaces.h),
 * over volumes.h. */
#include "agent/platform/scanplaces.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <windows.h>
#include <wtsapi32.h>

#include "agent/platform/platform.h"
#include "agent/platform/windows/volumes.h"
#include "common/alloc.h"
#include "common/log.h"

/* GetLogicalDrives and GetDriveType per letter: no I/O to any drive,
 * so a poll every two seconds costs nothing a PC notices. */
#define POLL_MS 2000
#define FOLDERS_PER_USER 2

struct scanplaces {
	uv_timer_t timer;
	struct volwatch state;
	scanplaces_arrival_cb cb;
	void *arg;
};

static void add_path(char (*out)[AGENT_PATH_LEN], size_t cap, size_t *n,
		     const char *path)
{
	if (*n >= cap || strlen(path) >= AGENT_PATH_LEN)
		return;
	for (size_t i = 0; i < *n; i++)
		if (_stricmp(out[i], path) == 0)
			return;
	snprintf(out[(*n)++], AGENT_PATH_LEN, "%s", path);
}

static void add_user_folders(HANDLE token, char (*out)[AGENT_PATH_LEN],
			     size_t cap, size_t *n)
{
	char found[FOLDERS_PER_USER][VOLUMES_PATH_MAX];
	size_t nfound = 0;
	if (volumes_quick_folders(token, found, FOLDERS_PER_USER, &nfound) != 0)
		return;
	for (size_t i = 0; i < nfound; i++)
		add_path(out, cap, n, found[i]);
}

/* The service is SYSTEM: the folders that matter are those of the users
 * signed in, each found with that user's token (WTSQueryUserToken needs
 * SYSTEM). Run by hand or under wine there is no such token, and the
 * agent's own user's folders are the ones. */
static size_t add_signed_in_users(char (*out)[AGENT_PATH_LEN], size_t cap,
				  size_t *n)
{
	WTS_SESSION_INFOW *sessions = NULL;
	DWORD count = 0;
	size_t users = 0;
	if (!WTSEnumerateSessionsW(WTS_CURRENT_SERVER_HANDLE, 0, 1, &sessions,
				   &count))
		return 0;
	for (DWORD i = 0; i < count; i++) {
		HANDLE token = NULL;
		if (sessions[i].State != WTSActive &&
		    sessions[i].State != WTSDisconnected)
			continue;
		if (!WTSQueryUserToken(sessions[i].SessionId, &token))
			continue;
		add_user_folders(token, out, cap, n);
		CloseHandle(token);
		users++;
	}
	WTSFreeMemory(sessions);
	return users;
}

/* "/" is the Linux default and, as a Windows path, only the agent's own
 * drive: here it stands for every fixed drive, as a PC's "everything". */
size_t scanplaces_full(const struct scan_settings *sc,
		       char (*out)[AGENT_PATH_LEN], size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < sc->scan_n_full; i++) {
		if (strcmp(sc->scan_full_paths[i], "/") != 0) {
			add_path(out, cap, &n, sc->scan_full_paths[i]);
			continue;
		}
		uint32_t fixed = volumes_of_type(DRIVE_FIXED);
		for (int d = 0; d < 26; d++) {
			char root[4];
			if (!(fixed & (1u << d)))
				continue;
			volumes_root(d, root);
			add_path(out, cap, &n, root);
		}
	}
	return n;
}

size_t scanplaces_quick(const struct scan_settings *sc,
			char (*out)[AGENT_PATH_LEN], size_t cap)
{
	size_t n = 0;
	/* Configured entries are folders, not globs, on Windows; the Linux
	 * defaults (/home/...) name no folder here and drop out. */
	for (size_t i = 0; i < sc->scan_n_quick; i++) {
		uv_fs_t req;
		const char *p = sc->scan_quick_paths[i];
		if (!platform_path_is_absolute(p))
			continue;
		int rc = uv_fs_stat(NULL, &req, p, NULL);
		uv_fs_req_cleanup(&req);
		if (rc == 0)
			add_path(out, cap, &n, p);
	}
	if (add_signed_in_users(out, cap, &n) == 0)
		add_user_folders(NULL, out, cap, &n);
	return n;
}

static void on_poll(uv_timer_t *t)
{
	struct scanplaces *w = t->data;
	uint32_t ready = volwatch_poll(&w->state, volumes_removable());
	for (int i = 0; i < 26; i++) {
		char root[4];
		if (!(ready & (1u << i)))
			continue;
		volumes_root(i, root);
		log_info("scan: removable drive %s arrived", root);
		w->cb(w->arg, root);
	}
}

int scanplaces_watch(uv_loop_t *loop, const struct scan_settings *sc,
		     scanplaces_arrival_cb cb, void *arg,
		     struct scanplaces **out)
{
	(void)sc; /* scan.usb_mounts names Linux mount prefixes */
	*out = NULL;
	struct scanplaces *w = alloc_zeroed(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->cb = cb;
	w->arg = arg;
	/* Drives already there at start-up are not reported, as on Linux. */
	w->state.seen = volumes_removable();
	uv_timer_init(loop, &w->timer);
	w->timer.data = w;
	uv_timer_start(&w->timer, on_poll, POLL_MS, POLL_MS);
	*out = w;
	return 0;
}

static void on_closed(uv_handle_t *h)
{
	alloc_free(h->data);
}

void scanplaces_unwatch(struct scanplaces *w)
{
	if (w)
		uv_close((uv_handle_t *)&w->timer, on_closed);
}
