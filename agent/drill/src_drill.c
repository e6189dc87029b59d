/* src_drill: safe injections of incident drills (issue 19).
 *
 * A drill command has passed command_verify (signed by the collector's
 * CA, for this agent, not expired, not replayed) before it reaches here.
 * This source adds the drill's own rules:
 *   - it names an approved campaign whose window is still open;
 *   - it writes only inside the agent's own drill folder, opened with
 *     beneath_open_target (owned by root, not writable by others) and
 *     each file created with O_CREAT|O_EXCL|O_NOFOLLOW under its fd, so
 *     a link planted in the folder is refused, never followed;
 *   - every injection records what it did (drill.injected), whether the
 *     installed antivirus removed the file (drill.av_acted: a removal is
 *     a result, never an error), then removes what is left and checks
 *     that nothing is (drill.cleaned_up, with verified true or false).
 * drill.abort cleans up at once. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/core/source.h"
#include "agent/drill/drill_settings.h"
#include "agent/platform/beneath.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/wire.h"

/* EICAR in two halves, joined at run time, so that the agent's own
 * executable is not a match for the antivirus it measures. */
static const char eicar_a[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-";
static const char eicar_b[] = "STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

struct drill {
	struct agent *agent;
	const struct drill_settings *conf;
	char folder[512];
	uv_timer_t timer;
	bool active;
	uint64_t campaign;
	char name[64]; /* the campaign's name */
	char sample[NAME_MAX + 1], marker[NAME_MAX + 1];
	int64_t injected_us;
};

static void emit(struct drill *d, const char *kind, int sev,
		 const char *extra_key, int64_t extra, const char *flag_key,
		 bool flag)
{
	msgpack_sbuffer buf;
	msgpack_sbuffer_init(&buf);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3 + (extra_key != NULL) + (flag_key != NULL));
	msgpack_pack_str_with_body(&pk, "campaign", 8);
	msgpack_pack_str_with_body(&pk, d->name, strlen(d->name));
	msgpack_pack_str_with_body(&pk, "campaign_id", 11);
	msgpack_pack_uint64(&pk, d->campaign);
	msgpack_pack_str_with_body(&pk, "file", 4);
	msgpack_pack_str_with_body(&pk, d->sample, strlen(d->sample));
	if (extra_key) {
		msgpack_pack_str_with_body(&pk, extra_key, strlen(extra_key));
		msgpack_pack_int64(&pk, extra);
	}
	if (flag_key) {
		msgpack_pack_str_with_body(&pk, flag_key, strlen(flag_key));
		if (flag)
			msgpack_pack_true(&pk);
		else
			msgpack_pack_false(&pk);
	}
	agent_emit(d->agent, kind, sev, true, buf.data, buf.size, NULL);
	msgpack_sbuffer_destroy(&buf);
}

static int open_folder(struct drill *d, int *fd)
{
	char err[256];
	int rc = beneath_open_target(d->folder, true, false, fd, err,
				     sizeof(err));
	if (rc != 0)
		log_warn("drill: folder %s: %s", d->folder, err);
	return rc;
}

/* Removes the sample and the marker, then checks both are gone. */
static bool cleanup(struct drill *d)
{
	int fd;
	if (open_folder(d, &fd) != 0)
		return false;
	bool clean = true;
	const char *names[] = {d->sample, d->marker};
	for (int i = 0; i < 2; i++) {
		struct stat st;
		if (names[i][0] == '\0')
			continue;
		if (unlinkat(fd, names[i], 0) != 0 && errno != ENOENT)
			clean = false;
		if (fstatat(fd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 ||
		    errno != ENOENT)
			clean = false;
	}
	close(fd);
	return clean;
}

static void finish(struct drill *d, bool aborted)
{
	bool clean = cleanup(d);
	emit(d, "drill.cleaned_up", clean ? 1 : 6, "after_ms",
	     (timeutil_now_us() - d->injected_us) / 1000, "verified", clean);
	log_info("drill: campaign %s %s, cleanup %s", d->name,
		 aborted ? "aborted" : "done", clean ? "verified" : "FAILED");
	d->active = false;
	uv_timer_stop(&d->timer);
}

/* The AV's time is up: is the sample still there? */
static void on_timer(uv_timer_t *t)
{
	struct drill *d = t->data;
	int fd;
	if (!d->active)
		return;
	bool removed = false;
	if (open_folder(d, &fd) == 0) {
		struct stat st;
		removed = fstatat(fd, d->sample, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
			  errno == ENOENT;
		close(fd);
	}
	emit(d, "drill.av_acted", 1, "after_ms",
	     (timeutil_now_us() - d->injected_us) / 1000, "removed", removed);
	finish(d, false);
}

static int write_new(int dirfd, const char *name, const char *a,
		     const char *b)
{
	/* name is one component (read_args refuses '/'), under a folder
	 * opened beneath_open_target: O_EXCL|O_NOFOLLOW refuses a planted
	 * link or file instead of writing through it. */
	int rc = 0;
	int fd = openat(dirfd, name,
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			0600);
	if (fd < 0)
		return -errno;
	size_t na = strlen(a), nb = b ? strlen(b) : 0;
	if (write(fd, a, na) != (ssize_t)na ||
	    (nb && write(fd, b, nb) != (ssize_t)nb))
		rc = -EIO;
	if (close(fd) != 0 && rc == 0)
		rc = -EIO;
	return rc;
}

/* The campaign's arguments, checked: approved, inside its window, and
 * no path of the collector's choosing but a bare file name. */
static int read_args(struct drill *d, const msgpack_object *args,
		     char *result, size_t cap)
{
	uint64_t end = 0;
	char approver[65] = "", name[NAME_MAX + 1] = "";
	if (args == NULL || wire_get_u64(args, "campaign_id", &d->campaign) ||
	    wire_get_str(args, "campaign", d->name, sizeof(d->name)) ||
	    wire_get_u64(args, "window_end_us", &end)) {
		snprintf(result, cap, "refused: not a drill campaign's command");
		return -EINVAL;
	}
	if (wire_get_str(args, "approver", approver, sizeof(approver)) ||
	    approver[0] == '\0') {
		snprintf(result, cap, "refused: campaign %s is not approved",
			 d->name);
		return -EPERM;
	}
	if ((int64_t)end <= timeutil_now_us()) {
		snprintf(result, cap, "refused: campaign %s's window has closed",
			 d->name);
		return -ETIMEDOUT;
	}
	if (wire_get_str(args, "file", name, sizeof(name)) == 0 &&
	    (name[0] == '\0' || strchr(name, '/') || name[0] == '.' ||
	     beneath_check(name, strlen(name)) != 0)) {
		snprintf(result, cap, "refused: a drill writes only inside its "
			 "drill folder");
		return -EPERM;
	}
	if (name[0])
		snprintf(d->sample, sizeof(d->sample), "%s", name);
	else
		snprintf(d->sample, sizeof(d->sample),
			 "eduwatch-drill-%" PRIu64 ".com", d->campaign);
	snprintf(d->marker, sizeof(d->marker), "eduwatch-drill-%" PRIu64
		 ".marker", d->campaign);
	return 0;
}

static int malware_drop(struct drill *d, const msgpack_object *args,
			char *result, size_t cap)
{
	if (d->active) {
		snprintf(result, cap, "refused: campaign %s is in progress",
			 d->name);
		return -EBUSY;
	}
	int rc = read_args(d, args, result, cap);
	if (rc != 0)
		return rc;
	int fd;
	if ((rc = open_folder(d, &fd)) != 0) {
		snprintf(result, cap, "refused: drill folder %s is unsafe",
			 d->folder);
		return rc;
	}
	char marker[160];
	snprintf(marker, sizeof(marker), "eduwatch drill, campaign %s (%"
		 PRIu64 "): a harmless test file\n", d->name, d->campaign);
	rc = write_new(fd, d->marker, marker, NULL);
	if (rc == 0)
		rc = write_new(fd, d->sample, eicar_a, eicar_b);
	if (rc != 0) {
		/* A link or file planted under our names: never followed,
		 * and what we did write is removed. */
		char keep[NAME_MAX + 1];
		snprintf(keep, sizeof(keep), "%s", d->sample);
		if (rc == -EEXIST || rc == -ELOOP)
			d->sample[0] = '\0'; /* not ours: leave it */
		unlinkat(fd, d->marker, 0);
		close(fd);
		snprintf(result, cap, "refused: cannot create %s in the drill "
			 "folder (%s)", keep, rc == -EEXIST || rc == -ELOOP
			 ? "a file or link is in the way" : "write failed");
		return -EPERM;
	}
	close(fd);
	d->active = true;
	d->injected_us = timeutil_now_us();
	emit(d, "drill.injected", 1, "at_us", d->injected_us, NULL, false);
	uv_timer_start(&d->timer, on_timer,
		       (uint64_t)d->conf->av_wait_s * 1000, 0);
	snprintf(result, cap, "injected %s for campaign %s", d->sample,
		 d->name);
	return 0;
}

static int drill_command(void *state, const char *type,
			 const msgpack_object *args, char *result, size_t cap)
{
	struct drill *d = state;
	if (strcmp(type, "drill.malware-drop") == 0)
		return malware_drop(d, args, result, cap);
	if (strcmp(type, "drill.abort") == 0) {
		uint64_t id = 0;
		if (args)
			wire_get_u64(args, "campaign_id", &id);
		if (!d->active || id != d->campaign) {
			snprintf(result, cap, "nothing of that campaign runs "
				 "here");
			return 0;
		}
		finish(d, true);
		snprintf(result, cap, "aborted and cleaned up");
		return 0;
	}
	return -ENOTSUP;
}

static int drill_init(const struct source_env *env, void **state)
{
	const struct drill_settings *conf = env->config;
	*state = NULL;
	if (!conf->enabled)
		return 0;
	struct drill *d = alloc_zeroed(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->agent = env->agent;
	d->conf = conf;
	if (conf->folder[0])
		snprintf(d->folder, sizeof(d->folder), "%s", conf->folder);
	else
		snprintf(d->folder, sizeof(d->folder), "%s/drill",
			 env->settings->state_dir);
	uv_timer_init(env->loop, &d->timer);
	d->timer.data = d;
	*state = d;
	return 0;
}

static int drill_start(void *state)
{
	(void)state;
	return 0;
}

static void drill_stop(void *state)
{
	struct drill *d = state;
	if (d->active)
		cleanup(d); /* a stopping agent leaves nothing behind */
	uv_close((uv_handle_t *)&d->timer, NULL);
}

static void drill_free(void *state)
{
	alloc_free(state);
}

static const char *const drill_commands[] = {"drill.malware-drop",
					      "drill.abort", NULL};

const struct source_ops source_drill = {
	.name = "drill",
	.init = drill_init,
	.start = drill_start,
	.stop = drill_stop,
	.free = drill_free,
	.command = drill_command,
	.command_types = drill_commands,
};
