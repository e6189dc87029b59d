#include "agent/core/uplink.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "common/alloc.h"
#include "common/check.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/tls.h"
#include "common/version.h"
#include "common/wire.h"

#define MAX_WINDOW 16
#define BACKOFF_BASE_MS 1000

struct inflight {
	uint64_t id;
	uint64_t last_seq;
	uint32_t count;
};

struct uplink {
	uv_loop_t *loop;
	struct spool *spool;
	struct uplink_options opts;
	uplink_command_fn on_command;
	uplink_state_fn on_state;
	void *arg;
	char host[256];
	char agent[EVENT_AGENT_MAX + 1];

	struct tls_stream *ts;
	struct wire_decoder *dec;
	uv_timer_t retry;
	uv_timer_t throttle;
	bool connecting;
	bool ready;
	bool stopping;
	int attempt;
	uint64_t retry_after_ms; /* the collector's hint, 0: none */
	/* The agent-silence drill: no connection before this (uv_now, ms);
	 * 0: not held. */
	uint64_t held_until_ms;
	uint64_t sent_upto; /* highest seq sent on this connection */
	uint64_t next_frame_id;
	struct inflight window[MAX_WINDOW];
	int head, count;
	/* Bandwidth cap: a byte bucket refilled by time. */
	double bucket;
	uint64_t bucket_ms;
	struct uplink_status status;
	int handles;
	void (*stop_done)(void *);
	void *stop_arg;
};

static void connect_now(struct uplink *up);
static void pump(struct uplink *up);

static void on_retry_timer(uv_timer_t *timer)
{
	connect_now(timer->data);
}

static void on_throttle_timer(uv_timer_t *timer)
{
	pump(timer->data);
}

static uint64_t random_below(uint64_t n)
{
	uint64_t r = 0;
	RAND_bytes((unsigned char *)&r, sizeof(r));
	return n ? r % n : 0;
}

/* Full jitter: a uniform delay in [0, min(cap, base * 2^attempt)], so that
 * 40 PCs of a school that lost the link together do not return together. */
static bool held(const struct uplink *up)
{
	return up->held_until_ms != 0 && uv_now(up->loop) < up->held_until_ms;
}

static void schedule_retry(struct uplink *up)
{
	if (up->stopping)
		return;
	if (held(up)) {
		/* No backoff while held: the link comes back when the hold
		 * ends, at once, as a PC switched back on would. */
		uv_timer_start(&up->retry, on_retry_timer,
			       up->held_until_ms - uv_now(up->loop), 0);
		return;
	}
	uint64_t cap = (uint64_t)up->opts.backoff_max_s * 1000;
	uint64_t ceiling = BACKOFF_BASE_MS;
	for (int i = 0; i < up->attempt && ceiling < cap; i++)
		ceiling *= 2;
	if (ceiling > cap)
		ceiling = cap;
	up->attempt++;
	uint64_t delay = 100 + random_below(ceiling);
	/* A collector that could not store a batch says when to come
	 * back; sooner would only be refused again. */
	if (delay < up->retry_after_ms)
		delay = up->retry_after_ms;
	up->retry_after_ms = 0;
	log_debug("uplink: reconnecting in %llu ms", (unsigned long long)delay);
	uv_timer_start(&up->retry, on_retry_timer, delay, 0);
}

static void set_error(struct uplink *up, const char *what)
{
	snprintf(up->status.last_error, sizeof(up->status.last_error), "%s",
		 what);
}

struct frame_builder {
	struct wire_out out;
	uint32_t count;
	uint32_t skipped;
	uint64_t last_seq;
	size_t byte_limit; /* 0: none; else stop adding past this size */
	bool full;
	struct uplink *up;
};

/* A spool row the collector would refuse (a tampered or damaged file)
 * must not block every event behind it: it is skipped, logged, and acked
 * away with the rest of its batch. */
static bool row_sendable(const struct event *ev)
{
	/* The collector's own decoder is the only check that cannot drift
	 * from what the collector accepts. */
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct event back;
	char err[128];
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	event_pack(&pk, ev);
	int rc = sb.data ? event_decode(sb.data, sb.size, &back, err, sizeof(err))
			 : -ENOMEM;
	if (rc == 0)
		event_clear(&back);
	msgpack_sbuffer_destroy(&sb);
	return rc == 0;
}

static void add_event(void *arg, const struct event *ev)
{
	struct frame_builder *fb = arg;
	/* Rows past the limit stay in the spool for the next frame. */
	if (fb->full || (fb->byte_limit && fb->count > 0 &&
			 fb->out.buf.size >= fb->byte_limit)) {
		fb->full = true;
		return;
	}
	struct event copy = *ev;
	snprintf(copy.agent, sizeof(copy.agent), "%s", fb->up->agent);
	fb->last_seq = ev->seq;
	if (!row_sendable(&copy)) {
		fb->skipped++;
		log_err("uplink: spool row %llu is damaged (kind '%s'); "
			"dropping it", (unsigned long long)ev->seq, copy.kind);
		return;
	}
	event_pack(&fb->out.pk, &copy);
	fb->count++;
}

static bool take_bandwidth(struct uplink *up, size_t bytes)
{
	if (up->opts.bandwidth_bps <= 0)
		return true;
	uint64_t now = uv_now(up->loop);
	double rate = (double)up->opts.bandwidth_bps;
	up->bucket += rate * (double)(now - up->bucket_ms) / 1000.0;
	if (up->bucket > rate * 2)
		up->bucket = rate * 2;
	up->bucket_ms = now;
	if (up->bucket < 0) {
		uint64_t wait = (uint64_t)(-up->bucket * 1000.0 / rate) + 1;
		uv_timer_start(&up->throttle, on_throttle_timer, wait, 0);
		return false;
	}
	up->bucket -= (double)bytes;
	return true;
}

/* Sends batches while the window and the bandwidth allow. */
static void pump(struct uplink *up)
{
	while (up->ready && up->ts && up->count < up->opts.window) {
		if (uv_is_active((uv_handle_t *)&up->throttle))
			return;
		/* Under a bandwidth cap a frame carries about one second of
		 * the budget, so a slow school link gets a steady trickle
		 * instead of bursts that fill it for half a minute. */
		struct frame_builder fb = {
			.up = up,
			.byte_limit = up->opts.bandwidth_bps > 0
					      ? (size_t)up->opts.bandwidth_bps
					      : 0,
		};
		/* The array header is patched once the count is known, so
		 * reserve the widest form (array32). */
		wire_out_begin(&fb.out, WIRE_EVENTS, 2);
		wire_pack_kv_u64(&fb.out.pk, "id", up->next_frame_id);
		wire_pack_str(&fb.out.pk, "ev");
		size_t count_at = fb.out.buf.size;
		static const char array32[5] = {(char)0xdd, 0, 0, 0, 0};
		msgpack_sbuffer_write(&fb.out.buf, array32, sizeof(array32));
		int n = spool_read(up->spool, up->sent_upto, up->opts.batch_max,
				   add_event, &fb);
		if (n <= 0) {
			wire_out_release(&fb.out);
			return;
		}
		if (fb.count == 0) {
			/* Only damaged rows: nothing to send, delete them
			 * once nothing before them is in flight. */
			wire_out_release(&fb.out);
			if (up->count > 0)
				return;
			int rc = spool_ack(up->spool, fb.last_seq);
			if (rc != 0)
				/* The events stay spooled and are sent again:
				 * the collector drops them as duplicates. */
				log_warn("uplink: cannot ack up to %llu in the "
					 "spool: %s",
					 (unsigned long long)fb.last_seq,
					 uv_strerror(rc));
			up->sent_upto = fb.last_seq;
			continue;
		}
		unsigned char *h = (unsigned char *)fb.out.buf.data + count_at + 1;
		h[0] = (unsigned char)(fb.count >> 24);
		h[1] = (unsigned char)(fb.count >> 16);
		h[2] = (unsigned char)(fb.count >> 8);
		h[3] = (unsigned char)fb.count;
		if (wire_out_finish(&fb.out) != 0) {
			log_err("uplink: batch over 1 MiB; lower uplink.batch");
			wire_out_release(&fb.out);
			return;
		}
		if (!take_bandwidth(up, fb.out.buf.size)) {
			wire_out_release(&fb.out);
			return;
		}
		int slot = (up->head + up->count) % MAX_WINDOW;
		up->window[slot] = (struct inflight){up->next_frame_id,
						     fb.last_seq, fb.count};
		up->count++;
		up->next_frame_id++;
		up->sent_upto = fb.last_seq;
		/* A failed write fails the stream: its close reconnects
		 * and resends from the last ack. */
		EW_IGNORE(tls_stream_write(up->ts, fb.out.buf.data,
					   fb.out.buf.size));
		wire_out_release(&fb.out);
	}
}

static void handle_ack(struct uplink *up, const msgpack_object *root)
{
	uint64_t id = 0;
	wire_get_u64(root, "id", &id);
	if (up->count == 0 || up->window[up->head].id != id) {
		log_warn("uplink: unexpected ack %llu; reconnecting",
			 (unsigned long long)id);
		tls_stream_close(up->ts, -EPROTO);
		return;
	}
	struct inflight *f = &up->window[up->head];
	EW_ASSERT(up->count <= MAX_WINDOW);
	if (spool_ack(up->spool, f->last_seq) != 0)
		log_err("uplink: cannot delete acked events from the spool");
	up->status.acked_events += f->count;
	up->status.last_ack_us = timeutil_now_us();
	up->head = (up->head + 1) % MAX_WINDOW;
	up->count--;
	up->attempt = 0;
	pump(up);
}

static int on_frame(void *arg, const char *body, size_t len)
{
	struct uplink *up = arg;
	struct wire_msg msg;
	if (wire_msg_parse(&msg, body, len) != 0) {
		set_error(up, "malformed frame from the collector");
		return -1;
	}
	switch (msg.type) {
	case WIRE_HELLO:
		up->ready = true;
		up->status.connected = true;
		up->status.connected_since_us = timeutil_now_us();
		log_info("uplink: connected to %s:%d", up->host, up->opts.port);
		if (up->on_state)
			up->on_state(up->arg, true);
		pump(up);
		break;
	case WIRE_ACK:
		handle_ack(up, msg.root);
		break;
	case WIRE_COMMAND:
	case WIRE_BLOB:
		if (up->on_command)
			up->on_command(up->arg, msg.root);
		break;
	case WIRE_ERROR: {
		char code[32] = "?", text[128] = "";
		wire_get_str(msg.root, "code", code, sizeof(code));
		wire_get_str(msg.root, "msg", text, sizeof(text));
		uint64_t retry_ms = 0;
		/* Bounded: a hostile collector cannot park the agent. */
		if (wire_get_u64(msg.root, "retry_ms", &retry_ms) == 0)
			up->retry_after_ms = retry_ms < 60000 ? retry_ms : 60000;
		char line[160];
		snprintf(line, sizeof(line), "collector: %s: %s", code, text);
		set_error(up, line);
		log_warn("uplink: %s", line);
		break;
	}
	default:
		break;
	}
	wire_msg_release(&msg);
	return 0;
}

static void on_open(struct tls_stream *ts, void *arg)
{
	struct uplink *up = arg;
	struct wire_out out;
	up->connecting = false;
	wire_out_begin(&out, WIRE_HELLO, 5);
	wire_pack_kv_u64(&out.pk, "v", WIRE_VERSION);
	wire_pack_kv_str(&out.pk, "agent", up->agent);
	wire_pack_kv_u64(&out.pk, "boot", up->opts.boot);
	wire_pack_kv_str(&out.pk, "ver", EDUWATCH_VERSION);
	/* The release too: what a rollout moves (collector/release.h). */
	wire_pack_kv_str(&out.pk, "rel", up->opts.release ? up->opts.release : "");
	/* A failed write fails the stream, whose close handles it. */
	if (wire_out_finish(&out) == 0)
		EW_IGNORE(tls_stream_write(ts, out.buf.data, out.buf.size));
	wire_out_release(&out);
}

static void on_data(struct tls_stream *ts, const char *data, size_t len,
		    void *arg)
{
	struct uplink *up = arg;
	if (wire_decoder_feed(up->dec, data, len, on_frame, up) != 0 &&
	    !up->stopping)
		tls_stream_close(ts, -EPROTO);
}

static void on_close(struct tls_stream *ts, int status, void *arg)
{
	struct uplink *up = arg;
	const char *why = tls_stream_error(ts);
	bool was_ready = up->ready;
	if (why[0])
		set_error(up, why);
	else if (status != 0)
		set_error(up, uv_strerror(status));
	up->ts = NULL;
	up->ready = false;
	up->connecting = false;
	up->status.connected = false;
	/* Everything unacked goes again, from the spool, next time: acked
	 * events are already deleted, so reading restarts at the first. */
	up->sent_upto = 0;
	up->count = up->head = 0;
	wire_decoder_free(up->dec);
	up->dec = NULL;
	up->handles--;
	if (was_ready) {
		up->status.reconnects++;
		log_info("uplink: disconnected from %s:%d: %s", up->host,
			 up->opts.port, up->status.last_error);
		if (up->on_state)
			up->on_state(up->arg, false);
	} else if (!up->stopping) {
		log_info("uplink: cannot reach %s:%d: %s", up->host,
			 up->opts.port, up->status.last_error);
	}
	if (up->stopping) {
		if (up->handles == 0 && up->stop_done)
			up->stop_done(up->stop_arg);
		return;
	}
	schedule_retry(up);
}

static const struct tls_stream_ops uplink_ops = {on_open, on_data, on_close};

static void free_handle(uv_handle_t *handle)
{
	alloc_free(handle);
}

static void on_connected(uv_connect_t *req, int status)
{
	struct uplink *up = req->data;
	uv_stream_t *handle = req->handle;
	alloc_free(req);
	/* A hold that began while this connection was being made wins. */
	if (status < 0 || up->stopping || held(up)) {
		set_error(up, uv_strerror(status < 0 ? status : UV_ECANCELED));
		uv_close((uv_handle_t *)handle, free_handle);
		up->connecting = false;
		up->handles--;
		if (!up->stopping) {
			log_info("uplink: cannot reach %s:%d: %s", up->host,
				 up->opts.port, up->status.last_error);
			schedule_retry(up);
		} else if (up->handles == 0 && up->stop_done) {
			up->stop_done(up->stop_arg);
		}
		return;
	}
	struct tls_stream_params p = {.verify_host = up->host};
	up->dec = wire_decoder_new();
	if (up->dec == NULL ||
	    tls_stream_new(handle, up->opts.ctx, &p, &uplink_ops, up,
			   &up->ts) != 0) {
		up->handles--;
		up->connecting = false;
		schedule_retry(up);
	}
}

static void on_resolved(uv_getaddrinfo_t *req, int status,
			struct addrinfo *res)
{
	struct uplink *up = req->data;
	alloc_free(req);
	if (status < 0 || up->stopping) {
		if (res)
			uv_freeaddrinfo(res);
		up->connecting = false;
		up->handles--;
		set_error(up, uv_strerror(status < 0 ? status : UV_ECANCELED));
		if (!up->stopping)
			schedule_retry(up);
		else if (up->handles == 0 && up->stop_done)
			up->stop_done(up->stop_arg);
		return;
	}
	uv_tcp_t *tcp = alloc_bytes(sizeof(*tcp));
	uv_connect_t *creq = alloc_bytes(sizeof(*creq));
	uv_tcp_init(up->loop, tcp);
	creq->data = up;
	int rc = uv_tcp_connect(creq, tcp, res->ai_addr, on_connected);
	uv_freeaddrinfo(res);
	if (rc != 0) {
		alloc_free(creq);
		uv_close((uv_handle_t *)tcp, free_handle);
		up->connecting = false;
		up->handles--;
		set_error(up, uv_strerror(rc));
		schedule_retry(up);
	}
}

static void connect_now(struct uplink *up)
{
	if (up->stopping || up->connecting || up->ts != NULL)
		return;
	if (held(up)) {
		schedule_retry(up);
		return;
	}
	if (up->held_until_ms != 0) {
		up->held_until_ms = 0; /* the hold is over: a fresh start */
		up->attempt = 0;
		log_info("uplink: the drill's hold is over; reconnecting");
	}
	uv_getaddrinfo_t *req = alloc_bytes(sizeof(*req));
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	char service[16];
	snprintf(service, sizeof(service), "%d", up->opts.port);
	req->data = up;
	up->connecting = true;
	up->handles++; /* the connection in the making */
	if (uv_getaddrinfo(up->loop, req, on_resolved, up->host, service,
			   &hints) != 0) {
		alloc_free(req);
		up->connecting = false;
		up->handles--;
		schedule_retry(up);
	}
}

int uplink_start(uv_loop_t *loop, struct spool *spool,
		 const struct uplink_options *opts, uplink_command_fn on_command,
		 uplink_state_fn on_state, void *arg, struct uplink **out)
{
	struct uplink *up = alloc_zeroed(1, sizeof(*up));
	*out = NULL;
	if (up == NULL)
		return -ENOMEM;
	up->loop = loop;
	up->spool = spool;
	up->opts = *opts;
	if (up->opts.window < 1 || up->opts.window > MAX_WINDOW)
		up->opts.window = 4;
	if (up->opts.batch_max < 1 || up->opts.batch_max > WIRE_MAX_EVENTS_PER_FRAME)
		up->opts.batch_max = 200;
	if (up->opts.backoff_max_s < 1)
		up->opts.backoff_max_s = 300;
	snprintf(up->host, sizeof(up->host), "%s", opts->host);
	snprintf(up->agent, sizeof(up->agent), "%s", opts->agent_id);
	up->opts.host = up->host;
	up->on_command = on_command;
	up->on_state = on_state;
	up->arg = arg;
	up->bucket_ms = uv_now(loop);
	uv_timer_init(loop, &up->retry);
	uv_timer_init(loop, &up->throttle);
	up->retry.data = up->throttle.data = up;
	up->handles = 2;
	*out = up;
	connect_now(up);
	return 0;
}

int uplink_send(struct uplink *up, struct wire_out *out)
{
	if (!up->ready || up->ts == NULL) {
		wire_out_release(out);
		return -ENOTCONN;
	}
	int rc = wire_out_finish(out);
	if (rc == 0)
		rc = tls_stream_write(up->ts, out->buf.data, out->buf.size);
	wire_out_release(out);
	return rc;
}

bool uplink_connected(const struct uplink *up)
{
	return up->ready;
}

void uplink_kick(struct uplink *up)
{
	pump(up);
}

static void timer_closed(uv_handle_t *handle)
{
	struct uplink *up = handle->data;
	if (--up->handles == 0 && up->stop_done)
		up->stop_done(up->stop_arg);
}

void uplink_stop(struct uplink *up, void (*done)(void *arg), void *arg)
{
	up->stopping = true;
	up->stop_done = done;
	up->stop_arg = arg;
	uv_timer_stop(&up->retry);
	uv_timer_stop(&up->throttle);
	uv_close((uv_handle_t *)&up->retry, timer_closed);
	uv_close((uv_handle_t *)&up->throttle, timer_closed);
	if (up->ts)
		tls_stream_close(up->ts, 0);
}

void uplink_hold(struct uplink *up, uint64_t ms)
{
	if (up->stopping)
		return;
	if (ms == 0) {
		if (up->held_until_ms == 0)
			return;
		up->held_until_ms = uv_now(up->loop); /* over now */
		uv_timer_stop(&up->retry);
		connect_now(up);
		return;
	}
	up->held_until_ms = uv_now(up->loop) + ms;
	set_error(up, "held by a drill (agent-silence)");
	log_info("uplink: held by a drill for %llu ms; events keep spooling",
		 (unsigned long long)ms);
	uv_timer_stop(&up->retry);
	if (up->ts)
		tls_stream_close(up->ts, 0); /* its close re-arms the timer */
	else
		schedule_retry(up);
}

bool uplink_held(const struct uplink *up)
{
	return held(up);
}

void uplink_get_status(const struct uplink *up, struct uplink_status *out)
{
	*out = up->status;
}

void uplink_free(struct uplink *up)
{
	alloc_free(up);
}
