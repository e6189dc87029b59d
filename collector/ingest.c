#include "collector/ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/check.h"
#include "common/event.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/wire.h"

#define MAX_INFLIGHT_BATCHES 8
#define SWEEP_INTERVAL_MS 1000
/* An agent may burst this many seconds' worth of its rate. */
#define RATE_BURST_SECONDS 5
/* Output queued for one connection. Above the high mark the collector
 * stops reading from it (a peer that sends but never reads gets no more
 * answers queued) and serves no bundle piece; below the low mark reading
 * resumes. Output pending with no byte written for OUTPUT_STALL_MS means
 * the peer does not read at all: the connection is cut. */
#define OUTPUT_HIGH (1024u * 1024u)
#define OUTPUT_LOW (256u * 1024u)
#define OUTPUT_STALL_MS 30000
/* An orderly close waits for the peer to read what is queued (the last
 * ack, the error frame, close_notify). One that does not is cut. */
#define CLOSE_GRACE_MS 10000
/* Agents whose budgets are kept; a power of two. Entries live for the
 * process: only enrolled, unrevoked certificates get this far. */
#define BUDGET_BUCKETS 16384
/* Sweeps between looks for commands queued while agents are connected. */
#define COMMAND_SWEEP_EVERY 3
/* A connection without its hello gives its handshake place up (it stays,
 * under the handshake timeout) once no byte has moved either way for
 * HANDSHAKE_IDLE_MS, or at half the handshake timeout whatever moved: a
 * client that stalls cannot keep honest agents out, one that dribbles a
 * byte a second cannot for long, and an honest handshake that is only
 * slow (a loaded loop, a slow link) keeps its place while it progresses,
 * so the places bound the handshakes really in progress. */
#define HANDSHAKE_IDLE_MS 2000
/* The loop-lag probe: a timer this often, and how late it ran. */
#define LAG_TICK_MS 100
/* Descriptors the collector needs besides its agents' connections: the
 * store's files, the listeners, enrollment and the console's clients. */
#define FD_HEADROOM 256

/* What one agent may spend, whatever its connections: tokens for events
 * and pings, and bundle pieces per second. It outlives connections, so
 * reconnecting or holding many sockets buys nothing. */
struct agent_budget {
	char agent[EVENT_AGENT_MAX + 1];
	double tokens;
	uint64_t tokens_ms;
	double pieces;
	uint64_t pieces_ms;
	struct conn *conn; /* the agent's one live connection, or NULL */
	struct agent_budget *next;
};

struct conn {
	struct ingest *ing;
	struct tls_stream *ts;
	struct wire_decoder *dec;
	struct agent_budget *budget; /* set once the handshake names the agent */
	char agent[EVENT_AGENT_MAX + 1];
	char school[PKI_ID_MAX + 1];
	char addr[64];
	bool hello_done;
	bool closed;	/* the stream is gone; free when inflight drops to 0 */
	bool closing;
	bool aborted;	/* cut without waiting for the peer to read */
	bool paused;
	bool throttled;
	bool backlog_paused;
	bool output_paused;
	bool holds_place;	/* counted in ingest.handshaking */
	uint64_t hs_bytes_seen;	/* bytes read + written at the last look */
	uint64_t hs_progress_ms; /* when they last moved */
	bool hello_pending;	/* counted in stats.hello_pending */
	int inflight;
	uint64_t opened_ms;
	uint64_t last_activity_ms;
	uint64_t closing_ms;	/* when closing began */
	uint64_t written_seen;	/* tls_stream_bytes_written at the last look */
	uint64_t write_progress_ms; /* when it last moved, or nothing was owed */
	LIST_ENTRY(conn) link; /* in ingest.conns while listed */
	bool listed;
};

struct ingest {
	uv_loop_t *loop;
	SSL_CTX *ctx;
	struct store *store;
	struct ingest_options opts;
	uv_tcp_t listener;
	uv_timer_t sweep;
	uv_timer_t lag_tick;
	uint64_t lag_due_ms;	/* when lag_tick should run, loop time */
	int handshaking;	/* handshake places taken (max_handshakes) */
	LIST_HEAD(, conn) conns; /* every connection not yet closed */
	size_t backlog_paused_count;
	struct ingest_stats stats;
	uint64_t last_stats_ms;
	uint64_t sweeps;
	int64_t revoked_seen_us; /* revocations up to here are handled */
	uint64_t fetch_window_ms; /* the second the piece budget counts */
	int fetch_pieces;	  /* served in that second */
	struct agent_budget *budgets[BUDGET_BUCKETS];
	uint64_t refusals_logged; /* since the last sweep */
	int handles_open;
	bool stopping;
	void (*stop_done)(void *);
	void *stop_arg;
};

static void conn_update_flow(struct conn *c);

static uint64_t now_ms(struct ingest *ing)
{
	return uv_now(ing->loop);
}

/* Admission (ingest_options.max_handshakes): a connection holds a place
 * from accept until its hello is answered, it closes, or its handshake
 * stalls (HANDSHAKE_IDLE_MS). */
static void conn_release_place(struct conn *c)
{
	if (!c->holds_place)
		return;
	c->holds_place = false;
	EW_ASSERT(c->ing->handshaking > 0);
	c->ing->handshaking--;
}

/* Its hello answered or the connection gone: no longer pending. */
static void conn_settle_hello(struct conn *c)
{
	conn_release_place(c);
	if (!c->hello_pending)
		return;
	c->hello_pending = false;
	EW_ASSERT(c->ing->stats.hello_pending > 0);
	c->ing->stats.hello_pending--;
}

/* Starts an orderly close; the sweep cuts it if the peer does not read
 * what is queued within CLOSE_GRACE_MS. */
static void conn_close(struct conn *c, int status)
{
	conn_release_place(c);
	if (c->closing)
		return;
	c->closing = true;
	c->closing_ms = now_ms(c->ing);
	tls_stream_close(c->ts, status);
}

static const char *who(const struct conn *c)
{
	static _Thread_local char buf[160];
	snprintf(buf, sizeof(buf), "agent %s (school %s, %s)",
		 c->agent[0] ? c->agent : "?", c->school[0] ? c->school : "?",
		 c->addr);
	return buf;
}

static void conn_unlink(struct conn *c)
{
	/* Unlinked once, from the list it is on. */
	EW_ASSERT(c->listed);
	LIST_REMOVE(c, link);
	c->listed = false;
}

static void conn_free_if_done(struct conn *c)
{
	if (!c->closed || c->inflight > 0)
		return;
	if (c->backlog_paused) {
		EW_ASSERT(c->ing->backlog_paused_count > 0);
		c->ing->backlog_paused_count--;
	}
	wire_decoder_free(c->dec);
	alloc_free(c);
}

static void send_frame(struct conn *c, struct wire_out *out)
{
	/* A failed write fails the stream, whose close drops the conn. */
	if (wire_out_finish(out) == 0 && !c->closing)
		EW_IGNORE(tls_stream_write(c->ts, out->buf.data, out->buf.size));
	wire_out_release(out);
}

/* Tells the peer why (and, when retry_ms is not 0, when to come back),
 * logs who and what, counts, and closes. */
static void conn_refuse(struct conn *c, uint64_t *counter, const char *code,
			uint64_t retry_ms, const char *reason)
{
	if (counter)
		(*counter)++;
	log_warn("ingest: closing %s: %s", who(c), reason);
	if (c->closing)
		return;
	if (tls_stream_is_open(c->ts)) {
		struct wire_out out;
		wire_out_begin(&out, WIRE_ERROR, retry_ms ? 3 : 2);
		wire_pack_kv_str(&out.pk, "code", code);
		wire_pack_kv_str(&out.pk, "msg", reason);
		if (retry_ms)
			wire_pack_kv_u64(&out.pk, "retry_ms", retry_ms);
		send_frame(c, &out);
	}
	conn_close(c, -EPROTO);
}

static void conn_reject(struct conn *c, uint64_t *counter, const char *code,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void conn_reject(struct conn *c, uint64_t *counter, const char *code,
			const char *fmt, ...)
{
	char reason[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	conn_refuse(c, counter, code, 0, reason);
}

/* ---- flow control -------------------------------------------------------- */

static struct agent_budget *budget_get(struct ingest *ing, const char *agent)
{
	uint32_t h = 2166136261u;
	for (const char *p = agent; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	struct agent_budget **head = &ing->budgets[h & (BUDGET_BUCKETS - 1)];
	for (struct agent_budget *b = *head; b; b = b->next)
		if (strcmp(b->agent, agent) == 0)
			return b;
	struct agent_budget *b = alloc_zeroed(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	snprintf(b->agent, sizeof(b->agent), "%s", agent);
	b->tokens = (double)ing->opts.max_events_per_second * RATE_BURST_SECONDS;
	b->tokens_ms = now_ms(ing);
	b->pieces = 1;
	b->pieces_ms = b->tokens_ms;
	b->next = *head;
	*head = b;
	return b;
}

static void refill_tokens(struct conn *c, uint64_t now)
{
	struct agent_budget *b = c->budget;
	double rate = c->ing->opts.max_events_per_second;
	double cap = rate * RATE_BURST_SECONDS;
	b->tokens += rate * (double)(now - b->tokens_ms) / 1000.0;
	if (b->tokens > cap)
		b->tokens = cap;
	b->tokens_ms = now;
}

/* Spends n of the agent's tokens; past zero the connection is throttled
 * (stops being read) until the sweep has refilled them. */
static void spend_tokens(struct conn *c, double n)
{
	struct ingest *ing = c->ing;
	refill_tokens(c, now_ms(ing));
	c->budget->tokens -= n;
	if (c->budget->tokens < 0 && !c->throttled) {
		c->throttled = true;
		ing->stats.throttled++;
		log_info("ingest: throttling %s: over %d events/s",
			 who(c), ing->opts.max_events_per_second);
	}
}

/* Output the peer has not read yet. Past the high mark, stop reading its
 * requests: every request makes an answer, and a peer that never reads
 * would otherwise make the collector queue without bound. */
static void check_output(struct conn *c)
{
	if (c->closing || c->closed || c->output_paused)
		return;
	if (tls_stream_write_backlog(c->ts) > OUTPUT_HIGH) {
		c->output_paused = true;
		c->ing->stats.output_paused++;
	}
}

static void conn_update_flow(struct conn *c)
{
	if (c->closing || c->closed)
		return;
	check_output(c);
	bool want_pause = c->throttled || c->backlog_paused ||
			  c->output_paused ||
			  c->inflight >= MAX_INFLIGHT_BATCHES;
	if (want_pause && !c->paused) {
		c->paused = true;
		tls_stream_pause(c->ts);
	} else if (!want_pause && c->paused) {
		c->paused = false;
		tls_stream_resume(c->ts);
	}
}

/* Store backlog: pause everyone above the high mark, resume below half. */
static void check_backlog(struct ingest *ing)
{
	size_t backlog = store_backlog(ing->store);
	if (backlog < ing->opts.backlog_high / 2 && ing->backlog_paused_count) {
		struct conn *c;
		LIST_FOREACH(c, &ing->conns, link) {
			if (c->backlog_paused) {
				c->backlog_paused = false;
				EW_ASSERT(ing->backlog_paused_count > 0);
				ing->backlog_paused_count--;
				conn_update_flow(c);
			}
		}
	}
}

/* ---- frames -------------------------------------------------------------- */

/* The least wait asked of an agent whose batch the store could not take
 * for now; the agent adds up to as much again. */
#define STORE_RETRY_MS 2000

struct pending_ack {
	struct conn *conn;
	uint64_t id;
};

static void on_batch_committed(void *arg, int status, unsigned stored,
			       unsigned dup)
{
	struct pending_ack *pa = arg;
	struct conn *c = pa->conn;
	struct ingest *ing = c->ing;
	uint64_t id = pa->id;
	alloc_free(pa);
	EW_ASSERT(c->inflight > 0);
	c->inflight--;
	if (status == -EAGAIN) {
		/* The database is away (a PostgreSQL store restarting): the
		 * batch is not acked, and the agent, which keeps it spooled,
		 * is told when to come back, spread over a few seconds so
		 * that a province does not return at once. */
		ing->stats.store_failures++;
		if (!c->closed) {
			char reason[128];
			snprintf(reason, sizeof(reason),
				 "store unavailable, batch %llu not stored; "
				 "resend later",
				 (unsigned long long)id);
			conn_refuse(c, NULL, "unavailable",
				    STORE_RETRY_MS + (uint64_t)(rand() %
							       STORE_RETRY_MS),
				    reason);
		}
	} else if (status != 0) {
		ing->stats.store_failures++;
		if (!c->closed)
			conn_reject(c, NULL, "internal",
				    "store could not commit batch %llu (%s); "
				    "resend later",
				    (unsigned long long)id, uv_strerror(status));
	} else {
		ing->stats.events_stored += stored;
		ing->stats.events_duplicate += dup;
		if (!c->closed && !c->closing) {
			struct wire_out out;
			wire_out_begin(&out, WIRE_ACK, 3);
			wire_pack_kv_u64(&out.pk, "id", id);
			wire_pack_kv_u64(&out.pk, "n", stored);
			wire_pack_kv_u64(&out.pk, "dup", dup);
			send_frame(c, &out);
		}
	}
	conn_update_flow(c);
	conn_free_if_done(c);
	check_backlog(ing);
}

struct pending_command {
	uint64_t id;
	char agent[EVENT_AGENT_MAX + 1];
	char *frame;
	size_t len;
};

struct pending_list {
	struct ingest *ing;
	bool all; /* the sweep: for every agent connected here */
	struct pending_command items[64];
	int count;
};

static struct conn *find_conn(struct ingest *ing, const char *agent)
{
	/* A linear scan: commands are rare (a few per day per school), and
	 * this runs every few seconds, not per event. */
	struct conn *c;
	LIST_FOREACH(c, &ing->conns, link)
		if (c->hello_done && !c->closing && strcmp(c->agent, agent) == 0)
			return c;
	return NULL;
}

/* Only collects: the store holds its connection lock during the query,
 * so sending and marking happen after it returns. */
static void collect_pending(void *arg, uint64_t id, const char *agent,
			    const char *frame, size_t len)
{
	struct pending_list *list = arg;
	if (list->count == (int)(sizeof(list->items) / sizeof(list->items[0])))
		return; /* the rest go at the next sweep */
	/* The store holds every collector's commands (several may share
	 * it) and those of agents offline: only the agents held here take
	 * room in the list, or 64 commands waiting for others would keep
	 * this collector's own from ever being sent. find_conn reads the
	 * loop's list of connections: this runs on the loop thread. */
	if (list->all && find_conn(list->ing, agent) == NULL)
		return;
	struct pending_command *p = &list->items[list->count];
	p->frame = alloc_bytes(len);
	if (p->frame == NULL)
		return;
	memcpy(p->frame, frame, len);
	p->len = len;
	p->id = id;
	snprintf(p->agent, sizeof(p->agent), "%s", agent);
	list->count++;
}

static void deliver_commands(struct ingest *ing, struct conn *only)
{
	struct pending_list list;
	list.ing = ing;
	list.all = only == NULL;
	list.count = 0;
	int rc = store_commands_pending(ing->store, only ? only->agent : NULL,
					collect_pending, &list);
	if (rc != 0)
		/* What was collected is still sent; the rest stays pending
		 * for the next delivery. */
		log_warn("ingest: cannot read pending commands: %s",
			 uv_strerror(rc));
	for (int i = 0; i < list.count; i++) {
		struct pending_command *p = &list.items[i];
		struct conn *c = only ? only : find_conn(ing, p->agent);
		if (c != NULL && tls_stream_write(c->ts, p->frame, p->len) == 0) {
			if ((rc = store_command_mark_sent(ing->store, p->id)) != 0)
				/* Sent again later; the agent refuses a
				 * replayed id. */
				log_warn("ingest: cannot mark command %llu sent: %s",
					 (unsigned long long)p->id, uv_strerror(rc));
			log_info("ingest: sent command %llu to %s",
				 (unsigned long long)p->id, who(c));
		}
		alloc_free(p->frame);
	}
}

struct revoked_list {
	char ids[32][EVENT_AGENT_MAX + 1];
	int count;
	int64_t newest;
};

/* Rows come oldest first; the watermark moves only over what was taken,
 * so a burst of revocations is worked through over a few sweeps. */
static void collect_revoked(void *arg, const char *id, int64_t revoked_us)
{
	struct revoked_list *list = arg;
	if (list->count == 32)
		return;
	snprintf(list->ids[list->count++], sizeof(list->ids[0]), "%s", id);
	list->newest = revoked_us;
}

/* The handshake refuses revoked agents; this closes the ones that were
 * already connected when an officer revoked them. */
static void close_revoked(struct ingest *ing)
{
	struct revoked_list list = {.count = 0, .newest = ing->revoked_seen_us};
	if (store_agents_revoked_since(ing->store, ing->revoked_seen_us,
				       collect_revoked, &list) != 0)
		return;
	for (int i = 0; i < list.count; i++) {
		struct conn *next;
		for (struct conn *c = LIST_FIRST(&ing->conns); c; c = next) {
			next = LIST_NEXT(c, link);
			if (!c->closing && strcmp(c->agent, list.ids[i]) == 0) {
				ing->stats.refused_revoked++;
				conn_reject(c, NULL, "identity",
					    "agent revoked by an officer");
			}
		}
	}
	ing->revoked_seen_us = list.newest;
}

static int handle_hello(struct conn *c, const msgpack_object *root)
{
	uint64_t v = 0;
	char agent[EVENT_AGENT_MAX + 1];
	if (wire_get_u64(root, "v", &v) != 0 || v != WIRE_VERSION ||
	    wire_get_str(root, "agent", agent, sizeof(agent)) != 0) {
		conn_reject(c, &c->ing->stats.bad_frames, "bad_frame",
			    "hello without v=%d and agent", WIRE_VERSION);
		return -1;
	}
	if (strcmp(agent, c->agent) != 0) {
		conn_reject(c, &c->ing->stats.identity_mismatch, "identity",
			    "hello claims agent '%s' but the certificate says "
			    "'%s'", agent, c->agent);
		return -1;
	}
	c->hello_done = true;
	conn_settle_hello(c);
	struct wire_out out;
	wire_out_begin(&out, WIRE_HELLO, 3);
	wire_pack_kv_u64(&out.pk, "v", WIRE_VERSION);
	wire_pack_kv_str(&out.pk, "srv", "eduwatch-collector");
	wire_pack_kv_u64(&out.pk, "ts", (uint64_t)store_now_us());
	send_frame(c, &out);
	deliver_commands(c->ing, c);
	return 0;
}

static int handle_events(struct conn *c, const msgpack_object *root)
{
	struct ingest *ing = c->ing;
	uint64_t id;
	const msgpack_object *evs = wire_map_get(root, "ev");
	if (!c->hello_done) {
		conn_reject(c, &ing->stats.bad_frames, "bad_frame",
			    "events before hello");
		return -1;
	}
	if (wire_get_u64(root, "id", &id) != 0 || evs == NULL ||
	    evs->type != MSGPACK_OBJECT_ARRAY ||
	    evs->via.array.size > WIRE_MAX_EVENTS_PER_FRAME) {
		conn_reject(c, &ing->stats.bad_frames, "bad_frame",
			    "events frame needs id and ev (at most %d events)",
			    WIRE_MAX_EVENTS_PER_FRAME);
		return -1;
	}
	uint32_t n = evs->via.array.size;
	struct store_batch *batch = store_batch_new(n);
	struct pending_ack *pa = alloc_bytes(sizeof(*pa));
	if (batch == NULL || pa == NULL) {
		store_batch_free(batch);
		alloc_free(pa);
		conn_reject(c, NULL, "internal", "out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct event ev;
		char err[160];
		if (event_from_msgpack(&evs->via.array.ptr[i], &ev, err,
				       sizeof(err)) != 0) {
			event_clear(&ev);
			store_batch_free(batch);
			alloc_free(pa);
			conn_reject(c, &ing->stats.bad_events, "bad_event",
				    "event %u of batch %llu: %s", i,
				    (unsigned long long)id, err);
			return -1;
		}
		if (strcmp(ev.agent, c->agent) != 0) {
			event_clear(&ev);
			store_batch_free(batch);
			alloc_free(pa);
			conn_reject(c, &ing->stats.identity_mismatch, "identity",
				    "event for agent '%s' on the connection of "
				    "'%s'", ev.agent, c->agent);
			return -1;
		}
		/* The batch was made for n events: a refusal is a bug here. */
		int added = store_batch_add(batch, &ev);
		EW_ASSERT(added == 0);
	}
	spend_tokens(c, n);
	pa->conn = c;
	pa->id = id;
	c->inflight++;
	store_submit(ing->store, batch, on_batch_committed, pa);
	if (store_backlog(ing->store) > ing->opts.backlog_high &&
	    !c->backlog_paused) {
		c->backlog_paused = true;
		ing->backlog_paused_count++;
	}
	conn_update_flow(c);
	return 0;
}

/* ---- published files ------------------------------------------------------ */

#define PIECE_SIZE (128u * 1024u)

static void send_piece_error(struct conn *c, const char *what,
			     uint64_t version, uint64_t offset,
			     const char *error, uint64_t retry_ms)
{
	struct wire_out out;
	wire_out_begin(&out, WIRE_BLOB, 5);
	wire_pack_kv_str(&out.pk, "what", what);
	wire_pack_kv_u64(&out.pk, "version", version);
	wire_pack_kv_u64(&out.pk, "offset", offset);
	wire_pack_kv_str(&out.pk, "error", error);
	wire_pack_kv_u64(&out.pk, "retry_ms", retry_ms);
	send_frame(c, &out);
}

/* One piece of a published bundle. An agent asks for the next piece only
 * after storing this one, so a connection holds at most one piece; a
 * global budget of pieces per second bounds what 40,000 agents asking at
 * once can make the collector buffer, and the rest are told to retry. */
static int handle_fetch(struct conn *c, const msgpack_object *root)
{
	struct ingest *ing = c->ing;
	char what[16] = "";
	uint64_t version = 0, offset = 0;
	if (!c->hello_done || wire_get_str(root, "what", what, sizeof(what)) != 0 ||
	    wire_get_u64(root, "version", &version) != 0 ||
	    wire_get_u64(root, "offset", &offset) != 0 ||
	    (strcmp(what, "rules") != 0 && strcmp(what, "ioc") != 0 &&
	     strcmp(what, "agent") != 0)) {
		conn_reject(c, &ing->stats.bad_frames, "bad_frame",
			    "malformed fetch");
		return -1;
	}
	if (ing->opts.bundle_dir == NULL) {
		send_piece_error(c, what, version, offset, "no bundles here", 0);
		return 0;
	}
	int budget = ing->opts.fetch_pieces_per_second > 0
			     ? ing->opts.fetch_pieces_per_second
			     : 100;
	uint64_t now = now_ms(ing);
	if (now - ing->fetch_window_ms >= 1000) {
		ing->fetch_window_ms = now;
		ing->fetch_pieces = 0;
	}
	/* Each agent's own share refills at a tenth of the global budget,
	 * so one PC looping on fetch slows only itself, and ten at once still
	 * leave the rest their turn. A peer with unread output gets no piece:
	 * it has not taken the last one. */
	struct agent_budget *b = c->budget;
	double share = budget / 10.0 > 1.0 ? budget / 10.0 : 1.0;
	b->pieces += share * (double)(now - b->pieces_ms) / 1000.0;
	if (b->pieces > share)
		b->pieces = share;
	b->pieces_ms = now;
	bool own_share_spent = b->pieces < 1.0;
	if (own_share_spent || ing->fetch_pieces >= budget ||
	    tls_stream_write_backlog(c->ts) > OUTPUT_LOW) {
		ing->stats.pieces_busy++;
		if (own_share_spent)
			ing->stats.pieces_unfair++;
		send_piece_error(c, what, version, offset, "busy",
				 1000 + (uint64_t)(rand() % 4000));
		return 0;
	}
	/* The kind is one of three words and the version a number: the path
	 * cannot be steered elsewhere. */
	char path[700];
	snprintf(path, sizeof(path), "%s/%s-%llu.ewb", ing->opts.bundle_dir,
		 strcmp(what, "ioc") == 0     ? "ioc"
		 : strcmp(what, "agent") == 0 ? "agent"
					      : "bundle",
		 (unsigned long long)version);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || (uint64_t)st.st_size <= offset) {
		if (fd >= 0)
			close(fd);
		send_piece_error(c, what, version, offset,
				 fd < 0 ? "unknown version" : "offset past the end",
				 0);
		return 0;
	}
	static char piece[PIECE_SIZE]; /* one loop thread */
	ssize_t n = pread(fd, piece, PIECE_SIZE, (off_t)offset);
	close(fd);
	if (n <= 0) {
		send_piece_error(c, what, version, offset, "read error", 5000);
		return 0;
	}
	ing->fetch_pieces++;
	b->pieces -= 1.0;
	ing->stats.pieces_served++;
	struct wire_out out;
	wire_out_begin(&out, WIRE_BLOB, 5);
	wire_pack_kv_str(&out.pk, "what", what);
	wire_pack_kv_u64(&out.pk, "version", version);
	wire_pack_kv_u64(&out.pk, "offset", offset);
	wire_pack_kv_u64(&out.pk, "total", (uint64_t)st.st_size);
	wire_pack_str(&out.pk, "data");
	msgpack_pack_bin(&out.pk, (size_t)n);
	msgpack_pack_bin_body(&out.pk, piece, (size_t)n);
	send_frame(c, &out);
	return 0;
}

static int on_frame(void *arg, const char *body, size_t len)
{
	struct conn *c = arg;
	struct wire_msg msg;
	if (c->closing)
		return -1;
	if (wire_msg_parse(&msg, body, len) != 0) {
		conn_reject(c, &c->ing->stats.bad_frames, "bad_frame",
			    "malformed frame of %zu bytes", len);
		return -1;
	}
	int rc = 0;
	switch (msg.type) {
	case WIRE_HELLO:
		rc = handle_hello(c, msg.root);
		break;
	case WIRE_EVENTS:
		rc = handle_events(c, msg.root);
		break;
	case WIRE_PING: {
		uint64_t ts = 0;
		/* A ping is answered, so it costs what an event costs. */
		spend_tokens(c, 1);
		wire_get_u64(msg.root, "ts", &ts);
		struct wire_out out;
		wire_out_begin(&out, WIRE_PING, 1);
		wire_pack_kv_u64(&out.pk, "ts", ts);
		send_frame(c, &out);
		break;
	}
	case WIRE_FETCH:
		rc = handle_fetch(c, msg.root);
		break;
	case WIRE_RESULT:
		/* Command results arrive as events; the frame is accepted
		 * for forward compatibility, and paid for. */
		spend_tokens(c, 1);
		break;
	default:
		conn_reject(c, &c->ing->stats.bad_frames, "bad_frame",
			    "unexpected '%s' frame", wire_type_name(msg.type));
		rc = -1;
		break;
	}
	wire_msg_release(&msg);
	conn_update_flow(c);
	return rc;
}

/* ---- stream callbacks ---------------------------------------------------- */

static void on_open(struct tls_stream *ts, void *arg)
{
	struct conn *c = arg;
	snprintf(c->agent, sizeof(c->agent), "%s", tls_stream_peer_cn(ts));
	snprintf(c->school, sizeof(c->school), "%s", tls_stream_peer_ou(ts));
	c->last_activity_ms = now_ms(c->ing);
	if (!event_agent_id_valid(c->agent)) {
		conn_reject(c, &c->ing->stats.identity_mismatch, "identity",
			    "certificate CN is not a valid agent id");
		return;
	}
	struct agent_budget *b = budget_get(c->ing, c->agent);
	if (b == NULL) {
		conn_reject(c, NULL, "internal", "out of memory");
		return;
	}
	/* One live connection per agent: a real agent reconnecting after a
	 * cut must not wait for the old socket's idle timeout, and a stolen
	 * certificate cannot multiply its budget with more sockets. */
	if (b->conn != NULL && b->conn != c) {
		struct conn *old = b->conn;
		b->conn = NULL;
		old->budget = NULL;
		c->ing->stats.replaced++;
		conn_reject(old, NULL, "replaced",
			    "replaced by a newer connection of the same agent");
	}
	/* One live connection per agent: the older one was let go above. */
	EW_ASSERT(b->conn == NULL || b->conn == c);
	b->conn = c;
	c->budget = b;
	/* A budget spent on an earlier connection stays spent: reconnecting
	 * must not buy a fresh frame. */
	refill_tokens(c, now_ms(c->ing));
	if (b->tokens <= 0) {
		c->throttled = true;
		conn_update_flow(c);
	}
}

static void on_data(struct tls_stream *ts, const char *data, size_t len,
		    void *arg)
{
	struct conn *c = arg;
	(void)ts;
	c->last_activity_ms = now_ms(c->ing);
	if (c->closing)
		return;
	int rc = wire_decoder_feed(c->dec, data, len, on_frame, c);
	if (rc == -EMSGSIZE)
		conn_reject(c, &c->ing->stats.bad_frames, "bad_frame",
			    "frame length 0 or over %u bytes", WIRE_MAX_FRAME);
	else if (rc == -ENOMEM)
		conn_reject(c, NULL, "internal", "out of memory");
}

static void on_close(struct tls_stream *ts, int status, void *arg)
{
	struct conn *c = arg;
	struct ingest *ing = c->ing;
	const char *error = tls_stream_error(ts);
	/* No agent id yet: the handshake itself failed. */
	if (c->agent[0] == '\0' && !c->closing) {
		if (strstr(error, "revoked") != NULL) {
			ing->stats.refused_revoked++;
		} else {
			ing->stats.handshake_failed++;
			log_info("ingest: handshake with %s failed: %s",
				 c->addr, error[0] ? error : "closed");
		}
	} else if (status != 0 && !c->closing && error[0]) {
		log_info("ingest: %s disconnected: %s", who(c), error);
	}
	if (c->budget != NULL && c->budget->conn == c)
		c->budget->conn = NULL;
	c->budget = NULL;
	conn_settle_hello(c);
	EW_ASSERT(!c->closed);
	c->closed = true;
	c->ts = NULL;
	EW_ASSERT(ing->stats.open > 0 && ing->handles_open > 0);
	ing->stats.open--;
	conn_unlink(c);
	conn_free_if_done(c);
	if (--ing->handles_open == 0 && ing->stopping && ing->stop_done)
		ing->stop_done(ing->stop_arg);
}

static const struct tls_stream_ops conn_ops = {on_open, on_data, on_close};

/* Runs inside the TLS handshake: only enrolled, unrevoked agents pass. */
static int peer_check(void *arg, const char *cn, const char *ou)
{
	struct ingest *ing = arg;
	bool allowed = false;
	if (store_agent_allowed(ing->store, cn, &allowed) != 0)
		return -1;
	if (!allowed)
		log_warn("ingest: refused certificate of agent %s (school %s): "
			 "revoked or not enrolled here",
			 cn, ou);
	return allowed ? 0 : -1;
}

/* Why a connection just accepted is turned away, or NULL: checked before
 * any allocation or TLS work, so refusing a herd costs an accept and a
 * close each. The counter to bump goes in *counter. */
static const char *admission_refusal(struct ingest *ing, uint64_t **counter)
{
	if (ing->stats.open >= (uint64_t)ing->opts.max_connections ||
	    ing->stopping) {
		*counter = &ing->stats.refused_full;
		return "connections";
	}
	if (ing->handshaking >= ing->opts.max_handshakes) {
		*counter = &ing->stats.refused_busy;
		return "handshakes in progress";
	}
	return NULL;
}

/* Counts a refusal; logs the first of a run of them and then one line a
 * sweep at most, since a herd is refused thousands of times a second. */
static void note_refusal(struct ingest *ing, uint64_t *counter,
			 const char *what)
{
	(*counter)++;
	if (ing->refusals_logged++ > 0)
		return;
	log_warn("ingest: refusing connections at accept: %llu open (limit "
		 "%d), %d handshakes in progress (limit %d): too many %s",
		 (unsigned long long)ing->stats.open,
		 ing->opts.max_connections, ing->handshaking,
		 ing->opts.max_handshakes, what);
}

static int conn_admit(struct ingest *ing, uv_tcp_t *tcp)
{
	struct conn *c = alloc_zeroed(1, sizeof(*c));
	if (c == NULL || (c->dec = wire_decoder_new()) == NULL) {
		alloc_free(c);
		return -ENOMEM;
	}
	c->ing = ing;
	c->opened_ms = c->last_activity_ms = c->write_progress_ms =
		c->hs_progress_ms = now_ms(ing);
	uv_tcp_nodelay(tcp, 1);
	ing->stats.open++;
	ing->handles_open++;
	LIST_INSERT_HEAD(&ing->conns, c, link);
	c->listed = true;
	c->holds_place = c->hello_pending = true;
	ing->handshaking++;
	ing->stats.hello_pending++;
	struct tls_stream_params params = {.server = true};
	/* On failure the stream has freed tcp; nothing else holds c. */
	if (tls_stream_new((uv_stream_t *)tcp, ing->ctx, &params, &conn_ops, c,
			   &c->ts) != 0) {
		conn_settle_hello(c);
		ing->stats.open--;
		ing->handles_open--;
		conn_unlink(c);
		wire_decoder_free(c->dec);
		alloc_free(c);
		return 0;
	}
	snprintf(c->addr, sizeof(c->addr), "%s", tls_stream_peer_addr(c->ts));
	return 0;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct ingest *ing = server->data;
	if (status < 0) {
		log_warn("ingest: accept failed: %s", uv_strerror(status));
		return;
	}
	uv_tcp_t *tcp = tls_tcp_accept(server);
	if (tcp == NULL)
		return;
	ing->stats.accepted++;
	uint64_t *counter = NULL;
	const char *refusal = admission_refusal(ing, &counter);
	if (refusal != NULL) {
		note_refusal(ing, counter, refusal);
		tls_tcp_drop(tcp);
		return;
	}
	if (conn_admit(ing, tcp) != 0)
		tls_tcp_drop(tcp);
}

/* The refusals after the first of a run, once a sweep (note_refusal). */
static void log_refusals(struct ingest *ing)
{
	if (ing->refusals_logged > 1)
		log_warn("ingest: refused %llu more connections at accept in "
			 "the last %d ms (refused_full=%llu refused_busy=%llu)",
			 (unsigned long long)(ing->refusals_logged - 1),
			 SWEEP_INTERVAL_MS,
			 (unsigned long long)ing->stats.refused_full,
			 (unsigned long long)ing->stats.refused_busy);
	ing->refusals_logged = 0;
}

/* How late the loop runs: each tick compares when it ran with when it
 * was due. A loop that is late delays every handshake, ack and timeout,
 * so this is the first figure to read when agents time out. */
static void on_lag_tick(uv_timer_t *timer)
{
	struct ingest *ing = timer->data;
	uint64_t ran = uv_hrtime() / 1000000;
	uint64_t late = ran > ing->lag_due_ms ? ran - ing->lag_due_ms : 0;
	ing->stats.loop_lag_ms = late;
	if (late > ing->stats.loop_lag_max_ms)
		ing->stats.loop_lag_max_ms = late;
	ing->lag_due_ms = ran + LAG_TICK_MS;
	uv_timer_start(&ing->lag_tick, on_lag_tick, LAG_TICK_MS, 0);
}

/* One descriptor per connection: a limit below max_connections makes
 * accepts fail long before the collector counts itself full. */
static void warn_fd_limit(const struct ingest_options *opts)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return;
	if ((uint64_t)opts->max_connections + FD_HEADROOM <= rl.rlim_cur)
		return;
	log_warn("ingest: ingest.max_connections is %d but the process may "
		 "open only %llu descriptors (%d kept for the store and "
		 "listeners): past about %lld agents, connections fail at "
		 "accept; raise LimitNOFILE or lower max_connections",
		 opts->max_connections, (unsigned long long)rl.rlim_cur,
		 FD_HEADROOM, (long long)rl.rlim_cur - FD_HEADROOM);
}

/* Whether a connection holding a handshake place should give it up
 * (HANDSHAKE_IDLE_MS); looked at once a sweep. */
static bool handshake_stalled(struct conn *c, uint64_t now)
{
	uint64_t half_timeout = (uint64_t)c->ing->opts.handshake_timeout_s * 500;
	uint64_t moved = tls_stream_bytes_read(c->ts) +
			 tls_stream_bytes_written(c->ts);
	if (moved != c->hs_bytes_seen) {
		c->hs_bytes_seen = moved;
		c->hs_progress_ms = now;
	}
	return now - c->hs_progress_ms > HANDSHAKE_IDLE_MS ||
	       now - c->opened_ms > half_timeout;
}

/* Once a second: deadlines, idle connections, rate refills, counters. */
static void on_sweep(uv_timer_t *timer)
{
	struct ingest *ing = timer->data;
	uint64_t now = now_ms(ing);
	uint64_t hs_ms = (uint64_t)ing->opts.handshake_timeout_s * 1000;
	uint64_t idle_ms = (uint64_t)ing->opts.idle_timeout_s * 1000;
	struct conn *next;
	for (struct conn *c = LIST_FIRST(&ing->conns); c; c = next) {
		next = LIST_NEXT(c, link);
		if (c->closing) {
			/* A peer that will not read its last frames would
			 * hold an orderly close open for ever. */
			if (c->ts != NULL && !c->aborted &&
			    now - c->closing_ms > CLOSE_GRACE_MS) {
				c->aborted = true;
				ing->stats.output_stalled++;
				tls_stream_abort(c->ts, -ETIMEDOUT);
			}
			continue;
		}
		if (c->holds_place && handshake_stalled(c, now))
			conn_release_place(c);
		if (!c->hello_done && now - c->opened_ms > hs_ms) {
			/* Slowloris: a handshake or hello that never ends. */
			ing->stats.handshake_timeouts++;
			log_info("ingest: closing %s: no TLS handshake and hello "
				 "within %ds",
				 who(c), ing->opts.handshake_timeout_s);
			conn_close(c, -ETIMEDOUT);
			continue;
		}
		if (now - c->last_activity_ms > idle_ms && c->inflight == 0) {
			ing->stats.idle_closed++;
			log_info("ingest: closing %s: idle for %ds", who(c),
				 ing->opts.idle_timeout_s);
			conn_close(c, -ETIMEDOUT);
			continue;
		}
		if (c->throttled && c->budget != NULL) {
			refill_tokens(c, now);
			if (c->budget->tokens > 0) {
				c->throttled = false;
				conn_update_flow(c);
			}
		}
		if (c->output_paused &&
		    tls_stream_write_backlog(c->ts) < OUTPUT_LOW) {
			c->output_paused = false;
			conn_update_flow(c);
		}
		size_t owed = tls_stream_write_backlog(c->ts);
		uint64_t written = tls_stream_bytes_written(c->ts);
		if (owed == 0 || written != c->written_seen) {
			c->written_seen = written;
			c->write_progress_ms = now;
		} else if (now - c->write_progress_ms > OUTPUT_STALL_MS) {
			/* Not a byte taken in that time: the peer does not
			 * read. An orderly close would wait for the backlog
			 * to drain, which it never will. */
			c->closing = true;
			c->aborted = true;
			ing->stats.output_stalled++;
			log_warn("ingest: closing %s: %zu bytes unread for %ds",
				 who(c), owed, OUTPUT_STALL_MS / 1000);
			tls_stream_abort(c->ts, -ETIMEDOUT);
			continue;
		}
	}
	check_backlog(ing);
	log_refusals(ing);
	if (++ing->sweeps % COMMAND_SWEEP_EVERY == 0) {
		deliver_commands(ing, NULL);
		close_revoked(ing);
	}
	if (ing->opts.stats_interval_s > 0 &&
	    now - ing->last_stats_ms >= (uint64_t)ing->opts.stats_interval_s * 1000) {
		ing->last_stats_ms = now;
		ingest_log_stats(ing);
	}
}

int ingest_start(uv_loop_t *loop, SSL_CTX *ctx, struct store *store,
		 const struct ingest_options *opts, struct ingest **out,
		 char *err, size_t errlen)
{
	struct ingest *ing = alloc_zeroed(1, sizeof(*ing));
	struct sockaddr_storage addr;
	int rc;
	*out = NULL;
	if (ing == NULL)
		return -ENOMEM;
	ing->loop = loop;
	ing->ctx = ctx;
	ing->store = store;
	ing->opts = *opts;
	if (ing->opts.max_handshakes <= 0)
		ing->opts.max_handshakes = INGEST_MAX_HANDSHAKES_DEFAULT;
	if (uv_ip4_addr(opts->host, opts->port, (struct sockaddr_in *)&addr) &&
	    uv_ip6_addr(opts->host, opts->port, (struct sockaddr_in6 *)&addr)) {
		snprintf(err, errlen, "ingest: '%s' is not an IP address",
			 opts->host);
		alloc_free(ing);
		return -EINVAL;
	}
	if ((rc = tls_ctx_set_peer_check(ctx, peer_check, ing)) != 0) {
		alloc_free(ing);
		return rc;
	}
	uv_tcp_init(loop, &ing->listener);
	ing->listener.data = ing;
	ing->handles_open++;
	rc = uv_tcp_bind(&ing->listener, (struct sockaddr *)&addr, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&ing->listener, 4096, on_connection);
	if (rc != 0) {
		snprintf(err, errlen, "ingest: cannot listen on %s:%d: %s",
			 opts->host, opts->port, uv_strerror(rc));
		uv_close((uv_handle_t *)&ing->listener, NULL);
		/* Freed after the close callback runs with the loop. */
		ing->stopping = true;
		ing->handles_open--;
		uv_run(loop, UV_RUN_NOWAIT);
		alloc_free(ing);
		return rc;
	}
	/* Port 0 asks the system for a free one: keep what it chose. */
	ing->opts.port = tls_tcp_local_port(&ing->listener);
	uv_timer_init(loop, &ing->sweep);
	ing->sweep.data = ing;
	ing->handles_open++;
	uv_timer_start(&ing->sweep, on_sweep, SWEEP_INTERVAL_MS,
		       SWEEP_INTERVAL_MS);
	uv_timer_init(loop, &ing->lag_tick);
	ing->lag_tick.data = ing;
	ing->handles_open++;
	ing->lag_due_ms = uv_hrtime() / 1000000 + LAG_TICK_MS;
	uv_timer_start(&ing->lag_tick, on_lag_tick, LAG_TICK_MS, 0);
	warn_fd_limit(opts);
	ing->last_stats_ms = uv_now(loop);
	ing->revoked_seen_us = store_now_us();
	log_info("ingest: listening on %s:%d (TLS 1.3, client certificates "
		 "required)", opts->host, ing->opts.port);
	*out = ing;
	return 0;
}

int ingest_port(const struct ingest *ing)
{
	return ing->opts.port;
}

static void on_handle_closed(uv_handle_t *handle)
{
	struct ingest *ing = handle->data;
	if (--ing->handles_open == 0 && ing->stop_done)
		ing->stop_done(ing->stop_arg);
}

void ingest_stop(struct ingest *ing, void (*done)(void *arg), void *arg)
{
	ing->stopping = true;
	ing->stop_done = done;
	ing->stop_arg = arg;
	uv_timer_stop(&ing->sweep);
	uv_close((uv_handle_t *)&ing->sweep, on_handle_closed);
	uv_timer_stop(&ing->lag_tick);
	uv_close((uv_handle_t *)&ing->lag_tick, on_handle_closed);
	uv_close((uv_handle_t *)&ing->listener, on_handle_closed);
	struct conn *c;
	LIST_FOREACH(c, &ing->conns, link) {
		if (c->aborted || c->ts == NULL)
			continue;
		/* The sweep is stopped, so nothing would cut a close that
		 * waits on a peer that does not read: one that owes output
		 * is cut now, the others close in order. */
		if (tls_stream_write_backlog(c->ts) > 0) {
			c->closing = c->aborted = true;
			tls_stream_abort(c->ts, 0);
		} else {
			conn_close(c, 0);
		}
	}
}

void ingest_free(struct ingest *ing)
{
	if (ing == NULL)
		return;
	for (size_t i = 0; i < BUDGET_BUCKETS; i++) {
		struct agent_budget *b = ing->budgets[i], *next;
		for (; b; b = next) {
			next = b->next;
			alloc_free(b);
		}
	}
	alloc_free(ing);
}

void ingest_get_stats(const struct ingest *ing, struct ingest_stats *out)
{
	*out = ing->stats;
}

void ingest_log_stats(const struct ingest *ing)
{
	const struct ingest_stats *s = &ing->stats;
	log_info("ingest: open=%llu accepted=%llu stored=%llu duplicate=%llu "
		 "bad_frames=%llu bad_events=%llu identity=%llu revoked=%llu "
		 "handshake_failed=%llu handshake_timeouts=%llu idle_closed=%llu "
		 "throttled=%llu refused_full=%llu store_failures=%llu "
		 "replaced=%llu output_paused=%llu output_stalled=%llu "
		 "pieces_served=%llu pieces_busy=%llu pieces_unfair=%llu "
		 "refused_busy=%llu hello_pending=%llu loop_lag_ms=%llu "
		 "loop_lag_max_ms=%llu backlog=%zu",
		 (unsigned long long)s->open, (unsigned long long)s->accepted,
		 (unsigned long long)s->events_stored,
		 (unsigned long long)s->events_duplicate,
		 (unsigned long long)s->bad_frames,
		 (unsigned long long)s->bad_events,
		 (unsigned long long)s->identity_mismatch,
		 (unsigned long long)s->refused_revoked,
		 (unsigned long long)s->handshake_failed,
		 (unsigned long long)s->handshake_timeouts,
		 (unsigned long long)s->idle_closed,
		 (unsigned long long)s->throttled,
		 (unsigned long long)s->refused_full,
		 (unsigned long long)s->store_failures,
		 (unsigned long long)s->replaced,
		 (unsigned long long)s->output_paused,
		 (unsigned long long)s->output_stalled,
		 (unsigned long long)s->pieces_served,
		 (unsigned long long)s->pieces_busy,
		 (unsigned long long)s->pieces_unfair,
		 (unsigned long long)s->refused_busy,
		 (unsigned long long)s->hello_pending,
		 (unsigned long long)s->loop_lag_ms,
		 (unsigned long long)s->loop_lag_max_ms,
		 store_backlog(ing->store));
}
