#include "collector/rulepub.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/alloc.h"
#include "common/pki.h"
#include "common/timeutil.h"
#include "common/yararules.h"

void rulepub_dir(const char *state_dir, char *out, size_t cap)
{
	snprintf(out, cap, "%s/bundles", state_dir);
}

uint64_t rulepub_latest(const char *state_dir)
{
	char dir[600];
	rulepub_dir(state_dir, dir, sizeof(dir));
	DIR *d = opendir(dir);
	uint64_t best = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		unsigned long long v;
		char tail[8];
		if (sscanf(de->d_name, "bundle-%llu.%7s", &v, tail) == 2 &&
		    strcmp(tail, "ewb") == 0 && v > best)
			best = v;
	}
	if (d)
		closedir(d);
	return best;
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

int rulepub_publish(const char *state_dir, const char *const *sets,
		    size_t nsets, EVP_PKEY *key, struct bundle_info *info,
		    size_t *file_size, char *err, size_t errlen)
{
	YR_RULES *rules = NULL;
	unsigned count = 0;
	int rc = yararules_compile(sets, nsets, &rules, &count, err, errlen);
	if (rc != 0)
		return rc;
	char *raw = NULL, *img = NULL;
	size_t raw_len = 0, img_len = 0;
	rc = yararules_save(rules, &raw, &raw_len);
	yr_rules_destroy(rules);
	if (rc != 0) {
		snprintf(err, errlen, "cannot serialise the compiled rules");
		return rc;
	}
	memset(info, 0, sizeof(*info));
	uint64_t last = rulepub_latest(state_dir);
	uint64_t now = (uint64_t)time(NULL);
	info->version = now > last ? now : last + 1;
	info->created_us = timeutil_now_us();
	info->rules = count;
	snprintf(info->yara, sizeof(info->yara), "%s", YR_VERSION);
	describe_sets(sets, nsets, info->sources, sizeof(info->sources));
	rc = bundle_build(key, info, raw, raw_len, &img, &img_len);
	alloc_free(raw);
	if (rc != 0) {
		snprintf(err, errlen, "cannot build the bundle: %s", strerror(-rc));
		return rc;
	}
	info->raw_len = raw_len;
	char dir[600], path[700];
	rulepub_dir(state_dir, dir, sizeof(dir));
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/bundle-%llu.ewb", dir,
		 (unsigned long long)info->version);
	rc = pki_write_file_atomic(path, img, img_len, 0644);
	alloc_free(img);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	*file_size = img_len;
	return 0;
}
