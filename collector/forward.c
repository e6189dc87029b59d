#include "collector/forward.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "collector/alert.h"
#include "common/alloc.h"
#include "common/event.h"
#include "common/jsonout.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/tls.h"
#include "common/version.h"
#include "common/wire.h"

#define BATCH 100
#define IDLE_POLL_MS 100
/* How long a written batch must leave the connection open to count. */
#define CONFIRM_MS 200
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 60000
#define IO_TIMEOUT_S 10

struct forwarder {
	struct store *store;
	struct forward_dest dest;
	char host[256];
	uv_thread_t thread;
	uv_mutex_t lock;
	uv_cond_t wake;
	bool stopping;
	struct forward_stats stats;
	/* syslog connection */
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	CURL *curl;
	/* the batch being sent */
	struct store_alert *batch;
	size_t nbatch;
	/* syslog: batches written on this connection but not yet confirmed
	 * (the connection has to stay open CONFIRM_MS after each) */
	struct inflight {
		uint64_t last_id;
		uint64_t sent_ms;
	} inflight[64];
	size_t ninflight;
	uint64_t sent_upto; /* the highest id written on this connection */
	/* https: the start of the last answer's body, for a dead letter's
	 * reason */
	char answer[160];
	size_t answer_len;
};

/* ---- formats ------------------------------------------------------------ */

static const char *ecs_categories(const char *category)
{
	if (strncmp(category, "malware", 7) == 0)
		return "[\"malware\"]";
	if (strcmp(category, "network-attack") == 0 ||
	    strcmp(category, "ioc") == 0)
		return "[\"network\",\"intrusion_detection\"]";
	if (strcmp(category, "compliance") == 0 ||
	    strcmp(category, "backup") == 0)
		return "[\"configuration\"]";
	return "[\"host\"]";
}

static void iso_time(int64_t us, char *buf, size_t cap)
{
	char base[32];
	timeutil_format_us(us, base, sizeof(base));
	/* 2026-11-29T05:39:19Z -> 2026-11-29T05:39:19.123Z */
	snprintf(buf, cap, "%.19s.%03lldZ", base, (long long)(us / 1000 % 1000));
}

/* The file's name: after the last separator, / or \\ (Windows). A path
 * cut in the middle (see json_cut_middle) keeps its tail, so the name
 * survives. */
static const char *file_name(const char *path)
{
	const char *name = path;
	for (const char *p = path; *p; p++)
		if (*p == '/' || *p == '\\')
			name = p + 1;
	return name;
}

static void kv(FILE *f, const char *key, const char *val)
{
	fprintf(f, "\"%s\":", key);
	json_print_string(f, val);
}

void forward_format_json(const struct store_alert *a, bool ocsf,
			 struct cef_buf *out)
{
	char *text = NULL, first[40], last[40], id[40];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (f == NULL) {
		out->failed = -ENOMEM;
		return;
	}
	iso_time(a->first_us, first, sizeof(first));
	iso_time(a->last_us, last, sizeof(last));
	snprintf(id, sizeof(id), "eduwatch-%llu", (unsigned long long)a->id);
	/* Stored evidence is our JSON, but possibly written by a version
	 * that let invalid UTF-8 through: sanitized on the way out. */
	const char *evidence = a->evidence[0] ? a->evidence : "{}";
	size_t evidence_len = strlen(evidence);
	const char *fname = file_name(a->file_path);
	if (!ocsf) {
		fprintf(f, "{\"@timestamp\":\"%s\",\"event\":{\"kind\":\"alert\","
			   "\"id\":\"%s\",\"category\":%s,\"severity\":%d,"
			   "\"created\":\"%s\",\"dataset\":\"eduwatch.alert\",",
			first, id, ecs_categories(a->category), a->severity, last);
		kv(f, "action", a->kind);
		fputs("},\"rule\":{", f);
		kv(f, "id", a->rule);
		fputc(',', f);
		kv(f, "name", a->title);
		fputs("},", f);
		kv(f, "message", a->title);
		fputs(",\"host\":{", f);
		kv(f, "name", a->hostname);
		fputc(',', f);
		kv(f, "id", a->agent);
		fputs("},\"organization\":{", f);
		kv(f, "id", a->school);
		fputs("},\"labels\":{", f);
		kv(f, "commune", a->commune);
		fprintf(f, ",\"drill\":\"%s\"},", a->drill ? "true" : "false");
		if (a->src_ip[0]) {
			fputs("\"source\":{", f);
			kv(f, "ip", a->src_ip);
			fputs("},", f);
		}
		if (a->file_path[0] || a->file_hash[0]) {
			fputs("\"file\":{", f);
			kv(f, "path", a->file_path);
			fputc(',', f);
			kv(f, "name", fname);
			fputs(",\"hash\":{", f);
			kv(f, "sha256", a->file_hash);
			fputs("}},", f);
		}
		fprintf(f, "\"observer\":{\"vendor\":\"eduwatch\",\"product\":"
			   "\"eduwatch-collector\",\"version\":\"%s\"},",
			EDUWATCH_VERSION);
		fprintf(f, "\"tags\":[%s],\"eduwatch\":{\"count\":%lld,",
			a->drill ? "\"drill\"" : "", a->count);
		kv(f, "state", a->state);
		fputs(",\"evidence\":", f);
		json_print_sanitized(f, evidence, evidence_len);
		fputs("}}", f);
	} else {
		bool compliance = strcmp(a->kind, "compliance.drop") == 0;
		/* OCSF severity_id: 1 informational .. 5 critical. */
		int sev = a->severity >= 9 ? 5 : a->severity >= 7 ? 4
			  : a->severity >= 4 ? 3 : a->severity >= 1 ? 2 : 1;
		fprintf(f, "{\"class_uid\":%d,\"category_uid\":2,"
			   "\"activity_id\":1,\"type_uid\":%d,\"severity_id\":%d,"
			   "\"time\":%lld,\"metadata\":{\"version\":\"1.1.0\","
			   "\"uid\":\"%s\",\"product\":{\"name\":"
			   "\"eduwatch-collector\",\"vendor_name\":\"eduwatch\","
			   "\"version\":\"%s\"}},\"finding_info\":{\"uid\":\"%s\",",
			compliance ? 2003 : 2004, compliance ? 200301 : 200401, sev,
			(long long)(a->first_us / 1000), id, EDUWATCH_VERSION, id);
		kv(f, "title", a->title);
		fputs(",\"types\":[", f);
		json_print_string(f, a->category);
		fprintf(f, "],\"first_seen_time\":%lld,\"last_seen_time\":%lld},",
			(long long)(a->first_us / 1000),
			(long long)(a->last_us / 1000));
		kv(f, "message", a->title);
		fprintf(f, ",\"status\":\"%s\",\"device\":{",
			strcmp(a->state, "open") == 0 ? "New" : strcmp(a->state, "acknowledged") == 0 ? "In Progress" : "Resolved");
		kv(f, "hostname", a->hostname);
		fputc(',', f);
		kv(f, "uid", a->agent);
		fputs("},", f);
		if (a->file_path[0] || a->file_hash[0]) {
			fputs("\"evidences\":[{\"file\":{", f);
			kv(f, "name", fname);
			fputc(',', f);
			kv(f, "path", a->file_path);
			if (a->file_hash[0]) {
				fputs(",\"hashes\":[{\"algorithm_id\":3,"
				      "\"algorithm\":\"SHA-256\",", f);
				kv(f, "value", a->file_hash);
				fputs("}]", f);
			}
			fputs("}}],", f);
		}
		if (compliance)
			fputs("\"compliance\":{\"standards\":[\"eduwatch policy\"],"
			      "\"status\":\"Fail\"},", f);
		fputs("\"unmapped\":{", f);
		kv(f, "school", a->school);
		fputc(',', f);
		kv(f, "commune", a->commune);
		fputc(',', f);
		kv(f, "rule", a->rule);
		fprintf(f, ",\"drill\":%s,\"count\":%lld,\"evidence\":",
			a->drill ? "true" : "false", a->count);
		json_print_sanitized(f, evidence, evidence_len);
		fputs("}}", f);
	}
	fclose(f);
	if (text == NULL) {
		out->failed = -ENOMEM;
		return;
	}
	cef_buf_append(out, text, len);
	free(text);
}

void forward_format_syslog(const struct store_alert *a,
			   const char *collector_host,
			   enum syslog_framing framing, struct cef_buf *out)
{
	char rt[32], ext_id[40], count[24];
	snprintf(rt, sizeof(rt), "%lld", (long long)(a->first_us / 1000));
	snprintf(ext_id, sizeof(ext_id), "eduwatch-%llu",
		 (unsigned long long)a->id);
	snprintf(count, sizeof(count), "%lld", a->count);
	const char *fname = file_name(a->file_path);
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
		{"cnt", count},
	};
	struct cef_header hdr = {a->kind, a->title, a->severity};
	struct cef_buf cef = {0};
	cef_format(&cef, &hdr, fields, sizeof(fields) / sizeof(fields[0]));
	if (cef.failed) {
		out->failed = -ENOMEM;
		cef_buf_release(&cef);
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
	cef_buf_release(&cef);
}

/* ---- delivery ----------------------------------------------------------- */

static void set_error(struct forwarder *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_error(struct forwarder *f, const char *fmt, ...)
{
	va_list ap;
	uv_mutex_lock(&f->lock);
	va_start(ap, fmt);
	vsnprintf(f->stats.last_error, sizeof(f->stats.last_error), fmt, ap);
	va_end(ap);
	f->stats.attempts_failed++;
	uv_mutex_unlock(&f->lock);
}

static void disconnect(struct forwarder *f)
{
	if (f->ssl) {
		SSL_free(f->ssl);
		f->ssl = NULL;
	}
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
	}
}

static int tcp_connect(struct forwarder *f)
{
	char host[256], port[16];
	const char *colon = strrchr(f->dest.address, ':');
	snprintf(host, sizeof(host), "%.*s", (int)(colon - f->dest.address),
		 f->dest.address);
	snprintf(port, sizeof(port), "%s", colon + 1);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		set_error(f, "resolve: %s", gai_strerror(rc));
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
		set_error(f, "connect: %s", strerror_r(errno, host, sizeof(host)));
		return -1;
	}
	f->fd = fd;
	if (!f->dest.tls)
		return 0;
	f->ssl = SSL_new(f->ctx);
	char name[256];
	snprintf(name, sizeof(name), "%.*s", (int)(colon - f->dest.address),
		 f->dest.address);
	/* The certificate must name the address we dialled: a DNS name, or
	 * an IP literal in its IP SANs. */
	unsigned char ip[16];
	bool is_ip = inet_pton(AF_INET, name, ip) == 1 ||
		     inet_pton(AF_INET6, name, ip) == 1;
	bool named = f->ssl != NULL &&
		     (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(f->ssl),
							    name) == 1
			    : SSL_set1_host(f->ssl, name) == 1 &&
				      SSL_set_tlsext_host_name(f->ssl, name) == 1);
	if (!named || !SSL_set_fd(f->ssl, fd) || SSL_connect(f->ssl) != 1) {
		char why[200];
		tls_last_error(why, sizeof(why), "TLS handshake failed");
		set_error(f, "%s", why);
		disconnect(f);
		return -1;
	}
	return 0;
}

static int send_all(struct forwarder *f, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n;
		if (f->ssl) {
			int w = SSL_write(f->ssl, data, (int)(len > 65536 ? 65536 : len));
			n = w > 0 ? w : -1;
		} else {
			n = send(f->fd, data, len, MSG_NOSIGNAL);
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
static bool still_open(struct forwarder *f)
{
	struct pollfd p = {.fd = f->fd, .events = POLLIN | POLLRDHUP};
	if (poll(&p, 1, 0) < 0)
		return false;
	if (p.revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL))
		return false;
	if (!(p.revents & POLLIN))
		return true;
	char buf[4096];
	if (f->ssl == NULL)
		return recv(f->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0;
	int flags = fcntl(f->fd, F_GETFL);
	fcntl(f->fd, F_SETFL, flags | O_NONBLOCK);
	int n = SSL_read(f->ssl, buf, sizeof(buf));
	int e = n > 0 ? SSL_ERROR_NONE : SSL_get_error(f->ssl, n);
	fcntl(f->fd, F_SETFL, flags);
	return e == SSL_ERROR_NONE || e == SSL_ERROR_WANT_READ;
}

static int deliver_syslog(struct forwarder *f)
{
	if (f->fd < 0) {
		if (tcp_connect(f) != 0)
			return -1;
		uv_mutex_lock(&f->lock);
		f->stats.connects++;
		uv_mutex_unlock(&f->lock);
	}
	struct cef_buf out = {0};
	enum syslog_framing framing = strcmp(f->dest.framing, "newline") == 0
					      ? SYSLOG_NEWLINE
					      : SYSLOG_OCTET_COUNTING;
	for (size_t i = 0; i < f->nbatch; i++)
		forward_format_syslog(&f->batch[i], f->host, framing, &out);
	int rc = out.failed ? -1 : send_all(f, out.data, out.len);
	cef_buf_release(&out);
	if (rc != 0) {
		set_error(f, "%s", "write failed");
		disconnect(f);
		return -1;
	}
	return 0;
}

/* Keeps the start of the answer (a SIEM says there why it refused). */
static size_t keep_answer(char *p, size_t size, size_t n, void *arg)
{
	struct forwarder *f = arg;
	size_t len = size * n;
	size_t room = sizeof(f->answer) - 1 - f->answer_len;
	memcpy(f->answer + f->answer_len, p, len < room ? len : room);
	f->answer_len += len < room ? len : room;
	f->answer[f->answer_len] = '\0';
	return len;
}

/* What an answer means for the alerts in the body. */
enum post_result { POST_OK, POST_RETRY, POST_REFUSED };

/* A refusal that names the content, not the sender or the moment: a 4xx,
 * except 408 (timeout) and 429 (slow down), and except those that any
 * body would get (401 and 403: credentials; 404 and 405: the URL; 407:
 * a proxy), which retry as a 5xx does, rather than park every alert. */
static bool refused_for_good(long status)
{
	return status >= 400 && status <= 499 && status != 408 &&
	       status != 429 && status != 401 && status != 403 &&
	       status != 404 && status != 405 && status != 407;
}

/* POSTs batch[start, start + n) as one JSON array. */
static enum post_result post_https(struct forwarder *f, size_t start,
				   size_t n, long *status)
{
	struct cef_buf body = {0};
	bool ocsf = strcmp(f->dest.format, "ocsf") == 0;
	*status = 0;
	cef_buf_append(&body, "[", 1);
	for (size_t i = start; i < start + n; i++) {
		if (i > start)
			cef_buf_append(&body, ",", 1);
		forward_format_json(&f->batch[i], ocsf, &body);
	}
	cef_buf_append(&body, "]", 1);
	if (body.failed) {
		cef_buf_release(&body);
		set_error(f, "%s", "out of memory");
		return POST_RETRY;
	}
	CURL *c = f->curl;
	struct curl_slist *headers =
		curl_slist_append(NULL, "Content-Type: application/json");
	char auth[300];
	if (f->dest.token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
			 f->dest.token);
		headers = curl_slist_append(headers, auth);
	}
	f->answer_len = 0;
	f->answer[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, f->dest.address);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body.len);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)IO_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_answer);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (f->dest.ca[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, f->dest.ca);
	if (f->dest.cert[0]) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, f->dest.cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, f->dest.key);
	}
	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(headers);
	cef_buf_release(&body);
	if (cc != CURLE_OK) {
		set_error(f, "%s", curl_easy_strerror(cc));
		return POST_RETRY;
	}
	if (*status >= 200 && *status <= 299)
		return POST_OK;
	set_error(f, "HTTP status %ld", *status);
	return refused_for_good(*status) ? POST_REFUSED : POST_RETRY;
}

static void count_delivered(struct forwarder *f, uint64_t sent,
			    uint64_t skipped)
{
	uv_mutex_lock(&f->lock);
	f->stats.sent += sent;
	f->stats.skipped += skipped;
	uv_mutex_unlock(&f->lock);
}

/* Parks one alert the destination refused for good, with a local alert
 * (forward.dead_letter) about it, so the queue moves on. */
static int park(struct forwarder *f, const struct store_alert *a, long status)
{
	struct store_dead_letter dl = {.alert = a->id, .status = (int)status};
	char reason[sizeof(dl.reason)];
	size_t n = 0;
	snprintf(dl.dest, sizeof(dl.dest), "%s", f->dest.name);
	/* The receiver's words, printable ASCII only: they reach a log line
	 * and an operator's terminal. */
	n = (size_t)snprintf(reason, sizeof(reason), "HTTP %ld: ", status);
	for (size_t i = 0; i < f->answer_len && n + 1 < sizeof(reason); i++) {
		char c = f->answer[i];
		reason[n++] = c >= 0x20 && c < 0x7f ? c : ' ';
	}
	reason[n < sizeof(reason) ? n : sizeof(reason) - 1] = '\0';
	snprintf(dl.reason, sizeof(dl.reason), "%s", reason);

	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 5);
	wire_pack_kv_str(&pk, "destination", f->dest.name);
	wire_pack_kv_u64(&pk, "status", (uint64_t)(status < 0 ? 0 : status));
	wire_pack_kv_str(&pk, "reason", dl.reason);
	wire_pack_kv_u64(&pk, "alert", a->id);
	wire_pack_kv_str(&pk, "rule", a->rule);
	struct event notice = {.v = EVENT_VERSION,
			       .ts = (uint64_t)timeutil_now_us(),
			       .body = sb.data,
			       .body_len = sb.size};
	snprintf(notice.agent, sizeof(notice.agent), "%s", a->agent);
	snprintf(notice.kind, sizeof(notice.kind), "%s",
		 ALERT_KIND_DEAD_LETTER);
	int rc = store_dead_letter_add(f->store, &dl, &notice);
	msgpack_sbuffer_destroy(&sb);
	if (rc != 0) {
		set_error(f, "cannot park alert %llu as a dead letter",
			  (unsigned long long)a->id);
		return -1;
	}
	uv_mutex_lock(&f->lock);
	f->stats.dead_letters++;
	uv_mutex_unlock(&f->lock);
	log_warn("forward %s: alert %llu (%s) refused for good, %s; parked as "
		 "a dead letter ('forward dead-letter list'), sending the rest",
		 f->dest.name, (unsigned long long)a->id, a->rule, dl.reason);
	return 0;
}

/* Delivers batch[start, start + n) in order. A part refused for good is
 * halved until each refused alert stands alone; that one is parked and
 * the others still go, in order. Each part is dequeued once delivered,
 * so a retry starts after it. 0: every alert delivered or parked; -1:
 * retry from the queue's head. */
static int deliver_range(struct forwarder *f, size_t start, size_t n)
{
	long status = 0;
	enum post_result r = post_https(f, start, n, &status);
	if (r == POST_RETRY)
		return -1;
	if (r == POST_OK) {
		if (store_forward_done(f->store, f->dest.name,
				       f->batch[start + n - 1].id) != 0) {
			set_error(f, "%s", "cannot dequeue");
			return -1;
		}
		count_delivered(f, n, 0);
		return 0;
	}
	if (n == 1)
		return park(f, &f->batch[start], status);
	size_t half = n / 2;
	if (deliver_range(f, start, half) != 0)
		return -1;
	return deliver_range(f, start + half, n - half);
}

static void collect(void *arg, const struct store_alert *a)
{
	struct forwarder *f = arg;
	if (f->nbatch < BATCH)
		f->batch[f->nbatch++] = *a;
}

/* Sleeps up to ms, or until forward_stop. Returns false when stopping. */
static bool pause_ms(struct forwarder *f, uint64_t ms)
{
	uv_mutex_lock(&f->lock);
	if (!f->stopping)
		uv_cond_timedwait(&f->wake, &f->lock, ms * 1000000ULL);
	bool go_on = !f->stopping;
	uv_mutex_unlock(&f->lock);
	return go_on;
}

/* Marks delivered every written batch that the connection has outlived
 * by CONFIRM_MS. Returns -1 when the connection died: what was written
 * on it but not confirmed is sent again from the queue's head. */
static int confirm_syslog(struct forwarder *f)
{
	if (f->ninflight == 0)
		return 0;
	if (f->fd < 0 || !still_open(f)) {
		set_error(f, "%s", "receiver closed the connection");
		disconnect(f);
		f->ninflight = 0;
		f->sent_upto = 0;
		return -1;
	}
	uint64_t now = uv_hrtime() / 1000000;
	size_t done = 0;
	while (done < f->ninflight &&
	       f->inflight[done].sent_ms + CONFIRM_MS <= now)
		done++;
	if (done == 0)
		return 0;
	if (store_forward_done(f->store, f->dest.name,
			       f->inflight[done - 1].last_id) != 0)
		return 0; /* tried again at the next pass */
	memmove(f->inflight, f->inflight + done,
		(f->ninflight - done) * sizeof(f->inflight[0]));
	f->ninflight -= done;
	return 0;
}

static void run(void *arg)
{
	struct forwarder *f = arg;
	uint64_t backoff = BACKOFF_MIN_MS;
	bool https = strcmp(f->dest.type, "https") == 0;
	for (;;) {
		int rc = https ? 0 : confirm_syslog(f);
		f->nbatch = 0;
		bool room = f->ninflight <
			    sizeof(f->inflight) / sizeof(f->inflight[0]);
		if (rc == 0 && room &&
		    store_forward_next(f->store, f->dest.name, f->sent_upto, BATCH,
				       collect, f) != 0)
			set_error(f, "%s", "cannot read the queue");
		if (rc == 0 && f->nbatch == 0) {
			/* Idle, or waiting for written batches to confirm. */
			if (!pause_ms(f, f->ninflight ? CONFIRM_MS / 4 : IDLE_POLL_MS))
				break;
			continue;
		}
		if (rc == 0) {
			/* Below the destination's threshold: dequeued with the
			 * batch, never sent. */
			size_t keep = 0;
			uint64_t last_id = f->batch[f->nbatch - 1].id;
			uint64_t skipped = 0;
			for (size_t i = 0; i < f->nbatch; i++) {
				if (f->batch[i].severity >= f->dest.min_severity)
					f->batch[keep++] = f->batch[i];
				else
					skipped++;
			}
			f->nbatch = keep;
			if (https) {
				rc = keep ? deliver_range(f, 0, keep) : 0;
				if (rc == 0)
					rc = store_forward_done(f->store, f->dest.name,
								last_id);
				if (rc == 0) {
					count_delivered(f, 0, skipped);
					backoff = BACKOFF_MIN_MS;
					continue;
				}
			} else {
				rc = keep ? deliver_syslog(f) : 0;
				if (rc == 0) {
					f->inflight[f->ninflight++] = (struct inflight){
						last_id, uv_hrtime() / 1000000};
					f->sent_upto = last_id;
				} else {
					f->ninflight = 0;
					f->sent_upto = 0;
				}
			}
			if (rc == 0) {
				count_delivered(f, keep, skipped);
				backoff = BACKOFF_MIN_MS;
				continue;
			}
		}
		/* Full jitter: a province of collectors or a restarted SIEM
		 * must not see every sender come back at the same instant. */
		uint32_t r = 0;
		RAND_bytes((unsigned char *)&r, sizeof(r));
		uint64_t wait = r % backoff + 1;
		log_warn("forward %s: %s; retrying in %llu ms", f->dest.name,
			 f->stats.last_error, (unsigned long long)wait);
		if (!pause_ms(f, wait))
			break;
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	/* Stopping: let what was written last confirm, so that a clean
	 * restart does not send it twice. */
	if (f->ninflight) {
		usleep(CONFIRM_MS * 1000);
		confirm_syslog(f);
	}
	disconnect(f);
}

int forward_start(struct store *st, const struct forward_dest *dest,
		  const char *collector_host, struct forwarder **out,
		  char *err, size_t errlen)
{
	struct forwarder *f = alloc_zeroed(1, sizeof(*f));
	if (f == NULL || (f->batch = alloc_zeroed(BATCH, sizeof(*f->batch))) == NULL) {
		alloc_free(f);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	f->store = st;
	f->dest = *dest;
	f->fd = -1;
	snprintf(f->host, sizeof(f->host), "%s", collector_host);
	int rc = 0;
	if (strcmp(dest->type, "https") == 0) {
		f->curl = curl_easy_init();
		if (f->curl == NULL) {
			snprintf(err, errlen, "forward %s: libcurl failed", dest->name);
			rc = -ENOMEM;
		}
	} else if (dest->tls) {
		rc = tls_ctx_new_from_files(false, dest->ca[0] ? dest->ca : NULL,
					    dest->cert[0] ? dest->cert : NULL,
					    dest->key[0] ? dest->key : NULL, true,
					    &f->ctx, err, errlen);
	}
	if (rc != 0) {
		alloc_free(f->batch);
		alloc_free(f);
		return rc;
	}
	uv_mutex_init(&f->lock);
	uv_cond_init(&f->wake);
	uv_thread_create(&f->thread, run, f);
	*out = f;
	return 0;
}

void forward_stop(struct forwarder *f)
{
	if (f == NULL)
		return;
	uv_mutex_lock(&f->lock);
	f->stopping = true;
	uv_cond_signal(&f->wake);
	uv_mutex_unlock(&f->lock);
	uv_thread_join(&f->thread);
	if (f->curl)
		curl_easy_cleanup(f->curl);
	SSL_CTX_free(f->ctx);
	uv_cond_destroy(&f->wake);
	uv_mutex_destroy(&f->lock);
	alloc_free(f->batch);
	alloc_free(f);
}

void forward_get_stats(struct forwarder *f, struct forward_stats *out)
{
	uv_mutex_lock(&f->lock);
	*out = f->stats;
	uv_mutex_unlock(&f->lock);
}
