/* The "vi" collation: Vietnamese dictionary order for names in lists,
 * against the comparator alone and through SQLite's ORDER BY. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "collector/store_sqlite.h"

static int cmp(const char *a, const char *b)
{
	return sqlite_collate_vi(NULL, (int)strlen(a), a, (int)strlen(b), b);
}

static void test_alphabet_order(void **state)
{
	(void)state;
	/* a < ă < â < b, d < đ < e, o < ô < ơ < p, u < ư < v */
	const char *order[] = {"An Lạc", "Ăn", "Ân Phú", "Bình Minh", "Dương",
			       "Đông Hòa", "Em", "Ô Môn", "Ơn", "Phú", "Uyên",
			       "Ưng", "Vĩnh"};
	size_t n = sizeof(order) / sizeof(order[0]);
	for (size_t i = 0; i + 1 < n; i++) {
		assert_true(cmp(order[i], order[i + 1]) < 0);
		assert_true(cmp(order[i + 1], order[i]) > 0);
	}
	/* Byte order would put Â (0xC3 0x82) after B. */
	assert_true(strcmp("Ân", "Bình") > 0);
	assert_true(cmp("Ân", "Bình") < 0);
}

static void test_tones_then_case(void **state)
{
	(void)state;
	/* Letters first: "Hòa" and "Hoà" are the same letters, tone later. */
	assert_true(cmp("Hoa", "Hòa") < 0);  /* no tone < huyền */
	assert_true(cmp("Hòa", "Hỏa") < 0);  /* huyền < hỏi */
	assert_true(cmp("Hỏa", "Hõa") < 0);  /* hỏi < ngã */
	assert_true(cmp("Hõa", "Hóa") < 0);  /* ngã < sắc */
	assert_true(cmp("Hóa", "Họa") < 0);  /* sắc < nặng */
	assert_true(cmp("Họa", "Hoan") < 0); /* letters before tones */
	assert_true(cmp("an", "An") < 0);
	assert_int_equal(cmp("Xã A", "Xã A"), 0);
	assert_true(cmp("Xã", "Xã A") < 0); /* a prefix first */
}

static void test_hostile_bytes(void **state)
{
	(void)state;
	/* Malformed UTF-8 never reads past the end and orders totally. */
	const char bad1[] = "\xc3", bad2[] = "\xe1\xba", bad3[] = "a\xff";
	assert_true(cmp("a", bad1) < 0);
	assert_true(cmp(bad1, bad2) != 0);
	assert_true(cmp(bad3, "a") > 0);
	assert_int_equal(cmp(bad2, bad2), 0);
	assert_int_equal(sqlite_collate_vi(NULL, 0, "", 0, ""), 0);
}

static int collect(void *arg, int n, char **v, char **cols)
{
	char *out = arg;
	size_t len = strlen(out);
	(void)n, (void)cols;
	snprintf(out + len, 256 - len, "%s|", v[0]);
	return 0;
}

static void test_sqlite_order_by(void **state)
{
	sqlite3 *db;
	char out[256] = "";
	(void)state;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite_collation_register(db), 0);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TABLE t(x TEXT);"
				      "INSERT INTO t VALUES('Bình Minh'),"
				      "('Đông Hòa'),('Ân Phú'),('Dương'),('An Lạc');",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "SELECT x FROM t ORDER BY x COLLATE vi",
				      collect, out, NULL),
			 SQLITE_OK);
	assert_string_equal(out, "An Lạc|Ân Phú|Bình Minh|Dương|Đông Hòa|");
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alphabet_order),
		cmocka_unit_test(test_tones_then_case),
		cmocka_unit_test(test_hostile_bytes),
		cmocka_unit_test(test_sqlite_order_by),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
