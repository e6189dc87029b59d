#include "tests/support/testutil.h"

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/pki.h"

long testutil_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	long n = 0;
	struct dirent *de;
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

void testutil_take_piece(const uint8_t **p, const uint8_t *end, char *dst,
			 size_t cap)
{
	size_t n = 0;
	while (*p < end && **p != '\0' && n + 1 < cap)
		dst[n++] = (char)*(*p)++;
	dst[n] = '\0';
	while (*p < end && **p != '\0')
		(*p)++;
	if (*p < end)
		(*p)++;
}

const char *testutil_tempdir(const char *tag)
{
	static char path[512];
	const char *base = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/ew-%s-XXXXXX", base ? base : "/tmp",
		 tag);
	if (mkdtemp(path) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return path;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

void testutil_rmtree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void testutil_write_file(const char *dir, const char *name, const char *text)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "testutil: cannot write %s\n", path);
		abort();
	}
}

void test_pki_init(struct test_pki *pki, const char *ca_name)
{
	if (pki_key_new(&pki->ca_key) != 0 ||
	    pki_ca_new(pki->ca_key, ca_name, 365, &pki->ca) != 0)
		abort();
}

void test_pki_free(struct test_pki *pki)
{
	X509_free(pki->ca);
	EVP_PKEY_free(pki->ca_key);
}

void test_pki_issue(struct test_pki *pki, int server, const char *cn,
		    const char *ou, long not_before, long not_after,
		    EVP_PKEY **key_out, X509 **cert_out)
{
	static const char *const names[] = {"127.0.0.1", "localhost"};
	struct pki_issue_params p = {
		.kind = server ? PKI_CERT_SERVER : PKI_CERT_CLIENT,
		.common_name = cn,
		.org_unit = ou,
		.alt_names = server ? names : NULL,
		.alt_name_count = server ? 2 : 0,
		.not_before_offset = not_before,
		.not_after_offset = not_after,
	};
	if (pki_key_new(key_out) != 0 ||
	    pki_issue(pki->ca, pki->ca_key, *key_out, &p, cert_out) != 0)
		abort();
}
