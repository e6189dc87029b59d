/* forward: alerts to the provincial SOC, one thread per destination.
 *
 * Each destination has its own durable queue (forward_queue in the store,
 * filled in the transaction that opens the alert). Its thread sends the
 * queue in order through the destination's output (collector/output.h:
 * one file per transport) and dequeues only what is delivered, so
 * delivery is at-least-once and ordered, across collector restarts too:
 *   - syslog (out_syslog.c): RFC 5424 messages carrying CEF, over TLS (RFC
 *     5425, octet-counting) or plain TCP (octet-counting or newline
 *     framing). Syslog has no acknowledgement; a batch counts as
 *     delivered once the connection is still open a moment after it was
 *     written (a receiver that went away shows as EOF or reset). A batch
 *     written into a dying connection is sent again, so the SIEM may see
 *     a duplicate, with the same externalId, never a gap.
 *   - https (out_https.c): a JSON array POSTed by libcurl, ECS field
 *     names by default or OCSF (Detection Finding 2004, Compliance
 *     Finding 2003); delivered on a 2xx answer. Bearer token or a client
 *     certificate.
 * A batch refused for good (https: a 4xx other than 408 and 429, and
 * other than 401, 403, 404, 405 and 407, which any body would get) is
 * halved until the refused alerts stand alone; each is parked in the
 * store's dead letters with the destination, the status and the answer,
 * a local forward.dead_letter alert is raised, and the rest go on in
 * order. Every string is valid UTF-8 (see common/jsonout.h).
 * Failures retry with full-jitter exponential backoff (0.5 s to 60 s).
 *
 * Lifecycle: `_start` / `_stop`, the idiom of loop-owned modules; a
 * forwarder owns a thread, not loop handles, so `_stop` joins it and frees
 * (there is no `_free`). */
#ifndef EDUWATCH_FORWARD_H
#define EDUWATCH_FORWARD_H

#include "common/check.h"

#include <stdint.h>

#include "collector/cef.h"
#include "collector/settings.h"
#include "collector/store.h"

struct forwarder;

struct forward_stats {
	uint64_t sent;	    /* alerts written or posted (a resend counts again) */
	uint64_t skipped;   /* below min_severity */
	uint64_t attempts_failed;
	uint64_t connects;
	uint64_t dead_letters; /* alerts parked since start */
	char last_error[200];
};

/* collector_host names this collector in syslog HOSTNAME and CEF dvchost. */
EW_MUST_CHECK
int forward_start(struct store *st, const struct forward_dest *dest,
		  const char *collector_host, struct forwarder **out,
		  char *err, size_t errlen);
/* Stops the thread (after its current attempt) and frees. NULL: no-op. */
void forward_stop(struct forwarder *f);
void forward_get_stats(struct forwarder *f, struct forward_stats *out);

/* The formats, for tests and for the SIEM's documentation: one alert
 * appended to out (borrowed); an error shows in out->failed. The syslog
 * one lives in out_syslog.c, the JSON one (a msgpack tree rendered by
 * common/jsonout) in out_https.c. */
void forward_format_syslog(const struct store_alert *a,
			   const char *collector_host,
			   enum syslog_framing framing, struct dynbuf *out);
void forward_format_json(const struct store_alert *a, bool ocsf,
			 struct dynbuf *out);

#endif
