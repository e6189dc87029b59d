/* enrollstr: everything a PC needs to enroll, as one string a school
 * technician can type or paste.
 *
 *   EW1-XXXXX-XXXXX-...   (Crockford base32 of a binary record)
 *
 * The record is: version (1), collector port (u16), enrollment port
 * (u16), host length and host, token length and token, the CA's SHA-256
 * (32 bytes), then the first 4 bytes of the SHA-256 of all of that. So a
 * mistyped character is caught before anything is sent, and the agent
 * pins the CA by its fingerprint exactly as with --ca-sha256. Letters are
 * read in either case, O as 0, I and L as 1, and dashes and blanks are
 * ignored, since a person types it off paper. */
#ifndef EDUWATCH_ENROLLSTR_H
#define EDUWATCH_ENROLLSTR_H

#include "common/check.h"

#include <stddef.h>

#define ENROLLSTR_VERSION 1
#define ENROLLSTR_HOST_MAX 253
#define ENROLLSTR_TOKEN_MAX 63
/* The longest text enrollstr_encode writes, with its NUL. */
#define ENROLLSTR_TEXT_MAX 768
/* The longest input enrollstr_decode reads (a file may wrap it). */
#define ENROLLSTR_INPUT_MAX 4096

struct enrollstr {
	char host[ENROLLSTR_HOST_MAX + 1]; /* name or IP, no brackets */
	int port;			   /* the collector's ingest port */
	int enroll_port;
	char token[ENROLLSTR_TOKEN_MAX + 1];
	char ca_sha256[65]; /* lower-case hex */
};

/* Writes the string for es into out (cap >= ENROLLSTR_TEXT_MAX is
 * always enough). Returns 0, or -EINVAL when a field is out of its
 * range (host or token charset or length, port, fingerprint), -ENOSPC. */
EW_MUST_CHECK
int enrollstr_encode(const struct enrollstr *es, char *out, size_t cap);

/* Reads text (len bytes, untrusted: any bytes) into out. Returns 0, or
 * -EINVAL with a message for a person in err: not an enrollment string,
 * a version this agent does not know, cut short, a typing mistake
 * (checksum), or a field out of range. */
EW_MUST_CHECK
int enrollstr_decode(const char *text, size_t len, struct enrollstr *out,
		     char *err, size_t errlen);

#endif
