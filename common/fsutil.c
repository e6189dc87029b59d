#include "common/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/alloc.h"

int fs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fs_fsync_dir(const char *dir)
{
#ifdef _WIN32
	/* A folder cannot be opened for flushing on Windows; there rename()
	 * is MoveFileEx with MOVEFILE_WRITE_THROUGH (common/compat/win32.c),
	 * which returns once NTFS has the new name on disk. */
	(void)dir;
	return 0;
#endif
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

/* The folder's entry for the new name is durable only once the folder
 * itself is synced. */
static int fsync_parent(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if (snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path),
			  path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	return fs_fsync_dir(dir);
}

static int write_via_temp(const char *path, const void *data, size_t len,
			  unsigned mode, bool durable)
{
	char tmp[4096];
	unsigned char rnd[6];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	if (snprintf(tmp, sizeof(tmp), "%s.%02x%02x%02x%02x%02x%02x.tmp", path,
		     rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      mode & 07777);
	if (fd < 0)
		return -errno;
	int rc = fs_write_all(fd, data, len);
	/* The mode again: the umask may have taken bits from open's. */
	if (rc == 0 && fchmod(fd, mode & 07777) != 0)
		rc = -errno;
	if (rc == 0 && durable && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0) {
		unlink(tmp);
		return rc;
	}
	if (!durable)
		return 0;
	/* Some filesystems cannot sync a folder (EINVAL); only a real I/O
	 * error is reported, since the new contents are in place. */
	rc = fsync_parent(path);
	return rc == -EIO ? rc : 0;
}

int fs_write_atomic(const char *path, const void *data, size_t len,
		    unsigned mode)
{
	return write_via_temp(path, data, len, mode, true);
}

int fs_write_replace(const char *path, const void *data, size_t len,
		     unsigned mode)
{
	return write_via_temp(path, data, len, mode, false);
}

int fs_read_fd(int fd, size_t max, char **out, size_t *outlen)
{
	*out = NULL;
	*outlen = 0;
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max)
		return S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
	size_t len = (size_t)st.st_size;
	char *buf = alloc_bytes(len + 1);
	if (buf == NULL)
		return -ENOMEM;
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int rc = n < 0 ? -errno : -EIO; /* shrank while read */
			alloc_free(buf);
			return rc;
		}
		got += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

int fs_read_file(const char *path, size_t max, char **out, size_t *outlen)
{
	*out = NULL;
	*outlen = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fs_read_fd(fd, max, out, outlen);
	close(fd);
	return rc;
}

int fs_copy_atomic(const char *src, const char *path, unsigned mode)
{
	char *buf;
	size_t len;
	int rc = fs_read_file(src, SIZE_MAX - 1, &buf, &len);
	if (rc == 0)
		rc = fs_write_atomic(path, buf, len, mode);
	alloc_free(buf);
	return rc;
}
