/* errtext: the "return a negative errno and say why" idiom in one place.
 *
 * Functions that can fail for a reason a person must read take a buffer
 * (err, errlen) and return a negative errno; errtext_set fills the
 * buffer (when there is one) and returns the code, so a failure is one
 * line: return errtext_set(-EBADMSG, err, errlen, "%s: damaged", path); */
#ifndef EDUWATCH_ERRTEXT_H
#define EDUWATCH_ERRTEXT_H

#include "common/check.h"

#include <stddef.h>

int errtext_set(int rc, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The same for a failed system call: rc is its negative errno, and the
 * system's reason for it follows the message after ": ", as in
 * "cannot create /x: Permission denied". */
int errtext_sys(int rc, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
