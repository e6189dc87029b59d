/* store_sqlite_writer: the writer thread, which commits queued batches of
 * events in group commits on its own connection, and the checkpoint
 * thread. Nothing here takes the admin lock. */
#include "collector/store_sqlite.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/check.h"
#include "common/log.h"

#define PRUNE_STEP_ROWS 500
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
				rc = sqlite_raise_alerts(s, &s->writer,
							 &b->events[i], now);
		}
		store_warn_clamped(b->events[0].agent, clamped);
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
	if (now - s->last_prune_us < STORE_HOUSEKEEP_INTERVAL_US)
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

/* ---- what the shared writer thread runs (store_writer.h) ---------------- */

static int writer_write(void *backend, struct store_batch_queue *take)
{
	return write_batches(backend, take);
}

/* Retention runs between commits whatever the last one's outcome: a full
 * disk is one thing pruning can ease. */
static void writer_housekeep(void *backend, int status)
{
	(void)status;
	prune_step(backend);
}

static void writer_released(void *backend)
{
	alloc_free(backend);
}

const struct store_writer_ops sqlite_writer_ops = {
	.write = writer_write,
	.housekeep = writer_housekeep,
	.released = writer_released,
};

void sqlite_submit(struct store *st, struct store_batch *batch)
{
	store_writer_submit(&sqlite_impl(st)->w, batch);
}

size_t sqlite_backlog(const struct store *st)
{
	return store_writer_backlog(&sqlite_impl(st)->w);
}

static void checkpoint_main(void *arg)
{
	struct sqlite_store *s = arg;
	for (;;) {
		uv_mutex_lock(&s->ckpt_lock);
		if (!s->ckpt_stopping)
			uv_cond_timedwait(&s->ckpt_wake, &s->ckpt_lock,
					  CHECKPOINT_INTERVAL_NS);
		bool stop = s->ckpt_stopping;
		uv_mutex_unlock(&s->ckpt_lock);
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
	return store_writer_start(&s->w, loop);
}

/* Commits what is queued, hands it back, stops both threads. */
void sqlite_writer_stop(struct sqlite_store *s)
{
	store_writer_stop(&s->w);
	if (s->has_ckpt_thread) {
		uv_mutex_lock(&s->ckpt_lock);
		s->ckpt_stopping = true;
		uv_cond_signal(&s->ckpt_wake);
		uv_mutex_unlock(&s->ckpt_lock);
		uv_thread_join(&s->ckpt_thread);
		s->has_ckpt_thread = false;
	}
	sqlite3_close(s->checkpointer);
	s->checkpointer = NULL;
	sq_conn_close(&s->writer);
}
