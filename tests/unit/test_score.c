/* Unit tests for collector/policy and collector/score over a seeded real
 * SQLite store: weights, stale agents and PCs that never enrolled, the
 * commune and province roll-ups, the evidence of a failing check, and
 * the collector's own alerts: daily snapshots with their compliance
 * drops, and the agent-silence sweep.
 * The policies are the shipped rules/policies/ files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>
#include <sqlite3.h>

#include "collector/alert.h"
#include "collector/policy.h"
#include "collector/score.h"
#include "collector/store.h"
#include "common/timeutil.h"
#include "common/wire.h"
#include "tests/support/storeseed.h"
#include "tests/support/testutil.h"

#define DAY_US (86400LL * 1000000)

static char dir[512], path[600];
static int64_t now_us;
static uint64_t next_seq = 1;

static void on_commit(void *arg, int status, unsigned stored, unsigned dup)
{
	(void)stored, (void)dup;
	*(int *)arg = status + 1000;
}

/* One state event for an agent; the batch takes a copy of the body. */
static void add_state(struct store_batch *b, const char *agent,
		      const char *kind, const msgpack_sbuffer *body)
{
	assert_int_equal(storeseed_add(b, agent, kind, next_seq++, now_us, body),
			 0);
}

/* A host's four states; av_realtime false makes av-realtime fail. */
static void seed_host(struct store_batch *b, const char *agent,
		      bool av_realtime)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	wire_pack_kv_bool(&pk, "realtime", av_realtime);
	wire_pack_kv_u64(&pk, "sig_age_days", 1);
	add_state(b, agent, "av.status", &sb);
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 2);
	wire_pack_kv_u64(&pk, "last_full_us", (uint64_t)(now_us - DAY_US));
	wire_pack_kv_u64(&pk, "infected_open", 0);
	add_state(b, agent, "scan.summary", &sb);
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 2);
	wire_pack_kv_bool(&pk, "rpo_met", true);
	wire_pack_kv_u64(&pk, "last_restore_test_us",
			 (uint64_t)(now_us - 10 * DAY_US));
	add_state(b, agent, "backup.status", &sb);
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 1);
	wire_pack_kv_str(&pk, "state", "on");
	add_state(b, agent, "net.sensor", &sb);
	msgpack_sbuffer_destroy(&sb);
}

static void school(struct store *st, const char *code, const char *commune,
		   int level, int expected)
{
	struct store_school s = {.level = level, .expected_pcs = expected};
	snprintf(s.code, sizeof(s.code), "%s", code);
	snprintf(s.name, sizeof(s.name), "School %s", code);
	snprintf(s.commune, sizeof(s.commune), "%s", commune);
	assert_int_equal(store_school_add(st, &s), 0);
}

/* Schools A (level 2, 4 PCs expected) and B (level 1, 1 PC) in commune
 * X, C (level 2, 2 PCs, none enrolled) in Y. In A: A1 compliant, A2 with
 * real-time protection off, A3 compliant but silent for 3 days, and one
 * PC never enrolled. B1 compliant. */
static void seed(void)
{
	uv_loop_t loop;
	struct store_options o = {.url = path, .cache_bytes = 1 << 20,
				  .batch_max_events = 100, .sync_full = false,
				  .retention_days = 0, .high_severity_days = 0,
				  .high_severity = 7};
	struct store *st;
	char err[256];
	uv_loop_init(&loop);
	assert_int_equal(store_open(&o, &loop, &st, err, sizeof(err)), 0);
	school(st, "A", "X", 2, 4);
	school(st, "B", "X", 1, 1);
	school(st, "C", "Y", 2, 2);
	const char *agents[][2] = {{"A-1", "A"}, {"A-2", "A"}, {"A-3", "A"},
				   {"B-1", "B"}};
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(store_agent_add(st, agents[i][0], agents[i][1],
						 agents[i][0], "00"),
				 0);
	struct store_batch *b = store_batch_new(16);
	seed_host(b, "A-1", true);
	seed_host(b, "A-2", false);
	seed_host(b, "A-3", true);
	seed_host(b, "B-1", true);
	int done = 0;
	store_submit(st, b, on_commit, &done);
	while (done == 0)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(done, 1000);
	store_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	/* Ingest records when each agent last spoke; here all just did,
	 * but A3 went silent three days ago. */
	sqlite3 *db;
	char sql[200];
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql),
		 "UPDATE agents SET last_seen = CASE id WHEN 'A-3' THEN %lld "
		 "ELSE %lld END",
		 (long long)(now_us - 3 * DAY_US), (long long)now_us);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s", testutil_tempdir("score"));
	snprintf(path, sizeof(path), "%s/store.db", dir);
	now_us = timeutil_now_us();
	seed();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	testutil_rmtree(dir);
	return 0;
}

static struct store *open_admin(uv_loop_t *loop)
{
	struct store_options o = {.url = path, .cache_bytes = 1 << 20,
				  .batch_max_events = 100};
	struct store *st;
	char err[256];
	assert_int_equal(store_open(&o, loop, &st, err, sizeof(err)), 0);
	return st;
}

static const struct school_score *find(const struct score_report *r,
				       const char *code)
{
	for (size_t i = 0; i < r->nschools; i++)
		if (strcmp(r->schools[i].school.code, code) == 0)
			return &r->schools[i];
	fail_msg("no school %s", code);
	return NULL;
}

static const struct host_score *host(const struct school_score *s,
				     const char *agent)
{
	for (size_t i = 0; i < s->nhosts; i++)
		if (strcmp(s->hosts[i].agent, agent) == 0)
			return &s->hosts[i];
	fail_msg("no host %s", agent);
	return NULL;
}

static void test_scores_and_rollups(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct policy_set pol;
	struct score_report r;
	char err[512];
	uv_loop_init(&loop);
	struct store *st = open_admin(&loop);
	assert_int_equal(policy_set_load("rules/policies", &pol, err,
					 sizeof(err)), 0);
	assert_int_equal(score_compute(st, &pol, NULL, now_us, &r, err,
				       sizeof(err)), 0);

	/* Level 2 weighs 18 in all; av-realtime is 3 of them. */
	const struct school_score *a = find(&r, "A");
	assert_int_equal(a->nhosts, 3);
	assert_float_equal(host(a, "A-1")->score, 100.0, 0.01);
	assert_float_equal(host(a, "A-2")->score, 100.0 * 15 / 18, 0.01);
	assert_true(host(a, "A-3")->stale);
	assert_false(host(a, "A-1")->stale);
	/* A3 counts as 0, and so does the PC that never enrolled. */
	assert_int_equal(a->pcs, 4);
	assert_int_equal(a->fresh, 2);
	assert_int_equal(a->stale, 1);
	assert_int_equal(a->missing, 1);
	double score_a = (100.0 + 100.0 * 15 / 18) / 4;
	assert_float_equal(a->score, score_a, 0.01);
	const struct school_score *b = find(&r, "B");
	assert_float_equal(b->score, 100.0, 0.01);
	const struct school_score *c = find(&r, "C");
	assert_float_equal(c->score, 0.0, 0.01);
	assert_int_equal(c->missing, 2);

	/* Communes and the province weigh schools by their PCs. */
	int pcs;
	assert_float_equal(score_rollup(&r, "X", &pcs),
			   (score_a * 4 + 100.0) / 5, 0.01);
	assert_int_equal(pcs, 5);
	assert_float_equal(score_rollup(&r, "Y", &pcs), 0.0, 0.01);
	assert_float_equal(r.province, (score_a * 4 + 100.0) / 7, 0.01);
	assert_int_equal(r.province_pcs, 7);

	/* Explain: each failing check names its evidence. */
	const struct host_score *a2 = host(a, "A-2");
	bool seen = false;
	for (size_t i = 0; i < a2->nresults; i++) {
		const struct check_result *cr = &a2->results[i];
		if (strcmp(cr->check->id, "av-realtime") == 0) {
			assert_false(cr->pass);
			assert_string_equal(cr->evidence, "av.status.realtime = "
							  "false; wants eq true");
			seen = true;
		} else {
			assert_true(cr->pass);
		}
	}
	assert_true(seen);
	const struct host_score *a3 = host(a, "A-3");
	for (size_t i = 0; i < a3->nresults; i++)
		if (strcmp(a3->results[i].check->id, "agent-reporting") == 0) {
			assert_false(a3->results[i].pass);
			assert_non_null(strstr(a3->results[i].evidence,
					       "was 3d 0h ago; wants within 4h"));
		}
	score_report_free(&r);

	/* One school, and an unknown one. */
	assert_int_equal(score_compute(st, &pol, "B", now_us, &r, err,
				       sizeof(err)), 0);
	assert_int_equal(r.nschools, 1);
	score_report_free(&r);
	assert_int_equal(score_compute(st, &pol, "Z", now_us, &r, err,
				       sizeof(err)), -ENOENT);
	policy_set_free(&pol);
	store_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
}

static void test_check_without_state(void **state)
{
	(void)state;
	struct policy_check c = {.op = CHECK_EQ};
	struct check_result res;
	snprintf(c.state, sizeof(c.state), "av.status");
	snprintf(c.field, sizeof(c.field), "realtime");
	snprintf(c.test, sizeof(c.test), "eq");
	snprintf(c.value, sizeof(c.value), "true");
	score_check(&c, NULL, 0, 1, 2, &res);
	assert_false(res.pass);
	assert_string_equal(res.evidence, "no av.status reported");
	/* A state without the field fails too, and says so. */
	char body[] = {(char)0x80}; /* an empty msgpack map */
	struct store_host_row row = {.kind = "av.status", .body = body,
				     .body_len = 1};
	score_check(&c, &row, 1, 1, 2, &res);
	assert_false(res.pass);
	assert_string_equal(res.evidence, "av.status has no field realtime");
}

static void write_file(const char *name, const char *text)
{
	testutil_write_file(dir, name, text);
}

static void test_policy_errors(void **state)
{
	(void)state;
	static const char head[] = "level: 1\nname_vi: a\nname_en: a\nchecks:\n";
	static const char check[] =
		"  - id: x\n    weight: 1\n    control: c\n    title_vi: t\n"
		"    title_en: t\n    rationale_vi: r\n    rationale_en: r\n"
		"    remediation_vi: m\n    remediation_en: m\n"
		"    state: av.status\n    field: f\n";
	const char *tails[][2] = {
		{"    test: equals\n    value: 1\n", "test 'equals' is not one of"},
		{"    test: age_le\n    value: soon\n", "'soon' is not a duration"},
		{"    test: le\n    value: three\n", "'three' is not a number"},
		{"    test: eq\n", "test 'eq' needs a value"},
	};
	char text[2048], err[512], p[700];
	struct policy pol;
	snprintf(p, sizeof(p), "%s/p.yaml", dir);
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		snprintf(text, sizeof(text), "%s%s%s", head, check, tails[i][0]);
		write_file("p.yaml", text);
		assert_int_equal(policy_load(p, &pol, err, sizeof(err)), -EINVAL);
		if (strstr(err, tails[i][1]) == NULL || strstr(err, "check 'x'") == NULL)
			fail_msg("got '%s', want '%s'", err, tails[i][1]);
	}
	snprintf(text, sizeof(text), "%s%s    test: present\n%s    test: present\n",
		 head, check, check);
	write_file("p.yaml", text);
	assert_int_equal(policy_load(p, &pol, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "check id 'x' is used twice"));
	snprintf(text, sizeof(text), "%s%s    test: present\n    weight: 2\n",
		 head, check);
	write_file("p.yaml", text);
	assert_int_equal(policy_load(p, &pol, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "p.yaml:17: key 'checks[0].weight': "
				    "duplicate key"));
}

/* ---- daily snapshots, compliance drops, silent agents ------------------ */

static const struct alert_rule *shipped_rule(struct alert_rules *rules,
					     const char *kind)
{
	char err[512];
	assert_int_equal(alert_rules_load("rules/alerts.yaml", rules, err,
					  sizeof(err)), 0);
	const struct alert_rule *rule = alert_rule_for(rules, kind);
	assert_non_null(rule);
	return rule;
}

struct drops {
	int n;
	char school[STORE_CODE_MAX + 1];
	double drop;
};

static void on_drop(void *arg, const struct alert_rule *rule,
		    const char *school, double drop)
{
	struct drops *d = arg;
	assert_string_equal(rule->kind, "compliance.drop");
	snprintf(d->school, sizeof(d->school), "%s", school);
	d->drop = drop;
	d->n++;
}

struct alerts_seen {
	const char *rule;
	int n;
	struct store_alert last;
};

static void on_alert(void *arg, const struct store_alert *a)
{
	struct alerts_seen *s = arg;
	if (strcmp(a->rule, s->rule) != 0)
		return;
	s->last = *a;
	s->n++;
}

static void on_snap(void *arg, const struct store_snapshot *sn)
{
	*(struct store_snapshot *)arg = *sn;
}

/* score_snapshot records every school, each commune once and the
 * province; a school that fell 10 points or more since its last
 * snapshot of another day opens one compliance-drop alert, and a second
 * snapshot the same day folds into it. */
static void test_snapshot_and_drop(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct policy_set pol;
	struct score_report r;
	struct alert_rules rules;
	char err[512], today[11], yesterday[11];
	bool exists = true;
	uv_loop_init(&loop);
	struct store *st = open_admin(&loop);
	const struct alert_rule *drop_rule = shipped_rule(&rules,
							  "compliance.drop");
	assert_int_equal(policy_set_load("rules/policies", &pol, err,
					 sizeof(err)), 0);
	assert_int_equal(score_compute(st, &pol, NULL, now_us, &r, err,
				       sizeof(err)), 0);
	score_day(now_us, today);
	score_day(now_us - DAY_US, yesterday);
	assert_int_equal(strlen(today), 10);
	assert_string_not_equal(today, yesterday);
	assert_int_equal(score_snapshot_exists(st, today, &exists), 0);
	assert_false(exists);

	/* Yesterday A stood 50 points higher, B where it is now. */
	const struct school_score *a = find(&r, "A");
	struct store_snapshot before = {.score = a->score + 50, .pcs = 4};
	snprintf(before.day, sizeof(before.day), "%s", yesterday);
	snprintf(before.scope, sizeof(before.scope), "school");
	snprintf(before.key, sizeof(before.key), "A");
	assert_int_equal(store_snapshot_put(st, &before), 0);
	snprintf(before.key, sizeof(before.key), "B");
	before.score = find(&r, "B")->score;
	assert_int_equal(store_snapshot_put(st, &before), 0);

	struct drops d = {0};
	int n = 0;
	assert_int_equal(score_snapshot(st, &r, drop_rule, today, on_drop, &d,
					&n), 0);
	assert_int_equal(n, 3 + 2 + 1); /* schools A B C, communes X Y */
	assert_int_equal(d.n, 1);
	assert_string_equal(d.school, "A");
	assert_float_equal(d.drop, 50.0, 0.01);
	assert_int_equal(score_snapshot_exists(st, today, &exists), 0);
	assert_true(exists);
	struct store_snapshot got = {0};
	assert_int_equal(store_snapshot_list(st, "commune", "X", 1, on_snap,
					     &got), 0);
	int pcs;
	assert_string_equal(got.day, today);
	assert_float_equal(got.score, score_rollup(&r, "X", &pcs), 0.01);
	assert_int_equal(got.pcs, pcs);
	assert_int_equal(store_snapshot_list(st, "province", "", 1, on_snap,
					     &got), 0);
	assert_float_equal(got.score, r.province, 0.01);
	assert_int_equal(got.pcs, r.province_pcs);
	struct alerts_seen seen = {.rule = "compliance-drop"};
	assert_int_equal(store_alert_list(st, NULL, NULL, 100, on_alert, &seen),
			 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.last.school, "A");
	assert_non_null(strstr(seen.last.evidence, "\"before_day\":\""));
	assert_non_null(strstr(seen.last.evidence, yesterday));

	/* Again the same day: the open alert counts it, none is new. */
	d.n = 0;
	assert_int_equal(score_snapshot(st, &r, drop_rule, today, on_drop, &d,
					&n), 0);
	assert_int_equal(d.n, 0);
	seen.n = 0;
	assert_int_equal(store_alert_list(st, NULL, NULL, 100, on_alert, &seen),
			 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.last.count, 2);

	/* No rule, no alert; a drop below the rule's 10 points, none. */
	double drop = -1;
	assert_int_equal(alert_check_drop(st, NULL, "A", 0, today, &drop), 0);
	assert_float_equal(drop, 0, 0);
	assert_int_equal(alert_check_drop(st, drop_rule, "B", 95.0, today,
					  &drop), 0);
	/* A school with no earlier snapshot has nothing to drop from. */
	assert_int_equal(alert_check_drop(st, drop_rule, "C", 0, today, &drop),
			 0);
	score_report_free(&r);
	policy_set_free(&pol);
	alert_rules_free(&rules);
	store_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
}

/* alert_sweep_silence raises agent.silent for A-3, silent three days,
 * and for no PC that reported; a second sweep folds into that alert. */
static void test_sweep_silence(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct alert_rules rules;
	size_t raised = 99;
	uv_loop_init(&loop);
	struct store *st = open_admin(&loop);
	const struct alert_rule *rule = shipped_rule(&rules, "agent.silent");
	assert_int_equal(alert_sweep_silence(st, NULL, now_us, 86400, &raised),
			 0);
	assert_int_equal(raised, 0);
	assert_int_equal(alert_sweep_silence(st, rule, now_us, 86400, &raised),
			 0);
	assert_int_equal(raised, 1);
	struct alerts_seen seen = {.rule = "agent-silent"};
	assert_int_equal(store_alert_list(st, NULL, NULL, 100, on_alert, &seen),
			 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.last.agent, "A-3");
	assert_string_equal(seen.last.school, "A");
	assert_non_null(strstr(seen.last.evidence, "\"silent_s\":259200"));
	assert_int_equal(alert_sweep_silence(st, rule, now_us, 86400, &raised),
			 0);
	assert_int_equal(raised, 1);
	seen.n = 0;
	assert_int_equal(store_alert_list(st, NULL, NULL, 100, on_alert, &seen),
			 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.last.count, 2);
	/* Stale after four days: nobody is silent yet. */
	assert_int_equal(alert_sweep_silence(st, rule, now_us, 4 * 86400,
					     &raised), 0);
	assert_int_equal(raised, 0);
	alert_rules_free(&rules);
	store_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scores_and_rollups),
		cmocka_unit_test(test_check_without_state),
		cmocka_unit_test(test_policy_errors),
		cmocka_unit_test(test_snapshot_and_drop),
		cmocka_unit_test(test_sweep_silence),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
