/* ftw.h for the Windows test build: the nftw() subset the tests use
 * (FTW_DEPTH | FTW_PHYS over plain files and folders). */
#ifndef EDUWATCH_COMPAT_FTW_H
#define EDUWATCH_COMPAT_FTW_H

#include <sys/stat.h>

#define FTW_F 0
#define FTW_D 1
#define FTW_DP 5
#define FTW_PHYS 1
#define FTW_DEPTH 8

struct FTW {
	int base;
	int level;
};

int nftw(const char *path,
	 int (*fn)(const char *, const struct stat *, int, struct FTW *),
	 int fd_limit, int flags);

#endif
