/* apply: a pushed agent release, from payload to ROOT/current (apply.h). */
#include "agent/upgrade/apply.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "agent/upgrade/swap.h"
#include "common/alloc.h"
#include "common/errtext.h"
#include "common/fsutil.h"
#include "common/pki.h"
#include "common/timeutil.h"

extern char **environ;

/* Removes a staging folder of plain files. */
static void remove_stage(const char *dir, const struct relpkg *pkg)
{
	char path[1200];
	for (size_t i = 0; i < pkg->nfiles; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, pkg->files[i].name);
		unlink(path);
	}
	rmdir(dir);
}

/* The release's payload, checked against the pinned release key if the
 * agent has one. */
static int unwrap(const char *release_key, const void *published, size_t len,
		  const void **payload, size_t *payload_len, char *err,
		  size_t errlen)
{
	EVP_PKEY *pin = NULL;
	bool is_signed = false;
	if (release_key[0]) {
		int rc = pki_read_pubkey(release_key, &pin);
		/* Failing closed: a pin that is gone must not mean "none". */
		if (rc != 0)
			return errtext_set(-EPERM, err, errlen, "cannot read the "
					   "release key %s (%s): every release "
					   "is refused until it can be read",
					   release_key, uv_strerror(rc));
	}
	int rc = relpkg_unwrap(published, len, pin, payload, payload_len,
			       &is_signed, err, errlen);
	EVP_PKEY_free(pin);
	return rc;
}

int upgrade_apply(const char *state_dir, const char *root,
		  const char *release_key, const void *published, size_t len,
		  char release[RELPKG_VERSION_MAX + 1],
		  char left[RELPKG_VERSION_MAX + 1], char *err, size_t errlen)
{
	struct relpkg pkg;
	char dir[1024], path[1200];
	const void *payload = NULL;
	size_t payload_len = 0;
	release[0] = left[0] = '\0';
	int rc = unwrap(release_key, published, len, &payload, &payload_len,
			err, errlen);
	if (rc == 0)
		rc = relpkg_parse(payload, payload_len, &pkg, err, errlen);
	if (rc != 0)
		return rc;
	snprintf(release, RELPKG_VERSION_MAX + 1, "%s", pkg.release);
	if ((rc = swap_version(root, "current", left, RELPKG_VERSION_MAX + 1)) != 0) {
		relpkg_clear(&pkg);
		return errtext_set(rc, err, errlen, "%s/current is not a release "
				   "link", root);
	}
	/* Checked before a byte is written, and again by swap_install. */
	if (left[0] && !pkg.rollback && swap_version_cmp(pkg.release, left) <= 0) {
		rc = errtext_set(-EPERM, err, errlen, "release %s is not newer "
				 "than the installed %s and is not marked "
				 "rollback: downgrade refused", pkg.release, left);
		relpkg_clear(&pkg);
		return rc;
	}
	snprintf(dir, sizeof(dir), "%s/upgrade", state_dir);
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/upgrade/incoming-%s", state_dir,
		 pkg.release);
	remove_stage(dir, &pkg);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		rc = errtext_set(-errno, err, errlen, "cannot create %s", dir);
		relpkg_clear(&pkg);
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < pkg.nfiles; i++) {
		const struct relpkg_file *f = &pkg.files[i];
		snprintf(path, sizeof(path), "%s/%s", dir, f->name);
		rc = fs_write_atomic(path, f->data, f->len, f->exec ? 0755 : 0644);
		if (rc != 0)
			errtext_set(rc, err, errlen, "cannot write %s", path);
	}
	if (rc == 0)
		rc = swap_install(root, dir, pkg.release, pkg.rollback, err,
				  errlen);
	remove_stage(dir, &pkg);
	relpkg_clear(&pkg);
	return rc;
}

int upgrade_spawn_watchdog(const char *root, const char *left,
			   const char *config, long long within_s,
			   bool restart)
{
	char exe[1024], within[32];
	snprintf(exe, sizeof(exe), "%s/agent-%s/eduwatch-agent", root, left);
	snprintf(within, sizeof(within), "%llds", within_s);
	char *argv[] = {exe,	       "upgrade", "watch", "--within",
			within,	       "--root",  (char *)root, "-c",
			(char *)config, restart ? "--restart" : NULL, NULL};
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	/* Its own session: the agent's exec, or its service's stop of the
	 * agent alone, must not take the watchdog with it. */
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
	pid_t pid;
	int rc = posix_spawn(&pid, exe, NULL, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	return -rc;
}

void upgrade_running_release(char *out, size_t cap)
{
	char exe[PATH_MAX];
	out[0] = '\0';
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return;
	exe[n] = '\0';
	const char *folder = basename(dirname(exe));
	if (strncmp(folder, "agent-", 6) == 0 && relpkg_version_ok(folder + 6))
		snprintf(out, cap, "%s", folder + 6);
}

int upgrade_mark_pending(const char *root, const char *release,
			 long long within_s)
{
	char path[1024], text[128];
	snprintf(path, sizeof(path), "%s/pending", root);
	int n = snprintf(text, sizeof(text), "%s %lld\n", release,
			 (long long)(timeutil_now_us() + 2 * within_s * 1000000LL));
	return fs_write_atomic(path, text, (size_t)n, 0644);
}

void upgrade_clear_pending(const char *root)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/pending", root);
	if (unlink(path) == 0)
		EW_IGNORE(fs_fsync_dir(root));
}

enum upgrade_pending upgrade_check_pending(const char *root,
					   const char *running, bool healthy,
					   char *why, size_t cap)
{
	char path[1024], release[RELPKG_VERSION_MAX + 1], err[256];
	char *text = NULL;
	size_t len = 0;
	long long deadline = 0;
	snprintf(path, sizeof(path), "%s/pending", root);
	if (running[0] == '\0' || fs_read_file(path, 256, &text, &len) != 0)
		return UPGRADE_NONE;
	int fields = sscanf(text, "%32s %lld", release, &deadline);
	alloc_free(text);
	/* A marker about another release (the watchdog restored already, or
	 * a newer one replaced it) or one unreadable: nothing to wait for. */
	if (fields != 2 || strcmp(release, running) != 0) {
		upgrade_clear_pending(root);
		return UPGRADE_NONE;
	}
	if (healthy) {
		upgrade_clear_pending(root);
		return UPGRADE_CONFIRMED;
	}
	if (timeutil_now_us() < deadline)
		return UPGRADE_WAITING;
	snprintf(why, cap, "release %s did not report healthy before its "
		 "deadline (checked by the agent: its watchdog was gone); "
		 "restored the previous release\n", running);
	if (swap_restore_previous(root, err, sizeof(err)) != 0) {
		snprintf(why, cap, "release %s is unhealthy and cannot be "
			 "undone: %s", running, err);
		upgrade_clear_pending(root);
		return UPGRADE_NONE;
	}
	snprintf(path, sizeof(path), "%s/last-restore", root);
	EW_IGNORE(fs_write_atomic(path, why, strlen(why), 0644));
	upgrade_clear_pending(root);
	return UPGRADE_RESTORED;
}

bool upgrade_take_restore_note(const char *root,
			       char failed[RELPKG_VERSION_MAX + 1], char *why,
			       size_t cap)
{
	char path[1024], taken[1040];
	char *text = NULL;
	size_t len = 0;
	failed[0] = '\0';
	snprintf(path, sizeof(path), "%s/last-restore", root);
	if (fs_read_file(path, 4096, &text, &len) != 0)
		return false;
	len = strcspn(text, "\n");
	snprintf(why, cap, "%.*s", (int)len, text);
	alloc_free(text);
	/* The watchdog's note begins "release VERSION did not ..." (main.c,
	 * upgrade watch). */
	size_t v = strncmp(why, "release ", 8) == 0 ? strcspn(why + 8, " ") : 0;
	if (v > 0 && v <= RELPKG_VERSION_MAX) {
		snprintf(failed, RELPKG_VERSION_MAX + 1, "%.*s", (int)v, why + 8);
		if (!relpkg_version_ok(failed))
			failed[0] = '\0';
	}
	snprintf(taken, sizeof(taken), "%s.reported", path);
	/* Reported once: a note that cannot be marked taken is reported
	 * again at the next start, which is better than never. */
	(void)rename(path, taken);
	return true;
}

uint32_t upgrade_new_failures(const char *root, const char *running,
			      uint32_t failed)
{
	char path[1024], before[RELPKG_VERSION_MAX + 1] = "", line[64];
	char *text = NULL;
	size_t len = 0;
	unsigned int mask = 0;
	uint32_t fresh = 0;
	snprintf(path, sizeof(path), "%s/sources-failed", root);
	if (fs_read_file(path, sizeof(line), &text, &len) == 0) {
		/* Compared only, never used as a path: a damaged line means
		 * nothing known, so nothing counted. */
		if (sscanf(text, "%32s %x", before, &mask) == 2 &&
		    strcmp(before, running) != 0)
			fresh = failed & ~(uint32_t)mask;
		alloc_free(text);
	}
	int n = snprintf(line, sizeof(line), "%s %x\n", running, failed);
	EW_IGNORE(fs_write_atomic(path, line, (size_t)n, 0644)); /* a
		lost record only means the next start compares nothing */
	return fresh;
}
