/* store_writer: the writer thread and queue both store backends share.
 * What a backend stores and how it prunes are its own (the ops); taking
 * batches, counting the backlog and handing results back to the loop are
 * done here once. */
#include "collector/store_writer.h"

#define IDLE_WAIT_NS ((uint64_t)STORE_HOUSEKEEP_INTERVAL_US * 1000)

void store_writer_init(struct store_writer *w,
		       const struct store_writer_ops *ops, void *backend,
		       size_t batch_max_events)
{
	*w = (struct store_writer){
		.ops = ops,
		.backend = backend,
		.batch_max_events = batch_max_events,
	};
	STAILQ_INIT(&w->pending);
	STAILQ_INIT(&w->done);
	uv_mutex_init(&w->lock);
	uv_cond_init(&w->wake);
}

/* Called with the lock held: moves whole batches from pending into take
 * up to the event budget, the first whatever its size. Returns how many
 * events it took. */
static size_t take_batches(struct store_writer *w,
			   struct store_batch_queue *take)
{
	size_t events = 0;
	struct store_batch *b;
	while ((b = STAILQ_FIRST(&w->pending)) != NULL &&
	       (STAILQ_EMPTY(take) ||
		events + b->count <= w->batch_max_events)) {
		STAILQ_REMOVE_HEAD(&w->pending, link);
		STAILQ_INSERT_TAIL(take, b, link);
		events += b->count;
	}
	EW_ASSERT(!STAILQ_EMPTY(take));
	return events;
}

static void writer_main(void *arg)
{
	struct store_writer *w = arg;
	uv_mutex_lock(&w->lock);
	for (;;) {
		while (STAILQ_EMPTY(&w->pending) && !w->stopping) {
			/* Wake up now and then to housekeep even when idle. */
			if (uv_cond_timedwait(&w->wake, &w->lock,
					      IDLE_WAIT_NS) != 0) {
				uv_mutex_unlock(&w->lock);
				w->ops->housekeep(w->backend, 0);
				uv_mutex_lock(&w->lock);
			}
		}
		if (STAILQ_EMPTY(&w->pending) && w->stopping)
			break;
		struct store_batch_queue take = STAILQ_HEAD_INITIALIZER(take);
		size_t events = take_batches(w, &take);
		uv_mutex_unlock(&w->lock);

		int status = w->ops->write(w->backend, &take);
		w->ops->housekeep(w->backend, status);

		uv_mutex_lock(&w->lock);
		struct store_batch *b;
		/* 0 leaves what the backend set on each batch (a group it
		 * stored but for a batch it refused). */
		STAILQ_FOREACH(b, &take, link)
			if (status != 0)
				b->status = status;
		STAILQ_CONCAT(&w->done, &take);
		/* Every event taken was counted in when it was submitted. */
		EW_ASSERT(w->backlog >= events);
		w->backlog -= events;
		uv_mutex_unlock(&w->lock);
		uv_async_send(&w->done_async);
		uv_mutex_lock(&w->lock);
	}
	uv_mutex_unlock(&w->lock);
}

/* Runs on the loop: hands each finished batch back to its owner. */
static void deliver_done(uv_async_t *async)
{
	struct store_writer *w = async->data;
	uv_mutex_lock(&w->lock);
	struct store_batch_queue list = STAILQ_HEAD_INITIALIZER(list);
	STAILQ_CONCAT(&list, &w->done);
	uv_mutex_unlock(&w->lock);
	struct store_batch *b;
	while ((b = STAILQ_FIRST(&list)) != NULL) {
		STAILQ_REMOVE_HEAD(&list, link);
		if (b->cb)
			b->cb(b->arg, b->status, b->stored, b->dup);
		store_batch_free(b);
	}
}

int store_writer_start(struct store_writer *w, uv_loop_t *loop)
{
	int rc = uv_async_init(loop, &w->done_async, deliver_done);
	if (rc != 0)
		return rc;
	w->done_async.data = w;
	w->has_async = true;
	rc = uv_thread_create(&w->thread, writer_main, w);
	if (rc != 0)
		return rc;
	w->has_thread = true;
	return 0;
}

void store_writer_submit(struct store_writer *w, struct store_batch *batch)
{
	uv_mutex_lock(&w->lock);
	STAILQ_INSERT_TAIL(&w->pending, batch, link);
	w->backlog += batch->count;
	uv_cond_signal(&w->wake);
	uv_mutex_unlock(&w->lock);
}

size_t store_writer_backlog(struct store_writer *w)
{
	uv_mutex_lock(&w->lock);
	size_t n = w->backlog;
	uv_mutex_unlock(&w->lock);
	return n;
}

void store_writer_stop(struct store_writer *w)
{
	if (!w->has_thread)
		return;
	uv_mutex_lock(&w->lock);
	w->stopping = true;
	uv_cond_signal(&w->wake);
	uv_mutex_unlock(&w->lock);
	uv_thread_join(&w->thread);
	w->has_thread = false;
	deliver_done(&w->done_async);
}

static void async_closed(uv_handle_t *handle)
{
	struct store_writer *w = handle->data;
	w->ops->released(w->backend);
}

void store_writer_release(struct store_writer *w)
{
	store_writer_stop(w);
	uv_mutex_destroy(&w->lock);
	uv_cond_destroy(&w->wake);
	if (w->has_async)
		uv_close((uv_handle_t *)&w->done_async, async_closed);
	else
		w->ops->released(w->backend);
}
