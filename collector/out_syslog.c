/* out_syslog: RFC 5424 messages carrying CEF, over TLS (RFC 5425) or
 * plain TCP, octet-counted or newline-framed. Syslog has no
 * acknowledgement: a written batch counts as delivered once the
 * connection is still open CONFIRM_MS after it (a receiver that went away
 * shows as EOF or reset); forward.c keeps the window. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "collector/forward.h"
#include "collector/output.h"
#include "common/alloc.h"
#include "common/dynbuf.h"
#include "common/tls.h"

/* How long a written batch must leave the connection open to count. */
#define CONFIRM_MS 200
#define IO_TIMEOUT_S 10

struct syslog_out {
	struct forward_dest dest;
	char host[256];
	enum syslog_framing framing;
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	struct dynbuf out; /* the batch being written, reused */
};

void forward_format_syslog(const struct store_alert *a,
			   const char *collector_host,
			   enum syslog_framing framing, struct dynbuf *out)
{
	char rt[32], ext_id[40], count[24], campaign[24] = "";
	snprintf(rt, sizeof(rt), "%lld", (long long)(a->first_us / 1000));
	snprintf(ext_id, sizeof(ext_id), "eduwatch-%llu",
		 (unsigned long long)a->id);
	snprintf(count, sizeof(count), "%lld", a->count);
	if (a->drill_campaign != 0)
		snprintf(campaign, sizeof(campaign), "%llu",
			 (unsigned long long)a->drill_campaign);
	const char *fname = output_file_name(a->file_path);
	struct cef_field fields[] = {
		{"rt", rt},
		{"externalId", ext_id},
		{"dvchost", collector_host},
		{"shost", a->hostname},
		{"src", a->src_ip},
		{"fname", fname},
		{"filePath", a->file_path},
		{"fileHash", a->file_hash},
		{"act", "alert"},
		{"outcome", a->state},
		{"cat", a->category},
		{"msg", a->title},
		{"cs1Label", "school"},
		{"cs1", a->school},
		{"cs2Label", "commune"},
		{"cs2", a->commune},
		{"cs3Label", "rule"},
		{"cs3", a->rule},
		{"cs4Label", "agent"},
		{"cs4", a->agent},
		{"cs5Label", "evidence"},
		{"cs5", a->evidence},
		{"cs6Label", "drill"},
		{"cs6", a->drill ? "true" : "false"},
		/* The red-team window the alert fell in; none: no field. */
		{"cn1Label", campaign[0] ? "drill_campaign" : ""},
		{"cn1", campaign},
		{"cnt", count},
	};
	struct cef_header hdr = {a->kind, a->title, a->severity};
	struct dynbuf cef;
	dynbuf_init(&cef, OUTPUT_ALERT_MAX_BYTES);
	cef_format(&cef, &hdr, fields, sizeof(fields) / sizeof(fields[0]));
	if (cef.failed) {
		if (!out->failed)
			out->failed = cef.failed;
		dynbuf_free(&cef);
		return;
	}
	struct syslog_meta meta = {
		.facility = 13,
		.severity = syslog_severity_from_cef(a->severity),
		.ts_us = a->first_us,
		.hostname = collector_host,
		.app = "eduwatch",
		.msgid = a->kind,
	};
	syslog_frame(out, &meta, cef.data, cef.len, framing);
	dynbuf_free(&cef);
}

static void disconnect(struct syslog_out *s)
{
	if (s->ssl) {
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
}

static int tcp_connect(struct syslog_out *s, struct output_report *r)
{
	char host[256], port[16];
	const char *colon = strrchr(s->dest.address, ':');
	snprintf(host, sizeof(host), "%.*s", (int)(colon - s->dest.address),
		 s->dest.address);
	snprintf(port, sizeof(port), "%s", colon + 1);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(r->error, sizeof(r->error), "resolve: %s",
			 gai_strerror(rc));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(r->error, sizeof(r->error), "connect: %s",
			 strerror_r(errno, host, sizeof(host)));
		return -1;
	}
	s->fd = fd;
	if (!s->dest.tls)
		return 0;
	s->ssl = SSL_new(s->ctx);
	char name[256];
	snprintf(name, sizeof(name), "%.*s", (int)(colon - s->dest.address),
		 s->dest.address);
	/* The certificate must name the address we dialled: a DNS name, or
	 * an IP literal in its IP SANs. */
	unsigned char ip[16];
	bool is_ip = inet_pton(AF_INET, name, ip) == 1 ||
		     inet_pton(AF_INET6, name, ip) == 1;
	bool named = s->ssl != NULL &&
		     (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl),
							    name) == 1
			    : SSL_set1_host(s->ssl, name) == 1 &&
				      SSL_set_tlsext_host_name(s->ssl, name) == 1);
	if (!named || !SSL_set_fd(s->ssl, fd) || SSL_connect(s->ssl) != 1) {
		tls_last_error(r->error, sizeof(r->error), "TLS handshake failed");
		disconnect(s);
		return -1;
	}
	return 0;
}

static int send_all(struct syslog_out *s, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n;
		if (s->ssl) {
			int w = SSL_write(s->ssl, data, (int)(len > 65536 ? 65536 : len));
			n = w > 0 ? w : -1;
		} else {
			n = send(s->fd, data, len, MSG_NOSIGNAL);
		}
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Is the receiver still there? A closed or reset connection shows as a
 * readable socket whose read gives EOF or an error; TLS records it may
 * send (session tickets) are read and dropped. */
static bool still_open(struct syslog_out *s)
{
	struct pollfd p = {.fd = s->fd, .events = POLLIN | POLLRDHUP};
	if (poll(&p, 1, 0) < 0)
		return false;
	if (p.revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL))
		return false;
	if (!(p.revents & POLLIN))
		return true;
	char buf[4096];
	if (s->ssl == NULL)
		return recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0;
	int flags = fcntl(s->fd, F_GETFL);
	fcntl(s->fd, F_SETFL, flags | O_NONBLOCK);
	int n = SSL_read(s->ssl, buf, sizeof(buf));
	int e = n > 0 ? SSL_ERROR_NONE : SSL_get_error(s->ssl, n);
	fcntl(s->fd, F_SETFL, flags);
	return e == SSL_ERROR_NONE || e == SSL_ERROR_WANT_READ;
}

static int syslog_open(const struct forward_dest *dest,
		       const char *collector_host, void **state, char *err,
		       size_t errlen)
{
	struct syslog_out *s = alloc_zeroed(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->dest = *dest;
	s->fd = -1;
	s->framing = strcmp(dest->framing, "newline") == 0
			     ? SYSLOG_NEWLINE
			     : SYSLOG_OCTET_COUNTING;
	snprintf(s->host, sizeof(s->host), "%s", collector_host);
	dynbuf_init(&s->out, OUTPUT_BATCH_MAX_BYTES);
	if (dest->tls) {
		int rc = tls_ctx_new_from_files(
			false, dest->ca[0] ? dest->ca : NULL,
			dest->cert[0] ? dest->cert : NULL,
			dest->key[0] ? dest->key : NULL, true, &s->ctx, err,
			errlen);
		if (rc != 0) {
			alloc_free(s);
			return rc;
		}
	}
	*state = s;
	return 0;
}

static enum output_status syslog_deliver(void *state,
					 const struct store_alert *alerts,
					 size_t n, struct output_report *r)
{
	struct syslog_out *s = state;
	if (s->fd < 0) {
		if (tcp_connect(s, r) != 0)
			return OUTPUT_RETRY;
		r->connected = true;
	}
	dynbuf_reset(&s->out);
	for (size_t i = 0; i < n; i++)
		forward_format_syslog(&alerts[i], s->host, s->framing, &s->out);
	if (s->out.failed || send_all(s, s->out.data, s->out.len) != 0) {
		snprintf(r->error, sizeof(r->error), "write failed");
		disconnect(s);
		return OUTPUT_RETRY;
	}
	return OUTPUT_OK;
}

static int syslog_confirm(void *state, const struct output_sent *window,
			  size_t n, uint64_t now_ms, struct output_report *r)
{
	struct syslog_out *s = state;
	size_t done = 0;
	if (s->fd < 0 || !still_open(s)) {
		snprintf(r->error, sizeof(r->error),
			 "receiver closed the connection");
		disconnect(s);
		return -1;
	}
	while (done < n && window[done].sent_ms + CONFIRM_MS <= now_ms)
		done++;
	return (int)done;
}

static void syslog_close(void *state)
{
	struct syslog_out *s = state;
	if (s == NULL)
		return;
	disconnect(s);
	SSL_CTX_free(s->ctx);
	dynbuf_free(&s->out);
	alloc_free(s);
}

const struct output output_syslog = {
	.name = "syslog",
	.open = syslog_open,
	.deliver = syslog_deliver,
	.confirm = syslog_confirm,
	.close = syslog_close,
};
