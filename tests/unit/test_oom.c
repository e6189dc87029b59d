/* Out-of-memory sweeps over every open, load and parse entry point, as
 * libuv's test/test-loop-oom.c does: for N = 0, 1, 2, ... the Nth
 * allocation fails (ours, SQLite's and libuv's, through
 * tests/support/oomroute), until the call runs to its end without meeting
 * the failure. Each failing call must return a clean negative errno (a
 * crash is a crash; a leak fails the ASan build through LeakSanitizer),
 * and the same call without injection must then succeed on what the
 * failed one left: a half-opened spool or store must not look corrupt,
 * and stored data must still be there. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>
#include <yara.h>

#include "agent/backup/repo.h"
#include "agent/core/rulestore.h"
#include "agent/core/settings.h"
#include "agent/core/spool.h"
#include "agent/net/iocset.h"
#include "agent/scan/scancache.h"
#include "collector/alert.h"
#include "collector/policy.h"
#include "collector/settings.h"
#include "collector/store.h"
#include "common/alloc.h"
#include "common/bundle.h"
#include "common/event.h"
#include "common/log.h"
#include "common/pki.h"
#include "common/wire.h"
#include "common/yararules.h"
#include "tests/support/oomroute.h"
#include "tests/support/testutil.h"

/* No entry point needs more; a sweep that gets here is a loop. */
#define SWEEP_MAX 200000

static char dir[512];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s", testutil_tempdir("oom"));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	testutil_rmtree(dir);
	return 0;
}

/* Every failure point below this is swept; above it, points are spaced so
 * that one entry point costs at most SWEEP_POINTS runs. The store's open
 * runs ten migrations in 3,000+ allocations, and a full sweep of it is
 * quadratic: five minutes under ASan on a busy machine. The dense head
 * covers the early-exit paths (argument copies, the first handles); the
 * spaced points still land in every migration. EW_OOM_FULL=1 sweeps all
 * (`make chaos` does). */
#define SWEEP_DENSE 128
#define SWEEP_POINTS 600

/* How many allocations `run` makes when none fails. */
static long count_allocations(int (*run)(void *ctx), void *ctx)
{
	const long budget = 1L << 40;
	alloc_fail_after(budget);
	(void)run(ctx);
	return budget - alloc_fail_after(-1);
}

/* The distance between swept points past the dense head, for a call that
 * makes `total` allocations. */
static long sweep_stride(long total)
{
	const char *full = getenv("EW_OOM_FULL");
	if ((full && strcmp(full, "1") == 0) || total <= SWEEP_POINTS)
		return 1;
	return (total - SWEEP_DENSE) / (SWEEP_POINTS - SWEEP_DENSE) + 1;
}

/* Runs `run` with the Nth allocation failing for N = 0, 1, ... (spaced
 * past SWEEP_DENSE when the call is long). Each run builds and tears down
 * what it opens and returns the entry point's status. Returns how many
 * allocations the whole call makes. */
static long sweep(const char *name, int (*run)(void *ctx), void *ctx)
{
	long total = count_allocations(run, ctx);
	long stride = sweep_stride(total);
	long points = 0;
	for (long n = 0; n < SWEEP_MAX;
	     n += n < SWEEP_DENSE ? 1 : stride, points++) {
		alloc_fail_after(n);
		int rc = run(ctx);
		bool fired = alloc_fail_after(-1) < 0;
		if (!fired) {
			/* Every allocation succeeded: so must the call. */
			if (rc != 0)
				fail_msg("%s: failed (%d) with no allocation "
					 "failing", name, rc);
			printf("# %s: %ld allocations, %ld failure points "
			       "swept (stride %ld)\n", name, total, points,
			       stride);
			return total;
		}
		/* A failure may be absorbed (an optional part), never
		 * turned into a success code that is not 0 or a crash. */
		if (rc > 0)
			fail_msg("%s: allocation %ld failed, returned %d", name,
				 n, rc);
		/* What the failed call left must not break the next one. */
		rc = run(ctx);
		if (rc != 0)
			fail_msg("%s: after allocation %ld failed, a clean "
				 "retry failed too (%d)", name, n, rc);
	}
	fail_msg("%s: still failing after %d allocations", name, SWEEP_MAX);
	return -1;
}

/* ---- configuration ------------------------------------------------------ */

static int run_agent_settings(void *ctx)
{
	struct agent_settings s;
	char err[512];
	return agent_settings_load(ctx, &s, err, sizeof(err));
}

static void test_agent_settings_load(void **state)
{
	(void)state;
	char path[600], err[512];
	snprintf(path, sizeof(path), "%s/agent.yaml", dir);
	assert_int_equal(agent_settings_write(path, dir, "127.0.0.1", 7443, 7444,
					      err, sizeof(err)),
			 0);
	assert_true(sweep("agent_settings_load", run_agent_settings, path) > 0);
}

static int run_collector_settings(void *ctx)
{
	struct settings s;
	char err[512];
	return settings_load(ctx, &s, err, sizeof(err));
}

static void test_collector_settings_load(void **state)
{
	(void)state;
	char path[600], err[512];
	snprintf(path, sizeof(path), "%s/collector.yaml", dir);
	assert_int_equal(settings_write_default(path, dir, "rules", err,
						sizeof(err)),
			 0);
	assert_true(sweep("settings_load", run_collector_settings, path) > 0);
}

static int run_policy_load(void *ctx)
{
	struct policy p;
	char err[512];
	int rc = policy_load(ctx, &p, err, sizeof(err));
	if (rc == 0)
		policy_free(&p);
	return rc;
}

static int run_policy_set_load(void *ctx)
{
	struct policy_set set;
	char err[512];
	int rc = policy_set_load(ctx, &set, err, sizeof(err));
	if (rc == 0)
		policy_set_free(&set);
	return rc;
}

static int run_alert_rules_load(void *ctx)
{
	struct alert_rules r;
	char err[512];
	int rc = alert_rules_load(ctx, &r, err, sizeof(err));
	if (rc == 0)
		alert_rules_free(&r);
	return rc;
}

static void test_policy_and_rules_load(void **state)
{
	(void)state;
	assert_true(sweep("policy_load", run_policy_load,
			  "rules/policies/level2.yaml") > 0);
	assert_true(sweep("policy_set_load", run_policy_set_load,
			  "rules/policies") > 0);
	assert_true(sweep("alert_rules_load", run_alert_rules_load,
			  "rules/alerts.yaml") > 0);
}

/* ---- parsers of what arrives -------------------------------------------- */

static const char ioc_text[] =
	"# indicators\n"
	"evil.example.com\n"
	"bad.example.org\n"
	"xn--80ak6aa92e.com\n"
	"192.0.2.7\n"
	"2001:db8::dead\n"
	"c2.example.net\n";

static int run_iocset_parse(void *ctx)
{
	(void)ctx;
	char err[256];
	struct iocset *set = iocset_new();
	if (set == NULL)
		return -ENOMEM;
	int rc = iocset_add_text(set, ioc_text, strlen(ioc_text), err,
				 sizeof(err));
	if (rc == 0 && (!iocset_match_domain(set, "x.evil.example.com", NULL) ||
			iocset_domain_count(set) != 4 ||
			iocset_ip_count(set) != 2))
		rc = -EPROTO; /* a failure absorbed into a wrong set */
	iocset_free(set);
	return rc;
}

static void test_iocset_parse(void **state)
{
	(void)state;
	assert_true(sweep("iocset_add_text", run_iocset_parse, NULL) > 0);
}

static void sample_event(struct event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->v = EVENT_VERSION;
	snprintf(ev->agent, sizeof(ev->agent), "a1");
	ev->boot = 3;
	ev->seq = 9;
	ev->ts = 1700000000000000ULL;
	snprintf(ev->kind, sizeof(ev->kind), "agent.heartbeat");
	ev->sev = 1;
}

/* A frame of one event batch, as an agent sends it. */
static void make_events_frame(struct wire_out *out)
{
	struct event ev;
	sample_event(&ev);
	wire_out_begin(out, WIRE_EVENTS, 2);
	wire_pack_kv_u64(&out->pk, "id", 1);
	wire_pack_str(&out->pk, "events");
	msgpack_pack_array(&out->pk, 2);
	event_pack(&out->pk, &ev);
	ev.seq++;
	event_pack(&out->pk, &ev);
	assert_int_equal(wire_out_finish(out), 0);
}

struct frames {
	int seen;
	int rc;
};

static int on_frame(void *arg, const char *body, size_t len)
{
	struct frames *f = arg;
	struct wire_msg msg;
	int rc = wire_msg_parse(&msg, body, len);
	if (rc != 0) {
		f->rc = rc;
		return rc;
	}
	const msgpack_object *events = wire_map_get(msg.root, "events");
	for (uint32_t i = 0; events && i < events->via.array.size; i++) {
		struct event ev;
		char err[128];
		rc = event_from_msgpack(&events->via.array.ptr[i], &ev, err,
					sizeof(err));
		if (rc != 0) {
			f->rc = rc;
			break;
		}
		event_clear(&ev);
	}
	wire_msg_release(&msg);
	f->seen++;
	return rc;
}

static int run_wire_decode(void *ctx)
{
	const struct wire_out *out = ctx;
	struct frames f = {0};
	struct wire_decoder *dec = wire_decoder_new();
	if (dec == NULL)
		return -ENOMEM;
	/* Twice, in two pieces each, so a partial frame is buffered. */
	int rc = 0;
	for (int k = 0; k < 2 && rc == 0; k++) {
		size_t half = out->buf.size / 2;
		rc = wire_decoder_feed(dec, out->buf.data, half, on_frame, &f);
		if (rc == 0)
			rc = wire_decoder_feed(dec, out->buf.data + half,
					       out->buf.size - half, on_frame,
					       &f);
	}
	wire_decoder_free(dec);
	if (rc == 0 && f.rc != 0)
		rc = f.rc;
	if (rc == 0 && f.seen != 2)
		rc = -EPROTO;
	return rc < 0 ? rc : (rc ? -EPROTO : 0);
}

static void test_wire_decode(void **state)
{
	(void)state;
	struct wire_out out;
	make_events_frame(&out);
	assert_true(sweep("wire_decoder_feed", run_wire_decode, &out) > 0);
	wire_out_release(&out);
}

static int run_event_decode(void *ctx)
{
	const msgpack_sbuffer *sb = ctx;
	struct event ev;
	char err[128];
	int rc = event_decode(sb->data, sb->size, &ev, err, sizeof(err));
	if (rc == 0)
		event_clear(&ev);
	return rc;
}

static void test_event_decode(void **state)
{
	(void)state;
	struct event ev;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	sample_event(&ev);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	event_pack(&pk, &ev);
	assert_true(sweep("event_decode", run_event_decode, &sb) >= 0);
	msgpack_sbuffer_destroy(&sb);
}

/* ---- files and databases ------------------------------------------------ */

#define SPOOL_EVENTS 12

static void count_event(void *arg, const struct event *ev)
{
	(void)ev;
	(*(int *)arg)++;
}

static int run_spool_open(void *ctx)
{
	struct spool *sp = NULL;
	struct spool_open_info info;
	char err[512];
	int rc = spool_open(ctx, 1 << 20, &sp, &info, err, sizeof(err));
	if (rc != 0)
		return rc;
	/* A failed open must never be taken for a corrupt file: that
	 * would move the unsent events aside. */
	int n = 0;
	if (info.recovered_corrupt)
		rc = -EPROTO;
	else if (spool_read(sp, 0, 100, count_event, &n) < 0 ||
		 n != SPOOL_EVENTS)
		rc = -EPROTO;
	spool_close(sp);
	return rc;
}

static void test_spool_open(void **state)
{
	(void)state;
	char path[600], err[512];
	struct spool *sp;
	struct spool_open_info info;
	snprintf(path, sizeof(path), "%s/spool.db", dir);
	assert_int_equal(spool_open(path, 1 << 20, &sp, &info, err, sizeof(err)),
			 0);
	for (int i = 0; i < SPOOL_EVENTS; i++) {
		struct event ev;
		sample_event(&ev);
		assert_int_equal(spool_append(sp, &ev), 0);
	}
	spool_close(sp);
	assert_true(sweep("spool_open", run_spool_open, path) > 0);
}

static int run_store_open_sync(void *ctx)
{
	struct store_options o = {.url = ctx, .cache_bytes = 1 << 20};
	struct store *st = NULL;
	struct store_school sc;
	char err[512];
	int rc = store_open(&o, NULL, &st, err, sizeof(err));
	if (rc != 0)
		return rc;
	/* What was stored before is still there. */
	if (store_school_get(st, "s1", &sc) != 0 ||
	    strcmp(sc.name, "School one") != 0)
		rc = -EPROTO;
	store_close(st);
	return rc;
}

static void on_commit(void *arg, int status, unsigned stored, unsigned dup)
{
	int *result = arg;
	*result = status == 0 && stored + dup == 1 ? 0 : (status ? status : -EPROTO);
}

struct loop_ctx {
	const char *path;
	uv_loop_t loop;
};

/* The daemon's way: a writer thread, libuv handles, one batch. The loop
 * is the caller's and made outside the sweep: libuv's own
 * uv_loop_init aborts when its signal pipe cannot be allocated. */
static int run_store_open_loop(void *arg)
{
	struct loop_ctx *ctx = arg;
	struct store_options o = {.url = ctx->path, .cache_bytes = 1 << 20,
				  .batch_max_events = 100};
	struct store *st = NULL;
	char err[512];
	int rc = store_open(&o, &ctx->loop, &st, err, sizeof(err));
	int committed = 1;
	if (rc == 0) {
		struct store_batch *b = store_batch_new(1);
		struct event ev;
		sample_event(&ev);
		if (b == NULL) {
			rc = -ENOMEM;
		} else {
			int added = store_batch_add(b, &ev);
			assert_int_equal(added, 0);
			store_submit(st, b, on_commit, &committed);
		}
		store_close(st);
	}
	uv_run(&ctx->loop, UV_RUN_DEFAULT);
	if (uv_loop_alive(&ctx->loop))
		fail_msg("store_open: a libuv handle was left open");
	/* A batch the store took gets its callback, whatever happened. */
	if (rc == 0 && committed > 0)
		fail_msg("store: a submitted batch never got its callback");
	if (rc == 0 && committed < 0)
		rc = committed;
	return rc;
}

static void test_store_open(void **state)
{
	(void)state;
	char path[600], err[512];
	struct store *st;
	snprintf(path, sizeof(path), "%s/store.db", dir);
	struct store_options o = {.url = path, .cache_bytes = 1 << 20};
	assert_int_equal(store_open(&o, NULL, &st, err, sizeof(err)), 0);
	struct store_school sc = {.code = "s1", .name = "School one",
				  .commune = "c", .level = 2};
	assert_int_equal(store_school_add(st, &sc), 0);
	store_close(st);
	assert_true(sweep("store_open", run_store_open_sync, path) > 0);
	struct loop_ctx lc = {.path = path};
	assert_int_equal(uv_loop_init(&lc.loop), 0);
	assert_true(sweep("store_open+writer", run_store_open_loop, &lc) > 0);
	assert_int_equal(uv_loop_close(&lc.loop), 0);
}

static int run_scancache_open(void *ctx)
{
	struct scancache *sc = NULL;
	char err[512];
	int rc = scancache_open(ctx, &sc, err, sizeof(err));
	if (rc == 0)
		scancache_close(sc);
	return rc;
}

static void test_scancache_open(void **state)
{
	(void)state;
	char path[600];
	snprintf(path, sizeof(path), "%s/scancache.db", dir);
	assert_true(sweep("scancache_open", run_scancache_open, path) > 0);
}

/* ---- the rule bundle and the backup repository ------------------------- */

/* A real bundle: the project's YARA rules compiled, signed by a test CA,
 * installed where the agent keeps it, beside the pinned CA. */
struct bundle_ctx {
	char state_dir[600];
	char bundle[700];
	EVP_PKEY *pub;
};

static void make_rule_bundle(struct bundle_ctx *bc)
{
	struct test_pki pki;
	char path[700], err[512];
	const char *sources[] = {"rules/yara"};
	YR_RULES *rules = NULL;
	unsigned nrules = 0;
	char *img = NULL, *bundle = NULL;
	size_t img_len = 0, bundle_len = 0;
	test_pki_init(&pki, "OOM test CA");
	snprintf(bc->state_dir, sizeof(bc->state_dir), "%s", dir);
	snprintf(path, sizeof(path), "%s/rules", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	assert_int_equal(pki_write_cert(path, pki.ca), 0);
	assert_int_equal(yararules_compile(sources, 1, &rules, &nrules, err,
					   sizeof(err)),
			 0);
	assert_int_equal(yararules_save(rules, &img, &img_len), 0);
	/* As the collector builds it: the compiled form, then the sources. */
	char *text = NULL;
	size_t text_len = 0;
	assert_int_equal(yararules_join(sources, 1, &text, &text_len, err,
					sizeof(err)),
			 0);
	char *payload = alloc_bytes(img_len + text_len);
	assert_non_null(payload);
	memcpy(payload, img, img_len);
	memcpy(payload + img_len, text, text_len);
	alloc_free(text);
	struct bundle_info info = {.kind = "rules", .version = 7,
				   .created_us = 1, .rules = nrules,
				   .compiled_len = img_len};
	snprintf(info.yara, sizeof(info.yara), "%s", YR_VERSION);
	snprintf(info.sources, sizeof(info.sources), "rules/yara");
	assert_int_equal(bundle_build(pki.ca_key, &info, payload,
				      img_len + text_len, &bundle, &bundle_len),
			 0);
	alloc_free(payload);
	snprintf(bc->bundle, sizeof(bc->bundle), "%s/rules/current.ewb", dir);
	FILE *f = fopen(bc->bundle, "we");
	assert_non_null(f);
	assert_int_equal(fwrite(bundle, 1, bundle_len, f), bundle_len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(EVP_PKEY_up_ref(pki.ca_key), 1);
	bc->pub = pki.ca_key;
	yr_rules_destroy(rules);
	alloc_free(img);
	alloc_free(bundle);
	test_pki_free(&pki);
}

/* What the scanner does with it: verify, unpack, hand to libyara; then
 * what an agent of another libyara version does: compile the sources. */
static int run_rule_bundle_load(void *ctx)
{
	struct bundle_ctx *bc = ctx;
	struct bundle_info info;
	void *raw = NULL;
	size_t raw_len = 0;
	char err[512];
	bool here = false;
	YR_RULES *rules = NULL;
	int rc = bundle_open_file(bc->bundle, bc->pub, &info, &raw, &raw_len,
				  err, sizeof(err));
	if (rc == 0 && (rc = yararules_from_bundle(&info, raw, raw_len, &rules,
						   &here, err,
						   sizeof(err))) == 0)
		yr_rules_destroy(rules);
	snprintf(info.yara, sizeof(info.yara), "0.0.0-another");
	if (rc == 0 && (rc = yararules_from_bundle(&info, raw, raw_len, &rules,
						   &here, err,
						   sizeof(err))) == 0)
		yr_rules_destroy(rules);
	alloc_free(raw);
	return rc;
}

/* What the agent does to know its installed bundle. */
static int run_rulestore_current(void *ctx)
{
	struct bundle_ctx *bc = ctx;
	struct rulestore_current cur;
	char err[512];
	int rc = rulestore_current(bc->state_dir, &cur, err, sizeof(err));
	if (rc == 0 && cur.info.version != 7)
		rc = -EPROTO; /* a failure absorbed into a wrong answer */
	return rc;
}

static void test_rule_bundle_load(void **state)
{
	(void)state;
	struct bundle_ctx bc;
	assert_int_equal(yr_initialize(), ERROR_SUCCESS);
	make_rule_bundle(&bc);
	assert_true(sweep("bundle_open_file+yararules_from_bundle",
			  run_rule_bundle_load, &bc) > 0);
	assert_true(sweep("rulestore_current", run_rulestore_current, &bc) > 0);
	EVP_PKEY_free(bc.pub);
	yr_finalize();
}

static int run_repo_open(void *ctx)
{
	struct repo *r = NULL;
	char err[512];
	int rc = repo_open(ctx, "oom-passphrase-1", &r, err, sizeof(err));
	if (rc == 0)
		repo_close(r);
	return rc;
}

static void test_repo_open(void **state)
{
	(void)state;
	char path[600], err[512];
	struct repo *r = NULL;
	size_t added = 0;
	const uint8_t id[REPO_ID_LEN] = {1};
	snprintf(path, sizeof(path), "%s/repo", dir);
	assert_int_equal(repo_init(path, "oom-passphrase-1", err, sizeof(err)),
			 0);
	/* A pack and its index, so that the open reads one. */
	assert_int_equal(repo_open(path, "oom-passphrase-1", &r, err,
				   sizeof(err)),
			 0);
	assert_int_equal(repo_put(r, id, "chunk", 5, &added, err, sizeof(err)),
			 0);
	assert_int_equal(repo_flush(r, err, sizeof(err)), 0);
	repo_close(r);
	assert_true(sweep("repo_open", run_repo_open, path) > 0);
}

int main(void)
{
	/* Before any SQLite or libuv call: see oomroute.h. */
	if (oomroute_install() != 0) {
		fprintf(stderr, "cannot route SQLite and libuv allocations\n");
		return 1;
	}
	/* Every injected failure is logged where it is met: thousands of
	 * lines that say nothing here. Only worse than errors get through. */
	log_setup("test_oom", (enum log_level)(LOG_LEVEL_ERR - 1));
	/* Thousands of SQLite opens, each with its fsyncs: on tmpfs when
	 * there is one, so the sweep costs CPU, not disk waits. */
	if (getenv("TMPDIR") == NULL && access("/dev/shm", W_OK) == 0)
		setenv("TMPDIR", "/dev/shm", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_agent_settings_load, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_collector_settings_load,
						setup, teardown),
		cmocka_unit_test(test_policy_and_rules_load),
		cmocka_unit_test(test_iocset_parse),
		cmocka_unit_test(test_wire_decode),
		cmocka_unit_test(test_event_decode),
		cmocka_unit_test_setup_teardown(test_spool_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scancache_open, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rule_bundle_load, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_repo_open, setup, teardown),
	};
	return cmocka_run_group_tests_name("oom", tests, NULL, NULL);
}
