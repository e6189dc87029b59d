/* dynbuf: one growable byte buffer with a size cap, modelled on curl's
 * lib/curlx/dynbuf.h, for every text the collector renders (CEF, syslog
 * frames, SOC JSON, HTTP bodies) instead of hand-grown arrays.
 *
 * The content is always NUL-terminated (data is NULL until the first
 * byte). The cap bounds len + 1: a renderer gone wrong, or input larger
 * than anything legitimate, fails instead of eating the collector's
 * memory. Unlike curl's, an error is sticky and keeps what was written:
 * a renderer appends without checking each call, and its caller checks
 * `failed` once at the end (every later append is a no-op).
 *
 * A buffer zeroed with `= {0}` is ready, capped at DYNBUF_MAX_DEFAULT.
 * The caller owns the struct; dynbuf_free releases the memory (no-op on a
 * zeroed or freed buffer). Not thread-safe: one owner at a time. */
#ifndef EDUWATCH_DYNBUF_H
#define EDUWATCH_DYNBUF_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>

#define DYNBUF_MAX_DEFAULT ((size_t)16 << 20)

struct dynbuf {
	char *data;    /* NUL-terminated; NULL until something is added */
	size_t len;    /* bytes, without the NUL */
	size_t cap;    /* bytes allocated */
	size_t max;    /* len + 1 never exceeds it; 0: DYNBUF_MAX_DEFAULT */
	int failed;    /* 0, or the first error (sticky): -ENOMEM, -EMSGSIZE */
};

/* An empty buffer that may hold at most max - 1 bytes (0: the default). */
void dynbuf_init(struct dynbuf *b, size_t max);

/* Appends n bytes. 0, or the buffer's error: -ENOMEM when memory ran
 * out, -EMSGSIZE when the cap would be passed; then nothing is added and
 * every later append fails the same way until dynbuf_reset. */
int dynbuf_add(struct dynbuf *b, const void *p, size_t n);
int dynbuf_add_str(struct dynbuf *b, const char *s);
int dynbuf_addf(struct dynbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Empties the buffer and clears its error; keeps its memory and cap. */
void dynbuf_reset(struct dynbuf *b);

/* Hands the content over (never NULL on success: "" when empty), to be
 * freed with alloc_free() or free(); the buffer is left empty. NULL when
 * the buffer failed or memory ran out. */
EW_MUST_CHECK
char *dynbuf_take(struct dynbuf *b, size_t *len);

/* Releases the memory; the buffer is zeroed (ready again, default cap). */
void dynbuf_free(struct dynbuf *b);

#endif
