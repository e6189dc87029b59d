/* testutil: helpers shared by the unit tests (temp dirs, certificates). */
#ifndef EDUWATCH_TESTUTIL_H
#define EDUWATCH_TESTUTIL_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Makes a fresh directory under $TMPDIR; returns its path (static). */
const char *testutil_tempdir(const char *tag);
/* Removes a directory tree made by testutil_tempdir. */
void testutil_rmtree(const char *path);

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
