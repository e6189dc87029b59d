/* output: one SIEM transport per file, collector/out_NAME.c, each of one
 * shape: { name, open, deliver, confirm, close }, as Fluent Bit's output
 * plugins register one struct of callbacks.
 *
 * forward.c owns what every transport shares: the durable per-destination
 * queue, the thread, the batch and its min_severity filter, backoff with
 * full jitter, the window of batches written but not yet confirmed,
 * halving a refused batch and parking dead letters, and the statistics.
 * A transport only connects, writes, reads its receiver's answer and
 * closes. A new SIEM transport (RELP, Kafka) is therefore one file that
 * defines `const struct output output_NAME`, plus one line below and one
 * in forward.c's table (a static library drops an object that nothing
 * names), and its type name accepted by collector/settings.c.
 *
 * Every callback runs on the destination's forward thread; a state is
 * used by one thread only. */
#ifndef EDUWATCH_OUTPUT_H
#define EDUWATCH_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/settings.h"
#include "collector/store.h"

/* The most alerts one deliver call is given. */
#define OUTPUT_BATCH_MAX 100

/* No alert renders longer than this in any format: 6 bytes out per byte
 * in at worst (a control byte as \u0001), plus the fixed names. Outputs
 * cap their buffers with it, so a renderer gone wrong fails the batch
 * instead of growing without bound. */
#define OUTPUT_ALERT_MAX_BYTES (6 * sizeof(struct store_alert) + 4096)
#define OUTPUT_BATCH_MAX_BYTES (OUTPUT_BATCH_MAX * OUTPUT_ALERT_MAX_BYTES)

enum output_status {
	OUTPUT_OK,	/* delivered; or written, when the output confirms */
	OUTPUT_RETRY,	/* failed: sent again after a backoff */
	OUTPUT_REFUSED, /* the destination refused this content for good */
};

/* What a call tells forward.c besides its status (zeroed by the caller). */
struct output_report {
	bool connected;	   /* a new connection was made */
	long status;	   /* the destination's answer code (HTTP); 0: none */
	char answer[160];  /* the start of its answer's body, NUL-terminated */
	size_t answer_len;
	char error[200];   /* what failed, for the statistics and the log */
};

/* A batch written and waiting for its confirmation. */
struct output_sent {
	uint64_t last_id; /* the queue's last alert in the batch */
	uint64_t sent_ms; /* when it was written (uv_hrtime, ms) */
};

struct output {
	const char *name; /* the destination's type in collector.yaml */
	/* Builds the state for dest (borrowed: what is kept is copied). No
	 * I/O: connections are made in deliver. 0, or a negative errno with
	 * a message in err. */
	int (*open)(const struct forward_dest *dest, const char *collector_host,
		    void **state, char *err, size_t errlen);
	/* Sends alerts[0, n) (n <= OUTPUT_BATCH_MAX), in order. */
	enum output_status (*deliver)(void *state,
				      const struct store_alert *alerts,
				      size_t n, struct output_report *r);
	/* NULL: OUTPUT_OK from deliver is the destination's acknowledgement.
	 * Otherwise forward.c keeps each written batch in a window (oldest
	 * first) and asks here how many of the oldest n are now delivered
	 * (0..n). Negative: the connection died; the output has closed it
	 * and every batch in the window is sent again. */
	int (*confirm)(void *state, const struct output_sent *window, size_t n,
		       uint64_t now_ms, struct output_report *r);
	/* Closes what is open and frees the state. NULL state: no-op. */
	void (*close)(void *state);
};

extern const struct output output_syslog;
extern const struct output output_https;

/* The file's name in a path: after the last / or \\ (Windows). */
const char *output_file_name(const char *path);

/* The output for a destination type, or NULL. */
const struct output *output_find(const char *type);

#endif
