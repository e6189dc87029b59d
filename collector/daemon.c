/* The running collector: the loop owner behind `eduwatch-collector serve`. */
#include "collector/daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <uv.h>

#include "collector/alert.h"
#include "collector/ca.h"
#include "collector/release.h"
#include "collector/enroll.h"
#include "collector/forward.h"
#include "collector/ingest.h"
#include "collector/policy.h"
#include "collector/report/report.h"
#include "collector/rulepub.h"
#include "collector/score.h"
#include "collector/web/web.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/timeutil.h"
#include "common/tls.h"
#include "common/version.h"

/* How often the daemon looks whether today's snapshot is taken: the
 * daily snapshot lands within this of midnight UTC. */
#define SNAPSHOT_CHECK_MS (15 * 60 * 1000)

/* The daily snapshot, computed on a worker thread so that scoring every
 * school does not hold up ingest; the loop thread reads the result in
 * snapshot_done. */
struct snapshot_job {
	uv_work_t work;
	bool running;
	int rc;
	bool taken;
	char day[11];
	int recorded, drops;
	int drafted, reminded; /* reports drafted, deadline reminders */
	char pruned_day[11];   /* the day snapshot retention last ran */
	long long pruned;      /* rows it removed then; -1: it failed */
	double province;
	char err[512];
};

/* The daemon's scheduled jobs. Collectors sharing one store run each on
 * one of them at a time (store_lead): a silent PC alerted once, a day's
 * snapshot taken once. The name is the job's lock, and the log's. */
enum daemon_job { JOB_SNAPSHOT, JOB_SILENCE, JOB_RELEASES, JOB_COUNT };
static const char *const job_names[JOB_COUNT] = {
	[JOB_SNAPSHOT] = "daily snapshot and report deadlines",
	[JOB_SILENCE] = "silence sweep",
	[JOB_RELEASES] = "release rollout",
};

struct daemon {
	uv_loop_t *loop;
	struct alert_rules rules;
	struct forwarder *forwarders[SETTINGS_FORWARD_MAX];
	uv_timer_t silence_timer;
	uv_timer_t snapshot_timer;
	uv_timer_t release_timer;
	struct snapshot_job snapshot;
	/* Whether this collector ran each job at its last tick; the
	 * snapshot's on the worker thread, the others on the loop's. */
	bool leads[JOB_COUNT];
	bool lead_asked[JOB_COUNT]; /* the first answer is logged too */
	bool close_pending; /* stopping: close the store when nothing uses it */
	bool enroll_live;   /* enrollment work may still use the store */
	bool web_live;	    /* the console may still use the store */
	bool web_lingering; /* a console connection outlived the grace */
	struct web *web;
	char hostname[256];
	char instance[300]; /* hostname:state_dir, the store's instance */
	char bundle_dir[600];
	const struct settings *settings;
	const char *config_path;
	const char *dest_names[SETTINGS_FORWARD_MAX];
	struct store *store;
	struct ingest *ingest;
	struct enroll *enroll;
	SSL_CTX *ingest_ctx;
	SSL_CTX *enroll_ctx;
	struct ca *ca;
	struct signals signals;
	bool stopping;
	char ports_path[600]; /* set once written; removed at exit */
};

void collector_store_options(const struct settings *s,
			     const char *names[SETTINGS_FORWARD_MAX],
			     struct store_options *o)
{
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < s->nforward; i++)
		names[i] = s->forward[i].name;
	o->forward_dests = names;
	o->nforward_dests = s->nforward;
	o->url = s->store_url;
	o->cache_bytes = s->cache_size;
	o->batch_max_events = (int)s->batch_max_events;
	o->sync_full = s->sync_full;
	o->retention_days = (int)s->retention_days;
	o->high_severity_days = (int)s->high_severity_days;
	o->high_severity = (int)s->high_severity;
}

static void log_forward_stats(struct daemon *d)
{
	for (size_t i = 0; i < d->settings->nforward; i++) {
		const char *name = d->settings->forward[i].name;
		struct forward_stats fs;
		long long queued = 0, dead = 0;
		if (d->forwarders[i] == NULL)
			continue;
		forward_get_stats(d->forwarders[i], &fs);
		/* -1 in the log line: the store could not say. */
		if (store_forward_depth(d->store, name, &queued) != 0)
			queued = -1;
		if (store_dead_letter_count(d->store, name, &dead) != 0)
			dead = -1;
		log_info("forward %s: sent=%llu skipped=%llu queued=%lld "
			 "dead_letters=%lld failed_attempts=%llu connects=%llu "
			 "last_error=%s",
			 name, (unsigned long long)fs.sent,
			 (unsigned long long)fs.skipped, queued, dead,
			 (unsigned long long)fs.attempts_failed,
			 (unsigned long long)fs.connects,
			 fs.last_error[0] ? fs.last_error : "-");
	}
}

/* Whether this collector runs job now, with a log line when that
 * changes. A store that cannot say counts as "not now": the job waits for
 * its next tick rather than risk running on two collectors. */
static bool lead_job(struct daemon *d, enum daemon_job job)
{
	bool leading;
	if (store_lead(d->store, job_names[job], &leading) != 0)
		leading = false;
	if (!d->lead_asked[job] || leading != d->leads[job]) {
		d->lead_asked[job] = true;
		d->leads[job] = leading;
		if (leading)
			log_info("collector: this collector runs the %s",
				 job_names[job]);
		else
			log_info("collector: the %s is another collector's "
				 "(or the store is out of reach)",
				 job_names[job]);
	}
	return leading;
}

/* agent.silent: a PC that stopped reporting. */
static void on_silence_timer(uv_timer_t *timer)
{
	struct daemon *d = timer->data;
	size_t raised;
	if (d->store == NULL || !lead_job(d, JOB_SILENCE))
		return;
	int rc = alert_sweep_silence(d->store,
				     alert_rule_for(&d->rules, "agent.silent"),
				     timeutil_now_us(),
				     d->settings->silent_after
					     ? d->settings->silent_after
					     : d->settings->stale_after,
				     &raised);
	if (rc != 0)
		log_warn("collector: silence sweep failed, next one retries: %s",
			 uv_strerror(rc));
}

/* Agent releases move through their rings (release.h). */
static void on_release_timer(uv_timer_t *timer)
{
	struct daemon *d = timer->data;
	/* Without the key the collector cannot sign an upgrade command, so
	 * it never takes the job from the one that can. */
	if (d->store == NULL || !ca_can_sign(d->ca) ||
	    !lead_job(d, JOB_RELEASES))
		return;
	int rc = release_tick(d->store, d->ca, d->settings, timeutil_now_us());
	if (rc != 0 && rc != -ENOTSUP)
		log_warn("collector: release rollout step failed, the next one "
			 "retries: %s", uv_strerror(rc));
}

static void count_drop(void *arg, const struct alert_rule *rule,
		       const char *school, double drop)
{
	struct snapshot_job *j = arg;
	(void)rule, (void)school, (void)drop;
	j->drops++;
}

/* Reports near their deadline are drafted and, past it unsigned, raise a
 * reminder; on the snapshot's worker thread, after it. */
static void report_due(struct daemon *d, struct snapshot_job *j, int64_t now)
{
	const struct settings *s = d->settings;
	struct report_calendar cal;
	const char *dests[SETTINGS_FORWARD_MAX];
	for (size_t i = 0; i < s->nforward; i++)
		dests[i] = s->forward[i].name;
	struct report_options o = {
		.threshold = (double)s->report_threshold,
		.forward_dests = s->nforward,
		.forward_dest_names = dests,
		.unit_name = s->report_unit,
		.now_us = now,
	};
	char err[200];
	j->drafted = j->reminded = 0;
	if (report_calendar_parse(s->report_six_monthly, s->report_annual,
				  (int)s->report_draft_days, &cal, err,
				  sizeof(err)) != 0 ||
	    report_tick(d->store, &cal, &o, &j->drafted, &j->reminded) != 0)
		log_warn("collector: report deadlines: cannot draft or remind");
}

/* Snapshot retention, once a day (the first check of each day), apart
 * from event retention, which the store's writer applies. */
static void snapshot_retention(struct daemon *d, struct snapshot_job *j,
			       int64_t now)
{
	if (strcmp(j->pruned_day, j->day) == 0)
		return;
	snprintf(j->pruned_day, sizeof(j->pruned_day), "%s", j->day);
	if (score_history_prune(d->store, now,
				d->settings->snapshot_retention_days,
				&j->pruned) != 0)
		j->pruned = -1;
}

/* On a worker thread: the store is safe to call from any thread, and the
 * settings and rules are read-only while the loop runs. */
static void snapshot_work(uv_work_t *work)
{
	struct daemon *d = work->data;
	struct snapshot_job *j = &d->snapshot;
	struct policy_set policies;
	struct score_report report;
	int64_t now = timeutil_now_us();
	bool exists = false;
	j->rc = 0;
	j->taken = false;
	j->recorded = j->drops = 0;
	j->drafted = j->reminded = 0;
	j->err[0] = '\0';
	j->pruned = 0;
	/* From the check that today's snapshot exists to its write, under
	 * the job's lock: two collectors never both find the day open. */
	if (!lead_job(d, JOB_SNAPSHOT))
		return;
	score_day(now, j->day);
	snapshot_retention(d, j, now);
	if ((j->rc = score_snapshot_exists(d->store, j->day, &exists)) != 0) {
		snprintf(j->err, sizeof(j->err), "cannot read the snapshots");
		return;
	}
	if (exists) {
		report_due(d, j, now);
		return;
	}
	if ((j->rc = policy_set_load(d->settings->policy_dir, &policies, j->err,
				     sizeof(j->err))) != 0)
		return;
	j->rc = score_compute(d->store, &policies, NULL, now, &report, j->err,
			      sizeof(j->err));
	/* No school yet: nothing to record, and the day stays open. */
	if (j->rc == 0 && report.nschools > 0) {
		j->rc = score_snapshot(d->store, &report,
				       alert_rule_for(&d->rules,
						      "compliance.drop"),
				       j->day, count_drop, j, &j->recorded);
		if (j->rc != 0)
			snprintf(j->err, sizeof(j->err),
				 "cannot write the snapshot");
		j->taken = j->rc == 0;
		j->province = report.province;
	}
	score_report_free(&report);
	policy_set_free(&policies);
	report_due(d, j, now);
}

static void finish_stop(struct daemon *d)
{
	/* A snapshot or an enrollment in flight still uses the store. */
	if (d->store == NULL || d->snapshot.running || d->enroll_live ||
	    d->web_live)
		return;
	/* Commits what is queued; their callbacks find closed connections. */
	store_close(d->store);
	d->store = NULL;
	signals_stop(&d->signals);
	log_info("collector: stopped");
	/* h2o's timers of a lingering connection would keep the loop up. */
	if (d->web_lingering)
		uv_stop(d->loop);
}

static void snapshot_done(uv_work_t *work, int status)
{
	struct daemon *d = work->data;
	struct snapshot_job *j = &d->snapshot;
	j->running = false;
	if (status != 0)
		log_warn("collector: score snapshot not run: %s",
			 uv_strerror(status));
	else if (j->rc != 0)
		log_warn("collector: score snapshot %s failed: %s", j->day,
			 j->err);
	else if (j->taken)
		log_info("collector: snapshot %s: %d scores recorded (province "
			 "%.1f%%), %d compliance drop alert(s)",
			 j->day, j->recorded, j->province, j->drops);
	if (j->pruned < 0)
		log_warn("collector: snapshot retention failed; the next day "
			 "retries");
	else if (j->pruned > 0)
		log_info("collector: snapshot retention: %lld rows older than "
			 "%lld days removed", j->pruned,
			 d->settings->snapshot_retention_days);
	if (j->drafted || j->reminded)
		log_info("collector: reports: %d drafted before their deadline, "
			 "%d overdue reminder(s) raised", j->drafted,
			 j->reminded);
	if (d->close_pending)
		finish_stop(d);
}

static void on_snapshot_timer(uv_timer_t *timer)
{
	struct daemon *d = timer->data;
	if (d->snapshot.running || d->stopping || d->store == NULL)
		return;
	d->snapshot.running = true;
	d->snapshot.work.data = d;
	if (uv_queue_work(d->loop, &d->snapshot.work, snapshot_work,
			  snapshot_done) != 0)
		d->snapshot.running = false;
}

static void on_enroll_stopped(void *arg)
{
	struct daemon *d = arg;
	d->enroll_live = false;
	if (d->close_pending)
		finish_stop(d);
}

static void on_web_stopped(void *arg, int lingering)
{
	struct daemon *d = arg;
	d->web_live = false;
	d->web_lingering = lingering > 0;
	if (d->close_pending)
		finish_stop(d);
}

static void on_ingest_stopped(void *arg)
{
	struct daemon *d = arg;
	ingest_log_stats(d->ingest);
	uv_close((uv_handle_t *)&d->silence_timer, NULL);
	uv_close((uv_handle_t *)&d->snapshot_timer, NULL);
	uv_close((uv_handle_t *)&d->release_timer, NULL);
	log_forward_stats(d);
	for (size_t i = 0; i < d->settings->nforward; i++) {
		forward_stop(d->forwarders[i]);
		d->forwarders[i] = NULL;
	}
	/* Only now may a stop callback close the store: enroll_stop calls
	 * back at once when there is no enrollment (a collector without the
	 * CA key), and the lines above still read the store. */
	struct enroll *en = d->enroll;
	d->enroll = NULL;
	enroll_stop(en, on_enroll_stopped, d);
	if (d->web != NULL) {
		struct web *w = d->web;
		d->web = NULL;
		web_stop(w, on_web_stopped, d);
	}
	d->close_pending = true;
	finish_stop(d);
}

static void on_stop_signal(uv_signal_t *sig, int signum)
{
	struct daemon *d = sig->data;
	char name[32];
	if (d->stopping)
		return;
	d->stopping = true;
	log_info("collector: %s received, draining",
		 signals_name(signum, name, sizeof(name)));
	ingest_stop(d->ingest, on_ingest_stopped, d);
}

static void on_reload(uv_signal_t *sig, int signum)
{
	struct daemon *d = sig->data;
	struct settings fresh;
	char err[512];
	(void)signum;
	if (settings_load(d->config_path, &fresh, err, sizeof(err)) != 0) {
		log_err("collector: reload failed, keeping old settings: %s", err);
		return;
	}
	log_setup("eduwatch-collector", fresh.log_level);
	ingest_log_stats(d->ingest);
	log_forward_stats(d);
	log_info("collector: reloaded %s (log level; other changes need a "
		 "restart)", d->config_path);
}

/* The CA, the TLS contexts, the alert rules and the store. */
static int open_state(struct daemon *d)
{
	char err[512], ca_file[1024], cert_file[1024], key_file[1024];
	const char *dir = d->settings->state_dir;
	struct store_options so;
	ca_path(dir, "ca.crt", ca_file, sizeof(ca_file));
	ca_path(dir, "server.crt", cert_file, sizeof(cert_file));
	ca_path(dir, "server.key", key_file, sizeof(key_file));
	if (ca_load_maybe_signer(dir, &d->ca, err, sizeof(err)) != 0 ||
	    tls_ctx_new_from_files(true, ca_file, cert_file, key_file, true,
				   &d->ingest_ctx, err, sizeof(err)) != 0 ||
	    tls_ctx_new_from_files(true, ca_file, cert_file, key_file, false,
				   &d->enroll_ctx, err, sizeof(err)) != 0) {
		log_err("collector: %s", err);
		return -EINVAL;
	}
	if (!ca_can_sign(d->ca))
		log_warn("collector: running without the CA key (no %s/ca.key): "
			 "agents are verified against ca.crt and served, but "
			 "this collector signs nothing: no enrollment, no "
			 "release rollout, no publishing or report sign-off "
			 "(the collector that holds the key does those)", dir);
	if (alert_rules_load(d->settings->alert_rules, &d->rules, err,
			     sizeof(err)) != 0) {
		log_err("collector: %s", err);
		return -EINVAL;
	}
	collector_store_options(d->settings, d->dest_names, &so);
	/* One collector per state dir on a host: that pair names it across
	 * restarts. */
	gethostname(d->hostname, sizeof(d->hostname) - 1);
	snprintf(d->instance, sizeof(d->instance), "%.40s:%s", d->hostname,
		 d->settings->state_dir);
	so.instance = d->instance;
	so.alert_fn = alert_evaluate;
	so.alert_arg = &d->rules;
	if (store_open(&so, d->loop, &d->store, err, sizeof(err)) != 0) {
		log_err("collector: %s", err);
		return -EIO;
	}
	return 0;
}

static int start_forwarders(struct daemon *d)
{
	char err[512];
	for (size_t i = 0; i < d->settings->nforward; i++) {
		const struct forward_dest *fd = &d->settings->forward[i];
		if (forward_start(d->store, fd, d->hostname, &d->forwarders[i],
				  err, sizeof(err)) != 0) {
			log_err("collector: forward %s: %s", fd->name, err);
			return -EINVAL;
		}
		log_info("collector: forwarding alerts to %s (%s %s)", fd->name,
			 fd->type, fd->address);
	}
	return 0;
}

static int start_listeners(struct daemon *d)
{
	const struct settings *s = d->settings;
	char err[512];
	struct ingest_options io = {
		.host = s->listen,
		.port = (int)s->ingest_port,
		.max_connections = (int)s->max_connections,
		.max_handshakes = (int)s->max_handshakes,
		.handshake_timeout_s = (int)s->handshake_timeout,
		.idle_timeout_s = (int)s->idle_timeout,
		.max_events_per_second = (int)s->max_events_per_second,
		.backlog_high = (size_t)s->backlog_high,
		.stats_interval_s = (int)s->stats_interval,
		.bundle_dir = d->bundle_dir,
	};
	if (ingest_start(d->loop, d->ingest_ctx, d->store, &io, &d->ingest, err,
			 sizeof(err)) != 0) {
		log_err("collector: %s", err);
		return -EIO;
	}
	if (!ca_can_sign(d->ca)) {
		log_info("collector: no enrollment port: enrollment signs each "
			 "new agent's certificate with the CA key, which is on "
			 "another collector (route the enroll port there)");
		return 0;
	}
	if (enroll_start(d->loop, d->enroll_ctx, d->ca, d->store, s->listen,
			 (int)s->enroll_port, &d->enroll, err, sizeof(err)) != 0) {
		log_err("collector: %s", err);
		return -EIO;
	}
	d->enroll_live = true;
	return 0;
}

/* The officers' console, when collector.yaml enables it. */
static int start_web(struct daemon *d)
{
	const struct settings *s = d->settings;
	char err[512], cert[1024], key[1024];
	const char *dests[SETTINGS_FORWARD_MAX];
	const char *sets[SETTINGS_YARA_MAX];
	if (!s->web_enabled)
		return 0;
	for (size_t i = 0; i < s->nforward; i++)
		dests[i] = s->forward[i].name;
	for (size_t i = 0; i < s->nyara_rules; i++)
		sets[i] = s->yara_rules[i];
	if (s->web_cert[0]) {
		snprintf(cert, sizeof(cert), "%s", s->web_cert);
		snprintf(key, sizeof(key), "%s", s->web_key);
	} else {
		ca_path(s->state_dir, "server.crt", cert, sizeof(cert));
		ca_path(s->state_dir, "server.key", key, sizeof(key));
	}
	struct web_options wo = {
		.listen = s->web_listen,
		.port = (int)s->web_port,
		.cert_file = cert,
		.key_file = key,
		.state_dir = s->state_dir,
		.stale_after_s = s->stale_after,
		.policy_dir = s->policy_dir,
		.forward_dests = dests,
		.nforward_dests = s->nforward,
		.report_key = ca_key(d->ca), /* NULL without the key */
		.report_fonts_dir = s->report_fonts_dir,
		.ca = ca_can_sign(d->ca) ? d->ca : NULL,
		.rule_sets = sets,
		.nrule_sets = s->nyara_rules,
		.redteam_grace_s = s->redteam_grace,
	};
	if (web_start(d->loop, d->store, &wo, &d->web, err, sizeof(err)) != 0) {
		log_err("collector: %s", err);
		return -EIO;
	}
	d->web_live = true;
	return 0;
}

/* <state_dir>/ports names the ports the listeners are bound to, one
 * "NAME PORT" a line: with port 0 in the settings the system picks them,
 * and whoever starts the collector (a test, a supervisor) reads them here
 * instead of picking a free port and racing others for it. Written
 * atomically after both listen, so a reader sees all of it or nothing. */
static int write_ports(struct daemon *d)
{
	char text[64], path[sizeof(d->ports_path)];
	/* No enroll line without enrollment: no port for a reader to try. */
	int n = d->enroll == NULL
			? snprintf(text, sizeof(text), "ingest %d\n",
				   ingest_port(d->ingest))
			: snprintf(text, sizeof(text), "ingest %d\nenroll %d\n",
				   ingest_port(d->ingest),
				   enroll_port(d->enroll));
	int len = snprintf(path, sizeof(path), "%s/ports",
			   d->settings->state_dir);
	if (len < 0 || (size_t)len >= sizeof(path))
		return -ENAMETOOLONG;
	int rc = fs_write_atomic(path, text, (size_t)n, 0644);
	if (rc != 0) {
		char buf[128];
		log_err("collector: cannot write %s: %s", path,
			strerror_r(-rc, buf, sizeof(buf)));
		return rc;
	}
	memcpy(d->ports_path, path, (size_t)len + 1);
	return 0;
}

static void start_timers(struct daemon *d)
{
	uv_timer_init(d->loop, &d->silence_timer);
	d->silence_timer.data = d;
	uv_timer_start(&d->silence_timer, on_silence_timer,
		       (uint64_t)d->settings->silence_sweep * 1000,
		       (uint64_t)d->settings->silence_sweep * 1000);
	/* At start too: a collector that was down at midnight catches up,
	 * as the timer unit's Persistent=true did. */
	uv_timer_init(d->loop, &d->snapshot_timer);
	d->snapshot_timer.data = d;
	uv_timer_start(&d->snapshot_timer, on_snapshot_timer, 0,
		       SNAPSHOT_CHECK_MS);
	uv_timer_init(d->loop, &d->release_timer);
	d->release_timer.data = d;
	uv_timer_start(&d->release_timer, on_release_timer,
		       (uint64_t)d->settings->release_tick * 1000,
		       (uint64_t)d->settings->release_tick * 1000);
}

int collector_run(const char *config_path, const struct settings *s)
{
	struct daemon d = {.config_path = config_path, .settings = s};
	int rc;
	signal(SIGPIPE, SIG_IGN);
	/* One descriptor per agent: 60,000 PCs need far more than 1024. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	d.loop = uv_default_loop();
	if ((rc = open_state(&d)) != 0)
		goto done;
	rulepub_dir(s->state_dir, d.bundle_dir, sizeof(d.bundle_dir));
	if ((rc = start_forwarders(&d)) != 0 || (rc = start_listeners(&d)) != 0 ||
	    (rc = start_web(&d)) != 0 || (rc = write_ports(&d)) != 0)
		goto done;
	start_timers(&d);
	/* Without its handlers the collector still dies on SIGTERM (the
	 * default action), only without draining: not worth refusing to
	 * serve for. */
	if ((rc = signals_start(d.loop, &d.signals, &d, on_stop_signal,
				on_reload)) != 0)
		log_err("collector: cannot handle signals, a stop will not "
			"drain: %s", uv_strerror(rc));
	log_info("collector: eduwatch-collector %s serving from %s",
		 EDUWATCH_VERSION, s->state_dir);
	uv_run(d.loop, UV_RUN_DEFAULT);
	rc = 0;
done:
	/* Stale ports would send the next reader to a closed socket. */
	if (d.ports_path[0] != '\0')
		unlink(d.ports_path);
	for (size_t i = 0; i < s->nforward; i++)
		forward_stop(d.forwarders[i]);
	alert_rules_free(&d.rules);
	ingest_free(d.ingest);
	SSL_CTX_free(d.ingest_ctx);
	SSL_CTX_free(d.enroll_ctx);
	ca_free(d.ca);
	if (d.store)
		store_close(d.store);
	uv_run(d.loop, UV_RUN_NOWAIT);
	return rc;
}
