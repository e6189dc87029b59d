#include "common/check.h"

#include <stdio.h>
#include <stdlib.h>

void ew_assert_fail(const char *file, int line, const char *expr)
{
	/* stderr only: the logger may be the broken part, and this must not
	 * allocate. The journal keeps a daemon's stderr. */
	fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, expr);
	fflush(stderr);
	abort();
}
