/* source_scan: when the agent scans with YARA, and what it reports.
 *
 *   - a full scan of scan.full_paths every scan.full_interval (weekly);
 *   - a quick scan of the hot paths (downloads, desktops, temp) every
 *     scan.quick_interval (daily), as scanplaces.h finds them;
 *   - a scan of each USB drive as it arrives (agent/platform/scanplaces.h:
 *     mounts under scan.usb_mounts on Linux, removable drive letters on
 *     Windows);
 *   - a scan on demand, by a signed "scan" command from the collector.
 * One scan runs at a time at scan.cpu percent of one core, in the idle
 * I/O class; the rest wait in a short queue. The last-run times live in
 * the spool's counters, so a restart does not rescan a PC that finished
 * yesterday.
 *
 * Events: scan.match per matching file (rule names, tags, meta, path,
 * size, SHA-256; never content), scan.error for the first few files that
 * could not be scanned, and scan.summary at the end, with the last full
 * scan's time and how many files found infected still exist: what the
 * collector's "full scan within N days, no open infected file" reads. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "agent/scan/quarantine.h"
#include "agent/core/rulestore.h"
#include "agent/platform/platform.h"
#include "agent/platform/scanplaces.h"
#include "agent/scan/scan.h"
#include "agent/scan/scancache.h"
#include "agent/core/source.h"
#include "agent/scan/scan_settings.h"
#include "common/alloc.h"
#include "common/dynbuf.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/mpmap.h"
#include "common/timeutil.h"
#include "common/wire.h"

#define CHECK_INTERVAL_MS (60 * 1000)
#define QUEUE_MAX 8
#define MAX_SCAN_PATHS 64
#define ERRORS_REPORTED 20
#define INFECTED_MAX 1000
#define NORULES_REPORT_US (3600LL * 1000000)

enum scan_kind { KIND_FULL, KIND_QUICK, KIND_USB, KIND_PATHS };
static const char *const kind_names[] = {"full", "quick", "usb", "paths"};

struct job {
	enum scan_kind kind;
	char paths[MAX_SCAN_PATHS][AGENT_PATH_LEN];
	size_t npaths;
};

struct scanner_src {
	struct source_env env;
	const struct agent_settings *s;
	const struct scan_settings *sc; /* its own (scan_settings.h) */
	uv_timer_t timer;
	struct scanplaces *usb; /* NULL: no removable drives watched */

	struct job queue[QUEUE_MAX];
	size_t qcount;
	struct job current;
	struct scan *scan;
	struct scancache *cache;
	char cache_version[40];
	char rules_version[40];
	unsigned errors_sent;
	int64_t norules_reported_us;
	bool stopping;
	char infected_path[600];
};

static void start_next(struct scanner_src *ss);

/* ---- the infected list ------------------------------------------------------
 * Files that matched a non-drill rule, one path per line; a file leaves
 * the list when it is gone (deleted or quarantined): an officer sees an
 * infection as open until someone dealt with the file. */

static size_t infected_load(struct scanner_src *ss, char (*out)[AGENT_PATH_LEN],
			    size_t cap)
{
	FILE *f = fopen(ss->infected_path, "re");
	size_t n = 0;
	char line[AGENT_PATH_LEN + 2];
	while (f && n < cap && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (platform_path_is_absolute(line))
			snprintf(out[n++], AGENT_PATH_LEN, "%s", line);
	}
	if (f)
		fclose(f);
	return n;
}

static void infected_save(struct scanner_src *ss, char (*list)[AGENT_PATH_LEN],
			  size_t n)
{
	/* Durable like every state file: the score's "infected files still
	 * open" must not come back empty after a power cut. */
	struct dynbuf b;
	dynbuf_init(&b, (size_t)(INFECTED_MAX + 1) * (AGENT_PATH_LEN + 1) + 1);
	for (size_t i = 0; i < n; i++)
		dynbuf_addf(&b, "%s\n", list[i]);
	if (!b.failed &&
	    fs_write_atomic(ss->infected_path, b.data ? b.data : "", b.len,
			    0600) != 0)
		log_warn("scan: cannot save %s", ss->infected_path);
	dynbuf_free(&b);
}

/* Adds or drops one path; returns how many infected files still exist. */
static size_t infected_update(struct scanner_src *ss, const char *add,
			      const char *drop)
{
	char(*list)[AGENT_PATH_LEN] = alloc_zeroed(INFECTED_MAX + 1,
						   AGENT_PATH_LEN);
	if (list == NULL)
		return 0;
	size_t n = infected_load(ss, list, INFECTED_MAX), kept = 0;
	bool present = false;
	for (size_t i = 0; i < n; i++) {
		uv_fs_t req;
		int gone = uv_fs_lstat(NULL, &req, list[i], NULL);
		uv_fs_req_cleanup(&req);
		if ((drop && strcmp(list[i], drop) == 0) || gone != 0)
			continue;
		present |= add && strcmp(list[i], add) == 0;
		memmove(list[kept++], list[i], AGENT_PATH_LEN);
	}
	if (add && !present && kept < INFECTED_MAX && strlen(add) < AGENT_PATH_LEN)
		snprintf(list[kept++], AGENT_PATH_LEN, "%s", add);
	if (add || drop || kept != n)
		infected_save(ss, list, kept);
	alloc_free(list);
	return kept;
}

/* ---- events ------------------------------------------------------------------ */

static bool meta_bool(const msgpack_object *match, const char *key)
{
	const msgpack_object *meta = wire_map_get(match, "meta");
	const msgpack_object *v = meta && meta->type == MSGPACK_OBJECT_MAP
					  ? wire_map_get(meta, key)
					  : NULL;
	return v && v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean;
}

static int meta_severity(const msgpack_object *match)
{
	const msgpack_object *meta = wire_map_get(match, "meta");
	const msgpack_object *v = meta && meta->type == MSGPACK_OBJECT_MAP
					  ? wire_map_get(meta, "severity")
					  : NULL;
	if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= 10)
		return (int)v->via.u64;
	return 8;
}

static void emit_match(struct scanner_src *ss, const struct scan_file *f)
{
	const msgpack_object *ms = f->matches;
	uint32_t n = ms ? ms->via.array.size : 0;
	bool drill = n > 0;
	int sev = 0;
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object *m = &ms->via.array.ptr[i];
		if (m->type != MSGPACK_OBJECT_MAP)
			continue;
		drill &= meta_bool(m, "drill");
		int s = meta_severity(m);
		sev = s > sev ? s : sev;
	}
	/* Quarantine first, so that the match event says what was done. */
	char action[200] = "reported";
	struct quarantine_entry qe = {0};
	if (ss->sc->scan_quarantine && !drill) {
		char qdir[600], rules[256] = "", err[160];
		quarantine_dir(ss->s->state_dir, qdir, sizeof(qdir));
		for (uint32_t i = 0; i < n && strlen(rules) < 200; i++) {
			const char *rule = NULL;
			size_t len = 0;
			if (wire_get_strview(&ms->via.array.ptr[i], "rule", &rule,
					     &len) == 0)
				snprintf(rules + strlen(rules),
					 sizeof(rules) - strlen(rules), "%s%.*s",
					 i ? "," : "", (int)len, rule);
		}
		if (quarantine_file(qdir, f->path, f->sha256, rules, &qe, err,
				    sizeof(err)) == 0)
			snprintf(action, sizeof(action), "quarantined as %s",
				 qe.id);
		else
			snprintf(action, sizeof(action), "quarantine failed: %s",
				 err);
	}
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 8);
	scan_pack_match_head(&pk, f);
	wire_pack_str(&pk, "matches");
	if (ms)
		msgpack_pack_object(&pk, *ms);
	else
		msgpack_pack_array(&pk, 0);
	wire_pack_kv_str(&pk, "scan", kind_names[ss->current.kind]);
	wire_pack_kv_str(&pk, "rules_version", ss->rules_version);
	wire_pack_kv_str(&pk, "action", action);
	agent_emit(ss->env.agent, "scan.match", sev, drill, sb.data, sb.size,
		   NULL);
	msgpack_sbuffer_destroy(&sb);
	if (qe.id[0]) {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 4);
		wire_pack_kv_str(&pk, "path", f->path);
		wire_pack_kv_str(&pk, "id", qe.id);
		wire_pack_kv_str(&pk, "sha256", qe.sha256);
		wire_pack_kv_str(&pk, "rules", qe.rules);
		agent_emit(ss->env.agent, "scan.quarantine", sev, false, sb.data,
			   sb.size, NULL);
		msgpack_sbuffer_destroy(&sb);
	}
	if (!drill)
		infected_update(ss, f->path, NULL);
	log_warn("scan: %s matched (sha256 %s)", f->path, f->sha256);
}

static void emit_error(struct scanner_src *ss, const struct scan_file *f)
{
	if (ss->errors_sent++ >= ERRORS_REPORTED)
		return;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	wire_pack_kv_str(&pk, "path", f->path);
	wire_pack_kv_str(&pk, "reason", f->why);
	wire_pack_kv_str(&pk, "scan", kind_names[ss->current.kind]);
	wire_pack_kv_str(&pk, "rules_version", ss->rules_version);
	agent_emit(ss->env.agent, "scan.error", 4, false, sb.data, sb.size, NULL);
	msgpack_sbuffer_destroy(&sb);
}

static void on_file(void *arg, const struct scan_file *f)
{
	struct scanner_src *ss = arg;
	if (f->verdict == SCAN_MATCH)
		emit_match(ss, f);
	else if (f->verdict == SCAN_ERROR)
		emit_error(ss, f);
}

static void emit_summary(struct scanner_src *ss, const struct scan_totals *t,
			 const char *fatal, int64_t last_full_us)
{
	size_t infected = infected_update(ss, NULL, NULL);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	struct mpmap map;
	mpmap_begin(&map, &pk);
	wire_pack_kv_str(&pk, "kind", kind_names[ss->current.kind]);
	wire_pack_str(&pk, "paths");
	msgpack_pack_array(&pk, (uint32_t)ss->current.npaths);
	for (size_t i = 0; i < ss->current.npaths; i++)
		wire_pack_str(&pk, ss->current.paths[i]);
	wire_pack_kv_u64(&pk, "files", t->seen);
	wire_pack_kv_u64(&pk, "scanned", t->scanned);
	wire_pack_kv_u64(&pk, "cached", t->cached);
	wire_pack_kv_u64(&pk, "matched", t->matched);
	wire_pack_kv_u64(&pk, "skipped", t->skipped);
	wire_pack_kv_u64(&pk, "errors", t->errors);
	wire_pack_kv_u64(&pk, "bytes", t->bytes);
	wire_pack_kv_u64(&pk, "rules", t->rules);
	wire_pack_kv_str(&pk, "rules_version", ss->rules_version);
	wire_pack_kv_u64(&pk, "duration_us",
			 (uint64_t)(timeutil_now_us() - t->started_us));
	wire_pack_kv_u64(&pk, "last_full_us", (uint64_t)last_full_us);
	wire_pack_kv_u64(&pk, "infected_open", infected);
	wire_pack_kv_u64(&pk, "restarts", t->restarts);
	if (fatal)
		wire_pack_kv_str(&pk, "error", fatal);
	mpmap_end(&map);
	agent_emit(ss->env.agent, "scan.summary",
		   fatal ? 5 : infected ? 8 : 0, false, sb.data, sb.size, NULL);
	msgpack_sbuffer_destroy(&sb);
}

/* ---- running scans ----------------------------------------------------------- */

static void on_done(void *arg, const struct scan_totals *t, const char *fatal)
{
	struct scanner_src *ss = arg;
	ss->scan = NULL;
	int64_t now = timeutil_now_us();
	const char *kind = kind_names[ss->current.kind];
	if (fatal == NULL) {
		char key[40];
		snprintf(key, sizeof(key), "scan_last_%s_us", kind);
		agent_counter_set(ss->env.agent, key, now);
	}
	log_info("scan: %s scan %s: %llu files (%llu unchanged), %llu matched, "
		 "%llu errors%s%s",
		 kind, fatal ? "stopped" : "done",
		 (unsigned long long)t->seen, (unsigned long long)t->cached,
		 (unsigned long long)t->matched, (unsigned long long)t->errors,
		 fatal ? ": " : "", fatal ? fatal : "");
	if (!(ss->stopping && fatal && strcmp(fatal, "cancelled") == 0))
		emit_summary(ss, t, fatal,
			     agent_counter_get(ss->env.agent,
					       "scan_last_full_us"));
	if (!ss->stopping)
		start_next(ss);
}

/* The cache follows the bundle: a new version drops every old verdict. */
static void sync_cache(struct scanner_src *ss, const char *version)
{
	char err[256];
	if (ss->cache == NULL) {
		char path[700];
		snprintf(path, sizeof(path), "%s/scancache.db", ss->s->state_dir);
		if (scancache_open(path, &ss->cache, err, sizeof(err)) != 0) {
			log_warn("scan: %s; scanning without a cache", err);
			return;
		}
	}
	if (strcmp(ss->cache_version, version) != 0) {
		long long dropped = scancache_retain(ss->cache, version);
		if (dropped > 0)
			log_info("scan: rules are now %s; %lld cached verdicts "
				 "dropped", version, dropped);
		snprintf(ss->cache_version, sizeof(ss->cache_version), "%s",
			 version);
	}
}

static void start_next(struct scanner_src *ss)
{
	if (ss->scan || ss->qcount == 0 || ss->stopping)
		return;
	ss->current = ss->queue[0];
	memmove(&ss->queue[0], &ss->queue[1], (ss->qcount - 1) * sizeof(ss->queue[0]));
	ss->qcount--;
	ss->errors_sent = 0;

	char err[512];
	struct rulestore_current cur;
	if (rulestore_current(ss->s->state_dir, &cur, err, sizeof(err)) != 0) {
		/* Nothing to scan with yet: the collector pushes a bundle after
		 * enrollment. Said once per attempt, as a summary. */
		struct scan_totals t = {.started_us = timeutil_now_us()};
		snprintf(ss->rules_version, sizeof(ss->rules_version), "none");
		log_warn("scan: %s scan not run: %s", kind_names[ss->current.kind],
			 err);
		/* The schedule asks again every minute: tell the collector
		 * once an hour, not sixty times. */
		if (t.started_us - ss->norules_reported_us > NORULES_REPORT_US) {
			ss->norules_reported_us = t.started_us;
			emit_summary(ss, &t, err,
				     agent_counter_get(ss->env.agent,
						       "scan_last_full_us"));
		}
		start_next(ss);
		return;
	}
	snprintf(ss->rules_version, sizeof(ss->rules_version), "%s",
		 cur.version_key);
	sync_cache(ss, cur.version_key);
	const char *paths[MAX_SCAN_PATHS], *excludes[AGENT_PATHS_MAX];
	for (size_t i = 0; i < ss->current.npaths; i++)
		paths[i] = ss->current.paths[i];
	for (size_t i = 0; i < ss->sc->scan_n_excludes; i++)
		excludes[i] = ss->sc->scan_excludes[i];
	struct scan_request req = {
		.paths = paths,
		.npaths = ss->current.npaths,
		.excludes = excludes,
		.nexcludes = ss->sc->scan_n_excludes,
		.bundle = cur.path,
		.ca = cur.ca,
		.rules_version = cur.version_key,
		.jobs = (int)ss->sc->scan_jobs,
		.cpu_pct = (int)ss->sc->scan_cpu,
		.idle = true,
		.max_size = ss->sc->scan_max_file_size,
		.timeout_s = (int)ss->sc->scan_timeout,
		.cache = ss->cache,
	};
	static const struct scan_ops ops = {on_file, on_done};
	log_info("scan: %s scan of %zu path(s) with %s (%llu rules)",
		 kind_names[ss->current.kind], ss->current.npaths,
		 cur.version_key, (unsigned long long)cur.info.rules);
	int rc = scan_start(ss->env.loop, &req, &ops, ss, &ss->scan);
	if (rc != 0) {
		log_err("scan: cannot start: %s", uv_strerror(rc));
		ss->scan = NULL;
	}
}

static bool enqueue(struct scanner_src *ss, const struct job *job)
{
	if (job->npaths == 0)
		return false;
	for (size_t i = 0; i < ss->qcount; i++)
		if (ss->queue[i].kind == job->kind && job->kind != KIND_USB &&
		    job->kind != KIND_PATHS)
			return true; /* already waiting */
	if (ss->qcount >= QUEUE_MAX) {
		log_warn("scan: queue full; %s scan dropped",
			 kind_names[job->kind]);
		return false;
	}
	ss->queue[ss->qcount++] = *job;
	start_next(ss);
	return true;
}

static void make_job(const struct scanner_src *ss, enum scan_kind kind,
		     struct job *job)
{
	memset(job, 0, sizeof(*job));
	job->kind = kind;
	if (kind == KIND_FULL)
		job->npaths = scanplaces_full(ss->sc, job->paths,
					      MAX_SCAN_PATHS);
	else
		job->npaths = scanplaces_quick(ss->sc, job->paths,
					       MAX_SCAN_PATHS);
}

static void check_schedule(struct scanner_src *ss)
{
	int64_t now = timeutil_now_us();
	struct {
		enum scan_kind kind;
		const char *counter;
		long long interval_s;
	} plan[] = {
		{KIND_FULL, "scan_last_full_us", ss->sc->scan_full_interval},
		{KIND_QUICK, "scan_last_quick_us", ss->sc->scan_quick_interval},
	};
	for (size_t i = 0; i < 2; i++) {
		long long last = agent_counter_get(ss->env.agent, plan[i].counter);
		if (now - last < plan[i].interval_s * 1000000LL)
			continue;
		struct job job;
		make_job(ss, plan[i].kind, &job);
		enqueue(ss, &job);
	}
}

static void on_timer(uv_timer_t *t)
{
	check_schedule(t->data);
}

/* ---- USB drives ----------------------------------------------------------------- */

static void on_usb_arrival(void *arg, const char *root)
{
	struct job job = {.kind = KIND_USB, .npaths = 1};
	snprintf(job.paths[0], AGENT_PATH_LEN, "%s", root);
	enqueue(arg, &job);
}

/* ---- the source ------------------------------------------------------------------ */

static int scan_init(const struct source_env *env, void **state)
{
	*state = NULL;
	if (!((const struct scan_settings *)env->config)->scan_enabled)
		return 0;
	struct scanner_src *ss = alloc_zeroed(1, sizeof(*ss));
	if (ss == NULL)
		return -ENOMEM;
	ss->env = *env;
	ss->s = env->settings;
	ss->sc = env->config;
	snprintf(ss->infected_path, sizeof(ss->infected_path), "%s/infected.txt",
		 ss->s->state_dir);
	*state = ss;
	return 0;
}

static int scan_start_src(void *state)
{
	struct scanner_src *ss = state;
	uv_timer_init(ss->env.loop, &ss->timer);
	ss->timer.data = ss;
	/* The first look waits a minute: a PC just booted has better things
	 * to do, and the uplink connects first. */
	uv_timer_start(&ss->timer, on_timer, CHECK_INTERVAL_MS, CHECK_INTERVAL_MS);
	int rc = scanplaces_watch(ss->env.loop, ss->sc, on_usb_arrival, ss,
				  &ss->usb);
	if (rc != 0)
		log_warn("scan: removable drives not watched: %s",
			 uv_strerror(rc));
	return 0;
}

static void scan_stop(void *state)
{
	struct scanner_src *ss = state;
	ss->stopping = true;
	uv_close((uv_handle_t *)&ss->timer, NULL);
	scanplaces_unwatch(ss->usb);
	ss->usb = NULL;
	if (ss->scan)
		scan_cancel(ss->scan);
}

static void scan_free(void *state)
{
	struct scanner_src *ss = state;
	scancache_close(ss->cache);
	alloc_free(ss);
}

/* "scan" {kind: quick|full|paths, paths: [...]} */
static int scan_command(void *state, const char *type,
			const msgpack_object *args, char *result, size_t cap)
{
	struct scanner_src *ss = state;
	char kind[16] = "quick";
	(void)type;
	if (args)
		wire_get_str(args, "kind", kind, sizeof(kind));
	struct job job;
	if (strcmp(kind, "full") == 0 || strcmp(kind, "quick") == 0) {
		make_job(ss, strcmp(kind, "full") == 0 ? KIND_FULL : KIND_QUICK,
			 &job);
	} else if (strcmp(kind, "paths") == 0) {
		const msgpack_object *ps = args ? wire_map_get(args, "paths") : NULL;
		memset(&job, 0, sizeof(job));
		job.kind = KIND_PATHS;
		for (uint32_t i = 0; ps && ps->type == MSGPACK_OBJECT_ARRAY &&
				     i < ps->via.array.size &&
				     job.npaths < MAX_SCAN_PATHS;
		     i++) {
			const msgpack_object *p = &ps->via.array.ptr[i];
			if (p->type == MSGPACK_OBJECT_STR &&
			    p->via.str.size < AGENT_PATH_LEN && p->via.str.size) {
				char path[AGENT_PATH_LEN];
				snprintf(path, sizeof(path), "%.*s",
					 (int)p->via.str.size, p->via.str.ptr);
				if (strlen(path) == p->via.str.size &&
				    platform_path_is_absolute(path))
					snprintf(job.paths[job.npaths++],
						 AGENT_PATH_LEN, "%s", path);
			}
		}
	} else {
		snprintf(result, cap, "unknown scan kind '%s'", kind);
		return -EINVAL;
	}
	if (!enqueue(ss, &job)) {
		snprintf(result, cap, "%s scan not queued (no paths, or the "
			 "queue is full)", kind);
		return -EBUSY;
	}
	snprintf(result, cap, "%s scan of %zu path(s) queued", kind, job.npaths);
	return 0;
}

static const char *const scan_commands[] = {"scan", NULL};

const struct source_ops source_scan = {
	.name = "scan",
	.init = scan_init,
	.start = scan_start_src,
	.stop = scan_stop,
	.free = scan_free,
	.command = scan_command,
	.command_types = scan_commands,
};
