/* enrollstr: the one-string enrollment record (see enrollstr.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "common/enrollstr.h"
#include "common/errtext.h"

/* Crockford's base32: no I, L, O or U, so nothing reads as another. */
static const char b32_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#define RECORD_MAX (1 + 2 + 2 + 1 + ENROLLSTR_HOST_MAX + 1 + \
		    ENROLLSTR_TOKEN_MAX + 32 + 4)
#define RECORD_MIN (1 + 2 + 2 + 1 + 1 + 1 + 1 + 32 + 4)
#define GROUP 5

/* A host as the agent will dial it and check it against the SAN: a DNS
 * name or an IP literal, nothing a shell or a config file would read
 * twice. */
static bool host_ok(const char *h, size_t n)
{
	if (n == 0 || n > ENROLLSTR_HOST_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':'))
			return false;
	}
	return true;
}

/* Tokens are "ewt_" and base64url characters (collector/enroll.c). */
static bool token_ok(const char *t, size_t n)
{
	if (n < 5 || n > ENROLLSTR_TOKEN_MAX || memcmp(t, "ewt_", 4) != 0)
		return false;
	for (size_t i = 4; i < n; i++) {
		char c = t[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void checksum(const unsigned char *rec, size_t n, unsigned char out[4])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256(rec, n, md);
	memcpy(out, md, 4);
}

int enrollstr_encode(const struct enrollstr *es, char *out, size_t cap)
{
	unsigned char rec[RECORD_MAX];
	size_t n = 0, hl = strnlen(es->host, sizeof(es->host)),
	       tl = strnlen(es->token, sizeof(es->token));
	if (!host_ok(es->host, hl) || !token_ok(es->token, tl) ||
	    es->port < 1 || es->port > 65535 || es->enroll_port < 1 ||
	    es->enroll_port > 65535 || strnlen(es->ca_sha256, 65) != 64)
		return -EINVAL;
	rec[n++] = ENROLLSTR_VERSION;
	rec[n++] = (unsigned char)(es->port >> 8);
	rec[n++] = (unsigned char)es->port;
	rec[n++] = (unsigned char)(es->enroll_port >> 8);
	rec[n++] = (unsigned char)es->enroll_port;
	rec[n++] = (unsigned char)hl;
	memcpy(rec + n, es->host, hl);
	n += hl;
	rec[n++] = (unsigned char)tl;
	memcpy(rec + n, es->token, tl);
	n += tl;
	for (int i = 0; i < 32; i++) {
		int hi = hexval(es->ca_sha256[2 * i]),
		    lo = hexval(es->ca_sha256[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		rec[n++] = (unsigned char)(hi << 4 | lo);
	}
	checksum(rec, n, rec + n);
	n += 4;

	size_t o = 0, chars = 0;
	int w = snprintf(out, cap, "EW%d", ENROLLSTR_VERSION);
	if (w < 0 || (size_t)w >= cap)
		return -ENOSPC;
	o = (size_t)w;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n) {
			acc = acc << 8 | rec[i];
			bits += 8;
		} else if (bits > 0) {
			acc <<= 5 - bits; /* pad the last group with zero bits */
			bits = 5;
		}
		while (bits >= 5) {
			if (o + 3 > cap)
				return -ENOSPC;
			if (chars % GROUP == 0)
				out[o++] = '-';
			out[o++] = b32_alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
			chars++;
		}
	}
	out[o] = '\0';
	return 0;
}

static int b32_value(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		c = (unsigned char)(c - 'a' + 'A');
	if (c == 'O')
		return 0;
	if (c == 'I' || c == 'L')
		return 1;
	const char *p = c ? strchr(b32_alphabet, c) : NULL;
	return p ? (int)(p - b32_alphabet) : -1;
}

static bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int enrollstr_decode(const char *text, size_t len, struct enrollstr *out,
		     char *err, size_t errlen)
{
	unsigned char rec[RECORD_MAX + 1];
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, n = 0;
	uint32_t acc = 0;
	int bits = 0;

	memset(out, 0, sizeof(*out));
	if (len > ENROLLSTR_INPUT_MAX)
		return errtext_set(-EINVAL, err, errlen, "the enrollment string is longer than "
			    "%d bytes: this is not one", ENROLLSTR_INPUT_MAX);
	while (i < len && is_blank(s[i]))
		i++;
	while (len > i && is_blank(s[len - 1]))
		len--;
	if (len - i < 3 || (s[i] != 'E' && s[i] != 'e') ||
	    (s[i + 1] != 'W' && s[i + 1] != 'w'))
		return errtext_set(-EINVAL, err, errlen, "not an enrollment string: it starts "
			    "with EW1-");
	i += 2;
	/* The version is a digit, read with the same look-alikes. */
	int version = b32_value(s[i]);
	if (version < 0 || version > 9 || (i + 1 < len && s[i + 1] != '-'))
		return errtext_set(-EINVAL, err, errlen, "not an enrollment string: it starts "
			    "with EW1-");
	if (version != ENROLLSTR_VERSION)
		return errtext_set(-EINVAL, err, errlen, "enrollment string version %d: this "
			    "agent reads version %d; use an agent as new as the "
			    "collector", version, ENROLLSTR_VERSION);
	for (i++; i < len; i++) {
		if (s[i] == '-' || is_blank(s[i]))
			continue;
		int v = b32_value(s[i]);
		if (v < 0) {
			if (s[i] >= 0x21 && s[i] < 0x7f)
				return errtext_set(-EINVAL, err, errlen, "character '%c' at "
					    "position %zu is not part of an "
					    "enrollment string", s[i], i + 1);
			return errtext_set(-EINVAL, err, errlen, "byte 0x%02x at position %zu "
				    "is not part of an enrollment string",
				    s[i], i + 1);
		}
		acc = (acc << 5 | (uint32_t)v) & 0xffff;
		bits += 5;
		if (bits >= 8) {
			if (n >= sizeof(rec))
				return errtext_set(-EINVAL, err, errlen, "the enrollment string "
					    "is too long: characters were added "
					    "or two were pasted together");
			rec[n++] = (unsigned char)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	/* The encoder pads with zero bits; anything else is a mistyped last
	 * character that the checksum, which covers whole bytes, would miss. */
	if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0)
		return errtext_set(-EINVAL, err, errlen, "the enrollment string does not end "
			    "where it should: a character is missing, extra or "
			    "mistyped at its end");
	if (n < RECORD_MIN)
		return errtext_set(-EINVAL, err, errlen, "the enrollment string is cut short "
			    "(%zu of at least %d bytes)", n, RECORD_MIN);
	unsigned char sum[4];
	checksum(rec, n - 4, sum);
	if (memcmp(sum, rec + n - 4, 4) != 0)
		return errtext_set(-EINVAL, err, errlen, "the enrollment string's checksum does "
			    "not match: a character is mistyped, missing or "
			    "extra; copy it again from the sheet");
	if (rec[0] != ENROLLSTR_VERSION)
		return errtext_set(-EINVAL, err, errlen, "enrollment record version %u: this "
			    "agent reads version %d", rec[0], ENROLLSTR_VERSION);

	size_t p = 1, end = n - 4;
	out->port = rec[p] << 8 | rec[p + 1];
	out->enroll_port = rec[p + 2] << 8 | rec[p + 3];
	p += 4;
	if (out->port == 0 || out->enroll_port == 0)
		return errtext_set(-EINVAL, err, errlen, "the enrollment string names port 0");
	size_t hl = rec[p++];
	if (hl > end - p || !host_ok((const char *)rec + p, hl))
		return errtext_set(-EINVAL, err, errlen, "the enrollment string's collector "
			    "name is not a host name or address");
	memcpy(out->host, rec + p, hl);
	out->host[hl] = '\0';
	p += hl;
	if (p >= end)
		return errtext_set(-EINVAL, err, errlen, "the enrollment string is cut short");
	size_t tl = rec[p++];
	if (tl > end - p || !token_ok((const char *)rec + p, tl))
		return errtext_set(-EINVAL, err, errlen, "the enrollment string's token is not "
			    "an eduwatch token");
	memcpy(out->token, rec + p, tl);
	out->token[tl] = '\0';
	p += tl;
	if (end - p != 32)
		return errtext_set(-EINVAL, err, errlen, "the enrollment string's CA fingerprint "
			    "is not 32 bytes");
	for (int k = 0; k < 32; k++)
		snprintf(out->ca_sha256 + 2 * k, 3, "%02x", rec[p + k]);
	return 0;
}
