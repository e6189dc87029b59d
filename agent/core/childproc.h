/* childproc: a helper process of the agent and the pipe it reports on.
 *
 * The agent runs its hostile-input parsers (the LAN sensor, the scanner)
 * and its backup jobs as children: small executables of their own
 * (eduwatch-scanner, eduwatch-sensor, eduwatch-backup) installed beside
 * the agent and found next to /proc/self/exe, never through PATH. So a
 * child starts clean instead of inheriting a forked libuv loop and its
 * threads, and only the child maps libyara, libpcap or libseccomp: the
 * resident agent stays small. A child's argv reads `eduwatch-agent
 * <role> ...` (`_scanner`, `_netsensor`, `_backup`), so ps names the
 * agent and the role; its comm (top) names the executable. A child writes frames to its stdout: a
 * 4-byte big-endian length and one msgpack map, the same framing as the
 * wire; the parent may send it frames of the same shape on its stdin.
 * The parent treats them as untrusted: the frame decoder bounds
 * them, wire_check_msgpack walks them before msgpack-c unpacks them, and
 * a child that writes garbage is killed. */
#ifndef EDUWATCH_CHILDPROC_H
#define EDUWATCH_CHILDPROC_H

#include "common/check.h"

#include <stddef.h>

#include <msgpack.h>
#include <uv.h>

struct childproc;

struct childproc_ops {
	/* One message; map is borrowed for the call. */
	void (*on_message)(void *arg, const msgpack_object *map);
	/* The child is gone and every handle closed; the childproc is freed
	 * after this returns. why: "exit status 1", "killed by signal 31
	 * (SIGSYS)", "bad message". */
	void (*on_exit)(void *arg, const char *why);
};

/* The path of the helper executable `name` in the directory of
 * /proc/self/exe. Refuses (-EPERM) a helper that is not a regular file
 * owned by root or by us, or that others may write: the agent runs as
 * root and would run whatever sits there. Returns 0 or a negative errno,
 * with a message for a person in err. */
EW_MUST_CHECK
int childproc_helper_path(const char *name, char *out, size_t cap, char *err,
			  size_t errlen);

/* Starts the helper executable `helper` (see childproc_helper_path) with
 * args (args[0] is the helper's role, NULL-terminated). Returns 0 or a
 * negative errno. */
EW_MUST_CHECK
int childproc_spawn(uv_loop_t *loop, const char *helper,
		    const char *const *args,
		    const struct childproc_ops *ops, void *arg,
		    struct childproc **out);

/* Asks the child to stop (SIGTERM); on_exit follows. */
void childproc_stop(struct childproc *cp);

/* Kills the child at once (SIGKILL); on_exit gets why. */
void childproc_kill(struct childproc *cp, const char *why);
int childproc_pid(const struct childproc *cp);

/* Sends one frame to the child's stdin (the map is copied). Returns 0 or
 * a negative errno (-EPIPE once the child is gone). */
EW_MUST_CHECK
int childproc_write(struct childproc *cp, const char *map, size_t len);

/* Child side: reads one frame from fd (its stdin) into buf. Returns 0,
 * -EPIPE at a clean end of input, or -EBADMSG / -EMSGSIZE. */
EW_MUST_CHECK
int childproc_recv(int fd, char *buf, size_t cap, size_t *len);

/* Child side: writes one frame to fd, whole. Returns 0 or a negative
 * errno (-EPIPE once the parent is gone: the child should exit). */
EW_MUST_CHECK
int childproc_send(int fd, const char *map, size_t len);

#endif
