/* service: the agent as the operating system runs it.
 *
 * Linux: systemd starts `eduwatch-agent run` in the foreground and stops
 * it with SIGTERM (packaging/systemd/), so `run` is the
 * console mode and there is nothing to install here.
 * Windows (platform/windows/service.c): the service control manager
 * starts `eduwatch-agent.exe run -c CONFIG` as LocalSystem; the agent
 * answers it through the SCM dispatcher, stops gracefully on
 * SERVICE_CONTROL_STOP and SHUTDOWN, and `service install` registers it
 * with recovery actions (restart on failure). `run --console` runs it in
 * the console instead, for debugging; Ctrl+C stops it. */
#ifndef EDUWATCH_SERVICE_H
#define EDUWATCH_SERVICE_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>

#include "agent/core/settings.h"

/* The service's name in the service manager. */
#define SERVICE_NAME "eduwatch-agent"

/* Runs agent_run under the service manager, or in the foreground when
 * `console`. Returns agent_run's result, or -ENOTCONN (with `err`) when
 * not started by the service manager. */
EW_MUST_CHECK
int service_run(const char *config_path, const struct agent_settings *s,
		bool console, char *err, size_t errlen);

/* Registers this executable as the auto-start service running
 * `run -c config_path`, with its recovery actions; replaces the
 * command line of one already registered. Returns 0 or -errno with
 * `err`. */
EW_MUST_CHECK
int service_install(const char *config_path, char *err, size_t errlen);

/* Stops the service (waiting for it to stop) and removes it. Returns 0,
 * -ENOENT when it is not installed, or -errno with `err`. */
EW_MUST_CHECK
int service_uninstall(char *err, size_t errlen);

#endif
