#include "tests/support/jsoncheck.h"

#include <string.h>

#define MAX_DEPTH 256

/* Table 3-7 of the Unicode standard, byte by byte. */
bool jsoncheck_utf8(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t more;
		if (c <= 0x7f) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			more = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2;
			if (c == 0xe0)
				lo = 0xa0;
			if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			if (c == 0xf0)
				lo = 0x90;
			if (c == 0xf4)
				hi = 0x8f;
		} else {
			return false;
		}
		if (i + more >= n)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= more; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += more + 1;
	}
	return true;
}

struct p {
	const unsigned char *s;
	size_t n, i;
	int depth;
};

static void ws(struct p *p)
{
	while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
			       p->s[p->i] == '\n' || p->s[p->i] == '\r'))
		p->i++;
}

static bool lit(struct p *p, const char *w)
{
	size_t k = strlen(w);
	if (p->n - p->i < k || memcmp(p->s + p->i, w, k) != 0)
		return false;
	p->i += k;
	return true;
}

static int hex4(struct p *p)
{
	int v = 0;
	if (p->n - p->i < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		unsigned char c = p->s[p->i++];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static bool string(struct p *p)
{
	if (p->i >= p->n || p->s[p->i] != '"')
		return false;
	p->i++;
	size_t start = p->i;
	while (p->i < p->n) {
		unsigned char c = p->s[p->i];
		if (c == '"') {
			if (!jsoncheck_utf8((const char *)p->s + start,
					    p->i - start))
				return false;
			p->i++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\') {
			p->i++;
			continue;
		}
		if (++p->i >= p->n)
			return false;
		c = p->s[p->i++];
		if (strchr("\"\\/bfnrt", c) != NULL && c != '\0')
			continue;
		if (c != 'u')
			return false;
		int u = hex4(p);
		if (u < 0 || (u >= 0xdc00 && u <= 0xdfff))
			return false; /* a lone low surrogate */
		if (u >= 0xd800 && u <= 0xdbff) {
			if (!lit(p, "\\u"))
				return false;
			int v = hex4(p);
			if (v < 0xdc00 || v > 0xdfff)
				return false;
		}
	}
	return false;
}

static bool number(struct p *p)
{
	if (p->i < p->n && p->s[p->i] == '-')
		p->i++;
	if (p->i >= p->n)
		return false;
	if (p->s[p->i] == '0') {
		p->i++;
	} else if (p->s[p->i] >= '1' && p->s[p->i] <= '9') {
		while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
			p->i++;
	} else {
		return false;
	}
	if (p->i < p->n && p->s[p->i] == '.') {
		size_t d = ++p->i;
		while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
			p->i++;
		if (p->i == d)
			return false;
	}
	if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		size_t d = p->i;
		while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
			p->i++;
		if (p->i == d)
			return false;
	}
	return true;
}

static bool value(struct p *p)
{
	ws(p);
	if (p->i >= p->n)
		return false;
	unsigned char c = p->s[p->i];
	if (c == '"')
		return string(p);
	if (c == '{' || c == '[') {
		unsigned char close = c == '{' ? '}' : ']';
		if (++p->depth > MAX_DEPTH)
			return false;
		p->i++;
		ws(p);
		if (p->i < p->n && p->s[p->i] == close) {
			p->i++;
			p->depth--;
			return true;
		}
		for (;;) {
			if (c == '{') {
				ws(p);
				if (!string(p))
					return false;
				ws(p);
				if (p->i >= p->n || p->s[p->i++] != ':')
					return false;
			}
			if (!value(p))
				return false;
			ws(p);
			if (p->i >= p->n)
				return false;
			if (p->s[p->i] == ',') {
				p->i++;
				continue;
			}
			if (p->s[p->i++] != close)
				return false;
			p->depth--;
			return true;
		}
	}
	if (c == 't')
		return lit(p, "true");
	if (c == 'f')
		return lit(p, "false");
	if (c == 'n')
		return lit(p, "null");
	return number(p);
}

bool jsoncheck_valid(const char *s, size_t n, size_t *where)
{
	struct p p = {(const unsigned char *)s, n, 0, 0};
	bool ok = value(&p);
	ws(&p);
	ok = ok && p.i == n;
	if (!ok && where)
		*where = p.i;
	return ok;
}
