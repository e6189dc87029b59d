#include "common/yararules.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/dynbuf.h"
#include "common/errtext.h"

const char *const yararules_externals[YARARULES_NEXTERNALS] = {
	"filename", "filepath", "extension", "filetype", "owner"};

#define MAX_RULE_FILES 20000
#define MAX_DEPTH 16

int yararules_init(void)
{
	static bool done;
	if (done)
		return 0;
	if (yr_initialize() != ERROR_SUCCESS)
		return -ENOMEM;
	done = true;
	return 0;
}

struct file_list {
	char **paths;
	size_t count, cap;
};

static void file_list_free(struct file_list *fl)
{
	for (size_t i = 0; i < fl->count; i++)
		alloc_free(fl->paths[i]);
	alloc_free(fl->paths);
	memset(fl, 0, sizeof(*fl));
}

static int file_list_add(struct file_list *fl, const char *path)
{
	if (fl->count >= MAX_RULE_FILES)
		return -E2BIG;
	if (fl->count == fl->cap) {
		size_t cap = fl->cap ? fl->cap * 2 : 64;
		char **p = alloc_resize(fl->paths, cap * sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		fl->paths = p;
		fl->cap = cap;
	}
	if ((fl->paths[fl->count] = alloc_strdup(path)) == NULL)
		return -ENOMEM;
	fl->count++;
	return 0;
}

static bool is_rule_name(const char *name)
{
	size_t n = strlen(name);
	if (name[0] == '.')
		return false;
	return (n > 4 && strcmp(name + n - 4, ".yar") == 0) ||
	       (n > 5 && strcmp(name + n - 5, ".yara") == 0);
}

static int cmp_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int collect(struct file_list *fl, const char *path, int depth,
		   bool named, char *err, size_t errlen)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, uv_strerror(-errno));
		return -errno;
	}
	if (S_ISREG(st.st_mode))
		return named || is_rule_name(strrchr(path, '/') ? strrchr(path, '/') + 1 : path)
			       ? file_list_add(fl, path)
			       : 0;
	if (!S_ISDIR(st.st_mode) || depth > MAX_DEPTH)
		return 0;
	struct dirent **names = NULL;
	int n = scandir(path, &names, NULL, cmp_names);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, uv_strerror(-errno));
		return -errno;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		if (rc == 0 && name[0] != '.') {
			char child[4096];
			int len = snprintf(child, sizeof(child), "%s/%s", path,
					   name);
			if (len > 0 && (size_t)len < sizeof(child))
				rc = collect(fl, child, depth + 1, false, err,
					     errlen);
		}
		free(names[i]);
	}
	free(names);
	if (rc == -E2BIG)
		snprintf(err, errlen, "%s: more than %d rule files", path,
			 MAX_RULE_FILES);
	return rc;
}

static int collect_all(const char *const *paths, size_t npaths,
		       struct file_list *fl, char *err, size_t errlen)
{
	for (size_t i = 0; i < npaths; i++) {
		int rc = collect(fl, paths[i], 0, true, err, errlen);
		if (rc != 0) {
			file_list_free(fl);
			return rc;
		}
	}
	if (fl->count == 0) {
		snprintf(err, errlen, "no rule files (*.yar, *.yara) found");
		return -ENOENT;
	}
	return 0;
}

struct compile_report {
	char *err;
	size_t errlen;
	int errors;
};

static void on_compile_message(int level, const char *file, int line,
			       const YR_RULE *rule, const char *message,
			       void *arg)
{
	struct compile_report *rep = arg;
	(void)rule;
	if (level != YARA_ERROR_LEVEL_ERROR || rep->errors++ > 0)
		return;
	if (file)
		snprintf(rep->err, rep->errlen, "%s:%d: %s", file, line,
			 message);
	else
		snprintf(rep->err, rep->errlen, "line %d: %s", line, message);
}

/* A compiler with our externals and the message callback; includes are
 * refused unless allow_include (files named on the command line or by
 * the admin may include their neighbours; a bundle's text may not). */
static const char *refuse_include(const char *name, const char *from,
				  const char *ns, void *arg)
{
	(void)name;
	(void)from;
	(void)ns;
	(void)arg;
	return NULL;
}

static int compiler_new(YR_COMPILER **out, struct compile_report *rep,
			bool allow_include)
{
	YR_COMPILER *comp = NULL;
	int rc = yararules_init();
	if (rc != 0)
		return rc;
	if (yr_compiler_create(&comp) != ERROR_SUCCESS)
		return -ENOMEM;
	yr_compiler_set_callback(comp, on_compile_message, rep);
	if (!allow_include)
		yr_compiler_set_include_callback(comp, refuse_include, NULL,
						 NULL);
	for (size_t i = 0; i < YARARULES_NEXTERNALS; i++)
		if (yr_compiler_define_string_variable(
			    comp, yararules_externals[i], "") != ERROR_SUCCESS) {
			yr_compiler_destroy(comp);
			return -ENOMEM;
		}
	*out = comp;
	return 0;
}

static int compiler_finish(YR_COMPILER *comp, int rc, YR_RULES **out,
			   unsigned *nrules, char *err, size_t errlen)
{
	if (rc == 0 && yr_compiler_get_rules(comp, out) != ERROR_SUCCESS) {
		snprintf(err, errlen, "cannot build the rule set");
		rc = -ENOMEM;
	}
	yr_compiler_destroy(comp);
	if (rc == 0 && nrules)
		*nrules = yararules_count(*out);
	return rc;
}

int yararules_compile(const char *const *paths, size_t npaths,
		      YR_RULES **out, unsigned *nrules, char *err,
		      size_t errlen)
{
	struct file_list fl = {0};
	int rc = collect_all(paths, npaths, &fl, err, errlen);
	if (rc != 0)
		return rc;
	YR_COMPILER *comp = NULL;
	struct compile_report rep = {err, errlen, 0};
	if ((rc = compiler_new(&comp, &rep, true)) != 0) {
		file_list_free(&fl);
		return rc;
	}
	for (size_t i = 0; i < fl.count && rc == 0; i++) {
		FILE *f = fopen(fl.paths[i], "re");
		if (f == NULL) {
			snprintf(err, errlen, "%s: %s", fl.paths[i],
				 uv_strerror(-errno));
			rc = -errno;
			break;
		}
		/* libyara cannot go on after a file with errors. */
		if (yr_compiler_add_file(comp, f, NULL, fl.paths[i]) > 0)
			rc = -EINVAL;
		fclose(f);
	}
	file_list_free(&fl);
	return compiler_finish(comp, rc, out, nrules, err, errlen);
}

int yararules_compile_text(const char *text, size_t len, YR_RULES **out,
			   unsigned *nrules, char *err, size_t errlen)
{
	/* libyara takes a C string: a NUL inside would cut the rules short
	 * without a word, so it is an error. */
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "rule source contains a NUL byte");
		return -EINVAL;
	}
	char *copy = alloc_bytes(len + 1);
	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	YR_COMPILER *comp = NULL;
	struct compile_report rep = {err, errlen, 0};
	int rc = compiler_new(&comp, &rep, false);
	if (rc != 0) {
		alloc_free(copy);
		return rc;
	}
	if (yr_compiler_add_string(comp, copy, NULL) > 0)
		rc = -EINVAL;
	alloc_free(copy);
	return compiler_finish(comp, rc, out, nrules, err, errlen);
}

/* Each file starts on a line of its own, after a comment naming it, so
 * that joined files read as they did apart (a file without a final
 * newline cannot glue its last token to the next file's first). */
static int append_file(struct dynbuf *b, const char *path)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if (strstr(name, "*/") == NULL)
		dynbuf_addf(b, "/* %s */\n", name); /* errors are sticky */
	char buf[16384];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		dynbuf_add(b, buf, n);
	int rc = ferror(f) ? -EIO : 0;
	fclose(f);
	dynbuf_add(b, "\n", 1);
	return rc != 0 ? rc : b->failed;
}

int yararules_join(const char *const *paths, size_t npaths, char **out,
		   size_t *len, char *err, size_t errlen)
{
	struct file_list fl = {0};
	int rc = collect_all(paths, npaths, &fl, err, errlen);
	if (rc != 0)
		return rc;
	struct dynbuf b;
	dynbuf_init(&b, BUNDLE_MAX_RAW / 2);
	for (size_t i = 0; i < fl.count && rc == 0; i++)
		if ((rc = append_file(&b, fl.paths[i])) != 0)
			snprintf(err, errlen, "%s: %s", fl.paths[i],
				 uv_strerror(rc));
	file_list_free(&fl);
	if (rc == 0 && (*out = dynbuf_take(&b, len)) == NULL)
		rc = -ENOMEM;
	dynbuf_free(&b);
	return rc;
}

int yararules_from_bundle(const struct bundle_info *info, const void *raw,
			  size_t raw_len, YR_RULES **out, bool *compiled_here,
			  char *err, size_t errlen)
{
	*compiled_here = false;
	if (strcmp(info->kind, "rules") != 0 || info->raw_len != raw_len ||
	    info->compiled_len > raw_len)
		return errtext_set(-EBADMSG, err, errlen,
				   "not a rule bundle's payload");
	if (yararules_bundle_own_version(info)) {
		if (yararules_load(raw, info->compiled_len, out) == 0)
			return 0;
		return errtext_set(-EBADMSG, err, errlen,
				   "libyara %s refused the compiled rules it "
				   "should have made", YR_VERSION);
	}
	if (!yararules_bundle_usable(info))
		return errtext_set(-EPROTO, err, errlen,
				   "the bundle's rules were compiled by libyara "
				   "%s and it carries no sources; this agent's "
				   "libyara is %s: publish it again from a "
				   "collector of this release", info->yara,
				   YR_VERSION);
	char why[300];
	int rc = yararules_compile_text(
		(const char *)raw + info->compiled_len,
		raw_len - info->compiled_len, out, NULL, why, sizeof(why));
	if (rc != 0)
		return errtext_set(rc, err, errlen,
				   "libyara %s cannot compile the bundle's "
				   "signed sources: %s", YR_VERSION, why);
	*compiled_here = true;
	return 0;
}

static int hash_file(EVP_MD_CTX *md, const char *path)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	char buf[16384];
	size_t n;
	/* The name too (with its NUL), so that moving a rule changes it. */
	EVP_DigestUpdate(md, path, strlen(path) + 1);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		EVP_DigestUpdate(md, buf, n);
	int rc = ferror(f) ? -EIO : 0;
	fclose(f);
	return rc;
}

int yararules_digest(const char *const *paths, size_t npaths, char hex[65],
		     char *err, size_t errlen)
{
	struct file_list fl = {0};
	int rc = collect_all(paths, npaths, &fl, err, errlen);
	if (rc != 0)
		return rc;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		rc = -ENOMEM;
	for (size_t i = 0; i < fl.count && rc == 0; i++)
		if ((rc = hash_file(md, fl.paths[i])) != 0)
			snprintf(err, errlen, "%s: %s", fl.paths[i],
				 uv_strerror(rc));
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	if (rc == 0 && EVP_DigestFinal_ex(md, d, &dlen) == 1)
		for (unsigned i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", d[i]);
	EVP_MD_CTX_free(md);
	file_list_free(&fl);
	return rc;
}

struct membuf {
	char *data;
	size_t len, cap, pos;
};

static size_t mem_write(const void *ptr, size_t size, size_t count, void *arg)
{
	struct membuf *m = arg;
	size_t n = size * count;
	if (m->len + n > m->cap) {
		size_t cap = m->cap ? m->cap : 65536;
		while (cap < m->len + n)
			cap *= 2;
		char *p = alloc_resize(m->data, cap);
		if (p == NULL)
			return 0;
		m->data = p;
		m->cap = cap;
	}
	memcpy(m->data + m->len, ptr, n);
	m->len += n;
	return count;
}

static size_t mem_read(void *ptr, size_t size, size_t count, void *arg)
{
	struct membuf *m = arg;
	if (size == 0)
		return 0;
	size_t avail = (m->len - m->pos) / size;
	if (count > avail)
		count = avail;
	memcpy(ptr, m->data + m->pos, count * size);
	m->pos += count * size;
	return count;
}

int yararules_save(YR_RULES *rules, char **out, size_t *len)
{
	struct membuf m = {0};
	YR_STREAM s = {.user_data = &m, .write = mem_write};
	if (yr_rules_save_stream(rules, &s) != ERROR_SUCCESS) {
		alloc_free(m.data);
		return -ENOMEM;
	}
	*out = m.data;
	*len = m.len;
	return 0;
}

int yararules_load(const void *raw, size_t len, YR_RULES **out)
{
	struct membuf m = {(char *)raw, len, len, 0};
	YR_STREAM s = {.user_data = &m, .read = mem_read};
	int rc = yararules_init();
	if (rc != 0)
		return rc;
	return yr_rules_load_stream(&s, out) == ERROR_SUCCESS ? 0 : -EBADMSG;
}

unsigned yararules_count(YR_RULES *rules)
{
	YR_RULES_STATS stats;
	if (yr_rules_get_stats(rules, &stats) != ERROR_SUCCESS)
		return 0;
	return stats.num_rules;
}

struct magic {
	size_t off;
	const char *bytes;
	size_t len;
	const char *type;
};

/* The tags LOKI's filetype external uses for the formats that matter on a
 * school PC. */
static const struct magic magics[] = {
	{0, "MZ", 2, "EXE"},
	{0, "\x7f" "ELF", 4, "ELF"},
	{0, "PK\x03\x04", 4, "ZIP"},
	{0, "%PDF", 4, "PDF"},
	{0, "L\0\0\0\x01\x14\x02\0", 8, "LNK"},
	{0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8, "OLE"},
	{0, "Rar!", 4, "RAR"},
	{0, "7z\xbc\xaf\x27\x1c", 6, "7Z"},
	{0, "\x1f\x8b", 2, "GZIP"},
	{0, "{\\rtf", 5, "RTF"},
	{0, "#!", 2, "SCRIPT"},
	{0, "<?php", 5, "PHP"},
	{0, "\xca\xfe\xba\xbe", 4, "CLASS"},
	{0, "\x89PNG", 4, "PNG"},
	{0, "\xff\xd8\xff", 3, "JPEG"},
	{0, "GIF8", 4, "GIF"},
};

const char *yararules_filetype(const unsigned char *head, size_t n)
{
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
		const struct magic *m = &magics[i];
		if (n >= m->off + m->len &&
		    memcmp(head + m->off, m->bytes, m->len) == 0)
			return m->type;
	}
	return "";
}

void yararules_set_externals(YR_SCANNER *sc, const char *path,
			     const char *owner, const char *filetype)
{
	const char *slash = strrchr(path, '/');
#ifdef _WIN32
	/* Either separator: a path typed on Windows has backslashes. */
	const char *back = strrchr(path, '\\');
	if (back && (slash == NULL || back > slash))
		slash = back;
#endif
	const char *name = slash ? slash + 1 : path;
	char dir[4096] = "", ext[64] = "";
	if (slash && (size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	const char *dot = strrchr(name, '.');
	if (dot && dot != name && strlen(dot) < sizeof(ext)) {
		for (size_t i = 0; dot[i]; i++)
			ext[i] = (char)(dot[i] >= 'A' && dot[i] <= 'Z'
						? dot[i] + 32
						: dot[i]);
		ext[strlen(dot)] = '\0';
	}
	yr_scanner_define_string_variable(sc, "filename", name);
	yr_scanner_define_string_variable(sc, "filepath", dir);
	yr_scanner_define_string_variable(sc, "extension", ext);
	yr_scanner_define_string_variable(sc, "filetype", filetype);
	yr_scanner_define_string_variable(sc, "owner", owner);
}
