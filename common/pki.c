#include "common/pki.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "common/alloc.h"
#include "common/fsutil.h"

int pki_key_new(EVP_PKEY **out)
{
	*out = EVP_EC_gen("P-256");
	return *out ? 0 : -ENOMEM;
}

static int set_serial(X509 *cert)
{
	unsigned char raw[16];
	BIGNUM *bn = NULL;
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	raw[0] &= 0x7f; /* serials are positive */
	bn = BN_bin2bn(raw, sizeof(raw), NULL);
	if (bn == NULL)
		return -ENOMEM;
	int ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
	BN_free(bn);
	return ok ? 0 : -ENOMEM;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -EINVAL;
	int ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -ENOMEM;
}

/* A leaf certificate: no CA, signing only, one extended key usage. */
static int add_leaf_exts(X509 *cert, X509 *issuer, const char *eku)
{
	int rc = add_ext(cert, issuer, NID_basic_constraints,
			 "critical,CA:FALSE");
	if (rc == 0)
		rc = add_ext(cert, issuer, NID_key_usage,
			     "critical,digitalSignature");
	if (rc == 0)
		rc = add_ext(cert, issuer, NID_ext_key_usage, eku);
	return rc;
}

static int set_name(X509_NAME *name, const char *cn, const char *ou)
{
	if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
				       (const unsigned char *)"eduwatch", -1,
				       -1, 0) != 1)
		return -EINVAL;
	if (ou != NULL &&
	    X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8,
				       (const unsigned char *)ou, -1, -1,
				       0) != 1)
		return -EINVAL;
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
				       (const unsigned char *)cn, -1, -1,
				       0) != 1)
		return -EINVAL;
	return 0;
}

static int is_ip_literal(const char *s)
{
	ASN1_OCTET_STRING *ip = a2i_IPADDRESS(s);
	if (ip == NULL)
		return 0;
	ASN1_OCTET_STRING_free(ip);
	return 1;
}

static int add_alt_names(X509 *cert, X509 *issuer, const char *const *names,
			 size_t count)
{
	char value[1024];
	size_t used = 0;
	if (count == 0)
		return 0;
	for (size_t i = 0; i < count; i++) {
		int n = snprintf(value + used, sizeof(value) - used, "%s%s:%s",
				 i ? "," : "",
				 is_ip_literal(names[i]) ? "IP" : "DNS",
				 names[i]);
		if (n < 0 || (size_t)n >= sizeof(value) - used)
			return -ENAMETOOLONG;
		used += (size_t)n;
	}
	return add_ext(cert, issuer, NID_subject_alt_name, value);
}

static int build_cert(X509 *issuer_cert, EVP_PKEY *issuer_key,
		      EVP_PKEY *subject_key,
		      const struct pki_issue_params *p, X509 **out)
{
	X509 *cert = X509_new();
	int rc = -ENOMEM;
	*out = NULL;
	if (cert == NULL)
		return -ENOMEM;
	if (X509_set_version(cert, 2) != 1 || (rc = set_serial(cert)) != 0)
		goto fail;
	rc = -EINVAL;
	if (X509_gmtime_adj(X509_getm_notBefore(cert), p->not_before_offset) ==
		    NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(cert), p->not_after_offset) ==
		    NULL)
		goto fail;
	if (X509_set_pubkey(cert, subject_key) != 1)
		goto fail;
	if ((rc = set_name(X509_get_subject_name(cert), p->common_name,
			   p->org_unit)) != 0)
		goto fail;
	X509 *issuer = issuer_cert ? issuer_cert : cert;
	if (X509_set_issuer_name(cert, X509_get_subject_name(issuer)) != 1)
		goto fail;
	switch (p->kind) {
	case PKI_CERT_CA:
		rc = add_ext(cert, issuer, NID_basic_constraints,
			     "critical,CA:TRUE,pathlen:0");
		if (rc == 0)
			rc = add_ext(cert, issuer, NID_key_usage,
				     "critical,keyCertSign,cRLSign");
		break;
	case PKI_CERT_SERVER:
		rc = add_leaf_exts(cert, issuer, "serverAuth");
		if (rc == 0)
			rc = add_alt_names(cert, issuer, p->alt_names,
					   p->alt_name_count);
		break;
	case PKI_CERT_CLIENT:
		rc = add_leaf_exts(cert, issuer, "clientAuth");
		break;
	}
	if (rc == 0)
		rc = add_ext(cert, issuer, NID_subject_key_identifier, "hash");
	if (rc == 0 && issuer_cert != NULL)
		rc = add_ext(cert, issuer, NID_authority_key_identifier,
			     "keyid:always");
	if (rc != 0)
		goto fail;
	if (X509_sign(cert, issuer_key, EVP_sha256()) <= 0) {
		rc = -EINVAL;
		goto fail;
	}
	*out = cert;
	return 0;
fail:
	X509_free(cert);
	return rc;
}

int pki_ca_new(EVP_PKEY *key, const char *name, int days, X509 **out)
{
	struct pki_issue_params p = {
		.kind = PKI_CERT_CA,
		.common_name = name,
		.not_before_offset = -3600,
		.not_after_offset = (long)days * 86400,
	};
	return build_cert(NULL, key, key, &p, out);
}

int pki_issue(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *subject_key,
	      const struct pki_issue_params *params, X509 **out)
{
	return build_cert(ca, ca_key, subject_key, params, out);
}

int pki_csr_new(EVP_PKEY *key, X509_REQ **out)
{
	X509_REQ *req = X509_REQ_new();
	*out = NULL;
	if (req == NULL)
		return -ENOMEM;
	if (X509_REQ_set_version(req, 0) != 1 ||
	    X509_REQ_set_pubkey(req, key) != 1 ||
	    set_name(X509_REQ_get_subject_name(req), "eduwatch-agent", NULL) !=
		    0 ||
	    X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
		X509_REQ_free(req);
		return -EINVAL;
	}
	*out = req;
	return 0;
}

int pki_csr_parse(const char *pem, size_t len, EVP_PKEY **pubkey_out)
{
	*pubkey_out = NULL;
	if (len > 16384)
		return -EMSGSIZE;
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return -ENOMEM;
	X509_REQ *req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (req == NULL)
		return -EBADMSG;
	EVP_PKEY *key = X509_REQ_get_pubkey(req);
	int rc = -EBADMSG;
	/* The signature proves the requester holds the private key. */
	if (key != NULL && X509_REQ_verify(req, key) == 1 &&
	    EVP_PKEY_is_a(key, "EC") &&
	    EVP_PKEY_get_bits(key) >= 256) {
		*pubkey_out = key;
		key = NULL;
		rc = 0;
	}
	EVP_PKEY_free(key);
	X509_REQ_free(req);
	return rc;
}

static int write_bio_atomic(const char *path, BIO *bio, unsigned mode)
{
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	if (len <= 0)
		return -EINVAL;
	return fs_write_atomic(path, data, (size_t)len, mode);
}

int pki_write_key(const char *path, EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	if (bio == NULL)
		return -ENOMEM;
	int rc = PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
			 ? write_bio_atomic(path, bio, 0600)
			 : -EINVAL;
	BIO_free(bio);
	return rc;
}

int pki_write_cert(const char *path, X509 *cert)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		return -ENOMEM;
	int rc = PEM_write_bio_X509(bio, cert) ? write_bio_atomic(path, bio, 0644)
					       : -EINVAL;
	BIO_free(bio);
	return rc;
}

int pki_read_key(const char *path, EVP_PKEY **out)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	*out = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return *out ? 0 : -EBADMSG;
}

int pki_read_pubkey(const char *path, EVP_PKEY **out)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	*out = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	return *out ? 0 : -EBADMSG;
}

int pki_write_pubkey(const char *path, EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		return -ENOMEM;
	int rc = PEM_write_bio_PUBKEY(bio, key) ? write_bio_atomic(path, bio, 0644)
						: -EINVAL;
	BIO_free(bio);
	return rc;
}

int pki_read_cert(const char *path, X509 **out)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	*out = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return *out ? 0 : -EBADMSG;
}

static int bio_to_string(BIO *bio, char **pem_out, size_t *len_out)
{
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	if (len <= 0)
		return -EINVAL;
	*pem_out = alloc_strndup(data, (size_t)len);
	if (*pem_out == NULL)
		return -ENOMEM;
	if (len_out)
		*len_out = (size_t)len;
	return 0;
}

int pki_cert_to_pem(X509 *cert, char **pem_out, size_t *len_out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		return -ENOMEM;
	int rc = PEM_write_bio_X509(bio, cert)
			 ? bio_to_string(bio, pem_out, len_out)
			 : -EINVAL;
	BIO_free(bio);
	return rc;
}

int pki_csr_to_pem(X509_REQ *req, char **pem_out, size_t *len_out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		return -ENOMEM;
	int rc = PEM_write_bio_X509_REQ(bio, req)
			 ? bio_to_string(bio, pem_out, len_out)
			 : -EINVAL;
	BIO_free(bio);
	return rc;
}

int pki_cert_from_pem(const char *pem, size_t len, X509 **out)
{
	if (len > 65536)
		return -EMSGSIZE;
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return -ENOMEM;
	*out = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return *out ? 0 : -EBADMSG;
}

int pki_cert_fingerprint(X509 *cert, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int pki_pubkey_fingerprint(EVP_PKEY *key, char out[65])
{
	unsigned char *der = NULL, md[32];
	int len = i2d_PUBKEY(key, &der);
	if (len <= 0)
		return -EINVAL;
	SHA256(der, (size_t)len, md);
	OPENSSL_free(der);
	for (unsigned i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static int name_field(X509_NAME *name, int nid, char *dst, size_t cap)
{
	int idx = X509_NAME_get_index_by_NID(name, nid, -1);
	if (idx < 0)
		return -ENOENT;
	/* A second entry of the same type would make the identity ambiguous. */
	if (X509_NAME_get_index_by_NID(name, nid, idx) >= 0)
		return -EBADMSG;
	ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
	const unsigned char *data = ASN1_STRING_get0_data(s);
	int len = ASN1_STRING_length(s);
	if (len <= 0 || (size_t)len >= cap || memchr(data, '\0', (size_t)len))
		return -EBADMSG;
	memcpy(dst, data, (size_t)len);
	dst[len] = '\0';
	return 0;
}

int pki_cert_identity(X509 *cert, char *cn, size_t cn_cap, char *ou,
		      size_t ou_cap)
{
	X509_NAME *name = X509_get_subject_name(cert);
	int rc = 0;
	if (cn != NULL)
		rc = name_field(name, NID_commonName, cn, cn_cap);
	if (rc == 0 && ou != NULL)
		rc = name_field(name, NID_organizationalUnitName, ou, ou_cap);
	return rc;
}

int pki_sign(EVP_PKEY *key, const void *data, size_t len, unsigned char *sig,
	     size_t *siglen)
{
	size_t cap = PKI_SIG_MAX;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
		 EVP_DigestSign(md, sig, &cap, data, len) == 1;
	EVP_MD_CTX_free(md);
	*siglen = ok ? cap : 0;
	return ok ? 0 : -EINVAL;
}

bool pki_verify(EVP_PKEY *pubkey, const void *data, size_t len,
		const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = md &&
		  EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pubkey) == 1 &&
		  EVP_DigestVerify(md, sig, siglen, data, len) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}
