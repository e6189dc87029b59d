#include "collector/ca.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "common/alloc.h"
#include "common/command.h"
#include "common/pki.h"

#define CA_DAYS 3650
#define SERVER_DAYS 825

struct ca {
	EVP_PKEY *key;
	X509 *cert;
	char *pem;
};

void ca_path(const char *dir, const char *file, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", dir, file);
}

int ca_init(const char *dir, const char *const *names, size_t nnames,
	    char *err, size_t errlen)
{
	char path[1024];
	EVP_PKEY *ca_key = NULL, *srv_key = NULL;
	X509 *ca = NULL, *srv = NULL;
	int rc;

	/* ca.crt alone is a CA too: a collector that serves without the
	 * key (ca_load_maybe_signer), whose agents pin that certificate. */
	static const char *const ca_files[] = {"ca.key", "ca.crt"};
	for (size_t i = 0; i < 2; i++) {
		ca_path(dir, ca_files[i], path, sizeof(path));
		if (access(path, F_OK) == 0) {
			snprintf(err, errlen,
				 "%s exists: this directory already has a CA "
				 "(remove it only if you mean to re-enroll "
				 "every agent)", path);
			return -EEXIST;
		}
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "cannot create %s: %s", dir,
			 uv_strerror(rc));
		return rc;
	}
	struct pki_issue_params p = {
		.kind = PKI_CERT_SERVER,
		.common_name = names[0],
		.alt_names = names,
		.alt_name_count = nnames,
		.not_before_offset = -3600,
		.not_after_offset = SERVER_DAYS * 86400L,
	};
	if ((rc = pki_key_new(&ca_key)) != 0 ||
	    (rc = pki_ca_new(ca_key, "eduwatch collector CA", CA_DAYS, &ca)) != 0 ||
	    (rc = pki_key_new(&srv_key)) != 0 ||
	    (rc = pki_issue(ca, ca_key, srv_key, &p, &srv)) != 0) {
		snprintf(err, errlen, "cannot create certificates: %s",
			 uv_strerror(rc));
		goto done;
	}
	const struct {
		const char *file;
		EVP_PKEY *key;
		X509 *cert;
	} files[] = {
		{"ca.key", ca_key, NULL}, {"ca.crt", NULL, ca},
		{"server.key", srv_key, NULL}, {"server.crt", NULL, srv},
	};
	for (size_t i = 0; i < 4; i++) {
		ca_path(dir, files[i].file, path, sizeof(path));
		rc = files[i].key ? pki_write_key(path, files[i].key)
				  : pki_write_cert(path, files[i].cert);
		if (rc != 0) {
			snprintf(err, errlen, "cannot write %s: %s", path,
				 uv_strerror(rc));
			goto done;
		}
	}
done:
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(srv_key);
	X509_free(ca);
	X509_free(srv);
	return rc;
}

/* The certificate, then the key unless the state dir has none and
 * need_key is false. */
static int load_parts(const char *dir, struct ca *ca, bool need_key,
		      char *err, size_t errlen)
{
	char path[1024];
	int rc;
	ca_path(dir, "ca.crt", path, sizeof(path));
	if ((rc = pki_read_cert(path, &ca->cert)) != 0 ||
	    (rc = pki_cert_to_pem(ca->cert, &ca->pem, NULL)) != 0) {
		snprintf(err, errlen, "cannot load %s: %s (run "
			 "'eduwatch-collector init' first)", path,
			 uv_strerror(rc));
		return rc;
	}
	ca_path(dir, "ca.key", path, sizeof(path));
	if (access(path, F_OK) != 0 && errno == ENOENT) {
		if (!need_key)
			return 0;
		snprintf(err, errlen, "%s is absent: this collector runs "
			 "without the CA key and signs nothing; run this on "
			 "the collector that holds it", path);
		return -ENOENT;
	}
	if ((rc = pki_read_key(path, &ca->key)) != 0)
		snprintf(err, errlen, "cannot load %s: %s", path,
			 uv_strerror(rc));
	return rc;
}

static int load(const char *dir, bool need_key, struct ca **out, char *err,
		size_t errlen)
{
	struct ca *ca = alloc_zeroed(1, sizeof(*ca));
	*out = NULL;
	if (ca == NULL)
		return -ENOMEM;
	int rc = load_parts(dir, ca, need_key, err, errlen);
	if (rc != 0) {
		ca_free(ca);
		return rc;
	}
	*out = ca;
	return 0;
}

int ca_load(const char *dir, struct ca **out, char *err, size_t errlen)
{
	return load(dir, true, out, err, errlen);
}

int ca_load_maybe_signer(const char *dir, struct ca **out, char *err,
			 size_t errlen)
{
	return load(dir, false, out, err, errlen);
}

bool ca_can_sign(const struct ca *ca)
{
	return ca != NULL && ca->key != NULL;
}

void ca_free(struct ca *ca)
{
	if (ca == NULL)
		return;
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
	alloc_free(ca->pem);
	alloc_free(ca);
}

int ca_issue_agent(struct ca *ca, EVP_PKEY *pubkey, const char *agent_id,
		   const char *school, X509 **out)
{
	if (!ca_can_sign(ca))
		return -EPERM;
	struct pki_issue_params p = {
		.kind = PKI_CERT_CLIENT,
		.common_name = agent_id,
		.org_unit = school,
		.not_before_offset = -3600,
		.not_after_offset = CA_AGENT_CERT_DAYS * 86400L,
	};
	return pki_issue(ca->cert, ca->key, pubkey, &p, out);
}

const char *ca_cert_pem(const struct ca *ca)
{
	return ca->pem;
}

int ca_sign_command(struct ca *ca, const struct command *cmd,
		    msgpack_sbuffer *frame)
{
	if (!ca_can_sign(ca))
		return -EPERM;
	return command_build_frame(cmd, ca->key, frame);
}

EVP_PKEY *ca_key(const struct ca *ca)
{
	return ca->key;
}
