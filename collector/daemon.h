/* daemon: the running collector. One libuv loop owns the store, ingest,
 * enrollment, the SOC forwarders and the collector's own timers: the
 * agent-silence sweep (every minute) and the daily score snapshot (at
 * start, then at the first check of each UTC day). collector_run()
 * returns when SIGTERM or SIGINT arrives, as agent_run() does. */
#ifndef EDUWATCH_DAEMON_H
#define EDUWATCH_DAEMON_H

#include "common/check.h"

#include "collector/settings.h"
#include "collector/store.h"

/* Fills store options from the settings. names is the caller's and
 * receives the destinations' names (the store keeps a forward queue for
 * each); it and s must outlive the store. */
void collector_store_options(const struct settings *s,
			     const char *names[SETTINGS_FORWARD_MAX],
			     struct store_options *o);

/* Runs until stopped; borrows s for that long. Returns 0, -EINVAL when
 * the configuration is wrong (CA, TLS, alert rules, a destination), or
 * -EIO when the store or a listener cannot start, having logged why. */
EW_MUST_CHECK
int collector_run(const char *config_path, const struct settings *s);

#endif
