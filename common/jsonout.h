/* jsonout: writing JSON text by hand for CLI output and for the SOC,
 * safely.
 *
 * Every function here writes valid UTF-8 whatever its input holds: a file
 * name can hold any bytes, and one invalid byte in a feed makes a strict
 * SIEM refuse the whole batch. An invalid sequence (a stray continuation
 * byte, an overlong form, a surrogate, a code point above U+10FFFF, a
 * truncated sequence) becomes U+FFFD, one per byte; quotes, backslashes
 * and every control byte (0x00-0x1f, 0x7f) are escaped. */
#ifndef EDUWATCH_JSONOUT_H
#define EDUWATCH_JSONOUT_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <msgpack.h>

#include "common/dynbuf.h"

/* The marker put where a long string was cut: U+2026, "…". */
#define JSON_CUT_MARKER "\xe2\x80\xa6"

/* The length of the valid UTF-8 sequence at s (n bytes available) that
 * starts a character at or above U+0080, or 0 when it is invalid. */
size_t json_utf8_len(const unsigned char *s, size_t n);
/* True when all n bytes of s are valid UTF-8 (no NUL check). */
bool json_utf8_valid(const char *s, size_t n);
/* Writes the n bytes of s into out (cap bytes, NUL-terminated) as valid
 * UTF-8 plain text, not JSON: each byte that starts no valid sequence
 * becomes U+FFFD (3 bytes), the rest is kept as it is, and when out is
 * too small the cut falls between characters. A database's text column
 * (PostgreSQL refuses invalid UTF-8 outright) takes what an agent named
 * this way. Returns true when it had to cut. cap must be at least 1. */
bool json_utf8_repair(const char *s, size_t n, char *out, size_t cap);
/* U+FFFD, what an invalid byte becomes. */
#define JSON_UTF8_REPLACEMENT "\xef\xbf\xbd"
/* The room json_utf8_repair needs never to cut n bytes. */
#define JSON_UTF8_REPAIR_CAP(n) (3 * (n) + 1)
/* The n bytes of s repaired as json_utf8_repair does, whole, in a string
 * of their own (alloc_free it); NULL without memory. */
char *json_utf8_repaired(const char *s, size_t n);

/* Writes s as a JSON string (see above for what is replaced). */
void json_print_string(FILE *f, const char *s);
void json_print_strn(FILE *f, const char *s, size_t n);

/* Writes a msgpack value as JSON: maps with string keys, arrays, strings,
 * integers, floats (NaN and infinities as null), booleans and nil; binary
 * as a hex string. */
void json_print_msgpack(FILE *f, const msgpack_object *o);

struct json_render_opts {
	/* Strings longer than this many bytes are cut in the middle: their
	 * head and tail are kept around JSON_CUT_MARKER, so the end of a
	 * path (the file name) survives. 0: no limit. */
	size_t max_string;
	/* A string value in a map that is not valid UTF-8 also goes out raw,
	 * base64-encoded (RFC 4648, padded), in a sibling KEY_b64 (e.g.
	 * path_b64), when it is at most max_string bytes long. */
	bool raw_b64;
	/* An ext value of type JSON_EXT_RAW holds JSON text this program
	 * wrote (an alert's stored evidence): it goes out as it is, made
	 * valid UTF-8 as json_print_sanitized does. Only for a tree this
	 * program built: never for a peer's msgpack, whose ext would then
	 * write JSON structure. Off: an ext value is null. */
	bool raw_json;
};

/* The msgpack ext type json_render_msgpack_buf takes for raw JSON. */
#define JSON_EXT_RAW 74

/* Renders o as JSON text into *out (allocated, NUL-terminated, *len bytes
 * without the NUL; the caller frees it with free()). 0, -ENOMEM, or
 * -EMSGSIZE past DYNBUF_MAX_DEFAULT (16 MiB: a 1 MiB frame's worst case
 * is 8). */
EW_MUST_CHECK
int json_render_msgpack(const msgpack_object *o,
			const struct json_render_opts *opts, char **out,
			size_t *len);

/* Renders o as JSON text, appended to out (borrowed). Returns out's
 * error: 0, -ENOMEM, or -EMSGSIZE past its cap. This is the one escaping
 * path every JSON writer here shares; the FILE functions stream it. */
EW_MUST_CHECK
int json_render_msgpack_buf(struct dynbuf *out, const msgpack_object *o,
			    const struct json_render_opts *opts);

/* Copies n bytes of JSON text that this program wrote, possibly an older
 * version of it (stored evidence), making it valid UTF-8: an invalid
 * sequence becomes the escape \ufffd (in a string, where our writers put
 * every non-ASCII byte), a raw control byte a space. The text is not
 * parsed: valid JSON in, valid JSON out. */
void json_print_sanitized(FILE *f, const char *json, size_t n);

/* Copies the n bytes of s into out (cap bytes, NUL-terminated). When they
 * do not fit, keeps a third of the room for the head and the rest for
 * the tail, on character boundaries, with JSON_CUT_MARKER between.
 * Returns true when s was cut. The bytes are not validated here: the
 * writers above replace what is invalid. cap must be at least 16. */
bool json_cut_middle(const char *s, size_t n, char *out, size_t cap);

#endif
