/* source_netsensor on Windows: whether this PC can have a LAN sensor.
 *
 * The sensor captures through Npcap when the school installed it
 * (npcap.h). Its state is a net.sensor event as on Linux ({state, reason,
 * restarts}), which is what the collector's "LAN sensor on" check reads:
 * off with "Npcap not installed" where there is no Npcap, and off with
 * the Npcap version where there is one, because the capture loop (the
 * sandboxed helper of agent/net/, its packets read through pcap_getevent
 * instead of a selectable fd) is not ported yet. Disabled in agent.yaml,
 * it says nothing, as on Linux. */
#include <errno.h>
#include <stdio.h>

#include "agent/core/source.h"
#include "agent/net/netsensor_settings.h"
#include "agent/platform/windows/npcap.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/wire.h"

struct winsensor {
	struct agent *agent;
	char reason[200];
};

static int winsensor_init(const struct source_env *env, void **state)
{
	const struct netsensor_settings *conf = env->config;
	*state = NULL;
	if (!conf->net_enabled)
		return 0;
	struct winsensor *ws = alloc_zeroed(1, sizeof(*ws));
	if (ws == NULL)
		return -ENOMEM;
	ws->agent = env->agent;
	struct npcap np;
	if (npcap_load(NULL, &np, ws->reason, sizeof(ws->reason)) == 0) {
		snprintf(ws->reason, sizeof(ws->reason),
			 "%s is installed, but the sensor's capture is not "
			 "yet ported to Windows", np.version);
		npcap_unload(&np);
	}
	log_warn("netsensor: off: %s", ws->reason);
	*state = ws;
	return 0;
}

static int winsensor_start(void *state)
{
	struct winsensor *ws = state;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	wire_pack_kv_str(&pk, "state", "off");
	wire_pack_kv_str(&pk, "reason", ws->reason);
	wire_pack_kv_u64(&pk, "restarts", 0);
	agent_emit(ws->agent, "net.sensor", 5, false, sb.data, sb.size, NULL);
	msgpack_sbuffer_destroy(&sb);
	return 0;
}

static void winsensor_stop(void *state) { (void)state; }
static void winsensor_free(void *state) { alloc_free(state); }

const struct source_ops source_netsensor = {
	.name = "netsensor", .init = winsensor_init, .start = winsensor_start,
	.stop = winsensor_stop, .free = winsensor_free,
};
