#include "agent/backup/backupcli.h"
#include "agent/backup/backup_settings.h"
#include "agent/core/sources.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <uv.h>

#include "agent/backup/backup.h"
#include "agent/backup/repo.h"
#include "common/jsonout.h"
#include "common/textsafe.h"
#include "common/timeutil.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_CONFIG 3
/* The command did its work but not all of it: a backup that left
 * files out, a restore that could not bring every file back. */
#define EXIT_PARTIAL 4

int backupcli_passphrase(const char *file, char *out, size_t cap, char *err,
			 size_t errlen)
{
	const char *env = getenv("EDUWATCH_BACKUP_PASSWORD");
	if (env && env[0]) {
		snprintf(out, cap, "%s", env);
		return 0;
	}
	FILE *f = file ? fopen(file, "re") : NULL;
	if (f == NULL) {
		snprintf(err, errlen, "no passphrase: set EDUWATCH_BACKUP_PASSWORD "
			 "or write it to %s (mode 0600)", file ? file : "a file");
		return -ENOENT;
	}
	bool ok = fgets(out, (int)cap, f) != NULL;
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
	if (!ok || out[0] == '\0') {
		snprintf(err, errlen, "%s: empty passphrase", file);
		return -EINVAL;
	}
	return 0;
}

static bool tty;

static void show_progress(void *arg, const struct backup_progress *p)
{
	(void)arg;
	if (!tty)
		return;
	double secs = (double)(timeutil_now_us() - p->started_us) / 1e6;
	double rate = secs > 0 ? (double)p->bytes_done / secs : 0;
	double eta = rate > 0 && p->bytes_total > p->bytes_done
			     ? (double)(p->bytes_total - p->bytes_done) / rate
			     : 0;
	fprintf(stderr,
		"\r\033[K%s: %llu/%llu files, %.1f/%.1f MB, %.1f MB/s, ETA %.0f s",
		p->phase, (unsigned long long)p->files_done,
		(unsigned long long)p->files_total, (double)p->bytes_done / 1e6,
		(double)p->bytes_total / 1e6, rate / 1e6, eta);
}

static void end_progress(void)
{
	if (tty)
		fputs("\r\033[K", stderr);
}

static int open_repo(const struct backupcli_options *o, const char *repo_dir,
		     struct repo **r)
{
	char pass[512], err[512];
	if (backupcli_passphrase(o->password_file, pass, sizeof(pass), err,
				 sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-agent: %s\n", err);
		return EXIT_CONFIG;
	}
	int rc = repo_open(repo_dir, pass, r, err, sizeof(err));
	OPENSSL_cleanse(pass, sizeof(pass));
	if (rc != 0) {
		fprintf(stderr, "eduwatch-agent: %s\n", err);
		return rc == -EACCES ? EXIT_CONFIG : EXIT_FAIL;
	}
	size_t nbad = repo_damaged_index_count(*r);
	if (nbad > 0 && strcmp(o->command, "repair") != 0)
		fprintf(stderr, "eduwatch-agent: warning: %zu index files are "
				"damaged (index/%.16s...); the chunks they list "
				"count as missing: run 'backup repair'\n",
			nbad, repo_damaged_index(*r, 0));
	return EXIT_OK;
}

static int cmd_init(const struct backupcli_options *o, const char *dir)
{
	char pass[512], err[512];
	if (backupcli_passphrase(o->password_file, pass, sizeof(pass), err,
				 sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-agent: %s\n", err);
		return EXIT_CONFIG;
	}
	int rc = repo_init(dir, pass, err, sizeof(err));
	OPENSSL_cleanse(pass, sizeof(pass));
	if (rc != 0) {
		fprintf(stderr, "eduwatch-agent: %s\n", err);
		return EXIT_FAIL;
	}
	printf("created the backup repository %s\n", dir);
	return EXIT_OK;
}

static int cmd_run(const struct backupcli_options *o, struct repo *r)
{
	const struct backup_settings *bs =
		o->settings ? agent_settings_for(o->settings, &backup_config)
			    : NULL;
	const char *paths[AGENT_PATHS_MAX + 16], *excludes[AGENT_PATHS_MAX];
	size_t np = 0, ne = 0;
	for (size_t i = 0; i < o->nargs && np < 16; i++)
		paths[np++] = o->args[i];
	if (np == 0 && o->settings)
		for (size_t i = 0; i < bs->backup_n_paths; i++)
			paths[np++] = bs->backup_paths[i];
	if (o->settings)
		for (size_t i = 0; i < bs->backup_n_excludes; i++)
			excludes[ne++] = bs->backup_excludes[i];
	if (np == 0) {
		fprintf(stderr, "eduwatch-agent: nothing to back up: give paths "
				"or set backup.paths\n");
		return EXIT_USAGE;
	}
	char host[64] = "";
	gethostname(host, sizeof(host) - 1);
	struct backup_run_options ro = {paths, np, excludes, ne, host,
					show_progress, NULL};
	struct backup_stats st;
	char err[512];
	char lerr[256];
	if (repo_lock(r, lerr, sizeof(lerr)) != 0) {
		fprintf(stderr, "eduwatch-agent: %s\n", lerr);
		return EXIT_FAIL;
	}
	int rc = backup_run(r, &ro, &st, err, sizeof(err));
	end_progress();
	if (rc != 0) {
		fprintf(stderr, "eduwatch-agent: backup failed: %s; the repository "
				"keeps every earlier snapshot\n",
			err);
		return EXIT_FAIL;
	}
	/* The snapshot's bytes for each byte this run stored: how much dedup
	 * and compression saved. */
	double ratio = (double)st.bytes / (double)(st.added_stored ? st.added_stored
								   : 1);
	if (o->json)
		printf("{\"snapshot\":\"%s\",\"files\":%llu,\"dirs\":%llu,"
		       "\"bytes\":%llu,\"bytes_read\":%llu,\"unchanged_files\":%llu,"
		       "\"chunks_new\":%llu,\"chunks_reused\":%llu,"
		       "\"added_raw\":%llu,\"added_stored\":%llu,\"errors\":%llu,"
		       "\"seconds\":%.3f}\n",
		       st.snapshot, (unsigned long long)st.files,
		       (unsigned long long)st.dirs, (unsigned long long)st.bytes,
		       (unsigned long long)st.bytes_read,
		       (unsigned long long)st.files_unchanged,
		       (unsigned long long)st.chunks_new,
		       (unsigned long long)st.chunks_reused,
		       (unsigned long long)st.added_raw,
		       (unsigned long long)st.added_stored,
		       (unsigned long long)st.errors, (double)st.duration_us / 1e6);
	else
	{
		if (st.hardlinks || st.specials || st.sockets_skipped)
			printf("%llu hard links, %llu FIFOs and device nodes "
			       "stored; %llu sockets skipped\n",
			       (unsigned long long)st.hardlinks,
			       (unsigned long long)st.specials,
			       (unsigned long long)st.sockets_skipped);
		char saved[64] = "nothing new to store";
		if (st.added_stored)
			snprintf(saved, sizeof(saved), "%.1f:1 against the "
				 "snapshot's size", ratio);
		printf("snapshot %.16s: %llu files (%.1f MB), %llu unchanged; "
		       "%.1f MB new, %.1f MB stored (%s); %llu errors; %.1f s\n",
		       st.snapshot, (unsigned long long)st.files,
		       (double)st.bytes / 1e6,
		       (unsigned long long)st.files_unchanged,
		       (double)st.added_raw / 1e6, (double)st.added_stored / 1e6,
		       saved, (unsigned long long)st.errors,
		       (double)st.duration_us / 1e6);
	}
	if (st.errors) {
		/* The snapshot holds everything else; what it lacks is named
		 * (the first few) and the exit says so. */
		for (size_t i = 0; i < st.errors && i < BACKUP_NOT_STORED_LIST; i++) {
			fputs("NOT STORED  ", stderr);
			textsafe_fputs(stderr, st.not_stored[i]);
			fprintf(stderr, ": %s\n", st.not_stored_why[i]);
		}
		fprintf(stderr, "eduwatch-agent: backup completed with %llu files "
				"not stored%s\n",
			(unsigned long long)st.errors,
			st.errors > BACKUP_NOT_STORED_LIST
				? " (the first are named above; every one is in "
				  "the log)"
				: "");
		return EXIT_PARTIAL;
	}
	return EXIT_OK;
}

struct list_state {
	bool json;
	int n, damaged;
};

static void print_snapshot(void *arg, const struct backup_snapshot_info *s)
{
	struct list_state *ls = arg;
	char when[40];
	if (s->damaged) {
		ls->damaged++;
		if (ls->json) {
			printf("%s{\"id\":\"%s\",\"damaged\":true,\"error\":",
			       ls->n ? "," : "", s->id);
			json_print_string(stdout, s->why);
			printf("}");
		} else {
			printf("%.16s  DAMAGED: %s\n", s->id, s->why);
		}
		ls->n++;
		return;
	}
	timeutil_format_us(s->time_us, when, sizeof(when));
	if (ls->json) {
		printf("%s{\"id\":\"%s\",\"time\":\"%s\",\"host\":", ls->n ? "," : "",
		       s->id, when);
		json_print_string(stdout, s->host);
		printf(",\"paths\":");
		json_print_string(stdout, s->paths);
		printf(",\"files\":%llu,\"bytes\":%llu,\"added\":%llu}",
		       (unsigned long long)s->files, (unsigned long long)s->bytes,
		       (unsigned long long)s->added);
	} else {
		printf("%.16s  %s  %-12s %8llu files %10.1f MB  (+%.1f MB)  %s\n",
		       s->id, when, s->host, (unsigned long long)s->files,
		       (double)s->bytes / 1e6, (double)s->added / 1e6, s->paths);
	}
	ls->n++;
}

static void print_problem(void *arg, const char *snapshot, const char *path,
			  const char *what)
{
	bool json = *(bool *)arg;
	if (json) {
		fprintf(stderr, "{\"snapshot\":\"%s\",\"path\":", snapshot);
		json_print_string(stderr, path);
		fprintf(stderr, ",\"problem\":");
		json_print_string(stderr, what);
		fprintf(stderr, "}\n");
	} else {
		if (snapshot[0] == '\0') {
			fprintf(stderr, "DAMAGED  %s\n", what);
			return;
		}
		fprintf(stderr, "DAMAGED  snapshot %.16s  ", snapshot);
		textsafe_fputs(stderr, path);
		fprintf(stderr, "%s%s\n", path[0] ? ": " : "", what);
	}
}

static int cmd_verify(const struct backupcli_options *o, struct repo *r)
{
	struct backup_verify_report rep;
	char err[256];
	bool json = o->json;
	int rc = backup_verify(r, o->read_data, print_problem, &json,
			       show_progress, NULL, &rep, err, sizeof(err));
	end_progress();
	if (o->json)
		printf("{\"ok\":%s,\"snapshots\":%llu,\"files\":%llu,\"chunks_read\":"
		       "%llu,\"damaged_chunks\":%llu,\"damaged_files\":%llu,"
		       "\"damaged_snapshots\":%llu}\n",
		       rc == 0 ? "true" : "false",
		       (unsigned long long)rep.snapshots,
		       (unsigned long long)rep.files, (unsigned long long)rep.blobs,
		       (unsigned long long)rep.bad_blobs,
		       (unsigned long long)rep.damaged_files,
		       (unsigned long long)rep.damaged_snapshots);
	else
		printf("%s: %llu snapshots, %llu files%s; %llu damaged chunks, "
		       "%llu damaged files in %llu snapshots\n",
		       rc == 0 ? "repository sound" : "REPOSITORY DAMAGED",
		       (unsigned long long)rep.snapshots,
		       (unsigned long long)rep.files,
		       o->read_data ? ", every chunk read" : "",
		       (unsigned long long)rep.bad_blobs,
		       (unsigned long long)rep.damaged_files,
		       (unsigned long long)rep.damaged_snapshots);
	return rc == 0 ? EXIT_OK : EXIT_FAIL;
}

static void print_not_restored(void *arg, const char *path, size_t len,
			       const char *why)
{
	(void)arg;
	fputs("NOT RESTORED  ", stderr);
	textsafe_fwrite(stderr, path, len);
	fputs(": ", stderr);
	textsafe_fputs(stderr, why);
	fputc('\n', stderr);
}

/* A restore that stopped (full disk, read-only target) is a failure,
 * not a partial one. */
static bool fatal_partial(int rc)
{
	return rc == -ENOSPC || rc == -EDQUOT || rc == -EROFS || rc == -ENOMEM;
}

static int cmd_restore(const struct backupcli_options *o, struct repo *r)
{
	if (o->nargs < 1 || o->to == NULL) {
		fprintf(stderr, "eduwatch-agent: usage: backup restore SNAPSHOT "
				"[PATH] --to DIR [--allow-shared-target] "
				"[--keep-damaged]\n");
		return EXIT_USAGE;
	}
	struct backup_restore_options ro = {
		.snapshot = o->args[0],
		.path = o->nargs > 1 ? o->args[1] : NULL,
		.to = o->to,
		.allow_shared_target = o->allow_shared_target,
		.keep_damaged = o->keep_damaged,
		.progress = show_progress,
		.on_failed = print_not_restored,
	};
	struct backup_restore_stats st;
	char err[512];
	int rc = backup_restore(r, &ro, &st, err, sizeof(err));
	end_progress();
	double secs = (double)st.duration_us / 1e6;
	if (o->json)
		printf("{\"ok\":%s,\"files\":%llu,\"bytes\":%llu,\"verified\":%llu,"
		       "\"mismatched\":%llu,\"failed\":%llu,\"seconds\":%.3f}\n",
		       rc == 0 ? "true" : "false", (unsigned long long)st.files,
		       (unsigned long long)st.bytes,
		       (unsigned long long)st.verified,
		       (unsigned long long)st.mismatched,
		       (unsigned long long)st.failed, secs);
	else if (rc == 0)
		printf("restored %llu files (%.1f MB) to %s in %.1f s; every "
		       "file's SHA-256 matches the backup\n",
		       (unsigned long long)st.files, (double)st.bytes / 1e6, o->to,
		       secs);
	if (rc == 0 && st.meta_failed)
		fprintf(stderr, "eduwatch-agent: %llu attributes or ACLs could not "
				"be set on the target (its filesystem lacks them?)\n",
			(unsigned long long)st.meta_failed);
	/* Partial: every intact file is back, the others are named above. */
	if (rc != 0 && st.failed && !fatal_partial(rc)) {
		fprintf(stderr, "eduwatch-agent: restore partial: %llu files "
				"restored; %s\n",
			(unsigned long long)st.files, err);
		return EXIT_PARTIAL;
	}
	if (rc != 0)
		fprintf(stderr, "eduwatch-agent: restore failed: %s\n", err);
	return rc == 0 ? EXIT_OK : EXIT_FAIL;
}

static void print_repair(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
}

/* Rebuilds what can be rebuilt, drops what is lost, then says which
 * snapshots lost which files (a plain verify of the repaired
 * repository). r is closed here. */
static int cmd_repair(const struct backupcli_options *o, struct repo *r,
		      const char *dir)
{
	struct repo_repair_stats st;
	char err[512];
	if (repo_lock(r, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-agent: %s\n", err);
		repo_close(r);
		return EXIT_FAIL;
	}
	int rc = repo_repair(r, print_repair, NULL, &st, err, sizeof(err));
	repo_close(r);
	if (rc != 0) {
		fprintf(stderr, "eduwatch-agent: %s\n", err);
		return EXIT_FAIL;
	}
	printf("repair: %llu indexes rebuilt from their packs, %llu removed, "
	       "%llu lost chunks dropped, %llu packs unreadable\n",
	       (unsigned long long)st.indexes_rebuilt,
	       (unsigned long long)st.indexes_dropped,
	       (unsigned long long)st.chunks_dropped,
	       (unsigned long long)st.packs_unreadable);
	if ((rc = open_repo(o, dir, &r)) != EXIT_OK)
		return rc;
	struct backup_verify_report rep;
	bool json = false;
	rc = backup_verify(r, false, print_problem, &json, NULL, NULL, &rep, err,
			   sizeof(err));
	repo_close(r);
	if (rc == 0) {
		printf("repository sound: every snapshot's files are whole\n");
		return EXIT_OK;
	}
	printf("repository consistent; %llu files in %llu snapshots lost data "
	       "(named above); the next backup stores what is still on disk "
	       "again\n",
	       (unsigned long long)rep.damaged_files,
	       (unsigned long long)rep.damaged_snapshots);
	return EXIT_PARTIAL;
}

static int cmd_prune(const struct backupcli_options *o, struct repo *r)
{
	struct backup_prune_stats st;
	char err[512];
	if (repo_lock(r, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-agent: %s\n", err);
		return EXIT_FAIL;
	}
	int rc = backup_prune(r, o->keep_daily, o->keep_weekly, o->keep_monthly,
			      &st, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "eduwatch-agent: prune: %s\n", err);
		return rc == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
	}
	if (o->json)
		printf("{\"kept\":%llu,\"removed\":%llu,\"packs_removed\":%llu,"
		       "\"bytes_freed\":%llu}\n",
		       (unsigned long long)st.snapshots_kept,
		       (unsigned long long)st.snapshots_removed,
		       (unsigned long long)st.packs_removed,
		       (unsigned long long)st.bytes_freed);
	else
		printf("kept %llu snapshots, removed %llu; %llu packs (%.1f MB) "
		       "freed\n",
		       (unsigned long long)st.snapshots_kept,
		       (unsigned long long)st.snapshots_removed,
		       (unsigned long long)st.packs_removed,
		       (double)st.bytes_freed / 1e6);
	return EXIT_OK;
}

int backupcli_run(const struct backupcli_options *in)
{
	struct backupcli_options o = *in;
	const struct backup_settings *bs =
		o.settings ? agent_settings_for(o.settings, &backup_config)
			   : NULL;
	char pwfile[512];
	const char *repo_dir = o.repo ? o.repo
			       : o.settings && bs->backup_repo[0]
				       ? bs->backup_repo
				       : NULL;
	if (o.password_file == NULL && o.settings) {
		snprintf(pwfile, sizeof(pwfile), "%s",
			 bs->backup_password_file);
		o.password_file = pwfile;
	}
	if (repo_dir == NULL) {
		fprintf(stderr, "eduwatch-agent: no repository: give --repo DIR "
				"or set backup.repo\n");
		return EXIT_USAGE;
	}
	tty = isatty(STDERR_FILENO) && !o.json;
	if (strcmp(o.command, "init") == 0)
		return cmd_init(&o, repo_dir);
	static const char *const known[] = {"run",   "list",  "verify",
					    "restore", "prune", "repair"};
	bool ok = false;
	for (size_t i = 0; i < 6; i++)
		ok |= strcmp(o.command, known[i]) == 0;
	if (!ok) {
		fprintf(stderr, "eduwatch-agent: unknown backup command '%s'\n",
			o.command);
		return EXIT_USAGE;
	}
	struct repo *r;
	int rc = open_repo(&o, repo_dir, &r);
	if (rc != EXIT_OK)
		return rc;
	if (strcmp(o.command, "run") == 0) {
		rc = cmd_run(&o, r);
	} else if (strcmp(o.command, "list") == 0) {
		struct list_state ls = {o.json, 0, 0};
		if (o.json)
			printf("[");
		/* A count, or -errno. */
		int lrc = backup_list_all(r, print_snapshot, &ls, true);
		if (o.json)
			printf("]\n");
		rc = EXIT_OK;
		if (lrc < 0) {
			fprintf(stderr, "eduwatch-agent: backup list: %s\n",
				uv_strerror(lrc));
			rc = EXIT_FAIL;
		} else if (ls.n == 0)
			printf("no snapshots yet\n");
		if (ls.damaged) {
			fprintf(stderr, "eduwatch-agent: %d damaged snapshots; "
					"their files cannot be listed or "
					"restored\n", ls.damaged);
			rc = EXIT_FAIL;
		}
	} else if (strcmp(o.command, "verify") == 0) {
		rc = cmd_verify(&o, r);
	} else if (strcmp(o.command, "repair") == 0) {
		rc = cmd_repair(&o, r, repo_dir);
		r = NULL; /* closed and reopened there */
	} else if (strcmp(o.command, "restore") == 0) {
		rc = cmd_restore(&o, r);
	} else {
		rc = cmd_prune(&o, r);
	}
	if (r)
		repo_close(r);
	return rc;
}
