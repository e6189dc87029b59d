/* nftw() for the Windows test build: depth-first, children before their
 * folder, which is all testutil_rmtree asks of it. */
#include <ftw.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>

static int walk(const char *path, int level,
		int (*fn)(const char *, const struct stat *, int, struct FTW *))
{
	struct stat st;
	struct FTW ftw = { .base = 0, .level = level };
	const char *slash = strrchr(path, '/');
	ftw.base = slash ? (int)(slash - path + 1) : 0;
	if (stat(path, &st) != 0)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *de;
		if (d == NULL)
			return -1;
		while ((de = readdir(d)) != NULL) {
			char child[1024];
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
			int rc = walk(child, level + 1, fn);
			if (rc != 0) {
				closedir(d);
				return rc;
			}
		}
		closedir(d);
		return fn(path, &st, FTW_DP, &ftw);
	}
	return fn(path, &st, FTW_F, &ftw);
}

int nftw(const char *path,
	 int (*fn)(const char *, const struct stat *, int, struct FTW *),
	 int fd_limit, int flags)
{
	(void)fd_limit;
	(void)flags;
	return walk(path, 0, fn);
}
