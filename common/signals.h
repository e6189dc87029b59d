/* signals: the signals both daemons handle, the same way: SIGTERM and
 * SIGINT stop gracefully, SIGHUP reloads. */
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
 * is the caller's and must live until signals_close's handles close. */
EW_MUST_CHECK
int signals_start(uv_loop_t *loop, struct signals *sig, void *data,
		  uv_signal_cb on_stop, uv_signal_cb on_reload);
void signals_close(struct signals *sig);

/* "SIGTERM", "SIGSEGV", ... or "signal N" for one without a name. Unlike
 * strsignal(), which is banned, it is safe from any thread. */
const char *signals_name(int signum, char *buf, size_t cap);

#endif
