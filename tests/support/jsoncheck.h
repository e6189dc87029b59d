/* jsoncheck: a strict validator of JSON text, for tests and fuzz
 * harnesses only (the product never parses JSON). RFC 8259 grammar, the
 * whole input one value, strings of well-formed UTF-8 (Unicode table
 * 3-7: no overlong form, no surrogate, nothing above U+10FFFF), no raw
 * control byte, \u escapes with surrogates only in pairs. Written apart
 * from common/jsonout.c so that it does not share its mistakes. */
#ifndef EDUWATCH_TESTS_JSONCHECK_H
#define EDUWATCH_TESTS_JSONCHECK_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..n) is well-formed UTF-8. */
bool jsoncheck_utf8(const char *s, size_t n);
/* True when s[0..n) is one valid JSON value (surrounding white space
 * allowed). On false, *where (if not NULL) gets the offset of the fault. */
bool jsoncheck_valid(const char *s, size_t n, size_t *where);

#endif
