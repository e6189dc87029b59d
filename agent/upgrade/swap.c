/* swap: the versioned binary directory and its two links (swap.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/upgrade/swap.h"
#include "common/errtext.h"
#include "common/fsutil.h"
#include "common/relpkg.h"

/* Crash tests (tests/integration/agent_upgrade_swap.sh) kill the install
 * at a named step, as rsyslog's tests do, to prove each one leaves a
 * working agent. Unset in production: one getenv per step. */
static void crash_point(const char *step)
{
	const char *at = getenv("EW_SWAP_CRASH_AT");
	if (at != NULL && strcmp(at, step) == 0)
		raise(SIGKILL);
}

int swap_version_cmp(const char *a, const char *b)
{
	if (!relpkg_version_ok(a) || !relpkg_version_ok(b))
		return -2;
	while (*a || *b) {
		unsigned long x = strtoul(a, (char **)&a, 10);
		unsigned long y = strtoul(b, (char **)&b, 10);
		if (x != y)
			return x < y ? -1 : 1;
		if (*a == '.')
			a++;
		if (*b == '.')
			b++;
	}
	return 0;
}

int swap_version(const char *root, const char *link, char *out, size_t cap)
{
	char path[4096], target[256];
	snprintf(path, sizeof(path), "%s/%s", root, link);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	out[0] = '\0';
	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	target[n] = '\0';
	if (strncmp(target, "agent-", 6) != 0 || !relpkg_version_ok(target + 6))
		return -EINVAL;
	snprintf(out, cap, "%s", target + 6);
	return 0;
}

/* Removes a directory of plain files (a staging copy). */
static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* Makes ROOT/name point at target: a new link under a temporary name,
 * renamed over the old one, then ROOT fsynced. */
static int relink(const char *root, const char *name, const char *target)
{
	char tmp[4096], path[4096];
	snprintf(tmp, sizeof(tmp), "%s/.%s.new", root, name);
	snprintf(path, sizeof(path), "%s/%s", root, name);
	unlink(tmp);
	if (symlink(target, tmp) != 0)
		return -errno;
	if (rename(tmp, path) != 0) {
		int rc = -errno;
		unlink(tmp);
		return rc;
	}
	return fs_fsync_dir(root);
}

static int copy_release(const char *src, const char *dst, char *err,
			size_t errlen)
{
	DIR *d = opendir(src);
	struct dirent *e;
	char from[4096], to[4096];
	struct stat sb;
	int rc = 0, files = 0;
	if (d == NULL)
		return errtext_sys(-errno, err, errlen, "cannot read %s", src);
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(from, sizeof(from), "%s/%s", src, e->d_name);
		snprintf(to, sizeof(to), "%s/%s", dst, e->d_name);
		/* Only regular files: a link in a release could point the
		 * root service anywhere. */
		if (lstat(from, &sb) != 0 || !S_ISREG(sb.st_mode)) {
			rc = errtext_set(-EPERM, err, errlen, "%s is not a regular "
				  "file; a release holds only files", from);
			break;
		}
		rc = fs_copy_atomic(from, to, sb.st_mode & 0111 ? 0755 : 0644);
		if (rc != 0)
			rc = errtext_sys(rc, err, errlen, "cannot copy %s", from);
		files++;
		crash_point("copy");
	}
	closedir(d);
	if (rc == 0 && files == 0)
		rc = errtext_set(-EPERM, err, errlen, "%s holds no files", src);
	return rc;
}

int swap_install(const char *root, const char *src, const char *version,
		 bool rollback, char *err, size_t errlen)
{
	char cur[SWAP_VERSION_MAX + 1], stage[4096], final[4096], target[64];
	int rc;
	if (!relpkg_version_ok(version))
		return errtext_set(-EPERM, err, errlen, "'%s' is not a version of "
			    "digits and dots", version);
	if ((rc = swap_version(root, "current", cur, sizeof(cur))) != 0)
		return errtext_sys(rc, err, errlen, "cannot read %s/current", root);
	if (cur[0] && !rollback && swap_version_cmp(version, cur) <= 0) {
		return errtext_set(-EPERM, err, errlen, "release %s is not newer than "
			    "the installed %s: a downgrade needs a release "
			    "marked rollback", version, cur);
	}
	if (cur[0] && strcmp(version, cur) == 0)
		return errtext_set(-EPERM, err, errlen, "release %s is already "
			    "current", version);
	snprintf(stage, sizeof(stage), "%s/.agent-%s.tmp", root, version);
	snprintf(final, sizeof(final), "%s/agent-%s", root, version);
	snprintf(target, sizeof(target), "agent-%s", version);
	/* What an interrupted install left: the staging copy, and a final
	 * directory that `current` does not name yet (it may be short of a
	 * file if the crash came between the rename and its fsync). */
	remove_tree(stage);
	remove_tree(final);
	if (mkdir(stage, 0755) != 0)
		return errtext_sys(-errno, err, errlen, "cannot create %s", stage);
	if ((rc = copy_release(src, stage, err, errlen)) != 0)
		goto fail;
	if ((rc = fs_fsync_dir(stage)) != 0) {
		errtext_sys(rc, err, errlen, "cannot sync %s", stage);
		goto fail;
	}
	crash_point("staged");
	if (rename(stage, final) != 0 || (rc = fs_fsync_dir(root)) != 0) {
		rc = rc ? rc : -errno;
		errtext_sys(rc, err, errlen, "cannot rename into %s", final);
		goto fail;
	}
	crash_point("renamed");
	if (cur[0]) {
		char prev[64];
		snprintf(prev, sizeof(prev), "agent-%s", cur);
		if ((rc = relink(root, "previous", prev)) != 0)
			return errtext_sys(rc, err, errlen, "cannot point %s/previous",
				    root);
	}
	crash_point("previous");
	if ((rc = relink(root, "current", target)) != 0)
		return errtext_sys(rc, err, errlen, "cannot point %s/current", root);
	crash_point("current");
	return 0;
fail:
	remove_tree(stage);
	return rc;
}

int swap_seed(const char *root, const char *const *names, const char *version,
	      bool *kept, char *err, size_t errlen)
{
	char cur[SWAP_VERSION_MAX + 1], stage[4096], from[4096], to[4096];
	char exe[PATH_MAX];
	int rc;
	*kept = false;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return errtext_sys(n < 0 ? -errno : -EINVAL, err, errlen,
			    "cannot find this executable");
	exe[n] = '\0';
	const char *bindir = dirname(exe);
	if (mkdir(root, 0755) != 0 && errno != EEXIST)
		return errtext_sys(-errno, err, errlen, "cannot create %s", root);
	if (!relpkg_version_ok(version))
		return errtext_set(-EINVAL, err, errlen, "'%s' is not a version of "
			    "digits and dots", version);
	if ((rc = swap_version(root, "current", cur, sizeof(cur))) != 0)
		return errtext_sys(rc, err, errlen, "cannot read %s/current", root);
	if (cur[0] && swap_version_cmp(version, cur) <= 0) {
		*kept = true;
		return 0;
	}
	/* swap_install takes a folder of exactly the release's files. */
	snprintf(stage, sizeof(stage), "%s/.packaged-%s.tmp", root, version);
	remove_tree(stage);
	if (mkdir(stage, 0700) != 0)
		return errtext_sys(-errno, err, errlen, "cannot create %s", stage);
	for (const char *const *f = names; *f != NULL && rc == 0; f++) {
		snprintf(from, sizeof(from), "%s/%s", bindir, *f);
		snprintf(to, sizeof(to), "%s/%s", stage, *f);
		if ((rc = fs_copy_atomic(from, to, 0755)) != 0)
			errtext_sys(rc, err, errlen, "cannot copy %s", from);
	}
	if (rc == 0)
		rc = swap_install(root, stage, version, false, err, errlen);
	remove_tree(stage);
	return rc;
}

int swap_restore_previous(const char *root, char *err, size_t errlen)
{
	char prev[SWAP_VERSION_MAX + 1], target[64], dir[4096];
	int rc = swap_version(root, "previous", prev, sizeof(prev));
	if (rc != 0)
		return errtext_sys(rc, err, errlen, "cannot read %s/previous", root);
	if (prev[0] == '\0') {
		snprintf(err, errlen, "no previous release in %s", root);
		return -ENOENT;
	}
	snprintf(target, sizeof(target), "agent-%s", prev);
	snprintf(dir, sizeof(dir), "%s/%s", root, target);
	if (access(dir, X_OK) != 0)
		return errtext_sys(-errno, err, errlen, "previous release %s is gone",
			    dir);
	char cur[SWAP_VERSION_MAX + 1], left[64];
	if ((rc = swap_version(root, "current", cur, sizeof(cur))) != 0)
		cur[0] = '\0';
	if ((rc = relink(root, "current", target)) != 0)
		return errtext_sys(rc, err, errlen, "cannot point %s/current", root);
	/* The release left becomes the one to go back to, so a restore
	 * undone by mistake can be restored again. */
	if (cur[0] && strcmp(cur, prev) != 0) {
		snprintf(left, sizeof(left), "agent-%s", cur);
		if ((rc = relink(root, "previous", left)) != 0)
			return errtext_sys(rc, err, errlen, "cannot point %s/previous",
				    root);
	}
	return 0;
}
