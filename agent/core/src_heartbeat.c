/* source_heartbeat: agent.heartbeat every heartbeat.interval, so the
 * collector can tell a silent PC from a quiet one. Carries the agent's own
 * health: uptime, spool depth, resident memory, and the rule bundle it
 * scans with ("" when none), the same on every platform. */
#include <errno.h>
#include <stdlib.h>

#include "agent/platform/platform.h"
#include "agent/core/heartbeat_settings.h"
#include "agent/core/source.h"
#include "common/alloc.h"
#include "common/wire.h"

struct heartbeat {
	struct source_env env;
	const struct heartbeat_settings *conf;
	uv_timer_t timer;
	uint64_t started_ms;
};

static void beat(uv_timer_t *timer)
{
	struct heartbeat *hb = timer->data;
	long long depth = agent_spool_depth(hb->env.agent);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	wire_pack_kv_u64(&pk, "uptime_s",
			 (uv_now(hb->env.loop) - hb->started_ms) / 1000);
	wire_pack_kv_u64(&pk, "spool", (uint64_t)(depth > 0 ? depth : 0));
	long rss = platform_rss_kib();
	wire_pack_kv_u64(&pk, "rss_kib", (uint64_t)(rss > 0 ? rss : 0));
	wire_pack_kv_str(&pk, "rules_version",
			 agent_rules_version(hb->env.agent));
	agent_emit(hb->env.agent, "agent.heartbeat", 0, false, sb.data, sb.size,
		   NULL);
	msgpack_sbuffer_destroy(&sb);
}

static int hb_init(const struct source_env *env, void **state)
{
	struct heartbeat *hb = alloc_zeroed(1, sizeof(*hb));
	if (hb == NULL)
		return -ENOMEM;
	hb->env = *env;
	hb->conf = env->config;
	uv_timer_init(env->loop, &hb->timer);
	hb->timer.data = hb;
	*state = hb;
	return 0;
}

static int hb_start(void *state)
{
	struct heartbeat *hb = state;
	uint64_t every = (uint64_t)hb->conf->heartbeat_interval * 1000;
	hb->started_ms = uv_now(hb->env.loop);
	return uv_timer_start(&hb->timer, beat, every, every);
}

static void hb_stop(void *state)
{
	struct heartbeat *hb = state;
	uv_close((uv_handle_t *)&hb->timer, NULL);
}

static void hb_free(void *state)
{
	alloc_free(state);
}

const struct source_ops source_heartbeat = {
	.name = "heartbeat",
	.init = hb_init,
	.start = hb_start,
	.stop = hb_stop,
	.free = hb_free,
};
