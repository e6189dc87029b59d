/* The Windows agent's on-demand scan (winscan.h). The walk goes through
 * libuv's file functions, which take UTF-8 and call the wide Windows
 * APIs, so a path in any language reaches the file system intact. The
 * parent opens each file and hands the handle to the jailed child
 * (jail.h), which reads it and gives libyara the bytes: neither the
 * child nor libyara ever opens a path. */
#include "agent/platform/windows/winscan.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <uv.h>
#include <windows.h>

#include "agent/core/rulestore.h"
#include "agent/core/sources.h"
#include "agent/platform/windows/jail.h"
#include "agent/scan/scan.h"
#include "agent/scan/scan_settings.h"
#include "common/alloc.h"
#include "common/dynbuf.h"
#include "common/jsonout.h"
#include "common/pki.h"
#include "common/textsafe.h"
#include "common/timeutil.h"
#include "common/wire.h"
#include "common/yararules.h"

#define EXIT_MATCHES 5
#define MAX_DEPTH 64
#define MAX_RULES_LISTED 32
#define MAX_NAMES 4096	     /* a reply's rule names, comma-separated */
#define SETUP_MAGIC 0x31535745u /* "EWS1" */

/* The parent's words to the scanner child and the child's answers, over
 * its stdin and stdout pipes, in this machine's byte order (the two are
 * the same .exe). First a setup and the compiled rules, then one request
 * per file, each answered before the next is sent. */
struct child_setup {
	uint32_t magic;
	uint32_t timeout_s;
	uint64_t max_size;
	uint64_t rules_len; /* then that many bytes of yararules_save */
};
struct child_request {
	uint64_t handle; /* the file, in the child's handle table */
	uint64_t size;	 /* bytes to read, at most max_size */
	uint32_t path_len; /* then the path, for the rules' externals only */
};
struct scan_reply {
	int32_t status;	   /* 0, a negative errno (read), or libyara's error */
	uint32_t hits;
	uint32_t names_len; /* then the matching rules' names, "a,b" */
	char sha256[64];    /* of the bytes scanned, when hits > 0 */
};

struct hits;

/* One walk over some paths with one child at a time. Every file that is
 * not clean goes to report (printed by the command, packed into events
 * by the scan source); cancel is read between files. */
struct winscan {
	struct jail jail;
	void (*report)(struct winscan *w, const char *path, const char *verdict,
		       uint64_t size, const char *why, const char *sha,
		       const struct hits *h);
	void *arg;
	const char *const *excludes;
	size_t nexcludes;
	volatile LONG cancel;
	bool json, verbose, child_lost;
	long long max_size;
	unsigned rules, timeout_s, cpu;
	char *rules_raw; /* the compiled rules, sent to each child */
	size_t rules_len;
	uint64_t files, scanned, matched, skipped, errors, bytes, restarts;
};

struct hits {
	struct dynbuf text; /* "a,b" */
	struct dynbuf json; /* [{"rule":"a"},...] */
	unsigned n;
};

static bool read_all(HANDLE h, void *buf, size_t len)
{
	DWORD got;
	for (size_t done = 0; done < len; done += got) {
		DWORD want = len - done > (1u << 30) ? (1u << 30)
						      : (DWORD)(len - done);
		if (!ReadFile(h, (char *)buf + done, want, &got, NULL) ||
		    got == 0)
			return false;
	}
	return true;
}

static bool write_all(HANDLE h, const void *buf, size_t len)
{
	DWORD put;
	for (size_t done = 0; done < len; done += put) {
		DWORD want = len - done > (1u << 30) ? (1u << 30)
						      : (DWORD)(len - done);
		if (!WriteFile(h, (const char *)buf + done, want, &put, NULL))
			return false;
	}
	return true;
}

/* --- the child: rules from the parent, bytes from handles ------------- */

static int on_yara(YR_SCAN_CONTEXT *ctx, int message, void *data, void *arg)
{
	struct hits *h = arg;
	(void)ctx;
	if (message != CALLBACK_MSG_RULE_MATCHING || h->n >= MAX_RULES_LISTED)
		return CALLBACK_CONTINUE;
	const YR_RULE *rule = data;
	if (h->text.len + strlen(rule->identifier) + 1 < MAX_NAMES) {
		dynbuf_addf(&h->text, "%s%s", h->n ? "," : "",
			    rule->identifier);
		h->n++;
	}
	return CALLBACK_CONTINUE;
}

/* The file behind a handle the parent gave, at most size bytes. */
static int read_handle(HANDLE file, uint64_t size, char **out, size_t *len)
{
	char *buf = alloc_bytes(size ? size : 1);
	if (buf == NULL)
		return -ENOMEM;
	size_t done = 0;
	DWORD got = 1;
	while (done < size && got > 0) {
		DWORD want = size - done > (1u << 30) ? (1u << 30)
						       : (DWORD)(size - done);
		if (!ReadFile(file, buf + done, want, &got, NULL)) {
			alloc_free(buf);
			return -EIO;
		}
		done += got;
	}
	*out = buf;
	*len = done;
	return 0;
}

static bool scan_one(YR_SCANNER *scanner, HANDLE in, HANDLE out,
		     uint64_t max_size)
{
	struct child_request req;
	char path[4096];
	if (!read_all(in, &req, sizeof(req)))
		return false; /* the parent is done */
	if (req.path_len >= sizeof(path) || req.size > max_size ||
	    !read_all(in, path, req.path_len))
		return false;
	path[req.path_len] = '\0';
	HANDLE file = (HANDLE)(uintptr_t)req.handle;
	struct scan_reply rep = {0};
	struct hits h = {0};
	char *data = NULL;
	size_t len = 0;
	rep.status = read_handle(file, req.size, &data, &len);
	CloseHandle(file);
	if (rep.status == 0) {
		yararules_set_externals(
			scanner, path, "",
			yararules_filetype((unsigned char *)data,
					   len < 16 ? len : 16));
		yr_scanner_set_callback(scanner, on_yara, &h);
		rep.status = yr_scanner_scan_mem(scanner, (const uint8_t *)data,
						 len);
	}
	if (rep.status == ERROR_SUCCESS && h.n > 0) {
		unsigned char d[32];
		unsigned dlen = 0;
		char hex[65] = "";
		if (EVP_Digest(data, len, d, &dlen, EVP_sha256(), NULL) == 1)
			for (unsigned i = 0; i < 32; i++)
				snprintf(hex + 2 * i, 3, "%02x", d[i]);
		memcpy(rep.sha256, hex, sizeof(rep.sha256));
		rep.hits = h.n;
		rep.names_len = (uint32_t)h.text.len;
	}
	alloc_free(data);
	bool ok = write_all(out, &rep, sizeof(rep)) &&
		  write_all(out, h.text.data ? h.text.data : "",
			    rep.names_len);
	dynbuf_free(&h.text);
	return ok;
}

int winscan_child_main(void)
{
	HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
	HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
	struct child_setup setup;
	YR_RULES *rules = NULL;
	YR_SCANNER *scanner = NULL;
	char *raw = NULL;
	if (!read_all(in, &setup, sizeof(setup)) ||
	    setup.magic != SETUP_MAGIC || setup.rules_len > (256u << 20)) {
		fprintf(stderr, "eduwatch-agent _scanner: bad setup from the "
				"parent\n");
		return EXIT_RUNTIME;
	}
	raw = alloc_bytes(setup.rules_len ? setup.rules_len : 1);
	if (raw == NULL || !read_all(in, raw, setup.rules_len) ||
	    yararules_init() != 0 ||
	    yararules_load(raw, setup.rules_len, &rules) != 0 ||
	    yr_scanner_create(rules, &scanner) != ERROR_SUCCESS) {
		fprintf(stderr, "eduwatch-agent _scanner: cannot load the "
				"rules the parent sent\n");
		alloc_free(raw);
		if (rules)
			yr_rules_destroy(rules);
		return EXIT_RUNTIME;
	}
	alloc_free(raw);
	yr_scanner_set_timeout(scanner, (int)setup.timeout_s);
	while (scan_one(scanner, in, out, setup.max_size))
		;
	yr_scanner_destroy(scanner);
	yr_rules_destroy(rules);
	return EXIT_OK;
}

/* --- the parent: opens, checks, hands over ---------------------------- */

static void print_report(struct winscan *w, const char *path, const char *verdict,
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

/* A child in the jail, given the setup and the rules. */
static int start_child(struct winscan *w, char *err, size_t errlen)
{
	wchar_t exe[MAX_PATH], args[MAX_PATH + 32];
	DWORD n = GetModuleFileNameW(NULL, exe, MAX_PATH);
	if (n == 0 || n >= MAX_PATH) {
		snprintf(err, errlen, "cannot find the agent's own .exe");
		return -ENOENT;
	}
	swprintf(args, MAX_PATH + 32, L"\"%ls\" _scanner", exe);
	/* The file being scanned, twice over (the read and libyara's
	 * working copy of matches), and the rules. */
	struct jail_limits limits = {
		.memory_bytes = 2 * (uint64_t)w->max_size + w->rules_len +
				(256u << 20),
		.cpu_percent = (int)w->cpu,
	};
	int rc = jail_spawn(exe, args, &limits, &w->jail, err, errlen);
	if (rc != 0)
		return rc;
	struct child_setup setup = {
		.magic = SETUP_MAGIC,
		.timeout_s = w->timeout_s,
		.max_size = (uint64_t)w->max_size,
		.rules_len = w->rules_len,
	};
	if (!write_all(w->jail.to_child, &setup, sizeof(setup)) ||
	    !write_all(w->jail.to_child, w->rules_raw, w->rules_len)) {
		snprintf(err, errlen, "the scanner child stopped before it "
			 "took the rules");
		(void)jail_close(&w->jail, 0);
		return -EPIPE;
	}
	return 0;
}

/* The path opened for reading without following a link or junction at
 * its last step, checked through the handle: what the child reads is the
 * regular file checked here, whatever the name points to a moment later. */
static HANDLE open_regular(const char *path, uint64_t *size, char *why,
			   size_t cap)
{
	wchar_t wpath[4096];
	if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, wpath,
				4096) == 0) {
		snprintf(why, cap, "path too long or not UTF-8");
		return INVALID_HANDLE_VALUE;
	}
	HANDLE h = CreateFileW(wpath,
			       FILE_READ_DATA | FILE_READ_ATTRIBUTES |
				       SYNCHRONIZE,
			       FILE_SHARE_READ | FILE_SHARE_WRITE |
				       FILE_SHARE_DELETE,
			       NULL, OPEN_EXISTING,
			       FILE_FLAG_OPEN_REPARSE_POINT |
				       FILE_FLAG_SEQUENTIAL_SCAN,
			       NULL);
	BY_HANDLE_FILE_INFORMATION fi;
	if (h == INVALID_HANDLE_VALUE) {
		snprintf(why, cap, "cannot open (Windows error %lu)",
			 (unsigned long)GetLastError());
		return h;
	}
	if (!GetFileInformationByHandle(h, &fi) ||
	    (fi.dwFileAttributes &
	     (FILE_ATTRIBUTE_REPARSE_POINT | FILE_ATTRIBUTE_DIRECTORY))) {
		snprintf(why, cap, "no longer a regular file when opened");
		CloseHandle(h);
		return INVALID_HANDLE_VALUE;
	}
	*size = (uint64_t)fi.nFileSizeHigh << 32 | fi.nFileSizeLow;
	return h;
}

/* The child's answer for one file; -EPIPE when it died on it. */
static int ask_child(struct winscan *w, HANDLE file, const char *path,
		     uint64_t size, struct scan_reply *rep, struct hits *h)
{
	struct child_request req = {.size = size,
				   .path_len = (uint32_t)strlen(path)};
	char names[MAX_NAMES + 1];
	if (jail_give_handle(&w->jail, file, &req.handle) != 0 ||
	    !write_all(w->jail.to_child, &req, sizeof(req)) ||
	    !write_all(w->jail.to_child, path, req.path_len) ||
	    !read_all(w->jail.from_child, rep, sizeof(*rep)) ||
	    rep->names_len > MAX_NAMES || rep->hits > MAX_RULES_LISTED ||
	    !read_all(w->jail.from_child, names, rep->names_len))
		return -EPIPE;
	names[rep->names_len] = '\0';
	/* Rule names are the signed bundle's, but the child is not trusted
	 * to have sent only those: printed as any text. */
	dynbuf_add_str(&h->text, names);
	for (char *name = names, *next; rep->hits > 0 && name; name = next) {
		next = strchr(name, ',');
		if (next)
			*next++ = '\0';
		dynbuf_addf(&h->json, "%s{\"rule\":\"", h->n ? "," : "");
		for (const char *c = name; *c; c++)
			if (*c != '"' && *c != '\\' && (unsigned char)*c >= 0x20)
				dynbuf_add(&h->json, c, 1);
		dynbuf_add_str(&h->json, "\"}");
		h->n++;
	}
	return 0;
}

static void scan_file(struct winscan *w, const char *path)
{
	char why[200], sha[65] = "";
	uint64_t size = 0;
	w->files++;
	HANDLE file = open_regular(path, &size, why, sizeof(why));
	if (file == INVALID_HANDLE_VALUE) {
		w->errors++;
		w->report(w, path, "error", 0, why, NULL, NULL);
		return;
	}
	if ((long long)size > w->max_size) {
		snprintf(why, sizeof(why), "larger than scan.max_file_size (%lld "
			 "bytes)", w->max_size);
		w->skipped++;
		w->report(w, path, "skipped", size, why, NULL, NULL);
		CloseHandle(file);
		return;
	}
	struct scan_reply rep;
	struct hits h = {0};
	bool was_lost = w->child_lost;
	int rc = was_lost ? -EPIPE : ask_child(w, file, path, size, &rep, &h);
	CloseHandle(file);
	if (rc != 0 && was_lost) {
		snprintf(why, sizeof(why), "not scanned: the isolated scanner "
			 "could not be restarted");
		w->errors++;
		w->report(w, path, "error", size, why, NULL, NULL);
	} else if (rc != 0) {
		/* Hostile bytes may have killed it: this file is the error,
		 * and a new child takes the next one. */
		(void)jail_close(&w->jail, 0);
		char err[256];
		w->restarts++;
		if (start_child(w, err, sizeof(err)) != 0) {
			w->child_lost = true;
			fprintf(stderr, "eduwatch-agent: cannot restart the "
				"isolated scanner: %s\n", err);
		}
		snprintf(why, sizeof(why), "the isolated scanner stopped on "
			 "this file");
		w->errors++;
		w->report(w, path, "error", size, why, NULL, NULL);
	} else if (rep.status < 0) {
		snprintf(why, sizeof(why), "cannot read: %s",
			 rep.status == -ENOMEM ? "out of memory"
					       : "read error");
		w->errors++;
		w->report(w, path, "error", size, why, NULL, NULL);
	} else if (rep.status != ERROR_SUCCESS) {
		w->scanned++;
		snprintf(why, sizeof(why), "libyara error %d%s", rep.status,
			 rep.status == ERROR_SCAN_TIMEOUT ? " (timeout)" : "");
		w->errors++;
		w->report(w, path, "error", size, why, NULL, NULL);
	} else {
		w->scanned++;
		w->bytes += size;
		if (h.n > 0) {
			for (int i = 0; i < 64; i++)
				sha[i] = isxdigit((unsigned char)rep.sha256[i])
						 ? rep.sha256[i] : '0';
			w->matched++;
			w->report(w, path, "match", size, NULL, sha, &h);
		}
	}
	dynbuf_free(&h.text);
	dynbuf_free(&h.json);
}

static bool excluded(const struct winscan *w, const char *path)
{
	for (size_t i = 0; i < w->nexcludes; i++) {
		size_t n = strlen(w->excludes[i]);
		if (strncmp(path, w->excludes[i], n) == 0 &&
		    (path[n] == '\0' || path[n] == '/' || path[n] == '\\'))
			return true;
	}
	return false;
}

static void walk(struct winscan *w, const char *path, int depth)
{
	uv_fs_t req;
	if (w->cancel || excluded(w, path))
		return;
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
		w->report(w, path, "error", 0, why, NULL, NULL);
		return;
	}
	if ((st.st_mode & S_IFMT) == S_IFREG) {
		scan_file(w, path);
		return;
	}
	if ((st.st_mode & S_IFMT) != S_IFDIR || depth > MAX_DEPTH) {
		w->skipped++;
		w->report(w, path, "skipped", 0, "not a regular file or folder",
		       NULL, NULL);
		return;
	}
	if (uv_fs_scandir(NULL, &req, path, 0, NULL) < 0) {
		w->errors++;
		w->report(w, path, "error", 0, "cannot list the folder", NULL,
		       NULL);
		uv_fs_req_cleanup(&req);
		return;
	}
	uv_dirent_t ent;
	while (uv_fs_scandir_next(&req, &ent) != UV_EOF) {
		char child[4096];
		size_t plen = strlen(path);
		bool has_sep = plen && (path[plen - 1] == '/' ||
					path[plen - 1] == '\\');
		/* A folder named the Windows way ("Z:\\tmp") is joined
		 * the Windows way, so the paths in events read as the
		 * PC's user knows them; "/tmp" as given. */
		const char *sep = has_sep ? ""
				  : strchr(path, '\\') ? "\\" : "/";
		int n = snprintf(child, sizeof(child), "%s%s%s", path, sep,
				 ent.name);
		if (n > 0 && (size_t)n < sizeof(child))
			walk(w, child, depth + 1);
	}
	uv_fs_req_cleanup(&req);
}

/* A bundle, verified against the CA that must have signed it, in this
 * libyara (its signed sources compiled when the compiled form is another
 * libyara's). */
static int load_bundle(const char *path, const char *ca_path, YR_RULES **out,
		       char *err, size_t errlen)
{
	X509 *ca = NULL;
	if (pki_read_cert(ca_path, &ca) != 0) {
		snprintf(err, errlen, "%s: cannot read the pinned CA", ca_path);
		return -EINVAL;
	}
	struct bundle_info info;
	void *raw = NULL;
	size_t raw_len = 0;
	bool here = false;
	int rc = bundle_open_file(path, X509_get0_pubkey(ca), &info, &raw,
				  &raw_len, err, errlen);
	X509_free(ca);
	if (rc == 0)
		rc = yararules_from_bundle(&info, raw, raw_len, out, &here, err,
					   errlen);
	alloc_free(raw);
	return rc;
}

/* The installed bundle, in this libyara. */
static int load_installed(const struct agent_settings *s, YR_RULES **out,
			  char *version, size_t vcap, char *err, size_t errlen)
{
	struct rulestore_current cur;
	int rc = rulestore_current(s->state_dir, &cur, err, errlen);
	if (rc == 0)
		rc = load_bundle(cur.path, cur.ca, out, err, errlen);
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
		.report = print_report,
		.json = cli->json,
		.verbose = cli->verbose,
		.max_size = sc ? sc->scan_max_file_size : 64LL << 20,
		.timeout_s = sc ? (unsigned)sc->scan_timeout : 60,
		.cpu = sc ? (unsigned)sc->scan_cpu : 0,
		.rules = yararules_count(rules),
	};
	rc = yararules_save(rules, &w.rules_raw, &w.rules_len);
	yr_rules_destroy(rules);
	if (rc != 0 || (rc = start_child(&w, err, sizeof(err))) != 0) {
		fprintf(stderr, "eduwatch-agent: cannot start the isolated "
			"scanner: %s\n", rc == -ENOMEM ? "out of memory" : err);
		alloc_free(w.rules_raw);
		return EXIT_RUNTIME;
	}
	if (w.jail.missing[0] && !w.json)
		printf("note: the scanner's jail runs without: %s\n",
		       w.jail.missing);
	int64_t t0 = timeutil_now_us();
	for (int i = 1; i < cli->argc; i++)
		walk(&w, cli->argv[i], 0);
	double secs = (double)(timeutil_now_us() - t0) / 1e6;
	(void)jail_close(&w.jail, 5000);
	alloc_free(w.rules_raw);
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
		printf(",\"restarts\":%llu,\"seconds\":%.3f,\"error\":null}}"
		       "\n", (unsigned long long)w.restarts, secs);
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

/* --- scan.h on Windows: the scan source's scans ------------------------
 * The same walk and child as the command, on a libuv worker thread so
 * the agent's loop keeps its uplink; the files that are not clean are
 * packed as they come and handed to the source on the loop's thread when
 * the scan ends (at most RECORDS_MAX; the totals count them all). The
 * scan cache is not used yet: every file is read again. */

#define RECORDS_MAX 2000

struct scan {
	uv_work_t work;
	struct winscan w;
	const struct scan_ops *ops;
	void *arg;
	char **paths, **excludes;
	size_t npaths, nexcludes;
	char *bundle, *ca;
	msgpack_sbuffer records;
	msgpack_packer pk;
	size_t nrecords;
	int rc;
	char fatal[512];
	int64_t started_us;
};

static void pack_record(struct winscan *w, const char *path,
			const char *verdict, uint64_t size, const char *why,
			const char *sha, const struct hits *h)
{
	struct scan *s = w->arg;
	if (s->nrecords >= RECORDS_MAX)
		return;
	s->nrecords++;
	msgpack_pack_map(&s->pk, 6);
	wire_pack_kv_str(&s->pk, "p", path);
	wire_pack_kv_str(&s->pk, "v", verdict);
	wire_pack_kv_u64(&s->pk, "size", size);
	wire_pack_kv_str(&s->pk, "why", why ? why : "");
	wire_pack_kv_str(&s->pk, "sha", sha ? sha : "");
	/* The matches as the Linux child gives them: [{rule: NAME}]. */
	wire_pack_str(&s->pk, "m");
	char names[MAX_NAMES + 1] = "";
	if (h && h->text.data)
		snprintf(names, sizeof(names), "%s", h->text.data);
	msgpack_pack_array(&s->pk, h ? h->n : 0);
	for (char *name = names, *next; h && h->n && name; name = next) {
		next = strchr(name, ',');
		if (next)
			*next++ = '\0';
		msgpack_pack_map(&s->pk, 1);
		wire_pack_kv_str(&s->pk, "rule", name);
	}
}

static void run_scan(uv_work_t *work)
{
	struct scan *s = work->data;
	YR_RULES *rules = NULL;
	s->rc = load_bundle(s->bundle, s->ca, &rules, s->fatal,
			    sizeof(s->fatal));
	if (s->rc != 0)
		return;
	s->w.rules = yararules_count(rules);
	s->rc = yararules_save(rules, &s->w.rules_raw, &s->w.rules_len);
	yr_rules_destroy(rules);
	if (s->rc != 0) {
		snprintf(s->fatal, sizeof(s->fatal), "cannot pass the rules "
			 "to the isolated scanner");
		return;
	}
	s->rc = start_child(&s->w, s->fatal, sizeof(s->fatal));
	if (s->rc != 0)
		return;
	for (size_t i = 0; i < s->npaths && !s->w.cancel; i++)
		walk(&s->w, s->paths[i], 0);
	(void)jail_close(&s->w.jail, 5000);
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		alloc_free(v[i]);
	alloc_free(v);
}

static void scan_free_all(struct scan *s)
{
	free_strings(s->paths, s->npaths);
	free_strings(s->excludes, s->nexcludes);
	alloc_free(s->bundle);
	alloc_free(s->ca);
	alloc_free(s->w.rules_raw);
	msgpack_sbuffer_destroy(&s->records);
	alloc_free(s);
}

static void deliver(struct scan *s)
{
	msgpack_unpacked u;
	size_t off = 0;
	msgpack_unpacked_init(&u);
	while (msgpack_unpack_next(&u, s->records.data, s->records.size,
				   &off) == MSGPACK_UNPACK_SUCCESS) {
		const msgpack_object *r = &u.data;
		char path[4096] = "", verdict[16] = "", why[200] = "",
		     sha[65] = "";
		uint64_t size = 0;
		wire_get_str(r, "p", path, sizeof(path));
		wire_get_str(r, "v", verdict, sizeof(verdict));
		wire_get_str(r, "why", why, sizeof(why));
		wire_get_str(r, "sha", sha, sizeof(sha));
		wire_get_u64(r, "size", &size);
		bool match = strcmp(verdict, "match") == 0;
		struct scan_file f = {
			.path = path,
			.verdict = match ? SCAN_MATCH
				   : strcmp(verdict, "error") == 0 ? SCAN_ERROR
								   : SCAN_SKIPPED,
			.why = why[0] ? why : NULL,
			.size = size,
			.sha256 = match ? sha : NULL,
			.matches = match ? wire_map_get(r, "m") : NULL,
		};
		s->ops->on_file(s->arg, &f);
	}
	msgpack_unpacked_destroy(&u);
}

static void scan_finished(uv_work_t *work, int status)
{
	struct scan *s = work->data;
	struct scan_totals t;
	if (status == 0 && s->rc == 0)
		deliver(s);
	scan_get_totals(s, &t);
	const char *fatal = s->rc != 0 ? s->fatal
			    : status != 0 || s->w.cancel ? "cancelled"
							 : NULL;
	s->ops->on_done(s->arg, &t, fatal);
	scan_free_all(s);
}

static char **copy_strings(const char *const *v, size_t n)
{
	char **out = alloc_zeroed(n ? n : 1, sizeof(char *));
	for (size_t i = 0; out && i < n; i++)
		if ((out[i] = alloc_strdup(v[i])) == NULL) {
			free_strings(out, i);
			return NULL;
		}
	return out;
}

int scan_start(uv_loop_t *loop, const struct scan_request *req,
	       const struct scan_ops *ops, void *arg, struct scan **out)
{
	*out = NULL;
	if (req->bundle == NULL || req->ca == NULL)
		return -EINVAL; /* the source scans with its installed bundle */
	struct scan *s = alloc_zeroed(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	msgpack_sbuffer_init(&s->records);
	msgpack_packer_init(&s->pk, &s->records, msgpack_sbuffer_write);
	s->ops = ops;
	s->arg = arg;
	s->started_us = timeutil_now_us();
	s->npaths = req->npaths;
	s->nexcludes = req->nexcludes;
	s->paths = copy_strings(req->paths, req->npaths);
	s->excludes = copy_strings(req->excludes, req->nexcludes);
	s->bundle = alloc_strdup(req->bundle);
	s->ca = alloc_strdup(req->ca);
	if (!s->paths || !s->excludes || !s->bundle || !s->ca) {
		scan_free_all(s);
		return -ENOMEM;
	}
	s->w.report = pack_record;
	s->w.arg = s;
	s->w.excludes = (const char *const *)s->excludes;
	s->w.nexcludes = s->nexcludes;
	s->w.max_size = req->max_size;
	s->w.timeout_s = req->timeout_s > 0 ? (unsigned)req->timeout_s : 60;
	s->w.cpu = req->cpu_pct > 0 ? (unsigned)req->cpu_pct : 0;
	s->work.data = s;
	int rc = uv_queue_work(loop, &s->work, run_scan, scan_finished);
	if (rc != 0) {
		scan_free_all(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* Between two files the worker sees it and stops; on_done follows. */
void scan_cancel(struct scan *s)
{
	InterlockedExchange(&s->w.cancel, 1);
}

/* Exact once the scan is over; while it runs, an indication read
 * without a lock from the worker's counters. */
void scan_get_totals(const struct scan *s, struct scan_totals *out)
{
	*out = (struct scan_totals){
		.seen = s->w.files,
		.scanned = s->w.scanned,
		.matched = s->w.matched,
		.skipped = s->w.skipped,
		.errors = s->w.errors,
		.bytes = s->w.bytes,
		.rules = s->w.rules,
		.restarts = (unsigned)s->w.restarts,
		.started_us = s->started_us,
	};
}
