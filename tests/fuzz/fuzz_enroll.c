/* libFuzzer harness: the enrollment port's request state machine, as the
 * daemon runs it: enroll_session_new/feed on a real libuv loop, with the
 * threadpool work against a real SQLite store and a real CA. Only the TLS
 * transport is replaced by memory, so every error path the fuzzer reaches
 * is one the collector has.
 *
 * The first input byte picks a shape:
 *   even: the rest is raw bytes from the peer, fed in pieces whose sizes
 *         come from the second byte (framing, msgpack, field checks);
 *   odd:  the rest fills an enroll frame built here, with the real token
 *         or fuzzed bytes, a valid CSR or fuzzed bytes, a fuzzed host, so
 *         that the token, CSR and signing paths are reached too.
 * Checked for every input: the collector writes at most one frame, it is
 * an error or an enrolled frame, and the session always ends and frees. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "collector/ca.h"
#include "collector/enroll.h"
#include "collector/store.h"
#include "common/alloc.h"
#include "common/pki.h"
#include "common/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_token[] = "ewt_fuzzFUZZfuzzFUZZfuzzFUZZfuzzFUZZfuzzFUZZfuz";

static uv_loop_t *loop;
static struct enroll *service;
static char *valid_csr;
static unsigned address_counter;

struct sink {
	char buf[64 * 1024];
	size_t len;
	int writes;
	int closes;
};

static void sink_write(void *arg, const void *data, size_t len)
{
	struct sink *k = arg;
	k->writes++;
	if (len > sizeof(k->buf) - k->len)
		abort(); /* an answer is a few KiB at most */
	memcpy(k->buf + k->len, data, len);
	k->len += len;
}

static void sink_close(void *arg)
{
	struct sink *k = arg;
	k->closes++;
}

static const struct enroll_session_io sink_io = {
	.write = sink_write,
	.close = sink_close,
};

static int check_frame(void *arg, const char *body, size_t len)
{
	int *frames = arg;
	struct wire_msg msg;
	if (wire_msg_parse(&msg, body, len) != 0)
		abort();
	if (msg.type != WIRE_ERROR && msg.type != WIRE_ENROLLED)
		abort();
	wire_msg_release(&msg);
	(*frames)++;
	return 0;
}

static int setup(void)
{
	char dir[] = "/tmp/ew-fuzz-enroll-XXXXXX";
	char err[256], db[512];
	struct ca *ca;
	struct store *st;
	if (mkdtemp(dir) == NULL)
		return -1;
	const char *names[] = {"localhost"};
	if (ca_init(dir, names, 1, err, sizeof(err)) != 0 ||
	    ca_load(dir, &ca, err, sizeof(err)) != 0)
		return -1;
	loop = uv_default_loop();
	snprintf(db, sizeof(db), "sqlite:%s/events.db", dir);
	struct store_options o = {.url = db, .batch_max_events = 100,
				  .retention_days = 30, .high_severity_days = 30,
				  .high_severity = 8};
	if (store_open(&o, loop, &st, err, sizeof(err)) != 0)
		return -1;
	struct store_school school = {.code = "79001", .name = "Fuzz",
				      .commune = "Fuzz", .level = 2,
				      .expected_pcs = 1};
	unsigned char hash[32];
	enroll_token_hash(fuzz_token, hash);
	if (store_school_add(st, &school) != 0 ||
	    store_token_add(st, hash, "79001", 1 << 30,
			    store_now_us() + 3600LL * 1000000 * 24 * 365) != 0)
		return -1;
	EVP_PKEY *key;
	X509_REQ *req;
	if (pki_key_new(&key) != 0 || pki_csr_new(key, &req) != 0 ||
	    pki_csr_to_pem(req, &valid_csr, NULL) != 0)
		return -1;
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return enroll_new(loop, ca, st, &service);
}

/* A frame from fuzzed parts: [flags][token len][host len] then bytes. */
static size_t build_frame(const uint8_t *data, size_t size, char *out,
			  size_t cap)
{
	if (size < 3)
		return 0;
	uint8_t flags = data[0];
	size_t tlen = data[1] % 64, hlen = data[2] % 80;
	data += 3;
	size -= 3;
	if (tlen > size)
		tlen = size;
	const uint8_t *tok = data;
	data += tlen;
	size -= tlen;
	if (hlen > size)
		hlen = size;
	const uint8_t *host = data;
	data += hlen;
	size -= hlen;
	struct wire_out w;
	uint32_t keys = 2 + ((flags & 8) ? 0 : 1) + ((flags & 16) ? 1 : 0);
	wire_out_begin(&w, (flags & 32) ? WIRE_PING : WIRE_ENROLL, keys);
	wire_pack_str(&w.pk, "token");
	if (flags & 1)
		wire_pack_str(&w.pk, fuzz_token);
	else
		wire_pack_strn(&w.pk, (const char *)tok, tlen);
	wire_pack_str(&w.pk, "csr");
	if (flags & 2)
		wire_pack_str(&w.pk, valid_csr);
	else
		wire_pack_strn(&w.pk, (const char *)data, size);
	if (!(flags & 8)) {
		wire_pack_str(&w.pk, "host");
		if (flags & 4)
			wire_pack_str(&w.pk, "pc-01");
		else
			wire_pack_strn(&w.pk, (const char *)host, hlen);
	}
	if (flags & 16)
		wire_pack_kv_u64(&w.pk, "v", 1);
	size_t n = 0;
	if (wire_out_finish(&w) == 0 && w.buf.size <= cap) {
		memcpy(out, w.buf.data, w.buf.size);
		n = w.buf.size;
	}
	wire_out_release(&w);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char frame[80 * 1024];
	if (service == NULL && setup() != 0)
		abort();
	if (size < 2)
		return 0;
	struct sink *k = alloc_zeroed(1, sizeof(*k));
	struct enroll_session *s;
	char addr[64];
	/* A new address per input: wrong tokens from one address would earn
	 * it the failure delay, which would stall the fuzzer, not test it. */
	address_counter++;
	snprintf(addr, sizeof(addr), "10.%u.%u.%u:4000",
		 (address_counter >> 16) & 255, (address_counter >> 8) & 255,
		 address_counter & 255);
	if (enroll_session_new(service, addr, &sink_io, k, &s) != 0)
		abort();
	const char *bytes = (const char *)data + 2;
	size_t len = size - 2;
	if (data[0] & 1) {
		len = build_frame(data + 2, size - 2, frame, sizeof(frame));
		bytes = frame;
	}
	size_t piece = 1 + data[1] % 97;
	for (size_t off = 0; off < len && !enroll_session_done(s); off += piece)
		enroll_session_feed(s, bytes + off,
				    len - off < piece ? len - off : piece);
	/* Let the threadpool work, if any, come back and answer. */
	while (k->closes == 0 && enroll_session_done(s))
		uv_run(loop, UV_RUN_ONCE);
	enroll_session_detach(s);
	uv_run(loop, UV_RUN_NOWAIT);

	struct wire_decoder *dec = wire_decoder_new();
	int frames = 0;
	if (wire_decoder_feed(dec, k->buf, k->len, check_frame, &frames) != 0)
		abort();
	if (wire_decoder_buffered(dec) != 0 || frames > 1 || k->closes > 1 ||
	    (k->closes == 1) != (frames == 1))
		abort();
	wire_decoder_free(dec);
	alloc_free(k);
	return 0;
}
