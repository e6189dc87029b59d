/* store_write: the collector's store alone, without TLS or framing: the
 * rows of sqlite_ceiling (tests/support/eventmix) submitted through
 * store_submit() in batches of one agent's events, as ingest does, and
 * committed by the store's writer thread in group commits; every tenth
 * event raises an alert queued for one destination. Then the synchronous
 * path that runs on every TLS handshake, store_agent_allowed().
 *
 * usage: store_write --db FILE [--agents N] [--events M] [--batch 50]
 *                    [--sync full|normal] [--lookups K]
 * prints: events=E seconds=S events_per_sec=X allowed_per_sec=Y */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "collector/store.h"
#include "common/alloc.h"
#include "tests/support/eventmix.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t every_tenth(void *arg, const struct event *ev,
			  struct store_alert *out, size_t max)
{
	(void)arg;
	if (max == 0 || ev->seq % 10 != 0)
		return 0;
	memset(out, 0, sizeof(*out));
	snprintf(out->rule, sizeof(out->rule), "bench");
	snprintf(out->title, sizeof(out->title), "bench %s", ev->kind);
	snprintf(out->category, sizeof(out->category), "bench");
	snprintf(out->kind, sizeof(out->kind), "%s", ev->kind);
	snprintf(out->dedupe_key, sizeof(out->dedupe_key), "%s/%llu",
		 ev->agent, (unsigned long long)ev->seq);
	snprintf(out->agent, sizeof(out->agent), "%s", ev->agent);
	out->severity = 5;
	return 1;
}

static long long committed, failed;

static void on_commit(void *arg, int status, unsigned stored, unsigned dup)
{
	(void)arg;
	if (status != 0)
		failed++;
	committed += stored + dup;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},
		{"agents", required_argument, NULL, 'n'},
		{"events", required_argument, NULL, 'm'},
		{"batch", required_argument, NULL, 'b'},
		{"sync", required_argument, NULL, 's'},
		{"lookups", required_argument, NULL, 'l'},
		{NULL, 0, NULL, 0},
	};
	const char *db_path = NULL, *sync = "full";
	int nagents = 200, events = 500, batch = 50, lookups = 100000, ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': db_path = optarg; break;
		case 'n': nagents = (int)strtol(optarg, NULL, 10); break;
		case 'm': events = (int)strtol(optarg, NULL, 10); break;
		case 'b': batch = (int)strtol(optarg, NULL, 10); break;
		case 's': sync = optarg; break;
		case 'l': lookups = (int)strtol(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (db_path == NULL || nagents < 1 || events < 1 || batch < 1 ||
	    lookups < 0) {
		fprintf(stderr, "usage: store_write --db FILE [--agents N] "
				"[--events M] [--batch B]\n");
		return 2;
	}
	unlink(db_path);
	static const char *const dests[] = {"soc"};
	struct store_options so = {.url = db_path, .cache_bytes = 64 << 20,
				   .batch_max_events = 5000,
				   .sync_full = strcmp(sync, "normal") != 0,
				   .alert_fn = every_tenth,
				   .forward_dests = dests, .nforward_dests = 1};
	uv_loop_t loop;
	struct store *st;
	char err[256];
	uv_loop_init(&loop);
	if (store_open(&so, &loop, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "store_write: %s\n", err);
		return 1;
	}
	struct store_school sc = {.code = "79001", .name = "bench",
				  .commune = "bench", .level = 2};
	if (store_school_add(st, &sc) != 0) {
		fprintf(stderr, "store_write: cannot add the school\n");
		return 1;
	}
	char agent[EVENT_AGENT_MAX + 1];
	for (int a = 0; a < nagents; a++) {
		snprintf(agent, sizeof(agent), "79%03d-%016x", a % 1000,
			 (unsigned)a * 2654435761u);
		if (store_agent_add(st, agent, "79001", "pc", "00") != 0) {
			fprintf(stderr, "store_write: cannot add %s\n", agent);
			return 1;
		}
	}

	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	long long total = (long long)nagents * events;
	double start = now_s();
	/* Agents take turns, one batch each, as their frames arrive. */
	for (int first = 1; first <= events; first += batch) {
		for (int a = 0; a < nagents; a++) {
			int n = first + batch - 1 <= events ? batch
							    : events - first + 1;
			struct store_batch *b = store_batch_new((size_t)n);
			snprintf(agent, sizeof(agent), "79%03d-%016x", a % 1000,
				 (unsigned)a * 2654435761u);
			for (int i = 0; i < n; i++) {
				uint64_t seq = (uint64_t)(first + i);
				struct event ev = {
					.v = EVENT_VERSION,
					.boot = (uint64_t)a * 7919 + 1,
					.seq = seq,
					.ts = eventmix_timestamp(seq),
					.sev = (uint8_t)eventmix_severity(seq)};
				snprintf(ev.agent, sizeof(ev.agent), "%s", agent);
				snprintf(ev.kind, sizeof(ev.kind), "%s",
					 eventmix_kind(seq));
				sb.size = 0;
				eventmix_pack_body(&pk, seq);
				ev.body = alloc_bytes(sb.size);
				memcpy(ev.body, sb.data, sb.size);
				ev.body_len = sb.size;
				if (store_batch_add(b, &ev) != 0)
					abort(); /* sized for the batch */
			}
			store_submit(st, b, on_commit, NULL);
			/* Keep the loop turning, as ingest's does. */
			uv_run(&loop, UV_RUN_NOWAIT);
		}
	}
	while (committed < total)
		uv_run(&loop, UV_RUN_ONCE);
	double seconds = now_s() - start;

	double lstart = now_s();
	int allowed_n = 0;
	for (int i = 0; i < lookups; i++) {
		bool allowed;
		snprintf(agent, sizeof(agent), "79%03d-%016x",
			 (i % nagents) % 1000,
			 (unsigned)(i % nagents) * 2654435761u);
		if (store_agent_allowed(st, agent, &allowed) == 0 && allowed)
			allowed_n++;
	}
	double lseconds = now_s() - lstart;
	long long depth = 0;
	if (store_forward_depth(st, "soc", &depth) != 0)
		depth = -1;
	store_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	msgpack_sbuffer_destroy(&sb);
	printf("events=%lld failed_batches=%lld alerts_queued=%lld "
	       "seconds=%.3f events_per_sec=%.0f allowed=%d "
	       "allowed_per_sec=%.0f\n",
	       committed, failed, depth, seconds, committed / seconds,
	       allowed_n, lookups > 0 ? lookups / lseconds : 0.0);
	return failed == 0 && allowed_n == lookups ? 0 : 1;
}
