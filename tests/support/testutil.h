/* testutil: helpers shared by the unit tests and fuzz harnesses (temp
 * dirs, certificates, fuzz input cutting). */
#ifndef EDUWATCH_TESTUTIL_H
#define EDUWATCH_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Makes a fresh directory under $TMPDIR; returns its path (static). */
const char *testutil_tempdir(const char *tag);
/* Removes a directory tree made by testutil_tempdir. */
void testutil_rmtree(const char *path);
/* Writes text to dir/name (replacing it); a failure fails the test. */
void testutil_write_file(const char *dir, const char *name, const char *text);

/* Entries of a directory, "." and ".." not counted; -1 if it cannot be
 * opened. Harnesses use it to check nothing appeared where it must not. */
long testutil_count_entries(const char *dir);

/* Takes the next NUL-terminated piece of a fuzz input at *p (before end)
 * into dst, cut to cap - 1 bytes, and moves *p past it. */
void testutil_take_piece(const uint8_t **p, const uint8_t *end, char *dst,
			 size_t cap);

/* A CA and a certificate signed by it, all in memory. */
struct test_pki {
	EVP_PKEY *ca_key;
	X509 *ca;
};

void test_pki_init(struct test_pki *pki, const char *ca_name);
void test_pki_free(struct test_pki *pki);
/* Issues a server cert for 127.0.0.1/localhost, or a client cert for
 * (agent, school); validity offsets in seconds from now. */
void test_pki_issue(struct test_pki *pki, int server, const char *cn,
		    const char *ou, long not_before, long not_after,
		    EVP_PKEY **key_out, X509 **cert_out);

#endif
