/* enroll: the collector's enrollment listener.
 *
 * A TLS 1.3 port without client certificates, so everything that reaches
 * it before a token is checked is hostile until proven otherwise. An agent
 * sends a one-time token and a CSR; the token's hash is looked up and one
 * use consumed in a single transaction, the CSR's signature is checked, and
 * the CA signs a certificate for a fresh agent id in the token's school.
 * The database and signing work runs on libuv's threadpool, never on the
 * loop. Every refusal (unknown, expired or used-up token, bad CSR, bad
 * frame, rate limit) is answered with an error frame, logged with the
 * peer's address and counted.
 *
 * What an unauthenticated peer can cost is bounded: a small frame limit
 * (a CSR needs a few KiB), a handshake deadline, a cap on connections in
 * total and per address, and failed tokens slow their address down and
 * then lock it out for a while (see enroll.c for the numbers).
 *
 * Lifecycle: loop-owned, `_start` / `_stop(cb)`, as every loop-owned module
 * in the tree; the service frees itself after its last session and then
 * calls the stop callback (there is no `_free`). `enroll_new` builds one
 * whose sessions the caller feeds, without a listener. */
#ifndef EDUWATCH_ENROLL_H
#define EDUWATCH_ENROLL_H

#include "common/check.h"

#include <stddef.h>
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
	uint64_t rate_limited;	  /* refused for failures from the address */
	uint64_t refused_full;	  /* connections over the total or per-address cap */
	uint64_t handshake_timeouts;
};

struct enroll;

/* A listener-less enrollment service: sessions are fed by the caller.
 * ca and store are borrowed. enroll_start() adds the TLS listener. */
EW_MUST_CHECK
int enroll_new(uv_loop_t *loop, struct ca *ca, struct store *store,
	       struct enroll **out);

/* ctx, ca and store are borrowed. */
EW_MUST_CHECK
int enroll_start(uv_loop_t *loop, SSL_CTX *ctx, struct ca *ca,
		 struct store *store, const char *host, int port,
		 struct enroll **out, char *err, size_t errlen);

/* Stops listening and closes every session; the service frees itself once
 * the last session's work has finished (run the loop), and then calls
 * done(arg) (NULL: nothing). The store must stay open until then: work on
 * the threadpool still uses it. */
void enroll_stop(struct enroll *en, void (*done)(void *arg), void *arg);
/* The port it listens on (the system's choice when asked for port 0). */
int enroll_port(const struct enroll *en);
void enroll_get_stats(const struct enroll *en, struct enroll_stats *out);

/* ---- one request, without its transport --------------------------------
 * The listener drives these from a TLS stream; the fuzz harness drives the
 * same code from memory, so every error path it finds is the daemon's. */

struct enroll_session_io {
	/* Sends bytes to the peer (the reply frame). */
	void (*write)(void *arg, const void *data, size_t len);
	/* Asks the transport to close; called once, after the reply. */
	void (*close)(void *arg);
};

struct enroll_session;

/* addr is the peer's "ip:port", used for logs and per-address limits.
 * io and arg are borrowed until enroll_session_detach(). */
EW_MUST_CHECK
int enroll_session_new(struct enroll *en, const char *addr,
		       const struct enroll_session_io *io, void *arg,
		       struct enroll_session **out);
/* Decrypted bytes from the peer, borrowed for the call. */
void enroll_session_feed(struct enroll_session *s, const char *data,
			 size_t len);
/* True once the session has answered (or given up) and wants no more. */
bool enroll_session_done(const struct enroll_session *s);
/* The transport is gone: no more io calls. The session frees itself when
 * its threadpool work, if any, has finished. */
void enroll_session_detach(struct enroll_session *s);

/* A new random token ("ewt_" + 43 base64url chars) and its SHA-256. */
EW_MUST_CHECK
int enroll_token_new(char token[64], unsigned char hash[32]);
void enroll_token_hash(const char *token, unsigned char hash[32]);

#endif
