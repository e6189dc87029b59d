/* agentcmd: signed commands queued for agents, and the one path by which
 * a rule bundle or an IOC list is published: the command line (`rules
 * publish`, `ioc publish`, `agent command`, drills) and the console's
 * admin page both come here, so a bundle from either is built, signed by
 * the collector's CA and announced to the agents the same way.
 *
 * Each command frame is signed with the CA key (agents pinned the CA)
 * and stored whole; ingest sends it when the agent is connected. */
#ifndef EDUWATCH_AGENTCMD_H
#define EDUWATCH_AGENTCMD_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "collector/ca.h"
#include "collector/store.h"
#include "common/bundle.h"

/* Signs and queues one command for agent, valid for seconds; *id gets
 * its id. Borrows args (NULL: none). 0 or a negative errno. */
EW_MUST_CHECK
int agentcmd_queue(struct store *st, struct ca *ca, const char *agent,
		   const char *type, const msgpack_sbuffer *args,
		   long long seconds, uint64_t *id);
/* The same with an expiry in time rather than a lifetime: a command that
 * must expire with something already dated (a drill campaign's window)
 * gets that date itself, however long the queueing took. */
EW_MUST_CHECK
int agentcmd_queue_until(struct store *st, struct ca *ca, const char *agent,
			 const char *type, const msgpack_sbuffer *args,
			 int64_t expires_us, uint64_t *id);

/* What a publication did: the signed bundle, its size on disk, and how
 * many agents were told to fetch it. all_listed is false when the store
 * could not list every agent (the command went to those it listed). */
struct agentcmd_published {
	struct bundle_info info;
	size_t size;
	size_t queued;
	bool all_listed;
};

/* Compiles the rule sets (rulepub_publish), signs and stores the bundle
 * and queues "rules.update" for agent, or every unrevoked agent when
 * agent is NULL. 0, or rulepub's error (-EINVAL for rules that do not
 * compile, with err naming FILE:LINE). */
EW_MUST_CHECK
int agentcmd_publish_rules(struct store *st, struct ca *ca,
			   const char *state_dir, const char *const *sets,
			   size_t nsets, const char *agent,
			   struct agentcmd_published *out, char *err,
			   size_t errlen);

/* The same for an IOC list, "ioc.update": from a file (file set, buf
 * NULL) or from memory (buf, len, with file naming its source). */
EW_MUST_CHECK
int agentcmd_publish_ioc(struct store *st, struct ca *ca,
			 const char *state_dir, const char *file,
			 const char *buf, size_t len, const char *agent,
			 struct agentcmd_published *out, char *err,
			 size_t errlen);

#endif
