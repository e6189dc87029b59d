/* store_writer: the writer thread every store backend runs, and its queue.
 *
 * The loop submits batches of events; one thread takes whole batches up
 * to an event budget (group commit: what queued during the last commit
 * goes into the next one), has the backend write them in one transaction,
 * and hands each batch back on the loop with the commit's status, so an
 * ack always means stored. Between commits, and when idle for a while, the
 * backend gets a turn for its housekeeping (retention, partitions).
 *
 * Only the backends include this (through store_sqlite.h and store_pg.h).
 * Lifecycle: store_writer_init, then store_writer_start with a loop (a
 * store opened without one never starts it), store_writer_stop, and
 * store_writer_release last, whether or not it ever started. */
#ifndef EDUWATCH_STORE_WRITER_H
#define EDUWATCH_STORE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "collector/store_backend.h"
#include "common/check.h"

/* How often an idle writer gives the backend a housekeeping turn, and
 * the least time between two retention passes. */
#define STORE_HOUSEKEEP_INTERVAL_US (10 * 1000000LL)

struct store_writer_ops {
	/* On the writer thread, outside the queue's lock: store every batch
	 * in take in one transaction, filling each one's stored and dup
	 * counts. 0 or a negative errno, which every batch in take gets;
	 * a backend that stored some batches and refused others sets the
	 * refused ones' status itself (batches start at 0) and returns 0. */
	int (*write)(void *backend, struct store_batch_queue *take);
	/* On the writer thread, outside the queue's lock: after each
	 * commit, with its status, and with 0 after
	 * STORE_HOUSEKEEP_INTERVAL_US without one. */
	void (*housekeep)(void *backend, int status);
	/* Once the writer's loop handle is closed (or at once from
	 * store_writer_release when it never had one): the backend may now
	 * free the memory the writer lives in. */
	void (*released)(void *backend);
};

/* Embedded in a backend's struct; its fields are the writer's own. */
struct store_writer {
	const struct store_writer_ops *ops;
	void *backend; /* borrowed: the ops' first argument */
	size_t batch_max_events;

	uv_mutex_t lock; /* guards everything below */
	uv_cond_t wake;
	struct store_batch_queue pending; /* submitted, not yet taken */
	struct store_batch_queue done;	  /* written, callbacks not run */
	size_t backlog; /* events queued or being written */
	bool stopping;

	uv_thread_t thread;
	bool has_thread;
	uv_async_t done_async;
	bool has_async;
};

/* Makes the lock and the empty queues; no thread yet. batch_max_events
 * is the group commit's budget (the first batch is taken whatever its
 * size). ops and backend are borrowed and must outlive the writer. */
void store_writer_init(struct store_writer *w,
		       const struct store_writer_ops *ops, void *backend,
		       size_t batch_max_events);

/* Starts the thread; finished batches come back on loop. 0 or a
 * negative errno (nothing started then, store_writer_release still
 * due). */
EW_MUST_CHECK
int store_writer_start(struct store_writer *w, uv_loop_t *loop);

/* On the loop: queues batch (takes ownership until its callback ran). */
void store_writer_submit(struct store_writer *w, struct store_batch *batch);

/* Events submitted and not yet handed back; any thread. */
size_t store_writer_backlog(struct store_writer *w);

/* On the loop: commits what is queued, hands it back (the callbacks run
 * before this returns), and joins the thread. A no-op when not running;
 * may be called more than once. */
void store_writer_stop(struct store_writer *w);

/* Stops the writer if still running, destroys its lock, and closes its
 * loop handle; ops->released(backend) follows when the loop lets go of
 * it, or at once when the writer never started. */
void store_writer_release(struct store_writer *w);

#endif
