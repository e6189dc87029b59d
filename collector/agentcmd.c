/* Signed commands for agents, and publishing bundles to them. */
#include "collector/agentcmd.h"

#include <stdio.h>
#include <string.h>

#include "collector/rulepub.h"
#include "common/alloc.h"
#include "common/wire.h"

int agentcmd_queue(struct store *st, struct ca *ca, const char *agent,
		   const char *type, const msgpack_sbuffer *args,
		   long long seconds, uint64_t *id)
{
	return agentcmd_queue_until(st, ca, agent, type, args,
				    store_now_us() + seconds * 1000000LL, id);
}

int agentcmd_queue_until(struct store *st, struct ca *ca, const char *agent,
			 const char *type, const msgpack_sbuffer *args,
			 int64_t expires_us, uint64_t *id)
{
	struct command c = {.issued_us = store_now_us(),
			    .expires_us = expires_us};
	snprintf(c.agent, sizeof(c.agent), "%s", agent);
	snprintf(c.type, sizeof(c.type), "%s", type);
	if (args && args->size) {
		c.args = args->data;
		c.args_len = args->size;
	}
	msgpack_sbuffer frame = {0};
	int rc = store_command_add(st, c.agent, c.type, c.issued_us,
				   c.expires_us, &c.id);
	if (rc == 0)
		rc = ca_sign_command(ca, &c, &frame);
	if (rc == 0)
		rc = store_command_set_frame(st, c.id, frame.data, frame.size);
	msgpack_sbuffer_destroy(&frame);
	*id = c.id;
	return rc;
}

struct agent_ids {
	char (*ids)[EVENT_AGENT_MAX + 1];
	size_t count, cap;
	bool short_of_memory;
};

static void add_agent_id(struct agent_ids *l, const char *id)
{
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		void *p = alloc_resize(l->ids, cap * sizeof(*l->ids));
		if (p == NULL) {
			l->short_of_memory = true;
			return;
		}
		l->ids = p;
		l->cap = cap;
	}
	snprintf(l->ids[l->count++], sizeof(l->ids[0]), "%s", id);
}

static void collect_agent(void *arg, const struct store_agent *a)
{
	if (!a->revoked)
		add_agent_id(arg, a->id);
}

/* Queues a signed `type` command naming the published bundle for one
 * agent, or every unrevoked one. A week to fetch it: a school PC can be
 * off over a holiday. */
static void push_bundle(struct store *st, struct ca *ca, const char *agent,
			const char *type, struct agentcmd_published *out)
{
	struct agent_ids targets = {0};
	out->all_listed = true;
	if (agent)
		add_agent_id(&targets, agent);
	else if (store_agent_list(st, NULL, collect_agent, &targets) != 0)
		out->all_listed = false;
	if (targets.short_of_memory)
		out->all_listed = false;
	msgpack_sbuffer args;
	msgpack_packer pk;
	msgpack_sbuffer_init(&args);
	msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	wire_pack_kv_u64(&pk, "version", out->info.version);
	wire_pack_kv_u64(&pk, "size", out->size);
	out->queued = 0;
	for (size_t i = 0; i < targets.count; i++) {
		uint64_t id;
		if (agentcmd_queue(st, ca, targets.ids[i], type, &args,
				   7 * 86400, &id) == 0)
			out->queued++;
	}
	msgpack_sbuffer_destroy(&args);
	alloc_free(targets.ids);
}

int agentcmd_publish_rules(struct store *st, struct ca *ca,
			   const char *state_dir, const char *const *sets,
			   size_t nsets, const char *agent,
			   struct agentcmd_published *out, char *err,
			   size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int rc = rulepub_publish(state_dir, sets, nsets, ca_key(ca), &out->info,
				 &out->size, err, errlen);
	if (rc == 0)
		push_bundle(st, ca, agent, "rules.update", out);
	return rc;
}

int agentcmd_publish_ioc(struct store *st, struct ca *ca,
			 const char *state_dir, const char *file,
			 const char *buf, size_t len, const char *agent,
			 struct agentcmd_published *out, char *err,
			 size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int rc = buf ? rulepub_publish_ioc_text(state_dir, buf, len, file,
						ca_key(ca), &out->info,
						&out->size, err, errlen)
		     : rulepub_publish_ioc(state_dir, file, ca_key(ca),
					   &out->info, &out->size, err, errlen);
	if (rc == 0)
		push_bundle(st, ca, agent, "ioc.update", out);
	return rc;
}
