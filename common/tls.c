#include "common/tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/alloc.h"

void tls_last_error(char *err, size_t errlen, const char *fallback)
{
	unsigned long e = ERR_peek_last_error();
	if (err == NULL || errlen == 0)
		return;
	if (e != 0) {
		ERR_error_string_n(e, err, errlen);
		ERR_clear_error();
	} else {
		snprintf(err, errlen, "%s", fallback);
	}
}

/* ---- contexts ------------------------------------------------------------ */

struct peer_check {
	tls_peer_check_fn fn;
	void *arg;
};

static int peer_check_index = -1;
static int pin_index = -1; /* the pinned fingerprint, owned by the ctx */
static uv_once_t peer_check_once = UV_ONCE_INIT;

static void peer_check_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
			    int idx, long argl, void *argp)
{
	(void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
	alloc_free(ptr);
}

static void peer_check_init(void)
{
	peer_check_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
						    peer_check_free);
	pin_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
					     peer_check_free);
}

static int verify_cb(int preverify_ok, X509_STORE_CTX *store)
{
	if (!preverify_ok || X509_STORE_CTX_get_error_depth(store) != 0)
		return preverify_ok;
	SSL *ssl = X509_STORE_CTX_get_ex_data(
		store, SSL_get_ex_data_X509_STORE_CTX_idx());
	SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
	struct peer_check *pc = SSL_CTX_get_ex_data(ctx, peer_check_index);
	if (pc == NULL)
		return 1;
	char cn[PKI_ID_MAX + 1] = "", ou[PKI_ID_MAX + 1] = "";
	X509 *leaf = X509_STORE_CTX_get_current_cert(store);
	if (pki_cert_identity(leaf, cn, sizeof(cn), ou, sizeof(ou)) != 0 ||
	    pc->fn(pc->arg, cn, ou) != 0) {
		X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REVOKED);
		return 0;
	}
	return 1;
}

int tls_ctx_set_peer_check(SSL_CTX *ctx, tls_peer_check_fn fn, void *arg)
{
	uv_once(&peer_check_once, peer_check_init);
	if (peer_check_index < 0)
		return -ENOMEM;
	struct peer_check *pc = alloc_zeroed(1, sizeof(*pc));
	if (pc == NULL)
		return -ENOMEM;
	pc->fn = fn;
	pc->arg = arg;
	alloc_free(SSL_CTX_get_ex_data(ctx, peer_check_index));
	SSL_CTX_set_ex_data(ctx, peer_check_index, pc);
	return 0;
}

int tls_ctx_new(bool server, X509 *ca, X509 *cert, EVP_PKEY *key,
		bool require_peer, SSL_CTX **out, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method()
					  : TLS_client_method());
	*out = NULL;
	if (ctx == NULL) {
		tls_last_error(err, errlen, "out of memory");
		return -ENOMEM;
	}
	uv_once(&peer_check_once, peer_check_init);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1)
		goto fail;
	/* Only the pinned CA is trusted; the system store is never loaded. */
	if (X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca) != 1)
		goto fail;
	if (cert != NULL && key != NULL) {
		if (SSL_CTX_use_certificate(ctx, cert) != 1 ||
		    SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1)
			goto fail;
	}
	int mode = SSL_VERIFY_PEER;
	if (server && require_peer)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	if (server && !require_peer)
		mode = SSL_VERIFY_NONE;
	SSL_CTX_set_verify(ctx, mode, verify_cb);
	SSL_CTX_set_verify_depth(ctx, 2);
	if (server) {
		/* Send the CA too, so an agent that pinned only its
		 * fingerprint can verify the chain. */
		if (SSL_CTX_add1_chain_cert(ctx, ca) != 1)
			goto fail;
		/* Agents reconnect with a full handshake; tickets would only
		 * keep state we never use. */
		SSL_CTX_set_num_tickets(ctx, 0);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	*out = ctx;
	return 0;
fail:
	tls_last_error(err, errlen, "TLS context setup failed");
	SSL_CTX_free(ctx);
	return -EINVAL;
}

int tls_parse_fingerprint(const char *text, char out[65])
{
	size_t n = 0;
	for (const char *p = text; *p; p++) {
		char c = *p;
		if (c == ':')
			continue;
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) || n == 64)
			return -EINVAL;
		out[n++] = c;
	}
	out[n] = '\0';
	return n == 64 ? 0 : -EINVAL;
}

/* Finds the pinned CA among the certificates the server sent, trusts it
 * alone, then runs the ordinary verification (validity, purpose, name). */
static int pinned_verify(X509_STORE_CTX *sctx, void *arg)
{
	const char *pin = arg;
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_untrusted(sctx);
	X509 *found = NULL;
	for (int i = 0; chain && i < sk_X509_num(chain); i++) {
		X509 *cert = sk_X509_value(chain, i);
		char fp[65];
		if (pki_cert_fingerprint(cert, fp) == 0 && strcmp(fp, pin) == 0 &&
		    X509_check_ca(cert) > 0 &&
		    X509_check_issued(cert, cert) == X509_V_OK)
			found = cert;
	}
	if (found == NULL) {
		X509_STORE_CTX_set_error(sctx, X509_V_ERR_CERT_UNTRUSTED);
		return 0;
	}
	STACK_OF(X509) *trusted = sk_X509_new_null();
	if (trusted == NULL || !sk_X509_push(trusted, found)) {
		sk_X509_free(trusted);
		return 0;
	}
	X509_STORE_CTX_set0_trusted_stack(sctx, trusted);
	int ok = X509_verify_cert(sctx);
	X509_STORE_CTX_set0_trusted_stack(sctx, NULL);
	sk_X509_free(trusted);
	return ok > 0;
}

int tls_ctx_new_pinned(const char *ca_sha256, SSL_CTX **out, char *err,
		       size_t errlen)
{
	char parsed[65];
	*out = NULL;
	uv_once(&peer_check_once, peer_check_init);
	if (tls_parse_fingerprint(ca_sha256, parsed) != 0) {
		snprintf(err, errlen, "'%s' is not a SHA-256 fingerprint (64 hex "
			 "digits)", ca_sha256);
		return -EINVAL;
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1) {
		SSL_CTX_free(ctx);
		tls_last_error(err, errlen, "TLS context setup failed");
		return -ENOMEM;
	}
	char *pin = alloc_strdup(parsed);
	if (pin == NULL || SSL_CTX_set_ex_data(ctx, pin_index, pin) != 1) {
		alloc_free(pin);
		SSL_CTX_free(ctx);
		return -ENOMEM;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, pinned_verify, pin);
	*out = ctx;
	return 0;
}

int tls_ctx_new_from_files(bool server, const char *ca_file,
			   const char *cert_file, const char *key_file,
			   bool require_peer, SSL_CTX **out, char *err,
			   size_t errlen)
{
	X509 *ca = NULL, *cert = NULL;
	EVP_PKEY *key = NULL;
	int rc;

	*out = NULL;
	if ((rc = pki_read_cert(ca_file, &ca)) != 0) {
		snprintf(err, errlen, "cannot read CA certificate %s: %s",
			 ca_file, uv_strerror(rc));
		goto done;
	}
	if (cert_file != NULL && (rc = pki_read_cert(cert_file, &cert)) != 0) {
		snprintf(err, errlen, "cannot read certificate %s: %s",
			 cert_file, uv_strerror(rc));
		goto done;
	}
	if (key_file != NULL && (rc = pki_read_key(key_file, &key)) != 0) {
		snprintf(err, errlen, "cannot read private key %s: %s",
			 key_file, uv_strerror(rc));
		goto done;
	}
	rc = tls_ctx_new(server, ca, cert, key, require_peer, out, err, errlen);
done:
	X509_free(ca);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

/* ---- the stream adapter ------------------------------------------------ */

struct tls_stream {
	uv_stream_t *handle;
	SSL *ssl;
	BIO *rbio; /* ciphertext from the socket, read by OpenSSL */
	BIO *wbio; /* ciphertext from OpenSSL, to write to the socket */
	const struct tls_stream_ops *ops;
	void *arg;
	size_t backlog;
	uint64_t written; /* bytes whose writes completed */
	uint64_t read;	  /* bytes read from the socket */
	int close_status;
	bool open;
	bool paused;
	bool closing;
	uv_shutdown_t shutdown_req;
	char peer_cn[PKI_ID_MAX + 1];
	char peer_ou[PKI_ID_MAX + 1];
	char peer_addr[64];
	char error[160];
};

struct write_req {
	uv_write_t req;
	struct tls_stream *ts;
	size_t len;
	char data[];
};

/* One loop runs reads one at a time, so one buffer per thread serves every
 * connection of that loop: 5,000 connections do not need 5,000 buffers. */
static _Thread_local char read_buffer[64 * 1024];

static void handle_closed(uv_handle_t *handle)
{
	struct tls_stream *ts = handle->data;
	if (ts->ops->on_close)
		ts->ops->on_close(ts, ts->close_status, ts->arg);
	SSL_free(ts->ssl); /* frees both BIOs */
	alloc_free(ts->handle);
	alloc_free(ts);
}

static void close_now(struct tls_stream *ts)
{
	if (!uv_is_closing((uv_handle_t *)ts->handle))
		uv_close((uv_handle_t *)ts->handle, handle_closed);
}

static void fail_stream(struct tls_stream *ts, int status, const char *why)
{
	if (ts->error[0] == '\0')
		tls_last_error(ts->error, sizeof(ts->error), why);
	if (ts->close_status == 0)
		ts->close_status = status;
	ts->closing = true;
	close_now(ts);
}

static void write_done(uv_write_t *req, int status)
{
	struct write_req *wr = (struct write_req *)req;
	struct tls_stream *ts = wr->ts;
	ts->backlog -= wr->len;
	if (status == 0)
		ts->written += wr->len;
	alloc_free(wr);
	if (status < 0 && status != UV_ECANCELED && !ts->closing) {
		snprintf(ts->error, sizeof(ts->error), "write: %s",
			 uv_strerror(status));
		fail_stream(ts, status, "write failed");
	}
}

/* Moves whatever ciphertext OpenSSL produced onto the socket. */
static int flush_out(struct tls_stream *ts)
{
	size_t pending = BIO_ctrl_pending(ts->wbio);
	if (pending == 0)
		return 0;
	struct write_req *wr = alloc_bytes(sizeof(*wr) + pending);
	if (wr == NULL)
		return -ENOMEM;
	int n = BIO_read(ts->wbio, wr->data, (int)pending);
	if (n <= 0) {
		alloc_free(wr);
		return -EIO;
	}
	wr->ts = ts;
	wr->len = (size_t)n;
	uv_buf_t buf = uv_buf_init(wr->data, (unsigned)n);
	int rc = uv_write(&wr->req, ts->handle, &buf, 1, write_done);
	if (rc < 0) {
		alloc_free(wr);
		return rc;
	}
	ts->backlog += (size_t)n;
	return 0;
}

static void on_handshake_done(struct tls_stream *ts)
{
	X509 *peer = SSL_get0_peer_certificate(ts->ssl);
	/* A field that cannot be read (absent, as a server's OU is, or
	 * ambiguous) is left empty, which each user of it refuses. */
	if (peer != NULL)
		EW_IGNORE(pki_cert_identity(peer, ts->peer_cn, sizeof(ts->peer_cn),
					    ts->peer_ou, sizeof(ts->peer_ou)));
	ts->open = true;
	if (ts->ops->on_open)
		ts->ops->on_open(ts, ts->arg);
}

/* Runs the handshake or decrypts records until OpenSSL wants more input. */
static void pump(struct tls_stream *ts)
{
	if (!ts->open) {
		int rc = SSL_do_handshake(ts->ssl);
		int flush_rc = flush_out(ts);
		if (rc != 1) {
			int e = SSL_get_error(ts->ssl, rc);
			if (e == SSL_ERROR_WANT_READ && flush_rc == 0)
				return;
			long vr = SSL_get_verify_result(ts->ssl);
			if (vr != X509_V_OK)
				snprintf(ts->error, sizeof(ts->error),
					 "handshake: certificate: %s",
					 X509_verify_cert_error_string(vr));
			fail_stream(ts, -EPROTO, "handshake failed");
			return;
		}
		on_handshake_done(ts);
		if (ts->closing)
			return;
	}
	while (!ts->closing && !ts->paused) {
		int n = SSL_read(ts->ssl, read_buffer, sizeof(read_buffer));
		if (n > 0) {
			ts->ops->on_data(ts, read_buffer, (size_t)n, ts->arg);
			continue;
		}
		int e = SSL_get_error(ts->ssl, n);
		if (e == SSL_ERROR_WANT_READ)
			break;
		if (e == SSL_ERROR_ZERO_RETURN) {
			tls_stream_close(ts, 0);
			return;
		}
		fail_stream(ts, -EPROTO, "TLS record error");
		return;
	}
	/* Reading can produce output too (key updates, alerts). */
	if (!ts->closing && flush_out(ts) != 0)
		fail_stream(ts, -ENOMEM, "out of memory");
}

static void alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	(void)handle;
	(void)suggested;
	static _Thread_local char socket_buffer[64 * 1024];
	*buf = uv_buf_init(socket_buffer, sizeof(socket_buffer));
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct tls_stream *ts = stream->data;
	if (nread == 0)
		return;
	if (nread < 0) {
		if (nread != UV_EOF)
			snprintf(ts->error, sizeof(ts->error), "read: %s",
				 uv_strerror((int)nread));
		else if (!ts->open)
			snprintf(ts->error, sizeof(ts->error),
				 "peer closed during handshake");
		fail_stream(ts, nread == UV_EOF && ts->open ? 0 : (int)nread,
			    "read failed");
		return;
	}
	ts->read += (uint64_t)nread;
	if (BIO_write(ts->rbio, buf->base, (int)nread) != (int)nread) {
		fail_stream(ts, -ENOMEM, "out of memory");
		return;
	}
	pump(ts);
}

void tls_tcp_peer_addr(uv_tcp_t *tcp, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	snprintf(out, cap, "local");
	if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) != 0)
		return;
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		uv_ip4_name(sin, ip, sizeof(ip));
		port = ntohs(sin->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		uv_ip6_name(sin6, ip, sizeof(ip));
		port = ntohs(sin6->sin6_port);
	}
	snprintf(out, cap, "%s:%d", ip, port);
}

static void free_accepted(uv_handle_t *handle)
{
	alloc_free(handle);
}

uv_tcp_t *tls_tcp_accept(uv_stream_t *server)
{
	uv_tcp_t *tcp = alloc_bytes(sizeof(*tcp));
	if (tcp == NULL)
		return NULL;
	uv_tcp_init(server->loop, tcp);
	if (uv_accept(server, (uv_stream_t *)tcp) != 0) {
		tls_tcp_drop(tcp);
		return NULL;
	}
	return tcp;
}

void tls_tcp_drop(uv_tcp_t *tcp)
{
	uv_close((uv_handle_t *)tcp, free_accepted);
}

int tls_tcp_local_port(const uv_tcp_t *tcp)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	int rc = uv_tcp_getsockname(tcp, (struct sockaddr *)&ss, &len);
	if (rc != 0)
		return rc;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -EAFNOSUPPORT;
}

static void record_peer_addr(struct tls_stream *ts)
{
	snprintf(ts->peer_addr, sizeof(ts->peer_addr), "local");
	if (ts->handle->type == UV_TCP)
		tls_tcp_peer_addr((uv_tcp_t *)ts->handle, ts->peer_addr,
				  sizeof(ts->peer_addr));
}

static int set_verify_host(SSL *ssl, const char *host)
{
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
	if (X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1)
		return 0;
	if (SSL_set_tlsext_host_name(ssl, host) != 1 ||
	    SSL_set1_host(ssl, host) != 1)
		return -EINVAL;
	return 0;
}

static void free_handle(uv_handle_t *handle)
{
	alloc_free(handle);
}

int tls_stream_new(uv_stream_t *handle, SSL_CTX *ctx,
		   const struct tls_stream_params *params,
		   const struct tls_stream_ops *ops, void *arg,
		   struct tls_stream **out)
{
	bool server = params->server;
	struct tls_stream *ts = alloc_zeroed(1, sizeof(*ts));
	int rc = -ENOMEM;
	*out = NULL;
	if (ts == NULL)
		goto fail_handle;
	ts->handle = handle;
	ts->ops = ops;
	ts->arg = arg;
	handle->data = ts;
	ts->ssl = SSL_new(ctx);
	ts->rbio = BIO_new(BIO_s_mem());
	ts->wbio = BIO_new(BIO_s_mem());
	if (ts->ssl == NULL || ts->rbio == NULL || ts->wbio == NULL) {
		BIO_free(ts->rbio);
		BIO_free(ts->wbio);
		goto fail_ts;
	}
	/* An empty memory BIO means "no data yet", not end of file. */
	BIO_set_mem_eof_return(ts->rbio, -1);
	SSL_set_bio(ts->ssl, ts->rbio, ts->wbio);
	if (server) {
		SSL_set_accept_state(ts->ssl);
	} else {
		SSL_set_connect_state(ts->ssl);
		if (params->verify_host != NULL &&
		    (rc = set_verify_host(ts->ssl, params->verify_host)) != 0)
			goto fail_ts;
	}
	if (params->cert != NULL && params->key != NULL &&
	    (SSL_use_certificate(ts->ssl, params->cert) != 1 ||
	     SSL_use_PrivateKey(ts->ssl, params->key) != 1)) {
		rc = -EINVAL;
		goto fail_ts;
	}
	record_peer_addr(ts);
	rc = uv_read_start(handle, alloc_cb, read_cb);
	if (rc != 0)
		goto fail_ts;
	*out = ts;
	if (!server)
		pump(ts); /* send the ClientHello */
	return 0;
fail_ts:
	SSL_free(ts->ssl);
	alloc_free(ts);
fail_handle:
	/* Ownership was taken: the handle is closed and freed either way. */
	uv_close((uv_handle_t *)handle, free_handle);
	return rc;
}

int tls_stream_write(struct tls_stream *ts, const void *data, size_t len)
{
	if (ts->closing)
		return -EPIPE;
	if (!ts->open)
		return -EAGAIN;
	if (len == 0)
		return 0;
	int n = SSL_write(ts->ssl, data, (int)len);
	if (n != (int)len) {
		fail_stream(ts, -EPROTO, "TLS write failed");
		return -EPIPE;
	}
	int rc = flush_out(ts);
	if (rc != 0)
		fail_stream(ts, rc, "socket write failed");
	return rc;
}

size_t tls_stream_write_backlog(const struct tls_stream *ts)
{
	return ts->backlog;
}

uint64_t tls_stream_bytes_written(const struct tls_stream *ts)
{
	return ts->written;
}

uint64_t tls_stream_bytes_read(const struct tls_stream *ts)
{
	return ts->read;
}

void tls_stream_pause(struct tls_stream *ts)
{
	if (ts->paused || ts->closing)
		return;
	ts->paused = true;
	uv_read_stop(ts->handle);
}

void tls_stream_resume(struct tls_stream *ts)
{
	if (!ts->paused || ts->closing)
		return;
	ts->paused = false;
	if (uv_read_start(ts->handle, alloc_cb, read_cb) != 0) {
		fail_stream(ts, -EIO, "cannot resume reading");
		return;
	}
	/* Records may already sit decrypted in OpenSSL's buffers. */
	if (ts->open)
		pump(ts);
}

static void shutdown_done(uv_shutdown_t *req, int status)
{
	(void)status;
	close_now(req->handle->data);
}

void tls_stream_close(struct tls_stream *ts, int status)
{
	if (ts->closing)
		return;
	ts->closing = true;
	ts->close_status = status;
	if (ts->open) {
		SSL_shutdown(ts->ssl);
		flush_out(ts);
	}
	/* uv_shutdown lets queued writes (the last ack, close_notify) reach
	 * the peer before the socket closes. */
	if (uv_shutdown(&ts->shutdown_req, ts->handle, shutdown_done) != 0)
		close_now(ts);
}

void tls_stream_abort(struct tls_stream *ts, int status)
{
	if (!ts->closing || ts->close_status == 0)
		ts->close_status = status;
	ts->closing = true;
	close_now(ts);
}

bool tls_stream_is_open(const struct tls_stream *ts)
{
	return ts->open && !ts->closing;
}

const char *tls_stream_peer_cn(const struct tls_stream *ts)
{
	return ts->peer_cn;
}

const char *tls_stream_peer_ou(const struct tls_stream *ts)
{
	return ts->peer_ou;
}

const char *tls_stream_peer_addr(const struct tls_stream *ts)
{
	return ts->peer_addr;
}

const char *tls_stream_error(const struct tls_stream *ts)
{
	return ts->error;
}

void tls_stream_set_arg(struct tls_stream *ts, void *arg)
{
	ts->arg = arg;
}
