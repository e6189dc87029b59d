/* Unit tests for collector/drill/drill_redteam: the shape of a red-team
 * action (technique id, time, target), the CSV import that loads all or
 * nothing, and the matching rule whose figures the scoreboard shows. */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "collector/drill/drill_redteam.h"
#include "collector/drill/drill_timeline.h"
#include "common/alloc.h"

#define S(x) (x), strlen(x)
#define T0 1796216400000000LL /* 2026-12-02T13:00:00Z */
#define SEC 1000000LL

static void test_technique_shape(void **state)
{
	(void)state;
	static const char *const good[] = {"T1059", "T1059.001", "T0000"};
	static const char *const bad[] = {
		"", "T", "T105", "T10590", "t1059", "1059", "T1059.", "T1059.1",
		"T1059.01", "T1059.0001", "T1059-001", "T1O59", "TA0001",
		"T1059.001 ", " T1059", "T1059\n"};
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_true(drill_technique_valid(S(good[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_false(drill_technique_valid(S(bad[i])));
}

static void test_time_parse(void **state)
{
	(void)state;
	int64_t us = 0;
	assert_int_equal(drill_time_parse(S("2026-12-02T13:00:00Z"), &us), 0);
	assert_int_equal(us, T0);
	assert_int_equal(drill_time_parse(S("2026-12-02T13:00:00.5Z"), &us), 0);
	assert_int_equal(us, T0 + SEC / 2);
	assert_int_equal(drill_time_parse(S("2026-12-02T13:00:00.000001Z"),
					  &us), 0);
	assert_int_equal(us, T0 + 1);
	assert_int_equal(drill_time_parse(S("2028-02-29T00:00:00Z"), &us), 0);
	assert_int_equal(drill_time_parse(S("2000-01-01T00:00:00Z"), &us), 0);
	assert_int_equal(us, 946684800LL * SEC);
	static const char *const bad[] = {
		"2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
		"2026-04-31T00:00:00Z", "2026-12-02T24:00:00Z",
		"2026-12-02T13:60:00Z", "2026-12-02 13:00:00Z",
		"2026-12-02T13:00:00", "2026-12-02T13:00:00+07:00",
		"1999-12-31T23:59:59Z", "2100-01-01T00:00:00Z",
		"2026-12-02T13:00:00.Z", "2026-12-02T13:00:00.1234567Z",
		"2026-12-2T13:00:00Z", "", "Z"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(drill_time_parse(S(bad[i]), &us), -EINVAL);
}

static void test_csv_all_or_nothing(void **state)
{
	(void)state;
	struct store_redteam_action *a = NULL;
	size_t n = 0;
	char err[256];
	const char *good = "technique,description,target,time\r\n"
			   "T1059.001,\"powershell, encoded\",host:PC-01,"
			   "2026-12-02T13:00:00Z\r\n"
			   "T1566,phishing,school:A1,2026-12-02T13:05:00Z\r\n"
			   "\r\n";
	assert_int_equal(drill_action_csv_load(S(good), &a, &n, err,
					       sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(a[0].target_kind, "host");
	assert_string_equal(a[0].target, "PC-01");
	assert_string_equal(a[0].description, "powershell, encoded");
	assert_string_equal(a[1].target_kind, "school");
	assert_int_equal(a[1].at_us, T0 + 300 * SEC);
	alloc_free(a);
	const struct {
		const char *csv, *why;
	} bad[] = {
		{"time,target,technique,description\n"
		 "2026-12-02T13:00:00Z,host:a,T1059,ok\n"
		 "2026-12-02T13:00:00Z,host:a,T10590,bad\n",
		 "line 3, column technique"},
		{"time,target,technique,description\n"
		 "2026-12-02T13:00:00Z,pc:a,T1059,x\n", "line 2, column target"},
		{"time,target,technique,description\n"
		 "2026-12-02T13:00:00Z,school:a b,T1059,x\n",
		 "line 2, column target"},
		{"time,target,technique,description\n"
		 "2026-12-02T13:00:00Z,host:a,T1059,\x1b[31m\n",
		 "line 2, column description"},
		{"time,target,technique,description\n"
		 "2026-12-02T13:00:00Z,host:a,T1059,\n",
		 "line 2, column description"},
		{"time,target,technique\n", "no 'description'"},
		{"time,target,technique,description,time\n", "given twice"},
		{"time,target,technique,description\n", "names no action"},
		{"", "the file is empty"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		a = (void *)1;
		assert_int_equal(drill_action_csv_load(S(bad[i].csv), &a, &n,
						       err, sizeof(err)),
				 -EINVAL);
		assert_null(a);
		assert_int_equal(n, 0);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, err,
				 bad[i].why);
	}
}

static struct store_redteam_action action(int64_t at, const char *kind,
					  const char *target)
{
	struct store_redteam_action a;
	memset(&a, 0, sizeof(a));
	a.at_us = at;
	snprintf(a.target_kind, sizeof(a.target_kind), "%s", kind);
	snprintf(a.target, sizeof(a.target), "%s", target);
	return a;
}

static struct store_redteam_alert alert(uint64_t id, const char *agent,
					const char *host, const char *school,
					int64_t first, int64_t ack)
{
	struct store_redteam_alert a;
	memset(&a, 0, sizeof(a));
	a.id = id;
	snprintf(a.agent, sizeof(a.agent), "%s", agent);
	snprintf(a.hostname, sizeof(a.hostname), "%s", host);
	snprintf(a.school, sizeof(a.school), "%s", school);
	a.first_us = first;
	a.ack_us = ack;
	return a;
}

/* Four actions, five alerts: by agent id, by hostname (any case), by
 * school, one undetected (its alert comes after W), and one alert
 * before every action (false). */
static void test_matching_rule(void **state)
{
	(void)state;
	const int64_t W = 60 * SEC;
	struct store_redteam_action act[] = {
		action(T0, "host", "A1-pc1"),
		action(T0 + 10 * SEC, "host", "pc2.school"),
		action(T0 + 20 * SEC, "school", "B1"),
		action(T0 + 30 * SEC, "host", "A1-pc3"),
	};
	struct store_redteam_alert al[] = {
		alert(1, "A1-pc1", "PC1", "A1", T0 - SEC, 0),
		alert(2, "A1-pc1", "PC1", "A1", T0 + 4 * SEC, T0 + 40 * SEC),
		alert(3, "A1-pc2", "PC2.SCHOOL", "A1", T0 + 12 * SEC, 0),
		alert(4, "B1-pc9", "x", "B1", T0 + 20 * SEC + W, T0 + 200 * SEC),
		alert(5, "A1-pc3", "pc3", "A1", T0 + 31 * SEC + W, 0),
	};
	struct drill_redteam_match m[4];
	struct drill_redteam_figures f;
	assert_int_equal(drill_redteam_match(act, 4, al, 5, W, m, &f), 0);
	assert_int_equal(m[0].alert, 1);
	assert_int_equal(m[0].detect_ms, 4000);
	assert_int_equal(m[0].ack_ms, 40000);
	assert_int_equal(m[1].alert, 2);
	assert_int_equal(m[1].detect_ms, 2000);
	assert_int_equal(m[1].ack_ms, -1);
	assert_int_equal(m[2].alert, 3); /* at t + W exactly: inside */
	assert_int_equal(m[2].detect_ms, 60000);
	assert_int_equal(m[2].ack_ms, 180000);
	assert_int_equal(m[3].alert, -1);
	assert_int_equal(m[3].detect_ms, -1);
	assert_int_equal(f.actions, 4);
	assert_int_equal(f.detected, 3);
	assert_int_equal(f.acknowledged, 2);
	assert_int_equal(f.alerts, 5);
	assert_int_equal(f.false_alerts, 2); /* before any action; after W */
	assert_true(f.coverage > 0.7499 && f.coverage < 0.7501);
	assert_true(f.false_rate > 0.3999 && f.false_rate < 0.4001);
	assert_int_equal(f.detect_p50_ms, 4000);
	assert_int_equal(f.detect_p90_ms, 60000);
	assert_int_equal(f.ack_p50_ms, 40000);
	assert_int_equal(f.ack_p90_ms, 180000);
	/* Nothing to match: no division by zero, no figure made up. */
	assert_int_equal(drill_redteam_match(act, 0, al, 0, W, m, &f), 0);
	assert_int_equal(f.detected, 0);
	assert_true(f.coverage == 0 && f.false_rate == 0);
	assert_int_equal(f.detect_p50_ms, -1);
	assert_int_equal(f.ack_p90_ms, -1);
}

static struct store_redteam_action recorded(int64_t at, const char *kind,
					    const char *target,
					    int64_t created)
{
	struct store_redteam_action a = action(at, kind, target);
	a.created_us = created;
	return a;
}

/* An action recorded after the first alert that matches it arrived is
 * set apart: no detection, out of the coverage, and an alert only late
 * actions match stays a false alert; an alert arriving in the very
 * microsecond of the recording is not before it. */
static void test_recorded_late(void **state)
{
	(void)state;
	struct store_redteam_action act[] = {
		recorded(T0, "host", "pc1", T0 + 2 * SEC),
		recorded(T0, "host", "pc2", T0 + 100 * SEC),
		recorded(T0 + 45 * SEC, "host", "pc3", T0 + 60 * SEC),
		recorded(T0 + 40 * SEC, "school", "A1", T0 + 41 * SEC),
		recorded(T0, "host", "pc4", T0 + SEC),
		recorded(T0, "host", "pc5", T0 + 70 * SEC),
	};
	struct store_redteam_alert al[] = {
		alert(1, "pc1", "", "A9", T0 + 5 * SEC, 0),
		alert(2, "pc2", "", "A9", T0 + 30 * SEC, T0 + 31 * SEC),
		alert(3, "pc3", "", "A1", T0 + 50 * SEC, 0),
		alert(4, "pc5", "", "A9", T0 + 70 * SEC, 0),
	};
	struct drill_redteam_match m[6];
	struct drill_redteam_figures f;
	assert_int_equal(drill_redteam_match(act, 6, al, 4,
					     DRILL_REDTEAM_MATCH_US, m, &f), 0);
	assert_false(m[0].late);
	assert_int_equal(m[0].detect_ms, 5000);
	assert_true(m[1].late); /* its alert came 70 s before it */
	assert_int_equal(m[1].alert, 1);
	assert_int_equal(m[1].detect_ms, -1);
	assert_int_equal(m[1].ack_ms, -1);
	assert_true(m[2].late);
	assert_int_equal(m[2].alert, 2);
	assert_false(m[3].late); /* the same alert, after its recording */
	assert_int_equal(m[3].alert, 2);
	assert_int_equal(m[3].detect_ms, 10000);
	assert_false(m[4].late);
	assert_int_equal(m[4].alert, -1);
	assert_false(m[5].late); /* alert and recording in one microsecond */
	assert_int_equal(m[5].detect_ms, 70000);
	assert_int_equal(f.actions, 6);
	assert_int_equal(f.late, 2);
	assert_int_equal(f.detected, 3);
	assert_int_equal(f.acknowledged, 0); /* only the late one's was */
	assert_true(f.coverage > 0.7499 && f.coverage < 0.7501); /* 3 / 4 */
	assert_int_equal(f.false_alerts, 1); /* alert 2: a late one's only */
	assert_int_equal(f.detect_p90_ms, 70000);
	/* Only late actions: no coverage made up from nothing. */
	assert_int_equal(drill_redteam_match(&act[1], 1, al, 4,
					     DRILL_REDTEAM_MATCH_US, m, &f), 0);
	assert_int_equal(f.late, 1);
	assert_true(f.coverage == 0);
	assert_int_equal(f.false_alerts, 4);
	/* Before recording: which would be late now. */
	struct store_redteam_action next[] = {
		action(T0, "host", "pc2"),	       /* alert 2 is in */
		action(T0 + 10 * SEC, "host", "pc1"),  /* alert 1 before it */
		action(T0 + 60 * SEC, "host", "pc5"),  /* alert 4 not yet */
	};
	assert_int_equal(drill_redteam_count_late(next, 3, T0 + 60 * SEC, al,
						  4), 1);
}

/* A claimed time is bounded by the clock before the window is looked
 * at: drill.redteam_grace back (4 h by default), 5 minutes ahead. */
static void test_claim_bounds(void **state)
{
	(void)state;
	struct store_drill d;
	char err[256];
	memset(&d, 0, sizeof(d));
	d.id = 7;
	snprintf(d.name, sizeof(d.name), "w");
	d.window_start_us = T0 - 30 * 3600 * SEC;
	d.window_end_us = T0 + 3600 * SEC;
	struct store_redteam_action a = action(T0 - 3 * 3600 * SEC, "host",
					       "pc1");
	assert_int_equal(drill_redteam_prepare(&d, "org", T0, 0, &a, 1, err,
					       sizeof(err)), 0);
	assert_int_equal(a.campaign, 7);
	assert_string_equal(a.recorded_by, "org");
	a.at_us = T0 - 5 * 3600 * SEC;
	assert_int_equal(drill_redteam_prepare(&d, "org", T0, 0, &a, 1, err,
					       sizeof(err)), -ERANGE);
	assert_non_null(strstr(err, "action 1: time 2026-12-02T08:00:00"));
	assert_non_null(strstr(err, "drill.redteam_grace"));
	assert_int_equal(drill_redteam_prepare(&d, "org", T0, 6 * 3600, &a, 1,
					       err, sizeof(err)), 0);
	a.at_us = T0 + 4 * 60 * SEC;
	assert_int_equal(drill_redteam_prepare(&d, "org", T0, 0, &a, 1, err,
					       sizeof(err)), 0);
	a.at_us = T0 + 6 * 60 * SEC;
	assert_int_equal(drill_redteam_prepare(&d, "org", T0, 0, &a, 1, err,
					       sizeof(err)), -ERANGE);
	assert_non_null(strstr(err, "in the future"));
	a.at_us = T0 - 31 * 3600 * SEC; /* inside the grace, not the window */
	assert_int_equal(drill_redteam_prepare(&d, "org", T0, 32 * 3600, &a, 1,
					       err, sizeof(err)), -ERANGE);
	assert_non_null(strstr(err, "outside the window"));
}

static void test_quantile_nearest_rank(void **state)
{
	(void)state;
	int64_t v[] = {50, 10, 40, 20, 30, 60, 70, 80, 90, 100};
	assert_int_equal(drill_quantile(v, 10, 50), 50);
	assert_int_equal(drill_quantile(v, 10, 90), 90);
	assert_int_equal(drill_quantile(v, 1, 90), 10);
	assert_int_equal(drill_quantile(v, 0, 50), -1);
}

static struct store_drill_target target(const char *school,
					const char *status, uint64_t command,
					int64_t sent, int64_t injected)
{
	struct store_drill_target t;
	memset(&t, 0, sizeof(t));
	snprintf(t.school, sizeof(t.school), "%s", school);
	snprintf(t.status, sizeof(t.status), "%s", status);
	t.command = command;
	t.issued_us = T0;
	t.sent_us = sent;
	t.injected_us = injected;
	return t;
}

/* The scoreboard row of a group: who took part, why the others did
 * not, and each stage's share, median and p90 from the command queued. */
static void test_board_row(void **state)
{
	(void)state;
	struct store_drill_target ts[] = {
		target("A1", "queued", 1, T0 + SEC, T0 + 2 * SEC),
		target("A1", "queued", 2, T0 + SEC, T0 + 6 * SEC),
		target("A1", "queued", 3, 0, 0), /* offline all along */
		target("B1", "queued", 4, T0 + SEC, T0 + 4 * SEC),
		target("B1", "stale", 0, 0, 0),
		target("B1", "revoked", 0, 0, 0),
	};
	int64_t scratch[6];
	struct drill_board b;
	drill_board_compute(ts, 6, NULL, NULL, scratch, &b);
	assert_int_equal(b.targets, 6);
	assert_int_equal(b.took_part, 4);
	assert_int_equal(b.stale, 1);
	assert_int_equal(b.revoked, 1);
	assert_int_equal(b.never_reached, 1);
	assert_int_equal(b.passed, 0); /* nobody detected or cleaned up */
	const struct drill_board_stage *inj = &b.stage[DRILL_STAGE_INJECTED];
	assert_int_equal(inj->reached, 3);
	assert_true(inj->share > 0.7499 && inj->share < 0.7501);
	assert_int_equal(inj->p50_ms, 4000);
	assert_int_equal(inj->p90_ms, 6000);
	assert_int_equal(b.stage[DRILL_STAGE_DETECTED].reached, 0);
	assert_int_equal(b.stage[DRILL_STAGE_DETECTED].p50_ms, -1);
	const bool school_b[] = {false, false, false, true, true, true};
	drill_board_compute(ts, 6, school_b, NULL, scratch, &b);
	assert_int_equal(b.targets, 3);
	assert_int_equal(b.took_part, 1);
	assert_int_equal(b.stage[DRILL_STAGE_INJECTED].p90_ms, 4000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_technique_shape),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_csv_all_or_nothing),
		cmocka_unit_test(test_matching_rule),
		cmocka_unit_test(test_recorded_late),
		cmocka_unit_test(test_claim_bounds),
		cmocka_unit_test(test_quantile_nearest_rank),
		cmocka_unit_test(test_board_row),
	};
	return cmocka_run_group_tests_name("drill_redteam", tests, NULL, NULL);
}
