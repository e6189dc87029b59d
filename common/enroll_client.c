#include "common/enroll_client.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "common/alloc.h"
#include "common/tls.h"
#include "common/wire.h"

struct session {
	const struct enroll_request *req;
	struct enroll_result *res;
	struct wire_decoder *dec;
	struct tls_stream *ts;
	uv_timer_t timer;
	uv_connect_t connect;
	uv_tcp_t *tcp;
	SSL_CTX *ctx;
	int rc;
	bool done;
	char *err;
	size_t errlen;
};

static void free_handle(uv_handle_t *handle)
{
	alloc_free(handle);
}

static void finish(struct session *s, int rc)
{
	if (s->done)
		return;
	s->done = true;
	s->rc = rc;
	if (s->ts != NULL)
		tls_stream_close(s->ts, 0);
	uv_timer_stop(&s->timer);
}

/* The CA to keep for later connections: the pinned file as given, or the
 * one the collector sent, only if its fingerprint is the pinned one. */
static bool ca_matches_pin(struct session *s, const msgpack_object *root)
{
	const char *pem;
	size_t len;
	char fp[65], pin[65];
	if (s->req->ca != NULL) {
		X509_up_ref(s->req->ca);
		s->res->ca = s->req->ca;
		return true;
	}
	if (wire_get_strview(root, "ca", &pem, &len) != 0 ||
	    pki_cert_from_pem(pem, len, &s->res->ca) != 0)
		return false;
	if (pki_cert_fingerprint(s->res->ca, fp) != 0 ||
	    tls_parse_fingerprint(s->req->ca_sha256, pin) != 0 ||
	    strcmp(fp, pin) != 0) {
		X509_free(s->res->ca);
		s->res->ca = NULL;
		return false;
	}
	return true;
}

static int on_frame(void *arg, const char *body, size_t len)
{
	struct session *s = arg;
	struct wire_msg msg;
	if (wire_msg_parse(&msg, body, len) != 0) {
		snprintf(s->err, s->errlen, "malformed reply from collector");
		finish(s, -EBADMSG);
		return -1;
	}
	if (msg.type == WIRE_ERROR) {
		char code[32] = "?", text[256] = "";
		wire_get_str(msg.root, "code", code, sizeof(code));
		wire_get_str(msg.root, "msg", text, sizeof(text));
		snprintf(s->err, s->errlen, "enrollment refused: %s: %s", code,
			 text);
		finish(s, -EACCES);
	} else if (msg.type == WIRE_ENROLLED) {
		const char *pem;
		size_t pem_len;
		if (wire_get_str(msg.root, "agent", s->res->agent,
				 sizeof(s->res->agent)) != 0 ||
		    !event_agent_id_valid(s->res->agent) ||
		    wire_get_str(msg.root, "school", s->res->school,
				 sizeof(s->res->school)) != 0 ||
		    wire_get_strview(msg.root, "cert", &pem, &pem_len) != 0 ||
		    pki_cert_from_pem(pem, pem_len, &s->res->cert) != 0) {
			snprintf(s->err, s->errlen,
				 "collector sent an incomplete certificate");
			finish(s, -EBADMSG);
		} else if (!ca_matches_pin(s, msg.root)) {
			snprintf(s->err, s->errlen,
				 "the CA the collector sent does not match the "
				 "pinned one");
			X509_free(s->res->cert);
			s->res->cert = NULL;
			finish(s, -EPERM);
		} else if (X509_check_private_key(s->res->cert,
						  s->req->key) != 1) {
			snprintf(s->err, s->errlen,
				 "collector signed a different key");
			X509_free(s->res->cert);
			s->res->cert = NULL;
			finish(s, -EBADMSG);
		} else {
			finish(s, 0);
		}
	} else {
		snprintf(s->err, s->errlen, "unexpected '%s' frame",
			 wire_type_name(msg.type));
		finish(s, -EBADMSG);
	}
	wire_msg_release(&msg);
	return -1; /* one reply is all there is */
}

static void on_open(struct tls_stream *ts, void *arg)
{
	struct session *s = arg;
	X509_REQ *csr = NULL;
	char *pem = NULL;
	struct wire_out out;
	if (pki_csr_new(s->req->key, &csr) != 0 ||
	    pki_csr_to_pem(csr, &pem, NULL) != 0) {
		X509_REQ_free(csr);
		snprintf(s->err, s->errlen, "cannot build the CSR");
		finish(s, -EINVAL);
		return;
	}
	wire_out_begin(&out, WIRE_ENROLL, 5);
	wire_pack_kv_u64(&out.pk, "v", WIRE_VERSION);
	wire_pack_kv_str(&out.pk, "token", s->req->token);
	wire_pack_kv_str(&out.pk, "csr", pem);
	wire_pack_kv_str(&out.pk, "host", s->req->hostname);
	wire_pack_kv_str(&out.pk, "ver", s->req->version);
	/* A failed write fails the stream, whose close handles it. */
	if (wire_out_finish(&out) == 0)
		EW_IGNORE(tls_stream_write(ts, out.buf.data, out.buf.size));
	wire_out_release(&out);
	alloc_free(pem);
	X509_REQ_free(csr);
}

static void on_data(struct tls_stream *ts, const char *data, size_t len,
		    void *arg)
{
	struct session *s = arg;
	(void)ts;
	if (!s->done && wire_decoder_feed(s->dec, data, len, on_frame, s) ==
				-EMSGSIZE) {
		snprintf(s->err, s->errlen, "oversized reply from collector");
		finish(s, -EBADMSG);
	}
}

static void on_close(struct tls_stream *ts, int status, void *arg)
{
	struct session *s = arg;
	s->ts = NULL;
	if (!s->done) {
		const char *why = tls_stream_error(ts);
		snprintf(s->err, s->errlen,
			 "connection to %s:%d closed before enrollment "
			 "finished: %s",
			 s->req->host, s->req->port,
			 why[0] ? why : uv_strerror(status ? status : UV_EOF));
		finish(s, status ? status : -ECONNRESET);
	}
	uv_close((uv_handle_t *)&s->timer, NULL);
}

static const struct tls_stream_ops ops = {on_open, on_data, on_close};

static void on_connect(uv_connect_t *req, int status)
{
	struct session *s = req->data;
	if (uv_is_closing((uv_handle_t *)req->handle))
		return; /* timed out while connecting */
	if (status < 0) {
		snprintf(s->err, s->errlen, "cannot connect to %s:%d: %s",
			 s->req->host, s->req->port, uv_strerror(status));
		s->done = true;
		s->rc = status;
		uv_close((uv_handle_t *)req->handle,
			 free_handle);
		uv_close((uv_handle_t *)&s->timer, NULL);
		return;
	}
	struct tls_stream_params p = {.verify_host = s->req->host};
	if (tls_stream_new(req->handle, s->ctx, &p, &ops, s, &s->ts) != 0) {
		snprintf(s->err, s->errlen, "TLS setup failed");
		s->done = true;
		s->rc = -EPROTO;
		uv_close((uv_handle_t *)&s->timer, NULL);
	}
}

static void on_timeout(uv_timer_t *timer)
{
	struct session *s = timer->data;
	snprintf(s->err, s->errlen, "enrollment with %s:%d timed out",
		 s->req->host, s->req->port);
	bool connecting = s->ts == NULL;
	finish(s, -ETIMEDOUT);
	if (connecting) {
		uv_close((uv_handle_t *)s->tcp, free_handle);
		uv_close((uv_handle_t *)&s->timer, NULL);
	}
}

static int resolve(uv_loop_t *loop, const char *host, int port,
		   struct sockaddr_storage *addr)
{
	uv_getaddrinfo_t req;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	char service[16];
	snprintf(service, sizeof(service), "%d", port);
	int rc = uv_getaddrinfo(loop, &req, NULL, host, service, &hints);
	if (rc != 0)
		return rc;
	memcpy(addr, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
	uv_freeaddrinfo(req.addrinfo);
	return 0;
}

int enroll_client_run(const struct enroll_request *req,
		      struct enroll_result *res, char *err, size_t errlen)
{
	struct session s = {.req = req, .res = res, .err = err,
			    .errlen = errlen};
	struct sockaddr_storage addr;
	uv_loop_t loop;
	int rc;

	memset(res, 0, sizeof(*res));
	err[0] = '\0';
	if ((rc = uv_loop_init(&loop)) != 0)
		return rc;
	if ((rc = resolve(&loop, req->host, req->port, &addr)) != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", req->host,
			 uv_strerror(rc));
		uv_loop_close(&loop);
		return rc;
	}
	rc = req->ca ? tls_ctx_new(false, req->ca, NULL, NULL, false, &s.ctx,
				   err, errlen)
		     : tls_ctx_new_pinned(req->ca_sha256 ? req->ca_sha256 : "",
					  &s.ctx, err, errlen);
	if (rc != 0) {
		uv_loop_close(&loop);
		return rc;
	}
	s.dec = wire_decoder_new();
	uv_tcp_t *tcp = alloc_bytes(sizeof(*tcp));
	if (s.dec == NULL || tcp == NULL) {
		alloc_free(tcp);
		rc = -ENOMEM;
		goto done;
	}
	uv_tcp_init(&loop, tcp);
	s.tcp = tcp;
	uv_timer_init(&loop, &s.timer);
	s.timer.data = &s;
	uv_timer_start(&s.timer, on_timeout,
		       req->timeout_ms > 0 ? (uint64_t)req->timeout_ms : 30000, 0);
	s.connect.data = &s;
	rc = uv_tcp_connect(&s.connect, tcp, (struct sockaddr *)&addr,
			    on_connect);
	if (rc != 0) {
		snprintf(err, errlen, "cannot connect to %s:%d: %s", req->host,
			 req->port, uv_strerror(rc));
		uv_close((uv_handle_t *)tcp, free_handle);
		uv_close((uv_handle_t *)&s.timer, NULL);
		uv_run(&loop, UV_RUN_DEFAULT);
		goto done;
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	rc = s.rc;
	if (rc != 0 && res->ca != NULL) {
		X509_free(res->ca);
		res->ca = NULL;
	}
done:
	wire_decoder_free(s.dec);
	SSL_CTX_free(s.ctx);
	uv_loop_close(&loop);
	return rc;
}
