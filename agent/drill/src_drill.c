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
 * Scenarios: malware-drop (EICAR and the marker in the drill folder),
 * usb-worm (autorun.inf, EICAR and the marker on the folder or tmpfs
 * mount standing in for a USB volume, drill.usb_folder), and
 * ransomware-sim (documents in the drill folder which, after
 * drill.sim_dwell, are rewritten with random bytes and renamed *.locked
 * at ransomware speed, then a ransom note: the agent's ransomware
 * detector, agent/ransom/, watches the drill folder and must fire),
 * agent-silence (the uplink held for the command's duration, cut to the
 * window: no command reaches a held PC, so the window is the cap),
 * lan-attack (a capture made in memory through the LAN sensor's detectors,
 * drill_lan.h: nothing on the wire) and restore-test (a sample set backed
 * up and restored in full in the backup helper, drill_restore.h). After
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

#include <openssl/rand.h>

#include "agent/core/source.h"
#include "agent/core/rulestore.h"
#include "agent/drill/drill_args.h"
#include "agent/backup/backupcli.h"
#include "agent/backup/backupjob.h"
#include "agent/core/childproc.h"
#include "agent/drill/drill_lan.h"
#include "agent/drill/drill_restore.h"
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
/* ransomware-sim: its documents unless the command says, the size of
 * each, and the pace (a file every 20 ms: 50 a second, the speed of
 * real ransomware on a PC's disk). */
#define SIM_FILES_DEFAULT 40
#define SIM_FILE_SIZE 16384
#define SIM_TICK_MS 20
#define SIM_NOTE "EDUWATCH-DRILL-README.txt"

enum drill_scenario_kind { DRILL_MALWARE_DROP, DRILL_USB_WORM,
			   DRILL_RANSOMWARE_SIM, DRILL_AGENT_SILENCE,
			   DRILL_LAN_ATTACK, DRILL_RESTORE_TEST,
			   DRILL_KIND_COUNT };

/* agent-silence: before the hold, the uplink gets this long to deliver
 * what is spooled (drill.injected and the command's result, which the
 * collector needs to know the silence is a drill), checked this often. */
#define SILENCE_DRAIN_MAX_MS 5000
#define SILENCE_DRAIN_TICK_MS 100

struct drill {
	struct agent *agent;
	const struct drill_settings *conf;
	uv_loop_t *loop;
	const char *state_dir;
	const char *config_path; /* for the restore-test's helper */
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
	enum drill_scenario_kind kind;
	/* ransomware-sim: its documents, the next one to encrypt, and the
	 * drill folder's fd while it runs. */
	long long sim_count, sim_next;
	int sim_fd;
	uv_timer_t sim_timer;
	/* agent-silence: when the hold ends (never past the window), and
	 * how long the uplink has had to drain before it. */
	int64_t hold_until_us;
	uint64_t drained_ms;
	/* lan-attack: the detections of the drill capture. */
	uint64_t lan_alerts;
	/* restore-test: its helper while it runs, and what it reported. */
	struct childproc *child;
	bool got_restore, stopping;
	struct drill_restore_result restore;
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

/* Removes name under fd; true when it is gone. */
static bool remove_verified(int fd, const char *name)
{
	struct stat st;
	bool gone = unlinkat(fd, name, 0) == 0 || errno == ENOENT;
	return gone && fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
	       errno == ENOENT;
}

/* ransomware-sim's document i, before or after its encryption. */
static void sim_name(long long i, bool locked, char *out, size_t cap)
{
	snprintf(out, cap, "eduwatch-drill-doc-%03lld.txt%s", i,
		 locked ? ".locked" : "");
}

/* Removes the files the injection created, then checks all are gone. */
static bool cleanup(struct drill *d)
{
	int fd;
	if (open_folder(d, &fd) != 0)
		return false;
	bool clean = true;
	for (int i = 0; i < DRILL_FILES_MAX; i++)
		if (d->files[i][0] != '\0' && !remove_verified(fd, d->files[i]))
			clean = false;
	for (long long i = 0; i < d->sim_count; i++) {
		char name[NAME_MAX + 1];
		for (int locked = 0; locked < 2; locked++) {
			sim_name(i, locked, name, sizeof(name));
			if (!remove_verified(fd, name))
				clean = false;
		}
	}
	if (d->sim_count > 0 && !remove_verified(fd, SIM_NOTE))
		clean = false;
	close(fd);
	return clean;
}

static void sim_close(struct drill *d)
{
	uv_timer_stop(&d->sim_timer);
	if (d->sim_fd >= 0)
		close(d->sim_fd);
	d->sim_fd = -1;
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

/* What this injection changed is undone: its files removed, or the
 * uplink held by agent-silence given back; true when verified. */
static bool undo(struct drill *d)
{
	if (d->kind == DRILL_AGENT_SILENCE) {
		agent_uplink_hold(d->agent, 0);
		return !agent_uplink_held(d->agent);
	}
	if (d->kind == DRILL_LAN_ATTACK)
		return true; /* it wrote nothing, sent nothing */
	if (d->kind == DRILL_RESTORE_TEST)
		return (d->got_restore && d->restore.cleaned) ||
		       drill_restore_remove(d->folder);
	return cleanup(d);
}

static void finish(struct drill *d, bool aborted)
{
	sim_close(d);
	bool clean = undo(d);
	d->sim_count = 0;
	emit(d, "drill.cleaned_up", clean ? 1 : 6, "after_ms",
	     (timeutil_now_us() - d->injected_us) / 1000, "verified", clean);
	log_info("drill: campaign %s %s, cleanup %s", d->name,
		 aborted ? "aborted" : "done", clean ? "verified" : "FAILED");
	d->active = false;
	agent_counter_set(d->agent, DRILL_COUNTER_CAMPAIGN, 0);
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
	if (d->kind == DRILL_RESTORE_TEST && d->child) {
		childproc_kill(d->child, "the restore-test ran out of time");
		return; /* its exit finishes the drill */
	}
	if (d->kind != DRILL_MALWARE_DROP && d->kind != DRILL_USB_WORM) {
		finish(d, false); /* the detector had its time, the hold ended */
		return;
	}
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

/* One document encrypted: random bytes over it, then renamed *.locked,
 * under the drill folder's fd, never through a link. After the last,
 * the note; then the detector gets drill.av_wait before the cleanup. */
static void on_sim_tick(uv_timer_t *t)
{
	struct drill *d = t->data;
	char name[NAME_MAX + 1], locked[NAME_MAX + 1];
	unsigned char junk[SIM_FILE_SIZE];
	if (!d->active || d->sim_fd < 0)
		return;
	if (d->sim_next < d->sim_count) {
		sim_name(d->sim_next, false, name, sizeof(name));
		sim_name(d->sim_next, true, locked, sizeof(locked));
		d->sim_next++;
		int fd = openat(d->sim_fd, name, O_WRONLY | O_TRUNC |
				O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return; /* gone (the AV?): the next one */
		bool ok = RAND_bytes(junk, sizeof(junk)) == 1 &&
			  write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk);
		if (close(fd) == 0 && ok)
			(void)renameat(d->sim_fd, name, d->sim_fd, locked);
		return;
	}
	char note[300];
	snprintf(note, sizeof(note), "%s\neduwatch drill, campaign %s (%"
		 PRIu64 "): your files were NOT encrypted. This is a drill "
		 "of the ransomware detector; the agent removes these files.\n",
		 marker_tag, d->name, d->campaign);
	if (write_new(d->sim_fd, SIM_NOTE, note, NULL) != 0)
		log_warn("drill: campaign %s: the ransom note was not written",
			 d->name);
	sim_close(d);
	uv_timer_start(&d->timer, on_timer,
		       (uint64_t)d->conf->av_wait_s * 1000, 0);
}

/* The documents have sat for drill.sim_dwell: encrypt them. */
static void on_sim_dwell(uv_timer_t *t)
{
	struct drill *d = t->data;
	if (d->active)
		uv_timer_start(&d->sim_timer, on_sim_tick, 0, SIM_TICK_MS);
}

/* ransomware-sim: count documents of plain text (low entropy, as a
 * teacher's are), created O_EXCL|O_NOFOLLOW in the drill folder; a
 * failure part way removes those created. */
static int sim_inject(struct drill *d, const struct drill_args *a,
		      char *result, size_t cap)
{
	char name[NAME_MAX + 1], text[SIM_FILE_SIZE + 1];
	d->target = d->folder;
	int rc = open_folder(d, &d->sim_fd);
	if (rc != 0) {
		d->sim_fd = -1;
		snprintf(result, cap, "refused: drill folder %s is unsafe",
			 d->target);
		return rc;
	}
	size_t n = 0;
	while (n < SIM_FILE_SIZE) {
		int w = snprintf(text + n, sizeof(text) - n, "%s line %zu: "
				 "the lesson plan for week %zu, class 6A.\n",
				 marker_tag, n / 64, n % 35);
		if (w <= 0)
			break;
		n += (size_t)w;
	}
	long long count = a->count ? a->count : SIM_FILES_DEFAULT;
	for (long long i = 0; i < count; i++) {
		sim_name(i, false, name, sizeof(name));
		rc = write_new(d->sim_fd, name, text, NULL);
		if (rc == 0) {
			d->sim_count = i + 1;
			continue;
		}
		/* Not ours past this one: remove only what was created. */
		d->sim_count = i;
		(void)cleanup(d);
		d->sim_count = 0;
		sim_close(d);
		snprintf(result, cap, "refused: cannot create the drill's "
			 "documents in %s (%s)", d->target, rc == -EEXIST ||
			 rc == -ELOOP ? "a file or link is in the way" :
			 "write failed");
		return -EPERM;
	}
	d->sim_next = 0;
	snprintf(d->sample, sizeof(d->sample), "eduwatch-drill-doc-*.txt");
	snprintf(result, cap, "injected %lld documents for campaign %s; "
		 "encrypting them in %llds", count, d->name,
		 d->conf->sim_dwell_s);
	uv_timer_start(&d->sim_timer, on_sim_dwell,
		       (uint64_t)d->conf->sim_dwell_s * 1000, 0);
	return 0;
}

/* The injected event and the command's result have reached the
 * collector (or the uplink had its time): hold it for what is left of
 * the hold, then on_timer gives it back. */
static void on_silence_drain(uv_timer_t *t)
{
	struct drill *d = t->data;
	d->drained_ms += SILENCE_DRAIN_TICK_MS;
	if (!d->active || (agent_spool_depth(d->agent) > 0 &&
			   d->drained_ms < SILENCE_DRAIN_MAX_MS))
		return;
	uv_timer_stop(&d->timer);
	int64_t left_ms = (d->hold_until_us - timeutil_now_us()) / 1000;
	if (left_ms <= 0) {
		finish(d, false);
		return;
	}
	log_info("drill: campaign %s: holding the uplink for %lld ms",
		 d->name, (long long)left_ms);
	agent_uplink_hold(d->agent, (uint64_t)left_ms);
	uv_timer_start(&d->timer, on_timer, (uint64_t)left_ms, 0);
}

/* agent-silence: the uplink held for the command's duration, cut to the
 * campaign's window. No command can reach a held PC, an abort included,
 * so the window is the hard cap: the hold never outlives the campaign.
 * Events keep spooling and go when the hold ends. */
static int silence_inject(struct drill *d, const struct drill_args *a,
			  char *result, size_t cap)
{
	if (a->duration_s <= 0) {
		snprintf(result, cap, "refused: campaign %s: agent-silence needs "
			 "a duration", d->name);
		return -EINVAL;
	}
	int64_t now = timeutil_now_us();
	int64_t until = now + a->duration_s * 1000000LL;
	if (until > a->window_end_us)
		until = a->window_end_us;
	d->hold_until_us = until;
	d->drained_ms = 0;
	d->sample[0] = '\0';
	d->active = true;
	d->injected_us = now;
	emit(d, "drill.injected", 1, "hold_until_us", until, NULL, false);
	uv_timer_start(&d->timer, on_silence_drain, SILENCE_DRAIN_TICK_MS,
		       SILENCE_DRAIN_TICK_MS);
	snprintf(result, cap, "holding the uplink for campaign %s for %llds",
		 d->name, (long long)((until - now + 999999) / 1000000));
	return 0;
}

/* A detection of the drill capture: the sensor's event, with the drill
 * flag and the campaign added, so that its alert is scored and reaches
 * the SOC as a drill's. */
static void on_lan_alert(void *arg, const char *kind, int sev,
			 const char *body, size_t len)
{
	struct drill *d = arg;
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, body, len, NULL) !=
		    MSGPACK_UNPACK_SUCCESS ||
	    up.data.type != MSGPACK_OBJECT_MAP) {
		msgpack_unpacked_destroy(&up);
		return;
	}
	const msgpack_object_map *m = &up.data.via.map;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, m->size + 3);
	for (uint32_t i = 0; i < m->size; i++) {
		msgpack_pack_object(&pk, m->ptr[i].key);
		msgpack_pack_object(&pk, m->ptr[i].val);
	}
	wire_pack_kv_str(&pk, "capture", "drill");
	wire_pack_kv_str(&pk, "campaign", d->name);
	wire_pack_kv_u64(&pk, "campaign_id", d->campaign);
	agent_emit(d->agent, kind, sev, true, sb.data, sb.size, NULL);
	msgpack_sbuffer_destroy(&sb);
	msgpack_unpacked_destroy(&up);
	d->lan_alerts++;
}

/* lan-attack: the drill capture (drill_lan.h) through the sensor's
 * detectors in this process; nothing on the wire, no file. Then the
 * collector gets drill.av_wait to raise and forward the alerts before
 * the cleanup is reported. */
static int lan_inject(struct drill *d, char *result, size_t cap)
{
	struct netdetect_stats st;
	snprintf(d->sample, sizeof(d->sample), "lan-attack capture");
	d->active = true;
	d->injected_us = timeutil_now_us();
	emit(d, "drill.injected", 1, "at_us", d->injected_us, NULL, false);
	d->lan_alerts = 0;
	int rc = drill_lan_replay((uint64_t)d->injected_us, on_lan_alert, d,
				  &st);
	if (rc != 0) {
		finish(d, true);
		snprintf(result, cap, "failed: campaign %s: the drill capture "
			 "did not run (%s)", d->name, uv_strerror(rc));
		return rc;
	}
	uv_timer_start(&d->timer, on_timer,
		       (uint64_t)d->conf->av_wait_s * 1000, 0);
	snprintf(result, cap, "replayed the drill capture for campaign %s: "
		 "%llu packets, %llu detections", d->name,
		 (unsigned long long)st.packets,
		 (unsigned long long)d->lan_alerts);
	return 0;
}

static void on_restore_message(void *arg, const msgpack_object *map)
{
	struct drill *d = arg;
	d->got_restore = drill_restore_result_read(map, &d->restore) == 0;
}

/* The restore came back: when every file of the sample did, with its
 * hash, backup.drill_restore (drill-flagged) carries the times, which is
 * the timeline's "detected" for this scenario; then the cleanup. */
static void on_restore_exit(void *arg, const char *why)
{
	struct drill *d = arg;
	const struct drill_restore_result *r = &d->restore;
	d->child = NULL;
	if (d->stopping || !d->active)
		return;
	bool whole = d->got_restore && r->rc == 0 &&
		     r->equal == DRILL_RESTORE_FILES &&
		     r->files >= DRILL_RESTORE_FILES;
	if (whole) {
		msgpack_sbuffer sb;
		msgpack_packer pk;
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 7);
		wire_pack_kv_str(&pk, "campaign", d->name);
		wire_pack_kv_u64(&pk, "campaign_id", d->campaign);
		wire_pack_kv_u64(&pk, "files", r->files);
		wire_pack_kv_u64(&pk, "bytes", r->bytes);
		wire_pack_kv_u64(&pk, "hashes_equal", r->equal);
		wire_pack_kv_u64(&pk, "backup_ms", (uint64_t)r->backup_us / 1000);
		wire_pack_kv_u64(&pk, "restore_ms",
				 (uint64_t)r->restore_us / 1000);
		agent_emit(d->agent, "backup.drill_restore", 1, true, sb.data,
			   sb.size, NULL);
		msgpack_sbuffer_destroy(&sb);
		log_info("drill: campaign %s: %llu files restored in %lld ms, "
			 "every hash equal", d->name,
			 (unsigned long long)r->files,
			 (long long)(r->restore_us / 1000));
	} else {
		log_warn("drill: campaign %s: the restore-test failed: %s",
			 d->name, !d->got_restore ? why : r->rc ? r->err
			 : "a restored file differs from the sample");
	}
	finish(d, false);
}

/* restore-test: the helper (drill_restore.h) does it all, with the
 * repository's key derivation and buffers in its own process; the
 * command's duration (cut to the window) bounds it. */
static int restore_inject(struct drill *d, const struct drill_args *a,
			  char *result, size_t cap)
{
	static const struct childproc_ops ops = {on_restore_message,
						 on_restore_exit};
	const char *extra[] = {DRILL_RESTORE_ACTION};
	const char *args[AGENT_HELPER_ARGS_MAX];
	d->got_restore = false;
	memset(&d->restore, 0, sizeof(d->restore));
	int rc = agent_settings_helper_argv(args, AGENT_HELPER_ARGS_MAX,
					    BACKUPJOB_ROLE, d->config_path,
					    extra, 1);
	if (rc == 0)
		rc = childproc_spawn(d->loop, BACKUPCLI_HELPER, args, &ops, d,
				     &d->child);
	if (rc != 0) {
		snprintf(result, cap, "failed: campaign %s: cannot start the "
			 "backup helper (%s)", d->name, uv_strerror(rc));
		return rc;
	}
	snprintf(d->sample, sizeof(d->sample), "%s", DRILL_RESTORE_DIR);
	d->active = true;
	d->injected_us = timeutil_now_us();
	emit(d, "drill.injected", 1, "at_us", d->injected_us, NULL, false);
	int64_t limit_ms = (a->duration_s > 0 ? a->duration_s : 600) * 1000LL;
	int64_t window_ms = (a->window_end_us - d->injected_us) / 1000;
	if (window_ms < limit_ms)
		limit_ms = window_ms > 1 ? window_ms : 1;
	uv_timer_start(&d->timer, on_timer, (uint64_t)limit_ms, 0);
	snprintf(result, cap, "restore-test of %d sample files started for "
		 "campaign %s", DRILL_RESTORE_FILES, d->name);
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
	d->kind = k;
	memset(d->files, 0, sizeof(d->files));
	if (k == DRILL_AGENT_SILENCE)
		return silence_inject(d, &a, result, cap);
	if (k == DRILL_LAN_ATTACK)
		return lan_inject(d, result, cap);
	if (k == DRILL_RESTORE_TEST)
		return restore_inject(d, &a, result, cap);
	if (k == DRILL_RANSOMWARE_SIM) {
		if ((rc = sim_inject(d, &a, result, cap)) != 0)
			return rc;
		d->active = true;
		agent_counter_set(d->agent, DRILL_COUNTER_CAMPAIGN,
				  (long long)d->campaign);
		d->injected_us = timeutil_now_us();
		emit(d, "drill.injected", 1, "at_us", d->injected_us, NULL,
		     false);
		return 0;
	}
	if (a.file[0])
		snprintf(d->sample, sizeof(d->sample), "%s", a.file);
	else
		snprintf(d->sample, sizeof(d->sample),
			 "eduwatch-drill-%" PRIu64 ".com", d->campaign);
	d->target = k == DRILL_USB_WORM ? d->usb_folder : d->folder;
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

/* The command of each scenario, in the order of its kind, then abort. */
static const char *const drill_commands[] = {
	[DRILL_MALWARE_DROP] = "drill.malware-drop",
	[DRILL_USB_WORM] = "drill.usb-worm",
	[DRILL_RANSOMWARE_SIM] = "drill.ransomware-sim",
	[DRILL_AGENT_SILENCE] = "drill.agent-silence",
	[DRILL_LAN_ATTACK] = "drill.lan-attack",
	[DRILL_RESTORE_TEST] = "drill.restore-test",
	[DRILL_KIND_COUNT] = "drill.abort",
	NULL,
};

static int drill_command(void *state, const char *type,
			 const msgpack_object *args, char *result, size_t cap)
{
	struct drill *d = state;
	for (int k = 0; k < DRILL_KIND_COUNT; k++)
		if (strcmp(type, drill_commands[k]) == 0)
			return inject(d, (enum drill_scenario_kind)k, args,
				      result, cap);
	if (strcmp(type, "drill.abort") == 0) {
		uint64_t id = 0;
		if (args && wire_get_u64(args, "campaign_id", &id) != 0)
			id = 0;
		if (!d->active || id != d->campaign) {
			snprintf(result, cap, "nothing of that campaign runs "
				 "here");
			return 0;
		}
		if (d->child) {
			/* The helper's exit finishes the drill, after it
			 * stopped writing. */
			childproc_kill(d->child, "the campaign was aborted");
			snprintf(result, cap, "aborting: the restore-test "
				 "helper is stopped, then everything removed");
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
	d->config_path = env->config_path;
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
	uv_timer_init(env->loop, &d->sim_timer);
	d->sim_timer.data = d;
	d->sim_fd = -1;
	*state = d;
	return 0;
}

static int drill_start(void *state)
{
	struct drill *d = state;
	/* No drill runs at start: a campaign cut by a stop is over. */
	agent_counter_set(d->agent, DRILL_COUNTER_CAMPAIGN, 0);
	return 0;
}

static void drill_stop(void *state)
{
	struct drill *d = state;
	sim_close(d);
	d->stopping = true;
	if (d->child)
		childproc_kill(d->child, "the agent is stopping");
	if (d->active)
		(void)undo(d); /* a stopping agent leaves nothing behind */
	if (d->scan)
		scan_cancel(d->scan);
	uv_close((uv_handle_t *)&d->timer, NULL);
	uv_close((uv_handle_t *)&d->sim_timer, NULL);
}

static void drill_free(void *state)
{
	alloc_free(state);
}

const struct source_ops source_drill = {
	.name = "drill",
	.init = drill_init,
	.start = drill_start,
	.stop = drill_stop,
	.free = drill_free,
	.command = drill_command,
	.command_types = drill_commands,
};
