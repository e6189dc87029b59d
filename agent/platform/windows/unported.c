/* The capabilities not yet ported to Windows, stated as such.
 *
 * Backups, quarantine (scan.quarantine; the scan source reports
 * matches and leaves the files where they are),
 * the incident drill (it plants files through an O_NOFOLLOW folder fd),
 * the LAN sensor's capture (its state is src_netsensor.c), the ransomware detector (agent/platform/fswatch.h has
 * no ReadDirectoryChangesW half yet) and the versioned-folder self-upgrade (symlinks renamed
 * over each other; on Windows the MSI's MajorUpgrade does that job)
 * depend on POSIX-only code (openat-family walks, seccomp, rlimits,
 * libpcap, symlinks) whose Windows halves are not written yet: see issue
 * 16 and docs/DECISIONS.md "The Windows agent, in steps". Here each one
 * says so, at start-up in the log and on the command line with an error,
 * instead of failing to link or pretending to work. */
#include <errno.h>
#include <stdio.h>

#include <windows.h>

#include "agent/core/childproc.h"
#include "agent/core/source.h"
#include "agent/scan/quarantine.h"
#include "agent/upgrade/apply.h"
#include "agent/upgrade/swap.h"
#include "common/log.h"

static int off_init(const char *name, void **state)
{
	log_warn("%s: off: not yet ported to Windows", name);
	*state = NULL;
	return 0;
}

static int drill_init(const struct source_env *env, void **state)
{
	return off_init("drill", state);
}

static int ransom_init(const struct source_env *env, void **state)
{
	return off_init("ransom", state);
}

static int backup_init(const struct source_env *env, void **state)
{
	return off_init("backup", state);
}

static int off_start(void *state) { return 0; }
static void off_stop(void *state) {}
static void off_free(void *state) {}

const struct source_ops source_backup = {
	.name = "backup", .init = backup_init, .start = off_start,
	.stop = off_stop, .free = off_free,
};
const struct source_ops source_drill = {
	.name = "drill", .init = drill_init, .start = off_start,
	.stop = off_stop, .free = off_free,
};
const struct source_ops source_ransom = {
	.name = "ransom", .init = ransom_init, .start = off_start,
	.stop = off_stop, .free = off_free,
};

/* The agent hands scan, sniff and backup (and the sources' children)
 * to helper executables beside it (agent/core/cli.c); none is built for
 * Windows yet, so the lookup says so and the command exits non-zero. */
int childproc_helper_path(const char *name, char *out, size_t cap, char *err,
			  size_t errlen)
{
	(void)out;
	(void)cap;
	snprintf(err, errlen,
		 "%s is not available in the Windows agent yet; use a Linux "
		 "agent for it", name);
	return -ENOSYS;
}

void quarantine_dir(const char *state_dir, char *out, size_t cap)
{
	snprintf(out, cap, "%s/quarantine", state_dir);
}
int quarantine_list(const char *qdir,
		    void (*cb)(void *arg, const struct quarantine_entry *e),
		    void *arg)
{
	return 0;
}
int quarantine_file(const char *qdir, const char *path, const char *sha256,
		    const char *rules, struct quarantine_entry *out, char *err,
		    size_t errlen)
{
	(void)qdir;
	(void)path;
	(void)sha256;
	(void)rules;
	(void)out;
	snprintf(err, errlen, "quarantine is not available in the Windows "
			      "agent yet");
	return -ENOSYS;
}
int quarantine_restore(const char *qdir, const char *id, const char *to,
		       char *err, size_t errlen)
{
	snprintf(err, errlen, "quarantine is not available in the Windows "
			      "agent yet");
	return -ENOSYS;
}

/* `upgrade install|seed|restore|status|watch` swap symlinked release folders;
 * a Windows PC upgrades through the MSI (MajorUpgrade keeps ProgramData),
 * so the commands say where to go instead. */
int swap_version(const char *root, const char *link, char *out, size_t cap)
{
	(void)root;
	(void)link;
	if (cap > 0)
		out[0] = '\0';
	return -ENOSYS;
}

int swap_install(const char *root, const char *src, const char *version,
		 bool rollback, char *err, size_t errlen)
{
	(void)root;
	(void)src;
	(void)version;
	(void)rollback;
	snprintf(err, errlen, "the Windows agent upgrades through its MSI "
			      "(msiexec /i), not through release folders");
	return -ENOSYS;
}

int swap_seed(const char *root, const char *const *names, const char *version,
	      bool *kept, char *err, size_t errlen)
{
	(void)root;
	(void)names;
	(void)version;
	*kept = false;
	snprintf(err, errlen, "the Windows agent upgrades through its MSI "
			      "(msiexec /i), not through release folders");
	return -ENOSYS;
}

int swap_restore_previous(const char *root, char *err, size_t errlen)
{
	(void)root;
	snprintf(err, errlen, "the Windows agent upgrades through its MSI "
			      "(msiexec /i), not through release folders");
	return -ENOSYS;
}

/* A pushed agent release (agent/upgrade/apply.h) is refused, and said to
 * be, until the MSI path takes it. */
int upgrade_apply(const char *state_dir, const char *root,
		  const char *release_key, const void *published,
		  size_t len, char release[RELPKG_VERSION_MAX + 1],
		  char left[RELPKG_VERSION_MAX + 1], char *err, size_t errlen)
{
	(void)state_dir;
	(void)root;
	(void)release_key;
	(void)published;
	(void)len;
	release[0] = left[0] = '\0';
	snprintf(err, errlen, "the Windows agent upgrades through its MSI "
			      "(msiexec /i), not through pushed releases");
	return -ENOSYS;
}

int upgrade_spawn_watchdog(const char *root, const char *left,
			   const char *config, long long within_s, bool restart)
{
	(void)root;
	(void)left;
	(void)config;
	(void)within_s;
	(void)restart;
	return -ENOSYS;
}

void upgrade_running_release(char *out, size_t cap)
{
	if (cap > 0)
		out[0] = '\0';
}

int upgrade_mark_pending(const char *root, const char *release,
			 long long within_s)
{
	(void)root;
	(void)release;
	(void)within_s;
	return -ENOSYS;
}

enum upgrade_pending upgrade_check_pending(const char *root,
					   const char *running, bool healthy,
					   char *why, size_t cap)
{
	(void)root;
	(void)running;
	(void)healthy;
	if (cap > 0)
		why[0] = '\0';
	return UPGRADE_NONE;
}

void upgrade_clear_pending(const char *root)
{
	(void)root;
}

bool upgrade_take_restore_note(const char *root,
			       char failed[RELPKG_VERSION_MAX + 1], char *why,
			       size_t cap)
{
	(void)root;
	failed[0] = '\0';
	(void)why;
	(void)cap;
	return false;
}

uint32_t upgrade_new_failures(const char *root, const char *running,
			      uint32_t failed)
{
	(void)root;
	(void)running;
	(void)failed;
	return 0;
}
