/* Unit tests for the console's pieces that see raw request bytes or
 * build markup: routing, parameter, form and cookie decoding, the
 * template layer's escaping, TOTP against RFC 6238's vectors, CSRF
 * tokens, and the message catalogue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "collector/schoolcsv.h"
#include "collector/web/auth.h"
#include "collector/web/html.h"
#include "collector/web/i18n.h"
#include "collector/web/route.h"
#include "collector/web/web.h"

static struct web_request get(const char *path)
{
	struct web_request r = {.method = "GET", .method_len = 3, .path = path,
				.path_len = strlen(path), .query = "",
				.body = ""};
	return r;
}

static void test_route_match(void **state)
{
	static const struct route t[] = {
		{"GET", "/schools/{}", 1, NULL},
		{"GET", "/schools/{}/pcs", 2, NULL},
		{"POST", "/alerts/{}/ack", 3, NULL},
	};
	char p[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX + 1];
	size_t np;
	const struct route *r;
	struct web_request q = get("/schools/79001");
	(void)state;
	assert_int_equal(route_match(t, 3, &q, &r, p, &np), ROUTE_FOUND);
	assert_int_equal(r->flags, 1);
	assert_string_equal(p[0], "79001");
	q = get("/schools/79001/pcs");
	assert_int_equal(route_match(t, 3, &q, &r, p, &np), ROUTE_FOUND);
	assert_int_equal(r->flags, 2);
	q = get("/alerts/7/ack");
	assert_int_equal(route_match(t, 3, &q, &r, p, &np), ROUTE_BAD_METHOD);
	const char *bad[] = {"/schools/", "/schools/..", "/schools/.", "/schools/a%2fb",
			     "/schools/<x>", "/schools/a b", "/schools/79001/",
			     "/schools//pcs", "/Schools/1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		q = get(bad[i]);
		assert_int_equal(route_match(t, 3, &q, &r, p, &np), ROUTE_NOT_FOUND);
	}
	char longseg[100] = "/schools/";
	memset(longseg + 9, 'a', 65);
	q = get(longseg);
	assert_int_equal(route_match(t, 3, &q, &r, p, &np), ROUTE_NOT_FOUND);
}

static void test_route_param(void **state)
{
	char out[16];
	const char *q = "a=1&name=Tr%C6%B0%E1%BB%9Dng+A&a=2&empty=&flag";
	(void)state;
	assert_int_equal(route_param(q, strlen(q), "a", out, sizeof(out)), 0);
	assert_string_equal(out, "1");
	assert_int_equal(route_param(q, strlen(q), "name", out, sizeof(out)), 0);
	assert_string_equal(out, "Trường A");
	assert_int_equal(route_param(q, strlen(q), "empty", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(route_param(q, strlen(q), "flag", out, sizeof(out)), 0);
	assert_int_equal(route_param(q, strlen(q), "nope", out, sizeof(out)), -ENOENT);
	/* Hostile values: a NUL, a control byte, a cut escape, bad hex,
	 * invalid UTF-8, an overlong form, too long for the buffer. */
	const char *bad[] = {"a=x%00y", "a=%1b[2J", "a=%4", "a=%zz", "a=%ff",
			     "a=%c0%af", "a=0123456789abcdefXYZ"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(route_param(bad[i], strlen(bad[i]), "a", out,
					     sizeof(out)), -EINVAL);
}

/* The admin page's IOC list arrives as one form field of up to the body
 * limit: the first value decodes whole into a buffer that holds it, and
 * is still refused, not cut, when the buffer is too small. */
static void test_route_param_long_value(void **state)
{
	size_t lines = 3000, n = 0, cap = lines * 20 + 32;
	char *body = malloc(cap), *out = malloc(lines * 20);
	(void)state;
	assert_non_null(body);
	assert_non_null(out);
	n += (size_t)snprintf(body, cap, "csrf=x&ioc=");
	for (size_t i = 0; i < lines; i++)
		n += (size_t)snprintf(body + n, cap - n, "evil%zu.example%%0A", i);
	assert_int_equal(route_param(body, n, "ioc", out, lines * 20), 0);
	assert_int_equal(strncmp(out, "evil0.example\nevil1.example\n", 28), 0);
	assert_true(strlen(out) > 4096);
	char small[64] = "untouched";
	assert_int_equal(route_param(body, n, "ioc", small, sizeof(small)), -EINVAL);
	assert_string_equal(small, "");
	free(body);
	free(out);
}

/* The console's school form and the setup CSV obey one set of rules. */
static void test_school_form_rules(void **state)
{
	struct school_case {
		const char *f[5];
		const char *column; /* NULL: accepted */
	} cases[] = {
		{{"79001", "Trường Tiểu học Lê Lợi", "Phường Bến Nghé", "2", "40"}, NULL},
		{{"A.b_c-1", "x", "y", "5", "0"}, NULL},
		{{"", "n", "c", "1", "1"}, "column code"},
		{{"../etc", "n", "c", "1", "1"}, "column code"},
		{{"a/b", "n", "c", "1", "1"}, "column code"},
		{{"a b", "n", "c", "1", "1"}, "column code"},
		{{"012345678901234567890123456789012", "n", "c", "1", "1"}, "column code"},
		{{"ok", "", "c", "1", "1"}, "column name"},
		{{"ok", "a\x1b[2Jb", "c", "1", "1"}, "column name"},
		{{"ok", "a\nb", "c", "1", "1"}, "column name"},
		{{"ok", "n", "", "1", "1"}, "column commune"},
		{{"ok", "n", "c", "0", "1"}, "column level"},
		{{"ok", "n", "c", "6", "1"}, "column level"},
		{{"ok", "n", "c", "-1", "1"}, "column level"},
		{{"ok", "n", "c", "1", "100001"}, "column expected_pcs"},
		{{"ok", "n", "c", "1", "1e3"}, "column expected_pcs"},
		{{"ok", "n", "c", "1", ""}, "column expected_pcs"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t lens[5];
		struct store_school sc;
		char err[160] = "";
		for (int k = 0; k < 5; k++)
			lens[k] = strlen(cases[i].f[k]);
		const char *column = NULL;
		int rc = schoolcsv_school(cases[i].f, lens, &sc, &column, err,
					  sizeof(err));
		if (cases[i].column == NULL) {
			assert_int_equal(rc, 0);
			assert_string_equal(sc.code, cases[i].f[0]);
			assert_string_equal(sc.name, cases[i].f[1]);
		} else {
			assert_int_equal(rc, -EINVAL);
			assert_non_null(strstr(err, cases[i].column));
			assert_string_equal(column, cases[i].column + 7);
		}
	}
}

static void test_day_format(void **state)
{
	char out[16];
	(void)state;
	i18n_day("2026-12-01", out, sizeof(out));
	assert_string_equal(out, "01/12/2026");
	const char *bad[] = {"", "2026-12-1", "2026/12/01", "2026-12-01x", "20a6-12-01"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		i18n_day(bad[i], out, sizeof(out));
		assert_string_equal(out, "-");
	}
}

static void test_route_cookie(void **state)
{
	char out[70];
	struct web_header h = {"cookie", 6, "x=1; __Host-ew_session=abcd; y=2", 32};
	struct web_request r = {.headers = &h, .nheaders = 1};
	(void)state;
	assert_int_equal(route_cookie(&r, "__Host-ew_session", out, sizeof(out)), 0);
	assert_string_equal(out, "abcd");
	assert_int_equal(route_cookie(&r, "ew_session", out, sizeof(out)), -ENOENT);
	h.value = "__Host-ew_session=a\"b";
	h.value_len = strlen(h.value);
	assert_int_equal(route_cookie(&r, "__Host-ew_session", out, sizeof(out)), -EINVAL);
}

static void test_html_escapes_everything(void **state)
{
	struct dynbuf b = {0};
	(void)state;
	html_emit(&b, "<td title=\"%s\">%s</td>%d%%", "\"><script>", "a&b</x>'", 7);
	assert_string_equal(b.data, "<td title=\"&quot;&gt;&lt;script&gt;\">a&amp;b&lt;&#47;x&gt;&#39;</td>7%");
	dynbuf_reset(&b);
	html_emit(&b, "%s", "ok\xff\x01!");
	assert_string_equal(b.data, "ok\xef\xbf\xbd\xef\xbf\xbd!");
	dynbuf_free(&b);
}

static void test_totp_rfc6238(void **state)
{
	/* RFC 6238 appendix B, SHA-1, "12345678901234567890" in base32;
	 * the RFC's 8 digits cut to the 6 our codes have. */
	const char *secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
	char code[7];
	(void)state;
	assert_int_equal(auth_totp_code(secret, 59, code), 0);
	assert_string_equal(code, "287082");
	assert_int_equal(auth_totp_code(secret, 1111111109, code), 0);
	assert_string_equal(code, "081804");
	assert_int_equal(auth_totp_code(secret, 2000000000, code), 0);
	assert_string_equal(code, "279037");
	assert_true(auth_totp_ok(secret, "081804", 1111111109 + 30));
	assert_false(auth_totp_ok(secret, "081804", 1111111109 + 95));
	assert_false(auth_totp_ok(secret, "81804", 1111111109));
	assert_int_equal(auth_totp_code("not base32!", 59, code), -EINVAL);
}

static void test_password_and_csrf(void **state)
{
	char hash[256], pw[32], token[65];
	unsigned char raw[32], h[32], raw2[32], h2[32];
	char hex[65];
	(void)state;
	assert_int_equal(web_password_new(pw, sizeof(pw)), 0);
	assert_int_equal(strlen(pw), 16);
	assert_int_equal(web_password_hash(pw, hash, sizeof(hash)), 0);
	assert_non_null(strstr(hash, "$argon2id$v=19$m=19456,t=2,p=1$"));
	assert_true(auth_password_ok(hash, pw));
	assert_false(auth_password_ok(hash, "wrong"));
	hash[3] = 'd'; /* "$argon2d$...": another variant is refused */
	assert_false(auth_password_ok(hash, pw));
	assert_int_equal(auth_session_new(raw, hex, h), 0);
	assert_int_equal(auth_session_parse(hex, raw2, h2), 0);
	assert_memory_equal(h, h2, 32);
	assert_int_equal(auth_session_parse("zz", raw2, h2), -EINVAL);
	auth_csrf_token(raw, token);
	assert_true(auth_csrf_ok(raw, token));
	token[0] = token[0] == 'a' ? 'b' : 'a';
	assert_false(auth_csrf_ok(raw, token));
	assert_false(auth_csrf_ok(raw, ""));
}

static void test_roles(void **state)
{
	char err[256];
	(void)state;
	assert_int_equal(web_role_check("province_admin", "", err, sizeof(err)), 0);
	assert_int_equal(web_role_check("province_admin", "X", err, sizeof(err)), -EINVAL);
	assert_int_equal(web_role_check("school_officer", "", err, sizeof(err)), -EINVAL);
	assert_int_equal(web_role_check("school_officer", "A1", err, sizeof(err)), 0);
	assert_int_equal(web_role_check("root", "", err, sizeof(err)), -EINVAL);
	assert_true(web_role_needs_totp("province_admin"));
	assert_false(web_role_needs_totp("auditor"));
}

static void test_catalogue_complete(void **state)
{
	(void)state;
	for (size_t i = 0; i < i18n_count(); i++) {
		const char *k = i18n_key(i);
		const char *vi = i18n_msg(I18N_VI, k), *en = i18n_msg(I18N_EN, k);
		assert_true(vi[0] && en[0]);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(k, i18n_key(j));
	}
	assert_int_equal(i18n_pick(NULL, "en-US,en;q=0.9", 14), I18N_EN);
	assert_int_equal(i18n_pick(NULL, "fr,vi;q=0.5,en", 14), I18N_VI);
	assert_int_equal(i18n_pick(NULL, "fr", 2), I18N_VI);
	assert_int_equal(i18n_pick("en", "vi", 2), I18N_EN);
	char d[32];
	i18n_datetime(1764633600LL * 1000000, d, sizeof(d)); /* 2025-12-02 00:00 UTC */
	assert_string_equal(d, "02/12/2025 07:00");
	i18n_datetime(0, d, sizeof(d));
	assert_string_equal(d, "-");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_match),
		cmocka_unit_test(test_route_param),
		cmocka_unit_test(test_route_param_long_value),
		cmocka_unit_test(test_school_form_rules),
		cmocka_unit_test(test_day_format),
		cmocka_unit_test(test_route_cookie),
		cmocka_unit_test(test_html_escapes_everything),
		cmocka_unit_test(test_totp_rfc6238),
		cmocka_unit_test(test_password_and_csrf),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_catalogue_complete),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
