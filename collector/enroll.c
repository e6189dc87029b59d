#include "collector/enroll.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/alloc.h"
#include "common/check.h"
#include "common/hostname.h"
#include "common/log.h"
#include "common/pki.h"
#include "common/tls.h"
#include "common/wire.h"

/* A whole request (handshake, frame, answer) must end within this. */
#define ENROLL_TIMEOUT_MS 15000
/* The TLS handshake must be done within this: an idle or slow-drip
 * connection is gone long before it could help fill the cap. */
#define ENROLL_HANDSHAKE_MS 5000
/* A CSR is about 500 bytes and the longest legal frame a few KiB. */
#define ENROLL_MAX_FRAME (32u * 1024u)
#define ENROLL_MAX_CSR 16384
#define ENROLL_MAX_CONNECTIONS 512
/* A school enrolls its PCs from behind one NAT address, a few at a time. */
#define ENROLL_MAX_PER_ADDRESS 16
/* Failed tokens per address: free up to FAILS_FREE in the window, then
 * each answer waits 1 s, 2 s, 4 s ... up to FAIL_DELAY_MAX_MS, and past
 * FAILS_LOCKOUT the address is refused until the window ends. A school
 * that mistypes a token a few times never notices; a guesser gets a few
 * dozen tries per window out of a 256-bit space. */
#define FAILS_FREE 5
#define FAILS_LOCKOUT 30
#define FAIL_WINDOW_MS (10u * 60u * 1000u)
#define FAIL_DELAY_MAX_MS 16000u
#define ADDR_SLOTS 4096

/* One address's failures. IPv6 peers are keyed by their /64, which is
 * what one site is given. */
struct addr_slot {
	unsigned char key[16];
	uint64_t window_start_ms;
	unsigned fails;
	bool used;
};

struct enroll {
	uv_loop_t *loop;
	SSL_CTX *ctx;
	struct ca *ca;
	struct store *store;
	uv_tcp_t listener;
	int port; /* bound: the system's choice when asked for port 0 */
	bool listening;
	bool listener_closed;
	struct enroll_stats stats;
	LIST_HEAD(, enroll_session) sessions; /* every live session */
	uint32_t slot_seed; /* random: colliding addresses cannot be chosen */
	int open;
	bool stopping;
	void (*stopped)(void *arg);
	void *stopped_arg;
	struct addr_slot slots[ADDR_SLOTS];
};

enum session_state {
	SESSION_READING, /* waiting for the enroll frame */
	SESSION_WORKING, /* on the threadpool */
	SESSION_DELAYED, /* answered, held back after failed tokens */
	SESSION_DONE,	 /* answered; the transport is closing */
};

struct enroll_session {
	struct enroll *en;
	const struct enroll_session_io *io;
	void *io_arg;
	struct wire_decoder *dec;
	uv_work_t work;
	uv_timer_t delay;
	enum session_state state;
	bool detached;
	bool delay_open; /* the timer handle needs closing */
	char addr[64];
	unsigned char addr_key[16];
	LIST_ENTRY(enroll_session) link; /* in enroll.sessions while listed */
	bool listed;
	/* Input, copied out of the frame. */
	char token[128];
	char host[HOSTNAME_MAX + 1];
	char *csr;
	size_t csr_len;
	/* Output. */
	char agent[EVENT_AGENT_MAX + 1];
	char school[STORE_CODE_MAX + 1];
	char *cert_pem;
	const char *error_code;
	char error_msg[160];
	uint64_t *error_counter;
	bool token_failed; /* counts against the address */
};

static void enroll_maybe_free(struct enroll *en);

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

/* ---- per-address accounting ------------------------------------------ */

/* "ip:port" (IPv6 without brackets) to a 16-byte key; unknown forms share
 * one all-zero key, which is the cautious choice. */
static void addr_key_of(const char *addr, unsigned char key[16])
{
	char ip[64];
	memset(key, 0, 16);
	snprintf(ip, sizeof(ip), "%s", addr);
	char *colon = strrchr(ip, ':');
	if (colon != NULL)
		*colon = '\0';
	if (uv_inet_pton(AF_INET, ip, key + 12) == 0) {
		key[10] = key[11] = 0xff;
		return;
	}
	if (uv_inet_pton(AF_INET6, ip, key) == 0) {
		/* On a dual-stack listener every IPv4 peer is ::ffff:a.b.c.d:
		 * it is one host, not one /64 for the whole IPv4 Internet. */
		static const unsigned char v4mapped[12] = {
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(key, v4mapped, 12) != 0)
			memset(key + 8, 0, 8);
	}
}

static struct addr_slot *addr_slot_find(struct enroll *en,
					const unsigned char key[16], bool create)
{
	uint32_t h = 2166136261u ^ en->slot_seed;
	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	struct addr_slot *slot = &en->slots[h % ADDR_SLOTS];
	uint64_t now = uv_now(en->loop);
	bool expired = slot->used && now - slot->window_start_ms > FAIL_WINDOW_MS;
	if (slot->used && memcmp(slot->key, key, 16) == 0) {
		if (expired) {
			slot->fails = 0;
			slot->window_start_ms = now;
		}
		return slot;
	}
	/* A colliding address takes the slot only from one that has nothing
	 * to remember, so fresh addresses cannot wash out a guesser's count. */
	if (!create || (slot->used && !expired && slot->fails > 1))
		return NULL;
	memcpy(slot->key, key, 16);
	slot->used = true;
	slot->fails = 0;
	slot->window_start_ms = now;
	return slot;
}

static unsigned addr_fails(struct enroll *en, const unsigned char key[16])
{
	struct addr_slot *slot = addr_slot_find(en, key, false);
	return slot ? slot->fails : 0;
}

static int addr_open_sessions(struct enroll *en, const unsigned char key[16])
{
	int n = 0;
	struct enroll_session *s;
	LIST_FOREACH(s, &en->sessions, link)
		if (!s->detached && memcmp(s->addr_key, key, 16) == 0)
			n++;
	return n;
}

/* ---- one session ----------------------------------------------------- */

static bool session_busy(const struct enroll_session *s)
{
	return s->state == SESSION_WORKING || s->delay_open;
}

static void session_free(struct enroll_session *s)
{
	struct enroll *en = s->en;
	/* Freed once, from the list it is on. */
	EW_ASSERT(s->listed);
	LIST_REMOVE(s, link);
	s->listed = false;
	wire_decoder_free(s->dec);
	OPENSSL_cleanse(s->token, sizeof(s->token));
	alloc_free(s->csr);
	alloc_free(s->cert_pem);
	alloc_free(s);
	enroll_maybe_free(en);
}

static void session_maybe_free(struct enroll_session *s)
{
	if (s->detached && !session_busy(s))
		session_free(s);
}

static void refuse(struct enroll_session *s, const char *code,
		   uint64_t *counter, const char *msg)
{
	if (s->error_code != NULL)
		return; /* the first reason is the one the peer hears */
	s->error_code = code;
	s->error_counter = counter;
	snprintf(s->error_msg, sizeof(s->error_msg), "%s", msg);
}

/* Sends the one answer and asks the transport to close. */
static void session_answer(struct enroll_session *s)
{
	struct wire_out out;
	if (s->state == SESSION_DONE)
		return;
	s->state = SESSION_DONE;
	if (s->detached)
		return;
	if (s->error_code != NULL) {
		wire_out_begin(&out, WIRE_ERROR, 2);
		wire_pack_kv_str(&out.pk, "code", s->error_code);
		wire_pack_kv_str(&out.pk, "msg", s->error_msg);
	} else {
		wire_out_begin(&out, WIRE_ENROLLED, 4);
		wire_pack_kv_str(&out.pk, "agent", s->agent);
		wire_pack_kv_str(&out.pk, "school", s->school);
		wire_pack_kv_str(&out.pk, "cert", s->cert_pem);
		wire_pack_kv_str(&out.pk, "ca", ca_cert_pem(s->en->ca));
	}
	if (wire_out_finish(&out) == 0)
		s->io->write(s->io_arg, out.buf.data, out.buf.size);
	wire_out_release(&out);
	s->io->close(s->io_arg);
}

static void delay_closed(uv_handle_t *handle)
{
	struct enroll_session *s = handle->data;
	s->delay_open = false;
	session_maybe_free(s);
}

static void delay_fired(uv_timer_t *timer)
{
	struct enroll_session *s = timer->data;
	session_answer(s);
	uv_close((uv_handle_t *)&s->delay, delay_closed);
}

/* Logs and counts the outcome, then answers, now or after the delay that
 * the address's failures have earned. Runs on the loop. */
static void session_finish(struct enroll_session *s)
{
	struct enroll *en = s->en;
	unsigned fails = 0;
	if (s->error_code != NULL) {
		if (s->error_counter)
			(*s->error_counter)++;
		if (s->token_failed) {
			struct addr_slot *slot =
				addr_slot_find(en, s->addr_key, true);
			if (slot != NULL)
				fails = ++slot->fails;
		}
		log_warn("enroll: refused %s (host '%s'): %s: %s", s->addr,
			 s->host, s->error_code, s->error_msg);
	} else {
		en->stats.enrolled++;
		log_info("enroll: enrolled agent %s for school %s (host '%s', "
			 "%s)", s->agent, s->school, s->host, s->addr);
	}
	if (fails <= FAILS_FREE || s->detached || en->stopping) {
		session_answer(s);
		return;
	}
	unsigned shift = fails - FAILS_FREE - 1;
	uint64_t delay = shift >= 5 ? FAIL_DELAY_MAX_MS : 1000u << shift;
	if (delay > FAIL_DELAY_MAX_MS)
		delay = FAIL_DELAY_MAX_MS;
	s->state = SESSION_DELAYED;
	uv_timer_init(en->loop, &s->delay);
	s->delay.data = s;
	s->delay_open = true;
	uv_timer_start(&s->delay, delay_fired, delay, 0);
}

/* Threadpool: CSR, token, id, signature, agent row. Touches nothing of
 * the loop's: the session is not freed while it is SESSION_WORKING. */
static void do_enroll(uv_work_t *work)
{
	struct enroll_session *s = work->data;
	struct enroll *en = s->en;
	unsigned char hash[32];
	enum store_token_result result;
	EVP_PKEY *pub = NULL;
	X509 *cert = NULL;

	if (pki_csr_parse(s->csr, s->csr_len, &pub) != 0) {
		refuse(s, "bad_csr", &en->stats.bad_requests,
		       "the CSR is not a valid self-signed P-256 request");
		return;
	}
	enroll_token_hash(s->token, hash);
	if (store_token_consume(en->store, hash, &result, s->school) != 0) {
		refuse(s, "internal", NULL, "database error; try again");
		goto done;
	}
	switch (result) {
	case STORE_TOKEN_UNKNOWN:
		s->token_failed = true;
		refuse(s, "token_unknown", &en->stats.token_unknown,
		       "this token is not known to this collector");
		goto done;
	case STORE_TOKEN_EXPIRED:
		refuse(s, "token_expired", &en->stats.token_expired,
		       "this token has expired; ask for a new one");
		goto done;
	case STORE_TOKEN_USED:
		refuse(s, "token_used", &en->stats.token_used,
		       "this token has no uses left");
		goto done;
	case STORE_TOKEN_OK:
		break;
	}
	unsigned char raw[8];
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		refuse(s, "internal", NULL, "no randomness; try again");
		goto done;
	}
	snprintf(s->agent, sizeof(s->agent),
		 "%s-%02x%02x%02x%02x%02x%02x%02x%02x", s->school, raw[0],
		 raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7]);
	char fingerprint[65];
	if (ca_issue_agent(en->ca, pub, s->agent, s->school, &cert) != 0 ||
	    pki_cert_fingerprint(cert, fingerprint) != 0 ||
	    pki_cert_to_pem(cert, &s->cert_pem, NULL) != 0 ||
	    store_agent_add(en->store, s->agent, s->school, s->host,
			    fingerprint) != 0)
		refuse(s, "internal", NULL, "could not issue the certificate");
done:
	EVP_PKEY_free(pub);
	X509_free(cert);
}

static void after_enroll(uv_work_t *work, int status)
{
	struct enroll_session *s = work->data;
	s->state = SESSION_READING; /* not working any more */
	if (status != 0)
		refuse(s, "internal", NULL, "cancelled");
	session_finish(s);
	session_maybe_free(s);
}

/* Parses the one frame a session may send. Every refusal here is answered
 * on the loop, at once: nothing has been handed to the threadpool. */
static int parse_request(struct enroll_session *s, const char *body,
			 size_t len)
{
	struct enroll *en = s->en;
	struct wire_msg msg;
	const char *csr;
	size_t csr_len;
	if (wire_msg_parse(&msg, body, len) != 0) {
		refuse(s, "bad_frame", &en->stats.bad_requests,
		       "expected an enroll frame");
		return -1;
	}
	int rc = -1;
	if (msg.type != WIRE_ENROLL) {
		refuse(s, "bad_frame", &en->stats.bad_requests,
		       "this port takes only enroll frames");
	} else if (wire_get_str(msg.root, "token", s->token,
				sizeof(s->token)) != 0 ||
		   wire_get_strview(msg.root, "csr", &csr, &csr_len) != 0) {
		refuse(s, "bad_frame", &en->stats.bad_requests,
		       "expected an enroll frame with token, csr and host");
	} else if (csr_len > ENROLL_MAX_CSR) {
		refuse(s, "bad_frame", &en->stats.bad_requests,
		       "the CSR is over 16 KiB");
	} else if (memchr(csr, '\0', csr_len) != NULL) {
		/* PEM is text: a NUL would also make the copy shorter than
		 * the length the parser is then given. */
		refuse(s, "bad_csr", &en->stats.bad_requests,
		       "the CSR holds a NUL byte");
	} else if (wire_get_str(msg.root, "host", s->host, sizeof(s->host)) != 0 ||
		   !hostname_valid(s->host)) {
		s->host[0] = '\0';
		refuse(s, "bad_host", &en->stats.bad_requests,
		       "host must be 1-63 characters of A-Z a-z 0-9 - _ .");
	} else if ((s->csr = alloc_strndup(csr, csr_len)) == NULL) {
		refuse(s, "internal", NULL, "out of memory");
	} else {
		s->csr_len = csr_len;
		rc = 0;
	}
	wire_msg_release(&msg);
	return rc;
}

static int on_frame(void *arg, const char *body, size_t len)
{
	struct enroll_session *s = arg;
	struct enroll *en = s->en;
	if (parse_request(s, body, len) != 0) {
		session_finish(s);
		return -1;
	}
	if (addr_fails(en, s->addr_key) >= FAILS_LOCKOUT) {
		s->token_failed = true;
		refuse(s, "rate_limited", &en->stats.rate_limited,
		       "too many failed enrollments from this address; try "
		       "again in 10 minutes");
		session_finish(s);
		return -1;
	}
	s->state = SESSION_WORKING;
	if (uv_queue_work(en->loop, &s->work, do_enroll, after_enroll) != 0) {
		s->state = SESSION_READING;
		refuse(s, "internal", NULL, "could not queue the request");
		session_finish(s);
	}
	/* One frame per connection: anything after it is ignored. */
	return 1;
}

void enroll_session_feed(struct enroll_session *s, const char *data,
			 size_t len)
{
	if (s->state != SESSION_READING || s->detached)
		return;
	int rc = wire_decoder_feed(s->dec, data, len, on_frame, s);
	if (rc == -EMSGSIZE || rc == -ENOMEM) {
		refuse(s, "bad_frame", &s->en->stats.bad_requests,
		       rc == -ENOMEM ? "out of memory"
				     : "frame length 0 or over 32 KiB");
		session_finish(s);
	}
}

bool enroll_session_done(const struct enroll_session *s)
{
	return s->state != SESSION_READING;
}

void enroll_session_detach(struct enroll_session *s)
{
	EW_ASSERT(!s->detached && s->en->open > 0);
	s->detached = true;
	s->en->open--;
	session_maybe_free(s);
}

int enroll_session_new(struct enroll *en, const char *addr,
		       const struct enroll_session_io *io, void *arg,
		       struct enroll_session **out)
{
	struct enroll_session *s = alloc_zeroed(1, sizeof(*s));
	*out = NULL;
	if (s == NULL || (s->dec = wire_decoder_new()) == NULL) {
		alloc_free(s);
		return -ENOMEM;
	}
	wire_decoder_set_max_frame(s->dec, ENROLL_MAX_FRAME);
	s->en = en;
	s->io = io;
	s->io_arg = arg;
	/* Set before any path can reach after_enroll or the threadpool. */
	s->work.data = s;
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	addr_key_of(addr, s->addr_key);
	LIST_INSERT_HEAD(&en->sessions, s, link);
	s->listed = true;
	en->open++;
	*out = s;
	return 0;
}

/* ---- the TLS transport ----------------------------------------------- */

struct tls_conn {
	struct enroll *en;
	struct tls_stream *ts;
	struct enroll_session *session;
	uv_timer_t timer;
	bool stream_closed;
	bool timer_closed;
};

static void tls_conn_maybe_free(struct tls_conn *tc)
{
	if (tc->stream_closed && tc->timer_closed)
		alloc_free(tc);
}

static void tls_conn_timer_closed(uv_handle_t *handle)
{
	struct tls_conn *tc = handle->data;
	tc->timer_closed = true;
	tls_conn_maybe_free(tc);
}

static void tls_conn_write(void *arg, const void *data, size_t len)
{
	struct tls_conn *tc = arg;
	/* A failed write fails the stream, whose close ends the session. */
	if (tc->ts != NULL)
		EW_IGNORE(tls_stream_write(tc->ts, data, len));
}

static void tls_conn_close(void *arg)
{
	struct tls_conn *tc = arg;
	if (tc->ts != NULL)
		tls_stream_close(tc->ts, 0);
}

static void on_timeout(uv_timer_t *timer);

static const struct enroll_session_io tls_conn_io = {
	.write = tls_conn_write,
	.close = tls_conn_close,
};

static void on_open(struct tls_stream *ts, void *arg)
{
	struct tls_conn *tc = arg;
	(void)ts;
	/* The handshake beat its deadline; the request has the rest. */
	uv_timer_start(&tc->timer, on_timeout,
		       ENROLL_TIMEOUT_MS - ENROLL_HANDSHAKE_MS, 0);
}

static void on_data(struct tls_stream *ts, const char *data, size_t len,
		    void *arg)
{
	struct tls_conn *tc = arg;
	(void)ts;
	enroll_session_feed(tc->session, data, len);
}

static void on_close(struct tls_stream *ts, int status, void *arg)
{
	struct tls_conn *tc = arg;
	(void)status;
	if (!tls_stream_is_open(ts) && tls_stream_error(ts)[0])
		log_info("enroll: connection from %s failed: %s",
			 tls_stream_peer_addr(ts), tls_stream_error(ts));
	tc->ts = NULL;
	tc->stream_closed = true;
	enroll_session_detach(tc->session);
	if (!uv_is_closing((uv_handle_t *)&tc->timer))
		uv_close((uv_handle_t *)&tc->timer, tls_conn_timer_closed);
	tls_conn_maybe_free(tc);
}

static const struct tls_stream_ops tls_conn_ops = {
	.on_open = on_open,
	.on_data = on_data,
	.on_close = on_close,
};

/* A session at work or held back keeps its connection: the answer is
 * owed. Anything else past its deadline is cut, without waiting for a
 * peer that may never read. */
static void on_timeout(uv_timer_t *timer)
{
	struct tls_conn *tc = timer->data;
	if (tc->ts == NULL)
		return;
	if (!tls_stream_is_open(tc->ts) && !enroll_session_done(tc->session)) {
		tc->en->stats.handshake_timeouts++;
		tls_stream_abort(tc->ts, -ETIMEDOUT);
		return;
	}
	if (tc->session->state == SESSION_WORKING ||
	    tc->session->state == SESSION_DELAYED) {
		uv_timer_start(&tc->timer, on_timeout, 1000, 0);
		return;
	}
	tls_stream_abort(tc->ts, -ETIMEDOUT);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct enroll *en = server->data;
	if (status < 0)
		return;
	uv_tcp_t *tcp = tls_tcp_accept(server);
	if (tcp == NULL)
		return;
	char addr[64];
	tls_tcp_peer_addr(tcp, addr, sizeof(addr));
	unsigned char key[16];
	addr_key_of(addr, key);
	if (en->stopping || en->open >= ENROLL_MAX_CONNECTIONS ||
	    addr_open_sessions(en, key) >= ENROLL_MAX_PER_ADDRESS) {
		en->stats.refused_full++;
		tls_tcp_drop(tcp);
		return;
	}
	struct tls_conn *tc = alloc_zeroed(1, sizeof(*tc));
	if (tc == NULL ||
	    enroll_session_new(en, addr, &tls_conn_io, tc, &tc->session) != 0) {
		alloc_free(tc);
		tls_tcp_drop(tcp);
		return;
	}
	tc->en = en;
	uv_timer_init(en->loop, &tc->timer);
	tc->timer.data = tc;
	uv_timer_start(&tc->timer, on_timeout, ENROLL_HANDSHAKE_MS, 0);
	struct tls_stream_params params = {.server = true};
	if (tls_stream_new((uv_stream_t *)tcp, en->ctx, &params, &tls_conn_ops,
			   tc, &tc->ts) != 0) {
		tc->stream_closed = true;
		enroll_session_detach(tc->session);
		uv_close((uv_handle_t *)&tc->timer, tls_conn_timer_closed);
	}
}

/* ---- the service ----------------------------------------------------- */

int enroll_new(uv_loop_t *loop, struct ca *ca, struct store *store,
	       struct enroll **out)
{
	struct enroll *en = alloc_zeroed(1, sizeof(*en));
	*out = NULL;
	if (en == NULL)
		return -ENOMEM;
	en->loop = loop;
	en->ca = ca;
	en->store = store;
	en->listener_closed = true;
	if (RAND_bytes((unsigned char *)&en->slot_seed, sizeof(en->slot_seed)) != 1) {
		alloc_free(en);
		return -EIO;
	}
	*out = en;
	return 0;
}

static void enroll_maybe_free(struct enroll *en)
{
	if (!en->stopping || !en->listener_closed || !LIST_EMPTY(&en->sessions))
		return;
	void (*stopped)(void *) = en->stopped;
	void *arg = en->stopped_arg;
	alloc_free(en);
	if (stopped)
		stopped(arg);
}

static void listener_closed(uv_handle_t *handle)
{
	struct enroll *en = handle->data;
	en->listener_closed = true;
	enroll_maybe_free(en);
}

int enroll_start(uv_loop_t *loop, SSL_CTX *ctx, struct ca *ca,
		 struct store *store, const char *host, int port,
		 struct enroll **out, char *err, size_t errlen)
{
	struct enroll *en;
	struct sockaddr_storage addr;
	*out = NULL;
	if (enroll_new(loop, ca, store, &en) != 0)
		return -ENOMEM;
	en->ctx = ctx;
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&addr) &&
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr)) {
		snprintf(err, errlen, "enroll: '%s' is not an IP address", host);
		alloc_free(en);
		return -EINVAL;
	}
	uv_tcp_init(loop, &en->listener);
	en->listener.data = en;
	en->listener_closed = false;
	int rc = uv_tcp_bind(&en->listener, (struct sockaddr *)&addr, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&en->listener, 256, on_connection);
	if (rc != 0) {
		snprintf(err, errlen, "enroll: cannot listen on %s:%d: %s", host,
			 port, uv_strerror(rc));
		en->stopping = true;
		uv_close((uv_handle_t *)&en->listener, listener_closed);
		return rc;
	}
	en->listening = true;
	en->port = tls_tcp_local_port(&en->listener);
	log_info("enroll: listening on %s:%d", host, en->port);
	*out = en;
	return 0;
}

int enroll_port(const struct enroll *en)
{
	return en->port;
}

void enroll_stop(struct enroll *en, void (*done)(void *arg), void *arg)
{
	if (en == NULL) {
		if (done)
			done(arg);
		return;
	}
	en->stopping = true;
	en->stopped = done;
	en->stopped_arg = arg;
	/* Sessions close with their streams; each frees itself once its work
	 * is back, and the last one frees the service. */
	struct enroll_session *s;
	LIST_FOREACH(s, &en->sessions, link) {
		if (s->delay_open && !uv_is_closing((uv_handle_t *)&s->delay)) {
			s->state = SESSION_DONE;
			uv_close((uv_handle_t *)&s->delay, delay_closed);
		}
		if (!s->detached && s->io == &tls_conn_io) {
			struct tls_conn *tc = s->io_arg;
			if (tc->ts != NULL)
				tls_stream_abort(tc->ts, 0);
		}
	}
	if (en->listening) {
		en->listening = false;
		uv_close((uv_handle_t *)&en->listener, listener_closed);
	} else {
		enroll_maybe_free(en);
	}
}

void enroll_get_stats(const struct enroll *en, struct enroll_stats *out)
{
	*out = en->stats;
}
