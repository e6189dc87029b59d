#include "agent/scan/scancli.h"
#include "agent/core/sources.h"
#include "agent/scan/scan_settings.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "agent/core/rulestore.h"
#include "agent/scan/scan.h"
#include "agent/scan/scancache.h"
#include "common/jsonout.h"
#include "common/log.h"
#include "common/textsafe.h"
#include "common/timeutil.h"
#include "common/wire.h"
#include "common/yararules.h"

#define EXIT_MATCHES 5

struct run {
	const struct scancli_options *o;
	struct scan *scan;
	uv_timer_t progress;
	bool tty;
	bool progress_shown;
	struct scan_totals totals;
	char fatal[512];
	bool finished;
};

static void clear_progress(struct run *r)
{
	if (r->progress_shown) {
		fputs("\r\033[K", stderr);
		r->progress_shown = false;
	}
}

static const char *verdict_name(enum scan_verdict v)
{
	switch (v) {
	case SCAN_MATCH: return "match";
	case SCAN_SKIPPED: return "skipped";
	case SCAN_ERROR: return "error";
	default: return "clean";
	}
}

static void print_rule_names(const msgpack_object *ms)
{
	for (uint32_t i = 0; ms && i < ms->via.array.size; i++) {
		const msgpack_object *m = &ms->via.array.ptr[i];
		const char *rule = NULL;
		size_t len = 0;
		if (m->type == MSGPACK_OBJECT_MAP &&
		    wire_get_strview(m, "rule", &rule, &len) == 0)
		{
			fputs(i ? "," : "", stdout);
			textsafe_fwrite(stdout, rule, len);
		}
	}
}

static void on_file(void *arg, const struct scan_file *f)
{
	struct run *r = arg;
	if (f->verdict == SCAN_SKIPPED && !r->o->verbose && !r->o->json)
		return;
	clear_progress(r);
	if (r->o->json) {
		printf("{\"path\":");
		json_print_string(stdout, f->path);
		printf(",\"verdict\":\"%s\",\"size\":%llu",
		       verdict_name(f->verdict), (unsigned long long)f->size);
		if (f->why && f->why[0]) {
			printf(",\"reason\":");
			json_print_string(stdout, f->why);
		}
		if (f->verdict == SCAN_MATCH) {
			printf(",\"sha256\":\"%s\",\"matches\":", f->sha256);
			if (f->matches)
				json_print_msgpack(stdout, f->matches);
			else
				printf("[]");
		}
		printf("}\n");
	} else if (f->verdict == SCAN_MATCH) {
		/* A file name is anyone's choice: escaped, a newline in it
		 * cannot forge a line nor an ESC repaint the terminal. */
		fputs("MATCH  ", stdout);
		textsafe_fputs(stdout, f->path);
		fputs("  ", stdout);
		print_rule_names(f->matches);
		printf("  sha256:%s\n", f->sha256);
	} else {
		fputs(f->verdict == SCAN_ERROR ? "ERROR  " : "SKIP   ", stdout);
		textsafe_fputs(stdout, f->path);
		fputs(": ", stdout);
		textsafe_fputs(stdout, f->why);
		fputc('\n', stdout);
	}
	fflush(stdout);
}

static void on_done(void *arg, const struct scan_totals *t, const char *fatal)
{
	struct run *r = arg;
	r->totals = *t;
	r->finished = true;
	if (fatal)
		snprintf(r->fatal, sizeof(r->fatal), "%s", fatal);
	uv_close((uv_handle_t *)&r->progress, NULL);
}

static void on_progress(uv_timer_t *t)
{
	struct run *r = t->data;
	struct scan_totals tt;
	if (r->finished)
		return;
	scan_get_totals(r->scan, &tt);
	double secs = (double)(timeutil_now_us() - tt.started_us) / 1e6;
	fprintf(stderr,
		"\r\033[K%llu files, %.1f MB, %.1f MB/s, %llu unchanged, "
		"%llu matched, %llu skipped, %llu errors%s",
		(unsigned long long)(tt.scanned + tt.cached),
		(double)tt.bytes / 1e6, secs > 0 ? (double)tt.bytes / 1e6 / secs : 0,
		(unsigned long long)tt.cached, (unsigned long long)tt.matched,
		(unsigned long long)tt.skipped, (unsigned long long)tt.errors,
		tt.walking ? "" : " (finishing)");
	r->progress_shown = true;
}

static void print_summary(const struct run *r, const char *version,
			  double secs)
{
	const struct scan_totals *t = &r->totals;
	if (r->o->json) {
		printf("{\"summary\":{\"files\":%llu,\"scanned\":%llu,"
		       "\"cached\":%llu,\"matched\":%llu,\"skipped\":%llu,"
		       "\"errors\":%llu,\"bytes\":%llu,\"rules\":%u,"
		       "\"rules_version\":",
		       (unsigned long long)t->seen, (unsigned long long)t->scanned,
		       (unsigned long long)t->cached,
		       (unsigned long long)t->matched,
		       (unsigned long long)t->skipped,
		       (unsigned long long)t->errors,
		       (unsigned long long)t->bytes, t->rules);
		json_print_string(stdout, version);
		printf(",\"restarts\":%u,\"seconds\":%.3f,\"error\":",
		       t->restarts, secs);
		if (r->fatal[0])
			json_print_string(stdout, r->fatal);
		else
			printf("null");
		printf("}}\n");
		return;
	}
	printf("scanned %llu files (%.1f MB) in %.1f s; %llu unchanged since "
	       "their last scan; %llu matched, %llu skipped, %llu errors; "
	       "%u rules (%s)\n",
	       (unsigned long long)t->scanned, (double)t->bytes / 1e6, secs,
	       (unsigned long long)t->cached, (unsigned long long)t->matched,
	       (unsigned long long)t->skipped, (unsigned long long)t->errors,
	       t->rules, version);
}

int scancli_run(const struct scancli_options *o)
{
	const struct agent_settings *s = o->settings;
	const struct scan_settings *sc =
		s ? agent_settings_for(s, &scan_config) : NULL;
	struct rulestore_current cur;
	char err[512], version[80];
	struct scan_request req = {
		.paths = o->paths,
		.npaths = o->npaths,
		.jobs = o->jobs,
		.cpu_pct = o->cpu,
		.max_size = sc ? sc->scan_max_file_size : 64LL << 20,
		.timeout_s = s ? (int)sc->scan_timeout : 60,
	};
	if (req.jobs <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		req.jobs = n < 1 ? 1 : n > 4 ? 4 : (int)n;
	}
	if (o->nrules > 0) {
		char hex[65];
		if (yararules_digest(o->rules, o->nrules, hex, err, sizeof(err)) !=
		    0) {
			fprintf(stderr, "eduwatch-agent: %s\n", err);
			return 3;
		}
		snprintf(version, sizeof(version), "src-%.16s", hex);
		req.rule_paths = o->rules;
		req.nrule_paths = o->nrules;
	} else if (s == NULL) {
		fprintf(stderr, "eduwatch-agent: no agent.yaml, so no installed "
				"bundle: give --rules FILE|DIR\n");
		return 3;
	} else if (rulestore_current(s->state_dir, &cur, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-agent: %s; give --rules FILE|DIR\n",
			err);
		return 3;
	} else {
		snprintf(version, sizeof(version), "%s", cur.version_key);
		req.bundle = cur.path;
		req.ca = cur.ca;
	}
	req.rules_version = version;

	/* The agent's own cache when there is one and we may write it; a
	 * scan without it is only slower. */
	struct scancache *cache = NULL;
	if (s && !o->no_cache) {
		char path[700];
		snprintf(path, sizeof(path), "%s/scancache.db", s->state_dir);
		if (scancache_open(path, &cache, err, sizeof(err)) != 0)
			fprintf(stderr, "eduwatch-agent: %s; scanning without "
					"the cache\n",
				err);
	}
	req.cache = cache;
	if (s) {
		static const char *ex[AGENT_PATHS_MAX];
		for (size_t i = 0; i < sc->scan_n_excludes; i++)
			ex[i] = sc->scan_excludes[i];
		req.excludes = ex;
		req.nexcludes = sc->scan_n_excludes;
	}

	uv_loop_t loop;
	uv_loop_init(&loop);
	struct run r = {.o = o, .tty = isatty(STDERR_FILENO) && !o->json};
	int64_t t0 = timeutil_now_us();
	static const struct scan_ops ops = {on_file, on_done};
	int rc = scan_start(&loop, &req, &ops, &r, &r.scan);
	if (rc != 0) {
		fprintf(stderr, "eduwatch-agent: cannot start the scan: %s\n",
			uv_strerror(rc));
		scancache_close(cache);
		uv_loop_close(&loop);
		return 1;
	}
	uv_timer_init(&loop, &r.progress);
	r.progress.data = &r;
	if (r.tty)
		uv_timer_start(&r.progress, on_progress, 250, 250);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	scancache_close(cache);
	clear_progress(&r);
	print_summary(&r, version, (double)(timeutil_now_us() - t0) / 1e6);
	if (r.fatal[0]) {
		fprintf(stderr, "eduwatch-agent: scan failed: %s\n", r.fatal);
		return 1;
	}
	return r.totals.matched ? EXIT_MATCHES : 0;
}
