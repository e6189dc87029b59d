#include "common/errtext.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int errtext_set(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* GNU strerror_r returns the text; Windows' stand-in (compat/win32.h)
 * fills buf and returns a code. */
static const char *reason(int e, char *buf, size_t len)
{
#ifdef _WIN32
	if (strerror_r(e, buf, len) != 0)
		snprintf(buf, len, "error %d", e);
	return buf;
#else
	return strerror_r(e, buf, len);
#endif
}

int errtext_sys(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		char buf[128];
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < errlen)
			snprintf(err + n, errlen - (size_t)n, ": %s",
				 reason(-rc, buf, sizeof(buf)));
	}
	return rc;
}
