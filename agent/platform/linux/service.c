/* service on Linux: systemd is the service manager and `run` already
 * runs in the foreground, which is what it wants (service.h). */
#include "agent/platform/service.h"

#include <errno.h>
#include <stdio.h>

#include "agent/core/agent.h"

int service_run(const char *config_path, const struct agent_settings *s,
		bool console, char *err, size_t errlen)
{
	(void)console;
	(void)err;
	(void)errlen;
	return agent_run(config_path, s);
}

static int systemd_says(char *err, size_t errlen)
{
	snprintf(err, errlen, "on Linux systemd runs the agent: systemctl "
			      "enable --now eduwatch-agent (packaging/systemd/)");
	return -ENOSYS;
}

int service_install(const char *config_path, char *err, size_t errlen)
{
	(void)config_path;
	return systemd_says(err, errlen);
}

int service_uninstall(char *err, size_t errlen)
{
	return systemd_says(err, errlen);
}
