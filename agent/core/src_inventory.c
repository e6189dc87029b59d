/* source_inventory: agent.inventory at start, then whenever it changes
 * (checked every inventory.interval). Counts logged-in users but never
 * names them: the inventory is about the PC, not the child using it. */
#include <errno.h>
#include <string.h>

#include "agent/platform/platform.h"
#include "agent/core/inventory_settings.h"
#include "agent/core/source.h"
#include "common/alloc.h"
#include "common/version.h"
#include "common/wire.h"

struct inventory_source {
	struct source_env env;
	const struct inventory_settings *conf;
	uv_timer_t timer;
	struct inventory last;
	bool sent;
};

/* Uptime and free disk change all the time; only what identifies the PC
 * or its network counts as a change worth an event. */
static bool changed(const struct inventory *a, const struct inventory *b)
{
	return strcmp(a->hostname, b->hostname) || strcmp(a->os, b->os) ||
	       strcmp(a->kernel, b->kernel) || strcmp(a->ips, b->ips) ||
	       strcmp(a->macs, b->macs) || a->cpus != b->cpus ||
	       a->ram_mb != b->ram_mb || a->users != b->users ||
	       strcmp(a->domain, b->domain) || strcmp(a->disks, b->disks);
}

static void check(uv_timer_t *timer)
{
	struct inventory_source *is = timer->data;
	struct inventory now;
	if (platform_inventory(is->env.settings->state_dir, &now) != 0)
		return;
	if (is->sent && !changed(&now, &is->last))
		return;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 12 + (now.domain[0] ? 2 : 0) +
				      (now.disks[0] ? 1 : 0));
	wire_pack_kv_str(&pk, "hostname", now.hostname);
	wire_pack_kv_str(&pk, "os", now.os);
	wire_pack_kv_str(&pk, "kernel", now.kernel);
	wire_pack_kv_str(&pk, "ips", now.ips);
	wire_pack_kv_str(&pk, "macs", now.macs);
	wire_pack_kv_str(&pk, "cpu", now.cpu);
	wire_pack_kv_u64(&pk, "cpus", (uint64_t)now.cpus);
	wire_pack_kv_u64(&pk, "ram_mb", now.ram_mb);
	wire_pack_kv_u64(&pk, "disk_free_mb", now.disk_free_mb);
	wire_pack_kv_u64(&pk, "uptime_s", now.uptime_s);
	wire_pack_kv_u64(&pk, "users", (uint64_t)now.users);
	wire_pack_kv_str(&pk, "agent_version", EDUWATCH_VERSION);
	if (now.domain[0]) {
		wire_pack_kv_str(&pk, "domain", now.domain);
		wire_pack_kv_str(&pk, "domain_kind", now.domain_kind);
	}
	if (now.disks[0])
		wire_pack_kv_str(&pk, "disks", now.disks);
	if (agent_emit(is->env.agent, "agent.inventory", 0, false, sb.data,
		       sb.size, NULL) == 0) {
		is->last = now;
		is->sent = true;
	}
	msgpack_sbuffer_destroy(&sb);
}

static int inv_init(const struct source_env *env, void **state)
{
	struct inventory_source *is = alloc_zeroed(1, sizeof(*is));
	if (is == NULL)
		return -ENOMEM;
	is->env = *env;
	is->conf = env->config;
	uv_timer_init(env->loop, &is->timer);
	is->timer.data = is;
	*state = is;
	return 0;
}

static int inv_start(void *state)
{
	struct inventory_source *is = state;
	uint64_t every = (uint64_t)is->conf->inventory_interval * 1000;
	return uv_timer_start(&is->timer, check, 0, every);
}

static void inv_stop(void *state)
{
	struct inventory_source *is = state;
	uv_close((uv_handle_t *)&is->timer, NULL);
}

static void inv_free(void *state)
{
	alloc_free(state);
}

const struct source_ops source_inventory = {
	.name = "inventory",
	.init = inv_init,
	.start = inv_start,
	.stop = inv_stop,
	.free = inv_free,
};
