#include "agent/backup/backupjob.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <openssl/x509.h>
#include <uv.h>

#include "agent/backup/backup_settings.h"
#include "agent/backup/backupcli.h"
#include "agent/core/sources.h"
#include "agent/backup/repo.h"
#include "agent/core/childproc.h"
#include "common/alloc.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/mpmap.h"
#include "common/pki.h"
#include "common/wire.h"

static const char *const action_names[] = {
	[BACKUPJOB_BACKUP] = "backup",
	[BACKUPJOB_VERIFY] = "verify",
	[BACKUPJOB_RESTORE_TEST] = "restore_test",
};

const char *backupjob_action_name(enum backupjob_action a)
{
	return a > BACKUPJOB_NONE && a <= BACKUPJOB_RESTORE_TEST
		       ? action_names[a]
		       : "none";
}

enum backupjob_action backupjob_action_parse(const char *name)
{
	for (int a = BACKUPJOB_BACKUP; a <= BACKUPJOB_RESTORE_TEST; a++)
		if (strcmp(name, action_names[a]) == 0)
			return (enum backupjob_action)a;
	return BACKUPJOB_NONE;
}

/* A passphrase file made here when there is none: 32 random bytes as
 * hex. The escrow is what makes losing it survivable. */
static int ensure_passphrase(const char *file, char *err, size_t errlen)
{
	if (access(file, F_OK) == 0)
		return 0;
	unsigned char rnd[24];
	char hex[49], line[52];
	RAND_bytes(rnd, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	int n = snprintf(line, sizeof(line), "%s\n", hex);
	int rc = fs_write_atomic(file, line, (size_t)n, 0600);
	if (rc != 0)
		snprintf(err, errlen, "cannot write %s: %s", file,
			 uv_strerror(rc));
	return rc;
}

static int open_or_create(const struct backup_settings *s, struct repo **r,
			  char *err, size_t errlen)
{
	char pass[512];
	int rc = ensure_passphrase(s->backup_password_file, err, errlen);
	if (rc == 0)
		rc = backupcli_passphrase(s->backup_password_file, pass,
					  sizeof(pass), err, errlen);
	if (rc != 0)
		return rc;
	char key[600];
	snprintf(key, sizeof(key), "%s/keys/key", s->backup_repo);
	struct stat st;
	if (stat(s->backup_repo, &st) != 0) {
		/* A missing target is an unplugged USB drive or an unmounted
		 * share: never create it, report it. */
		snprintf(err, errlen, "backup target %s is missing: %s",
			 s->backup_repo, uv_strerror(-errno));
		rc = -ENOENT;
	} else if (access(key, F_OK) != 0) {
		rc = repo_init(s->backup_repo, pass, err, errlen);
		if (rc == 0)
			log_info("backup: created the repository %s",
				 s->backup_repo);
	}
	if (rc == 0)
		rc = repo_open(s->backup_repo, pass, r, err, errlen);
	memset(pass, 0, sizeof(pass));
	return rc;
}

static void make_escrow(const struct agent_settings *s, struct repo *r,
			struct backupjob_result *res)
{
	char ca_path[600];
	X509 *ca = NULL;
	snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", s->state_dir);
	if (pki_read_cert(ca_path, &ca) != 0)
		return;
	if (repo_escrow_seal(r, X509_get0_pubkey(ca), &res->escrow,
			     &res->escrow_len) != 0)
		res->escrow = NULL;
	X509_free(ca);
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void run_job(const struct agent_settings *core,
		    enum backupjob_action job, bool escrow,
		    struct backupjob_result *res)
{
	const struct backup_settings *s =
		agent_settings_for(core, &backup_config);
	struct repo *r = NULL;
	struct backup_restore_stats restore = {0};
	res->rc = open_or_create(s, &r, res->err, sizeof(res->err));
	if (res->rc != 0)
		return;
	if (escrow)
		make_escrow(core, r, res);
	if (job == BACKUPJOB_BACKUP) {
		const char *paths[AGENT_PATHS_MAX], *ex[AGENT_PATHS_MAX];
		for (size_t i = 0; i < s->backup_n_paths; i++)
			paths[i] = s->backup_paths[i];
		for (size_t i = 0; i < s->backup_n_excludes; i++)
			ex[i] = s->backup_excludes[i];
		char host[64] = "";
		gethostname(host, sizeof(host) - 1);
		struct backup_run_options o = {paths, s->backup_n_paths, ex,
					       s->backup_n_excludes, host,
					       NULL, NULL};
		res->rc = repo_lock(r, res->err, sizeof(res->err));
		if (res->rc == 0)
			res->rc = backup_run(r, &o, &res->stats, res->err,
					     sizeof(res->err));
		if (res->rc == 0 && s->backup_prune) {
			struct backup_prune_stats ps;
			char perr[256];
			/* The backup itself succeeded: a failed prune is
			 * retried after the next one. */
			int prc = backup_prune(r, (int)s->backup_keep_daily,
					       (int)s->backup_keep_weekly,
					       (int)s->backup_keep_monthly,
					       &ps, perr, sizeof(perr));
			if (prc != 0)
				log_warn("backup: prune failed: %s", perr);
		}
	} else if (job == BACKUPJOB_VERIFY) {
		struct backup_verify_report verify;
		res->rc = backup_verify(r, true, NULL, NULL, NULL, NULL, &verify,
					res->err, sizeof(res->err));
	} else {
		char scratch[600];
		snprintf(scratch, sizeof(scratch), "%s/restore-test",
			 core->state_dir);
		struct backup_restore_options o = {
			.snapshot = "latest",
			.to = scratch,
			.sample = (size_t)s->backup_restore_sample,
		};
		res->rc = backup_restore(r, &o, &restore, res->err,
					 sizeof(res->err));
		res->restore_duration_us = restore.duration_us;
		/* The scratch copies are of students' files: gone at once. */
		nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	repo_close(r);
}

static int send_result(int fd, const struct backupjob_result *res)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct mpmap map;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	mpmap_begin(&map, &pk);
	wire_pack_kv_str(&pk, "t", "done");
	wire_pack_kv_u64(&pk, "errno", (uint64_t)-res->rc);
	wire_pack_kv_str(&pk, "err", res->err);
	wire_pack_kv_str(&pk, "snapshot", res->stats.snapshot);
	wire_pack_kv_u64(&pk, "files", res->stats.files);
	wire_pack_kv_u64(&pk, "bytes", res->stats.bytes);
	wire_pack_kv_u64(&pk, "added_stored", res->stats.added_stored);
	wire_pack_kv_u64(&pk, "duration_us", (uint64_t)res->stats.duration_us);
	wire_pack_kv_u64(&pk, "errors", res->stats.errors);
	size_t n = res->stats.errors < BACKUP_NOT_STORED_LIST
			   ? (size_t)res->stats.errors
			   : BACKUP_NOT_STORED_LIST;
	wire_pack_str(&pk, "not_stored");
	msgpack_pack_array(&pk, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		wire_pack_str(&pk, res->stats.not_stored[i]);
	wire_pack_kv_u64(&pk, "restore_duration_us",
			 (uint64_t)res->restore_duration_us);
	if (res->escrow) {
		wire_pack_str(&pk, "escrow");
		msgpack_pack_bin(&pk, res->escrow_len);
		msgpack_pack_bin_body(&pk, res->escrow, res->escrow_len);
	}
	mpmap_end(&map);
	int rc = childproc_send(fd, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

int backupjob_main(const struct agent_settings *s, const char *action,
		   bool escrow, int fd)
{
	enum backupjob_action job = backupjob_action_parse(action);
	const struct backup_settings *bs =
		s ? agent_settings_for(s, &backup_config) : NULL;
	if (job == BACKUPJOB_NONE || bs == NULL || bs->backup_repo[0] == '\0') {
		fprintf(stderr, "eduwatch-agent: _backup needs an action (backup, "
			"verify, restore_test) and backup.repo in -c FILE\n");
		return 2;
	}
	struct backupjob_result *res = alloc_zeroed(1, sizeof(*res));
	if (res == NULL)
		return 1;
	run_job(s, job, escrow, res);
	int rc = send_result(fd, res);
	free(res->escrow);
	alloc_free(res);
	return rc == 0 ? 0 : 1;
}

int backupjob_result_read(const msgpack_object *map,
			  struct backupjob_result *r)
{
	char t[8];
	uint64_t err_no = 0, duration = 0, restore = 0;
	memset(r, 0, sizeof(*r));
	if (wire_get_str(map, "t", t, sizeof(t)) != 0 || strcmp(t, "done") != 0 ||
	    wire_get_u64(map, "errno", &err_no) != 0 || err_no > 4095 ||
	    wire_get_str(map, "err", r->err, sizeof(r->err)) != 0 ||
	    wire_get_str(map, "snapshot", r->stats.snapshot,
			 sizeof(r->stats.snapshot)) != 0 ||
	    wire_get_u64(map, "files", &r->stats.files) != 0 ||
	    wire_get_u64(map, "bytes", &r->stats.bytes) != 0 ||
	    wire_get_u64(map, "added_stored", &r->stats.added_stored) != 0 ||
	    wire_get_u64(map, "duration_us", &duration) != 0 ||
	    wire_get_u64(map, "errors", &r->stats.errors) != 0 ||
	    wire_get_u64(map, "restore_duration_us", &restore) != 0)
		return -EBADMSG;
	r->rc = -(int)err_no;
	r->stats.duration_us = (int64_t)(duration & INT64_MAX);
	r->restore_duration_us = (int64_t)(restore & INT64_MAX);
	const msgpack_object *ns = wire_map_get(map, "not_stored");
	if (ns == NULL || ns->type != MSGPACK_OBJECT_ARRAY)
		return -EBADMSG;
	for (uint32_t i = 0; i < ns->via.array.size && i < BACKUP_NOT_STORED_LIST;
	     i++) {
		const msgpack_object *p = &ns->via.array.ptr[i];
		if (p->type != MSGPACK_OBJECT_STR)
			return -EBADMSG;
		snprintf(r->stats.not_stored[i], sizeof(r->stats.not_stored[i]),
			 "%.*s", (int)p->via.str.size, p->via.str.ptr);
	}
	const msgpack_object *e = wire_map_get(map, "escrow");
	if (e != NULL) {
		if (e->type != MSGPACK_OBJECT_BIN || e->via.bin.size == 0)
			return -EBADMSG;
		r->escrow = alloc_bytes(e->via.bin.size);
		if (r->escrow == NULL)
			return -ENOMEM;
		memcpy(r->escrow, e->via.bin.ptr, e->via.bin.size);
		r->escrow_len = e->via.bin.size;
	}
	return 0;
}
