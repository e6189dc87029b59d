/* compat/win32: the few POSIX names the shared sources use that mingw-w64
 * lacks, mapped onto their Windows equivalents.
 *
 * The Windows build force-includes this header before common/banned.h
 * (mk/windows.mk), as git does with compat/mingw.h: the shared sources
 * then keep one code path, and what truly differs (services, inventory,
 * the scanner's isolation) lives behind agent/platform/. Only plain
 * renames belong here; anything with behaviour is a function in
 * common/compat/win32.c.
 *
 * Files are opened in binary mode everywhere: every executable links
 * mingw's binmode.o, so open() and fopen() never translate CRLF. */
#ifndef EDUWATCH_COMPAT_WIN32_H
#define EDUWATCH_COMPAT_WIN32_H

#ifdef _WIN32
/* winsock2 before windows.h, and both before banned.h poisons names that
 * their inline functions mention. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <direct.h>
#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* A handle is never inherited by a child unless passed on purpose. */
#define O_CLOEXEC _O_NOINHERIT
/* NTFS reparse points are not followed by _open's callers here: the
 * agent's state directory is ACL'd to SYSTEM and Administrators, so no
 * user can plant a link in it (see SECURITY.md, Windows). */
#define O_NOFOLLOW 0
#define O_DIRECTORY 0

/* Every descriptor is binary: in msvcrt's default text mode a read stops
 * at the first 0x1A byte and CRLF is rewritten (test_portable caught a
 * signed bundle cut short this way). Linking binmode.o alone did not
 * change the default for _open. */
int win32_open(const char *path, int flags, ...);
#define open(path, ...) win32_open(path, __VA_ARGS__)

/* Windows has no mode bits. A folder made private (no group or other
 * bits, as the state folder's 0700) gets a protected DACL instead: full
 * control for SYSTEM and Administrators only, inherited by every file
 * created in it, so the agent's key is as private as under 0600. */
int win32_mkdir(const char *path, unsigned mode);
#define mkdir(path, mode) win32_mkdir(path, mode)
#define fchmod(fd, mode) 0
#define fsync(fd) _commit(fd)

/* st_mtim: Windows' stat has whole seconds only. */
#define st_mtim st_mtime_ts_unavailable

int win32_strerror_r(int err, char *buf, size_t len);
#define strerror_r win32_strerror_r

char *mkdtemp(char *template_path);

/* glibc's signal abbreviation ("TERM"), for signals_name(). */
const char *sigabbrev_np(int signum);

/* scandir and alphasort (POSIX 2008), which msvcrt lacks. */
struct dirent;
int scandir(const char *dir, struct dirent ***names,
	    int (*keep)(const struct dirent *),
	    int (*cmp)(const struct dirent **, const struct dirent **));

/* Error and limit names POSIX has and msvcrt lacks. */
#ifndef EDQUOT
#define EDQUOT 150
#endif
#ifndef NAME_MAX
#define NAME_MAX 255
#endif
#ifndef SIGSYS
#define SIGSYS 31
#endif

void *memrchr(const void *s, int c, size_t n);

/* POSIX setenv: _putenv_s sets the CRT's copy and the process's own
 * environment block, which libuv reads (GetEnvironmentVariableW). */
int setenv(const char *name, const char *value, int overwrite);

/* Positional reads and writes through the handle under the descriptor. */
ssize_t pread(int fd, void *buf, size_t len, off_t off);
ssize_t pwrite(int fd, const void *buf, size_t len, off_t off);

/* kill(pid, 0): whether the process exists; any other signal ends it. */
int win32_kill(int pid, int sig);
#define kill(pid, sig) win32_kill(pid, sig)

/* stdio.h maps popen to _popen with a macro, and banned.h poisons the
 * name; the macro must go for the poison to apply. */
#undef popen
#undef pclose

/* rename() replaces an existing target, as POSIX says (msvcrt refuses),
 * and returns once the new name is on disk. */
int win32_rename(const char *from, const char *to);
#define rename(from, to) win32_rename(from, to)

/* remove() removes an empty directory too, as POSIX says. */
int win32_remove(const char *path);
#define remove(path) win32_remove(path)

/* The handful of POSIX signals the shared code names: libuv emulates
 * SIGINT, SIGHUP (console close) and SIGTERM for uv_signal and
 * uv_process_kill. */
#ifndef SIGHUP
#define SIGHUP 1
#endif
#ifndef SIGKILL
#define SIGKILL 9
#endif
#ifndef SIGPIPE
#define SIGPIPE 13
#endif

#endif /* _WIN32 */
#endif
