/* service on Windows: the SCM dispatcher, stop and shutdown, recovery
 * actions, install and uninstall (service.h).
 *
 * StartServiceCtrlDispatcher keeps the main thread; the SCM runs
 * service_main in a thread of its own, which runs agent_run and so the
 * agent's libuv loop. The control handler runs in the dispatcher's
 * thread: it only reports STOP_PENDING and calls agent_request_stop,
 * whose async handle moves the stop onto the loop's thread. SERVICE_STOPPED
 * is reported once agent_run has returned, that is after agent.stop is in
 * the spool and the spool is closed. */
#include "agent/platform/service.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <windows.h>

#include "agent/core/agent.h"
#include "common/log.h"

#define SERVICE_NAME_W L"eduwatch-agent"
#define SERVICE_DISPLAY_W L"eduwatch agent"
/* What the SCM may wait between two reports of a stop in progress: the
 * stop itself takes a spool write and a TLS close. */
#define STOP_WAIT_HINT_MS 30000
/* Log files past this size are moved aside at service start, so one
 * noisy fault cannot fill ProgramData. */
#define LOG_ROTATE_BYTES (8 * 1024 * 1024)

static struct {
	const char *config_path;
	const struct agent_settings *settings;
	SERVICE_STATUS_HANDLE handle;
	SERVICE_STATUS status;
	int rc;
} svc;

static void report(DWORD state, int rc)
{
	svc.status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
	svc.status.dwCurrentState = state;
	svc.status.dwControlsAccepted =
		state == SERVICE_RUNNING
			? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN
			: 0;
	/* A service-specific exit code (the errno) is a failure to the
	 * SCM, so its recovery actions restart the agent. */
	svc.status.dwWin32ExitCode = rc ? ERROR_SERVICE_SPECIFIC_ERROR : NO_ERROR;
	svc.status.dwServiceSpecificExitCode = rc ? (DWORD)-rc : 0;
	if (state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING) {
		svc.status.dwCheckPoint++;
		svc.status.dwWaitHint = STOP_WAIT_HINT_MS;
	} else {
		svc.status.dwCheckPoint = 0;
		svc.status.dwWaitHint = 0;
	}
	SetServiceStatus(svc.handle, &svc.status);
}

static DWORD WINAPI on_control(DWORD control, DWORD type, void *data,
			       void *ctx)
{
	(void)type;
	(void)data;
	(void)ctx;
	switch (control) {
	case SERVICE_CONTROL_STOP:
	case SERVICE_CONTROL_SHUTDOWN:
		report(SERVICE_STOP_PENDING, 0);
		agent_request_stop();
		return NO_ERROR;
	case SERVICE_CONTROL_INTERROGATE:
		return NO_ERROR;
	default:
		return ERROR_CALL_NOT_IMPLEMENTED;
	}
}

/* A service has no console and no stderr: the log goes to
 * STATE_DIR/agent.log (private, as the folder is), unbuffered so that a
 * killed service's last lines are there. */
static void log_to_state_dir(const char *state_dir)
{
	char path[700], old[720];
	struct _stat64 st;
	snprintf(path, sizeof(path), "%s/agent.log", state_dir);
	if (_stat64(path, &st) == 0 && st.st_size > LOG_ROTATE_BYTES) {
		snprintf(old, sizeof(old), "%s.1", path);
		rename(path, old);
	}
	/* Not freopen: msvcrt refuses to reopen the stderr of a process
	 * that never had one. */
	FILE *f = fopen(path, "ab");
	if (f == NULL)
		return;
	setvbuf(f, NULL, _IONBF, 0);
	log_set_stream(f);
}

static void WINAPI service_main(DWORD argc, wchar_t **argv)
{
	(void)argc;
	(void)argv;
	svc.handle = RegisterServiceCtrlHandlerExW(SERVICE_NAME_W, on_control,
						   NULL);
	if (svc.handle == NULL) {
		svc.rc = -EPERM;
		return;
	}
	report(SERVICE_START_PENDING, 0);
	log_to_state_dir(svc.settings->state_dir);
	report(SERVICE_RUNNING, 0);
	svc.rc = agent_run(svc.config_path, svc.settings);
	report(SERVICE_STOPPED, svc.rc);
}

static BOOL WINAPI on_console_close(DWORD event)
{
	/* Ctrl+C reaches libuv's SIGINT handler; closing the window and
	 * logging off stop the agent the same way. */
	if (event == CTRL_CLOSE_EVENT || event == CTRL_LOGOFF_EVENT ||
	    event == CTRL_SHUTDOWN_EVENT) {
		agent_request_stop();
		return TRUE;
	}
	return FALSE;
}

int service_run(const char *config_path, const struct agent_settings *s,
		bool console, char *err, size_t errlen)
{
	if (console) {
		SetConsoleCtrlHandler(on_console_close, TRUE);
		return agent_run(config_path, s);
	}
	static wchar_t name[] = SERVICE_NAME_W;
	const SERVICE_TABLE_ENTRYW table[] = {{name, service_main}, {NULL, NULL}};
	svc.config_path = config_path;
	svc.settings = s;
	if (!StartServiceCtrlDispatcherW(table)) {
		DWORD e = GetLastError();
		if (e == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
			snprintf(err, errlen,
				 "not started by the service manager: 'net "
				 "start %s' starts the service, 'run --console' "
				 "runs the agent in this console",
				 SERVICE_NAME);
			return -ENOTCONN;
		}
		snprintf(err, errlen, "the service dispatcher failed: error %lu",
			 (unsigned long)e);
		return -EIO;
	}
	return svc.rc;
}

static void utf16_from_utf8(const char *s, wchar_t *out, int cap)
{
	if (MultiByteToWideChar(CP_UTF8, 0, s, -1, out, cap) == 0)
		out[0] = L'\0';
}

static int win_error(const char *what, char *err, size_t errlen)
{
	DWORD e = GetLastError();
	snprintf(err, errlen, "%s: Windows error %lu%s", what, (unsigned long)e,
		 e == ERROR_ACCESS_DENIED ? " (run as an administrator)" : "");
	return e == ERROR_ACCESS_DENIED ? -EACCES : -EIO;
}

/* Restart after 10 s, 1 min, then every 5 min; the count starts again
 * after a day without failure. Also on a clean exit with an error code
 * (the agent's own "cannot open the spool"), not only on crashes. */
static int set_recovery(SC_HANDLE service, char *err, size_t errlen)
{
	SC_ACTION actions[] = {
		{SC_ACTION_RESTART, 10 * 1000},
		{SC_ACTION_RESTART, 60 * 1000},
		{SC_ACTION_RESTART, 300 * 1000},
	};
	SERVICE_FAILURE_ACTIONSW fa = {
		.dwResetPeriod = 24 * 3600,
		.cActions = sizeof(actions) / sizeof(actions[0]),
		.lpsaActions = actions,
	};
	SERVICE_FAILURE_ACTIONS_FLAG flag = {.fFailureActionsOnNonCrashFailures = TRUE};
	wchar_t desc[] = L"Reports this PC's security status (antivirus, "
			 L"updates, threats) to the school's eduwatch collector.";
	SERVICE_DESCRIPTIONW d = {.lpDescription = desc};
	if (!ChangeServiceConfig2W(service, SERVICE_CONFIG_FAILURE_ACTIONS, &fa))
		return win_error("cannot set the recovery actions", err, errlen);
	if (!ChangeServiceConfig2W(service, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG,
				   &flag))
		log_warn("service: restart on error exits not set (error %lu); "
			 "restart on crashes is", (unsigned long)GetLastError());
	ChangeServiceConfig2W(service, SERVICE_CONFIG_DESCRIPTION, &d);
	return 0;
}

int service_install(const char *config_path, char *err, size_t errlen)
{
	wchar_t exe[MAX_PATH], conf[MAX_PATH], full[MAX_PATH];
	wchar_t cmd[3 * MAX_PATH];
	DWORD n = GetModuleFileNameW(NULL, exe, MAX_PATH);
	if (n == 0 || n >= MAX_PATH)
		return win_error("cannot find this executable", err, errlen);
	/* The SCM starts services in System32: the settings path must be
	 * absolute, and both are quoted (Program Files has a space). */
	utf16_from_utf8(config_path, conf, MAX_PATH);
	n = GetFullPathNameW(conf, MAX_PATH, full, NULL);
	if (conf[0] == L'\0' || n == 0 || n >= MAX_PATH) {
		snprintf(err, errlen, "cannot make '%s' an absolute path",
			 config_path);
		return -EINVAL;
	}
	_snwprintf(cmd, sizeof(cmd) / sizeof(cmd[0]), L"\"%ls\" run -c \"%ls\"",
		   exe, full);
	cmd[sizeof(cmd) / sizeof(cmd[0]) - 1] = L'\0';
	SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CREATE_SERVICE |
							 SC_MANAGER_CONNECT);
	if (scm == NULL)
		return win_error("cannot open the service manager", err, errlen);
	/* LocalSystem (no account given): the state folder's ACL lets only
	 * SYSTEM and Administrators in. */
	SC_HANDLE service = CreateServiceW(
		scm, SERVICE_NAME_W, SERVICE_DISPLAY_W, SERVICE_ALL_ACCESS,
		SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
		SERVICE_ERROR_NORMAL, cmd, NULL, NULL, NULL, NULL, NULL);
	int rc = 0;
	if (service == NULL && GetLastError() == ERROR_SERVICE_EXISTS) {
		service = OpenServiceW(scm, SERVICE_NAME_W, SERVICE_ALL_ACCESS);
		if (service != NULL &&
		    !ChangeServiceConfigW(service, SERVICE_WIN32_OWN_PROCESS,
					  SERVICE_AUTO_START,
					  SERVICE_ERROR_NORMAL, cmd, NULL, NULL,
					  NULL, NULL, NULL, SERVICE_DISPLAY_W))
			rc = win_error("cannot update the service", err, errlen);
	}
	if (service == NULL)
		rc = win_error("cannot create the service", err, errlen);
	if (rc == 0)
		rc = set_recovery(service, err, errlen);
	if (service != NULL)
		CloseServiceHandle(service);
	CloseServiceHandle(scm);
	return rc;
}

int service_uninstall(char *err, size_t errlen)
{
	SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
	if (scm == NULL)
		return win_error("cannot open the service manager", err, errlen);
	SC_HANDLE service = OpenServiceW(scm, SERVICE_NAME_W,
					 SERVICE_STOP | SERVICE_QUERY_STATUS |
						 DELETE);
	int rc = 0;
	if (service == NULL) {
		rc = GetLastError() == ERROR_SERVICE_DOES_NOT_EXIST
			     ? -ENOENT
			     : win_error("cannot open the service", err, errlen);
		if (rc == -ENOENT)
			snprintf(err, errlen, "the %s service is not installed",
				 SERVICE_NAME);
		CloseServiceHandle(scm);
		return rc;
	}
	SERVICE_STATUS st;
	/* Stopped first, so that agent.stop is spooled and the files are
	 * free before the MSI or an admin removes them. */
	if (QueryServiceStatus(service, &st) &&
	    st.dwCurrentState != SERVICE_STOPPED) {
		ControlService(service, SERVICE_CONTROL_STOP, &st);
		for (int i = 0; i < 600 && QueryServiceStatus(service, &st) &&
				st.dwCurrentState != SERVICE_STOPPED;
		     i++)
			Sleep(100);
		if (st.dwCurrentState != SERVICE_STOPPED)
			log_warn("service: still not stopped after 60 s; "
				 "removing it anyway");
	}
	if (!DeleteService(service) &&
	    GetLastError() != ERROR_SERVICE_MARKED_FOR_DELETE)
		rc = win_error("cannot remove the service", err, errlen);
	CloseServiceHandle(service);
	CloseServiceHandle(scm);
	return rc;
}
