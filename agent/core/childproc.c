#include "agent/core/childproc.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/wire.h"

#define MAX_ARGS 48

struct childproc {
	uv_process_t process;
	uv_pipe_t out;
	uv_pipe_t in; /* the child's stdin: requests to it */
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
		char name[32];
		if (signo)
			snprintf(cp->why, sizeof(cp->why),
				 "killed by signal %d (%s)", signo,
				 signo == SIGSYS ? "SIGSYS: sandbox violation"
						 : signals_name(signo, name,
								sizeof(name)));
		else
			snprintf(cp->why, sizeof(cp->why), "exit status %lld",
				 (long long)status);
	}
	uv_close((uv_handle_t *)proc, on_handle_closed);
	if (!uv_is_closing((uv_handle_t *)&cp->in))
		uv_close((uv_handle_t *)&cp->in, on_handle_closed);
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

int childproc_helper_path(const char *name, char *out, size_t cap, char *err,
			  size_t errlen)
{
	char self[4096];
	struct stat st;
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0) {
		int rc = len < 0 ? -errno : -ENOENT;
		snprintf(err, errlen, "cannot read /proc/self/exe: %s",
			 uv_strerror(rc));
		return rc;
	}
	self[len] = '\0';
	/* Replaced under us (an upgrade in progress): the helpers beside the
	 * new binary are the ones to run. */
	char *deleted = strstr(self, " (deleted)");
	if (deleted != NULL)
		*deleted = '\0';
	char *slash = strrchr(self, '/');
	if (slash == NULL) {
		snprintf(err, errlen, "odd /proc/self/exe '%s'", self);
		return -ENOENT;
	}
	int n = snprintf(out, cap, "%.*s/%s", (int)(slash - self), self, name);
	if (n < 0 || (size_t)n >= cap) {
		snprintf(err, errlen, "the path of helper %s is too long", name);
		return -ENAMETOOLONG;
	}
	if (stat(out, &st) != 0) {
		int rc = -errno;
		snprintf(err, errlen, "helper %s: %s (it is installed beside "
			 "the agent)", out, uv_strerror(rc));
		return rc;
	}
	if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(err, errlen, "helper %s is not a file owned by root "
			 "and writable only by its owner; refusing to run it",
			 out);
		return -EPERM;
	}
	return 0;
}

int childproc_spawn(uv_loop_t *loop, const char *helper,
		    const char *const *args,
		    const struct childproc_ops *ops, void *arg,
		    struct childproc **out)
{
	/* argv: the agent's name and the helper's role, so that ps reads
	 * "eduwatch-agent _scanner ...", then the NULL exec needs. */
	char *argv[MAX_ARGS + 2];
	char path[4096], err[256];
	size_t n = 0;
	argv[n++] = (char *)"eduwatch-agent";
	for (size_t i = 0; args[i] != NULL; i++) {
		if (n > MAX_ARGS)
			return -E2BIG;
		argv[n++] = (char *)args[i];
	}
	argv[n] = NULL;
	int rc = childproc_helper_path(helper, path, sizeof(path), err,
				       sizeof(err));
	if (rc != 0) {
		log_warn("childproc: %s", err);
		return rc;
	}
	struct childproc *cp = alloc_zeroed(1, sizeof(*cp));
	if (cp == NULL || (cp->decoder = wire_decoder_new()) == NULL) {
		alloc_free(cp);
		return -ENOMEM;
	}
	cp->ops = *ops;
	cp->arg = arg;
	uv_pipe_init(loop, &cp->out, 0);
	uv_pipe_init(loop, &cp->in, 0);
	cp->out.data = cp;
	cp->in.data = cp;
	cp->process.data = cp;
	uv_stdio_container_t stdio[3] = {
		{.flags = UV_CREATE_PIPE | UV_READABLE_PIPE,
		 .data.stream = (uv_stream_t *)&cp->in},
		{.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
		 .data.stream = (uv_stream_t *)&cp->out},
		{.flags = UV_INHERIT_FD, .data.fd = STDERR_FILENO},
	};
	uv_process_options_t opts = {
		.exit_cb = on_process_exit,
		.file = path,
		.args = argv,
		.stdio_count = 3,
		.stdio = stdio,
	};
	rc = uv_spawn(loop, &cp->process, &opts);
	if (rc != 0) {
		/* uv_spawn leaves an initialised handle to close even when it
		 * fails; the childproc is freed once both handles are closed,
		 * without an on_exit: the caller hears of it from rc. */
		cp->ops.on_exit = NULL;
		cp->open_handles = 3;
		uv_close((uv_handle_t *)&cp->process, on_handle_closed);
		uv_close((uv_handle_t *)&cp->out, on_handle_closed);
		uv_close((uv_handle_t *)&cp->in, on_handle_closed);
		return rc;
	}
	cp->open_handles = 3;
	uv_read_start((uv_stream_t *)&cp->out, on_alloc, on_read);
	*out = cp;
	return 0;
}

void childproc_stop(struct childproc *cp)
{
	if (!cp->exited)
		uv_process_kill(&cp->process, SIGTERM);
}

void childproc_kill(struct childproc *cp, const char *why)
{
	kill_child(cp, why);
}

int childproc_pid(const struct childproc *cp)
{
	return cp->process.pid;
}

struct write_req {
	uv_write_t req;
	char bytes[];
};

static void on_written(uv_write_t *req, int status)
{
	(void)status; /* a dead child is reported by its exit */
	alloc_free(req);
}

int childproc_write(struct childproc *cp, const char *map, size_t len)
{
	if (len == 0 || len > WIRE_MAX_FRAME)
		return -EMSGSIZE;
	if (cp->exited || uv_is_closing((uv_handle_t *)&cp->in))
		return -EPIPE;
	struct write_req *w = alloc_bytes(sizeof(*w) + 4 + len);
	if (w == NULL)
		return -ENOMEM;
	w->bytes[0] = (char)(len >> 24);
	w->bytes[1] = (char)(len >> 16);
	w->bytes[2] = (char)(len >> 8);
	w->bytes[3] = (char)len;
	memcpy(w->bytes + 4, map, len);
	uv_buf_t buf = uv_buf_init(w->bytes, (unsigned)(4 + len));
	int rc = uv_write(&w->req, (uv_stream_t *)&cp->in, &buf, 1, on_written);
	if (rc != 0)
		alloc_free(w);
	return rc;
}

int childproc_recv(int fd, char *buf, size_t cap, size_t *len)
{
	unsigned char hdr[4];
	size_t want = 4, got = 0;
	char *dst = (char *)hdr;
	for (int part = 0; part < 2; part++) {
		while (got < want) {
			ssize_t n = read(fd, dst + got, want - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if (n == 0)
				return part == 0 && got == 0 ? -EPIPE : -EBADMSG;
			got += (size_t)n;
		}
		if (part == 1)
			break;
		want = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
		       (size_t)hdr[2] << 8 | hdr[3];
		if (want == 0 || want > cap)
			return -EMSGSIZE;
		got = 0;
		dst = buf;
	}
	*len = want;
	return 0;
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
