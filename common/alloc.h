/* alloc: the one allocation wrapper every module uses.
 *
 * Tests can make the Nth allocation from now fail (alloc_fail_after), so
 * every error path that handles ENOMEM can actually be exercised. All
 * functions return NULL on failure; alloc_free(NULL) is a no-op. */
#ifndef EDUWATCH_ALLOC_H
#define EDUWATCH_ALLOC_H

#include "common/check.h"

#include <stddef.h>

EW_MUST_CHECK
void *alloc_bytes(size_t n);
EW_MUST_CHECK
void *alloc_zeroed(size_t count, size_t size);
EW_MUST_CHECK
void *alloc_resize(void *p, size_t n);
EW_MUST_CHECK
char *alloc_strdup(const char *s);
EW_MUST_CHECK
char *alloc_strndup(const char *s, size_t n);
void alloc_free(void *p);

/* Wipes n bytes before freeing; for buffers that held secrets. */
void alloc_free_secret(void *p, size_t n);

/* Test hook: the allocation after `n` more successful ones fails, once.
 * A negative n turns injection off. Thread-safe. Returns the countdown it
 * replaced: -1 when the failure has happened (or injection was off), so
 * a sweep can tell a call that met its failure from one that ended
 * before it. */
long alloc_fail_after(long n);

#endif
