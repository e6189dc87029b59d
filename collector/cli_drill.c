/* cli_drill: incident drill campaigns (issue 19).
 *
 * A campaign is planned by an organiser, approved by a second person
 * with the province_admin role, then started: every PC in its scope gets
 * a signed command that expires with the campaign's window. Abort sends
 * a signed drill.abort to every PC that got the injection. The store
 * refuses an approval by the organiser and any change to a finished
 * campaign, so the rules hold even for a caller that skips this file. */
#include "collector/agentcmd.h"
#include "collector/cli.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/drill/drill_scenario.h"
#include "collector/drill/drill_timeline.h"
#include "common/alloc.h"
#include "common/jsonout.h"
#include "common/textsafe.h"
#include "common/timeutil.h"

#define DRILL_TARGETS_MAX 100000

static const char *drill_name(const struct cli *cli)
{
	return cli->nnames > 0 ? cli->names[0] : NULL;
}

int cmd_drill_check(const struct cli *cli)
{
	if (cli->argc < 2)
		return cli_usage_error("drill needs plan, approve, start, abort "
				       "or status");
	return cli_usage_error("unknown drill command '%s'", cli->argv[1]);
}

int cmd_drill_args_check(const struct cli *cli)
{
	const char *sub = cli->argv[1];
	const char *name = drill_name(cli);
	if (name == NULL || name[0] == '\0')
		return cli_usage_error("drill %s needs --name", sub);
	if (strlen(name) > STORE_DRILL_NAME_MAX || !textsafe_is_clean(name,
								   strlen(name)))
		return cli_usage_error("--name: at most %d printable "
				       "characters", STORE_DRILL_NAME_MAX);
	bool needs_by = strcmp(sub, "status") != 0 && strcmp(sub, "start") != 0;
	if (needs_by && (cli->by == NULL || cli->by[0] == '\0'))
		return cli_usage_error("drill %s needs --by USER (a console "
				       "account)", sub);
	if (strcmp(sub, "plan") == 0) {
		long long s;
		if (cli->type == NULL)
			return cli_usage_error("drill plan needs --type "
					       "SCENARIO (rules/drills/*.yaml)");
		if ((cli->school == NULL) == (cli->commune == NULL))
			return cli_usage_error("drill plan needs one scope: "
					       "--school CODE or --commune NAME");
		if (cli->expires == NULL ||
		    config_parse_duration(cli->expires, &s) != 0 || s < 1 ||
		    s > 7LL * 86400)
			return cli_usage_error("drill plan needs --expires: the "
					       "window, a duration up to 7d (the agents' limit on a command's life)");
	}
	return 0;
}

static int open_user(struct store *st, const char *name,
		     struct store_user *u)
{
	int rc = store_user_get(st, name, u);
	if (rc == -ENOENT || (rc == 0 && u->disabled)) {
		fprintf(stderr, "eduwatch-collector: no active console account "
			"'%s'\n", name);
		return EXIT_NOT_FOUND;
	}
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: cannot read account '%s'\n",
			name);
		return EXIT_FAILURE_RUNTIME;
	}
	return 0;
}

static int load_campaign(struct store *st, const char *name,
			 struct store_drill *d)
{
	char safe[SAFE_CAP(STORE_DRILL_NAME_MAX)];
	int rc = store_drill_get(st, name, d);
	if (rc == -ENOENT) {
		fprintf(stderr, "eduwatch-collector: no drill campaign '%s'\n",
			SAFE(safe, name));
		return EXIT_NOT_FOUND;
	}
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: cannot read the drill "
			"campaigns\n");
		return EXIT_FAILURE_RUNTIME;
	}
	return 0;
}

/* rules/drills beside the policies the settings name. */
static void drills_dir(const struct cli *cli, const struct settings *s,
		       char *out, size_t cap)
{
	if (cli->rules) {
		snprintf(out, cap, "%s", cli->rules);
		return;
	}
	char copy[sizeof(s->policy_dir)];
	snprintf(copy, sizeof(copy), "%s", s->policy_dir);
	snprintf(out, cap, "%s/drills", dirname(copy));
}

/* ---- plan ---------------------------------------------------------------- */

int cmd_drill_plan(struct cli *cli, struct cli_env *env)
{
	struct store_user org;
	struct drill_scenario sc;
	char dir[600], err[512];
	int rc = open_user(env->store, cli->by, &org);
	if (rc != 0)
		return rc;
	if (strcmp(org.role, "drill_organiser") != 0 &&
	    strcmp(org.role, "province_admin") != 0) {
		fprintf(stderr, "eduwatch-collector: '%s' has the role %s; a "
			"drill is planned by a drill_organiser or a "
			"province_admin\n", org.name, org.role);
		return EXIT_USAGE;
	}
	drills_dir(cli, &env->settings, dir, sizeof(dir));
	if (drill_scenario_load(dir, cli->type, &sc, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_CONFIG;
	}
	struct store_drill d;
	memset(&d, 0, sizeof(d));
	long long seconds = 0;
	if (config_parse_duration(cli->expires, &seconds) != 0)
		return EXIT_USAGE; /* checked already by cmd_drill_args_check */
	snprintf(d.name, sizeof(d.name), "%s", drill_name(cli));
	snprintf(d.organiser, sizeof(d.organiser), "%s", org.name);
	snprintf(d.scenario, sizeof(d.scenario), "%s", sc.id);
	if (cli->school) {
		struct store_school s;
		if (store_school_get(env->store, cli->school, &s) != 0) {
			fprintf(stderr, "eduwatch-collector: no school '%s'\n",
				cli->school);
			return EXIT_NOT_FOUND;
		}
		snprintf(d.scope, sizeof(d.scope), "school:%s", s.code);
	} else {
		snprintf(d.scope, sizeof(d.scope), "commune:%.150s",
			 cli->commune);
	}
	d.window_start_us = store_now_us();
	d.window_end_us = d.window_start_us + seconds * 1000000LL;
	uint64_t id = 0;
	rc = store_drill_add(env->store, &d, &id);
	if (rc == -EEXIST) {
		fprintf(stderr, "eduwatch-collector: a drill campaign named "
			"'%s' exists already\n", d.name);
		return EXIT_USAGE;
	}
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: cannot store the "
			"campaign\n");
		return EXIT_FAILURE_RUNTIME;
	}
	printf("drill %llu '%s' planned (%s, %s); it needs the approval of a "
	       "province_admin other than %s before it can start\n",
	       (unsigned long long)id, d.name, d.scenario, d.scope,
	       d.organiser);
	return EXIT_OK;
}

/* ---- approve ------------------------------------------------------------- */

int cmd_drill_approve(struct cli *cli, struct cli_env *env)
{
	struct store_user u;
	struct store_drill d;
	int rc = open_user(env->store, cli->by, &u);
	if (rc == 0)
		rc = load_campaign(env->store, drill_name(cli), &d);
	if (rc != 0)
		return rc;
	if (strcmp(u.role, "province_admin") != 0) {
		fprintf(stderr, "eduwatch-collector: '%s' has the role %s; only "
			"a province_admin approves a drill\n", u.name, u.role);
		return EXIT_USAGE;
	}
	if (strcmp(u.name, d.organiser) == 0) {
		fprintf(stderr, "eduwatch-collector: %s planned this drill; a "
			"second person must approve it\n", u.name);
		return EXIT_USAGE;
	}
	rc = store_drill_transition(env->store, d.id, "planned", "approved",
				    u.name);
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: drill '%s' is %s, not "
			"planned\n", d.name, d.state);
		return EXIT_USAGE;
	}
	printf("drill '%s' approved by %s\n", d.name, u.name);
	return EXIT_OK;
}

/* ---- start --------------------------------------------------------------- */

struct target_list {
	struct store_agent *items;
	size_t count, cap;
	const char *commune;
	bool failed;
};

static void add_agent(void *arg, const struct store_agent *a)
{
	struct target_list *l = arg;
	if (l->failed)
		return;
	if (l->count == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct store_agent *p = cap > DRILL_TARGETS_MAX ? NULL :
			alloc_resize(l->items, cap * sizeof(*p));
		if (p == NULL) {
			l->failed = true;
			return;
		}
		l->items = p;
		l->cap = cap;
	}
	l->items[l->count++] = *a;
}

struct school_list {
	char (*codes)[STORE_CODE_MAX + 1];
	size_t count, cap;
	const char *commune;
	bool failed;
};

static void add_school(void *arg, const struct store_school *s)
{
	struct school_list *l = arg;
	if (l->failed || strcmp(s->commune, l->commune) != 0)
		return;
	if (l->count == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		void *p = alloc_resize(l->codes, cap * sizeof(*l->codes));
		if (p == NULL) {
			l->failed = true;
			return;
		}
		l->codes = p;
		l->cap = cap;
	}
	snprintf(l->codes[l->count++], sizeof(*l->codes), "%s", s->code);
}

/* The agents of a campaign's scope, collected before any command is
 * queued: the store's callbacks run under its lock. */
static int scope_agents(struct store *st, const char *scope,
			struct target_list *out)
{
	memset(out, 0, sizeof(*out));
	if (strncmp(scope, "school:", 7) == 0) {
		int rc = store_agent_list(st, scope + 7, add_agent, out);
		return rc != 0 ? rc : out->failed ? -ENOMEM : 0;
	}
	if (strncmp(scope, "commune:", 8) != 0)
		return -EINVAL;
	struct school_list sl = {.commune = scope + 8};
	int rc = store_school_list(st, add_school, &sl);
	if (rc == 0 && sl.failed)
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < sl.count; i++)
		rc = store_agent_list(st, sl.codes[i], add_agent, out);
	alloc_free(sl.codes);
	return rc != 0 ? rc : out->failed ? -ENOMEM : 0;
}

/* The arguments every drill command carries, so that the agent can
 * refuse one for a campaign it was not approved for or after its
 * window, even if the command's own expiry were wrong. */
static void pack_drill_args(const struct store_drill *d,
			    const struct drill_scenario *sc,
			    msgpack_sbuffer *buf)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 6);
	const char *keys[] = {"campaign", "scenario", "approver"};
	const char *vals[] = {d->name, d->scenario, d->approver};
	for (int i = 0; i < 3; i++) {
		msgpack_pack_str_with_body(&pk, keys[i], strlen(keys[i]));
		msgpack_pack_str_with_body(&pk, vals[i], strlen(vals[i]));
	}
	msgpack_pack_str_with_body(&pk, "campaign_id", 11);
	msgpack_pack_uint64(&pk, d->id);
	msgpack_pack_str_with_body(&pk, "window_end_us", 13);
	msgpack_pack_int64(&pk, d->window_end_us);
	msgpack_pack_str_with_body(&pk, "duration_s", 10);
	msgpack_pack_int64(&pk, sc ? sc->duration_s : 0);
}

int cmd_drill_start(struct cli *cli, struct cli_env *env)
{
	struct store_drill d;
	struct drill_scenario sc;
	char dir[600], err[512];
	int rc = load_campaign(env->store, drill_name(cli), &d);
	if (rc != 0)
		return rc;
	if (strcmp(d.state, "approved") != 0) {
		fprintf(stderr, "eduwatch-collector: drill '%s' is %s; it starts "
			"only once a province_admin has approved it\n", d.name,
			d.state);
		return EXIT_USAGE;
	}
	int64_t now = store_now_us();
	if (now >= d.window_end_us) {
		fprintf(stderr, "eduwatch-collector: drill '%s': its window has "
			"closed; plan it again\n", d.name);
		return EXIT_USAGE;
	}
	/* plan allows 7 days; a longer window was written into the store
	 * by something else, and no agent would accept its commands. */
	if (d.window_end_us - now > 7LL * 86400 * 1000000) {
		fprintf(stderr, "eduwatch-collector: drill '%s': its window "
			"ends more than 7 days ahead, which plan never allows; "
			"the campaign was altered: abort it and plan again\n",
			d.name);
		return EXIT_USAGE;
	}
	drills_dir(cli, &env->settings, dir, sizeof(dir));
	if (drill_scenario_load(dir, d.scenario, &sc, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_CONFIG;
	}
	struct ca *ca = NULL;
	if (ca_load(env->settings.state_dir, &ca, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_CONFIG;
	}
	struct target_list tl;
	rc = scope_agents(env->store, d.scope, &tl);
	/* Claim the campaign before the first command: a concurrent abort
	 * then either wins (nothing is sent) or sees it running. */
	if (rc == 0 &&
	    store_drill_transition(env->store, d.id, "approved", "running",
				   d.approver) != 0)
		rc = -ESTALE;
	long long seconds = (d.window_end_us - now + 999999) / 1000000;
	int64_t stale_before = now - env->settings.stale_after * 1000000LL;
	msgpack_sbuffer args;
	msgpack_sbuffer_init(&args);
	pack_drill_args(&d, &sc, &args);
	size_t queued = 0, skipped = 0;
	for (size_t i = 0; rc == 0 && i < tl.count; i++) {
		const struct store_agent *a = &tl.items[i];
		struct store_drill_target t = {.campaign = d.id};
		snprintf(t.agent, sizeof(t.agent), "%s", a->id);
		snprintf(t.school, sizeof(t.school), "%s", a->school);
		if (a->revoked || a->last_seen_us < stale_before) {
			/* Not sent: the scoreboard lists it and why. */
			snprintf(t.status, sizeof(t.status), "%s",
				 a->revoked ? "revoked" : "stale");
			skipped++;
		} else {
			rc = agentcmd_queue_until(env->store, ca, a->id,
						  sc.command, &args,
						  d.window_end_us, &t.command);
			snprintf(t.status, sizeof(t.status), "queued");
			queued++;
		}
		if (rc == 0)
			rc = store_drill_target_put(env->store, &t);
	}
	msgpack_sbuffer_destroy(&args);
	alloc_free(tl.items);
	ca_free(ca);
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: drill '%s' could not start "
			"(%s); abort it to clean up what was sent\n", d.name,
			rc == -ESTALE ? "its state changed" : "store error");
		return EXIT_FAILURE_RUNTIME;
	}
	printf("drill '%s' started: %zu PCs get %s (expires in %llds), %zu "
	       "not taking part\n", d.name, queued, sc.command, seconds,
	       skipped);
	return EXIT_OK;
}

/* ---- abort --------------------------------------------------------------- */

struct target_rows {
	struct store_drill_target *items;
	size_t count, cap;
	bool failed;
};

static void add_target(void *arg, const struct store_drill_target *t)
{
	struct target_rows *l = arg;
	if (l->failed)
		return;
	if (l->count == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		void *p = cap > DRILL_TARGETS_MAX ? NULL :
			alloc_resize(l->items, cap * sizeof(*l->items));
		if (p == NULL) {
			l->failed = true;
			return;
		}
		l->items = p;
		l->cap = cap;
	}
	l->items[l->count++] = *t;
}

static int load_targets(struct store *st, uint64_t id, struct target_rows *l)
{
	memset(l, 0, sizeof(*l));
	int rc = store_drill_targets(st, id, add_target, l);
	return rc != 0 ? rc : l->failed ? -ENOMEM : 0;
}

int cmd_drill_abort(struct cli *cli, struct cli_env *env)
{
	struct store_drill d;
	struct store_user u;
	char err[512];
	int rc = open_user(env->store, cli->by, &u);
	if (rc == 0)
		rc = load_campaign(env->store, drill_name(cli), &d);
	if (rc != 0)
		return rc;
	if (strcmp(u.role, "province_admin") != 0 &&
	    strcmp(u.name, d.organiser) != 0) {
		fprintf(stderr, "eduwatch-collector: '%s' may not abort this "
			"drill: its organiser or a province_admin may\n",
			u.name);
		return EXIT_USAGE;
	}
	const char *from = d.state;
	if (strcmp(from, "aborted") == 0 || strcmp(from, "done") == 0) {
		fprintf(stderr, "eduwatch-collector: drill '%s' has ended "
			"already (%s)\n", d.name, d.state);
		return EXIT_USAGE;
	}
	if (store_drill_transition(env->store, d.id, from, "aborted", u.name) !=
	    0) {
		fprintf(stderr, "eduwatch-collector: drill '%s' changed state "
			"meanwhile; run abort again\n", d.name);
		return EXIT_FAILURE_RUNTIME;
	}
	struct target_rows tr;
	rc = load_targets(env->store, d.id, &tr);
	struct ca *ca = NULL;
	size_t sent = 0;
	if (rc == 0 && tr.count > 0 &&
	    ca_load(env->settings.state_dir, &ca, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		rc = -EIO;
	}
	msgpack_sbuffer args;
	msgpack_sbuffer_init(&args);
	pack_drill_args(&d, NULL, &args);
	for (size_t i = 0; rc == 0 && i < tr.count; i++) {
		struct store_drill_target t = tr.items[i];
		if (t.command == 0)
			continue;
		/* The abort lives an hour past the window: a PC that was
		 * off when the window closed still cleans up. */
		rc = agentcmd_queue(env->store, ca, t.agent, "drill.abort",
				       &args, 3600, &t.abort_command);
		t.command = 0;
		snprintf(t.status, sizeof(t.status), "aborted");
		if (rc == 0)
			rc = store_drill_target_put(env->store, &t);
		sent++;
	}
	msgpack_sbuffer_destroy(&args);
	alloc_free(tr.items);
	ca_free(ca);
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: drill '%s' is aborted, but "
			"not every PC could be told; run status\n", d.name);
		return EXIT_FAILURE_RUNTIME;
	}
	printf("drill '%s' aborted by %s; drill.abort queued for %zu PCs\n",
	       d.name, u.name, sent);
	return EXIT_OK;
}

/* ---- status -------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* The nearest-rank quantile (q in 0..100) of n sorted values. */
static int64_t quantile(const int64_t *v, size_t n, int q)
{
	if (n == 0)
		return -1;
	size_t rank = (q * n + 99) / 100;
	return v[rank ? rank - 1 : 0];
}

/* One scoreboard row: the targets of one school (or all, school NULL). */
static void board_row(FILE *f, const struct store_drill_target *ts, size_t n,
		      const char *school, const struct drill_scenario *sc,
		      int64_t *scratch, bool json, bool first)
{
	size_t targets = 0, part = 0, complete = 0;
	for (size_t i = 0; i < n; i++)
		if (school == NULL || strcmp(ts[i].school, school) == 0) {
			targets++;
			part += drill_target_took_part(&ts[i]);
			complete += drill_target_passed_in(&ts[i], sc);
		}
	const char *result = drill_result(part, complete);
	char key[STORE_CODE_MAX + 8];
	snprintf(key, sizeof(key), "%s%s", school ? "school:" : "province",
		 school ? school : "");
	if (json) {
		fprintf(f, "%s{\"scope\":", first ? "" : ",");
		json_print_string(f, key);
		fprintf(f, ",\"targets\":%zu,\"took_part\":%zu,\"result\":"
			"\"%s\",\"complete\":%zu,\"stages\":{", targets, part,
			result, complete);
	} else {
		char safe[SAFE_CAP(sizeof(key))];
		fprintf(f, "  %-16s targets %zu, took part %zu, result %s (%zu "
			"of %zu PCs ran injected-detected-alert-SOC-cleanup)\n",
			SAFE(safe, key), targets, part, result, complete, part);
	}
	for (int s = 0; s < DRILL_STAGE_COUNT; s++) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			int64_t st[DRILL_STAGE_COUNT];
			if ((school && strcmp(ts[i].school, school) != 0) ||
			    !drill_target_took_part(&ts[i]))
				continue;
			drill_target_stages(&ts[i], st);
			if (st[s] > 0)
				scratch[k++] = st[s] > ts[i].issued_us ?
					(st[s] - ts[i].issued_us) / 1000 : 0;
		}
		qsort(scratch, k, sizeof(int64_t), cmp_i64);
		double share = part ? (double)k / (double)part : 0;
		long long p50 = quantile(scratch, k, 50);
		long long p90 = quantile(scratch, k, 90);
		if (json)
			fprintf(f, "%s\"%s\":{\"reached\":%zu,\"share\":%.4f,"
				"\"median_ms\":%lld,\"p90_ms\":%lld}",
				s ? "," : "", drill_stage_name(s), k, share, p50,
				p90);
		else
			fprintf(f, "    %-13s %4zu/%-4zu %4.0f%%  p50 %6lld ms  "
				"p90 %6lld ms\n", drill_stage_name(s), k, part,
				100 * share, p50, p90);
	}
	if (json)
		fputs("}}", f);
}

static void print_time(FILE *f, int64_t us, bool json)
{
	char buf[64];
	if (us <= 0) {
		fputs(json ? "null" : "-", f);
		return;
	}
	timeutil_format_us(us, buf, sizeof(buf));
	if (json)
		json_print_string(f, buf);
	else
		fputs(buf, f);
}

static void print_target_json(FILE *f, const struct store_drill_target *t,
			      bool first)
{
	int64_t st[DRILL_STAGE_COUNT];
	drill_target_stages(t, st);
	fputs(first ? "{\"agent\":" : ",{\"agent\":", f);
	json_print_string(f, t->agent);
	fputs(",\"school\":", f);
	json_print_string(f, t->school);
	fputs(",\"status\":", f);
	json_print_string(f, t->status);
	fputs(",\"queued\":", f);
	print_time(f, t->issued_us, true);
	fputs(",\"delivered\":", f);
	print_time(f, t->sent_us, true);
	fputs(",\"abort_delivered\":", f);
	print_time(f, t->abort_sent_us, true);
	fprintf(f, ",\"av_checked\":");
	print_time(f, t->av_checked_us, true);
	fprintf(f, ",\"av_removed\":%s,\"cleanup_verified\":%s,"
		"\"forwarded_to\":%d,\"timeline\":{",
		t->av_removed ? "true" : "false",
		t->clean_verified ? "true" : "false", t->forwarded_dests);
	for (int s = 0; s < DRILL_STAGE_COUNT; s++) {
		fprintf(f, "%s\"%s\":", s ? "," : "", drill_stage_name(s));
		print_time(f, st[s], true);
	}
	fputs("}}", f);
}

static void print_json(FILE *f, const struct store_drill *d,
		       const struct target_rows *tr,
		       const struct drill_scenario *sc, int64_t *scratch)
{
	const char *keys[] = {"name", "scenario", "scope", "state",
			      "organiser", "approver", "ended_by"};
	const char *vals[] = {d->name, d->scenario, d->scope, d->state,
			      d->organiser, d->approver, d->ended_by};
	fprintf(f, "{\"campaign\":{\"id\":%llu", (unsigned long long)d->id);
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		fprintf(f, ",\"%s\":", keys[i]);
		json_print_string(f, vals[i]);
	}
	const char *tk[] = {"approved", "started", "ended", "window_end"};
	const int64_t tv[] = {d->approved_us, d->started_us, d->ended_us,
			      d->window_end_us};
	for (size_t i = 0; i < 4; i++) {
		fprintf(f, ",\"%s\":", tk[i]);
		print_time(f, tv[i], true);
	}
	fputs("},\"targets\":[", f);
	for (size_t i = 0; i < tr->count; i++)
		print_target_json(f, &tr->items[i], i == 0);
	fputs("],\"scoreboard\":[", f);
	size_t rows = 0;
	for (size_t i = 0; i < tr->count; i++)
		if (i == 0 || strcmp(tr->items[i].school,
				     tr->items[i - 1].school) != 0)
			board_row(f, tr->items, tr->count, tr->items[i].school,
				  sc, scratch, true, rows++ == 0);
	board_row(f, tr->items, tr->count, NULL, sc, scratch, true, rows == 0);
	fputs("]}\n", f);
}

static void print_text(FILE *f, const struct store_drill *d,
		       const struct target_rows *tr,
		       const struct drill_scenario *sc, int64_t *scratch)
{
	char s1[SAFE_CAP(sizeof(d->name))], s2[SAFE_CAP(sizeof(d->scope))];
	fprintf(f, "drill %llu '%s': %s, scope %s, %s\n",
		(unsigned long long)d->id, SAFE(s1, d->name), d->scenario,
		SAFE(s2, d->scope), d->state);
	fprintf(f, "  organiser %s, approver %s\n", d->organiser,
		d->approver[0] ? d->approver : "(none yet)");
	fputs("  window ends ", f);
	print_time(f, d->window_end_us, false);
	fputs("\n\n", f);
	for (size_t i = 0; i < tr->count; i++) {
		const struct store_drill_target *t = &tr->items[i];
		int64_t st[DRILL_STAGE_COUNT];
		char sa[SAFE_CAP(sizeof(t->agent))];
		fprintf(f, "  PC %s (school %s): %s\n", SAFE(sa, t->agent),
			t->school, t->status);
		if (!drill_target_took_part(t))
			continue;
		fputs("    queued        ", f);
		print_time(f, t->issued_us, false);
		fputs("\n    delivered     ", f);
		print_time(f, t->sent_us, false);
		fputc('\n', f);
		drill_target_stages(t, st);
		for (int s = 0; s < DRILL_STAGE_COUNT; s++) {
			fprintf(f, "    %-13s ", drill_stage_name(s));
			print_time(f, st[s], false);
			fputc('\n', f);
		}
	}
	fputs("\nscoreboard (times from the command queued)\n", f);
	for (size_t i = 0; i < tr->count; i++)
		if (i == 0 || strcmp(tr->items[i].school,
				     tr->items[i - 1].school) != 0)
			board_row(f, tr->items, tr->count, tr->items[i].school,
				  sc, scratch, false, false);
	board_row(f, tr->items, tr->count, NULL, sc, scratch, false, false);
}

int cmd_drill_status(struct cli *cli, struct cli_env *env)
{
	struct store_drill d;
	struct target_rows tr;
	int rc = load_campaign(env->store, drill_name(cli), &d);
	if (rc != 0)
		return rc;
	if (load_targets(env->store, d.id, &tr) != 0) {
		fprintf(stderr, "eduwatch-collector: cannot read the drill's "
			"targets\n");
		return EXIT_FAILURE_RUNTIME;
	}
	int64_t *scratch = alloc_zeroed(tr.count + 1, sizeof(int64_t));
	if (scratch == NULL) {
		alloc_free(tr.items);
		return EXIT_FAILURE_RUNTIME;
	}
	/* The scenario's own stages decide what "passed" needs; a scenario
	 * file removed since the start is judged on the whole chain. */
	struct drill_scenario sc;
	char dir[600], err[512];
	drills_dir(cli, &env->settings, dir, sizeof(dir));
	bool have_sc = drill_scenario_load(dir, d.scenario, &sc, err,
					   sizeof(err)) == 0;
	/* Targets come ordered by school: one scoreboard row per run. */
	if (cli->json)
		print_json(stdout, &d, &tr, have_sc ? &sc : NULL, scratch);
	else
		print_text(stdout, &d, &tr, have_sc ? &sc : NULL, scratch);
	alloc_free(scratch);
	alloc_free(tr.items);
	return EXIT_OK;
}
