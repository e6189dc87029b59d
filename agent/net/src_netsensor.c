/* source_netsensor: runs the LAN sensor helper and relays what it finds.
 *
 * The helper (netsensor.h) captures and parses in a sandboxed process; this
 * side, in the agent, only relays its alerts as events and keeps it
 * running: a helper that dies is restarted with a growing delay, and every
 * change of state is a net.sensor event ({state: on|off, reason, ...}),
 * which is what the collector's "LAN sensor on" check reads. Only net.*
 * kinds are relayed: a subverted helper cannot speak for other checks. */
#include <errno.h>
#include <string.h>

#include "agent/core/childproc.h"
#include "agent/core/settings.h"
#include "agent/core/source.h"
#include "agent/net/netsensor.h"
#include "agent/net/netsensor_settings.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/wire.h"

#define RESTART_MIN_MS 1000
#define RESTART_MAX_MS (10 * 60 * 1000)
#define REASON_MAX 300

struct netsensor {
	struct source_env env;
	struct childproc *child;
	uv_timer_t restart;
	uint64_t delay_ms;
	unsigned restarts;
	bool stopping;
	bool reported_off; /* an "off" already went out for this outage */
	bool reloading;	   /* the helper is stopping to start afresh */
	char last_error[REASON_MAX];
};

static void spawn(struct netsensor *ns);

static bool is_type_key(const msgpack_object *key)
{
	return key->type == MSGPACK_OBJECT_STR && key->via.str.size == 1 &&
	       key->via.str.ptr[0] == 't';
}

/* net.sensor: "on" carries the helper's own description (interface,
 * filter, gateway, list sizes, sandbox) minus its "t"; "off" the reason. */
static void emit_state(struct netsensor *ns, const msgpack_object *ready,
		       const char *reason)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (ready) {
		uint32_t fields = 0;
		for (uint32_t i = 0; i < ready->via.map.size; i++)
			fields += !is_type_key(&ready->via.map.ptr[i].key);
		msgpack_pack_map(&pk, fields + 2);
		for (uint32_t i = 0; i < ready->via.map.size; i++) {
			const msgpack_object_kv *kv = &ready->via.map.ptr[i];
			if (is_type_key(&kv->key))
				continue;
			msgpack_pack_object(&pk, kv->key);
			msgpack_pack_object(&pk, kv->val);
		}
		wire_pack_kv_str(&pk, "state", "on");
	} else {
		msgpack_pack_map(&pk, 3);
		wire_pack_kv_str(&pk, "state", "off");
		wire_pack_kv_str(&pk, "reason", reason);
	}
	wire_pack_kv_u64(&pk, "restarts", ns->restarts);
	agent_emit(ns->env.agent, "net.sensor", ready ? 1 : 5, false, sb.data,
		   sb.size, NULL);
	msgpack_sbuffer_destroy(&sb);
}

static void relay_alert(struct netsensor *ns, const msgpack_object *map)
{
	char kind[48];
	uint64_t sev;
	const msgpack_object *body = wire_map_get(map, "body");
	if (wire_get_str(map, "kind", kind, sizeof(kind)) != 0 ||
	    strncmp(kind, "net.", 4) != 0 || strcmp(kind, "net.sensor") == 0 ||
	    wire_get_u64(map, "sev", &sev) != 0 || sev > 10 || body == NULL ||
	    body->type != MSGPACK_OBJECT_BIN) {
		log_warn("netsensor: dropped a malformed alert from the helper");
		return;
	}
	/* agent_emit validates the body like any event's. */
	agent_emit(ns->env.agent, kind, (int)sev, false, body->via.bin.ptr,
		   body->via.bin.size, NULL);
}

static void on_message(void *arg, const msgpack_object *map)
{
	struct netsensor *ns = arg;
	char type[16], msg[REASON_MAX];
	if (wire_get_str(map, "t", type, sizeof(type)) != 0)
		return;
	if (strcmp(type, "alert") == 0) {
		relay_alert(ns, map);
	} else if (strcmp(type, "ready") == 0) {
		char iface[64] = "?";
		wire_get_str(map, "iface", iface, sizeof(iface));
		log_info("netsensor: capturing on %s", iface);
		ns->delay_ms = RESTART_MIN_MS;
		ns->last_error[0] = '\0';
		ns->reported_off = false;
		emit_state(ns, map, NULL);
	} else if (strcmp(type, "error") == 0 &&
		   wire_get_str(map, "msg", msg, sizeof(msg)) == 0) {
		snprintf(ns->last_error, sizeof(ns->last_error), "%s", msg);
	} else if (strcmp(type, "stats") == 0) {
		uint64_t dropped = 0, packets = 0;
		wire_get_u64(map, "dropped", &dropped);
		wire_get_u64(map, "packets", &packets);
		log_info("netsensor: %llu packets, %llu dropped by the kernel",
			 (unsigned long long)packets,
			 (unsigned long long)dropped);
	}
}

static void on_restart_timer(uv_timer_t *timer)
{
	struct netsensor *ns = timer->data;
	ns->restarts++;
	spawn(ns);
}

static void on_child_exit(void *arg, const char *why)
{
	struct netsensor *ns = arg;
	ns->child = NULL;
	if (ns->stopping)
		return;
	if (ns->reloading) {
		/* Stopped on purpose to read a new IOC list: straight back,
		 * and no "off" event for a restart nobody needs to act on. */
		ns->reloading = false;
		spawn(ns);
		return;
	}
	char reason[REASON_MAX + 100];
	snprintf(reason, sizeof(reason), "%s%s%s",
		 ns->last_error[0] ? ns->last_error : "helper stopped",
		 ns->last_error[0] ? "; helper " : ": ", why);
	log_warn("netsensor: off: %s; retrying in %llu s", reason,
		 (unsigned long long)(ns->delay_ms / 1000));
	/* One event an outage: a PC without capture rights retries every
	 * ten minutes and must not fill the collector saying so. */
	if (!ns->reported_off)
		emit_state(ns, NULL, reason);
	ns->reported_off = true;
	ns->last_error[0] = '\0';
	uv_timer_start(&ns->restart, on_restart_timer, ns->delay_ms, 0);
	ns->delay_ms *= 2;
	if (ns->delay_ms > RESTART_MAX_MS)
		ns->delay_ms = RESTART_MAX_MS;
}

static void spawn(struct netsensor *ns)
{
	static const struct childproc_ops ops = {on_message, on_child_exit};
	/* The helper reads agent.yaml itself: the same -o overrides too. */
	const char *args[AGENT_HELPER_ARGS_MAX];
	int rc = agent_settings_helper_argv(args, AGENT_HELPER_ARGS_MAX,
					    "_netsensor", ns->env.config_path,
					    NULL, 0);
	if (rc == 0)
		rc = childproc_spawn(ns->env.loop, NETSENSOR_HELPER, args, &ops,
				     ns, &ns->child);
	if (rc != 0) {
		snprintf(ns->last_error, sizeof(ns->last_error), "spawn: %s",
			 uv_strerror(rc));
		on_child_exit(ns, "not started");
	}
}

static int ns_init(const struct source_env *env, void **state)
{
	const struct netsensor_settings *conf = env->config;
	if (!conf->net_enabled) {
		*state = NULL;
		return 0;
	}
	struct netsensor *ns = alloc_zeroed(1, sizeof(*ns));
	if (ns == NULL)
		return -ENOMEM;
	ns->env = *env;
	ns->delay_ms = RESTART_MIN_MS;
	uv_timer_init(env->loop, &ns->restart);
	ns->restart.data = ns;
	*state = ns;
	return 0;
}

static int ns_start(void *state)
{
	spawn(state);
	return 0;
}

static void ns_stop(void *state)
{
	struct netsensor *ns = state;
	ns->stopping = true;
	uv_close((uv_handle_t *)&ns->restart, NULL);
	if (ns->child)
		childproc_stop(ns->child);
}

static void ns_free(void *state)
{
	alloc_free(state);
}

/* A new IOC list was installed: the helper reads it when it starts. */
static void ns_reload(void *state)
{
	struct netsensor *ns = state;
	if (ns->child && !ns->stopping) {
		log_info("netsensor: restarting the helper for the new IOC list");
		ns->reloading = true;
		childproc_stop(ns->child);
	}
}

const struct source_ops source_netsensor = {
	.name = "netsensor",
	.init = ns_init,
	.start = ns_start,
	.stop = ns_stop,
	.free = ns_free,
	.reload = ns_reload,
};
