/* pki: keys, certificates and signing requests, on OpenSSL 3.
 *
 * The collector's CA issues two kinds of certificates: the collector's own
 * server certificate (EKU serverAuth, SANs for its names) and one client
 * certificate per agent (EKU clientAuth) whose subject carries the agent id
 * as CN and the school code as OU. Because of the EKUs, a stolen agent
 * certificate cannot pose as the collector. Keys are P-256. */
#ifndef EDUWATCH_PKI_H
#define EDUWATCH_PKI_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define PKI_ID_MAX 64

enum pki_cert_kind { PKI_CERT_CA, PKI_CERT_SERVER, PKI_CERT_CLIENT };

struct pki_issue_params {
	enum pki_cert_kind kind;
	const char *common_name;   /* agent id, or the collector's name */
	const char *org_unit;	   /* school code for agents; may be NULL */
	const char *const *alt_names; /* server SANs: DNS names or IPs */
	size_t alt_name_count;
	long not_before_offset;	   /* seconds from now; may be negative */
	long not_after_offset;	   /* seconds from now */
};

EW_MUST_CHECK
int pki_key_new(EVP_PKEY **out);

/* A self-signed CA certificate valid for `days`. */
EW_MUST_CHECK
int pki_ca_new(EVP_PKEY *key, const char *name, int days, X509 **out);

/* Signs a certificate for subject_key with the CA. Borrows everything. */
EW_MUST_CHECK
int pki_issue(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *subject_key,
	      const struct pki_issue_params *params, X509 **out);

/* A CSR carrying only the key; the CA decides the subject. */
EW_MUST_CHECK
int pki_csr_new(EVP_PKEY *key, X509_REQ **out);
/* Parses a PEM CSR and checks its self-signature; returns its public key. */
EW_MUST_CHECK
int pki_csr_parse(const char *pem, size_t len, EVP_PKEY **pubkey_out);

/* PEM in and out. Key files are written 0600 through a temp file and
 * rename, so a crash never leaves a half key. */
EW_MUST_CHECK
int pki_write_key(const char *path, EVP_PKEY *key);
EW_MUST_CHECK
int pki_write_cert(const char *path, X509 *cert);
EW_MUST_CHECK
int pki_read_key(const char *path, EVP_PKEY **out);
EW_MUST_CHECK
int pki_read_cert(const char *path, X509 **out);
/* A public key alone (PEM "PUBLIC KEY"), e.g. the release key an agent
 * pins; written 0644, as a public key may be read by anyone. */
EW_MUST_CHECK
int pki_read_pubkey(const char *path, EVP_PKEY **out);
EW_MUST_CHECK
int pki_write_pubkey(const char *path, EVP_PKEY *key);
/* Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo. */
EW_MUST_CHECK
int pki_pubkey_fingerprint(EVP_PKEY *key, char out[65]);
EW_MUST_CHECK
int pki_cert_to_pem(X509 *cert, char **pem_out, size_t *len_out);
EW_MUST_CHECK
int pki_cert_from_pem(const char *pem, size_t len, X509 **out);
EW_MUST_CHECK
int pki_csr_to_pem(X509_REQ *req, char **pem_out, size_t *len_out);

/* Lower-case hex SHA-256 of the DER certificate (65 bytes with NUL). */
EW_MUST_CHECK
int pki_cert_fingerprint(X509 *cert, char out[65]);

/* Reads CN and OU of the subject (either may be NULL to skip). */
EW_MUST_CHECK
int pki_cert_identity(X509 *cert, char *cn, size_t cn_cap, char *ou,
		      size_t ou_cap);

/* ECDSA P-256 over SHA-256 (DER). sig must hold PKI_SIG_MAX bytes.
 * Returns 0 or -EINVAL. */
#define PKI_SIG_MAX 160
EW_MUST_CHECK
int pki_sign(EVP_PKEY *key, const void *data, size_t len, unsigned char *sig,
	     size_t *siglen);
/* Returns true only for a valid signature by pubkey over data. */
bool pki_verify(EVP_PKEY *pubkey, const void *data, size_t len,
		const unsigned char *sig, size_t siglen);

#endif
