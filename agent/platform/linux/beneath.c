#include "agent/platform/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <uv.h>

#include "common/errtext.h"

/* The next component at or after *pos: skips slashes and ".". Returns
 * false at the end. */
static bool next_comp(const char *p, size_t len, size_t *pos,
		      const char **c, size_t *clen)
{
	for (;;) {
		while (*pos < len && p[*pos] == '/')
			(*pos)++;
		if (*pos >= len)
			return false;
		size_t start = *pos;
		while (*pos < len && p[*pos] != '/')
			(*pos)++;
		if (!(*pos - start == 1 && p[start] == '.')) {
			*c = p + start;
			*clen = *pos - start;
			return true;
		}
	}
}

int beneath_check(const char *path, size_t len)
{
	if (len > 0 && memchr(path, '\0', len) != NULL)
		return -EINVAL;
	size_t pos = 0, clen;
	const char *c;
	while (next_comp(path, len, &pos, &c, &clen)) {
		if (clen == 2 && c[0] == '.' && c[1] == '.')
			return -EINVAL;
		if (clen > NAME_MAX)
			return -ENAMETOOLONG;
	}
	return 0;
}

/* One openat2 call for the whole path: 0, or a negative errno. */
static int try_openat2(int dirfd, const char *path, size_t len, int flags,
		       int *out)
{
#ifdef SYS_openat2
	static int unavailable;
	if (unavailable || len >= PATH_MAX)
		return -ENOSYS;
	char buf[PATH_MAX];
	size_t skip = 0;
	while (skip < len && path[skip] == '/')
		skip++;
	if (skip == len)
		return -ENOSYS;
	memcpy(buf, path + skip, len - skip);
	buf[len - skip] = '\0';
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, buf, &how, sizeof(how));
	if (fd >= 0) {
		*out = (int)fd;
		return 0;
	}
	int e = errno;
	if (e == ENOSYS || e == EPERM || e == E2BIG)
		unavailable = 1;
	return -e;
#else
	(void)dirfd; (void)path; (void)len; (void)flags; (void)out;
	return -ENOSYS;
#endif
}

/* A component that will not open as a directory: a symlink is -ELOOP
 * whatever the kernel said, so callers can name it. */
static int why_not_dir(int dirfd, const char *name, int e)
{
	struct stat st;
	if ((e == ENOTDIR || e == ELOOP) &&
	    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return S_ISLNK(st.st_mode) ? -ELOOP
		       : S_ISDIR(st.st_mode) ? -e : -ENOTDIR;
	return -e;
}

/* Walks the components of path[0..len) beneath dirfd; stops before the
 * last one when leaf is not NULL and copies it there. */
static int walk(int dirfd, const char *path, size_t len, unsigned opts,
		int *out, char *leaf)
{
	int rc = beneath_check(path, len);
	if (rc != 0)
		return rc;
	size_t pos = 0, clen;
	const char *c;
	/* With a leaf, the walk stops at the last component: find its end. */
	size_t end = len;
	if (leaf) {
		size_t lpos = 0, last = len;
		const char *lc = NULL;
		size_t llen = 0;
		while (next_comp(path, len, &lpos, &lc, &llen))
			last = (size_t)(lc - path);
		if (lc == NULL)
			return -EINVAL;
		memcpy(leaf, lc, llen);
		leaf[llen] = '\0';
		end = last;
	}
	if (!(opts & BENEATH_NO_OPENAT2) && end > 0) {
		/* Only success is taken as final: for a refusal the walk
		 * names the component and what it is (O_NOFOLLOW on a link
		 * is ENOTDIR or ELOOP depending on where it stands). */
		if (try_openat2(dirfd, path, end, O_RDONLY | O_DIRECTORY, out) == 0)
			return 0;
	}
	int fd = dirfd;
	char name[NAME_MAX + 1];
	rc = 0;
	while (next_comp(path, end, &pos, &c, &clen)) {
		memcpy(name, c, clen);
		name[clen] = '\0';
		const int fl = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
		int nfd = openat(fd, name, fl);
		if (nfd < 0 && errno == ENOENT && (opts & BENEATH_CREATE)) {
			if (mkdirat(fd, name, 0700) != 0 && errno != EEXIST) {
				rc = -errno;
				break;
			}
			nfd = openat(fd, name, fl);
		}
		if (nfd < 0) {
			rc = why_not_dir(fd, name, errno);
			break;
		}
		if (fd != dirfd)
			close(fd);
		fd = nfd;
	}
	if (rc != 0) {
		if (fd != dirfd)
			close(fd);
		return rc;
	}
	if (fd == dirfd && (fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) < 0)
		return -errno;
	*out = fd;
	return 0;
}

int beneath_open_dir(int dirfd, const char *path, size_t len, unsigned opts,
		     int *out)
{
	return walk(dirfd, path, len, opts, out, NULL);
}

int beneath_open_parent(int dirfd, const char *path, size_t len,
			unsigned opts, int *out, char leaf[NAME_MAX + 1])
{
	return walk(dirfd, path, len, opts, out, leaf);
}

int beneath_open(int dirfd, const char *path, size_t len, int flags,
		 unsigned opts, int *out)
{
	char leaf[NAME_MAX + 1];
	int pfd;
	int rc = walk(dirfd, path, len, opts & ~BENEATH_CREATE, &pfd, leaf);
	if (rc != 0)
		return rc;
	int fd = openat(pfd, leaf, flags | O_NOFOLLOW | O_CLOEXEC);
	rc = fd >= 0 ? 0 : errno == ELOOP ? -ELOOP : -errno;
	close(pfd);
	if (rc == 0)
		*out = fd;
	return rc;
}

int beneath_open_target(const char *path, bool create, bool allow_shared,
			int *out, char *err, size_t errlen)
{
	size_t len = strlen(path);
	if (len == 0)
		return errtext_set(-EINVAL, err, errlen, "no target folder given");
	if (beneath_check(path, len) != 0)
		return errtext_set(-EINVAL, err, errlen,
				   "%s: give the target without '..'", path);
	int start = open(path[0] == '/' ? "/" : ".",
			 O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (start < 0)
		return errtext_set(-errno, err, errlen, "cannot open %s",
				   path[0] == '/' ? "/" : "the working folder");
	int fd, rc = beneath_open_dir(start, path, len,
				      create ? BENEATH_CREATE : 0, &fd);
	close(start);
	if (rc == -ELOOP)
		return errtext_set(rc, err, errlen,
				   "%s: the path goes through a symbolic link; "
				   "give the folder it points to (realpath)",
				   path);
	if (rc == -ENOTDIR)
		return errtext_set(rc, err, errlen, "%s: not a folder", path);
	if (rc != 0)
		return errtext_set(rc, err, errlen, "%s: cannot open: %s", path,
				   uv_strerror(rc));
	struct stat st;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		close(fd);
		return errtext_set(rc, err, errlen, "%s: cannot stat", path);
	}
	if (!allow_shared && st.st_uid != geteuid()) {
		close(fd);
		return errtext_set(-EPERM, err, errlen,
				   "%s is owned by uid %u, not by you: its owner "
				   "could redirect what is written there; use a "
				   "folder of your own, or --allow-shared-target "
				   "if you trust that user",
				   path, (unsigned)st.st_uid);
	}
	if (!allow_shared && (st.st_mode & (S_IWGRP | S_IWOTH))) {
		close(fd);
		return errtext_set(-EPERM, err, errlen,
				   "%s can be written by %s: another user could "
				   "plant links in it; use a folder only you can "
				   "write, or --allow-shared-target",
				   path, st.st_mode & S_IWOTH ? "everyone"
							      : "its group");
	}
	*out = fd;
	return 0;
}
