/* agent: the running agent. One libuv loop owns the spool, the uplink and
 * every source; agent_run() returns when SIGTERM or SIGINT arrives or
 * agent_request_stop() is called. */
#ifndef EDUWATCH_AGENT_H
#define EDUWATCH_AGENT_H

#include "common/check.h"

#include "agent/core/settings.h"

struct agent_paths {
	char key[600];
	char cert[600];
	char ca[600];
	char spool[600];
	char status[600];
};

void agent_paths_for(const char *state_dir, struct agent_paths *out);

/* Runs until stopped. Returns 0, or a negative errno after logging why. */
EW_MUST_CHECK
int agent_run(const char *config_path, const struct agent_settings *settings);
/* agent_run's answer when a new release became current (agent/upgrade):
 * the caller executes ROOT/current/eduwatch-agent with its own
 * arguments. */
#define AGENT_RUN_RESTART 1

/* Stops the running agent as SIGTERM does (sources stopped, agent.stop
 * spooled, the uplink closed), from any thread: the Windows service
 * control handler runs in its own. A request before agent_run starts
 * stops it as soon as it has started. */
void agent_request_stop(void);

#endif
