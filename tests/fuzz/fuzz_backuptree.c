/* libFuzzer harness: a snapshot tree (the msgpack array restore reads,
 * version 1 and 2 entries: hard links, xattrs, sparse extents, FIFOs and
 * device numbers) made of the fuzzer's bytes, stored as real chunks in a
 * real repository and restored by backup_restore into a box. The tree is
 * sealed under the repository key, so only its holder can write one; this
 * checks that even a tree that holder got wrong (extents past the end,
 * links to paths that are not there, names with "..") is refused entry by
 * entry, and that nothing appears outside the box. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>

#include "agent/backup/backup.h"
#include "agent/backup/repo.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/wire.h"
#include "tests/support/testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char top[512], repo_dir[600], box[600], outside[600];
static struct repo *repo;

static int remove_one(const char *path, const struct stat *sb, int flag,
		      struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_tree(const char *path)
{
	nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS);
}

static void cleanup(void)
{
	repo_close(repo);
	remove_tree(top);
}

static int setup(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(top, sizeof(top), "%s/fuzz-backuptree-XXXXXX", base);
	if (mkdtemp(top) == NULL)
		return -1;
	snprintf(repo_dir, sizeof(repo_dir), "%s/repo", top);
	snprintf(box, sizeof(box), "%s/box", top);
	snprintf(outside, sizeof(outside), "%s/outside", top);
	mkdir(outside, 0700);
	char err[256];
	log_setup("fuzz_backuptree", LOG_LEVEL_ERR);
	if (repo_init(repo_dir, "fuzz-passphrase", err, sizeof(err)) != 0 ||
	    repo_open(repo_dir, "fuzz-passphrase", &repo, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_backuptree: %s\n", err);
		return -1;
	}
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (repo == NULL && setup() != 0)
		abort();
	if (size == 0 || size > (1u << 20))
		return 0;
	/* The tree as one chunk (restore joins a tree's chunks anyway). */
	uint8_t id[REPO_ID_LEN];
	size_t added;
	char err[256], snap[2 * REPO_ID_LEN + 1];
	repo_chunk_id(repo, data, size, id);
	if (repo_put(repo, id, data, size, &added, err, sizeof(err)) != 0 ||
	    repo_flush(repo, err, sizeof(err)) != 0)
		abort();
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	wire_pack_kv_u64(&pk, "v", 2);
	wire_pack_kv_u64(&pk, "time", 1);
	wire_pack_str(&pk, "tree");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_bin(&pk, REPO_ID_LEN);
	msgpack_pack_bin_body(&pk, id, REPO_ID_LEN);
	if (repo_snapshot_write(repo, sb.data, sb.size, snap, err, sizeof(err)) != 0)
		abort();
	msgpack_sbuffer_destroy(&sb);
	mkdir(box, 0700);
	struct backup_restore_options o = {.snapshot = snap, .to = box};
	struct backup_restore_stats st;
	EW_IGNORE(backup_restore(repo, &o, &st, err, sizeof(err)));
	EW_IGNORE(repo_snapshot_delete(repo, snap));
	/* Each input's pack goes too: the repository stays small however
	 * long the run (an input seen before is then not found, only a
	 * restore error). */
	if (added > 0)
		EW_IGNORE(repo_pack_delete(repo, (uint32_t)(repo_pack_count(repo) - 1)));
	/* Nothing outside the box: the outside folder stays empty and the
	 * top folder holds the repository, the box and the outside only. */
	if (testutil_count_entries(outside) != 0 || testutil_count_entries(top) != 3)
		abort();
	remove_tree(box);
	return 0;
}
