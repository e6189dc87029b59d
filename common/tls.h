/* tls: OpenSSL 3 contexts and one memory-BIO adapter to a libuv stream.
 *
 * Both daemons speak TLS 1.3 only, with mutual certificates chained to the
 * collector's CA and nothing else (no system trust store: the CA is
 * pinned). The adapter, tls_stream, drives the handshake and record layer
 * through memory BIOs so that all socket I/O stays on the libuv loop. It
 * works over any connected uv_stream_t (TCP, or a pipe over a socketpair
 * in tests). */
#ifndef EDUWATCH_TLS_H
#define EDUWATCH_TLS_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "common/pki.h"

/* Called during the handshake with the peer's certificate identity. Return
 * 0 to accept, non-zero to fail the handshake (a revoked agent). */
typedef int (*tls_peer_check_fn)(void *arg, const char *cn, const char *ou);

/* Builds a context from objects in memory (borrowed, reference-counted by
 * OpenSSL). ca is the only trust anchor. A server with require_peer asks
 * for and requires a client certificate; a client context may omit cert
 * and key (for enrollment, before it has one). */
EW_MUST_CHECK
int tls_ctx_new(bool server, X509 *ca, X509 *cert, EVP_PKEY *key,
		bool require_peer, SSL_CTX **out, char *err, size_t errlen);

/* The same from PEM files; cert_file and key_file may be NULL. */
EW_MUST_CHECK
int tls_ctx_new_from_files(bool server, const char *ca_file,
			   const char *cert_file, const char *key_file,
			   bool require_peer, SSL_CTX **out, char *err,
			   size_t errlen);

/* A client context that trusts exactly one CA known only by the SHA-256
 * of its certificate (hex, colons and case ignored). The server must send
 * that CA in its chain; the chain is then verified against it as usual.
 * Used for enrollment when the agent has a fingerprint, not a CA file. */
EW_MUST_CHECK
int tls_ctx_new_pinned(const char *ca_sha256, SSL_CTX **out, char *err,
		       size_t errlen);

/* Normalizes a fingerprint to 64 lower-case hex characters. */
EW_MUST_CHECK
int tls_parse_fingerprint(const char *text, char out[65]);

/* Installs a callback consulted while verifying the peer's leaf
 * certificate. fn and arg are borrowed for the context's lifetime. */
EW_MUST_CHECK
int tls_ctx_set_peer_check(SSL_CTX *ctx, tls_peer_check_fn fn, void *arg);

/* Writes the newest OpenSSL error (or `fallback`) into err. */
void tls_last_error(char *err, size_t errlen, const char *fallback);

/* ---- the stream adapter ------------------------------------------------ */

struct tls_stream;

struct tls_stream_ops {
	/* Handshake complete; the peer's identity is available. */
	void (*on_open)(struct tls_stream *ts, void *arg);
	/* Decrypted application bytes, borrowed for the call. */
	void (*on_data)(struct tls_stream *ts, const char *data, size_t len,
			void *arg);
	/* The handle is closed; ts is freed right after this returns.
	 * status is 0 for an orderly close or a negative errno. */
	void (*on_close)(struct tls_stream *ts, int status, void *arg);
};

struct tls_stream_params {
	bool server;
	/* Client only: a DNS name or IP literal checked against the server
	 * certificate; NULL skips the name check. */
	const char *verify_host;
	/* Optional identity for this connection instead of the context's
	 * (borrowed; OpenSSL takes references). One context can then serve
	 * many identities, as in the load generator. */
	X509 *cert;
	EVP_PKEY *key;
};

/* Wraps a connected stream. Takes ownership of `handle`, which must have
 * been allocated with alloc_bytes() and initialised on a loop; it is freed
 * after close, also when this fails. */
EW_MUST_CHECK
int tls_stream_new(uv_stream_t *handle, SSL_CTX *ctx,
		   const struct tls_stream_params *params,
		   const struct tls_stream_ops *ops, void *arg,
		   struct tls_stream **out);

/* Encrypts and queues bytes; only after on_open. Returns 0, -EAGAIN before
 * the handshake, -EPIPE once closing, or -ENOMEM. */
EW_MUST_CHECK
int tls_stream_write(struct tls_stream *ts, const void *data, size_t len);

/* Bytes handed to libuv and not yet written to the socket. */
size_t tls_stream_write_backlog(const struct tls_stream *ts);

/* Bytes written to the socket so far. With a backlog, a count that does
 * not move means the peer is not reading. */
uint64_t tls_stream_bytes_written(const struct tls_stream *ts);
/* Bytes read from the socket so far, TLS records and handshake included. */
uint64_t tls_stream_bytes_read(const struct tls_stream *ts);

/* Backpressure: stop and resume reading from the socket. */
void tls_stream_pause(struct tls_stream *ts);
void tls_stream_resume(struct tls_stream *ts);

/* Sends close_notify, flushes, then closes. Safe to call more than once.
 * status is passed to on_close. */
void tls_stream_close(struct tls_stream *ts, int status);

/* Closes at once, dropping whatever is queued: for a peer that does not
 * read, whose backlog would otherwise hold the socket open for ever (an
 * orderly close waits for queued writes). Safe after tls_stream_close. */
void tls_stream_abort(struct tls_stream *ts, int status);

bool tls_stream_is_open(const struct tls_stream *ts);
const char *tls_stream_peer_cn(const struct tls_stream *ts);
const char *tls_stream_peer_ou(const struct tls_stream *ts);
/* "ip:port" of a connected TCP handle ("local" when it has none), for
 * log lines and per-address limits before any TLS is set up. */
void tls_tcp_peer_addr(uv_tcp_t *tcp, char *out, size_t cap);
/* Accepts a listener's next connection into a new handle, allocated as
 * tls_stream_new wants it; NULL when there is none or no memory. */
uv_tcp_t *tls_tcp_accept(uv_stream_t *server);
/* Closes and frees a handle from tls_tcp_accept that no stream took:
 * a connection refused before any TLS work. */
void tls_tcp_drop(uv_tcp_t *tcp);
/* The port a TCP listener is bound to: what port 0 ("any free port")
 * became. Returns the port, or a negative errno. */
int tls_tcp_local_port(const uv_tcp_t *tcp);
/* Address of the peer for log lines ("ip:port" or "local"). */
const char *tls_stream_peer_addr(const struct tls_stream *ts);
/* Why the stream failed, for log lines; "" if it did not. */
const char *tls_stream_error(const struct tls_stream *ts);
void tls_stream_set_arg(struct tls_stream *ts, void *arg);

#endif
