/* source_backup: makes sure a recent, verified, restorable backup exists,
 * and proves it to the collector.
 *
 * Every backup.check_interval (a minute) it looks at three clocks kept in the spool's counters:
 *   - the last successful backup: older than backup.rpo, back up now;
 *   - the last verify: older than backup.verify_interval, read every
 *     chunk back and check it;
 *   - the last test restore: older than backup.restore_test_interval,
 *     restore backup.restore_sample random files to a scratch folder and
 *     compare their SHA-256 with the backup's record.
 * The work runs on the thread pool, at the agent's low priority. Each
 * outcome is a backup.status event carrying what the policy scores
 * (rpo_met, last_restore_test_us) and what an officer needs (last
 * success, size added, dedup ratio, duration, verify result, the error).
 * A backup that cannot run (target missing, disk full, wrong passphrase)
 * reports rpo_met false with the reason, and the collector alerts.
 *
 * A repository is created on first use; without a passphrase file one is
 * generated (0600), and the keys are escrowed to the collector once
 * (backup.escrow), sealed to its CA: a school that loses the passphrase
 * still gets its data back through the province. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <openssl/x509.h>
#include <uv.h>

#include "agent/backup/backup.h"
#include "agent/backup/backupcli.h"
#include "agent/backup/repo.h"
#include "agent/core/source.h"
#include "common/alloc.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/mpmap.h"
#include "common/pki.h"
#include "common/timeutil.h"
#include "common/wire.h"

#define RETRY_US (15LL * 60 * 1000000) /* after a failure */

enum job { JOB_NONE, JOB_BACKUP, JOB_VERIFY, JOB_RESTORE_TEST };

struct backup_src {
	struct source_env env;
	const struct agent_settings *s;
	uv_timer_t timer;
	uv_work_t work;
	bool busy, stopping;
	enum job job;
	/* Results of the work, read on the loop after it. */
	int rc;
	char err[400];
	struct backup_stats stats;
	struct backup_verify_report verify;
	struct backup_restore_stats restore;
	char *escrow;
	size_t escrow_len;
	int64_t last_attempt_us;
};

static int64_t counter(struct backup_src *b, const char *name)
{
	return agent_counter_get(b->env.agent, name);
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

static int open_or_create(struct backup_src *b, struct repo **r)
{
	const struct agent_settings *s = b->s;
	char pass[512];
	int rc = ensure_passphrase(s->backup_password_file, b->err,
				   sizeof(b->err));
	if (rc == 0)
		rc = backupcli_passphrase(s->backup_password_file, pass,
					  sizeof(pass), b->err, sizeof(b->err));
	if (rc != 0)
		return rc;
	char key[600];
	snprintf(key, sizeof(key), "%s/keys/key", s->backup_repo);
	struct stat st;
	if (stat(s->backup_repo, &st) != 0) {
		/* A missing target is an unplugged USB drive or an unmounted
		 * share: never create it, report it. */
		snprintf(b->err, sizeof(b->err), "backup target %s is missing: %s",
			 s->backup_repo, uv_strerror(-errno));
		rc = -ENOENT;
	} else if (access(key, F_OK) != 0) {
		rc = repo_init(s->backup_repo, pass, b->err, sizeof(b->err));
		if (rc == 0)
			log_info("backup: created the repository %s",
				 s->backup_repo);
	}
	if (rc == 0)
		rc = repo_open(s->backup_repo, pass, r, b->err, sizeof(b->err));
	memset(pass, 0, sizeof(pass));
	return rc;
}

static void make_escrow(struct backup_src *b, struct repo *r)
{
	char ca_path[600];
	X509 *ca = NULL;
	snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", b->s->state_dir);
	if (b->escrow || pki_read_cert(ca_path, &ca) != 0)
		return;
	if (repo_escrow_seal(r, X509_get0_pubkey(ca), &b->escrow,
			     &b->escrow_len) != 0)
		b->escrow = NULL;
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

static void do_work(uv_work_t *w)
{
	struct backup_src *b = w->data;
	struct repo *r = NULL;
	b->err[0] = '\0';
	b->rc = open_or_create(b, &r);
	if (b->rc != 0)
		return;
	if (!counter(b, "backup_escrow_sent") && b->s->backup_escrow)
		make_escrow(b, r);
	if (b->job == JOB_BACKUP) {
		const char *paths[AGENT_PATHS_MAX], *ex[AGENT_PATHS_MAX];
		for (size_t i = 0; i < b->s->backup_n_paths; i++)
			paths[i] = b->s->backup_paths[i];
		for (size_t i = 0; i < b->s->backup_n_excludes; i++)
			ex[i] = b->s->backup_excludes[i];
		char host[64] = "";
		gethostname(host, sizeof(host) - 1);
		struct backup_run_options o = {paths, b->s->backup_n_paths, ex,
					       b->s->backup_n_excludes, host,
					       NULL, NULL};
		b->rc = repo_lock(r, b->err, sizeof(b->err));
		if (b->rc == 0)
			b->rc = backup_run(r, &o, &b->stats, b->err, sizeof(b->err));
		if (b->rc == 0 && b->s->backup_prune) {
			struct backup_prune_stats ps;
			backup_prune(r, (int)b->s->backup_keep_daily,
				     (int)b->s->backup_keep_weekly,
				     (int)b->s->backup_keep_monthly, &ps, NULL, 0);
		}
	} else if (b->job == JOB_VERIFY) {
		b->rc = backup_verify(r, true, NULL, NULL, NULL, NULL, &b->verify,
				      b->err, sizeof(b->err));
	} else {
		char scratch[600];
		snprintf(scratch, sizeof(scratch), "%s/restore-test",
			 b->s->state_dir);
		struct backup_restore_options o = {
			.snapshot = "latest",
			.to = scratch,
			.sample = (size_t)b->s->backup_restore_sample,
		};
		b->rc = backup_restore(r, &o, &b->restore, b->err, sizeof(b->err));
		/* The scratch copies are of students' files: gone at once. */
		nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	repo_close(r);
}

static void emit_status(struct backup_src *b)
{
	int64_t now = timeutil_now_us();
	int64_t last_ok = counter(b, "backup_last_ok_us");
	int64_t rpo_us = b->s->backup_rpo * 1000000LL;
	bool rpo_met = last_ok > 0 && now - last_ok <= rpo_us;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	bool failed = b->rc != 0;
	/* What a backup left out: the count, and the first paths. */
	bool left_out = b->job == JOB_BACKUP && b->rc == 0 && b->stats.errors;
	struct mpmap map;
	mpmap_begin(&map, &pk);
	wire_pack_kv_str(&pk, "action", b->job == JOB_BACKUP   ? "backup"
					: b->job == JOB_VERIFY ? "verify"
							       : "restore_test");
	wire_pack_kv_bool(&pk, "ok", !failed);
	wire_pack_kv_bool(&pk, "rpo_met", rpo_met);
	wire_pack_kv_u64(&pk, "rpo_s", (uint64_t)b->s->backup_rpo);
	wire_pack_kv_u64(&pk, "last_success_us", (uint64_t)last_ok);
	wire_pack_kv_u64(&pk, "added_bytes",
			 b->job == JOB_BACKUP ? b->stats.added_stored : 0);
	wire_pack_str(&pk, "dedup_ratio");
	msgpack_pack_double(&pk, b->job == JOB_BACKUP && b->stats.added_stored
					 ? (double)b->stats.bytes /
						   (double)b->stats.added_stored
					 : 0.0);
	wire_pack_kv_u64(&pk, "duration_us",
			 b->job == JOB_BACKUP ? (uint64_t)b->stats.duration_us
					      : (uint64_t)b->restore.duration_us);
	wire_pack_kv_u64(&pk, "files", b->stats.files);
	wire_pack_kv_u64(&pk, "last_verify_us",
			 (uint64_t)counter(b, "backup_last_verify_us"));
	wire_pack_kv_bool(&pk, "verify_ok", counter(b, "backup_verify_ok") != 0);
	wire_pack_kv_u64(&pk, "last_restore_test_us",
			 (uint64_t)counter(b, "backup_last_restore_test_us"));
	wire_pack_kv_bool(&pk, "restore_test_ok",
			  counter(b, "backup_restore_test_ok") != 0);
	if (failed)
		wire_pack_kv_str(&pk, "error", b->err);
	if (left_out) {
		size_t n = b->stats.errors < BACKUP_NOT_STORED_LIST
				   ? (size_t)b->stats.errors
				   : BACKUP_NOT_STORED_LIST;
		wire_pack_kv_u64(&pk, "not_stored", b->stats.errors);
		wire_pack_str(&pk, "not_stored_paths");
		msgpack_pack_array(&pk, (uint32_t)n);
		for (size_t i = 0; i < n; i++)
			wire_pack_str(&pk, b->stats.not_stored[i]);
	}
	mpmap_end(&map);
	agent_emit(b->env.agent, "backup.status",
		   failed || !rpo_met || left_out ? 7 : 1,
		   false, sb.data, sb.size, NULL);
	msgpack_sbuffer_destroy(&sb);
}

static void emit_escrow(struct backup_src *b)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	wire_pack_kv_str(&pk, "repo", b->s->backup_repo);
	wire_pack_str(&pk, "escrow");
	msgpack_pack_bin(&pk, b->escrow_len);
	msgpack_pack_bin_body(&pk, b->escrow, b->escrow_len);
	if (agent_emit(b->env.agent, "backup.escrow", 2, false, sb.data, sb.size,
		       NULL) == 0)
		agent_counter_set(b->env.agent, "backup_escrow_sent", 1);
	msgpack_sbuffer_destroy(&sb);
	free(b->escrow);
	b->escrow = NULL;
}

static void work_done(uv_work_t *w, int status)
{
	struct backup_src *b = w->data;
	b->busy = false;
	if (status != 0 || b->stopping)
		return;
	int64_t now = timeutil_now_us();
	if (b->escrow)
		emit_escrow(b);
	if (b->job == JOB_BACKUP && b->rc == 0) {
		agent_counter_set(b->env.agent, "backup_last_ok_us", now);
		log_info("backup: snapshot %.16s, %llu files, %.1f MB new",
			 b->stats.snapshot, (unsigned long long)b->stats.files,
			 (double)b->stats.added_stored / 1e6);
	} else if (b->job == JOB_VERIFY) {
		agent_counter_set(b->env.agent, "backup_last_verify_us", now);
		agent_counter_set(b->env.agent, "backup_verify_ok", b->rc == 0);
	} else if (b->job == JOB_RESTORE_TEST) {
		/* A failed test still counts as the last test: its failure is
		 * the news, and the policy reads restore_test_ok. */
		if (b->rc == 0)
			agent_counter_set(b->env.agent,
					  "backup_last_restore_test_us", now);
		agent_counter_set(b->env.agent, "backup_restore_test_ok",
				  b->rc == 0);
	}
	if (b->rc != 0)
		log_warn("backup: %s failed: %s",
			 b->job == JOB_BACKUP ? "backup" : b->job == JOB_VERIFY
							   ? "verify"
							   : "test restore",
			 b->err);
	emit_status(b);
}

static void start_job(struct backup_src *b, enum job job)
{
	b->job = job;
	b->busy = true;
	b->last_attempt_us = timeutil_now_us();
	memset(&b->stats, 0, sizeof(b->stats));
	memset(&b->restore, 0, sizeof(b->restore));
	if (uv_queue_work(b->env.loop, &b->work, do_work, work_done) != 0)
		b->busy = false;
}

static void on_timer(uv_timer_t *t)
{
	struct backup_src *b = t->data;
	if (b->busy || b->stopping)
		return;
	int64_t now = timeutil_now_us();
	/* A failed attempt waits before the next, or a missing USB drive
	 * would be reported every minute. */
	if (b->last_attempt_us && now - b->last_attempt_us < RETRY_US &&
	    b->rc != 0)
		return;
	const struct agent_settings *s = b->s;
	if (now - counter(b, "backup_last_ok_us") >= s->backup_rpo * 1000000LL)
		start_job(b, JOB_BACKUP);
	else if (now - counter(b, "backup_last_verify_us") >=
		 s->backup_verify_interval * 1000000LL)
		start_job(b, JOB_VERIFY);
	else if (now - counter(b, "backup_last_restore_test_us") >=
		 s->backup_restore_test_interval * 1000000LL)
		start_job(b, JOB_RESTORE_TEST);
}

static int backup_init(const struct source_env *env, void **state)
{
	*state = NULL;
	if (env->settings->backup_repo[0] == '\0')
		return 0;
	struct backup_src *b = alloc_zeroed(1, sizeof(*b));
	if (b == NULL)
		return -ENOMEM;
	b->env = *env;
	b->s = env->settings;
	b->work.data = b;
	*state = b;
	return 0;
}

static int backup_start(void *state)
{
	struct backup_src *b = state;
	uv_timer_init(b->env.loop, &b->timer);
	b->timer.data = b;
	uint64_t every = (uint64_t)b->s->backup_check_interval * 1000;
	uv_timer_start(&b->timer, on_timer, every, every);
	return 0;
}

static void backup_stop(void *state)
{
	struct backup_src *b = state;
	b->stopping = true;
	uv_close((uv_handle_t *)&b->timer, NULL);
}

static void backup_free(void *state)
{
	struct backup_src *b = state;
	free(b->escrow);
	alloc_free(b);
}

/* "backup": run a backup now (args: {action: backup|verify|restore_test}). */
static int backup_command(void *state, const char *type,
			  const msgpack_object *args, char *result, size_t cap)
{
	struct backup_src *b = state;
	char action[24] = "backup";
	(void)type;
	if (args)
		wire_get_str(args, "action", action, sizeof(action));
	enum job job = strcmp(action, "verify") == 0	     ? JOB_VERIFY
		       : strcmp(action, "restore_test") == 0 ? JOB_RESTORE_TEST
		       : strcmp(action, "backup") == 0	     ? JOB_BACKUP
							     : JOB_NONE;
	if (job == JOB_NONE) {
		snprintf(result, cap, "unknown backup action '%s'", action);
		return -EINVAL;
	}
	if (b->busy) {
		snprintf(result, cap, "a backup job is already running");
		return -EBUSY;
	}
	start_job(b, job);
	snprintf(result, cap, "%s started", action);
	return 0;
}

static const char *const backup_commands[] = {"backup", NULL};

const struct source_ops source_backup = {
	.name = "backup",
	.init = backup_init,
	.start = backup_start,
	.stop = backup_stop,
	.free = backup_free,
	.command = backup_command,
	.command_types = backup_commands,
};
