/* The Windows agent's on-demand scan (winscan.h). The walk and the reads
 * go through libuv's file functions, which take UTF-8 and call the wide
 * Windows APIs, so a path in any language reaches the file system intact;
 * libyara scans the bytes read here, never a path it would open itself. */
#include "agent/platform/windows/winscan.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <uv.h>

#include "agent/core/rulestore.h"
#include "agent/core/sources.h"
#include "agent/scan/scan_settings.h"
#include "common/alloc.h"
#include "common/dynbuf.h"
#include "common/jsonout.h"
#include "common/pki.h"
#include "common/textsafe.h"
#include "common/timeutil.h"
#include "common/yararules.h"

#define EXIT_MATCHES 5
#define MAX_DEPTH 64
#define MAX_RULES_LISTED 32

struct winscan {
	YR_SCANNER *scanner;
	bool json, verbose;
	long long max_size;
	unsigned rules;
	uint64_t files, scanned, matched, skipped, errors, bytes;
};

struct hits {
	struct dynbuf text; /* "a,b" */
	struct dynbuf json; /* [{"rule":"a"},...] */
	unsigned n;
};

static int on_yara(YR_SCAN_CONTEXT *ctx, int message, void *data, void *arg)
{
	struct hits *h = arg;
	(void)ctx;
	if (message != CALLBACK_MSG_RULE_MATCHING || h->n >= MAX_RULES_LISTED)
		return CALLBACK_CONTINUE;
	const YR_RULE *rule = data;
	dynbuf_addf(&h->text, "%s%s", h->n ? "," : "", rule->identifier);
	/* Rule names are the signed bundle's, but printed as any text. */
	dynbuf_addf(&h->json, "%s{\"rule\":\"", h->n ? "," : "");
	for (const char *c = rule->identifier; *c; c++)
		if (*c != '"' && *c != '\\' && (unsigned char)*c >= 0x20)
			dynbuf_add(&h->json, c, 1);
	dynbuf_add_str(&h->json, "\"}");
	h->n++;
	return CALLBACK_CONTINUE;
}

static void report(struct winscan *w, const char *path, const char *verdict,
		   uint64_t size, const char *why, const char *sha,
		   const struct hits *h)
{
	if (w->json) {
		printf("{\"path\":");
		json_print_string(stdout, path);
		printf(",\"verdict\":\"%s\",\"size\":%llu", verdict,
		       (unsigned long long)size);
		if (why) {
			printf(",\"reason\":");
			json_print_string(stdout, why);
		}
		if (h)
			printf(",\"sha256\":\"%s\",\"matches\":[%s]", sha,
			       h->json.data ? h->json.data : "");
		printf("}\n");
	} else if (h) {
		fputs("MATCH  ", stdout);
		textsafe_fputs(stdout, path);
		printf("  %s  sha256:%s\n", h->text.data ? h->text.data : "",
		       sha);
	} else if (why && (w->verbose || strcmp(verdict, "error") == 0)) {
		fputs(strcmp(verdict, "error") == 0 ? "ERROR  " : "SKIP   ",
		      stdout);
		textsafe_fputs(stdout, path);
		fputs(": ", stdout);
		textsafe_fputs(stdout, why);
		fputc('\n', stdout);
	}
}

/* The whole file, at most max bytes, through one handle. */
static int read_file(const char *path, uint64_t size, char **out)
{
	uv_fs_t req;
	int fd = uv_fs_open(NULL, &req, path, UV_FS_O_RDONLY, 0, NULL);
	uv_fs_req_cleanup(&req);
	if (fd < 0)
		return fd;
	char *buf = alloc_bytes(size ? size : 1);
	int rc = buf ? 0 : -ENOMEM;
	uint64_t done = 0;
	while (rc == 0 && done < size) {
		uv_buf_t b = uv_buf_init(buf + done, (unsigned)(size - done >
			(1u << 30) ? (1u << 30) : size - done));
		int n = uv_fs_read(NULL, &req, fd, &b, 1, (int64_t)done, NULL);
		uv_fs_req_cleanup(&req);
		if (n < 0)
			rc = n;
		else if (n == 0)
			rc = -EIO; /* shrank under us */
		else
			done += (uint64_t)n;
	}
	uv_fs_close(NULL, &req, fd, NULL);
	uv_fs_req_cleanup(&req);
	if (rc != 0) {
		alloc_free(buf);
		return rc;
	}
	*out = buf;
	return 0;
}

static void scan_file(struct winscan *w, const char *path, uint64_t size)
{
	char *data = NULL, why[200], sha[65] = "";
	w->files++;
	if ((long long)size > w->max_size) {
		snprintf(why, sizeof(why), "larger than scan.max_file_size (%lld "
			 "bytes)", w->max_size);
		w->skipped++;
		report(w, path, "skipped", size, why, NULL, NULL);
		return;
	}
	int rc = read_file(path, size, &data);
	if (rc != 0) {
		snprintf(why, sizeof(why), "cannot read: %s", uv_strerror(rc));
		w->errors++;
		report(w, path, "error", size, why, NULL, NULL);
		return;
	}
	struct hits h = {0};
	yararules_set_externals(w->scanner, path, "",
				yararules_filetype((unsigned char *)data,
						   size < 16 ? size : 16));
	yr_scanner_set_callback(w->scanner, on_yara, &h);
	int yr = yr_scanner_scan_mem(w->scanner, (const uint8_t *)data, size);
	w->scanned++;
	w->bytes += size;
	if (yr != ERROR_SUCCESS) {
		snprintf(why, sizeof(why), "libyara error %d%s", yr,
			 yr == ERROR_SCAN_TIMEOUT ? " (timeout)" : "");
		w->errors++;
		report(w, path, "error", size, why, NULL, NULL);
	} else if (h.n > 0) {
		unsigned char d[32];
		unsigned dlen = 0;
		if (EVP_Digest(data, size, d, &dlen, EVP_sha256(), NULL) == 1)
			for (unsigned i = 0; i < 32; i++)
				snprintf(sha + 2 * i, 3, "%02x", d[i]);
		w->matched++;
		report(w, path, "match", size, NULL, sha, &h);
	}
	dynbuf_free(&h.text);
	dynbuf_free(&h.json);
	alloc_free(data);
}

static void walk(struct winscan *w, const char *path, int depth)
{
	uv_fs_t req;
	/* lstat: a symbolic link or junction is reported as a link and not
	 * followed, so a planted junction cannot send the scan elsewhere or
	 * round in a loop. */
	int rc = uv_fs_lstat(NULL, &req, path, NULL);
	uv_stat_t st = req.statbuf;
	uv_fs_req_cleanup(&req);
	if (rc != 0) {
		char why[160];
		snprintf(why, sizeof(why), "%s", uv_strerror(rc));
		w->errors++;
		report(w, path, "error", 0, why, NULL, NULL);
		return;
	}
	if ((st.st_mode & S_IFMT) == S_IFREG) {
		scan_file(w, path, st.st_size);
		return;
	}
	if ((st.st_mode & S_IFMT) != S_IFDIR || depth > MAX_DEPTH) {
		w->skipped++;
		report(w, path, "skipped", 0, "not a regular file or folder",
		       NULL, NULL);
		return;
	}
	if (uv_fs_scandir(NULL, &req, path, 0, NULL) < 0) {
		w->errors++;
		report(w, path, "error", 0, "cannot list the folder", NULL,
		       NULL);
		uv_fs_req_cleanup(&req);
		return;
	}
	uv_dirent_t ent;
	while (uv_fs_scandir_next(&req, &ent) != UV_EOF) {
		char child[4096];
		int n = snprintf(child, sizeof(child), "%s/%s", path, ent.name);
		if (n > 0 && (size_t)n < sizeof(child))
			walk(w, child, depth + 1);
	}
	uv_fs_req_cleanup(&req);
}

/* The installed bundle, verified against the pinned CA, in this libyara. */
static int load_installed(const struct agent_settings *s, YR_RULES **out,
			  char *version, size_t vcap, char *err, size_t errlen)
{
	struct rulestore_current cur;
	int rc = rulestore_current(s->state_dir, &cur, err, errlen);
	if (rc != 0)
		return rc;
	X509 *ca = NULL;
	if (pki_read_cert(cur.ca, &ca) != 0) {
		snprintf(err, errlen, "%s: cannot read the pinned CA", cur.ca);
		return -EINVAL;
	}
	struct bundle_info info;
	void *raw = NULL;
	size_t raw_len = 0;
	bool here = false;
	rc = bundle_open_file(cur.path, X509_get0_pubkey(ca), &info, &raw,
			      &raw_len, err, errlen);
	X509_free(ca);
	if (rc == 0)
		rc = yararules_from_bundle(&info, raw, raw_len, out, &here, err,
					   errlen);
	alloc_free(raw);
	if (rc == 0)
		snprintf(version, vcap, "%s", cur.version_key);
	return rc;
}

int winscan_main(const struct cli *cli)
{
	struct agent_settings s;
	bool have_config = access(cli->config, F_OK) == 0;
	char err[512], version[80];
	YR_RULES *rules = NULL;
	int rc;
	if (cli->argc < 2)
		return cli_usage_error("scan needs at least one PATH");
	if (have_config && (rc = cli_load(cli, &s)) != 0)
		return rc;
	if (cli->nrules > 0) {
		char hex[65];
		rc = yararules_digest(cli->rules, cli->nrules, hex, err,
				      sizeof(err));
		if (rc == 0)
			rc = yararules_compile(cli->rules, cli->nrules, &rules,
					       NULL, err, sizeof(err));
		snprintf(version, sizeof(version), "src-%.16s", hex);
	} else if (!have_config) {
		snprintf(err, sizeof(err), "no agent.yaml, so no installed "
			 "bundle");
		rc = -ENOENT;
	} else {
		rc = load_installed(&s, &rules, version, sizeof(version), err,
				    sizeof(err));
	}
	if (rc != 0) {
		fprintf(stderr, "eduwatch-agent: %s; give --rules FILE|DIR\n",
			err);
		return EXIT_CONFIG;
	}
	const struct scan_settings *sc =
		have_config ? agent_settings_for(&s, &scan_config) : NULL;
	struct winscan w = {
		.json = cli->json,
		.verbose = cli->verbose,
		.max_size = sc ? sc->scan_max_file_size : 64LL << 20,
		.rules = yararules_count(rules),
	};
	if (yr_scanner_create(rules, &w.scanner) != ERROR_SUCCESS) {
		yr_rules_destroy(rules);
		fprintf(stderr, "eduwatch-agent: out of memory\n");
		return EXIT_RUNTIME;
	}
	yr_scanner_set_timeout(w.scanner, sc ? (int)sc->scan_timeout : 60);
	int64_t t0 = timeutil_now_us();
	for (int i = 1; i < cli->argc; i++)
		walk(&w, cli->argv[i], 0);
	double secs = (double)(timeutil_now_us() - t0) / 1e6;
	yr_scanner_destroy(w.scanner);
	yr_rules_destroy(rules);
	if (w.json) {
		printf("{\"summary\":{\"files\":%llu,\"scanned\":%llu,"
		       "\"cached\":0,\"matched\":%llu,\"skipped\":%llu,"
		       "\"errors\":%llu,\"bytes\":%llu,\"rules\":%u,"
		       "\"rules_version\":",
		       (unsigned long long)w.files, (unsigned long long)w.scanned,
		       (unsigned long long)w.matched,
		       (unsigned long long)w.skipped,
		       (unsigned long long)w.errors, (unsigned long long)w.bytes,
		       w.rules);
		json_print_string(stdout, version);
		printf(",\"restarts\":0,\"seconds\":%.3f,\"error\":null}}\n",
		       secs);
	} else {
		printf("scanned %llu files (%.1f MB) in %.1f s; %llu matched, "
		       "%llu skipped, %llu errors; %u rules (%s)\n",
		       (unsigned long long)w.scanned, (double)w.bytes / 1e6, secs,
		       (unsigned long long)w.matched,
		       (unsigned long long)w.skipped,
		       (unsigned long long)w.errors, w.rules, version);
	}
	fflush(stdout);
	return w.matched ? EXIT_MATCHES : EXIT_OK;
}
