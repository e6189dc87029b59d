/* signals: the signals both daemons handle, the same way: SIGTERM and
 * SIGINT stop gracefully, SIGHUP reloads.
 *
 * Lifecycle: loop-owned, `_start` / `_stop`, as every loop-owned module in
 * the tree; the struct is the caller's, so there is no `_free`. */
#ifndef EDUWATCH_SIGNALS_H
#define EDUWATCH_SIGNALS_H

#include "common/check.h"

#include <stddef.h>

#include <uv.h>

struct signals {
	uv_signal_t term;
	uv_signal_t interrupt;
	uv_signal_t hangup;
};

/* Starts the handlers; each sees `data` as its handle's data. The struct
 * is the caller's and must live until signals_stop's handles close. */
EW_MUST_CHECK
int signals_start(uv_loop_t *loop, struct signals *sig, void *data,
		  uv_signal_cb on_stop, uv_signal_cb on_reload);
void signals_stop(struct signals *sig);

/* "SIGTERM", "SIGSEGV", ... or "signal N" for one without a name. Unlike
 * strsignal(), which is banned, it is safe from any thread. */
const char *signals_name(int signum, char *buf, size_t cap);

#endif
