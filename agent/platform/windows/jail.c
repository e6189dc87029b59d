/* The Windows jail for helper children (jail.h). */
#include "agent/platform/windows/jail.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

static void say(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s failed (Windows error %lu)", what,
		 (unsigned long)GetLastError());
}

/* GetTokenInformation into a buffer of the size it asks for. */
static void *token_info(HANDLE token, TOKEN_INFORMATION_CLASS cls)
{
	DWORD size = 0;
	GetTokenInformation(token, cls, NULL, 0, &size);
	if (size == 0)
		return NULL;
	void *buf = alloc_bytes(size);
	if (buf && !GetTokenInformation(token, cls, buf, size, &size)) {
		alloc_free(buf);
		return NULL;
	}
	return buf;
}

static bool is_well_known(PSID sid, WELL_KNOWN_SID_TYPE type)
{
	BYTE buf[SECURITY_MAX_SID_SIZE];
	DWORD size = sizeof(buf);
	return CreateWellKnownSid(type, NULL, buf, &size) &&
	       EqualSid(sid, buf);
}

/* The agent's token, restricted as jail.h says. */
static int restricted_token(HANDLE *out, char *err, size_t errlen)
{
	HANDLE self = NULL, token = NULL;
	TOKEN_USER *user = NULL;
	TOKEN_GROUPS *groups = NULL;
	SID_AND_ATTRIBUTES *deny = NULL;
	int rc = -EPERM;
	if (!OpenProcessToken(GetCurrentProcess(),
			      TOKEN_DUPLICATE | TOKEN_QUERY |
				      TOKEN_ASSIGN_PRIMARY |
				      TOKEN_ADJUST_DEFAULT,
			      &self)) {
		say(err, errlen, "OpenProcessToken");
		goto fail;
	}
	user = token_info(self, TokenUser);
	groups = token_info(self, TokenGroups);
	if (user == NULL || groups == NULL) {
		say(err, errlen, "GetTokenInformation");
		goto fail;
	}
	deny = alloc_zeroed(groups->GroupCount + 1, sizeof(*deny));
	if (deny == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	/* Deny-only: a SID that still counts in an ACE that denies, never in
	 * one that allows. SYSTEM's and Administrators' files (the agent's
	 * key among them) are then closed to the child even though the agent
	 * runs as SYSTEM. */
	DWORD n = 0;
	deny[n++].Sid = user->User.Sid;
	for (DWORD i = 0; i < groups->GroupCount; i++) {
		SID_AND_ATTRIBUTES *g = &groups->Groups[i];
		if ((g->Attributes & (SE_GROUP_INTEGRITY | SE_GROUP_LOGON_ID)) ||
		    is_well_known(g->Sid, WinWorldSid) ||
		    is_well_known(g->Sid, WinBuiltinUsersSid))
			continue;
		deny[n++].Sid = g->Sid;
	}
	if (!CreateRestrictedToken(self, DISABLE_MAX_PRIVILEGE, n, deny, 0,
				   NULL, 0, NULL, &token)) {
		say(err, errlen, "CreateRestrictedToken");
		goto fail;
	}
	/* Low integrity: no write to any object labelled medium or above,
	 * which is nearly every file and registry key. */
	BYTE low[SECURITY_MAX_SID_SIZE];
	DWORD lowlen = sizeof(low);
	TOKEN_MANDATORY_LABEL label = {.Label = {.Sid = low,
						 .Attributes =
							 SE_GROUP_INTEGRITY}};
	if (!CreateWellKnownSid(WinLowLabelSid, NULL, low, &lowlen) ||
	    !SetTokenInformation(token, TokenIntegrityLevel, &label,
				 sizeof(label) + lowlen)) {
		say(err, errlen, "setting the low integrity level");
		goto fail;
	}
	*out = token;
	token = NULL;
	rc = 0;
fail:
	if (token)
		CloseHandle(token);
	if (self)
		CloseHandle(self);
	alloc_free(deny);
	alloc_free(groups);
	alloc_free(user);
	return rc;
}

static void note_missing(struct jail *j, const char *what)
{
	size_t len = strlen(j->missing);
	snprintf(j->missing + len, sizeof(j->missing) - len, "%s%s (error %lu)",
		 len ? ", " : "", what, (unsigned long)GetLastError());
}

/* The job's limits. The process, memory and kill-on-close limits are the
 * isolation and must hold; the CPU cap and the UI restrictions are
 * noted in j->missing when the OS refuses them (wine has neither). */
static int make_job(const struct jail_limits *limits, struct jail *j,
		    char *err, size_t errlen)
{
	j->job = CreateJobObjectW(NULL, NULL);
	if (j->job == NULL) {
		say(err, errlen, "CreateJobObject");
		return -EPERM;
	}
	JOBOBJECT_EXTENDED_LIMIT_INFORMATION x = {0};
	x.BasicLimitInformation.LimitFlags =
		JOB_OBJECT_LIMIT_ACTIVE_PROCESS |
		JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE |
		JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
	x.BasicLimitInformation.ActiveProcessLimit = 1;
	if (limits->memory_bytes > 0) {
		x.BasicLimitInformation.LimitFlags |=
			JOB_OBJECT_LIMIT_PROCESS_MEMORY;
		x.ProcessMemoryLimit = (SIZE_T)limits->memory_bytes;
	}
	if (!SetInformationJobObject(j->job, JobObjectExtendedLimitInformation,
				     &x, sizeof(x))) {
		say(err, errlen, "setting the job's limits");
		return -EPERM;
	}
	if (limits->cpu_percent > 0) {
		/* CpuRate is in hundredths of a percent of the whole machine;
		 * the setting is a percent of one core. */
		DWORD cores = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
		DWORD rate = (DWORD)limits->cpu_percent * 100 / (cores ? cores : 1);
		JOBOBJECT_CPU_RATE_CONTROL_INFORMATION cpu = {
			.ControlFlags = JOB_OBJECT_CPU_RATE_CONTROL_ENABLE |
					JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP,
			.CpuRate = rate < 1 ? 1 : rate > 10000 ? 10000 : rate,
		};
		if (!SetInformationJobObject(j->job,
					     JobObjectCpuRateControlInformation,
					     &cpu, sizeof(cpu)))
			note_missing(j, "no CPU rate cap");
	}
	JOBOBJECT_BASIC_UI_RESTRICTIONS ui = {
		.UIRestrictionsClass =
			JOB_OBJECT_UILIMIT_DESKTOP |
			JOB_OBJECT_UILIMIT_DISPLAYSETTINGS |
			JOB_OBJECT_UILIMIT_EXITWINDOWS |
			JOB_OBJECT_UILIMIT_GLOBALATOMS |
			JOB_OBJECT_UILIMIT_HANDLES |
			JOB_OBJECT_UILIMIT_READCLIPBOARD |
			JOB_OBJECT_UILIMIT_SYSTEMPARAMETERS |
			JOB_OBJECT_UILIMIT_WRITECLIPBOARD,
	};
	if (!SetInformationJobObject(j->job, JobObjectBasicUIRestrictions, &ui,
				     sizeof(ui)))
		note_missing(j, "no UI restrictions");
	return 0;
}

/* Both ends of a pipe; ours is not inheritable. */
static bool pipe_pair(HANDLE *child, HANDLE *ours, bool child_reads)
{
	SECURITY_ATTRIBUTES sa = {.nLength = sizeof(sa), .bInheritHandle = TRUE};
	HANDLE r, w;
	if (!CreatePipe(&r, &w, &sa, 0))
		return false;
	*child = child_reads ? r : w;
	*ours = child_reads ? w : r;
	SetHandleInformation(*ours, HANDLE_FLAG_INHERIT, 0);
	return true;
}

int jail_spawn(const wchar_t *exe, const wchar_t *args,
	       const struct jail_limits *limits, struct jail *out, char *err,
	       size_t errlen)
{
	struct jail j = {0};
	HANDLE token = NULL, child_in = NULL, child_out = NULL,
	       child_err = NULL;
	LPPROC_THREAD_ATTRIBUTE_LIST attrs = NULL;
	wchar_t *cmdline = NULL;
	PROCESS_INFORMATION pi = {0};
	int rc = restricted_token(&token, err, errlen);
	if (rc == 0)
		rc = make_job(limits, &j, err, errlen);
	if (rc != 0)
		goto fail;
	rc = -EPERM;
	if (!pipe_pair(&child_in, &j.to_child, true) ||
	    !pipe_pair(&child_out, &j.from_child, false)) {
		say(err, errlen, "CreatePipe");
		goto fail;
	}
	/* The child's stderr is ours (its messages reach the agent's log),
	 * through an inheritable copy; the NUL device when we have none. */
	HANDLE our_err = GetStdHandle(STD_ERROR_HANDLE);
	if (our_err == NULL || our_err == INVALID_HANDLE_VALUE ||
	    !DuplicateHandle(GetCurrentProcess(), our_err, GetCurrentProcess(),
			     &child_err, 0, TRUE, DUPLICATE_SAME_ACCESS)) {
		SECURITY_ATTRIBUTES sa = {.nLength = sizeof(sa),
					  .bInheritHandle = TRUE};
		child_err = CreateFileW(L"NUL", GENERIC_WRITE, 0, &sa,
					OPEN_EXISTING, 0, NULL);
		if (child_err == INVALID_HANDLE_VALUE) {
			child_err = NULL;
			say(err, errlen, "opening NUL for the child's stderr");
			goto fail;
		}
	}
	/* Only these three are inherited, whatever else the agent holds
	 * open as inheritable. */
	HANDLE inherit[3] = {child_in, child_out, child_err};
	SIZE_T size = 0;
	InitializeProcThreadAttributeList(NULL, 1, 0, &size);
	attrs = alloc_bytes(size);
	if (attrs == NULL ||
	    !InitializeProcThreadAttributeList(attrs, 1, 0, &size) ||
	    !UpdateProcThreadAttribute(attrs, 0,
				       PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
				       inherit, sizeof(inherit), NULL, NULL)) {
		say(err, errlen, "setting the inherited handle list");
		goto fail;
	}
	STARTUPINFOEXW si = {0};
	si.StartupInfo.cb = sizeof(si);
	si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
	si.StartupInfo.hStdInput = child_in;
	si.StartupInfo.hStdOutput = child_out;
	si.StartupInfo.hStdError = child_err;
	si.lpAttributeList = attrs;
	/* CreateProcess may write into the command line. */
	size_t alen = wcslen(args) + 1;
	cmdline = alloc_bytes(alen * sizeof(wchar_t));
	if (cmdline == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	memcpy(cmdline, args, alen * sizeof(wchar_t));
	/* Suspended until it is in the job: it runs no instruction
	 * outside it. */
	if (!CreateProcessAsUserW(token, exe, cmdline, NULL, NULL, TRUE,
				  CREATE_SUSPENDED | CREATE_NO_WINDOW |
					  EXTENDED_STARTUPINFO_PRESENT,
				  NULL, NULL, &si.StartupInfo, &pi)) {
		say(err, errlen, "CreateProcessAsUser");
		goto fail;
	}
	if (!AssignProcessToJobObject(j.job, pi.hProcess)) {
		say(err, errlen, "AssignProcessToJobObject");
		TerminateProcess(pi.hProcess, 1);
		CloseHandle(pi.hThread);
		CloseHandle(pi.hProcess);
		goto fail;
	}
	ResumeThread(pi.hThread);
	CloseHandle(pi.hThread);
	j.process = pi.hProcess;
	*out = j;
	memset(&j, 0, sizeof(j));
	rc = 0;
fail:
	if (attrs) {
		DeleteProcThreadAttributeList(attrs);
		alloc_free(attrs);
	}
	alloc_free(cmdline);
	HANDLE ours[] = {token, child_in, child_out, child_err};
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		if (ours[i])
			CloseHandle(ours[i]);
	(void)jail_close(&j, 0);
	return rc;
}

int jail_give_handle(struct jail *j, HANDLE h, uint64_t *value)
{
	HANDLE there = NULL;
	if (!DuplicateHandle(GetCurrentProcess(), h, j->process, &there,
			     FILE_READ_DATA | FILE_READ_ATTRIBUTES | SYNCHRONIZE,
			     FALSE, 0))
		return -EBADF;
	*value = (uint64_t)(uintptr_t)there;
	return 0;
}

int jail_close(struct jail *j, DWORD wait_ms)
{
	int code = -1;
	if (j->to_child)
		CloseHandle(j->to_child);
	if (j->process) {
		DWORD status;
		if (WaitForSingleObject(j->process, wait_ms) == WAIT_OBJECT_0 &&
		    GetExitCodeProcess(j->process, &status))
			code = (int)status;
		CloseHandle(j->process);
	}
	if (j->from_child)
		CloseHandle(j->from_child);
	/* Kill on job close: whatever is still in it ends here. */
	if (j->job)
		CloseHandle(j->job);
	memset(j, 0, sizeof(*j));
	return code;
}
