/* fsutil: the one way to replace a file's contents.
 *
 * A state file (a key, a certificate, a status, the list of infected
 * files, a rule bundle) must be either the old version or the new one
 * after a power cut, never empty or half written. fs_write_atomic writes
 * a temporary file beside the target (O_EXCL, a random name, so two
 * writers or a planted file cannot collide), sets its mode, fsyncs it,
 * renames it over the target and fsyncs the folder, so the rename itself
 * survives a crash. The backup repository keeps its own variant: its
 * temporary files live in the repository's tmp/ folder, which its format
 * cleans after a crash (docs/BACKUP-FORMAT.md). */
#ifndef EDUWATCH_FSUTIL_H
#define EDUWATCH_FSUTIL_H

#include "common/check.h"

#include <stddef.h>

/* Returns 0 or a negative errno; on failure the target is unchanged and
 * no temporary file is left. */
EW_MUST_CHECK
int fs_write_atomic(const char *path, const void *data, size_t len,
		    unsigned mode);

/* The same, atomic for readers but not made durable (no fsync): for a
 * file rewritten every few seconds whose loss in a power cut costs
 * nothing, such as the agent's status file, where two fsyncs each time
 * would be wasted I/O on a weak PC's disk. */
EW_MUST_CHECK
int fs_write_replace(const char *path, const void *data, size_t len,
		     unsigned mode);

/* fsyncs a folder, so that names created or renamed in it survive a
 * crash. Returns 0 or a negative errno. */
EW_MUST_CHECK
int fs_fsync_dir(const char *dir);

/* Writes all len bytes to fd, going on after short writes and EINTR.
 * Returns 0 or a negative errno. */
EW_MUST_CHECK
int fs_write_all(int fd, const void *data, size_t len);

/* The same with the contents of the file at src (read whole; for small
 * files such as rule bundles). */
EW_MUST_CHECK
int fs_copy_atomic(const char *src, const char *path, unsigned mode);

/* Reads a whole regular file of at most max
 * bytes into *out (allocated, NUL-terminated, freed with alloc_free).
 * -EFBIG when it is larger, -EINVAL when it is not a regular file. */
int fs_read_file(const char *path, size_t max, char **out, size_t *outlen);
/* The same from an open fd (borrowed): what fstat says it is, a regular
 * file of at most max bytes, so a caller that opened a name with
 * O_NOFOLLOW reads exactly the file it checked. */
EW_MUST_CHECK
int fs_read_fd(int fd, size_t max, char **out, size_t *outlen);

#endif
