/* Unit tests for rule bundles across libyara versions: the sources a
 * bundle carries (yararules_join, yararules_compile_text), the choice
 * between the compiled form and the sources (yararules_from_bundle), the
 * install-time check (ruleload_accept), and the header field that splits
 * the payload (bundle_build / bundle_open). Portable: the Windows build
 * runs it under wine against its own libyara. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/platform/ruleload.h"
#include "common/alloc.h"
#include "common/bundle.h"
#include "common/pki.h"
#include "common/yararules.h"
#include "tests/support/testutil.h"

/* A payload as the collector builds it: compiled rules, then sources. */
struct payload {
	char *raw;
	size_t len;
	struct bundle_info info;
};

static void make_payload(const char *text, struct payload *p)
{
	YR_RULES *rules = NULL;
	unsigned n = 0;
	char err[300], *compiled = NULL;
	size_t clen = 0, tlen = strlen(text);
	assert_int_equal(yararules_compile_text(text, tlen, &rules, &n, err,
						sizeof(err)),
			 0);
	assert_int_equal(yararules_save(rules, &compiled, &clen), 0);
	yr_rules_destroy(rules);
	memset(p, 0, sizeof(*p));
	p->len = clen + tlen;
	p->raw = alloc_bytes(p->len);
	assert_non_null(p->raw);
	memcpy(p->raw, compiled, clen);
	memcpy(p->raw + clen, text, tlen);
	alloc_free(compiled);
	snprintf(p->info.kind, sizeof(p->info.kind), "rules");
	snprintf(p->info.yara, sizeof(p->info.yara), "%s", YR_VERSION);
	p->info.version = 7;
	p->info.rules = n;
	p->info.raw_len = p->len;
	p->info.compiled_len = clen;
}

static const char two_rules[] =
	"rule ew_test_marker { strings: $a = \"EW-TEST-MARKER\" condition: $a }\n"
	"rule ew_uses_external { condition: extension == \".exe\" }\n";

static void test_join_compiles_as_the_files_do(void **state)
{
	(void)state;
	char dir[300], err[300];
	snprintf(dir, sizeof(dir), "%s", testutil_tempdir("rulebundle"));
	/* No newline at the end of the first file: joined, its last token
	 * must not run into the next file's first. */
	testutil_write_file(dir, "a.yar", "rule a { condition: true }");
	testutil_write_file(dir, "b.yara", "rule b { condition: filename == \"x\" }\n");
	testutil_write_file(dir, "notes.txt", "not a rule file");
	const char *paths[] = {dir};
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(yararules_join(paths, 1, &text, &len, err, sizeof(err)),
			 0);
	assert_int_equal(strlen(text), len);
	assert_null(strstr(text, "not a rule file"));
	YR_RULES *from_text = NULL, *from_files = NULL;
	unsigned n_text = 0, n_files = 0;
	assert_int_equal(yararules_compile_text(text, len, &from_text, &n_text,
						err, sizeof(err)),
			 0);
	assert_int_equal(yararules_compile(paths, 1, &from_files, &n_files, err,
					   sizeof(err)),
			 0);
	assert_int_equal(n_text, 2);
	assert_int_equal(n_text, n_files);
	yr_rules_destroy(from_text);
	yr_rules_destroy(from_files);
	alloc_free(text);
	testutil_rmtree(dir);
}

static void test_compile_text_refusals(void **state)
{
	(void)state;
	YR_RULES *rules = NULL;
	char err[300];
	/* An agent never opens a file a bundle's rule names. */
	static const char inc[] = "include \"other.yar\"\nrule a { condition: true }\n";
	assert_int_equal(yararules_compile_text(inc, strlen(inc), &rules, NULL,
						err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "line 1"));
	static const char nul[] = "rule a { condition: true }\0rule b {";
	assert_int_equal(yararules_compile_text(nul, sizeof(nul) - 1, &rules,
						NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "NUL"));
	static const char bad[] = "rule a { condition: true }\nrule b { condition: nope }\n";
	assert_int_equal(yararules_compile_text(bad, strlen(bad), &rules, NULL,
						err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "line 2: "));
}

/* yararules_from_bundle on a payload: its result; the rule count when it
 * loaded (the rules freed), and whether it compiled the sources. */
static int load(const struct bundle_info *info, const struct payload *p,
		size_t len, unsigned *count, bool *here, char *err,
		size_t errlen)
{
	YR_RULES *rules = NULL;
	int rc = yararules_from_bundle(info, p->raw, len, &rules, here, err,
				       errlen);
	*count = rc == 0 ? yararules_count(rules) : 0;
	if (rc == 0)
		yr_rules_destroy(rules);
	return rc;
}

static void test_from_bundle_picks_the_form(void **state)
{
	(void)state;
	struct payload p, broken;
	bool here = true;
	unsigned n = 0;
	char err[400];
	make_payload(two_rules, &p);
	/* Our own libyara's compiled form is loaded as it is. */
	assert_int_equal(load(&p.info, &p, p.len, &n, &here, err, sizeof(err)), 0);
	assert_false(here);
	assert_int_equal(n, 2);
	/* Another version's is never handed to libyara: the sources are
	 * compiled instead, even when the compiled bytes look loadable. */
	snprintf(p.info.yara, sizeof(p.info.yara), "3.0.0-other");
	assert_int_equal(load(&p.info, &p, p.len, &n, &here, err, sizeof(err)), 0);
	assert_true(here);
	assert_int_equal(n, 2);
	/* ... and without sources it is refused, naming both versions. */
	struct bundle_info only = p.info;
	only.compiled_len = only.raw_len;
	assert_int_equal(load(&only, &p, p.len, &n, &here, err, sizeof(err)),
			 -EPROTO);
	assert_non_null(strstr(err, "3.0.0-other"));
	assert_non_null(strstr(err, YR_VERSION));
	/* Our own version whose compiled bytes are damaged: refused, not
	 * quietly compiled from the sources. */
	make_payload(two_rules, &broken);
	memset(broken.raw, 0x5a, 64);
	assert_int_equal(load(&broken.info, &broken, broken.len, &n, &here, err,
			      sizeof(err)),
			 -EBADMSG);
	/* Sources that do not compile here say libyara's reason. */
	snprintf(broken.info.yara, sizeof(broken.info.yara), "3.0.0-other");
	memcpy(broken.raw + broken.info.compiled_len, "rule {", 6);
	assert_int_equal(load(&broken.info, &broken, broken.len, &n, &here, err,
			      sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "signed sources"));
	/* A payload whose length is not the header's is not this bundle's. */
	assert_int_equal(load(&p.info, &p, p.len - 1, &n, &here, err,
			      sizeof(err)),
			 -EBADMSG);
	alloc_free(broken.raw);
	alloc_free(p.raw);
}

static void test_ruleload_accept(void **state)
{
	(void)state;
	struct payload p;
	uint64_t n = 0;
	char err[400];
	make_payload(two_rules, &p);
	assert_int_equal(ruleload_accept(&p.info, p.raw, p.len, &n, err,
					 sizeof(err)),
			 0);
	assert_int_equal(n, 2);
	snprintf(p.info.yara, sizeof(p.info.yara), "3.0.0-other");
	n = 0;
	assert_int_equal(ruleload_accept(&p.info, p.raw, p.len, &n, err,
					 sizeof(err)),
			 0);
	assert_int_equal(n, 2);
	p.info.compiled_len = p.info.raw_len;
	assert_int_equal(ruleload_accept(&p.info, p.raw, p.len, &n, err,
					 sizeof(err)),
			 -EPROTO);
	alloc_free(p.raw);
}

static void test_bundle_carries_the_split(void **state)
{
	(void)state;
	EVP_PKEY *key;
	assert_int_equal(pki_key_new(&key), 0);
	struct payload p;
	make_payload(two_rules, &p);
	char *img = NULL;
	size_t len = 0;
	assert_int_equal(bundle_build(key, &p.info, p.raw, p.len, &img, &len), 0);
	struct bundle_info info;
	void *raw = NULL;
	size_t raw_len = 0;
	char err[300];
	assert_int_equal(bundle_open(img, len, key, &info, &raw, &raw_len, err,
				     sizeof(err)),
			 0);
	assert_int_equal(info.compiled_len, p.info.compiled_len);
	assert_int_equal(raw_len, p.len);
	alloc_free(raw);
	alloc_free(img);
	/* A bundle of the compiled form alone (as every bundle was before
	 * they carried sources) reads as compiled_len == raw_len. */
	struct bundle_info old = p.info;
	old.compiled_len = 0;
	assert_int_equal(bundle_build(key, &old, p.raw, p.info.compiled_len,
				      &img, &len),
			 0);
	assert_int_equal(bundle_open(img, len, key, &info, &raw, &raw_len, err,
				     sizeof(err)),
			 0);
	assert_int_equal(info.compiled_len, info.raw_len);
	alloc_free(raw);
	alloc_free(img);
	/* A split past the payload's end is not built. */
	old.compiled_len = p.len + 1;
	assert_int_equal(bundle_build(key, &old, p.raw, p.len, &img, &len),
			 -EINVAL);
	alloc_free(p.raw);
	EVP_PKEY_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join_compiles_as_the_files_do),
		cmocka_unit_test(test_compile_text_refusals),
		cmocka_unit_test(test_from_bundle_picks_the_form),
		cmocka_unit_test(test_ruleload_accept),
		cmocka_unit_test(test_bundle_carries_the_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
