#include "agent/platform/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/errtext.h"

bool sandbox_has_seccomp(void)
{
#ifdef EDUWATCH_SANITIZED
	return false;
#else
	return true;
#endif
}

/* Keeps only CAP_DAC_READ_SEARCH (or nothing) in every set. */
static int set_caps(bool read_files, char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	if (read_files) {
		data[0].effective = 1u << CAP_DAC_READ_SEARCH;
		data[0].permitted = 1u << CAP_DAC_READ_SEARCH;
	}
	if (syscall(SYS_capset, &hdr, data) != 0)
		return errtext_sys(-errno, err, errlen, "sandbox: capset");
	return 0;
}

static int become_nobody(bool read_files, char *err, size_t errlen)
{
	struct passwd *pw = getpwnam("nobody");
	uid_t uid = pw ? pw->pw_uid : 65534;
	gid_t gid = pw ? pw->pw_gid : 65534;
	/* No capability may come back through the bounding or ambient sets,
	 * whatever this process does later. */
	for (int cap = 0; cap <= 63; cap++) {
		if (read_files && cap == CAP_DAC_READ_SEARCH)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
			return errtext_sys(-errno, err, errlen, "sandbox: "
					   "dropping the bounding set");
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (read_files && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
		return errtext_sys(-errno, err, errlen, "sandbox: keepcaps");
	if (setgroups(0, NULL) != 0)
		return errtext_sys(-errno, err, errlen, "sandbox: setgroups");
	if (setresgid(gid, gid, gid) != 0)
		return errtext_sys(-errno, err, errlen, "sandbox: setresgid");
	if (setresuid(uid, uid, uid) != 0)
		return errtext_sys(-errno, err, errlen, "sandbox: setresuid");
	return set_caps(read_files, err, errlen);
}

#ifndef EDUWATCH_SANITIZED
static int allow(scmp_filter_ctx ctx, int nr)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

/* Allows nr when (argument arg & mask) == value. */
static int allow_if(scmp_filter_ctx ctx, int nr, unsigned arg,
		    scmp_datum_t mask, scmp_datum_t value)
{
	struct scmp_arg_cmp cmp = {.arg = arg, .op = SCMP_CMP_MASKED_EQ,
				   .datum_a = mask, .datum_b = value};
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp);
}

static int install_filter(const struct sandbox_policy *p, char *err,
			  size_t errlen)
{
	/* Killing the whole process, not the thread, makes a violation a
	 * visible crash the parent reports, never a silent hang. */
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL)
		return errtext_sys(-ENOMEM, err, errlen, "sandbox: seccomp_init");
	static const int base[] = {
		SCMP_SYS(read),		 SCMP_SYS(readv),
		SCMP_SYS(pread64),	 SCMP_SYS(lseek),
		SCMP_SYS(fstat),	 SCMP_SYS(newfstatat),
		SCMP_SYS(close),	 SCMP_SYS(mmap),
		SCMP_SYS(munmap),	 SCMP_SYS(mremap),
		SCMP_SYS(brk),		 SCMP_SYS(madvise),
		SCMP_SYS(mprotect),	 SCMP_SYS(futex),
		SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep),
		SCMP_SYS(nanosleep),	 SCMP_SYS(gettimeofday),
		SCMP_SYS(getpid),	 SCMP_SYS(gettid),
		SCMP_SYS(getppid),	 SCMP_SYS(getuid),
		SCMP_SYS(geteuid),	 SCMP_SYS(getgid),
		SCMP_SYS(getegid),
		SCMP_SYS(exit),		 SCMP_SYS(exit_group),
		SCMP_SYS(rt_sigreturn),	 SCMP_SYS(rt_sigprocmask),
		SCMP_SYS(getrandom),	 SCMP_SYS(sched_yield),
		SCMP_SYS(restart_syscall), SCMP_SYS(fcntl),
		SCMP_SYS(poll),		 SCMP_SYS(ppoll),
	};
	static const int capture[] = {
		SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(getsockopt),
	};
	static const int files[] = {
		SCMP_SYS(getdents64), SCMP_SYS(statx),	SCMP_SYS(fstatfs),
		SCMP_SYS(fadvise64),  SCMP_SYS(readlink), SCMP_SYS(lstat),
		SCMP_SYS(stat),
		/* glibc's qsort asks for the RAM size (scandir sorts the rule
		 * folders); it reveals nothing a scanner could misuse. */
		SCMP_SYS(sysinfo),
		/* libyara catches SIGBUS around each scan, for a mapped file
		 * that shrinks under it. */
		SCMP_SYS(rt_sigaction),
	};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < sizeof(base) / sizeof(base[0]); i++)
		rc = allow(ctx, base[i]);
	for (size_t i = 0; rc == 0 && p->packet_capture &&
			   i < sizeof(capture) / sizeof(capture[0]);
	     i++)
		rc = allow(ctx, capture[i]);
	for (size_t i = 0;
	     rc == 0 && p->read_files && i < sizeof(files) / sizeof(files[0]);
	     i++)
		rc = allow(ctx, files[i]);
	/* Writes go to the result pipe and to stderr, nowhere else. */
	const scmp_datum_t all = ~(scmp_datum_t)0;
	int outs[2] = {p->out_fd, STDERR_FILENO};
	for (int i = 0; rc == 0 && i < 2; i++) {
		rc = allow_if(ctx, SCMP_SYS(write), 0, all, (scmp_datum_t)outs[i]);
		if (rc == 0)
			rc = allow_if(ctx, SCMP_SYS(writev), 0, all,
				      (scmp_datum_t)outs[i]);
	}
	/* open only for reading: no write, create, truncate or append
	 * (O_TMPFILE needs write access, so it is refused too). */
	const scmp_datum_t writes =
		O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;
	/* openat is checked on its flags only, never on its directory: a
	 * walk relative to an open directory fd (openat(dirfd, name,
	 * O_RDONLY|O_NOFOLLOW)) is as read-only as one by path. */
	if (rc == 0 && p->read_files)
		rc = allow_if(ctx, SCMP_SYS(openat), 2, writes, 0);
	if (rc == 0 && p->read_files)
		rc = allow_if(ctx, SCMP_SYS(open), 1, writes, 0);
	/* glibc's stdio asks isatty() (ioctl TCGETS) the first time it
	 * buffers a stream on a character device, such as /dev/null or a
	 * terminal. Answering "not a terminal" costs nothing (the stream is
	 * then fully buffered) and keeps every other ioctl fatal. */
	if (rc == 0) {
		struct scmp_arg_cmp tcgets = {.arg = 1, .op = SCMP_CMP_EQ,
					      .datum_a = TCGETS};
		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(ENOTTY),
					    SCMP_SYS(ioctl), 1, &tcgets);
	}
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0)
		return errtext_sys(rc, err, errlen, "sandbox: seccomp");
	return 0;
}
#endif

int sandbox_enter(const struct sandbox_policy *policy, char *err,
		  size_t errlen)
{
	int rc;
	if (geteuid() == 0)
		rc = become_nobody(policy->read_files, err, errlen);
	else /* capabilities given to a non-root user (file or ambient) */
		rc = policy->read_files ? 0 : set_caps(false, err, errlen);
	if (rc != 0)
		return rc;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return errtext_sys(-errno, err, errlen, "sandbox: no_new_privs");
#ifndef EDUWATCH_SANITIZED
	/* glibc reads the time zone file the first time any time is
	 * formatted (even gmtime_r, as every log line does); after the
	 * filter that open would kill the process. Read it now. */
	tzset();
	if ((rc = install_filter(policy, err, errlen)) != 0)
		return rc;
#endif
	return 0;
}
