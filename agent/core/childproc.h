/* childproc: a helper process of the agent and the pipe it reports on.
 *
 * The agent runs its hostile-input parsers (the LAN sensor, the scanner)
 * as children: `eduwatch-agent <helper> ...` started again from
 * /proc/self/exe, so a child starts clean instead of inheriting a forked
 * libuv loop and its threads. A child writes frames to its stdout: a
 * 4-byte big-endian length and one msgpack map, the same framing as the
 * wire; the parent may send it frames of the same shape on its stdin.
 * The parent treats them as untrusted: the frame decoder bounds
 * them, wire_check_msgpack walks them before msgpack-c unpacks them, and
 * a child that writes garbage is killed. */
#ifndef EDUWATCH_CHILDPROC_H
#define EDUWATCH_CHILDPROC_H

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

/* Starts /proc/self/exe with args (args[0] is the helper's command,
 * NULL-terminated). Returns 0 or a negative errno. */
int childproc_spawn(uv_loop_t *loop, const char *const *args,
		    const struct childproc_ops *ops, void *arg,
		    struct childproc **out);

/* Asks the child to stop (SIGTERM); on_exit follows. */
void childproc_stop(struct childproc *cp);

/* Kills the child at once (SIGKILL); on_exit gets why. */
void childproc_kill(struct childproc *cp, const char *why);
int childproc_pid(const struct childproc *cp);

/* Sends one frame to the child's stdin (the map is copied). Returns 0 or
 * a negative errno (-EPIPE once the child is gone). */
int childproc_write(struct childproc *cp, const char *map, size_t len);

/* Child side: reads one frame from fd (its stdin) into buf. Returns 0,
 * -EPIPE at a clean end of input, or -EBADMSG / -EMSGSIZE. */
int childproc_recv(int fd, char *buf, size_t cap, size_t *len);

/* Child side: writes one frame to fd, whole. Returns 0 or a negative
 * errno (-EPIPE once the parent is gone: the child should exit). */
int childproc_send(int fd, const char *map, size_t len);

#endif
