/* jail: a child process that parses hostile bytes, on Windows.
 *
 * The Windows half of what sandbox.h does on Linux, done by the parent
 * when it creates the child rather than by the child on itself:
 *   - a restricted token made from the agent's own: every privilege but
 *     SeChangeNotify removed, the user SID and every group SID except
 *     Everyone, Users and the logon session made deny-only, and the low
 *     integrity level, so the child can open almost nothing by name and
 *     write to almost nothing at all;
 *   - a job object: a commit limit per process, a hard CPU rate cap, at
 *     most one active process (the child cannot start another), no
 *     breakaway, no desktop or clipboard access, and every process in it
 *     killed when the parent's job handle closes (the parent died or gave
 *     up on it);
 *   - only its pipe ends and the parent's stderr are inherited, and the
 *     files it reads are handles the parent opened and duplicated into it
 *     (jail_give_handle), read-only: the child is never given a path to
 *     open, which also closes the TOCTOU class of a path swapped between
 *     the parent's check and the child's open.
 * The child is created suspended and runs only once it is in the job. */
#ifndef EDUWATCH_JAIL_H
#define EDUWATCH_JAIL_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <windows.h>

struct jail_limits {
	uint64_t memory_bytes;	/* commit limit of the child; 0: none */
	int cpu_percent;	/* hard cap on its CPU rate, 1..100; 0: none */
};

struct jail {
	HANDLE process, job;
	HANDLE to_child, from_child; /* our ends of its stdin and stdout */
	/* What the OS refused and the jail runs without (wine has no CPU
	 * rate control): said in the command's output, never hidden. */
	char missing[160];
};

/* Starts `exe args` (exe a full path, args the whole command line) in the
 * jail. Returns 0 or a negative errno with the reason in err; nothing is
 * left running on failure. */
EW_MUST_CHECK
int jail_spawn(const wchar_t *exe, const wchar_t *args,
	       const struct jail_limits *limits, struct jail *out, char *err,
	       size_t errlen);

/* Duplicates h into the child with read access only; *value is the
 * handle's number in the child. The caller keeps h. */
EW_MUST_CHECK
int jail_give_handle(struct jail *j, HANDLE h, uint64_t *value);

/* Closes the child's pipes, gives it up to wait_ms to exit, then closes
 * the job, which kills whatever is left in it. Returns the child's exit
 * code, or -1 when it had to be killed. A zeroed jail is a no-op. */
int jail_close(struct jail *j, DWORD wait_ms);

#endif
