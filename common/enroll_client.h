/* enroll_client: the agent's side of enrollment, as one blocking call.
 *
 * Connects to the collector's enrollment port over TLS 1.3, pinning the
 * given CA (never trust on first use), sends the one-time token and a CSR
 * for the caller's key, and returns the signed certificate. It runs its
 * own short-lived libuv loop, so it can be called from a CLI command or a
 * test without a daemon around it. */
#ifndef EDUWATCH_ENROLL_CLIENT_H
#define EDUWATCH_ENROLL_CLIENT_H

#include "common/check.h"

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/event.h"
#include "common/pki.h"

struct enroll_request {
	const char *host;     /* collector name or IP, checked against SAN */
	int port;
	X509 *ca;	      /* the pinned collector CA (borrowed), or */
	const char *ca_sha256; /* its SHA-256 fingerprint, when ca is NULL */
	EVP_PKEY *key;	      /* the agent's key (borrowed) */
	const char *token;
	const char *hostname; /* this PC's name, for the officers' lists */
	const char *version;
	int timeout_ms;
};

struct enroll_result {
	char agent[EVENT_AGENT_MAX + 1];
	char school[PKI_ID_MAX + 1];
	X509 *cert; /* owned by the caller after success */
	X509 *ca;   /* the collector's CA, checked against the pin */
};

/* Returns 0, or a negative errno with a message for a person in err:
 * "enrollment refused: token_used: this token has no uses left". */
EW_MUST_CHECK
int enroll_client_run(const struct enroll_request *req,
		      struct enroll_result *res, char *err, size_t errlen);

#endif
