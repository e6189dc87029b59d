#include "agent/scan/scanchild.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <openssl/evp.h>
#include <uv.h>

#include "agent/platform/beneath.h"
#include "agent/core/childproc.h"
#include "agent/platform/sandbox.h"
#include "common/alloc.h"
#include "common/bundle.h"
#include "common/mpmap.h"
#include "common/pki.h"
#include "common/wire.h"
#include "common/yararules.h"

#define MAX_RULE_PATHS 16
#define MAX_MATCHES 32
#define MAX_META 16
#define TEXT_MAX 256
#define REQUEST_MAX 8192
#define CPU_WINDOW_NS (10LL * 1000000000)
#define COMPILED_CHUNK (512u * 1024u)

/* ---- pacing ------------------------------------------------------------- */

struct pacer {
	int pct; /* of one core; 0 or >= 100: unpaced */
	long long wall0, cpu0;
};

static long long clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void pacer_reset(struct pacer *p)
{
	p->wall0 = clock_ns(CLOCK_MONOTONIC);
	p->cpu0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

/* Sleeps until the CPU used in this window is at most pct of the wall
 * time: measured, so that it holds whatever the files cost. */
static void pacer_after_file(struct pacer *p)
{
	if (p->pct <= 0 || p->pct >= 100)
		return;
	long long wall = clock_ns(CLOCK_MONOTONIC) - p->wall0;
	long long cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - p->cpu0;
	long long need = cpu * 100 / p->pct;
	if (need > wall) {
		long long ns = need - wall;
		struct timespec ts = {ns / 1000000000, ns % 1000000000};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	if (clock_ns(CLOCK_MONOTONIC) - p->wall0 > CPU_WINDOW_NS)
		pacer_reset(p);
}

/* ---- one file ------------------------------------------------------------ */

struct match_list {
	msgpack_packer *pk;
	msgpack_sbuffer body; /* the packed matches */
	msgpack_packer mpk;
	unsigned count;
};

static void pack_text(msgpack_packer *pk, const char *s)
{
	size_t n = strnlen(s, TEXT_MAX);
	wire_pack_strn(pk, s, n);
}

static int on_scan_message(YR_SCAN_CONTEXT *ctx, int message, void *data,
			   void *arg)
{
	struct match_list *ml = arg;
	(void)ctx;
	if (message != CALLBACK_MSG_RULE_MATCHING)
		return CALLBACK_CONTINUE;
	if (ml->count >= MAX_MATCHES)
		return CALLBACK_ABORT;
	YR_RULE *rule = data;
	const char *tag;
	YR_META *meta;
	unsigned ntags = 0, nmeta = 0;
	yr_rule_tags_foreach(rule, tag) ntags++;
	yr_rule_metas_foreach(rule, meta) nmeta++;
	if (nmeta > MAX_META)
		nmeta = MAX_META;
	msgpack_packer *pk = &ml->mpk;
	msgpack_pack_map(pk, 4);
	wire_pack_str(pk, "rule");
	pack_text(pk, rule->identifier);
	wire_pack_str(pk, "ns");
	pack_text(pk, rule->ns->name);
	wire_pack_str(pk, "tags");
	msgpack_pack_array(pk, ntags);
	yr_rule_tags_foreach(rule, tag) pack_text(pk, tag);
	wire_pack_str(pk, "meta");
	msgpack_pack_map(pk, nmeta);
	unsigned i = 0;
	yr_rule_metas_foreach(rule, meta)
	{
		if (i++ >= nmeta)
			break;
		pack_text(pk, meta->identifier);
		if (meta->type == META_TYPE_INTEGER)
			msgpack_pack_int64(pk, meta->integer);
		else if (meta->type == META_TYPE_BOOLEAN)
			meta->integer ? msgpack_pack_true(pk)
				      : msgpack_pack_false(pk);
		else
			pack_text(pk, meta->string ? meta->string : "");
	}
	ml->count++;
	return CALLBACK_CONTINUE;
}

static int sha256_fd(int fd, char hex[65])
{
	unsigned char buf[65536], d[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;
	off_t off = 0;
	while (rc == 0) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		if (n <= 0)
			break;
		EVP_DigestUpdate(md, buf, (size_t)n);
		off += n;
	}
	if (rc == 0 && EVP_DigestFinal_ex(md, d, &dlen) == 1)
		for (unsigned i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", d[i]);
	EVP_MD_CTX_free(md);
	return rc;
}

struct child {
	YR_RULES *rules;
	YR_SCANNER *scanner;
	long long max_size;
	int out_fd;
	struct pacer pacer;
};

static int reply(struct child *ch, const char *path, const char *verdict,
		 const char *why, long long size, const char *sha,
		 const struct match_list *ml)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	struct mpmap map;
	mpmap_begin(&map, &pk);
	wire_pack_kv_str(&pk, "t", "res");
	wire_pack_kv_str(&pk, "p", path);
	wire_pack_kv_str(&pk, "r", verdict);
	wire_pack_kv_str(&pk, "why", why);
	wire_pack_kv_u64(&pk, "size", size < 0 ? 0 : (uint64_t)size);
	if (sha)
		wire_pack_kv_str(&pk, "sha256", sha);
	if (ml) {
		wire_pack_str(&pk, "m");
		msgpack_pack_array(&pk, ml->count);
		msgpack_sbuffer_write(&sb, ml->body.data, ml->body.size);
	}
	mpmap_end(&map);
	int rc = childproc_send(ch->out_fd, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* What the parent asked for: the path, the length of the root its
 * walk started from (a prefix of the path; 0: none given) and the
 * device and inode it saw (0: not given). */
struct request {
	char path[4096];
	char owner[64];
	uint64_t root_len, dev, ino;
};

/* Opens the file as the parent's walk reached it: the root as the
 * parent opened it (its last component not followed), then every
 * component below it with O_NOFOLLOW, never the whole path at once:
 * CAP_DAC_READ_SEARCH would read whatever a folder swapped for a link
 * points to. */
static int open_as_walked(const struct request *rq, int *out)
{
	/* O_NONBLOCK: a FIFO swapped in after the parent's lstat must not
	 * hang us. */
	const int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY;
	const char *path = rq->path;
	size_t len = strlen(path), rl = (size_t)rq->root_len;
	if (rl == len) { /* the root is this file */
		int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		*out = fd;
		return 0;
	}
	char root[4096];
	if (rl == 0 || rl > len || rl >= sizeof(root) ||
	    !(path[rl] == '/' || path[rl - 1] == '/'))
		rl = 0;
	if (rl == 0)
		snprintf(root, sizeof(root), "%s", path[0] == '/' ? "/" : ".");
	else
		snprintf(root, sizeof(root), "%.*s", (int)rl, path);
	int rfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rfd < 0)
		return -errno;
	int rc = beneath_open(rfd, path + rl, len - rl, flags,
			      BENEATH_NO_OPENAT2, out);
	close(rfd);
	return rc;
}

static int scan_one(struct child *ch, const struct request *rq)
{
	const char *path = rq->path, *owner = rq->owner;
	int fd, orc = open_as_walked(rq, &fd);
	if (orc != 0)
		return reply(ch, path, orc == -ELOOP ? "skip" : "error",
			     orc == -ELOOP ? "symlink" : uv_strerror(orc), 0,
			     NULL, NULL);
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return reply(ch, path, "skip", "not a regular file", 0, NULL,
			     NULL);
	}
	if ((rq->dev || rq->ino) &&
	    ((uint64_t)st.st_dev != rq->dev || (uint64_t)st.st_ino != rq->ino)) {
		close(fd);
		return reply(ch, path, "skip", "changed since the walk", 0, NULL,
			     NULL);
	}
	if (ch->max_size > 0 && st.st_size > ch->max_size) {
		close(fd);
		return reply(ch, path, "skip", "larger than scan.max_file_size",
			     st.st_size, NULL, NULL);
	}
	unsigned char head[16];
	ssize_t hn = pread(fd, head, sizeof(head), 0);
	yararules_set_externals(ch->scanner, path, owner,
				yararules_filetype(head, hn > 0 ? (size_t)hn : 0));

	struct match_list ml = {0};
	msgpack_sbuffer_init(&ml.body);
	msgpack_packer_init(&ml.mpk, &ml.body, msgpack_sbuffer_write);
	yr_scanner_set_callback(ch->scanner, on_scan_message, &ml);
	int yr = st.st_size == 0 ? yr_scanner_scan_mem(ch->scanner,
						       (const uint8_t *)"", 0)
				 : yr_scanner_scan_fd(ch->scanner, fd);
	int rc;
	if (yr != ERROR_SUCCESS && !(yr == ERROR_CALLBACK_ERROR && ml.count)) {
		char why[64];
		snprintf(why, sizeof(why), "%s",
			 yr == ERROR_SCAN_TIMEOUT ? "timed out"
			 : yr == ERROR_COULD_NOT_MAP_FILE ? "cannot map the file"
			 : yr == ERROR_INSUFFICIENT_MEMORY ? "out of memory"
							   : "libyara error");
		if (strcmp(why, "libyara error") == 0)
			snprintf(why, sizeof(why), "libyara error %d", yr);
		rc = reply(ch, path, "error", why, st.st_size, NULL, NULL);
	} else if (ml.count > 0) {
		char sha[65] = "";
		sha256_fd(fd, sha);
		rc = reply(ch, path, "match", "", st.st_size, sha, &ml);
	} else {
		rc = reply(ch, path, "clean", "", st.st_size, NULL, NULL);
	}
	msgpack_sbuffer_destroy(&ml.body);
	close(fd);
	pacer_after_file(&ch->pacer);
	return rc;
}

/* ---- setup --------------------------------------------------------------- */

static int send_status(int fd, const char *type, const char *msg,
		       unsigned rules)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	wire_pack_kv_str(&pk, "t", type);
	wire_pack_kv_str(&pk, "msg", msg);
	wire_pack_kv_u64(&pk, "rules", rules);
	int rc = childproc_send(fd, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static int load_bundle(const char *bundle, const char *ca, YR_RULES **out,
		       char *err, size_t errlen)
{
	X509 *cert = NULL;
	if (pki_read_cert(ca, &cert) != 0) {
		snprintf(err, errlen, "%s: cannot read the pinned CA", ca);
		return -EINVAL;
	}
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	struct bundle_info info;
	void *raw = NULL;
	size_t raw_len = 0;
	int rc = bundle_open_file(bundle, pub, &info, &raw, &raw_len, err,
				  errlen);
	X509_free(cert);
	bool compiled_here = false;
	if (rc == 0)
		rc = yararules_from_bundle(&info, raw, raw_len, out,
					   &compiled_here, err, errlen);
	alloc_free(raw);
	return rc;
}

/* --compile-only: the compiled rules go to the parent as chunks, so that
 * several scanning children load them instead of each compiling (which
 * takes longer than the scan for thousands of rules). */
static int send_compiled(int fd, YR_RULES *rules)
{
	char *img = NULL;
	size_t len = 0;
	int rc = yararules_save(rules, &img, &len);
	for (size_t off = 0; rc == 0 && off < len; off += COMPILED_CHUNK) {
		size_t n = len - off < COMPILED_CHUNK ? len - off : COMPILED_CHUNK;
		msgpack_sbuffer sb;
		msgpack_packer pk;
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 2);
		wire_pack_kv_str(&pk, "t", "chunk");
		wire_pack_str(&pk, "d");
		msgpack_pack_bin(&pk, n);
		msgpack_pack_bin_body(&pk, img + off, n);
		rc = childproc_send(fd, sb.data, sb.size);
		msgpack_sbuffer_destroy(&sb);
	}
	alloc_free(img);
	if (rc == 0)
		rc = send_status(fd, "compiled", "", yararules_count(rules));
	yr_rules_destroy(rules);
	return rc == 0 ? 0 : 1;
}

/* Idle I/O class and the lowest CPU priority: a scan must not make the
 * PC a student is using feel slow. */
static void be_idle(void)
{
	/* IOPRIO_WHO_PROCESS = 1, class IDLE = 3 in the top bits. */
	syscall(SYS_ioprio_set, 1, 0, 3 << 13);
	setpriority(PRIO_PROCESS, 0, 19);
}

int scanchild_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"bundle", required_argument, NULL, 'b'},
		{"ca", required_argument, NULL, 'a'},
		{"rules", required_argument, NULL, 'r'},
		{"max-size", required_argument, NULL, 'm'},
		{"timeout", required_argument, NULL, 't'},
		{"cpu", required_argument, NULL, 'p'},
		{"idle", no_argument, NULL, 'i'},
		{"compile-only", no_argument, NULL, 'C'},
		{"compiled", required_argument, NULL, 'L'},
		{NULL, 0, NULL, 0},
	};
	const char *bundle = NULL, *ca = NULL, *compiled = NULL;
	bool compile_only = false;
	const char *rule_paths[MAX_RULE_PATHS];
	size_t nrules = 0;
	int timeout = 60, opt;
	bool idle = false;
	struct child ch = {.out_fd = STDOUT_FILENO};
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b': bundle = optarg; break;
		case 'a': ca = optarg; break;
		case 'r':
			if (nrules < MAX_RULE_PATHS)
				rule_paths[nrules++] = optarg;
			break;
		case 'm':
		case 't':
		case 'p': {
			/* The parent writes these; anything else is a bug there. */
			char *end;
			errno = 0;
			long long v = strtoll(optarg, &end, 10);
			if (errno || *end || v < 0 || (opt != 'm' && v > 86400))
				return 2;
			if (opt == 'm')
				ch.max_size = v;
			else if (opt == 't')
				timeout = (int)v;
			else
				ch.pacer.pct = (int)v;
			break;
		}
		case 'i': idle = true; break;
		case 'C': compile_only = true; break;
		case 'L': compiled = optarg; break;
		default: return 2;
		}
	}
	if (idle)
		be_idle();
	/* Stdout is the result pipe: nothing else may write to it. */
	char err[512] = "";
	struct sandbox_policy pol = {.out_fd = STDOUT_FILENO, .read_files = true};
	int rc = sandbox_enter(&pol, err, sizeof(err));
	if (rc != 0) {
		send_status(ch.out_fd, "fail", err, 0);
		return 1;
	}
	/* The rules are read inside the sandbox too: a compiled bundle is
	 * libyara's own format, parsed with trust. */
	if (yararules_init() != 0)
		snprintf(err, sizeof(err), "cannot initialise libyara");
	else if (bundle && ca)
		rc = load_bundle(bundle, ca, &ch.rules, err, sizeof(err));
	else if (compiled && (rc = yr_rules_load(compiled, &ch.rules)) != 0)
		snprintf(err, sizeof(err), "cannot load the compiled rules");
	else if (nrules > 0)
		rc = yararules_compile(rule_paths, nrules, &ch.rules, NULL, err,
				       sizeof(err));
	else
		snprintf(err, sizeof(err), "no rules given");
	if (compile_only && ch.rules && rc == 0)
		return send_compiled(ch.out_fd, ch.rules);
	if (ch.rules == NULL || rc != 0 ||
	    yr_scanner_create(ch.rules, &ch.scanner) != ERROR_SUCCESS) {
		send_status(ch.out_fd, "fail", err[0] ? err : "no rules", 0);
		return 1;
	}
	yr_scanner_set_timeout(ch.scanner, timeout);
	/* Only matches reach the callback: thousands of rules would otherwise
	 * call it once each for every file that does not match. */
	yr_scanner_set_flags(ch.scanner, SCAN_FLAGS_REPORT_RULES_MATCHING);
	if (send_status(ch.out_fd, "ready", "", yararules_count(ch.rules)) != 0)
		return 1;
	pacer_reset(&ch.pacer);

	char *req = alloc_bytes(REQUEST_MAX);
	size_t len;
	while (req && (rc = childproc_recv(STDIN_FILENO, req, REQUEST_MAX,
					   &len)) == 0) {
		msgpack_unpacked up;
		struct request rq = {.owner = ""};
		msgpack_unpacked_init(&up);
		rc = -EBADMSG;
		if (wire_check_msgpack(req, len, WIRE_MAX_DEPTH) == 0 &&
		    msgpack_unpack_next(&up, req, len, NULL) ==
			    MSGPACK_UNPACK_SUCCESS &&
		    up.data.type == MSGPACK_OBJECT_MAP &&
		    wire_get_str(&up.data, "p", rq.path, sizeof(rq.path)) == 0) {
			wire_get_str(&up.data, "o", rq.owner, sizeof(rq.owner));
			wire_get_u64(&up.data, "rl", &rq.root_len);
			wire_get_u64(&up.data, "d", &rq.dev);
			wire_get_u64(&up.data, "i", &rq.ino);
			rc = scan_one(&ch, &rq);
		}
		msgpack_unpacked_destroy(&up);
		if (rc != 0)
			break;
	}
	alloc_free(req);
	yr_scanner_destroy(ch.scanner);
	yr_rules_destroy(ch.rules);
	yr_finalize();
	return rc == -EPIPE ? 0 : 1;
}
