/* enroll: the collector's enrollment listener.
 *
 * A TLS 1.3 port without client certificates. An agent sends a one-time
 * token and a CSR; the token's hash is looked up and one use consumed in
 * a single transaction, the CSR's signature is checked, and the CA signs a
 * certificate for a fresh agent id in the token's school. The database and
 * signing work runs on libuv's threadpool, never on the loop. Every refusal
 * (unknown, expired or used-up token, bad CSR) is logged with the peer's
 * address and counted. */
#ifndef EDUWATCH_ENROLL_H
#define EDUWATCH_ENROLL_H

#include <stdint.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "collector/ca.h"
#include "collector/store.h"

struct enroll_stats {
	uint64_t enrolled;
	uint64_t token_unknown;
	uint64_t token_expired;
	uint64_t token_used;
	uint64_t bad_requests;
};

struct enroll;

/* ctx, ca and store are borrowed. */
int enroll_start(uv_loop_t *loop, SSL_CTX *ctx, struct ca *ca,
		 struct store *store, const char *host, int port,
		 struct enroll **out, char *err, size_t errlen);
void enroll_stop(struct enroll *en);
void enroll_get_stats(const struct enroll *en, struct enroll_stats *out);

/* A new random token ("ewt_" + 43 base64url chars) and its SHA-256. */
int enroll_token_new(char token[64], unsigned char hash[32]);
void enroll_token_hash(const char *token, unsigned char hash[32]);

#endif
