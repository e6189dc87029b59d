/* compat/win32: POSIX behaviour the shared sources rely on, for mingw-w64.
 * Built only by mk/windows.mk. */
#include "common/compat/win32.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sddl.h>

#include <openssl/rand.h>

int win32_strerror_r(int err, char *buf, size_t len)
{
	if (buf == NULL || len == 0)
		return EINVAL;
	return strerror_s(buf, len, err) == 0 ? 0 : EINVAL;
}

/* mkdtemp: a random name from OpenSSL's CSPRNG (mingw's _mktemp uses a
 * guessable pattern), created with _mkdir, which fails if it exists. */
char *mkdtemp(char *template)
{
	static const char alphabet[] =
		"abcdefghijklmnopqrstuvwxyz0123456789";
	size_t len = strlen(template);
	if (len < 6 || strcmp(template + len - 6, "XXXXXX") != 0) {
		errno = EINVAL;
		return NULL;
	}
	for (int attempt = 0; attempt < 100; attempt++) {
		unsigned char r[6];
		if (RAND_bytes(r, sizeof(r)) != 1) {
			errno = EIO;
			return NULL;
		}
		for (size_t i = 0; i < 6; i++)
			template[len - 6 + i] =
				alphabet[r[i] % (sizeof(alphabet) - 1)];
		if (_mkdir(template) == 0)
			return template;
		if (errno != EEXIST)
			return NULL;
	}
	errno = EEXIST;
	return NULL;
}

/* remove: POSIX says a directory is removed as by rmdir(); msvcrt's
 * remove() refuses directories. */
#undef remove
int win32_remove(const char *path)
{
	struct _stat64 st;
	if (_stat64(path, &st) == 0 && (st.st_mode & _S_IFDIR))
		return _rmdir(path);
	return remove(path);
}

const char *sigabbrev_np(int signum)
{
	switch (signum) {
	case SIGINT: return "INT";
	case SIGILL: return "ILL";
	case SIGFPE: return "FPE";
	case SIGSEGV: return "SEGV";
	case SIGTERM: return "TERM";
	case SIGBREAK: return "BREAK";
	case SIGABRT: return "ABRT";
	case SIGHUP: return "HUP";
	case SIGKILL: return "KILL";
	default: return NULL;
	}
}

int scandir(const char *dir, struct dirent ***names,
	    int (*keep)(const struct dirent *),
	    int (*cmp)(const struct dirent **, const struct dirent **))
{
	DIR *d = opendir(dir);
	struct dirent **list = NULL, *de;
	size_t n = 0, cap = 0;
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (keep && !keep(de))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct dirent **grown = realloc(list, ncap * sizeof(*list));
			if (grown == NULL)
				goto fail;
			list = grown;
			cap = ncap;
		}
		if ((list[n] = malloc(sizeof(*de))) == NULL)
			goto fail;
		memcpy(list[n++], de, sizeof(*de));
	}
	closedir(d);
	if (cmp && n > 1)
		qsort(list, n, sizeof(*list),
		      (int (*)(const void *, const void *))cmp);
	*names = list;
	return (int)n;
fail:
	while (n > 0)
		free(list[--n]);
	free(list);
	closedir(d);
	errno = ENOMEM;
	return -1;
}

void *memrchr(const void *s, int c, size_t n)
{
	const unsigned char *p = (const unsigned char *)s + n;
	while (n-- > 0)
		if (*--p == (unsigned char)c)
			return (void *)p;
	return NULL;
}

int setenv(const char *name, const char *value, int overwrite)
{
	if (name == NULL || *name == '\0' || strchr(name, '=') != NULL) {
		errno = EINVAL;
		return -1;
	}
	if (!overwrite && getenv(name) != NULL)
		return 0;
	errno_t err = _putenv_s(name, value);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

static ssize_t positional(int fd, void *buf, size_t len, off_t off,
			  bool writing)
{
	HANDLE h = (HANDLE)_get_osfhandle(fd);
	OVERLAPPED ov = {0};
	DWORD done = 0;
	BOOL ok;
	if (h == INVALID_HANDLE_VALUE) {
		errno = EBADF;
		return -1;
	}
	if (len > 0x7fffffffu)
		len = 0x7fffffffu;
	ov.Offset = (DWORD)((uint64_t)off & 0xffffffffu);
	ov.OffsetHigh = (DWORD)((uint64_t)off >> 32);
	ok = writing ? WriteFile(h, buf, (DWORD)len, &done, &ov)
		     : ReadFile(h, buf, (DWORD)len, &done, &ov);
	if (!ok) {
		if (!writing && GetLastError() == ERROR_HANDLE_EOF)
			return 0;
		errno = EIO;
		return -1;
	}
	return (ssize_t)done;
}

ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	return positional(fd, buf, len, off, false);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	return positional(fd, (void *)buf, len, off, true);
}

#undef kill
int win32_kill(int pid, int sig)
{
	DWORD access = sig == 0 ? PROCESS_QUERY_LIMITED_INFORMATION
				: PROCESS_TERMINATE;
	HANDLE h = OpenProcess(access, FALSE, (DWORD)pid);
	DWORD code = 0;
	int rc = 0;
	if (h == NULL) {
		errno = GetLastError() == ERROR_ACCESS_DENIED ? EPERM : ESRCH;
		return -1;
	}
	if (sig == 0) {
		if (!GetExitCodeProcess(h, &code) || code != STILL_ACTIVE) {
			errno = ESRCH;
			rc = -1;
		}
	} else if (!TerminateProcess(h, 128 + (unsigned)sig)) {
		errno = EPERM;
		rc = -1;
	}
	CloseHandle(h);
	return rc;
}

#undef rename
int win32_rename(const char *from, const char *to)
{
	wchar_t wfrom[MAX_PATH * 2], wto[MAX_PATH * 2];
	if (MultiByteToWideChar(CP_UTF8, 0, from, -1, wfrom, MAX_PATH * 2) == 0 ||
	    MultiByteToWideChar(CP_UTF8, 0, to, -1, wto, MAX_PATH * 2) == 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (MoveFileExW(wfrom, wto, MOVEFILE_REPLACE_EXISTING |
					    MOVEFILE_WRITE_THROUGH))
		return 0;
	switch (GetLastError()) {
	case ERROR_FILE_NOT_FOUND:
	case ERROR_PATH_NOT_FOUND: errno = ENOENT; break;
	case ERROR_ACCESS_DENIED:
	case ERROR_SHARING_VIOLATION: errno = EACCES; break;
	case ERROR_NOT_SAME_DEVICE: errno = EXDEV; break;
	default: errno = EIO; break;
	}
	return -1;
}

/* SYSTEM (SY) and built-in Administrators (BA): full control, inherited
 * by files (OI) and folders (CI); P: no ACE inherited from above, so
 * ProgramData's "Users may read" does not reach in. */
static const wchar_t private_sddl[] =
	L"D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";

int win32_mkdir(const char *path, unsigned mode)
{
	wchar_t wpath[MAX_PATH * 2];
	if (MultiByteToWideChar(CP_UTF8, 0, path, -1, wpath, MAX_PATH * 2) == 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	SECURITY_ATTRIBUTES sa = {.nLength = sizeof(sa)};
	PSECURITY_DESCRIPTOR sd = NULL;
	if ((mode & 077) == 0) {
		if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(
			    private_sddl, SDDL_REVISION_1, &sd, NULL)) {
			errno = EIO;
			return -1;
		}
		sa.lpSecurityDescriptor = sd;
	}
	BOOL ok = CreateDirectoryW(wpath, sd ? &sa : NULL);
	DWORD e = ok ? 0 : GetLastError();
	LocalFree(sd);
	if (ok)
		return 0;
	errno = e == ERROR_ALREADY_EXISTS ? EEXIST
		: e == ERROR_PATH_NOT_FOUND ? ENOENT
		: e == ERROR_ACCESS_DENIED ? EACCES : EIO;
	return -1;
}

#undef open
int win32_open(const char *path, int flags, ...)
{
	unsigned mode = 0;
	if (flags & _O_CREAT) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, unsigned);
		va_end(ap);
	}
	/* Only the owner's write bit maps onto Windows: without it the file
	 * gets the read-only attribute. */
	int pmode = (mode & 0200) ? (_S_IREAD | _S_IWRITE) : _S_IREAD;
	return _open(path, flags | _O_BINARY, pmode);
}
