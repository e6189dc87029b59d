/* loadgen: simulates N enrolled agents against a real collector over TLS.
 *
 * Each simulated agent has its own key and certificate (enrolled once with
 * a token, then cached in --state), a boot id derived from --boot-seed and
 * its index, and M events with seq 1..M in a realistic mix of kinds and
 * sizes. It keeps up to --window batches in flight, and after any
 * disconnect resends everything from the first unacked seq, as a real agent
 * does from its spool. So the same seed run twice sends exact duplicates,
 * and a collector killed mid-run must still end with every event once.
 *
 * Prints one line of results, or JSON with --json:
 *   agents, events, acked, duplicates, seconds, events_per_sec, p50/p99 ms
 *
 * --hold S keeps every agent connected for S seconds instead (a province
 * at rest: --rate events per agent per second, each agent at its own phase
 * of the period so the population sends evenly), reconnecting with the
 * real agent's full-jitter backoff, and says on stderr when all agents are
 * connected ("all-connected" with the wall clock) and when the first one
 * drops; SIGUSR1 prints the figures so far and starts them afresh.
 * --sources N binds agent i to 127.0.0.(2 + i % N) before connecting:
 * loopback has ~28,000 ephemeral ports per source address.
 *
 * With --rate each agent has a timer of its own set for its next send:
 * one sweep over every agent every 10 ms cost 1.9 million looks a second
 * at 19,000 agents, CPU taken from the collector beside it. */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "common/alloc.h"
#include "common/enroll_client.h"
#include "common/event.h"
#include "common/fsutil.h"
#include "common/pki.h"
#include "common/tls.h"
#include "common/wire.h"
#include "tests/support/eventmix.h"

#define MAX_WINDOW 64

struct frame_sent {
	uint64_t id;
	uint64_t first_seq;
	uint32_t count;
	uint64_t sent_ns;
};

struct sim_agent {
	struct loadgen *lg;
	int index;
	char id[EVENT_AGENT_MAX + 1];
	EVP_PKEY *key;
	X509 *cert;
	uint64_t boot;
	uint64_t next_seq;   /* next seq to send */
	uint64_t acked_upto; /* every seq <= this is acked */
	uint64_t next_frame_id;
	struct frame_sent window[MAX_WINDOW];
	int inflight;
	int head;
	struct tls_stream *ts;
	struct wire_decoder *dec;
	bool ready;	/* hello answered */
	bool finished;
	bool connecting;
	uv_timer_t retry;
	uv_timer_t pace; /* --rate: set for this agent's next send */
	int failures;
	double phase; /* --hold: this agent's offset in the send period, 0..1 */
};

struct loadgen {
	uv_loop_t *loop;
	SSL_CTX *ctx;
	struct sockaddr_storage addr;
	const char *host;
	struct sim_agent *agents;
	int nagents;
	uint64_t events_per_agent;
	int batch;
	int window;
	int connecting;
	int max_connecting;
	int next_to_start;
	int finished;
	uint64_t acked;
	uint64_t duplicates;
	uint64_t reconnects;
	uint64_t *latencies_us;
	size_t nlat, caplat;
	uint64_t start_ns;
	uv_timer_t deadline;
	bool timed_out;
	/* --barrier: nobody sends until every agent said hello, and the clock
	 * starts then, so the rate is steady-state ingest, not handshakes. */
	bool barrier;
	int ready_count;
	uint64_t connect_ns;
	/* --rate: events per second per agent (0: as fast as acks allow),
	 * so a bench can hold a steady load beside what it measures. */
	double rate;
	bool hold;	/* --hold: stay connected until the deadline */
	int sources;	/* --sources: 127.0.0.2 .. 127.0.0.(1 + sources) */
	int connected;	/* --hold: agents whose hello was answered, now */
	int connected_at_deadline;
	uv_signal_t report;
	uint64_t window_acked; /* acks since the last SIGUSR1 report */
	uint64_t window_start_ns;
};

static void start_agent(struct sim_agent *a);
static void start_more(struct loadgen *lg);
static void pump_agent(struct sim_agent *a);

/* A moment the bench compares with its own clock (the collector's kill
 * and restart), so wall-clock seconds, not the loop's monotonic time. */
static void note_wall(struct loadgen *lg, const char *what)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	fprintf(stderr, "loadgen: %s %d agents at %lld.%03ld\n", what,
		lg->connected, (long long)now.tv_sec, now.tv_nsec / 1000000);
}

static void pack_event(msgpack_packer *pk, const struct sim_agent *a,
		       uint64_t seq)
{
	eventmix_pack(pk, a->id, a->boot, seq);
}

static void record_latency(struct loadgen *lg, uint64_t us)
{
	if (lg->nlat == lg->caplat) {
		size_t cap = lg->caplat ? lg->caplat * 2 : 4096;
		uint64_t *p = realloc(lg->latencies_us, cap * sizeof(*p));
		if (p == NULL)
			return;
		lg->latencies_us = p;
		lg->caplat = cap;
	}
	lg->latencies_us[lg->nlat++] = us;
}

static void agent_done(struct sim_agent *a)
{
	struct loadgen *lg = a->lg;
	if (a->finished)
		return;
	a->finished = true;
	lg->finished++;
	if (a->ts)
		tls_stream_close(a->ts, 0);
	if (lg->finished == lg->nagents)
		uv_timer_stop(&lg->deadline);
}

static void send_batch(struct sim_agent *a)
{
	struct loadgen *lg = a->lg;
	uint64_t left = lg->events_per_agent - a->next_seq + 1;
	uint32_t n = left < (uint64_t)lg->batch ? (uint32_t)left : (uint32_t)lg->batch;
	struct wire_out out;
	wire_out_begin(&out, WIRE_EVENTS, 2);
	wire_pack_kv_u64(&out.pk, "id", a->next_frame_id);
	wire_pack_str(&out.pk, "ev");
	msgpack_pack_array(&out.pk, n);
	for (uint32_t i = 0; i < n; i++)
		pack_event(&out.pk, a, a->next_seq + i);
	if (wire_out_finish(&out) != 0) {
		fprintf(stderr, "loadgen: batch too large\n");
		exit(1);
	}
	int slot = (a->head + a->inflight) % MAX_WINDOW;
	a->window[slot] = (struct frame_sent){a->next_frame_id, a->next_seq, n,
					      uv_hrtime()};
	a->inflight++;
	a->next_frame_id++;
	a->next_seq += n;
	/* A failed write fails the stream; its close reconnects. */
	EW_IGNORE(tls_stream_write(a->ts, out.buf.data, out.buf.size));
	wire_out_release(&out);
}

/* --rate: milliseconds until the agent's next event is due (seq n is
 * due at (n - 1 + phase) / rate seconds), 0 when it is due now. */
static uint64_t pace_wait_ms(const struct sim_agent *a)
{
	struct loadgen *lg = a->lg;
	double due_s = ((double)(a->next_seq - 1) + a->phase) / lg->rate;
	double now_s = (double)(uv_hrtime() - lg->start_ns) / 1e9;
	return due_s > now_s ? (uint64_t)((due_s - now_s) * 1000) + 1 : 0;
}

static void on_pace(uv_timer_t *t)
{
	pump_agent(t->data);
}

static void pump_agent(struct sim_agent *a)
{
	struct loadgen *lg = a->lg;
	if (a->acked_upto >= lg->events_per_agent) {
		agent_done(a);
		return;
	}
	while (a->ready && a->ts && a->inflight < lg->window &&
	       a->next_seq <= lg->events_per_agent) {
		uint64_t wait = lg->rate > 0 ? pace_wait_ms(a) : 0;
		if (wait > 0) {
			/* An ack or a hello before then pumps again and
			 * sets it anew; a full window waits for the ack. */
			uv_timer_start(&a->pace, on_pace, wait, 0);
			break;
		}
		send_batch(a);
	}
}

static int on_frame(void *arg, const char *body, size_t len)
{
	struct sim_agent *a = arg;
	struct loadgen *lg = a->lg;
	struct wire_msg msg;
	if (wire_msg_parse(&msg, body, len) != 0)
		return -1;
	if (msg.type == WIRE_HELLO) {
		a->ready = true;
		if (lg->hold) {
			a->failures = 0; /* as the agent resets on hello */
			if (++lg->connected == lg->nagents)
				note_wall(lg, "all-connected");
		}
		if (!lg->barrier || lg->ready_count == lg->nagents) {
			pump_agent(a);
		} else if (++lg->ready_count == lg->nagents) {
			lg->connect_ns = uv_hrtime() - lg->start_ns;
			lg->start_ns = uv_hrtime();
			for (int i = 0; i < lg->nagents; i++)
				pump_agent(&lg->agents[i]);
		}
	} else if (msg.type == WIRE_ACK) {
		uint64_t id = 0, n = 0, dup = 0;
		wire_get_u64(msg.root, "id", &id);
		wire_get_u64(msg.root, "n", &n);
		wire_get_u64(msg.root, "dup", &dup);
		struct frame_sent *f = &a->window[a->head];
		if (a->inflight == 0 || f->id != id) {
			fprintf(stderr, "loadgen: %s: ack %llu out of order\n",
				a->id, (unsigned long long)id);
			wire_msg_release(&msg);
			return -1;
		}
		record_latency(lg, (uv_hrtime() - f->sent_ns) / 1000);
		a->acked_upto = f->first_seq + f->count - 1;
		lg->acked += f->count;
		lg->window_acked += f->count;
		lg->duplicates += dup;
		a->head = (a->head + 1) % MAX_WINDOW;
		a->inflight--;
		a->failures = 0;
		pump_agent(a);
	} else if (msg.type == WIRE_ERROR) {
		char text[256] = "";
		wire_get_str(msg.root, "msg", text, sizeof(text));
		fprintf(stderr, "loadgen: %s: collector error: %s\n", a->id, text);
	}
	wire_msg_release(&msg);
	return 0;
}

static void on_open(struct tls_stream *ts, void *arg)
{
	struct sim_agent *a = arg;
	struct wire_out out;
	a->connecting = false;
	a->lg->connecting--;
	start_more(a->lg);
	wire_out_begin(&out, WIRE_HELLO, 4);
	wire_pack_kv_u64(&out.pk, "v", WIRE_VERSION);
	wire_pack_kv_str(&out.pk, "agent", a->id);
	wire_pack_kv_u64(&out.pk, "boot", a->boot);
	wire_pack_kv_str(&out.pk, "ver", "loadgen");
	if (wire_out_finish(&out) != 0) {
		fprintf(stderr, "loadgen: hello too large\n");
		exit(1);
	}
	/* A failed write fails the stream; its close reconnects. */
	EW_IGNORE(tls_stream_write(ts, out.buf.data, out.buf.size));
	wire_out_release(&out);
}

static void on_data(struct tls_stream *ts, const char *data, size_t len,
		    void *arg)
{
	struct sim_agent *a = arg;
	if (wire_decoder_feed(a->dec, data, len, on_frame, a) != 0)
		tls_stream_close(ts, -EPROTO);
}

/* The agent's own policy (agent/core/uplink.c, schedule_retry): full
 * jitter, 100 ms + a uniform delay below min(5 min, 1 s * 2^attempt),
 * the attempt count reset by a hello; a change there must be mirrored
 * here. Without --hold the old short delays stay, so the throughput
 * sections' figures are comparable across waves. */
static uint64_t retry_delay_ms(const struct sim_agent *a, uint64_t old_ms)
{
	if (!a->lg->hold)
		return old_ms;
	uint64_t ceiling = 1000, cap = 300000;
	for (int i = 1; i < a->failures && ceiling < cap; i++)
		ceiling *= 2;
	if (ceiling > cap)
		ceiling = cap;
	return 100 + (uint64_t)rand() % ceiling;
}

static void on_retry(uv_timer_t *timer)
{
	start_agent(timer->data);
}

static void start_more(struct loadgen *lg)
{
	while (lg->next_to_start < lg->nagents &&
	       lg->connecting < lg->max_connecting)
		start_agent(&lg->agents[lg->next_to_start++]);
}

static void on_close(struct tls_stream *ts, int status, void *arg)
{
	struct sim_agent *a = arg;
	struct loadgen *lg = a->lg;
	(void)ts;
	(void)status;
	a->ts = NULL;
	if (lg->hold && a->ready && lg->connected-- == lg->nagents &&
	    !lg->timed_out)
		note_wall(lg, "first-disconnect");
	a->ready = false;
	wire_decoder_free(a->dec);
	a->dec = NULL;
	if (a->connecting) {
		a->connecting = false;
		lg->connecting--;
	}
	if (!a->finished && !lg->timed_out) {
		/* Resend from the first unacked seq, as the spool would. */
		a->next_seq = a->acked_upto + 1;
		a->inflight = 0;
		a->head = 0;
		lg->reconnects++;
		a->failures++;
		uint64_t backoff = 50u << (a->failures < 6 ? a->failures : 6);
		backoff += (uint64_t)(rand() % 100);
		uv_timer_start(&a->retry, on_retry, retry_delay_ms(a, backoff),
			       0);
	}
	start_more(lg);
}

static const struct tls_stream_ops agent_ops = {on_open, on_data, on_close};

static void free_tcp(uv_handle_t *h)
{
	alloc_free(h);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct sim_agent *a = req->data;
	uv_stream_t *handle = req->handle;
	alloc_free(req);
	if (status < 0) {
		uv_close((uv_handle_t *)handle, free_tcp);
		a->connecting = false;
		a->lg->connecting--;
		a->lg->reconnects++;
		a->failures++;
		wire_decoder_free(a->dec);
		a->dec = NULL;
		uv_timer_start(&a->retry, on_retry,
			       retry_delay_ms(a, 200 + (uint64_t)(rand() % 300)),
			       0);
		start_more(a->lg);
		return;
	}
	struct tls_stream_params p = {.verify_host = a->lg->host,
				      .cert = a->cert,
				      .key = a->key};
	int rc = tls_stream_new(handle, a->lg->ctx, &p, &agent_ops, a, &a->ts);
	if (rc != 0) {
		/* A load generator that cannot make streams measures nothing. */
		fprintf(stderr, "loadgen: TLS stream: %s\n", uv_strerror(rc));
		exit(1);
	}
}

/* Binds to 127.0.(host / 256).(host % 256) with IP_BIND_ADDRESS_NO_PORT:
 * the port is then chosen at connect, per (source, destination), instead
 * of at bind from ports free towards every destination, which ran out and
 * slowed every bind to a search past 20,000 sockets. */
static void bind_source(uv_tcp_t *tcp, int host)
{
	struct sockaddr_in src;
	char ip[32];
	uv_os_fd_t fd;
	int one = 1;
	snprintf(ip, sizeof(ip), "127.0.%d.%d", host / 256, host % 256);
	uv_ip4_addr(ip, 0, &src);
	if (uv_fileno((uv_handle_t *)tcp, &fd) != 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		       sizeof(one)) != 0 ||
	    uv_tcp_bind(tcp, (struct sockaddr *)&src, 0) != 0) {
		fprintf(stderr, "loadgen: cannot bind %s\n", ip);
		exit(1);
	}
}

static void start_agent(struct sim_agent *a)
{
	struct loadgen *lg = a->lg;
	if (a->finished || a->ts != NULL || a->connecting || lg->timed_out)
		return;
	uv_tcp_t *tcp = alloc_bytes(sizeof(*tcp));
	uv_connect_t *req = alloc_bytes(sizeof(*req));
	a->dec = wire_decoder_new();
	uv_tcp_init_ex(lg->loop, tcp, AF_INET);
	if (lg->sources > 0)
		bind_source(tcp, 2 + a->index % lg->sources);
	req->data = a;
	a->connecting = true;
	lg->connecting++;
	if (uv_tcp_connect(req, tcp, (struct sockaddr *)&lg->addr,
			   on_connect) != 0) {
		alloc_free(req);
		uv_close((uv_handle_t *)tcp, free_tcp);
		a->connecting = false;
		lg->connecting--;
		uv_timer_start(&a->retry, on_retry, 500, 0);
	}
}

static void on_deadline(uv_timer_t *timer)
{
	struct loadgen *lg = timer->data;
	lg->timed_out = true;
	lg->connected_at_deadline = lg->connected;
	if (lg->hold)
		fprintf(stderr, "loadgen: held %d agents, %d connected at the "
				"end\n", lg->nagents, lg->connected);
	else
		fprintf(stderr, "loadgen: deadline reached with %d of %d agents "
				"done\n", lg->finished, lg->nagents);
	for (int i = 0; i < lg->nagents; i++) {
		uv_timer_stop(&lg->agents[i].retry);
		uv_timer_stop(&lg->agents[i].pace);
		if (lg->agents[i].ts)
			tls_stream_close(lg->agents[i].ts, 0);
	}
}

static int load_or_enroll(struct sim_agent *a, const char *state,
			  const struct enroll_request *base)
{
	char key_path[1024], cert_path[1024], id_path[1024];
	snprintf(key_path, sizeof(key_path), "%s/agent-%d.key", state, a->index);
	snprintf(cert_path, sizeof(cert_path), "%s/agent-%d.crt", state, a->index);
	snprintf(id_path, sizeof(id_path), "%s/agent-%d.id", state, a->index);
	if (pki_read_key(key_path, &a->key) == 0 &&
	    pki_read_cert(cert_path, &a->cert) == 0 &&
	    pki_cert_identity(a->cert, a->id, sizeof(a->id), NULL, 0) == 0)
		return 0;
	EVP_PKEY_free(a->key);
	X509_free(a->cert);
	a->key = NULL;
	a->cert = NULL;
	struct enroll_request req = *base;
	struct enroll_result res;
	char err[512], host[64];
	snprintf(host, sizeof(host), "loadgen-%d", a->index);
	if (pki_key_new(&a->key) != 0)
		return -1;
	req.key = a->key;
	req.hostname = host;
	if (enroll_client_run(&req, &res, err, sizeof(err)) != 0) {
		fprintf(stderr, "loadgen: enrolling agent %d: %s\n", a->index, err);
		return -1;
	}
	a->cert = res.cert;
	X509_free(res.ca);
	snprintf(a->id, sizeof(a->id), "%s", res.agent);
	if (pki_write_key(key_path, a->key) != 0 ||
	    pki_write_cert(cert_path, a->cert) != 0 ||
	    fs_write_atomic(id_path, a->id, strlen(a->id), 0644) != 0)
		return -1;
	return 0;
}

struct enroll_pool {
	struct loadgen *lg;
	const char *state;
	const struct enroll_request *base;
	uv_mutex_t lock;
	int next;
	int failed;
};

/* Enrollment is one TLS handshake and two commits on the collector; run
 * several at once so 5,000 agents enroll in seconds, not minutes. Twelve:
 * with more, the collector's commits are the queue, not the handshakes. */
static void enroll_worker(void *arg)
{
	struct enroll_pool *pool = arg;
	for (;;) {
		uv_mutex_lock(&pool->lock);
		int i = pool->failed ? pool->lg->nagents : pool->next++;
		uv_mutex_unlock(&pool->lock);
		if (i >= pool->lg->nagents)
			return;
		if (load_or_enroll(&pool->lg->agents[i], pool->state,
				   pool->base) != 0) {
			uv_mutex_lock(&pool->lock);
			pool->failed = 1;
			uv_mutex_unlock(&pool->lock);
		}
	}
}

static int enroll_all(struct loadgen *lg, const char *state,
		      const struct enroll_request *base)
{
	enum { WORKERS = 12 };
	uv_thread_t threads[WORKERS];
	struct enroll_pool pool = {.lg = lg, .state = state, .base = base};
	uv_mutex_init(&pool.lock);
	for (int t = 0; t < WORKERS; t++)
		uv_thread_create(&threads[t], enroll_worker, &pool);
	for (int t = 0; t < WORKERS; t++)
		uv_thread_join(&threads[t]);
	uv_mutex_destroy(&pool.lock);
	return pool.failed ? -1 : 0;
}

static void free_agents(struct loadgen *lg, X509 *ca)
{
	for (int i = 0; i < lg->nagents; i++) {
		EVP_PKEY_free(lg->agents[i].key);
		X509_free(lg->agents[i].cert);
	}
	free(lg->agents);
	X509_free(ca);
}

static int compare_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

static double percentile_ms(uint64_t *lat, size_t n, int pct)
{
	return n ? (double)lat[(n * (size_t)pct) / 100] / 1000.0 : 0;
}

/* SIGUSR1 (--hold): the figures since the last report, as one JSON line
 * on stdout, so a bench can take the steady state before it restarts the
 * collector. */
static void on_report(uv_signal_t *sig, int signum)
{
	struct loadgen *lg = sig->data;
	(void)signum;
	qsort(lg->latencies_us, lg->nlat, sizeof(uint64_t), compare_u64);
	double seconds = (double)(uv_hrtime() - lg->window_start_ns) / 1e9;
	printf("{\"report\":true,\"connected\":%d,\"acked\":%llu,"
	       "\"seconds\":%.3f,\"events_per_sec\":%.0f,\"p50_ms\":%.2f,"
	       "\"p99_ms\":%.2f,\"reconnects\":%llu}\n",
	       lg->connected, (unsigned long long)lg->window_acked, seconds,
	       seconds > 0 ? (double)lg->window_acked / seconds : 0,
	       percentile_ms(lg->latencies_us, lg->nlat, 50),
	       percentile_ms(lg->latencies_us, lg->nlat, 99),
	       (unsigned long long)lg->reconnects);
	fflush(stdout);
	lg->nlat = 0;
	lg->window_acked = 0;
	lg->window_start_ns = uv_hrtime();
}

static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"host", required_argument, NULL, 'H'},
		{"port", required_argument, NULL, 'p'},
		{"enroll-port", required_argument, NULL, 'E'},
		{"ca", required_argument, NULL, 'C'},
		{"token", required_argument, NULL, 'T'},
		{"agents", required_argument, NULL, 'n'},
		{"events", required_argument, NULL, 'm'},
		{"state", required_argument, NULL, 's'},
		{"boot-seed", required_argument, NULL, 'b'},
		{"batch", required_argument, NULL, 'B'},
		{"window", required_argument, NULL, 'w'},
		{"deadline", required_argument, NULL, 'd'},
		{"rate", required_argument, NULL, 'R'},
		{"hold", required_argument, NULL, 'h'},
		{"sources", required_argument, NULL, 'S'},
		{"enroll-only", no_argument, NULL, 'e'},
		{"barrier", no_argument, NULL, 'r'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	const char *host = "127.0.0.1", *ca_file = NULL, *token = NULL,
		   *state = NULL;
	int port = 7443, enroll_port = 7444, nagents = 10, batch = 100,
	    window = 4, deadline_s = 600, hold_s = 0, sources = 0;
	uint64_t events = 1000, seed = 1;
	double pace_rate = 0;
	bool json = false, enroll_only = false, barrier = false;
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'H': host = optarg; break;
		case 'p': port = (int)strtol(optarg, NULL, 10); break;
		case 'E': enroll_port = (int)strtol(optarg, NULL, 10); break;
		case 'C': ca_file = optarg; break;
		case 'T': token = optarg; break;
		case 'n': nagents = (int)strtol(optarg, NULL, 10); break;
		case 'm': events = strtoull(optarg, NULL, 10); break;
		case 's': state = optarg; break;
		case 'b': seed = strtoull(optarg, NULL, 10); break;
		case 'B': batch = (int)strtol(optarg, NULL, 10); break;
		case 'w': window = (int)strtol(optarg, NULL, 10); break;
		case 'd': deadline_s = (int)strtol(optarg, NULL, 10); break;
		case 'R': pace_rate = strtod(optarg, NULL); break;
		case 'h': hold_s = (int)strtol(optarg, NULL, 10); break;
		case 'S': sources = (int)strtol(optarg, NULL, 10); break;
		case 'e': enroll_only = true; break;
		case 'r': barrier = true; break;
		case 'j': json = true; break;
		default:
			fprintf(stderr, "usage: loadgen --ca FILE --state DIR "
					"[--token T] [--agents N] [--events M] ...\n");
			return 2;
		}
	}
	if (ca_file == NULL || state == NULL || nagents < 1 || batch < 1 ||
	    batch > WIRE_MAX_EVENTS_PER_FRAME || window < 1 ||
	    window > MAX_WINDOW || hold_s < 0 || sources < 0 ||
	    sources > 65000 || (hold_s > 0 && pace_rate <= 0)) {
		fprintf(stderr, "loadgen: --ca and --state are required; batch "
				"1..1000, window 1..64, sources 0..65000; "
				"--hold needs --rate\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	mkdir(state, 0700);
	struct loadgen lg = {.host = host, .nagents = nagents, .rate = pace_rate,
			     .events_per_agent = events, .batch = batch,
			     .window = window, .max_connecting = 200,
			     .barrier = barrier, .hold = hold_s > 0,
			     .sources = sources};
	if (lg.hold) {
		deadline_s = hold_s;
		lg.events_per_agent = UINT64_MAX / 2; /* the deadline ends it */
	}
	X509 *ca = NULL;
	char err[512];
	if (pki_read_cert(ca_file, &ca) != 0) {
		fprintf(stderr, "loadgen: cannot read %s\n", ca_file);
		return 1;
	}
	lg.agents = calloc((size_t)nagents, sizeof(*lg.agents));
	struct enroll_request base = {.host = host, .port = enroll_port, .ca = ca,
				      .token = token ? token : "",
				      .version = "loadgen", .timeout_ms = 30000};
	for (int i = 0; i < nagents; i++) {
		struct sim_agent *a = &lg.agents[i];
		a->lg = &lg;
		a->index = i;
		/* Deterministic per (seed, index): reruns send duplicates. */
		a->boot = (seed * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)i * 0xBF58476D1CE4E5B9ull);
		a->boot &= 0x7fffffffffffffffull;
		a->next_seq = 1;
		if (lg.hold)
			a->phase = (double)i / nagents;
	}
	if (enroll_all(&lg, state, &base) != 0) {
		free_agents(&lg, ca);
		return 1;
	}
	if (enroll_only) {
		printf("enrolled %d agents in %s\n", nagents, state);
		free_agents(&lg, ca);
		return 0;
	}
	lg.loop = uv_default_loop();
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&lg.addr) != 0) {
		fprintf(stderr, "loadgen: --host must be an IPv4 address\n");
		return 2;
	}
	if (tls_ctx_new(false, ca, NULL, NULL, false, &lg.ctx, err,
			sizeof(err)) != 0) {
		fprintf(stderr, "loadgen: %s\n", err);
		return 1;
	}
	for (int i = 0; i < nagents; i++) {
		uv_timer_init(lg.loop, &lg.agents[i].retry);
		lg.agents[i].retry.data = &lg.agents[i];
		uv_timer_init(lg.loop, &lg.agents[i].pace);
		lg.agents[i].pace.data = &lg.agents[i];
	}
	uv_timer_init(lg.loop, &lg.deadline);
	lg.deadline.data = &lg;
	uv_timer_start(&lg.deadline, on_deadline, (uint64_t)deadline_s * 1000, 0);
	uv_signal_init(lg.loop, &lg.report);
	lg.report.data = &lg;
	if (lg.hold)
		uv_signal_start(&lg.report, on_report, SIGUSR1);
	lg.start_ns = uv_hrtime();
	lg.window_start_ns = lg.start_ns;
	start_more(&lg);
	while (lg.finished < lg.nagents && !lg.timed_out)
		uv_run(lg.loop, UV_RUN_ONCE);
	double seconds = (double)(uv_hrtime() - lg.start_ns) / 1e9;
	for (int i = 0; i < nagents; i++) {
		uv_close((uv_handle_t *)&lg.agents[i].retry, NULL);
		uv_close((uv_handle_t *)&lg.agents[i].pace, NULL);
	}
	uv_close((uv_handle_t *)&lg.deadline, NULL);
	uv_close((uv_handle_t *)&lg.report, NULL);
	uv_run(lg.loop, UV_RUN_DEFAULT);

	qsort(lg.latencies_us, lg.nlat, sizeof(uint64_t), compare_u64);
	double p50 = percentile_ms(lg.latencies_us, lg.nlat, 50);
	double p99 = percentile_ms(lg.latencies_us, lg.nlat, 99);
	uint64_t total = lg.hold ? lg.acked : (uint64_t)nagents * events;
	/* A hold is complete when nobody was left out at its end. */
	bool complete = lg.hold ? lg.connected_at_deadline == nagents
				: lg.finished == nagents;
	double rate = seconds > 0 ? (double)lg.acked / seconds : 0;
	if (json)
		printf("{\"agents\":%d,\"events\":%llu,\"acked\":%llu,"
		       "\"duplicates\":%llu,\"reconnects\":%llu,\"seconds\":%.3f,"
		       "\"events_per_sec\":%.0f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,"
		       "\"connect_seconds\":%.3f,\"complete\":%s}\n",
		       nagents, (unsigned long long)total,
		       (unsigned long long)lg.acked,
		       (unsigned long long)lg.duplicates,
		       (unsigned long long)lg.reconnects, seconds, rate, p50, p99,
		       (double)lg.connect_ns / 1e9,
		       complete ? "true" : "false");
	else
		printf("agents=%d events=%llu acked=%llu duplicates=%llu "
		       "reconnects=%llu seconds=%.3f events_per_sec=%.0f "
		       "p50_ms=%.2f p99_ms=%.2f complete=%s\n",
		       nagents, (unsigned long long)total,
		       (unsigned long long)lg.acked,
		       (unsigned long long)lg.duplicates,
		       (unsigned long long)lg.reconnects, seconds, rate, p50, p99,
		       complete ? "yes" : "no");
	free_agents(&lg, ca);
	free(lg.latencies_us);
	SSL_CTX_free(lg.ctx);
	uv_loop_close(lg.loop);
	return complete ? 0 : 1;
}
