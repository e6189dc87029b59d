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
 * Scenarios: malware-drop (EICAR and the marker in the drill folder)
 * and usb-worm (autorun.inf, EICAR and the marker on the folder or
 * tmpfs mount standing in for a USB volume, drill.usb_folder). After
 * the injection the agent's own YARA engine scans exactly the files it
 * created, with the installed rule bundle: its scan.match events carry
 * the drill flag and the campaign, so the collector measures the
 * "detected" stage and the SOC sees a drill, never a real infection.
 * drill.abort cleans up at once. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/core/source.h"
#include "agent/core/rulestore.h"
#include "agent/drill/drill_args.h"
#include "agent/drill/drill_settings.h"
#include "agent/scan/scan.h"
#include "agent/platform/beneath.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/wire.h"

/* EICAR in two halves, joined at run time, so that the agent's own
 * executable is not a match for the antivirus it measures. */
static const char eicar_a[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-";
static const char eicar_b[] = "STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/* What the drill scan's rules look for: rules/yara/drill.yar. */
static const char marker_tag[] = "EDUWATCH-DRILL-MARKER-v1";

#define DRILL_FILES_MAX 3

struct drill {
	struct agent *agent;
	const struct drill_settings *conf;
	uv_loop_t *loop;
	const char *state_dir;
	char folder[512];     /* malware-drop's */
	char usb_folder[512]; /* usb-worm's stand-in volume */
	const char *target;   /* the folder of the injection in progress */
	uv_timer_t timer;
	bool active;
	uint64_t campaign;
	char name[65]; /* the campaign's name */
	/* The files this injection created, the sample first; "" once it
	 * turned out not to be ours. */
	char files[DRILL_FILES_MAX][NAME_MAX + 1];
	char sample[NAME_MAX + 1];
	int64_t injected_us;
	struct scan *scan; /* the drill scan, while it runs */
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
	int rc = beneath_open_target(d->target, true, false, fd, err,
				     sizeof(err));
	if (rc != 0)
		log_warn("drill: folder %s: %s", d->target, err);
	return rc;
}

/* Removes the files the injection created, then checks all are gone. */
static bool cleanup(struct drill *d)
{
	int fd;
	if (open_folder(d, &fd) != 0)
		return false;
	bool clean = true;
	for (int i = 0; i < DRILL_FILES_MAX; i++) {
		struct stat st;
		const char *name = d->files[i];
		if (name[0] == '\0')
			continue;
		if (unlinkat(fd, name, 0) != 0 && errno != ENOENT)
			clean = false;
		if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
		    errno != ENOENT)
			clean = false;
	}
	close(fd);
	return clean;
}

/* A match of the drill scan: a scan.match like the scan source's, with
 * the drill flag and the campaign, so that the alert it raises is
 * scored and reaches the SOC marked as a drill. */
static void on_scan_file(void *arg, const struct scan_file *f)
{
	struct drill *d = arg;
	const msgpack_object *ms = f->matches;
	if (f->verdict != SCAN_MATCH || ms == NULL ||
	    ms->type != MSGPACK_OBJECT_ARRAY)
		return;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 8);
	scan_pack_match_head(&pk, f);
	wire_pack_kv_str(&pk, "scan", "drill");
	wire_pack_kv_str(&pk, "action", "reported (drill file)");
	wire_pack_kv_str(&pk, "campaign", d->name);
	wire_pack_kv_u64(&pk, "campaign_id", d->campaign);
	agent_emit(d->agent, "scan.match", 1, true, sb.data, sb.size, NULL);
	msgpack_sbuffer_destroy(&sb);
}

static void on_scan_done(void *arg, const struct scan_totals *t,
			 const char *fatal)
{
	struct drill *d = arg;
	d->scan = NULL;
	log_info("drill: scan of campaign %s's files: %llu matched%s%s",
		 d->name, (unsigned long long)t->matched, fatal ? ", " : "",
		 fatal ? fatal : "");
}

/* eduwatch's own detection, measured: the installed bundle over exactly
 * the files this injection created (never a path of anyone else's). */
static void scan_injection(struct drill *d)
{
	char err[512], paths[DRILL_FILES_MAX][1024];
	const char *list[DRILL_FILES_MAX];
	size_t n = 0;
	struct rulestore_current cur;
	if (rulestore_current(d->state_dir, &cur, err, sizeof(err)) != 0) {
		log_warn("drill: campaign %s: no rules to scan with (%s); the "
			 "detected stage stays empty", d->name, err);
		return;
	}
	for (int i = 0; i < DRILL_FILES_MAX; i++)
		if (d->files[i][0])
			snprintf(paths[n], sizeof(paths[n]), "%s/%s", d->target,
				 d->files[i]),
			list[n] = paths[n], n++;
	struct scan_request req = {
		.paths = list,
		.npaths = n,
		.bundle = cur.path,
		.ca = cur.ca,
		.rules_version = cur.version_key,
		.jobs = 1,
		.max_size = 1 << 20,
		.timeout_s = 60,
	};
	static const struct scan_ops ops = {on_scan_file, on_scan_done};
	if (scan_start(d->loop, &req, &ops, d, &d->scan) != 0) {
		log_warn("drill: campaign %s: the scan did not start", d->name);
		d->scan = NULL;
	}
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
	if (d->scan)
		scan_cancel(d->scan);
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

/* The campaign's arguments, checked (drill_args.h). */
static int read_args(struct drill *d, const msgpack_object *args,
		     struct drill_args *a, char *result, size_t cap)
{
	int rc = drill_args_parse(args, timeutil_now_us(), a, result, cap);
	if (rc != 0)
		return rc;
	d->campaign = a->campaign_id;
	snprintf(d->name, sizeof(d->name), "%s", a->campaign);
	return 0;
}

enum drill_scenario_kind { DRILL_MALWARE_DROP, DRILL_USB_WORM };

/* The files of one injection, created in this order (the sample first):
 * a failure part way removes what was created. */
static int create_files(struct drill *d, int fd, enum drill_scenario_kind k)
{
	char marker[200], autorun[200];
	snprintf(marker, sizeof(marker), "%s\neduwatch drill, campaign %s (%"
		 PRIu64 "): a harmless test file\n", marker_tag, d->name,
		 d->campaign);
	snprintf(autorun, sizeof(autorun), "[autorun]\r\nopen=%s\r\n"
		 "action=eduwatch drill %" PRIu64 " (harmless)\r\n", d->sample,
		 d->campaign);
	const char *contents[DRILL_FILES_MAX][2] = {
		{eicar_a, eicar_b}, {marker, NULL}, {autorun, NULL}};
	snprintf(d->files[0], sizeof(d->files[0]), "%s", d->sample);
	snprintf(d->files[1], sizeof(d->files[1]), "eduwatch-drill-%" PRIu64
		 ".marker", d->campaign);
	if (k == DRILL_USB_WORM)
		snprintf(d->files[2], sizeof(d->files[2]), "autorun.inf");
	for (int i = 0; i < DRILL_FILES_MAX; i++) {
		if (d->files[i][0] == '\0')
			continue;
		int rc = write_new(fd, d->files[i], contents[i][0],
				   contents[i][1]);
		if (rc == 0)
			continue;
		/* A link or file planted under our name: never followed,
		 * never removed (it is not ours); what we did write is. */
		char keep[NAME_MAX + 1];
		snprintf(keep, sizeof(keep), "%s", d->files[i]);
		for (int j = i; j < DRILL_FILES_MAX; j++)
			d->files[j][0] = '\0';
		for (int j = 0; j < i; j++)
			if (d->files[j][0])
				unlinkat(fd, d->files[j], 0);
		memset(d->files, 0, sizeof(d->files));
		return rc == -EEXIST || rc == -ELOOP ? -EEXIST : rc;
	}
	return 0;
}

static int inject(struct drill *d, enum drill_scenario_kind k,
		  const msgpack_object *args, char *result, size_t cap)
{
	struct drill_args a;
	if (d->active) {
		snprintf(result, cap, "refused: campaign %s is in progress",
			 d->name);
		return -EBUSY;
	}
	int rc = read_args(d, args, &a, result, cap);
	if (rc != 0)
		return rc;
	if (a.file[0])
		snprintf(d->sample, sizeof(d->sample), "%s", a.file);
	else
		snprintf(d->sample, sizeof(d->sample),
			 "eduwatch-drill-%" PRIu64 ".com", d->campaign);
	d->target = k == DRILL_USB_WORM ? d->usb_folder : d->folder;
	memset(d->files, 0, sizeof(d->files));
	int fd;
	if ((rc = open_folder(d, &fd)) != 0) {
		snprintf(result, cap, "refused: drill folder %s is unsafe",
			 d->target);
		return rc;
	}
	rc = create_files(d, fd, k);
	close(fd);
	if (rc != 0) {
		snprintf(result, cap, "refused: cannot create the drill's files "
			 "in %s (%s)", d->target, rc == -EEXIST
			 ? "a file or link is in the way" : "write failed");
		return -EPERM;
	}
	d->active = true;
	d->injected_us = timeutil_now_us();
	emit(d, "drill.injected", 1, "at_us", d->injected_us, NULL, false);
	scan_injection(d);
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
		return inject(d, DRILL_MALWARE_DROP, args, result, cap);
	if (strcmp(type, "drill.usb-worm") == 0)
		return inject(d, DRILL_USB_WORM, args, result, cap);
	if (strcmp(type, "drill.abort") == 0) {
		uint64_t id = 0;
		if (args && wire_get_u64(args, "campaign_id", &id) != 0)
			id = 0;
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
	d->loop = env->loop;
	d->conf = conf;
	d->state_dir = env->settings->state_dir;
	if (conf->folder[0])
		snprintf(d->folder, sizeof(d->folder), "%s", conf->folder);
	else
		snprintf(d->folder, sizeof(d->folder), "%s/drill",
			 env->settings->state_dir);
	if (conf->usb_folder[0])
		snprintf(d->usb_folder, sizeof(d->usb_folder), "%s",
			 conf->usb_folder);
	else
		snprintf(d->usb_folder, sizeof(d->usb_folder), "%s/drill-usb",
			 env->settings->state_dir);
	d->target = d->folder;
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
	if (d->scan)
		scan_cancel(d->scan);
	uv_close((uv_handle_t *)&d->timer, NULL);
}

static void drill_free(void *state)
{
	alloc_free(state);
}

static const char *const drill_commands[] = {"drill.malware-drop",
					      "drill.usb-worm",
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
