#include "collector/forward.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "collector/alert.h"
#include "collector/output.h"
#include "common/alloc.h"
#include "common/event.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/wire.h"

#define BATCH OUTPUT_BATCH_MAX
#define IDLE_POLL_MS 100
/* How often a window of written batches is asked about. */
#define WINDOW_POLL_MS 50
#define WINDOW_MAX 64
/* At stop, how long written batches may take to confirm, so that a clean
 * restart does not send them twice. */
#define DRAIN_MS 1000
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 60000

/* Every output, by its type name. A new transport adds its line here. */
static const struct output *const outputs[] = {
	&output_syslog,
	&output_https,
};

const struct output *output_find(const char *type)
{
	for (size_t i = 0; i < sizeof(outputs) / sizeof(outputs[0]); i++)
		if (strcmp(outputs[i]->name, type) == 0)
			return outputs[i];
	return NULL;
}

const char *output_file_name(const char *path)
{
	const char *name = path;
	for (const char *p = path; *p; p++)
		if (*p == '/' || *p == '\\')
			name = p + 1;
	return name;
}

struct forwarder {
	struct store *store;
	struct forward_dest dest;
	const struct output *out;
	void *state; /* the output's */
	uv_thread_t thread;
	uv_mutex_t lock;
	uv_cond_t wake;
	bool stopping;
	struct forward_stats stats;
	/* the batch being sent */
	struct store_alert *batch;
	size_t nbatch;
	/* Batches written but not yet confirmed, oldest first (outputs with
	 * a confirm callback only). */
	struct output_sent window[WINDOW_MAX];
	size_t nwindow;
	uint64_t sent_upto; /* the highest id written on this connection */
};

static void set_error(struct forwarder *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_error(struct forwarder *f, const char *fmt, ...)
{
	va_list ap;
	uv_mutex_lock(&f->lock);
	va_start(ap, fmt);
	vsnprintf(f->stats.last_error, sizeof(f->stats.last_error), fmt, ap);
	va_end(ap);
	f->stats.attempts_failed++;
	uv_mutex_unlock(&f->lock);
}

static void count_delivered(struct forwarder *f, uint64_t sent,
			    uint64_t skipped)
{
	uv_mutex_lock(&f->lock);
	f->stats.sent += sent;
	f->stats.skipped += skipped;
	uv_mutex_unlock(&f->lock);
}

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000;
}

/* Parks one alert the destination refused for good, with a local alert
 * (forward.dead_letter) about it, so the queue moves on. */
static int park(struct forwarder *f, const struct store_alert *a,
		const struct output_report *r)
{
	long status = r->status;
	struct store_dead_letter dl = {.alert = a->id, .status = (int)status};
	char reason[sizeof(dl.reason)];
	size_t n = 0;
	snprintf(dl.dest, sizeof(dl.dest), "%s", f->dest.name);
	/* The receiver's words, printable ASCII only: they reach a log line
	 * and an operator's terminal. */
	n = (size_t)snprintf(reason, sizeof(reason), "HTTP %ld: ", status);
	for (size_t i = 0; i < r->answer_len && n + 1 < sizeof(reason); i++) {
		char c = r->answer[i];
		reason[n++] = c >= 0x20 && c < 0x7f ? c : ' ';
	}
	reason[n < sizeof(reason) ? n : sizeof(reason) - 1] = '\0';
	snprintf(dl.reason, sizeof(dl.reason), "%s", reason);

	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 5);
	wire_pack_kv_str(&pk, "destination", f->dest.name);
	wire_pack_kv_u64(&pk, "status", (uint64_t)(status < 0 ? 0 : status));
	wire_pack_kv_str(&pk, "reason", dl.reason);
	wire_pack_kv_u64(&pk, "alert", a->id);
	wire_pack_kv_str(&pk, "rule", a->rule);
	struct event notice = {.v = EVENT_VERSION,
			       .ts = (uint64_t)timeutil_now_us(),
			       .body = sb.data,
			       .body_len = sb.size};
	snprintf(notice.agent, sizeof(notice.agent), "%s", a->agent);
	snprintf(notice.kind, sizeof(notice.kind), "%s",
		 ALERT_KIND_DEAD_LETTER);
	/* A refused notice about a refusal is parked without another one:
	 * a receiver that refuses every alert must not feed a loop. */
	bool is_notice = strcmp(a->kind, ALERT_KIND_DEAD_LETTER) == 0;
	int rc = store_dead_letter_add(f->store, &dl, is_notice ? NULL : &notice);
	msgpack_sbuffer_destroy(&sb);
	if (rc != 0) {
		set_error(f, "cannot park alert %llu as a dead letter",
			  (unsigned long long)a->id);
		return -1;
	}
	uv_mutex_lock(&f->lock);
	f->stats.dead_letters++;
	uv_mutex_unlock(&f->lock);
	log_warn("forward %s: alert %llu (%s) refused for good, %s; parked as "
		 "a dead letter ('forward dead-letter list'), sending the rest",
		 f->dest.name, (unsigned long long)a->id, a->rule, dl.reason);
	return 0;
}

/* Delivers batch[start, start + n) in order. A part refused for good is
 * halved until each refused alert stands alone; that one is parked and
 * the others still go, in order. With an acknowledging output each part
 * is dequeued once delivered, so a retry starts after it. 0: every alert
 * delivered (or written) or parked; -1: retry from the queue's head. */
static int deliver_range(struct forwarder *f, size_t start, size_t n)
{
	struct output_report r = {0};
	enum output_status st = f->out->deliver(f->state, f->batch + start, n, &r);
	if (r.connected) {
		uv_mutex_lock(&f->lock);
		f->stats.connects++;
		uv_mutex_unlock(&f->lock);
	}
	if (st == OUTPUT_RETRY) {
		set_error(f, "%s", r.error);
		return -1;
	}
	if (st == OUTPUT_OK) {
		if (f->out->confirm == NULL &&
		    store_forward_done(f->store, f->dest.name,
				       f->batch[start + n - 1].id) != 0) {
			set_error(f, "%s", "cannot dequeue");
			return -1;
		}
		count_delivered(f, n, 0);
		return 0;
	}
	set_error(f, "%s", r.error);
	if (n == 1)
		return park(f, &f->batch[start], &r);
	size_t half = n / 2;
	if (deliver_range(f, start, half) != 0)
		return -1;
	return deliver_range(f, start + half, n - half);
}

/* Sends the batch read from the queue: what is below the destination's
 * threshold is dequeued with it, never sent. */
static int send_batch(struct forwarder *f)
{
	size_t keep = 0;
	uint64_t last_id = f->batch[f->nbatch - 1].id;
	uint64_t skipped = 0;
	for (size_t i = 0; i < f->nbatch; i++) {
		if (f->batch[i].severity >= f->dest.min_severity)
			f->batch[keep++] = f->batch[i];
		else
			skipped++;
	}
	f->nbatch = keep;
	int rc = keep ? deliver_range(f, 0, keep) : 0;
	if (f->out->confirm == NULL) {
		if (rc == 0)
			rc = store_forward_done(f->store, f->dest.name, last_id);
	} else if (rc == 0) {
		f->window[f->nwindow++] = (struct output_sent){last_id, now_ms()};
		f->sent_upto = last_id;
	} else {
		f->nwindow = 0;
		f->sent_upto = 0;
	}
	if (rc == 0)
		count_delivered(f, 0, skipped);
	return rc;
}

/* Dequeues every written batch the output now confirms. Returns -1 when
 * the connection died: what was written on it but not confirmed is sent
 * again from the queue's head. */
static int confirm_window(struct forwarder *f)
{
	struct output_report r = {0};
	if (f->out->confirm == NULL || f->nwindow == 0)
		return 0;
	int done = f->out->confirm(f->state, f->window, f->nwindow, now_ms(), &r);
	if (done < 0) {
		set_error(f, "%s", r.error);
		f->nwindow = 0;
		f->sent_upto = 0;
		return -1;
	}
	if (done == 0)
		return 0;
	if (store_forward_done(f->store, f->dest.name,
			       f->window[done - 1].last_id) != 0)
		return 0; /* tried again at the next pass */
	memmove(f->window, f->window + done,
		(f->nwindow - (size_t)done) * sizeof(f->window[0]));
	f->nwindow -= (size_t)done;
	/* Nothing in flight: read from the queue's head again. Ids are not
	 * queued in their order on PostgreSQL (drawn at insert, visible at
	 * commit), so an alert below the cursor may have come since; left
	 * behind it, it would wait for the next reconnect. */
	if (f->nwindow == 0)
		f->sent_upto = 0;
	return 0;
}

static void collect(void *arg, const struct store_alert *a)
{
	struct forwarder *f = arg;
	if (f->nbatch < BATCH)
		f->batch[f->nbatch++] = *a;
}

/* Sleeps up to ms, or until forward_stop. Returns false when stopping. */
static bool pause_ms(struct forwarder *f, uint64_t ms)
{
	uv_mutex_lock(&f->lock);
	if (!f->stopping)
		uv_cond_timedwait(&f->wake, &f->lock, ms * 1000000ULL);
	bool go_on = !f->stopping;
	uv_mutex_unlock(&f->lock);
	return go_on;
}

static void run(void *arg)
{
	struct forwarder *f = arg;
	uint64_t backoff = BACKOFF_MIN_MS;
	for (;;) {
		int rc = confirm_window(f);
		f->nbatch = 0;
		if (rc == 0 && f->nwindow < WINDOW_MAX &&
		    store_forward_next(f->store, f->dest.name, f->sent_upto, BATCH,
				       collect, f) != 0)
			set_error(f, "%s", "cannot read the queue");
		if (rc == 0 && f->nbatch == 0) {
			/* Idle, or waiting for written batches to confirm. */
			if (!pause_ms(f, f->nwindow ? WINDOW_POLL_MS : IDLE_POLL_MS))
				break;
			continue;
		}
		if (rc == 0)
			rc = send_batch(f);
		if (rc == 0) {
			backoff = BACKOFF_MIN_MS;
			continue;
		}
		/* Full jitter: a province of collectors or a restarted SIEM
		 * must not see every sender come back at the same instant. */
		uint32_t r = 0;
		RAND_bytes((unsigned char *)&r, sizeof(r));
		uint64_t wait = r % backoff + 1;
		log_warn("forward %s: %s; retrying in %llu ms", f->dest.name,
			 f->stats.last_error, (unsigned long long)wait);
		if (!pause_ms(f, wait))
			break;
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	/* Stopping: let what was written last confirm, so that a clean
	 * restart does not send it twice. */
	for (int waited = 0; f->nwindow && waited < DRAIN_MS;
	     waited += WINDOW_POLL_MS) {
		usleep(WINDOW_POLL_MS * 1000);
		if (confirm_window(f) != 0)
			break;
	}
}

int forward_start(struct store *st, const struct forward_dest *dest,
		  const char *collector_host, struct forwarder **out,
		  char *err, size_t errlen)
{
	const struct output *o = output_find(dest->type);
	if (o == NULL) {
		snprintf(err, errlen, "forward %s: no output of type '%s'",
			 dest->name, dest->type);
		return -EINVAL;
	}
	struct forwarder *f = alloc_zeroed(1, sizeof(*f));
	if (f == NULL || (f->batch = alloc_zeroed(BATCH, sizeof(*f->batch))) == NULL) {
		alloc_free(f);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	f->store = st;
	f->dest = *dest;
	f->out = o;
	int rc = o->open(dest, collector_host, &f->state, err, errlen);
	if (rc != 0) {
		alloc_free(f->batch);
		alloc_free(f);
		return rc;
	}
	uv_mutex_init(&f->lock);
	uv_cond_init(&f->wake);
	uv_thread_create(&f->thread, run, f);
	*out = f;
	return 0;
}

void forward_stop(struct forwarder *f)
{
	if (f == NULL)
		return;
	uv_mutex_lock(&f->lock);
	f->stopping = true;
	uv_cond_signal(&f->wake);
	uv_mutex_unlock(&f->lock);
	uv_thread_join(&f->thread);
	f->out->close(f->state);
	uv_cond_destroy(&f->wake);
	uv_mutex_destroy(&f->lock);
	alloc_free(f->batch);
	alloc_free(f);
}

void forward_get_stats(struct forwarder *f, struct forward_stats *out)
{
	uv_mutex_lock(&f->lock);
	*out = f->stats;
	uv_mutex_unlock(&f->lock);
}
