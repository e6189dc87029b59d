/* ingest: the collector's agent-facing TLS server.
 *
 * One libuv TCP listener; per connection a tls_stream, a frame decoder, a
 * handshake deadline and an idle timeout; per agent (whatever its
 * connections) one live connection, a token bucket for events and pings and
 * a share of bundle pieces. Events go to the store in one batch per frame
 * and are acked only from the store's commit callback. A connection stops
 * reading while it has too many batches in flight, exceeds its rate, has
 * more than 1 MiB of answers unread (and is cut if that lasts 30 s), or the
 * store's backlog is high. Any bad input closes that one connection with a
 * log line and a counter.
 *
 * Lifecycle: loop-owned, `_start` / `_stop` / `_free`, as every loop-owned
 * module in the tree: stop begins closing the handles, free runs once the
 * loop has closed them. */
#ifndef EDUWATCH_INGEST_H
#define EDUWATCH_INGEST_H

#include "common/check.h"

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "collector/store.h"

/* ingest.max_handshakes when the settings give none. */
#define INGEST_MAX_HANDSHAKES_DEFAULT 256

struct ingest_options {
	const char *host;
	int port;
	int max_connections;
	/* TLS handshakes (and hellos) in progress at once; past it a new
	 * connection is closed at accept, before any TLS work, so a herd of
	 * reconnecting agents backs off instead of timing out together.
	 * 0: INGEST_MAX_HANDSHAKES_DEFAULT. */
	int max_handshakes;
	int handshake_timeout_s;
	int idle_timeout_s;
	int max_events_per_second; /* per agent, pings and results included */
	size_t backlog_high;	   /* store backlog that pauses reading */
	int stats_interval_s;	   /* 0: never log counters */
	/* Published rule bundles, served to agents in pieces on request
	 * ("fetch" frames); NULL serves none. */
	const char *bundle_dir;
	int fetch_pieces_per_second; /* across all agents; 0: 100; each agent
				      * gets a tenth of it */
};

struct ingest_stats {
	uint64_t accepted;
	uint64_t open;
	uint64_t refused_full;
	uint64_t handshake_failed;
	uint64_t refused_revoked;
	uint64_t handshake_timeouts;
	uint64_t idle_closed;
	uint64_t bad_frames;
	uint64_t bad_events;
	uint64_t identity_mismatch;
	uint64_t throttled;
	uint64_t events_stored;
	uint64_t events_duplicate;
	uint64_t store_failures;
	uint64_t pieces_served;
	uint64_t pieces_busy;
	uint64_t pieces_unfair;	 /* busy because the agent spent its share */
	uint64_t replaced;	 /* connections replaced by the agent's newer one */
	uint64_t output_paused;	 /* times a peer's unread output paused reading */
	uint64_t output_stalled; /* connections cut for never reading */
	uint64_t refused_busy;	 /* closed at accept: max_handshakes in progress */
	uint64_t hello_pending;	 /* now: accepted, hello not yet answered */
	uint64_t loop_lag_ms;	 /* how late the loop ran its last tick */
	uint64_t loop_lag_max_ms; /* the latest it has run since start */
};

struct ingest;

/* ctx is borrowed and must outlive the ingest; a peer check that refuses
 * revoked agents is installed on it. */
EW_MUST_CHECK
int ingest_start(uv_loop_t *loop, SSL_CTX *ctx, struct store *store,
		 const struct ingest_options *opts, struct ingest **out,
		 char *err, size_t errlen);

/* Stops accepting and closes every connection; batches in flight still
 * get their acks if the connection lives long enough. done runs once all
 * handles are closed. */
void ingest_stop(struct ingest *ing, void (*done)(void *arg), void *arg);

/* Frees a stopped ingest, after its done callback has run. NULL is a
 * no-op. */
void ingest_free(struct ingest *ing);

/* The port it listens on (the system's choice when opts->port was 0). */
int ingest_port(const struct ingest *ing);
void ingest_get_stats(const struct ingest *ing, struct ingest_stats *out);
void ingest_log_stats(const struct ingest *ing);

#endif
