/* beneath: paths opened and created under a directory fd, never through
 * a symbolic link.
 *
 * Restore, quarantine and the scanner child act as root (or with
 * CAP_DAC_READ_SEARCH) in trees that students can write. A path string
 * handed to open(2) is resolved again at every call, so a directory
 * swapped for a symlink between two calls sends root elsewhere. Here
 * every path is walked one component at a time from a directory fd
 * with O_NOFOLLOW|O_DIRECTORY (or in one openat2 call with
 * RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS where the kernel has it), and the
 * result is an fd: whatever is done next (write, fchown, fchmod,
 * futimens, renameat) goes through it.
 *
 * A path is a byte string of components separated by '/'; leading,
 * doubled and trailing slashes and "." components are ignored. ".."
 * and NUL are refused: a snapshot or request naming them is hostile. */
#ifndef EDUWATCH_BENEATH_H
#define EDUWATCH_BENEATH_H

#include "common/check.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* Creates missing directories (mode 0700) on the way. */
#define BENEATH_CREATE 1u
/* The component walk only, no openat2: for a seccomp sandbox that
 * allows openat alone. */
#define BENEATH_NO_OPENAT2 2u

/* 0 when path may be walked: no ".." component, no NUL byte, no
 * component longer than NAME_MAX. -EINVAL or -ENAMETOOLONG otherwise.
 * There is no limit on the whole length or the depth. */
EW_MUST_CHECK
int beneath_check(const char *path, size_t len);

/* Opens the directory path names beneath dirfd (borrowed). An empty
 * path opens dirfd itself again. *out: close it. -ELOOP: a component
 * is a symlink; -ENOTDIR: a component is not a directory. */
EW_MUST_CHECK
int beneath_open_dir(int dirfd, const char *path, size_t len, unsigned opts,
		     int *out);

/* Opens the parent of path's last component beneath dirfd and copies
 * that component into leaf. -EINVAL when path has no last component. */
EW_MUST_CHECK
int beneath_open_parent(int dirfd, const char *path, size_t len,
			unsigned opts, int *out, char leaf[NAME_MAX + 1]);

/* Opens path beneath dirfd with flags, O_NOFOLLOW added: a symlink in
 * any component is -ELOOP. */
EW_MUST_CHECK
int beneath_open(int dirfd, const char *path, size_t len, int flags,
		 unsigned opts, int *out);

/* Opens a directory an operator named (restore --to, quarantine
 * restore --to): every component from "/" (or the working directory
 * for a relative path) without following a symlink, creating missing
 * ones (0700) with create. Unless allow_shared, the directory must be
 * owned by the effective uid and not writable by group or others: a
 * user who can write it could plant links or swap folders under a
 * restore running as root. err says what to do about a refusal. */
EW_MUST_CHECK
int beneath_open_target(const char *path, bool create, bool allow_shared,
			int *out, char *err, size_t errlen);

#endif
