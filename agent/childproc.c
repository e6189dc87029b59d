#include "agent/childproc.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/wire.h"

#define MAX_ARGS 16

struct childproc {
	uv_process_t process;
	uv_pipe_t out;
	struct wire_decoder *decoder;
	struct childproc_ops ops;
	void *arg;
	int open_handles;
	bool exited;
	char why[96];
};

static void maybe_finish(struct childproc *cp)
{
	if (cp->open_handles > 0)
		return;
	if (cp->ops.on_exit)
		cp->ops.on_exit(cp->arg, cp->why);
	wire_decoder_free(cp->decoder);
	alloc_free(cp);
}

static void on_handle_closed(uv_handle_t *handle)
{
	struct childproc *cp = handle->data;
	cp->open_handles--;
	maybe_finish(cp);
}

static void on_process_exit(uv_process_t *proc, int64_t status, int signo)
{
	struct childproc *cp = proc->data;
	cp->exited = true;
	/* A reason set earlier ("bad message") is the better one. */
	if (cp->why[0] == '\0') {
		if (signo)
			snprintf(cp->why, sizeof(cp->why),
				 "killed by signal %d (%s)", signo,
				 signo == SIGSYS ? "SIGSYS: sandbox violation"
						 : strsignal(signo));
		else
			snprintf(cp->why, sizeof(cp->why), "exit status %lld",
				 (long long)status);
	}
	uv_close((uv_handle_t *)proc, on_handle_closed);
}

static void kill_child(struct childproc *cp, const char *why)
{
	if (cp->why[0] == '\0')
		snprintf(cp->why, sizeof(cp->why), "%s", why);
	if (!cp->exited)
		uv_process_kill(&cp->process, SIGKILL);
}

static int on_frame(void *arg, const char *body, size_t len)
{
	struct childproc *cp = arg;
	msgpack_unpacked up;
	if (wire_check_msgpack(body, len, WIRE_MAX_DEPTH) != 0)
		return -EBADMSG;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, body, len, NULL) != MSGPACK_UNPACK_SUCCESS ||
	    up.data.type != MSGPACK_OBJECT_MAP) {
		msgpack_unpacked_destroy(&up);
		return -EBADMSG;
	}
	cp->ops.on_message(cp->arg, &up.data);
	msgpack_unpacked_destroy(&up);
	return 0;
}

static void on_alloc(uv_handle_t *handle, size_t hint, uv_buf_t *buf)
{
	static char slab[65536]; /* one loop thread: one read at a time */
	(void)handle;
	(void)hint;
	*buf = uv_buf_init(slab, sizeof(slab));
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
	struct childproc *cp = stream->data;
	if (n > 0 && wire_decoder_feed(cp->decoder, buf->base, (size_t)n,
				       on_frame, cp) != 0) {
		log_warn("childproc: child %d wrote a bad message; killing it",
			 cp->process.pid);
		kill_child(cp, "bad message");
		n = UV_EOF;
	}
	if (n < 0) {
		uv_read_stop(stream);
		if (!uv_is_closing((uv_handle_t *)stream))
			uv_close((uv_handle_t *)stream, on_handle_closed);
	}
}

int childproc_spawn(uv_loop_t *loop, const char *const *args,
		    const struct childproc_ops *ops, void *arg,
		    struct childproc **out)
{
	/* argv: our name, the helper's args, and the NULL exec needs. */
	char *argv[MAX_ARGS + 2];
	size_t n = 0;
	argv[n++] = (char *)"eduwatch-agent";
	for (size_t i = 0; args[i] != NULL; i++) {
		if (n > MAX_ARGS)
			return -E2BIG;
		argv[n++] = (char *)args[i];
	}
	argv[n] = NULL;
	struct childproc *cp = alloc_zeroed(1, sizeof(*cp));
	if (cp == NULL || (cp->decoder = wire_decoder_new()) == NULL) {
		alloc_free(cp);
		return -ENOMEM;
	}
	cp->ops = *ops;
	cp->arg = arg;
	uv_pipe_init(loop, &cp->out, 0);
	cp->out.data = cp;
	cp->process.data = cp;
	uv_stdio_container_t stdio[3] = {
		{.flags = UV_IGNORE},
		{.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
		 .data.stream = (uv_stream_t *)&cp->out},
		{.flags = UV_INHERIT_FD, .data.fd = STDERR_FILENO},
	};
	/* Our own path, so that ps and top name the helper; /proc/self/exe
	 * when the binary was replaced under us (an upgrade in progress). */
	char self[4096];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len > 0)
		self[len] = '\0';
	if (len <= 0 || strstr(self, " (deleted)") != NULL)
		snprintf(self, sizeof(self), "/proc/self/exe");
	uv_process_options_t opts = {
		.exit_cb = on_process_exit,
		.file = self,
		.args = argv,
		.stdio_count = 3,
		.stdio = stdio,
	};
	int rc = uv_spawn(loop, &cp->process, &opts);
	if (rc != 0) {
		/* uv_spawn leaves an initialised handle to close even when it
		 * fails; the childproc is freed once both handles are closed,
		 * without an on_exit: the caller hears of it from rc. */
		cp->ops.on_exit = NULL;
		cp->open_handles = 2;
		uv_close((uv_handle_t *)&cp->process, on_handle_closed);
		uv_close((uv_handle_t *)&cp->out, on_handle_closed);
		return rc;
	}
	cp->open_handles = 2;
	uv_read_start((uv_stream_t *)&cp->out, on_alloc, on_read);
	*out = cp;
	return 0;
}

void childproc_stop(struct childproc *cp)
{
	if (!cp->exited)
		uv_process_kill(&cp->process, SIGTERM);
}

int childproc_send(int fd, const char *map, size_t len)
{
	if (len == 0 || len > WIRE_MAX_FRAME)
		return -EMSGSIZE;
	uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16),
			  (uint8_t)(len >> 8), (uint8_t)len};
	struct {
		const char *p;
		size_t n;
	} parts[2] = {{(const char *)hdr, 4}, {map, len}};
	for (int i = 0; i < 2; i++) {
		size_t done = 0;
		while (done < parts[i].n) {
			ssize_t w = write(fd, parts[i].p + done, parts[i].n - done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -errno;
			done += (size_t)w;
		}
	}
	return 0;
}
