/* spool: the agent's durable event queue, one SQLite file.
 *
 * Every event is written here before it is sent, and deleted only when the
 * collector has acked it, so nothing is lost across reboots, crashes or
 * days offline. The spool assigns seq numbers; they keep increasing across
 * restarts (SQLite AUTOINCREMENT never reuses a value, even after deletes).
 *
 * Above max_bytes the spool drops the oldest events of the lowest severity
 * first and counts them; the agent reports that loss as a spool.dropped
 * event. A file that SQLite cannot open or check is renamed *.corrupt-TIME
 * and a fresh spool is started, with the loss reported as spool.corrupt.
 *
 * One thread uses a spool at a time (the agent's loop thread).
 *
 * Lifecycle: a synchronous resource, `_open` / `_close` (close of NULL is a
 * no-op), as every such resource in the tree. */
#ifndef EDUWATCH_SPOOL_H
#define EDUWATCH_SPOOL_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/event.h"

struct spool;

struct spool_open_info {
	bool recovered_corrupt;	  /* the old file was moved aside */
	char moved_to[1024];
};

EW_MUST_CHECK
int spool_open(const char *path, long long max_bytes, struct spool **out,
	       struct spool_open_info *info, char *err, size_t errlen);
void spool_close(struct spool *sp);

/* Stores ev and assigns ev->seq. The agent, boot and ts fields must be set.
 * May drop older low-severity events to stay under the cap. */
EW_MUST_CHECK
int spool_append(struct spool *sp, struct event *ev);

/* Calls cb for up to max events with seq > after, in seq order. The event
 * is borrowed for the call. Returns the number visited or a negative
 * errno. */
EW_MUST_CHECK
int spool_read(struct spool *sp, uint64_t after, int max,
	       void (*cb)(void *arg, const struct event *ev), void *arg);

/* Deletes every event with seq <= upto (they are acked). */
EW_MUST_CHECK
int spool_ack(struct spool *sp, uint64_t upto);

struct spool_stats {
	long long depth;	   /* events waiting */
	long long bytes;	   /* their size as the cap counts it */
	uint64_t last_seq;	   /* highest seq ever assigned */
	uint64_t last_acked;	   /* highest seq acked */
	long long dropped;	   /* dropped for the cap, not yet reported */
};

/* From counters kept on every change: no query, cheap to call often. */
int spool_stats(struct spool *sp, struct spool_stats *out);
/* Small durable counters kept with the spool (for example the last
 * command id executed, so a replayed command is refused after a reboot). */
long long spool_counter_get(struct spool *sp, const char *name);
EW_MUST_CHECK
int spool_counter_set(struct spool *sp, const char *name, long long value);

/* Events dropped for the cap and not yet reported; cheap, for the emit
 * path (spool_stats scans the table). */
long long spool_dropped(const struct spool *sp);

/* Resets the dropped counter after the agent has reported it. */
void spool_clear_dropped(struct spool *sp);

#endif
