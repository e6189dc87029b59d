/* uplink: the agent's connection to the collector.
 *
 * Reads events from the spool in seq order and sends them in batches over
 * TLS 1.3 (the pinned CA, the collector's name checked), keeping up to
 * `window` batches in flight. An ack deletes its batch from the spool.
 * After any disconnect it reconnects with full-jitter exponential backoff
 * (capped) and resends from the first unacked seq, so a batch that was
 * committed but whose ack was lost comes back as a duplicate, which the
 * collector acks without storing twice. An optional byte rate caps what
 * a slow school link gives to eduwatch.
 *
 * Lifecycle: loop-owned, `_start` / `_stop` / `_free`, as every loop-owned
 * module in the tree: stop begins closing the handles, free runs once the
 * loop has closed them. */
#ifndef EDUWATCH_UPLINK_H
#define EDUWATCH_UPLINK_H

#include "common/check.h"

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "agent/core/spool.h"
#include "common/wire.h"

struct uplink_options {
	const char *host;
	int port;
	SSL_CTX *ctx;		  /* borrowed; holds the agent's identity */
	const char *agent_id;
	uint64_t boot;
	const char *release;	  /* the release folder it runs from, or "" */
	int batch_max;		  /* events per frame */
	int window;		  /* frames in flight */
	long long bandwidth_bps;  /* 0: unlimited */
	int backoff_max_s;
};

struct uplink_status {
	bool connected;
	int64_t connected_since_us;
	int64_t last_ack_us;
	uint64_t acked_events;
	uint64_t reconnects;
	char last_error[160];
};

struct uplink;

/* Called for each command and blob frame; the map is borrowed for the
 * call. */
typedef void (*uplink_command_fn)(void *arg, const msgpack_object *frame);
/* Called when the connection comes up or goes down. */
typedef void (*uplink_state_fn)(void *arg, bool connected);

EW_MUST_CHECK
int uplink_start(uv_loop_t *loop, struct spool *spool,
		 const struct uplink_options *opts, uplink_command_fn on_command,
		 uplink_state_fn on_state, void *arg, struct uplink **out);

/* Sends one frame (begun with wire_out_begin) now, if connected; the
 * frame is released either way. Returns 0 or -ENOTCONN. */
EW_MUST_CHECK
int uplink_send(struct uplink *up, struct wire_out *out);
bool uplink_connected(const struct uplink *up);

/* New events are in the spool: send them if the link allows. */
void uplink_kick(struct uplink *up);

/* The agent-silence drill: closes the connection and makes none for ms
 * (events keep spooling and go once it ends); ms 0 ends a hold at once.
 * No command can arrive while held, so the caller bounds ms. */
void uplink_hold(struct uplink *up, uint64_t ms);
bool uplink_held(const struct uplink *up);

/* Closes the connection and every handle; done runs after. */
void uplink_stop(struct uplink *up, void (*done)(void *arg), void *arg);

/* Frees a stopped uplink (after uplink_stop's done callback). */
void uplink_free(struct uplink *up);

void uplink_get_status(const struct uplink *up, struct uplink_status *out);

#endif
