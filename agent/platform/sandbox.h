/* sandbox: what a helper process gives up before it touches hostile bytes.
 *
 * The LAN sensor parses packets anyone on the school LAN can forge, and
 * the scanner parses files anyone can plant. Each runs in its own process
 * (see childproc.h), which opens what it needs first (the capture handle,
 * the rule bundle) and then calls sandbox_enter():
 *   - root becomes the unprivileged "nobody" (every capability is lost),
 *     keeping CAP_DAC_READ_SEARCH only when asked (the scanner must read
 *     every file, and nothing more);
 *   - no_new_privs, so nothing can regain privileges;
 *   - a seccomp filter that kills the process on any system call outside a
 *     short list: no socket, connect or sendto, no exec, no open for
 *     writing, and write() only to the result pipe and stderr.
 * Not being root already (tests, a desktop session) skips the user change
 * and keeps the rest. Sanitizer builds skip the seccomp filter only: ASan
 * and LSan need system calls of their own (the leak checker ptraces). */
#ifndef EDUWATCH_SANDBOX_H
#define EDUWATCH_SANDBOX_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>

struct sandbox_policy {
	int out_fd;	      /* the one descriptor written besides stderr */
	bool read_files;      /* keep CAP_DAC_READ_SEARCH, allow open(O_RDONLY) */
	bool packet_capture;  /* allow the reads of a capture socket */
};

/* Returns 0 or a negative errno with a reason in err. On failure the
 * caller must exit: a half-entered sandbox is not one. */
EW_MUST_CHECK
int sandbox_enter(const struct sandbox_policy *policy, char *err,
		  size_t errlen);

/* Whether sandbox_enter installs the seccomp filter in this build. */
bool sandbox_has_seccomp(void);

#endif
