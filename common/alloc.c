#include "common/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* -1: injection off. Otherwise the number of allocations still allowed. */
static atomic_long fail_countdown = -1;

static int should_fail(void)
{
	long cur = atomic_load(&fail_countdown);
	while (cur >= 0) {
		if (atomic_compare_exchange_weak(&fail_countdown, &cur, cur - 1))
			return cur == 0;
	}
	return 0;
}

long alloc_fail_after(long n)
{
	return atomic_exchange(&fail_countdown, n < 0 ? -1 : n);
}

void *alloc_bytes(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *alloc_zeroed(size_t count, size_t size)
{
	if (should_fail())
		return NULL;
	return calloc(count ? count : 1, size ? size : 1);
}

void *alloc_resize(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

char *alloc_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *copy = alloc_bytes(len + 1);
	if (copy == NULL)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}

char *alloc_strdup(const char *s)
{
	return alloc_strndup(s, strlen(s));
}

void alloc_free(void *p)
{
	free(p);
}

void alloc_free_secret(void *p, size_t n)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, n);
	free(p);
}
