/* textsafe: make bytes from a peer safe to print on a terminal or to
 * write into one log line.
 *
 * Host names, agent names, event kinds and evidence come from PCs we do
 * not trust. Printed raw, an ESC sequence repaints an admin's terminal
 * and a newline forges a log line. The escaped form keeps valid UTF-8
 * (Vietnamese school names stay readable) and writes everything else as
 * text that cannot be confused with it:
 *   - a backslash becomes "\\";
 *   - C0 controls (0x00-0x1f) and DEL become "\xNN";
 *   - C1 controls (U+0080-U+009F), line and paragraph separators and the
 *     bidirectional overrides (U+202A-U+202E, U+2066-U+2069) become
 *     "\u{NNNN}";
 *   - each byte that is not part of valid UTF-8 (overlong, surrogate,
 *     above U+10FFFF, cut short) becomes "\xNN".
 * The output is valid UTF-8 with no control bytes. */
#ifndef EDUWATCH_TEXTSAFE_H
#define EDUWATCH_TEXTSAFE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The longest output of one input unit: "\u{202e}" is 8 bytes. */
#define TEXTSAFE_UNIT_MAX 10

/* Escapes len bytes of src (borrowed; NUL bytes inside are escaped too)
 * into dst. The output is always NUL-terminated when cap > 0 and is cut
 * only between whole escaped units, so it never ends in half a UTF-8
 * sequence or half an escape. Returns the bytes written, without the
 * NUL. */
size_t textsafe_escape(char *dst, size_t cap, const char *src, size_t len);

/* The bytes textsafe_escape needs for all of src, without the NUL. */
size_t textsafe_escaped_len(const char *src, size_t len);

/* textsafe_escape of a NUL-terminated string (NULL prints as ""),
 * returning dst so that it fits in a printf argument list. */
const char *textsafe_str(char *dst, size_t cap, const char *s);

/* Writes the escaped form of len bytes of src to f, without a length
 * limit. Returns 0 or -EIO. */
int textsafe_fwrite(FILE *f, const char *src, size_t len);

/* textsafe_fwrite of a NUL-terminated string (NULL writes nothing). */
int textsafe_fputs(FILE *f, const char *s);

/* textsafe_fwrite for JSON text we rendered ourselves: a backslash there
 * already starts a JSON escape and cannot forge ours, so it is kept as
 * is and "C:\\Users" stays readable. Everything else is escaped. */
int textsafe_fwrite_json(FILE *f, const char *json, size_t len);

/* True when len bytes of s are what textsafe_escape would leave
 * unchanged: valid UTF-8 with nothing to escape. */
bool textsafe_is_clean(const char *s, size_t len);

#endif
