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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "collector/drill/drill_redteam.h"
#include "collector/drill/drill_scenario.h"
#include "collector/drill/drill_timeline.h"
#include "collector/register/register.h"
#include "common/alloc.h"
#include "common/fsutil.h"
#include "common/jsonout.h"
#include "common/textsafe.h"
#include "common/timeutil.h"

#define DRILL_TARGETS_MAX 100000

static void print_time(FILE *f, int64_t us, bool json);

static const char *drill_name(const struct cli *cli)
{
	return cli->nnames > 0 ? cli->names[0] : NULL;
}

int cmd_drill_check(const struct cli *cli)
{
	if (cli->argc < 2)
		return cli_usage_error("drill needs plan, approve, start, abort, "
				       "status or action");
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
	if (strcmp(sub, "action") == 0) {
		const char *verb = cli->argc > 2 ? cli->argv[2] : "";
		if (strcmp(verb, "add") == 0 && cli->nsets == 0)
			return cli_usage_error("drill action add needs --set "
					       "time=T --set target=host:NAME|"
					       "school:CODE --set technique=TXXXX "
					       "--set description=TEXT");
		if (strcmp(verb, "import") == 0 && cli->npaths != 1)
			return cli_usage_error("drill action import needs one "
					       "--csv FILE");
		if (strcmp(verb, "add") != 0 && strcmp(verb, "import") != 0)
			return cli_usage_error("drill action needs add or "
					       "import");
	}
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
	drill_scenarios_dir(s->policy_dir, out, cap);
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
	/* A red-team window runs nothing on the PCs: it has no scenario
	 * file, only a window and a scope in which actions are scored. */
	memset(&sc, 0, sizeof(sc));
	drills_dir(cli, &env->settings, dir, sizeof(dir));
	if (strcmp(cli->type, DRILL_REDTEAM) == 0)
		snprintf(sc.id, sizeof(sc.id), "%s", DRILL_REDTEAM);
	else if (drill_scenario_load(dir, cli->type, &sc, err, sizeof(err)) !=
		 0) {
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

/* A red-team window starts by running: from then on the store flags
 * every alert on a PC of its scope as a drill of this campaign, for the
 * SOC. No command goes out. */
static int start_redteam(struct store *st, const struct store_drill *d)
{
	if (store_drill_transition(st, d->id, "approved", "running",
				   d->approver) != 0) {
		fprintf(stderr, "eduwatch-collector: drill '%s' changed state "
			"meanwhile; run status\n", d->name);
		return EXIT_FAILURE_RUNTIME;
	}
	printf("red-team window '%s' open on %s until ", d->name, d->scope);
	print_time(stdout, d->window_end_us, false);
	printf(": alerts there go to the SOC flagged as drill %llu\n",
	       (unsigned long long)d->id);
	return EXIT_OK;
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
	if (strcmp(d.scenario, DRILL_REDTEAM) == 0)
		return start_redteam(env->store, &d);
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
	/* The key before the move: an abort marked on a collector that
	 * cannot sign the PCs' drill.abort would leave them running it.
	 * Only a running injection drill has sent the PCs commands. */
	struct ca *ca = NULL;
	if (strcmp(from, "running") == 0 &&
	    strcmp(d.scenario, DRILL_REDTEAM) != 0 &&
	    ca_load(env->settings.state_dir, &ca, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_CONFIG;
	}
	if (store_drill_transition(env->store, d.id, from, "aborted", u.name) !=
	    0) {
		ca_free(ca);
		fprintf(stderr, "eduwatch-collector: drill '%s' changed state "
			"meanwhile; run abort again\n", d.name);
		return EXIT_FAILURE_RUNTIME;
	}
	struct target_rows tr;
	rc = load_targets(env->store, d.id, &tr);
	size_t sent = 0;
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

/* What the scoreboard rows are made of: the targets (ordered by
 * school), each one's commune, a group mask and drill_quantile's room. */
struct board_input {
	const struct store_drill_target *ts;
	size_t n;
	/* The scenario's own stages decide what "passed" needs (NULL: the
	 * whole chain, for a scenario file removed since the start). */
	const struct drill_scenario *sc;
	char (*commune)[STORE_NAME_MAX + 1];
	bool *in;
	int64_t *scratch;
};

/* One scoreboard row: the targets of bi->in, under the name key. */

/* A stage's time for the text board: "-" when no PC reached it (the
 * board's -1; --json keeps the number). */
static const char *stage_ms(char out[24], int64_t ms)
{
	if (ms < 0)
		return "-";
	snprintf(out, 24, "%lld ms", (long long)ms);
	return out;
}

static void board_row(FILE *f, const struct board_input *bi, const char *key,
		      bool json, bool first)
{
	struct drill_board b;
	drill_board_compute(bi->ts, bi->n, bi->in, bi->sc, bi->scratch, &b);
	const char *result = drill_result(b.took_part, b.passed);
	if (json) {
		fprintf(f, "%s{\"scope\":", first ? "" : ",");
		json_print_string(f, key);
		fprintf(f, ",\"targets\":%zu,\"took_part\":%zu,\"result\":"
			"\"%s\",\"complete\":%zu,\"not_taking_part\":{"
			"\"stale\":%zu,\"revoked\":%zu},\"never_reached\":%zu,"
			"\"stages\":{", b.targets, b.took_part, result, b.passed,
			b.stale, b.revoked, b.never_reached);
	} else {
		char safe[SAFE_CAP(STORE_NAME_MAX + 16)];
		fprintf(f, "  %-16s targets %zu, took part %zu, result %s (%zu "
			"of %zu PCs ran injected-detected-alert-SOC-cleanup)\n",
			SAFE(safe, key), b.targets, b.took_part, result, b.passed,
			b.took_part);
		if (b.stale + b.revoked + b.never_reached > 0)
			fprintf(f, "    not taking part: %zu stale, %zu revoked; "
				"%zu queued but never reached (offline)\n",
				b.stale, b.revoked, b.never_reached);
	}
	for (int s = 0; s < DRILL_STAGE_COUNT; s++) {
		const struct drill_board_stage *g = &b.stage[s];
		char p50[24], p90[24];
		if (json)
			fprintf(f, "%s\"%s\":{\"reached\":%zu,\"share\":%.4f,"
				"\"median_ms\":%lld,\"p90_ms\":%lld}",
				s ? "," : "", drill_stage_name(s), g->reached,
				g->share, (long long)g->p50_ms,
				(long long)g->p90_ms);
		else
			fprintf(f, "    %-13s %4zu/%-4zu %4.0f%%  p50 %9s  "
				"p90 %9s\n", drill_stage_name(s),
				g->reached, b.took_part, 100 * g->share,
				stage_ms(p50, g->p50_ms), stage_ms(p90, g->p90_ms));
	}
	if (json)
		fputs("}}", f);
}

/* The rows of one level, "school" or "commune": one per group in the
 * order first seen. Returns how many rows it printed. */
static size_t board_level(FILE *f, const struct board_input *bi,
			  const char *level, bool json, size_t rows)
{
	bool by_school = strcmp(level, "school") == 0;
	size_t printed = 0;
	for (size_t i = 0; i < bi->n; i++) {
		if (!drill_board_group(bi->ts, bi->n,
				       by_school ? NULL : bi->commune, i, bi->in))
			continue;
		char key[STORE_NAME_MAX + 16];
		snprintf(key, sizeof(key), "%s:%s", level,
			 by_school ? bi->ts[i].school : bi->commune[i]);
		board_row(f, bi, key, json, rows + printed++ == 0);
	}
	return printed;
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
		       const struct board_input *bi)
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
	/* "scoreboard" keeps its rows (schools, then the province); the
	 * communes' come apart, so that a reader of the first is unchanged. */
	fputs("],\"scoreboard\":[", f);
	size_t rows = board_level(f, bi, "school", true, 0);
	struct board_input all = *bi;
	all.in = NULL;
	board_row(f, &all, "province", true, rows == 0);
	fputs("],\"scoreboard_communes\":[", f);
	board_level(f, bi, "commune", true, 0);
	fputs("]}\n", f);
}

static void print_text(FILE *f, const struct store_drill *d,
		       const struct target_rows *tr,
		       const struct board_input *bi)
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
	board_level(f, bi, "school", false, 1);
	board_level(f, bi, "commune", false, 1);
	struct board_input all = *bi;
	all.in = NULL;
	board_row(f, &all, "province", false, false);
}

/* ---- red-team windows ---------------------------------------------------- */

static void print_ms(FILE *f, int64_t ms, bool json)
{
	if (ms < 0)
		fputs(json ? "null" : "-", f);
	else
		fprintf(f, json ? "%lld" : "%lld ms", (long long)ms);
}

static void print_redteam_json(FILE *f, const struct store_drill *d,
			       const struct drill_redteam_score *sc)
{
	const struct drill_redteam_match *m = sc->m;
	const struct drill_redteam_figures *fig = &sc->fig;
	fprintf(f, "{\"campaign\":{\"id\":%llu,\"name\":",
		(unsigned long long)d->id);
	json_print_string(f, d->name);
	fputs(",\"scenario\":\"red-team\",\"scope\":", f);
	json_print_string(f, d->scope);
	fprintf(f, ",\"state\":\"%s\",\"window_start_us\":%lld,"
		"\"window_end_us\":%lld},\"actions\":[", d->state,
		(long long)d->window_start_us, (long long)d->window_end_us);
	for (size_t i = 0; i < sc->nactions; i++) {
		const struct store_redteam_action *a = &sc->actions[i];
		fprintf(f, "%s{\"id\":%llu,\"at_us\":%lld,\"recorded_us\":"
			"%lld,\"target\":",
			i ? "," : "", (unsigned long long)a->id,
			(long long)a->at_us, (long long)a->created_us);
		char target[STORE_NAME_MAX + 16];
		snprintf(target, sizeof(target), "%s:%s", a->target_kind,
			 a->target);
		json_print_string(f, target);
		fprintf(f, ",\"technique\":\"%s\",\"description\":",
			a->technique);
		json_print_string(f, a->description);
		fputs(",\"recorded_by\":", f);
		json_print_string(f, a->recorded_by);
		if (m[i].alert >= 0)
			fprintf(f, ",\"alert\":%llu", (unsigned long long)
				sc->alerts[m[i].alert].id);
		else
			fputs(",\"alert\":null", f);
		fprintf(f, ",\"recorded_late\":%s", m[i].late ? "true"
							      : "false");
		fputs(",\"detect_ms\":", f);
		print_ms(f, m[i].detect_ms, true);
		fputs(",\"ack_ms\":", f);
		print_ms(f, m[i].ack_ms, true);
		fputc('}', f);
	}
	fprintf(f, "],\"figures\":{\"actions\":%zu,\"detected\":%zu,"
		"\"recorded_late\":%zu,"
		"\"coverage\":%.4f,\"acknowledged\":%zu,\"alerts\":%zu,"
		"\"false_alerts\":%zu,\"false_rate\":%.4f,\"match_window_s\":"
		"%lld,\"detect_p50_ms\":", fig->actions, fig->detected,
		fig->late, fig->coverage, fig->acknowledged, fig->alerts,
		fig->false_alerts, fig->false_rate,
		DRILL_REDTEAM_MATCH_US / 1000000);
	print_ms(f, fig->detect_p50_ms, true);
	fputs(",\"detect_p90_ms\":", f);
	print_ms(f, fig->detect_p90_ms, true);
	fputs(",\"ack_p50_ms\":", f);
	print_ms(f, fig->ack_p50_ms, true);
	fputs(",\"ack_p90_ms\":", f);
	print_ms(f, fig->ack_p90_ms, true);
	fputs("}}\n", f);
}

static void print_redteam_text(FILE *f, const struct store_drill *d,
			       const struct drill_redteam_score *sc)
{
	const struct drill_redteam_match *m = sc->m;
	const struct drill_redteam_figures *fig = &sc->fig;
	char s1[SAFE_CAP(sizeof(d->name))], s2[SAFE_CAP(sizeof(d->scope))];
	fprintf(f, "drill %llu '%s': red-team window, scope %s, %s\n",
		(unsigned long long)d->id, SAFE(s1, d->name),
		SAFE(s2, d->scope), d->state);
	fprintf(f, "  organiser %s, approver %s\n  window ", d->organiser,
		d->approver[0] ? d->approver : "(none yet)");
	print_time(f, d->window_start_us, false);
	fputs(" to ", f);
	print_time(f, d->window_end_us, false);
	fputs("\n\n", f);
	for (size_t i = 0; i < sc->nactions; i++) {
		const struct store_redteam_action *a = &sc->actions[i];
		char st[SAFE_CAP(sizeof(a->target))];
		char sd[SAFE_CAP(sizeof(a->description))];
		fputs("  ", f);
		print_time(f, a->at_us, false);
		fprintf(f, " %s %s:%s %s\n", a->technique, a->target_kind,
			SAFE(st, a->target), SAFE(sd, a->description));
		if (m[i].late) {
			fprintf(f, "    recorded late: alert %llu, which matches "
				"it, came before it was recorded; not counted\n",
				(unsigned long long)sc->alerts[m[i].alert].id);
			continue;
		}
		if (m[i].alert < 0) {
			fputs("    not detected\n", f);
			continue;
		}
		fprintf(f, "    detected by alert %llu in ", (unsigned long long)
			sc->alerts[m[i].alert].id);
		print_ms(f, m[i].detect_ms, false);
		fputs(", acknowledged in ", f);
		print_ms(f, m[i].ack_ms, false);
		fputc('\n', f);
	}
	fprintf(f, "\nred team: %zu actions, %zu recorded late and not "
		"counted, %zu detected (coverage %.1f%%); %zu alerts in the "
		"window, %zu matching no action recorded in time (false-alert "
		"rate %.1f%%)\n", fig->actions, fig->late, fig->detected,
		100 * fig->coverage, fig->alerts, fig->false_alerts,
		100 * fig->false_rate);
	fputs("  time to detect p50 ", f);
	print_ms(f, fig->detect_p50_ms, false);
	fputs(", p90 ", f);
	print_ms(f, fig->detect_p90_ms, false);
	fputs("; to acknowledge p50 ", f);
	print_ms(f, fig->ack_p50_ms, false);
	fputs(", p90 ", f);
	print_ms(f, fig->ack_p90_ms, false);
	fprintf(f, " (an alert matches an action on its target within %lld s "
		"after it)\n", DRILL_REDTEAM_MATCH_US / 1000000);
}

static int status_redteam(struct store *st, const struct store_drill *d,
			  bool json)
{
	struct drill_redteam_score sc;
	int rc = drill_redteam_score(st, d->id, &sc);
	if (rc == 0 && json)
		print_redteam_json(stdout, d, &sc);
	else if (rc == 0)
		print_redteam_text(stdout, d, &sc);
	else
		fprintf(stderr, "eduwatch-collector: cannot read the red-team "
			"window's actions and alerts (%s)\n", uv_strerror(rc));
	drill_redteam_score_free(&sc);
	return rc == 0 ? EXIT_OK : EXIT_FAILURE_RUNTIME;
}

/* The actions' rules beyond their own fields (drill_redteam.h). */
static int action_campaign(struct store *st, const struct cli *cli,
			   struct store_drill *d, struct store_user *u)
{
	char err[256];
	int rc = open_user(st, cli->by, u);
	if (rc == 0)
		rc = load_campaign(st, drill_name(cli), d);
	if (rc != 0)
		return rc;
	if (drill_redteam_may_record(d, u->role, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_USAGE;
	}
	return 0;
}

/* Says how many of the n actions just recorded came after an alert that
 * matches them (drill_redteam.h): they will not count as detections. */
static void tell_late(struct store *st, const struct store_drill *d,
		      const struct store_redteam_action *a, size_t n,
		      int64_t now)
{
	struct drill_redteam_score sc;
	if (drill_redteam_score(st, d->id, &sc) == 0) {
		size_t late = drill_redteam_count_late(a, n, now, sc.alerts,
						       sc.nalerts);
		if (late > 0)
			printf("%zu of them recorded late: an alert matching "
			       "it had already arrived, so it is not counted "
			       "as a detection\n", late);
	}
	drill_redteam_score_free(&sc);
}

static int store_actions(struct store *st, const struct settings *set,
			 const struct store_drill *d,
			 const struct store_user *u,
			 struct store_redteam_action *a, size_t n,
			 const char *where)
{
	char err[256];
	int64_t now = store_now_us();
	if (drill_redteam_prepare(d, u->name, now, set->redteam_grace, a, n,
				  err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-collector: %s%s; nothing was "
			"recorded\n", where, err);
		return EXIT_USAGE;
	}
	int rc = store_redteam_actions_add(st, a, n);
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: cannot store the actions "
			"(%s); nothing was recorded\n", uv_strerror(rc));
		return EXIT_FAILURE_RUNTIME;
	}
	printf("%zu red-team action%s recorded in '%s'\n", n, n == 1 ? "" : "s",
	       d->name);
	tell_late(st, d, a, n, now);
	return EXIT_OK;
}

/* --set time=T --set target=... --set technique=... --set description=.. */
static int action_from_sets(const struct cli *cli,
			    struct store_redteam_action *a)
{
	const char *f[DRILL_ACTION_NCOLS] = {0};
	size_t l[DRILL_ACTION_NCOLS] = {0};
	char err[256];
	for (size_t i = 0; i < cli->nsets; i++) {
		const char *eq = strchr(cli->sets[i], '=');
		int c = -1;
		for (int k = 0; eq && k < DRILL_ACTION_NCOLS; k++)
			if (strlen(drill_action_col_name(k)) ==
				    (size_t)(eq - cli->sets[i]) &&
			    memcmp(cli->sets[i], drill_action_col_name(k),
				   (size_t)(eq - cli->sets[i])) == 0)
				c = k;
		if (c < 0 || f[c] != NULL)
			return cli_usage_error("--set %s: one each of time=, "
					       "target=, technique=, "
					       "description=", cli->sets[i]);
		f[c] = eq + 1;
		l[c] = strlen(eq + 1);
	}
	for (int k = 0; k < DRILL_ACTION_NCOLS; k++)
		if (f[k] == NULL)
			return cli_usage_error("drill action add needs --set "
					       "%s=...", drill_action_col_name(k));
	if (drill_action_fields(f, l, a, NULL, err, sizeof(err)) != 0)
		return cli_usage_error("--set %s", err);
	return 0;
}

int cmd_drill_action(struct cli *cli, struct cli_env *env)
{
	struct store_drill d;
	struct store_user u;
	int rc = action_campaign(env->store, cli, &d, &u);
	if (rc != 0)
		return rc;
	if (strcmp(cli->argv[2], "add") == 0) {
		struct store_redteam_action a;
		rc = action_from_sets(cli, &a);
		return rc != 0 ? rc : store_actions(env->store, &env->settings,
						    &d, &u, &a, 1, "");
	}
	char *buf = NULL, err[512], where[600];
	size_t len = 0, n = 0;
	struct store_redteam_action *rows = NULL;
	const char *path = cli->paths[0];
	rc = fs_read_file(path, REGISTER_CSV_MAX_BYTES, &buf, &len);
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: --csv %s: %s\n", path,
			uv_strerror(rc));
		return EXIT_CONFIG;
	}
	rc = drill_action_csv_load(buf, len, &rows, &n, err, sizeof(err));
	alloc_free(buf);
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: %s: %s; nothing was "
			"recorded\n", path, err);
		return EXIT_CONFIG;
	}
	snprintf(where, sizeof(where), "%s: ", path);
	rc = store_actions(env->store, &env->settings, &d, &u, rows, n,
			   where);
	alloc_free(rows);
	return rc;
}

int cmd_drill_status(struct cli *cli, struct cli_env *env)
{
	struct store_drill d;
	struct target_rows tr;
	int rc = load_campaign(env->store, drill_name(cli), &d);
	if (rc != 0)
		return rc;
	if (strcmp(d.scenario, DRILL_REDTEAM) == 0)
		return status_redteam(env->store, &d, cli->json);
	if (load_targets(env->store, d.id, &tr) != 0) {
		fprintf(stderr, "eduwatch-collector: cannot read the drill's "
			"targets\n");
		return EXIT_FAILURE_RUNTIME;
	}
	struct drill_scenario sc;
	char dir[600], err[512];
	drills_dir(cli, &env->settings, dir, sizeof(dir));
	bool have_sc = drill_scenario_load(dir, d.scenario, &sc, err,
					   sizeof(err)) == 0;
	struct board_input bi = {
		.ts = tr.items,
		.n = tr.count,
		.sc = have_sc ? &sc : NULL,
		.commune = alloc_zeroed(tr.count + 1, sizeof(*bi.commune)),
		.in = alloc_zeroed(tr.count + 1, sizeof(bool)),
		.scratch = alloc_zeroed(tr.count + 1, sizeof(int64_t)),
	};
	rc = bi.commune && bi.in && bi.scratch ? 0 : -ENOMEM;
	if (rc == 0)
		rc = drill_target_communes(env->store, tr.items, tr.count,
					   bi.commune);
	if (rc == 0 && cli->json)
		print_json(stdout, &d, &tr, &bi);
	else if (rc == 0)
		print_text(stdout, &d, &tr, &bi);
	else
		fprintf(stderr, "eduwatch-collector: cannot build the drill's "
			"scoreboard (%s)\n", uv_strerror(rc));
	alloc_free(bi.commune);
	alloc_free(bi.in);
	alloc_free(bi.scratch);
	alloc_free(tr.items);
	return rc == 0 ? EXIT_OK : EXIT_FAILURE_RUNTIME;
}
