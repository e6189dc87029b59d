/* textsafe: escape peer bytes for terminals and log lines (textsafe.h). */
#include "common/textsafe.h"

#include <errno.h>
#include <string.h>

static const char hexdig[] = "0123456789abcdef";

static size_t put_hex_byte(char *out, unsigned char b)
{
	out[0] = '\\';
	out[1] = 'x';
	out[2] = hexdig[b >> 4];
	out[3] = hexdig[b & 0xf];
	return 4;
}

static size_t put_codepoint_escape(char *out, unsigned cp)
{
	/* Only C1 controls and a few U+2xxx marks come here: at most 4 hex
	 * digits, so "\u{" + 4 + "}" fits TEXTSAFE_UNIT_MAX. */
	size_t n = 0, digits = cp > 0xfff ? 4 : cp > 0xff ? 3 : 2;
	out[n++] = '\\';
	out[n++] = 'u';
	out[n++] = '{';
	for (size_t i = digits; i > 0; i--)
		out[n++] = hexdig[(cp >> (4 * (i - 1))) & 0xf];
	out[n++] = '}';
	return n;
}

/* Code points that are valid UTF-8 yet move the cursor, end a line in
 * some viewers, or reorder what follows (the "Trojan Source" marks). */
static int codepoint_needs_escape(unsigned cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
	       cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

/* Length of the valid UTF-8 sequence at s (2-4), or 0 when the lead byte
 * and what follows are not one (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t len, unsigned *cp)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need;
	unsigned v;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (len < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		unsigned char t = s[i];
		if (i == 1 ? (t < lo || t > hi) : (t < 0x80 || t > 0xbf))
			return 0;
		v = (v << 6) | (t & 0x3f);
	}
	*cp = v;
	return need;
}

/* Escapes the one unit at s into out; returns the input bytes it took
 * (at least 1) and the output length through *outlen. */
static size_t escape_unit(const unsigned char *s, size_t len, char *out,
			  size_t *outlen)
{
	unsigned char c = s[0];
	if (c < 0x80) {
		if (c < 0x20 || c == 0x7f) {
			*outlen = put_hex_byte(out, c);
		} else if (c == '\\') {
			out[0] = '\\';
			out[1] = '\\';
			*outlen = 2;
		} else {
			out[0] = (char)c;
			*outlen = 1;
		}
		return 1;
	}
	unsigned cp = 0;
	size_t n = utf8_seq(s, len, &cp);
	if (n == 0) {
		/* One byte at a time: a valid sequence right after a stray
		 * byte still comes out readable. */
		*outlen = put_hex_byte(out, c);
		return 1;
	}
	if (codepoint_needs_escape(cp)) {
		*outlen = put_codepoint_escape(out, cp);
	} else {
		memcpy(out, s, n);
		*outlen = n;
	}
	return n;
}

size_t textsafe_escape(char *dst, size_t cap, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t w = 0, i = 0;
	if (cap == 0)
		return 0;
	while (src != NULL && i < len) {
		char unit[TEXTSAFE_UNIT_MAX];
		size_t ulen;
		size_t took = escape_unit(s + i, len - i, unit, &ulen);
		if (ulen >= cap - w) /* keep one byte for the NUL */
			break;
		memcpy(dst + w, unit, ulen);
		w += ulen;
		i += took;
	}
	dst[w] = '\0';
	return w;
}

size_t textsafe_escaped_len(const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t total = 0, i = 0;
	while (src != NULL && i < len) {
		char unit[TEXTSAFE_UNIT_MAX];
		size_t ulen;
		i += escape_unit(s + i, len - i, unit, &ulen);
		total += ulen;
	}
	return total;
}

const char *textsafe_str(char *dst, size_t cap, const char *s)
{
	if (cap == 0)
		return "";
	textsafe_escape(dst, cap, s, s != NULL ? strlen(s) : 0);
	return dst;
}

int textsafe_fwrite(FILE *f, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0;
	while (src != NULL && i < len) {
		char unit[TEXTSAFE_UNIT_MAX];
		size_t ulen;
		i += escape_unit(s + i, len - i, unit, &ulen);
		if (fwrite(unit, 1, ulen, f) != ulen)
			return -EIO;
	}
	return 0;
}

int textsafe_fwrite_json(FILE *f, const char *json, size_t len)
{
	const unsigned char *s = (const unsigned char *)json;
	size_t i = 0;
	while (json != NULL && i < len) {
		char unit[TEXTSAFE_UNIT_MAX];
		size_t ulen, took;
		unsigned cp = 0;
		size_t n = s[i] >= 0x80 ? utf8_seq(s + i, len - i, &cp) : 0;
		/* The JSON forms of textsafe's escapes, so that the result
		 * still parses: \uXXXX for what must not reach a terminal
		 * raw (all in the BMP), U+FFFD for a byte that is not UTF-8. */
		if (s[i] == '\\') {
			unit[0] = '\\';
			ulen = took = 1;
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			ulen = (size_t)snprintf(unit, sizeof(unit), "\\u%04x",
						 s[i]);
			took = 1;
		} else if (s[i] >= 0x80 && n == 0) {
			ulen = (size_t)snprintf(unit, sizeof(unit), "\\ufffd");
			took = 1;
		} else if (n > 0 && codepoint_needs_escape(cp)) {
			ulen = (size_t)snprintf(unit, sizeof(unit), "\\u%04x",
						 cp);
			took = n;
		} else {
			took = escape_unit(s + i, len - i, unit, &ulen);
		}
		if (fwrite(unit, 1, ulen, f) != ulen)
			return -EIO;
		i += took;
	}
	return 0;
}

int textsafe_fputs(FILE *f, const char *s)
{
	return s != NULL ? textsafe_fwrite(f, s, strlen(s)) : 0;
}

bool textsafe_is_clean(const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0;
	while (i < len) {
		char unit[TEXTSAFE_UNIT_MAX];
		size_t ulen;
		size_t took = escape_unit(s + i, len - i, unit, &ulen);
		if (ulen != took || memcmp(unit, s + i, took) != 0)
			return false;
		i += took;
	}
	return true;
}
