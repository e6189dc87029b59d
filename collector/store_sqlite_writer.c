/* store_sqlite_writer: the writer thread, which commits queued batches of
 * events in group commits on its own connection, and the checkpoint
 * thread. Nothing here takes the admin lock. */
#include "collector/store_sqlite.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/check.h"
#include "common/log.h"

#define PRUNE_STEP_ROWS 500
#define PRUNE_INTERVAL_US (10 * 1000000LL)
#define CHECKPOINT_INTERVAL_NS (1000ULL * 1000 * 1000)

/* ev->ts is already clamped (write_batches); agent_ts is what the agent
 * sent when that differs, else 0. */
static int write_event(struct sqlite_store *s, const struct event *ev,
		       int64_t now, int64_t agent_ts, bool *inserted)
{
	struct sq_done done;
	const void *body = ev->body_len > 0 ? ev->body : NULL;
	int rc = sq_run(&s->writer, SQ_EVENT_INSERT,
			SQ_ARGS(SQ_TEXT(ev->agent), SQ_INT(ev->boot),
				SQ_INT(ev->seq), SQ_INT(ev->ts), SQ_INT(now),
				SQ_TEXT(ev->kind), SQ_INT(ev->sev),
				SQ_INT(ev->drill), SQ_BLOB(body, ev->body_len),
				SQ_INT_OR_NULL(agent_ts, agent_ts != 0)),
			NULL, NULL, &done);
	if (rc != 0)
		return rc;
	*inserted = done.changes > 0;
	if (!*inserted || !store_is_state_kind(ev->kind))
		return 0;
	return sq_run(&s->writer, SQ_STATE_UPSERT,
		      SQ_ARGS(SQ_TEXT(ev->agent), SQ_TEXT(ev->kind),
			      SQ_INT(ev->ts), SQ_INT(ev->sev),
			      SQ_INT(ev->drill), SQ_BLOB(body, ev->body_len),
			      SQ_INT(now),
			      SQ_INT_OR_NULL(agent_ts, agent_ts != 0)),
		      NULL, NULL, NULL);
}

static int raise_alerts(struct sqlite_store *s, const struct event *ev,
			int64_t now)
{
	struct store_alert alerts[4];
	size_t n = s->opts.alert_fn(s->opts.alert_arg, ev, alerts, 4);
	for (size_t i = 0; i < n; i++) {
		bool created;
		int rc = sqlite_write_alert(s, &s->writer, &alerts[i], now,
					    &created);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int write_batches(struct sqlite_store *s,
			 const struct store_batch_queue *list)
{
	int64_t now = store_now_us();
	int rc = sq_run(&s->writer, SQ_BEGIN, SQ_NO_ARGS, NULL, NULL, NULL);
	struct store_batch *b;
	for (b = STAILQ_FIRST(list); rc == 0 && b; b = STAILQ_NEXT(b, link)) {
		long long clamped = 0;
		b->stored = b->dup = 0;
		for (size_t i = 0; rc == 0 && i < b->count; i++) {
			bool inserted = false;
			int64_t agent_ts = store_clamp_future_ts(&b->events[i], now);
			rc = write_event(s, &b->events[i], now, agent_ts,
					 &inserted);
			if (inserted)
				b->stored++;
			else
				b->dup++;
			if (inserted && agent_ts != 0)
				clamped++;
			if (rc == 0 && inserted && s->opts.alert_fn)
				rc = raise_alerts(s, &b->events[i], now);
		}
		if (clamped > 0)
			log_warn("store: agent %s sent %lld event(s) stamped more "
				 "than %lld s ahead of the collector's clock; "
				 "stored at the receive time and flagged",
				 b->events[0].agent, clamped,
				 STORE_MAX_FUTURE_SKEW_US / 1000000);
		/* A batch comes from one connection, hence one agent. */
		if (rc == 0 && b->count > 0) {
			const struct event *last = &b->events[b->count - 1];
			rc = sq_run(&s->writer, SQ_AGENT_TOUCH,
				    SQ_ARGS(SQ_INT(now), SQ_INT(last->boot),
					    SQ_TEXT(last->agent),
					    SQ_INT(clamped)),
				    NULL, NULL, NULL);
		}
	}
	if (rc == 0)
		rc = sq_run(&s->writer, SQ_COMMIT, SQ_NO_ARGS, NULL, NULL, NULL);
	if (rc != 0) {
		int code = s->writer.last_code;
		log_err("store: writing %s failed: %s; the batches are not "
			"acked and agents will resend them",
			s->path, sqlite3_errmsg(s->writer.db));
		/* Already failing; the commit's error is the one to report. */
		EW_IGNORE(sq_run(&s->writer, SQ_ROLLBACK, SQ_NO_ARGS, NULL, NULL,
				 NULL));
		return (code & 0xff) == SQLITE_FULL ? -ENOSPC : -EIO;
	}
	return 0;
}

/* Deletes expired events a few hundred rows at a time, between batches, so
 * that retention never stalls ingest. */
static void prune_step(struct sqlite_store *s)
{
	int64_t now = store_now_us();
	if (now - s->last_prune_us < PRUNE_INTERVAL_US)
		return;
	s->last_prune_us = now;
	const struct {
		enum sq_id id;
		int days;
	} steps[] = {
		{SQ_PRUNE_LOW, s->opts.retention_days},
		{SQ_PRUNE_HIGH, s->opts.high_severity_days},
	};
	for (size_t i = 0; i < 2; i++) {
		struct sq_done done;
		if (steps[i].days <= 0)
			continue;
		int64_t before = now - (int64_t)steps[i].days * 86400000000LL;
		if (sq_run(&s->writer, steps[i].id,
			   SQ_ARGS(SQ_INT(before), SQ_INT(s->opts.high_severity),
				   SQ_INT(PRUNE_STEP_ROWS)),
			   NULL, NULL, &done) != 0)
			log_warn("store: retention prune failed: %s",
				 sqlite3_errmsg(s->writer.db));
		else if (done.changes > 0)
			log_debug("store: pruned %d expired events",
				  done.changes);
		/* A full step means more to do: come back soon. */
		if (done.changes == PRUNE_STEP_ROWS)
			s->last_prune_us = 0;
	}
}

static void writer_main(void *arg)
{
	struct sqlite_store *s = arg;
	uv_mutex_lock(&s->lock);
	for (;;) {
		while (STAILQ_EMPTY(&s->pending) && !s->stopping) {
			/* Wake up now and then to prune even when idle. */
			if (uv_cond_timedwait(&s->wake, &s->lock,
					      PRUNE_INTERVAL_US * 1000) != 0) {
				uv_mutex_unlock(&s->lock);
				prune_step(s);
				uv_mutex_lock(&s->lock);
			}
		}
		if (STAILQ_EMPTY(&s->pending) && s->stopping)
			break;
		/* Take whole batches up to the event budget: whatever queued
		 * while the last commit ran goes into this one (group commit).
		 * The first is taken whatever its size. */
		struct store_batch_queue take = STAILQ_HEAD_INITIALIZER(take);
		size_t events = 0;
		struct store_batch *b;
		while ((b = STAILQ_FIRST(&s->pending)) != NULL &&
		       (STAILQ_EMPTY(&take) ||
			events + b->count <= (size_t)s->opts.batch_max_events)) {
			STAILQ_REMOVE_HEAD(&s->pending, link);
			STAILQ_INSERT_TAIL(&take, b, link);
			events += b->count;
		}
		EW_ASSERT(!STAILQ_EMPTY(&take));
		uv_mutex_unlock(&s->lock);

		int status = write_batches(s, &take);
		prune_step(s);

		uv_mutex_lock(&s->lock);
		STAILQ_FOREACH(b, &take, link)
			b->status = status;
		STAILQ_CONCAT(&s->done, &take);
		/* Every event taken was counted in when it was submitted. */
		EW_ASSERT(s->backlog >= events);
		s->backlog -= events;
		uv_mutex_unlock(&s->lock);
		uv_async_send(&s->done_async);
		uv_mutex_lock(&s->lock);
	}
	uv_mutex_unlock(&s->lock);
}

/* Runs on the loop: hands each committed batch back to its owner. */
static void deliver_done(uv_async_t *async)
{
	struct sqlite_store *s = async->data;
	uv_mutex_lock(&s->lock);
	struct store_batch_queue list = STAILQ_HEAD_INITIALIZER(list);
	STAILQ_CONCAT(&list, &s->done);
	uv_mutex_unlock(&s->lock);
	struct store_batch *b;
	while ((b = STAILQ_FIRST(&list)) != NULL) {
		STAILQ_REMOVE_HEAD(&list, link);
		if (b->cb)
			b->cb(b->arg, b->status, b->stored, b->dup);
		store_batch_free(b);
	}
}

void sqlite_submit(struct store *st, struct store_batch *batch)
{
	struct sqlite_store *s = sqlite_impl(st);
	uv_mutex_lock(&s->lock);
	STAILQ_INSERT_TAIL(&s->pending, batch, link);
	s->backlog += batch->count;
	uv_cond_signal(&s->wake);
	uv_mutex_unlock(&s->lock);
}

size_t sqlite_backlog(const struct store *st)
{
	struct sqlite_store *s = sqlite_impl(st);
	uv_mutex_lock(&s->lock);
	size_t n = s->backlog;
	uv_mutex_unlock(&s->lock);
	return n;
}

static void checkpoint_main(void *arg)
{
	struct sqlite_store *s = arg;
	for (;;) {
		uv_mutex_lock(&s->lock);
		if (!s->stopping)
			uv_cond_timedwait(&s->ckpt_wake, &s->lock,
					  CHECKPOINT_INTERVAL_NS);
		bool stop = s->stopping;
		uv_mutex_unlock(&s->lock);
		/* PASSIVE never waits for the writer or readers; what it cannot
		 * copy back now, the next pass will. */
		sqlite3_wal_checkpoint_v2(s->checkpointer, NULL,
					  SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		if (stop)
			break;
	}
}

static int start_checkpointer(struct sqlite_store *s, char *err,
			      size_t errlen)
{
	int rc = sqlite_open_connection(s, &s->checkpointer, err, errlen);
	if (rc == 0)
		rc = sqlite_exec(s->writer.db, "PRAGMA wal_autocheckpoint=0",
				 err, errlen);
	if (rc == 0)
		rc = sqlite_exec(s->admin.db, "PRAGMA wal_autocheckpoint=0",
				 err, errlen);
	if (rc != 0)
		return rc;
	if (uv_thread_create(&s->ckpt_thread, checkpoint_main, s) != 0) {
		snprintf(err, errlen, "cannot start the checkpoint thread");
		return -EAGAIN;
	}
	s->has_ckpt_thread = true;
	return 0;
}

/* What the writer runs for every event: prepared at open, so that a
 * database that cannot take them fails there. */
static const enum sq_id writer_stmts[] = {
	SQ_BEGIN,	  SQ_COMMIT,	   SQ_ROLLBACK,	    SQ_EVENT_INSERT,
	SQ_STATE_UPSERT,  SQ_AGENT_TOUCH,  SQ_PRUNE_LOW,    SQ_PRUNE_HIGH,
	SQ_ALERT_FIND,	  SQ_ALERT_FOLD,   SQ_ALERT_INSERT, SQ_FORWARD_QUEUE,
	SQ_DELIVERY_QUEUED,
};

int sqlite_writer_start(struct sqlite_store *s, uv_loop_t *loop, char *err,
			size_t errlen)
{
	int rc;
	if ((rc = sqlite_open_connection(s, &s->writer.db, err, errlen)) != 0 ||
	    (rc = sq_prepare(&s->writer, writer_stmts,
			     sizeof(writer_stmts) / sizeof(writer_stmts[0]),
			     err, errlen)) != 0 ||
	    (rc = start_checkpointer(s, err, errlen)) != 0)
		return rc;
	rc = uv_async_init(loop, &s->done_async, deliver_done);
	if (rc != 0)
		return rc;
	s->done_async.data = s;
	rc = uv_thread_create(&s->thread, writer_main, s);
	if (rc != 0) {
		uv_close((uv_handle_t *)&s->done_async, NULL);
		return rc;
	}
	s->has_thread = true;
	return 0;
}

/* Commits what is queued, hands it back, stops both threads. */
void sqlite_writer_stop(struct sqlite_store *s)
{
	if (s->has_thread) {
		uv_mutex_lock(&s->lock);
		s->stopping = true;
		uv_cond_signal(&s->wake);
		uv_mutex_unlock(&s->lock);
		uv_thread_join(&s->thread);
		deliver_done(&s->done_async);
	}
	if (s->has_ckpt_thread) {
		uv_mutex_lock(&s->lock);
		s->stopping = true;
		uv_cond_signal(&s->ckpt_wake);
		uv_mutex_unlock(&s->lock);
		uv_thread_join(&s->ckpt_thread);
	}
	sqlite3_close(s->checkpointer);
	s->checkpointer = NULL;
	sq_conn_close(&s->writer);
}
