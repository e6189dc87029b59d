/* backup: snapshots of folders into a repository (repo.h), and back.
 *
 * A run walks the protected paths, cuts each file into content-defined
 * chunks and stores the chunks the repository lacks; a file whose size,
 * mtime, ctime and inode equal the previous snapshot's is not read at
 * all (its chunks and hash are carried over). The snapshot's tree lists
 * every file with its metadata, chunk ids and SHA-256, so that a restore
 * (and a sampled test restore) can prove each file came back intact. */
#ifndef EDUWATCH_BACKUP_H
#define EDUWATCH_BACKUP_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/backup/repo.h"

struct backup_progress {
	const char *phase;    /* "scanning", "backing up", "restoring", ... */
	uint64_t files_done, files_total;
	uint64_t bytes_done, bytes_total;
	int64_t started_us;
};
typedef void (*backup_progress_fn)(void *arg, const struct backup_progress *p);

#define BACKUP_NOT_STORED_LIST 10

struct backup_stats {
	char snapshot[2 * REPO_ID_LEN + 1];
	uint64_t files, dirs, links;
	uint64_t bytes;		/* in the snapshot */
	uint64_t bytes_read;	/* read this run (changed files) */
	uint64_t files_unchanged;
	uint64_t chunks_new, chunks_reused;
	uint64_t added_raw;	/* new chunk bytes before compression */
	uint64_t added_stored;	/* sealed bytes written */
	uint64_t errors;	/* entries not stored (each logged) */
	uint64_t hardlinks;	/* files stored as links to an earlier path */
	uint64_t specials;	/* FIFOs and device nodes */
	uint64_t sockets_skipped; /* sockets: nothing to restore */
	int64_t duration_us;
	/* The first BACKUP_NOT_STORED_LIST of the errors: the path (a long
	 * one keeps its end, after "...") and why. */
	char not_stored[BACKUP_NOT_STORED_LIST][512];
	char not_stored_why[BACKUP_NOT_STORED_LIST][128];
};

struct backup_run_options {
	const char *const *paths;
	size_t npaths;
	const char *const *excludes;
	size_t nexcludes;
	const char *host;
	backup_progress_fn progress;
	void *arg;
};

EW_MUST_CHECK
int backup_run(struct repo *r, const struct backup_run_options *o,
	       struct backup_stats *out, char *err, size_t errlen);

struct backup_snapshot_info {
	char id[2 * REPO_ID_LEN + 1];
	int64_t time_us;
	char host[64];
	char paths[512];
	uint64_t files, bytes, added;
	bool damaged; /* backup_list_all only: it did not open (why) */
	char why[200];
};

/* Oldest first. Returns the count or -errno. */
EW_MUST_CHECK
int backup_list(struct repo *r,
		void (*cb)(void *arg, const struct backup_snapshot_info *s),
		void *arg);

/* As backup_list; with_damaged also calls cb, first, for each snapshot
 * that does not open (damaged set). */
EW_MUST_CHECK
int backup_list_all(struct repo *r,
		    void (*cb)(void *arg, const struct backup_snapshot_info *s),
		    void *arg, bool with_damaged);

/* "latest", a full id or a unique prefix of one. */
EW_MUST_CHECK
int backup_resolve(struct repo *r, const char *which,
		   char id[2 * REPO_ID_LEN + 1], char *err, size_t errlen);

struct backup_verify_report {
	uint64_t snapshots, files, blobs, bad_blobs, damaged_files,
		damaged_snapshots;
	uint64_t bad_packs; /* missing, short, or with a damaged index */
};
/* Checks every snapshot's tree and that each chunk it names is indexed;
 * with read_data, also reads, decrypts and re-hashes every chunk. Each
 * problem is named (snapshot, path, what) through cb. Returns 0 when
 * the repository is sound, -EBADMSG when it is not. */
EW_MUST_CHECK
int backup_verify(struct repo *r, bool read_data,
		  void (*cb)(void *arg, const char *snapshot, const char *path,
			     const char *what),
		  void *arg, backup_progress_fn progress, void *parg,
		  struct backup_verify_report *out, char *err, size_t errlen);

struct backup_restore_options {
	const char *snapshot; /* as backup_resolve */
	const char *path;     /* NULL: everything */
	const char *to;	      /* restored under to + original path */
	size_t sample;	      /* > 0: that many random files only */
	/* Restore into a target another user owns or can write (they
	 * could plant links: each is refused, never followed). */
	bool allow_shared_target;
	/* A file with a damaged or missing chunk is written as NAME.damaged
	 * (the lost ranges left as holes) instead of not at all. It is
	 * still counted as not restored. */
	bool keep_damaged;
	backup_progress_fn progress;
	void *arg;
	/* Each entry not restored (a damaged or missing chunk, a planted
	 * link), with why; NULL: the log only. */
	void (*on_failed)(void *arg, const char *path, size_t len,
			  const char *why);
};
struct backup_restore_stats {
	uint64_t files, bytes, verified, mismatched;
	uint64_t failed; /* entries not restored (each logged) */
	uint64_t hardlinks, specials;
	uint64_t meta_failed; /* attributes or ACLs the target refused */
	int64_t duration_us;
};
/* Every file's SHA-256 is checked against the tree's as it is written.
 * Everything is created beneath the target through fds, never through
 * a symlink (beneath.h); an entry that cannot be restored is skipped,
 * counted in failed, and the return is then -EIO with the first. */
EW_MUST_CHECK
int backup_restore(struct repo *r, const struct backup_restore_options *o,
		   struct backup_restore_stats *out, char *err, size_t errlen);

struct backup_prune_stats {
	uint64_t snapshots_kept, snapshots_removed, packs_removed, bytes_freed;
};
EW_MUST_CHECK
int backup_prune(struct repo *r, int keep_daily, int keep_weekly,
		 int keep_monthly, struct backup_prune_stats *out, char *err,
		 size_t errlen);

#endif
