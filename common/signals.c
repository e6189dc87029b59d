#include "common/signals.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

int signals_start(uv_loop_t *loop, struct signals *sig, void *data,
		  uv_signal_cb on_stop, uv_signal_cb on_reload)
{
	uv_signal_init(loop, &sig->term);
	uv_signal_init(loop, &sig->interrupt);
	uv_signal_init(loop, &sig->hangup);
	sig->term.data = sig->interrupt.data = sig->hangup.data = data;
	int rc = uv_signal_start(&sig->term, on_stop, SIGTERM);
	if (rc == 0)
		rc = uv_signal_start(&sig->interrupt, on_stop, SIGINT);
	if (rc == 0)
		rc = uv_signal_start(&sig->hangup, on_reload, SIGHUP);
	return rc;
}

void signals_stop(struct signals *sig)
{
	uv_close((uv_handle_t *)&sig->term, NULL);
	uv_close((uv_handle_t *)&sig->interrupt, NULL);
	uv_close((uv_handle_t *)&sig->hangup, NULL);
}

const char *signals_name(int signum, char *buf, size_t cap)
{
	/* sigabbrev_np is glibc's (2.32+), thread-safe and never localised. */
	const char *abbrev = sigabbrev_np(signum);
	if (abbrev != NULL)
		snprintf(buf, cap, "SIG%s", abbrev);
	else
		snprintf(buf, cap, "signal %d", signum);
	return buf;
}
