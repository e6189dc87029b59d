#include "tests/support/oomroute.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>
#include <uv.h>

#include "common/alloc.h"

/* SQLite asks for an allocation's size (xSize), which malloc cannot say
 * portably: each block carries it in a header of 16 bytes, which keeps
 * SQLite's 8-byte alignment and glibc's 16-byte one. */
#define HDR 16

static void *sq_malloc(int n)
{
	if (n <= 0)
		return NULL;
	char *p = alloc_bytes((size_t)n + HDR);
	if (p == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + HDR;
}

static void sq_free(void *p)
{
	if (p != NULL)
		alloc_free((char *)p - HDR);
}

static int sq_size(void *p)
{
	int n = 0;
	if (p != NULL)
		memcpy(&n, (char *)p - HDR, sizeof(n));
	return n;
}

static void *sq_realloc(void *p, int n)
{
	if (p == NULL)
		return sq_malloc(n);
	if (n <= 0)
		return NULL;
	char *q = alloc_resize((char *)p - HDR, (size_t)n + HDR);
	if (q == NULL)
		return NULL;
	memcpy(q, &n, sizeof(n));
	return q + HDR;
}

static int sq_roundup(int n)
{
	return (n + 7) & ~7;
}

static int sq_init(void *arg)
{
	(void)arg;
	return SQLITE_OK;
}

static void sq_shutdown(void *arg)
{
	(void)arg;
}

/* libuv's hooks have the C library's signatures. */
static void *uv_hook_malloc(size_t n)
{
	return alloc_bytes(n);
}

static void *uv_hook_realloc(void *p, size_t n)
{
	return alloc_resize(p, n);
}

static void *uv_hook_calloc(size_t count, size_t size)
{
	return alloc_zeroed(count, size);
}

static void uv_hook_free(void *p)
{
	alloc_free(p);
}

int oomroute_install(void)
{
	static const sqlite3_mem_methods methods = {
		sq_malloc, sq_free,	sq_realloc, sq_size,
		sq_roundup, sq_init, sq_shutdown, NULL};
	if (sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) != SQLITE_OK)
		return -EBUSY;
	if (uv_replace_allocator(uv_hook_malloc, uv_hook_realloc,
				 uv_hook_calloc, uv_hook_free) != 0)
		return -EBUSY;
	return 0;
}
