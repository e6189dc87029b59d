/* route: matching paths against the route table and decoding parameters,
 * on bytes that come straight from the network. */
#include "collector/web/route.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/jsonout.h"

bool route_method_is(const struct web_request *req, const char *m)
{
	size_t n = strlen(m);
	return req->method_len == n && memcmp(req->method, m, n) == 0;
}

static bool param_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* Matches one pattern against the path, segment by segment. */
static bool path_matches(const char *pattern, const char *path, size_t len,
			 char params[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX + 1],
			 size_t *nparams)
{
	size_t i = 0, np = 0;
	const char *p = pattern;
	while (*p) {
		if (p[0] == '{' && p[1] == '}') {
			size_t start = i;
			while (i < len && path[i] != '/') {
				if (!param_char(path[i]))
					return false;
				i++;
			}
			size_t n = i - start;
			/* "." and ".." are no names, whatever the route. */
			if (n == 0 || n > ROUTE_PARAM_MAX || np == ROUTE_MAX_PARAMS ||
			    (n <= 2 && path[start] == '.' &&
			     (n == 1 || path[start + 1] == '.')))
				return false;
			memcpy(params[np], path + start, n);
			params[np][n] = '\0';
			np++;
			p += 2;
			continue;
		}
		if (i >= len || path[i] != *p)
			return false;
		i++;
		p++;
	}
	if (i != len)
		return false;
	*nparams = np;
	return true;
}

enum route_result route_match(const struct route *table, size_t n,
			      const struct web_request *req,
			      const struct route **found,
			      char params[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX + 1],
			      size_t *nparams)
{
	bool other_method = false;
	*found = NULL;
	*nparams = 0;
	for (size_t i = 0; i < n; i++) {
		size_t np = 0;
		if (!path_matches(table[i].pattern, req->path, req->path_len,
				  params, &np))
			continue;
		if (!route_method_is(req, table[i].method)) {
			other_method = true;
			continue;
		}
		*found = &table[i];
		*nparams = np;
		return ROUTE_FOUND;
	}
	return other_method ? ROUTE_BAD_METHOD : ROUTE_NOT_FOUND;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes one urlencoded value (src, n) into out. */
static int decode_value(const char *src, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)src[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return -EINVAL;
			hi = hexval(src[i + 1]);
			lo = hexval(src[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = hi * 16 + lo;
			i += 2;
		}
		/* Tabs and newlines are allowed (a comment); other controls
		 * are not. */
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
		    c == 0x7f)
			return -EINVAL;
		if (o + 1 >= cap)
			return -EINVAL;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	if (!json_utf8_valid(out, o))
		return -EINVAL;
	return 0;
}

/* The next value of name in src from *pos on: true with v and its
 * length, *pos moved past it; false at the end. */
static bool next_value(const char *src, size_t n, size_t *pos,
		       const char *name, const char **v, size_t *vlen)
{
	size_t nl = strlen(name);
	while (*pos < n) {
		size_t i = *pos, end = i;
		while (end < n && src[end] != '&')
			end++;
		*pos = end + 1;
		const char *eq = memchr(src + i, '=', end - i);
		size_t klen = eq ? (size_t)(eq - (src + i)) : end - i;
		if (klen == nl && memcmp(src + i, name, nl) == 0) {
			*v = eq ? eq + 1 : src + end;
			*vlen = (size_t)(src + end - *v);
			return true;
		}
	}
	return false;
}

int route_param_each(const char *src, size_t n, const char *name,
		     int (*fn)(void *arg, const char *value), void *arg)
{
	size_t pos = 0, vlen;
	const char *v;
	char value[4096];
	while (next_value(src, n, &pos, name, &v, &vlen)) {
		int rc = decode_value(v, vlen, value, sizeof(value));
		if (rc != 0)
			return rc;
		if ((rc = fn(arg, value)) != 0)
			return rc > 0 ? 0 : rc;
	}
	return 0;
}

/* The first value decodes straight into out, so a value may be as long
 * as the body (an IOC list from the admin page), not just a field. */
int route_param(const char *src, size_t n, const char *name, char *out,
		size_t cap)
{
	size_t pos = 0, vlen;
	const char *v;
	if (cap == 0)
		return -EINVAL;
	out[0] = '\0';
	if (!next_value(src, n, &pos, name, &v, &vlen))
		return -ENOENT;
	int rc = decode_value(v, vlen, out, cap);
	if (rc != 0)
		out[0] = '\0';
	return rc;
}

const char *route_header(const struct web_request *req, const char *name,
			 size_t *len)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct web_header *h = &req->headers[i];
		if (h->name_len == n && memcmp(h->name, name, n) == 0) {
			if (len)
				*len = h->value_len;
			return h->value;
		}
	}
	return NULL;
}

static bool cookie_char(char c)
{
	/* RFC 6265's cookie-octet. */
	return c == 0x21 || (c >= 0x23 && c <= 0x2b) ||
	       (c >= 0x2d && c <= 0x3a) || (c >= 0x3c && c <= 0x5b) ||
	       (c >= 0x5d && c <= 0x7e);
}

int route_cookie(const struct web_request *req, const char *name, char *out,
		 size_t cap)
{
	size_t len, nl = strlen(name);
	const char *h = route_header(req, "cookie", &len);
	size_t i = 0;
	if (h == NULL)
		return -ENOENT;
	while (i < len) {
		while (i < len && (h[i] == ' ' || h[i] == ';'))
			i++;
		size_t start = i;
		while (i < len && h[i] != ';')
			i++;
		const char *eq = memchr(h + start, '=', i - start);
		if (eq == NULL || (size_t)(eq - (h + start)) != nl ||
		    memcmp(h + start, name, nl) != 0)
			continue;
		size_t vlen = (size_t)(h + i - (eq + 1));
		if (vlen + 1 > cap)
			return -EINVAL;
		for (size_t k = 0; k < vlen; k++)
			if (!cookie_char(eq[1 + k]))
				return -EINVAL;
		memcpy(out, eq + 1, vlen);
		out[vlen] = '\0';
		return 0;
	}
	return -ENOENT;
}
