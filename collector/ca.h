/* ca: the collector's certificate authority, kept in the state directory.
 *
 *   ca.key (0600)  ca.crt   server.key (0600)  server.crt
 *
 * It issues the collector's server certificate at init and one client
 * certificate per agent at enrollment (CN = agent id, OU = school code). */
#ifndef EDUWATCH_CA_H
#define EDUWATCH_CA_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/command.h"

#define CA_AGENT_CERT_DAYS 825

struct ca;

/* Creates the CA and the server certificate in dir, with the given server
 * names (DNS names or IPs) as SANs. Refuses to overwrite an existing CA. */
EW_MUST_CHECK
int ca_init(const char *dir, const char *const *names, size_t nnames,
	    char *err, size_t errlen);

/* Loads ca.crt and ca.key; a missing ca.key is -ENOENT with a message
 * naming its path (the commands that sign exit 3 on it). */
EW_MUST_CHECK
int ca_load(const char *dir, struct ca **out, char *err, size_t errlen);
/* The same, but a state dir without ca.key loads too: a collector that
 * only verifies agents against ca.crt, where the key is kept off the
 * machine because it signs nothing there (issue 21). Every signing call
 * on such a CA fails with -EPERM; ca_key() is NULL. */
EW_MUST_CHECK
int ca_load_maybe_signer(const char *dir, struct ca **out, char *err,
			 size_t errlen);
/* Whether ca holds its private key. */
bool ca_can_sign(const struct ca *ca);
void ca_free(struct ca *ca);

/* Signs a client certificate for an agent. Borrows pubkey. */
EW_MUST_CHECK
int ca_issue_agent(struct ca *ca, EVP_PKEY *pubkey, const char *agent_id,
		   const char *school, X509 **out);

/* Packs and signs a command frame with the CA key (agents pinned the CA
 * and verify with its public key). */
EW_MUST_CHECK
int ca_sign_command(struct ca *ca, const struct command *cmd,
		    msgpack_sbuffer *frame);

/* The CA's private key, borrowed: it also signs rule bundles. NULL on
 * a CA loaded without its key. */
EVP_PKEY *ca_key(const struct ca *ca);

/* The CA certificate as PEM (owned by ca) and paths inside dir. */
const char *ca_cert_pem(const struct ca *ca);
void ca_path(const char *dir, const char *file, char *out, size_t cap);

#endif
