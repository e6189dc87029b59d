/* libFuzzer harness: request bytes through the console's whole request
 * path: h2o's HTTP/1.1 parser (over a socketpair, as a browser's bytes
 * would arrive after TLS), the header limits, routing, the parameter,
 * form and cookie decoders and the handlers, on an in-memory store. The
 * decoders are also run straight on the input, so that inputs h2o would
 * refuse still reach them. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/sha.h>
#include <uv.h>

#include "collector/store.h"
#include "collector/web/route.h"
#include "collector/web/web.h"
#include "common/jsonout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static uv_loop_t *loop;
static struct store *store;
static struct web *web;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	struct store_options so = {.url = ":memory:", .cache_bytes = 1 << 20};
	/* A SOC destination, so the feed page runs its queries. */
	static const char *const dests[] = {"soc-f"};
	struct web_options wo = {.listen = "127.0.0.1", .port = -1,
				 .state_dir = "/tmp", .stale_after_s = 7200,
				 .forward_dests = dests, .nforward_dests = 1};
	(void)argc, (void)argv;
	loop = uv_default_loop();
	/* A school, a PC, an alert and a logged-in admin whose session id is
	 * 32 bytes of 0x01 (the seeds carry its cookie and CSRF token), so
	 * the fuzzer reaches the handlers behind the login. */
	struct store_school sc = {.code = "79001", .name = "T", .commune = "C",
				  .level = 2, .expected_pcs = 1};
	struct store_user u = {.name = "f", .role = "province_admin",
			       .pwhash = "$argon2id$v=19$m=19456,t=2,p=1$x$y",
			       .lang = "vi"};
	struct store_alert al = {.rule = "r", .title = "t", .school = "79001",
				 .agent = "a1", .severity = 8, .evidence = "{}"};
	unsigned char raw[32], hash[32];
	bool created;
	memset(raw, 1, sizeof(raw));
	SHA256(raw, sizeof(raw), hash);
	if (store_open(&so, NULL, &store, err, sizeof(err)) != 0 ||
	    store_school_add(store, &sc) != 0 ||
	    store_agent_add(store, "a1", "79001", "pc1", "x") != 0 ||
	    store_alert_raise(store, &al, &created) != 0 ||
	    store_user_add(store, &u) != 0 ||
	    store_session_add(store, hash, "f", store_now_us(), "fuzz") != 0 ||
	    web_start(loop, store, &wo, &web, err, sizeof(err)) != 0)
		abort();
	return 0;
}

static bool closed;

static void on_close(uv_handle_t *h)
{
	closed = true;
	free(h);
}

static void check_decoders(const uint8_t *data, size_t size)
{
	char out[256];
	struct web_header h = {"cookie", 6, (const char *)data, size};
	struct web_request req = {.headers = &h, .nheaders = 1};
	if (route_param((const char *)data, size, "a", out, sizeof(out)) == 0 &&
	    !json_utf8_valid(out, strlen(out)))
		abort();
	if (route_cookie(&req, "ew_session", out, sizeof(out)) == 0)
		for (const char *p = out; *p; p++)
			if (*p <= ' ' || *p == ';' || *p == '"' || *p == '\\' ||
			    *p == 0x7f)
				abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	char sink[16384];
	check_decoders(data, size);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		abort();
	uv_pipe_t *pipe = calloc(1, sizeof(*pipe));
	uv_pipe_init(loop, pipe, 0);
	if (uv_pipe_open(pipe, sv[0]) != 0)
		abort();
	closed = false;
	web_serve_stream(web, (uv_stream_t *)pipe, on_close);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	size_t off = 0;
	bool shut = false;
	/* Feed the bytes, read what comes back, until the server closes.
	 * Bounded by time, not rounds: handlers run on libuv's threadpool,
	 * and a login's argon2id there outlasts many idle rounds. */
	uint64_t until = uv_hrtime() + 20ull * 1000000000ull;
	while (!closed && uv_hrtime() < until) {
		if (off < size) {
			ssize_t n = write(sv[1], data + off, size - off);
			if (n > 0)
				off += (size_t)n;
		} else if (!shut) {
			shutdown(sv[1], SHUT_WR);
			shut = true;
		}
		while (read(sv[1], sink, sizeof(sink)) > 0)
			;
		uv_run(loop, UV_RUN_NOWAIT);
	}
	if (!closed)
		abort(); /* the server never closed a finished connection */
	close(sv[1]);
	return 0;
}
