/* hexstr: bytes as lower-case hex and back, the one form of ids, tokens
 * and digests in file names, cookies and settings. */
#ifndef EDUWATCH_HEXSTR_H
#define EDUWATCH_HEXSTR_H

#include <stddef.h>
#include <stdint.h>

#include "common/check.h"

/* n bytes of p as 2n lower-case hex digits and a NUL in out (2n + 1
 * bytes). */
void hexstr_encode(const uint8_t *p, size_t n, char *out);

/* Exactly 2n lower-case hex digits, then the end of the string, into n
 * bytes of out. -EINVAL for anything else (upper case, a shorter or a
 * longer string, any other byte): these name files and sessions, so
 * one value has one spelling. out is undefined on failure. */
EW_MUST_CHECK
int hexstr_decode(const char *hex, uint8_t *out, size_t n);

#endif
