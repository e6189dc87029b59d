#include "agent/core/rulefetch.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "agent/core/rulestore.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/wire.h"

/* No answer to a fetch for this long while connected: ask again. */
#define STALL_MS (60 * 1000)

struct rulefetch {
	uv_loop_t *loop;
	char state_dir[512];
	enum rulestore_kind kind;
	struct rulefetch_ops ops;
	void *arg;
	uint64_t version; /* being fetched; 0: none */
	uv_timer_t timer; /* retry after "busy", or a stalled piece */
};

static void ask(struct rulefetch *rf);

static void on_timer(uv_timer_t *t)
{
	ask(t->data);
}

/* Asks for the piece after what the partial file holds. Not connected:
 * rulefetch_connected asks again. Sent: a stalled answer is asked for
 * again after STALL_MS. */
static void ask(struct rulefetch *rf)
{
	if (rf->version == 0)
		return;
	uint64_t offset = rulestore_part_size(rf->state_dir, rf->kind,
					      rf->version);
	if (rf->ops.send_fetch(rf->arg, rulestore_kind_name(rf->kind),
			       rf->version, offset) == 0)
		uv_timer_start(&rf->timer, on_timer, STALL_MS, 0);
}

static void ask_later(struct rulefetch *rf, uint64_t ms)
{
	uv_timer_start(&rf->timer, on_timer, ms, 0);
}

static void finish(struct rulefetch *rf, const struct bundle_info *info,
		   const char *error)
{
	uint64_t v = rf->version;
	rf->version = 0;
	uv_timer_stop(&rf->timer);
	if (error) {
		char part[600];
		rulestore_part_path(rf->state_dir, rf->kind, v, part,
				    sizeof(part));
		unlink(part);
	}
	rf->ops.finished(rf->arg, rf->kind, v, info, error);
}

/* A partial download left by an earlier run is resumed. */
static void find_partial(struct rulefetch *rf)
{
	char dir[600];
	snprintf(dir, sizeof(dir), "%s/rules", rf->state_dir);
	DIR *d = opendir(dir);
	struct dirent *de;
	char prefix[32];
	snprintf(prefix, sizeof(prefix), "incoming-%s-",
		 rulestore_kind_name(rf->kind));
	size_t n = strlen(prefix);
	while (d && (de = readdir(d)) != NULL) {
		unsigned long long v;
		if (strncmp(de->d_name, prefix, n) == 0 &&
		    sscanf(de->d_name + n, "%llu.part", &v) == 1 && v > rf->version)
			rf->version = v;
	}
	if (d)
		closedir(d);
}

int rulefetch_start(uv_loop_t *loop, const char *state_dir,
		  enum rulestore_kind kind, const struct rulefetch_ops *ops,
		  void *arg, struct rulefetch **out)
{
	struct rulefetch *rf = alloc_zeroed(1, sizeof(*rf));
	if (rf == NULL)
		return -ENOMEM;
	rf->loop = loop;
	rf->kind = kind;
	snprintf(rf->state_dir, sizeof(rf->state_dir), "%s", state_dir);
	rf->ops = *ops;
	rf->arg = arg;
	uv_timer_init(loop, &rf->timer);
	rf->timer.data = rf;
	find_partial(rf);
	if (rf->version)
		log_info("rules: resuming the download of %s bundle %llu",
			 rulestore_kind_name(kind),
			 (unsigned long long)rf->version);
	*out = rf;
	return 0;
}

int rulefetch_begin(struct rulefetch *rf, uint64_t version, char *result,
		    size_t cap)
{
	if (version == 0) {
		snprintf(result, cap, "no version given");
		return -EINVAL;
	}
	uint64_t have = rulestore_installed_version(rf->state_dir, rf->kind);
	if (have >= version) {
		snprintf(result, cap, "%s bundle %llu already installed (have "
			 "%llu)", rulestore_kind_name(rf->kind),
			 (unsigned long long)version, (unsigned long long)have);
		return 0;
	}
	if (rf->version && rf->version != version) {
		char part[600];
		rulestore_part_path(rf->state_dir, rf->kind, rf->version, part,
				    sizeof(part));
		unlink(part); /* superseded */
	}
	if (rf->version != version) {
		/* An empty part marks the download as wanted across restarts. */
		rf->version = version;
		int rc = rulestore_part_append(rf->state_dir, rf->kind, version,
					       0, "", 0);
		if (rc != 0)
			/* Fetched all the same, only not resumed after a
			 * restart. */
			log_warn("rulefetch: cannot mark bundle %llu wanted: %s",
				 (unsigned long long)version, uv_strerror(rc));
	}
	snprintf(result, cap, "fetching %s bundle %llu",
		 rulestore_kind_name(rf->kind), (unsigned long long)version);
	ask(rf);
	return 0;
}

void rulefetch_on_blob(struct rulefetch *rf, const msgpack_object *m)
{
	uint64_t version = 0, offset = 0, total = 0, retry = 0;
	char error[64] = "";
	wire_get_u64(m, "version", &version);
	wire_get_u64(m, "offset", &offset);
	if (version == 0 || version != rf->version)
		return; /* an answer to a download we gave up */
	uv_timer_stop(&rf->timer);
	if (wire_get_str(m, "error", error, sizeof(error)) == 0) {
		wire_get_u64(m, "retry_ms", &retry);
		if (retry > 0) {
			ask_later(rf, retry < 600000 ? retry : 600000);
			return;
		}
		char why[128];
		snprintf(why, sizeof(why), "collector: %s", error);
		finish(rf, NULL, why);
		return;
	}
	const msgpack_object *data = wire_map_get(m, "data");
	if (wire_get_u64(m, "total", &total) != 0 || data == NULL ||
	    data->type != MSGPACK_OBJECT_BIN || data->via.bin.size == 0 ||
	    total > BUNDLE_MAX_FILE || offset + data->via.bin.size > total) {
		finish(rf, NULL, "malformed piece from the collector");
		return;
	}
	int rc = rulestore_part_append(rf->state_dir, rf->kind, version, offset,
				       data->via.bin.ptr, data->via.bin.size);
	if (rc == -ESPIPE) {
		ask(rf); /* a duplicate answer: ask for where we are */
		return;
	}
	if (rc != 0) {
		char why[128];
		snprintf(why, sizeof(why), "cannot store the bundle: %s",
			 uv_strerror(rc));
		finish(rf, NULL, why);
		return;
	}
	if (offset + data->via.bin.size < total) {
		ask(rf);
		return;
	}
	struct bundle_info info;
	char err[256];
	if (rulestore_install_part(rf->state_dir, rf->kind, version, &info, err,
				   sizeof(err)) != 0)
		finish(rf, NULL, err);
	else
		finish(rf, &info, NULL);
}

void rulefetch_connected(struct rulefetch *rf)
{
	ask(rf);
}

void rulefetch_stop(struct rulefetch *rf)
{
	uv_close((uv_handle_t *)&rf->timer, NULL);
}

void rulefetch_free(struct rulefetch *rf)
{
	alloc_free(rf);
}
