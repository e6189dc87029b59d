/* tries: when a restored release is installed again (tries.h). */
#include "agent/upgrade/tries.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/fsutil.h"

void tries_note_restore(struct upgrade_tries *t, const char *release,
			uint64_t bundle, long long after_s, int64_t now_us)
{
	bool same = strcmp(t->release, release) == 0 && t->bundle == bundle;
	/* Final stays final (tried out or halted), and the count stays
	 * within what reads back. */
	if (same && tries_final(t)) {
		t->next_us = 0;
		return;
	}
	if (!same) {
		memset(t, 0, sizeof(*t));
		snprintf(t->release, sizeof(t->release), "%s", release);
		t->bundle = bundle;
	}
	if (++t->restores > UPGRADE_TRIES_MAX) {
		t->next_us = 0;
		return;
	}
	/* restores is at most UPGRADE_TRIES_MAX here: the shift is small. */
	t->next_us = now_us + (after_s << (t->restores - 1)) * 1000000LL;
}

bool tries_final(const struct upgrade_tries *t)
{
	/* Tried out, or given up before that (a halt): a release named with
	 * no time to try it again. */
	return t->restores > UPGRADE_TRIES_MAX ||
	       (t->release[0] != '\0' && t->next_us == 0);
}

bool tries_halt(struct upgrade_tries *t, const char *release, uint64_t bundle)
{
	bool same = strcmp(t->release, release) == 0 && t->bundle == bundle;
	if (same && tries_final(t))
		return false;
	/* A line about a newer bundle stays: a halt of an older release
	 * (superseded) is no news for it. */
	if (!same && t->release[0] != '\0' && t->bundle > bundle)
		return false;
	if (!same) {
		memset(t, 0, sizeof(*t));
		snprintf(t->release, sizeof(t->release), "%s", release);
		t->bundle = bundle;
	}
	t->next_us = 0; /* final, its restores counted as they were */
	return true;
}

bool tries_due(const struct upgrade_tries *t, int64_t now_us)
{
	return t->release[0] && t->bundle && !tries_final(t) && t->next_us &&
	       now_us >= t->next_us;
}

size_t tries_format(const struct upgrade_tries *t, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s %llu %d %lld\n", t->release,
			 (unsigned long long)t->bundle, t->restores,
			 (long long)t->next_us);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* One space-ended decimal field of text at *pos. */
static int next_number(const char *text, size_t len, size_t *pos,
		       unsigned long long max, unsigned long long *out)
{
	char field[24];
	size_t n = 0;
	while (*pos < len && text[*pos] >= '0' && text[*pos] <= '9' &&
	       n < sizeof(field) - 1)
		field[n++] = text[(*pos)++];
	if (n == 0 || n >= 20 || *pos >= len ||
	    (text[*pos] != ' ' && text[*pos] != '\n'))
		return -EINVAL;
	(*pos)++;
	field[n] = '\0';
	*out = strtoull(field, NULL, 10);
	return *out <= max ? 0 : -EINVAL;
}

static int parse_fields(const char *text, size_t len, struct upgrade_tries *t)
{
	size_t pos = strcspn(text, " ");
	unsigned long long bundle, restores, next;
	if (pos == 0 || pos > RELPKG_VERSION_MAX || pos >= len)
		return -EINVAL;
	memcpy(t->release, text, pos);
	t->release[pos++] = '\0';
	if (!relpkg_version_ok(t->release) ||
	    next_number(text, len, &pos, UINT64_MAX, &bundle) != 0 ||
	    next_number(text, len, &pos, UPGRADE_TRIES_MAX + 1, &restores) != 0 ||
	    next_number(text, len, &pos, INT64_MAX, &next) != 0)
		return -EINVAL;
	t->bundle = bundle;
	t->restores = (int)restores;
	t->next_us = (int64_t)next;
	return 0;
}

int tries_parse(const char *text, size_t len, struct upgrade_tries *t)
{
	char line[UPGRADE_TRIES_LINE_MAX + 1];
	memset(t, 0, sizeof(*t));
	if (len == 0 || len > UPGRADE_TRIES_LINE_MAX)
		return -EINVAL;
	/* A copy that ends: the file's bytes need not. */
	memcpy(line, text, len);
	line[len] = '\0';
	if (strlen(line) != len || parse_fields(line, len, t) != 0) {
		memset(t, 0, sizeof(*t));
		return -EINVAL;
	}
	return 0;
}

static void tries_path(const char *root, char *out, size_t cap)
{
	snprintf(out, cap, "%s/tries", root);
}

void tries_load(const char *root, struct upgrade_tries *t)
{
	char path[1024];
	char *text = NULL;
	size_t len = 0;
	memset(t, 0, sizeof(*t));
	tries_path(root, path, sizeof(path));
	if (fs_read_file(path, UPGRADE_TRIES_LINE_MAX, &text, &len) != 0)
		return;
	/* A damaged file leaves t empty: no retry of something unknown. */
	EW_IGNORE(tries_parse(text, len, t));
	alloc_free(text);
}

int tries_save(const char *root, const struct upgrade_tries *t)
{
	char path[1024], line[UPGRADE_TRIES_LINE_MAX + 1];
	size_t len = tries_format(t, line, sizeof(line));
	tries_path(root, path, sizeof(path));
	return fs_write_atomic(path, line, len, 0644);
}

void tries_clear(const char *root)
{
	char path[1024];
	tries_path(root, path, sizeof(path));
	(void)remove(path);
}
