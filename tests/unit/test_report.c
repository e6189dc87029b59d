/* Unit tests for collector/report's periods, calendars and scopes, and
 * collector/register's CSV reader and approval rule: the pure parsers under the report
 * suite, with their edges (leap days, CRLF, quoted line breaks, BOM). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "collector/register/register.h"
#include "collector/report/report.h"
#include "common/alloc.h"

static void test_periods(void **state)
{
	struct report_calendar cal;
	struct report_period p;
	char err[256];
	(void)state;
	report_calendar_default(&cal);
	assert_int_equal(report_period_parse("2026-H1", &cal, &p, err,
					     sizeof(err)), 0);
	assert_string_equal(p.from, "2025-12-01");
	assert_string_equal(p.to, "2026-05-31");
	assert_string_equal(p.due, "2026-06-05");
	assert_false(p.annual);
	/* 182 days: Dec 2025 to May 2026 (no 29 February in 2026). */
	assert_int_equal((p.end_us - p.from_us) / 86400000000LL, 182);
	assert_int_equal(report_period_parse("2028", &cal, &p, err,
					     sizeof(err)), 0);
	assert_string_equal(p.from, "2027-12-01");
	assert_string_equal(p.to, "2028-11-30");
	assert_string_equal(p.due, "2028-12-05");
	assert_int_equal((p.end_us - p.from_us) / 86400000000LL, 366);
	static const char *const bad[] = {"", "26", "2026-H2", "2026-h1",
					  "1999", "2100", "2999-H1", "2026 ",
					  "-2026", "20x6"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(report_period_parse(bad[i], &cal, &p, err,
						     sizeof(err)), -EINVAL);
}

static void test_calendar(void **state)
{
	struct report_calendar cal;
	struct report_period p;
	char err[256];
	(void)state;
	assert_int_equal(report_calendar_parse("01-01..06-30 due 07-15",
					       "01-01..12-31 due 01-15", 7,
					       &cal, err, sizeof(err)), 0);
	assert_int_equal(report_period_parse("2026", &cal, &p, err,
					     sizeof(err)), 0);
	assert_string_equal(p.from, "2026-01-01");
	assert_string_equal(p.due, "2027-01-15"); /* due the next year */
	assert_int_equal(cal.draft_days_before, 7);
	assert_int_not_equal(report_calendar_parse("02-30..06-30 due 07-15",
						   "01-01..12-31 due 01-15",
						   7, &cal, err, sizeof(err)),
			     0);
	assert_int_not_equal(report_calendar_parse("01-01..06-30 due 07-15x",
						   "01-01..12-31 due 01-15",
						   7, &cal, err, sizeof(err)),
			     0);
	assert_int_not_equal(report_calendar_parse("01-01..06-30 due 07-15",
						   "01-01..12-31 due 01-15",
						   91, &cal, err, sizeof(err)),
			     0);
}

static void test_scopes(void **state)
{
	struct report_scope s;
	char err[256];
	(void)state;
	assert_int_equal(report_scope_parse("province", &s, err, sizeof(err)), 0);
	assert_int_equal(s.kind, SCOPE_PROVINCE);
	assert_int_equal(report_scope_parse("commune:Xã Hòa Bình", &s, err,
					    sizeof(err)), 0);
	assert_string_equal(s.key, "Xã Hòa Bình");
	assert_string_equal(s.id, "commune:Xã Hòa Bình");
	assert_int_equal(report_scope_parse("school:S-01.a", &s, err,
					    sizeof(err)), 0);
	static const char *const bad[] = {"commune:", "school:", "school:a b",
					  "commune:\x1b[2J", "commune:\xc3",
					  "district:X", "Province"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(report_scope_parse(bad[i], &s, err,
						    sizeof(err)), -EINVAL);
}

static void test_dates(void **state)
{
	(void)state;
	assert_true(register_date_valid("2028-02-29", 10));
	assert_false(register_date_valid("2026-02-29", 10));
	assert_false(register_date_valid("2100-02-28", 10));
	assert_false(register_date_valid("1999-12-31", 10));
	assert_false(register_date_valid("2026-13-01", 10));
	assert_false(register_date_valid("2026-1-01", 9));
	assert_false(register_date_valid("2026/01/01", 10));
}

/* The PDF's dates: every ISO date standing alone becomes dd/mm/yyyy, and
 * nothing that only looks like one changes. */
static void test_dates_vn(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"2026-05-31", "31/05/2026"},
		{"từ ngày 2025-12-01 đến ngày 2026-05-31)",
		 "từ ngày 01/12/2025 đến ngày 31/05/2026)"},
		{"2026-02-10..2026-02-12, 2026-07-04",
		 "10/02/2026..12/02/2026, 04/07/2026"},
		{"2026-H1", "2026-H1"},
		{"2026-13-01 2026-00-10 2026-01-32", "2026-13-01 2026-00-10 2026-01-32"},
		{"x2026-01-01 2026-01-011 a-2026-01-01b", "x2026-01-01 2026-01-011 a-2026-01-01b"},
		{"12026-01-01", "12026-01-01"},
		{"2026-01-0", "2026-01-0"},
		{"", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[128];
		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		report_dates_vn(buf);
		assert_string_equal(buf, cases[i].want);
	}
}

static void test_csv(void **state)
{
	static const char text[] =
		"\xef\xbb\xbfname,unit,kind,level,dossier\r\n"
		"\"Mạng \"\"LAN\"\", tầng 2\",S1,lan,3,drafted\r\n"
		"\r\n"
		"Web,S2,web,1,not_started";
	struct store_system *items;
	size_t n;
	char err[256];
	(void)state;
	assert_int_equal(register_csv_load(text, sizeof(text) - 1, &items, &n,
					   err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(items[0].name, "Mạng \"LAN\", tầng 2");
	assert_string_equal(items[0].unit, "S1");
	assert_int_equal(items[0].level, 3);
	assert_string_equal(items[1].dossier, "not_started");
	alloc_free(items);
	/* A quoted line break is part of the field (and a control
	 * character in a name); the line after it counts on. */
	static const char broken[] = "unit,name,kind,level,dossier\n"
				     "S1,\"a\nb\",lan,1,drafted\n"
				     "S1,c,lan,9,drafted\n";
	assert_int_equal(register_csv_load(broken, sizeof(broken) - 1, &items,
					   &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 2, column name"));
	static const char later[] = "unit,name,kind,level,dossier\n"
				    "S1,\"a\nb\",lan,1,drafted,x\n";
	assert_int_equal(register_csv_load(later, sizeof(later) - 1, &items,
					   &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 2: 6 columns"));
	static const char third[] = "unit,name,kind,level,dossier\n"
				    "S1,\"a,b\",lan,1,drafted\n"
				    "S2,\"x\ny\",lan,1\n";
	assert_int_equal(register_csv_load(third, sizeof(third) - 1, &items,
					   &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 3: 4 columns"));
	assert_int_equal(register_csv_load("", 0, &items, &n, err,
					   sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty"));
	static const char nul[] = "unit,name,kind,level,dossier\nS\0,a,b,1,drafted\n";
	assert_int_equal(register_csv_load(nul, sizeof(nul) - 1, &items, &n,
					   err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "NUL"));
}

static void sys_init(struct store_system *y, int level, const char *dossier)
{
	memset(y, 0, sizeof(*y));
	snprintf(y->unit, sizeof(y->unit), "A1");
	snprintf(y->name, sizeof(y->name), "LAN");
	snprintf(y->kind, sizeof(y->kind), "lan");
	y->level = level;
	snprintf(y->dossier, sizeof(y->dossier), "%s", dossier);
}

static void sys_decide(struct store_system *y, const char *no)
{
	snprintf(y->authority, sizeof(y->authority), "So GD&DT");
	snprintf(y->decision_no, sizeof(y->decision_no), "%s", no);
	snprintf(y->decision_date, sizeof(y->decision_date), "2026-03-01");
}

/* A proposal (not_started, drafted, submitted, its proposed level) is the
 * unit's; approving, undoing an approval or changing an approved level or
 * any decision is the province's. */
static void test_approval_rule(void **state)
{
	struct store_system old, y;
	char d[512];
	(void)state;
	sys_init(&y, 3, "drafted");
	assert_false(register_change_is_approval(NULL, &y));
	sys_init(&old, 2, "submitted");
	assert_false(register_change_is_approval(&old, &y));
	snprintf(y.dossier, sizeof(y.dossier), "approved");
	sys_decide(&y, "12/QD");
	assert_true(register_change_is_approval(NULL, &y));
	assert_true(register_change_is_approval(&old, &y));
	sys_init(&y, 2, "submitted");
	sys_decide(&y, "12/QD");
	assert_true(register_change_is_approval(&old, &y));

	sys_init(&old, 3, "approved");
	sys_decide(&old, "12/QD");
	y = old;
	snprintf(y.hosts, sizeof(y.hosts), "pc1,pc2");
	snprintf(y.review_due, sizeof(y.review_due), "2027-06-30");
	assert_false(register_change_is_approval(&old, &y));
	y.level = 1;
	assert_true(register_change_is_approval(&old, &y));
	y = old;
	snprintf(y.dossier, sizeof(y.dossier), "drafted");
	assert_true(register_change_is_approval(&old, &y));
	y = old;
	sys_decide(&y, "13/QD");
	assert_true(register_change_is_approval(&old, &y));

	register_diff(&old, &old, d, sizeof(d));
	assert_string_equal(d, "");
	y = old;
	y.level = 1;
	snprintf(y.hosts, sizeof(y.hosts), "pc9");
	register_diff(&old, &y, d, sizeof(d));
	assert_string_equal(d, "level '3'->'1'; hosts ''->'pc9'");
	register_diff(NULL, &y, d, sizeof(d));
	assert_non_null(strstr(d, "dossier ''->'approved'"));
	memset(y.hosts, 'h', sizeof(y.hosts) - 1);
	y.hosts[sizeof(y.hosts) - 1] = '\0';
	register_diff(&old, &y, d, 40);
	assert_int_equal(strlen(d), 39);
	assert_memory_equal(d, "level '3'->'1'", 14);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_periods),
		cmocka_unit_test(test_calendar),
		cmocka_unit_test(test_scopes),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_dates_vn),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_approval_rule),
	};
	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
