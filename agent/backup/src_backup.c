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
 * Each job runs in the eduwatch-backup helper (backupjob.h), at the agent's
 * low priority, so the resident agent maps none of the backup code. Each
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
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "agent/backup/backupcli.h"
#include "agent/backup/backup_settings.h"
#include "agent/backup/backupjob.h"
#include "agent/core/childproc.h"
#include "agent/core/settings.h"
#include "agent/core/source.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/mpmap.h"
#include "common/timeutil.h"
#include "common/wire.h"

#define RETRY_US (15LL * 60 * 1000000) /* after a failure */

struct backup_src {
	struct source_env env;
	const struct backup_settings *s; /* its own (backup_settings.h) */
	uv_timer_t timer;
	struct childproc *child; /* the job running, or NULL */
	bool stopping;
	bool got_result;
	enum backupjob_action job;
	/* What the job reported, read on the loop. */
	struct backupjob_result res;
	int64_t last_attempt_us;
};

static int64_t counter(struct backup_src *b, const char *name)
{
	return agent_counter_get(b->env.agent, name);
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
	bool failed = b->res.rc != 0;
	/* What a backup left out: the count, and the first paths. */
	bool left_out = b->job == BACKUPJOB_BACKUP && b->res.rc == 0 && b->res.stats.errors;
	struct mpmap map;
	mpmap_begin(&map, &pk);
	wire_pack_kv_str(&pk, "action", b->job == BACKUPJOB_BACKUP   ? "backup"
					: b->job == BACKUPJOB_VERIFY ? "verify"
							       : "restore_test");
	wire_pack_kv_bool(&pk, "ok", !failed);
	wire_pack_kv_bool(&pk, "rpo_met", rpo_met);
	wire_pack_kv_u64(&pk, "rpo_s", (uint64_t)b->s->backup_rpo);
	wire_pack_kv_u64(&pk, "last_success_us", (uint64_t)last_ok);
	wire_pack_kv_u64(&pk, "added_bytes",
			 b->job == BACKUPJOB_BACKUP ? b->res.stats.added_stored : 0);
	wire_pack_str(&pk, "dedup_ratio");
	msgpack_pack_double(&pk, b->job == BACKUPJOB_BACKUP && b->res.stats.added_stored
					 ? (double)b->res.stats.bytes /
						   (double)b->res.stats.added_stored
					 : 0.0);
	wire_pack_kv_u64(&pk, "duration_us",
			 b->job == BACKUPJOB_BACKUP ? (uint64_t)b->res.stats.duration_us
					      : (uint64_t)b->res.restore_duration_us);
	wire_pack_kv_u64(&pk, "files", b->res.stats.files);
	wire_pack_kv_u64(&pk, "last_verify_us",
			 (uint64_t)counter(b, "backup_last_verify_us"));
	wire_pack_kv_bool(&pk, "verify_ok", counter(b, "backup_verify_ok") != 0);
	wire_pack_kv_u64(&pk, "last_restore_test_us",
			 (uint64_t)counter(b, "backup_last_restore_test_us"));
	wire_pack_kv_bool(&pk, "restore_test_ok",
			  counter(b, "backup_restore_test_ok") != 0);
	if (failed)
		wire_pack_kv_str(&pk, "error", b->res.err);
	if (left_out) {
		size_t n = b->res.stats.errors < BACKUP_NOT_STORED_LIST
				   ? (size_t)b->res.stats.errors
				   : BACKUP_NOT_STORED_LIST;
		wire_pack_kv_u64(&pk, "not_stored", b->res.stats.errors);
		wire_pack_str(&pk, "not_stored_paths");
		msgpack_pack_array(&pk, (uint32_t)n);
		for (size_t i = 0; i < n; i++)
			wire_pack_str(&pk, b->res.stats.not_stored[i]);
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
	msgpack_pack_bin(&pk, b->res.escrow_len);
	msgpack_pack_bin_body(&pk, b->res.escrow, b->res.escrow_len);
	if (agent_emit(b->env.agent, "backup.escrow", 2, false, sb.data, sb.size,
		       NULL) == 0)
		agent_counter_set(b->env.agent, "backup_escrow_sent", 1);
	msgpack_sbuffer_destroy(&sb);
	alloc_free(b->res.escrow);
	b->res.escrow = NULL;
}

static void job_done(struct backup_src *b)
{
	int64_t now = timeutil_now_us();
	if (b->res.escrow)
		emit_escrow(b);
	if (b->job == BACKUPJOB_BACKUP && b->res.rc == 0) {
		agent_counter_set(b->env.agent, "backup_last_ok_us", now);
		log_info("backup: snapshot %.16s, %llu files, %.1f MB new",
			 b->res.stats.snapshot, (unsigned long long)b->res.stats.files,
			 (double)b->res.stats.added_stored / 1e6);
	} else if (b->job == BACKUPJOB_VERIFY) {
		agent_counter_set(b->env.agent, "backup_last_verify_us", now);
		agent_counter_set(b->env.agent, "backup_verify_ok", b->res.rc == 0);
	} else if (b->job == BACKUPJOB_RESTORE_TEST) {
		/* A failed test still counts as the last test: its failure is
		 * the news, and the policy reads restore_test_ok. */
		if (b->res.rc == 0)
			agent_counter_set(b->env.agent,
					  "backup_last_restore_test_us", now);
		agent_counter_set(b->env.agent, "backup_restore_test_ok",
				  b->res.rc == 0);
	}
	if (b->res.rc != 0)
		log_warn("backup: %s failed: %s",
			 b->job == BACKUPJOB_BACKUP ? "backup" : b->job == BACKUPJOB_VERIFY
							   ? "verify"
							   : "test restore",
			 b->res.err);
	emit_status(b);
}

static void on_job_message(void *arg, const msgpack_object *map)
{
	struct backup_src *b = arg;
	if (b->got_result)
		return;
	if (backupjob_result_read(map, &b->res) != 0) {
		alloc_free(b->res.escrow);
		memset(&b->res, 0, sizeof(b->res));
		log_warn("backup: the helper sent a malformed result");
		return;
	}
	b->got_result = true;
}

static void on_job_exit(void *arg, const char *why)
{
	struct backup_src *b = arg;
	b->child = NULL;
	if (b->stopping)
		return;
	if (!b->got_result) {
		b->res.rc = -EIO;
		snprintf(b->res.err, sizeof(b->res.err),
			 "the backup helper ended without a result: %s", why);
	}
	job_done(b);
}

static void start_job(struct backup_src *b, enum backupjob_action job)
{
	static const struct childproc_ops ops = {on_job_message, on_job_exit};
	bool escrow = !counter(b, "backup_escrow_sent") && b->s->backup_escrow;
	/* The helper reads agent.yaml itself: the same -o overrides too
	 * (without them a backup.repo given by -o never reached it). */
	const char *extra[] = {backupjob_action_name(job), "escrow"};
	const char *args[AGENT_HELPER_ARGS_MAX];
	b->job = job;
	b->got_result = false;
	b->last_attempt_us = timeutil_now_us();
	alloc_free(b->res.escrow);
	memset(&b->res, 0, sizeof(b->res));
	int rc = agent_settings_helper_argv(args, AGENT_HELPER_ARGS_MAX,
					    BACKUPJOB_ROLE, b->env.config_path,
					    extra, escrow ? 2 : 1);
	if (rc == 0)
		rc = childproc_spawn(b->env.loop, BACKUPCLI_HELPER, args, &ops,
				     b, &b->child);
	if (rc != 0) {
		b->res.rc = rc;
		snprintf(b->res.err, sizeof(b->res.err),
			 "cannot start the backup helper: %s", uv_strerror(rc));
		job_done(b);
	}
}

static void on_timer(uv_timer_t *t)
{
	struct backup_src *b = t->data;
	if (b->child || b->stopping)
		return;
	int64_t now = timeutil_now_us();
	/* A failed attempt waits before the next, or a missing USB drive
	 * would be reported every minute. */
	if (b->last_attempt_us && now - b->last_attempt_us < RETRY_US &&
	    b->res.rc != 0)
		return;
	const struct backup_settings *s = b->s;
	if (now - counter(b, "backup_last_ok_us") >= s->backup_rpo * 1000000LL)
		start_job(b, BACKUPJOB_BACKUP);
	else if (now - counter(b, "backup_last_verify_us") >=
		 s->backup_verify_interval * 1000000LL)
		start_job(b, BACKUPJOB_VERIFY);
	else if (now - counter(b, "backup_last_restore_test_us") >=
		 s->backup_restore_test_interval * 1000000LL)
		start_job(b, BACKUPJOB_RESTORE_TEST);
}

static int backup_init(const struct source_env *env, void **state)
{
	*state = NULL;
	const struct backup_settings *conf = env->config;
	if (conf->backup_repo[0] == '\0')
		return 0;
	struct backup_src *b = alloc_zeroed(1, sizeof(*b));
	if (b == NULL)
		return -ENOMEM;
	b->env = *env;
	b->s = env->config;
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
	/* A job cut short leaves the repository as a kill -9 would, which
	 * it survives (its lock is an flock, gone with the helper): the
	 * next run starts again. */
	if (b->child)
		childproc_stop(b->child);
}

static void backup_free(void *state)
{
	struct backup_src *b = state;
	alloc_free(b->res.escrow);
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
	enum backupjob_action job = backupjob_action_parse(action);
	if (job == BACKUPJOB_NONE) {
		snprintf(result, cap, "unknown backup action '%s'", action);
		return -EINVAL;
	}
	if (b->child) {
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
