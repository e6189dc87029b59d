/* sharedir: where the read-only data that ships with the programs
 * (rules/: policies, alerts, YARA sets, drills) lives, found relative to
 * the running binary so one build works from any PREFIX and from the
 * build tree. */
#ifndef EDUWATCH_SHAREDIR_H
#define EDUWATCH_SHAREDIR_H

#include <stddef.h>

/* Writes into out the absolute, symlink-free path of SUB (e.g. "rules")
 * under the share directory of the running binary: BINDIR/../share/
 * eduwatch/SUB. `make install` puts it there for any PREFIX; the build
 * tree links BUILD/VARIANT/share/eduwatch/rules to the source tree's
 * rules/, so a binary run from the tree finds the tree's rules. When
 * that directory does not exist, out gets FALLBACK unchanged. Returns 0,
 * or -ENAMETOOLONG when out is too small. */
int sharedir_find(const char *sub, const char *fallback, char *out,
		  size_t cap);

#endif
