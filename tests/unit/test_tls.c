/* Unit tests for common/tls and common/pki: real TLS 1.3 handshakes over a
 * socketpair, with certificates generated at test time. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/pki.h"
#include "common/tls.h"
#include "tests/support/testutil.h"

#define DAY 86400L

struct side {
	bool is_client;
	bool opened;
	bool closed;
	int close_status;
	char received[64];
	char peer_cn[PKI_ID_MAX + 1];
	char peer_ou[PKI_ID_MAX + 1];
	char error[160];
};

static void on_open(struct tls_stream *ts, void *arg)
{
	struct side *s = arg;
	s->opened = true;
	snprintf(s->peer_cn, sizeof(s->peer_cn), "%s", tls_stream_peer_cn(ts));
	snprintf(s->peer_ou, sizeof(s->peer_ou), "%s", tls_stream_peer_ou(ts));
	/* The client speaks first; the server answers; the client closes. */
	if (s->is_client)
		assert_int_equal(tls_stream_write(ts, "ping", 4), 0);
}

static void on_data(struct tls_stream *ts, const char *data, size_t len,
		    void *arg)
{
	struct side *s = arg;
	size_t have = strlen(s->received);
	if (have + len < sizeof(s->received))
		memcpy(s->received + have, data, len);
	if (strcmp(s->received, "ping") == 0)
		assert_int_equal(tls_stream_write(ts, "pong", 4), 0);
	else if (strcmp(s->received, "pong") == 0)
		tls_stream_close(ts, 0);
}

static void on_close(struct tls_stream *ts, int status, void *arg)
{
	struct side *s = arg;
	s->closed = true;
	s->close_status = status;
	snprintf(s->error, sizeof(s->error), "%s", tls_stream_error(ts));
}

static const struct tls_stream_ops ops = {on_open, on_data, on_close};

struct setup {
	struct test_pki good;
	struct test_pki other;
	EVP_PKEY *server_key;
	X509 *server_cert;
	EVP_PKEY *client_key;
	X509 *client_cert;
};

static int revoked_check(void *arg, const char *cn, const char *ou)
{
	(void)ou;
	return strcmp(cn, (const char *)arg) == 0 ? -1 : 0;
}

/* Runs one handshake between a server and a client context over a
 * socketpair, and reports both sides. */
static void run_pair(SSL_CTX *server_ctx, SSL_CTX *client_ctx,
		     const char *verify_host, struct side *server,
		     struct side *client)
{
	uv_loop_t loop;
	int fds[2];
	memset(server, 0, sizeof(*server));
	memset(client, 0, sizeof(*client));
	client->is_client = true;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	uv_pipe_t *a = alloc_bytes(sizeof(*a));
	uv_pipe_t *b = alloc_bytes(sizeof(*b));
	uv_pipe_init(&loop, a, 0);
	uv_pipe_init(&loop, b, 0);
	assert_int_equal(uv_pipe_open(a, fds[0]), 0);
	assert_int_equal(uv_pipe_open(b, fds[1]), 0);
	struct tls_stream *s, *c;
	struct tls_stream_params sp = {.server = true};
	struct tls_stream_params cp = {.verify_host = verify_host};
	assert_int_equal(tls_stream_new((uv_stream_t *)a, server_ctx, &sp,
					&ops, server, &s), 0);
	assert_int_equal(tls_stream_new((uv_stream_t *)b, client_ctx, &cp,
					&ops, client, &c), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(server->closed);
	assert_true(client->closed);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static int setup(void **state)
{
	struct setup *st = calloc(1, sizeof(*st));
	test_pki_init(&st->good, "eduwatch test CA");
	test_pki_init(&st->other, "some other CA");
	test_pki_issue(&st->good, 1, "collector", NULL, -60, DAY,
		       &st->server_key, &st->server_cert);
	test_pki_issue(&st->good, 0, "agent-7f3a", "79001", -60, DAY,
		       &st->client_key, &st->client_cert);
	*state = st;
	return 0;
}

static int teardown(void **state)
{
	struct setup *st = *state;
	EVP_PKEY_free(st->server_key);
	X509_free(st->server_cert);
	EVP_PKEY_free(st->client_key);
	X509_free(st->client_cert);
	test_pki_free(&st->good);
	test_pki_free(&st->other);
	free(st);
	return 0;
}

static SSL_CTX *server_ctx(struct setup *st)
{
	SSL_CTX *ctx;
	char err[256];
	assert_int_equal(tls_ctx_new(true, st->good.ca, st->server_cert,
				     st->server_key, true, &ctx, err,
				     sizeof(err)), 0);
	return ctx;
}

static SSL_CTX *client_ctx(X509 *ca, X509 *cert, EVP_PKEY *key)
{
	SSL_CTX *ctx;
	char err[256];
	assert_int_equal(tls_ctx_new(false, ca, cert, key, true, &ctx, err,
				     sizeof(err)), 0);
	return ctx;
}

static void test_mutual_handshake(void **state)
{
	struct setup *st = *state;
	struct side server, client;
	SSL_CTX *sctx = server_ctx(st);
	SSL_CTX *cctx = client_ctx(st->good.ca, st->client_cert, st->client_key);
	run_pair(sctx, cctx, "127.0.0.1", &server, &client);
	assert_true(server.opened);
	assert_true(client.opened);
	/* The server reads the agent id and school code from the cert. */
	assert_string_equal(server.peer_cn, "agent-7f3a");
	assert_string_equal(server.peer_ou, "79001");
	assert_string_equal(client.peer_cn, "collector");
	assert_string_equal(server.received, "ping");
	assert_string_equal(client.received, "pong");
	assert_int_equal(client.close_status, 0);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void expect_failure(SSL_CTX *sctx, SSL_CTX *cctx, const char *host)
{
	struct side server, client;
	run_pair(sctx, cctx, host, &server, &client);
	assert_false(server.opened && client.opened &&
		     strcmp(client.received, "pong") == 0);
	assert_false(server.opened && strcmp(server.received, "ping") == 0);
	assert_true(server.close_status != 0 || client.close_status != 0);
}

static void test_client_from_other_ca(void **state)
{
	struct setup *st = *state;
	EVP_PKEY *key;
	X509 *cert;
	test_pki_issue(&st->other, 0, "agent-7f3a", "79001", -60, DAY, &key,
		       &cert);
	SSL_CTX *sctx = server_ctx(st);
	SSL_CTX *cctx = client_ctx(st->good.ca, cert, key);
	expect_failure(sctx, cctx, "127.0.0.1");
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	EVP_PKEY_free(key);
	X509_free(cert);
}

static void test_tls12_refused(void **state)
{
	struct setup *st = *state;
	SSL_CTX *sctx = server_ctx(st);
	SSL_CTX *cctx = client_ctx(st->good.ca, st->client_cert, st->client_key);
	/* A client that can only speak TLS 1.2. */
	SSL_CTX_set_min_proto_version(cctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION);
	struct side server, client;
	run_pair(sctx, cctx, "127.0.0.1", &server, &client);
	assert_false(server.opened);
	assert_false(client.opened);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void test_expired_client_cert(void **state)
{
	struct setup *st = *state;
	EVP_PKEY *key;
	X509 *cert;
	test_pki_issue(&st->good, 0, "agent-old", "79001", -30 * DAY, -DAY,
		       &key, &cert);
	SSL_CTX *sctx = server_ctx(st);
	SSL_CTX *cctx = client_ctx(st->good.ca, cert, key);
	struct side server, client;
	run_pair(sctx, cctx, "127.0.0.1", &server, &client);
	assert_false(server.opened);
	assert_non_null(strstr(server.error, "expired"));
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	EVP_PKEY_free(key);
	X509_free(cert);
}

static void test_expired_server_cert(void **state)
{
	struct setup *st = *state;
	EVP_PKEY *key;
	X509 *cert;
	SSL_CTX *sctx;
	char err[256];
	test_pki_issue(&st->good, 1, "collector", NULL, -30 * DAY, -DAY, &key,
		       &cert);
	assert_int_equal(tls_ctx_new(true, st->good.ca, cert, key, true, &sctx,
				     err, sizeof(err)), 0);
	SSL_CTX *cctx = client_ctx(st->good.ca, st->client_cert, st->client_key);
	struct side server, client;
	run_pair(sctx, cctx, "127.0.0.1", &server, &client);
	assert_false(client.opened);
	assert_non_null(strstr(client.error, "expired"));
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	EVP_PKEY_free(key);
	X509_free(cert);
}

static void test_revoked_agent(void **state)
{
	struct setup *st = *state;
	SSL_CTX *sctx = server_ctx(st);
	assert_int_equal(tls_ctx_set_peer_check(sctx, revoked_check,
						"agent-7f3a"), 0);
	SSL_CTX *cctx = client_ctx(st->good.ca, st->client_cert, st->client_key);
	struct side server, client;
	run_pair(sctx, cctx, "127.0.0.1", &server, &client);
	assert_false(server.opened);
	assert_non_null(strstr(server.error, "revoked"));
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/* The agent pins the collector's name: a server certificate for another
 * name, or an agent certificate posing as a server, is refused. */
static void test_server_identity(void **state)
{
	struct setup *st = *state;
	SSL_CTX *sctx = server_ctx(st);
	SSL_CTX *cctx = client_ctx(st->good.ca, st->client_cert, st->client_key);
	expect_failure(sctx, cctx, "collector.example.org");
	SSL_CTX_free(sctx);

	SSL_CTX *impostor;
	char err[256];
	assert_int_equal(tls_ctx_new(true, st->good.ca, st->client_cert,
				     st->client_key, true, &impostor, err,
				     sizeof(err)), 0);
	struct side server, client;
	run_pair(impostor, cctx, NULL, &server, &client);
	assert_false(client.opened);
	SSL_CTX_free(impostor);
	SSL_CTX_free(cctx);
}

static void test_csr_roundtrip(void **state)
{
	(void)state;
	EVP_PKEY *key, *pub;
	X509_REQ *req;
	char *pem;
	size_t len;
	assert_int_equal(pki_key_new(&key), 0);
	assert_int_equal(pki_csr_new(key, &req), 0);
	assert_int_equal(pki_csr_to_pem(req, &pem, &len), 0);
	assert_int_equal(pki_csr_parse(pem, len, &pub), 0);
	assert_int_equal(EVP_PKEY_eq(key, pub), 1);
	/* A flipped byte in the body breaks the self-signature. */
	pem[len / 2] = pem[len / 2] == 'A' ? 'B' : 'A';
	EVP_PKEY *bad = NULL;
	assert_int_not_equal(pki_csr_parse(pem, len, &bad), 0);
	assert_null(bad);
	assert_int_not_equal(pki_csr_parse("garbage", 7, &bad), 0);
	alloc_free(pem);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	EVP_PKEY_free(pub);
}

int main(void)
{
	/* A peer may close first; a write then must fail, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mutual_handshake),
		cmocka_unit_test(test_client_from_other_ca),
		cmocka_unit_test(test_tls12_refused),
		cmocka_unit_test(test_expired_client_cert),
		cmocka_unit_test(test_expired_server_cert),
		cmocka_unit_test(test_revoked_agent),
		cmocka_unit_test(test_server_identity),
		cmocka_unit_test(test_csr_roundtrip),
	};
	return cmocka_run_group_tests_name("tls", tests, setup, teardown);
}
