#include "common/sharedir.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifndef _WIN32
#include <unistd.h>
#endif

static int copy_out(const char *path, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s", path);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

#ifdef _WIN32
/* The Windows agent has no share directory: the MSI installs it in one
 * folder and passes its paths in the settings it writes, so the caller's
 * fallback (the settings' value) is the answer. */
int sharedir_find(const char *sub, const char *fallback, char *out,
		  size_t cap)
{
	(void)sub;
	return copy_out(fallback, out, cap);
}
#else
int sharedir_find(const char *sub, const char *fallback, char *out,
		  size_t cap)
{
	char self[PATH_MAX], candidate[PATH_MAX + 64], real[PATH_MAX];
	struct stat st;
	/* /proc/self/exe names the binary the kernel ran, not what argv[0]
	 * or PATH claim, so a caller cannot point us at other rules. */
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		return copy_out(fallback, out, cap);
	self[len] = '\0';
	char *deleted = strstr(self, " (deleted)");
	if (deleted != NULL)
		*deleted = '\0';
	char *slash = strrchr(self, '/');
	if (slash == NULL)
		return copy_out(fallback, out, cap);
	*slash = '\0';
	int n = snprintf(candidate, sizeof(candidate),
			 "%s/../share/eduwatch/%s", self, sub);
	if (n < 0 || (size_t)n >= sizeof(candidate) ||
	    realpath(candidate, real) == NULL || stat(real, &st) != 0 ||
	    !S_ISDIR(st.st_mode))
		return copy_out(fallback, out, cap);
	return copy_out(real, out, cap);
}
#endif
