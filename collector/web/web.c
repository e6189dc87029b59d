/* web: the HTTPS server of the console, h2o on the collector's loop. */
#include "collector/web/web.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <h2o.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "collector/web/handler.h"
#include "common/alloc.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/timeutil.h"

#define STOP_GRACE_MS 2000
#define STOP_POLL_MS 50

/* Every answer, errors included: nothing inline (no 'unsafe-inline'
 * anywhere), nothing framed, nothing from elsewhere. */
#define CSP                                                                  \
	"default-src 'self'; script-src 'self'; style-src 'self'; "          \
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; "      \
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

struct web {
	uv_loop_t *loop;
	struct store *store;
	struct store *reader; /* the pages' reads; store when unshareable */
	struct web_options opts;
	char listen[64], cert[512], key[512], state_dir[512], policy_dir[512];
	char dest_names[WEB_MAX_DESTS][64];
	const char *dests[WEB_MAX_DESTS];
	const char *rule_sets[WEB_MAX_RULE_SETS];
	h2o_globalconf_t config;
	h2o_context_t ctx;
	h2o_accept_ctx_t accept_ctx;
	SSL_CTX *ssl;
	uv_tcp_t listener;
	bool listening;
	int port;
	int live;	/* accepted connections not yet closed */
	bool stopping;
	bool dead;	/* past the grace: handlers answer 503 */
	uv_timer_t stop_timer;
	int64_t stop_deadline_ms;
	void (*stop_cb)(void *arg, int lingering);
	void *stop_arg;
	/* Requests waiting for the worker, oldest first, and whether one is
	 * on it: one at a time, so handlers never run concurrently. */
	struct web_job *queue_head, *queue_tail;
	bool working;
	int jobs; /* queued or running */
};

struct web_handler {
	h2o_handler_t super;
	struct web *w;
};

/* An accepted TCP connection: h2o owns the handle's data field, so the
 * server is found through the struct around it. */
struct web_conn {
	uv_tcp_t tcp;
	struct web *w;
};

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return status >= 500 ? "Internal Server Error" : "Error";
	}
}

static void add_header(h2o_req_t *req, const char *name, const char *value)
{
	h2o_iovec_t v = h2o_strdup(&req->pool, value, strlen(value));
	h2o_add_header_by_str(&req->pool, &req->res.headers, name,
			      strlen(name), 1, NULL, v.base, v.len);
}

static void send_response(struct web *w, h2o_req_t *req,
			  struct web_response *res)
{
	req->res.status = res->status;
	req->res.reason = reason_phrase(res->status);
	add_header(req, "content-security-policy", CSP);
	if (w->ssl != NULL)
		add_header(req, "strict-transport-security",
			   "max-age=31536000; includeSubDomains");
	add_header(req, "x-content-type-options", "nosniff");
	/* same-origin, not no-referrer: with no-referrer a browser sends
	 * "Origin: null" on our own forms, and the Origin check needs it. */
	add_header(req, "referrer-policy", "same-origin");
	add_header(req, "x-frame-options", "DENY");
	add_header(req, "cross-origin-opener-policy", "same-origin");
	add_header(req, "cache-control",
		   res->cacheable ? "public, max-age=31536000, immutable"
				  : "no-store");
	if (res->content_type)
		add_header(req, "content-type", res->content_type);
	for (int i = 0; i < res->ncookies; i++)
		add_header(req, "set-cookie", res->cookies[i]);
	if (res->location[0])
		add_header(req, "location", res->location);
	if (res->disposition[0])
		add_header(req, "content-disposition", res->disposition);
	if (res->body.failed) {
		req->res.status = 500;
		req->res.reason = reason_phrase(500);
		h2o_send_inline(req, "", 0);
		return;
	}
	h2o_send_inline(req, res->body.data ? res->body.data : "",
			res->body.len);
}

static void peer_address(h2o_req_t *req, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t n = req->conn->callbacks->get_peername(
		req->conn, (struct sockaddr *)&ss);
	out[0] = '\0';
	if (n == 0)
		snprintf(out, cap, "local");
	else if (ss.ss_family == AF_INET)
		uv_ip4_name((struct sockaddr_in *)&ss, out, cap);
	else if (ss.ss_family == AF_INET6)
		uv_ip6_name((struct sockaddr_in6 *)&ss, out, cap);
	else
		snprintf(out, cap, "local");
}

/* The header block's limits, checked before routing: h2o's own bound
 * (about 400 KiB, compiled in) is far above what a browser sends. */
static int check_headers(h2o_req_t *req, struct web_header *out,
			 size_t *nout)
{
	size_t total = 0, n = req->headers.size;
	if (n > WEB_MAX_HEADERS)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		const h2o_header_t *h = &req->headers.entries[i];
		total += h->name->len + h->value.len;
		if (total > WEB_MAX_HEADER_BYTES)
			return -E2BIG;
		out[i] = (struct web_header){h->name->base, h->name->len,
					     h->value.base, h->value.len};
	}
	*nout = n;
	return 0;
}

/* A request on its way through the worker. Handlers run off the loop
 * (libuv's threadpool), so a slow page or a login's argon2id never holds
 * up the agents' ingest acks; one job at a time keeps the handlers'
 * code single-threaded. The request's bytes are copied: h2o frees the
 * request when its client goes away, which may be while the job runs. */
struct web_job {
	uv_work_t work;
	struct web *w;
	h2o_req_t *req;		 /* NULL once h2o disposed it */
	struct web_job **ref;	 /* in req's pool: lets dispose find us */
	struct web_job *next;
	char *bytes;		 /* the copies wr points into */
	struct web_header headers[WEB_MAX_HEADERS];
	struct web_request wr;
	struct web_response res;
	struct web_ctx ctx;
};

static void on_req_disposed(void *p)
{
	struct web_job **ref = p;
	if (*ref != NULL)
		(*ref)->req = NULL;
}

static char *copy_out(char **at, const char *src, size_t len)
{
	char *dst = *at;
	if (len > 0)
		memcpy(dst, src, len);
	dst[len] = '\0';
	*at += len + 1;
	return dst;
}

static int copy_request(struct web_job *j)
{
	struct web_request *wr = &j->wr;
	size_t total = wr->method_len + wr->path_len + wr->query_len +
		       wr->authority_len + wr->body_len + 5;
	for (size_t i = 0; i < wr->nheaders; i++)
		total += j->headers[i].name_len + j->headers[i].value_len + 2;
	char *at = j->bytes = alloc_bytes(total);
	if (at == NULL)
		return -ENOMEM;
	wr->method = copy_out(&at, wr->method, wr->method_len);
	wr->path = copy_out(&at, wr->path, wr->path_len);
	wr->query = copy_out(&at, wr->query, wr->query_len);
	wr->authority = copy_out(&at, wr->authority, wr->authority_len);
	wr->body = copy_out(&at, wr->body, wr->body_len);
	for (size_t i = 0; i < wr->nheaders; i++) {
		struct web_header *h = &j->headers[i];
		h->name = copy_out(&at, h->name, h->name_len);
		h->value = copy_out(&at, h->value, h->value_len);
	}
	wr->headers = j->headers;
	return 0;
}

static void job_free(struct web_job *j)
{
	dynbuf_free(&j->res.body);
	alloc_free(j->bytes);
	alloc_free(j);
}

static void job_run(uv_work_t *work)
{
	struct web_job *j = work->data;
	j->ctx.now_us = timeutil_now_us();
	pages_dispatch(&j->ctx);
}

static void job_next(struct web *w);

static void job_done(uv_work_t *work, int status)
{
	struct web_job *j = work->data;
	struct web *w = j->w;
	(void)status;
	/* ref lives in the request's pool: only while the request does. */
	if (j->req != NULL) {
		*j->ref = NULL;
		send_response(w, j->req, &j->res);
	}
	job_free(j);
	w->jobs--;
	w->working = false;
	job_next(w);
}

static void job_next(struct web *w)
{
	while (!w->working && w->queue_head != NULL) {
		struct web_job *j = w->queue_head;
		w->queue_head = j->next;
		if (w->queue_head == NULL)
			w->queue_tail = NULL;
		/* Past the grace the store may be closing: answer, not run. */
		if (w->dead || j->req == NULL) {
			if (j->req != NULL) {
				*j->ref = NULL;
				j->res.status = 503;
				send_response(w, j->req, &j->res);
			}
			job_free(j);
			w->jobs--;
			continue;
		}
		w->working = true;
		if (uv_queue_work(w->loop, &j->work, job_run, job_done) != 0) {
			/* Not expected (only EINVAL): run it here. */
			job_run(&j->work);
			job_done(&j->work, 0);
		}
	}
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	struct web *w = ((struct web_handler *)self)->w;
	struct web_job *j = alloc_zeroed(1, sizeof(*j));
	if (j == NULL) {
		h2o_send_error_503(req, "Service Unavailable", "", 0);
		return 0;
	}
	struct web_request *wr = &j->wr;
	struct web_response *res = &j->res;
	size_t plen = req->path.len;
	j->w = w;
	j->req = req;
	j->work.data = j;
	j->ctx = (struct web_ctx){.req = wr, .res = res, .store = w->store,
				  .reader = w->reader, .opts = &w->opts};
	res->status = 500;
	dynbuf_init(&res->body, 8 << 20);
	if (w->dead) {
		res->status = 503;
		goto send_now;
	}
	if (check_headers(req, j->headers, &wr->nheaders) != 0) {
		res->status = 431;
		res->content_type = "text/plain; charset=utf-8";
		dynbuf_add_str(&res->body, "request headers too large\n");
		goto send_now;
	}
	wr->headers = j->headers;
	wr->authority = req->authority.base ? req->authority.base : "";
	wr->authority_len = req->authority.base ? req->authority.len : 0;
	wr->method = req->method.base;
	wr->method_len = req->method.len;
	if (req->query_at != SIZE_MAX) {
		plen = req->query_at;
		wr->query = req->path.base + req->query_at + 1;
		wr->query_len = req->path.len - req->query_at - 1;
	} else {
		wr->query = "";
	}
	wr->path = req->path.base;
	wr->path_len = plen;
	wr->body = req->entity.base ? req->entity.base : "";
	wr->body_len = req->entity.base ? req->entity.len : 0;
	peer_address(req, wr->peer, sizeof(wr->peer));
	if (copy_request(j) != 0)
		goto send_now;
	j->ref = h2o_mem_alloc_shared(&req->pool, sizeof(*j->ref),
				      on_req_disposed);
	*j->ref = j;
	w->jobs++;
	if (w->queue_tail != NULL)
		w->queue_tail->next = j;
	else
		w->queue_head = j;
	w->queue_tail = j;
	job_next(w);
	return 0;
send_now:
	send_response(w, req, res);
	job_free(j);
	return 0;
}

static void on_conn_close(uv_handle_t *h)
{
	struct web_conn *c = (struct web_conn *)h;
	c->w->live--;
	alloc_free(c);
}

static void on_accept(uv_stream_t *listener, int status)
{
	struct web *w = listener->data;
	struct web_conn *c;
	if (status != 0 || w->stopping)
		return;
	if ((c = alloc_zeroed(1, sizeof(*c))) == NULL)
		return;
	c->w = w;
	uv_tcp_init(w->loop, &c->tcp);
	w->live++;
	if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
		uv_close((uv_handle_t *)&c->tcp, on_conn_close);
		return;
	}
	/* Small answers go out at once, not after the client's delayed ACK. */
	uv_tcp_nodelay(&c->tcp, 1);
	h2o_socket_t *sock =
		h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_conn_close);
	h2o_accept(&w->accept_ctx, sock);
}

void web_serve_stream(struct web *w, uv_stream_t *stream,
		      uv_close_cb on_close)
{
	h2o_socket_t *sock = h2o_uv_socket_create(stream, on_close);
	h2o_accept(&w->accept_ctx, sock);
}

/* TLS 1.2 and 1.3 only, forward-secret AEAD suites for 1.2, no
 * compression or renegotiation. */
static int make_tls(struct web *w, char *err, size_t errlen)
{
	w->ssl = SSL_CTX_new(TLS_server_method());
	if (w->ssl == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(w->ssl, TLS1_2_VERSION);
	SSL_CTX_set_options(w->ssl, SSL_OP_NO_COMPRESSION |
					    SSL_OP_NO_RENEGOTIATION |
					    SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_set_cipher_list(w->ssl, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1 ||
	    SSL_CTX_use_certificate_chain_file(w->ssl, w->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(w->ssl, w->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(w->ssl) != 1)
		goto fail;
	return 0;
fail: {
	char why[256];
	ERR_error_string_n(ERR_get_error(), why, sizeof(why));
	snprintf(err, errlen,
		 "web: cannot set up TLS with certificate %s and key %s: %s "
		 "(check web.cert and web.key in collector.yaml)",
		 w->cert, w->key, why);
	ERR_clear_error();
	return -EINVAL;
}
}

static int start_listener(struct web *w, char *err, size_t errlen)
{
	struct sockaddr_storage addr;
	struct sockaddr_storage bound;
	int rc, len = sizeof(bound);
	if (uv_ip4_addr(w->listen, w->opts.port, (struct sockaddr_in *)&addr) &&
	    uv_ip6_addr(w->listen, w->opts.port,
			(struct sockaddr_in6 *)&addr)) {
		snprintf(err, errlen, "web: listen address '%s' is not an IP "
			 "address", w->listen);
		return -EINVAL;
	}
	uv_tcp_init(w->loop, &w->listener);
	w->listener.data = w;
	w->listening = true;
	if ((rc = uv_tcp_bind(&w->listener, (struct sockaddr *)&addr, 0)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&w->listener, 128, on_accept)) != 0) {
		snprintf(err, errlen, "web: cannot listen on %s port %d: %s",
			 w->listen, w->opts.port, uv_strerror(rc));
		return rc;
	}
	uv_tcp_getsockname(&w->listener, (struct sockaddr *)&bound, &len);
	w->port = ntohs(bound.ss_family == AF_INET6
				? ((struct sockaddr_in6 *)&bound)->sin6_port
				: ((struct sockaddr_in *)&bound)->sin_port);
	return 0;
}

/* The port for scripts when the kernel chose it. */
static void write_port_file(struct web *w)
{
	char path[600], text[16];
	int n = snprintf(text, sizeof(text), "%d\n", w->port);
	snprintf(path, sizeof(path), "%s/web.port", w->state_dir);
	if (fs_write_replace(path, text, (size_t)n, 0644) != 0)
		log_warn("web: cannot write %s", path);
}

/* The pages read through a connection of their own, so that an officer's
 * page never queues behind ingest, enrolment or the day's snapshot on the
 * store's lock. A store that cannot share its file (in memory: the fuzz
 * harness) is read directly. */
static int open_reader(struct web *w, char *err, size_t errlen)
{
	int rc = store_open_reader(w->store, &w->reader, err, errlen);
	if (rc == -ENOTSUP) {
		w->reader = w->store;
		return 0;
	}
	if (rc != 0) {
		char why[400];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "web: the console's read connection: %s",
			 why);
	}
	return rc;
}

static void close_reader(struct web *w)
{
	if (w->reader != NULL && w->reader != w->store)
		store_close(w->reader);
	w->reader = NULL;
}

/* Every path reaches the same handler; gzip only where an answer never
 * holds a secret. An HTML page carries the session's CSRF token beside
 * values an attacker may choose (a name from a PC, a query), and a
 * compressed page's length would leak the token byte by byte (BREACH).
 * The static assets and the JSON API hold no secret: a token is shown
 * once, on an HTML page. */
static const struct {
	const char *prefix;
	bool gzip;
} paths[] = {
	{"/static/", true},
	{"/api/", true},
	{"/", false},
};

int web_start(uv_loop_t *loop, struct store *st,
	      const struct web_options *opts, struct web **out, char *err,
	      size_t errlen)
{
	struct web *w = alloc_zeroed(1, sizeof(*w));
	int rc;
	*out = NULL;
	if (w == NULL)
		return -ENOMEM;
	w->loop = loop;
	w->store = st;
	w->opts = *opts;
	snprintf(w->listen, sizeof(w->listen), "%s",
		 opts->listen ? opts->listen : "127.0.0.1");
	snprintf(w->cert, sizeof(w->cert), "%s",
		 opts->cert_file ? opts->cert_file : "");
	snprintf(w->key, sizeof(w->key), "%s",
		 opts->key_file ? opts->key_file : "");
	snprintf(w->state_dir, sizeof(w->state_dir), "%s",
		 opts->state_dir ? opts->state_dir : ".");
	w->opts.listen = w->listen;
	w->opts.cert_file = w->cert;
	w->opts.key_file = w->key;
	w->opts.state_dir = w->state_dir;
	w->opts.forward_dests = w->dests;
	w->opts.nforward_dests = 0;
	for (size_t i = 0; i < opts->nforward_dests && i < WEB_MAX_DESTS; i++) {
		snprintf(w->dest_names[i], sizeof(w->dest_names[i]), "%s",
			 opts->forward_dests[i]);
		w->dests[w->opts.nforward_dests++] = w->dest_names[i];
	}
	w->opts.rule_sets = w->rule_sets;
	w->opts.nrule_sets = 0;
	for (size_t i = 0; i < opts->nrule_sets && i < WEB_MAX_RULE_SETS; i++)
		w->rule_sets[w->opts.nrule_sets++] = opts->rule_sets[i];
	if (opts->policy_dir != NULL) {
		snprintf(w->policy_dir, sizeof(w->policy_dir), "%s",
			 opts->policy_dir);
		w->opts.policy_dir = w->policy_dir;
	}
	if (opts->cert_file != NULL && (rc = make_tls(w, err, errlen)) != 0) {
		alloc_free(w);
		return rc;
	}
	if ((rc = open_reader(w, err, errlen)) != 0) {
		SSL_CTX_free(w->ssl);
		alloc_free(w);
		return rc;
	}
	h2o_config_init(&w->config);
	w->config.max_request_entity_size = WEB_MAX_BODY;
	w->config.server_name = h2o_iovec_init(H2O_STRLIT("eduwatch"));
	w->config.http1.req_timeout = 10000;
	w->config.handshake_timeout = 10000;
	h2o_hostconf_t *host = h2o_config_register_host(
		&w->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	/* h2o's compressor asks the host's type map whether a type
	 * compresses; its defaults do not know text/javascript. */
	h2o_mimemap_define_mimetype(host->mimemap, "js", "text/javascript",
				    NULL);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		h2o_pathconf_t *path =
			h2o_config_register_path(host, paths[i].prefix, 0);
		struct web_handler *h = (struct web_handler *)h2o_create_handler(
			path, sizeof(*h));
		h->super.on_req = on_req;
		h->w = w;
		if (paths[i].gzip) {
			h2o_compress_args_t gz = {.min_size = 1024,
						  .gzip = {.quality = 5},
						  .brotli = {.quality = -1}};
			h2o_compress_register(path, &gz);
		}
	}
	h2o_context_init(&w->ctx, loop, &w->config);
	w->accept_ctx.ctx = &w->ctx;
	w->accept_ctx.hosts = w->config.hosts;
	w->accept_ctx.ssl_ctx = w->ssl;
	if (opts->port >= 0) {
		if ((rc = start_listener(w, err, errlen)) != 0) {
			w->stopping = true;
			uv_close((uv_handle_t *)&w->listener, NULL);
			h2o_context_dispose(&w->ctx);
			h2o_config_dispose(&w->config);
			SSL_CTX_free(w->ssl);
			close_reader(w);
			/* The closes are pending: free after they ran. */
			uv_run(loop, UV_RUN_NOWAIT);
			alloc_free(w);
			return rc;
		}
		write_port_file(w);
		log_info("web: console on https://%s:%d/", w->listen, w->port);
	}
	*out = w;
	return 0;
}

int web_port(const struct web *w)
{
	return w->port;
}

static void on_stop_timer_closed(uv_handle_t *h)
{
	struct web *w = h->data;
	if (w->live == 0 && w->jobs == 0)
		alloc_free(w);
}

/* Called by the stop timer: every 50 ms until the connections are gone or
 * the grace is over, then once more, an iteration after h2o's context was
 * disposed, so that the timers it closed are closed before the memory
 * that holds them is freed. */
static void on_stop_poll(uv_timer_t *t)
{
	struct web *w = t->data;
	void (*cb)(void *, int) = w->stop_cb;
	if (w->dead || w->ctx.loop == NULL) {
		uv_close((uv_handle_t *)t, on_stop_timer_closed);
		return;
	}
	if ((w->live > 0 || w->jobs > 0) &&
	    (int64_t)uv_now(w->loop) < w->stop_deadline_ms)
		return;
	w->stop_cb = NULL;
	if (w->live > 0 || w->jobs > 0) {
		/* A connection that outlived the grace keeps h2o's context:
		 * the process is about to exit, and freeing the context under
		 * that connection would be a use after free. */
		w->dead = true;
		log_warn("web: %d connection(s) still open and %d request(s)"
			 " in the worker at shutdown", w->live, w->jobs);
	} else {
		/* request_shutdown armed HTTP/2's graceful-close timer, and
		 * h2o asserts that no timer is armed when it is disposed. */
		if (h2o_timeout_is_linked(&w->ctx.http2._graceful_shutdown_timeout))
			h2o_timeout_unlink(&w->ctx.http2._graceful_shutdown_timeout);
		h2o_context_dispose(&w->ctx);
		h2o_config_dispose(&w->config);
		SSL_CTX_free(w->ssl);
		w->ssl = NULL;
		close_reader(w);
		w->ctx.loop = NULL;
	}
	if (cb)
		cb(w->stop_arg, w->live + w->jobs);
	if (!w->dead)
		uv_timer_start(t, on_stop_poll, 0, 0);
	else
		uv_close((uv_handle_t *)t, NULL);
}

void web_stop(struct web *w, void (*cb)(void *arg, int lingering), void *arg)
{
	if (w == NULL) {
		if (cb)
			cb(arg, 0);
		return;
	}
	w->stopping = true;
	w->stop_cb = cb;
	w->stop_arg = arg;
	if (w->listening)
		uv_close((uv_handle_t *)&w->listener, NULL);
	h2o_context_request_shutdown(&w->ctx);
	w->stop_deadline_ms = (int64_t)uv_now(w->loop) + STOP_GRACE_MS;
	uv_timer_init(w->loop, &w->stop_timer);
	w->stop_timer.data = w;
	uv_timer_start(&w->stop_timer, on_stop_poll, 0, STOP_POLL_MS);
}
