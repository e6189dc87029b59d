/* repo: an encrypted, deduplicated backup repository in a folder.
 *
 * The folder may be a local disk, a USB drive or a mounted share; the
 * agent only ever adds files to it (prune, run by hand or by policy, is
 * the one thing that deletes). Layout and formats: docs/BACKUP-FORMAT.md.
 * In short:
 *   keys/key            the master keys, sealed with a key derived from the
 *                       passphrase by scrypt (AES-256-GCM)
 *   data/XX/<pack>      packs of blobs: each blob is a chunk, compressed
 *                       with zstd and sealed with AES-256-GCM (its id as AAD)
 *   index/<pack>        which chunks a pack holds, sealed; written only
 *                       after the pack is on disk
 *   snapshots/<id>      one backup: time, paths, stats, its tree's chunks
 * A chunk's id is HMAC-SHA-256 of its plaintext under a repository key,
 * so ids reveal nothing about content to whoever holds the disk. Every
 * file appears by rename after fsync: a crash at any point leaves a
 * repository that opens and verifies, and whatever packs were complete
 * are reused by the next run.
 *
 * Lifecycle: a synchronous resource, `_open` / `_close` (close of NULL is a
 * no-op), as every such resource in the tree. */
#ifndef EDUWATCH_REPO_H
#define EDUWATCH_REPO_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "agent/backup/chunker.h"

#define REPO_ID_LEN 32
#define REPO_PACK_TARGET (16u * 1024u * 1024u)

struct repo;

struct repo_blob_ref {
	uint32_t pack;	  /* index into the pack list */
	uint32_t length;  /* sealed bytes in the pack */
	uint64_t offset;
	uint32_t raw_len; /* plaintext bytes */
};

/* Creates a repository in dir (empty or absent). Returns 0 or -errno. */
EW_MUST_CHECK
int repo_init(const char *dir, const char *passphrase, char *err,
	      size_t errlen);
/* Opens it. A wrong passphrase is -EACCES with a clear err. */
EW_MUST_CHECK
int repo_open(const char *dir, const char *passphrase, struct repo **out,
	      char *err, size_t errlen);
void repo_close(struct repo *r);
/* Takes the writer's lock (one backup or prune at a time). */
EW_MUST_CHECK
int repo_lock(struct repo *r, char *err, size_t errlen);

const struct chunker_params *repo_chunker(const struct repo *r);
void repo_chunk_id(const struct repo *r, const void *data, size_t len,
		   uint8_t id[REPO_ID_LEN]);
bool repo_has(const struct repo *r, const uint8_t id[REPO_ID_LEN]);

/* Stores a chunk unless present; *added is the sealed bytes written (0
 * for a duplicate). Returns 0 or -errno (-ENOSPC: the target is full). */
EW_MUST_CHECK
int repo_put(struct repo *r, const uint8_t id[REPO_ID_LEN], const void *data,
	     size_t len, size_t *added, char *err, size_t errlen);
/* Closes the open pack: fsync, rename, its index. */
EW_MUST_CHECK
int repo_flush(struct repo *r, char *err, size_t errlen);
/* Reads a chunk back and checks its id. *data: free with alloc_free.
 * -EBADMSG: the stored bytes are damaged. */
EW_MUST_CHECK
int repo_get(struct repo *r, const uint8_t id[REPO_ID_LEN], void **data,
	     size_t *len, char *err, size_t errlen);

/* Sealed files beside the packs: snapshots. */
EW_MUST_CHECK
int repo_snapshot_write(struct repo *r, const void *data, size_t len,
			char id_hex[2 * REPO_ID_LEN + 1], char *err,
			size_t errlen);
EW_MUST_CHECK
int repo_snapshot_read(struct repo *r, const char *id_hex, void **data,
		       size_t *len, char *err, size_t errlen);
/* Snapshot ids, sorted; *ids: free with alloc_free. */
EW_MUST_CHECK
int repo_snapshot_ids(struct repo *r, char (**ids)[2 * REPO_ID_LEN + 1],
		      size_t *n);
EW_MUST_CHECK
int repo_snapshot_delete(struct repo *r, const char *id_hex);

/* Walks every indexed blob: for verify and prune. */
size_t repo_pack_count(const struct repo *r);
const char *repo_pack_name(const struct repo *r, uint32_t pack);
void repo_each_blob(const struct repo *r,
		    void (*cb)(void *arg, const uint8_t *id,
			       const struct repo_blob_ref *ref),
		    void *arg);
/* Checks that every indexed pack exists with at least the size its
 * index needs; cb names each one that does not. Returns how many, or
 * -errno. Afterwards repo_chunk_ok is false for their chunks. */
EW_MUST_CHECK
int repo_check_packs(struct repo *r,
		     void (*cb)(void *arg, const char *pack, const char *what),
		     void *arg);
bool repo_chunk_ok(const struct repo *r, const uint8_t id[REPO_ID_LEN]);
/* The plaintext length the index records for a chunk: -ENOENT when it
 * is not indexed. */
EW_MUST_CHECK
int repo_chunk_len(const struct repo *r, const uint8_t id[REPO_ID_LEN],
		   uint32_t *raw_len);
/* Deletes a pack and its index (prune). */
EW_MUST_CHECK
int repo_pack_delete(struct repo *r, uint32_t pack);
/* Bytes of packs and index files on disk. */
uint64_t repo_size_bytes(const struct repo *r);

/* The master keys sealed to a public key (the collector's CA), for the
 * escrow (common/backupkey.h). *out: free with free(). */
EW_MUST_CHECK
int repo_escrow_seal(const struct repo *r, EVP_PKEY *recipient, char **out,
		     size_t *out_len);

/* Index files that did not open at repo_open (their chunks count as
 * missing until repo_repair), by pack name. */
size_t repo_damaged_index_count(const struct repo *r);
const char *repo_damaged_index(const struct repo *r, size_t i);

struct repo_repair_stats {
	uint64_t indexes_rebuilt;  /* from a pack's own trailer */
	uint64_t indexes_dropped;  /* a missing pack's, or a useless one */
	uint64_t chunks_dropped;   /* missing or damaged: stored again by
				    * the next backup that meets them */
	uint64_t packs_unreadable; /* no index and no trailer */
};
/* Rebuilds the index of every pack that lacks one from the pack's own
 * trailer, drops damaged index files and every chunk that cannot be
 * read back (cb gets a line for each). Take repo_lock first. Afterwards
 * the repository is consistent: what is lost is missing, not damaged,
 * and a verify names the files it cost. */
EW_MUST_CHECK
int repo_repair(struct repo *r, void (*cb)(void *arg, const char *line),
		void *arg, struct repo_repair_stats *st, char *err,
		size_t errlen);

/* An errno as words, never "Unknown system error". */
const char *repo_strerror(int rc);


#endif
