/* report_sign: the signature that lets the department check an archived
 * report without the collector's database. FILE.sig holds, one per line:
 *
 *   eduwatch-report-signature 1
 *   period: 2026-H1
 *   scope: school:S001
 *   version: 1
 *   sha256: <hex of FILE>
 *   signature: <hex of the DER ECDSA signature over the lines above>
 *
 * by the collector's CA key, whose certificate agents and the department
 * already hold. */
#include "collector/report/report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "common/alloc.h"
#include "common/fsutil.h"
#include "common/pki.h"

#define SIG_MAGIC "eduwatch-report-signature 1\n"
#define REPORT_FILE_MAX (256u << 20)

static void to_hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int file_sha256(const char *path, char hex[65], char *err,
		       size_t errlen)
{
	char *buf;
	size_t len;
	unsigned char d[SHA256_DIGEST_LENGTH];
	int rc = fs_read_file(path, REPORT_FILE_MAX, &buf, &len);
	if (rc != 0) {
		snprintf(err, errlen, "cannot read %s: %s", path,
			 uv_strerror(rc));
		return rc;
	}
	SHA256((const unsigned char *)buf, len, d);
	alloc_free(buf);
	to_hex(d, sizeof(d), hex);
	return 0;
}

int report_sign_file(const char *path, EVP_PKEY *key, const char *period,
		     const char *scope, int version, char sha256_hex[65],
		     char *err, size_t errlen)
{
	char msg[1024], out[1400], sighex[2 * PKI_SIG_MAX + 1], sigpath[1100];
	unsigned char sig[PKI_SIG_MAX];
	size_t siglen = sizeof(sig);
	int rc = file_sha256(path, sha256_hex, err, errlen);
	if (rc != 0)
		return rc;
	int n = snprintf(msg, sizeof(msg),
			 SIG_MAGIC "period: %s\nscope: %s\nversion: %d\n"
				   "sha256: %s\n",
			 period, scope, version, sha256_hex);
	if (n < 0 || (size_t)n >= sizeof(msg) ||
	    pki_sign(key, msg, (size_t)n, sig, &siglen) != 0) {
		snprintf(err, errlen, "cannot sign %s", path);
		return -EIO;
	}
	to_hex(sig, siglen, sighex);
	int m = snprintf(out, sizeof(out), "%ssignature: %s\n", msg, sighex);
	snprintf(sigpath, sizeof(sigpath), "%s.sig", path);
	if (m < 0 || (size_t)m >= sizeof(out) ||
	    (rc = fs_write_atomic(sigpath, out, (size_t)m, 0644)) != 0) {
		snprintf(err, errlen, "cannot write %s", sigpath);
		return rc ? rc : -EIO;
	}
	return 0;
}

static int from_hex(const char *h, size_t hn, unsigned char *out, size_t cap,
		    size_t *n)
{
	if (hn % 2 || hn / 2 > cap)
		return -EINVAL;
	for (size_t i = 0; i < hn / 2; i++) {
		int v = 0;
		for (int k = 0; k < 2; k++) {
			char c = h[2 * i + k];
			int d = c >= '0' && c <= '9'   ? c - '0'
				: c >= 'a' && c <= 'f' ? c - 'a' + 10
						       : -1;
			if (d < 0)
				return -EINVAL;
			v = v * 16 + d;
		}
		out[i] = (unsigned char)v;
	}
	*n = hn / 2;
	return 0;
}

int report_verify_file(const char *path, const char *ca_cert_path, char *err,
		       size_t errlen)
{
	char sigpath[1100], hex[65];
	char *sigtext = NULL;
	size_t siglen_text, siglen;
	unsigned char sig[PKI_SIG_MAX];
	X509 *ca = NULL;
	int rc;
	snprintf(sigpath, sizeof(sigpath), "%s.sig", path);
	if ((rc = fs_read_file(sigpath, 4096, &sigtext, &siglen_text)) != 0) {
		snprintf(err, errlen, "cannot read the signature %s: %s",
			 sigpath, uv_strerror(rc));
		return rc;
	}
	const char *line = strstr(sigtext, "\nsignature: ");
	const char *sha = strstr(sigtext, "\nsha256: ");
	if (strncmp(sigtext, SIG_MAGIC, strlen(SIG_MAGIC)) != 0 ||
	    line == NULL || sha == NULL || sha > line ||
	    memchr(sigtext, '\0', siglen_text) != NULL) {
		snprintf(err, errlen, "%s is not a report signature", sigpath);
		rc = -EBADMSG;
		goto done;
	}
	const char *hexsig = line + strlen("\nsignature: ");
	size_t hn = strcspn(hexsig, "\n");
	if (hexsig[hn] != '\n' || hexsig[hn + 1] != '\0' ||
	    from_hex(hexsig, hn, sig, sizeof(sig), &siglen) != 0) {
		snprintf(err, errlen, "%s: the signature line is malformed",
			 sigpath);
		rc = -EBADMSG;
		goto done;
	}
	if ((rc = file_sha256(path, hex, err, errlen)) != 0)
		goto done;
	if (strncmp(sha + strlen("\nsha256: "), hex, 64) != 0 ||
	    sha[strlen("\nsha256: ") + 64] != '\n') {
		snprintf(err, errlen, "%s does not match its signature: its "
			 "SHA-256 is %s (the file was changed)", path, hex);
		rc = -EBADMSG;
		goto done;
	}
	if (pki_read_cert(ca_cert_path, &ca) != 0) {
		snprintf(err, errlen, "cannot read the CA certificate %s",
			 ca_cert_path);
		rc = -EIO;
		goto done;
	}
	EVP_PKEY *pub = X509_get0_pubkey(ca);
	size_t msglen = (size_t)(line - sigtext) + 1;
	if (pub == NULL || !pki_verify(pub, sigtext, msglen, sig, siglen)) {
		snprintf(err, errlen, "%s: the signature is not the collector "
			 "CA's over this report", sigpath);
		rc = -EBADMSG;
		goto done;
	}
	rc = 0;
done:
	X509_free(ca);
	alloc_free(sigtext);
	return rc;
}
