#include "collector/enroll.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/pki.h"
#include "common/tls.h"
#include "common/wire.h"

#define ENROLL_TIMEOUT_MS 15000

struct enroll {
	uv_loop_t *loop;
	SSL_CTX *ctx;
	struct ca *ca;
	struct store *store;
	uv_tcp_t listener;
	struct enroll_stats stats;
	int open;
	bool stopping;
};

struct request {
	struct enroll *en;
	struct tls_stream *ts;
	struct wire_decoder *dec;
	uv_timer_t timer;
	uv_work_t work;
	bool working;
	bool closed;	 /* the TLS stream is gone */
	bool timer_done; /* the timer's close callback has run */
	char addr[64];
	/* Input, copied out of the frame. */
	char token[128];
	char host[STORE_NAME_MAX + 1];
	char *csr;
	size_t csr_len;
	/* Output. */
	char agent[EVENT_AGENT_MAX + 1];
	char school[STORE_CODE_MAX + 1];
	char *cert_pem;
	const char *error_code;
	char error_msg[160];
	uint64_t *error_counter;
};

void enroll_token_hash(const char *token, unsigned char hash[32])
{
	unsigned int n = 32;
	EVP_Digest(token, strlen(token), hash, &n, EVP_sha256(), NULL);
}

int enroll_token_new(char token[64], unsigned char hash[32])
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[32];
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	memcpy(token, "ewt_", 4);
	/* 32 random bytes, 6 bits per character: 43 characters, 256 bits. */
	for (int i = 0; i < 43; i++) {
		int bit = i * 6, byte = bit / 8, shift = bit % 8;
		unsigned v = raw[byte] << 8 | (byte + 1 < 32 ? raw[byte + 1] : 0);
		token[4 + i] = alphabet[(v >> (10 - shift)) & 63];
	}
	token[47] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	enroll_token_hash(token, hash);
	return 0;
}

static void request_maybe_free(struct request *r)
{
	if (!r->closed || r->working || !r->timer_done)
		return;
	wire_decoder_free(r->dec);
	OPENSSL_cleanse(r->token, sizeof(r->token));
	alloc_free(r->csr);
	alloc_free(r->cert_pem);
	alloc_free(r);
}

static void timer_closed(uv_handle_t *handle)
{
	struct request *r = handle->data;
	r->timer_done = true;
	request_maybe_free(r);
}

static void reply(struct request *r)
{
	struct wire_out out;
	if (r->error_code != NULL) {
		wire_out_begin(&out, WIRE_ERROR, 2);
		wire_pack_kv_str(&out.pk, "code", r->error_code);
		wire_pack_kv_str(&out.pk, "msg", r->error_msg);
	} else {
		wire_out_begin(&out, WIRE_ENROLLED, 4);
		wire_pack_kv_str(&out.pk, "agent", r->agent);
		wire_pack_kv_str(&out.pk, "school", r->school);
		wire_pack_kv_str(&out.pk, "cert", r->cert_pem);
		wire_pack_kv_str(&out.pk, "ca", ca_cert_pem(r->en->ca));
	}
	if (wire_out_finish(&out) == 0 && r->ts != NULL)
		tls_stream_write(r->ts, out.buf.data, out.buf.size);
	wire_out_release(&out);
	if (r->ts != NULL)
		tls_stream_close(r->ts, 0);
}

static void refuse(struct request *r, const char *code, uint64_t *counter,
		   const char *msg)
{
	r->error_code = code;
	r->error_counter = counter;
	snprintf(r->error_msg, sizeof(r->error_msg), "%s", msg);
}

/* Threadpool: token, CSR, id, signature, agent row. */
static void do_enroll(uv_work_t *work)
{
	struct request *r = work->data;
	struct enroll *en = r->en;
	unsigned char hash[32];
	enum store_token_result result;
	EVP_PKEY *pub = NULL;
	X509 *cert = NULL;

	if (pki_csr_parse(r->csr, r->csr_len, &pub) != 0) {
		refuse(r, "bad_csr", &en->stats.bad_requests,
		       "the CSR is not a valid self-signed P-256 request");
		return;
	}
	enroll_token_hash(r->token, hash);
	if (store_token_consume(en->store, hash, &result, r->school) != 0) {
		refuse(r, "internal", NULL, "database error; try again");
		goto done;
	}
	switch (result) {
	case STORE_TOKEN_UNKNOWN:
		refuse(r, "token_unknown", &en->stats.token_unknown,
		       "this token is not known to this collector");
		goto done;
	case STORE_TOKEN_EXPIRED:
		refuse(r, "token_expired", &en->stats.token_expired,
		       "this token has expired; ask for a new one");
		goto done;
	case STORE_TOKEN_USED:
		refuse(r, "token_used", &en->stats.token_used,
		       "this token has no uses left");
		goto done;
	case STORE_TOKEN_OK:
		break;
	}
	unsigned char raw[8];
	RAND_bytes(raw, sizeof(raw));
	snprintf(r->agent, sizeof(r->agent), "%s-%02x%02x%02x%02x%02x%02x%02x%02x",
		 r->school, raw[0], raw[1], raw[2], raw[3], raw[4], raw[5],
		 raw[6], raw[7]);
	char fingerprint[65];
	if (ca_issue_agent(en->ca, pub, r->agent, r->school, &cert) != 0 ||
	    pki_cert_fingerprint(cert, fingerprint) != 0 ||
	    pki_cert_to_pem(cert, &r->cert_pem, NULL) != 0 ||
	    store_agent_add(en->store, r->agent, r->school, r->host,
			    fingerprint) != 0) {
		refuse(r, "internal", NULL, "could not issue the certificate");
		goto done;
	}
	en->stats.enrolled++;
done:
	EVP_PKEY_free(pub);
	X509_free(cert);
}

static void after_enroll(uv_work_t *work, int status)
{
	struct request *r = work->data;
	r->working = false;
	if (status != 0)
		refuse(r, "internal", NULL, "cancelled");
	if (r->error_code != NULL) {
		if (r->error_counter)
			(*r->error_counter)++;
		log_warn("enroll: refused %s (host '%s'): %s: %s", r->addr,
			 r->host, r->error_code, r->error_msg);
	} else {
		log_info("enroll: enrolled agent %s for school %s (host '%s', "
			 "%s)", r->agent, r->school, r->host, r->addr);
	}
	reply(r);
	request_maybe_free(r);
}

static int on_frame(void *arg, const char *body, size_t len)
{
	struct request *r = arg;
	struct wire_msg msg;
	const char *csr;
	size_t csr_len;
	if (r->working || r->error_code)
		return -1;
	if (wire_msg_parse(&msg, body, len) != 0 || msg.type != WIRE_ENROLL ||
	    wire_get_str(msg.root, "token", r->token, sizeof(r->token)) != 0 ||
	    wire_get_strview(msg.root, "csr", &csr, &csr_len) != 0 ||
	    csr_len > 16384 ||
	    wire_get_str(msg.root, "host", r->host, sizeof(r->host)) != 0) {
		if (msg.root)
			wire_msg_release(&msg);
		refuse(r, "bad_frame", &r->en->stats.bad_requests,
		       "expected an enroll frame with token, csr and host");
		after_enroll(&r->work, 0);
		return -1;
	}
	r->csr = alloc_strndup(csr, csr_len);
	r->csr_len = csr_len;
	wire_msg_release(&msg);
	if (r->csr == NULL)
		return -1;
	r->working = true;
	r->work.data = r;
	uv_queue_work(r->en->loop, &r->work, do_enroll, after_enroll);
	return 0;
}

static void on_data(struct tls_stream *ts, const char *data, size_t len,
		    void *arg)
{
	struct request *r = arg;
	(void)ts;
	if (wire_decoder_feed(r->dec, data, len, on_frame, r) == -EMSGSIZE) {
		refuse(r, "bad_frame", &r->en->stats.bad_requests,
		       "frame too large");
		after_enroll(&r->work, 0);
	}
}

static void on_close(struct tls_stream *ts, int status, void *arg)
{
	struct request *r = arg;
	(void)status;
	if (!tls_stream_is_open(ts) && tls_stream_error(ts)[0])
		log_info("enroll: connection from %s failed: %s", r->addr,
			 tls_stream_error(ts));
	r->ts = NULL;
	r->en->open--;
	if (!uv_is_closing((uv_handle_t *)&r->timer))
		uv_close((uv_handle_t *)&r->timer, timer_closed);
	r->closed = true;
	request_maybe_free(r);
}

static const struct tls_stream_ops request_ops = {NULL, on_data, on_close};

static void on_timeout(uv_timer_t *timer)
{
	struct request *r = timer->data;
	if (r->ts != NULL && !r->working)
		tls_stream_close(r->ts, -ETIMEDOUT);
}

static void free_tcp(uv_handle_t *handle)
{
	alloc_free(handle);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct enroll *en = server->data;
	if (status < 0)
		return;
	uv_tcp_t *tcp = alloc_bytes(sizeof(*tcp));
	struct request *r = alloc_zeroed(1, sizeof(*r));
	if (tcp == NULL || r == NULL || (r->dec = wire_decoder_new()) == NULL) {
		alloc_free(tcp);
		if (r)
			wire_decoder_free(r->dec);
		alloc_free(r);
		return;
	}
	uv_tcp_init(en->loop, tcp);
	if (uv_accept(server, (uv_stream_t *)tcp) != 0 || en->open >= 1000) {
		uv_close((uv_handle_t *)tcp, free_tcp);
		wire_decoder_free(r->dec);
		alloc_free(r);
		return;
	}
	r->en = en;
	uv_timer_init(en->loop, &r->timer);
	r->timer.data = r;
	uv_timer_start(&r->timer, on_timeout, ENROLL_TIMEOUT_MS, 0);
	en->open++;
	struct tls_stream_params params = {.server = true};
	if (tls_stream_new((uv_stream_t *)tcp, en->ctx, &params, &request_ops,
			   r, &r->ts) != 0) {
		en->open--;
		r->closed = true;
		uv_close((uv_handle_t *)&r->timer, timer_closed);
		return;
	}
	snprintf(r->addr, sizeof(r->addr), "%s", tls_stream_peer_addr(r->ts));
}

/* The listener is embedded in struct enroll: free the owner with it. */
static void free_tcp_listener_owner(uv_handle_t *handle)
{
	alloc_free(handle->data);
}

int enroll_start(uv_loop_t *loop, SSL_CTX *ctx, struct ca *ca,
		 struct store *store, const char *host, int port,
		 struct enroll **out, char *err, size_t errlen)
{
	struct enroll *en = alloc_zeroed(1, sizeof(*en));
	struct sockaddr_storage addr;
	*out = NULL;
	if (en == NULL)
		return -ENOMEM;
	en->loop = loop;
	en->ctx = ctx;
	en->ca = ca;
	en->store = store;
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&addr) &&
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr)) {
		snprintf(err, errlen, "enroll: '%s' is not an IP address", host);
		alloc_free(en);
		return -EINVAL;
	}
	uv_tcp_init(loop, &en->listener);
	en->listener.data = en;
	int rc = uv_tcp_bind(&en->listener, (struct sockaddr *)&addr, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&en->listener, 256, on_connection);
	if (rc != 0) {
		snprintf(err, errlen, "enroll: cannot listen on %s:%d: %s", host,
			 port, uv_strerror(rc));
		uv_close((uv_handle_t *)&en->listener, free_tcp_listener_owner);
		return rc;
	}
	log_info("enroll: listening on %s:%d", host, port);
	*out = en;
	return 0;
}

void enroll_stop(struct enroll *en)
{
	if (en == NULL)
		return;
	en->stopping = true;
	uv_close((uv_handle_t *)&en->listener, free_tcp_listener_owner);
}

void enroll_get_stats(const struct enroll *en, struct enroll_stats *out)
{
	*out = en->stats;
}
