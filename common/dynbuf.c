#include "common/dynbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"

#define DYNBUF_FIRST 256

void dynbuf_init(struct dynbuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

static size_t limit(const struct dynbuf *b)
{
	return b->max ? b->max : DYNBUF_MAX_DEFAULT;
}

/* Makes room for n more bytes and the NUL. */
static int grow(struct dynbuf *b, size_t n)
{
	size_t max = limit(b), need;
	if (b->failed)
		return b->failed;
	if (n > max || b->len + 1 > max - n) {
		b->failed = -EMSGSIZE;
		return b->failed;
	}
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : DYNBUF_FIRST;
	while (cap < need)
		cap = cap > max / 2 ? max : cap * 2;
	char *data = alloc_resize(b->data, cap);
	if (data == NULL) {
		b->failed = -ENOMEM;
		return b->failed;
	}
	b->data = data;
	b->cap = cap;
	return 0;
}

int dynbuf_add(struct dynbuf *b, const void *p, size_t n)
{
	int rc = grow(b, n);
	if (rc != 0)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int dynbuf_add_str(struct dynbuf *b, const char *s)
{
	return dynbuf_add(b, s, strlen(s));
}

int dynbuf_addf(struct dynbuf *b, const char *fmt, ...)
{
	va_list ap;
	char small[64];
	int n;
	if (b->failed)
		return b->failed;
	/* Most callers format a number: no second pass for those. */
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = -EINVAL;
		return b->failed;
	}
	if ((size_t)n < sizeof(small))
		return dynbuf_add(b, small, (size_t)n);
	int rc = grow(b, (size_t)n);
	if (rc != 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void dynbuf_reset(struct dynbuf *b)
{
	b->len = 0;
	b->failed = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *dynbuf_take(struct dynbuf *b, size_t *len)
{
	char *data;
	if (b->failed || dynbuf_add(b, "", 0) != 0)
		return NULL;
	data = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return data;
}

void dynbuf_free(struct dynbuf *b)
{
	alloc_free(b->data);
	memset(b, 0, sizeof(*b));
}
