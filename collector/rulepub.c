#include "collector/rulepub.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/fsutil.h"
#include "common/pki.h"
#include "common/relpkg.h"
#include "common/timeutil.h"
#include "common/yararules.h"

void rulepub_dir(const char *state_dir, char *out, size_t cap)
{
	snprintf(out, cap, "%s/bundles", state_dir);
}

/* The newest published version of a kind ("bundle" files are rules). */
static uint64_t latest(const char *state_dir, const char *prefix)
{
	char dir[600];
	rulepub_dir(state_dir, dir, sizeof(dir));
	DIR *d = opendir(dir);
	uint64_t best = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		unsigned long long v;
		char tail[8];
		size_t n = strlen(prefix);
		if (strncmp(de->d_name, prefix, n) == 0 &&
		    sscanf(de->d_name + n, "-%llu.%7s", &v, tail) == 2 &&
		    strcmp(tail, "ewb") == 0 && v > best)
			best = v;
	}
	if (d)
		closedir(d);
	return best;
}

uint64_t rulepub_latest(const char *state_dir)
{
	return latest(state_dir, "bundle");
}

/* Signs raw as a bundle of info's kind, with the next version, and stores
 * it as <prefix>-<version>.ewb. */
static int store_signed(const char *state_dir, const char *prefix,
			struct bundle_info *info, const void *raw,
			size_t raw_len, EVP_PKEY *key, size_t *file_size,
			char *err, size_t errlen)
{
	uint64_t last = latest(state_dir, prefix);
	uint64_t now = (uint64_t)time(NULL);
	char *img = NULL;
	size_t img_len = 0;
	info->version = now > last ? now : last + 1;
	info->created_us = timeutil_now_us();
	info->raw_len = raw_len;
	int rc = bundle_build(key, info, raw, raw_len, &img, &img_len);
	if (rc != 0) {
		snprintf(err, errlen, "cannot build the bundle: %s",
			 uv_strerror(rc));
		return rc;
	}
	char dir[600], path[700];
	rulepub_dir(state_dir, dir, sizeof(dir));
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/%s-%llu.ewb", dir, prefix,
		 (unsigned long long)info->version);
	rc = fs_write_atomic(path, img, img_len, 0644);
	alloc_free(img);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", path, uv_strerror(rc));
		return rc;
	}
	*file_size = img_len;
	return 0;
}

static void describe_sets(const char *const *sets, size_t n, char *out,
			  size_t cap)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && used + 1 < cap; i++) {
		int w = snprintf(out + used, cap - used, "%s%s", i ? ", " : "",
				 sets[i]);
		if (w < 0)
			break;
		used += (size_t)w < cap - used ? (size_t)w : cap - used - 1;
	}
}

/* The payload of a rule bundle: the compiled rules, then the sources
 * they were compiled from (bundle.h). The files are compiled first, for
 * errors that name a file and line; what ships is compiled from the
 * joined text, the very bytes an agent with another libyara compiles,
 * so that a rule set that only compiles with its includes is refused
 * here rather than on every such agent. */
static int build_payload(const char *const *sets, size_t nsets, char **out,
			 size_t *out_len, uint64_t *compiled_len,
			 unsigned *count, char *err, size_t errlen)
{
	YR_RULES *rules = NULL;
	int rc = yararules_compile(sets, nsets, &rules, count, err, errlen);
	if (rc != 0)
		return rc;
	yr_rules_destroy(rules);
	rules = NULL;
	char *text = NULL, *compiled = NULL;
	size_t text_len = 0, compiled_len_sz = 0;
	char why[400];
	if ((rc = yararules_join(sets, nsets, &text, &text_len, err, errlen)) != 0)
		return rc;
	rc = yararules_compile_text(text, text_len, &rules, count, why,
				    sizeof(why));
	if (rc != 0)
		snprintf(err, errlen, "the rule files do not compile as one "
			 "source (a bundle cannot carry an include): %s", why);
	if (rc == 0 && (rc = yararules_save(rules, &compiled,
					    &compiled_len_sz)) != 0)
		snprintf(err, errlen, "cannot serialise the compiled rules");
	if (rules)
		yr_rules_destroy(rules);
	char *raw = NULL;
	if (rc == 0 &&
	    (raw = alloc_bytes(compiled_len_sz + text_len)) == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
	}
	if (rc == 0) {
		memcpy(raw, compiled, compiled_len_sz);
		memcpy(raw + compiled_len_sz, text, text_len);
		*out = raw;
		*out_len = compiled_len_sz + text_len;
		*compiled_len = compiled_len_sz;
	}
	alloc_free(compiled);
	alloc_free(text);
	return rc;
}

int rulepub_publish(const char *state_dir, const char *const *sets,
		    size_t nsets, EVP_PKEY *key, struct bundle_info *info,
		    size_t *file_size, char *err, size_t errlen)
{
	char *raw = NULL;
	size_t raw_len = 0;
	uint64_t compiled_len = 0;
	unsigned count = 0;
	int rc = build_payload(sets, nsets, &raw, &raw_len, &compiled_len,
			       &count, err, errlen);
	if (rc != 0)
		return rc;
	memset(info, 0, sizeof(*info));
	snprintf(info->kind, sizeof(info->kind), "rules");
	info->rules = count;
	info->compiled_len = compiled_len;
	snprintf(info->yara, sizeof(info->yara), "%s", YR_VERSION);
	describe_sets(sets, nsets, info->sources, sizeof(info->sources));
	rc = store_signed(state_dir, "bundle", info, raw, raw_len, key, file_size,
			  err, errlen);
	alloc_free(raw);
	return rc;
}

int rulepub_publish_ioc_text(const char *state_dir, const char *buf,
			     size_t len, const char *source, EVP_PKEY *key,
			     struct bundle_info *info, size_t *file_size,
			     char *err, size_t errlen)
{
	if (len == 0 || len > RULEPUB_IOC_MAX) {
		snprintf(err, errlen, "%s: %s", source,
			 len ? "larger than 256 MiB" : "empty");
		return -EINVAL;
	}
	/* The list is not parsed here: each agent parses it before using
	 * it and refuses it, naming the bad line, with a signed event. */
	unsigned lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	memset(info, 0, sizeof(*info));
	snprintf(info->kind, sizeof(info->kind), "ioc");
	info->rules = lines;
	snprintf(info->sources, sizeof(info->sources), "%s", source);
	return store_signed(state_dir, "ioc", info, buf, len, key, file_size,
			    err, errlen);
}

int rulepub_publish_ioc(const char *state_dir, const char *file, EVP_PKEY *key,
			struct bundle_info *info, size_t *file_size, char *err,
			size_t errlen)
{
	FILE *f = fopen(file, "rbe");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", file, uv_strerror(-errno));
		return -errno;
	}
	size_t cap = 1 << 20, len = 0, n;
	char *buf = alloc_bytes(cap);
	while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			char *p = cap < RULEPUB_IOC_MAX ? alloc_resize(buf, cap * 2)
							: NULL;
			if (p == NULL) {
				alloc_free(buf);
				buf = NULL;
				break;
			}
			buf = p;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf == NULL) {
		snprintf(err, errlen, "%s: larger than 256 MiB", file);
		return -EINVAL;
	}
	int rc = rulepub_publish_ioc_text(state_dir, buf, len, file, key, info,
					  file_size, err, errlen);
	alloc_free(buf);
	return rc;
}

int rulepub_publish_agent(const char *state_dir, const void *raw,
			  size_t raw_len, const char *release, bool rollback,
			  EVP_PKEY *key, struct bundle_info *info,
			  size_t *file_size, char *err, size_t errlen)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->kind, sizeof(info->kind), "agent");
	snprintf(info->sources, sizeof(info->sources), "agent release %s%s",
		 release, rollback ? " (rollback)" : "");
	return store_signed(state_dir, "agent", info, raw, raw_len, key,
			    file_size, err, errlen);
}
